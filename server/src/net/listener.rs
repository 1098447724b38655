//! Accepts connections on every `bind` address and spawns a task per connection.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::server::Shared;

pub async fn bind_all(shared: &Arc<Shared>) -> anyhow::Result<Vec<TcpListener>> {
    let (port, binds) = {
        let st = shared.state.lock();
        (st.config.port, st.config.bind.clone())
    };
    let addrs = if binds.is_empty() { vec!["0.0.0.0".to_string()] } else { binds };
    let mut listeners = Vec::new();
    for a in addrs {
        let addr = if a.contains(':') { format!("[{a}]:{port}") } else { format!("{a}:{port}") };
        let l = TcpListener::bind(&addr).await.with_context(|| format!("Could not create server TCP listening socket {addr}"))?;
        listeners.push(l);
    }
    Ok(listeners)
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
        let refusal = {
            let mut st = shared.state.lock();
            st.stats.total_connections += 1;
            if st.config.tcp_keepalive > 0 {
                let ka = socket2::TcpKeepalive::new().with_time(std::time::Duration::from_secs(st.config.tcp_keepalive));
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
