//! Tokenizers for retrieval: code-aware tokens (identifiers split at `_`, camelCase and digit
//! boundaries, paths split at `/` and `.`) and the plain word tokens of the BM25 baseline; plus
//! the rough token count used to fit text into prompt budgets.
//!
//! Invariant: every token is non-empty, lowercase ASCII alphanumeric (code tokens) or
//! alphanumeric-with-underscores (plain tokens), at most [`MAX_TOKEN_LEN`] bytes long.

use rustc_hash::FxHashSet;

/// Longer words (hashes, base64 blobs) are dropped: they never help ranking.
pub const MAX_TOKEN_LEN: usize = 40;

/// English and code filler that carries no signal about where a bug is.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", "i", "we", "you", "he", "she", "me", "my", "our",
    "your", "have", "has", "had", "do", "does", "did", "can", "could", "would", "should", "so",
    "from", "when", "what", "which", "who", "how", "why", "all", "any", "some", "there", "been",
    "were", "also", "than", "too", "very", "just", "only", "here", "about", "after", "before",
    "up", "out", "get", "use", "using", "used", "like", "one", "two", "self", "def", "return",
    "import", "none", "true", "false", "else", "elif", "pass", "class", "let", "fn", "pub", "mut",
    "var", "const", "function", "new", "null", "nil", "func", "public", "private", "static",
    "void", "int", "str", "py", "s", "t", "x", "e", "id", "www", "http", "https", "com", "org",
];

/// [`STOPWORDS`] as a set: the indexer asks for every token it sees.
static STOPWORD_SET: std::sync::LazyLock<FxHashSet<&'static str>> =
    std::sync::LazyLock::new(|| STOPWORDS.iter().copied().collect());

fn is_stopword(word: &str) -> bool {
    // No stopword is longer than 8 bytes: most tokens are answered without hashing.
    word.len() <= 8 && STOPWORD_SET.contains(word)
}

/// Code-aware tokens of `text`, lowercase: each identifier as a whole and, when it has parts,
/// each part (`getHTTPResponse_code` → `gethttpresponsecode`, `get`, `http`, `response`, `code`).
/// Stopwords, one-letter tokens and plain numbers are dropped; plurals are stemmed ([`stem`]).
pub fn code_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_code_token(text, &mut |token| out.push(token.to_string()));
    out
}

/// Adds `weight` to `counts` for each of [`code_tokens`]`(text)`, allocating only for tokens
/// not yet counted (the indexer's hot path).
pub fn count_code_tokens(text: &str, counts: &mut super::bm25::TermCounts, weight: u32) {
    for_each_code_token(text, &mut |token| match counts.get_mut(token) {
        Some(count) => *count += weight,
        None => {
            counts.insert(token.to_string(), weight);
        }
    });
}

fn for_each_code_token(text: &str, sink: &mut dyn FnMut(&str)) {
    let mut scratch = String::new();
    let mut parts = Vec::new();
    for word in words(text) {
        code_word(word, &mut scratch, &mut parts, sink);
    }
    kebab_words(text, &mut scratch, sink);
}

/// `--ignore-paths` and `unused-import` also count as one word each (`ignorepaths`,
/// `unusedimport`), so they meet `ignore_paths` and `"unused-import"` in the code.
fn kebab_words(text: &str, scratch: &mut String, sink: &mut dyn FnMut(&str)) {
    let runs = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    for run in runs {
        let run = run.trim_matches('-');
        if !run.contains('-') || run.contains("--") || run.len() > MAX_TOKEN_LEN {
            continue;
        }
        scratch.clear();
        scratch.extend(
            run.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase()),
        );
        emit(scratch, sink);
    }
}

/// Emits the whole word (underscores removed) and, if it has several, its parts.
fn code_word(
    word: &str,
    scratch: &mut String,
    parts: &mut Vec<(usize, usize)>,
    sink: &mut dyn FnMut(&str),
) {
    if word.len() > MAX_TOKEN_LEN {
        return;
    }
    scratch.clear();
    scratch.extend(
        word.chars()
            .filter(|c| *c != '_')
            .map(|c| c.to_ascii_lowercase()),
    );
    emit(scratch, sink);
    part_ranges(word, parts);
    if parts.len() > 1 {
        for &(start, end) in parts.iter() {
            scratch.clear();
            scratch.push_str(&word[start..end]);
            scratch.make_ascii_lowercase();
            emit(scratch, sink);
        }
    }
}

fn emit(token: &str, sink: &mut dyn FnMut(&str)) {
    if token.len() >= 2 && !is_stopword(token) && !token.bytes().all(|b| b.is_ascii_digit()) {
        sink(stem(token));
    }
}

/// A light stemmer: drops a plural `s` (`blueprints` → `blueprint`), but not from `ss`, `us`
/// or `is` endings (`class`, `status`, `axis`) or from short words.
fn stem(token: &str) -> &str {
    let plural = token.len() > 3
        && token.ends_with('s')
        && !token.ends_with("ss")
        && !token.ends_with("us")
        && !token.ends_with("is");
    if plural {
        &token[..token.len() - 1]
    } else {
        token
    }
}

/// Plain word tokens for the BM25 baseline, as a standard analyzer makes them: maximal runs of
/// ASCII letters, digits and `_`, lowercased, English stopwords dropped, nothing split.
pub fn plain_tokens(text: &str) -> Vec<String> {
    words(text)
        .filter(|w| w.len() <= MAX_TOKEN_LEN)
        .map(|w| w.to_ascii_lowercase())
        .filter(|w| !w.is_empty() && !is_english_stopword(w))
        .collect()
}

/// Lucene's English stopword list, the one a standard BM25 setup uses.
fn is_english_stopword(word: &str) -> bool {
    const LUCENE: &[&str] = &[
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
        "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
        "these", "they", "this", "to", "was", "will", "with",
    ];
    LUCENE.contains(&word)
}

/// Maximal runs of ASCII alphanumerics and `_`.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// Splits an identifier at `_`, lower→upper case changes, the end of an acronym
/// (`HTTPResponse` → `http`, `response`) and letter/digit changes; lowercase parts.
pub fn split_identifier(word: &str) -> Vec<String> {
    let mut parts = Vec::new();
    part_ranges(word, &mut parts);
    parts
        .into_iter()
        .map(|(start, end)| word[start..end].to_ascii_lowercase())
        .collect()
}

/// The byte ranges of [`split_identifier`]'s parts (boundaries are only ever at ASCII bytes).
fn part_ranges(word: &str, parts: &mut Vec<(usize, usize)>) {
    parts.clear();
    let bytes = word.as_bytes();
    let mut start: Option<usize> = None;
    for (i, &c) in bytes.iter().enumerate() {
        if c == b'_' {
            if let Some(s) = start.take() {
                parts.push((s, i));
            }
            continue;
        }
        if let (Some(s), Some(&prev)) = (start, i.checked_sub(1).and_then(|p| bytes.get(p))) {
            let next = bytes.get(i + 1).copied();
            let boundary = (prev.is_ascii_lowercase() && c.is_ascii_uppercase())
                || (prev.is_ascii_uppercase()
                    && c.is_ascii_uppercase()
                    && next.is_some_and(|n| n.is_ascii_lowercase()))
                || (prev.is_ascii_digit() != c.is_ascii_digit() && c.is_ascii() && prev.is_ascii());
            if boundary {
                parts.push((s, i));
                start = Some(i);
            }
        }
        if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        parts.push((s, bytes.len()));
    }
}

/// Tokens of a repository path: its folders, file stem and extension, each split like an
/// identifier (`src/HttpClient/request_utils.py` → `src`, `httpclient`, `http`, `client`, …).
pub fn path_tokens(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut scratch = String::new();
    let mut parts = Vec::new();
    for word in words(path) {
        code_word(word, &mut scratch, &mut parts, &mut |t| {
            out.push(t.to_string())
        });
    }
    out
}

/// A rough count of model tokens in `text` (about four bytes a token for code and English).
pub fn estimate_tokens(text: &str) -> usize {
    text.len().div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_snake_camel_acronyms_and_digits() {
        assert_eq!(
            split_identifier("get_HTTPResponse2x"),
            ["get", "http", "response", "2", "x"]
        );
        assert_eq!(split_identifier("parseURLQuery"), ["parse", "url", "query"]);
        assert_eq!(split_identifier("__init__"), ["init"]);
    }

    #[test]
    fn code_tokens_keep_the_whole_and_the_parts() {
        assert_eq!(
            code_tokens("self.max_retries = getJSONCode()"),
            ["maxretrie", "max", "retrie", "getjsoncode", "json", "code"]
        );
        assert_eq!(path_tokens("requests/adapters.py"), ["request", "adapter"]);
    }

    #[test]
    fn kebab_words_also_count_whole() {
        assert_eq!(
            code_tokens("--ignore-paths"),
            ["ignore", "path", "ignorepath"]
        );
        assert_eq!(code_tokens("ignore_paths")[0], "ignorepath");
    }

    #[test]
    fn stopwords_fit_the_length_shortcut() {
        assert!(STOPWORDS.iter().all(|w| w.len() <= 8));
        assert!(is_stopword("function") && !is_stopword("functions"));
    }

    #[test]
    fn plain_tokens_do_not_split() {
        assert_eq!(
            plain_tokens("The max_retries of a Session"),
            ["max_retries", "session"]
        );
    }

    proptest! {
        #[test]
        fn tokens_are_lowercase_ascii_and_bounded(text in "\\PC{0,200}") {
            for token in code_tokens(&text).into_iter().chain(plain_tokens(&text)) {
                prop_assert!(!token.is_empty() && token.len() <= MAX_TOKEN_LEN);
                prop_assert!(token.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'_'));
            }
        }

        #[test]
        fn parts_rebuild_the_identifier(word in "[A-Za-z0-9_]{1,30}") {
            let joined: String = split_identifier(&word).concat();
            let expected: String = word.chars().filter(|c| *c != '_').map(|c| c.to_ascii_lowercase()).collect();
            prop_assert_eq!(joined, expected);
        }

        #[test]
        fn every_code_token_comes_from_the_text(text in "[ -~]{0,120}") {
            let squashed = text.to_ascii_lowercase().replace(['_', '-'], "");
            for token in code_tokens(&text) {
                prop_assert!(squashed.contains(&token), "{} not in {}", token, squashed);
            }
        }
    }
}
