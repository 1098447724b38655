//! What operators watch: the slow log, the latency monitor and MONITOR's command feed.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

/// Longest argument list and argument kept in a slow log entry (Redis's limits).
const SLOWLOG_MAX_ARGC: usize = 32;
const SLOWLOG_MAX_ARGLEN: usize = 128;

pub struct SlowlogEntry {
    pub id: u64,
    pub time_s: i64,
    pub duration_us: u64,
    pub args: Vec<Bytes>,
    pub peer: String,
    pub name: Vec<u8>,
}

#[derive(Default)]
pub struct Slowlog {
    pub entries: VecDeque<SlowlogEntry>,
    next_id: u64,
}

impl Slowlog {
    /// Records a command that took `duration_us`, trimming arguments as Redis does, and keeps
    /// at most `max_len` entries (newest first).
    pub fn push(&mut self, args: &[Bytes], duration_us: u64, time_s: i64, peer: String, name: Vec<u8>, max_len: usize) {
        let mut kept: Vec<Bytes> = Vec::new();
        let argc = args.len().min(SLOWLOG_MAX_ARGC);
        for (i, a) in args.iter().take(argc).enumerate() {
            if i == SLOWLOG_MAX_ARGC - 1 && args.len() > SLOWLOG_MAX_ARGC {
                kept.push(Bytes::from(format!("... ({} more arguments)", args.len() - SLOWLOG_MAX_ARGC + 1)));
                break;
            }
            if a.len() > SLOWLOG_MAX_ARGLEN {
                let mut v = a[..SLOWLOG_MAX_ARGLEN].to_vec();
                v.extend_from_slice(format!("... ({} more bytes)", a.len() - SLOWLOG_MAX_ARGLEN).as_bytes());
                kept.push(Bytes::from(v));
            } else {
                kept.push(a.clone());
            }
        }
        self.entries.push_front(SlowlogEntry { id: self.next_id, time_s, duration_us, args: kept, peer, name });
        self.next_id += 1;
        self.entries.truncate(max_len);
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

/// One latency event's samples (LATENCY HISTORY keeps the last 160, one per second).
#[derive(Default)]
pub struct LatencySeries {
    pub samples: VecDeque<(i64, u64)>,
    pub max_ms: u64,
}

#[derive(Default)]
pub struct Latency {
    pub events: HashMap<&'static str, LatencySeries>,
}

impl Latency {
    /// Adds a sample of `ms` for `event` at `time_s`; samples in the same second keep the max.
    pub fn add(&mut self, event: &'static str, time_s: i64, ms: u64) {
        let series = self.events.entry(event).or_default();
        series.max_ms = series.max_ms.max(ms);
        match series.samples.back_mut() {
            Some((t, v)) if *t == time_s => *v = (*v).max(ms),
            _ => {
                series.samples.push_back((time_s, ms));
                if series.samples.len() > 160 {
                    series.samples.pop_front();
                }
            }
        }
    }

    /// Resets the named events (all when empty); returns how many were reset.
    pub fn reset(&mut self, names: &[Vec<u8>]) -> usize {
        if names.is_empty() {
            let n = self.events.len();
            self.events.clear();
            return n;
        }
        let before = self.events.len();
        self.events.retain(|k, _| !names.iter().any(|n| n.eq_ignore_ascii_case(k.as_bytes())));
        before - self.events.len()
    }
}

/// A MONITOR line: `+<secs>.<micros> [<db> <peer>] "arg" ...` with Redis's quoting.
pub fn monitor_line(now_us: i64, db: usize, peer: &str, args: &[Bytes]) -> Vec<u8> {
    let mut line = format!("+{}.{:06} [{} {}]", now_us / 1_000_000, now_us % 1_000_000, db, peer).into_bytes();
    for a in args {
        line.push(b' ');
        quote_into(&mut line, a);
    }
    line.extend_from_slice(b"\r\n");
    line
}

/// Redis's `sdscatrepr`: a double-quoted string with C escapes and `\xHH` for other bytes.
pub fn quote_into(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c),
            c => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowlog_trims_like_redis() {
        let mut log = Slowlog::default();
        let args: Vec<Bytes> = (0..40).map(|i| Bytes::from(format!("a{i}"))).collect();
        log.push(&args, 10, 0, "p".into(), vec![], 2);
        let e = &log.entries[0];
        assert_eq!(e.args.len(), 32);
        assert_eq!(&e.args[31][..], b"... (9 more arguments)");
        let long = vec![Bytes::from(vec![b'x'; 200])];
        log.push(&long, 10, 0, "p".into(), vec![], 2);
        assert!(log.entries[0].args[0].ends_with(b"... (72 more bytes)"));
        log.push(&long, 10, 0, "p".into(), vec![], 2);
        assert_eq!(log.entries.len(), 2);
        assert_eq!(log.entries[0].id, 2);
    }

    #[test]
    fn monitor_quoting() {
        let line = monitor_line(
            1_339_518_083_107_412,
            0,
            "127.0.0.1:60866",
            &[Bytes::from_static(b"set"), Bytes::from_static(b"a\"\n\x01")],
        );
        assert_eq!(line, b"+1339518083.107412 [0 127.0.0.1:60866] \"set\" \"a\\\"\\n\\x01\"\r\n".to_vec());
    }
}
