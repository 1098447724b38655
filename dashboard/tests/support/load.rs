//! Load for the cross-process tests: writers through proxies whose every reply is checked
//! against the writer's own count, and a final read-back of every key.
//!
//! Each writer owns its keys and alternates `INCR` of a counter with `RPUSH` of its next
//! sequence number: a lost or repeated write shows in the very next reply, and at the end the
//! counters and lists must hold exactly what was acknowledged, on the owner's server only.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use compat::models::Slot;

use super::Proc;

pub fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub fn conn(addr: &str) -> Option<conformance::Conn> {
    let port = addr.rsplit(':').next()?.parse().ok()?;
    let mut c = conformance::Conn::connect_timeout(port, Duration::from_secs(2)).ok()?;
    c.set_timeout(Duration::from_secs(30));
    Some(c)
}

/// What one writer did.
#[derive(Default)]
pub struct Report {
    pub writer: usize,
    /// Acknowledged INCRs per key index.
    pub incrs: Vec<u64>,
    /// Acknowledged RPUSHed ids per key index, in order.
    pub pushed: Vec<Vec<u64>>,
    /// Commands that failed (error reply or broken connection); their keys are not checked.
    pub failed: Vec<String>,
    /// Replies that disagreed with the writer's own count.
    pub wrong: Vec<String>,
    pub poisoned: Vec<bool>,
}

impl Report {
    pub fn ops(&self) -> u64 {
        self.incrs.iter().sum::<u64>() + self.pushed.iter().map(|p| p.len() as u64).sum::<u64>()
    }
}

fn counter_key(w: usize, k: usize) -> String {
    format!("mig:{w}:{k}:n")
}

fn list_key(w: usize, k: usize) -> String {
    format!("mig:{w}:{k}:l")
}

pub struct Writers {
    stop: Arc<AtomicBool>,
    pub ops: Arc<AtomicU64>,
    handles: Vec<std::thread::JoinHandle<Report>>,
}

/// Starts `MIG_WRITERS` writers, spread over `proxies` (RESP addresses).
pub fn writers(proxies: &[String]) -> Writers {
    let (n, keys, pause) = (knob("MIG_WRITERS", 2) as usize, knob("MIG_KEYS", 64) as usize, knob("MIG_PAUSE_US", 1000));
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let handles = (0..n)
        .map(|w| {
            let addr = proxies[w % proxies.len()].clone();
            let (stop, ops) = (Arc::clone(&stop), Arc::clone(&ops));
            std::thread::spawn(move || write_loop(w, &addr, keys, pause, &stop, &ops))
        })
        .collect();
    Writers { stop, ops, handles }
}

impl Writers {
    pub fn finish(self) -> Vec<Report> {
        self.stop.store(true, Ordering::SeqCst);
        self.handles.into_iter().map(|h| h.join().expect("writer panicked")).collect()
    }
}

fn write_loop(w: usize, addr: &str, keys: usize, pause: u64, stop: &AtomicBool, ops: &AtomicU64) -> Report {
    let mut r = Report {
        writer: w,
        incrs: vec![0; keys],
        pushed: vec![Vec::new(); keys],
        poisoned: vec![false; keys],
        ..Default::default()
    };
    let mut c = conn(addr);
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let k = (n as usize) % keys;
        n += 1;
        if r.poisoned[k] {
            continue;
        }
        let Some(cc) = c.as_mut() else {
            r.failed.push(format!("writer {w}: connect to proxy {addr} failed"));
            std::thread::sleep(Duration::from_millis(100));
            c = conn(addr);
            continue;
        };
        let (id, ck, lk) = (n.to_string(), counter_key(w, k), list_key(w, k));
        let steps: [(Vec<&str>, u64); 2] =
            [(vec!["INCR", &ck], r.incrs[k] + 1), (vec!["RPUSH", &lk, &id], r.pushed[k].len() as u64 + 1)];
        for (i, (cmd, want)) in steps.iter().enumerate() {
            match cc.call(cmd) {
                Ok(rep) if rep.raw == format!(":{want}\r\n").as_bytes() => {
                    if i == 0 {
                        r.incrs[k] += 1;
                    } else {
                        r.pushed[k].push(n);
                    }
                    ops.fetch_add(1, Ordering::Relaxed);
                }
                Ok(rep) if rep.raw.starts_with(b":") => {
                    r.wrong.push(format!("{cmd:?}: {:?}, want :{want}", String::from_utf8_lossy(&rep.raw)));
                    r.poisoned[k] = true;
                    break;
                }
                Ok(rep) => {
                    r.failed.push(format!("{cmd:?}: {:?}", String::from_utf8_lossy(&rep.raw)));
                    r.poisoned[k] = true;
                    break;
                }
                Err(e) => {
                    r.failed.push(format!("{cmd:?}: {e}"));
                    r.poisoned[k] = true;
                    c = conn(addr);
                    break;
                }
            }
        }
        if pause > 0 {
            std::thread::sleep(Duration::from_micros(pause));
        }
    }
    r
}

/// Reads every key back through `proxy` and from the servers: the values the writers were
/// acknowledged, on the owner's server only. Returns the problems found.
pub fn check_writes(reports: &[Report], proxy: &str, slots: &[Slot], servers: &[Proc]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut p = conn(proxy).expect("connect to proxy");
    let mut direct: BTreeMap<String, conformance::Conn> =
        servers.iter().map(|s| (s.addr.clone(), conn(&s.addr).expect("connect to server"))).collect();
    for r in reports {
        problems.extend(r.failed.iter().take(5).map(|f| format!("writer {} failed: {f}", r.writer)));
        problems.extend(r.wrong.iter().take(5).map(|f| format!("writer {} wrong reply: {f}", r.writer)));
        for k in 0..r.incrs.len() {
            if r.poisoned[k] {
                continue;
            }
            let (ck, lk) = (counter_key(r.writer, k), list_key(r.writer, k));
            let got = p.call(&["GET", &ck]).expect("GET through proxy").raw;
            let want = if r.incrs[k] == 0 {
                b"$-1\r\n".to_vec()
            } else {
                let v = r.incrs[k].to_string();
                format!("${}\r\n{v}\r\n", v.len()).into_bytes()
            };
            if got != want {
                problems.push(format!("{ck}: {:?}, want {} increments", String::from_utf8_lossy(&got), r.incrs[k]));
            }
            let got = p.call(&["LRANGE", &lk, "0", "-1"]).expect("LRANGE through proxy");
            let ids: Vec<u64> = match got.frame {
                compat::resp::Frame::Array(items) => items
                    .iter()
                    .filter_map(|e| match e {
                        compat::resp::Frame::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            if ids != r.pushed[k] {
                problems.push(format!("{lk}: {} ids, want {} (lost or repeated pushes)", ids.len(), r.pushed[k].len()));
            }
            for key in [&ck, &lk] {
                let owner = &slots[compat::slot::slot_of(key.as_bytes())].backend_addr;
                for (addr, c) in direct.iter_mut() {
                    let exists = c.call(&["EXISTS", key]).expect("EXISTS").raw == b":1\r\n";
                    let want = addr == owner && (key == &ck && r.incrs[k] > 0 || key == &lk && !r.pushed[k].is_empty());
                    if exists != want {
                        problems.push(format!("{key} exists={exists} on {addr} (owner {owner})"));
                    }
                }
            }
        }
    }
    problems
}
