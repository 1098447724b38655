//! The proxy's control plane against real peers: Jodis registration on ZooKeeper (exact node
//! bytes, removal on shutdown), the online flow through a dashboard and through the coordinator's
//! topom node, sentinel master switches, statsd reports, `/metrics`, SIGTERM and the pidfile.

mod control;
#[path = "../../compat/tests/peers/mod.rs"]
mod peers;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use compat::coordinator::Spec;
use compat::models::JodisNode;
use conformance::server::{Kind, Server};
use control::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn fill_and_start(proxy: &ProxyProc, a1: &str, a2: Option<&str>) {
    let xauth = proxy.xauth();
    let slots: Vec<serde_json::Value> = (0..1024)
        .map(|i| {
            let (addr, gid) = match a2 {
                Some(a2) if i >= 512 => (a2, 2),
                _ => (a1, 1),
            };
            serde_json::json!({"id": i, "backend_addr": addr, "backend_addr_group_id": gid, "forward_method": 1})
        })
        .collect();
    let body = serde_json::to_vec(&slots).expect("encode");
    assert_eq!(proxy.put(&format!("/api/proxy/fillslots/{xauth}"), &body).status, 200);
    assert_eq!(proxy.put(&format!("/api/proxy/start/{xauth}"), b"").status, 200);
}

#[test]
fn jodis_node_lives_while_online() {
    let Some(zk) = peers::zookeeper() else { return };
    let rt = rt();
    let client =
        rt.block_on(Spec::new("zookeeper", &zk.addr, "").expect("spec").connect(Duration::from_secs(5))).expect("zk");
    let g1 = Server::start(Kind::Codis).expect("server");
    let pidfile_dir = TempDir::new("pid");
    let pidfile = pidfile_dir.0.join("proxy.pid");
    let mut proxy = ProxyProc::start(
        &format!("jodis_name = \"zookeeper\"\njodis_addr = \"{}\"\njodis_timeout = \"5s\"\n", zk.addr),
        &["--pidfile", pidfile.to_str().expect("utf-8 path")],
    );
    assert_eq!(std::fs::read_to_string(&pidfile).expect("pidfile"), proxy.proc.pid().to_string());
    let model = proxy.model();
    let token = model["token"].as_str().expect("token").to_string();
    let path = format!("/jodis/codis-demo/proxy-{token}");
    assert_eq!(model["jodis_path"], path.as_str());
    // Offline: no node yet.
    assert_eq!(rt.block_on(client.read(&path, false)).expect("read"), None);

    fill_and_start(&proxy, &format!("127.0.0.1:{}", g1.port()), None);
    let read = || rt.block_on(client.read(&path, false)).expect("read");
    assert!(wait_until(Duration::from_secs(10), || read().is_some()), "jodis node never appeared");
    let data = read().expect("node");
    let want = proxy.expected_jodis_node(&token, model["start_time"].as_str().expect("start_time"));
    assert_eq!(String::from_utf8_lossy(&data), want);
    assert_eq!(JodisNode::decode(&data).expect("decode").state, "online");
    let children = rt.block_on(client.list("/jodis/codis-demo", true)).expect("list");
    assert_eq!(children, vec![path.clone()]);

    // SIGTERM: the node goes, the process exits 0 and removes its pidfile.
    proxy.proc.signal(libc::SIGTERM);
    let status = proxy.proc.wait_exit(Duration::from_secs(10)).expect("proxy did not exit on SIGTERM");
    assert!(status.success(), "exit status {status}; log:\n{}", proxy.proc.log_text());
    assert_eq!(read(), None, "jodis node left behind");
    assert!(!pidfile.exists(), "pidfile left behind");
    let _ = rt.block_on(client.close());
}

#[test]
fn shutdown_api_closes_the_proxy() {
    let g1 = Server::start(Kind::Codis).expect("server");
    let mut proxy = ProxyProc::start("", &[]);
    fill_and_start(&proxy, &format!("127.0.0.1:{}", g1.port()), None);
    let mut c = conformance::Conn::connect(proxy.proxy_port).expect("connect");
    assert_eq!(c.call(&["SET", "a", "1"]).expect("set").raw, b"+OK\r\n");
    let xauth = proxy.xauth();
    let r = proxy.put(&format!("/api/proxy/shutdown/{xauth}"), b"");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"\"OK\""[..]));
    let status = proxy.proc.wait_exit(Duration::from_secs(10)).expect("proxy did not exit after shutdown");
    assert!(status.success());
}

/// A stand-in for the dashboard's REST API: answers `/api/topom/model` and records the online
/// calls.
fn fake_dashboard(product: &str) -> (String, Arc<Mutex<Vec<String>>>, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (calls2, addr2, product) = (calls.clone(), addr.clone(), product.to_string());
    let h = std::thread::spawn(move || {
        let _ = l.set_nonblocking(false);
        for s in l.incoming().take(2) {
            let Ok(mut s) = s else { return };
            let mut buf = vec![0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let line = req.lines().next().unwrap_or("").to_string();
            calls2.lock().expect("lock").push(line.clone());
            let body = if line.starts_with("GET /api/topom/model") {
                format!(
                    "{{\n    \"token\": \"t\",\n    \"start_time\": \"\",\n    \"admin_addr\": \"{addr2}\",\n    \"product_name\": \"{product}\",\n    \"pid\": 1,\n    \"pwd\": \"\",\n    \"sys\": \"\"\n}}"
                )
            } else {
                "\"OK\"".to_string()
            };
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, calls, h)
}

#[test]
fn online_through_the_dashboard_and_the_coordinator() {
    // --dashboard: model first, then online with the dashboard's xauth and our admin address.
    let (dash, calls, h) = fake_dashboard("codis-demo");
    let proxy = ProxyProc::start("", &["--dashboard", &dash]);
    h.join().expect("dashboard thread");
    let calls = calls.lock().expect("lock").clone();
    let xauth = compat::xauth::dashboard_xauth("codis-demo");
    assert_eq!(calls[0], "GET /api/topom/model HTTP/1.1");
    assert_eq!(calls[1], format!("PUT /api/topom/proxy/online/{xauth}/{} HTTP/1.1", proxy.admin()));
    drop(proxy);

    // --filesystem: the dashboard's address comes from the product's topom node.
    let root = TempDir::new("fs");
    let (dash, calls, h) = fake_dashboard("codis-demo");
    let topom =
        compat::models::Topom { admin_addr: dash.clone(), product_name: "codis-demo".into(), ..Default::default() };
    let rt = rt();
    let fs = rt
        .block_on(
            Spec::new("filesystem", root.0.to_str().expect("path"), "").expect("spec").connect(Duration::from_secs(5)),
        )
        .expect("fs");
    rt.block_on(fs.create("/codis3/codis-demo/topom", &topom.encode())).expect("write topom");
    let proxy = ProxyProc::start("", &["--filesystem", root.0.to_str().expect("path")]);
    h.join().expect("dashboard thread");
    let calls = calls.lock().expect("lock").clone();
    assert_eq!(calls[1], format!("PUT /api/topom/proxy/online/{xauth}/{} HTTP/1.1", proxy.admin()));

    // A dashboard of another product is refused: the proxy exits with an error.
    let (dash, _calls, _h) = fake_dashboard("other");
    let mut proxy = ProxyProc::spawn("", &["--dashboard", &dash]);
    let status = proxy.proc.wait_exit(Duration::from_secs(10)).expect("proxy kept running");
    assert!(!status.success());
    assert!(proxy.proc.log_text().contains("unexcepted product name"), "{}", proxy.proc.log_text());
}

#[test]
fn sentinel_switch_moves_slots_to_the_new_master() {
    let g1 = Server::start(Kind::Codis).expect("master");
    let g1r = Server::start(Kind::Codis).expect("replica");
    g1r.connect().expect("connect").cmd(&["REPLICAOF", "127.0.0.1", &g1.port().to_string()]);
    let Some(sentinel) = Sentinel::start(&[(1, g1.port())]) else { return };
    let (a1, a1r) = (format!("127.0.0.1:{}", g1.port()), format!("127.0.0.1:{}", g1r.port()));
    // Wait until the sentinel knows the replica (it can only fail over to a known one).
    let knows_replica = || {
        let mut c = conformance::Conn::connect(sentinel.port).expect("connect sentinel");
        matches!(c.cmd(&["SENTINEL", "replicas", "codis-demo-1"]), compat::resp::Frame::Array(v) if !v.is_empty())
    };
    assert!(wait_until(Duration::from_secs(20), knows_replica), "sentinel never saw the replica");

    let proxy = ProxyProc::start("", &[]);
    fill_and_start(&proxy, &a1, None);
    let xauth = proxy.xauth();
    let body = format!("{{\"servers\":[\"{}\"],\"out_of_sync\":false}}", sentinel.addr());
    assert_eq!(proxy.put(&format!("/api/proxy/sentinels/{xauth}"), body.as_bytes()).status, 200);
    let admin = proxy.admin();
    let masters = |want: &str| {
        let s = get_json(&admin, "/proxy/stats");
        s["sentinels"]["masters"]["1"] == want
    };
    assert!(wait_until(Duration::from_secs(10), || masters(&a1)), "masters never reported");
    assert!(get_json(&admin, "/proxy/stats")["sentinels"].get("switched").is_none());

    let mut c = conformance::Conn::connect(sentinel.port).expect("connect sentinel");
    assert_eq!(c.call(&["SENTINEL", "FAILOVER", "codis-demo-1"]).expect("failover").raw, b"+OK\r\n");
    assert!(
        wait_until(Duration::from_secs(30), || masters(&a1r)),
        "switch never seen: {}",
        get_json(&admin, "/proxy/stats")
    );
    let slots = get_json(&admin, "/proxy/slots");
    assert!(slots.as_array().expect("slots").iter().all(|s| s["backend_addr"] == a1r.as_str()));
    assert_eq!(get_json(&admin, "/proxy/stats")["sentinels"]["switched"], true);
    // Writes go to the promoted server.
    let mut p = conformance::Conn::connect(proxy.proxy_port).expect("connect proxy");
    assert_eq!(p.call(&["SET", "after", "switch"]).expect("set").raw, b"+OK\r\n");
    assert_eq!(g1r.connect().expect("connect").call(&["GET", "after"]).expect("get").raw, b"$6\r\nswitch\r\n");
    // A fill from the dashboard clears the switch mark.
    fill_and_start(&proxy, &a1r, None);
    assert!(get_json(&admin, "/proxy/stats")["sentinels"].get("switched").is_none());
}

#[test]
fn statsd_and_prometheus_report_the_stats() {
    let g1 = Server::start(Kind::Codis).expect("server");
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    udp.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let statsd = udp.local_addr().expect("addr").to_string();
    let proxy = ProxyProc::start(
        &format!("metrics_report_statsd_server = \"{statsd}\"\nmetrics_report_statsd_period = \"1s\"\nmetrics_report_statsd_prefix = \"codis\"\n"),
        &[],
    );
    fill_and_start(&proxy, &format!("127.0.0.1:{}", g1.port()), None);
    let mut c = conformance::Conn::connect(proxy.proxy_port).expect("connect");
    c.call(&["SET", "k", "v"]).expect("set");
    c.call(&["GET", "k"]).expect("get");
    c.call(&["NOSUCHCMD"]).expect("error reply");
    drop(c);

    let clean = |s: &str| s.replace(['.', ':'], "_");
    let prefix = format!("codis.codis-demo.{}.{}.", clean(&proxy.admin()), clean(&proxy.addr()));
    let mut buf = [0u8; 2048];
    let mut seen = String::new();
    let ok = wait_until(Duration::from_secs(10), || {
        if let Ok(n) = udp.recv(&mut buf) {
            seen = String::from_utf8_lossy(&buf[..n]).into_owned();
        }
        seen.lines().any(|l| l == format!("{prefix}ops_total:3|g"))
    });
    assert!(ok, "statsd packet: {seen}");
    assert!(seen.lines().any(|l| l == format!("{prefix}ops_redis_errors:1|g")), "{seen}");

    let m = http(&proxy.admin(), "GET", "/metrics", &[], b"").expect("metrics");
    assert_eq!(m.status, 200);
    let text = String::from_utf8_lossy(&m.body).into_owned();
    for line in [
        "codis_proxy_ops_total 3",
        "codis_proxy_online 1",
        "codis_proxy_cmd_calls_total{opstr=\"GET\"} 1",
        "codis_proxy_cmd_redis_errors_total{opstr=\"NOSUCHCMD\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    // Per-command stats and reset, as the admin API shows them.
    let xauth = proxy.xauth();
    let s = get_json(&proxy.admin(), &format!("/api/proxy/stats/{xauth}/1"));
    let cmds: Vec<&str> =
        s["ops"]["cmd"].as_array().expect("cmd").iter().map(|o| o["opstr"].as_str().unwrap_or("")).collect();
    assert_eq!(cmds, ["GET", "NOSUCHCMD", "SET"]);
    assert_eq!(proxy.put(&format!("/api/proxy/stats/reset/{xauth}"), b"").status, 200);
    let s = get_json(&proxy.admin(), &format!("/api/proxy/stats/{xauth}/1"));
    assert_eq!(s["ops"]["total"], 0);
    assert!(s["ops"].get("cmd").is_none());
}

#[test]
fn jodis_on_etcd_keeps_a_ttl_key() {
    let Some(etcd) = peers::etcd() else { return };
    let rt = rt();
    let client =
        rt.block_on(Spec::new("etcd", &etcd.addr, "").expect("spec").connect(Duration::from_secs(5))).expect("etcd");
    let g1 = Server::start(Kind::Codis).expect("server");
    let mut proxy = ProxyProc::start(
        &format!("jodis_name = \"etcd\"\njodis_addr = \"{}\"\njodis_timeout = \"2s\"\n", etcd.addr),
        &[],
    );
    fill_and_start(&proxy, &format!("127.0.0.1:{}", g1.port()), None);
    let path = proxy.model()["jodis_path"].as_str().expect("jodis_path").to_string();
    let read = || rt.block_on(client.read(&path, false)).expect("read");
    assert!(wait_until(Duration::from_secs(10), || read().is_some()), "jodis key never appeared");
    // The key outlives several TTLs while the proxy refreshes it.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(JodisNode::decode(&read().expect("key")).expect("decode").addr, proxy.addr());
    proxy.proc.signal(libc::SIGTERM);
    assert!(proxy.proc.wait_exit(Duration::from_secs(10)).is_some());
    assert_eq!(read(), None, "jodis key left behind");
}

/// Accepts HTTP requests, answers 204/200 and hands back "request line\nbody" of each.
fn http_sink() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut raw = Vec::new();
            let mut buf = [0u8; 65536];
            // Headers, then Content-Length bytes of body.
            let (head_end, len) = loop {
                let Ok(n) = s.read(&mut buf) else { break (0, 0) };
                if n == 0 {
                    break (0, 0);
                }
                raw.extend_from_slice(&buf[..n]);
                if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&raw[..i]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: ").and_then(|v| v.trim().parse().ok()))
                        .unwrap_or(0usize);
                    break (i + 4, len);
                }
            };
            while raw.len() < head_end + len {
                let Ok(n) = s.read(&mut buf) else { break };
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
            }
            let text = String::from_utf8_lossy(&raw).into_owned();
            let line = text.lines().next().unwrap_or("").to_string();
            let body = text.get(head_end..).unwrap_or("").to_string();
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if tx.send(format!("{line}\n{body}")).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

#[test]
fn influxdb_and_json_reporters_post_the_stats() {
    let (influx, influx_rx) = http_sink();
    let (json, json_rx) = http_sink();
    let proxy = ProxyProc::start(
        &format!(
            "metrics_report_influxdb_server = \"http://{influx}\"\nmetrics_report_influxdb_database = \"codis\"\n\
             metrics_report_influxdb_username = \"u\"\nmetrics_report_influxdb_password = \"p\"\n\
             metrics_report_server = \"http://{json}/report\"\n"
        ),
        &[],
    );
    let point = influx_rx.recv_timeout(Duration::from_secs(10)).expect("no influxdb write");
    let (line, body) = point.split_once('\n').expect("request");
    assert_eq!(line, "POST /write?db=codis&precision=ns HTTP/1.1");
    let want_tags = format!(
        "codis_usage,admin_addr={},hostname={},product_name=codis-demo,proxy_addr={},token={} ",
        proxy.admin(),
        proxy.model()["hostname"].as_str().expect("hostname"),
        proxy.addr(),
        proxy.model()["token"].as_str().expect("token")
    );
    assert!(body.starts_with(&want_tags), "{body}");
    assert!(body.contains("ops_total=0i,"), "{body}");

    let report = json_rx.recv_timeout(Duration::from_secs(10)).expect("no JSON report");
    let (line, body) = report.split_once('\n').expect("request");
    assert_eq!(line, "POST /report HTTP/1.1");
    let v: serde_json::Value = serde_json::from_str(body).expect("overview JSON");
    assert_eq!(v["model"]["admin_addr"], proxy.admin().as_str());
    assert!(v["stats"]["runtime"].is_object() && v["stats"]["ops"].get("cmd").is_none());
}
