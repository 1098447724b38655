//! `Ctx`: what a command handler sees — the server state, its client, its arguments and the
//! reply being built — with the lookups and argument parsers every family shares.

use bytes::Bytes;

use super::error::{self, CmdError};
use super::{CommandSpec, Reply};
use crate::client::Client;
use crate::db::{Db, KeyPos, Value};
use crate::server::State;

pub struct Ctx<'a> {
    pub state: &'a mut State,
    pub client: &'a mut Client,
    pub args: &'a [Bytes],
    pub out: &'a mut Reply,
    /// The time the command started, in unix ms (expiry decisions use it throughout).
    pub now_ms: i64,
    pub spec: &'static CommandSpec,
}

impl Ctx<'_> {
    /// The client's selected database.
    #[inline]
    pub fn db(&mut self) -> &mut Db {
        &mut self.state.dbs[self.client.db]
    }

    #[inline]
    pub fn db_ref(&self) -> &Db {
        &self.state.dbs[self.client.db]
    }

    /// Argument `i` as an integer, or Redis's "not an integer" error.
    pub fn arg_i64(&self, i: usize) -> Result<i64, CmdError> {
        crate::util::parse_i64(&self.args[i]).ok_or(error::NOT_INTEGER)
    }

    /// Case-insensitive comparison of argument `i` with an ASCII word.
    #[inline]
    pub fn arg_is(&self, i: usize, word: &str) -> bool {
        self.args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    }

    /// Deletes `key` if its TTL has passed. Returns true when it was removed.
    pub fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        let db = self.client.db;
        match self.state.dbs[db].locate(key) {
            Some(at) => self.expire_at_if_needed(at),
            None => false,
        }
    }

    /// Deletes the key at `at` if its TTL has passed.
    fn expire_at_if_needed(&mut self, at: KeyPos) -> bool {
        let db = self.client.db;
        if !self.state.dbs[db].entry(at).is_expired(self.now_ms) {
            return false;
        }
        self.state.expire_key(db, at);
        true
    }

    /// Finds a live key (one hash lookup), expiring it if due, and refreshes its LRU clock.
    fn lookup(&mut self, key: &[u8]) -> Option<KeyPos> {
        let db = self.client.db;
        let at = self.state.dbs[db].locate(key)?;
        if self.expire_at_if_needed(at) {
            return None;
        }
        if !crate::persist::child_active(self.state) {
            let old = self.state.dbs[db].entry(at).lru;
            let lru = crate::evict::touched_lru(self.state, old);
            self.state.dbs[db].entry_mut(at).lru = lru;
        }
        Some(at)
    }

    /// Finds a live key for reading: expires it if due, counts a keyspace hit or miss and
    /// refreshes its LRU clock.
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<KeyPos> {
        let found = self.lookup(key);
        if found.is_some() {
            self.state.stats.keyspace_hits += 1;
        } else {
            self.state.stats.keyspace_misses += 1;
        }
        found
    }

    /// Finds a live key for writing (no hit/miss accounting).
    pub fn lookup_write(&mut self, key: &[u8]) -> Option<KeyPos> {
        self.lookup(key)
    }

    /// The value of a live key for reading.
    pub fn read_value(&mut self, key: &[u8]) -> Option<&Value> {
        let at = self.lookup_read(key)?;
        Some(&self.db_ref().entry(at).value)
    }

    /// The value of a live key for writing.
    pub fn write_value(&mut self, key: &[u8]) -> Option<&mut Value> {
        let at = self.lookup_write(key)?;
        Some(&mut self.db().entry_mut(at).value)
    }

    /// Stores `value` at `key` (overwriting, clearing the TTL unless `keep_ttl`).
    pub fn set_key(&mut self, key: &[u8], value: Value, keep_ttl: bool) {
        self.expire_if_needed(key);
        let lru = crate::evict::overwrite_lru(self.state, self.client.db, key);
        self.db().set(key, value, keep_ttl, lru);
        self.modified(key);
    }

    /// Inserts a new key known to be absent (after `lookup_write` returned None).
    pub fn add_key(&mut self, key: &[u8], value: Value) -> KeyPos {
        let lru = crate::evict::new_key_lru(self.state);
        self.db().insert_new(key, value, 0, lru)
    }

    /// Deletes a key if present (expired keys count as absent). Returns whether it existed.
    pub fn delete_key(&mut self, key: &[u8]) -> bool {
        if self.expire_if_needed(key) {
            return false;
        }
        if self.db().remove(key).is_some() {
            self.modified(key);
            true
        } else {
            false
        }
    }

    /// Must be called after every change of `key`'s value or TTL: bumps the dirty counter
    /// (save points) and will invalidate WATCH and wake blocked clients.
    pub fn modified(&mut self, key: &[u8]) {
        self.state.dirty += 1;
        self.state.signal_modified(self.client.db, key);
    }

    /// Emits a keyspace notification (`notify-keyspace-events`). `class` is the event class
    /// letter Redis uses (`g` generic, `$` string, `l` list, `s` set, `h` hash, `z` zset, `x`
    /// expired, `e` evicted).
    pub fn notify(&mut self, class: char, event: &str, key: &[u8]) {
        self.state.notify_keyspace_event(class, event, key, self.client.db);
    }

    /// Blocks the client on `keys` for `timeout_ms` (0 = forever); called by a blocking command
    /// that found nothing to serve. Inside MULTI/EXEC or a script a blocking command does not
    /// block: it answers a null at once, as Redis does.
    pub fn block(&mut self, keys: Vec<Bytes>, timeout_ms: i64) {
        if self.client.nested {
            self.out.null_array();
            return;
        }
        self.client.block_request = Some((keys, timeout_ms));
    }

    /// Parses the timeout argument of a blocking command (seconds, decimals allowed) into ms.
    pub fn arg_block_timeout(&self, i: usize) -> Result<i64, CmdError> {
        let secs = crate::util::parse_f64(&self.args[i])
            .filter(|v| v.is_finite())
            .ok_or(CmdError::fixed("ERR timeout is not a float or out of range"))?;
        if secs < 0.0 {
            return Err(CmdError::fixed("ERR timeout is negative"));
        }
        let ms = secs * 1000.0;
        if ms > i64::MAX as f64 / 2.0 {
            return Err(CmdError::fixed("ERR timeout is out of range"));
        }
        Ok(ms as i64)
    }

    /// Deletes `key` when a collection became empty, as Redis does after removing its last
    /// element. Returns true if the key was removed.
    pub fn remove_if_empty(&mut self, key: &[u8], empty: bool) -> bool {
        if empty {
            self.db().remove(key);
            self.notify('g', "del", key);
            true
        } else {
            false
        }
    }
}
