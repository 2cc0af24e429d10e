//! A simulation of the search strategies on synthetic candidates — it validates the algorithms,
//! not a model. Each instance has a hidden difficulty; every stage's candidate is right with a
//! probability that falls with difficulty (and is small when its parent was wrong); reward models
//! see the truth through noise; reproduction tests are sometimes invalid and sometimes let a wrong
//! patch pass. Dev-Search uses the pipeline's own [`select`] to keep beams.
//!
//! Every rate it reports follows from these assumptions, none from a measurement. Methods are
//! compared at an equal number of model calls, judgements (PRM, ORM) counted beside generations
//! ([`Calls`]), as the pipeline makes them: the PRM judges every candidate of a stage, the ORM
//! every patch it ranks.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::select::{Scored, select};
use crate::event::Steering;

/// The synthetic world.
#[derive(Debug, Clone)]
pub struct World {
    pub instances: usize,
    pub seed: u64,
    /// Standard deviation of the PRM's noise around ±1.
    pub prm_noise: f64,
    /// Standard deviation of the ORM's noise around ±1.
    pub orm_noise: f64,
    /// Share of instances whose generated reproduction tests are valid.
    pub valid_repro: f64,
    /// Chance a valid reproduction test lets a wrong patch pass.
    pub false_pass: f64,
    /// Distinct wrong patches a wrong trajectory picks among (for majority vote).
    pub wrong_variants: u32,
}

impl Default for World {
    fn default() -> Self {
        World {
            instances: 20_000,
            seed: 7,
            prm_noise: 1.2,
            orm_noise: 1.0,
            valid_repro: 0.7,
            false_pass: 0.15,
            wrong_variants: 3,
        }
    }
}

/// The compared strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Width W: N = W per stage, top ⌊√W⌋ by PRM kept, execution filter, ORM ranking.
    DevSearch,
    /// Width W: W whole trajectories, execution filter, ORM ranking.
    OrmExecution,
    /// Width W: W whole trajectories, execution filter, a random passing patch.
    ExecutionOnly,
    /// Width W: W whole trajectories, the most frequent patch.
    MajorityVote,
}

impl Method {
    pub const ALL: [Method; 4] = [
        Method::DevSearch,
        Method::OrmExecution,
        Method::ExecutionOnly,
        Method::MajorityVote,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::DevSearch => "Dev-Search (PRM beams + execution + ORM)",
            Method::OrmExecution => "ORM + execution",
            Method::ExecutionOnly => "execution only",
            Method::MajorityVote => "majority vote",
        }
    }
}

/// The model calls a method makes on one instance, at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calls {
    /// Answers generated (every stage of every candidate).
    pub generations: u32,
    /// PRM and ORM judgements.
    pub judgements: u32,
}

impl Calls {
    /// The calls of `method` at width `width` (see [`Method`]).
    pub fn of(method: Method, width: u32) -> Calls {
        let width = width.max(1);
        let kept = kept(width) as u32;
        match method {
            // The PRM judges each of a stage's candidates; the ORM each kept patch.
            Method::DevSearch => Calls {
                generations: STAGES * width,
                judgements: STAGES * width + kept,
            },
            // The ORM judges each passing patch (at most all of them).
            Method::OrmExecution => Calls {
                generations: STAGES * width,
                judgements: width,
            },
            Method::ExecutionOnly | Method::MajorityVote => Calls {
                generations: STAGES * width,
                judgements: 0,
            },
        }
    }

    /// The cost in generations, a judgement costing `judge_cost` of one.
    pub fn cost(self, judge_cost: f64) -> f64 {
        f64::from(self.generations) + judge_cost * f64::from(self.judgements)
    }
}

/// The widest `method` whose calls cost no more than Dev-Search's at width `budget` (at least 1).
pub fn equal_width(method: Method, budget: u32, judge_cost: f64) -> u32 {
    let limit = Calls::of(Method::DevSearch, budget).cost(judge_cost);
    let mut width = 1;
    while Calls::of(method, width + 1).cost(judge_cost) <= limit + 1e-9 {
        width += 1;
    }
    width
}

/// Stages that generate before verification (understand, localize, patch).
const STAGES: u32 = 3;

/// Beams Dev-Search keeps at width `width`: ⌊√W⌋, at least one.
fn kept(width: u32) -> usize {
    ((f64::from(width)).sqrt().floor() as usize).max(1)
}

/// Exponents of the instance quality per stage: later stages are harder.
const STAGE_HARDNESS: [f64; 3] = [0.5, 0.8, 1.2];
/// Chance a candidate is right although its parent was wrong.
const RECOVERY: f64 = 0.03;

struct Instance {
    quality: f64,
    repro_valid: bool,
}

/// One candidate patch: right or wrong (and which wrong variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PatchDraw {
    right: bool,
    variant: u32,
}

struct Sim<'a> {
    world: &'a World,
    rng: SmallRng,
}

impl Sim<'_> {
    fn normal(&mut self) -> f64 {
        // Box–Muller.
        let u1 = self.rng.random::<f64>().max(f64::MIN_POSITIVE);
        let u2 = self.rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn reward(&mut self, right: bool, noise: f64) -> f64 {
        let signal = if right { 1.0 } else { -1.0 };
        1.0 / (1.0 + (-(signal + noise * self.normal())).exp())
    }

    fn step(&mut self, instance: &Instance, stage: usize, parent_right: bool) -> bool {
        let p = if parent_right {
            instance.quality.powf(STAGE_HARDNESS[stage])
        } else {
            RECOVERY
        };
        self.rng.random::<f64>() < p
    }

    fn patch(&mut self, right: bool) -> PatchDraw {
        let variant = if right {
            0
        } else {
            1 + self.rng.random_range(0..self.world.wrong_variants)
        };
        PatchDraw { right, variant }
    }

    fn passes(&mut self, instance: &Instance, patch: PatchDraw) -> bool {
        if !instance.repro_valid {
            return true; // no valid test: execution cannot tell
        }
        patch.right || self.rng.random::<f64>() < self.world.false_pass
    }

    /// A whole trajectory without search.
    fn trajectory(&mut self, instance: &Instance) -> PatchDraw {
        let mut right = true;
        for stage in 0..3 {
            right = self.step(instance, stage, right);
        }
        self.patch(right)
    }

    /// Picks among patches: execution filter (if any pass), then the best ORM, or at random.
    fn choose(&mut self, instance: &Instance, patches: &[PatchDraw], use_orm: bool) -> PatchDraw {
        let passing: Vec<PatchDraw> = patches
            .iter()
            .copied()
            .filter(|p| self.passes(instance, *p))
            .collect();
        let pool = if passing.is_empty() {
            patches.to_vec()
        } else {
            passing
        };
        if use_orm {
            let noise = self.world.orm_noise;
            let scored: Vec<(f64, PatchDraw)> = pool
                .iter()
                .map(|p| (self.reward(p.right, noise), *p))
                .collect();
            scored
                .into_iter()
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, p)| p)
                .expect("pool is not empty")
        } else {
            pool[self.rng.random_range(0..pool.len())]
        }
    }

    fn dev_search(&mut self, instance: &Instance, width: u32) -> PatchDraw {
        let k = kept(width);
        let mut parents: Vec<bool> = vec![true];
        for stage in 0..3 {
            let mut children: Vec<bool> = Vec::new();
            for i in 0..width as usize {
                let parent = parents[i % parents.len()];
                children.push(self.step(instance, stage, parent));
            }
            let noise = self.world.prm_noise;
            let scored: Vec<Scored> = children
                .iter()
                .enumerate()
                .map(|(beam, right)| Scored {
                    beam: beam as u32,
                    score: Some(self.reward(*right, noise)),
                    unusable: None,
                })
                .collect();
            let selection = select(&scored, k, &Steering::default());
            parents = selection
                .kept
                .iter()
                .map(|b| children[*b as usize])
                .collect();
        }
        let patches: Vec<PatchDraw> = parents.iter().map(|right| self.patch(*right)).collect();
        self.choose(instance, &patches, true)
    }

    fn solve(&mut self, instance: &Instance, method: Method, width: u32) -> bool {
        let chosen = match method {
            Method::DevSearch => self.dev_search(instance, width),
            Method::OrmExecution | Method::ExecutionOnly | Method::MajorityVote => {
                let patches: Vec<PatchDraw> =
                    (0..width).map(|_| self.trajectory(instance)).collect();
                match method {
                    Method::OrmExecution => self.choose(instance, &patches, true),
                    Method::ExecutionOnly => self.choose(instance, &patches, false),
                    _ => majority(&patches),
                }
            }
        };
        chosen.right
    }
}

fn majority(patches: &[PatchDraw]) -> PatchDraw {
    let mut best = patches[0];
    let mut best_count = 0;
    for p in patches {
        let count = patches.iter().filter(|q| q.variant == p.variant).count();
        if count > best_count {
            best = *p;
            best_count = count;
        }
    }
    best
}

/// Resolve rate (0–1) of a method at width `width` (see [`Method`]); every method sees the same
/// instances.
pub fn resolve_rate(world: &World, method: Method, width: u32) -> f64 {
    let mut setup = SmallRng::seed_from_u64(world.seed);
    let instances: Vec<Instance> = (0..world.instances)
        .map(|_| Instance {
            quality: setup.random_range(0.05..0.95),
            repro_valid: setup.random::<f64>() < world.valid_repro,
        })
        .collect();
    let mut sim = Sim {
        world,
        rng: SmallRng::seed_from_u64(world.seed ^ (width as u64) << 8 ^ method as u64),
    };
    let solved = instances
        .iter()
        .filter(|instance| sim.solve(instance, method, width.max(1)))
        .count();
    solved as f64 / world.instances.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> World {
        World {
            instances: 4_000,
            ..World::default()
        }
    }

    #[test]
    fn equal_budgets_count_judgements_and_never_give_a_method_more_calls() {
        for budget in [1, 2, 4, 8, 16] {
            let limit = Calls::of(Method::DevSearch, budget).cost(1.0);
            for method in Method::ALL {
                let width = equal_width(method, budget, 1.0);
                assert!(
                    Calls::of(method, width).cost(1.0) <= limit,
                    "{method:?} at {budget}"
                );
                // One more trajectory would cost more than Dev-Search spends.
                assert!(
                    Calls::of(method, width + 1).cost(1.0) > limit,
                    "{method:?} at {budget}"
                );
            }
        }
        // Dev-Search at width 4: 12 answers, 12 PRM judgements and 2 ORM judgements.
        assert_eq!(
            Calls::of(Method::DevSearch, 4),
            Calls {
                generations: 12,
                judgements: 14
            }
        );
        assert_eq!(equal_width(Method::ExecutionOnly, 4, 1.0), 8);
        assert_eq!(equal_width(Method::OrmExecution, 4, 1.0), 6);
        // Free judgements: equal numbers of answers, as before judgements were counted.
        assert_eq!(equal_width(Method::ExecutionOnly, 4, 0.0), 4);
    }

    #[test]
    fn more_width_helps_dev_search_and_it_beats_execution_only_at_equal_width() {
        let world = small();
        let one = resolve_rate(&world, Method::DevSearch, 1);
        let eight = resolve_rate(&world, Method::DevSearch, 8);
        assert!(
            eight > one + 0.05,
            "budget 8 ({eight:.3}) should clearly beat budget 1 ({one:.3})"
        );
        let exec = resolve_rate(&world, Method::ExecutionOnly, 8);
        assert!(
            eight > exec,
            "Dev-Search {eight:.3} vs execution only {exec:.3}"
        );
    }

    #[test]
    fn at_width_one_every_method_is_one_trajectory() {
        let world = small();
        let rates: Vec<f64> = Method::ALL
            .iter()
            .map(|m| resolve_rate(&world, *m, 1))
            .collect();
        for rate in &rates {
            assert!((rate - rates[0]).abs() < 0.03, "{rates:?}");
        }
    }

    #[test]
    fn a_perfect_prm_and_orm_make_dev_search_better_still() {
        let noisy = resolve_rate(&small(), Method::DevSearch, 4);
        let perfect = World {
            prm_noise: 0.0,
            orm_noise: 0.0,
            ..small()
        };
        assert!(resolve_rate(&perfect, Method::DevSearch, 4) > noisy);
    }
}
