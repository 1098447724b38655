//! The keyspace: numbered databases, each split into the 1024 Codis slots.

pub mod hash;
pub mod set;
pub mod slot_table;
pub mod value;
pub mod zset;

use std::hash::BuildHasher;

use compat::slot::{slot_of, MAX_SLOT_NUM};
use rand::Rng;

pub use slot_table::{Entry, SlotTable};
pub use value::Value;

use crate::sds::Sds;

/// Where a key sits: its slot and its position inside the slot table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPos {
    pub slot: usize,
    pub pos: usize,
}

/// One numbered database (`SELECT n`).
pub struct Db {
    pub id: usize,
    slots: Vec<SlotTable>,
    hasher: foldhash::fast::RandomState,
    keys: usize,
    volatile: usize,
}

impl Db {
    pub fn new(id: usize) -> Db {
        Db {
            id,
            slots: (0..MAX_SLOT_NUM).map(|_| SlotTable::default()).collect(),
            hasher: foldhash::fast::RandomState::default(),
            keys: 0,
            volatile: 0,
        }
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Number of keys (DBSIZE), expired-but-not-yet-reclaimed ones included, as Redis counts.
    #[inline]
    pub fn len(&self) -> usize {
        self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// Number of keys with an expiry.
    pub fn volatile_len(&self) -> usize {
        self.volatile
    }

    pub fn slot(&self, slot: usize) -> &SlotTable {
        &self.slots[slot]
    }

    /// Finds `key` without looking at its expiry.
    #[inline]
    pub fn locate(&self, key: &[u8]) -> Option<KeyPos> {
        let slot = slot_of(key);
        self.slots[slot].find(self.hash(key), key).map(|pos| KeyPos { slot, pos })
    }

    #[inline]
    pub fn entry(&self, at: KeyPos) -> &Entry {
        self.slots[at.slot].at(at.pos)
    }

    #[inline]
    pub fn entry_mut(&mut self, at: KeyPos) -> &mut Entry {
        self.slots[at.slot].at_mut(at.pos)
    }

    /// The entry of `key`, without expiry checks.
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.locate(key).map(|at| self.entry(at))
    }

    /// Inserts a key that is known to be absent.
    pub fn insert_new(&mut self, key: &[u8], value: Value, expire_ms: i64, lru: u32) -> KeyPos {
        let slot = slot_of(key);
        let hash = self.hash(key);
        let hasher = |k: &[u8]| self.hasher.hash_one(k);
        let entry = Entry { key: Sds::new(key), value, expire_ms, lru };
        let pos = self.slots[slot].insert_new(hash, entry, &hasher);
        self.keys += 1;
        if expire_ms != 0 {
            self.volatile += 1;
        }
        KeyPos { slot, pos }
    }

    /// Sets `key` to `value` like Redis's `setKey`: overwrites any old value and, unless
    /// `keep_ttl`, clears the expiry. Returns the old value.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool, lru: u32) -> Option<Value> {
        match self.locate(key) {
            Some(at) => {
                if !keep_ttl {
                    self.set_expire_at(at, 0);
                }
                let e = self.entry_mut(at);
                e.lru = lru;
                Some(std::mem::replace(&mut e.value, value))
            }
            None => {
                self.insert_new(key, value, 0, lru);
                None
            }
        }
    }

    /// Removes `key`, returning its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let at = self.locate(key)?;
        Some(self.remove_at(at))
    }

    pub fn remove_at(&mut self, at: KeyPos) -> Entry {
        let hash = self.hash(&self.slots[at.slot].at(at.pos).key);
        let hasher = |k: &[u8]| self.hasher.hash_one(k);
        let e = self.slots[at.slot].remove_at(hash, at.pos, &hasher);
        self.keys -= 1;
        if e.expire_ms != 0 {
            self.volatile -= 1;
        }
        e
    }

    /// Sets (non-zero) or clears (0) the expiry of the key at `at`.
    pub fn set_expire_at(&mut self, at: KeyPos, expire_ms: i64) {
        let before = self.slots[at.slot].at(at.pos).expire_ms != 0;
        self.slots[at.slot].set_expire(at.pos, expire_ms);
        match (before, expire_ms != 0) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
    }

    /// Removes every key; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.keys;
        for t in &mut self.slots {
            // Large tables are dropped on a helper thread so FLUSHDB on a big dataset
            // does not stall the command loop while freeing memory.
            let entries = t.clear();
            if entries.len() > 10_000 {
                std::thread::spawn(move || drop(entries));
            }
        }
        self.keys = 0;
        self.volatile = 0;
        n
    }

    /// A random key (expired ones included; the caller retries on them as Redis does).
    pub fn random_key(&self, rng: &mut impl Rng) -> Option<KeyPos> {
        if self.keys == 0 {
            return None;
        }
        // Pick a slot weighted by its size so every key is (nearly) equally likely.
        let mut n = rng.random_range(0..self.keys);
        for (slot, t) in self.slots.iter().enumerate() {
            if n < t.len() {
                return Some(KeyPos { slot, pos: n });
            }
            n -= t.len();
        }
        None
    }

    /// Visits up to about `count` entries starting at `cursor`, calling `f` for each; returns
    /// the next cursor (0 when done). The cursor holds the slot in its low 10 bits and, above
    /// them, the slot-local cursor of [`scan_table`].
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&Entry)) -> u64 {
        let mut slot = (cursor as usize) & (MAX_SLOT_NUM - 1);
        let mut local = (cursor >> 10) as usize;
        let mut visited = 0;
        while slot < MAX_SLOT_NUM && visited < count {
            let (n, resume) = scan_table(&self.slots[slot], local, count - visited, &mut f);
            visited += n;
            if resume != 0 {
                return ((resume as u64) << 10) | slot as u64;
            }
            slot += 1;
            local = 0;
        }
        if slot >= MAX_SLOT_NUM {
            0
        } else {
            slot as u64
        }
    }

    /// Iterates all entries of all slots.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().flat_map(|t| t.entries().iter())
    }
}

/// Visits entries of `t` from the end towards the start, at most `budget` of them. `cursor` 0
/// starts at the end; otherwise `cursor - 1` is the next position to visit. Returns how many
/// entries were visited and the cursor to resume from (0 when the table is finished).
pub fn scan_table(t: &SlotTable, cursor: usize, budget: usize, f: &mut impl FnMut(&Entry)) -> (usize, usize) {
    let len = t.len();
    let mut i = if cursor == 0 { len } else { cursor.min(len) };
    let mut n = 0;
    while i > 0 && n < budget {
        i -= 1;
        f(t.at(i));
        n += 1;
    }
    (n, i)
}

/// SLOTSSCAN over one slot: visits up to `budget` entries from `cursor`; returns the next cursor.
pub fn scan_slot(t: &SlotTable, cursor: usize, budget: usize, mut f: impl FnMut(&Entry)) -> usize {
    scan_table(t, cursor, budget, &mut f).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_remove_and_counts() {
        let mut db = Db::new(0);
        for i in 0..5000 {
            db.set(format!("k{i}").as_bytes(), Value::Int(i), false, 0);
        }
        assert_eq!(db.len(), 5000);
        let at = db.locate(b"k7").unwrap();
        db.set_expire_at(at, 123);
        assert_eq!(db.volatile_len(), 1);
        assert!(db.remove(b"k7").is_some());
        assert_eq!(db.volatile_len(), 0);
        assert_eq!(db.len(), 4999);
        assert!(db.get(b"k7").is_none());
        assert!(matches!(db.get(b"k8").unwrap().value, Value::Int(8)));
    }

    #[test]
    fn scan_returns_every_stable_key_despite_deletes() {
        let mut db = Db::new(0);
        for i in 0..3000 {
            db.set(format!("k{i}").as_bytes(), Value::Int(i), false, 0);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            let mut batch = Vec::new();
            cursor = db.scan(cursor, 10, |e| batch.push(e.key.to_vec()));
            seen.extend(batch);
            // Delete keys with an odd index while scanning; even ones must all be seen.
            for j in 0..5 {
                let idx = round * 10 + j * 2 + 1;
                db.remove(format!("k{idx}").as_bytes());
            }
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in (0..3000).step_by(2) {
            assert!(seen.contains(format!("k{i}").as_bytes()), "missed k{i}");
        }
    }
}
