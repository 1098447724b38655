//! The background loops (`topom.go: Start`, `topom_action.go`): stats every second, slot
//! actions (up to `migration_parallel_slots` slots at once, never two slots that share a
//! group), and sync actions (SLAVEOF) one at a time.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::slots::{Busy, Executor};
use super::{sleep_unless_closed, Result, Topom};
use crate::redis::Client;

pub(crate) fn spawn_loops(t: &Arc<Topom>) {
    // Stats failures are reported through the stats themselves: no log, no back-off.
    every_second(t, None, |me| async move { me.refresh_redis_stats(Duration::from_secs(1)).await.map(|_| ()) });
    every_second(t, None, |me| async move { me.refresh_proxy_stats(Duration::from_secs(1)).await.map(|_| ()) });
    every_second(t, Some("process slot action failed"), |me| async move { process_slot_action(&me).await });
    every_second(t, Some("process sync action failed"), |me| async move { process_sync_action(&me).await });
}

/// Runs `step` once a second while the topom is online, until it closes. With `failed` set, an
/// error is logged under that message and the next step waits 5 s more.
fn every_second<F, Fut, E>(t: &Arc<Topom>, failed: Option<&'static str>, step: F)
where
    F: Fn(Arc<Topom>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::result::Result<(), E>> + Send,
    E: std::fmt::Display,
{
    let me = Arc::clone(t);
    tokio::spawn(async move {
        while !me.is_closed() {
            if me.is_online() {
                let back_off = match (step(Arc::clone(&me)).await, failed) {
                    (Err(e), Some(msg)) => {
                        tracing::warn!("{msg}: {e}");
                        true
                    }
                    _ => false,
                };
                if back_off {
                    sleep_unless_closed(&me, Duration::from_secs(5)).await;
                }
            }
            if !sleep_unless_closed(&me, Duration::from_secs(1)).await {
                break;
            }
        }
    });
}

fn set_status(t: &Topom, s: String) {
    if let Ok(mut st) = t.action.status.lock() {
        *st = s;
    }
}

/// Go's `ProcessSlotAction`: rounds of up to `migration_parallel_slots` slots whose groups do
/// not overlap, all brought to `migrating` first, then migrated in parallel.
pub(crate) async fn process_slot_action(t: &Arc<Topom>) -> Result<()> {
    while t.is_online() {
        let mut busy = Busy::default();
        let parallel = t.config.migration_parallel_slots.max(1) as usize;
        while parallel > busy.slots.len() {
            let Some((sid, from, to)) = t.slot_action_prepare_filter(&busy).await? else { break };
            if from != 0 {
                busy.groups.insert(from);
            }
            busy.groups.insert(to);
            busy.slots.insert(sid);
        }
        let plans = busy.slots;
        if plans.is_empty() {
            return Ok(());
        }
        let mut tasks = Vec::new();
        for sid in plans {
            let me = Arc::clone(t);
            tasks.push(tokio::spawn(async move {
                tracing::warn!("slot-[{sid}] process action");
                let r = process_one_slot(&me, sid).await;
                match &r {
                    Err(e) => set_status(&me, format!("[ERROR] Slot[{sid:04}]: {e}")),
                    Ok(()) => set_status(&me, String::new()),
                }
                r
            }));
        }
        let mut first_err = None;
        for task in tasks {
            match task.await {
                Ok(Err(e)) => first_err = first_err.or(Some(e)),
                Err(e) => first_err = first_err.or(Some(super::Error(e.to_string()))),
                Ok(Ok(())) => {}
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

async fn process_one_slot(t: &Arc<Topom>, sid: i64) -> Result<()> {
    let mut db = 0;
    while t.is_online() {
        match t.new_slot_action_executor(sid).await? {
            Executor::Wait => {
                sleep_unless_closed(t, Duration::from_secs(1)).await;
            }
            Executor::Finished => return complete(t, sid).await,
            Executor::Migrate { from, dest } => {
                t.action.executor.fetch_add(1, Ordering::SeqCst);
                let step = t.migrate_step(sid, &from, &dest, db).await;
                t.action.executor.fetch_sub(1, Ordering::SeqCst);
                let step = step?;
                tracing::debug!("slot-[{sid}] action executor {}", step.remains);
                if let Ok(mut p) = t.progress.lock() {
                    p.slot_step(sid, step.remains);
                }
                if step.remains == 0 && step.next_db == -1 {
                    return complete(t, sid).await;
                }
                set_status(t, format!("[OK] Slot[{sid:04}]@DB[{db}]={}", step.remains));
                let us = t.slot_action_interval();
                if us != 0 {
                    tokio::time::sleep(Duration::from_micros(us as u64)).await;
                }
                db = step.next_db;
            }
        }
    }
    Ok(())
}

async fn complete(t: &Topom, sid: i64) -> Result<()> {
    t.slot_action_complete(sid).await?;
    if let Ok(mut p) = t.progress.lock() {
        p.slot_done(sid);
    }
    Ok(())
}

/// Go's `ProcessSyncAction`: the oldest pending sync action → `syncing` → SLAVEOF (with
/// CONFIG REWRITE) on the server → `synced` or `synced_failed`.
pub(crate) async fn process_sync_action(t: &Arc<Topom>) -> Result<()> {
    let Some(addr) = t.sync_action_prepare().await? else { return Ok(()) };
    tracing::warn!("sync-[{addr}] process action");
    let Some(master) = t.sync_action_target(&addr).await? else { return Ok(()) };
    let failed = match Client::connect(&addr, &t.config.product_auth, Duration::from_secs(30 * 60)).await {
        Err(e) => {
            tracing::warn!("create redis client to {addr} failed: {e}");
            true
        }
        Ok(mut c) => match c.set_master(&master).await {
            Err(e) => {
                tracing::warn!("redis {addr} set master to {master} failed: {e}");
                true
            }
            Ok(()) => false,
        },
    };
    t.sync_action_complete(&addr, failed).await
}
