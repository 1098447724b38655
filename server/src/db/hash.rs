//! Hash values.
//!
//! Fields live in an `IndexMap`. While the hash is small (Redis's `listpack` encoding) the map
//! keeps Redis's listpack order exactly: a new field is appended, an update keeps its place and a
//! delete shifts the following fields (`shift_remove`), so HGETALL/HKEYS/HSCAN answer byte for byte
//! as Redis does. Once the hash passes `hash-max-listpack-entries` entries, or any field or value
//! is longer than `hash-max-listpack-value`, it becomes a `hashtable` (one-way, like Redis): deletes
//! then swap the last field into the hole (`swap_remove`, O(1)) and the iteration order is our own.
//!
//! HSCAN over a hashtable walks positions from the end towards the start; since a delete only
//! moves the last field into the hole, a field present for the whole scan is always returned.

use crate::sds::Sds;

pub type FieldMap = indexmap::IndexMap<Sds, Sds, foldhash::fast::RandomState>;

/// The `hash-max-listpack-*` thresholds that decide when a hash stops being a listpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

#[derive(Clone, Default)]
pub struct HashValue {
    pub map: FieldMap,
    /// Converted to a hashtable (one-way, like Redis).
    pub big: bool,
}

impl HashValue {
    pub fn new() -> HashValue {
        HashValue::default()
    }

    pub fn encoding(&self) -> &'static str {
        if self.big {
            "hashtable"
        } else {
            "listpack"
        }
    }

    pub fn heap_size(&self) -> usize {
        self.map.capacity() * 56 + self.map.iter().map(|(k, v)| k.heap_size() + v.heap_size()).sum::<usize>()
    }

    // --- Contract used by other families (SORT ... BY/GET key->field); keep these signatures.

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.map.get(field).map(|v| &v[..])
    }

    // --- Writes, keeping the encoding rules of Redis 7.0.

    /// Redis's `hashTypeTryConversion`: becomes a hashtable when any of the given argument
    /// lengths exceeds `hash-max-listpack-value`, before anything is written.
    pub fn convert_if_long(&mut self, limits: HashLimits, lens: impl IntoIterator<Item = usize>) {
        if !self.big && lens.into_iter().any(|l| l > limits.max_value) {
            self.big = true;
        }
    }

    /// Sets `field` to `value` (Redis's `hashTypeSet`). Returns true when the field is new.
    /// An existing field keeps its position; a new one is appended.
    pub fn set(&mut self, field: &[u8], value: Sds, limits: HashLimits) -> bool {
        if !self.big && (field.len() > limits.max_value || value.len() > limits.max_value) {
            self.big = true;
        }
        let new = match self.map.get_mut(field) {
            Some(v) => {
                *v = value;
                false
            }
            None => {
                self.map.insert(Sds::new(field), value);
                true
            }
        };
        if !self.big && self.map.len() > limits.max_entries {
            self.big = true;
        }
        new
    }

    /// Removes `field`; returns whether it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let removed = if self.big { self.map.swap_remove(field) } else { self.map.shift_remove(field) };
        let cap = self.map.capacity();
        if cap > 64 && self.map.len() * 4 < cap {
            self.map.shrink_to(self.map.len() * 2);
        }
        removed.is_some()
    }

    /// The field and value at position `i` (0 <= i < len).
    pub fn at(&self, i: usize) -> Option<(&Sds, &Sds)> {
        self.map.get_index(i)
    }

    /// Every field and value in iteration order (listpack order while small).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Sds, &Sds)> {
        self.map.iter()
    }

    /// One HSCAN step over a hashtable: visits up to `count` fields from `cursor`, calling `f`
    /// for each, and returns the next cursor (0 when done). Cursor 0 starts at the last position;
    /// any other cursor `c` resumes at position `c - 1` and walks towards position 0.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a Sds, &'a Sds)) -> u64 {
        let len = self.map.len();
        let mut i = if cursor == 0 { len } else { usize::try_from(cursor).unwrap_or(usize::MAX).min(len) };
        let mut n = 0;
        while i > 0 && n < count {
            i -= 1;
            if let Some((k, v)) = self.map.get_index(i) {
                f(k, v);
            }
            n += 1;
        }
        i as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HashLimits = HashLimits { max_entries: 4, max_value: 8 };

    fn keys(h: &HashValue) -> Vec<String> {
        h.iter().map(|(k, _)| String::from_utf8_lossy(k).into_owned()).collect()
    }

    #[test]
    fn small_hash_keeps_listpack_order() {
        let mut h = HashValue::new();
        for f in ["a", "b", "c"] {
            assert!(h.set(f.as_bytes(), Sds::new(b"1"), LIMITS));
        }
        assert!(!h.set(b"a", Sds::new(b"2"), LIMITS));
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert!(h.set(b"a", Sds::new(b"3"), LIMITS));
        assert_eq!(keys(&h), ["b", "c", "a"]);
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.get(b"a"), Some(&b"3"[..]));
    }

    #[test]
    fn converts_one_way() {
        let mut h = HashValue::new();
        for i in 0..5 {
            h.set(format!("f{i}").as_bytes(), Sds::new(b"v"), LIMITS);
        }
        assert_eq!(h.encoding(), "hashtable");
        for i in 0..5 {
            h.remove(format!("f{i}").as_bytes());
        }
        assert!(h.is_empty());
        assert!(h.big);

        let mut h = HashValue::new();
        h.set(b"f", Sds::new(b"123456789"), LIMITS);
        assert!(h.big);
        let mut h = HashValue::new();
        h.convert_if_long(LIMITS, [1, 9]);
        assert!(h.big);
    }

    #[test]
    fn scan_never_misses_stable_fields() {
        let mut h = HashValue::new();
        for i in 0..1000 {
            h.set(format!("f{i}").as_bytes(), Sds::new(b"v"), LIMITS);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = h.scan(cursor, 7, |k, _| {
                seen.insert(k.to_vec());
            });
            // Delete odd fields and add new ones while scanning.
            for j in 0..4 {
                h.remove(format!("f{}", round * 8 + j * 2 + 1).as_bytes());
            }
            h.set(format!("new{round}").as_bytes(), Sds::new(b"v"), LIMITS);
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in (0..1000).step_by(2) {
            assert!(seen.contains(format!("f{i}").as_bytes()), "missed f{i}");
        }
    }
}
