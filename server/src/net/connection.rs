//! The life of one connection: read whatever arrived, decode every complete request, run them
//! all under one acquisition of the state lock, write all replies at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use compat::resp::{Limits, RequestDecoder, MAX_MULTIBULK_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::client::{Client, ClientInfo};
use crate::cmd::{self, Reply};
use crate::server::Shared;
use crate::util::now_ms;

pub async fn serve(shared: Arc<Shared>, mut stream: TcpStream, addr: SocketAddr, id: u64) {
    let local = stream.local_addr().unwrap_or(addr);
    let kill = Arc::new(Notify::new());
    let (mut client, limits, mut timeout) = {
        let mut st = shared.state.lock();
        let now = now_ms();
        st.clients.insert(
            id,
            ClientInfo {
                id,
                fd: std::os::fd::AsRawFd::as_raw_fd(&stream),
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
                qbuf: 0,
                obuf: 0,
                is_replica: false,
                is_master: false,
            },
        );
        let auth = st.config.requirepass.is_none();
        let limits = Limits { max_bulk_len: st.config.proto_max_bulk_len, max_multibulk_len: MAX_MULTIBULK_LEN };
        (Client::new(id, addr, local, auth), limits, st.config.timeout)
    };
    let mut decoder = RequestDecoder::new(limits);
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut reply = Reply::new(false);

    'conn: loop {
        let want = decoder.wanted();
        if want > rbuf.len() {
            // A large bulk is on its way: make room for it at once.
            rbuf.reserve(want - rbuf.len());
        } else if rbuf.capacity() - rbuf.len() < 4096 {
            rbuf.reserve(16 * 1024);
        }
        // Subscribers wait for messages, not requests: the idle timeout does not apply to them.
        let idle_limit = if client.subscriptions > 0 { 0 } else { timeout };
        let read = async {
            if idle_limit > 0 {
                match tokio::time::timeout(Duration::from_secs(idle_limit), stream.read_buf(&mut rbuf)).await {
                    Ok(r) => r,
                    Err(_) => Ok(0),
                }
            } else {
                stream.read_buf(&mut rbuf).await
            }
        };
        let n = tokio::select! {
            r = read => match r { Ok(n) => n, Err(_) => 0 },
            _ = kill.notified() => {
                // Woken by another client: to be closed, or to deliver what it left us.
                let pending = {
                    let mut st = shared.state.lock();
                    match st.clients.get_mut(&id) {
                        Some(info) if !info.killed => std::mem::take(&mut info.outbox),
                        _ => break 'conn,
                    }
                };
                if !pending.is_empty() && stream.write_all(&pending).await.is_err() {
                    break 'conn;
                }
                continue 'conn;
            }
        };
        if n == 0 {
            break;
        }
        shared.state.lock().stats.net_input_bytes += n as u64;
        // Run what arrived; a huge pipeline is answered in chunks of about 1 MB.
        loop {
            let before = rbuf.len();
            timeout = run_batch(&shared, &mut decoder, &mut rbuf, &mut client, &mut reply);
            if !reply.is_empty() {
                if stream.write_all(&reply.buf).await.is_err() {
                    break 'conn;
                }
                reply.buf.clear();
                if reply.buf.capacity() > 1 << 20 {
                    reply.buf = BytesMut::with_capacity(16 * 1024);
                }
            }
            if client.close_after_reply {
                break 'conn;
            }
            if rbuf.is_empty() || rbuf.len() == before {
                break;
            }
        }
    }
    let _ = stream.shutdown().await;
    let mut st = shared.state.lock();
    crate::cmd::tx::unwatch_all(&mut st, &mut client);
    st.pubsub.remove_client(id);
    st.clients.remove(&id);
}

/// Decodes and executes every complete request in `rbuf` under one lock acquisition, stopping
/// early when the reply grows past 1 MB or the client must be closed. Returns the idle timeout
/// in force (CONFIG SET may have changed it, and `proto-max-bulk-len`, which is applied here).
fn run_batch(shared: &Shared, decoder: &mut RequestDecoder, rbuf: &mut BytesMut, client: &mut Client, reply: &mut Reply) -> u64 {
    let mut st = shared.state.lock();
    decoder.limits.max_bulk_len = st.config.proto_max_bulk_len;
    let id = client.id;
    // Messages that arrived for us go out before the replies of this batch.
    if let Some(info) = st.clients.get_mut(&id) {
        if !info.outbox.is_empty() {
            reply.raw(&std::mem::take(&mut info.outbox));
        }
    }
    let mut last_cmd = None;
    let mut args = Vec::with_capacity(8);
    loop {
        reply.resp3 = client.resp3;
        match decoder.decode_into(rbuf, &mut args) {
            Ok(true) => {
                cmd::execute(&mut st, client, &args, reply);
                last_cmd = args.first().cloned();
                if client.close_after_reply || reply.len() > 1 << 20 {
                    break;
                }
            }
            Ok(false) => break,
            Err(e) => {
                reply.error(&format!("ERR {e}"));
                tracing::debug!(client = %client.addr, "protocol error: {e}");
                client.close_after_reply = true;
                break;
            }
        }
    }
    st.stats.net_output_bytes += reply.len() as u64;
    let now = st.now_ms;
    if let Some(info) = st.clients.get_mut(&id) {
        info.last_interaction_ms = now;
        info.db = client.db;
        info.resp = if client.resp3 { 3 } else { 2 };
        info.qbuf = rbuf.len();
        if let Some(name) = last_cmd {
            if !info.last_cmd.as_bytes().eq_ignore_ascii_case(&name) {
                info.last_cmd = String::from_utf8_lossy(&name).to_ascii_lowercase();
            }
        }
        if info.killed {
            client.close_after_reply = true;
        }
    }
    st.config.timeout
}
