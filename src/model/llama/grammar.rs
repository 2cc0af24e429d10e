//! Drawing answer tokens under a GBNF grammar without paying for the grammar at every token.
//!
//! Applying llama.cpp's grammar sampler to the whole vocabulary decodes every token's text and
//! checks it against every live grammar stack — costly with a 262k-token vocabulary and a
//! grammar with many branches. So, as llama.cpp's own `common_sampler` does, a token is first
//! drawn without the grammar, and taken if the grammar accepts it. When it does not, the grammar
//! is applied to the [`SHORTLIST`] most likely tokens and the draw made among those it allows;
//! only when it allows none of them is it applied to the whole vocabulary. The sampler chain
//! keeps at most its top-k tokens anyway, so the shortlist rarely changes which tokens can be
//! drawn; the answer follows the grammar in every case. The counters say how often each path ran.

use anyhow::{Result, anyhow};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;

use super::decode::sampler_chain;
use crate::model::Sampling;

/// Most likely tokens the grammar is tried on before the whole vocabulary.
pub const SHORTLIST: usize = 256;

/// The sampler of a candidate's answer: its chain, and its grammar if the request has one.
pub struct AnswerSampler {
    chain: LlamaSampler,
    grammar: Option<LlamaSampler>,
    /// Tokens drawn under the grammar.
    pub drawn: u64,
    /// Of those, how many needed the grammar applied to the shortlist.
    pub shortlist_passes: u64,
    /// …and how many to the whole vocabulary.
    pub full_passes: u64,
}

impl AnswerSampler {
    /// A sampler drawing with `sampling` and `seed`, under `grammar` (GBNF with a `root` rule).
    pub fn new(
        model: &LlamaModel,
        sampling: &Sampling,
        seed: u64,
        grammar: Option<&str>,
    ) -> Result<AnswerSampler> {
        let grammar = grammar
            .map(|grammar| {
                // The model may put a few blank characters between `</think>` and its answer
                // (bounded: a weak model could emit whitespace forever).
                let wrapped = format!("{grammar}\nponder-answer ::= [ \\t\\n]{{0,4}} root\n");
                LlamaSampler::grammar(model, &wrapped, "ponder-answer").map_err(|e| {
                    anyhow!("the answer grammar is not valid GBNF with a `root` rule: {e}")
                })
            })
            .transpose()?;
        Ok(AnswerSampler {
            chain: sampler_chain(sampling, seed),
            grammar,
            drawn: 0,
            shortlist_passes: 0,
            full_passes: 0,
        })
    }

    /// Draws the next token from the logits at `idx` and accepts it; `None` when the grammar
    /// allows no token at all (it cannot go on).
    pub fn sample(&mut self, ctx: &LlamaContext<'_>, idx: i32) -> Option<LlamaToken> {
        let Some(grammar) = &mut self.grammar else {
            return Some(self.chain.sample(ctx, idx));
        };
        self.drawn += 1;
        let mut free = ctx.token_data_array_ith(idx);
        free.apply_sampler(&mut self.chain);
        let drawn = free.selected_token()?;
        let token = if allows(grammar, drawn) {
            drawn
        } else {
            self.shortlist_passes += 1;
            let mut top = shortlist(ctx.get_logits_ith(idx), SHORTLIST);
            top.apply_sampler(grammar);
            if top.data.iter().any(|d| d.logit().is_finite()) {
                top.apply_sampler(&mut self.chain);
                top.selected_token()?
            } else {
                self.full_passes += 1;
                let mut all = ctx.token_data_array_ith(idx);
                all.apply_sampler(grammar);
                if !all.data.iter().any(|d| d.logit().is_finite()) {
                    return None;
                }
                all.apply_sampler(&mut self.chain);
                all.selected_token()?
            }
        };
        grammar.accept(token);
        self.chain.accept(token);
        Some(token)
    }
}

/// True when the grammar, in its current state, allows `token` next.
fn allows(grammar: &mut LlamaSampler, token: LlamaToken) -> bool {
    let mut one = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 0.0, 1.0)], false);
    one.apply_sampler(grammar);
    one.data[0].logit().is_finite()
}

/// The `n` tokens with the highest logits, as a token data array.
fn shortlist(logits: &[f32], n: usize) -> LlamaTokenDataArray {
    let mut ids: Vec<usize> = (0..logits.len()).collect();
    let n = n.min(ids.len());
    if n < ids.len() {
        ids.select_nth_unstable_by(n, |&a, &b| logits[b].total_cmp(&logits[a]));
        ids.truncate(n);
    }
    LlamaTokenDataArray::new(
        ids.into_iter()
            .map(|id| LlamaTokenData::new(LlamaToken(id as i32), logits[id], 0.0))
            .collect(),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shortlist_holds_the_highest_logits() {
        let logits = [0.5, 3.0, -1.0, 2.0, 9.0, 0.0];
        let mut ids: Vec<i32> = shortlist(&logits, 3)
            .data
            .iter()
            .map(|d| d.id().0)
            .collect();
        ids.sort();
        assert_eq!(ids, [1, 3, 4]);
        assert_eq!(shortlist(&logits, 10).data.len(), 6);
    }
}
