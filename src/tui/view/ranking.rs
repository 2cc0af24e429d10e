//! The ranking view: verified patches by outcome reward with their votes, a chart of tokens per
//! stage (thinking beside answering) and, in evolution, best and mean score per generation.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Bar, BarChart, BarGroup, Chart, Dataset, GraphType, Paragraph};

use super::pane;
use super::text::{bar, score_role};
use crate::event::Stage;
use crate::tui::app::App;
use crate::tui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let ranked = (app.state.ranking.len() as u16).max(1) + 3;
    let [table, charts] = Layout::vertical([
        Constraint::Length(ranked.min(area.height / 2)),
        Constraint::Min(6),
    ])
    .areas(area);
    render_table(frame, table, app, theme);
    if app.state.generations.is_empty() {
        render_tokens(frame, charts, app, theme);
    } else {
        let [tokens, generations] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(charts);
        render_tokens(frame, tokens, app, theme);
        render_generations(frame, generations, app, theme);
    }
}

fn render_table(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut lines = vec![Line::from(Span::styled(
        " #  patch   orm              votes  verified  prm",
        theme.style("muted"),
    ))];
    if app.state.ranking.is_empty() {
        lines.push(Line::styled(" nothing ranked yet", theme.style("muted")));
    }
    let patch = app.state.stage(Stage::Patch);
    for (i, entry) in app.state.ranking.iter().enumerate() {
        let prm = patch
            .get(entry.beam)
            .and_then(|c| c.score)
            .map_or_else(|| "  · ".to_string(), |s| format!("{s:.2}"));
        lines.push(Line::from(vec![
            Span::styled(format!(" {:<2} ", i + 1), theme.style("text")),
            Span::styled(format!("#{:<6}", entry.beam), theme.style("title")),
            match entry.score {
                Some(score) => Span::styled(
                    format!("{} {score:.2}", bar(score, 10)),
                    theme.style(score_role(score)),
                ),
                None => Span::styled("unscored       ", theme.style("muted")),
            },
            Span::styled(format!("  ×{:<4}", entry.votes), theme.style("text")),
            if entry.verified {
                Span::styled("✓ yes     ", theme.style("pass"))
            } else {
                Span::styled("✗ no      ", theme.style("fail"))
            },
            Span::styled(prm, theme.style("muted")),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(pane(" ranking · outcome reward ".to_string(), theme)),
        area,
    );
}

fn render_tokens(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let groups: Vec<BarGroup> = Stage::ALL
        .into_iter()
        .map(|stage| {
            let s = app.state.stage(stage);
            BarGroup::new([
                Bar::with_label("think", u64::from(s.think_tokens()))
                    .style(theme.style("think.bar")),
                Bar::with_label("answer", u64::from(s.answer_tokens()))
                    .style(theme.style("answer.bar")),
            ])
            .label(Line::from(stage.name()).centered())
        })
        .collect();
    // Eight bars, three gaps between stages: as wide as the pane allows, within reason.
    let inner = area.width.saturating_sub(2);
    let bar_width = (inner.saturating_sub(3 * 3 + 4) / 8).clamp(3, 12);
    let mut chart = BarChart::default()
        .block(pane(
            " tokens per stage · think | answer ".to_string(),
            theme,
        ))
        .bar_width(bar_width)
        .bar_gap(1)
        .group_gap(3)
        .value_style(theme.style("chart.value"))
        .label_style(theme.style("muted"));
    for group in groups {
        chart = chart.data(group);
    }
    frame.render_widget(chart, area);
}

fn render_generations(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let best: Vec<(f64, f64)> = app
        .state
        .generations
        .iter()
        .map(|(g, b, _)| (f64::from(*g), *b))
        .collect();
    let mean: Vec<(f64, f64)> = app
        .state
        .generations
        .iter()
        .map(|(g, _, m)| (f64::from(*g), *m))
        .collect();
    let last = best.last().map_or(1.0, |(g, _)| g.max(1.0));
    let chart = Chart::new(vec![
        Dataset::default()
            .name("best")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.style("score.high"))
            .data(&best),
        Dataset::default()
            .name("mean")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.style("score.mid"))
            .data(&mean),
    ])
    .block(pane(" score per generation ".to_string(), theme))
    .x_axis(
        Axis::default()
            .title("generation")
            .style(theme.style("muted"))
            .bounds([0.0, last])
            .labels(["0".to_string(), format!("{last}")]),
    )
    .y_axis(
        Axis::default()
            .style(theme.style("muted"))
            .bounds([0.0, 1.0])
            .labels(["0", "0.5", "1"]),
    );
    frame.render_widget(chart, area);
}
