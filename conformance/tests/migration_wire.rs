//! Slot migration interoperability with legacy codis-server 3.2.11, from the byte-exact wire
//! captures (`codis-3.2/wire/`, see `tests/fixtures/README.md`).
//!
//! 1. Legacy source -> our target: the exact bytes a legacy source sent for
//!    `SLOTSMGRTONE` + `SLOTSMGRTTAGSLOT` (w1a, db 0 and 2) and `SLOTSMGRTTAGSLOT-ASYNC`
//!    (w2a without, w2b with `requirepass wirepass`) are replayed into our server; its replies
//!    must be byte for byte what the legacy target answered.
//! 2. Our source -> our target, same data and commands as the capture: the stream our source
//!    sends (recorded by a relay) must carry the same commands for the same keys as the legacy
//!    stream; payloads and values are byte-equal wherever the value's encoding fixes its
//!    element order (strings, ziplists, intsets, quicklists), and equal as decoded values for
//!    hashtable sets and hashes (member order is each server's own). Chunk boundaries of
//!    hashtable scans differ by design and are compared as the union of their elements.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use compat::rdb::{parse_dump_payload, RdbValue};
use compat::resp::{parse_frame, Frame};
use conformance::{Kind, Server};

const W1A_S2T: &[u8] = include_bytes!("fixtures/wire/w1a_sync_noauth_conn1_S_to_T.bin");
const W1A_T2S: &[u8] = include_bytes!("fixtures/wire/w1a_sync_noauth_conn1_T_to_S.bin");
const W2A_S2T: &[u8] = include_bytes!("fixtures/wire/w2a_async_noauth_conn1_S_to_T.bin");
const W2A_T2S: &[u8] = include_bytes!("fixtures/wire/w2a_async_noauth_conn1_T_to_S.bin");
const W2B_S2T: &[u8] = include_bytes!("fixtures/wire/w2b_async_auth_conn1_S_to_T.bin");
const W2B_T2S: &[u8] = include_bytes!("fixtures/wire/w2b_async_auth_conn1_T_to_S.bin");

/// Sends `input` to a fresh connection and returns what the server answered, once it has sent
/// `expect_len` bytes (or stopped answering).
fn replay(port: u16, input: &[u8], expect_len: usize) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let writer = {
        let mut w = s.try_clone().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || w.write_all(&input).unwrap())
    };
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 65536];
    while out.len() < expect_len && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => continue,
        }
    }
    writer.join().unwrap();
    out
}

#[test]
fn legacy_source_streams_are_accepted_byte_for_byte() {
    for (name, s2t, t2s) in [("w1a", W1A_S2T, W1A_T2S), ("w2a", W2A_S2T, W2A_T2S)] {
        // A fresh target each time, as in the captures (delete ACKs say whether a key existed).
        let ours = Server::start(Kind::Codis).expect("start codis-server");
        let got = replay(ours.port(), s2t, t2s.len());
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(t2s), "{name}: our replies differ");
    }
    let ours = Server::start(Kind::Codis).expect("start codis-server");
    let mut c = ours.connect().unwrap();
    assert_eq!(c.cmd(&["CONFIG", "SET", "requirepass", "wirepass"]), Frame::Simple("OK".into()));
    let got = replay(ours.port(), W2B_S2T, W2B_T2S.len());
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(W2B_T2S), "w2b: our replies differ");
}

/// Every command in a RESP stream.
fn commands(mut b: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (f, n) = parse_frame(b).unwrap().expect("complete stream");
        b = &b[n..];
        let Frame::Array(items) = f else { panic!("not a command: {f:?}") };
        out.push(
            items
                .into_iter()
                .map(|i| match i {
                    Frame::Bulk(x) => x.to_vec(),
                    other => panic!("{other:?}"),
                })
                .collect(),
        );
    }
    out
}

/// The commands sent for db 0 (before the first `SELECT 2` or `SLOTSRESTORE-ASYNC-SELECT 2`).
fn db0(cmds: Vec<Vec<Vec<u8>>>) -> Vec<Vec<Vec<u8>>> {
    cmds.into_iter().take_while(|c| !(c[0].ends_with(b"SELECT") && c[1] == b"2")).collect()
}

/// A payload's value with set and hash members sorted (their order is the source's own).
fn canonical(v: RdbValue) -> String {
    match v {
        RdbValue::Set(mut m) => {
            m.sort();
            format!("set {m:?}")
        }
        RdbValue::Hash(mut p) => {
            p.sort();
            format!("hash {p:?}")
        }
        RdbValue::ZSet(mut z) => {
            z.sort_by(|a, b| a.0.cmp(&b.0));
            format!("zset {z:?}")
        }
        other => format!("{other:?}"),
    }
}

/// Payload bytes must be equal unless the value is a hashtable set, hash or zset (types 2, 4
/// and 3: written in the order of the source's own hash table).
fn same_payload(key: &[u8], ours: &[u8], legacy: &[u8]) {
    let (a, b) = (parse_dump_payload(ours, 7).unwrap(), parse_dump_payload(legacy, 7).unwrap());
    let order_free = matches!(ours[0], 2..=4);
    if !order_free {
        assert!(ours == legacy, "payload of {} differs", String::from_utf8_lossy(key));
    }
    assert_eq!(ours[0], legacy[0], "type byte of {}", String::from_utf8_lossy(key));
    assert_eq!(canonical(a), canonical(b), "value of {}", String::from_utf8_lossy(key));
}

/// A relay that records what the client sends to `upstream`.
fn relay(upstream: u16) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            let Ok(mut u) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
            let (mut c2, mut u2) = (c.try_clone().unwrap(), u.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut u2, &mut c2);
            });
            let log = log2.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 || u.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    log.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
    });
    (port, log)
}

/// The capture's data set in db 0 (wire/README.md), `{other}k` outside the slot.
fn fill(c: &mut conformance::Conn) {
    let lzf = "a".repeat(200);
    let cmds: Vec<Vec<String>> = vec![
        vec!["SET", "{wire}str", "hello world"],
        vec!["SET", "{wire}int", "12345"],
        vec!["SET", "{wire}lzf", &lzf],
        vec!["RPUSH", "{wire}list", "a", "b", "c", "1", "2", "3"],
        vec!["HMSET", "{wire}hash", "f1", "v1", "f2", "2", "f3", "v3"],
        vec!["SADD", "{wire}set", "apple", "banana", "cherry"],
        vec!["SADD", "{wire}intset", "1", "2", "3", "100000", "-5"],
        vec!["ZADD", "{wire}zset", "1", "a", "2.5", "b", "-3", "c"],
        vec!["SET", "{wire}ttl", "expires later", "PX", "3600000"],
        vec!["SET", "{other}k", "not in the migrated slot"],
    ]
    .into_iter()
    .map(|c| c.into_iter().map(String::from).collect())
    .collect();
    for c2 in cmds {
        assert!(!c.cmd(&c2).is_error(), "{c2:?}");
    }
    let mut h = vec!["HMSET".to_string(), "{wire}bighash".into()];
    let mut z = vec!["ZADD".to_string(), "{wire}bigzset".into()];
    let mut l = vec!["RPUSH".to_string(), "{wire}biglist".into()];
    let mut s = vec!["SADD".to_string(), "{wire}bigset".into()];
    for i in 0..2000 {
        h.extend([format!("f{i:04}"), format!("v{i:04}")]);
        z.extend([format!("{i}.5"), format!("m{i:04}")]);
        l.push(format!("i{i:04}"));
        s.push(format!("s{i:04}"));
    }
    for c2 in [h, z, l, s] {
        assert!(!c.cmd(&c2).is_error());
    }
}

/// Messages per key: the list of (kind, ttl class, payload or elements).
fn by_key(cmds: &[Vec<Vec<u8>>]) -> BTreeMap<Vec<u8>, Vec<Vec<Vec<u8>>>> {
    let mut m: BTreeMap<Vec<u8>, Vec<Vec<Vec<u8>>>> = BTreeMap::new();
    for c in cmds.iter().filter(|c| c[0] == b"SLOTSRESTORE-ASYNC") {
        m.entry(c[2].clone()).or_default().push(c.clone());
    }
    m
}

#[test]
fn our_source_sends_what_legacy_sends() {
    let target = Server::start(Kind::Codis).expect("target");
    let source = Server::start(Kind::Codis).expect("source");
    let (rport, log) = relay(target.port());
    let mut c = source.connect().unwrap();
    let p = rport.to_string();

    // Synchronous: SLOTSMGRTONE {wire}str, then SLOTSMGRTTAGSLOT 309 until empty.
    fill(&mut c);
    assert_eq!(c.cmd(&["SLOTSMGRTONE", "127.0.0.1", &p, "3000", "{wire}str"]), Frame::Integer(1));
    assert_eq!(c.cmd(&["SLOTSMGRTONE", "127.0.0.1", &p, "3000", "{wire}str"]), Frame::Integer(0));
    let two = |a, b| Frame::Array(vec![Frame::Integer(a), Frame::Integer(b)]);
    assert_eq!(c.cmd(&["SLOTSMGRTTAGSLOT", "127.0.0.1", &p, "3000", "309"]), two(12, 0));
    assert_eq!(c.cmd(&["SLOTSMGRTTAGSLOT", "127.0.0.1", &p, "3000", "309"]), two(0, 0));
    let ours = commands(&std::mem::take(&mut *log.lock().unwrap()));
    let legacy = db0(commands(W1A_S2T));
    assert_eq!(ours.len(), legacy.len(), "same number of commands");
    for (o, l) in ours.iter().zip(&legacy) {
        assert_eq!(o[0], l[0], "command");
        if o[0] != b"SLOTSRESTORE" {
            assert_eq!(o, l);
            continue;
        }
        assert_eq!(o.len(), l.len(), "SLOTSRESTORE arguments");
        for (ot, lt) in o[1..].chunks(3).zip(l[1..].chunks(3)) {
            assert_eq!(ot[0], lt[0], "keys in bytewise order");
            assert_eq!(ot[1] == b"0", lt[1] == b"0", "ttl of {}", String::from_utf8_lossy(&ot[0]));
            same_payload(&ot[0], &ot[2], &lt[2]);
        }
    }

    // Asynchronous: the same data again, SLOTSMGRTTAGSLOT-ASYNC 309 until [0, 0].
    let mut t = target.connect().unwrap();
    assert!(!t.cmd(&["FLUSHALL"]).is_error());
    assert!(!c.cmd(&["FLUSHALL"]).is_error());
    fill(&mut c);
    let args = ["SLOTSMGRTTAGSLOT-ASYNC", "127.0.0.1", &p, "3000", "200", "33554432", "309", "500"];
    assert_eq!(c.cmd(&args), two(13, 13), "moved, and the slot size before the deletion (as codis)");
    assert_eq!(c.cmd(&args), two(0, 0));
    let ours = commands(&std::mem::take(&mut *log.lock().unwrap()));
    let legacy = db0(commands(W2A_S2T));
    assert_eq!(ours[0], legacy[0], "SLOTSRESTORE-ASYNC-SELECT 0 first");
    let (ours, legacy) = (by_key(&ours), by_key(&legacy));
    assert_eq!(ours.keys().collect::<Vec<_>>(), legacy.keys().collect::<Vec<_>>(), "same keys");
    for (key, l) in &legacy {
        let o = &ours[key];
        let name = String::from_utf8_lossy(key);
        let kinds = |v: &Vec<Vec<Vec<u8>>>| {
            let mut k: Vec<Vec<u8>> = v.iter().map(|c| c[1].clone()).collect();
            k.dedup();
            k
        };
        assert_eq!(kinds(o), kinds(l), "message kinds of {name}");
        match &l[1][1][..] {
            b"string" => assert_eq!(o[1][4], l[1][4], "{name}"),
            b"object" => same_payload(key, &o[1][4], &l[1][4]),
            _ => {
                // Chunks: same temporary TTL and hint, same elements overall.
                let elems = |v: &Vec<Vec<Vec<u8>>>| {
                    let mut e: Vec<Vec<u8>> = Vec::new();
                    for c in v.iter().filter(|c| c.len() >= 5 && c[1] != b"expire") {
                        assert_eq!(c[3], b"9000", "temporary TTL = 3 x timeout");
                        e.extend(c[5..].iter().cloned());
                    }
                    e
                };
                let (mut eo, mut el) = (elems(o), elems(l));
                if matches!(&l[1][1][..], b"list" | b"zset") {
                    assert_eq!(eo, el, "{name}: list head to tail, zset from the highest score");
                } else {
                    eo.sort();
                    el.sort();
                    assert_eq!(eo, el, "{name}");
                }
                assert_eq!(o.last().unwrap()[1], b"expire");
                assert_eq!(o.last().unwrap()[3], l.last().unwrap()[3], "{name}: final TTL");
            }
        }
    }
}
