//! `ponder review`: step through a recorded session event by event and stage by stage, see every
//! candidate (pruned ones included) with its thinking, score and why it was kept or pruned,
//! compare two candidates side by side, and attach notes to any step (saved beside the journal).
//!
//! The screen is the live interface's (`crate::tui::render`) drawn from the state folded up to the
//! review's cursor, with a review panel and a comparison overlay on top; keys are a pure function
//! ([`keys::action`]) and the review's state changes only through [`Review::apply`].

mod cursor;
pub mod keys;
pub mod notes;
mod run;
pub mod view;

pub use cursor::Review;
pub use keys::{Mode, ReviewAction, action};
pub use notes::{Note, Notes};
pub use run::run;
