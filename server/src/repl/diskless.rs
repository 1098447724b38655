//! Diskless full sync (`repl-diskless-sync yes`, replicas that announced `capa eof`).
//!
//! As in Redis: a replica asking for a full sync waits `repl-diskless-sync-delay` seconds (so
//! replicas arriving together share one snapshot), getting a keep-alive `\n` every second;
//! then `+FULLRESYNC <replid> <offset>` is sent, a forked child writes the RDB into a pipe and
//! a relay thread copies it to every replica of the group framed as
//! `$EOF:<40 random hex chars>\r\n` + RDB + the same 40 chars (the framing of the recorded 3.2
//! transfer, w3b). The command stream starts at the replica's first `REPLCONF ACK`, once it has
//! loaded the RDB.
//!
//! The relay runs on its own thread because it blocks on the pipe; it never takes the state
//! lock: it writes to the replicas' outboxes, at the pace of the slowest one.

use std::io::{BufWriter, Read};
use std::sync::Arc;
use std::time::Duration;

use compat::rdb::RdbVersion;
use tokio::sync::Notify;

use super::{ensure_backlog, random_id, ReplicaState};
use crate::client::Outbox;
use crate::persist::rdb::write_rdb;
use crate::server::State;

/// Output queued for one replica at most before the relay waits for it.
const QUEUE: usize = 8 << 20;

/// A running diskless transfer.
pub struct Job {
    pub pid: i32,
    /// Client ids of the replicas it feeds.
    pub targets: Vec<u64>,
    relay: std::thread::JoinHandle<Outcome>,
}

struct Target {
    id: u64,
    outbox: Arc<Outbox>,
    wake: Arc<Notify>,
}

impl Target {
    fn push(&self, bytes: &[u8]) {
        self.outbox.push(bytes);
        self.wake.notify_one();
    }

    /// Closed by CLIENT KILL, or the connection ended (its task and registry entry dropped
    /// their references).
    fn alive(&self) -> bool {
        !self.outbox.is_closed() && Arc::strong_count(&self.outbox) > 1
    }
}

struct Outcome {
    ok: bool,
    /// Replicas still connected at the end.
    alive: Vec<u64>,
    bytes: u64,
}

/// Starts a transfer when replicas have waited long enough and none is running.
pub fn maybe_start(state: &mut State) {
    if state.repl.diskless.is_some() {
        return;
    }
    let now = crate::util::now_ms();
    let waiting: Vec<usize> = (0..state.repl.replicas.len())
        .filter(|&i| state.repl.replicas[i].state == ReplicaState::WaitBgsaveStart)
        .collect();
    let Some(oldest) = waiting.iter().map(|&i| state.repl.replicas[i].since_ms).min() else { return };
    if now - oldest < state.config.repl_diskless_sync_delay as i64 * 1000 {
        return;
    }
    // One snapshot serves one RDB version: the others wait for the next transfer.
    let psync2 = state.repl.replicas[waiting[0]].psync2;
    let group: Vec<usize> = waiting.into_iter().filter(|&i| state.repl.replicas[i].psync2 == psync2).collect();
    let version = if psync2 { RdbVersion::V10 } else { RdbVersion::V7 };
    ensure_backlog(state);
    // The stream after the snapshot starts with a SELECT.
    state.repl.selected_db = None;
    let meta = super::master::save_meta(state, version);
    let dbs = &state.dbs;
    let forked = crate::persist::fork_child_to_pipe(|out| {
        let r = write_rdb(BufWriter::with_capacity(1 << 16, out), dbs, &meta)
            .and_then(|(bw, _)| bw.into_inner().map_err(|e| e.into_error()));
        r.is_ok()
    });
    let (pid, pipe) = match forked {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!("Can't fork for the diskless replication transfer: {e}");
            for i in group {
                let id = state.repl.replicas[i].client;
                super::master::kill_client(state, id);
            }
            return;
        }
    };
    tracing::info!("Starting BGSAVE for SYNC with target: replicas sockets");
    tracing::info!("Background RDB transfer started by pid {pid}");
    let offset = state.repl.master_repl_offset;
    let fullresync = format!("+FULLRESYNC {} {}\r\n", state.repl.replid, offset);
    let mut targets = Vec::new();
    for i in group {
        let r = &mut state.repl.replicas[i];
        r.state = ReplicaState::SendBulk;
        r.pending.clear();
        let (id, pre_psync) = (r.client, r.pre_psync);
        if let Some(c) = state.clients.get_mut(&id) {
            if !pre_psync {
                c.outbox.push(fullresync.as_bytes());
            }
            targets.push(Target { id, outbox: c.outbox.clone(), wake: c.kill.clone() });
        }
    }
    let ids = targets.iter().map(|t| t.id).collect();
    let mark = random_id();
    let relay = std::thread::Builder::new()
        .name("repl-diskless".into())
        .spawn(move || relay(pipe, pid, &mark, targets))
        .expect("spawn the diskless relay thread");
    state.repl.diskless = Some(Job { pid, targets: ids, relay });
}

/// Copies the child's RDB to the replicas, framed by the EOF mark; reaps the child.
fn relay(mut pipe: std::fs::File, pid: i32, mark: &str, mut targets: Vec<Target>) -> Outcome {
    let header = format!("$EOF:{mark}\r\n");
    for t in &targets {
        t.push(header.as_bytes());
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    let mut read_ok = true;
    loop {
        targets.retain(Target::alive);
        if targets.is_empty() {
            break;
        }
        // The slowest replica sets the pace, as when Redis's child writes to every socket.
        if targets.iter().any(|t| t.outbox.len() >= QUEUE) {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                bytes += n as u64;
                for t in &targets {
                    t.push(&buf[..n]);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::warn!("Diskless rdb transfer: reading from the child's pipe failed: {e}");
                read_ok = false;
                break;
            }
        }
    }
    drop(pipe);
    if targets.is_empty() || !read_ok {
        // Nobody left to send to: stop the child (it would block on the full pipe).
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    let mut status = 0;
    // SAFETY: waitpid on the child this relay owns (nothing else reaps it).
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    let exited_ok = r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let ok = read_ok && exited_ok && !targets.is_empty();
    if ok {
        for t in &targets {
            t.push(mark.as_bytes());
        }
    }
    Outcome { ok, alive: targets.iter().map(|t| t.id).collect(), bytes }
}

/// Called by the cron: once the relay finished, replicas that got the whole RDB wait for
/// their first ACK; the others are disconnected.
pub fn poll(state: &mut State) {
    let finished = state.repl.diskless.as_ref().is_some_and(|j| j.relay.is_finished());
    if !finished {
        return;
    }
    let Some(job) = state.repl.diskless.take() else { return };
    let out = job.relay.join().unwrap_or(Outcome { ok: false, alive: Vec::new(), bytes: 0 });
    tracing::info!(
        "Diskless rdb transfer (child {}), done reading from pipe, {} replicas still up ({} bytes).",
        job.pid,
        out.alive.len(),
        out.bytes
    );
    let now = crate::util::now_ms();
    for id in job.targets {
        let Some(r) = state.repl.replicas.iter_mut().find(|r| r.client == id) else { continue };
        if r.state != ReplicaState::SendBulk {
            continue;
        }
        if out.ok && out.alive.contains(&id) {
            r.state = ReplicaState::WaitAck;
            r.ack_ms = now;
            tracing::info!(
                "Streamed RDB transfer with replica (client id #{id}) succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming"
            );
        } else {
            tracing::warn!("Diskless RDB transfer to replica (client id #{id}) failed");
            super::master::kill_client(state, id);
        }
    }
}
