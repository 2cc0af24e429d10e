//! The shapes of `ponder serve`'s answers: chat completion chunks and completions
//! (`chat.completion.chunk`, `chat.completion`) and legacy text completions (`text_completion`),
//! with per-token log-probabilities in each endpoint's own layout, and usage with
//! `prompt_tokens_details.cached_tokens`.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use serde_json::{Value, json};

use super::request::{Endpoint, ServeRequest};
use crate::event::{Beam, Channel};
use crate::model::llama::TokenLogprobs;
use crate::model::{Generation, PromptUsage};

/// What every chunk or completion of one reply carries, and what it has gathered.
pub struct Reply {
    endpoint: Endpoint,
    id: String,
    model: String,
    created: u64,
    n: u32,
    answer_budget: u32,
    prompt_tokens: u32,
    cached_tokens: Option<u32>,
    completion_tokens: u64,
    /// Log-probabilities gathered per candidate (for a whole completion).
    kept: Vec<Vec<TokenLogprobs>>,
    /// Characters of text already sent per candidate (`text_offset` of completions).
    offsets: Vec<usize>,
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

impl Reply {
    pub fn new(
        endpoint: Endpoint,
        model: &str,
        request: &ServeRequest,
        prompt_tokens: u32,
    ) -> Self {
        let prefix = match endpoint {
            Endpoint::Chat => "chatcmpl",
            Endpoint::Completions => "cmpl",
        };
        Reply {
            endpoint,
            id: format!("{prefix}-ponder-{}", nanos()),
            model: model.to_string(),
            created: (nanos() / 1_000_000_000) as u64,
            n: request.n,
            answer_budget: request.max_tokens - request.think_budget,
            prompt_tokens,
            cached_tokens: None,
            completion_tokens: 0,
            kept: vec![Vec::new(); request.n as usize],
            offsets: vec![0; request.n as usize],
        }
    }

    fn object(&self, whole: bool) -> &'static str {
        match (self.endpoint, whole) {
            (Endpoint::Chat, false) => "chat.completion.chunk",
            (Endpoint::Chat, true) => "chat.completion",
            (Endpoint::Completions, _) => "text_completion",
        }
    }

    fn chunk(&self, choices: Vec<Value>, usage: Option<Value>) -> Bytes {
        let mut value = json!({
            "id": self.id,
            "object": self.object(false),
            "created": self.created,
            "model": self.model,
            "choices": choices,
        });
        if let Some(usage) = usage {
            value["usage"] = usage;
        }
        Bytes::from(format!("data: {value}\n\n"))
    }

    /// The first chunks: the assistant role of every chat choice.
    pub fn start(&self) -> Vec<Bytes> {
        match self.endpoint {
            Endpoint::Chat => vec![
                self.chunk(
                    (0..self.n)
                        .map(|index| {
                            json!({
                                "index": index,
                                "delta": { "role": "assistant", "content": "" },
                                "logprobs": null,
                                "finish_reason": null,
                            })
                        })
                        .collect(),
                    None,
                ),
            ],
            Endpoint::Completions => Vec::new(),
        }
    }

    /// The prompt was read: its length and what the cache held.
    pub fn prompt_read(&mut self, usage: PromptUsage) {
        if let Some(tokens) = usage.tokens {
            self.prompt_tokens = tokens;
        }
        if usage.cached_tokens.is_some() {
            self.cached_tokens = usage.cached_tokens;
        }
    }

    /// A piece of one candidate's text.
    pub fn piece(&mut self, beam: Beam, channel: Channel, text: &str) -> Vec<Bytes> {
        let choice = match (self.endpoint, channel) {
            (Endpoint::Chat, Channel::Think) => json!({
                "index": beam, "delta": { "reasoning_content": text },
                "logprobs": null, "finish_reason": null,
            }),
            (Endpoint::Chat, Channel::Answer) => json!({
                "index": beam, "delta": { "content": text },
                "logprobs": null, "finish_reason": null,
            }),
            // A raw completion has no thinking block.
            (Endpoint::Completions, Channel::Think) => return Vec::new(),
            (Endpoint::Completions, Channel::Answer) => {
                if let Some(offset) = self.offsets.get_mut(beam as usize) {
                    *offset += text.chars().count();
                }
                json!({
                    "index": beam, "text": text, "logprobs": null, "finish_reason": null,
                })
            }
        };
        vec![self.chunk(vec![choice], None)]
    }

    /// One answer token's log-probabilities, as a chunk of their own.
    pub fn logprob(&mut self, beam: Beam, logprobs: &TokenLogprobs) -> Vec<Bytes> {
        let offset = self.offsets.get(beam as usize).copied().unwrap_or(0);
        let choice = match self.endpoint {
            Endpoint::Chat => json!({
                "index": beam, "delta": {},
                "logprobs": { "content": [chat_entry(logprobs)] },
                "finish_reason": null,
            }),
            Endpoint::Completions => json!({
                "index": beam, "text": "",
                "logprobs": completion_logprobs(std::slice::from_ref(logprobs), offset),
                "finish_reason": null,
            }),
        };
        vec![self.chunk(vec![choice], None)]
    }

    /// Keeps one token's log-probabilities for the whole completion.
    pub fn keep_logprob(&mut self, beam: Beam, logprobs: TokenLogprobs) {
        if let Some(kept) = self.kept.get_mut(beam as usize) {
            kept.push(logprobs);
        }
    }

    fn finish_reason(&self, g: &Generation, truncated: bool) -> &'static str {
        if truncated || g.answer_tokens >= self.answer_budget {
            "length"
        } else {
            "stop"
        }
    }

    fn count(&mut self, generations: &[Generation]) {
        self.completion_tokens = generations
            .iter()
            .map(|g| u64::from(g.think_tokens + g.answer_tokens))
            .sum();
    }

    /// Every candidate's last chunk, with why it ended.
    pub fn finish(&mut self, generations: &[Generation], truncated: &[bool]) -> Vec<Bytes> {
        self.count(generations);
        generations
            .iter()
            .map(|g| {
                let reason = self.finish_reason(g, truncated.get(g.beam as usize) == Some(&true));
                let choice = match self.endpoint {
                    Endpoint::Chat => json!({
                        "index": g.beam, "delta": {}, "logprobs": null, "finish_reason": reason,
                    }),
                    Endpoint::Completions => json!({
                        "index": g.beam, "text": "", "logprobs": null, "finish_reason": reason,
                    }),
                };
                self.chunk(vec![choice], None)
            })
            .collect()
    }

    fn usage(&self) -> Value {
        let mut usage = json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": u64::from(self.prompt_tokens) + self.completion_tokens,
        });
        if let Some(cached) = self.cached_tokens {
            usage["prompt_tokens_details"] = json!({ "cached_tokens": cached });
        }
        usage
    }

    /// A chunk with no choices and the usage so far.
    pub fn usage_chunk(&self) -> Bytes {
        self.chunk(Vec::new(), Some(self.usage()))
    }

    /// The whole completion.
    pub fn whole(&mut self, generations: &[Generation], truncated: &[bool]) -> Value {
        self.count(generations);
        let choices: Vec<Value> = generations
            .iter()
            .map(|g| {
                let reason = self.finish_reason(g, truncated.get(g.beam as usize) == Some(&true));
                let kept = self.kept.get(g.beam as usize).filter(|k| !k.is_empty());
                match self.endpoint {
                    Endpoint::Chat => {
                        let mut message = json!({ "role": "assistant", "content": g.answer });
                        if !g.think.is_empty() {
                            message["reasoning_content"] = json!(g.think);
                        }
                        json!({
                            "index": g.beam,
                            "message": message,
                            "logprobs": kept.map(|k| json!({
                                "content": k.iter().map(chat_entry).collect::<Vec<_>>()
                            })),
                            "finish_reason": reason,
                        })
                    }
                    Endpoint::Completions => json!({
                        "index": g.beam,
                        "text": g.answer,
                        "logprobs": kept.map(|k| completion_logprobs(k, 0)),
                        "finish_reason": reason,
                    }),
                }
            })
            .collect();
        json!({
            "id": self.id,
            "object": self.object(true),
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": self.usage(),
        })
    }

    /// The one-token chat answer of the judging path: the most likely first token and the
    /// `shown` best alternatives.
    pub fn first_token(&self, top: &[(String, f64)], shown: usize) -> Value {
        let (token, logprob) = top[0].clone();
        let entry = TokenLogprobs {
            token: token.clone(),
            logprob,
            top: top.iter().take(shown.max(1)).cloned().collect(),
        };
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": token },
                "logprobs": { "content": [chat_entry(&entry)] },
                "finish_reason": "length",
            }],
        })
    }
}

/// A token in chat's `logprobs.content`.
fn chat_entry(lp: &TokenLogprobs) -> Value {
    json!({
        "token": lp.token,
        "logprob": lp.logprob,
        "bytes": lp.token.as_bytes(),
        "top_logprobs": lp.top.iter().map(|(token, logprob)| json!({
            "token": token, "logprob": logprob, "bytes": token.as_bytes(),
        })).collect::<Vec<_>>(),
    })
}

/// Legacy completions' `logprobs`: parallel lists, alternatives as token → logprob maps.
fn completion_logprobs(tokens: &[TokenLogprobs], start: usize) -> Value {
    let mut offset = start;
    let mut offsets = Vec::new();
    for lp in tokens {
        offsets.push(offset);
        offset += lp.token.chars().count();
    }
    json!({
        "tokens": tokens.iter().map(|t| t.token.clone()).collect::<Vec<_>>(),
        "token_logprobs": tokens.iter().map(|t| t.logprob).collect::<Vec<_>>(),
        "top_logprobs": tokens.iter().map(|t| {
            t.top.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>()
        }).collect::<Vec<_>>(),
        "text_offset": offsets,
    })
}
