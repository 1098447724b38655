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
        let full = {
            let mut st = shared.state.lock();
            st.stats.total_connections += 1;
            let full = st.clients.len() >= st.config.maxclients;
            if full {
                st.stats.rejected_connections += 1;
            }
            full
        };
        if full {
            tokio::spawn(async move {
                let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
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
