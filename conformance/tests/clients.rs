//! Real client libraries against codis-server: the `redis` crate (RESP2 and RESP3) and redis-py
//! with its default settings (version 8 opens every connection with `HELLO 3`).

use conformance::server::{Kind, Server};

fn url(server: &Server, resp3: bool) -> String {
    let proto = if resp3 { "?protocol=resp3" } else { "" };
    format!("redis://127.0.0.1:{}/{proto}", server.port())
}

fn exercise(resp3: bool) {
    let server = Server::start(Kind::Codis).expect("start codis-server");
    let client = redis::Client::open(url(&server, resp3)).expect("client");
    let mut c = client.get_connection().expect("connect");
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).expect("SET");
    let v: String = redis::cmd("GET").arg("k").query(&mut c).expect("GET");
    assert_eq!(v, "v");
    let _: () = redis::cmd("HSET").arg("h").arg("f").arg("1").arg("g").arg("2").query(&mut c).expect("HSET");
    let h: std::collections::HashMap<String, i64> = redis::cmd("HGETALL").arg("h").query(&mut c).expect("HGETALL");
    assert_eq!(h.len(), 2);
    assert_eq!(h["g"], 2);
    let _: () = redis::cmd("ZADD").arg("z").arg(1.5).arg("m").query(&mut c).expect("ZADD");
    let s: f64 = redis::cmd("ZSCORE").arg("z").arg("m").query(&mut c).expect("ZSCORE");
    assert_eq!(s, 1.5);
    let (a, b): (i64, i64) = redis::pipe().cmd("INCR").arg("n").cmd("INCR").arg("n").query(&mut c).expect("pipeline");
    assert_eq!((a, b), (1, 2));
    let (x,): (i64,) = redis::pipe().atomic().cmd("INCR").arg("n").query(&mut c).expect("MULTI/EXEC");
    assert_eq!(x, 3);
    let slots: Vec<i64> = redis::cmd("SLOTSHASHKEY").arg("a").arg("b").arg("c").query(&mut c).expect("SLOTSHASHKEY");
    assert_eq!(slots, vec![579, 1017, 879]);
    let members: std::collections::HashSet<String> =
        redis::cmd("SMEMBERS").arg("nothing").query(&mut c).expect("SMEMBERS");
    assert!(members.is_empty());
}

#[test]
fn redis_crate_resp2() {
    exercise(false);
}

#[test]
fn redis_crate_resp3() {
    exercise(true);
}

#[test]
fn redis_py_default_settings() {
    let has_redis_py = std::process::Command::new("python3")
        .args(["-c", "import redis"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has_redis_py {
        // .ci/run installs redis-py; on a developer machine without it this test has nothing to run.
        eprintln!("skipped: python3 with the redis package is not installed");
        return;
    }
    let server = Server::start(Kind::Codis).expect("start codis-server");
    let script = conformance::server::workspace_root().join("conformance/tests/clients/redis_py_smoke.py");
    let out =
        std::process::Command::new("python3").arg(script).arg(server.port().to_string()).output().expect("python3");
    assert!(
        out.status.success(),
        "redis-py smoke test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
