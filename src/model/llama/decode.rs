//! N candidates from one prompt: the prompt is decoded once with its tokens tagged with every
//! sequence id (one copy in the unified KV cache), then each step decodes one token of every live
//! candidate in a single batch.
//!
//! Each candidate has its own sampler chain and seed; its answer chain carries the request's
//! grammar, so the grammar constrains only what follows `</think>`. Thinking is opened by ponder
//! (`<think>\n` after the generation prompt) so the split is exact; when thinking reaches its
//! budget ponder feeds `\n</think>\n\n` and the candidate answers (`forced_answer`). Text streams
//! through a UTF-8-safe decoder, the think/answer splitter and the stop-string matcher, in that
//! order. Abort and pause are honoured between decode steps.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use llama_cpp_2::DecodeError;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::{LlamaConfig, LoadedModel};
use crate::event::{Beam, Channel, Control};
use crate::model::stop::StopMatcher;
use crate::model::think::ThinkSplitter;
use crate::model::utf8::Utf8Stream;
use crate::model::{GenerateRequest, Generation, Sampling, TokenSink};

/// Text ponder adds to open thinking after the generation prompt.
pub const THINK_OPEN: &str = "<think>\n";
/// Text ponder adds to close thinking (budget reached, or no thinking asked for).
pub const THINK_CLOSE: &str = "\n</think>\n\n";

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
    let prompt = open_thinking(lm.render(&request.messages)?, thinking);
    let tokens = lm.tokenize(&prompt);
    let model = &lm.model;
    let close = model.vocab().tokenize(THINK_CLOSE.as_bytes(), false, true);
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
    let mut candidates = (0..n)
        .map(|beam| Candidate::new(model, request, beam, thinking))
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
    Ok((
        candidates
            .into_iter()
            .map(Candidate::into_generation)
            .collect(),
        stats,
    ))
}

/// Ends a rendered prompt inside `<think>` (when `thinking`) or after an empty, closed
/// `<think></think>`, whether or not the chat template already opened it (DeepSeek-R1 does).
pub fn open_thinking(mut prompt: String, thinking: bool) -> String {
    let opened = prompt.trim_end().ends_with("<think>");
    match (opened, thinking) {
        (false, true) => prompt.push_str(THINK_OPEN),
        (true, false) => prompt.push_str(THINK_CLOSE),
        (false, false) => {
            prompt.push_str(THINK_OPEN);
            prompt.push_str(THINK_CLOSE.trim_start_matches('\n'));
        }
        (true, true) => {}
    }
    prompt
}

fn decode(ctx: &mut LlamaContext<'_>, batch: &mut LlamaBatch<'_>) -> Result<()> {
    ctx.decode(batch).map_err(|err| match err {
        DecodeError::NoKvCacheSlot => anyhow!("the context is full (no KV cache slot)"),
        other => anyhow!("{other}"),
    })
}

/// A sampler chain: grammar first (when given), then top-k, top-p, min-p, temperature and a
/// seeded draw; greedy when the temperature is zero.
pub fn sampler_chain(
    model: &LlamaModel,
    sampling: &Sampling,
    seed: u64,
    grammar: Option<&str>,
) -> Result<LlamaSampler> {
    let mut chain = Vec::new();
    if let Some(grammar) = grammar {
        // The model may put a few blank characters between `</think>` and its answer (bounded:
        // a weak model could emit whitespace forever).
        let wrapped = format!("{grammar}\nponder-answer ::= [ \\t\\n]{{0,4}} root\n");
        chain.push(
            LlamaSampler::grammar(model, &wrapped, "ponder-answer").map_err(|e| {
                anyhow!("the answer grammar is not valid GBNF with a `root` rule: {e}")
            })?,
        );
    }
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
    Ok(LlamaSampler::chain_simple(chain))
}

/// One candidate being decoded.
pub struct Candidate {
    beam: Beam,
    think_sampler: LlamaSampler,
    answer_sampler: LlamaSampler,
    splitter: ThinkSplitter,
    utf8: Utf8Stream,
    stop: StopMatcher,
    think: String,
    answer: String,
    think_tokens: u32,
    answer_tokens: u32,
    forced: bool,
    done: bool,
    /// Position of the next token fed.
    pos: i32,
    /// Batch index whose logits this candidate samples from next.
    logits_at: i32,
    /// Tokens to feed in the next step.
    feed: Vec<LlamaToken>,
}

impl Candidate {
    pub(super) fn new(
        model: &LlamaModel,
        request: &GenerateRequest,
        beam: Beam,
        thinking: bool,
    ) -> Result<Candidate> {
        let seed = request.sampling.seed.wrapping_add(u64::from(beam));
        let mut splitter = ThinkSplitter::in_think();
        if !thinking {
            splitter.force_answer();
        }
        Ok(Candidate {
            beam,
            think_sampler: sampler_chain(model, &request.sampling, seed, None)?,
            answer_sampler: sampler_chain(
                model,
                &request.sampling,
                seed.wrapping_add(0x9E37_79B9),
                request.grammar.as_deref(),
            )?,
            splitter,
            utf8: Utf8Stream::new(),
            stop: StopMatcher::new(&request.stop),
            think: String::new(),
            answer: String::new(),
            think_tokens: 0,
            answer_tokens: 0,
            forced: false,
            done: false,
            pos: 0,
            logits_at: 0,
            feed: Vec::new(),
        })
    }

    /// Where its next token goes and which logits it samples from.
    pub(super) fn set_logits(&mut self, pos: i32, logits_at: i32) {
        self.pos = pos;
        self.logits_at = logits_at;
    }

    /// [`Candidate::step`], returning the tokens to feed next (none when it is done).
    pub(super) fn next(
        &mut self,
        model: &LlamaModel,
        ctx: &LlamaContext<'_>,
        request: &GenerateRequest,
        close: &[LlamaToken],
        sink: &mut dyn TokenSink,
    ) -> Vec<LlamaToken> {
        self.step(model, ctx, request, close, sink);
        std::mem::take(&mut self.feed)
    }

    /// Tokens it was given to feed outside a step (a forced answer's close), taken.
    pub(super) fn take_feed(&mut self) -> Vec<LlamaToken> {
        std::mem::take(&mut self.feed)
    }

    pub(super) fn is_done(&self) -> bool {
        self.done
    }

    pub(super) fn is_thinking(&self) -> bool {
        !self.done && self.splitter.is_thinking()
    }

    pub(super) fn is_answering(&self) -> bool {
        self.splitter.is_answering()
    }

    pub(super) fn beam(&self) -> Beam {
        self.beam
    }

    /// Closes its thinking now (the cache is filling) so it answers while there is room: what
    /// reaching the think budget does.
    pub(super) fn force_answer(&mut self, close: &[LlamaToken], sink: &mut dyn TokenSink) {
        let rest = self.utf8.finish();
        self.route(&rest, sink);
        for (channel, piece) in self.splitter.force_answer() {
            self.emit(channel, &piece, sink);
        }
        self.forced = true;
        self.feed.extend_from_slice(close);
    }

    /// Samples this candidate's next token and decides what to feed next (or that it is done).
    fn step(
        &mut self,
        model: &LlamaModel,
        ctx: &LlamaContext<'_>,
        request: &GenerateRequest,
        close: &[LlamaToken],
        sink: &mut dyn TokenSink,
    ) {
        let answering = self.splitter.is_answering();
        if answering && self.answer_tokens >= request.answer_budget {
            self.finish(sink);
            return;
        }
        // `sample` also accepts the token into the chain (grammar state included).
        let token = if answering {
            self.answer_sampler.sample(ctx, self.logits_at)
        } else {
            self.think_sampler.sample(ctx, self.logits_at)
        };
        let vocab = model.vocab();
        if vocab.is_eog(token) {
            self.finish(sink);
            return;
        }
        if answering {
            self.answer_tokens += 1;
        } else {
            self.think_tokens += 1;
        }
        let bytes = vocab.token_to_piece(token, false, None);
        let text = self.utf8.push(&bytes);
        self.route(&text, sink);
        self.feed.push(token);
        if self.stop.stopped() {
            self.finish(sink);
        } else if self.splitter.is_thinking() && self.think_tokens >= request.think_budget {
            let rest = self.utf8.finish();
            self.route(&rest, sink);
            for (channel, piece) in self.splitter.force_answer() {
                self.emit(channel, &piece, sink);
            }
            self.forced = true;
            self.feed.extend_from_slice(close);
        }
    }

    fn route(&mut self, text: &str, sink: &mut dyn TokenSink) {
        if text.is_empty() {
            return;
        }
        for (channel, piece) in self.splitter.push(text) {
            self.emit(channel, &piece, sink);
        }
    }

    fn emit(&mut self, channel: Channel, piece: &str, sink: &mut dyn TokenSink) {
        match channel {
            Channel::Think => {
                self.think.push_str(piece);
                sink.token(self.beam, Channel::Think, piece);
            }
            Channel::Answer => {
                let shown = self.stop.push(piece);
                if !shown.is_empty() {
                    self.answer.push_str(&shown);
                    sink.token(self.beam, Channel::Answer, &shown);
                }
            }
        }
    }

    pub(super) fn finish(&mut self, sink: &mut dyn TokenSink) {
        let rest = self.utf8.finish();
        self.route(&rest, sink);
        for (channel, piece) in self.splitter.finish() {
            self.emit(channel, &piece, sink);
        }
        let held = self.stop.finish();
        if !held.is_empty() {
            self.answer.push_str(&held);
            sink.token(self.beam, Channel::Answer, &held);
        }
        self.done = true;
    }

    pub(super) fn into_generation(self) -> Generation {
        Generation {
            beam: self.beam,
            think: self.think,
            answer: self.answer,
            think_tokens: self.think_tokens,
            answer_tokens: self.answer_tokens,
            forced_answer: self.forced,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_is_opened_once_and_closed_when_not_wanted() {
        let chatml = "<|im_start|>assistant\n".to_string();
        let r1 = "<｜Assistant｜><think>\n".to_string();
        assert_eq!(
            open_thinking(chatml.clone(), true),
            "<|im_start|>assistant\n<think>\n"
        );
        assert_eq!(open_thinking(r1.clone(), true), r1);
        assert_eq!(
            open_thinking(chatml, false),
            "<|im_start|>assistant\n<think>\n</think>\n\n"
        );
        assert_eq!(
            open_thinking(r1, false),
            "<｜Assistant｜><think>\n\n</think>\n\n"
        );
    }
}
