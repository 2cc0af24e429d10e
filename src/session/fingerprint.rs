//! The journal header's reproducibility record: which llama.cpp, which model file (fingerprinted
//! fast), which sampling, which prompts.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::event::{EngineSource, ModelFile, Reproduction, SamplingInfo, Settings};
use crate::model::Sampling;

/// Bytes read from each end of a model file for its fingerprint.
const EDGE: u64 = 1 << 20;

/// What [`model_file`]'s fingerprint is a digest of.
pub const FINGERPRINT_KIND: &str = "sha256(size, first MiB, last MiB)";

/// The llama.cpp this ponder was built with: the version of the `llama-cpp-sys-2` crate that
/// vendors it (read from the Cargo.lock it was built from) and the GPU backends compiled in.
pub fn llama_cpp_build() -> String {
    let lock = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"));
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"llama-cpp-sys-2\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    let backends: Vec<&str> = [
        ("cuda", cfg!(feature = "cuda")),
        ("vulkan", cfg!(feature = "vulkan")),
        ("metal", cfg!(feature = "metal")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let backends = if backends.is_empty() {
        "CPU".to_string()
    } else {
        backends.join("+")
    };
    format!("llama-cpp-sys-2 {version} ({backends})")
}

/// Name, size and fingerprint of a model file. The fingerprint hashes the size and the first and
/// last MiB (a GGUF's header, tensor index and some weights): it reads at most 2 MiB whatever
/// the file's size, tells files apart in practice, but is not a full-file hash.
pub fn model_file(path: &Path) -> Result<ModelFile> {
    let mut file = std::fs::File::open(path)
        .with_context(|| format!("cannot open the model {}", path.display()))?;
    let size = file.metadata()?.len();
    let mut hasher = Sha256::new();
    hasher.update(size.to_le_bytes());
    let mut buffer = vec![0; EDGE.min(size) as usize];
    file.read_exact(&mut buffer)?;
    hasher.update(&buffer);
    let tail = EDGE.min(size);
    file.seek(SeekFrom::Start(size - tail))?;
    buffer.resize(tail as usize, 0);
    file.read_exact(&mut buffer)?;
    hasher.update(&buffer);
    Ok(ModelFile {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: path.display().to_string(),
        size,
        fingerprint: hex(&hasher.finalize()),
        fingerprint_kind: FINGERPRINT_KIND.to_string(),
    })
}

/// SHA-256 of a text, in hex.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The whole record for a session's header. A model that cannot be read is left out (the engine
/// that loaded it would have said why).
pub fn reproduction(
    source: Option<EngineSource>,
    prompts: std::collections::BTreeMap<String, String>,
    prompt_overrides: Vec<String>,
    settings: &Settings,
) -> Reproduction {
    let (model, judge_model) = match &source {
        Some(EngineSource::Model {
            path, judge_model, ..
        }) => (
            model_file(Path::new(path)).ok(),
            judge_model
                .as_ref()
                .and_then(|p| model_file(Path::new(p)).ok()),
        ),
        _ => (None, None),
    };
    let defaults = Sampling::default();
    Reproduction {
        llama_cpp: llama_cpp_build(),
        engine_source: source,
        model,
        judge_model,
        sampling: SamplingInfo {
            temperature: settings.temperature,
            top_p: defaults.top_p,
            top_k: defaults.top_k,
            min_p: defaults.min_p,
            seed: settings.seed,
            seed_rule: "candidate beam b, round r: seed + b + 1000·(r − 1)".to_string(),
        },
        prompts,
        prompt_overrides,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_llama_build_names_the_vendoring_crate_version() {
        let build = llama_cpp_build();
        assert!(build.starts_with("llama-cpp-sys-2 0."), "{build}");
        assert!(!build.contains("unknown"), "{build}");
    }

    #[test]
    fn fingerprints_tell_files_apart_and_cover_both_ends() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            model_file(&path).unwrap()
        };
        let mut big = vec![7u8; 3 << 20];
        let a = write("a.gguf", &big);
        let b = write("b.gguf", &big);
        assert_eq!(a.fingerprint, b.fingerprint, "same bytes, same fingerprint");
        assert_eq!((a.name.as_str(), a.size), ("a.gguf", 3 << 20));
        *big.last_mut().unwrap() = 8;
        assert_ne!(write("c.gguf", &big).fingerprint, a.fingerprint, "last MiB");
        *big.last_mut().unwrap() = 7;
        big[0] = 9;
        assert_ne!(
            write("d.gguf", &big).fingerprint,
            a.fingerprint,
            "first MiB"
        );
        let small = write("e.gguf", b"GGUF");
        assert_eq!(small.size, 4);
        assert_eq!(small.fingerprint_kind, FINGERPRINT_KIND);
    }
}
