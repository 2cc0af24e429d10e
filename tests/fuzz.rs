//! Fuzzing with proptest: the readers of untrusted text and bytes never panic, never hang, and
//! keep their promises on inputs built to be hostile.
//!
//! Targets: the SEARCH/REPLACE applier, the unified-diff readers, the journal reader, the GGUF
//! metadata reader, the chat template renderer and the OpenAI stream (SSE) decoder. The answer
//! parsers have their own file (`tests/fuzz_answers.rs`).
//!
//! `cargo test` runs each target with a few cases so CI stays fast; `PONDER_FUZZ_CASES=N` runs N
//! (`scripts/fuzz.sh` runs each target for a set time). A failing case is written to
//! `tests/fuzz.regressions` and replayed first on every later run; each crash found is also kept
//! as a named regression test at the end of this file.

mod support;

use std::time::{Duration, Instant};

use ponder::diff::Patch;
use ponder::event::{Envelope, Event, Outcome, Stage};
use ponder::model::gguf::{metadata, parse_header};
use ponder::model::openai::sse::SseDecoder;
use ponder::model::template::{JinjaTemplate, RenderLimits};
use ponder::model::{Message, Role};
use ponder::pipeline::{Edit, FileChange, Matching, apply_edit, apply_edits, unified_diff};
use ponder::session::export::gold;
use ponder::session::parse_journal;
use proptest::prelude::*;
use support::fuzz::config;

// ---------------------------------------------------------------- SEARCH/REPLACE

/// Lines of code-like text, with the characters that trouble matchers: indentation, tabs,
/// carriage returns, blank lines, non-ASCII and near-duplicates.
fn code_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("def f(x):".to_string()),
        Just("    return x".to_string()),
        Just("    return x + 1".to_string()),
        Just("\treturn x".to_string()),
        Just("x = 1\r".to_string()),
        Just("  # é ünïcode ✓".to_string()),
        Just("}".to_string()),
        "[ a-c\t]{0,6}",
        "\\PC{0,12}",
    ]
}

fn code(lines: usize) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(code_line(), 0..lines)
}

fn joined(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Line-start positions where `search` occurs, as the applier counts them.
fn occurrences(text: &str, search: &str) -> usize {
    let text = if text.is_empty() || text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    };
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .filter(|&at| at < text.len() && text[at..].starts_with(search))
        .count()
}

proptest! {
    #![proptest_config(config(64))]

    /// Any text, any edit: an answer or an error, never a panic; an exact single match is
    /// replaced byte for byte.
    #[test]
    fn search_replace_never_panics_and_exact_matches_splice(
        file in code(30),
        newline_at_end in any::<bool>(),
        from in 0usize..30,
        len in 0usize..8,
        replace in code(6),
        noise in code(4),
        use_noise in any::<bool>(),
    ) {
        let mut text = file.join("\n");
        if newline_at_end && !text.is_empty() {
            text.push('\n');
        }
        let from = from.min(file.len());
        let to = (from + len).min(file.len());
        let search = if use_noise { joined(&noise) } else { joined(&file[from..to]) };
        let edit = Edit { file: "f.py".into(), search: search.clone(), replace: joined(&replace) };
        let started = Instant::now();
        let result = apply_edit(&text, &edit);
        prop_assert!(started.elapsed() < Duration::from_secs(5));
        if !search.is_empty() && occurrences(&text, &search) == 1 {
            let (out, matching) = result.expect("a unique exact match applies");
            prop_assert_eq!(matching, Matching::Exact);
            let normal = if text.ends_with('\n') || text.is_empty() { text.clone() } else { format!("{text}\n") };
            let at = normal.find(&search).filter(|&i| i == 0 || normal.as_bytes()[i - 1] == b'\n');
            if let Some(at) = at {
                let mut expected = format!("{}{}{}", &normal[..at], edit.replace, &normal[at + search.len()..]);
                if !(text.ends_with('\n') || text.is_empty()) && expected.ends_with('\n') {
                    expected.pop();
                }
                prop_assert_eq!(out, expected);
            }
        }
    }

    /// Several edits over several files: the diff of the result names exactly the files that
    /// changed, and its hunks are what the diff readers count.
    #[test]
    fn applied_edits_make_a_readable_diff(
        files in proptest::collection::vec(code(12), 1..4),
        picks in proptest::collection::vec((0usize..4, 0usize..12, 1usize..4, code(3)), 1..5),
    ) {
        let names: Vec<String> = (0..files.len()).map(|i| format!("f{i}.py")).collect();
        let edits: Vec<Edit> = picks
            .iter()
            .map(|(file, from, len, replace)| {
                let file = file % files.len();
                let lines = &files[file];
                let from = (*from).min(lines.len());
                let to = (from + len).min(lines.len());
                Edit { file: names[file].clone(), search: joined(&lines[from..to]), replace: joined(replace) }
            })
            .collect();
        let read = |name: &str| -> anyhow::Result<Option<String>> {
            let i = names.iter().position(|n| n == name).expect("known file");
            Ok(Some(joined(&files[i])))
        };
        if let Ok(applied) = apply_edits(&edits, read) {
            let changes = applied.changes;
            let diff = unified_diff(&changes);
            let changed: Vec<&FileChange> = changes.iter().filter(|c| c.before != c.after).collect();
            let model = Patch::parse(&diff);
            prop_assert_eq!(model.files.len(), changed.len(), "{}", diff);
            let at_lines = diff.lines().filter(|l| l.starts_with("@@ ")).count();
            prop_assert_eq!(model.hunks().count(), at_lines, "{}", diff);
            prop_assert_eq!(changed.is_empty(), diff.is_empty());
        }
    }
}

// ---------------------------------------------------------------- unified diffs

/// Text shaped like a unified diff, and damaged ones: headers, hunk headers with odd or
/// overflowing numbers, context, CRLF, binary markers, and noise.
fn diff_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("diff --git a/x.py b/x.py".to_string()),
        Just("--- a/x.py".to_string()),
        Just("+++ b/x.py".to_string()),
        Just("--- /dev/null".to_string()),
        Just("+++ /dev/null".to_string()),
        Just("@@ -1,3 +1,4 @@ def f():".to_string()),
        Just("@@ -0,0 +1 @@".to_string()),
        Just("@@ -99999999999999999999,1 +1 @@".to_string()),
        Just("@@ -a,b +c,d @@".to_string()),
        Just("@@".to_string()),
        Just("Binary files a/x and b/x differ".to_string()),
        Just("\\ No newline at end of file".to_string()),
        Just("new file mode 100644".to_string()),
        "[-+ ][ -~]{0,20}",
        "\\PC{0,20}",
    ];
    (
        proptest::collection::vec(line, 0..40),
        prop_oneof![Just("\n"), Just("\r\n")],
    )
        .prop_map(|(lines, end)| lines.join(end))
}

proptest! {
    #![proptest_config(config(64))]

    /// The diff model and the gold-patch reader take any text; taking hunks out removes exactly
    /// those hunks.
    #[test]
    fn diff_readers_never_panic(diff in prop_oneof![diff_text(), "\\PC{0,300}"], rejected in proptest::collection::vec(0u32..12, 0..4)) {
        let patch = Patch::parse(&diff);
        let total = patch.hunks().count();
        let _ = gold::parse(&diff);
        for i in 0..total {
            prop_assert!(patch.hunk_with_names(i).is_some());
        }
        let kept = Patch::parse(&patch.without_hunks(&rejected));
        let mut gone: Vec<u32> = rejected.iter().copied().filter(|&r| (r as usize) < total).collect();
        gone.sort();
        gone.dedup();
        prop_assert_eq!(kept.hunks().count(), total - gone.len(), "{}", diff);
    }
}

// ---------------------------------------------------------------- journal

fn journal_text() -> String {
    let header: Event = serde_json::from_str(include_str!("fixtures/header.json")).unwrap();
    let events = vec![
        header,
        Event::StageStarted {
            stage: Stage::Understand,
        },
        Event::StageFinished {
            stage: Stage::Understand,
            ok: true,
        },
        Event::StageStarted {
            stage: Stage::Localize,
        },
        Event::Paused,
        Event::SessionFinished {
            outcome: Outcome::Aborted,
        },
    ];
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            serde_json::to_string(&Envelope {
                seq: i as u64,
                t_ms: i as u64,
                event,
            })
            .unwrap()
                + "\n"
        })
        .collect()
}

proptest! {
    #![proptest_config(config(64))]

    /// A journal cut anywhere (a crash mid-write) reads: every whole line before the cut, and a
    /// torn last line is skipped and reported.
    #[test]
    fn a_journal_cut_anywhere_reads(cut in 0usize..10_000) {
        let text = journal_text();
        let cut = cut % (text.len() + 1);
        let prefix = &text.as_bytes()[..cut];
        let journal = parse_journal(prefix).expect("a cut journal reads");
        let whole = prefix.iter().filter(|&&b| b == b'\n').count();
        let partial = !prefix.is_empty() && !prefix.ends_with(b"\n");
        prop_assert!(journal.envelopes.len() == whole || (partial && journal.envelopes.len() == whole + 1));
        prop_assert_eq!(journal.torn_tail, partial && journal.envelopes.len() == whole);
    }

    /// Damaged journals (bytes changed, lines doubled, noise) give events or an error.
    #[test]
    fn a_damaged_journal_never_panics(
        flips in proptest::collection::vec((0usize..10_000, any::<u8>()), 0..8),
        noise in proptest::collection::vec(any::<u8>(), 0..200),
        noise_at in 0usize..10_000,
    ) {
        let mut bytes = journal_text().into_bytes();
        for (at, byte) in flips {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
        let at = noise_at % (bytes.len() + 1);
        bytes.splice(at..at, noise);
        let _ = parse_journal(bytes.as_slice());
    }
}

// ---------------------------------------------------------------- GGUF

/// A valid little header: string, number and array keys, two tensors, data.
fn gguf() -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    let s = |b: &mut Vec<u8>, text: &[u8]| {
        b.extend_from_slice(&(text.len() as u64).to_le_bytes());
        b.extend_from_slice(text);
    };
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&2u64.to_le_bytes());
    b.extend_from_slice(&4u64.to_le_bytes());
    s(&mut b, b"general.architecture");
    b.extend_from_slice(&8u32.to_le_bytes());
    s(&mut b, b"llama");
    s(&mut b, b"llama.context_length");
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&4096u32.to_le_bytes());
    s(&mut b, b"tokenizer.ggml.tokens");
    b.extend_from_slice(&9u32.to_le_bytes());
    b.extend_from_slice(&8u32.to_le_bytes());
    b.extend_from_slice(&3u64.to_le_bytes());
    for token in [&b"<s>"[..], b"a", b"\xff\xfe"] {
        s(&mut b, token);
    }
    s(&mut b, b"tokenizer.chat_template");
    b.extend_from_slice(&8u32.to_le_bytes());
    s(&mut b, b"{{ messages }}");
    for (name, offset) in [(&b"w"[..], 0u64), (b"v", 32)] {
        s(&mut b, name);
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes());
        b.extend_from_slice(&4u64.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&offset.to_le_bytes());
    }
    while !b.len().is_multiple_of(32) {
        b.push(0);
    }
    b.extend_from_slice(&[0u8; 64]);
    b
}

/// Values that trouble a reader when written over a length or count field.
fn hostile_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(u64::MAX / 2),
        Just(1u64 << 32),
        Just(1u64 << 24),
        any::<u64>()
    ]
}

proptest! {
    #![proptest_config(config(64))]

    /// Damaged headers: bytes changed, 8-byte fields overwritten with huge values, cut, grown.
    #[test]
    fn gguf_reader_never_panics(
        flips in proptest::collection::vec((0usize..400, any::<u8>()), 0..6),
        fields in proptest::collection::vec((0usize..400, hostile_u64()), 0..3),
        cut in 0usize..400,
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = gguf();
        assert!(parse_header(&bytes).is_ok());
        for (at, byte) in flips {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
        for (at, value) in fields {
            let at = at % (bytes.len() - 8);
            bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        bytes.truncate(cut.max(4).min(bytes.len()));
        bytes.extend_from_slice(&tail);
        let started = Instant::now();
        if let Ok(header) = parse_header(&bytes) {
            let _ = metadata(&header, bytes.len() as u64);
        }
        prop_assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn gguf_reader_takes_noise(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut with_magic = b"GGUF\x03\0\0\0".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = parse_header(&bytes);
        let _ = parse_header(&with_magic);
    }
}

// ---------------------------------------------------------------- chat templates

/// Templates assembled from Jinja pieces: loops, macros, namespaces, filters, string growth,
/// broken syntax.
fn template_source() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{% for m in messages %}"),
        Just("{% endfor %}"),
        Just("{% for i in range(100000) %}"),
        Just("{% if add_generation_prompt %}"),
        Just("{% if m.role == 'user' %}"),
        Just("{% else %}"),
        Just("{% endif %}"),
        Just("{{ m.content }}"),
        Just("{{ m.content.strip() }}"),
        Just("{{ messages|length }}"),
        Just("{{ bos_token ~ eos_token }}"),
        Just("{{ 'ab' * 1000 }}"),
        Just("{{ m.content * 100 }}"),
        Just("{% set ns = namespace(x='a') %}"),
        // Linear growth only: a string doubled at every step is the renderer's one known gap
        // (minijinja has no memory limit; see `ponder::model::template`).
        Just("{% set ns.x = ns.x ~ 'ab' %}"),
        Just("{% macro f(n) %}{{ f(n) }}{% endmacro %}"),
        Just("{{ f(1) }}"),
        Just("{{ raise_exception('no') }}"),
        Just("{{ loop.index }}"),
        Just("{% break %}"),
        Just("{{ messages[0]['content'][::-1] }}"),
        Just("{{ (messages|tojson)|length }}"),
        Just("{{"),
        Just("}}"),
        Just("{%"),
        Just("%}"),
        Just("<|im_start|>"),
        Just("\n"),
    ];
    (proptest::collection::vec(piece, 0..14), "[ -~]{0,10}")
        .prop_map(|(pieces, text)| pieces.concat() + &text)
}

proptest! {
    #![proptest_config(config(64))]

    /// Any template, any messages: text or an error within the limits, never a hang; the text
    /// is no longer than the output limit.
    #[test]
    fn templates_render_within_limits(
        source in template_source(),
        contents in proptest::collection::vec("\\PC{0,40}", 0..4),
        generation in any::<bool>(),
    ) {
        let template = JinjaTemplate { source, bos_token: "<s>".into(), eos_token: "</s>".into() };
        let messages: Vec<Message> = contents
            .iter()
            .enumerate()
            .map(|(i, c)| Message { role: if i % 2 == 0 { Role::User } else { Role::Assistant }, content: c.clone() })
            .collect();
        let limits = RenderLimits { time: Duration::from_secs(2), fuel: 50_000, ..RenderLimits::default() };
        let started = Instant::now();
        let result = template.render_with(&messages, generation, &limits);
        prop_assert!(started.elapsed() < Duration::from_secs(3));
        if let Ok(text) = result {
            let input: usize = contents.iter().map(String::len).sum();
            prop_assert!(text.len() <= limits.max_output(input));
        }
    }
}

// ---------------------------------------------------------------- SSE

/// Bytes shaped like a server-sent event stream, cut anywhere.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    const PIECES: &[&[u8]] = &[
        b"data: ",
        b"data:",
        b"{\"x\": 1}",
        b"[DONE]",
        b": keep-alive",
        b"event: message",
        b"id: 7",
        b"\n",
        b"\r\n",
        b"\r",
        b"\n\n",
        "é✓".as_bytes(),
        b"\xff\xfe",
        b"\xe2\x9c",
    ];
    let piece = proptest::sample::select(PIECES);
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn decode(bytes: &[u8], cuts: &[usize]) -> (Vec<String>, bool) {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort();
    for cut in cuts {
        events.extend(decoder.push(&bytes[at..cut]));
        at = cut;
    }
    events.extend(decoder.push(&bytes[at..]));
    (events, decoder.has_partial())
}

proptest! {
    #![proptest_config(config(64))]

    /// Where the network cuts the stream does not change the events decoded.
    #[test]
    fn sse_events_do_not_depend_on_chunking(
        bytes in prop_oneof![sse_bytes(), proptest::collection::vec(any::<u8>(), 0..300)],
        cuts in proptest::collection::vec(0usize..2_000, 0..12),
    ) {
        let whole = decode(&bytes, &[]);
        let chunked = decode(&bytes, &cuts);
        prop_assert_eq!(whole, chunked);
    }
}

// ---------------------------------------------------------------- regressions

/// Found by reading the GGUF reader for issue 16: nested arrays recursed once per 12 bytes and
/// overflowed the stack on a header of a few megabytes.
#[test]
fn regression_gguf_nested_arrays() {
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.push(b'k');
    b.extend_from_slice(&9u32.to_le_bytes());
    for _ in 0..500_000 {
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
    }
    let err = parse_header(&b).unwrap_err();
    assert!(err.to_string().contains("nested arrays"), "{err}");
}

/// Found by `gguf_reader_never_panics`: a header cut inside the second tensor's dimensions and
/// followed by bytes that read as huge dimensions overflowed the sum of the model's parameters.
#[test]
fn regression_gguf_parameters_overflow() {
    let mut b = gguf();
    b.truncate(291);
    let mut tail = vec![0u8; 61];
    tail[7] = 1;
    tail[15] = 1;
    tail[19] = 1;
    b.extend_from_slice(&tail);
    if let Ok(header) = parse_header(&b) {
        let _ = metadata(&header, b.len() as u64);
    }
}
