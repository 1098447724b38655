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

use crate::blocking::Unblocked;
use crate::client::{Client, ClientInfo};
use crate::cmd::{self, Reply};
use crate::scripting;
use crate::server::{Shared, StateGuard};
use crate::util::now_ms;

pub async fn serve(shared: Arc<Shared>, mut stream: TcpStream, addr: SocketAddr, id: u64) {
    let local = stream.local_addr().unwrap_or(addr);
    let kill = Arc::new(Notify::new());
    let outbox: Arc<crate::client::Outbox>;
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut client = Client::new(id, addr, local, false);
    // While a script runs past lua-time-limit, a new client is answered BUSY until it ends.
    let (limits, mut timeout) = {
        let mut st = loop {
            if let Some(st) = scripting::lock_or_busy(&shared).await {
                break st;
            }
            if !scripting::serve_busy(&shared, &mut stream, &mut decoder, &mut rbuf, &mut client).await {
                return;
            }
        };
        let now = now_ms();
        st.clients
            .insert(id, ClientInfo::new(id, std::os::fd::AsRawFd::as_raw_fd(&stream), addr, local, kill.clone(), now));
        outbox = st.clients.get(&id).map(|c| c.outbox.clone()).unwrap_or_default();
        outbox.attach(std::os::fd::AsRawFd::as_raw_fd(&stream));
        client.authenticated = st.config.requirepass.is_none();
        let limits = Limits { max_bulk_len: st.config.proto_max_bulk_len, max_multibulk_len: MAX_MULTIBULK_LEN };
        (limits, st.config.timeout)
    };
    decoder.limits = limits;
    let mut reply = Reply::new(false);
    // One registration with the wake-up notifier, renewed only when it fires: registering
    // anew on every read would take the notifier's lock once per request.
    let mut woken = std::pin::pin!(kill.notified());
    let mut in_bytes = 0u64;
    // Requests read while a script kept the client from registering are run first.
    let mut buffered = !rbuf.is_empty();
    // Outboxes of idle subscribers this connection's batch published to, for the fan-out.
    let mut flushes = Vec::new();

    // The last batch's reply was left for the park hook (net::deferred): the outbox is idle.
    let mut deferred = false;

    'conn: loop {
        if !buffered && !std::mem::take(&mut deferred) {
            // Before waiting for input: write what others left us; with nothing left,
            // publishers may write into our socket directly until we wake up.
            if let Some(pending) = outbox.arm() {
                if !write_watching(&mut stream, &pending, &outbox, &kill, &mut woken).await {
                    break 'conn;
                }
                continue 'conn;
            }
        }
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
            if std::mem::take(&mut buffered) {
                return Ok(rbuf.len());
            }
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
            r = read => r.unwrap_or_default(),
            _ = &mut woken => {
                woken.set(kill.notified());
                outbox.disarm();
                // Woken by another client: to be closed, or to deliver what it left us
                // (written at the top of the loop, without taking the state lock).
                if outbox.is_closed() {
                    break 'conn;
                }
                continue 'conn;
            }
        };
        // Only this task writes to the socket until it waits again.
        outbox.disarm();
        if n == 0 {
            // A client that half-closed after its last request still gets the reply.
            let _ = write_pending(&mut stream, &outbox).await;
            break;
        }
        in_bytes += n as u64;
        // Run what arrived; a huge pipeline is answered in chunks of about 1 MB.
        loop {
            let before = rbuf.len();
            let (blocked, paused);
            let ran = match scripting::lock_or_busy(&shared).await {
                Some(mut st) => {
                    st.stats.net_input_bytes += std::mem::take(&mut in_bytes);
                    Some(run_batch(st, &mut decoder, &mut rbuf, &mut client, &mut reply, &mut flushes))
                }
                None => None,
            };
            let Some(ran) = ran else {
                // A script runs past lua-time-limit: answered without the lock (BUSY), after
                // the replies still waiting in the outbox.
                if !write_pending(&mut stream, &outbox).await {
                    break 'conn;
                }
                if !scripting::serve_busy(&shared, &mut stream, &mut decoder, &mut rbuf, &mut client).await {
                    break 'conn;
                }
                continue;
            };
            (timeout, blocked, paused) = ran;
            shared.fanout.submit(&mut flushes);
            let waits_next = !client.close_after_reply
                && client.job.is_none()
                && !blocked
                && !paused
                && (rbuf.is_empty() || rbuf.len() == before);
            if !reply.is_empty() {
                // Written with the other replies before the thread waits for events.
                if waits_next && shared.replies.defer(&outbox, &mut reply.buf) {
                    deferred = true;
                    break;
                }
                if !write_watching(&mut stream, &reply.buf, &outbox, &kill, &mut woken).await {
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
            if let Some(job) = client.job.take() {
                // Slot migration: talks to the target without the state lock; requests behind
                // it wait for its reply.
                let out = crate::migrate::run_job(&shared, job).await;
                if stream.write_all(&out).await.is_err() {
                    break 'conn;
                }
                continue;
            }
            if blocked {
                // Requests behind a blocking command wait until it is answered.
                if !wait_unblocked(&shared, &mut stream, &kill, &mut woken, id, client.resp3, &mut rbuf).await {
                    break 'conn;
                }
                continue;
            }
            if paused {
                // CLIENT PAUSE: try again shortly (UNPAUSE or the deadline ends it).
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            if rbuf.is_empty() || rbuf.len() == before {
                break;
            }
        }
    }
    outbox.detach();
    let _ = stream.shutdown().await;
    let mut st = scripting::lock_state(&shared).await;
    st.blocking.unblock(id);
    crate::cmd::tx::unwatch_all(&mut st, &mut client);
    st.pubsub.remove_client(id);
    st.monitors.retain(|&m| m != id);
    st.clients.remove(&id);
}

/// Writes what waits in the outbox (a reply left for the park hook, messages) before the
/// connection writes anything itself; false when the socket fails.
async fn write_pending(stream: &mut TcpStream, outbox: &crate::client::Outbox) -> bool {
    let pending = outbox.take();
    pending.is_empty() || stream.write_all(&pending).await.is_ok()
}

/// Writes `bytes`; false when the socket fails or the client is closed meanwhile (CLIENT KILL,
/// output buffer limits): a peer that stopped reading must not keep the connection, and its
/// subscriptions, alive. A wake-up that is not a close is left to the top of the loop, which
/// writes whatever the outbox holds before waiting again.
async fn write_watching<'k>(
    stream: &mut TcpStream,
    bytes: &[u8],
    outbox: &crate::client::Outbox,
    kill: &'k Notify,
    woken: &mut std::pin::Pin<&mut tokio::sync::futures::Notified<'k>>,
) -> bool {
    let mut off = 0;
    while off < bytes.len() {
        tokio::select! {
            r = stream.write(&bytes[off..]) => match r {
                Ok(0) | Err(_) => return false,
                Ok(n) => off += n,
            },
            _ = woken.as_mut() => {
                woken.set(kill.notified());
                if outbox.is_closed() {
                    return false;
                }
            }
        }
    }
    true
}

/// Decodes and executes every complete request in `rbuf` under one lock acquisition, stopping
/// early when the reply grows past 1 MB or the client must be closed. Returns the idle timeout
/// in force (CONFIG SET may have changed it, and `proto-max-bulk-len`, which is applied here).
fn run_batch(
    mut st: StateGuard<'_>,
    decoder: &mut RequestDecoder,
    rbuf: &mut BytesMut,
    client: &mut Client,
    reply: &mut Reply,
    flushes: &mut Vec<Arc<crate::client::Outbox>>,
) -> (u64, bool, bool) {
    decoder.limits.max_bulk_len = st.config.proto_max_bulk_len;
    st.collect_flushes = true;
    let id = client.id;
    // Messages that arrived for us go out before the replies of this batch.
    if let Some(info) = st.clients.get_mut(&id) {
        if !info.outbox.is_empty() {
            reply.raw(&info.outbox.take());
        }
    }
    let mut last_cmd = None;
    let mut args = Vec::with_capacity(8);
    let mut paused = false;
    loop {
        reply.resp3 = client.resp3;
        let next = match client.held.take() {
            Some(held) => {
                args = held;
                Ok(true)
            }
            None => decoder.decode_into(rbuf, &mut args),
        };
        match next {
            Ok(true) => {
                if st.pause_until_ms != 0 && cmd::is_paused(&st, &args, now_ms()) {
                    client.held = Some(std::mem::take(&mut args));
                    paused = true;
                    break;
                }
                cmd::execute(&mut st, client, &args, reply);
                last_cmd = args.first().cloned();
                if client.close_after_reply
                    || reply.len() > 1 << 20
                    || st.blocking.is_blocked(id)
                    || client.job.is_some()
                {
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
    st.collect_flushes = false;
    std::mem::swap(&mut st.flush_queue, flushes);
    st.stats.net_output_bytes += reply.len() as u64;
    let now = st.now_ms;
    if let Some(info) = st.clients.get_mut(&id) {
        info.last_interaction_ms = now;
        info.db = client.db;
        info.resp = if client.resp3 { 3 } else { 2 };
        info.outbox.set_resp3(client.resp3);
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
    (st.config.timeout, st.blocking.is_blocked(id), paused)
}

/// Waits until a blocked client is served, times out or is unblocked, writing whatever arrives
/// for it meanwhile. Returns false when the connection must close.
async fn wait_unblocked<'k>(
    shared: &Shared,
    stream: &mut TcpStream,
    kill: &'k Notify,
    woken: &mut std::pin::Pin<&mut tokio::sync::futures::Notified<'k>>,
    id: u64,
    resp3: bool,
    rbuf: &mut BytesMut,
) -> bool {
    loop {
        let deadline = scripting::lock_state(shared).await.blocking.get(id).map(|b| b.deadline_ms);
        let wait = match deadline {
            Some(d) if d > 0 => Duration::from_millis((d - now_ms()).max(0) as u64),
            _ => Duration::from_secs(3600),
        };
        tokio::select! {
            _ = woken.as_mut() => woken.set(kill.notified()),
            _ = tokio::time::sleep(wait) => {
                let mut st = scripting::lock_state(shared).await;
                let now = now_ms();
                cmd::expire_blocked(&mut st, now);
            }
            r = stream.read_buf(rbuf) => match r {
                // Keep what the client pipelines behind the blocking command for later.
                Ok(n) if n > 0 => continue,
                _ => return false,
            },
        }
        let (pending, outcome) = {
            let mut st = scripting::lock_state(shared).await;
            let Some(info) = st.clients.get_mut(&id) else { return false };
            if info.killed {
                return false;
            }
            (info.outbox.take(), info.unblocked.take())
        };
        let mut out = pending;
        let done = match outcome {
            None => false,
            Some(Unblocked::Served) => true,
            Some(Unblocked::TimedOut) => {
                out.extend_from_slice(&crate::blocking::timeout_reply(resp3));
                true
            }
            Some(Unblocked::Error(msg)) => {
                compat::resp::write::error(&mut out, msg.as_bytes());
                true
            }
        };
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return false;
        }
        if done {
            return true;
        }
    }
}
