//! `ponder export ID --format swebench|traj|sft`: a recorded session in the formats other tools
//! read; for `sft` with `--gold-patch`, the paper's four rejection-sampling checks.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::session::export::{self, Trajectory, checks};
use crate::session::{find_journal, read_journal};

/// Export formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// SWE-bench predictions JSONL: instance_id, model_name_or_path, model_patch.
    Swebench,
    /// A SWE-agent-style trajectory JSON.
    Traj,
    /// SFT examples JSONL: one per stage step (prompt, think, answer).
    Sft,
}

/// What `ponder export` takes.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A session id, journal file or `last`.
    session: String,
    #[arg(long, value_enum)]
    format: Format,
    /// The SWE-bench instance id (default: the session id).
    #[arg(long, value_name = "ID")]
    instance_id: Option<String>,
    /// The known right patch: adds the four rejection-sampling checks to `sft` examples.
    #[arg(long, value_name = "FILE")]
    gold_patch: Option<PathBuf>,
    /// The repository at the session's starting point, for the reproduction check (default: the
    /// session's own).
    #[arg(long, value_name = "DIR")]
    repo: Option<PathBuf>,
    /// Write here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn export(args: ExportArgs) -> Result<ExitCode> {
    let path = find_journal(&args.session)?;
    let journal = read_journal(&path)?;
    let trajectory = Trajectory::from_envelopes(&journal.envelopes)
        .with_context(|| format!("cannot export {}", path.display()))?;
    let mut text = String::new();
    match args.format {
        Format::Swebench => {
            let id = args
                .instance_id
                .clone()
                .unwrap_or_else(|| trajectory.header.session_id.clone());
            text = export::swebench(&trajectory, &id).to_string() + "\n";
        }
        Format::Traj => text = serde_json::to_string_pretty(&export::traj(&trajectory))? + "\n",
        Format::Sft => {
            if !export::has_prompts(&journal.envelopes) {
                bail!(
                    "this journal records no prompts (it was written before format 2), so it \
                     cannot give SFT examples; `--format traj` still works"
                );
            }
            let checks = match &args.gold_patch {
                Some(file) => {
                    let diff = std::fs::read_to_string(file).with_context(|| {
                        format!("cannot read the gold patch {}", file.display())
                    })?;
                    let repo = args
                        .repo
                        .clone()
                        .unwrap_or_else(|| PathBuf::from(&trajectory.header.repo));
                    Some(checks::run(&trajectory, &diff, &repo)?)
                }
                None => None,
            };
            for example in export::sft(&trajectory, checks.as_ref()) {
                text.push_str(&example.to_string());
                text.push('\n');
            }
        }
    }
    match &args.out {
        Some(file) => std::fs::write(file, text)
            .with_context(|| format!("cannot write {}", file.display()))?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
