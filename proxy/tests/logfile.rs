//! `--log=FILE` and `--log-level` of the codis-proxy binary: lines in Go's layout go to the
//! daily file `FILE.YYYY-MM-DD` (Go's `DailyRolling`), and the level set on the command line and
//! later through `PUT /api/proxy/loglevel` is honoured. (Rotation at the day boundary itself is
//! unit-tested with an injected clock in compat/src/golog/rolling.rs.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compat::golog::local_date;
use conformance::logfiles::{is_go_line, read_logs, starts_like_a_line};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn put(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect admin");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn proxy_writes_its_daily_log_file_at_the_chosen_level() {
    let root = std::env::temp_dir().join(format!("rcodis-proxy-log-{}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let (proxy_port, admin_port) = (free_port(), free_port());
    let conf = root.join("proxy.toml");
    std::fs::write(
        &conf,
        format!("proxy_addr = \"127.0.0.1:{proxy_port}\"\nadmin_addr = \"127.0.0.1:{admin_port}\"\n"),
    )
    .unwrap();
    // The directory of the log file does not exist yet: the proxy creates it, as Go's does.
    let logdir = root.join("logs");
    let today =
        local_date(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64);
    let mut child = Command::new(env!("CARGO_BIN_EXE_codis-proxy"))
        .arg(format!("--config={}", conf.display()))
        .arg(format!("--log={}/proxy.log", logdir.display()))
        .arg("--log-level=WARN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start codis-proxy");
    let admin = format!("127.0.0.1:{admin_port}");
    let t = Instant::now();
    while TcpStream::connect(&admin).is_err() {
        assert!(t.elapsed() < Duration::from_secs(30), "proxy admin did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let model: serde_json::Value = {
        let mut s = TcpStream::connect(&admin).unwrap();
        write!(s, "GET /api/proxy/model HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("model: {e}: {out}"))
    };
    let xauth = compat::xauth::proxy_xauth("codis-demo", "", model["token"].as_str().expect("token"));
    // ERROR hides the WARN line the loglevel call itself logs; back at WARN it is shown.
    assert!(put(&admin, &format!("/api/proxy/loglevel/{xauth}/ERROR")).starts_with("HTTP/1.1 200"));
    assert!(put(&admin, &format!("/api/proxy/loglevel/{xauth}/WARNING")).starts_with("HTTP/1.1 200"));
    assert!(put(&admin, &format!("/api/proxy/loglevel/{xauth}/INFO")).starts_with("HTTP/1.1 200"));
    assert!(put(&admin, &format!("/api/proxy/shutdown/{xauth}")).starts_with("HTTP/1.1 200"));
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("proxy did not shut down");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();

    let (names, text) = read_logs(&logdir, "proxy.log");
    assert!(names.contains(&format!("proxy.log.{today}")) || names.len() == 2, "{names:?}");
    assert!(names.iter().all(|n| n.len() == "proxy.log.2006-01-02".len()), "{names:?}");
    let bad: Vec<&str> = text.lines().filter(|l| starts_like_a_line(l) && !is_go_line(l)).collect();
    assert!(bad.is_empty(), "lines not in Go's layout: {bad:#?}\n{text}");
    assert!(text.contains("[WARN] set ncpu = "), "{text}");
    assert!(!text.contains("set loglevel to ERROR"), "logged at ERROR: {text}");
    assert!(text.contains("set loglevel to WARNING"), "{text}");
    assert!(text.contains("set loglevel to INFO"), "{text}");
    assert!(!stderr.contains("set ncpu"), "--log sends lines to the file only: {stderr}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn go_line_checker_rejects_other_layouts() {
    assert!(is_go_line("2026/11/22 01:47:54 main.rs:240: [WARN] set ncpu = 2"));
    assert!(!is_go_line("2026-11-22T01:47:54.000Z  WARN codis_proxy: set ncpu = 2"));
    assert!(!is_go_line("2026/11/22 01:47:54 main.rs: [WARN] x"));
}

#[test]
fn a_bad_log_level_or_path_stops_the_proxy() {
    let out = Command::new(env!("CARGO_BIN_EXE_codis-proxy")).arg("--log-level=LOUD").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("option --log-level = LOUD"));
    let out = Command::new(env!("CARGO_BIN_EXE_codis-proxy")).arg("--log=/tmp/").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            ": [PANIC] open log file /tmp/ failed\n[error]: invalid base-path = /tmp/, file name is required\n"
        ),
        "{err}"
    );
}
