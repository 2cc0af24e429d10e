//! `ponder doctor`'s report: the llama.cpp backend and its devices, the model's metadata, layers
//! offloaded, and the memory planner's plan (KV types, context, candidates at once) for the
//! configured candidates and budgets; then whether llama.cpp loads the model. With `--vram` the
//! plan is for a device of that size and no weight is loaded, so a 32B plan can be read on a
//! laptop.

use std::io::Write;
use std::time::Instant;

use anyhow::Result;

use super::plan::{Demand, human_bytes};
use super::{LlamaConfig, LoadedModel, backend, plan_for};
use crate::event::Settings;
use crate::model::gguf::read_metadata;

/// Writes the report to `out`; true when the model loads and a stage fits in `n_ctx`.
pub fn report(
    llama: &LlamaConfig,
    settings: &Settings,
    prompt: u64,
    vram: Option<u64>,
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
    let demand = Demand::of_settings(settings, prompt);
    writeln!(out, "memory plan:")?;
    writeln!(out, "  weights: {}", human_bytes(meta.file_bytes))?;
    let fits = match plan_for(&path, llama, Some(demand), vram) {
        Ok((plan, memory, _)) => {
            write!(out, "{}", plan.describe(&memory))?;
            if plan.kv_bytes_per_token == 0 {
                writeln!(
                    out,
                    "  the model's header lacks the shape to plan the KV cache: the configured \
                     context is used as it is"
                )?;
            }
            writeln!(
                out,
                "  total there: {} of {}",
                human_bytes(
                    plan.weights_on_device
                        + (plan.kv_bytes as f64 * memory.offloaded) as u64
                        + super::plan::RESERVE
                ),
                memory
                    .free
                    .map_or_else(|| "unknown".to_string(), human_bytes)
            )?;
            plan.warning.is_none()
        }
        Err(err) => {
            writeln!(out, "  {err:#}")?;
            false
        }
    };
    if vram.is_some() {
        writeln!(out, "load: skipped (--vram plans for another device)")?;
        return Ok(fits);
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
