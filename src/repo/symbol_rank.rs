//! Ranking the functions and classes of a few files for an issue: what the localize stage looks
//! at once the understand stage has kept its files.
//!
//! The units ranked are classes, methods and functions not nested in another function (a nested
//! function belongs to the function around it, as does a change inside it). A unit scores by
//! BM25 over its own lines (a class's own lines exclude its methods) with the repository's IDF,
//! plus what the issue names: the unit's name as an identifier, a stack frame's function in its
//! file, a dotted path ending in it, its class; and a little by its file's place in `files`.

use std::collections::HashMap;

use super::RepoIndex;
use super::bm25::{B, K1};
use super::index::IndexedFile;
use super::issue_text::without_environment;
use super::mentions::{self, Mentions};
use super::shortlist::query_terms;
use super::symbol::{Symbol, SymbolKind};
use super::tokens;

/// A name the issue uses as an identifier, or a capitalised word naming a class.
const NAME_BOOST: f64 = 0.8;
/// The function of a stack frame in this file.
const FRAME_BOOST: f64 = 0.8;
/// A dotted path (`Class.method`, `module.function`) that ends in the unit.
const DOTTED_BOOST: f64 = 0.6;
/// A method of a class the issue names.
const CLASS_BOOST: f64 = 0.25;
/// How much a later file's units lose: the unit of the `r`-th file (0-based) is multiplied by
/// `1 / (1 + FILE_DECAY × r)`. Measured on the 37 dev instances (`ponder eval shortlist`),
/// function Acc@5/10 within the top 5 files: 0.15 → 54.1/62.2, 0.2 → 54.1/64.9, 0.25–0.35 →
/// 56.8/64.9, 0.4 → 51.4/62.2, 0.5 → 45.9/59.5; the middle of the plateau is kept.
const FILE_DECAY: f64 = 0.3;

/// One ranked function, method or class.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedSymbol {
    pub path: String,
    /// `Class.method`, `function`, `Class`.
    pub name: String,
    pub kind: SymbolKind,
    pub start: usize,
    pub end: usize,
    pub score: f64,
}

/// The units of `files` (repository paths, best first) ranked for `issue`, at most `top`.
pub fn rank_symbols(
    index: &RepoIndex,
    issue: &str,
    files: &[String],
    top: usize,
) -> Vec<RankedSymbol> {
    let issue = without_environment(issue);
    let query = query_terms(&issue);
    let mentions = mentions::extract(&issue);
    let weights: HashMap<&str, f64> = query
        .iter()
        .map(|(t, &w)| (t.as_str(), w * index.bm25().idf(t)))
        .filter(|(_, w)| *w > 0.0)
        .collect();
    let mut candidates: Vec<Candidate> = Vec::new();
    for (rank, path) in files.iter().enumerate() {
        let Some(file) = index.file(path) else {
            continue;
        };
        for unit in units(file) {
            let (len, counts) = unit_terms(file, &unit, &weights);
            candidates.push(Candidate {
                file,
                rank,
                symbol: &file.symbols[unit.symbol],
                name: unit.name,
                len,
                counts,
            });
        }
    }
    if candidates.is_empty() {
        return Vec::new();
    }
    let avg_len =
        candidates.iter().map(|c| f64::from(c.len)).sum::<f64>() / candidates.len() as f64;
    let lexical: Vec<f64> = candidates
        .iter()
        .map(|c| {
            let norm = K1 * (1.0 - B + B * f64::from(c.len) / avg_len.max(1.0));
            c.counts
                .iter()
                .map(|(term, &tf)| {
                    let tf = f64::from(tf);
                    weights[term] * tf * (K1 + 1.0) / (tf + norm)
                })
                .sum()
        })
        .collect();
    let best = lexical.iter().copied().fold(0.0, f64::max);
    let named = NamedUnits::new(&mentions, &candidates);
    let mut ranked: Vec<RankedSymbol> = candidates
        .iter()
        .zip(lexical)
        .map(|(c, lex)| {
            let lex = if best > 0.0 { lex / best } else { 0.0 };
            let score = (lex + named.boost(c)) / (1.0 + FILE_DECAY * c.rank as f64);
            RankedSymbol {
                path: c.file.path.clone(),
                name: c.name.clone(),
                kind: c.symbol.kind,
                start: c.symbol.start,
                end: c.symbol.end,
                score,
            }
        })
        .filter(|r| r.score > 0.0)
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| (&a.path, a.start).cmp(&(&b.path, b.start)))
    });
    ranked.truncate(top);
    ranked
}

/// A unit being ranked.
struct Candidate<'a> {
    file: &'a IndexedFile,
    /// Position of its file in the files given.
    rank: usize,
    symbol: &'a Symbol,
    name: String,
    /// Tokens in its own lines.
    len: u32,
    /// Query terms in its own lines, with counts.
    counts: HashMap<&'a str, u32>,
}

/// A unit of a file: the symbol's position, its qualified name, and the lines of nested units
/// (not its own).
pub(crate) struct Unit {
    pub symbol: usize,
    pub name: String,
    /// Line spans of the units directly inside it (a class's methods).
    inner: Vec<(usize, usize)>,
}

/// The units of `file`: classes, methods and functions not inside a function, in source order.
pub(crate) fn units(file: &IndexedFile) -> Vec<Unit> {
    // The enclosing definitions of each symbol, found by span (symbols are in source order).
    let mut stack: Vec<usize> = Vec::new();
    let mut units: Vec<Unit> = Vec::new();
    let mut unit_of: HashMap<usize, usize> = HashMap::new();
    for (i, symbol) in file.symbols.iter().enumerate() {
        while let Some(&top) = stack.last() {
            let outer = &file.symbols[top];
            if outer.start <= symbol.start && symbol.end <= outer.end && top != i {
                break;
            }
            stack.pop();
        }
        let in_function = stack.iter().any(|&s| file.symbols[s].kind.is_callable());
        if symbol.kind != SymbolKind::Variable && !in_function {
            if let Some(&parent) = stack.last()
                && let Some(&u) = unit_of.get(&parent)
            {
                units[u].inner.push((symbol.start, symbol.end));
            }
            unit_of.insert(i, units.len());
            units.push(Unit {
                symbol: i,
                name: symbol.qualified_name(),
                inner: Vec::new(),
            });
        }
        if symbol.kind != SymbolKind::Variable {
            stack.push(i);
        }
    }
    units
}

/// The unit of `file` that line `line` (1-based) belongs to: the innermost class, method or
/// function not inside a function that spans it.
pub fn unit_at(file: &IndexedFile, line: usize) -> Option<String> {
    units(file)
        .into_iter()
        .filter(|u| {
            let s = &file.symbols[u.symbol];
            s.start <= line && line <= s.end
        })
        .max_by_key(|u| file.symbols[u.symbol].depth())
        .map(|u| u.name)
}

/// The token count of a unit's own lines and the query terms among them.
fn unit_terms<'a>(
    file: &IndexedFile,
    unit: &Unit,
    weights: &HashMap<&'a str, f64>,
) -> (u32, HashMap<&'a str, u32>) {
    let symbol = &file.symbols[unit.symbol];
    let mut len = 0u32;
    let mut counts: HashMap<&'a str, u32> = HashMap::new();
    for line in symbol.start..=symbol.end {
        if unit.inner.iter().any(|&(s, e)| s <= line && line <= e) {
            continue;
        }
        for token in tokens::code_tokens(file.lines(line, line)) {
            len += 1;
            if let Some((&term, _)) = weights.get_key_value(token.as_str()) {
                *counts.entry(term).or_default() += 1;
            }
        }
    }
    (len, counts)
}

/// What the issue names, matched against the candidates' names.
struct NamedUnits<'a> {
    mentions: &'a Mentions,
    /// How many candidates carry each plain name (a name on many units points at none).
    sharing: HashMap<&'a str, usize>,
}

impl<'a> NamedUnits<'a> {
    fn new(mentions: &'a Mentions, candidates: &'a [Candidate<'a>]) -> NamedUnits<'a> {
        let mut sharing: HashMap<&str, usize> = HashMap::new();
        for c in candidates {
            *sharing.entry(c.symbol.name.as_str()).or_default() += 1;
        }
        NamedUnits { mentions, sharing }
    }

    fn boost(&self, c: &Candidate) -> f64 {
        let name = c.symbol.name.as_str();
        let specificity = 1.0 / self.sharing.get(name).copied().unwrap_or(1).max(1) as f64;
        let mut boost = 0.0;
        let class_named = |n: &str| self.mentions.capitalized.contains_key(n);
        if self.mentions.identifiers.contains_key(name)
            || (c.symbol.kind == SymbolKind::Class && class_named(name))
        {
            boost += NAME_BOOST * specificity.sqrt();
        }
        if self.mentions.frames.iter().any(|f| {
            f.function.as_deref() == Some(name)
                && (f.path.ends_with(&c.file.path) || c.file.path.ends_with(f.path.as_str()))
        }) {
            boost += FRAME_BOOST;
        }
        let qualified = &c.name;
        if self.mentions.dotted.iter().any(|d| {
            d.ends_with(&format!(".{qualified}"))
                || (qualified.contains('.') && d.as_str() == qualified)
        }) {
            boost += DOTTED_BOOST;
        }
        if let Some(class) = c.symbol.parent()
            && (self.mentions.identifiers.contains_key(class) || class_named(class))
        {
            boost += CLASS_BOOST;
        }
        boost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::Workspace;

    const SESSIONS: &str = "class Session:\n    \"\"\"A session.\"\"\"\n    timeout = 3\n\n    def send(self, request):\n        prepared = self.prepare(request)\n        return self.adapter.send(prepared, timeout=self.timeout)\n\n    def prepare(self, request):\n        return request\n\n\ndef merge_settings(a, b):\n    def inner(x):\n        return x\n    return inner(a) or b\n";
    const ADAPTERS: &str = "class HTTPAdapter:\n    def send(self, request, timeout=None):\n        return urlopen(request, timeout)\n\n    def close(self):\n        pass\n";

    fn index() -> (tempfile::TempDir, RepoIndex) {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("sessions.py"), SESSIONS).unwrap();
        std::fs::write(dir.path().join("adapters.py"), ADAPTERS).unwrap();
        let index = RepoIndex::build(&Workspace::open(dir.path()).unwrap()).unwrap();
        (dir, index)
    }

    #[test]
    fn units_are_classes_methods_and_functions_not_nested_in_functions() {
        let (_dir, index) = index();
        let names: Vec<String> = units(index.file("sessions.py").unwrap())
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(
            names,
            [
                "Session",
                "Session.send",
                "Session.prepare",
                "merge_settings"
            ]
        );
        let file = index.file("sessions.py").unwrap();
        assert_eq!(unit_at(file, 15).as_deref(), Some("merge_settings"));
        assert_eq!(unit_at(file, 3).as_deref(), Some("Session"));
        assert_eq!(unit_at(file, 12), None);
    }

    #[test]
    fn a_dotted_method_and_its_words_rank_it_first() {
        let (_dir, index) = index();
        let files = vec!["sessions.py".to_string(), "adapters.py".to_string()];
        let issue = "Session.send ignores the timeout\n\nThe prepared request is sent without \
            `timeout`; `Session.send` should pass it.";
        let ranked = rank_symbols(&index, issue, &files, 3);
        assert_eq!(ranked[0].name, "Session.send", "{ranked:?}");
        assert_eq!(ranked[0].path, "sessions.py");
        assert!(ranked.len() <= 3);
        assert!(ranked.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(rank_symbols(&index, issue, &[], 3).is_empty());
    }
}
