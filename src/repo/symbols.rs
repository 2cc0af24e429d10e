//! A file's definitions as the index holds them: parsed from the file now, or still encoded in
//! the persisted snapshot's memory map and decoded the first time someone reads them. A warm
//! start of a large repository decodes none of them: it builds the name table from each
//! definition's name hash, and the tools decode only the files they look into.
//!
//! Invariant: an encoded range was written by the snapshot's encoder and passed the snapshot's
//! checksum when it was loaded, and the file under the map is never modified in place (see
//! [`super::text`]), so decoding it cannot fail short of a bug; if it did, the file would show
//! no definitions rather than stop the session.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Deref, Range};
use std::sync::{Arc, OnceLock};

use memmap2::Mmap;

use super::symbol::Symbol;
use super::text::range_in;

/// The hash by which the name table files a definition (names of one hash are told apart by
/// comparing them).
pub(crate) fn name_key(name: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(name)
}

/// A file's definitions in source order; dereferences to `[Symbol]`.
#[derive(Clone, Default)]
pub struct Symbols {
    /// [`name_key`] of each definition's name, in order.
    keys: Box<[u64]>,
    decoded: OnceLock<Vec<Symbol>>,
    /// Where the definitions lie, postcard-encoded, in a snapshot's map, until decoded.
    encoded: Option<Encoded>,
}

/// A file's definitions as a snapshot stores them: its names, then the definitions.
pub(crate) type Encoding<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// Where a file's definitions lie in a snapshot's map: its names and the definitions, each
/// postcard-encoded.
#[derive(Clone)]
struct Encoded {
    map: Arc<Mmap>,
    names: Range<usize>,
    symbols: Range<usize>,
}

impl Symbols {
    /// The definitions stored as `names` (a postcard `Vec<&str>`) and `symbols` (a postcard
    /// `Vec<Symbol>`): left in `map` when they lie inside it, else decoded now.
    pub(crate) fn stored(
        map: Option<&Arc<Mmap>>,
        names: &[u8],
        symbols: &[u8],
    ) -> Result<Symbols, postcard::Error> {
        let mapped =
            map.and_then(|map| Some((map, range_in(map, names)?, range_in(map, symbols)?)));
        let Some((map, names_at, symbols_at)) = mapped else {
            let decoded = Symbols::from(postcard::from_bytes::<Vec<Symbol>>(symbols)?);
            let names: Vec<&str> = postcard::from_bytes(names)?;
            let agree = names.len() == decoded.len()
                && names.iter().zip(decoded.iter()).all(|(n, s)| *n == s.name);
            return agree
                .then_some(decoded)
                .ok_or(postcard::Error::DeserializeBadEncoding);
        };
        let names: Vec<&str> = postcard::from_bytes(names)?;
        Ok(Symbols {
            keys: names.iter().map(|name| name_key(name)).collect(),
            decoded: OnceLock::new(),
            encoded: Some(Encoded {
                map: Arc::clone(map),
                names: names_at,
                symbols: symbols_at,
            }),
        })
    }

    /// The names and definitions as [`Symbols::stored`] reads them: the stored bytes when
    /// these came from a snapshot, else encoded now.
    pub(crate) fn encoded(&self) -> Result<Encoding<'_>, postcard::Error> {
        if let Some(Encoded {
            map,
            names,
            symbols,
        }) = &self.encoded
        {
            return Ok((
                Cow::Borrowed(&map[names.clone()]),
                Cow::Borrowed(&map[symbols.clone()]),
            ));
        }
        let names: Vec<&str> = self.iter().map(|s| s.name.as_str()).collect();
        Ok((
            Cow::Owned(postcard::to_allocvec(&names)?),
            Cow::Owned(postcard::to_allocvec(self.as_slice())?),
        ))
    }

    /// How many definitions, without decoding them.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none, without decoding them.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether the definitions are decoded: parsed ones always are; those of a snapshot once
    /// something reads them.
    pub fn is_decoded(&self) -> bool {
        self.decoded.get().is_some()
    }

    /// The name hash of each definition, in order, without decoding them.
    pub(crate) fn keys(&self) -> &[u64] {
        &self.keys
    }

    /// The definitions, decoded on first use.
    pub fn as_slice(&self) -> &[Symbol] {
        self.decoded.get_or_init(|| {
            let Some(Encoded { map, symbols, .. }) = &self.encoded else {
                return Vec::new();
            };
            let decoded = postcard::from_bytes::<Vec<Symbol>>(&map[symbols.clone()]);
            debug_assert!(decoded.is_ok(), "a checked snapshot's definitions decode");
            decoded.unwrap_or_default()
        })
    }
}

impl From<Vec<Symbol>> for Symbols {
    fn from(symbols: Vec<Symbol>) -> Symbols {
        Symbols {
            keys: symbols.iter().map(|s| name_key(&s.name)).collect(),
            decoded: OnceLock::from(symbols),
            encoded: None,
        }
    }
}

impl Deref for Symbols {
    type Target = [Symbol];

    fn deref(&self) -> &[Symbol] {
        self.as_slice()
    }
}

impl fmt::Debug for Symbols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl PartialEq for Symbols {
    fn eq(&self, other: &Symbols) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Symbols {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::SymbolKind;

    fn symbol(name: &str) -> Symbol {
        Symbol {
            name: name.into(),
            kind: SymbolKind::Function,
            parents: vec!["Outer".into()],
            signature: format!("def {name}(self)"),
            decorators: Vec::new(),
            doc: Some("Does it.".into()),
            start: 3,
            end: 4,
        }
    }

    #[test]
    fn mapped_definitions_decode_on_first_use_and_write_back_as_stored() {
        let symbols = vec![symbol("alpha"), symbol("beta")];
        let parsed = Symbols::from(symbols.clone());
        let (names, encoded) = parsed.encoded().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.bin");
        std::fs::write(&path, [&*names, &*encoded].concat()).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: the test owns the file and does not change it while mapped.
        let map = Arc::new(unsafe { Mmap::map(&file) }.unwrap());
        let (in_names, in_symbols) = map.split_at(names.len());
        let lazy = Symbols::stored(Some(&map), in_names, in_symbols).unwrap();
        assert_eq!(lazy.keys(), &[name_key("alpha"), name_key("beta")]);
        assert_eq!((lazy.len(), lazy.is_empty()), (2, false));
        assert!(lazy.decoded.get().is_none(), "nothing decoded before use");
        let (again_names, again_symbols) = lazy.encoded().unwrap();
        assert!(
            matches!(again_symbols, Cow::Borrowed(_)),
            "written back as stored"
        );
        assert_eq!((&*again_names, &*again_symbols), (&names[..], &encoded[..]));
        assert_eq!(lazy.as_slice(), symbols.as_slice());
        assert_eq!(lazy, Symbols::from(symbols));
    }

    #[test]
    fn definitions_outside_a_map_are_decoded_and_checked_against_their_names() {
        let symbols = vec![symbol("alpha")];
        let parsed = Symbols::from(symbols.clone());
        let (names, encoded) = parsed.encoded().unwrap();
        let read = Symbols::stored(None, &names, &encoded).unwrap();
        assert_eq!(read.as_slice(), symbols.as_slice());
        let other = postcard::to_allocvec(&vec!["beta"]).unwrap();
        assert!(Symbols::stored(None, &other, &encoded).is_err());
    }
}
