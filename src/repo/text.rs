//! A file's text as the index holds it: owned when read from the working tree, or a range of
//! the persisted snapshot's memory map when taken from it, so a warm start neither copies nor
//! allocates the repository's text.
//!
//! A mapped text is checked to be UTF-8 when first read, not when the snapshot is decoded: a warm
//! start does not read the repository's text at all. A range that is not UTF-8 (a snapshot
//! damaged in a way its checksum missed) reads as a lossy copy, never as invalid `str`.
//!
//! Invariant: the snapshot file is never modified in place (the store writes a new file and
//! renames it over the old one), so a range checked once stays as it was for as long as the map
//! lives.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::{Arc, OnceLock};

use memmap2::Mmap;

/// A file's text; dereferences to `str`.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Owned(String),
    Mapped {
        map: Arc<Mmap>,
        range: Range<usize>,
        /// Set on first read: `None` when the range is UTF-8, else a lossy copy of it.
        checked: OnceLock<Option<Box<str>>>,
    },
}

impl Text {
    /// The text `within` the snapshot `map` (bytes decoded from it, so a slice of it).
    ///
    /// Returns `None` when `within` does not lie inside `map`.
    pub(crate) fn mapped(map: &Arc<Mmap>, within: &[u8]) -> Option<Text> {
        Some(Text(Repr::Mapped {
            map: Arc::clone(map),
            range: range_in(map, within)?,
            checked: OnceLock::new(),
        }))
    }

    /// The bytes as held, without checking a mapped range (for writing them out again).
    pub(crate) fn raw(&self) -> &[u8] {
        match &self.0 {
            Repr::Owned(text) => text.as_bytes(),
            Repr::Mapped { map, range, .. } => &map[range.clone()],
        }
    }
}

/// Where `bytes`, a slice of `map`, lie in it; `None` when they are not inside it.
pub(crate) fn range_in(map: &Mmap, bytes: &[u8]) -> Option<Range<usize>> {
    let start = (bytes.as_ptr() as usize).checked_sub(map.as_ptr() as usize)?;
    let end = start.checked_add(bytes.len())?;
    (end <= map.len()).then_some(start..end)
}

impl Default for Text {
    fn default() -> Text {
        Text(Repr::Owned(String::new()))
    }
}

impl From<String> for Text {
    fn from(text: String) -> Text {
        Text(Repr::Owned(text))
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        match &self.0 {
            Repr::Owned(text) => text,
            Repr::Mapped {
                map,
                range,
                checked,
            } => {
                let bytes = &map[range.clone()];
                let copy = checked.get_or_init(|| {
                    std::str::from_utf8(bytes)
                        .is_err()
                        .then(|| String::from_utf8_lossy(bytes).into())
                });
                match copy {
                    Some(copy) => copy,
                    // SAFETY: the range was found to be UTF-8 above, and the file under the map
                    // is never modified in place (see the module's invariant).
                    None => unsafe { std::str::from_utf8_unchecked(bytes) },
                }
            }
        }
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        **self == **other
    }
}

impl Eq for Text {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapped_text_reads_its_range_and_refuses_one_outside_the_map() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.bin");
        std::fs::write(&path, "headdef f():\n    pass\n").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: the test owns the file and does not change it while mapped.
        let map = Arc::new(unsafe { Mmap::map(&file) }.unwrap());
        let text = Text::mapped(&map, &map[4..]).unwrap();
        assert_eq!(&*text, "def f():\n    pass\n");
        assert_eq!(text, Text::from("def f():\n    pass\n".to_string()));
        assert!(Text::mapped(&map, b"elsewhere").is_none());
    }

    #[test]
    fn a_mapped_range_that_is_not_utf8_reads_as_a_lossy_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.bin");
        std::fs::write(&path, b"x = '\xff'\n").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: the test owns the file and does not change it while mapped.
        let map = Arc::new(unsafe { Mmap::map(&file) }.unwrap());
        let text = Text::mapped(&map, &map[..]).unwrap();
        assert_eq!(&*text, "x = '\u{fffd}'\n");
    }
}
