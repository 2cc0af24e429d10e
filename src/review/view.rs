//! Drawing a review: the interface's own screen for the folded state, a review panel at the
//! bottom (the step, the candidate's score and fate, its note), and two candidates side by side.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::Review;
use crate::event::{Beam, CandidateStatus, Stage};
use crate::tui::{App, Theme, ViewState, render};

/// Lines of the review panel.
const PANEL: u16 = 5;

/// Draws the whole review screen.
pub fn draw(frame: &mut Frame, review: &Review, theme: &Theme) {
    let app = App {
        state: review.state.clone(),
        view: ViewState {
            selected: Some(review.stage),
            beam: review.beam,
            think_folded: review.think_folded,
            ..ViewState::default()
        },
        ..App::new()
    };
    render(frame, &app, theme, Duration::ZERO);
    let area = frame.area();
    let panel = Rect {
        y: area.y + area.height.saturating_sub(PANEL),
        height: PANEL.min(area.height),
        ..area
    };
    frame.render_widget(Clear, panel);
    frame.render_widget(
        Paragraph::new(panel_lines(review, theme)).block(
            Block::default()
                .borders(Borders::TOP)
                .border_style(theme.style("border"))
                .title(Span::styled(" REVIEW ", theme.style("title"))),
        ),
        panel,
    );
    if let Some((a, b)) = review.comparing {
        let body = Rect {
            y: area.y + 2,
            height: area.height.saturating_sub(2 + PANEL),
            ..area
        };
        frame.render_widget(Clear, body);
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(body);
        frame.render_widget(side(review, a, theme), left);
        frame.render_widget(side(review, b, theme), right);
    }
}

/// The panel: where we are, the candidate shown and why it was kept or pruned, its note, keys.
fn panel_lines<'a>(review: &'a Review, theme: &Theme) -> Vec<Line<'a>> {
    let (seq, kind) = review
        .current()
        .map(|e| {
            let kind = serde_json::to_value(&e.event)
                .ok()
                .and_then(|v| v["kind"].as_str().map(str::to_string))
                .unwrap_or_default();
            (e.seq, kind)
        })
        .unwrap_or((0, String::new()));
    let mut lines = vec![Line::from(format!(
        "step {}/{} · {kind} · {} stage{}",
        review.cursor,
        review.len(),
        review.stage.name(),
        review
            .marked
            .map(|(s, b)| format!(" · marked: {} {b}", s.name()))
            .unwrap_or_default()
    ))];
    lines.push(Line::from(candidate_line(review)));
    let note = match (&review.draft, review.notes.at(seq)) {
        (Some(draft), _) => Line::from(vec![
            Span::styled("note> ", theme.style("title")),
            Span::raw(draft.clone()),
            Span::raw("▏"),
        ]),
        (None, Some(note)) => Line::from(vec![
            Span::styled("note: ", theme.style("title")),
            Span::raw(note.text.clone()),
        ]),
        (None, None) => match &review.status {
            Some(status) => Line::from(status.clone()),
            None => Line::from(format!(
                "{} note(s) in this session",
                review.notes.notes.len()
            )),
        },
    };
    lines.push(note);
    lines.push(Line::styled(
        "←/→ event  [/] stage  ↑/↓ candidate  tab stage shown  c compare  a note  n next note  t thinking  q quit",
        theme.style("muted"),
    ));
    lines
}

fn candidate_line(review: &Review) -> String {
    let Some(beam) = review.beam else {
        return "no candidate selected (↑/↓)".into();
    };
    let Some(candidate) = review.state.stage(review.stage).get(beam) else {
        return format!("candidate {beam} has not started at this step");
    };
    let score = candidate
        .score
        .map_or("unscored".to_string(), |s| format!("score {s:.2}"));
    let fate = match &candidate.status {
        CandidateStatus::Streaming => "streaming".to_string(),
        CandidateStatus::Done => "finished, not yet selected".to_string(),
        CandidateStatus::Kept => {
            if candidate.pinned {
                "kept (pinned by the user)".to_string()
            } else {
                "kept: among the best scores".to_string()
            }
        }
        CandidateStatus::Pruned(reason) => format!("pruned: {reason}"),
        CandidateStatus::Error(error) => format!("unusable: {error}"),
    };
    format!(
        "{} candidate {beam}{} · {score} · {fate} · {} thinking tokens",
        review.stage.name(),
        candidate
            .parent
            .map(|p| format!(" (from {p})"))
            .unwrap_or_default(),
        candidate.think_tokens
    )
}

/// One side of a comparison: the patch for patch candidates, else the answer; then the thinking.
fn side<'a>(review: &'a Review, (stage, beam): (Stage, Beam), theme: &Theme) -> Paragraph<'a> {
    let candidate = review.state.stage(stage).get(beam);
    let patch = (stage == Stage::Patch)
        .then(|| {
            review
                .state
                .patches
                .iter()
                .find(|p| p.beam == beam || p.merged.contains(&beam))
        })
        .flatten();
    let mut lines: Vec<Line> = Vec::new();
    match (patch, candidate) {
        (Some(patch), _) => lines.extend(patch.diff.lines().map(|l| {
            let role = if l.starts_with('+') && !l.starts_with("+++") {
                "diff.add"
            } else if l.starts_with('-') && !l.starts_with("---") {
                "diff.remove"
            } else {
                "answer"
            };
            Line::styled(l.to_string(), theme.style(role))
        })),
        (None, Some(c)) => lines.extend(
            c.answer
                .lines()
                .map(|l| Line::styled(l.to_string(), theme.style("answer"))),
        ),
        (None, None) => lines.push(Line::from("(not started at this step)")),
    }
    if let Some(c) = candidate
        && !c.think.is_empty()
    {
        lines.push(Line::from(""));
        lines.extend(
            c.think
                .lines()
                .map(|l| Line::styled(l.to_string(), theme.style("think"))),
        );
    }
    let score = candidate
        .and_then(|c| c.score)
        .map_or(String::new(), |s| format!(" · {s:.2}"));
    Paragraph::new(lines).wrap(Wrap { trim: false }).block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(theme.style("border"))
            .title(Span::styled(
                format!(" {} {beam}{score} ", stage.name()),
                theme.style("title"),
            )),
    )
}
