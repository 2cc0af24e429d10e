//! `ponder resume [ID | --last]`: continue an interrupted session from its last completed stage,
//! with the engine, repository and settings its journal header recorded.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::config::Config;
use crate::event::{EngineSource, Outcome, SessionHeader};
use crate::model::Engine;
use crate::model::llama::LlamaEngine;
use crate::model::scripted::ScriptedEngine;
use crate::pipeline::{self, SessionSpec};
use crate::session::{self, fingerprint};

/// What `ponder resume` takes.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// A session id or journal file (see `ponder sessions`).
    session: Option<String>,
    /// The newest session that did not finish.
    #[arg(long, conflicts_with = "session")]
    last: bool,
    /// Print events as JSON lines instead of opening the interface; exit 0 on a verified patch.
    #[arg(long)]
    headless: bool,
    /// Milliseconds between scripted tokens of the work still to do (default: 12, 0 headless).
    #[arg(long, value_name = "MS")]
    pace_ms: Option<u64>,
    /// The interface's colours: dark, light, high-contrast, or a theme file's name.
    #[arg(long, value_name = "NAME")]
    theme: Option<String>,
}

pub fn resume(args: ResumeArgs) -> Result<ExitCode> {
    let path = match (&args.session, args.last) {
        (Some(what), _) => session::find_journal(what)?,
        (None, true) => newest_unfinished()?,
        (None, false) => bail!(
            "say which session to resume: `ponder resume ID` or `ponder resume --last` \
             (`ponder sessions` lists them)"
        ),
    };
    let journal = session::read_journal(&path)?;
    let point = session::resume_point(journal)
        .with_context(|| format!("cannot resume {}", path.display()))?;
    let header = &point.header;
    let repo = PathBuf::from(&header.repo);
    if !repo.is_dir() {
        bail!(
            "the session's repository {} is gone; resume needs it as it was (a demo's temporary \
             repository is removed when ponder exits normally)",
            repo.display()
        );
    }
    let pace = Duration::from_millis(args.pace_ms.unwrap_or(if args.headless { 0 } else { 12 }));
    let config = Config::load()?;
    let engine = engine_for(header, pace, &config)?;
    if !args.headless {
        crate::tui::check_terminal()?;
    }
    let aside = session::set_aside(&path)?;
    eprintln!(
        "resuming {} after its last completed stage: {} recorded events kept, {} of the \
         interrupted stage done again (the whole journal was copied to {})",
        header.session_id,
        point.prefix.len(),
        point.dropped,
        aside.display()
    );
    let _ = crate::repo::remove_stale(&repo);
    let spec = SessionSpec {
        session_id: header.session_id.clone(),
        repo,
        issue: header.issue.clone(),
        settings: header.settings.clone(),
        journal: Some(path.clone()),
        prompt_overrides: config.prompts_dir(),
        steerable: true,
    };
    // A bad theme name is refused before any work starts.
    let theme = match args.headless {
        true => None,
        false => Some(crate::tui::Theme::resolve(
            args.theme.as_deref(),
            config.theme(),
            config.themes_dir(),
        )?),
    };
    let running = pipeline::resume(spec, engine, point.prefix)?;
    let outcome = match theme {
        None => crate::headless::run(running)?,
        Some(theme) => crate::tui::run(running, theme)?,
    };
    eprintln!("{}", super::session::describe(&outcome));
    eprintln!("journal: {}", path.display());
    Ok(if matches!(outcome, Outcome::Verified { .. }) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The newest session whose journal has no end.
fn newest_unfinished() -> Result<PathBuf> {
    session::list_sessions()?
        .into_iter()
        .find(|s| s.problem.is_none() && s.outcome.is_none())
        .map(|s| s.path)
        .context("no interrupted session to resume: every recorded session finished")
}

/// The engine the header says the session ran with, checked to be the same files.
fn engine_for(header: &SessionHeader, pace: Duration, config: &Config) -> Result<Box<dyn Engine>> {
    let reproduce = header.reproduce.as_ref();
    let Some(source) = reproduce.and_then(|r| r.engine_source.clone()) else {
        bail!(
            "this session's journal does not say where its engine's answers came from (it was \
             written by an older ponder, or by an engine that cannot be restarted), so it cannot \
             be resumed; `ponder replay` still shows it"
        );
    };
    Ok(match source {
        EngineSource::DemoScript => Box::new(
            ScriptedEngine::from_toml(crate::demo::script()?, "the built-in demo script")?
                .with_source(EngineSource::DemoScript)
                .with_pace(pace),
        ),
        EngineSource::Script { path } => {
            Box::new(ScriptedEngine::from_file(Path::new(&path))?.with_pace(pace))
        }
        EngineSource::Model {
            path,
            judge_model,
            judge_lora,
        } => {
            if let Some(recorded) = reproduce.and_then(|r| r.model.as_ref()) {
                let now = fingerprint::model_file(Path::new(&path))?;
                if now.fingerprint != recorded.fingerprint || now.size != recorded.size {
                    bail!(
                        "the model {path} changed since the session ran ({} bytes, {} then; {} \
                         bytes, {} now); resuming with another model would not continue the same run",
                        recorded.size,
                        recorded.fingerprint,
                        now.size,
                        now.fingerprint
                    );
                }
            }
            let mut llama = config.llama();
            llama.model = Some(path.into());
            llama.judge_model = judge_model.map(Into::into);
            llama.judge_lora = judge_lora.map(Into::into);
            Box::new(LlamaEngine::load(llama)?)
        }
    })
}
