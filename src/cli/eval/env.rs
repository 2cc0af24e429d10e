//! The Python environments SWE-bench instances' tests run in: which Python and packages each
//! repository version needs, and a virtualenv built once with them from the package registry.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The Python and the packages an instance's tests need.
pub struct EnvSpec {
    pub python: &'static str,
    pub packages: &'static [&'static str],
    /// A requirements file of the instance's checkout, installed from the checkout's folder.
    pub requirements: Option<&'static str>,
}

/// Environments by repository and SWE-bench version (the versions SWE-bench's harness uses where
/// they matter: Python 3.9 for requests and Flask 2.0, 3.11 for Flask 2.3).
pub fn env_spec(repo: &str, version: &str) -> Option<EnvSpec> {
    match (repo, version) {
        ("psf/requests", _) => Some(EnvSpec {
            python: "3.9",
            packages: &["pytest==7.4.4"],
            requirements: None,
        }),
        ("pylint-dev/pylint", _) => Some(EnvSpec {
            python: "3.9",
            // pytest-benchmark 3 needs the real `py` package, and a pytest that still loads it.
            packages: &["pytest==7.4.4", "py==1.11.0"],
            requirements: Some("requirements_test_min.txt"),
        }),
        ("mwaskom/seaborn", "0.12") => Some(EnvSpec {
            python: "3.9",
            packages: &[
                "pytest==7.4.4",
                "numpy==1.25.2",
                "pandas==1.5.3",
                "matplotlib==3.7.2",
                "scipy==1.11.2",
            ],
            requirements: None,
        }),
        ("mwaskom/seaborn", _) => Some(EnvSpec {
            python: "3.9",
            packages: &[
                "pytest==7.4.4",
                "numpy==1.25.2",
                "pandas==2.0.3",
                "matplotlib==3.7.2",
                "scipy==1.11.2",
            ],
            requirements: None,
        }),
        ("pallets/flask", "2.0") => Some(EnvSpec {
            python: "3.9",
            packages: &[
                "pytest==7.4.4",
                "Werkzeug==2.0.3",
                "Jinja2==3.0.3",
                "itsdangerous==2.0.1",
                "click==8.0.4",
                "MarkupSafe==2.0.1",
            ],
            requirements: None,
        }),
        ("pallets/flask", _) => Some(EnvSpec {
            python: "3.11",
            packages: &[
                "pytest==7.4.4",
                "Werkzeug==2.3.7",
                "Jinja2==3.1.2",
                "itsdangerous==2.1.2",
                "click==8.1.3",
                "MarkupSafe==2.1.3",
                "blinker==1.6.2",
                "python-dotenv==1.0.0",
            ],
            requirements: None,
        }),
        _ => None,
    }
}

/// A virtualenv with the spec's Python and packages, built once. Built under a lock on
/// `NAME.lock` beside it, so that runs at once (`eval run --jobs`, or two `eval run`s) that need
/// one environment build it once and do not remove it under each other.
pub fn virtualenv(name: &str, spec: &EnvSpec, checkout: &Path, dir: &Path) -> Result<PathBuf> {
    let venv = dir.join(name);
    let ready = venv.join(".ponder-ready");
    let recipe = format!("{}\n{:?}", spec.packages.join("\n"), spec.requirements);
    let built = || std::fs::read_to_string(&ready).is_ok_and(|built| built == recipe);
    if built() {
        return Ok(venv);
    }
    std::fs::create_dir_all(dir)?;
    let _lock = locked(&dir.join(format!("{name}.lock")))?;
    if built() {
        return Ok(venv);
    }
    let python = find_python(spec.python)?;
    let _ = std::fs::remove_dir_all(&venv);
    eprintln!("building {} with Python {} …", venv.display(), spec.python);
    let status = |mut command: Command, what: &str| -> Result<()> {
        let output = command.output().with_context(|| format!("cannot {what}"))?;
        if !output.status.success() {
            bail!(
                "cannot {what}: {}",
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
        }
        Ok(())
    };
    let mut create = Command::new(&python);
    create.arg("-m").arg("venv").arg(&venv);
    status(create, "create the virtualenv")?;
    if let Some(file) = spec.requirements {
        // First, so that `packages` can pin over it. An editable install of the checkout
        // itself is fine: PYTHONPATH puts the worktree first.
        let mut install = Command::new(venv.join("bin/python"));
        install
            .args(["-m", "pip", "install", "-q", "-r", file])
            .current_dir(checkout);
        status(
            install,
            &format!("install {file} from the package registry"),
        )?;
    }
    if !spec.packages.is_empty() {
        let mut install = Command::new(venv.join("bin/python"));
        install
            .args(["-m", "pip", "install", "-q"])
            .args(spec.packages);
        status(
            install,
            "install the test dependencies from the package registry",
        )?;
    }
    std::fs::write(&ready, recipe)?;
    Ok(venv)
}

/// `path`, created if missing, opened and locked for this process alone until the file is dropped.
pub(super) fn locked(path: &Path) -> Result<std::fs::File> {
    let file = crate::repo::open_lock_file(path)?;
    file.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

/// `pythonX.Y` on PATH, or in pyenv's versions folder.
fn find_python(version: &str) -> Result<PathBuf> {
    let name = format!("python{version}");
    let works = |p: &Path| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let mut candidates = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        let versions = Path::new(&home).join(".pyenv/versions");
        if let Ok(entries) = std::fs::read_dir(&versions) {
            let mut dirs: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{version}.")))
                })
                .collect();
            dirs.sort();
            candidates.extend(dirs.into_iter().rev().map(|d| d.join("bin").join(&name)));
        }
    }
    candidates.push(PathBuf::from(&name));
    candidates.into_iter().find(|p| works(p)).with_context(|| {
        format!(
            "Python {version} is not installed (looked for {name} on PATH and in ~/.pyenv/versions)"
        )
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::locked;

    /// Two `eval run --jobs 2` workers once built one environment at once; one removed it under
    /// the other, whose pip then failed ("No module named pip.__main__").
    #[test]
    fn a_second_locker_waits_until_the_first_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env.lock");
        let done = AtomicBool::new(false);
        let first = locked(&path).unwrap();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| {
                let _second = locked(&path).unwrap();
                done.load(Ordering::SeqCst)
            });
            std::thread::sleep(Duration::from_millis(200));
            done.store(true, Ordering::SeqCst);
            drop(first);
            assert!(
                waiter.join().unwrap(),
                "the second lock was taken while the first was held"
            );
        });
    }
}
