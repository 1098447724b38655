//! The proxy as a whole: the listener, the slot table, the online switch, and the calls the
//! admin side makes (fill slots, start, close).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::config::Config;
use crate::error::RouterError;
use crate::router::Router;
use crate::session::Session;
use crate::stats::Stats;
use compat::models::Slot;

/// State every session shares.
pub struct Shared {
    pub config: Arc<Config>,
    pub router: Router,
    pub stats: Stats,
    session_ids: AtomicU64,
    closed: AtomicBool,
}

/// A running proxy. Cheap to clone.
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
}

impl Proxy {
    pub fn new(config: Config) -> Result<Proxy, String> {
        config.validate()?;
        let config = Arc::new(config);
        Ok(Proxy {
            shared: Arc::new(Shared {
                router: Router::new(config.clone()),
                config,
                stats: Stats::default(),
                session_ids: AtomicU64::new(0),
                closed: AtomicBool::new(false),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Lets sessions in (Go's `Proxy.Start`: the router goes online).
    pub fn start(&self) {
        self.shared.router.start();
    }

    pub fn is_online(&self) -> bool {
        self.shared.router.is_online()
    }

    /// Installs slot mappings in order (Go's `Proxy.FillSlots`).
    pub async fn fill_slots(&self, slots: &[Slot]) -> Result<(), RouterError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(RouterError::Closed);
        }
        for s in slots {
            self.shared.router.fill_slot(s).await?;
        }
        Ok(())
    }

    pub fn slots(&self) -> Vec<Slot> {
        self.shared.router.slots()
    }

    /// Stops routing: every slot is emptied; sessions still open get `slot is not ready`.
    pub async fn close(&self) {
        if !self.shared.closed.swap(true, Ordering::AcqRel) {
            self.shared.router.close().await;
        }
    }

    /// Accepts clients until the listener fails, and pings backends every
    /// `backend_ping_period`.
    pub async fn serve(&self, listener: TcpListener) -> std::io::Result<()> {
        let ping = self.shared.config.backend_ping_period;
        if !ping.is_zero() {
            let shared = self.shared.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(ping.max(std::time::Duration::from_secs(1)));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if shared.closed.load(Ordering::Acquire) {
                        return;
                    }
                    shared.router.keep_alive();
                }
            });
        }
        let mut delay_ms = 0u64;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    delay_ms = 0;
                    self.accept(stream);
                }
                Err(e) if is_transient(&e) => {
                    // Go backs off 10 ms doubling to 500 ms on temporary accept errors (EMFILE...).
                    delay_ms = (delay_ms * 2).clamp(10, 500);
                    tracing::warn!(error = %e, "proxy accept new connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn accept(&self, stream: TcpStream) {
        let shared = self.shared.clone();
        let config = &shared.config;
        let _ = stream.set_nodelay(true);
        if !config.session_keepalive_period.is_zero() {
            let ka = socket2::TcpKeepalive::new().with_time(config.session_keepalive_period);
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
        }
        let id = shared.session_ids.fetch_add(1, Ordering::Relaxed) + 1;
        shared.stats.sessions_total.fetch_add(1, Ordering::Relaxed);
        let alive = shared.stats.sessions_alive.fetch_add(1, Ordering::AcqRel) + 1;
        tokio::spawn(async move {
            let refuse = if alive as usize > shared.config.proxy_max_clients {
                Some("-ERR max number of clients reached\r\n")
            } else if !shared.router.is_online() {
                Some("-ERR router is not online\r\n")
            } else {
                None
            };
            match refuse {
                Some(msg) => {
                    let mut stream = stream;
                    let _ = stream.write_all(msg.as_bytes()).await;
                    shared.stats.ops_fails.fetch_add(1, Ordering::Relaxed);
                }
                None => Session::new(shared.clone(), id).run(stream).await,
            }
            shared.stats.sessions_alive.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
        || matches!(e.kind(), std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset)
}
