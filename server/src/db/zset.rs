//! Sorted set values.

use crate::sds::Sds;

#[derive(Clone)]
pub struct ZSetValue {
    pub members: Vec<(f64, Sds)>,
    pub big: bool,
}

impl ZSetValue {
    pub fn encoding(&self) -> &'static str {
        if self.big { "skiplist" } else { "listpack" }
    }

    pub fn heap_size(&self) -> usize {
        self.members.capacity() * 32
    }

    // --- Contract used by other families (SORT, COPY, RDB); keep these signatures.

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Members with their scores, in ascending (score, member) order.
    pub fn ordered(&self) -> Vec<(Sds, f64)> {
        self.members.iter().map(|(s, m)| (m.clone(), *s)).collect()
    }
}
