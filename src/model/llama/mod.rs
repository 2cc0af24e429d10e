//! The llama.cpp engine, in process through `llama-cpp-2`: one GGUF loaded once with one
//! long-lived context whose sequences are slots of a prefix cache ([`slots`]), every decode going
//! through one loop ([`scheduler`]): a stage's N candidates share their prompt's cells, and what
//! any request decoded (the system prompt and the issue, a candidate's transcript, a judging
//! prompt) is reused by the next request that starts with the same tokens.
//!
//! The file is checked in Rust ([`crate::model::gguf`]) before llama.cpp loads it, so a damaged
//! file is an error naming it, not a crash; the memory planner ([`plan`]) sizes the context and
//! picks the KV types from the header and the device's free memory before the weights load, and
//! refuses a model that cannot fit, saying what would.

pub mod background;
pub mod bench;
pub mod cache;
mod candidate;
mod config;
pub mod decode;
pub mod doctor;
mod grammar;
mod job;
mod judge;
pub mod plan;
mod prompt;
pub mod run;
pub mod scheduler;
pub mod slots;

pub use config::{FlashAttention, KvChoice, KvType, LlamaConfig};
pub use run::generate_with_stats;
pub use scheduler::{LoopStats, TokenLogprobs};
pub use slots::{CacheStats, Slots};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Result, anyhow, bail};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaLoraAdapter, LlamaModel};

use super::gguf::{ModelMetadata, read_metadata};
use super::{Engine, GenerateRequest, Generation, JudgeRequest, TokenSink};
use crate::event::{Control, EngineInfo, EngineSource, Reasoning, ThinkMode};
use judge::YesNo;
use plan::{Demand, Memory, Plan, Shape};
use prompt::PromptFormat;

/// Told how far loading the weights has got, in [0, 1]; returning false stops the load.
pub type Progress = Box<dyn FnMut(f32) -> bool + Send>;

/// llama.cpp's process-wide backend, initialised once with its logging silenced (it would
/// scribble over the terminal interface).
pub fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut backend = LlamaBackend::init().map_err(|e| e.to_string())?;
            if std::env::var_os("PONDER_LLAMA_LOG").is_none() {
                backend.void_logs();
            }
            Ok(backend)
        })
        .as_ref()
        .map_err(|e| anyhow!("cannot start llama.cpp: {e}"))
}

/// One loaded GGUF with what ponder knows about it.
pub struct LoadedModel {
    pub path: PathBuf,
    pub meta: ModelMetadata,
    pub model: LlamaModel,
    format: PromptFormat,
    yes_no: Option<YesNo>,
}

impl LoadedModel {
    /// Checks and loads a GGUF; `chat_template` overrides the model's own.
    pub fn load(path: &Path, config: &LlamaConfig) -> Result<LoadedModel> {
        LoadedModel::load_with(path, config, None)
    }

    /// [`LoadedModel::load`], telling `progress` how far it has got (which may stop it).
    pub fn load_with(
        path: &Path,
        config: &LlamaConfig,
        progress: Option<Progress>,
    ) -> Result<LoadedModel> {
        let meta = read_metadata(path)?;
        let backend = backend()?;
        let mut params = LlamaModelParams::default().with_n_gpu_layers(config.n_gpu_layers);
        let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        if let Some(mut progress) = progress {
            let flag = stopped.clone();
            params = params.with_progress_callback(move |fraction| {
                let go_on = progress(fraction);
                if !go_on {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                go_on
            });
        }
        let model = LlamaModel::load_from_file(backend, path, &params).map_err(|e| {
            if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                return anyhow!("loading {} was stopped", path.display());
            }
            anyhow!(
                "llama.cpp could not load {} ({} model, {}): {e}; the architecture may be newer \
                 than this build of ponder",
                path.display(),
                meta.architecture,
                meta.quantization
            )
        })?;
        let format = PromptFormat::new(&model, &meta, config.chat_template.as_deref());
        let yes_no = YesNo::resolve(&model).ok();
        Ok(LoadedModel {
            path: path.to_path_buf(),
            meta,
            model,
            format,
            yes_no,
        })
    }

    /// The prompt text of `messages`, ending where the assistant's reply begins.
    pub fn render(&self, messages: &[super::Message]) -> Result<String> {
        self.format.render(&self.model, messages)
    }

    /// Tokenizes prompt text (special tokens parsed, BOS added when the model wants one and the
    /// text does not already start with it).
    pub fn tokenize(&self, text: &str) -> Vec<llama_cpp_2::token::LlamaToken> {
        let vocab = self.model.vocab();
        let bos = vocab.token_to_piece(vocab.bos(), true, None);
        let add_bos = vocab.should_add_bos() && !text.as_bytes().starts_with(&bos);
        vocab.tokenize(text.as_bytes(), add_bos, true)
    }

    /// Which chat template renders this model's prompts, and why.
    pub fn template_choice(&self) -> &str {
        &self.format.chosen
    }

    /// Whether this model's candidates think under `mode`, and why.
    pub fn reasoning(&self, mode: ThinkMode) -> Reasoning {
        self.format.reasoning(mode)
    }

    /// One line naming the model: file, architecture, size, quantization.
    pub fn describe(&self) -> String {
        describe(&self.path, &self.meta)
    }
}

/// One line naming a model file: file, architecture, size, quantization.
pub fn describe(path: &Path, meta: &ModelMetadata) -> String {
    format!(
        "{} ({}, {} params, {})",
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into()
        ),
        meta.architecture,
        meta.parameters_human(),
        meta.quantization
    )
}

/// Where a configured engine's answers come from, for the journal header and `ponder resume`.
fn source(config: &LlamaConfig) -> Option<EngineSource> {
    let path = config.model_path().ok()?;
    let show = |p: &std::path::PathBuf| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string()
    };
    Some(EngineSource::Model {
        path: show(&path),
        judge_model: config.judge_model.as_ref().map(show),
        judge_lora: config.judge_lora.as_ref().map(show),
    })
}

/// Who judges candidates.
enum Judge {
    /// The generating model itself, with a judging prompt.
    Same,
    /// The generating model with a LoRA adapter applied while judging.
    Lora(LlamaLoraAdapter),
    /// A second model, with its own context.
    Other(Box<Slots>),
}

/// The cache tag of cells computed with the judge's LoRA adapter.
const LORA_TAG: u32 = 1;

/// The llama.cpp engine.
pub struct LlamaEngine {
    config: LlamaConfig,
    slots: Slots,
    judge: Judge,
}

/// What to load and how it went so far.
#[derive(Default)]
pub struct LoadOptions {
    /// The most demanding stage, to plan the context for (none: plan for `n_ctx`).
    pub demand: Option<Demand>,
    /// Told how far the weights have loaded; may stop the load.
    pub progress: Option<Progress>,
    /// Plans for this much device memory instead of what llama.cpp reports.
    pub vram: Option<u64>,
}

/// The plan for the model at `path` under `config`, from its header alone (no weights are
/// loaded): fails, saying what would fit, when it cannot fit.
pub fn plan_for(
    path: &Path,
    config: &LlamaConfig,
    demand: Option<Demand>,
    vram: Option<u64>,
) -> Result<(Plan, Memory, ModelMetadata)> {
    let meta = read_metadata(path)?;
    backend()?;
    let layers = meta.layers.unwrap_or(0);
    let memory = match vram {
        Some(bytes) => Memory::given(bytes, config, layers),
        None => Memory::of_device(config, layers),
    };
    let plan = match Shape::of(&meta) {
        Some(shape) => plan::plan(&shape, &memory, config, demand).map_err(|err| {
            anyhow!(
                "{} cannot be loaded as configured: {err:#}",
                path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into()
                )
            )
        })?,
        // Without the shape nothing can be worked out: the configured context, f16.
        None => Plan {
            k: config.kv_k().fixed().unwrap_or(KvType::F16),
            v: config.kv_v().fixed().unwrap_or(KvType::F16),
            cells: config.n_ctx,
            kv_bytes_per_token: 0,
            kv_bytes: 0,
            weights_on_device: meta.file_bytes,
            room: None,
            demand,
            parallel: demand.map_or(1, |d| d.candidates),
            waves: 1,
            warning: None,
        },
    };
    Ok((plan, memory, meta))
}

impl LlamaEngine {
    /// Loads the configured model (and judge, if one is configured).
    pub fn load(config: LlamaConfig) -> Result<LlamaEngine> {
        LlamaEngine::load_with(config, LoadOptions::default())
    }

    /// Plans the context, then loads the model (and judge): a model that cannot fit is refused
    /// before its weights are read.
    pub fn load_with(config: LlamaConfig, options: LoadOptions) -> Result<LlamaEngine> {
        let path = config.model_path()?;
        let (plan, _, _) = plan_for(&path, &config, options.demand, options.vram)?;
        let mut model = LoadedModel::load_with(&path, &config, options.progress)?;
        let judge = match (&config.judge_model, &config.judge_lora) {
            (Some(_), Some(_)) => bail!("set judge_model or judge_lora in [llama], not both"),
            (Some(judge), None) => {
                let (judge_plan, _, _) = plan_for(judge, &config, None, options.vram)?;
                let loaded = LoadedModel::load(judge, &config)?;
                Judge::Other(Box::new(Slots::new(loaded, &config, judge_plan)?))
            }
            (None, Some(lora)) => {
                if !lora.is_file() {
                    bail!("the judge LoRA adapter {} does not exist", lora.display());
                }
                Judge::Lora(model.model.lora_adapter_init(lora).map_err(|e| {
                    anyhow!(
                        "llama.cpp could not load the LoRA adapter {} for {}: {e}",
                        lora.display(),
                        path.display()
                    )
                })?)
            }
            (None, None) => Judge::Same,
        };
        let slots = Slots::new(model, &config, plan)?;
        Ok(LlamaEngine {
            config,
            slots,
            judge,
        })
    }

    pub fn model(&self) -> &LoadedModel {
        self.slots.model()
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.config
    }

    /// The model's context, slots and prefix cache.
    pub fn slots(&mut self) -> &mut Slots {
        &mut self.slots
    }

    /// The `top` most likely first answer tokens of each judging prompt with their natural
    /// log-probabilities, from the model that judges (the judge model or LoRA when configured).
    pub fn first_token_logprobs(
        &mut self,
        request: &JudgeRequest,
        top: usize,
        control: &Control,
    ) -> Result<Vec<Vec<(String, f64)>>> {
        match &mut self.judge {
            Judge::Same => judge::first_token_logprobs(&mut self.slots, request, top, control),
            Judge::Lora(adapter) => self.slots.with_adapter(adapter, LORA_TAG, |slots| {
                judge::first_token_logprobs(slots, request, top, control)
            }),
            Judge::Other(slots) => judge::first_token_logprobs(slots, request, top, control),
        }
    }
}

/// Where the model's layers run: the first GPU when layers are offloaded to one, else the CPU.
fn device(config: &LlamaConfig) -> String {
    let gpu = (config.n_gpu_layers > 0)
        .then(|| {
            llama_cpp_2::list_llama_ggml_backend_devices()
                .into_iter()
                .find(|d| {
                    matches!(
                        d.device_type,
                        llama_cpp_2::LlamaBackendDeviceType::Gpu
                            | llama_cpp_2::LlamaBackendDeviceType::IntegratedGpu
                    )
                })
        })
        .flatten();
    match gpu {
        Some(d) => format!("{} {}", d.backend, d.description),
        None => "CPU".to_string(),
    }
}

impl Engine for LlamaEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            kind: "llama".to_string(),
            description: self.model().describe(),
            scripted: false,
            context: Some(self.slots.cells()),
            device: Some(device(&self.config)),
        }
    }

    fn parameters(&self) -> Option<u64> {
        Some(self.model().meta.parameters)
    }

    fn prompt_tokens(&self, messages: &[super::Message]) -> Option<u32> {
        let text = self.model().render(messages).ok()?;
        Some(self.model().tokenize(&text).len() as u32)
    }

    fn source(&self) -> Option<EngineSource> {
        source(&self.config)
    }

    fn generate(
        &mut self,
        request: &GenerateRequest,
        sink: &mut dyn TokenSink,
        control: &Control,
    ) -> Result<Vec<Generation>> {
        generate_with_stats(&mut self.slots, request, sink, control).map(|(g, _)| g)
    }

    fn parallel(&self, request: &GenerateRequest) -> u32 {
        let prompt = self.prompt_tokens(&request.messages).unwrap_or(0);
        let per = plan::per_candidate(request.think_budget, request.answer_budget);
        let room = u64::from(self.slots.cells()).saturating_sub(u64::from(prompt));
        let fit = (room / per.max(1)).max(1);
        let slots = u64::from(self.config.n_seq.saturating_sub(1)).max(1);
        fit.min(slots).min(u64::from(request.n.max(1))) as u32
    }

    fn reasoning(&self, mode: ThinkMode) -> Reasoning {
        self.model().reasoning(mode)
    }

    fn judge(&mut self, request: &JudgeRequest, control: &Control) -> Result<Vec<f64>> {
        match &mut self.judge {
            Judge::Same => judge::judge(&mut self.slots, request, control),
            Judge::Lora(adapter) => self.slots.with_adapter(adapter, LORA_TAG, |slots| {
                judge::judge(slots, request, control)
            }),
            Judge::Other(slots) => judge::judge(slots, request, control),
        }
    }
}
