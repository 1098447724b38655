//! Processes for the dashboard's cross-process tests: our codis-server (with a config file, so
//! `CONFIG REWRITE` works as on a real deployment), redis-sentinel, our dashboard, codis-admin,
//! and ZooKeeper/etcd from compat's test peers. Everything listens on free 127.0.0.1 ports and is
//! killed by PID on drop.
#![allow(dead_code)]

#[path = "../../../compat/tests/peers/mod.rs"]
pub mod peers;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod load;

pub use peers::{free_port, temp_dir};

pub const PRODUCT: &str = "codis-demo";
pub const XAUTH: &str = "95b62887719520f17e312eaa76d28f2b";

pub struct Proc {
    pub child: Child,
    pub addr: String,
    pub dir: PathBuf,
}

impl Proc {
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn port(&self) -> u16 {
        self.addr.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(log) = std::fs::read_to_string(self.dir.join("server.log")) {
                eprintln!("--- log of {} ---\n{}", self.addr, tail(&log, 1500));
            }
        }
        self.kill9();
    }
}

fn wait_port(addr: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} on {addr} did not start");
}

pub fn codis_server_bin() -> PathBuf {
    conformance::server::codis_server_bin().expect("build codis-server first (cargo build -p codis-server)")
}

/// Our codis-server on a free port with a config file in its own directory.
pub fn codis_server(root: &Path) -> Proc {
    let port = free_port();
    let dir = root.join(format!("server-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("redis.conf");
    std::fs::write(&conf, format!("port {port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir {}\n", dir.display()))
        .unwrap();
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let child = Command::new(codis_server_bin())
        .arg(&conf)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start codis-server");
    let addr = format!("127.0.0.1:{port}");
    wait_port(&addr, "codis-server");
    Proc { child, addr, dir }
}

/// redis-sentinel on a free port, or None (with a message) when it is not installed.
pub fn sentinel(root: &Path) -> Option<Proc> {
    let bin = peers_which("redis-sentinel")?;
    let port = free_port();
    let dir = root.join(format!("sentinel-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("sentinel.conf");
    std::fs::write(&conf, format!("port {port}\nbind 127.0.0.1\ndir {}\n", dir.display())).unwrap();
    let child = Command::new(bin)
        .arg(&conf)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-sentinel");
    let addr = format!("127.0.0.1:{port}");
    wait_port(&addr, "redis-sentinel");
    Some(Proc { child, addr, dir })
}

fn peers_which(bin: &str) -> Option<PathBuf> {
    let found = peers::which(bin);
    if found.is_none() {
        eprintln!("SKIPPED part: {bin} not installed");
    }
    found
}

/// Which coordinator a test runs on.
#[derive(Clone, Debug)]
pub struct Coord {
    pub name: &'static str,
    pub addr: String,
}

impl Coord {
    pub fn admin_flag(&self) -> String {
        format!("--{}={}", self.name, self.addr)
    }
}

pub struct Dashboard {
    pub proc: Proc,
    pub config: PathBuf,
}

/// Starts our dashboard (`extra` = more dashboard.toml lines) and waits until it is online.
pub fn dashboard(root: &Path, coord: &Coord, extra: &str, flags: &[&str]) -> Dashboard {
    let port = free_port();
    let dir = root.join(format!("dashboard-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("dashboard.toml");
    std::fs::write(
        &config,
        format!(
            "coordinator_name = \"{}\"\ncoordinator_addr = \"{}\"\nadmin_addr = \"127.0.0.1:{port}\"\nproduct_name = \"{PRODUCT}\"\n{extra}\n",
            coord.name, coord.addr
        ),
    )
    .unwrap();
    dashboard_with(&dir, &config, port, flags)
}

pub fn dashboard_with(dir: &Path, config: &Path, port: u16, flags: &[&str]) -> Dashboard {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("dashboard.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_codis-dashboard"))
        .arg(format!("--config={}", config.display()))
        .args(flags)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start codis-dashboard");
    let addr = format!("127.0.0.1:{port}");
    let d =
        Dashboard { proc: Proc { child, addr: addr.clone(), dir: dir.to_path_buf() }, config: config.to_path_buf() };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http(&addr, "GET", "/topom/model", b"").status == Some(200)
            && http(&addr, "GET", "/topom/slots", b"").status == Some(200)
        {
            return d;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("dashboard on {addr} not online; log:\n{}", d.log());
}

impl Dashboard {
    pub fn addr(&self) -> &str {
        &self.proc.addr
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.proc.dir.join("dashboard.log")).unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> Reply {
        http(self.addr(), "GET", path, b"")
    }

    pub fn put(&self, path: &str) -> Reply {
        http(self.addr(), "PUT", path, b"")
    }

    pub fn json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path);
        serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&r.body)))
    }

    /// Slots that still have an action.
    pub fn actions_left(&self) -> usize {
        let s = self.json("/topom/stats");
        s["slots"].as_array().unwrap().iter().filter(|m| m["action"]["state"].is_string()).count()
    }

    pub fn wait_no_actions(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.actions_left() == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("slot actions still running after {timeout:?}; log tail:\n{}", tail(&self.log(), 3000));
    }
}

pub fn tail(s: &str, n: usize) -> String {
    s[s.len().saturating_sub(n)..].to_string()
}

/// codis-admin with `args`: (exit code, stdout, stderr).
pub fn admin(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_codis-admin")).args(args).output().expect("run codis-admin");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn admin_ok(args: &[&str]) -> String {
    let (code, out, err) = admin(args);
    assert_eq!(code, 0, "codis-admin {args:?} failed:\n{out}\n{err}");
    out
}

/// An HTTP answer: status (None when the connection failed), headers, body.
#[derive(Debug, Default)]
pub struct Reply {
    pub status: Option<u16>,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> Reply {
    let Ok(mut s) = TcpStream::connect(addr) else { return Reply::default() };
    let _ = s.set_read_timeout(Some(Duration::from_secs(90)));
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str("\r\n");
    let _ = s.write_all(req.as_bytes());
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { return Reply::default() };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("").to_string();
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok());
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(String::from_utf8_lossy(&rest[..nl]).trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + n]);
            rest = &rest[nl + 2 + n + 2..];
        }
        body = out;
    }
    Reply { status, status_line, headers, body }
}

/// A RESP command on a fresh connection; the raw reply bytes.
pub fn redis(addr: &str, args: &[&str]) -> Vec<u8> {
    let mut c =
        conformance::Conn::connect_timeout(addr.rsplit(':').next().unwrap().parse().unwrap(), Duration::from_secs(2))
            .expect("connect");
    c.set_timeout(Duration::from_secs(10));
    c.call(args).expect("call").raw
}

/// Our codis-proxy: `$CODIS_PROXY_BIN` (scripts/test builds and exports it), else the workspace's
/// debug build, brought up to date once by `cargo build -p codis-proxy`.
pub fn codis_proxy_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("CODIS_PROXY_BIN").filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "CODIS_PROXY_BIN={} does not exist", p.display());
            return p;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "codis-proxy", "--bin", "codis-proxy"])
            .current_dir(conformance::server::workspace_root())
            .status()
            .expect("run cargo build -p codis-proxy");
        assert!(status.success(), "cargo build -p codis-proxy failed");
        conformance::server::target_dir().join("debug/codis-proxy")
    })
    .clone()
}

/// A codis-proxy process: its admin (REST) and proxy (RESP) addresses.
pub struct ProxyProc {
    pub proc: Proc,
    pub admin: String,
    pub config: PathBuf,
    pub flags: Vec<String>,
}

/// Starts our codis-proxy of `PRODUCT` on free ports (`extra` = more proxy.toml lines, `flags` =
/// command line, e.g. `--dashboard=ADDR`) and waits until its admin API answers. Its log goes
/// to `server.log` in its directory (printed when a test fails).
pub fn codis_proxy(root: &Path, extra: &str, flags: &[&str]) -> ProxyProc {
    let (port, admin_port) = (free_port(), free_port());
    let dir = root.join(format!("proxy-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("proxy.toml");
    std::fs::write(
        &config,
        format!(
            "product_name = \"{PRODUCT}\"\nadmin_addr = \"127.0.0.1:{admin_port}\"\nproxy_addr = \"127.0.0.1:{port}\"\n{extra}\n"
        ),
    )
    .unwrap();
    let p = ProxyProc {
        proc: Proc { child: spawn_proxy(&dir, &config, flags), addr: format!("127.0.0.1:{port}"), dir },
        admin: format!("127.0.0.1:{admin_port}"),
        config,
        flags: flags.iter().map(|f| f.to_string()).collect(),
    };
    p.wait_admin();
    p
}

fn spawn_proxy(dir: &Path, config: &Path, flags: &[&str]) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("server.log")).unwrap();
    Command::new(codis_proxy_bin())
        .arg(format!("--config={}", config.display()))
        .arg("--ncpu=1")
        .args(flags)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start codis-proxy")
}

impl ProxyProc {
    fn wait_admin(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http(&self.admin, "GET", "/api/proxy/model", b"").status == Some(200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("codis-proxy admin on {} did not start:\n{}", self.admin, self.log());
    }

    pub fn log(&self) -> String {
        tail(&std::fs::read_to_string(self.proc.dir.join("server.log")).unwrap_or_default(), 3000)
    }

    pub fn addr(&self) -> &str {
        &self.proc.addr
    }

    pub fn model(&self) -> serde_json::Value {
        let r = http(&self.admin, "GET", "/api/proxy/model", b"");
        serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("proxy model: {e}"))
    }

    pub fn token(&self) -> String {
        self.model()["token"].as_str().unwrap_or_default().to_string()
    }

    /// The proxy's slot table (`/proxy/slots`), or None when it did not answer.
    pub fn slots(&self) -> Option<Vec<compat::models::Slot>> {
        let r = http(&self.admin, "GET", "/proxy/slots", b"");
        if r.status != Some(200) {
            return None;
        }
        serde_json::from_slice(&r.body).ok()
    }

    /// Whether `/proxy/stats` says online.
    pub fn online(&self) -> bool {
        let r = http(&self.admin, "GET", "/proxy/stats", b"");
        serde_json::from_slice::<serde_json::Value>(&r.body).is_ok_and(|v| v["online"] == true)
    }

    pub fn wait_online(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.online() {
            assert!(Instant::now() < deadline, "proxy {} not online:\n{}", self.admin, self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A standalone ZooKeeper that can be killed and started again on the same port and data
/// directory, for restart tests. None (with a message) when not installed.
pub struct Zk {
    child: Option<Child>,
    pub addr: String,
    dir: PathBuf,
}

impl Zk {
    pub fn start(root: &Path) -> Option<Zk> {
        if !peers::zookeeper_installed() {
            return None;
        }
        let port = free_port();
        let dir = root.join(format!("zk-{port}"));
        // The default tick (2 s) allows sessions up to 40 s: they outlive a restart of seconds.
        peers::zookeeper_config(&dir, port, 2000);
        let mut zk = Zk { child: None, addr: format!("127.0.0.1:{port}"), dir };
        zk.restart();
        Some(zk)
    }

    /// Starts the process (again) and waits until it serves.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "zookeeper already running");
        self.child = Some(peers::zookeeper_spawn(&self.dir, &self.addr));
    }

    /// SIGKILL: no goodbye to the clients, sessions stay in the data directory.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Zk {
    fn drop(&mut self) {
        self.kill9();
    }
}
