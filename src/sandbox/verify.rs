//! The verification runner: one candidate patch, tested in its own throw-away worktree.
//!
//! Order of runs: on the original tree, the reproduction script, then the regression command;
//! the patch is applied; on the patched tree the script and the regression command again; then,
//! with SWE-bench lists, the test patch is applied and its test files are run and graded. Each run
//! is reported through `on_run` as soon as it ends, and [`grade::decide`] turns them into a
//! verdict.
//!
//! Invariants: nothing runs in the user's repository; model code runs only inside a contained
//! sandbox unless the request allows unsandboxed runs; `should_stop` is polled during every run
//! and stops the verification with an error.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::confine::Confinement;
use super::grade::{self, Evidence, SuiteRun, Verdict};
use super::isolation::{Backend, Isolation};
use super::repro::{REPRO_FILE, repro_outcome};
use super::test_cmd::TestCommand;
use super::test_log::{self, TestStatuses};
use super::{RunResult, RunSpec, run};
use crate::event::{Beam, Event, TestKind, TestOutcome, Tree};
use crate::repo::Worktree;

/// Characters of output carried in a run report.
pub const TAIL_CHARS: usize = 2_000;

/// How long and how big runs may get.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock limit of each run.
    pub timeout: Duration,
    /// Bytes kept from each end of a run's output.
    pub output_cap: usize,
    /// Most processes at once (inside a user namespace).
    pub max_processes: u64,
    /// Largest file a run may write.
    pub max_file_bytes: u64,
}

impl Limits {
    /// Limits with the given time limit and ponder's defaults for the rest.
    pub fn with_timeout(timeout: Duration) -> Limits {
        Limits {
            timeout,
            output_cap: 64 * 1024,
            max_processes: 256,
            max_file_bytes: 1 << 30,
        }
    }
}

/// SWE-bench's tests for an instance.
#[derive(Debug, Clone)]
pub struct SweBenchTests {
    /// The upstream tests, applied after the candidate patch.
    pub test_patch: String,
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
    /// The command that runs them; `None`: `python -m pytest -rA` on the test patch's files.
    pub command: Option<TestCommand>,
}

/// One verification to run.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// The user's repository (only read).
    pub repo: PathBuf,
    /// Which candidate this is, for the reports.
    pub beam: Beam,
    /// Unified diff of the candidate; empty for "no change".
    pub patch: String,
    /// Source of the model's reproduction script (Python), if any.
    pub repro: Option<String>,
    /// The regression command run on the original and the patched tree, if any.
    pub regression: Option<TestCommand>,
    /// SWE-bench grading, if the instance's lists are known.
    pub swebench: Option<SweBenchTests>,
    /// Python interpreter for the reproduction script.
    pub python: String,
    /// Variables added to every run's environment (a virtualenv's `PATH`, say).
    pub env: Vec<(String, String)>,
    pub limits: Limits,
    /// Run model code even when this machine cannot contain it.
    pub allow_unsandboxed: bool,
}

/// One finished run, with the fields of [`Event::TestRun`] and the per-test results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub beam: Beam,
    pub test: TestKind,
    pub tree: Tree,
    pub outcome: TestOutcome,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub output_tail: String,
    /// Per-test statuses read from the log (empty when the runner prints none).
    pub tests: TestStatuses,
    /// The whole output as kept (head and tail, see [`Limits::output_cap`]); not serialised.
    #[serde(skip)]
    pub output: String,
}

impl RunReport {
    /// The event the pipeline emits for this run.
    pub fn to_event(&self) -> Event {
        Event::TestRun {
            beam: self.beam,
            repro: (self.test == TestKind::Repro).then_some(0),
            test: self.test,
            tree: self.tree,
            outcome: self.outcome,
            exit_code: self.exit_code,
            duration_ms: self.duration_ms,
            output_tail: self.output_tail.clone(),
        }
    }
}

/// What a verification found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verification {
    /// The isolation the runs used, as [`Isolation::describe`] says it.
    pub sandbox: String,
    pub runs: Vec<RunReport>,
    pub verdict: Verdict,
}

/// The isolation to use for model code, or an error that tells the user what to do.
pub fn sandbox_for(allow_unsandboxed: bool) -> Result<Isolation> {
    let backend = Backend::from_env()?;
    policy(Isolation::detect_with(backend), allow_unsandboxed)
}

/// Contained isolation is always used; anything less only when the user allowed it.
fn policy(isolation: Isolation, allow_unsandboxed: bool) -> Result<Isolation> {
    if isolation.is_contained() || allow_unsandboxed {
        return Ok(isolation);
    }
    bail!(
        "refusing to run model-written code: this machine cannot contain it ({}). \
         Install bubblewrap (scripts/setup.sh) or pass --allow-unsandboxed to run it anyway \
         with your user's permissions and network",
        isolation.describe()
    )
}

/// Runs one verification; see the module docs for the order of runs.
pub fn verify(
    request: &VerifyRequest,
    on_run: &mut dyn FnMut(&RunReport),
    should_stop: &dyn Fn() -> bool,
) -> Result<Verification> {
    let isolation = sandbox_for(request.allow_unsandboxed)?;
    verify_with(request, isolation, on_run, should_stop)
}

/// Runs one verification under `isolation` (tests choose the mechanism with
/// [`Isolation::detect_with`]); it is refused when not contained, unless the request allows it.
pub fn verify_with(
    request: &VerifyRequest,
    isolation: Isolation,
    on_run: &mut dyn FnMut(&RunReport),
    should_stop: &dyn Fn() -> bool,
) -> Result<Verification> {
    let isolation = policy(isolation, request.allow_unsandboxed)?;
    let worktree = Worktree::create(&request.repo, &format!("verify{}", request.beam))?;
    let mut session = Session {
        request,
        isolation,
        worktree: &worktree,
        runs: Vec::new(),
        on_run,
        should_stop,
    };
    let evidence = session.collect()?;
    Ok(Verification {
        sandbox: isolation.describe(),
        runs: session.runs,
        verdict: grade::decide(&evidence),
    })
}

/// Runs several verifications at once, at most one per core; results in request order.
pub fn verify_many(
    requests: &[VerifyRequest],
    on_run: &(dyn Fn(&RunReport) + Sync),
    should_stop: &(dyn Fn() -> bool + Sync),
) -> Vec<Result<Verification>> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(requests.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<Verification>>>> = requests
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(request) = requests.get(i) else {
                        break;
                    };
                    let result = verify(request, &mut |r| on_run(r), should_stop);
                    *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(|| Err(anyhow::anyhow!("a verification worker stopped early")))
        })
        .collect()
}

struct Session<'a> {
    request: &'a VerifyRequest,
    isolation: Isolation,
    worktree: &'a Worktree,
    runs: Vec<RunReport>,
    on_run: &'a mut dyn FnMut(&RunReport),
    should_stop: &'a dyn Fn() -> bool,
}

impl Session<'_> {
    fn collect(&mut self) -> Result<Evidence> {
        let request = self.request;
        let mut evidence = Evidence::default();
        if let Some(script) = &request.repro {
            std::fs::write(self.worktree.path().join(REPRO_FILE), script)
                .context("cannot write the reproduction script into the worktree")?;
            evidence.repro_original = Some(self.repro(Tree::Original)?);
        }
        if let Some(command) = &request.regression {
            evidence.regression_original = Some(self.suite(command, Tree::Original)?);
        }
        if let Err(err) = self.worktree.apply_diff(&request.patch) {
            evidence.unusable = Some(format!("{err:#}"));
            return Ok(evidence);
        }
        if request.repro.is_some() {
            evidence.repro_patched = Some(self.repro(Tree::Patched)?);
        }
        if let Some(command) = &request.regression {
            evidence.regression_patched = Some(self.suite(command, Tree::Patched)?);
        }
        if let Some(swe) = &request.swebench {
            if let Err(err) = self.worktree.apply_diff(&swe.test_patch) {
                evidence.unusable = Some(format!("the test patch does not apply: {err:#}"));
                return Ok(evidence);
            }
            let command = swe
                .command
                .clone()
                .unwrap_or_else(|| TestCommand::pytest_files(&test_files(&swe.test_patch)));
            let suite = self.suite(&command, Tree::Patched)?;
            evidence.swebench = Some(grade::grade_swebench(
                &suite.tests,
                &swe.fail_to_pass,
                &swe.pass_to_pass,
            ));
        }
        Ok(evidence)
    }

    fn repro(&mut self, tree: Tree) -> Result<TestOutcome> {
        let argv = vec![self.request.python.clone(), REPRO_FILE.to_string()];
        let result = self.run(argv)?;
        let outcome = repro_outcome(&result);
        self.report(TestKind::Repro, tree, outcome, &result, TestStatuses::new());
        Ok(outcome)
    }

    fn suite(&mut self, command: &TestCommand, tree: Tree) -> Result<SuiteRun> {
        let argv = vec!["sh".to_string(), "-c".to_string(), command.shell.clone()];
        let result = self.run(argv)?;
        let outcome = suite_outcome(&result);
        let tests = test_log::parse(command.format, &result.output);
        self.report(TestKind::Regression, tree, outcome, &result, tests.clone());
        Ok(SuiteRun {
            outcome: Some(outcome),
            tests,
        })
    }

    fn run(&mut self, argv: Vec<String>) -> Result<RunResult> {
        let request = self.request;
        run_in_worktree(
            self.worktree,
            argv,
            self.isolation,
            &request.limits,
            &request.env,
            self.should_stop,
        )
    }

    fn report(
        &mut self,
        test: TestKind,
        tree: Tree,
        outcome: TestOutcome,
        result: &RunResult,
        tests: TestStatuses,
    ) {
        let report = RunReport {
            beam: self.request.beam,
            test,
            tree,
            outcome,
            exit_code: result.exit_code,
            duration_ms: result.duration.as_millis() as u64,
            output_tail: tail(&result.output),
            tests,
            output: result.output.clone(),
        };
        (self.on_run)(&report);
        self.runs.push(report);
    }
}

/// Runs a command of model code in a worktree, confined as `isolation` allows: writes only in the
/// worktree and its scratch folder (which is also its temp dir), no network, limits on processes
/// and file sizes. Fails if `should_stop` asked it to stop.
pub fn run_in_worktree(
    worktree: &Worktree,
    argv: Vec<String>,
    isolation: Isolation,
    limits: &Limits,
    extra_env: &[(String, String)],
    should_stop: &dyn Fn() -> bool,
) -> Result<RunResult> {
    let scratch = worktree.scratch().display().to_string();
    let mut env = vec![
        ("TMPDIR".to_string(), scratch.clone()),
        ("TMP".to_string(), scratch.clone()),
        ("TEMP".to_string(), scratch.clone()),
        ("XDG_CACHE_HOME".to_string(), format!("{scratch}/cache")),
        ("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string()),
    ];
    env.extend(extra_env.iter().cloned());
    let spec = RunSpec {
        argv,
        cwd: worktree.path().to_path_buf(),
        timeout: limits.timeout,
        output_cap: limits.output_cap,
        env,
        confinement: Some(Confinement {
            isolation,
            writable: vec![
                worktree.path().to_path_buf(),
                worktree.scratch().to_path_buf(),
            ],
            max_processes: limits.max_processes,
            max_file_bytes: limits.max_file_bytes,
        }),
    };
    let result = run(&spec, should_stop)?;
    if result.cancelled {
        bail!("verification stopped");
    }
    Ok(result)
}

/// The files a diff changes (their paths after it), in order.
pub fn diff_files(diff: &str) -> Vec<String> {
    crate::diff::Patch::parse(diff)
        .files
        .iter()
        .map(|f| f.path().to_string())
        .collect()
}

/// The files of a test patch that name tests to run: as SWE-bench's test directives, every changed
/// file except data files (`.json`, `.toml`, `.txt`, images…).
pub fn test_files(test_patch: &str) -> Vec<String> {
    const DATA: [&str; 11] = [
        ".json", ".png", "csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml", ".yaml", ".toml",
    ];
    diff_files(test_patch)
        .into_iter()
        .filter(|f| !DATA.iter().any(|ext| f.ends_with(ext)))
        .collect()
}

/// How a test suite's run ended: passed when it exited 0 in time.
pub fn suite_outcome(result: &RunResult) -> TestOutcome {
    match (result.timed_out, result.exit_code) {
        (true, _) => TestOutcome::Timeout,
        (false, Some(0)) => TestOutcome::Passed,
        (false, _) => TestOutcome::Failed,
    }
}

/// The last [`TAIL_CHARS`] characters of a run's output, as events carry them.
pub fn tail(text: &str) -> String {
    let count = text.chars().count();
    text.chars()
        .skip(count.saturating_sub(TAIL_CHARS))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncontained_machines_refuse_unless_allowed() {
        let err = policy(Isolation::NONE, false).unwrap_err().to_string();
        assert!(err.contains("--allow-unsandboxed"), "{err}");
        assert_eq!(policy(Isolation::NONE, true).unwrap(), Isolation::NONE);
        let landlock_only = Isolation {
            landlock_abi: Some(4),
            ..Isolation::NONE
        };
        assert!(policy(landlock_only, false).is_err());
        let full = Isolation {
            user_ns: true,
            net_ns: true,
            pid_ns: true,
            landlock_abi: Some(4),
            bubblewrap: false,
        };
        assert_eq!(policy(full, false).unwrap(), full);
    }

    #[test]
    fn files_of_a_diff() {
        let diff = "diff --git a/tests/test_a.py b/tests/test_a.py\n--- a/x\n+++ b/x\ndiff --git a/t.py b/t.py\n";
        assert_eq!(diff_files(diff), vec!["tests/test_a.py", "t.py"]);
        let with_data = "diff --git a/tests/static/config.toml b/tests/static/config.toml\ndiff --git a/tests/test_config.py b/tests/test_config.py\n";
        assert_eq!(test_files(with_data), vec!["tests/test_config.py"]);
    }
}
