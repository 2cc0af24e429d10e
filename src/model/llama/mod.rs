//! The llama.cpp engine, in process through `llama-cpp-2`: one GGUF loaded once, a stage's N
//! candidates decoded as N sequences of one batch that share the prompt's KV cache.
//!
//! The file is checked in Rust ([`crate::model::gguf`]) before llama.cpp loads it, so a damaged
//! file is an error naming it, not a crash. Each request gets a context sized to what it needs
//! (prompt plus every candidate's budget, capped by `n_ctx`), with a unified KV cache so prompt
//! tokens tagged with all sequence ids are stored once.

pub mod bench;
mod candidate;
mod config;
mod decode;
pub mod doctor;
mod grammar;
mod judge;
pub mod memory;
mod prompt;

pub use config::{FlashAttention, KvType, LlamaConfig};
pub use decode::{LoopStats, generate_with_stats};
pub use memory::MemoryEstimate;

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{KvCacheType, LlamaContextParams};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaLoraAdapter, LlamaModel};

use super::gguf::{ModelMetadata, read_metadata};
use super::{Engine, GenerateRequest, Generation, JudgeRequest, TokenSink};
use crate::event::{Control, EngineInfo, EngineSource, Reasoning, ThinkMode};
use judge::YesNo;
use prompt::PromptFormat;

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
        let meta = read_metadata(path)?;
        let backend = backend()?;
        let params = LlamaModelParams::default().with_n_gpu_layers(config.n_gpu_layers);
        let model = LlamaModel::load_from_file(backend, path, &params).map_err(|e| {
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

    /// A context for `cells` KV cells and `n_seq` sequences.
    pub fn context(
        &self,
        config: &LlamaConfig,
        cells: u32,
        n_seq: u32,
    ) -> Result<LlamaContext<'_>> {
        let kv = match config.kv_type {
            KvType::F32 => KvCacheType::F32,
            KvType::F16 => KvCacheType::F16,
            KvType::Q8_0 => KvCacheType::Q8_0,
        };
        // llama.h: LLAMA_FLASH_ATTN_TYPE_AUTO = -1, _DISABLED = 0, _ENABLED = 1.
        let flash = match config.flash_attention {
            FlashAttention::Auto => -1,
            FlashAttention::On => 1,
            FlashAttention::Off => 0,
        };
        let cells = cells.max(64).div_ceil(256) * 256;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(cells))
            .with_n_batch(config.n_batch)
            .with_n_ubatch(config.n_batch)
            .with_n_seq_max(n_seq.max(1))
            .with_kv_unified(true)
            .with_n_threads(config.threads())
            .with_n_threads_batch(config.threads())
            .with_type_k(kv)
            .with_type_v(kv)
            .with_flash_attention_policy(flash);
        self.model.new_context(backend()?, params).with_context(|| {
            format!(
                "llama.cpp could not create a context of {cells} cells for {n_seq} sequences: \
                 lower n_ctx, the candidates, or the budgets"
            )
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
        format!(
            "{} ({}, {} params, {})",
            self.path.file_name().map_or_else(
                || self.path.display().to_string(),
                |n| n.to_string_lossy().into()
            ),
            self.meta.architecture,
            self.meta.parameters_human(),
            self.meta.quantization
        )
    }
}

/// Who judges candidates.
enum Judge {
    /// The generating model itself, with a judging prompt.
    Same,
    /// The generating model with a LoRA adapter applied while judging.
    Lora(LlamaLoraAdapter),
    /// A second model.
    Other(Box<LoadedModel>),
}

/// The llama.cpp engine.
pub struct LlamaEngine {
    config: LlamaConfig,
    model: LoadedModel,
    judge: Judge,
}

impl LlamaEngine {
    /// Loads the configured model (and judge, if one is configured).
    pub fn load(config: LlamaConfig) -> Result<LlamaEngine> {
        let path = config.model_path()?;
        let mut model = LoadedModel::load(&path, &config)?;
        let judge = match (&config.judge_model, &config.judge_lora) {
            (Some(_), Some(_)) => bail!("set judge_model or judge_lora in [llama], not both"),
            (Some(judge), None) => Judge::Other(Box::new(LoadedModel::load(judge, &config)?)),
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
        Ok(LlamaEngine {
            config,
            model,
            judge,
        })
    }

    pub fn model(&self) -> &LoadedModel {
        &self.model
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.config
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
            Judge::Same => {
                judge::first_token_logprobs(&self.model, &self.config, None, request, top, control)
            }
            Judge::Lora(adapter) => judge::first_token_logprobs(
                &self.model,
                &self.config,
                Some(adapter),
                request,
                top,
                control,
            ),
            Judge::Other(model) => {
                judge::first_token_logprobs(model, &self.config, None, request, top, control)
            }
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
            description: self.model.describe(),
            scripted: false,
            context: Some(self.config.n_ctx),
            device: Some(device(&self.config)),
        }
    }

    fn prompt_tokens(&self, messages: &[super::Message]) -> Option<u32> {
        let text = self.model.render(messages).ok()?;
        Some(self.model.tokenize(&text).len() as u32)
    }

    fn source(&self) -> Option<EngineSource> {
        let path = self.config.model_path().ok()?;
        let show = |p: &std::path::PathBuf| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        };
        Some(EngineSource::Model {
            path: show(&path),
            judge_model: self.config.judge_model.as_ref().map(show),
            judge_lora: self.config.judge_lora.as_ref().map(show),
        })
    }

    fn generate(
        &mut self,
        request: &GenerateRequest,
        sink: &mut dyn TokenSink,
        control: &Control,
    ) -> Result<Vec<Generation>> {
        generate_with_stats(&self.model, &self.config, request, sink, control).map(|(g, _)| g)
    }

    fn reasoning(&self, mode: ThinkMode) -> Reasoning {
        self.model.reasoning(mode)
    }

    fn judge(&mut self, request: &JudgeRequest, control: &Control) -> Result<Vec<f64>> {
        match &mut self.judge {
            Judge::Same => judge::judge(&self.model, &self.config, None, request, control),
            Judge::Lora(adapter) => {
                judge::judge(&self.model, &self.config, Some(adapter), request, control)
            }
            Judge::Other(model) => judge::judge(model, &self.config, None, request, control),
        }
    }
}
