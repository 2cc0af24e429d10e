//! Per-stage measures of one session, from its events, for `ponder eval run`: candidates, how
//! many answers ponder could use, empty answers, forced or cut answers, tokens and wall time —
//! and over many sessions, the table `eval run` prints.
//!
//! An answer is usable when it parsed and checked out (its paths exist, its SEARCH applied). A
//! reproduction script that ran but did not reproduce the issue was usable; so was a patch merged
//! into an identical one.

use serde_json::{Value, json};

use crate::event::{Envelope, Event, Stage, TestKind, TestOutcome, Tree};

/// True when a prune reason says the answer could not be used.
pub fn unusable(reason: &str) -> bool {
    reason.starts_with("unusable:")
        && !reason.contains("does not reproduce the issue")
        && !reason.contains("merged into it")
}

/// `{"understand": {"candidates": …, "usable": …, …}, …}` for one session.
pub fn stage_metrics(events: &[Envelope]) -> Value {
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
                } if *s == stage => {
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
                    for p in pruned.iter().filter(|p| unusable(&p.reason)) {
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
            let repro = |want: Option<TestOutcome>| {
                events
                    .iter()
                    .filter(|e| {
                        matches!(&e.event, Event::TestRun { test: TestKind::Repro, tree: Tree::Original, outcome, .. }
                            if want.is_none_or(|w| *outcome == w))
                    })
                    .count()
            };
            row["repro_scripts"] = json!(repro(None));
            row["repro_reproduce"] = json!(repro(Some(TestOutcome::Reproduced)));
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
    let scripts: u64 = rows
        .iter()
        .filter_map(|r| r["stages"]["verify"]["repro_scripts"].as_u64())
        .sum();
    let reproduce: u64 = rows
        .iter()
        .filter_map(|r| r["stages"]["verify"]["repro_reproduce"].as_u64())
        .sum();
    println!("reproduction scripts that reproduce the issue: {reproduce}/{scripts}");
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
