//! `ponder serve`: an OpenAI-compatible endpoint over ponder's own llama.cpp engine, so one GPU
//! box can serve a team's ponder sessions (`ponder fix --server http://box:8080/v1`).
//!
//! Routes: `GET /v1/models`, `POST /v1/chat/completions` (streaming, `n`, `logprobs` for
//! one-token answers, `grammar`), `GET /health` (queue and counts). It binds to 127.0.0.1 unless told otherwise;
//! with an API key every `/v1` route wants `Authorization: Bearer KEY`. The engine runs on one
//! thread behind a queue (see [`worker`]): the candidates of one request share their prompt in
//! one batch, concurrent requests wait their turn.

mod chat;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::oneshot;

use crate::model::llama::LlamaEngine;
use crate::model::openai::wire::{ModelEntry, ModelList};
use worker::Worker;

/// How the server is reached and who may use it.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// When set, requests must carry it as a bearer token.
    pub api_key: Option<String>,
    /// The model name `/v1/models` lists.
    pub model_name: String,
}

/// What every handler shares.
pub struct AppState {
    worker: Worker,
    api_key: Option<String>,
    model_name: String,
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
        let state = Arc::new(AppState {
            worker: Worker::start(engine)?,
            api_key: options.api_key,
            model_name: options.model_name,
        });
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ponder-serve".into())
            .spawn(move || {
                let app = router(state);
                let _ = runtime.block_on(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stop.await;
                        })
                        .await
                });
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

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(completions))
        .with_state(state)
}

/// Liveness and the engine thread's counts (no key needed: it reveals no content).
async fn health(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.worker.stats.json()).into_response()
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

async fn completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refuse(&state, &headers) {
        return refused;
    }
    chat::completions(state, body).await
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
