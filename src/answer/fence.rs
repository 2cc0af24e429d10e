//! Fenced code blocks in answers (```lang … ```).
//!
//! Closed blocks come first; a fence left open at the end of an answer (the answer budget ran out,
//! or the model never closed it) still counts, after every closed block, so a later broken fence
//! never hides an earlier good block.

/// One fenced block: its info string (`python`, empty) and its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block<'a> {
    tag: &'a str,
    body: &'a str,
    closed: bool,
}

fn blocks(answer: &str) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    let mut rest = answer;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let Some(line_end) = after.find('\n') else {
            break; // a fence with nothing after it
        };
        let tag = after[..line_end].trim();
        let body = &after[line_end + 1..];
        match closing_fence(body) {
            Some((end, next)) => {
                out.push(Block {
                    tag,
                    body: &body[..end],
                    closed: true,
                });
                rest = &body[next..];
            }
            None => {
                out.push(Block {
                    tag,
                    body,
                    closed: false,
                });
                break;
            }
        }
    }
    out
}

/// Where the body's closing fence starts, and where the text after it starts: a line that is a
/// fence (possibly indented), or a fence glued to the end of the last line.
fn closing_fence(body: &str) -> Option<(usize, usize)> {
    let at = body.find("```")?;
    let line_start = body[..at].rfind('\n').map_or(0, |i| i + 1);
    let start = if body[line_start..at].trim().is_empty() {
        line_start
    } else {
        at
    };
    Some((start, at + 3))
}

/// Every closed fenced block of `text`, in order: its info string (`python`, empty) and body.
pub fn closed_blocks(text: &str) -> Vec<(&str, &str)> {
    blocks(text)
        .into_iter()
        .filter(|b| b.closed)
        .map(|b| (b.tag, b.body))
        .collect()
}

/// The body of a fenced code block, preferring a closed one tagged `lang` (any case, `py` for
/// `python`), then any closed block, then an unclosed one tagged `lang`, then any.
pub fn code_block<'a>(answer: &'a str, lang: &str) -> Option<&'a str> {
    let all = blocks(answer);
    let tagged = |b: &&Block| {
        let tag = b.tag.to_ascii_lowercase();
        tag == lang || (lang == "python" && (tag == "py" || tag == "python3"))
    };
    let pick = all
        .iter()
        .filter(|b| b.closed)
        .find(tagged)
        .or_else(|| all.iter().find(|b| b.closed))
        .or_else(|| all.iter().filter(|b| !b.closed).find(tagged))
        .or_else(|| all.first())?;
    (!pick.body.trim().is_empty()).then_some(pick.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn picks_the_tagged_code_block() {
        let answer = "```text\nnot this\n```\nand\n```python\nprint('x')\n```";
        assert_eq!(code_block(answer, "python"), Some("print('x')\n"));
        assert_eq!(code_block("```\nonly\n```", "python"), Some("only\n"));
        assert_eq!(code_block("no fence at all", "python"), None);
    }

    #[test]
    fn a_later_unclosed_fence_does_not_hide_a_good_block() {
        let answer = "```python\nprint('ok')\n```\nThen run:\n```sh\npython3 reproduce";
        assert_eq!(code_block(answer, "python"), Some("print('ok')\n"));
    }

    #[test]
    fn an_unclosed_block_alone_is_still_its_body() {
        assert_eq!(
            code_block("```python\nimport sys\nprint(1)\n", "python"),
            Some("import sys\nprint(1)\n")
        );
        assert_eq!(code_block("```python\n", "python"), None);
    }

    #[test]
    fn tags_are_matched_loosely_and_indented_fences_close() {
        assert_eq!(
            code_block("```Py\nx = 1\n  ```\n", "python"),
            Some("x = 1\n")
        );
        assert_eq!(code_block("```python\nx = 1```", "python"), Some("x = 1"));
    }

    proptest! {
        #[test]
        fn never_panics(text in "(\\PC|\n|```|```python\n){0,40}") {
            let _ = code_block(&text, "python");
        }
    }
}
