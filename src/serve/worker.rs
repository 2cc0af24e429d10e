//! The one thread that owns the llama.cpp engine: jobs from every HTTP request wait in one
//! queue and run one after another. The `n` candidates of one request decode together (one
//! batch sharing the prompt); two requests at once are served in turn, not batched together.
//!
//! A job's pieces go back on a bounded channel. When the client goes away the channel closes and
//! the job's [`Control`] is aborted, so the engine stops at its next step; a job whose client is
//! already gone when its turn comes is skipped. [`Stats`] counts what happened (`GET /health`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// What the engine thread has done, for `GET /health`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Jobs submitted and not yet started.
    pub queued: AtomicU64,
    /// Generations and logprob answers completed.
    pub served: AtomicU64,
    /// Generations stopped because their client went away.
    pub aborted: AtomicU64,
    /// Generations skipped because their client left before their turn.
    pub skipped: AtomicU64,
    /// Jobs that ended in an error.
    pub failed: AtomicU64,
}

impl Stats {
    /// The counts as JSON.
    pub fn json(&self) -> serde_json::Value {
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        serde_json::json!({
            "status": "ok",
            "queued": get(&self.queued),
            "served": get(&self.served),
            "aborted": get(&self.aborted),
            "skipped": get(&self.skipped),
            "failed": get(&self.failed),
        })
    }
}

/// Hands jobs to the engine thread.
#[derive(Clone)]
pub struct Worker {
    jobs: std_mpsc::Sender<Job>,
    pub stats: Arc<Stats>,
}

impl Worker {
    /// Starts the engine thread.
    pub fn start(engine: LlamaEngine) -> Result<Worker> {
        let (jobs, queue) = std_mpsc::channel();
        let stats = Arc::new(Stats::default());
        let counts = stats.clone();
        std::thread::Builder::new()
            .name("ponder-serve-engine".into())
            .spawn(move || run(engine, queue, &counts))
            .map_err(|e| anyhow!("cannot start the engine thread: {e}"))?;
        Ok(Worker { jobs, stats })
    }

    /// Queues a job; false when the engine thread is gone.
    pub fn submit(&self, job: Job) -> bool {
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        let sent = self.jobs.send(job).is_ok();
        if !sent {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
        }
        sent
    }
}

fn run(mut engine: LlamaEngine, queue: std_mpsc::Receiver<Job>, stats: &Stats) {
    let count = |n: &AtomicU64| n.fetch_add(1, Ordering::Relaxed);
    while let Ok(job) = queue.recv() {
        stats.queued.fetch_sub(1, Ordering::Relaxed);
        match job {
            Job::Generate {
                request,
                out,
                control,
            } => {
                if out.is_closed() || control.is_aborted() {
                    count(&stats.skipped);
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
                    Ok((generations, loop_stats)) => {
                        count(&stats.served);
                        Out::Finished {
                            generations,
                            prompt_tokens: loop_stats.prompt_tokens,
                        }
                    }
                    Err(_) if control.is_aborted() => {
                        count(&stats.aborted);
                        continue;
                    }
                    Err(err) => {
                        count(&stats.failed);
                        Out::Failed(format!("{err:#}"))
                    }
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
                count(if result.is_ok() {
                    &stats.served
                } else {
                    &stats.failed
                });
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
