//! The staged fix: understand → localize → patch → verify, each stage a think-then-answer request
//! to the engine whose candidates are scored and kept, every step reported as an event.
//!
//! History pruning: a stage's prompt carries the earlier stages' parsed answers, never their
//! thinking. The pipeline runs on its own thread; [`start`] returns the event stream and a
//! [`SessionHandle`] for commands (both defined with the events, in [`crate::event`]).

mod beams;
mod edit;
mod evolve;
mod localize;
mod patch;
mod prompts;
mod rank;
mod select;
pub mod simulate;
mod understand;
mod verify;

pub use beams::USER_ANSWER;
pub use edit::{Applied, Edit, FileChange, Matching, apply_edit, apply_edits, unified_diff};
pub use select::{Scored, Selection, confident, select};
pub use verify::ISSUE_EXAMPLE;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tokio::sync::mpsc::unbounded_channel;

use crate::event::{
    Beam, Channel, Control, Emitter, Envelope, Event, FORMAT_VERSION, Issue, Outcome,
    RunningSession, SearchStrategy, SessionHandle, SessionHeader, Settings, Stage,
};
use crate::model::{Engine, TokenSink};
use crate::repo::Workspace;
use crate::session::JournalWriter;
use prompts::Prompts;

/// What to fix, where, and how.
#[derive(Debug, Clone)]
pub struct SessionSpec {
    pub session_id: String,
    pub repo: PathBuf,
    pub issue: Issue,
    pub settings: Settings,
    /// Where to write the journal; `None` records nothing.
    pub journal: Option<PathBuf>,
    /// A folder whose `NAME.md` files replace the built-in prompt templates (the config
    /// directory's `prompts/`); `None` uses the built-in ones.
    pub prompt_overrides: Option<PathBuf>,
    /// Someone can answer from the start (the TUI, or headless mode reading stdin): a stage left
    /// without a usable candidate waits for them. Without, it is re-rolled once, then ends the
    /// session. Set here, not after the start, so a fast stage cannot get stuck before it is.
    pub steerable: bool,
}

/// Opens the repository, creates the journal and starts the pipeline on its own thread.
///
/// Fails before anything runs when the repository, prompts or journal cannot be set up.
pub fn start(spec: SessionSpec, engine: Box<dyn Engine>) -> Result<RunningSession> {
    launch(spec, engine, None)
}

/// Resumes an interrupted session: `prefix` is its journal up to a completed stage, which the
/// pipeline re-derives with answers from the journal (checked event by event), then goes on live
/// with `engine`, appending to the journal at `spec.journal` (rewritten to hold just `prefix`).
pub fn resume(
    spec: SessionSpec,
    engine: Box<dyn Engine>,
    prefix: Vec<Envelope>,
) -> Result<RunningSession> {
    launch(spec, engine, Some(prefix))
}

fn launch(
    spec: SessionSpec,
    engine: Box<dyn Engine>,
    prefix: Option<Vec<Envelope>>,
) -> Result<RunningSession> {
    // The persisted index is read before the listing: files it holds unchanged are not read
    // again to tell text from binary, and the index is built from it later.
    let root = Workspace::root_of(&spec.repo)?;
    let store = crate::repo::IndexStore::from_env();
    let persisted = crate::repo::Persisted::read(&root, store.as_ref());
    let workspace = Workspace::list(root, &|path, stamp| persisted.knows(path, stamp))?;
    let prompts = Prompts::load(spec.prompt_overrides.as_deref())?;
    // A python_env that names no virtualenv stops the session here, not at its verify stage.
    crate::sandbox::venv::choose(spec.settings.python_env.as_deref(), workspace.root(), None)?;
    let journal = match (&spec.journal, &prefix) {
        (Some(path), Some(prefix)) => {
            Some(Box::new(JournalWriter::rewrite(path, prefix)?) as Box<dyn crate::event::Sink>)
        }
        (Some(path), None) => Some(Box::new(JournalWriter::create(path)?) as _),
        (None, _) => None,
    };
    let (tx, rx) = unbounded_channel();
    let control = Arc::new(Control::with_gate(spec.settings.search.gate));
    control.set_steerable(spec.steerable);
    let (emitter, engine) = match prefix {
        None => (Emitter::new(journal, Some(tx)), engine),
        Some(prefix) => {
            let prefix: Arc<[Envelope]> = prefix.into();
            let cursor = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let engine: Box<dyn Engine> = Box::new(crate::session::Recorded::new(
                engine,
                prefix.clone(),
                cursor.clone(),
            ));
            let replay = crate::event::Replay {
                prefix,
                cursor,
                control: control.clone(),
            };
            (Emitter::resuming(journal, Some(tx), replay), engine)
        }
    };
    let emitter = Arc::new(Mutex::new(emitter));
    let reasoning = engine.reasoning(spec.settings.think);
    let header = SessionHeader {
        format: FORMAT_VERSION,
        ponder_version: env!("CARGO_PKG_VERSION").to_string(),
        session_id: spec.session_id.clone(),
        started_at_ms: jiff::Timestamp::now().as_millisecond().max(0) as u64,
        issue: spec.issue.clone(),
        repo: workspace.root().display().to_string(),
        engine: engine.info(),
        settings: spec.settings.clone(),
        reproduce: Some(crate::session::fingerprint::reproduction(
            engine.source(),
            prompts.hashes().clone(),
            prompts.overridden().to_vec(),
            &spec.settings,
        )),
        reasoning: Some(reasoning.clone()),
    };
    let mut pipeline = Pipeline {
        engine,
        workspace,
        persisted: Some((store, persisted)),
        issue: spec.issue,
        settings: spec.settings,
        prompts,
        control: control.clone(),
        emitter: emitter.clone(),
        next_beam: [0; 4],
        original: None,
        test_log: Vec::new(),
        isolation: None,
        regression: None,
        venv: None,
        suite_before: Default::default(),
        suite_last: Default::default(),
        index: None,
        next_call: 0,
        tokens_spent: Default::default(),
        diffs: Default::default(),
        thinks: reasoning.thinks,
        brief: reasoning.brief,
        temperature: [None; 4],
        auto_rerolled: [false; 4],
    };
    let thread = std::thread::Builder::new()
        .name("ponder-pipeline".into())
        .spawn(move || pipeline.run(header))
        .context("cannot start the pipeline thread")?;
    Ok(RunningSession {
        events: rx,
        handle: SessionHandle::new(control, emitter),
        thread,
        journal: spec.journal,
    })
}

/// Most tokens of brief plain reasoning (`think = "brief"`).
const BRIEF_TOKENS: u32 = 192;

/// Why the stages stopped early.
enum Stop {
    Aborted,
    Failed(String),
}

pub(crate) struct Pipeline {
    engine: Box<dyn Engine>,
    workspace: Workspace,
    /// The index store and the snapshot read from it, until the index is built.
    persisted: Option<(Option<crate::repo::IndexStore>, crate::repo::Persisted)>,
    issue: Issue,
    settings: Settings,
    prompts: Prompts,
    control: Arc<Control>,
    emitter: Arc<Mutex<Emitter>>,
    /// Next free beam number per stage.
    next_beam: [Beam; 4],
    /// The original code's worktree while verifying.
    original: Option<std::sync::Arc<crate::repo::Worktree>>,
    /// (beam, what ran, output tail) of every test run, for repair prompts.
    test_log: Vec<(Beam, String, String)>,
    /// How model code is contained, chosen when verification starts.
    isolation: Option<crate::sandbox::Isolation>,
    /// The regression test command, chosen when verification starts.
    regression: Option<crate::sandbox::TestCommand>,
    /// The virtualenv Python runs with, chosen when verification starts.
    venv: Option<crate::sandbox::venv::Venv>,
    /// Per-test outcomes of the regression tests on the original code, and of their last run.
    suite_before: crate::sandbox::test_log::TestStatuses,
    suite_last: crate::sandbox::test_log::TestStatuses,
    /// The repository's symbol index and search tools; `None` if indexing failed.
    index: Option<crate::repo::RepoIndex>,
    /// Next tool call number.
    next_call: u32,
    /// The diff of every patch proposed, by beam (for the hunks the user rejects).
    diffs: std::collections::HashMap<Beam, String>,
    /// Tokens (think, answer) each candidate spent over its rounds.
    tokens_spent: std::collections::HashMap<(Stage, Beam), (u32, u32)>,
    /// Candidates reason before answering (the `think` setting, resolved)…
    thinks: bool,
    /// …in a few sentences of plain text rather than in `<think>` tags.
    brief: bool,
    /// Temperatures a re-roll set for a stage.
    temperature: [Option<f32>; 4],
    /// Stages already re-rolled once because no candidate was usable and nobody could steer.
    auto_rerolled: [bool; 4],
}

impl Pipeline {
    fn emit(&self, event: Event) {
        Emitter::locked(&self.emitter).emit(event);
    }

    fn run(&mut self, header: SessionHeader) -> Outcome {
        self.emit(Event::SessionStarted(Box::new(header)));
        let outcome = match self.stages() {
            Ok(outcome) => outcome,
            Err(Stop::Aborted) => Outcome::Aborted,
            Err(Stop::Failed(reason)) => Outcome::Failed { reason },
        };
        self.emit(Event::SessionFinished {
            outcome: outcome.clone(),
        });
        outcome
    }

    fn stages(&mut self) -> Result<Outcome, Stop> {
        self.build_index();
        let files = self.stage(Stage::Understand, |p| {
            p.search_stage::<understand::Understand>(&[(None, ())])
        })?;
        if let Some(stopped) = self.stop_after(Stage::Understand) {
            return Ok(stopped);
        }
        let parents = carry(files);
        let locations = self.stage(Stage::Localize, |p| {
            p.search_stage::<localize::Localize>(&parents)
        })?;
        if let Some(stopped) = self.stop_after(Stage::Localize) {
            return Ok(stopped);
        }
        let parents: Vec<(Option<Beam>, Vec<localize::Location>)> = carry(locations)
            .into_iter()
            .map(|(beam, located)| (beam, located.locations))
            .collect();
        if self.settings.search.strategy == SearchStrategy::Evolve {
            // Generation 0 is the patch stage with the whole population kept.
            let population = self.settings.search.population.max(1);
            self.settings.search.n[Stage::Patch.index()] = population;
            self.settings.search.k[Stage::Patch.index()] = population;
        }
        let patches = self.stage(Stage::Patch, |p| {
            p.search_stage::<patch::PatchStage>(&parents)
        })?;
        if let Some(stopped) = self.stop_after(Stage::Patch) {
            return Ok(stopped);
        }
        let best_locations = parents.first().map(|(_, l)| l.clone()).unwrap_or_default();
        let verified = self.stage(Stage::Verify, |p| p.verify(patches, &best_locations))?;
        Ok(self.rank(&verified))
    }

    /// The outcome when the session was asked to stop after `stage` (`--until`).
    fn stop_after(&self, stage: Stage) -> Option<Outcome> {
        (self.settings.until == Some(stage)).then_some(Outcome::Stopped { after: stage })
    }

    /// Indexes the repository for the shortlist and the search tools (re-parsing only what
    /// changed since the index persisted by the last run); without it they are off.
    fn build_index(&mut self) {
        let started = std::time::Instant::now();
        let (store, persisted) = self.persisted.take().unwrap_or_else(|| {
            let store = crate::repo::IndexStore::from_env();
            let persisted = crate::repo::Persisted::read(self.workspace.root(), store.as_ref());
            (store, persisted)
        });
        let emitter = self.emitter.clone();
        let progress = move |p: crate::repo::IndexProgress| {
            Emitter::locked(&emitter).emit(Event::IndexProgress {
                done: p.done as u32,
                total: p.total as u32,
                reused: p.reused as u32,
            });
        };
        match crate::repo::open_persisted(&self.workspace, persisted, store.as_ref(), &progress) {
            Ok((index, report)) => {
                self.note(
                    Stage::Understand,
                    format!(
                        "indexed {} files in {} ms ({} skipped): {}",
                        index.len(),
                        started.elapsed().as_millis(),
                        index.skipped().len(),
                        report.summary()
                    ),
                );
                self.index = Some(index);
            }
            Err(err) => self.stage_error(
                Stage::Understand,
                format!(
                    "cannot index the repository, so no shortlist and no search tools: {err:#}"
                ),
            ),
        }
    }

    /// Runs one stage body between its start and finish events; a failure ends the session.
    fn stage<T>(
        &mut self,
        stage: Stage,
        body: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T, Stop> {
        self.emit(Event::StageStarted { stage });
        let result = body(self);
        self.emit(Event::StageFinished {
            stage,
            ok: result.is_ok(),
        });
        result.map_err(|err| {
            if self.control.is_aborted() {
                return Stop::Aborted;
            }
            let message = format!("{err:#}");
            self.emit(Event::Error {
                stage: Some(stage),
                beam: None,
                message: message.clone(),
            });
            Stop::Failed(format!("the {} stage failed: {message}", stage.name()))
        })
    }

    /// Reports a problem with one candidate's answer.
    fn candidate_error(&self, stage: Stage, beam: Beam, message: impl Into<String>) {
        self.emit(Event::Error {
            stage: Some(stage),
            beam: Some(beam),
            message: message.into(),
        });
    }

    /// Reports a problem with a stage that is not one candidate's fault.
    fn stage_error(&self, stage: Stage, message: impl Into<String>) {
        self.emit(Event::Error {
            stage: Some(stage),
            beam: None,
            message: message.into(),
        });
    }

    /// What later rounds are told of the hunks the user rejected; empty if none.
    fn rejected_notes(&self) -> String {
        let mut notes = String::new();
        for (beam, hunk) in self.control.rejected_hunks() {
            let Some(text) = self
                .diffs
                .get(&beam)
                .and_then(|diff| crate::diff::Patch::parse(diff).hunk_with_names(hunk as usize))
            else {
                continue;
            };
            notes.push_str(&format!(
                "\n\nThe user rejected this change of patch {beam}; do not make it again:\n\n```diff\n{text}```"
            ));
        }
        notes
    }

    /// The system and user messages of stage prompt `name`, for this session's issue and way of
    /// reasoning.
    fn messages(
        &self,
        name: &str,
        context: minijinja::Value,
    ) -> Result<Vec<crate::model::Message>> {
        let reasoning = match (self.thinks, self.brief) {
            (true, true) => prompts::Reasoning::Brief,
            (true, false) => prompts::Reasoning::Tags,
            (false, _) => prompts::Reasoning::None,
        };
        self.prompts.messages(name, &self.issue, context, reasoning)
    }

    /// Tokens of thinking a candidate of `stage` may spend: none when the model does not think,
    /// at most [`BRIEF_TOKENS`] when it reasons briefly.
    fn think_budget(&self, stage: Stage) -> u32 {
        match (self.thinks, self.brief) {
            (false, _) => 0,
            (true, true) => self.settings.think_budget(stage).min(BRIEF_TOKENS),
            (true, false) => self.settings.think_budget(stage),
        }
    }

    /// How candidates reason before answering.
    fn think_style(&self) -> crate::model::ThinkStyle {
        if self.brief {
            crate::model::ThinkStyle::Plain
        } else {
            crate::model::ThinkStyle::Tags
        }
    }

    /// Tells the viewer what the search decided and why (not a problem).
    fn note(&self, stage: Stage, message: impl Into<String>) {
        self.emit(Event::Note {
            stage: Some(stage),
            message: message.into(),
        });
    }
}

/// Turns the kept beams of one stage into the parents of the next.
fn carry<T>(kept: Vec<beams::Kept<T>>) -> Vec<(Option<Beam>, T)> {
    kept.into_iter().map(|k| (Some(k.beam), k.data)).collect()
}

/// Streams engine tokens out as events of one stage. The request's `Prompt` event waits here
/// until the engine says what its cache held of the prompt (or, at the latest, until the first
/// token), so the event records `cached_tokens` and still comes before the tokens.
struct EmitSink<'a> {
    emitter: &'a Mutex<Emitter>,
    stage: Stage,
    /// Added to the engine's beam numbers, which start at 0 for every request.
    offset: Beam,
    /// The request's `Prompt` event, until it is emitted.
    pending: Option<Event>,
}

impl EmitSink<'_> {
    /// Emits the request's `Prompt` event if it is still waiting.
    fn flush(&mut self) {
        if let Some(event) = self.pending.take() {
            Emitter::locked(self.emitter).emit(event);
        }
    }
}

impl TokenSink for EmitSink<'_> {
    fn token(&mut self, beam: Beam, channel: Channel, text: &str) {
        self.flush();
        Emitter::locked(self.emitter).emit(Event::Token {
            stage: self.stage,
            beam: beam + self.offset,
            channel,
            text: text.to_string(),
        });
    }

    fn prompt(&mut self, usage: crate::model::PromptUsage) {
        if let Some(Event::Prompt {
            tokens,
            cached_tokens,
            ..
        }) = &mut self.pending
        {
            *tokens = usage.tokens.or(*tokens);
            *cached_tokens = usage.cached_tokens;
        }
        self.flush();
    }
}
