//! The engine benchmark: the measurement of llama.cpp's `llama-batched-bench`, run through the
//! very loop a fix runs ([`super::scheduler`]: its batching, its slots and prefix sharing, its
//! timers that wait for the device), so the two tables can be compared line by line on one model.
//!
//! For a batch of B sequences: a prompt of PP tokens is decoded, once and shared with all B
//! sequences (shared) or once per sequence (not shared), then TG steps each decode one token per
//! sequence. Columns as in llama.cpp: `N_KV` cells used, `T_*` seconds, `S_*` tokens per second.

use anyhow::Result;
use llama_cpp_2::token::LlamaToken;

use super::{LoadedModel, Slots};

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRow {
    pub pp: u32,
    pub tg: u32,
    pub b: u32,
    pub n_kv: u32,
    pub t_pp: f64,
    pub s_pp: f64,
    pub t_tg: f64,
    pub s_tg: f64,
    pub t: f64,
    pub s: f64,
}

impl BenchRow {
    /// The header, in llama-batched-bench's layout.
    pub fn header() -> String {
        format!(
            "|{:>6} |{:>6} |{:>4} |{:>6} |{:>8} |{:>8} |{:>8} |{:>8} |{:>8} |{:>8} |\n\
             |-------|-------|-----|-------|---------|---------|---------|---------|---------|---------|",
            "PP", "TG", "B", "N_KV", "T_PP s", "S_PP t/s", "T_TG s", "S_TG t/s", "T s", "S t/s"
        )
    }

    pub fn line(&self) -> String {
        format!(
            "|{:>6} |{:>6} |{:>4} |{:>6} |{:>8.3} |{:>8.2} |{:>8.3} |{:>8.2} |{:>8.3} |{:>8.2} |",
            self.pp,
            self.tg,
            self.b,
            self.n_kv,
            self.t_pp,
            self.s_pp,
            self.t_tg,
            self.s_tg,
            self.t,
            self.s
        )
    }
}

/// Synthetic prompt tokens: byte tokens of plain text, repeated.
fn prompt_tokens(lm: &LoadedModel, n: u32) -> Vec<LlamaToken> {
    let text = "fn parse(input: &str) -> Result<Config> { let mut config = Config::default(); ";
    let unit = lm.model.vocab().tokenize(text.as_bytes(), false, false);
    unit.iter().copied().cycle().take(n as usize).collect()
}

/// Measures one row.
pub fn run(slots: &mut Slots, b: u32, pp: u32, tg: u32, shared: bool) -> Result<BenchRow> {
    let n_kv = if shared { pp + b * tg } else { b * (pp + tg) };
    let prompt = prompt_tokens(slots.model(), pp);
    let (t_pp, t_tg) = super::run::batched_bench(slots, &prompt, b, tg, shared)?;
    let pp_tokens = if shared { pp } else { b * pp };
    let t = t_pp + t_tg;
    Ok(BenchRow {
        pp,
        tg,
        b,
        n_kv,
        t_pp,
        s_pp: f64::from(pp_tokens) / t_pp.max(1e-9),
        t_tg,
        s_tg: f64::from(b * tg) / t_tg.max(1e-9),
        t,
        s: f64::from(n_kv) / t.max(1e-9),
    })
}
