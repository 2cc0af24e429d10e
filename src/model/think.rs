//! Splits a streamed response into its thinking and its answer, as the tokens arrive.
//!
//! A response is `<think>…</think>` followed by the answer; text before any tag that is not a tag is
//! answer. Tags may be cut across tokens (`<thi` + `nk>`): the splitter holds back only the text that
//! could still become a tag, so the output is the same however the input was chunked. Brief plain
//! reasoning (`think = "brief"`) is the same with no opening tag and [`PLAIN_CLOSE`] as the close.

use crate::event::Channel;

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";
/// What ends brief plain reasoning and begins the answer.
pub const PLAIN_CLOSE: &str = "ANSWER:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing but whitespace seen yet: an opening tag may still come.
    Start,
    Think,
    /// Answer, leading whitespace not yet passed.
    AnswerStart,
    Answer,
}

/// Incremental think/answer splitter for one sequence.
#[derive(Debug, Clone)]
pub struct ThinkSplitter {
    mode: Mode,
    pending: String,
    close: &'static str,
}

impl Default for ThinkSplitter {
    fn default() -> Self {
        ThinkSplitter::new()
    }
}

impl ThinkSplitter {
    /// A splitter for a response that may open with `<think>`.
    pub fn new() -> ThinkSplitter {
        ThinkSplitter {
            mode: Mode::Start,
            pending: String::new(),
            close: CLOSE,
        }
    }

    /// A splitter for a response whose prompt already opened `<think>` (DeepSeek-R1 style).
    pub fn in_think() -> ThinkSplitter {
        ThinkSplitter {
            mode: Mode::Think,
            pending: String::new(),
            close: CLOSE,
        }
    }

    /// A splitter for brief plain reasoning, ended by [`PLAIN_CLOSE`].
    pub fn plain() -> ThinkSplitter {
        ThinkSplitter {
            mode: Mode::Think,
            pending: String::new(),
            close: PLAIN_CLOSE,
        }
    }

    /// True while the text being received is thinking.
    pub fn is_thinking(&self) -> bool {
        self.mode == Mode::Think
    }

    /// True once thinking is over (or never began): later text is answer.
    pub fn is_answering(&self) -> bool {
        matches!(self.mode, Mode::AnswerStart | Mode::Answer)
    }

    /// Feeds the next piece of text; returns the pieces that are now certain, with their channel.
    pub fn push(&mut self, text: &str) -> Vec<(Channel, String)> {
        self.pending.push_str(text);
        let mut out = Vec::new();
        loop {
            match self.mode {
                Mode::Start => {
                    let trimmed = self.pending.trim_start();
                    if trimmed.is_empty() {
                        return out;
                    }
                    if let Some(rest) = trimmed.strip_prefix(OPEN) {
                        self.pending = rest.to_string();
                        self.mode = Mode::Think;
                    } else if OPEN.starts_with(trimmed) {
                        return out; // could still become `<think>`
                    } else {
                        self.mode = Mode::AnswerStart;
                    }
                }
                Mode::Think => match self.pending.find(self.close) {
                    Some(at) => {
                        emit(&mut out, Channel::Think, &self.pending[..at]);
                        self.pending.drain(..at + self.close.len());
                        self.mode = Mode::AnswerStart;
                    }
                    None => {
                        let keep = partial_tag_suffix(&self.pending, self.close);
                        let cut = self.pending.len() - keep;
                        emit(&mut out, Channel::Think, &self.pending[..cut]);
                        self.pending.drain(..cut);
                        return out;
                    }
                },
                Mode::AnswerStart => {
                    let trimmed = self.pending.trim_start();
                    if trimmed.is_empty() {
                        self.pending.clear();
                        return out;
                    }
                    self.pending = trimmed.to_string();
                    self.mode = Mode::Answer;
                }
                Mode::Answer => {
                    emit(&mut out, Channel::Answer, &self.pending);
                    self.pending.clear();
                    return out;
                }
            }
        }
    }

    /// Ends the stream: whatever was held back is flushed to the channel it was in.
    pub fn finish(&mut self) -> Vec<(Channel, String)> {
        let mut out = Vec::new();
        let rest = std::mem::take(&mut self.pending);
        match self.mode {
            Mode::Think => emit(&mut out, Channel::Think, &rest),
            Mode::Start | Mode::AnswerStart => emit(&mut out, Channel::Answer, rest.trim_start()),
            Mode::Answer => emit(&mut out, Channel::Answer, &rest),
        }
        self.mode = Mode::Answer;
        out
    }

    /// Closes thinking early (a think budget ran out): later text is answer.
    pub fn force_answer(&mut self) -> Vec<(Channel, String)> {
        let mut out = Vec::new();
        if self.mode == Mode::Think {
            let rest = std::mem::take(&mut self.pending);
            emit(&mut out, Channel::Think, &rest);
        }
        self.mode = Mode::AnswerStart;
        out
    }
}

fn emit(out: &mut Vec<(Channel, String)>, channel: Channel, text: &str) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some((last, buf)) if *last == channel => buf.push_str(text),
        _ => out.push((channel, text.to_string())),
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `tag`.
fn partial_tag_suffix(text: &str, tag: &str) -> usize {
    (1..tag.len())
        .rev()
        .find(|&n| {
            text.len() >= n
                && text.is_char_boundary(text.len() - n)
                && tag.starts_with(&text[text.len() - n..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split_all(chunks: &[&str]) -> (String, String) {
        let mut splitter = ThinkSplitter::new();
        let mut think = String::new();
        let mut answer = String::new();
        let pieces = chunks
            .iter()
            .flat_map(|c| splitter.push(c))
            .collect::<Vec<_>>()
            .into_iter()
            .chain(splitter.finish());
        for (channel, text) in pieces {
            match channel {
                Channel::Think => think.push_str(&text),
                Channel::Answer => answer.push_str(&text),
            }
        }
        (think, answer)
    }

    #[test]
    fn splits_think_and_answer() {
        let (think, answer) = split_all(&["<think>why</think>\n\n[\"a.py\"]"]);
        assert_eq!(think, "why");
        assert_eq!(answer, "[\"a.py\"]");
    }

    #[test]
    fn tags_cut_across_tokens() {
        let (think, answer) = split_all(&[
            "  <th",
            "ink>lo",
            "ng thought</",
            "thi",
            "nk>",
            "ans",
            "wer",
        ]);
        assert_eq!(think, "long thought");
        assert_eq!(answer, "answer");
    }

    #[test]
    fn no_think_tag_is_all_answer() {
        let (think, answer) = split_all(&["<b>bold</b> text"]);
        assert_eq!(think, "");
        assert_eq!(answer, "<b>bold</b> text");
    }

    #[test]
    fn unclosed_think_stays_think() {
        let (think, answer) = split_all(&["<think>still going </th"]);
        assert_eq!(think, "still going </th");
        assert_eq!(answer, "");
    }

    #[test]
    fn brief_plain_reasoning_ends_at_its_marker() {
        let mut splitter = ThinkSplitter::plain();
        let mut out = splitter.push("The loader returns None. ANS");
        out.extend(splitter.push("WER:\n[\"a.py\"]"));
        out.extend(splitter.finish());
        assert_eq!(
            out,
            vec![
                (Channel::Think, "The loader returns None. ".to_string()),
                (Channel::Answer, "[\"a.py\"]".to_string())
            ]
        );
    }

    #[test]
    fn forcing_the_answer_switches_channel() {
        let mut splitter = ThinkSplitter::new();
        splitter.push("<think>too long");
        assert!(splitter.is_thinking());
        splitter.force_answer();
        assert_eq!(splitter.push("x"), vec![(Channel::Answer, "x".to_string())]);
    }

    proptest! {
        #[test]
        fn chunking_does_not_change_the_split(
            think in "[a-z <>/\n]{0,40}",
            answer in "[a-z <>/\n\u{e9}]{0,40}",
            cuts in proptest::collection::vec(0usize..100, 0..12),
        ) {
            prop_assume!(!think.contains(CLOSE));
            let text = format!("<think>{think}</think>{answer}");
            let whole = split_all(&[&text]);
            let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % (text.len() + 1)).filter(|&c| text.is_char_boundary(c)).collect();
            bounds.push(0);
            bounds.push(text.len());
            bounds.sort();
            bounds.dedup();
            let chunks: Vec<&str> = bounds.windows(2).map(|w| &text[w[0]..w[1]]).collect();
            prop_assert_eq!(split_all(&chunks), whole.clone());
            prop_assert_eq!(whole.0, think);
            prop_assert_eq!(whole.1, answer.trim_start());
        }
    }
}
