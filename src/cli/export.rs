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
    /// SWE-bench instances (JSONL): the one named by --instance-id gives the gold patch (unless
    /// --gold-patch does) and the tests that decide patch correctness.
    #[arg(long, value_name = "FILE", requires = "instance_id")]
    instances: Option<PathBuf>,
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
            let instance = match (&args.instances, &args.instance_id) {
                (Some(file), Some(id)) => Some(find_instance(file, id)?),
                _ => None,
            };
            let gold =
                match (&args.gold_patch, &instance) {
                    (Some(file), _) => Some(std::fs::read_to_string(file).with_context(|| {
                        format!("cannot read the gold patch {}", file.display())
                    })?),
                    (None, Some(instance)) => instance["gold_patch"]
                        .as_str()
                        .or(instance["patch"].as_str())
                        .map(str::to_string),
                    (None, None) => None,
                };
            let checks = match gold {
                Some(diff) => {
                    let repo = args
                        .repo
                        .clone()
                        .unwrap_or_else(|| PathBuf::from(&trajectory.header.repo));
                    let tests = instance.as_ref().and_then(instance_tests);
                    Some(checks::run(&trajectory, &diff, &repo, tests)?)
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

/// The instance with this id in a JSONL file.
fn find_instance(file: &std::path::Path, id: &str) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["instance_id"] == id)
        .with_context(|| format!("{} has no instance {id}", file.display()))
}

/// The instance's SWE-bench tests, when it has them (Verified-only rows do not).
fn instance_tests(instance: &serde_json::Value) -> Option<crate::sandbox::SweBenchTests> {
    let list = |key: &str| -> Option<Vec<String>> {
        match &instance[key] {
            serde_json::Value::String(text) => serde_json::from_str(text).ok(),
            other => serde_json::from_value(other.clone()).ok(),
        }
    };
    Some(crate::sandbox::SweBenchTests {
        test_patch: instance["test_patch"].as_str()?.to_string(),
        fail_to_pass: list("FAIL_TO_PASS")?,
        pass_to_pass: list("PASS_TO_PASS")?,
        command: None,
    })
}
