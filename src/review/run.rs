//! The review's terminal loop: read a key, apply its action, draw.

use std::path::Path;

use anyhow::{Result, bail};
use crossterm::event::{self, Event as TermEvent, KeyEventKind};

use super::{Notes, Review, action, view};
use crate::session::read_journal;
use crate::tui::{TerminalGuard, Theme};

/// Reviews the journal at `path` until the user quits.
pub fn run(path: &Path, theme: Theme) -> Result<()> {
    let journal = read_journal(path)?;
    if journal.envelopes.is_empty() {
        bail!("{} holds no events to review", path.display());
    }
    let notes = Notes::load(path)?;
    crate::tui::check_terminal()?;
    let mut review = Review::new(journal.envelopes, notes);
    let mut guard = TerminalGuard::enter()?;
    while !review.quit {
        guard
            .terminal
            .draw(|frame| view::draw(frame, &review, &theme))?;
        if let TermEvent::Key(key) = event::read()?
            && key.kind != KeyEventKind::Release
            && let Some(action) = action(review.mode(), key)
        {
            review.apply(action);
        }
    }
    Ok(())
}
