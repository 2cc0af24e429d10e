//! The one prompt-decode loop: every decode ponder does with llama.cpp — a stage's candidates,
//! the judge's logits, `ponder serve`'s concurrent requests, the engine benchmark — goes through
//! [`Scheduler::step`] over the model's long-lived context ([`Slots`]).
//!
//! A [`Job`] is one request: a prompt shared by its members (the candidates of a stage, the
//! judging prompts' common prefix), then each member's own suffix, then — for a generation —
//! one token per live candidate per step. Admission looks the shared prompt up in the prefix
//! cache: the longest cached prefix is shared (`seq_cp`, no copy) and only the rest is decoded;
//! once read, the prompt is shared with every member's slot. Each step builds one batch: a token
//! of every live candidate of every job, then prompt chunks of jobs still reading, up to
//! `n_batch`; jobs join and leave at step boundaries (continuous batching). Slots go back to the
//! cache when their job ends, to be reused or evicted least recently used first.
//!
//! Nothing is silent: a job waits when its slots or cells are not free yet; when the cache is
//! full with nothing left to evict, thinking candidates get their answer forced while a little
//! room is left, and a candidate that still meets a full cache ends with `truncated` set. Decode
//! timers stop only after `llama_synchronize`, so GPU time is never charged to ponder's loop.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use llama_cpp_2::DecodeError;
use llama_cpp_2::token::LlamaToken;

use super::cache::SlotState;
use super::candidate::Candidate;
pub(super) use super::job::Work;
use super::job::job_usage;
pub use super::job::{Job, LogprobSink, Outcome, PromptUsage, TokenLogprobs};
use super::slots::Parts;

/// Cells kept free per thinking candidate for its forced answer when the cache fills.
const ANSWER_ROOM: u64 = 48;

/// Where the time of the loop went (figures add up over the scheduler's life).
#[derive(Debug, Clone, Default)]
pub struct LoopStats {
    /// Prompt tokens decoded (cached ones not counted).
    pub prompt_tokens: u64,
    /// Prompt tokens found in the cache.
    pub cached_tokens: u64,
    /// Steps that decoded prompt tokens only, and their time.
    pub prompt_steps: u32,
    pub prompt_time: Duration,
    /// Steps that decoded generated tokens (maybe with prompt chunks), and their time.
    pub steps: u32,
    pub decode_time: Duration,
    /// Tokens generated (sampled or fed), all members together.
    pub generated: u64,
    /// Time in ponder's own loop: sampling, detokenizing, splitting, sending tokens, batching.
    pub loop_time: Duration,
    /// Most cells in use at once.
    pub peak_cells: u64,
    /// Answer tokens drawn under a grammar, all candidates together.
    pub grammar_tokens: u64,
    /// Of those, how many needed the grammar applied to the most likely tokens…
    pub grammar_shortlist_passes: u64,
    /// …and how many to the whole vocabulary.
    pub grammar_full_passes: u64,
}

/// What a step put in the batch, to book once llama.cpp has decoded it.
enum Entry {
    Shared {
        job: usize,
        n: usize,
        last: bool,
    },
    Suffix {
        job: usize,
        member: usize,
        n: usize,
    },
    Generated {
        job: usize,
        member: usize,
        tokens: Vec<LlamaToken>,
    },
}

/// The jobs in the loop and its statistics.
#[derive(Default)]
pub struct Scheduler<'a> {
    jobs: Vec<Job<'a>>,
    pub stats: LoopStats,
}

impl<'a> Scheduler<'a> {
    pub fn new() -> Scheduler<'a> {
        Scheduler {
            jobs: Vec::new(),
            stats: LoopStats::default(),
        }
    }

    /// Adds a job; it joins the batch at the next step its slots and cells allow.
    pub fn submit(&mut self, job: Job<'a>) {
        self.jobs.push(job);
    }

    /// True while any job is in the loop.
    pub fn busy(&self) -> bool {
        !self.jobs.is_empty()
    }

    /// Jobs admitted into the batch (the others wait for slots or cells).
    pub fn admitted(&self) -> usize {
        self.jobs.iter().filter(|j| j.admitted).count()
    }

    /// Jobs in the loop.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The job with `id`, if still in the loop.
    pub fn job(&self, id: u64) -> Option<&Job<'a>> {
        self.jobs.iter().find(|j| j.id == id)
    }

    /// Ends every job now (the caller stopped waiting), giving their slots back to the cache.
    pub fn cancel(&mut self, p: &mut Parts<'_, '_>) {
        for job in self.jobs.drain(..) {
            release(p, &job);
        }
    }

    /// One step: admit what fits, sample every live candidate, read prompt chunks, decode once,
    /// book the result. Returns the jobs that ended.
    pub fn step(&mut self, p: &mut Parts<'_, '_>) -> Vec<(u64, Outcome)> {
        let mut ended = Vec::new();
        let started = Instant::now();
        let mut decode_spent = 0.0;
        self.abort_cancelled(p, &mut ended);
        self.admit(p);
        p.batch.clear();
        let mut entries = Vec::new();
        self.force_answers_when_full(p);
        let generated = self.sample(p, &mut entries);
        let read = self.read_prompts(p, &mut entries);
        self.stats.loop_time += started.elapsed();
        if p.batch.n_tokens() > 0 {
            let t = Instant::now();
            let decoded = self.decode(p, &entries);
            // Timing honesty: the decode may still run on the device; wait for it before
            // stopping the timer.
            p.ctx.synchronize();
            let spent = t.elapsed();
            p.stats.decode_seconds += spent.as_secs_f64();
            decode_spent = spent.as_secs_f64();
            if generated > 0 {
                self.stats.steps += 1;
                self.stats.decode_time += spent;
            } else {
                self.stats.prompt_steps += 1;
                self.stats.prompt_time += spent;
            }
            let t = Instant::now();
            match decoded {
                Ok(()) => self.book(p, entries),
                Err(err) => self.fail_batch(p, entries, &err),
            }
            self.stats.loop_time += t.elapsed();
            let _ = read;
        }
        self.collect(p, &mut ended);
        self.stats.peak_cells = self.stats.peak_cells.max(p.cache.used_cells());
        p.note_peak();
        p.stats.loop_seconds += started.elapsed().as_secs_f64() - decode_spent;
        ended
    }

    fn abort_cancelled(&mut self, p: &mut Parts<'_, '_>, ended: &mut Vec<(u64, Outcome)>) {
        let mut i = 0;
        while i < self.jobs.len() {
            if self.jobs[i]
                .control
                .as_ref()
                .is_some_and(|c| c.is_aborted())
            {
                let job = self.jobs.remove(i);
                release(p, &job);
                ended.push((job.id, Outcome::Aborted));
            } else {
                i += 1;
            }
        }
    }

    /// Admits waiting jobs in order while their slots and cells are free.
    fn admit(&mut self, p: &mut Parts<'_, '_>) {
        let mut reserved: u64 = self
            .jobs
            .iter()
            .filter(|j| j.admitted)
            .map(Job::cells_ahead)
            .sum();
        let running = self.jobs.iter().any(|j| j.admitted);
        for index in 0..self.jobs.len() {
            if self.jobs[index].admitted || self.jobs[index].failed.is_some() {
                continue;
            }
            let job = &mut self.jobs[index];
            let members = job.members.len();
            let n_seq = p.cache.n_seq();
            if members > n_seq {
                job.failed = Some(anyhow!(
                    "{members} sequences at once, but the context has {n_seq} slots: raise n_seq \
                     in [llama] or ask for fewer candidates"
                ));
                continue;
            }
            let open = (0..n_seq)
                .filter(|&s| p.cache.state(s) != SlotState::Busy)
                .count();
            if open < members {
                break; // wait for slots; keep the order
            }
            let each_own = job.members.iter().all(|m| !m.suffix.is_empty());
            let max_reuse = if each_own {
                job.shared.len()
            } else {
                job.shared.len().saturating_sub(1)
            };
            let hit = p
                .cache
                .lookup(&job.shared, job.tag)
                .map(|h| (h.seq, h.len.min(max_reuse)))
                .filter(|&(_, len)| len > 0);
            let reuse = hit.map_or(0, |(_, len)| len);
            let need = (job.prompt_tokens() - reuse) as u64 + members as u64 * job.budget;
            let room = p
                .cells
                .saturating_sub(p.cache.used_cells() - p.cache.evictable_cells());
            if running && reserved + need > room {
                break; // wait for cells
            }
            // The source of the prefix must not be evicted while the slots are taken.
            let pinned = hit.filter(|&(src, _)| p.cache.state(src) == SlotState::Idle);
            if let Some((src, _)) = pinned {
                p.cache.reuse(src);
            }
            let first = match p.take_slot(job.tag) {
                Some(seq) => {
                    if let Some((src, len)) = hit
                        && let Err(err) = p.share(src, seq, len)
                    {
                        job.failed = Some(err);
                    }
                    if let Some((src, _)) = pinned {
                        p.cache.idle(src);
                    }
                    seq
                }
                None => match pinned {
                    // No free slot but the source's own: continue it in place.
                    Some((src, len)) => {
                        if let Err(err) = p.truncate(src, len) {
                            job.failed = Some(err);
                        }
                        src
                    }
                    None => break,
                },
            };
            job.members[0].seq = Some(first);
            job.shared_read = reuse;
            job.cached = reuse;
            for m in 1..members {
                match p.take_slot(job.tag) {
                    Some(seq) => job.members[m].seq = Some(seq),
                    None => {
                        job.failed = Some(anyhow!("no slot left for member {m}"));
                        break;
                    }
                }
            }
            p.make_room(need);
            job.admitted = true;
            reserved += need;
            self.stats.cached_tokens += reuse as u64;
            p.stats.prompt_tokens += job.prompt_tokens() as u64;
            p.stats.cached_tokens += reuse as u64;
            if let Work::Generate { sink, .. } = &mut job.work {
                let usage = job_usage(&job.shared, &job.members, reuse);
                sink.prompt(crate::model::PromptUsage {
                    tokens: Some(usage.tokens),
                    cached_tokens: Some(usage.cached),
                });
            }
            if job.shared_read == job.shared.len() {
                fork(p, job);
            }
        }
    }

    /// When the cache is nearly full and nothing is left to evict, thinking candidates answer
    /// now, while there is room for it.
    fn force_answers_when_full(&mut self, p: &mut Parts<'_, '_>) {
        let thinking: u64 = self
            .jobs
            .iter()
            .filter_map(|j| match &j.work {
                Work::Generate { candidates, .. } => Some(
                    j.members
                        .iter()
                        .zip(candidates)
                        .filter(|(m, c)| m.live && c.is_thinking())
                        .count() as u64,
                ),
                _ => None,
            })
            .sum();
        if thinking == 0 {
            return;
        }
        let free = p.cells.saturating_sub(p.cache.used_cells());
        if free >= thinking * ANSWER_ROOM || p.cache.evictable_cells() > 0 {
            return;
        }
        for job in &mut self.jobs {
            if let Work::Generate {
                candidates,
                close,
                sink,
                ..
            } = &mut job.work
            {
                for (m, c) in job.members.iter_mut().zip(candidates) {
                    if m.live && c.is_thinking() {
                        c.close_thinking(
                            close,
                            sink.as_mut(),
                            format!(
                                "{} the context ({} cells) was filling up; ponder closed the \
                                 thinking so the candidate answers while there is room",
                                crate::event::TRUNCATED,
                                p.cells
                            ),
                        );
                        m.truncated = true;
                    }
                }
            }
        }
    }

    /// Samples the next token of every live candidate and adds what each feeds to the batch.
    fn sample(&mut self, p: &mut Parts<'_, '_>, entries: &mut Vec<Entry>) -> usize {
        let mut count = 0;
        for (j, job) in self.jobs.iter_mut().enumerate() {
            if !job.admitted || job.failed.is_some() {
                continue;
            }
            match &mut job.work {
                Work::Generate {
                    request,
                    candidates,
                    close,
                    sink,
                    logprobs,
                } => {
                    for (k, (member, candidate)) in job
                        .members
                        .iter_mut()
                        .zip(candidates.iter_mut())
                        .enumerate()
                    {
                        let (true, Some(at), Some(seq)) =
                            (member.live, member.logits_at, member.seq)
                        else {
                            continue;
                        };
                        let answering = candidate.is_answering();
                        candidate.pos = member.pos;
                        candidate.logits_at = at;
                        // Close tokens given outside a step (a forced answer) go first, unsampled.
                        let forced = std::mem::take(&mut candidate.feed);
                        let sampled = forced.is_empty();
                        let feed = if sampled {
                            candidate.step(&p.model.model, p.ctx, request, close, sink.as_mut());
                            std::mem::take(&mut candidate.feed)
                        } else {
                            forced
                        };
                        if let (Some((top, out)), Some(&token)) = (logprobs.as_mut(), feed.first())
                            && answering
                            && sampled
                        {
                            let logits = p.ctx.get_logits_ith(at);
                            out.logprob(candidate.beam, token_logprobs(p, logits, token, *top));
                        }
                        if candidate.done {
                            member.live = false;
                            member.done = true;
                            continue;
                        }
                        member.fed += feed.len() as u32;
                        for (i, &token) in feed.iter().enumerate() {
                            let last = i + 1 == feed.len();
                            if p.batch.add(token, member.pos, &[seq as i32], last).is_err() {
                                break;
                            }
                            member.pos += 1;
                        }
                        member.logits_at = Some(p.batch.n_tokens() - 1);
                        count += feed.len();
                        entries.push(Entry::Generated {
                            job: j,
                            member: k,
                            tokens: feed,
                        });
                    }
                }
                Work::Feed { tokens, steps } => {
                    for (k, member) in job.members.iter_mut().enumerate() {
                        let (true, Some(seq)) = (member.live, member.seq) else {
                            continue;
                        };
                        if member.fed >= *steps {
                            member.live = false;
                            member.done = true;
                            continue;
                        }
                        let token = tokens[member.fed as usize % tokens.len()];
                        if p.batch.add(token, member.pos, &[seq as i32], true).is_err() {
                            break;
                        }
                        member.fed += 1;
                        member.pos += 1;
                        member.logits_at = Some(p.batch.n_tokens() - 1);
                        count += 1;
                        entries.push(Entry::Generated {
                            job: j,
                            member: k,
                            tokens: vec![token],
                        });
                    }
                }
                Work::Logits { .. } => {}
            }
        }
        self.stats.generated += count as u64;
        count
    }

    /// Adds prompt chunks of jobs still reading, up to `n_batch` tokens this step.
    fn read_prompts(&mut self, p: &mut Parts<'_, '_>, entries: &mut Vec<Entry>) -> usize {
        let mut room = p.n_batch;
        let mut added = 0;
        for (j, job) in self.jobs.iter_mut().enumerate() {
            if !job.admitted || job.failed.is_some() || room == 0 {
                continue;
            }
            if job.shared_read < job.shared.len() {
                let seq = job.members[0].seq.unwrap_or(0);
                let needs_logits = job.members.iter().any(|m| m.suffix.is_empty());
                let end = (job.shared_read + room).min(job.shared.len());
                for pos in job.shared_read..end {
                    let last = pos + 1 == job.shared.len() && needs_logits;
                    if p.batch
                        .add(job.shared[pos], pos as i32, &[seq as i32], last)
                        .is_err()
                    {
                        break;
                    }
                }
                let n = end - job.shared_read;
                room -= n;
                added += n;
                entries.push(Entry::Shared {
                    job: j,
                    n,
                    last: end == job.shared.len(),
                });
                continue; // members read their suffixes once the shared part is in
            }
            for (k, member) in job.members.iter_mut().enumerate() {
                if member.read >= member.suffix.len() || room == 0 {
                    continue;
                }
                let Some(seq) = member.seq else { continue };
                let base = job.shared.len();
                let end = (member.read + room).min(member.suffix.len());
                for i in member.read..end {
                    let last = i + 1 == member.suffix.len();
                    if p.batch
                        .add(member.suffix[i], (base + i) as i32, &[seq as i32], last)
                        .is_err()
                    {
                        break;
                    }
                }
                let n = end - member.read;
                room -= n;
                added += n;
                entries.push(Entry::Suffix {
                    job: j,
                    member: k,
                    n,
                });
            }
        }
        self.stats.prompt_tokens += added as u64;
        added
    }

    /// Decodes the batch; a full cache evicts idle slots and tries again.
    fn decode(&mut self, p: &mut Parts<'_, '_>, entries: &[Entry]) -> Result<()> {
        let _ = entries;
        loop {
            match p.ctx.decode(p.batch) {
                Ok(()) => return Ok(()),
                Err(DecodeError::NoKvCacheSlot) => {
                    if !p.evict_one() {
                        bail!("the KV cache is full");
                    }
                }
                Err(err) => return Err(anyhow!("llama.cpp failed to decode: {err}")),
            }
        }
    }

    /// Books a decoded batch: cells into the cache, prompts read, logits handed on.
    fn book(&mut self, p: &mut Parts<'_, '_>, entries: Vec<Entry>) {
        let mut index: i32 = 0;
        for entry in entries {
            match entry {
                Entry::Generated {
                    job,
                    member,
                    tokens,
                } => {
                    index += tokens.len() as i32;
                    let job = &mut self.jobs[job];
                    if let Some(seq) = job.members[member].seq {
                        p.cache.append(seq, &tokens);
                    }
                }
                Entry::Shared { job, n, last } => {
                    index += n as i32;
                    let job = &mut self.jobs[job];
                    let seq = job.members[0].seq.unwrap_or(0);
                    let from = job.shared_read;
                    p.cache.append(seq, &job.shared[from..from + n]);
                    job.shared_read += n;
                    if last {
                        let at = index - 1;
                        for m in &mut job.members {
                            if m.suffix.is_empty() {
                                m.logits_at = Some(at);
                            }
                        }
                        fork(p, job);
                    }
                }
                Entry::Suffix { job, member, n } => {
                    index += n as i32;
                    let job = &mut self.jobs[job];
                    let m = &mut job.members[member];
                    if let Some(seq) = m.seq {
                        p.cache.append(seq, &m.suffix[m.read..m.read + n]);
                    }
                    m.read += n;
                    if m.read == m.suffix.len() {
                        m.logits_at = Some(index - 1);
                        start(p, job, member);
                    }
                }
            }
        }
    }

    /// A batch that could not be decoded: the cache is full with nothing left to evict. Its
    /// candidates end truncated; jobs still reading their prompt fail.
    fn fail_batch(&mut self, p: &mut Parts<'_, '_>, entries: Vec<Entry>, err: &anyhow::Error) {
        for entry in entries {
            match entry {
                Entry::Generated { job, member, .. } => {
                    let job = &mut self.jobs[job];
                    let m = &mut job.members[member];
                    m.truncated = true;
                    m.live = false;
                    m.done = true;
                    if let Work::Generate {
                        candidates, sink, ..
                    } = &mut job.work
                    {
                        let candidate = &mut candidates[member];
                        candidate.notes.push(format!(
                            "{} the context ({} cells) is full; the candidate ended where it was",
                            crate::event::TRUNCATED,
                            p.cells
                        ));
                        candidate.finish(sink.as_mut());
                    }
                }
                Entry::Shared { job, .. } | Entry::Suffix { job, .. } => {
                    let job = &mut self.jobs[job];
                    if job.failed.is_none() {
                        job.failed = Some(anyhow!(
                            "{err}: the prompt of {} tokens does not fit beside what is decoding \
                             ({} of {} cells in use); raise n_ctx in [llama] or lower the budgets",
                            job.prompt_tokens(),
                            p.cache.used_cells(),
                            p.cells
                        ));
                    }
                }
            }
        }
    }

    /// Removes ended jobs, returning their slots to the cache.
    fn collect(&mut self, p: &mut Parts<'_, '_>, ended: &mut Vec<(u64, Outcome)>) {
        let mut i = 0;
        while i < self.jobs.len() {
            if !self.jobs[i].finished() {
                i += 1;
                continue;
            }
            let mut job = self.jobs.remove(i);
            release(p, &job);
            let usage = job.usage();
            let outcome = match job.failed.take() {
                Some(err) => Outcome::Failed(err),
                None => match job.work {
                    Work::Generate { candidates, .. } => {
                        for candidate in &candidates {
                            let (drawn, shortlist, full) = candidate.grammar_counts();
                            self.stats.grammar_tokens += drawn;
                            self.stats.grammar_shortlist_passes += shortlist;
                            self.stats.grammar_full_passes += full;
                        }
                        Outcome::Generated {
                            truncated: job.members.iter().map(|m| m.truncated).collect(),
                            generations: candidates
                                .into_iter()
                                .map(Candidate::into_generation)
                                .collect(),
                            usage,
                        }
                    }
                    Work::Logits { .. } | Work::Feed { .. } => Outcome::Done { usage },
                },
            };
            ended.push((job.id, outcome));
        }
    }
}

/// Once the shared prompt is in the first member's slot: every other member's slot shares it,
/// and members without a suffix start.
fn fork(p: &mut Parts<'_, '_>, job: &mut Job<'_>) {
    if job.forked {
        return;
    }
    job.forked = true;
    let Some(first) = job.members[0].seq else {
        return;
    };
    let len = job.shared.len();
    for m in 1..job.members.len() {
        if let Some(seq) = job.members[m].seq
            && let Err(err) = p.share(first, seq, len)
        {
            job.failed = Some(err);
            return;
        }
    }
    for m in 0..job.members.len() {
        if job.members[m].suffix.is_empty() && job.members[m].logits_at.is_some() {
            start(p, job, m);
        }
    }
}

/// A member's prompt is read: its work begins.
fn start(p: &mut Parts<'_, '_>, job: &mut Job<'_>, member: usize) {
    let pos = (job.shared.len() + job.members[member].suffix.len()) as i32;
    let m = &mut job.members[member];
    m.pos = pos;
    match &mut job.work {
        Work::Generate { .. } | Work::Feed { .. } => m.live = true,
        Work::Logits { read } => {
            if let Some(at) = m.logits_at
                && let Err(err) = read(member, p.ctx.get_logits_ith(at))
            {
                job.failed = Some(err);
            }
            m.done = true;
        }
    }
}

/// Returns a job's slots to the cache (kept, evictable).
fn release(p: &mut Parts<'_, '_>, job: &Job<'_>) {
    for m in &job.members {
        if let Some(seq) = m.seq
            && p.cache.state(seq) == SlotState::Busy
        {
            p.cache.idle(seq);
        }
    }
}

/// The log-probability of `token` under `logits` and the `top` most likely tokens.
fn token_logprobs(
    p: &Parts<'_, '_>,
    logits: &[f32],
    token: LlamaToken,
    top: usize,
) -> TokenLogprobs {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = f64::from(max)
        + logits
            .iter()
            .map(|&l| f64::from(l - max).exp())
            .sum::<f64>()
            .ln();
    let vocab = p.model.model.vocab();
    let piece =
        |t: LlamaToken| String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned();
    let logprob = |id: usize| {
        logits
            .get(id)
            .map_or(f64::NEG_INFINITY, |&l| f64::from(l) - log_sum)
    };
    let mut best = Vec::new();
    if top > 0 {
        let mut ids: Vec<usize> = (0..logits.len()).collect();
        let k = top.min(ids.len());
        ids.select_nth_unstable_by(k.saturating_sub(1), |&a, &b| {
            logits[b].total_cmp(&logits[a])
        });
        ids.truncate(k);
        ids.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        best = ids
            .into_iter()
            .map(|id| (piece(LlamaToken(id as i32)), logprob(id)))
            .collect();
    }
    TokenLogprobs {
        token: piece(token),
        logprob: logprob(token.0 as usize),
        top: best,
    }
}
