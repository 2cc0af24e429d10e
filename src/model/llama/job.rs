//! A job of the decode loop ([`super::scheduler`]): one request's shared prompt, its members
//! (candidates, judging prompts, benchmark sequences) with their own suffixes, what it does once
//! the prompts are read, and how it ended.

use std::sync::Arc;

use anyhow::Result;
use llama_cpp_2::token::LlamaToken;

use super::candidate::Candidate;
use crate::event::{Beam, Control};
use crate::model::{GenerateRequest, Generation, TokenSink};

/// One generated token's log-probability and the most likely alternatives (natural logs).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprobs {
    pub token: String,
    pub logprob: f64,
    pub top: Vec<(String, f64)>,
}

/// Receives log-probabilities of the answer tokens of a generation, as they are drawn.
pub trait LogprobSink {
    fn logprob(&mut self, beam: Beam, logprobs: TokenLogprobs);
}

/// What reads the logits at the end of each member's prompt (the member's index, its logits).
pub(super) type LogitsReader<'a> = Box<dyn FnMut(usize, &[f32]) -> Result<()> + 'a>;

/// What a job does once its members' prompts are read.
pub(super) enum Work<'a> {
    /// Candidates, one per member, streaming to `sink`.
    Generate {
        request: GenerateRequest,
        candidates: Vec<Candidate>,
        close: Vec<LlamaToken>,
        sink: Box<dyn TokenSink + 'a>,
        /// Alternatives per token and where log-probabilities go, when asked for.
        logprobs: Option<(usize, Box<dyn LogprobSink + 'a>)>,
    },
    /// The logits at the end of each member's prompt, handed to `read` with the member's index.
    Logits { read: LogitsReader<'a> },
    /// `steps` fixed tokens fed to every member, one a step (llama-batched-bench's generation
    /// phase: no sampling).
    Feed { tokens: Vec<LlamaToken>, steps: u32 },
}

/// One member of a job: a candidate, a judging prompt, a benchmark sequence.
pub(super) struct Member {
    pub(super) seq: Option<usize>,
    pub(super) suffix: Vec<LlamaToken>,
    /// Suffix tokens decoded so far.
    pub(super) read: usize,
    /// Where its next logits are, once its prompt is read.
    pub(super) logits_at: Option<i32>,
    /// Position of its next token.
    pub(super) pos: i32,
    pub(super) live: bool,
    pub(super) done: bool,
    /// It met a full cache.
    pub(super) truncated: bool,
    pub(super) fed: u32,
}

/// A request in the loop.
pub struct Job<'a> {
    pub id: u64,
    pub(super) tag: u32,
    pub(super) shared: Vec<LlamaToken>,
    /// Tokens of `shared` in the first member's slot (from the cache, then decoded).
    pub(super) shared_read: usize,
    /// Of `shared`, tokens found in the cache.
    pub(super) cached: usize,
    pub(super) members: Vec<Member>,
    pub(super) admitted: bool,
    pub(super) forked: bool,
    /// Cells one member may add after its prompt.
    pub(super) budget: u64,
    pub(super) work: Work<'a>,
    pub(super) control: Option<Arc<Control>>,
    pub(super) failed: Option<anyhow::Error>,
}

/// How a job ended.
pub enum Outcome {
    /// The candidates, in member order, with the prompt's length and how much of it was cached.
    Generated {
        generations: Vec<Generation>,
        truncated: Vec<bool>,
        usage: PromptUsage,
    },
    /// Logits were read, or tokens fed.
    Done {
        usage: PromptUsage,
    },
    Failed(anyhow::Error),
    /// Its control was aborted.
    Aborted,
}

/// The prompt of a job: its length in tokens and how many came from the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PromptUsage {
    pub tokens: u32,
    pub cached: u32,
}

impl<'a> Job<'a> {
    /// A job whose members share `shared` and then read their own `suffixes` (one member per
    /// suffix; empty suffixes for candidates of one prompt).
    pub(super) fn new(
        id: u64,
        tag: u32,
        shared: Vec<LlamaToken>,
        suffixes: Vec<Vec<LlamaToken>>,
        budget: u64,
        work: Work<'a>,
    ) -> Job<'a> {
        Job {
            id,
            tag,
            shared,
            shared_read: 0,
            cached: 0,
            members: suffixes
                .into_iter()
                .map(|suffix| Member {
                    seq: None,
                    suffix,
                    read: 0,
                    logits_at: None,
                    pos: 0,
                    live: false,
                    done: false,
                    truncated: false,
                    fed: 0,
                })
                .collect(),
            admitted: false,
            forked: false,
            budget,
            work,
            control: None,
            failed: None,
        }
    }

    /// Prompts that share a prefix: the longest one common to all (leaving each at least one
    /// token of its own when `each_own`), and what follows it in each.
    pub fn split_prompts(
        prompts: &[Vec<LlamaToken>],
        each_own: bool,
    ) -> (Vec<LlamaToken>, Vec<Vec<LlamaToken>>) {
        let Some(first) = prompts.first() else {
            return (Vec::new(), Vec::new());
        };
        let shortest = prompts.iter().map(Vec::len).min().unwrap_or(0);
        let limit = if each_own {
            shortest.saturating_sub(1)
        } else {
            shortest
        };
        let prefix = (0..limit)
            .take_while(|&i| prompts.iter().all(|p| p[i] == first[i]))
            .count();
        (
            first[..prefix].to_vec(),
            prompts.iter().map(|p| p[prefix..].to_vec()).collect(),
        )
    }

    /// Aborts the job when `control` is aborted (checked at every step).
    pub fn with_control(mut self, control: Arc<Control>) -> Job<'a> {
        self.control = Some(control);
        self
    }

    /// Tokens of prompt across all members.
    pub(super) fn prompt_tokens(&self) -> usize {
        self.shared.len() + self.members.iter().map(|m| m.suffix.len()).sum::<usize>()
    }

    pub(super) fn usage(&self) -> PromptUsage {
        job_usage(&self.shared, &self.members, self.cached)
    }

    /// The prompt's usage once the job is admitted (what the cache held of it).
    pub fn admitted_usage(&self) -> Option<PromptUsage> {
        self.admitted.then(|| self.usage())
    }

    pub(super) fn finished(&self) -> bool {
        self.failed.is_some() || (self.admitted && self.members.iter().all(|m| m.done))
    }

    /// Cells this job may still add: unread prompt and the live members' unspent budgets.
    pub(super) fn cells_ahead(&self) -> u64 {
        let shared = (self.shared.len() - self.shared_read) as u64;
        let members: u64 = self
            .members
            .iter()
            .filter(|m| !m.done)
            .map(|m| {
                (m.suffix.len() - m.read) as u64 + self.budget.saturating_sub(u64::from(m.fed))
            })
            .sum();
        shared + members
    }
}

/// A job's prompt (its first member's) and the part of it found in the cache.
pub(super) fn job_usage(shared: &[LlamaToken], members: &[Member], cached: usize) -> PromptUsage {
    PromptUsage {
        tokens: (shared.len() + members.first().map_or(0, |m| m.suffix.len())) as u32,
        cached: cached as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ids: &[i32]) -> Vec<LlamaToken> {
        ids.iter().map(|&i| LlamaToken(i)).collect()
    }

    #[test]
    fn prompts_split_into_a_common_prefix_and_their_own_ends() {
        let prompts = vec![t(&[1, 2, 3, 4]), t(&[1, 2, 3, 5, 6]), t(&[1, 2, 3, 4])];
        let (shared, rest) = Job::split_prompts(&prompts, true);
        assert_eq!(shared, t(&[1, 2, 3]));
        assert_eq!(rest, vec![t(&[4]), t(&[5, 6]), t(&[4])]);
        // Identical prompts keep one token each to read logits at.
        let (shared, rest) = Job::split_prompts(&[t(&[1, 2]), t(&[1, 2])], true);
        assert_eq!((shared, rest), (t(&[1]), vec![t(&[2]), t(&[2])]));
        let (shared, rest) = Job::split_prompts(&[t(&[1, 2])], false);
        assert_eq!((shared, rest), (t(&[1, 2]), vec![t(&[])]));
    }
}
