//! The review's keys: a pure function from a key press, in a mode, to an action.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What the review is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Browsing,
    /// Two candidates side by side.
    Comparing,
    /// Typing a note.
    Noting,
}

/// What a key asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewAction {
    NextEvent,
    PreviousEvent,
    /// To the end of the next stage (or the session).
    NextStage,
    /// To the end of the previous stage (or the start).
    PreviousStage,
    Start,
    End,
    /// Shows another stage's candidates without moving in time.
    ShowStage(bool),
    /// Selects the next (true) or previous candidate of the shown stage.
    Candidate(bool),
    ToggleThinking,
    /// To the next step that has a note (from the start after the last).
    NextNote,
    /// Marks the selected candidate for comparison; with one marked, compares the two.
    Compare,
    Close,
    StartNote,
    NoteChar(char),
    NoteBackspace,
    SaveNote,
    Quit,
}

/// The action of `key` in `mode`, if it has one.
pub fn action(mode: Mode, key: KeyEvent) -> Option<ReviewAction> {
    use ReviewAction::*;
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Quit);
    }
    if mode == Mode::Noting {
        return match key.code {
            KeyCode::Enter => Some(SaveNote),
            KeyCode::Esc => Some(Close),
            KeyCode::Backspace => Some(NoteBackspace),
            KeyCode::Char(c) => Some(NoteChar(c)),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Right | KeyCode::Char('l') => NextEvent,
        KeyCode::Left | KeyCode::Char('h') => PreviousEvent,
        KeyCode::Char(']') | KeyCode::PageDown => NextStage,
        KeyCode::Char('[') | KeyCode::PageUp => PreviousStage,
        KeyCode::Home | KeyCode::Char('g') => Start,
        KeyCode::End | KeyCode::Char('G') => End,
        KeyCode::Tab => ShowStage(true),
        KeyCode::BackTab => ShowStage(false),
        KeyCode::Down | KeyCode::Char('j') => Candidate(true),
        KeyCode::Up | KeyCode::Char('k') => Candidate(false),
        KeyCode::Char('t') => ToggleThinking,
        KeyCode::Char('n') => NextNote,
        KeyCode::Char('c') => Compare,
        KeyCode::Char('a') => StartNote,
        KeyCode::Esc => Close,
        KeyCode::Char('q') if mode == Mode::Comparing => Close,
        KeyCode::Char('q') => Quit,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn browsing_keys_move_in_time_and_between_candidates() {
        let b = Mode::Browsing;
        assert_eq!(
            action(b, key(KeyCode::Right)),
            Some(ReviewAction::NextEvent)
        );
        assert_eq!(
            action(b, key(KeyCode::Char('h'))),
            Some(ReviewAction::PreviousEvent)
        );
        assert_eq!(
            action(b, key(KeyCode::Char(']'))),
            Some(ReviewAction::NextStage)
        );
        assert_eq!(
            action(b, key(KeyCode::PageUp)),
            Some(ReviewAction::PreviousStage)
        );
        assert_eq!(
            action(b, key(KeyCode::Down)),
            Some(ReviewAction::Candidate(true))
        );
        assert_eq!(
            action(b, key(KeyCode::Tab)),
            Some(ReviewAction::ShowStage(true))
        );
        assert_eq!(
            action(b, key(KeyCode::Char('c'))),
            Some(ReviewAction::Compare)
        );
        assert_eq!(
            action(b, key(KeyCode::Char('a'))),
            Some(ReviewAction::StartNote)
        );
        assert_eq!(
            action(b, key(KeyCode::Char('n'))),
            Some(ReviewAction::NextNote)
        );
        assert_eq!(action(b, key(KeyCode::Char('q'))), Some(ReviewAction::Quit));
        assert_eq!(action(b, key(KeyCode::Char('z'))), None);
    }

    #[test]
    fn typing_a_note_takes_every_letter() {
        let n = Mode::Noting;
        assert_eq!(
            action(n, key(KeyCode::Char('q'))),
            Some(ReviewAction::NoteChar('q'))
        );
        assert_eq!(
            action(n, key(KeyCode::Char(']'))),
            Some(ReviewAction::NoteChar(']'))
        );
        assert_eq!(action(n, key(KeyCode::Enter)), Some(ReviewAction::SaveNote));
        assert_eq!(action(n, key(KeyCode::Esc)), Some(ReviewAction::Close));
        assert_eq!(
            action(n, key(KeyCode::Backspace)),
            Some(ReviewAction::NoteBackspace)
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action(n, ctrl_c), Some(ReviewAction::Quit));
    }

    #[test]
    fn q_closes_a_comparison_before_it_quits() {
        assert_eq!(
            action(Mode::Comparing, key(KeyCode::Char('q'))),
            Some(ReviewAction::Close)
        );
    }
}
