//! Ranking: the outcome reward model judges each patch from the issue and the patch alone (as in
//! the paper); verified patches come first, then ORM score, then votes of identical patches.

use super::Pipeline;
use super::verify::Verified;
use crate::event::{Event, Outcome, RankEntry, Stage};
use crate::model::Judge;

impl Pipeline {
    /// Ranks the verified (or, failing that, all) patches and says how the session ended.
    pub(super) fn rank(&mut self, patches: &[Verified]) -> Outcome {
        let any_verified = patches.iter().any(|p| p.verified);
        let pool: Vec<&Verified> = patches
            .iter()
            .filter(|p| p.verified || !any_verified)
            .collect();
        if !any_verified && !pool.is_empty() {
            self.note(
                Stage::Verify,
                "no patch verified: ranking all patches by the outcome reward model alone",
            );
        }
        let answers: Vec<_> = pool
            .iter()
            .map(|p| (p.beam, p.patch.answer.clone(), p.patch.diff.clone()))
            .collect();
        let scores = self.judge(Stage::Patch, Judge::Orm, &answers);
        let mut ranking: Vec<RankEntry> = pool
            .iter()
            .enumerate()
            .map(|(i, p)| RankEntry {
                beam: p.beam,
                score: scores.as_ref().map(|s| s[i]),
                votes: p.patch.votes,
                verified: p.verified,
            })
            .collect();
        ranking.sort_by(|a, b| {
            b.verified
                .cmp(&a.verified)
                .then(b.score.is_some().cmp(&a.score.is_some()))
                .then(b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0)))
                .then(b.votes.cmp(&a.votes))
                .then(a.beam.cmp(&b.beam))
        });
        self.emit(Event::Ranked {
            ranking: ranking.clone(),
        });
        match ranking.first() {
            Some(top) if top.verified => Outcome::Verified { beam: top.beam },
            Some(top) => Outcome::Unverified {
                reason: patches
                    .iter()
                    .rev()
                    .find(|p| p.beam == top.beam)
                    .map_or_else(|| "not verified".to_string(), |p| p.reason.clone()),
            },
            None => Outcome::Failed {
                reason: "no patch to rank".to_string(),
            },
        }
    }
}
