//! The session state: a pure fold of events.
//!
//! [`SessionState::apply`] is the only way the state changes. Live mode, replay, review and tests
//! all build state the same way, so what the journal holds is exactly what the screen showed.

use super::{
    Beam, Channel, Command, Envelope, Event, Outcome, RankEntry, SessionHeader, Stage, TestKind,
    TestOutcome, Tree,
};

/// Where a stage is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StageStatus {
    #[default]
    Pending,
    Running,
    Done,
    Failed,
}

/// Where a candidate is in its life.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum CandidateStatus {
    #[default]
    Streaming,
    Done,
    Kept,
    Pruned(String),
    Error(String),
}

/// One candidate answer of one stage, as streamed so far.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CandidateState {
    pub beam: Beam,
    pub parent: Option<Beam>,
    pub think: String,
    /// The answer as streamed (the final answer once finished).
    pub answer: String,
    pub think_tokens: u32,
    pub answer_tokens: u32,
    pub forced_answer: bool,
    /// What ponder did to the candidate's text and why (thinking closed, a loop stopped…).
    pub notes: Vec<String>,
    /// Process reward score.
    pub score: Option<f64>,
    /// Outcome reward score (patches only).
    pub orm: Option<f64>,
    pub status: CandidateStatus,
    /// The user pinned it: kept whatever its score.
    pub pinned: bool,
    /// The user dropped it: never kept.
    pub dropped: bool,
    /// The user replaced its answer.
    pub edited: bool,
    /// Localize only: where its answer resolved to in the repository.
    pub locations: Vec<crate::answer::Location>,
}

impl CandidateState {
    /// Why the engine's full context cut it short, if it did.
    pub fn truncated(&self) -> Option<&str> {
        self.notes
            .iter()
            .find_map(|n| n.strip_prefix(super::TRUNCATED))
            .map(str::trim)
    }
}

/// A tool call and, once it came back, its result.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallState {
    pub beam: Beam,
    pub call_id: u32,
    pub name: String,
    pub args: serde_json::Value,
    pub result: Option<(bool, String)>,
}

/// One stage's progress and candidates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StageState {
    pub status: StageStatus,
    pub candidates: Vec<CandidateState>,
    pub tool_calls: Vec<ToolCallState>,
    /// Session time the stage started and finished, in milliseconds.
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    /// Each request for candidates, in order.
    pub requests: Vec<RequestState>,
    /// Why the stage has no usable candidate, while it waits for the user to re-roll, edit or
    /// write an answer.
    pub stuck: Option<String>,
}

/// One request for candidates: its prompt's size and the beams it answers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequestState {
    /// The prompt's tokens, when the engine counted them.
    pub tokens: Option<u32>,
    /// Of those, tokens its cache held, when the engine said.
    pub cached_tokens: Option<u32>,
    pub beams: Vec<Beam>,
}

impl StageState {
    pub fn think_tokens(&self) -> u32 {
        self.candidates.iter().map(|c| c.think_tokens).sum()
    }

    pub fn answer_tokens(&self) -> u32 {
        self.candidates.iter().map(|c| c.answer_tokens).sum()
    }

    /// The most tokens one request of this stage put in the engine's context: its shared prompt
    /// plus everything its candidates thought and answered. `None` until a prompt was counted.
    pub fn context_used(&self) -> Option<u32> {
        self.requests
            .iter()
            .filter_map(|request| {
                let generated: u32 = request
                    .beams
                    .iter()
                    .filter_map(|b| self.get(*b))
                    .map(|c| c.think_tokens + c.answer_tokens)
                    .sum();
                request.tokens.map(|p| p + generated)
            })
            .max()
    }

    /// Prompt tokens of this stage's requests, and how many of them came from a cache (both
    /// summed over the requests that say).
    pub fn prompt_tokens(&self) -> (u64, u64) {
        self.requests.iter().fold((0, 0), |(tokens, cached), r| {
            (
                tokens + u64::from(r.tokens.unwrap_or(0)),
                cached + u64::from(r.cached_tokens.unwrap_or(0)),
            )
        })
    }

    /// A candidate by beam number.
    pub fn get(&self, beam: Beam) -> Option<&CandidateState> {
        self.candidates.iter().find(|c| c.beam == beam)
    }

    fn candidate(&mut self, beam: Beam) -> &mut CandidateState {
        let index = match self.candidates.iter().position(|c| c.beam == beam) {
            Some(index) => index,
            None => {
                self.candidates.push(CandidateState {
                    beam,
                    ..CandidateState::default()
                });
                self.candidates.len() - 1
            }
        };
        &mut self.candidates[index]
    }
}

/// A proposed patch.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchState {
    pub beam: Beam,
    pub diff: String,
    pub files: Vec<String>,
    pub votes: u32,
    pub merged: Vec<Beam>,
    pub matching: String,
    /// Hunks (0-based) the user rejected.
    pub rejected: Vec<u32>,
}

/// A finished test run.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRunState {
    pub beam: Beam,
    pub repro: Option<Beam>,
    pub test: TestKind,
    pub tree: Tree,
    pub outcome: TestOutcome,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub output_tail: String,
}

/// An error reported by any part of the session.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorState {
    pub stage: Option<Stage>,
    pub beam: Option<Beam>,
    pub message: String,
}

/// How far indexing the repository has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexingState {
    pub done: u32,
    pub total: u32,
    /// Files taken unchanged from the persisted index.
    pub reused: u32,
}

impl IndexingState {
    /// True while files remain to be indexed.
    pub fn is_running(&self) -> bool {
        self.done < self.total
    }
}

/// Everything a viewer needs to draw a session, derived from its events alone.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionState {
    pub header: Option<SessionHeader>,
    /// Indexed by [`Stage::index`].
    pub stages: Vec<StageState>,
    /// The stage most recently started.
    pub current: Option<Stage>,
    pub patches: Vec<PatchState>,
    pub tests: Vec<TestRunState>,
    pub ranking: Vec<RankEntry>,
    pub errors: Vec<ErrorState>,
    /// The search's notes: (stage, message).
    pub notes: Vec<(Option<Stage>, String)>,
    /// Indexing the repository, once it started.
    pub indexing: Option<IndexingState>,
    pub paused: bool,
    /// The stage whose boundary the pipeline waits at (gate mode), if it waits.
    pub gate: Option<Stage>,
    /// Whether gate mode is on (from the settings, then the user's toggles).
    pub gate_on: bool,
    /// Evolution: (generation, best, mean) per finished generation.
    pub generations: Vec<(u32, f64, f64)>,
    pub outcome: Option<Outcome>,
    /// Number of events folded.
    pub events: u64,
    /// Session time of the last event folded, in milliseconds.
    pub t_ms: u64,
}

impl Default for SessionState {
    fn default() -> Self {
        SessionState {
            header: None,
            stages: vec![StageState::default(); Stage::ALL.len()],
            current: None,
            patches: Vec::new(),
            tests: Vec::new(),
            ranking: Vec::new(),
            errors: Vec::new(),
            notes: Vec::new(),
            indexing: None,
            paused: false,
            gate: None,
            gate_on: false,
            generations: Vec::new(),
            outcome: None,
            events: 0,
            t_ms: 0,
        }
    }
}

impl SessionState {
    pub fn new() -> SessionState {
        SessionState::default()
    }

    /// Folds a whole stream of journal lines.
    pub fn from_envelopes<'a>(envelopes: impl IntoIterator<Item = &'a Envelope>) -> SessionState {
        let mut state = SessionState::new();
        for envelope in envelopes {
            state.apply_envelope(envelope);
        }
        state
    }

    pub fn stage(&self, stage: Stage) -> &StageState {
        &self.stages[stage.index()]
    }

    fn stage_mut(&mut self, stage: Stage) -> &mut StageState {
        &mut self.stages[stage.index()]
    }

    /// Folds a journal line: its event, and its time.
    pub fn apply_envelope(&mut self, envelope: &Envelope) {
        self.t_ms = self.t_ms.max(envelope.t_ms);
        match envelope.event {
            Event::StageStarted { stage } => self.stage_mut(stage).started_ms = Some(envelope.t_ms),
            Event::StageFinished { stage, .. } => {
                self.stage_mut(stage).finished_ms = Some(envelope.t_ms)
            }
            _ => {}
        }
        self.apply(&envelope.event);
    }

    /// Folds one event into the state.
    pub fn apply(&mut self, event: &Event) {
        self.events += 1;
        match event {
            Event::SessionStarted(header) => {
                self.gate_on = header.settings.search.gate;
                self.header = Some((**header).clone());
            }
            Event::StageStarted { stage } => {
                self.current = Some(*stage);
                self.gate = None;
                self.stage_mut(*stage).status = StageStatus::Running;
            }
            Event::StageFinished { stage, ok } => {
                self.stage_mut(*stage).status = if *ok {
                    StageStatus::Done
                } else {
                    StageStatus::Failed
                };
            }
            Event::CandidateStarted {
                stage,
                beam,
                parent,
            } => {
                self.stage_mut(*stage).stuck = None;
                let candidate = self.stage_mut(*stage).candidate(*beam);
                candidate.parent = *parent;
                candidate.status = CandidateStatus::Streaming;
            }
            Event::Token {
                stage,
                beam,
                channel,
                text,
            } => {
                let candidate = self.stage_mut(*stage).candidate(*beam);
                match channel {
                    Channel::Think => {
                        candidate.think.push_str(text);
                        candidate.think_tokens += 1;
                    }
                    Channel::Answer => {
                        candidate.answer.push_str(text);
                        candidate.answer_tokens += 1;
                    }
                }
            }
            Event::CandidateFinished {
                stage,
                beam,
                answer,
                think_tokens,
                answer_tokens,
                forced_answer,
                notes,
            } => {
                let candidate = self.stage_mut(*stage).candidate(*beam);
                candidate.answer = answer.clone();
                candidate.think_tokens = *think_tokens;
                candidate.answer_tokens = *answer_tokens;
                candidate.forced_answer = *forced_answer;
                candidate.notes = notes.clone();
                if candidate.status == CandidateStatus::Streaming {
                    candidate.status = CandidateStatus::Done;
                }
            }
            Event::Scored {
                stage,
                beam,
                score,
                judge,
            } => {
                let candidate = self.stage_mut(*stage).candidate(*beam);
                if judge == "orm" {
                    candidate.orm = Some(*score);
                } else {
                    candidate.score = Some(*score);
                }
            }
            Event::BeamsKept {
                stage,
                kept,
                pruned,
            } => {
                let stage = self.stage_mut(*stage);
                if !kept.is_empty() {
                    stage.stuck = None;
                }
                for beam in kept {
                    stage.candidate(*beam).status = CandidateStatus::Kept;
                }
                for p in pruned {
                    stage.candidate(p.beam).status = CandidateStatus::Pruned(p.reason.clone());
                }
            }
            Event::ToolCall {
                stage,
                beam,
                call_id,
                name,
                args,
            } => self.stage_mut(*stage).tool_calls.push(ToolCallState {
                beam: *beam,
                call_id: *call_id,
                name: name.clone(),
                args: args.clone(),
                result: None,
            }),
            Event::ToolResult {
                stage,
                beam,
                call_id,
                ok,
                output,
            } => {
                if let Some(call) = self
                    .stage_mut(*stage)
                    .tool_calls
                    .iter_mut()
                    .find(|c| c.beam == *beam && c.call_id == *call_id)
                {
                    call.result = Some((*ok, output.clone()));
                }
            }
            Event::Located { beam, locations } => {
                self.stage_mut(Stage::Localize).candidate(*beam).locations = locations.clone();
            }
            Event::PatchProposed {
                beam,
                diff,
                files,
                votes,
                merged,
                matching,
            } => {
                let patch = PatchState {
                    beam: *beam,
                    diff: diff.clone(),
                    files: files.clone(),
                    votes: *votes,
                    merged: merged.clone(),
                    matching: matching.clone(),
                    rejected: Vec::new(),
                };
                match self.patches.iter_mut().find(|p| p.beam == *beam) {
                    // Proposed again with more votes: the merged candidates add up.
                    Some(existing) => {
                        let mut merged = std::mem::take(&mut existing.merged);
                        merged.extend(
                            patch
                                .merged
                                .iter()
                                .filter(|b| !merged.contains(b))
                                .copied()
                                .collect::<Vec<_>>(),
                        );
                        let rejected = std::mem::take(&mut existing.rejected);
                        *existing = PatchState {
                            merged,
                            rejected,
                            ..patch
                        };
                    }
                    None => self.patches.push(patch),
                }
            }
            Event::TestRun {
                beam,
                repro,
                test,
                tree,
                outcome,
                exit_code,
                duration_ms,
                output_tail,
            } => self.tests.push(TestRunState {
                beam: *beam,
                repro: *repro,
                test: *test,
                tree: *tree,
                outcome: *outcome,
                exit_code: *exit_code,
                duration_ms: *duration_ms,
                output_tail: output_tail.clone(),
            }),
            Event::Ranked { ranking } => self.ranking = ranking.clone(),
            Event::Paused => self.paused = true,
            Event::Resumed => self.paused = false,
            Event::Steered { command } => self.steer(command),
            Event::GateWaiting { stage } => self.gate = Some(*stage),
            Event::StageStuck { stage, reason } => {
                self.stage_mut(*stage).stuck = Some(reason.clone());
            }
            Event::GenerationScored {
                generation,
                best,
                mean,
            } => self.generations.push((*generation, *best, *mean)),
            Event::Error {
                stage,
                beam,
                message,
            } => {
                if let (Some(stage), Some(beam)) = (stage, beam) {
                    self.stage_mut(*stage).candidate(*beam).status =
                        CandidateStatus::Error(message.clone());
                }
                self.errors.push(ErrorState {
                    stage: *stage,
                    beam: *beam,
                    message: message.clone(),
                });
            }
            Event::Note { stage, message } => self.notes.push((*stage, message.clone())),
            Event::IndexProgress {
                done,
                total,
                reused,
            } => {
                // Threads report out of order: counts only grow within one indexing.
                let state = self.indexing.get_or_insert_default();
                let restarted = *done == 0 || *total != state.total;
                if restarted || *done >= state.done {
                    *state = IndexingState {
                        done: *done,
                        total: *total,
                        reused: *reused,
                    };
                }
            }
            Event::Prompt {
                stage,
                beams,
                tokens,
                cached_tokens,
                ..
            } => {
                self.stages[stage.index()].requests.push(RequestState {
                    tokens: *tokens,
                    cached_tokens: *cached_tokens,
                    beams: beams.clone(),
                });
            }
            Event::SessionFinished { outcome } => {
                self.outcome = Some(outcome.clone());
                self.paused = false;
                self.gate = None;
                for stage in &mut self.stages {
                    if stage.status == StageStatus::Running {
                        stage.status = StageStatus::Failed;
                    }
                }
            }
        }
    }

    fn steer(&mut self, command: &Command) {
        match command {
            Command::Pin { stage, beam } => {
                let c = self.stage_mut(*stage).candidate(*beam);
                c.pinned = true;
                c.dropped = false;
            }
            Command::Unpin { stage, beam } => {
                self.stage_mut(*stage).candidate(*beam).pinned = false
            }
            Command::Drop { stage, beam } => {
                let c = self.stage_mut(*stage).candidate(*beam);
                c.dropped = true;
                c.pinned = false;
            }
            Command::Edit { stage, beam, .. } => {
                self.stage_mut(*stage).candidate(*beam).edited = true
            }
            Command::Continue | Command::Reroll { .. } => self.gate = None,
            Command::Gate { on } => {
                self.gate_on = *on;
                if !on {
                    self.gate = None;
                }
            }
            Command::RejectHunk { beam, hunk } => {
                if let Some(patch) = self.patches.iter_mut().find(|p| p.beam == *beam)
                    && !patch.rejected.contains(hunk)
                {
                    patch.rejected.push(*hunk);
                }
            }
            // The answer arrives as the new candidate's own events.
            Command::Pause | Command::Resume | Command::Abort | Command::Answer { .. } => {}
        }
    }

    /// True once the session has finished, however it ended.
    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    /// Prompt tokens of the whole session and how many of them came from a cache.
    pub fn prompt_tokens(&self) -> (u64, u64) {
        self.stages
            .iter()
            .map(StageState::prompt_tokens)
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    }

    /// The latest patch, if any (the one shown and offered).
    pub fn latest_patch(&self) -> Option<&PatchState> {
        self.patches.last()
    }
}
