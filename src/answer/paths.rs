//! Paths named in answers, matched to the repository's files: exactly, without `./`, `a/` or `b/`,
//! or by a unique suffix (`loader.py` for `minicfg/loader.py`). A name that matches several files
//! or none is not guessed.

/// The repository file `named` means, if exactly one fits.
pub fn resolve<'a>(named: &str, files: &'a [String]) -> Option<&'a str> {
    let named = named.trim().trim_matches(['`', '"', '\'']);
    let mut candidates = vec![named, named.trim_start_matches("./")];
    for prefix in ["a/", "b/", "/"] {
        if let Some(rest) = named.strip_prefix(prefix) {
            candidates.push(rest);
        }
    }
    for candidate in &candidates {
        if let Some(file) = files.iter().find(|f| f.as_str() == *candidate) {
            return Some(file);
        }
    }
    let tail = candidates[1];
    if tail.is_empty() {
        return None;
    }
    let mut matches = files
        .iter()
        .filter(|f| f.ends_with(tail) && f[..f.len() - tail.len()].ends_with('/'));
    match (matches.next(), matches.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// Repository files an answer names anywhere in its text (for answers that give no list), in
/// the order they first appear, at most `max`.
pub fn mentioned(answer: &str, files: &[String], max: usize) -> Vec<String> {
    let mut found: Vec<(usize, &String)> = files
        .iter()
        .filter_map(|f| {
            answer
                .match_indices(f.as_str())
                .find(|(at, _)| {
                    let before = answer[..*at].chars().next_back();
                    let after = answer[at + f.len()..].chars().next();
                    !before.is_some_and(is_path_char) && !after.is_some_and(is_path_char)
                })
                .map(|(at, _)| (at, f))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .take(max)
        .map(|(_, f)| f.clone())
        .collect()
}

/// Characters that would make a match part of a longer name (a `.` may end a sentence).
fn is_path_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '/' | '_' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<String> {
        [
            "minicfg/loader.py",
            "minicfg/__init__.py",
            "tests/test_loader.py",
            "setup.py",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn resolves_exact_prefixed_and_unique_suffixes() {
        let files = files();
        assert_eq!(
            resolve("minicfg/loader.py", &files),
            Some("minicfg/loader.py")
        );
        assert_eq!(resolve("./setup.py", &files), Some("setup.py"));
        assert_eq!(
            resolve("a/minicfg/loader.py", &files),
            Some("minicfg/loader.py")
        );
        assert_eq!(resolve("loader.py", &files), Some("minicfg/loader.py"));
        assert_eq!(resolve("__init__.py", &files), Some("minicfg/__init__.py"));
        assert_eq!(resolve("oader.py", &files), None);
        assert_eq!(resolve("nothing.py", &files), None);
    }

    #[test]
    fn an_ambiguous_suffix_is_not_guessed() {
        let files = vec!["a/util.py".to_string(), "b/util.py".to_string()];
        assert_eq!(resolve("util.py", &files), None);
    }

    #[test]
    fn finds_mentions_in_order_on_word_boundaries() {
        let files = files();
        let text = "The bug is in minicfg/loader.py, tested by tests/test_loader.py. See setup.py.";
        assert_eq!(
            mentioned(text, &files, 5),
            ["minicfg/loader.py", "tests/test_loader.py", "setup.py"]
        );
        assert!(mentioned("xsetup.pyc", &files, 5).is_empty());
    }
}
