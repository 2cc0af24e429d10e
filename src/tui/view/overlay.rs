//! Overlays drawn over the screen: the command palette and the confirmation of a finishing action.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::tui::app::App;
use crate::tui::finish::Finish;
use crate::tui::palette::{COMMANDS, Palette};
use crate::tui::theme::Theme;

/// A box of at most `width`×`height` centred in `area`.
fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let (width, height) = (width.min(area.width), height.min(area.height));
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

fn framed<'a>(title: String, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style("dialog.border"))
        .title(Span::styled(title, theme.style("title")))
}

/// The palette: the query, then the matching commands with their keys.
pub fn render_palette(frame: &mut Frame, palette: &Palette, theme: &Theme) {
    let matches = palette.matches();
    let area = centred(frame.area(), 64, matches.len() as u16 + 4);
    let mut lines = vec![Line::from(vec![
        Span::styled(" : ", theme.style("key")),
        Span::styled(palette.query.clone(), theme.style("dialog")),
        Span::styled("▏", theme.style("key")),
    ])];
    let rows = usize::from(area.height.saturating_sub(3));
    let first = palette.selected.saturating_sub(rows.saturating_sub(1));
    for (i, m) in matches.iter().enumerate().skip(first).take(rows) {
        let (name, key) = COMMANDS[m.command];
        let mut spans = vec![Span::raw(" ")];
        for (at, c) in name.chars().enumerate() {
            let role = if m.positions.contains(&at) {
                "palette.match"
            } else {
                "dialog"
            };
            spans.push(Span::styled(c.to_string(), theme.style(role)));
        }
        let key = match key {
            crossterm::event::KeyCode::Char(c) => c.to_string(),
            crossterm::event::KeyCode::Tab => "Tab".to_string(),
            other => format!("{other}"),
        };
        spans.push(Span::styled(format!("  {key}"), theme.style("muted")));
        let mut line = Line::from(spans);
        if i == palette.selected {
            line = line.patch_style(theme.style("palette.selected"));
        }
        lines.push(line);
    }
    if matches.is_empty() {
        lines.push(Line::styled(" no command matches", theme.style("muted")));
    }
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).block(framed(
            " commands · type to narrow · Enter runs · Esc closes ".to_string(),
            theme,
        )),
        area,
    );
}

/// The yes/no question before a finishing action.
pub fn render_confirm(frame: &mut Frame, finish: Finish, app: &App, theme: &Theme) {
    let beam = app.shown_patch().map_or(0, |p| p.beam);
    let repo = app
        .state
        .header
        .as_ref()
        .map_or_else(String::new, |h| h.repo.clone());
    let area = centred(frame.area(), 70, 7);
    let lines = vec![
        Line::styled(finish.question(beam, &repo), theme.style("dialog")),
        Line::default(),
        Line::from(vec![
            Span::styled(" y, Enter", theme.style("key")),
            Span::styled(" yes   ", theme.style("muted")),
            Span::styled("n, Esc", theme.style("key")),
            Span::styled(" no", theme.style("muted")),
        ]),
    ];
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(framed(" confirm ".to_string(), theme)),
        area,
    );
}
