//! The proxy's data path against real servers: routing by slot, pipelining order, multi-key
//! split and merge, the commands the proxy answers itself, and failure behaviour. Expected
//! texts come from the Codis 3.2 recordings (d1_proxy_commands, d2_proxy_redis-cli_transcript,
//! d3_proxy_pipe_10000_sets, COMPAT-FACTS.md).

mod support;

use std::time::Duration;

use codis_proxy::{Config, Slot};
use conformance::server::{Kind, Server};
use support::*;

fn two_backends(kind: Kind) -> (Server, Server) {
    (Server::start(kind).expect("start backend a"), Server::start(kind).expect("start backend b"))
}

fn text(r: &conformance::Reply) -> String {
    raw(r)
}

#[test]
fn keys_go_to_the_group_of_their_slot() {
    let (a, b) = two_backends(Kind::Redis);
    let p = TestProxy::start(Config::default(), &split_on(&addr(a.port()), &addr(b.port())));
    let mut c = p.conn();
    let low = key_where("k", |s| s < 512);
    let high = key_where("k", |s| s >= 512);
    assert_eq!(text(&c.call(&["SET", &low, "1"]).unwrap()), "+OK\r\n");
    assert_eq!(text(&c.call(&["SET", &high, "2"]).unwrap()), "+OK\r\n");
    let mut ca = a.connect().unwrap();
    let mut cb = b.connect().unwrap();
    assert_eq!(text(&ca.call(&["GET", &low]).unwrap()), "$1\r\n1\r\n");
    assert_eq!(text(&ca.call(&["EXISTS", &high]).unwrap()), ":0\r\n");
    assert_eq!(text(&cb.call(&["GET", &high]).unwrap()), "$1\r\n2\r\n");
    // ZUNIONSTORE and EVAL are routed by their fourth argument.
    let z = key_where("z", |s| s >= 512);
    c.call(&["ZADD", &z, "1", "m"]).unwrap();
    assert_eq!(text(&c.call(&["ZUNIONSTORE", &low, "1", &z]).unwrap()), ":1\r\n");
    assert_eq!(text(&cb.call(&["ZCARD", &low]).unwrap()), ":1\r\n");
    // Hash tags pick the slot.
    c.call(&["SET", "{user}:1", "x"]).unwrap();
    assert_eq!(compat::slot::slot_of(b"{user}:1"), 585);
    assert_eq!(text(&cb.call(&["GET", "{user}:1"]).unwrap()), "$1\r\nx\r\n");
}

#[test]
fn pipelined_replies_come_back_in_order() {
    let (a, b) = two_backends(Kind::Redis);
    let p = TestProxy::start(Config::default(), &split_on(&addr(a.port()), &addr(b.port())));
    let mut c = p.conn();
    let n = conformance::env_num("PROXY_TEST_PIPELINE", 3000);
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for i in 0..n {
        let key = format!("pipe:{i}");
        let (req, exp): (Vec<String>, String) = match i % 4 {
            0 => (vec!["SET".into(), key.clone(), format!("v{i}")], "+OK\r\n".into()),
            1 => (vec!["INCR".into(), format!("ctr:{}", i % 7)], String::new()),
            2 => (vec!["GET".into(), format!("pipe:{}", i - 2)], format!("$%d\r\nv{}\r\n", i - 2)),
            _ => (vec!["MGET".into(), format!("pipe:{}", i - 3), "nosuch".into()], String::new()),
        };
        let mut out = bytes::BytesMut::new();
        compat::resp::Frame::command(&req).encode(&mut out);
        wire.extend_from_slice(&out);
        expected.push((req, exp));
    }
    c.send_raw(&wire).unwrap();
    let mut counters = std::collections::HashMap::new();
    for (i, (req, exp)) in expected.iter().enumerate() {
        let got = text(&c.read().unwrap());
        match i % 4 {
            1 => {
                let v = counters.entry(req[1].clone()).or_insert(0);
                *v += 1;
                assert_eq!(got, format!(":{v}\r\n"), "request {i} {req:?}");
            }
            2 => {
                let v = format!("v{}", i - 2);
                assert_eq!(got, format!("${}\r\n{v}\r\n", v.len()), "request {i}");
            }
            3 => {
                let v = format!("v{}", i - 3);
                assert_eq!(got, format!("*2\r\n${}\r\n{v}\r\n$-1\r\n", v.len()), "request {i}");
            }
            _ => assert_eq!(&got, exp, "request {i}"),
        }
    }
}

#[test]
fn multi_key_commands_are_split_and_merged() {
    let (a, b) = two_backends(Kind::Codis);
    let p = TestProxy::start(Config::default(), &split_on(&addr(a.port()), &addr(b.port())));
    let mut c = p.conn();
    // d1: MSET across slots, MGET with a missing key, EXISTS, DEL.
    assert_eq!(text(&c.call(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]).unwrap()), "+OK\r\n");
    assert_eq!(
        text(&c.call(&["MGET", "a", "b", "c", "d", "nonexistent"]).unwrap()),
        "*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$-1\r\n"
    );
    assert_eq!(text(&c.call(&["EXISTS", "a", "b", "nonexistent"]).unwrap()), ":2\r\n");
    assert_eq!(text(&c.call(&["EXISTS", "a", "a", "a"]).unwrap()), ":3\r\n");
    assert_eq!(text(&c.call(&["TOUCH", "a", "b", "nonexistent"]).unwrap()), ":2\r\n");
    assert_eq!(text(&c.call(&["UNLINK", "a", "nonexistent"]).unwrap()), ":1\r\n");
    assert_eq!(text(&c.call(&["DEL", "a", "b", "c", "d", "nonexistent"]).unwrap()), ":3\r\n");
    // Arity errors are the proxy's, upper-case (d1).
    for (cmd, name) in [
        (vec!["MGET"], "MGET"),
        (vec!["MSET", "a"], "MSET"),
        (vec!["MSET"], "MSET"),
        (vec!["DEL"], "DEL"),
        (vec!["EXISTS"], "EXISTS"),
    ] {
        assert_eq!(text(&c.call(&cmd).unwrap()), format!("-ERR wrong number of arguments for '{name}' command\r\n"));
    }
    // A key of each backend holding the wrong type: MGET answers nil for it, as Redis does.
    let low = key_where("l", |s| s < 512);
    c.call(&["LPUSH", &low, "x"]).unwrap();
    let got = text(&c.call(&["MGET", &low, "b"]).unwrap());
    assert_eq!(got, "*2\r\n$-1\r\n$-1\r\n");
}

#[test]
fn commands_the_proxy_answers() {
    let (a, b) = two_backends(Kind::Redis);
    let (aa, ba) = (addr(a.port()), addr(b.port()));
    let p = TestProxy::start(Config::default(), &split_on(&aa, &ba));
    let mut c = p.conn();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["PING"], "+PONG\r\n".into()),
        (vec!["PING", "hello"], "-ERR backend server 'hello' not found\r\n".into()),
        (vec!["PING", &ba], "+PONG\r\n".into()),
        (vec!["INFO", "server"], "-ERR backend server 'server' not found\r\n".into()),
        (vec!["SELECT", "16"], "-ERR invalid DB index, only accept DB [0,16)\r\n".into()),
        (vec!["SELECT", "-1"], "-ERR invalid DB index, only accept DB [0,16)\r\n".into()),
        (vec!["SELECT", "abc"], "-ERR invalid DB index\r\n".into()),
        (vec!["SELECT"], "-ERR wrong number of arguments for 'SELECT' command\r\n".into()),
        (vec!["AUTH", "x"], "-ERR Client sent AUTH, but no password is set\r\n".into()),
        (vec!["AUTH"], "-ERR wrong number of arguments for 'AUTH' command\r\n".into()),
        (vec!["AUTH", "a", "b"], "-ERR wrong number of arguments for 'AUTH' command\r\n".into()),
        (vec!["SLOTSINFO"], "-ERR wrong number of arguments for 'SLOTSINFO' command\r\n".into()),
        (vec!["SLOTSINFO", "nosuchaddr"], "-ERR backend server 'nosuchaddr' not found\r\n".into()),
        (vec!["SLOTSSCAN", "1024", "0"], "-ERR parse slotnum '1024' failed, out of range\r\n".into()),
        (
            vec!["SLOTSSCAN", "x", "0"],
            "-ERR parse slotnum 'x' failed, strconv.ParseInt: parsing \"x\": invalid syntax\r\n".into(),
        ),
        (vec!["SLOTSSCAN", "0"], "-ERR wrong number of arguments for 'SLOTSSCAN' command\r\n".into()),
        (vec!["SLOTSMAPPING", "0"], format!("*4\r\n+0\r\n+{aa}\r\n+\r\n*-1\r\n")),
        (vec!["SLOTSMAPPING", "1023"], format!("*4\r\n+1023\r\n+{ba}\r\n+\r\n*-1\r\n")),
        (vec!["SLOTSMAPPING", "1024"], "-ERR parse slotnum '1024' failed, out of range\r\n".into()),
        (vec![""], "-ERR handle request, bad command length, too short or too long\r\n".into()),
        (vec!["FOOBAR"], "-ERR unknown command 'FOOBAR', with args beginning with: \r\n".into()),
        (vec!["ECHO", "hello world"], "$11\r\nhello world\r\n".into()),
    ];
    for (req, want) in cases {
        assert_eq!(text(&c.call(&req).unwrap()), want, "{req:?}");
    }
    let all = c.call(&["SLOTSMAPPING"]).unwrap();
    assert!(all.raw.starts_with(format!("*1024\r\n*4\r\n+0\r\n+{aa}\r\n+\r\n*-1\r\n").as_bytes()));
    let info = text(&c.call(&["INFO", &aa]).unwrap());
    assert!(info.contains(&format!("tcp_port:{}", a.port())), "INFO <addr> goes to that backend");
    // SELECT changes the backend database (one backend connection per database).
    assert_eq!(text(&c.call(&["SELECT", "3"]).unwrap()), "+OK\r\n");
    let k = key_where("db", |s| s < 512);
    c.call(&["SET", &k, "in-db-3"]).unwrap();
    let mut ca = a.connect().unwrap();
    ca.call(&["SELECT", "3"]).unwrap();
    assert_eq!(text(&ca.call(&["GET", &k]).unwrap()), "$7\r\nin-db-3\r\n");
    assert_eq!(text(&c.call(&["QUIT"]).unwrap()), "+OK\r\n");
    assert!(c.closed_within(Duration::from_secs(5)));
}

#[test]
fn not_allowed_commands_use_the_table_name() {
    let a = Server::start(Kind::Redis).unwrap();
    let p = TestProxy::start(Config::default(), &all_on(&addr(a.port())));
    let mut c = p.conn();
    // From d1 and d5; lower case input is reported upper case.
    for cmd in [
        "KEYS",
        "SCAN",
        "FLUSHALL",
        "FLUSHDB",
        "DBSIZE",
        "RANDOMKEY",
        "MULTI",
        "EXEC",
        "DISCARD",
        "WATCH",
        "UNWATCH",
        "SUBSCRIBE",
        "PSUBSCRIBE",
        "UNSUBSCRIBE",
        "PUBLISH",
        "BLPOP",
        "BRPOP",
        "BRPOPLPUSH",
        "SCRIPT",
        "MSETNX",
        "SLOTSDEL",
        "SLOTSCHECK",
        "SLOTSMGRTSLOT",
        "CONFIG",
        "CLIENT",
        "TIME",
        "RENAME",
        "MOVE",
        "OBJECT",
        "SHUTDOWN",
        "SLAVEOF",
        "SYNC",
        "MONITOR",
        "DEBUG",
        "BGSAVE",
        "SAVE",
        "LASTSAVE",
        "CLUSTER",
        "READONLY",
        "WAIT",
        "BITOP",
        "MIGRATE",
        "RESTORE",
        "slotsmgrt-exec-wrapper",
    ] {
        let want = format!("-ERR handle request, command '{}' is not allowed\r\n", cmd.to_uppercase());
        assert_eq!(text(&c.call(&[cmd, "x", "y"]).unwrap()), want);
    }
}

#[test]
fn session_auth() {
    let a = Server::start(Kind::Redis).unwrap();
    let config = Config { session_auth: "secret".into(), ..Config::default() };
    let p = TestProxy::start(config, &all_on(&addr(a.port())));
    let mut c = p.conn();
    assert_eq!(text(&c.call(&["GET", "k"]).unwrap()), "-NOAUTH Authentication required\r\n");
    // Not-allowed is checked before authentication.
    assert_eq!(text(&c.call(&["KEYS", "*"]).unwrap()), "-ERR handle request, command 'KEYS' is not allowed\r\n");
    assert_eq!(text(&c.call(&["AUTH", "wrong"]).unwrap()), "-ERR invalid password\r\n");
    assert_eq!(text(&c.call(&["AUTH", "secret"]).unwrap()), "+OK\r\n");
    assert_eq!(text(&c.call(&["GET", "k"]).unwrap()), "$-1\r\n");
    assert_eq!(text(&c.call(&["AUTH", "wrong"]).unwrap()), "-ERR invalid password\r\n");
    assert_eq!(text(&c.call(&["GET", "k"]).unwrap()), "-NOAUTH Authentication required\r\n");
}

#[test]
fn offline_unfilled_and_full() {
    let a = Server::start(Kind::Redis).unwrap();
    // Not online: the first line is the error, then the connection closes.
    let p = TestProxy::start_offline(Config::default());
    let mut c = p.conn();
    let (bytes, closed) = c.drain_until_close(Duration::from_secs(5));
    assert_eq!(String::from_utf8_lossy(&bytes), "-ERR router is not online\r\n");
    assert!(closed);
    // Online without slots.
    p.proxy.start();
    let mut c = p.conn();
    assert_eq!(text(&c.call(&["GET", "k"]).unwrap()), "-ERR handle request, slot is not ready, may be offline\r\n");
    p.fill(&all_on(&addr(a.port())));
    assert_eq!(text(&c.call(&["GET", "k"]).unwrap()), "$-1\r\n");
    // proxy_max_clients.
    let p = TestProxy::start(Config { proxy_max_clients: 2, ..Config::default() }, &all_on(&addr(a.port())));
    let mut c1 = p.conn();
    let mut c2 = p.conn();
    assert_eq!(text(&c1.call(&["PING"]).unwrap()), "+PONG\r\n");
    assert_eq!(text(&c2.call(&["PING"]).unwrap()), "+PONG\r\n");
    let mut c3 = p.conn();
    let (bytes, closed) = c3.drain_until_close(Duration::from_secs(5));
    assert_eq!(String::from_utf8_lossy(&bytes), "-ERR max number of clients reached\r\n");
    assert!(closed);
}

#[test]
fn too_many_pipelined_requests_close_the_session() {
    let a = Server::start(Kind::Redis).unwrap();
    let config = Config { session_max_pipeline: 100, ..Config::default() };
    let p = TestProxy::start(config, &all_on(&addr(a.port())));
    let mut c = p.conn();
    // d3: more than session_max_pipeline outstanding requests; Go writes the replies it has and
    // closes without an error reply.
    let mut wire = Vec::new();
    for i in 0..20_000 {
        wire.extend_from_slice(format!("*3\r\n$3\r\nSET\r\n$6\r\nk{i:05}\r\n$1\r\nv\r\n").as_bytes());
    }
    let _ = c.send_raw(&wire);
    let (bytes, closed) = c.drain_until_close(Duration::from_secs(10));
    assert!(closed, "the session is closed");
    let replies = bytes.len() / 5;
    assert!(replies < 20_000, "not every request was answered ({replies})");
    assert!(bytes.chunks(5).all(|r| r == b"+OK\r\n"), "only OK replies, no error line");
}

#[test]
fn backend_failures() {
    let mut a = Server::start(Kind::Redis).unwrap();
    let p = TestProxy::start(Config::default(), &all_on(&addr(a.port())));
    let mut c = p.conn();
    assert_eq!(text(&c.call(&["SET", "k", "v"]).unwrap()), "+OK\r\n");
    a.stop();
    let got = text(&c.call(&["GET", "k"]).unwrap());
    // Go's two answers (both in its failover recording): the request was cut off before the
    // proxy saw the close, or it went out just before and met it.
    assert!(
        got == "-ERR handle response, backend conn reset\r\n"
            || got == "-ERR handle response, backend conn failure, EOF\r\n",
        "{got}"
    );
    // session_break_on_failure: the error is written, then the session closes.
    let p = TestProxy::start(Config { session_break_on_failure: true, ..Config::default() }, &all_on(&addr(a.port())));
    let mut c = p.conn();
    assert_eq!(text(&c.call(&["KEYS", "*"]).unwrap()), "-ERR handle request, command 'KEYS' is not allowed\r\n");
    assert!(c.closed_within(Duration::from_secs(5)));
}

#[test]
fn replicas_serve_reads_when_configured() {
    let (primary, replica) = two_backends(Kind::Redis);
    let slots: Vec<Slot> = all_on(&addr(primary.port()))
        .into_iter()
        .map(|mut s| {
            s.replica_groups = vec![vec![addr(replica.port())]];
            s
        })
        .collect();
    // The replica is a separate server here (not replicating), so where a read went is visible.
    replica.connect().unwrap().call(&["SET", "k", "from-replica"]).unwrap();
    primary.connect().unwrap().call(&["SET", "k", "from-primary"]).unwrap();
    let p = TestProxy::start(Config::default(), &slots);
    std::thread::sleep(Duration::from_millis(300));
    let mut c = p.conn();
    assert_eq!(text(&c.call(&["GET", "k"]).unwrap()), "$12\r\nfrom-replica\r\n");
    // Writes and master-only commands go to the primary.
    assert_eq!(text(&c.call(&["APPEND", "k", "!"]).unwrap()), ":13\r\n");
    assert_eq!(text(&primary.connect().unwrap().call(&["GET", "k"]).unwrap()), "$13\r\nfrom-primary!\r\n");
    let mapping = text(&c.call(&["SLOTSMAPPING", "7"]).unwrap());
    assert_eq!(
        mapping,
        format!("*4\r\n+7\r\n+{}\r\n+\r\n*1\r\n*1\r\n+{}\r\n", addr(primary.port()), addr(replica.port()))
    );
    // backend_primary_only ignores replica groups.
    let p = TestProxy::start(Config { backend_primary_only: true, ..Config::default() }, &slots);
    let mut c = p.conn();
    assert_eq!(text(&c.call(&["GET", "k"]).unwrap()), "$13\r\nfrom-primary!\r\n");
}
