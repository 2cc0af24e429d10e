//! The verification pane: which reproduction tests reproduce the issue on the original code, a
//! row per patch with its results on the patched code, the ranking, evolution's progress, and
//! the verdict.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::pane;
use crate::event::{Beam, Outcome, TestKind, TestOutcome, TestRunState, Tree};
use crate::tui::app::App;
use crate::tui::theme::Theme;

fn mark(ok: bool, theme: &Theme) -> Span<'static> {
    if ok {
        Span::styled("✓", theme.style("pass"))
    } else {
        Span::styled("✗", theme.style("fail"))
    }
}

fn word(outcome: TestOutcome) -> &'static str {
    match outcome {
        TestOutcome::Reproduced => "reproduces",
        TestOutcome::Resolved => "resolved",
        TestOutcome::OtherIssues => "other issues",
        TestOutcome::Passed => "pass",
        TestOutcome::Failed => "fail",
        TestOutcome::Timeout => "timeout",
    }
}

/// The pane's lines.
pub fn lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let tests = &app.state.tests;
    let mut lines = Vec::new();
    let original: Vec<&TestRunState> = tests
        .iter()
        .filter(|t| t.tree == Tree::Original && t.test == TestKind::Repro)
        .collect();
    if !original.is_empty() {
        let mut spans = vec![Span::styled(" original  ", theme.style("text"))];
        for run in &original {
            let ok = run.outcome == TestOutcome::Reproduced;
            spans.push(Span::styled(
                format!("repro #{} ", run.beam),
                theme.style("muted"),
            ));
            spans.push(mark(ok, theme));
            spans.push(Span::styled(
                format!(" {}  ", word(run.outcome)),
                theme.style(if ok { "pass" } else { "fail" }),
            ));
        }
        if let Some(run) = tests
            .iter()
            .find(|t| t.tree == Tree::Original && t.test == TestKind::Regression)
        {
            spans.push(Span::styled("tests ", theme.style("muted")));
            spans.push(mark(run.outcome == TestOutcome::Passed, theme));
        }
        lines.push(Line::from(spans));
    }
    let mut patched: Vec<Beam> = Vec::new();
    for run in tests.iter().filter(|t| t.tree == Tree::Patched) {
        if !patched.contains(&run.beam) {
            patched.push(run.beam);
        }
    }
    for beam in patched {
        let patch = app.state.patches.iter().find(|p| p.beam == beam);
        let mut spans = vec![Span::styled(
            format!(" patch #{beam:<2} "),
            theme.style("text"),
        )];
        for run in tests
            .iter()
            .filter(|t| t.tree == Tree::Patched && t.beam == beam)
        {
            match run.test {
                TestKind::Repro => {
                    let ok = run.outcome == TestOutcome::Resolved;
                    spans.push(Span::styled(
                        format!("repro #{} ", run.repro.unwrap_or(0)),
                        theme.style("muted"),
                    ));
                    spans.push(mark(ok, theme));
                    spans.push(Span::styled(
                        format!(" {}  ", word(run.outcome)),
                        theme.style(if ok { "pass" } else { "fail" }),
                    ));
                }
                TestKind::Regression => {
                    spans.push(Span::styled("tests ", theme.style("muted")));
                    spans.push(mark(run.outcome == TestOutcome::Passed, theme));
                    spans.push(Span::raw("  "));
                }
            }
        }
        if let Some(patch) = patch
            && patch.votes > 1
        {
            spans.push(Span::styled(
                format!("×{} votes", patch.votes),
                theme.style("key"),
            ));
        }
        lines.push(Line::from(spans));
    }
    for (generation, best, mean) in &app.state.generations {
        lines.push(Line::styled(
            format!(" generation {generation}: best {best:.2}, mean {mean:.2}"),
            theme.style("text"),
        ));
    }
    if !app.state.ranking.is_empty() {
        let mut spans = vec![Span::styled(" ranked    ", theme.style("text"))];
        for (i, entry) in app.state.ranking.iter().enumerate() {
            spans.push(Span::styled(
                format!("{}. #{} ", i + 1, entry.beam),
                theme.style("title"),
            ));
            spans.push(mark(entry.verified, theme));
            spans.push(Span::styled(
                format!(
                    " orm {}{}  ",
                    entry
                        .score
                        .map_or_else(|| "unscored".to_string(), |s| format!("{s:.2}")),
                    if entry.votes > 1 {
                        format!(" ×{}", entry.votes)
                    } else {
                        String::new()
                    }
                ),
                theme.style("muted"),
            ));
        }
        lines.push(Line::from(spans));
    }
    match &app.state.outcome {
        Some(Outcome::Verified { beam }) => lines.push(Line::styled(
            format!(" verified: patch #{beam} fixes the issue"),
            theme.style("pass"),
        )),
        Some(Outcome::Unverified { reason }) => lines.push(Line::styled(
            format!(" not verified: {reason}"),
            theme.style("fail"),
        )),
        Some(Outcome::Failed { reason }) => lines.push(Line::styled(
            format!(" failed: {reason}"),
            theme.style("fail"),
        )),
        Some(Outcome::Aborted) => lines.push(Line::styled(" aborted", theme.style("fail"))),
        Some(Outcome::Stopped { after }) => lines.push(Line::styled(
            format!(" stopped after the {} stage, as asked", after.name()),
            theme.style("muted"),
        )),
        None => {}
    }
    lines
}

/// Rows the pane needs in `area`'s width (borders included), at most half its height.
pub fn height(app: &App, theme: &Theme, area: Rect) -> u16 {
    let inner = usize::from(area.width.saturating_sub(2).max(1));
    let rows: usize = lines(app, theme)
        .iter()
        .map(|line| line.width().div_ceil(inner).max(1))
        .sum();
    (rows.max(1) as u16 + 2).min(area.height / 2)
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut lines = lines(app, theme);
    if lines.is_empty() {
        lines.push(Line::styled(" no tests run yet", theme.style("muted")));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(pane(" verification ".to_string(), theme)),
        area,
    );
}
