//! Review notes: text attached to one step (event) of a session, saved as `<id>.notes.json`
//! beside its journal and shown at that step the next time.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::event::{Beam, Stage};

/// One note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// The event it is attached to.
    pub seq: u64,
    #[serde(default)]
    pub stage: Option<Stage>,
    #[serde(default)]
    pub beam: Option<Beam>,
    pub text: String,
}

/// A session's notes and where they are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Notes {
    #[serde(skip)]
    path: PathBuf,
    pub notes: Vec<Note>,
}

/// Where the notes of the journal at `journal` are kept.
pub fn notes_path(journal: &Path) -> PathBuf {
    let stem = journal
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    journal.with_file_name(format!("{stem}.notes.json"))
}

impl Notes {
    /// The notes beside `journal`, or none yet.
    pub fn load(journal: &Path) -> Result<Notes> {
        let path = notes_path(journal);
        let mut notes = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str::<Notes>(&text).with_context(|| {
                format!(
                    "the review notes {} are damaged; fix or move the file",
                    path.display()
                )
            })?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Notes::default(),
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        notes.path = path;
        Ok(notes)
    }

    /// Notes kept nowhere (tests).
    pub fn in_memory() -> Notes {
        Notes::default()
    }

    /// The note of event `seq`, if any.
    pub fn at(&self, seq: u64) -> Option<&Note> {
        self.notes.iter().find(|n| n.seq == seq)
    }

    /// Sets (or, with empty text, removes) the note of a step, and saves.
    pub fn set(&mut self, note: Note) -> Result<()> {
        self.notes.retain(|n| n.seq != note.seq);
        if !note.text.trim().is_empty() {
            self.notes.push(note);
            self.notes.sort_by_key(|n| n.seq);
        }
        self.save()
    }

    fn save(&self) -> Result<()> {
        if self.path.as_os_str().is_empty() {
            return Ok(());
        }
        let temporary = self.path.with_extension("json.saving");
        std::fs::write(&temporary, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, &self.path)
            .with_context(|| format!("cannot save the notes to {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_saved_beside_the_journal_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("20260101-abcd.jsonl");
        let mut notes = Notes::load(&journal).unwrap();
        assert!(notes.notes.is_empty());
        let note = Note {
            seq: 7,
            stage: Some(Stage::Patch),
            beam: Some(2),
            text: "why was this pruned?".into(),
        };
        notes.set(note.clone()).unwrap();
        assert!(dir.path().join("20260101-abcd.notes.json").is_file());
        let back = Notes::load(&journal).unwrap();
        assert_eq!(back.at(7), Some(&note));
        let mut back = back;
        back.set(Note {
            text: " ".into(),
            ..note
        })
        .unwrap();
        assert!(Notes::load(&journal).unwrap().notes.is_empty());
    }
}
