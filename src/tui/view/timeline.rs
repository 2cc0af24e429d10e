//! The timeline line: the four stages with their status, candidates and tokens, the shown stage's
//! context meter, and the session's verdict; and which columns each stage's name takes, for the
//! mouse.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::render_left_right;
use crate::event::{Outcome, Stage, StageStatus};
use crate::tui::app::App;
use crate::tui::theme::Theme;

fn stage_glyph(status: StageStatus) -> (&'static str, &'static str) {
    match status {
        StageStatus::Pending => ("○", "stage.pending"),
        StageStatus::Running => ("◐", "stage.running"),
        StageStatus::Done => ("●", "stage.done"),
        StageStatus::Failed => ("✗", "stage.failed"),
    }
}

/// The timeline's spans, and the columns (from the area's left) each stage's name takes.
fn timeline(
    app: &App,
    theme: &Theme,
    width: u16,
) -> (Vec<Span<'static>>, Vec<(std::ops::Range<u16>, Stage)>) {
    let shown = app.shown_stage();
    let mut spans = vec![Span::raw(" ")];
    let mut columns = Vec::new();
    let mut x = 1u16;
    for (i, stage) in Stage::ALL.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" → ", theme.style("muted")));
            x += 3;
        }
        let state = app.state.stage(stage);
        let (glyph, role) = stage_glyph(state.status);
        let mut style = theme.style(role);
        if stage == shown {
            style = style.patch(theme.style("stage.selected"));
        }
        let name = format!("{glyph} {}", stage.name());
        let w = name.chars().count() as u16;
        columns.push((x..x + w, stage));
        x += w;
        spans.push(Span::styled(name, style));
        if state.status != StageStatus::Pending && width >= 100 {
            let counts = format!(
                " {}c {}+{}",
                state.candidates.len(),
                state.think_tokens(),
                state.answer_tokens()
            );
            x += counts.chars().count() as u16;
            spans.push(Span::styled(counts, theme.style("muted")));
        }
    }
    (spans, columns)
}

/// The columns of the timeline each stage's name takes.
pub fn stage_columns(area: Rect, app: &App, theme: &Theme) -> Vec<(std::ops::Range<u16>, Stage)> {
    timeline(app, theme, area.width)
        .1
        .into_iter()
        .map(|(r, s)| (r.start + area.x..r.end + area.x, s))
        .collect()
}

pub(super) fn render_timeline(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let (spans, _) = timeline(app, theme, area.width);
    let stuck = app
        .state
        .gate
        .is_some_and(|s| app.state.stage(s).stuck.is_some());
    let (verdict, role) = match &app.state.outcome {
        None if stuck => ("needs you".to_string(), "fail"),
        None if app.state.gate.is_some() => ("at the gate".to_string(), "badge.paused"),
        None if app.state.paused => ("paused".to_string(), "badge.paused"),
        None => ("running".to_string(), "stage.running"),
        Some(Outcome::Verified { .. }) => ("✓ verified".to_string(), "pass"),
        Some(Outcome::Unverified { .. }) => ("✗ not verified".to_string(), "fail"),
        Some(Outcome::Failed { .. }) => ("✗ failed".to_string(), "fail"),
        Some(Outcome::Aborted) => ("aborted".to_string(), "fail"),
        Some(Outcome::Stopped { after }) => (format!("stopped after {}", after.name()), "muted"),
    };
    let verdict = Span::styled(format!(" {verdict} "), theme.style(role));
    let mut right = loading_bar(app, theme);
    right.extend(indexing(app, theme));
    right.extend(context_meter(app, theme, area.width));
    right.push(verdict);
    render_left_right(frame, area, Line::from(spans), Line::from(right));
}

/// Tokens in thousands, one decimal below 10k: `850`, `3.2k`, `32k`.
fn kilo(tokens: u32) -> String {
    match tokens {
        0..1_000 => tokens.to_string(),
        1_000..10_000 => format!("{:.1}k", f64::from(tokens) / 1000.0),
        _ => format!("{}k", tokens / 1000),
    }
}

/// The model's weights loading in the background: a bar and the share loaded.
fn loading_bar(app: &App, theme: &Theme) -> Vec<Span<'static>> {
    let Some(fraction) = app.view.loading else {
        return Vec::new();
    };
    const CELLS: usize = 10;
    let full = ((fraction.clamp(0.0, 1.0) * CELLS as f32).round() as usize).min(CELLS);
    vec![
        Span::styled(" loading model ", theme.style("muted")),
        Span::styled("▰".repeat(full), theme.style("meter")),
        Span::styled("▱".repeat(CELLS - full), theme.style("muted")),
        Span::styled(
            format!(" {:>3.0}% ", fraction * 100.0),
            theme.style("muted"),
        ),
    ]
}

/// While the repository is being indexed: files done of all, and how many came from the cache.
fn indexing(app: &App, theme: &Theme) -> Vec<Span<'static>> {
    let Some(indexing) = app.state.indexing.filter(|i| i.is_running()) else {
        return Vec::new();
    };
    let mut text = format!(" indexing {}/{} files", indexing.done, indexing.total);
    if indexing.reused > 0 {
        text.push_str(&format!(", {} cached", indexing.reused));
    }
    text.push(' ');
    vec![Span::styled(text, theme.style("muted"))]
}

/// The shown stage's context use: its largest request's shared prompt plus its candidates'
/// tokens, against the engine's context when the engine says how large it is; then the share of
/// the stage's prompt tokens that came from the engine's cache, when it reported any.
fn context_meter(app: &App, theme: &Theme, width: u16) -> Vec<Span<'static>> {
    let Some(used) = app.state.stage(app.shown_stage()).context_used() else {
        return Vec::new();
    };
    let limit = app.state.header.as_ref().and_then(|h| h.engine.context);
    let mut spans = vec![Span::styled(" ctx ", theme.style("muted"))];
    match limit {
        Some(limit) if limit > 0 => {
            let fraction = (f64::from(used) / f64::from(limit)).min(1.0);
            if width >= 100 {
                const CELLS: usize = 8;
                let full = (fraction * CELLS as f64).round() as usize;
                let role = if fraction > 0.9 { "fail" } else { "meter" };
                spans.push(Span::styled("▰".repeat(full), theme.style(role)));
                spans.push(Span::styled("▱".repeat(CELLS - full), theme.style("muted")));
                spans.push(Span::raw(" "));
            }
            spans.push(Span::styled(
                format!("{}/{} ", kilo(used), kilo(limit)),
                theme.style("muted"),
            ));
        }
        _ => spans.push(Span::styled(
            format!("{} tok ", kilo(used)),
            theme.style("muted"),
        )),
    }
    // How much of the stage's prompts the engine's cache held (not decoded again).
    let (prompt, cached) = app.state.stage(app.shown_stage()).prompt_tokens();
    if cached > 0 && prompt > 0 && width >= 80 {
        spans.push(Span::styled(
            format!("· {}% cached ", cached * 100 / prompt),
            theme.style("muted"),
        ));
    }
    spans
}
