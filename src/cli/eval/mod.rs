//! `ponder eval …`: measurements on SWE-bench instances (the development set in `../shared/eval`).

mod batch;
mod shortlist;
pub mod stages;
mod verify;

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::Subcommand;

/// The evaluations.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// File-level retrieval: ponder's shortlist vs plain BM25, Acc@1/3/5/10.
    Shortlist(shortlist::ShortlistEvalArgs),
    /// Grade the gold and the empty patch of each instance; print the agreement with SWE-bench.
    Verify(verify::EvalVerifyArgs),
    /// Run the whole pipeline headless over instances: predictions, per-stage metrics, resumable.
    Run(batch::EvalRunArgs),
}

pub fn run(command: EvalCommand) -> Result<ExitCode> {
    match command {
        EvalCommand::Shortlist(args) => shortlist::run(args),
        EvalCommand::Verify(args) => verify::run(args),
        EvalCommand::Run(args) => batch::run(args),
    }
}

/// Makes `dest` a checkout of an instance's base tree with the eval set's `prepare.sh`.
/// The script that prepares instances' trees: `given`, else `prepare.sh` beside the instances.
pub fn prepare_script(given: Option<&Path>, instances: &Path) -> Result<std::path::PathBuf> {
    let prepare = match given {
        Some(path) => path.to_path_buf(),
        None => instances
            .parent()
            .unwrap_or(Path::new("."))
            .join("prepare.sh"),
    };
    if !prepare.is_file() {
        bail!(
            "cannot find {}; pass --prepare with the path of prepare.sh",
            prepare.display()
        );
    }
    Ok(prepare)
}

pub fn prepare_tree(prepare: &Path, id: &str, dest: &Path) -> Result<()> {
    let output = Command::new("bash")
        .arg(prepare)
        .arg(id)
        .arg(dest)
        .output()
        .with_context(|| format!("cannot run {} (is bash installed?)", prepare.display()))?;
    if !output.status.success() {
        bail!(
            "{} {id} failed: {}",
            prepare.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
