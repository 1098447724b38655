//! Slot migration between codis-servers (the SLOTSMGRT* family), sender side.
//!
//! The commands run under the state lock like every other command, but moving data needs
//! network round trips to the target. So a migration command only checks its arguments and
//! leaves a [`Job`] on its client; the connection task runs the job without the lock, taking
//! the lock again in short slices (a bounded amount of work each) to read values, build
//! messages and finally delete what the target acknowledged. Other clients are served between
//! the slices.
//!
//! While a key is on its way it is listed in [`MigrateState`]: SLOTSMGRT-EXEC-WRAPPER answers
//! "being migrated" for writes to it, and any change made to it by other means marks it dirty,
//! so it is sent again before the source deletes it. A key is deleted on the source only once
//! the target has acknowledged all of it, and a failed or canceled transfer removes the partial
//! copy from the target: every key ends on exactly one side.
//!
//! - [`conn`]: the TCP link to a target, with per-operation timeouts.
//! - [`select`]: which keys a SLOT / TAG command moves.
//! - [`iter`]: one key turned into SLOTSRESTORE-ASYNC messages, a bounded chunk at a time.
//! - [`sync`]: SLOTSMGRTSLOT / ONE / TAGSLOT / TAGONE (one SLOTSRESTORE per call).
//! - [`sender`]: the async family: batches, the per-db cached client, fence, cancel, status.

pub mod conn;
pub mod iter;
pub mod select;
pub mod sender;
pub mod sync;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;

use crate::db::Value;
use crate::server::{Shared, State};

/// Work a migration command leaves for its connection task (run without the state lock).
pub enum Job {
    Sync(sync::SyncJob),
    Async(sender::AsyncJob),
    /// SLOTSMGRT-ASYNC-FENCE: wait until the db's batch is over.
    Fence {
        db: usize,
    },
    /// SLOTSMGRT-ASYNC-CANCEL while a batch runs: stop it and wait for its clean-up.
    Cancel {
        db: usize,
    },
}

/// Runs a job and returns the reply bytes for its client.
pub async fn run_job(shared: &Arc<Shared>, job: Job) -> Vec<u8> {
    match job {
        Job::Sync(j) => sync::run(shared, j).await,
        Job::Async(j) => sender::run(shared, j).await,
        Job::Fence { db } => sender::fence(shared, db).await,
        Job::Cancel { db } => sender::cancel(shared, db).await,
    }
}

/// A key on its way to a target.
struct Moving {
    /// Changed since its transfer started: it must be sent again.
    dirty: bool,
}

/// Migration state kept under the state lock.
#[derive(Default)]
pub struct MigrateState {
    /// Keys in flight, per db.
    moving: HashMap<usize, HashMap<Bytes, Moving>>,
    /// Hash tags of the keys of async batches, per db, with how many keys carry each: a write
    /// to any key of such a tag waits (codis checks the tag too).
    tags: HashMap<usize, HashMap<Bytes, usize>>,
    /// Idle connections of the synchronous commands, by target address.
    pub sync_conns: HashMap<(String, u16), conn::TargetConn>,
    /// The async migration client of each db (codis keeps one per db).
    pub async_clients: HashMap<usize, sender::AsyncClient>,
    /// Keys by hash tag for the slots being migrated, per (db, slot): built on the first TAG
    /// command for the slot and kept up to date by [`touch`](Self::touch) (a key written
    /// since is added; removed keys are filtered out on use). Codis keeps such an index for
    /// every tagged key; here only migrating slots pay for it.
    tag_index: HashMap<(usize, usize), HashMap<Bytes, HashSet<Bytes>>>,
}

impl MigrateState {
    /// Called for every change of a key: a key in flight becomes dirty.
    #[inline]
    pub fn touch(&mut self, db: usize, key: &[u8]) {
        if !self.tag_index.is_empty() {
            self.index_key(db, key);
        }
        if self.moving.is_empty() {
            return;
        }
        if let Some(m) = self.moving.get_mut(&db).and_then(|keys| keys.get_mut(key)) {
            m.dirty = true;
        }
    }

    /// The whole db changed (FLUSHDB, SWAPDB): every key of it in flight is dirty.
    pub fn touch_db(&mut self, db: usize) {
        if let Some(keys) = self.moving.get_mut(&db) {
            keys.values_mut().for_each(|m| m.dirty = true);
        }
    }

    /// Whether a write to `key` must wait: the key, or (for async batches) its hash tag, is
    /// being moved.
    pub fn is_moving(&self, db: usize, key: &[u8]) -> bool {
        if self.moving.get(&db).is_some_and(|keys| keys.contains_key(key)) {
            return true;
        }
        let Some(tag) = select::tag_of(key) else { return false };
        self.tags.get(&db).is_some_and(|t| t.contains_key(tag))
    }

    /// Starts (or restarts) the transfer of `key`: listed, clean.
    pub fn start(&mut self, db: usize, key: &Bytes) {
        self.moving.entry(db).or_default().insert(key.clone(), Moving { dirty: false });
    }

    /// Whether `key` changed since [`start`](Self::start).
    pub fn is_dirty(&self, db: usize, key: &[u8]) -> bool {
        self.moving.get(&db).and_then(|m| m.get(key)).is_some_and(|m| m.dirty)
    }

    /// Forgets `key` (its transfer ended, whatever the outcome).
    pub fn finish(&mut self, db: usize, key: &[u8]) {
        if let Some(m) = self.moving.get_mut(&db) {
            m.remove(key);
            if m.is_empty() {
                self.moving.remove(&db);
            }
        }
    }

    fn index_key(&mut self, db: usize, key: &[u8]) {
        let Some(tag) = select::tag_of(key) else { return };
        let slot = compat::slot::slot_of(key);
        if let Some(ix) = self.tag_index.get_mut(&(db, slot)) {
            if let Some(keys) = ix.get_mut(tag) {
                if !keys.contains(key) {
                    keys.insert(Bytes::copy_from_slice(key));
                }
            } else {
                ix.insert(Bytes::copy_from_slice(tag), HashSet::from([Bytes::copy_from_slice(key)]));
            }
        }
    }

    /// The keys of db `dbi` sharing `key`'s hash tag, in bytewise order; just `key` (if
    /// present) when it has no tag. `build` creates the slot's index when missing (commands
    /// that walk a whole slot); otherwise a missing index means one walk over the slot.
    pub fn tag_group(&mut self, db: &crate::db::Db, dbi: usize, key: &[u8], build: bool) -> Vec<Bytes> {
        let Some(tag) = select::tag_of(key) else {
            return db.get(key).map(|_| vec![Bytes::copy_from_slice(key)]).unwrap_or_default();
        };
        let slot = compat::slot::slot_of(key);
        if !build && !self.tag_index.contains_key(&(dbi, slot)) {
            // One walk over the slot, no index kept (a single tag is wanted).
            let mut keys: Vec<Bytes> = db
                .slot(slot)
                .entries()
                .iter()
                .filter(|e| select::tag_of(&e.key) == Some(tag))
                .map(|e| Bytes::copy_from_slice(&e.key))
                .collect();
            keys.sort();
            return keys;
        }
        let ix = self.tag_index.entry((dbi, slot)).or_insert_with(|| select::build_tag_index(db, slot));
        let mut keys: Vec<Bytes> = match ix.get_mut(tag) {
            Some(set) => {
                set.retain(|k| db.get(k).is_some());
                set.iter().cloned().collect()
            }
            None => Vec::new(),
        };
        keys.sort();
        if db.slot(slot).is_empty() {
            self.tag_index.remove(&(dbi, slot));
        }
        keys
    }

    fn add_tags(&mut self, db: usize, keys: &[Bytes]) {
        for k in keys {
            if let Some(tag) = select::tag_of(k) {
                *self.tags.entry(db).or_default().entry(Bytes::copy_from_slice(tag)).or_default() += 1;
            }
        }
    }

    fn remove_tags(&mut self, db: usize, keys: &[Bytes]) {
        let Some(t) = self.tags.get_mut(&db) else { return };
        for k in keys {
            if let Some(tag) = select::tag_of(k) {
                if let Some(n) = t.get_mut(tag) {
                    *n -= 1;
                    if *n == 0 {
                        t.remove(tag);
                    }
                }
            }
        }
        if t.is_empty() {
            self.tags.remove(&db);
        }
    }
}

/// Deletes a key the target now holds, with the side effects of a DEL (replicas and the AOF
/// get `DEL key`). Returns whether it existed. Big values are freed on a helper thread so the
/// lock is not held while millions of elements are released.
pub fn delete_moved(st: &mut State, db: usize, key: &[u8]) -> bool {
    st.migrate.finish(db, key);
    let Some(entry) = st.dbs[db].remove(key) else { return false };
    st.dirty += 1;
    crate::persist::aof::propagate_expired(st, db, key);
    st.signal_modified(db, key);
    st.notify_keyspace_event('g', "del", key, db);
    free_value(entry.value);
    true
}

/// Drops a value, off-thread when it is big.
pub fn free_value(v: Value) {
    let big = match &v {
        Value::List(l) => l.len() > 1024,
        Value::Hash(h) => h.len() > 1024,
        Value::Set(s) => s.len() > 1024,
        Value::ZSet(z) => z.len() > 1024,
        _ => false,
    };
    if big {
        let spawned = std::thread::Builder::new().name("mgrt-free".into()).spawn(move || drop(v));
        if let Err(e) = spawned {
            tracing::warn!("slotsmgrt: cannot start a thread to free a moved value: {e}");
        }
    }
}

/// Codis's object type numbers (SLOTSMGRT-ASYNC-STATUS, SLOTSRESTORE-ASYNC errors).
pub fn legacy_type(v: &Value) -> i64 {
    match v {
        Value::Int(_) | Value::Str(_) | Value::Raw(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
    }
}

/// Codis's encoding numbers for the same (raw 0, int 1, hashtable 2, ziplist 5, intset 6,
/// skiplist 7, embstr 8, quicklist 9).
pub fn legacy_encoding(v: &Value) -> i64 {
    match v.encoding() {
        "raw" => 0,
        "int" => 1,
        "hashtable" => 2,
        "intset" => 6,
        "skiplist" => 7,
        "embstr" => 8,
        "quicklist" => 9,
        _ => 5,
    }
}
