//! Interop with a real Redis 7 (`redis-server` on PATH, Debian ships 7.0.15): it loads the RDB
//! files and DUMP payloads we write, and we read what it writes. Skipped, with a printed
//! reason, when `redis-server` is not installed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::roundtrip::gen_value;
use super::{assert_bytes_eq, norm, read_entries, rewrite, Norm};
use crate::rdb::{
    decode_dump_payload, dump_payload, num, types, Item, RdbReader, RdbValue, RdbVersion, RdbWriter, StandardAux,
};
use crate::resp::{parse_frame, Frame};

fn redis_server_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("redis-server")).find(|p| p.is_file())
}

macro_rules! require_redis {
    () => {
        match redis_server_binary() {
            Some(b) => b,
            None => {
                eprintln!("SKIPPED: redis-server not found on PATH");
                return;
            }
        }
    };
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rcodis-rdb-{tag}-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A redis-server child process, killed (by its pid, through `Child`) when dropped.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    fn start(bin: &Path, dir: &Path, dbfilename: &str) -> Server {
        let port = free_port();
        let child = Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .args(["--dbfilename", dbfilename, "--logfile", "redis.log", "--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let mut s = Server { child, port, dir: dir.to_path_buf() };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = s.child.try_wait().unwrap() {
                panic!("redis-server exited ({status}); log:\n{}", s.log());
            }
            if let Ok(mut c) = Client::connect(port) {
                if c.cmd(&["PING"]) == Frame::Simple("PONG".into()) {
                    return s;
                }
            }
            assert!(Instant::now() < deadline, "redis-server not ready; log:\n{}", s.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    fn client(&self) -> Client {
        Client::connect(self.port).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(port: u16) -> std::io::Result<Client> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Client { s, buf: Vec::new() })
    }

    fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Frame {
        let mut out = BytesMut::new();
        Frame::command(args.iter().map(|a| a.as_ref())).encode(&mut out);
        self.s.write_all(&out).unwrap();
        loop {
            if let Some((f, used)) = parse_frame(&self.buf).unwrap() {
                self.buf.drain(..used);
                return f;
            }
            let mut chunk = [0u8; 65536];
            let n = self.s.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn ok<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let f = self.cmd(args);
        assert!(!f.is_error(), "{:?} -> {f:?}", String::from_utf8_lossy(args[0].as_ref()));
    }
}

fn bulk(f: Frame) -> Bytes {
    match f {
        Frame::Bulk(b) => b,
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn bulks(f: Frame) -> Vec<Bytes> {
    match f {
        Frame::Array(v) => v.into_iter().map(bulk).collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

/// The value of `key` as Redis reports it through commands.
fn fetch(c: &mut Client, key: &[u8]) -> Norm {
    let ty = match c.cmd(&[&b"TYPE"[..], key]) {
        Frame::Simple(t) => t,
        other => panic!("TYPE: {other:?}"),
    };
    match &ty[..] {
        b"string" => Norm::Str(bulk(c.cmd(&[&b"GET"[..], key])).to_vec()),
        b"list" => norm(&RdbValue::List(bulks(c.cmd(&[&b"LRANGE"[..], key, b"0", b"-1"])))),
        b"set" => norm(&RdbValue::Set(bulks(c.cmd(&[&b"SMEMBERS"[..], key])))),
        b"hash" => {
            let v = bulks(c.cmd(&[&b"HGETALL"[..], key]));
            norm(&RdbValue::Hash(v.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect()))
        }
        b"zset" => {
            let v = bulks(c.cmd(&[&b"ZRANGE"[..], key, b"0", b"-1", b"WITHSCORES"]));
            norm(&RdbValue::ZSet(v.chunks(2).map(|p| (p[0].clone(), num::parse_f64(&p[1]).unwrap())).collect()))
        }
        other => panic!("unexpected type {:?}", String::from_utf8_lossy(other)),
    }
}

fn pexpiretime(c: &mut Client, key: &[u8]) -> Option<i64> {
    match c.cmd(&[&b"PEXPIRETIME"[..], key]) {
        Frame::Integer(-1) => None,
        Frame::Integer(t) => Some(t),
        other => panic!("PEXPIRETIME: {other:?}"),
    }
}

const EXPIRE_2100: i64 = 4102444800000;

/// A dataset of every type around the encoding thresholds, plus fixed corner cases.
fn dataset(seed: u64) -> Vec<(Bytes, RdbValue, Option<i64>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for i in 0..45u32 {
        let v = gen_value(&mut rng, i % 5, true);
        let exp = if i % 7 == 0 { Some(EXPIRE_2100 + i as i64) } else { None };
        out.push((Bytes::from(format!("key:{i}")), v, exp));
    }
    out.push((Bytes::from_static(b"bin\x00\xff"), RdbValue::String(Bytes::from_static(b"\x00\x01\xfe\xff")), None));
    out.push(("12345".into(), RdbValue::String("-42".into()), None));
    out.push((
        "big-elem-list".into(),
        RdbValue::List(vec![Bytes::from(vec![b'q'; 9000]), "x".into(), Bytes::from(vec![b'r'; 300])]),
        None,
    ));
    out.push((
        "scores".into(),
        RdbValue::ZSet(vec![
            ("inf".into(), f64::INFINITY),
            ("-inf".into(), f64::NEG_INFINITY),
            ("tenth".into(), 0.1),
            ("negzero".into(), -0.0),
            ("1e17".into(), 1e17),
            ("2p62".into(), 4611686018427387904.0),
            ("tiny".into(), 5e-324),
        ]),
        None,
    ));
    out
}

fn write_file(path: &Path, data: &[(Bytes, RdbValue, Option<i64>)], version: RdbVersion) {
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = RdbWriter::new(f, version).unwrap();
    let ver = if version == RdbVersion::V7 { "3.2.11" } else { "7.0.15" };
    w.write_standard_aux(&StandardAux { redis_ver: ver, ctime: 1795312198, used_mem: 1 << 20, repl: None }).unwrap();
    w.select_db(0).unwrap();
    w.resize_db(data.len() as u64, data.iter().filter(|d| d.2.is_some()).count() as u64).unwrap();
    for (k, v, e) in data {
        w.write_entry(k, v, *e).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn redis7_loads_our_rdb_v7_and_v10_and_our_payloads() {
    let bin = require_redis!();
    let data = dataset(7);
    for version in [RdbVersion::V7, RdbVersion::V10] {
        let dir = temp_dir("load");
        write_file(&dir.join("ours.rdb"), &data, version);
        let server = Server::start(&bin, &dir, "ours.rdb");
        let mut c = server.client();
        assert_eq!(c.cmd(&["DBSIZE"]), Frame::Integer(data.len() as i64), "{version:?}");
        for (k, v, e) in &data {
            let what = format!("{version:?} key {k:?}");
            assert_eq!(fetch(&mut c, k), norm(v), "{what}");
            assert_eq!(pexpiretime(&mut c, k), *e, "{what}");
            // Redis' own DUMP of what it loaded equals ours wherever the layout does not come
            // from a hash table's iteration order.
            let theirs = bulk(c.cmd(&[&b"DUMP"[..], k]));
            let d = decode_dump_payload(&theirs, 10).unwrap();
            assert_eq!(norm(&d.value), norm(v), "{what}");
            if version == RdbVersion::V10 && d.type_id != types::SET && d.type_id != types::HASH {
                assert_bytes_eq(&dump_payload(v, RdbVersion::V10), &theirs, &what);
            }
            // RESTORE of our payload (both versions) gives the same value
            let p = dump_payload(v, version);
            let rk = [&b"restored:"[..], k].concat();
            c.ok(&[&b"RESTORE"[..], &rk, b"0", &p]);
            assert_eq!(fetch(&mut c, &rk), norm(v), "RESTORE {what}");
        }
        drop(c);
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn score_arg(s: f64) -> String {
    if s.is_infinite() {
        if s > 0.0 {
            "+inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{s:e}")
    }
}

/// Writes `data` with ordinary commands.
fn populate(c: &mut Client, data: &[(Bytes, RdbValue, Option<i64>)]) {
    for (k, v, e) in data {
        let k = &k[..];
        match v {
            RdbValue::String(s) => c.ok(&[&b"SET"[..], k, s]),
            RdbValue::List(items) => {
                for chunk in items.chunks(500) {
                    let mut a: Vec<&[u8]> = vec![b"RPUSH", k];
                    a.extend(chunk.iter().map(|x| &x[..]));
                    c.ok(&a);
                }
            }
            RdbValue::Set(m) => {
                let mut a: Vec<&[u8]> = vec![b"SADD", k];
                a.extend(m.iter().map(|x| &x[..]));
                c.ok(&a);
            }
            RdbValue::Hash(p) => {
                let mut a: Vec<&[u8]> = vec![b"HSET", k];
                for (f, x) in p {
                    a.push(f);
                    a.push(x);
                }
                c.ok(&a);
            }
            RdbValue::ZSet(z) => {
                let scores: Vec<String> = z.iter().map(|(_, s)| score_arg(*s)).collect();
                let mut a: Vec<&[u8]> = vec![b"ZADD", k];
                for ((m, _), s) in z.iter().zip(&scores) {
                    a.push(s.as_bytes());
                    a.push(m);
                }
                c.ok(&a);
            }
        }
        if let Some(ms) = e {
            c.ok(&[&b"PEXPIREAT"[..], k, ms.to_string().as_bytes()]);
        }
    }
}

#[test]
fn we_read_what_redis7_writes() {
    let bin = require_redis!();
    let data = dataset(11);
    let dir = temp_dir("save");
    let server = Server::start(&bin, &dir, "dump.rdb");
    let mut c = server.client();
    populate(&mut c, &data);
    c.ok(&["SELECT", "3"]);
    c.ok(&["SET", "db3", "in db 3"]);
    c.ok(&["SELECT", "0"]);
    c.ok(&["SAVE"]);
    let file = std::fs::read(dir.join("dump.rdb")).unwrap();
    assert_eq!(RdbReader::new(&file[..]).unwrap().version(), 10);
    let entries = read_entries(&file);
    assert_eq!(entries.len(), data.len() + 1);
    assert_eq!(norm(&entries[&(3, b"db3".to_vec())].0), Norm::Str(b"in db 3".to_vec()));
    for (k, v, e) in &data {
        let what = format!("key {k:?}");
        let (got, exp, _) = &entries[&(0, k.to_vec())];
        assert_eq!(norm(got), norm(v), "{what}");
        assert_eq!(exp, e, "{what}");
        // DUMP from Redis: parse, and our re-encoding of the parsed value is byte-equal
        let theirs = bulk(c.cmd(&[&b"DUMP"[..], k]));
        let d = decode_dump_payload(&theirs, 10).unwrap();
        assert_eq!(&d.value, got, "{what}");
        assert_bytes_eq(&dump_payload(&d.value, RdbVersion::V10), &theirs, &what);
    }
    // the whole file, re-written by us, is byte-identical
    assert_bytes_eq(&rewrite(&file, RdbVersion::V10), &file, "redis 7 dump.rdb");

    // streams (with a consumer group and pending entries) and functions: skipped / reported
    c.ok(&["XADD", "stream", "1-1", "f", "v"]);
    c.ok(&["XADD", "stream", "2-1", "f", "w"]);
    c.ok(&["XGROUP", "CREATE", "stream", "g", "0"]);
    c.ok(&["XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "stream", ">"]);
    c.ok(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=mylib\nredis.register_function('echo1', function(keys, args) return args[1] end)",
    ]);
    c.ok(&["SAVE"]);
    let file = std::fs::read(dir.join("dump.rdb")).unwrap();
    let mut skipped = Vec::new();
    let mut functions = Vec::new();
    let mut n = 0;
    for item in RdbReader::new(&file[..]).unwrap().skip_unsupported(true) {
        match item.unwrap() {
            Item::Skipped { key, type_id, .. } => skipped.push((key, type_id)),
            Item::Function(code) => functions.push(code),
            Item::Entry(_) => n += 1,
            _ => {}
        }
    }
    assert_eq!(skipped, vec![(Bytes::from("stream"), types::STREAM_LISTPACKS_2)]);
    assert_eq!(functions.len(), 1);
    assert!(functions[0].starts_with(b"#!lua name=mylib"));
    assert_eq!(n, data.len() + 1);
    let err = RdbReader::new(&file[..]).unwrap().find_map(Result::err).unwrap();
    assert!(err.to_string().contains("stream"), "{err}");
    drop(c);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
