//! Stage 2, localize: where exactly? A candidate either calls the repository's search tools —
//! the results come back and it goes on, for a few rounds — or answers locations: a JSON array of
//! file/symbol/line-span objects. Later rounds carry the candidate's earlier answers and the tool
//! results, never its thinking. The grammar keeps locations inside the files shown, and the last
//! round can only give locations.

use anyhow::{Result, bail};
use serde::Serialize;

use super::Pipeline;
use super::beams::StageKind;
use crate::answer::grammar::{self, LocalizeFile};
use crate::answer::{LocalizeAnswer, ProposedLocation, ToolRequest, parse_localize_answer, paths};
use crate::event::{Beam, Event, Stage};
use crate::model::Message;
use crate::repo::{SymbolKind, TOOLS, call_tool};

pub use crate::answer::Location;

/// Lines of one file shown in the localize prompt.
const FILE_LINES: usize = 600;
/// Characters of file text the localize prompt shows in all (about 6-8k tokens): files are shown
/// whole while they fit, best first, and as an outline of their definitions after that. Five
/// whole 600-line files made prompts of 25k tokens, past a small model's trained context and
/// minutes of prompt decoding on a CPU; the search tools still show any function's body.
const SHOWN_CHARS: usize = 24_000;
/// Rounds a candidate may spend (the last must answer locations).
pub const MAX_ROUNDS: u32 = 3;
/// Tool calls a candidate may make in one round.
const MAX_CALLS: usize = 5;
/// The most lines one location may span. A longer span (SmolLM2 on pylint-7080 gave lines
/// 12-1234 of a 1,234-line file) made a 20k-token patch prompt, hours of prompt decoding on a
/// CPU, for a model that cannot use it: it is narrowed to the function or class inside it that
/// ranks best for the issue, else cut to its first lines.
const MAX_SPAN_LINES: usize = 200;

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

/// A file too long for what is left of the prompt's room: the numbered lines where its
/// definitions start (`starts`, 1-based, from the index; else lines that look like one), within
/// `room` characters, and a line saying how to see the rest.
fn outline(text: &str, starts: &[usize], room: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut wanted: Vec<usize> = if starts.is_empty() {
        lines
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                let t = l.trim_start();
                [
                    "def ",
                    "async def ",
                    "class ",
                    "fn ",
                    "pub fn ",
                    "func ",
                    "function ",
                ]
                .iter()
                .any(|k| t.starts_with(k))
            })
            .map(|(i, _)| i + 1)
            .collect()
    } else {
        starts.to_vec()
    };
    wanted.sort_unstable();
    wanted.dedup();
    let note = format!(
        "     … an outline of {} lines: where each definition starts; call the search tools to \
         see a body",
        lines.len()
    );
    let mut out = Vec::new();
    let mut used = note.len() + 1;
    for line in wanted {
        let Some(text) = lines.get(line - 1) else {
            continue;
        };
        let row = format!("{line:>4} | {text}");
        if used + row.len() + 1 > room {
            break;
        }
        used += row.len() + 1;
        out.push(row);
    }
    out.push(note);
    out.join("\n")
}

/// The kept files' functions and classes ranked for the issue (issue 18), as prompt lines:
/// `path: Class.method (lines a-b)`, as many as the `ranked_symbols` setting. Empty without an
/// index.
fn ranked_symbols(pipeline: &Pipeline, files: &[String]) -> Vec<String> {
    let Some(index) = &pipeline.index else {
        return Vec::new();
    };
    let issue = pipeline.issue.text();
    let wanted = pipeline.settings.ranked_symbols as usize;
    if wanted == 0 {
        return Vec::new();
    }
    crate::repo::rank_symbols(index, &issue, files, wanted)
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
        let mut left = SHOWN_CHARS;
        for path in files {
            let text = pipeline.workspace.read(path)?;
            let whole = numbered(&text);
            let numbered = if whole.len() <= left {
                whole
            } else {
                let starts: Vec<usize> = pipeline
                    .index
                    .as_ref()
                    .and_then(|index| index.file(path))
                    .map(|file| file.symbols.iter().map(|s| s.start).collect())
                    .unwrap_or_default();
                outline(&text, &starts, left)
            };
            left = left.saturating_sub(numbered.len());
            shown.push(NumberedFile {
                path: path.clone(),
                numbered,
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
        pipeline.messages(
            "localize",
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
                        match resolve_location(pipeline, &location) {
                            Ok((location, how)) => {
                                if let Some(how) = how {
                                    pipeline.note(stage, format!("candidate {beam}: {how}"));
                                }
                                if !locations.contains(&location) {
                                    locations.push(location);
                                }
                            }
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
                    pipeline.emit(Event::Located {
                        beam,
                        locations: locations.clone(),
                    });
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
            let last = round + 1 == MAX_ROUNDS;
            let grammar = localize_grammar(pipeline, files, !last);
            answer = pipeline
                .continue_candidate(
                    stage,
                    beam,
                    transcript.clone(),
                    round + 1,
                    grammar.as_deref(),
                )?
                .answer;
        }
        unreachable!("the last round returns or fails")
    }

    fn grammar(pipeline: &Pipeline, files: &Vec<String>) -> Option<String> {
        localize_grammar(pipeline, files, true)
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

/// The grammar of a localize answer about `files`, with tool calls when `calls` and the index is
/// there to answer them.
fn localize_grammar(pipeline: &Pipeline, files: &[String], calls: bool) -> Option<String> {
    let shown: Vec<LocalizeFile> = files
        .iter()
        .filter_map(|path| {
            let text = pipeline.workspace.read(path).ok()?;
            let symbols = pipeline
                .index
                .as_ref()
                .and_then(|index| index.file(path))
                .map(|file| file.symbols.as_slice())
                .unwrap_or_default();
            let names = |kinds: &[SymbolKind]| {
                let mut names: Vec<String> = symbols
                    .iter()
                    .filter(|s| kinds.contains(&s.kind))
                    .map(|s| s.name.clone())
                    .collect();
                names.sort();
                names.dedup();
                names
            };
            Some(LocalizeFile {
                path: path.clone(),
                lines: text.lines().count(),
                classes: names(&[SymbolKind::Class]),
                functions: names(&[SymbolKind::Function, SymbolKind::Method]),
            })
        })
        .collect();
    let tools = if calls && pipeline.index.is_some() {
        TOOLS
    } else {
        &[]
    };
    Some(grammar::localize(&shown, tools))
}

/// Turns a proposed location into one with a file of the repository and a line span inside it:
/// missing lines come from the symbol it names, else the start of the file; a span past the end is
/// cut at the end. Returns what was filled in, if anything.
fn resolve_location(
    pipeline: &Pipeline,
    proposed: &ProposedLocation,
) -> Result<(Location, Option<String>)> {
    let files = pipeline.workspace.files();
    let Some(file) = paths::resolve(&proposed.file, files) else {
        bail!("{} is not a file of the repository", proposed.file);
    };
    let text = pipeline.workspace.read(file)?;
    let lines = text.lines().count();
    if lines == 0 {
        bail!("{file} is empty");
    }
    let mut how = Vec::new();
    if file != proposed.file {
        how.push(format!("{} read as {file}", proposed.file));
    }
    let symbol = || {
        let index = pipeline.index.as_ref()?;
        let indexed = index.file(file)?;
        indexed
            .symbols
            .iter()
            .filter(|s| {
                proposed.function.as_deref().is_none_or(|f| s.name == f)
                    && match (&proposed.class, &proposed.function) {
                        (Some(class), Some(_)) => s.parent() == Some(class.as_str()),
                        (Some(class), None) => s.name == *class && s.kind == SymbolKind::Class,
                        (None, Some(_)) => s.kind.is_callable(),
                        (None, None) => false,
                    }
            })
            .map(|s| (s.start, s.end))
            .next()
    };
    let named = proposed
        .function
        .as_ref()
        .or(proposed.class.as_ref())
        .map_or(String::new(), Clone::clone);
    // Small models name the right function with the wrong lines: lines that miss the function
    // they name give way to its span in the symbol index.
    if let (Some(span), Some(start)) = (symbol(), proposed.start) {
        let end = proposed.end.unwrap_or(start).max(start);
        if end < span.0 || start > span.1 {
            how.push(format!(
                "lines {start}-{end} are not in {named}: its lines {}-{} taken from the symbol index",
                span.0, span.1
            ));
            return Ok((
                Location {
                    file: file.to_string(),
                    class: proposed.class.clone(),
                    function: proposed.function.clone(),
                    start: span.0,
                    end: span.1,
                },
                Some(how.join("; ")),
            ));
        }
    }
    let (start, end) = match (proposed.start, proposed.end) {
        (Some(start), Some(end)) if start >= 1 && start <= lines => {
            let (start, end) = (start.min(end.max(1)), end.max(start));
            if end > lines {
                how.push(format!(
                    "lines {start}-{end} cut at the file's end ({lines})"
                ));
            }
            (start, end.min(lines))
        }
        (Some(start), _) if start > lines || start == 0 => {
            bail!("line {start} is not a line of {file} (it has {lines} lines)")
        }
        _ => match symbol() {
            Some(span) => {
                how.push(format!(
                    "lines {}-{} of {named} taken from the symbol index",
                    span.0, span.1
                ));
                span
            }
            None => {
                how.push(if lines <= MAX_SPAN_LINES {
                    format!("no lines given: lines 1-{lines} of {file} taken")
                } else {
                    "no lines given".to_string()
                });
                (1, lines)
            }
        },
    };
    let mut location = Location {
        file: file.to_string(),
        class: proposed.class.clone(),
        function: proposed.function.clone(),
        start,
        end,
    };
    if end - start >= MAX_SPAN_LINES {
        how.push(narrow(pipeline, &mut location));
    }
    Ok((location, (!how.is_empty()).then(|| how.join("; "))))
}

/// Narrows a location longer than [`MAX_SPAN_LINES`] to the function, method or class inside
/// it that ranks best for the issue and fits, else to its first lines; says what it did.
fn narrow(pipeline: &Pipeline, location: &mut Location) -> String {
    let (start, end) = (location.start, location.end);
    let said = format!("lines {start}-{end} are {} lines", end - start + 1);
    let best = pipeline.index.as_ref().and_then(|index| {
        let issue = pipeline.issue.text();
        let files = [location.file.clone()];
        crate::repo::rank_symbols(index, &issue, &files, usize::MAX)
            .into_iter()
            .find(|s| start <= s.start && s.end <= end && s.end - s.start < MAX_SPAN_LINES)
    });
    match best {
        Some(unit) => {
            (location.start, location.end) = (unit.start, unit.end);
            if unit.kind == SymbolKind::Class {
                (location.class, location.function) = (Some(unit.name.clone()), None);
            } else {
                let (class, function) = match unit.name.rsplit_once('.') {
                    Some((class, function)) => (Some(class.to_string()), function.to_string()),
                    None => (None, unit.name.clone()),
                };
                (location.class, location.function) = (class, Some(function));
            }
            format!(
                "{said}: narrowed to {} (lines {}-{}), the function or class in them that \
                 ranks best for the issue",
                unit.name, unit.start, unit.end
            )
        }
        None => {
            location.end = start + MAX_SPAN_LINES - 1;
            format!(
                "{said}: cut to lines {start}-{} (no function or class in them ranks for the \
                 issue)",
                location.end
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_file_is_outlined_within_its_room() {
        let text: String = (1..=400)
            .map(|i| {
                if i % 20 == 1 {
                    format!("def f{i}(x):\n")
                } else {
                    format!("    x = x + {i}  # some work on this line\n")
                }
            })
            .collect();
        let shown = outline(&text, &[], 200);
        assert!(shown.len() <= 200 + 120, "{shown}");
        assert!(
            shown.starts_with("   1 | def f1(x):\n  21 | def f21(x):"),
            "{shown}"
        );
        assert!(
            shown.ends_with("call the search tools to see a body"),
            "{shown}"
        );
        assert!(!shown.contains("x = x +"));
        // The index's definition lines win over the guess.
        let shown = outline(&text, &[41, 2], 10_000);
        assert!(shown.starts_with("   2 |     x = x + 2"), "{shown}");
        assert!(shown.contains("  41 | def f41(x):"), "{shown}");
    }

    #[test]
    fn the_grammar_names_every_tool() {
        let grammar = grammar::localize(&[], TOOLS);
        for tool in TOOLS {
            assert!(
                grammar.contains(&format!("\\\"{}\\\"", tool.name)),
                "{} is missing from the localize grammar",
                tool.name
            );
        }
    }
}
