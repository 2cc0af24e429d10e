//! The one place events are born: numbered, timed, handed to a [`Sink`] (the journal), then to
//! the viewer.
//!
//! Invariant: an event reaches the sink (written and flushed) before any viewer sees it, so a
//! crash never loses something that was shown. Writing belongs to the layer above (the session's
//! journal implements [`Sink`]); events stay plain data.
//!
//! Resuming (`ponder resume`): the pipeline runs again from the start, and while its events
//! re-derive the journal's completed prefix they are checked against it (same kind at the same
//! place) and the *recorded* ones are shown instead, not written again; the user's steering
//! recorded there is handed to the pipeline at the same place. Index progress is not checked:
//! a resumed run may find more of the index cached than the recorded one did, or a journal may
//! predate the event; recorded progress is shown, the re-derived one dropped. Past the prefix the
//! emitter is live again: numbering and session time continue from the journal.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;

use super::{Command, Control, Envelope, Event};

/// Where the emitter records each event before anyone sees it (the journal).
pub trait Sink: Send {
    /// Writes one event durably; an error is reported once and recording stops being promised.
    fn append(&mut self, envelope: &Envelope) -> anyhow::Result<()>;
}

/// Stamps events with sequence and time, appends them to the journal and forwards them.
pub struct Emitter {
    start: Instant,
    seq: u64,
    /// Added to session time (the recorded time of a resumed session's prefix).
    t_offset: u64,
    journal: Option<Box<dyn Sink>>,
    tx: Option<UnboundedSender<Envelope>>,
    journal_error: Option<String>,
    replay: Option<Replay>,
    /// A resumed run went another way than its journal: only its end is still shown.
    diverged: bool,
}

/// The journal prefix a resumed session re-derives.
pub struct Replay {
    /// The recorded events.
    pub prefix: Arc<[Envelope]>,
    /// How far the pipeline has re-derived them (the next event's place), shared with the engine
    /// that answers from the journal.
    pub cursor: Arc<AtomicUsize>,
    /// Where recorded steering goes.
    pub control: Arc<Control>,
}

impl Emitter {
    /// An emitter that records to `journal` (if any) and forwards to `tx` (if any).
    pub fn new(journal: Option<Box<dyn Sink>>, tx: Option<UnboundedSender<Envelope>>) -> Emitter {
        Emitter {
            start: Instant::now(),
            seq: 0,
            t_offset: 0,
            journal,
            tx,
            journal_error: None,
            replay: None,
            diverged: false,
        }
    }

    /// An emitter for a resumed session: `replay.prefix` is already in `journal`.
    pub fn resuming(
        journal: Option<Box<dyn Sink>>,
        tx: Option<UnboundedSender<Envelope>>,
        replay: Replay,
    ) -> Emitter {
        let mut emitter = Emitter::new(journal, tx);
        emitter.replay = Some(replay);
        emitter
    }

    /// The emitter behind `shared`, also when a thread panicked while holding it (an emitter
    /// is never left half-updated: each event is stamped and sent in one call).
    pub fn locked(shared: &Mutex<Emitter>) -> MutexGuard<'_, Emitter> {
        shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stamps `event`, records it, then forwards it to the viewer.
    pub fn emit(&mut self, event: Event) {
        if self.replaying() {
            self.rederive(event);
            return;
        }
        if self.diverged && !matches!(event, Event::SessionFinished { .. }) {
            return;
        }
        let envelope = Envelope {
            seq: self.seq,
            t_ms: self.t_offset + self.start.elapsed().as_millis() as u64,
            event,
        };
        self.seq += 1;
        if let Some(journal) = &mut self.journal
            && let Err(err) = journal.append(&envelope)
            && self.journal_error.is_none()
        {
            // Keep going: losing the journal must not lose the fix. Report it once.
            let message =
                format!("journal write failed, the session is no longer recorded: {err:#}");
            self.journal_error = Some(message.clone());
            self.forward(Envelope {
                seq: envelope.seq,
                t_ms: envelope.t_ms,
                event: Event::Error {
                    stage: None,
                    beam: None,
                    message,
                },
            });
        }
        self.forward(envelope);
    }

    fn replaying(&self) -> bool {
        self.replay
            .as_ref()
            .is_some_and(|r| (self.seq as usize) < r.prefix.len())
    }

    /// Matches a re-derived event with the recorded one and shows the recorded one.
    fn rederive(&mut self, event: Event) {
        if matches!(event, Event::IndexProgress { .. }) {
            return;
        }
        self.skip_recorded_progress();
        if !self.replaying() {
            self.emit(event);
            return;
        }
        let Some(replay) = &self.replay else { return };
        let index = self.seq as usize;
        let recorded = &replay.prefix[index];
        if std::mem::discriminant(&recorded.event) != std::mem::discriminant(&event) {
            // The run went another way (the repository, prompts or engine changed): stop here,
            // and write nothing, so the journal stays the consistent prefix it was.
            let message = format!(
                "cannot resume: event {index} of the journal was {}, but the resumed run produced \
                 {}; the repository, prompts or engine differ from the recorded session's",
                kind(&recorded.event),
                kind(&event)
            );
            replay.control.send(Command::Abort);
            self.journal = None;
            let envelope = Envelope {
                seq: self.seq,
                t_ms: recorded.t_ms,
                event: Event::Error {
                    stage: None,
                    beam: None,
                    message,
                },
            };
            self.replay = None;
            self.diverged = true;
            self.seq += 1;
            self.forward(envelope);
            if matches!(event, Event::SessionFinished { .. }) {
                self.emit(event);
            }
            return;
        }
        let recorded = recorded.clone();
        self.seq += 1;
        self.forward(recorded);
        // The user's steering recorded right after this event is given to the pipeline now.
        while let Some(replay) = &self.replay
            && let Some(next) = replay.prefix.get(self.seq as usize)
            && is_user_event(&next.event)
        {
            if let Event::Steered { command } = &next.event {
                replay.control.send(command.clone());
            }
            let next = next.clone();
            self.seq += 1;
            self.forward(next);
        }
        if let Some(replay) = &self.replay {
            replay.cursor.store(self.seq as usize, Ordering::SeqCst);
            if self.seq as usize == replay.prefix.len() {
                // Live from here: time goes on from the recorded session's.
                self.t_offset = replay.prefix.last().map_or(0, |e| e.t_ms);
                self.start = Instant::now();
            }
        }
    }

    /// Shows the recorded index progress at the replay's place, which nothing re-derives.
    fn skip_recorded_progress(&mut self) {
        while let Some(replay) = &self.replay
            && let Some(next) = replay.prefix.get(self.seq as usize)
            && matches!(next.event, Event::IndexProgress { .. })
        {
            let next = next.clone();
            self.seq += 1;
            self.forward(next);
            if let Some(replay) = &self.replay
                && self.seq as usize == replay.prefix.len()
            {
                replay.cursor.store(self.seq as usize, Ordering::SeqCst);
                self.t_offset = replay.prefix.last().map_or(0, |e| e.t_ms);
                self.start = Instant::now();
            }
        }
    }

    fn forward(&self, envelope: Envelope) {
        if let Some(tx) = &self.tx {
            // A closed receiver means the viewer has gone; the journal still has everything.
            let _ = tx.send(envelope);
        }
    }
}

/// Events the user's actions cause (not the pipeline): interleaved anywhere.
pub fn is_user_event(event: &Event) -> bool {
    matches!(
        event,
        Event::Steered { .. } | Event::Paused | Event::Resumed
    )
}

/// An event's kind as the journal names it.
fn kind(event: &Event) -> String {
    serde_json::to_value(event)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_else(|| "an unknown event".into())
}
