//! Watching Redis sentinels for master switches (Go's `pkg/utils/redis/sentinel.go` and
//! `Proxy.rewatchSentinels`).
//!
//! Sentinels monitor each group as `<product>-<gid>`. A [`Monitor`] keeps a `SUBSCRIBE
//! +switch-master` open on every sentinel (renewed every 15 minutes); once a majority has
//! subscribed, and whenever one of them reports a switch of one of our groups, it asks every
//! sentinel for `SENTINEL masters`, keeps for each group the master with the highest config
//! epoch (a majority must answer), and hands the result to [`Proxy::switch_masters`] — twice,
//! five seconds apart, as Go does, to catch a sentinel that was late.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use compat::resp::{parse_frame, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::proxy::Proxy;

/// A running watch of a set of sentinels; cancelled by [`Monitor::cancel`] or when dropped.
pub struct Monitor {
    cancel: watch::Sender<bool>,
}

impl Monitor {
    pub fn start(proxy: Proxy, servers: Vec<String>) -> Monitor {
        let (cancel, rx) = watch::channel(false);
        let product = proxy.config().product_name.clone();
        let watcher = Watcher { product, rx };
        let (trigger_tx, mut trigger_rx) = mpsc::channel::<()>(1);
        let w = watcher.clone();
        let subs = servers.clone();
        tokio::spawn(async move {
            let fire = move || {
                let _ = trigger_tx.try_send(());
            };
            while !w.is_canceled() {
                let retry_at = Instant::now() + Duration::from_secs(10);
                if w.subscribe(&subs, Duration::from_secs(15 * 60), &fire).await {
                    fire();
                } else {
                    w.sleep_until(retry_at).await;
                }
            }
        });
        let w = watcher;
        tokio::spawn(async move {
            loop {
                let trigger = tokio::select! {
                    t = trigger_rx.recv() => t,
                    _ = w.canceled() => None,
                };
                if trigger.is_none() {
                    return;
                }
                let mut success = 0;
                let mut i = 0;
                while i != 10 && !w.is_canceled() && success != 2 {
                    i += 1;
                    match w.masters(&servers, Duration::from_secs(5)).await {
                        Ok(masters) => {
                            if !w.is_canceled() {
                                if let Err(e) = proxy.switch_masters(masters).await {
                                    tracing::warn!(error = %e, "switch masters failed");
                                }
                            }
                            success += 1;
                        }
                        Err(e) => tracing::warn!(error = %e, "fetch group masters failed"),
                    }
                    // Go sleeps the full 5 s here, so a switch notified meanwhile waited for
                    // it (seconds of failed or held requests); a new notification starts the
                    // reads over at once instead.
                    tokio::select! {
                        _ = w.sleep_until(Instant::now() + Duration::from_secs(5)) => {}
                        Some(()) = trigger_rx.recv() => {
                            success = 0;
                            i = 0;
                        }
                    }
                }
            }
        });
        Monitor { cancel }
    }

    pub fn cancel(&self) {
        self.cancel.send_replace(true);
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.cancel();
    }
}

#[derive(Clone)]
struct Watcher {
    product: String,
    rx: watch::Receiver<bool>,
}

impl Watcher {
    fn is_canceled(&self) -> bool {
        *self.rx.borrow()
    }

    async fn canceled(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|c| *c).await;
    }

    async fn sleep_until(&self, t: Instant) {
        tokio::select! {
            _ = tokio::time::sleep_until(t.into()) => {}
            _ = self.canceled() => {}
        }
    }

    /// The group id of a sentinel master name of our product (`<product>-<gid>`).
    fn group_of(&self, name: &str) -> Option<i64> {
        group_of(&self.product, name)
    }

    /// Go's `Sentinel.Subscribe`: true when a sentinel reported a switch of one of our groups,
    /// false on timeout, cancel, or when fewer than a majority are still subscribed.
    async fn subscribe(&self, servers: &[String], timeout: Duration, on_majority: &(dyn Fn() + Sync)) -> bool {
        let majority = 1 + servers.len() / 2;
        let subscribed = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = mpsc::channel::<bool>(servers.len().max(1));
        let (majority_tx, mut majority_rx) = mpsc::channel::<()>(1);
        let deadline = Instant::now() + timeout;
        let mut tasks = Vec::new();
        for s in servers {
            let (w, s, tx, subscribed, majority_tx) =
                (self.clone(), s.clone(), tx.clone(), subscribed.clone(), majority_tx.clone());
            tasks.push(tokio::spawn(async move {
                let on_sub = || {
                    if subscribed.fetch_add(1, Ordering::AcqRel) + 1 == majority {
                        let _ = majority_tx.try_send(());
                    }
                };
                let r = tokio::select! {
                    r = w.subscribe_one(&s, timeout + Duration::from_secs(5), on_sub) => r,
                    _ = tokio::time::sleep_until(deadline.into()) => Ok(false),
                    _ = w.canceled() => Ok(false),
                };
                let notified = match r {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "sentinel-[{s}] subscribe failed");
                        false
                    }
                };
                let _ = tx.send(notified).await;
            }));
        }
        drop(tx);
        drop(majority_tx);
        let mut alive = servers.len();
        let result = loop {
            if alive < majority {
                if !self.is_canceled() && Instant::now() < deadline {
                    tracing::warn!("sentinel subscribe lost majority ({alive}/{})", servers.len());
                }
                break false;
            }
            tokio::select! {
                Some(()) = majority_rx.recv() => on_majority(),
                r = rx.recv() => match r {
                    Some(true) => {
                        tracing::warn!("sentinel subscribe notified +switch-master");
                        break true;
                    }
                    Some(false) => alive -= 1,
                    None => break false,
                },
            }
        };
        for t in tasks {
            t.abort();
        }
        result
    }

    async fn subscribe_one(&self, sentinel: &str, timeout: Duration, on_sub: impl Fn()) -> Result<bool, String> {
        let mut c = RespConn::connect(sentinel, timeout).await?;
        c.send(&["SUBSCRIBE", "+switch-master"]).await?;
        match c.read().await? {
            Frame::Array(v) if v.len() == 3 && bulk_is(&v[0], "subscribe") && bulk_is(&v[1], "+switch-master") => {}
            other => return Err(format!("invalid response = {other:?}")),
        }
        on_sub();
        loop {
            let msg = match c.read_forever().await? {
                Frame::Array(v) => v.iter().map(text).collect::<Option<Vec<String>>>(),
                _ => None,
            };
            let msg = match msg {
                Some(m) if m.len() >= 2 && m[0] == "message" => m,
                other => return Err(format!("invalid response = {other:?}")),
            };
            tracing::warn!("sentinel-[{sentinel}] subscribe event {msg:?}");
            if msg[1] == "+switch-master" {
                let params: Vec<&str> = msg.get(2).map(|p| p.splitn(2, ' ').collect()).unwrap_or_default();
                if msg.len() != 3 || params.len() != 2 {
                    return Err(format!("invalid response = {msg:?}"));
                }
                if self.group_of(params[0]).is_some() {
                    return Ok(true);
                }
            }
        }
    }

    /// Go's `Sentinel.Masters`: the master of each of our groups, by the highest config epoch
    /// any sentinel reports; a majority of the sentinels must answer.
    async fn masters(&self, servers: &[String], timeout: Duration) -> Result<BTreeMap<i64, String>, String> {
        let majority = 1 + servers.len() / 2;
        let mut tasks = Vec::new();
        for s in servers {
            let (w, s) = (self.clone(), s.clone());
            tasks.push(tokio::spawn(async move {
                let r = tokio::time::timeout(timeout, w.masters_one(&s, timeout + Duration::from_secs(5))).await;
                match r {
                    Ok(Ok(m)) => Some(m),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "sentinel-[{s}] masters failed");
                        None
                    }
                    Err(_) => None,
                }
            }));
        }
        let mut best: HashMap<i64, (i64, String)> = HashMap::new();
        let mut voted = 0;
        for t in tasks {
            if let Ok(Some(m)) = t.await {
                voted += 1;
                for (gid, (epoch, addr)) in m {
                    match best.get(&gid) {
                        Some((e, _)) if *e >= epoch => {}
                        _ => {
                            best.insert(gid, (epoch, addr));
                        }
                    }
                }
            }
        }
        if self.is_canceled() {
            return Err("context canceled".into());
        }
        if voted < majority {
            return Err(format!("lost majority ({voted}/{})", servers.len()));
        }
        Ok(best.into_iter().map(|(g, (_, a))| (g, a)).collect())
    }

    async fn masters_one(&self, sentinel: &str, timeout: Duration) -> Result<HashMap<i64, (i64, String)>, String> {
        let mut c = RespConn::connect(sentinel, timeout).await?;
        c.send(&["SENTINEL", "masters"]).await?;
        let Frame::Array(list) = c.read().await? else {
            return Err("SENTINEL masters: unexpected reply".into());
        };
        let mut out = HashMap::new();
        for m in list {
            let Frame::Array(kv) = m else { continue };
            let fields: HashMap<String, String> =
                kv.chunks(2).filter_map(|p| Some((text(p.first()?)?, text(p.get(1)?)?))).collect();
            let name = fields.get("name").cloned().unwrap_or_default();
            let Some(gid) = self.group_of(&name) else { continue };
            let epoch = match fields.get("config-epoch").map(|e| e.parse::<i64>()) {
                Some(Ok(e)) => e,
                _ => {
                    tracing::warn!(
                        "sentinel-[{sentinel}] masters parse {name} failed, config-epoch = {:?}",
                        fields.get("config-epoch")
                    );
                    continue;
                }
            };
            let (ip, port) =
                (fields.get("ip").cloned().unwrap_or_default(), fields.get("port").cloned().unwrap_or_default());
            if ip.is_empty() || port.is_empty() {
                tracing::warn!("sentinel-[{sentinel}] masters parse {name} failed, ip:port = '{ip}:{port}'");
                continue;
            }
            let addr = if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") };
            out.insert(gid, (epoch, addr));
        }
        Ok(out)
    }
}

/// Go's `isSameProduct`: `<product>-<integer>`.
pub fn group_of(product: &str, name: &str) -> Option<i64> {
    let suffix = name.strip_prefix(product)?;
    let n = suffix.strip_prefix('-')?;
    if n.is_empty() {
        return None;
    }
    n.parse().ok()
}

fn text(f: &Frame) -> Option<String> {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Frame::Integer(n) => Some(n.to_string()),
        _ => None,
    }
}

fn bulk_is(f: &Frame, s: &str) -> bool {
    text(f).is_some_and(|t| t == s)
}

/// A plain RESP connection for the control plane (sentinels, `INFO` for run ids).
pub struct RespConn {
    stream: TcpStream,
    buf: BytesMut,
    timeout: Duration,
}

impl RespConn {
    pub async fn connect(addr: &str, timeout: Duration) -> Result<RespConn, String> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("dial tcp {addr}: i/o timeout"))?
            .map_err(|e| format!("dial tcp {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        Ok(RespConn { stream, buf: BytesMut::new(), timeout })
    }

    pub async fn send(&mut self, args: &[&str]) -> Result<(), String> {
        let mut out = Vec::new();
        compat::resp::write::command(&mut out, args);
        tokio::time::timeout(self.timeout, self.stream.write_all(&out))
            .await
            .map_err(|_| "write: i/o timeout".to_string())?
            .map_err(|e| format!("write: {e}"))
    }

    /// The next reply, within the connection's timeout.
    pub async fn read(&mut self) -> Result<Frame, String> {
        let t = self.timeout;
        tokio::time::timeout(t, self.read_forever()).await.map_err(|_| "read: i/o timeout".to_string())?
    }

    /// The next reply, however long it takes (subscriptions).
    pub async fn read_forever(&mut self) -> Result<Frame, String> {
        loop {
            if let Some((f, n)) = parse_frame(&self.buf).map_err(|e| e.to_string())? {
                let _ = self.buf.split_to(n);
                return Ok(f);
            }
            let n = self.stream.read_buf(&mut self.buf).await.map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("EOF".into());
            }
        }
    }

    pub async fn call(&mut self, args: &[&str]) -> Result<Frame, String> {
        self.send(args).await?;
        self.read().await
    }
}

/// Go's `redis.InfoCache` for `SwitchMasters`: the `run_id` of each server, asked once, with a
/// 100 ms budget.
pub struct RunIdCache {
    auth: String,
    ids: HashMap<String, String>,
}

impl RunIdCache {
    pub fn new(auth: &str) -> RunIdCache {
        RunIdCache { auth: auth.to_string(), ids: HashMap::new() }
    }

    /// Whether `a` and `b` are the same server: the same address, or the same known run id.
    pub async fn same_server(&mut self, a: &str, b: &str) -> bool {
        if a == b {
            return true;
        }
        let ra = self.run_id(a).await;
        let rb = self.run_id(b).await;
        !ra.is_empty() && ra == rb
    }

    async fn run_id(&mut self, addr: &str) -> String {
        if addr.is_empty() {
            return String::new();
        }
        if let Some(id) = self.ids.get(addr) {
            return id.clone();
        }
        let id = tokio::time::timeout(Duration::from_millis(100), fetch_run_id(addr, &self.auth))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        self.ids.insert(addr.to_string(), id.clone());
        id
    }
}

async fn fetch_run_id(addr: &str, auth: &str) -> Result<String, String> {
    let mut c = RespConn::connect(addr, Duration::from_millis(100)).await?;
    if !auth.is_empty() {
        if let Frame::Error(e) = c.call(&["AUTH", auth]).await? {
            return Err(String::from_utf8_lossy(&e).into_owned());
        }
    }
    let Frame::Bulk(info) = c.call(&["INFO", "server"]).await? else {
        return Err("INFO: unexpected reply".into());
    };
    let info = String::from_utf8_lossy(&info);
    Ok(info.lines().find_map(|l| l.strip_prefix("run_id:")).unwrap_or("").trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_names_of_our_groups() {
        assert_eq!(group_of("codis-demo", "codis-demo-1"), Some(1));
        assert_eq!(group_of("codis-demo", "codis-demo-12"), Some(12));
        assert_eq!(group_of("codis-demo", "codis-demo-"), None);
        assert_eq!(group_of("codis-demo", "codis-demo1"), None);
        assert_eq!(group_of("codis-demo", "codis-demo-x"), None);
        assert_eq!(group_of("codis-demo", "other-1"), None);
    }
}
