//! Multi-key requests (MGET, MSET, DEL, EXISTS, TOUCH, UNLINK): sent as several backend
//! requests and merged back into the one reply the client expects, plus the merge rules of the
//! other requests the proxy answers from several parts (transactions, fan-outs, SCAN).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use compat::resp::write;
use compat::slot::slot_of;

use crate::backend::{BackendConn, Guard, Pending};
use crate::error::{BackendError, RequestError};
use crate::forward::{forward, Origin};
use crate::mapper::OpInfo;
use crate::router::SlotRoute;
use crate::session::{Entry, Session, State, OK};
use crate::sink::{Delivery, Target};

/// How a split request's parts are put back together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MergeOp {
    MGet,
    MSet,
    /// DEL, TOUCH, UNLINK: the sum of the integer replies.
    Sum(&'static str),
    /// EXISTS: how many parts said non-zero.
    Exists,
    /// MULTI ... EXEC sent as one batch: the client sees EXEC's reply.
    Last,
    /// DBSIZE over every master: the sum.
    FanSum,
    /// KEYS over every master: the arrays joined.
    FanConcat,
    /// FLUSHALL/FLUSHDB over every master: OK when all said OK.
    FanOk,
    /// One step of a cluster-wide SCAN on group `gid`; `next` is the group after it.
    Scan {
        gid: u64,
        next: Option<u64>,
    },
}

pub(crate) struct Merge {
    pub(crate) op: MergeOp,
    pub(crate) parts: Vec<Option<Result<Bytes, BackendError>>>,
    pub(crate) left: usize,
}

impl Session {
    /// MSET with every key on a settled slot (not locked, not migrating, not held): one MSET
    /// per backend connection carrying that connection's pairs in request order, instead of one
    /// request per key. The client's reply is the same bytes: every part answers `+OK`, or the
    /// first failing part's error is reported as before (all keys sent to one server share its
    /// outcome: READONLY, OOM, LOADING...). Returns false, having sent nothing, when some key's
    /// slot needs the per-key path.
    fn mset_grouped(&mut self, args: &[Bytes], info: &OpInfo) -> bool {
        let shared = self.shared.clone();
        let router = &shared.router;
        // Held requests are re-sent per slot: keep the per-key path when holding is on.
        if router.holds_on_failover() {
            return false;
        }
        struct Group {
            conn: Arc<BackendConn>,
            pairs: Vec<usize>,
            routes: Vec<Arc<SlotRoute>>,
        }
        let seed = self.next_seed();
        let mut groups: Vec<Group> = Vec::new();
        for pair in 0..(args.len() - 1) / 2 {
            let slot = slot_of(&args[1 + 2 * pair]);
            if self.slot_held(slot) {
                return false;
            }
            let route = router.route(slot);
            if route.locked || route.migrate.is_some() {
                return false;
            }
            let Some(conn) = route.backend.as_ref().and_then(|(b, _)| b.conn(self.database, seed, true)).cloned()
            else {
                return false;
            };
            let g = match groups.iter().position(|g| Arc::ptr_eq(&g.conn, &conn)) {
                Some(i) => &mut groups[i],
                None => {
                    groups.push(Group { conn, pairs: Vec::new(), routes: Vec::new() });
                    groups.last_mut().expect("just pushed")
                }
            };
            g.pairs.push(pair);
            if !g.routes.iter().any(|r| Arc::ptr_eq(r, &route)) {
                g.routes.push(route);
            }
        }
        let n = groups.len();
        let seq = self.next_seq();
        let shape = self.shape(info, args);
        let merge = Merge { op: MergeOp::MSet, parts: (0..n).map(|_| None).collect(), left: n };
        self.entries.push_back(Entry { state: State::Merge(Box::new(merge)), shape });
        for (part, g) in groups.into_iter().enumerate() {
            let target = Target::Session { sink: self.sink.clone(), seq, part: part as u32 };
            let encode = |out: &mut BytesMut| {
                write::header(out, b'*', 1 + 2 * g.pairs.len() as i64);
                write::bulk(out, &args[0]);
                for &p in &g.pairs {
                    write::bulk(out, &args[1 + 2 * p]);
                    write::bulk(out, &args[2 + 2 * p]);
                }
            };
            g.conn.push(encode, Pending { target, guard: Guard::Many(g.routes) });
        }
        true
    }

    /// Splits a multi-key request into one request per key (`step` arguments per key) and
    /// merges the replies in key order.
    pub(crate) async fn split(&mut self, args: &[Bytes], info: &OpInfo, op: MergeOp, step: usize) {
        if op == MergeOp::MSet && self.mset_grouped(args, info) {
            return;
        }
        let n = (args.len() - 1) / step;
        let seq = self.next_seq();
        let shape = self.shape(info, args);
        let merge = Merge { op, parts: (0..n).map(|_| None).collect(), left: n };
        self.entries.push_back(Entry { state: State::Merge(Box::new(merge)), shape });
        let master_only = info.is_master_only();
        for part in 0..n {
            let first = 1 + part * step;
            let mut sub: [&[u8]; 3] = [&args[0], &args[first], b""];
            if step == 2 {
                sub[2] = &args[first + 1];
            }
            let sub = &sub[..1 + step];
            let slot = slot_of(sub[1]);
            let owned = || sub.iter().map(|a| Bytes::copy_from_slice(a)).collect::<Vec<_>>();
            if self.slot_held(slot) {
                self.hold(seq, part as u32, slot, owned());
                continue;
            }
            let seed = self.next_seed();
            let origin = Origin { sink: &self.sink, seq, part: part as u32, database: self.database, seed };
            let result = forward(&self.shared.router, slot, Some(sub[1]), master_only, sub, &origin).await;
            match result {
                Ok(None) => {}
                Err(RequestError::BackendDown) => self.hold(seq, part as u32, slot, owned()),
                Ok(Some(reply)) => self.apply(Delivery { seq, part: part as u32, reply: Ok(reply) }),
                Err(e) => {
                    // Parts already sent are answered into a finished entry and ignored.
                    self.fail_entry(seq, e);
                    return;
                }
            }
        }
    }
}

/// Puts the parts of a split request back together, with Go's checks and messages.
pub(crate) fn merge(m: &mut Merge) -> Result<Bytes, String> {
    let mut parts = Vec::with_capacity(m.parts.len());
    for p in m.parts.drain(..) {
        match p {
            Some(Ok(b)) => parts.push(b),
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("resp is required".into()),
        }
    }
    let value_len = |b: &[u8]| memchr::memchr(b'\r', b).unwrap_or(b.len()).saturating_sub(1);
    match m.op {
        MergeOp::Last => Ok(parts.pop().unwrap_or_else(|| Bytes::from_static(b"*-1\r\n"))),
        MergeOp::Scan { gid, next } => {
            let p = parts.pop().unwrap_or_default();
            if p.first() == Some(&b'-') {
                return Ok(p);
            }
            crate::fanout::scan_reply(&p, gid, next)
        }
        MergeOp::FanOk => {
            Ok(parts.iter().find(|p| p.first() != Some(&b'+')).cloned().unwrap_or_else(|| Bytes::from_static(OK)))
        }
        MergeOp::FanConcat => {
            let mut items = BytesMut::new();
            let mut n = 0i64;
            for p in &parts {
                if p.first() == Some(&b'-') {
                    return Ok(p.clone());
                }
                let header_end = memchr::memchr(b'\n', p).map(|i| i + 1).unwrap_or(p.len());
                let count: Option<i64> =
                    std::str::from_utf8(&p[1..header_end.saturating_sub(2)]).ok().and_then(|c| c.parse().ok());
                match (p.first(), count) {
                    (Some(b'*'), Some(c)) => {
                        n += c;
                        items.extend_from_slice(&p[header_end..]);
                    }
                    _ => return Err(format!("bad keys resp: {}", crate::forward::type_name(p))),
                }
            }
            let mut out = BytesMut::with_capacity(items.len() + 16);
            write::header(&mut out, b'*', n);
            out.extend_from_slice(&items);
            Ok(out.freeze())
        }
        MergeOp::MGet => {
            let mut out = BytesMut::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + 16);
            write::header(&mut out, b'*', parts.len() as i64);
            for p in &parts {
                if !p.starts_with(b"*1\r\n") {
                    let t = crate::forward::type_name(p);
                    return Err(format!(
                        "bad mget resp: {t} array.len = {}",
                        if p.starts_with(b"*") { value_len(p) } else { 0 }
                    ));
                }
                out.extend_from_slice(&p[4..]);
            }
            Ok(out.freeze())
        }
        MergeOp::MSet => {
            for p in &parts {
                if p.first() != Some(&b'+') {
                    let t = crate::forward::type_name(p);
                    return Err(format!("bad mset resp: {t} value.len = {}", value_len(p)));
                }
            }
            Ok(parts.pop().unwrap_or_else(|| Bytes::from_static(OK)))
        }
        MergeOp::Sum(_) | MergeOp::Exists | MergeOp::FanSum => {
            let what = match m.op {
                MergeOp::Sum(name) => name.to_ascii_lowercase(),
                MergeOp::FanSum => "dbsize".to_string(),
                _ => "exists".to_string(),
            };
            let mut n: i64 = 0;
            for p in &parts {
                let v = (p.first() == Some(&b':'))
                    .then(|| std::str::from_utf8(&p[1..p.len().saturating_sub(2)]).ok()?.parse::<i64>().ok())
                    .flatten();
                match v {
                    Some(v) if m.op == MergeOp::Exists => n += (v != 0) as i64,
                    Some(v) => n += v,
                    None => {
                        let t = crate::forward::type_name(p);
                        return Err(format!("bad {what} resp: {t} value.len = {}", value_len(p)));
                    }
                }
            }
            let mut out = BytesMut::with_capacity(24);
            write::integer(&mut out, n);
            Ok(out.freeze())
        }
    }
}
