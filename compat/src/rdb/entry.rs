//! One element of a ziplist or listpack: a byte string or an integer.

use bytes::Bytes;

use super::num;

/// An element as stored in a ziplist or listpack. Integers are stored as integers when their
/// text is a canonical `i64`; both read back as the same text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    /// The element's value as Redis returns it (integers as decimal text).
    pub fn to_bytes(&self) -> Bytes {
        match *self {
            Elem::Str(s) => Bytes::copy_from_slice(s),
            Elem::Int(i) => num::i64_to_bytes(i),
        }
    }

    /// The element read as a zset score (`zzlGetScore`: `strtod` of text, or the integer).
    pub fn to_f64(&self) -> Option<f64> {
        match *self {
            Elem::Str(s) => num::parse_f64(s),
            Elem::Int(i) => Some(i as f64),
        }
    }
}
