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
    /// The interface's colours: dark, light, high-contrast, or a theme file's name.
    #[arg(long, value_name = "NAME")]
    theme: Option<String>,
}

pub fn review(args: ReviewArgs) -> Result<ExitCode> {
    let path = find_journal(&args.session)?;
    let config = crate::config::Config::load()?;
    let theme =
        crate::tui::Theme::resolve(args.theme.as_deref(), config.theme(), config.themes_dir())?;
    crate::review::run(&path, theme)?;
    eprintln!(
        "notes: {}",
        crate::review::notes::notes_path(&path).display()
    );
    Ok(ExitCode::SUCCESS)
}
