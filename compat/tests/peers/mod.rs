//! Real ZooKeeper (Debian `zookeeper`) and etcd (Debian `etcd-server`) on free 127.0.0.1 ports,
//! stopped by pid when dropped. Tests skip with a message when the binaries are missing.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir(tag: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!("rcodis-coord-{tag}-{}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

/// A process killed (by its pid) and reaped on drop.
pub struct Peer {
    child: Child,
    pub addr: String,
    _dir: TempDir,
}

impl Peer {
    /// Freezes (SIGSTOP) or thaws (SIGCONT) the process, e.g. to let sessions expire.
    pub fn pause(&self, stop: bool) {
        let sig = if stop { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: signalling our own child by its pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as libc::pid_t, sig) }, 0);
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.pause(false);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ZK_JARS: &[&str] =
    &["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"];

pub fn which(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(bin)).find(|p| p.is_file())
}

/// Whether Debian's ZooKeeper (and java) is installed; says so when it is not.
pub fn zookeeper_installed() -> bool {
    let ok = which("java").is_some() && ZK_JARS.iter().all(|j| Path::new(j).is_file());
    if !ok {
        eprintln!("SKIPPED: ZooKeeper not installed (apt-get install zookeeper)");
    }
    ok
}

/// Writes a standalone ZooKeeper configuration (ENVIRONMENT.md recipe) under `dir`: `conf/`,
/// `data/`, `log/`. `tick_ms` bounds the session timeouts clients may get (2 to 20 ticks).
pub fn zookeeper_config(dir: &Path, port: u16, tick_ms: u32) {
    for sub in ["conf", "data", "log"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let _ = std::fs::copy("/etc/zookeeper/conf/log4j.properties", dir.join("conf/log4j.properties"));
    std::fs::write(
        dir.join("conf/zoo.cfg"),
        format!(
            "tickTime={tick_ms}\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr,stat,cons\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
}

/// Starts ZooKeeper on the configuration in `dir` (console output appended to
/// `log/console.log`) and waits until it serves on `addr`.
pub fn zookeeper_spawn(dir: &Path, addr: &str) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("log/console.log")).unwrap();
    let cp = format!("{}:{}", dir.join("conf").display(), ZK_JARS.join(":"));
    let mut child = Command::new("java")
        .arg(format!("-Dzookeeper.log.dir={}", dir.join("log").display()))
        .arg("-Dzookeeper.root.logger=WARN,CONSOLE")
        .arg("-Dzookeeper.admin.enableServer=false")
        .arg("-Xmx256m")
        .arg("-cp")
        .arg(cp)
        .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
        .arg(dir.join("conf/zoo.cfg"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start zookeeper");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if four_letter(addr, "srvr").contains("Mode: standalone") {
            return child;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("zookeeper on {addr} not ready in 30s");
}

/// A standalone ZooKeeper with a short tick so sessions can be short.
pub fn zookeeper() -> Option<Peer> {
    if !zookeeper_installed() {
        return None;
    }
    let dir = temp_dir("zk");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    zookeeper_config(&dir.0, port, 500);
    let child = zookeeper_spawn(&dir.0, &addr);
    Some(Peer { child, addr, _dir: dir })
}

/// ZooKeeper's four-letter command `cmd` (e.g. `srvr`, or `cons`: the connections and their
/// sessions).
pub fn four_letter(addr: &str, cmd: &str) -> String {
    let Ok(mut s) = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(cmd.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// etcd with the v2 API enabled, as Go Codis needs.
pub fn etcd() -> Option<Peer> {
    let Some(bin) = which("etcd") else {
        eprintln!("SKIPPED: etcd not installed (apt-get install etcd-server)");
        return None;
    };
    let dir = temp_dir("etcd");
    let (p, pp, pm) = (free_port(), free_port(), free_port());
    let child = Command::new(bin)
        .args(["--name", "t", "--data-dir"])
        .arg(dir.0.join("data"))
        .arg(format!("--listen-client-urls=http://127.0.0.1:{p}"))
        .arg(format!("--advertise-client-urls=http://127.0.0.1:{p}"))
        .arg(format!("--listen-peer-urls=http://127.0.0.1:{pp}"))
        .arg(format!("--initial-advertise-peer-urls=http://127.0.0.1:{pp}"))
        .arg(format!("--initial-cluster=t=http://127.0.0.1:{pp}"))
        .arg("--initial-cluster-state=new")
        .arg(format!("--listen-metrics-urls=http://127.0.0.1:{pm}"))
        .arg("--enable-v2=true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start etcd");
    let peer = Peer { child, addr: format!("127.0.0.1:{p}"), _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http_get(&peer.addr, "/v2/keys/").starts_with("HTTP/1.1 200") {
            return Some(peer);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("etcd on {} not ready in 30s", peer.addr);
}

/// A raw HTTP/1.1 request (status line, headers and body as text).
pub fn http(addr: &str, method: &str, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

pub fn http_get(addr: &str, path: &str) -> String {
    http(addr, "GET", path)
}
