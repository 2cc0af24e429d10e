//! Localize answers: tool calls (`{"calls": [...]}`) or locations (`[{"file": …, "start": …}]`).
//!
//! Read leniently, because models write the same thing many ways: one object instead of a list,
//! `path` for `file`, `line` or `"lines": "10-20"` for a span, numbers as strings, `"null"` for
//! null. A location may leave its lines out; the pipeline then finds them from the symbol it names.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A place in the code the fix must change, with its line span known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub function: Option<String>,
    /// First line, 1-based.
    pub start: usize,
    /// Last line, inclusive.
    pub end: usize,
}

impl Location {
    /// `Class.function`, `function`, `Class`, or nothing.
    pub fn symbol(&self) -> Option<String> {
        match (&self.class, &self.function) {
            (Some(c), Some(f)) => Some(format!("{c}.{f}")),
            (Some(s), None) | (None, Some(s)) => Some(s.clone()),
            (None, None) => None,
        }
    }
}

/// A location as an answer gives it: the lines may be missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedLocation {
    pub file: String,
    pub class: Option<String>,
    pub function: Option<String>,
    pub start: Option<usize>,
    pub end: Option<usize>,
}

/// One tool call asked for by a candidate.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ToolRequest {
    #[serde(alias = "name")]
    pub tool: String,
    #[serde(default)]
    pub args: Value,
}

/// What a localize answer says.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalizeAnswer {
    Calls(Vec<ToolRequest>),
    Locations(Vec<ProposedLocation>),
}

/// Reads an answer: tool calls, or locations.
pub fn parse_localize_answer(text: &str) -> Result<LocalizeAnswer> {
    let values = json_values(text);
    for value in &values {
        if let Some(calls) = tool_calls(value) {
            if calls.is_empty() {
                bail!("the answer calls no tool and gives no locations");
            }
            return Ok(LocalizeAnswer::Calls(calls));
        }
    }
    for value in &values {
        let locations = locations(value);
        if !locations.is_empty() {
            return Ok(LocalizeAnswer::Locations(locations));
        }
    }
    if values.is_empty() {
        bail!("the answer has no JSON: give locations as a JSON array");
    }
    bail!("the answer's JSON has neither tool calls nor locations with a file")
}

/// Every JSON object or array that parses from one of the answer's `{` or `[`, outermost first.
fn json_values(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut covered = 0;
    for (at, c) in text.char_indices() {
        if at < covered || !matches!(c, '{' | '[') {
            continue;
        }
        let mut stream = serde_json::Deserializer::from_str(&text[at..]).into_iter::<Value>();
        if let Some(Ok(value)) = stream.next() {
            covered = at + stream.byte_offset();
            out.push(value);
        }
    }
    out
}

fn tool_calls(value: &Value) -> Option<Vec<ToolRequest>> {
    let one = |v: &Value| -> Option<ToolRequest> {
        let object = v.as_object()?;
        let tool = object
            .get("tool")
            .or_else(|| object.get("name"))
            .or_else(|| object.get("function"))?
            .as_str()?
            .to_string();
        let args = object
            .get("args")
            .or_else(|| object.get("arguments"))
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        Some(ToolRequest { tool, args })
    };
    match value {
        Value::Object(object) => match object.get("calls") {
            Some(Value::Array(calls)) => Some(calls.iter().filter_map(one).collect()),
            Some(_) => None,
            None if object.contains_key("tool") => one(value).map(|c| vec![c]),
            None => None,
        },
        Value::Array(items) if !items.is_empty() && items.iter().all(|i| one(i).is_some()) => {
            // `[{"tool": …}]` — but a location list has `file`, not `tool`.
            items
                .iter()
                .all(|i| i.get("tool").is_some())
                .then(|| items.iter().filter_map(one).collect())
        }
        _ => None,
    }
}

fn locations(value: &Value) -> Vec<ProposedLocation> {
    match value {
        Value::Array(items) => items.iter().filter_map(location).collect(),
        Value::Object(object) => match object.get("locations") {
            Some(inner) => locations(inner),
            None => location(value).into_iter().collect(),
        },
        _ => Vec::new(),
    }
}

fn location(value: &Value) -> Option<ProposedLocation> {
    let object = value.as_object()?;
    let get = |keys: &[&str]| keys.iter().find_map(|k| object.get(*k));
    let file = text(get(&["file", "path", "filename", "file_path"])?)?;
    let class = get(&["class", "class_name"]).and_then(text);
    let function = get(&["function", "method", "function_name", "func"]).and_then(text);
    let mut start = get(&["start", "start_line", "line_start", "line", "from"]).and_then(number);
    let mut end = get(&["end", "end_line", "line_end", "to"]).and_then(number);
    if start.is_none()
        && let Some((a, b)) = get(&["lines", "line_range", "span"]).and_then(range)
    {
        (start, end) = (Some(a), Some(b));
    }
    if end.is_none() {
        end = start;
    }
    Some(ProposedLocation {
        file: file.trim_start_matches("./").to_string(),
        class,
        function,
        start,
        end,
    })
}

/// A non-empty string that is not a spelled-out null.
fn text(value: &Value) -> Option<String> {
    let s = value.as_str()?.trim();
    let null =
        s.is_empty() || ["null", "none", "n/a", "-"].contains(&s.to_ascii_lowercase().as_str());
    (!null).then(|| s.to_string())
}

fn number(value: &Value) -> Option<usize> {
    match value {
        Value::Number(n) => n.as_u64().map(|n| n as usize),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `"10-20"`, `"10:20"`, `[10, 20]`, `10`.
fn range(value: &Value) -> Option<(usize, usize)> {
    match value {
        Value::Array(pair) => Some((number(pair.first()?)?, number(pair.get(1)?)?)),
        Value::String(s) => {
            let (a, b) = s.split_once(['-', ':', '–'])?;
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        }
        other => number(other).map(|n| (n, n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn located(text: &str) -> Vec<ProposedLocation> {
        match parse_localize_answer(text).unwrap() {
            LocalizeAnswer::Locations(l) => l,
            other => panic!("not locations: {other:?}"),
        }
    }

    #[test]
    fn calls_and_locations_are_told_apart() {
        let calls = parse_localize_answer(
            r#"{"calls": [{"tool": "search_method", "args": {"method_name": "parse"}}]}"#,
        )
        .unwrap();
        assert!(matches!(calls, LocalizeAnswer::Calls(ref c) if c[0].tool == "search_method"));
        let l =
            located(r#"[{"file": "a.py", "class": null, "function": "f", "start": 1, "end": 2}]"#);
        assert_eq!(l[0].function.as_deref(), Some("f"));
        assert_eq!((l[0].start, l[0].end), (Some(1), Some(2)));
        assert!(parse_localize_answer(r#"{"calls": []}"#).is_err());
        assert!(parse_localize_answer("no idea").is_err());
    }

    #[test]
    fn the_many_ways_of_writing_a_location() {
        let l = located(r#"Answer: {"path": "./a.py", "function": "None", "line": "7"}"#);
        assert_eq!(
            l,
            [ProposedLocation {
                file: "a.py".into(),
                class: None,
                function: None,
                start: Some(7),
                end: Some(7),
            }]
        );
        let l = located(r#"[{"file": "a.py", "lines": "10-20", "class": ""}]"#);
        assert_eq!(
            (l[0].start, l[0].end, l[0].class.clone()),
            (Some(10), Some(20), None)
        );
        let l = located(r#"{"locations": [{"file": "b.py", "function": "load"}]}"#);
        assert_eq!((l[0].file.as_str(), l[0].start), ("b.py", None));
    }

    #[test]
    fn one_call_without_the_wrapper() {
        let calls =
            parse_localize_answer(r#"{"tool": "get_code", "args": {"path": "a.py"}}"#).unwrap();
        assert!(matches!(calls, LocalizeAnswer::Calls(ref c) if c.len() == 1));
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "(\\PC|\\{|\\}|\\[|\\]|\"|:|,){0,80}") {
            let _ = parse_localize_answer(&text);
        }
    }
}
