//! The review's state: a cursor in the journal, the session state folded up to it, the stage and
//! candidate shown, a candidate marked for comparison, a note being typed.

use anyhow::Result;

use super::keys::{Mode, ReviewAction};
use super::notes::{Note, Notes};
use crate::event::{Beam, Envelope, Event, SessionState, Stage};

/// A review of one journal.
#[derive(Debug, Clone)]
pub struct Review {
    envelopes: Vec<Envelope>,
    /// Events applied: the step shown is `envelopes[cursor - 1]`.
    pub cursor: usize,
    pub state: SessionState,
    pub stage: Stage,
    pub beam: Option<Beam>,
    pub think_folded: bool,
    /// The first candidate of a comparison.
    pub marked: Option<(Stage, Beam)>,
    /// The two candidates compared, when comparing.
    pub comparing: Option<((Stage, Beam), (Stage, Beam))>,
    /// The note being typed.
    pub draft: Option<String>,
    pub notes: Notes,
    /// A message for the panel (a note that could not be saved, say).
    pub status: Option<String>,
    pub quit: bool,
}

impl Review {
    /// Starts at the first event.
    pub fn new(envelopes: Vec<Envelope>, notes: Notes) -> Review {
        let mut review = Review {
            envelopes,
            cursor: 0,
            state: SessionState::new(),
            stage: Stage::Understand,
            beam: None,
            think_folded: false,
            marked: None,
            comparing: None,
            draft: None,
            notes,
            status: None,
            quit: false,
        };
        review.seek(1);
        review
    }

    pub fn len(&self) -> usize {
        self.envelopes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.envelopes.is_empty()
    }

    /// The step shown.
    pub fn current(&self) -> Option<&Envelope> {
        self.cursor
            .checked_sub(1)
            .and_then(|i| self.envelopes.get(i))
    }

    pub fn mode(&self) -> Mode {
        if self.draft.is_some() {
            Mode::Noting
        } else if self.comparing.is_some() {
            Mode::Comparing
        } else {
            Mode::Browsing
        }
    }

    /// Folds the journal up to `cursor` events and follows the step's stage and candidate.
    pub fn seek(&mut self, cursor: usize) {
        let cursor = cursor.clamp(1.min(self.len()), self.len());
        if cursor >= self.cursor && self.cursor > 0 {
            for envelope in &self.envelopes[self.cursor..cursor] {
                self.state.apply_envelope(envelope);
            }
        } else {
            self.state = SessionState::from_envelopes(&self.envelopes[..cursor]);
        }
        self.cursor = cursor;
        if let Some((stage, beam)) = self.current().map(|e| step_of(&e.event)) {
            if let Some(stage) = stage {
                self.stage = stage;
            }
            if beam.is_some() {
                self.beam = beam;
            }
        }
    }

    /// Applies one action; saving a note is the only one that can fail (said in `status`).
    pub fn apply(&mut self, action: ReviewAction) {
        use ReviewAction::*;
        self.status = None;
        match action {
            NextEvent => self.seek(self.cursor + 1),
            PreviousEvent => self.seek(self.cursor.saturating_sub(1)),
            NextStage => {
                let next = self.envelopes[self.cursor.min(self.len())..]
                    .iter()
                    .position(|e| matches!(e.event, Event::StageFinished { .. }))
                    .map_or(self.len(), |i| self.cursor + i + 1);
                self.seek(next);
            }
            PreviousStage => {
                let before = self.cursor.saturating_sub(1);
                let previous = self.envelopes[..before]
                    .iter()
                    .rposition(|e| matches!(e.event, Event::StageFinished { .. }))
                    .map_or(1, |i| i + 1);
                self.seek(previous);
            }
            Start => self.seek(1),
            End => self.seek(self.len()),
            ShowStage(forward) => {
                let i = self.stage.index();
                let i = if forward { (i + 1) % 4 } else { (i + 3) % 4 };
                self.stage = Stage::ALL[i];
                self.beam = None;
            }
            Candidate(forward) => {
                let beams: Vec<Beam> = self
                    .state
                    .stage(self.stage)
                    .candidates
                    .iter()
                    .map(|c| c.beam)
                    .collect();
                if beams.is_empty() {
                    return;
                }
                let at = self.beam.and_then(|b| beams.iter().position(|x| *x == b));
                let index = match (at, forward) {
                    (None, _) => 0,
                    (Some(i), true) => (i + 1).min(beams.len() - 1),
                    (Some(i), false) => i.saturating_sub(1),
                };
                self.beam = Some(beams[index]);
            }
            ToggleThinking => self.think_folded = !self.think_folded,
            NextNote => {
                let here = self.current().map_or(0, |e| e.seq);
                let noted = |e: &Envelope| self.notes.at(e.seq).is_some();
                let target = self
                    .envelopes
                    .iter()
                    .position(|e| e.seq > here && noted(e))
                    .or_else(|| self.envelopes.iter().position(noted));
                match target {
                    Some(index) => self.seek(index + 1),
                    None => self.status = Some("no notes yet: a adds one to this step".into()),
                }
            }
            Compare => {
                let Some(beam) = self.beam else {
                    self.status = Some("select a candidate (↑/↓) to compare".into());
                    return;
                };
                match self.marked.take() {
                    Some(first) if first != (self.stage, beam) => {
                        self.comparing = Some((first, (self.stage, beam)));
                    }
                    Some(_) => {}
                    None => {
                        self.marked = Some((self.stage, beam));
                        self.status = Some(format!(
                            "{} candidate {beam} marked: select another and press c",
                            self.stage.name()
                        ));
                    }
                }
            }
            Close => {
                self.comparing = None;
                self.draft = None;
            }
            StartNote => {
                let seq = self.current().map(|e| e.seq);
                let existing = seq.and_then(|s| self.notes.at(s)).map(|n| n.text.clone());
                self.draft = Some(existing.unwrap_or_default());
            }
            NoteChar(c) => {
                if let Some(draft) = &mut self.draft {
                    draft.push(c);
                }
            }
            NoteBackspace => {
                if let Some(draft) = &mut self.draft {
                    draft.pop();
                }
            }
            SaveNote => {
                if let Some(text) = self.draft.take()
                    && let Err(err) = self.save_note(text)
                {
                    self.status = Some(format!("the note was not saved: {err:#}"));
                }
            }
            Quit => self.quit = true,
        }
    }

    fn save_note(&mut self, text: String) -> Result<()> {
        let Some(current) = self.current() else {
            return Ok(());
        };
        let (stage, beam) = step_of(&current.event);
        let note = Note {
            seq: current.seq,
            stage: stage.or(Some(self.stage)),
            beam: beam.or(self.beam),
            text,
        };
        self.notes.set(note)
    }
}

/// The stage and candidate an event is about.
fn step_of(event: &Event) -> (Option<Stage>, Option<Beam>) {
    match event {
        Event::StageStarted { stage }
        | Event::StageFinished { stage, .. }
        | Event::BeamsKept { stage, .. }
        | Event::GateWaiting { stage } => (Some(*stage), None),
        Event::CandidateStarted { stage, beam, .. }
        | Event::Token { stage, beam, .. }
        | Event::CandidateFinished { stage, beam, .. }
        | Event::Scored { stage, beam, .. }
        | Event::ToolCall { stage, beam, .. }
        | Event::ToolResult { stage, beam, .. } => (Some(*stage), Some(*beam)),
        Event::Prompt { stage, beams, .. } => (Some(*stage), beams.first().copied()),
        Event::PatchProposed { beam, .. } => (Some(Stage::Patch), Some(*beam)),
        Event::Located { beam, .. } => (Some(Stage::Localize), Some(*beam)),
        Event::Error { stage, beam, .. } => (*stage, *beam),
        Event::Note { stage, .. } => (*stage, None),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Pruned;

    fn journal() -> Vec<Envelope> {
        let events = vec![
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
            Event::BeamsKept {
                stage: Stage::Understand,
                kept: vec![0],
                pruned: vec![Pruned {
                    beam: 1,
                    reason: "lower score".into(),
                }],
            },
            Event::StageFinished {
                stage: Stage::Understand,
                ok: true,
            },
            Event::StageStarted {
                stage: Stage::Localize,
            },
        ];
        events
            .into_iter()
            .enumerate()
            .map(|(i, event)| Envelope {
                seq: i as u64,
                t_ms: i as u64,
                event,
            })
            .collect()
    }

    #[test]
    fn steps_by_event_and_by_stage() {
        let mut review = Review::new(journal(), Notes::in_memory());
        assert_eq!(review.cursor, 1);
        review.apply(ReviewAction::NextEvent);
        assert_eq!((review.cursor, review.beam), (2, Some(0)));
        review.apply(ReviewAction::NextStage);
        assert_eq!(review.cursor, 5, "the end of understand");
        review.apply(ReviewAction::NextStage);
        assert_eq!(review.cursor, 6, "no more stage ends: the end");
        assert_eq!(review.stage, Stage::Localize);
        review.apply(ReviewAction::PreviousStage);
        assert_eq!(review.cursor, 5);
        review.apply(ReviewAction::PreviousEvent);
        assert_eq!(review.state.events, 4, "stepping back folds again");
        review.apply(ReviewAction::Start);
        assert_eq!(review.cursor, 1);
    }

    #[test]
    fn compares_two_candidates_and_notes_a_step() {
        let mut review = Review::new(journal(), Notes::in_memory());
        review.apply(ReviewAction::NextStage);
        assert_eq!(review.stage, Stage::Understand);
        review.apply(ReviewAction::ShowStage(true));
        assert_eq!(review.stage, Stage::Localize);
        review.apply(ReviewAction::ShowStage(false));
        review.apply(ReviewAction::Candidate(true));
        assert_eq!(review.beam, Some(0));
        review.apply(ReviewAction::Compare);
        review.apply(ReviewAction::Candidate(true));
        review.apply(ReviewAction::Compare);
        assert_eq!(
            review.comparing,
            Some(((Stage::Understand, 0), (Stage::Understand, 1)))
        );
        assert_eq!(review.mode(), Mode::Comparing);
        review.apply(ReviewAction::Close);
        review.apply(ReviewAction::StartNote);
        for c in "why?".chars() {
            review.apply(ReviewAction::NoteChar(c));
        }
        review.apply(ReviewAction::NoteBackspace);
        review.apply(ReviewAction::SaveNote);
        let note = review.notes.at(4).expect("a note on the stage's end");
        assert_eq!(note.text, "why");
        assert_eq!(note.stage, Some(Stage::Understand));
        review.apply(ReviewAction::Start);
        review.apply(ReviewAction::NextNote);
        assert_eq!(review.cursor, 5, "to the noted step");
    }
}
