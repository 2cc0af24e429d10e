//! `ponder doctor`: what ponder would run on, and whether it fits (see
//! [`crate::model::llama::doctor`]); with `--server`, what an OpenAI-compatible server honours
//! (see [`crate::model::openai::doctor`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::config::Config;
use crate::model::llama::doctor::report;

/// What `ponder doctor` takes.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The GGUF model to check (default: config `[llama] model` or PONDER_MODEL).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Check an OpenAI-compatible server instead: reachability, models, and whether streaming,
    /// `n`, logprobs and grammars work (no URL: config `[openai] base_url`).
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "", conflicts_with = "model")]
    server: Option<String>,
    /// Prompt tokens to plan a stage for.
    #[arg(long, default_value_t = 4096)]
    prompt: u64,
    /// Plan for a device with this much free memory (e.g. 24GiB) instead of this machine's,
    /// without loading the weights.
    #[arg(long, value_name = "SIZE", value_parser = parse_vram)]
    vram: Option<u64>,
}

fn parse_vram(text: &str) -> Result<u64, String> {
    crate::model::llama::plan::parse_bytes(text).map_err(|e| format!("{e:#}"))
}

/// What confines model-written code on this machine (Landlock or bubblewrap), or why nothing
/// does and what ponder then refuses.
fn sandbox_line(out: &mut impl std::io::Write) -> Result<()> {
    let text = match crate::sandbox::Backend::from_env() {
        Err(err) => format!("{err:#}"),
        Ok(backend) => {
            let isolation = crate::sandbox::Isolation::detect_with(backend);
            let mut text = isolation.describe();
            if !isolation.is_contained() {
                text.push_str(
                    " (model code runs only with --allow-unsandboxed; scripts/setup.sh installs \
                     bubblewrap)",
                );
            }
            text.push_str("; processes capped by ");
            text.push_str(crate::sandbox::describe_process_cap(isolation.user_ns));
            text
        }
    };
    writeln!(out, "sandbox: {text}")?;
    Ok(())
}

pub fn doctor(args: DoctorArgs) -> Result<ExitCode> {
    let config = Config::load()?;
    if let Some(url) = args.server {
        let mut openai = config.openai();
        if !url.is_empty() {
            openai.base_url = Some(url);
        }
        let mut out = std::io::stdout().lock();
        let ok = crate::model::openai::doctor::report(&openai, &mut out)?;
        sandbox_line(&mut out)?;
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let settings = config.settings();
    let mut llama = config.llama();
    if let Some(model) = args.model {
        llama.model = Some(model);
    }
    let mut out = std::io::stdout().lock();
    let ok = report(&llama, &settings, args.prompt, args.vram, &mut out)?;
    sandbox_line(&mut out)?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
