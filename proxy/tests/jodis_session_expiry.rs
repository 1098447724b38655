//! The proxy's Jodis node after a real ZooKeeper session expiry. ZooKeeper is frozen (SIGSTOP)
//! for longer than the proxy's session timeout and thawed: the server expires the session and
//! drops its ephemeral `/jodis/codis-demo/proxy-<token>`. The proxy must register the node again,
//! in a new session, with the same bytes (Go's format, g1_jodis_node_format_and_zk_layout.txt),
//! while clients keep being served without a single error.
//!
//! Only the Jodis node is the proxy's: `/codis3/<product>/proxy/proxy-<token>` is written by the
//! dashboard and is persistent (g1 layout), so an expiry does not touch it.

mod control;
#[path = "../../compat/tests/peers/mod.rs"]
mod peers;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use conformance::server::{Kind, Server};
use control::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn fill_and_start(proxy: &ProxyProc, backend: &str) {
    let xauth = proxy.xauth();
    let slots: Vec<serde_json::Value> = (0..1024)
        .map(|i| serde_json::json!({"id": i, "backend_addr": backend, "backend_addr_group_id": 1, "forward_method": 1}))
        .collect();
    let body = serde_json::to_vec(&slots).expect("encode");
    assert_eq!(proxy.put(&format!("/api/proxy/fillslots/{xauth}"), &body).status, 200);
    assert_eq!(proxy.put(&format!("/api/proxy/start/{xauth}"), b"").status, 200);
}

/// The node's data and owning session, if it exists.
fn node(rt: &tokio::runtime::Runtime, zk: &zookeeper_client::Client, path: &str) -> Option<(Vec<u8>, i64)> {
    rt.block_on(zk.get_data(path)).ok().map(|(data, stat)| (data, stat.ephemeral_owner))
}

#[test]
fn jodis_node_comes_back_after_session_expiry() {
    let Some(zk) = peers::zookeeper() else { return };
    let rt = rt();
    let raw = rt.block_on(zookeeper_client::Client::connect(&zk.addr)).expect("zk");
    let backend = Server::start(Kind::Codis).expect("server");
    // A 2 s session (ZooKeeper's tick is 500 ms here, so 2 s is within its 1-10 s bounds).
    let proxy = ProxyProc::start(
        &format!("jodis_name = \"zookeeper\"\njodis_addr = \"{}\"\njodis_timeout = \"2s\"\n", zk.addr),
        &[],
    );
    let model = proxy.model();
    let token = model["token"].as_str().expect("token").to_string();
    let path = format!("/jodis/codis-demo/proxy-{token}");
    fill_and_start(&proxy, &format!("127.0.0.1:{}", backend.port()));
    assert!(wait_until(Duration::from_secs(10), || node(&rt, &raw, &path).is_some()), "jodis node never appeared");
    let (data, owner) = node(&rt, &raw, &path).expect("node");
    let want = proxy.expected_jodis_node(&token, model["start_time"].as_str().expect("start_time"));
    assert_eq!(String::from_utf8_lossy(&data), want);
    assert_ne!(owner, 0, "not ephemeral");

    // A client keeps writing and reading through the proxy during the whole expiry.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let client = {
        let (stop, ok, failed, port) = (stop.clone(), ok.clone(), failed.clone(), proxy.proxy_port);
        std::thread::spawn(move || {
            let mut c = conformance::Conn::connect(port).expect("connect proxy");
            c.set_timeout(Duration::from_secs(5));
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("jx:{}", i % 1000);
                let set = c.call(&["SET", &key, &i.to_string()]);
                let get = c.call(&["GET", &key]);
                match (set, get) {
                    (Ok(s), Ok(g)) if s.raw == b"+OK\r\n" && g.raw.ends_with(format!("{i}\r\n").as_bytes()) => {
                        ok.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
                i += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };

    // Freeze ZooKeeper past the session timeout; on thaw it expires the session. A client
    // reconnect that wins the race keeps the session alive, so freeze again until the node's
    // owner (the session) really changed.
    let t = Instant::now();
    let mut expired = false;
    for _attempt in 0..4 {
        zk.pause(true);
        std::thread::sleep(Duration::from_secs(5));
        zk.pause(false);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match node(&rt, &raw, &path) {
                Some((_, o)) if o != owner => {
                    expired = true;
                    break;
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        if expired {
            break;
        }
    }
    assert!(expired, "the session never expired or the node never came back; log:\n{}", proxy.proc.log_text());
    eprintln!("jodis node back in a new session {:.1}s after the first freeze", t.elapsed().as_secs_f64());
    let (data, new_owner) = node(&rt, &raw, &path).expect("node");
    assert_ne!(new_owner, 0, "re-created node is not ephemeral");
    assert_eq!(String::from_utf8_lossy(&data), want, "re-created node differs");
    let children = rt.block_on(raw.list_children("/jodis/codis-demo")).expect("list");
    assert_eq!(children, vec![format!("proxy-{token}")]);

    // Still serving: no client error at any point, and requests went through after the thaw.
    let before = ok.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    client.join().expect("client thread");
    assert_eq!(failed.load(Ordering::Relaxed), 0, "requests failed during the expiry");
    assert!(ok.load(Ordering::Relaxed) > before, "no request served after the expiry");
    let stats = get_json(&proxy.admin(), "/proxy/stats");
    assert_eq!(stats["online"], true);
}
