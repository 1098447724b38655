//! The cached models of one product and the questions operations ask about them (Go's
//! `topom_cache.go` and `context.go`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, ToSocketAddrs};

use compat::models::{ActionState, Group, Proxy, Sentinel, Slot, SlotMapping, MAX_SLOT_NUM};
use compat::store::Store;

use super::{fail, Error, Result};

/// Entries changed by the last operations: read back from the store before the next one.
#[derive(Default, Debug)]
pub struct Dirty {
    slots: BTreeSet<i64>,
    group: BTreeSet<i64>,
    proxy: BTreeSet<String>,
    sentinel: bool,
}

pub struct Cache {
    pub slots: Vec<SlotMapping>,
    pub group: BTreeMap<i64, Group>,
    pub proxy: BTreeMap<String, Proxy>,
    pub sentinel: Sentinel,
    dirty: Dirty,
    hosts: HashMap<String, Option<IpAddr>>,
}

/// Loads what is missing or dirty (everything when `cache` is `None`).
pub async fn refill(store: &Store, cache: Option<Cache>) -> Result<Cache> {
    let Some(mut c) = cache else {
        let slots = store.slot_mappings().await.map_err(|e| load_err("slots", e))?;
        let group = store.list_group().await.map_err(|e| load_err("group", e))?;
        let proxy = store.list_proxy().await.map_err(|e| load_err("proxy", e))?;
        let sentinel = store.load_sentinel(false).await.map_err(|e| load_err("sentinel", e))?.unwrap_or_default();
        return Ok(Cache { slots, group, proxy, sentinel, dirty: Dirty::default(), hosts: HashMap::new() });
    };
    let dirty = std::mem::take(&mut c.dirty);
    for sid in dirty.slots {
        let m = store.load_slot_mapping(sid, false).await.map_err(|e| load_err("slots", e))?;
        if let Some(slot) = c.slots.get_mut(sid as usize) {
            *slot = m.unwrap_or_else(|| SlotMapping::new(sid, 0));
        }
    }
    for gid in dirty.group {
        match store.load_group(gid, false).await.map_err(|e| load_err("group", e))? {
            Some(g) => {
                c.group.insert(gid, g);
            }
            None => {
                c.group.remove(&gid);
            }
        }
    }
    for token in dirty.proxy {
        match store.load_proxy(&token, false).await.map_err(|e| load_err("proxy", e))? {
            Some(p) => {
                c.proxy.insert(token, p);
            }
            None => {
                c.proxy.remove(&token);
            }
        }
    }
    if dirty.sentinel {
        c.sentinel = store.load_sentinel(false).await.map_err(|e| load_err("sentinel", e))?.unwrap_or_default();
    }
    Ok(c)
}

fn load_err(what: &str, e: compat::store::StoreError) -> Error {
    tracing::error!("store: load {what} failed: {e}");
    Error(format!("store: load {what} failed"))
}

impl Cache {
    pub fn dirty_slot(&mut self, sid: i64) {
        self.dirty.slots.insert(sid);
    }

    pub fn dirty_group(&mut self, gid: i64) {
        self.dirty.group.insert(gid);
    }

    pub fn dirty_proxy(&mut self, token: &str) {
        self.dirty.proxy.insert(token.to_string());
    }

    pub fn dirty_sentinel(&mut self) {
        self.dirty.sentinel = true;
    }

    pub fn slot(&self, sid: i64) -> Result<&SlotMapping> {
        if self.slots.len() != MAX_SLOT_NUM {
            fail!("invalid number of slots = {}/{}", self.slots.len(), MAX_SLOT_NUM);
        }
        if (0..MAX_SLOT_NUM as i64).contains(&sid) {
            return Ok(&self.slots[sid as usize]);
        }
        fail!("slot-[{sid}] doesn't exist")
    }

    pub fn group(&self, gid: i64) -> Result<&Group> {
        match self.group.get(&gid) {
            Some(g) => Ok(g),
            None => fail!("group-[{gid}] doesn't exist"),
        }
    }

    pub fn group_index(g: &Group, addr: &str) -> Result<usize> {
        match g.servers.iter().position(|x| x.addr == addr) {
            Some(i) => Ok(i),
            None => fail!("group-[{}] doesn't have server-[{addr}]", g.id),
        }
    }

    pub fn group_by_server(&self, addr: &str) -> Result<(i64, usize)> {
        for g in self.group.values() {
            if let Some(i) = g.servers.iter().position(|x| x.addr == addr) {
                return Ok((g.id, i));
            }
        }
        fail!("server-[{addr}] doesn't exist")
    }

    pub fn slot_mappings_by_group(&self, gid: i64) -> Vec<SlotMapping> {
        self.slots.iter().filter(|m| m.group_id == gid || m.action.target_id == gid).cloned().collect()
    }

    pub fn max_slot_action_index(&self) -> i64 {
        self.slots.iter().filter(|m| !m.action.state.is_nothing()).map(|m| m.action.index).max().unwrap_or(0)
    }

    pub fn max_sync_action_index(&self) -> i64 {
        self.group
            .values()
            .flat_map(|g| g.servers.iter())
            .filter(|x| x.action.state == ActionState::Pending)
            .map(|x| x.action.index)
            .max()
            .unwrap_or(0)
    }

    /// The server whose pending sync action has the smallest index.
    pub fn min_sync_action(&self) -> Option<String> {
        self.group
            .values()
            .flat_map(|g| g.servers.iter())
            .filter(|x| x.action.state == ActionState::Pending)
            .min_by_key(|x| x.action.index)
            .map(|x| x.addr.clone())
    }

    pub fn group_master(&self, gid: i64) -> String {
        self.group.get(&gid).map(|g| g.master_addr().to_string()).unwrap_or_default()
    }

    pub fn group_masters(&self) -> BTreeMap<i64, String> {
        self.group.values().filter(|g| !g.servers.is_empty()).map(|g| (g.id, g.servers[0].addr.clone())).collect()
    }

    pub fn is_group_in_use(&self, gid: i64) -> bool {
        self.slots.iter().any(|m| m.group_id == gid || m.action.target_id == gid)
    }

    /// A group is locked while its promotion is `prepared` (slots wait for the new master).
    pub fn is_group_locked(&self, gid: i64) -> bool {
        self.group.get(&gid).is_some_and(|g| g.promoting.state == ActionState::Prepared)
    }

    pub fn is_group_promoting(&self, gid: i64) -> bool {
        self.group.get(&gid).is_some_and(|g| !g.promoting.state.is_nothing())
    }

    pub fn proxy(&self, token: &str) -> Result<&Proxy> {
        match self.proxy.get(token) {
            Some(p) => Ok(p),
            None => fail!("proxy-[{token}] doesn't exist"),
        }
    }

    pub fn max_proxy_id(&self) -> i64 {
        self.proxy.values().map(|p| p.id).max().unwrap_or(0)
    }

    pub fn is_slot_locked(&self, m: &SlotMapping) -> bool {
        match m.action.state {
            ActionState::Nothing | ActionState::Pending | ActionState::Preparing => self.is_group_locked(m.group_id),
            ActionState::Prepared => true,
            ActionState::Migrating => self.is_group_locked(m.group_id) || self.is_group_locked(m.action.target_id),
            ActionState::Finished => self.is_group_locked(m.action.target_id),
            _ => false,
        }
    }

    /// How proxy `p` should route slot `m` (Go's `toSlot`): before `prepared` the source group,
    /// from `prepared` on the target with `migrate_from` set, after `finished` the target only.
    pub fn to_slot(&self, m: &SlotMapping, p: Option<&Proxy>, method: i64) -> Slot {
        let mut s = Slot { id: m.id, locked: self.is_slot_locked(m), forward_method: method, ..Default::default() };
        match m.action.state {
            ActionState::Prepared | ActionState::Migrating => {
                s.backend_addr = self.group_master(m.action.target_id);
                s.backend_addr_group_id = m.action.target_id;
                s.migrate_from = self.group_master(m.group_id);
                s.migrate_from_group_id = m.group_id;
            }
            ActionState::Finished => {
                s.backend_addr = self.group_master(m.action.target_id);
                s.backend_addr_group_id = m.action.target_id;
            }
            ActionState::Preparing => {
                s.backend_addr = self.group_master(m.group_id);
                s.backend_addr_group_id = m.group_id;
            }
            _ => {
                s.backend_addr = self.group_master(m.group_id);
                s.backend_addr_group_id = m.group_id;
                s.replica_groups = self.replica_groups(m.group_id, p);
            }
        }
        s
    }

    pub fn to_slots(&self, slots: &[SlotMapping], p: Option<&Proxy>, method: i64) -> Vec<Slot> {
        slots.iter().map(|m| self.to_slot(m, p, method)).collect()
    }

    fn lookup_ip(&self, addr: &str) -> Option<IpAddr> {
        if let Some(ip) = self.hosts.get(addr) {
            return *ip;
        }
        // Numeric addresses resolve without DNS; names are rare here and resolve once per
        // context in Go too (50ms budget there, the system resolver here).
        addr.to_socket_addrs().ok().and_then(|mut a| a.next()).map(|a| a.ip())
    }

    /// Replicas that serve reads, grouped by preference: same host as the proxy, same
    /// datacenter, others (Go's `toReplicaGroups`).
    fn replica_groups(&self, gid: i64, p: Option<&Proxy>) -> Vec<Vec<String>> {
        let Some(g) = self.group.get(&gid) else { return vec![] };
        if !g.promoting.state.is_nothing() || g.servers.len() <= 1 {
            return vec![];
        }
        let (dc, ip) = match p {
            Some(p) => (p.datacenter.as_str(), self.lookup_ip(&p.admin_addr)),
            None => ("", None),
        };
        let mut groups: [Vec<String>; 3] = Default::default();
        for s in g.servers.iter().filter(|s| s.replica_group) {
            let prio = match ip {
                Some(ip) if dc == s.datacenter => {
                    if self.lookup_ip(&s.addr) == Some(ip) {
                        0
                    } else {
                        1
                    }
                }
                _ => 2,
            };
            groups[prio].push(s.addr.clone());
        }
        groups.into_iter().filter(|l| !l.is_empty()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use compat::models::{Action, GroupServer};

    fn cache() -> Cache {
        let mut slots: Vec<SlotMapping> = (0..1024).map(|i| SlotMapping::new(i, 1)).collect();
        slots[5].action.state = ActionState::Migrating;
        slots[5].action.target_id = 2;
        slots[6].action.state = ActionState::Prepared;
        slots[6].action.target_id = 2;
        let mut group = BTreeMap::new();
        for (id, a, b) in [(1, "127.0.0.1:6379", "127.0.0.1:6380"), (2, "127.0.0.1:6381", "127.0.0.1:6382")] {
            let mut s2 = GroupServer::new(b);
            s2.replica_group = true;
            group.insert(id, Group { id, servers: vec![GroupServer::new(a), s2], ..Default::default() });
        }
        Cache {
            slots,
            group,
            proxy: BTreeMap::new(),
            sentinel: Sentinel::default(),
            dirty: Dirty::default(),
            hosts: HashMap::new(),
        }
    }

    #[test]
    fn slot_tables_follow_the_action_state() {
        let mut c = cache();
        let s = c.to_slot(&c.slots[0].clone(), None, 1);
        assert_eq!((s.backend_addr.as_str(), s.locked, s.forward_method), ("127.0.0.1:6379", false, 1));
        assert_eq!(s.replica_groups, vec![vec!["127.0.0.1:6380".to_string()]]);
        let s = c.to_slot(&c.slots[5].clone(), None, 1);
        assert_eq!((s.backend_addr.as_str(), s.migrate_from.as_str()), ("127.0.0.1:6381", "127.0.0.1:6379"));
        assert!(!s.locked);
        assert!(c.to_slot(&c.slots[6].clone(), None, 1).locked);
        // A promotion in `prepared` locks every slot of the group.
        c.group.get_mut(&1).unwrap().promoting = Action { index: 1, state: ActionState::Prepared };
        assert!(c.to_slot(&c.slots[0].clone(), None, 1).locked);
        assert!(c.to_slot(&c.slots[0].clone(), None, 1).replica_groups.is_empty());
        assert_eq!(c.slot(1024).unwrap_err().0, "slot-[1024] doesn't exist");
        assert_eq!(c.group(9).unwrap_err().0, "group-[9] doesn't exist");
        assert_eq!(c.max_slot_action_index(), 0);
        assert!(c.is_group_in_use(2));
    }
}
