//! Notices a generation that has gone degenerate: the same run of tokens over and over, or chat
//! turn markers written as text (`<|im_start|>` from a model prompted in a format it does not
//! know). Weak models do both, and left alone they spend the whole think budget on it.
//!
//! Repetition is found per period p (1 to [`MAX_PERIOD`] tokens) by how long the stream has
//! matched itself p tokens back: a loop is at least three copies covering at least
//! [`MIN_SPAN`] tokens. Each token costs O([`MAX_PERIOD`]).

use std::collections::VecDeque;

use super::family;

/// Longest repeating unit looked for, in tokens.
pub const MAX_PERIOD: usize = 200;
/// Fewest tokens a loop must cover before it is called one.
pub const MIN_SPAN: usize = 96;
/// Fewest copies of the unit.
const MIN_COPIES: usize = 3;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Degenerate {
    /// The last `period × copies` tokens are `copies` copies of one unit, which reads `text`.
    Repeats {
        period: usize,
        copies: usize,
        text: String,
        /// Bytes of text in all the copies but the first: what to cut to keep one.
        repeats_bytes: usize,
    },
    /// A chat turn marker written as text.
    Marker(&'static str),
}

impl std::fmt::Display for Degenerate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Degenerate::Repeats { copies, text, .. } => {
                let shown: String = text.chars().take(60).collect();
                let cut = if shown.len() < text.len() { "…" } else { "" };
                write!(
                    f,
                    "it repeated {:?}{cut} {copies} times",
                    shown.replace('\n', "⏎")
                )
            }
            Degenerate::Marker(marker) => write!(f, "it wrote the chat marker {marker} as text"),
        }
    }
}

/// Watches one candidate's stream.
#[derive(Debug, Clone)]
pub struct LoopGuard {
    tokens: VecDeque<i32>,
    pieces: VecDeque<String>,
    /// For each period p (index p - 1), how many tokens in a row matched the token p back.
    matched: Vec<usize>,
    /// The last characters of text, for markers cut across tokens.
    tail: String,
    watch_markers: bool,
}

impl LoopGuard {
    /// A guard; `markers` also watches for chat turn markers in the text.
    pub fn new(markers: bool) -> LoopGuard {
        LoopGuard {
            tokens: VecDeque::new(),
            pieces: VecDeque::new(),
            matched: vec![0; MAX_PERIOD],
            tail: String::new(),
            watch_markers: markers,
        }
    }

    /// Turns marker watching on or off (answers have stop strings for them instead).
    pub fn watch_markers(&mut self, on: bool) {
        self.watch_markers = on;
        self.tail.clear();
    }

    /// Takes the next token and its text; says so once the stream has gone degenerate.
    pub fn push(&mut self, token: i32, piece: &str) -> Option<Degenerate> {
        self.tokens.push_back(token);
        self.pieces.push_back(piece.to_string());
        let keep = MAX_PERIOD * MIN_COPIES + 1;
        if self.tokens.len() > keep {
            self.tokens.pop_front();
            self.pieces.pop_front();
        }
        if self.watch_markers && !piece.is_empty() {
            self.tail.push_str(piece);
            if let Some(marker) = family::turn_markers().find(|m| self.tail.contains(m)) {
                self.tail.clear();
                return Some(Degenerate::Marker(marker));
            }
            let excess = self.tail.len().saturating_sub(64);
            if excess > 0 {
                let cut = (excess..=self.tail.len())
                    .find(|&i| self.tail.is_char_boundary(i))
                    .unwrap_or(self.tail.len());
                self.tail.drain(..cut);
            }
        }
        let n = self.tokens.len();
        for period in 1..=MAX_PERIOD {
            let run = &mut self.matched[period - 1];
            if n > period && self.tokens[n - 1] == self.tokens[n - 1 - period] {
                *run += 1;
            } else {
                *run = 0;
                continue;
            }
            let span = *run + period;
            if span >= MIN_SPAN && span >= MIN_COPIES * period {
                let text: String = self
                    .pieces
                    .iter()
                    .skip(n - period)
                    .map(String::as_str)
                    .collect();
                let copies = span / period;
                let repeats_bytes = self
                    .pieces
                    .iter()
                    .skip(n - (copies - 1) * period)
                    .map(String::len)
                    .sum();
                self.reset();
                return Some(Degenerate::Repeats {
                    period,
                    copies,
                    text,
                    repeats_bytes,
                });
            }
        }
        None
    }

    fn reset(&mut self) {
        self.tokens.clear();
        self.pieces.clear();
        self.matched.iter_mut().for_each(|m| *m = 0);
        self.tail.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(guard: &mut LoopGuard, tokens: &[i32]) -> Option<(usize, Degenerate)> {
        tokens
            .iter()
            .enumerate()
            .find_map(|(i, &t)| guard.push(t, &format!("t{t} ")).map(|d| (i, d)))
    }

    #[test]
    fn a_repeated_sentence_is_a_loop() {
        let sentence: Vec<i32> = (100..120).collect();
        let stream: Vec<i32> = (0..50)
            .chain(sentence.iter().copied().cycle().take(200))
            .collect();
        let mut guard = LoopGuard::new(false);
        let (at, found) = feed(&mut guard, &stream).expect("a loop");
        // Found once the loop covers MIN_SPAN tokens: 50 + 96 - 1, give or take the unit.
        assert!(at < 50 + MIN_SPAN + 20, "found at {at}");
        match found {
            Degenerate::Repeats {
                period,
                copies,
                text,
                repeats_bytes,
            } => {
                assert_eq!(period, 20);
                assert!(copies >= 4);
                assert_eq!(repeats_bytes, (copies - 1) * text.len());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_token_over_and_over_is_a_loop() {
        let mut guard = LoopGuard::new(false);
        let (at, found) = feed(&mut guard, &[7; 200]).unwrap();
        assert_eq!(at, MIN_SPAN - 1);
        assert!(matches!(found, Degenerate::Repeats { period: 1, .. }));
    }

    #[test]
    fn ordinary_text_is_not_a_loop() {
        // Repeated short phrases inside varied text, and a short exact repeat, are fine.
        let mut stream = Vec::new();
        for i in 0..300 {
            stream.extend([1, 2, 3, 1000 + i]);
        }
        let mut guard = LoopGuard::new(false);
        assert_eq!(feed(&mut guard, &stream), None);
        let mut guard = LoopGuard::new(false);
        let twice: Vec<i32> = (0..60).chain(0..60).collect();
        assert_eq!(feed(&mut guard, &twice), None);
    }

    #[test]
    fn markers_cut_across_tokens_are_seen() {
        let mut guard = LoopGuard::new(true);
        assert_eq!(guard.push(1, "Okay <|im_"), None);
        assert_eq!(
            guard.push(2, "start|>user"),
            Some(Degenerate::Marker("<|im_start|>"))
        );
        let mut quiet = LoopGuard::new(false);
        assert_eq!(quiet.push(1, "<|im_start|>"), None);
    }

    #[test]
    fn says_what_repeated() {
        let d = Degenerate::Repeats {
            period: 2,
            copies: 5,
            text: "**#".into(),
            repeats_bytes: 12,
        };
        assert_eq!(d.to_string(), "it repeated \"**#\" 5 times");
    }
}
