//! Which keys a migration command moves.
//!
//! Codis keeps tagged keys in a skiplist ordered by the crc of their tag; keys sharing a tag
//! sit in one slot, so here the slot's table is walked instead. The first key of a slot is
//! taken from the end of the slot's table (codis starts at a random cursor), the keys of a tag
//! follow in bytewise order, as the recordings show.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use compat::slot::{hash_tag, slot_of};

use crate::db::Db;

/// The hash tag of `key` when it has one (`{tag}` present).
pub fn tag_of(key: &[u8]) -> Option<&[u8]> {
    let tag = hash_tag(key);
    (tag.len() != key.len()).then_some(tag)
}

/// The keys sharing `key`'s hash tag, in bytewise order; just `key` (if present) without a tag.
pub fn tag_group(db: &Db, key: &[u8]) -> Vec<Bytes> {
    let Some(tag) = tag_of(key) else {
        return db.get(key).map(|_| vec![Bytes::copy_from_slice(key)]).unwrap_or_default();
    };
    let mut keys: Vec<Bytes> = db
        .slot(slot_of(key))
        .entries()
        .iter()
        .filter(|e| tag_of(&e.key) == Some(tag))
        .map(|e| Bytes::copy_from_slice(&e.key))
        .collect();
    keys.sort();
    keys
}

/// The last key of `slot`'s table, if any.
pub fn one_of_slot(db: &Db, slot: usize) -> Option<Bytes> {
    db.slot(slot).entries().last().map(|e| Bytes::copy_from_slice(&e.key))
}

/// Keys for SLOTSMGRTSLOT-ASYNC / SLOTSMGRTTAGSLOT-ASYNC: keys are added while the estimated
/// number of messages stays under `numkeys` (a key that would push it past twice that waits
/// for a later batch unless it comes first), each with the keys of its tag when `usetag`.
pub fn pick_batch(db: &Db, slot: usize, numkeys: usize, maxbulks: usize, usetag: bool) -> Vec<Bytes> {
    let entries = db.slot(slot).entries();
    let mut keys = Vec::new();
    let mut seen: HashSet<&[u8]> = HashSet::new();
    let mut tags_done: HashSet<&[u8]> = HashSet::new();
    let mut groups: Option<HashMap<&[u8], Vec<usize>>> = None;
    let mut estimate = 0usize;
    for pos in (0..entries.len()).rev() {
        if estimate >= numkeys || keys.len() >= numkeys {
            break;
        }
        let e = &entries[pos];
        if seen.contains(&e.key[..]) {
            continue;
        }
        let msgs = super::iter::estimate_msgs(&e.value, maxbulks);
        if estimate != 0 && estimate + msgs > numkeys * 2 {
            continue;
        }
        seen.insert(&e.key);
        keys.push(Bytes::copy_from_slice(&e.key));
        estimate += msgs;
        let Some(tag) = tag_of(&e.key).filter(|_| usetag) else { continue };
        if !tags_done.insert(tag) {
            continue;
        }
        let groups = groups.get_or_insert_with(|| {
            let mut g: HashMap<&[u8], Vec<usize>> = HashMap::new();
            for (i, e) in entries.iter().enumerate() {
                if let Some(t) = tag_of(&e.key) {
                    g.entry(t).or_default().push(i);
                }
            }
            g
        });
        let mut sib: Vec<usize> = groups.get(tag).cloned().unwrap_or_default();
        sib.sort_by(|&a, &b| entries[a].key[..].cmp(&entries[b].key[..]));
        for i in sib {
            let s = &entries[i];
            if seen.insert(&s.key) {
                keys.push(Bytes::copy_from_slice(&s.key));
                estimate += super::iter::estimate_msgs(&s.value, maxbulks);
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Value;

    #[test]
    fn tags_and_batches() {
        assert_eq!(tag_of(b"{wire}str"), Some(&b"wire"[..]));
        assert_eq!(tag_of(b"plain"), None);
        let mut db = Db::new(0);
        for k in ["{t}c", "{t}a", "{t}b"] {
            db.set(k.as_bytes(), Value::Int(1), false, 0);
        }
        let slot = slot_of(b"{t}");
        assert_eq!(tag_group(&db, b"{t}zzz"), vec![Bytes::from("{t}a"), Bytes::from("{t}b"), Bytes::from("{t}c")]);
        // The last key first, then its tag in bytewise order.
        assert_eq!(
            pick_batch(&db, slot, 1, 200, true),
            vec![Bytes::from("{t}b"), Bytes::from("{t}a"), Bytes::from("{t}c")]
        );
        assert_eq!(pick_batch(&db, slot, 2, 200, false), vec![Bytes::from("{t}b"), Bytes::from("{t}a")]);
    }
}
