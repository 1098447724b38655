//! Switches for behaviour beyond Codis 3.2 (docs/proxy-features.md). Everything is off by
//! default, which is Codis's behaviour.

use std::time::Duration;

use compat::config::ProxyConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features {
    /// SUBSCRIBE/PSUBSCRIBE/UNSUBSCRIBE/PUNSUBSCRIBE/PUBLISH.
    pub pubsub: bool,
    /// MULTI/EXEC/DISCARD/WATCH/UNWATCH within one slot.
    pub transactions: bool,
    /// BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BZPOPMIN, BZPOPMAX on a connection of their own.
    pub blocking: bool,
    /// SCAN, KEYS, DBSIZE, FLUSHALL, FLUSHDB over every group.
    pub cluster: bool,
    /// How long a request for a backend that is down waits for a new route; zero fails it at once.
    pub failover_hold: Duration,
    /// Requests waiting that way at most.
    pub failover_hold_max: usize,
}

impl Default for Features {
    fn default() -> Self {
        Features::from_toml(&ProxyConfig::default())
    }
}

impl Features {
    pub fn from_toml(c: &ProxyConfig) -> Features {
        Features {
            pubsub: c.proxy_pubsub,
            transactions: c.proxy_transactions,
            blocking: c.proxy_blocking_commands,
            cluster: c.proxy_cluster_commands,
            failover_hold: c.backend_failover_hold.duration(),
            failover_hold_max: c.backend_failover_hold_max.max(0) as usize,
        }
    }

    /// Every extension on, with a hold of `hold` (tests, benchmarks).
    pub fn all(hold: Duration) -> Features {
        Features {
            pubsub: true,
            transactions: true,
            blocking: true,
            cluster: true,
            failover_hold: hold,
            failover_hold_max: 10000,
        }
    }
}
