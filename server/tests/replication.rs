//! Replication end to end: our `codis-server` as master of Debian's `redis-server` 7 and of
//! a legacy-style (PSYNC1, inline handshake) replica, as replica of `redis-server` 7 and of
//! itself, partial resynchronization after a dropped link and after a failover (PSYNC2
//! replid2), READONLY, min-replicas-to-write. Tests needing `redis-server` are skipped with a
//! message when it is not on PATH.
//!
//! Servers run on free 127.0.0.1 ports in temporary directories and are stopped by pid.
#![allow(dead_code)]

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use compat::resp::Frame;
use support::*;

fn info(c: &mut Conn, section: &str, name: &str) -> String {
    let Frame::Bulk(text) = c.cmd(&["INFO", section]) else { panic!("INFO") };
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no {name} in INFO:\n{text}"))
}

fn info_num(c: &mut Conn, section: &str, name: &str) -> i64 {
    info(c, section, name).parse().unwrap()
}

/// Every key of dbs 0..4: type, value (unordered collections sorted) and whether it has a TTL.
type Snapshot = BTreeMap<(usize, Bytes), (String, Vec<Bytes>, bool)>;

fn snapshot(c: &mut Conn) -> Snapshot {
    let mut out = BTreeMap::new();
    for db in 0..4usize {
        c.ok(&["SELECT", &db.to_string()]);
        for key in strings(c.cmd(&["KEYS", "*"])) {
            let k: &[u8] = &key;
            let t = match c.cmd_b(&[b"TYPE", k]) {
                Frame::Simple(t) => String::from_utf8_lossy(&t).into_owned(),
                f => panic!("TYPE {f:?}"),
            };
            let mut v = match t.as_str() {
                "string" => vec![bulk(c.cmd_b(&[b"GET", k]))],
                "list" => strings(c.cmd_b(&[b"LRANGE", k, b"0", b"-1"])),
                "set" => strings(c.cmd_b(&[b"SMEMBERS", k])),
                "hash" => strings(c.cmd_b(&[b"HGETALL", k])),
                "zset" => strings(c.cmd_b(&[b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"])),
                "none" => continue,
                other => panic!("type {other}"),
            };
            if t == "set" {
                v.sort();
            }
            if t == "hash" {
                let mut pairs: Vec<(Bytes, Bytes)> = v.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
                pairs.sort();
                v = pairs.into_iter().flat_map(|(a, b)| [a, b]).collect();
            }
            let ttl = match c.cmd_b(&[b"PTTL", k]) {
                Frame::Integer(n) => n,
                f => panic!("PTTL {f:?}"),
            };
            out.insert((db, key.clone()), (t, v, ttl > 0));
        }
    }
    c.ok(&["SELECT", "0"]);
    out
}

/// A varied dataset over several databases.
fn load_dataset(c: &mut Conn, tag: &str) {
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    let v = |s: &[&str]| s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
    for i in 0..200 {
        cmds.push(v(&["SET", &format!("{tag}:s:{i}"), &format!("value-{i}")]));
    }
    for i in 0..150 {
        cmds.push(v(&["RPUSH", &format!("{tag}:list"), &format!("item-{i}")]));
    }
    for i in 0..600 {
        cmds.push(v(&["SADD", &format!("{tag}:ints"), &i.to_string()]));
    }
    for i in 0..200 {
        cmds.push(v(&["ZADD", &format!("{tag}:zset"), &format!("{}.5", i), &format!("m{i}")]));
    }
    for i in 0..70 {
        cmds.push(v(&["HSET", &format!("{tag}:hash"), &format!("f{i}"), &"x".repeat(70)]));
    }
    cmds.push(v(&["SET", &format!("{tag}:ttl"), "v", "EX", "1000"]));
    cmds.push(v(&["SADD", &format!("{tag}:set"), "a", "b", "c", "d"]));
    c.pipeline(&cmds);
    c.ok(&["SELECT", "3"]);
    c.ok(&["SET", &format!("{tag}:in3"), "x"]);
    c.ok(&["LPUSH", &format!("{tag}:l3"), "a", "b"]);
    c.ok(&["SELECT", "0"]);
}

/// Writes whose stream form differs from the command (rewritten to their effects).
fn write_burst(c: &mut Conn, tag: &str) {
    let v = |s: &[&str]| s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
    let mut cmds = Vec::new();
    for i in 0..300 {
        cmds.push(v(&["SET", &format!("{tag}:burst:{i}"), &i.to_string()]));
        cmds.push(v(&["INCR", &format!("{tag}:counter")]));
    }
    cmds.push(v(&["INCRBYFLOAT", &format!("{tag}:float"), "1.5"]));
    cmds.push(v(&["SPOP", &format!("{tag}:set")]));
    cmds.push(v(&["EXPIRE", &format!("{tag}:s:1"), "500"]));
    cmds.push(v(&["SETEX", &format!("{tag}:setex"), "100", "v"]));
    cmds.push(v(&["DEL", &format!("{tag}:s:2"), "missing"]));
    cmds.push(v(&["ZINCRBY", &format!("{tag}:zset"), "2", "m1"]));
    cmds.push(v(&["HDEL", &format!("{tag}:hash"), "f1"]));
    cmds.push(v(&["LPOP", &format!("{tag}:list")]));
    cmds.push(v(&["MULTI"]));
    cmds.push(v(&["SET", &format!("{tag}:tx"), "1"]));
    cmds.push(v(&["LPUSH", &format!("{tag}:txlist"), "a", "b"]));
    cmds.push(v(&["EXEC"]));
    c.pipeline(&cmds);
    c.ok(&["SELECT", "2"]);
    c.ok(&["SET", &format!("{tag}:in2"), "y"]);
    c.ok(&["SET", &format!("{tag}:short"), "y", "PX", "50"]);
    c.ok(&["SELECT", "0"]);
    c.ok(&["MSET", &format!("{tag}:m1"), "1", &format!("{tag}:m2"), "2"]);
}

/// Waits (bounded) until both servers hold the same data.
fn wait_same(master: &mut Conn, replica: &mut Conn, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = snapshot(master);
        let b = snapshot(replica);
        if a == b && !a.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let only_a: Vec<_> = a.iter().filter(|(k, v)| b.get(*k) != Some(v)).map(|(k, _)| k).take(5).collect();
            let only_b: Vec<_> = b.iter().filter(|(k, v)| a.get(*k) != Some(v)).map(|(k, _)| k).take(5).collect();
            panic!(
                "{what}: datasets differ ({} vs {} keys); master-only {only_a:?}, replica-only {only_b:?}",
                a.len(),
                b.len()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn link_up(c: &mut Conn) -> bool {
    info(c, "replication", "master_link_status") == "up"
}

fn online_replicas(c: &mut Conn) -> i64 {
    let Frame::Bulk(text) = c.cmd(&["INFO", "replication"]) else { panic!("INFO") };
    String::from_utf8_lossy(&text).lines().filter(|l| l.starts_with("slave") && l.contains("state=online")).count()
        as i64
}

// ---------------------------------------------------------------------------------------------

#[test]
fn redis7_replica_of_ours_full_then_partial() {
    let redis = require_redis!();
    let d1 = temp_dir("m");
    let d2 = temp_dir("r");
    let master = Server::ours(&d1, &["--repl-diskless-sync", "no"]);
    let mut m = master.conn();
    load_dataset(&mut m, "a");
    let port = master.port.to_string();
    let replica = Server::start(&redis, &d2, &["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.conn();
    wait_until("link up", || link_up(&mut r));
    write_burst(&mut m, "a");
    wait_same(&mut m, &mut r, "after full sync and burst");
    assert_eq!(info_num(&mut m, "stats", "sync_full"), 1);
    // The fork for the replica's RDB is timed like a BGSAVE's.
    assert!(info_num(&mut m, "stats", "latest_fork_usec") > 0);
    assert_eq!(info(&mut m, "replication", "connected_slaves"), "1");
    let role = c_role(&mut m);
    assert_eq!(role[0], "master");
    // A dropped link resumes from the backlog.
    m.ok(&["CLIENT", "KILL", "TYPE", "slave"]);
    m.ok(&["SET", "while:down", "1"]);
    wait_until("replica back online", || online_replicas(&mut m) == 1);
    write_burst(&mut m, "b");
    wait_same(&mut m, &mut r, "after partial resync");
    assert_eq!(info_num(&mut m, "stats", "sync_partial_ok"), 1);
    assert_eq!(info_num(&mut m, "stats", "sync_full"), 1);
    // The replica's offset catches up with ours.
    wait_until("offsets equal", || {
        info_num(&mut m, "replication", "master_repl_offset") == info_num(&mut r, "replication", "master_repl_offset")
    });
}

fn c_role(c: &mut Conn) -> Vec<String> {
    match c.cmd(&["ROLE"]) {
        Frame::Array(items) => items
            .into_iter()
            .map(|f| match f {
                Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                Frame::Integer(n) => n.to_string(),
                Frame::Array(a) => format!("{a:?}"),
                f => format!("{f:?}"),
            })
            .collect(),
        f => panic!("ROLE {f:?}"),
    }
}

#[test]
fn ours_replica_of_redis7() {
    let redis = require_redis!();
    let d1 = temp_dir("m7");
    let d2 = temp_dir("o");
    let master = Server::start(&redis, &d1, &[]);
    let mut m = master.conn();
    load_dataset(&mut m, "a");
    let port = master.port.to_string();
    let replica = Server::ours(&d2, &["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.conn();
    wait_until("link up", || link_up(&mut r));
    write_burst(&mut m, "a");
    wait_same(&mut m, &mut r, "after full sync and burst");
    let e = r.cmd(&["SET", "x", "y"]);
    assert_eq!(e, Frame::Error("READONLY You can't write against a read only replica.".into()));
    let role = c_role(&mut r);
    assert_eq!(&role[..4], &["slave", "127.0.0.1", port.as_str(), "connected"]);
    assert_eq!(info(&mut r, "replication", "role"), "slave");
    // Redis 7 drops the link; we come back with PSYNC <replid> <offset+1>.
    m.ok(&["CLIENT", "KILL", "TYPE", "replica"]);
    m.ok(&["SET", "while:down", "1"]);
    wait_until("partial resync", || info_num(&mut m, "stats", "sync_partial_ok") == 1);
    write_burst(&mut m, "b");
    wait_same(&mut m, &mut r, "after partial resync");
    assert_eq!(info_num(&mut m, "stats", "sync_full"), 1);
    wait_until("offsets equal", || {
        info_num(&mut m, "replication", "master_repl_offset") == info_num(&mut r, "replication", "slave_repl_offset")
    });
    // Our side lists the link (flags=M) and can drop it: again a partial resync.
    let Frame::Bulk(list) = r.cmd(&["CLIENT", "LIST", "TYPE", "master"]) else { panic!("CLIENT LIST") };
    assert!(String::from_utf8_lossy(&list).contains("flags=M"), "{list:?}");
    assert_eq!(r.int(&["CLIENT", "KILL", "TYPE", "master"]), 1);
    wait_until("second partial resync", || info_num(&mut m, "stats", "sync_partial_ok") == 2);
    m.ok(&["SET", "after:kill", "1"]);
    wait_same(&mut m, &mut r, "after CLIENT KILL TYPE master");
    assert_eq!(info_num(&mut m, "stats", "sync_full"), 1);
}

#[test]
fn ours_chain_failover_and_psync2() {
    let da = temp_dir("a");
    let db = temp_dir("b");
    let dc = temp_dir("c");
    let fast = ["--repl-diskless-sync-delay", "0"];
    let a = Server::ours(&da, &fast);
    let b = Server::ours(&db, &fast);
    let c = Server::ours(&dc, &fast);
    let (mut ca, mut cb, mut cc) = (a.conn(), b.conn(), c.conn());
    load_dataset(&mut ca, "a");
    let pa = a.port.to_string();
    cb.ok(&["SLAVEOF", "127.0.0.1", &pa]);
    cc.ok(&["REPLICAOF", "127.0.0.1", &pa]);
    wait_until("b up", || link_up(&mut cb));
    wait_until("c up", || link_up(&mut cc));
    write_burst(&mut ca, "a");
    wait_same(&mut ca, &mut cb, "b");
    wait_same(&mut ca, &mut cc, "c");
    assert_eq!(info_num(&mut ca, "stats", "sync_full"), 2);
    // Transactions reach the replicas; WAIT counts the replicas that acknowledged.
    ca.ok(&["MULTI"]);
    ca.ok(&["SET", "tx:a", "1"]);
    ca.ok(&["INCR", "tx:b"]);
    ca.ok(&["EXEC"]);
    assert_eq!(ca.int(&["WAIT", "2", "5000"]), 2);
    let t = Instant::now();
    assert_eq!(ca.int(&["WAIT", "3", "300"]), 2);
    assert!(t.elapsed() >= Duration::from_millis(250));
    wait_same(&mut ca, &mut cb, "b after MULTI");
    // Fail over to B; C follows B and continues without a full sync (replid2).
    cb.ok(&["SLAVEOF", "NO", "ONE"]);
    assert_eq!(info(&mut cb, "replication", "role"), "master");
    assert_eq!(strings(cb.cmd(&["CONFIG", "GET", "replicaof"]))[1], Bytes::from_static(b""));
    cb.ok(&["SET", "after:failover", "1"]);
    let pb = b.port.to_string();
    cc.ok(&["SLAVEOF", "127.0.0.1", &pb]);
    wait_until("c up on b", || link_up(&mut cc) && info(&mut cc, "replication", "master_port") == pb);
    assert_eq!(strings(cc.cmd(&["CONFIG", "GET", "replicaof"]))[1], Bytes::from(format!("127.0.0.1 {pb}")));
    write_burst(&mut cb, "b");
    wait_same(&mut cb, &mut cc, "c after failover");
    assert_eq!(info_num(&mut cb, "stats", "sync_full"), 0);
    assert_eq!(info_num(&mut cb, "stats", "sync_partial_ok"), 1);
    // And back: A becomes a replica of B, resuming from its own history.
    ca.ok(&["SLAVEOF", "127.0.0.1", &pb]);
    wait_until("a up on b", || link_up(&mut ca));
    wait_same(&mut cb, &mut ca, "a after failback");
    assert_eq!(info_num(&mut cb, "stats", "sync_partial_ok"), 2);
    assert_eq!(info_num(&mut cb, "stats", "sync_full"), 0);
    // min-replicas-to-write.
    cb.ok(&["CONFIG", "SET", "min-replicas-to-write", "5"]);
    assert_eq!(cb.cmd(&["SET", "k", "v"]), Frame::Error("NOREPLICAS Not enough good replicas to write.".into()));
    cb.ok(&["CONFIG", "SET", "min-replicas-to-write", "2"]);
    cb.ok(&["SET", "k", "v"]);
}

/// A codis-server 3.2 replica's handshake: inline commands, `capa eof` only, `PSYNC ? -1`:
/// it gets `+FULLRESYNC <id> <offset>`, an RDB v7 with `$<len>` and no trailing CRLF, then the
/// stream starting with SELECT; on reconnect a bare `+CONTINUE`.
#[test]
fn legacy_psync1_handshake_gets_rdb_v7() {
    let d = temp_dir("l");
    let master = Server::ours(&d, &["--repl-diskless-sync", "no"]);
    let mut m = master.conn();
    load_dataset(&mut m, "a");
    let mut s = TcpStream::connect(("127.0.0.1", master.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = Vec::new();
    let line = |s: &mut TcpStream, buf: &mut Vec<u8>, req: &[u8]| -> String {
        if !req.is_empty() {
            s.write_all(req).unwrap();
        }
        loop {
            if let Some(p) = buf.iter().position(|&b| b == b'\n') {
                let l: Vec<u8> = buf.drain(..=p).collect();
                return String::from_utf8_lossy(&l).trim_end().to_string();
            }
            let mut tmp = [0u8; 65536];
            let n = s.read(&mut tmp).unwrap();
            assert!(n > 0);
            buf.extend_from_slice(&tmp[..n]);
        }
    };
    assert_eq!(line(&mut s, &mut buf, b"PING\r\n"), "+PONG");
    assert_eq!(line(&mut s, &mut buf, b"REPLCONF listening-port 7312\r\n"), "+OK");
    assert_eq!(line(&mut s, &mut buf, b"REPLCONF capa eof\r\n"), "+OK");
    let full = line(&mut s, &mut buf, b"PSYNC ? -1\r\n");
    let parts: Vec<&str> = full.split(' ').collect();
    assert_eq!(parts[0], "+FULLRESYNC");
    assert_eq!(parts[1].len(), 40);
    let offset: u64 = parts[2].parse().unwrap();
    // Keep-alive newlines may come while the RDB is being written.
    let header = loop {
        let l = line(&mut s, &mut buf, b"");
        if !l.is_empty() {
            break l;
        }
    };
    let len: usize = header.strip_prefix('$').unwrap().parse().unwrap();
    while buf.len() < len {
        let mut tmp = [0u8; 65536];
        let n = s.read(&mut tmp).unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&tmp[..n]);
    }
    let rdb: Vec<u8> = buf.drain(..len).collect();
    assert_eq!(&rdb[..9], b"REDIS0007");
    // A complete v7 file holding every key (3.2 types only: a 3.2 replica loads it).
    let mut reader = compat::rdb::RdbReader::new(&rdb[..]).unwrap();
    let mut entries = 0;
    while let Some(item) = reader.read_item().unwrap() {
        if let compat::rdb::Item::Entry(e) = item {
            let t = e.type_id;
            assert!([0u8, 2, 3, 4, 11, 12, 13, 14].contains(&t), "type {t}");
            entries += 1;
        }
    }
    m.ok(&["SELECT", "3"]);
    let in3 = m.int(&["DBSIZE"]);
    m.ok(&["SELECT", "0"]);
    assert_eq!(entries, m.int(&["DBSIZE"]) + in3);
    m.ok(&["SELECT", "4"]);
    m.ok(&["SET", "stream:key", "v"]);
    let expect = b"*2\r\n$6\r\nSELECT\r\n$1\r\n4\r\n*3\r\n$3\r\nSET\r\n$10\r\nstream:key\r\n$1\r\nv\r\n";
    let pings = read_stream(&mut s, &mut buf, expect.len());
    assert_eq!(&buf[..expect.len()], expect);
    let seen = offset + (pings + expect.len()) as u64;
    s.write_all(format!("*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n{}\r\n", seen.to_string().len(), seen).as_bytes())
        .unwrap();
    wait_until("ack seen", || info(&mut m, "replication", "slave0").contains("state=online"));
    drop(s);
    // Reconnect: partial resync with a bare +CONTINUE and the missed writes.
    m.ok(&["SET", "missed", "1"]);
    let mut s = TcpStream::connect(("127.0.0.1", master.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = Vec::new();
    let req = format!("PSYNC {} {}\r\n", parts[1], seen + 1);
    assert_eq!(line(&mut s, &mut buf, req.as_bytes()), "+CONTINUE");
    let expect = b"*3\r\n$3\r\nSET\r\n$6\r\nmissed\r\n$1\r\n1\r\n";
    let _ = read_stream(&mut s, &mut buf, expect.len());
    assert_eq!(&buf[..expect.len()], expect);
    assert_eq!(info_num(&mut m, "stats", "sync_partial_ok"), 1);
}

/// Reads until `want` bytes follow the master's PINGs at the front of `buf` (which are removed);
/// returns how many bytes of PINGs there were.
fn read_stream(s: &mut TcpStream, buf: &mut Vec<u8>, want: usize) -> usize {
    const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";
    let mut pings = 0;
    loop {
        while buf.starts_with(PING) {
            buf.drain(..PING.len());
            pings += PING.len();
        }
        if buf.len() >= want && !PING.starts_with(&buf[..buf.len().min(PING.len())]) {
            return pings;
        }
        let mut tmp = [0u8; 65536];
        let n = s.read(&mut tmp).unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&tmp[..n]);
    }
}

/// `masterauth` against a master with `requirepass`.
#[test]
fn ours_replica_with_masterauth() {
    let da = temp_dir("pa");
    let db = temp_dir("pb");
    let a = Server::ours(&da, &["--requirepass", "secret", "--repl-diskless-sync-delay", "0"]);
    let mut ca = a.conn();
    ca.ok(&["AUTH", "secret"]);
    load_dataset(&mut ca, "a");
    let pa = a.port.to_string();
    let b = Server::ours(&db, &["--slaveof", "127.0.0.1", &pa, "--masterauth", "secret"]);
    let mut cb = b.conn();
    wait_until("link up", || link_up(&mut cb));
    write_burst(&mut ca, "a");
    wait_same(&mut ca, &mut cb, "with auth");
}

fn redis_sentinel_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("redis-sentinel")).find(|p| p.is_file())
}

/// Debian's redis-sentinel monitors our master and its replica; when the master dies the
/// replica is promoted.
#[test]
fn sentinel_promotes_our_replica() {
    let Some(sentinel) = redis_sentinel_binary() else {
        eprintln!("SKIPPED: redis-sentinel not found on PATH");
        return;
    };
    let dm = temp_dir("sm");
    let dr = temp_dir("sr");
    let ds = temp_dir("ss");
    let mut master = Server::ours(&dm, &["--repl-diskless-sync", "no"]);
    let mut cm = master.conn();
    load_dataset(&mut cm, "a");
    let pm = master.port.to_string();
    let replica = Server::ours(&dr, &["--slaveof", "127.0.0.1", &pm]);
    let mut cr = replica.conn();
    wait_until("link up", || link_up(&mut cr));
    wait_same(&mut cm, &mut cr, "before failover");
    let sport = free_port();
    let conf = ds.join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {sport}\nbind 127.0.0.1\ndir {}\nlogfile {}\nsentinel monitor mymaster 127.0.0.1 {pm} 1\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 10000\n",
            ds.display(),
            ds.join("sentinel.log").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(&sentinel)
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut child);
    let sentinel_log = || std::fs::read_to_string(ds.join("sentinel.log")).unwrap_or_default();
    // Wait until the sentinel knows the replica.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = Conn::connect(sport).ok().is_some_and(|mut c| match c.cmd(&["SENTINEL", "REPLICAS", "mymaster"]) {
            Frame::Array(a) => !a.is_empty(),
            _ => false,
        });
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "sentinel did not discover the replica; log:\n{}", sentinel_log());
        std::thread::sleep(Duration::from_millis(200));
    }
    master.kill9();
    let deadline = Instant::now() + Duration::from_secs(40);
    // Sentinel ends the failover with CLIENT KILL TYPE normal: poll on fresh connections.
    drop(cr);
    let role_is_master = |port: u16| -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        if s.write_all(b"ROLE\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 256];
        matches!(s.read(&mut buf), Ok(n) if n > 0 && buf[..n].windows(6).any(|w| w == b"master"))
    };
    while !role_is_master(replica.port) {
        assert!(Instant::now() < deadline, "replica not promoted; sentinel log:\n{}", sentinel_log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut cr = replica.conn();
    cr.ok(&["SET", "after:failover", "1"]);
    assert_eq!(info(&mut cr, "replication", "role"), "master");
}

/// A fake codis-server 3.2 master replaying recorded master→replica byte streams, one per
/// connection (handshake replies, `+FULLRESYNC <runid> 1`, the RDB v7 payload, the command
/// stream; then, for a second connection, `+CONTINUE` and the backlog). Returns what the
/// replica sent on each connection.
struct FakeMaster {
    port: u16,
    /// Set to close the current connection (and go on with the next recording).
    next: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<Vec<u8>>>>,
}

impl FakeMaster {
    fn start(recordings: Vec<Vec<u8>>) -> FakeMaster {
        use std::sync::atomic::Ordering::Relaxed;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let next = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let next2 = next.clone();
        let thread = std::thread::spawn(move || {
            let mut received = Vec::new();
            for payload in recordings {
                let (mut s, _) = listener.accept().unwrap();
                s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
                let mut got = Vec::new();
                let mut tmp = [0u8; 4096];
                if let Ok(n) = s.read(&mut tmp) {
                    got.extend_from_slice(&tmp[..n]);
                }
                s.write_all(&payload).unwrap();
                while !next2.swap(false, Relaxed) {
                    match s.read(&mut tmp) {
                        Ok(0) => break,
                        Ok(n) => got.extend_from_slice(&tmp[..n]),
                        Err(_) => {}
                    }
                }
                received.push(got);
            }
            received
        });
        FakeMaster { port, next, thread: Some(thread) }
    }

    fn next(&self) {
        self.next.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn finish(mut self) -> Vec<Vec<u8>> {
        self.next();
        self.thread.take().unwrap().join().unwrap()
    }
}

/// Length of the command stream after the RDB payload of a full-sync recording.
fn stream_len_after_rdb(bytes: &[u8]) -> usize {
    let rdb_start = bytes.windows(9).position(|w| w == b"REDIS0007").unwrap();
    let header_start = bytes[..rdb_start - 2].iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let header = std::str::from_utf8(&bytes[header_start..rdb_start - 2]).unwrap();
    let rdb_end = match header.strip_prefix("$EOF:") {
        Some(mark) => bytes.windows(40).rposition(|w| w == mark.as_bytes()).unwrap() + 40,
        None => rdb_start + header[1..].parse::<usize>().unwrap(),
    };
    bytes.len() - rdb_end
}

fn wait_offset(r: &mut Conn, replica: &Server, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while info_num(r, "replication", "slave_repl_offset") != want {
        assert!(
            Instant::now() < deadline,
            "stream not applied (want offset {want}): {}\nlog:\n{}",
            info(r, "replication", "slave_repl_offset"),
            replica.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn check_legacy_dataset(r: &mut Conn) {
    assert_eq!(info(r, "replication", "master_link_status"), "up");
    assert_eq!(bulk(r.cmd(&["GET", "str:1"])), Bytes::from_static(b"1001"));
    assert_eq!(bulk(r.cmd(&["GET", "w:float"])), Bytes::from_static(b"1.5"));
    assert_eq!(r.cmd(&["GET", "w:a"]), Frame::NullBulk);
    assert_eq!(r.int(&["EXISTS", "w:soon"]), 0);
    // SADD a b c, then the SREM the master's SPOP became.
    assert_eq!(r.int(&["SCARD", "w:set"]), 2);
    assert!(r.int(&["TTL", "w:str"]) > 0);
    r.ok(&["SELECT", "3"]);
    assert_eq!(
        strings(r.cmd(&["LRANGE", "db3:list", "0", "-1"])),
        vec![Bytes::from_static(b"c"), Bytes::from_static(b"b"), Bytes::from_static(b"a")]
    );
    r.ok(&["SELECT", "5"]);
    assert_eq!(bulk(r.cmd(&["GET", "db5:str:0"])), Bytes::from_static(b"five-0"));
    assert_eq!(r.int(&["SCARD", "db5:bigintset"]), 600);
    r.ok(&["SELECT", "0"]);
}

/// Full sync from a recorded 3.2 master (disk payload), then the recorded partial resync: we
/// must ask `PSYNC <runid> <offset+1>` exactly as the 3.2 replica did and apply `+CONTINUE`.
#[test]
fn ours_replica_of_recorded_legacy_master_disk() {
    let dir = require_reference!().join("wire/3_replication_legacy");
    let conn1 = std::fs::read(dir.join("w3a_repl_legacy_to_legacy_conn1_master_to_replica.bin")).unwrap();
    let conn2 = std::fs::read(dir.join("w3a_repl_legacy_to_legacy_conn2_master_to_replica.bin")).unwrap();
    let fake = FakeMaster::start(vec![conn1.clone(), conn2.clone()]);
    let d = temp_dir("legacy");
    let p = fake.port.to_string();
    let replica = Server::ours(&d, &["--slaveof", "127.0.0.1", &p]);
    let mut r = replica.conn();
    let offset = 1 + stream_len_after_rdb(&conn1) as i64;
    wait_offset(&mut r, &replica, offset);
    check_legacy_dataset(&mut r);
    assert_eq!(bulk(r.cmd(&["GET", "w:counter"])), Bytes::from_static(b"2"));
    // The link drops; the replica comes back with PSYNC and gets the backlog.
    fake.next();
    let continue_at = conn2.windows(11).position(|w| w == b"+CONTINUE\r\n").unwrap() + 11;
    wait_offset(&mut r, &replica, offset + (conn2.len() - continue_at) as i64);
    assert_eq!(bulk(r.cmd(&["GET", "w:counter"])), Bytes::from_static(b"3"));
    assert_eq!(r.cmd(&["GET", "during:1"]), Frame::NullBulk);
    assert_eq!(bulk(r.cmd(&["GET", "after:1"])), Bytes::from_static(b"after reconnect"));
    r.ok(&["SELECT", "7"]);
    assert_eq!(bulk(r.cmd(&["GET", "db7:k"])), Bytes::from_static(b"v7"));
    // Let a periodic REPLCONF ACK (once a second) go out before the fake master stops.
    std::thread::sleep(Duration::from_millis(1300));
    let received = fake.finish();
    let psync = String::from_utf8_lossy(&received[1]).to_string();
    assert!(psync.contains("PSYNC\r\n$40\r\na1f9f69c3eb06c5a2eace11bb5480a8c0143b305\r\n$3\r\n952\r\n"), "{psync}");
    // The offset the recorded 3.2 replica acknowledged (`REPLCONF ACK 1263`).
    assert_eq!(info_num(&mut r, "replication", "slave_repl_offset"), 1263);
    assert!(String::from_utf8_lossy(&received[1]).contains("REPLCONF\r\n$3\r\nACK\r\n$4\r\n1263\r\n"));
}

#[test]
fn ours_replica_of_recorded_legacy_master_diskless_auth() {
    let dir = require_reference!().join("wire/3_replication_legacy");
    let conn1 = std::fs::read(dir.join("w3b_repl_legacy_diskless_auth_conn1_master_to_replica.bin")).unwrap();
    let fake = FakeMaster::start(vec![conn1.clone()]);
    let d = temp_dir("legacy");
    let p = fake.port.to_string();
    let replica = Server::ours(&d, &["--slaveof", "127.0.0.1", &p, "--masterauth", "wirepass"]);
    let mut r = replica.conn();
    wait_offset(&mut r, &replica, 1 + stream_len_after_rdb(&conn1) as i64);
    check_legacy_dataset(&mut r);
    let received = fake.finish();
    assert!(String::from_utf8_lossy(&received[0]).contains("AUTH\r\n$8\r\nwirepass"));
}

/// `replica-serve-stale-data no`: a replica whose link is down refuses data commands.
#[test]
fn stale_replica_refuses_with_masterdown() {
    let d = temp_dir("stale");
    let dead = free_port().to_string();
    let r = Server::ours(&d, &["--slaveof", "127.0.0.1", &dead, "--slave-serve-stale-data", "no"]);
    let mut c = r.conn();
    assert_eq!(
        c.cmd(&["GET", "k"]),
        Frame::Error("MASTERDOWN Link with MASTER is down and slave-serve-stale-data is set to 'no'.".into())
    );
    assert_eq!(info(&mut c, "replication", "master_link_status"), "down");
    assert_eq!(c_role(&mut c)[0], "slave");
    c.ok(&["SLAVEOF", "NO", "ONE"]);
    c.ok(&["SET", "k", "v"]);
}

/// An RDB larger than what is queued at once goes out in parts; writes made meanwhile follow.
#[test]
fn large_rdb_is_sent_in_parts() {
    let da = temp_dir("big-a");
    let db = temp_dir("big-b");
    let a = Server::ours(&da, &["--rdbcompression", "no", "--repl-diskless-sync", "no"]);
    let mut ca = a.conn();
    let value = "x".repeat(1 << 20);
    let cmds: Vec<Vec<Vec<u8>>> =
        (0..80).map(|i| vec![b"SET".to_vec(), format!("big:{i}").into_bytes(), value.clone().into_bytes()]).collect();
    ca.pipeline(&cmds);
    let pa = a.port.to_string();
    let b = Server::ours(&db, &["--slaveof", "127.0.0.1", &pa]);
    let mut cb = b.conn();
    for i in 0..50 {
        ca.ok(&["SET", &format!("during:{i}"), "v"]);
    }
    wait_until("link up", || link_up(&mut cb));
    wait_until("all keys", || cb.int(&["DBSIZE"]) == 130);
    assert_eq!(cb.int(&["STRLEN", "big:79"]), 1 << 20);
    // The replica parsed the 80 MB RDB as it streamed in: its peak memory is the dataset plus
    // small buffers, not the dataset plus a copy of the payload.
    let pid = b.child.as_ref().unwrap().id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hwm_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    println!("replica peak RSS {} MB for an 80 MB dataset", hwm_kb / 1024);
    assert!(hwm_kb < 130 * 1024, "replica peak RSS {hwm_kb} kB: the payload was buffered");
    wait_until("offsets equal", || {
        info_num(&mut ca, "replication", "master_repl_offset") == info_num(&mut cb, "replication", "slave_repl_offset")
    });
}

/// A diskless full sync as a 3.2 replica sees it after `PSYNC ? -1`: keep-alive newlines while
/// the master waits for `repl-diskless-sync-delay`, `+FULLRESYNC <id> <offset>`,
/// `$EOF:<40 hex chars>`, the RDB (no length), the same 40 chars; then the command stream.
struct DisklessSync {
    newlines: usize,
    replid: String,
    offset: u64,
    rdb: Vec<u8>,
    /// Bytes after the closing mark.
    rest: Vec<u8>,
}

/// Splits `bytes` into a [`DisklessSync`]; `None` while incomplete. Panics on bad framing.
fn parse_diskless(bytes: &[u8]) -> Option<DisklessSync> {
    let newlines = bytes.iter().take_while(|&&b| b == b'\n').count();
    let mut at = newlines;
    let mut line = || -> Option<String> {
        let p = bytes[at..].windows(2).position(|w| w == b"\r\n")?;
        let l = String::from_utf8_lossy(&bytes[at..at + p]).into_owned();
        at += p + 2;
        Some(l)
    };
    let full = line()?;
    let eof = line()?;
    let parts: Vec<&str> = full.split(' ').collect();
    assert_eq!(parts[0], "+FULLRESYNC", "{full:?}");
    let mark = eof.strip_prefix("$EOF:").unwrap_or_else(|| panic!("not a diskless header: {eof:?}"));
    assert_eq!(mark.len(), 40, "{eof:?}");
    assert!(mark.bytes().all(|b| b.is_ascii_hexdigit()), "{eof:?}");
    // The RDB ends at its checksum; the mark must follow at once.
    let body = &bytes[at..];
    let mut reader = compat::rdb::RdbReader::new(body).ok()?;
    loop {
        match reader.read_item() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(compat::rdb::RdbError::UnexpectedEof { .. }) => return None,
            Err(e) => panic!("bad RDB in the diskless transfer: {e}"),
        }
    }
    let len = reader.position() as usize;
    if body.len() < len + 40 {
        return None;
    }
    assert_eq!(&body[len..len + 40], mark.as_bytes(), "the RDB is not followed by the EOF mark");
    Some(DisklessSync {
        newlines,
        replid: parts[1].to_string(),
        offset: parts[2].parse().unwrap(),
        rdb: body[..len].to_vec(),
        rest: body[len + 40..].to_vec(),
    })
}

/// Our diskless transfer to a legacy (inline, `capa eof`) replica has the framing of the
/// recorded 3.2 → 3.2 diskless transfer (w3b), and the stream waits for the first ACK.
#[test]
fn diskless_sync_to_legacy_replica_matches_recorded_framing() {
    let recorded = require_reference!()
        .join("wire/3_replication_legacy/w3b_repl_legacy_diskless_auth_conn1_master_to_replica.bin");
    let recorded = std::fs::read(recorded).unwrap();
    // The replies to PING (NOAUTH), AUTH, REPLCONF, REPLCONF come first.
    let mut skip = 0;
    for _ in 0..4 {
        skip += recorded[skip..].windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    }
    let rec = parse_diskless(&recorded[skip..]).expect("complete recorded transfer");
    assert!(rec.newlines >= 1);
    assert_eq!(&rec.rdb[..9], b"REDIS0007");

    let d = temp_dir("dl");
    let master = Server::ours(&d, &["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "1"]);
    let mut m = master.conn();
    load_dataset(&mut m, "a");
    let mut s = TcpStream::connect(("127.0.0.1", master.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = Vec::new();
    let read_line = |s: &mut TcpStream, req: &[u8]| -> String {
        s.write_all(req).unwrap();
        let mut out = Vec::new();
        let mut b = [0u8; 1];
        while !out.ends_with(b"\r\n") {
            assert_eq!(s.read(&mut b).unwrap(), 1);
            out.push(b[0]);
        }
        String::from_utf8_lossy(&out).trim_end().to_string()
    };
    assert_eq!(read_line(&mut s, b"PING\r\n"), "+PONG");
    assert_eq!(read_line(&mut s, b"REPLCONF listening-port 7312\r\n"), "+OK");
    assert_eq!(read_line(&mut s, b"REPLCONF capa eof\r\n"), "+OK");
    s.write_all(b"PSYNC ? -1\r\n").unwrap();
    let sync = loop {
        if let Some(x) = parse_diskless(&buf) {
            break x;
        }
        let mut tmp = [0u8; 65536];
        let n = s.read(&mut tmp).unwrap();
        assert!(n > 0, "connection closed during the transfer");
        buf.extend_from_slice(&tmp[..n]);
    };
    assert!(sync.newlines >= 1, "no keep-alive newline during the diskless delay");
    assert_eq!(sync.replid.len(), 40);
    assert_eq!(&sync.rdb[..9], b"REDIS0007");
    let mut reader = compat::rdb::RdbReader::new(&sync.rdb[..]).unwrap();
    let mut entries = 0;
    while let Some(item) = reader.read_item().unwrap() {
        if let compat::rdb::Item::Entry(e) = item {
            assert!([0u8, 2, 3, 4, 11, 12, 13, 14].contains(&e.type_id), "type {}", e.type_id);
            entries += 1;
        }
    }
    assert!(entries > 200);
    // Writes made now are held until the replica acknowledges the RDB.
    m.ok(&["SELECT", "4"]);
    m.ok(&["SET", "stream:key", "v"]);
    s.set_read_timeout(Some(Duration::from_millis(400))).unwrap();
    let mut tmp = [0u8; 4096];
    let early = s.read(&mut tmp).map(|n| n > 0).unwrap_or(false);
    assert!(!early && sync.rest.is_empty(), "stream sent before the replica's ACK");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let ack = sync.offset.to_string();
    s.write_all(format!("*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n{ack}\r\n", ack.len()).as_bytes()).unwrap();
    let mut buf = Vec::new();
    let expect = b"*2\r\n$6\r\nSELECT\r\n$1\r\n4\r\n*3\r\n$3\r\nSET\r\n$10\r\nstream:key\r\n$1\r\nv\r\n";
    let _ = read_stream(&mut s, &mut buf, expect.len());
    assert_eq!(&buf[..expect.len()], expect);
    wait_until("replica online", || online_replicas(&mut m) == 1);
}

/// Redis 7 takes our diskless transfer (RDB v10, `$EOF:` framing).
#[test]
fn redis7_replica_of_ours_diskless() {
    let redis = require_redis!();
    let d1 = temp_dir("dlm");
    let d2 = temp_dir("dlr");
    let master = Server::ours(&d1, &["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"]);
    let mut m = master.conn();
    load_dataset(&mut m, "a");
    let port = master.port.to_string();
    let replica = Server::start(&redis, &d2, &["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.conn();
    wait_until("link up", || link_up(&mut r));
    write_burst(&mut m, "a");
    wait_same(&mut m, &mut r, "after a diskless full sync");
    assert_eq!(info_num(&mut m, "stats", "sync_full"), 1);
    assert!(master.log().contains("target: replicas sockets"), "{}", master.log());
    assert!(replica.log().contains("receiving streamed RDB from master with EOF"), "{}", replica.log());
}

/// Two of our replicas asking within the delay share one diskless transfer.
#[test]
fn ours_replicas_share_one_diskless_transfer() {
    let d1 = temp_dir("dsm");
    let d2 = temp_dir("dsa");
    let d3 = temp_dir("dsb");
    let master = Server::ours(&d1, &["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "2"]);
    let mut m = master.conn();
    load_dataset(&mut m, "a");
    let port = master.port.to_string();
    let ra = Server::ours(&d2, &["--slaveof", "127.0.0.1", &port]);
    let rb = Server::ours(&d3, &["--slaveof", "127.0.0.1", &port]);
    let (mut a, mut b) = (ra.conn(), rb.conn());
    wait_until("links up", || link_up(&mut a) && link_up(&mut b));
    write_burst(&mut m, "a");
    wait_same(&mut m, &mut a, "replica a");
    wait_same(&mut m, &mut b, "replica b");
    assert_eq!(info_num(&mut m, "stats", "sync_full"), 2);
    assert_eq!(master.log().matches("target: replicas sockets").count(), 1, "{}", master.log());
}

/// The AUX fields of an RDB file.
fn rdb_aux(path: &std::path::Path) -> BTreeMap<String, String> {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = compat::rdb::RdbReader::new(&bytes[..]).unwrap();
    while reader.read_item().unwrap().is_some() {}
    reader
        .aux()
        .iter()
        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect()
}

/// A replica saving RDB v10 records `repl-id`/`repl-offset`/`repl-stream-db`; restarted, it
/// asks its master (ours, then Redis 7) for a partial resync from there, and goes on in the
/// database the master's stream had selected. With RDB v7 (what 3.2 writes: no such fields)
/// the restart takes a full sync.
#[test]
fn restarted_replica_continues_from_the_rdb_position() {
    let redis = redis_server_binary();
    for (master_kind, rdb_version) in [("ours", "10"), ("redis", "10"), ("ours", "7")] {
        let dm = temp_dir("rm");
        let dr = temp_dir("rr");
        let master = match (master_kind, &redis) {
            ("ours", _) => Server::ours(&dm, &["--repl-diskless-sync-delay", "0"]),
            (_, Some(bin)) => Server::start(bin, &dm, &["--repl-diskless-sync-delay", "0"]),
            (_, None) => {
                eprintln!("SKIPPED (Redis 7 master): redis-server not found on PATH");
                continue;
            }
        };
        let mut m = master.conn();
        load_dataset(&mut m, "a");
        let pm = master.port.to_string();
        let mut replica = Server::ours(&dr, &["--slaveof", "127.0.0.1", &pm, "--rdb-version", rdb_version]);
        let mut r = replica.conn();
        wait_until("link up", || link_up(&mut r));
        // The master's stream is left in db 3.
        m.ok(&["SELECT", "3"]);
        m.ok(&["SET", "k1", "before"]);
        wait_same(&mut m, &mut r, "before the restart");
        let full_before = info_num(&mut m, "stats", "sync_full");
        let partial_before = info_num(&mut m, "stats", "sync_partial_ok");
        r.ok(&["SAVE"]);
        let aux = rdb_aux(&dr.join("dump.rdb"));
        let master_id = info(&mut m, "replication", "master_replid");
        if rdb_version == "10" {
            assert_eq!(aux.get("repl-id"), Some(&master_id), "{aux:?}");
            assert_eq!(aux.get("repl-stream-db").map(String::as_str), Some("3"), "{aux:?}");
            let off: i64 = aux["repl-offset"].parse().unwrap();
            assert_eq!(off, info_num(&mut r, "replication", "slave_repl_offset"));
        } else {
            assert!(!aux.contains_key("repl-id"), "3.2's v7 files have no replication fields: {aux:?}");
        }
        drop(r);
        replica.kill9();
        // Written while the replica is down, in db 3 again: no new SELECT in the stream.
        m.ok(&["SELECT", "3"]);
        m.ok(&["SET", "k2", "while down"]);
        replica.spawn();
        let mut r = replica.conn();
        wait_until("link up again", || link_up(&mut r));
        m.ok(&["SET", "k3", "after"]);
        wait_same(&mut m, &mut r, "after the restart");
        let (full, partial) = (info_num(&mut m, "stats", "sync_full"), info_num(&mut m, "stats", "sync_partial_ok"));
        if rdb_version == "10" {
            assert_eq!((full, partial), (full_before, partial_before + 1), "{master_kind}: not a partial resync");
            assert!(replica.log().contains("Restored replication ID and offset"), "{}", replica.log());
        } else {
            assert_eq!(full, full_before + 1, "{master_kind}: v7 restart must take a full sync");
        }
        m.ok(&["SELECT", "0"]);
    }
}
