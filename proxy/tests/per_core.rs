//! The `codis-proxy` binary with per-core workers (one single-threaded runtime per worker,
//! backend connections per worker): many clients, pipelined and split requests, a pub/sub
//! session and a blocking command, all answered in order; new clients spread over the workers.

mod control;
mod support;

use std::time::Duration;

use conformance::server::{free_port, Kind, Server, TempDir};
use conformance::Conn;
use support::*;

fn start_binary(backend: &str, workers: usize, extra_toml: &str) -> (ProxyProcess, u16, TempDir) {
    let (proc, port, _, dir) = start_binary_admin(backend, workers, extra_toml);
    (proc, port, dir)
}

fn start_binary_admin(backend: &str, workers: usize, extra_toml: &str) -> (ProxyProcess, u16, u16, TempDir) {
    let dir = TempDir::new("codis-proxy-per-core").unwrap();
    let port = free_port().unwrap();
    // An admin port of its own: the default (11080) would be shared by tests running at once.
    let admin = free_port().unwrap();
    let toml = format!("proxy_addr = \"127.0.0.1:{port}\"\nadmin_addr = \"127.0.0.1:{admin}\"\n{extra_toml}\n");
    let proc = ProxyProcess::start_filled(dir.path(), backend, &toml, &[&format!("--ncpu={workers}")]);
    ProxyProcess::wait_answering(port);
    (proc, port, admin, dir)
}

/// The `codis_proxy_worker_sessions` gauges of `/metrics`, by worker.
fn worker_sessions(admin: u16) -> Vec<usize> {
    let m = control::http(&format!("127.0.0.1:{admin}"), "GET", "/metrics", &[], b"").expect("metrics");
    let text = String::from_utf8_lossy(&m.body).into_owned();
    text.lines()
        .filter_map(|l| l.strip_prefix("codis_proxy_worker_sessions{worker=\""))
        .filter_map(|l| l.split_once("\"} ").and_then(|(_, n)| n.trim().parse().ok()))
        .collect()
}

/// A burst of connections (a client pool opening) is spread evenly, whichever worker the kernel
/// wakes to accept them; clients that leave free their worker's places.
#[test]
fn new_clients_go_to_the_least_busy_worker() {
    let a = Server::start(Kind::Codis).unwrap();
    let (_proxy, port, admin, _dir) = start_binary_admin(&addr(a.port()), 2, "");
    let mut conns: Vec<Conn> = (0..40).map(|_| Conn::connect(port).unwrap()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.set_timeout(Duration::from_secs(10));
        assert_eq!(raw(&c.call(&["SET", &format!("k{i}"), "v"]).unwrap()), "+OK\r\n");
    }
    // The test's own probe (wait_answering) has gone by now; only the 40 remain.
    let settled = |want: usize| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let s = worker_sessions(admin);
            if s.iter().sum::<usize>() == want || std::time::Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // Two workers accepting at the same moment may both pick the same one: allow one such race.
    let spread = |s: &[usize]| s.iter().max().unwrap_or(&0) - s.iter().min().unwrap_or(&0);
    let s = settled(40);
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(spread(&s) <= 2, "40 clients over two workers: {s:?}");
    // Every client is answered on its worker, in order.
    for (i, c) in conns.iter_mut().enumerate() {
        assert_eq!(raw(&c.call(&["GET", &format!("k{i}")]).unwrap()), "$1\r\nv\r\n");
    }
    conns.truncate(10);
    let before = settled(10);
    assert_eq!(before.iter().sum::<usize>(), 10, "{before:?}");
    // New clients fill the emptier worker first.
    let mut more: Vec<Conn> = (0..10).map(|_| Conn::connect(port).unwrap()).collect();
    for c in &mut more {
        c.set_timeout(Duration::from_secs(10));
        assert_eq!(raw(&c.call(&["PING"]).unwrap()), "+PONG\r\n");
    }
    let after = settled(20);
    assert!(spread(&after) <= spread(&before).saturating_sub(10).max(2), "{before:?} -> {after:?}");
}

#[test]
fn per_core_workers_serve_many_clients_in_order() {
    serve_many_clients_in_order(2);
}

/// `--ncpu=1` runs one such worker too (not the shared multi-threaded runtime).
#[test]
fn one_worker_serves_many_clients_in_order() {
    serve_many_clients_in_order(1);
}

fn serve_many_clients_in_order(workers: usize) {
    let a = Server::start(Kind::Codis).unwrap();
    let (_proxy, port, _dir) =
        start_binary(&addr(a.port()), workers, "proxy_pubsub = true\nproxy_blocking_commands = true");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Conn::connect(port).unwrap();
                c.set_timeout(Duration::from_secs(20));
                for round in 0..20 {
                    for i in 0..16 {
                        c.send(&["SET", &format!("k:{t}:{i}"), &format!("{round}")]).unwrap();
                        c.send(&["MGET", &format!("k:{t}:{i}"), "nosuch"]).unwrap();
                    }
                    for _ in 0..16 {
                        assert_eq!(raw(&c.read().unwrap()), "+OK\r\n");
                        let v = round.to_string();
                        assert_eq!(raw(&c.read().unwrap()), format!("*2\r\n${}\r\n{v}\r\n$-1\r\n", v.len()));
                    }
                }
            })
        })
        .collect();
    // Pub/sub and a blocking command on the workers' runtimes too.
    let mut sub = Conn::connect(port).unwrap();
    sub.set_timeout(Duration::from_secs(10));
    assert_eq!(raw(&sub.call(&["SUBSCRIBE", "news"]).unwrap()), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    let mut waiter = Conn::connect(port).unwrap();
    waiter.set_timeout(Duration::from_secs(10));
    waiter.send(&["BLPOP", "jobs", "5"]).unwrap();
    let mut c = Conn::connect(port).unwrap();
    assert_eq!(raw(&c.call(&["PUBLISH", "news", "hi"]).unwrap()), ":1\r\n");
    assert_eq!(raw(&sub.read().unwrap()), "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(raw(&c.call(&["RPUSH", "jobs", "j"]).unwrap()), ":1\r\n");
    assert_eq!(raw(&waiter.read().unwrap()), "*2\r\n$4\r\njobs\r\n$1\r\nj\r\n");
    for t in threads {
        t.join().unwrap();
    }
}
