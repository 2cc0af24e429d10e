//! The prefix cache's bookkeeping: which tokens each sequence (slot) of the one long-lived
//! context holds, which KV cells they share, and which slot goes when room is needed. Pure data,
//! no llama.cpp: [`super::slots`] mirrors every change here with the matching KV operation.
//!
//! In llama.cpp's unified KV cache a cell can belong to several sequences: `seq_cp(src, dst, 0,
//! len)` adds `dst` to the cells of `src`'s first `len` positions without copying anything. So
//! the cells form a tree: a root run of tokens (the system prompt and the issue, say) shared by
//! every slot that copied it, branching where their tokens differ. Each [`Node`] is a run of
//! cells; a slot's tokens are the runs on its path from a root. A node is freed when no slot's
//! path passes through it, so [`SlotCache::used_cells`] is exactly what the cache holds.
//!
//! Slots are `Free` (no cells), `Idle` (cached: kept for reuse, evictable, least recently used
//! first) or `Busy` (a prompt being read or a candidate decoding; never evicted). Cells computed
//! with a LoRA adapter differ from the base model's: a slot carries a `tag`, and prefixes are
//! only shared between slots of the same tag.

/// A token id (llama.cpp's `llama_token`, a plain number).
pub type Token = llama_cpp_2::token::LlamaToken;

/// A slot's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    Free,
    Idle,
    Busy,
}

#[derive(Debug, Clone)]
struct Slot {
    tokens: Vec<Token>,
    tag: u32,
    state: SlotState,
    last_used: u64,
    /// The last node of the slot's path (none when it holds no cells).
    leaf: Option<usize>,
}

/// A run of cells, shared by every slot whose path passes through it.
#[derive(Debug, Clone)]
struct Node {
    parent: Option<usize>,
    len: u64,
    /// Slots whose path passes through this node.
    refs: u32,
}

/// The slots of one context and the cells they hold.
#[derive(Debug, Clone)]
pub struct SlotCache {
    slots: Vec<Slot>,
    nodes: Vec<Node>,
    free_nodes: Vec<usize>,
    used: u64,
    tick: u64,
}

/// Where a prompt's tokens can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The slot holding the longest prefix.
    pub seq: usize,
    /// Tokens of the prompt it holds.
    pub len: usize,
}

impl SlotCache {
    /// `n_seq` free slots.
    pub fn new(n_seq: usize) -> SlotCache {
        SlotCache {
            slots: (0..n_seq)
                .map(|_| Slot {
                    tokens: Vec::new(),
                    tag: 0,
                    state: SlotState::Free,
                    last_used: 0,
                    leaf: None,
                })
                .collect(),
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            used: 0,
            tick: 0,
        }
    }

    pub fn n_seq(&self) -> usize {
        self.slots.len()
    }

    /// Cells held by all slots together (shared cells counted once).
    pub fn used_cells(&self) -> u64 {
        self.used
    }

    pub fn state(&self, seq: usize) -> SlotState {
        self.slots[seq].state
    }

    /// The tokens slot `seq` holds, in position order.
    pub fn tokens(&self, seq: usize) -> &[Token] {
        &self.slots[seq].tokens
    }

    /// The slot (of `tag`, busy or not) holding the longest prefix of `prompt`; the most
    /// recently used wins a tie. `None` when no slot shares even one token.
    pub fn lookup(&self, prompt: &[Token], tag: u32) -> Option<Hit> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state != SlotState::Free && s.tag == tag)
            .map(|(seq, s)| {
                let len = s
                    .tokens
                    .iter()
                    .zip(prompt)
                    .take_while(|(a, b)| a == b)
                    .count();
                (seq, len, s.last_used)
            })
            .filter(|&(_, len, _)| len > 0)
            .max_by_key(|&(_, len, used)| (len, used))
            .map(|(seq, len, _)| Hit { seq, len })
    }

    /// A free slot, marked busy for `tag`; `None` when every slot is in use or cached (see
    /// [`SlotCache::evict_lru`]).
    pub fn take_free(&mut self, tag: u32) -> Option<usize> {
        let seq = self.slots.iter().position(|s| s.state == SlotState::Free)?;
        self.tick += 1;
        let slot = &mut self.slots[seq];
        slot.state = SlotState::Busy;
        slot.tag = tag;
        slot.last_used = self.tick;
        Some(seq)
    }

    /// Marks a cached slot busy again (to continue its sequence in place).
    pub fn reuse(&mut self, seq: usize) {
        self.tick += 1;
        let slot = &mut self.slots[seq];
        slot.state = SlotState::Busy;
        slot.last_used = self.tick;
    }

    /// The least recently used idle slot, freed (its cells released); the caller removes the
    /// sequence from the KV cache. `None` when no slot is idle.
    pub fn evict_lru(&mut self) -> Option<usize> {
        let seq = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state == SlotState::Idle)
            .min_by_key(|(_, s)| s.last_used)
            .map(|(seq, _)| seq)?;
        self.clear(seq);
        self.slots[seq].state = SlotState::Free;
        Some(seq)
    }

    /// Evicts idle slots, least recently used first, until `cells` more would fit in
    /// `capacity`; returns the slots freed (the caller removes them from the KV cache).
    pub fn make_room(&mut self, cells: u64, capacity: u64) -> Vec<usize> {
        let mut freed = Vec::new();
        while self.used + cells > capacity {
            match self.evict_lru() {
                Some(seq) => freed.push(seq),
                None => break,
            }
        }
        freed
    }

    /// Cells that evicting every idle slot would free.
    pub fn evictable_cells(&self) -> u64 {
        let mut copy = self.clone();
        while copy.evict_lru().is_some() {}
        self.used - copy.used
    }

    /// Slot `dst` (busy, empty) takes the first `len` tokens of `src`, sharing their cells (the
    /// caller does `seq_cp(src, dst, 0, len)`).
    pub fn share(&mut self, src: usize, dst: usize, len: usize) {
        assert!(
            self.slots[dst].leaf.is_none(),
            "share into a slot that holds cells"
        );
        let len = len.min(self.slots[src].tokens.len());
        if len == 0 {
            return;
        }
        let node = self.node_at(src, len as u64);
        let tokens = self.slots[src].tokens[..len].to_vec();
        self.retain_path(node);
        let tag = self.slots[src].tag;
        let slot = &mut self.slots[dst];
        slot.tokens = tokens;
        slot.tag = tag;
        slot.leaf = Some(node);
    }

    /// Tokens decoded into slot `seq` after the ones it holds.
    pub fn append(&mut self, seq: usize, tokens: &[Token]) {
        if tokens.is_empty() {
            return;
        }
        let n = tokens.len() as u64;
        self.used += n;
        self.slots[seq].tokens.extend_from_slice(tokens);
        match self.slots[seq].leaf {
            Some(leaf) if self.nodes[leaf].refs == 1 => self.nodes[leaf].len += n,
            parent => {
                let node = self.new_node(parent, n);
                self.slots[seq].leaf = Some(node);
            }
        }
    }

    /// Drops the tokens of slot `seq` from position `len` on (the caller does `seq_rm(seq, len,
    /// -1)`).
    pub fn truncate(&mut self, seq: usize, len: usize) {
        let held = self.slots[seq].tokens.len();
        if len >= held {
            return;
        }
        if len == 0 {
            self.clear(seq);
            return;
        }
        // The node that will end the path: split where `len` falls inside one.
        let node = self.node_at(seq, len as u64);
        // Release the part of the path below it.
        let mut at = self.slots[seq].leaf;
        while let Some(n) = at {
            if n == node {
                break;
            }
            at = self.nodes[n].parent;
            self.release(n);
        }
        let slot = &mut self.slots[seq];
        slot.tokens.truncate(len);
        slot.leaf = Some(node);
    }

    /// Slot `seq` is done for now: it stays cached, evictable.
    pub fn idle(&mut self, seq: usize) {
        self.tick += 1;
        let slot = &mut self.slots[seq];
        slot.last_used = self.tick;
        slot.state = if slot.leaf.is_some() {
            SlotState::Idle
        } else {
            SlotState::Free
        };
    }

    /// Slot `seq` is emptied and freed (the caller removes it from the KV cache).
    pub fn free(&mut self, seq: usize) {
        self.clear(seq);
        self.slots[seq].state = SlotState::Free;
    }

    /// Releases every cell of slot `seq`, keeping its state.
    fn clear(&mut self, seq: usize) {
        let mut at = self.slots[seq].leaf.take();
        while let Some(n) = at {
            at = self.nodes[n].parent;
            self.release(n);
        }
        self.slots[seq].tokens.clear();
    }

    /// The node on `seq`'s path that ends exactly at position `len`, splitting one if needed.
    fn node_at(&mut self, seq: usize, len: u64) -> usize {
        let mut end = self.slots[seq].tokens.len() as u64;
        let mut at = self.slots[seq].leaf.expect("a slot with tokens has a path");
        loop {
            let start = end - self.nodes[at].len;
            if len == end {
                return at;
            }
            if len > start {
                return self.split(at, len - start);
            }
            end = start;
            at = self.nodes[at]
                .parent
                .expect("the path covers every position");
        }
    }

    /// Splits `node` after its first `head` cells: a new node takes the head (and the node's
    /// place under its parent), `node` keeps the tail, so every path through it stays valid.
    fn split(&mut self, node: usize, head: u64) -> usize {
        let parent = self.nodes[node].parent;
        let refs = self.nodes[node].refs;
        let new = self.alloc(Node {
            parent,
            len: head,
            refs,
        });
        let tail = &mut self.nodes[node];
        tail.len -= head;
        tail.parent = Some(new);
        new
    }

    /// Counts one more slot on every node from `node` to its root.
    fn retain_path(&mut self, node: usize) {
        let mut at = Some(node);
        while let Some(n) = at {
            self.nodes[n].refs += 1;
            at = self.nodes[n].parent;
        }
    }

    /// Counts one slot fewer on `node`; frees its cells when none is left.
    fn release(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.refs -= 1;
        if n.refs == 0 {
            self.used -= n.len;
            n.len = 0;
            self.free_nodes.push(node);
        }
    }

    /// A node under `parent` (the slot's leaf, which already counts the slot).
    fn new_node(&mut self, parent: Option<usize>, len: u64) -> usize {
        self.alloc(Node {
            parent,
            len,
            refs: 1,
        })
    }

    fn alloc(&mut self, node: Node) -> usize {
        match self.free_nodes.pop() {
            Some(i) => {
                self.nodes[i] = node;
                i
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tokens(text: &str) -> Vec<Token> {
        text.bytes().map(|b| Token::new(i32::from(b))).collect()
    }

    #[test]
    fn a_shared_prefix_is_counted_once_and_freed_with_its_last_slot() {
        let mut cache = SlotCache::new(4);
        let a = cache.take_free(0).unwrap();
        cache.append(a, &tokens("system issue stage-one"));
        assert_eq!(cache.used_cells(), 22);
        cache.idle(a);
        let prompt = tokens("system issue judge");
        let hit = cache.lookup(&prompt, 0).unwrap();
        assert_eq!(hit, Hit { seq: a, len: 13 });
        let b = cache.take_free(0).unwrap();
        cache.share(hit.seq, b, hit.len);
        cache.append(b, &prompt[hit.len..]);
        assert_eq!(cache.tokens(b), &prompt[..]);
        assert_eq!(cache.used_cells(), 22 + 5);
        // Another tag never shares.
        assert_eq!(cache.lookup(&prompt, 1), None);
        // Freeing the first slot keeps the shared head for the second.
        cache.free(a);
        assert_eq!(cache.used_cells(), 18);
        cache.free(b);
        assert_eq!(cache.used_cells(), 0);
    }

    #[test]
    fn candidates_branch_from_one_prompt_and_grow_apart() {
        let mut cache = SlotCache::new(4);
        let p = cache.take_free(0).unwrap();
        cache.append(p, &tokens("prompt"));
        let seqs: Vec<usize> = (0..3).map(|_| cache.take_free(0).unwrap()).collect();
        for &s in &seqs {
            cache.share(p, s, 6);
        }
        for (i, &s) in seqs.iter().enumerate() {
            cache.append(s, &tokens(&"x".repeat(i + 1)));
        }
        assert_eq!(cache.used_cells(), 6 + 1 + 2 + 3);
        // The prompt slot can go: the candidates hold the prompt's cells.
        cache.free(p);
        assert_eq!(cache.used_cells(), 12);
        cache.truncate(seqs[2], 4);
        assert_eq!(cache.tokens(seqs[2]), &tokens("prom")[..]);
        assert_eq!(cache.used_cells(), 6 + 1 + 2);
        cache.append(seqs[2], &tokens("pt!"));
        assert_eq!(
            cache.used_cells(),
            6 + 1 + 2 + 3,
            "the branch from position 4 is new"
        );
    }

    #[test]
    fn room_is_made_least_recently_used_first_and_busy_slots_stay() {
        let mut cache = SlotCache::new(3);
        let old = cache.take_free(0).unwrap();
        cache.append(old, &tokens("aaaa"));
        cache.idle(old);
        let newer = cache.take_free(0).unwrap();
        cache.append(newer, &tokens("bbbb"));
        cache.idle(newer);
        let busy = cache.take_free(0).unwrap();
        cache.append(busy, &tokens("cccc"));
        assert_eq!(cache.evictable_cells(), 8);
        assert_eq!(cache.make_room(2, 12), vec![old]);
        assert_eq!(cache.make_room(100, 12), vec![newer]);
        assert_eq!(cache.used_cells(), 4);
        assert_eq!(cache.state(busy), SlotState::Busy);
        assert_eq!(cache.evict_lru(), None);
    }

    #[test]
    fn sharing_from_the_middle_of_a_run_splits_it_for_every_path() {
        let mut cache = SlotCache::new(4);
        let a = cache.take_free(0).unwrap();
        cache.append(a, &tokens("abcdef"));
        let b = cache.take_free(0).unwrap();
        cache.share(a, b, 6);
        let c = cache.take_free(0).unwrap();
        cache.share(a, c, 3);
        cache.append(c, &tokens("XYZ"));
        assert_eq!(cache.used_cells(), 9);
        cache.free(a);
        cache.free(b);
        assert_eq!(cache.used_cells(), 6);
        assert_eq!(cache.tokens(c), &tokens("abcXYZ")[..]);
    }

    proptest! {
        /// Whatever the operations, the cells counted equal the distinct cells of a brute-force
        /// model (each cell identified by the slot and position that first decoded it).
        #[test]
        fn used_cells_match_a_brute_force_count(ops in proptest::collection::vec((0u8..5, 0usize..4, 0usize..4, 1usize..6), 1..60)) {
            let mut cache = SlotCache::new(4);
            // Per slot: the identity of each cell it holds.
            let mut model: Vec<Vec<(usize, usize)>> = vec![Vec::new(); 4];
            let mut next_id = 0usize;
            for (op, s, t, n) in ops {
                match op {
                    0 if cache.state(s) == SlotState::Free => {
                        // take_free may hand out another free slot than s.
                        let _ = cache.take_free(0);
                    }
                    1 if cache.state(s) != SlotState::Free => {
                        cache.append(s, &vec![Token::new(7); n]);
                        for _ in 0..n { model[s].push((next_id, 0)); next_id += 1; }
                    }
                    2 if cache.state(s) != SlotState::Free && cache.state(t) != SlotState::Free
                        && s != t && cache.tokens(t).is_empty() => {
                        let len = n.min(cache.tokens(s).len());
                        cache.share(s, t, len);
                        model[t] = model[s][..len].to_vec();
                    }
                    3 if cache.state(s) != SlotState::Free => {
                        let len = cache.tokens(s).len().saturating_sub(n);
                        cache.truncate(s, len);
                        model[s].truncate(len);
                    }
                    4 if cache.state(s) != SlotState::Free => {
                        cache.free(s);
                        model[s].clear();
                    }
                    _ => {}
                }
                let distinct: std::collections::HashSet<_> = model.iter().flatten().collect();
                prop_assert_eq!(cache.used_cells(), distinct.len() as u64);
                for (seq, cells) in model.iter().enumerate() {
                    prop_assert_eq!(cache.tokens(seq).len(), cells.len());
                }
            }
        }
    }
}
