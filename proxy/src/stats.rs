//! Proxy-wide counters, as Go's `pkg/proxy/stats.go` keeps them.
//!
//! - totals: requests read (`ops.total`), requests that got no reply or ended a session
//!   (`ops.fails`), error replies (`ops.redis.errors`), sessions;
//! - per command (`ops.cmd`): calls, time from read to reply written, fails, error replies;
//! - `ops.qps`, computed once a second from `ops.total`;
//! - the process's CPU and memory (`rusage`), sampled once a second from `/proc/self/stat`.
//!
//! Sessions count in a [`SessionCmds`] of their own and add to the shared counters at most every
//! 100 ms and when they end, as Go's sessions do, so the shared maps are touched rarely.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use serde::Serialize;

/// Go rejects command names longer than this (`ErrBadOpStrLen`); we keep at most this much.
const MAX_OPSTR: usize = 64;

#[derive(Debug, Default)]
pub struct Stats {
    pub ops_total: AtomicU64,
    /// Go's `ops.fails`: requests left unanswered when their session ended, and session-level
    /// failures (too many pipelined requests, refused connections).
    pub ops_fails: AtomicU64,
    /// Go's `ops.redis.errors`: error replies written to clients, whoever made them.
    pub redis_errors: AtomicU64,
    pub sessions_total: AtomicU64,
    pub sessions_alive: AtomicI64,
    /// Replies the proxy itself failed (`ERR handle request/response, ...`), as the data path
    /// counts them. Not a Go field; exported on `/metrics`.
    pub proxy_failures: AtomicU64,
    /// Error replies that came from backends, as the data path counts them (`/metrics` only).
    pub backend_errors: AtomicU64,
    qps: AtomicU64,
    cmds: RwLock<HashMap<Box<str>, Arc<OpCounters>>>,
    usage: Mutex<Option<SysUsage>>,
}

/// The shared counters of one command.
#[derive(Debug, Default)]
pub struct OpCounters {
    calls: AtomicU64,
    nsecs: AtomicU64,
    fails: AtomicU64,
    errors: AtomicU64,
}

/// One entry of `ops.cmd` (Go's `OpStats`), fields in Go's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpStats {
    pub opstr: String,
    pub calls: i64,
    pub usecs: i64,
    pub usecs_percall: i64,
    pub fails: i64,
    pub redis_errtype: i64,
}

impl Stats {
    /// What a session adds once per read batch: requests read, and its own view of failures and
    /// backend errors (kept apart from Go's fields, which [`SessionCmds`] feeds).
    pub fn add_ops(&self, total: u64, fails: u64, errors: u64) {
        if total != 0 {
            self.ops_total.fetch_add(total, Ordering::Relaxed);
        }
        if fails != 0 {
            self.proxy_failures.fetch_add(fails, Ordering::Relaxed);
        }
        if errors != 0 {
            self.backend_errors.fetch_add(errors, Ordering::Relaxed);
        }
    }

    /// A failure that belongs to no command (Go's `incrOpFails(nil, ...)`).
    pub fn incr_fails(&self) {
        self.ops_fails.fetch_add(1, Ordering::Relaxed);
    }

    fn op(&self, name: &str) -> Arc<OpCounters> {
        if let Some(c) = self.cmds.read().get(name) {
            return c.clone();
        }
        self.cmds.write().entry(name.into()).or_default().clone()
    }

    fn add_op(&self, name: &str, l: &LocalOp) {
        let c = self.op(name);
        c.calls.fetch_add(l.calls, Ordering::Relaxed);
        c.nsecs.fetch_add(l.nsecs, Ordering::Relaxed);
        if l.fails != 0 {
            c.fails.fetch_add(l.fails, Ordering::Relaxed);
            self.ops_fails.fetch_add(l.fails, Ordering::Relaxed);
        }
        if l.errors != 0 {
            c.errors.fetch_add(l.errors, Ordering::Relaxed);
            self.redis_errors.fetch_add(l.errors, Ordering::Relaxed);
        }
    }

    /// `ops.cmd`, sorted by name as Go sorts it.
    pub fn op_stats(&self) -> Vec<OpStats> {
        let map = self.cmds.read();
        let mut all: Vec<OpStats> = map
            .iter()
            .map(|(name, c)| {
                let calls = c.calls.load(Ordering::Relaxed) as i64;
                let usecs = (c.nsecs.load(Ordering::Relaxed) / 1000) as i64;
                OpStats {
                    opstr: name.to_string(),
                    calls,
                    usecs,
                    usecs_percall: if calls != 0 { usecs / calls } else { 0 },
                    fails: c.fails.load(Ordering::Relaxed) as i64,
                    redis_errtype: c.errors.load(Ordering::Relaxed) as i64,
                }
            })
            .collect();
        all.sort_by(|a, b| a.opstr.cmp(&b.opstr));
        all
    }

    pub fn qps(&self) -> u64 {
        self.qps.load(Ordering::Relaxed)
    }

    /// Go's `ResetStats`: per-command counters and totals start over; sessions.total becomes the
    /// number of sessions alive.
    pub fn reset(&self) {
        self.cmds.write().clear();
        self.ops_total.store(0, Ordering::Relaxed);
        self.ops_fails.store(0, Ordering::Relaxed);
        self.redis_errors.store(0, Ordering::Relaxed);
        self.proxy_failures.store(0, Ordering::Relaxed);
        self.backend_errors.store(0, Ordering::Relaxed);
        let alive = self.sessions_alive.load(Ordering::Relaxed).max(0) as u64;
        self.sessions_total.store(alive, Ordering::Relaxed);
    }

    /// The last CPU/memory sample, if one was taken.
    pub fn sys_usage(&self) -> Option<SysUsage> {
        self.usage.lock().clone()
    }

    /// Once a second: `ops.qps` from the change of `ops.total`, and a CPU/memory sample. Runs
    /// until `stop` says so.
    pub async fn sample_forever(self: Arc<Self>, stop: impl Fn() -> bool) {
        let mut last_total = self.ops_total.load(Ordering::Relaxed);
        let mut last_at = Instant::now();
        let mut last_cpu = Usage::read().ok().map(|u| (Instant::now(), u.cpu_total()));
        while !stop() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = Instant::now();
            let total = self.ops_total.load(Ordering::Relaxed);
            let elapsed = now.duration_since(last_at).as_secs_f64().max(1e-9);
            // After a reset the total can go down: Go clamps the delta at zero.
            let delta = total.saturating_sub(last_total) as f64;
            self.qps.store((delta / elapsed + 0.5) as u64, Ordering::Relaxed);
            last_total = total;
            last_at = now;
            let sample = match Usage::read() {
                Ok(u) => {
                    let cpu = match last_cpu {
                        Some((at, before)) => {
                            let wall = now.duration_since(at).as_nanos().max(1) as f64;
                            u.cpu_total().saturating_sub(before) as f64 / wall
                        }
                        None => 0.0,
                    };
                    last_cpu = Some((now, u.cpu_total()));
                    SysUsage { now: compat::models::gotime::now_string(), cpu, usage: Some(u) }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "read process usage failed");
                    SysUsage { now: compat::models::gotime::now_string(), cpu: 0.0, usage: None }
                }
            };
            *self.usage.lock() = Some(sample);
        }
    }
}

/// One CPU/memory sample (Go's `SysUsage`).
#[derive(Debug, Clone)]
pub struct SysUsage {
    /// When it was taken, in Go's `Time.String()` form.
    pub now: String,
    /// CPU seconds per second over the last interval (1.0 = one core busy).
    pub cpu: f64,
    pub usage: Option<Usage>,
}

/// `rusage.raw` (Go's `utils.Usage`): times in nanoseconds, sizes in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub utime: u64,
    pub stime: u64,
    pub cutime: u64,
    pub cstime: u64,
    pub num_threads: i64,
    pub vm_size: i64,
    pub vm_rss: i64,
}

impl Usage {
    pub fn cpu_total(&self) -> u64 {
        self.utime + self.stime + self.cutime + self.cstime
    }

    /// `/proc/self/stat`, read like Go's `utils.GetUsage`.
    pub fn read() -> std::io::Result<Usage> {
        let text = std::fs::read_to_string("/proc/self/stat")?;
        Usage::parse(&text).ok_or_else(|| std::io::Error::other("unexpected /proc/self/stat format"))
    }

    fn parse(text: &str) -> Option<Usage> {
        // The command name (field 2) may hold spaces; the fields after it start past its ')'.
        let rest = &text[text.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // f[0] is field 3 (state); utime is field 14, rss field 24.
        let num = |i: usize| -> Option<i64> { f.get(i - 3)?.parse().ok() };
        // SAFETY: sysconf has no preconditions.
        let (tck, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
        let unit = 1_000_000_000 / tck.max(1) as u64;
        let ticks = |i: usize| -> Option<u64> { Some(num(i)?.max(0) as u64 * unit) };
        Some(Usage {
            utime: ticks(14)?,
            stime: ticks(15)?,
            cutime: ticks(16)?,
            cstime: ticks(17)?,
            num_threads: num(20)?,
            vm_size: num(23)?,
            vm_rss: num(24)? * page,
        })
    }
}

/// A session's own per-command counters, and the requests it has read but not yet answered.
///
/// The session calls [`SessionCmds::begin`] for each request it reads (with the sequence number
/// its reply will have), [`SessionCmds::end`] as each reply is written, and
/// [`SessionCmds::flush`] regularly and once at the end.
#[derive(Debug)]
pub struct SessionCmds {
    /// Requests read and not yet answered, in runs: consecutive sequence numbers of one
    /// command read at one time (a pipelined batch is mostly a single run).
    pending: VecDeque<Run>,
    /// The last (read time, write time, nanoseconds) computed: the requests of one read share
    /// their read time and the replies of one write their write time.
    span: Option<(Instant, Instant, u64)>,
    ops: Vec<(Box<str>, LocalOp)>,
    /// Index in `ops` of the last command begun.
    last: usize,
    last_flush: Instant,
}

/// Requests `seq .. seq + n`, all of command `idx`, read at `at`.
#[derive(Debug, Clone, Copy)]
struct Run {
    seq: u64,
    n: u64,
    idx: usize,
    at: Instant,
}

#[derive(Debug, Default, Clone)]
struct LocalOp {
    calls: u64,
    nsecs: u64,
    fails: u64,
    errors: u64,
}

impl Default for SessionCmds {
    fn default() -> Self {
        SessionCmds { pending: VecDeque::new(), span: None, ops: Vec::new(), last: 0, last_flush: Instant::now() }
    }
}

impl SessionCmds {
    /// A request named `name` (its first argument) was read at `now`; its reply will carry `seq`.
    pub fn begin(&mut self, seq: u64, name: &[u8], now: Instant) {
        let name = &name[..name.len().min(MAX_OPSTR)];
        // Sessions mostly repeat one command: try the last one before searching.
        let idx = match self.ops.get(self.last) {
            // Clients mostly write names in capitals, as they are kept: a plain compare first.
            Some((n, _)) if n.as_bytes() == name || n.as_bytes().eq_ignore_ascii_case(name) => self.last,
            _ => match self.ops.iter().position(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name)) {
                Some(i) => i,
                None => {
                    let upper = String::from_utf8_lossy(name).to_ascii_uppercase();
                    self.ops.push((upper.into_boxed_str(), LocalOp::default()));
                    self.ops.len() - 1
                }
            },
        };
        self.last = idx;
        if let Some(back) = self.pending.back_mut() {
            // A request that produced no reply entry leaves its sequence number to the next one.
            if back.seq + back.n - 1 == seq {
                back.n -= 1;
                if back.n == 0 {
                    self.pending.pop_back();
                }
            }
        }
        if let Some(back) = self.pending.back_mut() {
            if back.idx == idx && back.at == now && back.seq + back.n == seq {
                back.n += 1;
                return;
            }
        }
        self.pending.push_back(Run { seq, n: 1, idx, at: now });
    }

    /// The reply of `seq` was written at `now`; `reply` is its RESP2 form.
    pub fn end(&mut self, seq: u64, reply: &[u8], now: Instant) {
        while let Some(run) = self.pending.front_mut() {
            if run.seq > seq {
                return;
            }
            if seq >= run.seq + run.n {
                // Requests before `seq` that were never answered count nowhere.
                self.pending.pop_front();
                continue;
            }
            let (idx, start) = (run.idx, run.at);
            run.n -= seq + 1 - run.seq;
            run.seq = seq + 1;
            if run.n == 0 {
                self.pending.pop_front();
            }
            let nsecs = match self.span {
                Some((s, n, d)) if s == start && n == now => d,
                _ => {
                    let d = now.saturating_duration_since(start).as_nanos() as u64;
                    self.span = Some((start, now, d));
                    d
                }
            };
            let op = &mut self.ops[idx].1;
            op.calls += 1;
            op.nsecs += nsecs;
            if reply.first() == Some(&b'-') {
                op.errors += 1;
            }
            return;
        }
    }

    /// Adds this session's counts to `stats`: at most every 100 ms unless `last`. On the last
    /// flush, requests still unanswered count as failed.
    pub fn flush(&mut self, stats: &Stats, last: bool) {
        if !last && self.last_flush.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.last_flush = Instant::now();
        if last {
            for run in self.pending.drain(..) {
                self.ops[run.idx].1.fails += run.n;
            }
        }
        for (name, op) in &mut self.ops {
            if op.calls != 0 || op.fails != 0 || op.errors != 0 {
                stats.add_op(name, op);
                *op = LocalOp::default();
            }
        }
    }
}

/// `sentinels` of the stats: servers, masters by group id (as strings, sorted as Go sorts map
/// keys), and whether a master switch is in effect.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SentinelStats {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masters: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub switched: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_fields() {
        let line = "1234 (codis proxy) S 1 1234 1234 0 -1 4194560 1000 0 0 0 163 44 0 0 20 0 8 0 100 \
                    1789247488 56346 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        let u = Usage::parse(line).unwrap();
        // SAFETY: sysconf has no preconditions.
        let (tck, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
        assert_eq!(u.utime, 163 * (1_000_000_000 / tck as u64));
        assert_eq!(u.stime, 44 * (1_000_000_000 / tck as u64));
        assert_eq!(u.num_threads, 8);
        assert_eq!(u.vm_size, 1789247488);
        assert_eq!(u.vm_rss, 56346 * page);
        assert!(Usage::read().unwrap().num_threads >= 1);
    }

    #[test]
    fn per_command_counts_follow_go() {
        let stats = Stats::default();
        let mut s = SessionCmds::default();
        s.begin(0, b"set", Instant::now());
        s.begin(1, b"GET", Instant::now());
        s.begin(2, b"bogus", Instant::now());
        s.end(0, b"+OK\r\n", Instant::now());
        s.end(1, b"$-1\r\n", Instant::now());
        s.end(2, b"-ERR unknown\r\n", Instant::now());
        // A request whose session ends before its reply is a fail.
        s.begin(3, b"get", Instant::now());
        s.flush(&stats, true);
        let all = stats.op_stats();
        let names: Vec<&str> = all.iter().map(|o| o.opstr.as_str()).collect();
        assert_eq!(names, ["BOGUS", "GET", "SET"]);
        assert_eq!((all[0].calls, all[0].redis_errtype), (1, 1));
        assert_eq!((all[1].calls, all[1].fails), (1, 1));
        assert_eq!(stats.ops_fails.load(Ordering::Relaxed), 1);
        assert_eq!(stats.redis_errors.load(Ordering::Relaxed), 1);
        stats.reset();
        assert!(stats.op_stats().is_empty());
        assert_eq!(stats.ops_fails.load(Ordering::Relaxed), 0);
    }

    /// Replies written together share one clock reading, requests read together another; the
    /// time of each request is still its own reply time minus its own read time.
    #[test]
    fn usecs_sum_each_request_span() {
        let stats = Stats::default();
        let mut s = SessionCmds::default();
        let t0 = Instant::now();
        let (t1, t2, t3) =
            (t0 + Duration::from_millis(1), t0 + Duration::from_millis(5), t0 + Duration::from_millis(7));
        s.begin(0, b"GET", t0);
        s.begin(1, b"GET", t0);
        s.begin(2, b"GET", t1);
        s.end(0, b"$-1\r\n", t2);
        s.end(1, b"$-1\r\n", t2);
        s.end(2, b"$-1\r\n", t2);
        s.begin(3, b"GET", t1);
        s.end(3, b"$-1\r\n", t3);
        s.flush(&stats, true);
        let all = stats.op_stats();
        // 5 + 5 + 4 + 6 ms.
        assert_eq!((all[0].calls, all[0].usecs), (4, 20_000));
    }

    /// Runs of one command: answers out of a run, skipped sequence numbers, a run broken by
    /// another command or another read, and the unanswered rest counted as fails.
    #[test]
    fn runs_count_each_request() {
        let stats = Stats::default();
        let mut s = SessionCmds::default();
        let t0 = Instant::now();
        let (t1, t2) = (t0 + Duration::from_millis(1), t0 + Duration::from_millis(3));
        for seq in 0..4 {
            s.begin(seq, b"GET", t0);
        }
        s.begin(4, b"SET", t0);
        s.begin(5, b"GET", t0);
        s.begin(6, b"GET", t1);
        // Seq 7 is refused (no entry): the next request takes it.
        s.begin(7, b"GET", t1);
        s.begin(7, b"DEL", t1);
        s.begin(8, b"GET", t1);
        s.end(0, b"+a\r\n", t2);
        // Seq 1 never answered (skipped over).
        s.end(2, b"-ERR x\r\n", t2);
        s.end(3, b"+a\r\n", t2);
        s.end(4, b"+OK\r\n", t2);
        s.end(6, b"+a\r\n", t2);
        s.end(7, b":1\r\n", t2);
        s.flush(&stats, true);
        let all = stats.op_stats();
        let got: Vec<(&str, i64, i64, i64, i64)> =
            all.iter().map(|o| (o.opstr.as_str(), o.calls, o.fails, o.redis_errtype, o.usecs)).collect();
        // GET: seq 0, 2, 3 at 3 ms and 6 at 2 ms; seq 8 unanswered.
        assert_eq!(got, [("DEL", 1, 0, 0, 2_000), ("GET", 4, 1, 1, 11_000), ("SET", 1, 0, 0, 3_000)]);
    }

    #[test]
    fn request_without_reply_entry_gives_way() {
        let stats = Stats::default();
        let mut s = SessionCmds::default();
        s.begin(0, b"GET", Instant::now());
        // The session pushed no entry for seq 0 (e.g. it refused the request); the next request
        // takes the same sequence number.
        s.begin(0, b"SET", Instant::now());
        s.end(0, b"+OK\r\n", Instant::now());
        s.flush(&stats, true);
        let all = stats.op_stats();
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].opstr.as_str(), all[0].calls), ("SET", 1));
    }
}
