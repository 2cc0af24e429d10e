//! The beams pane: the shown stage's candidates with their score bars, states and marks.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane;
use super::text::{bar, score_role};
use crate::event::{CandidateState, CandidateStatus};
use crate::tui::app::App;
use crate::tui::theme::Theme;

/// Rows the pane wants: one per candidate and note, plus borders, within `max`.
pub fn height(app: &App, max: u16) -> u16 {
    let candidates = app.state.stage(app.shown_stage()).candidates.len() as u16;
    (candidates.max(1) + notes(app).count() as u16 + 2).min(max)
}

/// The search's notes about the shown stage.
fn notes(app: &App) -> impl Iterator<Item = &String> {
    let stage = app.shown_stage();
    app.state
        .notes
        .iter()
        .filter(move |(s, _)| *s == Some(stage))
        .map(|(_, message)| message)
}

fn status(candidate: &CandidateState) -> (&'static str, &'static str) {
    match &candidate.status {
        CandidateStatus::Streaming => ("streaming", "stage.running"),
        CandidateStatus::Done => ("done", "text"),
        CandidateStatus::Kept => ("kept", "pass"),
        CandidateStatus::Pruned(_) => ("pruned", "muted"),
        CandidateStatus::Error(_) => ("error", "fail"),
    }
}

/// Who wrote a candidate the model did not: the user, or ponder from the issue's example.
fn author(candidate: &CandidateState) -> Option<&'static str> {
    candidate.notes.iter().find_map(|n| match n.as_str() {
        crate::pipeline::ISSUE_EXAMPLE => Some("issue example"),
        crate::pipeline::USER_ANSWER => Some("yours"),
        _ => None,
    })
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let stage = app.shown_stage();
    let state = app.state.stage(stage);
    let shown = app.shown_candidate().map(|c| c.beam);
    let kept = state
        .candidates
        .iter()
        .filter(|c| c.status == CandidateStatus::Kept)
        .count();
    let count = state.candidates.len();
    let title = format!(
        " {} · {count} candidate{} · {kept} kept ",
        stage.name(),
        if count == 1 { "" } else { "s" }
    );
    let inner_rows = area.height.saturating_sub(2) as usize;
    // Keep the shown candidate in view.
    let position = state
        .candidates
        .iter()
        .position(|c| Some(c.beam) == shown)
        .unwrap_or(0);
    let skip = (position + 1).saturating_sub(inner_rows);
    let lines: Vec<Line> = state
        .candidates
        .iter()
        .skip(skip)
        .take(inner_rows)
        .map(|c| {
            let (word, role) = status(c);
            let selected = Some(c.beam) == shown;
            let mut spans = vec![
                Span::styled(if selected { "▸" } else { " " }, theme.style("key")),
                Span::styled(format!("#{:<2} ", c.beam), theme.style("title")),
            ];
            match c.score {
                Some(score) => {
                    spans.push(Span::styled(bar(score, 6), theme.style(score_role(score))));
                    spans.push(Span::styled(
                        format!(" {score:.2} "),
                        theme.style(score_role(score)),
                    ));
                }
                None => spans.push(Span::styled("   ·      ", theme.style("muted"))),
            }
            spans.push(Span::styled(format!("{word:<10}"), theme.style(role)));
            if c.pinned {
                spans.push(Span::styled("pinned ", theme.style("key")));
            }
            if c.dropped {
                spans.push(Span::styled("dropped ", theme.style("fail")));
            }
            if c.edited {
                spans.push(Span::styled("edited ", theme.style("key")));
            }
            if let Some(author) = author(c) {
                spans.push(Span::styled(format!("{author} "), theme.style("key")));
            }
            spans.push(Span::styled(
                format!("{}+{} tok", c.think_tokens, c.answer_tokens),
                theme.style("muted"),
            ));
            if let Some(parent) = c.parent {
                spans.push(Span::styled(format!(" ← #{parent}"), theme.style("muted")));
            }
            match &c.status {
                CandidateStatus::Pruned(reason) | CandidateStatus::Error(reason) => {
                    spans.push(Span::styled(format!("  {reason}"), theme.style("muted")))
                }
                _ => {}
            }
            let line = Line::from(spans);
            if selected {
                line.patch_style(theme.style("beam.selected"))
            } else {
                line
            }
        })
        .collect();
    let mut lines = if lines.is_empty() {
        vec![Line::styled(
            format!(" waiting for the {} stage…", stage.name()),
            theme.style("muted"),
        )]
    } else {
        lines
    };
    let room = inner_rows.saturating_sub(lines.len());
    let notes: Vec<&String> = notes(app).collect();
    for note in &notes[notes.len().saturating_sub(room)..] {
        lines.push(Line::styled(format!(" · {note}"), theme.style("muted")));
    }
    frame.render_widget(Paragraph::new(lines).block(pane(title, theme)), area);
}
