//! Slot migration end to end between two of our servers.
//!
//! One slot is filled with `MIGRATION_KEYS` keys (default 100000) of every type spread over
//! 100 hash tags of that slot, some with TTLs, plus big keys in the first tag: a hash, a zset,
//! a list and a set of `MIGRATION_BIG` elements each (default 20000; the 1M sizes with
//! `MIGRATION_BIG=1000000`, best with `--release`), an HLL and a bitmap. The slot is then moved
//! with one method while a writer keeps changing it the way a Codis proxy does for that method:
//!
//! - sync: `SLOTSMGRTTAGSLOT` until the slot is empty; the writer first asks the source to move
//!   the key's tag (`SLOTSMGRTTAGONE`), then writes to the target;
//! - semi-async: `SLOTSMGRTTAGSLOT-ASYNC` (or `SLOTSMGRTSLOT-ASYNC`) until `[0, 0]`; the writer
//!   goes through `SLOTSMGRT-EXEC-WRAPPER` (2 done, 0 write to the target, 1 retry).
//!
//! Afterwards the source slot is empty, the target holds exactly the model (initial data plus
//! every acknowledged write, each applied once), and during the async runs a concurrent PING
//! loop on the source is answered while the big keys move (they go in chunks, not in one
//! blocking step). Its latency is printed; `MIGRATION_PING_P99_MS` turns the p99 into a check
//! for a quiet machine (timings are not checked by default: CI machines are noisy).
//! Variants cover a non-zero db and `requirepass` on both servers. A second test cancels an
//! async migration of the big keys half-way and checks that every key is on exactly one side.

#[allow(unused_macros)]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use compat::resp::Frame;
use compat::slot::slot_of;
use support::{bulk, temp_dir, Conn, Server};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

const SLOT: usize = 777;
const TAGS: usize = 100;
const COUNTERS: usize = 500;

/// Hash tags that all fall in [`SLOT`].
fn tags() -> Vec<String> {
    (0..).map(|i| format!("t{i}")).filter(|t| slot_of(t.as_bytes()) == SLOT).take(TAGS).collect()
}

fn key(tags: &[String], i: usize) -> String {
    format!("{{{}}}:k{i}", tags[i % TAGS])
}

fn counter(tags: &[String], j: usize) -> String {
    format!("{{{}}}:ctr{j}", tags[j % TAGS])
}

/// A value as compared after the migration (collections in a canonical order).
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, String)>),
}

struct Model {
    vals: HashMap<String, Val>,
    /// Keys created with a TTL of one hour.
    volatile: Vec<String>,
}

fn b(s: impl AsRef<[u8]>) -> Vec<u8> {
    s.as_ref().to_vec()
}

/// Builds the data set on `c` and returns its model.
fn fill(c: &mut Conn, tags: &[String], n: usize, big: usize) -> Model {
    let mut vals = HashMap::new();
    let mut volatile = Vec::new();
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    for i in 0..n {
        let k = key(tags, i);
        let (cmd, v): (Vec<Vec<u8>>, Val) = match i % 6 {
            0 => (vec![b("SET"), b(&k), b(format!("v{i}"))], Val::Str(b(format!("v{i}")))),
            1 => (vec![b("SET"), b(&k), b(i.to_string())], Val::Str(b(i.to_string()))),
            2 => (
                vec![b("RPUSH"), b(&k), b("a"), b(i.to_string()), b("c")],
                Val::List(vec![b("a"), b(i.to_string()), b("c")]),
            ),
            3 => (
                vec![b("HSET"), b(&k), b("f1"), b("v1"), b("f2"), b(i.to_string())],
                Val::Hash([(b("f1"), b("v1")), (b("f2"), b(i.to_string()))].into_iter().collect()),
            ),
            4 => (
                vec![b("SADD"), b(&k), b("m1"), b(i.to_string()), b("x")],
                Val::Set({
                    let mut s = vec![b("m1"), b(i.to_string()), b("x")];
                    s.sort();
                    s
                }),
            ),
            _ => (
                vec![b("ZADD"), b(&k), b("1"), b("a"), b(format!("{}.5", i % 100)), b("b")],
                Val::ZSet(vec![(b("a"), "1".into()), (b("b"), format!("{}.5", i % 100))]),
            ),
        };
        cmds.push(cmd);
        if i % 10 == 7 {
            cmds.push(vec![b("PEXPIRE"), b(&k), b("3600000")]);
            volatile.push(k.clone());
        }
        vals.insert(k, v);
    }
    let t0 = &tags[0];
    let big_hash = format!("{{{t0}}}:bighash");
    let big_zset = format!("{{{t0}}}:bigzset");
    let big_list = format!("{{{t0}}}:biglist");
    let big_set = format!("{{{t0}}}:bigset");
    let (mut h, mut z, mut l, mut s) = (BTreeMap::new(), Vec::new(), Vec::new(), Vec::new());
    for start in (0..big).step_by(1000) {
        let end = (start + 1000).min(big);
        let mut hc = vec![b("HSET"), b(&big_hash)];
        let mut zc = vec![b("ZADD"), b(&big_zset)];
        let mut lc = vec![b("RPUSH"), b(&big_list)];
        let mut sc = vec![b("SADD"), b(&big_set)];
        for j in start..end {
            hc.extend([b(format!("field:{j}")), b(format!("value:{j}"))]);
            h.insert(b(format!("field:{j}")), b(format!("value:{j}")));
            zc.extend([b(format!("{j}.25")), b(format!("member:{j}"))]);
            z.push((b(format!("member:{j}")), format!("{j}.25")));
            lc.push(b(format!("item:{j}")));
            l.push(b(format!("item:{j}")));
            sc.push(b(format!("s:{j}")));
            s.push(b(format!("s:{j}")));
        }
        cmds.extend([hc, zc, lc, sc]);
    }
    s.sort();
    vals.insert(big_hash, Val::Hash(h));
    vals.insert(big_zset, Val::ZSet(z));
    vals.insert(big_list, Val::List(l));
    vals.insert(big_set, Val::Set(s));
    // HyperLogLog and bitmap: strings, compared byte for byte with the source's bytes.
    let hll = format!("{{{t0}}}:hll");
    let mut pf = vec![b("PFADD"), b(&hll)];
    pf.extend((0..2000).map(|j| b(format!("e{j}"))));
    cmds.push(pf);
    let bitmap = format!("{{{t0}}}:bitmap");
    for off in [0usize, 7, 4095, 100_000, 999_999] {
        cmds.push(vec![b("SETBIT"), b(&bitmap), b(off.to_string()), b("1")]);
    }
    for j in 0..COUNTERS / 2 {
        cmds.push(vec![b("SET"), b(counter(tags, j)), b("0")]);
    }
    cmds.push(vec![b("SET"), b("{other}control"), b("stays")]);
    c.pipeline(&cmds);
    for k in [hll, bitmap] {
        let v = support::bulk(c.cmd(&["GET", &k]));
        vals.insert(k, Val::Str(v.to_vec()));
    }
    Model { vals, volatile }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Method {
    Sync,
    AsyncTagSlot,
    AsyncSlot,
}

#[derive(Clone, Copy)]
struct Setup {
    db: usize,
    password: Option<&'static str>,
}

fn connect(port: u16, s: &Setup) -> Conn {
    let mut c = Conn::connect(port).unwrap();
    if let Some(pw) = s.password {
        c.ok(&["AUTH", pw]);
    }
    c.ok(&["SELECT", &s.db.to_string()]);
    c
}

/// What the writer did: final counter values and the `w` field it set on hash keys.
#[derive(Default)]
struct Writes {
    counters: HashMap<String, i64>,
    hash_w: HashMap<String, String>,
    ops: usize,
    retries: usize,
}

/// Runs `cmd` for `hashkey` the way a proxy does during a migration.
fn proxied(method: Method, src: &mut Conn, dst: &mut Conn, dst_port: u16, hashkey: &str, cmd: &[&str], w: &mut Writes) {
    loop {
        if method == Method::Sync {
            let r = src.cmd(&["SLOTSMGRTTAGONE", "127.0.0.1", &dst_port.to_string(), "30000", hashkey]);
            assert!(matches!(r, Frame::Integer(_)), "SLOTSMGRTTAGONE -> {r:?}");
            let r = dst.cmd(cmd);
            assert!(!r.is_error(), "{cmd:?} on target -> {r:?}");
            return;
        }
        let mut args = vec!["SLOTSMGRT-EXEC-WRAPPER", hashkey];
        args.extend_from_slice(cmd);
        let Frame::Array(items) = src.cmd(&args) else { panic!("EXEC-WRAPPER reply") };
        match &items[0] {
            Frame::Integer(2) => {
                assert!(!items[1].is_error(), "{cmd:?} -> {:?}", items[1]);
                return;
            }
            Frame::Integer(0) => {
                let r = dst.cmd(cmd);
                assert!(!r.is_error(), "{cmd:?} on target -> {r:?}");
                return;
            }
            Frame::Integer(1) => {
                w.retries += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            other => panic!("EXEC-WRAPPER {cmd:?} -> {other:?} {:?}", items[1]),
        }
    }
}

fn writer(
    method: Method,
    setup: &Setup,
    ports: (u16, u16),
    tags: Vec<String>,
    n: usize,
    stop: Arc<AtomicBool>,
) -> Writes {
    let mut src = connect(ports.0, setup);
    let mut dst = connect(ports.1, setup);
    let mut w = Writes::default();
    let mut seq = 0usize;
    while !stop.load(Ordering::Acquire) {
        seq += 1;
        // Deterministic mix: counters (half pre-existing, half new) and hash keys.
        let pick = seq.wrapping_mul(2654435761) % 1_000_003;
        if seq.is_multiple_of(3) {
            let i = (pick % (n / 6).max(1)) * 6 + 3;
            if i >= n {
                continue;
            }
            let k = key(&tags, i);
            let v = format!("w{seq}");
            proxied(method, &mut src, &mut dst, ports.1, &k, &["HSET", &k, "w", &v], &mut w);
            w.hash_w.insert(k, v);
        } else {
            let k = counter(&tags, pick % COUNTERS);
            proxied(method, &mut src, &mut dst, ports.1, &k, &["INCR", &k], &mut w);
            *w.counters.entry(k).or_default() += 1;
        }
        w.ops += 1;
        // A bounded writer: about 5000 writes per second at most.
        std::thread::sleep(Duration::from_micros(200));
    }
    w
}

/// PING latencies on the source (ms) until `stop`.
/// PINGs the source until stopped: when each reply came, and how long it took (ms).
fn pinger(port: u16, setup: &Setup, stop: Arc<AtomicBool>) -> Vec<(Instant, f64)> {
    let mut c = connect(port, setup);
    let mut lat = Vec::new();
    while !stop.load(Ordering::Acquire) {
        let t = Instant::now();
        assert_eq!(c.cmd(&["PING"]), Frame::Simple("PONG".into()));
        lat.push((Instant::now(), t.elapsed().as_secs_f64() * 1000.0));
        std::thread::sleep(Duration::from_micros(500));
    }
    lat
}

/// (p99, max) of the latencies, in ms.
fn p99_max(samples: &[(Instant, f64)]) -> (f64, f64) {
    let mut lat: Vec<f64> = samples.iter().map(|s| s.1).collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let p99 = lat.get((lat.len() * 99 / 100).min(lat.len().saturating_sub(1))).copied().unwrap_or_default();
    (p99, lat.last().copied().unwrap_or_default())
}

fn pair(f: Frame) -> (i64, i64) {
    match f {
        Frame::Array(v) if v.len() == 2 => match (&v[0], &v[1]) {
            (Frame::Integer(a), Frame::Integer(b)) => (*a, *b),
            _ => panic!("{v:?}"),
        },
        f => panic!("not a pair: {f:?}"),
    }
}

fn migrate(method: Method, c: &mut Conn, dst_port: u16) -> usize {
    let port = dst_port.to_string();
    let slot = SLOT.to_string();
    let mut calls = 0;
    loop {
        calls += 1;
        let args: Vec<&str> = match method {
            Method::Sync => vec!["SLOTSMGRTTAGSLOT", "127.0.0.1", &port, "30000", &slot],
            Method::AsyncTagSlot => {
                vec!["SLOTSMGRTTAGSLOT-ASYNC", "127.0.0.1", &port, "30000", "200", "33554432", &slot, "500"]
            }
            Method::AsyncSlot => {
                vec!["SLOTSMGRTSLOT-ASYNC", "127.0.0.1", &port, "30000", "200", "33554432", &slot, "500"]
            }
        };
        let (moved, remaining) = pair(c.cmd(&args));
        let done = match method {
            Method::Sync => remaining == 0,
            _ => moved == 0 && remaining == 0,
        };
        if done {
            return calls;
        }
        assert!(calls < 1_000_000, "migration does not end");
    }
}

/// Reads a value in pages of 10000 elements (one reply of a million elements would be parsed
/// again on every read by the test client).
fn read_val(c: &mut Conn, k: &str) -> Option<Val> {
    const PAGE: usize = 10_000;
    let Frame::Simple(t) = c.cmd(&["TYPE", k]) else { panic!("TYPE") };
    let strings = |f: Frame| support::strings(f).into_iter().map(|x| x.to_vec()).collect::<Vec<_>>();
    let scan = |c: &mut Conn, cmd: &str| {
        let mut out = Vec::new();
        let mut cursor = "0".to_string();
        loop {
            let Frame::Array(mut r) = c.cmd(&[cmd, k, &cursor, "COUNT", &PAGE.to_string()]) else { panic!("{cmd}") };
            out.extend(strings(r.pop().unwrap()));
            cursor = String::from_utf8_lossy(&support::bulk(r.pop().unwrap())).into_owned();
            if cursor == "0" {
                return out;
            }
        }
    };
    let pages = |c: &mut Conn, cmd: &[&str]| {
        let mut out = Vec::new();
        for start in (0..).step_by(PAGE) {
            let (a, b) = (start.to_string(), (start + PAGE - 1).to_string());
            let mut args = vec![cmd[0], k, &a, &b];
            args.extend_from_slice(&cmd[1..]);
            let page = strings(c.cmd(&args));
            if page.is_empty() {
                return out;
            }
            out.extend(page);
        }
        out
    };
    Some(match &t[..] {
        b"none" => return None,
        b"string" => Val::Str(support::bulk(c.cmd(&["GET", k])).to_vec()),
        b"list" => Val::List(pages(c, &["LRANGE"])),
        b"hash" => Val::Hash(scan(c, "HSCAN").chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect()),
        b"set" => {
            let mut s = scan(c, "SSCAN");
            s.sort();
            s.dedup();
            Val::Set(s)
        }
        b"zset" => {
            let flat = pages(c, &["ZRANGE", "WITHSCORES"]);
            Val::ZSet(flat.chunks(2).map(|p| (p[0].clone(), String::from_utf8_lossy(&p[1]).into_owned())).collect())
        }
        other => panic!("type {other:?}"),
    })
}

fn slot_keys(c: &mut Conn) -> usize {
    match c.cmd(&["SLOTSINFO", &SLOT.to_string(), "1"]) {
        Frame::Array(v) if v.is_empty() => 0,
        Frame::Array(v) => pair(v[0].clone()).1 as usize,
        f => panic!("{f:?}"),
    }
}

/// One scenario at a time: four servers on a 2-core machine would measure the scheduler.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn scenario(method: Method, setup: Setup) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = env_num("MIGRATION_KEYS", 100_000);
    let big = env_num("MIGRATION_BIG", 20_000);
    let p99_limit = std::env::var("MIGRATION_PING_P99_MS").ok().and_then(|v| v.parse::<f64>().ok());
    let dir = temp_dir(&format!("mig-{method:?}").to_lowercase());
    let (ds, dt) = (dir.join("s"), dir.join("t"));
    std::fs::create_dir_all(&ds).unwrap();
    std::fs::create_dir_all(&dt).unwrap();
    let extra: Vec<&str> = match setup.password {
        Some(pw) => vec!["--requirepass", pw],
        None => vec![],
    };
    let src = Server::ours(&ds, &extra);
    let dst = Server::ours(&dt, &extra);
    let tags = tags();
    let mut c = connect(src.port, &setup);
    let t = Instant::now();
    let mut model = fill(&mut c, &tags, n, big);
    eprintln!("{method:?}: filled {} keys (big {big}) in {:?}", model.vals.len(), t.elapsed());

    let stop = Arc::new(AtomicBool::new(false));
    let ports = (src.port, dst.port);
    let w = {
        let (stop, tags) = (stop.clone(), tags.clone());
        std::thread::spawn(move || writer(method, &setup, ports, tags, n, stop))
    };
    let t = Instant::now();
    if method != Method::Sync {
        // The big keys first, on their own, with the source's PING latency watched.
        let ping_stop = Arc::new(AtomicBool::new(false));
        let pings = {
            let stop = ping_stop.clone();
            std::thread::spawn(move || pinger(ports.0, &setup, stop))
        };
        std::thread::sleep(Duration::from_millis(50));
        let t0 = &tags[0];
        let port = dst.port.to_string();
        let mut args = vec!["SLOTSMGRTONE-ASYNC", "127.0.0.1", &port, "30000", "200", "33554432"];
        let bigs: Vec<String> = ["bighash", "bigzset", "biglist", "bigset", "hll", "bitmap"]
            .iter()
            .map(|s| format!("{{{t0}}}:{s}"))
            .collect();
        args.extend(bigs.iter().map(|s| s.as_str()));
        let tb = Instant::now();
        assert_eq!(c.cmd(&args), Frame::Integer(6));
        let te = Instant::now();
        let took = te - tb;
        ping_stop.store(true, Ordering::Release);
        let lat = pings.join().unwrap();
        let (p99, max) = p99_max(&lat);
        // Answered while the move was in flight: a server that moved the big keys in one
        // blocking step would answer at most the PING already queued when it started.
        let during = lat.iter().filter(|(at, _)| *at > tb && *at < te).count();
        eprintln!(
            "{method:?}: big keys ({big} elements each) moved in {took:?}; source PING: {} samples ({during} during the move), p99 {p99:.2} ms, max {max:.2} ms",
            lat.len()
        );
        assert!(during >= 5, "only {during} PINGs answered while the big keys moved for {took:?}");
        if let Some(limit) = p99_limit {
            assert!(p99 <= limit, "PING p99 {p99:.2} ms > {limit} ms");
        }
    }
    let pings = (method != Method::Sync).then(|| {
        let stop = stop.clone();
        std::thread::spawn(move || pinger(ports.0, &setup, stop))
    });
    let calls = migrate(method, &mut c, dst.port);
    let took = t.elapsed();
    stop.store(true, Ordering::Release);
    let writes = w.join().unwrap();
    eprintln!(
        "{method:?}: slot moved in {took:?} ({calls} calls, {:.0} keys/s); writer: {} ops, {} retries",
        model.vals.len() as f64 / took.as_secs_f64(),
        writes.ops,
        writes.retries
    );
    if let Some(p) = pings {
        let lat = p.join().unwrap();
        let (p99, max) = p99_max(&lat);
        // Reported only: the batches of 1000-key tag groups do their bookkeeping in one slice.
        eprintln!(
            "{method:?}: source PING during the whole slot: {} samples, p99 {p99:.2} ms, max {max:.2} ms",
            lat.len()
        );
    }

    // The writes, applied once each.
    // Counters start at 0 (or absent): each ends at the number of INCRs acknowledged.
    for (k, v) in &writes.counters {
        model.vals.insert(k.clone(), Val::Str(b(v.to_string())));
    }
    for j in 0..COUNTERS / 2 {
        model.vals.entry(counter(&tags, j)).or_insert_with(|| Val::Str(b("0")));
    }
    for (k, v) in &writes.hash_w {
        if let Some(Val::Hash(h)) = model.vals.get_mut(k) {
            h.insert(b("w"), b(v));
        }
    }

    let mut s = connect(src.port, &setup);
    let mut t = connect(dst.port, &setup);
    assert_eq!(slot_keys(&mut s), 0, "source slot empty");
    assert_eq!(s.cmd(&["GET", "{other}control"]), Frame::Bulk(Bytes::from_static(b"stays")));
    assert_eq!(slot_keys(&mut t), model.vals.len(), "target holds the slot and nothing else of it");
    let mut bad = Vec::new();
    for (k, v) in &model.vals {
        let got = read_val(&mut t, k);
        if got.as_ref() != Some(v) && bad.len() < 5 {
            bad.push(format!("{k}: want {v:?}, got {got:?}"));
        }
    }
    assert!(bad.is_empty(), "target differs from the model:\n{}", bad.join("\n"));
    for k in &model.volatile {
        let ttl = t.int(&["PTTL", k]);
        assert!(ttl > 3_000_000 && ttl <= 3_600_000, "{k}: PTTL {ttl}");
    }
    assert_eq!(s.cmd(&["SLOTSCHECK"]), Frame::Simple("OK".into()));
    assert_eq!(t.cmd(&["SLOTSCHECK"]), Frame::Simple("OK".into()));
}

#[test]
fn sync_migration_under_writes() {
    scenario(Method::Sync, Setup { db: 0, password: None });
}

#[test]
fn async_tag_migration_under_writes_in_db3_with_auth() {
    scenario(Method::AsyncTagSlot, Setup { db: 3, password: Some("s3cret") });
}

#[test]
fn async_slot_migration_under_writes() {
    scenario(Method::AsyncSlot, Setup { db: 0, password: None });
}

/// Every key of the slot is on exactly one side.
fn assert_one_side(s: &mut Conn, t: &mut Conn, keys: &[String]) {
    let mut both = Vec::new();
    let mut none = Vec::new();
    for k in keys {
        match (s.int(&["EXISTS", k]), t.int(&["EXISTS", k])) {
            (1, 0) | (0, 1) => {}
            (1, 1) => both.push(k.clone()),
            _ => none.push(k.clone()),
        }
    }
    assert!(both.is_empty() && none.is_empty(), "on both sides: {both:?}; on neither: {none:?}");
}

#[test]
fn cancel_and_fence_leave_every_key_on_one_side() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let big = env_num("MIGRATION_BIG", 20_000);
    let dir = temp_dir("mig-cancel");
    let (ds, dt) = (dir.join("s"), dir.join("t"));
    std::fs::create_dir_all(&ds).unwrap();
    std::fs::create_dir_all(&dt).unwrap();
    let src = Server::ours(&ds, &[]);
    let dst = Server::ours(&dt, &[]);
    let setup = Setup { db: 2, password: None };
    let tags = tags();
    let mut c = connect(src.port, &setup);
    let model = fill(&mut c, &tags, 2000, big);
    let keys: Vec<String> = model.vals.keys().cloned().collect();
    let port = dst.port.to_string();
    let slot = SLOT.to_string();
    let mut s2 = connect(src.port, &setup);
    let mut t = connect(dst.port, &setup);

    // Cancel while the tag with the big keys is on its way (maxbulks 10: many small chunks).
    for round in 0..3 {
        let ports = (src.port, port.clone(), slot.clone());
        let mover = std::thread::spawn(move || {
            let mut c = connect(ports.0, &setup);
            c.cmd(&["SLOTSMGRTTAGSLOT-ASYNC", "127.0.0.1", &ports.1, "30000", "10", "1048576", &ports.2, "500"])
        });
        std::thread::sleep(Duration::from_millis(30 + 40 * round));
        let canceled = s2.int(&["SLOTSMGRT-ASYNC-CANCEL"]);
        let r = mover.join().unwrap();
        eprintln!("cancel round {round}: CANCEL -> {canceled}, migration -> {r:?}");
        match &r {
            Frame::Error(e) => assert_eq!(&e[..], b"ERR interrupted: canceled"),
            Frame::Array(_) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(s2.cmd(&["SLOTSMGRT-ASYNC-STATUS"]), Frame::NullArray, "the client is released");
        assert_one_side(&mut s2, &mut t, &keys);
    }

    // FENCE waits for a running batch; then everything moves.
    let ports = (src.port, port.clone(), slot.clone());
    let mover = std::thread::spawn(move || {
        let mut c = connect(ports.0, &setup);
        let mut n = 0;
        loop {
            let args = ["SLOTSMGRTTAGSLOT-ASYNC", "127.0.0.1", &ports.1, "30000", "200", "1048576", &ports.2, "500"];
            let (moved, remaining) = pair(c.cmd(&args));
            n += 1;
            if moved == 0 && remaining == 0 {
                return n;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(s2.cmd(&["SLOTSMGRT-ASYNC-FENCE"]), Frame::Simple("OK".into()));
    assert!(mover.join().unwrap() >= 1);
    assert_eq!(s2.cmd(&["SLOTSMGRT-ASYNC-FENCE"]), Frame::Simple("OK".into()));
    assert_one_side(&mut s2, &mut t, &keys);
    assert_eq!(slot_keys(&mut s2), 0);
    for (k, v) in &model.vals {
        assert_eq!(read_val(&mut t, k).as_ref(), Some(v), "{k}");
    }
}

/// A synchronous `SLOTSMGRTTAGONE` (a proxy with the sync forwarding method) and an async slot
/// migration reach the same big list together, in both orders and at several offsets. Neither
/// may stream the key while the other deletes it: afterwards the list is whole on the target
/// and gone from the source, and each command either moved it, found it gone, or (the sync one
/// only, past its timeout) answered the legacy "being migrated" error.
#[test]
fn sync_tagone_during_async_batch_of_the_same_key() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let items = env_num("MIGRATION_RACE_ITEMS", 50_000);
    let dir = temp_dir("mig-race");
    let (ds, dt) = (dir.join("s"), dir.join("t"));
    std::fs::create_dir_all(&ds).unwrap();
    std::fs::create_dir_all(&dt).unwrap();
    let src = Server::ours(&ds, &[]);
    let dst = Server::ours(&dt, &[]);
    let setup = Setup { db: 0, password: None };
    let mut s = connect(src.port, &setup);
    let mut t = connect(dst.port, &setup);
    let key = (0..).map(|i| format!("racelist{i}")).find(|k| slot_of(k.as_bytes()) == SLOT).unwrap();
    let (port, slot) = (dst.port.to_string(), SLOT.to_string());
    for round in 0..8 {
        let sync_first = round % 2 == 0;
        let offset = Duration::from_millis([0, 2, 5, 15][round / 2]);
        for chunk in (0..items).collect::<Vec<_>>().chunks(5000) {
            let mut cmd = vec!["RPUSH".to_string(), key.clone()];
            cmd.extend(chunk.iter().map(|i| format!("item{i}")));
            let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
            s.cmd(&args);
        }
        let sync = {
            let (sport, port, key) = (src.port, port.clone(), key.clone());
            move || {
                connect(sport, &Setup { db: 0, password: None }).cmd(&[
                    "SLOTSMGRTTAGONE",
                    "127.0.0.1",
                    &port,
                    "3000",
                    &key,
                ])
            }
        };
        let async_slot = {
            let (sport, port, slot) = (src.port, port.clone(), slot.clone());
            move || {
                let mut c = connect(sport, &Setup { db: 0, password: None });
                let args = ["SLOTSMGRTTAGSLOT-ASYNC", "127.0.0.1", &port, "30000", "100", "1048576", &slot, "10"];
                let mut replies = Vec::new();
                loop {
                    let r = c.cmd(&args);
                    let done = r == Frame::Array(vec![Frame::Integer(0), Frame::Integer(0)]);
                    replies.push(r);
                    if done || replies.len() > 100 {
                        return replies;
                    }
                }
            }
        };
        let (sync_reply, async_replies) = if sync_first {
            let a = std::thread::spawn(sync);
            std::thread::sleep(offset);
            let b = std::thread::spawn(async_slot);
            (a.join().unwrap(), b.join().unwrap())
        } else {
            let b = std::thread::spawn(async_slot);
            std::thread::sleep(offset);
            let a = std::thread::spawn(sync);
            (a.join().unwrap(), b.join().unwrap())
        };
        eprintln!("round {round} (sync first: {sync_first}, {offset:?}): {sync_reply:?} / {async_replies:?}");
        match &sync_reply {
            Frame::Integer(0 | 1) => {}
            Frame::Error(e) => assert_eq!(&e[..], b"ERR the specified key is being migrated"),
            other => panic!("SLOTSMGRTTAGONE answered {other:?}"),
        }
        for r in &async_replies {
            assert!(matches!(r, Frame::Array(v) if v.len() == 2), "SLOTSMGRTTAGSLOT-ASYNC answered {r:?}");
        }
        assert_eq!(s.int(&["EXISTS", &key]), 0, "round {round}: the key is left on the source");
        assert_eq!(t.int(&["LLEN", &key]), items as i64, "round {round}: the list on the target");
        assert_eq!(bulk(t.cmd(&["LINDEX", &key, "0"])), Bytes::from("item0"));
        let last = format!("item{}", items - 1);
        assert_eq!(bulk(t.cmd(&["LINDEX", &key, "-1"])), Bytes::from(last));
        t.int(&["DEL", &key]);
    }
}
