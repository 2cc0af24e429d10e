//! The event vocabulary: everything that happens in a ponder session is one [`Event`].
//!
//! The pipeline, the engines and the sandbox only *report* through events; the journal stores them,
//! the TUI and headless mode only *read* them, and [`SessionState`] is their fold. A journal line is
//! an [`Envelope`]: a sequence number, the milliseconds since the session started, and the event.
//!
//! Invariant: the format is versioned by [`FORMAT_VERSION`] in [`Event::SessionStarted`]. Adding a
//! field with a serde default keeps the version; renaming or removing one bumps it.

mod command;
mod emitter;
mod handle;
mod header;
mod settings;
mod state;

pub use command::{Aborted, Command, Control, GateDecision, RerollOptions, Steering};
pub use emitter::{Emitter, Replay, Sink, is_user_event};
pub use handle::{RunningSession, SessionHandle};
pub use header::{
    EngineInfo, EngineSource, Issue, ModelFile, Reasoning, Reproduction, SamplingInfo,
    SessionHeader,
};
pub use settings::{RANKED_SYMBOLS, SearchSettings, SearchStrategy, Settings, ThinkMode};
pub use state::{
    CandidateState, CandidateStatus, ErrorState, IndexingState, PatchState, RequestState,
    SessionState, StageState, StageStatus, TestRunState, ToolCallState,
};

use serde::{Deserialize, Serialize};

/// Version of the journal and headless event format this build writes and reads.
/// 2 added [`Event::Prompt`]; format 1 journals read the same.
pub const FORMAT_VERSION: u32 = 2;

/// How a candidate's note starts when the engine's context filled up while it was decoding (its
/// answer forced early, or the candidate ended where it was): the `truncated` reason.
pub const TRUNCATED: &str = "truncated:";

/// One of the four development stages, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Understand,
    Localize,
    Patch,
    Verify,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::Understand,
        Stage::Localize,
        Stage::Patch,
        Stage::Verify,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Understand => "understand",
            Stage::Localize => "localize",
            Stage::Patch => "patch",
            Stage::Verify => "verify",
        }
    }

    /// Position in [`Stage::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Which half of a think-then-answer response a piece of text belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Think,
    Answer,
}

/// A candidate's number within its stage (0-based).
pub type Beam = u32;

/// Why a candidate was dropped from the beam.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pruned {
    pub beam: Beam,
    pub reason: String,
}

/// Which test a run was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    /// The model-written reproduction script.
    Repro,
    /// The repository's own test suite.
    Regression,
}

/// Which tree a test ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tree {
    Original,
    Patched,
}

/// How one test run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    /// Reproduction script printed `Issue reproduced`.
    Reproduced,
    /// Reproduction script printed `Issue resolved`.
    Resolved,
    /// Reproduction script printed `Other issues` or nothing it recognised.
    OtherIssues,
    /// Regression suite exited 0.
    Passed,
    /// Regression suite exited non-zero.
    Failed,
    /// Killed at the time limit.
    Timeout,
}

/// One ranked patch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankEntry {
    pub beam: Beam,
    /// The outcome reward model's score; `None` when the judge failed and left it unscored.
    pub score: Option<f64>,
    pub votes: u32,
    pub verified: bool,
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// A patch whose reproduction test failed before and passes after, without regressions.
    Verified { beam: Beam },
    /// A patch was produced but did not verify.
    Unverified { reason: String },
    /// The pipeline could not produce a patch.
    Failed { reason: String },
    /// The user stopped the session.
    Aborted,
    /// The session stopped after the stage it was asked to stop at (`--until`).
    Stopped { after: Stage },
}

impl Outcome {
    pub fn is_verified(&self) -> bool {
        matches!(self, Outcome::Verified { .. })
    }
}

/// Everything that can happen in a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    SessionStarted(Box<SessionHeader>),
    StageStarted {
        stage: Stage,
    },
    StageFinished {
        stage: Stage,
        ok: bool,
    },
    CandidateStarted {
        stage: Stage,
        beam: Beam,
        /// The beam of the previous stage this candidate continues, if any.
        #[serde(default)]
        parent: Option<Beam>,
    },
    /// The messages one request for candidates was given (history-pruned: earlier stages'
    /// answers, never their thinking); `beams` are the candidates it answers for.
    Prompt {
        stage: Stage,
        beams: Vec<Beam>,
        round: u32,
        messages: Vec<PromptMessage>,
        /// The prompt's length in the engine's tokens, when the engine can count them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tokens: Option<u32>,
        /// Of those, tokens the engine did not decode again: its prefix cache held them (as
        /// OpenAI's `usage.prompt_tokens_details.cached_tokens`), when it says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cached_tokens: Option<u32>,
    },
    Token {
        stage: Stage,
        beam: Beam,
        channel: Channel,
        text: String,
    },
    CandidateFinished {
        stage: Stage,
        beam: Beam,
        answer: String,
        think_tokens: u32,
        answer_tokens: u32,
        /// True when ponder closed the thinking (its budget ran out, the model stopped or looped
        /// inside it) and asked for the answer.
        #[serde(default)]
        forced_answer: bool,
        /// What ponder did to this candidate's text and why: thinking closed, a loop stopped, the
        /// answer cut at its budget, the context full (a note starting with [`TRUNCATED`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        notes: Vec<String>,
    },
    Scored {
        stage: Stage,
        beam: Beam,
        score: f64,
        /// Who judged: `scripted`, `prm`, `orm`…
        judge: String,
    },
    BeamsKept {
        stage: Stage,
        kept: Vec<Beam>,
        pruned: Vec<Pruned>,
    },
    ToolCall {
        stage: Stage,
        beam: Beam,
        call_id: u32,
        name: String,
        args: serde_json::Value,
    },
    ToolResult {
        stage: Stage,
        beam: Beam,
        call_id: u32,
        ok: bool,
        output: String,
    },
    /// The locations a localize candidate's answer resolved to: files of the repository and
    /// line spans inside them, after ponder filled in or corrected what the model wrote (a named
    /// function's span for made-up lines). What the patch stage is shown, and what location
    /// accuracy is measured on.
    Located {
        beam: Beam,
        locations: Vec<crate::answer::Location>,
    },
    PatchProposed {
        beam: Beam,
        /// Unified diff, `git apply`-able.
        diff: String,
        files: Vec<String>,
        /// Candidates that proposed this same patch (after normalising), this one included.
        #[serde(default = "one")]
        votes: u32,
        /// Other candidates whose identical patch was merged into this one.
        #[serde(default)]
        merged: Vec<Beam>,
        /// How the SEARCH text was found: `exact`, `whitespace` or `fuzzy`.
        #[serde(default)]
        matching: String,
    },
    TestRun {
        /// On the patched tree: the patch candidate tested. On the original tree: the verify
        /// candidate whose reproduction script ran (0 for the regression suite).
        beam: Beam,
        /// The verify candidate whose reproduction script ran; `None` for the regression suite.
        #[serde(default)]
        repro: Option<Beam>,
        test: TestKind,
        tree: Tree,
        outcome: TestOutcome,
        /// Exit status, when the process exited by itself.
        exit_code: Option<i32>,
        duration_ms: u64,
        output_tail: String,
    },
    Ranked {
        ranking: Vec<RankEntry>,
    },
    Paused,
    Resumed,
    /// The user steered the search (pin, drop, edit, re-roll, gate, continue).
    Steered {
        command: Command,
    },
    /// The pipeline waits at a stage boundary for the user (gate mode).
    GateWaiting {
        stage: Stage,
    },
    /// A stage has no usable candidate; the pipeline waits for the user to re-roll it, edit a
    /// candidate's answer or write one (when nobody can answer, the session fails instead).
    StageStuck {
        stage: Stage,
        reason: String,
    },
    /// A generation of evolutionary search finished.
    GenerationScored {
        generation: u32,
        best: f64,
        mean: f64,
    },
    Error {
        stage: Option<Stage>,
        beam: Option<Beam>,
        message: String,
    },
    /// How far indexing the repository has got: `done` files of `total`, `reused` of them
    /// taken unchanged from the persisted index. Reported on fixed thresholds, first with
    /// `done` 0 and last with `done == total`.
    IndexProgress {
        done: u32,
        total: u32,
        #[serde(default)]
        reused: u32,
    },
    /// What the search decided and why: an early stop, a repair round, a generation.
    Note {
        stage: Option<Stage>,
        message: String,
    },
    SessionFinished {
        outcome: Outcome,
    },
}

fn one() -> u32 {
    1
}

/// One chat message of a recorded prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

/// One journal line: an event with its place and time in the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// 0-based position in the session's event stream.
    pub seq: u64,
    /// Milliseconds since the session started (drives timed replay).
    pub t_ms: u64,
    #[serde(flatten)]
    pub event: Event,
}
