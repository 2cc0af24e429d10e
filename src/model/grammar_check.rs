//! Checks a finished answer against a GBNF grammar, for servers that cannot constrain decoding
//! (or ignore the field): the HTTP engine asks once more for an answer that does not follow it.
//!
//! Covers the GBNF that ponder writes (`assets/grammars/`, [`crate::answer::grammar`]): rules,
//! string literals, character classes (ranges, `^`), groups, `|`, `?`, `*`, `+`, `{m}`, `{m,}`,
//! `{m,n}`, `#` comments. Matching follows every way through the grammar at once (sets of end
//! positions), so it needs no backtracking; a left-recursive grammar is cut off at a fixed depth
//! and simply fails to match. A grammar it cannot read is reported as such, and not checked.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Result, anyhow, bail};

#[derive(Debug, Clone)]
enum Expr {
    Literal(Vec<char>),
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Rule(usize),
    Seq(Vec<Expr>),
    Alt(Vec<Expr>),
    Repeat(Box<Expr>, usize, Option<usize>),
}

/// A parsed grammar, ready to check answers.
#[derive(Debug, Clone)]
pub struct Grammar {
    rules: Vec<Expr>,
    root: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Define,
    Literal(Vec<char>),
    Class(bool, Vec<(char, char)>),
    Open,
    Close,
    Bar,
    Repeat(usize, Option<usize>),
}

const MAX_DEPTH: usize = 256;

impl Grammar {
    /// Parses GBNF text with a `root` rule.
    pub fn parse(text: &str) -> Result<Grammar> {
        let tokens = tokenize(text)?;
        // Rule names first, so rules may refer to later ones.
        let mut names: HashMap<String, usize> = HashMap::new();
        for pair in tokens.windows(2) {
            if let [Token::Name(name), Token::Define] = pair {
                let next = names.len();
                names.entry(name.clone()).or_insert(next);
            }
        }
        let root = *names.get("root").ok_or_else(|| anyhow!("no `root` rule"))?;
        let mut rules = vec![None; names.len()];
        let mut at = 0;
        while at < tokens.len() {
            let Token::Name(name) = &tokens[at] else {
                bail!("expected a rule name, found {:?}", tokens[at]);
            };
            if tokens.get(at + 1) != Some(&Token::Define) {
                bail!("expected `::=` after {name}");
            }
            let mut parser = Parser {
                tokens: &tokens,
                at: at + 2,
                names: &names,
            };
            let body = parser.alternatives()?;
            at = parser.at;
            rules[names[name]] = Some(body);
        }
        let rules = rules
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| anyhow!("a rule is referred to but never defined"))?;
        Ok(Grammar { rules, root })
    }

    /// True when the whole of `text` follows the grammar.
    pub fn accepts(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let ends = self.ends(&self.rules[self.root], &chars, &BTreeSet::from([0]), 0);
        ends.contains(&chars.len())
    }

    /// Every position where `expr` can end, starting from any of `starts`.
    fn ends(
        &self,
        expr: &Expr,
        text: &[char],
        starts: &BTreeSet<usize>,
        depth: usize,
    ) -> BTreeSet<usize> {
        if depth > MAX_DEPTH || starts.is_empty() {
            return BTreeSet::new();
        }
        match expr {
            Expr::Literal(lit) => starts
                .iter()
                .filter(|&&s| text.get(s..s + lit.len()) == Some(lit.as_slice()))
                .map(|&s| s + lit.len())
                .collect(),
            Expr::Class { negated, ranges } => starts
                .iter()
                .filter(|&&s| {
                    text.get(s).is_some_and(|&c| {
                        ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
                    })
                })
                .map(|&s| s + 1)
                .collect(),
            Expr::Rule(index) => self.ends(&self.rules[*index], text, starts, depth + 1),
            Expr::Seq(items) => items.iter().fold(starts.clone(), |at, item| {
                self.ends(item, text, &at, depth + 1)
            }),
            Expr::Alt(options) => options
                .iter()
                .flat_map(|o| self.ends(o, text, starts, depth + 1))
                .collect(),
            Expr::Repeat(item, min, max) => {
                let mut out = if *min == 0 {
                    starts.clone()
                } else {
                    BTreeSet::new()
                };
                let mut current = starts.clone();
                let mut count = 0;
                while max.is_none_or(|m| count < m) {
                    let next = self.ends(item, text, &current, depth + 1);
                    count += 1;
                    if next.is_empty() || next == current {
                        break;
                    }
                    if count >= *min {
                        out.extend(&next);
                    }
                    current = next;
                }
                out
            }
        }
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    names: &'a HashMap<String, usize>,
}

impl Parser<'_> {
    /// True at the start of the next rule (`name ::=`) or the end.
    fn at_rule_end(&self) -> bool {
        match self.tokens.get(self.at) {
            None => true,
            Some(Token::Name(_)) => self.tokens.get(self.at + 1) == Some(&Token::Define),
            _ => false,
        }
    }

    fn alternatives(&mut self) -> Result<Expr> {
        let mut options = vec![self.sequence()?];
        while self.tokens.get(self.at) == Some(&Token::Bar) {
            self.at += 1;
            options.push(self.sequence()?);
        }
        Ok(if options.len() == 1 {
            options.remove(0)
        } else {
            Expr::Alt(options)
        })
    }

    fn sequence(&mut self) -> Result<Expr> {
        let mut items = Vec::new();
        while !self.at_rule_end() {
            let item = match &self.tokens[self.at] {
                Token::Bar | Token::Close => break,
                Token::Literal(lit) => Expr::Literal(lit.clone()),
                Token::Class(negated, ranges) => Expr::Class {
                    negated: *negated,
                    ranges: ranges.clone(),
                },
                Token::Name(name) => Expr::Rule(
                    *self
                        .names
                        .get(name)
                        .ok_or_else(|| anyhow!("the rule {name} is not defined"))?,
                ),
                Token::Open => {
                    self.at += 1;
                    let inner = self.alternatives()?;
                    if self.tokens.get(self.at) != Some(&Token::Close) {
                        bail!("a `(` is not closed");
                    }
                    inner
                }
                other => bail!("unexpected {other:?}"),
            };
            self.at += 1;
            let mut item = item;
            while let Some(Token::Repeat(min, max)) = self.tokens.get(self.at) {
                item = Expr::Repeat(Box::new(item), *min, *max);
                self.at += 1;
            }
            items.push(item);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Seq(items)
        })
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            ':' if chars.get(i..i + 3) == Some(&[':', ':', '=']) => {
                tokens.push(Token::Define);
                i += 3;
            }
            '"' => {
                let mut lit = Vec::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => bail!("a string literal is not closed"),
                        Some('"') => break,
                        Some('\\') => {
                            let (c, next) = escape(&chars, i + 1)?;
                            lit.push(c);
                            i = next;
                        }
                        Some(&c) => {
                            lit.push(c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                tokens.push(Token::Literal(lit));
            }
            '[' => {
                i += 1;
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let lo = match chars.get(i) {
                        None => bail!("a character class is not closed"),
                        Some(']') => break,
                        Some('\\') => {
                            let (c, next) = escape(&chars, i + 1)?;
                            i = next;
                            c
                        }
                        Some(&c) => {
                            i += 1;
                            c
                        }
                    };
                    let hi = if chars.get(i) == Some(&'-') && chars.get(i + 1) != Some(&']') {
                        match chars.get(i + 1) {
                            Some('\\') => {
                                let (c, next) = escape(&chars, i + 2)?;
                                i = next;
                                c
                            }
                            Some(&c) => {
                                i += 2;
                                c
                            }
                            None => bail!("a character class is not closed"),
                        }
                    } else {
                        lo
                    };
                    ranges.push((lo, hi));
                }
                i += 1;
                tokens.push(Token::Class(negated, ranges));
            }
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '|' => {
                tokens.push(Token::Bar);
                i += 1;
            }
            '?' => {
                tokens.push(Token::Repeat(0, Some(1)));
                i += 1;
            }
            '*' => {
                tokens.push(Token::Repeat(0, None));
                i += 1;
            }
            '+' => {
                tokens.push(Token::Repeat(1, None));
                i += 1;
            }
            '{' => {
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or_else(|| anyhow!("a `{{` is not closed"))?;
                let inside: String = chars[i + 1..i + close].iter().collect();
                let number = |s: &str| {
                    s.trim()
                        .parse::<usize>()
                        .map_err(|_| anyhow!("bad repetition {{{inside}}}"))
                };
                let (min, max) = match inside.split_once(',') {
                    None => (number(&inside)?, Some(number(&inside)?)),
                    Some((lo, hi)) if hi.trim().is_empty() => (number(lo)?, None),
                    Some((lo, hi)) => (number(lo)?, Some(number(hi)?)),
                };
                tokens.push(Token::Repeat(min, max));
                i += close + 1;
            }
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '-' || chars[i] == '_')
                {
                    i += 1;
                }
                tokens.push(Token::Name(chars[start..i].iter().collect()));
            }
            other => bail!("unexpected {other:?} in the grammar"),
        }
    }
    Ok(tokens)
}

/// The character an escape at `chars[at]` (after the backslash) stands for, and where the text
/// goes on.
fn escape(chars: &[char], at: usize) -> Result<(char, usize)> {
    let hex = |len: usize| -> Result<(char, usize)> {
        let digits: String = chars
            .get(at + 1..at + 1 + len)
            .ok_or_else(|| anyhow!("a short escape"))?
            .iter()
            .collect();
        let code = u32::from_str_radix(&digits, 16).map_err(|_| anyhow!("bad escape"))?;
        Ok((
            char::from_u32(code).ok_or_else(|| anyhow!("bad escape"))?,
            at + 1 + len,
        ))
    };
    match chars.get(at) {
        Some('n') => Ok(('\n', at + 1)),
        Some('t') => Ok(('\t', at + 1)),
        Some('r') => Ok(('\r', at + 1)),
        Some('x') => hex(2),
        Some('u') => hex(4),
        Some(&c) => Ok((c, at + 1)),
        None => bail!("a `\\` ends the grammar"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_grammars_accept_good_answers_and_refuse_bad_ones() {
        let understand =
            Grammar::parse(crate::assets::text("grammars/understand.gbnf").unwrap()).unwrap();
        assert!(understand.accepts("[\"a.py\", \"b/c.py\"]"));
        assert!(understand.accepts(" [\"a.py\"]\n"));
        assert!(!understand.accepts("[]"));
        assert!(!understand.accepts("a.py"));
        assert!(!understand.accepts("[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\"]"));
        let localize =
            Grammar::parse(crate::assets::text("grammars/localize.gbnf").unwrap()).unwrap();
        assert!(localize.accepts(
            "[{\"file\": \"a.py\", \"class\": null, \"function\": \"load\", \"start\": 3, \"end\": 9}]"
        ));
        assert!(localize.accepts(
            "{\"calls\": [{\"tool\": \"search_code\", \"args\": {\"query\": \"split\"}}]}"
        ));
        assert!(!localize.accepts("{\"calls\": [{\"tool\": \"rm_rf\", \"args\": {}}]}"));
    }

    #[test]
    fn built_lists_and_repetition_forms() {
        let list = crate::answer::grammar::json_list_of(&["a.py".into(), "b\"q.py".into()], 2);
        let g = Grammar::parse(&list).unwrap();
        assert!(g.accepts("[\"a.py\", \"b\\\"q.py\"]"));
        assert!(g.accepts("[]"));
        assert!(!g.accepts("[\"a.py\", \"a.py\", \"a.py\"]"));
        let g =
            Grammar::parse("root ::= x{2} y{1,} [a-c]* \"z\"?\nx ::= \"x\"\ny ::= [^q]").unwrap();
        assert!(g.accepts("xxpab"));
        assert!(g.accepts("xxppz"));
        assert!(!g.accepts("xxq"));
        assert!(!g.accepts("xpp"));
    }

    proptest::proptest! {
        #[test]
        fn built_lists_accept_exactly_their_choices(
            choices in proptest::collection::vec("[a-z/\"\\\\.é ]{1,8}", 1..5),
            picks in proptest::collection::vec(0usize..5, 0..4),
            stranger in "[A-Z]{1,4}",
        ) {
            let g = Grammar::parse(&crate::answer::grammar::json_list_of(&choices, 4)).unwrap();
            let picked: Vec<String> = picks
                .iter()
                .map(|&i| serde_json::Value::String(choices[i % choices.len()].clone()).to_string())
                .collect();
            let list = format!("[{}]", picked.join(", "));
            proptest::prop_assert!(g.accepts(&list), "{list}");
            let strange = format!("[{}]", serde_json::Value::String(stranger));
            proptest::prop_assert!(!g.accepts(&strange), "{strange}");
        }
    }

    #[test]
    fn unreadable_grammars_are_errors() {
        assert!(Grammar::parse("start ::= \"a\"").is_err());
        assert!(Grammar::parse("root ::= \"a").is_err());
        assert!(Grammar::parse("root ::= other").is_err());
        // Left recursion is cut off, not a hang.
        let g = Grammar::parse("root ::= root \"a\" | \"a\"").unwrap();
        let _ = g.accepts("aaa");
    }
}
