//! A diff laid out for the screen: the patch as [`crate::diff::Patch`] reads it (files, hunks,
//! numbered lines), word-level changes inside changed lines (from `similar`), and the rows of the
//! unified and side-by-side layouts. Built once per diff text and cached by
//! [`super::highlight::Highlighter`].

use std::ops::Range;

use similar::{ChangeTag, TextDiff};

pub use crate::diff::LineKind;
use crate::diff::Patch;

/// Which side of a diff a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Old,
    New,
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffLine {
    pub kind: LineKind,
    pub text: String,
    pub old_no: Option<u32>,
    pub new_no: Option<u32>,
    /// Where its highlighting is found: the index of a removed line among its hunk's old-side
    /// lines (context and removed), of an added or context line among the new-side lines
    /// (context and added).
    pub side_index: usize,
    /// Byte ranges of `text` that changed against the paired line (word-level emphasis).
    pub emphasis: Vec<Range<usize>>,
}

/// One `@@` hunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Hunk {
    /// Index of the file in [`DiffModel::files`].
    pub file: usize,
    pub header: String,
    pub lines: Vec<DiffLine>,
}

impl Hunk {
    /// The texts of one side, in order: what the highlighter parses as one block.
    pub fn side_text(&self, side: Side) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| match side {
                Side::Old => l.kind != LineKind::Added,
                Side::New => l.kind != LineKind::Removed,
            })
            .map(|l| l.text.as_str())
            .collect()
    }
}

/// One screen row of a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// A file's name (index into `files`).
    File(usize),
    /// A hunk's `@@` header (index into `hunks`).
    HunkHeader(usize),
    /// Unified layout: one line of a hunk.
    Line { hunk: usize, line: usize },
    /// Side-by-side layout: the old line on the left and the new on the right, either may be blank.
    Pair {
        hunk: usize,
        left: Option<usize>,
        right: Option<usize>,
    },
}

/// A diff laid out for the screen.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DiffModel {
    /// The patch as read (what finishing a fix writes, less rejected hunks).
    pub patch: Patch,
    /// Paths after the patch (before it, for a deleted file), one per file of the patch.
    pub files: Vec<String>,
    pub hunks: Vec<Hunk>,
    pub unified: Vec<Row>,
    pub side_by_side: Vec<Row>,
}

/// Lines longer than this get no word-level emphasis (it would cost more than it shows).
const EMPHASIS_MAX_LEN: usize = 2_000;
/// Paired lines less alike than this (similar's ratio, 0 to 1) get no word emphasis.
const MIN_SIMILARITY: f32 = 0.5;

impl DiffModel {
    /// Reads a unified diff and lays it out.
    pub fn parse(diff: &str) -> DiffModel {
        DiffModel::new(Patch::parse(diff))
    }

    /// Lays out a patch: its hunks in order, with numbered lines and word emphasis.
    pub fn new(patch: Patch) -> DiffModel {
        let mut model = DiffModel {
            files: patch.files.iter().map(|f| f.path().to_string()).collect(),
            ..DiffModel::default()
        };
        for (file, diff_file) in patch.files.iter().enumerate() {
            for hunk in &diff_file.hunks {
                let lines = hunk
                    .lines
                    .iter()
                    .map(|line| DiffLine {
                        kind: line.kind,
                        text: line.text.clone(),
                        old_no: line.old_no,
                        new_no: line.new_no,
                        side_index: 0,
                        emphasis: Vec::new(),
                    })
                    .collect();
                model.hunks.push(Hunk {
                    file,
                    header: hunk.header.clone(),
                    lines,
                });
            }
        }
        for hunk in &mut model.hunks {
            number_sides(hunk);
            emphasise(hunk);
        }
        model.build_rows();
        model.patch = patch;
        model
    }

    /// The rows of the chosen layout.
    pub fn rows(&self, side_by_side: bool) -> &[Row] {
        if side_by_side {
            &self.side_by_side
        } else {
            &self.unified
        }
    }

    /// The row where hunk `hunk` starts in the chosen layout.
    pub fn hunk_row(&self, hunk: usize, side_by_side: bool) -> Option<usize> {
        self.rows(side_by_side)
            .iter()
            .position(|r| *r == Row::HunkHeader(hunk))
    }

    /// The hunk a row belongs to (its own, or the one above it).
    pub fn hunk_at(&self, row: usize, side_by_side: bool) -> Option<usize> {
        self.rows(side_by_side)
            .get(..=row)?
            .iter()
            .rev()
            .find_map(|r| match r {
                Row::HunkHeader(h) | Row::Line { hunk: h, .. } | Row::Pair { hunk: h, .. } => {
                    Some(*h)
                }
                Row::File(_) => None,
            })
    }

    fn build_rows(&mut self) {
        let mut file = None;
        for (h, hunk) in self.hunks.iter().enumerate() {
            if file != Some(hunk.file) {
                file = Some(hunk.file);
                self.unified.push(Row::File(hunk.file));
                self.side_by_side.push(Row::File(hunk.file));
            }
            self.unified.push(Row::HunkHeader(h));
            self.side_by_side.push(Row::HunkHeader(h));
            self.unified
                .extend((0..hunk.lines.len()).map(|line| Row::Line { hunk: h, line }));
            let mut i = 0;
            while i < hunk.lines.len() {
                if hunk.lines[i].kind == LineKind::Context {
                    self.side_by_side.push(Row::Pair {
                        hunk: h,
                        left: Some(i),
                        right: Some(i),
                    });
                    i += 1;
                    continue;
                }
                let (removed, added, next) = change_run(&hunk.lines, i);
                for k in 0..removed.len().max(added.len()) {
                    self.side_by_side.push(Row::Pair {
                        hunk: h,
                        left: removed.get(k).copied(),
                        right: added.get(k).copied(),
                    });
                }
                i = next;
            }
        }
    }
}

fn number_sides(hunk: &mut Hunk) {
    let (mut old, mut new) = (0, 0);
    for line in &mut hunk.lines {
        match line.kind {
            LineKind::Context => {
                line.side_index = new;
                old += 1;
                new += 1;
            }
            LineKind::Removed => {
                line.side_index = old;
                old += 1;
            }
            LineKind::Added => {
                line.side_index = new;
                new += 1;
            }
        }
    }
}

/// The removed and added lines of the change run starting at `start`, and where it ends.
fn change_run(lines: &[DiffLine], start: usize) -> (Vec<usize>, Vec<usize>, usize) {
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    let mut i = start;
    while i < lines.len() && lines[i].kind == LineKind::Removed {
        removed.push(i);
        i += 1;
    }
    while i < lines.len() && lines[i].kind == LineKind::Added {
        added.push(i);
        i += 1;
    }
    if removed.is_empty() && added.is_empty() {
        i += 1;
    }
    (removed, added, i)
}

/// Pairs each run's removed and added lines in order and marks the words that differ.
fn emphasise(hunk: &mut Hunk) {
    let mut i = 0;
    while i < hunk.lines.len() {
        if hunk.lines[i].kind == LineKind::Context {
            i += 1;
            continue;
        }
        let (removed, added, next) = change_run(&hunk.lines, i);
        for (&r, &a) in removed.iter().zip(&added) {
            let (old, new) = (&hunk.lines[r].text, &hunk.lines[a].text);
            if old.len() > EMPHASIS_MAX_LEN || new.len() > EMPHASIS_MAX_LEN {
                continue;
            }
            let (old_ranges, new_ranges) = word_changes(old, new);
            hunk.lines[r].emphasis = old_ranges;
            hunk.lines[a].emphasis = new_ranges;
        }
        i = next;
    }
}

/// Byte ranges of the words of `old` that were removed and of `new` that were inserted; adjacent
/// ranges are merged. Lines that share too little (a rewrite, not an edit) get no emphasis: it
/// would mark nearly everything and say nothing.
pub fn word_changes(old: &str, new: &str) -> (Vec<Range<usize>>, Vec<Range<usize>>) {
    let diff = TextDiff::from_words(old, new);
    if diff.ratio() < MIN_SIMILARITY {
        return (Vec::new(), Vec::new());
    }
    let (mut old_ranges, mut new_ranges): (Vec<Range<usize>>, Vec<Range<usize>>) = (vec![], vec![]);
    let (mut o, mut n) = (0, 0);
    let push = |ranges: &mut Vec<Range<usize>>, range: Range<usize>| match ranges.last_mut() {
        Some(last) if last.end == range.start => last.end = range.end,
        _ => ranges.push(range),
    };
    for change in diff.iter_all_changes() {
        let len = change.value().len();
        match change.tag() {
            ChangeTag::Equal => {
                o += len;
                n += len;
            }
            ChangeTag::Delete => {
                push(&mut old_ranges, o..o + len);
                o += len;
            }
            ChangeTag::Insert => {
                push(&mut new_ranges, n..n + len);
                n += len;
            }
        }
    }
    let whole = |ranges: &[Range<usize>], text: &str| {
        ranges.iter().map(|r| r.len()).sum::<usize>() >= text.trim().len()
    };
    if whole(&old_ranges, old) && whole(&new_ranges, new) {
        return (Vec::new(), Vec::new());
    }
    (old_ranges, new_ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "diff --git a/src/app.py b/src/app.py
--- a/src/app.py
+++ b/src/app.py
@@ -1,4 +1,4 @@
 import json
-def load(path):
+def load(path, strict=False):
     return json.loads(path)
 x = 1
@@ -10,2 +10,3 @@ def other():
 a
+b
 c
";

    #[test]
    fn parses_files_hunks_and_line_numbers() {
        let model = DiffModel::parse(DIFF);
        assert_eq!(model.files, vec!["src/app.py"]);
        assert_eq!(model.hunks.len(), 2);
        let first = &model.hunks[0].lines;
        assert_eq!(first[1].kind, LineKind::Removed);
        assert_eq!((first[1].old_no, first[1].new_no), (Some(2), None));
        assert_eq!((first[2].old_no, first[2].new_no), (None, Some(2)));
        assert_eq!((first[3].old_no, first[3].new_no), (Some(3), Some(3)));
        assert_eq!(model.hunks[1].lines[1].new_no, Some(11));
        assert_eq!(
            model.hunks[0].side_text(Side::New)[1],
            "def load(path, strict=False):"
        );
    }

    #[test]
    fn changed_words_are_emphasised_on_both_sides() {
        let model = DiffModel::parse(DIFF);
        let lines = &model.hunks[0].lines;
        let added = &lines[2];
        let emphasised: String = added
            .emphasis
            .iter()
            .map(|r| &added.text[r.clone()])
            .collect();
        assert!(emphasised.contains("strict"), "{emphasised:?}");
        assert!(!emphasised.contains("def"));
        assert!(!lines[1].emphasis.is_empty());
    }

    #[test]
    fn side_by_side_pairs_removed_with_added() {
        let model = DiffModel::parse(DIFF);
        assert!(model.side_by_side.contains(&Row::Pair {
            hunk: 0,
            left: Some(1),
            right: Some(2)
        }));
        assert!(model.side_by_side.contains(&Row::Pair {
            hunk: 1,
            left: None,
            right: Some(1)
        }));
        assert_eq!(model.unified.len(), 1 + 1 + 5 + 1 + 3);
        assert_eq!(model.hunk_row(1, false), Some(7));
        assert_eq!(model.hunk_at(8, false), Some(1));
        assert_eq!(model.hunk_at(6, false), Some(0));
    }

    #[test]
    fn a_line_rewritten_entirely_gets_no_emphasis() {
        assert_eq!(word_changes("alpha", "omega"), (vec![], vec![]));
        let rewrite = word_changes(
            "    if not sections:",
            "    # Text with nothing but blank lines and comments is a valid, empty config.",
        );
        assert_eq!(rewrite, (vec![], vec![]));
    }
}
