//! `SLOTSRESTORE-ASYNC-ACK errno message`: the target's answer to every async message. It is
//! shaped as a command (a RESP array of three bulk strings) because a legacy source runs it as
//! one on its connection to the target.

use bytes::Bytes;

use super::RESTORE_ASYNC_ACK;
use crate::resp::Frame;

/// Appends an ACK array.
pub fn encode_ack(out: &mut Vec<u8>, errno: i64, message: &[u8]) {
    super::msg::header(out, 3);
    super::msg::bulk(out, RESTORE_ASYNC_ACK);
    super::msg::bulk(out, itoa::Buffer::new().format(errno).as_bytes());
    super::msg::bulk(out, message);
}

/// Why a target's answer is not a successful ACK.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// A well-formed ACK with a non-zero errno (the target closes the connection after it).
    #[error("target refused: [{errno}] {message}")]
    Refused { errno: i64, message: String },
    /// A plain error reply, e.g. `-NOAUTH Authentication required.`.
    #[error("target replied with an error: {0}")]
    Error(String),
    #[error("target sent something other than an ACK: {0}")]
    Malformed(String),
}

/// Reads one ACK. Returns its message (e.g. `OK`, or a size after a chunk) when errno is 0.
pub fn parse_ack(frame: &Frame) -> Result<Bytes, AckError> {
    let items = match frame {
        Frame::Array(items) => items,
        Frame::Error(e) => return Err(AckError::Error(String::from_utf8_lossy(e).into_owned())),
        other => return Err(AckError::Malformed(format!("{other:?}"))),
    };
    let bulk = |f: &Frame| match f {
        Frame::Bulk(b) | Frame::Simple(b) => Some(b.clone()),
        _ => None,
    };
    let malformed = || AckError::Malformed(format!("{frame:?}"));
    if items.len() != 3 {
        return Err(malformed());
    }
    let name = bulk(&items[0]).ok_or_else(malformed)?;
    if !name.eq_ignore_ascii_case(RESTORE_ASYNC_ACK) {
        return Err(malformed());
    }
    let errno = bulk(&items[1])
        .and_then(|b| std::str::from_utf8(&b).ok().and_then(|s| s.parse::<i64>().ok()))
        .ok_or_else(malformed)?;
    let message = bulk(&items[2]).ok_or_else(malformed)?;
    if errno != 0 {
        return Err(AckError::Refused { errno, message: String::from_utf8_lossy(&message).into_owned() });
    }
    Ok(message)
}
