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
mod state;

pub use command::{Aborted, Command, Control, GateDecision, RerollOptions, Steering};
pub use emitter::{Emitter, Replay, is_user_event};
pub use state::{
    CandidateState, CandidateStatus, ErrorState, PatchState, RequestState, SessionState,
    StageState, StageStatus, TestRunState, ToolCallState,
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

/// What the session works on and with; the first event of every session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionHeader {
    /// Journal format version ([`FORMAT_VERSION`] when written by this build).
    pub format: u32,
    pub ponder_version: String,
    pub session_id: String,
    /// Wall-clock start, milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    pub issue: Issue,
    /// Absolute path of the repository being fixed.
    pub repo: String,
    pub engine: EngineInfo,
    pub settings: Settings,
    /// What else it takes to reproduce the run; `None` in journals written before it was recorded.
    #[serde(default)]
    pub reproduce: Option<Reproduction>,
    /// Whether the model was asked to think in tags, and why; `None` in older journals.
    #[serde(default)]
    pub reasoning: Option<Reasoning>,
}

/// Whether a model reasons in `<think>` tags before it answers: the `think` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThinkMode {
    /// Decided from the model's chat template and vocabulary.
    #[default]
    Auto,
    /// Open `<think>` and let the model think up to the think budget, then answer.
    On,
    /// No `<think>`: the model answers at once.
    Off,
    /// No `<think>`: a few sentences of plain reasoning, then `ANSWER:` and the answer.
    Brief,
}

impl ThinkMode {
    pub fn name(self) -> &'static str {
        match self {
            ThinkMode::Auto => "auto",
            ThinkMode::On => "on",
            ThinkMode::Off => "off",
            ThinkMode::Brief => "brief",
        }
    }
}

/// How a session's model reasons, as decided at its start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reasoning {
    /// The `think` setting asked for.
    pub mode: ThinkMode,
    /// True when candidates reason before answering.
    pub thinks: bool,
    /// …in a few sentences of plain text rather than in `<think>` tags.
    #[serde(default)]
    pub brief: bool,
    /// Why: what in the setting, template or vocabulary decided it.
    pub why: String,
}

/// Where an engine's answers come from, so `ponder resume` can start the same engine again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum EngineSource {
    /// A script file (`ponder fix --script`).
    Script { path: String },
    /// The script built into ponder for `ponder demo`.
    DemoScript,
    /// A GGUF run in-process with llama.cpp, and the judge model or adapter if any.
    Model {
        path: String,
        #[serde(default)]
        judge_model: Option<String>,
        #[serde(default)]
        judge_lora: Option<String>,
    },
}

/// A model file as it was when the session ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// File name, without its folder.
    pub name: String,
    pub path: String,
    pub size: u64,
    /// Hex digest identifying the file; `fingerprint_kind` says of what.
    pub fingerprint: String,
    /// e.g. `sha256(size, first MiB, last MiB)`: fast on a 20 GB file, not a full-file hash.
    pub fingerprint_kind: String,
}

/// How tokens were drawn: what every request used, and how each candidate's seed is derived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingInfo {
    pub temperature: f32,
    pub top_p: f32,
    pub top_k: u32,
    pub min_p: f32,
    /// The session seed ([`Settings::seed`]).
    pub seed: u64,
    /// How a candidate's seed follows from the session seed.
    pub seed_rule: String,
}

/// The header's reproducibility record: versions, engine files, sampling and prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reproduction {
    /// The llama.cpp this ponder was built with (the `llama-cpp-sys-2` crate that vendors it) and
    /// its backends.
    pub llama_cpp: String,
    #[serde(default)]
    pub engine_source: Option<EngineSource>,
    /// The generating model, for a llama.cpp engine.
    #[serde(default)]
    pub model: Option<ModelFile>,
    /// The judging model, when a second GGUF judges.
    #[serde(default)]
    pub judge_model: Option<ModelFile>,
    pub sampling: SamplingInfo,
    /// SHA-256 of every prompt template as used, by template name.
    pub prompts: std::collections::BTreeMap<String, String>,
    /// The templates replaced by the user's own files.
    #[serde(default)]
    pub prompt_overrides: Vec<String>,
}

/// The issue text, split into its first line (title) and the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub title: String,
    pub body: String,
}

impl Issue {
    /// Splits issue text into a title (first non-empty line, without a leading `#`) and body.
    pub fn from_text(text: &str) -> Issue {
        let text = text.trim();
        let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
        Issue {
            title: first.trim_start_matches('#').trim().to_string(),
            body: rest.trim().to_string(),
        }
    }
}

/// Which engine produced the tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineInfo {
    /// `scripted`, `llama` or `openai`.
    pub kind: String,
    /// Human description: model file and quantisation, server URL, or script file.
    pub description: String,
    /// True when responses are prepared text, not model output. Shown on screen whenever true.
    pub scripted: bool,
    /// Tokens the engine's context holds (a stage's shared prompt and all its candidates), when
    /// the engine knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<u32>,
    /// Where the model runs: `CPU` or the GPU's name, when the engine knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// The knobs that shaped the run, recorded so it can be understood and reproduced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub think_budget: u32,
    pub answer_budget: u32,
    pub temperature: f32,
    pub seed: u64,
    pub test_timeout_s: u64,
    /// Regression test command run on the original and patched tree, if any.
    #[serde(default)]
    pub test_cmd: Option<String>,
    /// The search over candidates.
    #[serde(default)]
    pub search: SearchSettings,
    /// Run model-written code even where ponder cannot sandbox it (`--allow-unsandboxed`).
    #[serde(default)]
    pub allow_unsandboxed: bool,
    /// How model-written code is isolated on this machine, as ponder found it at start.
    #[serde(default)]
    pub sandbox: Option<String>,
    /// Whether the model thinks in `<think>` tags (`auto` decides from the model).
    #[serde(default)]
    pub think: ThinkMode,
    /// Stop after this stage (`--until`), e.g. to see the localization alone.
    #[serde(default)]
    pub until: Option<Stage>,
}

impl Settings {
    /// Tokens of thinking a candidate of `stage` may spend.
    pub fn think_budget(&self, stage: Stage) -> u32 {
        self.search.think[stage.index()].unwrap_or(self.think_budget)
    }

    /// Tokens of answer a candidate of `stage` may spend.
    pub fn answer_budget(&self, stage: Stage) -> u32 {
        self.search.answer[stage.index()].unwrap_or(self.answer_budget)
    }
}

/// How candidates are searched: beams per stage, or evolution of patches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchSettings {
    /// `beam` (Dev-Search) or `evolve` (EvoScale).
    pub strategy: SearchStrategy,
    /// The budget B that the per-stage numbers below derive from.
    pub budget: u32,
    /// Candidates generated per stage.
    pub n: [u32; 4],
    /// Candidates kept per stage.
    pub k: [u32; 4],
    /// Repair rounds for a patch that fails verification.
    pub repair_rounds: u32,
    /// Evolution: generations and population.
    pub generations: u32,
    pub population: u32,
    /// Stop expanding a stage when its best PRM score is at least this…
    pub confident_score: f64,
    /// …and leads the next by at least this.
    pub confident_margin: f64,
    /// Wait for the user at every stage boundary.
    pub gate: bool,
    /// Per-stage think budgets overriding [`Settings::think_budget`].
    #[serde(default)]
    pub think: [Option<u32>; 4],
    /// Per-stage answer budgets overriding [`Settings::answer_budget`].
    #[serde(default)]
    pub answer: [Option<u32>; 4],
}

/// The search strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchStrategy {
    Beam,
    Evolve,
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings::for_budget(1)
    }
}

impl SearchSettings {
    /// Spends a budget B: every stage generates N = B candidates and keeps k = ⌊√B⌋ (at least 1);
    /// verification writes up to B reproduction tests; failing patches get one repair round from
    /// B = 2; evolution runs ⌈B/2⌉ generations of B patches.
    pub fn for_budget(budget: u32) -> SearchSettings {
        let budget = budget.max(1);
        let k = (budget as f64).sqrt().floor().max(1.0) as u32;
        SearchSettings {
            strategy: SearchStrategy::Beam,
            budget,
            n: [budget; 4],
            k: [k, k, k, k.clamp(1, 2)],
            repair_rounds: u32::from(budget >= 2),
            generations: budget.div_ceil(2),
            population: budget,
            confident_score: 0.9,
            confident_margin: 0.3,
            gate: false,
            think: [None; 4],
            answer: [None; 4],
        }
    }

    pub fn n(&self, stage: Stage) -> u32 {
        self.n[stage.index()].max(1)
    }

    pub fn k(&self, stage: Stage) -> u32 {
        self.k[stage.index()].max(1)
    }
}

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
