//! The knobs that shape a run (budgets, sampling, the search), recorded in the session header so
//! a run can be understood and reproduced.

use serde::{Deserialize, Serialize};

use super::Stage;

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
    /// Whether the model reasons before answering (`auto` decides from the model).
    #[serde(default)]
    pub think: ThinkMode,
    /// Stop after this stage (`--until`), e.g. to see the localization alone.
    #[serde(default)]
    pub until: Option<Stage>,
    /// The virtualenv folder Python runs with in verification (`python_env`, `--python-env`);
    /// `None`: the active one, else `.venv/` or `venv/` in the repository, else the system's.
    #[serde(default)]
    pub python_env: Option<String>,
    /// Functions and classes of the kept files listed, ranked for the issue, in the localize
    /// prompt (`ranked_symbols`; 0 leaves the list out).
    #[serde(default = "default_ranked_symbols")]
    pub ranked_symbols: u32,
}

/// The ranked functions and classes a localize prompt lists unless set otherwise.
pub const RANKED_SYMBOLS: u32 = 10;

fn default_ranked_symbols() -> u32 {
    RANKED_SYMBOLS
}

/// Whether a model reasons before it answers: the `think` setting.
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
