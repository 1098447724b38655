//! SLOTSMGRTSLOT / SLOTSMGRTONE / SLOTSMGRTTAGSLOT / SLOTSMGRTTAGONE.
//!
//! As codis-server does: one cached connection per target (30 s), on which the source
//! pipelines `AUTH <its own requirepass>` (new connections only), `SELECT db` (when the db
//! changes) and one `SLOTSRESTORE key ttl payload ...` with every key (v7 DUMP payloads, which
//! legacy nodes and ours accept), then reads one reply per command. Differences, because the
//! lock is not held during the round trip: keys in flight are marked (EXEC-WRAPPER writes wait),
//! a key changed meanwhile is sent again before the source deletes it, and a transfer that
//! fails half-way removes what the target may have stored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use compat::rdb::{self, RdbVersion};
use compat::resp::Frame;

use super::conn::{LinkError, TargetConn};
use super::{delete_moved, select};
use crate::scripting::lock_state;
use crate::server::{Shared, State};

/// Idle sync connections are dropped after this long.
const IDLE_MS: i64 = 30_000;
/// Rounds of re-sending keys that keep changing before they are left on the source.
const MAX_ROUNDS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    Slot,
    One,
    TagSlot,
    TagOne,
}

pub enum Target {
    Slot(usize),
    Key(Bytes),
}

pub struct SyncJob {
    pub kind: SyncKind,
    pub db: usize,
    pub host: String,
    pub port: u16,
    pub timeout_ms: i64,
    pub target: Target,
}

pub fn reply_int(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

pub fn reply_pair(a: i64, b: i64) -> Vec<u8> {
    format!("*2\r\n:{a}\r\n:{b}\r\n").into_bytes()
}

pub fn reply_err(msg: &str) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    compat::resp::write::error(&mut out, msg.as_bytes());
    out.to_vec()
}

/// The keys the command moves, chosen under the lock.
fn choose(st: &mut State, job: &SyncJob) -> Vec<Bytes> {
    let db = &st.dbs[job.db];
    let migrate = &mut st.migrate;
    let first = match &job.target {
        Target::Slot(slot) => select::one_of_slot(db, *slot),
        Target::Key(k) => Some(k.clone()),
    };
    let Some(first) = first else { return Vec::new() };
    match job.kind {
        SyncKind::One | SyncKind::Slot => db.get(&first).map(|_| vec![first]).unwrap_or_default(),
        SyncKind::TagOne | SyncKind::TagSlot => migrate.tag_group(db, job.db, &first, job.kind == SyncKind::TagSlot),
    }
}

fn slot_size(st: &State, job: &SyncJob) -> i64 {
    match &job.target {
        Target::Slot(s) => st.dbs[job.db].slot(*s).len() as i64,
        Target::Key(_) => 0,
    }
}

fn done_reply(job: &SyncJob, moved: i64, remaining: i64) -> Vec<u8> {
    match job.kind {
        SyncKind::One | SyncKind::TagOne => reply_int(moved),
        SyncKind::Slot | SyncKind::TagSlot => reply_pair(moved, remaining),
    }
}

/// A key's remaining TTL and DUMP payload, or None when it is gone (expired keys are removed).
fn payload_of(st: &mut State, db: usize, key: &[u8]) -> Option<(i64, Vec<u8>)> {
    let now = crate::util::now_ms();
    let at = st.dbs[db].locate(key)?;
    if st.dbs[db].entry(at).is_expired(now) {
        st.expire_key(db, at);
        return None;
    }
    let e = st.dbs[db].entry(at);
    let ttl = if e.expire_ms != 0 { (e.expire_ms - now).max(1) } else { 0 };
    let opts = crate::cmd::dump::encode_options(&st.config, RdbVersion::V7);
    Some((ttl, rdb::dump_payload_with(&crate::cmd::dump::to_rdb(&e.value), &opts)))
}

/// What each pipelined command was, to word a failure.
#[derive(Clone, Copy)]
enum Sent {
    Auth,
    Select,
    Restore,
    Del,
}

pub async fn run(shared: &Arc<Shared>, job: SyncJob) -> Vec<u8> {
    let timeout = Duration::from_millis(job.timeout_ms.max(1) as u64);
    let started = Instant::now();
    // Keys another migration is moving are waited for (an async batch ends by deleting them
    // here, so this usually finds nothing left to move); codis would have finished it first.
    let (keys, mut conn, password) = loop {
        let picked = {
            let mut st = lock_state(shared).await;
            let keys = choose(&mut st, &job);
            if keys.is_empty() {
                return done_reply(&job, 0, slot_size(&st, &job));
            }
            if keys.iter().any(|k| st.migrate.is_moving(job.db, k)) {
                None
            } else {
                for k in &keys {
                    st.migrate.start(job.db, k);
                }
                let now = crate::util::now_ms();
                let cached = st.migrate.sync_conns.remove(&(job.host.clone(), job.port));
                let conn = cached.filter(|c| c.is_reusable(now, IDLE_MS));
                Some((keys, conn, st.config.requirepass.clone()))
            }
        };
        match picked {
            Some(p) => break p,
            None if started.elapsed() > timeout => {
                return reply_err("ERR the specified key is being migrated");
            }
            None => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    };
    let mut pending = keys.clone();
    let mut round = 0;
    loop {
        round += 1;
        let (items, gone) = {
            let mut st = lock_state(shared).await;
            let mut items = Vec::new();
            let mut gone = Vec::new();
            for k in &pending {
                st.migrate.start(job.db, k);
                match payload_of(&mut st, job.db, k) {
                    Some((ttl, p)) => items.push((k.clone(), ttl, p)),
                    None => gone.push(k.clone()),
                }
            }
            (items, gone)
        };
        // Keys gone from the source since an earlier round are removed from the target too.
        let gone = if round == 1 { Vec::new() } else { gone };
        if let Err(msg) = exchange(&job, &mut conn, password.as_deref(), &items, &gone, timeout).await {
            drop(conn.take());
            cleanup_target(&job.host, job.port, job.db, password.as_deref(), &keys, timeout).await;
            let mut st = lock_state(shared).await;
            for k in &keys {
                st.migrate.finish(job.db, k);
            }
            return reply_err(&msg);
        }
        let dirty: Vec<Bytes> = {
            let st = lock_state(shared).await;
            keys.iter().filter(|k| st.migrate.is_dirty(job.db, k)).cloned().collect()
        };
        if !dirty.is_empty() && round < MAX_ROUNDS {
            pending = dirty;
            continue;
        }
        if !dirty.is_empty() {
            // Still changing: they stay on the source only.
            tracing::warn!("slotsmgrt: {} keys kept changing during migration, left on the source", dirty.len());
            cleanup_target(&job.host, job.port, job.db, password.as_deref(), &dirty, timeout).await;
        }
        let mut st = lock_state(shared).await;
        let mut moved = 0;
        for k in &keys {
            if dirty.contains(k) {
                st.migrate.finish(job.db, k);
            } else if delete_moved(&mut st, job.db, k) {
                moved += 1;
            }
        }
        if let Some(mut c) = conn.take() {
            c.last_use_ms = crate::util::now_ms();
            st.migrate.sync_conns.insert((job.host.clone(), job.port), c);
        }
        return done_reply(&job, moved, slot_size(&st, &job));
    }
}

/// Sends one pipeline (AUTH, SELECT, SLOTSRESTORE, DELs) and checks every reply. The error is
/// the reply for the caller.
async fn exchange(
    job: &SyncJob,
    conn: &mut Option<TargetConn>,
    password: Option<&[u8]>,
    items: &[(Bytes, i64, Vec<u8>)],
    gone: &[Bytes],
    timeout: Duration,
) -> Result<(), String> {
    let io_err = |e: LinkError| {
        tracing::warn!("slotsmgrt: {e}");
        match e {
            LinkError::Read { .. } | LinkError::Closed { .. } | LinkError::Protocol { .. } => {
                "IOERR error or timeout reading from target".to_string()
            }
            _ => "IOERR error or timeout writing to target".to_string(),
        }
    };
    if conn.is_none() {
        *conn = Some(TargetConn::connect(&job.host, job.port, timeout).await.map_err(io_err)?);
    }
    let Some(c) = conn.as_mut() else { return Err("IOERR error or timeout writing to target".into()) };
    let mut buf = Vec::new();
    let mut sent = Vec::new();
    if c.db.is_none() {
        if let Some(pw) = password {
            compat::resp::write::command(&mut buf, &[b"AUTH" as &[u8], pw]);
            sent.push(Sent::Auth);
        }
    }
    if c.db != Some(job.db) {
        compat::resp::write::command(&mut buf, &[b"SELECT" as &[u8], itoa::Buffer::new().format(job.db).as_bytes()]);
        sent.push(Sent::Select);
    }
    if !items.is_empty() {
        compat::slotsmgrt::slotsrestore(&mut buf, items);
        sent.push(Sent::Restore);
    }
    for k in gone {
        compat::resp::write::command(&mut buf, &[b"DEL" as &[u8], k]);
        sent.push(Sent::Del);
    }
    c.send(&buf, timeout).await.map_err(io_err)?;
    let mut failed = None;
    for what in sent {
        let reply = c.read_frame(timeout).await.map_err(io_err)?;
        if let (None, Frame::Error(e)) = (failed, &reply) {
            tracing::warn!("slotsmgrt: target {} refused: {}", c.addr, String::from_utf8_lossy(e));
            failed = Some(what);
        }
    }
    match failed {
        None => {
            c.db = Some(job.db);
            Ok(())
        }
        Some(Sent::Auth) => Err("ERR error on slotsrestore, auth failed".into()),
        Some(Sent::Select) => Err("ERR error on slotsrestore, select failed".into()),
        Some(Sent::Restore | Sent::Del) => Err("ERR error on slotsrestore, migration failed".into()),
    }
}

/// Best effort after a failed transfer: removes `keys` from the target over a fresh connection
/// (the source keeps them), so no key is left on both sides.
pub async fn cleanup_target(host: &str, port: u16, db: usize, password: Option<&[u8]>, keys: &[Bytes], t: Duration) {
    if keys.is_empty() {
        return;
    }
    let attempt = async {
        let mut c = TargetConn::connect(host, port, t).await?;
        let mut buf = Vec::new();
        let mut n = 0;
        if let Some(pw) = password {
            compat::resp::write::command(&mut buf, &[b"AUTH" as &[u8], pw]);
            n += 1;
        }
        compat::resp::write::command(&mut buf, &[b"SELECT" as &[u8], itoa::Buffer::new().format(db).as_bytes()]);
        let mut del: Vec<&[u8]> = vec![b"DEL"];
        del.extend(keys.iter().map(|k| &k[..]));
        compat::resp::write::command(&mut buf, &del);
        n += 2;
        c.send(&buf, t).await?;
        let mut last = Frame::NullBulk;
        for _ in 0..n {
            last = c.read_frame(t).await?;
        }
        Ok::<Frame, LinkError>(last)
    };
    match attempt.await {
        Ok(Frame::Integer(_)) => {}
        Ok(other) => tracing::warn!("slotsmgrt: clean-up of {} keys on {host}:{port} answered {other:?}", keys.len()),
        Err(e) => tracing::warn!("slotsmgrt: clean-up of {} keys on {host}:{port} failed: {e}", keys.len()),
    }
}
