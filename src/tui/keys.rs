//! Keys and the mouse: the pure mapping from input to view changes and actions (steering
//! commands, finishing, the palette).

use std::ops::Range;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;

use super::app::{Action, App, ReplayKey, Tab};
use super::finish::Finish;
use super::palette::Palette;
use super::view::Areas;
use crate::event::{CandidateState, CandidateStatus, Command, Stage};

impl App {
    /// Maps a key to an action, updating the view state.
    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if let Some(finish) = self.view.confirm {
            return match key.code {
                KeyCode::Char('y') | KeyCode::Enter => {
                    self.view.confirm = None;
                    Action::Finish(finish)
                }
                KeyCode::Char('n') | KeyCode::Char('q') | KeyCode::Esc => {
                    self.view.confirm = None;
                    Action::Redraw
                }
                _ => Action::None,
            };
        }
        if self.view.palette.is_some() {
            return self.on_palette_key(key);
        }
        if self.view.show_help {
            match key.code {
                KeyCode::Down | KeyCode::Char('j') => self.view.help_scroll += 1,
                KeyCode::Up | KeyCode::Char('k') => {
                    self.view.help_scroll = self.view.help_scroll.saturating_sub(1)
                }
                _ => {
                    self.view.show_help = false;
                    self.view.help_scroll = 0;
                }
            }
            return Action::Redraw;
        }
        if self.view.replay.is_some() {
            let replay = match key.code {
                KeyCode::Char('p') | KeyCode::Char(' ') => Some(ReplayKey::TogglePause),
                KeyCode::Char(']') => Some(ReplayKey::Faster),
                KeyCode::Char('[') => Some(ReplayKey::Slower),
                KeyCode::Char('>') | KeyCode::Char('.') => Some(ReplayKey::NextStage),
                KeyCode::Char('<') | KeyCode::Char(',') => Some(ReplayKey::PreviousStage),
                KeyCode::Home => Some(ReplayKey::Restart),
                _ => None,
            };
            if let Some(replay) = replay {
                self.view.selected = None;
                self.view.beam = None;
                return Action::Replay(replay);
            }
        }
        if self.view.tab == Tab::Diff
            && let Some(action) = self.on_diff_key(key)
        {
            return action;
        }
        // A replay shows what happened: nothing can be steered.
        let running = !self.state.is_finished() && self.view.replay.is_none();
        let at_gate = self.state.gate.is_some() && self.view.replay.is_none();
        match key.code {
            KeyCode::Char('c') if ctrl => Action::Quit,
            KeyCode::Char('u') if ctrl => self.scroll(10),
            KeyCode::Char('d') if ctrl => self.scroll(-10),
            KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
            KeyCode::Char('?') => {
                self.view.show_help = true;
                Action::Redraw
            }
            KeyCode::Left | KeyCode::Char('h') => self.step_stage(-1),
            KeyCode::Right | KeyCode::Char('l') => self.step_stage(1),
            KeyCode::Up | KeyCode::Char('k') => self.step_beam(-1),
            KeyCode::Down | KeyCode::Char('j') => self.step_beam(1),
            KeyCode::Char('f') => {
                self.view.selected = None;
                self.view.beam = None;
                self.view.scroll_back = 0;
                Action::Redraw
            }
            KeyCode::Char('t') => {
                self.view.think_folded = !self.view.think_folded;
                Action::Redraw
            }
            KeyCode::PageUp => self.scroll(10),
            KeyCode::PageDown => self.scroll(-10),
            KeyCode::End | KeyCode::Char('G') => {
                self.view.scroll_back = 0;
                Action::Redraw
            }
            KeyCode::Char('p') | KeyCode::Char(' ') if running => {
                Action::Send(if self.state.paused {
                    Command::Resume
                } else {
                    Command::Pause
                })
            }
            KeyCode::Char('+') if running => self.steer(|stage, c| {
                if c.pinned {
                    Command::Unpin {
                        stage,
                        beam: c.beam,
                    }
                } else {
                    Command::Pin {
                        stage,
                        beam: c.beam,
                    }
                }
            }),
            KeyCode::Char('-') if running => self.steer(|stage, c| Command::Drop {
                stage,
                beam: c.beam,
            }),
            KeyCode::Char('e') if running => match self.shown_candidate() {
                Some(c) if c.status != CandidateStatus::Streaming => Action::Edit {
                    stage: self.shown_stage(),
                    beam: c.beam,
                },
                _ => Action::None,
            },
            KeyCode::Char('n') => self.step_hunk(1),
            KeyCode::Char('N') => self.step_hunk(-1),
            KeyCode::Char('s') => {
                self.toggle_side_by_side();
                Action::Redraw
            }
            KeyCode::Char('a') => match (self.shown_patch().map(|p| p.beam), self.view.hunk) {
                (Some(beam), Some(hunk)) => {
                    match self.view.accepted.iter().position(|a| *a == (beam, hunk)) {
                        Some(i) => {
                            self.view.accepted.remove(i);
                        }
                        None => self.view.accepted.push((beam, hunk)),
                    }
                    Action::Redraw
                }
                _ => Action::None,
            },
            KeyCode::Char(':') => {
                self.view.palette = Some(Palette::default());
                Action::Redraw
            }
            KeyCode::Char('W') => self.ask(Finish::Write),
            KeyCode::Char('A') => self.ask(Finish::Apply),
            KeyCode::Char('C') => self.ask(Finish::Commit),
            KeyCode::Tab => self.show_tab(self.view.tab.step(1)),
            KeyCode::BackTab => self.show_tab(self.view.tab.step(-1)),
            KeyCode::Char('d') => self.show_tab(if self.view.tab == Tab::Diff {
                Tab::Overview
            } else {
                Tab::Diff
            }),
            KeyCode::Char(c @ '1'..='4') => self.show_tab(Tab::ALL[c as usize - '1' as usize]),
            KeyCode::Char('x') if running => match (self.shown_patch(), self.view.hunk) {
                (Some(patch), Some(hunk)) => Action::Send(Command::RejectHunk {
                    beam: patch.beam,
                    hunk: hunk as u32,
                }),
                _ => Action::None,
            },
            KeyCode::Char('g') if running => Action::Send(Command::Gate {
                on: !self.gate_on(),
            }),
            KeyCode::Char('c') | KeyCode::Enter if at_gate => Action::Send(Command::Continue),
            KeyCode::Char('r') if at_gate => Action::Send(Command::reroll(
                self.state.gate.unwrap_or(Stage::Understand),
            )),
            // Re-roll hotter and with twice the thinking.
            KeyCode::Char('R') if at_gate => {
                let stage = self.state.gate.unwrap_or(Stage::Understand);
                let settings = self.state.header.as_ref().map(|h| &h.settings);
                Action::Send(Command::Reroll {
                    stage,
                    temperature: settings.map(|s| (s.temperature + 0.3).min(1.5)),
                    think_budget: settings.map(|s| s.think_budget(stage).max(256) * 2),
                    n: None,
                })
            }
            KeyCode::Char('w') if at_gate => Action::Write {
                stage: self.state.gate.unwrap_or(Stage::Understand),
            },
            _ => Action::None,
        }
    }

    /// Maps a mouse event to an action: a click on a stage, a tab or a candidate selects it; the
    /// wheel scrolls the pane under the pointer. `stages` and `tabs` are the columns the timeline
    /// and the tab bar give each (see [`super::view::stage_columns`]).
    pub fn on_mouse(
        &mut self,
        mouse: MouseEvent,
        areas: &Areas,
        stages: &[(Range<u16>, Stage)],
        tabs: &[(Range<u16>, Tab)],
    ) -> Action {
        let (x, y) = (mouse.column, mouse.row);
        let inside = |area: Option<Rect>| area.is_some_and(|a| a.contains((x, y).into()));
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if y == areas.timeline.y
                    && let Some((_, stage)) = stages.iter().find(|(r, _)| r.contains(&x))
                {
                    let delta = stage.index() as i32 - self.shown_stage().index() as i32;
                    if delta == 0 {
                        return Action::None;
                    }
                    return self.step_stage(delta);
                }
                if y == areas.tabs.y
                    && let Some((_, tab)) = tabs.iter().find(|(r, _)| r.contains(&x))
                {
                    return self.show_tab(*tab);
                }
                if let Some(list) = areas.beams.filter(|a| a.contains((x, y).into())) {
                    let row = usize::from(y.saturating_sub(list.y + 1));
                    let candidates = &self.state.stage(self.shown_stage()).candidates;
                    if y > list.y
                        && let Some(candidate) = candidates.get(row)
                    {
                        self.view.beam = Some(candidate.beam);
                        self.view.hunk = None;
                        self.view.diff_scroll = 0;
                        self.view.scroll_back = 0;
                        return Action::Redraw;
                    }
                }
                Action::None
            }
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                let up = mouse.kind == MouseEventKind::ScrollUp;
                if inside(areas.diff) {
                    let rows = self.diff_rows();
                    self.view.diff_scroll = if up {
                        self.view.diff_scroll.saturating_sub(3)
                    } else {
                        (self.view.diff_scroll + 3).min(rows.saturating_sub(1))
                    };
                    Action::Redraw
                } else if inside(areas.stream) {
                    self.scroll(if up { 3 } else { -3 })
                } else {
                    Action::None
                }
            }
            _ => Action::None,
        }
    }

    /// Opens the confirmation of a finishing action, when there is a patch to finish with.
    fn ask(&mut self, finish: Finish) -> Action {
        if self.view.replay.is_some() || self.shown_patch().is_none() {
            self.view.status = Some("no patch to finish with yet".to_string());
            return Action::Redraw;
        }
        self.view.confirm = Some(finish);
        Action::Redraw
    }

    /// Typing in the palette narrows it; Enter runs the chosen command as its key would.
    fn on_palette_key(&mut self, key: KeyEvent) -> Action {
        let Some(palette) = self.view.palette.as_mut() else {
            return Action::None;
        };
        match key.code {
            KeyCode::Esc => self.view.palette = None,
            KeyCode::Enter => {
                let chosen = palette.chosen();
                self.view.palette = None;
                if let Some(code) = chosen {
                    let action = self.on_key(KeyEvent::new(code, KeyModifiers::NONE));
                    return if action == Action::None {
                        Action::Redraw
                    } else {
                        action
                    };
                }
            }
            KeyCode::Up => palette.selected = palette.selected.saturating_sub(1),
            KeyCode::Down => palette.selected += 1,
            KeyCode::Backspace => {
                palette.query.pop();
                palette.selected = 0;
            }
            KeyCode::Char(c) => {
                palette.query.push(c);
                palette.selected = 0;
            }
            _ => return Action::None,
        }
        if let Some(palette) = self.view.palette.as_mut() {
            palette.selected = palette
                .selected
                .min(palette.matches().len().saturating_sub(1));
        }
        Action::Redraw
    }

    /// Keys that mean something else while the diff fills the body: scrolling moves the diff.
    fn on_diff_key(&mut self, key: KeyEvent) -> Option<Action> {
        let rows = self.diff_rows();
        let lines: i64 = match key.code {
            KeyCode::Up | KeyCode::Char('k') => -1,
            KeyCode::Down | KeyCode::Char('j') => 1,
            KeyCode::PageUp => -20,
            KeyCode::PageDown => 20,
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => -10,
            KeyCode::Char('d') if key.modifiers.contains(KeyModifiers::CONTROL) => 10,
            KeyCode::Home => i64::MIN / 2,
            KeyCode::End | KeyCode::Char('G') => i64::MAX / 2,
            _ => return None,
        };
        let scroll = (self.view.diff_scroll as i64 + lines).clamp(0, rows.saturating_sub(1) as i64);
        self.view.diff_scroll = scroll as usize;
        Some(Action::Redraw)
    }

    /// Rows of the shown diff in the chosen layout (0 without a patch).
    fn diff_rows(&self) -> usize {
        self.shown_patch().map_or(0, |p| {
            self.highlighter
                .model(&p.diff)
                .1
                .rows(self.view.side_by_side)
                .len()
        })
    }

    fn show_tab(&mut self, tab: Tab) -> Action {
        self.view.tab = tab;
        Action::Redraw
    }

    /// Selects the next (or previous) hunk of the shown patch and scrolls the diff to it.
    fn step_hunk(&mut self, delta: i32) -> Action {
        let Some(patch) = self.shown_patch() else {
            return Action::None;
        };
        let model = self.highlighter.model(&patch.diff).1;
        let count = model.hunks.len() as i32;
        if count == 0 {
            return Action::None;
        }
        let next = match self.view.hunk {
            Some(h) => (h as i32 + delta).rem_euclid(count),
            None if delta > 0 => 0,
            None => count - 1,
        } as usize;
        self.view.hunk = Some(next);
        self.view.diff_scroll = model
            .hunk_row(next, self.view.side_by_side)
            .unwrap_or(0)
            .saturating_sub(1);
        Action::Redraw
    }

    /// Switches unified / side by side, keeping the same hunk on screen.
    fn toggle_side_by_side(&mut self) {
        let sbs = self.view.side_by_side;
        self.view.side_by_side = !sbs;
        let Some(patch) = self.shown_patch() else {
            return;
        };
        let model = self.highlighter.model(&patch.diff).1;
        let hunk = self
            .view
            .hunk
            .or_else(|| model.hunk_at(self.view.diff_scroll, sbs));
        if let Some(row) = hunk.and_then(|h| model.hunk_row(h, !sbs)) {
            self.view.diff_scroll = row.saturating_sub(1);
        }
    }

    /// Whether the gate is on, as the settings and the user's toggles say.
    pub fn gate_on(&self) -> bool {
        self.state.gate_on
    }

    fn steer(&self, command: impl Fn(Stage, &CandidateState) -> Command) -> Action {
        match self.shown_candidate() {
            Some(candidate) => Action::Send(command(self.shown_stage(), candidate)),
            None => Action::None,
        }
    }

    fn step_stage(&mut self, delta: i32) -> Action {
        let index = self.shown_stage().index() as i32 + delta;
        let Some(stage) = usize::try_from(index).ok().and_then(|i| Stage::ALL.get(i)) else {
            return Action::None;
        };
        self.view.selected = Some(*stage);
        self.view.beam = None;
        self.view.hunk = None;
        self.view.diff_scroll = 0;
        self.view.scroll_back = 0;
        Action::Redraw
    }

    fn step_beam(&mut self, delta: i32) -> Action {
        let candidates = &self.state.stage(self.shown_stage()).candidates;
        let Some(current) = self.shown_candidate().map(|c| c.beam) else {
            return Action::None;
        };
        let Some(position) = candidates.iter().position(|c| c.beam == current) else {
            return Action::None;
        };
        let next = position as i32 + delta;
        match usize::try_from(next).ok().and_then(|i| candidates.get(i)) {
            Some(candidate) => {
                self.view.beam = Some(candidate.beam);
                self.view.hunk = None;
                self.view.diff_scroll = 0;
                self.view.scroll_back = 0;
                Action::Redraw
            }
            None => Action::None,
        }
    }

    fn scroll(&mut self, lines: i32) -> Action {
        self.view.scroll_back =
            (self.view.scroll_back as i32 + lines).clamp(0, u16::MAX as i32) as u16;
        Action::Redraw
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod key_tests;
