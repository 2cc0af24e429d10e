//! The chosen trajectory of a session, read from its journal: the final patch and the chain of
//! candidates that led to it (understand → localize → patch, and the kept reproduction tests),
//! each step with its prompt, thinking, answer, tool calls and score.

use std::collections::HashMap;

use anyhow::{Result, bail};

use crate::event::{
    Beam, Channel, Envelope, Event, Outcome, PromptMessage, SessionHeader, SessionState, Stage,
    TestKind,
};

/// One round of one candidate.
#[derive(Debug, Clone)]
pub struct Step {
    pub stage: Stage,
    pub beam: Beam,
    pub round: u32,
    pub prompt: Vec<PromptMessage>,
    pub think: String,
    pub answer: String,
    /// (tool, arguments, output) of the calls this round made.
    pub tools: Vec<(String, String, String)>,
    pub score: Option<f64>,
}

/// A session's chosen trajectory.
#[derive(Debug, Clone)]
pub struct Trajectory {
    pub header: SessionHeader,
    pub state: SessionState,
    /// The patch the session ends with (verified, else ranked first), if any.
    pub patch: Option<String>,
    pub patch_beam: Option<Beam>,
    /// Steps of understand, localize and patch on the patch's chain, then the kept repro tests.
    pub steps: Vec<Step>,
    /// (what ran, outcome and output) of the final patch's test runs.
    pub tests: Vec<(String, String)>,
    /// (characters of the chain's prompts, tokens the session generated in all).
    pub tokens: (u64, u64),
}

impl Trajectory {
    /// Reads the trajectory from a whole journal.
    pub fn from_envelopes(envelopes: &[Envelope]) -> Result<Trajectory> {
        let header = match envelopes.first().map(|e| &e.event) {
            Some(Event::SessionStarted(header)) => (**header).clone(),
            _ => bail!("the journal has no session header"),
        };
        let state = SessionState::from_envelopes(envelopes);
        let rounds = rounds(envelopes);
        let patch_beam = match &state.outcome {
            Some(Outcome::Verified { beam }) => Some(*beam),
            _ => state.ranking.first().map(|r| r.beam),
        };
        let patch = patch_beam.and_then(|beam| {
            state
                .patches
                .iter()
                .find(|p| p.beam == beam || p.merged.contains(&beam))
                .map(|p| p.diff.clone())
        });
        let mut chain: Vec<(Stage, Beam)> = Vec::new();
        // Without a patch (a session stopped after understand or localize), the chain ends at
        // the best kept candidate of the last stage that kept one.
        let mut cursor = patch_beam.map(|b| (Stage::Patch, b)).or_else(|| {
            [Stage::Localize, Stage::Understand]
                .into_iter()
                .find_map(|stage| best_kept(&state, stage).map(|beam| (stage, beam)))
        });
        while let Some((stage, beam)) = cursor {
            chain.push((stage, beam));
            let parent = state.stage(stage).get(beam).and_then(|c| c.parent);
            cursor = match (stage, parent) {
                (Stage::Patch, Some(p)) => Some((Stage::Localize, p)),
                (Stage::Localize, Some(p)) => Some((Stage::Understand, p)),
                _ => None,
            };
        }
        chain.reverse();
        for candidate in &state.stage(Stage::Verify).candidates {
            if candidate.status == crate::event::CandidateStatus::Kept {
                chain.push((Stage::Verify, candidate.beam));
            }
        }
        let mut steps = Vec::new();
        for (stage, beam) in chain {
            let score = state.stage(stage).get(beam).and_then(|c| c.score);
            for step in rounds.get(&(stage, beam)).into_iter().flatten() {
                steps.push(Step {
                    score,
                    ..step.clone()
                });
            }
        }
        let tests = state
            .tests
            .iter()
            .filter(|t| Some(t.beam) == patch_beam)
            .map(|t| {
                let what = match t.test {
                    TestKind::Repro => {
                        format!("reproduction test {:?} on the {:?} tree", t.repro, t.tree)
                    }
                    TestKind::Regression => format!("regression tests on the {:?} tree", t.tree),
                };
                (what, format!("{:?}\n{}", t.outcome, t.output_tail))
            })
            .collect();
        let received = state
            .stages
            .iter()
            .map(|s| u64::from(s.think_tokens() + s.answer_tokens()))
            .sum();
        let sent = steps
            .iter()
            .flat_map(|s| &s.prompt)
            .map(|m| m.content.len() as u64)
            .sum();
        Ok(Trajectory {
            header,
            state,
            patch,
            patch_beam,
            steps,
            tests,
            tokens: (sent, received),
        })
    }

    /// SWE-agent's exit status: `submitted` with a patch, else why not.
    pub fn exit_status(&self) -> &'static str {
        match (&self.state.outcome, &self.patch) {
            (Some(Outcome::Aborted), _) => "aborted",
            (Some(Outcome::Stopped { .. }), _) => "stopped",
            (None, _) => "interrupted",
            (_, Some(_)) => "submitted",
            (_, None) => "no_patch",
        }
    }

    /// Where the chain's localize candidate resolved to, when its journal records it (journals
    /// written before the `located` event have only the answer).
    pub fn located(&self) -> Option<&[crate::answer::Location]> {
        let step = self.steps.iter().find(|s| s.stage == Stage::Localize)?;
        let candidate = self.state.stage(Stage::Localize).get(step.beam)?;
        (!candidate.locations.is_empty()).then_some(candidate.locations.as_slice())
    }

    /// The answer of the last round of a step of `stage` on the chain.
    pub fn answer(&self, stage: Stage) -> Option<&str> {
        self.steps
            .iter()
            .rev()
            .find(|s| s.stage == stage)
            .map(|s| s.answer.as_str())
    }
}

/// The best-scored kept candidate of `stage`, if it kept any.
fn best_kept(state: &SessionState, stage: Stage) -> Option<Beam> {
    let score = |c: &&crate::event::CandidateState| c.score.unwrap_or(f64::NEG_INFINITY);
    state
        .stage(stage)
        .candidates
        .iter()
        .filter(|c| c.status == crate::event::CandidateStatus::Kept)
        .max_by(|a, b| score(a).total_cmp(&score(b)))
        .map(|c| c.beam)
}

/// Every candidate's rounds: prompt, thinking, answer and tool calls, in order.
fn rounds(envelopes: &[Envelope]) -> HashMap<(Stage, Beam), Vec<Step>> {
    let mut rounds: HashMap<(Stage, Beam), Vec<Step>> = HashMap::new();
    for envelope in envelopes {
        match &envelope.event {
            Event::Prompt {
                stage,
                beams,
                round,
                messages,
                ..
            } => {
                for beam in beams {
                    rounds.entry((*stage, *beam)).or_default().push(Step {
                        stage: *stage,
                        beam: *beam,
                        round: *round,
                        prompt: messages.clone(),
                        think: String::new(),
                        answer: String::new(),
                        tools: Vec::new(),
                        score: None,
                    });
                }
            }
            Event::Token {
                stage,
                beam,
                channel: Channel::Think,
                text,
            } => {
                if let Some(step) = last_round(&mut rounds, *stage, *beam) {
                    step.think.push_str(text);
                }
            }
            Event::CandidateFinished {
                stage,
                beam,
                answer,
                ..
            } => {
                // An edit finishes a candidate again: its answer replaces the last round's.
                if let Some(step) = last_round(&mut rounds, *stage, *beam) {
                    step.answer = answer.clone();
                }
            }
            Event::ToolCall {
                stage,
                beam,
                name,
                args,
                ..
            } => {
                if let Some(step) = last_round(&mut rounds, *stage, *beam) {
                    step.tools
                        .push((name.clone(), args.to_string(), String::new()));
                }
            }
            Event::ToolResult {
                stage,
                beam,
                output,
                ..
            } => {
                if let Some(call) = last_round(&mut rounds, *stage, *beam)
                    .and_then(|s| s.tools.iter_mut().rev().find(|t| t.2.is_empty()))
                {
                    call.2 = output.clone();
                }
            }
            _ => {}
        }
    }
    rounds
}

/// The candidate's current round; journals before format 2 have no prompts, so its first round
/// starts with its first event, without a prompt.
fn last_round(
    rounds: &mut HashMap<(Stage, Beam), Vec<Step>>,
    stage: Stage,
    beam: Beam,
) -> Option<&mut Step> {
    let list = rounds.entry((stage, beam)).or_default();
    if list.is_empty() {
        list.push(Step {
            stage,
            beam,
            round: 1,
            prompt: Vec::new(),
            think: String::new(),
            answer: String::new(),
            tools: Vec::new(),
            score: None,
        });
    }
    list.last_mut()
}
