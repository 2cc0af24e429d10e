//! `ponder eval verify`: checks the verification runner against SWE-bench's own verdicts. For each
//! instance with tests, the gold patch must grade as resolved and the empty patch as not resolved.
//!
//! Each instance's base tree comes from the eval folder's `prepare.sh` (offline bundles); its
//! Python environment is a virtualenv built once per repository version from the package registry
//! (see [`super::env`]) and cached under `--work`. The package under test is imported
//! from the worktree (`PYTHONPATH=src:.`), never from the environment.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;

use super::env::{env_spec, virtualenv};
use crate::sandbox::{self, Limits, SweBenchTests, Verification, VerifyRequest};

/// What `ponder eval verify` takes.
#[derive(Debug, Args)]
pub struct EvalVerifyArgs {
    /// The instances (JSON lines, as in ../shared/eval/instances.jsonl); prepare.sh is looked for
    /// next to it.
    #[arg(long, value_name = "FILE")]
    instances: PathBuf,
    /// Only these instance ids (repeatable); default: every instance.
    #[arg(long, value_name = "ID")]
    only: Vec<String>,
    /// Only instances of this repository (`psf/requests`, …; repeatable).
    #[arg(long, value_name = "OWNER/NAME")]
    repo: Vec<String>,
    /// Where checkouts and virtualenvs are kept between runs.
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
    /// Seconds each test run may take.
    #[arg(long, value_name = "S", default_value_t = 600)]
    timeout: u64,
    /// Run the tests even where ponder cannot sandbox them.
    #[arg(long)]
    allow_unsandboxed: bool,
}

/// The fields of an instance that grading reads.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Instance {
    pub instance_id: String,
    pub repo: String,
    pub version: Option<String>,
    pub gold_patch: String,
    pub test_patch: Option<String>,
    #[serde(rename = "FAIL_TO_PASS")]
    pub fail_to_pass: Option<Vec<String>>,
    #[serde(rename = "PASS_TO_PASS")]
    pub pass_to_pass: Option<Vec<String>>,
}

/// Patches graded against one instance's tests as SWE-bench grades them.
pub(super) struct Graded {
    /// Per patch, in order: resolved or not, and its verification.
    pub results: Vec<(bool, Verification)>,
    /// Listed tests that fail here with a network error in some run (not graded).
    pub network: BTreeSet<String>,
}

/// Grades `patches` against the instance's SWE-bench tests in its environment (built once under
/// `work`). `Ok(None)` when the instance has no tests here (a Verified-only row) or every
/// FAIL_TO_PASS test needs the network.
pub(super) fn grade_patches(
    instance: &Instance,
    patches: &[&str],
    prepare: &Path,
    work: &Path,
    timeout: Duration,
    allow_unsandboxed: bool,
) -> Result<Option<Graded>> {
    let id = &instance.instance_id;
    let (Some(test_patch), Some(f2p), Some(p2p), Some(version)) = (
        &instance.test_patch,
        &instance.fail_to_pass,
        &instance.pass_to_pass,
        &instance.version,
    ) else {
        return Ok(None);
    };
    let venv = instance_venv(instance, version, prepare, work)?
        .with_context(|| format!("no environment recipe for {} {version}", instance.repo))?;
    let checkout = checkout(id, prepare, &work.join("checkouts"))?;
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let request = |patch: &str, beam| VerifyRequest {
        repo: checkout.clone(),
        beam,
        patch: patch.to_string(),
        repro: None,
        regression: None,
        swebench: Some(SweBenchTests {
            test_patch: test_patch.clone(),
            fail_to_pass: f2p.clone(),
            pass_to_pass: p2p.clone(),
            command: None,
        }),
        python: venv.join("bin/python").display().to_string(),
        env: vec![
            ("PATH".to_string(), path.clone()),
            ("VIRTUAL_ENV".to_string(), venv.display().to_string()),
            ("PYTHONPATH".to_string(), "src:.".to_string()),
            // pytest prints whole failure messages in its summary on CI (needed to tell network
            // errors apart), and cuts them to the terminal's width elsewhere.
            ("CI".to_string(), "true".to_string()),
        ],
        limits: Limits::with_timeout(timeout),
        allow_unsandboxed,
    };
    let requests: Vec<VerifyRequest> = patches
        .iter()
        .enumerate()
        .map(|(i, p)| request(p, i as u32))
        .collect();
    let verifications = sandbox::verify_many(&requests, &|_| {}, &|| false)
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    // Tests whose summary line shows a network error in any run cannot be graded offline.
    let network: BTreeSet<String> = verifications
        .iter()
        .flat_map(|v| {
            let log = v.runs.last().map_or("", |r| r.output.as_str());
            v.verdict
                .grade
                .iter()
                .flat_map(|g| g.failures())
                .filter(move |t| needs_network(log, &t.id))
                .map(|t| t.id.clone())
        })
        .collect();
    if f2p.iter().all(|t| network.contains(t)) {
        return Ok(None);
    }
    let results = verifications
        .into_iter()
        .map(|v| {
            let resolved = v
                .verdict
                .grade
                .as_ref()
                .is_some_and(|g| g.failures().all(|t| network.contains(&t.id)));
            (resolved, v)
        })
        .collect();
    Ok(Some(Graded { results, network }))
}

/// The virtualenv an instance's code runs in at `version` of its repository, built once under
/// `work`; `None` when there is no recipe for them.
pub(super) fn instance_venv(
    instance: &Instance,
    version: &str,
    prepare: &Path,
    work: &Path,
) -> Result<Option<PathBuf>> {
    let Some(spec) = env_spec(&instance.repo, version) else {
        return Ok(None);
    };
    let checkout = checkout(&instance.instance_id, prepare, &work.join("checkouts"))?;
    // A recipe that reads the checkout's requirements gets one environment per instance (the
    // pins move between commits of one version); the others, one per version.
    let env_name = match spec.requirements {
        Some(_) => instance.instance_id.clone(),
        None => format!("{}-{version}", instance.repo.replace('/', "__")),
    };
    virtualenv(&env_name, &spec, &checkout, &work.join("envs")).map(Some)
}

pub fn run(args: EvalVerifyArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.instances)
        .with_context(|| format!("cannot read {}", args.instances.display()))?;
    let prepare = super::prepare_script(None, &args.instances)?;
    let work = match &args.work {
        Some(dir) => dir.clone(),
        None => crate::session::data_dir()?.join("eval"),
    };
    std::fs::create_dir_all(&work)
        .with_context(|| format!("cannot create the work folder {}", work.display()))?;
    let mut agree = 0;
    let mut ran = 0;
    let mut partial = 0;
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let instance: Instance = serde_json::from_str(line)
            .with_context(|| format!("line {} of the instances file", number + 1))?;
        if (!args.only.is_empty() && !args.only.contains(&instance.instance_id))
            || (!args.repo.is_empty() && !args.repo.contains(&instance.repo))
        {
            continue;
        }
        match eval_instance(&instance, &prepare, &work, &args) {
            Ok(Some(line)) => {
                ran += 1;
                if line.agree {
                    agree += 1;
                }
                if line.partial {
                    partial += 1;
                }
                println!("{}", line.text);
            }
            Ok(None) => {}
            Err(err) => println!("{:<28} could not run: {err:#}", instance.instance_id),
        }
    }
    println!(
        "agreement: {agree}/{ran} instances graded as SWE-bench grades them \
         ({partial} of them without their network tests)"
    );
    Ok(if agree == ran && ran > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

struct Line {
    agree: bool,
    /// Graded without the listed tests that need the network.
    partial: bool,
    text: String,
}

fn eval_instance(
    instance: &Instance,
    prepare: &Path,
    work: &Path,
    args: &EvalVerifyArgs,
) -> Result<Option<Line>> {
    let id = &instance.instance_id;
    if instance.test_patch.is_none() || instance.fail_to_pass.is_none() {
        println!("{id:<28} could not run: no test patch or test lists (a Verified-only row)");
        return Ok(None);
    }
    let started = Instant::now();
    let Some(graded) = grade_patches(
        instance,
        &[&instance.gold_patch, ""],
        prepare,
        work,
        Duration::from_secs(args.timeout),
        args.allow_unsandboxed,
    )?
    else {
        println!(
            "{id:<28} could not run offline: every FAIL_TO_PASS test fails with a network error \
             (they call a server on the internet, e.g. httpbin.org)"
        );
        return Ok(None);
    };
    let network = graded.network;
    let mut results = graded.results.into_iter();
    let (gold_resolved, gold) = results.next().context("no gold result")?;
    let (empty_resolved, empty) = results.next().context("no empty-patch result")?;
    let agree = gold_resolved && !empty_resolved;
    let mut text = format!(
        "{id:<28} gold: {:<12} {}  empty: {:<12} {}  {}  ({:.0} s)",
        if gold_resolved {
            "resolved"
        } else {
            "NOT resolved"
        },
        counts(&gold),
        if empty_resolved {
            "RESOLVED"
        } else {
            "not resolved"
        },
        counts(&empty),
        if agree { "agree" } else { "DISAGREE" },
        started.elapsed().as_secs_f64(),
    );
    if !network.is_empty() {
        text.push_str(&format!(
            "\n    graded without {} listed test(s) that fail here with a network error (no network in the sandbox)",
            network.len()
        ));
    }
    for test in gold
        .verdict
        .grade
        .iter()
        .flat_map(|g| g.failures())
        .filter(|t| !network.contains(&t.id))
        .take(5)
    {
        let status = test.status.map_or("missing", |s| s.word());
        text.push_str(&format!("\n    gold fails {} ({status})", test.id));
    }
    Ok(Some(Line {
        agree,
        partial: !network.is_empty(),
        text,
    }))
}

/// True when the log's summary line for `test` reports a network error.
fn needs_network(log: &str, test: &str) -> bool {
    const NETWORK: [&str; 7] = [
        "ConnectionError",
        "NewConnectionError",
        "Max retries exceeded",
        "Network is unreachable",
        "Name or service not known",
        "Temporary failure in name resolution",
        "gaierror",
    ];
    log.lines()
        .filter(|line| {
            (line.starts_with("FAILED ") || line.starts_with("ERROR "))
                && line.split_whitespace().nth(1) == Some(test)
        })
        .any(|line| NETWORK.iter().any(|word| line.contains(word)))
}

/// `F2P a/b P2P c/d`: how many listed tests passed.
fn counts(verification: &Verification) -> String {
    match &verification.verdict.grade {
        Some(grade) => format!(
            "F2P {}/{} P2P {}/{}",
            grade.fail_to_pass.iter().filter(|t| t.passed).count(),
            grade.fail_to_pass.len(),
            grade.pass_to_pass.iter().filter(|t| t.passed).count(),
            grade.pass_to_pass.len()
        ),
        None => verification.verdict.reason.clone(),
    }
}

/// The instance's base tree, made by prepare.sh once and kept.
fn checkout(id: &str, prepare: &Path, dir: &Path) -> Result<PathBuf> {
    let dest = dir.join(id);
    if dest.join(".git").exists() {
        return Ok(dest);
    }
    std::fs::create_dir_all(dir)?;
    // Another run may be preparing the same checkout: wait for it, then use what it made.
    let _lock = super::env::locked(&dir.join(format!("{id}.lock")))?;
    if dest.join(".git").exists() {
        return Ok(dest);
    }
    super::prepare_tree(prepare, id, &dest)?;
    Ok(dest)
}
