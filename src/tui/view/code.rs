//! Answers with their fenced code blocks highlighted: prose is wrapped to the pane, code keeps
//! its lines (cut at the pane's edge) and gets syntax colours for the fence's language.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::text::wrapped;
use crate::tui::highlight::Highlighter;
use crate::tui::theme::Theme;

/// The lines of `text` at `width`: prose in `style`, fenced code highlighted over `style`.
pub fn lines_with_code(
    text: &str,
    width: u16,
    style: Style,
    theme: &Theme,
    highlighter: &Highlighter,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let mut prose = String::new();
    let mut code: Option<(String, Vec<&str>)> = None;
    for line in text.split('\n') {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut code, fence) {
            (None, Some(info)) => {
                out.extend(wrapped(&std::mem::take(&mut prose), width, style));
                out.push(Line::styled(line.to_string(), theme.style("muted")));
                let language = info.split_whitespace().next().unwrap_or("").to_string();
                code = Some((language, Vec::new()));
            }
            (Some(_), Some(_)) => {
                if let Some((language, lines)) = code.take() {
                    out.extend(code_lines(&language, &lines, style, theme, highlighter));
                }
                out.push(Line::styled(line.to_string(), theme.style("muted")));
            }
            (Some((_, lines)), None) => lines.push(line),
            (None, None) => {
                if !prose.is_empty() {
                    prose.push('\n');
                }
                prose.push_str(line);
            }
        }
    }
    // A block still streaming (no closing fence yet) is highlighted as far as it goes.
    if let Some((language, lines)) = code {
        out.extend(code_lines(&language, &lines, style, theme, highlighter));
    }
    if !prose.is_empty() {
        out.extend(wrapped(&prose, width, style));
    }
    out
}

fn code_lines(
    language: &str,
    lines: &[&str],
    style: Style,
    theme: &Theme,
    highlighter: &Highlighter,
) -> Vec<Line<'static>> {
    let block = if language.is_empty() {
        None
    } else {
        highlighter.code(language, lines)
    };
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| match block.as_ref().and_then(|b| b.get(i)) {
            Some(sections) => Line::from(
                sections
                    .iter()
                    .filter_map(|(range, syntax)| {
                        let piece = line.get(range.clone())?;
                        Some(Span::styled(
                            piece.replace('\t', "    "),
                            style.patch(theme.style(syntax.role())),
                        ))
                    })
                    .collect::<Vec<_>>(),
            ),
            None => Line::styled(line.replace('\t', "    "), style),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_keeps_its_lines_and_prose_wraps() {
        let theme = Theme::named("dark").unwrap();
        let text =
            "Some prose that is long enough to wrap here.\n```python\ndef f(): return 1\n```\nend";
        let lines = lines_with_code(text, 20, Style::default(), &theme, &Highlighter::inline());
        let texts: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert!(
            texts.contains(&"def f(): return 1".to_string()),
            "{texts:?}"
        );
        assert!(texts.iter().filter(|t| t.starts_with("```")).count() == 2);
        let code = lines
            .iter()
            .find(|l| l.to_string() == "def f(): return 1")
            .unwrap();
        assert_eq!(code.spans[0].content, "def");
        assert_eq!(code.spans[0].style, theme.style("syntax.keyword"));
        assert!(texts.len() > 5, "the prose wrapped: {texts:?}");
    }
}
