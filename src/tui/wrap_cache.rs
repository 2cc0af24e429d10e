//! The shown candidate's thinking, reflowed and wrapped once per width: a frame drawn while other
//! beams stream (or the user scrolls) does not wrap the same text again. Text, not styled lines,
//! is kept, so the cache holds whatever the theme.

use std::sync::{Arc, Mutex};

use crate::event::{Beam, Stage};

/// What the wrapped text was made from: the candidate, the width, and how much text it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrapKey {
    pub stage: Stage,
    pub beam: Beam,
    pub width: u16,
    pub len: usize,
}

/// A wrapping and what it was made from.
type Wrapped = (WrapKey, Arc<Vec<String>>);

/// The last wrapping made, shared by the app's clones.
#[derive(Debug, Clone, Default)]
pub struct WrapCache {
    last: Arc<Mutex<Option<Wrapped>>>,
}

impl WrapCache {
    /// The lines for `key`, from the cache or made by `wrap` (and kept).
    pub fn get_or_wrap(
        &self,
        key: WrapKey,
        wrap: impl FnOnce() -> Vec<String>,
    ) -> Arc<Vec<String>> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, lines)) = last.as_ref()
            && *k == key
        {
            return lines.clone();
        }
        let lines = Arc::new(wrap());
        *last = Some((key, lines.clone()));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_once_per_key() {
        let cache = WrapCache::default();
        let key = WrapKey {
            stage: Stage::Patch,
            beam: 1,
            width: 40,
            len: 10,
        };
        let mut calls = 0;
        for _ in 0..3 {
            cache.get_or_wrap(key, || {
                calls += 1;
                vec!["a".into()]
            });
        }
        assert_eq!(calls, 1);
        let wider = WrapKey { width: 80, ..key };
        assert_eq!(*cache.get_or_wrap(wider, || vec!["b".into()]), vec!["b"]);
    }
}
