//! SEARCH/REPLACE edits: parsed from a patch answer, applied to file text, turned into a diff.
//!
//! An edit names a file on the line before `<<<<<<< SEARCH`; its SEARCH lines must occur exactly
//! once in that file. A missing or ambiguous SEARCH is an error for the candidate, never a panic.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use similar::TextDiff;

/// One SEARCH/REPLACE edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub file: String,
    /// Lines to find, each ending in `\n`.
    pub search: String,
    /// Lines to put in their place, each ending in `\n`.
    pub replace: String,
}

const SEARCH: &str = "<<<<<<< SEARCH";
const DIVIDER: &str = "=======";
const REPLACE: &str = ">>>>>>> REPLACE";

/// Parses every SEARCH/REPLACE block of an answer.
pub fn parse_edits(answer: &str) -> Result<Vec<Edit>> {
    let lines: Vec<&str> = answer.lines().collect();
    let mut edits = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != SEARCH {
            i += 1;
            continue;
        }
        let file = lines[..i]
            .iter()
            .rev()
            .map(|l| l.trim().trim_matches('`').trim())
            .find(|l| !l.is_empty())
            .filter(|l| !l.starts_with(REPLACE))
            .map(str::to_string);
        let Some(file) = file else {
            bail!(
                "a SEARCH block (line {}) does not say which file it edits",
                i + 1
            );
        };
        let (search, after_search) = collect_until(&lines, i + 1, DIVIDER)
            .ok_or_else(|| anyhow::anyhow!("the SEARCH block for {file} has no ======= line"))?;
        let (replace, after_replace) =
            collect_until(&lines, after_search, REPLACE).ok_or_else(|| {
                anyhow::anyhow!("the SEARCH block for {file} has no >>>>>>> REPLACE line")
            })?;
        if search.is_empty() {
            bail!("the SEARCH block for {file} is empty; copy the lines to replace into it");
        }
        edits.push(Edit {
            file,
            search,
            replace,
        });
        i = after_replace;
    }
    if edits.is_empty() {
        bail!("the answer has no SEARCH/REPLACE edit");
    }
    Ok(edits)
}

/// Lines from `start` up to the marker, joined with `\n` endings; and the index after the marker.
fn collect_until(lines: &[&str], start: usize, marker: &str) -> Option<(String, usize)> {
    let end = start + lines[start..].iter().position(|l| l.trim_end() == marker)?;
    let text = lines[start..end].iter().map(|l| format!("{l}\n")).collect();
    Some((text, end + 1))
}

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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileChange {
    pub path: String,
    pub before: String,
    pub after: String,
}

/// Applies all edits, reading each file once through `read`; files in first-edit order. The
/// matching reported is the loosest any edit needed.
pub fn apply_edits(
    edits: &[Edit],
    mut read: impl FnMut(&str) -> Result<String>,
) -> Result<(Vec<FileChange>, Matching)> {
    let mut order = Vec::new();
    let mut texts: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut loosest = Matching::Exact;
    for edit in edits {
        if !texts.contains_key(&edit.file) {
            let before = read(&edit.file)?;
            texts.insert(edit.file.clone(), (before.clone(), before));
            order.push(edit.file.clone());
        }
        let (_, after) = texts.get_mut(&edit.file).expect("inserted above");
        let (text, matching) = apply_edit(after, edit)?;
        *after = text;
        loosest = loosest.max(matching);
    }
    let changes = order
        .into_iter()
        .map(|path| {
            let (before, after) = texts.remove(&path).expect("one entry per path");
            FileChange {
                path,
                before,
                after,
            }
        })
        .collect();
    Ok((changes, loosest))
}

/// A `git apply`-able unified diff of the changes (unchanged files are left out).
pub fn unified_diff(changes: &[FileChange]) -> String {
    let mut out = String::new();
    for change in changes.iter().filter(|c| c.before != c.after) {
        let path = &change.path;
        out.push_str(&format!("diff --git a/{path} b/{path}\n"));
        let diff = TextDiff::from_lines(&change.before, &change.after);
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{path}"), &format!("b/{path}"))
                .to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ANSWER: &str = "Fix:\n```\npkg/a.py\n<<<<<<< SEARCH\n    return None\n=======\n    return {}\n>>>>>>> REPLACE\n```\n";

    #[test]
    fn parses_a_block() {
        let edits = parse_edits(ANSWER).unwrap();
        assert_eq!(
            edits,
            vec![Edit {
                file: "pkg/a.py".into(),
                search: "    return None\n".into(),
                replace: "    return {}\n".into(),
            }]
        );
    }

    #[test]
    fn applies_and_diffs() {
        let edits = parse_edits(ANSWER).unwrap();
        let before = "def f():\n    x = 1\n    return None\n";
        let (changes, matching) = apply_edits(&edits, |_| Ok(before.to_string())).unwrap();
        assert_eq!(matching, Matching::Exact);
        assert_eq!(changes[0].after, "def f():\n    x = 1\n    return {}\n");
        let diff = unified_diff(&changes);
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
        let edit = &parse_edits(ANSWER).unwrap()[0];
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
    fn malformed_blocks_are_errors() {
        assert!(parse_edits("no edits here").is_err());
        assert!(
            parse_edits("a.py\n<<<<<<< SEARCH\nx\n")
                .unwrap_err()
                .to_string()
                .contains("=======")
        );
        assert!(parse_edits("a.py\n<<<<<<< SEARCH\nx\n=======\ny\n").is_err());
        assert!(parse_edits("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE").is_err());
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
            let edits = parse_edits(&answer).unwrap();
            prop_assert_eq!(edits, vec![Edit { file, search: lines(&search), replace: lines(&replace) }]);
        }

        #[test]
        fn parser_never_panics(answer in "(\\PC|\n|<<<<<<< SEARCH|=======|>>>>>>> REPLACE){0,60}") {
            let _ = parse_edits(&answer);
        }
    }
}
