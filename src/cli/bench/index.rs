//! `ponder bench`: timings that back performance claims, each printed beside its comparison
//! measured in the same run (medians).
//!
//! `bench index` measures, on a generated tree of Python files (`--files`, 20,000 for the
//! monorepo goal) and on a real repository (`--repo`, else the pylint snapshot of the evaluation
//! set): the cold index persisted to a fresh store, the warm start from it, the warm start after
//! a one-file change, re-indexing a live index, memory, and `search_code` latency beside `rg -F`
//! for the same literals. Every time is printed as wall and CPU time (getrusage, all threads):
//! on a shared machine CPU time is the steadier figure.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::repo::{
    CacheState, FileProfile, IndexStore, RepoIndex, SymbolKind, Workspace, call_tool, open_index,
    open_workspace, profile_files,
};

/// What `ponder bench index` takes.
#[derive(Debug, Args)]
pub struct IndexBenchArgs {
    /// Python files in the generated tree.
    #[arg(long, default_value_t = 2000)]
    files: usize,
    /// Repetitions of each measurement (the median is printed).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Also measure this repository (default: the pylint snapshot of --eval-dir, if present).
    #[arg(long, value_name = "DIR")]
    repo: Option<PathBuf>,
    /// Also time each file's read, parse and tokenize on one thread, and list the slowest.
    #[arg(long)]
    profile: bool,
    /// The evaluation set holding instances.jsonl and prepare.sh.
    #[arg(long, value_name = "DIR", default_value = "../shared/eval")]
    eval_dir: PathBuf,
}

pub fn run(args: IndexBenchArgs) -> Result<ExitCode> {
    let runs = args.runs.max(1);
    let threads = rayon::current_num_threads();
    println!("ponder bench index: medians of {runs} runs, {threads} indexing threads");
    println!(
        "times are wall, then CPU (user + system, all threads): when other work shares the \
         machine, wall time grows and CPU time stays"
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        println!(
            "machine load average {} (timings drift with load; compare within one run)",
            load.join(" ")
        );
    }
    let rg = rg_version();
    match &rg {
        Some(version) => println!("comparison: {version} (`rg -F -n`, a new process per query)"),
        None => println!(
            "comparison: rg not found — install ripgrep (`apt-get install ripgrep`) to time it"
        ),
    }
    let generated = tempfile::Builder::new()
        .prefix("ponder-bench-")
        .tempdir()
        .context("cannot create a temporary folder for the generated tree")?;
    let started = Instant::now();
    generate_tree(generated.path(), args.files)?;
    println!(
        "\n(generated {} files in {})",
        args.files,
        ms(started.elapsed())
    );
    measure(
        &format!("generated tree ({} Python files)", args.files),
        generated.path(),
        runs,
        rg.is_some(),
        (args.files >= 20_000).then_some(GOAL_COLD_20K),
        args.profile,
    )?;
    let prepared = tempfile::Builder::new().prefix("ponder-bench-").tempdir()?;
    let real = match args.repo {
        Some(repo) => Some((repo.display().to_string(), repo)),
        None => prepare_pylint(&args.eval_dir, prepared.path())?,
    };
    match real {
        Some((label, root)) => measure(
            &label,
            &root,
            runs,
            rg.is_some(),
            Some(GOAL_COLD_REAL),
            args.profile,
        )?,
        None => println!(
            "\n(no real repository measured: {} has no pylint instance; pass --repo DIR)",
            args.eval_dir.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// The goals of issue 18, on the 2-core machine: cold index of a ~30 MB real repository, warm
/// start from the persisted index, and a cold index of 20,000 generated files.
const GOAL_COLD_REAL: Duration = Duration::from_millis(1500);
const GOAL_WARM: Duration = Duration::from_millis(200);
const GOAL_COLD_20K: Duration = Duration::from_secs(10);

/// Wall and CPU time of one measured call.
struct Timed {
    wall: Duration,
    cpu: Option<Duration>,
}

fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Timed)> {
    let cpu_before = process_cpu_time();
    let started = Instant::now();
    let value = f()?;
    let wall = started.elapsed();
    let cpu = match (cpu_before, process_cpu_time()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    Ok((value, Timed { wall, cpu }))
}

/// Median wall and median CPU time of several runs.
fn medians(runs: &[Timed]) -> String {
    let mut walls: Vec<Duration> = runs.iter().map(|t| t.wall).collect();
    let mut cpus: Vec<Duration> = runs.iter().filter_map(|t| t.cpu).collect();
    let cpu = if cpus.is_empty() {
        String::new()
    } else {
        format!(" wall, {} CPU", ms(median(&mut cpus)))
    };
    format!("{}{cpu}", ms(median(&mut walls)))
}

/// `goal ≤ 1.50 s: met` beside a figure.
fn against(runs: &[Timed], goal: Option<Duration>) -> String {
    let Some(goal) = goal else {
        return String::new();
    };
    let mut walls: Vec<Duration> = runs.iter().map(|t| t.wall).collect();
    let wall = median(&mut walls);
    format!(
        "   [goal ≤ {}: {}]",
        ms(goal),
        if wall <= goal { "met" } else { "MISSED" }
    )
}

fn measure(
    label: &str,
    root: &Path,
    runs: usize,
    with_rg: bool,
    cold_goal: Option<Duration>,
    profile: bool,
) -> Result<()> {
    println!("\n== {label}");
    if profile {
        print_profile(&Workspace::open(root)?);
    }
    let store_dir = tempfile::Builder::new()
        .prefix("ponder-bench-store-")
        .tempdir()
        .context("cannot create a temporary index store")?;
    let store = IndexStore::at(store_dir.path());
    let rss_before = resident_bytes();
    let mut listing = Vec::new();
    let mut in_memory = Vec::new();
    let mut cold = Vec::new();
    let mut index = None;
    for _ in 0..runs {
        let (workspace, t) = timed(|| Workspace::open(root))?;
        listing.push(t);
        let (built, t) = timed(|| RepoIndex::build(&workspace))?;
        in_memory.push(t);
        drop(built);
        std::fs::remove_dir_all(store.dir()).ok();
        let ((built, report), t) = timed(|| {
            let workspace = Workspace::open(root)?;
            open_index(&workspace, Some(&store), &|_| {})
        })?;
        if !report.saved {
            bail!("the cold index was not persisted: {}", report.summary());
        }
        cold.push(t);
        index = Some(built);
    }
    let rss_after = resident_bytes();
    let mut index = index.context("no run")?;
    let symbols: usize = index.files().iter().map(|(_, f)| f.symbols.len()).sum();
    let bytes: usize = index.files().iter().map(|(_, f)| f.text.len()).sum();
    let snapshot = std::fs::metadata(store.snapshot_path(index.root()))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "files {} ({:.1} MB of text), symbols {symbols}; persisted snapshot {:.1} MB",
        index.len(),
        bytes as f64 / 1e6,
        snapshot as f64 / 1e6
    );
    // The goals are for a ~30 MB repository and for 20,000 files: not for smaller trees.
    let sized = index.len() >= 20_000 || bytes >= 20_000_000;
    if cold_goal.is_some() && !sized {
        println!("(the cold-index goal is for a ~30 MB repository or 20,000 files: not checked)");
    }
    println!(
        "cold index, persisted (list + read + parse + BM25 + save): {}{}",
        medians(&cold),
        against(&cold, cold_goal.filter(|_| sized))
    );
    println!(
        "  of which listing files: {}; in memory only (no save): {} + listing",
        medians(&listing),
        medians(&in_memory)
    );

    let mut warm = Vec::new();
    for _ in 0..runs {
        let ((_, warm_index, report), t) = timed(|| open_workspace(root, Some(&store), &|_| {}))?;
        if report.parsed != 0 || report.cache != CacheState::Used {
            bail!("the warm start parsed files: {}", report.summary());
        }
        warm.push(t);
        drop(warm_index);
    }
    println!(
        "warm start from the persisted index (list + load + check): {}{}",
        medians(&warm),
        against(&warm, Some(GOAL_WARM))
    );

    let target = index
        .files()
        .iter()
        .filter(|(_, f)| f.lang.is_some())
        .max_by_key(|(_, f)| f.symbols.len())
        .map(|(_, f)| f.path.clone())
        .context("no parsed file to change")?;
    let full = root.join(&target);
    let original = std::fs::read(&full)?;
    let mut reindex_times = Vec::new();
    let mut warm_changed = Vec::new();
    for run in 0..runs {
        let mut changed = original.clone();
        changed.extend_from_slice(
            format!("\n\ndef bench_added_{run}():\n    return {run}\n").as_bytes(),
        );
        std::fs::write(&full, &changed)?;
        let (report, t) = timed(|| index.reindex(std::slice::from_ref(&target)))?;
        reindex_times.push(t);
        if report.updated.len() != 1 {
            bail!("the change to {target} was not seen by reindex");
        }
        let ((_, _, report), t) = timed(|| open_workspace(root, Some(&store), &|_| {}))?;
        if report.parsed != 1 {
            bail!("the warm start after a change parsed {}", report.summary());
        }
        warm_changed.push(t);
    }
    std::fs::write(&full, &original)?;
    index.reindex(std::slice::from_ref(&target))?;
    println!(
        "warm start after a one-file change (re-parse it, save): {}",
        medians(&warm_changed)
    );
    println!(
        "re-index after a one-file change, live index ({target}): {}",
        medians(&reindex_times)
    );
    println!(
        "memory: resident set {:.0} MB after the index is built (+{:.0} MB), peak {:.0} MB",
        rss_after as f64 / 1e6,
        rss_after.saturating_sub(rss_before) as f64 / 1e6,
        peak_resident_bytes() as f64 / 1e6
    );

    println!("search_code (warm index, in process) vs rg -F (same literal, new process):");
    for query in queries(&index) {
        let mut ours = Vec::new();
        let mut hits = 0;
        for _ in 0..runs.max(5) {
            let started = Instant::now();
            let output = call_tool(&index, "search_code", &serde_json::json!([query]))?;
            ours.push(started.elapsed());
            hits = output.data["total"].as_u64().unwrap_or(0);
        }
        let rg = if with_rg {
            let mut times = Vec::new();
            let mut rg_hits = 0;
            for _ in 0..runs.max(5) {
                let (elapsed, lines) = time_rg(root, &query)?;
                times.push(elapsed);
                rg_hits = lines;
            }
            format!("rg {} ({rg_hits} lines)", ms(median(&mut times)))
        } else {
            "rg not installed".to_string()
        };
        println!(
            "  {:<34} ponder {} ({hits} lines)   {rg}",
            format!("{query:?}"),
            ms(median(&mut ours))
        );
    }
    Ok(())
}

/// Prints where one thread's cold index spends its time, by phase, and the slowest files.
fn print_profile(workspace: &Workspace) {
    let mut files = profile_files(workspace);
    let total = |f: &dyn Fn(&FileProfile) -> Duration| files.iter().map(f).sum::<Duration>();
    let (read, parse, tokenize) = (
        total(&|f| f.read),
        total(&|f| f.parse),
        total(&|f| f.tokenize),
    );
    println!(
        "profile, one thread: read {}, parse {}, tokenize {} (BM25, symbols and saving not included)",
        ms(read),
        ms(parse),
        ms(tokenize)
    );
    files.sort_by_key(|f| std::cmp::Reverse(f.parse));
    for f in files.iter().take(8) {
        println!(
            "  parse {:>10}  {:>8} bytes  {:.1} MB/s  {}",
            ms(f.parse),
            f.bytes,
            f.bytes as f64 / 1e6 / f.parse.as_secs_f64().max(1e-9),
            f.path
        );
    }
}

/// This process's resident set now, in bytes (0 where `/proc` is missing).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// The most this process has held resident, in bytes.
fn peak_resident_bytes() -> u64 {
    // SAFETY: getrusage writes into the zeroed struct we pass and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        (libc::getrusage(libc::RUSAGE_SELF, &mut usage) == 0).then_some(usage)
    };
    usage.map_or(0, |u| u.ru_maxrss.max(0) as u64 * 1024)
}

/// Literals of three kinds, picked from the index itself: a very common one, a rare one (a
/// function defined once), and one that is absent.
fn queries(index: &RepoIndex) -> Vec<String> {
    let mut rare = None;
    for (_, file) in index.files().iter().rev() {
        if let Some(symbol) = file.symbols.iter().find(|s| {
            s.kind == SymbolKind::Function && s.name.len() > 8 && index.files_defining(&s.name) == 1
        }) {
            rare = Some(format!("def {}(", symbol.name));
            break;
        }
    }
    let mut out = vec!["return self".to_string()];
    out.extend(rare);
    out.push("ponder_absent_literal".to_string());
    out
}

fn time_rg(root: &Path, query: &str) -> Result<(Duration, usize)> {
    let started = Instant::now();
    let output = Command::new("rg")
        .args(["-F", "-n", "--no-heading", "--", query])
        .arg(root)
        .stderr(Stdio::null())
        .output()
        .context("cannot run rg")?;
    let elapsed = started.elapsed();
    Ok((
        elapsed,
        output
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
    ))
}

fn rg_version() -> Option<String> {
    let output = Command::new("rg").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    output
        .status
        .success()
        .then(|| text.lines().next().unwrap_or("rg").to_string())
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// User plus system CPU time of this process so far, all threads (`None` where unsupported).
fn process_cpu_time() -> Option<Duration> {
    // SAFETY: getrusage writes into the zeroed struct we pass and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        (libc::getrusage(libc::RUSAGE_SELF, &mut usage) == 0).then_some(usage)
    }?;
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Some(time(usage.ru_utime) + time(usage.ru_stime))
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// Prepares the first pylint instance of the evaluation set in `dest`, if there is one.
fn prepare_pylint(eval_dir: &Path, dest: &Path) -> Result<Option<(String, PathBuf)>> {
    let instances = eval_dir.join("instances.jsonl");
    let Ok(text) = std::fs::read_to_string(&instances) else {
        return Ok(None);
    };
    let id = text.lines().find_map(|line| {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        (value["repo"] == "pylint-dev/pylint")
            .then(|| value["instance_id"].as_str().map(String::from))?
    });
    let Some(id) = id else { return Ok(None) };
    let tree = dest.join(&id);
    crate::cli::eval::prepare_tree(&eval_dir.join("prepare.sh"), &id, &tree)?;
    Ok(Some((format!("pylint snapshot ({id})"), tree)))
}

/// Writes `count` Python files of realistic shape under `root` and makes it a git repository.
fn generate_tree(root: &Path, count: usize) -> Result<()> {
    git2::Repository::init(root).context("cannot create the generated tree's repository")?;
    const WORDS: &[&str] = &[
        "request", "session", "config", "parser", "token", "cache", "record", "message", "handler",
        "stream", "buffer", "result", "schema", "report", "checker", "visitor",
    ];
    for i in 0..count {
        let dir = root.join(format!("pkg_{}/sub_{}", i / 200, (i / 20) % 10));
        std::fs::create_dir_all(&dir)?;
        let word = |k: usize| WORDS[(i * 7 + k * 3) % WORDS.len()];
        let mut text = format!(
            "\"\"\"Module {i}: {} {} utilities.\"\"\"\n\nimport os\nimport re\n\nLIMIT_{i} = {}\n\n",
            word(0),
            word(1),
            i * 3
        );
        for c in 0..3 {
            text.push_str(&format!(
                "\nclass {}{}{i}x{c}(object):\n    \"\"\"A {} for {}.\"\"\"\n\n    def __init__(self, name, size=0):\n        self.name = name\n        self.size = size\n",
                capitalize(word(c)),
                capitalize(word(c + 1)),
                word(c),
                word(c + 2)
            ));
            for m in 0..4 {
                text.push_str(&format!(
                    "\n    def {}_{}_{m}(self, value):\n        \"\"\"Return the {} of value.\"\"\"\n        if value is None:\n            raise ValueError(\"no {} given\")\n        total = 0\n        for item in range(self.size):\n            total += item * {m}\n        return self.name, total, value\n",
                    word(m),
                    word(m + c),
                    word(m + 1),
                    word(m + 2)
                ));
            }
        }
        for f in 0..3 {
            text.push_str(&format!(
                "\n\ndef {}_helper_{i}_{f}(path, options=None):\n    options = options or {{}}\n    if not os.path.exists(path):\n        return None\n    return re.sub(r\"\\s+\", \" \", path)\n",
                word(f)
            ));
        }
        std::fs::write(dir.join(format!("module_{i}.py")), text)?;
    }
    Ok(())
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}
