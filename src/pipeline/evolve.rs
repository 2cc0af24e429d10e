//! EvoScale-style evolution of patches (`--search evolve`): each generation of M patches is
//! verified and scored (verification first, then the outcome reward model), and the next
//! generation is sampled from a prompt that shows the best patches so far with their results.
//!
//! Fitness of a patch: 0.5 if it verifies, plus half its ORM score — in [0, 1]. A patch the judge
//! left unscored has no fitness and ranks after the scored ones. Every generation's best and mean
//! fitness (over its scored patches) are events.

use anyhow::Result;

use super::Pipeline;
use super::beams::Kept;
use super::localize::Location;
use super::patch::{Patch, PatchStage};
use super::verify::{Repro, Verified};
use crate::event::{Beam, Event, Stage, TestOutcome};
use crate::model::Judge;

/// How many of the best patches the next generation is shown.
const PARENTS_SHOWN: usize = 2;

impl Pipeline {
    /// Evolves patches from generation 0 for the configured number of generations; returns every
    /// patch with its verdict.
    pub(super) fn evolve(
        &mut self,
        first: Vec<Kept<Patch>>,
        locations: &[Location],
        repros: &[Repro],
        regression_before: Option<TestOutcome>,
    ) -> Result<Vec<Verified>> {
        let generations = self.settings.search.generations.max(1);
        let population = self.settings.search.population.max(1);
        let mut all: Vec<(Verified, Option<f64>)> = Vec::new();
        let mut current = first;
        for generation in 0..generations {
            let mut scored = Vec::new();
            for kept in &current {
                let verdict =
                    self.verify_patch(kept.beam, &kept.data, repros, regression_before)?;
                scored.push(verdict);
            }
            let answers: Vec<_> = scored
                .iter()
                .map(|v| (v.beam, v.patch.answer.clone(), v.patch.diff.clone()))
                .collect();
            let orm = self.judge(Stage::Patch, Judge::Orm, &answers);
            let fitness: Vec<Option<f64>> = scored
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let orm = orm.as_ref()?.get(i)?;
                    Some(0.5 * f64::from(u8::from(v.verified)) + 0.5 * orm)
                })
                .collect();
            let round = |x: f64| (x * 1000.0).round() / 1000.0;
            let known: Vec<f64> = fitness.iter().flatten().copied().collect();
            if known.is_empty() {
                self.note(
                    Stage::Verify,
                    format!(
                        "generation {generation}: the judge scored no patch, so it has no fitness"
                    ),
                );
            } else {
                let best = round(known.iter().copied().fold(0.0, f64::max));
                let mean = round(known.iter().sum::<f64>() / known.len() as f64);
                self.emit(Event::GenerationScored {
                    generation,
                    best,
                    mean,
                });
            }
            all.extend(scored.into_iter().zip(fitness));
            if generation + 1 == generations {
                break;
            }
            current = self.next_generation(generation + 1, population, &mut all, locations)?;
            if current.is_empty() {
                self.note(
                    Stage::Verify,
                    format!(
                        "generation {} produced no usable patch; evolution stops",
                        generation + 1
                    ),
                );
                break;
            }
        }
        Ok(all.into_iter().map(|(v, _)| v).collect())
    }

    /// Samples a generation conditioned on the fittest patches so far.
    fn next_generation(
        &mut self,
        generation: u32,
        population: u32,
        so_far: &mut [(Verified, Option<f64>)],
        locations: &[Location],
    ) -> Result<Vec<Kept<Patch>>> {
        let mut ranked: Vec<&(Verified, Option<f64>)> = so_far.iter().collect();
        ranked.sort_by(|a, b| {
            b.1.is_some()
                .cmp(&a.1.is_some())
                .then(b.1.unwrap_or(0.0).total_cmp(&a.1.unwrap_or(0.0)))
                .then(a.0.beam.cmp(&b.0.beam))
        });
        let shown: Vec<String> = ranked
            .iter()
            .take(PARENTS_SHOWN)
            .map(|(v, fitness)| {
                let outputs: Vec<String> = self
                    .tests_of(v.beam)
                    .into_iter()
                    .map(|(what, output)| format!("{what}:\n{}", output.trim_end()))
                    .collect();
                let fitness =
                    fitness.map_or_else(|| "not scored".to_string(), |f| format!("fitness {f:.2}"));
                format!(
                    "Patch {} ({fitness}; {}):\n\n```diff\n{}```\n\nTest output:\n\n{}",
                    v.beam,
                    if v.verified {
                        "verified"
                    } else {
                        v.reason.as_str()
                    },
                    v.patch.diff,
                    outputs.join("\n\n")
                )
            })
            .collect();
        let parent = ranked.first().map(|(v, _)| v.beam);
        let notes = format!(
            "Generation {generation} of an evolutionary search. The best patches so far, with how \
             verification and the reviewer scored them:\n\n{}\n\nWrite a better patch: keep what \
             works, fix what failed.",
            shown.join("\n\n")
        );
        drop(ranked);
        self.note(
            Stage::Verify,
            format!(
                "generation {generation}: {population} patches conditioned on the best {}",
                shown.len()
            ),
        );
        let notes = notes + &self.rejected_notes();
        let messages = PatchStage::prompt_with(self, locations, &notes)?;
        let grammar = PatchStage::grammar_for(self, locations);
        let first_beam = self.next_beam[Stage::Patch.index()];
        let generations = self.generate(
            Stage::Patch,
            messages,
            population,
            parent,
            first_beam,
            grammar.as_deref(),
        )?;
        let mut kept: Vec<Kept<Patch>> = Vec::new();
        let mut made: Vec<(Beam, String)> = Vec::new();
        for g in generations {
            match PatchStage::make_patch(self, g.beam, &g.answer) {
                Ok(patch) => {
                    made.push((g.beam, g.answer.clone()));
                    // A patch seen before (earlier or in this generation) is a vote, not a new patch.
                    let merged_into = if let Some((earlier, _)) = so_far
                        .iter_mut()
                        .find(|(v, _)| v.patch.changes == patch.changes)
                    {
                        earlier.patch.votes += 1;
                        PatchStage::propose(self, earlier.beam, &earlier.patch, vec![g.beam]);
                        Some(earlier.beam)
                    } else if let Some(same) =
                        kept.iter_mut().find(|k| k.data.changes == patch.changes)
                    {
                        same.data.votes += 1;
                        Some(same.beam)
                    } else {
                        None
                    };
                    match merged_into {
                        Some(beam) => self.note(
                            Stage::Patch,
                            format!("candidate {} is the same patch as candidate {beam}: one more vote for it", g.beam),
                        ),
                        None => kept.push(Kept {
                            beam: g.beam,
                            data: patch,
                        }),
                    }
                }
                Err(err) => self.candidate_error(Stage::Patch, g.beam, format!("{err:#}")),
            }
        }
        let answers: Vec<_> = made.into_iter().map(|(b, a)| (b, a.clone(), a)).collect();
        self.judge(Stage::Patch, Judge::Prm, &answers);
        for k in &kept {
            PatchStage::propose(self, k.beam, &k.data, Vec::new());
        }
        Ok(kept)
    }
}
