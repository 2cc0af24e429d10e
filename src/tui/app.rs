//! The interface's state: the folded session plus what the viewer chose to look at, and the pure
//! mapping from keys to actions.

use std::time::Duration;

use std::ops::Range;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use ratatui::layout::Rect;

use super::finish::Finish;
use super::highlight::Highlighter;
use super::palette::Palette;
use super::view::Areas;
use super::wrap_cache::WrapCache;
use crate::event::{
    Beam, CandidateState, CandidateStatus, Command, Envelope, PatchState, SessionState, Stage,
};

/// What the viewer chose to look at; never derived from events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewState {
    /// The stage shown; `None` follows the running stage.
    pub selected: Option<Stage>,
    /// The candidate shown; `None` follows the most interesting one (see [`App::shown_candidate`]).
    pub beam: Option<Beam>,
    /// Thinking collapsed to one line.
    pub think_folded: bool,
    /// Lines scrolled up from the end of the stream pane; 0 follows the end.
    pub scroll_back: u16,
    /// The hunk of the shown patch that `x` rejects; `None` until the user picks one with `n`.
    pub hunk: Option<usize>,
    pub show_help: bool,
    /// Lines the help overlay is scrolled down by.
    pub help_scroll: u16,
    /// Set when the screen shows a replay, not a live session.
    pub replay: Option<ReplayView>,
    /// A message for the status line (an editor that failed, say).
    pub status: Option<String>,
    /// The status reports a success (a patch written), not a failure.
    pub status_ok: bool,
    /// The tab shown in the body.
    pub tab: Tab,
    /// The diff is shown side by side rather than unified.
    pub side_by_side: bool,
    /// The first row of the diff on screen.
    pub diff_scroll: usize,
    /// Hunks the user accepted: (patch beam, hunk index).
    pub accepted: Vec<(Beam, usize)>,
    /// The command palette, while open.
    pub palette: Option<Palette>,
    /// A finishing action waiting for the user's yes.
    pub confirm: Option<Finish>,
}

/// What the body shows. Wide terminals show every pane on [`Tab::Overview`]; narrow ones fold
/// them into the other tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Overview,
    Diff,
    Verify,
    Rank,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Overview, Tab::Diff, Tab::Verify, Tab::Rank];

    pub fn name(self) -> &'static str {
        match self {
            Tab::Overview => "beams",
            Tab::Diff => "diff",
            Tab::Verify => "verify",
            Tab::Rank => "rank",
        }
    }

    fn step(self, delta: i32) -> Tab {
        let i = Tab::ALL.iter().position(|t| *t == self).unwrap_or(0) as i32;
        Tab::ALL[(i + delta).rem_euclid(Tab::ALL.len() as i32) as usize]
    }
}

/// What the header shows of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReplayView {
    pub speed: f64,
    pub paused: bool,
    /// Events played, and in all.
    pub played: usize,
    pub total: usize,
}

/// A presenter's control of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayKey {
    TogglePause,
    Faster,
    Slower,
    NextStage,
    PreviousStage,
    Restart,
}

/// What a key asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    /// Redraw: the view changed.
    Redraw,
    Send(Command),
    /// Edit this candidate's answer in the user's editor.
    Edit {
        stage: Stage,
        beam: Beam,
    },
    /// Control the replay.
    Replay(ReplayKey),
    /// Finish with the shown patch (confirmed).
    Finish(Finish),
    Quit,
}

/// Session state plus view state.
#[derive(Debug, Clone, Default)]
pub struct App {
    pub state: SessionState,
    pub view: ViewState,
    /// Parsed and highlighted diffs.
    pub highlighter: Highlighter,
    /// The shown thinking, wrapped for the pane's width.
    pub wraps: WrapCache,
}

impl App {
    pub fn new() -> App {
        App::default()
    }

    pub fn apply(&mut self, envelope: &Envelope) {
        self.state.apply_envelope(envelope);
    }

    /// The stage on screen: the chosen one, else the running one, else the first.
    pub fn shown_stage(&self) -> Stage {
        self.view
            .selected
            .or(self.state.current)
            .unwrap_or(Stage::Understand)
    }

    /// The candidate on screen: the chosen one; else the first still streaming; else the best
    /// kept; else the first.
    pub fn shown_candidate(&self) -> Option<&CandidateState> {
        let stage = self.state.stage(self.shown_stage());
        if let Some(beam) = self.view.beam
            && let Some(candidate) = stage.get(beam)
        {
            return Some(candidate);
        }
        let streaming = stage
            .candidates
            .iter()
            .find(|c| c.status == CandidateStatus::Streaming);
        let best_kept = stage
            .candidates
            .iter()
            .filter(|c| c.status == CandidateStatus::Kept)
            .max_by(|a, b| {
                a.score
                    .unwrap_or(0.0)
                    .total_cmp(&b.score.unwrap_or(0.0))
                    .then(b.beam.cmp(&a.beam))
            });
        streaming.or(best_kept).or(stage.candidates.first())
    }

    /// The patch on screen: the shown patch candidate's own, else the top-ranked, else the latest.
    pub fn shown_patch(&self) -> Option<&PatchState> {
        let patches = &self.state.patches;
        if self.shown_stage() == Stage::Patch
            && let Some(candidate) = self.shown_candidate()
            && let Some(patch) = patches
                .iter()
                .find(|p| p.beam == candidate.beam || p.merged.contains(&candidate.beam))
        {
            return Some(patch);
        }
        self.state
            .ranking
            .first()
            .and_then(|top| patches.iter().find(|p| p.beam == top.beam))
            .or(patches.last())
    }

    /// Session time to show: the last event's time once finished or in a replay, else `live`.
    pub fn elapsed(&self, live: Duration) -> Duration {
        if self.state.is_finished() || self.view.replay.is_some() {
            Duration::from_millis(self.state.t_ms)
        } else {
            live
        }
    }

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
            KeyCode::Char('r') if at_gate => Action::Send(Command::Reroll {
                stage: self.state.gate.unwrap_or(Stage::Understand),
            }),
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
mod tests {
    use super::*;
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
            },
            Event::CandidateFinished {
                stage: Stage::Localize,
                beam: 1,
                answer: "b".into(),
                think_tokens: 1,
                answer_tokens: 1,
                forced_answer: false,
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
            Action::Send(Command::Reroll {
                stage: Stage::Localize
            })
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
    use super::*;
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
    use super::*;

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
    use super::*;
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
