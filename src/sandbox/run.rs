//! Runs one command under a time limit in its own process group, capturing capped output, and
//! inside a [`Confinement`] when one is given.
//!
//! Invariants: stdin is closed; the environment is an allow-list ([`super::env`]); when the run ends (exit, time limit or cancel) its whole process group is killed, and with a pid
//! namespace (or a pids cgroup: [`super::pids`]) every process it started.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::CappedOutput;
use super::confine::Confinement;
use super::env;
use super::pids::RunCgroup;

/// What to run and under which limits.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Program and arguments.
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    pub timeout: Duration,
    /// Bytes of output kept from the start and from the end.
    pub output_cap: usize,
    /// Variables set for the command, over the allow-listed part of ponder's environment.
    pub env: Vec<(String, String)>,
    /// The sandbox to enter; `None` runs with process hygiene only.
    pub confinement: Option<Confinement>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Exit status, or `None` when killed by a signal (the time limit included).
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    /// Stopped because `should_stop` said so (the user aborted).
    pub cancelled: bool,
    pub duration: Duration,
    /// stdout and stderr interleaved as they arrived, capped.
    pub output: String,
}

/// How long the output pipe may stay open after the command's group is gone.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Runs the command to completion, its time limit, or until `should_stop` returns true; the whole
/// process group is killed at the end.
pub fn run(spec: &RunSpec, should_stop: &dyn Fn() -> bool) -> Result<RunResult> {
    if spec.argv.is_empty() {
        bail!("empty command");
    }
    let mut set = vec![("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string())];
    set.extend(spec.env.iter().cloned());
    let env = env::for_model_code(std::env::vars_os(), &set);
    // Root's processes ignore the process limit: a pids cgroup caps them where one can be made.
    let cgroup = spec
        .confinement
        .as_ref()
        .and_then(|confinement| RunCgroup::create(confinement.max_processes));
    let prepared = match &spec.confinement {
        Some(confinement) => {
            let mut prepared = confinement.prepare(&env, &spec.argv, &spec.cwd)?;
            if let Some(cgroup) = &cgroup {
                prepared.join_cgroup(cgroup.procs_file().clone());
            }
            Some(prepared)
        }
        None => None,
    };
    let argv = match &prepared {
        Some(prepared) => prepared.command_line(&spec.argv),
        None => spec.argv.iter().map(OsString::from).collect(),
    };
    // One pipe for stdout and stderr, as `2>&1` gives: the kernel keeps the order of the writes,
    // which two pipes read by two threads cannot (a "Issue reproduced" printed after a traceback
    // could land before it, or inside one of its lines).
    let (mut reader, writer) = std::io::pipe().context("cannot make the output pipe")?;
    let writer_for_stderr = writer.try_clone().context("cannot share the output pipe")?;
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer_for_stderr)
        .env_clear()
        .envs(env)
        .process_group(0);
    if let Some(prepared) = prepared {
        // SAFETY: `enter` makes only async-signal-safe system calls (see `confine`).
        unsafe {
            command.pre_exec(move || prepared.enter());
        }
    }
    let started = Instant::now();
    let spawned = command.spawn();
    // The command holds ponder's ends of the pipe's write side: without dropping it the reader
    // would never see the end of the output.
    drop(command);
    let mut child = spawned.with_context(|| format!("cannot start `{}`", spec.argv.join(" ")))?;
    let pgid = child.id() as i32;
    let output = Arc::new(Mutex::new(CappedOutput::new(
        spec.output_cap,
        spec.output_cap,
    )));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let reading = {
        let output = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                output
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(&buf[..n]);
            }
            let _ = done_tx.send(());
        })
    };

    let deadline = started + spec.timeout;
    let mut timed_out = false;
    let mut cancelled = false;
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .context("cannot wait for the test process")?
        {
            break status;
        }
        timed_out = Instant::now() >= deadline;
        cancelled = !timed_out && should_stop();
        if timed_out || cancelled {
            kill_group(pgid, libc::SIGTERM);
            std::thread::sleep(Duration::from_millis(200));
            kill_group(pgid, libc::SIGKILL);
            break child.wait().context("cannot reap the test process")?;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Children left behind by the script die with the group, and release the output pipe.
    kill_group(pgid, libc::SIGKILL);
    // And so do those that left the group, where a cgroup holds them.
    drop(cgroup);
    // A process that escaped the group (possible only without a pid namespace) may hold the
    // pipe open: wait for the output a little, then go on without it.
    let _ = done_rx.recv_timeout(PIPE_GRACE);
    drop(reading);
    let duration = started.elapsed();
    let output = output.lock().unwrap_or_else(|e| e.into_inner()).text();
    Ok(RunResult {
        exit_code: status.code(),
        timed_out,
        cancelled,
        duration,
        output,
    })
}

fn kill_group(pgid: i32, signal: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; it has no memory effects.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout_ms: u64) -> RunResult {
        run(
            &RunSpec {
                argv: vec!["sh".into(), "-c".into(), script.into()],
                cwd: std::env::temp_dir(),
                timeout: Duration::from_millis(timeout_ms),
                output_cap: 1024,
                env: Vec::new(),
                confinement: None,
            },
            &|| false,
        )
        .unwrap()
    }

    #[test]
    fn captures_output_and_exit_code() {
        let result = sh("echo out; echo err >&2; exit 3", 5000);
        assert_eq!(result.exit_code, Some(3));
        assert!(!result.timed_out);
        assert!(result.output.contains("out") && result.output.contains("err"));
    }

    #[test]
    fn stdout_and_stderr_keep_the_order_they_were_written_in() {
        let script = "i=0; while [ $i -lt 100 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done";
        let result = sh(script, 10_000);
        let expected: String = (0..100).map(|i| format!("out{i}\nerr{i}\n")).collect();
        assert_eq!(result.output, expected);
    }

    #[test]
    fn time_limit_kills_the_whole_group() {
        let started = Instant::now();
        // The background sleeper holds the pipe open: it must die with the group.
        let result = sh("sleep 30 & sleep 30", 300);
        assert!(result.timed_out);
        assert_eq!(result.exit_code, None);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn only_allow_listed_variables_reach_the_command() {
        let result = run(
            &RunSpec {
                argv: vec!["sh".into(), "-c".into(), "env".into()],
                cwd: std::env::temp_dir(),
                timeout: Duration::from_secs(10),
                output_cap: 1 << 16,
                env: vec![("PONDER_RUN_VAR".into(), "set".into())],
                confinement: None,
            },
            &|| false,
        )
        .unwrap();
        let names: Vec<&str> = result
            .output
            .lines()
            .filter_map(|l| l.split_once('=').map(|(name, _)| name))
            .collect();
        assert!(names.contains(&"PONDER_RUN_VAR"), "{names:?}");
        for name in names {
            assert!(
                name == "PONDER_RUN_VAR"
                    || name == "PWD"
                    || name == "SHLVL"
                    || name == "_"
                    || env::is_allowed(name, &[]),
                "{name} reached the command"
            );
        }
    }
}
