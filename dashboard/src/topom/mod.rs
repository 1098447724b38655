//! The dashboard ("topom"): owns one product in the coordinator, keeps every proxy's slot table
//! in step with the stored slot mappings, drives slot migrations and replica syncs, watches
//! sentinels and polls stats (`pkg/topom` of Go Codis, same states, same error texts).
//!
//! Every operation runs under one lock, against a cache of the stored models ([`Cache`]). Like
//! Go, an operation edits the cached models in place, writes them to the store, and marks them
//! dirty: the next operation reads them back from the store, so a failed write never leaves the
//! cache ahead of the coordinator.

mod action;
mod cache;
mod group;
mod ha;
mod progress;
mod proxy;
pub mod slots;
mod stats;
mod store_ops;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use compat::config::DashboardConfig;
use compat::models::{self, gotime, parse_forward_method, Proxy};
use compat::rest::ProxyApi;
use compat::store::Store;
use compat::xauth;
use tokio::sync::{watch, Mutex, MutexGuard};

pub use cache::Cache;
pub use progress::{Progress, ProgressReport, SlotProgress};
pub use stats::{ProxyStats, RedisStats, Stats};

/// An operation's failure; the text is the `Cause` REST clients see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<crate::redis::RedisError> for Error {
    fn from(e: crate::redis::RedisError) -> Error {
        Error(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! fail {
    ($($t:tt)*) => { return Err($crate::topom::Error(format!($($t)*))) };
}
pub(crate) use fail;

pub const ERR_CLOSED: &str = "use of closed topom";
pub const ERR_NOT_ONLINE: &str = "topom is not online";

/// Knobs and counters of the slot action loop.
#[derive(Default)]
pub struct ActionCtl {
    pub interval: AtomicI64,
    pub disabled: AtomicBool,
    pub executor: AtomicI64,
    pub status: std::sync::Mutex<String>,
}

struct Inner {
    cache: Option<Cache>,
}

#[derive(Default)]
struct StatsCache {
    servers: BTreeMap<String, RedisStats>,
    proxies: BTreeMap<String, ProxyStats>,
}

#[derive(Default)]
struct Ha {
    /// `None` until sentinels are watched (Go's nil map).
    masters: Option<BTreeMap<i64, String>>,
    /// Cancels the current sentinel watcher.
    monitor: Option<watch::Sender<bool>>,
}

pub struct Topom {
    pub config: DashboardConfig,
    /// Beyond Codis: the secret mutating REST calls must carry (`admin_auth`); empty = off.
    pub admin_auth: String,
    store: Store,
    model: models::Topom,
    xauth: String,
    method: i64,
    inner: Mutex<Inner>,
    online: AtomicBool,
    closed: AtomicBool,
    exit: watch::Sender<bool>,
    pub action: ActionCtl,
    stats: std::sync::Mutex<StatsCache>,
    ha: std::sync::Mutex<Ha>,
    pub progress: std::sync::Mutex<Progress>,
    /// Idle connections of the slot action executor, by server address.
    pub(crate) action_pool: std::sync::Mutex<std::collections::HashMap<String, Vec<crate::redis::Client>>>,
    /// Slot mapping writes since start (for `/metrics`).
    pub slot_writes: std::sync::atomic::AtomicU64,
}

fn uname() -> String {
    match std::process::Command::new("uname").arg("-a").output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => {
            tracing::warn!("run command uname failed");
            String::new()
        }
    }
}

impl Topom {
    /// Go's `topom.New`: validates the config, builds the model for the admin address the
    /// listener got (`admin_addr` is what others should use to reach it).
    pub fn new(
        store: Store,
        config: DashboardConfig,
        admin_auth: String,
        bound: &str,
        admin_addr: &str,
    ) -> Result<Topom> {
        config.validate().map_err(|e| Error(e.to_string()))?;
        models::validate_product(&config.product_name).map_err(|e| Error(e.to_string()))?;
        let model = models::Topom {
            token: xauth::dashboard_token(&config.product_name, bound),
            start_time: gotime::now_string(),
            admin_addr: admin_addr.to_string(),
            product_name: config.product_name.clone(),
            pid: std::process::id() as i64,
            pwd: std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
            sys: uname(),
        };
        let (exit, _) = watch::channel(false);
        Ok(Topom {
            xauth: xauth::dashboard_xauth(&config.product_name),
            method: parse_forward_method(&config.migration_method).unwrap_or_default(),
            config,
            admin_auth,
            store,
            model,
            inner: Mutex::new(Inner { cache: None }),
            online: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            exit,
            action: ActionCtl::default(),
            stats: Default::default(),
            ha: Default::default(),
            progress: Default::default(),
            slot_writes: Default::default(),
            action_pool: Default::default(),
        })
    }

    pub(crate) fn metrics_slot_write(&self) {
        self.slot_writes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn model(&self) -> &models::Topom {
        &self.model
    }

    pub fn xauth(&self) -> &str {
        &self.xauth
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::SeqCst) && !self.is_closed()
    }

    /// Resolves when the topom is closed (shutdown call, signal).
    pub async fn closed_wait(&self) {
        let mut rx = self.exit.subscribe();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Go's `Start(routines)`: takes the lock; with `routines`, starts the stats, slot action
    /// and sync action loops and the sentinel watcher.
    pub async fn start(self: &Arc<Self>, routines: bool) -> Result<()> {
        {
            let _g = self.inner.lock().await;
            if self.is_closed() {
                fail!("{ERR_CLOSED}");
            }
            if self.online.load(Ordering::SeqCst) {
                return Ok(());
            }
            if let Err(e) = self.store.acquire(&self.model).await {
                tracing::error!("store: acquire lock of {} failed: {e}", self.config.product_name);
                fail!("store: acquire lock of {} failed", self.config.product_name);
            }
            self.online.store(true, Ordering::SeqCst);
        }
        if !routines {
            return Ok(());
        }
        let servers = {
            let g = self.ctx().await?;
            g.cache().sentinel.servers.clone()
        };
        self.rewatch_sentinels(servers);
        action::spawn_loops(self);
        Ok(())
    }

    /// Go's `Close`: stops the loops, releases the lock when we held it.
    pub async fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let _ = self.exit.send(true);
        if let Ok(mut ha) = self.ha.lock() {
            if let Some(m) = ha.monitor.take() {
                let _ = m.send(true);
            }
        }
        let _g = self.inner.lock().await;
        let mut result = Ok(());
        if self.online.load(Ordering::SeqCst) {
            if let Err(e) = self.store.release().await {
                tracing::error!("store: release lock of {} failed: {e}", self.config.product_name);
                result = Err(Error(format!("store: release lock of {} failed", self.config.product_name)));
            }
        }
        let _ = self.store.close().await;
        result
    }

    /// Go's `newContext`: the lock plus a cache refilled from the store.
    pub(crate) async fn ctx(&self) -> Result<Ctx<'_>> {
        let mut g = self.inner.lock().await;
        if self.is_closed() {
            fail!("{ERR_CLOSED}");
        }
        if !self.online.load(Ordering::SeqCst) {
            fail!("{ERR_NOT_ONLINE}");
        }
        let cache = g.cache.take();
        match cache::refill(&self.store, cache).await {
            Ok(c) => g.cache = Some(c),
            Err(e) => {
                tracing::error!("{e}");
                return Err(e);
            }
        }
        Ok(Ctx { guard: g, method: self.method })
    }

    /// `PUT /api/topom/reload`: drops the whole cache.
    pub async fn reload(&self) -> Result<()> {
        let mut g = self.ctx().await?;
        g.guard.cache = None;
        Ok(())
    }

    pub fn slot_action_interval(&self) -> i64 {
        self.action.interval.load(Ordering::SeqCst)
    }

    pub fn set_slot_action_interval(&self, us: i64) {
        let us = us.clamp(0, 1_000_000);
        self.action.interval.store(us, Ordering::SeqCst);
        tracing::warn!("set action interval = {us}");
    }

    pub fn slot_action_disabled(&self) -> bool {
        self.action.disabled.load(Ordering::SeqCst)
    }

    pub fn set_slot_action_disabled(&self, v: bool) {
        self.action.disabled.store(v, Ordering::SeqCst);
        tracing::warn!("set action disabled = {v}");
    }

    /// The proxy-side slot table (`/topom/slots`).
    pub async fn slots(&self) -> Result<Vec<models::Slot>> {
        let g = self.ctx().await?;
        let c = g.cache();
        Ok(c.to_slots(&c.slots, None, g.method))
    }

    fn proxy_client(&self, p: &Proxy) -> ProxyApi {
        let mut c = ProxyApi::new(p.admin_addr.clone());
        c.set_xauth(&self.config.product_name, &self.config.product_auth, &p.token);
        c
    }

    /// Go's `resyncSlotMappings`: fillslots of `slots` (as each proxy should see them) to every
    /// proxy, all in parallel; the first failure names the proxy.
    pub(crate) async fn resync_slot_mappings(
        &self,
        c: &Cache,
        method: i64,
        slots: &[models::SlotMapping],
    ) -> Result<()> {
        if slots.is_empty() {
            return Ok(());
        }
        let mut tasks = Vec::new();
        for p in c.proxy.values() {
            let table = c.to_slots(slots, Some(p), method);
            let api = self.proxy_client(p);
            let token = p.token.clone();
            tasks.push(tokio::spawn(async move {
                let r = api.fill_slots(&table).await;
                if let Err(e) = &r {
                    tracing::error!("proxy-[{token}] resync slots failed: {e}");
                }
                (token, r.is_ok())
            }));
        }
        let mut failed = None;
        for t in tasks {
            match t.await {
                Ok((_, true)) => {}
                Ok((token, false)) => failed = failed.or(Some(token)),
                Err(_) => failed = failed.or(Some(String::from("?"))),
            }
        }
        match failed {
            Some(t) => fail!("proxy-[{t}] resync slots failed"),
            None => Ok(()),
        }
    }
}

/// The lock and the refilled cache of one operation (Go's `context`).
pub(crate) struct Ctx<'a> {
    guard: MutexGuard<'a, Inner>,
    pub method: i64,
}

impl Ctx<'_> {
    pub fn cache(&self) -> &Cache {
        self.guard.cache.as_ref().expect("ctx always holds a filled cache")
    }

    pub fn cache_mut(&mut self) -> &mut Cache {
        self.guard.cache.as_mut().expect("ctx always holds a filled cache")
    }
}

/// Sleeps `d` unless the topom closes first; false when it closed.
pub(crate) async fn sleep_unless_closed(t: &Topom, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => !t.is_closed(),
        _ = t.closed_wait() => false,
    }
}
