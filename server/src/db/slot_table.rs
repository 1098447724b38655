//! `SlotTable`: the keys of one slot of one database.
//!
//! Entries live densely in a `Vec` and a hash index maps keys to positions. Keeping each slot in
//! its own small table makes every slot operation (SLOTSSCAN, SLOTSDEL, migration) cost only the
//! keys of that slot, and bounds the pause of any table resize to one slot's worth of keys.
//!
//! Removal swaps the last entry into the hole. Scans walk positions from the end towards the
//! start, so an entry that stays in the table for a whole scan is always returned (a moved entry
//! may be returned twice, which SCAN allows).

use hashbrown::HashTable;

use super::value::Value;
use crate::sds::Sds;

/// One key with its value and metadata.
pub struct Entry {
    pub key: Sds,
    pub value: Value,
    /// Absolute expiry in unix milliseconds; 0 when the key is persistent.
    pub expire_ms: i64,
    /// LRU clock of the last access (seconds resolution, wraps like Redis's 24-bit clock).
    pub lru: u32,
}

impl Entry {
    /// Redis treats a key as expired once the clock is past its expiry, not at it.
    #[inline]
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expire_ms != 0 && self.expire_ms < now_ms
    }
}

#[derive(Default)]
pub struct SlotTable {
    entries: Vec<Entry>,
    index: HashTable<u32>,
    volatile: u32,
}

impl SlotTable {
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of entries with an expiry.
    pub fn volatile(&self) -> usize {
        self.volatile as usize
    }

    #[inline]
    pub fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.index.find(hash, |&i| &*entries[i as usize].key == key).map(|&i| i as usize)
    }

    #[inline]
    pub fn at(&self, pos: usize) -> &Entry {
        &self.entries[pos]
    }

    #[inline]
    pub fn at_mut(&mut self, pos: usize) -> &mut Entry {
        &mut self.entries[pos]
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Inserts a key known to be absent; returns its position.
    pub fn insert_new(&mut self, hash: u64, entry: Entry, hasher: &impl Fn(&[u8]) -> u64) -> usize {
        let pos = self.entries.len();
        if entry.expire_ms != 0 {
            self.volatile += 1;
        }
        self.entries.push(entry);
        let entries = &self.entries;
        self.index.insert_unique(hash, pos as u32, |&i| hasher(&entries[i as usize].key));
        pos
    }

    /// Removes the entry at `pos` (whose key hashes to `hash`).
    pub fn remove_at(&mut self, hash: u64, pos: usize, hasher: &impl Fn(&[u8]) -> u64) -> Entry {
        if let Ok(slot) = self.index.find_entry(hash, |&i| i as usize == pos) {
            slot.remove();
        }
        let last = self.entries.len() - 1;
        if pos != last {
            let moved_hash = hasher(&self.entries[last].key);
            if let Some(i) = self.index.find_mut(moved_hash, |&i| i as usize == last) {
                *i = pos as u32;
            }
        }
        let e = self.entries.swap_remove(pos);
        if e.expire_ms != 0 {
            self.volatile -= 1;
        }
        self.shrink_if_sparse();
        e
    }

    /// Sets or clears the expiry of the entry at `pos`, keeping the volatile count right.
    pub fn set_expire(&mut self, pos: usize, expire_ms: i64) {
        let e = &mut self.entries[pos];
        match (e.expire_ms != 0, expire_ms != 0) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        e.expire_ms = expire_ms;
    }

    pub fn clear(&mut self) -> Vec<Entry> {
        self.index = HashTable::new();
        self.volatile = 0;
        std::mem::take(&mut self.entries)
    }

    fn shrink_if_sparse(&mut self) {
        let cap = self.entries.capacity();
        if cap > 64 && self.entries.len() * 4 < cap {
            self.entries.shrink_to(self.entries.len() * 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn h(b: &[u8]) -> u64 {
        foldhash::fast::FixedState::with_seed(1).hash_one(b)
    }

    fn entry(k: &str) -> Entry {
        Entry { key: Sds::new(k.as_bytes()), value: Value::Int(1), expire_ms: 0, lru: 0 }
    }

    #[test]
    fn insert_find_remove_keeps_index_consistent() {
        let mut t = SlotTable::default();
        for i in 0..100 {
            let k = format!("k{i}");
            t.insert_new(h(k.as_bytes()), entry(&k), &h);
        }
        for i in (0..100).step_by(3) {
            let k = format!("k{i}");
            let pos = t.find(h(k.as_bytes()), k.as_bytes()).unwrap();
            let e = t.remove_at(h(k.as_bytes()), pos, &h);
            assert_eq!(&*e.key, k.as_bytes());
        }
        for i in 0..100 {
            let k = format!("k{i}");
            let found = t.find(h(k.as_bytes()), k.as_bytes());
            assert_eq!(found.is_some(), i % 3 != 0, "{k}");
            if let Some(p) = found {
                assert_eq!(&*t.at(p).key, k.as_bytes());
            }
        }
    }

    #[test]
    fn entry_is_compact() {
        assert!(std::mem::size_of::<Entry>() <= 64, "{}", std::mem::size_of::<Entry>());
    }
}
