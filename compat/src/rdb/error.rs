//! Error types of the RDB codec.

/// A malformed embedded structure (ziplist, listpack, intset, zipmap): what, and where inside it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {msg} (at byte {at} of {len})")]
pub struct FormatError {
    pub what: &'static str,
    pub msg: &'static str,
    pub at: usize,
    pub len: usize,
}

impl FormatError {
    pub(crate) fn new(what: &'static str, msg: &'static str, at: usize, len: usize) -> Self {
        FormatError { what, msg, at, len }
    }
}

/// Everything that can go wrong while reading (or writing) RDB data.
///
/// `offset` is the position in the RDB stream (bytes from the `REDIS` magic, or from the start
/// of a DUMP payload) where the problem was noticed; `key` names the key being decoded, if any.
#[derive(Debug, thiserror::Error)]
pub enum RdbError {
    #[error("I/O error at offset {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("unexpected end of RDB data at offset {offset}{}", key_ctx(.key))]
    UnexpectedEof { offset: u64, key: Option<String> },
    #[error("not an RDB file: wrong signature")]
    BadMagic,
    #[error("can't handle RDB format version {0}")]
    UnsupportedVersion(u32),
    #[error("wrong RDB checksum: stored {stored:#018x}, computed {computed:#018x}")]
    Checksum { stored: u64, computed: u64 },
    #[error("unsupported value type {type_id} ({what}){}: not supported by this reader", key_ctx(.key))]
    Unsupported { type_id: u8, what: &'static str, key: Option<String> },
    #[error("unknown RDB type or opcode {type_id} at offset {offset}{}", key_ctx(.key))]
    UnknownType { type_id: u8, offset: u64, key: Option<String> },
    #[error("corrupt RDB data at offset {offset}{}: {msg}", key_ctx(.key))]
    Corrupt { offset: u64, key: Option<String>, msg: String },
}

fn key_ctx(key: &Option<String>) -> String {
    match key {
        Some(k) => format!(" (key {k:?})"),
        None => String::new(),
    }
}

/// A printable, bounded rendering of a key for error messages.
pub(crate) fn key_label(key: &[u8]) -> String {
    const MAX: usize = 128;
    let s = String::from_utf8_lossy(&key[..key.len().min(MAX)]).into_owned();
    if key.len() > MAX {
        format!("{s}...")
    } else {
        s
    }
}

impl RdbError {
    pub(crate) fn corrupt(offset: u64, msg: impl Into<String>) -> Self {
        RdbError::Corrupt { offset, key: None, msg: msg.into() }
    }

    /// Attaches the key being decoded, when the error does not name one yet.
    pub(crate) fn with_key(mut self, k: &[u8]) -> Self {
        match &mut self {
            RdbError::UnexpectedEof { key, .. }
            | RdbError::Unsupported { key, .. }
            | RdbError::UnknownType { key, .. }
            | RdbError::Corrupt { key, .. }
                if key.is_none() =>
            {
                *key = Some(key_label(k));
            }
            _ => {}
        }
        self
    }
}

/// Why a DUMP payload was refused. The `Display` texts are Redis's error replies (without the
/// `ERR ` prefix), so a server can answer `-ERR {err}`.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// Too short, RDB version above the accepted maximum, or CRC64 mismatch.
    #[error("DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    /// Footer fine but the body does not decode.
    #[error("Bad data format")]
    BadData(#[source] RdbError),
}
