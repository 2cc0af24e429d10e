//! Syntax classes of lines of code, from syntect: scopes are mapped to [`Syntax`] classes, which
//! the theme styles (`syntax.keyword`, `syntax.string`…), so 16-colour, light and `NO_COLOR`
//! terminals work too. Consecutive lines are parsed as one block, so parser state (an open
//! comment, a string) carries across them. Blocks too big to be worth it are left plain.

use std::ops::Range;
use std::sync::OnceLock;

use syntect::parsing::{ParseState, Scope, ScopeStack, SyntaxSet};

/// A class of syntax, styled by the theme role [`Syntax::role`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Plain,
    Comment,
    String,
    Number,
    Constant,
    Keyword,
    Function,
    Type,
}

impl Syntax {
    pub fn role(self) -> &'static str {
        match self {
            Syntax::Plain => "syntax",
            Syntax::Comment => "syntax.comment",
            Syntax::String => "syntax.string",
            Syntax::Number => "syntax.number",
            Syntax::Constant => "syntax.constant",
            Syntax::Keyword => "syntax.keyword",
            Syntax::Function => "syntax.function",
            Syntax::Type => "syntax.type",
        }
    }
}

/// One highlighted line: byte ranges of its text and their class.
pub type Sections = Vec<(Range<usize>, Syntax)>;
/// Blocks with more lines, or a line longer than this, are shown plain.
const MAX_BLOCK_LINES: usize = 5_000;
const MAX_LINE_LEN: usize = 2_000;

fn syntax_set() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

/// Scope prefixes and their class, most specific first.
fn classes() -> &'static [(Scope, Syntax)] {
    static CLASSES: OnceLock<Vec<(Scope, Syntax)>> = OnceLock::new();
    CLASSES.get_or_init(|| {
        [
            ("comment", Syntax::Comment),
            ("punctuation.definition.comment", Syntax::Comment),
            ("string", Syntax::String),
            ("constant.character.escape", Syntax::String),
            ("constant.numeric", Syntax::Number),
            ("constant", Syntax::Constant),
            ("variable.language", Syntax::Constant),
            ("entity.name.function", Syntax::Function),
            ("support.function", Syntax::Function),
            ("variable.function", Syntax::Function),
            ("entity.name", Syntax::Type),
            ("support.type", Syntax::Type),
            ("support.class", Syntax::Type),
            ("entity.other.inherited-class", Syntax::Type),
            ("storage.type", Syntax::Keyword),
            ("storage", Syntax::Keyword),
            ("keyword.operator", Syntax::Plain),
            ("keyword", Syntax::Keyword),
        ]
        .into_iter()
        .filter_map(|(name, class)| Some((Scope::new(name).ok()?, class)))
        .collect()
    })
}

fn class_of(stack: &ScopeStack) -> Syntax {
    for scope in stack.as_slice().iter().rev() {
        if let Some((_, class)) = classes().iter().find(|(p, _)| p.is_prefix_of(*scope)) {
            return *class;
        }
    }
    Syntax::Plain
}

/// Highlights consecutive lines of a file with this extension (or language name, as code fences
/// give it); plain when syntect knows no
/// syntax for it, the block is too big, or parsing fails.
pub fn highlight_lines<S: AsRef<str>>(extension: &str, lines: &[S]) -> Vec<Sections> {
    let plain = || {
        lines
            .iter()
            .map(|l| vec![(0..l.as_ref().len(), Syntax::Plain)])
            .collect()
    };
    let set = syntax_set();
    let Some(syntax) = set.find_syntax_by_token(extension) else {
        return plain();
    };
    if lines.len() > MAX_BLOCK_LINES || lines.iter().any(|l| l.as_ref().len() > MAX_LINE_LEN) {
        return plain();
    }
    let mut state = ParseState::new(syntax);
    let mut stack = ScopeStack::new();
    let mut out = Vec::with_capacity(lines.len());
    let mut buffer = String::new();
    for line in lines {
        let line = line.as_ref();
        buffer.clear();
        buffer.push_str(line);
        buffer.push('\n');
        let Ok(ops) = state.parse_line(&buffer, set) else {
            return plain();
        };
        let mut sections: Sections = Vec::new();
        let mut push = |range: Range<usize>, class: Syntax| {
            let range = range.start.min(line.len())..range.end.min(line.len());
            if range.is_empty() {
                return;
            }
            match sections.last_mut() {
                Some((last, c)) if *c == class && last.end == range.start => last.end = range.end,
                _ => sections.push((range, class)),
            }
        };
        let mut at = 0;
        for (offset, op) in ops {
            if offset > at {
                push(at..offset, class_of(&stack));
                at = offset;
            }
            if stack.apply(&op).is_err() {
                return plain();
            }
        }
        push(at..line.len(), class_of(&stack));
        out.push(sections);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes_of(extension: &str, line: &str) -> Vec<(String, Syntax)> {
        highlight_lines(extension, &[line])[0]
            .iter()
            .map(|(r, c)| (line[r.clone()].to_string(), *c))
            .collect()
    }

    #[test]
    fn python_keywords_strings_and_comments_are_classed() {
        let classes = classes_of("py", "def load(path): return 'x'  # note");
        assert!(
            classes.contains(&("def".into(), Syntax::Keyword)),
            "{classes:?}"
        );
        assert!(
            classes
                .iter()
                .any(|(t, c)| t.contains("'x'") || (t == "x" && *c == Syntax::String))
        );
        assert!(
            classes
                .iter()
                .any(|(t, c)| t.contains("note") && *c == Syntax::Comment)
        );
    }

    #[test]
    fn unknown_files_and_huge_lines_are_plain() {
        assert_eq!(
            highlight_lines("nosuchext", &["a b"]),
            vec![vec![(0..3, Syntax::Plain)]]
        );
        let long = "x".repeat(MAX_LINE_LEN + 1);
        assert_eq!(highlight_lines("rs", &[&long])[0].len(), 1);
    }

    #[test]
    fn parser_state_carries_across_a_block() {
        let block = highlight_lines("rs", &["/* start", "still comment */ fn f() {}"]);
        assert_eq!(block[1][0].1, Syntax::Comment);
    }
}
