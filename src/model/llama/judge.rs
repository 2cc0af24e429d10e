//! Judging (PRM/ORM) as a yes/no question: a candidate's score is P(yes) / (P(yes) + P(no)) read
//! from the logits at the first answer position of its judging prompt. The same logits, as the
//! most likely first tokens with their log-probabilities, are what `ponder serve` answers to a
//! `logprobs` request.
//!
//! The yes and no token ids are resolved from the vocabulary: the first token of `yes`, ` yes`,
//! `Yes`, ` Yes` (and the same for no), with ids that start both words dropped. The judging prompts
//! of one request go through the engine's one loop as one job ([`super::run::first_logits`]):
//! their common prefix is read once (from the prefix cache where a stage's prompt or an earlier
//! judgement left it), and each prompt's own end on its own sequence.

use anyhow::{Result, anyhow, bail};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use super::Slots;
use super::decode::THINK_CLOSE;
use super::run::first_logits;
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

/// The judging prompts of `request` as tokens, each ending where the answer begins (after a
/// closed, empty thinking block when the template opens one).
fn judge_prompts(slots: &Slots, request: &JudgeRequest) -> Result<Vec<Vec<LlamaToken>>> {
    let lm = slots.model();
    request
        .prompts
        .iter()
        .map(|messages| {
            let mut text = lm.render(messages)?;
            if text.trim_end().ends_with("<think>") {
                text.push_str(THINK_CLOSE);
            }
            Ok(lm.tokenize(&text))
        })
        .collect()
}

/// Scores every answer of `request` as P(yes) / (P(yes) + P(no)).
pub fn judge(slots: &mut Slots, request: &JudgeRequest, control: &Control) -> Result<Vec<f64>> {
    if request.prompts.is_empty() {
        return Ok(Vec::new());
    }
    let yes_no = slots.model().yes_no.clone().ok_or_else(|| {
        anyhow!(
            "{} cannot judge: its vocabulary has no yes/no tokens; set judge_model in [llama]",
            slots.model().describe()
        )
    })?;
    let prompts = judge_prompts(slots, request)?;
    let mut scores = vec![f64::NAN; prompts.len()];
    let what = format!("{} judging", request.stage.name());
    first_logits(slots, prompts, &what, control, |seq, logits| {
        scores[seq] = yes_no.p_yes(logits)?;
        Ok(())
    })?;
    Ok(scores)
}

/// The `top` most likely first answer tokens of each prompt of `request`, as (text, natural
/// log-probability), most likely first.
pub fn first_token_logprobs(
    slots: &mut Slots,
    request: &JudgeRequest,
    top: usize,
    control: &Control,
) -> Result<Vec<Vec<(String, f64)>>> {
    let prompts = judge_prompts(slots, request)?;
    let mut best: Vec<Vec<(i32, f64)>> = vec![Vec::new(); prompts.len()];
    first_logits(slots, prompts, "logprobs", control, |seq, logits| {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let log_sum = f64::from(max)
            + logits
                .iter()
                .map(|&l| f64::from(l - max).exp())
                .sum::<f64>()
                .ln();
        let mut ids: Vec<usize> = (0..logits.len()).collect();
        ids.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        best[seq] = ids
            .into_iter()
            .take(top.max(1))
            .map(|id| (id as i32, f64::from(logits[id]) - log_sum))
            .collect();
        Ok(())
    })?;
    let vocab = slots.model().model.vocab();
    let out = best
        .into_iter()
        .map(|ids| {
            ids.into_iter()
                .map(|(id, logprob)| {
                    let piece = vocab.token_to_piece(LlamaToken(id), true, None);
                    (String::from_utf8_lossy(&piece).into_owned(), logprob)
                })
                .collect()
        })
        .collect();
    Ok(out)
}
