//! The neutral value model exchanged with the rest of rcodis.

use bytes::Bytes;

/// A Redis value as stored in an RDB file or DUMP payload, independent of the on-disk encoding.
///
/// Elements keep the order in which they were stored. For sets, hashes and skiplist zsets that
/// is the source's hash-table order; for ziplist/listpack zsets it is ascending by score.
/// Integers stored in integer encodings come back as their decimal text.
#[derive(Clone, Debug, PartialEq)]
pub enum RdbValue {
    String(Bytes),
    List(Vec<Bytes>),
    Set(Vec<Bytes>),
    Hash(Vec<(Bytes, Bytes)>),
    ZSet(Vec<(Bytes, f64)>),
}

impl RdbValue {
    /// The name `TYPE` replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            RdbValue::String(_) => "string",
            RdbValue::List(_) => "list",
            RdbValue::Set(_) => "set",
            RdbValue::Hash(_) => "hash",
            RdbValue::ZSet(_) => "zset",
        }
    }

    /// Number of elements (string length for strings).
    pub fn len(&self) -> usize {
        match self {
            RdbValue::String(s) => s.len(),
            RdbValue::List(v) | RdbValue::Set(v) => v.len(),
            RdbValue::Hash(v) => v.len(),
            RdbValue::ZSet(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
