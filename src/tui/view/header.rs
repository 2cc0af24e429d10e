//! The header line: the issue, the repository, the engine (SCRIPTED when it is), the search, the
//! replay or pause badge, and the session clock.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::render_left_right;
use crate::tui::app::App;
use crate::tui::theme::Theme;

pub(super) fn render_header(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    theme: &Theme,
    elapsed: Duration,
) {
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
