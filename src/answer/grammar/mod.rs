//! GBNF grammars for answers, built per request from the repository so that even a weak model
//! can only answer something ponder can use: paths that exist, line numbers inside their file,
//! SEARCH text that occurs exactly once. Only bounded repetition (a weak model under an unbounded
//! `*` may never finish), and alternatives of many strings are written as a prefix tree, so the
//! sampler follows few branches at a time whatever the number of files.
//!
//! This file holds the building blocks; each stage's grammar has a file of its own.

mod localize;
mod patch;
mod replace;
mod understand;
mod verify;

pub use localize::{LocalizeFile, localize};
pub use patch::{PatchFile, patch, patch_changing, search_starts};
pub use understand::understand;
pub use verify::python_block;

use std::collections::BTreeMap;
use std::fmt::Write;

/// `text` as a GBNF string literal, quotes included.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` as a JSON string (quotes included) inside a GBNF literal.
pub fn json_literal(text: &str) -> String {
    literal(&serde_json::Value::String(text.to_string()).to_string())
}

/// A JSON list of at most `max` items, each one of `choices` (e.g. the files of a repository):
/// `["a.py", "b/c.py"]`. With no choices or `max` 0, only `[]`.
pub fn json_list_of(choices: &[String], max: usize) -> String {
    if choices.is_empty() || max == 0 {
        return "root ::= \"[]\"\n".to_string();
    }
    let mut rules = Rules::new("item");
    let quoted: Vec<String> = choices
        .iter()
        .map(|c| serde_json::Value::String(c.clone()).to_string())
        .collect();
    let item = rules.one_of(&quoted);
    format!(
        "root ::= \"[\" ( {item} ( \", \" {item} ){{0,{}}} )? \"]\"\n{}",
        max - 1,
        rules.text()
    )
}

/// Named rules added while a grammar is built; names are `prefix` + a number.
pub struct Rules {
    prefix: String,
    next: usize,
    text: String,
}

impl Rules {
    pub fn new(prefix: &str) -> Rules {
        Rules {
            prefix: prefix.to_string(),
            next: 0,
            text: String::new(),
        }
    }

    /// Adds `name ::= body` under a fresh name; returns the name.
    pub fn add(&mut self, body: &str) -> String {
        let name = format!("{}{}", self.prefix, self.next);
        self.next += 1;
        let _ = writeln!(self.text, "{name} ::= {body}");
        name
    }

    /// A rule matching exactly one of `choices`, as a prefix tree (one rule per branching point).
    pub fn one_of(&mut self, choices: &[String]) -> String {
        let tails: Vec<(String, Option<String>)> =
            choices.iter().map(|c| (c.clone(), None)).collect();
        self.one_of_then(&tails)
    }

    /// A rule matching one of the strings, each followed by its own expression (if any), as a
    /// prefix tree over the strings.
    pub fn one_of_then(&mut self, choices: &[(String, Option<String>)]) -> String {
        let mut trie = Trie::default();
        for (text, tail) in choices {
            trie.insert(text, tail.clone());
        }
        let body = self.trie_body(&trie);
        self.add(&body)
    }

    fn trie_body(&mut self, node: &Trie) -> String {
        let mut alternatives = Vec::new();
        if let Some(tail) = &node.end {
            alternatives.push(tail.clone().unwrap_or_else(|| "\"\"".to_string()));
        }
        for (first, child) in &node.children {
            // Follow a chain of single children into one literal.
            let mut label = first.to_string();
            let mut at = child;
            while at.end.is_none() && at.children.len() == 1 {
                let (c, next) = at.children.iter().next().expect("one child");
                label.push(*c);
                at = next;
            }
            match (&at.end, at.children.is_empty()) {
                (Some(None), true) => alternatives.push(literal(&label)),
                (Some(Some(tail)), true) => {
                    alternatives.push(format!("{} {tail}", literal(&label)))
                }
                _ => {
                    let body = self.trie_body(at);
                    let rule = self.add(&body);
                    alternatives.push(format!("{} {rule}", literal(&label)));
                }
            }
        }
        if alternatives.is_empty() {
            return "\"\"".to_string();
        }
        alternatives.join(" | ")
    }

    /// The rules added so far, one per line.
    pub fn text(&self) -> &str {
        &self.text
    }
}

#[derive(Default)]
struct Trie {
    /// Set where a string ends: what follows it, if anything.
    end: Option<Option<String>>,
    children: BTreeMap<char, Trie>,
}

impl Trie {
    fn insert(&mut self, text: &str, tail: Option<String>) {
        let mut node = self;
        for c in text.chars() {
            node = node.children.entry(c).or_default();
        }
        node.end = Some(tail);
    }
}

/// A GBNF expression for the integers 1..=`max` in decimal without leading zeros (`"1"` when
/// `max` is 0).
pub fn number_at_most(max: usize) -> String {
    if max <= 1 {
        return "\"1\"".to_string();
    }
    let digits: Vec<u8> = max.to_string().bytes().map(|b| b - b'0').collect();
    let d = digits.len();
    let mut alternatives = Vec::new();
    // Fewer digits than `max`.
    match d {
        1 => {}
        2 => alternatives.push("[1-9]".to_string()),
        _ => alternatives.push(format!("[1-9] [0-9]{{0,{}}}", d - 2)),
    }
    // As many digits: equal on a prefix, lower at one digit, anything after.
    for i in 0..d {
        let low = if i == 0 { 1 } else { 0 };
        if digits[i] == 0 || digits[i] - 1 < low {
            continue;
        }
        let mut parts = Vec::new();
        if i > 0 {
            parts.push(literal(
                &digits[..i]
                    .iter()
                    .map(|b| (b + b'0') as char)
                    .collect::<String>(),
            ));
        }
        parts.push(format!("[{low}-{}]", digits[i] - 1));
        if d - i - 1 > 0 {
            parts.push(format!("[0-9]{{{}}}", d - i - 1));
        }
        alternatives.push(parts.join(" "));
    }
    alternatives.push(literal(&max.to_string()));
    format!("( {} )", alternatives.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::grammar_check::Grammar;
    use proptest::prelude::*;

    /// Reads a GBNF literal back (the inverse of [`literal`]).
    fn unliteral(lit: &str) -> Option<String> {
        let inner = lit.strip_prefix('"')?.strip_suffix('"')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(match chars.next()? {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                    }
                    other => other,
                }),
                '"' => return None,
                c => out.push(c),
            }
        }
        Some(out)
    }

    #[test]
    fn builds_a_bounded_list_as_a_prefix_tree() {
        let g = json_list_of(&["a.py".into(), "ab.py".into(), "b\"q.py".into()], 5);
        let grammar = Grammar::parse(&g).unwrap();
        for ok in [
            "[\"a.py\"]",
            "[\"ab.py\", \"a.py\"]",
            "[\"b\\\"q.py\"]",
            "[]",
        ] {
            assert!(grammar.accepts(ok), "{ok} should match:\n{g}");
        }
        for bad in ["[\"a\"]", "[\"c.py\"]", "[\"a.py\" ]"] {
            assert!(!grammar.accepts(bad), "{bad} should not match:\n{g}");
        }
        assert_eq!(json_list_of(&[], 3), "root ::= \"[]\"\n");
    }

    #[test]
    fn numbers_up_to_a_bound() {
        for max in [1usize, 7, 9, 10, 19, 20, 99, 100, 101, 287, 1000, 3050] {
            let g = format!("root ::= {}\n", number_at_most(max));
            let grammar = Grammar::parse(&g).unwrap();
            for n in 0..=max + 20 {
                assert_eq!(
                    grammar.accepts(&n.to_string()),
                    (1..=max).contains(&n),
                    "{n} against max {max}: {g}"
                );
            }
            assert!(!grammar.accepts("01"));
        }
    }

    proptest! {
        #[test]
        fn literals_round_trip(text in "\\PC{0,20}|[\"\\\\\n\t\r\u{c} a-z]{0,20}") {
            prop_assert_eq!(unliteral(&literal(&text)), Some(text));
        }

        #[test]
        fn a_prefix_tree_matches_exactly_its_choices(
            choices in proptest::collection::btree_set("[ab/.]{1,6}", 1..12),
            probe in "[ab/.]{1,6}",
        ) {
            let choices: Vec<String> = choices.into_iter().collect();
            let mut rules = Rules::new("t");
            let rule = rules.one_of(&choices);
            let g = format!("root ::= {rule}\n{}", rules.text());
            let grammar = Grammar::parse(&g).unwrap();
            for c in &choices {
                prop_assert!(grammar.accepts(c));
            }
            prop_assert_eq!(grammar.accepts(&probe), choices.contains(&probe));
        }
    }
}
