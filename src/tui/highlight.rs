//! Syntax highlighting of diff hunks and code blocks, off the UI thread, latest request wins.
//!
//! Each hunk side (old: context and removed lines; new: context and added) is parsed as one block,
//! so parser state carries across its lines. Only the hunks a frame shows are asked for; a block
//! is highlighted once and cached. With a worker ([`Highlighter::spawn`]), a frame that asks for a
//! missing block draws it plain, and the worker wakes the loop when it is ready; requests from
//! frames older than the latest are dropped unhighlighted. Without one ([`Highlighter::inline`],
//! tests and benchmarks) blocks are highlighted when asked for.
//!
//! The classing itself (syntect scopes to [`super::syntax::Syntax`] classes) is
//! [`super::syntax`]'s.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use super::diff::{DiffModel, Side};
#[cfg(test)]
use super::syntax::Syntax;
use super::syntax::{Sections, highlight_lines};

/// A highlighted block: one [`Sections`] per line.
pub type Block = Arc<Vec<Sections>>;

/// Parsed diffs kept.
const MODELS_KEPT: usize = 4;
/// Blocks kept before code blocks are forgotten (diff blocks go with their diff).
const MAX_BLOCKS: usize = 1_024;
/// The `hunk` of a code block's key.
const CODE: usize = usize::MAX;

/// A block: a hunk side of one diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct BlockKey {
    diff: u64,
    hunk: usize,
    side: Side,
}

struct Job {
    key: BlockKey,
    ticket: u64,
    extension: String,
    lines: Vec<String>,
}

#[derive(Default)]
struct Cache {
    models: Vec<(u64, Arc<DiffModel>)>,
    blocks: HashMap<BlockKey, Block>,
    pending: HashSet<BlockKey>,
}

struct Shared {
    cache: Mutex<Cache>,
    /// The newest frame's ticket; the worker drops jobs from older frames.
    ticket: AtomicU64,
}

/// Parsed diffs and highlighted blocks, shared with the worker thread.
#[derive(Clone)]
pub struct Highlighter {
    shared: Arc<Shared>,
    worker: Option<Sender<Job>>,
}

impl std::fmt::Debug for Highlighter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Highlighter")
            .field("worker", &self.worker.is_some())
            .finish()
    }
}

impl Default for Highlighter {
    fn default() -> Self {
        Highlighter::inline()
    }
}

impl Highlighter {
    /// Highlights on the caller's thread, when a block is asked for.
    pub fn inline() -> Highlighter {
        Highlighter {
            shared: Arc::new(Shared {
                cache: Mutex::new(Cache::default()),
                ticket: AtomicU64::new(0),
            }),
            worker: None,
        }
    }

    /// Highlights on a worker thread; `ready` is called (on that thread) after each block.
    pub fn spawn(ready: impl Fn() + Send + 'static) -> Highlighter {
        let mut highlighter = Highlighter::inline();
        let (send, receive) = channel();
        let shared = highlighter.shared.clone();
        let spawned = std::thread::Builder::new()
            .name("ponder-highlight".into())
            .spawn(move || work(&shared, &receive, ready));
        // Without a thread, highlighting on the UI thread still works.
        if spawned.is_ok() {
            highlighter.worker = Some(send);
        }
        highlighter
    }

    /// Starts a frame: requests from earlier frames are now stale.
    pub fn begin_frame(&self) {
        self.shared.ticket.fetch_add(1, Ordering::Relaxed);
    }

    /// The parsed diff, from the cache when this text was parsed before.
    pub fn model(&self, diff: &str) -> (u64, Arc<DiffModel>) {
        let id = text_id(diff);
        let mut cache = self.lock();
        if let Some((_, model)) = cache.models.iter().find(|(k, _)| *k == id) {
            return (id, model.clone());
        }
        let model = Arc::new(DiffModel::parse(diff));
        if cache.models.len() >= MODELS_KEPT {
            let (old, _) = cache.models.remove(0);
            cache.blocks.retain(|k, _| k.diff != old);
        }
        cache.models.push((id, model.clone()));
        (id, model)
    }

    /// The highlighted side of a hunk of diff `id`, or `None` while it is being (or cannot be)
    /// highlighted.
    pub fn block(&self, id: u64, model: &DiffModel, hunk: usize, side: Side) -> Option<Block> {
        let key = BlockKey {
            diff: id,
            hunk,
            side,
        };
        let cache = self.lock();
        if let Some(block) = cache.blocks.get(&key) {
            return Some(block.clone());
        }
        if cache.pending.contains(&key) {
            return None;
        }
        let h = model.hunks.get(hunk)?;
        let extension = model.files.get(h.file).map_or("", |p| extension(p));
        let lines = h.side_text(side).iter().map(|s| s.to_string()).collect();
        self.highlight(cache, key, extension, lines)
    }

    /// A highlighted code block (a fenced block of an answer) in language `language`, or `None`
    /// while it is being highlighted. Blocks are cached by their text.
    pub fn code(&self, language: &str, lines: &[&str]) -> Option<Block> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (language, lines).hash(&mut hasher);
        let key = BlockKey {
            diff: hasher.finish(),
            hunk: CODE,
            side: Side::New,
        };
        let mut cache = self.lock();
        if let Some(block) = cache.blocks.get(&key) {
            return Some(block.clone());
        }
        if cache.pending.contains(&key) {
            return None;
        }
        if cache.blocks.len() > MAX_BLOCKS {
            cache.blocks.retain(|k, _| k.hunk != CODE);
        }
        let lines = lines.iter().map(|s| s.to_string()).collect();
        self.highlight(cache, key, language, lines)
    }

    /// Hands `lines` to the worker (`None`: the block comes later) or, without a worker,
    /// highlights them here and caches the block.
    fn highlight(
        &self,
        mut cache: std::sync::MutexGuard<'_, Cache>,
        key: BlockKey,
        extension: &str,
        mut lines: Vec<String>,
    ) -> Option<Block> {
        if let Some(worker) = &self.worker {
            let job = Job {
                key,
                ticket: self.shared.ticket.load(Ordering::Relaxed),
                extension: extension.to_string(),
                lines,
            };
            match worker.send(job) {
                Ok(()) => {
                    cache.pending.insert(key);
                    return None;
                }
                // The worker is gone: highlight here.
                Err(returned) => lines = returned.0.lines,
            }
        }
        drop(cache);
        let block = Arc::new(highlight_lines(extension, &lines));
        self.lock().blocks.insert(key, block.clone());
        Some(block)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.shared
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn work(shared: &Shared, receive: &Receiver<Job>, ready: impl Fn()) {
    while let Ok(first) = receive.recv() {
        let mut jobs = vec![first];
        jobs.extend(receive.try_iter());
        let latest = shared.ticket.load(Ordering::Relaxed);
        for job in jobs {
            // A newer frame asked since: what this job was for may no longer be on screen.
            if job.ticket + 1 < latest {
                lock(shared).pending.remove(&job.key);
                continue;
            }
            let block = Arc::new(highlight_lines(&job.extension, &job.lines));
            let mut cache = lock(shared);
            cache.pending.remove(&job.key);
            if job.key.hunk == CODE || cache.models.iter().any(|(id, _)| *id == job.key.diff) {
                cache.blocks.insert(job.key, block);
            }
            drop(cache);
            ready();
        }
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Cache> {
    shared
        .cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Identifies a diff text (its length and a hash of it).
fn text_id(text: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish() ^ text.len() as u64
}

fn extension(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((_, ext)) => ext,
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_blocks_are_highlighted_by_language_name() {
        let highlighter = Highlighter::inline();
        let block = highlighter
            .code("python", &["def f():", "    return 1"])
            .unwrap();
        assert_eq!(block[0][0], (0..3, Syntax::Keyword));
        assert!(
            highlighter
                .code("python", &["def f():", "    return 1"])
                .is_some()
        );
    }

    #[test]
    fn the_worker_highlights_and_wakes_the_loop() {
        let (send, receive) = channel();
        let highlighter = Highlighter::spawn(move || {
            let _ = send.send(());
        });
        highlighter.begin_frame();
        let (id, model) =
            highlighter.model("--- a/x.rs\n+++ b/x.rs\n@@ -1 +1 @@\n-fn a() {}\n+fn b() {}\n");
        assert!(highlighter.block(id, &model, 0, Side::New).is_none());
        receive.recv().unwrap();
        let block = highlighter.block(id, &model, 0, Side::New).unwrap();
        assert!(block[0].iter().any(|(_, c)| *c == Syntax::Keyword));
    }
}
