//! Replica side: the link to our master. Handshake (PING, AUTH, REPLCONF, PSYNC), full sync
//! (disk `$<len>` and diskless `$EOF:<mark>` payloads, RDB v6..v11), then the command stream
//! applied as the master client, with `REPLCONF ACK` every second. Reconnects after a second.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use compat::resp::{Limits, RequestDecoder, MAX_MULTIBULK_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{encode_cmd, sync_load};
use crate::client::{Client, ClientInfo};
use crate::cmd::{execute, Reply};
use crate::server::{Shared, State};

/// The task that keeps us attached to the configured master (started once at startup).
pub async fn run(shared: Arc<Shared>) {
    loop {
        let (target, gen, notify) = {
            let st = shared.state.lock();
            (st.config.replicaof.clone(), st.repl.link_gen, st.repl.link_notify.clone())
        };
        let Some((host, port)) = target else {
            notify.notified().await;
            continue;
        };
        tracing::info!("Connecting to MASTER {host}:{port}");
        let r = link(&shared, &host, port, gen).await;
        let changed = {
            let mut st = shared.state.lock();
            if st.repl.link.up || st.repl.link.sync_in_progress {
                st.repl.link.down_since_ms = crate::util::now_ms();
            }
            st.repl.link.up = false;
            st.repl.link.sync_in_progress = false;
            st.repl.link_gen != gen
        };
        if let Err(e) = r {
            tracing::warn!("Replication link with {host}:{port}: {e}");
        }
        if !changed {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = notify.notified() => {}
            }
        }
    }
}

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    timeout: Duration,
}

impl Conn {
    async fn fill(&mut self) -> Result<(), String> {
        match tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf)).await {
            Ok(Ok(0)) => Err("connection closed by master".into()),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timeout reading from master".into()),
        }
    }

    /// One reply line, without CRLF; bare `\n` keep-alives are skipped.
    async fn line(&mut self) -> Result<String, String> {
        loop {
            while self.buf.first() == Some(&b'\n') {
                let _ = self.buf.split_to(1);
            }
            if let Some(p) = memchr::memchr(b'\n', &self.buf) {
                let l = self.buf.split_to(p + 1);
                let s = String::from_utf8_lossy(&l).trim_end_matches(['\r', '\n']).to_string();
                return Ok(s);
            }
            self.fill().await?;
        }
    }

    async fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut out = Vec::new();
        encode_cmd(&mut out, args);
        self.stream.write_all(&out).await.map_err(|e| e.to_string())
    }

    async fn command(&mut self, args: &[&[u8]]) -> Result<String, String> {
        self.send(args).await?;
        self.line().await
    }
}

fn gen_is(shared: &Shared, gen: u64) -> bool {
    shared.state.lock().repl.link_gen == gen
}

async fn link(shared: &Arc<Shared>, host: &str, port: u16, gen: u64) -> Result<(), String> {
    let (timeout, auth, my_port, psync_args, notify, announce_ip) = {
        let st = shared.state.lock();
        let psync = if st.repl.backlog.is_some() {
            (st.repl.replid.clone(), (st.repl.master_repl_offset + 1).to_string())
        } else {
            ("?".to_string(), "-1".to_string())
        };
        let port = if st.config.replica_announce_port != 0 { st.config.replica_announce_port } else { st.config.port };
        let ip = Some(st.config.replica_announce_ip.clone()).filter(|s| !s.is_empty());
        (
            Duration::from_secs(st.config.repl_timeout.max(1)),
            st.config.masterauth.clone(),
            port,
            psync,
            st.repl.link_notify.clone(),
            ip,
        )
    };
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| "timeout connecting to the MASTER".to_string())?
        .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut c = Conn { stream, buf: BytesMut::with_capacity(64 * 1024), timeout };
    tracing::info!("MASTER <-> REPLICA sync started");
    let pong = c.command(&[b"PING"]).await?;
    if pong.starts_with('-') && !pong.starts_with("-NOAUTH") && !pong.starts_with("-ERR operation not permitted") {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    if let Some(pass) = &auth {
        let r = c.command(&[b"AUTH", pass]).await?;
        if r.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {r}"));
        }
    }
    let _ = c.command(&[b"REPLCONF", b"listening-port", my_port.to_string().as_bytes()]).await?;
    if let Some(ip) = &announce_ip {
        let _ = c.command(&[b"REPLCONF", b"ip-address", ip.as_bytes()]).await?;
    }
    let _ = c.command(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]).await?;
    let (pid, poff) = psync_args;
    tracing::info!("Trying a partial resynchronization (request {pid}:{poff}).");
    let reply = c.command(&[b"PSYNC", pid.as_bytes(), poff.as_bytes()]).await?;
    if !gen_is(shared, gen) {
        return Ok(());
    }
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC") {
        let mut it = rest.split_whitespace();
        let id = it.next().unwrap_or("").to_string();
        let off: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        tracing::info!("Full resync from master: {id}:{off}");
        shared.state.lock().repl.link.sync_in_progress = true;
        let (loaded, conn) = receive_rdb(shared, c).await?;
        c = conn;
        let mut st = shared.state.lock();
        if st.repl.link_gen != gen {
            return Ok(());
        }
        st.stats.net_input_bytes += loaded.received;
        tracing::info!("MASTER <-> REPLICA sync: Loaded {} keys", loaded.stats.keys);
        let old = install_dataset(&mut st, loaded.dbs);
        // Freeing the old dataset can take a while: not under the lock.
        tokio::task::spawn_blocking(move || drop(old));
        tracing::info!("MASTER <-> REPLICA sync: Finished with success");
        let r = &mut st.repl;
        r.master_db = 0;
        r.replid = id;
        r.replid2 = "0".repeat(40);
        r.second_replid_offset = -1;
        r.master_repl_offset = off;
        super::ensure_backlog(&mut st);
        if let Some(b) = st.repl.backlog.as_mut() {
            b.set_offset(off);
        }
        // Sub-replicas hold a history that is no longer ours.
        super::master::disconnect_replicas(&mut st);
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let new_id = rest.trim();
        tracing::info!("Successful partial resynchronization with master.");
        let mut st = shared.state.lock();
        super::ensure_backlog(&mut st);
        let r = &mut st.repl;
        if !new_id.is_empty() && new_id != r.replid {
            r.replid2 = std::mem::replace(&mut r.replid, new_id.to_string());
            r.second_replid_offset = r.master_repl_offset as i64 + 1;
            super::master::disconnect_replicas(&mut st);
        }
    } else {
        return Err(format!("Unexpected reply to PSYNC from master: {reply}"));
    }
    {
        let mut st = shared.state.lock();
        let r = &mut st.repl;
        r.link.up = true;
        r.link.synced = true;
        r.link.sync_in_progress = false;
        r.link.last_io_ms = crate::util::now_ms();
    }
    stream_loop(shared, &mut c, gen, notify).await
}

/// Reads the payload header, then receives and parses the RDB on a blocking thread (see
/// [`super::sync_load`]); gives back the connection with what followed the payload.
async fn receive_rdb(shared: &Arc<Shared>, mut c: Conn) -> Result<(sync_load::Loaded, Conn), String> {
    let header = c.line().await?;
    let framing = sync_load::Framing::parse(&header)?;
    match &framing {
        sync_load::Framing::Eof(_) => {
            tracing::info!("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to parser")
        }
        sync_load::Framing::Sized(n) => {
            tracing::info!("MASTER <-> REPLICA sync: receiving {n} bytes from master to parser")
        }
    }
    let (config, clock) = {
        let st = shared.state.lock();
        (st.config.clone(), st.lru_clock())
    };
    let Conn { stream, buf, timeout } = c;
    let sock = stream.into_std().map_err(|e| e.to_string())?;
    sock.set_nonblocking(false).map_err(|e| e.to_string())?;
    let (sock, r) = tokio::task::spawn_blocking(move || {
        let r = sync_load::receive(&sock, buf, &framing, &config, clock, timeout);
        (sock, r)
    })
    .await
    .map_err(|e| format!("RDB loader thread failed: {e}"))?;
    let mut loaded = r?;
    sock.set_nonblocking(true).map_err(|e| e.to_string())?;
    let stream = TcpStream::from_std(sock).map_err(|e| e.to_string())?;
    let after = std::mem::take(&mut loaded.after);
    Ok((loaded, Conn { stream, buf: after, timeout }))
}

/// Replaces the dataset with the one loaded from the master; returns the old one.
fn install_dataset(st: &mut State, dbs: Vec<crate::db::Db>) -> Vec<crate::db::Db> {
    // WATCHed keys and blocked clients of the old and of the new dataset are told.
    for db in 0..st.dbs.len() {
        st.signal_db_changed(db, None);
    }
    let old = std::mem::replace(&mut st.dbs, dbs);
    for db in 0..st.dbs.len() {
        st.signal_db_changed(db, None);
    }
    st.dirty += 1;
    if st.persist.aof.is_some() {
        st.persist.aof_rewrite_scheduled = true;
    }
    old
}

async fn stream_loop(
    shared: &Arc<Shared>,
    c: &mut Conn,
    gen: u64,
    notify: Arc<tokio::sync::Notify>,
) -> Result<(), String> {
    let id = shared.next_client_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let addr = c.stream.peer_addr().map_err(|e| e.to_string())?;
    let local = c.stream.local_addr().map_err(|e| e.to_string())?;
    let mut client = Client::new(id, addr, local, true);
    client.master_link = true;
    // After a partial resync the master goes on in the database it had selected.
    client.db = shared.state.lock().repl.master_db;
    let kill = Arc::new(tokio::sync::Notify::new());
    {
        // Listed by CLIENT LIST (flags=M) and closable with CLIENT KILL TYPE master.
        let now = crate::util::now_ms();
        shared.state.lock().clients.insert(
            id,
            ClientInfo {
                id,
                fd: std::os::fd::AsRawFd::as_raw_fd(&c.stream),
                addr,
                local_addr: local,
                name: Vec::new(),
                db: 0,
                created_ms: now,
                last_interaction_ms: now,
                last_cmd: "NULL".into(),
                resp: 2,
                kill: kill.clone(),
                killed: false,
                outbox: Default::default(),
                soft_limit_since: None,
                dirty_cas: false,
                unblocked: None,
                qbuf: 0,
                obuf: 0,
                is_replica: false,
                is_master: true,
            },
        );
    }
    let r = apply_stream(shared, c, gen, notify, &mut client, &kill).await;
    let mut st = shared.state.lock();
    crate::cmd::tx::unwatch_all(&mut st, &mut client);
    st.clients.remove(&id);
    r
}

async fn apply_stream(
    shared: &Arc<Shared>,
    c: &mut Conn,
    gen: u64,
    notify: Arc<tokio::sync::Notify>,
    client: &mut Client,
    kill: &tokio::sync::Notify,
) -> Result<(), String> {
    let id = client.id;
    let mut decoder = RequestDecoder::new(Limits { max_bulk_len: 512 << 20, max_multibulk_len: MAX_MULTIBULK_LEN });
    let mut ack_tick = tokio::time::interval(Duration::from_secs(1));
    let mut reply = Reply::new(false);
    let mut args = Vec::new();
    loop {
        let mut acks: Vec<u64> = Vec::new();
        {
            let mut st = shared.state.lock();
            if st.repl.link_gen != gen {
                return Ok(());
            }
            match st.clients.get_mut(&id) {
                Some(info) if !info.killed => info.outbox.clear(),
                _ => return Err("connection with master closed by CLIENT KILL".into()),
            }
            loop {
                let before = c.buf.len();
                match decoder.decode_into(&mut c.buf, &mut args) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => return Err(format!("protocol error from master: {e}")),
                }
                let consumed = before - c.buf.len();
                if args[0].eq_ignore_ascii_case(b"replconf")
                    && args.get(1).is_some_and(|a| a.eq_ignore_ascii_case(b"getack"))
                {
                    acks.push(st.repl.master_repl_offset);
                } else {
                    st.repl.applying_master = true;
                    reply.buf.clear();
                    execute(&mut st, client, &args, &mut reply);
                    st.repl.applying_master = false;
                }
                feed_from_master(&mut st, &args, consumed);
            }
            let now = crate::util::now_ms();
            st.repl.link.last_io_ms = now;
            if let Some(info) = st.clients.get_mut(&id) {
                info.last_interaction_ms = now;
                info.db = client.db;
            }
            st.repl.master_db = client.db;
        }
        for off in acks {
            c.send(&[b"REPLCONF", b"ACK", off.to_string().as_bytes()]).await?;
        }
        tokio::select! {
            r = tokio::time::timeout(c.timeout, c.stream.read_buf(&mut c.buf)) => match r {
                Ok(Ok(0)) => return Err("connection closed by master".into()),
                Ok(Ok(n)) => shared.state.lock().stats.net_input_bytes += n as u64,
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => return Err("MASTER timeout: no data nor PING received".into()),
            },
            _ = ack_tick.tick() => {
                let off = shared.state.lock().repl.master_repl_offset;
                c.send(&[b"REPLCONF", b"ACK", off.to_string().as_bytes()]).await?;
            }
            _ = notify.notified() => {
                if !gen_is(shared, gen) {
                    return Ok(());
                }
            }
            _ = kill.notified() => {}
        }
    }
}

/// The master's stream goes verbatim into our backlog and to our own replicas; the offset
/// advances by exactly what was received.
fn feed_from_master(st: &mut State, args: &[bytes::Bytes], consumed: usize) {
    let mut raw = Vec::with_capacity(consumed);
    encode_cmd(&mut raw, args);
    let before = st.repl.master_repl_offset;
    super::feed_raw(st, &raw);
    st.repl.master_repl_offset = before + consumed as u64;
}
