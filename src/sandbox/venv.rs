//! The Python environment model-written code and tests run in.
//!
//! A reproduction script that imports `numpy` fails with `ModuleNotFoundError` under a Python that
//! lacks it, and then proves nothing about the issue. So ponder runs Python with the project's
//! virtualenv when it knows one: the `python_env` setting (config key or `--python-env`), else an
//! active one (`$VIRTUAL_ENV`, passed on as it is), else `.venv/` or `venv/` at the repository's
//! root. Its `bin/` goes first on `PATH` and `VIRTUAL_ENV` names it.
//!
//! The code under test is the worktree's, never an installed copy: a script run from the worktree's
//! root finds a flat layout first, and for a `src/` layout `src` goes first on `PYTHONPATH` (an
//! editable install would otherwise import the user's unpatched checkout).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// Folders at a repository's root that hold its virtualenv, looked for in this order.
const FOUND_AT: &[&str] = &[".venv", "venv"];

/// The virtualenv chosen for a run, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Venv {
    pub dir: PathBuf,
    /// Why this one: "the python_env setting", "found at .venv".
    pub why: String,
}

/// The interpreter of a virtualenv folder, if it has one.
fn interpreter(dir: &Path) -> Option<PathBuf> {
    ["bin/python", "bin/python3"]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// The virtualenv to run with. `setting` is the `python_env` value (a folder; relative to the
/// repository, `~/` for the home folder); a setting that names no virtualenv is an error that says
/// what to give. `active` is `$VIRTUAL_ENV` as ponder has it: when set and nothing is configured,
/// the run inherits it and nothing is chosen here.
pub fn choose(setting: Option<&str>, repo: &Path, active: Option<&str>) -> Result<Option<Venv>> {
    if let Some(setting) = setting.filter(|s| !s.trim().is_empty()) {
        let dir = resolve(setting, repo);
        if interpreter(&dir).is_none() {
            bail!(
                "python_env {setting}: {} holds no bin/python; give the folder of a virtualenv \
                 (made with `python3 -m venv DIR`), or leave python_env unset",
                dir.display()
            );
        }
        return Ok(Some(Venv {
            dir,
            why: "the python_env setting".to_string(),
        }));
    }
    if active.is_some_and(|a| !a.is_empty()) {
        return Ok(None);
    }
    Ok(FOUND_AT.iter().find_map(|name| {
        let dir = repo.join(name);
        interpreter(&dir).map(|_| Venv {
            dir,
            why: format!("found at {name}/ in the repository"),
        })
    }))
}

/// A setting's folder: `~/` is the home folder, a relative path is the repository's.
fn resolve(setting: &str, repo: &Path) -> PathBuf {
    let home = || directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
    let path = match setting.strip_prefix("~/") {
        Some(rest) => home().map_or_else(|| PathBuf::from(setting), |h| h.join(rest)),
        None => PathBuf::from(setting),
    };
    if path.is_absolute() {
        path
    } else {
        repo.join(path)
    }
}

/// True when the tree keeps its Python packages under `src/` (`src/NAME/__init__.py`).
pub fn src_layout(tree: &Path) -> bool {
    std::fs::read_dir(tree.join("src")).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().join("__init__.py").is_file())
    })
}

/// The variables a run in `tree` gets for Python: the virtualenv's (when one was chosen) and
/// `src` first on `PYTHONPATH` for a `src/` layout. `path` and `pythonpath` are ponder's own
/// `PATH` and `PYTHONPATH`.
pub fn run_env(
    venv: Option<&Venv>,
    tree: &Path,
    path: Option<&str>,
    pythonpath: Option<&str>,
) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if let Some(venv) = venv {
        let bin = venv.dir.join("bin").display().to_string();
        let path = match path.filter(|p| !p.is_empty()) {
            Some(rest) => format!("{bin}:{rest}"),
            None => bin,
        };
        env.push(("PATH".to_string(), path));
        env.push(("VIRTUAL_ENV".to_string(), venv.dir.display().to_string()));
    }
    if src_layout(tree) {
        let value = match pythonpath.filter(|p| !p.is_empty()) {
            Some(rest) => format!("src:{rest}"),
            None => "src".to_string(),
        };
        env.push(("PYTHONPATH".to_string(), value));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_venv(dir: &Path) {
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("bin/python"), "").unwrap();
    }

    #[test]
    fn a_setting_wins_and_must_be_a_virtualenv() {
        let repo = tempfile::tempdir().unwrap();
        fake_venv(&repo.path().join(".venv"));
        fake_venv(&repo.path().join("envs/py39"));
        let chosen = choose(Some("envs/py39"), repo.path(), Some("/active"))
            .unwrap()
            .unwrap();
        assert_eq!(chosen.dir, repo.path().join("envs/py39"));
        assert_eq!(chosen.why, "the python_env setting");
        let err = choose(Some("nowhere"), repo.path(), None).unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("holds no bin/python"), "{message}");
        assert!(message.contains("python3 -m venv"), "{message}");
    }

    #[test]
    fn an_active_virtualenv_is_inherited_else_the_repositorys_is_found() {
        let repo = tempfile::tempdir().unwrap();
        assert_eq!(choose(None, repo.path(), None).unwrap(), None);
        fake_venv(&repo.path().join("venv"));
        assert_eq!(
            choose(None, repo.path(), Some("/home/u/env")).unwrap(),
            None
        );
        let found = choose(None, repo.path(), None).unwrap().unwrap();
        assert_eq!(found.dir, repo.path().join("venv"));
        assert_eq!(found.why, "found at venv/ in the repository");
        fake_venv(&repo.path().join(".venv"));
        let found = choose(Some(" "), repo.path(), None).unwrap().unwrap();
        assert_eq!(found.dir, repo.path().join(".venv"));
    }

    #[test]
    fn the_virtualenv_goes_first_and_a_src_layout_is_imported_from_the_tree() {
        let tree = tempfile::tempdir().unwrap();
        let venv = Venv {
            dir: PathBuf::from("/envs/py39"),
            why: String::new(),
        };
        assert_eq!(
            run_env(Some(&venv), tree.path(), Some("/usr/bin"), None),
            [
                ("PATH".to_string(), "/envs/py39/bin:/usr/bin".to_string()),
                ("VIRTUAL_ENV".to_string(), "/envs/py39".to_string()),
            ]
        );
        assert!(run_env(None, tree.path(), Some("/usr/bin"), None).is_empty());
        std::fs::create_dir_all(tree.path().join("src/flask")).unwrap();
        assert!(run_env(None, tree.path(), None, None).is_empty());
        std::fs::write(tree.path().join("src/flask/__init__.py"), "").unwrap();
        assert_eq!(
            run_env(None, tree.path(), None, Some("/extra")),
            [("PYTHONPATH".to_string(), "src:/extra".to_string())]
        );
    }
}
