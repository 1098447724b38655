//! Connections to the codis-servers.
//!
//! A [`BackendConn`] is one TCP connection to one server for one database, shared by every
//! session. Sessions append encoded requests to its queue (one short lock, no task hop) and one
//! task per connection writes the queue in batches and reads the replies, handing each one to the
//! session that asked, in order. A [`SharedBackend`] holds the connections to one address
//! (`backend_number_databases` × parallel), and a [`Pool`] shares them between slots.

use std::collections::{HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use compat::resp::{write, ReplyScanner};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::config::Config;
use crate::error::BackendError;
use crate::router::SlotRoute;
use crate::sink::{Delivery, Sink, Target};

const STATE_DOWN: u8 = 0;
const STATE_CONNECTED: u8 = 1;
/// The server said MASTERDOWN or LOADING: reads avoid it until an INFO shows it recovered.
const STATE_DATA_STALE: u8 = 2;

/// A request written (or about to be written) to a backend, waiting for its reply.
pub struct Pending {
    pub target: Target,
    /// Held until the reply arrives, so a slot being refilled can wait for its requests.
    pub guard: Guard,
}

/// The routes a request in flight keeps alive (see [`crate::router::Router`]'s refills).
pub enum Guard {
    None,
    One(Arc<SlotRoute>),
    /// A request carrying keys of several slots (a grouped MSET).
    Many(Vec<Arc<SlotRoute>>),
}

impl Pending {
    fn answer(self, reply: Result<Bytes, BackendError>) {
        self.target.send(reply);
    }
}

#[derive(Default)]
struct Queue {
    /// Encoded requests not yet taken by the connection task.
    out: BytesMut,
    pending: VecDeque<Pending>,
    /// The encoded length of each request in `pending` (0: part of a batch), kept only when
    /// unsent requests are handed back for the failover hold.
    lens: VecDeque<usize>,
    /// The task is parked waiting for requests.
    waker: Option<Waker>,
    closed: bool,
    /// Between failed connection attempts requests are refused at once.
    refusing: bool,
}

pub struct BackendConn {
    pub addr: String,
    pub database: u32,
    /// Requests never written when the connection fails are answered `NotSent` with their
    /// bytes (backend_failover_hold), instead of `Reset`.
    hand_back: bool,
    state: AtomicU8,
    queue: Mutex<Queue>,
}

impl BackendConn {
    fn new(addr: &str, database: u32, hand_back: bool) -> Arc<BackendConn> {
        Arc::new(BackendConn {
            addr: addr.to_string(),
            database,
            hand_back,
            state: AtomicU8::new(STATE_DOWN),
            queue: Mutex::new(Queue::default()),
        })
    }

    pub fn is_connected(&self) -> bool {
        self.state.load(Ordering::Acquire) == STATE_CONNECTED
    }

    /// Queues one request: `encode` appends its bytes. If the connection is closed or between
    /// reconnection attempts the request is answered with `backend conn reset` at once.
    pub fn push(&self, encode: impl FnOnce(&mut BytesMut), pending: Pending) {
        let mut q = self.queue.lock();
        if q.closed || q.refusing {
            drop(q);
            pending.answer(Err(BackendError::Reset));
            return;
        }
        let before = q.out.len();
        encode(&mut q.out);
        q.pending.push_back(pending);
        if self.hand_back {
            let len = q.out.len() - before;
            q.lens.push_back(len);
        }
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Queues several requests at once, contiguously: no other request can come between them
    /// (a MULTI ... EXEC block on a shared connection).
    pub fn push_batch(&self, encode: impl FnOnce(&mut BytesMut), pendings: impl IntoIterator<Item = Pending>) {
        let mut q = self.queue.lock();
        if q.closed || q.refusing {
            drop(q);
            for p in pendings {
                p.answer(Err(BackendError::Reset));
            }
            return;
        }
        encode(&mut q.out);
        let n = q.pending.len();
        q.pending.extend(pendings);
        if self.hand_back {
            let added = q.pending.len() - n;
            q.lens.extend(std::iter::repeat_n(0, added));
        }
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Number of requests queued but not yet written.
    pub fn queued(&self) -> usize {
        self.queue.lock().pending.len()
    }

    fn close(&self) {
        let waker = {
            let mut q = self.queue.lock();
            q.closed = true;
            q.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn is_closed(&self) -> bool {
        self.queue.lock().closed
    }

    /// Answers every queued request with `err`.
    fn fail_queued(&self, err: &BackendError) {
        let (mut out, pending, lens) = {
            let mut q = self.queue.lock();
            (std::mem::take(&mut q.out), std::mem::take(&mut q.pending), std::mem::take(&mut q.lens))
        };
        if !self.hand_back || lens.len() != pending.len() {
            for p in pending {
                p.answer(Err(err.clone()));
            }
            return;
        }
        for (p, len) in pending.into_iter().zip(lens) {
            let bytes = out.split_to(len.min(out.len())).freeze();
            match (&p.target, &p.guard, len) {
                (Target::Session { .. }, Guard::One(route), 1..) => {
                    let slot = route.id;
                    p.answer(Err(BackendError::NotSent(bytes, slot)))
                }
                _ => p.answer(Err(err.clone())),
            }
        }
    }

    /// Keep-alive: a PING when idle, or an INFO to leave the data-stale state once the server
    /// has finished loading and its master link is up (Go's `BackendConn.KeepAlive`).
    pub fn keep_alive(self: &Arc<Self>) {
        if self.queued() != 0 {
            return;
        }
        match self.state.load(Ordering::Acquire) {
            STATE_DATA_STALE => {
                let (tx, rx) = oneshot::channel();
                self.push(
                    |out| encode_command(out, &[b"INFO".as_slice()]),
                    Pending { target: Target::Oneshot(tx), guard: Guard::None },
                );
                let conn = self.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(reply)) = rx.await {
                        if info_says_ready(&reply) {
                            let _ = conn.state.compare_exchange(
                                STATE_DATA_STALE,
                                STATE_CONNECTED,
                                Ordering::AcqRel,
                                Ordering::Acquire,
                            );
                            tracing::warn!(addr = %conn.addr, db = conn.database, "backend conn state = Connected (keepalive)");
                        }
                    }
                });
            }
            _ => self.push(
                |out| encode_command(out, &[b"PING".as_slice()]),
                Pending { target: Target::Discard, guard: Guard::None },
            ),
        }
    }
}

/// True when an INFO reply shows neither `loading:1` nor `master_link_status:down`.
fn info_says_ready(reply: &[u8]) -> bool {
    let text = String::from_utf8_lossy(reply);
    !text.lines().any(|l| {
        let mut kv = l.splitn(2, ':');
        matches!(
            (kv.next().map(str::trim), kv.next().map(str::trim)),
            (Some("master_link_status"), Some("down")) | (Some("loading"), Some("1"))
        )
    }) && reply.first() == Some(&b'$')
}

/// Appends a multibulk request.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut BytesMut, args: &[A]) {
    write::header(out, b'*', args.len() as i64);
    for a in args {
        write::bulk(out, a.as_ref());
    }
}

/// The connection task: connect (AUTH, SELECT), serve until an error, answer what was in flight,
/// and reconnect, until the connection is closed and drained.
async fn run(conn: Arc<BackendConn>, config: Arc<Config>) {
    tracing::warn!(addr = %conn.addr, db = conn.database, "backend conn start service");
    let mut fails = 0u32;
    let mut delay_ms = 0u64;
    // A connection that was up failed: the next one must prove the server answers.
    let mut lost = false;
    loop {
        if conn.is_closed() {
            conn.fail_queued(&BackendError::Reset);
            break;
        }
        let result = match connect(&conn, &config, lost).await {
            Ok(stream) => {
                fails = 0;
                delay_ms = 0;
                conn.state.store(STATE_CONNECTED, Ordering::Release);
                let r = serve(&conn, &config, stream).await;
                conn.state.store(STATE_DOWN, Ordering::Release);
                lost = r.is_err();
                r
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => break,
            Err(e) => {
                if !conn.is_closed() {
                    tracing::warn!(addr = %conn.addr, db = conn.database, error = %e, "backend conn failed");
                }
                conn.fail_queued(&BackendError::Reset);
            }
        }
        // Go retries ten times at once, then waits 50 ms doubling up to 5 s, refusing requests
        // meanwhile.
        fails += 1;
        if fails > 10 {
            delay_ms = (delay_ms * 2).clamp(50, 5000);
            conn.queue.lock().refusing = true;
            conn.fail_queued(&BackendError::Reset);
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            conn.queue.lock().refusing = false;
        } else {
            tokio::task::yield_now().await;
        }
    }
    tracing::warn!(addr = %conn.addr, db = conn.database, "backend conn stop and exit");
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnError {
    #[error("connect: {0}")]
    Connect(io::Error),
    #[error("{what} failed: {msg}")]
    Handshake { what: &'static str, msg: String },
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server closed the connection (Go's `io.EOF`, which its messages print as `EOF`).
    #[error("EOF")]
    Eof,
    #[error("bad reply from backend: {0}")]
    Protocol(String),
    #[error("backend sent a reply nobody asked for")]
    Unexpected,
    #[error("no reply within {0:?}")]
    Timeout(Duration),
}

/// Connects for the connection task. After a lost connection, a server killed a moment ago may
/// still complete a connection from its listen backlog and reset it right after; requests
/// written there would fail although the server never saw them. So a reconnection that has no
/// AUTH or SELECT to confirm it sends a PING first, and the requests stay queued (held, with
/// `backend_failover_hold`) until the server answers.
async fn connect(conn: &BackendConn, config: &Config, verify: bool) -> Result<TcpStream, ConnError> {
    let mut stream = open(&conn.addr, conn.database, config).await?;
    if verify && config.product_auth.is_empty() && conn.database == 0 {
        // Any reply will do (a loading server answers -LOADING): it is alive.
        read_reply(&mut stream, &[b"PING".as_slice()]).await?;
    }
    Ok(stream)
}

/// Connects to `addr` and authenticates and selects `database` as the proxy's connections do.
pub(crate) async fn open(addr: &str, database: u32, config: &Config) -> Result<TcpStream, ConnError> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| ConnError::Connect(io::Error::new(io::ErrorKind::TimedOut, "connect timeout")))?
        .map_err(ConnError::Connect)?;
    stream.set_nodelay(true)?;
    let sock = socket2::SockRef::from(&stream);
    if !config.backend_keepalive_period.is_zero() {
        let ka = socket2::TcpKeepalive::new().with_time(config.backend_keepalive_period);
        let _ = sock.set_tcp_keepalive(&ka);
    }
    let _ = sock.set_recv_buffer_size(config.backend_recv_bufsize);
    let _ = sock.set_send_buffer_size(config.backend_send_bufsize);
    let mut stream = stream;
    if !config.product_auth.is_empty() {
        handshake(&mut stream, &[b"AUTH".as_slice(), config.product_auth.as_bytes()], "AUTH").await?;
    }
    if database != 0 {
        let db = database.to_string();
        handshake(&mut stream, &[b"SELECT".as_slice(), db.as_bytes()], "SELECT").await?;
    }
    Ok(stream)
}

/// Sends one command and expects a status reply.
async fn handshake(stream: &mut TcpStream, args: &[&[u8]], what: &'static str) -> Result<(), ConnError> {
    let reply = read_reply(stream, args).await?;
    match reply.first() {
        Some(b'+') => Ok(()),
        _ => Err(ConnError::Handshake { what, msg: String::from_utf8_lossy(&reply).trim_end().to_string() }),
    }
}

/// Sends one command and reads its reply, whatever it is.
async fn read_reply(stream: &mut TcpStream, args: &[&[u8]]) -> Result<BytesMut, ConnError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut out = BytesMut::new();
    encode_command(&mut out, args);
    stream.write_all(&out).await?;
    let mut buf = BytesMut::with_capacity(256);
    let mut scanner = ReplyScanner::new();
    let n = loop {
        if let Some(n) = scanner.scan(&buf).map_err(|e| ConnError::Protocol(e.to_string()))? {
            break n;
        }
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_buf(&mut buf))
            .await
            .map_err(|_| ConnError::Timeout(Duration::from_secs(5)))??;
        if read == 0 {
            return Err(ConnError::Eof);
        }
    };
    buf.truncate(n);
    Ok(buf)
}

/// One connected round: move queued requests to the socket and replies to their sessions.
/// Returns `Ok` only when the connection was closed and nothing is left in flight.
async fn serve(conn: &BackendConn, config: &Config, mut stream: TcpStream) -> Result<(), ConnError> {
    let mut io = ConnIo {
        wbuf: BytesMut::with_capacity(16 * 1024),
        rbuf: BytesMut::with_capacity(16 * 1024),
        inflight: VecDeque::new(),
        deliveries: Vec::new(),
        scanner: ReplyScanner::new(),
        max_pipeline: config.backend_max_pipeline.max(1),
        last_progress: Instant::now(),
    };
    let recv_timeout = config.backend_recv_timeout;
    let send_timeout = config.backend_send_timeout;
    let mut timer = Box::pin(tokio::time::sleep(Duration::from_secs(1)));
    let result = poll_fn(|cx| {
        // Time-outs are checked on a coarse one-second tick instead of per request.
        if timer.as_mut().poll(cx).is_ready() {
            let idle = io.last_progress.elapsed();
            if !io.wbuf.is_empty() && !send_timeout.is_zero() && idle > send_timeout {
                return Poll::Ready(Err(ConnError::Timeout(send_timeout)));
            }
            if !io.inflight.is_empty() && !recv_timeout.is_zero() && idle > recv_timeout {
                return Poll::Ready(Err(ConnError::Timeout(recv_timeout)));
            }
            timer.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(1));
            let _ = timer.as_mut().poll(cx);
        }
        io.poll(conn, &mut stream, cx)
    })
    .await;
    let err = match &result {
        Ok(()) => BackendError::Reset,
        Err(e) => BackendError::Failure(e.to_string()),
    };
    // The first request in flight learns the cause; the rest were merely cut off (as in Go).
    let mut first = true;
    for p in io.inflight.drain(..) {
        if first {
            p.answer(Err(err.clone()));
            first = false;
        } else {
            p.answer(Err(BackendError::Reset));
        }
    }
    result
}

struct ConnIo {
    wbuf: BytesMut,
    rbuf: BytesMut,
    inflight: VecDeque<Pending>,
    /// Replies on their way to one session's sink (kept for its allocation).
    deliveries: Vec<Delivery>,
    scanner: ReplyScanner,
    max_pipeline: usize,
    last_progress: Instant,
}

impl ConnIo {
    fn poll(
        &mut self,
        conn: &BackendConn,
        stream: &mut TcpStream,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), ConnError>> {
        // Bounded rounds, then yield, so one busy backend does not starve the worker.
        for _ in 0..64 {
            let mut progress = false;
            if self.wbuf.is_empty() && self.inflight.len() < self.max_pipeline {
                let mut q = conn.queue.lock();
                if q.out.is_empty() {
                    if q.closed && self.inflight.is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                    match &q.waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => q.waker = Some(cx.waker().clone()),
                    }
                } else {
                    std::mem::swap(&mut self.wbuf, &mut q.out);
                    if self.inflight.is_empty() {
                        // Swapping keeps both allocations and moves no entries.
                        std::mem::swap(&mut self.inflight, &mut q.pending);
                    } else {
                        self.inflight.extend(q.pending.drain(..));
                    }
                    q.lens.clear();
                    progress = true;
                }
            }
            while !self.wbuf.is_empty() {
                match Pin::new(&mut *stream).poll_write(cx, &self.wbuf) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into())),
                    Poll::Ready(Ok(n)) => {
                        self.wbuf.advance(n);
                        self.last_progress = Instant::now();
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                    Poll::Pending => break,
                }
            }
            if self.wbuf.is_empty() {
                // Keep the (swapped) buffer small for the next batch.
                self.wbuf.clear();
            }
            match self.poll_read(conn, stream, cx) {
                Poll::Ready(Ok(true)) => progress = true,
                Poll::Ready(Ok(false)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Reads once and hands every complete reply to its requester.
    fn poll_read(
        &mut self,
        conn: &BackendConn,
        stream: &mut TcpStream,
        cx: &mut Context<'_>,
    ) -> Poll<Result<bool, ConnError>> {
        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
            self.rbuf.reserve(16 * 1024);
        }
        let spare = self.rbuf.spare_capacity_mut();
        let mut rb = ReadBuf::uninit(spare);
        match Pin::new(&mut *stream).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Err(ConnError::Eof));
                }
                // SAFETY: poll_read initialised the first `n` bytes of the spare capacity.
                unsafe { self.rbuf.set_len(self.rbuf.len() + n) };
                self.last_progress = Instant::now();
                self.dispatch_replies(conn)?;
                Poll::Ready(Ok(true))
            }
        }
    }

    fn dispatch_replies(&mut self, conn: &BackendConn) -> Result<(), ConnError> {
        // Consecutive replies for one session (its pipelined requests sit together in the
        // queue) go into its sink under one lock, with at most one wake-up.
        let mut batch: Option<Arc<Sink>> = None;
        let result = self.scan_replies(conn, &mut batch);
        if let Some(sink) = batch {
            sink.deliver_all(&mut self.deliveries);
        }
        result
    }

    fn scan_replies(&mut self, conn: &BackendConn, batch: &mut Option<Arc<Sink>>) -> Result<(), ConnError> {
        while let Some(n) = self.scanner.scan(&self.rbuf).map_err(|e| ConnError::Protocol(e.to_string()))? {
            let reply = self.rbuf.split_to(n).freeze();
            if reply[0] == b'-' {
                note_stale(conn, &reply);
            }
            let Some(p) = self.inflight.pop_front() else { return Err(ConnError::Unexpected) };
            match p.target {
                Target::Session { sink, seq, part } => {
                    if batch.as_ref().is_some_and(|b| !Arc::ptr_eq(b, &sink)) {
                        if let Some(b) = batch.take() {
                            b.deliver_all(&mut self.deliveries);
                        }
                    }
                    if batch.is_none() {
                        *batch = Some(sink);
                    }
                    self.deliveries.push(Delivery { seq, part, reply: Ok(reply) });
                }
                target => target.send(Ok(reply)),
            }
        }
        Ok(())
    }
}

/// Marks a connection data-stale when a reply starts with MASTERDOWN or LOADING.
fn note_stale(conn: &BackendConn, reply: &[u8]) {
    if reply.starts_with(b"-MASTERDOWN") || reply.starts_with(b"-LOADING") {
        let _ = conn.state.compare_exchange(STATE_CONNECTED, STATE_DATA_STALE, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// The connections to one server: `[database][parallel]`. Dropping the last reference closes
/// them (their tasks finish what is in flight first).
pub struct SharedBackend {
    pub addr: String,
    pub host: Bytes,
    pub port: Bytes,
    /// `[worker][database][parallel]`: with per-core workers ([`crate::percore`]) each worker
    /// thread has connections of its own, driven by its own runtime; otherwise one set.
    conns: Vec<Vec<Vec<Arc<BackendConn>>>>,
}

impl SharedBackend {
    fn new(addr: &str, parallel: usize, config: &Arc<Config>) -> SharedBackend {
        let (host, port) = match addr.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.to_string()),
            None => {
                tracing::error!(addr, "split host-port failed");
                (addr.to_string(), String::new())
            }
        };
        let workers = crate::percore::handles();
        let spawn_on = |w: usize, c: Arc<BackendConn>| {
            let task = run(c, config.clone());
            match workers.get(w) {
                Some(h) => drop(h.spawn(task)),
                None => drop(tokio::spawn(task)),
            }
        };
        let conns = (0..workers.len().max(1))
            .map(|w| {
                (0..config.backend_number_databases.max(1))
                    .map(|db| {
                        (0..parallel.max(1))
                            .map(|_| {
                                let c = BackendConn::new(addr, db, !config.features.failover_hold.is_zero());
                                spawn_on(w, c.clone());
                                c
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        SharedBackend { addr: addr.to_string(), host: Bytes::from(host), port: Bytes::from(port), conns }
    }

    /// A connection for `database`. With `must`, a disconnected one is returned rather than
    /// none (the request then waits for the reconnection or fails with it); without, only a
    /// connected one will do (replicas, addressed PING/INFO).
    pub fn conn(&self, database: u32, seed: u32, must: bool) -> Option<&Arc<BackendConn>> {
        let mine = self.conns.get(crate::percore::current()).or_else(|| self.conns.first())?;
        let parallel = mine.get(database as usize)?;
        if parallel.len() == 1 {
            let c = &parallel[0];
            return (must || c.is_connected()).then_some(c);
        }
        let n = parallel.len();
        for k in 0..n {
            let c = &parallel[(seed as usize + 1 + k) % n];
            if c.is_connected() {
                return Some(c);
            }
        }
        must.then(|| &parallel[0])
    }

    /// Pings the connections of the calling worker (each worker has its own ticker).
    pub fn keep_alive(&self) {
        let mine = self.conns.get(crate::percore::current()).or_else(|| self.conns.first());
        for c in mine.into_iter().flatten().flatten() {
            c.keep_alive();
        }
    }
}

impl Drop for SharedBackend {
    fn drop(&mut self) {
        for c in self.conns.iter().flatten().flatten() {
            c.close();
        }
    }
}

/// Shared backends by address, so slots on the same server share connections.
pub struct Pool {
    parallel: usize,
    config: Arc<Config>,
    map: Mutex<HashMap<String, Weak<SharedBackend>>>,
}

impl Pool {
    pub fn new(config: Arc<Config>, parallel: usize) -> Pool {
        Pool { parallel: parallel.max(1), config, map: Mutex::new(HashMap::new()) }
    }

    /// The shared backend for `addr`, created on first use.
    pub fn retain(&self, addr: &str) -> Arc<SharedBackend> {
        let mut map = self.map.lock();
        if let Some(b) = map.get(addr).and_then(Weak::upgrade) {
            return b;
        }
        let b = Arc::new(SharedBackend::new(addr, self.parallel, &self.config));
        map.insert(addr.to_string(), Arc::downgrade(&b));
        map.retain(|_, w| w.strong_count() > 0);
        b
    }

    /// The backend for `addr` if some slot uses it.
    pub fn get(&self, addr: &str) -> Option<Arc<SharedBackend>> {
        self.map.lock().get(addr).and_then(Weak::upgrade)
    }

    pub fn all(&self) -> Vec<Arc<SharedBackend>> {
        self.map.lock().values().filter_map(Weak::upgrade).collect()
    }
}
