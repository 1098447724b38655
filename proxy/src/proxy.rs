//! The proxy as a whole (Go's `pkg/proxy/proxy.go`): its model and xauth, the listeners, the
//! online/closed lifecycle, and the calls the admin API makes (fill slots, start, sentinels,
//! close).
//!
//! Lifecycle: [`Proxy::launch`] binds both listeners, derives the token from their addresses
//! (so a restarted proxy keeps its token), and serves; the proxy waits until it is started
//! (`/api/proxy/start`, `--fillslots`, or the dashboard/coordinator online flow) and runs until
//! [`Proxy::close`] (`/api/proxy/shutdown`, SIGTERM/SIGINT).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::listener::{Client, ClientIo, Listener};
use parking_lot::{Mutex, RwLock};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::config::Config;
use crate::error::RouterError;
use crate::jodis::Jodis;
use crate::router::Router;
use crate::sentinel::Monitor;
use crate::session::Session;
use crate::stats::{SentinelStats, Stats};
use compat::models::{self, Slot};
use compat::slot::MAX_SLOT_NUM;

/// Errors of the proxy's administrative calls, in Go's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("use of closed proxy")]
    Closed,
    #[error(transparent)]
    Router(#[from] RouterError),
}

/// Why [`Proxy::launch`] failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("{0}")]
    Config(String),
    #[error("listen {proto} {addr}: {source}")]
    Listen { proto: String, addr: String, source: std::io::Error },
    #[error("{0}")]
    Address(String),
    #[error("create jodis client to {addr} failed: {message}")]
    Jodis { addr: String, message: String },
}

/// Sentinel state (Go's `Proxy.ha`).
#[derive(Default)]
pub(crate) struct Ha {
    pub servers: Vec<String>,
    pub masters: Option<BTreeMap<i64, String>>,
    pub monitor: Option<Monitor>,
}

/// State every session shares.
pub struct Shared {
    pub config: Arc<Config>,
    pub router: Router,
    pub stats: Arc<Stats>,
    session_ids: AtomicU64,
    closed: AtomicBool,
    online: AtomicBool,
    model: RwLock<models::Proxy>,
    xauth: RwLock<String>,
    exit: watch::Sender<bool>,
    /// Set once `close` has finished its cleanup (the Jodis node is gone): what `closed` waits for.
    done: watch::Sender<bool>,
    /// Serialises fills, starts and master switches (Go's `Proxy.mu`).
    admin: tokio::sync::Mutex<()>,
    pub(crate) ha: Mutex<Ha>,
    /// Slots whose backend a sentinel switch replaced since their last fill.
    switched: Box<[AtomicBool]>,
    jodis: Mutex<Option<Arc<Jodis>>>,
    /// The Unix socket file `launch` created: removed on close, as Go's listener does.
    socket_file: Mutex<Option<std::path::PathBuf>>,
}

/// A running proxy. Cheap to clone.
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
}

impl Proxy {
    /// A proxy with no listeners yet: its model holds everything but the addresses and token.
    pub fn new(config: Config) -> Result<Proxy, String> {
        config.validate()?;
        let config = Arc::new(config);
        let model = models::Proxy {
            start_time: models::gotime::now_string(),
            proto_type: config.proto_type.clone(),
            product_name: config.product_name.clone(),
            datacenter: config.proxy_datacenter.clone(),
            pid: std::process::id() as i64,
            pwd: std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
            sys: uname_a(),
            hostname: hostname(),
            ..models::Proxy::default()
        };
        Ok(Proxy {
            shared: Arc::new(Shared {
                router: Router::new(config.clone()),
                config,
                stats: Arc::new(Stats::default()),
                session_ids: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                online: AtomicBool::new(false),
                model: RwLock::new(model),
                xauth: RwLock::new(String::new()),
                exit: watch::channel(false).0,
                done: watch::channel(false).0,
                admin: tokio::sync::Mutex::new(()),
                ha: Mutex::new(Ha::default()),
                switched: (0..MAX_SLOT_NUM).map(|_| AtomicBool::new(false)).collect(),
                jodis: Mutex::new(None),
                socket_file: Mutex::new(None),
            }),
        })
    }

    /// Go's `proxy.New`: binds `proxy_addr` and `admin_addr`, fills in the model (advertised
    /// addresses, token, Jodis path), connects the Jodis coordinator, and starts serving clients,
    /// the admin API and the metrics reporters. The proxy is not online yet.
    pub async fn launch(config: Config) -> Result<Proxy, LaunchError> {
        let proxy = Proxy::new(config).map_err(LaunchError::Config)?;
        let config = proxy.shared.config.clone();
        let proto = config.proto_type.clone();
        if !matches!(proto.as_str(), "tcp" | "tcp4" | "tcp6" | "unix" | "unixpacket") {
            return Err(LaunchError::Address(format!("unknown network {proto}")));
        }
        let lproxy = bind(&proto, &config.proxy_addr).await?;
        let ladmin = match bind("tcp", &config.admin_addr).await? {
            Listener::Tcp(l) => l,
            _ => unreachable!("bind(\"tcp\") gives a TCP listener"),
        };
        if crate::listener::is_unix(&proto) {
            *proxy.shared.socket_file.lock() = Some(config.proxy_addr.clone().into());
        }
        let proxy_local = lproxy.addr_string().map_err(|e| LaunchError::Address(e.to_string()))?;
        let admin_local = ladmin.local_addr().map_err(|e| LaunchError::Address(e.to_string()))?;
        let host = &config.control;
        // Go's ReplaceUnspecifiedIP keeps a Unix socket's path (or the --host-proxy given) as is.
        let proxy_addr = match lproxy.tcp_addr() {
            Some(local) => {
                let local = local.map_err(|e| LaunchError::Address(e.to_string()))?;
                advertised_addr(local, &host.host_proxy).map_err(LaunchError::Address)?
            }
            None if host.host_proxy.is_empty() => proxy_local.clone(),
            None => host.host_proxy.clone(),
        };
        let admin_addr = advertised_addr(admin_local, &host.host_admin).map_err(LaunchError::Address)?;
        let token = compat::xauth::proxy_token(&config.product_name, &proxy_local, &admin_local.to_string());
        let xauth = compat::xauth::proxy_xauth(&config.product_name, &config.product_auth, &token);
        {
            let mut m = proxy.shared.model.write();
            m.proxy_addr = proxy_addr;
            m.admin_addr = admin_addr;
            m.token = token.clone();
            if !host.jodis_addr.is_empty() {
                m.jodis_path = if host.jodis_compatible {
                    models::paths::jodis_compatible_path(&config.product_name, &token)
                } else {
                    models::paths::jodis_path(&config.product_name, &token)
                };
            }
        }
        *proxy.shared.xauth.write() = xauth;
        if !host.jodis_addr.is_empty() {
            let jodis = Jodis::connect(host, &proxy.model())
                .await
                .map_err(|message| LaunchError::Jodis { addr: host.jodis_addr.clone(), message })?;
            *proxy.shared.jodis.lock() = Some(Arc::new(jodis));
        }
        tracing::warn!("create new proxy:\n{}", String::from_utf8_lossy(&proxy.model().encode()));

        let p = proxy.clone();
        tokio::spawn(async move {
            tracing::warn!("admin start service on {admin_local}");
            if let Err(e) = crate::admin::serve(p.clone(), ladmin).await {
                tracing::error!(error = %e, "admin exit on error");
            }
            p.close().await;
        });
        let p = proxy.clone();
        tokio::spawn(async move {
            tracing::warn!("proxy start service on {proxy_local}");
            if let Err(e) = crate::percore::serve(p.clone(), lproxy).await {
                tracing::error!(error = %e, "proxy exit on error");
            }
            p.close().await;
        });
        crate::report::start(&proxy);
        Ok(proxy)
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// The model the dashboard stores (Go's `Proxy.Model()`).
    pub fn model(&self) -> models::Proxy {
        self.shared.model.read().clone()
    }

    /// The secret of the `/api/proxy/...` routes.
    pub fn xauth(&self) -> String {
        self.shared.xauth.read().clone()
    }

    /// Lets sessions in (Go's `Proxy.Start`); starting a started proxy does nothing.
    pub fn try_start(&self) -> Result<(), ProxyError> {
        if self.is_closed() {
            return Err(ProxyError::Closed);
        }
        if self.shared.online.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.shared.router.start();
        if let Some(j) = self.shared.jodis.lock().clone() {
            j.start();
        }
        tracing::warn!("proxy is working ...");
        Ok(())
    }

    /// [`Proxy::try_start`] for callers that know the proxy is not closed.
    pub fn start(&self) {
        let _ = self.try_start();
    }

    pub fn is_online(&self) -> bool {
        self.shared.online.load(Ordering::Acquire) && !self.is_closed() && self.shared.router.is_online()
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Waits until the proxy is closed and its cleanup is done.
    pub async fn closed(&self) {
        let mut rx = self.shared.done.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }

    /// Installs slot mappings in order (Go's `Proxy.FillSlots`). A filled slot loses any
    /// sentinel switch.
    pub async fn fill_slots(&self, slots: &[Slot]) -> Result<(), ProxyError> {
        let _serial = self.shared.admin.lock().await;
        if self.is_closed() {
            return Err(ProxyError::Closed);
        }
        for s in slots {
            self.shared.router.fill_slot(s).await?;
            if let Some(f) = self.shared.switched.get(s.id as usize) {
                f.store(false, Ordering::Release);
            }
        }
        Ok(())
    }

    pub fn slots(&self) -> Vec<Slot> {
        self.shared.router.slots()
    }

    /// Whether a sentinel switch is in effect on any slot (Go's `HasSwitched`).
    pub fn has_switched(&self) -> bool {
        self.shared.switched.iter().any(|f| f.load(Ordering::Acquire))
    }

    /// Go's `SwitchMasters`: remembers `masters` (group id → address) and points every slot whose
    /// group master (or migration source) changed at the new master. Two addresses with the same
    /// Redis `run_id` are the same server and cause no switch.
    pub async fn switch_masters(&self, masters: BTreeMap<i64, String>) -> Result<(), ProxyError> {
        let _serial = self.shared.admin.lock().await;
        if self.is_closed() {
            return Err(ProxyError::Closed);
        }
        if masters.is_empty() {
            self.shared.ha.lock().masters = Some(masters);
            return Ok(());
        }
        let mut run_ids = crate::sentinel::RunIdCache::new(&self.shared.config.product_auth);
        for mut m in self.slots() {
            let mut switched = false;
            if let Some(addr) = masters.get(&m.backend_addr_group_id) {
                if !run_ids.same_server(addr, &m.backend_addr).await {
                    m.backend_addr = addr.clone();
                    switched = true;
                }
            }
            if let Some(addr) = masters.get(&m.migrate_from_group_id) {
                if !run_ids.same_server(addr, &m.migrate_from).await {
                    m.migrate_from = addr.clone();
                    switched = true;
                }
            }
            if switched {
                tracing::warn!("slot {:04} switched to master {}", m.id, m.backend_addr);
                self.shared.router.fill_slot(&m).await?;
                self.shared.switched[m.id as usize].store(true, Ordering::Release);
            }
        }
        // Published once the slots point at the new masters, so the stats never show a master
        // the routing does not use yet (Go holds one lock over both).
        self.shared.ha.lock().masters = Some(masters);
        Ok(())
    }

    /// `servers` and `masters` of the stats.
    pub fn sentinel_stats(&self) -> SentinelStats {
        if self.is_closed() {
            return SentinelStats { switched: self.has_switched(), ..SentinelStats::default() };
        }
        let ha = self.shared.ha.lock();
        SentinelStats {
            servers: ha.servers.clone(),
            masters: ha.masters.as_ref().map(|m| m.iter().map(|(g, a)| (g.to_string(), a.clone())).collect()),
            switched: self.has_switched(),
        }
    }

    /// Go's `SetSentinels`: watch these sentinels (none: stop watching).
    pub fn set_sentinels(&self, servers: Vec<String>) -> Result<(), ProxyError> {
        if self.is_closed() {
            return Err(ProxyError::Closed);
        }
        tracing::warn!("set sentinels = {servers:?}");
        let mut ha = self.shared.ha.lock();
        ha.servers = servers;
        self.rewatch_locked(&mut ha);
        Ok(())
    }

    /// Go's `RewatchSentinels`.
    pub fn rewatch_sentinels(&self) -> Result<(), ProxyError> {
        if self.is_closed() {
            return Err(ProxyError::Closed);
        }
        let mut ha = self.shared.ha.lock();
        tracing::warn!("rewatch sentinels = {:?}", ha.servers);
        self.rewatch_locked(&mut ha);
        Ok(())
    }

    fn rewatch_locked(&self, ha: &mut Ha) {
        if let Some(m) = ha.monitor.take() {
            m.cancel();
            ha.masters = None;
        }
        if !ha.servers.is_empty() {
            ha.monitor = Some(Monitor::start(self.clone(), ha.servers.clone()));
        }
    }

    /// Go's `Proxy.Close`: stops serving, removes the Jodis node, empties every slot and stops
    /// watching sentinels. Closing twice does nothing.
    pub async fn close(&self) {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!("proxy shutdown");
        self.shared.exit.send_replace(true);
        if let Some(path) = self.shared.socket_file.lock().take() {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!("remove unix socket '{}' failed: {e}", path.display());
            }
        }
        let jodis = self.shared.jodis.lock().take();
        if let Some(j) = jodis {
            j.close().await;
        }
        if let Some(m) = self.shared.ha.lock().monitor.take() {
            m.cancel();
        }
        self.shared.router.close().await;
        self.shared.done.send_replace(true);
    }

    /// Accepts clients until the listener fails or the proxy closes, pings backends every
    /// `backend_ping_period`, and samples the stats once a second.
    pub async fn serve(&self, listener: impl Into<Listener>) -> std::io::Result<()> {
        let listener = listener.into();
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
        let shared = self.shared.clone();
        tokio::spawn(self.shared.stats.clone().sample_forever(move || shared.closed.load(Ordering::Acquire)));
        let mut exit = self.shared.exit.subscribe();
        let mut delay_ms = 0u64;
        loop {
            let accepted = tokio::select! {
                r = listener.accept() => r,
                _ = exit.wait_for(|closed| *closed) => return Ok(()),
            };
            match accepted {
                Ok(client) => {
                    delay_ms = 0;
                    match client {
                        Client::Tcp(stream) => {
                            let config = &self.shared.config;
                            let _ = stream.set_nodelay(true);
                            if !config.session_keepalive_period.is_zero() {
                                let ka = socket2::TcpKeepalive::new().with_time(config.session_keepalive_period);
                                let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
                            }
                            let seat = crate::percore::assign();
                            match crate::percore::handle_for(&seat) {
                                None => self.accept(stream, seat),
                                Some(worker) => self.hand_over(stream, seat, worker),
                            }
                        }
                        Client::Unix(stream) => self.accept(stream, crate::percore::assign_here()),
                        Client::Packet(stream) => self.accept(stream, crate::percore::assign_here()),
                    }
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

    /// Starts the session of `stream` on another worker's runtime, registered in its reactor.
    fn hand_over(&self, stream: TcpStream, seat: crate::percore::Seat, worker: &tokio::runtime::Handle) {
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "proxy hand over new connection failed");
                return;
            }
        };
        let proxy = self.clone();
        worker.spawn(async move {
            match TcpStream::from_std(stream) {
                Ok(stream) => proxy.accept(stream, seat),
                Err(e) => tracing::warn!(error = %e, "proxy hand over new connection failed"),
            }
        });
    }

    /// Starts the session of `stream` on the calling runtime; `seat` counts it on its worker.
    fn accept<S: ClientIo>(&self, stream: S, seat: crate::percore::Seat) {
        let shared = self.shared.clone();
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
                    shared.stats.incr_fails();
                }
                None => Session::new(shared.clone(), id).run(stream).await,
            }
            shared.stats.sessions_alive.fetch_sub(1, Ordering::AcqRel);
            drop(seat);
        });
    }
}

async fn bind(proto: &str, addr: &str) -> Result<Listener, LaunchError> {
    Listener::bind(proto, addr).await.map_err(|source| LaunchError::Listen {
        proto: proto.to_string(),
        addr: addr.to_string(),
        source,
    })
}

/// Go's `ReplaceUnspecifiedIP`: the address others should use for a listener. An explicit
/// `--host-*` address wins; a listener on a specific IP is used as is; one on 0.0.0.0/:: is
/// advertised by host name when it resolves to a global address, else by the first global
/// interface address.
pub fn advertised_addr(listen: SocketAddr, host: &str) -> Result<String, String> {
    if !host.is_empty() {
        let resolved: Option<SocketAddr> =
            std::net::ToSocketAddrs::to_socket_addrs(host).ok().and_then(|mut a| a.next());
        return match resolved {
            Some(a) if a.port() != 0 && !a.ip().is_unspecified() => Ok(host.to_string()),
            Some(a) => Err(format!("resolve address '{host}' to '{a}'")),
            None => Err(format!("resolve address '{host}' failed")),
        };
    }
    if !listen.ip().is_unspecified() {
        return Ok(listen.to_string());
    }
    let port = listen.port();
    let name = hostname();
    if let Ok(addrs) = std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), port)) {
        if addrs.into_iter().any(|a| is_global_unicast(a.ip())) {
            return Ok(join_host_port(&name, port));
        }
    }
    if let Some(ip) = interface_ips().into_iter().find(|ip| is_global_unicast(*ip)) {
        return Ok(SocketAddr::new(ip, port).to_string());
    }
    Err(format!("resolve address '{listen}' to '{listen}'"))
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn is_global_unicast(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            !(v4.is_loopback() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || v4.is_link_local())
        }
        std::net::IpAddr::V6(v6) => {
            !(v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// Addresses of the host's interfaces (`getifaddrs`).
fn interface_ips() -> Vec<std::net::IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we walk read-only and free with freeifaddrs.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cur = head;
        while !cur.is_null() {
            let a = (*cur).ifa_addr;
            if !a.is_null() {
                match (*a).sa_family as i32 {
                    libc::AF_INET => {
                        let sin = &*(a as *const libc::sockaddr_in);
                        out.push(std::net::IpAddr::V4(std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(a as *const libc::sockaddr_in6);
                        out.push(std::net::IpAddr::V6(std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

/// `os.Hostname()`.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `uname -a`, trimmed, as Go's model records it (empty when it cannot run).
fn uname_a() -> String {
    match std::process::Command::new("uname").arg("-a").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(_) | Err(_) => {
            tracing::warn!("run command uname failed");
            String::new()
        }
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
        || matches!(e.kind(), std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertised_addresses() {
        let specific: SocketAddr = "127.0.0.1:19000".parse().unwrap();
        assert_eq!(advertised_addr(specific, "").unwrap(), "127.0.0.1:19000");
        assert_eq!(advertised_addr(specific, "10.1.2.3:29000").unwrap(), "10.1.2.3:29000");
        assert!(advertised_addr(specific, "0.0.0.0:29000").is_err());
        assert!(advertised_addr(specific, "10.1.2.3:0").is_err());
    }
}
