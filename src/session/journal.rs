//! The journal: a session's events as JSON lines on disk, appended and flushed as they happen.
//!
//! Reading tolerates a torn last line (a crash mid-write) and refuses, with a clear message, events
//! or formats newer than this build understands.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::event::{Envelope, Event, FORMAT_VERSION};

/// Appends envelopes to a journal file, one JSON line each, flushed per line.
pub struct JournalWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JournalWriter {
    /// Creates a new journal file (and its folder); fails if the file already exists.
    pub fn create(path: &Path) -> Result<JournalWriter> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the session folder {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(|| format!("cannot create the journal {}", path.display()))?;
        Ok(JournalWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    /// Opens an existing journal to append to it.
    pub fn append_to(path: &Path) -> Result<JournalWriter> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the journal {} to append", path.display()))?;
        Ok(JournalWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    /// Writes one line and flushes it to the operating system; at the session's start, every
    /// stage boundary and the end, also to the disk (so a power cut keeps every finished stage).
    pub fn append(&mut self, envelope: &Envelope) -> Result<()> {
        serde_json::to_writer(&mut self.out, envelope)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        if matches!(
            envelope.event,
            Event::SessionStarted(_)
                | Event::StageStarted { .. }
                | Event::StageFinished { .. }
                | Event::SessionFinished { .. }
        ) {
            self.out.get_ref().sync_data()?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl crate::event::Sink for JournalWriter {
    fn append(&mut self, envelope: &Envelope) -> Result<()> {
        JournalWriter::append(self, envelope)
    }
}

/// A journal as read back.
#[derive(Debug)]
pub struct Journal {
    pub envelopes: Vec<Envelope>,
    /// True when the last line was cut off mid-write and skipped.
    pub torn_tail: bool,
}

/// Reads a journal file.
pub fn read_journal(path: &Path) -> Result<Journal> {
    let file =
        File::open(path).with_context(|| format!("cannot open the journal {}", path.display()))?;
    parse_journal(BufReader::new(file))
        .with_context(|| format!("in the journal {}", path.display()))
}

/// Parses journal lines from any reader.
pub fn parse_journal(reader: impl BufRead) -> Result<Journal> {
    let mut envelopes = Vec::new();
    let mut torn_tail = false;
    let mut lines = reader.split(b'\n').enumerate().peekable();
    while let Some((index, line)) = lines.next() {
        let line = line.context("cannot read the journal")?;
        let is_last = lines.peek().is_none();
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let number = index + 1;
        let value: serde_json::Value = match serde_json::from_slice(&line) {
            Ok(value) => value,
            // Only the final line can be torn by a crash; anywhere else it is corruption.
            Err(_) if is_last => {
                torn_tail = true;
                break;
            }
            Err(err) => bail!("line {number} is not valid JSON ({err}); the journal is damaged"),
        };
        let envelope: Envelope =
            serde_json::from_value(value.clone()).map_err(|err| {
                match value.get("kind").and_then(|k| k.as_str()) {
                    Some(kind) if err.to_string().starts_with("unknown variant") => {
                        anyhow::anyhow!(
                            "line {number}: unknown event kind '{kind}'. This journal was probably \
                     written by a newer ponder (this one reads format {FORMAT_VERSION}); \
                     update ponder to read it"
                        )
                    }
                    _ => anyhow::anyhow!("line {number} is not a ponder event: {err}"),
                }
            })?;
        if let Event::SessionStarted(header) = &envelope.event
            && header.format > FORMAT_VERSION
        {
            bail!(
                "the journal has format {}, newer than this ponder reads ({FORMAT_VERSION}); \
                 update ponder to read it",
                header.format
            );
        }
        envelopes.push(envelope);
    }
    Ok(Journal {
        envelopes,
        torn_tail,
    })
}
