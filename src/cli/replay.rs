//! `ponder replay` and `ponder sessions`: recorded sessions, listed and played back.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

use crate::event::{Outcome, Stage};
use crate::session::{Player, find_journal, list_sessions, read_journal};

/// What `ponder replay` takes.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A journal file, a session id, or `last`.
    session: String,
    /// Playback speed (original token timing ÷ this).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Start at this stage (understand, localize, patch, verify).
    #[arg(long, value_name = "STAGE")]
    from: Option<String>,
    /// Start again after the end, for a screen left running.
    #[arg(long = "loop")]
    looping: bool,
    /// The interface's colours: dark, light, high-contrast, or a theme file's name.
    #[arg(long, value_name = "NAME")]
    theme: Option<String>,
}

pub fn replay(args: ReplayArgs) -> Result<ExitCode> {
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        bail!("--speed must be a positive number, like 2 or 0.5");
    }
    let path = find_journal(&args.session)?;
    let journal = read_journal(&path)?;
    if journal.envelopes.is_empty() {
        bail!("{} holds no events to replay", path.display());
    }
    if journal.torn_tail {
        eprintln!("note: the journal's last line was cut off (a crash?); replaying what is whole");
    }
    crate::tui::check_terminal()?;
    let theme = crate::tui::Theme::resolve(args.theme.as_deref())?;
    let mut player = Player::new(journal.envelopes, args.speed, args.looping);
    let mut state = crate::event::SessionState::new();
    if let Some(name) = args.from {
        let Some(stage) = Stage::ALL.into_iter().find(|s| s.name() == name) else {
            bail!("--from {name}: the stages are understand, localize, patch and verify");
        };
        if !player.seek_stage(stage, &mut state) {
            bail!("the session never reached the {name} stage");
        }
    }
    crate::tui::replay(player, state, theme)?;
    Ok(ExitCode::SUCCESS)
}

/// `ponder sessions`: a table of past sessions, newest first.
pub fn sessions() -> Result<ExitCode> {
    let sessions = list_sessions()?;
    if sessions.is_empty() {
        println!("no sessions yet: `ponder demo` records one");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<21} {:<16} {:<14} {:>8} {:>7}  repository · issue",
        "id", "started", "outcome", "tokens", "time"
    );
    for s in sessions {
        let started = jiff::Timestamp::from_millisecond(s.started_at_ms as i64)
            .map(|t| {
                t.to_zoned(jiff::tz::TimeZone::system())
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_default();
        let outcome = match (&s.problem, &s.outcome) {
            (Some(_), _) => "unreadable",
            (None, Some(Outcome::Verified { .. })) => "verified",
            (None, Some(Outcome::Unverified { .. })) => "not verified",
            (None, Some(Outcome::Failed { .. })) => "failed",
            (None, Some(Outcome::Aborted)) => "aborted",
            (None, Some(Outcome::Stopped { .. })) => "stopped",
            (None, None) => "interrupted",
        };
        let repo = std::path::Path::new(&s.repo)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let secs = s.duration_ms / 1000;
        println!(
            "{:<21} {:<16} {:<14} {:>8} {:>4}:{:02}  {repo} · {}",
            s.id,
            started,
            outcome,
            s.tokens,
            secs / 60,
            secs % 60,
            s.problem.as_deref().unwrap_or(&s.title)
        );
    }
    Ok(ExitCode::SUCCESS)
}
