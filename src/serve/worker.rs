//! The one thread that owns the llama.cpp engine and runs continuous batching: every HTTP request
//! becomes a job of the engine's loop ([`Scheduler`]), joins the running batch at the next step
//! boundary, shares the prefix cache with every other request (a common system prompt is read
//! once), and leaves when its candidates end. The `n` candidates of one request share its
//! prompt's cells.
//!
//! A request is checked against the context as soon as it arrives (prompt + `n` × `max_tokens`
//! must fit) and answered with [`Out::Rejected`] when it cannot; else [`Out::Accepted`], then
//! [`Out::Usage`] when its prompt is read (how much came from the cache), its pieces, and one
//! [`Out::Finished`] or [`Out::Failed`]. Pieces go on an unbounded channel so a slow client never
//! stalls the others; the HTTP side gives up on a client that stops reading and aborts its
//! [`Control`], and the job leaves the batch at the next step, freeing its sequences. [`Stats`]
//! counts what happened (`GET /health`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;

use anyhow::{Result, anyhow};
use tokio::sync::{mpsc, oneshot};

use super::request::{Input, ServeRequest};
use crate::event::{Beam, Channel, Command, Control, Stage};
use crate::model::llama::scheduler::{LogprobSink, Outcome, Scheduler};
use crate::model::llama::{LlamaEngine, TokenLogprobs, run};
use crate::model::{GenerateRequest, Generation, JudgeRequest, PromptUsage, TokenSink};

/// What a generation job sends back, in order: `Accepted` or `Rejected`; then `Usage`, pieces
/// and log-probabilities, then one `Finished` or `Failed`.
#[derive(Debug)]
pub enum Out {
    /// The request fits: its prompt's length.
    Accepted {
        prompt_tokens: u32,
    },
    /// It cannot be served (a 400), and why.
    Rejected(String),
    /// The prompt was read: its length and what the cache held of it.
    Usage(PromptUsage),
    Piece(Beam, Channel, String),
    Logprob(Beam, TokenLogprobs),
    Finished {
        generations: Vec<Generation>,
        /// Per candidate: it met a full context.
        truncated: Vec<bool>,
        usage: PromptUsage,
    },
    Failed(String),
}

/// Work for the engine thread.
pub enum Job {
    Generate {
        request: ServeRequest,
        out: mpsc::UnboundedSender<Out>,
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
    /// Jobs submitted and not yet in the batch.
    pub queued: AtomicU64,
    /// Jobs in the batch now.
    pub running: AtomicU64,
    /// Generations and logprob answers completed.
    pub served: AtomicU64,
    /// Generations stopped because their client went away or stopped reading.
    pub aborted: AtomicU64,
    /// Generations skipped because their client left before their turn.
    pub skipped: AtomicU64,
    /// Requests refused because they cannot fit the context.
    pub rejected: AtomicU64,
    /// Jobs that ended in an error.
    pub failed: AtomicU64,
    /// Prompt tokens asked for, and how many of them came from the prefix cache.
    pub prompt_tokens: AtomicU64,
    pub cached_tokens: AtomicU64,
}

impl Stats {
    /// The counts as JSON.
    pub fn json(&self) -> serde_json::Value {
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        serde_json::json!({
            "status": "ok",
            "queued": get(&self.queued),
            "running": get(&self.running),
            "served": get(&self.served),
            "aborted": get(&self.aborted),
            "skipped": get(&self.skipped),
            "rejected": get(&self.rejected),
            "failed": get(&self.failed),
            "prompt_tokens": get(&self.prompt_tokens),
            "cached_tokens": get(&self.cached_tokens),
        })
    }
}

/// Hands jobs to the engine thread.
#[derive(Clone)]
pub struct Worker {
    jobs: std_mpsc::Sender<Job>,
    pub stats: Arc<Stats>,
    /// Cells of the engine's context, for the HTTP side's messages.
    pub cells: u32,
}

impl Worker {
    /// Starts the engine thread.
    pub fn start(mut engine: LlamaEngine) -> Result<Worker> {
        let (jobs, queue) = std_mpsc::channel();
        let stats = Arc::new(Stats::default());
        let counts = stats.clone();
        let cells = engine.slots().cells();
        std::thread::Builder::new()
            .name("ponder-serve-engine".into())
            .spawn(move || serve_loop(engine, queue, &counts))
            .map_err(|e| anyhow!("cannot start the engine thread: {e}"))?;
        Ok(Worker { jobs, stats, cells })
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

/// Where a running job's outcome goes.
struct Waiting {
    out: mpsc::UnboundedSender<Out>,
    control: Arc<Control>,
}

fn serve_loop(mut engine: LlamaEngine, queue: std_mpsc::Receiver<Job>, stats: &Stats) {
    let count = |n: &AtomicU64| n.fetch_add(1, Ordering::Relaxed);
    let mut scheduler: Scheduler<'static> = Scheduler::new();
    let mut waiting: HashMap<u64, Waiting> = HashMap::new();
    loop {
        // Block for work only when the batch is empty; else take what arrived and step.
        let mut arrived = Vec::new();
        if scheduler.is_empty() {
            match queue.recv() {
                Ok(job) => arrived.push(job),
                Err(_) => return,
            }
        }
        arrived.extend(std::iter::from_fn(|| queue.try_recv().ok()));
        for job in arrived {
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
                    match accept(&mut engine, &request, &out, &control) {
                        Ok(job) => {
                            waiting.insert(job.id, Waiting { out, control });
                            scheduler.submit(job);
                        }
                        Err(Refusal::Rejected(message)) => {
                            count(&stats.rejected);
                            let _ = out.send(Out::Rejected(message));
                        }
                        Err(Refusal::Failed(err)) => {
                            count(&stats.failed);
                            let _ = out.send(Out::Failed(format!("{err:#}")));
                        }
                    }
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
        if scheduler.is_empty() {
            continue;
        }
        let before = engine.slots().stats().clone();
        let ended = engine.slots().with_parts(|mut p| scheduler.step(&mut p));
        let after = engine.slots().stats().clone();
        stats.prompt_tokens.fetch_add(
            after.prompt_tokens - before.prompt_tokens,
            Ordering::Relaxed,
        );
        stats.cached_tokens.fetch_add(
            after.cached_tokens - before.cached_tokens,
            Ordering::Relaxed,
        );
        stats
            .running
            .store(scheduler.admitted() as u64, Ordering::Relaxed);
        for (id, outcome) in ended {
            let Some(job) = waiting.remove(&id) else {
                continue;
            };
            let message = match outcome {
                Outcome::Generated {
                    generations,
                    truncated,
                    usage,
                } => {
                    count(&stats.served);
                    Out::Finished {
                        generations,
                        truncated,
                        usage: PromptUsage {
                            tokens: Some(usage.tokens),
                            cached_tokens: Some(usage.cached),
                        },
                    }
                }
                Outcome::Aborted => {
                    count(&stats.aborted);
                    continue;
                }
                Outcome::Failed(_) if job.control.is_aborted() => {
                    count(&stats.aborted);
                    continue;
                }
                Outcome::Failed(err) => {
                    count(&stats.failed);
                    Out::Failed(format!("{err:#}"))
                }
                Outcome::Done { .. } => continue,
            };
            let _ = job.out.send(message);
        }
    }
}

/// Why a request was not taken into the batch.
enum Refusal {
    /// It cannot fit: the client's to change (400).
    Rejected(String),
    Failed(anyhow::Error),
}

/// Tokenizes and checks a request against the context, and makes its job.
fn accept(
    engine: &mut LlamaEngine,
    request: &ServeRequest,
    out: &mpsc::UnboundedSender<Out>,
    control: &Arc<Control>,
) -> Result<crate::model::llama::scheduler::Job<'static>, Refusal> {
    let generate = GenerateRequest {
        stage: Stage::Understand,
        messages: match &request.input {
            Input::Messages(messages) => messages.clone(),
            Input::Text(_) => Vec::new(),
        },
        n: request.n,
        think_budget: request.think_budget,
        answer_budget: request.max_tokens - request.think_budget,
        sampling: request.sampling.clone(),
        stop: request.stop.clone(),
        grammar: request.grammar.clone(),
        round: 1,
        think_style: Default::default(),
    };
    let slots = engine.slots();
    let tokens = match &request.input {
        Input::Messages(_) => run::prompt_tokens(slots, &generate).map_err(Refusal::Failed)?,
        Input::Text(text) => slots.model().tokenize(text),
    };
    if tokens.is_empty() {
        return Err(Refusal::Rejected("the prompt is empty".into()));
    }
    let cells = u64::from(slots.cells());
    let slots_free = u64::from(slots.n_seq());
    let per =
        crate::model::llama::plan::per_candidate(generate.think_budget, generate.answer_budget);
    let need = tokens.len() as u64 + u64::from(request.n) * per;
    if u64::from(request.n) > slots_free.saturating_sub(1).max(1) {
        return Err(Refusal::Rejected(format!(
            "n = {} is more candidates than the server decodes at once ({}): lower n",
            request.n,
            slots_free.saturating_sub(1).max(1)
        )));
    }
    if need > cells {
        return Err(Refusal::Rejected(format!(
            "the prompt ({} tokens) and n × max_tokens ({} × {}) need {need} tokens of context, \
             and the server's context holds {cells}: lower max_tokens or n, or shorten the prompt",
            tokens.len(),
            request.n,
            request.max_tokens
        )));
    }
    let _ = out.send(Out::Accepted {
        prompt_tokens: tokens.len() as u32,
    });
    let sink = Box::new(ChannelSink {
        out: out.clone(),
        control: control.clone(),
    });
    let logprobs = request.logprobs.map(|top| {
        (
            top as usize,
            Box::new(ChannelSink {
                out: out.clone(),
                control: control.clone(),
            }) as Box<dyn LogprobSink>,
        )
    });
    run::generate_job(slots, &generate, tokens, sink, logprobs)
        .map(|job| job.with_control(control.clone()))
        .map_err(Refusal::Failed)
}

/// Sends a job's pieces to its request's handler; aborts the job when nobody listens any more.
struct ChannelSink {
    out: mpsc::UnboundedSender<Out>,
    control: Arc<Control>,
}

impl ChannelSink {
    fn send(&self, out: Out) {
        if self.out.send(out).is_err() {
            self.control.send(Command::Abort);
        }
    }
}

impl TokenSink for ChannelSink {
    fn token(&mut self, beam: Beam, channel: Channel, text: &str) {
        self.send(Out::Piece(beam, channel, text.to_string()));
    }

    fn prompt(&mut self, usage: PromptUsage) {
        self.send(Out::Usage(usage));
    }
}

impl LogprobSink for ChannelSink {
    fn logprob(&mut self, beam: Beam, logprobs: TokenLogprobs) {
        self.send(Out::Logprob(beam, logprobs));
    }
}
