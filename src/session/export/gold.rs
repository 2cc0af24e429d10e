//! A gold patch read for the checks: the files it changes and the original lines of each hunk.

/// One changed file of a unified diff and the original line ranges its hunks replace.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldFile {
    pub path: String,
    /// Inclusive, 1-based ranges of the original file (a pure insertion: the line it follows).
    pub ranges: Vec<(usize, usize)>,
}

/// The files and hunks of a unified diff (`git diff` style).
pub fn parse(diff: &str) -> Vec<GoldFile> {
    let mut files: Vec<GoldFile> = Vec::new();
    for line in diff.lines() {
        if let Some(rest) = line.strip_prefix("--- ") {
            let path = rest.trim().trim_start_matches("a/").to_string();
            if path != "/dev/null" {
                files.push(GoldFile {
                    path,
                    ranges: Vec::new(),
                });
            }
        } else if let Some(rest) = line.strip_prefix("+++ ")
            && files.last().is_none_or(|f| !f.ranges.is_empty())
            && rest.trim() != "/dev/null"
        {
            // A new file: no `--- a/` path to go by.
            let path = rest.trim().trim_start_matches("b/").to_string();
            if files.last().is_none_or(|f| f.path != path) {
                files.push(GoldFile {
                    path,
                    ranges: Vec::new(),
                });
            }
        } else if let Some(rest) = line.strip_prefix("@@ -")
            && let Some(file) = files.last_mut()
        {
            let old = rest.split_whitespace().next().unwrap_or("");
            let (start, count) = old.split_once(',').unwrap_or((old, "1"));
            let start: usize = start.parse().unwrap_or(0);
            let count: usize = count.parse().unwrap_or(1);
            let end = (start + count).saturating_sub(1).max(start);
            file.ranges.push((start.max(1), end.max(1)));
        }
    }
    files
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
