//! The extensions beyond Codis 3.2 (docs/proxy-features.md) against two of our codis-servers:
//! pub/sub, single-slot transactions, blocking commands and whole-keyspace commands. Each is
//! off by default, where the commands keep Codis's "not allowed" answer.

mod support;

use std::time::Duration;

use codis_proxy::features::Features;
use codis_proxy::Config;
use conformance::server::{Kind, Server};
use support::*;

fn with_features() -> Config {
    Config { features: Features::all(Duration::ZERO), ..Config::default() }
}

fn two() -> (Server, Server) {
    (Server::start(Kind::Codis).expect("server a"), Server::start(Kind::Codis).expect("server b"))
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

#[test]
fn off_by_default() {
    let a = Server::start(Kind::Codis).unwrap();
    let p = TestProxy::start(Config::default(), &all_on(&addr(a.port())));
    let mut c = p.conn();
    for cmd in [&["SUBSCRIBE", "ch"][..], &["MULTI"], &["BLPOP", "l", "0"], &["SCAN", "0"], &["DBSIZE"]] {
        let r = raw(&c.call(cmd).unwrap());
        assert_eq!(r, format!("-ERR handle request, command '{}' is not allowed\r\n", cmd[0]));
    }
}

#[test]
fn pubsub_across_groups() {
    let (a, b) = two();
    let p = TestProxy::start(with_features(), &split_on(&addr(a.port()), &addr(b.port())));
    let low = key_where("ch", |s| s < 512);
    let high = key_where("ch", |s| s >= 512);
    let mut sub = p.conn();
    // A reply to a request before SUBSCRIBE comes first.
    sub.send(&["SET", "x", "1"]).unwrap();
    sub.send(&["SUBSCRIBE", &low, &high]).unwrap();
    assert_eq!(raw(&sub.read().unwrap()), "+OK\r\n");
    assert_eq!(raw(&sub.read().unwrap()), format!("*3\r\n$9\r\nsubscribe\r\n{}:1\r\n", bulk(&low)));
    assert_eq!(raw(&sub.read().unwrap()), format!("*3\r\n$9\r\nsubscribe\r\n{}:2\r\n", bulk(&high)));
    // The pattern is subscribed on both groups and confirmed once, with the session's count.
    assert_eq!(raw(&sub.call(&["PSUBSCRIBE", "ch*"]).unwrap()), "*3\r\n$10\r\npsubscribe\r\n$3\r\nch*\r\n:3\r\n");
    // Each channel lives on its slot's master: the other group has no subscriber for it.
    let mut pb = p.conn();
    assert_eq!(raw(&pb.call(&["PUBLISH", &low, "hello"]).unwrap()), ":2\r\n");
    assert_eq!(
        raw(&a.connect().unwrap().call(&["PUBSUB", "NUMSUB", &high]).unwrap()),
        format!("*2\r\n{}:0\r\n", bulk(&high))
    );
    let msg = raw(&sub.read().unwrap());
    let pmsg = raw(&sub.read().unwrap());
    let mut got = [msg, pmsg];
    got.sort();
    assert_eq!(
        got,
        [
            format!("*3\r\n$7\r\nmessage\r\n{}$5\r\nhello\r\n", bulk(&low)),
            format!("*4\r\n$8\r\npmessage\r\n$3\r\nch*\r\n{}$5\r\nhello\r\n", bulk(&low)),
        ]
    );
    assert_eq!(raw(&pb.call(&["PUBLISH", &high, "hi"]).unwrap()), ":2\r\n");
    sub.read().unwrap();
    sub.read().unwrap();
    // Subscribed mode allows only the subscription commands, PING and QUIT.
    assert!(raw(&sub.call(&["GET", "x"]).unwrap()).starts_with("-ERR Can't execute 'get'"));
    assert_eq!(raw(&sub.call(&["PING"]).unwrap()), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    // Leaving every subscription counts down to 0, then ordinary commands work again.
    assert_eq!(raw(&sub.call(&["PUNSUBSCRIBE"]).unwrap()), "*3\r\n$12\r\npunsubscribe\r\n$3\r\nch*\r\n:2\r\n");
    sub.send(&["UNSUBSCRIBE"]).unwrap();
    let mut left = [raw(&sub.read().unwrap()), raw(&sub.read().unwrap())];
    left.sort();
    assert!(left[0].ends_with(":0\r\n") || left[1].ends_with(":0\r\n"), "{left:?}");
    assert_eq!(raw(&sub.call(&["UNSUBSCRIBE"]).unwrap()), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    assert_eq!(raw(&sub.call(&["GET", "x"]).unwrap()), "$1\r\n1\r\n");
    assert_eq!(raw(&pb.call(&["PUBLISH", &low, "gone"]).unwrap()), ":0\r\n");
}

#[test]
fn transactions_within_one_slot() {
    let (a, b) = two();
    let p = TestProxy::start(with_features(), &split_on(&addr(a.port()), &addr(b.port())));
    let mut c = p.conn();
    assert_eq!(raw(&c.call(&["MULTI"]).unwrap()), "+OK\r\n");
    assert_eq!(raw(&c.call(&["SET", "{u1}:a", "1"]).unwrap()), "+QUEUED\r\n");
    assert_eq!(raw(&c.call(&["INCR", "{u1}:b"]).unwrap()), "+QUEUED\r\n");
    assert_eq!(raw(&c.call(&["MGET", "{u1}:a", "{u1}:b"]).unwrap()), "+QUEUED\r\n");
    assert_eq!(raw(&c.call(&["EXEC"]).unwrap()), "*3\r\n+OK\r\n:1\r\n*2\r\n$1\r\n1\r\n$1\r\n1\r\n");
    // A key of another slot is refused, naming the rule, and dooms the transaction.
    c.call(&["MULTI"]).unwrap();
    c.call(&["SET", "{u1}:a", "2"]).unwrap();
    let cross = raw(&c.call(&["SET", "{u2}:a", "2"]).unwrap());
    assert!(cross.starts_with("-CROSSSLOT Keys in request don't hash to the same slot"), "{cross}");
    assert!(cross.contains("hash tag"), "{cross}");
    assert_eq!(raw(&c.call(&["EXEC"]).unwrap()), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert_eq!(raw(&c.call(&["GET", "{u1}:a"]).unwrap()), "$1\r\n1\r\n");
    // DISCARD, and the errors of Redis.
    assert_eq!(raw(&c.call(&["EXEC"]).unwrap()), "-ERR EXEC without MULTI\r\n");
    assert_eq!(raw(&c.call(&["DISCARD"]).unwrap()), "-ERR DISCARD without MULTI\r\n");
    c.call(&["MULTI"]).unwrap();
    assert_eq!(raw(&c.call(&["MULTI"]).unwrap()), "-ERR MULTI calls can not be nested\r\n");
    c.call(&["INCR", "{u1}:b"]).unwrap();
    assert_eq!(raw(&c.call(&["DISCARD"]).unwrap()), "+OK\r\n");
    assert_eq!(raw(&c.call(&["GET", "{u1}:b"]).unwrap()), "$1\r\n1\r\n");
    // WATCH: a change by another client aborts EXEC (nil), an unchanged key lets it run.
    assert_eq!(raw(&c.call(&["WATCH", "{u1}:a", "{u1}:b"]).unwrap()), "+OK\r\n");
    assert!(raw(&c.call(&["WATCH", "{u3}:x"]).unwrap()).starts_with("-CROSSSLOT"));
    p.conn().call(&["SET", "{u1}:a", "changed"]).unwrap();
    c.call(&["MULTI"]).unwrap();
    c.call(&["SET", "{u1}:a", "mine"]).unwrap();
    assert_eq!(raw(&c.call(&["EXEC"]).unwrap()), "*-1\r\n");
    assert_eq!(raw(&c.call(&["GET", "{u1}:a"]).unwrap()), bulk("changed"));
    c.call(&["WATCH", "{u1}:a"]).unwrap();
    c.call(&["MULTI"]).unwrap();
    c.call(&["SET", "{u1}:a", "mine"]).unwrap();
    assert_eq!(raw(&c.call(&["EXEC"]).unwrap()), "*1\r\n+OK\r\n");
    assert_eq!(raw(&c.call(&["GET", "{u1}:a"]).unwrap()), bulk("mine"));
    // Many sessions running transactions on the shared connections do not mix.
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let mut c = p.conn();
            std::thread::spawn(move || {
                for i in 0..50 {
                    c.send(&["MULTI"]).unwrap();
                    c.send(&["INCR", &format!("{{t{t}}}:n")]).unwrap();
                    c.send(&["INCR", &format!("{{t{t}}}:m")]).unwrap();
                    c.send(&["EXEC"]).unwrap();
                    for _ in 0..3 {
                        c.read().unwrap();
                    }
                    let n = i + 1;
                    assert_eq!(raw(&c.read().unwrap()), format!("*2\r\n:{n}\r\n:{n}\r\n"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn blocking_commands_do_not_block_others() {
    let (a, b) = two();
    let p = TestProxy::start(with_features(), &split_on(&addr(a.port()), &addr(b.port())));
    let list = key_where("q", |s| s < 512);
    let mut waiter = p.conn();
    waiter.send(&["BLPOP", &list, "5"]).unwrap();
    waiter.send(&["GET", "after"]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // The group's shared connection is free meanwhile.
    let mut other = p.conn();
    for i in 0..20 {
        assert_eq!(raw(&other.call(&["SET", &key_where("o", |s| s < 512), &i.to_string()]).unwrap()), "+OK\r\n");
    }
    assert_eq!(raw(&other.call(&["RPUSH", &list, "job"]).unwrap()), ":1\r\n");
    assert_eq!(raw(&waiter.read().unwrap()), format!("*2\r\n{}$3\r\njob\r\n", bulk(&list)));
    assert_eq!(raw(&waiter.read().unwrap()), "$-1\r\n");
    // Timeouts and keys in several slots.
    assert_eq!(raw(&waiter.call(&["BRPOP", &list, "0.1"]).unwrap()), "*-1\r\n");
    assert!(raw(&waiter.call(&["BLPOP", "{a}1", "{b}2", "1"]).unwrap()).starts_with("-CROSSSLOT"));
    other.call(&["ZADD", "{z}s", "1", "m"]).unwrap();
    assert_eq!(
        raw(&waiter.call(&["BZPOPMIN", "{z}s", "{z}t", "1"]).unwrap()),
        "*3\r\n$4\r\n{z}s\r\n$1\r\nm\r\n$1\r\n1\r\n"
    );
    other.call(&["RPUSH", "{m}src", "v"]).unwrap();
    assert_eq!(raw(&waiter.call(&["BRPOPLPUSH", "{m}src", "{m}dst", "1"]).unwrap()), bulk("v"));
}

#[test]
fn cluster_wide_scan_keys_dbsize_flushall() {
    let (a, b) = two();
    let p = TestProxy::start(with_features(), &split_on(&addr(a.port()), &addr(b.port())));
    let mut c = p.conn();
    let n = 300;
    for i in 0..n {
        c.call(&["SET", &format!("key:{i}"), "v"]).unwrap();
    }
    let on_a = a.connect().unwrap().cmd(&["DBSIZE"]);
    assert!(matches!(on_a, compat::resp::Frame::Integer(k) if k > 0 && k < n), "both groups hold keys");
    assert_eq!(raw(&c.call(&["DBSIZE"]).unwrap()), format!(":{n}\r\n"));
    let keys = c.cmd(&["KEYS", "key:*"]);
    let compat::resp::Frame::Array(keys) = keys else { panic!("KEYS") };
    assert_eq!(keys.len(), n as usize);
    // SCAN visits every key once across both groups; the cursor carries the group id.
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut groups = std::collections::BTreeSet::new();
    loop {
        let compat::resp::Frame::Array(mut r) = c.cmd(&["SCAN", &cursor, "COUNT", "50"]) else { panic!("SCAN") };
        let compat::resp::Frame::Array(ks) = r.pop().unwrap() else { panic!("keys") };
        for k in ks {
            let compat::resp::Frame::Bulk(k) = k else { panic!() };
            assert!(seen.insert(k.to_vec()), "key seen twice");
        }
        let compat::resp::Frame::Bulk(next) = r.pop().unwrap() else { panic!("cursor") };
        cursor = String::from_utf8(next.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
        groups.insert(cursor.parse::<u64>().unwrap() % 10_000);
    }
    assert_eq!(seen.len(), n as usize);
    assert!(groups.contains(&2), "the walk moved to group 2: {groups:?}");
    assert_eq!(raw(&c.call(&["SCAN", "x"]).unwrap()), "-ERR invalid cursor\r\n");
    assert_eq!(raw(&c.call(&["FLUSHALL"]).unwrap()), "+OK\r\n");
    assert_eq!(raw(&c.call(&["DBSIZE"]).unwrap()), ":0\r\n");
    assert_eq!(raw(&b.connect().unwrap().call(&["DBSIZE"]).unwrap()), ":0\r\n");
}
