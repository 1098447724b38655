//! Set values.
//!
//! Two encodings, as in Redis 7.0 (which has no set listpack):
//! - `intset`: sorted `i64`s, used while every member is a canonical integer and there are at
//!   most `set-max-intset-entries` of them;
//! - `hashtable`: an insertion-ordered hash set (removal swaps the last member into the hole).
//!   Its iteration order differs from Redis's dict order.

use rand::Rng;

use crate::sds::Sds;
use crate::util::parse_i64;

type Table = indexmap::IndexSet<Sds, foldhash::fast::RandomState>;

#[derive(Clone)]
pub enum SetValue {
    /// Sorted integers (`intset`).
    Ints(Vec<i64>),
    Table(Table),
}

/// A member as stored: an integer of an intset or the bytes of a hashtable member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetMember<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl SetMember<'_> {
    /// The member's bytes (integers are formatted into `buf`).
    pub fn bytes<'b>(&'b self, buf: &'b mut itoa::Buffer) -> &'b [u8] {
        match self {
            SetMember::Int(n) => buf.format(*n).as_bytes(),
            SetMember::Str(s) => s,
        }
    }

    pub fn to_sds(self) -> Sds {
        let mut b = itoa::Buffer::new();
        Sds::new(self.bytes(&mut b))
    }
}

/// Redis caps intsets at 1G entries whatever the configuration says.
fn intset_cap(max: usize) -> usize {
    max.min(1 << 30)
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::Ints(Vec::new())
    }
}

#[allow(dead_code)] // part of the API other families (OBJECT, COPY, SORT, RDB) use
impl SetValue {
    /// An empty set in the encoding Redis's `setTypeCreate` picks for a first member.
    pub fn new_for(first: &[u8]) -> SetValue {
        if parse_i64(first).is_some() {
            SetValue::Ints(Vec::new())
        } else {
            SetValue::Table(Table::default())
        }
    }

    /// Builds a set from members, converting as `setTypeAdd` would (starts as an intset).
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a [u8]>, max_intset: usize) -> SetValue {
        let mut s = SetValue::Ints(Vec::new());
        for m in members {
            s.add(m, max_intset);
        }
        s
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Ints(_) => "intset",
            SetValue::Table(_) => "hashtable",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            SetValue::Ints(v) => v.capacity() * 8,
            SetValue::Table(t) => t.capacity() * 40 + t.iter().map(|m| m.heap_size()).sum::<usize>(),
        }
    }

    // --- Contract used by other families (SORT, COPY, RDB); keep these signatures.

    pub fn len(&self) -> usize {
        match self {
            SetValue::Ints(v) => v.len(),
            SetValue::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every member, in the set's iteration order.
    pub fn members(&self) -> Vec<Sds> {
        self.iter().map(|m| m.to_sds()).collect()
    }

    // --- Membership and iteration.

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetValue::Ints(v) => parse_i64(m).is_some_and(|n| v.binary_search(&n).is_ok()),
            SetValue::Table(t) => t.contains(m),
        }
    }

    /// Like `contains` for a member taken from another set.
    pub fn contains_member(&self, m: SetMember) -> bool {
        match (self, m) {
            (SetValue::Ints(v), SetMember::Int(n)) => v.binary_search(&n).is_ok(),
            (_, m) => {
                let mut b = itoa::Buffer::new();
                self.contains(m.bytes(&mut b))
            }
        }
    }

    pub fn iter(&self) -> Box<dyn Iterator<Item = SetMember<'_>> + '_> {
        match self {
            SetValue::Ints(v) => Box::new(v.iter().map(|n| SetMember::Int(*n))),
            SetValue::Table(t) => Box::new(t.iter().map(|m| SetMember::Str(m))),
        }
    }

    /// The member at position `i` of the iteration order.
    pub fn get_index(&self, i: usize) -> Option<SetMember<'_>> {
        match self {
            SetValue::Ints(v) => v.get(i).map(|n| SetMember::Int(*n)),
            SetValue::Table(t) => t.get_index(i).map(|m| SetMember::Str(m)),
        }
    }

    /// Position of a uniformly random member (`None` when empty).
    pub fn random_index(&self, rng: &mut impl Rng) -> Option<usize> {
        let n = self.len();
        (n > 0).then(|| rng.random_range(0..n))
    }

    // --- Updates.

    fn convert_to_table(&mut self) {
        if let SetValue::Ints(v) = self {
            let mut t = Table::with_capacity_and_hasher(v.len() + 1, Default::default());
            let mut b = itoa::Buffer::new();
            for n in v.iter() {
                t.insert(Sds::new(b.format(*n).as_bytes()));
            }
            *self = SetValue::Table(t);
        }
    }

    /// Adds `m`; returns whether it was new. Converts the intset to a hashtable for a
    /// non-integer member or when it grows beyond `max_intset` entries.
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        match self {
            SetValue::Ints(v) => match parse_i64(m) {
                Some(n) => match v.binary_search(&n) {
                    Ok(_) => false,
                    Err(pos) => {
                        v.insert(pos, n);
                        if v.len() > intset_cap(max_intset) {
                            self.convert_to_table();
                        }
                        true
                    }
                },
                None => {
                    self.convert_to_table();
                    self.add(m, max_intset)
                }
            },
            SetValue::Table(t) => {
                if t.contains(m) {
                    false
                } else {
                    t.insert(Sds::new(m));
                    true
                }
            }
        }
    }

    /// Removes `m`; returns whether it was present.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetValue::Ints(v) => match parse_i64(m).map(|n| v.binary_search(&n)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    true
                }
                _ => false,
            },
            SetValue::Table(t) => {
                let removed = t.swap_remove(m);
                if removed && t.capacity() > 64 && t.len() * 8 < t.capacity() {
                    t.shrink_to(t.len() * 2);
                }
                removed
            }
        }
    }

    /// Removes the member at position `i` and returns it.
    pub fn remove_index(&mut self, i: usize) -> Option<Sds> {
        match self {
            SetValue::Ints(v) => (i < v.len()).then(|| {
                let n = v.remove(i);
                Sds::new(itoa::Buffer::new().format(n).as_bytes())
            }),
            SetValue::Table(t) => t.swap_remove_index(i),
        }
    }

    /// Visits up to `count` members from `cursor`; returns the next cursor (0 when done).
    /// An intset is visited whole. A hashtable is walked from its last position towards the
    /// first: members present for the whole scan are always returned, members moved by a
    /// removal may be returned twice.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(SetMember<'a>)) -> u64 {
        match self {
            SetValue::Ints(v) => {
                v.iter().for_each(|n| f(SetMember::Int(*n)));
                0
            }
            SetValue::Table(t) => {
                let len = t.len();
                let mut i = if cursor == 0 { len } else { cursor.min(len as u64) as usize };
                let mut n = 0;
                while i > 0 && n < count {
                    i -= 1;
                    f(SetMember::Str(t.get_index(i).expect("index in range")));
                    n += 1;
                }
                i as u64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_then_hashtable() {
        let mut s = SetValue::new_for(b"1");
        assert_eq!(s.encoding(), "intset");
        assert!(s.add(b"3", 512));
        assert!(s.add(b"1", 512));
        assert!(!s.add(b"3", 512));
        assert_eq!(s.members(), vec![Sds::new(b"1"), Sds::new(b"3")]);
        assert!(s.contains(b"3") && !s.contains(b"03") && !s.contains(b"x"));
        assert!(s.add(b"01", 512));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"3") && s.contains(b"01"));
        assert!(s.remove(b"3") && !s.remove(b"3"));
        assert_eq!(s.len(), 2);
        assert_eq!(SetValue::new_for(b"-0").encoding(), "hashtable");
    }

    #[test]
    fn intset_size_limit() {
        let mut s = SetValue::new_for(b"0");
        for i in 0..4 {
            s.add(i.to_string().as_bytes(), 4);
        }
        assert_eq!(s.encoding(), "intset");
        s.add(b"9", 4);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 5);
    }

    #[test]
    fn scan_sees_stable_members_despite_removals() {
        let mut s = SetValue::new_for(b"a");
        for i in 0..1000 {
            s.add(format!("m{i}").as_bytes(), 512);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = s.scan(cursor, 7, |m| {
                seen.insert(m.to_sds());
            });
            for j in 0..3 {
                s.remove(format!("m{}", round * 6 + j * 2 + 1).as_bytes());
            }
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in (0..1000).step_by(2) {
            assert!(seen.contains(&Sds::new(format!("m{i}").as_bytes())), "missed m{i}");
        }
    }
}
