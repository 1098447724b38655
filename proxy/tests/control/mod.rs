//! Harness of the control-plane tests: our `codis-proxy` binary as a process, redis-sentinel,
//! and a raw HTTP/1.1 client that keeps status line, header order and body bytes.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind port 0").local_addr().expect("local addr").port()
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("rcodis-proxy-{tag}-{}-{}", std::process::id(), free_port()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create temp dir");
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn which(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(bin)).find(|p| p.is_file())
}

/// A child process stopped by its pid on drop (SIGTERM, then SIGKILL after 5 s).
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Waits up to `t` for the process to exit; its exit code if it did.
    pub fn wait_exit(&mut self, t: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + t;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(libc::SIGTERM);
            if self.wait_exit(Duration::from_secs(5)).is_none() {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

/// Our codis-proxy binary with a proxy.toml made of the defaults and `extra` lines.
pub struct ProxyProc {
    pub proc: Proc,
    pub proxy_port: u16,
    pub admin_port: u16,
    pub dir: TempDir,
}

impl ProxyProc {
    /// Starts the proxy and waits until its admin API answers.
    pub fn start(extra_toml: &str, args: &[&str]) -> ProxyProc {
        let p = ProxyProc::spawn(extra_toml, args);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http(&p.admin(), "GET", "/api/proxy/model", &[], b"").map(|r| r.status) == Some(200) {
                return p;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        panic!("codis-proxy admin not ready; log:\n{}", p.proc.log_text());
    }

    /// Starts the proxy without waiting for it (for runs that must fail).
    pub fn spawn(extra_toml: &str, args: &[&str]) -> ProxyProc {
        let dir = TempDir::new("proc");
        let (proxy_port, admin_port) = (free_port(), free_port());
        let conf = dir.0.join("proxy.toml");
        std::fs::write(
            &conf,
            format!("proxy_addr = \"127.0.0.1:{proxy_port}\"\nadmin_addr = \"127.0.0.1:{admin_port}\"\n{extra_toml}\n"),
        )
        .expect("write proxy.toml");
        let log = dir.0.join("proxy.log");
        let out = std::fs::File::create(&log).expect("create log");
        let child = Command::new(env!("CARGO_BIN_EXE_codis-proxy"))
            .arg("-c")
            .arg(&conf)
            .args(args)
            .current_dir(&dir.0)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup log"))
            .stderr(out)
            .spawn()
            .expect("start codis-proxy");
        ProxyProc { proc: Proc { child, log }, proxy_port, admin_port, dir }
    }

    pub fn admin(&self) -> String {
        format!("127.0.0.1:{}", self.admin_port)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.proxy_port)
    }

    pub fn model(&self) -> serde_json::Value {
        get_json(&self.admin(), "/api/proxy/model")
    }

    /// The Jodis node this proxy must write, spelled out byte for byte: Go's MarshalIndent of
    /// the sorted map (g1_jodis_node_format_and_zk_layout.txt), not our encoder's output.
    pub fn expected_jodis_node(&self, token: &str, start_time: &str) -> String {
        format!(
            "{{\n    \"addr\": \"{}\",\n    \"admin\": \"{}\",\n    \"start\": \"{start_time}\",\n    \"state\": \"online\",\n    \"token\": \"{token}\"\n}}",
            self.addr(),
            self.admin(),
        )
    }

    /// The xauth of `/api/proxy/...`, from the proxy's token.
    pub fn xauth(&self) -> String {
        let m = self.model();
        compat::xauth::proxy_xauth("codis-demo", "", m["token"].as_str().expect("token"))
    }

    pub fn put(&self, path: &str, body: &[u8]) -> HttpReply {
        http(&self.admin(), "PUT", path, &[], body).expect("admin PUT")
    }
}

/// redis-sentinel monitoring `groups` (group id, port) as `codis-demo-<gid>`, quorum 1.
pub struct Sentinel {
    pub proc: Proc,
    pub port: u16,
    _dir: TempDir,
}

impl Sentinel {
    pub fn start(groups: &[(i64, u16)]) -> Option<Sentinel> {
        let Some(bin) = which("redis-sentinel") else {
            eprintln!("SKIPPED: redis-sentinel not installed (apt-get install redis-sentinel)");
            return None;
        };
        let dir = TempDir::new("sentinel");
        let port = free_port();
        let mut conf = format!("port {port}\nbind 127.0.0.1\ndir {}\n", dir.0.display());
        for (gid, p) in groups {
            conf.push_str(&format!(
                "sentinel monitor codis-demo-{gid} 127.0.0.1 {p} 1\nsentinel down-after-milliseconds codis-demo-{gid} 1000\n\
                 sentinel failover-timeout codis-demo-{gid} 5000\n"
            ));
        }
        let path = dir.0.join("sentinel.conf");
        std::fs::write(&path, conf).expect("write sentinel.conf");
        let log = dir.0.join("sentinel.log");
        let out = std::fs::File::create(&log).expect("create log");
        let child = Command::new(bin)
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .spawn()
            .expect("start redis-sentinel");
        let s = Sentinel { proc: Proc { child, log }, port, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut c) = conformance::Conn::connect(port) {
                if c.call(&["PING"]).map(|r| r.raw == b"+PONG\r\n").unwrap_or(false) {
                    return Some(s);
                }
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        panic!("redis-sentinel not ready; log:\n{}", s.proc.log_text());
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// One HTTP reply as it came over the wire (chunked bodies joined).
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status_line: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends one request (kept-alive like curl's, so the reply carries no `Connection` header) and
/// reads the whole reply.
pub fn http(addr: &str, method: &str, path: &str, headers: &[&str], body: &[u8]) -> Option<HttpReply> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if !body.is_empty() || method == "PUT" {
        req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        if let Some(r) = parse_reply(&raw) {
            return Some(r);
        }
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

fn parse_reply(raw: &[u8]) -> Option<HttpReply> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?.to_string();
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(": ").map(|(n, v)| (n.to_string(), v.to_string()))).collect();
    let mut rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("Transfer-Encoding") && v == "chunked");
    let body = if chunked {
        let mut body = Vec::new();
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n")?;
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..nl]).trim(), 16).ok()?;
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
        body
    } else {
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        rest.get(..len)?.to_vec()
    };
    Some(HttpReply { status_line, status, headers, body })
}

pub fn get_json(addr: &str, path: &str) -> serde_json::Value {
    http(addr, "GET", path, &[], b"").unwrap_or_else(|| panic!("GET {path} on {addr} failed")).json()
}

/// Polls `f` every 50 ms until it holds or `t` passes.
pub fn wait_until(t: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + t;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// The recordings directory (`shared/` sits beside the repository).
pub fn reference(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/codis-3.2").join(name)
}

/// Checks the replies that differ from a recording against the listed known differences (none
/// unexpected, none listed that is now equal) and returns the list as the snapshot's header.
pub fn known_differences(differing: &[(String, String)], known: &[(&str, &str)]) -> String {
    let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
    let unexpected: Vec<&(String, String)> = differing.iter().filter(|(n, _)| !names.contains(&n.as_str())).collect();
    assert!(
        unexpected.is_empty(),
        "replies that differ from the recording:\n{}",
        unexpected.iter().map(|(n, d)| format!("## {n}\n{d}")).collect::<Vec<_>>().join("\n\n")
    );
    let fixed: Vec<&&str> = names.iter().filter(|n| !differing.iter().any(|(d, _)| d == **n)).collect();
    assert!(fixed.is_empty(), "listed as different but now equal (remove from KNOWN_DIFFERENCES): {fixed:?}");
    let notes: String = known.iter().map(|(n, why)| format!("- {n}: {why}\n")).collect();
    format!("Known differences from the Go recording:\n{notes}")
}
