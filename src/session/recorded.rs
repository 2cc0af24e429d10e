//! The engine of a resumed session: answers from the journal while the pipeline re-derives the
//! recorded prefix, then hands over to the real engine, so only missing work is generated.
//!
//! The pipeline asks for the same requests in the same order as the recorded run (it is
//! deterministic given the same repository, settings and answers); at each request the engine
//! reads the journal where the pipeline has got to: the recorded tokens, then the candidates'
//! final answers (or the recorded scores, for a judge).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Result, anyhow, bail};

use crate::event::is_user_event;
use crate::event::{Beam, Channel, Control, EngineInfo, EngineSource, Envelope, Event, Stage};
use crate::model::{Engine, GenerateRequest, Generation, JudgeRequest, TokenSink};

/// Answers from a journal prefix, then from `inner`.
pub struct Recorded {
    inner: Box<dyn Engine>,
    prefix: Arc<[Envelope]>,
    cursor: Arc<AtomicUsize>,
    /// Tokens (think, answer) each recorded candidate had spent, over its rounds.
    spent: HashMap<(Stage, Beam), (u32, u32)>,
}

impl Recorded {
    /// `cursor` is the emitter's place in `prefix` (see [`crate::event::Replay`]).
    pub fn new(inner: Box<dyn Engine>, prefix: Arc<[Envelope]>, cursor: Arc<AtomicUsize>) -> Self {
        Recorded {
            inner,
            prefix,
            cursor,
            spent: HashMap::new(),
        }
    }

    /// The recorded events from the pipeline's place on, the user's own left out.
    fn ahead(&self) -> Option<impl Iterator<Item = &Event>> {
        let at = self.cursor.load(Ordering::SeqCst);
        (at < self.prefix.len()).then(|| {
            self.prefix[at..]
                .iter()
                .map(|e| &e.event)
                .filter(|e| !is_user_event(e))
        })
    }
}

impl Engine for Recorded {
    fn info(&self) -> EngineInfo {
        self.inner.info()
    }

    fn source(&self) -> Option<EngineSource> {
        self.inner.source()
    }

    fn parameters(&self) -> Option<u64> {
        self.inner.parameters()
    }

    fn reasoning(&self, mode: crate::event::ThinkMode) -> crate::event::Reasoning {
        self.inner.reasoning(mode)
    }

    fn prompt_tokens(&self, messages: &[crate::model::Message]) -> Option<u32> {
        self.inner.prompt_tokens(messages)
    }

    fn parallel(&self, request: &GenerateRequest) -> u32 {
        self.inner.parallel(request)
    }

    fn generate(
        &mut self,
        request: &GenerateRequest,
        sink: &mut dyn TokenSink,
        control: &Control,
    ) -> Result<Vec<Generation>> {
        let Some(ahead) = self.ahead() else {
            return self.inner.generate(request, sink, control);
        };
        let mut tokens: Vec<(Beam, Channel, String)> = Vec::new();
        let mut finished = Vec::new();
        for event in ahead {
            match event {
                // The request's own prompt, emitted as the engine starts reading it.
                Event::Prompt { .. } if tokens.is_empty() && finished.is_empty() => {}
                Event::Token {
                    beam,
                    channel,
                    text,
                    ..
                } if finished.is_empty() => tokens.push((*beam, *channel, text.clone())),
                Event::CandidateFinished {
                    beam,
                    answer,
                    think_tokens,
                    answer_tokens,
                    forced_answer,
                    notes,
                    ..
                } => {
                    finished.push((
                        *beam,
                        answer.clone(),
                        *think_tokens,
                        *answer_tokens,
                        *forced_answer,
                        notes.clone(),
                    ));
                    if finished.len() == request.n as usize {
                        break;
                    }
                }
                Event::Error { message, .. } if finished.is_empty() => {
                    return Err(anyhow!("{message}"));
                }
                _ => break,
            }
        }
        if finished.len() != request.n as usize {
            bail!(
                "the journal does not hold the {} answers of this {} request; it cannot be resumed \
                 past here",
                request.n,
                request.stage.name()
            );
        }
        let base = finished[0].0;
        let mut generations: Vec<Generation> = Vec::new();
        for (beam, answer, think_tokens, answer_tokens, forced_answer, notes) in finished {
            let before = if request.round <= 1 {
                (0, 0)
            } else {
                self.spent
                    .get(&(request.stage, beam))
                    .copied()
                    .unwrap_or_default()
            };
            self.spent
                .insert((request.stage, beam), (think_tokens, answer_tokens));
            generations.push(Generation {
                beam: beam - base,
                think: String::new(),
                answer,
                think_tokens: think_tokens.saturating_sub(before.0),
                answer_tokens: answer_tokens.saturating_sub(before.1),
                forced_answer,
                notes,
            });
        }
        for (beam, channel, text) in tokens {
            if channel == Channel::Think
                && let Some(g) = generations.get_mut((beam - base) as usize)
            {
                g.think.push_str(&text);
            }
            sink.token(beam - base, channel, &text);
        }
        self.inner.replayed(request, &generations);
        Ok(generations)
    }

    fn judge(&mut self, request: &JudgeRequest, control: &Control) -> Result<Vec<f64>> {
        let Some(ahead) = self.ahead() else {
            return self.inner.judge(request, control);
        };
        let mut scores = Vec::new();
        for event in ahead {
            match event {
                Event::Scored { score, .. } => {
                    scores.push(*score);
                    if scores.len() == request.answers.len() {
                        break;
                    }
                }
                Event::Error { message, .. } if scores.is_empty() => {
                    return Err(anyhow!("{message}"));
                }
                _ => break,
            }
        }
        if scores.len() != request.answers.len() {
            bail!(
                "the journal does not hold the {} scores of this {} judgement; it cannot be \
                 resumed past here",
                request.answers.len(),
                request.stage.name()
            );
        }
        Ok(scores)
    }
}
