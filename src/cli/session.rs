//! `ponder demo` and `ponder fix`: start a session and show it, live or headless.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::config::Config;
use crate::event::{Issue, Outcome, SearchSettings, SearchStrategy, Settings, ThinkMode};
use crate::model::Engine;
use crate::model::llama::background::{BackgroundEngine, LoadProgress};
use crate::model::llama::plan::Demand;
use crate::model::llama::{LlamaConfig, LoadOptions};
use crate::model::openai::OpenAiEngine;
use crate::model::scripted::ScriptedEngine;
use crate::pipeline::{self, SessionSpec};
use crate::{config, demo as demo_repo, headless, session, tui};

/// Flags shared by every command that runs a session.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Print events as JSON lines instead of opening the interface; exit 0 on a verified patch.
    #[arg(long)]
    headless: bool,
    /// Milliseconds between scripted tokens (default: 12 in the interface, 0 headless).
    #[arg(long, value_name = "MS")]
    pace_ms: Option<u64>,
    /// Seconds each test run may take.
    #[arg(long, value_name = "S")]
    test_timeout: Option<u64>,
    /// Compute budget B: N = B candidates per stage, the best ⌊√B⌋ kept (1, 2, 4, 8, …).
    #[arg(long, value_name = "B")]
    budget: Option<u32>,
    /// How candidates are searched: `beam` (Dev-Search per stage) or `evolve` (EvoScale on patches).
    #[arg(long, value_enum, value_name = "HOW")]
    search: Option<SearchArg>,
    /// Evolution: generations of patches.
    #[arg(long, value_name = "T")]
    generations: Option<u32>,
    /// Evolution: patches per generation.
    #[arg(long, value_name = "M")]
    population: Option<u32>,
    /// Wait at every stage boundary for the user to steer and continue.
    #[arg(long)]
    gate: bool,
    /// The interface's colours: dark, light, high-contrast, or a theme file's name (default: config
    /// `theme`, else what suits the terminal's background).
    #[arg(long, value_name = "NAME")]
    theme: Option<String>,
    /// Run model-written code even where ponder cannot sandbox it (no network/filesystem limits).
    #[arg(long)]
    allow_unsandboxed: bool,
    /// Whether the model reasons before answering: `on` (in <think> tags), `brief` (a few sentences
    /// of plain text), `off`, or `auto` (decided from the model's chat template and vocabulary;
    /// default: config `think`, else auto).
    #[arg(long, value_enum, value_name = "MODE")]
    think: Option<ThinkArg>,
    /// Tokens of thinking per candidate (default: config `think_budget`, else 4096).
    #[arg(long, value_name = "N")]
    think_budget: Option<u32>,
    /// Stop after this stage: understand, localize or patch.
    #[arg(long, value_enum, value_name = "STAGE")]
    until: Option<UntilArg>,
}

/// `--until` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum UntilArg {
    Understand,
    Localize,
    Patch,
}

impl UntilArg {
    pub fn stage(self) -> crate::event::Stage {
        match self {
            UntilArg::Understand => crate::event::Stage::Understand,
            UntilArg::Localize => crate::event::Stage::Localize,
            UntilArg::Patch => crate::event::Stage::Patch,
        }
    }
}

impl ThinkArg {
    pub fn mode(self) -> ThinkMode {
        match self {
            ThinkArg::Auto => ThinkMode::Auto,
            ThinkArg::On => ThinkMode::On,
            ThinkArg::Off => ThinkMode::Off,
            ThinkArg::Brief => ThinkMode::Brief,
        }
    }
}

/// `--think` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ThinkArg {
    Auto,
    On,
    Off,
    Brief,
}

/// `--search` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SearchArg {
    Beam,
    Evolve,
}

impl RunArgs {
    /// Lays the flags that were given over `settings`.
    fn apply(&self, settings: &mut Settings) {
        if let Some(budget) = self.budget {
            let strategy = settings.search.strategy;
            settings.search = SearchSettings::for_budget(budget);
            settings.search.strategy = strategy;
        }
        let search = &mut settings.search;
        match self.search {
            Some(SearchArg::Beam) => search.strategy = SearchStrategy::Beam,
            Some(SearchArg::Evolve) => search.strategy = SearchStrategy::Evolve,
            None => {}
        }
        search.generations = self.generations.unwrap_or(search.generations);
        search.population = self.population.unwrap_or(search.population);
        search.gate |= self.gate;
        if let Some(timeout) = self.test_timeout {
            settings.test_timeout_s = timeout;
        }
        if let Some(think) = self.think {
            settings.think = think.mode();
        }
        if let Some(budget) = self.think_budget {
            settings.think_budget = budget;
            settings.search.think = [None; 4];
        }
        if let Some(until) = self.until {
            settings.until = Some(until.stage());
        }
    }
}

/// What `ponder demo` takes.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Keep the demo repository after exiting (its path is printed).
    #[arg(long)]
    keep: bool,
    /// Run the demo with this GGUF model instead of the scripted responses: a real, unscripted
    /// fix of the demo project (small models are fetched by scripts/models.sh).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
}

/// What `ponder fix` takes.
#[derive(Debug, Args)]
pub struct FixArgs {
    /// The issue text (or use --issue-file).
    issue: Option<String>,
    /// Read the issue text from a file (first line is the title).
    #[arg(long, value_name = "FILE")]
    issue_file: Option<PathBuf>,
    /// The repository to fix (default: the current folder).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// The GGUF model to run with llama.cpp (default: config `[llama] model` or PONDER_MODEL).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Play prepared responses from a script file instead of a model.
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,
    /// Use an OpenAI-compatible server (vLLM, llama-server, Ollama, `ponder serve`…) instead of
    /// a local model, e.g. http://gpu-box:8000/v1 (default: config `[openai] base_url`).
    #[arg(long, value_name = "URL", conflicts_with_all = ["model", "script"])]
    server: Option<String>,
    /// Regression test command run on the original and patched code.
    #[arg(long, value_name = "CMD")]
    test_cmd: Option<String>,
    /// The virtualenv Python runs with in verification (default: config `python_env`, else the
    /// active one, else `.venv/` or `venv/` in the repository).
    #[arg(long, value_name = "DIR")]
    python_env: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
}

pub fn demo(args: DemoArgs) -> Result<ExitCode> {
    let mut settings = config::default_settings();
    // The demo shows the search: four candidates a stage unless told otherwise.
    settings.search = SearchSettings::for_budget(demo_repo::BUDGET);
    // The demo's settings are its own; the config file still names the theme and prompts.
    let config = Config::load()?;
    let mut loading = None;
    let engine: Box<dyn Engine> = match &args.model {
        Some(model) => {
            // A real model: the user's config for the engine and the search, the demo's project.
            settings = config.settings();
            args.run.apply(&mut settings);
            let mut llama = config.llama();
            llama.model = Some(model.clone());
            let engine = start_local(llama, &settings)?;
            eprintln!(
                "demo with a real model, unscripted: {}",
                engine.info().description
            );
            loading = Some(engine.progress());
            Box::new(engine)
        }
        None => Box::new(
            ScriptedEngine::from_toml(demo_repo::script()?, "the built-in demo script")?
                .with_source(crate::event::EngineSource::DemoScript)
                .with_pace(pace(&args.run)),
        ),
    };
    let repo = demo_repo::prepare()?;
    settings.test_cmd = Some(demo_repo::TEST_CMD.to_string());
    let code = run_session(
        repo.root().to_path_buf(),
        demo_repo::issue()?,
        settings,
        &args.run,
        engine,
        &config,
        loading,
    );
    if args.keep {
        eprintln!("demo repository kept at {}", repo.keep().display());
    }
    code
}

pub fn fix(args: FixArgs) -> Result<ExitCode> {
    let issue = match (args.issue, args.issue_file) {
        (Some(text), None) => Issue::from_text(&text),
        (None, Some(path)) => Issue::from_text(
            &std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the issue file {}", path.display()))?,
        ),
        (Some(_), Some(_)) => bail!("give the issue as text or with --issue-file, not both"),
        (None, None) => {
            bail!("say what to fix: `ponder fix \"the issue text\"` or --issue-file FILE")
        }
    };
    let config = Config::load()?;
    let mut settings = config.settings();
    settings.test_cmd = args.test_cmd.or(settings.test_cmd);
    if let Some(dir) = &args.python_env {
        // Relative to where ponder was started, as a shell user means it.
        let dir = std::path::absolute(dir)
            .with_context(|| format!("cannot resolve --python-env {}", dir.display()))?;
        settings.python_env = Some(dir.display().to_string());
    }
    args.run.apply(&mut settings);
    let mut loading = None;
    let engine: Box<dyn Engine> = match args.script {
        Some(script) => Box::new(ScriptedEngine::from_file(&script)?.with_pace(pace(&args.run))),
        None => {
            let mut llama = config.llama();
            if let Some(model) = args.model {
                llama.model = Some(model);
            }
            let mut openai = config.openai();
            // A server when asked for, or when the config names one and no local model.
            if args.server.is_some() || (llama.model.is_none() && openai.base_url.is_some()) {
                if let Some(url) = args.server {
                    openai.base_url = Some(url);
                }
                Box::new(OpenAiEngine::connect(openai)?)
            } else {
                let engine = start_local(llama, &settings)?;
                loading = Some(engine.progress());
                Box::new(engine)
            }
        }
    };
    run_session(
        args.repo, issue, settings, &args.run, engine, &config, loading,
    )
}

/// Prompt tokens a stage is planned for before the prompts are known.
const PROMPT_ESTIMATE: u64 = 4096;

/// A local model planned for `settings` now (a model that cannot fit is refused here) and loaded
/// in the background while the interface starts and the repository is indexed.
fn start_local(llama: LlamaConfig, settings: &Settings) -> Result<BackgroundEngine> {
    BackgroundEngine::start(
        llama,
        LoadOptions {
            demand: Some(Demand::of_settings(settings, PROMPT_ESTIMATE)),
            ..LoadOptions::default()
        },
    )
}

fn pace(run: &RunArgs) -> Duration {
    Duration::from_millis(run.pace_ms.unwrap_or(if run.headless { 0 } else { 12 }))
}

fn run_session(
    repo: PathBuf,
    issue: Issue,
    mut settings: Settings,
    run: &RunArgs,
    engine: Box<dyn Engine>,
    config: &Config,
    loading: Option<Arc<LoadProgress>>,
) -> Result<ExitCode> {
    run.apply(&mut settings);
    settings.allow_unsandboxed = run.allow_unsandboxed;
    let sandbox = crate::sandbox::sandbox_for(run.allow_unsandboxed)?.describe();
    settings.sandbox = Some(sandbox.clone());
    let theme = if run.headless {
        None
    } else {
        tui::check_terminal()?;
        Some(tui::Theme::resolve(
            run.theme.as_deref(),
            config.theme(),
            config.themes_dir(),
        )?)
    };
    // Worktrees a crashed ponder left behind in this repository go now (live ones stay).
    let _ = crate::repo::remove_stale(&repo);
    let session_id = session::new_session_id();
    let journal = session::journal_path(&session_id)?;
    let spec = SessionSpec {
        session_id,
        repo,
        issue,
        settings,
        journal: Some(journal.clone()),
        prompt_overrides: config.prompts_dir(),
        steerable: true,
    };
    let running = pipeline::start(spec, engine)?;
    let outcome = match theme {
        None => {
            if let Some(loading) = &loading {
                report_loading(loading.clone());
            }
            headless::run(running)?
        }
        Some(theme) => tui::run_loading(running, theme, loading)?,
    };
    eprintln!("{}", describe(&outcome));
    if let Some(line) = prompt_summary(&journal) {
        eprintln!("{line}");
    }
    eprintln!("model code ran in: {sandbox}");
    eprintln!("journal: {}", journal.display());
    Ok(if outcome.is_verified() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Headless: the load's progress as JSON lines (`{"kind":"model_loading","fraction":…}`) on
/// stdout beside the events, every 5 %, until it ends.
fn report_loading(loading: Arc<LoadProgress>) {
    std::thread::spawn(move || {
        let mut shown = -1i32;
        while let Some(fraction) = loading.loading() {
            let step = (fraction * 20.0) as i32;
            if step != shown {
                shown = step;
                println!(
                    "{}",
                    serde_json::json!({ "kind": "model_loading", "fraction": fraction })
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !loading.failed() {
            println!(
                "{}",
                serde_json::json!({ "kind": "model_loading", "fraction": 1.0 })
            );
        }
    });
}

/// The session's prompt tokens and how many the engine's cache held, read back from the journal.
fn prompt_summary(journal: &std::path::Path) -> Option<String> {
    let read = session::read_journal(journal).ok()?;
    let (tokens, cached) =
        crate::event::SessionState::from_envelopes(&read.envelopes).prompt_tokens();
    (tokens > 0).then(|| {
        format!(
            "prompt tokens: {tokens}, of which {cached} came from the engine's cache ({:.0}%)",
            100.0 * cached as f64 / tokens as f64
        )
    })
}

pub(super) fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Verified { beam } => format!("verified: candidate {beam}'s patch fixes the issue"),
        Outcome::Unverified { reason } => format!("not verified: {reason}"),
        Outcome::Failed { reason } => format!("failed: {reason}"),
        Outcome::Aborted => "aborted".to_string(),
        Outcome::Stopped { after } => format!("stopped after the {} stage, as asked", after.name()),
    }
}
