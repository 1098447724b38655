//! The JSON bodies of `/proxy`, `/proxy/stats` and `/api/proxy/stats` (Go's `Overview` and
//! `Stats`), field for field in Go's order.

use std::sync::atomic::Ordering;

use compat::config::ProxyConfig;
use compat::models::{self, Slot};
use serde::Serialize;

use crate::proxy::Proxy;
use crate::stats::{OpStats, SentinelStats, Usage};

/// Go's `StatsFlags`.
pub const STATS_CMDS: u32 = 1;
pub const STATS_SLOTS: u32 = 2;
pub const STATS_RUNTIME: u32 = 4;
pub const STATS_FULL: u32 = u32::MAX;

/// What `version` and `compile` say (Go puts its git tag and build line there).
pub const VERSION: &str = concat!("rcodis ", env!("CARGO_PKG_VERSION"));
pub const COMPILE: &str = concat!("codis-proxy ", env!("CARGO_PKG_VERSION"), " (Rust)");

#[derive(Serialize)]
pub struct Overview {
    pub version: &'static str,
    pub compile: &'static str,
    pub config: ProxyConfig,
    pub model: models::Proxy,
    pub stats: StatsView,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<Slot>,
}

#[derive(Serialize)]
pub struct StatsView {
    pub online: bool,
    pub closed: bool,
    pub sentinels: SentinelStats,
    pub ops: Ops,
    pub sessions: Sessions,
    pub rusage: Rusage,
    pub backend: Backend,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
}

#[derive(Serialize)]
pub struct Ops {
    pub total: i64,
    pub fails: i64,
    pub redis: RedisErrors,
    pub qps: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<OpStats>,
}

#[derive(Serialize)]
pub struct RedisErrors {
    pub errors: i64,
}

#[derive(Serialize)]
pub struct Sessions {
    pub total: i64,
    pub alive: i64,
}

#[derive(Serialize)]
pub struct Rusage {
    pub now: String,
    pub cpu: f64,
    pub mem: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<Usage>,
}

#[derive(Serialize)]
pub struct Backend {
    pub primary_only: bool,
}

/// Go's `RuntimeStats`, filled from what this process has: jemalloc's counters stand in for the
/// Go heap (general.alloc/heap.alloc = allocated, general.sys = mapped, heap.sys = active,
/// heap.idle = active - allocated, heap.inuse = active); there is no garbage collector, so `gc`
/// stays zero; num_procs are the runtime's worker threads and num_goroutines its live tasks.
#[derive(Serialize, Default)]
pub struct Runtime {
    pub general: General,
    pub heap: Heap,
    pub gc: Gc,
    pub num_procs: i64,
    pub num_goroutines: i64,
    pub num_cgo_call: i64,
    pub mem_offheap: i64,
}

#[derive(Serialize, Default)]
pub struct General {
    pub alloc: u64,
    pub sys: u64,
    pub lookups: u64,
    pub mallocs: u64,
    pub frees: u64,
}

#[derive(Serialize, Default)]
pub struct Heap {
    pub alloc: u64,
    pub sys: u64,
    pub idle: u64,
    pub inuse: u64,
    pub objects: u64,
}

#[derive(Serialize, Default)]
pub struct Gc {
    pub num: u32,
    pub cpu_fraction: f64,
    pub total_pausems: u64,
}

/// Go's `Proxy.Stats(flags)`.
pub fn stats(p: &Proxy, flags: u32) -> StatsView {
    let s = p.stats();
    let usage = s.sys_usage();
    let rusage = match usage {
        Some(u) => {
            Rusage { now: u.now, cpu: u.cpu, mem: u.usage.as_ref().map(|r| r.vm_rss).unwrap_or(0), raw: u.usage }
        }
        None => Rusage { now: String::new(), cpu: 0.0, mem: 0, raw: None },
    };
    StatsView {
        online: p.is_online(),
        closed: p.is_closed(),
        sentinels: p.sentinel_stats(),
        ops: Ops {
            total: s.ops_total.load(Ordering::Relaxed) as i64,
            fails: s.ops_fails.load(Ordering::Relaxed) as i64,
            redis: RedisErrors { errors: s.redis_errors.load(Ordering::Relaxed) as i64 },
            qps: s.qps() as i64,
            cmd: if flags & STATS_CMDS != 0 { s.op_stats() } else { Vec::new() },
        },
        sessions: Sessions {
            total: s.sessions_total.load(Ordering::Relaxed) as i64,
            alive: s.sessions_alive.load(Ordering::Relaxed),
        },
        rusage,
        backend: Backend { primary_only: p.config().backend_primary_only },
        runtime: (flags & STATS_RUNTIME != 0).then(runtime),
    }
}

/// Go's `Proxy.Overview(flags)`.
pub fn overview(p: &Proxy, flags: u32) -> Overview {
    Overview {
        version: VERSION,
        compile: COMPILE,
        config: p.config().to_toml(),
        model: p.model(),
        stats: stats(p, flags),
        slots: if flags & STATS_SLOTS != 0 { p.slots() } else { Vec::new() },
    }
}

fn runtime() -> Runtime {
    use tikv_jemalloc_ctl::{epoch, stats};
    // jemalloc's counters are refreshed by advancing its epoch.
    let _ = epoch::advance();
    let allocated = stats::allocated::read().unwrap_or(0) as u64;
    let active = stats::active::read().unwrap_or(0) as u64;
    let mapped = stats::mapped::read().unwrap_or(0) as u64;
    let mut r = Runtime::default();
    r.general.alloc = allocated;
    r.general.sys = mapped;
    r.heap.alloc = allocated;
    r.heap.sys = active;
    r.heap.idle = active.saturating_sub(allocated);
    r.heap.inuse = active;
    if let Ok(h) = tokio::runtime::Handle::try_current() {
        let m = h.metrics();
        r.num_procs = m.num_workers() as i64;
        r.num_goroutines = m.num_alive_tasks() as i64;
    }
    r
}
