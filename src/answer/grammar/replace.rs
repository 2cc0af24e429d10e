//! REPLACE lines of a patch answer: lines the parser cannot take for a marker, and lines that
//! are not a given line.
//!
//! The parser ([`crate::answer::edits`]) reads a line as a marker when, trimmed, it is a run of
//! at least [`MARKER_RUN`] of `>` and `<` (mixed) and then `REPLACE` (or `SEARCH`), in any case.
//! So a REPLACE line may not start, after its indentation, with that many of them: otherwise a
//! block would end (or a new one begin) inside the REPLACE, and the parser would read less than
//! the model meant. Gemma 3 270M, made to change its REPLACE, wrote `>>>>>>replace` and went on;
//! the parser ended the block there, and the edit was its SEARCH again. Another time it wrote
//! `<>>>>>>> REPLACE`, meaning the end. No Python line starts that way.
//!
//! A line is followed through a small automaton: leading blanks, then the count of `>` and `<`
//! so far ([`Safe`]), then the free rest of the line. Each state is a rule (`rline`, `run1`…,
//! `rest`); [`other_line`] walks a given line through the same states to build the rule of a
//! line that differs from it and is still safe.

use super::{Rules, literal};
use crate::answer::edits::{ANGLES, MARKER_RUN};

/// Most characters of one REPLACE line (and of its indentation).
pub const MAX_LINE: usize = 400;

/// Where a REPLACE line is, as far as markers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Safe {
    /// Nothing but blanks so far.
    Blank,
    /// `k` of `>` and `<` after the blanks.
    Run(usize),
    /// Past any danger: the rest is free.
    Free,
}

impl Safe {
    /// The state after `c`; `None` where the line would start like a marker.
    fn next(self, c: char) -> Option<Safe> {
        match self {
            Safe::Blank => Some(match c {
                ' ' | '\t' => Safe::Blank,
                c if ANGLES.contains(&c) => Safe::Run(1),
                _ => Safe::Free,
            }),
            Safe::Run(k) if ANGLES.contains(&c) => (k + 1 < MARKER_RUN).then_some(Safe::Run(k + 1)),
            Safe::Run(_) | Safe::Free => Some(Safe::Free),
        }
    }

    /// The rule that finishes a line from this state.
    fn rule(self) -> String {
        match self {
            Safe::Blank => "rline".into(),
            Safe::Run(k) => format!("run{k}"),
            Safe::Free => "rest".into(),
        }
    }

    /// The ways on from this state with one more character that is neither `\n` nor `except`:
    /// `[class] rule` alternatives joined by `|`.
    fn onward(self, except: Option<char>) -> String {
        let mut ways = Vec::new();
        if self == Safe::Blank {
            let blanks: String = [' ', '\t']
                .into_iter()
                .filter(|&c| except != Some(c))
                .map(class_char)
                .collect();
            if !blanks.is_empty() {
                ways.push(format!("[{blanks}] rline"));
            }
        }
        ways.push(self.onward_unblank(except));
        ways.join(" | ")
    }

    /// [`Safe::onward`] without a blank after blanks (what `rbody` allows).
    fn onward_unblank(self, except: Option<char>) -> String {
        let not = |chars: &[char]| {
            let mut class: String = "[^".chars().chain(['\\', 'n']).collect();
            for &c in chars.iter().chain(except.iter()) {
                class.push_str(&class_char(c));
            }
            class + "]"
        };
        let allowed = |c: char| except != Some(c);
        let mut ways = Vec::new();
        match self {
            Safe::Blank => {
                ways.push(format!("{} rest", not(&[' ', '\t', '<', '>'])));
                for ch in ANGLES.into_iter().filter(|&c| allowed(c)) {
                    ways.push(format!("{} run1", literal(&ch.to_string())));
                }
            }
            Safe::Run(k) => {
                ways.push(format!("{} rest", not(&ANGLES)));
                if k + 1 < MARKER_RUN {
                    for ch in ANGLES.into_iter().filter(|&c| allowed(c)) {
                        ways.push(format!("{} run{}", literal(&ch.to_string()), k + 1));
                    }
                }
            }
            Safe::Free => ways.push(format!("{} rest", not(&[]))),
        }
        ways.join(" | ")
    }
}

/// The rules every REPLACE line uses: `rline`, one line (with its `\n`) that does not start
/// like a marker; `rest`, the free rest of a line; `run1`…, a line after that many of `>` and
/// `<`.
pub fn line_rules() -> String {
    let mut text = format!(
        "rest ::= [^\\n]{{0,{MAX_LINE}}} \"\\n\"\n\
         rline ::= [ \\t]{{0,{MAX_LINE}}} rbody\n\
         rbody ::= \"\\n\" | {}\n",
        Safe::Blank.onward_unblank(None)
    );
    for k in 1..MARKER_RUN {
        let state = Safe::Run(k);
        text.push_str(&format!(
            "{} ::= \"\\n\" | {}\n",
            state.rule(),
            state.onward(None)
        ));
    }
    text
}

/// A rule for one REPLACE line (with its `\n`) that is not `line` and does not start like a
/// marker: it ends early, has another character somewhere, or goes on past `line`'s end.
pub fn other_line(rules: &mut Rules, line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    // The state before each character of `line`, and after its last; `None` once `line` itself
    // starts like a marker, so it cannot be followed further.
    let mut states = vec![Some(Safe::Blank)];
    for &c in &chars {
        let last = *states.last().expect("one state at least");
        states.push(last.and_then(|s| s.next(c)));
    }
    // All of `line` written: at least one more character.
    let mut next = states[chars.len()].map(|s| rules.add(&s.onward(None)));
    for (i, &c) in chars.iter().enumerate().rev() {
        next = states[i].map(|state| {
            let mut ways = vec!["\"\\n\"".to_string(), state.onward(Some(c))];
            if let Some(next) = &next {
                ways.push(format!("{} {next}", literal(&c.to_string())));
            }
            rules.add(&ways.join(" | "))
        });
    }
    next.expect("the empty start is never a marker")
}

/// `c` as written inside a GBNF character class.
fn class_char(c: char) -> String {
    match c {
        ']' | '[' | '\\' | '^' | '-' | '"' => format!("\\x{:02X}", c as u32),
        '\n' => "\\n".to_string(),
        '\t' => "\\t".to_string(),
        c if c.is_control() => format!("\\u{:04X}", c as u32),
        c => c.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::edits::{is_replace, is_search};
    use crate::model::grammar_check::Grammar;

    /// Every string over `alphabet` of at most `len` characters.
    fn strings(alphabet: &[char], len: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..len {
            last = last
                .iter()
                .flat_map(|s| alphabet.iter().map(move |&c| format!("{s}{c}")))
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    fn starts_like_a_marker(line: &str) -> bool {
        let rest = line.trim_start_matches([' ', '\t']);
        rest.chars().take_while(|c| ANGLES.contains(c)).count() >= MARKER_RUN
    }

    #[test]
    fn no_line_the_parser_reads_as_a_marker_is_a_replace_line() {
        let g = Grammar::parse(&format!("root ::= rline\n{}", line_rules())).unwrap();
        for blanks in ["", "  ", "\t "] {
            for run in 1..9 {
                for (lead, ch) in [("", '>'), ("", '<'), ("<", '>'), (">", '<'), ("<>", '>')] {
                    for word in ["", " REPLACE", "replace", " SEARCH ", " x", "REPLACE x"] {
                        let line = format!("{blanks}{lead}{}{word}", ch.to_string().repeat(run));
                        let marker = is_replace(&line) || is_search(&line);
                        let accepted = g.accepts(&format!("{line}\n"));
                        assert_eq!(accepted, !starts_like_a_marker(&line), "{line:?}");
                        assert!(!(marker && accepted), "{line:?}");
                    }
                }
            }
        }
        for fine in [
            "x = 1",
            "",
            "    ",
            ">>> doctest",
            "    s = '>>>>>>>'",
            "\tq <<<<< r",
        ] {
            assert!(g.accepts(&format!("{fine}\n")), "{fine:?}");
        }
    }

    #[test]
    fn another_line_is_any_safe_line_but_the_given_one() {
        let candidates = strings(&[' ', '<', '>', 'a'], 6);
        for given in ["", "a", " a>", ">>>>", "  <<<< a", "a   "] {
            let mut rules = Rules::new("o");
            let other = other_line(&mut rules, given);
            let g = Grammar::parse(&format!(
                "root ::= {other}\n{}{}",
                line_rules(),
                rules.text()
            ))
            .unwrap();
            for line in &candidates {
                let expected = line != given && !starts_like_a_marker(line);
                assert_eq!(
                    g.accepts(&format!("{line}\n")),
                    expected,
                    "given {given:?}, line {line:?}"
                );
            }
        }
    }

    #[test]
    fn a_line_that_starts_like_a_marker_is_never_followed() {
        let mut rules = Rules::new("o");
        let other = other_line(&mut rules, ">>>>>> x");
        let g = Grammar::parse(&format!(
            "root ::= {other}\n{}{}",
            line_rules(),
            rules.text()
        ))
        .unwrap();
        assert!(g.accepts(">>>> x\n"));
        assert!(!g.accepts(">>>>>> y\n"));
        assert!(!g.accepts(">>>>> x\n"));
    }
}
