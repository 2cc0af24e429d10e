//! Server-sent events, decoded incrementally: bytes in as they arrive (cut anywhere, even inside
//! a UTF-8 character or a `\r\n`), each complete event's `data` out.
//!
//! Follows the WHATWG rules that matter here: lines end in `\n`, `\r\n` or `\r`; a blank line ends
//! an event; `data:` lines of one event are joined with `\n`; one space after the colon is
//! dropped; comment lines (`: keep-alive`) and other fields (`event:`, `id:`) are ignored.

/// Incremental SSE decoder for one response body.
#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    data: Option<String>,
    /// The last byte seen was `\r`: a `\n` right after it belongs to the same line end.
    after_cr: bool,
}

impl SseDecoder {
    pub fn new() -> SseDecoder {
        SseDecoder::default()
    }

    /// Feeds bytes; returns the data of every event they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => self.end_line(&mut events),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut events);
                }
                _ => self.line.push(b),
            }
        }
        events
    }

    /// True when an event was begun but not ended by a blank line.
    pub fn has_partial(&self) -> bool {
        !self.line.is_empty() || self.data.is_some()
    }

    fn end_line(&mut self, events: &mut Vec<String>) {
        let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                events.push(data);
            }
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        if field == "data" {
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(chunks: &[&[u8]]) -> Vec<String> {
        let mut decoder = SseDecoder::new();
        chunks.iter().flat_map(|c| decoder.push(c)).collect()
    }

    #[test]
    fn events_comments_and_multiline_data() {
        let text = b": keep-alive\n\ndata: {\"a\":1}\n\nevent: x\ndata: one\ndata:two\r\n\r\ndata: [DONE]\n\n";
        assert_eq!(decode_all(&[text]), vec!["{\"a\":1}", "one\ntwo", "[DONE]"]);
    }

    #[test]
    fn an_unfinished_event_is_held() {
        let mut decoder = SseDecoder::new();
        assert!(decoder.push(b"data: {\"a\"").is_empty());
        assert!(decoder.has_partial());
        assert_eq!(decoder.push(b":1}\n\n"), vec!["{\"a\":1}"]);
        assert!(!decoder.has_partial());
    }

    proptest! {
        #[test]
        fn chunking_does_not_change_the_events(
            datas in proptest::collection::vec("[a-z{}\":é ]{0,12}", 0..6),
            crlf in any::<bool>(),
            cuts in proptest::collection::vec(0usize..200, 0..10),
        ) {
            let end = if crlf { "\r\n" } else { "\n" };
            let text: String = datas.iter().map(|d| format!("data: {d}{end}{end}")).collect();
            let bytes = text.as_bytes();
            let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            bounds.push(0);
            bounds.push(bytes.len());
            bounds.sort();
            bounds.dedup();
            let chunks: Vec<&[u8]> = bounds.windows(2).map(|w| &bytes[w[0]..w[1]]).collect();
            prop_assert_eq!(decode_all(&chunks), datas);
        }
    }
}
