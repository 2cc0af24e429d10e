//! The one thread that owns the llama.cpp engine: jobs from every HTTP request wait in one
//! queue and run one after another. The `n` candidates of one request decode together (one
//! batch sharing the prompt); two requests at once are served in turn, not batched together.
//!
//! A job's pieces go back on a bounded channel. When the client goes away the channel closes and
//! the job's [`Control`] is aborted, so the engine stops at its next step; a job whose client is
//! already gone when its turn comes is skipped.

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use anyhow::{Result, anyhow};
use tokio::sync::{mpsc, oneshot};

use crate::event::{Beam, Channel, Command, Control};
use crate::model::llama::{LlamaEngine, generate_with_stats};
use crate::model::{GenerateRequest, Generation, JudgeRequest, TokenSink};

/// What a generation job sends back, in order: pieces, then one `Finished` or `Failed`.
#[derive(Debug)]
pub enum Out {
    Piece(Beam, Channel, String),
    Finished {
        generations: Vec<Generation>,
        prompt_tokens: u32,
    },
    Failed(String),
}

/// Work for the engine thread.
pub enum Job {
    Generate {
        request: GenerateRequest,
        out: mpsc::Sender<Out>,
        control: Arc<Control>,
    },
    /// The most likely first answer tokens of one prompt.
    Logprobs {
        request: JudgeRequest,
        top: usize,
        reply: oneshot::Sender<Result<Vec<(String, f64)>>>,
    },
}

/// Hands jobs to the engine thread.
#[derive(Clone)]
pub struct Worker {
    jobs: std_mpsc::Sender<Job>,
}

impl Worker {
    /// Starts the engine thread.
    pub fn start(engine: LlamaEngine) -> Result<Worker> {
        let (jobs, queue) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("ponder-serve-engine".into())
            .spawn(move || run(engine, queue))
            .map_err(|e| anyhow!("cannot start the engine thread: {e}"))?;
        Ok(Worker { jobs })
    }

    /// Queues a job; false when the engine thread is gone.
    pub fn submit(&self, job: Job) -> bool {
        self.jobs.send(job).is_ok()
    }
}

fn run(mut engine: LlamaEngine, queue: std_mpsc::Receiver<Job>) {
    while let Ok(job) = queue.recv() {
        match job {
            Job::Generate {
                request,
                out,
                control,
            } => {
                if out.is_closed() {
                    continue;
                }
                let mut sink = ChannelSink {
                    out: &out,
                    control: &control,
                };
                let result = generate_with_stats(
                    engine.model(),
                    engine.config(),
                    &request,
                    &mut sink,
                    &control,
                );
                let message = match result {
                    Ok((generations, stats)) => Out::Finished {
                        generations,
                        prompt_tokens: stats.prompt_tokens,
                    },
                    Err(err) => Out::Failed(format!("{err:#}")),
                };
                let _ = out.blocking_send(message);
            }
            Job::Logprobs {
                request,
                top,
                reply,
            } => {
                let result = engine
                    .first_token_logprobs(&request, top, &Control::new())
                    .map(|mut all| all.pop().unwrap_or_default());
                let _ = reply.send(result);
            }
        }
    }
}

/// Sends pieces to the request's handler; aborts the job when nobody listens any more.
struct ChannelSink<'a> {
    out: &'a mpsc::Sender<Out>,
    control: &'a Control,
}

impl TokenSink for ChannelSink<'_> {
    fn token(&mut self, beam: Beam, channel: Channel, text: &str) {
        if self
            .out
            .blocking_send(Out::Piece(beam, channel, text.to_string()))
            .is_err()
        {
            self.control.send(Command::Abort);
        }
    }
}
