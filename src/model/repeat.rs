//! Notices a generation that has gone degenerate: the same run of tokens over and over, or chat
//! turn markers written as text (`<|im_start|>` from a model prompted in a format it does not
//! know). Weak models do both, and left alone they spend the whole think budget on it.
//!
//! Repetition is found per period p (1 to [`MAX_PERIOD`] tokens) by how long the stream has
//! matched itself p tokens back: a loop is at least three copies covering at least
//! [`MIN_SPAN`] tokens. A counting loop (`Step 7: … Step 8: …`, `line 41, line 42, …`) differs
//! only in its numbers: it is found the same way on the stream with every number token taken as
//! one, over at least [`MIN_COUNTING_SPAN`] tokens, since lists of numbers are sometimes meant.
//! Each token costs O([`MAX_PERIOD`]).

use std::collections::VecDeque;

use super::family;

/// Longest repeating unit looked for, in tokens.
pub const MAX_PERIOD: usize = 200;
/// Fewest tokens a loop must cover before it is called one.
pub const MIN_SPAN: usize = 96;
/// Fewest copies of the unit.
const MIN_COPIES: usize = 3;
/// Fewest tokens a loop whose copies differ only in their numbers must cover.
pub const MIN_COUNTING_SPAN: usize = 2 * MIN_SPAN;
/// What every number token is taken as in the counting stream.
const NUMBER: i32 = i32::MIN;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Degenerate {
    /// The last `period × copies` tokens are `copies` copies of one unit, which reads `text`
    /// (the copies' numbers differ when `counting`).
    Repeats {
        period: usize,
        copies: usize,
        text: String,
        counting: bool,
        /// Bytes of text in all the copies but the first: what to cut to keep one.
        repeats_bytes: usize,
    },
    /// A chat turn marker written as text.
    Marker(&'static str),
}

impl std::fmt::Display for Degenerate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Degenerate::Repeats {
                copies,
                text,
                counting,
                ..
            } => {
                let shown: String = text.chars().take(60).collect();
                let cut = if shown.len() < text.len() { "…" } else { "" };
                let counting = if *counting { ", counting" } else { "" };
                write!(
                    f,
                    "it repeated {:?}{cut} {copies} times{counting}",
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
    /// The tokens with every number token as [`NUMBER`].
    shapes: VecDeque<i32>,
    pieces: VecDeque<String>,
    /// For each period p (index p - 1), how many tokens in a row matched the token p back.
    matched: Vec<usize>,
    /// The same over `shapes`.
    shape_matched: Vec<usize>,
    /// The last characters of text, for markers cut across tokens.
    tail: String,
    watch_markers: bool,
}

impl LoopGuard {
    /// A guard; `markers` also watches for chat turn markers in the text.
    pub fn new(markers: bool) -> LoopGuard {
        LoopGuard {
            tokens: VecDeque::new(),
            shapes: VecDeque::new(),
            pieces: VecDeque::new(),
            matched: vec![0; MAX_PERIOD],
            shape_matched: vec![0; MAX_PERIOD],
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
        let digits = piece.trim();
        let number = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        self.tokens.push_back(token);
        self.shapes.push_back(if number { NUMBER } else { token });
        self.pieces.push_back(piece.to_string());
        let keep = MAX_PERIOD * MIN_COPIES + 1;
        if self.tokens.len() > keep {
            self.tokens.pop_front();
            self.shapes.pop_front();
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
        let found = loop_ending_here(&self.tokens, &mut self.matched, MIN_SPAN)
            .map(|found| (found, false))
            .or_else(|| {
                loop_ending_here(&self.shapes, &mut self.shape_matched, MIN_COUNTING_SPAN)
                    .map(|found| (found, true))
            });
        let ((period, span), counting) = found?;
        let n = self.tokens.len();
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
        Some(Degenerate::Repeats {
            period,
            copies,
            text,
            counting,
            repeats_bytes,
        })
    }

    fn reset(&mut self) {
        self.tokens.clear();
        self.shapes.clear();
        self.pieces.clear();
        self.matched.iter_mut().for_each(|m| *m = 0);
        self.shape_matched.iter_mut().for_each(|m| *m = 0);
        self.tail.clear();
    }
}

/// Updates `matched` (per period, how many tokens in a row matched the one a period back) for the
/// last token of `stream`; the shortest period whose copies now cover `min_span` tokens, with
/// that span.
fn loop_ending_here(
    stream: &VecDeque<i32>,
    matched: &mut [usize],
    min_span: usize,
) -> Option<(usize, usize)> {
    let n = stream.len();
    let mut found = None;
    for period in 1..=MAX_PERIOD {
        let run = &mut matched[period - 1];
        if n > period && stream[n - 1] == stream[n - 1 - period] {
            *run += 1;
        } else {
            *run = 0;
            continue;
        }
        let span = *run + period;
        if found.is_none() && span >= min_span && span >= MIN_COPIES * period {
            found = Some((period, span));
        }
    }
    found
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
                counting,
                repeats_bytes,
            } => {
                assert!(!counting);
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

    /// `Step N: check again` for N = 1, 2, …, its digits one token each; the step found at.
    fn count_steps(
        guard: &mut LoopGuard,
        words: impl Fn(u32) -> [i32; 3],
    ) -> Option<(u32, Degenerate)> {
        for step in 1..200u32 {
            let mut pieces: Vec<(i32, String)> = vec![(1, "Step".into()), (2, " ".into())];
            for digit in step.to_string().chars() {
                pieces.push((500 + digit.to_digit(10).unwrap() as i32, digit.to_string()));
            }
            for word in words(step) {
                pieces.push((word, format!(" w{word}")));
            }
            pieces.push((6, "\n".into()));
            for (token, piece) in pieces {
                if let Some(found) = guard.push(token, &piece) {
                    return Some((step, found));
                }
            }
        }
        None
    }

    #[test]
    fn a_counting_loop_is_a_loop() {
        let mut guard = LoopGuard::new(false);
        let (at, found) = count_steps(&mut guard, |_| [3, 4, 5]).expect("a counting loop");
        assert!(
            matches!(found, Degenerate::Repeats { counting: true, .. }),
            "{found:?}"
        );
        // 8 tokens a step from step 10 on: MIN_COUNTING_SPAN is 24 of them.
        assert!((20..60).contains(&at), "found at step {at}");
        assert!(found.to_string().ends_with("times, counting"), "{found}");
    }

    #[test]
    fn a_numbered_list_of_different_items_is_not_a_loop() {
        let mut guard = LoopGuard::new(false);
        let found = count_steps(&mut guard, |step| [3, 1000 + step as i32, 5]);
        assert_eq!(found, None);
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
            counting: false,
            repeats_bytes: 12,
        };
        assert_eq!(d.to_string(), "it repeated \"**#\" 5 times");
    }
}
