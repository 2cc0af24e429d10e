//! The patch answer: SEARCH/REPLACE edits whose path line names a file shown to the model and
//! whose SEARCH is a run of consecutive lines of that file that occurs in it exactly once, so
//! every SEARCH is found.
//!
//! O(lines) rules: one per line (that line, then optionally the next line's rule), and the
//! starting points as a prefix tree over their first lines. A run that starting at line i would
//! occur more than once (a blank line, a lone `return None`) must go on until it is unique —
//! the start's literal holds the lines up to there — and a start that stays ambiguous for more
//! than [`MAX_WIDEN`] lines is not offered. A run is bounded in length ([`SEARCH_CHUNK`]).
//! REPLACE is free text, bounded, whose lines cannot start like a marker ([`super::replace`]).

use std::collections::HashMap;

use super::replace::{line_rules, other_line};
use super::{Rules, literal};
use crate::answer::edits::{DIVIDER, REPLACE, SEARCH};

/// A file the patch prompt shows.
#[derive(Debug, Clone)]
pub struct PatchFile {
    pub path: String,
    pub text: String,
    /// The 1-based inclusive line ranges shown; SEARCH runs stay inside them. Empty: all lines.
    pub shown: Vec<(usize, usize)>,
}

/// Lines a run may be widened by to make it unique.
pub const MAX_WIDEN: usize = 12;
/// A SEARCH run goes on at most to the end of the next chunk of this many lines after the one
/// it starts in: at least this many lines more than its first, at most twice this (plus any
/// widening).
pub const SEARCH_CHUNK: usize = 20;
/// Most edits in one answer.
const MAX_EDITS: usize = 4;
/// Most lines of one REPLACE.
const MAX_REPLACE_LINES: usize = 120;

/// The file's lines, each without its `\n` (a `\r` stays: SEARCH must match byte for byte).
fn lines(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    text.strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .collect()
}

/// For each line i (0-based), the last line of the shortest run starting at i that occurs
/// exactly once in the file, if that run is at most [`MAX_WIDEN`] lines longer than one line.
pub fn search_starts(text: &str) -> Vec<Option<usize>> {
    let lines = lines(text);
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let id: Vec<usize> = lines
        .iter()
        .map(|l| {
            let next = ids.len();
            *ids.entry(l).or_insert(next)
        })
        .collect();
    let mut same: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, &v) in id.iter().enumerate() {
        same.entry(v).or_default().push(i);
    }
    (0..lines.len())
        .map(|i| {
            let mut rivals: Vec<usize> = same[&id[i]].iter().copied().filter(|&j| j != i).collect();
            let mut end = i;
            while !rivals.is_empty() {
                end += 1;
                if end >= lines.len() || end - i > MAX_WIDEN {
                    return None;
                }
                let step = end - i;
                rivals.retain(|&j| j + step < lines.len() && id[j + step] == id[end]);
            }
            Some(end)
        })
        .collect()
}

/// A grammar for SEARCH/REPLACE edits of `files`.
pub fn patch(files: &[PatchFile]) -> String {
    let mut rules = Rules::new("p");
    let mut edits = Vec::new();
    for file in files {
        if let Some(search) = search_rule(&mut rules, file) {
            edits.push(rules.add(&format!(
                "{} {search} {} replace {}",
                literal(&format!("{}\n{SEARCH}\n", file.path)),
                literal(&format!("{DIVIDER}\n")),
                literal(REPLACE),
            )));
        }
    }
    if edits.is_empty() {
        // Nothing can be searched for: a grammar that accepts only a note saying so, which the
        // parser then reports as no edit.
        return "root ::= \"no lines to edit\"\n".to_string();
    }
    format!(
        "root ::= edit ( \"\\n\\n\" edit ){{0,{}}}\nedit ::= {}\n\
         replace ::= rline{{0,{MAX_REPLACE_LINES}}}\n{}{}",
        MAX_EDITS - 1,
        edits.join(" | "),
        line_rules(),
        rules.text()
    )
}

/// A grammar for a patch asked once more because its edits changed nothing: the same edits
/// (`(path, SEARCH)` pairs, in order, SEARCH as lines ending in `\n`), each SEARCH as it was,
/// and the first one's REPLACE anything but its SEARCH — the answer must change something.
/// Empty `kept`: `None`.
pub fn patch_changing(kept: &[(String, String)]) -> Option<String> {
    let mut rules = Rules::new("c");
    let mut edits = Vec::new();
    for (i, (path, search)) in kept.iter().enumerate() {
        let replace = if i == 0 {
            differing(&mut rules, search)
        } else {
            "replace".to_string()
        };
        edits.push(format!(
            "{} {replace} {}",
            literal(&format!("{path}\n{SEARCH}\n{search}{DIVIDER}\n")),
            literal(REPLACE),
        ));
    }
    if edits.is_empty() {
        return None;
    }
    Some(format!(
        "root ::= {}\n\
         replace ::= rline{{0,{MAX_REPLACE_LINES}}}\nmore ::= rline{{1,{MAX_REPLACE_LINES}}}\n{}{}",
        edits.join(" \"\\n\\n\" "),
        line_rules(),
        rules.text()
    ))
}

/// A rule for REPLACE lines that are not `search`'s lines: one rule per line of `search` (it
/// ends here, it goes on with that line, or it has another line and then anything) and, for
/// another line, one per character.
fn differing(rules: &mut Rules, search: &str) -> String {
    // All of `search`'s lines matched: only more lines differ.
    let mut next = "more".to_string();
    for line in lines(search).iter().rev() {
        let other = other_line(rules, line);
        next = rules.add(&format!(
            "\"\" | {} {next} | {other} replace",
            literal(&format!("{line}\n"))
        ));
    }
    next
}

/// The rule for one file's SEARCH text, or `None` when no line of it can start a unique run.
fn search_rule(rules: &mut Rules, file: &PatchFile) -> Option<String> {
    let lines = lines(&file.text);
    let shown = |i: usize| {
        file.shown.is_empty()
            || file
                .shown
                .iter()
                .any(|&(start, end)| start <= i + 1 && i < end)
    };
    let ends = search_starts(&file.text);
    // Continuation rules, built from the last line up: line i, then optionally the next line's
    // rule. A run may go on to the end of its start's chunk of lines and through the next chunk
    // (`cross`), but no further (`stay`): without a bound, Gemma 3 270M copied a long function
    // into SEARCH until its answer budget ran out, leaving no REPLACE.
    let chunk = |i: usize| i / SEARCH_CHUNK;
    let mut cross: HashMap<usize, String> = HashMap::new();
    let mut stay: HashMap<usize, String> = HashMap::new();
    for i in (0..lines.len()).rev() {
        if !shown(i) {
            continue;
        }
        let line = rules.add(&literal(&format!("{}\n", lines[i])));
        let then = |rule: Option<&String>| match rule {
            Some(rule) => format!("{line} {rule}?"),
            None => line.clone(),
        };
        let same_chunk = chunk(i + 1) == chunk(i);
        let stay_body = then(stay.get(&(i + 1)).filter(|_| same_chunk));
        let cross_body = then(if same_chunk {
            cross.get(&(i + 1))
        } else {
            stay.get(&(i + 1))
        });
        stay.insert(i, rules.add(&stay_body));
        cross.insert(i, rules.add(&cross_body));
    }
    let starts: Vec<(String, Option<String>)> = (0..lines.len())
        .filter_map(|i| {
            let end = ends[i]?;
            if !(i..=end).all(shown) {
                return None;
            }
            let run: String = lines[i..=end].iter().map(|l| format!("{l}\n")).collect();
            let then = match chunk(end + 1) - chunk(i) {
                0 => cross.get(&(end + 1)),
                1 => stay.get(&(end + 1)),
                _ => None,
            };
            Some((run, then.map(|rule| format!("{rule}?"))))
        })
        .collect();
    if starts.is_empty() {
        return None;
    }
    Some(rules.one_of_then(&starts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::edits::parse_edits;
    use crate::model::grammar_check::Grammar;

    const LOADER: &str = "def load(path):\n    text = read(path)\n    if not text:\n        return None\n    return parse(text)\n\ndef read(path):\n    if not path:\n        return None\n    return open(path).read()\n";

    fn file(shown: Vec<(usize, usize)>) -> PatchFile {
        PatchFile {
            path: "pkg/loader.py".into(),
            text: LOADER.into(),
            shown,
        }
    }

    fn edit(search: &str, replace: &str) -> String {
        format!("pkg/loader.py\n{SEARCH}\n{search}{DIVIDER}\n{replace}{REPLACE}")
    }

    #[test]
    fn runs_widen_until_unique() {
        let ends = search_starts(LOADER);
        assert_eq!(ends[0], Some(0)); // `def load(path):` is unique
        // `        return None` occurs twice: widened by the next line, which differs.
        assert_eq!(ends[3], Some(4));
        // The blank line is unique too (there is one).
        assert_eq!(ends[5], Some(5));
        // `        return None` at line 8 is followed by a unique line.
        assert_eq!(ends[8], Some(9));
        // Three `x` lines in a row occur once; one or two do not.
        let dupes = "x\nx\nx\n";
        assert_eq!(search_starts(dupes), vec![Some(2), None, None]);
    }

    #[test]
    fn search_text_is_a_unique_run_of_the_file() {
        let g = Grammar::parse(&patch(&[file(vec![])])).unwrap();
        let ok = edit(
            "    if not text:\n        return None\n",
            "    if not text:\n        return {}\n",
        );
        assert!(g.accepts(&ok), "{ok}");
        assert!(g.accepts(&edit("        return None\n    return parse(text)\n", "")));
        // Not in the file, out of order, or ambiguous.
        assert!(!g.accepts(&edit("    if not text:\n        return {}\n", "x\n")));
        assert!(!g.accepts(&edit("        return None\n    if not text:\n", "x\n")));
        assert!(!g.accepts(&edit("        return None\n", "x\n")));
        // Another file.
        assert!(!g.accepts(&ok.replace("pkg/loader.py", "pkg/other.py")));
        // Two edits.
        let two = format!(
            "{ok}\n\n{}",
            edit("def read(path):\n", "def read(path=None):\n")
        );
        assert!(g.accepts(&two), "{two}");
    }

    #[test]
    fn every_accepted_search_applies_exactly_once() {
        for (i, end) in search_starts(LOADER).into_iter().enumerate() {
            let Some(end) = end else { continue };
            let search: String = lines(LOADER)[i..=end]
                .iter()
                .map(|l| format!("{l}\n"))
                .collect();
            // Found as the applier finds it: at the start of a line.
            let at_line_start = format!("\n{LOADER}")
                .matches(&format!("\n{search}"))
                .count();
            assert_eq!(at_line_start, 1, "{search:?}");
        }
    }

    #[test]
    fn only_the_shown_lines_are_offered() {
        let g = Grammar::parse(&patch(&[file(vec![(7, 10)])])).unwrap();
        assert!(g.accepts(&edit("def read(path):\n", "def read(path=None):\n")));
        assert!(!g.accepts(&edit("def load(path):\n", "x\n")));
    }

    #[test]
    fn what_the_grammar_accepts_parses_as_edits() {
        let answer = edit(
            "    if not text:\n        return None\n",
            "    if not text:\n        return {}\n",
        );
        let parsed = parse_edits(&answer).unwrap();
        assert_eq!(parsed.edits[0].file, "pkg/loader.py");
        assert_eq!(
            parsed.edits[0].search,
            "    if not text:\n        return None\n"
        );
    }

    #[test]
    fn asked_once_more_the_first_edit_must_change_its_search() {
        let search = "    if not text:\n        return None\n";
        let kept = vec![
            ("pkg/loader.py".to_string(), search.to_string()),
            ("pkg/loader.py".to_string(), "def read(path):\n".to_string()),
        ];
        let g = Grammar::parse(&patch_changing(&kept).unwrap()).unwrap();
        let two = |first: &str, second: &str| {
            format!(
                "{}\n\n{}",
                edit(search, first),
                edit("def read(path):\n", second)
            )
        };
        // The same lines back: refused, also with the second edit changed.
        assert!(!g.accepts(&two(search, "def read(path):\n")));
        assert!(!g.accepts(&two(search, "def read(path=None):\n")));
        // A character changed, a line shorter or longer, lines dropped or added: accepted.
        for replace in [
            "    if not text:\n        return {}\n",
            "    if not text:\n        return\n",
            "    if not text:\n        return None  # empty\n",
            "    if not text:\n",
            "",
            "    if not text:\n        return None\n    log(path)\n",
            "    if text is None:\n        return None\n",
            "\n        return None\n",
        ] {
            let answer = two(replace, "def read(path):\n");
            assert!(g.accepts(&answer), "{answer}");
            let parsed = parse_edits(&answer).unwrap();
            assert_ne!(parsed.edits[0].replace, parsed.edits[0].search, "{answer}");
        }
        // Another SEARCH, another file, or one edit of the two: refused.
        assert!(!g.accepts(&two("x\n", "y\n").replace("if not text", "if text")));
        assert!(!g.accepts(&two("x\n", "y\n").replacen("pkg/loader.py", "pkg/other.py", 1)));
        assert!(!g.accepts(&edit(search, "x\n")));
        assert!(patch_changing(&[]).is_none());
    }

    #[test]
    fn a_replace_line_cannot_be_its_end_marker() {
        let search = "    return a - b\n\n";
        let kept = vec![("calc.py".to_string(), search.to_string())];
        let changing = Grammar::parse(&patch_changing(&kept).unwrap()).unwrap();
        let calc = PatchFile {
            path: "calc.py".into(),
            text: format!("def sub(a, b):\n{search}x = 1\n"),
            shown: vec![],
        };
        let free = Grammar::parse(&patch(&[calc])).unwrap();
        let one =
            |replace: &str| format!("calc.py\n{SEARCH}\n{search}{DIVIDER}\n{replace}{REPLACE}");
        // The SEARCH again, then the marker and more: the parser would read the SEARCH back.
        let sneaky = one(&format!("{search}{REPLACE}\n    return a + b\n"));
        assert!(!changing.accepts(&sneaky));
        assert!(!free.accepts(&sneaky));
        // Nor anything else the parser reads as a marker: Gemma 3 270M wrote `>>>>>>replace`.
        for replace in [
            format!("{search}>>>>>>replace\n    more\n"),
            "    return a + b\n    >>>>>> x\n\n".to_string(),
            format!("    return a + b\n{SEARCH}\n"),
        ] {
            assert!(!changing.accepts(&one(&replace)), "{replace:?}");
            assert!(!free.accepts(&one(&replace)), "{replace:?}");
        }
        // Lines that start with fewer `>`, or hold them later, are fine.
        for replace in [
            "    return a + b\n>>>> x\n\n",
            "    x = '>>>>>>>'\n\n",
            ">\n\n",
        ] {
            assert!(changing.accepts(&one(replace)), "{replace:?}");
            assert!(free.accepts(&one(replace)), "{replace:?}");
        }
        // An empty line of the SEARCH may not become the marker either.
        assert!(!changing.accepts(&one(&format!("    return a - b\n{REPLACE}\n"))));
    }

    #[test]
    fn characters_special_in_a_class_are_escaped() {
        let search = "a[\"-\\^]\r\n";
        let kept = vec![("a.py".to_string(), search.to_string())];
        let g = Grammar::parse(&patch_changing(&kept).unwrap()).unwrap();
        let one = |replace: &str| format!("a.py\n{SEARCH}\n{search}{DIVIDER}\n{replace}{REPLACE}");
        assert!(!g.accepts(&one(search)));
        assert!(g.accepts(&one("a[\"-\\^]\n")));
        assert!(g.accepts(&one("a[\"-\\]\r\n")));
        assert!(g.accepts(&one("a(\"-\\^]\r\n")));
    }

    #[test]
    fn a_search_run_is_bounded_in_length() {
        let text: String = (0..100).map(|i| format!("x{i} = {i}\n")).collect();
        let long = PatchFile {
            path: "a.py".into(),
            text: text.clone(),
            shown: vec![],
        };
        let g = Grammar::parse(&patch(&[long])).unwrap();
        let run = |from: usize, lines: usize| -> String {
            let search: String = (from..from + lines)
                .map(|i| format!("x{i} = {i}\n"))
                .collect();
            format!("a.py\n{SEARCH}\n{search}{DIVIDER}\nx = 0\n{REPLACE}")
        };
        // From anywhere, the chunk's rest and one more chunk: at least SEARCH_CHUNK + 1 lines.
        for from in [0, 7, 19, 20, 39, 55] {
            assert!(g.accepts(&run(from, SEARCH_CHUNK + 1)), "from {from}");
        }
        // To the end of the next chunk, not a line past it.
        assert!(g.accepts(&run(5, 2 * SEARCH_CHUNK - 5)));
        assert!(!g.accepts(&run(5, 2 * SEARCH_CHUNK - 4)));
        assert!(!g.accepts(&run(0, 100)));
    }

    #[test]
    fn carriage_returns_are_kept() {
        let crlf = PatchFile {
            path: "a.py".into(),
            text: "a = 1\r\nb = 2\r\n".into(),
            shown: vec![],
        };
        let g = Grammar::parse(&patch(&[crlf])).unwrap();
        assert!(g.accepts(&format!(
            "a.py\n{SEARCH}\nb = 2\r\n{DIVIDER}\nb = 3\r\n{REPLACE}"
        )));
    }
}
