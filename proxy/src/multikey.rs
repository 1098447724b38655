//! Multi-key requests (MGET, MSET, DEL, EXISTS, TOUCH, UNLINK) sent as several backend requests
//! and merged back into the one reply the client expects, plus the merge rules of the other
//! requests the proxy answers from several parts (transactions, fan-outs, SCAN).
//!
//! Go Codis sends one request per key. Here, when every key's slot is settled (not locked, not
//! migrating, not held) and the failover hold is off, the keys are grouped per backend
//! connection: one request per connection carrying its keys in request order. The client sees
//! the bytes the per-key path gives:
//!
//! - MGET: each group's array is cut into its elements and they are put back in key order;
//! - MSET: `+OK`, or the first failing part's error;
//! - DEL, UNLINK: a server counts the keys it removed; a key repeated in one request is removed
//!   once (`DEL a a` = 1), as per key (`DEL a` = 1 then `DEL a` = 0). A repeated key always has
//!   the same slot, so the same group: the sum of the groups' counts is the per-key sum;
//! - EXISTS, TOUCH: a server counts every argument naming an existing key, repeats included
//!   (`EXISTS a a` = 2, since Redis 3.0.3; codis-server 3.2.11 and ours too), as the per-key
//!   parts do (1 + 1): again the sum of the groups' counts.
//!
//! When every key goes to one connection (one backend, or keys sharing a hash tag) the grouped
//! request is exactly the client's request, so the client's bytes are queued as they are
//! ([`Session::split_in_place`]), with the same merge of the one reply.
//!
//! Errors read as per key too. All keys sent to one server share its outcome (LOADING, READONLY,
//! OOM, a lost connection...), and groups are numbered by their first key, so the first failing
//! group holds the first failing key: its error is the one Go reports, in Go's wording.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use compat::resp::{write, ReplyScanner};
use compat::slot::slot_of;

use crate::backend::{BackendConn, Guard, Pending};
use crate::error::{BackendError, RequestError};
use crate::forward::{forward, pick, type_name, Origin};
use crate::mapper::{OpInfo, Special};
use crate::resp3::Shape;
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
    /// EXISTS: how many keys exist (per key: how many parts said non-zero).
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
    /// Keys grouped per connection: the part each key went to, in the client's key order.
    /// Empty: one part per key, in key order.
    pub(crate) layout: Vec<u32>,
}

impl Merge {
    pub(crate) fn new(op: MergeOp, parts: usize) -> Merge {
        Merge { op, parts: (0..parts).map(|_| None).collect(), left: parts, layout: Vec::new() }
    }

    fn grouped(op: MergeOp, parts: usize, layout: Vec<u32>) -> Merge {
        Merge { layout, ..Merge::new(op, parts) }
    }
}

/// How a request of `nargs` arguments (its name included) is split, when it is one of the
/// multi-key requests: the merge and the arguments per key. `None` for the other requests and
/// for the forms that are answered or forwarded whole (a wrong argument count, one key).
pub(crate) fn multikey_op(info: &OpInfo, nargs: usize) -> Option<(MergeOp, usize)> {
    match info.special {
        Special::MGet if nargs > 2 => Some((MergeOp::MGet, 1)),
        Special::MSet if nargs > 3 && !nargs.is_multiple_of(2) => Some((MergeOp::MSet, 2)),
        Special::SumKeys if nargs > 2 => Some(match info.name.unwrap_or("DEL") {
            "EXISTS" => (MergeOp::Exists, 1),
            name => (MergeOp::Sum(name), 1),
        }),
        _ => None,
    }
}

/// The keys of a multi-key request that go to one backend connection.
struct Group {
    conn: Arc<BackendConn>,
    /// Key numbers (0-based, `step` arguments each), in request order.
    keys: Vec<usize>,
    /// The routes of the keys' slots, held until the reply arrives so that a slot refill waits
    /// for this request (Go's `Slot.blockAndWait`).
    routes: Vec<Arc<SlotRoute>>,
}

impl Session {
    /// Sends a multi-key request (`step` arguments per key): grouped per backend connection when
    /// every key's slot allows it, one request per key otherwise.
    pub(crate) async fn split(&mut self, args: &[Bytes], info: &OpInfo, op: MergeOp, step: usize) {
        if !self.send_grouped(args, info, op, step) {
            self.split_per_key(args, info, op, step).await
        }
    }

    /// [`Session::split`] for a request whose keys all go to one backend connection (one
    /// backend, or keys sharing a hash tag): `frame`, the client's canonical bytes, is what the
    /// grouped path would encode, so it is queued as it is, with the grouped path's merge.
    /// `arg(i)` reads argument `i`. Returns false, having sent nothing, when the keys need
    /// several connections or the general path.
    pub(crate) fn split_in_place<'a>(
        &mut self,
        info: &OpInfo,
        op: MergeOp,
        step: usize,
        nargs: usize,
        arg: impl Fn(usize) -> Option<&'a [u8]>,
        frame: &[u8],
    ) -> bool {
        if self.shared.router.holds_on_failover() {
            return false;
        }
        let seed = self.next_seed();
        let nkeys = (nargs - 1) / step;
        let mut conn: Option<Arc<BackendConn>> = None;
        let mut routes: Vec<Arc<SlotRoute>> = Vec::new();
        for key in 0..nkeys {
            let Some(k) = arg(1 + step * key) else { return false };
            let Some((route, c)) = self.grouped_route(k, info.is_master_only(), seed) else { return false };
            match &conn {
                None => conn = Some(c),
                Some(first) if Arc::ptr_eq(first, &c) => {}
                Some(_) => return false,
            }
            if !routes.last().is_some_and(|r| Arc::ptr_eq(r, &route)) {
                routes.push(route);
            }
        }
        let Some(conn) = conn else { return false };
        let seq = self.next_seq();
        let merge = Merge::grouped(op, 1, vec![0; nkeys]);
        self.entries.push_back(Entry { state: State::Merge(Box::new(merge)), shape: Shape::Plain });
        let target = Target::Session { sink: self.sink.clone(), seq, part: 0 };
        conn.push(|out| out.extend_from_slice(frame), Pending { target, guard: Guard::Many(routes) });
        true
    }

    /// One request per backend connection with that connection's keys in request order.
    /// Returns false, having sent nothing, when some key's slot needs the per-key path.
    fn send_grouped(&mut self, args: &[Bytes], info: &OpInfo, op: MergeOp, step: usize) -> bool {
        let Some((groups, layout)) = self.group_keys(args, step, info.is_master_only()) else { return false };
        let seq = self.next_seq();
        let shape = self.shape(info, args);
        let merge = Merge::grouped(op, groups.len(), layout);
        self.entries.push_back(Entry { state: State::Merge(Box::new(merge)), shape });
        for (part, g) in groups.into_iter().enumerate() {
            let target = Target::Session { sink: self.sink.clone(), seq, part: part as u32 };
            let encode = |out: &mut BytesMut| {
                write::header(out, b'*', 1 + (step * g.keys.len()) as i64);
                write::bulk(out, &args[0]);
                for &k in &g.keys {
                    for a in &args[1 + step * k..1 + step * (k + 1)] {
                        write::bulk(out, a);
                    }
                }
            };
            g.conn.push(encode, Pending { target, guard: Guard::Many(g.routes) });
        }
        true
    }

    /// The keys grouped by the connection the per-key path would pick for them, groups in the
    /// order of their first key, and the group of each key. `None` when a key cannot be grouped
    /// ([`Session::grouped_route`]) or when held requests are re-sent per slot (failover hold).
    fn group_keys(&mut self, args: &[Bytes], step: usize, master_only: bool) -> Option<(Vec<Group>, Vec<u32>)> {
        if self.shared.router.holds_on_failover() {
            return None;
        }
        let seed = self.next_seed();
        let nkeys = (args.len() - 1) / step;
        let mut groups: Vec<Group> = Vec::new();
        let mut layout = Vec::with_capacity(nkeys);
        for key in 0..nkeys {
            let (route, conn) = self.grouped_route(&args[1 + step * key], master_only, seed)?;
            let i = match groups.iter().position(|g| Arc::ptr_eq(&g.conn, &conn)) {
                Some(i) => i,
                None => {
                    groups.push(Group { conn, keys: Vec::new(), routes: Vec::new() });
                    groups.len() - 1
                }
            };
            let g = &mut groups[i];
            g.keys.push(key);
            // A refill waits while any clone is held, so a repeat costs nothing but a slot in
            // the vector; only the previous key's is skipped (hash-tagged keys), keeping this
            // linear for an MGET of thousands of keys.
            if !g.routes.last().is_some_and(|r| Arc::ptr_eq(r, &route)) {
                g.routes.push(route);
            }
            layout.push(i as u32);
        }
        Some((groups, layout))
    }

    /// The route of `key`'s slot and the connection the per-key path would pick for it, or
    /// `None` when the slot is held, locked, migrating (the per-key path moves or wraps each
    /// key) or has no backend (the per-key path reports it).
    fn grouped_route(&self, key: &[u8], master_only: bool, seed: u32) -> Option<(Arc<SlotRoute>, Arc<BackendConn>)> {
        let slot = slot_of(key);
        if !self.held.is_empty() && self.slot_held(slot) {
            return None;
        }
        let route = self.shared.router.route(slot);
        if route.locked || route.migrate.is_some() {
            return None;
        }
        let conn = pick(&route, master_only, self.database, seed)?.clone();
        Some((route, conn))
    }

    /// Splits a multi-key request into one request per key (`step` arguments per key) and
    /// merges the replies in key order, as Go does.
    async fn split_per_key(&mut self, args: &[Bytes], info: &OpInfo, op: MergeOp, step: usize) {
        let n = (args.len() - 1) / step;
        let seq = self.next_seq();
        let shape = self.shape(info, args);
        self.entries.push_back(Entry { state: State::Merge(Box::new(Merge::new(op, n))), shape });
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

/// The text length of a one-line reply (Go's `len(resp.Value)` for it).
fn value_len(b: &[u8]) -> usize {
    memchr::memchr(b'\r', b).unwrap_or(b.len()).saturating_sub(1)
}

/// The element count of an array reply and where its elements start; `(0, _)` for anything else
/// (Go's `len(resp.Array)`: a nil array or a non-array has none).
fn array_len(b: &[u8]) -> (usize, usize) {
    if b.first() != Some(&b'*') {
        return (0, 0);
    }
    let header_end = memchr::memchr(b'\n', b).map(|i| i + 1).unwrap_or(b.len());
    let count = std::str::from_utf8(&b[1..header_end.saturating_sub(2).max(1)]).ok().and_then(|c| c.parse().ok());
    (count.unwrap_or(0i64).max(0) as usize, header_end)
}

/// Puts the parts of a split request back together, with Go's checks and messages.
pub(crate) fn merge(m: &mut Merge) -> Result<Bytes, String> {
    match m.op {
        MergeOp::MGet | MergeOp::MSet | MergeOp::Sum(_) | MergeOp::Exists => merge_keys(m),
        _ => merge_fan(m),
    }
}

/// MGET, MSET, DEL, EXISTS, TOUCH, UNLINK. Parts are checked in order and the first failure is
/// reported, whether the connection or the reply failed, as Go checks its sub-requests in key
/// order.
fn merge_keys(m: &mut Merge) -> Result<Bytes, String> {
    let grouped = !m.layout.is_empty();
    let mut total: i64 = 0;
    let mut parts: Vec<&Bytes> = Vec::with_capacity(m.parts.len());
    // Keys per part: one, or the group's.
    let mut keys = vec![usize::from(!grouped); m.parts.len()];
    for &g in &m.layout {
        if let Some(k) = keys.get_mut(g as usize) {
            *k += 1;
        }
    }
    for (i, p) in m.parts.iter().enumerate() {
        let p = match p {
            Some(Ok(b)) => b,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("resp is required".into()),
        };
        match m.op {
            MergeOp::MGet => {
                let (n, _) = array_len(p);
                if p.first() != Some(&b'*') || n != keys[i] {
                    return Err(format!("bad mget resp: {} array.len = {n}", type_name(p)));
                }
            }
            MergeOp::MSet => {
                if p.first() != Some(&b'+') {
                    return Err(format!("bad mset resp: {} value.len = {}", type_name(p), value_len(p)));
                }
            }
            _ => {
                let v = (p.first() == Some(&b':'))
                    .then(|| std::str::from_utf8(&p[1..p.len().saturating_sub(2)]).ok()?.parse::<i64>().ok())
                    .flatten();
                match v {
                    // Per key, a part says whether its key exists; a group counts its keys.
                    Some(v) if m.op == MergeOp::Exists && !grouped => total += (v != 0) as i64,
                    Some(v) => total += v,
                    None => {
                        let what = match m.op {
                            MergeOp::Sum(name) => name.to_ascii_lowercase(),
                            _ => "exists".to_string(),
                        };
                        return Err(format!("bad {what} resp: {} value.len = {}", type_name(p), value_len(p)));
                    }
                }
            }
        }
        parts.push(p);
    }
    match m.op {
        MergeOp::MSet => Ok(Bytes::from_static(OK)),
        // One group holding every key: its array is the reply.
        MergeOp::MGet if parts.len() == 1 => Ok(parts[0].clone()),
        MergeOp::MGet if !grouped => {
            let mut out = BytesMut::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>());
            write::header(&mut out, b'*', parts.len() as i64);
            for p in &parts {
                out.extend_from_slice(&p[array_len(p).1..]);
            }
            Ok(out.freeze())
        }
        MergeOp::MGet => {
            // Each group's elements are taken in order: a group's keys are in key order.
            let mut next: Vec<usize> = parts.iter().map(|p| array_len(p).1).collect();
            let mut out = BytesMut::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>());
            write::header(&mut out, b'*', m.layout.len() as i64);
            let mut scanner = ReplyScanner::new();
            for &g in &m.layout {
                let (g, p) = (g as usize, parts[g as usize]);
                let len = match scanner.scan(&p[next[g]..]) {
                    Ok(Some(len)) => len,
                    _ => return Err(format!("bad mget resp: {} array.len = {}", type_name(p), array_len(p).0)),
                };
                out.extend_from_slice(&p[next[g]..next[g] + len]);
                next[g] += len;
            }
            Ok(out.freeze())
        }
        _ => {
            let mut out = BytesMut::with_capacity(24);
            write::integer(&mut out, total);
            Ok(out.freeze())
        }
    }
}

/// Transactions sent as one batch, fan-outs over every master, SCAN steps.
fn merge_fan(m: &mut Merge) -> Result<Bytes, String> {
    let mut parts = Vec::with_capacity(m.parts.len());
    for p in m.parts.drain(..) {
        match p {
            Some(Ok(b)) => parts.push(b),
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("resp is required".into()),
        }
    }
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
                    _ => return Err(format!("bad keys resp: {}", type_name(p))),
                }
            }
            let mut out = BytesMut::with_capacity(items.len() + 16);
            write::header(&mut out, b'*', n);
            out.extend_from_slice(&items);
            Ok(out.freeze())
        }
        _ => {
            // FanSum: DBSIZE of every master.
            let mut n: i64 = 0;
            for p in &parts {
                let v = (p.first() == Some(&b':'))
                    .then(|| std::str::from_utf8(&p[1..p.len().saturating_sub(2)]).ok()?.parse::<i64>().ok())
                    .flatten();
                match v {
                    Some(v) => n += v,
                    None => return Err(format!("bad dbsize resp: {} value.len = {}", type_name(p), value_len(p))),
                }
            }
            let mut out = BytesMut::with_capacity(24);
            write::integer(&mut out, n);
            Ok(out.freeze())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(b: &[u8]) -> Option<Result<Bytes, BackendError>> {
        Some(Ok(Bytes::copy_from_slice(b)))
    }

    fn run(op: MergeOp, parts: Vec<Option<Result<Bytes, BackendError>>>, layout: Vec<u32>) -> Result<String, String> {
        let mut m = Merge { op, left: 0, parts, layout };
        merge(&mut m).map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// A tiny keyspace with Redis's counting rules, to build both the per-key and the grouped
    /// replies of one request and check that they merge to the same bytes.
    struct Model(std::collections::HashMap<&'static str, &'static str>);

    impl Model {
        fn reply(&mut self, cmd: &str, keys: &[&'static str]) -> Vec<u8> {
            let mut out = BytesMut::new();
            match cmd {
                "MGET" => {
                    write::header(&mut out, b'*', keys.len() as i64);
                    for k in keys {
                        match self.0.get(k) {
                            Some(v) => write::bulk(&mut out, v.as_bytes()),
                            None => out.extend_from_slice(b"$-1\r\n"),
                        }
                    }
                }
                // Every argument naming an existing key counts, repeats included.
                "EXISTS" | "TOUCH" => {
                    write::integer(&mut out, keys.iter().filter(|k| self.0.contains_key(*k)).count() as i64)
                }
                // A key is removed once.
                _ => write::integer(&mut out, keys.iter().filter(|k| self.0.remove(*k).is_some()).count() as i64),
            }
            out.to_vec()
        }
    }

    fn model() -> Model {
        Model([("a", "1"), ("b", "22"), ("c", ""), ("d", "4444")].into_iter().collect())
    }

    /// Per key and grouped (`group` of each key, groups numbered by first key) give the same reply.
    fn same_both_ways(cmd: &str, op: MergeOp, keys: &[&'static str], group: &[u32]) -> String {
        let mut m = model();
        let per_key: Vec<_> = keys.iter().map(|k| part(&m.reply(cmd, &[k]))).collect();
        let per_key = run(op, per_key, Vec::new()).unwrap();
        let mut m = model();
        let n = group.iter().max().map_or(0, |g| g + 1);
        let grouped: Vec<_> = (0..n)
            .map(|g| {
                let mine: Vec<_> = keys.iter().zip(group).filter(|(_, &kg)| kg == g).map(|(k, _)| *k).collect();
                part(&m.reply(cmd, &mine))
            })
            .collect();
        let grouped = run(op, grouped, group.to_vec()).unwrap();
        assert_eq!(grouped, per_key, "{cmd} {keys:?} grouped as {group:?}");
        grouped
    }

    #[test]
    fn grouped_replies_merge_to_the_per_key_bytes() {
        // Keys interleaved over two groups, a missing key, an empty value, repeats (a repeated
        // key always has the same slot, so the same group).
        let keys = ["a", "b", "x", "c", "a", "d", "b"];
        let group = [0, 1, 0, 0, 0, 1, 1];
        let mget = same_both_ways("MGET", MergeOp::MGet, &keys, &group);
        assert_eq!(mget, "*7\r\n$1\r\n1\r\n$2\r\n22\r\n$-1\r\n$0\r\n\r\n$1\r\n1\r\n$4\r\n4444\r\n$2\r\n22\r\n");
        assert_eq!(same_both_ways("EXISTS", MergeOp::Exists, &keys, &group), ":6\r\n");
        assert_eq!(same_both_ways("TOUCH", MergeOp::Sum("TOUCH"), &keys, &group), ":6\r\n");
        assert_eq!(same_both_ways("DEL", MergeOp::Sum("DEL"), &keys, &group), ":4\r\n");
        assert_eq!(same_both_ways("UNLINK", MergeOp::Sum("UNLINK"), &keys, &group), ":4\r\n");
        // One group: its reply is passed on as it is.
        assert_eq!(same_both_ways("MGET", MergeOp::MGet, &keys, &[0; 7]), mget);
        assert_eq!(same_both_ways("EXISTS", MergeOp::Exists, &["a", "a"], &[0, 0]), ":2\r\n");
        assert_eq!(same_both_ways("DEL", MergeOp::Sum("DEL"), &["a", "a"], &[0, 0]), ":1\r\n");
    }

    #[test]
    fn first_failing_key_is_reported_in_go_wording() {
        let loading = b"-LOADING Redis is loading the dataset in memory\r\n";
        // Per key: key 1 failed. Grouped: key 1 is in group 1.
        let per_key = run(MergeOp::MGet, vec![part(b"*1\r\n$1\r\n1\r\n"), part(loading), part(loading)], vec![]);
        let grouped = run(MergeOp::MGet, vec![part(b"*1\r\n$1\r\n1\r\n"), part(loading)], vec![0, 1, 1]);
        assert_eq!(per_key.unwrap_err(), "bad mget resp: <error> array.len = 0");
        assert_eq!(grouped.unwrap_err(), "bad mget resp: <error> array.len = 0");
        // Go checks sub-requests in order: a bad reply before a lost connection is the one told.
        let lost = Some(Err(BackendError::Reset));
        let r = run(MergeOp::Sum("DEL"), vec![part(loading), lost.clone()], vec![0, 1]);
        assert_eq!(r.unwrap_err(), format!("bad del resp: <error> value.len = {}", loading.len() - 3));
        let r = run(MergeOp::Exists, vec![part(b":1\r\n"), lost, part(loading)], vec![]);
        assert_eq!(r.unwrap_err(), "backend conn reset");
        let r = run(MergeOp::Exists, vec![part(b":1\r\n"), None], vec![]);
        assert_eq!(r.unwrap_err(), "resp is required");
        // An array of the wrong size names its length, as Go's `len(resp.Array)`.
        let r = run(MergeOp::MGet, vec![part(b"*2\r\n$1\r\n1\r\n$-1\r\n"), part(b"*1\r\n$-1\r\n")], vec![0, 1]);
        assert_eq!(r.unwrap_err(), "bad mget resp: <array> array.len = 2");
        let r = run(MergeOp::MSet, vec![part(b"+OK\r\n"), part(b"-READONLY x\r\n")], vec![0, 1, 0]);
        assert_eq!(r.unwrap_err(), "bad mset resp: <error> value.len = 10");
        assert_eq!(run(MergeOp::MSet, vec![part(b"+OK\r\n"), part(b"+OK\r\n")], vec![0, 1, 0]).unwrap(), "+OK\r\n");
    }

    #[test]
    fn nested_and_nil_elements_are_cut_whole() {
        // Not what MGET returns from Redis, but the cut must follow RESP, not lines.
        let r = run(
            MergeOp::MGet,
            vec![part(b"*2\r\n*2\r\n:1\r\n:2\r\n$-1\r\n"), part(b"*1\r\n$3\r\na\r\n\r\n")],
            vec![0, 1, 0],
        );
        assert_eq!(r.unwrap(), "*3\r\n*2\r\n:1\r\n:2\r\n$3\r\na\r\n\r\n$-1\r\n");
    }
}
