//! Judging (PRM/ORM) as a yes/no question: a candidate's score is P(yes) / (P(yes) + P(no)) read
//! from the logits at the first answer position of its judging prompt. The same logits, as the
//! most likely first tokens with their log-probabilities, are what `ponder serve` answers to a
//! `logprobs` request.
//!
//! The yes and no token ids are resolved from the vocabulary: the first token of `yes`, ` yes`,
//! `Yes`, ` Yes` (and the same for no), with ids that start both words dropped. The judging prompts
//! of one request share a long prefix: it is decoded once, tagged with every sequence, and each
//! prompt's own suffix is decoded on its own sequence in the same batch.

use anyhow::{Context, Result, anyhow, bail};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::{LlamaLoraAdapter, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use super::decode::THINK_CLOSE;
use super::{LlamaConfig, LoadedModel};
use crate::event::Control;
use crate::model::JudgeRequest;

/// The token ids that begin a yes and a no.
#[derive(Debug, Clone, PartialEq)]
pub struct YesNo {
    pub yes: Vec<LlamaToken>,
    pub no: Vec<LlamaToken>,
}

impl YesNo {
    /// Resolves the ids from the model's vocabulary.
    pub fn resolve(model: &LlamaModel) -> Result<YesNo> {
        let vocab = model.vocab();
        let first = |words: &[&str]| {
            let mut ids: Vec<LlamaToken> = words
                .iter()
                .filter_map(|w| vocab.tokenize(w.as_bytes(), false, false).first().copied())
                .collect();
            ids.sort_by_key(|t| t.0);
            ids.dedup();
            ids
        };
        let yes = first(&["yes", " yes", "Yes", " Yes", "YES"]);
        let no = first(&["no", " no", "No", " No", "NO"]);
        let yes_only: Vec<_> = yes.iter().filter(|t| !no.contains(t)).copied().collect();
        let no_only: Vec<_> = no.iter().filter(|t| !yes.contains(t)).copied().collect();
        if yes_only.is_empty() || no_only.is_empty() {
            bail!("the model's vocabulary has no tokens that tell yes from no");
        }
        Ok(YesNo {
            yes: yes_only,
            no: no_only,
        })
    }

    /// P(yes) / (P(yes) + P(no)) from one position's logits.
    pub fn p_yes(&self, logits: &[f32]) -> Result<f64> {
        let pick = |ids: &[LlamaToken]| -> Result<Vec<f64>> {
            ids.iter()
                .map(|t| {
                    logits
                        .get(t.0 as usize)
                        .map(|&l| f64::from(l))
                        .ok_or_else(|| anyhow!("token {} is outside the logits", t.0))
                })
                .collect()
        };
        let (yes, no) = (pick(&self.yes)?, pick(&self.no)?);
        let max = yes
            .iter()
            .chain(&no)
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        if !max.is_finite() {
            bail!("the judge's logits are not finite");
        }
        let sum = |v: &[f64]| v.iter().map(|l| (l - max).exp()).sum::<f64>();
        let (y, n) = (sum(&yes), sum(&no));
        Ok(y / (y + n))
    }
}

/// Scores every answer of `request` with `lm` (and `lora` applied, if given).
pub(super) fn judge(
    lm: &LoadedModel,
    config: &LlamaConfig,
    lora: Option<&mut LlamaLoraAdapter>,
    request: &JudgeRequest,
    control: &Control,
) -> Result<Vec<f64>> {
    if request.prompts.is_empty() {
        return Ok(Vec::new());
    }
    let yes_no = lm.yes_no.as_ref().ok_or_else(|| {
        anyhow!(
            "{} cannot judge: its vocabulary has no yes/no tokens; set judge_model in [llama]",
            lm.describe()
        )
    })?;
    let mut scores = vec![f64::NAN; request.prompts.len()];
    first_logits(lm, config, lora, request, control, |seq, logits| {
        scores[seq] = yes_no.p_yes(logits)?;
        Ok(())
    })?;
    Ok(scores)
}

/// The `top` most likely first answer tokens of each prompt of `request`, as (text, natural
/// log-probability), most likely first: the logprobs `ponder serve` returns.
pub(super) fn first_token_logprobs(
    lm: &LoadedModel,
    config: &LlamaConfig,
    lora: Option<&mut LlamaLoraAdapter>,
    request: &JudgeRequest,
    top: usize,
    control: &Control,
) -> Result<Vec<Vec<(String, f64)>>> {
    let mut out = vec![Vec::new(); request.prompts.len()];
    let vocab = lm.model.vocab();
    first_logits(lm, config, lora, request, control, |seq, logits| {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let log_sum = f64::from(max)
            + logits
                .iter()
                .map(|&l| f64::from(l - max).exp())
                .sum::<f64>()
                .ln();
        let mut ids: Vec<usize> = (0..logits.len()).collect();
        ids.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        out[seq] = ids
            .into_iter()
            .take(top.max(1))
            .map(|id| {
                let bytes = vocab.token_to_piece(LlamaToken(id as i32), true, None);
                (
                    String::from_utf8_lossy(&bytes).into_owned(),
                    f64::from(logits[id]) - log_sum,
                )
            })
            .collect();
        Ok(())
    })?;
    Ok(out)
}

/// Decodes every judging prompt (sharing their common prefix) and hands the logits at each
/// prompt's end to `read`, with the prompt's index.
fn first_logits(
    lm: &LoadedModel,
    config: &LlamaConfig,
    lora: Option<&mut LlamaLoraAdapter>,
    request: &JudgeRequest,
    control: &Control,
    mut read: impl FnMut(usize, &[f32]) -> Result<()>,
) -> Result<()> {
    if request.prompts.is_empty() {
        return Ok(());
    }
    let prompts = request
        .prompts
        .iter()
        .map(|messages| {
            let mut text = lm.render(messages)?;
            if text.trim_end().ends_with("<think>") {
                text.push_str(THINK_CLOSE);
            }
            Ok(lm.tokenize(&text))
        })
        .collect::<Result<Vec<_>>>()?;
    let n = prompts.len();
    let shortest = prompts.iter().map(Vec::len).min().unwrap_or(0);
    if shortest == 0 {
        bail!(
            "a judging prompt of the {} stage is empty",
            request.stage.name()
        );
    }
    // The shared prefix, leaving every prompt at least one token of its own to read logits at.
    let prefix = (0..shortest - 1)
        .take_while(|&i| prompts.iter().all(|p| p[i] == prompts[0][i]))
        .count();
    let cells = prefix + prompts.iter().map(|p| p.len() - prefix).sum::<usize>();
    if cells as u64 + 1 > u64::from(config.n_ctx) {
        bail!(
            "the {} judging prompts need {cells} tokens and the context holds {}: raise n_ctx \
             in [llama]",
            request.stage.name(),
            config.n_ctx
        );
    }
    let mut ctx = lm.context(config, cells as u32 + 1, n as u32)?;
    if let Some(adapter) = lora {
        ctx.lora_adapter_set(adapter, 1.0)
            .map_err(|e| anyhow!("cannot apply the judge LoRA adapter: {e}"))?;
    }
    let n_batch = config.n_batch.max(1) as usize;
    let mut batch = LlamaBatch::new(n_batch, n as i32);
    let all: Vec<i32> = (0..n as i32).collect();
    for (c, chunk) in prompts[0][..prefix].chunks(n_batch).enumerate() {
        control.checkpoint()?;
        batch.clear();
        for (j, &token) in chunk.iter().enumerate() {
            batch.add(token, (c * n_batch + j) as i32, &all, false)?;
        }
        ctx.decode(&mut batch)
            .map_err(|e| anyhow!("{e}"))
            .context("llama.cpp failed on the judging prompt")?;
    }
    let mut waiting: Vec<(usize, i32)> = Vec::new();
    batch.clear();
    for (seq, prompt) in prompts.iter().enumerate() {
        for (pos, &token) in prompt.iter().enumerate().skip(prefix) {
            if batch.n_tokens() as usize == n_batch {
                control.checkpoint()?;
                flush(&mut ctx, &mut batch, &mut waiting, &mut read)?;
            }
            let last = pos + 1 == prompt.len();
            batch.add(token, pos as i32, &[seq as i32], last)?;
            if last {
                waiting.push((seq, batch.n_tokens() - 1));
            }
        }
    }
    control.checkpoint()?;
    flush(&mut ctx, &mut batch, &mut waiting, &mut read)
}

/// Decodes the batch and reads the logits of the prompts that ended in it.
fn flush(
    ctx: &mut llama_cpp_2::context::LlamaContext<'_>,
    batch: &mut LlamaBatch<'_>,
    waiting: &mut Vec<(usize, i32)>,
    read: &mut impl FnMut(usize, &[f32]) -> Result<()>,
) -> Result<()> {
    if batch.n_tokens() == 0 {
        return Ok(());
    }
    ctx.decode(batch)
        .map_err(|e| anyhow!("{e}"))
        .context("llama.cpp failed on a judging prompt")?;
    for (seq, at) in waiting.drain(..) {
        read(seq, ctx.get_logits_ith(at))?;
    }
    batch.clear();
    Ok(())
}
