//! Stage 2, localize: where exactly? A candidate either calls the repository's search tools —
//! the results come back and it goes on, for a few rounds — or answers locations: a JSON array of
//! file/symbol/line-span objects. Later rounds carry the candidate's earlier answers and the tool
//! results, never its thinking.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::beams::StageKind;
use super::{Pipeline, answer};
use crate::event::{Beam, Event, Stage};
use crate::model::Message;
use crate::repo::{TOOLS, call_tool};

/// Lines of one file shown in the localize prompt.
const FILE_LINES: usize = 600;
/// Rounds a candidate may spend (the last must answer locations).
pub const MAX_ROUNDS: u32 = 3;
/// Tool calls a candidate may make in one round.
const MAX_CALLS: usize = 5;

/// A place in the code the fix must change.
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

/// One tool call asked for by a candidate.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ToolRequest {
    #[serde(alias = "name")]
    pub tool: String,
    #[serde(default)]
    pub args: serde_json::Value,
}

/// What a localize answer says.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalizeAnswer {
    Calls(Vec<ToolRequest>),
    Locations(Vec<Location>),
}

#[derive(Deserialize)]
struct CallsObject {
    calls: Vec<ToolRequest>,
}

/// Reads an answer: `{"calls": [...]}` or an array of locations.
pub fn parse_localize_answer(text: &str) -> Result<LocalizeAnswer> {
    let object = text.find('{').filter(|&at| {
        text[..at]
            .trim()
            .trim_start_matches("```json")
            .trim_start_matches("```")
            .trim()
            .is_empty()
    });
    if let Some(at) = object
        && let Some(end) = text.rfind('}')
        && let Ok(calls) = serde_json::from_str::<CallsObject>(&text[at..=end])
    {
        if calls.calls.is_empty() {
            bail!("the answer calls no tool and gives no locations");
        }
        return Ok(LocalizeAnswer::Calls(calls.calls));
    }
    Ok(LocalizeAnswer::Locations(answer::json_array(
        text,
        "locations",
    )?))
}

/// A localize candidate's result: valid locations and the answer that gave them.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub locations: Vec<Location>,
    /// The final round's answer (what the judge sees).
    pub answer: String,
}

#[derive(Serialize)]
struct NumberedFile {
    path: String,
    numbered: String,
}

#[derive(Serialize)]
struct ShownTool {
    name: &'static str,
    description: &'static str,
    args: String,
}

fn numbered(text: &str) -> String {
    let mut out: Vec<String> = text
        .lines()
        .take(FILE_LINES)
        .enumerate()
        .map(|(i, line)| format!("{:>4} | {line}", i + 1))
        .collect();
    let total = text.lines().count();
    if total > FILE_LINES {
        out.push(format!("     … {} more lines", total - FILE_LINES));
    }
    out.join("\n")
}

/// Functions and classes of the kept files listed in the prompt, best first.
const RANKED_SYMBOLS: usize = 10;

/// The kept files' functions and classes ranked for the issue (issue 18), as prompt lines:
/// `path: Class.method (lines a-b)`. Empty without an index.
fn ranked_symbols(pipeline: &Pipeline, files: &[String]) -> Vec<String> {
    let Some(index) = &pipeline.index else {
        return Vec::new();
    };
    let issue = format!("{}\n\n{}", pipeline.issue.title, pipeline.issue.body);
    crate::repo::rank_symbols(index, &issue, files, RANKED_SYMBOLS)
        .into_iter()
        .map(|s| format!("{}: {} (lines {}-{})", s.path, s.name, s.start, s.end))
        .collect()
}

/// The localize stage.
pub(crate) struct Localize;

impl StageKind for Localize {
    /// The files kept at the understand stage.
    type Parent = Vec<String>;
    type Data = Located;
    const STAGE: Stage = Stage::Localize;

    fn prompt(pipeline: &Pipeline, files: &Vec<String>) -> Result<Vec<Message>> {
        let mut shown = Vec::new();
        for path in files {
            shown.push(NumberedFile {
                path: path.clone(),
                numbered: numbered(&pipeline.workspace.read(path)?),
            });
        }
        let tools: Vec<ShownTool> = if pipeline.index.is_some() {
            TOOLS
                .iter()
                .map(|t| ShownTool {
                    name: t.name,
                    description: t.description,
                    args: t
                        .args
                        .iter()
                        .map(|(name, _)| *name)
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect()
        } else {
            Vec::new()
        };
        pipeline.prompts.messages(
            "localize",
            &pipeline.issue,
            minijinja::context! {
                files => minijinja::value::Serde(shown),
                tools => minijinja::value::Serde(tools),
                max_rounds => MAX_ROUNDS,
                symbols => ranked_symbols(pipeline, files),
            },
        )
    }

    fn parse(
        pipeline: &mut Pipeline,
        beam: Beam,
        first: &str,
        files: &Vec<String>,
    ) -> Result<Located> {
        let stage = Stage::Localize;
        let mut answer = first.to_string();
        let mut transcript = Localize::prompt(pipeline, files)?;
        for round in 1..=MAX_ROUNDS {
            let calls = match parse_localize_answer(&answer)? {
                LocalizeAnswer::Locations(proposed) => {
                    let mut locations = Vec::new();
                    for location in proposed {
                        match check_location(pipeline, &location) {
                            Ok(()) => locations.push(location),
                            Err(err) => pipeline.candidate_error(
                                stage,
                                beam,
                                format!("{err:#}; location ignored"),
                            ),
                        }
                    }
                    if locations.is_empty() {
                        bail!("none of the locations given is valid");
                    }
                    return Ok(Located { locations, answer });
                }
                LocalizeAnswer::Calls(calls) => calls,
            };
            if round == MAX_ROUNDS {
                bail!("still calling tools after {MAX_ROUNDS} rounds, without giving locations");
            }
            if pipeline.index.is_none() {
                bail!("it called tools, but the repository could not be indexed");
            }
            let mut results = Vec::new();
            for call in calls.iter().take(MAX_CALLS) {
                results.push(pipeline.run_tool(stage, beam, call));
            }
            if calls.len() > MAX_CALLS {
                results.push(format!(
                    "({} more calls were not run: at most {MAX_CALLS} a round)",
                    calls.len() - MAX_CALLS
                ));
            }
            transcript.push(Message::assistant(answer.clone()));
            transcript.push(Message::user(format!(
                "Tool results:\n\n{}\n\nCall more tools, or answer the locations ({} round{} left).",
                results.join("\n\n"),
                MAX_ROUNDS - round,
                if MAX_ROUNDS - round == 1 { "" } else { "s" }
            )));
            answer = pipeline
                .continue_candidate(
                    stage,
                    beam,
                    transcript.clone(),
                    round + 1,
                    Localize::grammar(),
                )?
                .answer;
        }
        unreachable!("the last round returns or fails")
    }

    fn grammar() -> Option<&'static str> {
        crate::assets::text("grammars/localize.gbnf").ok()
    }

    fn judged(data: &Located) -> Option<&str> {
        Some(&data.answer)
    }
}

impl Pipeline {
    /// Runs one tool for a candidate, reporting the call and its result; returns what the model
    /// is shown.
    fn run_tool(&mut self, stage: Stage, beam: Beam, call: &ToolRequest) -> String {
        let call_id = self.next_call;
        self.next_call += 1;
        self.emit(Event::ToolCall {
            stage,
            beam,
            call_id,
            name: call.tool.clone(),
            args: call.args.clone(),
        });
        let result = match &self.index {
            Some(index) => call_tool(index, &call.tool, &call.args),
            None => Err(anyhow::anyhow!("the repository is not indexed")),
        };
        let (ok, output) = match result {
            Ok(output) => (true, output.text),
            Err(err) => (false, format!("error: {err:#}")),
        };
        self.emit(Event::ToolResult {
            stage,
            beam,
            call_id,
            ok,
            output: output.clone(),
        });
        format!("{}({}):\n{output}", call.tool, call.args)
    }
}

fn check_location(pipeline: &Pipeline, location: &Location) -> Result<()> {
    let text = pipeline.workspace.read(&location.file)?;
    let lines = text.lines().count();
    if location.start == 0 || location.start > location.end || location.end > lines {
        bail!(
            "lines {}-{} are not a span of {} (it has {lines} lines)",
            location.start,
            location.end,
            location.file
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn calls_and_locations_are_told_apart() {
        let calls = parse_localize_answer(
            r#"{"calls": [{"tool": "search_method", "args": {"method_name": "parse"}}]}"#,
        )
        .unwrap();
        assert!(matches!(calls, LocalizeAnswer::Calls(ref c) if c[0].tool == "search_method"));
        let located = parse_localize_answer(
            r#"[{"file": "a.py", "class": null, "function": "f", "start": 1, "end": 2}]"#,
        )
        .unwrap();
        assert!(
            matches!(located, LocalizeAnswer::Locations(ref l) if l[0].function.as_deref() == Some("f"))
        );
        assert!(parse_localize_answer(r#"{"calls": []}"#).is_err());
        assert!(parse_localize_answer("no idea").is_err());
    }

    #[test]
    fn the_grammar_names_every_tool() {
        let grammar = Localize::grammar().unwrap();
        for tool in TOOLS {
            assert!(
                grammar.contains(&format!("\\\"{}\\\"", tool.name)),
                "{} is missing from localize.gbnf",
                tool.name
            );
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,80}") {
            let _ = parse_localize_answer(&text);
        }
    }
}
