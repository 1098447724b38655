//! Sentinels (`topom_sentinel.go`): the list of sentinels, configuring them to monitor every
//! group master, and following their elections: on `+switch-master` the dashboard asks the
//! sentinels who the masters are and puts the elected server first in its group.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use compat::models::Proxy;
use tokio::sync::watch;

use super::{fail, Error, Result, Topom};
use crate::sentinel::{MonitorConfig, SentinelClient};

impl Topom {
    fn sentinel_client(&self) -> SentinelClient {
        SentinelClient::new(&self.config.product_name, &self.config.product_auth)
    }

    pub async fn add_sentinel(&self, addr: &str) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        if addr.is_empty() {
            fail!("invalid sentinel address");
        }
        if c.sentinel.servers.iter().any(|x| x == addr) {
            fail!("sentinel-[{addr}] already exists");
        }
        self.sentinel_client().flush_config(addr, self.config.sentinel_client_timeout.duration()).await?;
        c.dirty_sentinel();
        c.sentinel.servers.push(addr.to_string());
        c.sentinel.out_of_sync = true;
        let s = c.sentinel.clone();
        self.store_update_sentinel(&s).await
    }

    pub async fn del_sentinel(&self, addr: &str, force: bool) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        if addr.is_empty() {
            fail!("invalid sentinel address");
        }
        let rest: Vec<String> = c.sentinel.servers.iter().filter(|x| *x != addr).cloned().collect();
        if rest.len() == c.sentinel.servers.len() {
            fail!("sentinel-[{addr}] not found");
        }
        c.dirty_sentinel();
        c.sentinel.out_of_sync = true;
        let s = c.sentinel.clone();
        self.store_update_sentinel(&s).await?;
        let timeout = self.config.sentinel_client_timeout.duration();
        if let Err(e) = self.sentinel_client().remove_groups_all(&[addr.to_string()], timeout).await {
            tracing::warn!("remove sentinel {addr} failed: {e}");
            if !force {
                fail!("remove sentinel {addr} failed");
            }
        }
        c.sentinel.servers = rest;
        let s = c.sentinel.clone();
        self.store_update_sentinel(&s).await
    }

    /// Re-monitors every group on every sentinel and tells every proxy the sentinel list.
    pub async fn resync_sentinels(self: &Arc<Self>) -> Result<()> {
        let mut g = self.ctx().await?;
        let c = g.cache_mut();
        c.dirty_sentinel();
        c.sentinel.out_of_sync = true;
        let s = c.sentinel.clone();
        self.store_update_sentinel(&s).await?;
        let client = self.sentinel_client();
        let timeout = self.config.sentinel_client_timeout.duration();
        if let Err(e) = client.remove_groups_all(&s.servers, timeout).await {
            tracing::warn!("remove sentinels failed: {e}");
        }
        let config = MonitorConfig::from(&self.config);
        if let Err(e) = client.monitor_groups(&s.servers, timeout, &config, &c.group_masters()).await {
            tracing::warn!("resync sentinels failed: {e}");
            return Err(Error(e.to_string()));
        }
        self.rewatch_sentinels(s.servers.clone());
        let proxies: Vec<Proxy> = c.proxy.values().cloned().collect();
        let mut tasks = Vec::new();
        for p in proxies {
            let api = self.proxy_client(&p);
            let s = c.sentinel.clone();
            tasks.push(tokio::spawn(async move {
                let r = api.set_sentinels(&s).await;
                if let Err(e) = &r {
                    tracing::error!("proxy-[{}] resync sentinel failed: {e}", p.token);
                }
                (p.token, r.is_ok())
            }));
        }
        for t in tasks {
            if let Ok((token, false)) = t.await {
                fail!("proxy-[{token}] sentinel failed");
            }
        }
        c.sentinel.out_of_sync = false;
        let s = c.sentinel.clone();
        self.store_update_sentinel(&s).await
    }

    /// The elected masters (`sentinels.masters` of `/topom`), `None` until sentinels are watched.
    pub fn ha_masters(&self) -> Option<BTreeMap<i64, String>> {
        self.ha.lock().ok().and_then(|h| h.masters.clone())
    }

    /// Go's `SwitchMasters`: remember the elected masters, reorder groups to match.
    pub async fn switch_masters(&self, masters: BTreeMap<i64, String>) -> Result<()> {
        if self.is_closed() {
            fail!("{}", super::ERR_CLOSED);
        }
        if let Ok(mut h) = self.ha.lock() {
            h.masters = Some(masters.clone());
        }
        let mut runids = BTreeMap::new();
        for (gid, master) in masters {
            if let Err(e) = self.try_switch_group_master(gid, &master, &mut runids).await {
                tracing::warn!("sentinel switch group master failed: {e}");
            }
        }
        Ok(())
    }

    /// Starts (or restarts) the watcher of `servers`: subscribe to `+switch-master`, and after
    /// each notification read the elected masters (up to 10 tries, two successes, 5s apart).
    pub fn rewatch_sentinels(self: &Arc<Self>, servers: Vec<String>) {
        let mut h = match self.ha.lock() {
            Ok(h) => h,
            Err(_) => return,
        };
        if let Some(m) = h.monitor.take() {
            let _ = m.send(true);
        }
        tracing::warn!("rewatch sentinels = {servers:?}");
        if servers.is_empty() {
            h.masters = None;
            return;
        }
        let (tx, rx) = watch::channel(false);
        h.monitor = Some(tx);
        drop(h);
        let (t1, t2) = (Arc::clone(self), Arc::clone(self));
        let (rx1, rx2) = (rx.clone(), rx);
        let (trigger, mut triggered) = tokio::sync::mpsc::channel::<()>(1);
        let servers1 = servers.clone();
        tokio::spawn(async move {
            let client = t1.sentinel_client();
            while !*rx1.borrow() && !t1.is_closed() {
                let retry_at = Instant::now() + Duration::from_secs(10);
                let notified = client.subscribe(&servers1, Duration::from_secs(15 * 60), rx1.clone()).await;
                if *rx1.borrow() {
                    break;
                }
                if notified {
                    let _ = trigger.try_send(());
                } else {
                    tokio::time::sleep_until(retry_at.into()).await;
                }
            }
        });
        tokio::spawn(async move {
            let client = t2.sentinel_client();
            // A first read right away: masters may have changed while no one watched.
            let mut first = true;
            loop {
                if !first && triggered.recv().await.is_none() {
                    return;
                }
                first = false;
                let mut success = 0;
                for _ in 0..10 {
                    if *rx2.borrow() || t2.is_closed() || success == 2 {
                        break;
                    }
                    match client.masters(&servers, Duration::from_secs(5)).await {
                        Err(e) => tracing::warn!("fetch group masters failed: {e}"),
                        Ok(m) => {
                            if !*rx2.borrow() {
                                let _ = t2.switch_masters(m).await;
                            }
                            success += 1;
                        }
                    }
                    // Go sleeps the full 5 s; a switch notified meanwhile starts the reads over
                    // at once rather than waiting for the sleep to end.
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                        Some(()) = triggered.recv() => success = 0,
                    }
                }
            }
        });
    }
}
