//! Where the Python environment of a run lives, asked once of each interpreter and remembered.
//!
//! The sandbox lets model code read a project's interpreter and packages, which may live outside
//! the system folders (a virtualenv, pyenv, conda, `pip install --user`, `PYTHONPATH`). Rather
//! than guess, ponder runs the interpreters the run would find on its `PATH` (`python3`, `python`
//! and the run's own program when it is a Python) once, outside the sandbox, in an empty folder,
//! and asks for `sys.prefix`, `sys.base_prefix`, `sys.path` and the user site folder. This runs
//! the user's interpreter, never model code. Answers are kept per interpreter and the variables
//! that change them, for the life of the process.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::env;
use super::run::{self, RunSpec};

/// Prints the folders a Python interpreter reads, as a JSON list.
const QUERY: &str = "import json, sys, site\n\
paths = [sys.executable, sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]\n\
paths += sys.path\n\
try:\n    paths.append(site.getusersitepackages())\nexcept Exception:\n    pass\n\
print('PONDER-PYTHON-PATHS', json.dumps(paths))\n";

/// Variables that change what an interpreter answers (with the interpreter, the cache key).
const KEY_VARS: &[&str] = &[
    "PATH",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "PYTHONNOUSERSITE",
    "HOME",
    "VIRTUAL_ENV",
    "PYENV_VERSION",
    "PYENV_ROOT",
];

type Key = (PathBuf, Vec<Option<OsString>>);

/// The folders the Python interpreters of a run read: absolute, existing, without duplicates.
pub fn roots(env: &[(OsString, OsString)], program: &str) -> Vec<PathBuf> {
    static CACHE: Mutex<Option<HashMap<Key, Vec<PathBuf>>>> = Mutex::new(None);
    let path_var = env::lookup(env, "PATH").cloned().unwrap_or_default();
    let mut names = vec!["python3", "python"];
    let base = Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if base.starts_with("python") && !names.contains(&program) {
        names.push(program);
    }
    let mut interpreters: Vec<PathBuf> = names
        .iter()
        .filter_map(|name| find_program(name, &path_var))
        .collect();
    interpreters.dedup();
    let mut roots = Vec::new();
    for interpreter in interpreters {
        let key: Key = (
            interpreter.clone(),
            KEY_VARS
                .iter()
                .map(|v| env::lookup(env, v).cloned())
                .collect(),
        );
        let known = CACHE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(HashMap::new)
            .get(&key)
            .cloned();
        let found = match known {
            Some(found) => found,
            None => {
                let found = ask(&interpreter, env);
                CACHE
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert_with(HashMap::new)
                    .insert(key, found.clone());
                found
            }
        };
        roots.extend(found);
    }
    roots.sort();
    roots.dedup();
    roots
}

/// Finds `name` as the run would: a path with a slash as is, else the first match on `PATH`.
pub fn find_program(name: &str, path_var: &std::ffi::OsStr) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(path_var)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs the query with `interpreter`; an interpreter that fails answers nothing.
fn ask(interpreter: &Path, env: &[(OsString, OsString)]) -> Vec<PathBuf> {
    let Ok(empty) = tempfile::tempdir() else {
        return Vec::new();
    };
    let spec = RunSpec {
        argv: vec![
            interpreter.display().to_string(),
            "-c".to_string(),
            QUERY.to_string(),
        ],
        cwd: empty.path().to_path_buf(),
        timeout: Duration::from_secs(20),
        output_cap: 1 << 20,
        env: env
            .iter()
            .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v.to_str()?.to_string())))
            .collect(),
        confinement: None,
    };
    let Ok(result) = run::run(&spec, &|| false) else {
        return Vec::new();
    };
    parse_answer(&result.output, empty.path())
}

/// Reads the query's answer: existing absolute paths, not the empty folder it ran in.
fn parse_answer(output: &str, cwd: &Path) -> Vec<PathBuf> {
    let Some(json) = output
        .lines()
        .find_map(|line| line.strip_prefix("PONDER-PYTHON-PATHS "))
    else {
        return Vec::new();
    };
    let Ok(paths) = serde_json::from_str::<Vec<String>>(json) else {
        return Vec::new();
    };
    let mut roots: Vec<PathBuf> = paths
        .into_iter()
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && !p.starts_with(cwd) && p.exists())
        .collect();
    roots.sort();
    roots.dedup();
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_existing_absolute_paths() {
        let dir = tempfile::tempdir().unwrap();
        let output = format!(
            "noise\nPONDER-PYTHON-PATHS [\"/usr\", \"\", \"relative\", \"/no/such/place\", {:?}, \"/usr\"]\n",
            dir.path().join("x").display().to_string()
        );
        std::fs::create_dir(dir.path().join("x")).unwrap();
        assert_eq!(parse_answer(&output, dir.path()), [PathBuf::from("/usr")]);
        assert_eq!(parse_answer("Traceback", dir.path()), Vec::<PathBuf>::new());
    }

    #[test]
    fn the_interpreter_names_its_prefix() {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let Some(python) = find_program("python3", &path) else {
            return;
        };
        let env = vec![(OsString::from("PATH"), path)];
        let roots = roots(&env, "python3");
        assert!(!roots.is_empty(), "{python:?} answered nothing");
        let prefix = std::process::Command::new(&python)
            .args(["-c", "import sys; print(sys.prefix)"])
            .output()
            .unwrap();
        let prefix = PathBuf::from(String::from_utf8_lossy(&prefix.stdout).trim());
        assert!(roots.contains(&prefix), "{roots:?} lacks {prefix:?}");
    }
}
