//! Judging over HTTP: P(yes) from the `top_logprobs` of the first answer token, or — when the
//! config says the server gives no logprobs — a yes/no answer read as 1 or 0 (marked as such in
//! the engine's description, since those are not probabilities).
//!
//! A top token counts as yes when, trimmed, lower-cased and without trailing punctuation, it is
//! `yes` (` yes`, `Yes`, `YES.`), and as no likewise for `no`; the score is the yes mass over the
//! yes and no mass. Word pieces (`y`, `n`) do not count: a client cannot know what they would
//! have become, and the vocabularies of real models hold `yes` and `no` whole. (The llama.cpp
//! engine, which sees the vocabulary, uses the first token of each spelling instead.)

use anyhow::{Result, bail};

use super::wire::{Completion, TopLogprob};

/// Whether a token begins a yes (`Some(true)`), a no (`Some(false)`), or neither.
fn word_class(token: &str) -> Option<bool> {
    let t = token
        .trim()
        .trim_end_matches(['.', ',', '!', ':'])
        .to_lowercase();
    if t.is_empty() {
        return None;
    }
    match t.as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// P(yes) / (P(yes) + P(no)) over the alternatives of one position.
pub fn p_yes(top: &[TopLogprob]) -> Result<f64> {
    let (mut yes, mut no) = (0.0, 0.0);
    for alt in top {
        match word_class(&alt.token) {
            Some(true) => yes += alt.logprob.exp(),
            Some(false) => no += alt.logprob.exp(),
            None => {}
        }
    }
    if yes + no <= 0.0 || !(yes + no).is_finite() {
        let seen: Vec<&str> = top.iter().take(5).map(|t| t.token.as_str()).collect();
        bail!(
            "neither yes nor no is among the judge's {} most likely first tokens ({seen:?}…); \
             raise top_logprobs in [openai] or check the judging prompt",
            top.len()
        );
    }
    Ok(yes / (yes + no))
}

/// The score of one judging completion read through logprobs.
pub fn from_logprobs(completion: &Completion, server: &str) -> Result<f64> {
    let first = completion
        .choices
        .first()
        .and_then(|c| c.logprobs.as_ref())
        .and_then(|l| l.content.as_ref())
        .and_then(|c| c.first());
    match first {
        Some(token) if !token.top_logprobs.is_empty() => p_yes(&token.top_logprobs),
        Some(token) => p_yes(&[TopLogprob {
            token: token.token.clone(),
            logprob: token.logprob,
        }]),
        None => bail!(
            "the server at {server} returned no logprobs, which judging needs: use a server \
             that returns them (vLLM, llama-server, ponder serve), or set judge = \"text\" in \
             [openai] to read a yes/no answer instead (scores become 0 or 1)"
        ),
    }
}

/// The score of one judging completion read as text: yes 1, no 0, anything else 0.5.
pub fn from_text(completion: &Completion) -> f64 {
    let answer = completion
        .choices
        .first()
        .and_then(|c| c.message.content.as_deref())
        .unwrap_or("");
    let word: String = answer
        .trim()
        .chars()
        .take_while(|c| c.is_alphabetic())
        .collect();
    match word.to_lowercase().as_str() {
        "yes" => 1.0,
        "no" => 0.0,
        _ => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alt(token: &str, p: f64) -> TopLogprob {
        TopLogprob {
            token: token.to_string(),
            logprob: p.ln(),
        }
    }

    #[test]
    fn sums_every_spelling_of_yes_and_no() {
        let top = [
            alt("Yes", 0.4),
            alt(" yes", 0.2),
            alt("No", 0.2),
            alt("The", 0.1),
            alt("n", 0.1),
        ];
        // `n` is a word piece: left out.
        let p = p_yes(&top).unwrap();
        assert!((p - 0.6 / 0.8).abs() < 1e-9, "{p}");
    }

    #[test]
    fn words_that_only_start_like_yes_or_no_do_not_count() {
        assert_eq!(word_class("Yes."), Some(true));
        assert_eq!(word_class(" YES"), Some(true));
        assert_eq!(word_class("y"), None);
        assert_eq!(word_class("not"), None);
        assert_eq!(word_class("yesterday"), None);
        assert_eq!(word_class("  "), None);
        assert!(p_yes(&[alt("maybe", 0.9)]).is_err());
    }

    #[test]
    fn missing_logprobs_say_what_to_do() {
        let completion: Completion =
            serde_json::from_str(r#"{"choices":[{"index":0,"message":{"content":"Yes"}}]}"#)
                .unwrap();
        let err = from_logprobs(&completion, "http://x/v1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("judge = \"text\""), "{err}");
        assert_eq!(from_text(&completion), 1.0);
    }
}
