//! Commands over the whole keyspace (`proxy_cluster_commands`, docs/proxy-features.md):
//! DBSIZE, KEYS, FLUSHALL and FLUSHDB go to every master and their replies are combined; SCAN
//! walks the masters one after the other in group order, with a cursor that says which group
//! it is in: `cursor = backend cursor * 10000 + group id` (Codis group ids are below 10000).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use compat::resp::write;

use crate::backend::{encode_command, Guard, Pending, SharedBackend};
use crate::multikey::{Merge, MergeOp};
use crate::session::{err_reply, Entry, Session, State};
use crate::sink::Target;

/// The multiplier that leaves room for the group id in a SCAN cursor.
pub const GROUP_SPAN: u64 = 10_000;

/// Rewrites a backend's SCAN reply `[cursor, keys]` with the proxy's cursor.
pub(crate) fn scan_reply(reply: &Bytes, gid: u64, next: Option<u64>) -> Result<Bytes, String> {
    let bad = || format!("bad scan resp: {}", crate::forward::type_name(reply));
    let (cursor, rest) = split_cursor(reply).ok_or_else(bad)?;
    let cursor: u64 = std::str::from_utf8(cursor).ok().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
    let proxy_cursor = match (cursor, next) {
        (0, Some(n)) => n,
        (0, None) => 0,
        (c, _) => c
            .checked_mul(GROUP_SPAN)
            .and_then(|c| c.checked_add(gid))
            .ok_or_else(|| format!("backend scan cursor {c} too large to carry the group id"))?,
    };
    let mut out = BytesMut::with_capacity(reply.len() + 8);
    out.extend_from_slice(b"*2\r\n");
    write::bulk(&mut out, proxy_cursor.to_string().as_bytes());
    out.extend_from_slice(rest);
    Ok(out.freeze())
}

/// `*2\r\n$N\r\n<cursor>\r\n<rest>` -> (cursor, rest).
fn split_cursor(reply: &[u8]) -> Option<(&[u8], &[u8])> {
    let r = reply.strip_prefix(b"*2\r\n$")?;
    let nl = memchr::memchr(b'\r', r)?;
    let len: usize = std::str::from_utf8(&r[..nl]).ok()?.parse().ok()?;
    let start = nl + 2;
    let end = start + len;
    (r.len() >= end + 2).then(|| (&r[start..end], &r[end + 2..]))
}

impl Session {
    /// SCAN, KEYS, DBSIZE, FLUSHALL, FLUSHDB (`name` upper case).
    pub(crate) fn handle_cluster(&mut self, name: &str, args: &[Bytes]) {
        let arity_ok = match name {
            "DBSIZE" => args.len() == 1,
            "KEYS" => args.len() == 2,
            "SCAN" => args.len() >= 2,
            _ => args.len() <= 2,
        };
        if !arity_ok {
            let e = format!("ERR wrong number of arguments for '{}' command", name.to_ascii_lowercase());
            return self.push_done(err_reply(&e), false);
        }
        let masters = self.shared.router.masters();
        if name == "SCAN" {
            return self.scan(args, &masters);
        }
        if masters.is_empty() {
            let reply: &'static [u8] = match name {
                "DBSIZE" => b":0\r\n",
                "KEYS" => b"*0\r\n",
                _ => b"+OK\r\n",
            };
            return self.push_done(Bytes::from_static(reply), false);
        }
        let op = match name {
            "DBSIZE" => MergeOp::FanSum,
            "KEYS" => MergeOp::FanConcat,
            _ => MergeOp::FanOk,
        };
        self.fan_out(args, op, masters.iter().map(|(_, b)| b));
    }

    fn fan_out<'a>(&mut self, args: &[Bytes], op: MergeOp, to: impl ExactSizeIterator<Item = &'a Arc<SharedBackend>>) {
        let n = to.len();
        let seq = self.next_seq();
        let merge = Merge::new(op, n);
        self.entries.push_back(Entry { state: State::Merge(Box::new(merge)), shape: crate::resp3::Shape::Plain });
        for (part, b) in to.enumerate() {
            let target = Target::Session { sink: self.sink.clone(), seq, part: part as u32 };
            let seed = self.next_seed();
            match b.conn(self.database, seed, true) {
                Some(c) => c.push(|out| encode_command(out, args), Pending { target, guard: Guard::None }),
                None => target.send(Err(crate::error::BackendError::Reset)),
            }
        }
    }

    fn scan(&mut self, args: &[Bytes], masters: &[(i64, Arc<SharedBackend>)]) {
        let Some(cursor) = std::str::from_utf8(&args[1]).ok().and_then(|c| c.parse::<u64>().ok()) else {
            return self.push_done(err_reply("ERR invalid cursor"), false);
        };
        let (backend_cursor, gid) = (cursor / GROUP_SPAN, cursor % GROUP_SPAN);
        // The group to scan: the first one for cursor 0, else the cursor's group, or the next
        // one if that group has gone meanwhile.
        let idx = if cursor == 0 {
            Some(0).filter(|_| !masters.is_empty())
        } else {
            masters.iter().position(|(g, _)| *g as u64 >= gid)
        };
        let Some(idx) = idx else {
            return self.push_done(Bytes::from_static(b"*2\r\n$1\r\n0\r\n*0\r\n"), false);
        };
        let (g, backend) = &masters[idx];
        let backend_cursor = if *g as u64 == gid { backend_cursor } else { 0 };
        let next = masters.get(idx + 1).map(|(g, _)| *g as u64);
        let seq = self.next_seq();
        let op = MergeOp::Scan { gid: *g as u64, next };
        let merge = Merge::new(op, 1);
        self.entries.push_back(Entry { state: State::Merge(Box::new(merge)), shape: crate::resp3::Shape::Plain });
        let target = Target::Session { sink: self.sink.clone(), seq, part: 0 };
        let seed = self.next_seed();
        let bc = backend_cursor.to_string();
        let mut sub: Vec<&[u8]> = vec![&args[0], bc.as_bytes()];
        sub.extend(args[2..].iter().map(|a| &a[..]));
        match backend.conn(self.database, seed, true) {
            Some(c) => c.push(|out| encode_command(out, &sub), Pending { target, guard: Guard::None }),
            None => target.send(Err(crate::error::BackendError::Reset)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_cursors_carry_the_group() {
        let r = Bytes::from_static(b"*2\r\n$2\r\n17\r\n*1\r\n$1\r\na\r\n");
        assert_eq!(&scan_reply(&r, 3, Some(5)).unwrap()[..], b"*2\r\n$6\r\n170003\r\n*1\r\n$1\r\na\r\n");
        let done = Bytes::from_static(b"*2\r\n$1\r\n0\r\n*0\r\n");
        assert_eq!(&scan_reply(&done, 3, Some(5)).unwrap()[..], b"*2\r\n$1\r\n5\r\n*0\r\n");
        assert_eq!(&scan_reply(&done, 5, None).unwrap()[..], b"*2\r\n$1\r\n0\r\n*0\r\n");
        assert!(scan_reply(&Bytes::from_static(b"-ERR x\r\n"), 1, None).is_err());
        let huge = Bytes::from(format!("*2\r\n${}\r\n{}\r\n*0\r\n", u64::MAX.to_string().len(), u64::MAX));
        assert!(scan_reply(&huge, 1, None).unwrap_err().contains("too large"));
    }
}
