//! Proxy-wide counters. Sessions count locally and add their totals once per read batch, so the
//! shared counters are touched rarely.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Stats {
    pub ops_total: AtomicU64,
    pub ops_fails: AtomicU64,
    /// Error replies from backends.
    pub redis_errors: AtomicU64,
    pub sessions_total: AtomicU64,
    pub sessions_alive: AtomicI64,
}

impl Stats {
    pub fn add_ops(&self, total: u64, fails: u64, errors: u64) {
        if total != 0 {
            self.ops_total.fetch_add(total, Ordering::Relaxed);
        }
        if fails != 0 {
            self.ops_fails.fetch_add(fails, Ordering::Relaxed);
        }
        if errors != 0 {
            self.redis_errors.fetch_add(errors, Ordering::Relaxed);
        }
    }
}
