//! The llama.cpp engine on tiny random-weight GGUF models written by `support::gguf`: loading and
//! metadata, batched candidates against separate runs, budgets, grammars, judging, abort, and the
//! promised errors.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ponder::event::{Beam, Channel, Command, Control, Stage};
use ponder::model::gguf::read_metadata;
use ponder::model::llama::{LlamaConfig, LlamaEngine};
use ponder::model::{
    Engine, GenerateRequest, Generation, JudgeRequest, Message, Sampling, TokenSink,
};
use support::Recorder;
use support::gguf::{Arch, Synth};

/// A tiny model of `arch` in a temporary folder (kept alive by the returned guard).
fn tiny(arch: Arch) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("tiny-{}.gguf", arch.name()));
    Synth::tiny(arch).write(&path).unwrap();
    (dir, path)
}

fn config(path: &Path) -> LlamaConfig {
    LlamaConfig {
        model: Some(path.to_path_buf()),
        n_ctx: 2048,
        n_threads: Some(1),
        ..LlamaConfig::default()
    }
}

fn engine(path: &Path) -> LlamaEngine {
    LlamaEngine::load(config(path)).unwrap()
}

fn greedy() -> Sampling {
    Sampling {
        temperature: 0.0,
        ..Sampling::default()
    }
}

fn request(n: u32, think: u32, answer: u32, sampling: Sampling) -> GenerateRequest {
    GenerateRequest {
        stage: Stage::Understand,
        messages: vec![
            Message::system("You find the files that matter."),
            Message::user("The config loader fails on an empty file. Which files?"),
        ],
        n,
        think_budget: think,
        answer_budget: answer,
        sampling,
        stop: Vec::new(),
        grammar: None,
        round: 1,
        think_style: Default::default(),
    }
}

fn run(engine: &mut LlamaEngine, request: &GenerateRequest) -> (Vec<Generation>, Recorder) {
    let mut sink = Recorder::default();
    let out = engine
        .generate(request, &mut sink, &Control::new())
        .unwrap();
    (out, sink)
}

#[test]
fn metadata_is_read_from_the_header() {
    let (_dir, path) = tiny(Arch::Qwen2);
    let meta = read_metadata(&path).unwrap();
    assert_eq!(meta.architecture, "qwen2");
    assert_eq!(meta.quantization, "F32");
    assert_eq!(meta.context_length, Some(2048));
    assert_eq!(meta.layers, Some(2));
    assert!(meta.parameters > 50_000, "{}", meta.parameters);
    assert!(meta.chat_template.unwrap().contains("<|im_start|>"));
    let engine = engine(&path);
    assert!(engine.info().description.contains("qwen2"));
    assert!(!engine.info().scripted);
}

#[test]
fn the_engine_reports_its_context_device_and_prompt_length() {
    let (_dir, path) = tiny(Arch::Qwen2);
    let engine = engine(&path);
    let info = engine.info();
    assert_eq!(info.context, Some(config(&path).n_ctx));
    let gpus = llama_cpp_2::list_llama_ggml_backend_devices()
        .into_iter()
        .filter(|d| {
            matches!(
                d.device_type,
                llama_cpp_2::LlamaBackendDeviceType::Gpu
                    | llama_cpp_2::LlamaBackendDeviceType::IntegratedGpu
            )
        })
        .count();
    if gpus == 0 {
        assert_eq!(info.device.as_deref(), Some("CPU"));
    } else {
        assert_ne!(info.device.as_deref(), Some("CPU"));
    }
    let short = engine.prompt_tokens(&[Message::user("hi")]).unwrap();
    let long = engine
        .prompt_tokens(&[Message::user("hi ".repeat(50))])
        .unwrap();
    assert!(short > 0 && long > short + 20, "{short} {long}");
}

#[test]
fn greedy_output_is_deterministic_and_streams_what_it_returns() {
    for arch in [Arch::Llama, Arch::Qwen2] {
        let (_dir, path) = tiny(arch);
        let mut engine = engine(&path);
        let req = request(1, 24, 24, greedy());
        let (first, sink) = run(&mut engine, &req);
        let (second, _) = run(&mut engine, &req);
        assert_eq!(first, second, "{arch:?}");
        let g = &first[0];
        assert!(g.think_tokens > 0, "{arch:?}: {g:?}");
        assert_eq!(sink.text(0, Channel::Think), g.think, "{arch:?}");
        assert_eq!(sink.text(0, Channel::Answer), g.answer, "{arch:?}");
    }
}

#[test]
fn batched_candidates_equal_separate_runs() {
    for arch in [Arch::Llama, Arch::Qwen2] {
        let (_dir, path) = tiny(arch);
        let mut engine = engine(&path);
        // Greedy: every candidate is the single greedy run.
        let (batched, _) = run(&mut engine, &request(4, 20, 12, greedy()));
        let (single, _) = run(&mut engine, &request(1, 20, 12, greedy()));
        for g in &batched {
            assert_eq!(
                (&g.think, &g.answer, g.think_tokens, g.answer_tokens),
                (
                    &single[0].think,
                    &single[0].answer,
                    single[0].think_tokens,
                    single[0].answer_tokens
                ),
                "{arch:?} beam {}",
                g.beam
            );
        }
        // Seeded sampling: candidate i of a batch is the single run with seed + i.
        let sampling = Sampling {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            seed: 11,
        };
        let (batched, _) = run(&mut engine, &request(3, 16, 8, sampling.clone()));
        for g in &batched {
            let alone = Sampling {
                seed: sampling.seed + u64::from(g.beam),
                ..sampling.clone()
            };
            let (single, _) = run(&mut engine, &request(1, 16, 8, alone));
            assert_eq!(
                (&g.think, &g.answer),
                (&single[0].think, &single[0].answer),
                "{arch:?} beam {}",
                g.beam
            );
        }
        let distinct: std::collections::HashSet<_> = batched.iter().map(|g| &g.think).collect();
        assert!(
            distinct.len() > 1,
            "{arch:?}: seeds must differ per candidate"
        );
    }
}

#[test]
fn a_think_budget_forces_the_answer() {
    let (_dir, path) = tiny(Arch::Qwen2);
    let mut engine = engine(&path);
    let mut req = request(2, 6, 8, greedy());
    req.grammar = Some("root ::= \"ok\"".to_string());
    let (out, sink) = run(&mut engine, &req);
    for g in &out {
        assert!(g.forced_answer, "{g:?}");
        assert_eq!(g.think_tokens, 6);
        assert_eq!(g.answer, "ok");
        assert_eq!(sink.text(g.beam, Channel::Answer), "ok");
    }
}

#[test]
fn grammar_constrained_answers_always_parse() {
    let files = ["src/config.py", "tests/test_config.py", "README.md"];
    let items = files
        .iter()
        .map(|f| format!("\"\\\"{f}\\\"\""))
        .collect::<Vec<_>>()
        .join(" | ");
    let grammar =
        format!("root ::= \"[\" ( item ( \", \" item ){{0,4}} )? \"]\"\nitem ::= {items}\n");
    for arch in [Arch::Llama, Arch::Qwen2] {
        let (_dir, path) = tiny(arch);
        let mut engine = engine(&path);
        for seed in 0..3 {
            let mut req = request(
                4,
                4,
                200,
                Sampling {
                    temperature: 1.2,
                    seed,
                    ..Sampling::default()
                },
            );
            req.grammar = Some(grammar.clone());
            let (out, _) = run(&mut engine, &req);
            for g in out {
                let parsed: Vec<String> = serde_json::from_str(g.answer.trim())
                    .unwrap_or_else(|e| panic!("{arch:?}: {:?} does not parse: {e}", g.answer));
                assert!(parsed.len() <= 5);
                assert!(
                    parsed.iter().all(|p| files.contains(&p.as_str())),
                    "{parsed:?}"
                );
            }
        }
    }
}

#[test]
fn stop_strings_end_the_answer_and_are_not_shown() {
    let (_dir, path) = tiny(Arch::Llama);
    let mut engine = engine(&path);
    let mut req = request(1, 0, 40, greedy());
    req.grammar = Some("root ::= \"alpha END beta\"".to_string());
    req.stop = vec!["END".to_string()];
    let (out, sink) = run(&mut engine, &req);
    assert_eq!(out[0].answer, "alpha ");
    assert_eq!(sink.text(0, Channel::Answer), "alpha ");
    assert_eq!(out[0].think_tokens, 0);
}

#[test]
fn judge_probabilities_lie_in_0_1_and_sharing_the_prefix_changes_nothing() {
    let (_dir, path) = tiny(Arch::Qwen2);
    let mut engine = engine(&path);
    let prompt = |answer: &str| {
        vec![
            Message::system("You judge whether an answer is right. Say yes or no."),
            Message::user(format!(
                "Issue: empty config fails.\nAnswer: {answer}\nRight?"
            )),
        ]
    };
    let answers = ["[\"src/config.py\"]", "[\"README.md\"]", "[]"];
    let request = JudgeRequest {
        judge: ponder::model::Judge::Prm,
        stage: Stage::Understand,
        prompts: answers.iter().map(|a| prompt(a)).collect(),
        answers: answers.iter().map(|a| a.to_string()).collect(),
    };
    let together = engine.judge(&request, &Control::new()).unwrap();
    assert_eq!(together.len(), 3);
    for (i, answer) in answers.iter().enumerate() {
        let p = together[i];
        assert!((0.0..=1.0).contains(&p), "{p}");
        let alone = engine
            .judge(
                &JudgeRequest {
                    judge: ponder::model::Judge::Prm,
                    stage: Stage::Understand,
                    prompts: vec![prompt(answer)],
                    answers: vec![answer.to_string()],
                },
                &Control::new(),
            )
            .unwrap();
        assert!((alone[0] - p).abs() < 1e-3, "{} vs {p}", alone[0]);
    }
}

/// Sends Abort when the first token arrives and counts what comes after.
struct AbortOnFirst {
    control: Arc<Control>,
    tokens: usize,
}

impl TokenSink for AbortOnFirst {
    fn token(&mut self, _beam: Beam, _channel: Channel, _text: &str) {
        self.tokens += 1;
        self.control.send(Command::Abort);
    }
}

#[test]
fn abort_stops_within_one_step() {
    let (_dir, path) = tiny(Arch::Llama);
    let mut engine = engine(&path);
    let control = Arc::new(Control::new());
    let mut sink = AbortOnFirst {
        control: control.clone(),
        tokens: 0,
    };
    let req = request(4, 200, 200, greedy());
    let err = engine.generate(&req, &mut sink, &control).unwrap_err();
    assert!(err.to_string().contains("aborted"), "{err:#}");
    // The step that saw the abort finishes its candidates' tokens; no further step runs.
    assert!(sink.tokens <= 4, "{} tokens after abort", sink.tokens);
}

#[test]
fn corrupt_and_missing_models_are_clear_errors() {
    let (dir, path) = tiny(Arch::Llama);
    let bytes = std::fs::read(&path).unwrap();
    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let not_gguf = dir.path().join("notes.gguf");
    std::fs::write(&not_gguf, "these are notes, not a model").unwrap();
    let header_cut = dir.path().join("header-cut.gguf");
    std::fs::write(&header_cut, &bytes[..100]).unwrap();
    let missing = dir.path().join("missing.gguf");
    for (file, says) in [
        (&truncated, "truncated"),
        (&not_gguf, "magic"),
        (&header_cut, "truncated"),
        (&missing, "cannot read"),
    ] {
        let err = LlamaEngine::load(config(file)).err().expect("must fail");
        let text = format!("{err:#}");
        assert!(text.contains(says), "{file:?}: {text}");
        assert!(text.contains(&file.display().to_string()), "{text}");
    }
}

#[test]
fn a_prompt_longer_than_the_context_is_refused_before_decoding() {
    let (_dir, path) = tiny(Arch::Qwen2);
    let mut engine = LlamaEngine::load(LlamaConfig {
        n_ctx: 256,
        ..config(&path)
    })
    .unwrap();
    let mut req = request(2, 8, 8, greedy());
    req.messages = vec![Message::user("an issue that goes on ".repeat(100))];
    let mut sink = Recorder::default();
    let err = engine
        .generate(&req, &mut sink, &Control::new())
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("prompt is") && text.contains("n_ctx"),
        "{text}"
    );
    assert!(sink.pieces.is_empty());
}

/// Pauses at the first token and records how many tokens arrive while paused.
struct PauseOnFirst {
    control: Arc<Control>,
    tokens: Arc<std::sync::atomic::AtomicUsize>,
}

impl TokenSink for PauseOnFirst {
    fn token(&mut self, _beam: Beam, _channel: Channel, _text: &str) {
        if self
            .tokens
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            == 0
        {
            self.control.send(Command::Pause);
        }
    }
}

#[test]
fn pause_holds_decoding_within_one_step_and_resume_finishes() {
    use std::sync::atomic::Ordering;
    let (_dir, path) = tiny(Arch::Llama);
    let mut engine = engine(&path);
    let control = Arc::new(Control::new());
    let tokens = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut sink = PauseOnFirst {
        control: control.clone(),
        tokens: tokens.clone(),
    };
    let worker = {
        let control = control.clone();
        std::thread::spawn(move || {
            let req = request(2, 30, 30, greedy());
            engine.generate(&req, &mut sink, &control).map(|g| g.len())
        })
    };
    while tokens.load(Ordering::SeqCst) == 0 && !worker.is_finished() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    std::thread::sleep(std::time::Duration::from_millis(150));
    let while_paused = tokens.load(Ordering::SeqCst);
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert_eq!(
        tokens.load(Ordering::SeqCst),
        while_paused,
        "tokens arrived while paused"
    );
    assert!(
        while_paused <= 2,
        "{while_paused} tokens in the pausing step"
    );
    assert!(!worker.is_finished());
    control.send(Command::Resume);
    assert_eq!(worker.join().unwrap().unwrap(), 2);
    assert!(tokens.load(Ordering::SeqCst) > while_paused);
}

#[test]
fn a_broken_jinja_template_falls_back_to_llama_cpp_and_an_override_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken-template.gguf");
    let mut synth = Synth::tiny(Arch::Qwen2);
    synth.chat_template = "<|im_start|>{% for m in messages %}{{ m.content".to_string();
    synth.write(&path).unwrap();
    let messages = [Message::user("hi")];
    let engine = engine(&path);
    assert_eq!(
        engine.model().render(&messages).unwrap(),
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    );
    let engine = LlamaEngine::load(LlamaConfig {
        chat_template: Some("[{{ messages[0].content }}]".to_string()),
        ..config(&path)
    })
    .unwrap();
    assert_eq!(engine.model().render(&messages).unwrap(), "[hi]");
}

#[test]
fn the_bench_measures_rows_like_llama_batched_bench() {
    let (_dir, path) = tiny(Arch::Qwen2);
    let mut engine = engine(&path);
    for shared in [true, false] {
        let row = ponder::model::llama::bench::run(engine.slots(), 3, 32, 4, shared).unwrap();
        assert_eq!(row.n_kv, if shared { 32 + 3 * 4 } else { 3 * (32 + 4) });
        assert!(row.t_pp > 0.0 && row.t_tg > 0.0 && row.s_tg > 0.0);
        assert!(row.line().starts_with('|'));
    }
}

#[test]
fn doctor_reports_backend_model_and_memory() {
    let (_dir, path) = tiny(Arch::Llama);
    let mut settings = ponder::config::default_settings();
    settings.think_budget = 256;
    settings.answer_budget = 128;
    let mut out = Vec::new();
    let ok = ponder::model::llama::doctor::report(&config(&path), &settings, 1000, None, &mut out)
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    for needle in [
        "backend: llama.cpp",
        "devices:",
        "llama (ponder synthetic llama)",
        "layers offloaded:",
        "KV cache: K f16 / V f16",
        "all candidates decode at once",
        "load: ok",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(ok, "{text}");
    // Default budgets (4096 + 2048) do not fit the test's n_ctx of 2048: said, and not ok.
    let mut out = Vec::new();
    let fits = ponder::model::llama::doctor::report(
        &config(&path),
        &ponder::config::default_settings(),
        1000,
        None,
        &mut out,
    )
    .unwrap();
    assert!(!fits);
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("warning: n_ctx = 2048"), "{text}");
    let mut out = Vec::new();
    let missing = config(&path.with_extension("absent"));
    assert!(
        !ponder::model::llama::doctor::report(
            &missing,
            &ponder::config::default_settings(),
            10,
            None,
            &mut out
        )
        .unwrap()
    );
    assert!(String::from_utf8_lossy(&out).contains("cannot read the model file"));
}

#[test]
fn a_whole_session_runs_on_the_llama_engine() {
    let (_dir, path) = tiny(Arch::Qwen2);
    let repo = tempfile::tempdir().unwrap();
    support::fixture_repo(
        repo.path(),
        &[("src/config.py", "def load(text):\n    return {}\n")],
    );
    let mut settings = ponder::config::default_settings();
    settings.search.n = [2; 4];
    settings.think_budget = 8;
    settings.answer_budget = 16;
    let (events, _outcome) = support::run_session(
        repo.path(),
        "Empty config fails",
        settings,
        Box::new(engine(&path)),
    );
    use ponder::event::Event;
    assert!(matches!(&events[0].event, Event::SessionStarted(h) if h.engine.kind == "llama"));
    let forced = events
        .iter()
        .filter(|e| {
            matches!(
                e.event,
                Event::CandidateFinished {
                    forced_answer: true,
                    ..
                }
            )
        })
        .count();
    let tokens = events
        .iter()
        .filter(|e| matches!(e.event, Event::Token { .. }))
        .count();
    assert!(tokens > 0);
    assert!(forced > 0, "a random model never closes thinking by itself");
    assert!(matches!(
        events.last().map(|e| &e.event),
        Some(Event::SessionFinished { .. })
    ));
}

#[test]
fn built_grammars_keep_answers_to_the_given_files() {
    let files: Vec<String> = [
        "src/a.py",
        "we\"ird\\name.py",
        "d\u{e9}j\u{e0}/vu.py",
        "tests/test_a.py",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let grammar = ponder::answer::grammar::json_list_of(&files, 3);
    let (_dir, path) = tiny(Arch::Llama);
    let mut engine = engine(&path);
    let mut picked = 0;
    for seed in 0..3 {
        let mut req = request(
            4,
            3,
            400,
            Sampling {
                temperature: 1.5,
                seed,
                ..Sampling::default()
            },
        );
        req.grammar = Some(grammar.clone());
        let (out, _) = run(&mut engine, &req);
        for g in out {
            let parsed: Vec<String> = serde_json::from_str(g.answer.trim())
                .unwrap_or_else(|e| panic!("{:?} does not parse: {e}", g.answer));
            assert!(parsed.len() <= 3, "{parsed:?}");
            assert!(parsed.iter().all(|p| files.contains(p)), "{parsed:?}");
            picked += parsed.len();
        }
    }
    assert!(picked > 0, "the grammar was never exercised beyond []");
}

#[test]
fn a_second_gguf_can_judge() {
    let (_dir, path) = tiny(Arch::Qwen2);
    let (_judge_dir, judge_path) = tiny(Arch::Llama);
    let request = JudgeRequest {
        judge: ponder::model::Judge::Prm,
        stage: Stage::Patch,
        prompts: vec![vec![Message::user("Does this patch fix it? yes or no")]],
        answers: vec!["patch".to_string()],
    };
    let own = engine(&path).judge(&request, &Control::new()).unwrap();
    let mut judged = LlamaEngine::load(LlamaConfig {
        judge_model: Some(judge_path.clone()),
        ..config(&path)
    })
    .unwrap();
    let other = judged.judge(&request, &Control::new()).unwrap();
    let direct = engine(&judge_path)
        .judge(&request, &Control::new())
        .unwrap();
    assert!((0.0..=1.0).contains(&other[0]));
    assert!(
        (other[0] - direct[0]).abs() < 1e-9,
        "{other:?} vs {direct:?}"
    );
    assert!(
        (other[0] - own[0]).abs() > 1e-6,
        "the judge model must be the one asked"
    );
    let err = LlamaEngine::load(LlamaConfig {
        judge_lora: Some(judge_path.with_extension("missing")),
        ..config(&path)
    })
    .err()
    .expect("a missing adapter must fail");
    assert!(format!("{err:#}").contains("LoRA adapter"), "{err:#}");
}

/// Records the prompt usage the engine reports.
#[derive(Default)]
struct Usage {
    reported: Vec<ponder::model::PromptUsage>,
}

impl TokenSink for Usage {
    fn token(&mut self, _beam: Beam, _channel: Channel, _text: &str) {}

    fn prompt(&mut self, usage: ponder::model::PromptUsage) {
        self.reported.push(usage);
    }
}

#[test]
fn the_prefix_cache_changes_no_token_and_reports_what_it_held() {
    for arch in [Arch::Llama, Arch::Qwen2] {
        let (_dir, path) = tiny(arch);
        let mut warm = engine(&path);
        let mut cold = engine(&path);
        // A first request leaves the system prompt and the issue in the cache.
        let first = request(3, 12, 8, greedy());
        let mut usage = Usage::default();
        warm.generate(&first, &mut usage, &Control::new()).unwrap();
        assert_eq!(usage.reported.len(), 1);
        assert_eq!(usage.reported[0].cached_tokens, Some(0), "{arch:?}");
        // A second request continues the conversation: most of its prompt is cached.
        let mut second = request(2, 16, 8, greedy());
        second
            .messages
            .push(Message::assistant("[\"src/config.py\"]"));
        second
            .messages
            .push(Message::user("Now say where in that file."));
        let mut usage = Usage::default();
        let with_cache = warm.generate(&second, &mut usage, &Control::new()).unwrap();
        let tokens = usage.reported[0].tokens.unwrap();
        let cached = usage.reported[0].cached_tokens.unwrap();
        assert!(
            cached > tokens / 2 && cached < tokens,
            "{arch:?}: {cached} of {tokens}"
        );
        let (without, _) = run(&mut cold, &second);
        assert_eq!(
            with_cache, without,
            "{arch:?}: the cache changed the output"
        );
        // Asked again, the whole prompt but its last token comes from the cache.
        let mut usage = Usage::default();
        let again = warm.generate(&second, &mut usage, &Control::new()).unwrap();
        assert_eq!(usage.reported[0].cached_tokens, Some(tokens - 1));
        assert_eq!(again, without, "{arch:?}");
        // Judging reuses the cache too, and gives the same scores as a cold engine.
        let judge = JudgeRequest {
            judge: ponder::model::Judge::Prm,
            stage: Stage::Understand,
            prompts: vec![second.messages.clone(), first.messages.clone()],
            answers: vec!["a".into(), "b".into()],
        };
        let warm_scores = warm.judge(&judge, &Control::new()).unwrap();
        let cold_scores = cold.judge(&judge, &Control::new()).unwrap();
        for (w, c) in warm_scores.iter().zip(&cold_scores) {
            assert!((w - c).abs() < 1e-4, "{arch:?}: {w} vs {c}");
        }
        let stats = warm.slots().stats().clone();
        assert!(stats.cached_tokens > 0 && stats.prompt_tokens > stats.cached_tokens);
    }
}

#[test]
fn waves_give_the_same_tokens_as_one_batch() {
    let (_dir, path) = tiny(Arch::Qwen2);
    // Three slots: two candidates at once, so four decode in two waves.
    let mut narrow = LlamaEngine::load(LlamaConfig {
        n_seq: 3,
        ..config(&path)
    })
    .unwrap();
    let mut wide = engine(&path);
    let sampling = Sampling {
        temperature: 1.0,
        seed: 5,
        ..Sampling::default()
    };
    let whole = request(4, 10, 6, sampling.clone());
    assert_eq!(narrow.parallel(&whole), 2);
    assert_eq!(wide.parallel(&whole), 4);
    let (one_batch, _) = run(&mut wide, &whole);
    let mut waves = Vec::new();
    for start in [0u32, 2] {
        let mut part = request(2, 10, 6, sampling.clone());
        part.sampling.seed = sampling.seed + u64::from(start);
        let (mut out, _) = run(&mut narrow, &part);
        for g in &mut out {
            g.beam += start;
        }
        waves.extend(out);
    }
    assert_eq!(waves, one_batch);
}

#[test]
fn a_full_context_is_never_silent() {
    let (_dir, path) = tiny(Arch::Llama);
    // 256 cells for a ~40-token prompt and two candidates that would take 300 each.
    let mut engine = LlamaEngine::load(LlamaConfig {
        n_ctx: 256,
        ..config(&path)
    })
    .unwrap();
    let (out, sink) = run(&mut engine, &request(2, 200, 100, greedy()));
    assert_eq!(out.len(), 2);
    for g in &out {
        let truncated: Vec<&String> = g
            .notes
            .iter()
            .filter(|n| n.starts_with(ponder::event::TRUNCATED))
            .collect();
        assert!(!truncated.is_empty(), "no truncated note: {g:?}");
        // Thinking was closed while there was room, so the candidate got to answer.
        assert!(g.forced_answer, "{g:?}");
        assert_eq!(sink.text(g.beam, Channel::Answer), g.answer);
    }
    // The reason travels in the candidate's event notes, which the fold reads back.
    let state = ponder::event::SessionState::from_envelopes(&[ponder::event::Envelope {
        seq: 0,
        t_ms: 0,
        event: ponder::event::Event::CandidateFinished {
            stage: Stage::Understand,
            beam: 0,
            answer: out[0].answer.clone(),
            think_tokens: out[0].think_tokens,
            answer_tokens: out[0].answer_tokens,
            forced_answer: out[0].forced_answer,
            notes: out[0].notes.clone(),
        },
    }]);
    let candidate = state.stage(Stage::Understand).get(0).unwrap();
    assert!(candidate.truncated().unwrap().contains("context"));
}

#[test]
fn a_stage_that_does_not_fit_at_once_decodes_in_waves() {
    let (_dir, path) = tiny(Arch::Qwen2);
    let repo = tempfile::tempdir().unwrap();
    support::fixture_repo(
        repo.path(),
        &[("src/config.py", "def load(text):\n    return {}\n")],
    );
    let mut settings = ponder::config::default_settings();
    // Six candidates: the search asks for three, then three more (see `expand`).
    settings.search.n = [6; 4];
    settings.think_budget = 8;
    settings.answer_budget = 16;
    // Three slots: two candidates at once.
    let narrow = LlamaEngine::load(LlamaConfig {
        n_seq: 3,
        ..config(&path)
    })
    .unwrap();
    let (events, _) = support::run_session(
        repo.path(),
        "Empty config fails",
        settings,
        Box::new(narrow),
    );
    use ponder::event::Event;
    let waves: Vec<&String> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Note {
                stage: Some(Stage::Understand),
                message,
            } if message.starts_with("wave") => Some(message),
            _ => None,
        })
        .collect();
    assert!(waves.len() >= 2, "{waves:?}");
    assert!(
        waves[0].starts_with("wave 1 of 2: candidates 0–1"),
        "{waves:?}"
    );
    assert!(
        waves[1].starts_with("wave 2 of 2: candidates 2–2"),
        "{waves:?}"
    );
    // Each wave is a request of its own, the second reading its prompt from the cache.
    let prompts: Vec<(Vec<u32>, Option<u32>, Option<u32>)> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Prompt {
                stage: Stage::Understand,
                beams,
                tokens,
                cached_tokens,
                ..
            } => Some((beams.clone(), *tokens, *cached_tokens)),
            _ => None,
        })
        .collect();
    assert_eq!(prompts[0].0, vec![0, 1]);
    assert_eq!(prompts[1].0, vec![2]);
    let (tokens, cached) = (prompts[1].1.unwrap(), prompts[1].2.unwrap());
    assert_eq!(cached + 1, tokens, "{prompts:?}");
}

/// A prompt longer than the model was trained on still runs when the context holds it, and each
/// answer carries a note saying so.
#[test]
fn a_prompt_past_the_trained_context_is_noted_beside_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short-trained.gguf");
    Synth {
        context: 32,
        ..Synth::tiny(Arch::Qwen2)
    }
    .write(&path)
    .unwrap();
    let mut engine = engine(&path);
    let (out, _) = run(&mut engine, &request(2, 0, 8, greedy()));
    for g in &out {
        assert!(
            g.notes
                .iter()
                .any(|n| n.contains("past the 32 the model was trained on")),
            "{:?}",
            g.notes
        );
    }
    // Within the trained length, no such note.
    let (_dir, path) = tiny(Arch::Qwen2);
    let (out, _) = run(&mut self::engine(&path), &request(1, 0, 8, greedy()));
    assert!(
        out[0].notes.iter().all(|n| !n.contains("trained on")),
        "{:?}",
        out[0].notes
    );
}

/// `ponder fix --model` writes the session's header while the weights load in the background:
/// its engine must decide whether candidates think exactly as the loaded engine does.
#[test]
fn the_background_engine_reasons_as_the_loaded_one() {
    use ponder::model::llama::background::BackgroundEngine;
    for arch in [Arch::Llama, Arch::Qwen2] {
        let (_dir, path) = tiny(arch);
        for template in [None, Some("chatml")] {
            let config = LlamaConfig {
                chat_template: template.map(str::to_string),
                ..config(&path)
            };
            let background = BackgroundEngine::start(config.clone(), Default::default()).unwrap();
            let loaded = LlamaEngine::load(config).unwrap();
            support::assert_same_reasoning(
                &background,
                &loaded,
                &format!("{arch:?}, {template:?}"),
            );
        }
    }
}
