//! The `:` command palette: every command by name, narrowed by a fuzzy query; running one is the
//! same as pressing its key, so the palette and the keys can never disagree.

use crossterm::event::KeyCode;

/// Every command: its name and the key that runs it.
pub const COMMANDS: &[(&str, KeyCode)] = &[
    ("pin / unpin the candidate", KeyCode::Char('+')),
    ("drop the candidate", KeyCode::Char('-')),
    ("edit the candidate's answer", KeyCode::Char('e')),
    ("re-roll the stage (at a gate)", KeyCode::Char('r')),
    ("continue from the gate", KeyCode::Char('c')),
    ("gate: wait at every stage (toggle)", KeyCode::Char('g')),
    ("pause / resume", KeyCode::Char('p')),
    ("reject the selected hunk", KeyCode::Char('x')),
    ("accept the selected hunk", KeyCode::Char('a')),
    ("next hunk", KeyCode::Char('n')),
    ("previous hunk", KeyCode::Char('N')),
    ("diff: unified / side by side", KeyCode::Char('s')),
    ("open / close the diff", KeyCode::Char('d')),
    ("next tab", KeyCode::Tab),
    ("show the beams tab", KeyCode::Char('1')),
    ("show the diff tab", KeyCode::Char('2')),
    ("show the verification tab", KeyCode::Char('3')),
    ("show the ranking tab", KeyCode::Char('4')),
    ("fold / unfold thinking", KeyCode::Char('t')),
    ("follow the running stage", KeyCode::Char('f')),
    ("finish: write the patch to a file", KeyCode::Char('W')),
    (
        "finish: apply the patch to the working tree",
        KeyCode::Char('A'),
    ),
    (
        "finish: commit the patch on a new branch",
        KeyCode::Char('C'),
    ),
    ("help: every key", KeyCode::Char('?')),
    ("quit", KeyCode::Char('q')),
];

/// The palette while it is open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Palette {
    pub query: String,
    /// Index into [`Palette::matches`].
    pub selected: usize,
}

/// A command that matches the query: its index in [`COMMANDS`] and the matched character
/// positions of its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub command: usize,
    pub positions: Vec<usize>,
}

impl Palette {
    /// The commands matching the query, best first (all, in order, for an empty query).
    pub fn matches(&self) -> Vec<Match> {
        let mut scored: Vec<(i64, Match)> = COMMANDS
            .iter()
            .enumerate()
            .filter_map(|(i, (name, _))| {
                let (score, positions) = fuzzy(&self.query, name)?;
                Some((
                    score,
                    Match {
                        command: i,
                        positions,
                    },
                ))
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.command.cmp(&b.1.command)));
        scored.into_iter().map(|(_, m)| m).collect()
    }

    /// The key of the selected command, if any matches.
    pub fn chosen(&self) -> Option<KeyCode> {
        let matches = self.matches();
        let m = matches.get(self.selected.min(matches.len().saturating_sub(1)))?;
        Some(COMMANDS[m.command].1)
    }
}

/// Matches `query`'s characters in order (case-insensitive) in `text`; a higher score for
/// consecutive characters and for word starts. `None` if they are not all there.
pub fn fuzzy(query: &str, text: &str) -> Option<(i64, Vec<usize>)> {
    let chars: Vec<char> = text.chars().collect();
    let mut positions = Vec::new();
    let mut score = 0i64;
    let mut at = 0;
    for q in query.chars().filter(|c| !c.is_whitespace()) {
        let q = q.to_ascii_lowercase();
        let found = (at..chars.len()).find(|&i| chars[i].to_ascii_lowercase() == q)?;
        score += 1;
        if positions.last() == Some(&(found.wrapping_sub(1))) {
            score += 5;
        }
        if found == 0 || !chars[found - 1].is_alphanumeric() {
            score += 3;
        }
        score -= (found - at) as i64 / 4;
        positions.push(found);
        at = found + 1;
    }
    Some((score, positions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzzy_matches_in_order_and_prefers_words() {
        assert!(fuzzy("xyz", "pin the candidate").is_none());
        let (_, positions) = fuzzy("pin", "pin / unpin").unwrap();
        assert_eq!(positions, vec![0, 1, 2]);
        let word = fuzzy("com", "commit the patch").unwrap().0;
        let scattered = fuzzy("com", "continue from gate").unwrap().0;
        assert!(word > scattered);
    }

    #[test]
    fn the_query_narrows_and_orders_the_commands() {
        let palette = Palette {
            query: "commit".into(),
            selected: 0,
        };
        assert_eq!(palette.chosen(), Some(KeyCode::Char('C')));
        let all = Palette::default();
        assert_eq!(all.matches().len(), COMMANDS.len());
        let none = Palette {
            query: "zzzz".into(),
            selected: 0,
        };
        assert_eq!(none.chosen(), None);
    }
}
