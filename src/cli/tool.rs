//! `ponder tool`: call one search tool from the command line, for debugging and demos.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::Value;

use crate::repo::{IndexStore, TOOLS, call_tool, open_workspace};

/// What `ponder tool` takes.
#[derive(Debug, Args)]
#[command(after_help = tools_help())]
pub struct ToolArgs {
    /// The repository (any folder inside it).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Print the structured data too, as JSON: {"data", "text"}.
    #[arg(long)]
    json: bool,
    /// The tool's name (e.g. search_class).
    name: String,
    /// The tool's arguments in order, or one JSON object.
    args: Vec<String>,
}

fn tools_help() -> String {
    let mut help = String::from("Tools:\n");
    for tool in TOOLS {
        let args: Vec<&str> = tool.args.iter().map(|(n, _)| *n).collect();
        help.push_str(&format!(
            "  {} {}\n      {}\n",
            tool.name,
            args.join(" "),
            tool.description
        ));
    }
    help
}

pub fn run(args: ToolArgs) -> Result<ExitCode> {
    let call_args: Value = match args.args.as_slice() {
        [one] if one.trim_start().starts_with('{') => serde_json::from_str(one)
            .context("the argument looks like JSON but does not parse as a JSON object")?,
        list => Value::Array(list.iter().map(|s| Value::String(s.clone())).collect()),
    };
    let (workspace, index, report) =
        open_workspace(&args.repo, IndexStore::from_env().as_ref(), &|_| {})?;
    if let Some(note) = workspace.skipped_summary() {
        eprintln!("note: {note}");
    }
    if let Some(err) = &report.save_error {
        eprintln!("note: the index cache was not saved: {err}");
    }
    let output = call_tool(&index, &args.name, &call_args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        print!("{}", output.text);
    }
    Ok(ExitCode::SUCCESS)
}
