//! The JSON bodies ponder sends: a streamed generation for some candidates of a request, and a
//! one-token judging question.
//!
//! `max_tokens` is the candidate's whole budget (thinking plus answer: servers count both);
//! ponder's own `think_budget` field rides along for `ponder serve` (other servers ignore unknown
//! fields). The grammar goes in the field the config names. The config's `extra` table is merged
//! in last, so a user can set what a server needs (`chat_template_kwargs`, `top_k`…).

use serde_json::{Map, Value, json};

use super::config::{GrammarField, OpenAiConfig};
use crate::model::template::role_name;
use crate::model::{GenerateRequest, Message};

/// Messages as the API wants them.
fn messages(messages: &[Message]) -> Value {
    Value::Array(
        messages
            .iter()
            .map(|m| json!({ "role": role_name(m.role), "content": m.content }))
            .collect(),
    )
}

fn merge_extra(body: &mut Value, config: &OpenAiConfig) {
    let (Some(extra), Value::Object(map)) = (&config.extra, body) else {
        return;
    };
    for (key, value) in extra {
        if let Ok(value) = serde_json::to_value(value) {
            map.insert(key.clone(), value);
        }
    }
}

/// A streamed request for `n` candidates of `request`, drawing with `seed`.
pub fn generation(
    config: &OpenAiConfig,
    model: &str,
    request: &GenerateRequest,
    n: u32,
    seed: u64,
) -> Value {
    let s = &request.sampling;
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), messages(&request.messages));
    body.insert("stream".into(), json!(true));
    // `continuous_usage_stats` (vLLM's; `ponder serve` honours it): usage as soon as the prompt
    // is read, so the prompt's cached tokens are known before its first token.
    body.insert(
        "stream_options".into(),
        json!({ "include_usage": true, "continuous_usage_stats": true }),
    );
    body.insert(
        "max_tokens".into(),
        json!(request.think_budget.saturating_add(request.answer_budget)),
    );
    body.insert("think_budget".into(), json!(request.think_budget));
    body.insert("temperature".into(), json!(s.temperature));
    body.insert("top_p".into(), json!(s.top_p));
    if s.top_k > 0 {
        body.insert("top_k".into(), json!(s.top_k));
    }
    body.insert("min_p".into(), json!(s.min_p));
    body.insert("seed".into(), json!(seed));
    if n > 1 {
        body.insert("n".into(), json!(n));
    }
    if !request.stop.is_empty() {
        body.insert("stop".into(), json!(request.stop));
    }
    if let Some(grammar) = &request.grammar {
        match config.grammar {
            GrammarField::Gbnf => {
                body.insert("grammar".into(), json!(grammar));
            }
            GrammarField::Guided => {
                body.insert("guided_grammar".into(), json!(grammar));
            }
            GrammarField::Structured => {
                body.insert("structured_outputs".into(), json!({ "grammar": grammar }));
            }
            GrammarField::None => {}
        }
    }
    let mut body = Value::Object(body);
    merge_extra(&mut body, config);
    body
}

/// A judging question: one greedy token, with its alternatives when `logprobs`.
pub fn judging(config: &OpenAiConfig, model: &str, prompt: &[Message], logprobs: bool) -> Value {
    let mut body = json!({
        "model": model,
        "messages": messages(prompt),
        "stream": false,
        "max_tokens": if logprobs { 1 } else { 4 },
        "temperature": 0.0,
        "think_budget": 0,
    });
    if logprobs {
        body["logprobs"] = json!(true);
        body["top_logprobs"] = json!(config.top_logprobs);
    }
    merge_extra(&mut body, config);
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Stage;
    use crate::model::Sampling;

    fn request() -> GenerateRequest {
        GenerateRequest {
            stage: Stage::Patch,
            messages: vec![Message::system("s"), Message::user("u")],
            n: 4,
            think_budget: 100,
            answer_budget: 50,
            sampling: Sampling::default(),
            stop: vec!["```\n".into()],
            grammar: Some("root ::= \"x\"".into()),
            round: 1,
            think_style: Default::default(),
        }
    }

    #[test]
    fn budgets_grammar_and_extra_fields() {
        let mut config = OpenAiConfig {
            extra: Some(toml::from_str("top_k = 5\nfoo = { bar = true }").unwrap()),
            ..OpenAiConfig::default()
        };
        let body = generation(&config, "m", &request(), 4, 9);
        assert_eq!(body["max_tokens"], 150);
        assert_eq!(body["n"], 4);
        assert_eq!(body["seed"], 9);
        assert_eq!(body["grammar"], "root ::= \"x\"");
        assert_eq!(body["top_k"], 5);
        assert_eq!(body["foo"]["bar"], true);
        assert_eq!(body["messages"][0]["role"], "system");
        config.grammar = GrammarField::Guided;
        let body = generation(&config, "m", &request(), 1, 9);
        assert!(body.get("n").is_none() && body.get("grammar").is_none());
        assert_eq!(body["guided_grammar"], "root ::= \"x\"");
    }
}
