//! The stream pane: the shown candidate's thinking (dimmed, foldable) and answer, following the
//! end as tokens arrive until the user scrolls up.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::code::lines_with_code;
use super::pane;
use super::text::{reflow, score_role, wrap_text, wrapped};
use crate::tui::app::App;
use crate::tui::theme::Theme;
use crate::tui::wrap_cache::WrapKey;

/// Lines of a tool's result shown under its call.
const TOOL_LINES: usize = 8;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let stage = app.shown_stage();
    let inner_width = area.width.saturating_sub(2);
    let Some(candidate) = app.shown_candidate() else {
        let text = Paragraph::new(Span::styled(
            format!("waiting for the {} stage…", stage.name()),
            theme.style("muted"),
        ));
        frame.render_widget(text.block(pane(format!(" {} ", stage.name()), theme)), area);
        return;
    };
    let mut title = vec![Span::styled(
        format!(" {} · candidate {} ", stage.name(), candidate.beam),
        theme.style("title"),
    )];
    if let Some(score) = candidate.score {
        title.push(Span::styled("· ", theme.style("muted")));
        title.push(Span::styled(
            format!("prm {score:.2} "),
            theme.style(score_role(score)),
        ));
    }
    if let Some(orm) = candidate.orm {
        title.push(Span::styled(
            format!("orm {orm:.2} "),
            theme.style(score_role(orm)),
        ));
    }
    if candidate.truncated().is_some() {
        title.push(Span::styled(
            "· truncated: the context filled ",
            theme.style("fail"),
        ));
    } else if candidate.forced_answer {
        title.push(Span::styled(
            "· thinking cut at its budget ",
            theme.style("muted"),
        ));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style("border.focus"))
        .title(Line::from(title));

    let mut lines = Vec::new();
    if !candidate.think.is_empty() {
        if app.view.think_folded {
            lines.push(Line::styled(
                format!(
                    "▸ thinking · {} tokens (t to unfold)",
                    candidate.think_tokens
                ),
                theme.style("muted"),
            ));
        } else {
            let key = WrapKey {
                stage,
                beam: candidate.beam,
                width: inner_width,
                len: candidate.think.len(),
            };
            let think = app.wraps.get_or_wrap(key, || {
                wrap_text(&reflow(candidate.think.trim()), inner_width)
            });
            let style = theme.style("think");
            lines.extend(think.iter().map(|l| Line::styled(l.clone(), style)));
        }
        lines.push(Line::default());
    }
    let calls = app
        .state
        .stage(stage)
        .tool_calls
        .iter()
        .filter(|c| c.beam == candidate.beam);
    for call in calls {
        lines.push(Line::styled(
            format!("⚙ {}({})", call.name, call.args),
            theme.style("key"),
        ));
        if let Some((ok, output)) = &call.result {
            let shown: Vec<&str> = output.lines().take(TOOL_LINES).collect();
            let more = output.lines().count().saturating_sub(TOOL_LINES);
            let mut text = shown.join("\n");
            if more > 0 {
                text.push_str(&format!("\n… {more} more lines"));
            }
            let role = if *ok { "muted" } else { "error" };
            lines.extend(wrapped(&text, inner_width, theme.style(role)));
        }
        lines.push(Line::default());
    }
    lines.extend(lines_with_code(
        &candidate.answer,
        inner_width,
        theme.style("answer"),
        theme,
        &app.highlighter,
    ));
    for error in app
        .state
        .errors
        .iter()
        .filter(|e| e.stage == Some(stage) && e.beam == Some(candidate.beam))
    {
        lines.push(Line::default());
        lines.extend(wrapped(
            &format!("✗ {}", error.message),
            inner_width,
            theme.style("error"),
        ));
    }
    let height = area.height.saturating_sub(2) as usize;
    let bottom = lines.len().saturating_sub(height);
    let top = bottom.saturating_sub(app.view.scroll_back as usize);
    let visible: Vec<Line> = lines.into_iter().skip(top).take(height).collect();
    frame.render_widget(Paragraph::new(visible).block(block), area);
}
