//! `ponder bench search`: the search strategies simulated on synthetic candidates, as a table of
//! resolve rates against budget — a check of the algorithms, clearly labelled, not of a model.
//!
//! A budget counts every model call: answers generated and PRM/ORM judgements (a judgement costing
//! `--judge-cost` of an answer). At budget B, Dev-Search generates N = B candidates per stage;
//! every other method gets as many whole trajectories as fit in the same cost.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

use crate::pipeline::simulate::{Calls, Method, World, equal_width, resolve_rate};

/// What `ponder bench search` takes.
#[derive(Debug, Args)]
pub struct SearchBenchArgs {
    /// Simulated instances per cell.
    #[arg(long, default_value_t = 20_000)]
    instances: usize,
    /// Budgets to compare (Dev-Search's candidates per stage; the others get equal cost).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    budgets: Vec<u32>,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Noise of the process reward model (standard deviation around ±1).
    #[arg(long, default_value_t = 1.2)]
    prm_noise: f64,
    /// What one PRM or ORM judgement costs, in generated answers (1: as much as an answer; a
    /// real judge reads a candidate and writes one token, so it costs less).
    #[arg(long, default_value_t = 1.0)]
    judge_cost: f64,
}

pub fn run(args: SearchBenchArgs) -> Result<ExitCode> {
    let SearchBenchArgs {
        instances,
        budgets,
        seed,
        prm_noise,
        judge_cost,
    } = args;
    if !(judge_cost >= 0.0 && judge_cost.is_finite()) {
        bail!("--judge-cost must be a number of answers, 0 or more, like 1 or 0.05");
    }
    let world = World {
        instances,
        seed,
        prm_noise,
        ..World::default()
    };
    println!("ponder bench search: a SIMULATION of the search strategies on synthetic candidates.");
    println!("It checks the algorithms, not a model: no model ran.");
    println!(
        "The resolve rates below follow from the simulation's own assumptions (the world below and \
         the rules\nin src/pipeline/simulate.rs), not from any measurement; they predict nothing \
         about a real model."
    );
    println!(
        "World: {} instances, seed {}, PRM noise σ {}, ORM noise σ {}, valid reproduction tests \
         {:.0}%,\nwrong patches passing a valid test {:.0}%.",
        world.instances,
        world.seed,
        world.prm_noise,
        world.orm_noise,
        world.valid_repro * 100.0,
        world.false_pass * 100.0
    );
    println!(
        "Equal budget counts every model call: answers generated and PRM/ORM judgements, one \
         judgement\ncosting {judge_cost} answer(s) (--judge-cost). At budget B, Dev-Search \
         generates B candidates per stage\n(3 stages); every other method runs as many whole \
         trajectories (in brackets) as fit in the\nsame cost.\n"
    );
    let header = |title: &str| {
        print!("{title:<44}");
        for budget in &budgets {
            print!("{:>11}", format!("B={budget}"));
        }
        println!();
    };
    header("cost per instance (answers + judgements)");
    for method in Method::ALL {
        print!("{:<44}", method.name());
        for &budget in &budgets {
            let calls = Calls::of(method, equal_width(method, budget, judge_cost));
            print!(
                "{:>11}",
                format!("{}+{}", calls.generations, calls.judgements)
            );
        }
        println!();
    }
    println!();
    header("resolve rate (%) [trajectories]");
    for method in Method::ALL {
        print!("{:<44}", method.name());
        for &budget in &budgets {
            let width = equal_width(method, budget, judge_cost);
            let rate = 100.0 * resolve_rate(&world, method, width);
            let cell = match method {
                Method::DevSearch => format!("{rate:.1}"),
                _ => format!("{rate:.1} [{width}]"),
            };
            print!("{cell:>11}");
        }
        println!();
    }
    Ok(ExitCode::SUCCESS)
}
