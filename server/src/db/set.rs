//! Set values.

use crate::sds::Sds;

#[derive(Clone)]
pub enum SetValue {
    /// Sorted integers (`intset`).
    Ints(Vec<i64>),
    Table(indexmap::IndexSet<Sds, foldhash::fast::RandomState>),
}

impl SetValue {
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
        match self {
            SetValue::Ints(v) => v.iter().map(|n| Sds::new(itoa::Buffer::new().format(*n).as_bytes())).collect(),
            SetValue::Table(t) => t.iter().cloned().collect(),
        }
    }
}
