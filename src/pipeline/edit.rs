//! SEARCH/REPLACE edits applied to file text and turned into a diff (parsing them from an answer
//! is [`crate::answer::parse_edits`]).
//!
//! An edit's SEARCH lines must occur exactly once in its file; an empty SEARCH creates a file that
//! does not exist yet. An edit that cannot be applied is reported by its number, file and first
//! SEARCH line, and the other edits still apply; never a panic.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use similar::TextDiff;

pub use crate::answer::Edit;

/// How an edit's SEARCH text was found in the file, strictest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Matching {
    /// Byte for byte.
    Exact,
    /// Line by line ignoring leading and trailing whitespace; the replacement is re-indented.
    Whitespace,
    /// The one block of lines at least [`FUZZY_RATIO`] similar, clearly ahead of any other.
    Fuzzy,
}

impl Matching {
    pub fn name(self) -> &'static str {
        match self {
            Matching::Exact => "exact",
            Matching::Whitespace => "whitespace",
            Matching::Fuzzy => "fuzzy",
        }
    }
}

/// Least similarity (0–1) for a fuzzy match.
pub const FUZZY_RATIO: f32 = 0.9;
/// Lines of SEARCH beyond which fuzzy matching is not tried (it compares every window).
const FUZZY_MAX_LINES: usize = 60;

/// Applies one edit to a file's text, exactly if possible, else ignoring whitespace, else fuzzily.
pub fn apply_edit(text: &str, edit: &Edit) -> Result<(String, Matching)> {
    if edit.search.is_empty() {
        bail!(
            "its SEARCH is empty, which only creates a new file, and {} exists: copy the lines to \
             replace into SEARCH",
            edit.file
        );
    }
    // Compare whole lines: make sure the file's last line ends in a newline like the SEARCH does.
    let had_newline = text.is_empty() || text.ends_with('\n');
    let normalised = if had_newline {
        text.to_string()
    } else {
        format!("{text}\n")
    };
    let found: Vec<usize> = line_starts(&normalised)
        .filter(|&at| normalised[at..].starts_with(&edit.search))
        .collect();
    let (mut out, matching) = match found.as_slice() {
        [at] => {
            let mut out = String::with_capacity(normalised.len() + edit.replace.len());
            out.push_str(&normalised[..*at]);
            out.push_str(&edit.replace);
            out.push_str(&normalised[at + edit.search.len()..]);
            (out, Matching::Exact)
        }
        [] => match loose_match(&normalised, edit)? {
            Some(found) => found,
            None => bail!("the SEARCH text is not in {}", edit.file),
        },
        many => bail!(
            "the SEARCH text occurs {} times in {}; include more lines to make it unique",
            many.len(),
            edit.file
        ),
    };
    if !had_newline && out.ends_with('\n') {
        out.pop();
    }
    Ok((out, matching))
}

/// Whitespace-insensitive, then fuzzy matching of whole-line windows.
fn loose_match(text: &str, edit: &Edit) -> Result<Option<(String, Matching)>> {
    let lines: Vec<&str> = text.lines().collect();
    let search: Vec<&str> = edit.search.lines().collect();
    let n = search.len();
    if n == 0 || n > lines.len() {
        return Ok(None);
    }
    let same = |a: &str, b: &str| a.split_whitespace().eq(b.split_whitespace());
    let hits: Vec<usize> = (0..=lines.len() - n)
        .filter(|&i| (0..n).all(|j| same(lines[i + j], search[j])))
        .collect();
    match hits.as_slice() {
        [at] => {
            return Ok(Some((
                splice(&lines, *at, n, edit, &search),
                Matching::Whitespace,
            )));
        }
        [] => {}
        many => bail!(
            "the SEARCH text occurs {} times in {} (ignoring whitespace); include more lines to make it unique",
            many.len(),
            edit.file
        ),
    }
    if n > FUZZY_MAX_LINES {
        return Ok(None);
    }
    let wanted = search.join("\n");
    let mut ratios: Vec<(f32, usize)> = (0..=lines.len() - n)
        .map(|i| {
            (
                similar::TextDiff::from_chars(lines[i..i + n].join("\n").as_str(), wanted.as_str())
                    .ratio(),
                i,
            )
        })
        .collect();
    ratios.sort_by(|a, b| b.0.total_cmp(&a.0));
    match ratios.as_slice() {
        [(best, at), rest @ ..]
            if *best >= FUZZY_RATIO
                && rest.first().is_none_or(|(second, _)| best - second >= 0.05) =>
        {
            Ok(Some((
                splice(&lines, *at, n, edit, &search),
                Matching::Fuzzy,
            )))
        }
        _ => Ok(None),
    }
}

/// Replaces `n` lines at `at` with the edit's REPLACE, re-indented by the found block's indent.
fn splice(lines: &[&str], at: usize, n: usize, edit: &Edit, search: &[&str]) -> String {
    let indent = |line: &str| line[..line.len() - line.trim_start().len()].to_string();
    let first = (0..n).find(|&j| !search[j].trim().is_empty()).unwrap_or(0);
    let (from, to) = (indent(search[first]), indent(lines[at + first]));
    let mut out: Vec<String> = lines[..at].iter().map(|l| l.to_string()).collect();
    for line in edit.replace.lines() {
        out.push(match line.strip_prefix(from.as_str()) {
            Some(rest) if from != to => format!("{to}{rest}"),
            _ => line.to_string(),
        });
    }
    out.extend(lines[at + n..].iter().map(|l| l.to_string()));
    let mut text = out.join("\n");
    text.push('\n');
    text
}

fn line_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(
        text.match_indices('\n')
            .map(|(i, _)| i + 1)
            .filter(move |&i| i < text.len()),
    )
}

/// A file changed by a patch: its text before and after.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FileChange {
    pub path: String,
    pub before: String,
    pub after: String,
    /// The patch creates this file (it did not exist before).
    pub created: bool,
}

/// The edits of an answer applied to their files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Every file an edit touched, in first-edit order.
    pub changes: Vec<FileChange>,
    /// The loosest matching any applied edit needed.
    pub matching: Matching,
    /// Why each edit that could not be applied failed, naming the edit.
    pub failed: Vec<String>,
}

/// Applies every edit it can, reading each file once through `read` (`None`: no such file). An
/// edit that fails leaves its file as the edits before it left it; only when no edit applies is
/// the whole an error.
pub fn apply_edits(
    edits: &[Edit],
    mut read: impl FnMut(&str) -> Result<Option<String>>,
) -> Result<Applied> {
    let mut order = Vec::new();
    let mut texts: BTreeMap<String, (Option<String>, String)> = BTreeMap::new();
    let mut loosest = Matching::Exact;
    let mut failed = Vec::new();
    let mut applied = 0;
    for (index, edit) in edits.iter().enumerate() {
        if !texts.contains_key(&edit.file) {
            let before = match read(&edit.file) {
                Ok(before) => before,
                Err(err) => {
                    failed.push(format!("{}: {err:#}", edit.label(index)));
                    continue;
                }
            };
            let after = before.clone().unwrap_or_default();
            texts.insert(edit.file.clone(), (before, after));
            order.push(edit.file.clone());
        }
        let (before, after) = texts.get_mut(&edit.file).expect("inserted above");
        if before.is_none() && edit.search.is_empty() && after.is_empty() {
            *after = edit.replace.clone();
            applied += 1;
            continue;
        }
        if before.is_none() && after.is_empty() {
            failed.push(format!(
                "{}: {} does not exist (an empty SEARCH creates it)",
                edit.label(index),
                edit.file
            ));
            continue;
        }
        match apply_edit(after, edit) {
            Ok((text, matching)) => {
                *after = text;
                loosest = loosest.max(matching);
                applied += 1;
            }
            // Found in the file as it was: an earlier edit of the answer changed (or copied)
            // these lines.
            Err(err)
                if *after != before.as_deref().unwrap_or_default()
                    && before
                        .as_deref()
                        .is_some_and(|b| apply_edit(b, edit).is_ok()) =>
            {
                failed.push(format!(
                    "{}: after the earlier edits, {err:#}; it was in {} as it was, so an earlier \
                     edit changed or copied those lines (one edit must make both changes)",
                    edit.label(index),
                    edit.file
                ))
            }
            Err(err) => failed.push(format!("{}: {err:#}", edit.label(index))),
        }
    }
    if applied == 0 {
        match failed.as_slice() {
            [only] => bail!("{only}"),
            _ => bail!(
                "none of the {} edits applies: {}",
                edits.len(),
                failed.join("; ")
            ),
        }
    }
    let changes = order
        .into_iter()
        .map(|path| {
            let (before, after) = texts.remove(&path).expect("one entry per path");
            FileChange {
                path,
                created: before.is_none(),
                before: before.unwrap_or_default(),
                after,
            }
        })
        .collect();
    Ok(Applied {
        changes,
        matching: loosest,
        failed,
    })
}

/// A `git apply`-able unified diff of the changes (unchanged files are left out).
pub fn unified_diff(changes: &[FileChange]) -> String {
    let mut out = String::new();
    for change in changes.iter().filter(|c| c.before != c.after) {
        let path = &change.path;
        out.push_str(&format!("diff --git a/{path} b/{path}\n"));
        let from = if change.created {
            out.push_str("new file mode 100644\n");
            "/dev/null".to_string()
        } else {
            format!("a/{path}")
        };
        let diff = TextDiff::from_lines(&change.before, &change.after);
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&from, &format!("b/{path}"))
                .to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::parse_edits;

    const ANSWER: &str = "Fix:\n```\npkg/a.py\n<<<<<<< SEARCH\n    return None\n=======\n    return {}\n>>>>>>> REPLACE\n```\n";

    #[test]
    fn applies_and_diffs() {
        let edits = parse_edits(ANSWER).unwrap().edits;
        let before = "def f():\n    x = 1\n    return None\n";
        let applied = apply_edits(&edits, |_| Ok(Some(before.to_string()))).unwrap();
        assert_eq!(applied.matching, Matching::Exact);
        assert_eq!(
            applied.changes[0].after,
            "def f():\n    x = 1\n    return {}\n"
        );
        let diff = unified_diff(&applied.changes);
        assert!(
            diff.starts_with(
                "diff --git a/pkg/a.py b/pkg/a.py\n--- a/pkg/a.py\n+++ b/pkg/a.py\n@@"
            )
        );
        assert!(
            diff.contains("-    return None\n+    return {}\n"),
            "{diff}"
        );
    }

    #[test]
    fn missing_and_ambiguous_search_are_errors() {
        let edit = &parse_edits(ANSWER).unwrap().edits[0];
        let err = apply_edit("pass\n", edit).unwrap_err().to_string();
        assert!(err.contains("not in pkg/a.py"), "{err}");
        let err = apply_edit("    return None\n    return None\n", edit)
            .unwrap_err()
            .to_string();
        assert!(err.contains("occurs 2 times"), "{err}");
        // Whole lines only: a longer line containing the text does not match exactly…
        assert!(
            apply_edit(
                "        return None_x  # a much longer line than the search\n",
                edit
            )
            .is_err()
        );
    }

    #[test]
    fn file_without_final_newline_keeps_it_that_way() {
        let edit = Edit {
            file: "f".into(),
            search: "b\n".into(),
            replace: "c\n".into(),
        };
        assert_eq!(
            apply_edit("a\nb", &edit).unwrap(),
            ("a\nc".to_string(), Matching::Exact)
        );
    }

    #[test]
    fn whitespace_insensitive_match_reindents_the_replacement() {
        let edit = Edit {
            file: "f.py".into(),
            search: "if x:\n    return None\n".into(),
            replace: "if x:\n    return {}\n".into(),
        };
        let text = "def f(x):\n    if x:\n        return None\n    return 1\n";
        let (out, matching) = apply_edit(text, &edit).unwrap();
        assert_eq!(matching, Matching::Whitespace);
        assert_eq!(
            out,
            "def f(x):\n    if x:\n        return {}\n    return 1\n"
        );
    }

    #[test]
    fn fuzzy_match_finds_a_near_copy_but_not_a_stranger() {
        let text = "def parse(text):\n    sections = {}\n    for line in text.splitlines():\n        handle(line)\n    return sections\n";
        let near = Edit {
            file: "p.py".into(),
            search: "    for line in text.splitlines(): \n        handle(line))\n".into(),
            replace: "    for line in text.splitlines():\n        handle(line.strip())\n".into(),
        };
        let (out, matching) = apply_edit(text, &near).unwrap();
        assert_eq!(matching, Matching::Fuzzy);
        assert!(out.contains("handle(line.strip())") && !out.contains("handle(line)\n"));
        let stranger = Edit {
            file: "p.py".into(),
            search: "    while True:\n        break\n".into(),
            replace: "".into(),
        };
        assert!(apply_edit(text, &stranger).is_err());
    }

    #[test]
    fn an_empty_search_creates_a_new_file() {
        let edits = parse_edits(
            "tests/test_empty.py\n<<<<<<< SEARCH\n=======\ndef test():\n    pass\n>>>>>>> REPLACE\n",
        )
        .unwrap()
        .edits;
        let applied = apply_edits(&edits, |_| Ok(None)).unwrap();
        assert!(applied.changes[0].created);
        let diff = unified_diff(&applied.changes);
        assert!(
            diff.starts_with("diff --git a/tests/test_empty.py b/tests/test_empty.py\nnew file mode 100644\n--- /dev/null\n+++ b/tests/test_empty.py\n@@ -0,0 +1,2 @@\n"),
            "{diff}"
        );
        // On a file that exists, an empty SEARCH is an error that says why.
        let err = apply_edits(&edits, |_| Ok(Some("x = 1\n".into())))
            .unwrap_err()
            .to_string();
        assert!(err.contains("only creates a new file"), "{err}");
    }

    #[test]
    fn one_bad_edit_does_not_sink_the_others_and_is_named() {
        let answer = "a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n\na.py\n<<<<<<< SEARCH\nnot there\n=======\ny\n>>>>>>> REPLACE\n";
        let edits = parse_edits(answer).unwrap().edits;
        let applied = apply_edits(&edits, |_| Ok(Some("x = 1\nz = 3\n".into()))).unwrap();
        assert_eq!(applied.changes[0].after, "x = 2\nz = 3\n");
        assert_eq!(applied.failed.len(), 1);
        assert!(
            applied.failed[0].starts_with("edit 2 (a.py, SEARCH from `not there`)"),
            "{:?}",
            applied.failed
        );
        // A missing file is an edit's problem too.
        let err = apply_edits(&edits, |_| Ok(None)).unwrap_err().to_string();
        assert!(
            err.contains("edit 1 (a.py") && err.contains("does not exist"),
            "{err}"
        );
    }

    /// Gemma's flask-5014 patch: a second edit whose SEARCH the first one had already changed.
    /// Its SEARCH is in the file as it was, so "not in the file" would mislead.
    #[test]
    fn an_edit_overlapping_an_earlier_one_is_said_to() {
        let answer = "a.py\n<<<<<<< SEARCH\nx = 1\ny = 2\n=======\nvalue = 10\ny = 2\n>>>>>>> REPLACE\n\na.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 5\n>>>>>>> REPLACE\n";
        let edits = parse_edits(answer).unwrap().edits;
        let applied = apply_edits(&edits, |_| Ok(Some("x = 1\ny = 2\nz = 3\n".into()))).unwrap();
        assert_eq!(applied.changes[0].after, "value = 10\ny = 2\nz = 3\n");
        assert_eq!(applied.failed.len(), 1);
        assert!(
            applied.failed[0].contains(
                "after the earlier edits, the SEARCH text is not in a.py; it was in a.py as it \
                 was, so an earlier edit changed or copied those lines"
            ),
            "{:?}",
            applied.failed
        );
    }
}
