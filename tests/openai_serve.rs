//! The OpenAI-compatible client against `ponder serve` running a tiny random-weight GGUF on
//! loopback: streamed candidates equal to the local engine's, `n`, logprobs equal to the local
//! model's, grammars, the API key, `ponder doctor --server`, cancellation, and a server
//! process killed mid-stream.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::{Arc, Mutex};

use ponder::event::{Beam, Channel, Command, Control, Stage};
use ponder::model::llama::{LlamaConfig, LlamaEngine};
use ponder::model::openai::judge::p_yes;
use ponder::model::openai::retry::RecordingSleeper;
use ponder::model::openai::wire::TopLogprob;
use ponder::model::openai::{OpenAiConfig, OpenAiEngine};
use ponder::model::{
    Engine, GenerateRequest, Generation, Judge, JudgeRequest, Message, Sampling, TokenSink,
};
use ponder::serve::{Limits, ServeOptions, Server};
use support::Recorder;
use support::gguf::{Arch, Synth};

fn tiny() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-qwen2.gguf");
    Synth::tiny(Arch::Qwen2).write(&path).unwrap();
    (dir, path)
}

fn llama(path: &Path) -> LlamaEngine {
    LlamaEngine::load(LlamaConfig {
        model: Some(path.to_path_buf()),
        n_ctx: 2048,
        n_threads: Some(1),
        ..LlamaConfig::default()
    })
    .unwrap()
}

fn serve(path: &Path, api_key: Option<&str>) -> Server {
    Server::start(
        llama(path),
        ServeOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            api_key: api_key.map(str::to_string),
            model_name: "tiny".into(),
            limits: Limits::default(),
        },
    )
    .unwrap()
}

fn client_config(url: &str) -> OpenAiConfig {
    OpenAiConfig {
        base_url: Some(url.to_string()),
        backoff_ms: 10,
        ..OpenAiConfig::default()
    }
}

fn client(url: &str) -> OpenAiEngine {
    OpenAiEngine::with_sleeper(client_config(url), Arc::new(RecordingSleeper::default())).unwrap()
}

fn request(n: u32, think: u32, answer: u32) -> GenerateRequest {
    GenerateRequest {
        stage: Stage::Localize,
        messages: vec![
            Message::system("You localize faults."),
            Message::user("The config loader fails on an empty file. Where?"),
        ],
        n,
        think_budget: think,
        answer_budget: answer,
        sampling: Sampling {
            temperature: 0.9,
            seed: 11,
            ..Sampling::default()
        },
        stop: Vec::new(),
        grammar: None,
        round: 1,
        think_style: Default::default(),
    }
}

fn run(engine: &mut dyn Engine, request: &GenerateRequest) -> (Vec<Generation>, Recorder) {
    let mut sink = Recorder::default();
    let out = engine
        .generate(request, &mut sink, &Control::new())
        .unwrap();
    (out, sink)
}

#[test]
fn streamed_candidates_equal_the_local_engines() {
    let (_dir, path) = tiny();
    let server = serve(&path, None);
    let mut remote = client(&server.url());
    assert_eq!(remote.model(), "tiny");
    let mut local = llama(&path);
    let req = request(3, 12, 12);
    let (over_http, sink) = run(&mut remote, &req);
    let (in_process, _) = run(&mut local, &req);
    assert_eq!(over_http.len(), 3);
    for (a, b) in over_http.iter().zip(&in_process) {
        assert_eq!((a.beam, &a.think, &a.answer), (b.beam, &b.think, &b.answer));
    }
    assert!(over_http.iter().any(|g| !g.think.is_empty()));
    // Thinking arrived (as reasoning_content) and streamed piece by piece.
    let think_pieces = sink
        .pieces
        .iter()
        .filter(|(_, c, _)| *c == Channel::Think)
        .count();
    assert!(think_pieces > 3, "{think_pieces}");
    // Different seeds per candidate: not all the same.
    assert!(
        over_http
            .iter()
            .any(|g| (&g.think, &g.answer) != (&over_http[0].think, &over_http[0].answer))
    );
}

#[test]
fn judging_over_http_reads_the_served_model_logprobs() {
    let (_dir, path) = tiny();
    let server = serve(&path, None);
    let mut remote = OpenAiEngine::with_sleeper(
        OpenAiConfig {
            // The tiny vocabulary has ~300 tokens: ask for all of them.
            top_logprobs: 1000,
            ..client_config(&server.url())
        },
        Arc::new(RecordingSleeper::default()),
    )
    .unwrap();
    let mut local = llama(&path);
    let request = JudgeRequest {
        stage: Stage::Patch,
        judge: Judge::Prm,
        prompts: ["a.py", "b.py", "c.py"]
            .iter()
            .map(|f| {
                vec![
                    Message::system("Answer yes or no."),
                    Message::user(format!("Is the fault in {f}?")),
                ]
            })
            .collect(),
        answers: vec!["a".into(), "b".into(), "c".into()],
    };
    let over_http = remote.judge(&request, &Control::new()).unwrap();
    // The served logprobs are the local model's: P(yes) from them is the same number.
    let local_top = local
        .first_token_logprobs(&request, 1000, &Control::new())
        .unwrap();
    assert_eq!(over_http.len(), 3);
    for (score, top) in over_http.iter().zip(&local_top) {
        let alternatives: Vec<TopLogprob> = top
            .iter()
            .map(|(token, logprob)| TopLogprob {
                token: token.clone(),
                logprob: *logprob,
            })
            .collect();
        let expected = p_yes(&alternatives).unwrap();
        // The server decodes each prompt alone, the local call all three in one batch: the
        // float sums differ in the last digits.
        assert!((score - expected).abs() < 1e-5, "{score} vs {expected}");
        let mass: f64 = top.iter().map(|(_, lp)| lp.exp()).sum();
        assert!(
            (mass - 1.0).abs() < 1e-6,
            "the whole vocabulary sums to {mass}"
        );
    }
    // Different prompts, different scores: the judgement reads each prompt.
    assert!(over_http[0] != over_http[1] || over_http[1] != over_http[2]);
}

#[test]
fn grammars_constrain_served_answers() {
    let (_dir, path) = tiny();
    let server = serve(&path, None);
    let mut remote = client(&server.url());
    let mut req = request(4, 6, 8);
    req.grammar = Some("root ::= \"alpha\" | \"beta\"".into());
    let (out, _) = run(&mut remote, &req);
    assert_eq!(out.len(), 4);
    for g in &out {
        assert!(g.answer == "alpha" || g.answer == "beta", "{g:?}");
    }
}

#[test]
fn the_api_key_is_required_when_set() {
    let (_dir, path) = tiny();
    // Cargo sets CARGO_MANIFEST_DIR for test runs: the key the client reads from it.
    let key = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let server = serve(&path, Some(&key));
    let err = OpenAiEngine::connect(client_config(&server.url()))
        .err()
        .expect("connected without a key");
    let err = format!("{err:#}");
    assert!(err.contains("401") && err.contains("api_key_env"), "{err}");
    let mut remote = OpenAiEngine::connect(OpenAiConfig {
        api_key_env: Some("CARGO_MANIFEST_DIR".into()),
        ..client_config(&server.url())
    })
    .unwrap();
    let (out, _) = run(&mut remote, &request(1, 2, 2));
    assert_eq!(out.len(), 1);
}

#[test]
fn doctor_reports_what_ponder_serve_honours() {
    let (_dir, path) = tiny();
    let server = serve(&path, None);
    let mut out = Vec::new();
    let ok =
        ponder::model::openai::doctor::report(&client_config(&server.url()), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(ok, "{text}");
    for line in [
        "reachable   ✓ lists 1 model(s): tiny",
        "n           ✓ 2 choices",
        "logprobs    ✓",
        "grammar     ✓ `grammar` constrains the answer",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let mut out = Vec::new();
    let nobody = client_config("http://127.0.0.1:9");
    assert!(!ponder::model::openai::doctor::report(&nobody, &mut out).unwrap());
    assert!(String::from_utf8(out).unwrap().contains("reachable   ✗"));
}

/// A request whose answers must be 600 tokens long (the tiny model would otherwise stop at a
/// random end-of-generation token within a few dozen): far more than the few tokens the server
/// decodes before it notices its client is gone.
/// 600 tokens of letters: long, and varied enough that the loop guard does not cut it short.
fn long_answer(n: u32) -> GenerateRequest {
    let mut req = request(n, 0, 700);
    req.grammar = Some("root ::= [a-z]{600}".into());
    req
}

/// Sends Abort on the first piece.
struct AbortOnFirst {
    control: Arc<Control>,
}

impl TokenSink for AbortOnFirst {
    fn token(&mut self, _: Beam, _: Channel, _: &str) {
        self.control.send(Command::Abort);
    }
}

#[test]
fn abort_ends_the_request_and_the_server_goes_on() {
    let (_dir, path) = tiny();
    let server = serve(&path, None);
    let mut remote = client(&server.url());
    let control = Arc::new(Control::new());
    let mut sink = AbortOnFirst {
        control: control.clone(),
    };
    let err = remote
        .generate(&long_answer(2), &mut sink, &control)
        .unwrap_err();
    assert!(err.to_string().contains("aborted"), "{err:#}");
    // The server noticed the hang-up and stopped the job (waiting for its state to say so; the
    // deadline only guards against a hang).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let health = loop {
        let health = get_health(&server);
        if health["aborted"] == 1 || std::time::Instant::now() > deadline {
            break health;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(health["aborted"], 1, "{health}");
    assert_eq!(health["served"], 0, "{health}");
    // And it serves the next request.
    let (out, _) = run(&mut remote, &request(1, 2, 2));
    assert_eq!(out.len(), 1);
    assert_eq!(get_health(&server)["served"], 1);
}

/// `GET /health` by hand.
fn get_health(server: &Server) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

/// Kills the server process on the first piece.
struct KillOnFirst {
    child: Arc<Mutex<Child>>,
    pieces: usize,
}

impl TokenSink for KillOnFirst {
    fn token(&mut self, _: Beam, _: Channel, _: &str) {
        self.pieces += 1;
        let _ = self.child.lock().unwrap().kill();
    }
}

#[test]
fn a_server_killed_mid_stream_fails_the_candidate_after_one_retry() {
    let (_dir, path) = tiny();
    let mut child = Process::new(env!("CARGO_BIN_EXE_ponder"))
        .args(["serve", "--port", "0", "--model"])
        .arg(&path)
        .env("PONDER_CONFIG", path.with_extension("absent.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let sleeper = RecordingSleeper::default();
    let mut remote = OpenAiEngine::with_sleeper(
        OpenAiConfig {
            max_retries: 2,
            ..client_config(&url)
        },
        Arc::new(sleeper.clone()),
    )
    .unwrap();
    let child = Arc::new(Mutex::new(child));
    let mut sink = KillOnFirst {
        child: child.clone(),
        pieces: 0,
    };
    let err = remote
        .generate(&long_answer(1), &mut sink, &Control::new())
        .unwrap_err();
    let _ = child.lock().unwrap().wait();
    let err = format!("{err:#}");
    assert!(err.contains("every candidate"), "{err}");
    assert!(err.contains("cannot reach the server"), "{err}");
    // The cut stream was retried once; that retry found no server and backed off twice.
    assert_eq!(sleeper.waits().len(), 2);
}

#[test]
fn a_whole_session_runs_over_http_and_its_journal_holds_no_key() {
    let (dir, path) = tiny();
    let key = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let server = serve(&path, Some(&key));
    let remote = OpenAiEngine::connect(OpenAiConfig {
        api_key_env: Some("CARGO_MANIFEST_DIR".into()),
        ..client_config(&server.url())
    })
    .unwrap();
    let repo = dir.path().join("repo");
    support::fixture_repo(
        &repo,
        &[("app.py", "def load(text):\n    return text.split()\n")],
    );
    let mut settings = ponder::config::default_settings();
    settings.search = ponder::event::SearchSettings::for_budget(2);
    settings.think_budget = 8;
    settings.answer_budget = 16;
    let journal = dir.path().join("session.jsonl");
    let mut spec = support::spec(&repo, "load fails on empty text", settings);
    spec.journal = Some(journal.clone());
    let mut running = ponder::pipeline::start(spec, Box::new(remote)).unwrap();
    let mut finished = 0;
    while let Some(envelope) = running.events.blocking_recv() {
        match envelope.event {
            ponder::event::Event::CandidateFinished { .. } => finished += 1,
            ponder::event::Event::SessionFinished { .. } => break,
            _ => {}
        }
    }
    running.thread.join().unwrap();
    // The random model's answers do not parse, but its candidates streamed through the pipeline.
    assert!(finished >= 2, "{finished} candidates finished");
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.contains("\"kind\":\"openai\""), "{text}");
    assert!(text.contains(&server.url()));
    assert!(!text.contains(&key), "the API key is in the journal");
}

/// A raw HTTP exchange (so the tests see exactly what a client gets): status and body.
fn http(server: &Server, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The JSON of every `data:` line of a streamed body.
fn events(body: &str) -> Vec<serde_json::Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| d.trim() != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[test]
fn unsupported_fields_and_requests_that_cannot_fit_are_refused_with_a_400() {
    let (_dir, path) = tiny();
    let server = Server::start(
        llama(&path),
        ServeOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            api_key: None,
            model_name: "tiny".into(),
            limits: Limits {
                max_body_bytes: 4096,
                ..Limits::default()
            },
        },
    )
    .unwrap();
    let hi = r#""messages":[{"role":"user","content":"hi"}]"#;
    for (body, says) in [
        (
            format!(r#"{{{hi},"tools":[{{"type":"function","function":{{"name":"f"}}}}]}}"#),
            "tools",
        ),
        (format!(r#"{{{hi},"frobnicate":true}}"#), "frobnicate"),
        (format!(r#"{{{hi},"n":8,"max_tokens":100000}}"#), "context"),
        (format!("{{{hi},"), "JSON"),
    ] {
        let (status, text) = http(&server, "POST", "/v1/chat/completions", &body);
        assert_eq!(status, 400, "{body}: {text}");
        assert!(text.contains(says), "{body}: {text}");
    }
    let big = format!(
        r#"{{"messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(5000)
    );
    let (status, _) = http(&server, "POST", "/v1/chat/completions", &big);
    assert_eq!(status, 413);
    assert_eq!(get_health(&server)["rejected"], 1);
}

#[test]
fn completions_and_per_token_logprobs_for_every_candidate() {
    let (_dir, path) = tiny();
    let server = serve(&path, None);
    // Streamed, n = 2: every candidate's tokens come with their alternatives.
    let (status, body) = http(
        &server,
        "POST",
        "/v1/completions",
        r#"{"prompt":"def load(path):","max_tokens":6,"n":2,"logprobs":3,"stream":true,"seed":1}"#,
    );
    assert_eq!(status, 200, "{body}");
    let chunks = events(&body);
    for index in 0..2 {
        let tokens: Vec<serde_json::Value> = chunks
            .iter()
            .flat_map(|c| c["choices"].as_array().cloned().unwrap_or_default())
            .filter(|c| c["index"] == index && c["logprobs"].is_object())
            .map(|c| c["logprobs"]["top_logprobs"][0].clone())
            .collect();
        assert!(!tokens.is_empty(), "no logprobs for choice {index}: {body}");
        // Up to three alternatives (byte tokens that are not whole characters share a text key).
        assert!(
            tokens
                .iter()
                .all(|t| (1..=3).contains(&t.as_object().unwrap().len())),
            "{tokens:?}"
        );
    }
    // Whole, chat, n = 2: logprobs.content has one entry per answer token.
    let (status, body) = http(
        &server,
        "POST",
        "/v1/chat/completions",
        r#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":5,"n":2,"logprobs":true,"top_logprobs":2,"seed":3}"#,
    );
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    for choice in reply["choices"].as_array().unwrap() {
        let content = choice["logprobs"]["content"].as_array().unwrap();
        assert!(!content.is_empty() && content.len() <= 5, "{choice}");
        for entry in content {
            assert!(entry["logprob"].as_f64().unwrap() <= 0.0);
            assert_eq!(entry["top_logprobs"].as_array().unwrap().len(), 2);
        }
    }
}

#[test]
fn response_format_is_honoured_and_repeated_prompts_are_cached() {
    let (_dir, path) = tiny();
    let server = serve(&path, None);
    let body = r#"{"messages":[{"role":"system","content":"Answer in JSON."},{"role":"user","content":"Which file?"}],"max_tokens":40,"seed":2,"response_format":{"type":"json_schema","json_schema":{"name":"f","schema":{"type":"object","properties":{"file":{"enum":["a.py","b.py"]}},"required":["file"]}}}}"#;
    let (status, text) = http(&server, "POST", "/v1/chat/completions", body);
    assert_eq!(status, 200, "{text}");
    let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
    let content = reply["choices"][0]["message"]["content"].as_str().unwrap();
    let answer: serde_json::Value = serde_json::from_str(content.trim())
        .unwrap_or_else(|e| panic!("{content:?} is not JSON: {e}"));
    assert!(["a.py", "b.py"].contains(&answer["file"].as_str().unwrap()));
    assert_eq!(
        reply["usage"]["prompt_tokens_details"]["cached_tokens"], 0,
        "{reply}"
    );
    // The same prompt again: all of it but the last token is read from the cache.
    let (_, text) = http(&server, "POST", "/v1/chat/completions", body);
    let again: serde_json::Value = serde_json::from_str(&text).unwrap();
    let prompt = again["usage"]["prompt_tokens"].as_u64().unwrap();
    assert_eq!(
        again["usage"]["prompt_tokens_details"]["cached_tokens"],
        prompt - 1,
        "{again}"
    );
    assert_eq!(
        again["choices"][0]["message"],
        reply["choices"][0]["message"]
    );
}

/// Records when each piece arrived.
struct Timed {
    times: Arc<Mutex<Vec<std::time::Instant>>>,
}

impl TokenSink for Timed {
    fn token(&mut self, _: Beam, _: Channel, _: &str) {
        self.times.lock().unwrap().push(std::time::Instant::now());
    }
}

#[test]
fn two_concurrent_requests_both_stream_while_the_first_is_still_decoding() {
    let (_dir, path) = tiny();
    let server = serve(&path, None);
    let url = server.url();
    let first_times = Arc::new(Mutex::new(Vec::new()));
    let first = {
        let (url, times) = (url.clone(), first_times.clone());
        std::thread::spawn(move || {
            let mut sink = Timed { times };
            client(&url)
                .generate(&long_answer(1), &mut sink, &Control::new())
                .unwrap()
        })
    };
    while first_times.lock().unwrap().is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let second_times = Arc::new(Mutex::new(Vec::new()));
    let mut sink = Timed {
        times: second_times.clone(),
    };
    let out = client(&url)
        .generate(&request(1, 0, 8), &mut sink, &Control::new())
        .unwrap();
    assert_eq!(out.len(), 1);
    let second_done = std::time::Instant::now();
    first.join().unwrap();
    let first_last = *first_times.lock().unwrap().last().unwrap();
    let second_first = *second_times.lock().unwrap().first().unwrap();
    // The second request streamed and finished while the first was still decoding.
    assert!(second_first < first_last && second_done < first_last);
    // Both served (the long answer's repetition may be cut and asked for again: more).
    let health = get_health(&server);
    assert!(health["served"].as_u64().unwrap() >= 2, "{health}");
    assert_eq!(health["failed"], 0, "{health}");
}
