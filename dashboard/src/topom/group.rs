//! Server groups: membership, promotion, replica groups and sync actions (`topom_group.go`).

use std::collections::BTreeMap;
use std::time::Duration;

use compat::models::{Action, ActionState, Group, GroupServer, MAX_GROUP_ID};

use super::{fail, Cache, Result, Topom};
use crate::redis::Client;
use crate::sentinel::SentinelClient;

impl Topom {
    pub async fn create_group(&self, gid: i64) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        if gid <= 0 || gid > MAX_GROUP_ID {
            fail!("invalid group id = {gid}, out of range");
        }
        if c.group.contains_key(&gid) {
            fail!("group-[{gid}] already exists");
        }
        c.dirty_group(gid);
        self.store_create_group(&Group { id: gid, ..Default::default() }).await
    }

    pub async fn remove_group(&self, gid: i64) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let grp = c.group(gid)?.clone();
        if !grp.servers.is_empty() {
            fail!("group-[{gid}] isn't empty");
        }
        c.dirty_group(gid);
        self.store_remove_group(&grp).await
    }

    async fn resync_group_in(&self, c: &mut Cache, method: i64, gid: i64) -> Result<()> {
        let slots = c.slot_mappings_by_group(gid);
        if let Err(e) = self.resync_slot_mappings(c, method, &slots).await {
            tracing::warn!("group-[{gid}] resync-group failed");
            return Err(e);
        }
        c.dirty_group(gid);
        let grp = c.group.get_mut(&gid).expect("caller checked the group");
        grp.out_of_sync = false;
        let grp = grp.clone();
        self.store_update_group(&grp).await
    }

    pub async fn resync_group(&self, gid: i64) -> Result<()> {
        let mut g = self.ctx().await?;
        let method = g.method;
        let c = g.cache_mut();
        c.group(gid)?;
        self.resync_group_in(c, method, gid).await
    }

    pub async fn resync_group_all(&self) -> Result<()> {
        let mut g = self.ctx().await?;
        let method = g.method;
        let c = g.cache_mut();
        let ids: Vec<i64> = c.group.keys().copied().collect();
        for gid in ids {
            self.resync_group_in(c, method, gid).await?;
        }
        Ok(())
    }

    /// Marks the sentinel list out of sync (the group layout changed under it).
    async fn sentinel_out_of_sync(&self, c: &mut Cache) -> Result<()> {
        if !c.sentinel.servers.is_empty() {
            c.dirty_sentinel();
            c.sentinel.out_of_sync = true;
            let s = c.sentinel.clone();
            self.store_update_sentinel(&s).await?;
        }
        Ok(())
    }

    /// Adds `addr` to a group. The REST layer first checks it answers `SLOTSINFO`.
    pub async fn group_add_server(&self, gid: i64, dc: &str, addr: &str) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        if addr.is_empty() {
            fail!("invalid server address");
        }
        if c.group.values().any(|g| g.servers.iter().any(|x| x.addr == addr)) {
            fail!("server-[{addr}] already exists");
        }
        let grp = c.group(gid)?;
        if !grp.promoting.state.is_nothing() {
            fail!("group-[{gid}] is promoting");
        }
        self.sentinel_out_of_sync(c).await?;
        c.dirty_group(gid);
        let grp = c.group.get_mut(&gid).expect("checked above");
        grp.servers.push(GroupServer { addr: addr.to_string(), datacenter: dc.to_string(), ..Default::default() });
        let grp = grp.clone();
        self.store_update_group(&grp).await
    }

    pub async fn group_del_server(&self, gid: i64, addr: &str) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let grp = c.group(gid)?;
        let index = Cache::group_index(grp, addr)?;
        if !grp.promoting.state.is_nothing() {
            fail!("group-[{gid}] is promoting");
        }
        if index == 0 && (grp.servers.len() != 1 || c.is_group_in_use(gid)) {
            fail!("group-[{gid}] can't remove master, still in use");
        }
        self.sentinel_out_of_sync(c).await?;
        c.dirty_group(gid);
        let grp = c.group.get_mut(&gid).expect("checked above");
        if index != 0 && grp.servers[index].replica_group {
            grp.out_of_sync = true;
        }
        grp.servers.remove(index);
        if grp.servers.is_empty() {
            grp.out_of_sync = false;
        }
        let grp = grp.clone();
        self.store_update_group(&grp).await
    }

    /// Go's `GroupPromoteServer`: `preparing` (stored) → `prepared` (slots of the group locked
    /// on every proxy, stored) → the new order stored as `finished`, `SLAVEOF NO ONE` on the new
    /// master → proxies get the new master, promotion cleared.
    pub async fn group_promote_server(&self, gid: i64, addr: &str) -> Result<()> {
        let mut g = self.ctx().await?;
        let method = g.method;
        let c = g.cache_mut();
        let grp = c.group(gid)?;
        let index = Cache::group_index(grp, addr)?;
        if !grp.promoting.state.is_nothing() {
            if index as i64 != grp.promoting.index {
                fail!("group-[{gid}] is promoting index = {}", grp.promoting.index);
            }
        } else if index == 0 {
            fail!("group-[{gid}] can't promote master");
        }
        let n = self.executor_count();
        if n != 0 {
            fail!("slots-migration is running = {n}");
        }
        let mut state = grp.promoting.state.clone();
        c.dirty_group(gid);
        if state.is_nothing() {
            tracing::warn!("group-[{gid}] will promote index = {index}");
            let grp = c.group.get_mut(&gid).expect("checked above");
            grp.promoting = Action { index: index as i64, state: ActionState::Preparing };
            let grp = grp.clone();
            self.store_update_group(&grp).await?;
            state = ActionState::Preparing;
        }
        if state == ActionState::Preparing {
            tracing::warn!("group-[{gid}] resync to prepared");
            let slots = c.slot_mappings_by_group(gid);
            c.group.get_mut(&gid).expect("checked above").promoting.state = ActionState::Prepared;
            if let Err(e) = self.resync_slot_mappings(c, method, &slots).await {
                tracing::warn!("group-[{gid}] resync-rollback to preparing");
                c.group.get_mut(&gid).expect("checked above").promoting.state = ActionState::Preparing;
                let _ = self.resync_slot_mappings(c, method, &slots).await;
                tracing::warn!("group-[{gid}] resync-rollback to preparing, done");
                return Err(e);
            }
            let grp = c.group[&gid].clone();
            self.store_update_group(&grp).await?;
            state = ActionState::Prepared;
        }
        if state == ActionState::Prepared {
            if !c.sentinel.servers.is_empty() {
                self.sentinel_out_of_sync(c).await?;
                let sentinel = SentinelClient::new(&self.config.product_name, &self.config.product_auth);
                let timeout = self.config.sentinel_client_timeout.duration();
                if let Err(e) = sentinel.remove_groups(&c.sentinel.servers, timeout, &[gid]).await {
                    tracing::warn!("group-[{gid}] remove sentinels failed: {e}");
                }
                if let Ok(mut ha) = self.ha.lock() {
                    if let Some(m) = ha.masters.as_mut() {
                        m.remove(&gid);
                    }
                }
            }
            let grp = c.group.get_mut(&gid).expect("checked above");
            let index = grp.promoting.index as usize;
            let mut servers = Vec::with_capacity(grp.servers.len());
            servers.push(grp.servers[index].clone());
            for (i, x) in grp.servers.iter().enumerate() {
                if i != index && i != 0 {
                    servers.push(x.clone());
                }
            }
            servers.push(grp.servers[0].clone());
            for x in &mut servers {
                x.action = Action::default();
            }
            grp.servers = servers;
            grp.promoting = Action { index: 0, state: ActionState::Finished };
            let grp = grp.clone();
            self.store_update_group(&grp).await?;
            let master = grp.servers[0].addr.clone();
            match Client::connect(&master, &self.config.product_auth, Duration::from_secs(1)).await {
                Err(e) => tracing::warn!("create redis client to {master} failed: {e}"),
                Ok(mut cl) => {
                    if let Err(e) = cl.set_master("NO:ONE").await {
                        tracing::warn!("redis {master} set master to NO:ONE failed: {e}");
                    }
                }
            }
            state = ActionState::Finished;
        }
        if state != ActionState::Finished {
            fail!("group-[{gid}] action state is invalid");
        }
        tracing::warn!("group-[{gid}] resync to finished");
        let slots = c.slot_mappings_by_group(gid);
        if let Err(e) = self.resync_slot_mappings(c, method, &slots).await {
            tracing::warn!("group-[{gid}] resync to finished failed");
            return Err(e);
        }
        let grp = c.group.get_mut(&gid).expect("checked above");
        *grp = Group { id: gid, servers: grp.servers.clone(), ..Default::default() };
        let grp = grp.clone();
        self.store_update_group(&grp).await
    }

    /// Sentinels elected `master` for `gid`: put it first (Go's `trySwitchGroupMaster`).
    pub(crate) async fn try_switch_group_master(
        &self,
        gid: i64,
        master: &str,
        runids: &mut BTreeMap<String, String>,
    ) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let grp = c.group(gid)?.clone();
        let mut index = grp.servers.iter().position(|x| x.addr == master);
        if index.is_none() {
            let rid1 = run_id(runids, master, &self.config.product_auth).await;
            for (i, x) in grp.servers.iter().enumerate() {
                let rid2 = run_id(runids, &x.addr, &self.config.product_auth).await;
                if !rid1.is_empty() && rid1 == rid2 {
                    index = Some(i);
                    break;
                }
            }
        }
        let Some(index) = index else {
            let rid = run_id(runids, master, &self.config.product_auth).await;
            fail!("group-[{gid}] doesn't have server {master} with runid = '{rid}'");
        };
        if index == 0 {
            return Ok(());
        }
        c.dirty_group(gid);
        tracing::warn!("group-[{gid}] will switch master to server[{index}] = {}", grp.servers[index].addr);
        let grp = c.group.get_mut(&gid).expect("checked above");
        grp.servers.swap(0, index);
        grp.out_of_sync = true;
        let grp = grp.clone();
        self.store_update_group(&grp).await
    }

    pub async fn enable_replica_groups(&self, gid: i64, addr: &str, value: bool) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let grp = c.group(gid)?;
        let index = Cache::group_index(grp, addr)?;
        if !grp.promoting.state.is_nothing() {
            fail!("group-[{gid}] is promoting");
        }
        let in_use = grp.servers.len() != 1 && c.is_group_in_use(gid);
        c.dirty_group(gid);
        let grp = c.group.get_mut(&gid).expect("checked above");
        if in_use {
            grp.out_of_sync = true;
        }
        grp.servers[index].replica_group = value;
        let grp = grp.clone();
        self.store_update_group(&grp).await
    }

    pub async fn enable_replica_groups_all(&self, value: bool) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let ids: Vec<i64> = c.group.keys().copied().collect();
        for gid in ids {
            let grp = &c.group[&gid];
            if !grp.promoting.state.is_nothing() {
                fail!("group-[{gid}] is promoting");
            }
            let in_use = grp.servers.len() != 1 && c.is_group_in_use(gid);
            c.dirty_group(gid);
            let grp = c.group.get_mut(&gid).expect("listed above");
            let mut dirty = false;
            for x in &mut grp.servers {
                if x.replica_group != value {
                    x.replica_group = value;
                    dirty = true;
                }
            }
            if !dirty {
                continue;
            }
            if in_use {
                grp.out_of_sync = true;
            }
            let grp = grp.clone();
            self.store_update_group(&grp).await?;
        }
        Ok(())
    }

    pub async fn sync_create_action(&self, addr: &str) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let (gid, index) = c.group_by_server(addr)?;
        let idx = c.max_sync_action_index() + 1;
        let grp = c.group.get_mut(&gid).expect("found above");
        if !grp.promoting.state.is_nothing() {
            fail!("group-[{gid}] is promoting");
        }
        if grp.servers[index].action.state == ActionState::Pending {
            fail!("server-[{addr}] action already exist");
        }
        grp.servers[index].action = Action { index: idx, state: ActionState::Pending };
        let grp = grp.clone();
        c.dirty_group(gid);
        self.store_update_group(&grp).await
    }

    pub async fn sync_remove_action(&self, addr: &str) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let (gid, index) = c.group_by_server(addr)?;
        let grp = c.group.get_mut(&gid).expect("found above");
        if !grp.promoting.state.is_nothing() {
            fail!("group-[{gid}] is promoting");
        }
        if grp.servers[index].action.state.is_nothing() {
            fail!("server-[{addr}] action doesn't exist");
        }
        grp.servers[index].action = Action::default();
        let grp = grp.clone();
        c.dirty_group(gid);
        self.store_update_group(&grp).await
    }

    /// Picks the pending sync action with the smallest index and marks it `syncing`.
    pub(crate) async fn sync_action_prepare(&self) -> Result<Option<String>> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let Some(addr) = c.min_sync_action() else { return Ok(None) };
        let (gid, index) = c.group_by_server(&addr)?;
        let grp = c.group.get_mut(&gid).expect("found above");
        if !grp.promoting.state.is_nothing() {
            return Ok(None);
        }
        if grp.servers[index].action.state != ActionState::Pending {
            fail!("server-[{addr}] action state is invalid");
        }
        tracing::warn!("server-[{addr}] action prepare");
        grp.servers[index].action = Action { index: 0, state: ActionState::Syncing };
        let grp = grp.clone();
        c.dirty_group(gid);
        self.store_update_group(&grp).await?;
        Ok(Some(addr))
    }

    pub(crate) async fn sync_action_complete(&self, addr: &str, failed: bool) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let Ok((gid, index)) = c.group_by_server(addr) else { return Ok(()) };
        let grp = c.group.get_mut(&gid).expect("found above");
        if !grp.promoting.state.is_nothing() || grp.servers[index].action.state != ActionState::Syncing {
            return Ok(());
        }
        tracing::warn!("server-[{addr}] action failed = {failed}");
        grp.servers[index].action.state = if failed { ActionState::SyncedFailed } else { ActionState::Synced };
        let grp = grp.clone();
        c.dirty_group(gid);
        self.store_update_group(&grp).await
    }

    /// The master `addr` should replicate from (`NO:ONE` for a group's first server), if its
    /// action is still `syncing`.
    pub(crate) async fn sync_action_target(&self, addr: &str) -> Result<Option<String>> {
        let g = self.ctx().await?;
        let c = g.cache();
        let Ok((gid, index)) = c.group_by_server(addr) else { return Ok(None) };
        let grp = &c.group[&gid];
        if grp.servers[index].action.state != ActionState::Syncing {
            return Ok(None);
        }
        Ok(Some(if index == 0 { "NO:ONE".to_string() } else { grp.servers[0].addr.clone() }))
    }
}

/// `run_id` from INFO, cached for one switch round (Go's `InfoCache`, 100ms timeout).
async fn run_id(cache: &mut BTreeMap<String, String>, addr: &str, auth: &str) -> String {
    if let Some(r) = cache.get(addr) {
        return r.clone();
    }
    let rid = match Client::connect(addr, auth, Duration::from_millis(100)).await {
        Ok(mut c) => c.info().await.ok().and_then(|m| m.get("run_id").cloned()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    cache.insert(addr.to_string(), rid.clone());
    rid
}
