//! Key and mouse handling tests: key + state → action / state change.

mod tests {
    use super::super::*;
    use crate::event::Event;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn with_candidates() -> App {
        let mut app = App::new();
        for event in [
            Event::StageStarted {
                stage: Stage::Localize,
            },
            Event::CandidateStarted {
                stage: Stage::Localize,
                beam: 0,
                parent: None,
            },
            Event::CandidateStarted {
                stage: Stage::Localize,
                beam: 1,
                parent: None,
            },
            Event::CandidateFinished {
                stage: Stage::Localize,
                beam: 0,
                answer: "a".into(),
                think_tokens: 1,
                answer_tokens: 1,
                forced_answer: false,
                notes: Vec::new(),
            },
            Event::CandidateFinished {
                stage: Stage::Localize,
                beam: 1,
                answer: "b".into(),
                think_tokens: 1,
                answer_tokens: 1,
                forced_answer: false,
                notes: Vec::new(),
            },
            Event::Scored {
                stage: Stage::Localize,
                beam: 0,
                score: 0.2,
                judge: "prm".into(),
            },
            Event::Scored {
                stage: Stage::Localize,
                beam: 1,
                score: 0.9,
                judge: "prm".into(),
            },
            Event::BeamsKept {
                stage: Stage::Localize,
                kept: vec![0, 1],
                pruned: vec![],
            },
        ] {
            app.state.apply(&event);
        }
        app
    }

    #[test]
    fn arrows_select_stages_and_f_follows_again() {
        let mut app = App::new();
        assert_eq!(app.shown_stage(), Stage::Understand);
        assert_eq!(app.on_key(key(KeyCode::Left)), Action::None);
        app.on_key(key(KeyCode::Right));
        app.on_key(key(KeyCode::Char('l')));
        assert_eq!(app.shown_stage(), Stage::Patch);
        app.on_key(key(KeyCode::Char('f')));
        assert_eq!(app.view.selected, None);
    }

    #[test]
    fn following_shows_the_best_kept_and_j_k_select_candidates() {
        let mut app = with_candidates();
        assert_eq!(app.shown_candidate().unwrap().beam, 1);
        app.on_key(key(KeyCode::Char('k')));
        assert_eq!(app.shown_candidate().unwrap().beam, 0);
        assert_eq!(app.on_key(key(KeyCode::Up)), Action::None);
        app.on_key(key(KeyCode::Down));
        assert_eq!(app.shown_candidate().unwrap().beam, 1);
    }

    #[test]
    fn steering_keys_send_commands_for_the_shown_candidate() {
        let mut app = with_candidates();
        assert_eq!(
            app.on_key(key(KeyCode::Char('+'))),
            Action::Send(Command::Pin {
                stage: Stage::Localize,
                beam: 1
            })
        );
        assert_eq!(
            app.on_key(key(KeyCode::Char('-'))),
            Action::Send(Command::Drop {
                stage: Stage::Localize,
                beam: 1
            })
        );
        assert_eq!(
            app.on_key(key(KeyCode::Char('e'))),
            Action::Edit {
                stage: Stage::Localize,
                beam: 1
            }
        );
        // Continue and re-roll only mean something at a gate.
        assert_eq!(app.on_key(key(KeyCode::Char('c'))), Action::None);
        app.state.apply(&Event::GateWaiting {
            stage: Stage::Localize,
        });
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Action::Send(Command::Continue)
        );
        assert_eq!(
            app.on_key(key(KeyCode::Char('r'))),
            Action::Send(Command::reroll(Stage::Localize))
        );
        assert_eq!(
            app.on_key(key(KeyCode::Char('w'))),
            Action::Write {
                stage: Stage::Localize
            }
        );
    }

    #[test]
    fn pause_toggles_and_quit_keys_quit() {
        let mut app = App::new();
        assert_eq!(
            app.on_key(key(KeyCode::Char('p'))),
            Action::Send(Command::Pause)
        );
        app.state.paused = true;
        assert_eq!(
            app.on_key(key(KeyCode::Char('p'))),
            Action::Send(Command::Resume)
        );
        assert_eq!(app.on_key(key(KeyCode::Char('q'))), Action::Quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.on_key(ctrl_c), Action::Quit);
    }

    #[test]
    fn help_closes_on_any_key_and_scrolling_stops_at_the_end() {
        let mut app = App::new();
        app.on_key(key(KeyCode::Char('?')));
        assert!(app.view.show_help);
        app.on_key(key(KeyCode::Down));
        app.on_key(key(KeyCode::Char('j')));
        app.on_key(key(KeyCode::Up));
        assert_eq!(app.view.help_scroll, 1, "arrows scroll the help");
        assert!(app.view.show_help);
        assert_eq!(app.on_key(key(KeyCode::Char('q'))), Action::Redraw);
        assert!(!app.view.show_help);
        assert_eq!(app.view.help_scroll, 0);
        app.on_key(key(KeyCode::PageDown));
        assert_eq!(app.view.scroll_back, 0);
        app.on_key(key(KeyCode::PageUp));
        assert_eq!(app.view.scroll_back, 10);
    }
}

#[cfg(test)]
mod hunk_tests {
    use super::super::*;
    use crate::event::Event;

    #[test]
    fn n_cycles_hunks_and_x_rejects_the_selected_one() {
        let mut app = App::new();
        let before = (1..=20).map(|i| format!("l{i}\n")).collect::<String>();
        let after = before
            .replace("l2\n", "two\n")
            .replace("l19\n", "nineteen\n");
        let diff = crate::pipeline::unified_diff(&[crate::pipeline::FileChange {
            path: "f".into(),
            before,
            after,
            created: false,
        }]);
        app.state.apply(&Event::PatchProposed {
            beam: 3,
            diff,
            files: vec!["f".into()],
            votes: 1,
            merged: vec![],
            matching: "exact".into(),
        });
        let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(app.on_key(key('x')), Action::None, "no hunk selected yet");
        app.on_key(key('n'));
        app.on_key(key('n'));
        assert_eq!(app.view.hunk, Some(1));
        assert_eq!(
            app.on_key(key('x')),
            Action::Send(Command::RejectHunk { beam: 3, hunk: 1 })
        );
        app.on_key(key('n'));
        assert_eq!(app.view.hunk, Some(0), "wraps around");
    }
}

#[cfg(test)]
mod replay_tests {
    use super::super::*;
    use crate::tui::app::ReplayView;

    #[test]
    fn replay_keys_control_the_player_and_never_steer() {
        let mut app = App::new();
        app.view.replay = Some(ReplayView::default());
        let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(app.on_key(key(' ')), Action::Replay(ReplayKey::TogglePause));
        assert_eq!(app.on_key(key(']')), Action::Replay(ReplayKey::Faster));
        assert_eq!(app.on_key(key('>')), Action::Replay(ReplayKey::NextStage));
        assert_eq!(app.on_key(key('+')), Action::None);
        assert_eq!(app.on_key(key('g')), Action::None);
    }
}

#[cfg(test)]
mod view_key_tests {
    use super::super::*;
    use crate::event::Event;

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    /// A patch of two hunks (beam 3) at the patch stage, with candidates 0 and 1.
    fn with_patch() -> App {
        let mut app = App::new();
        let before = (1..=40).map(|i| format!("l{i}\n")).collect::<String>();
        let after = before.replace("l2\n", "two\n").replace("l39\n", "x\n");
        let diff = crate::pipeline::unified_diff(&[crate::pipeline::FileChange {
            path: "f.py".into(),
            before,
            after,
            created: false,
        }]);
        for event in [
            Event::StageStarted {
                stage: Stage::Patch,
            },
            Event::CandidateStarted {
                stage: Stage::Patch,
                beam: 0,
                parent: None,
            },
            Event::CandidateStarted {
                stage: Stage::Patch,
                beam: 1,
                parent: None,
            },
            Event::PatchProposed {
                beam: 3,
                diff,
                files: vec!["f.py".into()],
                votes: 1,
                merged: vec![],
                matching: "exact".into(),
            },
        ] {
            app.state.apply(&event);
        }
        app
    }

    #[test]
    fn tabs_cycle_and_d_opens_and_closes_the_diff() {
        let mut app = App::new();
        app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
        assert_eq!(app.view.tab, Tab::Diff);
        app.on_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
        app.on_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
        assert_eq!(app.view.tab, Tab::Rank, "wraps around");
        app.on_key(key('d'));
        assert_eq!(app.view.tab, Tab::Diff);
        app.on_key(key('d'));
        assert_eq!(app.view.tab, Tab::Overview);
        app.on_key(key('3'));
        assert_eq!(app.view.tab, Tab::Verify);
    }

    #[test]
    fn hunks_scroll_into_view_and_side_by_side_keeps_the_hunk() {
        let mut app = with_patch();
        app.on_key(key('d'));
        app.on_key(key('N'));
        assert_eq!(app.view.hunk, Some(1), "N from nothing goes to the last");
        let unified_row = app.view.diff_scroll;
        assert!(unified_row > 0);
        app.on_key(key('s'));
        assert!(app.view.side_by_side);
        let model = app.highlighter.model(&app.shown_patch().unwrap().diff).1;
        assert_eq!(
            app.view.diff_scroll,
            model.hunk_row(1, true).unwrap() - 1,
            "the same hunk stays on screen"
        );
        // In the diff, ↓ scrolls the diff, not the candidates; Home goes to the top.
        app.on_key(KeyEvent::new(KeyCode::Home, KeyModifiers::NONE));
        assert_eq!(app.view.diff_scroll, 0);
        app.on_key(key('j'));
        assert_eq!(app.view.diff_scroll, 1);
        assert_eq!(app.view.beam, None);
    }

    #[test]
    fn a_accepts_the_selected_hunk_and_again_takes_it_back() {
        let mut app = with_patch();
        assert_eq!(app.on_key(key('a')), Action::None, "no hunk selected");
        app.on_key(key('n'));
        app.on_key(key('a'));
        assert_eq!(app.view.accepted, vec![(3, 0)]);
        app.on_key(key('a'));
        assert!(app.view.accepted.is_empty());
    }

    #[test]
    fn finishing_asks_first_and_runs_on_yes_only() {
        let mut app = App::new();
        app.on_key(key('C'));
        assert_eq!(app.view.confirm, None, "no patch: nothing to ask");
        assert!(app.view.status.is_some());
        let mut app = with_patch();
        app.on_key(key('A'));
        assert_eq!(app.view.confirm, Some(Finish::Apply));
        assert_eq!(app.on_key(key('j')), Action::None, "other keys wait");
        assert_eq!(app.on_key(key('n')), Action::Redraw);
        assert_eq!(app.view.confirm, None);
        app.on_key(key('W'));
        assert_eq!(app.on_key(key('y')), Action::Finish(Finish::Write));
    }

    #[test]
    fn the_palette_runs_the_chosen_command_as_its_key() {
        let mut app = with_patch();
        app.on_key(key(':'));
        for c in "side".chars() {
            assert_eq!(app.on_key(key(c)), Action::Redraw);
        }
        assert_eq!(app.view.palette.as_ref().unwrap().query, "side");
        app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert!(app.view.palette.is_none());
        assert!(app.view.side_by_side);
        app.on_key(key(':'));
        for c in "pin".chars() {
            app.on_key(key(c));
        }
        assert_eq!(
            app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
            Action::Send(Command::Pin {
                stage: Stage::Patch,
                beam: 0
            })
        );
        app.on_key(key(':'));
        assert_eq!(
            app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
            Action::Redraw
        );
        assert!(app.view.palette.is_none(), "Esc closes without quitting");
    }

    #[test]
    fn clicks_select_stages_tabs_and_candidates_and_the_wheel_scrolls() {
        let mut app = with_patch();
        let theme = crate::tui::Theme::named("dark").unwrap();
        let area = Rect::new(0, 0, 200, 50);
        let areas = crate::tui::view::layout(area, &app, &theme);
        let stages = crate::tui::view::stage_columns(areas.timeline, &app, &theme);
        let tabs = crate::tui::view::tab_columns(areas.tabs);
        let click = |x, y| MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        };
        // The second candidate's row: one below the pane's top border and the first row.
        let list = areas.beams.unwrap();
        let action = app.on_mouse(click(list.x + 3, list.y + 2), &areas, &stages, &tabs);
        assert_eq!(action, Action::Redraw);
        assert_eq!(app.view.beam, Some(1));
        let (columns, _) = stages.iter().find(|(_, s)| *s == Stage::Localize).unwrap();
        app.on_mouse(
            click(columns.start, areas.timeline.y),
            &areas,
            &stages,
            &tabs,
        );
        assert_eq!(app.shown_stage(), Stage::Localize);
        let (columns, _) = tabs.iter().find(|(_, t)| *t == Tab::Rank).unwrap();
        app.on_mouse(
            click(columns.start + 1, areas.tabs.y),
            &areas,
            &stages,
            &tabs,
        );
        assert_eq!(app.view.tab, Tab::Rank);
        let stream = areas.stream.unwrap();
        let wheel = MouseEvent {
            kind: MouseEventKind::ScrollUp,
            column: stream.x + 2,
            row: stream.y + 2,
            modifiers: KeyModifiers::NONE,
        };
        app.on_mouse(wheel, &areas, &stages, &tabs);
        assert_eq!(app.view.scroll_back, 3);
    }
}
