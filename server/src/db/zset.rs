//! Sorted set values.

use crate::sds::Sds;

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
}
