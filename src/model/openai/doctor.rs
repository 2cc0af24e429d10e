//! `ponder doctor --server URL`: is the server there, which models it lists, and which of the
//! features ponder uses it really honours — each one tried with a tiny request, not assumed:
//! streaming (and where thinking arrives), `n`, `logprobs` and grammars.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::OpenAiConfig;
use super::http::Http;
use super::retry::{Backoff, TokioSleeper};
use super::sse::SseDecoder;
use super::wire::{Chunk, Completion};

/// Probes the server of `config` and writes what works; false when it cannot be used at all.
pub fn report(config: &OpenAiConfig, out: &mut dyn Write) -> Result<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the doctor's runtime")?;
    let http = Http::new(
        config.api_root()?,
        config.api_key()?,
        Backoff {
            max_retries: 0,
            base: std::time::Duration::ZERO,
            max: std::time::Duration::ZERO,
        },
        Arc::new(TokioSleeper),
        config.timeout(),
    )?;
    runtime.block_on(probe(config, &http, out))
}

async fn probe(config: &OpenAiConfig, http: &Http, out: &mut dyn Write) -> Result<bool> {
    writeln!(out, "server      {}", super::config::redacted(&http.root))?;
    match &config.api_key_env {
        Some(var) => writeln!(out, "api key     from ${var} (not shown)")?,
        None => writeln!(
            out,
            "api key     none (set api_key_env in [openai] if it needs one)"
        )?,
    }
    let models = match http.models().await {
        Ok(models) => models,
        Err(err) => {
            writeln!(out, "reachable   ✗ {err:#}")?;
            return Ok(false);
        }
    };
    writeln!(
        out,
        "reachable   ✓ lists {} model(s): {}",
        models.len(),
        models.join(", ")
    )?;
    let model = match (&config.model, models.first()) {
        (Some(model), _) => {
            if !models.contains(model) {
                writeln!(out, "model       ✗ {model} is not among the listed models")?;
            }
            model.clone()
        }
        (None, Some(first)) => first.clone(),
        (None, None) => {
            writeln!(out, "model       ✗ none listed: set model in [openai]")?;
            return Ok(false);
        }
    };
    writeln!(out, "model       {model}")?;
    let question = json!([{"role": "user", "content": "Is 2 an even number? Answer yes or no."}]);

    // Streaming with n = 2.
    let body = json!({
        "model": model, "messages": question, "stream": true, "n": 2, "max_tokens": 16,
        "temperature": 0.7, "stream_options": {"include_usage": true},
    });
    let mut usable = true;
    match stream_summary(http, &body).await {
        Ok(s) => {
            let thinking = match (s.reasoning, s.inline_think) {
                (true, _) => "thinking arrives as reasoning_content",
                (false, true) => "thinking arrives inline in <think> tags",
                (false, false) => "no thinking seen in 16 tokens",
            };
            writeln!(
                out,
                "streaming   ✓ {} chunks, [DONE] {}, usage {}; {thinking}",
                s.chunks,
                if s.done { "seen" } else { "missing" },
                if s.usage { "reported" } else { "not reported" }
            )?;
            if s.choices >= 2 {
                writeln!(out, "n           ✓ 2 choices in one request")?;
            } else {
                writeln!(
                    out,
                    "n           ✗ ignored ({} choice): ponder asks candidates one by one",
                    s.choices
                )?;
            }
        }
        Err(err) => {
            usable = false;
            writeln!(out, "streaming   ✗ {err:#}")?;
        }
    }

    // Logprobs of the first token.
    let body = json!({
        "model": model, "messages": question, "stream": false, "max_tokens": 1,
        "temperature": 0.0, "logprobs": true, "top_logprobs": config.top_logprobs,
    });
    match completion(http, &body).await {
        Ok(c) => {
            let alternatives = c
                .choices
                .first()
                .and_then(|c| c.logprobs.as_ref())
                .and_then(|l| l.content.as_ref())
                .and_then(|c| c.first())
                .map(|t| t.top_logprobs.len());
            match alternatives {
                Some(n) if n > 0 => match super::judge::from_logprobs(&c, &http.root) {
                    Ok(p) => writeln!(
                        out,
                        "logprobs    ✓ {n} alternatives; P(yes) that 2 is even = {p:.3}"
                    )?,
                    Err(err) => writeln!(out, "logprobs    ✓ {n} alternatives, but {err:#}")?,
                },
                _ => writeln!(
                    out,
                    "logprobs    ✗ not returned: judging needs them; set judge = \"text\" in \
                     [openai] to read yes/no answers instead (scores 0 or 1)"
                )?,
            }
        }
        Err(err) => writeln!(out, "logprobs    ✗ {err:#}")?,
    }

    // A grammar that allows one answer only.
    let mut body = json!({
        "model": model, "messages": question, "stream": false, "max_tokens": 8,
        "temperature": 1.0, "think_budget": 0,
    });
    let grammar = "root ::= \"maybe\"";
    let field = match config.grammar {
        super::GrammarField::Gbnf => Some(("grammar", json!(grammar))),
        super::GrammarField::Guided => Some(("guided_grammar", json!(grammar))),
        super::GrammarField::Structured => {
            Some(("structured_outputs", json!({ "grammar": grammar })))
        }
        super::GrammarField::None => None,
    };
    match field {
        None => writeln!(
            out,
            "grammar     - not used (grammar = \"none\" in [openai])"
        )?,
        Some((field, value)) => {
            body[field] = value;
            match completion(http, &body).await {
                Ok(c) => {
                    let answer = c
                        .choices
                        .first()
                        .and_then(|c| c.message.content.clone())
                        .unwrap_or_default();
                    if answer.trim() == "maybe" {
                        writeln!(out, "grammar     ✓ `{field}` constrains the answer")?;
                    } else {
                        writeln!(
                            out,
                            "grammar     ✗ `{field}` was ignored (answered {:?}): answers are \
                             unconstrained; try grammar = \"structured\" or \"guided\" (vLLM) \
                             or \"gbnf\" (llama-server)",
                            answer.chars().take(40).collect::<String>()
                        )?;
                    }
                }
                Err(err) => writeln!(out, "grammar     ✗ `{field}`: {err:#}")?,
            }
        }
    }
    Ok(usable)
}

/// What one streamed probe showed.
struct StreamSummary {
    chunks: usize,
    choices: usize,
    done: bool,
    usage: bool,
    reasoning: bool,
    inline_think: bool,
}

async fn stream_summary(http: &Http, body: &Value) -> Result<StreamSummary> {
    let response = http.post("chat/completions", body).await?;
    let mut bytes = response.bytes_stream();
    let mut decoder = SseDecoder::new();
    let mut s = StreamSummary {
        chunks: 0,
        choices: 0,
        done: false,
        usage: false,
        reasoning: false,
        inline_think: false,
    };
    let mut seen = std::collections::BTreeSet::new();
    while let Some(piece) = tokio::time::timeout(http.timeout, bytes.next())
        .await
        .context("the stream went silent")?
    {
        for data in decoder.push(&piece.context("the stream broke")?) {
            if data.trim() == "[DONE]" {
                s.done = true;
                continue;
            }
            let chunk: Chunk = serde_json::from_str(&data)
                .with_context(|| format!("not a chat completion chunk: {data}"))?;
            s.chunks += 1;
            s.usage |= chunk.usage.is_some();
            for choice in chunk.choices {
                seen.insert(choice.index);
                s.reasoning |= choice.delta.thinking().is_some();
                s.inline_think |= choice
                    .delta
                    .content
                    .as_deref()
                    .is_some_and(|c| c.contains("<think>"));
            }
        }
    }
    s.choices = seen.len();
    Ok(s)
}

async fn completion(http: &Http, body: &Value) -> Result<Completion> {
    let response = http.post("chat/completions", body).await?;
    let text = response.text().await.context("the answer broke off")?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "not a chat completion: {}",
            text.chars().take(200).collect::<String>()
        )
    })
}
