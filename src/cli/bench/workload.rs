//! `ponder bench engine --workload fix`: the engine's requests of one fix, run twice through the
//! llama.cpp engine — with its prefix cache, and with the cache emptied before every request (as
//! an engine without one works) — and compared: prompt tokens decoded, wall time, peak KV cells,
//! and whether the answers came out the same.
//!
//! The shape of a fix at budget 4: a shared prefix of about 2k tokens (system prompt, issue,
//! repository view), four stages of four candidates each carrying the earlier stages' answers,
//! PRM judging of every candidate, and two tool rounds for each localize candidate.

use std::time::Instant;

use anyhow::Result;

use crate::event::{Control, Stage};
use crate::model::llama::LlamaEngine;
use crate::model::{
    Engine, GenerateRequest, Generation, Judge, JudgeRequest, Message, Sampling, TokenSink,
};

/// What one run of the workload did.
#[derive(Debug, Clone, Default)]
pub struct FixFigures {
    pub requests: u32,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub seconds: f64,
    pub peak_cells: u64,
    /// Seconds in llama.cpp's decode and in ponder's loop.
    pub decode_seconds: f64,
    pub loop_seconds: f64,
    /// Every candidate's answer, in order, to compare the two runs.
    pub answers: Vec<String>,
}

struct Quiet;

impl TokenSink for Quiet {
    fn token(&mut self, _: u32, _: crate::event::Channel, _: &str) {}
}

/// Text of about `tokens` tokens of this model: a repository view.
fn repository_view(engine: &LlamaEngine, tokens: u32) -> String {
    let mut text = String::from("# Repository files\n\n");
    let mut i = 0;
    while engine
        .prompt_tokens(&[Message::user(text.clone())])
        .unwrap_or(u32::MAX)
        < tokens
    {
        text.push_str(&format!(
            "- src/pkg_{}/module_{}.py: def load_{i}(path), class Reader{}, parse_{}(text)\n",
            i % 7,
            i % 13,
            i % 5,
            i * 3
        ));
        i += 1;
    }
    text
}

/// Runs the fix-shaped workload; with `cache` false the engine's cache is emptied before every
/// request.
pub fn run_fix(
    engine: &mut LlamaEngine,
    cache: bool,
    prefix_tokens: u32,
    think: u32,
    answer: u32,
) -> Result<FixFigures> {
    let system = Message::system(
        "You are ponder, fixing an issue in a repository. Think step by step inside <think>, then \
         answer exactly in the format asked for. Be brief.",
    );
    let issue = "# Issue: the config loader fails on an empty file\n\nLoading an empty \
                 config.toml raises TypeError instead of returning the defaults. Expected: an \
                 empty file means every setting keeps its default.";
    let repo = repository_view(engine, prefix_tokens);
    engine.slots().clear();
    engine.slots().reset_stats();
    let control = Control::new();
    let mut figures = FixFigures::default();
    let mut earlier = String::new();
    let started = Instant::now();
    let tasks = [
        (
            Stage::Understand,
            "Which files must change? Answer a JSON list of paths.",
        ),
        (
            Stage::Localize,
            "Where exactly? Call tools, or answer locations as JSON.",
        ),
        (Stage::Patch, "Answer the edit as SEARCH/REPLACE blocks."),
        (
            Stage::Verify,
            "Write a reproduction test as one Python file.",
        ),
    ];
    for (index, (stage, task)) in tasks.into_iter().enumerate() {
        let messages = vec![
            system.clone(),
            Message::user(format!("{issue}\n\n{repo}\n{earlier}\n# Task\n\n{task}")),
        ];
        let request = |messages: Vec<Message>, n: u32, seed: u64| GenerateRequest {
            stage,
            messages,
            n,
            think_budget: think,
            answer_budget: answer,
            sampling: Sampling {
                seed,
                ..Sampling::default()
            },
            stop: Vec::new(),
            grammar: None,
            round: 1,
            think_style: Default::default(),
        };
        let seed = 1000 * index as u64;
        let mut generations: Vec<Generation> = {
            if !cache {
                engine.slots().clear();
            }
            figures.requests += 1;
            engine.generate(&request(messages.clone(), 4, seed), &mut Quiet, &control)?
        };
        if stage == Stage::Localize {
            // Two tool rounds: each candidate's transcript grows by its answer and the results.
            for round in 0..2 {
                for g in &mut generations {
                    let mut transcript = messages.clone();
                    transcript.push(Message::assistant(g.answer.clone()));
                    transcript.push(Message::user(format!(
                        "Tool results:\n\nsearch_method(load_{round}):\nsrc/pkg_{round}/module_1.py \
                         lines 10-40: def load_{round}(path):\n    text = open(path).read()\n    \
                         return parse(text)\n\nCall more tools, or answer the locations."
                    )));
                    if !cache {
                        engine.slots().clear();
                    }
                    figures.requests += 1;
                    let next = engine
                        .generate(
                            &request(transcript, 1, seed + 100 * (round + 1) + u64::from(g.beam)),
                            &mut Quiet,
                            &control,
                        )?
                        .into_iter()
                        .next();
                    if let Some(next) = next {
                        g.answer = next.answer;
                    }
                }
            }
        }
        let prompts = generations
            .iter()
            .map(|g| {
                vec![
                    system.clone(),
                    Message::user(format!(
                        "{issue}\n\n# Proposed answer\n\n{}\n\n# Question\n\nIs this answer \
                         right? Answer yes or no.",
                        g.answer
                    )),
                ]
            })
            .collect();
        if !cache {
            engine.slots().clear();
        }
        figures.requests += 1;
        let scores = engine.judge(
            &JudgeRequest {
                stage,
                judge: Judge::Prm,
                prompts,
                answers: generations.iter().map(|g| g.answer.clone()).collect(),
            },
            &control,
        )?;
        let best = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        if let Some(g) = generations.get(best) {
            earlier.push_str(&format!("\n# {} answer\n\n{}\n", stage.name(), g.answer));
        }
        figures
            .answers
            .extend(generations.into_iter().map(|g| g.answer));
    }
    figures.seconds = started.elapsed().as_secs_f64();
    let stats = engine.slots().stats().clone();
    figures.prompt_tokens = stats.prompt_tokens;
    figures.cached_tokens = stats.cached_tokens;
    figures.peak_cells = stats.peak_cells;
    figures.decode_seconds = stats.decode_seconds;
    figures.loop_seconds = stats.loop_seconds;
    Ok(figures)
}

/// What the serve workload measured: completion tokens and seconds, at once and in turn.
#[derive(Debug, Clone, Default)]
pub struct ServeFigures {
    pub concurrent_tokens: u64,
    pub concurrent_seconds: f64,
    pub sequential_tokens: u64,
    pub sequential_seconds: f64,
}

/// One non-streamed chat completion over loopback; its completion tokens.
fn complete(addr: std::net::SocketAddr, body: &str) -> Result<u64> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    write!(
        stream,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let reply = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let value: serde_json::Value = serde_json::from_str(reply)
        .map_err(|e| anyhow::anyhow!("the server's answer is not JSON ({e}): {reply}"))?;
    value["usage"]["completion_tokens"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("no usage in {value}"))
}

/// `ponder serve` in process: `requests` requests sharing a `prefix_tokens`-token system
/// prompt, all at once and then one after the other.
pub fn run_serve(
    engine: LlamaEngine,
    requests: u32,
    prefix_tokens: u32,
    max_tokens: u32,
) -> Result<ServeFigures> {
    let system = repository_view(&engine, prefix_tokens);
    let server = crate::serve::Server::start(
        engine,
        crate::serve::ServeOptions {
            addr: "127.0.0.1:0".parse()?,
            api_key: None,
            model_name: "bench".into(),
            limits: crate::serve::Limits::default(),
        },
    )?;
    let addr = server.addr;
    let body = |i: u32| {
        serde_json::json!({
            "messages": [
                { "role": "system", "content": system },
                { "role": "user", "content": format!("Question {i}: which module loads the config?") },
            ],
            "max_tokens": max_tokens,
            "seed": 100 + i,
        })
        .to_string()
    };
    // The shared prefix is read once before either run, so both start from the same cache.
    complete(addr, &body(0))?;
    let started = Instant::now();
    let handles: Vec<_> = (1..=requests)
        .map(|i| {
            let body = body(i);
            std::thread::spawn(move || complete(addr, &body))
        })
        .collect();
    let mut figures = ServeFigures::default();
    for handle in handles {
        figures.concurrent_tokens += handle
            .join()
            .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
    }
    figures.concurrent_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for i in 1..=requests {
        figures.sequential_tokens += complete(addr, &body(i))?;
    }
    figures.sequential_seconds = started.elapsed().as_secs_f64();
    Ok(figures)
}
