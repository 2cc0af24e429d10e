//! The config file, read once: built-in defaults, laid over by the file, laid over by the
//! environment and command-line flags (which the commands apply).
//!
//! The config file is `config.toml` in the platform's config directory (`~/.config/ponder/` on
//! Linux), or the file named by `$PONDER_CONFIG`. It is read and parsed in one place, into one
//! typed [`Config`] with a section per part (`[llama]`, `[openai]`, `[stage.NAME]`); the parts are
//! handed their section from here, never read the file themselves. A mistake is one error that
//! names the file, the line and the key. Every key is optional:
//!
//! ```toml
//! budget = 4              # N and k per stage derive from it (see SearchSettings::for_budget)
//! search = "beam"         # or "evolve"
//! think = "auto"          # "on": think in <think> tags; "off": answer at once; "auto": from the model
//! think_budget = 4096     # tokens of thinking per candidate
//! test_cmd = "pytest -q"
//! python_env = ".venv"    # the virtualenv Python runs with in verification (relative to the repo)
//! ranked_symbols = 10     # functions and classes ranked for the issue in the localize prompt
//! theme = "light"       # dark, light, high-contrast, or themes/NAME.toml beside this file
//! [stage.patch]           # explicit per-stage overrides
//! n = 8
//! k = 2
//! think_budget = 8192
//! [llama]                 # the llama.cpp engine (see model::llama::LlamaConfig)
//! model = "~/models/qwen2.5-coder-7b-q4_k_m.gguf"
//! [openai]                # an OpenAI-compatible server (see model::openai::OpenAiConfig)
//! base_url = "http://gpu-box:8000/v1"
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;

use crate::event::{SearchSettings, SearchStrategy, Settings, Stage, ThinkMode};
use crate::model::llama::LlamaConfig;
use crate::model::openai::OpenAiConfig;

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
    pub python_env: Option<String>,
    pub ranked_symbols: Option<u32>,
    /// `[llama]`: the llama.cpp engine.
    #[serde(default)]
    pub llama: LlamaConfig,
    /// `[openai]`: the OpenAI-compatible engine.
    #[serde(default)]
    pub openai: OpenAiConfig,
    /// The interface's theme: dark, light, high-contrast, or `themes/NAME.toml` beside the file.
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

/// The config file as read: where it is, and its keys (all defaults when there is no file).
#[derive(Debug, Default)]
pub struct Config {
    /// The file looked for; `None` when the platform has no config directory.
    pub path: Option<PathBuf>,
    pub file: ConfigFile,
}

impl Config {
    /// Reads the config file, if there is one (a missing file means every default).
    pub fn load() -> Result<Config> {
        let Some(path) = config_path() else {
            return Ok(Config::default());
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config {
                    path: Some(path),
                    file: ConfigFile::default(),
                });
            }
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("cannot read the config file {}", path.display()));
            }
        };
        Config::parse(&text, &path)
    }

    /// Parses the text of the config file at `path` and checks every value it can check alone.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let file: ConfigFile = toml::from_str(text).map_err(|err| {
            let span = err.span().unwrap_or(0..0);
            located(path, text, span, err.message())
        })?;
        check(&file).map_err(|(key, message)| {
            let span = key_span(text, &key).unwrap_or(0..0);
            located(path, text, span, &message)
        })?;
        Ok(Config {
            path: Some(path.to_path_buf()),
            file,
        })
    }

    /// The built-in defaults laid over by the file's keys.
    pub fn settings(&self) -> Settings {
        let mut settings = default_settings();
        apply(&mut settings, &self.file);
        settings
    }

    /// The `[llama]` section, laid over by `$PONDER_MODEL`.
    pub fn llama(&self) -> LlamaConfig {
        let mut llama = self.file.llama.clone();
        if let Some(model) = std::env::var_os("PONDER_MODEL") {
            llama.model = Some(PathBuf::from(model));
        }
        llama
    }

    /// The `[openai]` section.
    pub fn openai(&self) -> OpenAiConfig {
        self.file.openai.clone()
    }

    /// The `theme = "…"` key.
    pub fn theme(&self) -> Option<&str> {
        self.file.theme.as_deref()
    }

    /// The folder of prompt overrides: `prompts/` beside the config file.
    pub fn prompts_dir(&self) -> Option<PathBuf> {
        self.beside("prompts")
    }

    /// The folder of user themes: `themes/` beside the config file.
    pub fn themes_dir(&self) -> Option<PathBuf> {
        self.beside("themes")
    }

    fn beside(&self, name: &str) -> Option<PathBuf> {
        Some(self.path.as_deref()?.parent()?.join(name))
    }
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
        python_env: None,
        ranked_symbols: crate::event::RANKED_SYMBOLS,
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

/// Lays the keys that are set over `settings`.
fn apply(settings: &mut Settings, file: &ConfigFile) {
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
        python_env,
        ranked_symbols,
        stage,
        llama: _,
        openai: _,
        theme: _,
    } = file;
    if let Some(budget) = *budget {
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
        // Names were checked when the file was read.
        let Some(index) = Stage::ALL.iter().position(|st| st.name() == name) else {
            continue;
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
    settings.test_cmd = test_cmd.clone().or(settings.test_cmd.take());
    settings.python_env = python_env.clone().or(settings.python_env.take());
    settings.ranked_symbols = ranked_symbols.unwrap_or(settings.ranked_symbols);
}

/// Values that parse but cannot be used: the key (dotted) and what is wrong with it.
fn check(file: &ConfigFile) -> Result<(), (String, String)> {
    if let Some(name) = file
        .stage
        .keys()
        .find(|name| !Stage::ALL.iter().any(|s| s.name() == *name))
    {
        return Err((
            format!("stage.{name}"),
            format!(
                "[stage.{name}] is not a stage; the stages are understand, localize, patch and \
                 verify"
            ),
        ));
    }
    file.llama
        .check()
        .map_err(|(key, message)| (format!("llama.{key}"), message))?;
    file.openai
        .check()
        .map_err(|(key, message)| (format!("openai.{key}"), message))?;
    Ok(())
}

/// One error naming the file, the line and the key at `span` of `text`, and what to do.
fn located(path: &Path, text: &str, span: Range<usize>, message: &str) -> anyhow::Error {
    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
    let key = key_at(text, span.start)
        .map(|key| format!(", key `{key}`"))
        .unwrap_or_default();
    anyhow!(
        "the config file {} has an error at line {line}{key}: {message}. Fix or remove that key \
         (every key is optional; docs/configuration.md lists them)",
        path.display()
    )
}

/// The dotted key whose name or value holds byte `offset` of `text`, the innermost one.
fn key_at(text: &str, offset: usize) -> Option<String> {
    fn walk(table: &toml::de::DeTable<'_>, offset: usize, path: &mut Vec<String>) -> bool {
        for (key, value) in table {
            let inside =
                |span: Range<usize>| span.start <= offset && offset < span.end.max(span.start + 1);
            path.push(key.get_ref().to_string());
            if let toml::de::DeValue::Table(inner) = value.get_ref()
                && walk(inner, offset, path)
            {
                return true;
            }
            if inside(key.span()) || inside(value.span()) {
                return true;
            }
            path.pop();
        }
        false
    }
    let root = toml::de::DeTable::parse(text).ok()?;
    let mut path = Vec::new();
    walk(root.get_ref(), offset, &mut path).then(|| path.join("."))
}

/// Where the dotted `key` is written in `text`.
fn key_span(text: &str, key: &str) -> Option<Range<usize>> {
    let root = toml::de::DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let (name, value) = table.get_key_value(part)?;
        if parts.peek().is_none() {
            return Some(name.span());
        }
        let toml::de::DeValue::Table(inner) = value.get_ref() else {
            return Some(name.span());
        };
        table = inner;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/home/u/.config/ponder/config.toml"))
    }

    fn error(text: &str) -> String {
        format!("{:#}", parse(text).unwrap_err())
    }

    #[test]
    fn file_keys_override_defaults_and_unknown_keys_are_refused() {
        let settings = parse("think_budget = 10\nthink = \"off\"\ntest_cmd = \"make test\"")
            .unwrap()
            .settings();
        assert_eq!(settings.think_budget, 10);
        assert_eq!(settings.think, ThinkMode::Off);
        assert!(parse("think = \"maybe\"").is_err());
        assert_eq!(settings.test_cmd.as_deref(), Some("make test"));
        assert_eq!(settings.answer_budget, default_settings().answer_budget);
        assert_eq!(settings.ranked_symbols, 10);
        let none = parse("ranked_symbols = 0").unwrap().settings();
        assert_eq!(none.ranked_symbols, 0);
        let err = error("seed = 1\nthinking = 3");
        assert!(
            err.contains(
                "/home/u/.config/ponder/config.toml has an error at line 2, key `thinking`"
            ),
            "{err}"
        );
        assert!(err.contains("unknown field `thinking`"), "{err}");
    }

    #[test]
    fn budget_then_stage_overrides() {
        let settings =
            parse("budget = 4\nsearch = \"evolve\"\n[stage.patch]\nn = 8\nthink_budget = 99\n")
                .unwrap()
                .settings();
        assert_eq!(settings.think_budget(Stage::Patch), 99);
        assert_eq!(
            settings.think_budget(Stage::Localize),
            settings.think_budget
        );
        assert_eq!(settings.search.strategy, SearchStrategy::Evolve);
        assert_eq!(settings.search.n(Stage::Understand), 4);
        assert_eq!(settings.search.k(Stage::Understand), 2);
        assert_eq!(settings.search.n(Stage::Patch), 8);
        let err = error("seed = 1\n\n[stage.deploy]\nn = 2");
        assert!(err.contains("line 3, key `stage.deploy`"), "{err}");
        assert!(err.contains("not a stage"), "{err}");
    }

    #[test]
    fn engine_sections_are_read_with_the_rest() {
        let config = parse(
            "think_budget = 3\ntheme = \"light\"\n[llama]\nmodel = \"m.gguf\"\nkv_type = \"q8_0\"\n\
             n_ctx = 4096\n[openai]\nbase_url = \"http://box:8000\"\ngrammar = \"guided\"\n\
             [openai.extra]\nchat_template_kwargs = { enable_thinking = false }\n",
        )
        .unwrap();
        let llama = &config.file.llama;
        assert_eq!(llama.model, Some(PathBuf::from("m.gguf")));
        assert_eq!(llama.kv_type, crate::model::llama::KvChoice::Q8_0);
        assert_eq!((llama.n_ctx, llama.n_batch), (4096, 512));
        let openai = config.openai();
        assert_eq!(openai.api_root().unwrap(), "http://box:8000/v1");
        assert_eq!(openai.grammar, crate::model::openai::GrammarField::Guided);
        assert!(openai.extra.unwrap().contains_key("chat_template_kwargs"));
        assert_eq!(config.theme(), Some("light"));
        assert_eq!(
            config.themes_dir(),
            Some(PathBuf::from("/home/u/.config/ponder/themes"))
        );
        assert_eq!(parse("").unwrap().file.llama.n_batch, 512);
    }

    #[test]
    fn a_mistake_in_a_section_names_its_line_and_dotted_key() {
        let err = error("seed = 1\n[llama]\nn_ctx = 4096\nkv = 1\n");
        assert!(err.contains("line 4, key `llama.kv`"), "{err}");
        let err = error("[openai]\nkey = \"sk-1\"\n");
        assert!(err.contains("line 2, key `openai.key`"), "{err}");
        let err = error("[llama]\nkv_type = \"q9\"\n");
        assert!(err.contains("line 2, key `llama.kv_type`"), "{err}");
        assert!(err.contains("q9"), "{err}");
        let err = error("budget = \"four\"\n");
        assert!(err.contains("line 1, key `budget`"), "{err}");
        // Values that parse but cannot be used are placed the same way.
        let err = error("[llama]\nmodel = \"m.gguf\"\nn_ctx = 8\n");
        assert!(err.contains("line 3, key `llama.n_ctx`"), "{err}");
        let err = error("\n[openai]\nmax_concurrent = 0\n");
        assert!(err.contains("line 3, key `openai.max_concurrent`"), "{err}");
        // A file that is not TOML at all still says where.
        let err = error("seed = 1\nthis is not toml\n");
        assert!(err.contains("line 2"), "{err}");
    }
}
