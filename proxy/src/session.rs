//! One client connection.
//!
//! A single task reads requests, answers the ones the proxy handles itself, hands the rest to
//! backend connections and writes replies back strictly in request order. Each request gets a
//! sequence number and an [`Entry`] in a queue; backend replies land in the session's sink and
//! fill their entries; every entry that is complete at the head of the queue is written, many per
//! system call when the client pipelines.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use compat::resp::{write, Peek, Peeked, RequestDecoder};
use compat::slot::{slot_of, MAX_SLOT_NUM};

use crate::backend::{encode_command, Guard, Pending, SharedBackend};
use crate::error::{BackendError, RequestError};
use crate::forward::{forward_frame, queue, Origin};
use crate::listener::ClientIo;
use crate::mapper::{self, Ext, OpInfo, Special};
use crate::multikey::{merge, multikey_op, Merge};
use crate::proxy::Shared;
use crate::resp3::{self, Shape};
use crate::sink::{Delivery, Sink, Target, PUSH};

pub(crate) enum State {
    /// The reply is known; `failed` marks proxy-side failures (for session_break_on_failure).
    Done {
        reply: Bytes,
        failed: bool,
    },
    /// Waiting for one backend reply.
    Wait,
    Merge(Box<Merge>),
}

pub(crate) struct Entry {
    pub(crate) state: State,
    pub(crate) shape: Shape,
}

/// Why the session stopped reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Quit,
    Eof,
    TooManyPipelined,
    BreakOnFailure,
    Protocol,
    Timeout,
    /// A subscriber connection to a backend was lost: the client must subscribe again.
    SubscriberLost,
}

pub struct Session {
    pub(crate) shared: Arc<Shared>,
    pub(crate) sink: Arc<Sink>,
    id: u64,
    pub(crate) database: u32,
    authorized: bool,
    pub(crate) resp3: bool,
    seed: u32,
    pub(crate) entries: VecDeque<Entry>,
    /// Sequence number of `entries[0]`.
    base_seq: u64,
    deliveries: Vec<Delivery>,
    wbuf: BytesMut,
    pub(crate) stop: Option<Stop>,
    /// Extensions (docs/proxy-features.md), present only once used.
    pub(crate) pubsub: Option<Box<crate::pubsub::PubSub>>,
    pub(crate) tx: Option<Box<crate::txn::Tx>>,
    pub(crate) blocking: Vec<crate::dedicated::Dedicated>,
    /// Requests waiting for their backend to come back or be replaced (backend_failover_hold).
    pub(crate) held: Vec<crate::hold::HeldRequest>,
    ops: u64,
    flushed_ops: u64,
    fails: u64,
    errors: u64,
    cmds: crate::stats::SessionCmds,
    /// When the requests being handled were read.
    read_at: Instant,
    /// The last command name looked up (up to 16 bytes, as the client wrote it) and its entry:
    /// clients mostly repeat one command, and the table search costs more than this compare.
    last_op: ([u8; 16], usize, Option<OpInfo>),
}

pub(crate) fn err_reply(msg: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(msg.len() + 3);
    write::error(&mut out, msg.as_bytes());
    out.freeze()
}

pub(crate) const OK: &[u8] = b"+OK\r\n";

/// Go's `Btoi64` errors, as they appear after `parse slotnum '...' failed, `.
fn parse_go_int(b: &[u8]) -> Result<i64, String> {
    let s = String::from_utf8_lossy(b);
    let digits = s.strip_prefix(['+', '-']).unwrap_or(&s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("strconv.ParseInt: parsing {:?}: invalid syntax", s));
    }
    s.parse::<i64>().map_err(|_| format!("strconv.ParseInt: parsing {:?}: value out of range", s))
}

impl Session {
    pub fn new(shared: Arc<Shared>, id: u64) -> Session {
        Session {
            shared,
            sink: Sink::new(),
            id,
            database: 0,
            authorized: false,
            resp3: false,
            seed: (id as u32).wrapping_mul(0x9e37_0001) | 1,
            entries: VecDeque::new(),
            base_seq: 0,
            deliveries: Vec::new(),
            wbuf: BytesMut::new(),
            stop: None,
            pubsub: None,
            tx: None,
            blocking: Vec::new(),
            held: Vec::new(),
            ops: 0,
            flushed_ops: 0,
            fails: 0,
            errors: 0,
            cmds: Default::default(),
            read_at: Instant::now(),
            last_op: ([0; 16], 0, None),
        }
    }

    /// Serves the connection until the client leaves or the session must close.
    pub async fn run<S: ClientIo>(mut self, mut stream: S) {
        let result = self.serve(&mut stream).await;
        self.release_held();
        self.flush_stats();
        self.cmds.flush(&self.shared.stats, true);
        match result {
            Ok(stop) => tracing::info!(session = self.id, ops = self.ops, ?stop, "session closed"),
            Err(e) => tracing::info!(session = self.id, ops = self.ops, error = %e, "session closed"),
        }
    }

    async fn serve<S: ClientIo>(&mut self, stream: &mut S) -> std::io::Result<Stop> {
        let config = self.shared.config.clone();
        let sink = self.sink.clone();
        let mut rbuf = BytesMut::new();
        let mut decoder = RequestDecoder::default();
        let mut args: Vec<Bytes> = Vec::new();
        let mut frame: Option<Bytes> = None;
        let recv_timeout = config.session_recv_timeout;
        let mut last_read = Instant::now();
        let idle = tokio::time::sleep(if recv_timeout.is_zero() { Duration::from_secs(86400) } else { recv_timeout });
        tokio::pin!(idle);
        enum Event {
            Replies,
            Retry,
            Readable(std::io::Result<()>),
            Idle,
        }
        let mut last_retry = Instant::now();
        loop {
            if !self.held.is_empty() && last_retry.elapsed() >= crate::hold::RETRY_EVERY {
                self.retry_held().await;
                last_retry = Instant::now();
            }
            self.collect();
            if !self.wbuf.is_empty() {
                self.write_out(stream, config.session_send_timeout).await?;
            }
            if let Some(stop) = self.stop {
                let pushes_left = self.pubsub.as_ref().is_some_and(|p| p.subscribed()) && stop == Stop::Quit;
                if (self.entries.is_empty() && !pushes_left)
                    || matches!(stop, Stop::BreakOnFailure | Stop::Protocol | Stop::SubscriberLost)
                {
                    return Ok(stop);
                }
            }
            let reading = self.stop.is_none();
            let holding = !self.held.is_empty();
            // select! builds every branch's future even when its condition is false: a timer
            // is only made when requests are held (one clock read and handle lookup saved per
            // wake-up otherwise).
            let retry = async {
                if holding {
                    tokio::time::sleep(crate::hold::RETRY_EVERY).await
                } else {
                    std::future::pending().await
                }
            };
            let event = tokio::select! {
                biased;
                _ = sink.wait() => Event::Replies,
                r = std::future::poll_fn(|cx| stream.poll_read_ready(cx)), if reading => Event::Readable(r),
                _ = &mut idle, if reading && !recv_timeout.is_zero() => Event::Idle,
                _ = retry, if holding => Event::Retry,
            };
            match event {
                Event::Replies => {}
                Event::Retry => {}
                Event::Idle => {
                    if last_read.elapsed() >= recv_timeout {
                        self.stop = Some(Stop::Timeout);
                    } else {
                        idle.as_mut().reset((last_read + recv_timeout).into());
                    }
                }
                Event::Readable(r) => {
                    r?;
                    // Read what is there; an idle session keeps no buffer.
                    if rbuf.capacity() - rbuf.len() < 1024 {
                        if rbuf.capacity() == 0 {
                            rbuf = spare::take();
                        }
                        rbuf.reserve(16 * 1024);
                    }
                    match read_ready(stream, &mut rbuf).await {
                        Some(Ok(0)) => {
                            self.stop = Some(Stop::Eof);
                            continue;
                        }
                        Some(Ok(_)) => {
                            last_read = Instant::now();
                            self.read_at = last_read;
                        }
                        None => {
                            if rbuf.is_empty() {
                                spare::give(std::mem::take(&mut rbuf));
                            }
                            continue;
                        }
                        Some(Err(e)) => return Err(e),
                    }
                    loop {
                        // Multibulk requests are looked at where they lie in the buffer; most
                        // go to their backend from there (see `handle_peeked`).
                        let decoded = match decoder.peek(&rbuf) {
                            Ok(Peek::Request(req)) => {
                                self.handle_peeked(&mut rbuf, &mut decoder, req, &mut args, &mut frame).await;
                                Ok(true)
                            }
                            Ok(Peek::Incomplete) => Ok(false),
                            Ok(Peek::Inline) => match decoder.decode_frame(&mut rbuf, &mut args, &mut frame) {
                                Ok(true) => {
                                    self.handle(&args, frame.as_deref()).await;
                                    Ok(true)
                                }
                                other => other,
                            },
                            Err(e) => Err(e),
                        };
                        match decoded {
                            Ok(true) if self.stop.is_none() => {}
                            Ok(_) => break,
                            Err(e) => {
                                // Go drops the connection silently; Redis's error line is more
                                // useful to a client and costs nothing.
                                self.push_done(err_reply(&format!("ERR {e}")), true);
                                self.stop = Some(Stop::Protocol);
                                break;
                            }
                        }
                    }
                    decoder.release(&mut rbuf);
                    args.clear();
                    frame = None;
                    if rbuf.is_empty() && rbuf.capacity() > 0 {
                        spare::give(std::mem::take(&mut rbuf));
                    }
                    self.flush_stats();
                }
            }
        }
    }

    fn flush_stats(&mut self) {
        // `ops` keeps the session's total for its log line; the shared counter gets the delta.
        self.shared.stats.add_ops(self.ops - self.flushed_ops, self.fails, self.errors);
        self.flushed_ops = self.ops;
        self.fails = 0;
        self.errors = 0;
        self.cmds.flush(&self.shared.stats, false);
    }

    async fn write_out<S: ClientIo>(&mut self, stream: &mut S, timeout: Duration) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let fut = stream.write_all(&self.wbuf);
        if timeout.is_zero() {
            fut.await?;
        } else {
            tokio::time::timeout(timeout, fut)
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "session send timeout"))??;
        }
        self.wbuf.clear();
        if self.wbuf.capacity() > 64 * 1024 {
            self.wbuf = BytesMut::new();
        }
        Ok(())
    }

    /// Applies the replies that arrived and moves finished entries at the head into `wbuf`.
    fn collect(&mut self) {
        self.sink.take(&mut self.deliveries);
        let mut deliveries = std::mem::take(&mut self.deliveries);
        for d in deliveries.drain(..) {
            self.apply(d);
        }
        self.deliveries = deliveries;
        let break_on_failure = self.shared.config.session_break_on_failure;
        // One clock read for every reply written in this batch (they leave together).
        let mut now = None;
        while let Some(Entry { state: State::Done { .. }, .. }) = self.entries.front() {
            let Some(Entry { state: State::Done { reply, failed }, shape }) = self.entries.pop_front() else { break };
            let now = *now.get_or_insert_with(Instant::now);
            self.cmds.end(self.base_seq, &reply, now);
            self.base_seq += 1;
            if self.resp3 {
                resp3::translate(shape, &reply, &mut self.wbuf);
            } else {
                self.wbuf.extend_from_slice(&reply);
            }
            if failed {
                self.fails += 1;
                if break_on_failure {
                    self.stop = Some(Stop::BreakOnFailure);
                    break;
                }
            } else if reply.first() == Some(&b'-') {
                self.errors += 1;
            }
        }
        if self.entries.is_empty() {
            if let Some(ps) = &mut self.pubsub {
                ps.drain_into(&mut self.wbuf, self.resp3);
                if self.stop == Some(Stop::Quit) && !ps.subscribed() {
                    self.pubsub = None;
                }
            }
        }
    }

    pub(crate) fn apply(&mut self, d: Delivery) {
        if d.seq == PUSH {
            match (d.reply, &mut self.pubsub) {
                (Ok(reply), Some(ps)) => ps.on_push(reply),
                // Only subscriber connections (numbered from 0) end the session when lost.
                (Err(_), Some(_)) if d.part != u32::MAX => self.stop = Some(Stop::SubscriberLost),
                _ => {}
            }
            return;
        }
        if let Err(BackendError::NotSent(bytes, slot)) = &d.reply {
            let waiting = d.seq.checked_sub(self.base_seq).and_then(|i| self.entries.get(i as usize)).is_some_and(|e| {
                matches!(&e.state, State::Wait) || matches!(&e.state, State::Merge(m) if m.parts.get(d.part as usize).is_some_and(|p| p.is_none()))
            });
            if waiting && self.hold_unsent(d.seq, d.part, bytes, *slot) {
                return;
            }
        }
        let Some(idx) = d.seq.checked_sub(self.base_seq) else { return };
        let Some(entry) = self.entries.get_mut(idx as usize) else { return };
        match &mut entry.state {
            State::Wait => {
                entry.state = match d.reply {
                    Ok(reply) => State::Done { reply, failed: false },
                    Err(e) => State::Done { reply: err_reply(&format!("ERR handle response, {e}")), failed: true },
                };
            }
            State::Merge(m) => {
                if let Some(slot) = m.parts.get_mut(d.part as usize) {
                    if slot.is_none() {
                        *slot = Some(d.reply);
                        m.left -= 1;
                    }
                }
                if m.left == 0 {
                    entry.state = match merge(m) {
                        Ok(reply) => State::Done { reply, failed: false },
                        Err(e) => State::Done { reply: err_reply(&format!("ERR handle response, {e}")), failed: true },
                    };
                }
            }
            // Parts of a request that already failed.
            State::Done { .. } => {}
        }
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.base_seq + self.entries.len() as u64
    }

    pub(crate) fn push_done(&mut self, reply: Bytes, failed: bool) {
        self.entries.push_back(Entry { state: State::Done { reply, failed }, shape: Shape::Plain });
    }

    pub(crate) fn fail_request(&mut self, e: RequestError) {
        self.push_done(err_reply(&format!("ERR handle request, {e}")), true);
    }

    /// Replaces the entry of `seq` (still waiting) with a request failure.
    pub(crate) fn fail_entry(&mut self, seq: u64, e: RequestError) {
        self.fail_entry_with(seq, err_reply(&format!("ERR handle request, {e}")));
    }

    pub(crate) fn fail_entry_with(&mut self, seq: u64, reply: Bytes) {
        if let Some(entry) = self.entries.get_mut((seq - self.base_seq) as usize) {
            entry.state = State::Done { reply, failed: true };
        }
    }

    /// True when the extension that handles `ext` is switched on.
    pub(crate) fn ext_enabled(&self, ext: Ext) -> bool {
        let f = &self.shared.config.features;
        match ext {
            Ext::None => false,
            Ext::Subscribe | Ext::Publish => f.pubsub,
            Ext::Transaction => f.transactions,
            Ext::Blocking => f.blocking,
            Ext::Cluster => f.cluster,
        }
    }

    /// The command table's entry for `name` (`None`: bad length), through `last_op`.
    fn op_info(&mut self, name: &[u8]) -> Option<OpInfo> {
        let (raw, len, info) = &self.last_op;
        if let Some(info) = info {
            if *len == name.len() && raw[..*len] == *name {
                return Some(*info);
            }
        }
        let info = mapper::lookup(name).ok()?;
        if name.len() <= 16 {
            let mut raw = [0u8; 16];
            raw[..name.len()].copy_from_slice(name);
            self.last_op = (raw, name.len(), Some(info));
        }
        Some(info)
    }

    pub(crate) fn next_seed(&mut self) -> u32 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 17;
        self.seed ^= self.seed << 5;
        self.seed >> 16
    }

    /// Handles one request; `frame` is its bytes when they can be forwarded as they are.
    async fn handle(&mut self, args: &[Bytes], frame: Option<&[u8]>) {
        if let Some(info) = self.begin(&args[0]) {
            self.handle_op(args, frame, info).await
        }
    }

    /// Handles the multibulk request `req` found in `rbuf` by `decoder`. The common case, a
    /// request for one key sent as it is to the slot's backend, is queued for the backend
    /// straight from the buffer, with no `Bytes` for it or its arguments; every other request
    /// is taken out of the buffer and handled by [`Session::handle_op`], as are the cases the
    /// shortcut leaves to it (see [`Session::forward_in_place`]).
    async fn handle_peeked(
        &mut self,
        rbuf: &mut BytesMut,
        decoder: &mut RequestDecoder,
        req: Peeked,
        args: &mut Vec<Bytes>,
        frame: &mut Option<Bytes>,
    ) {
        let Some(info) = self.begin(decoder.arg(rbuf, 0).unwrap_or_default()) else { return };
        if req.canonical && self.plain_session(&info) {
            let frame = &rbuf[req.start..req.end];
            if info.special == Special::None {
                let key = decoder.arg(rbuf, info.key_index as usize);
                if self.forward_in_place(&info, key, frame) {
                    return;
                }
            } else if let Some((op, step)) = multikey_op(&info, decoder.arg_count()) {
                let nargs = decoder.arg_count();
                if self.split_in_place(&info, op, step, nargs, |i| decoder.arg(rbuf, i), frame) {
                    return;
                }
            }
        }
        decoder.split_peeked(rbuf, req, args, frame);
        self.handle_op(args, frame.as_deref(), info).await
    }

    /// Counts a request named `name` and finds its table entry; `None` when the request was
    /// answered (bad name) or the session must stop (too many pipelined requests).
    fn begin(&mut self, name: &[u8]) -> Option<OpInfo> {
        self.ops += 1;
        // Every request of one read shares that read's time.
        self.cmds.begin(self.next_seq(), name, self.read_at);
        if self.entries.len() > self.shared.config.session_max_pipeline {
            // Go closes the session without a reply to this request.
            self.stop = Some(Stop::TooManyPipelined);
            return None;
        }
        match self.op_info(name) {
            Some(info) => Some(info),
            None => {
                self.fail_request(RequestError::BadOpLen);
                None
            }
        }
    }

    /// True when [`Session::handle_op`] would go straight to the command's own handling: a
    /// command the table lets through, in a RESP2 session that is authorised, not subscribed
    /// and not inside MULTI. With no special handling, it only hashes the key and forwards.
    fn plain_session(&mut self, info: &OpInfo) -> bool {
        if self.resp3 || info.ext != Ext::None || info.is_not_allowed() || self.pubsub.is_some() || self.tx.is_some() {
            return false;
        }
        if !self.authorized {
            if !self.shared.config.session_auth.is_empty() {
                return false;
            }
            // As `handle_op` does for the first request.
            self.authorized = true;
        }
        true
    }

    /// Queues `frame` (the client's bytes of a plain keyed request) on the backend of its key's
    /// slot when the route is settled: not locked, not migrating, the connection usable. Returns
    /// false, having queued nothing, when [`Session::dispatch`] must decide instead (held slot,
    /// locked or migrating slot, no connection, backend down with the failover hold).
    fn forward_in_place(&mut self, info: &OpInfo, key: Option<&[u8]>, frame: &[u8]) -> bool {
        let slot = slot_of(key.unwrap_or(b""));
        if !self.held.is_empty() && self.slot_held(slot) {
            return false;
        }
        let route = self.shared.router.route(slot);
        if route.locked || route.migrate.is_some() {
            return false;
        }
        let seed = self.next_seed();
        let origin = Origin { sink: &self.sink, seq: self.next_seq(), part: 0, database: self.database, seed };
        let none: &[&[u8]] = &[];
        if queue(&self.shared.router, &route, info.is_master_only(), none, Some(frame), &origin).is_err() {
            return false;
        }
        self.entries.push_back(Entry { state: State::Wait, shape: Shape::Plain });
        true
    }

    /// Handles a request counted by [`Session::begin`].
    async fn handle_op(&mut self, args: &[Bytes], frame: Option<&[u8]>, info: OpInfo) {
        if self.pubsub.as_ref().is_some_and(|p| p.subscribed()) {
            return self.handle_subscribed(args, info.name).await;
        }
        let ext_on = self.ext_enabled(info.ext);
        if self.in_multi() && info.special != Special::Quit && !(ext_on && info.ext == Ext::Transaction) {
            return self.queue_in_multi(args, &info);
        }
        if info.is_not_allowed() && !ext_on {
            let name = info.name.map(str::to_string).unwrap_or_else(|| mapper::upper_name(&args[0]));
            return self.fail_request(RequestError::NotAllowed(name));
        }
        match info.special {
            Special::Quit => {
                self.push_done(Bytes::from_static(OK), false);
                self.stop = Some(Stop::Quit);
                return;
            }
            Special::Auth => return self.handle_auth(args),
            Special::Hello => return self.handle_hello(args),
            _ => {}
        }
        if !self.authorized {
            if !self.shared.config.session_auth.is_empty() {
                return self.push_done(err_reply("NOAUTH Authentication required"), false);
            }
            self.authorized = true;
        }
        if ext_on {
            let name = info.name.unwrap_or("");
            return match info.ext {
                Ext::Subscribe => self.handle_subscribe(name, args).await,
                Ext::Publish => {
                    if args.len() != 3 {
                        return self.push_done(err_reply("ERR wrong number of arguments for 'publish' command"), false);
                    }
                    // Subscribers are on the master of the channel's slot.
                    let info = OpInfo { flags: mapper::WRITE, ..info };
                    self.dispatch(args, &info, frame).await
                }
                Ext::Transaction => self.handle_transaction(name, args, &info).await,
                Ext::Blocking => self.handle_blocking(args, &info).await,
                Ext::Cluster => self.handle_cluster(name, args),
                Ext::None => {}
            };
        }
        match info.special {
            Special::Select => self.handle_select(args),
            Special::Ping | Special::Info => self.handle_addressed(args, &info).await,
            Special::SlotsInfo => {
                if args.len() != 2 {
                    return self.push_done(err_reply("ERR wrong number of arguments for 'SLOTSINFO' command"), false);
                }
                self.handle_addressed(args, &info).await
            }
            Special::SlotsScan => self.handle_slots_scan(args, &info).await,
            Special::SlotsMapping => self.handle_slots_mapping(args),
            _ if let Some((op, step)) = multikey_op(&info, args.len()) => self.split(args, &info, op, step).await,
            Special::MGet if args.len() == 1 => {
                self.push_done(err_reply("ERR wrong number of arguments for 'MGET' command"), false)
            }
            Special::MSet if args.len() == 1 || args.len().is_multiple_of(2) => {
                self.push_done(err_reply("ERR wrong number of arguments for 'MSET' command"), false)
            }
            Special::SumKeys => {
                let name = info.name.unwrap_or("DEL");
                if args.len() == 1 && matches!(name, "DEL" | "EXISTS") {
                    self.push_done(err_reply(&format!("ERR wrong number of arguments for '{name}' command")), false)
                } else {
                    self.dispatch(args, &info, frame).await
                }
            }
            _ => self.dispatch(args, &info, frame).await,
        }
    }

    fn handle_auth(&mut self, args: &[Bytes]) {
        if args.len() != 2 {
            return self.push_done(err_reply("ERR wrong number of arguments for 'AUTH' command"), false);
        }
        let want = &self.shared.config.session_auth;
        let reply = if want.is_empty() {
            err_reply("ERR Client sent AUTH, but no password is set")
        } else if want.as_bytes() != &args[1][..] {
            self.authorized = false;
            err_reply("ERR invalid password")
        } else {
            self.authorized = true;
            Bytes::from_static(OK)
        };
        self.push_done(reply, false);
    }

    /// `HELLO [protover [AUTH user pass] [SETNAME name]]`, answered as Redis 7 does; the
    /// protocol applies to this session only.
    fn handle_hello(&mut self, args: &[Bytes]) {
        let mut proto = None;
        if args.len() >= 2 {
            match std::str::from_utf8(&args[1]).ok().and_then(|s| s.parse::<i64>().ok()) {
                Some(v @ (2 | 3)) => proto = Some(v == 3),
                Some(_) => return self.push_done(err_reply("NOPROTO unsupported protocol version"), false),
                None => {
                    return self.push_done(err_reply("ERR Protocol version is not an integer or out of range"), false)
                }
            }
        }
        let mut i = 2;
        let mut auth = None;
        while i < args.len() {
            let opt = &args[i];
            if opt.eq_ignore_ascii_case(b"AUTH") && i + 2 < args.len() {
                auth = Some(args[i + 2].clone());
                i += 3;
            } else if opt.eq_ignore_ascii_case(b"SETNAME") && i + 1 < args.len() {
                i += 2;
            } else {
                let msg = format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(opt));
                return self.push_done(err_reply(&msg), false);
            }
        }
        let want = &self.shared.config.session_auth;
        match auth {
            Some(pass) if !want.is_empty() && want.as_bytes() != &pass[..] => {
                self.authorized = false;
                return self
                    .push_done(err_reply("WRONGPASS invalid username-password pair or user is disabled."), false);
            }
            Some(_) => self.authorized = true,
            None if !self.authorized && !want.is_empty() => {
                return self.push_done(
                    err_reply(
                        "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
                         HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
                         select the RESP protocol version at the same time",
                    ),
                    false,
                );
            }
            None => {}
        }
        if let Some(p) = proto {
            self.resp3 = p;
        }
        // Written in final form already: mark Plain and encode for the protocol now in force.
        let mut out = BytesMut::new();
        resp3::hello_reply(&mut out, self.resp3, self.id);
        self.push_done(out.freeze(), false);
    }

    fn handle_select(&mut self, args: &[Bytes]) {
        if args.len() != 2 {
            return self.push_done(err_reply("ERR wrong number of arguments for 'SELECT' command"), false);
        }
        let n = self.shared.config.backend_number_databases;
        let reply = match std::str::from_utf8(&args[1]).ok().and_then(|s| s.parse::<i64>().ok()) {
            None => err_reply("ERR invalid DB index"),
            Some(db) if db < 0 || db >= n as i64 => err_reply(&format!("ERR invalid DB index, only accept DB [0,{n})")),
            Some(db) => {
                self.database = db as u32;
                Bytes::from_static(OK)
            }
        };
        self.push_done(reply, false);
    }

    /// PING/INFO with no argument go to a random slot; PING/INFO/SLOTSINFO with an address go
    /// to that backend, without the address.
    async fn handle_addressed(&mut self, args: &[Bytes], info: &OpInfo) {
        if args.len() == 1 {
            let slot = (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0) as usize)
                % MAX_SLOT_NUM;
            return self.dispatch_slot(args, info, slot, None, None).await;
        }
        let addr = String::from_utf8_lossy(&args[1]).into_owned();
        let mut rest: Vec<&[u8]> = Vec::with_capacity(args.len() - 1);
        rest.push(&args[0]);
        rest.extend(args[2..].iter().map(|a| &a[..]));
        let seed = self.next_seed();
        let (primary, replica) = self.shared.router.backend_by_addr(&addr);
        let pick =
            |b: &Option<Arc<SharedBackend>>| b.as_ref().and_then(|b| b.conn(self.database, seed, false).cloned());
        let Some(conn) = pick(&primary).or_else(|| pick(&replica)) else {
            return self.push_done(err_reply(&format!("ERR backend server '{addr}' not found")), false);
        };
        let seq = self.next_seq();
        let shape = self.shape(info, args);
        self.entries.push_back(Entry { state: State::Wait, shape });
        let target = Target::Session { sink: self.sink.clone(), seq, part: 0 };
        conn.push(|out| encode_command(out, &rest), Pending { target, guard: Guard::None });
    }

    async fn handle_slots_scan(&mut self, args: &[Bytes], info: &OpInfo) {
        if args.len() <= 2 {
            return self.push_done(err_reply("ERR wrong number of arguments for 'SLOTSSCAN' command"), false);
        }
        match self.parse_slot(&args[1]) {
            Ok(slot) => self.dispatch_slot(args, info, slot, None, None).await,
            Err(reply) => self.push_done(reply, false),
        }
    }

    fn parse_slot(&self, arg: &[u8]) -> Result<usize, Bytes> {
        let text = String::from_utf8_lossy(arg);
        match parse_go_int(arg) {
            Err(e) => Err(err_reply(&format!("ERR parse slotnum '{text}' failed, {e}"))),
            Ok(s) if s < 0 || s >= MAX_SLOT_NUM as i64 => {
                Err(err_reply(&format!("ERR parse slotnum '{text}' failed, out of range")))
            }
            Ok(s) => Ok(s as usize),
        }
    }

    fn handle_slots_mapping(&mut self, args: &[Bytes]) {
        let router = &self.shared.router;
        let mut out = BytesMut::new();
        match args.len() {
            1 => {
                let slots = router.slots();
                write::header(&mut out, b'*', slots.len() as i64);
                for s in &slots {
                    mapping_reply(&mut out, s);
                }
            }
            2 => match self.parse_slot(&args[1]) {
                Ok(slot) => {
                    if let Some(s) = router.slot(slot) {
                        mapping_reply(&mut out, &s)
                    }
                }
                Err(reply) => return self.push_done(reply, false),
            },
            _ => return self.push_done(err_reply("ERR wrong number of arguments for 'SLOTSMAPPING' command"), false),
        }
        self.push_done(out.freeze(), false);
    }

    pub(crate) fn shape(&self, info: &OpInfo, args: &[Bytes]) -> Shape {
        if self.resp3 {
            resp3::shape_of(info.name, args)
        } else {
            Shape::Plain
        }
    }

    /// Forwards a request by the hash of its key.
    async fn dispatch(&mut self, args: &[Bytes], info: &OpInfo, frame: Option<&[u8]>) {
        let hkey = args.get(info.key_index as usize).map(|k| &k[..]);
        // A request without its key hashes the empty string, slot 0, as in Go.
        let slot = slot_of(hkey.unwrap_or(b""));
        self.dispatch_slot(args, info, slot, hkey, frame).await
    }

    async fn dispatch_slot(
        &mut self,
        args: &[Bytes],
        info: &OpInfo,
        slot: usize,
        hkey: Option<&[u8]>,
        frame: Option<&[u8]>,
    ) {
        let seq = self.next_seq();
        let shape = self.shape(info, args);
        self.entries.push_back(Entry { state: State::Wait, shape });
        if self.slot_held(slot) {
            return self.hold(seq, 0, slot, args.to_vec());
        }
        let seed = self.next_seed();
        let origin = Origin { sink: &self.sink, seq, part: 0, database: self.database, seed };
        let router = &self.shared.router;
        let result = forward_frame(router, slot, hkey, info.is_master_only(), args, frame, &origin).await;
        match result {
            Ok(None) => {}
            Err(RequestError::BackendDown) => self.hold(seq, 0, slot, args.to_vec()),
            Ok(Some(reply)) => {
                self.apply(Delivery { seq, part: 0, reply: Ok(reply) });
            }
            Err(e) => self.fail_entry(seq, e),
        }
    }
}

/// Read buffers between a session's reads. A session holds a buffer only while it has bytes
/// not yet decoded, so idle sessions cost none; the sessions of a worker pass a few buffers
/// around instead of allocating and freeing 16 KB (and the header `freeze` adds) per read.
mod spare {
    use std::cell::RefCell;

    use bytes::BytesMut;

    /// Buffers kept per thread; larger ones (after a big request) are freed.
    const KEEP: usize = 4;
    const MAX_CAPACITY: usize = 64 * 1024;

    thread_local! {
        static SPARE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    }

    pub(super) fn take() -> BytesMut {
        SPARE.with(|s| s.borrow_mut().pop()).unwrap_or_default()
    }

    /// Keeps an empty buffer for the next read. One whose bytes are still referenced (by a held
    /// request) is safe to keep: `reserve` allocates anew rather than reuse shared memory.
    pub(super) fn give(buf: BytesMut) {
        if buf.is_empty() && buf.capacity() <= MAX_CAPACITY {
            SPARE.with(|s| {
                let mut s = s.borrow_mut();
                if s.len() < KEEP {
                    s.push(buf);
                }
            });
        }
    }
}

/// Reads what the socket has into `buf` without waiting (`None`: nothing there after all).
///
/// Goes through `poll_read` rather than `try_read_buf`: on a short read tokio then forgets the
/// socket's readiness, so the next wait goes to epoll instead of costing a `recv` that returns
/// EAGAIN (one system call per request saved at pipeline depth 1).
async fn read_ready<S: ClientIo>(stream: &mut S, buf: &mut BytesMut) -> Option<std::io::Result<usize>> {
    use std::task::Poll;
    use tokio::io::ReadBuf;
    std::future::poll_fn(|cx| {
        let spare = buf.spare_capacity_mut();
        let mut rb = ReadBuf::uninit(spare);
        Poll::Ready(match std::pin::Pin::new(&mut *stream).poll_read(cx, &mut rb) {
            Poll::Pending => None,
            Poll::Ready(Err(e)) => Some(Err(e)),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                // SAFETY: poll_read initialised the first `n` bytes of the spare capacity.
                unsafe { buf.set_len(buf.len() + n) };
                Some(Ok(n))
            }
        })
    })
    .await
}

/// One SLOTSMAPPING entry: `[id, backend_addr, migrate_from, [[replica addrs]...] | nil]`.
fn mapping_reply(out: &mut BytesMut, s: &compat::models::Slot) {
    write::header(out, b'*', 4);
    write::simple(out, s.id.to_string().as_bytes());
    write::simple(out, s.backend_addr.as_bytes());
    write::simple(out, s.migrate_from.as_bytes());
    if s.replica_groups.is_empty() {
        out.extend_from_slice(b"*-1\r\n");
    } else {
        write::header(out, b'*', s.replica_groups.len() as i64);
        for g in &s.replica_groups {
            write::header(out, b'*', g.len() as i64);
            for addr in g {
                write::simple(out, addr.as_bytes());
            }
        }
    }
}
