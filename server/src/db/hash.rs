//! Hash values.

use crate::sds::Sds;

#[derive(Clone)]
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
}
