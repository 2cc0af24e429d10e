//! The session header, the first event of every session: what the session works on (the issue,
//! the repository), with what (the engine, the settings), and what it takes to reproduce it.

use serde::{Deserialize, Serialize};

use super::{Settings, ThinkMode};

/// What the session works on and with; the first event of every session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionHeader {
    /// Journal format version ([`super::FORMAT_VERSION`] when written by this build).
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
    /// Whether the model was asked to reason first, and why; `None` in older journals.
    #[serde(default)]
    pub reasoning: Option<Reasoning>,
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

impl Reasoning {
    /// The decision under `mode`: `on`, `brief` and `off` decide by themselves; `auto` takes
    /// `auto` (whether the model thinks, and why), which only the engine can tell.
    pub fn decide(mode: ThinkMode, auto: impl FnOnce() -> (bool, String)) -> Reasoning {
        let (thinks, why) = match mode {
            ThinkMode::On => (true, "think = on".to_string()),
            ThinkMode::Brief => (true, "think = brief".to_string()),
            ThinkMode::Off => (false, "think = off".to_string()),
            ThinkMode::Auto => auto(),
        };
        Reasoning {
            mode,
            thinks,
            brief: mode == ThinkMode::Brief,
            why,
        }
    }
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

    /// Title and body as one text, what retrieval searches with.
    pub fn text(&self) -> String {
        format!("{}\n\n{}", self.title, self.body)
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
