//! What a generation's prompt ends with and how its tokens are drawn: ponder opens thinking
//! (`<think>\n` after the generation prompt) so the split is exact, and closes it with
//! [`THINK_CLOSE`] when it runs out of budget, ends the turn, or loops; each candidate
//! ([`super::candidate::Candidate`]) draws with its own sampler chain and seed, its answer under
//! the request's grammar. The candidates of a request decode in the engine's one loop
//! ([`super::scheduler`]), which honours abort and pause between steps.

use llama_cpp_2::sampling::LlamaSampler;

use crate::model::Sampling;

/// Text ponder adds to open thinking after the generation prompt.
pub const THINK_OPEN: &str = "<think>\n";
/// Text ponder adds to close thinking (budget reached, or no thinking asked for).
pub const THINK_CLOSE: &str = "\n</think>\n\n";
/// Text ponder adds to close brief plain reasoning.
pub const PLAIN_CLOSE_FED: &str = "\nANSWER:\n";

/// Ends a rendered prompt inside `<think>` (when `thinking`), whether or not the chat template
/// already opened it (DeepSeek-R1 does). Without thinking, a reasoning model (`knows_think`) gets
/// an empty, closed `<think></think>` — how its template turns thinking off — and any other model
/// nothing: it answers at once.
pub fn open_thinking(mut prompt: String, thinking: bool, knows_think: bool) -> String {
    let opened = prompt.trim_end().ends_with("<think>");
    match (opened, thinking) {
        (false, true) => prompt.push_str(THINK_OPEN),
        (true, false) => prompt.push_str(THINK_CLOSE),
        (false, false) if knows_think => {
            prompt.push_str(THINK_OPEN);
            prompt.push_str(THINK_CLOSE.trim_start_matches('\n'));
        }
        (false, false) | (true, true) => {}
    }
    prompt
}

/// A sampler chain: top-k, top-p, min-p, temperature and a seeded draw; greedy when the
/// temperature is zero. A grammar wraps it ([`super::grammar::AnswerSampler`]).
pub fn sampler_chain(sampling: &Sampling, seed: u64) -> LlamaSampler {
    let mut chain = Vec::new();
    if sampling.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        // A top-k of 0 means no top-k (as in llama.cpp).
        if sampling.top_k > 0 {
            chain.push(LlamaSampler::top_k(sampling.top_k as i32));
        }
        chain.push(LlamaSampler::top_p(sampling.top_p, 1));
        chain.push(LlamaSampler::min_p(sampling.min_p, 1));
        chain.push(LlamaSampler::temp(sampling.temperature));
        chain.push(LlamaSampler::dist(seed as u32));
    }
    LlamaSampler::chain_simple(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_is_opened_once_and_closed_when_not_wanted() {
        let chatml = "<|im_start|>assistant\n".to_string();
        let r1 = "<｜Assistant｜><think>\n".to_string();
        assert_eq!(
            open_thinking(chatml.clone(), true, false),
            "<|im_start|>assistant\n<think>\n"
        );
        assert_eq!(open_thinking(r1.clone(), true, true), r1);
        // A reasoning model told not to think gets an empty think block…
        assert_eq!(
            open_thinking(chatml.clone(), false, true),
            "<|im_start|>assistant\n<think>\n</think>\n\n"
        );
        // …an instruct model nothing at all.
        assert_eq!(open_thinking(chatml.clone(), false, false), chatml);
        assert_eq!(
            open_thinking(r1, false, true),
            "<｜Assistant｜><think>\n\n</think>\n\n"
        );
    }
}
