//! `ponder eval`: measurements on the SWE-bench development set in `../shared/eval`.
//!
//! `eval shortlist` prepares each instance's base tree with `prepare.sh`, ranks its files for the
//! `problem_statement` with ponder's shortlist and with a plain BM25 baseline in the same run,
//! and prints Acc@1/3/5/10: the share of instances whose gold files are all in the top k.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Deserialize;

use crate::repo::{PlainBm25, RepoIndex, Workspace, shortlist};

/// What `ponder eval shortlist` takes.
#[derive(Debug, Args)]
pub struct ShortlistEvalArgs {
    /// The instances, one JSON object per line (e.g. ../shared/eval/instances.jsonl).
    #[arg(long, value_name = "FILE")]
    instances: PathBuf,
    /// The script that prepares an instance's tree (default: prepare.sh beside the instances).
    #[arg(long, value_name = "FILE")]
    prepare: Option<PathBuf>,
    /// Only these instance ids (repeatable).
    #[arg(long, value_name = "ID")]
    only: Vec<String>,
    /// Print the top files of both rankings for every instance.
    #[arg(long)]
    verbose: bool,
}

/// The fields of an instance this evaluation reads.
#[derive(Debug, Deserialize)]
struct Instance {
    instance_id: String,
    repo: String,
    problem_statement: String,
    gold_files: Vec<String>,
}

/// The cut-offs reported.
const KS: [usize; 4] = [1, 3, 5, 10];
/// How deep the rankings are read to report an instance's rank.
const DEPTH: usize = 100;

pub fn run(args: ShortlistEvalArgs) -> Result<ExitCode> {
    let instances = load_instances(&args.instances)?;
    let instances: Vec<Instance> = instances
        .into_iter()
        .filter(|i| args.only.is_empty() || args.only.contains(&i.instance_id))
        .collect();
    if instances.is_empty() {
        bail!("no instance to evaluate (check --only against the ids in the instances file)");
    }
    let prepare = super::prepare_script(args.prepare.as_deref(), &args.instances)?;
    let work = tempfile::Builder::new()
        .prefix("ponder-eval-")
        .tempdir()
        .context("cannot create a temporary folder for the instances' trees")?;
    println!(
        "{:<32} {:>6} {:>6}  gold files (rank: ponder / bm25; - = not in top {DEPTH})",
        "instance", "ponder", "bm25"
    );
    let mut ponder_ranks = Vec::new();
    let mut plain_ranks = Vec::new();
    let mut index_times = Vec::new();
    for instance in &instances {
        let dest = work.path().join(&instance.instance_id);
        super::prepare_tree(&prepare, &instance.instance_id, &dest)?;
        let started = Instant::now();
        let workspace = Workspace::open(&dest)?;
        let index = RepoIndex::build(&workspace)?;
        index_times.push(started.elapsed().as_secs_f64());
        let ours = shortlist(&index, &instance.problem_statement, DEPTH);
        let plain = PlainBm25::build(&index).rank(&instance.problem_statement, DEPTH);
        let ours_rank = rank_of_all(&ours, &instance.gold_files);
        let plain_rank = rank_of_all(&plain, &instance.gold_files);
        let golds: Vec<String> = instance
            .gold_files
            .iter()
            .map(|g| {
                format!(
                    "{g} ({}/{})",
                    show(rank_of_all(&ours, std::slice::from_ref(g))),
                    show(rank_of_all(&plain, std::slice::from_ref(g)))
                )
            })
            .collect();
        println!(
            "{:<32} {:>6} {:>6}  {}",
            instance.instance_id,
            show(ours_rank),
            show(plain_rank),
            golds.join(", ")
        );
        if args.verbose {
            for (name, list) in [("ponder", &ours), ("bm25", &plain)] {
                let top: Vec<String> = list
                    .iter()
                    .take(5)
                    .map(|(p, s)| format!("{p} {s:.2}"))
                    .collect();
                println!("    {name}: {}", top.join(" | "));
            }
        }
        ponder_ranks.push((instance.repo.clone(), ours_rank));
        plain_ranks.push((instance.repo.clone(), plain_rank));
        std::fs::remove_dir_all(&dest).ok();
    }
    println!();
    println!(
        "{} instances; an instance counts at k when all its gold files are in the top k",
        instances.len()
    );
    println!(
        "{:<22} {:>6} {:>6} {:>6} {:>6}",
        "method", "Acc@1", "Acc@3", "Acc@5", "Acc@10"
    );
    for (name, ranks) in [
        ("ponder shortlist", &ponder_ranks),
        ("plain BM25", &plain_ranks),
    ] {
        let ranks: Vec<Option<usize>> = ranks.iter().map(|(_, r)| *r).collect();
        println!("{name:<22} {}", accuracy_row(&ranks));
    }
    let mut repos: Vec<&String> = ponder_ranks.iter().map(|(r, _)| r).collect();
    repos.sort();
    repos.dedup();
    println!("\nby repository (ponder | plain BM25):");
    for repo in repos {
        let pick = |ranks: &[(String, Option<usize>)]| -> Vec<Option<usize>> {
            ranks
                .iter()
                .filter(|(r, _)| r == repo)
                .map(|(_, k)| *k)
                .collect()
        };
        let ours = pick(&ponder_ranks);
        println!(
            "{:<22} {} | {}  ({} instances)",
            repo,
            accuracy_row(&ours),
            accuracy_row(&pick(&plain_ranks)),
            ours.len()
        );
    }
    index_times.sort_by(f64::total_cmp);
    println!(
        "\nindex build (open + parse + BM25), median over instances: {:.3} s",
        index_times[index_times.len() / 2]
    );
    Ok(ExitCode::SUCCESS)
}

/// The 1-based position by which all of `gold` has appeared in `ranked`, if it does.
fn rank_of_all(ranked: &[(String, f64)], gold: &[String]) -> Option<usize> {
    let mut worst = 0;
    for g in gold {
        let position = ranked.iter().position(|(p, _)| p == g)?;
        worst = worst.max(position + 1);
    }
    Some(worst)
}

fn show(rank: Option<usize>) -> String {
    rank.map_or("-".to_string(), |r| r.to_string())
}

/// `Acc@k` for each k of [`KS`], in percent.
fn accuracy_row(ranks: &[Option<usize>]) -> String {
    KS.iter()
        .map(|&k| {
            let hits = ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count();
            format!("{:>6.1}", 100.0 * hits as f64 / ranks.len().max(1) as f64)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn load_instances(path: &Path) -> Result<Vec<Instance>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the instances file {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).with_context(|| {
                format!(
                    "line {} of {} is not an instance (needs instance_id, repo, \
                     problem_statement, gold_files)",
                    i + 1,
                    path.display()
                )
            })
        })
        .collect()
}
