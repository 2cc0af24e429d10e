//! The JSON of OpenAI's chat-completions API as ponder speaks it, both ways: the client reads
//! chunks and completions from any compatible server, `ponder serve` writes them.
//!
//! Reading is lenient (unknown fields ignored, missing ones defaulted) because servers differ:
//! vLLM and llama-server stream thinking as `reasoning_content` (newer vLLM as `reasoning`),
//! Ollama inline in `content` between `<think>` tags; usage arrives in a final chunk with no
//! choices when `stream_options.include_usage` is set.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One `data:` event of a streamed completion.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Chunk {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Some servers report a failure inside the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// One candidate's part of a chunk.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChunkChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Delta,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// New text of one candidate.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// vLLM's newer name for `reasoning_content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
}

impl Delta {
    /// The thinking text of this delta, under whichever name the server uses.
    pub fn thinking(&self) -> Option<&str> {
        self.reasoning_content
            .as_deref()
            .or(self.reasoning.as_deref())
            .filter(|t| !t.is_empty())
    }
}

/// Tokens counted by the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    /// What the server's prompt cache held of the prompt (OpenAI, vLLM, `ponder serve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    #[serde(default)]
    pub cached_tokens: u64,
}

/// A whole (not streamed) completion.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Completion {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    #[serde(default)]
    pub choices: Vec<CompletionChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One candidate of a whole completion.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CompletionChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub message: Delta,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub logprobs: Option<ChoiceLogprobs>,
}

/// Log-probabilities of a candidate's tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChoiceLogprobs {
    #[serde(default)]
    pub content: Option<Vec<TokenLogprob>>,
}

/// One generated token, its log-probability and the most likely alternatives.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f64,
    #[serde(default)]
    pub top_logprobs: Vec<TopLogprob>,
}

/// An alternative at one position.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TopLogprob {
    pub token: String,
    pub logprob: f64,
}

/// A model in `GET /v1/models`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelEntry {
    pub id: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub owned_by: String,
}

/// The body of `GET /v1/models`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelList {
    #[serde(default)]
    pub object: String,
    pub data: Vec<ModelEntry>,
}

/// A request body as `ponder serve` reads it (the client builds its own as JSON, with the
/// config's extra fields merged in).
#[derive(Debug, Clone, Deserialize)]
pub struct ChatRequest {
    #[serde(default)]
    pub model: Option<String>,
    pub messages: Vec<WireMessage>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub n: Option<u32>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    /// ponder's extension: tokens of thinking before the answer (0 or absent: no thinking).
    #[serde(default)]
    pub think_budget: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub top_p: Option<f32>,
    #[serde(default)]
    pub top_k: Option<u32>,
    #[serde(default)]
    pub min_p: Option<f32>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub stop: Option<Value>,
    /// llama-server's GBNF grammar field.
    #[serde(default)]
    pub grammar: Option<String>,
    #[serde(default)]
    pub logprobs: bool,
    #[serde(default)]
    pub top_logprobs: Option<u32>,
}

/// `stream_options` of a request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// A chat message on the wire; `content` is a string or a list of text parts.
#[derive(Debug, Clone, Deserialize)]
pub struct WireMessage {
    pub role: String,
    #[serde(default)]
    pub content: Value,
}

impl WireMessage {
    /// The message's text, parts joined.
    pub fn text(&self) -> String {
        match &self.content {
            Value::String(text) => text.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
            _ => String::new(),
        }
    }
}

/// The stop strings of a request (`"stop"` may be one string or a list).
pub fn stop_strings(stop: Option<&Value>) -> Vec<String> {
    match stop {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The message of an error body (`{"error": {"message": …}}`, `{"error": "…"}`, or plain text).
pub fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        let error = v.get("error")?;
        error
            .get("message")
            .and_then(Value::as_str)
            .or(error.as_str())
            .map(str::to_string)
    });
    let text = message.unwrap_or_else(|| body.trim().to_string());
    let mut text: String = text.chars().take(300).collect();
    if text.is_empty() {
        text.push_str("(empty body)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chunks_of_every_flavour() {
        let vllm: Chunk = serde_json::from_str(
            r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":1,"delta":{"reasoning_content":"hm"},"finish_reason":null,"logprobs":null}]}"#,
        )
        .unwrap();
        assert_eq!(vllm.choices[0].index, 1);
        assert_eq!(vllm.choices[0].delta.thinking(), Some("hm"));
        let usage: Chunk = serde_json::from_str(
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#,
        )
        .unwrap();
        assert_eq!(usage.usage.unwrap().completion_tokens, 7);
        let cached: Chunk = serde_json::from_str(
            r#"{"choices":[],"usage":{"prompt_tokens":5,"prompt_tokens_details":{"cached_tokens":4}}}"#,
        )
        .unwrap();
        let details = cached.usage.unwrap().prompt_tokens_details.unwrap();
        assert_eq!(details.cached_tokens, 4);
        let newer: Delta = serde_json::from_str(r#"{"reasoning":"x","content":""}"#).unwrap();
        assert_eq!(newer.thinking(), Some("x"));
    }

    #[test]
    fn error_bodies_become_one_line() {
        assert_eq!(
            error_message(r#"{"error":{"message":"model not found","code":404}}"#),
            "model not found"
        );
        assert_eq!(error_message(r#"{"error":"busy"}"#), "busy");
        assert_eq!(error_message("  Bad Gateway \n"), "Bad Gateway");
    }

    #[test]
    fn message_content_may_be_parts() {
        let m: WireMessage = serde_json::from_str(
            r#"{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}"#,
        )
        .unwrap();
        assert_eq!(m.text(), "ab");
        assert_eq!(
            stop_strings(Some(&serde_json::json!(["x", "y"]))),
            vec!["x", "y"]
        );
    }
}
