//! The `codis-proxy` binary listening on a Unix socket (`proto_type = "unix"` and
//! "unixpacket", as Go's `net.Listen(proto_type, proxy_addr)` allows), with per-core workers
//! (`--ncpu=2 --max-ncpu=4`): requests reach the backend and replies come back byte for byte,
//! the admin model shows the socket path, and the socket file is gone after SIGTERM.

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use conformance::server::{find_in_path, free_port, Kind, Server, TempDir};
use support::*;

fn proxy_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_codis-proxy"))
}

/// Starts the binary on `proto` at `<dir>/proxy.sock`, slots filled, until PING answers.
fn start_unix(backend: &str, proto: &str, dir: &TempDir) -> (ProxyProcess, String, u16) {
    let sock = dir.path().join("proxy.sock");
    let admin = free_port().unwrap();
    let toml =
        format!("proto_type = \"{proto}\"\nproxy_addr = \"{}\"\nadmin_addr = \"127.0.0.1:{admin}\"\n", sock.display());
    let proc = ProxyProcess::start_filled(dir.path(), backend, &toml, &["--ncpu=2", "--max-ncpu=4"]);
    let t = Instant::now();
    loop {
        let pong = match proto {
            "unix" => round_trip_stream(&sock, b"*1\r\n$4\r\nPING\r\n", 7).ok(),
            _ => round_trip_packet(&sock, &[b"*1\r\n$4\r\nPING\r\n"], 7).ok(),
        };
        if pong.as_deref() == Some(b"+PONG\r\n".as_slice()) {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "proxy did not answer on {}", sock.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    (proc, sock.display().to_string(), admin)
}

fn round_trip_stream(path: &Path, req: &[u8], want: usize) -> std::io::Result<Vec<u8>> {
    let mut s = std::os::unix::net::UnixStream::connect(path)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(req)?;
    read_n(&mut s, want)
}

/// Sends each of `msgs` as one SOCK_SEQPACKET message and reads replies until `want` bytes.
fn round_trip_packet(path: &Path, msgs: &[&[u8]], want: usize) -> std::io::Result<Vec<u8>> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let s = Socket::new(Domain::UNIX, Type::SEQPACKET, None)?;
    s.connect(&SockAddr::unix(path)?)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    for m in msgs {
        assert_eq!(s.send(m)?, m.len());
    }
    let mut s = s;
    read_n(&mut s, want)
}

fn read_n(r: &mut impl Read, want: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    // Larger than any message the proxy sends (64 KB): a seqpacket read drops what does not fit.
    let mut buf = vec![0u8; 128 * 1024];
    while out.len() < want {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(out)
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

fn admin_model(port: u16) -> serde_json::Value {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /api/proxy/model HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("model body {body:?}: {e}"))
}

fn text(r: &conformance::Reply) -> String {
    String::from_utf8_lossy(&r.raw).into_owned()
}

fn redis_cli(sock: &str, args: &[&str]) -> Option<Output> {
    let cli = find_in_path("redis-cli")?;
    Some(Command::new(cli).arg("-s").arg(sock).args(args).output().expect("run redis-cli"))
}

#[test]
fn unix_socket_serves_the_data_path() {
    let backend = Server::start(Kind::Codis).unwrap();
    let dir = TempDir::new("codis-proxy-unix").unwrap();
    let (mut proxy, sock, admin) = start_unix(&addr(backend.port()), "unix", &dir);

    // Pipelined: one write, replies in order, a split MSET/MGET among them.
    let mut req = Vec::new();
    let mut want = Vec::new();
    for i in 0..50 {
        req.extend(resp(&["SET", &format!("u:{i}"), &format!("v{i}")]));
        want.extend_from_slice(b"+OK\r\n");
    }
    req.extend(resp(&["MSET", "u:a", "1", "u:b", "22", "u:c", "333"]));
    want.extend_from_slice(b"+OK\r\n");
    req.extend(resp(&["MGET", "u:a", "u:b", "u:nope", "u:c", "u:7"]));
    want.extend_from_slice(b"*5\r\n$1\r\n1\r\n$2\r\n22\r\n$-1\r\n$3\r\n333\r\n$2\r\nv7\r\n");
    req.extend(resp(&["INCR", "u:a"]));
    want.extend_from_slice(b":2\r\n");
    let got = round_trip_stream(Path::new(&sock), &req, want.len()).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));

    // The keys are on the backend itself.
    let mut direct = backend.connect().unwrap();
    assert_eq!(text(&direct.call(&["GET", "u:49"]).unwrap()), "$3\r\nv49\r\n");

    // What clients would use: redis-cli -s.
    if let Some(out) = redis_cli(&sock, &["GET", "u:b"]) {
        assert_eq!(String::from_utf8_lossy(&out.stdout), "22\n");
    }

    // Go keeps a Unix socket's path as the advertised address.
    let model = admin_model(admin);
    assert_eq!(model["proto_type"], "unix");
    assert_eq!(model["proxy_addr"], sock.as_str());

    proxy.terminate();
    assert!(!Path::new(&sock).exists(), "socket file left behind after SIGTERM");
}

#[test]
fn unixpacket_socket_serves_the_data_path() {
    let backend = Server::start(Kind::Codis).unwrap();
    let dir = TempDir::new("codis-proxy-unixpacket").unwrap();
    let (mut proxy, sock, _) = start_unix(&addr(backend.port()), "unixpacket", &dir);

    // A request split over two messages, then two requests in one, then a large value
    // (bigger than one read of the session's buffer and than one reply message).
    let set = resp(&["SET", "p:1", "hello"]);
    let (a, b) = set.split_at(9);
    let mut two = resp(&["GET", "p:1"]);
    two.extend(resp(&["MSET", "p:2", "x", "p:3", "y"]));
    let got = round_trip_packet(Path::new(&sock), &[a, b, &two], 5 + 11 + 5).unwrap();
    assert_eq!(&got[..], b"+OK\r\n$5\r\nhello\r\n+OK\r\n");

    let big = "z".repeat(200_000);
    let mut req = resp(&["SET", "p:big", &big]);
    req.extend(resp(&["GET", "p:big"]));
    let want = format!("+OK\r\n$200000\r\n{big}\r\n");
    let chunks: Vec<&[u8]> = req.chunks(60_000).collect();
    let got = round_trip_packet(Path::new(&sock), &chunks, want.len()).unwrap();
    assert!(got == want.as_bytes(), "large value through unixpacket: {} bytes back", got.len());

    proxy.terminate();
    assert!(!Path::new(&sock).exists(), "socket file left behind after SIGTERM");
}

#[test]
fn ncpu_flags_are_checked() {
    let dir = TempDir::new("codis-proxy-ncpu").unwrap();
    let toml = dir.path().join("proxy.toml");
    std::fs::write(&toml, "proxy_addr = \"127.0.0.1:0\"\nadmin_addr = \"127.0.0.1:0\"\n").unwrap();
    for (flag, want) in [
        ("--ncpu=two", "parse argument --ncpu = \"two\" failed"),
        ("--max-ncpu=x", "parse argument --max-ncpu = \"x\" failed"),
    ] {
        let out = proxy_bin().arg(format!("--config={}", toml.display())).arg(flag).output().unwrap();
        assert!(!out.status.success(), "{flag} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{flag}: {err}");
    }
}
