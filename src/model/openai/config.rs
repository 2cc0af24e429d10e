//! Settings of the OpenAI-compatible engine: the `[openai]` table of the config file (read by
//! [`crate::config`], which hands this table down), laid over by the command line's
//! `--server URL`.
//!
//! The API key is never a setting: the table names the environment variable that holds it
//! (`api_key_env`), and only the variable's name is ever shown or recorded.
//!
//! ```toml
//! [openai]
//! base_url = "http://gpu-box:8000/v1"   # or pass --server URL
//! model = "Qwen/QwQ-32B"                # default: the first model the server lists
//! api_key_env = "VLLM_API_KEY"          # the variable's name, never the key
//! timeout_s = 120                       # connect, and silence mid-stream
//! max_concurrent = 8                    # requests in flight
//! max_retries = 3                       # on 429, 5xx, no connection
//! backoff_ms = 500                      # doubled each retry, up to max_backoff_ms
//! n = "auto"                            # or "never": one request per candidate
//! grammar = "gbnf"                      # llama-server; "guided", "structured" (vLLM); "none"
//! judge = "logprobs"                    # or "text" when the server gives no logprobs
//! top_logprobs = 20
//! [openai.extra]                        # merged into every request body
//! chat_template_kwargs = { enable_thinking = true }
//! ```

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// How the engine asks a grammar-constrained answer of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GrammarField {
    /// `"grammar": GBNF` (llama-server, `ponder serve`).
    #[default]
    Gbnf,
    /// `"guided_grammar": GBNF` (vLLM's guided decoding, before 0.10).
    Guided,
    /// `"structured_outputs": {"grammar": GBNF}` (vLLM 0.10 and later).
    Structured,
    /// Not sent: answers are unconstrained.
    None,
}

/// Whether the `n` parameter is used for several candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NMode {
    /// Ask with `n`; if the server answers fewer choices, ask for the rest one by one (and
    /// remember that it ignores `n`).
    #[default]
    Auto,
    /// One request per candidate, each with its own seed.
    Never,
}

/// How candidates are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum JudgeMode {
    /// P(yes) from the `top_logprobs` of the first answer token.
    #[default]
    Logprobs,
    /// Read a yes/no answer: scores are 1, 0 (or 0.5 when neither), not probabilities.
    Text,
}

/// The `[openai]` table of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiConfig {
    /// Where the server is, e.g. `http://gpu-box:8000/v1` (`/v1` is added when missing).
    pub base_url: Option<String>,
    /// The model name sent with every request (default: the first one the server lists).
    pub model: Option<String>,
    /// The environment variable holding the API key (sent as a bearer token), if any.
    pub api_key_env: Option<String>,
    /// Seconds to wait for a connection and for each piece of a response.
    pub timeout_s: u64,
    /// Most requests in flight at once.
    pub max_concurrent: u32,
    /// Retries of a request refused with 429 or 5xx, or that could not connect.
    pub max_retries: u32,
    /// First backoff in milliseconds; doubled each retry, capped at `max_backoff_ms`.
    pub backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub n: NMode,
    pub grammar: GrammarField,
    pub judge: JudgeMode,
    /// Alternatives asked per position when judging (servers allow up to 20, some more).
    pub top_logprobs: u32,
    /// Extra JSON fields merged into every request (e.g. vLLM's `chat_template_kwargs`).
    pub extra: Option<toml::Table>,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        OpenAiConfig {
            base_url: None,
            model: None,
            api_key_env: None,
            timeout_s: 120,
            max_concurrent: 8,
            max_retries: 3,
            backoff_ms: 500,
            max_backoff_ms: 8000,
            n: NMode::Auto,
            grammar: GrammarField::Gbnf,
            judge: JudgeMode::Logprobs,
            top_logprobs: 20,
            extra: None,
        }
    }
}

impl OpenAiConfig {
    /// Values that parse but cannot be used: the key and what is wrong with it.
    pub fn check(&self) -> Result<(), (String, String)> {
        if self.max_concurrent == 0 {
            return Err((
                "max_concurrent".into(),
                "[openai] max_concurrent must be at least 1".into(),
            ));
        }
        if self.timeout_s == 0 {
            return Err((
                "timeout_s".into(),
                "[openai] timeout_s must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The API root ending in `/v1`, or an error saying how to name a server.
    pub fn api_root(&self) -> Result<String> {
        let url = self.base_url.as_deref().context(
            "no server given: pass --server URL or put `base_url = \"http://host:port/v1\"` in \
             the [openai] table of the config file",
        )?;
        api_root(url)
    }

    /// The API key from the environment variable the config names, if it names one.
    pub fn api_key(&self) -> Result<Option<String>> {
        let Some(var) = &self.api_key_env else {
            return Ok(None);
        };
        match std::env::var(var) {
            Ok(key) if !key.is_empty() => Ok(Some(key)),
            _ => bail!(
                "[openai] api_key_env names {var}, which is not set: export {var}=… or remove \
                 api_key_env"
            ),
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_s)
    }
}

/// `url` checked and normalised to end in `/v1` (no trailing slash).
pub fn api_root(url: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
        bail!("the server address {url:?} must start with http:// or https://");
    }
    let trimmed = trimmed.strip_suffix("/chat/completions").unwrap_or(trimmed);
    Ok(if trimmed.ends_with("/v1") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v1")
    })
}

/// `url` without any `user:password@` part, for showing and recording.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_table_and_refuses_unknown_keys() {
        let config: OpenAiConfig = toml::from_str(
            "base_url = \"http://box:8000\"\napi_key_env = \"VLLM_KEY\"\n\
             grammar = \"guided\"\n[extra]\nchat_template_kwargs = { enable_thinking = false }\n",
        )
        .unwrap();
        assert_eq!(config.api_root().unwrap(), "http://box:8000/v1");
        assert_eq!(config.grammar, GrammarField::Guided);
        assert!(config.extra.unwrap().contains_key("chat_template_kwargs"));
        assert!(toml::from_str::<OpenAiConfig>("key = \"sk-1\"\n").is_err());
        let idle: OpenAiConfig = toml::from_str("max_concurrent = 0\n").unwrap();
        assert_eq!(idle.check().unwrap_err().0, "max_concurrent");
    }

    #[test]
    fn urls_are_normalised_and_checked() {
        assert_eq!(api_root("http://h:1/v1/").unwrap(), "http://h:1/v1");
        assert_eq!(
            api_root("https://h/v1/chat/completions").unwrap(),
            "https://h/v1"
        );
        assert!(
            api_root("h:8000")
                .unwrap_err()
                .to_string()
                .contains("http://")
        );
    }

    #[test]
    fn credentials_in_the_url_are_never_shown() {
        assert_eq!(
            redacted("https://me:secret@box:8000/v1"),
            "https://***@box:8000/v1"
        );
        assert_eq!(redacted("http://box/v1?a=b@c"), "http://box/v1?a=b@c");
    }

    #[test]
    fn a_named_but_unset_key_variable_is_an_error() {
        let config = OpenAiConfig {
            api_key_env: Some("PONDER_TEST_SURELY_UNSET_KEY".into()),
            ..OpenAiConfig::default()
        };
        let err = config.api_key().unwrap_err().to_string();
        assert!(err.contains("PONDER_TEST_SURELY_UNSET_KEY"), "{err}");
    }
}
