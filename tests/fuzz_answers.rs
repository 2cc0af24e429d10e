//! Fuzzing the answer parsers with proptest: any answer a model may write gives a value or an
//! error, never a panic or a hang. Kept apart from `tests/fuzz.rs` so the targets can follow the
//! parsers as they are rewritten: each target calls one parser through [`parsers`].
//!
//! `PONDER_FUZZ_CASES=N` sets the cases per target (a few by default); `scripts/fuzz.sh` runs
//! them for a set time. Failing cases are kept in `tests/fuzz_answers.regressions`.

mod support;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use support::fuzz::config;

/// The parsers under test, in one place to repoint when they change.
mod parsers {
    pub fn edits(answer: &str) {
        let _ = ponder::answer::parse_edits(answer);
    }
    pub fn localize(answer: &str) {
        let _ = ponder::answer::parse_localize_answer(answer);
    }
    pub fn code_block(answer: &str) {
        let _ = ponder::answer::code_block(answer, "python");
    }
    pub fn json_array(answer: &str) {
        let _ = ponder::answer::json_array::<serde_json::Value>(answer, "items");
    }
}

/// Answers assembled from the pieces models emit, well-formed or not.
fn answer() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<<<<<<< SEARCH\n"),
        Just("=======\n"),
        Just(">>>>>>> REPLACE\n"),
        Just("```python\n"),
        Just("```json\n"),
        Just("```\n"),
        Just("calc.py\n"),
        Just("    return a - b\n"),
        Just("<think>\n"),
        Just("</think>\n"),
        Just("{\"calls\": [{\"tool\": \"search\", \"args\": {\"q\": \"x\"}}]}"),
        Just("[{\"file\": \"calc.py\", \"function\": \"add\"}]"),
        Just("{"),
        Just("}"),
        Just("["),
        Just("]"),
        Just("\r\n"),
        Just("\n"),
        Just("<|im_end|>"),
        Just("\u{0}"),
    ];
    (
        proptest::collection::vec(piece, 0..30),
        "\\PC{0,30}",
        0usize..30,
    )
        .prop_map(|(pieces, text, at)| {
            let mut pieces: Vec<String> = pieces.into_iter().map(str::to_string).collect();
            let at = at.min(pieces.len());
            pieces.insert(at, text);
            pieces.concat()
        })
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn answer_parsers_never_panic(text in prop_oneof![answer(), "\\PC{0,400}"]) {
        let started = Instant::now();
        parsers::edits(&text);
        parsers::localize(&text);
        parsers::code_block(&text);
        parsers::json_array(&text);
        prop_assert!(started.elapsed() < Duration::from_secs(5));
    }
}
