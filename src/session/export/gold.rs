//! A gold patch read for the checks: the files it changes and the original lines of each hunk.

use crate::diff::Patch;

/// One changed file of a unified diff and the original line ranges its hunks replace.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldFile {
    pub path: String,
    /// Inclusive, 1-based ranges of the original file (a pure insertion: the line it follows).
    pub ranges: Vec<(usize, usize)>,
}

/// The files whose text a unified diff changes (`git diff` style, as [`Patch`] reads it) and the
/// original lines of their hunks; binary files and pure renames are left out.
pub fn parse(diff: &str) -> Vec<GoldFile> {
    Patch::parse(diff)
        .files
        .iter()
        .filter(|file| !file.hunks.is_empty())
        .map(|file| GoldFile {
            path: file.original_path().to_string(),
            ranges: file
                .hunks
                .iter()
                .map(|hunk| {
                    let (start, end) = hunk.old_lines();
                    (start as usize, end as usize)
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_and_original_ranges() {
        let diff = "diff --git a/pkg/a.py b/pkg/a.py\n--- a/pkg/a.py\n+++ b/pkg/a.py\n@@ -10,3 +10,4 @@ def f():\n x\n+y\n z\n w\n@@ -40 +41,2 @@\n-q\n+r\n+s\ndiff --git a/b.py b/b.py\n--- a/b.py\n+++ b/b.py\n@@ -5,0 +6 @@\n+new\n";
        assert_eq!(
            parse(diff),
            vec![
                GoldFile {
                    path: "pkg/a.py".into(),
                    ranges: vec![(10, 12), (40, 40)]
                },
                GoldFile {
                    path: "b.py".into(),
                    ranges: vec![(5, 5)]
                }
            ]
        );
    }
}
