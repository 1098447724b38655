//! Clients blocked on keys (BLPOP and friends).
//!
//! A blocking command that finds nothing registers its client on each key, in arrival order.
//! A write to such a key marks it ready; after the writing command (or the whole EXEC) is done,
//! the dispatcher re-runs each waiting client's command in FIFO order on its behalf and puts
//! the reply in that client's outbox. A client whose command would still block stays queued.

use std::collections::{HashMap, HashSet, VecDeque};

use bytes::{Bytes, BytesMut};

/// What a blocked client is waiting for.
pub struct BlockedClient {
    pub db: usize,
    pub resp3: bool,
    pub keys: Vec<Bytes>,
    /// The command to re-run when a key becomes ready.
    pub args: Vec<Bytes>,
    /// Unix ms after which it times out (0 = never).
    pub deadline_ms: i64,
}

#[derive(Default)]
pub struct Blocking {
    /// (db, key) → waiting clients, first blocked first served.
    waiting: HashMap<(usize, Bytes), VecDeque<u64>>,
    clients: HashMap<u64, BlockedClient>,
    ready: Vec<(usize, Bytes)>,
    ready_set: HashSet<(usize, Bytes)>,
}

/// How a blocked client's wait ended (the connection task reads it).
pub enum Unblocked {
    /// Its command ran: the reply is in its outbox.
    Served,
    /// Timed out or CLIENT UNBLOCK ... TIMEOUT: reply with a null.
    TimedOut,
    /// CLIENT UNBLOCK ... ERROR.
    Error(&'static str),
}

impl Blocking {
    pub fn block(&mut self, id: u64, b: BlockedClient) {
        for k in &b.keys {
            let q = self.waiting.entry((b.db, k.clone())).or_default();
            if !q.contains(&id) {
                q.push_back(id);
            }
        }
        self.clients.insert(id, b);
    }

    /// Removes a client from every queue; returns what it was waiting for.
    pub fn unblock(&mut self, id: u64) -> Option<BlockedClient> {
        let b = self.clients.remove(&id)?;
        for k in &b.keys {
            let key = (b.db, k.clone());
            if let Some(q) = self.waiting.get_mut(&key) {
                q.retain(|&c| c != id);
                if q.is_empty() {
                    self.waiting.remove(&key);
                }
            }
        }
        Some(b)
    }

    pub fn is_blocked(&self, id: u64) -> bool {
        self.clients.contains_key(&id)
    }

    pub fn count(&self) -> usize {
        self.clients.len()
    }

    /// A key was written: if someone waits on it, it becomes ready.
    #[inline]
    pub fn signal(&mut self, db: usize, key: &[u8]) {
        if self.waiting.is_empty() {
            return;
        }
        let k = (db, Bytes::copy_from_slice(key));
        if self.waiting.contains_key(&k) && self.ready_set.insert(k.clone()) {
            self.ready.push(k);
        }
    }

    /// Every key of `db` someone waits on (FLUSHDB/SWAPDB make them all worth a look).
    pub fn signal_db(&mut self, db: usize) {
        let keys: Vec<Bytes> = self.waiting.keys().filter(|(d, _)| *d == db).map(|(_, k)| k.clone()).collect();
        for k in keys {
            self.signal(db, &k);
        }
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    pub fn take_ready(&mut self) -> Vec<(usize, Bytes)> {
        self.ready_set.clear();
        std::mem::take(&mut self.ready)
    }

    /// The clients waiting on a key, in order.
    pub fn waiters(&self, db: usize, key: &Bytes) -> Vec<u64> {
        self.waiting.get(&(db, key.clone())).map(|q| q.iter().copied().collect()).unwrap_or_default()
    }

    pub fn get(&self, id: u64) -> Option<&BlockedClient> {
        self.clients.get(&id)
    }

    /// Blocked clients whose deadline has passed.
    pub fn expired(&self, now_ms: i64) -> Vec<u64> {
        self.clients.iter().filter(|(_, b)| b.deadline_ms != 0 && b.deadline_ms <= now_ms).map(|(&id, _)| id).collect()
    }
}

/// Encodes the timeout reply of a blocking command (a null array, `_` in RESP3).
pub fn timeout_reply(resp3: bool) -> BytesMut {
    BytesMut::from(if resp3 { &b"_\r\n"[..] } else { &b"*-1\r\n"[..] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bc(keys: &[&str]) -> BlockedClient {
        BlockedClient {
            db: 0,
            resp3: false,
            keys: keys.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())).collect(),
            args: vec![],
            deadline_ms: 0,
        }
    }

    #[test]
    fn fifo_and_ready_keys() {
        let mut b = Blocking::default();
        b.block(1, bc(&["a", "b"]));
        b.block(2, bc(&["a"]));
        b.signal(0, b"a");
        b.signal(0, b"a");
        b.signal(0, b"zzz");
        let ready = b.take_ready();
        assert_eq!(ready.len(), 1);
        assert_eq!(b.waiters(0, &ready[0].1), vec![1, 2]);
        b.unblock(1);
        assert_eq!(b.waiters(0, &Bytes::from_static(b"a")), vec![2]);
        assert!(b.waiters(0, &Bytes::from_static(b"b")).is_empty());
        assert_eq!(b.count(), 1);
    }
}
