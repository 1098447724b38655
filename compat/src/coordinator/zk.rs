//! ZooKeeper (`pkg/models/zk/zkclient.go`, go-zookeeper).
//!
//! - Directories are created one by one with all permissions, data nodes with
//!   read/write/admin; with `user:password` both use a `digest` ACL for that user (Go's
//!   `zk.DigestACL`), otherwise `world:anyone`. The digest auth is added to every session.
//! - The session timeout is the client timeout.
//! - A session that expires is replaced by a new one on the next operation; ephemerals
//!   registered with `create_ephemeral` are re-created in the new session by a keeper task that
//!   also restores them if someone else deletes them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha1::{Digest, Sha1};
use tokio::sync::watch;
use zookeeper_client as zk;

use super::{parent, parse_auth, BoxFuture, Client, CoordinatorError, Result, Signal, SignalSender};

pub struct ZkClient {
    inner: Arc<Inner>,
}

struct Inner {
    addr: String,
    auth: Option<(String, String)>,
    timeout: Duration,
    dir_acl: Vec<zk::Acl>,
    node_acl: Vec<zk::Acl>,
    /// The current session; `None` once closed (dropping the last handle closes the session).
    conn: tokio::sync::Mutex<Option<zk::Client>>,
    /// Ephemerals kept alive: path → registration id (a re-registration replaces the keeper).
    ephemerals: Mutex<HashMap<String, u64>>,
    next_id: std::sync::atomic::AtomicU64,
    closed: AtomicBool,
    close_tx: watch::Sender<bool>,
}

fn backend(op: &'static str, path: &str, e: impl std::fmt::Display) -> CoordinatorError {
    CoordinatorError::Backend { backend: "zookeeper", op, path: path.to_string(), message: e.to_string() }
}

/// zk errors that are answers rather than failures keep their own variants.
fn map_err(op: &'static str, path: &str, e: zk::Error) -> CoordinatorError {
    match e {
        zk::Error::NodeExists => CoordinatorError::NodeExists(path.to_string()),
        zk::Error::NoNode => CoordinatorError::NoNode(path.to_string()),
        zk::Error::NotEmpty => CoordinatorError::NotEmpty(path.to_string()),
        e => backend(op, path, e),
    }
}

/// Go's `zk.DigestACL` id: `user:base64(sha1("user:password"))`.
pub fn digest_id(user: &str, password: &str) -> String {
    let digest = Sha1::digest(format!("{user}:{password}").as_bytes());
    format!("{user}:{}", base64(&digest))
}

fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n =
            (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl ZkClient {
    /// Connects to `host:port[,host:port...]` (an optional `/chroot` suffix is honoured).
    pub async fn connect(addr: &str, auth: &str, timeout: Duration) -> Result<ZkClient> {
        let auth = parse_auth(auth)?;
        let (dir_acl, node_acl) = {
            let leaf = zk::Permission::ADMIN | zk::Permission::READ | zk::Permission::WRITE;
            match &auth {
                Some((u, p)) => {
                    let id = zk::AuthId::new("digest", &digest_id(u, p));
                    (vec![zk::Acl::new(zk::Permission::ALL, id.clone())], vec![zk::Acl::new(leaf, id)])
                }
                None => (
                    vec![zk::Acl::new(zk::Permission::ALL, zk::AuthId::anyone())],
                    vec![zk::Acl::new(leaf, zk::AuthId::anyone())],
                ),
            }
        };
        let conn = new_session(addr, &auth, timeout).await?;
        let (close_tx, _) = watch::channel(false);
        Ok(ZkClient {
            inner: Arc::new(Inner {
                addr: addr.to_string(),
                auth,
                timeout,
                dir_acl,
                node_acl,
                conn: tokio::sync::Mutex::new(Some(conn)),
                ephemerals: Mutex::new(HashMap::new()),
                next_id: Default::default(),
                closed: AtomicBool::new(false),
                close_tx,
            }),
        })
    }

    /// The current session id (for tests and logs).
    pub async fn session_id(&self) -> Option<i64> {
        self.inner.conn.lock().await.as_ref().map(|c| c.session_id().0)
    }

    /// The current session's id and password, e.g. to take it over in a test.
    pub async fn session(&self) -> Option<zk::SessionInfo> {
        self.inner.conn.lock().await.as_ref().map(|c| c.session().clone())
    }
}

async fn new_session(addr: &str, auth: &Option<(String, String)>, timeout: Duration) -> Result<zk::Client> {
    let mut connector = zk::Client::connector().with_session_timeout(timeout).with_connection_timeout(timeout);
    if let Some((u, p)) = auth {
        connector = connector.with_auth("digest", format!("{u}:{p}").as_bytes());
    }
    let c = connector.connect(addr).await.map_err(|e| backend("connect", addr, e))?;
    tracing::info!(addr, session = %c.session_id(), "zookeeper session established");
    Ok(c)
}

impl Inner {
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(CoordinatorError::Closed("zk"));
        }
        Ok(())
    }

    /// The live session, replacing an expired one first (Go resets its connection on errors).
    async fn client(&self) -> Result<zk::Client> {
        self.check_open()?;
        let mut guard = self.conn.lock().await;
        let Some(conn) = guard.as_mut() else { return Err(CoordinatorError::Closed("zk")) };
        if conn.state().is_terminated() {
            tracing::warn!(addr = %self.addr, state = ?conn.state(), "zookeeper session lost, reconnecting");
            *conn = new_session(&self.addr, &self.auth, self.timeout).await?;
        }
        Ok(conn.clone())
    }

    /// Go's `mkdir`: creates each missing ancestor with the directory ACL.
    async fn mkdir(&self, c: &zk::Client, path: &str) -> Result<()> {
        if path.is_empty() || path == "/" {
            return Ok(());
        }
        match c.check_stat(path).await {
            Ok(Some(_)) => return Ok(()),
            Ok(None) => {}
            Err(e) => return Err(map_err("mkdir", path, e)),
        }
        Box::pin(self.mkdir(c, parent(path))).await?;
        let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&self.dir_acl));
        match c.create(path, &[], &opts).await {
            Ok(_) | Err(zk::Error::NodeExists) => Ok(()),
            Err(e) => Err(map_err("mkdir", path, e)),
        }
    }

    async fn create_node(&self, c: &zk::Client, path: &str, data: &[u8], mode: zk::CreateMode) -> Result<String> {
        self.mkdir(c, parent(path)).await?;
        let opts = mode.with_acls(zk::Acls::new(&self.node_acl));
        let (_, seq) = c.create(path, data, &opts).await.map_err(|e| map_err("create", path, e))?;
        Ok(if matches!(mode, zk::CreateMode::EphemeralSequential | zk::CreateMode::PersistentSequential) {
            format!("{path}{seq}")
        } else {
            path.to_string()
        })
    }

    fn registered(&self, path: &str, id: u64) -> bool {
        self.ephemerals.lock().map(|m| m.get(path) == Some(&id)).unwrap_or(false)
    }

    /// Keeps `path` present as an ephemeral of the current session until it is unregistered or
    /// the client closes. Dropping `_signal` on return fires the caller's signal.
    /// `owner` is the session that created the node.
    async fn keep_ephemeral(
        self: Arc<Self>,
        path: String,
        data: Vec<u8>,
        id: u64,
        mut owner: i64,
        _signal: SignalSender,
    ) {
        let mut closed = self.close_tx.subscribe();
        let mut backoff = Duration::from_millis(100);
        while self.registered(&path, id) && !*closed.borrow() {
            let owner = &mut owner;
            let step = async {
                let c = self.client().await?;
                let (stat, watcher) = c.check_and_watch_stat(&path).await.map_err(|e| map_err("watch", &path, e))?;
                match stat {
                    Some(s) if s.ephemeral_owner == c.session_id().0 => {}
                    Some(s) if s.ephemeral_owner == *owner => {
                        // Our expired session's node, not deleted yet: the server removes it
                        // while it finishes expiring that session, which can come after our new
                        // session exists. The watch fires on the deletion; then it is re-created.
                        tracing::info!(path = %path, "zookeeper ephemeral of the expired session still present");
                    }
                    Some(_) => {
                        // Someone else's node: Go would fail with "node exists"; so do we.
                        return Err(CoordinatorError::NodeExists(path.clone()));
                    }
                    None => {
                        self.create_node(&c, &path, &data, zk::CreateMode::Ephemeral).await?;
                        *owner = c.session_id().0;
                        tracing::warn!(path = %path, session = %c.session_id(), "zookeeper ephemeral re-created");
                        return Ok(());
                    }
                }
                let _ = watcher.changed().await;
                Ok(())
            };
            let res = tokio::select! {
                r = step => r,
                _ = closed.changed() => break,
            };
            match res {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(CoordinatorError::NodeExists(p)) => {
                    tracing::error!(path = %p, "zookeeper ephemeral taken by another session, giving it up");
                    break;
                }
                Err(CoordinatorError::Closed(_)) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "zookeeper ephemeral keeper retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
        if let Ok(mut m) = self.ephemerals.lock() {
            if m.get(&path) == Some(&id) {
                m.remove(&path);
            }
        }
    }
}

/// Fires `tx` when `watcher` triggers, unless the client closes first.
fn spawn_watch(watcher: zk::OneshotWatcher, tx: SignalSender, mut closed: watch::Receiver<bool>) {
    tokio::spawn(async move {
        tokio::select! {
            _ = watcher.changed() => {}
            _ = closed.changed() => {}
        }
        tx.fire();
    });
}

impl Client for ZkClient {
    fn create<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let c = self.inner.client().await?;
            self.inner.create_node(&c, path, data, zk::CreateMode::Persistent).await.map(|_| ())
        })
    }

    fn update<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let c = self.inner.client().await?;
            let exists = c.check_stat(path).await.map_err(|e| map_err("update", path, e))?.is_some();
            if !exists {
                match self.inner.create_node(&c, path, data, zk::CreateMode::Persistent).await {
                    Ok(_) | Err(CoordinatorError::NodeExists(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            c.set_data(path, data, None).await.map_err(|e| map_err("update", path, e))?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if let Ok(mut m) = self.inner.ephemerals.lock() {
                m.remove(path);
            }
            let c = self.inner.client().await?;
            match c.delete(path, None).await {
                Ok(()) | Err(zk::Error::NoNode) => Ok(()),
                Err(e) => Err(map_err("delete", path, e)),
            }
        })
    }

    fn read<'a>(&'a self, path: &'a str, must: bool) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            let c = self.inner.client().await?;
            match c.get_data(path).await {
                Ok((data, _)) => Ok(Some(data)),
                Err(zk::Error::NoNode) if !must => Ok(None),
                Err(e) => Err(map_err("read", path, e)),
            }
        })
    }

    fn list<'a>(&'a self, path: &'a str, must: bool) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(async move {
            let c = self.inner.client().await?;
            match c.list_children(path).await {
                Ok(names) => Ok(names.iter().map(|n| super::join(path, n)).collect()),
                Err(zk::Error::NoNode) if !must => Ok(Vec::new()),
                Err(e) => Err(map_err("list", path, e)),
            }
        })
    }

    fn create_ephemeral<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<Signal>> {
        Box::pin(async move {
            let c = self.inner.client().await?;
            self.inner.create_node(&c, path, data, zk::CreateMode::Ephemeral).await?;
            let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut m) = self.inner.ephemerals.lock() {
                m.insert(path.to_string(), id);
            }
            let (tx, signal) = Signal::new();
            let owner = c.session_id().0;
            tokio::spawn(self.inner.clone().keep_ephemeral(path.to_string(), data.to_vec(), id, owner, tx));
            Ok(signal)
        })
    }

    fn create_ephemeral_in_order<'a>(
        &'a self,
        dir: &'a str,
        data: &'a [u8],
    ) -> BoxFuture<'a, Result<(Signal, String)>> {
        Box::pin(async move {
            let c = self.inner.client().await?;
            let prefix = if dir.ends_with('/') { dir.to_string() } else { format!("{dir}/") };
            let node = self.inner.create_node(&c, &prefix, data, zk::CreateMode::EphemeralSequential).await?;
            let (_, _, watcher) = c.get_and_watch_data(&node).await.map_err(|e| map_err("watch", &node, e))?;
            let (tx, signal) = Signal::new();
            spawn_watch(watcher, tx, self.inner.close_tx.subscribe());
            Ok((signal, node))
        })
    }

    fn watch_in_order<'a>(&'a self, dir: &'a str) -> BoxFuture<'a, Result<(Signal, Vec<String>)>> {
        Box::pin(async move {
            let c = self.inner.client().await?;
            self.inner.mkdir(&c, dir).await?;
            let (mut names, watcher) = c.list_and_watch_children(dir).await.map_err(|e| map_err("watch", dir, e))?;
            names.sort();
            let (tx, signal) = Signal::new();
            spawn_watch(watcher, tx, self.inner.close_tx.subscribe());
            Ok((signal, names.iter().map(|n| super::join(dir, n)).collect()))
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            if self.inner.closed.swap(true, Ordering::AcqRel) {
                return Ok(());
            }
            let _ = self.inner.close_tx.send(true);
            if let Ok(mut m) = self.inner.ephemerals.lock() {
                m.clear();
            }
            // Closing the session removes its ephemerals at once (not after the timeout).
            drop(self.inner.conn.lock().await.take());
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_like_go() {
        // What ZooKeeper 3.8's own `DigestAuthenticationProvider super:superpw` prints.
        assert_eq!(digest_id("super", "superpw"), "super:g9oN2HttPfn8MMWJZ2r45Np/LIA=");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"abc"), "YWJj");
    }
}
