//! `ponder serve`: an OpenAI-compatible endpoint over ponder's own llama.cpp engine, so one GPU
//! box can serve a team's ponder sessions (`ponder fix --server http://box:8080/v1`).
//!
//! Routes: `GET /v1/models`, `POST /v1/chat/completions` and `POST /v1/completions` (streaming,
//! `n`, per-token `logprobs`, `response_format`, `grammar`), `GET /health` (queue, counts, cache).
//! Concurrent requests are batched together (see [`worker`]): they join the running batch at step
//! boundaries and share the prefix cache.
//!
//! As a network service: it binds to 127.0.0.1 unless told otherwise; with an API key every `/v1`
//! route wants `Authorization: Bearer KEY` (compared in constant time). Headers are capped in
//! size and must arrive within a time limit, bodies too ([`Limits`]); a client that stops reading
//! its stream is dropped after a while, and its sequences are freed at the next step.

mod chat;
mod reply;
pub mod request;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::sync::oneshot;

use crate::model::llama::LlamaEngine;
use crate::model::openai::wire::{ModelEntry, ModelList};
use request::Endpoint;
use worker::Worker;

/// What a client may send and how long it may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Most bytes of a request body (a 413 beyond).
    pub max_body_bytes: usize,
    /// Most bytes of a request's head: request line and headers (a 431 beyond; at least 8 KiB).
    pub max_header_bytes: usize,
    /// Time a client has to send its headers.
    pub header_timeout: Duration,
    /// Time a client has to send its body (a 408 beyond).
    pub body_timeout: Duration,
    /// Time a client may leave its stream unread before it is dropped and its job stopped.
    pub stalled_client_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 4 << 20,
            max_header_bytes: 64 << 10,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            stalled_client_timeout: Duration::from_secs(60),
        }
    }
}

/// How the server is reached and who may use it.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// When set, requests must carry it as a bearer token.
    pub api_key: Option<String>,
    /// The model name `/v1/models` lists.
    pub model_name: String,
    pub limits: Limits,
}

/// What every handler shares.
pub struct AppState {
    worker: Worker,
    api_key: Option<String>,
    model_name: String,
    limits: Limits,
}

/// A running server.
pub struct Server {
    /// Where it listens (the real port when 0 was asked for).
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Binds and starts serving on a thread of its own.
    pub fn start(engine: LlamaEngine, options: ServeOptions) -> Result<Server> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the server's runtime")?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(options.addr))
            .with_context(|| {
                format!(
                    "cannot listen on {}: is another server using the port? pick one with --port",
                    options.addr
                )
            })?;
        let addr = listener.local_addr()?;
        let limits = options.limits.clone();
        let state = Arc::new(AppState {
            worker: Worker::start(engine)?,
            api_key: options.api_key,
            model_name: options.model_name,
            limits: options.limits,
        });
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ponder-serve".into())
            .spawn(move || {
                let app = router(state);
                runtime.block_on(accept_loop(listener, app, limits, stop));
                // Streams still open are dropped with the runtime.
                runtime.shutdown_background();
            })
            .context("cannot start the server thread")?;
        Ok(Server {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The API root clients use.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Blocks until the server stops.
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Accepts connections until told to stop; each is served by hyper with the header limits.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: wait a little, then go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(app.clone());
        let limits = limits.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(limits.max_header_bytes.max(8192));
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(text_completions))
        .with_state(state)
}

/// Liveness and the engine thread's counts (no key needed: it reveals no content).
async fn health(State(state): State<Arc<AppState>>) -> Response {
    let mut value = state.worker.stats.json();
    value["context"] = json!(state.worker.cells);
    axum::Json(value).into_response()
}

async fn models(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refused) = refuse(&state, &headers) {
        return refused;
    }
    axum::Json(ModelList {
        object: "list".into(),
        data: vec![ModelEntry {
            id: state.model_name.clone(),
            object: "model".into(),
            owned_by: "ponder".into(),
        }],
    })
    .into_response()
}

async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(refused) = refuse(&state, &headers) {
        return refused;
    }
    match read_body(&state.limits, body).await {
        Ok(body) => chat::completions(state, Endpoint::Chat, body).await,
        Err(response) => response,
    }
}

async fn text_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(refused) = refuse(&state, &headers) {
        return refused;
    }
    match read_body(&state.limits, body).await {
        Ok(body) => chat::completions(state, Endpoint::Completions, body).await,
        Err(response) => response,
    }
}

/// The whole body, within the size and time limits.
async fn read_body(limits: &Limits, body: Body) -> Result<Bytes, Response> {
    match tokio::time::timeout(
        limits.body_timeout,
        axum::body::to_bytes(body, limits.max_body_bytes),
    )
    .await
    {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the request body is larger than {} bytes (or broke off): send a shorter prompt",
                limits.max_body_bytes
            ),
        )),
        Err(_) => Err(error_response(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the request body did not arrive within {} s",
                limits.body_timeout.as_secs()
            ),
        )),
    }
}

/// A 401 when an API key is required and the request does not carry it.
fn refuse(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let key = state.api_key.as_deref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given.is_some_and(|g| constant_time_eq(g.as_bytes(), key.as_bytes())) {
        None
    } else {
        Some(error_response(
            StatusCode::UNAUTHORIZED,
            "this server wants an API key: send Authorization: Bearer KEY",
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An error in OpenAI's shape.
fn error_response(status: StatusCode, message: &str) -> Response {
    let kind = if status.is_client_error() {
        "invalid_request_error"
    } else {
        "server_error"
    };
    (
        status,
        axum::Json(
            json!({ "error": { "message": message, "type": kind, "code": status.as_u16() } }),
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn keys_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
