//! Per-connection client state, and the registry CLIENT LIST/KILL read.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;

/// State of one connection, owned by its task.
pub struct Client {
    pub id: u64,
    pub addr: SocketAddr,
    pub local_addr: SocketAddr,
    /// Selected database.
    pub db: usize,
    /// RESP3 negotiated with `HELLO 3`.
    pub resp3: bool,
    pub authenticated: bool,
    /// Close the connection after the pending replies are written (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// Commands queued since MULTI.
    pub multi: Option<Multi>,
    /// Keys under WATCH: (db, key).
    pub watching: Vec<(usize, Bytes)>,
    /// Channel plus pattern subscriptions (RESP2 clients are restricted while non-zero).
    pub subscriptions: usize,
    /// True while running commands on behalf of EXEC or a script (no queuing, no blocking).
    pub nested: bool,
    /// Set by a blocking command that found nothing: keys and timeout (ms, 0 = forever).
    pub block_request: Option<(Vec<Bytes>, i64)>,
    /// A request held back while clients are paused (CLIENT PAUSE).
    pub held: Option<Vec<Bytes>>,
    /// CLIENT REPLY OFF.
    pub reply_off: bool,
    /// CLIENT REPLY SKIP was just sent: drop the reply of the next command.
    pub skip_next_reply: bool,
    /// The reply of the command being run is dropped (the one after CLIENT REPLY SKIP).
    pub skip_this_reply: bool,
    /// The link to our master: its writes pass the read-only check.
    pub master_link: bool,
    /// Left by a slot migration command: run by the connection task without the state lock.
    pub job: Option<crate::migrate::Job>,
}

/// A transaction being queued.
#[derive(Default)]
pub struct Multi {
    pub queued: Vec<Vec<Bytes>>,
    /// A queued command was rejected: EXEC must fail with EXECABORT.
    pub aborted: bool,
}

impl Client {
    pub fn new(id: u64, addr: SocketAddr, local_addr: SocketAddr, authenticated: bool) -> Client {
        Client {
            id,
            addr,
            local_addr,
            db: 0,
            resp3: false,
            authenticated,
            close_after_reply: false,
            multi: None,
            watching: Vec::new(),
            subscriptions: 0,
            nested: false,
            block_request: None,
            held: None,
            reply_off: false,
            skip_next_reply: false,
            skip_this_reply: false,
            master_link: false,
            job: None,
        }
    }
}

/// What the server knows about every connected client (CLIENT LIST, CLIENT KILL, INFO).
pub struct ClientInfo {
    pub id: u64,
    /// Socket file descriptor (CLIENT LIST `fd=`).
    pub fd: i32,
    pub addr: SocketAddr,
    pub local_addr: SocketAddr,
    pub name: Vec<u8>,
    pub db: usize,
    pub created_ms: i64,
    pub last_interaction_ms: i64,
    pub last_cmd: String,
    pub resp: u8,
    /// Wakes the connection task: to close it (`killed`: CLIENT KILL, SHUTDOWN, output buffer
    /// limits) or to write what other clients left in its `outbox`.
    pub kill: Arc<Notify>,
    pub killed: bool,
    /// Replies and pushes produced for this client by others (Pub/Sub messages, keyspace
    /// notifications, a blocked command served by another client's write, the replication
    /// stream). Shared with the connection task, which drains it without the state lock.
    pub outbox: Arc<Outbox>,
    /// When the outbox went over the soft output-buffer limit (ms), for `soft_seconds`.
    pub soft_limit_since: Option<i64>,
    /// A watched key was modified: the next EXEC fails.
    pub dirty_cas: bool,
    /// Set when a blocked client's wait ended (its task reads and clears it).
    pub unblocked: Option<crate::blocking::Unblocked>,
    /// Size of the last read buffer and pending output (INFO clients).
    pub qbuf: usize,
    pub obuf: usize,
    pub is_replica: bool,
    pub is_master: bool,
}

impl ClientInfo {
    /// The registry entry of a connection that just arrived.
    pub fn new(
        id: u64,
        fd: i32,
        addr: SocketAddr,
        local_addr: SocketAddr,
        kill: Arc<Notify>,
        now_ms: i64,
    ) -> ClientInfo {
        let outbox = Arc::new(Outbox::new(kill.clone()));
        ClientInfo {
            id,
            fd,
            addr,
            local_addr,
            name: Vec::new(),
            db: 0,
            created_ms: now_ms,
            last_interaction_ms: now_ms,
            last_cmd: "NULL".into(),
            resp: 2,
            kill,
            killed: false,
            outbox,
            soft_limit_since: None,
            dirty_cas: false,
            unblocked: None,
            qbuf: 0,
            obuf: 0,
            is_replica: false,
            is_master: false,
        }
    }
}

impl ClientInfo {
    /// Marks the client for closing and wakes its connection task.
    pub fn kill(&mut self) {
        self.killed = true;
        self.outbox.close();
        self.kill.notify_one();
    }
}

/// Pending output written by other clients. Its own small lock lets a subscriber's connection
/// collect its messages without contending for the server state with the publishers.
///
/// While the connection task waits for input with nothing left to write (*idle*), the fan-out
/// flusher may write messages straight into the socket instead of waking the task (Redis writes
/// every subscriber's socket from its one loop; waking one task per subscriber costs more than
/// the write). Order is kept because the task clears `idle` before it writes anything of its
/// own, and sets it again only once `buf` is empty: bytes go either directly to an idle socket
/// or through `buf`, never both at once.
///
/// The direct write itself happens outside `inner` (a publisher pushing under the state lock
/// must not wait for a system call), under `sock`: the task takes `sock` before it takes the
/// socket back (`disarm`, `detach`), so it never writes while a direct write is in flight, and
/// the socket stays open until that write is over.
pub struct Outbox {
    inner: parking_lot::Mutex<OutState>,
    /// Held while writing into the socket on the task's behalf (lock order: `sock`, then `inner`).
    sock: parking_lot::Mutex<()>,
    closed: std::sync::atomic::AtomicBool,
    /// The client speaks RESP3 (a copy of `ClientInfo::resp`, read by PUBLISH without the
    /// client registry).
    resp3: std::sync::atomic::AtomicBool,
    /// A copy of `ClientInfo::soft_limit_since.is_some()`: PUBLISH looks the client up for the
    /// output-buffer limits only when this is set or the outbox is over a limit.
    over_soft: std::sync::atomic::AtomicBool,
    /// The connection task's wake-up (the same as `ClientInfo::kill`).
    wake: Arc<Notify>,
}

struct OutState {
    buf: BytesMut,
    /// The task waits for input and `buf` is empty: the socket may be written directly.
    idle: bool,
    /// The socket, while the connection lives (-1 before and after).
    fd: std::os::fd::RawFd,
    /// Listed in `State::flush_queue` for a direct write after the publisher's batch.
    queued: bool,
}

/// What a push found (see [`Outbox::push_deferred`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Appended; the task is busy and writes it before it waits again.
    Busy,
    /// Appended; the task is idle: the caller flushes it (list it once, see `queued`).
    Flush,
    /// Appended; already listed for a flush.
    Queued,
}

impl Default for Outbox {
    fn default() -> Outbox {
        Outbox::new(Arc::new(Notify::new()))
    }
}

impl Outbox {
    pub fn new(wake: Arc<Notify>) -> Outbox {
        Outbox {
            inner: parking_lot::Mutex::new(OutState { buf: BytesMut::new(), idle: false, fd: -1, queued: false }),
            sock: parking_lot::Mutex::new(()),
            closed: std::sync::atomic::AtomicBool::new(false),
            resp3: std::sync::atomic::AtomicBool::new(false),
            over_soft: std::sync::atomic::AtomicBool::new(false),
            wake,
        }
    }

    /// An outbox nobody drains (a subscriber without a registry entry): pushes are dropped.
    pub fn detached() -> Outbox {
        let o = Outbox::default();
        o.closed.store(true, std::sync::atomic::Ordering::Release);
        o
    }

    /// Wakes the connection task (to write what is pending).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn resp3(&self) -> bool {
        self.resp3.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_resp3(&self, resp3: bool) {
        self.resp3.store(resp3, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn over_soft(&self) -> bool {
        self.over_soft.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_over_soft(&self, over: bool) {
        self.over_soft.store(over, std::sync::atomic::Ordering::Relaxed);
    }

    /// Appends bytes; returns the pending length.
    pub fn push(&self, bytes: &[u8]) -> usize {
        let mut b = self.inner.lock();
        b.buf.extend_from_slice(bytes);
        b.buf.len()
    }

    /// Appends bytes meant for a direct write; returns the pending length and whether the
    /// caller must [`flush`](Self::flush) (or wake the task).
    pub fn push_deferred(&self, bytes: &[u8]) -> (usize, Pushed) {
        let mut b = self.inner.lock();
        b.buf.extend_from_slice(bytes);
        let how = if !b.idle {
            Pushed::Busy
        } else if b.queued {
            Pushed::Queued
        } else {
            b.queued = true;
            Pushed::Flush
        };
        (b.buf.len(), how)
    }

    /// Writes what is pending straight into the idle socket, without blocking. What the socket
    /// does not take is left for the task, which is woken (and no longer idle). `scratch` is an
    /// empty buffer the pending bytes are swapped with (so the write needs no lock publishers
    /// take); it is handed back empty.
    pub fn flush(&self, scratch: &mut BytesMut) {
        let sock = self.sock.lock();
        let fd = {
            let mut b = self.inner.lock();
            b.queued = false;
            if b.buf.is_empty() || !b.idle || self.is_closed() {
                return;
            }
            if b.fd < 0 {
                b.idle = false;
                drop(b);
                drop(sock);
                self.wake.notify_one();
                return;
            }
            std::mem::swap(&mut b.buf, scratch);
            b.fd
        };
        // SAFETY: `fd` is the connection's open socket: the task takes `sock` (held here) to
        // reset it to -1 before the socket is closed. MSG_DONTWAIT: never blocks; MSG_NOSIGNAL:
        // a closed peer gives EPIPE, not SIGPIPE.
        let n =
            unsafe { libc::send(fd, scratch.as_ptr().cast(), scratch.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
        let sent = if n > 0 { n as usize } else { 0 };
        if sent == scratch.len() {
            scratch.clear();
            return;
        }
        // Would block, partial or failed: the rest goes back in front of what was pushed
        // meanwhile, and the task writes it (or meets the error).
        bytes::Buf::advance(scratch, sent);
        let mut b = self.inner.lock();
        if !self.is_closed() {
            scratch.extend_from_slice(&b.buf);
            std::mem::swap(&mut b.buf, scratch);
        }
        scratch.clear();
        b.idle = false;
        drop(b);
        drop(sock);
        self.wake.notify_one();
    }

    /// The task answered a batch and will wait for input next: `reply` joins what is pending
    /// and the outbox turns idle, so the next flush writes it. Returns whether the caller must
    /// list the outbox for that flush (it is not listed yet), or `None` when the socket is
    /// gone and the task must write (and fail) itself.
    /// `reply` is left empty (swapped with the pending buffer when nothing else is pending).
    pub fn defer(&self, reply: &mut BytesMut) -> Option<bool> {
        let mut b = self.inner.lock();
        if b.fd < 0 || self.is_closed() {
            return None;
        }
        if b.buf.is_empty() {
            std::mem::swap(&mut b.buf, reply);
        } else {
            b.buf.extend_from_slice(reply);
        }
        reply.clear();
        b.idle = true;
        let list = !b.queued;
        b.queued = true;
        Some(list)
    }

    /// Leaves what is pending to the connection task (no direct write will happen).
    pub fn hand_to_task(&self) {
        let mut b = self.inner.lock();
        b.queued = false;
        b.idle = false;
        drop(b);
        self.wake.notify_one();
    }

    /// The task is about to wait for input: returns what is pending (to write first), or
    /// marks the outbox idle when nothing is.
    pub fn arm(&self) -> Option<BytesMut> {
        let mut b = self.inner.lock();
        if b.buf.is_empty() {
            b.idle = true;
            None
        } else {
            b.idle = false;
            Some(std::mem::take(&mut b.buf))
        }
    }

    /// The task woke up: from now on only it writes to the socket, until the next `arm`. Waits
    /// for a direct write in flight to end (what it could not write is then back in `buf`).
    pub fn disarm(&self) {
        let _sock = self.sock.lock();
        self.inner.lock().idle = false;
    }

    /// Lets publishers write to this socket (while idle).
    pub fn attach(&self, fd: std::os::fd::RawFd) {
        self.inner.lock().fd = fd;
    }

    /// The socket is about to close: no direct writes from now on.
    pub fn detach(&self) {
        let _sock = self.sock.lock();
        let mut b = self.inner.lock();
        b.fd = -1;
        b.idle = false;
    }

    pub fn take(&self) -> BytesMut {
        std::mem::take(&mut self.inner.lock().buf)
    }

    pub fn len(&self) -> usize {
        self.inner.lock().buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        self.inner.lock().buf.clear();
    }

    /// The client is being closed: drop what is pending.
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::Release);
        self.inner.lock().buf = BytesMut::new();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }
}
