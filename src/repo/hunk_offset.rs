//! Moving a diff's hunks to where their old lines really are in a file, as `patch` does with an
//! offset: a gold patch read against a later release of its repository (the development trees
//! built from PyPI's source distributions) names line numbers the file no longer has.

use super::index::IndexedFile;

/// How far from the stated line a hunk's old lines are looked for.
const MAX_OFFSET: usize = 20_000;

/// `diff` with each hunk's old start (`@@ -N,…`) moved to the nearest place where its old lines
/// (context and removed) appear in `file_of(path)`'s text. A hunk whose old lines are not found
/// keeps its numbers.
pub fn relocate<'a>(diff: &str, file_of: impl Fn(&str) -> Option<&'a IndexedFile>) -> String {
    let lines: Vec<&str> = diff.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut file: Option<&IndexedFile> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(rest) = line.strip_prefix("--- ") {
            file = file_of(rest.trim().trim_start_matches("a/"));
        }
        let Some(rest) = line.strip_prefix("@@ -") else {
            out.push(line.to_string());
            i += 1;
            continue;
        };
        // The hunk's body: up to the next hunk or file header.
        let body_end = (i + 1..lines.len())
            .find(|&j| {
                lines[j].starts_with("@@ ")
                    || lines[j].starts_with("--- ")
                    || lines[j].starts_with("diff --git ")
            })
            .unwrap_or(lines.len());
        let old: Vec<&str> = lines[i + 1..body_end]
            .iter()
            .filter(|l| l.starts_with(' ') || l.starts_with('-') || l.is_empty())
            .map(|l| l.get(1..).unwrap_or(""))
            .collect();
        let (range, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        let (start, count) = range.split_once(',').unwrap_or((range, ""));
        let stated: usize = start.parse().unwrap_or(0);
        let found = file.and_then(|f| nearest_match(f, &old, stated));
        match found {
            Some(at) if at != stated && !old.is_empty() => {
                let count = if count.is_empty() {
                    String::new()
                } else {
                    format!(",{count}")
                };
                out.push(format!("@@ -{at}{count} {tail}"));
            }
            _ => out.push(line.to_string()),
        }
        out.extend(lines[i + 1..body_end].iter().map(|l| l.to_string()));
        i = body_end;
    }
    let mut text = out.join("\n");
    if diff.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The 1-based line nearest `stated` where `old` begins in `file` (trailing whitespace ignored).
fn nearest_match(file: &IndexedFile, old: &[&str], stated: usize) -> Option<usize> {
    let count = file.line_count();
    if old.is_empty() || old.len() > count {
        return None;
    }
    let matches_at = |start: usize| {
        old.iter()
            .enumerate()
            .all(|(k, want)| file.lines(start + k, start + k).trim_end() == want.trim_end())
    };
    let last = count + 1 - old.len();
    let stated = stated.clamp(1, last);
    (0..=MAX_OFFSET.min(count)).find_map(|d| {
        [stated.checked_sub(d), Some(stated + d)]
            .into_iter()
            .flatten()
            .find(|&s| (1..=last).contains(&s) && matches_at(s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::{RepoIndex, Workspace, changed_units};

    #[test]
    fn a_hunk_moves_to_where_its_lines_are_and_its_unit_follows() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        // The release has two functions more above the one the patch changes.
        let text = "def a():\n    return 1\n\n\ndef b():\n    return 2\n\n\ndef c(x):\n    y = x\n    return y\n";
        std::fs::write(dir.path().join("m.py"), text).unwrap();
        let index = RepoIndex::build(&Workspace::open(dir.path()).unwrap()).unwrap();
        let diff = "--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n def c(x):\n-    y = x\n+    y = x + 1\n     return y\n";
        let moved = relocate(diff, |p| index.file(p));
        assert!(moved.contains("@@ -9,3 +1,3 @@"), "{moved}");
        assert_eq!(
            changed_units(&index, &moved),
            [("m.py".to_string(), "c".to_string())]
        );
        // Lines found where stated, or nowhere: the diff is unchanged.
        let nowhere = diff.replace("y = x\n", "z = 0\n");
        assert_eq!(relocate(&nowhere, |p| index.file(p)), nowhere);
    }
}
