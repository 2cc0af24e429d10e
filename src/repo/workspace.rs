//! The user's repository, opened read-only: its root and the files worth reading.
//!
//! Files are listed by walking the working tree with the `ignore` crate, so `.gitignore`,
//! `.git/info/exclude` and global excludes are honoured. Symbolic links are not followed (no
//! loops), nested repositories and submodules are not entered, and binaries, vendored and
//! generated files and files over [`MAX_FILE_BYTES`] are left out — each one noted in
//! [`Workspace::skipped`] with its reason, never silently.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use super::fresh::{Stamp, now_ns};

/// Files larger than this are not read (they are noted as skipped).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Folders whose contents are someone else's code, copied in.
const VENDORED_DIRS: &[&str] = &[
    "node_modules",
    "vendor",
    "vendored",
    "_vendor",
    "third_party",
    "thirdparty",
    "third-party",
    "site-packages",
    "bower_components",
];

/// File names that are generated, never edited by hand.
const GENERATED_FILES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "Pipfile.lock",
    "go.sum",
    "composer.lock",
    "uv.lock",
];

/// A file left out of the listing, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: SkipReason,
}

/// Why a file is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Over [`MAX_FILE_BYTES`]; holds the size in bytes.
    TooLarge(u64),
    /// Has a NUL byte in its first 8 KiB.
    Binary,
    /// Under a vendored folder such as `node_modules/` or `third_party/`.
    Vendored,
    /// A lock file or minified bundle.
    Generated,
    /// Its path is not valid UTF-8.
    NonUtf8Path,
    /// Could not be read (permissions, vanished while listing).
    Unreadable,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::TooLarge(bytes) => write!(f, "larger than 1 MiB ({bytes} bytes)"),
            SkipReason::Binary => write!(f, "binary"),
            SkipReason::Vendored => write!(f, "vendored"),
            SkipReason::Generated => write!(f, "generated"),
            SkipReason::NonUtf8Path => write!(f, "path is not UTF-8"),
            SkipReason::Unreadable => write!(f, "unreadable"),
        }
    }
}

/// A git repository ponder works on. ponder never writes to its working tree.
pub struct Workspace {
    root: PathBuf,
    files: Vec<String>,
    /// Each listed file's stamp, taken while listing (before anything read its content).
    stamps: Vec<Stamp>,
    skipped: Vec<Skipped>,
    /// When the listing started, nanoseconds since the Unix epoch.
    listed_ns: u64,
}

impl Workspace {
    /// Opens the repository containing `path` (any folder inside it) and lists its files.
    pub fn open(path: &Path) -> Result<Workspace> {
        Workspace::list(Workspace::root_of(path)?, &|_, _| false)
    }

    /// The working tree's root of the git repository containing `path`, canonical.
    pub fn root_of(path: &Path) -> Result<PathBuf> {
        if !path.exists() {
            bail!(
                "{} does not exist: pass --repo with the folder of a git repository",
                path.display()
            );
        }
        let repo = git2::Repository::discover(path).map_err(|_| {
            anyhow::anyhow!(
                "{} is not inside a git repository. ponder fixes issues in git repositories: \
                 run `git init && git add -A && git commit -m init` there first, or pass --repo \
                 with the repository's folder",
                path.display()
            )
        })?;
        let root = repo
            .workdir()
            .context("the repository is bare (it has no working tree); point ponder at a checkout")?
            .to_path_buf();
        Ok(root.canonicalize().unwrap_or(root))
    }

    /// Lists the files under `root` (from [`Workspace::root_of`]). A file for which `known`
    /// says its path and stamp were already seen as text (by a persisted index) is not read
    /// again to tell text from binary.
    pub(crate) fn list(
        root: PathBuf,
        known: &(dyn Fn(&str, &Stamp) -> bool + Sync),
    ) -> Result<Workspace> {
        let listed_ns = now_ns();
        let (listed, skipped) = list_files(&root, known);
        let (files, stamps): (Vec<String>, Vec<Stamp>) = listed.into_iter().unzip();
        if files.is_empty() {
            bail!(
                "the repository at {} has no readable text files (skipped: {}); add some first",
                root.display(),
                skipped.len()
            );
        }
        Ok(Workspace {
            root,
            files,
            stamps,
            skipped,
            listed_ns,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Listed files, repository-relative with `/` separators, sorted.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// The stamps of [`Workspace::files`], in the same order, taken while listing.
    pub(crate) fn stamps(&self) -> &[Stamp] {
        &self.stamps
    }

    /// When the listing started (nanoseconds since the Unix epoch): stamps of files changed
    /// after this moment may not tell a later change.
    pub(crate) fn listed_ns(&self) -> u64 {
        self.listed_ns
    }

    /// Files left out of [`Workspace::files`], with the reason, sorted by path.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// One line counting the skipped files by reason (`None` when nothing was skipped), for
    /// commands to print so that nothing is left out silently.
    pub fn skipped_summary(&self) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let mut counts: Vec<(String, usize)> = Vec::new();
        for skipped in &self.skipped {
            let label = match skipped.reason {
                SkipReason::TooLarge(_) => "larger than 1 MiB".to_string(),
                other => other.to_string(),
            };
            match counts.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += 1,
                None => counts.push((label, 1)),
            }
        }
        let parts: Vec<String> = counts.iter().map(|(l, n)| format!("{n} {l}")).collect();
        Some(format!(
            "{} files not indexed: {}",
            self.skipped.len(),
            parts.join(", ")
        ))
    }

    pub fn has_file(&self, path: &str) -> bool {
        self.files
            .binary_search_by(|f| f.as_str().cmp(path))
            .is_ok()
    }

    /// Reads a listed file as UTF-8 text.
    pub fn read(&self, path: &str) -> Result<String> {
        if !self.has_file(path) {
            bail!("{path} is not a file of this repository (or it was skipped as binary/large)");
        }
        std::fs::read_to_string(self.root.join(path)).with_context(|| {
            format!("cannot read {path} as UTF-8 text; ponder only edits UTF-8 files")
        })
    }

    /// Reads a listed file, replacing invalid UTF-8 with U+FFFD (for indexing and display).
    pub fn read_lossy(&self, path: &str) -> Result<String> {
        if !self.has_file(path) {
            bail!("{path} is not a file of this repository (or it was skipped as binary/large)");
        }
        let bytes =
            std::fs::read(self.root.join(path)).with_context(|| format!("cannot read {path}"))?;
        Ok(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        })
    }
}

/// Walks the tree under `root`; returns the kept files with their stamps and the skipped ones,
/// both sorted.
fn list_files(
    root: &Path,
    known: &(dyn Fn(&str, &Stamp) -> bool + Sync),
) -> (Vec<(String, Stamp)>, Vec<Skipped>) {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut found: Vec<(PathBuf, String)> = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .follow_links(false)
        .require_git(false)
        // Not `.git` itself, and not nested repositories or submodules: another project's files.
        .filter_entry(|entry| {
            entry.file_name() != ".git"
                && !(entry.depth() > 0
                    && entry.file_type().is_some_and(|t| t.is_dir())
                    && entry.path().join(".git").exists())
        })
        .build();
    for entry in walker {
        let Ok(entry) = entry else { continue };
        let Some(kind) = entry.file_type() else {
            continue;
        };
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        if kind.is_dir() || !kind.is_file() {
            continue;
        }
        let Some(rel) = rel.to_str().map(|s| s.replace('\\', "/")) else {
            skipped.push(Skipped {
                path: rel.to_string_lossy().into_owned(),
                reason: SkipReason::NonUtf8Path,
            });
            continue;
        };
        found.push((entry.into_path(), rel));
    }
    // Classifying reads the head of every file: in parallel, like the indexer's reads.
    let classified: Vec<(String, Result<Stamp, SkipReason>)> = found
        .into_par_iter()
        .map(|(full, rel)| {
            let reason = classify(&full, &rel, known);
            (rel, reason)
        })
        .collect();
    for (rel, reason) in classified {
        match reason {
            Ok(stamp) => files.push((rel, stamp)),
            Err(reason) => skipped.push(Skipped { path: rel, reason }),
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    (files, skipped)
}

/// The stamp of the file at `path`, or why it should be left out.
fn classify(
    path: &Path,
    rel: &str,
    known: &(dyn Fn(&str, &Stamp) -> bool + Sync),
) -> Result<Stamp, SkipReason> {
    let mut parts = rel.split('/');
    let name = parts.next_back().unwrap_or(rel);
    if parts.any(|dir| VENDORED_DIRS.contains(&dir)) {
        return Err(SkipReason::Vendored);
    }
    if GENERATED_FILES.contains(&name) || name.ends_with(".min.js") || name.ends_with(".min.css") {
        return Err(SkipReason::Generated);
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return Err(SkipReason::Unreadable);
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(SkipReason::TooLarge(meta.len()));
    }
    let stamp = Stamp::from_metadata(&meta);
    if known(rel, &stamp) {
        return Ok(stamp);
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        return Err(SkipReason::Unreadable);
    };
    let mut head = [0u8; 8192];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(_) => return Err(SkipReason::Unreadable),
        }
    }
    if head[..filled].contains(&0) {
        return Err(SkipReason::Binary);
    }
    Ok(stamp)
}
