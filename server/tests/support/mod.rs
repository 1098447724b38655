//! Shared harness of the server integration tests: free ports, temporary directories, our
//! binary and Debian's redis-server started on 127.0.0.1 and stopped by pid, a small RESP
//! connection.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use compat::resp::{parse_frame, Frame};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A temporary directory removed when dropped (declare it before the servers using it).
pub struct TempDir(pub PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir(tag: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!("rcodis-it-{tag}-{}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

pub fn redis_server_binary() -> Option<PathBuf> {
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

pub fn reference_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("RCODIS_REFERENCE_DIR") {
        return Some(PathBuf::from(p));
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().map(|a| a.join("shared/reference")).find(|c| c.is_dir())
}

macro_rules! require_reference {
    () => {
        match reference_dir() {
            Some(d) => d.join("codis-3.2"),
            None => {
                eprintln!("SKIPPED: shared/reference recordings not found (set RCODIS_REFERENCE_DIR)");
                return;
            }
        }
    };
}

/// A server process (ours or redis-server), killed by pid when dropped.
pub struct Server {
    pub child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    pub bin: PathBuf,
    pub args: Vec<String>,
}

pub const OURS: &str = env!("CARGO_BIN_EXE_codis-server");

impl Server {
    pub fn start(bin: &Path, dir: &Path, extra: &[&str]) -> Server {
        let mut args: Vec<String> =
            vec!["--bind".into(), "127.0.0.1".into(), "--dir".into(), dir.to_string_lossy().into_owned()];
        args.extend(["--logfile", "server.log", "--daemonize", "no"].iter().map(|s| s.to_string()));
        let mut has = |name: &str, default: &str| {
            if !extra.contains(&name) {
                args.push(name.into());
                args.push(default.into());
            }
        };
        has("--save", "");
        has("--appendonly", "no");
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut s = Server { child: None, port: 0, dir: dir.to_path_buf(), bin: bin.to_path_buf(), args };
        s.spawn();
        s
    }

    pub fn ours(dir: &Path, extra: &[&str]) -> Server {
        Server::start(Path::new(OURS), dir, extra)
    }

    pub fn spawn(&mut self) {
        // A port found free can be bound by another test's server before this one binds it:
        // this one then exits and the port answers for the other. Try another port.
        for _ in 0..5 {
            if self.try_spawn_on(free_port()) {
                return;
            }
        }
        panic!("{} could not start on a free port; log:\n{}", self.bin.display(), self.log());
    }

    /// Starts the process (again) on `port`, e.g. to bring a killed server back at the address
    /// its peers know.
    pub fn spawn_on(&mut self, port: u16) {
        assert!(self.try_spawn_on(port), "{} exited; log:\n{}", self.bin.display(), self.log());
    }

    /// False when the process exited before answering (e.g. its port was taken).
    fn try_spawn_on(&mut self, port: u16) -> bool {
        let child = Command::new(&self.bin)
            .args(["--port", &port.to_string()])
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr_file(&self.dir))
            .spawn()
            .expect("spawn server");
        let pid = child.id();
        self.child = Some(child);
        self.port = port;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.child.as_mut().unwrap().try_wait().unwrap().is_some() {
                return false;
            }
            if let Ok(mut c) = Conn::connect(port) {
                match c.cmd(&["PING"]) {
                    // Only this process, not another test's server that holds the port.
                    Frame::Simple(s) if &s[..] == b"PONG" => {
                        if let Frame::Bulk(info) = c.cmd(&["INFO", "server"]) {
                            if String::from_utf8_lossy(&info).contains(&format!("process_id:{pid}\r\n")) {
                                return true;
                            }
                        }
                    }
                    Frame::Error(e) if e.starts_with(b"NOAUTH") => return true,
                    _ => {}
                }
            }
            assert!(Instant::now() < deadline, "server not ready; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// What the process wrote to stderr (a panic's message, among others).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join(STDERR_FILE)).unwrap_or_default()
    }

    pub fn conn(&self) -> Conn {
        Conn::connect(self.port).unwrap()
    }

    /// kill -9 and wait.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for the exit.
    pub fn term(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(30);
            while c.try_wait().unwrap().is_none() {
                assert!(Instant::now() < deadline, "server did not exit on SIGTERM");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        // A failing test shows what its server said: the log's end and all of stderr.
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- {} on port {}: server.log (last 40 lines)", self.bin.display(), self.port);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
            eprintln!("--- stderr\n{}", self.stderr());
        }
    }
}

const STDERR_FILE: &str = "server.stderr";

/// The server's stderr, appended to a file in its directory (kept across restarts).
fn stderr_file(dir: &Path) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(STDERR_FILE))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

pub struct Conn {
    pub s: TcpStream,
    pub buf: BytesMut,
}

impl Conn {
    pub fn connect(port: u16) -> std::io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        s.set_nodelay(true)?;
        Ok(Conn { s, buf: BytesMut::new() })
    }

    pub fn send(&mut self, args: &[&[u8]]) {
        let mut out = Vec::new();
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.s.write_all(&out).unwrap();
    }

    pub fn read(&mut self) -> Frame {
        loop {
            if let Some((f, n)) = parse_frame(&self.buf).unwrap() {
                let _ = self.buf.split_to(n);
                return f;
            }
            let mut tmp = [0u8; 65536];
            let n = self.s.read(&mut tmp).unwrap();
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }

    /// One command without panicking on a closed or silent connection (load generators that
    /// must survive a failover).
    pub fn try_cmd(&mut self, args: &[&str]) -> std::io::Result<Frame> {
        let mut out = Vec::new();
        compat::resp::write::command(&mut out, args);
        self.s.write_all(&out)?;
        loop {
            match parse_frame(&self.buf) {
                Ok(Some((f, n))) => {
                    let _ = self.buf.split_to(n);
                    return Ok(f);
                }
                Ok(None) => {}
                Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{e:?}"))),
            }
            let mut tmp = [0u8; 65536];
            let n = self.s.read(&mut tmp)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }

    pub fn cmd_b(&mut self, args: &[&[u8]]) -> Frame {
        self.send(args);
        self.read()
    }

    pub fn cmd(&mut self, args: &[&str]) -> Frame {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.cmd_b(&a)
    }

    pub fn ok(&mut self, args: &[&str]) {
        let r = self.cmd(args);
        assert!(!r.is_error(), "{args:?} -> {r:?}");
    }

    pub fn int(&mut self, args: &[&str]) -> i64 {
        match self.cmd(args) {
            Frame::Integer(n) => n,
            f => panic!("{args:?} -> {f:?}"),
        }
    }

    pub fn info_field(&mut self, name: &str) -> String {
        let Frame::Bulk(text) = self.cmd(&["INFO", "persistence"]) else { panic!("INFO") };
        let text = String::from_utf8_lossy(&text).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("no {name} in INFO:\n{text}"))
    }

    /// Sends many commands at once and reads all replies (checked not to be errors).
    pub fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) {
        for chunk in cmds.chunks(1000) {
            let mut out = Vec::new();
            for c in chunk {
                out.extend_from_slice(format!("*{}\r\n", c.len()).as_bytes());
                for a in c {
                    out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                    out.extend_from_slice(a);
                    out.extend_from_slice(b"\r\n");
                }
            }
            self.s.write_all(&out).unwrap();
            for _ in chunk {
                let r = self.read();
                assert!(!r.is_error(), "{r:?}");
            }
        }
    }
}

pub fn bulk(f: Frame) -> Bytes {
    match f {
        Frame::Bulk(b) => b,
        f => panic!("not a bulk: {f:?}"),
    }
}

pub fn strings(f: Frame) -> Vec<Bytes> {
    match f {
        Frame::Array(items) | Frame::Set(items) => items.into_iter().map(bulk).collect(),
        f => panic!("not an array: {f:?}"),
    }
}
