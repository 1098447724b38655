//! `maxmemory` eviction end to end: for each policy, start codis-server with `maxmemory 50mb`
//! on a free local port, write well past the limit with a mix of persistent and volatile keys,
//! and check that INFO's `used_memory` stays within 5% of the limit, that keys were evicted the
//! way the policy says, and that volatile policies never evict persistent keys (and answer OOM
//! once only persistent keys remain).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MAXMEMORY: u64 = 50 * 1024 * 1024;
const VALUE_LEN: usize = 1000;
const BATCH: usize = 200;
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// A server process, killed (by its pid) when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn start(policy: &str) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_codis-server"))
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--maxmemory", "50mb", "--maxmemory-policy", policy])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn codis-server");
    let server = Server { child, port };
    for _ in 0..400 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("codis-server did not start on port {port}");
}

#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn new(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60))).ok();
        Conn { r: BufReader::new(s.try_clone().expect("clone")), w: s }
    }

    fn encode(buf: &mut Vec<u8>, args: &[&[u8]]) {
        buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
    }

    fn read(&mut self) -> Reply {
        let mut line = String::new();
        self.r.read_line(&mut line).expect("read reply");
        let line = line.trim_end_matches("\r\n");
        let (t, rest) = line.split_at(1);
        match t {
            "+" => Reply::Status(rest.into()),
            "-" => Reply::Error(rest.into()),
            ":" => Reply::Int(rest.parse().expect("int")),
            "$" => {
                let n: i64 = rest.parse().expect("len");
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut b = vec![0; n as usize + 2];
                self.r.read_exact(&mut b).expect("bulk");
                b.truncate(n as usize);
                Reply::Bulk(Some(b))
            }
            "*" => {
                let n: i64 = rest.parse().expect("len");
                Reply::Array((0..n.max(0)).map(|_| self.read()).collect())
            }
            _ => panic!("unexpected reply line {line:?}"),
        }
    }

    fn call(&mut self, args: &[&[u8]]) -> Reply {
        let mut buf = Vec::new();
        Conn::encode(&mut buf, args);
        self.w.write_all(&buf).expect("write");
        self.read()
    }

    /// Sends the commands in one write and returns their replies.
    fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> Vec<Reply> {
        let mut buf = Vec::new();
        for c in cmds {
            let args: Vec<&[u8]> = c.iter().map(|a| &a[..]).collect();
            Conn::encode(&mut buf, &args);
        }
        self.w.write_all(&buf).expect("write");
        cmds.iter().map(|_| self.read()).collect()
    }

    fn info_field(&mut self, section: &str, field: &str) -> String {
        let Reply::Bulk(Some(text)) = self.call(&[b"INFO", section.as_bytes()]) else { panic!("INFO") };
        let text = String::from_utf8(text).expect("utf8");
        let prefix = format!("{field}:");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).map(str::to_string).unwrap_or_default()
    }

    fn used_memory(&mut self) -> u64 {
        self.info_field("memory", "used_memory").parse().expect("used_memory")
    }

    fn evicted(&mut self) -> u64 {
        self.info_field("stats", "evicted_keys").parse().expect("evicted_keys")
    }

    fn int(&mut self, args: &[&[u8]]) -> i64 {
        match self.call(args) {
            Reply::Int(n) => n,
            r => panic!("{args:?}: {r:?}"),
        }
    }

    fn exists(&mut self, key: &str) -> bool {
        self.int(&[b"EXISTS", key.as_bytes()]) == 1
    }
}

fn value(i: usize) -> Vec<u8> {
    let mut v = format!("{i:010}").into_bytes();
    v.resize(VALUE_LEN, b'x');
    v
}

/// SET commands for keys `prefix:i`, with `EX ttl` when given.
fn sets(prefix: &str, range: std::ops::Range<usize>, ttl: Option<u64>) -> Vec<Vec<Vec<u8>>> {
    range
        .map(|i| {
            let mut c = vec![b"SET".to_vec(), format!("{prefix}:{i}").into_bytes(), value(i)];
            if let Some(t) = ttl {
                c.push(b"EX".to_vec());
                c.push(t.to_string().into_bytes());
            }
            c
        })
        .collect()
}

/// Writes in batches; returns (accepted, OOM-rejected). Other replies fail the test.
fn write_all(c: &mut Conn, cmds: &[Vec<Vec<u8>>]) -> (usize, usize) {
    let (mut ok, mut oom) = (0, 0);
    for chunk in cmds.chunks(BATCH) {
        for r in c.pipeline(chunk) {
            match r {
                Reply::Status(s) if s == "OK" => ok += 1,
                Reply::Error(e) if e == OOM => oom += 1,
                r => panic!("unexpected reply {r:?}"),
            }
        }
    }
    (ok, oom)
}

/// Number of keys of the first `n` of `prefix:i` that still exist.
fn surviving(c: &mut Conn, prefix: &str, n: usize) -> usize {
    let mut alive = 0;
    let cmds: Vec<Vec<Vec<u8>>> =
        (0..n).map(|i| vec![b"EXISTS".to_vec(), format!("{prefix}:{i}").into_bytes()]).collect();
    for chunk in cmds.chunks(BATCH) {
        for r in c.pipeline(chunk) {
            if r == Reply::Int(1) {
                alive += 1;
            }
        }
    }
    alive
}

/// Bytes of data that make `mb` megabytes.
fn keys_for(mb: u64) -> usize {
    (mb * 1024 * 1024 / (VALUE_LEN as u64 + 100)) as usize
}

fn assert_near_limit(c: &mut Conn, policy: &str) -> u64 {
    // Let the cron finish any eviction round that ran out of time.
    std::thread::sleep(Duration::from_millis(300));
    let used = c.used_memory();
    let lo = MAXMEMORY - MAXMEMORY / 20;
    let hi = MAXMEMORY + MAXMEMORY / 20;
    assert!((lo..=hi).contains(&used), "{policy}: used_memory {used} not within 5% of {MAXMEMORY}");
    eprintln!(
        "{policy}: used_memory {used} ({:.1}% of maxmemory), evicted {}",
        used as f64 * 100.0 / MAXMEMORY as f64,
        c.evicted()
    );
    used
}

/// allkeys-*: fill past the limit with a mix; memory stays at the limit and both kinds of
/// keys may go. `favoured` runs between the first and the second half of the writes and
/// should make the keys `old:*` it touches survive better than the untouched `cold:*` ones.
fn allkeys(policy: &str, favoured: impl Fn(&mut Conn, usize)) {
    let server = start(policy);
    let mut c = Conn::new(server.port);
    let n = keys_for(20);
    // 20 MB of keys that will be favoured, 20 MB of cold ones (half of them volatile).
    write_all(&mut c, &sets("old", 0..n, None));
    write_all(&mut c, &sets("cold", 0..n / 2, None));
    write_all(&mut c, &sets("cold", n / 2..n, Some(100_000)));
    favoured(&mut c, n);
    // 30 MB more (persistent and volatile mixed): about as much as the cold keys hold.
    let more = keys_for(30);
    let (ok, oom) = write_all(&mut c, &sets("new", 0..more / 2, None));
    assert_eq!((ok, oom), (more / 2, 0), "{policy}: writes must not be refused");
    let (ok, oom) = write_all(&mut c, &sets("newv", 0..more / 2, Some(100_000)));
    assert_eq!((ok, oom), (more / 2, 0), "{policy}: writes must not be refused");
    assert_near_limit(&mut c, policy);
    assert!(c.evicted() > 0);
    let old = surviving(&mut c, "old", n);
    let cold = surviving(&mut c, "cold", n);
    eprintln!("{policy}: old {old}/{n} cold {cold}/{n} survived");
    if policy != "allkeys-random" {
        assert!(old > cold + n / 10, "{policy}: touched keys should survive better ({old} vs {cold})");
    }
    // The newest keys mostly survive.
    let newest = surviving(&mut c, "newv", more / 2);
    assert!(newest > 0);
}

/// volatile-*: persistent keys are never evicted; once the volatile ones are gone writes get
/// OOM. `favoured` may touch `vold:*` keys so they outlive `vcold:*` ones.
fn volatile(policy: &str, vold_ttl: u64, vcold_ttl: u64, favoured: impl Fn(&mut Conn, usize)) {
    let server = start(policy);
    let mut c = Conn::new(server.port);
    let p = keys_for(20);
    let (ok, _) = write_all(&mut c, &sets("persist", 0..p, None));
    assert_eq!(ok, p);
    let v = keys_for(15);
    write_all(&mut c, &sets("vold", 0..v, Some(vold_ttl)));
    write_all(&mut c, &sets("vcold", 0..v, Some(vcold_ttl)));
    favoured(&mut c, v);
    // 20 MB more volatile keys: volatile keys are evicted to make room.
    let more = keys_for(20);
    let (ok, oom) = write_all(&mut c, &sets("vnew", 0..more, Some(100_000)));
    assert_eq!((ok, oom), (more, 0), "{policy}: volatile keys remain, writes must succeed");
    assert_near_limit(&mut c, policy);
    assert_eq!(surviving(&mut c, "persist", p), p, "{policy}: a persistent key was evicted");
    if vold_ttl != vcold_ttl || policy.ends_with("lru") || policy.ends_with("lfu") {
        let old = surviving(&mut c, "vold", v);
        let cold = surviving(&mut c, "vcold", v);
        eprintln!("{policy}: vold {old}/{v} vcold {cold}/{v} survived");
        if policy != "volatile-random" {
            assert!(old > cold + v / 10, "{policy}: favoured volatile keys should survive better ({old} vs {cold})");
        }
    }
    // Now persistent writes only: they push out the remaining volatile keys, then OOM.
    let extra = keys_for(80);
    let (ok, oom) = write_all(&mut c, &sets("persist2", 0..extra, None));
    assert!(oom > 0, "{policy}: expected OOM once only persistent keys remain");
    let expires = c.info_field("keyspace", "db0");
    assert!(!expires.contains("expires=") || expires.contains("expires=0"), "{policy}: volatile keys left: {expires}");
    assert_eq!(surviving(&mut c, "persist", p), p, "{policy}: a persistent key was evicted");
    assert_eq!(surviving(&mut c, "persist2", ok), ok, "{policy}: an accepted persistent key was evicted");
    assert!(c.exists("persist:0"));
    // Non-denyoom commands still run; deleting frees room for writes again.
    assert_eq!(c.call(&[b"GET", b"persist:1"]), Reply::Bulk(Some(value(1))));
    assert_eq!(c.call(&[b"SET", b"x", b"y"]), Reply::Error(OOM.into()));
    let dels: Vec<Vec<Vec<u8>>> =
        (0..1000).map(|i| vec![b"DEL".to_vec(), format!("persist:{i}").into_bytes()]).collect();
    c.pipeline(&dels);
    assert_eq!(c.call(&[b"SET", b"x", b"y"]), Reply::Status("OK".into()));
    let used = c.used_memory();
    assert!(used <= MAXMEMORY + MAXMEMORY / 20, "{policy}: used_memory {used}");
    eprintln!("{policy}: after OOM used_memory {used} ({:.1}%)", used as f64 * 100.0 / MAXMEMORY as f64);
}

/// Reads every `old:*` (LRU) after a pause, so they become more recent than the rest.
fn touch_after_pause(prefix: &'static str) -> impl Fn(&mut Conn, usize) {
    move |c: &mut Conn, n: usize| {
        std::thread::sleep(Duration::from_millis(2100));
        let gets: Vec<Vec<Vec<u8>>> =
            (0..n).map(|i| vec![b"GET".to_vec(), format!("{prefix}:{i}").into_bytes()]).collect();
        for chunk in gets.chunks(BATCH) {
            c.pipeline(chunk);
        }
        std::thread::sleep(Duration::from_millis(1100));
    }
}

/// Reads every `old:*` many times (LFU counter grows).
fn touch_often(prefix: &'static str) -> impl Fn(&mut Conn, usize) {
    move |c: &mut Conn, n: usize| {
        let gets: Vec<Vec<Vec<u8>>> =
            (0..n).map(|i| vec![b"GET".to_vec(), format!("{prefix}:{i}").into_bytes()]).collect();
        for _ in 0..8 {
            for chunk in gets.chunks(BATCH) {
                c.pipeline(chunk);
            }
        }
    }
}

#[test]
fn noeviction_refuses_writes() {
    let server = start("noeviction");
    let mut c = Conn::new(server.port);
    let started = Instant::now();
    let (ok, oom) = write_all(&mut c, &sets("k", 0..keys_for(70), None));
    assert!(oom > 0 && ok > 0);
    let used = c.used_memory();
    assert!(used <= MAXMEMORY + MAXMEMORY / 20, "used_memory {used}");
    assert!(used >= MAXMEMORY - MAXMEMORY / 20, "used_memory {used}");
    assert_eq!(c.evicted(), 0);
    assert_eq!(surviving(&mut c, "k", ok), ok);
    eprintln!(
        "noeviction: {ok} accepted, {oom} refused, used_memory {used} ({:.1}%) in {:?}",
        used as f64 * 100.0 / MAXMEMORY as f64,
        started.elapsed()
    );
    // A denyoom command inside MULTI is refused and aborts the transaction.
    assert_eq!(c.call(&[b"MULTI"]), Reply::Status("OK".into()));
    assert_eq!(c.call(&[b"SET", b"a", b"b"]), Reply::Error(OOM.into()));
    assert!(matches!(c.call(&[b"EXEC"]), Reply::Error(e) if e.starts_with("EXECABORT")));
    assert!(matches!(c.call(&[b"GET", b"k:0"]), Reply::Bulk(Some(_))));
}

#[test]
fn allkeys_lru() {
    allkeys("allkeys-lru", touch_after_pause("old"));
}

#[test]
fn allkeys_lfu() {
    allkeys("allkeys-lfu", touch_often("old"));
}

#[test]
fn allkeys_random() {
    allkeys("allkeys-random", |_: &mut Conn, _: usize| {});
}

#[test]
fn volatile_lru() {
    volatile("volatile-lru", 100_000, 100_000, touch_after_pause("vold"));
}

#[test]
fn volatile_lfu() {
    volatile("volatile-lfu", 100_000, 100_000, touch_often("vold"));
}

#[test]
fn volatile_random() {
    volatile("volatile-random", 100_000, 100_000, |_: &mut Conn, _: usize| {});
}

#[test]
fn volatile_ttl() {
    // vcold keys expire sooner, so they go first.
    volatile("volatile-ttl", 200_000, 50_000, |_: &mut Conn, _: usize| {});
}
