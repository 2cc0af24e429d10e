//! The two ends a viewer holds of a running session: the events as they happen, and a handle that
//! sends the user's commands back. They live with [`Event`] and [`Command`] so the screen and
//! headless mode need nothing from the pipeline that produces the events.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::mpsc::UnboundedReceiver;

use super::{Command, Control, Emitter, Envelope, Event, Outcome};

/// A running session: its events as they happen, a handle to steer it, and its thread.
pub struct RunningSession {
    pub events: UnboundedReceiver<Envelope>,
    pub handle: SessionHandle,
    pub thread: JoinHandle<Outcome>,
    pub journal: Option<PathBuf>,
}

/// Sends the user's commands to a running session.
#[derive(Clone)]
pub struct SessionHandle {
    control: Arc<Control>,
    emitter: Arc<Mutex<Emitter>>,
}

impl SessionHandle {
    /// A handle that steers through `control` and records the user's actions with `emitter`.
    pub fn new(control: Arc<Control>, emitter: Arc<Mutex<Emitter>>) -> SessionHandle {
        SessionHandle { control, emitter }
    }

    /// Says whether someone can answer when a stage has no usable candidate (an interface, or
    /// headless stdin still open); without anyone, such a stage ends the session.
    pub fn set_steerable(&self, steerable: bool) {
        self.control.set_steerable(steerable);
    }

    /// Applies a command. Steering is recorded as an event; pause and resume when they change
    /// something; abort shows as the session's outcome.
    pub fn send(&self, command: Command) {
        let was_paused = self.control.is_paused();
        self.control.send(command.clone());
        let event = match command {
            Command::Pause if !was_paused => Event::Paused,
            Command::Resume if was_paused => Event::Resumed,
            Command::Pause | Command::Resume | Command::Abort => return,
            steering => Event::Steered { command: steering },
        };
        Emitter::locked(&self.emitter).emit(event);
    }
}
