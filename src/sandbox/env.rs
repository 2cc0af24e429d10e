//! The environment model code starts with: an allow-list of ponder's own variables, never one
//! that looks like a secret.
//!
//! Model code sees the variables that locate programs, languages and locales (`PATH`, `HOME`,
//! `LANG`, `PYTHONPATH`, `VIRTUAL_ENV`…), the names listed in `PONDER_PASS_ENV`
//! (comma-separated: what a project's tests need, `DJANGO_SETTINGS_MODULE` say), and the
//! variables the run itself sets. Anything else ponder was started with — `OPENAI_API_KEY`,
//! `AWS_*`, `GITHUB_TOKEN`, `SSH_AUTH_SOCK` — stays out, and a name that looks like a secret
//! stays out even when allowed.

use std::ffi::OsString;

/// Variables passed on by exact name.
const NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TERM",
    "NO_COLOR",
    "SOURCE_DATE_EPOCH",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "CONDA_EXE",
    "CONDA_PYTHON_EXE",
    "NODE_PATH",
    "GOPATH",
    "GOROOT",
    "GOFLAGS",
    "GOTOOLCHAIN",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "JAVA_HOME",
    "LD_LIBRARY_PATH",
    "PKG_CONFIG_PATH",
];

/// Variables passed on by prefix (a language's own settings).
const PREFIXES: &[&str] = &["LC_", "PYTHON", "PYENV_", "PYTEST_"];

/// The variable that lists extra names to pass on.
pub const PASS_ENV: &str = "PONDER_PASS_ENV";

/// True when a variable's name looks like it holds a secret.
pub fn is_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "AUTH",
        "COOKIE",
        "SESSION",
    ]
    .iter()
    .any(|word| upper.contains(word))
        || upper.ends_with("_KEY")
        || upper.starts_with("AWS_")
        || upper.starts_with("SSH_")
}

/// True when `name` may be passed from ponder's environment to model code; `extra` holds the
/// names the user listed in `PONDER_PASS_ENV`.
pub fn is_allowed(name: &str, extra: &[String]) -> bool {
    if is_secret(name) {
        return false;
    }
    NAMES.contains(&name)
        || PREFIXES.iter().any(|prefix| name.starts_with(prefix))
        || extra.iter().any(|allowed| allowed == name)
}

/// The names listed in `PONDER_PASS_ENV`.
fn extra_names(value: Option<OsString>) -> Vec<String> {
    value
        .and_then(|v| v.into_string().ok())
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The environment of a run: the allowed part of `inherited` (ponder's environment), then `set`
/// (what the run sets, which wins and is not filtered: ponder and the user chose it).
pub fn for_model_code(
    inherited: impl IntoIterator<Item = (OsString, OsString)>,
    set: &[(String, String)],
) -> Vec<(OsString, OsString)> {
    let inherited: Vec<(OsString, OsString)> = inherited.into_iter().collect();
    let extra = extra_names(
        inherited
            .iter()
            .find(|(name, _)| name == PASS_ENV)
            .map(|(_, value)| value.clone()),
    );
    let mut env: Vec<(OsString, OsString)> = inherited
        .into_iter()
        .filter(|(name, _)| name.to_str().is_some_and(|n| is_allowed(n, &extra)))
        .collect();
    for (name, value) in set {
        env.retain(|(n, _)| n != name.as_str());
        env.push((name.into(), value.into()));
    }
    env
}

/// The value of `name` in an environment built by [`for_model_code`].
pub fn lookup<'a>(env: &'a [(OsString, OsString)], name: &str) -> Option<&'a OsString> {
    env.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn secrets_are_not_passed_on() {
        assert!(is_secret("GITHUB_TOKEN") && is_secret("openai_api_key"));
        assert!(is_secret("AWS_ACCESS_KEY_ID") && is_secret("STRIPE_KEY"));
        assert!(is_secret("AWS_PROFILE") && is_secret("SSH_AUTH_SOCK"));
        assert!(!is_secret("PATH") && !is_secret("HOME"));
    }

    #[test]
    fn only_allowed_names_pass() {
        let env = for_model_code(
            vars(&[
                ("PATH", "/usr/bin"),
                ("HOME", "/home/u"),
                ("LC_ALL", "C.UTF-8"),
                ("PYTHONPATH", "/src"),
                ("OPENAI_API_KEY", "sk-1"),
                ("AWS_SECRET_ACCESS_KEY", "x"),
                ("DATABASE_URL", "postgres://u:p@h/db"),
                ("PYTHON_TOKEN", "t"),
                ("DJANGO_SETTINGS_MODULE", "site.settings"),
            ]),
            &[("TMPDIR".into(), "/tmp/x".into())],
        );
        let names: Vec<&str> = env.iter().map(|(n, _)| n.to_str().unwrap()).collect();
        assert_eq!(names, ["PATH", "HOME", "LC_ALL", "PYTHONPATH", "TMPDIR"]);
    }

    #[test]
    fn pass_env_adds_names_but_never_secrets() {
        let env = for_model_code(
            vars(&[
                ("PONDER_PASS_ENV", "DJANGO_SETTINGS_MODULE, GITHUB_TOKEN"),
                ("DJANGO_SETTINGS_MODULE", "site.settings"),
                ("GITHUB_TOKEN", "ghp"),
            ]),
            &[],
        );
        let names: Vec<&str> = env.iter().map(|(n, _)| n.to_str().unwrap()).collect();
        assert_eq!(names, ["DJANGO_SETTINGS_MODULE"]);
    }

    #[test]
    fn what_the_run_sets_wins() {
        let env = for_model_code(
            vars(&[("PATH", "/usr/bin")]),
            &[("PATH".into(), "/venv/bin:/usr/bin".into())],
        );
        assert_eq!(lookup(&env, "PATH").unwrap(), "/venv/bin:/usr/bin");
        assert_eq!(env.len(), 1);
    }
}
