//! The OpenAI-compatible engine against recorded SSE transcripts in the formats vLLM,
//! llama-server and Ollama emit (`tests/fixtures/sse/`), replayed by a tiny local server that
//! also injects faults: rate limits, server errors, streams cut short, a client hanging up.
//! Retries wait through a recording sleeper, so nothing here sleeps for real.

mod support;

use std::sync::Arc;
use std::time::Duration;

use ponder::event::{Beam, Channel, Command, Control, Stage};
use ponder::model::openai::retry::RecordingSleeper;
use ponder::model::openai::{JudgeMode, NMode, OpenAiConfig, OpenAiEngine};
use ponder::model::{
    Engine, GenerateRequest, Generation, Judge, JudgeRequest, Message, Sampling, TokenSink,
};
use support::Recorder;
use support::replay::{ReplayServer, Reply, fixture};

fn config(server: &ReplayServer) -> OpenAiConfig {
    OpenAiConfig {
        base_url: Some(server.url.clone()),
        model: Some("test-model".into()),
        backoff_ms: 100,
        max_backoff_ms: 1000,
        ..OpenAiConfig::default()
    }
}

fn engine(config: OpenAiConfig) -> (OpenAiEngine, RecordingSleeper) {
    let sleeper = RecordingSleeper::default();
    let engine = OpenAiEngine::with_sleeper(config, Arc::new(sleeper.clone())).unwrap();
    (engine, sleeper)
}

fn request(n: u32) -> GenerateRequest {
    GenerateRequest {
        stage: Stage::Understand,
        messages: vec![
            Message::system("You find the files that matter."),
            Message::user("Loading an empty config raises TypeError."),
        ],
        n,
        think_budget: 64,
        answer_budget: 64,
        sampling: Sampling::default(),
        stop: Vec::new(),
        grammar: None,
        round: 1,
        think_style: Default::default(),
    }
}

fn generate(engine: &mut OpenAiEngine, n: u32) -> (anyhow::Result<Vec<Generation>>, Recorder) {
    let mut sink = Recorder::default();
    let out = engine.generate(&request(n), &mut sink, &Control::new());
    (out, sink)
}

fn texts(g: &Generation) -> (&str, &str) {
    (g.think.as_str(), g.answer.as_str())
}

#[test]
fn vllm_reasoning_content_streams_two_candidates_from_one_request() {
    let server = ReplayServer::start(vec![Reply::Sse(fixture("vllm_reasoning.sse"))]);
    let (mut engine, _) = engine(config(&server));
    let (out, sink) = generate(&mut engine, 2);
    let out = out.unwrap();
    assert_eq!(
        texts(&out[0]),
        ("The loader reads config.py.", "[\"minicfg/loader.py\"]")
    );
    assert_eq!(
        texts(&out[1]),
        ("Empty files parse to None.", "[\"minicfg/parse.py\"]")
    );
    for g in &out {
        assert_eq!(sink.text(g.beam, Channel::Think), g.think);
        assert_eq!(sink.text(g.beam, Channel::Answer), g.answer);
    }
    assert_eq!((out[0].think_tokens, out[0].answer_tokens), (2, 2));
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let body = &seen[0].body;
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(body["n"], 2);
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["max_tokens"], 128);
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["messages"][1]["role"], "user");
}

#[test]
fn llama_server_chunks_with_comments_crlf_timings_and_finish_reasons() {
    let server = ReplayServer::start(vec![Reply::Sse(fixture("llama_server.sse"))]);
    let (mut engine, _) = engine(config(&server));
    let (out, _) = generate(&mut engine, 2);
    let out = out.unwrap();
    assert_eq!(texts(&out[0]), ("Check the traceback.", "yes, é"));
    assert_eq!(texts(&out[1]), ("Look at the tests.", "no"));
}

#[test]
fn ollama_inline_think_and_an_ignored_n_is_made_up_one_by_one() {
    let server = ReplayServer::start(vec![
        Reply::Sse(fixture("ollama_inline.sse")),
        Reply::Sse(fixture("ollama_second.sse")),
        Reply::Sse(fixture("ollama_inline.sse")),
        Reply::Sse(fixture("ollama_second.sse")),
    ]);
    let (mut engine, _) = engine(config(&server));
    let (out, sink) = generate(&mut engine, 2);
    let out = out.unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(
        texts(&out[0]),
        ("The stack trace names load().\n", "[\"minicfg/loader.py\"]")
    );
    assert_eq!(
        texts(&out[1]),
        ("Maybe the parser is at fault.\n", "[\"minicfg/parse.py\"]")
    );
    assert_eq!(sink.text(1, Channel::Think), out[1].think);
    let seen = server.seen();
    assert_eq!(seen[0].body["n"], 2);
    // Candidate 1 asked alone, with its own seed.
    assert!(seen[1].body.get("n").is_none());
    assert_eq!(
        seen[1].body["seed"].as_u64().unwrap(),
        seen[0].body["seed"].as_u64().unwrap() + 1
    );
    // The engine remembers: the next request does not use n at all.
    let (again, _) = generate(&mut engine, 2);
    assert_eq!(again.unwrap().len(), 2);
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    assert!(seen[2..].iter().all(|s| s.body.get("n").is_none()));
}

#[test]
fn a_rate_limit_is_waited_out_as_the_server_asks() {
    let server = ReplayServer::start(vec![
        Reply::Status(429, r#"{"error":{"message":"slow down"}}"#.into(), Some(2)),
        Reply::Sse(fixture("vllm_reasoning.sse")),
    ]);
    let (mut engine, sleeper) = engine(OpenAiConfig {
        max_backoff_ms: 5000,
        ..config(&server)
    });
    let (out, _) = generate(&mut engine, 2);
    assert_eq!(out.unwrap().len(), 2);
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(2)]);
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn server_errors_are_retried_with_backoff_then_reported() {
    let error = || Reply::Status(503, r#"{"error":{"message":"overloaded"}}"#.into(), None);
    let server = ReplayServer::start(vec![error(), error(), error(), error()]);
    let (mut engine, sleeper) = engine(config(&server));
    let (out, _) = generate(&mut engine, 1);
    let err = format!("{:#}", out.unwrap_err());
    assert!(err.contains("503") && err.contains("overloaded"), "{err}");
    assert!(err.contains("gave up after 3 retries"), "{err}");
    let ms = Duration::from_millis;
    assert_eq!(sleeper.waits(), vec![ms(100), ms(200), ms(400)]);
}

#[test]
fn a_bad_request_is_not_retried_and_says_what_to_do() {
    let server = ReplayServer::start(vec![Reply::Status(
        400,
        r#"{"error":{"message":"unknown field: grammar"}}"#.into(),
        None,
    )]);
    let (mut engine, sleeper) = engine(config(&server));
    let (out, _) = generate(&mut engine, 1);
    let err = format!("{:#}", out.unwrap_err());
    assert!(err.contains("unknown field: grammar"), "{err}");
    assert!(err.contains("turn that feature off in [openai]"), "{err}");
    assert!(sleeper.waits().is_empty());
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn a_stream_cut_mid_answer_is_retried_once_without_repeating_shown_text() {
    let full = fixture("vllm_reasoning.sse");
    // Cut after both candidates have thought a little and candidate 0 began its answer.
    let server = ReplayServer::start(vec![Reply::Cut(full.clone(), 6), Reply::Sse(full)]);
    let (mut engine, _) = engine(config(&server));
    let (out, sink) = generate(&mut engine, 2);
    let out = out.unwrap();
    assert_eq!(out[0].answer, "[\"minicfg/loader.py\"]");
    assert_eq!(out[1].answer, "[\"minicfg/parse.py\"]");
    // The retry replays the same text: nothing is shown twice.
    assert_eq!(sink.text(0, Channel::Think), out[0].think);
    assert_eq!(sink.text(0, Channel::Answer), out[0].answer);
    assert_eq!(server.seen().len(), 2);
    assert_eq!(server.seen()[1].body["n"], 2);
}

#[test]
fn a_stream_cut_twice_fails_that_candidate_only() {
    let vllm_one = fixture("ollama_second.sse");
    let server = ReplayServer::start(vec![
        Reply::Sse(fixture("ollama_inline.sse")),
        Reply::Cut(vllm_one.clone(), 3),
        Reply::Cut(vllm_one, 3),
    ]);
    // One request per candidate, one at a time, so the replies meet the candidates in order.
    let (mut engine, _) = engine(OpenAiConfig {
        n: NMode::Never,
        max_concurrent: 1,
        ..config(&server)
    });
    let (out, sink) = generate(&mut engine, 2);
    let out = out.unwrap();
    assert_eq!(out[0].answer, "[\"minicfg/loader.py\"]");
    assert_eq!(out[1].answer, "");
    assert!(out[1].think.contains("cut twice"), "{}", out[1].think);
    assert!(sink.text(1, Channel::Think).contains("has no answer"));
    assert_eq!(server.seen().len(), 3);
}

#[test]
fn when_every_candidate_fails_the_stage_fails() {
    let full = fixture("vllm_reasoning.sse");
    let server = ReplayServer::start(vec![Reply::Cut(full.clone(), 2), Reply::Cut(full, 2)]);
    let (mut engine, _) = engine(config(&server));
    let (out, _) = generate(&mut engine, 2);
    let err = format!("{:#}", out.unwrap_err());
    assert!(
        err.contains("every candidate of the understand stage failed"),
        "{err}"
    );
    assert!(
        err.contains("closed the stream before it finished"),
        "{err}"
    );
}

/// Aborts on the first piece it receives.
struct AbortOnFirst {
    control: Arc<Control>,
    pieces: usize,
}

impl TokenSink for AbortOnFirst {
    fn token(&mut self, _: Beam, _: Channel, _: &str) {
        self.pieces += 1;
        self.control.send(Command::Abort);
    }
}

#[test]
fn abort_hangs_up_on_the_server_at_once() {
    let server = ReplayServer::start(vec![Reply::Hang(fixture("vllm_reasoning.sse"), 3)]);
    let (mut engine, _) = engine(config(&server));
    let control = Arc::new(Control::new());
    let mut sink = AbortOnFirst {
        control: control.clone(),
        pieces: 0,
    };
    let err = engine
        .generate(&request(2), &mut sink, &control)
        .unwrap_err();
    assert!(err.to_string().contains("aborted"), "{err:#}");
    assert!(sink.pieces >= 1);
    // The server sees the connection closed (the wait is only a guard against a hang).
    server
        .hangups
        .recv_timeout(Duration::from_secs(20))
        .expect("the client kept the connection open after the abort");
}

fn judge_request() -> JudgeRequest {
    JudgeRequest {
        stage: Stage::Patch,
        judge: Judge::Prm,
        prompts: vec![vec![Message::user(
            "Is this patch right? Answer yes or no.",
        )]],
        answers: vec!["patch".into()],
    }
}

#[test]
fn judging_reads_p_yes_from_top_logprobs() {
    let json = String::from_utf8(fixture("llama_server_logprobs.json")).unwrap();
    let server = ReplayServer::start(vec![Reply::Json(json)]);
    let (mut engine, _) = engine(config(&server));
    let scores = engine.judge(&judge_request(), &Control::new()).unwrap();
    // Yes 0.7 + yes 0.1 against No 0.2.
    assert!((scores[0] - 0.8).abs() < 1e-9, "{scores:?}");
    let body = &server.seen()[0].body;
    assert_eq!(body["logprobs"], true);
    assert_eq!(body["max_tokens"], 1);
    assert_eq!(body["top_logprobs"], 20);
}

#[test]
fn a_server_without_logprobs_is_explained_and_text_judging_is_the_marked_fallback() {
    let plain = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"No."}}]}"#;
    let server = ReplayServer::start(vec![Reply::Json(plain.into()), Reply::Json(plain.into())]);
    let (mut strict, _) = engine(config(&server));
    let err = format!(
        "{:#}",
        strict.judge(&judge_request(), &Control::new()).unwrap_err()
    );
    assert!(
        err.contains("returned no logprobs") && err.contains("judge = \"text\""),
        "{err}"
    );
    let (mut lenient, _) = engine(OpenAiConfig {
        judge: JudgeMode::Text,
        ..config(&server)
    });
    assert_eq!(
        lenient.judge(&judge_request(), &Control::new()).unwrap(),
        vec![0.0]
    );
    assert!(lenient.info().description.contains("not probabilities"));
}

#[test]
fn the_api_key_is_sent_but_never_recorded() {
    let server = ReplayServer::start(vec![Reply::Sse(fixture("vllm_reasoning.sse"))]);
    // Cargo sets CARGO_MANIFEST_DIR for test runs: a distinctive stand-in for a key variable.
    let key = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let (mut engine, _) = engine(OpenAiConfig {
        api_key_env: Some("CARGO_MANIFEST_DIR".into()),
        ..config(&server)
    });
    generate(&mut engine, 2).0.unwrap();
    assert_eq!(
        server.seen()[0].authorization.as_deref(),
        Some(format!("Bearer {key}").as_str())
    );
    let journaled = serde_json::to_string(&engine.info()).unwrap();
    assert!(!journaled.contains(&key), "{journaled}");
    assert!(journaled.contains("openai") && journaled.contains("test-model"));
}

#[test]
fn no_server_listening_is_a_clear_error_after_the_retries() {
    // Bind and drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (mut engine, sleeper) = engine(OpenAiConfig {
        base_url: Some(format!("http://127.0.0.1:{port}")),
        model: Some("m".into()),
        max_retries: 2,
        ..OpenAiConfig::default()
    });
    let err = format!("{:#}", generate(&mut engine, 1).0.unwrap_err());
    assert!(err.contains("cannot reach the server"), "{err}");
    assert_eq!(sleeper.waits().len(), 2);
}

fn with_grammar(n: u32) -> GenerateRequest {
    let mut req = request(n);
    req.grammar = Some(ponder::answer::grammar::json_list_of(
        &["minicfg/loader.py".to_string()],
        1,
    ));
    req
}

#[test]
fn an_answer_off_the_grammar_is_asked_for_once_more() {
    let server = ReplayServer::start(vec![
        Reply::Sse(fixture("vllm_reasoning.sse")),
        Reply::Sse(fixture("ollama_inline.sse")),
    ]);
    let (mut engine, _) = engine(config(&server));
    let mut sink = Recorder::default();
    let out = engine
        .generate(&with_grammar(2), &mut sink, &Control::new())
        .unwrap();
    assert_eq!(out[0].answer, "[\"minicfg/loader.py\"]");
    // Candidate 1 answered parse.py, which the grammar does not allow: asked again, alone.
    assert_eq!(out[1].answer, "[\"minicfg/loader.py\"]");
    assert!(
        sink.text(1, Channel::Think)
            .contains("did not follow the grammar")
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[0].body["grammar"]
            .as_str()
            .unwrap()
            .contains("loader.py")
    );
    assert!(seen[1].body.get("n").is_none());
    assert_eq!(
        seen[1].body["seed"].as_u64().unwrap(),
        seen[0].body["seed"].as_u64().unwrap() + 1
    );
}

#[test]
fn an_answer_off_the_grammar_twice_is_kept_for_the_pipeline_to_judge() {
    let server = ReplayServer::start(vec![
        Reply::Sse(fixture("ollama_second.sse")),
        Reply::Sse(fixture("ollama_second.sse")),
    ]);
    let (mut engine, _) = engine(config(&server));
    let (out, _) = {
        let mut sink = Recorder::default();
        let out = engine.generate(&with_grammar(1), &mut sink, &Control::new());
        (out, sink)
    };
    assert_eq!(out.unwrap()[0].answer, "[\"minicfg/parse.py\"]");
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn credentials_in_the_server_address_are_never_recorded_or_shown() {
    let server = ReplayServer::start(vec![Reply::Status(
        400,
        r#"{"error":{"message":"no"}}"#.into(),
        None,
    )]);
    let url = server.url.replace("http://", "http://alice:hunter2@");
    let (mut engine, _) = engine(OpenAiConfig {
        base_url: Some(url),
        ..config(&server)
    });
    let journaled = serde_json::to_string(&engine.info()).unwrap();
    assert!(!journaled.contains("hunter2"), "{journaled}");
    let err = format!("{:#}", generate(&mut engine, 1).0.unwrap_err());
    assert!(!err.contains("hunter2") && err.contains("***@"), "{err}");
    // reqwest sent them as basic auth.
    assert!(
        server.seen()[0]
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Basic ")),
        "{:?}",
        server.seen()[0].authorization
    );
}
