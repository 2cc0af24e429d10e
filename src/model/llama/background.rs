//! Loading in the background: the plan is made at once (from the GGUF header, so a model that
//! cannot fit is refused before anything starts), the weights load on a thread of their own with
//! llama.cpp's progress callback, and the engine answers what it already knows (its description,
//! context, device) while the session starts — the interface draws its first frame and the
//! repository index builds meanwhile. The first request that needs the model waits for it; an
//! abort while it waits stops the load at llama.cpp's next progress report.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Result, anyhow};

use super::{LlamaConfig, LlamaEngine, LoadOptions, describe, plan_for};
use crate::event::{Control, EngineInfo, EngineSource, Reasoning, ThinkMode};
use crate::model::{Engine, GenerateRequest, Generation, JudgeRequest, Message, TokenSink};

/// How far a background load has got; shared with whoever shows it.
#[derive(Debug, Default)]
pub struct LoadProgress {
    /// Thousandths loaded.
    permille: AtomicU32,
    done: AtomicBool,
    failed: AtomicBool,
    stop: AtomicBool,
}

impl LoadProgress {
    /// The fraction loaded, while loading; `None` once done (or failed).
    pub fn loading(&self) -> Option<f32> {
        (!self.done.load(Ordering::SeqCst))
            .then(|| self.permille.load(Ordering::SeqCst) as f32 / 1000.0)
    }

    /// True when the load ended in an error (the session reports it).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Asks the load to stop at llama.cpp's next progress report.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    fn set(&self, fraction: f32) {
        self.permille
            .store((fraction.clamp(0.0, 1.0) * 1000.0) as u32, Ordering::SeqCst);
    }

    fn finish(&self, ok: bool) {
        self.failed.store(!ok, Ordering::SeqCst);
        self.done.store(true, Ordering::SeqCst);
    }
}

enum State {
    Loading,
    Ready(Box<LlamaEngine>),
    Failed(String),
}

/// A llama.cpp engine whose weights are still loading.
pub struct BackgroundEngine {
    info: EngineInfo,
    /// The model's parameter count, read from the GGUF before loading.
    parameters: u64,
    source: Option<EngineSource>,
    /// Why the model reasons in `<think>` tags, if it does: known from the header, as the
    /// loaded engine will know it, so the session's header need not wait for the weights.
    knows_think: Option<String>,
    progress: Arc<LoadProgress>,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl BackgroundEngine {
    /// Plans (failing now when the model cannot fit) and starts loading on a thread.
    pub fn start(config: LlamaConfig, options: LoadOptions) -> Result<BackgroundEngine> {
        let path = config.model_path()?;
        let (plan, memory, meta) = plan_for(&path, &config, options.demand, options.vram)?;
        let info = EngineInfo {
            kind: "llama".to_string(),
            description: describe(&path, &meta),
            scripted: false,
            context: Some(plan.cells),
            device: Some(memory.device.clone()),
        };
        let source = super::source(&config);
        let knows_think = super::prompt::knows_think(config.chat_template.as_deref(), &meta);
        let progress = Arc::new(LoadProgress::default());
        let state = Arc::new((Mutex::new(State::Loading), Condvar::new()));
        let (report, shared) = (progress.clone(), state.clone());
        std::thread::Builder::new()
            .name("ponder-load".into())
            .spawn(move || {
                let watch = report.clone();
                let loaded = LlamaEngine::load_with(
                    config,
                    LoadOptions {
                        demand: options.demand,
                        vram: options.vram,
                        progress: Some(Box::new(move |fraction| {
                            watch.set(fraction);
                            !watch.stop.load(Ordering::SeqCst)
                        })),
                    },
                );
                report.finish(loaded.is_ok());
                let (lock, wake) = &*shared;
                *lock.lock().unwrap_or_else(|e| e.into_inner()) = match loaded {
                    Ok(engine) => State::Ready(Box::new(engine)),
                    Err(err) => State::Failed(format!("{err:#}")),
                };
                wake.notify_all();
            })
            .map_err(|e| anyhow!("cannot start the thread that loads the model: {e}"))?;
        Ok(BackgroundEngine {
            info,
            parameters: meta.parameters,
            source,
            knows_think,
            progress,
            state,
        })
    }

    /// How far the load has got.
    pub fn progress(&self) -> Arc<LoadProgress> {
        self.progress.clone()
    }

    /// The loaded engine, waiting for it (and stopping the load when `control` aborts).
    fn ready(&self, control: Option<&Control>) -> Result<MutexGuard<'_, State>> {
        let (lock, wake) = &*self.state;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match &*state {
                State::Ready(_) => return Ok(state),
                State::Failed(message) => return Err(anyhow!("{message}")),
                State::Loading => {}
            }
            if control.is_some_and(Control::is_aborted) {
                self.progress.stop();
                return Err(crate::event::Aborted.into());
            }
            if self.progress.stop.load(Ordering::SeqCst) {
                return Err(anyhow!("loading the model was stopped"));
            }
            state = wake
                .wait_timeout(state, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn with<T>(
        &self,
        control: Option<&Control>,
        f: impl FnOnce(&mut LlamaEngine) -> Result<T>,
    ) -> Result<T> {
        let mut state = self.ready(control)?;
        match &mut *state {
            State::Ready(engine) => f(engine),
            _ => Err(anyhow!("the model is not loaded")),
        }
    }
}

impl Engine for BackgroundEngine {
    fn info(&self) -> EngineInfo {
        self.info.clone()
    }

    fn source(&self) -> Option<EngineSource> {
        self.source.clone()
    }

    fn parameters(&self) -> Option<u64> {
        Some(self.parameters)
    }

    fn reasoning(&self, mode: ThinkMode) -> Reasoning {
        super::prompt::reasoning(self.knows_think.as_deref(), mode)
    }

    fn generate(
        &mut self,
        request: &GenerateRequest,
        sink: &mut dyn TokenSink,
        control: &Control,
    ) -> Result<Vec<Generation>> {
        self.with(Some(control), |engine| {
            engine.generate(request, sink, control)
        })
    }

    fn prompt_tokens(&self, messages: &[Message]) -> Option<u32> {
        self.with(None, |engine| Ok(engine.prompt_tokens(messages)))
            .ok()
            .flatten()
    }

    fn parallel(&self, request: &GenerateRequest) -> u32 {
        self.with(None, |engine| Ok(engine.parallel(request)))
            .unwrap_or(request.n)
    }

    fn judge(&mut self, request: &JudgeRequest, control: &Control) -> Result<Vec<f64>> {
        self.with(Some(control), |engine| engine.judge(request, control))
    }
}
