//! Test harness: an in-process proxy on a free port, slot layouts, and a scripted fake backend
//! for the replies real servers cannot be made to give on demand (migration helpers, delays).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use codis_proxy::{Config, Proxy, Slot};
use compat::resp::RequestDecoder;
use conformance::Conn;

/// A proxy serving on 127.0.0.1:<free port> from its own runtime.
pub struct TestProxy {
    pub proxy: Proxy,
    pub port: u16,
    rt: Option<tokio::runtime::Runtime>,
}

impl TestProxy {
    /// Starts a proxy with `config`, fills `slots` and puts it online.
    pub fn start(config: Config, slots: &[Slot]) -> TestProxy {
        let p = TestProxy::start_offline(config);
        p.fill(slots);
        p.proxy.start();
        p
    }

    /// Starts a proxy that is not online yet.
    pub fn start_offline(mut config: Config) -> TestProxy {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        config.proxy_addr = format!("127.0.0.1:{port}");
        let proxy = Proxy::new(config).expect("proxy");
        let p2 = proxy.clone();
        rt.spawn(async move { p2.serve(listener).await });
        TestProxy { proxy, port, rt: Some(rt) }
    }

    pub fn fill(&self, slots: &[Slot]) {
        self.block_on(self.proxy.fill_slots(slots)).expect("fill slots");
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().expect("runtime").block_on(f)
    }

    pub fn spawn<F>(&self, f: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt.as_ref().expect("runtime").spawn(f)
    }

    pub fn conn(&self) -> Conn {
        let mut c = Conn::connect(self.port).expect("connect to proxy");
        c.set_timeout(Duration::from_secs(10));
        c
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// The `codis-proxy` binary as a child process, killed when dropped.
pub struct ProxyProcess(pub Child);

impl ProxyProcess {
    /// Starts the binary in `dir` with `toml` as its proxy.toml and every slot on `backend`
    /// (`--fillslots`, so it goes online without a dashboard), quiet unless it fails; `args` are
    /// more flags (e.g. `--ncpu=1`).
    pub fn start_filled(dir: &Path, backend: &str, toml: &str, args: &[&str]) -> ProxyProcess {
        ProxyProcess::start_with_slots(dir, &all_on(backend), toml, args)
    }

    /// As [`start_filled`](Self::start_filled), with `slots` as the slot table.
    pub fn start_with_slots(dir: &Path, slots: &[Slot], toml: &str, args: &[&str]) -> ProxyProcess {
        let slots = serde_json::to_string(slots).expect("slots json");
        std::fs::write(dir.join("slots.json"), slots).expect("write slots.json");
        std::fs::write(dir.join("proxy.toml"), toml).expect("write proxy.toml");
        let child = Command::new(env!("CARGO_BIN_EXE_codis-proxy"))
            .arg(format!("--config={}", dir.join("proxy.toml").display()))
            .arg(format!("--fillslots={}", dir.join("slots.json").display()))
            .arg("--log-level=warn")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn codis-proxy");
        ProxyProcess(child)
    }

    /// Waits until the proxy on `port` answers PING through a backend (accepting starts before
    /// the slots are online).
    pub fn wait_answering(port: u16) {
        let t = Instant::now();
        let online = || Conn::connect(port).ok()?.call(&["PING"]).ok().map(|r| raw(&r) == "+PONG\r\n");
        while online() != Some(true) {
            assert!(t.elapsed() < Duration::from_secs(20), "proxy did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then waits for the exit (Go's proxy closes on SIGTERM too).
    pub fn terminate(&mut self) {
        // SAFETY: signals our own child process.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let t = Instant::now();
        while self.0.try_wait().ok().flatten().is_none() {
            assert!(t.elapsed() < Duration::from_secs(10), "proxy did not exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every slot on `addr` (group 1).
pub fn all_on(addr: &str) -> Vec<Slot> {
    (0..1024).map(|i| Slot { id: i, backend_addr: addr.into(), backend_addr_group_id: 1, ..Slot::default() }).collect()
}

/// Slots 0..512 on `a` (group 1), 512..1024 on `b` (group 2), as in the recorded cluster.
pub fn split_on(a: &str, b: &str) -> Vec<Slot> {
    (0..1024)
        .map(|i| {
            let (addr, gid) = if i < 512 { (a, 1) } else { (b, 2) };
            Slot { id: i, backend_addr: addr.into(), backend_addr_group_id: gid, ..Slot::default() }
        })
        .collect()
}

pub fn addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// A key whose slot satisfies `pred`.
pub fn key_where(prefix: &str, pred: impl Fn(usize) -> bool) -> String {
    (0..100_000)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| pred(compat::slot::slot_of(k.as_bytes())))
        .expect("a key for the slot predicate")
}

pub type Handler = dyn Fn(&[Vec<u8>]) -> Option<Vec<u8>> + Send + Sync;

/// A RESP server on a free port that records every request and answers with `handler` (or
/// `+OK` when it returns `None`). Each connection is served by its own thread.
pub struct FakeBackend {
    pub port: u16,
    pub log: Arc<Mutex<Vec<Vec<Vec<u8>>>>>,
}

impl FakeBackend {
    pub fn start(handler: impl Fn(&[Vec<u8>]) -> Option<Vec<u8>> + Send + Sync + 'static) -> FakeBackend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake backend");
        let port = listener.local_addr().expect("addr").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log2 = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (h, l) = (handler.clone(), log2.clone());
                std::thread::spawn(move || serve_fake(stream, h, l));
            }
        });
        FakeBackend { port, log }
    }

    pub fn addr(&self) -> String {
        addr(self.port)
    }

    /// The requests received so far whose command name is `name` (case-insensitive).
    pub fn requests(&self, name: &str) -> Vec<Vec<String>> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r[0].eq_ignore_ascii_case(name.as_bytes()))
            .map(|r| r.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect())
            .collect()
    }
}

fn serve_fake(mut stream: TcpStream, handler: Arc<Handler>, log: Arc<Mutex<Vec<Vec<Vec<u8>>>>>) {
    let mut decoder = RequestDecoder::default();
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(Some(args)) = decoder.decode(&mut buf) {
            let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
            log.lock().unwrap().push(args.clone());
            let reply = handler(&args).unwrap_or_else(|| b"+OK\r\n".to_vec());
            if stream.write_all(&reply).is_err() {
                return;
            }
        }
    }
}

/// Reads replies until one arrives or `wait` passes.
pub fn raw(reply: &conformance::Reply) -> String {
    String::from_utf8_lossy(&reply.raw).into_owned()
}
