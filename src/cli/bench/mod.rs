//! `ponder bench …`: benchmarks that print each measured figure beside its comparison, measured
//! in the same run.

mod engine;
mod grammar;
mod index;
mod search;
mod tui;
mod workload;

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Index build, re-index and search_code latency, beside ripgrep.
    Index(index::IndexBenchArgs),
    /// Simulate the search strategies on synthetic candidates (validates algorithms, not a model).
    Search(search::SearchBenchArgs),
    /// Batched decoding of the llama.cpp engine, in llama-batched-bench's columns.
    Engine(engine::EngineBenchArgs),
    /// Frame render time, tokens per second the interface absorbs, redraws while idle.
    Tui(tui::TuiBenchArgs),
    /// The cost per token of answering under each stage's grammar, against answering freely.
    Grammar(grammar::GrammarBenchArgs),
}

pub fn run(command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Index(args) => index::run(args),
        BenchCommand::Search(args) => search::run(args),
        BenchCommand::Engine(args) => engine::run(args),
        BenchCommand::Tui(args) => tui::run(args),
        BenchCommand::Grammar(args) => grammar::run(args),
    }
}
