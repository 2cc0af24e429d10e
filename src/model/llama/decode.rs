//! N candidates from one prompt: the prompt is decoded once with its tokens tagged with every
//! sequence id (one copy in the unified KV cache), then each step decodes one token of every live
//! candidate in a single batch.
//!
//! Each candidate ([`Candidate`]) has its own sampler chain and seed; its answer is drawn under the
//! request's grammar, so the grammar constrains only what follows `</think>`. Thinking is opened by
//! ponder (`<think>\n` after the generation prompt) so the split is exact, and closed by ponder
//! when it runs out of budget, ends the turn, or loops. Abort and pause are honoured between
//! decode steps.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use llama_cpp_2::DecodeError;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::sampling::LlamaSampler;

use super::candidate::Candidate;
use super::{LlamaConfig, LoadedModel};
use crate::event::Control;
use crate::model::family;
use crate::model::{GenerateRequest, Generation, Sampling, ThinkStyle, TokenSink};

/// Text ponder adds to open thinking after the generation prompt.
pub const THINK_OPEN: &str = "<think>\n";
/// Text ponder adds to close thinking (budget reached, or no thinking asked for).
pub const THINK_CLOSE: &str = "\n</think>\n\n";
/// Text ponder adds to close brief plain reasoning.
const PLAIN_CLOSE_FED: &str = "\nANSWER:\n";

/// Where the time of one request went.
#[derive(Debug, Clone, Default)]
pub struct LoopStats {
    pub prompt_tokens: u32,
    /// Decoding the prompt (once, for all candidates).
    pub prompt_time: Duration,
    /// Decode steps after the prompt.
    pub steps: u32,
    /// Tokens generated, all candidates together.
    pub generated: u64,
    /// Time inside llama.cpp's decode for those steps.
    pub decode_time: Duration,
    /// Time in ponder's own loop: sampling, detokenizing, splitting, sending tokens.
    pub loop_time: Duration,
    /// KV cells of the request's context.
    pub cells: u32,
    /// Answer tokens drawn under a grammar, all candidates together.
    pub grammar_tokens: u64,
    /// Of those, how many needed the grammar applied to the most likely tokens…
    pub grammar_shortlist_passes: u64,
    /// …and how many to the whole vocabulary.
    pub grammar_full_passes: u64,
}

/// Makes `request.n` candidates, streaming to `sink`; also says where the time went.
pub fn generate_with_stats(
    lm: &LoadedModel,
    config: &LlamaConfig,
    request: &GenerateRequest,
    sink: &mut dyn TokenSink,
    control: &Control,
) -> Result<(Vec<Generation>, LoopStats)> {
    let mut stats = LoopStats::default();
    if request.n == 0 {
        return Ok((Vec::new(), stats));
    }
    let thinking = request.think_budget > 0;
    // Brief plain reasoning opens nothing and is closed by `ANSWER:`.
    let plain = thinking && request.think_style == ThinkStyle::Plain;
    let rendered = lm.render(&request.messages)?;
    let prompt = if plain {
        rendered
    } else {
        open_thinking(rendered, thinking, lm.format.knows_think.is_some())
    };
    let tokens = lm.tokenize(&prompt);
    let model = &lm.model;
    let close_text = if plain { PLAIN_CLOSE_FED } else { THINK_CLOSE };
    let close = model.vocab().tokenize(close_text.as_bytes(), false, true);
    let n = request.n;
    let prompt_len = tokens.len() as u64;
    if prompt_len + 1 > u64::from(config.n_ctx) {
        bail!(
            "the {} prompt is {prompt_len} tokens and the context holds {}: raise n_ctx in \
             [llama] (the model was trained on {}) or shorten the prompt",
            request.stage.name(),
            config.n_ctx,
            lm.meta
                .context_length
                .map_or_else(|| "an unknown length".to_string(), |c| c.to_string())
        );
    }
    let per_candidate =
        u64::from(request.think_budget) + u64::from(request.answer_budget) + close.len() as u64 + 2;
    let need = prompt_len + u64::from(n) * per_candidate;
    let cells = need.min(u64::from(config.n_ctx)) as u32;
    // The answer stops at the request's stop strings, the template's end of turn written as
    // text, and any chat marker.
    let mut stops = request.stop.clone();
    stops.extend(lm.format.end_of_turn.iter().cloned());
    stops.extend(family::turn_markers().map(str::to_string));
    let mut candidates = (0..n)
        .map(|beam| Candidate::new(model, request, beam, thinking, plain, &stops))
        .collect::<Result<Vec<_>>>()?;
    let mut ctx = lm.context(config, cells, n)?;
    stats.cells = ctx.n_ctx();
    stats.prompt_tokens = tokens.len() as u32;

    let n_batch = config.n_batch.max(1) as usize;
    let capacity = n_batch.max(n as usize * (close.len() + 1));
    let mut batch = LlamaBatch::new(capacity, n as i32);
    let all: Vec<i32> = (0..n as i32).collect();
    let started = Instant::now();
    for (c, chunk) in tokens.chunks(n_batch).enumerate() {
        control.checkpoint()?;
        batch.clear();
        for (j, &token) in chunk.iter().enumerate() {
            let pos = c * n_batch + j;
            batch.add(token, pos as i32, &all, pos + 1 == tokens.len())?;
        }
        decode(&mut ctx, &mut batch)
            .with_context(|| format!("llama.cpp failed on the {} prompt", request.stage.name()))?;
    }
    stats.prompt_time = started.elapsed();
    let last = batch.n_tokens() - 1;
    for candidate in &mut candidates {
        candidate.pos = tokens.len() as i32;
        candidate.logits_at = last;
    }

    loop {
        let t_loop = Instant::now();
        batch.clear();
        for candidate in candidates.iter_mut().filter(|c| !c.done) {
            candidate.step(model, &ctx, request, &close, sink);
            if candidate.done {
                continue;
            }
            stats.generated += 1;
            let feed = std::mem::take(&mut candidate.feed);
            for (k, &token) in feed.iter().enumerate() {
                batch.add(
                    token,
                    candidate.pos,
                    &[candidate.beam as i32],
                    k + 1 == feed.len(),
                )?;
                candidate.pos += 1;
            }
            candidate.logits_at = batch.n_tokens() - 1;
        }
        stats.loop_time += t_loop.elapsed();
        if batch.n_tokens() == 0 {
            break;
        }
        control.checkpoint()?;
        let t_decode = Instant::now();
        match ctx.decode(&mut batch) {
            Ok(()) => {}
            Err(DecodeError::NoKvCacheSlot) => {
                // The context is full: the candidates end here with what they have.
                for candidate in candidates.iter_mut().filter(|c| !c.done) {
                    candidate.notes.push(format!(
                        "the context ({} cells) filled up: the candidate ended where it was",
                        stats.cells
                    ));
                    candidate.finish(sink);
                }
                break;
            }
            Err(err) => {
                return Err(anyhow!("{err}")).with_context(|| {
                    format!(
                        "llama.cpp failed decoding the {} stage",
                        request.stage.name()
                    )
                });
            }
        }
        stats.decode_time += t_decode.elapsed();
        stats.steps += 1;
    }
    for candidate in &candidates {
        let (drawn, shortlist, full) = candidate.grammar_counts();
        stats.grammar_tokens += drawn;
        stats.grammar_shortlist_passes += shortlist;
        stats.grammar_full_passes += full;
    }
    Ok((
        candidates
            .into_iter()
            .map(Candidate::into_generation)
            .collect(),
        stats,
    ))
}

/// Ends a rendered prompt inside `<think>` (when `thinking`), whether or not the chat template
/// already opened it (DeepSeek-R1 does). Without thinking, a reasoning model (`knows_think`) gets
/// an empty, closed `<think></think>` — how its template turns thinking off — and any other model
/// nothing: it answers at once.
pub fn open_thinking(mut prompt: String, thinking: bool, knows_think: bool) -> String {
    let opened = prompt.trim_end().ends_with("<think>");
    match (opened, thinking) {
        (false, true) => prompt.push_str(THINK_OPEN),
        (true, false) => prompt.push_str(THINK_CLOSE),
        (false, false) if knows_think => {
            prompt.push_str(THINK_OPEN);
            prompt.push_str(THINK_CLOSE.trim_start_matches('\n'));
        }
        (false, false) | (true, true) => {}
    }
    prompt
}

fn decode(ctx: &mut LlamaContext<'_>, batch: &mut LlamaBatch<'_>) -> Result<()> {
    ctx.decode(batch).map_err(|err| match err {
        DecodeError::NoKvCacheSlot => anyhow!("the context is full (no KV cache slot)"),
        other => anyhow!("{other}"),
    })
}

/// A sampler chain: top-k, top-p, min-p, temperature and a seeded draw; greedy when the
/// temperature is zero. A grammar wraps it ([`super::grammar::AnswerSampler`]).
pub fn sampler_chain(sampling: &Sampling, seed: u64) -> LlamaSampler {
    let mut chain = Vec::new();
    if sampling.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        // A top-k of 0 means no top-k (as in llama.cpp).
        if sampling.top_k > 0 {
            chain.push(LlamaSampler::top_k(sampling.top_k as i32));
        }
        chain.push(LlamaSampler::top_p(sampling.top_p, 1));
        chain.push(LlamaSampler::min_p(sampling.min_p, 1));
        chain.push(LlamaSampler::temp(sampling.temperature));
        chain.push(LlamaSampler::dist(seed as u32));
    }
    LlamaSampler::chain_simple(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_is_opened_once_and_closed_when_not_wanted() {
        let chatml = "<|im_start|>assistant\n".to_string();
        let r1 = "<｜Assistant｜><think>\n".to_string();
        assert_eq!(
            open_thinking(chatml.clone(), true, false),
            "<|im_start|>assistant\n<think>\n"
        );
        assert_eq!(open_thinking(r1.clone(), true, true), r1);
        // A reasoning model told not to think gets an empty think block…
        assert_eq!(
            open_thinking(chatml.clone(), false, true),
            "<|im_start|>assistant\n<think>\n</think>\n\n"
        );
        // …an instruct model nothing at all.
        assert_eq!(open_thinking(chatml.clone(), false, false), chatml);
        assert_eq!(
            open_thinking(r1, false, true),
            "<｜Assistant｜><think>\n\n</think>\n\n"
        );
    }
}
