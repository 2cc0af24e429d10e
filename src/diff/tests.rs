use super::*;
use proptest::prelude::*;
use similar::TextDiff;

const TWO_FILES: &str = "diff --git a/src/app.py b/src/app.py
index 3b18e51..a7c2f3e 100644
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
diff --git a/new.txt b/new.txt
new file mode 100644
--- /dev/null
+++ b/new.txt
@@ -0,0 +1 @@
+hello
\\ No newline at end of file
";

/// A git-style diff of one file, as ponder's patch stage writes them.
fn git_diff(path: &str, before: &str, after: &str) -> String {
    let mut out = format!("diff --git a/{path} b/{path}\n");
    out.push_str(
        &TextDiff::from_lines(before, after)
            .unified_diff()
            .context_radius(3)
            .header(&format!("a/{path}"), &format!("b/{path}"))
            .to_string(),
    );
    out
}

#[test]
fn reads_files_hunks_and_line_numbers() {
    let patch = Patch::parse(TWO_FILES);
    let paths: Vec<&str> = patch.files.iter().map(FilePatch::path).collect();
    assert_eq!(paths, ["src/app.py", "new.txt"]);
    assert_eq!(patch.files[1].old_path, None);
    assert_eq!(patch.files[1].original_path(), "new.txt");
    assert_eq!(patch.hunks().count(), 3);
    let first = &patch.files[0].hunks[0].lines;
    assert_eq!(first[1].kind, LineKind::Removed);
    assert_eq!((first[1].old_no, first[1].new_no), (Some(2), None));
    assert_eq!((first[2].old_no, first[2].new_no), (None, Some(2)));
    assert_eq!(first[2].text, "def load(path, strict=False):");
    assert_eq!((first[3].old_no, first[3].new_no), (Some(3), Some(3)));
    let second = &patch.files[0].hunks[1];
    assert_eq!(second.header, "@@ -10,2 +10,3 @@ def other():");
    assert_eq!(second.lines[1].new_no, Some(11));
    let added = &patch.files[1].hunks[0];
    assert_eq!(added.lines.len(), 1, "the no-newline marker is not a line");
    assert!(added.text().ends_with("\\ No newline at end of file\n"));
}

#[test]
fn old_lines_are_what_a_hunk_replaces() {
    let patch = Patch::parse(
        "--- a/pkg/a.py\n+++ b/pkg/a.py\n@@ -10,3 +10,4 @@ def f():\n x\n+y\n z\n w\n\
         @@ -40 +41,2 @@\n-q\n+r\n+s\n--- a/b.py\n+++ b/b.py\n@@ -5,0 +6 @@\n+new\n",
    );
    let ranges: Vec<(&str, (u32, u32))> = patch
        .hunks()
        .map(|(f, h)| (f.original_path(), h.old_lines()))
        .collect();
    assert_eq!(
        ranges,
        [
            ("pkg/a.py", (10, 12)),
            ("pkg/a.py", (40, 40)),
            ("b.py", (5, 5))
        ]
    );
}

#[test]
fn a_hunk_shown_alone_carries_its_file_names() {
    let patch = Patch::parse(TWO_FILES);
    let hunk = patch.hunk_with_names(1).unwrap();
    assert!(
        hunk.starts_with("--- a/src/app.py\n+++ b/src/app.py\n@@ -10,2"),
        "{hunk}"
    );
    assert!(hunk.contains("+b\n") && !hunk.contains("strict"));
    assert_eq!(patch.hunk_with_names(3), None);
}

#[test]
fn rejected_hunks_are_left_out_and_emptied_files_dropped() {
    let patch = Patch::parse(TWO_FILES);
    assert_eq!(patch.without_hunks(&[]), TWO_FILES);
    let kept = patch.without_hunks(&[0, 2]);
    assert!(
        kept.starts_with("diff --git a/src/app.py b/src/app.py\nindex 3b18e51..a7c2f3e 100644\n--- a/src/app.py\n+++ b/src/app.py\n@@ -10,2"),
        "{kept}"
    );
    assert!(
        !kept.contains("strict") && !kept.contains("new.txt"),
        "{kept}"
    );
    assert_eq!(patch.without_hunks(&[0, 1, 2]), "");
}

#[test]
fn a_removed_line_that_looks_like_a_header_stays_in_its_hunk() {
    // Removing lines "-- x" and "-- y" writes "--- x", "--- y"; the counts say they are still the
    // hunk's, and so is the added "++ z" after them.
    let diff = "--- a/f\n+++ b/f\n@@ -1,2 +1 @@\n--- x\n--- y\n+++ z\n";
    let patch = Patch::parse(diff);
    assert_eq!(patch.files.len(), 1);
    let kinds: Vec<LineKind> = patch.files[0].hunks[0]
        .lines
        .iter()
        .map(|l| l.kind)
        .collect();
    assert_eq!(
        kinds,
        [LineKind::Removed, LineKind::Removed, LineKind::Added]
    );
}

#[test]
fn the_git_line_names_the_file_also_with_spaces_in_its_path() {
    let patch = Patch::parse(
        "diff --git a/my b/file.py b/my b/file.py\n--- a/my b/file.py\n+++ b/my b/file.py\n\
         @@ -1 +1 @@\n-a\n+b\n",
    );
    assert_eq!(patch.files[0].path(), "my b/file.py");
    assert_eq!(patch.files[0].old_path.as_deref(), Some("my b/file.py"));
}

#[test]
fn files_without_hunks_keep_their_names() {
    let diff = "diff --git a/img.png b/img.png\nBinary files a/img.png and b/img.png differ\n\
                diff --git a/old.py b/new.py\nsimilarity index 100%\nrename from old.py\nrename to new.py\n\
                diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n";
    let patch = Patch::parse(diff);
    let names: Vec<(Option<&str>, Option<&str>)> = patch
        .files
        .iter()
        .map(|f| (f.old_path.as_deref(), f.new_path.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            (Some("img.png"), Some("img.png")),
            (Some("old.py"), Some("new.py")),
            (Some("gone.py"), None)
        ]
    );
    assert_eq!(patch.without_hunks(&[]), diff);
}

#[test]
fn a_header_without_counts_takes_the_lines_that_look_like_a_diff() {
    let patch = Patch::parse("@@ something @@\n a\n-b\n+c\nnot a diff line\n");
    let hunk = &patch.files[0].hunks[0];
    assert_eq!(hunk.lines.len(), 3);
    assert_eq!(hunk.lines[2].new_no, Some(2));
}

proptest! {
    #[test]
    fn parser_never_panics(text in "(\\PC|\n|@@ -1,2 \\+1 @@|--- a/x\n\\+\\+\\+ b/x|diff --git a/x b/x){0,40}") {
        let patch = Patch::parse(&text);
        let _ = patch.without_hunks(&[0]);
        let _ = patch.hunk_with_names(0);
    }

    #[test]
    fn numbered_lines_are_the_files_own(
        before in proptest::collection::vec("[a-c ]{0,3}", 0..30),
        edits in proptest::collection::vec((0usize..30, "[a-c+-]{0,3}", any::<bool>()), 1..6),
    ) {
        let mut after = before.clone();
        for (at, text, insert) in edits {
            let at = at.min(after.len());
            if insert || at == after.len() { after.insert(at, text) } else { after[at] = text }
        }
        let text = |lines: &[String]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let (before, after) = (text(&before), text(&after));
        let diff = git_diff("f.txt", &before, &after);
        let patch = Patch::parse(&diff);
        prop_assert_eq!(patch.without_hunks(&[]), diff.clone());
        let old: Vec<&str> = before.lines().collect();
        let new: Vec<&str> = after.lines().collect();
        let (mut removed, mut added) = (0, 0);
        for (_, hunk) in patch.hunks() {
            for line in &hunk.lines {
                if let Some(no) = line.old_no {
                    prop_assert_eq!(old[no as usize - 1], line.text.as_str());
                }
                if let Some(no) = line.new_no {
                    prop_assert_eq!(new[no as usize - 1], line.text.as_str());
                }
                removed += usize::from(line.kind == LineKind::Removed);
                added += usize::from(line.kind == LineKind::Added);
            }
        }
        let ops = TextDiff::from_lines(&before, &after);
        let count = |tag| ops.iter_all_changes().filter(|c| c.tag() == tag).count();
        prop_assert_eq!(removed, count(similar::ChangeTag::Delete));
        prop_assert_eq!(added, count(similar::ChangeTag::Insert));
    }
}
