//! Running code the model wrote, and judging what it showed.
//!
//! Each run gets its own process group, a time limit that kills the whole group, closed stdin, an
//! allow-listed environment ([`env`]) and capped output ([`run`]); on Linux it is also confined
//! ([`Confinement`]): a private network namespace (no network), Landlock or bubblewrap (reads only
//! its worktree, the system and its tools, writes only in its worktree and private temp dir:
//! [`Access`]), a pid namespace (nothing outlives it) and a process limit (a pids cgroup for
//! root: [`pids`]).
//! [`Isolation::detect`] finds what this machine allows; model code runs uncontained only when the
//! user allowed it. [`verify()`] tests one candidate in a throw-away worktree and returns the
//! runs and a verdict ([`grade`]); pytest logs are read as SWE-bench reads them ([`test_log`]).
//! Python runs with the project's virtualenv when ponder knows one ([`venv`]).

mod access;
#[cfg(target_os = "linux")]
mod bwrap;
mod confine;
pub mod env;
pub mod grade;
mod isolation;
#[cfg(target_os = "linux")]
mod landlock;
mod output;
mod pids;
mod python_env;
mod repro;
mod run;
pub mod test_cmd;
pub mod test_log;
pub mod venv;
mod verify;

pub use access::{Access, ETC_SECRETS};
pub use confine::Confinement;
pub use isolation::{BACKEND_VAR, Backend, Isolation};
pub use output::CappedOutput;
pub use pids::describe_cap as describe_process_cap;
pub use repro::{REPRO_FILE, died_of, repro_outcome};
pub use run::{RunResult, RunSpec, run};
pub use test_cmd::TestCommand;
pub use verify::TAIL_CHARS as RUN_TAIL_CHARS;
pub use verify::{
    Limits, RunReport, SweBenchTests, Verification, VerifyRequest, diff_files, run_in_worktree,
    sandbox_for, suite_outcome, tail, verify, verify_many, verify_with,
};
