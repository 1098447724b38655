//! Which keys a migration command moves.
//!
//! Codis keeps tagged keys in a skiplist ordered by the crc of their tag; keys sharing a tag
//! sit in one slot, so here the slot's table is walked instead. The first key of a slot is
//! taken from the end of the slot's table (codis starts at a random cursor), the keys of a tag
//! follow in bytewise order, as the recordings show.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use compat::slot::hash_tag;
#[cfg(test)]
use compat::slot::slot_of;

use crate::db::Db;

/// The hash tag of `key` when it has one (`{tag}` present).
pub fn tag_of(key: &[u8]) -> Option<&[u8]> {
    let tag = hash_tag(key);
    (tag.len() != key.len()).then_some(tag)
}

/// Keys of `slot` by hash tag (untagged keys are left out).
pub fn build_tag_index(db: &Db, slot: usize) -> HashMap<Bytes, HashSet<Bytes>> {
    let mut ix: HashMap<Bytes, HashSet<Bytes>> = HashMap::new();
    for e in db.slot(slot).entries() {
        if let Some(tag) = tag_of(&e.key) {
            ix.entry(Bytes::copy_from_slice(tag)).or_default().insert(Bytes::copy_from_slice(&e.key));
        }
    }
    ix
}

/// The last key of `slot`'s table, if any.
pub fn one_of_slot(db: &Db, slot: usize) -> Option<Bytes> {
    db.slot(slot).entries().last().map(|e| Bytes::copy_from_slice(&e.key))
}

/// Keys for SLOTSMGRTSLOT-ASYNC / SLOTSMGRTTAGSLOT-ASYNC: keys are added while the estimated
/// number of messages stays under `numkeys` (a key that would push it past twice that waits
/// for a later batch unless it comes first), each followed by the keys of its tag (from
/// `group`, in bytewise order) when `usetag`.
pub fn pick_batch(
    db: &Db,
    slot: usize,
    numkeys: usize,
    maxbulks: usize,
    usetag: bool,
    mut group: impl FnMut(&[u8]) -> Vec<Bytes>,
) -> Vec<Bytes> {
    let entries = db.slot(slot).entries();
    let mut keys = Vec::new();
    let mut seen: HashSet<Bytes> = HashSet::new();
    let mut tags_done: HashSet<&[u8]> = HashSet::new();
    let mut estimate = 0usize;
    let msgs_of = |k: &[u8]| db.get(k).map(|e| super::iter::estimate_msgs(&e.value, maxbulks)).unwrap_or(0);
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
        let key = Bytes::copy_from_slice(&e.key);
        seen.insert(key.clone());
        keys.push(key);
        estimate += msgs;
        let Some(tag) = tag_of(&e.key).filter(|_| usetag) else { continue };
        if !tags_done.insert(tag) {
            continue;
        }
        for s in group(&e.key) {
            if seen.insert(s.clone()) {
                estimate += msgs_of(&s);
                keys.push(s);
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
        let mut ms = super::super::MigrateState::default();
        let all = vec![Bytes::from("{t}a"), Bytes::from("{t}b"), Bytes::from("{t}c")];
        assert_eq!(ms.tag_group(&db, 0, b"{t}zzz", false), all);
        assert_eq!(ms.tag_group(&db, 0, b"{t}zzz", true), all);
        // The index follows writes.
        db.set(b"{t}d", Value::Int(1), false, 0);
        ms.touch(0, b"{t}d");
        db.remove(b"{t}a");
        assert_eq!(
            ms.tag_group(&db, 0, b"{t}", true),
            vec![Bytes::from("{t}b"), Bytes::from("{t}c"), Bytes::from("{t}d")]
        );
        // The last key of the table first, then the rest of its tag in bytewise order.
        let last = Bytes::copy_from_slice(&db.slot(slot).entries().last().unwrap().key);
        let group = |k: &[u8]| ms.tag_group(&db, 0, k, true);
        let picked = pick_batch(&db, slot, 1, 200, true, group);
        let mut rest: Vec<Bytes> =
            ["{t}b", "{t}c", "{t}d"].iter().map(|s| Bytes::from(*s)).filter(|k| *k != last).collect();
        rest.insert(0, last.clone());
        assert_eq!(picked, rest);
        assert_eq!(pick_batch(&db, slot, 2, 200, false, |_| Vec::new()).len(), 2);
    }
}
