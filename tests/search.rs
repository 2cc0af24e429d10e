//! The test-time search through the real pipeline: scripted candidates of known correctness and a
//! scripted judge with known scores, on a fixture repository.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ponder::event::{
    Command, Envelope, Event, Outcome, SearchSettings, SearchStrategy, Settings, Stage, TestKind,
    TestOutcome, Tree,
};
use ponder::model::scripted::ScriptedEngine;
use ponder::pipeline;

const CALC: &str = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n";

/// A scripted response.
struct R {
    stage: &'static str,
    answer: String,
    score: f64,
    orm: Option<f64>,
}

fn r(stage: &'static str, answer: impl Into<String>, score: f64) -> R {
    R {
        stage,
        answer: answer.into(),
        score,
        orm: None,
    }
}

fn script(responses: &[R]) -> String {
    let mut out = String::new();
    for (i, resp) in responses.iter().enumerate() {
        out.push_str(&format!(
            "[[response]]\nstage = \"{}\"\nscore = {}\n{}text = '''<think>thought {i}</think>\n{}\n'''\n\n",
            resp.stage,
            resp.score,
            resp.orm.map(|o| format!("orm = {o}\n")).unwrap_or_default(),
            resp.answer
        ));
    }
    out
}

fn files(list: &str) -> String {
    list.to_string()
}

fn location(start: usize, end: usize) -> String {
    format!(
        r#"[{{"file": "calc.py", "class": null, "function": "add", "start": {start}, "end": {end}}}]"#
    )
}

fn edit(search: &str, replace: &str) -> String {
    format!("calc.py\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE")
}

const GOOD: (&str, &str) = (
    "def add(a, b):\n    return a - b",
    "def add(a, b):\n    return a + b",
);
const BAD: (&str, &str) = (
    "def sub(a, b):\n    return a - b",
    "def sub(a, b):\n    return b - a",
);

fn repro(valid: bool) -> String {
    if valid {
        "```python\nfrom calc import add\nif add(2, 2) == 4:\n    print(\"Issue resolved\")\n    raise SystemExit(0)\nprint(\"Issue reproduced\")\nraise SystemExit(1)\n```".into()
    } else {
        "```python\nprint(\"Issue resolved\")\n```".into()
    }
}

fn settings(n: u32, k: u32) -> Settings {
    let mut settings = ponder::config::default_settings();
    let mut search = SearchSettings::for_budget(n);
    search.n = [n; 4];
    search.k = [k; 4];
    search.confident_score = 1.1; // never stop early unless a test asks for it
    settings.search = search;
    settings
}

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    support::fixture_repo(dir.path(), &[("calc.py", CALC)]);
    dir
}

/// One selection: kept beams, and pruned beams with their reasons.
type Round = (Vec<u32>, Vec<(u32, String)>);

fn kept(events: &[Envelope], stage: Stage) -> Vec<Round> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::BeamsKept {
                stage: s,
                kept,
                pruned,
            } if *s == stage => Some((
                kept.clone(),
                pruned.iter().map(|p| (p.beam, p.reason.clone())).collect(),
            )),
            _ => None,
        })
        .collect()
}

/// Two understand, two localize, two patch, two verify candidates; the first of each is good.
fn two_each() -> Vec<R> {
    vec![
        r("understand", files(r#"["calc.py"]"#), 0.9),
        r("understand", files(r#"["nothing.py"]"#), 0.95),
        r("localize", location(1, 2), 0.8),
        r("localize", location(1, 2), 0.3),
        r("patch", edit(GOOD.0, GOOD.1), 0.9),
        r("patch", edit("    this line is not there", "x"), 0.99),
        r("verify", repro(true), 0.9),
        r("verify", repro(false), 0.99),
    ]
}

#[test]
fn unusable_candidates_are_pruned_with_their_reason_whatever_their_score() {
    let dir = fixture();
    let engine = ScriptedEngine::from_toml(&script(&two_each()), "t").unwrap();
    let (events, outcome) = support::run_session(
        dir.path(),
        "add subtracts",
        settings(2, 1),
        Box::new(engine),
    );
    assert_eq!(outcome, Outcome::Verified { beam: 0 });
    let understand = &kept(&events, Stage::Understand)[0];
    assert_eq!(understand.0, vec![0]);
    assert!(
        understand.1[0]
            .1
            .contains("unusable: none of the files named exists"),
        "{understand:?}"
    );
    let localize = &kept(&events, Stage::Localize)[0];
    assert_eq!(
        localize.1,
        vec![(1, "score 0.30 is below the 1 kept".to_string())]
    );
    let patch = &kept(&events, Stage::Patch)[0];
    assert!(
        patch.1[0].1.contains("SEARCH text is not in calc.py"),
        "{patch:?}"
    );
    let verify = &kept(&events, Stage::Verify)[0];
    assert!(verify.1[0].1.contains("does not reproduce"), "{verify:?}");
}

/// A script that dies of its own bug is dropped with what it died of, so a reviewer need not
/// open its output to see why (SmolLM2's scripts import what is not there); paths in it are the
/// repository's, not the throw-away worktree's.
#[test]
fn a_script_that_dies_is_dropped_with_what_it_died_of() {
    let dir = fixture();
    let mut responses = two_each();
    responses[7] = r(
        "verify",
        "```python\nfrom calc import nothing_here\nprint(\"Issue reproduced\")\n```",
        0.99,
    );
    let engine = ScriptedEngine::from_toml(&script(&responses), "t").unwrap();
    let (events, _) = support::run_session(
        dir.path(),
        "add subtracts",
        settings(2, 1),
        Box::new(engine),
    );
    let verify = &kept(&events, Stage::Verify)[0];
    assert!(
        verify.1[0].1.contains(
            "does not reproduce the issue on the original code (other issues: ImportError: cannot \
             import name 'nothing_here' from 'calc' (calc.py))"
        ),
        "{verify:?}"
    );
}

#[test]
fn identical_patches_are_merged_and_votes_break_orm_ties() {
    let dir = fixture();
    let whitespace_variant = edit("def add(a, b):\n  return a - b", GOOD.1);
    let other_good = edit(
        "def add(a, b):\n    return a - b",
        "def add(a, b):\n    return b + a",
    );
    let mut responses = vec![
        r("understand", files(r#"["calc.py"]"#), 0.9),
        r("localize", location(1, 2), 0.8),
        R {
            stage: "patch",
            answer: edit(GOOD.0, GOOD.1),
            score: 0.7,
            orm: Some(0.8),
        },
        R {
            stage: "patch",
            answer: other_good,
            score: 0.9,
            orm: Some(0.8),
        },
        R {
            stage: "patch",
            answer: whitespace_variant,
            score: 0.6,
            orm: Some(0.8),
        },
    ];
    responses.push(r("verify", repro(true), 0.9));
    let engine = ScriptedEngine::from_toml(&script(&responses), "t").unwrap();
    let mut settings = settings(1, 1);
    settings.search.n[Stage::Patch.index()] = 3;
    settings.search.k[Stage::Patch.index()] = 2;
    let (events, outcome) =
        support::run_session(dir.path(), "add subtracts", settings, Box::new(engine));
    // Patch 2 gives the same files as patch 0 (found ignoring whitespace): merged, 2 votes.
    let proposed: Vec<(u32, u32, Vec<u32>, String)> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::PatchProposed {
                beam,
                votes,
                merged,
                matching,
                ..
            } => Some((*beam, *votes, merged.clone(), matching.clone())),
            _ => None,
        })
        .collect();
    assert!(
        proposed.contains(&(0, 2, vec![2], "exact".into())),
        "{proposed:?}"
    );
    // Both verify with equal ORM scores: the one with more votes ranks first, despite its PRM.
    let ranking = events.iter().find_map(|e| match &e.event {
        Event::Ranked { ranking } => Some(ranking.clone()),
        _ => None,
    });
    let ranking = ranking.unwrap();
    assert_eq!(
        ranking
            .iter()
            .map(|e| (e.beam, e.votes))
            .collect::<Vec<_>>(),
        vec![(0, 2), (1, 1)]
    );
    assert_eq!(outcome, Outcome::Verified { beam: 0 });
}

#[test]
fn a_failing_patch_gets_a_repair_round_with_the_failure() {
    let dir = fixture();
    let responses = vec![
        r("understand", files(r#"["calc.py"]"#), 0.9),
        r("localize", location(1, 2), 0.8),
        r("patch", edit(BAD.0, BAD.1), 0.9),
        r("verify", repro(true), 0.9),
        r("patch", edit(GOOD.0, GOOD.1), 0.8), // the repair
    ];
    let prompts = Arc::new(Mutex::new(Vec::new()));
    let engine = support::Recording {
        inner: ScriptedEngine::from_toml(&script(&responses), "t").unwrap(),
        prompts: prompts.clone(),
        grammars: Default::default(),
    };
    let mut settings = settings(1, 1);
    settings.search.repair_rounds = 1;
    let (events, outcome) =
        support::run_session(dir.path(), "add subtracts", settings, Box::new(engine));
    assert_eq!(outcome, Outcome::Verified { beam: 1 });
    let patched: Vec<(u32, TestOutcome)> = events
        .iter()
        .filter_map(|e| match e.event {
            Event::TestRun {
                beam,
                test: TestKind::Repro,
                tree: Tree::Patched,
                outcome,
                ..
            } => Some((beam, outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(
        patched,
        vec![(0, TestOutcome::Reproduced), (1, TestOutcome::Resolved)]
    );
    let prompts = prompts.lock().unwrap();
    let repair_prompt = &prompts.last().unwrap().1;
    assert!(
        repair_prompt.contains("failed verification") && repair_prompt.contains("Issue reproduced"),
        "{repair_prompt}"
    );
    assert!(
        repair_prompt.contains("+    return b - a"),
        "the failed diff is shown"
    );
}

#[test]
fn ranking_follows_the_orm_among_verified_patches() {
    let dir = fixture();
    let responses = vec![
        r("understand", files(r#"["calc.py"]"#), 0.9),
        r("localize", location(1, 2), 0.8),
        R {
            stage: "patch",
            answer: edit(GOOD.0, GOOD.1),
            score: 0.9,
            orm: Some(0.4),
        },
        R {
            stage: "patch",
            answer: edit(GOOD.0, "def add(a, b):\n    return sum((a, b))"),
            score: 0.5,
            orm: Some(0.9),
        },
        r("verify", repro(true), 0.9),
    ];
    let engine = ScriptedEngine::from_toml(&script(&responses), "t").unwrap();
    let mut settings = settings(1, 1);
    settings.search.n[Stage::Patch.index()] = 2;
    settings.search.k[Stage::Patch.index()] = 2;
    let (_, outcome) =
        support::run_session(dir.path(), "add subtracts", settings, Box::new(engine));
    assert_eq!(outcome, Outcome::Verified { beam: 1 });
}

#[test]
fn a_confident_first_wave_stops_the_stage_early() {
    let dir = fixture();
    let mut responses = two_each();
    responses[1] = r("understand", files(r#"["./calc.py"]"#), 0.1);
    responses.insert(2, r("understand", files(r#"["calc.py"]"#), 0.2));
    responses.insert(3, r("understand", files(r#"["calc.py"]"#), 0.2));
    responses[0].score = 0.97;
    responses[1].score = 0.1;
    let engine = ScriptedEngine::from_toml(&script(&responses), "t").unwrap();
    let mut settings = settings(2, 1);
    settings.search.n[Stage::Understand.index()] = 4;
    settings.search.confident_score = 0.9;
    let (events, _) = support::run_session(dir.path(), "add subtracts", settings, Box::new(engine));
    let understand = events
        .iter()
        .filter(|e| {
            matches!(
                e.event,
                Event::CandidateStarted {
                    stage: Stage::Understand,
                    ..
                }
            )
        })
        .count();
    assert_eq!(understand, 2, "the second wave is not generated");
    assert!(events.iter().any(|e| matches!(&e.event, Event::Note { stage: Some(Stage::Understand), message } if message.contains("confident"))));
}

#[test]
fn gate_waits_and_pins_and_drops_decide_what_goes_on() {
    let dir = fixture();
    let responses = vec![
        r("understand", files(r#"["calc.py"]"#), 0.9),
        r("understand", files(r#"["calc.py"]"#), 0.2),
        r("localize", location(1, 2), 0.8),
        r("patch", edit(GOOD.0, GOOD.1), 0.9),
        r("verify", repro(true), 0.9),
    ];
    let engine = ScriptedEngine::from_toml(&script(&responses), "t").unwrap();
    let mut settings = settings(1, 1);
    settings.search.n[Stage::Understand.index()] = 2;
    settings.search.gate = true;
    let spec = support::spec(dir.path(), "add subtracts", settings);
    let mut running = pipeline::start(spec, Box::new(engine)).unwrap();
    let mut events = Vec::new();
    loop {
        let e = running.events.blocking_recv().unwrap();
        let at_gate = matches!(
            e.event,
            Event::GateWaiting {
                stage: Stage::Understand
            }
        );
        events.push(e);
        if at_gate {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(150));
    assert!(
        running.events.try_recv().is_err(),
        "nothing happens while the gate holds"
    );
    running.handle.send(Command::Pin {
        stage: Stage::Understand,
        beam: 1,
    });
    running.handle.send(Command::Drop {
        stage: Stage::Understand,
        beam: 0,
    });
    running.handle.send(Command::Gate { on: false });
    running.handle.send(Command::Continue);
    while let Some(e) = running.events.blocking_recv() {
        let done = matches!(e.event, Event::SessionFinished { .. });
        events.push(e);
        if done {
            break;
        }
    }
    let outcome = running.thread.join().unwrap();
    assert_eq!(outcome, Outcome::Verified { beam: 0 });
    let rounds = kept(&events, Stage::Understand);
    assert_eq!(rounds[0].0, vec![0], "before steering, the best is kept");
    assert_eq!(
        rounds.last().unwrap().0,
        vec![1],
        "after steering, the pinned one goes on"
    );
    assert!(
        rounds
            .last()
            .unwrap()
            .1
            .contains(&(0, "dropped by the user".to_string()))
    );
    let localize_parent = events.iter().find_map(|e| match e.event {
        Event::CandidateStarted {
            stage: Stage::Localize,
            parent,
            ..
        } => parent,
        _ => None,
    });
    assert_eq!(localize_parent, Some(1));
    assert!(events.iter().any(|e| matches!(
        e.event,
        Event::Steered {
            command: Command::Pin { .. }
        }
    )));
}

#[test]
fn evolution_conditions_each_generation_on_the_best_so_far() {
    let dir = fixture();
    let responses = vec![
        r("understand", files(r#"["calc.py"]"#), 0.9),
        r("localize", location(1, 2), 0.8),
        R {
            stage: "patch",
            answer: edit(BAD.0, BAD.1),
            score: 0.5,
            orm: Some(0.3),
        },
        R {
            stage: "patch",
            answer: edit(GOOD.0, GOOD.1),
            score: 0.6,
            orm: Some(0.6),
        },
        r("verify", repro(true), 0.9),
        R {
            stage: "patch",
            answer: edit(GOOD.0, "def add(a, b):\n    return b + a"),
            score: 0.8,
            orm: Some(0.9),
        },
        R {
            stage: "patch",
            answer: edit(GOOD.0, GOOD.1),
            score: 0.6,
            orm: Some(0.6),
        },
    ];
    let prompts = Arc::new(Mutex::new(Vec::new()));
    let engine = support::Recording {
        inner: ScriptedEngine::from_toml(&script(&responses), "t").unwrap(),
        prompts: prompts.clone(),
        grammars: Default::default(),
    };
    let mut settings = settings(1, 1);
    settings.search.strategy = SearchStrategy::Evolve;
    settings.search.generations = 2;
    settings.search.population = 2;
    let (events, outcome) =
        support::run_session(dir.path(), "add subtracts", settings, Box::new(engine));
    let generations: Vec<(u32, f64, f64)> = events
        .iter()
        .filter_map(|e| match e.event {
            Event::GenerationScored {
                generation,
                best,
                mean,
            } => Some((generation, best, mean)),
            _ => None,
        })
        .collect();
    assert_eq!(generations.len(), 2);
    assert!((generations[0].1 - 0.8).abs() < 1e-9, "{generations:?}"); // 0.5 verified + 0.5 × 0.6
    assert!((generations[1].1 - 0.95).abs() < 1e-9, "{generations:?}");
    let prompts = prompts.lock().unwrap();
    let gen1 = &prompts
        .iter()
        .rev()
        .find(|(s, _)| *s == Stage::Patch)
        .unwrap()
        .1;
    assert!(
        gen1.contains("Generation 1") && gen1.contains("Patch 1 (fitness 0.80; verified)"),
        "{gen1}"
    );
    // The best overall is generation 1's new patch (beam 2); its twin of patch 1 (beam 3) was
    // merged into patch 1 as a vote, across generations.
    assert_eq!(outcome, Outcome::Verified { beam: 2 });
    let ranking = events.iter().rev().find_map(|e| match &e.event {
        Event::Ranked { ranking } => Some(ranking.clone()),
        _ => None,
    });
    let votes: Vec<(u32, u32)> = ranking.unwrap().iter().map(|e| (e.beam, e.votes)).collect();
    assert!(
        votes.contains(&(1, 2)) && !votes.iter().any(|(b, _)| *b == 3),
        "{votes:?}"
    );
    let gen1 = prompts
        .iter()
        .rev()
        .find(|(s, _)| *s == Stage::Patch)
        .unwrap();
    assert!(
        gen1.1.contains("Test output:") && gen1.1.contains("Issue resolved"),
        "the next generation sees the tests"
    );
}

#[test]
fn localize_candidates_call_tools_and_continue_with_the_results_not_their_thinking() {
    let dir = fixture();
    let calls = r#"{"calls": [{"tool": "search_method", "args": {"method_name": "add"}}]}"#;
    let mut responses = vec![
        r("understand", files(r#"["calc.py"]"#), 0.9),
        r("localize", calls, 0.5),
        r("patch", edit(GOOD.0, GOOD.1), 0.9),
        r("verify", repro(true), 0.9),
    ];
    let mut round2 = r("localize", location(1, 2), 0.8);
    round2.stage = "localize";
    responses.push(round2);
    let mut text = script(&responses);
    // The last response answers round 2 of the localize candidate.
    let at = text.rfind("[[response]]\nstage = \"localize\"").unwrap();
    text.insert_str(at + "[[response]]\n".len(), "round = 2\n");
    let prompts = Arc::new(Mutex::new(Vec::new()));
    let engine = support::Recording {
        inner: ScriptedEngine::from_toml(&text, "t").unwrap(),
        prompts: prompts.clone(),
        grammars: Default::default(),
    };
    let (events, outcome) = support::run_session(
        dir.path(),
        "add subtracts",
        settings(1, 1),
        Box::new(engine),
    );
    assert_eq!(outcome, Outcome::Verified { beam: 0 });
    let result = events.iter().find_map(|e| match &e.event {
        Event::ToolResult {
            stage: Stage::Localize,
            beam: 0,
            ok,
            output,
            ..
        } => Some((*ok, output.clone())),
        _ => None,
    });
    let (ok, output) = result.expect("the tool ran");
    assert!(ok && output.contains("calc.py"), "{output}");
    let prompts = prompts.lock().unwrap();
    let (_, second) = prompts
        .iter()
        .filter(|(s, _)| *s == Stage::Localize)
        .nth(1)
        .expect("a second round");
    assert!(
        second.contains("Tool results:") && second.contains("search_method"),
        "{second}"
    );
    assert!(
        !second.contains("thought 1"),
        "earlier thinking must not be carried: {second}"
    );
    // The judge scored the final answer (0.8), not the tool call (0.5).
    let score = events.iter().find_map(|e| match &e.event {
        Event::Scored {
            stage: Stage::Localize,
            beam: 0,
            score,
            ..
        } => Some(*score),
        _ => None,
    });
    assert_eq!(score, Some(0.8));
}

#[test]
fn a_rejected_hunk_is_told_to_the_repair_round() {
    let dir = fixture();
    let responses = vec![
        r("understand", files(r#"["calc.py"]"#), 0.9),
        r("localize", location(1, 2), 0.8),
        r("patch", edit(BAD.0, BAD.1), 0.9),
        r("verify", repro(true), 0.9),
        r("patch", edit(GOOD.0, GOOD.1), 0.8),
    ];
    let prompts = Arc::new(Mutex::new(Vec::new()));
    let engine = support::Recording {
        inner: ScriptedEngine::from_toml(&script(&responses), "t").unwrap(),
        prompts: prompts.clone(),
        grammars: Default::default(),
    };
    let mut settings = settings(1, 1);
    settings.search.repair_rounds = 1;
    settings.search.gate = true;
    let spec = support::spec(dir.path(), "add subtracts", settings);
    let mut running = pipeline::start(spec, Box::new(engine)).unwrap();
    let mut events = Vec::new();
    while let Some(e) = running.events.blocking_recv() {
        let gate = match e.event {
            Event::GateWaiting { stage } => Some(stage),
            _ => None,
        };
        let done = matches!(e.event, Event::SessionFinished { .. });
        events.push(e);
        match gate {
            Some(Stage::Patch) => {
                running
                    .handle
                    .send(Command::RejectHunk { beam: 0, hunk: 0 });
                running.handle.send(Command::Gate { on: false });
                running.handle.send(Command::Continue);
            }
            Some(_) => running.handle.send(Command::Continue),
            None if done => break,
            None => {}
        }
    }
    assert_eq!(
        running.thread.join().unwrap(),
        Outcome::Verified { beam: 1 }
    );
    let state = ponder::event::SessionState::from_envelopes(&events);
    assert_eq!(state.patches[0].rejected, vec![0]);
    let prompts = prompts.lock().unwrap();
    let repair = &prompts.last().unwrap().1;
    assert!(
        repair.contains("The user rejected this change of patch 0")
            && repair.contains("+    return b - a"),
        "{repair}"
    );
}
