//! `ponder eval run`: a scripted batch over a small instances file, with predictions, metrics
//! against the gold patch, resumption and shards.

use std::path::Path;
use std::process::Command;

/// The fix the demo script makes (the gold patch of the fixture instances).
const GOLD: &str = "diff --git a/minicfg/parser.py b/minicfg/parser.py
--- a/minicfg/parser.py
+++ b/minicfg/parser.py
@@ -82,7 +82,5 @@
         current[key] = assign.group(\"value\").strip()
         last_key = key
 
-    if not sections:
-        # Nothing but blank lines and comments.
-        return None
+    # Text with nothing but blank lines and comments is a valid, empty config.
     return sections
";

/// A prepare.sh that copies the demo project (kept at `source`) for any instance id.
fn fixture(
    dir: &Path,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    ponder::demo::DemoRepo,
) {
    let demo = ponder::demo::prepare().unwrap();
    let prepare = dir.join("prepare.sh");
    std::fs::write(
        &prepare,
        format!(
            "set -e\nmkdir -p \"$2\"\ncp -r '{}'/. \"$2\"\n",
            demo.root().display()
        ),
    )
    .unwrap();
    let issue = ponder::assets::text("demo/issue.md").unwrap();
    let lines: String = ["minicfg-1", "minicfg-2", "minicfg-3"]
        .iter()
        .map(|id| {
            serde_json::json!({
                "instance_id": id,
                "problem_statement": issue,
                "gold_patch": GOLD,
                "gold_files": ["minicfg/parser.py"],
            })
            .to_string()
                + "\n"
        })
        .collect();
    let instances = dir.join("instances.jsonl");
    std::fs::write(&instances, lines).unwrap();
    let script = dir.join("script.toml");
    std::fs::write(&script, ponder::demo::script().unwrap()).unwrap();
    (instances, script, demo)
}

fn eval(dir: &Path, instances: &Path, script: &Path, out: &str, extra: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ponder"))
        .env("PONDER_DATA_DIR", dir.join("data"))
        .env("PONDER_CONFIG", dir.join("no-config.toml"))
        .args(["eval", "run", "--instances"])
        .arg(instances)
        .arg("--script")
        .arg(script)
        .args(["--budget", "1", "--out"])
        .arg(dir.join(out))
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_scripted_batch_writes_predictions_and_metrics_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (instances, script, _demo) = fixture(dir.path());

    let (ok, text) = eval(dir.path(), &instances, &script, "run", &["--jobs", "2"]);
    assert!(ok, "{text}");
    let predictions = lines(&dir.path().join("run/predictions.jsonl"));
    assert_eq!(predictions.len(), 3, "{text}");
    let mut ids: Vec<&str> = predictions
        .iter()
        .map(|p| p["instance_id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["minicfg-1", "minicfg-2", "minicfg-3"]);
    for p in &predictions {
        assert!(
            p["model_patch"]
                .as_str()
                .unwrap()
                .contains("minicfg/parser.py")
        );
        assert_eq!(p["model_name_or_path"], "ponder/scripted");
    }
    let metrics = lines(&dir.path().join("run/metrics.jsonl"));
    for m in &metrics {
        assert_eq!(m["file_match"], true, "{m}");
        assert_eq!(m["location_match"], true, "{m}");
        assert_eq!(m["patch_files_match"], true, "{m}");
        assert!(m["tokens"].as_u64().unwrap() > 0);
        assert!(m["time_ms"].is_u64());
        assert_eq!(m["tokens_per_stage"].as_array().unwrap().len(), 4);
    }
    assert!(
        text.contains("understand file accuracy: 100.0% (3/3)"),
        "{text}"
    );
    assert!(
        text.contains("localize location accuracy: 100.0% (3/3)"),
        "{text}"
    );

    // Run again: everything is done, nothing is added.
    let (ok, text) = eval(dir.path(), &instances, &script, "run", &[]);
    assert!(ok, "{text}");
    assert!(text.contains("3 already done"), "{text}");
    assert_eq!(lines(&dir.path().join("run/predictions.jsonl")).len(), 3);

    // A shard takes its share only.
    let (ok, text) = eval(
        dir.path(),
        &instances,
        &script,
        "shard",
        &["--shard", "1/2"],
    );
    assert!(ok, "{text}");
    let shard = lines(&dir.path().join("shard/predictions.jsonl"));
    assert_eq!(shard.len(), 1);
    assert_eq!(shard[0]["instance_id"], "minicfg-2");

    let (ok, text) = eval(dir.path(), &instances, &script, "bad", &["--shard", "2/2"]);
    assert!(!ok);
    assert!(text.contains("0 ≤ I < N"), "{text}");
}

/// A batch stopped after understand or localize still measures the stages it ran (the measured
/// chain used to start from the patch alone, so file and location accuracy read 0% there).
#[test]
fn a_batch_stopped_early_still_measures_the_stages_it_ran() {
    let dir = tempfile::tempdir().unwrap();
    let (instances, script, _demo) = fixture(dir.path());
    for (until, location) in [("understand", "0.0% (0/3)"), ("localize", "100.0% (3/3)")] {
        let (ok, text) = eval(
            dir.path(),
            &instances,
            &script,
            until,
            &["--until", until, "--no-grade"],
        );
        assert!(ok, "{text}");
        assert!(
            text.contains("understand file accuracy: 100.0% (3/3)"),
            "--until {until}: {text}"
        );
        assert!(
            text.contains(&format!("localize location accuracy: {location}")),
            "--until {until}: {text}"
        );
        for m in lines(&dir.path().join(until).join("metrics.jsonl")) {
            assert_eq!(m["patch_files_match"], false, "{m}");
        }
    }
}
