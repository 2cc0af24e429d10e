//! The part of an issue that says where the bug is: the text without its environment report.
//!
//! Bug-report templates end with a section listing the reporter's versions and platform
//! ("System Information", "Environment", "pylint --version output", a `pip freeze`). Those
//! words name dependencies and version helpers, not the bug, and they match the modules that
//! print versions; so the shortlist reads the issue without such sections. A section runs from
//! its heading (a Markdown `#` heading, a bold line, or a short line ending with `:`) to the
//! next heading.

/// Words that, in a section heading, mark an environment report.
const ENVIRONMENT_WORDS: &[&str] = &[
    "version",
    "versions",
    "environment",
    "system",
    "platform",
    "os",
    "dependencies",
    "packages",
    "freeze",
];

/// The issue text without its environment sections (unchanged when it has none). The first
/// line (the title) is always kept.
pub fn without_environment(issue: &str) -> String {
    let mut out = String::with_capacity(issue.len());
    let mut skipping = false;
    let mut in_fence = false;
    for (i, line) in issue.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        } else if let Some(title) = heading(trimmed).filter(|_| !in_fence && i > 0) {
            skipping = is_environment_heading(title);
        }
        if !skipping || i == 0 {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The text of a heading line, if `line` is one.
fn heading(line: &str) -> Option<&str> {
    if let Some(rest) = line.strip_prefix('#') {
        let rest = rest.trim_start_matches('#');
        return rest.starts_with(' ').then(|| rest.trim());
    }
    if line.len() > 4 && line.starts_with("**") && line.ends_with("**") {
        return Some(line.trim_matches('*').trim());
    }
    let words = line.split_whitespace().count();
    (line.ends_with(':') && (1..=5).contains(&words)).then(|| line.trim_end_matches(':'))
}

/// True for headings such as "System Information", "OS / Environment", "Pylint version".
fn is_environment_heading(title: &str) -> bool {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .any(|w| ENVIRONMENT_WORDS.contains(&w.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_environment_sections_up_to_the_next_heading() {
        let issue = "Getting a URL raises UnicodeError\nIt should raise InvalidURL.\n\
            ## System Information\n```json\n{\"idna\": {\"version\": \"2.8\"}}\n```\n\
            ## Expected Result\nInvalidURL\n";
        let kept = without_environment(issue);
        assert!(kept.contains("raises UnicodeError"));
        assert!(kept.contains("InvalidURL\n"));
        assert!(kept.contains("Expected Result"));
        assert!(!kept.contains("idna"));
    }

    #[test]
    fn headings_inside_code_blocks_do_not_count() {
        let issue = "Title\n```\n### Environment\nnot a heading\n```\nafter\n";
        assert_eq!(without_environment(issue), issue);
    }

    #[test]
    fn keeps_the_title_and_other_sections() {
        let issue = "Version check fails\n### Bug description\nboom\n\
            ### Pylint version\n```\npylint 2.13\n```\n### OS / Environment\nLinux\n";
        let kept = without_environment(issue);
        assert_eq!(kept, "Version check fails\n### Bug description\nboom\n");
    }
}
