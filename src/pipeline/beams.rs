//! Dev-Search over one stage: N candidates from the kept beams of the stage before, each judged by
//! the process reward model, the top k kept — with the user's pins, drops and edits, and a gate.
//!
//! Candidates are generated in waves: when the first half of the budget already has a confident
//! winner (high score, clear margin) the rest is not spent. Beam numbers are unique within a stage
//! and every candidate, kept or pruned, stays in the event record with its reason.

use anyhow::{Context, Result};

use super::select::{Scored, confident, select};
use super::{EmitSink, Pipeline};
use crate::event::{Beam, Event, GateDecision, RerollOptions, Stage};
use crate::model::{GenerateRequest, Generation, Judge, JudgeRequest, Message, Sampling};

/// The note on a candidate whose answer the user wrote.
pub const USER_ANSWER: &str = "answer written by the user";

/// One stage of the search: how to prompt from a parent beam and what an answer means.
pub(crate) trait StageKind {
    /// What a kept beam of the previous stage carries into this one.
    type Parent: Clone;
    /// What an answer of this stage means once parsed.
    type Data: Clone;
    const STAGE: Stage;

    fn prompt(pipeline: &Pipeline, parent: &Self::Parent) -> Result<Vec<Message>>;

    /// Parses (and checks) one answer; an error makes the candidate unusable, with that reason.
    fn parse(
        pipeline: &mut Pipeline,
        beam: Beam,
        answer: &str,
        parent: &Self::Parent,
    ) -> Result<Self::Data>;

    /// Runs over all candidates before selection (to merge duplicates, say).
    fn merge(_pipeline: &mut Pipeline, _candidates: &mut [Candidate<Self::Data>]) {}

    /// The GBNF grammar this stage's answers follow, if any (applied after the thinking), built
    /// from the repository for what the prompt of `parent` shows.
    fn grammar(_pipeline: &Pipeline, _parent: &Self::Parent) -> Option<String> {
        None
    }

    /// The answer the judge sees, when it is not the candidate's first answer (after tool rounds).
    fn judged(_data: &Self::Data) -> Option<&str> {
        None
    }

    /// Answers ponder itself offers beside the model's (once per stage, from the first parent),
    /// each with the note that says who wrote it.
    fn offered(_pipeline: &Pipeline, _parent: &Self::Parent) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// A candidate of a stage.
#[derive(Debug, Clone)]
pub(crate) struct Candidate<T> {
    pub beam: Beam,
    pub answer: String,
    pub score: Option<f64>,
    /// The parsed answer, or why it is unusable.
    pub data: Result<T, String>,
    /// Index into the parents it was generated from.
    pub parent_index: usize,
}

/// A beam kept at a stage: what the next stage builds on.
#[derive(Debug, Clone)]
pub(crate) struct Kept<T> {
    pub beam: Beam,
    pub data: T,
}

impl Pipeline {
    /// Searches one stage from `parents` (beam of the previous stage, if any, and what it carries).
    pub(crate) fn search_stage<K: StageKind>(
        &mut self,
        parents: &[(Option<Beam>, K::Parent)],
    ) -> Result<Vec<Kept<K::Data>>> {
        let mut candidates: Vec<Candidate<K::Data>> = Vec::new();
        let mut offered = parents
            .first()
            .map(|(_, parent)| K::offered(self, parent))
            .unwrap_or_default();
        loop {
            self.expand::<K>(parents, &mut candidates)?;
            for (answer, note) in std::mem::take(&mut offered) {
                self.add_written::<K>(parents, &mut candidates, &answer, note);
            }
            K::merge(self, &mut candidates);
            // `None` is a re-roll: generate more candidates, then select again.
            if let Some(kept) = self.select_and_gate::<K>(parents, &mut candidates)? {
                return Ok(kept);
            }
        }
    }

    /// Generates this stage's N candidates in up to two waves, judging each wave.
    fn expand<K: StageKind>(
        &mut self,
        parents: &[(Option<Beam>, K::Parent)],
        candidates: &mut Vec<Candidate<K::Data>>,
    ) -> Result<()> {
        let stage = K::STAGE;
        let n = self.settings.search.n(stage);
        let first = if n >= 4 { n.div_ceil(2) } else { n };
        for (wave, size) in [first, n - first].into_iter().enumerate() {
            if size == 0 {
                continue;
            }
            if wave > 0 {
                let scores: Vec<f64> = candidates
                    .iter()
                    .filter(|c| c.data.is_ok())
                    .filter_map(|c| c.score)
                    .collect();
                let s = &self.settings.search;
                if confident(&scores, s.confident_score, s.confident_margin) {
                    self.note(stage, format!(
                        "a confident best candidate after {} of {n}: the other {size} were not generated",
                        candidates.len()
                    ));
                    break;
                }
            }
            let start = candidates.len();
            for (index, (parent, carried)) in parents.iter().enumerate() {
                let count = share(size, parents.len(), index);
                if count == 0 {
                    continue;
                }
                let messages = K::prompt(self, carried)?;
                let grammar = K::grammar(self, carried);
                let first_beam = self.next_beam[stage.index()];
                let generations = self.generate(
                    stage,
                    messages,
                    count,
                    *parent,
                    first_beam,
                    grammar.as_deref(),
                )?;
                for g in generations {
                    let beam = g.beam;
                    let data = K::parse(self, beam, &g.answer, carried).map_err(|err| {
                        let message = format!("{err:#}");
                        self.candidate_error(stage, beam, message.clone());
                        message
                    });
                    candidates.push(Candidate {
                        beam,
                        answer: g.answer,
                        score: None,
                        data,
                        parent_index: index,
                    });
                }
            }
            self.judge_candidates::<K>(stage, &mut candidates[start..]);
        }
        Ok(())
    }

    /// Applies the user's steering, selects, and waits at the gate. `None` asks for a re-roll.
    fn select_and_gate<K: StageKind>(
        &mut self,
        parents: &[(Option<Beam>, K::Parent)],
        candidates: &mut Vec<Candidate<K::Data>>,
    ) -> Result<Option<Vec<Kept<K::Data>>>> {
        let stage = K::STAGE;
        let k = self.settings.search.k(stage) as usize;
        let mut waited = false;
        loop {
            let steering = self.control.steering(stage);
            for (beam, answer) in &steering.edits {
                self.apply_edit::<K>(parents, candidates, *beam, answer);
            }
            for answer in &steering.answers {
                let note = USER_ANSWER.to_string();
                self.add_written::<K>(parents, candidates, answer, note);
            }
            let scored: Vec<Scored> = candidates
                .iter()
                .map(|c| Scored {
                    beam: c.beam,
                    score: c.score,
                    unusable: c.data.as_ref().err().cloned(),
                })
                .collect();
            let selection = select(&scored, k, &steering);
            self.emit(Event::BeamsKept {
                stage,
                kept: selection.kept.clone(),
                pruned: selection.pruned.clone(),
            });
            if !waited && self.control.gate_on() {
                self.control.arm_gate();
                self.emit(Event::GateWaiting { stage });
                waited = true;
                if self.control.wait_at_gate()? == GateDecision::Reroll
                    && let Some(options) = self.control.take_reroll(stage)
                {
                    self.apply_reroll(stage, options);
                    return Ok(None);
                }
                continue; // the user may have steered
            }
            let kept: Vec<Kept<K::Data>> = selection
                .kept
                .iter()
                .filter_map(|beam| candidates.iter().find(|c| c.beam == *beam))
                .filter_map(|c| {
                    c.data.as_ref().ok().map(|data| Kept {
                        beam: c.beam,
                        data: data.clone(),
                    })
                })
                .collect();
            if kept.is_empty() {
                // Not a dead end: whoever steers may re-roll, edit or write the answer.
                let reason = format!("no usable {} candidate is left", stage.name());
                self.control.arm_gate();
                self.emit(Event::StageStuck {
                    stage,
                    reason: reason.clone(),
                });
                self.emit(Event::GateWaiting { stage });
                match self.control.wait_when_stuck()? {
                    // Nobody to steer: one re-roll of the stage, hotter and with new seeds,
                    // before the session ends.
                    None if !self.auto_rerolled[stage.index()] => {
                        self.auto_rerolled[stage.index()] = true;
                        let current =
                            self.temperature[stage.index()].unwrap_or(self.settings.temperature);
                        let hotter = (current + 0.3).min(1.5);
                        self.note(
                            stage,
                            format!(
                                "{reason} and nobody to steer: the stage is re-rolled once, \
                                 with new seeds at temperature {hotter:.1}"
                            ),
                        );
                        self.apply_reroll(
                            stage,
                            RerollOptions {
                                temperature: Some(hotter),
                                think_budget: None,
                                n: None,
                            },
                        );
                        return Ok(None);
                    }
                    None => anyhow::bail!("{reason}"),
                    Some(GateDecision::Reroll) => {
                        if let Some(options) = self.control.take_reroll(stage) {
                            self.apply_reroll(stage, options);
                            return Ok(None);
                        }
                    }
                    Some(GateDecision::Continue) => {}
                }
                continue;
            }
            return Ok(Some(kept));
        }
    }

    /// Lays a re-roll's options over the stage's settings for the candidates still to come.
    fn apply_reroll(&mut self, stage: Stage, options: RerollOptions) {
        let i = stage.index();
        if let Some(temperature) = options.temperature {
            self.temperature[i] = Some(temperature.clamp(0.0, 2.0));
        }
        if let Some(budget) = options.think_budget {
            self.settings.search.think[i] = Some(budget);
        }
        if let Some(n) = options.n {
            self.settings.search.n[i] = n.clamp(1, 64);
        }
    }

    /// Adds an answer the model did not write (the user's, or one ponder offers) as a new
    /// candidate of the stage, parsed and scored; `note` says who wrote it.
    fn add_written<K: StageKind>(
        &mut self,
        parents: &[(Option<Beam>, K::Parent)],
        candidates: &mut Vec<Candidate<K::Data>>,
        answer: &str,
        note: String,
    ) {
        let stage = K::STAGE;
        let Some((parent, carried)) = parents.first() else {
            return;
        };
        let beam = self.next_beam[stage.index()];
        self.next_beam[stage.index()] += 1;
        self.emit(Event::CandidateStarted {
            stage,
            beam,
            parent: *parent,
        });
        self.emit(Event::CandidateFinished {
            stage,
            beam,
            answer: answer.to_string(),
            think_tokens: 0,
            answer_tokens: 0,
            forced_answer: false,
            notes: vec![note],
        });
        let data = K::parse(self, beam, answer, carried).map_err(|err| {
            let message = format!("{err:#}");
            self.candidate_error(stage, beam, message.clone());
            message
        });
        candidates.push(Candidate {
            beam,
            answer: answer.to_string(),
            score: None,
            data,
            parent_index: 0,
        });
        let last = candidates.len() - 1;
        self.judge_candidates::<K>(stage, &mut candidates[last..]);
    }

    /// Replaces a candidate's answer with the user's, parses and scores it again.
    fn apply_edit<K: StageKind>(
        &mut self,
        parents: &[(Option<Beam>, K::Parent)],
        candidates: &mut [Candidate<K::Data>],
        beam: Beam,
        answer: &str,
    ) {
        let stage = K::STAGE;
        let Some(index) = candidates.iter().position(|c| c.beam == beam) else {
            self.note(stage, format!("edit ignored: there is no candidate {beam}"));
            return;
        };
        let carried = &parents[candidates[index].parent_index].1;
        self.emit(Event::CandidateFinished {
            stage,
            beam,
            answer: answer.to_string(),
            think_tokens: 0,
            answer_tokens: 0,
            forced_answer: false,
            notes: vec!["answer edited by the user".to_string()],
        });
        let data = K::parse(self, beam, answer, carried).map_err(|err| {
            let message = format!("{err:#}");
            self.candidate_error(stage, beam, message.clone());
            message
        });
        let candidate = &mut candidates[index];
        candidate.answer = answer.to_string();
        candidate.data = data;
        candidate.score = None;
        self.judge_candidates::<K>(stage, std::slice::from_mut(candidate));
    }

    /// Streams `count` new candidates from one prompt, numbered from `first_beam`, their answers
    /// following `grammar` when the engine can constrain them.
    pub(crate) fn generate(
        &mut self,
        stage: Stage,
        messages: Vec<Message>,
        count: u32,
        parent: Option<Beam>,
        first_beam: Beam,
        grammar: Option<&str>,
    ) -> Result<Vec<Generation>> {
        for beam in first_beam..first_beam + count {
            self.emit(Event::CandidateStarted {
                stage,
                beam,
                parent,
            });
        }
        let next = &mut self.next_beam[stage.index()];
        *next = (*next).max(first_beam + count);
        self.stream(stage, messages, count, first_beam, 1, grammar)
    }

    /// Streams the next round of one candidate (after its tool results), under its own number.
    pub(crate) fn continue_candidate(
        &mut self,
        stage: Stage,
        beam: Beam,
        messages: Vec<Message>,
        round: u32,
        grammar: Option<&str>,
    ) -> Result<Generation> {
        self.stream(stage, messages, 1, beam, round, grammar)?
            .into_iter()
            .next()
            .context("the engine returned no continuation")
    }

    fn stream(
        &mut self,
        stage: Stage,
        messages: Vec<Message>,
        count: u32,
        first_beam: Beam,
        round: u32,
        grammar: Option<&str>,
    ) -> Result<Vec<Generation>> {
        let request = GenerateRequest {
            stage,
            messages,
            n: count,
            think_budget: self.think_budget(stage),
            answer_budget: self.settings.answer_budget(stage),
            sampling: Sampling {
                temperature: self.temperature[stage.index()].unwrap_or(self.settings.temperature),
                seed: self
                    .settings
                    .seed
                    .wrapping_add(u64::from(first_beam) + 1000 * u64::from(round - 1)),
                ..Sampling::default()
            },
            stop: Vec::new(),
            grammar: grammar.map(str::to_string),
            round,
            think_style: self.think_style(),
        };
        // Candidates the engine cannot hold at once decode in waves, each a request of its own
        // (candidate i keeps seed + i, so the tokens are those of one batch).
        let parallel = self.engine.parallel(&request).clamp(1, count.max(1));
        let waves = count.div_ceil(parallel);
        let tokens = self.engine.prompt_tokens(&request.messages);
        let mut generations = Vec::new();
        for wave in 0..waves {
            let start = wave * parallel;
            let size = parallel.min(count - start);
            if waves > 1 {
                self.note(
                    stage,
                    format!(
                        "wave {} of {waves}: candidates {}–{} (the engine's context holds {parallel} \
                         at once)",
                        wave + 1,
                        first_beam + start,
                        first_beam + start + size - 1
                    ),
                );
            }
            let mut part = request.clone();
            part.n = size;
            part.sampling.seed = request.sampling.seed.wrapping_add(u64::from(start));
            let mut sink = EmitSink {
                emitter: &self.emitter,
                stage,
                offset: first_beam + start,
                pending: Some(Event::Prompt {
                    stage,
                    beams: (first_beam + start..first_beam + start + size).collect(),
                    round,
                    messages: request.messages.iter().map(Into::into).collect(),
                    tokens,
                    cached_tokens: None,
                }),
            };
            let result = self.engine.generate(&part, &mut sink, &self.control);
            sink.flush();
            let mut wave_generations = result?;
            for g in &mut wave_generations {
                g.beam += start;
            }
            generations.extend(wave_generations);
        }
        for g in &mut generations {
            g.beam += first_beam;
            // A candidate's later rounds add to the tokens it has spent.
            let spent = self.tokens_spent.entry((stage, g.beam)).or_default();
            if round == 1 {
                *spent = (0, 0);
            }
            spent.0 += g.think_tokens;
            spent.1 += g.answer_tokens;
            (g.think_tokens, g.answer_tokens) = *spent;
            self.emit(Event::CandidateFinished {
                stage,
                beam: g.beam,
                answer: g.answer.clone(),
                think_tokens: g.think_tokens,
                answer_tokens: g.answer_tokens,
                forced_answer: g.forced_answer,
                notes: g.notes.clone(),
            });
        }
        Ok(generations)
    }

    /// Scores usable candidates with the PRM; a failing judge is reported and leaves them unscored.
    fn judge_candidates<K: StageKind>(
        &mut self,
        stage: Stage,
        candidates: &mut [Candidate<K::Data>],
    ) {
        let usable: Vec<usize> = (0..candidates.len())
            .filter(|&i| candidates[i].data.is_ok())
            .collect();
        let answers: Vec<(Beam, String, String)> = usable
            .iter()
            .map(|&i| {
                let c = &candidates[i];
                let judged = c
                    .data
                    .as_ref()
                    .ok()
                    .and_then(K::judged)
                    .unwrap_or(&c.answer);
                (c.beam, judged.to_string(), judged.to_string())
            })
            .collect();
        if let Some(scores) = self.judge(stage, Judge::Prm, &answers) {
            for (&i, score) in usable.iter().zip(scores) {
                candidates[i].score = Some(score);
            }
        }
    }

    /// Asks the engine's judge about each (beam, answer, what the judge is shown); emits the scores.
    pub(crate) fn judge(
        &mut self,
        stage: Stage,
        judge: Judge,
        answers: &[(Beam, String, String)],
    ) -> Option<Vec<f64>> {
        if answers.is_empty() {
            return Some(Vec::new());
        }
        let template = match judge {
            Judge::Prm => format!("prm_{}", stage.name()),
            Judge::Orm => "orm".to_string(),
        };
        let mut prompts = Vec::new();
        for (_, _, shown) in answers {
            let context = minijinja::context! { stage => stage.name(), answer => shown };
            match self.prompts.messages(
                &template,
                &self.issue,
                context,
                super::prompts::Reasoning::None,
            ) {
                Ok(messages) => prompts.push(messages),
                Err(err) => {
                    self.stage_error(stage, format!("{err:#}"));
                    return None;
                }
            }
        }
        let request = JudgeRequest {
            stage,
            judge,
            prompts,
            answers: answers.iter().map(|(_, a, _)| a.clone()).collect(),
        };
        match self.engine.judge(&request, &self.control) {
            Ok(scores) => {
                let name = match judge {
                    Judge::Prm => "prm",
                    Judge::Orm => "orm",
                };
                for ((beam, ..), score) in answers.iter().zip(&scores) {
                    self.emit(Event::Scored {
                        stage,
                        beam: *beam,
                        score: *score,
                        judge: name.to_string(),
                    });
                }
                Some(scores)
            }
            Err(err) => {
                self.stage_error(
                    stage,
                    format!("judging failed, candidates left unscored: {err:#}"),
                );
                None
            }
        }
    }
}

/// How many of `total` candidates the parent at `index` of `parents` generates.
fn share(total: u32, parents: usize, index: usize) -> u32 {
    let parents = parents.max(1) as u32;
    total / parents + u32::from((index as u32) < total % parents)
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_add_up_and_favour_the_first_parents() {
        assert_eq!(
            (0..2).map(|i| share(3, 2, i)).collect::<Vec<_>>(),
            vec![2, 1]
        );
        assert_eq!(
            (0..3).map(|i| share(2, 3, i)).collect::<Vec<_>>(),
            vec![1, 1, 0]
        );
        assert_eq!(share(4, 1, 0), 4);
    }
}
