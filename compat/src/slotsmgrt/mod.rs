//! Codis slot migration on the wire, as codis-server 3.2.11 speaks it (recordings in
//! `codis-3.2/wire/1_sync_migration` and `2_async_migration`).
//!
//! - Synchronous migration: the source pipelines `AUTH`, `SELECT` and one
//!   `SLOTSRESTORE key ttl_ms payload [key ttl_ms payload ...]` and reads one reply per command
//!   ([`slotsrestore`]).
//! - Asynchronous migration: the source sends `SLOTSRESTORE-ASYNC*` messages ([`msg`]) and the
//!   target answers each with a command-shaped `SLOTSRESTORE-ASYNC-ACK errno message` array
//!   ([`ack`]); [`RestoreAsync::parse`] reads a message on the receiving side.
//!
//! The server's sender and receiver, and any tool that imports from or exports to legacy nodes,
//! build and read these messages here.

pub mod ack;
pub mod msg;
mod restore;

pub use ack::{encode_ack, parse_ack, AckError};
pub use msg::{ChunkKind, ChunkWriter};
pub use restore::RestoreAsync;

/// `SLOTSRESTORE`: the synchronous restore command (always replaces).
pub const SLOTSRESTORE: &[u8] = b"SLOTSRESTORE";
/// The asynchronous restore command and its companions.
pub const RESTORE_ASYNC: &[u8] = b"SLOTSRESTORE-ASYNC";
pub const RESTORE_ASYNC_AUTH: &[u8] = b"SLOTSRESTORE-ASYNC-AUTH";
pub const RESTORE_ASYNC_SELECT: &[u8] = b"SLOTSRESTORE-ASYNC-SELECT";
pub const RESTORE_ASYNC_ACK: &[u8] = b"SLOTSRESTORE-ASYNC-ACK";

/// Appends `SLOTSRESTORE key ttl payload [...]` for `items` (key, TTL in ms or 0, DUMP payload).
pub fn slotsrestore<K: AsRef<[u8]>, P: AsRef<[u8]>>(out: &mut Vec<u8>, items: &[(K, i64, P)]) {
    let mut b = itoa::Buffer::new();
    msg::header(out, 1 + 3 * items.len());
    msg::bulk(out, SLOTSRESTORE);
    for (k, ttl, p) in items {
        msg::bulk(out, k.as_ref());
        msg::bulk(out, b.format(*ttl).as_bytes());
        msg::bulk(out, p.as_ref());
    }
}

/// The binary score of a zset chunk: the IEEE double's bits, little-endian.
pub fn score_bits(score: f64) -> [u8; 8] {
    score.to_bits().to_le_bytes()
}

/// Reads a zset chunk score; `None` unless exactly 8 bytes.
pub fn score_from_bits(b: &[u8]) -> Option<f64> {
    let arr: [u8; 8] = b.try_into().ok()?;
    Some(f64::from_bits(u64::from_le_bytes(arr)))
}

#[cfg(test)]
mod tests;
