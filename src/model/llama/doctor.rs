//! `ponder doctor`'s report: the llama.cpp backend and its devices, the model's metadata, layers
//! offloaded, and the memory of the weights and KV cache for the configured context, candidates
//! and budgets; then whether llama.cpp loads the model.

use std::io::Write;
use std::time::Instant;

use anyhow::Result;

use super::memory::human_bytes;
use super::{LlamaConfig, LoadedModel, MemoryEstimate, backend};
use crate::event::Settings;
use crate::model::gguf::read_metadata;

/// Writes the report to `out`; true when the model loads and a stage fits in `n_ctx`.
pub fn report(
    llama: &LlamaConfig,
    settings: &Settings,
    prompt: u64,
    out: &mut dyn Write,
) -> Result<bool> {
    let backend = backend()?;
    writeln!(out, "ponder {}", env!("CARGO_PKG_VERSION"))?;
    let features: Vec<&str> = [
        ("cuda", cfg!(feature = "cuda")),
        ("vulkan", cfg!(feature = "vulkan")),
        ("metal", cfg!(feature = "metal")),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(name, _)| *name)
    .collect();
    writeln!(
        out,
        "backend: llama.cpp ({}), GPU offload {}",
        if features.is_empty() {
            "CPU build".to_string()
        } else {
            format!("built with {}", features.join(", "))
        },
        if backend.supports_gpu_offload() {
            "supported"
        } else {
            "not supported"
        }
    )?;
    writeln!(out, "devices:")?;
    for device in llama_cpp_2::list_llama_ggml_backend_devices() {
        writeln!(
            out,
            "  {:<8} {:<10} {} ({} free of {})",
            device.backend,
            device.name,
            device.description,
            human_bytes(device.memory_free as u64),
            human_bytes(device.memory_total as u64)
        )?;
    }
    writeln!(out, "threads: {}", llama.threads())?;
    let path = match llama.model_path() {
        Ok(path) => path,
        Err(err) => {
            writeln!(out, "model: {err}")?;
            return Ok(false);
        }
    };
    let meta = match read_metadata(&path) {
        Ok(meta) => meta,
        Err(err) => {
            writeln!(out, "model: {err:#}")?;
            return Ok(false);
        }
    };
    writeln!(out, "model: {}", path.display())?;
    let or_unknown = |v: Option<u64>| v.map_or_else(|| "unknown".to_string(), |v| v.to_string());
    writeln!(
        out,
        "  {} ({}), {} parameters, {}, {} layers, trained context {}, vocabulary {}",
        meta.architecture,
        meta.name.as_deref().unwrap_or("unnamed"),
        meta.parameters_human(),
        meta.quantization,
        or_unknown(meta.layers),
        or_unknown(meta.context_length),
        or_unknown(meta.vocab_size)
    )?;
    let layers = meta.layers.unwrap_or(0);
    let offloaded = if backend.supports_gpu_offload() {
        u64::from(llama.n_gpu_layers).min(layers + 1)
    } else {
        0
    };
    writeln!(
        out,
        "  layers offloaded: {offloaded} of {} (n_gpu_layers = {})",
        layers + 1,
        llama.n_gpu_layers
    )?;
    // The most demanding stage sets what must fit: its candidates and their token budgets.
    let (candidates, budgets) = crate::event::Stage::ALL
        .iter()
        .map(|stage| {
            (
                u64::from(settings.search.n(*stage)),
                u64::from(settings.think_budget(*stage))
                    + u64::from(settings.answer_budget(*stage)),
            )
        })
        .max_by_key(|(n, tokens)| n * tokens)
        .unwrap_or((1, 0));
    writeln!(out, "memory:")?;
    writeln!(out, "  weights: {}", human_bytes(meta.file_bytes))?;
    let mut fits = true;
    match MemoryEstimate::new(&meta, llama.kv_type, prompt, candidates, budgets) {
        Some(m) => {
            writeln!(
                out,
                "  KV cache ({}): {} per token; a stage of {candidates} candidate(s) with a \
                 {}-token prompt and budgets {}+{} needs {} cells = {}",
                llama.kv_type.name(),
                human_bytes(m.kv_bytes_per_token),
                prompt,
                settings.think_budget,
                settings.answer_budget,
                m.cells_per_stage,
                human_bytes(m.kv_bytes_per_stage)
            )?;
            writeln!(
                out,
                "  total for that stage: {}",
                human_bytes(m.weights_bytes + m.kv_bytes_per_stage)
            )?;
            if m.cells_per_stage > u64::from(llama.n_ctx) {
                fits = false;
                writeln!(
                    out,
                    "  warning: n_ctx is {}: candidates end early when the cache fills; raise \
                     n_ctx in [llama] or lower candidates or budgets",
                    llama.n_ctx
                )?;
            }
        }
        None => writeln!(
            out,
            "  KV cache: the model's header lacks the shape to estimate it"
        )?,
    }
    let started = Instant::now();
    match LoadedModel::load(&path, llama) {
        Ok(model) => {
            writeln!(
                out,
                "load: ok in {:.2} s ({})",
                started.elapsed().as_secs_f64(),
                model.describe()
            )?;
            writeln!(out, "  chat template: {}", model.template_choice())?;
            let reasoning = model.reasoning(settings.think);
            writeln!(
                out,
                "  think = {}: {} — {}",
                reasoning.mode.name(),
                if reasoning.thinks {
                    "thinks in <think> tags"
                } else {
                    "answers at once"
                },
                reasoning.why
            )?;
        }
        Err(err) => {
            writeln!(out, "load: {err:#}")?;
            return Ok(false);
        }
    }
    Ok(fits)
}
