//! Reading one streamed chat completion into its candidates: SSE events decoded, each chunk's
//! choices routed by `index` to a [`CandidateText`], the pieces to show sent on a channel.
//!
//! A stream ends well with `data: [DONE]`, or when every candidate has a `finish_reason`, or when
//! ponder has stopped every candidate itself (stop string, answer budget: the connection is then
//! dropped, which tells the server to stop). Anything else — a read error, silence longer than
//! the timeout, the connection closing early — is a [`StreamEnd::Cut`].

use std::time::Duration;

use anyhow::anyhow;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::candidate::{CandidateText, Piece};
use super::sse::SseDecoder;
use super::wire::{Chunk, error_message};
use crate::model::PromptUsage;

/// How a stream ended.
#[derive(Debug)]
pub enum StreamEnd {
    /// Finished; `served` says which candidates the server sent any choice for.
    Done { served: Vec<bool> },
    /// The stream broke before it finished.
    Cut(anyhow::Error),
    /// The server reported an error inside the stream (not worth a retry).
    Failed(anyhow::Error),
    /// Nobody listens any more (the generation was aborted).
    Closed,
}

/// Reads `response` into `candidates` (choice `i` feeds `candidates[i]`), sending what to show.
pub async fn read(
    response: reqwest::Response,
    candidates: &mut [&mut CandidateText],
    pieces: &mpsc::Sender<Piece>,
    timeout: Duration,
    usage: &std::sync::Mutex<Option<PromptUsage>>,
) -> StreamEnd {
    let mut body = response.bytes_stream();
    let mut decoder = SseDecoder::new();
    let mut served = vec![false; candidates.len()];
    let mut out = Vec::new();
    loop {
        let bytes = match tokio::time::timeout(timeout, body.next()).await {
            Err(_) => {
                return StreamEnd::Cut(anyhow!(
                    "the server sent nothing for {}s",
                    timeout.as_secs()
                ));
            }
            Ok(None) => {
                let ended = served.iter().any(|&s| s)
                    && candidates
                        .iter()
                        .zip(&served)
                        .all(|(c, &s)| c.is_finished() || !s);
                return if ended {
                    StreamEnd::Done { served }
                } else {
                    StreamEnd::Cut(anyhow!("the server closed the stream before it finished"))
                };
            }
            Ok(Some(Err(err))) => {
                return StreamEnd::Cut(anyhow!("the stream broke: {err}"));
            }
            Ok(Some(Ok(bytes))) => bytes,
        };
        for data in decoder.push(&bytes) {
            if data.trim() == "[DONE]" {
                for c in candidates.iter_mut() {
                    c.finish(&mut out);
                }
                if send(pieces, &mut out).await.is_err() {
                    return StreamEnd::Closed;
                }
                return StreamEnd::Done { served };
            }
            let chunk: Chunk = match serde_json::from_str(&data) {
                Ok(chunk) => chunk,
                Err(err) => {
                    return StreamEnd::Failed(anyhow!(
                        "the server sent a chunk that is not a chat completion ({err}): {}",
                        data.chars().take(200).collect::<String>()
                    ));
                }
            };
            if let Some(error) = chunk.error {
                return StreamEnd::Failed(anyhow!(
                    "the server reported an error mid-stream: {}",
                    error_message(&serde_json::json!({ "error": error }).to_string())
                ));
            }
            // Ponder counts tokens itself; of usage it keeps the prompt's size and what the
            // server's cache held of it, the first time a chunk says.
            if let Some(reported) = &chunk.usage
                && let Ok(mut slot) = usage.lock()
                && slot.is_none()
                && reported.prompt_tokens > 0
            {
                *slot = Some(PromptUsage {
                    tokens: u32::try_from(reported.prompt_tokens).ok(),
                    cached_tokens: reported
                        .prompt_tokens_details
                        .as_ref()
                        .and_then(|d| u32::try_from(d.cached_tokens).ok()),
                });
            }
            for choice in chunk.choices {
                let index = choice.index as usize;
                let Some(candidate) = candidates.get_mut(index) else {
                    continue;
                };
                served[index] = true;
                if let Some(thinking) = choice.delta.thinking() {
                    candidate.reasoning(thinking, &mut out);
                }
                if let Some(content) = &choice.delta.content {
                    candidate.content(content, &mut out);
                }
                if choice.finish_reason.is_some() {
                    candidate.finish(&mut out);
                }
            }
        }
        if send(pieces, &mut out).await.is_err() {
            return StreamEnd::Closed;
        }
        // Every candidate stopped by ponder (stop string, answer budget): hang up.
        if candidates.iter().all(|c| c.is_finished()) && served.iter().all(|&s| s) {
            return StreamEnd::Done { served };
        }
    }
}

async fn send(pieces: &mpsc::Sender<Piece>, out: &mut Vec<Piece>) -> Result<(), ()> {
    for piece in out.drain(..) {
        pieces.send(piece).await.map_err(|_| ())?;
    }
    Ok(())
}
