//! Per-test outcomes read from a test runner's log.
//!
//! pytest logs are read exactly as SWE-bench's `parse_log_pytest` reads `pytest -rA` output: a line
//! that *starts* with a status word names a test as its second word (for `FAILED`, after `" - "`
//! is turned into a space); a later line for the same test wins. `python -m unittest -v`,
//! `cargo test` and `go test -v` logs are read from their one-line-per-test results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One test's outcome, with SWE-bench's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TestStatus {
    Passed,
    Failed,
    Error,
    Xfail,
    Skipped,
}

impl TestStatus {
    /// The order SWE-bench's `TestStatus` enum checks prefixes in.
    const PYTEST_WORDS: [(&'static str, TestStatus); 5] = [
        ("FAILED", TestStatus::Failed),
        ("PASSED", TestStatus::Passed),
        ("SKIPPED", TestStatus::Skipped),
        ("ERROR", TestStatus::Error),
        ("XFAIL", TestStatus::Xfail),
    ];

    /// The word pytest prints for it.
    pub fn word(self) -> &'static str {
        match self {
            TestStatus::Passed => "PASSED",
            TestStatus::Failed => "FAILED",
            TestStatus::Error => "ERROR",
            TestStatus::Xfail => "XFAIL",
            TestStatus::Skipped => "SKIPPED",
        }
    }

    /// PASSED and XFAIL count as passed when grading.
    pub fn counts_as_passed(self) -> bool {
        matches!(self, TestStatus::Passed | TestStatus::Xfail)
    }
}

/// Which runner wrote a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// `pytest -rA`.
    Pytest,
    /// `python -m unittest -v`.
    Unittest,
    /// `cargo test`.
    Cargo,
    /// `go test -v`.
    Go,
    /// No per-test lines: only the exit status says anything.
    ExitStatus,
}

/// Test id → status, in id order.
pub type TestStatuses = BTreeMap<String, TestStatus>;

/// The tests that passed in `before` and do not in `after`, among those both runs name; `None`
/// when either names none (a runner without per-test lines, a run cut by its time limit), where
/// only the exit status can tell. A test missing from one log is not judged: capped output may
/// have cut its line.
pub fn newly_failing(before: &TestStatuses, after: &TestStatuses) -> Option<Vec<String>> {
    if before.is_empty() || after.is_empty() {
        return None;
    }
    Some(
        before
            .iter()
            .filter(|(id, status)| {
                status.counts_as_passed() && after.get(*id).is_some_and(|s| !s.counts_as_passed())
            })
            .map(|(id, _)| id.clone())
            .collect(),
    )
}

/// Reads per-test outcomes from a log of the given format.
pub fn parse(format: LogFormat, log: &str) -> TestStatuses {
    match format {
        LogFormat::Pytest => parse_pytest(log),
        LogFormat::Unittest => parse_unittest(log),
        LogFormat::Cargo => parse_cargo(log),
        LogFormat::Go => parse_go(log),
        LogFormat::ExitStatus => TestStatuses::new(),
    }
}

/// SWE-bench's pytest parser (see the module docs).
pub fn parse_pytest(log: &str) -> TestStatuses {
    let mut statuses = TestStatuses::new();
    for line in log.split('\n') {
        let Some(&(word, status)) = TestStatus::PYTEST_WORDS
            .iter()
            .find(|(word, _)| line.starts_with(word))
        else {
            continue;
        };
        let line = if word == "FAILED" {
            line.replace(" - ", " ")
        } else {
            line.to_string()
        };
        if let Some(test) = line.split_whitespace().nth(1) {
            statuses.insert(test.to_string(), status);
        }
    }
    statuses
}

/// `test_name (module.Class) ... ok` → `module.Class.test_name`.
fn parse_unittest(log: &str) -> TestStatuses {
    let mut statuses = TestStatuses::new();
    for line in log.lines() {
        let Some((head, result)) = line.split_once(" ... ") else {
            continue;
        };
        let status = match result.trim() {
            "ok" => TestStatus::Passed,
            "FAIL" => TestStatus::Failed,
            "ERROR" => TestStatus::Error,
            "expected failure" => TestStatus::Xfail,
            other if other.starts_with("skipped") => TestStatus::Skipped,
            _ => continue,
        };
        // Python ≤ 3.10 prints `name (module.Class)`, 3.11+ `name (module.Class.name)`.
        let id = match head.split_once(" (") {
            Some((name, owner)) => {
                let owner = owner.trim_end_matches(')');
                if owner.ends_with(&format!(".{name}")) {
                    owner.to_string()
                } else {
                    format!("{owner}.{name}")
                }
            }
            None => head.to_string(),
        };
        statuses.insert(id, status);
    }
    statuses
}

/// `test path::to::name ... ok|FAILED|ignored`.
fn parse_cargo(log: &str) -> TestStatuses {
    let mut statuses = TestStatuses::new();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, result)) = rest.split_once(" ... ") else {
            continue;
        };
        let status = match result.trim() {
            "ok" => TestStatus::Passed,
            "FAILED" => TestStatus::Failed,
            r if r.starts_with("ignored") => TestStatus::Skipped,
            _ => continue,
        };
        statuses.insert(name.to_string(), status);
    }
    statuses
}

/// `--- PASS: TestName (0.00s)`, `--- FAIL:`, `--- SKIP:`.
fn parse_go(log: &str) -> TestStatuses {
    let mut statuses = TestStatuses::new();
    for line in log.lines() {
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix("--- ") else {
            continue;
        };
        let Some((word, name)) = rest.split_once(": ") else {
            continue;
        };
        let status = match word {
            "PASS" => TestStatus::Passed,
            "FAIL" => TestStatus::Failed,
            "SKIP" => TestStatus::Skipped,
            _ => continue,
        };
        if let Some(name) = name.split_whitespace().next() {
            statuses.insert(name.to_string(), status);
        }
    }
    statuses
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn newly_failing_tests_are_those_both_logs_name() {
        let before = parse_pytest(
            "PASSED t.py::a\nPASSED t.py::b\nFAILED t.py::c - boom\nPASSED t.py::gone\n",
        );
        let after = parse_pytest(
            "FAILED t.py::a - broke\nPASSED t.py::b\nPASSED t.py::c\nPASSED t.py::new\n",
        );
        assert_eq!(
            newly_failing(&before, &after),
            Some(vec!["t.py::a".to_string()])
        );
        assert_eq!(newly_failing(&before, &before), Some(vec![]));
        assert_eq!(newly_failing(&before, &TestStatuses::new()), None);
        assert_eq!(newly_failing(&TestStatuses::new(), &after), None);
    }

    #[test]
    fn unittest_cargo_and_go_lines() {
        let unittest = parse_unittest(
            "test_empty (test_loader.LoaderTests) ... ok\ntest_bad (t.T.test_bad) ... FAIL\ntest_x (t.T) ... skipped 'no'\n",
        );
        assert_eq!(
            unittest.get("test_loader.LoaderTests.test_empty"),
            Some(&TestStatus::Passed)
        );
        assert_eq!(unittest.get("t.T.test_bad"), Some(&TestStatus::Failed));
        assert_eq!(unittest.get("t.T.test_x"), Some(&TestStatus::Skipped));
        let cargo = parse_cargo("test a::b ... ok\ntest c ... FAILED\ntest d ... ignored\n");
        assert_eq!(cargo.len(), 3);
        assert_eq!(cargo.get("c"), Some(&TestStatus::Failed));
        let go =
            parse_go("=== RUN   TestA\n--- PASS: TestA (0.00s)\n    --- FAIL: TestA/sub (0.01s)\n");
        assert_eq!(go.get("TestA"), Some(&TestStatus::Passed));
        assert_eq!(go.get("TestA/sub"), Some(&TestStatus::Failed));
    }

    fn status() -> impl Strategy<Value = TestStatus> {
        prop_oneof![
            Just(TestStatus::Passed),
            Just(TestStatus::Failed),
            Just(TestStatus::Error),
            Just(TestStatus::Xfail),
            Just(TestStatus::Skipped),
        ]
    }

    proptest! {
        /// Summary lines written the way `pytest -rA` writes them are read back exactly, whatever
        /// noise surrounds them, and the last line for a test wins.
        #[test]
        fn reads_back_what_pytest_writes(
            tests in proptest::collection::vec(
                ("[a-z_]{1,8}/test_[a-z]{1,8}\\.py::(Test[A-Z][a-z]{0,5}::)?test_[a-z0-9_]{1,10}(\\[[a-z0-9-]{1,6}\\])?", status(), "[ -~]{0,30}"),
                0..20,
            ),
            noise in proptest::collection::vec("[a-z .:=]{0,40}", 0..10),
        ) {
            let mut log = String::new();
            let mut expected = TestStatuses::new();
            for line in &noise {
                log.push_str(line);
                log.push('\n');
            }
            for (id, status, message) in &tests {
                match status {
                    TestStatus::Failed | TestStatus::Error => {
                        log.push_str(&format!("{} {id} - {message}\n", status.word()))
                    }
                    _ => log.push_str(&format!("{} {id}\n", status.word())),
                }
                expected.insert(id.clone(), *status);
            }
            prop_assert_eq!(parse_pytest(&log), expected);
        }

        /// Any text parses without panicking, and every id found is a single word.
        #[test]
        fn never_panics(log in "\\PC{0,400}") {
            for id in parse_pytest(&log).keys() {
                prop_assert!(!id.is_empty() && !id.contains(char::is_whitespace));
            }
        }
    }
}
