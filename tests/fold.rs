//! The session state is a fold of events: sequences in, expected state out.

use ponder::event::{
    CandidateStatus, Channel, Event, Outcome, Pruned, SessionState, Stage, StageStatus, TestKind,
    TestOutcome, Tree,
};

fn fold(events: &[Event]) -> SessionState {
    let mut state = SessionState::new();
    for event in events {
        state.apply(event);
    }
    state
}

fn token(beam: u32, channel: Channel, text: &str) -> Event {
    Event::Token {
        stage: Stage::Understand,
        beam,
        channel,
        text: text.into(),
    }
}

#[test]
fn tokens_build_think_and_answer_per_candidate() {
    let state = fold(&[
        Event::StageStarted {
            stage: Stage::Understand,
        },
        Event::CandidateStarted {
            stage: Stage::Understand,
            beam: 0,
            parent: None,
        },
        Event::CandidateStarted {
            stage: Stage::Understand,
            beam: 1,
            parent: None,
        },
        token(0, Channel::Think, "hm"),
        token(1, Channel::Think, "so"),
        token(0, Channel::Think, "m"),
        token(0, Channel::Answer, "[\"a.py\"]"),
    ]);
    let stage = state.stage(Stage::Understand);
    assert_eq!(stage.status, StageStatus::Running);
    assert_eq!(state.current, Some(Stage::Understand));
    assert_eq!(stage.candidates[0].think, "hmm");
    assert_eq!(stage.candidates[0].answer, "[\"a.py\"]");
    assert_eq!(
        (
            stage.candidates[0].think_tokens,
            stage.candidates[0].answer_tokens
        ),
        (2, 1)
    );
    assert_eq!(stage.candidates[1].think, "so");
    assert_eq!(stage.think_tokens(), 3);
}

#[test]
fn finishing_scoring_and_pruning_set_candidate_status() {
    let state = fold(&[
        Event::CandidateStarted {
            stage: Stage::Patch,
            beam: 0,
            parent: Some(0),
        },
        Event::CandidateStarted {
            stage: Stage::Patch,
            beam: 1,
            parent: Some(0),
        },
        Event::CandidateFinished {
            stage: Stage::Patch,
            beam: 0,
            answer: "final".into(),
            think_tokens: 10,
            answer_tokens: 5,
            forced_answer: true,
            notes: Vec::new(),
        },
        Event::Scored {
            stage: Stage::Patch,
            beam: 0,
            score: 0.8,
            judge: "prm".into(),
        },
        Event::BeamsKept {
            stage: Stage::Patch,
            kept: vec![0],
            pruned: vec![Pruned {
                beam: 1,
                reason: "low score".into(),
            }],
        },
        Event::StageFinished {
            stage: Stage::Patch,
            ok: true,
        },
    ]);
    let stage = state.stage(Stage::Patch);
    assert_eq!(stage.status, StageStatus::Done);
    let first = &stage.candidates[0];
    assert_eq!(
        (
            first.answer.as_str(),
            first.think_tokens,
            first.answer_tokens
        ),
        ("final", 10, 5)
    );
    assert!(first.forced_answer);
    assert_eq!(first.parent, Some(0));
    assert_eq!(first.score, Some(0.8));
    assert_eq!(first.status, CandidateStatus::Kept);
    assert_eq!(
        stage.candidates[1].status,
        CandidateStatus::Pruned("low score".into())
    );
}

#[test]
fn errors_patches_tests_pause_and_outcome() {
    let state = fold(&[
        Event::StageStarted {
            stage: Stage::Verify,
        },
        Event::Error {
            stage: Some(Stage::Verify),
            beam: Some(0),
            message: "no code block".into(),
        },
        Event::PatchProposed {
            beam: 0,
            diff: "diff --git …".into(),
            files: vec!["a.py".into()],
            votes: 2,
            merged: vec![3],
            matching: "exact".into(),
        },
        Event::TestRun {
            beam: 0,
            repro: Some(0),
            test: TestKind::Repro,
            tree: Tree::Original,
            outcome: TestOutcome::Reproduced,
            exit_code: Some(1),
            duration_ms: 12,
            output_tail: "Issue reproduced".into(),
        },
        Event::Paused,
    ]);
    assert!(state.paused);
    assert_eq!(state.errors.len(), 1);
    assert_eq!(
        state.stage(Stage::Verify).candidates[0].status,
        CandidateStatus::Error("no code block".into())
    );
    assert_eq!(state.latest_patch().unwrap().files, ["a.py"]);
    assert_eq!(state.tests[0].outcome, TestOutcome::Reproduced);

    let mut state = state;
    state.apply(&Event::Resumed);
    assert!(!state.paused);
    state.apply(&Event::SessionFinished {
        outcome: Outcome::Aborted,
    });
    assert!(state.is_finished());
    // A stage still running when the session ends is marked failed.
    assert_eq!(state.stage(Stage::Verify).status, StageStatus::Failed);
}

#[test]
fn steering_marks_candidates_and_the_gate() {
    use ponder::event::Command;
    let state = fold(&[
        Event::StageStarted {
            stage: Stage::Localize,
        },
        Event::CandidateStarted {
            stage: Stage::Localize,
            beam: 0,
            parent: Some(0),
        },
        Event::CandidateStarted {
            stage: Stage::Localize,
            beam: 1,
            parent: Some(0),
        },
        Event::Scored {
            stage: Stage::Localize,
            beam: 0,
            score: 0.3,
            judge: "prm".into(),
        },
        Event::Scored {
            stage: Stage::Localize,
            beam: 1,
            score: 0.9,
            judge: "prm".into(),
        },
        Event::GateWaiting {
            stage: Stage::Localize,
        },
        Event::Steered {
            command: Command::Pin {
                stage: Stage::Localize,
                beam: 0,
            },
        },
        Event::Steered {
            command: Command::Drop {
                stage: Stage::Localize,
                beam: 1,
            },
        },
    ]);
    assert_eq!(state.gate, Some(Stage::Localize));
    let stage = state.stage(Stage::Localize);
    assert!(stage.get(0).unwrap().pinned && !stage.get(0).unwrap().dropped);
    assert!(stage.get(1).unwrap().dropped);
    let mut state = state;
    state.apply(&Event::Steered {
        command: Command::Continue,
    });
    assert_eq!(state.gate, None);
}

#[test]
fn outcome_scores_do_not_replace_process_scores() {
    let state = fold(&[
        Event::Scored {
            stage: Stage::Patch,
            beam: 0,
            score: 0.4,
            judge: "prm".into(),
        },
        Event::Scored {
            stage: Stage::Patch,
            beam: 0,
            score: 0.8,
            judge: "orm".into(),
        },
    ]);
    let candidate = state.stage(Stage::Patch).get(0).unwrap();
    assert_eq!((candidate.score, candidate.orm), (Some(0.4), Some(0.8)));
}

#[test]
fn context_use_is_the_largest_request_prompt_plus_its_candidates() {
    let started = |beam| Event::CandidateStarted {
        stage: Stage::Understand,
        beam,
        parent: None,
    };
    let prompt = |beams: Vec<u32>, tokens| Event::Prompt {
        stage: Stage::Understand,
        beams,
        round: 1,
        messages: Vec::new(),
        tokens,
        cached_tokens: None,
    };
    let uncounted = fold(&[
        prompt(vec![0], None),
        started(0),
        token(0, Channel::Think, "a"),
    ]);
    assert_eq!(uncounted.stage(Stage::Understand).context_used(), None);

    let state = fold(&[
        prompt(vec![0, 1], Some(100)),
        started(0),
        started(1),
        token(0, Channel::Think, "a"),
        token(0, Channel::Answer, "b"),
        token(1, Channel::Think, "c"),
        prompt(vec![2], Some(150)),
        started(2),
        token(2, Channel::Think, "d"),
    ]);
    // Request one: 100 + 2 + 1 tokens; request two: 150 + 1.
    assert_eq!(state.stage(Stage::Understand).context_used(), Some(151));
    assert_eq!(state.stage(Stage::Localize).context_used(), None);
}

#[test]
fn index_progress_keeps_the_furthest_count_and_restarts_at_zero() {
    let progress = |done, total, reused| Event::IndexProgress {
        done,
        total,
        reused,
    };
    let state = fold(&[
        progress(0, 100, 0),
        progress(60, 100, 50),
        progress(40, 100, 30),
    ]);
    let indexing = state.indexing.unwrap();
    assert_eq!((indexing.done, indexing.reused), (60, 50));
    assert!(indexing.is_running());
    let state = fold(&[
        progress(0, 100, 0),
        progress(100, 100, 90),
        progress(0, 7, 0),
    ]);
    assert_eq!(
        state.indexing.unwrap().total,
        7,
        "a new indexing starts over"
    );
    let state = fold(&[progress(0, 3, 0), progress(3, 3, 3)]);
    assert!(!state.indexing.unwrap().is_running());
    // Journals written before the event existed have no `reused`.
    let old: Event =
        serde_json::from_str(r#"{"kind":"index_progress","done":1,"total":2}"#).unwrap();
    assert_eq!(old, progress(1, 2, 0));
}
