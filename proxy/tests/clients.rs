//! Real client libraries through the proxy: redis-py with its default settings (RESP3 via
//! HELLO 3) and the `redis` crate in both protocols, against our codis-server.

mod support;

use codis_proxy::Config;
use conformance::server::{Kind, Server};
use support::*;

fn redis_py_installed() -> bool {
    std::process::Command::new("python3").args(["-c", "import redis"]).status().map(|s| s.success()).unwrap_or(false)
}

#[test]
fn redis_py_default_settings_through_the_proxy() {
    if !redis_py_installed() {
        // .ci/run installs redis-py; without it this test has nothing to run.
        eprintln!("skipped: python3 with the redis package is not installed");
        return;
    }
    let (a, b) = (Server::start(Kind::Codis).unwrap(), Server::start(Kind::Codis).unwrap());
    let p = TestProxy::start(Config::default(), &split_on(&addr(a.port()), &addr(b.port())));
    let script = conformance::server::workspace_root().join("proxy/tests/clients/redis_py_proxy.py");
    let out = std::process::Command::new("python3").arg(script).arg(p.port.to_string()).output().expect("python3");
    assert!(
        out.status.success(),
        "redis-py through the proxy failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hello_switches_the_session_protocol() {
    let a = Server::start(Kind::Codis).unwrap();
    let p = TestProxy::start(Config::default(), &all_on(&addr(a.port())));
    let mut c = p.conn();
    let hello = c.call(&["HELLO", "3"]).unwrap();
    assert!(hello.raw.starts_with(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"), "{}", raw(&hello));
    c.call(&["HSET", "h", "f", "v"]).unwrap();
    assert_eq!(raw(&c.call(&["HGETALL", "h"]).unwrap()), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(raw(&c.call(&["GET", "nope"]).unwrap()), "_\r\n");
    assert_eq!(raw(&c.call(&["MGET", "nope", "h2"]).unwrap()), "*2\r\n_\r\n_\r\n");
    c.call(&["ZADD", "z", "1.5", "m"]).unwrap();
    assert_eq!(raw(&c.call(&["ZSCORE", "z", "m"]).unwrap()), ",1.5\r\n");
    assert_eq!(raw(&c.call(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]).unwrap()), "*1\r\n*2\r\n$1\r\nm\r\n,1.5\r\n");
    assert_eq!(raw(&c.call(&["HELLO", "4"]).unwrap()), "-NOPROTO unsupported protocol version\r\n");
    let back = c.call(&["HELLO", "2"]).unwrap();
    assert!(back.raw.starts_with(b"*14\r\n"));
    assert_eq!(raw(&c.call(&["GET", "nope"]).unwrap()), "$-1\r\n");
    // With session_auth, HELLO must authenticate (Redis 7's wording).
    let p = TestProxy::start(Config { session_auth: "pw".into(), ..Config::default() }, &all_on(&addr(a.port())));
    let mut c = p.conn();
    assert!(c.call(&["HELLO", "3"]).unwrap().error_text().unwrap().starts_with("NOAUTH HELLO must be called"));
    assert_eq!(
        raw(&c.call(&["HELLO", "3", "AUTH", "default", "bad"]).unwrap()),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert!(c.call(&["HELLO", "3", "AUTH", "default", "pw"]).unwrap().raw.starts_with(b"%7\r\n"));
    assert_eq!(raw(&c.call(&["GET", "nope"]).unwrap()), "_\r\n");
}

#[test]
fn redis_crate_both_protocols() {
    let a = Server::start(Kind::Codis).unwrap();
    let p = TestProxy::start(Config::default(), &all_on(&addr(a.port())));
    for proto in ["", "?protocol=resp3"] {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/{proto}", p.port)).unwrap();
        let mut c = client.get_connection().expect("connect through the proxy");
        let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
        let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
        assert_eq!(v, "v");
        let _: () = redis::cmd("HSET").arg("hh").arg("f").arg("1").query(&mut c).unwrap();
        let h: std::collections::HashMap<String, i64> = redis::cmd("HGETALL").arg("hh").query(&mut c).unwrap();
        assert_eq!(h["f"], 1);
        let (x, y): (i64, i64) = redis::pipe().cmd("INCR").arg("n").cmd("INCR").arg("n").query(&mut c).unwrap();
        assert_eq!(y, x + 1);
    }
}
