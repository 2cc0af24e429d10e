//! The reproduction protocol (SWE-SynInfer's convention): the model's script prints
//! `Issue reproduced`, `Issue resolved` or `Other issues`; the last such line it prints wins, and a
//! script that prints none of them, or is killed at the time limit, did not say anything useful.

use super::RunResult;
use crate::event::TestOutcome;

/// File name of the reproduction script, in the worktree's root.
pub const REPRO_FILE: &str = "reproduce_issue.py";

/// Reads the protocol's marker from a finished run.
pub fn repro_outcome(result: &RunResult) -> TestOutcome {
    if result.timed_out {
        return TestOutcome::Timeout;
    }
    result
        .output
        .lines()
        .rev()
        .find_map(|line| match line.trim() {
            "Issue reproduced" => Some(TestOutcome::Reproduced),
            "Issue resolved" => Some(TestOutcome::Resolved),
            "Other issues" => Some(TestOutcome::OtherIssues),
            _ => None,
        })
        .unwrap_or(TestOutcome::OtherIssues)
}

/// What a Python script that ended with "other issues" died of, for the reason a reviewer reads:
/// the last line of its output that names an exception (`NameError: name 'os' is not defined`),
/// cut to 160 characters, and a word on the sandbox when it reached for the network.
pub fn died_of(output: &str) -> Option<String> {
    let line = output.lines().rev().map(str::trim_end).find(|line| {
        let name = line.split(':').next().unwrap_or("");
        !name.is_empty()
            && !line.starts_with(char::is_whitespace)
            && name.split('.').all(|part| {
                part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            && ["Error", "Exception", "Exit", "Interrupt", "Warning"]
                .iter()
                .any(|end| name.ends_with(end))
    })?;
    let mut text: String = line.chars().take(160).collect();
    if text.len() < line.len() {
        text.push('…');
    }
    let network = [
        "urlopen error",
        "Name or service not known",
        "Temporary failure in name resolution",
        "Network is unreachable",
        "ConnectionError",
        "ConnectionRefusedError",
        "NewConnectionError",
    ];
    if network.iter().any(|n| line.contains(n)) {
        text.push_str(" — the sandbox has no network");
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn result(output: &str, timed_out: bool) -> RunResult {
        RunResult {
            exit_code: Some(1),
            timed_out,
            cancelled: false,
            duration: Duration::ZERO,
            output: output.to_string(),
        }
    }

    #[test]
    fn last_marker_wins() {
        assert_eq!(
            repro_outcome(&result("noise\nIssue reproduced\n", false)),
            TestOutcome::Reproduced
        );
        assert_eq!(
            repro_outcome(&result("Issue reproduced\n  Issue resolved  \n", false)),
            TestOutcome::Resolved
        );
        assert_eq!(
            repro_outcome(&result("Traceback…", false)),
            TestOutcome::OtherIssues
        );
        assert_eq!(
            repro_outcome(&result("Issue resolved", true)),
            TestOutcome::Timeout
        );
    }

    #[test]
    fn says_what_a_script_died_of() {
        let name_error = "Traceback (most recent call last):\n  File \"r.py\", line 7, in <module>\n    x = os.path\nNameError: name 'os' is not defined\n";
        assert_eq!(
            died_of(name_error).as_deref(),
            Some("NameError: name 'os' is not defined")
        );
        let syntax = "  File \"r.py\", line 12\n    ]\n    ^\nSyntaxError: closing parenthesis ']' does not match\n";
        assert!(died_of(syntax).unwrap().starts_with("SyntaxError: closing"));
        let offline = "urllib.error.URLError: <urlopen error [Errno -2] Name or service not known>\nOther issues\n";
        assert_eq!(
            died_of(offline).as_deref(),
            Some(
                "urllib.error.URLError: <urlopen error [Errno -2] Name or service not known> — the sandbox has no network"
            )
        );
        assert_eq!(died_of("Issue resolved\nOther issues\n"), None);
        assert_eq!(
            died_of("    ValueError: indented, a frame's source\n"),
            None
        );
        let long = format!("ValueError: {}", "x".repeat(300));
        assert!(died_of(&long).unwrap().ends_with('…'));
    }
}
