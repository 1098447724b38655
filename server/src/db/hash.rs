//! Hash values.

use crate::sds::Sds;

pub struct HashValue {
    pub map: indexmap::IndexMap<Sds, Sds, foldhash::fast::RandomState>,
    /// Converted to a hashtable (one-way, like Redis).
    pub big: bool,
}

impl HashValue {
    pub fn encoding(&self) -> &'static str {
        if self.big { "hashtable" } else { "listpack" }
    }

    pub fn heap_size(&self) -> usize {
        self.map.capacity() * 56 + self.map.iter().map(|(k, v)| k.heap_size() + v.heap_size()).sum::<usize>()
    }
}
