//! Settings of the llama.cpp engine: the `[llama]` table of the config file, `PONDER_MODEL`, and
//! the command line's `--model`, in that order of precedence (later wins). The file is read by
//! [`crate::config`], which hands this table down.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// Element type of one half (K or V) of the KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvType {
    F32,
    F16,
    Q8_0,
    Q4_0,
}

impl KvType {
    /// Bytes per cached element (block types: the block's bytes over its 32 elements).
    pub fn bytes_per_element(self) -> f64 {
        match self {
            KvType::F32 => 4.0,
            KvType::F16 => 2.0,
            KvType::Q8_0 => 34.0 / 32.0,
            KvType::Q4_0 => 18.0 / 32.0,
        }
    }

    /// Bytes of `elements` cached elements (a whole number of 32-element blocks for the
    /// quantized types, as llama.cpp stores them).
    pub fn bytes(self, elements: u64) -> u64 {
        match self {
            KvType::F32 => elements * 4,
            KvType::F16 => elements * 2,
            KvType::Q8_0 => elements.div_ceil(32) * 34,
            KvType::Q4_0 => elements.div_ceil(32) * 18,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KvType::F32 => "f32",
            KvType::F16 => "f16",
            KvType::Q8_0 => "q8_0",
            KvType::Q4_0 => "q4_0",
        }
    }
}

/// What the config asks for one half of the KV cache: a type, or `auto` (f16 if the stage fits,
/// else q8_0, else q4_0; see [`super::plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KvChoice {
    #[default]
    Auto,
    F32,
    F16,
    Q8_0,
    Q4_0,
}

impl KvChoice {
    /// The fixed type, or `None` for `auto`.
    pub fn fixed(self) -> Option<KvType> {
        match self {
            KvChoice::Auto => None,
            KvChoice::F32 => Some(KvType::F32),
            KvChoice::F16 => Some(KvType::F16),
            KvChoice::Q8_0 => Some(KvType::Q8_0),
            KvChoice::Q4_0 => Some(KvType::Q4_0),
        }
    }

    pub fn name(self) -> &'static str {
        self.fixed().map_or("auto", KvType::name)
    }

    /// Reads `auto`, `f32`, `f16`, `q8_0` or `q4_0`.
    pub fn parse(text: &str) -> Result<KvChoice> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(KvChoice::Auto),
            "f32" => Ok(KvChoice::F32),
            "f16" => Ok(KvChoice::F16),
            "q8_0" | "q8" => Ok(KvChoice::Q8_0),
            "q4_0" | "q4" => Ok(KvChoice::Q4_0),
            other => bail!("{other:?} is not a KV cache type: say auto, f32, f16, q8_0 or q4_0"),
        }
    }
}

/// Whether llama.cpp uses flash attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FlashAttention {
    #[default]
    Auto,
    On,
    Off,
}

/// The `[llama]` table of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlamaConfig {
    /// The GGUF model file.
    pub model: Option<PathBuf>,
    /// Most KV cells of the one long-lived context (prompts and every candidate's tokens); the
    /// memory planner sizes the context to what the device holds, up to this.
    pub n_ctx: u32,
    /// Tokens per decode call while reading a prompt.
    pub n_batch: u32,
    /// CPU threads (default: all cores).
    pub n_threads: Option<u32>,
    /// Layers offloaded to the GPU (0 on a CPU build); a large number offloads all.
    pub n_gpu_layers: u32,
    /// Both halves of the KV cache, unless `kv_k` or `kv_v` says otherwise.
    pub kv_type: KvChoice,
    /// The keys' type (default: `kv_type`).
    pub kv_k: Option<KvChoice>,
    /// The values' type (default: `kv_type`); a quantized V needs flash attention.
    pub kv_v: Option<KvChoice>,
    /// Sequences the one long-lived context holds at most: candidates decoding at once plus
    /// cached prefixes (llama.cpp allows 256).
    pub n_seq: u32,
    pub flash_attention: FlashAttention,
    /// A Jinja chat template, or a llama.cpp built-in name (`chatml`, `deepseek3`…), replacing
    /// the model's own.
    pub chat_template: Option<String>,
    /// A second GGUF that judges (PRM/ORM) instead of the model itself.
    pub judge_model: Option<PathBuf>,
    /// A LoRA adapter applied to the model while it judges.
    pub judge_lora: Option<PathBuf>,
}

impl Default for LlamaConfig {
    fn default() -> Self {
        LlamaConfig {
            model: None,
            n_ctx: 32768,
            n_batch: 512,
            n_threads: None,
            n_gpu_layers: 999,
            kv_type: KvChoice::Auto,
            kv_k: None,
            kv_v: None,
            n_seq: 32,
            flash_attention: FlashAttention::Auto,
            chat_template: None,
            judge_model: None,
            judge_lora: None,
        }
    }
}

impl LlamaConfig {
    /// Values that parse but cannot be used: the key and what is wrong with it.
    pub fn check(&self) -> Result<(), (String, String)> {
        if self.n_ctx < 64 {
            return Err(("n_ctx".into(), "[llama] n_ctx must be at least 64".into()));
        }
        if self.n_batch == 0 {
            return Err((
                "n_batch".into(),
                "[llama] n_batch must be at least 1".into(),
            ));
        }
        if !(2..=256).contains(&self.n_seq) {
            return Err((
                "n_seq".into(),
                "[llama] n_seq must be between 2 and 256 (llama.cpp's limit)".into(),
            ));
        }
        Ok(())
    }

    /// The model file, or an error saying how to name one.
    pub fn model_path(&self) -> Result<PathBuf> {
        self.model.clone().context(
            "no model given: pass --model FILE.gguf, set PONDER_MODEL, or put `model = \"…\"` \
             in the [llama] table of the config file",
        )
    }

    /// What the keys' half of the KV cache asks for.
    pub fn kv_k(&self) -> KvChoice {
        self.kv_k.unwrap_or(self.kv_type)
    }

    /// What the values' half of the KV cache asks for.
    pub fn kv_v(&self) -> KvChoice {
        self.kv_v.unwrap_or(self.kv_type)
    }

    /// Threads to decode with.
    pub fn threads(&self) -> i32 {
        self.n_threads.map_or_else(
            || std::thread::available_parallelism().map_or(4, |n| n.get() as i32),
            |n| n.max(1) as i32,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_the_table_leaves_out_and_unusable_sizes_are_named() {
        let config: LlamaConfig = toml::from_str("kv_type = \"q8_0\"\nn_ctx = 4096\n").unwrap();
        assert_eq!(
            (config.kv_k(), config.kv_v()),
            (KvChoice::Q8_0, KvChoice::Q8_0)
        );
        assert_eq!((config.n_ctx, config.n_batch), (4096, 512));
        let apart: LlamaConfig = toml::from_str("kv_k = \"q8_0\"\nkv_v = \"q4_0\"\n").unwrap();
        assert_eq!(
            (apart.kv_k(), apart.kv_v()),
            (KvChoice::Q8_0, KvChoice::Q4_0)
        );
        assert_eq!(LlamaConfig::default().kv_k(), KvChoice::Auto);
        assert!(toml::from_str::<LlamaConfig>("kv = 1\n").is_err());
        assert_eq!(config.check(), Ok(()));
        let tiny = LlamaConfig {
            n_ctx: 8,
            ..LlamaConfig::default()
        };
        assert_eq!(tiny.check().unwrap_err().0, "n_ctx");
    }
}
