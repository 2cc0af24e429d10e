//! The answer corpus (tests/fixtures/answers/): 200-odd answers — malformed ones made by
//! `make_corpus.py` (truncated thinking, missing tags, wrong fences, SEARCH text absent,
//! hallucinated paths, 1 MiB lines, binary, chat markers…) and answers recorded from the small
//! real models — each played through the real pipeline as one candidate among all the others of
//! its stage, on the demo project.
//!
//! Every answer must end usable (parsed, its paths exist, its SEARCH applies) or pruned with an
//! error event that says why, as the fixture expects; the other candidates go on; nothing panics.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use ponder::answer::{LocalizeAnswer, parse_localize_answer};
use ponder::event::{Envelope, Event, Outcome, SearchSettings, Settings, Stage};
use ponder::model::scripted::ScriptedEngine;
use serde::Deserialize;

/// What one fixture line holds.
#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    stage: Option<Stage>,
    answer: String,
    source: String,
    usable: bool,
}

/// The stand-in for a line of 1 MiB in the fixtures.
const MEGA: &str = "\u{27e6}1MiB\u{27e7}";

fn corpus(stage: Stage) -> Vec<Entry> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/answers");
    let mut entries = Vec::new();
    for file in [format!("{}.jsonl", stage.name()), "real.jsonl".to_string()] {
        let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        for line in text.lines() {
            let mut entry: Entry = serde_json::from_str(line).unwrap();
            if entry.stage.is_some_and(|s| s != stage) {
                continue;
            }
            entry.answer = entry.answer.replace(MEGA, &"x".repeat(1 << 20));
            entries.push(entry);
        }
    }
    entries
}

/// Good answers for the stages before the one under test.
fn before(stage: Stage) -> Vec<(Stage, &'static str)> {
    let all = [
        (
            Stage::Understand,
            r#"["minicfg/parser.py", "minicfg/loader.py"]"#,
        ),
        (
            Stage::Localize,
            r#"[{"file": "minicfg/parser.py", "class": null, "function": "parse", "start": 1, "end": 40}]"#,
        ),
        (
            Stage::Patch,
            "minicfg/parser.py\n<<<<<<< SEARCH\nfrom __future__ import annotations\n=======\nfrom __future__ import annotations\n# patched\n>>>>>>> REPLACE\n",
        ),
    ];
    all.into_iter().filter(|(s, _)| *s < stage).collect()
}

fn response(stage: Stage, text: &str, round: u32) -> toml::Value {
    let mut table = toml::map::Map::new();
    table.insert("stage".into(), stage.name().into());
    table.insert("text".into(), text.into());
    table.insert("score".into(), 0.5.into());
    table.insert("round".into(), i64::from(round).into());
    toml::Value::Table(table)
}

/// Plays every corpus answer of `stage` as its candidates; returns the events and the entries.
fn play(stage: Stage) -> (Vec<Envelope>, Vec<Entry>) {
    let entries = corpus(stage);
    let mut responses: Vec<toml::Value> = before(stage)
        .into_iter()
        .map(|(s, text)| response(s, text, 1))
        .collect();
    responses.extend(entries.iter().map(|e| response(stage, &e.answer, 1)));
    if stage == Stage::Localize {
        // Candidates that call tools continue in round 2 with locations.
        for e in &entries {
            if matches!(
                parse_localize_answer(&e.answer),
                Ok(LocalizeAnswer::Calls(_))
            ) {
                responses.push(response(
                    stage,
                    r#"[{"file": "minicfg/loader.py", "class": null, "function": null, "start": 1, "end": 3}]"#,
                    2,
                ));
            }
        }
    }
    let mut script = toml::map::Map::new();
    script.insert("response".into(), toml::Value::Array(responses));
    let script = toml::to_string(&toml::Value::Table(script)).unwrap();
    let engine = ScriptedEngine::from_toml(&script, "the answer corpus").unwrap();
    let repo = ponder::demo::prepare().unwrap();
    let issue = ponder::assets::text("demo/issue.md").unwrap();
    let (events, outcome) = support::run_session(
        repo.root(),
        issue,
        settings(stage, entries.len()),
        Box::new(engine),
    );
    assert!(
        !matches!(outcome, Outcome::Failed { .. } | Outcome::Aborted),
        "{}: {outcome:?}",
        stage.name()
    );
    (events, entries)
}

fn settings(stage: Stage, n: usize) -> Settings {
    let mut settings = ponder::config::default_settings();
    settings.test_cmd = Some(ponder::demo::TEST_CMD.into());
    settings.test_timeout_s = 5;
    let mut search = SearchSettings::for_budget(1);
    search.n[stage.index()] = n as u32;
    search.k = [1; 4];
    search.repair_rounds = 0;
    search.confident_score = 1.1;
    settings.search = search;
    settings.until = (stage != Stage::Verify).then_some(stage);
    settings
}

/// Checks each candidate of `stage` against its entry.
fn check(stage: Stage) {
    let (events, entries) = play(stage);
    let mut finished = BTreeSet::new();
    let mut errors: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut pruned_unusable: BTreeMap<u32, String> = BTreeMap::new();
    for e in &events {
        match &e.event {
            Event::CandidateFinished { stage: s, beam, .. } if *s == stage => {
                finished.insert(*beam);
            }
            Event::Error {
                stage: Some(s),
                beam: Some(beam),
                message,
            } if *s == stage => errors.entry(*beam).or_default().push(message.clone()),
            Event::BeamsKept {
                stage: s, pruned, ..
            } if *s == stage => {
                for p in pruned {
                    if ponder::cli::eval::stages::unusable(&p.reason) {
                        pruned_unusable.insert(p.beam, p.reason.clone());
                    }
                }
            }
            _ => {}
        }
    }
    let mut wrong = Vec::new();
    for (beam, entry) in entries.iter().enumerate() {
        let beam = beam as u32;
        assert!(
            finished.contains(&beam),
            "{}: candidate {beam} never finished",
            entry.source
        );
        let unusable = pruned_unusable.get(&beam);
        match (entry.usable, unusable) {
            (true, Some(reason)) => wrong.push(format!(
                "{} ({}): expected usable, was pruned: {reason}",
                entry.source,
                stage.name()
            )),
            (false, None) => wrong.push(format!(
                "{} ({}): expected unusable, was used",
                entry.source,
                stage.name()
            )),
            (false, Some(_)) => {
                let said = errors
                    .get(&beam)
                    .into_iter()
                    .flatten()
                    .any(|m| !m.trim().is_empty());
                if !said {
                    wrong.push(format!(
                        "{} ({}): unusable without an error event saying why",
                        entry.source,
                        stage.name()
                    ));
                }
            }
            (true, None) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_corpus_holds_two_hundred_answers_with_real_ones() {
    let all: Vec<Entry> = Stage::ALL.into_iter().flat_map(corpus).collect();
    assert!(all.len() >= 200, "{} answers", all.len());
    assert!(all.iter().filter(|e| e.source.starts_with("real:")).count() >= 20);
    assert!(all.iter().any(|e| e.usable) && all.iter().any(|e| !e.usable));
}

#[test]
fn understand_answers() {
    check(Stage::Understand);
}

#[test]
fn localize_answers() {
    check(Stage::Localize);
}

#[test]
fn patch_answers() {
    check(Stage::Patch);
}

#[test]
fn verify_answers() {
    check(Stage::Verify);
}
