//! The interface's state: the folded session plus what the viewer chose to look at (keys and the
//! mouse change it in `keys.rs`).

use std::time::Duration;

use super::finish::Finish;
use super::highlight::Highlighter;
use super::palette::Palette;
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
    /// The model's weights still loading in the background: the fraction loaded.
    pub loading: Option<f32>,
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

    pub(super) fn step(self, delta: i32) -> Tab {
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
#[derive(Debug, Clone, PartialEq)]
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
    /// Write an answer of this stage in the user's editor: a new candidate.
    Write {
        stage: Stage,
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
}
