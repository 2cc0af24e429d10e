//! `ponder eval run`: the whole pipeline, headless, over SWE-bench-format instances. Writes
//! SWE-bench predictions and per-instance metrics as JSON lines: per stage the share of usable
//! answers, empty answers, tokens and time; file and location accuracy of the understand and
//! localize stages against the gold patch; reproduction scripts that reproduce (run, like the
//! regression tests, in the instance's virtualenv, as grading runs); and whether the
//! prediction resolves the instance, graded by its SWE-bench tests as `ponder eval verify` grades
//! (unless `--no-grade`). Resumable (instances already in the predictions are skipped);
//! `--shard I/N` splits one run over machines.

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Deserialize;
use serde_json::json;

use crate::config::Config;
use crate::event::{Event, Issue, SearchSettings};
use crate::model::Engine;
use crate::model::llama::LlamaEngine;
use crate::model::scripted::ScriptedEngine;
use crate::pipeline::{self, SessionSpec};
use crate::session::export::{self, Trajectory, checks, gold};

/// What `ponder eval run` takes.
#[derive(Debug, Args)]
pub struct EvalRunArgs {
    /// The instances, one JSON object per line (e.g. ../shared/eval/instances.jsonl).
    #[arg(long, value_name = "FILE")]
    instances: PathBuf,
    /// The script that prepares an instance's tree (default: prepare.sh beside the instances).
    #[arg(long, value_name = "FILE")]
    prepare: Option<PathBuf>,
    /// Folder for predictions.jsonl and metrics.jsonl (appended to; done instances are skipped).
    #[arg(long, value_name = "DIR", default_value = "eval-run")]
    out: PathBuf,
    /// Instances run at once.
    #[arg(long, value_name = "N", default_value_t = 1)]
    jobs: usize,
    /// Only the instances at positions p with p mod N = I (0 ≤ I < N), e.g. `--shard 0/4`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// The GGUF model (default: config `[llama] model` or PONDER_MODEL).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Play prepared responses from a script file instead of a model (a fresh copy per instance).
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    script: Option<PathBuf>,
    /// Compute budget B per instance (N = B candidates per stage).
    #[arg(long, value_name = "B")]
    budget: Option<u32>,
    /// Tokens of thinking per candidate (default: config `think_budget`).
    #[arg(long, value_name = "N")]
    think_budget: Option<u32>,
    /// How the model reasons: auto, on, off or brief (default: config `think`).
    #[arg(long, value_enum, value_name = "MODE")]
    think: Option<crate::cli::session::ThinkArg>,
    /// Stop each instance after this stage (understand, localize or patch).
    #[arg(long, value_enum, value_name = "STAGE")]
    until: Option<crate::cli::session::UntilArg>,
    /// Do not grade predictions with the instances' SWE-bench tests.
    #[arg(long)]
    no_grade: bool,
    /// Where the instances' checkouts and virtualenvs are kept: the runs' reproduction scripts and
    /// regression tests and the grading run in them (default: the data folder's eval/).
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
}

/// The fields of an instance this command reads.
#[derive(Debug, Clone, Deserialize)]
struct Instance {
    instance_id: String,
    problem_statement: String,
    #[serde(default)]
    gold_patch: Option<String>,
    /// The same line read for grading, when it has what grading needs.
    #[serde(skip)]
    graded: Option<super::verify::Instance>,
}

/// Parses `I/N`.
fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => bail!("--shard {text}: give I/N with 0 ≤ I < N, like 0/4"),
    }
}

/// Instance ids already in a predictions file.
fn done_ids(predictions: &Path) -> Result<HashSet<String>> {
    let file = match std::fs::File::open(predictions) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read {}", predictions.display()));
        }
    };
    let mut done = HashSet::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        // A torn last line (a killed run) is not done: it runs again.
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line)
            && let Some(id) = value["instance_id"].as_str()
        {
            done.insert(id.to_string());
        }
    }
    Ok(done)
}

pub fn run(args: EvalRunArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.instances)
        .with_context(|| format!("cannot read {}", args.instances.display()))?;
    let mut instances = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut instance: Instance = serde_json::from_str(line).with_context(|| {
            format!(
                "{} line {} is not a SWE-bench instance (instance_id, problem_statement…)",
                args.instances.display(),
                number + 1
            )
        })?;
        instance.graded = serde_json::from_str(line).ok();
        instances.push(instance);
    }
    if let Some(shard) = &args.shard {
        let (i, n) = parse_shard(shard)?;
        instances = instances
            .into_iter()
            .enumerate()
            .filter(|(p, _)| p % n == i)
            .map(|(_, x)| x)
            .collect();
    }
    let prepare = super::prepare_script(args.prepare.as_deref(), &args.instances)?;
    // Read once: a mistake in it stops the run before any instance starts.
    let config = Config::load()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let predictions_path = args.out.join("predictions.jsonl");
    let done = done_ids(&predictions_path)?;
    let total = instances.len();
    let todo: Vec<Instance> = instances
        .into_iter()
        .filter(|i| !done.contains(&i.instance_id))
        .collect();
    eprintln!(
        "{} instance(s): {} already done in {}, {} to run with {} job(s)",
        total,
        total - todo.len(),
        predictions_path.display(),
        todo.len(),
        args.jobs.max(1)
    );
    let open = |name: &str| -> Result<std::fs::File> {
        let path = args.out.join(name);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))
    };
    let outputs = Mutex::new((open("predictions.jsonl")?, open("metrics.jsonl")?));
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let progress = Progress::new(todo.len());
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.max(1).min(todo.len().max(1)) {
            scope.spawn(|| {
                while let Some(instance) = todo.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let result = run_instance(&args, &config, &prepare, instance);
                    let (prediction, metrics) = match result {
                        Ok(lines) => lines,
                        Err(err) => {
                            failures.fetch_add(1, Ordering::SeqCst);
                            progress.say(&format!("{}: {err:#}", instance.instance_id));
                            continue;
                        }
                    };
                    {
                        let mut files = outputs.lock().unwrap_or_else(|e| e.into_inner());
                        let written = writeln!(files.0, "{prediction}")
                            .and_then(|_| writeln!(files.1, "{metrics}"))
                            .and_then(|_| files.0.flush())
                            .and_then(|_| files.1.flush());
                        if let Err(err) = written {
                            progress.say(&format!("cannot write the results: {err}"));
                        }
                    }
                    let count = finished.fetch_add(1, Ordering::SeqCst) + 1;
                    progress.update(count, &instance.instance_id);
                }
            });
        }
    });
    progress.finish();
    let failed = failures.load(Ordering::SeqCst);
    summarise(&args.out.join("metrics.jsonl"))?;
    if failed > 0 {
        eprintln!("{failed} instance(s) could not run (see above); run again to retry them");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Prepares, runs and measures one instance: (prediction line, metrics line).
fn run_instance(
    args: &EvalRunArgs,
    config: &Config,
    prepare: &Path,
    instance: &Instance,
) -> Result<(serde_json::Value, serde_json::Value)> {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("ponder-eval-")
        .tempdir()
        .context("cannot create a temporary folder")?;
    let repo = dir.path().join("repo");
    super::prepare_tree(prepare, &instance.instance_id, &repo)?;
    let engine: Box<dyn Engine> = match (&args.script, &args.model) {
        (Some(script), _) => Box::new(ScriptedEngine::from_file(script)?),
        (None, model) => {
            let mut llama = config.llama();
            if let Some(model) = model {
                llama.model = Some(model.clone());
            }
            Box::new(LlamaEngine::load(llama)?)
        }
    };
    let mut settings = config.settings();
    if let Some(budget) = args.budget {
        let strategy = settings.search.strategy;
        settings.search = SearchSettings::for_budget(budget);
        settings.search.strategy = strategy;
    }
    if let Some(think) = args.think_budget {
        settings.think_budget = think;
        settings.search.think = [None; 4];
    }
    if let Some(think) = args.think {
        settings.think = think.mode();
    }
    settings.until = args.until.map(|u| u.stage());
    // Reproduction scripts and regression tests run in the instance's environment, as grading
    // does: under the system's Python they fail on a missing package and prove nothing.
    if let Some(graded) = &instance.graded {
        let version = graded.version.as_deref().unwrap_or("");
        let venv = super::verify::instance_venv(graded, version, prepare, &work_dir(args)?)
            .with_context(|| format!("cannot build the environment of {}", instance.instance_id))?;
        settings.python_env = venv.map(|v| v.display().to_string());
    }
    let session_id = format!(
        "{}-{}",
        crate::session::new_session_id(),
        instance.instance_id
    );
    let journal = crate::session::journal_path(&session_id)?;
    let spec = SessionSpec {
        session_id: session_id.clone(),
        repo,
        issue: Issue::from_text(&instance.problem_statement),
        settings,
        journal: Some(journal),
        prompt_overrides: config.prompts_dir(),
        steerable: false,
    };
    let mut running = pipeline::start(spec, engine)?;
    let mut events = Vec::new();
    while let Some(envelope) = running.events.blocking_recv() {
        let done = matches!(envelope.event, Event::SessionFinished { .. });
        events.push(envelope);
        if done {
            break;
        }
    }
    running
        .thread
        .join()
        .map_err(|_| anyhow::anyhow!("the pipeline thread panicked"))?;
    let trajectory = Trajectory::from_envelopes(&events)?;
    let prediction = export::swebench(&trajectory, &instance.instance_id);
    let (file, location, patch_files) = match &instance.gold_patch {
        Some(diff) => {
            let gold = gold::parse(diff);
            let patched: HashSet<String> = trajectory
                .patch
                .as_deref()
                .map(|p| gold::parse(p).into_iter().map(|f| f.path).collect())
                .unwrap_or_default();
            let gold_files: HashSet<String> = gold.iter().map(|f| f.path.clone()).collect();
            (
                checks::file_match(&trajectory, &gold).passed,
                checks::location_match(&trajectory, &gold).passed,
                Some(!patched.is_empty() && patched == gold_files),
            )
        }
        None => (None, None, None),
    };
    let resolved = match (&trajectory.patch, args.no_grade || args.until.is_some()) {
        (_, true) => None,
        (None, false) => Some(false),
        (Some(patch), false) => grade(args, prepare, instance, patch)?,
    };
    let metrics = json!({
        "instance_id": instance.instance_id,
        "session_id": session_id,
        "outcome": trajectory.exit_status(),
        "verified": trajectory.state.outcome.as_ref().is_some_and(|o| o.is_verified()),
        "resolved": resolved,
        "file_match": file,
        "location_match": location,
        "patch_files_match": patch_files,
        "stages": super::stages::stage_metrics(&events),
        "tokens": trajectory.tokens.1,
        "tokens_per_stage": trajectory
            .state
            .stages
            .iter()
            .map(|s| s.think_tokens() + s.answer_tokens())
            .collect::<Vec<_>>(),
        "time_ms": started.elapsed().as_millis() as u64,
    });
    Ok((prediction, metrics))
}

/// Whether `patch` resolves the instance by its SWE-bench tests; `None` when it has none here.
fn grade(
    args: &EvalRunArgs,
    prepare: &Path,
    instance: &Instance,
    patch: &str,
) -> Result<Option<bool>> {
    let Some(graded) = &instance.graded else {
        return Ok(None);
    };
    let result = super::verify::grade_patches(
        graded,
        &[patch],
        prepare,
        &work_dir(args)?,
        std::time::Duration::from_secs(600),
        false,
    )
    .with_context(|| format!("cannot grade {}", instance.instance_id))?;
    Ok(result.map(|g| g.results.first().is_some_and(|(resolved, _)| *resolved)))
}

/// Where grading keeps its checkouts and virtualenvs.
fn work_dir(args: &EvalRunArgs) -> Result<PathBuf> {
    match &args.work {
        Some(dir) => Ok(dir.clone()),
        None => Ok(crate::session::data_dir()?.join("eval")),
    }
}

/// Prints accuracy, tokens and time over every instance in the metrics file.
fn summarise(metrics: &Path) -> Result<()> {
    let text = std::fs::read_to_string(metrics).unwrap_or_default();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let rate = |key: &str| {
        let known: Vec<bool> = rows.iter().filter_map(|r| r[key].as_bool()).collect();
        if known.is_empty() {
            "n/a".to_string()
        } else {
            let hits = known.iter().filter(|b| **b).count();
            format!(
                "{:.1}% ({hits}/{})",
                100.0 * hits as f64 / known.len() as f64,
                known.len()
            )
        }
    };
    let sum = |key: &str| rows.iter().filter_map(|r| r[key].as_u64()).sum::<u64>();
    println!("instances: {}", rows.len());
    println!("understand file accuracy: {}", rate("file_match"));
    println!("localize location accuracy: {}", rate("location_match"));
    println!(
        "patch touches the gold files: {}",
        rate("patch_files_match")
    );
    println!("verified by ponder: {}", rate("verified"));
    println!(
        "resolved (SWE-bench tests of the instance): {}",
        rate("resolved")
    );
    super::stages::print_table(&rows);
    println!(
        "tokens: {} ({} per instance); time: {:.1} s ({:.1} s per instance)",
        sum("tokens"),
        sum("tokens") / rows.len() as u64,
        sum("time_ms") as f64 / 1000.0,
        sum("time_ms") as f64 / 1000.0 / rows.len() as f64
    );
    Ok(())
}

/// A progress bar on a terminal; a line per instance otherwise.
struct Progress {
    total: usize,
    terminal: bool,
    started: Instant,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            total,
            terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
        }
    }

    fn update(&self, done: usize, last: &str) {
        let width = 30;
        let filled = (done * width).checked_div(self.total).unwrap_or(width);
        let line = format!(
            "[{}{}] {done}/{} {:.0}s  {last}",
            "#".repeat(filled),
            "-".repeat(width - filled),
            self.total,
            self.started.elapsed().as_secs_f64()
        );
        if self.terminal {
            eprint!("\r\x1b[2K{line}");
        } else {
            eprintln!("{line}");
        }
    }

    fn say(&self, message: &str) {
        if self.terminal {
            eprint!("\r\x1b[2K");
        }
        eprintln!("{message}");
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_shard;

    #[test]
    fn shards_are_checked() {
        assert_eq!(parse_shard("0/4").unwrap(), (0, 4));
        assert_eq!(parse_shard("3/4").unwrap(), (3, 4));
        assert!(parse_shard("4/4").is_err());
        assert!(parse_shard("1/0").is_err());
        assert!(parse_shard("x").is_err());
    }
}
