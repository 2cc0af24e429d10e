//! The terminal interface: folds the session's events into [`App`] state and draws it.
//!
//! The loop waits on the next event, drains everything already queued, and draws once, at most
//! 60 times a second. With nothing arriving it sleeps: an idle ponder uses no CPU (a one-second
//! tick runs only while a session is live, for the clock).

mod app;
mod color_depth;
pub mod diff;
pub mod finish;
pub mod frames;
pub mod highlight;
mod keys;
mod palette;
pub mod syntax;
mod terminal;
mod theme;
mod view;
mod wrap_cache;

pub use app::{Action, App, ReplayKey, ReplayView, Tab, ViewState};
pub use theme::Theme;
pub use view::render;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::event::{
    Command, Envelope, Event, Outcome, RunningSession, SessionHandle, SessionState, Stage,
};
use crate::model::llama::background::LoadProgress;
use crate::session::Player;
use frames::FramePacer;
pub use terminal::TerminalGuard;

/// Refuses to start the interface when stdout is not a terminal.
pub fn check_terminal() -> Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        bail!(
            "stdout is not a terminal, so the interface cannot start; use --headless for JSON lines"
        );
    }
    Ok(())
}

/// Opens `text` in `$VISUAL`, `$EDITOR` or `vi`; returns the edited text, or `None` if unchanged.
fn edit_in_editor(text: &str) -> Result<Option<String>> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_string());
    let file = tempfile::Builder::new()
        .prefix("ponder-answer-")
        .suffix(".md")
        .tempfile()
        .context("cannot create a file to edit the answer in")?;
    std::fs::write(file.path(), text)?;
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("ponder-edit")
        .arg(file.path())
        .status()
        .with_context(|| format!("cannot start the editor `{editor}`; set $EDITOR"))?;
    if !status.success() {
        bail!("the editor `{editor}` exited with {status}; the answer is unchanged");
    }
    let edited = std::fs::read_to_string(file.path())?;
    Ok((edited.trim_end() != text.trim_end()).then(|| edited.trim_end().to_string()))
}

/// What the editor starts from when the user writes a stage's answer: the format the stage wants.
fn answer_template(stage: Stage) -> &'static str {
    match stage {
        Stage::Understand => "[\"path/to/file.py\"]",
        Stage::Localize => {
            "[{\"file\": \"path/to/file.py\", \"class\": null, \"function\": \"name\", \"start\": 1, \"end\": 10}]"
        }
        Stage::Patch => {
            "path/to/file.py\n<<<<<<< SEARCH\nlines copied exactly from the file\n=======\nthe lines that replace them\n>>>>>>> REPLACE"
        }
        Stage::Verify => {
            "```python\n# reproduces the issue: print `Issue reproduced` (exit 1) while the bug is there,\n# `Issue resolved` (exit 0) once it is fixed\n```"
        }
    }
}

/// Shows a live session until the user quits; a session still running is aborted then.
pub fn run(session: RunningSession, theme: Theme) -> Result<Outcome> {
    run_loading(session, theme, None)
}

/// [`run`] while the model loads in the background: its progress shows as a bar, and quitting
/// before it ends stops the load.
pub fn run_loading(
    session: RunningSession,
    theme: Theme,
    loading: Option<std::sync::Arc<LoadProgress>>,
) -> Result<Outcome> {
    let RunningSession {
        events,
        handle,
        thread,
        ..
    } = session;
    // Someone is at the keyboard: a stage with no usable candidate waits for them.
    handle.set_steerable(true);
    let app = event_loop(
        App::new(),
        Source::Live {
            events,
            handle: handle.clone(),
        },
        &theme,
        loading.clone(),
    )?;
    if !app.state.is_finished() {
        if let Some(loading) = &loading {
            loading.stop();
        }
        handle.send(Command::Abort);
    }
    thread
        .join()
        .map_err(|_| anyhow::anyhow!("the pipeline thread panicked"))
}

/// Plays a recorded session until the user quits, from `start` (the state the player is at).
pub fn replay(player: Player, start: SessionState, theme: Theme) -> Result<()> {
    let mut app = App::new();
    app.state = start;
    app.view.replay = Some(ReplayView::default());
    event_loop(app, Source::Replay(Box::new(player)), &theme, None)?;
    Ok(())
}

/// Where events come from.
enum Source {
    Live {
        events: UnboundedReceiver<Envelope>,
        handle: SessionHandle,
    },
    Replay(Box<Player>),
}

/// Waits on the next event, drains what is queued, draws at most once a frame; until quit.
fn event_loop(
    mut app: App,
    mut source: Source,
    theme: &Theme,
    loading: Option<std::sync::Arc<LoadProgress>>,
) -> Result<App> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the interface's runtime")?;
    let mut guard = TerminalGuard::enter()?;
    let (ready, mut highlighted) = tokio::sync::mpsc::unbounded_channel::<()>();
    app.highlighter = highlight::Highlighter::spawn(move || {
        let _ = ready.send(());
    });
    let started = Instant::now();
    let result: Result<()> = runtime.block_on(async {
        let mut input = EventStream::new();
        let mut frames = FramePacer::default();
        frames.request();
        let mut clock = tokio::time::interval(Duration::from_secs(1));
        // While the weights load, the bar moves ten times a second.
        let mut load_tick = tokio::time::interval(Duration::from_millis(100));
        app.view.loading = loading.as_ref().and_then(|l| l.loading());
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("cannot listen for SIGTERM")?;
        loop {
            let now = Instant::now();
            if let Source::Replay(player) = &mut source {
                if player.advance(now, &mut app.state) {
                    frames.request();
                }
                app.view.replay = Some(ReplayView {
                    speed: player.speed(),
                    paused: player.is_paused(),
                    played: player.progress().0,
                    total: player.progress().1,
                });
            }
            let due = frames.due(now);
            if frames.take(now) {
                guard
                    .terminal
                    .draw(|frame| render(frame, &app, theme, started.elapsed()))?;
            }
            let replay_due = match &source {
                Source::Replay(player) => player.next_due(Instant::now()),
                Source::Live { .. } => None,
            };
            let live = matches!(source, Source::Live { .. }) && !app.state.is_finished();
            tokio::select! {
                envelope = next_live(&mut source), if live => {
                    let Some(envelope) = envelope else { continue };
                    app.apply(&envelope);
                    if let Source::Live { events, .. } = &mut source {
                        while let Ok(more) = events.try_recv() {
                            app.apply(&more);
                            if matches!(more.event, Event::SessionFinished { .. }) { break; }
                        }
                    }
                    frames.request();
                }
                _ = sleep_until_some(replay_due), if replay_due.is_some() => {}
                input_event = input.next() => match input_event {
                    Some(Ok(TermEvent::Key(key))) => {
                        app.view.status = None;
                        app.view.status_ok = false;
                        match app.on_key(key) {
                            Action::Quit => break,
                            Action::Send(command) => {
                                if let Source::Live { handle, .. } = &source {
                                    handle.send(command);
                                }
                            }
                            Action::Redraw => frames.request(),
                            Action::Finish(what) => {
                                let out = std::env::current_dir().unwrap_or_default();
                                let result = finish::finish_shown(&app, what, &out);
                                app.view.status_ok = result.is_ok();
                                app.view.status = Some(match result {
                                    Ok(message) => format!("✓ {message}"),
                                    Err(err) => format!("{err:#}"),
                                });
                                frames.request();
                            }
                            Action::Replay(key) => {
                                if let Source::Replay(player) = &mut source {
                                    control_replay(player, key, &mut app);
                                }
                                frames.request();
                            }
                            Action::Edit { stage, beam } => {
                                let answer = app.state.stage(stage).get(beam).map(|c| c.answer.clone()).unwrap_or_default();
                                // The editor needs stdin to itself: stop reading it meanwhile.
                                drop(input);
                                let edited = guard.suspended(|| edit_in_editor(&answer))?;
                                input = EventStream::new();
                                match (edited, &source) {
                                    (Ok(Some(answer)), Source::Live { handle, .. }) => handle.send(Command::Edit { stage, beam, answer }),
                                    (Ok(_), _) => {}
                                    (Err(err), _) => app.view.status = Some(format!("{err:#}")),
                                }
                                frames.request();
                            }
                            Action::Write { stage } => {
                                drop(input);
                                let written = guard.suspended(|| edit_in_editor(answer_template(stage)))?;
                                input = EventStream::new();
                                match (written, &source) {
                                    (Ok(Some(answer)), Source::Live { handle, .. }) => {
                                        handle.send(Command::Answer { stage, answer });
                                        handle.send(Command::Continue);
                                    }
                                    (Ok(_), _) => {}
                                    (Err(err), _) => app.view.status = Some(format!("{err:#}")),
                                }
                                frames.request();
                            }
                            Action::None => {}
                        }
                    }
                    Some(Ok(TermEvent::Mouse(mouse))) => {
                        let size = guard.terminal.size()?;
                        let area = ratatui::layout::Rect::new(0, 0, size.width, size.height);
                        let areas = view::layout(area, &app, theme);
                        let stages = view::stage_columns(areas.timeline, &app, theme);
                        let tabs = view::tab_columns(areas.tabs);
                        if app.on_mouse(mouse, &areas, &stages, &tabs) == Action::Redraw {
                            frames.request();
                        }
                    }
                    Some(Ok(TermEvent::Resize(..))) => frames.request(),
                    Some(Ok(_)) => {}
                    Some(Err(err)) => return Err(err).context("cannot read the terminal"),
                    None => break,
                },
                Some(()) = highlighted.recv() => frames.request(),
                _ = tokio::time::sleep_until(due.into()), if frames.is_dirty() => {}
                _ = clock.tick(), if live => frames.request(),
                _ = load_tick.tick(), if app.view.loading.is_some() => {
                    app.view.loading = loading.as_ref().and_then(|l| l.loading());
                    frames.request();
                }
                _ = tokio::signal::ctrl_c() => break,
                _ = terminate.recv() => break,
            }
        }
        Ok(())
    });
    drop(guard);
    result?;
    Ok(app)
}

async fn next_live(source: &mut Source) -> Option<Envelope> {
    match source {
        Source::Live { events, .. } => events.recv().await,
        Source::Replay(_) => std::future::pending().await,
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn control_replay(player: &mut Player, key: ReplayKey, app: &mut App) {
    let now = Instant::now();
    match key {
        ReplayKey::TogglePause => player.toggle_pause(now),
        ReplayKey::Faster => player.step_speed(true),
        ReplayKey::Slower => player.step_speed(false),
        ReplayKey::NextStage => player.step_stage(true, &mut app.state),
        ReplayKey::PreviousStage => player.step_stage(false, &mut app.state),
        ReplayKey::Restart => player.seek_to(0, &mut app.state),
    }
}
