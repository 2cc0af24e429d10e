//! Telling a changed file from an unchanged one: file stamps (size, times, inode) and git blob
//! ids, taken from git's own index when its record of the file is clean, else hashed.
//!
//! Invariant: a stamp vouches for a file's content only when the file was last modified well
//! before the moment the stamp's snapshot was started ([`Stamp::settled_before`]); a file
//! modified within the filesystem's time granularity of that moment may have changed without
//! changing its stamp, so it is checked by content (git calls such entries "racily clean").

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Files modified less than this before a snapshot started are checked by content.
const RACY: Duration = Duration::from_secs(2);

/// What tells a changed file from an unchanged one without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stamp {
    pub len: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
    /// Status change time (Unix; 0 elsewhere): changes with any write, and cannot be set back.
    pub ctime_ns: u64,
    /// Inode number (Unix; 0 elsewhere).
    pub ino: u64,
}

impl Stamp {
    /// The stamp of a regular file (`None` for anything else or when it cannot be read).
    pub fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        meta.is_file().then(|| Stamp::from_metadata(&meta))
    }

    pub fn from_metadata(meta: &std::fs::Metadata) -> Stamp {
        let nanos = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
        };
        #[cfg(unix)]
        let (ctime_ns, ino) = {
            use std::os::unix::fs::MetadataExt;
            (
                (meta.ctime().max(0) as u64)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(meta.ctime_nsec().max(0) as u64),
                meta.ino(),
            )
        };
        #[cfg(not(unix))]
        let (ctime_ns, ino) = (0, 0);
        Stamp {
            len: meta.len(),
            mtime_ns: meta.modified().map_or(0, nanos),
            ctime_ns,
            ino,
        }
    }

    /// True when the file was last changed well before `moment` (nanoseconds since the epoch),
    /// so a later change would have changed the stamp.
    pub fn settled_before(&self, moment_ns: u64) -> bool {
        let racy = RACY.as_nanos() as u64;
        self.mtime_ns.max(self.ctime_ns).saturating_add(racy) < moment_ns
    }
}

/// Now, in nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
}

/// A git blob id (SHA-1 of `blob <len>\0` and the content).
pub type BlobId = [u8; 20];

/// The git blob id of `bytes`.
pub fn blob_id(bytes: &[u8]) -> BlobId {
    // hash_object only fails on allocation errors; an all-zero id then never matches a cache.
    let mut id = [0u8; 20];
    if let Ok(oid) = git2::Oid::hash_object(git2::ObjectType::Blob, bytes) {
        id.copy_from_slice(oid.as_bytes());
    }
    id
}

/// Git's own record of its tracked files: the blob id of each path whose index entry still
/// describes the file in the working tree.
pub struct GitIndex {
    entries: HashMap<String, (BlobId, u64, u64, u32)>,
    /// When git wrote its index: entries modified at or after it are racily clean.
    written_ns: u64,
}

impl GitIndex {
    /// Reads `.git/index` of the repository at `root` (`None` when there is none).
    pub fn read(root: &Path) -> Option<GitIndex> {
        let repo = git2::Repository::open(root).ok()?;
        let index_path = repo.path().join("index");
        let written_ns = Stamp::of(&index_path)?.mtime_ns;
        let index = repo.index().ok()?;
        let mut entries = HashMap::with_capacity(index.len());
        for entry in index.iter() {
            let Ok(path) = String::from_utf8(entry.path) else {
                continue;
            };
            let mut id = [0u8; 20];
            id.copy_from_slice(entry.id.as_bytes());
            let mtime_ns = u64::from(entry.mtime.seconds().max(0) as u32) * 1_000_000_000
                + u64::from(entry.mtime.nanoseconds());
            entries.insert(path, (id, mtime_ns, u64::from(entry.ino), entry.file_size));
        }
        Some(GitIndex {
            entries,
            written_ns,
        })
    }

    /// The blob id git recorded for `path`, when the file's `stamp` still matches git's record
    /// and that record is not racily clean.
    pub fn clean_blob(&self, path: &str, stamp: &Stamp) -> Option<BlobId> {
        let &(id, mtime_ns, ino, size) = self.entries.get(path)?;
        let same = mtime_ns == stamp.mtime_ns
            && size == stamp.len as u32
            && (ino == 0 || stamp.ino == 0 || ino as u32 == stamp.ino as u32);
        (same && mtime_ns < self.written_ns).then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_are_gits() {
        // `printf 'hello\n' | git hash-object --stdin`
        let hex: String = blob_id(b"hello\n")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "ce013625030ba8dba906f756967f9e9ca394464a");
    }

    #[test]
    fn recent_changes_are_not_settled() {
        let stamp = Stamp {
            len: 1,
            mtime_ns: 10_000_000_000,
            ctime_ns: 10_000_000_000,
            ino: 1,
        };
        assert!(!stamp.settled_before(11_000_000_000));
        assert!(stamp.settled_before(13_000_000_000));
    }

    #[test]
    fn git_index_vouches_for_unchanged_tracked_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("a.py"), "x = 1\n").unwrap();
        // Older than the index by more than the racy window.
        let old = std::fs::File::options()
            .write(true)
            .open(dir.path().join("a.py"))
            .unwrap();
        old.set_modified(SystemTime::now() - Duration::from_secs(60))
            .unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("a.py")).unwrap();
        index.write().unwrap();
        let git = GitIndex::read(dir.path()).unwrap();
        let stamp = Stamp::of(&dir.path().join("a.py")).unwrap();
        assert_eq!(git.clean_blob("a.py", &stamp), Some(blob_id(b"x = 1\n")));
        std::fs::write(dir.path().join("a.py"), "x = 22\n").unwrap();
        let changed = Stamp::of(&dir.path().join("a.py")).unwrap();
        assert_eq!(git.clean_blob("a.py", &changed), None);
        assert_eq!(git.clean_blob("b.py", &stamp), None);
    }
}
