//! Slot migration throughput (run by `scripts/bench-migration`; ignored in CI).
//!
//! Two of our servers on free local ports. Case 1: one slot of `BENCH_KEYS` small keys
//! (default 100000: 16-byte values over 100 hash tags of the slot) moved the way the
//! dashboard does it (`SLOTSMGRTTAGSLOT-ASYNC ... 200 32mb <slot> 500` until `[0, 0]`), and
//! with the sync `SLOTSMGRTTAGSLOT`. Case 2: one zset of `BENCH_ZSET_MEMBERS` members of
//! `BENCH_MEMBER_LEN` bytes (default 1M x 100 B) moved with `SLOTSMGRTONE-ASYNC`.
//! Prints keys/s and MB/s (MB of key and element bytes moved).

#[allow(unused_macros)]
mod support;

use std::time::Instant;

use compat::resp::Frame;
use compat::slot::slot_of;
use support::{temp_dir, Conn, Server};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

const SLOT: usize = 321;

fn pair(f: Frame) -> (i64, i64) {
    match f {
        Frame::Array(v) => match (&v[0], &v[1]) {
            (Frame::Integer(a), Frame::Integer(b)) => (*a, *b),
            _ => panic!("{v:?}"),
        },
        f => panic!("{f:?}"),
    }
}

fn servers(tag: &str) -> (support::TempDir, Server, Server) {
    let dir = temp_dir(tag);
    let (ds, dt) = (dir.join("s"), dir.join("t"));
    std::fs::create_dir_all(&ds).unwrap();
    std::fs::create_dir_all(&dt).unwrap();
    let s = Server::ours(&ds, &[]);
    let t = Server::ours(&dt, &[]);
    (dir, s, t)
}

fn fill_small(c: &mut Conn, n: usize) -> usize {
    let tags: Vec<String> =
        (0..).map(|i| format!("b{i}")).filter(|t| slot_of(t.as_bytes()) == SLOT).take(100).collect();
    let mut bytes = 0;
    let cmds: Vec<Vec<Vec<u8>>> = (0..n)
        .map(|i| {
            let k = format!("{{{}}}:key:{i}", tags[i % 100]).into_bytes();
            let v = format!("value-{i:010}").into_bytes();
            bytes += k.len() + v.len();
            vec![b"SET".to_vec(), k, v]
        })
        .collect();
    c.pipeline(&cmds);
    bytes
}

fn report(what: &str, keys: usize, bytes: usize, secs: f64) {
    println!(
        "{what}: {keys} keys, {:.1} MB in {secs:.3} s -> {:.0} keys/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        keys as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
}

#[test]
#[ignore]
fn bench_small_keys() {
    let n = env_num("BENCH_KEYS", 100_000);
    for sync in [false, true] {
        let (_dir, s, t) = servers(if sync { "bench-sync" } else { "bench-async" });
        let mut c = s.conn();
        let bytes = fill_small(&mut c, n);
        let port = t.port.to_string();
        let slot = SLOT.to_string();
        let start = Instant::now();
        let mut calls = 0;
        loop {
            calls += 1;
            let args: Vec<&str> = if sync {
                vec!["SLOTSMGRTTAGSLOT", "127.0.0.1", &port, "30000", &slot]
            } else {
                vec!["SLOTSMGRTTAGSLOT-ASYNC", "127.0.0.1", &port, "30000", "200", "33554432", &slot, "500"]
            };
            let (moved, remaining) = pair(c.cmd(&args));
            if remaining == 0 && (sync || moved == 0) {
                break;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(t.conn().int(&["DBSIZE"]), n as i64);
        let what = if sync { "sync SLOTSMGRTTAGSLOT" } else { "semi-async SLOTSMGRTTAGSLOT-ASYNC" };
        report(&format!("{what} ({calls} calls)"), n, bytes, secs);
    }
}

#[test]
#[ignore]
fn bench_big_zset() {
    let members = env_num("BENCH_ZSET_MEMBERS", 1_000_000);
    let len = env_num("BENCH_MEMBER_LEN", 100).max(12);
    let (_dir, s, t) = servers("bench-zset");
    let mut c = s.conn();
    let key = b"{bigz}zset".to_vec();
    let mut bytes = key.len();
    let pad = "x".repeat(len - 12);
    let t0 = Instant::now();
    for start in (0..members).step_by(100_000) {
        let cmds: Vec<Vec<Vec<u8>>> = (start..(start + 100_000).min(members))
            .step_by(1000)
            .map(|b| {
                let mut cmd = vec![b"ZADD".to_vec(), key.clone()];
                for i in b..(b + 1000).min(members) {
                    let m = format!("{i:012}{pad}").into_bytes();
                    bytes += m.len() + 8;
                    cmd.push(format!("{i}.5").into_bytes());
                    cmd.push(m);
                }
                cmd
            })
            .collect();
        c.pipeline(&cmds);
    }
    println!("filled a zset of {members} members x {len} B in {:.1} s", t0.elapsed().as_secs_f64());
    let port = t.port.to_string();
    let start = Instant::now();
    let r = c.cmd(&["SLOTSMGRTONE-ASYNC", "127.0.0.1", &port, "30000", "200", "33554432", "{bigz}zset"]);
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(r, Frame::Integer(1));
    assert_eq!(t.conn().int(&["ZCARD", "{bigz}zset"]), members as i64);
    report(&format!("semi-async SLOTSMGRTONE-ASYNC zset of {members} members"), 1, bytes, secs);
    println!("  = {:.0} members/s", members as f64 / secs);
}
