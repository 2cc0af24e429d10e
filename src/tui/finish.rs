//! Finishing a fix: the shown patch, less the hunks the user rejected, written to a file, applied
//! to the repository's working tree, or committed on a new branch. Applying refuses when a file
//! the patch touches has uncommitted changes; committing never touches the working tree or HEAD.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use git2::{ApplyLocation, ApplyOptions, Diff, Repository, Signature, Status};

/// What to do with the patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Write it to `ponder-<session>.patch` in the current folder.
    Write,
    /// Apply it to the repository's working tree.
    Apply,
    /// Commit it on a new branch `ponder/<session>`, leaving the checkout as it is.
    Commit,
}

impl Finish {
    /// The question the confirmation dialog asks.
    pub fn question(self, beam: u32, repo: &str) -> String {
        match self {
            Finish::Write => format!("Write patch #{beam} to a .patch file in the current folder?"),
            Finish::Apply => format!(
                "Apply patch #{beam} to the working tree of {repo}? (refused if it would touch uncommitted changes)"
            ),
            Finish::Commit => format!(
                "Commit patch #{beam} on a new branch of {repo}? (your checkout stays as it is)"
            ),
        }
    }
}

/// What is finished: a patch of a session.
#[derive(Debug, Clone)]
pub struct Finishing<'a> {
    pub repo: &'a Path,
    pub session_id: &'a str,
    pub issue_title: &'a str,
    pub beam: u32,
    /// The patch, rejected hunks already left out.
    pub diff: String,
}

/// Does it; returns what to tell the user.
pub fn finish(what: Finish, finishing: &Finishing, out_dir: &Path) -> Result<String> {
    if finishing.diff.trim().is_empty() {
        bail!("the patch is empty (every hunk rejected?): nothing to finish");
    }
    match what {
        Finish::Write => {
            let path = write_patch(finishing, out_dir)?;
            Ok(format!("wrote {}", path.display()))
        }
        Finish::Apply => {
            let files = apply(finishing.repo, &finishing.diff)?;
            Ok(format!(
                "applied patch #{} to {}: {}",
                finishing.beam,
                finishing.repo.display(),
                files.join(", ")
            ))
        }
        Finish::Commit => {
            let (branch, oid) = commit(finishing)?;
            Ok(format!(
                "committed patch #{} as {} on branch {branch}",
                finishing.beam,
                &oid[..oid.len().min(10)]
            ))
        }
    }
}

/// Finishes with the patch the app shows, less the hunks the user rejected.
pub fn finish_shown(app: &super::App, what: Finish, out_dir: &Path) -> Result<String> {
    let (Some(patch), Some(header)) = (app.shown_patch(), app.state.header.as_ref()) else {
        bail!("no patch to finish with yet");
    };
    let finishing = Finishing {
        repo: Path::new(&header.repo),
        session_id: &header.session_id,
        issue_title: &header.issue.title,
        beam: patch.beam,
        diff: app
            .highlighter
            .model(&patch.diff)
            .1
            .patch
            .without_hunks(&patch.rejected),
    };
    finish(what, &finishing, out_dir)
}

fn write_patch(finishing: &Finishing, dir: &Path) -> Result<PathBuf> {
    let id = finishing.session_id;
    let mut path = dir.join(format!("ponder-{id}-{}.patch", finishing.beam));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("ponder-{id}-{}-{n}.patch", finishing.beam));
        n += 1;
    }
    std::fs::write(&path, &finishing.diff)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn parse(diff: &str) -> Result<Diff<'static>> {
    Diff::from_buffer(diff.as_bytes()).context("the patch is not a diff git can read")
}

/// Paths the diff touches (old and new names).
fn touched(diff: &Diff) -> Vec<String> {
    let mut paths: Vec<String> = diff
        .deltas()
        .flat_map(|d| [d.old_file().path(), d.new_file().path()])
        .flatten()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p != "/dev/null")
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Applies `diff` to the working tree of `repo`; returns the files it touched.
pub fn apply(repo: &Path, diff: &str) -> Result<Vec<String>> {
    let repository = Repository::open(repo)
        .with_context(|| format!("{} is not a git repository", repo.display()))?;
    let parsed = parse(diff)?;
    let files = touched(&parsed);
    let dirty: Vec<&String> = files
        .iter()
        .filter(|path| {
            repository
                .status_file(Path::new(path.as_str()))
                .is_ok_and(|s| s != Status::CURRENT && !s.contains(Status::IGNORED))
        })
        .collect();
    if !dirty.is_empty() {
        bail!(
            "not applied: uncommitted changes in {}; commit or stash them first, or write the patch to a file",
            dirty
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut check = ApplyOptions::new();
    check.check(true);
    repository
        .apply(&parsed, ApplyLocation::WorkDir, Some(&mut check))
        .context("the patch does not apply to the working tree as it is now")?;
    repository
        .apply(&parsed, ApplyLocation::WorkDir, None)
        .context("cannot apply the patch")?;
    Ok(files)
}

/// Commits the patch on top of HEAD on a new branch; returns the branch and the commit id.
fn commit(finishing: &Finishing) -> Result<(String, String)> {
    let repository = Repository::open(finishing.repo)
        .with_context(|| format!("{} is not a git repository", finishing.repo.display()))?;
    let head = repository
        .head()
        .and_then(|h| h.peel_to_commit())
        .context("the repository has no commit to put the patch on")?;
    let parsed = parse(&finishing.diff)?;
    let mut index = repository
        .apply_to_tree(&head.tree()?, &parsed, None)
        .context("the patch does not apply to HEAD")?;
    let tree = repository.find_tree(index.write_tree_to(&repository)?)?;
    let signature = repository
        .signature()
        .or_else(|_| Signature::now("ponder", "ponder@localhost"))?;
    let id = finishing.session_id;
    let mut branch = format!("ponder/{id}");
    let mut n = 2;
    while repository
        .find_branch(&branch, git2::BranchType::Local)
        .is_ok()
    {
        branch = format!("ponder/{id}-{n}");
        n += 1;
    }
    repository.branch(&branch, &head, false)?;
    let message = format!(
        "{}\n\nPatch #{} of ponder session {}.\n",
        finishing.issue_title, finishing.beam, finishing.session_id
    );
    let oid = repository.commit(
        Some(&format!("refs/heads/{branch}")),
        &signature,
        &signature,
        &message,
        &tree,
        &[&head],
    )?;
    Ok((branch, oid.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_with_file() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("f"), "a\nb\n").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("f")).unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        index.write().unwrap();
        let sig = Signature::now("t", "t@t").unwrap();
        repo.commit(Some("HEAD"), &sig, &sig, "init", &tree, &[])
            .unwrap();
        dir
    }

    const PATCH: &str = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n";

    fn finishing(repo: &Path) -> Finishing<'_> {
        Finishing {
            repo,
            session_id: "s1",
            issue_title: "Fix a",
            beam: 0,
            diff: PATCH.to_string(),
        }
    }

    #[test]
    fn apply_changes_the_working_tree_but_never_over_uncommitted_changes() {
        let dir = repo_with_file();
        std::fs::write(dir.path().join("f"), "a\nb\nlocal\n").unwrap();
        let err = apply(dir.path(), PATCH).unwrap_err();
        assert!(
            format!("{err:#}").contains("uncommitted changes in f"),
            "{err:#}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("f")).unwrap(),
            "a\nb\nlocal\n"
        );
        std::fs::write(dir.path().join("f"), "a\nb\n").unwrap();
        assert_eq!(apply(dir.path(), PATCH).unwrap(), vec!["f"]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("f")).unwrap(),
            "A\nb\n"
        );
    }

    #[test]
    fn commit_puts_the_patch_on_a_new_branch_and_leaves_the_checkout() {
        let dir = repo_with_file();
        let message = finish(Finish::Commit, &finishing(dir.path()), dir.path()).unwrap();
        assert!(message.contains("on branch ponder/s1"), "{message}");
        let repo = Repository::open(dir.path()).unwrap();
        let branch = repo
            .find_branch("ponder/s1", git2::BranchType::Local)
            .unwrap();
        let tree = branch.get().peel_to_tree().unwrap();
        let blob = tree.get_name("f").unwrap().to_object(&repo).unwrap();
        assert_eq!(blob.as_blob().unwrap().content(), b"A\nb\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("f")).unwrap(),
            "a\nb\n"
        );
        let head = repo.head().unwrap().peel_to_commit().unwrap();
        assert_eq!(head.message().unwrap(), "init", "HEAD did not move");
        // A second commit gets a branch of its own.
        let again = finish(Finish::Commit, &finishing(dir.path()), dir.path()).unwrap();
        assert!(again.contains("ponder/s1-2"), "{again}");
    }

    #[test]
    fn write_saves_the_patch_without_overwriting() {
        let dir = tempfile::tempdir().unwrap();
        let f = finishing(dir.path());
        let first = finish(Finish::Write, &f, dir.path()).unwrap();
        let second = finish(Finish::Write, &f, dir.path()).unwrap();
        assert_ne!(first, second);
        let written = std::fs::read_to_string(dir.path().join("ponder-s1-0.patch")).unwrap();
        assert_eq!(written, PATCH);
    }
}
