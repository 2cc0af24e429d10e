//! Where persisted indexes live, and how they are read and written safely.
//!
//! One folder per repository under the user's cache directory (`~/.cache/ponder/index/<key>/`
//! on Linux, or `$PONDER_INDEX_DIR`), named by a hash of the repository's root. It holds
//! `snapshot.bin` — a checked header, then the payload — and `lock`.
//!
//! Invariants:
//! - A snapshot is trusted only when its magic, format, root, length and CRC-32 all match;
//!   anything else (truncated, corrupt, another format, another repository) is reported as
//!   [`Loaded::Invalid`] and the caller rebuilds.
//! - Writers hold an exclusive lock on `lock` while they write a temporary file beside the
//!   snapshot and rename it into place, so a reader (which takes no lock) sees a whole old or a
//!   whole new snapshot, and two ponder processes never interleave their writes.
//! - A snapshot file is never modified in place, so a reader maps it into memory rather than
//!   copying it ([`Payload`]), and the index keeps texts as ranges of that map
//!   ([`super::text::Text`]).

use std::fs::File;
use std::io::{Read, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use memmap2::Mmap;
use sha2::{Digest, Sha256};

/// Identifies a ponder index snapshot file.
const MAGIC: &[u8; 8] = b"PONDERIX";
/// The snapshot file's name inside a repository's folder.
const SNAPSHOT: &str = "snapshot.bin";
/// The lock file's name inside a repository's folder.
const LOCK: &str = "lock";
/// Snapshots not written for this long are removed when another is written.
const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// The folder of persisted indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStore {
    dir: PathBuf,
}

/// What [`IndexStore::load`] found.
#[derive(Debug)]
pub enum Loaded {
    /// No snapshot for this repository yet.
    Missing,
    /// A snapshot that cannot be trusted, and why; the caller rebuilds it.
    Invalid(String),
    /// The checked payload.
    Found(Payload),
}

/// A checked snapshot's payload: a range of the snapshot file mapped into memory.
#[derive(Debug)]
pub struct Payload {
    map: Arc<Mmap>,
    start: usize,
}

impl Payload {
    /// The map the payload lies in, for texts that borrow from it beyond the decoding.
    pub(crate) fn map(&self) -> &Arc<Mmap> {
        &self.map
    }
}

impl Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.map[self.start..]
    }
}

impl IndexStore {
    /// The store in `dir` (created when first written).
    pub fn at(dir: impl Into<PathBuf>) -> IndexStore {
        IndexStore { dir: dir.into() }
    }

    /// `$PONDER_INDEX_DIR` (`off` turns persistence off: `None`), else `index/` in the
    /// platform's cache directory. `None` too when there is no home directory.
    pub fn from_env() -> Option<IndexStore> {
        match std::env::var_os("PONDER_INDEX_DIR") {
            Some(dir) if dir == "off" || dir.is_empty() => None,
            Some(dir) => Some(IndexStore::at(dir)),
            None => directories::ProjectDirs::from("dev", "ponder", "ponder")
                .map(|dirs| IndexStore::at(dirs.cache_dir().join("index"))),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder of the repository whose working tree is at `root`.
    pub fn entry(&self, root: &Path) -> PathBuf {
        let digest = Sha256::digest(root.as_os_str().as_encoded_bytes());
        let key: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(key)
    }

    /// The snapshot file of the repository at `root`.
    pub fn snapshot_path(&self, root: &Path) -> PathBuf {
        self.entry(root).join(SNAPSHOT)
    }

    /// Reads and checks the snapshot of the repository at `root`, for a reader of `format`.
    pub fn load(&self, root: &Path, format: u32) -> Loaded {
        let path = self.snapshot_path(root);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Loaded::Missing,
            Err(err) => return Loaded::Invalid(format!("cannot read {}: {err}", path.display())),
        };
        // SAFETY: the store never modifies a snapshot file in place (see the module's
        // invariants): writers rename a new file over it, which on Linux and other Unix
        // systems leaves this one's pages as they are for as long as the map lives.
        let map = match unsafe { Mmap::map(&file) } {
            Ok(map) => Arc::new(map),
            Err(err) => return Loaded::Invalid(format!("cannot map {}: {err}", path.display())),
        };
        match check(&map, root, format) {
            Ok(start) => Loaded::Found(Payload { map, start }),
            Err(reason) => Loaded::Invalid(reason),
        }
    }

    /// Writes the snapshot of the repository at `root` (payload of `format`): under the
    /// repository's lock, to a temporary file renamed into place. Then removes snapshots of
    /// repositories that no longer exist or were not written for 30 days.
    pub fn save(&self, root: &Path, format: u32, payload: &[u8]) -> Result<()> {
        let entry = self.entry(root);
        std::fs::create_dir_all(&entry).with_context(|| {
            format!(
                "cannot create the index cache folder {}; set PONDER_INDEX_DIR to a writable \
                 folder, or to `off`",
                entry.display()
            )
        })?;
        let lock = lock_file(&entry)?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", entry.join(LOCK).display()))?;
        // Under the lock no other writer is writing: any temporary file left is a crash's.
        remove_temporaries(&entry);
        let temp = entry.join(format!("{SNAPSHOT}.tmp-{}", std::process::id()));
        let written = write_snapshot(&temp, root, format, payload)
            .and_then(|()| {
                std::fs::rename(&temp, entry.join(SNAPSHOT)).context("cannot rename the snapshot")
            })
            .with_context(|| format!("cannot write the index snapshot in {}", entry.display()));
        if written.is_err() {
            std::fs::remove_file(&temp).ok();
        }
        drop(lock);
        written?;
        self.collect_garbage(&entry);
        Ok(())
    }

    /// Removes the folders of repositories that no longer exist or were not written for a
    /// long time; never `keep`, never a folder another process holds locked.
    fn collect_garbage(&self, keep: &Path) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path == keep || !path.join(LOCK).is_file() {
                continue;
            }
            let snapshot = path.join(SNAPSHOT);
            let stale = match read_root(&snapshot) {
                Some(root) => {
                    !root.exists()
                        || std::fs::metadata(&snapshot)
                            .and_then(|m| m.modified())
                            .ok()
                            .and_then(|t| SystemTime::now().duration_since(t).ok())
                            .is_some_and(|age| age > UNUSED_FOR)
                }
                // No readable snapshot: a crash before the first write, or a corrupt file.
                None => true,
            };
            if !stale {
                continue;
            }
            let Ok(lock) = lock_file(&path) else { continue };
            if lock.try_lock().is_ok() {
                std::fs::remove_dir_all(&path).ok();
            }
        }
    }
}

fn lock_file(entry: &Path) -> Result<File> {
    open_lock_file(&entry.join(LOCK))
}

/// The file at `path`, created if missing and never truncated, opened to be locked
/// (`File::lock`): what a lock among processes holds.
pub fn open_lock_file(path: &Path) -> Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))
}

fn remove_temporaries(entry: &Path) {
    let Ok(entries) = std::fs::read_dir(entry) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&format!("{SNAPSHOT}.tmp-")))
        {
            std::fs::remove_file(e.path()).ok();
        }
    }
}

/// The header: magic, format, root length and root, payload length, payload CRC-32.
fn header(root: &Path, format: u32, payload: &[u8]) -> Vec<u8> {
    let root = root.as_os_str().as_encoded_bytes();
    let mut out = Vec::with_capacity(32 + root.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&format.to_le_bytes());
    out.extend_from_slice(&(root.len() as u32).to_le_bytes());
    out.extend_from_slice(root);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out
}

fn write_snapshot(path: &Path, root: &Path, format: u32, payload: &[u8]) -> Result<()> {
    let mut file = File::create(path)?;
    file.write_all(&header(root, format, payload))?;
    file.write_all(payload)?;
    file.flush()?;
    Ok(())
}

/// Splits a header off `bytes`: (format, root, payload length, CRC, header length).
fn parse_header(bytes: &[u8]) -> Option<(u32, &[u8], u64, u32, usize)> {
    let take = |at: usize, n: usize| bytes.get(at..at + n);
    if take(0, 8)? != MAGIC {
        return None;
    }
    let format = u32::from_le_bytes(take(8, 4)?.try_into().ok()?);
    let root_len = u32::from_le_bytes(take(12, 4)?.try_into().ok()?) as usize;
    let root = take(16, root_len)?;
    let at = 16 + root_len;
    let len = u64::from_le_bytes(take(at, 8)?.try_into().ok()?);
    let crc = u32::from_le_bytes(take(at + 8, 4)?.try_into().ok()?);
    Some((format, root, len, crc, at + 12))
}

/// Where a snapshot's payload starts in `bytes`, or why it cannot be trusted.
fn check(bytes: &[u8], root: &Path, format: u32) -> Result<usize, String> {
    let (found_format, found_root, len, crc, header_len) =
        parse_header(bytes).ok_or("not a ponder index snapshot (bad header)")?;
    if found_format != format {
        return Err(format!(
            "written by another version of ponder (format {found_format}, this one reads {format})"
        ));
    }
    if found_root != root.as_os_str().as_encoded_bytes() {
        return Err("written for another repository".into());
    }
    if (bytes.len() - header_len) as u64 != len {
        return Err(format!(
            "truncated or padded ({} payload bytes, the header says {len})",
            bytes.len() - header_len
        ));
    }
    if crc32fast::hash(&bytes[header_len..]) != crc {
        return Err("corrupt (checksum mismatch)".into());
    }
    Ok(header_len)
}

/// The repository root recorded in a snapshot's header, reading only the header.
fn read_root(snapshot: &Path) -> Option<PathBuf> {
    let mut head = vec![0u8; 4096 + 32];
    let mut file = File::open(snapshot).ok()?;
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(_) => return None,
        }
    }
    let (_, root, ..) = parse_header(&head[..filled])?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(root)))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(root).ok().map(PathBuf::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, tempfile::TempDir, IndexStore) {
        let cache = tempfile::tempdir().unwrap();
        let repo = tempfile::tempdir().unwrap();
        let store = IndexStore::at(cache.path());
        (cache, repo, store)
    }

    #[test]
    fn a_saved_payload_loads_back() {
        let (_cache, repo, store) = store();
        assert!(matches!(store.load(repo.path(), 1), Loaded::Missing));
        store.save(repo.path(), 1, b"hello index").unwrap();
        match store.load(repo.path(), 1) {
            Loaded::Found(payload) => assert_eq!(&payload[..], b"hello index"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_loaded_payload_outlives_the_snapshot_being_replaced() {
        let (_cache, repo, store) = store();
        store.save(repo.path(), 1, b"first").unwrap();
        let Loaded::Found(first) = store.load(repo.path(), 1) else {
            panic!("no snapshot");
        };
        store.save(repo.path(), 1, b"second, longer").unwrap();
        assert_eq!(&first[..], b"first");
        match store.load(repo.path(), 1) {
            Loaded::Found(second) => assert_eq!(&second[..], b"second, longer"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_corrupt_and_other_format_snapshots_are_not_trusted() {
        let (_cache, repo, store) = store();
        store.save(repo.path(), 1, &[7u8; 1000]).unwrap();
        let path = store.snapshot_path(repo.path());
        let whole = std::fs::read(&path).unwrap();
        let reason = |store: &IndexStore, format| match store.load(repo.path(), format) {
            Loaded::Invalid(reason) => reason,
            other => panic!("{other:?}"),
        };
        assert!(reason(&store, 2).contains("another version"));
        std::fs::write(&path, &whole[..whole.len() - 10]).unwrap();
        assert!(reason(&store, 1).contains("truncated"));
        let mut flipped = whole.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert!(reason(&store, 1).contains("corrupt"));
        std::fs::write(&path, &whole[..5]).unwrap();
        assert!(reason(&store, 1).contains("bad header"));
    }

    #[test]
    fn snapshots_of_vanished_repositories_are_collected() {
        let (_cache, repo, store) = store();
        let gone = tempfile::tempdir().unwrap();
        store.save(gone.path(), 1, b"old").unwrap();
        let gone_entry = store.entry(gone.path());
        drop(gone);
        assert!(gone_entry.is_dir());
        store.save(repo.path(), 1, b"new").unwrap();
        assert!(!gone_entry.exists());
        assert!(store.entry(repo.path()).is_dir());
    }

    #[test]
    fn concurrent_writers_leave_one_whole_snapshot() {
        let (_cache, repo, store) = store();
        std::thread::scope(|scope| {
            for i in 0..8u8 {
                let store = store.clone();
                let root = repo.path().to_path_buf();
                scope.spawn(move || {
                    for _ in 0..5 {
                        store.save(&root, 1, &vec![i; 200_000]).unwrap();
                    }
                });
            }
            for _ in 0..20 {
                match store.load(repo.path(), 1) {
                    Loaded::Missing => {}
                    Loaded::Found(p) => assert!(p.iter().all(|&b| b == p[0])),
                    Loaded::Invalid(reason) => panic!("a reader saw a torn snapshot: {reason}"),
                }
            }
        });
        let Loaded::Found(payload) = store.load(repo.path(), 1) else {
            panic!("no snapshot");
        };
        assert_eq!(payload.len(), 200_000);
    }
}
