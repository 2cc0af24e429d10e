//! `ponder bench grammar`: what constraining an answer with a stage's grammar costs per token,
//! against the same model answering unconstrained, measured in one run.
//!
//! The grammars are the ones a fix builds: understand over a repository's file list, localize
//! over its files with their lines and symbols, patch over a file's unique SEARCH runs, verify's
//! Python block. The figure is the wall time per answer token (decode and sampling together) and
//! ponder's own share of it, with the sample-first, check-after draw of
//! [`crate::model::llama`]'s answer sampler; the goal is at most 1.5× the unconstrained time.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use crate::answer::grammar::{self, LocalizeFile, PatchFile};
use crate::event::{Beam, Channel, Control, Stage};
use crate::model::llama::{LlamaEngine, generate_with_stats};
use crate::model::{GenerateRequest, Message, Sampling, TokenSink};
use crate::repo::{RepoIndex, SymbolKind, TOOLS, Workspace};

/// What `ponder bench grammar` takes.
#[derive(Debug, Args)]
pub struct GrammarBenchArgs {
    /// The GGUF model (default: config `[llama] model` or PONDER_MODEL).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// The repository whose files the grammars are built from (default: the demo project).
    #[arg(long, value_name = "DIR")]
    repo: Option<PathBuf>,
    /// Answer tokens per run.
    #[arg(long = "gen", default_value_t = 96)]
    generate: u32,
    /// Runs of each kind; the median is printed.
    #[arg(long, default_value_t = 3)]
    runs: u32,
}

/// How much of the edited file the patch prompt shows (the grammar covers all of it): about the
/// size of a real patch prompt's code, and within a small model's context.
const PROMPT_CHARS: usize = 8_000;

struct Null;

impl TokenSink for Null {
    fn token(&mut self, _: Beam, _: Channel, _: &str) {}
}

pub fn run(args: GrammarBenchArgs) -> Result<ExitCode> {
    let mut config = crate::config::Config::load()?.llama();
    if let Some(model) = args.model {
        config.model = Some(model);
    }
    let demo;
    let root = match &args.repo {
        Some(dir) => dir.clone(),
        None => {
            demo = crate::demo::prepare()?;
            demo.root().to_path_buf()
        }
    };
    let workspace = Workspace::open(&root)?;
    let index = RepoIndex::build(&workspace)?;
    let mut engine = LlamaEngine::load(config.clone())?;
    let lm = engine.model();
    println!(
        "model: {} | {} files in {} | {} answer tokens a run, median of {}",
        lm.describe(),
        workspace.files().len(),
        root.display(),
        args.generate,
        args.runs
    );
    // The largest source file stands in for the file a patch edits.
    let (biggest, text) = workspace
        .files()
        .iter()
        .filter(|f| f.ends_with(".py") || f.ends_with(".rs"))
        .filter_map(|f| workspace.read(f).ok().map(|t| (f.clone(), t)))
        .max_by_key(|(_, t)| t.lines().count())
        .context("the repository has no source file to build a patch grammar from")?;
    let shown: Vec<LocalizeFile> = workspace
        .files()
        .iter()
        .filter(|f| f.ends_with(".py"))
        .take(5)
        .filter_map(|f| {
            let file = index.file(f)?;
            let names = |kinds: &[SymbolKind]| {
                file.symbols
                    .iter()
                    .filter(|s| kinds.contains(&s.kind))
                    .map(|s| s.name.clone())
                    .collect::<Vec<_>>()
            };
            Some(LocalizeFile {
                path: f.clone(),
                lines: file.line_count(),
                classes: names(&[SymbolKind::Class]),
                functions: names(&[SymbolKind::Function, SymbolKind::Method]),
            })
        })
        .collect();
    let grammars: Vec<(&str, String, String)> = vec![
        (
            "understand",
            grammar::understand(workspace.files(), 5),
            "Which files must change? Answer a JSON list of paths.".to_string(),
        ),
        (
            "localize",
            grammar::localize(&shown, TOOLS),
            "Where must the code change? Answer JSON locations.".to_string(),
        ),
        (
            "patch",
            grammar::patch(&[PatchFile {
                path: biggest.clone(),
                text: text.clone(),
                shown: Vec::new(),
            }]),
            format!(
                "Fix the bug in {biggest} with a SEARCH/REPLACE edit:\n\n{}",
                head(&text, PROMPT_CHARS)
            ),
        ),
        (
            "verify",
            grammar::python_block(),
            "Write a Python script that reproduces the bug.".to_string(),
        ),
    ];
    println!(
        "\n{:<11} {:>9} {:>12} {:>15} {:>7} {:>20} {:>12} {:>8}",
        "grammar",
        "size",
        "free ms/tok",
        "grammar ms/tok",
        "ratio",
        "short/full/tokens",
        "free tokens",
        "goal"
    );
    let mut worst: f64 = 0.0;
    for (name, text, task) in &grammars {
        let request = |grammar: Option<String>| GenerateRequest {
            stage: Stage::Understand,
            messages: vec![Message::user(task.clone())],
            n: 1,
            think_budget: 0,
            answer_budget: args.generate,
            sampling: Sampling::default(),
            stop: Vec::new(),
            grammar,
            round: 1,
            think_style: Default::default(),
        };
        // One untimed token first, so that every timed run finds the prompt in the cache and
        // times the answer alone (a prompt decoded in chunks beside the first answer tokens
        // would otherwise be counted against whichever run came first).
        let mut warm = request(None);
        warm.answer_budget = 1;
        generate_with_stats(engine.slots(), &warm, &mut Null, &Control::new())?;
        let mut free = Vec::new();
        let mut bound = Vec::new();
        let mut passes = (0, 0, 0);
        let mut free_tokens = 0;
        for run in 0..args.runs.max(1) {
            for constrained in [false, true] {
                let mut r = request(constrained.then(|| text.clone()));
                r.sampling.seed = 7 + u64::from(run);
                let started = Instant::now();
                let (generations, stats) =
                    generate_with_stats(engine.slots(), &r, &mut Null, &Control::new())?;
                let tokens = generations.first().map_or(0, |g| g.answer_tokens).max(1);
                // Per answer token, without the prompt's decode.
                let per_token =
                    (started.elapsed() - stats.prompt_time).as_secs_f64() * 1e3 / f64::from(tokens);
                if constrained {
                    bound.push(per_token);
                    passes.0 += stats.grammar_shortlist_passes;
                    passes.1 += stats.grammar_full_passes;
                    passes.2 += stats.grammar_tokens;
                } else {
                    free.push(per_token);
                    free_tokens += tokens;
                }
            }
        }
        let (free, bound) = (median(&mut free), median(&mut bound));
        let ratio = bound / free;
        worst = worst.max(ratio);
        println!(
            "{name:<11} {:>8}B {free:>12.2} {bound:>15.2} {ratio:>6.2}x {:>20} {free_tokens:>12} {:>8}",
            text.len(),
            format!("{}/{}/{}", passes.0, passes.1, passes.2),
            "<= 1.5x"
        );
    }
    println!("\nworst ratio: {worst:.2}x (goal <= 1.5x)");
    Ok(ExitCode::SUCCESS)
}

/// The longest run of whole lines of `text` within `limit` bytes.
fn head(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let cut = &text[..text.floor_char_boundary(limit)];
    cut.rfind('\n').map_or("", |at| &text[..=at])
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
