//! Where a cold index spends its time: each file read, parsed and tokenized on one thread with
//! each phase timed, for `ponder bench index --profile` (profile before optimising).

use std::time::{Duration, Instant};

use super::Workspace;
use super::bm25::TermCounts;
use super::lang::Lang;
use super::parse;
use super::tokens;

/// One file's phases.
#[derive(Debug, Clone)]
pub struct FileProfile {
    pub path: String,
    pub bytes: usize,
    pub read: Duration,
    pub parse: Duration,
    pub tokenize: Duration,
}

/// Reads, parses and tokenizes every file of `workspace` on this thread, timing each phase.
pub fn profile_files(workspace: &Workspace) -> Vec<FileProfile> {
    let mut out = Vec::new();
    for path in workspace.files() {
        let started = Instant::now();
        let Ok(bytes) = std::fs::read(workspace.root().join(path)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let read = started.elapsed();
        let started = Instant::now();
        if let Some(lang) = Lang::of(path) {
            std::hint::black_box(parse::parse(lang, &text));
        }
        let parse = started.elapsed();
        let started = Instant::now();
        let mut counts = TermCounts::default();
        tokens::count_code_tokens(&text, &mut counts, 1);
        std::hint::black_box(counts);
        let tokenize = started.elapsed();
        out.push(FileProfile {
            path: path.clone(),
            bytes: bytes.len(),
            read,
            parse,
            tokenize,
        });
    }
    out
}
