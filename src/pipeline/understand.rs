//! Stage 1, understand: which files matter? The answer is a JSON array of repository paths,
//! constrained (on engines that take a grammar) to the repository's own files, or for a small
//! local model to the shortlisted ones.

use anyhow::{Result, bail};

use super::Pipeline;
use super::beams::StageKind;
use crate::answer::{self, grammar, paths};
use crate::event::{Beam, Stage};
use crate::model::Message;
use crate::repo::{fitted_tree, shortlist};

/// Tokens of repository tree shown in the prompt.
const TREE_TOKENS: usize = 2_000;
/// Files of the BM25 shortlist shown in the prompt.
const SHORTLIST: usize = 10;
/// Most files an answer may name.
pub const MAX_FILES: usize = 5;
/// Models with fewer parameters than this answer from the shortlist rather than the whole
/// repository: the small real models named files at random from thousands (0 of 6 understand
/// answers held a gold file on SWE-bench dev instances) while the shortlist's top 10 held them in
/// most cases (`ponder eval shortlist`). Stronger models keep the whole repository to choose from.
const SMALL_MODEL: u64 = 2_000_000_000;

/// The shortlist shown in the prompt, best first with its scores (empty without an index).
fn shortlisted(pipeline: &Pipeline) -> Vec<(String, f64)> {
    pipeline
        .index
        .as_ref()
        .map(|index| shortlist(index, &pipeline.issue.text(), SHORTLIST))
        .unwrap_or_default()
}

/// The understand stage.
pub(crate) struct Understand;

impl StageKind for Understand {
    type Parent = ();
    /// The files named that exist in the repository.
    type Data = Vec<String>;
    const STAGE: Stage = Stage::Understand;

    fn prompt(pipeline: &Pipeline, _: &()) -> Result<Vec<Message>> {
        let tree = fitted_tree(pipeline.workspace.files(), TREE_TOKENS);
        let ranked: Vec<String> = shortlisted(pipeline)
            .into_iter()
            .map(|(path, score)| format!("{path} ({score:.1})"))
            .collect();
        pipeline.messages(
            "understand",
            minijinja::context! { tree, shortlist => ranked, max_files => MAX_FILES },
        )
    }

    fn grammar(pipeline: &Pipeline, _: &()) -> Option<String> {
        let small = pipeline.engine.parameters().filter(|&p| p < SMALL_MODEL);
        let files: Vec<String> = small
            .map(|_| {
                shortlisted(pipeline)
                    .into_iter()
                    .map(|(path, _)| path)
                    .collect()
            })
            .unwrap_or_default();
        match small {
            Some(parameters) if !files.is_empty() => {
                pipeline.note(
                    Stage::Understand,
                    format!(
                        "a {:.1}B-parameter model picks among the {} shortlisted files (models of \
                         {}B and more may name any file of the repository)",
                        parameters as f64 / 1e9,
                        files.len(),
                        SMALL_MODEL / 1_000_000_000
                    ),
                );
                Some(grammar::understand(&files, MAX_FILES))
            }
            _ => Some(grammar::understand(pipeline.workspace.files(), MAX_FILES)),
        }
    }

    fn parse(pipeline: &mut Pipeline, beam: Beam, answer: &str, _: &()) -> Result<Vec<String>> {
        let files = pipeline.workspace.files();
        let named: Vec<String> = match answer::json_array::<String>(answer, "file paths") {
            Ok(named) => named,
            Err(err) => {
                // No list: the files the answer names in its text, if any.
                let mentioned = paths::mentioned(answer, files, MAX_FILES);
                if mentioned.is_empty() {
                    return Err(err);
                }
                pipeline.note(
                    Stage::Understand,
                    format!(
                        "candidate {beam} gave no JSON list; taking the {} repository files its \
                         answer names",
                        mentioned.len()
                    ),
                );
                mentioned
            }
        };
        let mut kept = Vec::new();
        for path in named {
            match paths::resolve(&path, files) {
                Some(file) => {
                    if file != path.trim() {
                        pipeline.note(
                            Stage::Understand,
                            format!("candidate {beam}: {path} read as {file}"),
                        );
                    }
                    if !kept.iter().any(|k| k == file) {
                        kept.push(file.to_string());
                    }
                }
                None => pipeline.candidate_error(
                    Stage::Understand,
                    beam,
                    format!("{path} is not a file in the repository; ignored"),
                ),
            }
        }
        if kept.is_empty() {
            bail!("none of the files named exists in the repository");
        }
        Ok(kept)
    }
}
