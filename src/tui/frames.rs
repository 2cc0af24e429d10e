//! Frame pacing: anything may ask for a frame; asks made before the next frame is due become one
//! draw, at most one every [`FRAME`] (60 per second). With no ask, no frame: an idle interface
//! draws nothing.

use std::time::{Duration, Instant};

/// Shortest time between two frames.
pub const FRAME: Duration = Duration::from_millis(16);

/// Whether a frame was asked for, and when the last was drawn.
#[derive(Debug, Clone, Default)]
pub struct FramePacer {
    dirty: bool,
    last: Option<Instant>,
    /// Frames drawn so far.
    pub drawn: u64,
}

impl FramePacer {
    /// Asks for a frame.
    pub fn request(&mut self) {
        self.dirty = true;
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// When the next frame may be drawn.
    pub fn due(&self, now: Instant) -> Instant {
        self.last.map_or(now, |t| (t + FRAME).max(now))
    }

    /// True (and the ask is cleared) when a frame was asked for and may be drawn at `now`.
    pub fn take(&mut self, now: Instant) -> bool {
        if self.dirty && self.last.is_none_or(|t| now >= t + FRAME) {
            self.dirty = false;
            self.last = Some(now);
            self.drawn += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_merge_into_one_frame_per_interval_and_none_without_an_ask() {
        let start = Instant::now();
        let mut pacer = FramePacer::default();
        assert!(!pacer.take(start), "nothing asked");
        pacer.request();
        pacer.request();
        assert!(pacer.take(start));
        pacer.request();
        assert!(!pacer.take(start + Duration::from_millis(5)), "too soon");
        assert_eq!(pacer.due(start), start + FRAME);
        assert!(pacer.take(start + FRAME));
        assert!(!pacer.take(start + FRAME * 10), "no ask since");
        assert_eq!(pacer.drawn, 2);
    }
}
