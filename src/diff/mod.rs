//! A unified diff read once: its files, their hunks, and every line with its old and new line
//! numbers. The one reader of diff text in ponder: the pipeline (a rejected hunk's text), the
//! screen (files, hunks, numbered lines), finishing a fix (rejected hunks left out), the verifier
//! (the files a test patch names) and the exports (the lines a gold patch replaces) all start
//! from [`Patch::parse`].
//!
//! Reading is lenient, as `git apply` is: text before the first file, lines between hunks and
//! anything unrecognised is skipped, never an error. A hunk's body is as long as its `@@` header
//! says (so a `--- ` line that removes `-- ` is not taken for a file header); a header without
//! counts takes every line that looks like a diff line. Each hunk keeps its text as written, so a
//! patch less some hunks is the same bytes `git apply` was given, less those hunks.

/// What one line of a hunk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineKind {
    Context,
    Removed,
    Added,
}

/// One line of a hunk, without its `+`/`-`/` ` sign, and where it is in the old and new file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: LineKind,
    pub text: String,
    /// 1-based line number in the old file (context and removed lines).
    pub old_no: Option<u32>,
    /// 1-based line number in the new file (context and added lines).
    pub new_no: Option<u32>,
}

/// One `@@ -a,b +c,d @@` hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// The `@@` line as written, with any section heading after it.
    pub header: String,
    /// First line of the old file the hunk covers (for a pure insertion: the line it follows).
    pub old_start: u32,
    /// Lines of the old file it covers.
    pub old_len: u32,
    pub new_start: u32,
    pub new_len: u32,
    pub lines: Vec<Line>,
    /// The header and body as written, each line ending in `\n`.
    text: String,
}

impl Hunk {
    /// The hunk as written: its `@@` line and body, each line ending in `\n`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The inclusive, 1-based lines of the old file it replaces (a pure insertion: the line it
    /// follows, or line 1).
    pub fn old_lines(&self) -> (u32, u32) {
        let start = self.old_start.max(1);
        let end = (self.old_start + self.old_len).saturating_sub(1).max(start);
        (start, end)
    }
}

/// One file of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    /// The path before the patch (`a/` side, prefix removed); `None` for a new file.
    pub old_path: Option<String>,
    /// The path after the patch (`b/` side, prefix removed); `None` for a deleted file.
    pub new_path: Option<String>,
    pub hunks: Vec<Hunk>,
    /// The lines before the first hunk as written (`diff --git`, `index`, `---`, `+++`…).
    header: String,
    /// The paths came from a `diff --git` line, which wins over `---`/`+++` (as in git).
    git_names: bool,
}

impl FilePatch {
    /// The file's path after the patch, or before it for a deleted file.
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or("")
    }

    /// The file's path before the patch, or after it for a new file.
    pub fn original_path(&self) -> &str {
        self.old_path
            .as_deref()
            .or(self.new_path.as_deref())
            .unwrap_or("")
    }

    /// Its `---` and `+++` lines (what a hunk shown alone needs to say which file it changes).
    fn name_lines(&self) -> impl Iterator<Item = &str> {
        self.header
            .lines()
            .filter(|l| l.starts_with("--- ") || l.starts_with("+++ "))
    }
}

/// A unified diff: its files in order, each with its hunks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Patch {
    pub files: Vec<FilePatch>,
}

impl Patch {
    /// Reads a unified diff (`git diff` or `diff -u` style); never fails.
    pub fn parse(text: &str) -> Patch {
        Reader::default().read(text)
    }

    /// Every hunk with its file, numbered across files in order (hunk numbers are these
    /// positions).
    pub fn hunks(&self) -> impl Iterator<Item = (&FilePatch, &Hunk)> {
        self.files
            .iter()
            .flat_map(|f| f.hunks.iter().map(move |h| (f, h)))
    }

    /// Hunk `index` with its file's `---`/`+++` lines before it, as text.
    pub fn hunk_with_names(&self, index: usize) -> Option<String> {
        let (file, hunk) = self.hunks().nth(index)?;
        let mut out = String::new();
        for line in file.name_lines() {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(hunk.text());
        Some(out)
    }

    /// The patch as text without hunks `rejected` (numbered as [`Patch::hunks`] numbers them);
    /// files left with no hunk are left out. Nothing rejected gives back every file as written.
    pub fn without_hunks(&self, rejected: &[u32]) -> String {
        let mut out = String::new();
        let mut number = 0u32;
        for file in &self.files {
            let kept: Vec<&Hunk> = file
                .hunks
                .iter()
                .filter(|_| {
                    number += 1;
                    !rejected.contains(&(number - 1))
                })
                .collect();
            if kept.is_empty() && !file.hunks.is_empty() {
                continue;
            }
            out.push_str(&file.header);
            for hunk in kept {
                out.push_str(hunk.text());
            }
        }
        out
    }
}

/// How many old and new lines the hunk being read still has to come; `None` without counts.
type Remaining = Option<(u32, u32)>;

/// The parse in progress.
#[derive(Default)]
struct Reader {
    files: Vec<FilePatch>,
    /// Reading a hunk of the last file, and what it still has to come.
    hunk: Option<Remaining>,
    /// Line numbers of the next old and new line.
    next: (u32, u32),
}

impl Reader {
    fn read(mut self, text: &str) -> Patch {
        let lines: Vec<&str> = text.lines().collect();
        for (i, &line) in lines.iter().enumerate() {
            let next = lines.get(i + 1).copied().unwrap_or("");
            let after = lines.get(i + 2).copied().unwrap_or("");
            if let Some(remaining) = self.hunk {
                if self.hunk_goes_on(line, next, after, remaining) {
                    self.body_line(line, remaining);
                    continue;
                }
                self.hunk = None;
            }
            self.outside_hunk(line, next);
        }
        Patch { files: self.files }
    }

    /// Whether `line` still belongs to the hunk being read.
    fn hunk_goes_on(&self, line: &str, next: &str, after: &str, remaining: Remaining) -> bool {
        if line.starts_with("diff --git ") || line.starts_with("@@") {
            return false;
        }
        let exhausted = remaining.is_some_and(|(old, new)| old == 0 && new == 0);
        let names_a_file = line.starts_with("--- ") && next.starts_with("+++ ");
        if names_a_file && (exhausted || after.starts_with("@@")) {
            return false;
        }
        match remaining {
            // Counted: the body, then whatever trails it up to the next header (kept as written).
            Some(_) => true,
            None => matches!(
                line.as_bytes().first(),
                None | Some(b' ' | b'+' | b'-' | b'\\')
            ),
        }
    }

    /// A line of the hunk being read: a numbered line while the counts last, else kept as text.
    fn body_line(&mut self, line: &str, remaining: Remaining) {
        let Some(file) = self.files.last_mut() else {
            return;
        };
        let Some(hunk) = file.hunks.last_mut() else {
            return;
        };
        hunk.text.push_str(line);
        hunk.text.push('\n');
        let (old_left, new_left) = remaining.unwrap_or((u32::MAX, u32::MAX));
        let (kind, text) = match line.as_bytes().first() {
            Some(b' ') if old_left > 0 && new_left > 0 => (LineKind::Context, &line[1..]),
            None if old_left > 0 && new_left > 0 => (LineKind::Context, ""),
            Some(b'-') if old_left > 0 => (LineKind::Removed, &line[1..]),
            Some(b'+') if new_left > 0 => (LineKind::Added, &line[1..]),
            // "\ No newline at end of file", or past the counts.
            _ => return,
        };
        let (old_no, new_no) = match kind {
            LineKind::Context => (Some(self.next.0), Some(self.next.1)),
            LineKind::Removed => (Some(self.next.0), None),
            LineKind::Added => (None, Some(self.next.1)),
        };
        self.next.0 += u32::from(old_no.is_some());
        self.next.1 += u32::from(new_no.is_some());
        hunk.lines.push(Line {
            kind,
            text: text.to_string(),
            old_no,
            new_no,
        });
        if let Some(Some((old, new))) = self.hunk.as_mut() {
            *old -= u32::from(old_no.is_some());
            *new -= u32::from(new_no.is_some());
        }
    }

    /// A line of a file's header, a hunk's `@@` line, or something between files.
    fn outside_hunk(&mut self, line: &str, next: &str) {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            let (old, new) = git_names(rest).unzip();
            self.start_file(old, new);
        } else if line.starts_with("--- ")
            && next.starts_with("+++ ")
            && self.files.last().is_none_or(|f| {
                !f.hunks.is_empty() || f.header.lines().any(|l| l.starts_with("--- "))
            })
        {
            // A file without a `diff --git` line (`diff -u`), or after a whole git file.
            self.start_file(None, None);
        } else if line.starts_with("@@") {
            if self.files.is_empty() {
                self.start_file(None, None);
            }
            self.start_hunk(line);
            return;
        }
        let Some(file) = self.files.last_mut() else {
            return; // Text before the first file (a commit message, say).
        };
        if !file.hunks.is_empty() {
            // Between hunks: kept with the hunk before, as `git apply` was given it.
            if let Some(hunk) = file.hunks.last_mut() {
                hunk.text.push_str(line);
                hunk.text.push('\n');
            }
            return;
        }
        file.header.push_str(line);
        file.header.push('\n');
        if let Some(path) = line.strip_prefix("--- ") {
            match named(path) {
                None => file.old_path = None,
                Some(path) if !file.git_names => file.old_path = Some(path),
                Some(_) => {}
            }
        } else if let Some(path) = line.strip_prefix("+++ ") {
            match named(path) {
                None => file.new_path = None,
                Some(path) if !file.git_names => file.new_path = Some(path),
                Some(_) => {}
            }
        } else if let Some(path) = line.strip_prefix("rename from ") {
            file.old_path = Some(path.to_string());
        } else if let Some(path) = line.strip_prefix("rename to ") {
            file.new_path = Some(path.to_string());
        } else if line.starts_with("new file mode") {
            file.old_path = None;
        } else if line.starts_with("deleted file mode") {
            file.new_path = None;
        }
    }

    fn start_file(&mut self, old_path: Option<String>, new_path: Option<String>) {
        self.files.push(FilePatch {
            git_names: old_path.is_some(),
            old_path,
            new_path,
            hunks: Vec::new(),
            header: String::new(),
        });
    }

    fn start_hunk(&mut self, line: &str) {
        let counts = hunk_counts(line);
        let ((old_start, old_len), (new_start, new_len)) = counts.unwrap_or(((1, 1), (1, 1)));
        self.next = (old_start, new_start);
        self.hunk = Some(counts.map(|_| (old_len, new_len)));
        if let Some(file) = self.files.last_mut() {
            file.hunks.push(Hunk {
                header: line.to_string(),
                old_start,
                old_len,
                new_start,
                new_len,
                lines: Vec::new(),
                text: format!("{line}\n"),
            });
        }
    }
}

/// The old and new paths of `diff --git a/OLD b/NEW`, when they can be told apart: one ` b/` in
/// the line, or the same path twice (a path with ` b/` in it).
fn git_names(rest: &str) -> Option<(String, String)> {
    let rest = rest.strip_prefix("a/")?;
    let mut splits = rest.match_indices(" b/");
    let (at, _) = splits.next()?;
    if splits.next().is_none() {
        return Some((rest[..at].to_string(), rest[at + 3..].to_string()));
    }
    // "X b/X" with X containing " b/": the halves are equal.
    let half = rest.len().checked_sub(3)? / 2;
    let (old, new) = (rest.get(..half)?, rest.get(half..)?.strip_prefix(" b/")?);
    (old == new).then(|| (old.to_string(), new.to_string()))
}

/// The path a `---`/`+++` line names; `None` for `/dev/null`.
fn named(path: &str) -> Option<String> {
    let path = strip_prefix_dir(path);
    (path != "/dev/null").then_some(path)
}

/// `a/src/x.py\t2024-01-01` → `src/x.py`.
fn strip_prefix_dir(path: &str) -> String {
    let path = path.split('\t').next().unwrap_or(path).trim();
    path.strip_prefix("a/")
        .or_else(|| path.strip_prefix("b/"))
        .unwrap_or(path)
        .to_string()
}

/// `@@ -a[,b] +c[,d] @@` → ((a, b), (c, d)), a missing count being 1; `None` if malformed.
fn hunk_counts(header: &str) -> Option<((u32, u32), (u32, u32))> {
    let mut parts = header.strip_prefix("@@ ")?.split_whitespace();
    let range = |part: Option<&str>, sign: char| -> Option<(u32, u32)> {
        let part = part?.strip_prefix(sign)?;
        Some(match part.split_once(',') {
            Some((start, len)) => (start.parse().ok()?, len.parse().ok()?),
            None => (part.parse().ok()?, 1),
        })
    };
    Some((range(parts.next(), '-')?, range(parts.next(), '+')?))
}

#[cfg(test)]
mod tests;
