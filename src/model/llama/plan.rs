//! The memory planner: from a GGUF's shape (read from its header, before any weight is loaded),
//! the memory free where the KV cache lives, and the KV bytes per token of each type, it decides
//! how many cells the one long-lived context has, which type each half of the KV cache uses, and
//! how many candidates of the most demanding stage decode at once (the rest wait for a later
//! wave).
//!
//! `auto` walks f16 → q8_0 → q4_0 and takes the first that fits the whole stage (q8_0 costs
//! almost nothing in quality; llama.cpp PRs #7412, #21551); when even q4_0 cannot hold every
//! candidate at once, the candidates decode in waves. A quantized V cache needs flash attention,
//! so with flash attention off the values stay f16. What is known here is arithmetic only: the
//! plan is the same on a machine without the GPU (`ponder doctor --vram 24GiB`).

use std::fmt::Write as _;

use anyhow::{Result, bail};

use super::config::{FlashAttention, KvChoice, KvType, LlamaConfig};
use crate::model::gguf::ModelMetadata;

/// Kept free beside the weights and the KV cache for llama.cpp's compute buffers and the
/// backend's own allocations.
pub const RESERVE: u64 = 1 << 30;

/// Contexts are sized in steps of this many cells (llama.cpp pads to 256).
pub const CELL_STEP: u64 = 256;

/// The smallest context worth creating.
pub const MIN_CELLS: u64 = 256;

/// What the KV cache of a model costs, from its header.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub layers: u64,
    pub kv_heads: u64,
    /// Elements of one head's key and value.
    pub key_length: u64,
    pub value_length: u64,
    /// The weights' bytes (the file's size: llama.cpp maps it as is).
    pub weights_bytes: u64,
}

impl Shape {
    /// The shape from GGUF metadata; `None` when the header lacks it.
    pub fn of(meta: &ModelMetadata) -> Option<Shape> {
        let layers = meta.layers?;
        let heads = meta.heads?.max(1);
        let kv_heads = meta.kv_heads.unwrap_or(heads);
        let key_length = meta.key_length.or_else(|| Some(meta.embedding? / heads))?;
        let value_length = meta.value_length.unwrap_or(key_length);
        Some(Shape {
            layers,
            kv_heads,
            key_length,
            value_length,
            weights_bytes: meta.file_bytes,
        })
    }

    /// KV cache bytes of one cached token, all layers, K of type `k` and V of type `v`.
    pub fn kv_bytes_per_token(&self, k: KvType, v: KvType) -> u64 {
        self.layers
            * (k.bytes(self.kv_heads * self.key_length)
                + v.bytes(self.kv_heads * self.value_length))
    }
}

/// What the most demanding stage asks of the cache: a shared prompt and N candidates, each with
/// its own tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand {
    pub prompt: u64,
    pub candidates: u32,
    /// Cells one candidate may fill: its think and answer budgets and what ponder adds.
    pub per_candidate: u64,
}

impl Demand {
    /// Cells the whole stage needs at once.
    pub fn cells(&self) -> u64 {
        self.prompt + u64::from(self.candidates) * self.per_candidate
    }

    /// The most demanding stage of `settings` (N × budgets), with a `prompt`-token prompt.
    pub fn of_settings(settings: &crate::event::Settings, prompt: u64) -> Demand {
        crate::event::Stage::ALL
            .iter()
            .map(|&stage| Demand {
                prompt,
                candidates: settings.search.n(stage),
                per_candidate: per_candidate(
                    settings.think_budget(stage),
                    settings.answer_budget(stage),
                ),
            })
            .max_by_key(Demand::cells)
            .unwrap_or(Demand {
                prompt,
                candidates: 1,
                per_candidate: 0,
            })
    }
}

/// Cells one candidate may fill: its budgets, the tokens that close thinking, and two spare.
pub fn per_candidate(think_budget: u32, answer_budget: u32) -> u64 {
    u64::from(think_budget) + u64::from(answer_budget) + 6
}

/// Where the KV cache lives and how much room it has there.
#[derive(Debug, Clone, PartialEq)]
pub struct Memory {
    /// `CUDA0 NVIDIA GeForce RTX 4090`, `CPU`, or `given (--vram)`.
    pub device: String,
    /// Bytes free there before the model loads; `None` when unknown (no limit is planned).
    pub free: Option<u64>,
    /// Share of the layers (weights and their KV cache) that live there, in [0, 1].
    pub offloaded: f64,
}

impl Memory {
    /// The device the configured layers go to, with llama.cpp's report of its free memory: the
    /// first GPU when layers are offloaded to one, else the CPU's memory.
    pub fn of_device(config: &LlamaConfig, layers: u64) -> Memory {
        let devices = llama_cpp_2::list_llama_ggml_backend_devices();
        let gpu = devices.iter().find(|d| {
            matches!(
                d.device_type,
                llama_cpp_2::LlamaBackendDeviceType::Gpu
                    | llama_cpp_2::LlamaBackendDeviceType::IntegratedGpu
            )
        });
        match gpu {
            Some(d) if config.n_gpu_layers > 0 => Memory {
                device: format!("{} {}", d.backend, d.description),
                free: Some(d.memory_free as u64),
                offloaded: offloaded(config.n_gpu_layers, layers),
            },
            _ => Memory {
                device: "CPU".to_string(),
                free: devices
                    .iter()
                    .find(|d| d.device_type == llama_cpp_2::LlamaBackendDeviceType::Cpu)
                    .map(|d| d.memory_free as u64)
                    .filter(|&f| f > 0),
                offloaded: 1.0,
            },
        }
    }

    /// A GPU of `bytes` (as `ponder doctor --vram` gives it), holding the configured layers.
    pub fn given(bytes: u64, config: &LlamaConfig, layers: u64) -> Memory {
        Memory {
            device: "given (--vram)".to_string(),
            free: Some(bytes),
            offloaded: offloaded(config.n_gpu_layers, layers),
        }
    }
}

/// Share of a model's `layers` + 1 (the output layer) that `n_gpu_layers` puts on the GPU.
fn offloaded(n_gpu_layers: u32, layers: u64) -> f64 {
    (u64::from(n_gpu_layers).min(layers + 1)) as f64 / (layers + 1) as f64
}

/// The planner's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub k: KvType,
    pub v: KvType,
    /// Cells of the one long-lived context.
    pub cells: u32,
    pub kv_bytes_per_token: u64,
    /// KV bytes of all `cells` (where the layers live, split as they are).
    pub kv_bytes: u64,
    /// Weights on the planned device.
    pub weights_on_device: u64,
    /// Room for the KV cache on the device (free − weights there − reserve); `None`: unknown.
    pub room: Option<u64>,
    /// The demand planned for, if one was given.
    pub demand: Option<Demand>,
    /// Candidates of that stage decoding at once.
    pub parallel: u32,
    /// Waves the stage decodes in (1: all at once).
    pub waves: u32,
    /// What the plan could not give, though the model loads (a context too small for the
    /// demand).
    pub warning: Option<String>,
}

/// Works out the plan for `shape` in `memory` under `config`, for `demand` (when known: the
/// most demanding stage; else the configured `n_ctx` is what should fit). Fails, saying what
/// would fit, when not even one candidate fits.
pub fn plan(
    shape: &Shape,
    memory: &Memory,
    config: &LlamaConfig,
    demand: Option<Demand>,
) -> Result<Plan> {
    let quantized_v_ok = config.flash_attention != FlashAttention::Off;
    let ladder = |choice: KvChoice, values: bool| -> Result<Vec<KvType>> {
        match choice.fixed() {
            Some(t) if values && !quantized_v_ok && matches!(t, KvType::Q8_0 | KvType::Q4_0) => {
                bail!(
                    "kv_v = {} needs flash attention, which [llama] flash_attention = \"off\" \
                     turns off: set flash_attention to auto or on, or kv_v to f16",
                    t.name()
                )
            }
            Some(t) => Ok(vec![t]),
            None if values && !quantized_v_ok => Ok(vec![KvType::F16]),
            None => Ok(vec![KvType::F16, KvType::Q8_0, KvType::Q4_0]),
        }
    };
    let ks = ladder(config.kv_k(), false)?;
    let vs = ladder(config.kv_v(), true)?;
    let levels = ks.len().max(vs.len());
    let n_ctx = u64::from(config.n_ctx);
    let weights_on_device = (shape.weights_bytes as f64 * memory.offloaded) as u64;
    let room = memory
        .free
        .map(|free| free.saturating_sub(weights_on_device + RESERVE));
    // Cells of KV that fit the room at (k, v), in whole steps (not capped by n_ctx).
    let fit = |k: KvType, v: KvType| -> u64 {
        let on_device = (shape.kv_bytes_per_token(k, v) as f64 * memory.offloaded).max(1.0);
        let cells = match room {
            Some(room) => (room as f64 / on_device) as u64,
            None => u64::MAX,
        };
        cells / CELL_STEP * CELL_STEP
    };
    let target = demand.map_or(n_ctx, |d| d.cells()).min(n_ctx);
    let (k, v, room_cells) = (0..levels)
        .map(|i| {
            let (k, v) = (ks[i.min(ks.len() - 1)], vs[i.min(vs.len() - 1)]);
            (k, v, fit(k, v))
        })
        .find(|&(.., cells)| cells >= target)
        .unwrap_or_else(|| {
            let (k, v) = (ks[ks.len() - 1], vs[vs.len() - 1]);
            (k, v, fit(k, v))
        });
    let cells = room_cells.min(n_ctx);
    let per_token = shape.kv_bytes_per_token(k, v);
    if room_cells < MIN_CELLS {
        let d = demand.unwrap_or(Demand {
            prompt: MIN_CELLS,
            candidates: 1,
            per_candidate: 0,
        });
        bail!("{}", no_fit(shape, memory, d, room, k, v, room_cells));
    }
    let mut warning = None;
    let (parallel, waves) = match demand {
        Some(d) => {
            let at_once = if cells >= d.cells() {
                u64::from(d.candidates)
            } else {
                cells.saturating_sub(d.prompt) / d.per_candidate.max(1)
            };
            let mut parallel = at_once
                .min(u64::from(d.candidates))
                .min(u64::from(config.n_seq.saturating_sub(1)).max(1))
                as u32;
            if parallel == 0 {
                if room_cells >= d.prompt + d.per_candidate {
                    // The device has room; the configured n_ctx is what is too small.
                    warning = Some(format!(
                        "n_ctx = {n_ctx} in [llama] cannot hold a {}-token prompt and one \
                         candidate of {} tokens: candidates end early (truncated) when it fills; \
                         raise n_ctx to {} or more (the device has room for {} cells at K {} / \
                         V {}) or lower the budgets",
                        d.prompt,
                        d.per_candidate,
                        d.prompt + d.per_candidate,
                        room_cells.min(u64::from(u32::MAX)),
                        k.name(),
                        v.name()
                    ));
                    parallel = 1;
                } else {
                    bail!("{}", no_fit(shape, memory, d, room, k, v, room_cells));
                }
            }
            (parallel, d.candidates.div_ceil(parallel))
        }
        None => (1, 1),
    };
    Ok(Plan {
        k,
        v,
        cells: cells as u32,
        kv_bytes_per_token: per_token,
        kv_bytes: per_token * cells,
        weights_on_device,
        room,
        demand,
        parallel,
        waves,
        warning,
    })
}

/// Why nothing fits, and what would.
fn no_fit(
    shape: &Shape,
    memory: &Memory,
    demand: Demand,
    room: Option<u64>,
    k: KvType,
    v: KvType,
    cells: u64,
) -> String {
    let per_token = shape.kv_bytes_per_token(k, v);
    let one = demand.prompt + demand.per_candidate;
    let mut text = format!(
        "the model does not fit on {}: {} free, the weights there take {} and {} is kept for \
         compute buffers, leaving {} for the KV cache = {cells} cells at K {} / V {} ({} a \
         token); a {}-token prompt and one candidate of {} tokens need {one} cells.",
        memory.device,
        memory
            .free
            .map_or_else(|| "unknown".to_string(), human_bytes),
        human_bytes((shape.weights_bytes as f64 * memory.offloaded) as u64),
        human_bytes(RESERVE),
        human_bytes(room.unwrap_or(0)),
        k.name(),
        v.name(),
        human_bytes(per_token),
        demand.prompt,
        demand.per_candidate,
    );
    text.push_str(" What would fit:");
    if cells > demand.prompt + 16 {
        let _ = write!(
            text,
            " budgets (think + answer) of at most {} tokens a candidate;",
            cells - demand.prompt - 6
        );
    }
    if let Some(free) = memory.free {
        // Offloading fewer layers moves their weights and their KV cache to the CPU.
        let per_layer = (shape.weights_bytes + per_token * one) as f64 / (shape.layers + 1) as f64;
        let layers = ((free.saturating_sub(RESERVE)) as f64 / per_layer) as u64;
        if memory.offloaded > 0.0 && layers < shape.layers + 1 {
            let _ = write!(
                text,
                " n_gpu_layers = {layers} in [llama] (the other layers run on the CPU, slower);"
            );
        }
    }
    let _ = write!(
        text,
        " or a smaller quantization of the model (now {} of weights).",
        human_bytes(shape.weights_bytes)
    );
    text
}

impl Plan {
    /// The plan in a few lines, for `ponder doctor` and the loading screen.
    pub fn describe(&self, memory: &Memory) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "  device: {} ({} free)",
            memory.device,
            memory.free.map_or_else(|| "unknown".into(), human_bytes)
        );
        let _ = writeln!(
            out,
            "  weights there: {}; kept for compute: {}; room for the KV cache: {}",
            human_bytes(self.weights_on_device),
            human_bytes(RESERVE),
            self.room
                .map_or_else(|| "no limit known".into(), human_bytes)
        );
        let _ = writeln!(
            out,
            "  KV cache: K {} / V {}, {} a token; context {} cells = {}",
            self.k.name(),
            self.v.name(),
            human_bytes(self.kv_bytes_per_token),
            self.cells,
            human_bytes(self.kv_bytes)
        );
        if let Some(warning) = &self.warning {
            let _ = writeln!(out, "  warning: {warning}");
        }
        if let Some(d) = self.demand {
            let _ = writeln!(
                out,
                "  largest stage: {}-token prompt + {} candidates × {} tokens = {} cells: {}",
                d.prompt,
                d.candidates,
                d.per_candidate,
                d.cells(),
                if self.waves == 1 {
                    "all candidates decode at once".to_string()
                } else {
                    format!(
                        "{} at once, in {} waves (the context holds {})",
                        self.parallel, self.waves, self.cells
                    )
                }
            );
        }
        out
    }
}

/// Reads sizes such as `24GiB`, `24G`, `24 GB`, `8000MiB`, `512M` or a plain byte count.
pub fn parse_bytes(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("{text:?} is not a size: say e.g. 24GiB or 8000MiB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => (1u64 << 20) as f64,
        "mb" => 1e6,
        "g" | "gib" => (1u64 << 30) as f64,
        "gb" => 1e9,
        "t" | "tib" => (1u64 << 40) as f64,
        "tb" => 1e12,
        other => bail!("{other:?} is not a unit of size: say B, MiB, GiB, MB or GB"),
    };
    Ok((value * scale) as u64)
}

/// Bytes in a short human form (`1.5 GiB`).
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    } else if b >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Qwen2.5-32B-Instruct Q4_K_M: 64 layers, 40 heads, 8 KV heads, head 128, 19.9 GB.
    fn qwen_32b() -> Shape {
        Shape {
            layers: 64,
            kv_heads: 8,
            key_length: 128,
            value_length: 128,
            weights_bytes: 19_900_000_000,
        }
    }

    fn gpu(bytes: u64) -> Memory {
        Memory {
            device: "test".into(),
            free: Some(bytes),
            offloaded: 1.0,
        }
    }

    /// The stage at budget 4: a 4096-token prompt, 4 candidates of 4096 + 2048 tokens.
    fn budget_4() -> Demand {
        Demand {
            prompt: 4096,
            candidates: 4,
            per_candidate: per_candidate(4096, 2048),
        }
    }

    #[test]
    fn bytes_per_token_match_hand_arithmetic() {
        let s = qwen_32b();
        // 64 layers × 8 heads × 128 × (K + V) × 2 bytes = 256 KiB.
        assert_eq!(s.kv_bytes_per_token(KvType::F16, KvType::F16), 262_144);
        // q8_0: 34 bytes per 32 elements: 64 × 2 × (1024 / 32 × 34) = 139,264.
        assert_eq!(s.kv_bytes_per_token(KvType::Q8_0, KvType::Q8_0), 139_264);
        // q4_0: 18 bytes per 32: 64 × 2 × 576 = 73,728.
        assert_eq!(s.kv_bytes_per_token(KvType::Q4_0, KvType::Q4_0), 73_728);
        // Apart: K q8_0 (34,816 a layer... 64 × 1,088) + V f16 (64 × 2,048).
        assert_eq!(
            s.kv_bytes_per_token(KvType::Q8_0, KvType::F16),
            64 * (1088 + 2048)
        );
    }

    #[test]
    fn qwen_32b_on_24_gib_takes_q8_0_and_runs_budget_4_in_one_wave() {
        let config = LlamaConfig::default();
        let d = budget_4();
        assert_eq!(d.cells(), 28_696); // "~28.7k cells" in the issue
        let p = plan(&qwen_32b(), &gpu(24 << 30), &config, Some(d)).unwrap();
        // Room: 25,769,803,776 − 19,900,000,000 − 1,073,741,824 = 4,796,061,952 bytes.
        assert_eq!(p.room, Some(4_796_061_952));
        // f16: 4,796,061,952 / 262,144 = 18,295 cells < 28,696: does not fit.
        // q8_0: 4,796,061,952 / 139,264 = 34,438 cells, capped at n_ctx 32,768: fits.
        assert_eq!((p.k, p.v), (KvType::Q8_0, KvType::Q8_0));
        assert_eq!(p.cells, 32_768);
        assert_eq!(p.kv_bytes, 32_768 * 139_264);
        assert_eq!((p.parallel, p.waves), (4, 1));
    }

    #[test]
    fn f16_is_kept_when_it_fits_and_q4_0_then_waves_when_nothing_else_does() {
        let config = LlamaConfig::default();
        // 40 GiB: room 21.8 GiB → f16 holds 32,768 cells.
        let roomy = plan(&qwen_32b(), &gpu(40 << 30), &config, Some(budget_4())).unwrap();
        assert_eq!(
            (roomy.k, roomy.v, roomy.waves),
            (KvType::F16, KvType::F16, 1)
        );
        // 22 GiB: room 23,622,320,128 − 19,900,000,000 − 1,073,741,824 = 2,648,578,304:
        // q8_0 19,018 cells, q4_0 35,923 → capped 32,768: q4_0, one wave.
        let tight = plan(&qwen_32b(), &gpu(22 << 30), &config, Some(budget_4())).unwrap();
        assert_eq!((tight.k, tight.waves), (KvType::Q4_0, 1));
        // 21 GiB: room 1,574,836,480 → q4_0 21,360 → 21,248 cells: (21,248 − 4,096) / 6,150
        // = 2 candidates at once, in 2 waves.
        let waves = plan(&qwen_32b(), &gpu(21 << 30), &config, Some(budget_4())).unwrap();
        assert_eq!((waves.k, waves.cells), (KvType::Q4_0, 21_248));
        assert_eq!((waves.parallel, waves.waves), (2, 2));
    }

    #[test]
    fn a_model_that_cannot_fit_fails_saying_what_would() {
        let config = LlamaConfig::default();
        let err = plan(&qwen_32b(), &gpu(20 << 30), &config, Some(budget_4()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not fit"), "{err}");
        assert!(err.contains("n_gpu_layers = "), "{err}");
        let err = plan(&qwen_32b(), &gpu(16 << 30), &config, Some(budget_4()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("What would fit"), "{err}");
    }

    #[test]
    fn fixed_types_are_kept_apart_and_quantized_v_needs_flash_attention() {
        let mut config = LlamaConfig {
            kv_k: Some(KvChoice::Q8_0),
            kv_v: Some(KvChoice::F16),
            ..LlamaConfig::default()
        };
        let p = plan(&qwen_32b(), &gpu(40 << 30), &config, None).unwrap();
        assert_eq!((p.k, p.v), (KvType::Q8_0, KvType::F16));
        config.kv_v = Some(KvChoice::Q4_0);
        config.flash_attention = FlashAttention::Off;
        assert!(plan(&qwen_32b(), &gpu(40 << 30), &config, None).is_err());
        config.kv_v = None;
        config.kv_type = KvChoice::Auto;
        let p = plan(&qwen_32b(), &gpu(22 << 30), &config, None).unwrap();
        assert_eq!(p.v, KvType::F16, "auto V stays f16 without flash attention");
    }

    #[test]
    fn unknown_memory_plans_the_configured_context() {
        let config = LlamaConfig {
            n_ctx: 4096,
            ..LlamaConfig::default()
        };
        let memory = Memory {
            device: "CPU".into(),
            free: None,
            offloaded: 1.0,
        };
        let p = plan(&qwen_32b(), &memory, &config, None).unwrap();
        assert_eq!((p.k, p.cells, p.room), (KvType::F16, 4096, None));
    }

    #[test]
    fn sizes_are_read_in_common_units() {
        assert_eq!(parse_bytes("24GiB").unwrap(), 24 << 30);
        assert_eq!(parse_bytes("24 GB").unwrap(), 24_000_000_000);
        assert_eq!(parse_bytes("8000MiB").unwrap(), 8000 << 20);
        assert_eq!(parse_bytes("1.5G").unwrap(), 3 << 29);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("3 parsecs").is_err());
    }
}
