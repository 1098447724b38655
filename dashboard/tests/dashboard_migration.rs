//! Migrations under load, through the dashboard's real control path.
//!
//! Until the Rust proxy lands, the writer plays the proxy: a small proxy admin API (model,
//! xping, fillslots, start, sentinels, stats) registered with `--create-proxy`, whose slot
//! table only changes when the dashboard calls fillslots. Every write goes to the server that
//! table names, as a `forward_method = sync` proxy does: a locked slot waits, a slot with
//! `migrate_from` first has its key moved by `SLOTSMGRTTAGONE` on the source. fillslots waits
//! for writes in flight, like the proxy's per-slot lock. So a lost write here means the
//! dashboard let a table lag behind a migration step.
//!
//! - `rebalance_and_back_with_writer`: two groups, a third joins, rebalance, then the new
//!   group's slots migrate back; 0 lost writes.
//! - `kill9_mid_migration_resumes`: the dashboard is killed with SIGKILL while slots migrate,
//!   restarted with `--remove-lock`; the migration resumes from the stored states and completes,
//!   still 0 lost writes.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::Router;
use compat::models::{Proxy, Slot};
use compat::rest::server::{json_ok, ok};
use support::*;

struct FakeProxy {
    model: Proxy,
    table: RwLock<Vec<Slot>>,
    fills: AtomicU64,
}

type St = State<Arc<FakeProxy>>;

/// Starts the proxy admin API on a thread of its own; returns it and its admin address.
fn fake_proxy() -> Arc<FakeProxy> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = l.local_addr().unwrap().to_string();
    let proxy_addr = format!("127.0.0.1:{}", free_port());
    let token = compat::xauth::proxy_token(PRODUCT, &proxy_addr, &admin);
    let model = Proxy {
        token,
        start_time: compat::models::gotime::now_string(),
        admin_addr: admin,
        proto_type: "tcp4".into(),
        proxy_addr,
        product_name: PRODUCT.into(),
        pid: std::process::id() as i64,
        ..Default::default()
    };
    let p = Arc::new(FakeProxy { model, table: RwLock::new(vec![]), fills: AtomicU64::new(0) });
    let me = Arc::clone(&p);
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let app = Router::new()
                .route("/api/proxy/model", get(|State(p): St| async move { json_ok(&p.model) }))
                .route("/api/proxy/xping/{x}", get(|| async { ok() }))
                .route("/api/proxy/start/{x}", put(|| async { ok() }))
                .route("/api/proxy/sentinels/{x}", put(|| async { ok() }))
                .route(
                    "/api/proxy/stats/{x}",
                    get(|| async { json_ok(&serde_json::json!({"online": true, "closed": false})) }),
                )
                .route(
                    "/api/proxy/fillslots/{x}",
                    put(|State(p): St, Path(_x): Path<String>, body: axum::body::Bytes| async move {
                        let slots: Vec<Slot> = serde_json::from_slice(&body).unwrap();
                        let mut t = p.table.write().unwrap();
                        if t.is_empty() {
                            *t = (0..1024).map(|i| Slot { id: i, ..Default::default() }).collect();
                        }
                        for s in slots {
                            let id = s.id as usize;
                            t[id] = s;
                        }
                        p.fills.fetch_add(1, Ordering::SeqCst);
                        ok()
                    }),
                )
                .with_state(me);
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    p
}

fn conn(addr: &str) -> conformance::Conn {
    let mut c =
        conformance::Conn::connect_timeout(addr.rsplit(':').next().unwrap().parse().unwrap(), Duration::from_secs(2))
            .expect("connect");
    c.set_timeout(Duration::from_secs(30));
    c
}

/// Writes `w:<n>` = n as a sync-forwarding proxy would; returns how many were acknowledged.
fn writer(p: Arc<FakeProxy>, stop: Arc<AtomicBool>, acked: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut conns: BTreeMap<String, conformance::Conn> = BTreeMap::new();
        let mut n = 0u64;
        while !stop.load(Ordering::SeqCst) {
            let key = format!("w:{n}");
            let sid = compat::slot::slot_of(key.as_bytes());
            loop {
                let t = p.table.read().unwrap_or_else(|e| e.into_inner());
                let s = t[sid].clone();
                if s.locked || s.backend_addr.is_empty() {
                    drop(t);
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
                // A connection the server closed is opened again and the command repeated
                // (SET of the same value is idempotent), as a proxy reconnects to a backend.
                if !s.migrate_from.is_empty() {
                    let (host, port) = s.backend_addr.rsplit_once(':').unwrap();
                    let c = conns.entry(s.migrate_from.clone()).or_insert_with(|| conn(&s.migrate_from));
                    match c.call(&["SLOTSMGRTTAGONE", host, port, "30000", &key]) {
                        Ok(r) => {
                            assert!(r.raw.starts_with(b":"), "SLOTSMGRTTAGONE: {:?}", String::from_utf8_lossy(&r.raw))
                        }
                        Err(_) => {
                            conns.remove(&s.migrate_from);
                            continue;
                        }
                    }
                }
                let c = conns.entry(s.backend_addr.clone()).or_insert_with(|| conn(&s.backend_addr));
                match c.call(&["SET", &key, &n.to_string()]) {
                    Ok(r) => assert_eq!(r.raw, b"+OK\r\n"),
                    Err(_) => {
                        conns.remove(&s.backend_addr);
                        continue;
                    }
                }
                break;
            }
            // About 2000 writes a second: enough keys in every slot, a quick final check.
            std::thread::sleep(Duration::from_micros(500));
            acked.store(n + 1, Ordering::SeqCst);
            n += 1;
        }
    })
}

/// Every acknowledged key holds its value on the server its final slot owner names.
fn lost_writes(d: &Dashboard, n: u64) -> Vec<String> {
    let slots: Vec<Slot> = serde_json::from_slice(&d.get("/topom/slots").body).unwrap();
    let mut conns: BTreeMap<String, conformance::Conn> = BTreeMap::new();
    let mut lost = Vec::new();
    for i in 0..n {
        let key = format!("w:{i}");
        let owner = &slots[compat::slot::slot_of(key.as_bytes())].backend_addr;
        let c = conns.entry(owner.clone()).or_insert_with(|| conn(owner));
        let r = c.call(&["GET", &key]).unwrap();
        let want = format!("${}\r\n{i}\r\n", i.to_string().len());
        if r.raw != want.as_bytes() {
            lost.push(format!("{key} on {owner}: {:?}", String::from_utf8_lossy(&r.raw)));
        }
    }
    lost
}

struct Cluster {
    _root: TempDir,
    servers: Vec<Proc>,
    proxy: Arc<FakeProxy>,
    d: Dashboard,
    coord: Coord,
}

fn cluster(groups: usize) -> Cluster {
    let root = temp_dir("dash-mig");
    let coord = Coord { name: "filesystem", addr: root.0.join("coordinator").display().to_string() };
    let servers: Vec<Proc> = (0..3).map(|_| codis_server(&root.0)).collect();
    let d = dashboard(&root.0, &coord, "migration_method = \"sync\"\n", &[]);
    let dash = format!("--dashboard={}", d.addr());
    for (g, s) in servers.iter().enumerate().take(groups) {
        admin_ok(&[&dash, "--create-group", &format!("--gid={}", g + 1)]);
        admin_ok(&[&dash, "--group-add", &format!("--gid={}", g + 1), &format!("--addr={}", s.addr)]);
    }
    if groups == 1 {
        admin_ok(&[&dash, "--slots-assign", "--beg=0", "--end=1023", "--gid=1", "--confirm"]);
    } else {
        admin_ok(&[&dash, "--slots-assign", "--beg=0", "--end=511", "--gid=1", "--confirm"]);
        admin_ok(&[&dash, "--slots-assign", "--beg=512", "--end=1023", "--gid=2", "--confirm"]);
    }
    let proxy = fake_proxy();
    admin_ok(&[&dash, "--create-proxy", &format!("--addr={}", proxy.model.admin_addr)]);
    assert!(proxy.fills.load(Ordering::SeqCst) >= 1, "the dashboard filled the proxy's slots");
    Cluster { _root: root, servers, proxy, d, coord }
}

use support::peers::TempDir;

#[test]
fn rebalance_and_back_with_writer() {
    let c = cluster(2);
    let dash = format!("--dashboard={}", c.d.addr());
    let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let w = writer(Arc::clone(&c.proxy), Arc::clone(&stop), Arc::clone(&acked));
    std::thread::sleep(Duration::from_millis(300));

    admin_ok(&[&dash, "--create-group", "--gid=3"]);
    admin_ok(&[&dash, "--group-add", "--gid=3", &format!("--addr={}", c.servers[2].addr)]);
    let plan = admin_ok(&[&dash, "--rebalance", "--confirm"]);
    assert!(plan.ends_with("done\n") && plan.contains("=> 3"), "{plan}");
    let t0 = Instant::now();
    c.d.wait_no_actions(Duration::from_secs(150));
    let first = t0.elapsed();
    let slots3 = c.d.json("/topom/stats")["slots"].as_array().unwrap().iter().filter(|m| m["group_id"] == 3).count();
    assert!((341..=342).contains(&slots3), "group 3 has {slots3} slots");

    // And back: every slot of group 3 to group 1.
    admin_ok(&[&dash, "--slot-action", "--create-some", "--gid-from=3", "--gid-to=1", "--num-slots=1024"]);
    c.d.wait_no_actions(Duration::from_secs(150));
    stop.store(true, Ordering::SeqCst);
    w.join().unwrap();
    let n = acked.load(Ordering::SeqCst);
    let left3 = c.d.json("/topom/stats")["slots"].as_array().unwrap().iter().filter(|m| m["group_id"] == 3).count();
    assert_eq!(left3, 0);
    let lost = lost_writes(&c.d, n);
    eprintln!("{n} writes during two migrations ({} slots out in {first:?}), lost {}", slots3, lost.len());
    assert!(n > 100, "the writer made progress ({n})");
    assert!(lost.is_empty(), "lost writes: {:?}", &lost[..lost.len().min(10)]);
}

#[test]
fn kill9_mid_migration_resumes() {
    let mut c = cluster(2);
    let dash = format!("--dashboard={}", c.d.addr());
    let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let w = writer(Arc::clone(&c.proxy), Arc::clone(&stop), Arc::clone(&acked));
    admin_ok(&[&dash, "--slot-action", "--create-range", "--beg=0", "--end=199", "--gid=2"]);
    // Let some slots finish, then kill the dashboard in the middle of the run.
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.d.actions_left() > 150 {
        assert!(Instant::now() < deadline, "migration did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = c.d.actions_left();
    c.d.proc.kill9();
    assert!(before > 0, "killed before the end");

    // The lock stays: a new dashboard refuses to take it...
    let lock = std::path::Path::new(&c.coord.addr).join("data/codis3").join(PRODUCT).join("topom");
    assert!(lock.is_file(), "lock left by the killed dashboard");
    // ...until --remove-lock.
    let port = c.d.addr().rsplit(':').next().unwrap().parse().unwrap();
    let dir = c.d.proc.dir.clone();
    let config = c.d.config.clone();
    let d = dashboard_with(&dir, &config, port, &["--remove-lock"]);
    d.wait_no_actions(Duration::from_secs(150));
    stop.store(true, Ordering::SeqCst);
    w.join().unwrap();
    let stats = d.json("/topom/stats");
    let moved = stats["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["id"].as_i64().unwrap() < 200 && m["group_id"] == 2)
        .count();
    assert_eq!(moved, 200, "every slot of the range reached group 2");
    let n = acked.load(Ordering::SeqCst);
    let lost = lost_writes(&d, n);
    eprintln!("killed with {before} slot actions left; {n} writes, lost {}", lost.len());
    assert!(lost.is_empty(), "lost writes: {:?}", &lost[..lost.len().min(10)]);
    drop(d);
}

#[test]
fn second_dashboard_refuses_the_lock() {
    let c = cluster(1);
    let port = free_port();
    let dir = c._root.0.join("second");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("dashboard.toml");
    std::fs::write(
        &config,
        format!(
            "coordinator_name = \"filesystem\"\ncoordinator_addr = \"{}\"\nadmin_addr = \"127.0.0.1:{port}\"\nproduct_name = \"{PRODUCT}\"\n",
            c.coord.addr
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("dashboard.log")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_codis-dashboard"))
        .arg(format!("--config={}", config.display()))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(dir.join("dashboard.log")).unwrap();
    assert!(text.contains("store: acquire lock of codis-demo failed"), "{text}");
    assert!(text.contains("dashboard online failed [0]"), "{text}");
    // The first dashboard still owns the product.
    assert_eq!(c.d.get("/topom/model").status, Some(200));
    let model: serde_json::Value = c.d.json("/topom/model");
    let lock = std::fs::read(std::path::Path::new(&c.coord.addr).join("data/codis3/codis-demo/topom")).unwrap();
    let lock: serde_json::Value = serde_json::from_slice(&lock).unwrap();
    assert_eq!(lock["token"], model["token"]);
}
