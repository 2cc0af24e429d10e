//! Reads a GGUF file's header in Rust, before llama.cpp sees it: metadata and tensor table.
//!
//! llama.cpp aborts or prints little on a damaged file; this reader turns a missing, truncated or
//! non-GGUF file into an error that names the file and what is wrong. It reads only the header
//! (keys, values, tensor descriptions), never tensor data, and checks the file is long enough to
//! hold every tensor it describes. Invariant: no input makes it panic, loop long or allocate much
//! more than the header's length: the header is read up to [`MAX_HEADER_BYTES`], keys, strings
//! and arrays are bounded ([`MAX_KEY_BYTES`], [`MAX_STRING_BYTES`], [`MAX_ARRAY_ITEMS`]), every
//! count is checked against the bytes left before it is looped over, and arrays do not nest.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;

/// The most header bytes read: real headers (262k-token vocabularies, merges) are tens of MB.
pub const MAX_HEADER_BYTES: u64 = 256 << 20;
/// The longest metadata key (the GGUF specification's limit).
pub const MAX_KEY_BYTES: u64 = (1 << 16) - 1;
/// The longest string value (chat templates are tens of KB).
pub const MAX_STRING_BYTES: u64 = 16 << 20;
/// The most items in one metadata array (vocabularies are a few hundred thousand).
pub const MAX_ARRAY_ITEMS: u64 = 1 << 24;

/// One metadata value. Arrays keep only their length and, for strings, their items (the
/// vocabulary is large and only counted).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// An array: its item type code and length; string items are kept when `keep_strings`.
    Array {
        len: u64,
        strings: Vec<String>,
    },
}

impl Value {
    fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Uint(v) => Some(*v),
            Value::Int(v) => u64::try_from(*v).ok(),
            _ => None,
        }
    }
}

/// One tensor's description from the header.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    /// ggml type code.
    pub kind: u32,
    /// Offset from the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements (saturating).
    pub fn elements(&self) -> u64 {
        self.dims.iter().fold(1u64, |a, &d| a.saturating_mul(d))
    }

    /// Bytes of data, when the type is known.
    pub fn bytes(&self) -> Option<u64> {
        let (block, size) = ggml_type_size(self.kind)?;
        Some((self.elements() / block).saturating_mul(size))
    }
}

/// The header of a GGUF file.
#[derive(Debug, Clone)]
pub struct GgufHeader {
    pub version: u32,
    pub metadata: BTreeMap<String, Value>,
    pub tensors: Vec<TensorInfo>,
    /// Where tensor data starts in the file.
    pub data_offset: u64,
}

/// What ponder shows about a model file.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMetadata {
    pub architecture: String,
    pub name: Option<String>,
    pub parameters: u64,
    /// Quantization from `general.file_type`, e.g. `Q4_K_M`.
    pub quantization: String,
    pub context_length: Option<u64>,
    pub layers: Option<u64>,
    pub embedding: Option<u64>,
    pub heads: Option<u64>,
    pub kv_heads: Option<u64>,
    /// Width of one attention head's key (`attention.key_length`); absent: embedding / heads.
    pub key_length: Option<u64>,
    /// Width of one attention head's value (`attention.value_length`); absent: the key's.
    pub value_length: Option<u64>,
    pub vocab_size: Option<u64>,
    pub chat_template: Option<String>,
    /// The vocabulary holds both `<think>` and `</think>`: a sign of a reasoning model.
    pub think_tokens: bool,
    pub file_bytes: u64,
}

impl ModelMetadata {
    /// Parameters in a short human form (`102M`, `32.8B`).
    pub fn parameters_human(&self) -> String {
        let p = self.parameters as f64;
        if p >= 1e9 {
            format!("{:.1}B", p / 1e9)
        } else if p >= 1e6 {
            format!("{:.0}M", p / 1e6)
        } else {
            format!("{:.0}K", p / 1e3)
        }
    }
}

/// Reads and checks the header of the GGUF file at `path`.
pub fn read_metadata(path: &Path) -> Result<ModelMetadata> {
    let unreadable = || {
        format!(
            "cannot read the model file {}: check the path (config `model`, --model or \
             PONDER_MODEL)",
            path.display()
        )
    };
    let file = std::fs::File::open(path).with_context(unreadable)?;
    let file_bytes = file.metadata().with_context(unreadable)?.len();
    let bad = || format!("{} is not a usable GGUF model file", path.display());
    // The header is read in growing prefixes: a 20 GB model's header is a few MB.
    let mut limit = 1u64 << 22;
    let header = loop {
        let mut prefix = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(&file, limit), &mut prefix)
            .with_context(unreadable)?;
        match parse_header(&prefix) {
            Ok(header) => break header,
            Err(_) if limit < file_bytes && limit < MAX_HEADER_BYTES => {
                limit = limit.saturating_mul(4).min(MAX_HEADER_BYTES)
            }
            Err(err) if limit >= MAX_HEADER_BYTES && limit < file_bytes => {
                return Err(err)
                    .context(format!(
                        "its header is not complete within {} MB, more than any real model's",
                        MAX_HEADER_BYTES >> 20
                    ))
                    .with_context(bad);
            }
            Err(err) => return Err(err).with_context(bad),
        }
        std::io::Seek::rewind(&mut &file).with_context(unreadable)?;
    };
    metadata(&header, file_bytes).with_context(bad)
}

/// Summarises a parsed header; fails when the file is too short for its tensors.
pub fn metadata(header: &GgufHeader, file_bytes: u64) -> Result<ModelMetadata> {
    let needed = header
        .tensors
        .iter()
        .filter_map(|t| Some(t.offset.saturating_add(t.bytes()?)))
        .max()
        .unwrap_or(0)
        .saturating_add(header.data_offset);
    if needed > file_bytes {
        bail!(
            "the file is truncated: its tensors need {needed} bytes but it has {file_bytes} \
             (download it again)"
        );
    }
    let text = |key: &str| match header.metadata.get(key) {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let Some(architecture) = text("general.architecture") else {
        bail!("it has no general.architecture key; it is not a language model");
    };
    let number = |suffix: &str| {
        header
            .metadata
            .get(&format!("{architecture}.{suffix}"))
            .and_then(Value::as_u64)
    };
    let vocab_size = match header.metadata.get("tokenizer.ggml.tokens") {
        Some(Value::Array { len, .. }) => Some(*len),
        _ => number("vocab_size"),
    };
    let think_tokens = match header.metadata.get("tokenizer.ggml.tokens") {
        Some(Value::Array { strings, .. }) => ["<think>", "</think>"]
            .iter()
            .all(|tag| strings.iter().any(|s| s == tag)),
        _ => false,
    };
    Ok(ModelMetadata {
        name: text("general.name"),
        // Saturating: a hostile header's dimensions overflow a plain sum.
        parameters: header
            .tensors
            .iter()
            .map(TensorInfo::elements)
            .fold(0u64, u64::saturating_add),
        quantization: header
            .metadata
            .get("general.file_type")
            .and_then(Value::as_u64)
            .map_or_else(|| "unknown".to_string(), file_type_name),
        context_length: number("context_length"),
        layers: number("block_count"),
        embedding: number("embedding_length"),
        heads: number("attention.head_count"),
        kv_heads: number("attention.head_count_kv"),
        key_length: number("attention.key_length"),
        value_length: number("attention.value_length"),
        vocab_size,
        chat_template: text("tokenizer.chat_template"),
        think_tokens,
        architecture,
        file_bytes,
    })
}

/// Parses the header from the start of a file.
pub fn parse_header(bytes: &[u8]) -> Result<GgufHeader> {
    let mut r = Reader { bytes, at: 0 };
    if bytes.len() < 4 || &bytes[..4] != MAGIC {
        bail!("it does not start with the GGUF magic bytes (is it a GGUF model?)");
    }
    r.at = 4;
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        bail!("it is GGUF version {version}; ponder reads versions 2 and 3");
    }
    let n_tensors = r.u64()?;
    let n_kv = r.u64()?;
    // A key-value pair takes at least 13 bytes, a tensor description 24.
    r.expect_items(n_kv, 13, "metadata keys")?;
    let mut metadata = BTreeMap::new();
    for _ in 0..n_kv {
        let key = r.bounded_string(MAX_KEY_BYTES, &|| "a metadata key".into())?;
        let kind = r.u32()?;
        let value = r.value(kind, &key)?;
        metadata.insert(key, value);
    }
    r.expect_items(n_tensors, 24, "tensors")?;
    let mut tensors = Vec::new();
    for _ in 0..n_tensors {
        let name = r.bounded_string(MAX_KEY_BYTES, &|| "a tensor name".into())?;
        let n_dims = r.u32()?;
        if n_dims > 4 {
            bail!("tensor {name} has {n_dims} dimensions (at most 4)");
        }
        let dims = (0..n_dims).map(|_| r.u64()).collect::<Result<Vec<_>>>()?;
        let kind = r.u32()?;
        let offset = r.u64()?;
        tensors.push(TensorInfo {
            name,
            dims,
            kind,
            offset,
        });
    }
    let alignment = match metadata.get("general.alignment").and_then(Value::as_u64) {
        Some(a) if a > 0 && a.is_power_of_two() => a,
        Some(a) => bail!("general.alignment is {a}, not a power of two"),
        None => DEFAULT_ALIGNMENT,
    };
    let at = r.at as u64;
    let data_offset = at.div_ceil(alignment).saturating_mul(alignment);
    Ok(GgufHeader {
        version,
        metadata,
        tensors,
        data_offset,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: u64) -> Result<&[u8]> {
        let left = (self.bytes.len() - self.at) as u64;
        if n > left {
            bail!(
                "the file is truncated: its header ends after {} bytes",
                self.bytes.len()
            );
        }
        let n = n as usize;
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn left(&self) -> u64 {
        (self.bytes.len() - self.at) as u64
    }

    /// Fails early when `count` items of at least `min_bytes` each cannot fit in what is left.
    fn expect_items(&self, count: u64, min_bytes: u64, what: &str) -> Result<()> {
        if count > self.left() / min_bytes.max(1) {
            bail!(
                "the file is truncated or damaged: it announces {count} {what}, more than its \
                 header of {} bytes can hold",
                self.bytes.len()
            );
        }
        Ok(())
    }

    /// A string of at most `max` bytes; `what` names it in the error.
    fn bounded_string(&mut self, max: u64, what: &dyn Fn() -> String) -> Result<String> {
        let len = self.u64()?;
        if len > max {
            bail!(
                "{} is {len} bytes long, more than the {max} ponder reads",
                what()
            );
        }
        let raw = self.take(len)?;
        Ok(String::from_utf8_lossy(raw).into_owned())
    }

    fn value(&mut self, kind: u32, key: &str) -> Result<Value> {
        self.value_at(kind, key, false)
    }

    fn value_at(&mut self, kind: u32, key: &str, in_array: bool) -> Result<Value> {
        Ok(match kind {
            0 => Value::Uint(u64::from(self.array::<1>()?[0])),
            1 => Value::Int(i64::from(self.array::<1>()?[0] as i8)),
            2 => Value::Uint(u64::from(u16::from_le_bytes(self.array()?))),
            3 => Value::Int(i64::from(i16::from_le_bytes(self.array()?))),
            4 => Value::Uint(u64::from(self.u32()?)),
            5 => Value::Int(i64::from(i32::from_le_bytes(self.array()?))),
            6 => Value::Float(f64::from(f32::from_le_bytes(self.array()?))),
            7 => Value::Bool(self.array::<1>()?[0] != 0),
            8 => Value::Str(
                self.bounded_string(MAX_STRING_BYTES, &|| format!("the value of {key}"))?,
            ),
            9 if in_array => {
                bail!("metadata key {key} holds nested arrays, which ponder does not read")
            }
            9 => {
                let item = self.u32()?;
                let len = self.u64()?;
                if len > MAX_ARRAY_ITEMS {
                    bail!(
                        "metadata key {key} is an array of {len} items, more than the \
                         {MAX_ARRAY_ITEMS} ponder reads"
                    );
                }
                self.expect_items(len, item_min_bytes(item), &format!("items in {key}"))?;
                let mut strings = Vec::new();
                for _ in 0..len {
                    match self.value_at(item, key, true)? {
                        Value::Str(s) if key == "tokenizer.ggml.tokens" => strings.push(s),
                        _ => {}
                    }
                }
                Value::Array { len, strings }
            }
            10 => Value::Uint(self.u64()?),
            11 => Value::Int(i64::from_le_bytes(self.array()?)),
            12 => Value::Float(f64::from_le_bytes(self.array()?)),
            other => bail!("metadata key {key} has an unknown value type {other}"),
        })
    }
}

/// The fewest bytes one array item of type `kind` takes (a string: its 8-byte length).
fn item_min_bytes(kind: u32) -> u64 {
    match kind {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        _ => 8,
    }
}

/// `(elements per block, bytes per block)` of a ggml tensor type.
fn ggml_type_size(kind: u32) -> Option<(u64, u64)> {
    Some(match kind {
        0 => (1, 4),
        1 => (1, 2),
        2 => (32, 18),
        3 => (32, 20),
        6 => (32, 22),
        7 => (32, 24),
        8 => (32, 34),
        9 => (32, 36),
        10 => (256, 84),
        11 => (256, 110),
        12 => (256, 144),
        13 => (256, 176),
        14 => (256, 210),
        15 => (256, 292),
        16 => (256, 66),
        17 => (256, 74),
        18 => (256, 98),
        19 => (256, 50),
        20 => (32, 18),
        21 => (256, 110),
        22 => (256, 82),
        23 => (256, 136),
        24 => (1, 1),
        25 => (1, 2),
        26 => (1, 4),
        27 => (1, 8),
        28 => (1, 8),
        29 => (256, 56),
        30 => (1, 2),
        34 => (256, 54),
        35 => (256, 66),
        39 => (32, 17),
        _ => return None,
    })
}

/// The llama.cpp name of a `general.file_type` value.
fn file_type_name(code: u64) -> String {
    let name = match code {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        other => return format!("file type {other}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A minimal valid header: one string key, one F32 tensor of 4 elements, data included.
    fn tiny() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        let key = b"general.architecture";
        b.extend_from_slice(&(key.len() as u64).to_le_bytes());
        b.extend_from_slice(key);
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&5u64.to_le_bytes());
        b.extend_from_slice(b"llama");
        let name = b"w";
        b.extend_from_slice(&(name.len() as u64).to_le_bytes());
        b.extend_from_slice(name);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&4u64.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        while b.len() % 32 != 0 {
            b.push(0);
        }
        b.extend_from_slice(&[0u8; 16]);
        b
    }

    #[test]
    fn reads_a_valid_header() {
        let bytes = tiny();
        let header = parse_header(&bytes).unwrap();
        let meta = metadata(&header, bytes.len() as u64).unwrap();
        assert_eq!(meta.architecture, "llama");
        assert_eq!(meta.parameters, 4);
    }

    #[test]
    fn names_what_is_wrong() {
        let err = parse_header(b"PK\x03\x04zip").unwrap_err();
        assert!(err.to_string().contains("magic"), "{err}");
        let bytes = tiny();
        let header = parse_header(&bytes).unwrap();
        let err = metadata(&header, bytes.len() as u64 - 1).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        let err = parse_header(&bytes[..30]).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    /// A header with no tensors and one key of type `kind` whose value bytes are `value`.
    fn one_key(kind: u32, value: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        let key = b"k";
        b.extend_from_slice(&(key.len() as u64).to_le_bytes());
        b.extend_from_slice(key);
        b.extend_from_slice(&kind.to_le_bytes());
        b.extend_from_slice(value);
        b
    }

    #[test]
    fn bounds_are_clear_errors() {
        let mut huge_string = u64::MAX.to_le_bytes().to_vec();
        huge_string.extend_from_slice(b"abc");
        let err = parse_header(&one_key(8, &huge_string)).unwrap_err();
        assert!(err.to_string().contains("more than the"), "{err}");

        let mut huge_array = 0u32.to_le_bytes().to_vec();
        huge_array.extend_from_slice(&(1u64 << 40).to_le_bytes());
        let err = parse_header(&one_key(9, &huge_array)).unwrap_err();
        assert!(err.to_string().contains("array of"), "{err}");

        // An array that announces more items than the bytes that follow: refused before looping.
        let mut long_array = 4u32.to_le_bytes().to_vec();
        long_array.extend_from_slice(&(1u64 << 20).to_le_bytes());
        let err = parse_header(&one_key(9, &long_array)).unwrap_err();
        assert!(err.to_string().contains("items in k"), "{err}");

        let mut nested = 9u32.to_le_bytes().to_vec();
        nested.extend_from_slice(&1u64.to_le_bytes());
        nested.extend_from_slice(&9u32.to_le_bytes());
        nested.extend_from_slice(&0u64.to_le_bytes());
        let err = parse_header(&one_key(9, &nested)).unwrap_err();
        assert!(err.to_string().contains("nested arrays"), "{err}");

        let mut many_keys = MAGIC.to_vec();
        many_keys.extend_from_slice(&3u32.to_le_bytes());
        many_keys.extend_from_slice(&0u64.to_le_bytes());
        many_keys.extend_from_slice(&u64::MAX.to_le_bytes());
        let err = parse_header(&many_keys).unwrap_err();
        assert!(err.to_string().contains("metadata keys"), "{err}");
    }

    /// Arrays of arrays nested deeper than the stack allowed used to overflow it.
    #[test]
    fn deeply_nested_arrays_do_not_overflow_the_stack() {
        let mut value = Vec::new();
        for _ in 0..200_000 {
            value.extend_from_slice(&9u32.to_le_bytes());
            value.extend_from_slice(&1u64.to_le_bytes());
        }
        assert!(parse_header(&one_key(9, &value)).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_on_damaged_files(
            cut in 0usize..200,
            flips in proptest::collection::vec((0usize..200, any::<u8>()), 0..6),
        ) {
            let mut bytes = tiny();
            for (at, byte) in flips {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            bytes.truncate(cut.min(bytes.len()));
            if let Ok(header) = parse_header(&bytes) {
                let _ = metadata(&header, bytes.len() as u64);
            }
        }

        #[test]
        fn never_panics_on_noise(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = parse_header(&bytes);
            let _ = parse_header(&with_magic);
        }
    }
}
