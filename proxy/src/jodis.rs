//! The Jodis registration (Go's `pkg/proxy/jodis.go`): while the proxy is online it keeps an
//! ephemeral node at its `jodis_path` (`/jodis/<product>/proxy-<token>`, or the Codis 2 path with
//! `jodis_compatible`) holding `{"addr","admin","start","state":"online","token"}`, which Java
//! clients (Jodis) watch to find proxies.
//!
//! The coordinator client re-creates the node after a ZooKeeper session expiry (or a lapsed etcd
//! TTL); if it gives the node up, this loop creates it again, backing off 1 s doubling to 30 s
//! while that fails. Closing removes the node and the client.

use std::sync::Arc;
use std::time::Duration;

use compat::config::ProxyConfig;
use compat::coordinator::{Client, Spec};
use compat::models::{self, JodisNode};
use parking_lot::Mutex;
use tokio::sync::watch;

pub struct Jodis {
    path: String,
    data: Vec<u8>,
    client: Arc<dyn Client>,
    state: Mutex<State>,
    closed: watch::Sender<bool>,
}

#[derive(Default)]
struct State {
    online: bool,
    watching: bool,
}

impl Jodis {
    /// Connects to `jodis_name`/`jodis_addr` (session timeout `jodis_timeout`) for the proxy
    /// whose model is `p` (its `jodis_path` already set).
    pub async fn connect(c: &ProxyConfig, p: &models::Proxy) -> Result<Jodis, String> {
        let spec = Spec::new(&c.jodis_name, &c.jodis_addr, &c.jodis_auth).map_err(|e| e.to_string())?;
        let client = spec.connect(c.jodis_timeout.duration()).await.map_err(|e| e.to_string())?;
        Ok(Jodis::new(client, p))
    }

    pub fn new(client: Arc<dyn Client>, p: &models::Proxy) -> Jodis {
        Jodis {
            path: p.jodis_path.clone(),
            data: JodisNode::online(p).encode(),
            client,
            state: Mutex::new(State::default()),
            closed: watch::channel(false).0,
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The node's bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Registers the node and keeps it registered until [`Jodis::close`]. Starting twice does
    /// nothing.
    pub fn start(self: &Arc<Self>) {
        {
            let mut s = self.state.lock();
            if s.online {
                return;
            }
            s.online = true;
        }
        let j = self.clone();
        tokio::spawn(async move {
            let mut closed = j.closed.subscribe();
            let mut delay = Duration::from_secs(1);
            while !j.is_closed() {
                match j.client.create_ephemeral(&j.path, &j.data).await {
                    Ok(lost) => {
                        tracing::warn!("jodis create node {}", j.path);
                        j.state.lock().watching = true;
                        delay = Duration::from_secs(1);
                        tokio::select! {
                            _ = lost => tracing::warn!("jodis node {} was given up", j.path),
                            _ = closed.wait_for(|c| *c) => return,
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "jodis create node {} failed", j.path);
                        j.state.lock().watching = false;
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = closed.wait_for(|c| *c) => return,
                        }
                        delay = (delay * 2).min(Duration::from_secs(30));
                    }
                }
            }
        });
    }

    /// Removes the node (if it was created) and closes the coordinator client.
    pub async fn close(&self) {
        if self.closed.send_replace(true) {
            return;
        }
        let watching = std::mem::take(&mut self.state.lock().watching);
        if watching {
            match self.client.delete(&self.path).await {
                Ok(()) => tracing::warn!("jodis remove node {}", self.path),
                Err(e) => tracing::warn!(error = %e, "jodis remove node {} failed", self.path),
            }
        }
        if let Err(e) = self.client.close().await {
            tracing::warn!(error = %e, "jodis close client failed");
        }
    }
}
