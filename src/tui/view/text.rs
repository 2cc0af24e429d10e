//! Text helpers shared by the panes: wrapping, prose reflow, score bars.

use ratatui::style::Style;
use ratatui::text::Line;

/// Wraps text to `width` columns, keeping blank lines, each line in `style`.
pub fn wrapped(text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    wrap_text(text, width)
        .into_iter()
        .map(|line| Line::styled(line, style))
        .collect()
}

/// Wraps text to `width` columns, keeping blank lines (as empty strings).
pub fn wrap_text(text: &str, width: u16) -> Vec<String> {
    let width = usize::from(width.max(1));
    let mut lines = Vec::new();
    for line in text.split('\n') {
        if line.trim().is_empty() {
            lines.push(String::new());
            continue;
        }
        for piece in textwrap::wrap(line, textwrap::Options::new(width).break_words(true)) {
            lines.push(piece.into_owned());
        }
    }
    lines
}

/// Joins hard-wrapped prose lines into paragraphs, as markdown does with soft line breaks; lines
/// that look like code, lists or headings, and everything inside code fences, stay as they are.
pub fn reflow(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut paragraph = String::new();
    let mut in_fence = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let fence = trimmed.starts_with("```");
        let numbered = trimmed
            .split_once(['.', ')'])
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        let structural = in_fence
            || fence
            || trimmed.is_empty()
            || line.starts_with([' ', '\t'])
            || trimmed.starts_with(['-', '*', '#', '>', '|'])
            || numbered;
        if structural {
            if !paragraph.is_empty() {
                out.push(std::mem::take(&mut paragraph));
            }
            out.push(line.to_string());
            in_fence ^= fence;
        } else {
            if !paragraph.is_empty() {
                paragraph.push(' ');
            }
            paragraph.push_str(line.trim_end());
        }
    }
    if !paragraph.is_empty() {
        out.push(paragraph);
    }
    out.join("\n")
}

/// The theme role for a score.
pub fn score_role(score: f64) -> &'static str {
    if score >= 0.7 {
        "score.high"
    } else if score >= 0.4 {
        "score.mid"
    } else {
        "score.low"
    }
}

/// A bar of `width` cells filled in eighths for a score in [0, 1].
pub fn bar(score: f64, width: usize) -> String {
    const EIGHTHS: [char; 9] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    let eighths = (score.clamp(0.0, 1.0) * (width * 8) as f64).round() as usize;
    (0..width)
        .map(|cell| EIGHTHS[eighths.saturating_sub(cell * 8).min(8)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflow_joins_prose_and_keeps_structure() {
        let text = "First line\nsame paragraph.\n\n- a list\n- item\n```\ncode\nmore code\n```\n1. step\n    indented";
        assert_eq!(
            reflow(text),
            "First line same paragraph.\n\n- a list\n- item\n```\ncode\nmore code\n```\n1. step\n    indented"
        );
    }

    #[test]
    fn bars_fill_in_eighths() {
        assert_eq!(bar(0.0, 4), "    ");
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(0.5, 4), "██  ");
        assert_eq!(bar(0.57, 2), "█▏");
    }
}
