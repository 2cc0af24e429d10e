//! The localize answer: tool calls with each tool's own argument names, or one to five locations
//! whose `file` is one of the files shown, whose lines lie inside that file, and whose class and
//! function are that file's own symbols (or null). The last round allows locations only.

use super::{Rules, json_literal, literal, number_at_most};
use crate::repo::{ArgType, ToolSpec};

/// A file the localize prompt shows, with what a location in it may name.
#[derive(Debug, Clone, Default)]
pub struct LocalizeFile {
    pub path: String,
    /// Lines in the file (locations lie within 1..=lines).
    pub lines: usize,
    /// Names of the file's classes.
    pub classes: Vec<String>,
    /// Names of the file's functions and methods.
    pub functions: Vec<String>,
}

/// Most locations in one answer.
const MAX_LOCATIONS: usize = 5;
/// Most tool calls in one answer.
const MAX_CALLS: usize = 5;
/// Most characters of a string argument to a tool.
const MAX_ARG: usize = 120;

/// A grammar for a localize answer over `files`; tool calls are allowed when `tools` is not empty.
pub fn localize(files: &[LocalizeFile], tools: &[ToolSpec]) -> String {
    let mut rules = Rules::new("loc");
    let mut located = Vec::new();
    for file in files {
        let lines = number_at_most(file.lines);
        let symbol = |rules: &mut Rules, names: &[String]| {
            if names.is_empty() {
                return "\"null\"".to_string();
            }
            let quoted: Vec<String> = names
                .iter()
                .map(|n| serde_json::Value::String(n.clone()).to_string())
                .collect();
            let name = rules.one_of(&quoted);
            format!("( {name} | \"null\" )")
        };
        let class = symbol(&mut rules, &file.classes);
        let function = symbol(&mut rules, &file.functions);
        let line = rules.add(&lines);
        located.push(rules.add(&format!(
            "\"{{\" ws \"\\\"file\\\": \" {path} \", \" \"\\\"class\\\": \" {class} \", \" \
             \"\\\"function\\\": \" {function} \", \" \"\\\"start\\\": \" {line} \", \" \
             \"\\\"end\\\": \" {line} ws \"}}\"",
            path = json_literal(&file.path),
        )));
    }
    let location = if located.is_empty() {
        // Nothing shown: no location can be valid, but the answer must still end.
        "\"{}\"".to_string()
    } else {
        located.join(" | ")
    };
    let mut text = format!(
        "locations ::= \"[\" ws location ( \",\" ws location ){{0,{}}} ws \"]\"\n\
         location ::= {location}\n",
        MAX_LOCATIONS - 1
    );
    let root = if tools.is_empty() {
        "root ::= locations\n".to_string()
    } else {
        let calls: Vec<String> = tools.iter().map(|t| call_rule(&mut rules, t)).collect();
        text.push_str(&format!(
            "calls ::= \"{{\\\"calls\\\": [\" ws call ( \",\" ws call ){{0,{}}} ws \"]}}\"\n\
             call ::= {}\n",
            MAX_CALLS - 1,
            calls.join(" | ")
        ));
        "root ::= calls | locations\n".to_string()
    };
    format!(
        "{root}{text}ws ::= [ \\n]?\nstring ::= \"\\\"\" char{{1,{MAX_ARG}}} \"\\\"\"\n\
         char ::= [^\"\\\\\\n] | \"\\\\\" [\"\\\\/nt]\ninteger ::= [0-9]{{1,6}}\n{}",
        rules.text()
    )
}

fn call_rule(rules: &mut Rules, tool: &ToolSpec) -> String {
    let args: Vec<String> = tool
        .args
        .iter()
        .map(|(name, kind)| {
            let value = match kind {
                ArgType::String => "string",
                ArgType::Integer => "integer",
            };
            format!("{} {value}", literal(&format!("\"{name}\": ")))
        })
        .collect();
    rules.add(&format!(
        "\"{{\\\"tool\\\": \" {} \", \\\"args\\\": {{\" {} \"}}}}\"",
        json_literal(tool.name),
        args.join(" \", \" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::grammar_check::Grammar;
    use crate::repo::TOOLS;

    fn files() -> Vec<LocalizeFile> {
        vec![
            LocalizeFile {
                path: "pkg/loader.py".into(),
                lines: 42,
                classes: vec!["Loader".into()],
                functions: vec!["load".into(), "parse".into()],
            },
            LocalizeFile {
                path: "pkg/empty.py".into(),
                lines: 3,
                ..LocalizeFile::default()
            },
        ]
    }

    #[test]
    fn locations_lie_in_the_files_shown() {
        let g = Grammar::parse(&localize(&files(), &[])).unwrap();
        let ok = r#"[{"file": "pkg/loader.py", "class": "Loader", "function": "load", "start": 10, "end": 42}]"#;
        assert!(g.accepts(ok), "{ok}");
        assert!(g.accepts(
            r#"[{"file": "pkg/empty.py", "class": null, "function": null, "start": 1, "end": 3},
{"file": "pkg/loader.py", "class": null, "function": "parse", "start": 2, "end": 2}]"#
        ));
        for bad in [
            r#"[{"file": "pkg/loader.py", "class": "Loader", "function": "load", "start": 10, "end": 43}]"#,
            r#"[{"file": "pkg/other.py", "class": null, "function": null, "start": 1, "end": 1}]"#,
            r#"[{"file": "pkg/empty.py", "class": null, "function": "load", "start": 1, "end": 1}]"#,
            r#"{"calls": [{"tool": "get_code", "args": {"file_path": "a.py", "start": 1, "end": 2}}]}"#,
        ] {
            assert!(!g.accepts(bad), "{bad}");
        }
    }

    #[test]
    fn calls_name_a_tool_with_its_own_arguments() {
        let g = Grammar::parse(&localize(&files(), TOOLS)).unwrap();
        assert!(g.accepts(
            r#"{"calls": [{"tool": "search_method", "args": {"method_name": "parse"}}]}"#
        ));
        assert!(g.accepts(
            r#"{"calls": [{"tool": "get_code", "args": {"file_path": "a.py", "start": 1, "end": 20}},
{"tool": "search_class", "args": {"class_name": "Loader"}}]}"#
        ));
        assert!(!g.accepts(r#"{"calls": [{"tool": "search_method", "args": {"name": "parse"}}]}"#));
        assert!(!g.accepts(r#"{"calls": [{"tool": "rm_rf", "args": {}}]}"#));
    }

    #[test]
    fn the_answer_parses_as_what_the_grammar_allows() {
        let answer = r#"[{"file": "pkg/loader.py", "class": null, "function": "load", "start": 5, "end": 9}]"#;
        assert!(
            Grammar::parse(&localize(&files(), TOOLS))
                .unwrap()
                .accepts(answer)
        );
        match crate::answer::parse_localize_answer(answer).unwrap() {
            crate::answer::LocalizeAnswer::Locations(l) => {
                assert_eq!((l[0].start, l[0].end), (Some(5), Some(9)))
            }
            other => panic!("{other:?}"),
        }
    }
}
