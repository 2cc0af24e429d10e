//! `ponder eval shortlist`: how well ponder finds where a fix goes, without any model.
//!
//! For each instance it prepares the base tree with `prepare.sh`, ranks the files for the
//! `problem_statement` with ponder's shortlist and with a plain BM25 baseline in the same run,
//! and prints file-level Acc@1/3/5/10: the share of instances whose gold files are all in the
//! top k. Then it ranks the functions and classes of the kept files (the shortlist's top
//! [`KEPT`], as the understand stage would keep them) and of the gold files (a perfect
//! understand stage), and prints function-level Acc@5/10 against the units the gold patch's
//! hunks fall in ([`changed_units`]); instances whose gold patch changes only module-level
//! code have no gold unit and are left out of that measure.
//!
//! With `--trees DIR` the prepared trees are kept in DIR and their indexes persisted, so a
//! second run starts warm; without it every tree is temporary and indexed cold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Deserialize;

use crate::repo::{
    IndexStore, PlainBm25, RankedSymbol, changed_units, open_workspace, rank_symbols, shortlist,
};

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
    /// Only instances of this repository (`owner/name`, repeatable).
    #[arg(long, value_name = "REPO")]
    repo: Vec<String>,
    /// Keep the prepared trees in this folder and reuse them (and their persisted indexes) on
    /// the next run.
    #[arg(long, value_name = "DIR")]
    trees: Option<PathBuf>,
    /// Print the top files and functions of the rankings for every instance.
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
    #[serde(default)]
    gold_patch: Option<String>,
}

/// The file-level cut-offs reported.
const KS: [usize; 4] = [1, 3, 5, 10];
/// The function-level cut-offs reported.
const UNIT_KS: [usize; 2] = [5, 10];
/// How deep the rankings are read to report an instance's rank.
const DEPTH: usize = 100;
/// Files of the shortlist whose functions are ranked (what the understand stage keeps).
const KEPT: usize = 5;

/// One instance's ranks: file-level (ours, plain BM25) and function-level (in the kept files,
/// in the gold files; `None` inside when a gold unit is not ranked, outer `None` when the gold
/// patch changes no unit).
struct Ranks {
    repo: String,
    ours: Option<usize>,
    plain: Option<usize>,
    units_kept: Option<Option<usize>>,
    units_gold: Option<Option<usize>>,
}

pub fn run(args: ShortlistEvalArgs) -> Result<ExitCode> {
    let instances: Vec<Instance> = load_instances(&args.instances)?
        .into_iter()
        .filter(|i| args.only.is_empty() || args.only.contains(&i.instance_id))
        .filter(|i| args.repo.is_empty() || args.repo.contains(&i.repo))
        .collect();
    if instances.is_empty() {
        bail!(
            "no instance to evaluate (check --only and --repo against the instances file's ids \
             and repositories)"
        );
    }
    let prepare = super::prepare_script(args.prepare.as_deref(), &args.instances)?;
    let temporary = tempfile::Builder::new()
        .prefix("ponder-eval-")
        .tempdir()
        .context("cannot create a temporary folder for the instances' trees")?;
    let (trees, store) = match &args.trees {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the trees folder {}", dir.display()))?;
            (dir.clone(), IndexStore::from_env())
        }
        None => (temporary.path().to_path_buf(), None),
    };
    println!(
        "{:<32} {:>6} {:>6} {:>5} {:>5}  gold files (rank: ponder / bm25; - = not in top {DEPTH})",
        "instance", "ponder", "bm25", "fn", "fn*"
    );
    let mut all = Vec::new();
    let mut index_times = Vec::new();
    for instance in &instances {
        let dest = trees.join(&instance.instance_id);
        if !(args.trees.is_some() && dest.join(".git").is_dir()) {
            if dest.exists() {
                std::fs::remove_dir_all(&dest).ok();
            }
            super::prepare_tree(&prepare, &instance.instance_id, &dest)?;
        }
        let started = Instant::now();
        let (_, index, _) = open_workspace(&dest, store.as_ref(), &|_| {})?;
        index_times.push(started.elapsed().as_secs_f64());
        let issue = &instance.problem_statement;
        let ours = shortlist(&index, issue, DEPTH);
        let plain = PlainBm25::build(&index).rank(issue, DEPTH);
        let kept: Vec<String> = ours.iter().take(KEPT).map(|(p, _)| p.clone()).collect();
        let gold_units = instance
            .gold_patch
            .as_deref()
            .map(|diff| changed_units(&index, diff))
            .unwrap_or_default();
        let by_kept = rank_symbols(&index, issue, &kept, DEPTH);
        let by_gold = rank_symbols(&index, issue, &instance.gold_files, DEPTH);
        let ranks = Ranks {
            repo: instance.repo.clone(),
            ours: rank_of_all(&ours, &instance.gold_files),
            plain: rank_of_all(&plain, &instance.gold_files),
            units_kept: (!gold_units.is_empty()).then(|| unit_rank(&by_kept, &gold_units)),
            units_gold: (!gold_units.is_empty()).then(|| unit_rank(&by_gold, &gold_units)),
        };
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
        let unit = |r: Option<Option<usize>>| r.map_or("·".to_string(), show);
        println!(
            "{:<32} {:>6} {:>6} {:>5} {:>5}  {}",
            instance.instance_id,
            show(ranks.ours),
            show(ranks.plain),
            unit(ranks.units_kept),
            unit(ranks.units_gold),
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
            let gold: Vec<String> = gold_units.iter().map(|(p, u)| format!("{p}:{u}")).collect();
            println!("    gold units: {}", gold.join(", "));
            let top: Vec<String> = by_gold
                .iter()
                .take(5)
                .map(|s| format!("{}:{} {:.2}", s.path, s.name, s.score))
                .collect();
            println!("    fn* top: {}", top.join(" | "));
        }
        all.push(ranks);
        if args.trees.is_none() {
            std::fs::remove_dir_all(&dest).ok();
        }
    }
    report(&all, instances.len());
    index_times.sort_by(f64::total_cmp);
    println!(
        "\nindex (open + {}), median over instances: {:.3} s",
        if store.is_some() {
            "persisted index, warm when the tree was indexed before"
        } else {
            "parse + BM25, cold"
        },
        index_times[index_times.len() / 2]
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints the accuracy tables: overall and by repository, file level then function level.
fn report(all: &[Ranks], count: usize) {
    println!();
    println!(
        "{count} instances; an instance counts at k when all its gold files (functions) are in \
         the top k"
    );
    println!(
        "{:<28} {:>6} {:>6} {:>6} {:>6}",
        "file level", "Acc@1", "Acc@3", "Acc@5", "Acc@10"
    );
    let ours: Vec<Option<usize>> = all.iter().map(|r| r.ours).collect();
    let plain: Vec<Option<usize>> = all.iter().map(|r| r.plain).collect();
    println!("{:<28} {}", "ponder shortlist", accuracy_row(&ours, &KS));
    println!("{:<28} {}", "plain BM25", accuracy_row(&plain, &KS));
    let kept: Vec<Option<usize>> = all.iter().filter_map(|r| r.units_kept).collect();
    let gold: Vec<Option<usize>> = all.iter().filter_map(|r| r.units_gold).collect();
    println!(
        "\n{:<28} {:>6} {:>6}   ({} instances whose gold patch changes a function or class)",
        "function level",
        "Acc@5",
        "Acc@10",
        kept.len()
    );
    println!(
        "{:<28} {}",
        format!("fn: in the top {KEPT} files"),
        accuracy_row(&kept, &UNIT_KS)
    );
    println!(
        "{:<28} {}",
        "fn*: in the gold files",
        accuracy_row(&gold, &UNIT_KS)
    );
    let mut repos: BTreeMap<&str, Vec<&Ranks>> = BTreeMap::new();
    for r in all {
        repos.entry(r.repo.as_str()).or_default().push(r);
    }
    println!("\nby repository: file Acc@1/3/5/10 ponder | plain BM25 | function Acc@5/10 fn | fn*");
    for (repo, ranks) in repos {
        let pick = |f: &dyn Fn(&Ranks) -> Option<usize>| -> Vec<Option<usize>> {
            ranks.iter().map(|r| f(r)).collect()
        };
        let units = |f: &dyn Fn(&Ranks) -> Option<Option<usize>>| -> Vec<Option<usize>> {
            ranks.iter().filter_map(|r| f(r)).collect()
        };
        println!(
            "{:<26} {} | {} | {} | {}  ({} instances)",
            repo,
            accuracy_row(&pick(&|r| r.ours), &KS),
            accuracy_row(&pick(&|r| r.plain), &KS),
            accuracy_row(&units(&|r| r.units_kept), &UNIT_KS),
            accuracy_row(&units(&|r| r.units_gold), &UNIT_KS),
            ranks.len()
        );
    }
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

/// The 1-based position by which all gold units have appeared among `ranked`, if they do.
fn unit_rank(ranked: &[RankedSymbol], gold: &[(String, String)]) -> Option<usize> {
    let mut worst = 0;
    for (path, name) in gold {
        let position = ranked
            .iter()
            .position(|s| &s.path == path && &s.name == name)?;
        worst = worst.max(position + 1);
    }
    Some(worst)
}

fn show(rank: Option<usize>) -> String {
    rank.map_or("-".to_string(), |r| r.to_string())
}

/// `Acc@k` for each of `ks`, in percent.
fn accuracy_row(ranks: &[Option<usize>], ks: &[usize]) -> String {
    ks.iter()
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
