//! `ponder review FILE|ID|last`: step through a recorded session (see [`crate::review`]).

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::session::find_journal;

/// What `ponder review` takes.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// A journal file, a session id, or `last`.
    session: String,
}

pub fn review(args: ReviewArgs) -> Result<ExitCode> {
    let path = find_journal(&args.session)?;
    crate::review::run(&path)?;
    eprintln!(
        "notes: {}",
        crate::review::notes::notes_path(&path).display()
    );
    Ok(ExitCode::SUCCESS)
}
