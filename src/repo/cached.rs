//! Opening the index from its persisted snapshot: files whose stamp or git blob id is
//! unchanged are taken from the snapshot, the rest are read and parsed, vanished ones dropped;
//! then the snapshot is rewritten if anything differed.
//!
//! A snapshot that cannot be trusted (see [`super::store`]) or decoded is rebuilt from scratch
//! and the reason reported; a snapshot that cannot be written costs the next run a cold start,
//! never this one its index.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;
use rayon::prelude::*;

use super::bm25::{Bm25, TermCounts};
use super::fresh::{GitIndex, Stamp, blob_id};
use super::index::{IndexedFile, NameTables, parse_bytes, read_listed};
use super::progress::{IndexProgress, Progress};
use super::snapshot::{self, FORMAT, StoredFile};
use super::store::{IndexStore, Loaded};
use super::{RepoIndex, Workspace};

/// How the persisted snapshot served an [`open_index`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheState {
    /// Persistence is off (no store).
    Off,
    /// No snapshot yet: a cold start.
    Missing,
    /// The snapshot could not be trusted and was rebuilt; the reason.
    Rebuilt(String),
    /// The snapshot was used.
    Used,
}

/// What [`open_index`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    pub cache: CacheState,
    /// Files taken from the snapshot.
    pub reused: usize,
    /// Files read and parsed.
    pub parsed: usize,
    /// Files of the snapshot no longer listed.
    pub dropped: usize,
    /// Whether a new snapshot was written.
    pub saved: bool,
    /// Why writing the snapshot failed, if it did.
    pub save_error: Option<String>,
}

impl OpenReport {
    /// A few words for the user: `1815 from the index cache, 1 parsed`, and why the cache was
    /// not used or not saved when it was not.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{} from the index cache, {} parsed",
            self.reused, self.parsed
        );
        match &self.cache {
            CacheState::Off => line.push_str(" (index cache off)"),
            CacheState::Missing => line.push_str(" (no index cache yet)"),
            CacheState::Rebuilt(reason) => {
                line.push_str(&format!(" (index cache rebuilt: {reason})"))
            }
            CacheState::Used => {}
        }
        if let Some(err) = &self.save_error {
            line.push_str(&format!("; the index cache was not saved: {err}"));
        }
        line
    }
}

/// What to do with one listed file.
enum Plan {
    /// Take the snapshot's file at this position, with the file's current stamp.
    Reuse(usize),
    /// Read and parsed now (`None`: unreadable or binary, left out).
    Parsed(Option<Box<(IndexedFile, TermCounts)>>),
}

/// A file of the new index: taken from the snapshot (with its current stamp), or parsed now.
enum Filled {
    Stored(StoredFile, Stamp),
    Parsed(IndexedFile),
}

impl Filled {
    fn into_file(self) -> IndexedFile {
        match self {
            Filled::Stored(stored, stamp) => IndexedFile::new(
                stored.path,
                stored.lang,
                stored.text,
                stored.symbols,
                stored.has_errors,
                stamp,
                stored.blob,
            ),
            Filled::Parsed(file) => file,
        }
    }
}

/// A persisted snapshot, read before the workspace is listed: a file it holds with an
/// unchanged stamp need not be read again to tell text from binary, and the index is then
/// built from it ([`open_persisted`]).
pub struct Persisted {
    snapshot: Option<snapshot::Snapshot>,
    cache: CacheState,
    /// Positions of the snapshot's files, sorted by path.
    by_path: Vec<usize>,
}

impl Persisted {
    /// Reads and decodes `store`'s snapshot of the repository at `root`, if it has a usable one.
    pub fn read(root: &Path, store: Option<&IndexStore>) -> Persisted {
        let (snapshot, cache) = match store.map(|s| s.load(root, FORMAT)) {
            None => (None, CacheState::Off),
            Some(Loaded::Missing) => (None, CacheState::Missing),
            Some(Loaded::Invalid(reason)) => (None, CacheState::Rebuilt(reason)),
            Some(Loaded::Found(payload)) => match snapshot::decode(&payload, Some(payload.map())) {
                Ok(snapshot) => (Some(snapshot), CacheState::Used),
                Err(err) => (
                    None,
                    CacheState::Rebuilt(format!("cannot decode it: {err}")),
                ),
            },
        };
        let count = snapshot.as_ref().map_or(0, |s| s.files.len());
        let mut by_path: Vec<usize> = (0..count).collect();
        if let Some(s) = &snapshot {
            by_path.par_sort_unstable_by(|&a, &b| s.files[a].path.cmp(&s.files[b].path));
        }
        Persisted {
            snapshot,
            cache,
            by_path,
        }
    }

    /// Whether the snapshot holds `path` as a text file with this stamp, settled before the
    /// listing that took it (the rule by which the index reuses a file).
    pub(crate) fn knows(&self, path: &str, stamp: &Stamp) -> bool {
        let Some(snapshot) = &self.snapshot else {
            return false;
        };
        self.by_path
            .binary_search_by(|&i| snapshot.files[i].path.as_str().cmp(path))
            .is_ok_and(|at| {
                let stored = &snapshot.files[self.by_path[at]];
                stored.stamp == *stamp && stamp.settled_before(snapshot.listed_ns)
            })
    }
}

/// Lists the repository containing `path` and opens its index: the persisted snapshot is read
/// first, so files it holds unchanged are neither read to be listed nor parsed.
pub fn open_workspace(
    path: &Path,
    store: Option<&IndexStore>,
    progress: &(dyn Fn(IndexProgress) + Sync),
) -> Result<(Workspace, RepoIndex, OpenReport)> {
    let root = Workspace::root_of(path)?;
    let persisted = Persisted::read(&root, store);
    let workspace = Workspace::list(root, &|path, stamp| persisted.knows(path, stamp))?;
    let (index, report) = open_persisted(&workspace, persisted, store, progress)?;
    Ok((workspace, index, report))
}

/// The index of `workspace`, from `store`'s snapshot where files are unchanged (everything
/// parsed when `store` is `None`); `progress` hears how many files are done.
pub fn open_index(
    workspace: &Workspace,
    store: Option<&IndexStore>,
    progress: &(dyn Fn(IndexProgress) + Sync),
) -> Result<(RepoIndex, OpenReport)> {
    let persisted = Persisted::read(workspace.root(), store);
    open_persisted(workspace, persisted, store, progress)
}

/// The index of `workspace` from a snapshot already read (see [`open_index`]).
pub fn open_persisted(
    workspace: &Workspace,
    persisted: Persisted,
    store: Option<&IndexStore>,
    progress: &(dyn Fn(IndexProgress) + Sync),
) -> Result<(RepoIndex, OpenReport)> {
    let root = workspace.root();
    let Persisted {
        snapshot, cache, ..
    } = persisted;
    let (listed_ns, mut stored) = match snapshot {
        Some(s) => (s.listed_ns, Some((s.vocabulary, s.files))),
        None => (0, None),
    };
    let empty: Vec<StoredFile> = Vec::new();
    let stored_files = stored.as_ref().map_or(&empty, |(_, files)| files);
    let by_path: HashMap<&str, usize> = stored_files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.as_str(), i))
        .collect();
    let settled = |i: usize| {
        let stamp = &workspace.stamps()[i];
        by_path
            .get(workspace.files()[i].as_str())
            .is_some_and(|&s| stored_files[s].stamp == *stamp && stamp.settled_before(listed_ns))
    };
    // Git's index is read only when some file needs more than its stamp.
    let git = (0..workspace.files().len())
        .any(|i| !settled(i))
        .then(|| GitIndex::read(root))
        .flatten();
    let counter = Progress::new(workspace.files().len(), progress);
    let plans: Vec<Plan> = (0..workspace.files().len())
        .into_par_iter()
        .map(|i| {
            let path = workspace.files()[i].as_str();
            let stamp = workspace.stamps()[i];
            let cached = by_path.get(path).copied();
            let plan = match cached {
                Some(s) if settled(i) => Plan::Reuse(s),
                Some(s) => {
                    let known = &stored_files[s].blob;
                    if git
                        .as_ref()
                        .and_then(|g| g.clean_blob(path, &stamp))
                        .is_some_and(|blob| blob == *known)
                    {
                        Plan::Reuse(s)
                    } else {
                        match std::fs::read(root.join(path)) {
                            Ok(bytes) => {
                                let blob = blob_id(&bytes);
                                if blob == *known {
                                    Plan::Reuse(s)
                                } else {
                                    Plan::Parsed(
                                        parse_bytes(path, bytes, stamp, blob).map(Box::new),
                                    )
                                }
                            }
                            Err(_) => Plan::Parsed(None),
                        }
                    }
                }
                None => Plan::Parsed(read_listed(root, path, stamp, git.as_ref()).map(Box::new)),
            };
            counter.advance(matches!(plan, Plan::Reuse(_)));
            plan
        })
        .collect();
    counter.finish();

    let mut report = OpenReport {
        cache,
        reused: 0,
        parsed: 0,
        dropped: 0,
        saved: false,
        save_error: None,
    };
    // Every reused file whose stamp is not the stored one (touched, or verified by content)
    // makes the snapshot worth rewriting, as do parsed and dropped files.
    let mut restamped = false;
    let mut filled: Vec<Filled> = Vec::with_capacity(plans.len());
    let mut reused_docs: Vec<(usize, Vec<(u32, u32)>)> = Vec::new();
    let mut parsed: Vec<(usize, TermCounts)> = Vec::new();
    let dropped = stored_files
        .iter()
        .filter(|f| !workspace.has_file(&f.path))
        .count();
    let mut files = stored.as_mut().map(|(_, files)| files);
    for (i, plan) in plans.into_iter().enumerate() {
        let slot = filled.len();
        match plan {
            Plan::Reuse(s) => {
                let Some(files) = files.as_deref_mut() else {
                    continue;
                };
                let mut stored = std::mem::take(&mut files[s]);
                let stamp = workspace.stamps()[i];
                restamped |= stored.stamp != stamp || !stamp.settled_before(listed_ns);
                reused_docs.push((slot, std::mem::take(&mut stored.terms)));
                filled.push(Filled::Stored(stored, stamp));
                report.reused += 1;
            }
            Plan::Parsed(Some(parsed_file)) => {
                let (file, counts) = *parsed_file;
                parsed.push((slot, counts));
                filled.push(Filled::Parsed(file));
                report.parsed += 1;
            }
            Plan::Parsed(None) => {}
        }
    }
    report.dropped = dropped;
    let vocabulary = stored.map(|(v, _)| v).unwrap_or_default();
    let slots: Vec<Option<IndexedFile>> = filled
        .into_par_iter()
        .map(|f| Some(f.into_file()))
        .collect();
    // The term table and the name tables are rebuilt side by side.
    let (bm25, tables) = rayon::join(
        || Bm25::import(vocabulary, reused_docs),
        || NameTables::of(&slots),
    );
    let mut bm25 = match bm25 {
        Some(bm25) => bm25,
        None => {
            // The checksum held but the data does not: never trust it; index from scratch.
            let (index, mut report) = open_index(workspace, None, &|_| {})?;
            report.cache = CacheState::Rebuilt("its term table is inconsistent".into());
            return save_then(index, report, workspace, store);
        }
    };
    for (slot, counts) in &parsed {
        bm25.insert(*slot, counts);
    }
    let index = RepoIndex::assemble(
        root.to_path_buf(),
        workspace.skipped().to_vec(),
        slots,
        bm25,
        tables,
    );
    if report.cache == CacheState::Used && report.parsed == 0 && report.dropped == 0 && !restamped {
        return Ok((index, report));
    }
    save_then(index, report, workspace, store)
}

/// Writes `index`'s snapshot to `store` (if any), noting the outcome in `report`.
fn save_then(
    index: RepoIndex,
    mut report: OpenReport,
    workspace: &Workspace,
    store: Option<&IndexStore>,
) -> Result<(RepoIndex, OpenReport)> {
    let Some(store) = store else {
        return Ok((index, report));
    };
    let written = snapshot::encode(&index, workspace.listed_ns())
        .map_err(anyhow::Error::from)
        .and_then(|payload| store.save(index.root(), FORMAT, &payload));
    match written {
        Ok(()) => report.saved = true,
        Err(err) => report.save_error = Some(format!("{err:#}")),
    }
    Ok((index, report))
}
