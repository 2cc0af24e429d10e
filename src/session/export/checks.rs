//! The paper's four rejection-sampling checks of a trajectory against a known gold patch:
//! file-level match, location match, reproduction validity (the trajectory's reproduction test
//! fails before the gold patch and passes after it) and patch correctness.

use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;

use super::Trajectory;
use super::gold::{self, GoldFile};
use crate::answer::{LocalizeAnswer, code_block, json_array, parse_localize_answer};
use crate::event::{Stage, TestOutcome, Tree};
use crate::sandbox::{self, Limits, SweBenchTests, VerifyRequest};

/// One check's result: `passed` is `None` when it could not be made, `detail` says why either way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub passed: Option<bool>,
    pub detail: String,
}

impl Check {
    fn pass(passed: bool, detail: impl Into<String>) -> Check {
        Check {
            passed: Some(passed),
            detail: detail.into(),
        }
    }

    fn unknown(detail: impl Into<String>) -> Check {
        Check {
            passed: None,
            detail: detail.into(),
        }
    }
}

/// The four checks of one trajectory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checks {
    pub file_match: Check,
    pub location_match: Check,
    pub repro_valid: Check,
    pub patch_correct: Check,
}

impl Checks {
    /// Kept for training only when all four passed.
    pub fn all_passed(&self) -> bool {
        [
            &self.file_match,
            &self.location_match,
            &self.repro_valid,
            &self.patch_correct,
        ]
        .iter()
        .all(|c| c.passed == Some(true))
    }
}

/// File-level match: the understand step named every file the gold patch changes.
pub fn file_match(trajectory: &Trajectory, gold: &[GoldFile]) -> Check {
    let Some(answer) = trajectory.answer(Stage::Understand) else {
        return Check::pass(false, "the trajectory has no understand step");
    };
    let files: Vec<String> = json_array(answer, "file paths").unwrap_or_default();
    let missing: Vec<&str> = gold
        .iter()
        .map(|g| g.path.as_str())
        .filter(|path| !files.iter().any(|f| f.trim_start_matches("./") == *path))
        .collect();
    if missing.is_empty() {
        Check::pass(true, format!("named all {} gold file(s)", gold.len()))
    } else {
        Check::pass(false, format!("did not name {}", missing.join(", ")))
    }
}

/// Location match: in every gold file, a localized span overlaps a line the gold patch changes.
/// The spans are those ponder resolved the answer to (and showed the patch stage), else, for an
/// older journal, the lines the answer wrote.
pub fn location_match(trajectory: &Trajectory, gold: &[GoldFile]) -> Check {
    let spans: Vec<(String, usize, usize)> = match trajectory.located() {
        Some(located) => located
            .iter()
            .map(|l| (l.file.clone(), l.start, l.end))
            .collect(),
        None => {
            let Some(answer) = trajectory.answer(Stage::Localize) else {
                return Check::pass(false, "the trajectory has no localize step");
            };
            let Ok(LocalizeAnswer::Locations(locations)) = parse_localize_answer(answer) else {
                return Check::pass(false, "the final localize answer gives no locations");
            };
            locations
                .into_iter()
                .filter_map(|l| Some((l.file, l.start?, l.end?)))
                .collect()
        }
    };
    let missed: Vec<&str> = gold
        .iter()
        .filter(|g| {
            !spans.iter().any(|(file, start, end)| {
                file.trim_start_matches("./") == g.path
                    && g.ranges.iter().any(|&(s, e)| *start <= e && s <= *end)
            })
        })
        .map(|g| g.path.as_str())
        .collect();
    if missed.is_empty() {
        Check::pass(
            true,
            "a location overlaps the gold hunks of every gold file",
        )
    } else {
        Check::pass(
            false,
            format!(
                "no location overlaps the gold hunks of {}",
                missed.join(", ")
            ),
        )
    }
}

/// Reproduction validity from the runs of the trajectory's reproduction test with the gold
/// patch: it must reproduce the issue on the original tree and report it resolved on the gold one.
pub fn repro_valid(runs: &[(Tree, TestOutcome)]) -> Check {
    let on = |tree| runs.iter().find(|r| r.0 == tree).map(|r| r.1);
    match (on(Tree::Original), on(Tree::Patched)) {
        (Some(TestOutcome::Reproduced), Some(TestOutcome::Resolved)) => Check::pass(
            true,
            "reproduces the issue before the gold patch, resolved after",
        ),
        (before, after) => Check::pass(
            false,
            format!("before the gold patch: {before:?}; after it: {after:?}"),
        ),
    }
}

/// Patch correctness: the instance's tests pass with the patch (when they are known), else the
/// session's own verification of its final patch.
pub fn patch_correct(trajectory: &Trajectory, instance_tests: Option<bool>) -> Check {
    if trajectory.patch.is_none() {
        return Check::pass(false, "the session produced no patch");
    }
    match instance_tests {
        Some(resolved) => Check::pass(
            resolved,
            if resolved {
                "the instance's FAIL_TO_PASS and PASS_TO_PASS tests pass"
            } else {
                "the instance's tests do not all pass"
            },
        ),
        None => match &trajectory.state.outcome {
            Some(outcome) if outcome.is_verified() => Check::pass(
                true,
                "verified by the session's reproduction and regression tests (the instance's \
                 tests were not given)",
            ),
            Some(_) => Check::pass(false, "the session did not verify its patch"),
            None => Check::unknown("the session did not finish"),
        },
    }
}

/// The four checks; the reproduction one runs the trajectory's test with the gold patch, and with
/// the instance's tests (`tests`) the correctness one runs them on the final patch, sandboxed, in
/// throw-away worktrees of `repo`.
pub fn run(
    trajectory: &Trajectory,
    gold_diff: &str,
    repo: &std::path::Path,
    tests: Option<SweBenchTests>,
) -> Result<Checks> {
    let gold = gold::parse(gold_diff);
    if gold.is_empty() {
        bail!("the gold patch changes no file: is it a unified diff?");
    }
    let script = trajectory
        .answer(Stage::Verify)
        .and_then(|a| code_block(a, "python"));
    let repro_valid = match script {
        None => Check {
            passed: Some(false),
            detail: "the trajectory kept no reproduction test".into(),
        },
        Some(_) if !repo.is_dir() => Check {
            passed: None,
            detail: format!(
                "the repository {} is gone; pass --repo at the session's starting point",
                repo.display()
            ),
        },
        Some(script) => {
            let request = request(trajectory, repo, gold_diff, Some(script.to_string()), None);
            let verification = sandbox::verify(&request, &mut |_| {}, &|| false)?;
            let runs: Vec<_> = verification
                .runs
                .iter()
                .filter(|r| r.test == crate::event::TestKind::Repro)
                .map(|r| (r.tree, r.outcome))
                .collect();
            repro_valid(&runs)
        }
    };
    Ok(Checks {
        file_match: file_match(trajectory, &gold),
        location_match: location_match(trajectory, &gold),
        repro_valid,
        patch_correct: match (tests, &trajectory.patch) {
            (Some(tests), Some(patch)) if repo.is_dir() => {
                let request = request(trajectory, repo, patch, None, Some(tests));
                let verification = sandbox::verify(&request, &mut |_| {}, &|| false)?;
                patch_correct(
                    trajectory,
                    Some(verification.verdict.grade.is_some_and(|g| g.resolved)),
                )
            }
            _ => patch_correct(trajectory, None),
        },
    })
}

/// A sandboxed verification of `patch` on `repo` with the session's limits.
fn request(
    trajectory: &Trajectory,
    repo: &std::path::Path,
    patch: &str,
    repro: Option<String>,
    swebench: Option<SweBenchTests>,
) -> VerifyRequest {
    VerifyRequest {
        repo: repo.to_path_buf(),
        beam: 0,
        patch: patch.to_string(),
        repro,
        regression: None,
        swebench,
        python: "python3".into(),
        env: Vec::new(),
        limits: Limits::with_timeout(Duration::from_secs(
            trajectory.header.settings.test_timeout_s,
        )),
        allow_unsandboxed: trajectory.header.settings.allow_unsandboxed,
    }
}
