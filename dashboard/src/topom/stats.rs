//! What `/topom` shows (`Stats`, `topom_stats.go`): the models plus INFO of every server and
//! sentinel and the stats of every proxy, refreshed every second in the background.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use compat::models::{Group, Proxy, Sentinel, SlotMapping};
use compat::rest::RemoteError;
use serde::Serialize;

use super::{Result, Topom};
use crate::ordered::Json;
use crate::redis::Client;
use crate::sentinel::SentinelGroup;

#[derive(Clone, Debug, Default, Serialize)]
pub struct RedisStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RemoteError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentinel: Option<BTreeMap<String, SentinelGroup>>,
    pub unixtime: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub timeout: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ProxyStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RemoteError>,
    pub unixtime: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub timeout: bool,
}

#[derive(Serialize)]
pub struct GroupStats {
    pub models: Vec<Group>,
    pub stats: BTreeMap<String, RedisStats>,
}

#[derive(Serialize)]
pub struct ProxyStatsAll {
    pub models: Vec<Proxy>,
    pub stats: BTreeMap<String, ProxyStats>,
}

#[derive(Serialize)]
pub struct ProgressStatus {
    pub status: String,
}

#[derive(Serialize)]
pub struct SlotActionStats {
    pub interval: i64,
    pub disabled: bool,
    pub progress: ProgressStatus,
    pub executor: i64,
}

#[derive(Serialize)]
pub struct HaStats {
    pub model: Sentinel,
    pub stats: BTreeMap<String, RedisStats>,
    pub masters: BTreeMap<String, String>,
}

#[derive(Serialize)]
pub struct Stats {
    pub closed: bool,
    pub slots: Vec<SlotMapping>,
    pub group: GroupStats,
    pub proxy: ProxyStatsAll,
    pub slot_action: SlotActionStats,
    pub sentinels: HaStats,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Topom {
    pub async fn stats(&self) -> Result<Stats> {
        let g = self.ctx().await?;
        let c = g.cache();
        let cached = self.stats.lock().map(|s| (s.servers.clone(), s.proxies.clone())).unwrap_or_default();
        let mut group_stats = BTreeMap::new();
        for grp in c.group.values() {
            for x in &grp.servers {
                if let Some(v) = cached.0.get(&x.addr) {
                    group_stats.insert(x.addr.clone(), v.clone());
                }
            }
        }
        let mut ha_stats = BTreeMap::new();
        for s in &c.sentinel.servers {
            if let Some(v) = cached.0.get(s) {
                ha_stats.insert(s.clone(), v.clone());
            }
        }
        let mut proxies: Vec<Proxy> = c.proxy.values().cloned().collect();
        proxies.sort_by_key(|p| p.id);
        let masters = self.ha_masters().unwrap_or_default().into_iter().map(|(g, a)| (g.to_string(), a)).collect();
        Ok(Stats {
            closed: self.is_closed(),
            slots: c.slots.clone(),
            group: GroupStats { models: c.group.values().cloned().collect(), stats: group_stats },
            proxy: ProxyStatsAll { models: proxies, stats: cached.1 },
            slot_action: SlotActionStats {
                interval: self.slot_action_interval(),
                disabled: self.slot_action_disabled(),
                progress: ProgressStatus { status: self.action.status.lock().map(|s| s.clone()).unwrap_or_default() },
                executor: self.action.executor.load(Ordering::SeqCst),
            },
            sentinels: HaStats { model: c.sentinel.clone(), stats: ha_stats, masters },
        })
    }

    /// INFO of every group server and sentinel (sentinels also with their view of the
    /// masters), each within `timeout`.
    pub(crate) async fn refresh_redis_stats(self: &Arc<Self>, timeout: Duration) -> Result<()> {
        let (servers, sentinels) = {
            let g = self.ctx().await?;
            let c = g.cache();
            let servers: Vec<String> =
                c.group.values().flat_map(|g| g.servers.iter().map(|x| x.addr.clone())).collect();
            (servers, c.sentinel.servers.clone())
        };
        let auth = self.config.product_auth.clone();
        let mut tasks = Vec::new();
        for addr in servers {
            let auth = auth.clone();
            tasks.push(tokio::spawn(async move {
                let r = tokio::time::timeout(timeout, async {
                    let mut c = Client::connect(&addr, &auth, Duration::from_secs(5)).await?;
                    c.info_full().await
                })
                .await;
                let st = match r {
                    Err(_) => RedisStats { timeout: true, ..Default::default() },
                    Ok(Err(e)) => RedisStats { error: Some(RemoteError::new(e.to_string())), ..Default::default() },
                    Ok(Ok(m)) => RedisStats { stats: Some(m), ..Default::default() },
                };
                (addr, st)
            }));
        }
        for addr in sentinels {
            let client = self.sentinel_client_for_stats();
            tasks.push(tokio::spawn(async move {
                let r = tokio::time::timeout(timeout, async {
                    let mut c = Client::connect(&addr, "", Duration::from_secs(5)).await?;
                    let info = c.info().await?;
                    let groups = client.masters_and_slaves_client(&mut c).await?;
                    Ok::<_, crate::redis::RedisError>((info, groups))
                })
                .await;
                let st = match r {
                    Err(_) => RedisStats { timeout: true, ..Default::default() },
                    Ok(Err(e)) => RedisStats { error: Some(RemoteError::new(e.to_string())), ..Default::default() },
                    Ok(Ok((m, s))) => RedisStats { stats: Some(m), sentinel: Some(s), ..Default::default() },
                };
                (addr, st)
            }));
        }
        let mut out = BTreeMap::new();
        for t in tasks {
            if let Ok((addr, mut st)) = t.await {
                st.unixtime = unix_now();
                out.insert(addr, st);
            }
        }
        if let Ok(mut s) = self.stats.lock() {
            s.servers = out;
        }
        Ok(())
    }

    fn sentinel_client_for_stats(&self) -> crate::sentinel::SentinelClient {
        crate::sentinel::SentinelClient::new(&self.config.product_name, &self.config.product_auth)
    }

    /// Every proxy's short stats; a proxy that is neither online nor closed (restarted) is put
    /// back online, as Go does.
    pub(crate) async fn refresh_proxy_stats(self: &Arc<Self>, timeout: Duration) -> Result<()> {
        let proxies: Vec<Proxy> = {
            let g = self.ctx().await?;
            g.cache().proxy.values().cloned().collect()
        };
        let mut tasks = Vec::new();
        for p in proxies {
            let api = self.proxy_client(&p);
            let me = Arc::clone(self);
            tasks.push(tokio::spawn(async move {
                let mut st = match tokio::time::timeout(
                    timeout,
                    api.api().call("GET", &format!("/api/proxy/stats/{}", xauth_of(&me, &p)), None),
                )
                .await
                {
                    Err(_) => ProxyStats { timeout: true, ..Default::default() },
                    Ok(Err(e)) => ProxyStats { error: Some(RemoteError::new(e.to_string())), ..Default::default() },
                    Ok(Ok(b)) => match Json::parse(&b) {
                        Ok(j) => ProxyStats { stats: Some(j), ..Default::default() },
                        Err(e) => ProxyStats { error: Some(RemoteError::new(e.to_string())), ..Default::default() },
                    },
                };
                st.unixtime = unix_now();
                if let Some(j) = &st.stats {
                    let online = j.get("online").and_then(Json::as_bool).unwrap_or(false);
                    let closed = j.get("closed").and_then(Json::as_bool).unwrap_or(false);
                    if !online && !closed {
                        if let Err(e) = me.online_proxy(&p.admin_addr).await {
                            tracing::warn!("auto online proxy-[{}] failed: {e}", p.token);
                        }
                    }
                }
                (p.token, st)
            }));
        }
        let mut out = BTreeMap::new();
        for t in tasks {
            if let Ok((token, st)) = t.await {
                out.insert(token, st);
            }
        }
        if let Ok(mut s) = self.stats.lock() {
            s.proxies = out;
        }
        Ok(())
    }

    /// The last polled stats of every server and sentinel.
    pub fn server_stats(&self) -> BTreeMap<String, RedisStats> {
        self.stats.lock().map(|s| s.servers.clone()).unwrap_or_default()
    }

    pub fn proxy_stats(&self) -> BTreeMap<String, ProxyStats> {
        self.stats.lock().map(|s| s.proxies.clone()).unwrap_or_default()
    }
}

fn xauth_of(t: &Topom, p: &Proxy) -> String {
    compat::xauth::proxy_xauth(&t.config.product_name, &t.config.product_auth, &p.token)
}
