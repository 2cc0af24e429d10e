//! Passage-level evidence: a file scored by its best window of lines (BM25 "MaxP").
//!
//! Whole-file BM25 favours long files that mention every word of an issue somewhere; the code
//! an issue is about usually holds its words close together. So each candidate file is cut into
//! overlapping windows of [`WINDOW_LINES`] lines, each window is scored with BM25 (the
//! repository-wide IDF, the windows' own lengths), and the file gets its best window's score.

use std::collections::HashMap;

use super::RepoIndex;
use super::bm25::{B, K1};
use super::tokens;

/// Lines in a window.
const WINDOW_LINES: usize = 40;
/// Lines between the starts of consecutive windows (windows overlap by half).
const WINDOW_STEP: usize = 20;

/// One window of a file: its length in tokens and the query terms' counts in it.
struct Window {
    slot: usize,
    len: u32,
    counts: Vec<(usize, u32)>,
}

/// The best window's BM25 score of each of `candidates` (file slots) for the weighted `query`;
/// files without a matching window are left out.
pub fn best_passage_scores(
    index: &RepoIndex,
    query: &HashMap<String, f64>,
    candidates: &[usize],
) -> HashMap<usize, f64> {
    let terms: Vec<(&str, f64)> = query
        .iter()
        .map(|(t, &w)| (t.as_str(), w * index.bm25().idf(t)))
        .filter(|(_, w)| *w > 0.0)
        .collect();
    let slot_of_term: HashMap<&str, usize> = terms
        .iter()
        .enumerate()
        .map(|(i, (t, _))| (*t, i))
        .collect();
    let mut windows: Vec<Window> = Vec::new();
    for &slot in candidates {
        let Some(file) = index.slot(slot) else {
            continue;
        };
        let lines: Vec<(u32, Vec<usize>)> = file
            .text
            .lines()
            .map(|line| {
                let mut len = 0u32;
                let mut hits = Vec::new();
                for token in tokens::code_tokens(line) {
                    len += 1;
                    if let Some(&i) = slot_of_term.get(token.as_str()) {
                        hits.push(i);
                    }
                }
                (len, hits)
            })
            .collect();
        let mut start = 0;
        while start < lines.len() {
            let end = (start + WINDOW_LINES).min(lines.len());
            let mut len = 0u32;
            let mut counts: HashMap<usize, u32> = HashMap::new();
            for (line_len, hits) in &lines[start..end] {
                len += line_len;
                for &i in hits {
                    *counts.entry(i).or_default() += 1;
                }
            }
            windows.push(Window {
                slot,
                len,
                counts: counts.into_iter().collect(),
            });
            if end == lines.len() {
                break;
            }
            start += WINDOW_STEP;
        }
    }
    if windows.is_empty() {
        return HashMap::new();
    }
    let avg_len = windows.iter().map(|w| f64::from(w.len)).sum::<f64>() / windows.len() as f64;
    let mut best: HashMap<usize, f64> = HashMap::new();
    for Window { slot, len, counts } in windows {
        let norm = K1 * (1.0 - B + B * f64::from(len) / avg_len.max(1.0));
        let score: f64 = counts
            .iter()
            .map(|&(i, tf)| {
                let tf = f64::from(tf);
                terms[i].1 * tf * (K1 + 1.0) / (tf + norm)
            })
            .sum();
        if score > 0.0 {
            let entry = best.entry(slot).or_default();
            *entry = entry.max(score);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::best_passage_scores;
    use crate::repo::{RepoIndex, Workspace};

    #[test]
    fn words_close_together_beat_the_same_words_spread_out() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        let filler = "x = 1\n".repeat(100);
        let close = format!("{filler}def f():\n    retry timeout socket\n{filler}");
        let spread = format!("retry = 1\n{filler}timeout = 2\n{filler}socket = 3\n");
        std::fs::write(dir.path().join("close.py"), close).unwrap();
        std::fs::write(dir.path().join("spread.py"), spread).unwrap();
        let index = RepoIndex::build(&Workspace::open(dir.path()).unwrap()).unwrap();
        let query: HashMap<String, f64> = ["retry", "timeout", "socket"]
            .iter()
            .map(|t| (t.to_string(), 1.0))
            .collect();
        let slots: Vec<usize> = index.files().iter().map(|(s, _)| *s).collect();
        let scores = best_passage_scores(&index, &query, &slots);
        let of = |p: &str| scores[&index.slot_of(p).unwrap()];
        assert!(of("close.py") > of("spread.py"), "{scores:?}");
    }
}
