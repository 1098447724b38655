//! Builders for the `SLOTSRESTORE-ASYNC*` messages a source sends. Each appends one RESP array
//! of bulk strings to a buffer, byte for byte what codis-server 3.2.11 writes.

use super::{score_bits, RESTORE_ASYNC, RESTORE_ASYNC_AUTH, RESTORE_ASYNC_SELECT};

pub(crate) fn header(out: &mut Vec<u8>, n: usize) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

pub(crate) fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn bulk_int(out: &mut Vec<u8>, n: i64) {
    bulk(out, itoa::Buffer::new().format(n).as_bytes());
}

/// `SLOTSRESTORE-ASYNC-AUTH password`
pub fn auth(out: &mut Vec<u8>, password: &[u8]) {
    header(out, 2);
    bulk(out, RESTORE_ASYNC_AUTH);
    bulk(out, password);
}

/// `SLOTSRESTORE-ASYNC-SELECT db`
pub fn select(out: &mut Vec<u8>, db: usize) {
    header(out, 2);
    bulk(out, RESTORE_ASYNC_SELECT);
    bulk_int(out, db as i64);
}

/// `SLOTSRESTORE-ASYNC delete key`
pub fn delete(out: &mut Vec<u8>, key: &[u8]) {
    header(out, 3);
    bulk(out, RESTORE_ASYNC);
    bulk(out, b"delete");
    bulk(out, key);
}

/// `SLOTSRESTORE-ASYNC expire key ttl` (0 = persistent)
pub fn expire(out: &mut Vec<u8>, key: &[u8], ttl_ms: i64) {
    header(out, 4);
    bulk(out, RESTORE_ASYNC);
    bulk(out, b"expire");
    bulk(out, key);
    bulk_int(out, ttl_ms);
}

/// `SLOTSRESTORE-ASYNC object key ttl payload` (a DUMP payload)
pub fn object(out: &mut Vec<u8>, key: &[u8], ttl_ms: i64, payload: &[u8]) {
    header(out, 5);
    bulk(out, RESTORE_ASYNC);
    bulk(out, b"object");
    bulk(out, key);
    bulk_int(out, ttl_ms);
    bulk(out, payload);
}

/// `SLOTSRESTORE-ASYNC string key ttl value`
pub fn string(out: &mut Vec<u8>, key: &[u8], ttl_ms: i64, value: &[u8]) {
    header(out, 5);
    bulk(out, RESTORE_ASYNC);
    bulk(out, b"string");
    bulk(out, key);
    bulk_int(out, ttl_ms);
    bulk(out, value);
}

/// The collection a chunk message adds to (`dict` is a set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKind {
    List,
    Hash,
    Dict,
    ZSet,
}

impl ChunkKind {
    pub fn name(self) -> &'static str {
        match self {
            ChunkKind::List => "list",
            ChunkKind::Hash => "hash",
            ChunkKind::Dict => "dict",
            ChunkKind::ZSet => "zset",
        }
    }

    pub fn parse(b: &[u8]) -> Option<ChunkKind> {
        [ChunkKind::List, ChunkKind::Hash, ChunkKind::Dict, ChunkKind::ZSet]
            .into_iter()
            .find(|k| b.eq_ignore_ascii_case(k.name().as_bytes()))
    }
}

/// `SLOTSRESTORE-ASYNC list|hash|dict|zset key ttl hint elem...`, built element by element:
/// the element count goes in the array header, so the elements are kept until [`finish`].
///
/// [`finish`]: ChunkWriter::finish
pub struct ChunkWriter {
    kind: ChunkKind,
    body: Vec<u8>,
    bulks: usize,
    /// Payload bytes counted the way codis-server bounds a chunk by `maxbytes`.
    bytes: usize,
}

impl ChunkWriter {
    pub fn new(kind: ChunkKind) -> ChunkWriter {
        ChunkWriter { kind, body: Vec::new(), bulks: 0, bytes: 0 }
    }

    /// Adds one element (a list item, set member, hash field or value, zset member).
    pub fn push(&mut self, elem: &[u8]) {
        bulk(&mut self.body, elem);
        self.bulks += 1;
        self.bytes += elem.len();
    }

    /// Adds a zset score in its binary form.
    pub fn push_score(&mut self, score: f64) {
        self.push(&score_bits(score));
    }

    /// Elements added so far (a member and its score count as two).
    pub fn bulks(&self) -> usize {
        self.bulks
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Appends the complete message.
    pub fn finish(self, out: &mut Vec<u8>, key: &[u8], ttl_ms: i64, hint: i64) {
        header(out, 5 + self.bulks);
        bulk(out, RESTORE_ASYNC);
        bulk(out, self.kind.name().as_bytes());
        bulk(out, key);
        bulk_int(out, ttl_ms);
        bulk_int(out, hint);
        out.extend_from_slice(&self.body);
    }
}
