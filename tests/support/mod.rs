//! Fixtures shared by the integration tests: repositories made on the fly and scripted sessions.
#![allow(dead_code)]

pub mod fuzz;
pub mod gguf;
pub mod replay;

use std::path::Path;

use std::sync::{Arc, Mutex};

use ponder::event::{
    Beam, Channel, Control, EngineInfo, Envelope, Event, Issue, Outcome, Settings, Stage,
};
use ponder::model::scripted::ScriptedEngine;
use ponder::model::{Engine, GenerateRequest, Generation, JudgeRequest, TokenSink};
use ponder::pipeline::{self, SessionSpec};

/// Asserts that two engines decide alike whether candidates think, under every `think` mode.
pub fn assert_same_reasoning(a: &dyn Engine, b: &dyn Engine, what: &str) {
    use ponder::event::ThinkMode;
    for mode in [
        ThinkMode::Auto,
        ThinkMode::On,
        ThinkMode::Off,
        ThinkMode::Brief,
    ] {
        assert_eq!(a.reasoning(mode), b.reasoning(mode), "{what}, {mode:?}");
    }
}

/// Writes `files` into a new git repository under `dir` and commits them.
pub fn fixture_repo(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let repo = git2::Repository::init(dir).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("test", "test@example.invalid").unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "fixture", &tree, &[])
        .unwrap();
}

/// A session on `repo` with no journal.
pub fn spec(repo: &Path, issue: &str, settings: Settings) -> SessionSpec {
    SessionSpec {
        session_id: "test".into(),
        repo: repo.to_path_buf(),
        issue: Issue::from_text(issue),
        settings,
        journal: None,
        prompt_overrides: None,
        steerable: false,
    }
}

/// Runs a whole session without a journal and returns its events and outcome.
pub fn run_session(
    repo: &Path,
    issue: &str,
    settings: Settings,
    engine: Box<dyn Engine>,
) -> (Vec<Envelope>, Outcome) {
    let mut running = pipeline::start(spec(repo, issue, settings), engine).unwrap();
    let mut events = Vec::new();
    while let Some(envelope) = running.events.blocking_recv() {
        let done = matches!(envelope.event, Event::SessionFinished { .. });
        events.push(envelope);
        if done {
            break;
        }
    }
    let outcome = running.thread.join().unwrap();
    (events, outcome)
}

/// The built-in demo, run headless in-process with no pacing.
pub fn demo_events() -> (Vec<Envelope>, Outcome) {
    let repo = ponder::demo::prepare().unwrap();
    let mut settings = ponder::config::default_settings();
    settings.test_cmd = Some(ponder::demo::TEST_CMD.into());
    settings.search = ponder::event::SearchSettings::for_budget(ponder::demo::BUDGET);
    let engine =
        ponder::model::scripted::ScriptedEngine::from_toml(ponder::demo::script().unwrap(), "demo")
            .unwrap();
    let issue = ponder::assets::text("demo/issue.md").unwrap();
    run_session(repo.root(), issue, settings, Box::new(engine))
}

/// Replaces times and durations, which differ run to run, with zero.
pub fn zero_times(events: &mut [Envelope]) {
    for envelope in events {
        envelope.t_ms = 0;
        match &mut envelope.event {
            Event::TestRun { duration_ms, .. } => *duration_ms = 0,
            // How model code is contained depends on the machine's kernel.
            Event::Note { message, .. }
                if message.starts_with("model-written code runs sandboxed") =>
            {
                *message = "model-written code runs sandboxed: (this machine's isolation)".into();
            }
            // "indexed 11 files in 41 ms (0 skipped): 0 from the index cache, 11 parsed": the
            // time varies, and what the machine's index cache held.
            Event::Note { message, .. } if message.starts_with("indexed ") => {
                if let Some((head, tail)) = message.split_once(" in ")
                    && let Some((_, rest)) = tail.split_once(" ms")
                {
                    let rest = rest.split_once(": ").map_or(rest, |(kept, _)| kept);
                    *message = format!("{head} in 0 ms{rest}");
                }
            }
            // How much of the index came from the machine's cache varies too.
            Event::IndexProgress { reused, .. } => *reused = 0,
            Event::SessionStarted(header) => {
                header.started_at_ms = 0;
                header.repo = "/tmp/minicfg".into();
            }
            _ => {}
        }
    }
}

/// Wraps a scripted engine and records every prompt that reaches it, by stage (a resumed
/// session's replayed requests do not).
pub struct Recording {
    pub inner: ScriptedEngine,
    pub prompts: Arc<Mutex<Vec<(Stage, String)>>>,
    /// Each request's grammar, in the same order.
    pub grammars: Grammars,
}

/// The grammars a [`Recording`] saw, by stage.
pub type Grammars = Arc<Mutex<Vec<(Stage, Option<String>)>>>;

impl Engine for Recording {
    fn info(&self) -> EngineInfo {
        self.inner.info()
    }

    fn prompt_tokens(&self, messages: &[ponder::model::Message]) -> Option<u32> {
        self.inner.prompt_tokens(messages)
    }

    fn generate(
        &mut self,
        request: &GenerateRequest,
        sink: &mut dyn TokenSink,
        control: &Control,
    ) -> anyhow::Result<Vec<Generation>> {
        let text = request
            .messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        self.prompts.lock().unwrap().push((request.stage, text));
        self.grammars
            .lock()
            .unwrap()
            .push((request.stage, request.grammar.clone()));
        self.inner.generate(request, sink, control)
    }

    fn judge(&mut self, request: &JudgeRequest, control: &Control) -> anyhow::Result<Vec<f64>> {
        self.inner.judge(request, control)
    }

    fn replayed(&mut self, request: &GenerateRequest, generations: &[Generation]) {
        self.inner.replayed(request, generations);
    }
}

/// Records every streamed piece.
#[derive(Default)]
pub struct Recorder {
    pub pieces: Vec<(Beam, Channel, String)>,
}

impl TokenSink for Recorder {
    fn token(&mut self, beam: Beam, channel: Channel, text: &str) {
        self.pieces.push((beam, channel, text.to_string()));
    }
}

impl Recorder {
    pub fn text(&self, beam: Beam, channel: Channel) -> String {
        self.pieces
            .iter()
            .filter(|(b, c, _)| *b == beam && *c == channel)
            .map(|(_, _, t)| t.as_str())
            .collect()
    }
}
