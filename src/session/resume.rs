//! Where an interrupted session picks up: the journal prefix up to its last completed stage,
//! with the whole journal set aside first so nothing is lost.
//!
//! The resumed run re-derives that prefix (answered from the journal, see [`super::Recorded`]) and
//! appends to the same journal from there, so folding it gives what an uninterrupted run gives.
//! Work of the stage in progress at the interruption is done again.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{Journal, JournalWriter};
use crate::event::{Envelope, Event, SessionHeader};

/// A session ready to resume.
#[derive(Debug)]
pub struct ResumePoint {
    pub header: SessionHeader,
    /// The events kept: up to and including the last completed stage's end.
    pub prefix: Vec<Envelope>,
    /// Events after it, of the stage that was interrupted, to be done again.
    pub dropped: usize,
}

/// Finds where `journal` resumes; an error says why it cannot.
pub fn resume_point(journal: Journal) -> Result<ResumePoint> {
    let mut envelopes = journal.envelopes;
    let header = match envelopes.first().map(|e| &e.event) {
        Some(Event::SessionStarted(header)) => (**header).clone(),
        _ => bail!("the journal has no session header, so there is nothing to resume"),
    };
    if let Some(Event::SessionFinished { outcome }) = envelopes.last().map(|e| &e.event) {
        bail!(
            "this session already finished ({}); `ponder replay` shows it, `ponder fix` starts a new one",
            match outcome {
                crate::event::Outcome::Verified { .. } => "verified",
                crate::event::Outcome::Unverified { .. } => "not verified",
                crate::event::Outcome::Failed { .. } => "failed",
                crate::event::Outcome::Aborted => "aborted",
                crate::event::Outcome::Stopped { .. } => "stopped where it was asked to",
            }
        );
    }
    let cut = envelopes
        .iter()
        .rposition(|e| matches!(e.event, Event::StageFinished { ok: true, .. }))
        .map_or(1, |i| i + 1);
    let dropped = envelopes.len() - cut;
    envelopes.truncate(cut);
    Ok(ResumePoint {
        header,
        prefix: envelopes,
        dropped,
    })
}

/// Copies the journal to `<file>.interrupted-<n>` (the first free n) before it is cut back.
pub fn set_aside(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let free = (1..)
        .map(|n| path.with_file_name(format!("{name}.interrupted-{n}")))
        .find(|p| !p.exists())
        .context("no free name to set the journal aside")?;
    std::fs::copy(path, &free).with_context(|| {
        format!(
            "cannot copy the journal {} aside to {} before resuming",
            path.display(),
            free.display()
        )
    })?;
    Ok(free)
}

impl JournalWriter {
    /// Replaces the journal at `path` with `prefix` (through a temporary file, so a crash leaves
    /// either the old or the new one) and opens it to append the rest.
    pub fn rewrite(path: &Path, prefix: &[Envelope]) -> Result<JournalWriter> {
        let temporary = path.with_extension("jsonl.resuming");
        let _ = std::fs::remove_file(&temporary);
        {
            let mut writer = JournalWriter::create(&temporary)?;
            for envelope in prefix {
                writer.append(envelope)?;
            }
        }
        std::fs::rename(&temporary, path)
            .with_context(|| format!("cannot replace the journal {}", path.display()))?;
        JournalWriter::append_to(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Outcome, Stage};
    use crate::session::{parse_journal, read_journal};

    fn journal(events: Vec<Event>) -> Journal {
        let text: String = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| {
                let envelope = Envelope {
                    seq: i as u64,
                    t_ms: i as u64 * 10,
                    event,
                };
                serde_json::to_string(&envelope).unwrap() + "\n"
            })
            .collect();
        parse_journal(text.as_bytes()).unwrap()
    }

    fn header() -> Event {
        let text = include_str!("../../tests/fixtures/header.json");
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn resumes_after_the_last_completed_stage() {
        let point = resume_point(journal(vec![
            header(),
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
        ]))
        .unwrap();
        assert_eq!((point.prefix.len(), point.dropped), (3, 2));
        let point = resume_point(journal(vec![
            header(),
            Event::StageStarted {
                stage: Stage::Understand,
            },
        ]))
        .unwrap();
        assert_eq!((point.prefix.len(), point.dropped), (1, 1));
    }

    #[test]
    fn a_finished_or_headless_journal_is_refused_with_a_reason() {
        let finished = resume_point(journal(vec![
            header(),
            Event::SessionFinished {
                outcome: Outcome::Aborted,
            },
        ]))
        .unwrap_err();
        assert!(finished.to_string().contains("already finished (aborted)"));
        let headless = resume_point(journal(vec![Event::Paused])).unwrap_err();
        assert!(headless.to_string().contains("no session header"));
    }

    #[test]
    fn rewriting_keeps_the_prefix_and_appends_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        std::fs::write(&path, "{\"torn").unwrap();
        let aside = set_aside(&path).unwrap();
        assert!(aside.ends_with("s.jsonl.interrupted-1"));
        assert_eq!(std::fs::read_to_string(&aside).unwrap(), "{\"torn");
        assert!(set_aside(&path).unwrap().ends_with("s.jsonl.interrupted-2"));
        let prefix = journal(vec![header()]).envelopes;
        let mut writer = JournalWriter::rewrite(&path, &prefix).unwrap();
        writer
            .append(&Envelope {
                seq: 1,
                t_ms: 5,
                event: Event::Paused,
            })
            .unwrap();
        let back = read_journal(&path).unwrap();
        assert!(!back.torn_tail);
        assert_eq!(back.envelopes.len(), 2);
        assert_eq!(back.envelopes[0], prefix[0]);
    }
}
