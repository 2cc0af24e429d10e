//! The persisted index: a warm start re-parses only what changed and ranks exactly as a cold
//! build does; a corrupt snapshot is rebuilt, never trusted; a file touched without a change is
//! recognised by its blob id; processes opening one repository at once do not corrupt it.

mod support;

use std::path::Path;
use std::sync::Mutex;

use ponder::repo::{
    CacheState, IndexProgress, IndexStore, OpenReport, RepoIndex, SkipReason, Workspace,
    open_index, open_workspace, shortlist,
};

const ISSUE: &str = "Session.send ignores the timeout\n\nCalling `Session.send(request, \
    timeout=3)` waits forever: the adapter never sees the timeout.";

fn fixture(dir: &Path) {
    let mut files: Vec<(String, String)> = vec![
        (
            "pkg/sessions.py".into(),
            "class Session:\n    def send(self, request, timeout=None):\n        return self.adapter.send(request)\n".into(),
        ),
        (
            "pkg/adapters.py".into(),
            "class HTTPAdapter:\n    def send(self, request, timeout=None):\n        return urlopen(request, timeout)\n".into(),
        ),
        ("README.md".into(), "# pkg\nSessions send requests.\n".into()),
    ];
    for i in 0..40 {
        files.push((
            format!("pkg/util_{i}.py"),
            format!("def util_{i}(value):\n    return value + {i}\n"),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    support::fixture_repo(dir, &refs);
}

fn open(dir: &Path, store: &IndexStore) -> (RepoIndex, OpenReport) {
    let workspace = Workspace::open(dir).unwrap();
    open_index(&workspace, Some(store), &|_| {}).unwrap()
}

/// The ranking and symbols a fresh, unpersisted build gives.
fn cold_view(dir: &Path) -> (Vec<(String, i64)>, Vec<String>) {
    view(&RepoIndex::build(&Workspace::open(dir).unwrap()).unwrap())
}

/// The shortlist (scores to 1e-9: summation order varies with hashing) and every file's
/// definitions, with where they are found by name.
fn view(index: &RepoIndex) -> (Vec<(String, i64)>, Vec<String>) {
    let mut files = index.files();
    files.sort_by(|a, b| a.1.path.cmp(&b.1.path));
    let symbols = files
        .iter()
        .flat_map(|(_, f)| {
            f.symbols.iter().map(|s| {
                let found = index.symbols_named(&s.name).len();
                format!("{}: {s:?} (one of {found} by that name)", f.path)
            })
        })
        .collect();
    let ranked = shortlist(index, ISSUE, 10)
        .into_iter()
        .map(|(path, score)| (path, (score * 1e9).round() as i64))
        .collect();
    (ranked, symbols)
}

#[test]
fn a_warm_start_reuses_every_unchanged_file_and_ranks_like_a_cold_build() {
    let repo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    fixture(repo.path());
    let store = IndexStore::at(cache.path());
    let (cold, report) = open(repo.path(), &store);
    assert_eq!(report.cache, CacheState::Missing);
    assert_eq!((report.reused, report.parsed), (0, 43));
    assert!(report.saved, "{report:?}");
    assert_eq!(view(&cold), cold_view(repo.path()));

    let (warm, report) = open(repo.path(), &store);
    assert_eq!(report.cache, CacheState::Used);
    assert_eq!((report.reused, report.parsed), (43, 0), "{report:?}");
    // A warm start files definitions by name without decoding them.
    assert!(warm.files().iter().all(|(_, f)| !f.symbols.is_decoded()));
    let sends = cold.symbols_named("send").len();
    assert!(sends >= 2 && warm.symbols_named("send").len() == sends);
    assert_eq!(view(&warm), cold_view(repo.path()));
    assert_eq!(
        warm.file("pkg/sessions.py").unwrap().text,
        cold.file("pkg/sessions.py").unwrap().text
    );
}

#[test]
fn a_warm_index_reads_its_texts_after_the_snapshot_under_it_is_replaced() {
    // A warm start keeps texts in the snapshot's memory map; a later save renames a new
    // snapshot over that file, and the earlier index must read its texts as they were.
    let repo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    fixture(repo.path());
    let store = IndexStore::at(cache.path());
    open(repo.path(), &store);
    let (warm, report) = open(repo.path(), &store);
    assert_eq!(report.cache, CacheState::Used);
    let before = std::fs::read_to_string(repo.path().join("pkg/adapters.py")).unwrap();
    std::fs::write(
        repo.path().join("pkg/adapters.py"),
        "class Other:
    pass
",
    )
    .unwrap();
    let (_, report) = open(repo.path(), &store);
    assert!(report.saved && report.parsed == 1, "{report:?}");
    let file = warm.file("pkg/adapters.py").unwrap();
    assert_eq!(&*file.text, before);
    assert_eq!(
        file.lines(2, 2),
        "    def send(self, request, timeout=None):"
    );
    assert_eq!(file.line_count(), 3);
    // Definitions too are read from the map, when first asked for.
    let names: Vec<&str> = file.symbols.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["HTTPAdapter", "send"]);
}

#[test]
fn changed_added_and_removed_files_are_seen() {
    let repo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    fixture(repo.path());
    let store = IndexStore::at(cache.path());
    open(repo.path(), &store);
    std::fs::write(
        repo.path().join("pkg/sessions.py"),
        "class Session:\n    def send(self, request, timeout=None):\n        return self.adapter.send(request, timeout=timeout)\n\n    def close(self):\n        pass\n",
    )
    .unwrap();
    std::fs::write(repo.path().join("pkg/new.py"), "def fresh():\n    pass\n").unwrap();
    std::fs::remove_file(repo.path().join("pkg/util_3.py")).unwrap();
    let (index, report) = open(repo.path(), &store);
    assert_eq!(
        (report.reused, report.parsed, report.dropped),
        (41, 2, 1),
        "{report:?}"
    );
    assert!(index.file("pkg/util_3.py").is_none());
    assert!(index.file("pkg/new.py").is_some());
    let close = index.symbols_named("close");
    assert_eq!(close.len(), 1, "the changed file was re-parsed");
    assert_eq!(view(&index), cold_view(repo.path()));
    // And the rewritten snapshot serves the next start.
    let (_, report) = open(repo.path(), &store);
    assert_eq!((report.reused, report.parsed), (43, 0), "{report:?}");
}

#[test]
fn a_file_rewritten_with_the_same_content_is_not_parsed_again() {
    let repo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    fixture(repo.path());
    let store = IndexStore::at(cache.path());
    open(repo.path(), &store);
    let path = repo.path().join("pkg/adapters.py");
    let text = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, text).unwrap();
    let (_, report) = open(repo.path(), &store);
    assert_eq!((report.reused, report.parsed), (43, 0), "{report:?}");
    assert!(report.saved, "the new stamp is recorded: {report:?}");
}

#[test]
fn a_corrupt_snapshot_is_rebuilt_not_trusted() {
    let repo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    fixture(repo.path());
    let store = IndexStore::at(cache.path());
    open(repo.path(), &store);
    let snapshot = store.snapshot_path(Workspace::open(repo.path()).unwrap().root());
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&snapshot, &bytes).unwrap();
    let (index, report) = open(repo.path(), &store);
    assert!(
        matches!(&report.cache, CacheState::Rebuilt(reason) if reason.contains("corrupt")),
        "{report:?}"
    );
    assert_eq!(report.parsed, 43);
    assert_eq!(view(&index), cold_view(repo.path()));
    std::fs::write(&snapshot, &bytes[..middle]).unwrap();
    let (_, report) = open(repo.path(), &store);
    assert!(
        matches!(&report.cache, CacheState::Rebuilt(reason) if reason.contains("truncated")),
        "{report:?}"
    );
    let (_, report) = open(repo.path(), &store);
    assert_eq!(report.cache, CacheState::Used);
}

#[test]
fn processes_opening_one_repository_at_once_leave_a_valid_snapshot() {
    let repo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    fixture(repo.path());
    let store = IndexStore::at(cache.path());
    std::thread::scope(|scope| {
        for i in 0..4 {
            let store = store.clone();
            let root = repo.path().to_path_buf();
            scope.spawn(move || {
                for round in 0..3 {
                    if i == 0 && round == 1 {
                        std::fs::write(root.join("pkg/util_0.py"), "def changed():\n    pass\n")
                            .unwrap();
                    }
                    let (index, _) = open(&root, &store);
                    assert!(index.len() >= 43);
                }
            });
        }
    });
    // The last writer may have listed before the change: one more start catches up, and the
    // start after it parses nothing.
    let (_, report) = open(repo.path(), &store);
    assert_eq!(report.cache, CacheState::Used, "{report:?}");
    assert!(report.parsed <= 1, "{report:?}");
    let (index, report) = open(repo.path(), &store);
    assert_eq!(report.parsed, 0, "{report:?}");
    assert_eq!(view(&index), cold_view(repo.path()));
    assert!(index.symbols_named("changed").len() == 1);
}

#[test]
fn progress_counts_every_file_and_says_how_many_came_from_the_cache() {
    let repo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    fixture(repo.path());
    let store = IndexStore::at(cache.path());
    let seen = Mutex::new(Vec::new());
    let sink = |p: IndexProgress| seen.lock().unwrap().push(p);
    let workspace = Workspace::open(repo.path()).unwrap();
    open_index(&workspace, Some(&store), &sink).unwrap();
    open_index(&workspace, Some(&store), &sink).unwrap();
    let seen = seen.into_inner().unwrap();
    let ends: Vec<&IndexProgress> = seen.iter().filter(|p| p.done == p.total).collect();
    assert_eq!(ends.len(), 2);
    assert_eq!((ends[0].total, ends[0].reused), (43, 0));
    assert_eq!((ends[1].total, ends[1].reused), (43, 43));
    assert!(seen.iter().all(|p| p.done <= p.total));
}

/// A warm start lists the files its snapshot holds unchanged without reading them again: the
/// listing equals a fresh one, and a file that turned binary since (its stamp changed) is
/// still read, seen as binary and dropped.
#[test]
fn listing_from_the_snapshot_matches_a_fresh_listing() {
    let repo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    fixture(repo.path());
    // Files modified just before a listing are checked by content, never by stamp.
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    let store = IndexStore::at(cache.path());
    open(repo.path(), &store);
    let (workspace, index, report) = open_workspace(repo.path(), Some(&store), &|_| {}).unwrap();
    let fresh = Workspace::open(repo.path()).unwrap();
    assert_eq!(workspace.files(), fresh.files());
    assert_eq!((report.reused, report.parsed), (43, 0), "{report:?}");
    assert_eq!(view(&index), cold_view(repo.path()));

    std::fs::write(repo.path().join("pkg/util_5.py"), b"\x00\x01binary\x00").unwrap();
    let (workspace, index, report) = open_workspace(repo.path(), Some(&store), &|_| {}).unwrap();
    assert!(!workspace.has_file("pkg/util_5.py"));
    assert!(
        workspace
            .skipped()
            .iter()
            .any(|s| s.path == "pkg/util_5.py" && s.reason == SkipReason::Binary),
        "{:?}",
        workspace.skipped()
    );
    assert!(index.file("pkg/util_5.py").is_none());
    assert_eq!((report.reused, report.dropped), (42, 1), "{report:?}");
    assert_eq!(
        workspace.files(),
        Workspace::open(repo.path()).unwrap().files()
    );
}
