//! Beyond Codis: migration progress as numbers (`GET /topom/progress`, `/metrics`, the fe and
//! `codis-admin --wait`). Go only shows the last step's status string.
//!
//! A "run" starts when slot actions appear and ends when none are left; its percentage is the
//! share of the run's slots that reached their target group. Slots in flight also show the keys
//! left in them, as the source's last SLOTSMGRTTAGSLOT(-ASYNC) reply said.

use std::collections::BTreeMap;

use compat::models::ActionState;
use serde::Serialize;

use super::{Result, Topom};

#[derive(Clone, Debug, Default, Serialize)]
pub struct SlotProgress {
    pub from: i64,
    pub to: i64,
    pub state: String,
    /// Keys left in the slot on the source after the last step (-1: no step yet).
    pub keys_left: i64,
    /// Keys in the slot when its first step ran (-1: no step yet).
    pub keys_first_seen: i64,
}

/// Counters kept by the action loop.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    run_total: i64,
    run_done: i64,
    keys: BTreeMap<i64, (i64, i64)>,
}

impl Progress {
    pub(crate) fn slot_step(&mut self, sid: i64, left: i64) {
        let e = self.keys.entry(sid).or_insert((left, left));
        e.1 = left;
        if e.0 < left {
            e.0 = left;
        }
    }

    pub(crate) fn slot_done(&mut self, sid: i64) {
        self.keys.remove(&sid);
        self.run_done += 1;
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ProgressReport {
    /// Slots of the current run (done + pending + in flight).
    pub total: i64,
    pub done: i64,
    pub pending: i64,
    pub in_flight: i64,
    /// `done / total` in percent, 100 when nothing runs.
    pub percent: f64,
    pub disabled: bool,
    pub status: String,
    pub slots: BTreeMap<String, SlotProgress>,
}

impl Topom {
    pub async fn progress_report(&self) -> Result<ProgressReport> {
        let g = self.ctx().await?;
        let c = g.cache();
        let mut r = ProgressReport {
            disabled: self.slot_action_disabled(),
            status: self.action.status.lock().map(|s| s.clone()).unwrap_or_default(),
            ..Default::default()
        };
        let mut p = self.progress.lock().map_err(|_| super::Error("progress lock poisoned".into()))?;
        for m in c.slots.iter().filter(|m| !m.action.state.is_nothing()) {
            if m.action.state == ActionState::Pending {
                r.pending += 1;
                continue;
            }
            r.in_flight += 1;
            let (first, left) = p.keys.get(&m.id).copied().unwrap_or((-1, -1));
            r.slots.insert(
                m.id.to_string(),
                SlotProgress {
                    from: m.group_id,
                    to: m.action.target_id,
                    state: m.action.state.to_string(),
                    keys_left: left,
                    keys_first_seen: first,
                },
            );
        }
        let active = r.pending + r.in_flight;
        if active == 0 {
            p.run_total = 0;
            p.run_done = 0;
        }
        p.run_total = p.run_total.max(p.run_done + active);
        r.total = p.run_total;
        r.done = p.run_done.min(p.run_total);
        r.percent = if r.total == 0 { 100.0 } else { (r.done as f64 * 1000.0 / r.total as f64).floor() / 10.0 };
        Ok(r)
    }
}
