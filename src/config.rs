//! Settings: built-in defaults, laid over by the config file, laid over by command-line flags.
//!
//! The config file is `config.toml` in the platform's config directory (`~/.config/ponder/` on
//! Linux), or the file named by `$PONDER_CONFIG`. Every key is optional:
//!
//! ```toml
//! budget = 4              # N and k per stage derive from it (see SearchSettings::for_budget)
//! search = "beam"         # or "evolve"
//! think = "auto"          # "on": think in <think> tags; "off": answer at once; "auto": from the model
//! think_budget = 4096     # tokens of thinking per candidate
//! test_cmd = "pytest -q"
//! theme = "light"       # dark, light, high-contrast, or themes/NAME.toml beside this file
//! [stage.patch]           # explicit per-stage overrides
//! n = 8
//! k = 2
//! think_budget = 8192
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::event::{SearchSettings, SearchStrategy, Settings, Stage, ThinkMode};

/// Keys of the config file; all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub budget: Option<u32>,
    pub search: Option<SearchStrategy>,
    pub generations: Option<u32>,
    pub population: Option<u32>,
    pub repair_rounds: Option<u32>,
    pub gate: Option<bool>,
    pub think: Option<ThinkMode>,
    pub think_budget: Option<u32>,
    pub answer_budget: Option<u32>,
    pub temperature: Option<f32>,
    pub seed: Option<u64>,
    pub test_timeout_s: Option<u64>,
    pub test_cmd: Option<String>,
    /// The llama.cpp engine's table, read by `model::llama::LlamaConfig`.
    pub llama: Option<toml::Value>,
    /// The OpenAI-compatible engine's table, read by `model::openai::OpenAiConfig`.
    pub openai: Option<toml::Value>,
    /// The interface's theme: dark, light, high-contrast, or `themes/NAME.toml` here (read by
    /// the interface).
    pub theme: Option<String>,
    /// Per-stage overrides of N and k, by stage name.
    #[serde(default)]
    pub stage: BTreeMap<String, StageOverride>,
}

/// `[stage.NAME]`: candidates generated and kept at one stage, and their token budgets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageOverride {
    pub n: Option<u32>,
    pub k: Option<u32>,
    pub think_budget: Option<u32>,
    pub answer_budget: Option<u32>,
}

/// The built-in defaults.
pub fn default_settings() -> Settings {
    Settings {
        think_budget: 4096,
        answer_budget: 2048,
        temperature: 0.7,
        seed: 42,
        test_timeout_s: 60,
        test_cmd: None,
        search: SearchSettings::default(),
        allow_unsandboxed: false,
        sandbox: None,
        think: ThinkMode::Auto,
        until: None,
    }
}

/// Where the config file is looked for.
pub fn config_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PONDER_CONFIG") {
        return Some(PathBuf::from(path));
    }
    directories::ProjectDirs::from("dev", "ponder", "ponder")
        .map(|d| d.config_dir().join("config.toml"))
}

/// Where downloaded models are kept (`scripts/models.sh` fetches the small test models there):
/// `$PONDER_MODELS_DIR`, else the platform's cache directory (`~/.cache/ponder/models` on Linux).
pub fn models_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PONDER_MODELS_DIR") {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("dev", "ponder", "ponder").map(|d| d.cache_dir().join("models"))
}

/// Defaults laid over by the config file, if there is one.
pub fn load_settings() -> Result<Settings> {
    let mut settings = default_settings();
    let Some(path) = config_path() else {
        return Ok(settings);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(settings),
        Err(err) => {
            return Err(err)
                .with_context(|| format!("cannot read the config file {}", path.display()));
        }
    };
    let file: ConfigFile = toml::from_str(&text)
        .with_context(|| format!("the config file {} has an error", path.display()))?;
    apply(&mut settings, file).with_context(|| format!("in the config file {}", path.display()))?;
    Ok(settings)
}

/// Lays the keys that are set over `settings`.
pub fn apply(settings: &mut Settings, file: ConfigFile) -> Result<()> {
    let ConfigFile {
        budget,
        search,
        generations,
        population,
        repair_rounds,
        gate,
        think,
        think_budget,
        answer_budget,
        temperature,
        seed,
        test_timeout_s,
        test_cmd,
        stage,
        llama: _,
        openai: _,
        theme: _,
    } = file;
    if let Some(budget) = budget {
        let strategy = settings.search.strategy;
        settings.search = SearchSettings::for_budget(budget);
        settings.search.strategy = strategy;
    }
    let s = &mut settings.search;
    s.strategy = search.unwrap_or(s.strategy);
    s.generations = generations.unwrap_or(s.generations);
    s.population = population.unwrap_or(s.population);
    s.repair_rounds = repair_rounds.unwrap_or(s.repair_rounds);
    s.gate = gate.unwrap_or(s.gate);
    for (name, over) in stage {
        let Some(index) = Stage::ALL.iter().position(|st| st.name() == name) else {
            bail!(
                "[stage.{name}] is not a stage; the stages are understand, localize, patch and verify"
            );
        };
        s.n[index] = over.n.unwrap_or(s.n[index]);
        s.k[index] = over.k.unwrap_or(s.k[index]);
        s.think[index] = over.think_budget.or(s.think[index]);
        s.answer[index] = over.answer_budget.or(s.answer[index]);
    }
    settings.think = think.unwrap_or(settings.think);
    settings.think_budget = think_budget.unwrap_or(settings.think_budget);
    settings.answer_budget = answer_budget.unwrap_or(settings.answer_budget);
    settings.temperature = temperature.unwrap_or(settings.temperature);
    settings.seed = seed.unwrap_or(settings.seed);
    settings.test_timeout_s = test_timeout_s.unwrap_or(settings.test_timeout_s);
    settings.test_cmd = test_cmd.or(settings.test_cmd.take());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings> {
        let mut settings = default_settings();
        apply(&mut settings, toml::from_str(text)?)?;
        Ok(settings)
    }

    #[test]
    fn file_keys_override_defaults_and_unknown_keys_are_refused() {
        let settings =
            parse("think_budget = 10\nthink = \"off\"\ntest_cmd = \"make test\"").unwrap();
        assert_eq!(settings.think_budget, 10);
        assert_eq!(settings.think, ThinkMode::Off);
        assert!(parse("think = \"maybe\"").is_err());
        assert_eq!(settings.test_cmd.as_deref(), Some("make test"));
        assert_eq!(settings.answer_budget, default_settings().answer_budget);
        assert!(toml::from_str::<ConfigFile>("thinking = 3").is_err());
    }

    #[test]
    fn budget_then_stage_overrides() {
        let settings =
            parse("budget = 4\nsearch = \"evolve\"\n[stage.patch]\nn = 8\nthink_budget = 99\n")
                .unwrap();
        assert_eq!(settings.think_budget(Stage::Patch), 99);
        assert_eq!(
            settings.think_budget(Stage::Localize),
            settings.think_budget
        );
        assert_eq!(settings.search.strategy, SearchStrategy::Evolve);
        assert_eq!(settings.search.n(Stage::Understand), 4);
        assert_eq!(settings.search.k(Stage::Understand), 2);
        assert_eq!(settings.search.n(Stage::Patch), 8);
        let err = parse("[stage.deploy]\nn = 2").unwrap_err().to_string();
        assert!(err.contains("not a stage"), "{err}");
    }
}
