//! The OpenAI-compatible engine: candidates and judgements from an inference server (vLLM,
//! llama-server, SGLang, Ollama, LM Studio, or another ponder's `ponder serve`) over HTTP with
//! streamed chat completions.
//!
//! The engine owns a small tokio runtime (one worker thread) and blocks on it from the
//! pipeline's thread (which is not inside a runtime, so `block_on` is safe there). Async `reqwest` rather than a
//! blocking client because cancellation must close the connection at once: the generation
//! checks [`Control::checkpoint`] every 20 ms while its requests stream, and on abort drops their
//! tasks, which drops their connections — the server sees the client go and stops decoding. A
//! blocking read could not be interrupted until the server's next byte.
//!
//! The `n` candidates of a request go in one request with `n` where the server honours it; when
//! it answers fewer choices than asked, the rest are asked one by one (seed + beam each) and the
//! engine remembers not to use `n` again. Requests in flight are capped by `max_concurrent`.
//! Faults: see [`retry`] (429, 5xx, no connection) and [`stream`] (a cut stream is retried once
//! for the candidates that had not finished; a second cut, or a refusal, fails those candidates
//! only: they come back with an empty answer and a note in their thinking, and the others go on).
//! Grammars go in the field the config names; answers are also checked against the grammar
//! ([`crate::model::grammar_check`]) and one that does not follow it — a server that cannot
//! constrain, or ignores the field — is asked for once more, then kept as it is.

pub mod candidate;
pub mod config;
pub mod doctor;
mod http;
pub mod judge;
mod request;
pub mod retry;
pub mod sse;
mod stream;
pub mod wire;

pub use config::{GrammarField, JudgeMode, NMode, OpenAiConfig};

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::grammar_check::Grammar;
use super::{Engine, GenerateRequest, Generation, JudgeRequest, TokenSink};
use crate::event::{Beam, Channel, Control, EngineInfo};
use candidate::{CandidateText, Piece};
use http::Http;
use retry::{Backoff, Sleeper, TokioSleeper};
use stream::StreamEnd;
use wire::Completion;

/// How often a streaming generation looks at pause and abort.
const CONTROL_TICK: Duration = Duration::from_millis(20);

/// The OpenAI-compatible engine.
pub struct OpenAiEngine {
    config: Arc<OpenAiConfig>,
    http: Arc<Http>,
    model: Arc<str>,
    runtime: tokio::runtime::Runtime,
    /// False once the server was seen to answer fewer choices than `n` asked for.
    n_works: bool,
}

impl OpenAiEngine {
    /// Connects to the configured server; asks it for its model when none is configured.
    pub fn connect(config: OpenAiConfig) -> Result<OpenAiEngine> {
        OpenAiEngine::with_sleeper(config, Arc::new(TokioSleeper))
    }

    /// [`OpenAiEngine::connect`] waiting between retries with `sleeper` (tests inject one).
    pub fn with_sleeper(config: OpenAiConfig, sleeper: Arc<dyn Sleeper>) -> Result<OpenAiEngine> {
        let root = config.api_root()?;
        let key = config.api_key()?;
        let backoff = Backoff {
            max_retries: config.max_retries,
            base: Duration::from_millis(config.backoff_ms),
            max: Duration::from_millis(config.max_backoff_ms),
        };
        // One worker thread drives the connections (so a dropped stream is closed at once,
        // even after `generate` returned); the pipeline's thread blocks on the results.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ponder-http")
            .enable_all()
            .build()
            .context("cannot start the HTTP engine's runtime")?;
        let http = Arc::new(Http::new(root, key, backoff, sleeper, config.timeout())?);
        let model = match &config.model {
            Some(model) => model.clone(),
            None => runtime
                .block_on(http.models())?
                .into_iter()
                .next()
                .with_context(|| {
                    format!(
                        "the server at {} lists no models: set model in [openai]",
                        config::redacted(&http.root)
                    )
                })?,
        };
        Ok(OpenAiEngine {
            config: Arc::new(config),
            http,
            model: model.into(),
            runtime,
            n_works: true,
        })
    }

    /// The model name sent with requests.
    pub fn model(&self) -> &str {
        &self.model
    }
}

/// What one request's tasks share.
struct Shared {
    config: Arc<OpenAiConfig>,
    http: Arc<Http>,
    model: Arc<str>,
    request: GenerateRequest,
    /// The request's grammar, to check answers against (when ponder can read it).
    grammar: Option<Grammar>,
    permits: Semaphore,
    /// The prompt's usage, as the server first reported it.
    usage: std::sync::Mutex<Option<super::PromptUsage>>,
}

/// What became of one group of candidates (one request, with its retry).
#[derive(Default)]
struct GroupResult {
    done: Vec<CandidateText>,
    /// Candidates the server sent nothing for although `n` asked for them.
    unserved: Vec<Beam>,
    failed: Vec<(Beam, anyhow::Error)>,
}

impl Engine for OpenAiEngine {
    fn info(&self) -> EngineInfo {
        let judging = match self.config.judge {
            JudgeMode::Logprobs => "",
            JudgeMode::Text => "; judge reads a yes/no answer (scores 0 or 1, not probabilities)",
        };
        EngineInfo {
            kind: "openai".to_string(),
            description: format!(
                "{} at {}{judging}",
                self.model,
                config::redacted(&self.http.root)
            ),
            scripted: false,
            context: None,
            device: None,
        }
    }

    fn generate(
        &mut self,
        request: &GenerateRequest,
        sink: &mut dyn TokenSink,
        control: &Control,
    ) -> Result<Vec<Generation>> {
        if request.n == 0 {
            return Ok(Vec::new());
        }
        let shared = Arc::new(Shared {
            config: self.config.clone(),
            http: self.http.clone(),
            model: self.model.clone(),
            request: request.clone(),
            grammar: request
                .grammar
                .as_deref()
                .and_then(|g| Grammar::parse(g).ok()),
            permits: Semaphore::new(self.config.max_concurrent as usize),
            usage: std::sync::Mutex::new(None),
        });
        let together = self.config.n == NMode::Auto && self.n_works && request.n > 1;
        let groups: Vec<Vec<Beam>> = if together {
            vec![(0..request.n).collect()]
        } else {
            (0..request.n).map(|beam| vec![beam]).collect()
        };
        let (results, n_ignored) = self
            .runtime
            .block_on(run_groups(shared, groups, sink, control))?;
        if n_ignored {
            self.n_works = false;
        }
        let mut generations = Vec::new();
        let mut first_error = None;
        for (beam, err) in results.failed {
            let note = format!(
                "\n[ponder: this candidate failed at the server and has no answer: {err:#}]"
            );
            sink.token(beam, Channel::Think, &note);
            generations.push(Generation {
                beam,
                think: note,
                answer: String::new(),
                think_tokens: 0,
                answer_tokens: 0,
                forced_answer: false,
                notes: Vec::new(),
            });
            first_error.get_or_insert(err);
        }
        if results.done.is_empty()
            && let Some(err) = first_error
        {
            return Err(err.context(format!(
                "every candidate of the {} stage failed at the server",
                request.stage.name()
            )));
        }
        generations.extend(results.done.into_iter().map(CandidateText::into_generation));
        generations.sort_by_key(|g| g.beam);
        Ok(generations)
    }

    fn judge(&mut self, request: &JudgeRequest, control: &Control) -> Result<Vec<f64>> {
        let logprobs = self.config.judge == JudgeMode::Logprobs;
        let permits = Semaphore::new(self.config.max_concurrent as usize);
        let asks = request.prompts.iter().map(|prompt| {
            let body = request::judging(&self.config, &self.model, prompt, logprobs);
            let (http, permits) = (&self.http, &permits);
            async move {
                let _permit = permits.acquire().await?;
                let response = http.post("chat/completions", &body).await?;
                let text = response
                    .text()
                    .await
                    .context("the judging answer broke off")?;
                let completion: Completion = serde_json::from_str(&text).with_context(|| {
                    format!(
                        "the server's judging answer is not a chat completion: {}",
                        text.chars().take(200).collect::<String>()
                    )
                })?;
                if logprobs {
                    judge::from_logprobs(&completion, &config::redacted(&http.root))
                } else {
                    Ok(judge::from_text(&completion))
                }
            }
        });
        self.runtime.block_on(async {
            let all = futures_util::future::join_all(asks);
            tokio::select! {
                scores = all => scores.into_iter().collect::<Result<Vec<f64>>>(),
                aborted = watch(control) => Err(aborted),
            }
        })
    }
}

/// Resolves once the user aborts (holding the caller while they pause).
async fn watch(control: &Control) -> anyhow::Error {
    let mut tick = tokio::time::interval(CONTROL_TICK);
    loop {
        tick.tick().await;
        if let Err(aborted) = control.checkpoint() {
            return aborted.into();
        }
    }
}

/// Runs the groups (and any single requests for candidates a server ignoring `n` left out),
/// streaming their pieces to `sink`; says whether `n` was seen to be ignored.
async fn run_groups(
    shared: Arc<Shared>,
    groups: Vec<Vec<Beam>>,
    sink: &mut dyn TokenSink,
    control: &Control,
) -> Result<(GroupResult, bool)> {
    let (tx, mut rx) = mpsc::channel::<Piece>(256);
    let mut tasks = JoinSet::new();
    for beams in groups {
        tasks.spawn(run_group(shared.clone(), beams, tx.clone()));
    }
    let mut tick = tokio::time::interval(CONTROL_TICK);
    let mut all = GroupResult::default();
    let mut n_ignored = false;
    let mut reported = false;
    // The server's report of the prompt goes to the sink before the first token, when it came.
    let report = |sink: &mut dyn TokenSink, reported: &mut bool| {
        if !*reported && let Some(usage) = shared.usage.lock().ok().and_then(|u| *u) {
            *reported = true;
            sink.prompt(usage);
        }
    };
    loop {
        if let Err(aborted) = control.checkpoint() {
            // Dropping the tasks drops their connections: the server stops at once.
            tasks.shutdown().await;
            return Err(aborted.into());
        }
        tokio::select! {
            Some((beam, channel, text)) = rx.recv() => {
                report(sink, &mut reported);
                sink.token(beam, channel, &text);
            }
            joined = tasks.join_next(), if !tasks.is_empty() => {
                let result = joined
                    .context("no task")?
                    .map_err(|e| anyhow!("a request task failed: {e}"))?;
                for &beam in &result.unserved {
                    n_ignored = true;
                    tasks.spawn(run_group(shared.clone(), vec![beam], tx.clone()));
                }
                all.done.extend(result.done);
                all.failed.extend(result.failed);
            }
            _ = tick.tick() => {}
        }
        if tasks.is_empty() {
            report(sink, &mut reported);
            while let Ok((beam, channel, text)) = rx.try_recv() {
                sink.token(beam, channel, &text);
            }
            return Ok((all, n_ignored));
        }
    }
}

/// One request for `beams` (with `n` when more than one), retried once if its stream is cut.
async fn run_group(
    shared: Arc<Shared>,
    beams: Vec<Beam>,
    pieces: mpsc::Sender<Piece>,
) -> GroupResult {
    let mut result = GroupResult::default();
    let Ok(_permit) = shared.permits.acquire().await else {
        return result;
    };
    let request = &shared.request;
    let mut candidates: Vec<CandidateText> = beams
        .iter()
        .map(|&beam| {
            let text = CandidateText::new(beam, &request.stop, request.answer_budget);
            if request.think_budget > 0 && request.think_style == crate::model::ThinkStyle::Plain {
                text.plain()
            } else {
                text
            }
        })
        .collect();
    let mut cut_before = false;
    let mut refused_before = false;
    let mut unserved = Vec::new();
    loop {
        let mut pending: Vec<&mut CandidateText> =
            candidates.iter_mut().filter(|c| !c.is_finished()).collect();
        let Some(first) = pending.first().map(|c| c.beam) else {
            break;
        };
        let seed = request.sampling.seed.wrapping_add(u64::from(first));
        let body = request::generation(
            &shared.config,
            &shared.model,
            request,
            pending.len() as u32,
            seed,
        );
        let failure = match shared.http.post("chat/completions", &body).await {
            Err(err) => err,
            Ok(response) => {
                match stream::read(
                    response,
                    &mut pending,
                    &pieces,
                    shared.http.timeout,
                    &shared.usage,
                )
                .await
                {
                    StreamEnd::Done { served } => {
                        let mut refused = Vec::new();
                        for (candidate, served) in pending.iter_mut().zip(served) {
                            if !served {
                                unserved.push(candidate.beam);
                            } else if let Some(grammar) = &shared.grammar
                                && !refused_before
                                && !grammar.accepts(candidate.answer())
                            {
                                refused.push(candidate.beam);
                                candidate.restart(false);
                            }
                        }
                        if refused.is_empty() {
                            break;
                        }
                        // The server did not keep to the grammar: ask once more.
                        refused_before = true;
                        for beam in refused {
                            let note = "\n[ponder: the answer did not follow the grammar; asking \
                                        once more]\n";
                            if pieces
                                .send((beam, Channel::Think, note.into()))
                                .await
                                .is_err()
                            {
                                return result;
                            }
                        }
                        continue;
                    }
                    StreamEnd::Closed => return result,
                    StreamEnd::Cut(_) if !cut_before => {
                        cut_before = true;
                        for candidate in pending {
                            if !candidate.is_finished() {
                                candidate.restart(true);
                            }
                        }
                        continue;
                    }
                    StreamEnd::Cut(err) => err.context("the stream was cut twice"),
                    StreamEnd::Failed(err) => err,
                }
            }
        };
        let message = format!("{failure:#}");
        for candidate in pending.iter().filter(|c| !c.is_finished()) {
            result.failed.push((candidate.beam, anyhow!("{message}")));
        }
        break;
    }
    let failed: Vec<Beam> = result.failed.iter().map(|(b, _)| *b).collect();
    result.done = candidates
        .into_iter()
        .filter(|c| !failed.contains(&c.beam) && !unserved.contains(&c.beam))
        .collect();
    result.unserved = unserved;
    result
}
