//! The async family: SLOTSMGRT{ONE,TAGONE,SLOT,TAGSLOT}-ASYNC, FENCE, CANCEL and STATUS.
//!
//! Each db has one cached client to one target (codis's `slotsmgrt_cached_clients`). A batch
//! of keys runs as its own task: in each lock slice it produces up to [`WINDOW_BYTES`] /
//! [`WINDOW_MSGS`] of messages (and stops after [`SLICE`]), writes them, and reads one ACK per
//! message. When every key has been acknowledged, keys changed meanwhile are sent again; the
//! others are deleted from the source in one slice and the callers get `[moved, remaining]`
//! (the slot's size before that deletion, as codis reports) or `moved`.
//!
//! Cancel, errors and timeouts leave every key on the source and remove from the target what
//! was sent of the batch.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use compat::slotsmgrt::{msg, parse_ack, AckError};
use tokio::sync::Notify;

use super::conn::{LinkError, TargetConn};
use super::delete_moved;
use super::iter::{KeyIter, Limits, Stage};
use super::sync::{reply_err, reply_int, reply_pair};
use crate::scripting::lock_state;
use crate::server::{Shared, State};

/// Bytes of messages in flight per round trip: bounds what the target runs under one lock.
pub const WINDOW_BYTES: usize = 512 * 1024;
pub const WINDOW_MSGS: usize = 1024;
/// The longest the sender holds the state lock at a time (plus one message).
pub const SLICE: Duration = Duration::from_millis(1);
/// Idle async clients are dropped after a minute, as in codis.
const IDLE_MS: i64 = 60_000;
/// Rounds of re-sending keys that keep changing before they are left on the source.
const MAX_ROUNDS: usize = 8;

/// What SLOTSMGRT-ASYNC-STATUS shows of a running batch.
#[derive(Default, Clone)]
pub struct BatchStatus {
    pub keys: Vec<Bytes>,
    pub timeout_ms: i64,
    pub maxbulks: usize,
    pub maxbytes: usize,
    pub estimate_msgs: usize,
    pub removed_keys: usize,
    pub chunked_vals: usize,
    pub iterators: usize,
    /// The current key: key, type, stage, expire, cursor, lindex, zindex, chunked_msgs.
    pub current: Option<(Bytes, [i64; 7])>,
}

/// The cached async client of one db.
pub struct AsyncClient {
    pub host: String,
    pub port: u16,
    pub timeout_ms: i64,
    pub lastuse_ms: i64,
    /// AUTH and SELECT were sent on the connection.
    pub used: bool,
    /// The idle connection (taken by a running batch).
    pub conn: Option<TargetConn>,
    pub batch: Option<BatchStatus>,
    pub sending_msgs: usize,
    pub blocked_clients: usize,
    pub cancel: Arc<AtomicBool>,
    /// Notified when a batch ends (fence and cancel wait on it).
    pub ended: Arc<Notify>,
}

pub struct AsyncJob {
    pub db: usize,
    pub host: String,
    pub port: u16,
    pub lim: Limits,
    pub keys: Vec<Bytes>,
    /// `Some(slot)` for the SLOT variants (the reply is `[moved, remaining]`).
    pub slot: Option<usize>,
    /// [`begin`] ran for it; when false the job first waits for the synchronous transfers of
    /// its keys to end (see [`any_moving`]).
    pub registered: bool,
}

/// The immediate reply of a batch none of whose keys exists, or None.
pub fn nothing_to_send(st: &State, job: &AsyncJob) -> Option<Vec<u8>> {
    if job.keys.iter().any(|k| st.dbs[job.db].get(k).is_some()) {
        return None;
    }
    Some(match job.slot {
        Some(s) => reply_pair(0, st.dbs[job.db].slot(s).len() as i64),
        None => reply_int(0),
    })
}

/// Whether a key of the batch is in flight already. With no batch running on the db, only a
/// synchronous command can be moving it: streaming it too would let that command's deletion of
/// the key interleave with the batch's messages (a half-sent copy left on the target).
pub fn any_moving(st: &State, job: &AsyncJob) -> bool {
    job.keys.iter().any(|k| st.migrate.is_moving(job.db, k))
}

/// Waits until no synchronous transfer holds a key of `job`, then registers it ([`begin`]).
/// `Err` carries the reply when the batch does not run (nothing left to send, another batch
/// started meanwhile, or the keys stayed busy for the whole timeout).
async fn register_when_free(shared: &Arc<Shared>, job: &AsyncJob) -> Result<(), Vec<u8>> {
    let deadline = Instant::now() + Duration::from_millis(job.lim.timeout_ms.max(1) as u64);
    loop {
        {
            let mut st = lock_state(shared).await;
            if let Some(reply) = nothing_to_send(&st, job) {
                return Err(reply);
            }
            if !any_moving(&st, job) {
                return begin(&mut st, job).map_err(reply_err);
            }
        }
        if Instant::now() >= deadline {
            return Err(reply_err("ERR the specified key is being migrated"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Registers a batch on the db's client (creating or re-targeting it) and marks its keys.
/// Fails when the db already runs one.
pub fn begin(st: &mut State, job: &AsyncJob) -> Result<(), &'static str> {
    if st.migrate.async_clients.get(&job.db).is_some_and(|c| c.batch.is_some()) {
        return Err("ERR the specified DB is being migrated");
    }
    let now = crate::util::now_ms();
    let fresh = || AsyncClient {
        host: job.host.clone(),
        port: job.port,
        timeout_ms: job.lim.timeout_ms,
        lastuse_ms: now,
        used: false,
        conn: None,
        batch: None,
        sending_msgs: 0,
        blocked_clients: 0,
        cancel: Arc::new(AtomicBool::new(false)),
        ended: Arc::new(Notify::new()),
    };
    let client = st.migrate.async_clients.entry(job.db).or_insert_with(fresh);
    if client.host != job.host || client.port != job.port || now - client.lastuse_ms > IDLE_MS {
        *client = fresh();
    }
    client.timeout_ms = job.lim.timeout_ms;
    client.lastuse_ms = now;
    client.blocked_clients = 1;
    client.cancel.store(false, Ordering::Release);
    client.batch = Some(BatchStatus {
        keys: job.keys.clone(),
        timeout_ms: job.lim.timeout_ms,
        maxbulks: job.lim.maxbulks,
        maxbytes: job.lim.maxbytes,
        iterators: job.keys.len(),
        ..Default::default()
    });
    let estimate: usize = job
        .keys
        .iter()
        .filter_map(|k| st.dbs[job.db].get(k).map(|e| super::iter::estimate_msgs(&e.value, job.lim.maxbulks)))
        .sum();
    if let Some(b) = st.migrate.async_clients.get_mut(&job.db).and_then(|c| c.batch.as_mut()) {
        b.estimate_msgs = estimate;
    }
    for k in &job.keys {
        st.migrate.start(job.db, k);
    }
    st.migrate.add_tags(job.db, &job.keys);
    Ok(())
}

/// How a batch ended badly.
enum Abort {
    /// Canceled with this many ACKs still to read on the (healthy) link.
    Canceled(usize),
    Link(LinkError),
    Refused(AckError),
}

impl Abort {
    fn detail(&self) -> String {
        match self {
            Abort::Canceled(_) => "canceled".into(),
            Abort::Link(e) => e.to_string(),
            Abort::Refused(e) => e.to_string(),
        }
    }

    fn reply(&self) -> &'static str {
        match self {
            Abort::Canceled(_) => "ERR interrupted: canceled",
            Abort::Link(e) if e.is_timeout() => "ERR interrupted: migration timeout",
            Abort::Link(_) | Abort::Refused(_) => "ERR interrupted: connection closed",
        }
    }
}

/// Runs a registered batch in its own task (it finishes even if the caller goes away) and
/// returns the caller's reply.
pub async fn run(shared: &Arc<Shared>, mut job: AsyncJob) -> Vec<u8> {
    if !job.registered {
        if let Err(reply) = register_when_free(shared, &job).await {
            return reply;
        }
        job.registered = true;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let shared = shared.clone();
    tokio::spawn(async move {
        let reply = drive(&shared, job).await;
        let _ = tx.send(reply);
    });
    rx.await.unwrap_or_else(|_| reply_err("ERR interrupted: migration task failed"))
}

struct Batch {
    queue: VecDeque<KeyIter>,
    /// Keys whose messages all went out and that existed: deleted at the end.
    done: Vec<Bytes>,
    /// Keys for which at least `delete` was sent (to undo on the target after a failure).
    started: Vec<Bytes>,
    /// Keys that kept changing: removed from the target again, left on the source.
    left: Vec<Bytes>,
    chunked_vals: usize,
    rounds: usize,
}

async fn drive(shared: &Arc<Shared>, job: AsyncJob) -> Vec<u8> {
    let timeout = Duration::from_millis(job.lim.timeout_ms.max(1) as u64);
    let db = job.db;
    let (cancel, cached, password, used) = {
        let mut st = lock_state(shared).await;
        let password = st.config.requirepass.clone();
        let now = crate::util::now_ms();
        match st.migrate.async_clients.get_mut(&db) {
            Some(c) => {
                let conn = c.conn.take().filter(|c| c.is_reusable(now, IDLE_MS));
                let used = c.used && conn.is_some();
                (c.cancel.clone(), conn, password, used)
            }
            None => {
                // Canceled before the task started.
                for k in &job.keys {
                    st.migrate.finish(db, k);
                }
                st.migrate.remove_tags(db, &job.keys);
                return reply_err("ERR interrupted: canceled");
            }
        }
    };
    let mut batch = Batch {
        queue: job.keys.iter().cloned().map(KeyIter::new).collect(),
        done: Vec::new(),
        started: Vec::new(),
        left: Vec::new(),
        chunked_vals: 0,
        rounds: 0,
    };
    let conn = match cached {
        Some(c) => Ok(c),
        None => {
            let r = TargetConn::connect(&job.host, job.port, timeout).await;
            if r.is_ok() {
                tracing::info!("slotsmgrt_async: create client {}:{} (DB={db}) OK", job.host, job.port);
            }
            r
        }
    };
    let outcome = match conn {
        Ok(mut conn) => {
            let r = transfer(shared, &job, &mut batch, &mut conn, &cancel, password.as_deref(), used, timeout).await;
            (r, Some(conn))
        }
        Err(e) => (Err(Abort::Link(e)), None),
    };
    match outcome {
        (Ok(reply), conn) => {
            let mut st = lock_state(shared).await;
            if let Some(c) = st.migrate.async_clients.get_mut(&db) {
                c.conn = conn;
                c.used = true;
                finish_batch(c);
            }
            st.migrate.remove_tags(db, &job.keys);
            reply
        }
        (Err(abort), conn) => {
            tracing::warn!(
                "slotsmgrt_async: batch to {}:{} (DB={db}) interrupted: {}",
                job.host,
                job.port,
                abort.detail()
            );
            // Whatever reached the target is removed there; the source keeps every key. After a
            // cancel the link is still in order: the deletes follow the messages on it, so none
            // of those can land after them.
            let undone = match (&abort, conn) {
                (Abort::Canceled(pending), Some(mut c)) => {
                    undo_on_link(&mut c, *pending, &batch.started, timeout).await
                }
                _ => false,
            };
            if !undone {
                super::sync::cleanup_target(&job.host, job.port, db, password.as_deref(), &batch.started, timeout)
                    .await;
            }
            let mut st = lock_state(shared).await;
            for k in &job.keys {
                st.migrate.finish(db, k);
            }
            st.migrate.remove_tags(db, &job.keys);
            if let Some(c) = st.migrate.async_clients.remove(&db) {
                c.ended.notify_waiters();
            }
            reply_err(abort.reply())
        }
    }
}

/// Reads the ACKs still due, then deletes `keys` on the target over the same link.
async fn undo_on_link(c: &mut TargetConn, pending: usize, keys: &[Bytes], timeout: Duration) -> bool {
    let attempt = async {
        for _ in 0..pending {
            c.read_frame(timeout).await?;
        }
        let mut buf = Vec::new();
        for k in keys {
            msg::delete(&mut buf, k);
        }
        c.send(&buf, timeout).await?;
        for _ in keys {
            c.read_frame(timeout).await?;
        }
        Ok::<(), LinkError>(())
    };
    attempt.await.is_ok()
}

fn finish_batch(c: &mut AsyncClient) {
    c.batch = None;
    c.sending_msgs = 0;
    c.blocked_clients = 0;
    c.lastuse_ms = crate::util::now_ms();
    c.ended.notify_waiters();
}

#[allow(clippy::too_many_arguments)]
async fn transfer(
    shared: &Arc<Shared>,
    job: &AsyncJob,
    batch: &mut Batch,
    conn: &mut TargetConn,
    cancel: &AtomicBool,
    password: Option<&[u8]>,
    mut used: bool,
    timeout: Duration,
) -> Result<Vec<u8>, Abort> {
    let db = job.db;
    let mut buf = Vec::with_capacity(WINDOW_BYTES + 64 * 1024);
    loop {
        buf.clear();
        let mut msgs = 0;
        {
            let mut st = lock_state(shared).await;
            if cancel.load(Ordering::Acquire) {
                return Err(Abort::Canceled(0));
            }
            if !used {
                if let Some(pw) = password {
                    msg::auth(&mut buf, pw);
                    msgs += 1;
                }
                msg::select(&mut buf, db);
                msgs += 1;
                used = true;
            }
            let started = Instant::now();
            while buf.len() < WINDOW_BYTES && msgs < WINDOW_MSGS && started.elapsed() < SLICE {
                let Some(it) = batch.queue.front_mut() else { break };
                let was_prepare = it.stage == Stage::Prepare;
                let n = it.next(&mut st, db, &job.lim, &mut buf);
                if was_prepare && n > 0 {
                    batch.started.push(it.key.clone());
                }
                msgs += n;
                if it.stage == Stage::Done {
                    if let Some(it) = batch.queue.pop_front() {
                        if it.had_value() {
                            batch.chunked_vals += usize::from(it.chunked_msgs != 0);
                            batch.done.push(it.key);
                        }
                    }
                }
            }
            if msgs == 0 {
                // Everything was acknowledged: send again what changed meanwhile, else finish.
                let dirty: Vec<Bytes> = job
                    .keys
                    .iter()
                    .filter(|k| st.migrate.is_dirty(db, k) && !batch.left.contains(k))
                    .cloned()
                    .collect();
                if dirty.is_empty() {
                    return Ok(complete(&mut st, job, batch));
                }
                batch.done.retain(|k| !dirty.contains(k));
                batch.rounds += 1;
                if batch.rounds <= MAX_ROUNDS {
                    batch.queue.extend(dirty.into_iter().map(KeyIter::new));
                    continue;
                }
                tracing::warn!("slotsmgrt_async: {} keys kept changing, left on the source", dirty.len());
                for k in dirty {
                    msg::delete(&mut buf, &k);
                    msgs += 1;
                    batch.left.push(k);
                }
            }
            update_status(&mut st, db, batch, msgs);
        }
        conn.send(&buf, timeout).await.map_err(Abort::Link)?;
        for i in 0..msgs {
            let frame = tokio::select! {
                f = conn.read_frame(timeout) => f.map_err(Abort::Link)?,
                _ = wait_cancel(cancel) => return Err(Abort::Canceled(msgs - i)),
            };
            parse_ack(&frame).map_err(Abort::Refused)?;
        }
    }
}

/// Resolves once `cancel` is set (checked every few ms: cancel is rare).
async fn wait_cancel(cancel: &AtomicBool) {
    while !cancel.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn update_status(st: &mut State, db: usize, batch: &Batch, msgs: usize) {
    let Some(c) = st.migrate.async_clients.get_mut(&db) else { return };
    c.lastuse_ms = crate::util::now_ms();
    c.sending_msgs = msgs;
    if let Some(b) = c.batch.as_mut() {
        b.removed_keys = batch.done.len();
        b.chunked_vals = batch.chunked_vals;
        b.iterators = batch.queue.len();
        b.current = batch.queue.front().map(|it| {
            let stage = it.stage as i64;
            (
                it.key.clone(),
                [
                    it.val_type,
                    stage,
                    it.expire,
                    it.cursor as i64,
                    it.lindex as i64,
                    it.zindex as i64,
                    it.chunked_msgs as i64,
                ],
            )
        });
    }
}

/// The batch is on the target: deletes its keys here and builds the reply.
fn complete(st: &mut State, job: &AsyncJob, batch: &Batch) -> Vec<u8> {
    let db = job.db;
    let remaining = job.slot.map(|s| st.dbs[db].slot(s).len() as i64);
    let mut moved = 0;
    for k in &batch.done {
        if delete_moved(st, db, k) {
            moved += 1;
        }
    }
    for k in &job.keys {
        st.migrate.finish(db, k);
    }
    match remaining {
        Some(r) => reply_pair(moved, r),
        None => reply_int(moved),
    }
}

/// SLOTSMGRT-ASYNC-FENCE: waits for the db's batch to end.
pub async fn fence(shared: &Arc<Shared>, db: usize) -> Vec<u8> {
    loop {
        let ended = {
            let st = lock_state(shared).await;
            match st.migrate.async_clients.get(&db) {
                Some(c) if c.batch.is_some() => c.ended.clone(),
                _ => return b"+OK\r\n".to_vec(),
            }
        };
        // Notified on the batch's end; the timeout covers a notification sent just before.
        let _ = tokio::time::timeout(Duration::from_millis(50), ended.notified()).await;
    }
}

/// SLOTSMGRT-ASYNC-CANCEL with a batch running: stops it and waits until it has cleaned up.
pub async fn cancel(shared: &Arc<Shared>, db: usize) -> Vec<u8> {
    {
        let st = lock_state(shared).await;
        match st.migrate.async_clients.get(&db) {
            Some(c) => c.cancel.store(true, Ordering::Release),
            None => return reply_int(0),
        }
    }
    loop {
        let ended = {
            let st = lock_state(shared).await;
            match st.migrate.async_clients.get(&db) {
                Some(c) if c.batch.is_some() => c.ended.clone(),
                _ => return reply_int(1),
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(50), ended.notified()).await;
    }
}
