//! Sessions on disk: where they live, their ids, and the journal of their events.

pub mod export;
pub mod fingerprint;
mod index;
mod journal;
mod player;
mod recorded;
mod resume;

pub use index::{SessionSummary, find_journal, list_sessions};
pub use journal::{Journal, JournalWriter, parse_journal, read_journal};
pub use player::Player;
pub use recorded::Recorded;
pub use resume::{ResumePoint, resume_point, set_aside};

use std::path::PathBuf;

use anyhow::{Context, Result};

/// The folder that holds ponder's data: `$PONDER_DATA_DIR`, else the platform's data directory.
pub fn data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PONDER_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let dirs = directories::ProjectDirs::from("dev", "ponder", "ponder").context(
        "cannot find a home directory for ponder's data; set PONDER_DATA_DIR to a folder",
    )?;
    Ok(dirs.data_dir().to_path_buf())
}

/// The folder of session journals.
pub fn sessions_dir() -> Result<PathBuf> {
    Ok(data_dir()?.join("sessions"))
}

/// A new session id: local date and time, then a short random suffix (sortable, unique enough).
pub fn new_session_id() -> String {
    let now = jiff::Zoned::now();
    let suffix = std::process::id() ^ (now.timestamp().subsec_nanosecond() as u32);
    format!("{}-{:04x}", now.strftime("%Y%m%d-%H%M%S"), suffix & 0xffff)
}

/// The journal path of a session id.
pub fn journal_path(id: &str) -> Result<PathBuf> {
    Ok(sessions_dir()?.join(format!("{id}.jsonl")))
}
