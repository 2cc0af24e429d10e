//! `ponder bench tui`: the interface's costs beside its goals — frame render time at 200×60 with
//! 8 beams streaming and a 5,000-line diff open, tokens per second the event loop absorbs (fold
//! everything queued, draw at most every 16 ms), and frames drawn while nothing happens.
//!
//! Frames are drawn into ratatui's `TestBackend` (the cost of building and diffing a frame, not
//! of the terminal writing it). The loop measured is the interface's own pieces — the fold, the
//! [`FramePacer`] and [`render`] — driven from a channel as the live loop drives them.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::event::{Channel, Envelope, Event, Stage};
use crate::pipeline::{FileChange, unified_diff};
use crate::tui::frames::FramePacer;
use crate::tui::{App, Tab, Theme, render};

/// What `ponder bench tui` takes.
#[derive(Debug, Args)]
pub struct TuiBenchArgs {
    /// Frames timed for the render figure.
    #[arg(long, default_value_t = 300)]
    frames: usize,
    /// Tokens pushed through the loop for the throughput figure.
    #[arg(long, default_value_t = 1_000_000)]
    tokens: usize,
    /// Seconds of idleness watched for redraws.
    #[arg(long, default_value_t = 2.0)]
    idle_s: f64,
}

const BEAMS: u32 = 8;
/// Tokens each beam has streamed before frames are timed (a thinking budget's worth).
const PRELOAD: usize = 4_096;

pub fn run(args: TuiBenchArgs) -> Result<ExitCode> {
    let theme = Theme::named("dark").expect("built-in theme");
    let diff = big_diff(5_000);
    println!(
        "ponder bench tui: 200×60, {BEAMS} beams streaming ({PRELOAD} tokens each before timing), \
         a {}-line diff open; frames drawn into a TestBackend (no terminal I/O)",
        diff.lines().count()
    );

    // 1. Frame render time: each frame after one token per beam, overview with every pane; each
    // beam has already streamed a full thinking budget.
    let mut app = streaming_app(&diff);
    for i in 0..PRELOAD {
        for beam in 0..BEAMS {
            app.state.apply(&token(beam, i));
        }
    }
    let mut terminal = Terminal::new(TestBackend::new(200, 60))?;
    let mut times = Vec::with_capacity(args.frames);
    for tab in [Tab::Overview, Tab::Diff] {
        app.view.tab = tab;
        for i in 0..args.frames {
            for beam in 0..BEAMS {
                app.state.apply(&token(beam, i));
            }
            let start = Instant::now();
            terminal.draw(|frame| render(frame, &app, &theme, Duration::ZERO))?;
            times.push(start.elapsed());
        }
    }
    times.sort();
    let median = times[times.len() / 2];
    let p95 = times[times.len() * 95 / 100];
    println!(
        "{:<46}{:>10.3} ms   (p95 {:.3} ms)   goal ≤ 2 ms   {}",
        "frame render time, median",
        ms(median),
        ms(p95),
        verdict(ms(median) <= 2.0)
    );

    // 2. Throughput: a producer thread sends tokens as fast as it can; the loop drains what is
    // queued, folds it, and draws when a frame is due.
    let mut app = streaming_app(&diff);
    let (send, mut receive) = tokio::sync::mpsc::unbounded_channel::<Envelope>();
    let total = args.tokens;
    let producer = std::thread::spawn(move || {
        for i in 0..total {
            let envelope = Envelope {
                seq: i as u64,
                t_ms: 0,
                event: token(i as u32 % BEAMS, i),
            };
            if send.send(envelope).is_err() {
                break;
            }
        }
    });
    let mut pacer = FramePacer::default();
    let start = Instant::now();
    let mut folded = 0usize;
    while folded < total {
        match receive.blocking_recv() {
            Some(first) => {
                app.apply(&first);
                folded += 1;
                while let Ok(more) = receive.try_recv() {
                    app.apply(&more);
                    folded += 1;
                }
                pacer.request();
            }
            None => break,
        }
        if pacer.take(Instant::now()) {
            terminal.draw(|frame| render(frame, &app, &theme, Duration::ZERO))?;
        }
    }
    let elapsed = start.elapsed();
    producer
        .join()
        .map_err(|_| anyhow::anyhow!("the producer panicked"))?;
    let rate = folded as f64 / elapsed.as_secs_f64();
    println!(
        "{:<46}{:>10.0} tok/s ({} frames in {:.2} s)   goal ≥ 100k   {}",
        "tokens absorbed by the loop",
        rate,
        pacer.drawn,
        elapsed.as_secs_f64(),
        verdict(rate >= 100_000.0)
    );

    // 3. Idle: the loop's pacer asked for nothing while no event, key or tick arrives (a
    // finished session has no clock tick); count the frames it would draw.
    let idle_start = Instant::now();
    let drawn_before = pacer.drawn;
    if pacer.take(Instant::now()) {
        // The last burst's frame, owed from before the idle period.
        terminal.draw(|frame| render(frame, &app, &theme, Duration::ZERO))?;
    }
    let owed = pacer.drawn - drawn_before;
    let mut idle_frames = 0u64;
    while idle_start.elapsed().as_secs_f64() < args.idle_s {
        std::thread::sleep(Duration::from_millis(4));
        if pacer.take(Instant::now()) {
            terminal.draw(|frame| render(frame, &app, &theme, Duration::ZERO))?;
            idle_frames += 1;
        }
    }
    println!(
        "{:<46}{:>10} in {:.1} s (after {owed} owed frame)   goal 0   {}",
        "redraws while idle",
        idle_frames,
        args.idle_s,
        verdict(idle_frames == 0)
    );
    println!(
        "note: a live session also redraws once a second for its clock; a finished one or a \
         paused replay does not."
    );
    Ok(ExitCode::SUCCESS)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn token(beam: u32, i: usize) -> Event {
    Event::Token {
        stage: Stage::Patch,
        beam,
        channel: if i.is_multiple_of(5) {
            Channel::Answer
        } else {
            Channel::Think
        },
        text: if i.is_multiple_of(12) { "\n" } else { " word" }.to_string(),
    }
}

/// An app at the patch stage with 8 candidates streaming and a patch of `lines` diff lines.
fn streaming_app(diff: &str) -> App {
    let mut app = App::new();
    app.state.apply(&Event::StageStarted {
        stage: Stage::Patch,
    });
    for beam in 0..BEAMS {
        app.state.apply(&Event::CandidateStarted {
            stage: Stage::Patch,
            beam,
            parent: None,
        });
    }
    app.state.apply(&Event::PatchProposed {
        beam: BEAMS,
        diff: diff.to_string(),
        files: vec!["src/engine.py".into()],
        votes: 1,
        merged: vec![],
        matching: "exact".into(),
    });
    app
}

/// A Python file changed every few lines until the diff has at least `lines` lines.
fn big_diff(lines: usize) -> String {
    let mut n = 600;
    loop {
        let before: String = (0..n)
            .map(|i| match i % 4 {
                0 => format!("def handler_{i}(request, retries={i}):\n"),
                1 => format!("    value = compute(request, \"key-{i}\")  # step {i}\n"),
                2 => format!("    if value > {i}:\n"),
                _ => format!("        return value * {i}\n"),
            })
            .collect();
        let after: String = before
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i % 3 == 1 {
                    format!(
                        "{}\n",
                        l.replace("compute(", "compute_cached(")
                            .replace("step", "stage")
                    )
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let diff = unified_diff(&[FileChange {
            path: "src/engine.py".into(),
            before,
            after,
            created: false,
        }]);
        if diff.lines().count() >= lines {
            return diff;
        }
        n += n / 2;
    }
}
