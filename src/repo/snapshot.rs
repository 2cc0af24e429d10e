//! The persisted form of a [`RepoIndex`]: every file's path, stamp, blob id, text, symbols and
//! BM25 terms, with one shared vocabulary, encoded with postcard.
//!
//! Layout: a [`Head`] (the listing's time, the vocabulary, the byte length of each chunk), then
//! the chunks, each the postcard encoding of up to [`CHUNK_FILES`] files. Chunks are encoded and
//! decoded in parallel: decoding millions of small strings is most of a warm start.
//!
//! Writing borrows from the index ([`StoredFileRef`]); reading ([`StoredFile`]) owns everything
//! but the text and the definitions, which stay in the snapshot's memory map ([`Text`],
//! [`Symbols`]: each file's definitions are a byte string of their own, beside their names, so
//! that a warm start files them by name without decoding them).
//!
//! Invariant: [`FORMAT`] changes whenever this layout or what the indexer derives from a file
//! (parsers, tokenizer, path weight) changes, so a snapshot is never read by a ponder that
//! would have indexed the same file differently. The `format_fingerprint` test fails when the
//! derived data of a fixed fixture changes, as a reminder to bump it.

use std::borrow::Cow;
use std::sync::Arc;

use memmap2::Mmap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::RepoIndex;
use super::fresh::{BlobId, Stamp};
use super::lang::Lang;
use super::symbols::Symbols;
use super::text::Text;

/// The snapshot layout and indexing rules this build writes and reads.
pub const FORMAT: u32 = 4;

/// Files per chunk of the payload.
const CHUNK_FILES: usize = 256;

/// A snapshot as read back.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// When the listing whose stamps it holds started (nanoseconds since the Unix epoch).
    pub listed_ns: u64,
    pub vocabulary: Vec<String>,
    pub files: Vec<StoredFile>,
}

/// One file as read back.
#[derive(Debug, Default)]
pub(crate) struct StoredFile {
    pub path: String,
    pub stamp: Stamp,
    pub blob: BlobId,
    pub lang: Option<Lang>,
    pub has_errors: bool,
    pub text: Text,
    pub symbols: Symbols,
    /// The BM25 document: `(term id in the vocabulary, count)`.
    pub terms: Vec<(u32, u32)>,
}

/// One file as decoded, its text still borrowed from the payload.
#[derive(Deserialize)]
struct DecodedFile<'a> {
    path: String,
    stamp: Stamp,
    blob: BlobId,
    lang: Option<Lang>,
    has_errors: bool,
    /// UTF-8, checked when first read.
    #[serde(borrow)]
    text: &'a [u8],
    /// The definitions' names in order, a postcard `Vec<&str>`: the name table is built from
    /// them.
    #[serde(borrow)]
    names: &'a [u8],
    /// The definitions, a postcard `Vec<Symbol>`, decoded when first read.
    #[serde(borrow)]
    symbols: &'a [u8],
    terms: Vec<(u32, u32)>,
}

impl DecodedFile<'_> {
    /// The file, its text and definitions ranges of `map` where the payload lies in it, else
    /// copied and decoded now.
    fn into_stored(self, map: Option<&Arc<Mmap>>) -> Result<StoredFile, postcard::Error> {
        let text = match map.and_then(|map| Text::mapped(map, self.text)) {
            Some(text) => text,
            None => std::str::from_utf8(self.text)
                .map_err(|_| postcard::Error::DeserializeBadUtf8)?
                .to_string()
                .into(),
        };
        let symbols = Symbols::stored(map, self.names, self.symbols)?;
        Ok(StoredFile {
            path: self.path,
            stamp: self.stamp,
            blob: self.blob,
            lang: self.lang,
            has_errors: self.has_errors,
            text,
            symbols,
            terms: self.terms,
        })
    }
}

/// The payload's head, as written (borrowing) and read.
#[derive(Serialize, Deserialize)]
struct Head<V> {
    listed_ns: u64,
    vocabulary: Vec<V>,
    /// Byte length of each chunk, in order.
    chunks: Vec<u64>,
}

#[derive(Serialize)]
struct StoredFileRef<'a> {
    path: &'a str,
    stamp: Stamp,
    blob: BlobId,
    lang: Option<Lang>,
    has_errors: bool,
    text: Bytes<'a>,
    names: Bytes<'a>,
    symbols: Bytes<'a>,
    terms: Vec<(u32, u32)>,
}

/// Bytes written as postcard writes a byte string (length, then the bytes), so that they can be
/// read back borrowed.
struct Bytes<'a>(Cow<'a, [u8]>);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

/// Encodes `index`, whose stamps were taken by a listing that started at `listed_ns`.
pub(crate) fn encode(index: &RepoIndex, listed_ns: u64) -> Result<Vec<u8>, postcard::Error> {
    let (vocabulary, mut docs) = index.bm25().export();
    let files: Vec<StoredFileRef> = index
        .slots()
        .iter()
        .enumerate()
        .filter_map(|(slot, file)| Some((slot, file.as_ref()?)))
        .map(|(slot, file)| {
            let (names, symbols) = file.symbols.encoded()?;
            Ok(StoredFileRef {
                path: &file.path,
                stamp: file.stamp,
                blob: file.blob,
                lang: file.lang,
                has_errors: file.has_errors,
                text: Bytes(Cow::Borrowed(file.text.raw())),
                names: Bytes(names),
                symbols: Bytes(symbols),
                terms: docs
                    .get_mut(slot)
                    .and_then(Option::take)
                    .unwrap_or_default(),
            })
        })
        .collect::<Result<_, postcard::Error>>()?;
    let chunks: Vec<Vec<u8>> = files
        .par_chunks(CHUNK_FILES)
        .map(postcard::to_allocvec)
        .collect::<Result<_, _>>()?;
    let mut payload = postcard::to_allocvec(&Head {
        listed_ns,
        vocabulary,
        chunks: chunks.iter().map(|c| c.len() as u64).collect(),
    })?;
    payload.reserve(chunks.iter().map(Vec::len).sum());
    for chunk in &chunks {
        payload.extend_from_slice(chunk);
    }
    Ok(payload)
}

/// Decodes a snapshot's payload; where it lies in `map`, the files' texts stay there.
pub(crate) fn decode(payload: &[u8], map: Option<&Arc<Mmap>>) -> Result<Snapshot, postcard::Error> {
    let (head, mut rest): (Head<String>, &[u8]) = postcard::take_from_bytes(payload)?;
    let mut chunks = Vec::with_capacity(head.chunks.len());
    for &len in &head.chunks {
        let len = usize::try_from(len).map_err(|_| postcard::Error::DeserializeBadEncoding)?;
        if len > rest.len() {
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        }
        let (chunk, after) = rest.split_at(len);
        chunks.push(chunk);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(postcard::Error::DeserializeBadEncoding);
    }
    let decoded: Vec<Vec<StoredFile>> = chunks
        .into_par_iter()
        .map(|chunk| {
            let files: Vec<DecodedFile> = postcard::from_bytes(chunk)?;
            files.into_iter().map(|f| f.into_stored(map)).collect()
        })
        .collect::<Result<_, postcard::Error>>()?;
    Ok(Snapshot {
        listed_ns: head.listed_ns,
        vocabulary: head.vocabulary,
        files: decoded.into_iter().flatten().collect(),
    })
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::repo::Workspace;

    fn fixture() -> (tempfile::TempDir, RepoIndex) {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        let files = [
            (
                "pkg/models.py",
                "\"\"\"Models.\"\"\"\nLIMIT = 3\n\nclass Session(Base):\n    \"\"\"A session.\"\"\"\n    def send(self, request, **kwargs):\n        return self.adapter.send(request)\n\n@cache\ndef get_adapter(url):\n    return HTTPAdapter(url)\n",
            ),
            (
                "src/lib.rs",
                "/// Parses.\npub fn parse_config(text: &str) -> Config {\n    Config::default()\n}\npub struct Config { name: String }\nimpl Config { fn name(&self) -> &str { &self.name } }\n",
            ),
            (
                "web/app.ts",
                "export class Router {\n  route(path: string): void {}\n}\nexport function makeRouter() { return new Router(); }\n",
            ),
            ("README.md", "# Fixture\nRead the `Session` docs.\n"),
        ];
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let index = RepoIndex::build(&Workspace::open(dir.path()).unwrap()).unwrap();
        (dir, index)
    }

    #[test]
    fn an_index_round_trips() {
        let (_dir, index) = fixture();
        let payload = encode(&index, 42).unwrap();
        let snapshot = decode(&payload, None).unwrap();
        assert_eq!(snapshot.listed_ns, 42);
        assert_eq!(snapshot.files.len(), index.len());
        for stored in &snapshot.files {
            let file = index.file(&stored.path).unwrap();
            assert_eq!(stored.text, file.text);
            assert_eq!(stored.symbols, file.symbols);
            assert_eq!((stored.stamp, stored.blob), (file.stamp, file.blob));
        }
        assert!(decode(&payload[..payload.len() / 2], None).is_err());
    }

    /// Files past one chunk come back whole and in order; a damaged chunk table is an error.
    #[test]
    fn files_of_several_chunks_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        let count = CHUNK_FILES * 2 + 3;
        for i in 0..count {
            std::fs::write(
                dir.path().join(format!("m{i:04}.py")),
                format!("def f{i}():\n    return {i}\n"),
            )
            .unwrap();
        }
        let index = RepoIndex::build(&Workspace::open(dir.path()).unwrap()).unwrap();
        let payload = encode(&index, 7).unwrap();
        let snapshot = decode(&payload, None).unwrap();
        assert_eq!(snapshot.files.len(), count);
        for (i, stored) in snapshot.files.iter().enumerate() {
            assert_eq!(stored.path, format!("m{i:04}.py"));
            assert_eq!(stored.symbols[0].name, format!("f{i}"));
        }
        let mut longer = payload.clone();
        longer.push(0);
        assert!(decode(&longer, None).is_err());
        assert!(decode(&payload[..payload.len() - 1], None).is_err());
    }

    /// What the indexer derives from a fixed fixture, hashed. When this fails, the parsers,
    /// the tokenizer or the snapshot layout changed: bump [`FORMAT`] (so old snapshots are
    /// rebuilt, not trusted) and put the new hash here.
    #[test]
    fn format_fingerprint() {
        let (_dir, index) = fixture();
        let mut hasher = Sha256::new();
        let (vocabulary, docs) = index.bm25().export();
        for (_, file) in index.files() {
            hasher.update(file.path.as_bytes());
            hasher.update(format!("{:?}{:?}", file.lang, file.symbols).as_bytes());
            let slot = index.slot_of(&file.path).unwrap();
            let mut terms: Vec<(&str, u32)> = docs[slot]
                .as_ref()
                .unwrap()
                .iter()
                .map(|&(id, n)| (vocabulary[id as usize], n))
                .collect();
            terms.sort();
            hasher.update(format!("{terms:?}").as_bytes());
        }
        let digest: String = hasher.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            (FORMAT, digest.as_str()),
            (4, "e450e48f0bc438db"),
            "the indexer's output changed: bump snapshot::FORMAT and update this fingerprint"
        );
    }
}
