//! A loaded model with its one long-lived llama.cpp context: the sequences of that context are
//! slots, and what they hold is the prefix cache ([`SlotCache`] keeps the books; this module does
//! the matching KV operations). Made once when the model loads, sized by the memory planner
//! ([`super::plan`]), and kept for every request after: nothing a request decoded is thrown away
//! until its cells are needed.
//!
//! The context borrows the model it was made from; [`self_cell`] keeps the two together in one
//! value so an engine can own both.

use std::num::NonZeroU32;

use anyhow::{Context, Result, anyhow};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{KvCacheType, LlamaContextParams};
use llama_cpp_2::llama_batch::LlamaBatch;

use super::cache::SlotCache;
use super::config::{FlashAttention, KvType, LlamaConfig};
use super::plan::Plan;
use super::{LoadedModel, backend};

type Ctx<'a> = LlamaContext<'a>;

self_cell::self_cell!(
    /// A model and the context made from it.
    struct Bound {
        owner: LoadedModel,
        #[covariant]
        dependent: Ctx,
    }
);

/// What the engine has done with its cache since it loaded: the figures of `ponder bench
/// engine --workload fix` and of `/health`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheStats {
    /// Prompt tokens asked for.
    pub prompt_tokens: u64,
    /// Of those, tokens found in the cache (not decoded again).
    pub cached_tokens: u64,
    /// Most cells held at once.
    pub peak_cells: u64,
    /// Slots evicted to make room.
    pub evictions: u64,
    /// Seconds in llama.cpp's decode (synchronized), and in ponder's own loop.
    pub decode_seconds: f64,
    pub loop_seconds: f64,
}

/// A model with its long-lived context, slots and prefix cache.
pub struct Slots {
    bound: Bound,
    pub(super) cache: SlotCache,
    pub(super) batch: LlamaBatch<'static>,
    pub(super) plan: Plan,
    /// Tokens of a prompt read per step.
    pub(super) n_batch: usize,
    pub(super) stats: CacheStats,
    /// The LoRA adapter currently applied to the context (its tag), 0 for none.
    pub(super) tag: u32,
}

/// Everything one step of the scheduler works with, borrowed at once.
pub struct Parts<'s, 'm> {
    pub model: &'m LoadedModel,
    pub ctx: &'s mut LlamaContext<'m>,
    pub cache: &'s mut SlotCache,
    pub batch: &'s mut LlamaBatch<'static>,
    pub stats: &'s mut CacheStats,
    pub n_batch: usize,
    pub cells: u64,
}

fn kv_type(t: KvType) -> KvCacheType {
    match t {
        KvType::F32 => KvCacheType::F32,
        KvType::F16 => KvCacheType::F16,
        KvType::Q8_0 => KvCacheType::Q8_0,
        KvType::Q4_0 => KvCacheType::Q4_0,
    }
}

impl Slots {
    /// Makes the context the plan asks for around `model`.
    pub fn new(model: LoadedModel, config: &LlamaConfig, plan: Plan) -> Result<Slots> {
        let n_seq = config.n_seq.clamp(2, 256);
        let n_batch = config.n_batch.max(1) as usize;
        // A step holds a prompt chunk and a few tokens of every live sequence.
        let capacity = n_batch + n_seq as usize * 8;
        // llama.h: LLAMA_FLASH_ATTN_TYPE_AUTO = -1, _DISABLED = 0, _ENABLED = 1.
        let flash = match config.flash_attention {
            FlashAttention::Auto => -1,
            FlashAttention::On => 1,
            FlashAttention::Off => 0,
        };
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(plan.cells.max(64)))
            .with_n_batch(capacity as u32)
            .with_n_ubatch(config.n_batch)
            .with_n_seq_max(n_seq)
            .with_kv_unified(true)
            .with_n_threads(config.threads())
            .with_n_threads_batch(config.threads())
            .with_type_k(kv_type(plan.k))
            .with_type_v(kv_type(plan.v))
            .with_flash_attention_policy(flash);
        let cells = plan.cells;
        let (k, v) = (plan.k.name(), plan.v.name());
        let bound = Bound::try_new(model, |model| {
            model
                .model
                .new_context(backend()?, params)
                .with_context(|| {
                    format!(
                        "llama.cpp could not create a context of {cells} cells (K {k}, V {v}) \
                         for {n_seq} sequences: lower n_ctx or n_seq in [llama], or choose a \
                         smaller kv_type"
                    )
                })
        })?;
        Ok(Slots {
            bound,
            cache: SlotCache::new(n_seq as usize),
            batch: LlamaBatch::new(capacity, 1),
            plan,
            n_batch,
            stats: CacheStats::default(),
            tag: 0,
        })
    }

    pub fn model(&self) -> &LoadedModel {
        self.bound.borrow_owner()
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Starts the statistics afresh.
    pub fn reset_stats(&mut self) {
        self.stats = CacheStats::default();
    }

    /// Sequences (slots) the context has.
    pub fn n_seq(&self) -> u32 {
        self.cache.n_seq() as u32
    }

    /// Cells the context has.
    pub fn cells(&self) -> u32 {
        self.bound.borrow_dependent().n_ctx()
    }

    /// Runs `f` with the model, the context and the books borrowed together.
    pub fn with_parts<T>(&mut self, f: impl FnOnce(Parts<'_, '_>) -> T) -> T {
        let Slots {
            bound,
            cache,
            batch,
            stats,
            n_batch,
            ..
        } = self;
        let n_batch = *n_batch;
        bound.with_dependent_mut(|model, ctx| {
            let cells = u64::from(ctx.n_ctx());
            f(Parts {
                model,
                ctx,
                cache,
                batch,
                stats,
                n_batch,
                cells,
            })
        })
    }

    /// Empties the cache (every slot freed, every cell released).
    pub fn clear(&mut self) {
        self.with_parts(|p| {
            p.ctx.clear_kv_cache();
            *p.cache = SlotCache::new(p.cache.n_seq());
        });
    }

    /// Applies `adapter` while `f` runs; `tag` names it in the cache, so cells computed with it
    /// are shared only with others computed with it.
    pub fn with_adapter<T>(
        &mut self,
        adapter: &mut llama_cpp_2::model::LlamaLoraAdapter,
        tag: u32,
        f: impl FnOnce(&mut Slots) -> Result<T>,
    ) -> Result<T> {
        self.bound.with_dependent_mut(|_, ctx| {
            ctx.lora_adapter_set(adapter, 1.0)
                .map_err(|e| anyhow!("cannot apply the judge LoRA adapter: {e}"))
        })?;
        self.tag = tag;
        let result = f(self);
        self.tag = 0;
        self.bound.with_dependent_mut(|_, ctx| {
            ctx.lora_adapter_remove(adapter)
                .map_err(|e| anyhow!("cannot remove the judge LoRA adapter: {e}"))
        })?;
        result
    }
}

impl Parts<'_, '_> {
    /// Frees the least recently used idle slot in the KV cache too; false when none is idle.
    pub fn evict_one(&mut self) -> bool {
        match self.cache.evict_lru() {
            Some(seq) => {
                let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
                self.stats.evictions += 1;
                true
            }
            None => false,
        }
    }

    /// Evicts idle slots until `cells` more fit (or nothing idle is left).
    pub fn make_room(&mut self, cells: u64) {
        for seq in self.cache.make_room(cells, self.cells) {
            let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
            self.stats.evictions += 1;
        }
    }

    /// A slot for a new sequence of `tag`: a free one, else the least recently used idle one
    /// emptied.
    pub fn take_slot(&mut self, tag: u32) -> Option<usize> {
        if let Some(seq) = self.cache.take_free(tag) {
            return Some(seq);
        }
        if self.evict_one() {
            return self.cache.take_free(tag);
        }
        None
    }

    /// Slot `dst` takes the first `len` cells of `src` (shared, not copied).
    pub fn share(&mut self, src: usize, dst: usize, len: usize) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        self.ctx
            .kv_cache_seq_cp(src as i32, dst as i32, Some(0), Some(len as u32))
            .map_err(|e| anyhow!("llama.cpp could not share a cached prefix: {e}"))?;
        self.cache.share(src, dst, len);
        Ok(())
    }

    /// Drops slot `seq`'s cells from position `len` on.
    pub fn truncate(&mut self, seq: usize, len: usize) -> Result<()> {
        if len >= self.cache.tokens(seq).len() {
            return Ok(());
        }
        self.ctx
            .clear_kv_cache_seq(Some(seq as u32), Some(len as u32), None)
            .map_err(|e| anyhow!("llama.cpp could not cut a cached sequence: {e}"))?;
        self.cache.truncate(seq, len);
        Ok(())
    }

    /// Empties and frees slot `seq`.
    pub fn free(&mut self, seq: usize) {
        let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
        self.cache.free(seq);
    }

    /// Notes the cells in use after a step.
    pub fn note_peak(&mut self) {
        self.stats.peak_cells = self.stats.peak_cells.max(self.cache.used_cells());
    }
}

impl std::fmt::Debug for Slots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slots")
            .field("plan", &self.plan)
            .field("stats", &self.stats)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn kv_types_map_to_llama_cpp() {
        use super::*;
        assert!(matches!(kv_type(KvType::Q4_0), KvCacheType::Q4_0));
        assert!(matches!(kv_type(KvType::Q8_0), KvCacheType::Q8_0));
    }
}
