//! Requests turned into jobs of the one loop ([`super::scheduler`]) and run to their end: a
//! stage's candidates, the judge's first-answer logits, and the engine benchmark's rows. Each
//! caller that waits for its own jobs goes through [`run`], which honours pause and abort between
//! steps and gives the slots back to the cache whatever happens.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Result, anyhow, bail};
use llama_cpp_2::token::LlamaToken;

use super::candidate::Candidate;
use super::decode::{PLAIN_CLOSE_FED, THINK_CLOSE, open_thinking};
use super::plan::per_candidate;
use super::scheduler::{Job, LogprobSink, LoopStats, Outcome, Scheduler, Work};
use super::slots::Slots;
use crate::event::Control;
use crate::model::{GenerateRequest, Generation, PromptUsage, ThinkStyle, TokenSink};

/// Job numbers, unique in the process.
static NEXT_JOB: AtomicU64 = AtomicU64::new(1);

/// A fresh job number.
pub fn job_id() -> u64 {
    NEXT_JOB.fetch_add(1, Ordering::Relaxed)
}

/// Runs the submitted jobs to their end (pause waits, abort stops) and returns how each ended.
pub fn run(
    slots: &mut Slots,
    scheduler: &mut Scheduler<'_>,
    control: &Control,
) -> Result<Vec<(u64, Outcome)>> {
    let mut ended = Vec::new();
    let mut idle_steps = 0;
    while scheduler.busy() {
        if let Err(err) = control.checkpoint() {
            slots.with_parts(|mut p| scheduler.cancel(&mut p));
            return Err(err.into());
        }
        let before = (
            scheduler.len(),
            scheduler.stats.generated,
            scheduler.stats.prompt_tokens,
        );
        ended.extend(slots.with_parts(|mut p| scheduler.step(&mut p)));
        let after = (
            scheduler.len(),
            scheduler.stats.generated,
            scheduler.stats.prompt_tokens,
        );
        idle_steps = if before == after { idle_steps + 1 } else { 0 };
        if idle_steps > 2 {
            slots.with_parts(|mut p| scheduler.cancel(&mut p));
            bail!("the engine cannot make progress: a request does not fit beside the others");
        }
    }
    Ok(ended)
}

/// The prompt tokens of a generation request: the rendered chat, ending inside `<think>` when
/// thinking is asked for (or after an empty, closed one when not).
pub fn prompt_tokens(slots: &Slots, request: &GenerateRequest) -> Result<Vec<LlamaToken>> {
    let lm = slots.model();
    let thinking = request.think_budget > 0;
    let rendered = lm.render(&request.messages)?;
    // Brief plain reasoning opens nothing and is closed by `ANSWER:`.
    let prompt = if plain(request) {
        rendered
    } else {
        open_thinking(rendered, thinking, lm.format.knows_think.is_some())
    };
    Ok(lm.tokenize(&prompt))
}

/// The request reasons briefly in plain text (closed by `ANSWER:`), not in `<think>` tags.
fn plain(request: &GenerateRequest) -> bool {
    request.think_budget > 0 && request.think_style == ThinkStyle::Plain
}

/// A generation job for `request` whose prompt is `tokens` (the caller's sink and, when asked,
/// log-probabilities of every answer token).
pub fn generate_job<'a>(
    slots: &Slots,
    request: &GenerateRequest,
    tokens: Vec<LlamaToken>,
    sink: Box<dyn TokenSink + 'a>,
    logprobs: Option<(usize, Box<dyn LogprobSink + 'a>)>,
) -> Result<Job<'a>> {
    let lm = slots.model();
    let cells = u64::from(slots.cells());
    let prompt_len = tokens.len() as u64;
    if prompt_len + 1 > cells {
        bail!(
            "the {} prompt is {prompt_len} tokens and the context holds {cells}: raise n_ctx in \
             [llama] (the model was trained on {}) or shorten the prompt",
            request.stage.name(),
            lm.meta
                .context_length
                .map_or_else(|| "an unknown length".to_string(), |c| c.to_string())
        );
    }
    let thinking = request.think_budget > 0;
    let plain = plain(request);
    let close_text = if plain { PLAIN_CLOSE_FED } else { THINK_CLOSE };
    let close = lm
        .model
        .vocab()
        .tokenize(close_text.as_bytes(), false, true);
    // The answer stops at the request's stop strings, the template's end of turn written as
    // text, and any chat marker.
    let mut stops = request.stop.clone();
    stops.extend(lm.format.end_of_turn.iter().cloned());
    stops.extend(crate::model::family::turn_markers().map(str::to_string));
    let mut candidates = (0..request.n)
        .map(|beam| Candidate::new(&lm.model, request, beam, thinking, plain, &stops))
        .collect::<Result<Vec<_>>>()?;
    // Past the length a model was trained on, its answers degrade: say so beside each answer.
    if let Some(trained) = lm.meta.context_length.filter(|&t| prompt_len > t) {
        for candidate in &mut candidates {
            candidate.notes.push(format!(
                "the prompt is {prompt_len} tokens, past the {trained} the model was trained on: \
                 expect a weaker answer"
            ));
        }
    }
    let budget = per_candidate(request.think_budget, request.answer_budget) + close.len() as u64;
    Ok(Job::new(
        job_id(),
        slots.tag,
        tokens,
        vec![Vec::new(); request.n as usize],
        budget,
        Work::Generate {
            request: request.clone(),
            candidates,
            close,
            sink,
            logprobs,
        },
    ))
}

/// Makes `request.n` candidates, streaming to `sink`; also says where the time went.
pub fn generate_with_stats(
    slots: &mut Slots,
    request: &GenerateRequest,
    sink: &mut dyn TokenSink,
    control: &Control,
) -> Result<(Vec<Generation>, LoopStats)> {
    if request.n == 0 {
        return Ok((Vec::new(), LoopStats::default()));
    }
    let tokens = prompt_tokens(slots, request)?;
    let job = generate_job(slots, request, tokens, Box::new(sink), None)?;
    let mut scheduler = Scheduler::new();
    scheduler.submit(job);
    let ended = run(slots, &mut scheduler, control)?;
    let stats = scheduler.stats.clone();
    match ended.into_iter().next().map(|(_, outcome)| outcome) {
        Some(Outcome::Generated { generations, .. }) => Ok((generations, stats)),
        Some(Outcome::Failed(err)) => Err(err.context(format!(
            "llama.cpp failed on the {} stage",
            request.stage.name()
        ))),
        Some(Outcome::Aborted) => Err(crate::event::Aborted.into()),
        Some(Outcome::Done { .. }) | None => Err(anyhow!("the engine lost the request")),
    }
}

/// Decodes every prompt (their common prefix once, from the cache where it can) and hands the
/// logits at each prompt's end to `read`, with the prompt's index.
pub fn first_logits(
    slots: &mut Slots,
    prompts: Vec<Vec<LlamaToken>>,
    what: &str,
    control: &Control,
    read: impl FnMut(usize, &[f32]) -> Result<()>,
) -> Result<PromptUsage> {
    if prompts.is_empty() {
        return Ok(PromptUsage::default());
    }
    if prompts.iter().any(Vec::is_empty) {
        bail!("a {what} prompt is empty");
    }
    let (shared, suffixes) = Job::split_prompts(&prompts, true);
    let cells = shared.len() + suffixes.iter().map(Vec::len).sum::<usize>();
    if cells as u64 + 1 > u64::from(slots.cells()) {
        bail!(
            "the {what} prompts need {cells} tokens and the context holds {}: raise n_ctx in \
             [llama]",
            slots.cells()
        );
    }
    let job = Job::new(
        job_id(),
        slots.tag,
        shared,
        suffixes,
        0,
        Work::Logits {
            read: Box::new(read),
        },
    );
    let mut scheduler = Scheduler::new();
    scheduler.submit(job);
    match run(slots, &mut scheduler, control)?.pop().map(|(_, o)| o) {
        Some(Outcome::Done { usage }) => Ok(PromptUsage {
            tokens: Some(usage.tokens),
            cached_tokens: Some(usage.cached),
        }),
        Some(Outcome::Failed(err)) => Err(err),
        Some(Outcome::Aborted) => Err(crate::event::Aborted.into()),
        _ => Err(anyhow!("the engine lost the {what} request")),
    }
}

/// Times one llama-batched-bench row through the loop: a `pp`-token prompt for `b` sequences
/// (read once and shared, or once per sequence), then `tg` steps of one token per sequence.
/// Returns (prompt seconds, generation seconds).
pub fn batched_bench(
    slots: &mut Slots,
    prompt: &[LlamaToken],
    b: u32,
    tg: u32,
    shared: bool,
) -> Result<(f64, f64)> {
    let control = Control::new();
    // Warm up as llama-batched-bench does, then start from an empty cache.
    slots.clear();
    let mut warm = Scheduler::new();
    warm.submit(Job::new(
        job_id(),
        0,
        Vec::new(),
        vec![prompt[..1].to_vec()],
        1,
        Work::Feed {
            tokens: prompt.to_vec(),
            steps: 1,
        },
    ));
    run(slots, &mut warm, &control)?;
    slots.clear();
    let (common, suffixes) = if shared {
        (prompt.to_vec(), vec![Vec::new(); b as usize])
    } else {
        (Vec::new(), vec![prompt.to_vec(); b as usize])
    };
    let mut scheduler = Scheduler::new();
    scheduler.submit(Job::new(
        job_id(),
        0,
        common,
        suffixes,
        u64::from(tg),
        Work::Feed {
            tokens: prompt.to_vec(),
            steps: tg,
        },
    ));
    run(slots, &mut scheduler, &control)?;
    let stats = &scheduler.stats;
    // The prompt steps, and the generation steps with the loop's own share of them.
    let t_pp = stats.prompt_time.as_secs_f64();
    let t_tg = (stats.decode_time + stats.loop_time).as_secs_f64();
    slots.clear();
    Ok((t_pp, t_tg))
}
