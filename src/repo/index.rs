//! The repository index, built once per session: every listed file's text, its symbols (parsed
//! in parallel) and a BM25 index over code-aware tokens. After a patch, [`RepoIndex::reindex`]
//! re-reads only the files that changed. [`super::open_index`] builds it from a persisted
//! snapshot instead, re-parsing only what changed since.
//!
//! Invariant: a file's slot number never changes while the index lives (removed files leave an
//! empty slot), so the symbol-name map and the BM25 postings can be updated file by file.

use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Result;
use rayon::prelude::*;

use super::bm25::{Bm25, TermCounts};
use super::fresh::{BlobId, GitIndex, Stamp, blob_id};
use super::lang::Lang;
use super::parse;
use super::progress::{IndexProgress, Progress};
use super::symbol::Symbol;
use super::symbols::{Symbols, name_key};
use super::text::Text;
use super::tokens;
use super::workspace::{MAX_FILE_BYTES, Skipped, Workspace};

/// Path tokens count this many times in a file's BM25 document: a file's name says a lot.
const PATH_WEIGHT: u32 = 3;

/// One indexed file.
#[derive(Debug, Clone)]
pub struct IndexedFile {
    /// Repository-relative, `/` separators.
    pub path: String,
    pub lang: Option<Lang>,
    /// The text (invalid UTF-8 replaced by U+FFFD).
    pub text: Text,
    /// Byte offset of the start of each line, found when first asked for (a warm start does
    /// not touch the text of files no one reads).
    line_starts: OnceLock<Vec<u32>>,
    /// Definitions in source order (empty for languages the index does not parse).
    pub symbols: Symbols,
    /// True when the parser had to recover from a syntax error.
    pub has_errors: bool,
    /// The file's stamp when it was read (taken before reading).
    pub(crate) stamp: Stamp,
    /// The git blob id of the content read.
    pub(crate) blob: BlobId,
}

impl IndexedFile {
    /// A file with the given content and what was parsed from it (line starts are computed).
    pub(crate) fn new(
        path: String,
        lang: Option<Lang>,
        text: impl Into<Text>,
        symbols: impl Into<Symbols>,
        has_errors: bool,
        stamp: Stamp,
        blob: BlobId,
    ) -> IndexedFile {
        let text = text.into();
        IndexedFile {
            path,
            lang,
            text,
            line_starts: OnceLock::new(),
            symbols: symbols.into(),
            has_errors,
            stamp,
            blob,
        }
    }

    /// Number of lines.
    pub fn line_count(&self) -> usize {
        self.starts().len()
    }

    fn starts(&self) -> &[u32] {
        self.line_starts.get_or_init(|| line_starts(&self.text))
    }

    /// Lines `start..=end` (1-based, clamped to the file), without their final newline.
    pub fn lines(&self, start: usize, end: usize) -> &str {
        let count = self.line_count();
        if count == 0 || start > count || start > end {
            return "";
        }
        let start = start.max(1);
        let end = end.min(count);
        let starts = self.starts();
        let from = starts[start - 1] as usize;
        let to = starts.get(end).map_or(self.text.len(), |&at| at as usize);
        self.text[from..to].trim_end_matches(['\n', '\r'])
    }

    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        let offset = u32::try_from(offset).unwrap_or(u32::MAX);
        match self.starts().binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// The innermost definition spanning `line` that is a class or callable, if any.
    pub fn enclosing(&self, line: usize) -> Option<&Symbol> {
        self.symbols
            .iter()
            .filter(|s| s.kind != super::SymbolKind::Variable && s.start <= line && line <= s.end)
            .max_by_key(|s| (s.depth(), s.start))
    }
}

/// A reference to one symbol: file slot and position in that file's symbol list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SymbolRef {
    file: u32,
    symbol: u32,
}

impl SymbolRef {
    fn new(file: usize, symbol: usize) -> SymbolRef {
        let narrow = |n: usize| u32::try_from(n).expect("fewer than 2^32 files and symbols");
        SymbolRef {
            file: narrow(file),
            symbol: narrow(symbol),
        }
    }
}

/// The definitions of one name: most names have one or two, kept inline (a warm start builds
/// this for every name of the repository; an allocation each cost it 7–17% of its CPU time on
/// 20,000 files).
type Refs = SmallVec<[SymbolRef; 2]>;

/// What [`RepoIndex::reindex`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reindexed {
    pub updated: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// The index's lookup tables: slot by path, symbols by name.
pub(crate) struct NameTables {
    by_path: FxHashMap<String, usize>,
    by_name: FxHashMap<u64, Refs>,
}

impl NameTables {
    /// The tables of the files in `slots`.
    pub(crate) fn of(slots: &[Option<IndexedFile>]) -> NameTables {
        let mut by_path = FxHashMap::with_capacity_and_hasher(slots.len(), Default::default());
        let symbols = slots.iter().flatten().map(|f| f.symbols.len()).sum();
        let mut by_name: FxHashMap<u64, Refs> =
            FxHashMap::with_capacity_and_hasher(symbols, Default::default());
        for (slot, file) in slots.iter().enumerate() {
            let Some(file) = file else { continue };
            by_path.insert(file.path.clone(), slot);
            for (i, &key) in file.symbols.keys().iter().enumerate() {
                by_name
                    .entry(key)
                    .or_default()
                    .push(SymbolRef::new(slot, i));
            }
        }
        NameTables { by_path, by_name }
    }
}

/// Everything ponder knows about a repository's files, for search and ranking.
pub struct RepoIndex {
    root: PathBuf,
    slots: Vec<Option<IndexedFile>>,
    by_path: FxHashMap<String, usize>,
    /// Definitions by a hash of their name ([`name_key`]); readers compare the names, so two
    /// names of one hash never mix. No string per definition: a warm start builds this for
    /// every definition of the repository.
    by_name: FxHashMap<u64, Refs>,
    bm25: Bm25,
    skipped: Vec<Skipped>,
}

impl RepoIndex {
    /// Reads, parses and indexes every file of the workspace, in parallel (nothing persisted:
    /// see [`super::open_index`] for the index kept between runs).
    pub fn build(workspace: &Workspace) -> Result<RepoIndex> {
        RepoIndex::build_reporting(workspace, &|_| {})
    }

    /// [`RepoIndex::build`], telling `progress` how many files are indexed of how many.
    pub fn build_reporting(
        workspace: &Workspace,
        progress: &(dyn Fn(IndexProgress) + Sync),
    ) -> Result<RepoIndex> {
        let root = workspace.root();
        let git = GitIndex::read(root);
        let progress = Progress::new(workspace.files().len(), progress);
        let loaded: Vec<Option<(IndexedFile, TermCounts)>> = workspace
            .files()
            .par_iter()
            .zip(workspace.stamps())
            .map(|(path, stamp)| {
                let loaded = read_listed(root, path, *stamp, git.as_ref());
                progress.advance(false);
                loaded
            })
            .collect();
        let mut slots = Vec::with_capacity(loaded.len());
        let mut bm25 = Bm25::default();
        for (file, counts) in loaded.into_iter().flatten() {
            bm25.insert(slots.len(), &counts);
            slots.push(Some(file));
        }
        progress.finish();
        let tables = NameTables::of(&slots);
        Ok(RepoIndex::assemble(
            root.to_path_buf(),
            workspace.skipped().to_vec(),
            slots,
            bm25,
            tables,
        ))
    }

    /// An index of `slots` whose BM25 documents (by slot) are already in `bm25` and whose
    /// names are in `tables` ([`NameTables::of`] the same slots).
    pub(crate) fn assemble(
        root: PathBuf,
        skipped: Vec<Skipped>,
        slots: Vec<Option<IndexedFile>>,
        bm25: Bm25,
        tables: NameTables,
    ) -> RepoIndex {
        RepoIndex {
            root,
            slots,
            by_path: tables.by_path,
            by_name: tables.by_name,
            bm25,
            skipped,
        }
    }

    /// Every slot, empty ones included (for persisting the index).
    pub(crate) fn slots(&self) -> &[Option<IndexedFile>] {
        &self.slots
    }

    /// Re-reads `paths` (repository-relative): changed files are re-parsed, new ones added,
    /// vanished ones removed. Unchanged files (same size and modification time) cost one `stat`.
    pub fn reindex(&mut self, paths: &[String]) -> Result<Reindexed> {
        let mut report = Reindexed::default();
        for path in paths {
            let path = path.trim_start_matches("./");
            let slot = self.by_path.get(path).copied();
            let stamp = Stamp::of(&self.root.join(path));
            match (slot, stamp) {
                (Some(slot), None) => {
                    self.clear(slot);
                    self.by_path.remove(path);
                    report.removed.push(path.to_string());
                }
                (Some(slot), Some(stamp)) => {
                    if self.slots[slot].as_ref().is_some_and(|f| f.stamp == stamp) {
                        continue;
                    }
                    self.clear(slot);
                    match load(&self.root, path) {
                        Some((file, counts)) => {
                            self.fill(slot, file, &counts);
                            report.updated.push(path.to_string());
                        }
                        None => {
                            self.by_path.remove(path);
                            report.removed.push(path.to_string());
                        }
                    }
                }
                (None, Some(_)) => {
                    if let Some((file, counts)) = load(&self.root, path) {
                        let slot = self.slots.len();
                        self.slots.push(None);
                        self.fill(slot, file, &counts);
                        report.added.push(path.to_string());
                    }
                }
                (None, None) => {}
            }
        }
        Ok(report)
    }

    /// Re-indexes every indexed file whose size or modification time changed.
    pub fn refresh(&mut self) -> Result<Reindexed> {
        let paths: Vec<String> = self.by_path.keys().cloned().collect();
        self.reindex(&paths)
    }

    fn fill(&mut self, slot: usize, file: IndexedFile, counts: &TermCounts) {
        for (i, &key) in file.symbols.keys().iter().enumerate() {
            self.by_name
                .entry(key)
                .or_default()
                .push(SymbolRef::new(slot, i));
        }
        self.bm25.insert(slot, counts);
        self.by_path.insert(file.path.clone(), slot);
        self.slots[slot] = Some(file);
    }

    fn clear(&mut self, slot: usize) {
        let Some(old) = self.slots[slot].take() else {
            return;
        };
        for &key in old.symbols.keys() {
            if let Some(refs) = self.by_name.get_mut(&key) {
                refs.retain(|r| r.file as usize != slot);
                if refs.is_empty() {
                    self.by_name.remove(&key);
                }
            }
        }
        self.bm25.remove(slot);
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Files left out when the workspace was listed, with the reason.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Number of indexed files.
    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    /// The indexed file at `path` (exact, repository-relative).
    pub fn file(&self, path: &str) -> Option<&IndexedFile> {
        self.by_path
            .get(path)
            .and_then(|&slot| self.slots[slot].as_ref())
    }

    /// The file in a slot.
    pub fn slot(&self, slot: usize) -> Option<&IndexedFile> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    /// The slot of the file at `path`.
    pub fn slot_of(&self, path: &str) -> Option<usize> {
        self.by_path.get(path).copied()
    }

    /// Every indexed file with its slot, sorted by path.
    pub fn files(&self) -> Vec<(usize, &IndexedFile)> {
        let mut files: Vec<(usize, &IndexedFile)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, f)| f.as_ref().map(|f| (slot, f)))
            .collect();
        files.sort_by(|a, b| a.1.path.cmp(&b.1.path));
        files
    }

    /// Every indexed path, sorted.
    pub fn paths(&self) -> Vec<String> {
        self.files()
            .into_iter()
            .map(|(_, f)| f.path.clone())
            .collect()
    }

    /// The definitions named exactly `name`, anywhere.
    pub fn symbols_named(&self, name: &str) -> Vec<(&IndexedFile, &Symbol)> {
        let mut found: Vec<(&IndexedFile, &Symbol)> = self.named(name).collect();
        found.sort_by(|a, b| (&a.0.path, a.1.start).cmp(&(&b.0.path, b.1.start)));
        found
    }

    /// Number of files defining a symbol named `name`.
    pub fn files_defining(&self, name: &str) -> usize {
        let mut files: Vec<&str> = self.named(name).map(|(f, _)| f.path.as_str()).collect();
        files.dedup();
        files.len()
    }

    /// The definitions named `name`, in the order they were indexed.
    fn named<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = (&'a IndexedFile, &'a Symbol)> + use<'a, 'n> {
        self.by_name
            .get(&name_key(name))
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let file = self.slot(r.file as usize)?;
                Some((file, file.symbols.get(r.symbol as usize)?))
            })
            .filter(move |(_, symbol)| symbol.name == name)
    }

    /// The code-aware BM25 index (documents are file slots).
    pub fn bm25(&self) -> &Bm25 {
        &self.bm25
    }

    /// Resolves a path the model or the user wrote: exact, then `./`-less, then the one indexed
    /// file it is a suffix of (at a `/` boundary). `None` when absent or ambiguous.
    pub fn resolve_path(&self, path: &str) -> Option<&IndexedFile> {
        let path = path.trim().trim_start_matches("./");
        if let Some(file) = self.file(path) {
            return Some(file);
        }
        let root = self.root.to_string_lossy();
        if let Some(file) = path
            .strip_prefix(root.as_ref())
            .and_then(|rel| self.file(rel.trim_start_matches('/')))
        {
            return Some(file);
        }
        let suffix = format!("/{}", path.trim_start_matches('/'));
        let mut hits = self
            .slots
            .iter()
            .flatten()
            .filter(|f| f.path.ends_with(&suffix));
        let first = hits.next()?;
        hits.next().is_none().then_some(first)
    }
}

/// Reads and parses one file; `None` if it cannot be read, is too large or binary (checked
/// again here for files given to `reindex`).
fn load(root: &Path, path: &str) -> Option<(IndexedFile, TermCounts)> {
    let stamp = Stamp::of(&root.join(path))?;
    read_listed(root, path, stamp, None)
}

/// Reads and parses a file whose `stamp` was taken before; its blob id comes from git's index
/// when that still vouches for the file, else from hashing what was read.
pub(crate) fn read_listed(
    root: &Path,
    path: &str,
    stamp: Stamp,
    git: Option<&GitIndex>,
) -> Option<(IndexedFile, TermCounts)> {
    if stamp.len > MAX_FILE_BYTES {
        return None;
    }
    let bytes = std::fs::read(root.join(path)).ok()?;
    let blob = git
        .and_then(|g| g.clean_blob(path, &stamp))
        .filter(|_| bytes.len() as u64 == stamp.len)
        .unwrap_or_else(|| blob_id(&bytes));
    parse_bytes(path, bytes, stamp, blob)
}

/// Parses a file's content; `None` for binary content.
pub(crate) fn parse_bytes(
    path: &str,
    bytes: Vec<u8>,
    stamp: Stamp,
    blob: BlobId,
) -> Option<(IndexedFile, TermCounts)> {
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return None;
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    };
    let lang = Lang::of(path);
    let parsed = lang
        .map(|lang| parse::parse(lang, &text))
        .unwrap_or_default();
    let counts = term_counts(path, &text);
    Some((
        IndexedFile::new(
            path.to_string(),
            lang,
            text,
            parsed.symbols,
            parsed.has_errors,
            stamp,
            blob,
        ),
        counts,
    ))
}

/// A file's BM25 document: its text's code tokens, and its path's weighted.
pub(crate) fn term_counts(path: &str, text: &str) -> TermCounts {
    let mut counts = TermCounts::default();
    tokens::count_code_tokens(text, &mut counts, 1);
    tokens::count_code_tokens(path, &mut counts, PATH_WEIGHT);
    counts
}

/// Byte offsets of the start of each line (none for empty text). Indexed files are at most
/// [`MAX_FILE_BYTES`], so an offset fits in a `u32`.
fn line_starts(text: &str) -> Vec<u32> {
    if text.is_empty() {
        return Vec::new();
    }
    let mut starts = vec![0];
    starts.extend(
        memchr::memchr_iter(b'\n', text.as_bytes())
            .filter(|&i| i + 1 < text.len())
            .map(|i| i as u32 + 1),
    );
    starts
}
