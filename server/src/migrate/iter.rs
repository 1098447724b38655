//! One key as a sequence of SLOTSRESTORE-ASYNC messages, produced a message at a time so the
//! sender can stop after any of them and release the lock.
//!
//! `delete`, then `string` (any string) or `object` (a DUMP v7 payload) when the value fits in
//! one message, else chunks of at most `maxbulks` elements (and about `maxbytes` bytes) with a
//! temporary TTL of 3 x timeout, then `expire` with the real TTL. A collection counts as
//! `maxbulks` elements when codis would chunk it: a list by length, a hashtable set by size,
//! a hashtable hash or skiplist zset by twice its size; compact encodings always go whole.

use compat::rdb::{self, RdbVersion};
use compat::slotsmgrt::{msg, ChunkKind, ChunkWriter};

use crate::db::Value;
use crate::server::State;

/// The bounds of one batch (SLOTSMGRT*-ASYNC arguments).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout_ms: i64,
    pub maxbulks: usize,
    pub maxbytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Prepare = 0,
    Payload = 1,
    Chunked = 2,
    FillTtl = 3,
    Done = 4,
}

/// Elements that count against `maxbulks` (0 for values codis always sends whole).
fn numbulks(v: &Value) -> usize {
    match v {
        Value::List(l) => l.len(),
        Value::Hash(h) if h.encoding() == "hashtable" => h.len() * 2,
        Value::Set(s) if s.encoding() == "hashtable" => s.len(),
        Value::ZSet(z) if z.is_big() => z.len() * 2,
        _ => 0,
    }
}

/// How many messages besides `delete` a value needs (1 = one `string`/`object`).
pub fn estimate_msgs(v: &Value, maxbulks: usize) -> usize {
    let n = numbulks(v);
    if n <= maxbulks {
        1
    } else {
        n.div_ceil(maxbulks.max(1))
    }
}

pub struct KeyIter {
    pub key: bytes::Bytes,
    pub stage: Stage,
    /// Absolute expiry (unix ms) read when the key was prepared, -1 for none.
    pub expire: i64,
    /// Hash/set position cursor (0 = start and end, as a dict scan).
    pub cursor: u64,
    /// Elements of a list / members of a zset sent so far.
    pub lindex: usize,
    pub zindex: usize,
    pub chunked_msgs: usize,
    /// Codis type number of the value, -1 before it was read or when the key is absent.
    pub val_type: i64,
    /// Lists the key as in flight when it starts (not for the -DUMP commands).
    track: bool,
}

impl KeyIter {
    pub fn new(key: bytes::Bytes) -> KeyIter {
        KeyIter {
            key,
            stage: Stage::Prepare,
            expire: -1,
            cursor: 0,
            lindex: 0,
            zindex: 0,
            chunked_msgs: 0,
            val_type: -1,
            track: true,
        }
    }

    /// An iterator that only renders the messages (SLOTSMGRT*-ASYNC-DUMP).
    pub fn preview(key: bytes::Bytes) -> KeyIter {
        KeyIter { track: false, ..KeyIter::new(key) }
    }

    /// The key existed when it was prepared (so it is moved).
    pub fn had_value(&self) -> bool {
        self.val_type >= 0
    }

    /// Appends the next message for this key to `out`; returns how many were added (0 once the
    /// key is done or absent). `db` is the source db.
    pub fn next(&mut self, st: &mut State, db: usize, lim: &Limits, out: &mut Vec<u8>) -> usize {
        let now = crate::util::now_ms();
        if self.stage == Stage::Prepare {
            let Some(at) = st.dbs[db].locate(&self.key) else {
                self.stage = Stage::Done;
                return 0;
            };
            if st.dbs[db].entry(at).is_expired(now) {
                st.expire_key(db, at);
                self.stage = Stage::Done;
                return 0;
            }
            let e = st.dbs[db].entry(at);
            self.expire = if e.expire_ms != 0 { e.expire_ms } else { -1 };
            self.val_type = super::legacy_type(&e.value);
            let n = estimate_msgs(&e.value, lim.maxbulks);
            (self.stage, self.chunked_msgs) = if n >= 2 { (Stage::Chunked, n) } else { (Stage::Payload, 0) };
            // From here on a change to the key means it must be sent again.
            if self.track {
                st.migrate.start(db, &self.key);
            }
            msg::delete(out, &self.key);
            return 1;
        }
        if self.stage == Stage::Done {
            return 0;
        }
        let ttl = match self.stage {
            Stage::Chunked => lim.timeout_ms * 3,
            _ if self.expire != -1 => (self.expire - now).max(1),
            _ => 0,
        };
        if self.stage == Stage::FillTtl {
            msg::expire(out, &self.key, ttl);
            self.stage = Stage::Done;
            return 1;
        }
        // The value may have been changed or removed since: the key is then dirty and will be
        // sent again, so stop here.
        let Some(e) = st.dbs[db].get(&self.key) else {
            self.stage = Stage::Done;
            return 0;
        };
        if super::legacy_type(&e.value) != self.val_type {
            self.stage = Stage::Done;
            return 0;
        }
        if self.stage == Stage::Payload {
            let mut scratch = itoa::Buffer::new();
            match e.value.str_bytes(&mut scratch) {
                Some(s) => msg::string(out, &self.key, ttl, s),
                None => {
                    let opts = crate::cmd::dump::encode_options(&st.config, RdbVersion::V7);
                    let payload = rdb::dump_payload_with(&crate::cmd::dump::to_rdb(&e.value), &opts);
                    msg::object(out, &self.key, ttl, &payload);
                }
            }
            self.stage = Stage::Done;
            return 1;
        }
        let more = self.chunk(&e.value, lim, ttl, out);
        if !more {
            self.stage = Stage::FillTtl;
        }
        1
    }

    /// Appends one chunk; returns false when the value has no more elements.
    fn chunk(&mut self, v: &Value, lim: &Limits, ttl: i64, out: &mut Vec<u8>) -> bool {
        let full = |w: &ChunkWriter| w.bulks() >= lim.maxbulks || w.bytes() >= lim.maxbytes;
        let mut more = true;
        let (w, hint) = match v {
            Value::List(l) => {
                let mut w = ChunkWriter::new(ChunkKind::List);
                loop {
                    match l.get(self.lindex) {
                        Some(item) => {
                            w.push(item);
                            self.lindex += 1;
                        }
                        None => more = false,
                    }
                    if !more || full(&w) {
                        break;
                    }
                }
                (w, l.len())
            }
            Value::Hash(h) => {
                let mut w = ChunkWriter::new(ChunkKind::Hash);
                let mut budget = (lim.maxbulks * 10).max(100);
                loop {
                    self.cursor = h.scan(self.cursor, 1, |f, v| {
                        w.push(f);
                        w.push(v);
                    });
                    if self.cursor == 0 {
                        more = false;
                    }
                    budget -= 1;
                    if !more || full(&w) || budget == 0 {
                        break;
                    }
                }
                (w, h.len())
            }
            Value::Set(s) => {
                let mut w = ChunkWriter::new(ChunkKind::Dict);
                let mut budget = (lim.maxbulks * 10).max(100);
                let mut buf = itoa::Buffer::new();
                loop {
                    self.cursor = s.scan(self.cursor, 1, |m| w.push(m.bytes(&mut buf)));
                    if self.cursor == 0 {
                        more = false;
                    }
                    budget -= 1;
                    if !more || full(&w) || budget == 0 {
                        break;
                    }
                }
                (w, s.len())
            }
            Value::ZSet(z) => {
                let mut w = ChunkWriter::new(ChunkKind::ZSet);
                // From the highest score down: rank len-1-zindex, walking backwards.
                let len = z.len();
                let mut it = (self.zindex < len).then(|| z.iter_at(len - 1 - self.zindex, true));
                loop {
                    match it.as_mut().and_then(|i| i.next()) {
                        Some((m, score)) => {
                            w.push(m);
                            w.push_score(score);
                            self.zindex += 1;
                        }
                        None => more = false,
                    }
                    if !more || full(&w) {
                        break;
                    }
                }
                (w, len)
            }
            _ => return false,
        };
        w.finish(out, &self.key, ttl, hint as i64);
        more
    }
}
