//! Per-stage measures of one session, from its events, for `ponder eval run`: candidates, how
//! many answers ponder could use, empty answers, forced or cut answers, tokens and wall time —
//! and over many sessions, the table `eval run` prints.
//!
//! An answer is usable when it parsed and checked out (its paths exist, its SEARCH applied). A
//! reproduction script that ran but did not reproduce the issue was usable; so was a patch merged
//! into an identical one. Candidates the model did not write (the user's answers, the issue's own
//! example that ponder offers as a reproduction) are left out of these counts; the issue's
//! example is counted apart.

use serde_json::{Value, json};

use std::collections::BTreeSet;

use crate::event::{Beam, Envelope, Event, Stage, TestKind, TestOutcome, Tree};
use crate::pipeline::{ISSUE_EXAMPLE, USER_ANSWER};

/// True when a prune reason says the answer could not be used.
pub fn unusable(reason: &str) -> bool {
    reason.starts_with("unusable:")
        && !reason.contains("does not reproduce the issue")
        && !reason.contains("merged into it")
}

/// The beams of candidates the model did not write, and of those the issue's own example.
fn not_the_models(events: &[Envelope]) -> (BTreeSet<(Stage, Beam)>, BTreeSet<Beam>) {
    let (mut written, mut examples) = (BTreeSet::new(), BTreeSet::new());
    for e in events {
        if let Event::CandidateFinished {
            stage, beam, notes, ..
        } = &e.event
        {
            if notes.iter().any(|n| n == ISSUE_EXAMPLE) {
                examples.insert(*beam);
                written.insert((*stage, *beam));
            } else if notes.iter().any(|n| n == USER_ANSWER) {
                written.insert((*stage, *beam));
            }
        }
    }
    (written, examples)
}

/// `{"understand": {"candidates": …, "usable": …, …}, …}` for one session.
pub fn stage_metrics(events: &[Envelope]) -> Value {
    let (written, examples) = not_the_models(events);
    let mut out = serde_json::Map::new();
    for stage in Stage::ALL {
        let mut beams = std::collections::BTreeSet::new();
        let mut rounds = 0u64;
        let mut empty = 0u64;
        let mut forced = 0u64;
        let mut think = 0u64;
        let mut answer = 0u64;
        let mut unusable_beams = std::collections::BTreeSet::new();
        let (mut started, mut finished) = (None, None);
        for e in events {
            match &e.event {
                Event::StageStarted { stage: s } if *s == stage => started = Some(e.t_ms),
                Event::StageFinished { stage: s, .. } if *s == stage => finished = Some(e.t_ms),
                Event::CandidateFinished {
                    stage: s,
                    beam,
                    answer: text,
                    think_tokens,
                    answer_tokens,
                    forced_answer,
                    ..
                } if *s == stage && !written.contains(&(stage, *beam)) => {
                    // A candidate finishes once a round (tool rounds, a patch asked once more).
                    beams.insert(*beam);
                    rounds += 1;
                    empty += u64::from(text.trim().is_empty());
                    forced += u64::from(*forced_answer);
                    think += u64::from(*think_tokens);
                    answer += u64::from(*answer_tokens);
                }
                Event::BeamsKept {
                    stage: s, pruned, ..
                } if *s == stage => {
                    for p in pruned
                        .iter()
                        .filter(|p| unusable(&p.reason) && !written.contains(&(stage, p.beam)))
                    {
                        unusable_beams.insert(p.beam);
                    }
                }
                _ => {}
            }
        }
        let candidates = beams.len() as u64;
        let mut row = json!({
            "candidates": candidates,
            "rounds": rounds,
            "usable": candidates.saturating_sub(unusable_beams.len() as u64),
            "empty": empty,
            "forced": forced,
            "think_tokens": think,
            "answer_tokens": answer,
            "time_ms": match (started, finished) {
                (Some(a), Some(b)) => Some(b.saturating_sub(a)),
                _ => None,
            },
        });
        if stage == Stage::Verify {
            let repro = |want: Option<TestOutcome>, example: bool| {
                events
                    .iter()
                    .filter(|e| {
                        matches!(&e.event, Event::TestRun { test: TestKind::Repro, tree: Tree::Original, outcome, repro, .. }
                            if want.is_none_or(|w| *outcome == w)
                                && repro.is_some_and(|b| examples.contains(&b)) == example)
                    })
                    .count()
            };
            row["repro_scripts"] = json!(repro(None, false));
            row["repro_reproduce"] = json!(repro(Some(TestOutcome::Reproduced), false));
            row["example_scripts"] = json!(repro(None, true));
            row["example_reproduce"] = json!(repro(Some(TestOutcome::Reproduced), true));
        }
        out.insert(stage.name().to_string(), row);
    }
    Value::Object(out)
}

/// The per-stage table over many sessions' metrics rows.
pub fn print_table(rows: &[Value]) {
    println!(
        "{:<11} {:>10} {:>7} {:>13} {:>6} {:>7} {:>12} {:>13} {:>10}",
        "stage",
        "candidates",
        "rounds",
        "usable",
        "empty",
        "forced",
        "think tok",
        "answer tok",
        "time s"
    );
    for stage in Stage::ALL {
        let name = stage.name();
        let sum = |key: &str| -> u64 {
            rows.iter()
                .filter_map(|r| r["stages"][name][key].as_u64())
                .sum()
        };
        let candidates = sum("candidates");
        let usable = sum("usable");
        let rate = if candidates == 0 {
            "n/a".to_string()
        } else {
            format!("{:.1}%", 100.0 * usable as f64 / candidates as f64)
        };
        println!(
            "{name:<11} {candidates:>10} {:>7} {:>13} {:>6} {:>7} {:>12} {:>13} {:>10.1}",
            sum("rounds"),
            format!("{usable} {rate}"),
            sum("empty"),
            sum("forced"),
            sum("think_tokens"),
            sum("answer_tokens"),
            sum("time_ms") as f64 / 1000.0
        );
    }
    let verify = |key: &str| -> u64 {
        rows.iter()
            .filter_map(|r| r["stages"]["verify"][key].as_u64())
            .sum()
    };
    println!(
        "reproduction scripts that reproduce the issue: {}/{}",
        verify("repro_reproduce"),
        verify("repro_scripts")
    );
    println!(
        "the issue's own example (written by ponder, not counted above) reproduces it: {}/{}",
        verify("example_reproduce"),
        verify("example_scripts")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Pruned;

    fn at(event: Event) -> Envelope {
        Envelope {
            seq: 0,
            t_ms: 0,
            event,
        }
    }

    fn finished(beam: u32, answer: &str) -> Envelope {
        at(Event::CandidateFinished {
            stage: Stage::Patch,
            beam,
            answer: answer.into(),
            think_tokens: 0,
            answer_tokens: 3,
            forced_answer: false,
            notes: Vec::new(),
        })
    }

    /// A candidate asked once more finishes twice: one candidate, two rounds.
    #[test]
    fn a_candidate_of_two_rounds_counts_once() {
        let events = [
            finished(0, "a"),
            finished(1, "b"),
            finished(1, "c"),
            at(Event::BeamsKept {
                stage: Stage::Patch,
                kept: vec![1],
                pruned: vec![Pruned {
                    beam: 0,
                    reason: "unusable: the edits change nothing".into(),
                }],
            }),
        ];
        let patch = &stage_metrics(&events)["patch"];
        assert_eq!(patch["candidates"], 2, "{patch}");
        assert_eq!(patch["rounds"], 3, "{patch}");
        assert_eq!(patch["usable"], 1, "{patch}");
    }

    /// The issue's own example is ponder's, not the model's: counted apart.
    #[test]
    fn the_issue_example_is_counted_apart_from_the_models_scripts() {
        let script = |beam: u32, notes: Vec<String>| {
            at(Event::CandidateFinished {
                stage: Stage::Verify,
                beam,
                answer: "```python\nprint(1)\n```".into(),
                think_tokens: 0,
                answer_tokens: 0,
                forced_answer: false,
                notes,
            })
        };
        let ran = |beam: u32, outcome: TestOutcome| {
            at(Event::TestRun {
                beam,
                repro: Some(beam),
                test: TestKind::Repro,
                tree: Tree::Original,
                outcome,
                exit_code: Some(1),
                duration_ms: 1,
                output_tail: String::new(),
            })
        };
        let events = [
            script(0, Vec::new()),
            ran(0, TestOutcome::OtherIssues),
            script(1, vec![ISSUE_EXAMPLE.to_string()]),
            ran(1, TestOutcome::Reproduced),
        ];
        let verify = &stage_metrics(&events)["verify"];
        assert_eq!(verify["candidates"], 1, "{verify}");
        assert_eq!(verify["repro_scripts"], 1, "{verify}");
        assert_eq!(verify["repro_reproduce"], 0, "{verify}");
        assert_eq!(verify["example_scripts"], 1, "{verify}");
        assert_eq!(verify["example_reproduce"], 1, "{verify}");
    }

    #[test]
    fn usable_means_parsed_not_successful() {
        assert!(unusable(
            "unusable: the answer has no JSON array of file paths"
        ));
        assert!(!unusable(
            "unusable: it does not reproduce the issue on the original code (other issues)"
        ));
        assert!(!unusable(
            "unusable: the same patch as candidate 0 (merged into it)"
        ));
        assert!(!unusable("score 0.20 is below the 2 kept"));
    }
}
