//! Drawing: a pure function of the app state, the theme and the clock. One pane per file.

mod beams;
mod code;
mod help;
mod overlay;
mod patch;
mod ranking;
mod stream;
mod text;
mod verification;

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{App, Tab};
use super::theme::Theme;
use crate::event::{Outcome, Stage, StageStatus};

/// Terminals at least this wide show every pane at once on the overview; narrower ones fold the
/// diff, the verification and the ranking into tabs.
pub const WIDE: u16 = 120;

/// Where each part of the screen is, for drawing and for mouse clicks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub timeline: Rect,
    pub tabs: Rect,
    pub footer: Rect,
    pub beams: Option<Rect>,
    pub stream: Option<Rect>,
    pub diff: Option<Rect>,
    pub tests: Option<Rect>,
    pub rank: Option<Rect>,
}

/// Lays the screen out for the app's tab and the terminal's size.
pub fn layout(area: Rect, app: &App, theme: &Theme) -> Areas {
    let [header, timeline, tabs, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut areas = Areas {
        header,
        timeline,
        tabs,
        footer,
        ..Areas::default()
    };
    match app.view.tab {
        Tab::Overview if body.width >= WIDE => {
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                    .areas(body);
            let [list, stream] = Layout::vertical([
                Constraint::Length(beams::height(app, left.height / 3)),
                Constraint::Min(3),
            ])
            .areas(left);
            let [diff, tests] = Layout::vertical([
                Constraint::Min(3),
                Constraint::Length(verification::height(app, theme, right)),
            ])
            .areas(right);
            areas.beams = Some(list);
            areas.stream = Some(stream);
            areas.diff = Some(diff);
            areas.tests = Some(tests);
        }
        Tab::Overview => {
            let [list, stream] = Layout::vertical([
                Constraint::Length(beams::height(app, body.height / 3)),
                Constraint::Min(3),
            ])
            .areas(body);
            areas.beams = Some(list);
            areas.stream = Some(stream);
        }
        Tab::Diff => areas.diff = Some(body),
        Tab::Verify => areas.tests = Some(body),
        Tab::Rank => areas.rank = Some(body),
    }
    areas
}

/// Draws the whole screen.
pub fn render(frame: &mut Frame, app: &App, theme: &Theme, live_elapsed: Duration) {
    app.highlighter.begin_frame();
    let areas = layout(frame.area(), app, theme);
    render_header(frame, areas.header, app, theme, app.elapsed(live_elapsed));
    render_timeline(frame, areas.timeline, app, theme);
    render_tabs(frame, areas.tabs, app, theme);
    if let Some(area) = areas.beams {
        beams::render(frame, area, app, theme);
    }
    if let Some(area) = areas.stream {
        stream::render(frame, area, app, theme);
    }
    if let Some(area) = areas.diff {
        patch::render(frame, area, app, theme);
    }
    if let Some(area) = areas.tests {
        verification::render(frame, area, app, theme);
    }
    if let Some(area) = areas.rank {
        ranking::render(frame, area, app, theme);
    }
    render_footer(frame, areas.footer, app, theme);
    if app.view.show_help {
        help::render_help(frame, app.view.help_scroll, theme);
    }
    if let Some(palette) = &app.view.palette {
        overlay::render_palette(frame, palette, theme);
    }
    if let Some(finish) = app.view.confirm {
        overlay::render_confirm(frame, finish, app, theme);
    }
}

/// The tab bar: every tab, the shown one marked, and the key that cycles them.
fn render_tabs(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = vec![Span::raw(" ")];
    for (i, tab) in Tab::ALL.into_iter().enumerate() {
        let role = if tab == app.view.tab {
            "tab.selected"
        } else {
            "tab"
        };
        spans.push(Span::styled(
            format!(" {} {} ", i + 1, tab.name()),
            theme.style(role),
        ));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled(" Tab", theme.style("key")));
    spans.push(Span::styled(" next", theme.style("muted")));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The columns of the tab bar each tab takes.
pub fn tab_columns(area: Rect) -> Vec<(std::ops::Range<u16>, Tab)> {
    let mut x = area.x + 1;
    Tab::ALL
        .into_iter()
        .enumerate()
        .map(|(i, tab)| {
            let width = format!(" {} {} ", i + 1, tab.name()).chars().count() as u16;
            let range = x..x + width;
            x += width + 1;
            (range, tab)
        })
        .collect()
}

/// A bordered pane with a title.
fn pane<'a>(title: String, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style("border"))
        .title(Span::styled(title, theme.style("title")))
}

/// Draws `left` and, right-aligned, `right`; `left` is cut short rather than covering `right`.
fn render_left_right(frame: &mut Frame, area: Rect, left: Line, right: Line) {
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right.width() as u16)])
            .areas(area);
    frame.render_widget(Paragraph::new(left), left_area);
    frame.render_widget(
        Paragraph::new(right).alignment(Alignment::Right),
        right_area,
    );
}

fn render_header(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, elapsed: Duration) {
    let mut spans = vec![Span::styled(" ponder ", theme.style("title"))];
    if let Some(header) = &app.state.header {
        let repo = std::path::Path::new(&header.repo)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| header.repo.clone());
        spans.push(Span::styled(
            header.issue.title.clone(),
            theme.style("text"),
        ));
        spans.push(Span::styled(format!("  {repo}  "), theme.style("muted")));
        if header.engine.scripted {
            spans.push(Span::styled(" SCRIPTED ", theme.style("badge.scripted")));
            if area.width >= 120 {
                spans.push(Span::styled(
                    " responses are scripted, not a model ",
                    theme.style("muted"),
                ));
            }
        } else {
            spans.push(Span::styled(
                header.engine.description.clone(),
                theme.style("muted"),
            ));
            if let Some(device) = &header.engine.device {
                spans.push(Span::styled(format!(" on {device}"), theme.style("muted")));
            }
            if let Some(reasoning) = &header.reasoning {
                let thinks = match (reasoning.thinks, reasoning.brief) {
                    (true, true) => "brief",
                    (true, false) => "on",
                    (false, _) => "off",
                };
                let how = match reasoning.mode {
                    crate::event::ThinkMode::Auto => format!(" · think {thinks} (auto)"),
                    _ => format!(" · think {thinks}"),
                };
                spans.push(Span::styled(how, theme.style("muted")));
            }
        }
        let search = &header.settings.search;
        let how = match search.strategy {
            crate::event::SearchStrategy::Beam => format!(" budget {} ", search.budget),
            crate::event::SearchStrategy::Evolve => {
                format!(" evolve {}×{} ", search.generations, search.population)
            }
        };
        spans.push(Span::styled(how, theme.style("muted")));
    }
    if let Some(replay) = &app.view.replay {
        spans.push(Span::styled(
            format!(
                " REPLAY {}× {}",
                replay.speed,
                if replay.paused { "paused " } else { "" }
            ),
            theme.style("badge.replay"),
        ));
        spans.push(Span::styled(
            format!(" {}/{} events ", replay.played, replay.total),
            theme.style("muted"),
        ));
    } else if app.state.paused {
        spans.push(Span::styled(" PAUSED ", theme.style("badge.paused")));
    }
    let secs = elapsed.as_secs();
    let clock = Span::styled(
        format!(" {}:{:02} ", secs / 60, secs % 60),
        theme.style("muted"),
    );
    render_left_right(frame, area, Line::from(spans), Line::from(clock));
}

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

fn render_timeline(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
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
    right.extend(context_meter(app, theme, area.width));
    right.push(verdict);
    render_left_right(frame, area, Line::from(spans), Line::from(right));
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

/// Tokens in thousands, one decimal below 10k: `850`, `3.2k`, `32k`.
fn kilo(tokens: u32) -> String {
    match tokens {
        0..1_000 => tokens.to_string(),
        1_000..10_000 => format!("{:.1}k", f64::from(tokens) / 1000.0),
        _ => format!("{}k", tokens / 1000),
    }
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

fn render_footer(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
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
