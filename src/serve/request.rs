//! What `ponder serve` reads from a request body, for `/v1/chat/completions` and
//! `/v1/completions` alike, checked field by field: every field is either honoured or refused
//! with a 400 that names it — never ignored silently (a client that asks for `tools` and gets
//! plain text back cannot tell it was not understood).
//!
//! Honoured: sampling (`temperature`, `top_p`, `top_k`, `min_p`, `seed`), `n`, `max_tokens` /
//! `max_completion_tokens`, `stop`, `stream` with `stream_options` (`include_usage`,
//! `continuous_usage_stats`), `logprobs` / `top_logprobs` for every generated token,
//! `response_format` (`text`, `json_object`, `json_schema` → a grammar), llama-server's `grammar`,
//! ponder's `think_budget`. Accepted as the no-ops they are: `model` (one model is served),
//! `user`, penalties of 0, `echo: false`, `best_of: 1`, `tool_choice: "none"` without tools.

use serde_json::{Map, Value};

use crate::model::openai::wire::stop_strings;
use crate::model::{Message, Sampling};

/// Most candidates one request may ask for.
pub const MAX_N: u32 = 64;
/// Most alternatives per token (OpenAI allows 20; judges that read the whole yes/no mass of a
/// small vocabulary ask for more).
pub const MAX_TOP_LOGPROBS: u32 = 1000;
/// `max_tokens` when the request gives none.
pub const DEFAULT_MAX_TOKENS: u32 = 2048;

/// Which endpoint a body came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Completions,
}

/// What to put in front of the model: chat messages (rendered with the chat template) or raw
/// prompt text (`/v1/completions`, no template).
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Messages(Vec<Message>),
    Text(String),
}

/// A checked request.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeRequest {
    pub input: Input,
    pub n: u32,
    pub max_tokens: u32,
    pub think_budget: u32,
    pub sampling: Sampling,
    pub stop: Vec<String>,
    /// GBNF for the answer: `grammar`, or what `response_format` asks for.
    pub grammar: Option<String>,
    pub stream: bool,
    pub include_usage: bool,
    /// Usage on every chunk (vLLM's `continuous_usage_stats`); ponder also sends one chunk with
    /// the prompt's usage as soon as the prompt is read.
    pub continuous_usage: bool,
    /// Alternatives per generated token, when logprobs are asked for.
    pub logprobs: Option<u32>,
}

/// Reads and checks `body`; the error is the 400's message.
pub fn parse(body: &[u8], endpoint: Endpoint) -> Result<ServeRequest, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("the body must be a JSON object".into());
    };
    Fields::new(map).request(endpoint)
}

/// The body's fields, taken one by one; whatever is left at the end was not understood.
struct Fields(Map<String, Value>);

impl Fields {
    fn new(map: Map<String, Value>) -> Fields {
        Fields(map)
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key).filter(|v| !v.is_null())
    }

    fn u32(&mut self, key: &str) -> Result<Option<u32>, String> {
        self.take(key)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| format!("{key} must be a whole number ≥ 0, not {v}"))
            })
            .transpose()
    }

    fn f32(&mut self, key: &str) -> Result<Option<f32>, String> {
        self.take(key)
            .map(|v| {
                v.as_f64()
                    .map(|f| f as f32)
                    .ok_or_else(|| format!("{key} must be a number, not {v}"))
            })
            .transpose()
    }

    fn bool(&mut self, key: &str) -> Result<Option<bool>, String> {
        self.take(key)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| format!("{key} must be true or false, not {v}"))
            })
            .transpose()
    }

    /// A field accepted only with the value that changes nothing.
    fn no_op(&mut self, key: &str, ok: impl Fn(&Value) -> bool, why: &str) -> Result<(), String> {
        match self.take(key) {
            Some(v) if !ok(&v) => Err(format!(
                "{key} = {v} is not supported by ponder serve: {why}"
            )),
            _ => Ok(()),
        }
    }

    fn request(mut self, endpoint: Endpoint) -> Result<ServeRequest, String> {
        if let Some(tools) = self.take("tools")
            && tools.as_array().is_some_and(|t| !t.is_empty())
        {
            return Err(
                "tools (function calling) are not supported by ponder serve yet: describe the \
                 tools in the prompt and constrain the answer with response_format or grammar"
                    .into(),
            );
        }
        for key in ["functions", "function_call"] {
            if self.take(key).is_some() {
                return Err(format!(
                    "{key} (function calling) is not supported by ponder serve"
                ));
            }
        }
        self.no_op(
            "tool_choice",
            |v| v.as_str() == Some("none"),
            "no tools are supported",
        )?;
        self.no_op("parallel_tool_calls", |_| true, "no tools are supported")?;
        let input = match endpoint {
            Endpoint::Chat => {
                if self.0.contains_key("prompt") {
                    return Err("prompt belongs to /v1/completions; chat takes messages".into());
                }
                Input::Messages(self.messages()?)
            }
            Endpoint::Completions => {
                if self.0.contains_key("messages") {
                    return Err("messages belong to /v1/chat/completions; this takes prompt".into());
                }
                Input::Text(self.prompt()?)
            }
        };
        let _model = self.take("model"); // one model is served, whatever the name
        let _user = self.take("user");
        self.no_op(
            "frequency_penalty",
            is_zero,
            "penalties are not implemented",
        )?;
        self.no_op("presence_penalty", is_zero, "penalties are not implemented")?;
        self.no_op(
            "logit_bias",
            |v| v.as_object().is_some_and(Map::is_empty),
            "logit_bias is not implemented",
        )?;
        let n = self.u32("n")?.unwrap_or(1);
        if n == 0 || n > MAX_N {
            return Err(format!("n must be between 1 and {MAX_N}, not {n}"));
        }
        let max_completion = self.u32("max_completion_tokens")?;
        let max_tokens = max_completion
            .or(self.u32("max_tokens")?)
            .unwrap_or(DEFAULT_MAX_TOKENS);
        if max_tokens == 0 {
            return Err("max_tokens must be at least 1".into());
        }
        let think_budget = self.u32("think_budget")?.unwrap_or(0).min(max_tokens);
        let defaults = Sampling::default();
        let temperature = self.f32("temperature")?.unwrap_or(defaults.temperature);
        if !(0.0..=2.0).contains(&temperature) {
            return Err(format!(
                "temperature must be between 0 and 2, not {temperature}"
            ));
        }
        let top_p = self.f32("top_p")?.unwrap_or(defaults.top_p);
        if !(0.0..=1.0).contains(&top_p) || top_p == 0.0 {
            return Err(format!("top_p must be in (0, 1], not {top_p}"));
        }
        let sampling = Sampling {
            temperature,
            top_p,
            top_k: self.u32("top_k")?.unwrap_or(defaults.top_k),
            min_p: self.f32("min_p")?.unwrap_or(defaults.min_p),
            seed: match self.take("seed") {
                Some(v) => v
                    .as_u64()
                    .or_else(|| v.as_i64().map(|i| i as u64))
                    .ok_or_else(|| format!("seed must be an integer, not {v}"))?,
                None => nanos_seed(),
            },
        };
        let stop = match self.take("stop") {
            Some(v @ (Value::String(_) | Value::Array(_))) => stop_strings(Some(&v)),
            Some(v) => {
                return Err(format!(
                    "stop must be a string or a list of strings, not {v}"
                ));
            }
            None => Vec::new(),
        };
        let stream = self.bool("stream")?.unwrap_or(false);
        let (include_usage, continuous_usage) = match self.take("stream_options") {
            Some(Value::Object(mut options)) => {
                let include = options.remove("include_usage");
                let continuous = options.remove("continuous_usage_stats");
                if let Some(key) = options.keys().next() {
                    return Err(format!(
                        "stream_options.{key} is not supported by ponder serve"
                    ));
                }
                (
                    include.and_then(|v| v.as_bool()).unwrap_or(false),
                    continuous.and_then(|v| v.as_bool()).unwrap_or(false),
                )
            }
            Some(v) => return Err(format!("stream_options must be an object, not {v}")),
            None => (false, false),
        };
        let logprobs = self.logprobs(endpoint)?;
        let mut grammar = self
            .take("grammar")
            .map(|g| {
                g.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "grammar must be a GBNF string".to_string())
            })
            .transpose()?
            .filter(|g| !g.trim().is_empty());
        if let Some(format) = self.take("response_format") {
            let from_format = response_format(&format)?;
            if from_format.is_some() && grammar.is_some() {
                return Err("give grammar or response_format, not both".into());
            }
            grammar = grammar.or(from_format);
        }
        if endpoint == Endpoint::Completions {
            self.no_op(
                "echo",
                |v| v == &Value::Bool(false),
                "echo is not implemented",
            )?;
            self.no_op(
                "best_of",
                |v| v.as_u64() == Some(1),
                "best_of is not implemented; use n",
            )?;
            self.no_op(
                "suffix",
                |v| v.as_str() == Some(""),
                "suffix (fill-in-the-middle) is not implemented",
            )?;
        }
        if let Some(key) = self.0.keys().next() {
            return Err(format!(
                "{key} is not a field ponder serve knows or honours; leave it out (ponder never \
                 ignores a field silently)"
            ));
        }
        Ok(ServeRequest {
            input,
            n,
            max_tokens,
            think_budget,
            sampling,
            stop,
            grammar,
            stream,
            include_usage,
            continuous_usage,
            logprobs,
        })
    }

    fn messages(&mut self) -> Result<Vec<Message>, String> {
        let Some(Value::Array(items)) = self.take("messages") else {
            return Err("messages must be a non-empty list".into());
        };
        if items.is_empty() {
            return Err("messages is empty".into());
        }
        items
            .iter()
            .map(|m| {
                let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
                if m.get("tool_calls").is_some_and(|t| !t.is_null()) {
                    return Err("messages with tool_calls are not supported by ponder serve".into());
                }
                let text = content(m.get("content").unwrap_or(&Value::Null))?;
                match role {
                    "system" | "developer" => Ok(Message::system(text)),
                    "user" => Ok(Message::user(text)),
                    "assistant" => Ok(Message::assistant(text)),
                    other => Err(format!(
                        "ponder serve takes system, user and assistant messages, not {other:?}"
                    )),
                }
            })
            .collect()
    }

    fn prompt(&mut self) -> Result<String, String> {
        match self.take("prompt") {
            Some(Value::String(text)) => Ok(text),
            Some(Value::Array(items)) if items.len() == 1 && items[0].is_string() => {
                Ok(items[0].as_str().unwrap_or_default().to_string())
            }
            Some(Value::Array(_)) => Err(
                "prompt must be one string: send one request per prompt (n gives several \
                 completions of one prompt)"
                    .into(),
            ),
            Some(v) => Err(format!("prompt must be a string, not {v}")),
            None => Err("prompt is missing".into()),
        }
    }

    /// Chat: `logprobs: true` with `top_logprobs: k`; completions: `logprobs: k`.
    fn logprobs(&mut self, endpoint: Endpoint) -> Result<Option<u32>, String> {
        let top = match endpoint {
            Endpoint::Chat => {
                let on = self.bool("logprobs")?.unwrap_or(false);
                let top = self.u32("top_logprobs")?;
                if top.is_some() && !on {
                    return Err("top_logprobs needs logprobs: true".into());
                }
                on.then(|| top.unwrap_or(0))
            }
            Endpoint::Completions => self.u32("logprobs")?,
        };
        match top {
            Some(k) if k > MAX_TOP_LOGPROBS => Err(format!(
                "top_logprobs must be at most {MAX_TOP_LOGPROBS}, not {k}"
            )),
            other => Ok(other),
        }
    }
}

fn is_zero(v: &Value) -> bool {
    v.as_f64() == Some(0.0)
}

/// A message's text: a string, or a list of text parts (any other part is refused).
fn content(value: &Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Null => Ok(String::new()),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p.get("type").and_then(Value::as_str) {
                Some("text") | None => p
                    .get("text")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| "a text part has no text".to_string()),
                Some(other) => Err(format!(
                    "message parts of type {other:?} are not supported by ponder serve (text only)"
                )),
            })
            .collect(),
        other => Err(format!(
            "content must be a string or a list of parts, not {other}"
        )),
    }
}

/// The grammar `response_format` asks for (`None` for plain text).
fn response_format(format: &Value) -> Result<Option<String>, String> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => schema_grammar(&serde_json::json!({ "type": "object" })).map(Some),
        Some("json_schema") => {
            let schema = format
                .get("json_schema")
                .and_then(|s| s.get("schema"))
                .ok_or("response_format json_schema needs json_schema.schema")?;
            schema_grammar(schema).map(Some)
        }
        Some(other) => Err(format!(
            "response_format type {other:?} is not supported: use text, json_object or json_schema"
        )),
        None => Err("response_format needs a type".into()),
    }
}

/// llama.cpp's JSON-schema-to-GBNF conversion.
fn schema_grammar(schema: &Value) -> Result<String, String> {
    llama_cpp_2::json_schema_to_grammar(&schema.to_string())
        .map_err(|e| format!("response_format's JSON schema cannot be turned into a grammar: {e}"))
}

fn nanos_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: &str) -> Result<ServeRequest, String> {
        parse(body.as_bytes(), Endpoint::Chat)
    }

    const HI: &str = r#""messages":[{"role":"user","content":"hi"}]"#;

    #[test]
    fn a_plain_request_takes_the_defaults() {
        let r = chat(&format!("{{{HI}}}")).unwrap();
        assert_eq!(r.input, Input::Messages(vec![Message::user("hi")]));
        assert_eq!(
            (r.n, r.max_tokens, r.think_budget),
            (1, DEFAULT_MAX_TOKENS, 0)
        );
        assert_eq!((r.stream, r.logprobs, r.grammar), (false, None, None));
    }

    #[test]
    fn unknown_and_unsupported_fields_are_refused_by_name() {
        for (field, says) in [
            (
                r#""tools":[{"type":"function","function":{"name":"f"}}]"#,
                "tools",
            ),
            (r#""frobnicate":1"#, "frobnicate"),
            (r#""presence_penalty":0.5"#, "presence_penalty"),
            (r#""logit_bias":{"1":5}"#, "logit_bias"),
            (r#""response_format":{"type":"xml"}"#, "xml"),
            (r#""stream_options":{"bogus":true}"#, "bogus"),
            (r#""n":0"#, "n must be"),
            (r#""max_tokens":-1"#, "max_tokens"),
            (r#""top_logprobs":3"#, "logprobs: true"),
            (r#""logprobs":true,"top_logprobs":1001"#, "at most"),
        ] {
            let err = chat(&format!("{{{HI},{field}}}")).unwrap_err();
            assert!(err.contains(says), "{field}: {err}");
        }
        assert!(chat("[1]").unwrap_err().contains("object"));
        assert!(chat("{").unwrap_err().contains("not valid JSON"));
    }

    #[test]
    fn no_op_fields_are_accepted() {
        let r = chat(&format!(
            r#"{{{HI},"model":"x","user":"u","frequency_penalty":0,"tool_choice":"none","tools":[]}}"#
        ))
        .unwrap();
        assert_eq!(r.n, 1);
    }

    #[test]
    fn response_format_becomes_a_grammar() {
        let r = chat(&format!(
            r#"{{{HI},"response_format":{{"type":"json_object"}}}}"#
        ))
        .unwrap();
        assert!(r.grammar.unwrap().contains("root"));
        let schema = r#"{"type":"json_schema","json_schema":{"name":"f","schema":{"type":"object","properties":{"file":{"type":"string"}},"required":["file"]}}}"#;
        let r = chat(&format!(r#"{{{HI},"response_format":{schema}}}"#)).unwrap();
        assert!(r.grammar.unwrap().contains("file"));
        let text = chat(&format!(r#"{{{HI},"response_format":{{"type":"text"}}}}"#)).unwrap();
        assert_eq!(text.grammar, None);
    }

    #[test]
    fn completions_take_a_prompt_and_integer_logprobs() {
        let r = parse(
            br#"{"prompt":"def f(","max_tokens":5,"logprobs":2,"echo":false}"#,
            Endpoint::Completions,
        )
        .unwrap();
        assert_eq!(r.input, Input::Text("def f(".into()));
        assert_eq!(r.logprobs, Some(2));
        let err = parse(br#"{"prompt":["a","b"]}"#, Endpoint::Completions).unwrap_err();
        assert!(err.contains("one string"), "{err}");
        let err = parse(br#"{"prompt":"a","echo":true}"#, Endpoint::Completions).unwrap_err();
        assert!(err.contains("echo"), "{err}");
    }
}
