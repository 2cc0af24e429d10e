//! One candidate's text as it streams from a server: thinking from `reasoning_content` deltas or
//! from inline `<think>` tags in `content` (the same [`ThinkSplitter`] the llama.cpp engine
//! uses), the answer through the [`StopMatcher`], the answer budget counted in deltas (servers
//! send about one token per delta, and enforce `max_tokens` themselves).
//!
//! A candidate whose stream was cut is restarted with [`CandidateText::restart`]: its text
//! starts again, but what an earlier attempt already showed is not shown twice (only the part
//! beyond it is streamed), so the live view does not repeat itself.

use crate::event::{Beam, Channel};
use crate::model::Generation;
use crate::model::stop::StopMatcher;
use crate::model::think::ThinkSplitter;

/// Text to show: a beam's next piece on a channel.
pub type Piece = (Beam, Channel, String);

/// One streaming candidate.
#[derive(Debug)]
pub struct CandidateText {
    pub beam: Beam,
    stops: Vec<String>,
    answer_budget: u32,
    splitter: ThinkSplitter,
    stop: StopMatcher,
    think: String,
    answer: String,
    think_tokens: u32,
    answer_tokens: u32,
    /// The server said it finished, or ponder stopped reading (stop string, answer budget).
    finished: bool,
    /// Bytes of thinking and answer shown by earlier attempts.
    shown: (usize, usize),
    /// The response reasons briefly in plain text before `ANSWER:`.
    plain: bool,
}

impl CandidateText {
    pub fn new(beam: Beam, stops: &[String], answer_budget: u32) -> CandidateText {
        CandidateText {
            beam,
            stops: stops.to_vec(),
            answer_budget,
            splitter: ThinkSplitter::new(),
            plain: false,
            stop: StopMatcher::new(stops),
            think: String::new(),
            answer: String::new(),
            think_tokens: 0,
            answer_tokens: 0,
            finished: false,
            shown: (0, 0),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// True once any text arrived in this attempt.
    pub fn has_text(&self) -> bool {
        self.think_tokens + self.answer_tokens > 0
    }

    /// A `reasoning_content` delta.
    pub fn reasoning(&mut self, text: &str, out: &mut Vec<Piece>) {
        if self.finished || text.is_empty() {
            return;
        }
        self.think_tokens += 1;
        self.emit(Channel::Think, text, out);
    }

    /// A `content` delta (which may hold inline `<think>` tags).
    pub fn content(&mut self, text: &str, out: &mut Vec<Piece>) {
        if self.finished || text.is_empty() {
            return;
        }
        let pieces = self.splitter.push(text);
        if self.splitter.is_thinking() {
            self.think_tokens += 1;
        } else {
            self.answer_tokens += 1;
        }
        for (channel, piece) in pieces {
            self.emit(channel, &piece, out);
        }
        // Deltas are about one token each, not exactly: one past the budget is let through.
        if self.stop.stopped() || self.answer_tokens > self.answer_budget {
            self.finish(out);
        }
    }

    /// The stream of this candidate ended: held-back text is flushed.
    pub fn finish(&mut self, out: &mut Vec<Piece>) {
        if self.finished {
            return;
        }
        for (channel, piece) in self.splitter.finish() {
            self.emit(channel, &piece, out);
        }
        let held = self.stop.finish();
        if !held.is_empty() {
            self.answer.push_str(&held);
            self.show(Channel::Answer, out);
        }
        self.finished = true;
    }

    /// The answer so far.
    pub fn answer(&self) -> &str {
        &self.answer
    }

    /// Starts the candidate again. After a cut stream (`replay`: the same request again) what
    /// was shown is remembered and not shown twice; after a refused answer the new attempt is
    /// shown in full (the finished answer replaces what was streamed, in the session's state).
    pub fn restart(&mut self, replay: bool) {
        let shown = if replay { self.shown } else { (0, 0) };
        let plain = self.plain;
        *self = CandidateText::new(self.beam, &self.stops.clone(), self.answer_budget);
        if plain {
            self.splitter = ThinkSplitter::plain();
            self.plain = true;
        }
        self.shown = shown;
    }

    /// Reads brief plain reasoning (`think = "brief"`): thinking until `ANSWER:`.
    pub fn plain(mut self) -> CandidateText {
        self.splitter = ThinkSplitter::plain();
        self.plain = true;
        self
    }

    pub fn into_generation(self) -> Generation {
        Generation {
            beam: self.beam,
            think: self.think,
            answer: self.answer,
            think_tokens: self.think_tokens,
            answer_tokens: self.answer_tokens,
            forced_answer: false,
            notes: Vec::new(),
        }
    }

    fn emit(&mut self, channel: Channel, piece: &str, out: &mut Vec<Piece>) {
        match channel {
            // Inline thinking starts `<think>\n`; reasoning fields start with the text itself.
            Channel::Think if self.think.is_empty() => self.think.push_str(piece.trim_start()),
            Channel::Think => self.think.push_str(piece),
            Channel::Answer => {
                let certain = self.stop.push(piece);
                self.answer.push_str(&certain);
            }
        }
        self.show(channel, out);
    }

    /// Sends the part of a channel's text not shown before.
    fn show(&mut self, channel: Channel, out: &mut Vec<Piece>) {
        let (text, shown) = match channel {
            Channel::Think => (&self.think, &mut self.shown.0),
            Channel::Answer => (&self.answer, &mut self.shown.1),
        };
        let mut from = (*shown).min(text.len());
        while !text.is_char_boundary(from) {
            from += 1;
        }
        if from < text.len() {
            out.push((self.beam, channel, text[from..].to_string()));
            *shown = text.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(out: &[Piece], channel: Channel) -> String {
        out.iter()
            .filter(|(_, c, _)| *c == channel)
            .map(|(_, _, t)| t.as_str())
            .collect()
    }

    #[test]
    fn reasoning_field_and_inline_tags_split_alike() {
        let mut a = CandidateText::new(0, &[], 100);
        let mut b = CandidateText::new(0, &[], 100);
        let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
        a.reasoning("plan", &mut out_a);
        a.content("done", &mut out_a);
        a.finish(&mut out_a);
        for piece in ["<thi", "nk>pl", "an</think>\n\n", "do", "ne"] {
            b.content(piece, &mut out_b);
        }
        b.finish(&mut out_b);
        let (ga, gb) = (a.into_generation(), b.into_generation());
        assert_eq!((ga.think.as_str(), ga.answer.as_str()), ("plan", "done"));
        assert_eq!((gb.think.as_str(), gb.answer.as_str()), ("plan", "done"));
        assert_eq!(collect(&out_b, Channel::Think), "plan");
        assert_eq!(collect(&out_b, Channel::Answer), "done");
    }

    #[test]
    fn stop_strings_and_the_answer_budget_end_the_candidate() {
        let mut c = CandidateText::new(3, &["END".to_string()], 100);
        let mut out = Vec::new();
        for piece in ["ab", "cE", "ND more"] {
            c.content(piece, &mut out);
        }
        assert!(c.is_finished());
        assert_eq!(c.into_generation().answer, "abc");
        let mut c = CandidateText::new(0, &[], 2);
        for piece in ["a", "b", "c", "d"] {
            c.content(piece, &mut out);
        }
        assert!(c.is_finished());
        let g = c.into_generation();
        assert_eq!((g.answer.as_str(), g.answer_tokens), ("abc", 3));
    }

    #[test]
    fn a_restart_does_not_show_the_same_text_twice() {
        let mut c = CandidateText::new(0, &[], 100);
        let mut out = Vec::new();
        c.reasoning("think", &mut out);
        c.content("ans", &mut out);
        c.restart(true);
        c.reasoning("think more", &mut out);
        c.content("answer", &mut out);
        c.finish(&mut out);
        assert_eq!(collect(&out, Channel::Think), "think more");
        assert_eq!(collect(&out, Channel::Answer), "answer");
        let g = c.into_generation();
        assert_eq!(
            (g.think.as_str(), g.answer.as_str()),
            ("think more", "answer")
        );
    }
}
