//! The functions and classes a unified diff changes, read against the index of the tree it
//! applies to: what function-level localisation is measured against.
//!
//! A removed line belongs to the unit spanning it ([`super::unit_at`]'s units: classes, methods,
//! functions not inside a function). Added lines belong to the innermost unit around the place
//! they go whose definition is indented less than they are (code added at the end of a method
//! body belongs to the method; a method added between two others belongs to their class).
//! Changes at module level belong to no unit.

use std::collections::BTreeSet;

use super::RepoIndex;
use super::hunk_offset::relocate;
use super::index::IndexedFile;
use super::symbol_rank::units;

/// The `(path, unit)` pairs `diff` changes in the files of `index`, sorted. Hunks are first moved
/// to where their old lines are in the indexed files ([`relocate`]), so a diff made against
/// another version of a file still names the units it changes.
pub fn changed_units(index: &RepoIndex, diff: &str) -> Vec<(String, String)> {
    let diff = relocate(diff, |path| index.file(path));
    let mut found: BTreeSet<(String, String)> = BTreeSet::new();
    let mut file: Option<&IndexedFile> = None;
    // Original line number of the next old line in the current hunk.
    let mut old_line = 0usize;
    // Added lines waiting for the old line after them: (indentation, old line before).
    let mut pending: Option<(usize, usize)> = None;
    let flush = |file: Option<&IndexedFile>,
                 pending: &mut Option<(usize, usize)>,
                 next: usize,
                 found: &mut BTreeSet<(String, String)>| {
        if let (Some(file), Some((indent, before))) = (file, pending.take())
            && let Some(unit) = unit_for_insertion(file, before, next, indent)
        {
            found.insert((file.path.clone(), unit));
        }
    };
    for line in diff.lines() {
        if let Some(rest) = line.strip_prefix("--- ") {
            flush(file, &mut pending, old_line, &mut found);
            let path = rest.trim().trim_start_matches("a/");
            file = index.file(path);
        } else if line.starts_with("+++ ") || line.starts_with("diff --git ") {
            continue;
        } else if let Some(rest) = line.strip_prefix("@@ -") {
            flush(file, &mut pending, old_line, &mut found);
            let old = rest.split_whitespace().next().unwrap_or("");
            let start = old.split(',').next().unwrap_or("0");
            old_line = start.parse().unwrap_or(0);
            // `@@ -5,0 +6 @@`: an insertion after line 5; otherwise the hunk starts at line 5.
            if old.ends_with(",0") {
                old_line += 1;
            }
        } else if let Some(added) = line.strip_prefix('+') {
            if added.trim().is_empty() {
                pending.get_or_insert((usize::MAX, old_line.saturating_sub(1)));
                continue;
            }
            let indent = added.len() - added.trim_start().len();
            let entry = pending.get_or_insert((indent, old_line.saturating_sub(1)));
            entry.0 = entry.0.min(indent);
        } else if line.starts_with('-') {
            flush(file, &mut pending, old_line, &mut found);
            if let Some(file) = file
                && let Some(unit) = super::unit_at(file, old_line)
            {
                found.insert((file.path.clone(), unit));
            }
            old_line += 1;
        } else if line.starts_with(' ') || line.is_empty() {
            flush(file, &mut pending, old_line, &mut found);
            old_line += 1;
        }
    }
    flush(file, &mut pending, old_line, &mut found);
    found.into_iter().collect()
}

/// The unit that lines indented by `indent`, inserted between original lines `before` and
/// `next`, belong to.
fn unit_for_insertion(
    file: &IndexedFile,
    before: usize,
    next: usize,
    indent: usize,
) -> Option<String> {
    if indent == usize::MAX {
        return None;
    }
    units(file)
        .into_iter()
        .filter(|u| {
            let s = &file.symbols[u.symbol];
            let spans = |line: usize| s.start <= line && line <= s.end;
            let def = file.lines(s.start, s.start);
            let def_indent = def.len() - def.trim_start().len();
            (spans(before) || spans(next)) && def_indent < indent
        })
        .max_by_key(|u| file.symbols[u.symbol].depth())
        .map(|u| u.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::Workspace;

    const CODE: &str = "import os\n\nclass Session:\n    timeout = 3\n\n    def send(self, request):\n        prepared = request\n        return prepared\n\n    def close(self):\n        pass\n\n\ndef helper(x):\n    def inner():\n        return x\n    return inner\n";

    fn index() -> (tempfile::TempDir, RepoIndex) {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("s.py"), CODE).unwrap();
        let index = RepoIndex::build(&Workspace::open(dir.path()).unwrap()).unwrap();
        (dir, index)
    }

    fn units_of(diff: &str) -> Vec<String> {
        let (_dir, index) = index();
        changed_units(&index, diff)
            .into_iter()
            .map(|(p, u)| format!("{p}:{u}"))
            .collect()
    }

    #[test]
    fn removed_and_replaced_lines_belong_to_their_method_or_outer_function() {
        let diff = "--- a/s.py\n+++ b/s.py\n@@ -7,2 +7,2 @@\n-        prepared = request\n+        prepared = prepare(request)\n         return prepared\n@@ -16,1 +16,1 @@\n-        return x\n+        return x + 1\n";
        assert_eq!(units_of(diff), ["s.py:Session.send", "s.py:helper"]);
    }

    #[test]
    fn added_lines_belong_to_the_body_or_the_class_they_join() {
        // Appended to the end of `send`'s body.
        let end_of_body = "--- a/s.py\n+++ b/s.py\n@@ -8,1 +8,2 @@\n         return prepared\n+        log(prepared)\n";
        assert_eq!(units_of(end_of_body), ["s.py:Session.send"]);
        // A new method between `send` and `close`.
        let new_method =
            "--- a/s.py\n+++ b/s.py\n@@ -9,0 +10,3 @@\n+    def retry(self):\n+        pass\n+\n";
        assert_eq!(units_of(new_method), ["s.py:Session"]);
        // An import: module level, no unit.
        let import = "--- a/s.py\n+++ b/s.py\n@@ -1,1 +1,2 @@\n import os\n+import re\n";
        assert!(units_of(import).is_empty());
    }
}
