//! Coordinator clients: one async interface ([`Client`]) over ZooKeeper, etcd and a local
//! directory, with the exact node layout and bytes of Go Codis (`pkg/models/{zk,etcd,fs}`).
//!
//! | Go `models.Client`        | here                                   |
//! |---------------------------|----------------------------------------|
//! | `Create`                  | [`Client::create`] (fails if it exists) |
//! | `Update`                  | [`Client::update`] (creates if missing) |
//! | `Delete`                  | [`Client::delete`] (missing is fine)    |
//! | `Read(path, must)`        | [`Client::read`]                       |
//! | `List(path, must)`        | [`Client::list`] (full paths)          |
//! | `CreateEphemeral`         | [`Client::create_ephemeral`]           |
//! | `CreateEphemeralInOrder`  | [`Client::create_ephemeral_in_order`]  |
//! | `WatchInOrder`            | [`Client::watch_in_order`]             |
//! | `Close`                   | [`Client::close`]                      |
//!
//! Backends:
//! - [`zk::ZkClient`]: ZooKeeper; directories get `world:anyone` (or `digest`) with all
//!   permissions, data nodes read/write/admin, as Go does. Ephemerals registered with
//!   [`Client::create_ephemeral`] are re-created by the client after a session expiry.
//! - [`etcd::EtcdClient`]: etcd's **v2 keys API** over HTTP (what Go Codis used through
//!   `coreos/etcd/client`), so it interoperates with Go tools on the same etcd; the server must
//!   run with `--enable-v2=true`. Ephemerals are keys with a TTL of the client timeout,
//!   refreshed every half timeout.
//! - [`fs::FsClient`]: `<root>/data/<path>` files written via `<root>/temp` and renamed, every
//!   operation under `flock(<root>/data.lck)`. Like Go, it has no ephemerals or watches.

pub mod etcd;
pub mod fs;
pub mod zk;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;

/// A boxed future, so that [`Client`] can be used as `dyn Client`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub type Result<T, E = CoordinatorError> = std::result::Result<T, E>;

/// Why a coordinator operation failed. Every variant names the path (or address) involved.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("node {0} already exists")]
    NodeExists(String),
    #[error("node {0} doesn't exist")]
    NoNode(String),
    #[error("node {0} isn't empty")]
    NotEmpty(String),
    /// Go's fsclient answers `not supported` for ephemerals and watches.
    #[error("not supported")]
    NotSupported,
    #[error("use of closed {0} client")]
    Closed(&'static str),
    #[error("invalid coordinator name = {0}")]
    InvalidName(String),
    /// `user:password` with an empty user or no colon.
    #[error("invalid auth")]
    InvalidAuth,
    /// Any other failure of the backend, with the operation and path it happened on.
    #[error("{backend} {op} {path} failed: {message}")]
    Backend { backend: &'static str, op: &'static str, path: String, message: String },
}

/// Fires when a watch triggers: a watched directory's children changed, or an ephemeral node
/// was given up (see [`Client::create_ephemeral`]). Dropping it cancels nothing.
#[derive(Debug)]
pub struct Signal(oneshot::Receiver<()>);

impl Signal {
    pub(crate) fn new() -> (SignalSender, Signal) {
        let (tx, rx) = oneshot::channel();
        (SignalSender(Some(tx)), Signal(rx))
    }

    /// Whether it has fired (without waiting).
    pub fn has_fired(&mut self) -> bool {
        !matches!(self.0.try_recv(), Err(oneshot::error::TryRecvError::Empty))
    }
}

impl Future for Signal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // A dropped sender counts as fired: whatever kept the watch is gone.
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

/// The sending half of a [`Signal`]; fires on [`SignalSender::fire`] or when dropped.
#[derive(Debug)]
pub(crate) struct SignalSender(Option<oneshot::Sender<()>>);

impl SignalSender {
    pub fn fire(mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// What every coordinator backend does (Go's `models.Client`).
pub trait Client: Send + Sync {
    /// Creates `path` (and missing parents) holding `data`; [`CoordinatorError::NodeExists`] if
    /// it exists. The dashboard lock relies on this.
    fn create<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<()>>;

    /// Sets `path` to `data`, creating it (and parents) when missing.
    fn update<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<()>>;

    /// Deletes `path`; a missing node is not an error.
    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<()>>;

    /// The data of `path`; `None` when it is missing and `must` is false.
    fn read<'a>(&'a self, path: &'a str, must: bool) -> BoxFuture<'a, Result<Option<Vec<u8>>>>;

    /// The full paths of the children of `path`; empty when it is missing and `must` is false.
    fn list<'a>(&'a self, path: &'a str, must: bool) -> BoxFuture<'a, Result<Vec<String>>>;

    /// Creates an ephemeral node that lives as long as this client. The client keeps it present:
    /// after a ZooKeeper session expiry (or a lapsed etcd TTL) it creates it again with the same
    /// data. The signal fires when the client gives it up: deleted through [`Client::delete`],
    /// client closed, or re-creation failed.
    fn create_ephemeral<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<Signal>>;

    /// Creates a sequential ephemeral child of `dir`; returns its path. The signal fires when the
    /// node is lost (it is not re-created: a new one would have a different name).
    fn create_ephemeral_in_order<'a>(&'a self, dir: &'a str, data: &'a [u8])
        -> BoxFuture<'a, Result<(Signal, String)>>;

    /// Creates `dir` if needed, returns its children (full paths, sorted) and a signal that fires
    /// on the next change below it.
    fn watch_in_order<'a>(&'a self, dir: &'a str) -> BoxFuture<'a, Result<(Signal, Vec<String>)>>;

    /// Closes the client; ephemerals go away with it. Later calls fail with
    /// [`CoordinatorError::Closed`].
    fn close(&self) -> BoxFuture<'_, Result<()>>;
}

/// Which backend, as Go's `NewClient(coordinator, ...)` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Zookeeper,
    Etcd,
    Filesystem,
}

impl Kind {
    /// `zk`/`zookeeper`, `etcd`, `fs`/`filesystem`.
    pub fn parse(name: &str) -> Result<Kind> {
        match name {
            "zk" | "zookeeper" => Ok(Kind::Zookeeper),
            "etcd" => Ok(Kind::Etcd),
            "fs" | "filesystem" => Ok(Kind::Filesystem),
            other => Err(CoordinatorError::InvalidName(other.to_string())),
        }
    }

    /// The canonical name (`coordinator_name` in configs).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Zookeeper => "zookeeper",
            Kind::Etcd => "etcd",
            Kind::Filesystem => "filesystem",
        }
    }
}

/// A coordinator to connect to: `coordinator_name/addr/auth` of the configs, or the
/// `--zookeeper=ADDR [--zookeeper_auth=USER:PASS]` / `--etcd` / `--filesystem=DIR` flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub kind: Kind,
    /// `host:port[,host:port...]` for ZooKeeper and etcd (etcd entries may carry `http://`),
    /// a directory for the filesystem backend.
    pub addr: String,
    /// `user:password`, or empty.
    pub auth: String,
}

impl Spec {
    pub fn new(name: &str, addr: &str, auth: &str) -> Result<Spec> {
        Ok(Spec { kind: Kind::parse(name)?, addr: addr.to_string(), auth: auth.to_string() })
    }

    /// Go's `models.NewClient(name, addr, auth, timeout)`. `timeout` is the ZooKeeper session
    /// timeout / etcd request timeout and ephemeral TTL (Go: zero means 5s). The dashboard uses
    /// one minute, the proxy's Jodis registration `jodis_timeout`.
    pub async fn connect(&self, timeout: Duration) -> Result<Arc<dyn Client>> {
        let timeout = if timeout.is_zero() { Duration::from_secs(5) } else { timeout };
        Ok(match self.kind {
            Kind::Zookeeper => Arc::new(zk::ZkClient::connect(&self.addr, &self.auth, timeout).await?),
            Kind::Etcd => Arc::new(etcd::EtcdClient::new(&self.addr, &self.auth, timeout)?),
            Kind::Filesystem => Arc::new(fs::FsClient::new(&self.addr)?),
        })
    }
}

/// `user:password` as Go splits it: at the first colon, user not empty.
pub fn parse_auth(auth: &str) -> Result<Option<(String, String)>> {
    if auth.is_empty() {
        return Ok(None);
    }
    match auth.split_once(':') {
        Some((user, pass)) if !user.is_empty() => Ok(Some((user.to_string(), pass.to_string()))),
        _ => Err(CoordinatorError::InvalidAuth),
    }
}

/// The parent of a slash-separated path (`/a/b` → `/a`, `/a` → `/`).
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// `filepath.Join(dir, name)` for the clean absolute paths we use.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_auth_like_go() {
        assert_eq!(Kind::parse("zk").unwrap(), Kind::Zookeeper);
        assert_eq!(Kind::parse("zookeeper").unwrap(), Kind::Zookeeper);
        assert_eq!(Kind::parse("fs").unwrap(), Kind::Filesystem);
        assert_eq!(Kind::parse("consul").unwrap_err().to_string(), "invalid coordinator name = consul");
        assert_eq!(parse_auth("").unwrap(), None);
        assert_eq!(parse_auth("u:p:q").unwrap(), Some(("u".into(), "p:q".into())));
        assert_eq!(parse_auth("u:").unwrap(), Some(("u".into(), String::new())));
        assert_eq!(parse_auth(":p").unwrap_err().to_string(), "invalid auth");
        assert!(parse_auth("nocolon").is_err());
        assert_eq!(parent("/codis3/p/topom"), "/codis3/p");
        assert_eq!(parent("/codis3"), "/");
        assert_eq!(join("/a", "b"), "/a/b");
    }

    #[tokio::test]
    async fn signal_fires_on_send_or_drop() {
        let (tx, mut s) = Signal::new();
        assert!(!s.has_fired());
        tx.fire();
        s.await;
        let (tx, s) = Signal::new();
        drop(tx);
        s.await;
    }
}
