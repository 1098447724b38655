//! The value a key holds. Each collection type lives in its own module; this enum ties them
//! together and answers the questions every command asks (type name, encoding).

use std::collections::VecDeque;

use super::hash::HashValue;
use super::set::SetValue;
use super::zset::ZSetValue;
use crate::sds::Sds;

/// Strings longer than this are `raw`, shorter ones `embstr` (Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
pub const EMBSTR_LIMIT: usize = 44;

/// `Clone` is a deep copy (COPY duplicates values of every type, keeping their encoding).
#[derive(Clone)]
// Boxed collections keep `Value` at 32 bytes (see `value_stays_small`).
#[allow(clippy::box_collection)]
pub enum Value {
    /// A string holding a canonical 64-bit integer (`int` encoding).
    Int(i64),
    /// A string; `embstr` or `raw` by its length.
    Str(Sds),
    /// A string that was modified in place (APPEND, SETRANGE, SETBIT): always `raw`, with room
    /// to grow so repeated appends stay linear.
    Raw(Box<Vec<u8>>),
    List(Box<VecDeque<Sds>>),
    Hash(Box<HashValue>),
    Set(Box<SetValue>),
    ZSet(Box<ZSetValue>),
}

/// What TYPE answers, also used to check WRONGTYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    String,
    List,
    Hash,
    Set,
    ZSet,
}

impl ValueType {
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::List => "list",
            ValueType::Hash => "hash",
            ValueType::Set => "set",
            ValueType::ZSet => "zset",
        }
    }
}

impl Value {
    /// A string value, in the encoding Redis's `tryObjectEncoding` would pick.
    pub fn string(b: &[u8]) -> Value {
        match crate::util::parse_canonical_i64(b) {
            Some(n) => Value::Int(n),
            None => Value::Str(Sds::new(b)),
        }
    }

    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Int(_) | Value::Str(_) | Value::Raw(_) => ValueType::String,
            Value::List(_) => ValueType::List,
            Value::Hash(_) => ValueType::Hash,
            Value::Set(_) => ValueType::Set,
            Value::ZSet(_) => ValueType::ZSet,
        }
    }

    pub fn is_string(&self) -> bool {
        self.value_type() == ValueType::String
    }

    /// The encoding OBJECT ENCODING reports (Redis 7.0 names).
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(s) if s.len() <= EMBSTR_LIMIT => "embstr",
            Value::Str(_) | Value::Raw(_) => "raw",
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// The bytes of a string value; integers are formatted into `scratch`.
    pub fn str_bytes<'a>(&'a self, scratch: &'a mut itoa::Buffer) -> Option<&'a [u8]> {
        match self {
            Value::Int(n) => Some(scratch.format(*n).as_bytes()),
            Value::Str(s) => Some(s),
            Value::Raw(v) => Some(v),
            _ => None,
        }
    }

    /// Length of a string value in bytes.
    pub fn str_len(&self) -> Option<usize> {
        let mut b = itoa::Buffer::new();
        self.str_bytes(&mut b).map(|s| s.len())
    }

    /// Turns a string value into its `raw` form for in-place edits and returns the bytes.
    pub fn make_raw(&mut self) -> Option<&mut Vec<u8>> {
        let bytes = match self {
            Value::Raw(v) => return Some(v),
            Value::Int(n) => itoa::Buffer::new().format(*n).as_bytes().to_vec(),
            Value::Str(s) => s.to_vec(),
            _ => return None,
        };
        *self = Value::Raw(Box::new(bytes));
        match self {
            Value::Raw(v) => Some(v),
            _ => None,
        }
    }

    /// Approximate heap bytes owned by this value (used by MEMORY USAGE and eviction sampling).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Str(s) => s.heap_size(),
            Value::Raw(v) => v.capacity() + 24,
            Value::List(l) => {
                l.capacity() * std::mem::size_of::<Sds>() + l.iter().map(|e| e.heap_size()).sum::<usize>()
            }
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_stays_small() {
        assert!(std::mem::size_of::<Value>() <= 32, "{}", std::mem::size_of::<Value>());
    }

    #[test]
    fn string_encodings() {
        assert_eq!(Value::string(b"123").encoding(), "int");
        assert_eq!(Value::string(b"0123").encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 45]).encoding(), "raw");
    }
}
