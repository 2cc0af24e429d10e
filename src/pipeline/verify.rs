//! Stage 4, verify: the model writes reproduction scripts; those that reproduce the issue on the
//! original code are kept; every kept patch is applied in its own throw-away worktree and run
//! against them and the regression tests. A failing patch gets repair rounds with the failure.
//!
//! A patch is verified when every kept reproduction script reports the issue resolved on the
//! patched tree and the regression tests do not go from passing to failing.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::Pipeline;
use super::beams::{Kept, StageKind};
use super::localize::Location;
use super::patch::{Patch, PatchStage};
use crate::answer::{self, grammar};
use crate::event::{Beam, Event, SearchStrategy, Stage, TestKind, TestOutcome, Tree};
use crate::model::Message;
use crate::repo::Worktree;
use crate::sandbox::{
    Limits, REPRO_FILE, TestCommand, died_of, repro_outcome, run_in_worktree, sandbox_for,
    suite_outcome, tail, test_log, venv,
};
use crate::sandbox::{diff_files, test_cmd::related_test_files, test_log::LogFormat};

/// A patch after verification.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    pub beam: Beam,
    pub patch: Patch,
    pub verified: bool,
    /// Why it is or is not verified.
    pub reason: String,
}

/// The note on the verify candidate ponder writes from the issue's own example.
pub const ISSUE_EXAMPLE: &str = "written by ponder from the issue's own example, not by the model";

/// A reproduction script that reproduces the issue on the original code.
#[derive(Debug, Clone)]
pub(crate) struct Repro {
    /// The verify candidate that wrote it.
    pub beam: Beam,
    pub script: String,
}

/// The verify stage's candidates: reproduction scripts, checked on the original tree as they parse.
pub(crate) struct ReproStage;

impl StageKind for ReproStage {
    /// The diff of the best patch, shown for context.
    type Parent = String;
    type Data = Repro;
    const STAGE: Stage = Stage::Verify;

    fn prompt(pipeline: &Pipeline, diff: &String) -> Result<Vec<Message>> {
        pipeline.messages("verify", minijinja::context! { diff })
    }

    fn grammar(_: &Pipeline, _: &String) -> Option<String> {
        Some(grammar::python_block())
    }

    /// The issue's own example, when it has one and names the exception it raises.
    fn offered(pipeline: &Pipeline, _: &String) -> Vec<(String, String)> {
        let issue = format!("{}\n\n{}", pipeline.issue.title, pipeline.issue.body);
        answer::issue_example::find(&issue)
            .map(|example| {
                (
                    format!(
                        "```python\n{}```\n",
                        answer::issue_example::script(&example)
                    ),
                    ISSUE_EXAMPLE.to_string(),
                )
            })
            .into_iter()
            .collect()
    }

    fn parse(pipeline: &mut Pipeline, beam: Beam, answer: &str, _: &String) -> Result<Repro> {
        let Some(script) = answer::code_block(answer, "python") else {
            bail!("the answer has no ```python code block");
        };
        let original = pipeline.original_tree()?;
        let outcome = pipeline.run_test(
            &original,
            beam,
            Some(beam),
            TestKind::Repro,
            Tree::Original,
            script,
        )?;
        match outcome {
            Some(TestOutcome::Reproduced) => Ok(Repro {
                beam,
                script: script.to_string(),
            }),
            other => bail!(
                "it does not reproduce the issue on the original code ({})",
                explain(other, pipeline.test_log.last(), original.path())
            ),
        }
    }
}

/// [`describe`], and for a script that ended with other issues what it died of, read from the
/// log entry of its run in the worktree at `tree` (whose paths are shown relative to it).
fn explain(
    outcome: Option<TestOutcome>,
    run: Option<&(Beam, String, String)>,
    tree: &std::path::Path,
) -> String {
    let died = (outcome == Some(TestOutcome::OtherIssues))
        .then_some(run)
        .flatten()
        .and_then(|(_, _, output)| died_of(output));
    match died {
        Some(error) => format!(
            "other issues: {}",
            error.replace(&format!("{}/", tree.display()), "")
        ),
        None => describe(outcome).to_string(),
    }
}

fn describe(outcome: Option<TestOutcome>) -> &'static str {
    match outcome {
        Some(TestOutcome::Reproduced) => "issue reproduced",
        Some(TestOutcome::Resolved) => "it reports the issue resolved",
        Some(TestOutcome::OtherIssues) => "other issues",
        Some(TestOutcome::Passed) => "passed",
        Some(TestOutcome::Failed) => "failed",
        Some(TestOutcome::Timeout) => "timed out",
        None => "not run",
    }
}

impl Pipeline {
    /// Verifies the kept patches — or evolves them from there — and returns every patch with its
    /// verdict (repairs and later generations included).
    pub(super) fn verify(
        &mut self,
        patches: Vec<Kept<Patch>>,
        locations: &[Location],
    ) -> Result<Vec<Verified>> {
        let best = patches.first().context("no patch to verify")?;
        let isolation = sandbox_for(self.settings.allow_unsandboxed)?;
        if isolation.is_contained() {
            self.note(
                Stage::Verify,
                format!(
                    "model-written code runs sandboxed: {}",
                    isolation.describe()
                ),
            );
        } else {
            self.stage_error(
                Stage::Verify,
                format!(
                    "model-written code runs UNSANDBOXED (--allow-unsandboxed): {}",
                    isolation.describe()
                ),
            );
        }
        self.isolation = Some(isolation);
        self.choose_venv()?;
        // The regression tests: `test_cmd` from the settings, else the runner the repository uses.
        let (regression, narrowed) = match &self.settings.test_cmd {
            Some(cmd) => (Some(TestCommand::given(cmd)), false),
            None => self.detected_tests(&patches),
        };
        self.regression = regression;
        match &self.regression {
            Some(cmd) if narrowed => self.note(
                Stage::Verify,
                format!(
                    "regression tests: `{}` (the test files named after the files the patches \
                     change; set test_cmd to run others)",
                    cmd.shell
                ),
            ),
            Some(cmd) => self.note(Stage::Verify, format!("regression tests: `{}`", cmd.shell)),
            None => self.note(
                Stage::Verify,
                "no regression tests found: set test_cmd to run some",
            ),
        }
        let repros = self.search_stage::<ReproStage>(&[(Some(best.beam), best.data.diff.clone())]);
        let repros: Vec<Repro> = match repros {
            Ok(kept) => kept.into_iter().map(|k| k.data).collect(),
            Err(err) if !self.control.is_aborted() => {
                self.stage_error(
                    Stage::Verify,
                    format!("{err:#}: the patches cannot be verified"),
                );
                Vec::new()
            }
            Err(err) => return Err(err),
        };
        let original = self.original_tree()?;
        // Without a reproduction test nothing can verify a patch, and no patch's tests are run:
        // the original code's run would only cost time.
        let regression_before = if repros.is_empty() {
            if self.regression.is_some() {
                self.note(
                    Stage::Verify,
                    "the regression tests are not run: no reproduction test reproduces the issue, \
                     so no patch can be verified",
                );
            }
            None
        } else {
            self.run_test(&original, 0, None, TestKind::Regression, Tree::Original, "")?
        };
        if self.settings.search.strategy == SearchStrategy::Evolve {
            let result = self.evolve(patches, locations, &repros, regression_before);
            self.original = None;
            return result;
        }
        let mut verified = Vec::new();
        for kept in &patches {
            let mut verdict =
                self.verify_patch(kept.beam, &kept.data, &repros, regression_before)?;
            let mut rounds = 0;
            while !verdict.verified
                && !repros.is_empty()
                && rounds < self.settings.search.repair_rounds
            {
                rounds += 1;
                match self.repair(&verdict, rounds)? {
                    Some((beam, patch)) => {
                        verified.push(verdict);
                        verdict = self.verify_patch(beam, &patch, &repros, regression_before)?;
                    }
                    None => break,
                }
            }
            verified.push(verdict);
        }
        self.original = None;
        Ok(verified)
    }

    /// Applies one patch in a fresh worktree and runs the kept scripts and the regression tests.
    pub(super) fn verify_patch(
        &mut self,
        beam: Beam,
        patch: &Patch,
        repros: &[Repro],
        regression_before: Option<TestOutcome>,
    ) -> Result<Verified> {
        let verdict = |verified: bool, reason: String| Verified {
            beam,
            patch: patch.clone(),
            verified,
            reason,
        };
        if repros.is_empty() {
            return Ok(verdict(
                false,
                "no reproduction test reproduces the issue, so nothing verifies the patch".into(),
            ));
        }
        let tree = Worktree::create(self.workspace.root(), "patched")?;
        if let Err(err) = tree.apply_diff(&patch.diff) {
            return Ok(verdict(false, format!("{err:#}")));
        }
        let mut failing = Vec::new();
        for repro in repros {
            let outcome = self.run_test(
                &tree,
                beam,
                Some(repro.beam),
                TestKind::Repro,
                Tree::Patched,
                &repro.script,
            )?;
            if outcome != Some(TestOutcome::Resolved) {
                failing.push(explain(outcome, self.test_log.last(), tree.path()));
            }
        }
        self.suite_last.clear();
        let regression_after =
            self.run_test(&tree, beam, None, TestKind::Regression, Tree::Patched, "")?;
        // Test by test where both runs name their tests: a suite that already failed somewhere
        // still guards the tests that passed. Else by the whole suite's exit status.
        let broken = test_log::newly_failing(&self.suite_before, &self.suite_last);
        let no_longer_runs = !self.suite_before.is_empty()
            && self.suite_last.is_empty()
            && regression_after == Some(TestOutcome::Failed);
        let regressed = match &broken {
            Some(broken) => !broken.is_empty(),
            None => {
                no_longer_runs
                    || (regression_before == Some(TestOutcome::Passed)
                        && regression_after.is_some_and(|o| o != TestOutcome::Passed))
            }
        };
        Ok(if !failing.is_empty() {
            verdict(
                false,
                format!(
                    "{} of {} reproduction tests still fail on the patched code ({})",
                    failing.len(),
                    repros.len(),
                    failing.join(", ")
                ),
            )
        } else if regressed {
            verdict(false, regression_reason(broken.as_deref(), no_longer_runs))
        } else {
            verdict(true, "the issue reproduces on the original code and the patch resolves it, with no regressions".into())
        })
    }

    /// Asks for a new patch given why the last one failed; reports it as a new patch candidate.
    fn repair(&mut self, failed: &Verified, round: u32) -> Result<Option<(Beam, Patch)>> {
        let outputs: Vec<String> = self
            .tests_of(failed.beam)
            .into_iter()
            .map(|(what, output)| format!("{what}:\n{output}"))
            .collect();
        let notes = format!(
            "A previous attempt (below) failed verification: {}.\n\n```diff\n{}```\n\nTest output:\n\n{}\n\n\
             Write a corrected fix.",
            failed.reason,
            failed.patch.diff,
            outputs.join("\n\n")
        );
        let locations = self.locations_for_repair(&failed.patch);
        let notes = notes + &self.rejected_notes();
        let messages = PatchStage::prompt_with(self, &locations, &notes)?;
        let beam = self.next_beam[Stage::Patch.index()];
        self.note(
            Stage::Verify,
            format!(
                "repair round {round}: candidate {beam} retries the patch of candidate {}",
                failed.beam
            ),
        );
        let grammar = PatchStage::grammar_for(self, &locations);
        let generation = self
            .generate(
                Stage::Patch,
                messages,
                1,
                Some(failed.beam),
                beam,
                grammar.as_deref(),
            )?
            .into_iter()
            .next()
            .context("the engine returned no repair")?;
        match PatchStage::make_patch(self, beam, &generation.answer) {
            Ok(patch) => {
                let answer = generation.answer.clone();
                self.judge(
                    Stage::Patch,
                    crate::model::Judge::Prm,
                    &[(beam, answer.clone(), answer)],
                );
                PatchStage::propose(self, beam, &patch, Vec::new());
                Ok(Some((beam, patch)))
            }
            Err(err) => {
                self.candidate_error(Stage::Patch, beam, format!("{err:#}"));
                Ok(None)
            }
        }
    }

    /// Whole-file locations of the files a patch touched, for a repair prompt.
    fn locations_for_repair(&self, patch: &Patch) -> Vec<super::localize::Location> {
        patch
            .changes
            .iter()
            .filter(|c| !c.created)
            .map(|c| super::localize::Location {
                file: c.path.clone(),
                class: None,
                function: None,
                start: 1,
                end: c.before.lines().count().max(1),
            })
            .collect()
    }

    /// The output tails of the runs made for a patch, labelled.
    pub(super) fn tests_of(&self, beam: Beam) -> Vec<(String, String)> {
        self.test_log
            .iter()
            .filter(|(b, ..)| *b == beam)
            .map(|(_, what, output)| (what.clone(), output.clone()))
            .collect()
    }

    /// The runner the repository uses; for pytest, only the test files named after the files the
    /// patches change when there are some (true then), as a whole suite rarely fits the time limit.
    fn detected_tests(&self, patches: &[Kept<Patch>]) -> (Option<TestCommand>, bool) {
        let Some(detected) = TestCommand::detect(self.workspace.root()) else {
            return (None, false);
        };
        if detected.format != LogFormat::Pytest {
            return (Some(detected), false);
        }
        let mut changed: Vec<String> = patches
            .iter()
            .flat_map(|k| diff_files(&k.data.diff))
            .collect();
        changed.sort();
        changed.dedup();
        let related = related_test_files(self.workspace.files(), &changed);
        if related.is_empty() {
            (Some(detected), false)
        } else {
            (Some(TestCommand::pytest_files(&related)), true)
        }
    }

    /// Chooses the virtualenv Python runs with, and says which (a `python_env` setting that names
    /// none stops verification with what to give).
    fn choose_venv(&mut self) -> Result<()> {
        let active = std::env::var("VIRTUAL_ENV").ok();
        self.venv = venv::choose(
            self.settings.python_env.as_deref(),
            self.workspace.root(),
            active.as_deref(),
        )?;
        let message = match (&self.venv, active.filter(|a| !a.is_empty())) {
            (Some(v), _) => format!("Python runs with {} ({})", v.dir.display(), v.why),
            (None, Some(active)) => format!("Python runs with the active virtualenv {active}"),
            (None, None) => {
                "Python runs as found on PATH: no python_env is set, no .venv/ or venv/ found"
                    .to_string()
            }
        };
        self.note(Stage::Verify, message);
        Ok(())
    }

    /// The worktree of the original code, made once per verification.
    fn original_tree(&mut self) -> Result<std::sync::Arc<Worktree>> {
        if let Some(tree) = &self.original {
            return Ok(tree.clone());
        }
        let tree = std::sync::Arc::new(Worktree::create(self.workspace.root(), "original")?);
        self.original = Some(tree.clone());
        Ok(tree)
    }

    /// Runs one test on a worktree and reports it; `None` when there is no such test.
    fn run_test(
        &mut self,
        worktree: &Worktree,
        beam: Beam,
        repro: Option<Beam>,
        test: TestKind,
        tree: Tree,
        script: &str,
    ) -> Result<Option<TestOutcome>> {
        let argv = match test {
            TestKind::Repro => {
                std::fs::write(worktree.path().join(REPRO_FILE), script)
                    .context("cannot write the reproduction script into the worktree")?;
                vec!["python3".to_string(), REPRO_FILE.to_string()]
            }
            TestKind::Regression => match &self.regression {
                Some(cmd) => vec!["sh".to_string(), "-c".to_string(), cmd.shell.clone()],
                None => return Ok(None),
            },
        };
        let isolation = self
            .isolation
            .context("verification started without choosing a sandbox")?;
        let limits = Limits::with_timeout(Duration::from_secs(self.settings.test_timeout_s));
        let control = self.control.clone();
        let env = venv::run_env(
            self.venv.as_ref(),
            worktree.path(),
            std::env::var("PATH").ok().as_deref(),
            std::env::var("PYTHONPATH").ok().as_deref(),
        );
        let result = run_in_worktree(worktree, argv, isolation, &limits, &env, &move || {
            control.is_aborted()
        })?;
        if test == TestKind::Repro {
            let _ = std::fs::remove_file(worktree.path().join(REPRO_FILE));
        }
        let outcome = match test {
            TestKind::Repro => repro_outcome(&result),
            TestKind::Regression => {
                let format = self.regression.as_ref().map(|c| c.format);
                let statuses =
                    format.map_or_else(Default::default, |f| test_log::parse(f, &result.output));
                match tree {
                    Tree::Original => self.suite_before = statuses,
                    Tree::Patched => self.suite_last = statuses,
                }
                suite_outcome(&result)
            }
        };
        let output_tail = tail(&result.output);
        let what = format!(
            "{} on the {} code: {}",
            if test == TestKind::Repro {
                "reproduction test"
            } else {
                "regression tests"
            },
            if tree == Tree::Original {
                "original"
            } else {
                "patched"
            },
            describe(Some(outcome))
        );
        self.test_log.push((beam, what, output_tail.clone()));
        self.emit(Event::TestRun {
            beam,
            repro,
            test,
            tree,
            outcome,
            exit_code: result.exit_code,
            duration_ms: result.duration.as_millis() as u64,
            output_tail,
        });
        Ok(Some(outcome))
    }
}

/// Why a patch fails its regression tests: the tests it breaks, by name where the log gave them.
fn regression_reason(broken: Option<&[String]>, no_longer_runs: bool) -> String {
    match broken {
        Some(broken) if !broken.is_empty() => {
            let shown: Vec<&str> = broken.iter().take(3).map(String::as_str).collect();
            let more = if broken.len() > shown.len() {
                ", …"
            } else {
                ""
            };
            format!(
                "the patch breaks {} regression test{} that passed before ({}{more})",
                broken.len(),
                if broken.len() == 1 { "" } else { "s" },
                shown.join(", ")
            )
        }
        _ if no_longer_runs => {
            "the regression tests no longer run on the patched code (no test result in the log)"
                .into()
        }
        _ => "the patch breaks regression tests that passed before".into(),
    }
}
