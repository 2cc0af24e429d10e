//! Stage 3, patch: SEARCH/REPLACE edits turned into a unified diff. Candidates whose edits give
//! the same files are one patch with several votes; a patch that leaves a Python module unparseable
//! is said to at once. A block cut short whose REPLACE breaks its module is cut back to the lines
//! that do not ([`trim_cut_replace`]).

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::Pipeline;
use super::beams::{Candidate, StageKind};
use super::edit::{Edit, FileChange, Matching, apply_edit, apply_edits, unified_diff};
use super::localize::Location;
use crate::answer::grammar::{self, PatchFile};
use crate::answer::{parse_edits, paths};
use crate::event::{Beam, Event, Stage};
use crate::model::Message;

/// Lines of context shown around each location.
const CONTEXT_LINES: usize = 5;

/// What a candidate whose edits changed nothing is told when it is asked once more.
const CHANGE_SOMETHING: &str = "Your edits change nothing: in each edit the REPLACE part is the \
same as the SEARCH part. Write the edits again. Keep SEARCH as it is in the file, and in REPLACE \
write the code as it must read after the fix.";

/// A patch answer whose edits leave every file as it was (small models copy SEARCH into REPLACE).
#[derive(Debug)]
struct NothingChanged;

impl std::fmt::Display for NothingChanged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the edits change nothing")
    }
}

impl std::error::Error for NothingChanged {}

/// A patch made from one candidate's edits.
#[derive(Debug, Clone)]
pub(crate) struct Patch {
    /// The answer the patch was made from.
    pub answer: String,
    pub diff: String,
    pub files: Vec<String>,
    pub matching: Matching,
    /// The files as the patch leaves them: identical for identical patches.
    pub changes: Vec<FileChange>,
    /// Candidates that proposed this same patch, this one included.
    pub votes: u32,
}

#[derive(Serialize)]
struct ShownLocation {
    file: String,
    symbol: Option<String>,
    start: usize,
    end: usize,
    code: String,
}

/// The patch stage.
pub(crate) struct PatchStage;

impl PatchStage {
    /// The prompt for locations, with extra notes (a failed verification, for a repair).
    pub(crate) fn prompt_with(
        pipeline: &Pipeline,
        locations: &[Location],
        notes: &str,
    ) -> Result<Vec<Message>> {
        let mut shown = Vec::new();
        for location in locations {
            let text = pipeline.workspace.read(&location.file)?;
            let lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                continue;
            }
            let (start, end) = shown_span(location, lines.len());
            shown.push(ShownLocation {
                file: location.file.clone(),
                symbol: location.symbol(),
                start,
                end,
                code: lines[start - 1..end].join("\n"),
            });
        }
        pipeline.messages(
            "patch",
            minijinja::context! { locations => minijinja::value::Serde(shown), notes },
        )
    }

    /// The grammar of edits to what the prompt for `locations` shows.
    pub(crate) fn grammar_for(pipeline: &Pipeline, locations: &[Location]) -> Option<String> {
        let mut files: Vec<PatchFile> = Vec::new();
        for location in locations {
            let Ok(text) = pipeline.workspace.read(&location.file) else {
                continue;
            };
            let span = shown_span(location, text.lines().count());
            match files.iter_mut().find(|f| f.path == location.file) {
                Some(file) => file.shown.push(span),
                None => files.push(PatchFile {
                    path: location.file.clone(),
                    text,
                    shown: vec![span],
                }),
            }
        }
        Some(grammar::patch(&files))
    }

    /// For a patch whose edits changed nothing, the grammar of its second round: its own edits
    /// with their SEARCH kept, the first one's REPLACE made to differ (Gemma 3 270M, asked
    /// once more under the free grammar, repeated its SEARCH again in 3 of 20 candidates).
    fn changing_grammar(pipeline: &Pipeline, answer: &str) -> Option<String> {
        let files = pipeline.workspace.files();
        let kept: Vec<(String, String)> = parse_edits(answer)
            .ok()?
            .edits
            .into_iter()
            .filter(|e| !e.search.is_empty() && e.search == e.replace)
            .filter_map(|e| {
                let file = paths::resolve(&e.file, files)?.to_string();
                Some((file, e.search))
            })
            .collect();
        grammar::patch_changing(&kept)
    }

    /// Parses and applies a patch answer; edits that name a file loosely are matched to the
    /// repository's, and edits that fail are reported while the others make the patch.
    pub(crate) fn make_patch(pipeline: &Pipeline, beam: Beam, answer: &str) -> Result<Patch> {
        let mut parsed = parse_edits(answer)?;
        for problem in &parsed.problems {
            pipeline.candidate_error(Stage::Patch, beam, problem.clone());
        }
        let files = pipeline.workspace.files();
        for edit in &mut parsed.edits {
            if let Some(file) = paths::resolve(&edit.file, files)
                && file != edit.file
            {
                pipeline.note(
                    Stage::Patch,
                    format!("candidate {beam}: {} read as {file}", edit.file),
                );
                edit.file = file.to_string();
            }
        }
        if parsed.cut {
            trim_cut_replace(pipeline, beam, &mut parsed.edits);
        }
        let applied = apply_edits(&parsed.edits, |path| {
            if pipeline.workspace.has_file(path) {
                return pipeline.workspace.read(path).map(Some);
            }
            check_new_path(pipeline, path)?;
            Ok(None)
        })?;
        for failure in &applied.failed {
            pipeline.candidate_error(Stage::Patch, beam, format!("{failure}; edit left out"));
        }
        let diff = unified_diff(&applied.changes);
        if diff.is_empty() {
            return Err(NothingChanged.into());
        }
        let changes: Vec<FileChange> = applied
            .changes
            .into_iter()
            .filter(|c| c.before != c.after || c.created)
            .collect();
        // A patch that breaks a module's syntax fails every test that imports it: said at once,
        // where the file parsed before (tree-sitter's reading of Python). The patch stays a
        // candidate: its verification says the rest.
        for broken in changes.iter().filter(|c| {
            // A created file's `before` is empty, which parses.
            c.path.ends_with(".py")
                && crate::repo::python_parses(&c.before)
                && !crate::repo::python_parses(&c.after)
        }) {
            pipeline.candidate_error(
                Stage::Patch,
                beam,
                format!(
                    "the patched {} no longer parses as Python (a syntax or indentation error)",
                    broken.path
                ),
            );
        }
        Ok(Patch {
            answer: answer.to_string(),
            diff,
            files: changes.iter().map(|c| c.path.clone()).collect(),
            matching: applied.matching,
            changes,
            votes: 1,
        })
    }

    /// Reports a patch to the viewer.
    pub(crate) fn propose(pipeline: &mut Pipeline, beam: Beam, patch: &Patch, merged: Vec<Beam>) {
        pipeline.diffs.insert(beam, patch.diff.clone());
        pipeline.emit(Event::PatchProposed {
            beam,
            diff: patch.diff.clone(),
            files: patch.files.clone(),
            votes: patch.votes,
            merged,
            matching: patch.matching.name().to_string(),
        });
    }
}

/// Most REPLACE lengths tried when cutting a REPLACE back.
const MAX_TRIMS: usize = 200;

/// The last edit of an answer cut short (its block has no REPLACE marker) ends where the model
/// was stopped — the answer budget, a loop guard — often in prose or half a statement: SmolLM2
/// wrote code, then went on in English until stopped. When its REPLACE leaves a Python module
/// that parsed unparseable, it is cut back to its longest start (one line at least, changing
/// something) after which the module parses, and a note says how much was kept. Otherwise, or
/// when no start parses, the edit stays as written.
fn trim_cut_replace(pipeline: &Pipeline, beam: Beam, edits: &mut [Edit]) {
    let count = edits.len();
    let Some((last, before)) = edits.split_last_mut() else {
        return;
    };
    if !last.file.ends_with(".py") || !pipeline.workspace.has_file(&last.file) {
        return;
    }
    let Ok(original) = pipeline.workspace.read(&last.file) else {
        return;
    };
    if !crate::repo::python_parses(&original) {
        return;
    }
    // The file as the edits before the last one leave it (a failing edit changes nothing).
    let mut text = original;
    for edit in before.iter().filter(|e| e.file == last.file) {
        if let Ok((next, _)) = apply_edit(&text, edit) {
            text = next;
        }
    }
    if apply_edit(&text, last).is_ok_and(|(after, _)| crate::repo::python_parses(&after)) {
        return;
    }
    let lines: Vec<&str> = last.replace.split_inclusive('\n').collect();
    for keep in (1..lines.len()).rev().take(MAX_TRIMS) {
        let replace = lines[..keep].concat();
        if replace == last.search {
            continue;
        }
        let trial = Edit {
            replace,
            ..last.clone()
        };
        if apply_edit(&text, &trial).is_ok_and(|(after, _)| crate::repo::python_parses(&after)) {
            pipeline.note(
                Stage::Patch,
                format!(
                    "candidate {beam}: edit {count}, cut short with the answer, left {} \
                     unparseable: the first {keep} of its {} REPLACE lines are kept",
                    last.file,
                    lines.len()
                ),
            );
            last.replace = trial.replace;
            return;
        }
    }
}

impl StageKind for PatchStage {
    /// The locations kept at the localize stage.
    type Parent = Vec<Location>;
    type Data = Patch;
    const STAGE: Stage = Stage::Patch;

    fn prompt(pipeline: &Pipeline, locations: &Vec<Location>) -> Result<Vec<Message>> {
        PatchStage::prompt_with(pipeline, locations, "")
    }

    fn grammar(pipeline: &Pipeline, locations: &Vec<Location>) -> Option<String> {
        PatchStage::grammar_for(pipeline, locations)
    }

    /// A candidate whose edits change nothing is told so and asked once more, hotter, under a
    /// grammar that keeps its SEARCH and makes its REPLACE differ: a second round of the same
    /// candidate.
    fn parse(
        pipeline: &mut Pipeline,
        beam: Beam,
        answer: &str,
        locations: &Vec<Location>,
    ) -> Result<Patch> {
        match PatchStage::make_patch(pipeline, beam, answer) {
            Err(err) if err.is::<NothingChanged>() => {
                // A model that copied once copies again at the same temperature: a little
                // hotter, as a stage's re-roll.
                let i = Stage::Patch.index();
                let before = pipeline.temperature[i];
                let hotter = (before.unwrap_or(pipeline.settings.temperature) + 0.3).min(1.5);
                pipeline.note(
                    Stage::Patch,
                    format!(
                        "candidate {beam}: its edits change nothing (each REPLACE repeats its \
                         SEARCH); asked once more, at temperature {hotter:.1}, to change them"
                    ),
                );
                let mut transcript = PatchStage::prompt(pipeline, locations)?;
                transcript.push(Message::assistant(answer.to_string()));
                transcript.push(Message::user(CHANGE_SOMETHING.to_string()));
                let grammar = PatchStage::changing_grammar(pipeline, answer)
                    .or_else(|| PatchStage::grammar_for(pipeline, locations));
                pipeline.temperature[i] = Some(hotter);
                let again = pipeline.continue_candidate(
                    Stage::Patch,
                    beam,
                    transcript,
                    2,
                    grammar.as_deref(),
                );
                pipeline.temperature[i] = before;
                let again = again?;
                PatchStage::make_patch(pipeline, beam, &again.answer)
                    .context("asked once more, it answered")
            }
            made => made,
        }
    }

    /// Merges identical patches: the first keeps the votes, the others are unusable duplicates.
    fn merge(pipeline: &mut Pipeline, candidates: &mut [Candidate<Patch>]) {
        let mut first_of: HashMap<Vec<FileChange>, usize> = HashMap::new();
        let mut merged: HashMap<usize, Vec<Beam>> = HashMap::new();
        for i in 0..candidates.len() {
            let Ok(patch) = &candidates[i].data else {
                continue;
            };
            match first_of.get(&patch.changes) {
                Some(&first) => {
                    let beam = candidates[first].beam;
                    merged.entry(first).or_default().push(candidates[i].beam);
                    candidates[i].data = Err(format!(
                        "the same patch as candidate {beam} (merged into it)"
                    ));
                }
                None => {
                    first_of.insert(patch.changes.clone(), i);
                }
            }
        }
        let mut firsts: Vec<usize> = first_of.into_values().collect();
        firsts.sort_unstable();
        for first in firsts {
            let others = merged.remove(&first).unwrap_or_default();
            if let Ok(patch) = &mut candidates[first].data {
                patch.votes = 1 + others.len() as u32;
                let patch = patch.clone();
                PatchStage::propose(pipeline, candidates[first].beam, &patch, others);
            }
        }
    }
}

/// The lines of a location the patch prompt shows (1-based, inclusive): the span and a few lines
/// around it, inside the file.
fn shown_span(location: &Location, lines: usize) -> (usize, usize) {
    let end = (location.end + CONTEXT_LINES).min(lines).max(1);
    let start = location.start.saturating_sub(CONTEXT_LINES).max(1).min(end);
    (start, end)
}

/// A file a patch may create: a plain relative path inside the repository, not under `.git`, and
/// not one that exists but ponder does not list (binary, large, ignored).
fn check_new_path(pipeline: &Pipeline, path: &str) -> Result<()> {
    let relative = std::path::Path::new(path);
    let plain = relative
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if path.is_empty() || !plain || path.starts_with(".git/") || path == ".git" {
        bail!("{path} is not a path inside the repository that a patch may create");
    }
    if pipeline.workspace.root().join(relative).exists() {
        bail!("{path} exists but is not a text file ponder edits (binary, large or ignored)");
    }
    Ok(())
}
