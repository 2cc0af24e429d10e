//! The HTTP side of the engine: one `reqwest` client, the API root and key, and requests retried
//! by the [`Backoff`] policy (429, 5xx, no connection), waiting through the injected [`Sleeper`].
//!
//! The key is sent as a bearer token and kept only here; it is never part of an error message.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use reqwest::header::RETRY_AFTER;
use serde_json::Value;

use super::config::redacted;
use super::retry::{Backoff, Sleeper, parse_retry_after, retryable};
use super::wire::{ModelList, error_message};

/// A connection to one server.
pub struct Http {
    client: reqwest::Client,
    pub root: String,
    api_key: Option<String>,
    pub backoff: Backoff,
    pub sleeper: Arc<dyn Sleeper>,
    /// Longest wait for a connection, or for the next piece of a response.
    pub timeout: Duration,
}

impl Http {
    pub fn new(
        root: String,
        api_key: Option<String>,
        backoff: Backoff,
        sleeper: Arc<dyn Sleeper>,
        timeout: Duration,
    ) -> Result<Http> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Http {
            client,
            root,
            api_key,
            backoff,
            sleeper,
            timeout,
        })
    }

    fn with_key(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// POSTs `body` to `path` (under the API root), retrying what is worth retrying; returns a
    /// successful response with its body still unread.
    pub async fn post(&self, path: &str, body: &Value) -> Result<reqwest::Response> {
        let url = format!("{}/{path}", self.root);
        // Messages name the server without any credentials in its address.
        let shown = redacted(&url);
        let mut retry = 0;
        loop {
            let sent = self.with_key(self.client.post(&url)).json(body).send();
            let (err, retry_after) = match tokio::time::timeout(self.timeout, sent).await {
                Err(_) => (
                    anyhow!(
                        "the server at {shown} sent no answer within {}s",
                        self.timeout.as_secs()
                    ),
                    None,
                ),
                Ok(Err(err)) => (
                    anyhow!("cannot reach the server at {shown}: {}", root_cause(&err)),
                    None,
                ),
                Ok(Ok(response)) if response.status().is_success() => return Ok(response),
                Ok(Ok(response)) => {
                    let status = response.status().as_u16();
                    let wait = parse_retry_after(
                        response
                            .headers()
                            .get(RETRY_AFTER)
                            .and_then(|v| v.to_str().ok()),
                    );
                    let text = response.text().await.unwrap_or_default();
                    let err = anyhow!(
                        "the server at {shown} answered {status}: {}",
                        error_message(&text)
                    );
                    if !retryable(status) {
                        return Err(err.context(hint(status)));
                    }
                    (err, wait)
                }
            };
            retry += 1;
            match self.backoff.delay(retry, retry_after) {
                Some(wait) => self.sleeper.sleep(wait).await,
                None => {
                    return Err(err.context(format!(
                        "gave up after {} retries; is the server up and not overloaded?",
                        retry - 1
                    )));
                }
            }
        }
    }

    /// `GET /models`: the model names the server lists.
    pub async fn models(&self) -> Result<Vec<String>> {
        let url = format!("{}/models", self.root);
        let shown = redacted(&url);
        let response =
            tokio::time::timeout(self.timeout, self.with_key(self.client.get(&url)).send())
                .await
                .map_err(|_| {
                    anyhow!(
                        "the server at {shown} sent no answer within {}s",
                        self.timeout.as_secs()
                    )
                })?
                .map_err(|err| {
                    anyhow!("cannot reach the server at {shown}: {}", root_cause(&err))
                })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(anyhow!(
                "the server at {shown} answered {status}: {}",
                error_message(&text)
            )
            .context(hint(status)));
        }
        let list: ModelList = serde_json::from_str(&text)
            .with_context(|| format!("{shown} did not answer a model list"))?;
        Ok(list.data.into_iter().map(|m| m.id).collect())
    }
}

/// What the user can do about a refusal.
fn hint(status: u16) -> &'static str {
    match status {
        401 | 403 => {
            "the server refused the API key: set api_key_env in [openai] to the variable \
                      that holds the right key"
        }
        404 => "check base_url (it should end in /v1) and the model name in [openai]",
        400 | 422 => {
            "the server rejected the request; if it names a field (grammar, n, seed, \
                      top_k…), turn that feature off in [openai]"
        }
        _ => "the server refused the request",
    }
}

/// The innermost cause of an HTTP error (reqwest's outer message is just "error sending request").
fn root_cause(err: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = err;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}
