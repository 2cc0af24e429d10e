//! The shortlist: files named by a stack trace or a path rank first; test files rank below the
//! source they test; and on a real SWE-bench instance whose issue carries a stack trace, the
//! gold file comes first.

mod support;

use std::path::Path;

use ponder::repo::{PlainBm25, RepoIndex, Workspace, shortlist};

fn fixture() -> (tempfile::TempDir, RepoIndex) {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<(String, String)> = vec![
        (
            "app/config.py".into(),
            "class Config(dict):\n    def from_file(self, path, load):\n        with open(path) as f:\n            return load(f)\n".into(),
        ),
        (
            "app/loader.py".into(),
            "from app.config import Config\n\ndef load_config(path):\n    config = Config()\n    return config.from_file(path, parse)\n".into(),
        ),
        (
            "tests/test_config.py".into(),
            "from app.config import Config\n\ndef test_from_file_config_load():\n    Config().from_file('x', open)\n    config from_file load open path\n".into(),
        ),
        (
            "README.md".into(),
            "# app\nLoad config from a file with from_file. Config load open path file.\n".into(),
        ),
    ];
    for i in 0..30 {
        files.push((
            format!("app/other_{i}.py"),
            format!("def other_{i}(path):\n    return open(path).read()\n"),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    support::fixture_repo(dir.path(), &refs);
    let index = RepoIndex::build(&Workspace::open(dir.path()).unwrap()).unwrap();
    (dir, index)
}

#[test]
fn a_stack_trace_puts_its_files_first() {
    let (_dir, index) = fixture();
    let issue = "Crash when loading\n\nTraceback (most recent call last):\n  \
        File \"/home/me/venv/lib/python3.11/site-packages/app/loader.py\", line 5, in load_config\n    \
        return config.from_file(path, parse)\nNameError: name 'parse' is not defined\n";
    let ranked = shortlist(&index, issue, 5);
    assert_eq!(ranked[0].0, "app/loader.py", "{ranked:?}");
}

#[test]
fn a_named_class_beats_the_tests_and_docs_that_mention_it() {
    let (_dir, index) = fixture();
    let issue = "Config.from_file fails to load a file opened in text mode\n\nWhen I call \
        `Config.from_file(path, load)` the file is opened in text mode; config load path open.";
    let ranked = shortlist(&index, issue, 5);
    assert_eq!(ranked[0].0, "app/config.py", "{ranked:?}");
    let position = |p: &str| ranked.iter().position(|(q, _)| q == p);
    assert!(position("tests/test_config.py") > position("app/config.py"));
    // The plain baseline, by contrast, favours the test file that repeats the words.
    let plain = PlainBm25::build(&index).rank(issue, 5);
    assert_ne!(plain[0].0, "app/config.py", "{plain:?}");
}

#[test]
fn scores_are_sorted_and_top_is_respected() {
    let (_dir, index) = fixture();
    let ranked = shortlist(&index, "open path read other_3", 4);
    assert_eq!(ranked.len(), 4);
    assert!(ranked.windows(2).all(|w| w[0].1 >= w[1].1));
    assert_eq!(ranked[0].0, "app/other_3.py");
    assert!(shortlist(&index, "", 10).is_empty());
}

/// A real SWE-bench instance (pylint) whose issue carries a stack trace through the gold file;
/// needs `../shared/eval` beside the repository, as CI has it.
#[test]
fn the_gold_file_of_a_real_instance_with_a_stack_trace_ranks_first() {
    let eval = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval");
    assert!(
        eval.join("prepare.sh").is_file(),
        "this test needs the evaluation set at {} (CI has it beside the clone)",
        eval.display()
    );
    let instances = std::fs::read_to_string(eval.join("instances.jsonl")).unwrap();
    let id = "pylint-dev__pylint-6506";
    let instance: serde_json::Value = instances
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["instance_id"] == id)
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let dest = work.path().join("tree");
    let status = std::process::Command::new("bash")
        .arg(eval.join("prepare.sh"))
        .arg(id)
        .arg(&dest)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let index = RepoIndex::build(&Workspace::open(&dest).unwrap()).unwrap();
    let issue = instance["problem_statement"].as_str().unwrap();
    let ranked = shortlist(&index, issue, 10);
    assert_eq!(ranked[0].0, instance["gold_files"][0], "{ranked:?}");
}

fn index_of(files: &[(&str, &str)]) -> (tempfile::TempDir, RepoIndex) {
    let dir = tempfile::tempdir().unwrap();
    support::fixture_repo(dir.path(), files);
    let index = RepoIndex::build(&Workspace::open(dir.path()).unwrap()).unwrap();
    (dir, index)
}

#[test]
fn vendored_code_is_found_by_shape_and_ranked_below_the_project() {
    let retry = "def retry_timeout(conn):\n    \"\"\"Retry a timeout on the connection.\"\"\"\n    raise TimeoutError(conn)\n";
    let (_dir, index) = index_of(&[
        ("web/__init__.py", "__version__ = '2.0'\n"),
        (
            "web/client.py",
            "def send(conn):\n    return retry_timeout(conn)\n",
        ),
        // A separately released project copied under the package (it has its own version).
        ("web/pools/__init__.py", "__version__ = '1.9'\n"),
        ("web/pools/connection.py", retry),
        // A folder of copied dependencies, by a common convention, inside the package
        // (`_vendor/` and the like are not even listed by the workspace).
        ("web/extern/__init__.py", ""),
        ("web/extern/retrying.py", retry),
        // A sub-package of the project itself (no version of its own).
        ("web/util/__init__.py", ""),
        ("web/util/timeouts.py", retry),
        // At the top of the repository, `packages/` is the project's own code.
        ("packages/tools/__init__.py", ""),
        ("packages/tools/retry.py", retry),
    ]);
    let vendored = ponder::repo::Vendored::detect(&index);
    assert_eq!(vendored.roots(), ["web/extern", "web/pools"]);
    assert!(!vendored.contains("web/util/timeouts.py"));
    assert!(!vendored.contains("packages/tools/retry.py"));
    let ranked = shortlist(&index, "Connection timeout is not retried", 10);
    let rank = |p: &str| ranked.iter().position(|(q, _)| q == p).unwrap();
    // Same text: without the vendored rule the tie would go to the path first in order.
    assert!(rank("web/util/timeouts.py") < rank("web/extern/retrying.py"));
    assert!(rank("web/util/timeouts.py") < rank("web/pools/connection.py"));
}

#[test]
fn the_environment_report_of_an_issue_does_not_steer_the_ranking() {
    let (_dir, index) = index_of(&[
        (
            "lib/report.py",
            "def versions():\n    return {'platform': platform(), 'idna': idna_version, 'chardet': chardet_version, 'cryptography': crypto}\n",
        ),
        (
            "lib/urls.py",
            "def parse_url(url):\n    \"\"\"Raise InvalidURL for an empty label.\"\"\"\n    return url.encode('idna')\n",
        ),
    ]);
    let issue = "Getting an URL with an empty label raises UnicodeError\n\
        It should raise InvalidURL.\n\n\
        ## System Information\n\n$ python -m lib.report\n\n```json\n{\"chardet\": {\"version\": \"3.0.4\"}, \
        \"cryptography\": {\"version\": \"2.8\"}, \"idna\": {\"version\": \"2.8\"}, \
        \"platform\": {\"system\": \"Linux\"}}\n```\n";
    let ranked = shortlist(&index, issue, 5);
    assert_eq!(ranked[0].0, "lib/urls.py", "{ranked:?}");
}
