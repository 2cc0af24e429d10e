//! `ponder export`: SWE-bench predictions, SWE-agent-style trajectories and SFT examples of a
//! scripted session, with their expected fields, and the four rejection-sampling checks against a
//! known gold patch (one trajectory passing all four, one failing each).

mod support;

use std::process::Command;

use ponder::event::{Envelope, Event, Outcome};
use ponder::pipeline::{self, SessionSpec};
use ponder::session::export::{self, Trajectory, checks};

/// The demo run in-process with a journal; its repository is kept for the checks.
fn demo_session(dir: &std::path::Path) -> (Vec<Envelope>, ponder::demo::DemoRepo) {
    let repo = ponder::demo::prepare().unwrap();
    let mut settings = ponder::config::default_settings();
    settings.test_cmd = Some(ponder::demo::TEST_CMD.into());
    settings.search = ponder::event::SearchSettings::for_budget(ponder::demo::BUDGET);
    let engine =
        ponder::model::scripted::ScriptedEngine::from_toml(ponder::demo::script().unwrap(), "demo")
            .unwrap();
    let spec = SessionSpec {
        session_id: "export-test".into(),
        repo: repo.root().to_path_buf(),
        issue: ponder::demo::issue().unwrap(),
        settings,
        journal: Some(dir.join("sessions/export-test.jsonl")),
        prompt_overrides: None,
        steerable: false,
    };
    let mut running = pipeline::start(spec, Box::new(engine)).unwrap();
    let mut events = Vec::new();
    while let Some(envelope) = running.events.blocking_recv() {
        let done = matches!(envelope.event, Event::SessionFinished { .. });
        events.push(envelope);
        if done {
            break;
        }
    }
    assert!(running.thread.join().unwrap().is_verified());
    (events, repo)
}

/// A patch of the demo's parser.py that only adds a comment above the buggy lines: right file,
/// right place, but it fixes nothing.
const COMMENT_ONLY: &str = "diff --git a/minicfg/parser.py b/minicfg/parser.py
--- a/minicfg/parser.py
+++ b/minicfg/parser.py
@@ -85,3 +85,4 @@
     if not sections:
+        # (a comment, no fix)
         # Nothing but blank lines and comments.
         return None
";

#[test]
fn exports_carry_their_expected_fields_and_checks_tell_good_from_bad() {
    let data = tempfile::tempdir().unwrap();
    let (events, repo) = demo_session(data.path());
    let trajectory = Trajectory::from_envelopes(&events).unwrap();
    let patch = trajectory
        .patch
        .clone()
        .expect("the demo ends with a patch");
    assert!(
        patch.starts_with("diff --git a/minicfg/parser.py"),
        "{patch}"
    );

    let prediction = export::swebench(&trajectory, "minicfg__minicfg-1");
    assert_eq!(prediction["instance_id"], "minicfg__minicfg-1");
    assert_eq!(prediction["model_name_or_path"], "ponder/scripted");
    assert_eq!(prediction["model_patch"], patch.as_str());
    assert_eq!(prediction.as_object().unwrap().len(), 3);

    let traj = export::traj(&trajectory);
    assert_eq!(traj["info"]["submission"], patch.as_str());
    assert_eq!(traj["info"]["exit_status"], "submitted");
    let steps = traj["trajectory"].as_array().unwrap();
    assert!(steps.len() >= 4);
    for step in steps {
        for key in ["thought", "action", "response", "observation", "state"] {
            assert!(step.get(key).is_some(), "a step has {key}: {step}");
        }
    }
    let history = traj["history"].as_array().unwrap();
    assert!(history.iter().any(|m| m["role"] == "system"));
    assert!(history.iter().any(|m| m["role"] == "assistant"));

    assert!(export::has_prompts(&events));
    let examples = export::sft(&trajectory, None);
    let stages: Vec<&str> = examples
        .iter()
        .map(|e| e["stage"].as_str().unwrap())
        .collect();
    for stage in ["understand", "localize", "patch", "verify"] {
        assert!(stages.contains(&stage), "an example of {stage}: {stages:?}");
    }
    let thoughts: Vec<String> = examples
        .iter()
        .map(|e| e["think"].as_str().unwrap().trim().to_string())
        .filter(|t| t.len() > 20)
        .collect();
    for example in &examples {
        let prompt = example["prompt"].as_array().unwrap();
        assert!(prompt.iter().any(|m| m["role"] == "user"));
        assert!(!example["answer"].as_str().unwrap().is_empty());
        // History pruning: no prompt carries any step's thinking.
        let text: String = prompt
            .iter()
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        assert!(thoughts.iter().all(|t| !text.contains(t.as_str())));
    }
    assert!(
        examples
            .iter()
            .any(|e| !e["think"].as_str().unwrap().is_empty())
    );

    // A format 1 journal has no prompts: its trajectory still has every step, without them.
    let old: Vec<Envelope> = events
        .iter()
        .filter(|e| !matches!(e.event, Event::Prompt { .. }))
        .cloned()
        .collect();
    assert!(!export::has_prompts(&old));
    let old = Trajectory::from_envelopes(&old).unwrap();
    // (Without prompts, a candidate's rounds after tool calls are not told apart.)
    let candidates = |t: &Trajectory| {
        let mut c: Vec<(String, u32)> = t
            .steps
            .iter()
            .map(|s| (s.stage.name().to_string(), s.beam))
            .collect();
        c.dedup();
        c
    };
    assert_eq!(candidates(&old), candidates(&trajectory));
    assert!(old.steps.iter().all(|s| s.prompt.is_empty()));
    assert_eq!(old.patch, trajectory.patch);

    // The gold patch is the demo's real fix: all four checks pass.
    let passing = checks::run(&trajectory, &patch, repo.root(), None).unwrap();
    assert!(passing.all_passed(), "{passing:#?}");

    // Gold changes another file too: the understand step did not name it.
    let other = format!(
        "{patch}diff --git a/minicfg/other.py b/minicfg/other.py\n--- a/minicfg/other.py\n+++ b/minicfg/other.py\n@@ -1,1 +1,1 @@\n-a\n+b\n"
    );
    let gold = export::gold::parse(&other);
    assert_eq!(checks::file_match(&trajectory, &gold).passed, Some(false));

    // Gold changes the right file far from where the trajectory localized.
    let far = export::gold::parse(
        "--- a/minicfg/parser.py\n+++ b/minicfg/parser.py\n@@ -900,2 +900,2 @@\n-a\n+b\n",
    );
    assert_eq!(checks::file_match(&trajectory, &far).passed, Some(true));
    assert_eq!(
        checks::location_match(&trajectory, &far).passed,
        Some(false)
    );

    // A "gold" patch that fixes nothing: the reproduction test still fails after it.
    let inert = checks::run(&trajectory, COMMENT_ONLY, repo.root(), None).unwrap();
    assert_eq!(inert.file_match.passed, Some(true), "{inert:#?}");
    assert_eq!(inert.location_match.passed, Some(true), "{inert:#?}");
    assert_eq!(inert.repro_valid.passed, Some(false), "{inert:#?}");

    // The same trajectory, had its session not verified the patch.
    let mut unverified = trajectory.clone();
    unverified.state.outcome = Some(Outcome::Unverified {
        reason: "repro still fails".into(),
    });
    let check = checks::patch_correct(&unverified, None);
    assert_eq!(check.passed, Some(false));
    assert_eq!(
        checks::patch_correct(&trajectory, Some(false)).passed,
        Some(false)
    );

    // The command line writes the same prediction.
    let output = Command::new(env!("CARGO_BIN_EXE_ponder"))
        .env("PONDER_DATA_DIR", data.path())
        .args(["export", "export-test", "--format", "swebench"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["model_patch"], patch.as_str());
    assert_eq!(line["instance_id"], "export-test");
}

#[test]
fn unit_check_of_reproduction_runs() {
    use ponder::event::{TestOutcome, Tree};
    let valid = [
        (Tree::Original, TestOutcome::Reproduced),
        (Tree::Patched, TestOutcome::Resolved),
    ];
    assert_eq!(checks::repro_valid(&valid).passed, Some(true));
    let invalid = [
        (Tree::Original, TestOutcome::Resolved),
        (Tree::Patched, TestOutcome::Resolved),
    ];
    assert_eq!(checks::repro_valid(&invalid).passed, Some(false));
}
