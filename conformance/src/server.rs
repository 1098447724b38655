//! Starting and stopping server processes for tests.
//!
//! Every server listens on 127.0.0.1 on a port that was free a moment before (found by binding
//! port 0), runs in its own temporary directory, and is stopped by PID when the [`Server`] is
//! dropped: SIGTERM, then SIGKILL if it has not exited within a few seconds. Each server's address
//! space is capped (`CONFORMANCE_SERVER_MEM_LIMIT_MB`, default 4096, 0 = no cap) so a runaway
//! server fails its test instead of exhausting the shared machine.

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context, Result};

use crate::client::Conn;

/// Which server binary to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Debian's `redis-server` (7.0.15), the reference.
    Redis,
    /// Our `codis-server`.
    Codis,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Redis => "redis-server",
            Kind::Codis => "codis-server",
        }
    }

    /// The binary to run for this kind.
    pub fn binary(self) -> Result<PathBuf> {
        match self {
            Kind::Redis => redis_server_bin(),
            Kind::Codis => codis_server_bin(),
        }
    }
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("conformance sits inside the workspace").to_path_buf()
}

/// The cargo target directory: `CARGO_TARGET_DIR` when set, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let p = PathBuf::from(d);
            if p.is_absolute() {
                p
            } else {
                workspace_root().join(p)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// Our server binary: `$CODIS_SERVER_BIN`, else the newer of `target/release/codis-server` and
/// `target/debug/codis-server`.
pub fn codis_server_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("CODIS_SERVER_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("CODIS_SERVER_BIN={} does not exist", p.display());
        }
        return Ok(p);
    }
    let target = target_dir();
    let candidates = [target.join("release/codis-server"), target.join("debug/codis-server")];
    let newest = candidates
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok().map(|t| (t, p.clone())))
        .max_by_key(|(t, _)| *t);
    match newest {
        Some((_, p)) => Ok(p),
        None => bail!(
            "codis-server binary not found (looked at {} and {}): build it first with \
             `cargo build -p codis-server` (or `--release`), or set CODIS_SERVER_BIN",
            candidates[0].display(),
            candidates[1].display()
        ),
    }
}

/// The reference server: `$REDIS_SERVER_BIN`, else `redis-server` from `PATH`.
pub fn redis_server_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("REDIS_SERVER_BIN").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    find_in_path("redis-server").ok_or_else(|| {
        anyhow!("redis-server not found in PATH: install Debian's redis-server 7.0 (`apt-get install redis-server`) or set REDIS_SERVER_BIN")
    })
}

/// Looks a program up in `PATH` (and in /usr/bin, /usr/sbin as a fallback).
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin"].iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A port on 127.0.0.1 that nobody listens on right now.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 to find a free port")?;
    Ok(l.local_addr()?.port())
}

/// A directory removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<TempDir> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "rcodis-{prefix}-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(TempDir(p))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server process. Dropping it stops the process.
pub struct Server {
    pub kind: Kind,
    port: u16,
    child: Child,
    log: PathBuf,
    // Declared last so the directory goes after the process has stopped.
    dir: TempDir,
}

/// How long a server may take to answer its first PING.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

impl Server {
    /// Starts a server of `kind` with the default test options.
    pub fn start(kind: Kind) -> Result<Server> {
        Server::start_with(kind, &[])
    }

    /// Starts a server of `kind`; `extra` are more `--directive value` arguments.
    ///
    /// Both kinds get `--port P --bind 127.0.0.1 --dir <tmp> --save '' --appendonly no`. A start
    /// that fails because the port was taken in the meantime is retried on another port.
    pub fn start_with(kind: Kind, extra: &[&str]) -> Result<Server> {
        let bin = kind.binary()?;
        let mut last_err = None;
        for _attempt in 0..5 {
            match Server::try_start(kind, &bin, extra) {
                Ok(s) => return Ok(s),
                Err(e) => {
                    let retry =
                        format!("{e:#}").contains("already in use") || format!("{e:#}").contains("Address in use");
                    last_err = Some(e);
                    if !retry {
                        break;
                    }
                }
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow!("could not start {}", kind.name())))
    }

    fn try_start(kind: Kind, bin: &Path, extra: &[&str]) -> Result<Server> {
        let dir = TempDir::new(kind.name())?;
        let port = free_port()?;
        let log = dir.path().join("server.log");
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        let port_s = port.to_string();
        let dir_s = dir.path().to_string_lossy().into_owned();
        let mut args: Vec<&str> =
            vec!["--port", &port_s, "--bind", "127.0.0.1", "--dir", &dir_s, "--save", "", "--appendonly", "no"];
        args.extend_from_slice(extra);
        let mut command = Command::new(bin);
        let limit_mb: u64 = crate::env_num("CONFORMANCE_SERVER_MEM_LIMIT_MB", 4096);
        if limit_mb > 0 {
            let bytes = limit_mb * 1024 * 1024;
            // SAFETY: only setrlimit(2), which is async-signal-safe, runs between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    let lim = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
                    libc::setrlimit(libc::RLIMIT_AS, &lim);
                    Ok(())
                });
            }
        }
        let child = command
            .args(&args)
            // SORT ALPHA collates with strcoll(): the C locale makes that byte order.
            .env("LC_ALL", "C")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?;
        let mut server = Server { kind, port, child, log, dir };
        server.wait_ready().with_context(|| format!("{} ({}) on port {port}", kind.name(), bin.display()))?;
        Ok(server)
    }

    /// Waits until the server answers PING with PONG; fails if the process exits first.
    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("exited during start-up with {status}; log:\n{}", self.log_tail(4000));
            }
            if let Ok(mut c) = Conn::connect_timeout(self.port, Duration::from_millis(500)) {
                c.set_timeout(Duration::from_secs(2));
                if let Ok(r) = c.call(&["PING"]) {
                    if r.raw == b"+PONG\r\n" {
                        // Ours, or another test's server that took the port first? This one
                        // would exit on its own, but perhaps only after this check.
                        let pid = format!("process_id:{}\r\n", self.child.id());
                        match c.call(&["INFO", "server"]) {
                            Ok(info) if info.raw.windows(pid.len()).any(|w| w == pid.as_bytes()) => return Ok(()),
                            Ok(_) => {
                                let _ = self.child.kill();
                                let _ = self.child.wait();
                                bail!("port {} already in use by another server", self.port);
                            }
                            Err(_) => {}
                        }
                    }
                }
            }
            if Instant::now() >= deadline {
                bail!("did not answer PING within {START_TIMEOUT:?}; log:\n{}", self.log_tail(4000));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A new client connection (RESP2, DB 0).
    pub fn connect(&self) -> Result<Conn> {
        Conn::connect(self.port).with_context(|| format!("connecting to {} on port {}", self.kind.name(), self.port))
    }

    /// True while the process runs.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last `max` bytes of the server's output.
    pub fn log_tail(&self, max: usize) -> String {
        let mut s = Vec::new();
        if let Ok(mut f) = File::open(&self.log) {
            let _ = f.read_to_end(&mut s);
        }
        let start = s.len().saturating_sub(max);
        String::from_utf8_lossy(&s[start..]).into_owned()
    }

    /// Stops the process: SIGTERM, then SIGKILL after a grace period. Idempotent.
    pub fn stop(&mut self) {
        if !self.is_alive() {
            return;
        }
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the PID of a child we spawned and have not reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if !self.is_alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}(pid {}, port {})", self.kind.name(), self.child.id(), self.port)
    }
}
