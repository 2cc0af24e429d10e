//! `ponder doctor`: what ponder would run on, and whether it fits (see
//! [`crate::model::llama::doctor`]); with `--server`, what an OpenAI-compatible server honours
//! (see [`crate::model::openai::doctor`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::config;
use crate::model::llama::LlamaConfig;
use crate::model::llama::doctor::report;
use crate::model::openai::OpenAiConfig;

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
            text
        }
    };
    writeln!(out, "sandbox: {text}")?;
    Ok(())
}

pub fn doctor(args: DoctorArgs) -> Result<ExitCode> {
    if let Some(url) = args.server {
        let mut openai = OpenAiConfig::load()?;
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
    let settings = config::load_settings()?;
    let mut llama = LlamaConfig::load()?;
    if let Some(model) = args.model {
        llama.model = Some(model);
    }
    let mut out = std::io::stdout().lock();
    let ok = report(&llama, &settings, args.prompt, &mut out)?;
    sandbox_line(&mut out)?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
