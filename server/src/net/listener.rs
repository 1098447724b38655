//! Accepts connections on every `bind` address and spawns a task per connection.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::server::Shared;

/// Opens a listener for every `bind` address, as Redis does: `*` and `::*` mean all IPv4/IPv6
/// addresses, a leading `-` marks an address that may be skipped when it cannot be bound, and
/// `port 0` disables TCP.
pub async fn bind_all(shared: &Arc<Shared>) -> anyhow::Result<Vec<TcpListener>> {
    let (port, binds, backlog) = {
        let st = shared.state.lock();
        (st.config.port, st.config.bind.clone(), st.config.tcp_backlog)
    };
    if port == 0 {
        return Ok(Vec::new());
    }
    let binds = if binds.is_empty() { vec!["*".to_string(), "-::*".to_string()] } else { binds };
    let mut listeners = Vec::new();
    for b in binds {
        let (optional, host) = match b.strip_prefix('-') {
            Some(h) => (true, h.to_string()),
            None => (false, b.clone()),
        };
        let host = match host.as_str() {
            "*" => "0.0.0.0".to_string(),
            "::*" => "::".to_string(),
            h => h.to_string(),
        };
        let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        match listen(&addr, backlog) {
            Ok(l) => listeners.push(l),
            Err(e) if optional => tracing::warn!("Could not create server TCP listening socket {addr}: {e} (skipped)"),
            Err(e) => return Err(e).with_context(|| format!("Could not create server TCP listening socket {addr}")),
        }
    }
    Ok(listeners)
}

fn listen(addr: &str, backlog: u32) -> std::io::Result<TcpListener> {
    let sa: std::net::SocketAddr =
        addr.parse().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    let socket = if sa.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    if sa.is_ipv6() {
        // Like Redis: the IPv6 socket only serves IPv6 so `*` and `::*` can both be bound.
        socket2::SockRef::from(&socket).set_only_v6(true)?;
    }
    socket.bind(sa)?;
    socket.listen(backlog.max(1))
}

pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let (mut stream, addr) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // While a script runs the connection is accepted unchecked: it must be able to send
        // SCRIPT KILL (the checks need the state lock the script holds).
        let refusal = match crate::scripting::lock_unless_script(&shared).await {
            None => None,
            Some(mut st) => {
                st.stats.total_connections += 1;
                if st.config.tcp_keepalive > 0 {
                    let ka =
                        socket2::TcpKeepalive::new().with_time(std::time::Duration::from_secs(st.config.tcp_keepalive));
                    let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
                }
                let refusal = if st.clients.len() >= st.config.maxclients {
                    Some(&b"-ERR max number of clients reached\r\n"[..])
                } else if protected_mode_refuses(&st.config, &addr) {
                    Some(PROTECTED_MODE_ERROR)
                } else {
                    None
                };
                if refusal.is_some() {
                    st.stats.rejected_connections += 1;
                }
                refusal
            }
        };
        if let Some(msg) = refusal {
            tokio::spawn(async move {
                let _ = stream.write_all(msg).await;
            });
            continue;
        }
        let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        let shared = shared.clone();
        tokio::spawn(async move {
            super::connection::serve(shared, stream, addr, id).await;
        });
    }
}

/// Protected mode (Redis 3.2+): with no `bind` and no password, only loopback clients are served.
fn protected_mode_refuses(config: &crate::config::Config, peer: &std::net::SocketAddr) -> bool {
    config.protected_mode && config.bind.is_empty() && config.requirepass.is_none() && !peer.ip().is_loopback()
}

const PROTECTED_MODE_ERROR: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled, no bind address was specified, no authentication password is requested to clients. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a bind address or an authentication password. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";
