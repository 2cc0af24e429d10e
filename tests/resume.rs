//! `ponder resume`: a scripted session killed (SIGKILL) at several points and resumed ends in the
//! same state as one that ran through; the journal header records what reproduces the run.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ponder::event::{EngineSource, Event, SessionState, Stage};
use ponder::model::scripted::ScriptedEngine;
use ponder::pipeline::{self, SessionSpec};
use ponder::session::read_journal;
use support::Recording;

fn ponder(data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ponder"));
    command
        .env("PONDER_DATA_DIR", data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// The one journal in a data folder.
fn journal_in(data: &Path) -> Option<PathBuf> {
    std::fs::read_dir(data.join("sessions"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
}

/// The final state folded from a journal, with what differs run to run (times, machine paths,
/// test output, the order parallel test runs finished in) taken out.
fn final_state(path: &Path) -> String {
    let mut envelopes = read_journal(path).unwrap().envelopes;
    let Event::SessionStarted(header) = &envelopes[0].event else {
        panic!("no header in {}", path.display())
    };
    let repo = header.repo.clone();
    support::zero_times(&mut envelopes);
    let mut state = SessionState::from_envelopes(&envelopes);
    state.header = None;
    state.t_ms = 0;
    for stage in &mut state.stages {
        stage.started_ms = None;
        stage.finished_ms = None;
    }
    for test in &mut state.tests {
        test.output_tail.clear();
    }
    state
        .tests
        .sort_by_key(|t| format!("{:?} {:?} {:?} {:?}", t.beam, t.repro, t.test, t.tree));
    format!("{state:#?}").replace(&repo, "<repo>")
}

/// Removes the temporary demo repository a killed run left behind.
fn remove_demo_repo(journal: &Path) {
    let envelopes = read_journal(journal).unwrap().envelopes;
    if let Event::SessionStarted(header) = &envelopes[0].event
        && let Some(parent) = Path::new(&header.repo).parent()
        && parent
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("ponder-demo-"))
    {
        let _ = std::fs::remove_dir_all(parent);
    }
}

#[test]
fn a_killed_session_resumes_to_the_state_of_an_uninterrupted_one() {
    let whole = tempfile::tempdir().unwrap();
    let status = ponder(whole.path())
        .args(["demo", "--headless"])
        .status()
        .unwrap();
    assert!(status.success(), "the uninterrupted demo verifies");
    let reference = journal_in(whole.path()).unwrap();
    let expected = final_state(&reference);

    let envelopes = read_journal(&reference).unwrap().envelopes;
    let Event::SessionStarted(header) = &envelopes[0].event else {
        panic!("no header")
    };
    let reproduce = header.reproduce.as_ref().expect("a reproducibility record");
    assert_eq!(reproduce.engine_source, Some(EngineSource::DemoScript));
    assert_eq!(
        reproduce.prompts.len(),
        10,
        "every prompt template is hashed"
    );
    assert!(reproduce.prompts.values().all(|h| h.len() == 64));
    assert!(reproduce.llama_cpp.starts_with("llama-cpp-sys-2 "));
    assert_eq!(reproduce.sampling.seed, header.settings.seed);

    // Kill points: while understanding, while localizing, after a patch, while verifying.
    let points: [(&str, &str); 4] = [
        ("understand", r#""kind":"token","stage":"understand""#),
        ("localize", r#""kind":"token","stage":"localize""#),
        ("patch", r#""kind":"patch_proposed""#),
        ("verify", r#""kind":"test_run""#),
    ];
    for (name, marker) in points {
        let data = tempfile::tempdir().unwrap();
        let mut child = ponder(data.path())
            .args(["demo", "--headless", "--pace-ms", "4"])
            .spawn()
            .unwrap();
        loop {
            let seen = journal_in(data.path())
                .and_then(|p| std::fs::read_to_string(p).ok())
                .is_some_and(|text| text.contains(marker));
            if seen {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("{name}: the demo ended ({status}) before the kill point");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let journal = journal_in(data.path()).unwrap();
        let killed = read_journal(&journal).unwrap();
        assert!(
            !killed
                .envelopes
                .iter()
                .any(|e| matches!(e.event, Event::SessionFinished { .. })),
            "{name}: killed before the end"
        );

        let output = ponder(data.path())
            .args(["resume", "--last", "--headless"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{name}: resume verifies: {stderr}");
        assert!(stderr.contains("resuming "), "{stderr}");
        assert!(
            journal
                .with_file_name(format!(
                    "{}.interrupted-1",
                    journal.file_name().unwrap().to_string_lossy()
                ))
                .is_file(),
            "{name}: the interrupted journal is kept aside"
        );
        let resumed = read_journal(&journal).unwrap();
        assert!(!resumed.torn_tail);
        let seqs: Vec<u64> = resumed.envelopes.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (0..seqs.len() as u64).collect::<Vec<_>>(),
            "{name}: one numbering"
        );
        assert_eq!(
            final_state(&journal),
            expected,
            "{name}: resumed state differs"
        );
        remove_demo_repo(&journal);
    }
}

#[test]
fn resume_refuses_a_finished_session_and_a_missing_one() {
    let data = tempfile::tempdir().unwrap();
    let output = ponder(data.path())
        .args(["resume", "--last", "--headless"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no interrupted session"));
    let sessions = data.path().join("sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let header = include_str!("fixtures/header.json").trim();
    let finished = format!(
        "{{\"seq\":0,\"t_ms\":0,{}\n{{\"seq\":1,\"t_ms\":5,\"kind\":\"session_finished\",\"outcome\":{{\"status\":\"aborted\"}}}}\n",
        &header[1..]
    );
    std::fs::write(sessions.join("s1.jsonl"), finished).unwrap();
    let output = ponder(data.path())
        .args(["resume", "s1", "--headless"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("already finished (aborted)"), "{stderr}");
    // An old journal (no reproducibility record) is read, but cannot say which engine to resume.
    let interrupted = format!("{{\"seq\":0,\"t_ms\":0,{}\n", &header[1..]);
    std::fs::write(sessions.join("s2.jsonl"), interrupted).unwrap();
    let output = ponder(data.path())
        .args(["resume", "s2", "--headless"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("repository /tmp/minicfg is gone")
            || stderr.contains("does not say where its engine"),
        "{stderr}"
    );
}

#[test]
fn resuming_after_the_patch_stage_generates_only_what_came_after_it() {
    let data = tempfile::tempdir().unwrap();
    let journal = data.path().join("s.jsonl");
    let repo = ponder::demo::prepare().unwrap();
    let mut settings = ponder::config::default_settings();
    settings.test_cmd = Some(ponder::demo::TEST_CMD.into());
    settings.search = ponder::event::SearchSettings::for_budget(ponder::demo::BUDGET);
    let spec = |journal: &Path| SessionSpec {
        session_id: "s".into(),
        repo: repo.root().to_path_buf(),
        issue: ponder::demo::issue().unwrap(),
        settings: settings.clone(),
        journal: Some(journal.to_path_buf()),
        prompt_overrides: None,
        steerable: false,
    };
    let engine = || ScriptedEngine::from_toml(ponder::demo::script().unwrap(), "demo").unwrap();
    let whole = drain(pipeline::start(spec(&journal), Box::new(engine())).unwrap());
    let expected = final_state(&journal);

    // Interrupted right after the patch stage finished.
    let cut = whole
        .iter()
        .position(|e| {
            matches!(
                e.event,
                Event::StageFinished {
                    stage: Stage::Patch,
                    ok: true
                }
            )
        })
        .unwrap();
    let point = ponder::session::resume_point(ponder::session::Journal {
        envelopes: whole[..cut + 3].to_vec(),
        torn_tail: false,
    })
    .unwrap();
    assert_eq!((point.prefix.len(), point.dropped), (cut + 1, 2));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let recording = Recording {
        inner: engine(),
        prompts: calls.clone(),
        grammars: Default::default(),
    };
    let resumed_path = data.path().join("r.jsonl");
    let shown =
        drain(pipeline::resume(spec(&resumed_path), Box::new(recording), point.prefix).unwrap());
    // Exactly the requests made after the cut (verify's, and its repair round's patches).
    let after: Vec<Stage> = whole[cut + 1..]
        .iter()
        .filter_map(|e| match &e.event {
            Event::Prompt { stage, .. } => Some(*stage),
            _ => None,
        })
        .collect();
    let calls: Vec<Stage> = calls.lock().unwrap().iter().map(|(s, _)| *s).collect();
    assert!(calls.contains(&Stage::Verify), "{calls:?}");
    assert_eq!(calls, after);
    assert_eq!(
        shown.len(),
        whole.len(),
        "the viewer sees the whole session"
    );
    assert_eq!(final_state(&resumed_path), expected);
}

fn drain(mut running: ponder::event::RunningSession) -> Vec<ponder::event::Envelope> {
    let mut events = Vec::new();
    while let Some(envelope) = running.events.blocking_recv() {
        let done = matches!(envelope.event, Event::SessionFinished { .. });
        events.push(envelope);
        if done {
            break;
        }
    }
    running.thread.join().unwrap();
    events
}
