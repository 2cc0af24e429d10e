//! Hostile reproduction scripts, run through the real verification runner: each must be contained,
//! under Landlock and under the bubblewrap fallback (every such test runs twice: `name::landlock`
//! and `name::bubblewrap`).
//!
//! After every script the user's repository is byte-identical and no process the script started
//! is left. Every script re-executes itself with a unique token in its command line, so its
//! processes (forks and daemons included) can be found in `/proc`. Control tests run the same
//! kind of script without the sandbox and see it escape, so the checks are shown to bite.
//!
//! The tests run as root on CI: Landlock binds root too, and root's capabilities end at the
//! sandbox's user namespace. Root is exempt from the process limit, so there a pids cgroup holds
//! it. Private files are planted in a fake home folder passed as `$HOME`.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ponder::event::{TestKind, TestOutcome, Tree};
use ponder::sandbox::{
    self, Backend, Isolation, Limits, RunReport, RunSpec, TestCommand, Verification, VerifyRequest,
};

/// The sandbox a test asks for, checked to be contained on this machine.
fn isolation(backend: Backend) -> Isolation {
    let isolation = Isolation::detect_with(backend);
    assert!(
        isolation.is_contained(),
        "this machine cannot contain model code with {backend:?}: {} (Landlock needs Linux 6.2 or \
         later; bubblewrap is installed by scripts/setup.sh)",
        isolation.describe()
    );
    assert_eq!(isolation.bubblewrap, backend == Backend::Bubblewrap);
    isolation
}

/// Runs the test function `name(Isolation)` as `name::landlock` and `name::bubblewrap`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[test]
            fn landlock() {
                super::$name(isolation(Backend::Landlock));
            }
            #[test]
            fn bubblewrap() {
                super::$name(isolation(Backend::Bubblewrap));
            }
        }
    )*};
}

both!(
    network_connections_fail_even_to_this_machine,
    localhost_inside_the_sandbox_still_works,
    writes_outside_the_worktree_are_refused,
    deleting_the_users_repository_fails,
    a_fork_storm_is_capped_and_killed,
    the_process_limit_holds_even_for_root,
    unbounded_output_is_capped_and_killed,
    a_huge_file_stops_at_the_size_limit,
    sleeping_forever_times_out,
    a_daemon_does_not_outlive_its_run,
    the_worktree_holds_the_users_uncommitted_changes,
    multiprocessing_works_with_a_private_dev_shm,
    private_files_cannot_be_read,
    a_project_test_suite_runs_with_its_python,
);

/// A repository with a commit, a staged change, an unstaged change and an untracked file.
fn user_repo(dir: &Path) -> PathBuf {
    let root = dir.join("user-repo");
    std::fs::create_dir_all(&root).unwrap();
    support::fixture_repo(
        &root,
        &[
            ("calc.py", "def add(a, b):\n    return a - b\n"),
            ("notes.txt", "committed\n"),
        ],
    );
    std::fs::write(root.join("notes.txt"), "committed\nand changed\n").unwrap();
    std::fs::write(root.join("untracked.txt"), "mine\n").unwrap();
    root
}

/// Every file under `root` with its bytes, leaving out only the records git keeps of linked
/// worktrees and ponder's temporary branches (made and removed by verification).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let text = rel.to_string_lossy();
            if text.starts_with(".git/worktrees") || text.contains("ponder") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn token() -> String {
    format!(
        "ponder-hostile-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// The script's first lines: re-exec with the token so every process it makes carries it.
fn script(token: &str, body: &str) -> String {
    format!(
        "import os, sys\nTOKEN = {token:?}\nif TOKEN not in sys.argv:\n    os.execv(sys.executable, [sys.executable, __file__, TOKEN])\n{body}"
    )
}

/// Processes whose command line holds `token`.
fn processes_with(token: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let mut cmdline = Vec::new();
        if std::fs::File::open(entry.path().join("cmdline"))
            .and_then(|mut f| f.read_to_end(&mut cmdline))
            .is_ok()
            && String::from_utf8_lossy(&cmdline).contains(token)
        {
            found.push(pid);
        }
    }
    found
}

/// Waits up to ten seconds for the kernel to finish killing (a fork storm on a loaded 2-core
/// machine takes it a few); returns what is still alive.
fn leftovers(token: &str) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = processes_with(token);
        if found.is_empty() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Outcome {
    verification: Verification,
    repo: PathBuf,
}

/// Runs `body` as the reproduction script of a verification of the user repo under `isolation`,
/// with `env` added to its environment, and checks the two invariants every hostile script must
/// keep.
fn contained_with(
    isolation: Isolation,
    dir: &Path,
    token: &str,
    body: &str,
    limits: Limits,
    env: Vec<(String, String)>,
) -> Outcome {
    let repo = user_repo(dir);
    let before = snapshot(&repo);
    let request = VerifyRequest {
        repo: repo.clone(),
        beam: 0,
        patch: String::new(),
        repro: Some(script(token, body)),
        regression: None,
        swebench: None,
        python: "python3".into(),
        env,
        limits,
        allow_unsandboxed: false,
    };
    let verification = sandbox::verify_with(&request, isolation, &mut |_| {}, &|| false).unwrap();
    let after = snapshot(&repo);
    let changed: Vec<&PathBuf> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(
        changed.is_empty(),
        "the user's repository changed: {changed:?}; output: {}",
        verification.runs[0].output_tail
    );
    assert_eq!(
        leftovers(token),
        Vec::<i32>::new(),
        "processes were left behind"
    );
    Outcome { verification, repo }
}

fn contained(isolation: Isolation, dir: &Path, token: &str, body: &str, limits: Limits) -> Outcome {
    contained_with(isolation, dir, token, body, limits, Vec::new())
}

fn limits(timeout_ms: u64) -> Limits {
    Limits {
        max_processes: 64,
        ..Limits::with_timeout(Duration::from_millis(timeout_ms))
    }
}

fn first_run(outcome: &Outcome) -> &RunReport {
    &outcome.verification.runs[0]
}

fn network_connections_fail_even_to_this_machine(isolation: Isolation) {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let token = token();
    let body = format!(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n    print('CONNECTED')\nexcept OSError as e:\n    print('BLOCKED', e)\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\n    print('CONNECTED OUT')\nexcept OSError as e:\n    print('BLOCKED OUT', e)\n"
    );
    let outcome = contained(isolation, dir.path(), &token, &body, limits(20_000));
    let tail = &first_run(&outcome).output_tail;
    assert!(
        tail.contains("BLOCKED") && !tail.contains("CONNECTED"),
        "{tail}"
    );
    assert!(
        listener.accept().is_err(),
        "the script reached a port on this machine"
    );
}

fn localhost_inside_the_sandbox_still_works(isolation: Isolation) {
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    let body = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\nc = socket.create_connection(s.getsockname(), timeout=3)\nprint('LOOPBACK OK')\n";
    let outcome = contained(isolation, dir.path(), &token, body, limits(20_000));
    assert!(
        first_run(&outcome).output_tail.contains("LOOPBACK OK"),
        "{}",
        first_run(&outcome).output_tail
    );
}

fn writes_outside_the_worktree_are_refused(isolation: Isolation) {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let token = token();
    let repo_path = dir.path().join("user-repo");
    let body = format!(
        "import os, tempfile\nfor path in [{o:?}, {r:?}, os.path.expanduser('~/' + TOKEN), '/tmp/' + TOKEN]:\n    try:\n        open(path, 'w').write('pwned')\n        print('WROTE', path)\n    except OSError as e:\n        print('REFUSED', path, e)\nopen('inside.txt', 'w').write('fine')\nwith tempfile.NamedTemporaryFile() as f:\n    f.write(b'fine')\nprint('INSIDE OK')\n",
        o = outside.join("pwned").display().to_string(),
        r = repo_path.join("pwned.txt").display().to_string(),
    );
    let outcome = contained(isolation, dir.path(), &token, &body, limits(20_000));
    let tail = &first_run(&outcome).output_tail;
    assert!(!tail.contains("WROTE"), "{tail}");
    assert!(tail.contains("INSIDE OK"), "{tail}");
    assert!(!outside.join("pwned").exists());
    assert!(!outcome.repo.join("pwned.txt").exists());
    assert!(!Path::new("/tmp").join(&token).exists());
}

fn deleting_the_users_repository_fails(isolation: Isolation) {
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    let repo_path = dir.path().join("user-repo");
    let body = format!(
        "import shutil, os, subprocess\nrepo = {r:?}\nshutil.rmtree(os.path.join(repo, '.git'), ignore_errors=True)\nshutil.rmtree(repo, ignore_errors=True)\nfor name in ['calc.py', 'notes.txt']:\n    try:\n        os.remove(os.path.join(repo, name))\n    except OSError as e:\n        print('REFUSED', e)\n# Through the worktree's link to the repository's git folder.\ngitdir = open('.git').read().split(':', 1)[1].strip()\nshutil.rmtree(gitdir, ignore_errors=True)\nsubprocess.run(['git', 'branch', '-D', 'master', 'main'], capture_output=True)\nsubprocess.run(['git', 'update-ref', 'HEAD', '0' * 40], capture_output=True)\nprint('Issue reproduced')\n",
        r = repo_path.display().to_string(),
    );
    let outcome = contained(isolation, dir.path(), &token, &body, limits(20_000));
    assert!(outcome.repo.join("calc.py").exists());
    assert!(outcome.repo.join(".git/HEAD").exists());
}

fn a_fork_storm_is_capped_and_killed(isolation: Isolation) {
    // One storm at a time: two at once, on 2 cores shared with a build, took longer to kill
    // than the bounds below (both isolations failed together in a local `.ci/run`).
    static STORM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = STORM.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    let body = "import time\nfor _ in range(10000):\n    try:\n        os.fork()\n    except OSError:\n        pass\ntime.sleep(600)\n";
    let started = Instant::now();
    let outcome = contained(isolation, dir.path(), &token, body, limits(3_000));
    assert_eq!(first_run(&outcome).outcome, TestOutcome::Timeout);
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// The kernel exempts root from `RLIMIT_NPROC` even in a user namespace (CI runs as root): there
/// a pids cgroup must hold the limit. Before it, 7,940 processes ran under a limit of 64.
fn the_process_limit_holds_even_for_root(isolation: Isolation) {
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    let body = "import time
forked = 0
for _ in range(300):
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        forked += 1
    except OSError:
        break
print('FORKED', forked, flush=True)
";
    let outcome = contained(isolation, dir.path(), &token, body, limits(20_000));
    let tail = &first_run(&outcome).output_tail;
    let forked: usize = tail
        .split_whitespace()
        .skip_while(|word| *word != "FORKED")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the script did not say how many it forked: {tail}"));
    assert!(
        (1..64).contains(&forked),
        "{forked} processes forked under a limit of 64: {}",
        ponder::sandbox::describe_process_cap(isolation.user_ns)
    );
}

fn unbounded_output_is_capped_and_killed(isolation: Isolation) {
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    let body = "chunk = 'x' * 65536 + '\\n'\nwhile True:\n    sys.stdout.write(chunk)\n";
    let outcome = contained(isolation, dir.path(), &token, body, limits(2_000));
    let run = first_run(&outcome);
    assert_eq!(run.outcome, TestOutcome::Timeout);
    assert!(run.output_tail.chars().count() <= sandbox::RUN_TAIL_CHARS);
}

fn a_huge_file_stops_at_the_size_limit(isolation: Isolation) {
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    let body = "import signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\ntry:\n    with open('big.bin', 'wb') as f:\n        for _ in range(64):\n            f.write(b'0' * (1 << 20))\n    print('WROTE ALL')\nexcept OSError as e:\n    print('STOPPED', e)\n";
    let outcome = contained(
        isolation,
        dir.path(),
        &token,
        body,
        Limits {
            max_file_bytes: 4 << 20,
            ..limits(20_000)
        },
    );
    let tail = &first_run(&outcome).output_tail;
    assert!(
        tail.contains("STOPPED") && !tail.contains("WROTE ALL"),
        "{tail}"
    );
}

fn sleeping_forever_times_out(isolation: Isolation) {
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    let started = Instant::now();
    let outcome = contained(
        isolation,
        dir.path(),
        &token,
        "import time\ntime.sleep(10**6)\n",
        limits(1_000),
    );
    assert_eq!(first_run(&outcome).outcome, TestOutcome::Timeout);
    assert!(started.elapsed() < Duration::from_secs(15));
}

const DAEMON: &str = "import time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        for fd in range(3):\n            os.close(fd)\n        time.sleep(600)\n    os._exit(0)\nprint('Issue reproduced')\n";

fn a_daemon_does_not_outlive_its_run(isolation: Isolation) {
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    let outcome = contained(isolation, dir.path(), &token, DAEMON, limits(20_000));
    let run = first_run(&outcome);
    assert_eq!((run.test, run.tree), (TestKind::Repro, Tree::Original));
    assert_eq!(run.outcome, TestOutcome::Reproduced);
}

/// Without the sandbox the same daemon escapes its process group: the leftover check sees it.
#[test]
fn control_without_the_sandbox_a_daemon_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    std::fs::write(dir.path().join("daemon.py"), script(&token, DAEMON)).unwrap();
    let result = sandbox::run(
        &RunSpec {
            argv: vec!["python3".into(), "daemon.py".into()],
            cwd: dir.path().to_path_buf(),
            timeout: Duration::from_secs(20),
            output_cap: 4096,
            env: Vec::new(),
            confinement: None,
        },
        &|| false,
    )
    .unwrap();
    assert!(result.output.contains("Issue reproduced"));
    let escaped = leftovers(&token);
    for pid in &escaped {
        // SAFETY: kills only the daemon this test started (found by its unique token).
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
        }
    }
    assert_eq!(escaped.len(), 1, "the control daemon should have escaped");
}

/// Without the sandbox a script reaches a port on this machine: the network check bites.
#[test]
fn control_without_the_sandbox_localhost_is_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let result = sandbox::run(
        &RunSpec {
            argv: vec![
                "python3".into(),
                "-c".into(),
                format!("import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('CONNECTED')"),
            ],
            cwd: dir.path().to_path_buf(),
            timeout: Duration::from_secs(20),
            output_cap: 4096,
            env: Vec::new(),
            confinement: None,
        },
        &|| false,
    )
    .unwrap();
    assert!(result.output.contains("CONNECTED"), "{}", result.output);
}

fn the_worktree_holds_the_users_uncommitted_changes(isolation: Isolation) {
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    let body = "print(open('notes.txt').read().strip().replace('\\n', ' '), '|', open('untracked.txt').read().strip())\nprint('Issue reproduced')\n";
    let outcome = contained(isolation, dir.path(), &token, body, limits(20_000));
    assert!(
        first_run(&outcome)
            .output_tail
            .contains("committed and changed | mine"),
        "{}",
        first_run(&outcome).output_tail
    );
}

#[test]
fn a_patch_is_verified_with_repro_and_regression_tests() {
    let dir = tempfile::tempdir().unwrap();
    let repo = user_repo(dir.path());
    std::fs::write(
        repo.join("test_calc.py"),
        "import unittest\nfrom calc import add\nclass T(unittest.TestCase):\n    def test_zero(self):\n        self.assertEqual(add(0, 0), 0)\n    def test_same(self):\n        self.assertEqual(add(2, 0), 2)\n",
    )
    .unwrap();
    let repro = "from calc import add\nif add(2, 2) == 4:\n    print('Issue resolved')\nelse:\n    print('Issue reproduced')\n";
    let good = "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";
    let breaking = "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return 4 if (a, b) == (2, 2) else 1\n";
    let request = |patch: &str, beam| VerifyRequest {
        repo: repo.clone(),
        beam,
        patch: patch.to_string(),
        repro: Some(repro.to_string()),
        regression: Some(TestCommand::given("python3 -m unittest -v")),
        swebench: None,
        python: "python3".into(),
        env: Vec::new(),
        limits: limits(30_000),
        allow_unsandboxed: false,
    };
    let events = std::sync::Mutex::new(Vec::new());
    let results = sandbox::verify_many(
        &[
            request(good, 0),
            request(breaking, 1),
            request("not a diff", 2),
        ],
        &|run| events.lock().unwrap().push((run.beam, run.test, run.tree)),
        &|| false,
    );
    let good = results[0].as_ref().unwrap();
    assert!(good.verdict.passed, "{:?}", good.verdict);
    assert_eq!(good.runs.len(), 4);
    assert_eq!(good.runs[1].tests.len(), 2, "{}", good.runs[1].output_tail);
    let breaking = results[1].as_ref().unwrap();
    assert!(!breaking.verdict.passed);
    assert!(
        breaking
            .verdict
            .regressions
            .iter()
            .any(|t| t.ends_with("test_zero")),
        "{:?}",
        breaking.verdict
    );
    let broken = results[2].as_ref().unwrap();
    assert!(!broken.verdict.passed);
    assert!(
        broken.verdict.reason.contains("does not apply"),
        "{:?}",
        broken.verdict
    );
    assert_eq!(events.lock().unwrap().len(), 4 + 4 + 2);
}

#[test]
fn stopping_a_verification_kills_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let repo = user_repo(dir.path());
    let before = snapshot(&repo);
    let token = token();
    let request = VerifyRequest {
        repo: repo.clone(),
        beam: 0,
        patch: String::new(),
        repro: Some(script(&token, "import time\ntime.sleep(600)\n")),
        regression: None,
        swebench: None,
        python: "python3".into(),
        env: Vec::new(),
        limits: limits(60_000),
        allow_unsandboxed: false,
    };
    let started = Instant::now();
    let stop_at = started + Duration::from_millis(500);
    let result = sandbox::verify(&request, &mut |_| {}, &|| Instant::now() > stop_at);
    let err = result.expect_err("a stopped verification is an error");
    assert!(err.to_string().contains("stopped"), "{err:#}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(leftovers(&token), Vec::<i32>::new());
    assert_eq!(snapshot(&repo), before);
}

/// Two verifications run side by side when there are two cores, one after the other on one: the
/// scripts print when they start and end, and the two windows overlap or not.
#[test]
fn verify_many_runs_one_verification_per_core() {
    let dir = tempfile::tempdir().unwrap();
    let repo = user_repo(dir.path());
    let request = VerifyRequest {
        repo: repo.clone(),
        beam: 0,
        patch: String::new(),
        repro: Some(
            "import time\nprint('START', time.time())\ntime.sleep(2)\nprint('END', time.time())\nprint('Issue reproduced')\n"
                .into(),
        ),
        regression: None,
        swebench: None,
        python: "python3".into(),
        env: Vec::new(),
        limits: limits(60_000),
        allow_unsandboxed: false,
    };
    let requests = [request.clone(), VerifyRequest { beam: 1, ..request }];
    let results = sandbox::verify_many(&requests, &|_| {}, &|| false);
    let mut windows = Vec::new();
    for (beam, result) in results.iter().enumerate() {
        let run = &result.as_ref().unwrap().runs[0];
        assert_eq!(run.beam, beam as u32);
        assert_eq!(run.outcome, TestOutcome::Reproduced);
        let time = |word: &str| -> f64 {
            run.output_tail
                .lines()
                .find_map(|l| l.strip_prefix(word))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        windows.push((time("START"), time("END")));
    }
    let overlap = windows[0].0 < windows[1].1 && windows[1].0 < windows[0].1;
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(overlap, cores >= 2, "{windows:?} on {cores} core(s)");
}

/// Python's multiprocessing needs a writable `/dev/shm`: the sandbox gives each run its own.
fn multiprocessing_works_with_a_private_dev_shm(isolation: Isolation) {
    let dir = tempfile::tempdir().unwrap();
    let token = token();
    let marker = format!("/dev/shm/{token}");
    let body = format!(
        "import multiprocessing\nwith multiprocessing.Pool(2) as pool:\n    print('SQUARES', pool.map(abs, [-1, -2, -3]))\nopen({marker:?}, 'w').write('x')\nprint('Issue reproduced')\n"
    );
    let outcome = contained(isolation, dir.path(), &token, &body, limits(30_000));
    let tail = &first_run(&outcome).output_tail;
    assert!(tail.contains("SQUARES [1, 2, 3]"), "{tail}");
    // The file went to the run's own /dev/shm, not the machine's.
    assert!(!Path::new(&marker).exists());
}

/// A fake home with private files in the usual places, and another repository beside it.
struct Planted {
    home: PathBuf,
    /// Files and folders the script must not read or list.
    targets: Vec<PathBuf>,
}

const SECRET: &str = "PLANTED-SECRET-a8f3";

fn plant(dir: &Path) -> Planted {
    let home = dir.join("home");
    let files = [
        ".ssh/id_ed25519",
        ".ssh/config",
        ".aws/credentials",
        ".netrc",
        ".config/ponder/config.toml",
        ".local/share/ponder/sessions/20250101-000000-abcd.jsonl",
        ".git-credentials",
    ];
    for file in files {
        let path = home.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("{SECRET} in {file}\n")).unwrap();
    }
    let other = dir.join("other-repo");
    std::fs::create_dir_all(&other).unwrap();
    support::fixture_repo(&other, &[("private.py", &format!("KEY = '{SECRET}'\n"))]);
    let mut targets: Vec<PathBuf> = files.iter().map(|f| home.join(f)).collect();
    targets.extend([
        home.join(".ssh"),
        home.clone(),
        other.join("private.py"),
        other.join(".git/config"),
        other.clone(),
        dir.join("user-repo/.git/config"),
        PathBuf::from("/etc/shadow"),
        PathBuf::from("/tmp"),
        PathBuf::from(format!("/proc/{}/environ", std::process::id())),
        PathBuf::from("/proc/1/environ"),
    ]);
    Planted { home, targets }
}

/// Tries every target: a folder is listed, a file read; prints what happened to each.
fn reader(targets: &[PathBuf]) -> String {
    let list: Vec<String> = targets.iter().map(|t| t.display().to_string()).collect();
    format!(
        "for path in {list:?}:\n    try:\n        if os.path.isdir(path):\n            print('LISTED', path, os.listdir(path))\n        else:\n            print('READ', path, open(path, 'rb').read()[:300])\n    except PermissionError:\n        print('DENIED', path)\n    except FileNotFoundError:\n        print('ABSENT', path)\n    except OSError as e:\n        print('FAILED', path, e)\nprint('HOME IS', os.path.expanduser('~'))\n"
    )
}

/// A script reading the user's keys, cloud credentials, config, ponder's journals, another
/// repository or ponder's own environment gets nothing: a permission error under Landlock, and
/// under bubblewrap not even the file (it is not in the sandbox's file system).
fn private_files_cannot_be_read(isolation: Isolation) {
    let dir = tempfile::tempdir().unwrap();
    let planted = plant(dir.path());
    let token = token();
    let outcome = contained_with(
        isolation,
        dir.path(),
        &token,
        &reader(&planted.targets),
        limits(20_000),
        vec![("HOME".into(), planted.home.display().to_string())],
    );
    let output = &outcome.verification.runs[0].output;
    assert!(
        output.contains(&format!("HOME IS {}", planted.home.display())),
        "{output}"
    );
    assert!(!output.contains(SECRET), "a secret leaked:\n{output}");
    // Variables only ponder has (cargo sets these for tests) never reach model code.
    assert!(std::env::var_os("CARGO_PKG_NAME").is_some());
    assert!(!output.contains("CARGO_PKG_NAME"), "{output}");
    for target in &planted.targets {
        let line = output
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(&target.display().to_string()))
            .unwrap_or_else(|| panic!("no line for {}:\n{output}", target.display()));
        let verdict = line.split_whitespace().next().unwrap();
        let ok = match verdict {
            "DENIED" => true,
            // bubblewrap leaves out what the run may not see; Landlock's run has its own /proc.
            "ABSENT" => isolation.bubblewrap || target.starts_with("/proc"),
            // Under bubblewrap, pid 1 is bwrap's init, with the run's own environment (checked
            // above), and /tmp holds only the run's own folder.
            "READ" => isolation.bubblewrap && target == Path::new("/proc/1/environ"),
            "LISTED" => {
                isolation.bubblewrap && target == Path::new("/tmp") && !line.contains(".tmp")
            }
            _ => false,
        };
        assert!(ok, "{line}");
    }
}

/// Model code still finds the project's Python: a virtualenv outside the system folders, on
/// the run's `PATH`, with a package in its site-packages.
fn a_project_test_suite_runs_with_its_python(isolation: Isolation) {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    let made = std::process::Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success());
    let site = std::process::Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .output()
        .unwrap();
    let site = PathBuf::from(String::from_utf8_lossy(&site.stdout).trim());
    std::fs::write(site.join("planted_pkg.py"), "VALUE = 'from the venv'\n").unwrap();
    let repo = user_repo(dir.path());
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let request = VerifyRequest {
        repo,
        beam: 0,
        patch: String::new(),
        repro: None,
        regression: Some(TestCommand::given(
            "python -c \"import sys, planted_pkg; print(planted_pkg.VALUE, sys.prefix)\"",
        )),
        swebench: None,
        python: "python".into(),
        env: vec![("PATH".into(), path)],
        limits: limits(30_000),
        allow_unsandboxed: false,
    };
    let verification = sandbox::verify_with(&request, isolation, &mut |_| {}, &|| false).unwrap();
    let run = &verification.runs[0];
    assert_eq!(run.outcome, TestOutcome::Passed, "{}", run.output_tail);
    assert!(
        run.output_tail
            .contains(&format!("from the venv {}", venv.display())),
        "{}",
        run.output_tail
    );
}

/// `PONDER_SANDBOX` names the mechanism; a wrong name is an error that lists the right ones.
#[test]
fn the_detected_sandbox_says_what_confines_reads() {
    let auto = Isolation::detect_with(Backend::Auto);
    assert!(auto.is_contained(), "{}", auto.describe());
    assert!(
        auto.describe().contains("reads only"),
        "{}",
        auto.describe()
    );
    let bubblewrap = Isolation::detect_with(Backend::Bubblewrap);
    assert!(
        bubblewrap.describe().starts_with("bubblewrap (sees only"),
        "{}",
        bubblewrap.describe()
    );
}
