//! Terminal setup and teardown as a matched pair: raw mode and the alternate screen are entered by
//! [`TerminalGuard::enter`] (with mouse capture) and restored on drop and from the panic hook.

use std::io::{Stdout, stdout};

use anyhow::{Context, Result};
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Owns the terminal while the interface runs; restores it when dropped.
pub struct TerminalGuard {
    pub terminal: Term,
}

impl TerminalGuard {
    pub fn enter() -> Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode().context("cannot put the terminal in raw mode")?;
        let mut out = stdout();
        if let Err(err) = execute!(out, EnterAlternateScreen, EnableMouseCapture) {
            restore();
            return Err(err).context("cannot switch to the alternate screen");
        }
        let mut terminal = Terminal::new(CrosstermBackend::new(out)).inspect_err(|_| restore())?;
        terminal.hide_cursor()?;
        terminal.clear()?;
        Ok(TerminalGuard { terminal })
    }
}

impl TerminalGuard {
    /// Hands the terminal to another program (an editor) and takes it back afterwards.
    pub fn suspended<T>(&mut self, run: impl FnOnce() -> T) -> Result<T> {
        restore();
        let out = run();
        enable_raw_mode().context("cannot put the terminal back in raw mode")?;
        execute!(stdout(), EnterAlternateScreen, EnableMouseCapture)
            .context("cannot return to the alternate screen")?;
        self.terminal.hide_cursor()?;
        self.terminal.clear()?;
        Ok(out)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
        let _ = self.terminal.show_cursor();
    }
}

/// Leaves the alternate screen and raw mode; safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
