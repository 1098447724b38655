//! Slot actions, assignments and rebalancing (`topom_slots.go`).
//!
//! A slot moves through `pending → preparing → prepared → migrating → finished → {}`. Before
//! each step that changes routing, every proxy gets the new table (fillslots) and only then is
//! the state stored, so no proxy ever routes by a state older than the one it needs: at
//! `prepared` the slot is locked everywhere, at `migrating` proxies send keys to the target
//! (asking the source to migrate first), at `finished` the source is gone from the table.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use compat::models::{ActionState, SlotAction, SlotMapping, FORWARD_SEMI_ASYNC, FORWARD_SYNC, MAX_SLOT_NUM};

use super::{fail, Result, Topom};
use crate::redis::{AsyncOptions, Client};

/// One migration step: keys left in the slot (`n`) and the next database to visit (-1: done).
pub(crate) struct Step {
    pub remains: i64,
    pub next_db: i64,
}

/// Slots and groups already taken by this round of the action loop.
#[derive(Default)]
pub(crate) struct Busy {
    pub groups: BTreeSet<i64>,
    pub slots: BTreeSet<i64>,
}

/// What the executor of a slot needs, taken under the lock and used without it.
pub(crate) enum Executor {
    /// Nothing to do now (disabled, or a group is promoting): retry later.
    Wait,
    Migrate {
        from: String,
        dest: String,
    },
    Finished,
}

impl Topom {
    fn new_action(c: &super::Cache, m: &mut SlotMapping, target: i64) {
        m.action = SlotAction { index: c.max_slot_action_index() + 1, state: ActionState::Pending, target_id: target };
    }

    pub async fn slot_create_action(&self, sid: i64, gid: i64) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let grp = c.group(gid)?;
        if grp.servers.is_empty() {
            fail!("group-[{gid}] is empty");
        }
        let mut m = c.slot(sid)?.clone();
        if !m.action.state.is_nothing() {
            fail!("slot-[{sid}] action already exists");
        }
        if m.group_id == gid {
            fail!("slot-[{sid}] already in group-[{gid}]");
        }
        Self::new_action(c, &mut m, gid);
        c.slots[sid as usize] = m.clone();
        c.dirty_slot(sid);
        self.store_update_slot(&m).await
    }

    pub async fn slot_create_action_some(&self, from: i64, to: i64, num: i64) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let grp = c.group(to)?;
        if grp.servers.is_empty() {
            fail!("group-[{}] is empty", grp.id);
        }
        let pending: Vec<i64> = c
            .slots
            .iter()
            .filter(|m| m.action.state.is_nothing() && m.group_id == from && m.group_id != to)
            .take(num.max(0) as usize)
            .map(|m| m.id)
            .collect();
        self.create_pending(c, &pending, to).await
    }

    async fn create_pending(&self, c: &mut super::Cache, pending: &[i64], gid: i64) -> Result<()> {
        for &sid in pending {
            let mut m = c.slot(sid)?.clone();
            Self::new_action(c, &mut m, gid);
            c.slots[sid as usize] = m.clone();
            c.dirty_slot(sid);
            self.store_update_slot(&m).await?;
        }
        Ok(())
    }

    pub async fn slot_create_action_range(&self, beg: i64, end: i64, gid: i64, must: bool) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        if !(beg >= 0 && beg <= end && end < MAX_SLOT_NUM as i64) {
            fail!("invalid slot range [{beg},{end}]");
        }
        let grp = c.group(gid)?;
        if grp.servers.is_empty() {
            fail!("group-[{gid}] is empty");
        }
        let mut pending = Vec::new();
        for sid in beg..=end {
            let m = c.slot(sid)?;
            if !m.action.state.is_nothing() {
                if !must {
                    continue;
                }
                fail!("slot-[{sid}] action already exists");
            }
            if m.group_id == gid {
                if !must {
                    continue;
                }
                fail!("slot-[{sid}] already in group-[{gid}]");
            }
            pending.push(sid);
        }
        self.create_pending(c, &pending, gid).await
    }

    pub async fn slot_remove_action(&self, sid: i64) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let m = c.slot(sid)?;
        if m.action.state.is_nothing() {
            fail!("slot-[{sid}] action doesn't exist");
        }
        if m.action.state != ActionState::Pending {
            fail!("slot-[{sid}] action isn't pending");
        }
        let m = SlotMapping::new(m.id, m.group_id);
        c.slots[sid as usize] = m.clone();
        c.dirty_slot(sid);
        self.store_update_slot(&m).await
    }

    /// Beyond Codis: drops every pending action (slots not started yet) and pauses the loop so
    /// that only the slots already in flight finish; returns how many were dropped. In-flight
    /// slots always run to `finished`, so no slot is left split between two groups; resume with
    /// `disabled = 0` (pending actions created afterwards start then).
    pub async fn slot_cancel_pending(&self) -> Result<usize> {
        self.set_slot_action_disabled(true);
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let pending: Vec<SlotMapping> =
            c.slots.iter().filter(|m| m.action.state == ActionState::Pending).cloned().collect();
        for m in &pending {
            let m = SlotMapping::new(m.id, m.group_id);
            c.slots[m.id as usize] = m.clone();
            c.dirty_slot(m.id);
            self.store_update_slot(&m).await?;
        }
        Ok(pending.len())
    }

    /// Go's `SlotActionPrepareFilter`: picks the action with the smallest index (those already
    /// started first; pending ones only when not disabled) among slots not `busy`, and
    /// brings it to `migrating`, resyncing every proxy before storing each state.
    pub(crate) async fn slot_action_prepare_filter(&self, busy: &Busy) -> Result<Option<(i64, i64, i64)>> {
        let mut g = self.ctx().await?;
        let method = g.method;
        let c = g.cache_mut();
        let accept = |m: &SlotMapping| {
            !(busy.groups.contains(&m.group_id)
                || busy.groups.contains(&m.action.target_id)
                || busy.slots.contains(&m.id))
        };
        let pick = |started: bool| -> Option<usize> {
            let mut picked: Option<&SlotMapping> = None;
            for m in &c.slots {
                if m.action.state.is_nothing() || (m.action.state != ActionState::Pending) != started {
                    continue;
                }
                if picked.is_some_and(|p| p.action.index < m.action.index) {
                    continue;
                }
                if accept(m) {
                    picked = Some(m);
                }
            }
            picked.map(|m| m.id as usize)
        };
        let idx = match pick(true) {
            Some(i) => Some(i),
            None if self.slot_action_disabled() => None,
            None => pick(false),
        };
        let Some(idx) = idx else { return Ok(None) };
        let picked = (c.slots[idx].id, c.slots[idx].group_id, c.slots[idx].action.target_id);
        let sid = idx as i64;
        tracing::warn!("slot-[{sid}] action prepare:\n{}", String::from_utf8_lossy(&c.slots[idx].encode()));
        c.dirty_slot(sid);
        let mut state = c.slots[idx].action.state.clone();
        if state == ActionState::Pending {
            c.slots[idx].action.state = ActionState::Preparing;
            self.store_update_slot(&c.slots[idx]).await?;
            state = ActionState::Preparing;
        }
        if state == ActionState::Preparing {
            tracing::warn!("slot-[{sid}] resync to prepared");
            c.slots[idx].action.state = ActionState::Prepared;
            let one = [c.slots[idx].clone()];
            if let Err(e) = self.resync_slot_mappings(c, method, &one).await {
                tracing::warn!("slot-[{sid}] resync-rollback to preparing");
                c.slots[idx].action.state = ActionState::Preparing;
                let one = [c.slots[idx].clone()];
                let _ = self.resync_slot_mappings(c, method, &one).await;
                tracing::warn!("slot-[{sid}] resync-rollback to preparing, done");
                return Err(e);
            }
            self.store_update_slot(&c.slots[idx]).await?;
            state = ActionState::Prepared;
        }
        if state == ActionState::Prepared {
            tracing::warn!("slot-[{sid}] resync to migrating");
            c.slots[idx].action.state = ActionState::Migrating;
            let one = [c.slots[idx].clone()];
            if let Err(e) = self.resync_slot_mappings(c, method, &one).await {
                tracing::warn!("slot-[{sid}] resync to migrating failed");
                return Err(e);
            }
            self.store_update_slot(&c.slots[idx]).await?;
            state = ActionState::Migrating;
        }
        match state {
            ActionState::Migrating | ActionState::Finished => Ok(Some(picked)),
            _ => fail!("slot-[{sid}] action state is invalid"),
        }
    }

    /// Go's `SlotActionComplete`: `migrating → finished` (stored), resync, then the slot
    /// belongs to the target.
    pub(crate) async fn slot_action_complete(&self, sid: i64) -> Result<()> {
        let mut g = self.ctx().await?;
        let method = g.method;
        let c = g.cache_mut();
        let m = c.slot(sid)?.clone();
        tracing::warn!("slot-[{sid}] action complete:\n{}", String::from_utf8_lossy(&m.encode()));
        let idx = sid as usize;
        match m.action.state {
            ActionState::Migrating | ActionState::Finished => {}
            _ => fail!("slot-[{sid}] action state is invalid"),
        }
        if m.action.state == ActionState::Migrating {
            c.dirty_slot(sid);
            c.slots[idx].action.state = ActionState::Finished;
            self.store_update_slot(&c.slots[idx]).await?;
        }
        tracing::warn!("slot-[{sid}] resync to finished");
        let one = [c.slots[idx].clone()];
        if let Err(e) = self.resync_slot_mappings(c, method, &one).await {
            tracing::warn!("slot-[{sid}] resync to finished failed");
            return Err(e);
        }
        c.dirty_slot(sid);
        let done = SlotMapping::new(sid, m.action.target_id);
        c.slots[idx] = done.clone();
        self.store_update_slot(&done).await
    }

    pub(crate) async fn new_slot_action_executor(&self, sid: i64) -> Result<Executor> {
        let g = self.ctx().await?;
        let c = g.cache();
        let m = c.slot(sid)?;
        match m.action.state {
            ActionState::Migrating => {
                if self.slot_action_disabled()
                    || c.is_group_promoting(m.group_id)
                    || c.is_group_promoting(m.action.target_id)
                {
                    return Ok(Executor::Wait);
                }
                Ok(Executor::Migrate { from: c.group_master(m.group_id), dest: c.group_master(m.action.target_id) })
            }
            ActionState::Finished => Ok(Executor::Finished),
            _ => fail!("slot-[{sid}] action state is invalid"),
        }
    }

    /// One migration call on the source master for database `db` (Go's executor closure).
    pub(crate) async fn migrate_step(&self, sid: i64, from: &str, dest: &str, db: i64) -> Result<Step> {
        if from.is_empty() {
            return Ok(Step { remains: 0, next_db: -1 });
        }
        let timeout = self.config.migration_timeout.duration();
        // Connections are reused across steps, as Go's pool does: a slot takes many steps.
        let pooled = self.action_pool.lock().ok().and_then(|mut p| p.get_mut(from).and_then(Vec::pop));
        let mut cl = match pooled {
            Some(c) => c,
            None => Client::connect(from, &self.config.product_auth, timeout).await?,
        };
        let step = self.migrate_step_on(&mut cl, sid, dest, db, timeout).await;
        if step.is_ok() {
            if let Ok(mut p) = self.action_pool.lock() {
                let v = p.entry(from.to_string()).or_default();
                if v.len() < 8 {
                    v.push(cl);
                }
            }
        }
        step
    }

    async fn migrate_step_on(&self, cl: &mut Client, sid: i64, dest: &str, db: i64, timeout: Duration) -> Result<Step> {
        cl.select(db).await?;
        let n = match self.method {
            FORWARD_SYNC => cl.migrate_slot(sid, dest).await?,
            FORWARD_SEMI_ASYNC => {
                let opt = AsyncOptions {
                    max_bulks: self.config.migration_async_maxbulks,
                    max_bytes: self.config.migration_async_maxbytes.bytes(),
                    num_keys: self.config.migration_async_numkeys,
                    timeout: timeout.min(Duration::from_secs(5)),
                };
                cl.migrate_slot_async(sid, dest, &opt).await?
            }
            other => fail!("unknown forward method {other}"),
        };
        if n != 0 {
            return Ok(Step { remains: n, next_db: db });
        }
        let next_db = cl.info_keyspace().await?.into_iter().find(|&d| d > db).unwrap_or(-1);
        Ok(Step { remains: 0, next_db })
    }

    pub async fn slots_assign_group(&self, slots: &[SlotMapping]) -> Result<()> {
        let mut g = self.ctx().await?;
        let method = g.method;
        let c = g.cache_mut();
        for m in slots {
            c.slot(m.id)?;
            let grp = c.group(m.group_id)?;
            if grp.servers.is_empty() {
                fail!("group-[{}] is empty", grp.id);
            }
            if !m.action.state.is_nothing() {
                fail!("invalid slot-[{}] action = {}", m.id, m.action.state);
            }
        }
        let slots: Vec<SlotMapping> = slots.iter().map(|m| SlotMapping::new(m.id, m.group_id)).collect();
        for m in &slots {
            let grp = c.group.get_mut(&m.group_id).expect("checked above");
            if !grp.out_of_sync {
                grp.out_of_sync = true;
                let grp = grp.clone();
                c.dirty_group(grp.id);
                self.store_update_group(&grp).await?;
            }
        }
        for m in &slots {
            c.dirty_slot(m.id);
            tracing::warn!("slot-[{}] will be mapped to group-[{}]", m.id, m.group_id);
            c.slots[m.id as usize] = m.clone();
            self.store_update_slot(m).await?;
        }
        self.resync_slot_mappings(c, method, &slots).await
    }

    pub async fn slots_assign_offline(&self, slots: &[SlotMapping]) -> Result<()> {
        let mut g = self.ctx().await?;
        let method = g.method;
        let c = g.cache_mut();
        for m in slots {
            c.slot(m.id)?;
            if m.group_id != 0 {
                fail!("group of slot-[{}] should be 0", m.id);
            }
        }
        let slots: Vec<SlotMapping> = slots.iter().map(|m| SlotMapping::new(m.id, 0)).collect();
        for m in &slots {
            c.dirty_slot(m.id);
            tracing::warn!("slot-[{}] will be mapped to group-[{}] (offline)", m.id, m.group_id);
            c.slots[m.id as usize] = m.clone();
            self.store_update_slot(m).await?;
        }
        self.resync_slot_mappings(c, method, &slots).await
    }

    /// Go's `SlotsRebalance`: a plan `{slot: group}` that evens out slot counts (offline slots
    /// go to the smallest groups, then the largest give their highest slots to the smallest);
    /// with `confirm` every planned slot gets a pending action.
    pub async fn slots_rebalance(&self, confirm: bool) -> Result<BTreeMap<i64, i64>> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        let plans = rebalance_plan(
            &c.slots,
            &c.group.values().filter(|g| !g.servers.is_empty()).map(|g| g.id).collect::<Vec<_>>(),
        )?;
        if !confirm {
            return Ok(plans);
        }
        for (&sid, &gid) in &plans {
            let mut m = c.slot(sid)?.clone();
            Self::new_action(c, &mut m, gid);
            c.slots[sid as usize] = m.clone();
            c.dirty_slot(sid);
            self.store_update_slot(&m).await?;
        }
        Ok(plans)
    }

    pub(crate) fn executor_count(&self) -> i64 {
        self.action.executor.load(Ordering::SeqCst)
    }
}

/// The rebalance plan for `slots` over the non-empty groups `group_ids`.
pub fn rebalance_plan(slots: &[SlotMapping], group_ids: &[i64]) -> Result<BTreeMap<i64, i64>> {
    let mut group_ids = group_ids.to_vec();
    group_ids.sort_unstable();
    if group_ids.is_empty() {
        fail!("no valid group could be found");
    }
    let mut assigned: BTreeMap<i64, i64> = BTreeMap::new();
    let mut pendings: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut moveout: BTreeMap<i64, i64> = BTreeMap::new();
    let mut docking: Vec<i64> = Vec::new();
    fn size(a: &BTreeMap<i64, i64>, p: &BTreeMap<i64, Vec<i64>>, m: &BTreeMap<i64, i64>, gid: i64) -> i64 {
        a.get(&gid).copied().unwrap_or(0) + p.get(&gid).map_or(0, |v| v.len() as i64)
            - m.get(&gid).copied().unwrap_or(0)
    }
    // Slots being migrated count for their target and are left alone.
    for m in slots.iter().filter(|m| !m.action.state.is_nothing()) {
        *assigned.entry(m.action.target_id).or_default() += 1;
    }
    let lower = MAX_SLOT_NUM as i64 / group_ids.len() as i64;
    for m in slots.iter().filter(|m| m.action.state.is_nothing() && m.group_id != 0) {
        if size(&assigned, &pendings, &moveout, m.group_id) < lower {
            *assigned.entry(m.group_id).or_default() += 1;
        } else {
            pendings.entry(m.group_id).or_default().push(m.id);
        }
    }
    // The "tree" of Go: groups ordered by (current size, id).
    let mut tree: BTreeSet<i64> = group_ids.iter().copied().collect();
    let key = |a: &BTreeMap<i64, i64>, p: &BTreeMap<i64, Vec<i64>>, m: &BTreeMap<i64, i64>, gid: i64| {
        (size(a, p, m, gid), gid)
    };
    let left = |t: &BTreeSet<i64>, a: &BTreeMap<i64, i64>, p: &BTreeMap<i64, Vec<i64>>, m: &BTreeMap<i64, i64>| {
        t.iter().copied().min_by_key(|&g| key(a, p, m, g))
    };
    let right = |t: &BTreeSet<i64>, a: &BTreeMap<i64, i64>, p: &BTreeMap<i64, Vec<i64>>, m: &BTreeMap<i64, i64>| {
        t.iter().copied().max_by_key(|&g| key(a, p, m, g))
    };
    for m in slots.iter().filter(|m| m.action.state.is_nothing() && m.group_id == 0) {
        let dest = left(&tree, &assigned, &pendings, &moveout).expect("tree holds every group");
        docking.push(m.id);
        *moveout.entry(dest).or_default() -= 1;
    }
    let upper = (MAX_SLOT_NUM as i64 + group_ids.len() as i64 - 1) / group_ids.len() as i64;
    while tree.len() >= 2 {
        let from = right(&tree, &assigned, &pendings, &moveout).expect("two groups");
        tree.remove(&from);
        if pendings.get(&from).map_or(0, |v| v.len() as i64) == moveout.get(&from).copied().unwrap_or(0) {
            continue;
        }
        let dest = left(&tree, &assigned, &pendings, &moveout).expect("one group left");
        tree.remove(&dest);
        let (fs, ds) = (size(&assigned, &pendings, &moveout, from), size(&assigned, &pendings, &moveout, dest));
        if fs <= lower || ds >= upper || fs - ds <= 1 {
            break;
        }
        *moveout.entry(from).or_default() += 1;
        *moveout.entry(dest).or_default() -= 1;
        tree.insert(from);
        tree.insert(dest);
    }
    for (gid, n) in moveout.clone() {
        if n < 0 {
            continue;
        }
        if n > 0 {
            let sids = pendings.entry(gid).or_default();
            sids.sort_unstable_by(|a, b| b.cmp(a));
            docking.extend(sids.drain(..n as usize));
        }
        moveout.remove(&gid);
    }
    docking.sort_unstable();
    let mut plans = BTreeMap::new();
    let mut docking = docking.into_iter();
    for gid in &group_ids {
        let incoming = -moveout.get(gid).copied().unwrap_or(0);
        for _ in 0..incoming {
            match docking.next() {
                Some(sid) => {
                    plans.insert(sid, *gid);
                }
                None => break,
            }
        }
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(plans: &BTreeMap<i64, i64>) -> Vec<(i64, i64, i64)> {
        let mut out: Vec<(i64, i64, i64)> = Vec::new();
        for (&sid, &gid) in plans {
            match out.last_mut() {
                Some(r) if r.1 + 1 == sid && r.2 == gid => r.1 = sid,
                _ => out.push((sid, sid, gid)),
            }
        }
        out
    }

    #[test]
    fn offline_slots_split_like_the_recording() {
        // codis-3.2/c00_setup_codis_admin_commands.txt: [0000,0511] => 1, [0512,1023] => 2.
        let slots: Vec<SlotMapping> = (0..1024).map(|i| SlotMapping::new(i, 0)).collect();
        assert_eq!(ranges(&rebalance_plan(&slots, &[1, 2]).unwrap()), vec![(0, 511, 1), (512, 1023, 2)]);
    }

    #[test]
    fn balanced_is_empty_and_a_new_group_takes_the_highest_slots() {
        let slots: Vec<SlotMapping> = (0..1024).map(|i| SlotMapping::new(i, if i < 512 { 1 } else { 2 })).collect();
        assert!(rebalance_plan(&slots, &[1, 2]).unwrap().is_empty());
        let plan = rebalance_plan(&slots, &[1, 2, 3]).unwrap();
        assert_eq!(plan.len(), 341);
        assert!(plan.values().all(|&g| g == 3));
        let from1 = plan.keys().filter(|&&s| s < 512).count();
        assert!((170..=171).contains(&from1), "{from1}");
        assert_eq!(rebalance_plan(&slots, &[]).unwrap_err().0, "no valid group could be found");
    }
}
