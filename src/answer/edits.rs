//! SEARCH/REPLACE edits in a patch answer:
//!
//! ```text
//! pkg/a.py
//! <<<<<<< SEARCH
//!     return None
//! =======
//!     return {}
//! >>>>>>> REPLACE
//! ```
//!
//! The file is named on the nearest line above `<<<<<<< SEARCH` that is not blank or a code
//! fence, however it is dressed (`### pkg/a.py`, `**File:** \`pkg/a.py\``, `# pkg/a.py`); a block
//! that names no file edits the file of the block before it. Markers are read loosely (at least
//! five `<`, `=` or `>`). An empty SEARCH creates a new file. The last block of an answer that
//! was cut before its `>>>>>>> REPLACE` (the answer budget ran out, or ponder stopped a loop)
//! keeps what it has as its REPLACE, and says so. A malformed block is a problem noted for that
//! block alone; only an answer with no usable block is an error.

use anyhow::{Result, bail};

/// One SEARCH/REPLACE edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub file: String,
    /// Lines to find, each ending in `\n`; empty for a new file.
    pub search: String,
    /// Lines to put in their place, each ending in `\n`.
    pub replace: String,
}

impl Edit {
    /// How an error names this edit: its number, file and first SEARCH line.
    pub fn label(&self, index: usize) -> String {
        match self.search.lines().find(|l| !l.trim().is_empty()) {
            Some(first) => format!(
                "edit {} ({}, SEARCH from `{}`)",
                index + 1,
                self.file,
                shorten(first.trim(), 60)
            ),
            None => format!("edit {} (new file {})", index + 1, self.file),
        }
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}

/// Every usable edit of an answer, and what was wrong with the blocks that were not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEdits {
    pub edits: Vec<Edit>,
    pub problems: Vec<String>,
    /// The last edit's block was cut short: its REPLACE runs to the end of the answer, where
    /// the answer budget or a loop guard stopped the model, not where the model meant it to end.
    pub cut: bool,
}

/// The canonical markers, as ponder writes them.
pub const SEARCH: &str = "<<<<<<< SEARCH";
pub const DIVIDER: &str = "=======";
pub const REPLACE: &str = ">>>>>>> REPLACE";

/// A marker line, trimmed, is a run of at least this many of its characters, then its word in
/// any case (`>>>>>>>> replace` too): the patch grammar keeps REPLACE lines from starting so.
/// For SEARCH and REPLACE the run may mix `<` and `>`: Gemma 3 270M ended a block with
/// `<>>>>>>> REPLACE`, and read as a line of code it made the REPLACE run to the answer's end.
pub const MARKER_RUN: usize = 5;

/// The characters of a SEARCH or REPLACE marker's run.
pub const ANGLES: [char; 2] = ['<', '>'];

fn is_marker(line: &str, chars: &[char], word: &str) -> bool {
    let line = line.trim();
    let run = line.chars().take_while(|c| chars.contains(c)).count();
    run >= MARKER_RUN && line[run..].trim().eq_ignore_ascii_case(word)
}

pub(crate) fn is_search(line: &str) -> bool {
    is_marker(line, &ANGLES, "SEARCH")
}

fn is_divider(line: &str) -> bool {
    is_marker(line, &['='], "")
}

pub(crate) fn is_replace(line: &str) -> bool {
    is_marker(line, &ANGLES, "REPLACE")
}

fn is_fence(line: &str) -> bool {
    line.trim_start().starts_with("```")
}

/// Parses every SEARCH/REPLACE block of an answer.
pub fn parse_edits(answer: &str) -> Result<ParsedEdits> {
    let answer = without_turn_markers(answer);
    let lines: Vec<&str> = answer.lines().collect();
    let mut edits = Vec::new();
    let mut problems = Vec::new();
    let mut previous_file: Option<String> = None;
    let mut block_start = 0; // first line after the previous block
    let mut i = 0;
    let mut blocks = 0;
    let mut cut = false;
    while i < lines.len() {
        if !is_search(lines[i]) {
            i += 1;
            continue;
        }
        blocks += 1;
        let named = lines[block_start..i]
            .iter()
            .rev()
            .filter(|l| !l.trim().is_empty() && !is_fence(l))
            .find_map(|l| path_in_line(l));
        let file = named.or_else(|| previous_file.clone());
        let Some(search_end) = (i + 1..lines.len()).find(|&j| is_divider(lines[j])) else {
            problems.push(format!(
                "block {blocks} (line {}) has no ======= line after its SEARCH (left out)",
                i + 1
            ));
            break;
        };
        let end_or_next =
            (search_end + 1..lines.len()).find(|&j| is_replace(lines[j]) || is_search(lines[j]));
        let replace_end = match end_or_next {
            Some(end) if is_replace(lines[end]) => end,
            Some(next) => {
                problems.push(format!(
                    "block {blocks} (line {}) has no >>>>>>> REPLACE line before the next block \
                     (left out)",
                    i + 1
                ));
                // The next block's path is among the lines this one left unclosed.
                i = next;
                block_start = search_end + 1;
                continue;
            }
            // A block cut short: the rest of the answer is its REPLACE.
            None => {
                problems.push(format!(
                    "block {blocks} (line {}) has no >>>>>>> REPLACE line: the answer ends inside \
                     it, so its REPLACE runs to the end of the answer",
                    i + 1
                ));
                let mut end = lines.len();
                while end > search_end + 1
                    && (lines[end - 1].trim().is_empty() || is_fence(lines[end - 1]))
                {
                    end -= 1;
                }
                cut = file.is_some();
                end
            }
        };
        let mut search = joined(&lines[i + 1..search_end]);
        // A SEARCH of blank lines only is an empty one: the block creates its file.
        if search.trim().is_empty() {
            search.clear();
        }
        let replace = joined(&lines[search_end + 1..replace_end]);
        match file {
            Some(file) => {
                previous_file = Some(file.clone());
                edits.push(Edit {
                    file,
                    search,
                    replace,
                });
            }
            None => problems.push(format!(
                "block {blocks} (line {}) does not say which file it edits (left out): put the \
                 file's path on the line before <<<<<<< SEARCH",
                i + 1
            )),
        }
        i = replace_end + 1;
        block_start = i;
    }
    if edits.is_empty() {
        match problems.first() {
            Some(problem) => bail!("no usable SEARCH/REPLACE edit: {problem}"),
            None => bail!("the answer has no SEARCH/REPLACE edit"),
        }
    }
    Ok(ParsedEdits {
        edits,
        problems,
        cut,
    })
}

/// The answer without chat turn markers a weak model wrote as text (`<|eot_id|>path.py` names
/// `path.py`).
fn without_turn_markers(answer: &str) -> std::borrow::Cow<'_, str> {
    let mut text = std::borrow::Cow::Borrowed(answer);
    for marker in crate::model::family::turn_markers() {
        if text.contains(marker) {
            text = std::borrow::Cow::Owned(text.replace(marker, ""));
        }
    }
    text
}

fn joined(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The file path a line names, stripped of markdown and labels; `None` for prose.
pub fn path_in_line(line: &str) -> Option<String> {
    let mut text = line.trim().trim_start_matches('\u{feff}');
    text = text.trim_start_matches(['#', '*', '-', '>', ' ', '\t']);
    for label in [
        "file:",
        "filename:",
        "path:",
        "file name:",
        "in file",
        "edit",
    ] {
        let Some(head) = text.get(..label.len()) else {
            continue;
        };
        let boundary = !text[label.len()..]
            .chars()
            .next()
            .is_some_and(char::is_alphanumeric);
        if head.eq_ignore_ascii_case(label) && boundary {
            text = &text[label.len()..];
        }
    }
    let strip = |t: &str| {
        t.trim_matches(|c: char| {
            c.is_whitespace() || matches!(c, '`' | '*' | '"' | '\'' | ':' | ',' | '(' | ')')
        })
        .to_string()
    };
    let whole = strip(text);
    if looks_like_path(&whole) {
        return Some(whole.trim_start_matches("./").to_string());
    }
    // Prose around a path: the last word that is one.
    text.split_whitespace()
        .map(strip)
        .rfind(|w| looks_like_path(w))
        .map(|w| w.trim_start_matches("./").to_string())
}

fn looks_like_path(word: &str) -> bool {
    if word.is_empty()
        || word.len() > 300
        || !word
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | '@'))
    {
        return false;
    }
    let name = word.rsplit('/').next().unwrap_or(word);
    let has_extension = name
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty());
    has_extension || (word.contains('/') && !word.ends_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ANSWER: &str = "Fix:\n```\npkg/a.py\n<<<<<<< SEARCH\n    return None\n=======\n    return {}\n>>>>>>> REPLACE\n```\n";

    fn files(answer: &str) -> Vec<String> {
        parse_edits(answer)
            .unwrap()
            .edits
            .into_iter()
            .map(|e| e.file)
            .collect()
    }

    #[test]
    fn parses_a_block() {
        let parsed = parse_edits(ANSWER).unwrap();
        assert_eq!(
            parsed.edits,
            vec![Edit {
                file: "pkg/a.py".into(),
                search: "    return None\n".into(),
                replace: "    return {}\n".into(),
            }]
        );
        assert!(parsed.problems.is_empty());
    }

    /// Gemma 3 270M ended a block with `<>>>>>>> REPLACE` (flask-4045): a marker, not code, so
    /// the REPLACE stops there instead of running to the end of the answer.
    #[test]
    fn a_marker_run_may_mix_angles() {
        let answer = "pkg/a.py\n<<<<<<< SEARCH\n    return None\n=======\n    return {}\n<>>>>>>> REPLACE\nThat fixes it.\n";
        let parsed = parse_edits(answer).unwrap();
        assert_eq!(parsed.edits[0].replace, "    return {}\n");
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert!(is_search("><<<<<< search") && !is_search("<<<< SEARCH"));
    }

    #[test]
    fn the_path_line_skips_fences_and_markdown() {
        // A path, then a ```python fence: the fence is not the file name.
        let fenced = "pkg/a.py\n```python\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```";
        assert_eq!(files(fenced), ["pkg/a.py"]);
        for dressed in [
            "### pkg/a.py",
            "**File:** `pkg/a.py`",
            "# pkg/a.py",
            "File: pkg/a.py",
            "In `pkg/a.py`:",
            "Edit ./pkg/a.py as follows:",
        ] {
            let answer = format!("{dressed}\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n");
            assert_eq!(files(&answer), ["pkg/a.py"], "{dressed}");
        }
    }

    #[test]
    fn a_block_without_a_path_edits_the_file_before_it() {
        let answer = "a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n\nAnd then:\n<<<<<<< SEARCH\nz\n=======\nw\n>>>>>>> REPLACE\n";
        assert_eq!(files(answer), ["a.py", "a.py"]);
    }

    #[test]
    fn loose_markers_are_read() {
        let answer = "a.py\n<<<<<<<< search\nx\n========\ny\n>>>>>>>> REPLACE  \n";
        assert_eq!(files(answer), ["a.py"]);
    }

    #[test]
    fn an_empty_search_is_a_new_file() {
        let answer = "tests/test_new.py\n<<<<<<< SEARCH\n=======\nimport pytest\n>>>>>>> REPLACE\n";
        let parsed = parse_edits(answer).unwrap();
        assert_eq!(parsed.edits[0].search, "");
        assert_eq!(
            parsed.edits[0].label(0),
            "edit 1 (new file tests/test_new.py)"
        );
    }

    #[test]
    fn a_search_of_blank_lines_is_a_new_file() {
        let answer = "t.py\n<<<<<<< SEARCH\n\n  \n=======\ndef test():\n    pass\n>>>>>>> REPLACE";
        assert_eq!(parse_edits(answer).unwrap().edits[0].search, "");
    }

    #[test]
    fn chat_markers_before_the_path_are_not_part_of_it() {
        let answer = "<|im_end|><start_of_turn>model\n<end_of_turn><|eot_id|>a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n";
        assert_eq!(files(answer), ["a.py"]);
    }

    #[test]
    fn a_broken_block_is_a_problem_of_its_own() {
        let answer =
            "a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\nb.py\n<<<<<<< SEARCH\nz\n";
        let parsed = parse_edits(answer).unwrap();
        assert_eq!(parsed.edits.len(), 1);
        assert!(
            parsed.problems[0].contains("block 2"),
            "{:?}",
            parsed.problems
        );
        assert!(
            parsed.problems[0].contains("no ======="),
            "{:?}",
            parsed.problems
        );
    }

    #[test]
    fn a_last_block_cut_before_its_end_keeps_its_replace() {
        let parsed = parse_edits("a.py\n<<<<<<< SEARCH\nx\n=======\ny\nz\n\n```").unwrap();
        assert_eq!(parsed.edits[0].replace, "y\nz\n");
        assert!(parsed.cut);
        assert!(
            parsed.problems[0].contains("runs to the end"),
            "{:?}",
            parsed.problems
        );
        // Not when another block follows: that one's REPLACE marker is not this one's.
        let answer = "a.py\n<<<<<<< SEARCH\nx\n=======\ny\nb.py\n<<<<<<< SEARCH\nz\n=======\nw\n>>>>>>> REPLACE\n";
        let parsed = parse_edits(answer).unwrap();
        assert_eq!(parsed.edits.len(), 1);
        assert_eq!(parsed.edits[0].file, "b.py");
        assert!(!parsed.cut);
    }

    #[test]
    fn malformed_answers_are_errors() {
        assert!(parse_edits("no edits here").is_err());
        let err = parse_edits("a.py\n<<<<<<< SEARCH\nx\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("======="), "{err}");
        let err = parse_edits("Here is the fix:\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE")
            .unwrap_err()
            .to_string();
        assert!(err.contains("which file"), "{err}");
    }

    #[test]
    fn labels_name_the_edit() {
        let edit = &parse_edits(ANSWER).unwrap().edits[0];
        assert_eq!(
            edit.label(1),
            "edit 2 (pkg/a.py, SEARCH from `return None`)"
        );
    }

    #[test]
    fn prose_is_not_a_path() {
        for prose in ["Here is the fix:", "The fix.", "```", "", "x = 1 / 2"] {
            assert_eq!(path_in_line(prose), None, "{prose}");
        }
        assert_eq!(path_in_line("src/Makefile"), Some("src/Makefile".into()));
        assert_eq!(path_in_line("editor.py"), Some("editor.py".into()));
        assert_eq!(path_in_line("\u{feff}a/b.py"), Some("a/b.py".into()));
    }

    proptest! {
        #[test]
        fn rendered_edits_parse_back(
            file in "[a-z]{1,8}(/[a-z]{1,8})?\\.py",
            search in proptest::collection::vec("[ a-z()=:]{1,20}", 1..5),
            replace in proptest::collection::vec("[ a-z()=:]{0,20}", 0..5),
        ) {
            let search: Vec<String> = search.into_iter().filter(|l| !l.trim().is_empty()).collect();
            prop_assume!(!search.is_empty());
            let lines = |v: &[String]| v.iter().map(|l| format!("{l}\n")).collect::<String>();
            let answer = format!("{file}\n{SEARCH}\n{}{DIVIDER}\n{}{REPLACE}\n", lines(&search), lines(&replace));
            let parsed = parse_edits(&answer).unwrap();
            prop_assert_eq!(parsed.edits, vec![Edit { file, search: lines(&search), replace: lines(&replace) }]);
        }

        #[test]
        fn parser_never_panics(answer in "(\\PC|\n|<<<<<<< SEARCH|=======|>>>>>>> REPLACE|```){0,60}") {
            let _ = parse_edits(&answer);
        }
    }
}
