//! What the user sees at the end of the demo, kept by snapshots of the rendered buffer: every view
//! at 80×24 and 200×50; and, for the dark and light themes, the styles of the diff (syntax colours
//! under word-level emphasis).

mod support;

use std::sync::OnceLock;
use std::time::Duration;

use ponder::event::{SessionState, Stage};
use ponder::tui::{App, Tab, Theme, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

fn final_state() -> &'static SessionState {
    static STATE: OnceLock<SessionState> = OnceLock::new();
    STATE.get_or_init(|| {
        let (mut events, _) = support::demo_events();
        support::zero_times(&mut events);
        SessionState::from_envelopes(&events)
    })
}

fn final_app() -> App {
    App {
        state: final_state().clone(),
        ..App::default()
    }
}

fn draw(app: &App, theme: &str, width: u16, height: u16) -> Buffer {
    let theme = Theme::named(theme).unwrap();
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| render(frame, app, &theme, Duration::ZERO))
        .unwrap();
    terminal.backend().buffer().clone()
}

fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    (0..area.height)
        .map(|y| {
            (0..area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn screen(app: &App, width: u16, height: u16) -> String {
    text(&draw(app, "dark", width, height))
}

/// Rows `rows` as runs of equally styled text: `[fg/bg/modifiers]text`.
fn styled(buffer: &Buffer, rows: std::ops::Range<u16>) -> String {
    let mut out = String::new();
    for y in rows {
        let mut last = None;
        for x in 0..buffer.area.width {
            let cell = &buffer[(x, y)];
            let style = (cell.fg, cell.bg, cell.modifier);
            if last != Some(style) {
                out.push_str(&format!("[{:?}/{:?}/{:?}]", style.0, style.1, style.2));
                last = Some(style);
            }
            out.push_str(cell.symbol());
        }
        out.push('\n');
    }
    out
}

/// Every view of the final screen, each at both sizes.
fn views() -> Vec<(&'static str, App)> {
    let mut views = vec![("overview", final_app())];
    let mut understand = final_app();
    understand.view.selected = Some(Stage::Understand);
    understand.view.think_folded = true;
    views.push(("understand_folded", understand));
    let mut diff = final_app();
    diff.view.tab = Tab::Diff;
    diff.view.hunk = Some(0);
    views.push(("diff_unified", diff.clone()));
    diff.view.side_by_side = true;
    views.push(("diff_side_by_side", diff));
    let mut verify = final_app();
    verify.view.tab = Tab::Verify;
    views.push(("verify", verify));
    let mut rank = final_app();
    rank.view.tab = Tab::Rank;
    views.push(("rank", rank));
    let mut help = final_app();
    help.view.show_help = true;
    views.push(("help", help.clone()));
    // The rest of the keys, where the terminal is too short for all of them.
    help.view.help_scroll = 20;
    views.push(("help_scrolled", help));
    let mut palette = final_app();
    palette.on_key(key(':'));
    for c in "hunk".chars() {
        palette.on_key(key(c));
    }
    views.push(("palette", palette));
    let mut confirm = final_app();
    confirm.on_key(key('C'));
    views.push(("confirm_commit", confirm));
    views
}

fn key(c: char) -> crossterm::event::KeyEvent {
    crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char(c),
        crossterm::event::KeyModifiers::NONE,
    )
}

#[test]
fn every_view_at_80x24_and_200x50() {
    for (name, app) in views() {
        for (width, height) in [(80, 24), (200, 50)] {
            insta::assert_snapshot!(
                format!("{name}_{width}x{height}"),
                screen(&app, width, height)
            );
        }
    }
}

#[test]
fn themes_style_the_diff() {
    let mut app = final_app();
    app.view.tab = Tab::Diff;
    for theme in ["dark", "light", "high-contrast"] {
        let buffer = draw(&app, theme, 80, 24);
        insta::assert_snapshot!(format!("diff_styles_{theme}"), styled(&buffer, 3..16));
    }
}

#[test]
fn dark_and_light_draw_the_same_text_in_different_colours() {
    for (name, app) in views() {
        let dark = draw(&app, "dark", 80, 24);
        let light = draw(&app, "light", 80, 24);
        assert_eq!(text(&dark), text(&light), "{name}");
        assert_ne!(
            styled(&dark, 0..24),
            styled(&light, 0..24),
            "{name}: the themes look alike"
        );
    }
}

/// While the repository is indexed, the timeline says how far it got and how much came from
/// the persisted index.
#[test]
fn the_timeline_shows_indexing_progress() {
    let mut state = SessionState::new();
    let (mut events, _) = support::demo_events();
    support::zero_times(&mut events);
    state.apply_envelope(&events[0]);
    state.apply(&ponder::event::Event::IndexProgress {
        done: 812,
        total: 1816,
        reused: 800,
    });
    let app = App {
        state,
        ..App::default()
    };
    let rows: Vec<String> = screen(&app, 120, 10)
        .lines()
        .take(2)
        .map(String::from)
        .collect();
    insta::assert_snapshot!("timeline_indexing", rows.join("\n"));
}

#[test]
fn the_header_shows_the_model_loading_and_what_the_cache_held() {
    let mut app = final_app();
    app.view.loading = Some(0.42);
    for stage in &mut app.state.stages {
        for request in &mut stage.requests {
            request.cached_tokens = request.tokens.map(|t| t * 3 / 4);
        }
    }
    let screen = screen(&app, 200, 50);
    let header = screen
        .lines()
        .find(|l| l.contains("loading model"))
        .unwrap_or_else(|| panic!("no loading bar:\n{screen}"))
        .to_string();
    assert!(header.contains("loading model ▰▰▰▰▱▱▱▱▱▱  42%"), "{header}");
    assert!(header.contains("% cached"), "{header}");
    insta::assert_snapshot!("header_loading_cached_200x50", header);
}
