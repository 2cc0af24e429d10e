//! Which command runs a project's tests, and how to read its log: from `test_cmd` in the config, or
//! detected from the files at the repository's root; for pytest, narrowed to the test modules named
//! after the files a fix changes when there are some ([`related_test_files`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::test_log::LogFormat;

/// A shell command that runs tests, and the format of its log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCommand {
    /// Run with `sh -c` in the worktree's root.
    pub shell: String,
    pub format: LogFormat,
}

impl TestCommand {
    /// A command the user gave; its log format is guessed from the command's words.
    pub fn given(shell: &str) -> TestCommand {
        let words: Vec<&str> = shell.split_whitespace().collect();
        let has = |w: &str| words.contains(&w);
        let format = if has("pytest") || has("py.test") {
            LogFormat::Pytest
        } else if has("unittest") {
            LogFormat::Unittest
        } else if has("cargo") && has("test") {
            LogFormat::Cargo
        } else if has("go") && has("test") {
            LogFormat::Go
        } else {
            LogFormat::ExitStatus
        };
        TestCommand {
            shell: shell.to_string(),
            format,
        }
    }

    /// SWE-bench's pytest command for the given test files (`pytest -rA FILES…`).
    pub fn pytest_files(files: &[String]) -> TestCommand {
        let mut shell = "python -m pytest -rA".to_string();
        for file in files {
            shell.push(' ');
            shell.push_str(&shell_quote(file));
        }
        TestCommand {
            shell,
            format: LogFormat::Pytest,
        }
    }

    /// Guesses the runner from the repository's files; `None` when nothing is recognised. A
    /// Python project is run with pytest when anything says it uses pytest, else with unittest:
    /// pytest runs unittest's tests too, while unittest finds none of pytest's (seaborn's suite
    /// ran 0 tests under it and guarded nothing).
    pub fn detect(root: &Path) -> Option<TestCommand> {
        let exists = |name: &str| root.join(name).exists();
        let text = |name: &str| std::fs::read_to_string(root.join(name)).unwrap_or_default();
        let (shell, format) = if exists("Cargo.toml") {
            ("cargo test", LogFormat::Cargo)
        } else if exists("go.mod") {
            ("go test -v ./...", LogFormat::Go)
        } else if exists("package.json") && text("package.json").contains("\"test\"") {
            ("npm test", LogFormat::ExitStatus)
        } else if uses_pytest(root) {
            ("python -m pytest -rA", LogFormat::Pytest)
        } else if exists("setup.py") || exists("pyproject.toml") || has_python_tests(root) {
            ("python -m unittest -v", LogFormat::Unittest)
        } else {
            return None;
        };
        Some(TestCommand {
            shell: shell.to_string(),
            format,
        })
    }
}

fn has_python_tests(root: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(root) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        (name.starts_with("test") && name.ends_with(".py")) || name == "tests"
    })
}

/// What a Python test module tests, by its file name: `NAME` for `test_NAME.py`,
/// `unittest_NAME.py` (pylint's) or `NAME_test.py`; `None` when the file is no test module.
fn tested_name(file_name: &str) -> Option<&str> {
    let stem = file_name.strip_suffix(".py")?;
    if let Some((first, rest)) = stem.split_once('_')
        && first.ends_with("test")
        && !rest.is_empty()
    {
        return Some(rest);
    }
    stem.strip_suffix("_test").filter(|s| !s.is_empty())
}

/// The test modules in `listing` that test `sources` by name, in listing order: `test_NAME.py`,
/// `unittest_NAME.py` or `NAME_test.py` for a changed `NAME.py` or `_NAME.py` (a package's
/// `__init__.py` by its folder's name), and a changed test module itself. Empty when none is named so; the caller
/// then runs the whole suite.
pub fn related_test_files(listing: &[String], sources: &[String]) -> Vec<String> {
    let file_name = |path: &str| path.rsplit('/').next().unwrap_or(path).to_string();
    let mut names: Vec<String> = Vec::new();
    for source in sources.iter().filter(|s| s.ends_with(".py")) {
        let name = file_name(source);
        if tested_name(&name).is_some() {
            continue;
        }
        match name.strip_suffix(".py") {
            Some("__init__") => {
                let parts: Vec<&str> = source.split('/').collect();
                if parts.len() >= 2 {
                    names.push(parts[parts.len() - 2].trim_start_matches('_').to_string());
                }
            }
            Some(stem) => names.push(stem.trim_start_matches('_').to_string()),
            None => {}
        }
    }
    listing
        .iter()
        .filter(|path| {
            let name = file_name(path);
            tested_name(&name).is_some_and(|tested| names.iter().any(|n| n == tested))
                || (tested_name(&name).is_some() && sources.contains(path))
        })
        .cloned()
        .collect()
}

/// Quotes a word for `sh` unless it is plainly safe.
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=+@%,[]".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Whether a Python project says it uses pytest: a `pytest.ini`, a `conftest.py` at its root or
/// in its test folder, or pytest named in its configuration, build files or requirements.
fn uses_pytest(root: &Path) -> bool {
    const PRESENT: &[&str] = &[
        "pytest.ini",
        "conftest.py",
        "tests/conftest.py",
        "test/conftest.py",
        "testing/conftest.py",
    ];
    const NAMING: &[&str] = &[
        "pyproject.toml",
        "setup.cfg",
        "setup.py",
        "tox.ini",
        "Makefile",
        "requirements.txt",
        "requirements-dev.txt",
        "requirements_dev.txt",
        "requirements-test.txt",
        "requirements_test.txt",
        "requirements_test_min.txt",
        "dev-requirements.txt",
        "test-requirements.txt",
    ];
    PRESENT.iter().any(|name| root.join(name).is_file())
        || NAMING.iter().any(|name| {
            std::fs::read_to_string(root.join(name))
                .is_ok_and(|text| text.contains("pytest") || text.contains("py.test"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_modules_are_found_by_the_names_of_the_changed_files() {
        let listing: Vec<String> = [
            "seaborn/axisgrid.py",
            "seaborn/_core/__init__.py",
            "tests/test_axisgrid.py",
            "tests/_core/test_core.py",
            "tests/test_utils.py",
            "pkg/io/reader_test.py",
            "tests/test_docs.py",
            "pylint/checkers/misc.py",
            "tests/checkers/unittest_misc.py",
            "tests/latest.py",
        ]
        .map(String::from)
        .to_vec();
        let related = |sources: &[&str]| {
            related_test_files(
                &listing,
                &sources.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            related(&["seaborn/axisgrid.py"]),
            ["tests/test_axisgrid.py"]
        );
        assert_eq!(
            related(&["seaborn/_core/__init__.py"]),
            ["tests/_core/test_core.py"]
        );
        assert_eq!(related(&["pkg/io/reader.py"]), ["pkg/io/reader_test.py"]);
        assert_eq!(
            related(&["tests/test_docs.py", "seaborn/utils.py"]),
            ["tests/test_utils.py", "tests/test_docs.py"]
        );
        assert_eq!(
            related(&["pylint/checkers/misc.py"]),
            ["tests/checkers/unittest_misc.py"]
        );
        assert!(related(&["seaborn/palettes.py", "README.md"]).is_empty());
        assert!(related(&["tests/latest.py"]).is_empty());
    }

    #[test]
    fn detects_runners_from_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(TestCommand::detect(dir.path()), None);
        std::fs::write(dir.path().join("test_x.py"), "").unwrap();
        assert_eq!(
            TestCommand::detect(dir.path()).unwrap().format,
            LogFormat::Unittest
        );
        std::fs::write(dir.path().join("setup.py"), "setup(name='x')").unwrap();
        assert_eq!(
            TestCommand::detect(dir.path()).unwrap().format,
            LogFormat::Unittest
        );
        // seaborn: pytest only among the optional dependencies, conftest.py in tests/.
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project.optional-dependencies]\ndev = [\"pytest\", \"flake8\"]\n",
        )
        .unwrap();
        assert_eq!(
            TestCommand::detect(dir.path()).unwrap().shell,
            "python -m pytest -rA"
        );
        std::fs::remove_file(dir.path().join("pyproject.toml")).unwrap();
        std::fs::create_dir(dir.path().join("tests")).unwrap();
        std::fs::write(dir.path().join("tests/conftest.py"), "").unwrap();
        assert_eq!(
            TestCommand::detect(dir.path()).unwrap().shell,
            "python -m pytest -rA"
        );
        // requests: `py.test` in its Makefile.
        std::fs::remove_file(dir.path().join("tests/conftest.py")).unwrap();
        std::fs::write(dir.path().join("Makefile"), "test:\n\tpy.test\n").unwrap();
        assert_eq!(
            TestCommand::detect(dir.path()).unwrap().format,
            LogFormat::Pytest
        );
        std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
        assert_eq!(
            TestCommand::detect(dir.path()).unwrap().format,
            LogFormat::Cargo
        );
    }

    #[test]
    fn given_commands_and_quoting() {
        assert_eq!(
            TestCommand::given("python3 -m unittest").format,
            LogFormat::Unittest
        );
        assert_eq!(
            TestCommand::given("make check").format,
            LogFormat::ExitStatus
        );
        assert_eq!(
            TestCommand::pytest_files(&["tests/a b.py".into(), "t.py".into()]).shell,
            "python -m pytest -rA 'tests/a b.py' t.py"
        );
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
