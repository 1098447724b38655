//! Conformance of our dashboard with the recorded Go dashboard (`codis-3.2/c00`, `c1`, `b1`,
//! `b2`; see `fixtures/README.md`), on ZooKeeper, etcd and the filesystem coordinator:
//!
//! 1. the cluster of the recording is built with our codis-admin (c00 commands): two groups of
//!    our codis-servers with replicas synced by the dashboard, slots rebalanced, a sentinel;
//!    the coordinator tree then equals b1 (on ZooKeeper including every node's data version);
//! 2. every recorded REST call (c1) is replayed and our answer compared with Go's: status line,
//!    content type, body (tokens, times, pids, INFO contents and addresses normalised);
//! 3. the dashboard is restarted, slots 0-99 migrate to group 2 (semi-async), group 2 is
//!    resynced: the tree equals b2.
//!
//! The two proxies of the recording (admin 11080/11081, proxy 19000/19001) are our codis-proxy
//! processes, registered in jodis on the same coordinator; their tokens (random per start) are
//! mapped to the recorded ones like the addresses. `/debug/pprof` (Go's profiler) is not served
//! and not compared.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use dashboard::ordered::Json;
use support::*;

const C1: &str = include_str!("fixtures/c1_dashboard_api_calls.min.jsonl");
const B1: &str = include_str!("fixtures/b1_zk_tree_after_setup.min.json");
const B2: &str = include_str!("fixtures/b2_zk_tree_after_migration_0-99.min.json");

/// Recorded address → ours.
struct Ports(Vec<(String, String)>);

impl Ports {
    fn fwd(&self, s: &str) -> String {
        replace_addrs(s, self.0.iter().map(|(a, b)| (a.as_str(), b.as_str())))
    }
    fn back(&self, s: &str) -> String {
        replace_addrs(s, self.0.iter().map(|(a, b)| (b.as_str(), a.as_str())))
    }
}

/// Replaces `from` addresses by `to`, only where the port is not followed by another digit.
fn replace_addrs<'a>(s: &str, pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let b = s.as_bytes();
    'outer: while i < s.len() {
        for (from, to) in pairs.clone() {
            if s[i..].starts_with(from) && !b.get(i + from.len()).is_some_and(|c| c.is_ascii_digit()) {
                out.push_str(to);
                i += from.len();
                continue 'outer;
            }
        }
        let ch = s[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn set(j: &mut Json, key: &str, v: Json) {
    if let Json::Object(kv) = j {
        for (k, x) in kv.iter_mut() {
            if k == key {
                *x = v.clone();
            }
        }
    }
}

fn s(v: &str) -> Json {
    Json::String(v.to_string())
}

/// Fields that differ between any two runs of any dashboard.
fn normalize_json(j: &mut Json) {
    match j {
        Json::Object(kv) => {
            for (k, v) in kv.iter_mut() {
                match k.as_str() {
                    "token" => *v = s("<token>"),
                    // "start" is the start time in a jodis node.
                    "start_time" | "start" => *v = s("<time>"),
                    "pid" => *v = Json::Number(0.into()),
                    "pwd" => *v = s("<pwd>"),
                    "sys" => *v = s("<sys>"),
                    "hostname" => *v = s("<host>"),
                    "coordinator_name" | "coordinator_addr" => *v = s("<coordinator>"),
                    "Stack" => *v = Json::Null,
                    _ => normalize_json(v),
                }
            }
        }
        Json::Array(a) => a.iter_mut().for_each(normalize_json),
        _ => {}
    }
}

fn normalize_stats(st: &mut Json) {
    for sec in ["group", "sentinels", "proxy"] {
        if let Json::Object(kv) = st {
            for (k, v) in kv.iter_mut() {
                if k == sec {
                    if let Some(Json::Object(inner)) = Some(&mut *v) {
                        for (ik, iv) in inner.iter_mut() {
                            if ik == "stats" {
                                if let Json::Object(m) = iv {
                                    m.iter_mut().for_each(|(_, x)| *x = s("<stats>"));
                                    // Keyed by proxy token: Go sorts the keys, ours map back to
                                    // the recorded tokens in another order.
                                    m.sort_by(|a, b| a.0.cmp(&b.0));
                                    if sec == "group" {
                                        // Which servers were polled already depends on timing.
                                        *iv = s("<stats>");
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn normalize_body(body: &str, path: &str) -> String {
    let Ok(mut j) = Json::parse(body.as_bytes()) else { return body.to_string() };
    normalize_json(&mut j);
    if path == "/topom" {
        set(&mut j, "version", s("<version>"));
        set(&mut j, "compile", s("<compile>"));
        if let Json::Object(kv) = &mut j {
            for (k, v) in kv.iter_mut() {
                if k == "stats" {
                    normalize_stats(v);
                }
            }
        }
    } else if path == "/topom/stats" || path.starts_with("/api/topom/stats/") {
        normalize_stats(&mut j);
    } else if path.starts_with("/api/topom/group/info/")
        || (path.starts_with("/api/topom/sentinels/info/") && !path.ends_with("/monitored"))
    {
        if matches!(j, Json::Object(ref kv) if !kv.iter().any(|(k, _)| k == "Cause")) {
            j = s("<INFO of the server>");
        }
    } else if path.ends_with("/monitored") {
        if let Json::Object(kv) = &mut j {
            // Which replicas a young sentinel has discovered yet depends on timing.
            for (_, g) in kv.iter_mut() {
                *g = Json::Object(vec![("master".into(), s("<sentinel's view of the master and replicas>"))]);
            }
        }
    }
    if let Some(Json::String(c)) = j.get("Cause").cloned().as_ref() {
        // Redis 7's sentinel words the unknown command longer than 3.2 did.
        if c.starts_with("ERR unknown command 'CONFIG'") {
            set(&mut j, "Cause", s("ERR unknown command 'CONFIG'"));
        }
    }
    compat::models::json::to_string_indent(&j)
}

/// A coordinator tree as `path → (data normalised, version)`.
fn normalize_tree(
    nodes: Vec<(String, String, Option<i64>)>,
    ports: Option<&Ports>,
) -> BTreeMap<String, (String, Option<i64>)> {
    let mut out = BTreeMap::new();
    for (path, data, version) in nodes {
        let (path, data) = match ports {
            // Proxy nodes are named by token.
            Some(p) => (p.back(&path), p.back(&data)),
            None => (path, data),
        };
        let data = if data.is_empty() { data } else { normalize_body(&data, &path) };
        out.insert(path, (data, version));
    }
    out
}

/// The recorded tree; `no_jodis` leaves out the jodis nodes (the proxies' ephemerals).
fn recorded_tree(text: &str, no_jodis: bool) -> Vec<(String, String, Option<i64>)> {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|n| !(no_jodis && n["path"].as_str().is_some_and(|p| p.starts_with("/jodis/"))))
        .map(|n| {
            (
                n["path"].as_str().unwrap().to_string(),
                n["data"].as_str().unwrap_or("").to_string(),
                n["version"].as_i64(),
            )
        })
        .collect()
}

/// Our tree: through the coordinator client (versions from ZooKeeper itself when `zk`).
fn our_tree(coord: &Coord, zk: bool) -> Vec<(String, String, Option<i64>)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut out = Vec::new();
        if zk {
            let c = zookeeper_client::Client::connect(&coord.addr).await.unwrap();
            let mut stack = vec!["/codis3".to_string(), "/jodis".to_string()];
            while let Some(p) = stack.pop() {
                let Ok((data, stat)) = c.get_data(&p).await else { continue };
                out.push((p.clone(), String::from_utf8_lossy(&data).into_owned(), Some(stat.version as i64)));
                for ch in c.list_children(&p).await.unwrap_or_default() {
                    stack.push(format!("{p}/{ch}"));
                }
            }
        } else {
            let spec = compat::coordinator::Spec::new(coord.name, &coord.addr, "").unwrap();
            let c = spec.connect(Duration::from_secs(5)).await.unwrap();
            let mut stack = vec!["/codis3".to_string(), "/jodis".to_string()];
            while let Some(p) = stack.pop() {
                let kids = c.list(&p, false).await.unwrap_or_default();
                let data = c.read(&p, false).await.ok().flatten();
                if data.is_none() && kids.is_empty() {
                    continue;
                }
                out.push((p.clone(), String::from_utf8_lossy(&data.unwrap_or_default()).into_owned(), None));
                stack.extend(kids);
            }
        }
        out
    })
}

fn compare_trees(
    name: &str,
    want: &BTreeMap<String, (String, Option<i64>)>,
    got: &BTreeMap<String, (String, Option<i64>)>,
    versions: bool,
    fs_dirs: bool,
) -> Vec<String> {
    let mut diffs = Vec::new();
    for (p, (data, ver)) in want {
        // The filesystem and etcd coordinators have no data on directories: skip empty dirs.
        match got.get(p) {
            None if fs_dirs && data.is_empty() => {}
            None => diffs.push(format!("{name}: missing node {p}")),
            Some((d, v)) => {
                if d != data {
                    diffs.push(format!("{name}: {p} data differs:\n--- want\n{data}\n--- got\n{d}"));
                }
                if versions && v != ver {
                    diffs.push(format!("{name}: {p} version {v:?}, want {ver:?}"));
                }
            }
        }
    }
    for p in got.keys() {
        if !want.contains_key(p) {
            diffs.push(format!("{name}: unexpected node {p}"));
        }
    }
    diffs
}

fn wait_synced(d: &Dashboard, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s = d.json("/topom/stats");
        let synced = s["group"]["models"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["servers"].as_array().unwrap().iter())
            .filter(|x| x["action"]["state"] == "synced")
            .count();
        if synced >= n {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "replicas not synced: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn scenario(coord: Coord, zk: bool, root: &Path) -> Vec<String> {
    let servers: Vec<Proc> = (0..6).map(|_| codis_server(root)).collect();
    let sentinel = sentinel(root);
    // The recording's proxies, registered in jodis on the same coordinator. The filesystem
    // coordinator has no ephemeral nodes (nor has Go's fsclient): there the proxies have their
    // jodis path but no jodis node, and the recorded jodis nodes are not expected.
    let fs = coord.name == "filesystem";
    let jodis = format!("jodis_name = \"{}\"\njodis_addr = \"{}\"\n", coord.name, coord.addr);
    let proxies: Vec<ProxyProc> = (0..2).map(|_| codis_proxy(root, &jodis, &[])).collect();
    let dead = |_: ()| format!("127.0.0.1:{}", free_port());
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (i, s) in servers.iter().enumerate() {
        pairs.push((format!("127.0.0.1:{}", 6379 + i), s.addr.clone()));
    }
    pairs.push(("127.0.0.1:6399".into(), dead(())));
    pairs.push(("127.0.0.1:11099".into(), dead(())));
    pairs.push(("127.0.0.1:26399".into(), dead(())));
    if let Some(s) = &sentinel {
        pairs.push(("127.0.0.1:26379".into(), s.addr.clone()));
    }
    let recorded = [
        ("127.0.0.1:11080", "127.0.0.1:19000", "91ebd8e7a3491a145e0c03b773f15833"),
        ("127.0.0.1:11081", "127.0.0.1:19001", "1a8e58900b5968636957a96bb5d52ab2"),
    ];
    for ((admin, addr, token), p) in recorded.iter().zip(&proxies) {
        pairs.push((admin.to_string(), p.admin.clone()));
        pairs.push((addr.to_string(), p.addr().to_string()));
        pairs.push((token.to_string(), p.token()));
    }
    let extra = "sentinel_quorum = 1\nsentinel_down_after = \"5s\"\n";
    let d = dashboard(root, &coord, extra, &[]);
    pairs.push(("127.0.0.1:18080".into(), d.addr().to_string()));
    let ports = Ports(pairs);

    // 1. c00: the setup commands, through our codis-admin.
    let dash = format!("--dashboard={}", d.addr());
    let a = |rec: &str| ports.fwd(rec);
    for gid in ["1", "2"] {
        admin_ok(&[&dash, "--create-group", &format!("--gid={gid}")]);
    }
    for (gid, addr) in
        [("1", "127.0.0.1:6379"), ("1", "127.0.0.1:6380"), ("2", "127.0.0.1:6381"), ("2", "127.0.0.1:6382")]
    {
        admin_ok(&[&dash, "--group-add", &format!("--gid={gid}"), &format!("--addr={}", a(addr))]);
    }
    for addr in ["127.0.0.1:6380", "127.0.0.1:6382"] {
        admin_ok(&[&dash, "--sync-action", "--create", &format!("--addr={}", a(addr))]);
    }
    for addr in ["127.0.0.1:11080", "127.0.0.1:11081"] {
        admin_ok(&[&dash, "--create-proxy", &format!("--addr={}", a(addr))]);
    }
    let plan = admin_ok(&[&dash, "--rebalance"]);
    assert_eq!(plan, "[0000,0511] => 1\n[0512,1023] => 2\ndone\n");
    assert_eq!(admin_ok(&[&dash, "--rebalance", "--confirm"]), plan);
    if let Some(s) = &sentinel {
        admin_ok(&[&dash, "--sentinel-add", &format!("--addr={}", s.addr)]);
        admin_ok(&[&dash, "--sentinel-resync"]);
    }
    d.wait_no_actions(Duration::from_secs(120));
    wait_synced(&d, 2);

    let mut diffs = Vec::new();
    let want = normalize_tree(recorded_tree(B1, fs), None);
    let got = normalize_tree(our_tree(&coord, zk), Some(&ports));
    diffs.extend(compare_trees("b1", &want, &got, zk, !zk));

    // 2. c1: every recorded call.
    let mut transcript = String::new();
    let mut last_time: Option<f64> = None;
    for (i, line) in C1.lines().enumerate() {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        let path = rec["path"].as_str().unwrap();
        let method = rec["method"].as_str().unwrap();
        let t = time_of(rec["time_utc"].as_str().unwrap_or(""));
        if let (Some(prev), Some(now)) = (last_time, t) {
            // The recording waited here (for the sync action): so do we.
            if now - prev > 1.0 {
                std::thread::sleep(Duration::from_secs_f64((now - prev).min(5.0)));
            }
        }
        last_time = t;
        if path.starts_with("/debug/pprof") || (sentinel.is_none() && path.contains("sentinel")) {
            transcript.push_str(&format!("#{i} {method} {path} SKIPPED\n"));
            continue;
        }
        let body = rec["request_body"].as_str().unwrap_or("");
        let r = http(d.addr(), method, &ports.fwd(path), body.as_bytes());
        let want_status = rec["status"].as_u64().map(|s| s as u16);
        let got_body = ports.back(&String::from_utf8_lossy(&r.body));
        let want_body = rec["response_body"].as_str().unwrap_or("");
        let (gn, wn) = (normalize_body(&got_body, path), normalize_body(want_body, path));
        let mut problems = Vec::new();
        if r.status != want_status {
            problems.push(format!("status {:?}, want {want_status:?}", r.status));
        }
        if want_status.is_some() && r.status_line != rec["status_line"].as_str().unwrap_or("") {
            problems.push(format!("status line {:?}, want {:?}", r.status_line, rec["status_line"]));
        }
        for h in rec["response_headers"].as_array().unwrap() {
            let (k, v) = (h[0].as_str().unwrap(), h[1].as_str().unwrap());
            if r.header(k) != Some(v) {
                problems.push(format!("header {k}: {:?}, want {v:?}", r.header(k)));
            }
        }
        // The recording kept no body for some answers (e.g. #2): nothing to compare there.
        if gn != wn && !want_body.is_empty() {
            problems.push(format!("body:\n--- want\n{wn}\n--- got\n{gn}"));
        }
        // Long bodies are compared in full above; the snapshot keeps their start and size.
        let shown = if gn.len() > 600 {
            format!("{}... ({} bytes)", &gn[..gn.floor_char_boundary(600)], gn.len())
        } else {
            gn.clone()
        };
        transcript.push_str(&format!("#{i} {method} {path} -> {:?}\n{shown}\n", r.status));
        for p in problems {
            diffs.push(format!("c1 #{i} {method} {path}: {p}"));
        }
    }
    if zk {
        insta::assert_snapshot!("c1_replay_zookeeper", transcript);
    }

    // 3. The recording restarted the dashboard, then migrated slots 0-99 to group 2.
    drop(d);
    let d = dashboard(root, &coord, extra, &["--remove-lock"]);
    let keys = write_keys_in_slots(&servers[0].addr, 0..100, 400);
    admin_ok(&[
        &format!("--dashboard={}", d.addr()),
        "--slot-action",
        "--create-range",
        "--beg=0",
        "--end=99",
        "--gid=2",
    ]);
    d.wait_no_actions(Duration::from_secs(120));
    admin_ok(&[&format!("--dashboard={}", d.addr()), "--resync-group", "--gid=2"]);
    for k in &keys {
        assert_eq!(redis(&servers[2].addr, &["EXISTS", k]), b":1\r\n", "{k} not on the target");
        assert_eq!(redis(&servers[0].addr, &["EXISTS", k]), b":0\r\n", "{k} left on the source");
    }
    let mut ports2 = ports.0.clone();
    ports2.retain(|(rec, _)| rec != "127.0.0.1:18080");
    ports2.push(("127.0.0.1:18080".into(), d.addr().to_string()));
    let ports2 = Ports(ports2);
    let want = normalize_tree(recorded_tree(B2, fs), None);
    let got = normalize_tree(our_tree(&coord, zk), Some(&ports2));
    diffs.extend(compare_trees("b2", &want, &got, zk, !zk));
    drop(sentinel);
    drop(proxies);
    diffs
}

fn time_of(t: &str) -> Option<f64> {
    // 2026-11-22T01:45:10.836622: seconds of the day are enough for gaps.
    let hms = t.split('T').nth(1)?;
    let mut it = hms.split(':');
    let (h, m, s): (f64, f64, f64) = (it.next()?.parse().ok()?, it.next()?.parse().ok()?, it.next()?.parse().ok()?);
    Some(h * 3600.0 + m * 60.0 + s)
}

/// Writes `n` keys spread over `slots` into `addr`; returns them.
pub fn write_keys_in_slots(addr: &str, slots: std::ops::Range<u16>, n: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut i = 0u64;
    while keys.len() < n {
        let k = format!("key:{i}");
        i += 1;
        if slots.contains(&(compat::slot::slot_of(k.as_bytes()) as u16)) {
            assert_eq!(redis(addr, &["SET", &k, "v"]), b"+OK\r\n");
            keys.push(k);
        }
    }
    keys
}

fn run_or_report(name: &str, diffs: Vec<String>) {
    if !diffs.is_empty() {
        panic!("{name}: {} differences from the recording:\n\n{}", diffs.len(), diffs.join("\n\n"));
    }
}

#[test]
fn c1_replay_on_zookeeper() {
    let Some(zk) = peers::zookeeper() else { return };
    let root = temp_dir("dash-zk");
    let diffs = scenario(Coord { name: "zookeeper", addr: zk.addr.clone() }, true, &root.0);
    run_or_report("zookeeper", diffs);
}

#[test]
fn c1_replay_on_etcd() {
    let Some(etcd) = peers::etcd() else { return };
    let root = temp_dir("dash-etcd");
    let diffs = scenario(Coord { name: "etcd", addr: etcd.addr.clone() }, false, &root.0);
    run_or_report("etcd", diffs);
}

#[test]
fn c1_replay_on_filesystem() {
    let root = temp_dir("dash-fs");
    let fsdir = root.0.join("coordinator");
    let diffs = scenario(Coord { name: "filesystem", addr: fsdir.display().to_string() }, false, &root.0);
    run_or_report("filesystem", diffs);
}
