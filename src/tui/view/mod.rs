//! Drawing: a pure function of the app state, the theme and the clock. One pane per file.

mod beams;
mod code;
mod footer;
mod header;
mod help;
mod overlay;
mod patch;
mod ranking;
mod stream;
mod text;
mod timeline;
mod verification;

pub use timeline::stage_columns;

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{App, Tab};
use super::theme::Theme;

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
    header::render_header(frame, areas.header, app, theme, app.elapsed(live_elapsed));
    timeline::render_timeline(frame, areas.timeline, app, theme);
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
    footer::render_footer(frame, areas.footer, app, theme);
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
