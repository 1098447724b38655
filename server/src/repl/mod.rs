//! Replication: the master side (replicas attached by SYNC/PSYNC, the backlog, the command
//! stream), the replica side (the link to our master, in [`replica`]) and the state INFO and
//! ROLE report.
//!
//! Offsets follow Redis 4+: `master_repl_offset` counts the bytes of the replication stream;
//! `+FULLRESYNC <replid> <offset>` announces the offset the RDB corresponds to; a replica asks
//! `PSYNC <replid> <its offset + 1>`. A replica feeds the exact bytes it receives from its master
//! into its own backlog (so its offset equals its master's and sub-replicas or siblings can
//! partially resync after a failover, PSYNC2).

pub mod backlog;
pub mod diskless;
pub mod master;
pub mod replica;
pub mod sync_load;

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::server::State;
use backlog::Backlog;

/// Where an attached replica is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Diskless sync: waiting for `repl-diskless-sync-delay` (other replicas may join the same
    /// transfer). No snapshot yet, so writes are not kept.
    WaitBgsaveStart,
    /// Waiting for the RDB child; writes are kept in `pending`.
    WaitBgsave,
    /// The RDB is being sent (`bulk`, or the diskless relay); writes still go to `pending`.
    SendBulk,
    /// Diskless RDB sent: the stream starts at the replica's first REPLCONF ACK (it has no
    /// length to tell where the RDB ends, so it must have parsed it all first).
    WaitAck,
    Online,
}

/// One replica connected to us.
pub struct Replica {
    pub client: u64,
    pub state: ReplicaState,
    pub listening_port: u16,
    pub ip: Option<String>,
    pub ack_off: u64,
    /// Unix ms of the last REPLCONF ACK.
    pub ack_ms: i64,
    /// Attached with SYNC: it sends no ACKs, so it never times out.
    pub pre_psync: bool,
    /// Writes made while its RDB is produced.
    pub pending: Vec<u8>,
    /// The RDB child producing its snapshot.
    pub child: Option<i32>,
    /// The (unlinked) RDB file being sent and the bytes left.
    pub bulk: Option<(std::fs::File, u64)>,
    /// Unix ms when it asked for a full sync (diskless delay).
    pub since_ms: i64,
    /// Announced `capa psync2`: gets an RDB v10, else v7.
    pub psync2: bool,
}

/// What a connection learned from REPLCONF before it sent PSYNC.
#[derive(Default, Clone)]
pub struct ReplConf {
    pub listening_port: u16,
    pub ip: Option<String>,
    pub psync2: bool,
    /// Announced `capa eof`: can take a diskless `$EOF:` transfer.
    pub eof: bool,
}

/// State of the link to our master (replica side).
pub struct Link {
    pub up: bool,
    pub sync_in_progress: bool,
    pub last_io_ms: i64,
    pub down_since_ms: i64,
    /// Synced at least once (PSYNC with our replid and offset, not `? -1`).
    pub synced: bool,
}

pub struct Repl {
    pub replid: String,
    pub replid2: String,
    /// Offsets up to here (inclusive, 1-based next byte) are valid for `replid2`.
    pub second_replid_offset: i64,
    pub master_repl_offset: u64,
    pub backlog: Option<Backlog>,
    pub replicas: Vec<Replica>,
    /// REPLCONF options by connection, before PSYNC.
    pub confs: std::collections::HashMap<u64, ReplConf>,
    /// Database of the last SELECT fed to the stream.
    pub selected_db: Option<usize>,
    pub last_ping_ms: i64,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    pub link: Link,
    /// Wakes the replica-link task when SLAVEOF changes the master.
    pub link_notify: Arc<Notify>,
    /// Bumped at each SLAVEOF: a running link with an older generation stops.
    pub link_gen: u64,
    /// True while commands from our master are applied (they bypass read-only and are fed to
    /// the backlog verbatim, not re-encoded).
    pub applying_master: bool,
    /// Clients blocked in WAIT.
    pub waiters: Vec<Waiter>,
    /// The current EXEC already wrote its MULTI to the stream.
    pub exec_wrote: bool,
    /// The running diskless transfer.
    pub diskless: Option<diskless::Job>,
    /// Unix ms of the last keep-alive newline to replicas waiting for their RDB.
    pub last_newline_ms: i64,
    /// Database the master's stream has selected (kept across a partial resync, which sends no
    /// SELECT, and across a restart through the RDB's `repl-stream-db`).
    pub master_db: usize,
}

/// A client blocked in WAIT: until `num` replicas acknowledged `offset`, or `deadline_ms`.
pub struct Waiter {
    pub client: u64,
    pub offset: u64,
    pub num: usize,
    /// Unix ms; 0 = no timeout.
    pub deadline_ms: i64,
}

impl Default for Repl {
    fn default() -> Self {
        Repl {
            replid: random_id(),
            replid2: "0".repeat(40),
            second_replid_offset: -1,
            master_repl_offset: 0,
            backlog: None,
            replicas: Vec::new(),
            confs: Default::default(),
            selected_db: None,
            last_ping_ms: 0,
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
            link: Link {
                up: false,
                sync_in_progress: false,
                last_io_ms: 0,
                down_since_ms: crate::util::now_ms(),
                synced: false,
            },
            link_notify: Arc::new(Notify::new()),
            link_gen: 0,
            applying_master: false,
            waiters: Vec::new(),
            exec_wrote: false,
            diskless: None,
            last_newline_ms: 0,
            master_db: 0,
        }
    }
}

pub fn random_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..40).map(|_| format!("{:x}", rng.random_range(0..16u8))).collect()
}

pub(crate) use compat::resp::write::command as encode_cmd;

/// Sets (or clears) our master, keeping CONFIG GET / CONFIG REWRITE's `replicaof` in step.
pub fn set_master(state: &mut State, master: Option<(String, u16)>) {
    let idx = crate::config::table::index_of("replicaof");
    state.config.values[idx] = master.as_ref().map(|(h, p)| format!("{h} {p}")).unwrap_or_default();
    state.config.replicaof = master;
}

/// Whether we are a replica (SLAVEOF / `replicaof` set).
pub fn is_replica(state: &State) -> bool {
    state.config.replicaof.is_some()
}

/// Writes that changed the dataset (already rewritten to their effects, as for the AOF):
/// appended to the backlog and sent to the replicas, with SELECT when the database changes.
pub fn feed(state: &mut State, db: usize, cmds: &[Vec<Bytes>]) {
    if cmds.is_empty() || state.repl.backlog.is_none() || state.repl.applying_master || is_replica(state) {
        return;
    }
    let mut buf = Vec::new();
    if state.repl.selected_db != Some(db) {
        encode_cmd(&mut buf, &[b"SELECT" as &[u8], itoa::Buffer::new().format(db).as_bytes()]);
        state.repl.selected_db = Some(db);
    }
    if state.persist.exec_state.is_some() && !state.repl.exec_wrote {
        // The first write of a transaction: replicas get it inside MULTI ... EXEC.
        encode_cmd(&mut buf, &[b"MULTI" as &[u8]]);
        state.repl.exec_wrote = true;
    }
    for c in cmds {
        encode_cmd(&mut buf, c);
    }
    feed_raw(state, &buf);
}

/// Appends bytes to the stream: backlog, online replicas, replicas waiting for their RDB.
pub fn feed_raw(state: &mut State, bytes: &[u8]) {
    let Some(b) = state.repl.backlog.as_mut() else { return };
    b.append(bytes);
    state.repl.master_repl_offset += bytes.len() as u64;
    let mut online = Vec::new();
    for r in state.repl.replicas.iter_mut() {
        match r.state {
            ReplicaState::WaitBgsaveStart => {}
            ReplicaState::WaitBgsave | ReplicaState::SendBulk | ReplicaState::WaitAck => {
                r.pending.extend_from_slice(bytes)
            }
            ReplicaState::Online => online.push(r.client),
        }
    }
    for id in online {
        state.push_to(id, bytes, 1);
    }
}

/// Creates the backlog (with a fresh replication id, as Redis does) if there is none.
pub fn ensure_backlog(state: &mut State) {
    if state.repl.backlog.is_none() {
        let size = state.config.repl_backlog_size.max(16 * 1024) as usize;
        let mut b = Backlog::new(size);
        b.set_offset(state.repl.master_repl_offset);
        state.repl.backlog = Some(b);
        if !is_replica(state) {
            state.repl.replid = random_id();
            state.repl.replid2 = "0".repeat(40);
            state.repl.second_replid_offset = -1;
        }
    }
}

/// The replication position saved in an RDB (Redis's `rdbPopulateSaveInfo`): a master with a
/// backlog, or a replica that synced with its master. `None` otherwise.
pub fn save_info(state: &State) -> Option<crate::persist::rdb::ReplInfo> {
    let r = &state.repl;
    let stream_db = if !is_replica(state) {
        r.backlog.as_ref()?;
        r.selected_db.unwrap_or(0)
    } else if r.link.synced {
        r.master_db
    } else {
        return None;
    };
    Some(crate::persist::rdb::ReplInfo {
        stream_db: stream_db as i64,
        id: r.replid.clone(),
        offset: r.master_repl_offset as i64,
    })
}

/// After loading the RDB at startup: a replica takes the replication id and offset the file
/// recorded, so its first PSYNC can continue where it stopped (as Redis 4+ does).
pub fn restore_from_rdb(state: &mut State, stats: &crate::persist::rdb::LoadStats) {
    let (Some(id), Some(offset), Some(db)) = (&stats.repl_id, stats.repl_offset, stats.repl_stream_db) else {
        return;
    };
    if !is_replica(state) || id.len() != 40 || offset < 0 || db < 0 || db as usize >= state.dbs.len() {
        return;
    }
    state.repl.replid = id.clone();
    state.repl.replid2 = "0".repeat(40);
    state.repl.second_replid_offset = -1;
    state.repl.master_repl_offset = offset as u64;
    state.repl.master_db = db as usize;
    state.repl.link.synced = true;
    ensure_backlog(state);
    if let Some(b) = state.repl.backlog.as_mut() {
        b.set_offset(offset as u64);
    }
    tracing::info!("Restored replication ID and offset from the RDB file: {id}:{offset}");
}

/// A replica whose link is down refuses commands with `replica-serve-stale-data no`.
pub fn serving_stale_refused(state: &State) -> bool {
    is_replica(state) && !state.repl.link.up && !state.config.replica_serve_stale_data
}

/// Number of online replicas whose last ACK is at most `min-replicas-max-lag` seconds old.
pub fn good_replicas(state: &State) -> usize {
    let now = crate::util::now_ms();
    let max_lag = state.config.min_replicas_max_lag as i64;
    state.repl.replicas.iter().filter(|r| r.state == ReplicaState::Online && (now - r.ack_ms) / 1000 <= max_lag).count()
}

/// The write check of `min-replicas-to-write` / `min-replicas-max-lag` (masters only).
pub fn write_refused(state: &State) -> Option<&'static str> {
    let c = &state.config;
    if is_replica(state) || c.min_replicas_to_write == 0 || c.min_replicas_max_lag == 0 {
        return None;
    }
    if (good_replicas(state) as u64) < c.min_replicas_to_write {
        return Some("NOREPLICAS Not enough good replicas to write.");
    }
    None
}

/// Called by the server cron: replica bookkeeping, RDB children, PINGs to replicas.
pub fn cron(state: &mut State) {
    master::cron(state);
    check_waiters(state);
}

/// An EXEC ended: closes the transaction in the stream if it wrote anything.
pub fn exec_end(state: &mut State) {
    if std::mem::take(&mut state.repl.exec_wrote) {
        let mut buf = Vec::new();
        encode_cmd(&mut buf, &[b"EXEC" as &[u8]]);
        feed_raw(state, &buf);
    }
}

/// Number of online replicas that acknowledged `offset`.
pub fn acked(state: &State, offset: u64) -> usize {
    state.repl.replicas.iter().filter(|r| r.state == ReplicaState::Online && r.ack_off >= offset).count()
}

/// Answers the WAIT clients whose replicas caught up or whose timeout passed.
pub fn check_waiters(state: &mut State) {
    if state.repl.waiters.is_empty() {
        return;
    }
    let now = crate::util::now_ms();
    for w in std::mem::take(&mut state.repl.waiters) {
        if !state.blocking.is_blocked(w.client) {
            continue;
        }
        let count = acked(state, w.offset);
        if count >= w.num || (w.deadline_ms > 0 && now >= w.deadline_ms) {
            state.blocking.unblock(w.client);
            state.push_to(w.client, format!(":{count}\r\n").as_bytes(), 0);
            if let Some(info) = state.clients.get_mut(&w.client) {
                info.unblocked = Some(crate::blocking::Unblocked::Served);
                info.kill.notify_one();
            }
        } else {
            state.repl.waiters.push(w);
        }
    }
}

/// The replication section of INFO: 3.2's fields in 3.2's order, then the Redis 4+ ids.
pub fn info(state: &State) -> String {
    use std::fmt::Write;
    let mut s = String::from("# Replication\r\n");
    let cfg = &state.config;
    let now = crate::util::now_ms();
    let r = &state.repl;
    if let Some((host, port)) = &cfg.replicaof {
        let _ = write!(s, "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\n");
        let _ = write!(s, "master_link_status:{}\r\n", if r.link.up { "up" } else { "down" });
        let last_io = if r.link.up { (now - r.link.last_io_ms) / 1000 } else { -1 };
        let _ = write!(s, "master_last_io_seconds_ago:{last_io}\r\n");
        let _ = write!(s, "master_sync_in_progress:{}\r\n", r.link.sync_in_progress as u8);
        let _ = write!(s, "slave_repl_offset:{}\r\n", r.master_repl_offset);
        if !r.link.up {
            let _ = write!(s, "master_link_down_since_seconds:{}\r\n", (now - r.link.down_since_ms) / 1000);
        }
        let _ =
            write!(s, "slave_priority:{}\r\nslave_read_only:{}\r\n", cfg.replica_priority, cfg.replica_read_only as u8);
    } else {
        s.push_str("role:master\r\n");
    }
    let online: Vec<&Replica> = r.replicas.iter().collect();
    let _ = write!(s, "connected_slaves:{}\r\n", online.len());
    if cfg.min_replicas_to_write > 0 && cfg.min_replicas_max_lag > 0 {
        let _ = write!(s, "min_slaves_good_slaves:{}\r\n", good_replicas(state));
    }
    for (i, rep) in online.iter().enumerate() {
        let ip = rep
            .ip
            .clone()
            .or_else(|| state.clients.get(&rep.client).map(|c| c.addr.ip().to_string()))
            .unwrap_or_else(|| "?".into());
        let st = match rep.state {
            ReplicaState::WaitBgsaveStart | ReplicaState::WaitBgsave => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::WaitAck | ReplicaState::Online => "online",
        };
        let lag = if rep.ack_ms > 0 { (now - rep.ack_ms) / 1000 } else { 0 };
        let _ =
            write!(s, "slave{i}:ip={ip},port={},state={st},offset={},lag={lag}\r\n", rep.listening_port, rep.ack_off);
    }
    let _ = write!(s, "master_repl_offset:{}\r\n", r.master_repl_offset);
    let (active, first, hist) = match &r.backlog {
        Some(b) => (1, b.first_offset(), b.histlen()),
        None => (0, 0, 0),
    };
    let _ = write!(s, "repl_backlog_active:{active}\r\nrepl_backlog_size:{}\r\n", cfg.repl_backlog_size);
    let _ = write!(s, "repl_backlog_first_byte_offset:{first}\r\nrepl_backlog_histlen:{hist}\r\n");
    // Redis 4+ (PSYNC2) fields, after 3.2's so its field order is kept.
    let _ = write!(
        s,
        "master_replid:{}\r\nmaster_replid2:{}\r\nsecond_repl_offset:{}\r\n",
        r.replid, r.replid2, r.second_replid_offset
    );
    s
}

/// ROLE's reply.
pub fn role(state: &State, out: &mut crate::cmd::Reply) {
    let r = &state.repl;
    if let Some((host, port)) = &state.config.replicaof {
        out.array(5);
        out.bulk(b"slave");
        out.bulk(host.as_bytes());
        out.int(*port as i64);
        let st = if r.link.up {
            "connected"
        } else if r.link.sync_in_progress {
            "sync"
        } else {
            "connect"
        };
        out.bulk(st.as_bytes());
        out.int(r.master_repl_offset as i64);
    } else {
        out.array(3);
        out.bulk(b"master");
        out.int(r.master_repl_offset as i64);
        let online: Vec<&Replica> = r.replicas.iter().filter(|x| x.state == ReplicaState::Online).collect();
        out.array(online.len());
        for rep in online {
            let ip = rep
                .ip
                .clone()
                .or_else(|| state.clients.get(&rep.client).map(|c| c.addr.ip().to_string()))
                .unwrap_or_default();
            out.array(3);
            out.bulk(ip.as_bytes());
            out.bulk(rep.listening_port.to_string().as_bytes());
            out.bulk(rep.ack_off.to_string().as_bytes());
        }
    }
}
