//! `ponder bench engine`: llama-batched-bench's table through ponder's engine, the shared versus
//! unshared prompt, and the cost of ponder's own per-token loop — every figure measured in this
//! run, printed beside what it is compared with.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

use crate::event::{Beam, Channel, Control, Stage};
use crate::model::llama::bench::{self, BenchRow};
use crate::model::llama::{LlamaEngine, Slots, generate_with_stats};
use crate::model::{GenerateRequest, Message, Sampling, TokenSink};

/// What `ponder bench engine` takes.
#[derive(Debug, Args)]
pub struct EngineBenchArgs {
    /// The GGUF model (default: config `[llama] model` or PONDER_MODEL).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Batch sizes (sequences decoded together).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    batch: Vec<u32>,
    /// Prompt tokens.
    #[arg(long, default_value_t = 512)]
    prompt: u32,
    /// Tokens generated per sequence.
    #[arg(long = "gen", default_value_t = 128)]
    generate: u32,
    /// Decode the prompt once for all sequences (llama-batched-bench's -pps).
    #[arg(long)]
    shared_prompt: bool,
    /// CPU threads (default: config, else all cores).
    #[arg(long)]
    threads: Option<u32>,
    /// `batched`: llama-batched-bench's table; `fix`: a fix's requests with the prefix cache
    /// and without it; `serve`: concurrent requests against `ponder serve` vs one by one.
    #[arg(long, value_enum, default_value = "batched")]
    workload: Workload,
    /// Tokens of the fix workload's shared prefix (system prompt, issue, repository view).
    #[arg(long, default_value_t = 2048)]
    prefix: u32,
}

/// What `ponder bench engine` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Workload {
    /// llama-batched-bench's table through ponder's loop.
    Batched,
    /// A fix's requests with the prefix cache and without.
    Fix,
    /// `ponder serve`: 8 concurrent requests sharing a prefix against the same 8 in turn.
    Serve,
}

pub fn run(args: EngineBenchArgs) -> Result<ExitCode> {
    let mut config = crate::config::Config::load()?.llama();
    if let Some(model) = args.model.clone() {
        config.model = Some(model);
    }
    if args.threads.is_some() {
        config.n_threads = args.threads;
    }
    if args.batch.is_empty() || args.batch.contains(&0) || args.prompt == 0 || args.generate == 0 {
        bail!("--batch, --prompt and --gen must be positive");
    }
    let largest = args.batch.iter().copied().max().unwrap_or(1);
    config.n_seq = config.n_seq.max(largest + 1);
    let mut engine = LlamaEngine::load(config.clone())?;
    let plan = engine.slots().plan().clone();
    println!(
        "model: {} | threads {} | kv K {} / V {} | context {} cells | n_batch {}",
        engine.model().describe(),
        config.threads(),
        plan.k.name(),
        plan.v.name(),
        plan.cells,
        config.n_batch
    );
    if args.workload == Workload::Fix {
        return fix(&mut engine, &args);
    }
    if args.workload == Workload::Serve {
        let requests = args.batch.iter().copied().max().unwrap_or(8).max(2);
        println!(
            "serve workload: {requests} chat requests (n = 1, max_tokens {}) sharing a {}-token \
             system prompt, at once vs one after the other",
            args.generate, args.prefix
        );
        let f = super::workload::run_serve(engine, requests, args.prefix, args.generate)?;
        let at_once = f.concurrent_tokens as f64 / f.concurrent_seconds.max(1e-9);
        let in_turn = f.sequential_tokens as f64 / f.sequential_seconds.max(1e-9);
        println!(
            "aggregate completion tokens/s: concurrent {at_once:.1} ({} tokens in {:.2} s) vs \
             sequential {in_turn:.1} ({} tokens in {:.2} s) = {:.2}x (goal >= 1.5x)",
            f.concurrent_tokens,
            f.concurrent_seconds,
            f.sequential_tokens,
            f.sequential_seconds,
            at_once / in_turn.max(1e-9)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let lm = engine.slots();
    println!(
        "\nprompt {}shared (llama-batched-bench{}):\n{}",
        if args.shared_prompt { "" } else { "not " },
        if args.shared_prompt { " -pps" } else { "" },
        BenchRow::header()
    );
    let mut rows = Vec::new();
    for &b in &args.batch {
        let row = bench::run(lm, b, args.prompt, args.generate, args.shared_prompt)?;
        println!("{}", row.line());
        rows.push(row);
    }
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "\ndecode throughput B={} vs B={}: {:.1} vs {:.1} t/s = {:.2}x",
        last.b,
        first.b,
        last.s_tg,
        first.s_tg,
        last.s_tg / first.s_tg
    );
    let shared_row = if args.shared_prompt {
        last.clone()
    } else {
        bench::run(lm, last.b, args.prompt, 1, true)?
    };
    let unshared_row = if args.shared_prompt {
        bench::run(lm, last.b, args.prompt, 1, false)?
    } else {
        last.clone()
    };
    let first_shared = if args.shared_prompt {
        first.clone()
    } else {
        bench::run(lm, first.b, args.prompt, 1, true)?
    };
    println!(
        "prompt time at B={}: shared {:.3} s vs B={} {:.3} s = {:.2}x (goal <= 1.1x); not \
         shared {:.3} s = {:.2}x",
        last.b,
        shared_row.t_pp,
        first_shared.b,
        first_shared.t_pp,
        shared_row.t_pp / first_shared.t_pp,
        unshared_row.t_pp,
        unshared_row.t_pp / first_shared.t_pp
    );
    loop_overhead(lm, last.b, args.prompt, args.generate)?;
    Ok(ExitCode::SUCCESS)
}

/// The fix workload with the prefix cache and without, side by side.
fn fix(engine: &mut LlamaEngine, args: &EngineBenchArgs) -> Result<ExitCode> {
    let think = args.generate * 2 / 3;
    let answer = args.generate - think;
    println!(
        "fix workload: 4 stages × 4 candidates, a {}-token shared prefix, PRM judging, 2 tool \
         rounds per localize candidate; budgets {think} think + {answer} answer",
        args.prefix
    );
    let with = super::workload::run_fix(engine, true, args.prefix, think, answer)?;
    let without = super::workload::run_fix(engine, false, args.prefix, think, answer)?;
    let decoded = |f: &super::workload::FixFigures| f.prompt_tokens - f.cached_tokens;
    println!(
        "prompt tokens decoded: with the prefix cache {} of {} ({:.0}%), without {} = {:.2}x \
         fewer (goal <= 1/3 decoded)",
        decoded(&with),
        with.prompt_tokens,
        100.0 * decoded(&with) as f64 / with.prompt_tokens.max(1) as f64,
        decoded(&without),
        decoded(&without) as f64 / decoded(&with).max(1) as f64
    );
    println!(
        "wall time ({} requests): with {:.2} s vs without {:.2} s = {:.2}x faster",
        with.requests,
        with.seconds,
        without.seconds,
        without.seconds / with.seconds.max(1e-9)
    );
    println!(
        "of which llama.cpp decode: with {:.2} s vs without {:.2} s; ponder's loop: with {:.2} s \
         vs without {:.2} s",
        with.decode_seconds, without.decode_seconds, with.loop_seconds, without.loop_seconds
    );
    println!(
        "peak KV cells: with {} vs without {} (context {} cells)",
        with.peak_cells,
        without.peak_cells,
        engine.slots().cells()
    );
    let same = with
        .answers
        .iter()
        .zip(&without.answers)
        .filter(|(a, b)| a == b)
        .count();
    println!(
        "answers equal with and without the cache: {same} of {} (sampled at temperature 0.7, where \
         batch shapes change floating-point sums; each stage's prompt carries the answer chosen \
         before it, so one difference changes every later prompt)",
        with.answers.len().min(without.answers.len())
    );
    Ok(ExitCode::SUCCESS)
}

/// A sink that does what the pipeline's does per token: builds the event's text and sends it.
struct ChannelSink(std::sync::mpsc::Sender<(Beam, Channel, String)>);

impl TokenSink for ChannelSink {
    fn token(&mut self, beam: Beam, channel: Channel, text: &str) {
        let _ = self.0.send((beam, channel, text.to_string()));
    }
}

/// Runs the real generation loop and prints ponder's share of the time per token.
fn loop_overhead(slots: &mut Slots, n: u32, prompt: u32, generate: u32) -> Result<()> {
    let words = "the config loader fails on an empty file ".repeat(prompt as usize / 8 + 1);
    let request = GenerateRequest {
        stage: Stage::Patch,
        messages: vec![Message::user(words)],
        n,
        think_budget: generate / 2,
        answer_budget: generate - generate / 2,
        sampling: Sampling::default(),
        stop: Vec::new(),
        grammar: None,
        round: 1,
        think_style: Default::default(),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let receiver = std::thread::spawn(move || rx.iter().count());
    let mut sink = ChannelSink(tx);
    slots.clear();
    let (_, stats) = generate_with_stats(slots, &request, &mut sink, &Control::new())?;
    drop(sink);
    let events = receiver.join().unwrap_or(0);
    let decode = stats.decode_time.as_secs_f64();
    let own = stats.loop_time.as_secs_f64();
    println!(
        "ponder loop at B={n} ({} tokens, {} steps, {events} token events): sampling + \
         detokenizing + events {:.1} ms vs llama.cpp decode (synchronized) {:.1} ms = {:.2}% \
         (goal <= 3%)",
        stats.generated,
        stats.steps,
        own * 1e3,
        decode * 1e3,
        100.0 * own / decode.max(1e-9)
    );
    Ok(())
}
