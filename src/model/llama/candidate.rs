//! One candidate being decoded: its samplers, where it is in think-then-answer, what it has
//! written, and what ponder did to it and why.
//!
//! Each step samples one token and decides what to feed next. Thinking is closed by ponder — the
//! close tokens fed and the candidate asked for its answer — when the think budget runs out, when
//! the model ends its turn inside its thinking (instruct models that do not think in tags), or when
//! the thinking loops or writes chat markers. An answer ends at end of generation, at a stop
//! string (the template's end-of-turn written as text among them), at its budget, or when it
//! loops. Every intervention is a note.

use anyhow::Result;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::decode::sampler_chain;
use super::grammar::AnswerSampler;
use crate::event::{Beam, Channel};
use crate::model::repeat::{Degenerate, LoopGuard};
use crate::model::stop::StopMatcher;
use crate::model::think::ThinkSplitter;
use crate::model::utf8::Utf8Stream;
use crate::model::{GenerateRequest, Generation, TokenSink};

/// One candidate being decoded.
pub(super) struct Candidate {
    pub(super) beam: Beam,
    think_sampler: LlamaSampler,
    answer_sampler: AnswerSampler,
    splitter: ThinkSplitter,
    utf8: Utf8Stream,
    stop: StopMatcher,
    guard: LoopGuard,
    think: String,
    answer: String,
    think_tokens: u32,
    answer_tokens: u32,
    forced: bool,
    pub(super) done: bool,
    /// Position of the next token fed.
    pub(super) pos: i32,
    /// Batch index whose logits this candidate samples from next.
    pub(super) logits_at: i32,
    /// Tokens to feed in the next step.
    pub(super) feed: Vec<LlamaToken>,
    /// What ponder did to this candidate's text, and why.
    pub(super) notes: Vec<String>,
}

impl Candidate {
    pub(super) fn new(
        model: &LlamaModel,
        request: &GenerateRequest,
        beam: Beam,
        thinking: bool,
        plain: bool,
        stops: &[String],
    ) -> Result<Candidate> {
        let seed = request.sampling.seed.wrapping_add(u64::from(beam));
        let mut splitter = if plain {
            ThinkSplitter::plain()
        } else {
            ThinkSplitter::in_think()
        };
        if !thinking {
            splitter.force_answer();
        }
        Ok(Candidate {
            beam,
            think_sampler: sampler_chain(&request.sampling, seed),
            answer_sampler: AnswerSampler::new(
                model,
                &request.sampling,
                seed.wrapping_add(0x9E37_79B9),
                request.grammar.as_deref(),
            )?,
            splitter,
            utf8: Utf8Stream::new(),
            stop: StopMatcher::new(stops),
            guard: LoopGuard::new(thinking),
            think: String::new(),
            answer: String::new(),
            think_tokens: 0,
            answer_tokens: 0,
            forced: false,
            done: false,
            pos: 0,
            logits_at: 0,
            feed: Vec::new(),
            notes: Vec::new(),
        })
    }

    /// Still thinking (and not done).
    pub(super) fn is_thinking(&self) -> bool {
        !self.done && self.splitter.is_thinking()
    }

    /// Its next token is answer.
    pub(super) fn is_answering(&self) -> bool {
        self.splitter.is_answering()
    }

    /// Tokens drawn under the answer grammar, and how many of them needed the grammar applied to
    /// the shortlist and to the whole vocabulary.
    pub(super) fn grammar_counts(&self) -> (u64, u64, u64) {
        let s = &self.answer_sampler;
        (s.drawn, s.shortlist_passes, s.full_passes)
    }

    /// Samples this candidate's next token and decides what to feed next (or that it is done).
    pub(super) fn step(
        &mut self,
        model: &LlamaModel,
        ctx: &LlamaContext<'_>,
        request: &GenerateRequest,
        close: &[LlamaToken],
        sink: &mut dyn TokenSink,
    ) {
        let answering = self.splitter.is_answering();
        if answering && self.answer_tokens >= request.answer_budget {
            self.notes.push(format!(
                "the answer reached its {}-token budget and was cut there",
                request.answer_budget
            ));
            self.finish(sink);
            return;
        }
        // Sampling also accepts the token into the sampler (grammar state included).
        let token = if answering {
            match self.answer_sampler.sample(ctx, self.logits_at) {
                Some(token) => token,
                None => {
                    self.notes
                        .push("the answer grammar allowed no next token".to_string());
                    self.finish(sink);
                    return;
                }
            }
        } else {
            self.think_sampler.sample(ctx, self.logits_at)
        };
        let vocab = model.vocab();
        if vocab.is_eog(token) {
            if self.splitter.is_thinking() {
                self.close_thinking(
                    close,
                    sink,
                    format!(
                        "the model ended its turn inside its thinking after {} tokens; ponder \
                         closed the thinking and asked for the answer",
                        self.think_tokens
                    ),
                );
            } else {
                self.finish(sink);
            }
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
        if !answering && self.splitter.is_answering() {
            // The model closed its thinking itself: answers have stop strings for markers.
            self.guard.watch_markers(false);
        }
        if let Some(problem) = self.guard.push(token.0, &text) {
            if self.splitter.is_thinking() {
                self.close_thinking(
                    close,
                    sink,
                    format!("the thinking went degenerate ({problem}); ponder closed it and asked for the answer"),
                );
            } else {
                self.finish(sink);
                if let Degenerate::Repeats { repeats_bytes, .. } = problem
                    && repeats_bytes < self.answer.len()
                {
                    let mut cut = self.answer.len() - repeats_bytes;
                    while !self.answer.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    self.answer.truncate(cut);
                }
                self.notes.push(format!(
                    "the answer went degenerate ({problem}): ponder stopped it and kept one copy"
                ));
            }
            return;
        }
        if self.stop.stopped() {
            self.finish(sink);
        } else if self.splitter.is_thinking() && self.think_tokens >= request.think_budget {
            self.close_thinking(
                close,
                sink,
                format!(
                    "the thinking reached its {}-token budget; ponder closed it",
                    request.think_budget
                ),
            );
        }
    }

    /// Ends the thinking: feeds the close tokens, and later tokens are answer.
    pub(super) fn close_thinking(
        &mut self,
        close: &[LlamaToken],
        sink: &mut dyn TokenSink,
        why: String,
    ) {
        let rest = self.utf8.finish();
        self.route(&rest, sink);
        for (channel, piece) in self.splitter.force_answer() {
            self.emit(channel, &piece, sink);
        }
        self.guard.watch_markers(false);
        self.forced = true;
        self.feed.extend_from_slice(close);
        self.notes.push(why);
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
            notes: self.notes,
        }
    }
}
