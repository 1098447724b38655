//! ZooKeeper restarted under load: the dashboard and two real codis-proxies (online through
//! `--zookeeper`, registered in jodis) run on a ZooKeeper that is killed with SIGKILL while
//! writers run through the proxies, and started again seconds later on the same port and data
//! directory. The proxies keep serving (no failed write: the data path does not need the
//! coordinator); afterwards the jodis nodes and the topom lock node are there, and the
//! dashboard writes to the store and migrates slots again.

mod support;

use std::time::{Duration, Instant};

use compat::models::Slot;
use support::load::*;
use support::peers::four_letter;
use support::*;

/// What ZooKeeper holds now: each jodis node of the product with the session that owns it, and
/// the topom node's data.
fn zk_state(addr: &str) -> (Vec<(String, i64)>, Option<serde_json::Value>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let Ok(c) = zookeeper_client::Client::connect(addr).await else { return (Vec::new(), None) };
        let dir = format!("/jodis/{PRODUCT}");
        let mut jodis = Vec::new();
        for kid in c.list_children(&dir).await.unwrap_or_default() {
            let path = format!("{dir}/{kid}");
            if let Ok((_, stat)) = c.get_data(&path).await {
                jodis.push((path, stat.ephemeral_owner));
            }
        }
        jodis.sort();
        let topom = c.get_data(&format!("/codis3/{PRODUCT}/topom")).await.ok();
        (jodis, topom.and_then(|(b, _)| serde_json::from_slice(&b).ok()))
    })
}

/// The session ids of the clients connected now (`cons`: `...sid=0x1000a2b3c4d0001,...`).
fn connected_sessions(addr: &str) -> Vec<i64> {
    four_letter(addr, "cons")
        .split("sid=0x")
        .skip(1)
        .filter_map(|rest| {
            let hex: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            u64::from_str_radix(&hex, 16).ok().map(|v| v as i64)
        })
        .collect()
}

#[test]
fn zookeeper_restart_under_load() {
    let t0 = Instant::now();
    let root = temp_dir("dash-zkr");
    let Some(mut zk) = Zk::start(&root.0) else { return };
    let coord = Coord { name: "zookeeper", addr: zk.addr.clone() };
    let servers: Vec<Proc> = (0..2).map(|_| codis_server(&root.0)).collect();
    let d = dashboard(&root.0, &coord, "", &[]);
    let dash = format!("--dashboard={}", d.addr());
    for (g, s) in servers.iter().enumerate() {
        admin_ok(&[&dash, "--create-group", &format!("--gid={}", g + 1)]);
        admin_ok(&[&dash, "--group-add", &format!("--gid={}", g + 1), &format!("--addr={}", s.addr)]);
    }
    admin_ok(&[&dash, "--slots-assign", "--beg=0", "--end=511", "--gid=1", "--confirm"]);
    admin_ok(&[&dash, "--slots-assign", "--beg=512", "--end=1023", "--gid=2", "--confirm"]);
    let jodis = format!("jodis_name = \"zookeeper\"\njodis_addr = \"{}\"\njodis_timeout = \"20s\"\n", zk.addr);
    let flag = format!("--zookeeper={}", zk.addr);
    let proxies: Vec<ProxyProc> = (0..2).map(|_| codis_proxy(&root.0, &jodis, &[&flag])).collect();
    for p in &proxies {
        p.wait_online(Duration::from_secs(30));
    }
    let mut want: Vec<String> = proxies.iter().map(|p| format!("/jodis/{PRODUCT}/proxy-{}", p.token())).collect();
    want.sort();
    let deadline = Instant::now() + Duration::from_secs(20);
    while zk_state(&zk.addr).0.len() < 2 {
        assert!(Instant::now() < deadline, "jodis nodes not registered: {:?}", zk_state(&zk.addr));
        std::thread::sleep(Duration::from_millis(200));
    }
    let owners_before = zk_state(&zk.addr).0;
    let lock_token = d.json("/topom/model")["token"].clone();

    let w = writers(&proxies.iter().map(|p| p.addr().to_string()).collect::<Vec<_>>());
    std::thread::sleep(Duration::from_secs(1));
    let before = w.ops.load(std::sync::atomic::Ordering::Relaxed);
    zk.kill9();
    std::thread::sleep(Duration::from_secs(4));
    let during = w.ops.load(std::sync::atomic::Ordering::Relaxed) - before;
    zk.restart();
    let t_restart = Instant::now();

    // The proxies' sessions come back (or are replaced): their jodis nodes are there, owned by
    // sessions connected again; the lock is there too.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (jodis, topom) = loop {
        let (jodis, topom) = zk_state(&zk.addr);
        let live = connected_sessions(&zk.addr);
        let paths: Vec<String> = jodis.iter().map(|(p, _)| p.clone()).collect();
        if paths == want && jodis.iter().all(|(_, owner)| live.contains(owner)) && topom.is_some() {
            break (jodis, topom);
        }
        assert!(
            Instant::now() < deadline,
            "after the restart: jodis {jodis:?} (want {want:?} owned by one of {live:?}), topom {topom:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let recovered = t_restart.elapsed();
    assert_eq!(topom.unwrap()["token"], lock_token, "the topom node is still this dashboard's lock");

    // The dashboard writes to the store again, and drives a small migration through the proxies.
    admin_ok(&[&dash, "--create-group", "--gid=3"]);
    admin_ok(&[&dash, "--slot-action", "--create-range", "--beg=0", "--end=9", "--gid=2"]);
    d.wait_no_actions(Duration::from_secs(60));
    let slots: Vec<Slot> = serde_json::from_slice(&d.get("/topom/slots").body).unwrap();
    for p in &proxies {
        let got = serde_json::to_value(p.slots().expect("proxy slots")).unwrap();
        assert_eq!(got, serde_json::to_value(&slots).unwrap(), "proxy {} table after the restart", p.admin);
    }
    // The dashboard's stats loop reaches both proxies (it refreshes them every second).
    let deadline = Instant::now() + Duration::from_secs(10);
    for p in &proxies {
        let token = p.token();
        while d.json("/topom/stats")["proxy"]["stats"][&token]["stats"]["online"] != true {
            assert!(
                Instant::now() < deadline,
                "dashboard does not see proxy {token} online: {}",
                d.json("/topom/stats")["proxy"]
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    let reports = w.finish();
    let problems = check_writes(&reports, proxies[0].addr(), &slots, &servers);
    let total: u64 = reports.iter().map(Report::ops).sum();
    eprintln!(
        "zookeeper down 4 s: {during} writes acknowledged while it was down, {total} in all, {} problems; \
         jodis nodes back {recovered:?} after the restart (same sessions: {}); test took {:?}",
        problems.len(),
        owners_before == jodis,
        t0.elapsed()
    );
    assert!(during > 100, "the proxies served while ZooKeeper was down ({during})");
    assert!(problems.is_empty(), "lost/duplicated/failed writes: {:#?}", &problems[..problems.len().min(20)]);
}
