//! Headless mode: the session's events as JSON lines on stdout, one per event, as they happen;
//! commands as JSON lines on stdin (`{"command":"pin","stage":"patch","beam":2}`).

use std::io::{BufRead, Write};

use anyhow::Result;

use crate::event::{Command, Event, Outcome};
use crate::pipeline::{RunningSession, SessionHandle};

/// Prints every event until the session finishes, taking commands from stdin; returns how it ended.
pub fn run(mut session: RunningSession) -> Result<Outcome> {
    let handle = session.handle.clone();
    // While stdin is open, a stage with no usable candidate waits for a command on it.
    handle.set_steerable(true);
    std::thread::Builder::new()
        .name("ponder-stdin".into())
        .spawn(move || {
            read_commands(std::io::stdin().lock(), &handle);
            handle.set_steerable(false);
        })?;
    let stdout = std::io::stdout();
    while let Some(envelope) = session.events.blocking_recv() {
        let mut out = stdout.lock();
        serde_json::to_writer(&mut out, &envelope)?;
        out.write_all(b"\n")?;
        out.flush()?;
        if matches!(envelope.event, Event::SessionFinished { .. }) {
            break;
        }
    }
    session
        .thread
        .join()
        .map_err(|_| anyhow::anyhow!("the pipeline thread panicked"))
}

/// Sends each JSON command line to the session; a bad line is reported on stderr and skipped.
pub fn read_commands(input: impl BufRead, handle: &SessionHandle) {
    for line in input.lines() {
        let Ok(line) = line else { return };
        if line.trim().is_empty() {
            continue;
        }
        match parse_command(&line) {
            Ok(command) => handle.send(command),
            Err(err) => eprintln!("ponder: {err}"),
        }
    }
}

/// Parses one command line.
pub fn parse_command(line: &str) -> Result<Command> {
    serde_json::from_str(line).map_err(|err| {
        anyhow::anyhow!(
            "ignored the command {line:?}: {err}. Commands are JSON lines such as \
             {{\"command\":\"pin\",\"stage\":\"patch\",\"beam\":2}}, {{\"command\":\"continue\"}}, \
             {{\"command\":\"pause\"}}, {{\"command\":\"reroll\",\"stage\":\"understand\",\"temperature\":1.0}}, \
             {{\"command\":\"answer\",\"stage\":\"understand\",\"answer\":\"[\\\"a.py\\\"]\"}} or \
             {{\"command\":\"abort\"}}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Stage;

    #[test]
    fn commands_parse_and_bad_lines_say_what_is_expected() {
        assert_eq!(
            parse_command(r#"{"command":"drop","stage":"localize","beam":1}"#).unwrap(),
            Command::Drop {
                stage: Stage::Localize,
                beam: 1
            }
        );
        assert_eq!(
            parse_command(r#"{"command":"continue"}"#).unwrap(),
            Command::Continue
        );
        let err = parse_command("pin 2").unwrap_err().to_string();
        assert!(err.contains("\"command\":\"pin\""), "{err}");
    }
}
