//! `POST /v1/chat/completions` and `POST /v1/completions`: a checked request ([`super::request`])
//! becomes a job of the engine thread, and its pieces go back as chunks (streamed) or as one
//! completion, in each endpoint's shape ([`super::reply`]).
//!
//! Thinking streams as `reasoning_content`, the answer as `content` (as vLLM and llama-server
//! do). `max_tokens` bounds thinking plus answer; ponder's `think_budget` extension says how much
//! of it may be thinking (absent: none — a plain client gets plain answers). Log-probabilities
//! come for every answer token, streamed or not, for every candidate. A one-token chat answer
//! with logprobs (what judging asks) reads the prompt's first answer position exactly as the
//! local judge does.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::{mpsc, oneshot};

use super::reply::Reply;
use super::request::{Endpoint, Input, ServeRequest, parse};
use super::worker::{Job, Out};
use super::{AppState, error_response};
use crate::event::{Command, Control, Stage};
use crate::model::{Judge, JudgeRequest};

/// How often a waiting stream sends an SSE comment.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(10);

/// Handles one completion request of either endpoint.
pub async fn completions(state: Arc<AppState>, endpoint: Endpoint, body: Bytes) -> Response {
    let request = match parse(&body, endpoint) {
        Ok(request) => request,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, &message),
    };
    if endpoint == Endpoint::Completions && request.think_budget > 0 {
        return error_response(
            StatusCode::BAD_REQUEST,
            "think_budget needs /v1/chat/completions: a raw completion has no thinking block",
        );
    }
    if endpoint == Endpoint::Chat
        && request.logprobs.is_some()
        && request.n == 1
        && request.max_tokens == 1
        && !request.stream
        && request.grammar.is_none()
        && let Input::Messages(messages) = &request.input
    {
        return first_token(state, &request, messages.clone()).await;
    }
    let (out, mut rx) = mpsc::unbounded_channel();
    let control = Arc::new(Control::new());
    let job = Job::Generate {
        request: request.clone(),
        out,
        control: control.clone(),
    };
    if !state.worker.submit(job) {
        return error_response(StatusCode::SERVICE_UNAVAILABLE, "the engine thread stopped");
    }
    let guard = AbortOnDrop(control);
    // The engine checks the request against the context first.
    let prompt_tokens = match rx.recv().await {
        Some(Out::Accepted { prompt_tokens }) => prompt_tokens,
        Some(Out::Rejected(message)) => return error_response(StatusCode::BAD_REQUEST, &message),
        Some(Out::Failed(message)) => {
            return error_response(StatusCode::INTERNAL_SERVER_ERROR, &message);
        }
        _ => {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the engine dropped the request",
            );
        }
    };
    let reply = Reply::new(endpoint, &state.model_name, &request, prompt_tokens);
    if request.stream {
        stream(
            reply,
            rx,
            guard,
            &request,
            state.limits.stalled_client_timeout,
        )
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

/// Streams chunks as the engine produces them; a client that leaves a chunk unread for
/// `stalled` is dropped (and its job aborted).
fn stream(
    mut reply: Reply,
    mut rx: mpsc::UnboundedReceiver<Out>,
    guard: AbortOnDrop,
    request: &ServeRequest,
    stalled: std::time::Duration,
) -> Response {
    let (tx, body) = mpsc::channel::<Bytes>(64);
    let include_usage = request.include_usage;
    let continuous = request.continuous_usage;
    tokio::spawn(async move {
        let _guard = guard;
        let send = |bytes: Bytes| {
            let tx = tx.clone();
            async move {
                matches!(
                    tokio::time::timeout(stalled, tx.send(bytes)).await,
                    Ok(Ok(()))
                )
            }
        };
        for bytes in reply.start() {
            if !send(bytes).await {
                return;
            }
        }
        // While the job waits for its turn (or reads a long prompt), comments keep the
        // client's silence timeout from firing.
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        keep_alive.tick().await;
        loop {
            let out = tokio::select! {
                out = rx.recv() => match out {
                    Some(out) => out,
                    None => break,
                },
                _ = keep_alive.tick() => {
                    if !send(Bytes::from_static(b": keep-alive\n\n")).await {
                        return;
                    }
                    continue;
                }
            };
            let chunks = match out {
                Out::Accepted { .. } | Out::Rejected(_) => Vec::new(),
                Out::Usage(usage) => {
                    reply.prompt_read(usage);
                    if continuous {
                        vec![reply.usage_chunk()]
                    } else {
                        Vec::new()
                    }
                }
                Out::Piece(beam, channel, text) => reply.piece(beam, channel, &text),
                Out::Logprob(beam, logprobs) => reply.logprob(beam, &logprobs),
                Out::Finished {
                    generations,
                    truncated,
                    usage,
                } => {
                    reply.prompt_read(usage);
                    let mut chunks = reply.finish(&generations, &truncated);
                    if include_usage || continuous {
                        chunks.push(reply.usage_chunk());
                    }
                    chunks.push(Bytes::from_static(b"data: [DONE]\n\n"));
                    chunks
                }
                Out::Failed(message) => vec![
                    Bytes::from(format!(
                        "data: {}\n\n",
                        serde_json::json!({ "error": { "message": message, "type": "server_error" } })
                    )),
                    Bytes::from_static(b"data: [DONE]\n\n"),
                ],
            };
            for chunk in chunks {
                if !send(chunk).await {
                    return; // gone or stalled: `_guard` aborts the job
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

/// Waits for the whole generation and answers it in one completion.
async fn whole(
    mut reply: Reply,
    mut rx: mpsc::UnboundedReceiver<Out>,
    guard: AbortOnDrop,
) -> Response {
    let _guard = guard;
    while let Some(out) = rx.recv().await {
        match out {
            Out::Logprob(beam, logprobs) => reply.keep_logprob(beam, logprobs),
            Out::Usage(usage) => reply.prompt_read(usage),
            Out::Finished {
                generations,
                truncated,
                usage,
            } => {
                reply.prompt_read(usage);
                return axum::Json(reply.whole(&generations, &truncated)).into_response();
            }
            Out::Failed(message) => {
                return error_response(StatusCode::INTERNAL_SERVER_ERROR, &message);
            }
            Out::Accepted { .. } | Out::Rejected(_) | Out::Piece(..) => {}
        }
    }
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the engine dropped the request",
    )
}

/// A one-token answer with the most likely first tokens and their log-probabilities, read at
/// the first answer position of the prompt as the local judge reads it.
async fn first_token(
    state: Arc<AppState>,
    request: &ServeRequest,
    messages: Vec<crate::model::Message>,
) -> Response {
    let top = request.logprobs.unwrap_or(1).max(1) as usize;
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
    let shown = Reply::new(Endpoint::Chat, &state.model_name, request, 0);
    axum::Json(shown.first_token(&top, request.logprobs.unwrap_or(0) as usize)).into_response()
}
