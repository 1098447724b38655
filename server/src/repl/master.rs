//! Master side: SYNC / PSYNC (full resync through a forked RDB child, partial resync from the
//! backlog), REPLCONF ACK bookkeeping, PINGs to replicas.

use std::path::PathBuf;

use compat::rdb::RdbVersion;

use super::{encode_cmd, ensure_backlog, is_replica, Replica, ReplicaState};
use crate::persist::rdb::{write_rdb, SaveMeta};
use crate::server::State;

/// What PSYNC / SYNC answered.
pub enum SyncOutcome {
    /// `+CONTINUE ...` and the backlog tail, to be written as the reply.
    Continue(Vec<u8>),
    /// `+FULLRESYNC ...` (empty for SYNC); the RDB follows through the outbox.
    Full(Vec<u8>),
}

fn temp_path(state: &State, pid: i32) -> PathBuf {
    state.config.dir.join(format!("temp-repl-{pid}.rdb"))
}

/// Handles PSYNC `replid offset` (or SYNC when `psync` is `None`) from client `id`.
pub fn sync(state: &mut State, id: u64, psync: Option<(&str, i64)>) -> Result<SyncOutcome, String> {
    if is_replica(state) && !state.repl.link.up {
        return Err("NOMASTERLINK Can't SYNC while not connected with my master".into());
    }
    let conf = state.repl.confs.remove(&id).unwrap_or_default();
    if let Some((replid, offset)) = psync {
        if let Some(out) = try_partial(state, id, &conf, replid, offset) {
            return Ok(SyncOutcome::Continue(out));
        }
        if replid != "?" {
            state.repl.sync_partial_err += 1;
        }
    }
    ensure_backlog(state);
    let now = crate::util::now_ms();
    let mut replica = Replica {
        client: id,
        state: ReplicaState::WaitBgsaveStart,
        listening_port: conf.listening_port,
        ip: conf.ip.clone(),
        ack_off: 0,
        ack_ms: now,
        pre_psync: psync.is_none(),
        pending: Vec::new(),
        child: None,
        bulk: None,
        since_ms: now,
        psync2: conf.psync2,
    };
    if let Some(c) = state.clients.get_mut(&id) {
        c.is_replica = true;
    }
    state.repl.sync_full += 1;
    if state.config.repl_diskless_sync && conf.eof {
        // `+FULLRESYNC` goes out when the transfer starts (see `diskless`).
        tracing::info!("Delay next BGSAVE for diskless SYNC");
        state.repl.replicas.push(replica);
        return Ok(SyncOutcome::Full(Vec::new()));
    }
    // The replica's stream starts with a SELECT.
    state.repl.selected_db = None;
    let version = if conf.psync2 { RdbVersion::V10 } else { RdbVersion::V7 };
    let pid = fork_rdb(state, version).map_err(|e| format!("ERR Can't fork for the replication RDB: {e}"))?;
    tracing::info!("Starting BGSAVE for SYNC with target: disk (child {pid})");
    let offset = state.repl.master_repl_offset;
    replica.state = ReplicaState::WaitBgsave;
    replica.child = Some(pid);
    state.repl.replicas.push(replica);
    let reply = match psync {
        Some(_) => format!("+FULLRESYNC {} {}\r\n", state.repl.replid, offset).into_bytes(),
        None => Vec::new(),
    };
    Ok(SyncOutcome::Full(reply))
}

fn try_partial(state: &mut State, id: u64, conf: &super::ReplConf, replid: &str, offset: i64) -> Option<Vec<u8>> {
    let r = &state.repl;
    if offset < 0 {
        return None;
    }
    if replid != r.replid && (replid != r.replid2 || offset > r.second_replid_offset) {
        return None;
    }
    let tail = r.backlog.as_ref()?.from(offset as u64)?;
    let mut out =
        if conf.psync2 { format!("+CONTINUE {}\r\n", r.replid).into_bytes() } else { b"+CONTINUE\r\n".to_vec() };
    out.extend_from_slice(&tail);
    state.repl.sync_partial_ok += 1;
    tracing::info!(
        "Partial resynchronization request accepted. Sending {} bytes of backlog starting from offset {offset}.",
        tail.len()
    );
    state.repl.replicas.push(Replica {
        client: id,
        state: ReplicaState::Online,
        listening_port: conf.listening_port,
        ip: conf.ip.clone(),
        ack_off: offset as u64 - 1,
        ack_ms: crate::util::now_ms(),
        pre_psync: false,
        pending: Vec::new(),
        child: None,
        bulk: None,
        since_ms: 0,
        psync2: conf.psync2,
    });
    if let Some(c) = state.clients.get_mut(&id) {
        c.is_replica = true;
    }
    Some(out)
}

/// What a replication RDB of `version` records in its AUX fields.
pub(super) fn save_meta(state: &State, version: RdbVersion) -> SaveMeta {
    let mut meta = SaveMeta::from_config(&state.config, crate::util::now_ms(), crate::cmd::server::info::used_memory());
    meta.opts = crate::cmd::dump::encode_options(&state.config, version);
    meta.version_str = match version {
        RdbVersion::V7 => crate::cmd::connection::REDIS_VERSION,
        RdbVersion::V10 => "7.0.15",
    };
    meta.repl = super::save_info(state);
    meta
}

/// Forks a child writing the dataset as an RDB of `version` to `temp-repl-<pid>.rdb`.
fn fork_rdb(state: &State, version: RdbVersion) -> std::io::Result<i32> {
    let meta = save_meta(state, version);
    let dir = state.config.dir.clone();
    let dbs = &state.dbs;
    crate::persist::fork_child(|| {
        let path = dir.join(format!("temp-repl-{}.rdb", std::process::id()));
        let write = || {
            let f = std::fs::File::create(&path)?;
            let (bw, _) = write_rdb(std::io::BufWriter::with_capacity(1 << 16, f), dbs, &meta)?;
            bw.into_inner().map_err(|e| e.into_error())?;
            Ok::<(), std::io::Error>(())
        };
        write().is_ok()
    })
}

/// Output queued for a replica receiving its RDB, at most (the connection drains it while
/// the cron refills it).
const BULK_QUEUE: usize = 32 << 20;

/// Moves the next part of a replica's RDB file to its output; once all is sent, the writes
/// made meanwhile follow and the replica is online.
fn send_bulk(state: &mut State, i: usize) {
    use std::io::Read;
    let id = state.repl.replicas[i].client;
    let queued = state.clients.get(&id).map_or(0, |c| c.outbox.len());
    if queued >= BULK_QUEUE {
        return;
    }
    let r = &mut state.repl.replicas[i];
    let Some((f, left)) = r.bulk.as_mut() else { return };
    let n = (*left as usize).min(BULK_QUEUE - queued);
    let mut chunk = vec![0u8; n];
    if let Err(e) = f.read_exact(&mut chunk) {
        tracing::warn!("Reading the replication RDB failed: {e}");
        kill_client(state, id);
        return;
    }
    *left -= n as u64;
    if *left == 0 {
        r.bulk = None;
        chunk.extend_from_slice(&std::mem::take(&mut r.pending));
        r.state = ReplicaState::Online;
        r.ack_ms = crate::util::now_ms();
        tracing::info!("Synchronization with replica (client id #{id}) succeeded");
    }
    push_unlimited(state, id, &chunk);
}

/// Appends to a client's output without the output-buffer limit (the RDB payload).
pub(super) fn push_unlimited(state: &mut State, id: u64, bytes: &[u8]) {
    if let Some(c) = state.clients.get_mut(&id) {
        c.outbox.push(bytes);
        c.kill.notify_one();
    }
}

pub(super) fn kill_client(state: &mut State, id: u64) {
    if let Some(c) = state.clients.get_mut(&id) {
        c.kill();
    }
}

fn reap(pid: i32, block: bool) -> Option<bool> {
    let mut status = 0;
    // SAFETY: waitpid on our own child.
    let r = unsafe { libc::waitpid(pid, &mut status, if block { 0 } else { libc::WNOHANG }) };
    if r == 0 {
        return None;
    }
    Some(r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
}

/// Drops replicas whose connection closed, delivers finished RDBs, PINGs replicas.
pub fn cron(state: &mut State) {
    state.current_client = 0;
    super::diskless::poll(state);
    let now = crate::util::now_ms();
    if now - state.repl.last_newline_ms >= 1000 {
        // Replicas waiting for their RDB get a newline a second, which refreshes their
        // read timeout (the replica skips it), as Redis does. Sent before a diskless transfer
        // may start in this same tick, as Redis's cron does: a replica that waited the whole
        // delay always got at least one.
        state.repl.last_newline_ms = now;
        let waiting: Vec<u64> = state
            .repl
            .replicas
            .iter()
            .filter(|r| matches!(r.state, ReplicaState::WaitBgsaveStart | ReplicaState::WaitBgsave))
            .map(|r| r.client)
            .collect();
        for id in waiting {
            push_unlimited(state, id, b"\n");
        }
    }
    super::diskless::maybe_start(state);
    let mut i = 0;
    while i < state.repl.replicas.len() {
        let id = state.repl.replicas[i].client;
        let gone = state.clients.get(&id).is_none_or(|c| c.killed);
        if gone {
            let r = state.repl.replicas.remove(i);
            if let Some(pid) = r.child {
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
                reap(pid, true);
                let _ = std::fs::remove_file(temp_path(state, pid));
            }
            tracing::info!("Connection with replica client id #{id} lost.");
            continue;
        }
        if let Some(pid) = state.repl.replicas[i].child {
            if let Some(ok) = reap(pid, false) {
                let path = temp_path(state, pid);
                // Sent from the open file, which is unlinked at once.
                let file = if ok { std::fs::File::open(&path).ok() } else { None };
                let _ = std::fs::remove_file(&path);
                let r = &mut state.repl.replicas[i];
                r.child = None;
                match file.and_then(|f| Some((f.metadata().ok()?.len(), f))) {
                    Some((len, f)) => {
                        tracing::info!("Background RDB for replica done, sending {len} bytes");
                        r.bulk = Some((f, len));
                        r.state = ReplicaState::SendBulk;
                        push_unlimited(state, id, format!("${len}\r\n").as_bytes());
                    }
                    None => {
                        tracing::warn!("Background RDB transfer for replica failed");
                        kill_client(state, id);
                    }
                }
            }
        }
        if state.repl.replicas[i].state == ReplicaState::SendBulk {
            send_bulk(state, i);
        }
        i += 1;
    }
    // Replicas that stopped acknowledging for `repl-timeout` are dropped.
    let timeout_ms = state.config.repl_timeout.max(1) as i64 * 1000;
    let timed_out: Vec<u64> = state
        .repl
        .replicas
        .iter()
        .filter(|r| {
            matches!(r.state, ReplicaState::Online | ReplicaState::WaitAck)
                && !r.pre_psync
                && now - r.ack_ms > timeout_ms
        })
        .map(|r| r.client)
        .collect();
    for id in timed_out {
        tracing::warn!("Disconnecting timedout replica (client id #{id})");
        kill_client(state, id);
    }
    // CONFIG SET repl-backlog-size.
    let size = state.config.repl_backlog_size.max(16 * 1024) as usize;
    if let Some(b) = state.repl.backlog.as_mut() {
        b.resize(size);
    }
    let period = state.config.repl_ping_replica_period.max(1) as i64 * 1000;
    if !is_replica(state) && !state.repl.replicas.is_empty() && now - state.repl.last_ping_ms >= period {
        state.repl.last_ping_ms = now;
        let mut buf = Vec::new();
        encode_cmd(&mut buf, &[b"PING" as &[u8]]);
        super::feed_raw(state, &buf);
    }
}

/// Closes the connections of all attached replicas (they reconnect and resync).
pub fn disconnect_replicas(state: &mut State) {
    let ids: Vec<u64> = state.repl.replicas.iter().map(|r| r.client).collect();
    for id in ids {
        kill_client(state, id);
    }
}

/// REPLCONF ACK from a replica.
pub fn ack(state: &mut State, id: u64, offset: u64) {
    let now = crate::util::now_ms();
    let Some(r) = state.repl.replicas.iter_mut().find(|r| r.client == id) else { return };
    r.ack_off = offset;
    r.ack_ms = now;
    if r.state == ReplicaState::WaitAck {
        // After a diskless transfer: the replica loaded the RDB, the stream can start.
        r.state = ReplicaState::Online;
        let pending = std::mem::take(&mut r.pending);
        push_unlimited(state, id, &pending);
        tracing::info!("Synchronization with replica (client id #{id}) succeeded");
    }
    super::check_waiters(state);
}
