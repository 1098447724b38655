//! Failover with `backend_failover_hold`: the master of every slot is killed, its replica is
//! promoted and the slots are refilled to it within the hold window. Requests that were never
//! written to the dead master must all succeed on the new one; only requests already in flight
//! at the moment of the kill may fail. Without a refill, held requests fail once the window has
//! passed.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codis_proxy::features::Features;
use codis_proxy::Config;
use compat::resp::Frame;
use conformance::server::{Kind, Server};
use conformance::Conn;
use support::*;

const WRITERS: usize = 4;

fn config(hold: Duration) -> Config {
    let features = Features { failover_hold: hold, ..Features::default() };
    Config { features, ..Config::default() }
}

fn kill(server: &Server) {
    // SAFETY: kill(2) on the pid of a child process this test started.
    unsafe { libc::kill(server.pid() as i32, libc::SIGKILL) };
}

fn info_field(c: &mut Conn, field: &str) -> String {
    let Frame::Bulk(text) = c.cmd(&["INFO", "replication"]) else { panic!("INFO") };
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines().find_map(|l| l.strip_prefix(&format!("{field}:")).map(|v| v.trim().to_string())).unwrap_or_default()
}

#[test]
fn held_requests_go_to_the_promoted_replica() {
    let master = Server::start(Kind::Codis).expect("master");
    let replica = Server::start(Kind::Codis).expect("replica");
    let mut r = replica.connect().unwrap();
    r.cmd(&["SLAVEOF", "127.0.0.1", &master.port().to_string()]);
    let p = TestProxy::start(config(Duration::from_secs(10)), &all_on(&addr(master.port())));
    let mut c = p.conn();
    for i in 0..100 {
        assert_eq!(raw(&c.call(&["SET", &format!("pre:{i}"), "v"]).unwrap()), "+OK\r\n");
    }
    let t = Instant::now();
    while info_field(&mut r, "master_link_status") != "up" || r.cmd(&["DBSIZE"]) != Frame::Integer(100) {
        assert!(t.elapsed() < Duration::from_secs(20), "replica did not catch up");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Writers run through the kill: at most the one request each has in flight may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (port, stop, failures) = (p.port, stop.clone(), failures.clone());
            std::thread::spawn(move || {
                let mut c = Conn::connect(port).unwrap();
                c.set_timeout(Duration::from_secs(30));
                let mut ok = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let r = c.call(&["INCR", &format!("ctr:{w}")]).unwrap();
                    if r.is_error() {
                        failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!("writer {w}: {}", raw(&r));
                    } else {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    kill(&master);
    std::thread::sleep(Duration::from_millis(300));

    // Requests sent after the proxy saw the master go: none may fail.
    let late: Vec<_> = (0..WRITERS)
        .map(|w| {
            let port = p.port;
            std::thread::spawn(move || {
                let mut c = Conn::connect(port).unwrap();
                c.set_timeout(Duration::from_secs(30));
                let mut replies = Vec::new();
                for i in 0..20 {
                    c.send(&["SET", &format!("late:{w}:{i}"), "x"]).unwrap();
                    c.send(&["MGET", &format!("late:{w}:{i}"), "pre:1"]).unwrap();
                }
                for _ in 0..40 {
                    replies.push(raw(&c.read().unwrap()));
                }
                replies
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    // The dashboard's part: promote the replica, point every slot at it.
    r.cmd(&["SLAVEOF", "NO", "ONE"]);
    let switched_at = Instant::now();
    p.fill(&all_on(&addr(replica.port())));
    for h in late {
        let replies = h.join().unwrap();
        for pair in replies.chunks(2) {
            assert_eq!(pair[0], "+OK\r\n");
            assert_eq!(pair[1], "*2\r\n$1\r\nx\r\n$1\r\nv\r\n");
        }
    }
    eprintln!("held requests answered {:?} after the switch", switched_at.elapsed());
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let oks: Vec<u64> = writers.into_iter().map(|h| h.join().unwrap()).collect();
    let failed = failures.load(Ordering::Relaxed);
    assert!(failed <= WRITERS as u64, "{failed} requests failed, more than were in flight at the kill");
    // Every successful INCR after the switch landed on the new master (the counter there is at
    // least the number that succeeded after replication caught up to the kill).
    let mut nc = replica.connect().unwrap();
    for (w, ok) in oks.iter().enumerate() {
        let Frame::Bulk(v) = nc.cmd(&["GET", &format!("ctr:{w}")]) else { panic!("ctr:{w}") };
        let v: u64 = String::from_utf8_lossy(&v).parse().unwrap();
        assert!(v > 0 && v <= *ok, "ctr:{w} = {v}, {ok} INCRs succeeded");
    }
}

#[test]
fn held_requests_fail_after_the_window() {
    let a = Server::start(Kind::Codis).expect("server");
    let p = TestProxy::start(config(Duration::from_millis(400)), &all_on(&addr(a.port())));
    let mut c = p.conn();
    assert_eq!(raw(&c.call(&["SET", "k", "v"]).unwrap()), "+OK\r\n");
    kill(&a);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let r = raw(&c.call(&["GET", "k"]).unwrap());
    let waited = t.elapsed();
    assert_eq!(r, "-ERR handle request, backend conn reset\r\n");
    assert!(waited >= Duration::from_millis(350) && waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn without_hold_requests_fail_at_once() {
    let a = Server::start(Kind::Codis).expect("server");
    let p = TestProxy::start(Config::default(), &all_on(&addr(a.port())));
    let mut c = p.conn();
    assert_eq!(raw(&c.call(&["SET", "k", "v"]).unwrap()), "+OK\r\n");
    kill(&a);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let r = raw(&c.call(&["GET", "k"]).unwrap());
    assert!(r.starts_with("-ERR handle response, backend conn"), "{r}");
    assert!(t.elapsed() < Duration::from_secs(2));
}
