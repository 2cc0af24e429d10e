//! What an issue text names: file paths, stack-trace frames, dotted module paths and
//! identifiers. Pure text analysis; [`super::shortlist`] matches the mentions to the index.

use std::collections::HashMap;

/// Everything an issue names that may point at a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mentions {
    /// Path-like words (`requests/models.py`, `models.py`, `/usr/lib/…/sessions.py`), in order.
    pub paths: Vec<String>,
    /// Stack-trace frames, outermost first (as Python prints them).
    pub frames: Vec<Frame>,
    /// Dotted names (`requests.sessions.Session`, `seaborn._core.scales`), in order.
    pub dotted: Vec<String>,
    /// Modules imported under another name (`import matplotlib.pyplot as plt`): the API a
    /// snippet uses, rarely where the fault is (none of 20 such modules in the development
    /// issues was a gold file), so not in `dotted`.
    pub aliased: Vec<String>,
    /// Identifiers that look like code (snake_case, CamelCase, called, or in backticks), with
    /// how often each occurs.
    pub identifiers: HashMap<String, usize>,
    /// Other capitalised words (`Blueprint`, `Session`): class names when the index defines them.
    pub capitalized: HashMap<String, usize>,
    /// Members used on a class, as `(class, member)`: `Class.member`, `x.member` after
    /// `x = Class(…)` ([`super::members`]).
    pub members: Vec<(String, String)>,
}

/// One frame of a stack trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub path: String,
    pub line: Option<usize>,
    pub function: Option<String>,
}

/// Characters that can be part of a path or dotted name.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '\\' | '-')
}

/// Extensions of files worth naming.
const EXTENSIONS: &[&str] = &[
    "py", "pyi", "pyx", "rs", "js", "jsx", "mjs", "ts", "tsx", "go", "java", "kt", "c", "h", "cc",
    "cpp", "hpp", "rb", "php", "cfg", "toml", "ini", "txt", "rst", "md", "yml", "yaml", "json",
];

/// Finds the mentions in `text`.
pub fn extract(text: &str) -> Mentions {
    let mut mentions = Mentions::default();
    for line in text.lines() {
        let frame = python_frame(line)
            .or_else(|| colon_frame(line))
            .or_else(|| ipython_frame(line));
        if let Some(frame) = frame {
            mentions.frames.push(frame);
        }
    }
    mentions.members = super::members::class_members(text);
    let in_backticks = backticked(text);
    let aliased = aliased_imports(text);
    for (start, word) in path_words(text) {
        let word = word.trim_matches(|c| c == '.' || c == '-' || c == '/');
        if word.is_empty() {
            continue;
        }
        let ext = word.rsplit_once('.').map(|(_, e)| e);
        if ext.is_some_and(|e| EXTENSIONS.contains(&e)) {
            mentions.paths.push(word.replace('\\', "/"));
        } else if word.contains('.') && !word.contains('/') && is_dotted_name(word) {
            if aliased.contains(&start) {
                mentions.aliased.push(word.to_string());
            } else {
                mentions.dotted.push(word.to_string());
            }
        }
        let after = text[start + word.len()..].chars().next();
        for part in word.split(['.', '/', '\\', '-']) {
            if is_identifier(part)
                && (looks_like_code(part)
                    || after == Some('(')
                    || in_backticks.contains(part)
                    || word.contains('.'))
            {
                *mentions.identifiers.entry(part.to_string()).or_insert(0) += 1;
            } else if is_identifier(part) && part.starts_with(|c: char| c.is_ascii_uppercase()) {
                *mentions.capitalized.entry(part.to_string()).or_insert(0) += 1;
            }
        }
    }
    mentions
}

/// Byte offsets of the modules in `import a.b as c` lines (a `>>>` prompt allowed).
fn aliased_imports(text: &str) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_start();
        let body = body.strip_prefix(">>>").unwrap_or(body).trim_start();
        if let Some(rest) = body.strip_prefix("import ") {
            let module = rest.trim_start();
            let mut words = module.split_whitespace();
            if let (Some(_), Some("as")) = (words.next(), words.next()) {
                offsets.push(at + (line.len() - module.len()));
            }
        }
        at += line.len();
    }
    offsets
}

/// Maximal runs of path characters with their byte offsets.
fn path_words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (is_path_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

/// Words between backticks.
fn backticked(text: &str) -> std::collections::HashSet<&str> {
    let mut set = std::collections::HashSet::new();
    for (i, chunk) in text.split('`').enumerate() {
        if i % 2 == 1 {
            for word in super::tokens::words(chunk) {
                set.insert(word);
            }
        }
    }
    set
}

fn is_identifier(word: &str) -> bool {
    let mut chars = word.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && word.len() >= 3
}

/// snake_case with an inner `_`, or an inner capital (CamelCase, mixedCase).
fn looks_like_code(word: &str) -> bool {
    let trimmed = word.trim_matches('_');
    trimmed.contains('_') || trimmed.chars().skip(1).any(|c| c.is_ascii_uppercase())
}

/// `a.b.c` where each part is an identifier and at least one is not a plain English word
/// ending a sentence (`e.g`, `i.e` are excluded by the length rule).
fn is_dotted_name(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            let mut chars = p.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        && parts.iter().any(|p| p.len() >= 3)
}

/// `  File "/x/y.py", line 12, in func`
fn python_frame(line: &str) -> Option<Frame> {
    let rest = line.trim_start().strip_prefix("File \"")?;
    let (path, rest) = rest.split_once('"')?;
    let rest = rest.trim_start_matches(',').trim_start();
    let (line_no, function) = match rest.strip_prefix("line ") {
        Some(after) => {
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            let function = after
                .split_once(", in ")
                .map(|(_, f)| f.trim().to_string())
                .filter(|f| is_identifier(f) || f.starts_with('<'));
            (digits.parse().ok(), function)
        }
        None => (None, None),
    };
    Some(Frame {
        path: path.replace('\\', "/"),
        line: line_no,
        function,
    })
}

/// `~/env/lib/python3.9/site-packages/pkg/mod.py in func(self, x)` (IPython, Jupyter).
fn ipython_frame(line: &str) -> Option<Frame> {
    let (path, rest) = line.trim().split_once(" in ")?;
    if path.contains(' ') || !path.ends_with(".py") {
        return None;
    }
    let function = rest.split('(').next().unwrap_or("").trim();
    if !rest.contains('(') || !is_identifier(function) {
        return None;
    }
    Some(Frame {
        path: path.replace('\\', "/"),
        line: None,
        function: Some(function.to_string()),
    })
}

/// `path/to/file.py:123: in func` (pytest) or `path/file.rs:12:5`.
fn colon_frame(line: &str) -> Option<Frame> {
    let line = line.trim_start();
    let (path, rest) = line.split_once(':')?;
    if path.contains(' ') || !path.contains('.') {
        return None;
    }
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    if !EXTENSIONS.contains(&ext) {
        return None;
    }
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let number: usize = digits.parse().ok()?;
    let function = rest
        .split_once(": in ")
        .map(|(_, f)| f.trim().to_string())
        .filter(|f| is_identifier(f));
    Some(Frame {
        path: path.replace('\\', "/"),
        line: Some(number),
        function,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_frames_paths_dotted_names_and_identifiers() {
        let text = "Calling `session.mount()` fails in requests/adapters.py:\n\
            Traceback (most recent call last):\n  \
            File \"/usr/lib/python3/site-packages/requests/sessions.py\", line 42, in request\n    \
            resp = self.send(prep)\n\
            from seaborn._core.scales import Nominal\n\
            max_retries is ignored by HTTPAdapter.";
        let m = extract(text);
        assert_eq!(
            m.frames,
            [Frame {
                path: "/usr/lib/python3/site-packages/requests/sessions.py".into(),
                line: Some(42),
                function: Some("request".into()),
            }]
        );
        assert!(m.paths.contains(&"requests/adapters.py".to_string()));
        assert!(m.dotted.contains(&"seaborn._core.scales".to_string()));
        assert!(m.identifiers.contains_key("max_retries"));
        assert!(m.identifiers.contains_key("HTTPAdapter"));
        assert!(m.identifiers.contains_key("mount"), "called in backticks");
        assert!(!m.identifiers.contains_key("fails"));
        assert!(m.capitalized.contains_key("Traceback"));
    }

    #[test]
    fn a_module_imported_under_an_alias_is_set_apart() {
        let m = extract(
            "```python\nimport matplotlib.pyplot as plt\n>>> import numpy.ma as ma\nfrom matplotlib.colors import LogNorm\nplt.subplots()\n```\nSee matplotlib.pyplot.",
        );
        assert_eq!(m.aliased, ["matplotlib.pyplot", "numpy.ma"]);
        assert_eq!(
            m.dotted,
            ["matplotlib.colors", "plt.subplots", "matplotlib.pyplot"]
        );
        assert!(m.identifiers.contains_key("pyplot"));
    }

    #[test]
    fn ipython_frames() {
        let m = extract(
            "~/env/lib/python3.8/site-packages/seaborn/axisgrid.py in map(self, func, **kwargs)\n   1263  x = 1",
        );
        assert_eq!(
            m.frames,
            [Frame {
                path: "~/env/lib/python3.8/site-packages/seaborn/axisgrid.py".into(),
                line: None,
                function: Some("map".into()),
            }]
        );
    }

    #[test]
    fn pytest_frames() {
        let m = extract("pylint/checkers/base.py:310: in visit_call\n    raise X");
        assert_eq!(m.frames[0].path, "pylint/checkers/base.py");
        assert_eq!(m.frames[0].line, Some(310));
        assert_eq!(m.frames[0].function.as_deref(), Some("visit_call"));
    }

    proptest! {
        #[test]
        fn mentions_come_from_the_text(text in "\\PC{0,300}") {
            let m = extract(&text);
            for path in m.paths.iter().chain(&m.dotted) {
                prop_assert!(text.replace('\\', "/").contains(path.as_str()));
            }
            for id in m.identifiers.keys().chain(m.capitalized.keys()) {
                prop_assert!(text.contains(id.as_str()));
            }
        }

        #[test]
        fn frames_parse_from_any_python_frame_line(
            path in "[a-z_/]{1,30}\\.py", line in 1usize..100000, func in "[a-z_]{3,12}"
        ) {
            let m = extract(&format!("  File \"{path}\", line {line}, in {func}\n"));
            prop_assert_eq!(m.frames.len(), 1);
            prop_assert_eq!(&m.frames[0].path, &path);
            prop_assert_eq!(m.frames[0].line, Some(line));
        }
    }
}
