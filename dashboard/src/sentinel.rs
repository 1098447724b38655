//! Talking to redis-sentinel for a product (`pkg/utils/redis/sentinel.go`): masters are named
//! `<product>-<gid>`; the dashboard removes, monitors and configures them, reads who the
//! sentinels elected, and waits for `+switch-master`.

use std::collections::BTreeMap;
use std::net::ToSocketAddrs;
use std::time::Duration;

use compat::resp::Frame;
use serde::Serialize;
use tokio::sync::watch;

use crate::redis::{frame_map, frame_string, Client, RedisError};

/// A monitored master and its replicas as `SENTINEL masters/slaves` describe them.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SentinelGroup {
    pub master: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slaves: Vec<BTreeMap<String, String>>,
}

/// `sentinel_*` of dashboard.toml.
#[derive(Clone, Debug, Default)]
pub struct MonitorConfig {
    pub quorum: i64,
    pub parallel_syncs: i64,
    pub down_after: Duration,
    pub failover_timeout: Duration,
    pub notification_script: String,
    pub client_reconfig_script: String,
}

#[derive(Clone, Debug)]
pub struct SentinelClient {
    pub product: String,
    pub auth: String,
}

type Res<T> = Result<T, RedisError>;

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Runs `f` against every sentinel in parallel within `timeout`; the last error wins, as in Go.
async fn each<F, Fut>(sentinels: &[String], timeout: Duration, f: F) -> Res<()>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Res<()>> + Send + 'static,
{
    let tasks: Vec<_> = sentinels.iter().map(|s| tokio::spawn(f(s.clone()))).collect();
    let mut last = Ok(());
    let all = async {
        for t in tasks {
            match t.await {
                Ok(Err(e)) => last = Err(e),
                Ok(Ok(())) => {}
                Err(e) => last = Err(RedisError::Protocol(e.to_string())),
            }
        }
    };
    if tokio::time::timeout(timeout, all).await.is_err() {
        return match last {
            Err(e) => Err(e),
            Ok(()) => Err(RedisError::Protocol("context deadline exceeded".into())),
        };
    }
    last
}

impl SentinelClient {
    pub fn new(product: &str, auth: &str) -> SentinelClient {
        SentinelClient { product: product.to_string(), auth: auth.to_string() }
    }

    pub fn node_name(&self, gid: i64) -> String {
        format!("{}-{gid}", self.product)
    }

    /// The group id of a master name of this product.
    pub fn is_same_product(&self, name: &str) -> Option<i64> {
        let suffix = name.strip_prefix(&self.product)?;
        let n = suffix.strip_prefix('-')?;
        if n.is_empty() {
            return None;
        }
        n.parse().ok()
    }

    async fn masters_command(&self, c: &mut Client) -> Res<BTreeMap<i64, BTreeMap<String, String>>> {
        let r = c.call(&["SENTINEL", "masters"]).await?;
        let Frame::Array(items) = r else { return Err(RedisError::Protocol("invalid response".into())) };
        let mut out = BTreeMap::new();
        for it in &items {
            let m = frame_map(it)?;
            if let Some(gid) = m.get("name").and_then(|n| self.is_same_product(n)) {
                out.insert(gid, m);
            }
        }
        Ok(out)
    }

    async fn exists(c: &mut Client, names: &[String]) -> Res<BTreeMap<String, bool>> {
        let cmds: Vec<Vec<String>> =
            names.iter().map(|n| cmd(&["SENTINEL", "get-master-addr-by-name", n.as_str()])).collect();
        let replies = if cmds.is_empty() { vec![] } else { c.pipeline(&cmds).await? };
        let mut out = BTreeMap::new();
        for (n, r) in names.iter().zip(replies) {
            if let Frame::Error(e) = r {
                return Err(RedisError::Reply(String::from_utf8_lossy(&e).into_owned()));
            }
            out.insert(n.clone(), !matches!(r, Frame::NullBulk | Frame::NullArray | Frame::Null));
        }
        Ok(out)
    }

    async fn remove_command(c: &mut Client, names: &[String]) -> Res<()> {
        let exists = Self::exists(c, names).await?;
        let cmds: Vec<Vec<String>> =
            names.iter().filter(|n| exists[*n]).map(|n| cmd(&["SENTINEL", "remove", n.as_str()])).collect();
        if cmds.is_empty() {
            return Ok(());
        }
        for r in c.pipeline(&cmds).await? {
            if let Frame::Error(e) = r {
                return Err(RedisError::Reply(String::from_utf8_lossy(&e).into_owned()));
            }
        }
        Ok(())
    }

    /// `SENTINEL flushconfig` (Go checks a new sentinel with it).
    pub async fn flush_config(&self, sentinel: &str, timeout: Duration) -> Res<()> {
        let mut c = Client::connect(sentinel, "", timeout).await?;
        c.call(&["SENTINEL", "flushconfig"]).await?;
        Ok(())
    }

    /// `SENTINEL REMOVE` of the given groups on every sentinel.
    pub async fn remove_groups(&self, sentinels: &[String], timeout: Duration, gids: &[i64]) -> Res<()> {
        let names: Vec<String> = gids.iter().map(|g| self.node_name(*g)).collect();
        each(sentinels, timeout, move |s| {
            let names = names.clone();
            async move {
                let mut c = Client::connect(&s, "", timeout + Duration::from_secs(5)).await?;
                Self::remove_command(&mut c, &names).await
            }
        })
        .await
    }

    /// `SENTINEL REMOVE` of every master of this product on every sentinel.
    pub async fn remove_groups_all(&self, sentinels: &[String], timeout: Duration) -> Res<()> {
        let me = self.clone();
        each(sentinels, timeout, move |s| {
            let me = me.clone();
            async move {
                let mut c = Client::connect(&s, "", timeout + Duration::from_secs(5)).await?;
                let masters = me.masters_command(&mut c).await?;
                let names: Vec<String> = masters.keys().map(|g| me.node_name(*g)).collect();
                Self::remove_command(&mut c, &names).await
            }
        })
        .await
    }

    /// `SENTINEL MONITOR <product>-<gid> ip port quorum` then `SENTINEL SET` of the knobs, for
    /// every group master on every sentinel.
    pub async fn monitor_groups(
        &self,
        sentinels: &[String],
        timeout: Duration,
        config: &MonitorConfig,
        groups: &BTreeMap<i64, String>,
    ) -> Res<()> {
        let mut resolved = Vec::new();
        for (gid, addr) in groups {
            let a = addr
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| RedisError::Protocol(format!("resolve tcp address of {addr} failed")))?;
            resolved.push((*gid, a.ip().to_string(), a.port().to_string()));
        }
        let me = self.clone();
        let config = config.clone();
        each(sentinels, timeout, move |s| {
            let (me, config, resolved) = (me.clone(), config.clone(), resolved.clone());
            async move {
                let mut c = Client::connect(&s, "", timeout + Duration::from_secs(5)).await?;
                let names: Vec<String> = resolved.iter().map(|(g, _, _)| me.node_name(*g)).collect();
                Self::remove_command(&mut c, &names).await?;
                if resolved.is_empty() {
                    return Ok(());
                }
                let q = config.quorum.to_string();
                let monitor: Vec<Vec<String>> = resolved
                    .iter()
                    .map(|(g, ip, port)| cmd(&["SENTINEL", "monitor", &me.node_name(*g), ip, port, &q]))
                    .collect();
                for r in c.pipeline(&monitor).await? {
                    if let Frame::Error(e) = r {
                        return Err(RedisError::Reply(String::from_utf8_lossy(&e).into_owned()));
                    }
                }
                let mut set = Vec::new();
                for (g, _, _) in &resolved {
                    let mut a = cmd(&["SENTINEL", "set", &me.node_name(*g)]);
                    if config.parallel_syncs != 0 {
                        a.extend(cmd(&["parallel-syncs", &config.parallel_syncs.to_string()]));
                    }
                    if !config.down_after.is_zero() {
                        a.extend(cmd(&["down-after-milliseconds", &config.down_after.as_millis().to_string()]));
                    }
                    if !config.failover_timeout.is_zero() {
                        a.extend(cmd(&["failover-timeout", &config.failover_timeout.as_millis().to_string()]));
                    }
                    if !me.auth.is_empty() {
                        a.extend(cmd(&["auth-pass", &me.auth]));
                    }
                    if !config.notification_script.is_empty() {
                        a.extend(cmd(&["notification-script", &config.notification_script]));
                    }
                    if !config.client_reconfig_script.is_empty() {
                        a.extend(cmd(&["client-reconfig-script", &config.client_reconfig_script]));
                    }
                    set.push(a);
                }
                for r in c.pipeline(&set).await? {
                    if let Frame::Error(e) = r {
                        return Err(RedisError::Reply(String::from_utf8_lossy(&e).into_owned()));
                    }
                }
                Ok(())
            }
        })
        .await
    }

    /// Masters and replicas of this product as one sentinel sees them.
    pub async fn masters_and_slaves_client(&self, c: &mut Client) -> Res<BTreeMap<String, SentinelGroup>> {
        let masters = self.masters_command(c).await?;
        let names: Vec<String> = masters.keys().map(|g| self.node_name(*g)).collect();
        let exists = Self::exists(c, &names).await?;
        let live: Vec<&String> = names.iter().filter(|n| exists[*n]).collect();
        let cmds: Vec<Vec<String>> = live.iter().map(|n| cmd(&["SENTINEL", "slaves", n.as_str()])).collect();
        let replies = if cmds.is_empty() { vec![] } else { c.pipeline(&cmds).await? };
        let mut slaves = BTreeMap::new();
        for (n, r) in live.into_iter().zip(replies) {
            let Frame::Array(items) = r else {
                return Err(RedisError::Protocol(format!("invalid response = {r:?}")));
            };
            let list: Res<Vec<_>> = items.iter().map(frame_map).collect();
            slaves.insert(n.clone(), list?);
        }
        let mut out = BTreeMap::new();
        for (gid, master) in masters {
            let name = self.node_name(gid);
            out.insert(name.clone(), SentinelGroup { master, slaves: slaves.remove(&name).unwrap_or_default() });
        }
        Ok(out)
    }

    pub async fn masters_and_slaves(&self, sentinel: &str, timeout: Duration) -> Res<BTreeMap<String, SentinelGroup>> {
        let mut c = Client::connect(sentinel, "", timeout).await?;
        self.masters_and_slaves_client(&mut c).await
    }

    /// Who the sentinels elected per group: the highest `config-epoch` wins; fails without
    /// answers from a majority.
    pub async fn masters(&self, sentinels: &[String], timeout: Duration) -> Res<BTreeMap<i64, String>> {
        let tasks: Vec<_> = sentinels
            .iter()
            .map(|s| {
                let (me, s) = (self.clone(), s.clone());
                tokio::spawn(async move {
                    let mut c = Client::connect(&s, "", timeout + Duration::from_secs(5)).await?;
                    let mut out = BTreeMap::new();
                    for (gid, m) in me.masters_command(&mut c).await? {
                        let Some(epoch) = m.get("config-epoch").and_then(|e| e.parse::<i64>().ok()) else { continue };
                        let (ip, port) =
                            (m.get("ip").cloned().unwrap_or_default(), m.get("port").cloned().unwrap_or_default());
                        if ip.is_empty() || port.is_empty() {
                            continue;
                        }
                        out.insert(gid, (crate::redis::join_host_port(&ip, &port), epoch));
                    }
                    Ok::<_, RedisError>(out)
                })
            })
            .collect();
        let majority = 1 + sentinels.len() / 2;
        let mut voted = 0;
        let mut current: BTreeMap<i64, (String, i64)> = BTreeMap::new();
        let collect = async {
            for t in tasks {
                match t.await {
                    Ok(Ok(m)) => {
                        voted += 1;
                        for (gid, (addr, epoch)) in m {
                            if current.get(&gid).is_none_or(|c| c.1 < epoch) {
                                current.insert(gid, (addr, epoch));
                            }
                        }
                    }
                    Ok(Err(e)) => tracing::warn!("sentinel masters failed: {e}"),
                    Err(_) => {}
                }
            }
        };
        let _ = tokio::time::timeout(timeout, collect).await;
        if voted < majority {
            return Err(RedisError::Protocol(format!("lost majority ({voted}/{})", sentinels.len())));
        }
        Ok(current.into_iter().map(|(g, (a, _))| (g, a)).collect())
    }

    /// Subscribes to `+switch-master` on every sentinel; true when one reported a switch of
    /// this product, false on timeout, cancel or when a majority could not be subscribed.
    pub async fn subscribe(&self, sentinels: &[String], timeout: Duration, mut cancel: watch::Receiver<bool>) -> bool {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<bool>(sentinels.len().max(1));
        let mut tasks = Vec::new();
        for s in sentinels {
            let (me, s, tx) = (self.clone(), s.clone(), tx.clone());
            tasks.push(tokio::spawn(async move {
                let r = me.subscribe_one(&s, timeout + Duration::from_secs(5)).await;
                if let Err(e) = &r {
                    tracing::warn!("sentinel-[{s}] subscribe failed: {e}");
                }
                let _ = tx.send(r.unwrap_or(false)).await;
            }));
        }
        drop(tx);
        let majority = 1 + sentinels.len() / 2;
        let mut alive = sentinels.len();
        let result = tokio::time::timeout(timeout, async {
            loop {
                if alive < majority {
                    tracing::warn!("sentinel subscribe lost majority ({alive}/{})", sentinels.len());
                    return false;
                }
                tokio::select! {
                    r = rx.recv() => match r {
                        Some(true) => {
                            tracing::warn!("sentinel subscribe notified +switch-master");
                            return true;
                        }
                        Some(false) => alive -= 1,
                        None => return false,
                    },
                    _ = cancel.changed() => return false,
                }
            }
        })
        .await
        .unwrap_or(false);
        for t in tasks {
            t.abort();
        }
        result
    }

    async fn subscribe_one(&self, sentinel: &str, timeout: Duration) -> Res<bool> {
        let mut c = Client::connect(sentinel, "", timeout).await?;
        let mut out = Vec::new();
        compat::resp::write::command(&mut out, &["SUBSCRIBE", "+switch-master"]);
        c.raw_write(&out).await?;
        let ack = c.read_frame().await?;
        if !matches!(&ack, Frame::Array(v) if v.len() == 3) {
            return Err(RedisError::Protocol(format!("invalid response = {ack:?}")));
        }
        loop {
            // Messages come whenever a failover happens: no read timeout here.
            let Frame::Array(parts) = c.read_frame_untimed().await? else { continue };
            let parts: Vec<String> = parts.iter().filter_map(|p| frame_string(p).ok()).collect();
            if parts.len() == 3 && parts[0] == "message" && parts[1] == "+switch-master" {
                tracing::warn!("sentinel-[{sentinel}] subscribe event {parts:?}");
                let name = parts[2].split(' ').next().unwrap_or("");
                if self.is_same_product(name).is_some() {
                    return Ok(true);
                }
            }
        }
    }
}

impl From<&compat::config::DashboardConfig> for MonitorConfig {
    fn from(c: &compat::config::DashboardConfig) -> MonitorConfig {
        MonitorConfig {
            quorum: c.sentinel_quorum,
            parallel_syncs: c.sentinel_parallel_syncs,
            down_after: c.sentinel_down_after.duration(),
            failover_timeout: c.sentinel_failover_timeout.duration(),
            notification_script: c.sentinel_notification_script.clone(),
            client_reconfig_script: c.sentinel_client_reconfig_script.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let s = SentinelClient::new("codis-demo", "");
        assert_eq!(s.node_name(3), "codis-demo-3");
        assert_eq!(s.is_same_product("codis-demo-3"), Some(3));
        assert_eq!(s.is_same_product("codis-demo-"), None);
        assert_eq!(s.is_same_product("codis-demo3"), None);
        assert_eq!(s.is_same_product("other-1"), None);
    }
}
