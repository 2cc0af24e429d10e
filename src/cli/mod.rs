//! The command line: one subcommand per file in this folder; this file parses and dispatches.

mod bench;
mod doctor;
pub mod eval;
mod export;
mod replay;
mod resume;
mod review;
mod serve;
mod session;
mod shortlist;
mod tool;
mod verify;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ponder",
    version,
    about = "Fix an issue in a local repository with a local model: think longer, not larger."
)]
struct Cli {
    #[command(subcommand)]
    command: CommandLine,
}

#[derive(Debug, Subcommand)]
enum CommandLine {
    /// Fix the built-in demo project's bug with scripted responses (no model needed).
    Demo(session::DemoArgs),
    /// Fix an issue in a repository.
    Fix(session::FixArgs),
    /// Play a recorded session in the interface, with its original timing (for a meeting).
    Replay(replay::ReplayArgs),
    /// Continue an interrupted session from its last completed stage.
    Resume(resume::ResumeArgs),
    /// Export a session: SWE-bench predictions, a trajectory, or SFT examples with checks.
    Export(export::ExportArgs),
    /// Step through a recorded session: every candidate, scores, why kept or pruned, notes.
    Review(review::ReviewArgs),
    /// List recorded sessions, newest first.
    Sessions,
    /// Test one candidate patch in a sandboxed throw-away worktree and print the verdict.
    Verify(verify::VerifyArgs),
    /// Rank a repository's files for an issue (BM25 boosted by what the issue names).
    Shortlist(shortlist::ShortlistArgs),
    /// Call one search tool (search_class, search_code, get_code…) on a repository.
    Tool(tool::ToolArgs),
    /// Measure ponder on SWE-bench instances.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Check the llama.cpp backend, devices, model and memory.
    Doctor(doctor::DoctorArgs),
    /// Serve a GGUF as an OpenAI-compatible endpoint (for `ponder fix --server`).
    Serve(serve::ServeArgs),
    /// Benchmarks that print their figures beside a comparison.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Parses the command line and runs it.
pub fn run() -> Result<ExitCode> {
    match Cli::parse().command {
        CommandLine::Demo(args) => session::demo(args),
        CommandLine::Fix(args) => session::fix(args),
        CommandLine::Replay(args) => replay::replay(args),
        CommandLine::Resume(args) => resume::resume(args),
        CommandLine::Export(args) => export::export(args),
        CommandLine::Review(args) => review::review(args),
        CommandLine::Sessions => replay::sessions(),
        CommandLine::Verify(args) => verify::verify(args),
        CommandLine::Shortlist(args) => shortlist::run(args),
        CommandLine::Tool(args) => tool::run(args),
        CommandLine::Eval(command) => eval::run(command),
        CommandLine::Doctor(args) => doctor::doctor(args),
        CommandLine::Bench(command) => bench::run(command),
        CommandLine::Serve(args) => serve::serve(args),
    }
}
