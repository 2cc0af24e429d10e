//! `POST /v1/chat/completions`: an OpenAI request turned into a ponder [`GenerateRequest`] for
//! the engine thread, and its pieces turned back into chunks (streamed) or one completion.
//!
//! Thinking streams as `reasoning_content`, the answer as `content` (as vLLM and llama-server
//! do). `max_tokens` bounds thinking plus answer; ponder's `think_budget` extension says how much
//! of it may be thinking (absent: none — a plain client gets plain answers). `grammar` (GBNF)
//! constrains the answer only, not the thinking. `logprobs` are given for one-token answers (what
//! judging asks): the most likely first answer tokens with their log-probabilities.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::worker::{Job, Out};
use super::{AppState, error_response};
use crate::event::{Channel, Command, Control, Stage};
use crate::model::openai::wire::{
    ChatRequest, ChoiceLogprobs, Chunk, ChunkChoice, Completion, CompletionChoice, Delta,
    TokenLogprob, TopLogprob, Usage, stop_strings,
};
use crate::model::{GenerateRequest, Generation, Judge, JudgeRequest, Message, Sampling};

/// Most candidates one request may ask for.
const MAX_N: u32 = 64;

/// How often a waiting stream sends an SSE comment.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(10);

/// Handles one chat completion.
pub async fn completions(state: Arc<AppState>, body: Bytes) -> Response {
    let request: ChatRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("the body is not a chat completion request: {err}"),
            );
        }
    };
    let messages = match messages(&request) {
        Ok(messages) => messages,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, &message),
    };
    if request.logprobs {
        return logprobs(state, request, messages).await;
    }
    let generate = match generate_request(&request, messages) {
        Ok(generate) => generate,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, &message),
    };
    // Small, so the engine runs at most this many pieces ahead of a client that went away.
    let (out, rx) = mpsc::channel(32);
    let control = Arc::new(Control::new());
    let job = Job::Generate {
        request: generate.clone(),
        out,
        control: control.clone(),
    };
    if !state.worker.submit(job) {
        return error_response(StatusCode::SERVICE_UNAVAILABLE, "the engine thread stopped");
    }
    let reply = Reply {
        id: format!("chatcmpl-ponder-{}", nanos()),
        model: state.model_name.clone(),
        created: (nanos() / 1_000_000_000) as u64,
        answer_budget: generate.answer_budget,
    };
    let guard = AbortOnDrop(control);
    if request.stream {
        let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
        stream(reply, rx, guard, include_usage, generate.n)
    } else {
        whole(reply, rx, guard).await
    }
}

/// Aborts the job when the response that waits for it is dropped (the client went away).
struct AbortOnDrop(Arc<Control>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.send(Command::Abort);
    }
}

/// What every chunk or completion of one reply carries.
struct Reply {
    id: String,
    model: String,
    created: u64,
    answer_budget: u32,
}

impl Reply {
    fn chunk(&self, choices: Vec<ChunkChoice>, usage: Option<Usage>) -> Bytes {
        let chunk = Chunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            model: self.model.clone(),
            choices,
            usage,
            error: None,
        };
        let mut value = serde_json::to_value(chunk).unwrap_or_default();
        value["created"] = json!(self.created);
        Bytes::from(format!("data: {value}\n\n"))
    }

    fn finish_reason(&self, g: &Generation) -> String {
        if g.answer_tokens >= self.answer_budget {
            "length".into()
        } else {
            "stop".into()
        }
    }
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn messages(request: &ChatRequest) -> Result<Vec<Message>, String> {
    if request.messages.is_empty() {
        return Err("messages is empty".into());
    }
    request
        .messages
        .iter()
        .map(|m| match m.role.as_str() {
            "system" | "developer" => Ok(Message::system(m.text())),
            "user" => Ok(Message::user(m.text())),
            "assistant" => Ok(Message::assistant(m.text())),
            other => Err(format!(
                "ponder serve takes system, user and assistant messages, not {other:?}"
            )),
        })
        .collect()
}

fn generate_request(
    request: &ChatRequest,
    messages: Vec<Message>,
) -> Result<GenerateRequest, String> {
    let n = request.n.unwrap_or(1);
    if n == 0 || n > MAX_N {
        return Err(format!("n must be between 1 and {MAX_N}"));
    }
    let max_tokens = request
        .max_completion_tokens
        .or(request.max_tokens)
        .unwrap_or(2048);
    let think_budget = request.think_budget.unwrap_or(0).min(max_tokens);
    let defaults = Sampling::default();
    Ok(GenerateRequest {
        stage: Stage::Understand,
        messages,
        n,
        think_budget,
        answer_budget: max_tokens - think_budget,
        sampling: Sampling {
            temperature: request.temperature.unwrap_or(defaults.temperature),
            top_p: request.top_p.unwrap_or(defaults.top_p),
            top_k: request.top_k.unwrap_or(defaults.top_k),
            min_p: request.min_p.unwrap_or(defaults.min_p),
            seed: request.seed.unwrap_or(nanos() as u64),
        },
        stop: stop_strings(request.stop.as_ref()),
        grammar: request.grammar.clone().filter(|g| !g.trim().is_empty()),
        round: 1,
        think_style: Default::default(),
    })
}

/// Streams chunks as the engine produces them.
fn stream(
    reply: Reply,
    mut rx: mpsc::Receiver<Out>,
    guard: AbortOnDrop,
    include_usage: bool,
    n: u32,
) -> Response {
    let (tx, body) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let _guard = guard;
        let role = (0..n)
            .map(|index| ChunkChoice {
                index,
                delta: Delta {
                    role: Some("assistant".into()),
                    content: Some(String::new()),
                    ..Delta::default()
                },
                finish_reason: None,
            })
            .collect();
        if tx.send(reply.chunk(role, None)).await.is_err() {
            return;
        }
        // While the job waits in the queue (or reads a long prompt), comments keep the client's
        // silence timeout from firing.
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        keep_alive.tick().await;
        loop {
            let out = tokio::select! {
                out = rx.recv() => match out {
                    Some(out) => out,
                    None => break,
                },
                _ = keep_alive.tick() => {
                    if tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            let bytes = match out {
                Out::Piece(beam, channel, text) => {
                    let delta = match channel {
                        Channel::Think => Delta {
                            reasoning_content: Some(text),
                            ..Delta::default()
                        },
                        Channel::Answer => Delta {
                            content: Some(text),
                            ..Delta::default()
                        },
                    };
                    let choice = ChunkChoice {
                        index: beam,
                        delta,
                        finish_reason: None,
                    };
                    vec![reply.chunk(vec![choice], None)]
                }
                Out::Finished {
                    generations,
                    prompt_tokens,
                } => {
                    let mut chunks: Vec<Bytes> = generations
                        .iter()
                        .map(|g| {
                            let choice = ChunkChoice {
                                index: g.beam,
                                delta: Delta::default(),
                                finish_reason: Some(reply.finish_reason(g)),
                            };
                            reply.chunk(vec![choice], None)
                        })
                        .collect();
                    if include_usage {
                        chunks.push(
                            reply.chunk(Vec::new(), Some(usage(&generations, prompt_tokens))),
                        );
                    }
                    chunks.push(Bytes::from_static(b"data: [DONE]\n\n"));
                    chunks
                }
                Out::Failed(message) => vec![
                    Bytes::from(format!(
                        "data: {}\n\n",
                        json!({ "error": { "message": message, "type": "server_error" } })
                    )),
                    Bytes::from_static(b"data: [DONE]\n\n"),
                ],
            };
            for piece in bytes {
                if tx.send(piece).await.is_err() {
                    return; // the client went away: `_guard` aborts the job
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(body, |mut body| async move {
        body.recv()
            .await
            .map(|bytes| (Ok::<_, std::convert::Infallible>(bytes), body))
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

fn usage(generations: &[Generation], prompt_tokens: u32) -> Usage {
    let completion: u64 = generations
        .iter()
        .map(|g| u64::from(g.think_tokens + g.answer_tokens))
        .sum();
    Usage {
        prompt_tokens: u64::from(prompt_tokens),
        completion_tokens: completion,
        total_tokens: u64::from(prompt_tokens) + completion,
    }
}

/// Waits for the whole generation and answers it in one completion.
async fn whole(reply: Reply, mut rx: mpsc::Receiver<Out>, guard: AbortOnDrop) -> Response {
    let _guard = guard;
    while let Some(out) = rx.recv().await {
        match out {
            Out::Piece(..) => {}
            Out::Finished {
                generations,
                prompt_tokens,
            } => {
                let completion = Completion {
                    id: reply.id.clone(),
                    object: "chat.completion".into(),
                    model: reply.model.clone(),
                    choices: generations
                        .iter()
                        .map(|g| CompletionChoice {
                            index: g.beam,
                            message: Delta {
                                role: Some("assistant".into()),
                                content: Some(g.answer.clone()),
                                reasoning_content: Some(g.think.clone()).filter(|t| !t.is_empty()),
                                reasoning: None,
                            },
                            finish_reason: Some(reply.finish_reason(g)),
                            logprobs: None,
                        })
                        .collect(),
                    usage: Some(usage(&generations, prompt_tokens)),
                };
                return axum::Json(completion).into_response();
            }
            Out::Failed(message) => {
                return error_response(StatusCode::INTERNAL_SERVER_ERROR, &message);
            }
        }
    }
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the engine dropped the request",
    )
}

/// A one-token answer with the most likely first tokens and their log-probabilities.
async fn logprobs(state: Arc<AppState>, request: ChatRequest, messages: Vec<Message>) -> Response {
    let max_tokens = request.max_completion_tokens.or(request.max_tokens);
    if request.stream || request.n.unwrap_or(1) != 1 || max_tokens != Some(1) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "ponder serve gives logprobs for one first token only (what judging needs): ask \
             with max_tokens = 1, n = 1 and stream = false",
        );
    }
    let top = request.top_logprobs.unwrap_or(1).clamp(1, 1000) as usize;
    let (reply, answer) = oneshot::channel();
    let job = Job::Logprobs {
        request: JudgeRequest {
            stage: Stage::Understand,
            judge: Judge::Prm,
            prompts: vec![messages],
            answers: vec![String::new()],
        },
        top,
        reply,
    };
    if !state.worker.submit(job) {
        return error_response(StatusCode::SERVICE_UNAVAILABLE, "the engine thread stopped");
    }
    let top = match answer.await {
        Ok(Ok(top)) if !top.is_empty() => top,
        Ok(Ok(_)) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, "no logits"),
        Ok(Err(err)) => {
            return error_response(StatusCode::INTERNAL_SERVER_ERROR, &format!("{err:#}"));
        }
        Err(_) => {
            return error_response(StatusCode::INTERNAL_SERVER_ERROR, "the engine dropped it");
        }
    };
    let (token, logprob) = top[0].clone();
    let completion = Completion {
        id: format!("chatcmpl-ponder-{}", nanos()),
        object: "chat.completion".into(),
        model: state.model_name.clone(),
        choices: vec![CompletionChoice {
            index: 0,
            message: Delta {
                role: Some("assistant".into()),
                content: Some(token.clone()),
                ..Delta::default()
            },
            finish_reason: Some("length".into()),
            logprobs: Some(ChoiceLogprobs {
                content: Some(vec![TokenLogprob {
                    token,
                    logprob,
                    top_logprobs: top
                        .into_iter()
                        .map(|(token, logprob)| TopLogprob { token, logprob })
                        .collect(),
                }]),
            }),
        }],
        usage: None,
    };
    axum::Json(completion).into_response()
}
