//! Which class a member the issue uses belongs to, as far as the text shows it: `Class.member`,
//! `Class(…).member`, and `x.member` after `x = Class(…)` (also `x = pkg.Class(…)`). Pure text
//! analysis; [`super::inherited`] resolves the pairs through the class's bases.

use std::collections::HashMap;

/// `(class, member)` pairs in `text`, in order of first appearance, without repeats.
pub fn class_members(text: &str) -> Vec<(String, String)> {
    let bytes = text.as_bytes();
    let mut instances: HashMap<String, String> = HashMap::new();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let push = |class: &str, member: &str, pairs: &mut Vec<(String, String)>| {
        let pair = (class.to_string(), member.to_string());
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        if !is_start(bytes[i]) || (i > 0 && is_ident(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let end = ident_end(bytes, i);
        let word = &text[i..end];
        // `x = Class(` or `x = pkg.Class(`: x holds a Class.
        if let Some(class) = assigned_class(text, end) {
            instances.insert(word.to_string(), class);
        }
        let class = if is_class_name(word) {
            // `Class.member` or `Class(…).member`.
            if bytes.get(end) == Some(&b'(') {
                closing(bytes, end).map(|after| (word.to_string(), after))
            } else {
                Some((word.to_string(), end))
            }
        } else {
            instances.get(word).map(|c| (c.clone(), end))
        };
        if let Some((class, after)) = class
            && bytes.get(after) == Some(&b'.')
            && bytes.get(after + 1).copied().is_some_and(is_start)
            && (i == 0 || bytes[i - 1] != b'.' || is_class_name(word))
        {
            let member_end = ident_end(bytes, after + 1);
            push(&class, &text[after + 1..member_end], &mut pairs);
        }
        i = end;
    }
    pairs
}

/// After an identifier ending at `end`: ` = [pkg.]Class(` gives `Class`.
fn assigned_class(text: &str, end: usize) -> Option<String> {
    let rest = text[end..].trim_start_matches([' ', '\t']);
    let rest = rest.strip_prefix('=')?;
    if rest.starts_with('=') {
        return None;
    }
    let rest = rest.trim_start_matches([' ', '\t']);
    let dotted_end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(rest.len());
    if !rest[dotted_end..].starts_with('(') {
        return None;
    }
    let class = rest[..dotted_end].rsplit('.').next()?;
    is_class_name(class).then(|| class.to_string())
}

/// The byte after the parenthesis that closes the one at `open`, on the same line or a few after.
fn closing(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate().skip(open).take(400) {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// A CamelCase word with a lowercase letter: how Python names classes (not `CONSTANTS`, not `X`).
fn is_class_name(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_uppercase())
        && word.chars().any(|c| c.is_ascii_lowercase())
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn ident_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&b| !is_ident(b))
        .map_or(bytes.len(), |p| start + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        class_members(text)
    }

    fn p(class: &str, member: &str) -> (String, String) {
        (class.into(), member.into())
    }

    #[test]
    fn an_instance_variable_carries_its_class() {
        let text =
            "gm = GaussianMixture(n_components=5)\nc1 = gm.fit_predict(X)\nc2 = gm.predict(X)\n";
        assert_eq!(
            pairs(text),
            [
                p("GaussianMixture", "fit_predict"),
                p("GaussianMixture", "predict")
            ]
        );
    }

    #[test]
    fn dotted_and_chained_members_are_read() {
        assert_eq!(
            pairs("`Session.send`, Matrix(2, 2, [1, 2]).hstack(x), a.Form.clean, not a.gm.x"),
            [
                p("Session", "send"),
                p("Matrix", "hstack"),
                p("Form", "clean")
            ]
        );
        assert_eq!(
            pairs("fig = plt.Figure()\nax = fig.add_subplot()\nfig.savefig('x')"),
            [p("Figure", "add_subplot"), p("Figure", "savefig")]
        );
    }

    #[test]
    fn comparisons_constants_and_plain_words_are_not_pairs() {
        assert!(pairs("if x == Foo(1): x.y\nMAX.value\nThe end. Then more.").is_empty());
    }
}
