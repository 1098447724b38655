//! Reading a `SLOTSRESTORE-ASYNC` message on the receiving side. The checks run in the order
//! codis-server makes them, so a bad message gets the same ACK message text.

use bytes::Bytes;

use super::msg::ChunkKind;
use super::score_from_bits;

/// One decoded `SLOTSRESTORE-ASYNC` message.
#[derive(Debug, Clone, PartialEq)]
pub enum RestoreAsync<'a> {
    Delete {
        key: &'a [u8],
    },
    Expire {
        key: &'a [u8],
        ttl_ms: i64,
    },
    Object {
        key: &'a [u8],
        ttl_ms: i64,
        payload: &'a [u8],
    },
    String {
        key: &'a [u8],
        ttl_ms: i64,
        value: &'a [u8],
    },
    /// `elems` are list items, set members, field/value pairs, or member/score pairs (scores
    /// already checked to be 8-byte doubles; read them with [`score_from_bits`]).
    Chunk {
        kind: ChunkKind,
        key: &'a [u8],
        ttl_ms: i64,
        hint: i64,
        elems: &'a [Bytes],
    },
}

/// Redis's `string2ll`: an optional minus sign and digits, no leading zeros, no spaces.
fn strict_i64(b: &[u8]) -> Option<i64> {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if digits.is_empty() || (digits[0] == b'0' && b.len() > 1) || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

impl<'a> RestoreAsync<'a> {
    /// Parses `args` (`args[0]` is the command name). The error is the ACK message text.
    pub fn parse(args: &'a [Bytes]) -> Result<RestoreAsync<'a>, String> {
        let argc = args.len();
        let cmd = args.get(1).map(|c| String::from_utf8_lossy(c).into_owned()).unwrap_or_default();
        let bad_args = || format!("wrong number of arguments (argc={argc},cmd={cmd})");
        if argc < 3 {
            return Err(bad_args());
        }
        let is = |name: &str| args[1].eq_ignore_ascii_case(name.as_bytes());
        let key = &args[2][..];
        if is("delete") {
            return if argc == 3 { Ok(RestoreAsync::Delete { key }) } else { Err(bad_args()) };
        }
        if argc < 4 {
            return Err(bad_args());
        }
        let ttl_ms = strict_i64(&args[3])
            .filter(|&t| t >= 0)
            .ok_or_else(|| format!("invalid TTL value (TTL={})", String::from_utf8_lossy(&args[3])))?;
        if is("expire") {
            return if argc == 4 { Ok(RestoreAsync::Expire { key, ttl_ms }) } else { Err(bad_args()) };
        }
        if is("string") {
            return if argc == 5 { Ok(RestoreAsync::String { key, ttl_ms, value: &args[4] }) } else { Err(bad_args()) };
        }
        if is("object") {
            return if argc == 5 {
                Ok(RestoreAsync::Object { key, ttl_ms, payload: &args[4] })
            } else {
                Err(bad_args())
            };
        }
        if argc < 5 {
            return Err(bad_args());
        }
        let hint = strict_i64(&args[4])
            .filter(|&h| h >= 0)
            .ok_or_else(|| format!("invalid Hint value (Hint={})", String::from_utf8_lossy(&args[4])))?;
        let elems = &args[5..];
        let Some(kind) = ChunkKind::parse(&args[1]) else {
            return Err(format!("unknown command (argc={argc},cmd={cmd})"));
        };
        match kind {
            ChunkKind::Hash | ChunkKind::ZSet if !elems.len().is_multiple_of(2) => return Err(bad_args()),
            ChunkKind::ZSet => {
                if let Some(j) = elems.chunks(2).position(|p| score_from_bits(&p[1]).is_none()) {
                    return Err(format!("invalid zset score ([{j}]), bad raw bits"));
                }
            }
            _ => {}
        }
        Ok(RestoreAsync::Chunk { kind, key, ttl_ms, hint, elems })
    }

    /// The key the message is about.
    pub fn key(&self) -> &'a [u8] {
        match self {
            RestoreAsync::Delete { key }
            | RestoreAsync::Expire { key, .. }
            | RestoreAsync::Object { key, .. }
            | RestoreAsync::String { key, .. }
            | RestoreAsync::Chunk { key, .. } => key,
        }
    }
}
