//! Engines: whatever turns a prompt into candidate answers, streamed token by token.
//!
//! An [`Engine`] takes a [`GenerateRequest`] (a stage's messages, how many candidates, budgets,
//! sampling) and streams each candidate's tokens, already split into think and answer, to a
//! [`TokenSink`]; it also judges candidates (P(yes) of a yes/no question) for the reward models.
//! Engines are synchronous and run on the pipeline's thread; they call [`Control::checkpoint`]
//! between steps so pause and abort take effect at once.

pub mod family;
pub mod gguf;
pub mod grammar_check;
pub mod llama;
pub mod openai;
pub mod repeat;
pub mod scripted;
pub mod stop;
pub mod template;
pub mod think;
pub mod utf8;

use anyhow::Result;

use crate::event::{Beam, Channel, Control, EngineInfo, EngineSource, Reasoning, Stage, ThinkMode};

/// Who says a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One chat message of a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Message {
        Message {
            role: Role::System,
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Message {
        Message {
            role: Role::User,
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Message {
        Message {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

impl From<&Message> for crate::event::PromptMessage {
    fn from(message: &Message) -> Self {
        crate::event::PromptMessage {
            role: match message.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            }
            .to_string(),
            content: message.content.clone(),
        }
    }
}

/// How tokens are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    pub temperature: f32,
    pub top_p: f32,
    pub top_k: u32,
    pub min_p: f32,
    /// Seed of candidate 0; candidate i uses `seed + i`.
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.7,
            top_p: 0.95,
            top_k: 40,
            min_p: 0.05,
            seed: 42,
        }
    }
}

/// A request for `n` candidates from one shared prompt.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    pub stage: Stage,
    pub messages: Vec<Message>,
    pub n: u32,
    /// Most tokens of thinking before ponder closes it.
    pub think_budget: u32,
    /// Most tokens of answer.
    pub answer_budget: u32,
    pub sampling: Sampling,
    pub stop: Vec<String>,
    /// GBNF grammar the answer (not the thinking) must follow, if any.
    pub grammar: Option<String>,
    /// 1 for a stage's first answer; 2, 3… when a candidate continues after tool results.
    pub round: u32,
    /// How candidates reason before answering, when `think_budget` is not zero.
    pub think_style: ThinkStyle,
}

/// How a candidate reasons before it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThinkStyle {
    /// Inside `<think>` tags, up to the think budget.
    #[default]
    Tags,
    /// A few sentences of plain text, closed by [`think::PLAIN_CLOSE`] (`think = "brief"`).
    Plain,
}

/// One finished candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub beam: Beam,
    pub think: String,
    pub answer: String,
    pub think_tokens: u32,
    pub answer_tokens: u32,
    /// Thinking was closed by ponder (budget, end of generation or a loop inside it).
    pub forced_answer: bool,
    /// What ponder did to the text and why, for the candidate's event.
    pub notes: Vec<String>,
}

/// Which reward model judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judge {
    /// Process reward: is this step's answer right?
    Prm,
    /// Outcome reward: does this patch fix the issue (issue and patch alone)?
    Orm,
}

/// A yes/no judgement of several candidate answers.
#[derive(Debug, Clone)]
pub struct JudgeRequest {
    pub stage: Stage,
    pub judge: Judge,
    /// One judging prompt per answer, in beam order; they share a long common prefix.
    pub prompts: Vec<Vec<Message>>,
    /// The answers being judged, in beam order.
    pub answers: Vec<String>,
}

/// What an engine learnt of a request's prompt once it read it: its length, and how much of it
/// came from a cache (the engine's prefix cache, or the server's as
/// `usage.prompt_tokens_details.cached_tokens` reports it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PromptUsage {
    pub tokens: Option<u32>,
    pub cached_tokens: Option<u32>,
}

/// Receives streamed text as it is produced.
pub trait TokenSink {
    /// Called with a beam's next piece of text on its channel, in order.
    fn token(&mut self, beam: Beam, channel: Channel, text: &str);

    /// Called once the engine knows the prompt's usage, before the request's first token.
    fn prompt(&mut self, _usage: PromptUsage) {}
}

/// A borrowed sink is a sink.
impl<T: TokenSink + ?Sized> TokenSink for &mut T {
    fn token(&mut self, beam: Beam, channel: Channel, text: &str) {
        (**self).token(beam, channel, text);
    }

    fn prompt(&mut self, usage: PromptUsage) {
        (**self).prompt(usage);
    }
}

/// A source of candidate answers and judgements.
pub trait Engine: Send {
    /// What to show and record about this engine.
    fn info(&self) -> EngineInfo;

    /// Where its answers come from, for the journal header and `ponder resume`.
    fn source(&self) -> Option<EngineSource> {
        None
    }

    /// Told of a request that `ponder resume` answered from the journal instead of calling this
    /// engine, with the recorded answers, so stateful engines stay in step.
    fn replayed(&mut self, _request: &GenerateRequest, _generations: &[Generation]) {}

    /// Produces `request.n` candidates, streaming their tokens to `sink`.
    fn generate(
        &mut self,
        request: &GenerateRequest,
        sink: &mut dyn TokenSink,
        control: &Control,
    ) -> Result<Vec<Generation>>;

    /// The model's parameter count, when the engine can read it (a local GGUF): small models are
    /// given narrower choices (see `pipeline::understand`).
    fn parameters(&self) -> Option<u64> {
        None
    }

    /// The length of a prompt in this engine's tokens, if it can count them (for the context
    /// meter; never needed for correctness).
    fn prompt_tokens(&self, _messages: &[Message]) -> Option<u32> {
        None
    }

    /// How many of `request`'s candidates this engine decodes at once; a stage asking for more
    /// runs in waves of this many (the memory planner's answer for a local model).
    fn parallel(&self, request: &GenerateRequest) -> u32 {
        request.n
    }

    /// Scores each answer as P(yes) in [0, 1].
    fn judge(&mut self, request: &JudgeRequest, control: &Control) -> Result<Vec<f64>>;

    /// Whether candidates think in `<think>` tags under the `think` setting `mode`, and why. An
    /// engine that cannot tell from its model asks for tags when `auto`, and reads them when the
    /// model writes them.
    fn reasoning(&self, mode: ThinkMode) -> Reasoning {
        Reasoning::decide(mode, || {
            (
                true,
                "this engine cannot see the model's template: ponder asks for <think> tags and \
                 reads them when they come"
                    .to_string(),
            )
        })
    }
}
