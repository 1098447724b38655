//! The append-only file (Redis 3.2's single-file layout: `dir/appendfilename`).
//!
//! - Every write command that changed the dataset is appended as RESP, preceded by `SELECT`
//!   when the database changes. Commands whose effect depends on the time or on chance are
//!   written as their effect: relative expiries become `PEXPIREAT` with the absolute time the
//!   key got, `SET ... EX` becomes `SET` + `PEXPIREAT`, `GETDEL` a `DEL`, `SPOP` the `SREM`
//!   of what it popped; keys removed by expiry are written as `DEL`.
//! - `appendfsync always` fsyncs after each write; `everysec` hands an fsync to a background
//!   thread once a second; `no` leaves it to the kernel.
//! - BGREWRITEAOF forks a child that writes the dataset (as commands, or as an RDB preamble with
//!   `aof-use-rdb-preamble yes`); writes made meanwhile are buffered by the parent and appended
//!   to the new file before it atomically replaces the old one.
//! - At startup the file is replayed; a truncated tail is cut off when `aof-load-truncated
//!   yes`. Redis 7's multi-part layout (`appenddirname` with a manifest) is read too.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::rdb::{self, fsync_dir};
use super::{fork_child, save_meta, Child, ChildKind};
use crate::client::Client;
use crate::cmd::{execute, CommandTable, Reply};
use crate::db::{Db, Value};
use crate::server::State;

/// Elements per command when the rewrite writes big collections (AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

pub struct AofState {
    /// The file being appended to; `None` while `appendonly` was just switched on and the first
    /// rewrite has not produced the file yet.
    pub file: Option<File>,
    pub path: PathBuf,
    /// Database of the last `SELECT` written (`None`: write one before the next command).
    pub selected_db: Option<usize>,
    scratch: Vec<u8>,
    /// Bytes that could not be written (retried before the next write and by the cron).
    pending: Vec<u8>,
    /// Writes made while a rewrite child runs.
    pub rewrite_buf: Option<Vec<u8>>,
    pub current_size: u64,
    pub base_size: u64,
    unsynced: bool,
    last_fsync: Instant,
    fsync_busy: Arc<AtomicBool>,
    fsync_tx: Option<Sender<File>>,
    pub delayed_fsync: u64,
}

impl AofState {
    fn new(path: PathBuf, file: Option<File>, size: u64) -> AofState {
        AofState {
            file,
            path,
            selected_db: None,
            scratch: Vec::with_capacity(1024),
            pending: Vec::new(),
            rewrite_buf: None,
            current_size: size,
            base_size: size,
            unsynced: false,
            last_fsync: Instant::now(),
            fsync_busy: Arc::new(AtomicBool::new(false)),
            fsync_tx: None,
            delayed_fsync: 0,
        }
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub fn fsync_in_progress(&self) -> bool {
        self.fsync_busy.load(Ordering::Relaxed)
    }

    /// Writes `pending` then clears it; returns the error text on failure.
    fn write_pending(&mut self) -> Result<(), String> {
        let Some(f) = self.file.as_mut() else {
            self.pending.clear();
            return Ok(());
        };
        if self.pending.is_empty() {
            return Ok(());
        }
        match f.write_all(&self.pending) {
            Ok(()) => {
                self.current_size += self.pending.len() as u64;
                self.pending.clear();
                self.unsynced = true;
                Ok(())
            }
            Err(e) => {
                // Cut a partial write back so the file stays a sequence of whole commands.
                let _ = f.set_len(self.current_size);
                Err(crate::config::values::strerror(&e))
            }
        }
    }
}

fn aof_path(state: &State) -> PathBuf {
    state.config.data_path(&state.config.appendfilename)
}

/// The file a rewrite child with `pid` writes.
pub fn rewrite_temp_path(state: &State, pid: i32) -> PathBuf {
    state.config.dir.join(format!("temp-rewriteaof-bg-{pid}.aof"))
}

fn config_yes(state: &State, name: &str) -> bool {
    state.config.get(name).is_some_and(|v| v == "yes")
}

fn config_num(state: &State, name: &str) -> u64 {
    state.config.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// RESP encoding.

use compat::resp::write::command as encode_cmd;

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn num(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

// ---------------------------------------------------------------------------------------------
// Feeding.

/// The TTL a key has now: `None` if absent, `Some(0)` if persistent.
fn ttl_of(state: &State, db: usize, key: &[u8]) -> Option<i64> {
    state.dbs[db].get(key).map(|e| e.expire_ms)
}

/// `PEXPIREAT` / `PERSIST` / `DEL` reproducing a key's expiry state after a command.
fn expiry_cmd(state: &State, db: usize, key: &Bytes) -> Vec<Bytes> {
    match ttl_of(state, db, key) {
        None => vec![b("DEL"), key.clone()],
        Some(0) => vec![b("PERSIST"), key.clone()],
        Some(ms) => vec![b("PEXPIREAT"), key.clone(), num(ms)],
    }
}

/// What the AOF gets for a write command that changed the dataset.
fn commands_for(state: &State, db: usize, name: &str, args: &[Bytes], reply: &[u8]) -> Vec<Vec<Bytes>> {
    match name {
        "set" | "setex" | "psetex" => {
            let key = &args[1];
            let value = if name == "set" { &args[2] } else { &args[3] };
            let mut v = vec![vec![b("SET"), key.clone(), value.clone()]];
            if let Some(ms) = ttl_of(state, db, key).filter(|&ms| ms != 0) {
                v.push(vec![b("PEXPIREAT"), key.clone(), num(ms)]);
            }
            v
        }
        "expire" | "pexpire" | "expireat" | "pexpireat" | "getex" => vec![expiry_cmd(state, db, &args[1])],
        "getdel" => vec![vec![b("DEL"), args[1].clone()]],
        "restore" => {
            let key = &args[1];
            let mut v = vec![vec![b("RESTORE"), key.clone(), b("0"), args[3].clone(), b("REPLACE")]];
            match ttl_of(state, db, key) {
                None => v = vec![vec![b("DEL"), key.clone()]],
                Some(0) => {}
                Some(ms) => v.push(vec![b("PEXPIREAT"), key.clone(), num(ms)]),
            }
            v
        }
        "spop" => {
            let mut members = Vec::new();
            match compat::resp::parse_frame(reply) {
                Ok(Some((compat::resp::Frame::Bulk(m), _))) => members.push(m),
                Ok(Some((compat::resp::Frame::Array(items) | compat::resp::Frame::Set(items), _))) => {
                    for it in items {
                        if let compat::resp::Frame::Bulk(m) = it {
                            members.push(m);
                        }
                    }
                }
                _ => {}
            }
            if members.is_empty() {
                return Vec::new();
            }
            let mut v = Vec::new();
            for chunk in members.chunks(1024) {
                let mut c = vec![b("SREM"), args[1].clone()];
                c.extend(chunk.iter().cloned());
                v.push(c);
            }
            v
        }
        _ => vec![args.to_vec()],
    }
}

/// Called by the dispatcher after a WRITE command changed the dataset (`reply` is its reply).
pub fn propagate(state: &mut State, db: usize, name: &str, args: &[Bytes], reply: &[u8]) {
    let instead = state.persist.propagate_instead.take();
    let to_repl = state.repl.backlog.is_some();
    if (state.persist.aof.is_none() && !to_repl) || state.persist.loading {
        return;
    }
    let cmds = match instead {
        Some(c) => c,
        None => commands_for(state, db, name, args, reply),
    };
    // The same rewritten stream feeds the replicas (and the backlog) and the AOF.
    crate::repl::feed(state, db, &cmds);
    append(state, db, &cmds);
}

/// EXEC starts: its writes will be wrapped in `MULTI` / `EXEC`.
pub fn exec_begin(state: &mut State) {
    state.persist.exec_state = Some(false);
}

/// EXEC finished: closes the transaction in the AOF if it wrote anything.
pub fn exec_end(state: &mut State) {
    crate::repl::exec_end(state);
    let wrote = state.persist.exec_state.take() == Some(true);
    if wrote {
        if let Some(db) = state.persist.aof.as_ref().and_then(|a| a.selected_db) {
            append(state, db, &[vec![b("EXEC")]]);
        }
    }
}

/// A key was removed by expiry: the AOF gets a `DEL`.
pub fn propagate_expired(state: &mut State, db: usize, key: &[u8]) {
    if (state.persist.aof.is_none() && state.repl.backlog.is_none()) || state.persist.loading {
        return;
    }
    let cmds = [vec![b("DEL"), Bytes::copy_from_slice(key)]];
    crate::repl::feed(state, db, &cmds);
    append(state, db, &cmds);
}

fn append(state: &mut State, db: usize, cmds: &[Vec<Bytes>]) {
    if cmds.is_empty() {
        return;
    }
    let always = state.config.appendfsync == "always";
    let Some(aof) = state.persist.aof.as_mut() else { return };
    aof.scratch.clear();
    if aof.selected_db != Some(db) {
        encode_cmd(&mut aof.scratch, &[b"SELECT" as &[u8], itoa::Buffer::new().format(db).as_bytes()]);
        aof.selected_db = Some(db);
    }
    if state.persist.exec_state == Some(false) {
        // The first write of a transaction: the AOF gets it wrapped in MULTI ... EXEC.
        encode_cmd(&mut aof.scratch, &[b"MULTI" as &[u8]]);
        state.persist.exec_state = Some(true);
    }
    for c in cmds {
        encode_cmd(&mut aof.scratch, c);
    }
    if let Some(rb) = aof.rewrite_buf.as_mut() {
        rb.extend_from_slice(&aof.scratch);
    }
    if aof.file.is_none() {
        return;
    }
    let scratch = std::mem::take(&mut aof.scratch);
    aof.pending.extend_from_slice(&scratch);
    aof.scratch = scratch;
    let mut result = aof.write_pending();
    if result.is_ok() && always {
        if let Some(f) = aof.file.as_ref() {
            result = f.sync_data().map_err(|e| crate::config::values::strerror(&e));
            aof.unsynced = false;
        }
    }
    record_write_result(state, result);
}

fn record_write_result(state: &mut State, result: Result<(), String>) {
    match result {
        Ok(()) => {
            if state.persist.aof_last_write_error.take().is_some() {
                tracing::warn!("AOF write error looks solved, Redis can write again.");
            }
        }
        Err(e) => {
            if state.persist.aof_last_write_error.is_none() {
                tracing::warn!("Error writing to the AOF file: {e}");
            }
            state.persist.aof_last_write_error = Some(e);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cron.

pub fn cron(state: &mut State) {
    // `CONFIG SET appendonly` switches.
    match (state.config.appendonly, state.persist.aof.is_some()) {
        (true, false) => start_aof(state),
        (false, true) => stop_aof(state),
        _ => {}
    }
    let everysec = state.config.appendfsync == "everysec";
    let Some(aof) = state.persist.aof.as_mut() else { return };
    if !aof.pending.is_empty() {
        let r = aof.write_pending();
        record_write_result(state, r);
    }
    let Some(aof) = state.persist.aof.as_mut() else { return };
    if everysec && aof.unsynced && aof.last_fsync.elapsed() >= Duration::from_secs(1) {
        if aof.fsync_busy.load(Ordering::Relaxed) {
            if aof.last_fsync.elapsed() >= Duration::from_secs(2) {
                aof.delayed_fsync += 1;
                tracing::info!("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.");
                aof.last_fsync = Instant::now();
            }
            return;
        }
        if let Some(f) = aof.file.as_ref().and_then(|f| f.try_clone().ok()) {
            let tx = aof.fsync_tx.get_or_insert_with(|| spawn_fsync_thread(aof.fsync_busy.clone()));
            aof.fsync_busy.store(true, Ordering::Relaxed);
            if tx.send(f).is_err() {
                aof.fsync_busy.store(false, Ordering::Relaxed);
                aof.fsync_tx = None;
            }
            aof.unsynced = false;
            aof.last_fsync = Instant::now();
        }
    }
}

/// The background fsync thread (Redis's bio AOF fsync job).
fn spawn_fsync_thread(busy: Arc<AtomicBool>) -> Sender<File> {
    let (tx, rx) = mpsc::channel::<File>();
    std::thread::Builder::new()
        .name("aof-fsync".into())
        .spawn(move || {
            for f in rx {
                let _ = f.sync_data();
                drop(f);
                busy.store(false, Ordering::Relaxed);
            }
        })
        .expect("spawn aof fsync thread");
    tx
}

/// `appendonly` turned on at run time: the file is created by a rewrite of the dataset, and
/// appending starts once it exists (Redis's AOF_WAIT_REWRITE).
fn start_aof(state: &mut State) {
    state.persist.aof = Some(AofState::new(aof_path(state), None, 0));
    match state.persist.child_kind() {
        Some(ChildKind::Aof) => super::kill_child(state),
        Some(ChildKind::Rdb) => {
            state.persist.aof_rewrite_scheduled = true;
            return;
        }
        None => {}
    }
    if rewrite_background(state).is_err() {
        state.persist.aof_rewrite_scheduled = true;
    }
}

/// `appendonly` turned off: flush, fsync and close.
fn stop_aof(state: &mut State) {
    flush_on_shutdown(state);
    if state.persist.child_kind() == Some(ChildKind::Aof) {
        super::kill_child(state);
    }
    state.persist.aof = None;
    state.persist.aof_last_write_error = None;
}

/// Writes what is pending and fsyncs (shutdown, `appendonly no`).
pub fn flush_on_shutdown(state: &mut State) {
    let Some(aof) = state.persist.aof.as_mut() else { return };
    let r = aof.write_pending();
    if let Some(f) = aof.file.as_ref() {
        tracing::info!("Calling fsync() on the AOF file.");
        let _ = f.sync_data();
        aof.unsynced = false;
    }
    record_write_result(state, r);
}

/// `auto-aof-rewrite-percentage` / `auto-aof-rewrite-min-size`.
pub fn maybe_auto_rewrite(state: &mut State) {
    let Some(aof) = state.persist.aof.as_ref() else { return };
    if aof.file.is_none() {
        return;
    }
    let (current, base) = (aof.current_size, aof.base_size.max(1));
    let perc = config_num(state, "auto-aof-rewrite-percentage");
    let min = config_num(state, "auto-aof-rewrite-min-size");
    if perc == 0 || current <= min {
        return;
    }
    let growth = (current * 100 / base) as i64 - 100;
    if growth >= perc as i64 {
        tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
        let _ = rewrite_background(state);
    }
}

// ---------------------------------------------------------------------------------------------
// Rewrite.

/// Writes the dataset as an AOF: an RDB preamble, or commands.
pub fn write_dataset<W: Write>(mut w: W, dbs: &[Db], meta: &rdb::SaveMeta, preamble: bool) -> io::Result<W> {
    if preamble {
        return rdb::write_rdb(w, dbs, meta).map(|(w, _)| w);
    }
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut ib = itoa::Buffer::new();
    for db in dbs {
        if db.is_empty() {
            continue;
        }
        encode_cmd(&mut buf, &[b"SELECT" as &[u8], ib.format(db.id).as_bytes()]);
        for e in db.iter() {
            if e.is_expired(meta.now_ms) {
                continue;
            }
            let key: &[u8] = &e.key;
            match &e.value {
                Value::Int(_) | Value::Str(_) | Value::Raw(_) => {
                    let mut nb = itoa::Buffer::new();
                    let v = e.value.str_bytes(&mut nb).unwrap_or_default();
                    encode_cmd(&mut buf, &[b"SET" as &[u8], key, v]);
                }
                Value::List(l) => {
                    let items: Vec<&[u8]> = l.iter().map(|x| &x[..]).collect();
                    batched(&mut buf, b"RPUSH", key, &items);
                }
                Value::Set(s) => {
                    let members: Vec<Vec<u8>> = {
                        let mut nb = itoa::Buffer::new();
                        s.iter().map(|m| m.bytes(&mut nb).to_vec()).collect()
                    };
                    let items: Vec<&[u8]> = members.iter().map(|m| &m[..]).collect();
                    batched(&mut buf, b"SADD", key, &items);
                }
                Value::Hash(h) => {
                    let items: Vec<&[u8]> = h.iter().flat_map(|(f, v)| [&f[..], &v[..]]).collect();
                    batched_pairs(&mut buf, b"HMSET", key, &items);
                }
                Value::ZSet(z) => {
                    let scores: Vec<String> = z.iter().map(|(_, s)| fmt_score(s)).collect();
                    let items: Vec<&[u8]> = z.iter().zip(&scores).flat_map(|((m, _), s)| [s.as_bytes(), m]).collect();
                    batched_pairs(&mut buf, b"ZADD", key, &items);
                }
            }
            if e.expire_ms != 0 {
                encode_cmd(&mut buf, &[b"PEXPIREAT" as &[u8], key, ib.format(e.expire_ms).as_bytes()]);
            }
            if buf.len() >= 32 * 1024 {
                w.write_all(&buf)?;
                buf.clear();
            }
        }
    }
    w.write_all(&buf)?;
    w.flush()?;
    Ok(w)
}

/// `%.17g`, with `inf` / `-inf` as ZADD reads them.
fn fmt_score(s: f64) -> String {
    crate::util::fmt_g17(s)
}

fn batched(buf: &mut Vec<u8>, cmd: &[u8], key: &[u8], items: &[&[u8]]) {
    for chunk in items.chunks(ITEMS_PER_CMD) {
        let mut args: Vec<&[u8]> = Vec::with_capacity(chunk.len() + 2);
        args.push(cmd);
        args.push(key);
        args.extend_from_slice(chunk);
        encode_cmd(buf, &args);
    }
}

fn batched_pairs(buf: &mut Vec<u8>, cmd: &[u8], key: &[u8], items: &[&[u8]]) {
    for chunk in items.chunks(ITEMS_PER_CMD * 2) {
        let mut args: Vec<&[u8]> = Vec::with_capacity(chunk.len() + 2);
        args.push(cmd);
        args.push(key);
        args.extend_from_slice(chunk);
        encode_cmd(buf, &args);
    }
}

/// What a rewrite records, and how its file goes to disk (`aof-rewrite-incremental-fsync`).
fn rewrite_meta(state: &State) -> rdb::SaveMeta {
    let mut meta = save_meta(state);
    meta.sync = rdb::SyncPolicy::from_flag(config_yes(state, "aof-rewrite-incremental-fsync"));
    meta
}

/// Writes the dataset to `tmp` (going to disk as it grows, as `meta.sync` says) and fsyncs it.
fn write_dataset_file(tmp: &Path, dbs: &[Db], meta: &rdb::SaveMeta, preamble: bool) -> io::Result<()> {
    let f = rdb::SyncingFile::new(File::create(tmp)?, meta.sync);
    let w = write_dataset(BufWriter::with_capacity(1 << 16, f), dbs, meta, preamble)?;
    w.into_inner().map_err(|e| e.into_error())?.finish().map(drop)
}

/// BGREWRITEAOF: forks the rewrite child. The caller has checked that no child is running.
pub fn rewrite_background(state: &mut State) -> Result<i32, String> {
    if state.persist.child.is_some() {
        return Err("child already running".into());
    }
    let preamble = config_yes(state, "aof-use-rdb-preamble");
    let meta = rewrite_meta(state);
    let dir = state.config.dir.clone();
    let started = Instant::now();
    let dbs = &state.dbs;
    let forked = fork_child(|| {
        super::lower_child_priority();
        let tmp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
        write_dataset_file(&tmp, dbs, &meta, preamble).is_ok()
    });
    match forked {
        Ok(pid) => {
            state.persist.child = Some(Child { pid, kind: ChildKind::Aof, started });
            if let Some(aof) = state.persist.aof.as_mut() {
                aof.rewrite_buf = Some(Vec::new());
                aof.selected_db = None;
            }
            tracing::info!("Background append only file rewriting started by pid {pid}");
            Ok(pid)
        }
        Err(e) => {
            let msg =
                format!("Can't rewrite append only file in background: fork: {}", crate::config::values::strerror(&e));
            tracing::warn!("{msg}");
            state.persist.aof_last_bgrewrite_ok = false;
            Err(msg)
        }
    }
}

/// The rewrite child was killed: forget its buffer; retry later if appending waits for it.
pub fn rewrite_aborted(state: &mut State) {
    if let Some(aof) = state.persist.aof.as_mut() {
        aof.rewrite_buf = None;
        if aof.file.is_none() {
            state.persist.aof_rewrite_scheduled = true;
        }
    }
}

/// The rewrite child exited: on success append the buffered writes to its file and put it in
/// place of the AOF.
pub fn rewrite_done(state: &mut State, ok: bool, secs: i64, pid: i32) {
    state.persist.aof_last_rewrite_time_sec = secs;
    let tmp = rewrite_temp_path(state, pid);
    if !ok {
        tracing::warn!("Background AOF rewrite terminated with error");
        let _ = std::fs::remove_file(&tmp);
        state.persist.aof_last_bgrewrite_ok = false;
        rewrite_aborted(state);
        return;
    }
    tracing::info!("Background AOF rewrite terminated with success");
    let path = aof_path(state);
    let buf = state.persist.aof.as_mut().and_then(|a| a.rewrite_buf.take()).unwrap_or_default();
    let finished = (|| -> io::Result<File> {
        let mut f = OpenOptions::new().append(true).open(&tmp)?;
        f.write_all(&buf)?;
        f.sync_data()?;
        std::fs::rename(&tmp, &path)?;
        fsync_dir(&path);
        Ok(f)
    })();
    match finished {
        Ok(f) => {
            tracing::info!(
                "Residual parent diff successfully flushed to the rewritten AOF ({:.2} MB)",
                buf.len() as f64 / (1024.0 * 1024.0)
            );
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            if let Some(aof) = state.persist.aof.as_mut() {
                aof.path = path;
                aof.file = Some(f);
                aof.current_size = size;
                aof.base_size = size;
                aof.pending.clear();
                aof.unsynced = false;
                state.persist.aof_last_write_error = None;
            }
            state.persist.aof_last_bgrewrite_ok = true;
            tracing::info!("Background AOF rewrite finished successfully");
        }
        Err(e) => {
            tracing::warn!("Error trying to finish the AOF rewrite: {}", crate::config::values::strerror(&e));
            let _ = std::fs::remove_file(&tmp);
            state.persist.aof_last_bgrewrite_ok = false;
            rewrite_aborted(state);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Startup.

pub enum Loaded {
    Yes,
    Missing,
}

/// Opens the AOF for appending after the dataset was loaded. When there was no AOF, it is
/// written now (synchronously) from the loaded dataset, so a restart finds the data again.
pub fn open_at_startup(state: &mut State) -> Result<(), String> {
    let path = aof_path(state);
    if !path.exists() {
        let tmp = state.config.dir.join(format!("temp-rewriteaof-{}.aof", std::process::id()));
        let meta = rewrite_meta(state);
        let preamble = config_yes(state, "aof-use-rdb-preamble");
        let r = write_dataset_file(&tmp, &state.dbs, &meta, preamble).and_then(|_| std::fs::rename(&tmp, &path));
        if let Err(e) = r {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("Can't open the append-only file: {}", crate::config::values::strerror(&e)));
        }
        fsync_dir(&path);
    }
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| format!("Can't open the append-only file: {}", crate::config::values::strerror(&e)))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    state.persist.aof = Some(AofState::new(path, Some(f), size));
    Ok(())
}

/// Replays the AOF (or Redis 7's multi-part AOF) into `state`.
pub fn load_at_startup(state: &mut State) -> Result<Loaded, String> {
    let path = aof_path(state);
    if path.exists() {
        load_file(state, &path, true)?;
        return Ok(Loaded::Yes);
    }
    let dirname = state.config.get("appenddirname").unwrap_or_else(|| "appendonlydir".into());
    let dir = state.config.dir.join(dirname);
    let manifest = dir.join(format!("{}.manifest", state.config.appendfilename));
    if !manifest.exists() {
        return Ok(Loaded::Missing);
    }
    let text = std::fs::read_to_string(&manifest).map_err(|e| format!("Can't read the AOF manifest: {e}"))?;
    let mut base = None;
    let mut incr = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let field = |name: &str| words.chunks(2).find(|c| c.len() == 2 && c[0] == name).map(|c| c[1]);
        let (Some(file), Some(kind)) = (field("file"), field("type")) else { continue };
        match kind {
            "b" => base = Some(dir.join(file)),
            "i" => incr.push(dir.join(file)),
            _ => {}
        }
    }
    let files: Vec<PathBuf> = base.into_iter().chain(incr).collect();
    let n = files.len();
    for (i, f) in files.iter().enumerate() {
        load_file(state, f, i + 1 == n)?;
    }
    tracing::info!(
        "Loaded a multi-part append only file from {}; it is continued as {}",
        dir.display(),
        path.display()
    );
    Ok(Loaded::Yes)
}

/// A reader that counts the bytes taken from it.
struct Counting<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.pos += amt as u64;
        self.inner.consume(amt)
    }
}

enum ReadCmd {
    Cmd(Vec<Bytes>),
    Eof,
    Truncated,
    BadFormat,
}

fn read_line<R: BufRead>(r: &mut R, line: &mut Vec<u8>) -> io::Result<bool> {
    line.clear();
    r.read_until(b'\n', line)?;
    if line.last() != Some(&b'\n') {
        return Ok(false);
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(true)
}

fn parse_len(s: &[u8]) -> Option<usize> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn read_command<R: BufRead>(r: &mut R, line: &mut Vec<u8>) -> io::Result<ReadCmd> {
    line.clear();
    let n = r.read_until(b'\n', line)?;
    if n == 0 {
        return Ok(ReadCmd::Eof);
    }
    if line.last() != Some(&b'\n') {
        return Ok(ReadCmd::Truncated);
    }
    let trimmed = line.strip_suffix(b"\n").map(|l| l.strip_suffix(b"\r").unwrap_or(l)).unwrap_or(line);
    if trimmed.first() != Some(&b'*') {
        return Ok(ReadCmd::BadFormat);
    }
    let Some(argc) = parse_len(&trimmed[1..]).filter(|&n| n >= 1) else { return Ok(ReadCmd::BadFormat) };
    let mut args = Vec::with_capacity(argc.min(1024));
    for _ in 0..argc {
        if !read_line(r, line)? {
            return Ok(ReadCmd::Truncated);
        }
        if line.first() != Some(&b'$') {
            return Ok(ReadCmd::BadFormat);
        }
        let Some(len) = parse_len(&line[1..]) else { return Ok(ReadCmd::BadFormat) };
        let mut data = vec![0u8; len + 2];
        let mut got = 0;
        while got < data.len() {
            let k = r.read(&mut data[got..])?;
            if k == 0 {
                return Ok(ReadCmd::Truncated);
            }
            got += k;
        }
        if &data[len..] != b"\r\n" {
            return Ok(ReadCmd::BadFormat);
        }
        data.truncate(len);
        args.push(Bytes::from(data));
    }
    Ok(ReadCmd::Cmd(args))
}

/// Replays one AOF file. `last`: a truncated tail may be repaired (only the last file's).
pub fn load_file(state: &mut State, path: &Path, last: bool) -> Result<(), String> {
    let shown = path.display().to_string();
    let f = File::open(path)
        .map_err(|e| format!("Fatal error: can't open the append log file {shown} for reading: {e}"))?;
    let mut r = Counting { inner: BufReader::with_capacity(1 << 16, f), pos: 0 };
    if r.fill_buf().map_err(|e| e.to_string())?.starts_with(b"REDIS") {
        tracing::info!("Reading RDB preamble from AOF file...");
        let (back, stats) = rdb::load_rdb(state, r).map_err(|e| e.0)?;
        r = back;
        tracing::info!("Reading the remaining AOF tail... ({} keys from the preamble)", stats.keys);
    }
    // Commands replay with every name working: the original ones and `rename-command` names.
    let saved_renames = std::mem::take(&mut state.renamed);
    state.renamed = saved_renames.iter().filter(|(_, v)| v.is_some()).map(|(k, v)| (k.clone(), *v)).collect();
    let r = replay(state, &mut r, &shown);
    state.renamed = saved_renames;
    let valid = match r? {
        None => return Ok(()),
        Some(valid) => valid,
    };
    // Truncated.
    if !last || !config_yes(state, "aof-load-truncated") {
        return Err(format!(
            "Unexpected end of file reading the append only file {shown}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
        ));
    }
    tracing::warn!("!!! Warning: short read while loading the AOF file {shown}!!!");
    tracing::warn!("!!! Truncating the AOF {shown} at offset {valid} !!!");
    let f =
        OpenOptions::new().write(true).open(path).map_err(|e| format!("Error truncating the AOF file {shown}: {e}"))?;
    f.set_len(valid).map_err(|e| format!("Error truncating the AOF file {shown}: {e}"))?;
    let _ = f.sync_all();
    tracing::warn!("AOF {shown} loaded anyway because aof-load-truncated is enabled");
    Ok(())
}

/// Runs the commands; returns `Some(offset)` of the end of the last complete command (outside
/// MULTI) when the file is truncated.
fn replay<R: BufRead>(state: &mut State, r: &mut Counting<R>, shown: &str) -> Result<Option<u64>, String> {
    let table = CommandTable::get();
    let addr = "0.0.0.0:0".parse().expect("addr");
    let mut client = Client::new(0, addr, addr, true);
    client.nested = true;
    let mut out = Reply::new(false);
    let mut line = Vec::new();
    let mut valid = r.pos;
    let mut in_multi_since = None;
    loop {
        let cmd = read_command(r, &mut line)
            .map_err(|e| format!("Unrecoverable error reading the append only file {shown}: {e}"))?;
        let args = match cmd {
            ReadCmd::Cmd(args) => args,
            ReadCmd::Eof => {
                if let Some(at) = in_multi_since {
                    tracing::warn!("Revert incomplete MULTI/EXEC transaction in AOF file {shown}");
                    return Ok(Some(at));
                }
                return Ok(None);
            }
            ReadCmd::Truncated => {
                if in_multi_since.is_some() {
                    tracing::warn!("Revert incomplete MULTI/EXEC transaction in AOF file {shown}");
                }
                return Ok(Some(in_multi_since.unwrap_or(valid)));
            }
            ReadCmd::BadFormat => {
                return Err(format!(
                    "Bad file format reading the append only file {shown}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
                ))
            }
        };
        let known = state.renamed.contains_key(&args[0].to_ascii_lowercase()) || table.lookup(&args[0]).is_some();
        if !known {
            return Err(format!(
                "Unknown command '{}' reading the append only file {shown}",
                String::from_utf8_lossy(&args[0])
            ));
        }
        let was_multi = client.multi.is_some();
        out.buf.clear();
        execute(state, &mut client, &args, &mut out);
        if client.multi.is_some() {
            if !was_multi {
                in_multi_since = Some(valid);
            }
        } else {
            in_multi_since = None;
            valid = r.pos;
        }
    }
}
