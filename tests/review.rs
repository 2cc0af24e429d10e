//! `ponder review` on the demo's journal: the screen at a pruned candidate with a note, and two
//! patches compared side by side, kept by snapshots of the rendered buffer.

mod support;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ponder::event::{CandidateStatus, Stage};
use ponder::review::{Note, Notes, Review, action, view};
use ponder::tui::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn screen(review: &Review, width: u16, height: u16) -> String {
    let theme = Theme::parse(include_str!("../themes/dark.toml"), true).unwrap();
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| view::draw(frame, review, &theme))
        .unwrap();
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn press(review: &mut Review, code: KeyCode) {
    let key = KeyEvent::new(code, KeyModifiers::NONE);
    if let Some(action) = action(review.mode(), key) {
        review.apply(action);
    }
}

fn demo_review() -> Review {
    let (mut events, _) = support::demo_events();
    support::zero_times(&mut events);
    Review::new(events, Notes::in_memory())
}

#[test]
fn a_pruned_patch_with_its_reason_and_a_note() {
    let mut review = demo_review();
    // Stage by stage to the end of the patch stage.
    for _ in 0..3 {
        press(&mut review, KeyCode::Char(']'));
    }
    assert_eq!(review.stage, Stage::Patch);
    // Down to a pruned candidate.
    press(&mut review, KeyCode::Up);
    press(&mut review, KeyCode::Up);
    press(&mut review, KeyCode::Up);
    press(&mut review, KeyCode::Up);
    while !matches!(
        review
            .state
            .stage(Stage::Patch)
            .get(review.beam.unwrap())
            .unwrap()
            .status,
        CandidateStatus::Pruned(_) | CandidateStatus::Error(_)
    ) {
        press(&mut review, KeyCode::Down);
    }
    press(&mut review, KeyCode::Char('a'));
    for c in "why not this one?".chars() {
        press(&mut review, KeyCode::Char(c));
    }
    press(&mut review, KeyCode::Enter);
    let seq = review.current().unwrap().seq;
    assert_eq!(
        review.notes.at(seq).map(|n: &Note| n.text.as_str()),
        Some("why not this one?")
    );
    insta::assert_snapshot!(screen(&review, 140, 40));
}

#[test]
fn two_patches_side_by_side() {
    let mut review = demo_review();
    for _ in 0..3 {
        press(&mut review, KeyCode::Char(']'));
    }
    press(&mut review, KeyCode::Up);
    press(&mut review, KeyCode::Up);
    press(&mut review, KeyCode::Up);
    press(&mut review, KeyCode::Up);
    press(&mut review, KeyCode::Char('c'));
    press(&mut review, KeyCode::Down);
    press(&mut review, KeyCode::Char('c'));
    assert!(review.comparing.is_some());
    insta::assert_snapshot!(screen(&review, 140, 40));
    press(&mut review, KeyCode::Char('q'));
    assert!(review.comparing.is_none() && !review.quit);
}
