//! The slot table: for each of the 1024 slots, the backend that owns it, the one it is migrating
//! from, its replica groups and the forwarding method.
//!
//! Each slot sits behind its own read-write lock holding an `Arc<SlotRoute>`; a request clones
//! the `Arc` (no table-wide lock) and keeps the clone until its reply arrives. Refilling a slot
//! first parks new requests on it, then waits until the old route has no request left in
//! flight, as Go's `Slot.blockAndWait` does, so a migration step never overtakes a request.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use compat::slot::MAX_SLOT_NUM;
use parking_lot::RwLock;
use tokio::sync::Notify;

use crate::backend::{Pool, SharedBackend};
use crate::config::Config;
use crate::error::RouterError;
use compat::models::{Slot, FORWARD_SEMI_ASYNC, FORWARD_SYNC};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardMethod {
    Sync,
    SemiAsync,
}

impl ForwardMethod {
    pub fn id(self) -> i64 {
        match self {
            ForwardMethod::Sync => FORWARD_SYNC,
            ForwardMethod::SemiAsync => FORWARD_SEMI_ASYNC,
        }
    }
}

/// The route of one slot, immutable once published.
pub struct SlotRoute {
    pub id: usize,
    /// Requests wait until the slot is refilled unlocked.
    pub locked: bool,
    pub backend: Option<(Arc<SharedBackend>, i64)>,
    pub migrate: Option<(Arc<SharedBackend>, i64)>,
    pub replica_groups: Vec<Vec<Arc<SharedBackend>>>,
    pub method: ForwardMethod,
    pub switched: bool,
}

impl SlotRoute {
    fn empty(id: usize) -> SlotRoute {
        SlotRoute {
            id,
            locked: false,
            backend: None,
            migrate: None,
            replica_groups: Vec::new(),
            method: ForwardMethod::Sync,
            switched: false,
        }
    }

    /// The slot as the admin API and SLOTSMAPPING show it.
    pub fn snapshot(&self) -> Slot {
        Slot {
            id: self.id as i64,
            locked: self.locked,
            backend_addr: self.backend.as_ref().map(|(b, _)| b.addr.clone()).unwrap_or_default(),
            backend_addr_group_id: self.backend.as_ref().map(|(_, g)| *g).unwrap_or(0),
            migrate_from: self.migrate.as_ref().map(|(b, _)| b.addr.clone()).unwrap_or_default(),
            migrate_from_group_id: self.migrate.as_ref().map(|(_, g)| *g).unwrap_or(0),
            forward_method: self.method.id(),
            replica_groups: self.replica_groups.iter().map(|g| g.iter().map(|b| b.addr.clone()).collect()).collect(),
        }
    }
}

pub struct Router {
    slots: Box<[RwLock<Arc<SlotRoute>>]>,
    /// Woken whenever a slot is republished; requests parked on a locked slot wait here.
    changed: Notify,
    /// Serialises refills.
    fill: tokio::sync::Mutex<()>,
    pub primary: Pool,
    pub replica: Pool,
    config: Arc<Config>,
    online: AtomicBool,
    closed: AtomicBool,
    /// Requests held while their backend is down (backend_failover_hold).
    held: AtomicUsize,
}

impl Router {
    pub fn new(config: Arc<Config>) -> Router {
        Router {
            slots: (0..MAX_SLOT_NUM).map(|i| RwLock::new(Arc::new(SlotRoute::empty(i)))).collect(),
            changed: Notify::new(),
            fill: tokio::sync::Mutex::new(()),
            primary: Pool::new(config.clone(), config.backend_primary_parallel),
            replica: Pool::new(config.clone(), config.backend_replica_parallel),
            config,
            online: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            held: AtomicUsize::new(0),
        }
    }

    pub fn start(&self) {
        if !self.closed.load(Ordering::Acquire) {
            self.online.store(true, Ordering::Release);
        }
    }

    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire) && !self.closed.load(Ordering::Acquire)
    }

    /// The current route of `slot` (`slot < 1024`).
    #[inline]
    pub fn route(&self, slot: usize) -> Arc<SlotRoute> {
        self.slots[slot].read().clone()
    }

    /// The route of `slot` once it is not locked.
    pub async fn route_unlocked(&self, slot: usize) -> Arc<SlotRoute> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let route = self.route(slot);
            if !route.locked {
                return route;
            }
            // Holding the locked route would make the refill wait for this request.
            drop(route);
            notified.await;
        }
    }

    pub fn slots(&self) -> Vec<Slot> {
        self.slots.iter().map(|s| s.read().snapshot()).collect()
    }

    pub fn slot(&self, id: usize) -> Option<Slot> {
        self.slots.get(id).map(|s| s.read().snapshot())
    }

    /// Installs one slot's mapping (Go's `Router.FillSlot`).
    pub async fn fill_slot(&self, m: &Slot) -> Result<(), RouterError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(RouterError::Closed);
        }
        if m.id < 0 || m.id as usize >= MAX_SLOT_NUM {
            return Err(RouterError::InvalidSlotId);
        }
        let method = match m.forward_method {
            FORWARD_SYNC => Some(ForwardMethod::Sync),
            FORWARD_SEMI_ASYNC => Some(ForwardMethod::SemiAsync),
            _ => return Err(RouterError::InvalidMethod),
        };
        let _serial = self.fill.lock().await;
        self.fill_locked(m, false, method).await;
        Ok(())
    }

    async fn fill_locked(&self, m: &Slot, switched: bool, method: Option<ForwardMethod>) {
        let id = m.id as usize;
        // Park new requests on the slot, then wait for those in flight on the old route.
        let old = {
            let mut cell = self.slots[id].write();
            let blocked = Arc::new(SlotRoute {
                id,
                locked: true,
                backend: cell.backend.clone(),
                migrate: cell.migrate.clone(),
                replica_groups: cell.replica_groups.clone(),
                method: cell.method,
                switched: cell.switched,
            });
            std::mem::replace(&mut *cell, blocked)
        };
        while Arc::strong_count(&old) > 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let backend =
            (!m.backend_addr.is_empty()).then(|| (self.primary.retain(&m.backend_addr), m.backend_addr_group_id));
        let migrate =
            (!m.migrate_from.is_empty()).then(|| (self.primary.retain(&m.migrate_from), m.migrate_from_group_id));
        let replica_groups = if self.config.backend_primary_only {
            Vec::new()
        } else {
            m.replica_groups
                .iter()
                .filter(|g| !g.is_empty())
                .map(|g| g.iter().map(|addr| self.replica.retain(addr)).collect())
                .collect()
        };
        let route = SlotRoute {
            id,
            locked: m.locked,
            backend,
            migrate,
            replica_groups,
            method: method.unwrap_or(old.method),
            switched,
        };
        log_fill(&route);
        *self.slots[id].write() = Arc::new(route);
        drop(old);
        self.changed.notify_waiters();
    }

    /// Empties every slot (Go's `Router.Close`); later fills are refused.
    pub async fn close(&self) {
        let _serial = self.fill.lock().await;
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        for id in 0..MAX_SLOT_NUM {
            self.fill_locked(&Slot { id: id as i64, ..Slot::default() }, false, None).await;
        }
    }

    /// Pings every backend (`backend_ping_period`).
    pub fn keep_alive(&self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        for b in self.primary.all().into_iter().chain(self.replica.all()) {
            b.keep_alive();
        }
    }

    /// True when requests for a backend that is down wait for a new route.
    pub fn holds_on_failover(&self) -> bool {
        !self.config.features.failover_hold.is_zero()
    }

    /// Takes one of the `backend_failover_hold_max` places for a held request.
    pub fn hold_place(&self) -> bool {
        let max = self.config.features.failover_hold_max;
        self.held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).is_ok()
    }

    pub fn release_place(&self) {
        self.held.fetch_sub(1, Ordering::AcqRel);
    }

    /// Every master in the slot table (owners and migration sources), once each, by group id
    /// then address: the targets of whole-keyspace commands and pattern subscriptions.
    pub fn masters(&self) -> Vec<(i64, Arc<SharedBackend>)> {
        let mut out: Vec<(i64, Arc<SharedBackend>)> = Vec::new();
        for cell in self.slots.iter() {
            let route = cell.read().clone();
            for (b, gid) in route.backend.iter().chain(route.migrate.iter()) {
                if !out.iter().any(|(_, o)| o.addr == b.addr) {
                    out.push((*gid, b.clone()));
                }
            }
        }
        out.sort_by(|a, b| (a.0, &a.1.addr).cmp(&(b.0, &b.1.addr)));
        out
    }

    pub fn master_addrs(&self) -> Vec<String> {
        self.masters().into_iter().map(|(_, b)| b.addr.clone()).collect()
    }

    /// The backend with address `addr`, primary first (for `PING addr`, `INFO addr`,
    /// `SLOTSINFO addr`).
    pub fn backend_by_addr(&self, addr: &str) -> (Option<Arc<SharedBackend>>, Option<Arc<SharedBackend>>) {
        (self.primary.get(addr), self.replica.get(addr))
    }
}

fn log_fill(r: &SlotRoute) {
    let addr = r.backend.as_ref().map(|(b, _)| b.addr.as_str()).unwrap_or("");
    match &r.migrate {
        Some((from, _)) => tracing::warn!(
            "fill slot {:04}, backend.addr = {}, migrate.from = {}, locked = {}",
            r.id,
            addr,
            from.addr,
            r.locked
        ),
        None => tracing::warn!("fill slot {:04}, backend.addr = {}, locked = {}", r.id, addr, r.locked),
    }
}
