//! The `?` overlay: every key, in one place.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::pane;
use crate::tui::theme::Theme;

/// Every key the interface answers to, with what it does.
pub const KEYS: &[(&str, &str)] = &[
    ("q, Esc, Ctrl-C", "quit (stops a running session)"),
    ("←/→, h/l", "show the previous / next stage"),
    ("↑/↓, j/k", "select a candidate of the stage"),
    ("PgUp/PgDn, Ctrl-u/d", "scroll the stream"),
    ("End, G", "back to the end of the stream"),
    ("f", "follow the running stage and its best candidate"),
    ("t", "fold / unfold the thinking"),
    ("+", "pin the candidate: keep it whatever its score"),
    ("-", "drop the candidate: never keep it"),
    ("e", "edit the candidate's answer in $EDITOR"),
    ("Tab, 1-4", "next tab / tab: beams, diff, verify, rank"),
    ("d", "open / close the diff"),
    (
        "diff: ↑/↓ PgUp/PgDn",
        "scroll the diff (Home / End: top / bottom)",
    ),
    ("s", "diff unified / side by side"),
    ("n, N", "select the next / previous hunk of the patch"),
    ("a", "accept the selected hunk (toggle)"),
    ("x", "reject the selected hunk: later rounds are told"),
    ("g", "gate: wait at every stage boundary (toggle)"),
    ("c, Enter", "continue from a gate"),
    ("r", "re-roll the stage at a gate (new seeds)"),
    ("R", "re-roll at a gate: hotter, twice the thinking"),
    ("w", "write the stage's answer yourself (at a gate)"),
    ("p, Space", "pause / resume the session (or the replay)"),
    ("[ / ]", "replay: slower / faster"),
    (
        "< / >",
        "replay: back to the previous / on to the next stage",
    ),
    ("Home", "replay: from the start"),
    (":", "command palette: every command by name"),
    (
        "W / A / C",
        "finish: write the patch to a file / apply it / commit it",
    ),
    ("mouse", "click a stage, tab or candidate; wheel scrolls"),
    ("?", "this help"),
];

pub fn render_help(frame: &mut Frame, scroll: u16, theme: &Theme) {
    let area = frame.area();
    let width = 78.min(area.width).max(1);
    let height = (KEYS.len() as u16 + 2).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let rows = usize::from(height.saturating_sub(2));
    let first = usize::from(scroll).min(KEYS.len().saturating_sub(rows));
    let lines: Vec<Line> = KEYS
        .iter()
        .skip(first)
        .take(rows)
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!(" {key:<22}"), theme.style("key")),
                Span::styled(*what, theme.style("text")),
            ])
        })
        .collect();
    let title = if rows < KEYS.len() {
        format!(
            " keys {}-{} of {} · ↑/↓ scroll · any other key closes ",
            first + 1,
            first + lines.len(),
            KEYS.len()
        )
    } else {
        " keys · any key closes ".to_string()
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(pane(title, theme)), popup);
}
