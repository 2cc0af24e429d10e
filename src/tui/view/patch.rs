//! The patch pane: the shown patch as a diff, unified or side by side, syntax-highlighted by file
//! type with word-level emphasis laid over the syntax colours. Only the rows on screen are built,
//! and only their hunks are highlighted.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane;
use crate::tui::app::App;
use crate::tui::diff::{DiffLine, DiffModel, LineKind, Row, Side};
use crate::tui::highlight::{Block, Highlighter};
use crate::tui::syntax::{Sections, Syntax};
use crate::tui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(patch) = app.shown_patch() else {
        frame.render_widget(
            Paragraph::new(Span::styled("no patch yet", theme.style("muted")))
                .block(pane(" patch ".to_string(), theme)),
            area,
        );
        return;
    };
    let (id, model) = app.highlighter.model(&patch.diff);
    let sbs = app.view.side_by_side;
    let mut title = format!(
        " patch #{} · {} · {} hunk{} · {} ",
        patch.beam,
        patch.files.join(", "),
        model.hunks.len(),
        if model.hunks.len() == 1 { "" } else { "s" },
        if sbs { "side by side" } else { "unified" }
    );
    if patch.votes > 1 {
        title.push_str(&format!("· {} votes ", patch.votes));
    }
    if !patch.matching.is_empty() && patch.matching != "exact" {
        title.push_str(&format!("· {} match ", patch.matching));
    }
    let block = pane(title, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = model.rows(sbs);
    let height = usize::from(inner.height);
    let top = app.view.diff_scroll.min(rows.len().saturating_sub(height));
    let visible = &rows[top..(top + height).min(rows.len())];
    let painter = Painter {
        model: &model,
        id,
        highlighter: &app.highlighter,
        theme,
    };
    let hunk_mark = |h: usize| HunkMark {
        selected: app.view.hunk == Some(h),
        rejected: patch.rejected.contains(&(h as u32)),
        accepted: app.view.accepted.contains(&(patch.beam, h)),
    };
    if sbs {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(inner);
        let (mut lefts, mut rights) = (Vec::new(), Vec::new());
        for row in visible {
            match *row {
                Row::Pair { hunk, left, right } => {
                    lefts.push(painter.side_line(hunk, left, Side::Old));
                    rights.push(painter.side_line(hunk, right, Side::New));
                }
                Row::HunkHeader(h) => {
                    let (l, r) = painter.hunk_header_split(h, hunk_mark(h), left.width);
                    lefts.push(l);
                    rights.push(r);
                }
                other => {
                    lefts.push(painter.row(other, &hunk_mark));
                    rights.push(Line::default());
                }
            }
        }
        frame.render_widget(Paragraph::new(lefts), left);
        frame.render_widget(Paragraph::new(rights), right);
    } else {
        let lines: Vec<Line> = visible
            .iter()
            .map(|r| painter.row(*r, &hunk_mark))
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

/// What the user decided about a hunk, and whether it is selected.
struct HunkMark {
    selected: bool,
    rejected: bool,
    accepted: bool,
}

struct Painter<'a> {
    model: &'a DiffModel,
    id: u64,
    highlighter: &'a Highlighter,
    theme: &'a Theme,
}

impl Painter<'_> {
    fn row(&self, row: Row, mark: &dyn Fn(usize) -> HunkMark) -> Line<'static> {
        match row {
            Row::File(f) => Line::from(vec![
                Span::styled("▌ ", self.theme.style("diff.hunk")),
                Span::styled(self.model.files[f].clone(), self.theme.style("diff.header")),
            ]),
            Row::HunkHeader(h) => self.hunk_header(h, mark(h)),
            Row::Line { hunk, line } => {
                let l = &self.model.hunks[hunk].lines[line];
                let mut spans = vec![Span::styled(
                    format!("{} {} ", number(l.old_no), number(l.new_no)),
                    self.theme.style("muted"),
                )];
                spans.extend(self.content(hunk, l));
                Line::from(spans)
            }
            Row::Pair { .. } => Line::default(),
        }
    }

    fn hunk_header(&self, h: usize, mark: HunkMark) -> Line<'static> {
        let mut spans = vec![Span::styled(
            format!(
                "{}{}",
                if mark.selected { "▶ " } else { "" },
                self.model.hunks[h].header
            ),
            self.theme.style("diff.hunk"),
        )];
        if mark.rejected {
            spans.push(Span::styled("  ✗ rejected", self.theme.style("fail")));
        } else if mark.accepted {
            spans.push(Span::styled("  ✓ accepted", self.theme.style("pass")));
        }
        Line::from(spans)
    }

    /// A hunk header cut in two at the left column's width.
    fn hunk_header_split(
        &self,
        h: usize,
        mark: HunkMark,
        width: u16,
    ) -> (Line<'static>, Line<'static>) {
        let line = self.hunk_header(h, mark);
        let mut left = Vec::new();
        let mut right = Vec::new();
        let mut used = 0usize;
        for span in line.spans {
            let w = span.width();
            if used + w <= usize::from(width) {
                used += w;
                left.push(span);
            } else {
                right.push(span);
            }
        }
        (Line::from(left), Line::from(right))
    }

    /// One side of a side-by-side row.
    fn side_line(&self, hunk: usize, line: Option<usize>, side: Side) -> Line<'static> {
        let Some(l) = line.map(|i| &self.model.hunks[hunk].lines[i]) else {
            return Line::styled("", self.theme.style("diff.blank"));
        };
        let no = match side {
            Side::Old => l.old_no,
            Side::New => l.new_no,
        };
        let mut spans = vec![Span::styled(
            format!("{} ", number(no)),
            self.theme.style("muted"),
        )];
        spans.extend(self.content(hunk, l));
        Line::from(spans)
    }

    /// The sign and the text of a line: syntax colours, then the change's emphasis over them.
    fn content(&self, hunk: usize, line: &DiffLine) -> Vec<Span<'static>> {
        let (sign, sign_role, base_role, emphasis_role, side) = match line.kind {
            LineKind::Context => (" ", "text", "text", "text", Side::New),
            LineKind::Removed => (
                "-",
                "diff.remove",
                "diff.remove.line",
                "diff.remove.emphasis",
                Side::Old,
            ),
            LineKind::Added => (
                "+",
                "diff.add",
                "diff.add.line",
                "diff.add.emphasis",
                Side::New,
            ),
        };
        let base = self.theme.style(base_role);
        let mut spans = vec![Span::styled(sign, self.theme.style(sign_role).patch(base))];
        let block: Option<Block> = self.highlighter.block(self.id, self.model, hunk, side);
        let plain: Sections = vec![(0..line.text.len(), Syntax::Plain)];
        let sections = block
            .as_ref()
            .and_then(|b| b.get(line.side_index))
            .unwrap_or(&plain);
        let emphasis = self.theme.style(emphasis_role);
        for (text, syntax, emphasised) in superimpose(&line.text, sections, &line.emphasis) {
            let mut style: Style = base.patch(self.theme.style(syntax.role()));
            if emphasised {
                style = style.patch(emphasis);
            }
            spans.push(Span::styled(text.replace('\t', "    "), style));
        }
        spans
    }
}

fn number(no: Option<u32>) -> String {
    no.map_or_else(|| "    ".to_string(), |n| format!("{n:>4}"))
}

/// Cuts `text` at every boundary of the syntax sections and the emphasis ranges: each piece with
/// its syntax class and whether it is emphasised.
pub fn superimpose<'t>(
    text: &'t str,
    sections: &Sections,
    emphasis: &[std::ops::Range<usize>],
) -> Vec<(&'t str, Syntax, bool)> {
    let mut cuts: Vec<usize> = vec![0, text.len()];
    for (range, _) in sections {
        cuts.extend([range.start, range.end]);
    }
    for range in emphasis {
        cuts.extend([range.start, range.end]);
    }
    cuts.retain(|&c| c <= text.len() && text.is_char_boundary(c));
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .map(|w| {
            let (start, end) = (w[0], w[1]);
            let syntax = sections
                .iter()
                .find(|(r, _)| r.start <= start && start < r.end)
                .map_or(Syntax::Plain, |(_, s)| *s);
            let emphasised = emphasis.iter().any(|r| r.start <= start && start < r.end);
            (&text[start..end], syntax, emphasised)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emphasis_cuts_syntax_sections() {
        let sections = vec![(0..3, Syntax::Keyword), (3..10, Syntax::Plain)];
        let emphasis = [std::ops::Range { start: 4, end: 8 }];
        let pieces = superimpose("def load()", &sections, &emphasis);
        assert_eq!(
            pieces,
            vec![
                ("def", Syntax::Keyword, false),
                (" ", Syntax::Plain, false),
                ("load", Syntax::Plain, true),
                ("()", Syntax::Plain, false),
            ]
        );
    }
}
