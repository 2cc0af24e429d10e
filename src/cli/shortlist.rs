//! `ponder shortlist`: rank a repository's files for an issue, as the understand stage sees them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::repo::{IndexStore, open_workspace, shortlist};

/// What `ponder shortlist` takes.
#[derive(Debug, Args)]
pub struct ShortlistArgs {
    /// The repository (any folder inside it).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// A file holding the issue text.
    #[arg(long, value_name = "FILE")]
    issue_file: PathBuf,
    /// How many files to list.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Print a JSON array of {"path", "score"}, best first.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ShortlistArgs) -> Result<ExitCode> {
    let issue = std::fs::read_to_string(&args.issue_file).with_context(|| {
        format!(
            "cannot read the issue file {} (it must be UTF-8 text)",
            args.issue_file.display()
        )
    })?;
    let (workspace, index, report) =
        open_workspace(&args.repo, IndexStore::from_env().as_ref(), &|_| {})?;
    if let Some(note) = workspace.skipped_summary() {
        eprintln!("note: {note}");
    }
    if let Some(err) = &report.save_error {
        eprintln!("note: the index cache was not saved: {err}");
    }
    let ranked = shortlist(&index, &issue, args.top);
    if args.json {
        let list: Vec<serde_json::Value> = ranked
            .iter()
            .map(|(path, score)| serde_json::json!({ "path": path, "score": score }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for (rank, (path, score)) in ranked.iter().enumerate() {
            println!("{:>3}. {score:>7.3}  {path}", rank + 1);
        }
        if ranked.is_empty() {
            eprintln!("no file shares a word with the issue");
        }
    }
    Ok(ExitCode::SUCCESS)
}
