//! What the user sends back to a running pipeline, and the shared state that carries it.
//!
//! The TUI (or headless stdin) turns keys into [`Command`]s; [`Control::send`] records them. The
//! pipeline and engines poll [`Control::checkpoint`] between decode steps, so pause and abort take
//! effect within one step without the UI ever waiting on them; steering (pin, drop, edit, re-roll,
//! gate) is read by the pipeline when it selects a stage's beams.

use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, Mutex};

use serde::{Deserialize, Serialize};

use super::{Beam, Stage};

/// A request from the user to the running pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Pause,
    Resume,
    Abort,
    /// Keep this candidate whatever its score.
    Pin {
        stage: Stage,
        beam: Beam,
    },
    Unpin {
        stage: Stage,
        beam: Beam,
    },
    /// Never keep this candidate.
    Drop {
        stage: Stage,
        beam: Beam,
    },
    /// Replace a candidate's answer; it is scored again and the search goes on from the edit.
    Edit {
        stage: Stage,
        beam: Beam,
        answer: String,
    },
    /// Generate the stage's candidates again (at a gate, or where a stage has no usable
    /// candidate), with new seeds and, if given, another temperature, think budget or number of
    /// candidates.
    Reroll {
        stage: Stage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        temperature: Option<f32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        think_budget: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        n: Option<u32>,
    },
    /// An answer the user wrote: a new candidate of the stage, parsed and scored like the others.
    Answer {
        stage: Stage,
        answer: String,
    },
    /// Wait for the user at every stage boundary (`on`), or stop waiting.
    Gate {
        on: bool,
    },
    /// Go on from a gate.
    Continue,
    /// The user rejects hunk `hunk` (0-based) of patch `beam`: later rounds are told.
    RejectHunk {
        beam: Beam,
        hunk: u32,
    },
}

impl Command {
    /// True for commands that steer the search (recorded in the journal), false for pause/abort.
    pub fn is_steering(&self) -> bool {
        !matches!(self, Command::Pause | Command::Resume | Command::Abort)
    }
}

impl Command {
    /// A plain re-roll of `stage`: new seeds, same settings.
    pub fn reroll(stage: Stage) -> Command {
        Command::Reroll {
            stage,
            temperature: None,
            think_budget: None,
            n: None,
        }
    }
}

/// How a re-roll changes the stage's settings.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RerollOptions {
    pub temperature: Option<f32>,
    pub think_budget: Option<u32>,
    pub n: Option<u32>,
}

/// What the pipeline should do after a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateDecision {
    Continue,
    Reroll,
}

#[derive(Debug, Default)]
struct Flags {
    paused: bool,
    aborted: bool,
    gate: bool,
    /// Set by Continue or Reroll while the pipeline waits at a gate.
    released: Option<GateDecision>,
    pins: HashSet<(Stage, Beam)>,
    drops: HashSet<(Stage, Beam)>,
    edits: HashMap<(Stage, Beam), String>,
    answers: Vec<(Stage, String)>,
    rerolls: HashMap<Stage, RerollOptions>,
    /// Someone can answer when a stage is stuck (an interface, or headless stdin still open).
    steerable: bool,
    rejected_hunks: Vec<(Beam, u32)>,
}

/// Pause/abort and steering state shared between the UI and the pipeline thread.
#[derive(Debug, Default)]
pub struct Control {
    flags: Mutex<Flags>,
    wake: Condvar,
}

/// Returned by [`Control::checkpoint`] when the user aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("aborted by the user")
    }
}

impl std::error::Error for Aborted {}

/// The user's choices about one stage's candidates, taken when the pipeline selects its beams.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Steering {
    pub pins: HashSet<Beam>,
    pub drops: HashSet<Beam>,
    /// Answers replaced by the user, not yet applied.
    pub edits: HashMap<Beam, String>,
    /// Answers the user wrote as new candidates, not yet applied.
    pub answers: Vec<String>,
}

impl Control {
    pub fn new() -> Control {
        Control::default()
    }

    /// Starts with the gate closed at every stage boundary when `gate` is true.
    pub fn with_gate(gate: bool) -> Control {
        let control = Control::default();
        control.lock().gate = gate;
        control
    }

    /// Applies a command and wakes a waiting pipeline.
    pub fn send(&self, command: Command) {
        let mut flags = self.lock();
        match command {
            Command::Pause => flags.paused = true,
            Command::Resume => flags.paused = false,
            Command::Abort => flags.aborted = true,
            Command::Pin { stage, beam } => {
                flags.drops.remove(&(stage, beam));
                flags.pins.insert((stage, beam));
            }
            Command::Unpin { stage, beam } => {
                flags.pins.remove(&(stage, beam));
            }
            Command::Drop { stage, beam } => {
                flags.pins.remove(&(stage, beam));
                flags.drops.insert((stage, beam));
            }
            Command::Edit {
                stage,
                beam,
                answer,
            } => {
                flags.edits.insert((stage, beam), answer);
            }
            Command::Reroll {
                stage,
                temperature,
                think_budget,
                n,
            } => {
                flags.rerolls.insert(
                    stage,
                    RerollOptions {
                        temperature,
                        think_budget,
                        n,
                    },
                );
                flags.released = Some(GateDecision::Reroll);
            }
            Command::Answer { stage, answer } => {
                flags.answers.push((stage, answer));
            }
            Command::Gate { on } => flags.gate = on,
            Command::Continue => flags.released = Some(GateDecision::Continue),
            Command::RejectHunk { beam, hunk } => {
                if !flags.rejected_hunks.contains(&(beam, hunk)) {
                    flags.rejected_hunks.push((beam, hunk));
                }
            }
        }
        self.wake.notify_all();
    }

    pub fn is_paused(&self) -> bool {
        self.lock().paused
    }

    pub fn is_aborted(&self) -> bool {
        self.lock().aborted
    }

    pub fn gate_on(&self) -> bool {
        self.lock().gate
    }

    /// Blocks while paused; fails once aborted. Engines call this between decode steps.
    pub fn checkpoint(&self) -> Result<(), Aborted> {
        let mut flags = self.lock();
        while flags.paused && !flags.aborted {
            flags = self.wake.wait(flags).unwrap_or_else(|e| e.into_inner());
        }
        if flags.aborted { Err(Aborted) } else { Ok(()) }
    }

    /// Closes the gate: forgets any earlier continue. Call it before telling the user the
    /// pipeline waits, so an answer that comes at once is not lost.
    pub fn arm_gate(&self) {
        self.lock().released = None;
    }

    /// Blocks at an armed gate until the user continues or re-rolls (or turns the gate off, or
    /// aborts); returns at once if they already did since [`Control::arm_gate`].
    pub fn wait_at_gate(&self) -> Result<GateDecision, Aborted> {
        let mut flags = self.lock();
        loop {
            if flags.aborted {
                return Err(Aborted);
            }
            if let Some(decision) = flags.released.take() {
                return Ok(decision);
            }
            if !flags.gate {
                return Ok(GateDecision::Continue);
            }
            flags = self.wake.wait(flags).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The user's pins, drops and pending edits for a stage; pending edits are taken.
    pub fn steering(&self, stage: Stage) -> Steering {
        let mut flags = self.lock();
        let of_stage = |set: &HashSet<(Stage, Beam)>| {
            set.iter()
                .filter(|(s, _)| *s == stage)
                .map(|(_, b)| *b)
                .collect()
        };
        let pins = of_stage(&flags.pins);
        let drops = of_stage(&flags.drops);
        let keys: Vec<_> = flags
            .edits
            .keys()
            .filter(|(s, _)| *s == stage)
            .copied()
            .collect();
        let edits = keys
            .into_iter()
            .filter_map(|key| flags.edits.remove(&key).map(|answer| (key.1, answer)))
            .collect();
        let (mine, others): (Vec<_>, Vec<_>) = std::mem::take(&mut flags.answers)
            .into_iter()
            .partition(|(s, _)| *s == stage);
        flags.answers = others;
        let answers = mine.into_iter().map(|(_, a)| a).collect();
        Steering {
            pins,
            drops,
            edits,
            answers,
        }
    }

    /// Says whether someone can answer when a stage is stuck; wakes a pipeline waiting for one.
    pub fn set_steerable(&self, steerable: bool) {
        self.lock().steerable = steerable;
        self.wake.notify_all();
    }

    /// Blocks where a stage has no usable candidate until the user re-rolls, edits, writes an
    /// answer (then continues) or aborts — whatever the gate. `Ok(None)` when nobody can answer.
    pub fn wait_when_stuck(&self) -> Result<Option<GateDecision>, Aborted> {
        let mut flags = self.lock();
        loop {
            if flags.aborted {
                return Err(Aborted);
            }
            if let Some(decision) = flags.released.take() {
                return Ok(Some(decision));
            }
            if !flags.steerable {
                return Ok(None);
            }
            flags = self.wake.wait(flags).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The hunks the user rejected, as (patch beam, hunk index), in the order rejected.
    pub fn rejected_hunks(&self) -> Vec<(Beam, u32)> {
        self.lock().rejected_hunks.clone()
    }

    /// Takes a pending re-roll request for the stage, with how it changes the settings.
    pub fn take_reroll(&self, stage: Stage) -> Option<RerollOptions> {
        self.lock().rerolls.remove(&stage)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Flags> {
        self.flags.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn checkpoint_waits_while_paused_and_fails_after_abort() {
        let control = Arc::new(Control::new());
        control.send(Command::Pause);
        let waiter = {
            let control = control.clone();
            std::thread::spawn(move || control.checkpoint())
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished(), "checkpoint must block while paused");
        control.send(Command::Abort);
        assert_eq!(waiter.join().unwrap(), Err(Aborted));
    }

    #[test]
    fn resume_releases_checkpoint() {
        let control = Control::new();
        control.send(Command::Pause);
        control.send(Command::Resume);
        assert_eq!(control.checkpoint(), Ok(()));
    }

    #[test]
    fn gate_waits_for_continue_or_reroll() {
        let control = Arc::new(Control::with_gate(true));
        let waiter = {
            let control = control.clone();
            std::thread::spawn(move || control.wait_at_gate())
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished(), "the gate must hold");
        control.send(Command::reroll(Stage::Patch));
        assert_eq!(waiter.join().unwrap(), Ok(GateDecision::Reroll));
        assert!(control.take_reroll(Stage::Patch).is_some());
        assert!(control.take_reroll(Stage::Patch).is_none());
        control.send(Command::Gate { on: false });
        assert_eq!(control.wait_at_gate(), Ok(GateDecision::Continue));
    }

    #[test]
    fn a_continue_right_after_the_gate_is_announced_is_not_lost() {
        let control = Control::with_gate(true);
        control.arm_gate();
        // The user answers before the pipeline started waiting.
        control.send(Command::Continue);
        assert_eq!(control.wait_at_gate(), Ok(GateDecision::Continue));
        // A continue from before the next gate does not open it.
        let control = Arc::new(control);
        control.send(Command::Continue);
        control.arm_gate();
        let waiter = {
            let control = control.clone();
            std::thread::spawn(move || control.wait_at_gate())
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished(), "a stale continue opened the gate");
        control.send(Command::Continue);
        assert_eq!(waiter.join().unwrap(), Ok(GateDecision::Continue));
    }

    #[test]
    fn pins_and_drops_exclude_each_other_and_edits_are_taken_once() {
        let control = Control::new();
        control.send(Command::Pin {
            stage: Stage::Localize,
            beam: 1,
        });
        control.send(Command::Drop {
            stage: Stage::Localize,
            beam: 2,
        });
        control.send(Command::Drop {
            stage: Stage::Localize,
            beam: 1,
        });
        control.send(Command::Pin {
            stage: Stage::Patch,
            beam: 0,
        });
        control.send(Command::Edit {
            stage: Stage::Localize,
            beam: 3,
            answer: "x".into(),
        });
        let steering = control.steering(Stage::Localize);
        assert!(steering.pins.is_empty());
        assert_eq!(steering.drops, HashSet::from([1, 2]));
        assert_eq!(steering.edits, HashMap::from([(3, "x".to_string())]));
        assert!(control.steering(Stage::Localize).edits.is_empty());
    }

    #[test]
    fn a_stuck_stage_waits_only_while_someone_can_answer() {
        let control = Arc::new(Control::new());
        // Nobody to ask: no waiting.
        assert_eq!(control.wait_when_stuck(), Ok(None));
        control.set_steerable(true);
        control.arm_gate();
        let waiter = {
            let control = control.clone();
            std::thread::spawn(move || control.wait_when_stuck())
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !waiter.is_finished(),
            "a stuck stage must wait for the user"
        );
        control.send(Command::Answer {
            stage: Stage::Understand,
            answer: "[\"a.py\"]".into(),
        });
        control.send(Command::Continue);
        assert_eq!(waiter.join().unwrap(), Ok(Some(GateDecision::Continue)));
        assert_eq!(control.steering(Stage::Understand).answers, ["[\"a.py\"]"]);
        assert!(control.steering(Stage::Understand).answers.is_empty());
        // Stdin closing while it waits lets it go.
        control.arm_gate();
        let waiter = {
            let control = control.clone();
            std::thread::spawn(move || control.wait_when_stuck())
        };
        std::thread::sleep(Duration::from_millis(50));
        control.set_steerable(false);
        assert_eq!(waiter.join().unwrap(), Ok(None));
    }

    #[test]
    fn a_reroll_carries_its_options() {
        let control = Control::new();
        control.send(Command::Reroll {
            stage: Stage::Localize,
            temperature: Some(1.0),
            think_budget: Some(1024),
            n: None,
        });
        assert_eq!(
            control.take_reroll(Stage::Localize),
            Some(RerollOptions {
                temperature: Some(1.0),
                think_budget: Some(1024),
                n: None
            })
        );
        let parsed: Command =
            serde_json::from_str(r#"{"command":"reroll","stage":"patch"}"#).unwrap();
        assert_eq!(parsed, Command::reroll(Stage::Patch));
    }
}
