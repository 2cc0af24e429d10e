//! The footer line: a status message, or the keys that matter in the current mode.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::app::{App, Tab};
use crate::tui::theme::Theme;

pub(super) fn render_footer(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if let Some(status) = &app.view.status {
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!(" {status}"),
                theme.style(if app.view.status_ok { "pass" } else { "error" }),
            )),
            area,
        );
        return;
    }
    let hints: &[(&str, &str)] = if app.view.tab == Tab::Diff {
        &[
            ("↑/↓", "scroll"),
            ("n/N", "hunk"),
            ("s", "side by side"),
            ("a/x", "accept/reject"),
            ("d", "close"),
            (":", "commands"),
            ("?", "help"),
        ]
    } else if app.view.replay.is_some() {
        &[
            ("q", "quit"),
            ("space", "pause"),
            ("[/]", "slower/faster"),
            ("</>", "stage back/on"),
            ("Home", "restart"),
            ("←/→ ↑/↓", "look around"),
            ("?", "help"),
        ]
    } else if app
        .state
        .gate
        .is_some_and(|s| app.state.stage(s).stuck.is_some())
    {
        &[
            ("r", "re-roll"),
            ("R", "re-roll hotter, thinking longer"),
            ("e", "edit an answer"),
            ("w", "write the answer"),
            ("q", "quit"),
        ]
    } else if app.state.gate.is_some() {
        &[
            ("c", "continue"),
            ("r", "re-roll"),
            ("+", "pin"),
            ("-", "drop"),
            ("e", "edit"),
            ("↑/↓", "candidate"),
            ("?", "help"),
        ]
    } else if app.state.is_finished() {
        &[
            ("q", "quit"),
            ("←/→", "stage"),
            ("↑/↓", "candidate"),
            ("d", "diff"),
            ("Tab", "tabs"),
            ("t", "thinking"),
            ("?", "help"),
        ]
    } else {
        &[
            ("q", "quit"),
            ("←/→", "stage"),
            ("↑/↓", "candidate"),
            ("+/-", "pin/drop"),
            ("g", "gate"),
            ("p", "pause"),
            ("?", "help"),
        ]
    };
    let mut spans = vec![Span::raw(" ")];
    if let Some(stage) = app.state.gate {
        let (text, role) = match &app.state.stage(stage).stuck {
            Some(reason) => (format!(" {reason} "), "fail"),
            None => (
                format!(" waiting at the {} gate ", stage.name()),
                "badge.paused",
            ),
        };
        spans.push(Span::styled(text, theme.style(role)));
        spans.push(Span::raw("  "));
    }
    for (key, what) in hints {
        spans.push(Span::styled(*key, theme.style("key")));
        spans.push(Span::styled(format!(" {what}   "), theme.style("muted")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
