//! Set values.

use crate::sds::Sds;

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
}
