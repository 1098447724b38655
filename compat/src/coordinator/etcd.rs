//! etcd through its v2 keys API (`pkg/models/etcd/etcdclient.go`, `coreos/etcd/client`).
//!
//! Go Codis 3.2 talks v2 to etcd, so a Rust tool must too to see the same keys (etcd keeps the
//! v2 and v3 key spaces apart). etcd ≥ 3.4 serves v2 only with `--enable-v2=true`.
//!
//! - Endpoints: `host:port[,host:port...]`, `http://` added when missing; a request that
//!   cannot connect moves on to the next endpoint.
//! - Auth: `user:password` as HTTP basic auth.
//! - Ephemerals: keys with a TTL of the client timeout (whole seconds), refreshed every half
//!   timeout without a watch event (`refresh=true`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;

use super::{parse_auth, BoxFuture, Client, CoordinatorError, Result, Signal, SignalSender};

/// etcd v2 error codes we react to (`etcd/error/error.go`).
const KEY_NOT_FOUND: i64 = 100;
const NOT_FILE: i64 = 102;
const NODE_EXIST: i64 = 105;
const EVENT_INDEX_CLEARED: i64 = 401;

pub struct EtcdClient {
    inner: Arc<Inner>,
}

struct Inner {
    endpoints: Vec<String>,
    current: AtomicUsize,
    auth: Option<(String, String)>,
    timeout: Duration,
    http: reqwest::Client,
    ephemerals: Mutex<HashMap<String, u64>>,
    next_id: AtomicU64,
    closed: AtomicBool,
    close_tx: watch::Sender<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct Node {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    dir: bool,
    #[serde(default)]
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct Response {
    #[serde(default)]
    node: Node,
}

#[derive(Debug, Deserialize)]
struct EtcdError {
    #[serde(rename = "errorCode")]
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    cause: String,
}

/// A v2 request: `timeout: None` is for watches, which wait as long as they must.
struct Req<'a> {
    method: reqwest::Method,
    url_path: &'a str,
    query: &'a str,
    body: Option<String>,
    timeout: Option<Duration>,
}

/// An answer from etcd: its index header and the decoded body or error.
enum Answer {
    Ok { index: u64, resp: Response },
    Err(EtcdError),
}

fn backend(op: &'static str, path: &str, e: impl std::fmt::Display) -> CoordinatorError {
    CoordinatorError::Backend { backend: "etcd", op, path: path.to_string(), message: e.to_string() }
}

fn etcd_err(op: &'static str, path: &str, e: EtcdError) -> CoordinatorError {
    match e.code {
        KEY_NOT_FOUND => CoordinatorError::NoNode(path.to_string()),
        NODE_EXIST => CoordinatorError::NodeExists(path.to_string()),
        code => backend(op, path, format!("{code}: {} ({})", e.message, e.cause)),
    }
}

/// `application/x-www-form-urlencoded` for arbitrary bytes.
fn form(pairs: &[(&str, &[u8])]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        for &b in v.iter() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Key path → URL path: each segment percent-encoded, slashes kept.
fn key_url(path: &str) -> String {
    let mut out = String::from("/v2/keys");
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&form(&[("", seg.as_bytes())])[1..]);
    }
    out
}

impl EtcdClient {
    /// Go's `etcdclient.New(addrlist, auth, timeout)`; connects lazily.
    pub fn new(addrlist: &str, auth: &str, timeout: Duration) -> Result<EtcdClient> {
        let auth = parse_auth(auth)?;
        let endpoints: Vec<String> = addrlist
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| {
                let s = s.trim_end_matches('/');
                if s.starts_with("http://") || s.starts_with("https://") {
                    s.to_string()
                } else {
                    format!("http://{s}")
                }
            })
            .collect();
        if endpoints.is_empty() {
            return Err(backend("connect", addrlist, "no endpoints"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| backend("connect", addrlist, e))?;
        let (close_tx, _) = watch::channel(false);
        Ok(EtcdClient {
            inner: Arc::new(Inner {
                endpoints,
                current: AtomicUsize::new(0),
                auth,
                timeout,
                http,
                ephemerals: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                close_tx,
            }),
        })
    }

    fn ttl_secs(&self) -> String {
        self.inner.ttl_secs()
    }
}

impl Inner {
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(CoordinatorError::Closed("etcd"));
        }
        Ok(())
    }

    fn ttl_secs(&self) -> String {
        self.timeout.as_secs().max(1).to_string()
    }

    /// One v2 request, trying each endpoint until one answers.
    async fn call(&self, op: &'static str, path: &str, req: Req<'_>) -> Result<Answer> {
        let Req { method, url_path, query, body, timeout } = req;
        self.check_open()?;
        let n = self.endpoints.len();
        let start = self.current.load(Ordering::Relaxed);
        let mut last_err = String::new();
        for i in 0..n {
            let idx = (start + i) % n;
            let mut url = format!("{}{}", self.endpoints[idx], url_path);
            if !query.is_empty() {
                url.push('?');
                url.push_str(query);
            }
            let mut req = self.http.request(method.clone(), &url);
            if let Some(t) = timeout {
                req = req.timeout(t);
            }
            if let Some((u, p)) = &self.auth {
                req = req.basic_auth(u, Some(p));
            }
            if let Some(b) = &body {
                req = req.header("Content-Type", "application/x-www-form-urlencoded").body(b.clone());
            }
            let rsp = match req.send().await {
                Ok(r) => r,
                Err(e) if e.is_connect() => {
                    last_err = e.to_string();
                    continue;
                }
                Err(e) => return Err(backend(op, path, e)),
            };
            self.current.store(idx, Ordering::Relaxed);
            let index = rsp
                .headers()
                .get("X-Etcd-Index")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let status = rsp.status();
            let bytes = rsp.bytes().await.map_err(|e| backend(op, path, e))?;
            if status.is_success() {
                let resp: Response =
                    serde_json::from_slice(&bytes).map_err(|e| backend(op, path, format!("bad etcd answer: {e}")))?;
                return Ok(Answer::Ok { index, resp });
            }
            return match serde_json::from_slice::<EtcdError>(&bytes) {
                Ok(e) => Ok(Answer::Err(e)),
                Err(_) => Err(backend(
                    op,
                    path,
                    format!("etcd answered {status}: {}", String::from_utf8_lossy(&bytes).trim()),
                )),
            };
        }
        Err(backend(op, path, format!("no etcd endpoint reachable: {last_err}")))
    }

    async fn set(&self, op: &'static str, path: &str, pairs: &[(&str, &[u8])]) -> Result<()> {
        match self
            .call(
                op,
                path,
                Req {
                    method: reqwest::Method::PUT,
                    url_path: &key_url(path),
                    query: "",
                    body: Some(form(pairs)),
                    timeout: Some(self.timeout),
                },
            )
            .await?
        {
            Answer::Ok { .. } => Ok(()),
            Answer::Err(e) => Err(etcd_err(op, path, e)),
        }
    }

    async fn get(&self, op: &'static str, path: &str, sorted: bool) -> Result<Option<(u64, Node)>> {
        let query = if sorted { "quorum=true&sorted=true" } else { "quorum=true" };
        match self
            .call(
                op,
                path,
                Req {
                    method: reqwest::Method::GET,
                    url_path: &key_url(path),
                    query,
                    body: None,
                    timeout: Some(self.timeout),
                },
            )
            .await?
        {
            Answer::Ok { index, resp } => Ok(Some((index, resp.node))),
            Answer::Err(e) if e.code == KEY_NOT_FOUND => Ok(None),
            Answer::Err(e) => Err(etcd_err(op, path, e)),
        }
    }

    async fn mkdir(&self, path: &str) -> Result<()> {
        match self.set("mkdir", path, &[("dir", b"true"), ("prevExist", b"false")]).await {
            Ok(()) | Err(CoordinatorError::NodeExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn registered(&self, path: &str, id: u64) -> bool {
        self.ephemerals.lock().map(|m| m.get(path) == Some(&id)).unwrap_or(false)
    }

    /// Refreshes the TTL every half timeout; re-creates the key if it lapsed (when `recreate`).
    async fn keep_ephemeral(
        self: Arc<Self>,
        path: String,
        data: Option<Vec<u8>>,
        id: Option<u64>,
        _signal: SignalSender,
    ) {
        let mut closed = self.close_tx.subscribe();
        let period = (self.timeout / 2).max(Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = closed.changed() => return,
            }
            if let Some(id) = id {
                if !self.registered(&path, id) {
                    return;
                }
            }
            let ttl = self.ttl_secs();
            let refreshed = self
                .set("refresh", &path, &[("refresh", b"true"), ("prevExist", b"true"), ("ttl", ttl.as_bytes())])
                .await;
            match (refreshed, &data) {
                (Ok(()), _) => {}
                (Err(CoordinatorError::NoNode(_)), Some(data)) => {
                    let created = self
                        .set("create", &path, &[("value", data), ("prevExist", b"false"), ("ttl", ttl.as_bytes())])
                        .await;
                    match created {
                        Ok(()) => tracing::warn!(path = %path, "etcd ephemeral lapsed and was re-created"),
                        Err(e) => {
                            tracing::error!(path = %path, error = %e, "etcd ephemeral lost, giving it up");
                            break;
                        }
                    }
                }
                (Err(CoordinatorError::Closed(_)), _) => break,
                (Err(e), _) => {
                    // Go gives up on the first failed refresh; we keep trying while the TTL may
                    // still hold, and stop once the key is gone.
                    tracing::warn!(path = %path, error = %e, "etcd ephemeral refresh failed");
                    if matches!(e, CoordinatorError::NoNode(_)) {
                        break;
                    }
                }
            }
        }
        if let (Some(id), Ok(mut m)) = (id, self.ephemerals.lock()) {
            if m.get(&path) == Some(&id) {
                m.remove(&path);
            }
        }
    }
}

impl Client for EtcdClient {
    fn create<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.inner.set("create", path, &[("value", data), ("prevExist", b"false")]).await })
    }

    fn update<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.inner.set("update", path, &[("value", data)]).await })
    }

    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if let Ok(mut m) = self.inner.ephemerals.lock() {
                m.remove(path);
            }
            match self
                .inner
                .call(
                    "delete",
                    path,
                    Req {
                        method: reqwest::Method::DELETE,
                        url_path: &key_url(path),
                        query: "",
                        body: None,
                        timeout: Some(self.inner.timeout),
                    },
                )
                .await?
            {
                Answer::Ok { .. } => Ok(()),
                Answer::Err(e) if e.code == KEY_NOT_FOUND => Ok(()),
                Answer::Err(e) => Err(etcd_err("delete", path, e)),
            }
        })
    }

    fn read<'a>(&'a self, path: &'a str, must: bool) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            match self.inner.get("read", path, false).await? {
                None if !must => Ok(None),
                None => Err(CoordinatorError::NoNode(path.to_string())),
                Some((_, n)) if n.dir => Err(backend("read", path, format!("{NOT_FILE}: etcd: not a file"))),
                Some((_, n)) => Ok(Some(n.value.unwrap_or_default().into_bytes())),
            }
        })
    }

    fn list<'a>(&'a self, path: &'a str, must: bool) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(async move {
            match self.inner.get("list", path, false).await? {
                None if !must => Ok(Vec::new()),
                None => Err(CoordinatorError::NoNode(path.to_string())),
                Some((_, n)) if !n.dir => Err(backend("list", path, "etcd: not a dir")),
                Some((_, n)) => Ok(n.nodes.into_iter().map(|c| c.key).collect()),
            }
        })
    }

    fn create_ephemeral<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<Signal>> {
        Box::pin(async move {
            let ttl = self.ttl_secs();
            self.inner
                .set("create-ephemeral", path, &[("value", data), ("prevExist", b"false"), ("ttl", ttl.as_bytes())])
                .await?;
            let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut m) = self.inner.ephemerals.lock() {
                m.insert(path.to_string(), id);
            }
            let (tx, signal) = Signal::new();
            tokio::spawn(self.inner.clone().keep_ephemeral(path.to_string(), Some(data.to_vec()), Some(id), tx));
            Ok(signal)
        })
    }

    fn create_ephemeral_in_order<'a>(
        &'a self,
        dir: &'a str,
        data: &'a [u8],
    ) -> BoxFuture<'a, Result<(Signal, String)>> {
        Box::pin(async move {
            let ttl = self.ttl_secs();
            let body = form(&[("value", data), ("ttl", ttl.as_bytes())]);
            let node = match self
                .inner
                .call(
                    "create-ephemeral-inorder",
                    dir,
                    Req {
                        method: reqwest::Method::POST,
                        url_path: &key_url(dir),
                        query: "",
                        body: Some(body),
                        timeout: Some(self.inner.timeout),
                    },
                )
                .await?
            {
                Answer::Ok { resp, .. } => resp.node.key,
                Answer::Err(e) => return Err(etcd_err("create-ephemeral-inorder", dir, e)),
            };
            let (tx, signal) = Signal::new();
            tokio::spawn(self.inner.clone().keep_ephemeral(node.clone(), None, None, tx));
            Ok((signal, node))
        })
    }

    fn watch_in_order<'a>(&'a self, dir: &'a str) -> BoxFuture<'a, Result<(Signal, Vec<String>)>> {
        Box::pin(async move {
            self.inner.mkdir(dir).await?;
            let (index, node) =
                self.inner.get("watch", dir, true).await?.ok_or_else(|| CoordinatorError::NoNode(dir.to_string()))?;
            if !node.dir {
                return Err(backend("watch", dir, "etcd: not a dir"));
            }
            let paths = node.nodes.into_iter().map(|c| c.key).collect();
            let (tx, signal) = Signal::new();
            let inner = self.inner.clone();
            let dir = dir.to_string();
            let mut closed = inner.close_tx.subscribe();
            tokio::spawn(async move {
                let query = format!("wait=true&recursive=true&waitIndex={}", index + 1);
                let url = key_url(&dir);
                let wait = inner.call(
                    "watch",
                    &dir,
                    Req { method: reqwest::Method::GET, url_path: &url, query: &query, body: None, timeout: None },
                );
                tokio::select! {
                    r = wait => match r {
                        Ok(Answer::Err(e)) if e.code != EVENT_INDEX_CLEARED => {
                            tracing::warn!(dir = %dir, error = %e.message, "etcd watch failed");
                        }
                        Err(e) => tracing::warn!(dir = %dir, error = %e, "etcd watch failed"),
                        _ => {}
                    },
                    _ = closed.changed() => {}
                }
                tx.fire();
            });
            Ok((signal, paths))
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let registered: Vec<String> = match self.inner.ephemerals.lock() {
                Ok(mut m) => m.drain().map(|(k, _)| k).collect(),
                Err(_) => Vec::new(),
            };
            // A ZooKeeper session takes its ephemerals along when it closes; do the same rather
            // than leave them until their TTL runs out.
            for path in registered {
                if let Err(e) = self.delete(&path).await {
                    tracing::warn!(path = %path, error = %e, "etcd ephemeral cleanup failed");
                }
            }
            self.inner.closed.store(true, Ordering::Release);
            let _ = self.inner.close_tx.send(true);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(form(&[("value", b"{\"a\": 1}\n"), ("ttl", b"20")]), "value=%7B%22a%22%3A%201%7D%0A&ttl=20");
        assert_eq!(key_url("/codis3/p/proxy/proxy-ab"), "/v2/keys/codis3/p/proxy/proxy-ab");
        assert_eq!(key_url("/a b/c?d"), "/v2/keys/a%20b/c%3Fd");
    }

    #[test]
    fn endpoints_like_go() {
        let c = EtcdClient::new("127.0.0.1:2379,http://h:1/,", "", Duration::from_secs(3)).unwrap();
        assert_eq!(c.inner.endpoints, vec!["http://127.0.0.1:2379", "http://h:1"]);
        assert_eq!(c.ttl_secs(), "3");
        assert!(EtcdClient::new("h:1", "nouser", Duration::from_secs(3)).is_err());
    }
}
