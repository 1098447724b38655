//! `--log=FILE` and `--log-level` of codis-dashboard and codis-fe: lines in Go's layout go to
//! the daily file `FILE.YYYY-MM-DD` (Go's `DailyRolling`), the level is honoured (also when
//! changed through `PUT /api/topom/loglevel`), and a bad level stops the binary as Go's does.
//! (Rotation at the day boundary is unit-tested with an injected clock in
//! compat/src/golog/rolling.rs; codis-proxy has the same test in proxy/tests/logfile.rs.)

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compat::golog::local_date;
use conformance::logfiles::{is_go_line, read_logs, starts_like_a_line};
use support::*;

fn today() -> String {
    local_date(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64)
}

fn check_names(names: &[String], base: &str, day: &str) {
    assert!(!names.is_empty() && names.len() <= 2, "{names:?}");
    assert!(names.iter().all(|n| n.len() == base.len() + ".2006-01-02".len()), "{names:?}");
    // A run across midnight writes two files; otherwise the one of today.
    assert!(names.len() == 2 || names[0] == format!("{base}.{day}"), "{names:?}");
}

#[test]
fn dashboard_and_fe_write_daily_log_files() {
    let root = temp_dir("logfile");
    let coord = Coord { name: "filesystem", addr: root.0.join("coord").display().to_string() };
    let logdir = root.0.join("logs");
    let day = today();
    let d = dashboard(&root.0, &coord, "", &[&format!("--log={}/dashboard.log", logdir.display()), "--log-level=info"]);
    // The loglevel call is logged before it applies; the group/create under ERROR is not.
    assert_eq!(d.put(&format!("/api/topom/loglevel/{XAUTH}/ERROR")).status, Some(200));
    assert_eq!(d.put(&format!("/api/topom/group/create/{XAUTH}/1")).status, Some(200));
    assert_eq!(d.put(&format!("/api/topom/loglevel/{XAUTH}/warning")).status, Some(200));
    assert_eq!(d.put(&format!("/api/topom/group/create/{XAUTH}/2")).status, Some(200));

    let fe_port = free_port();
    let fe_addr = format!("127.0.0.1:{fe_port}");
    let mut fe = Command::new(env!("CARGO_BIN_EXE_codis-fe"))
        .arg(format!("--filesystem={}", coord.addr))
        .arg(format!("--listen={fe_addr}"))
        .arg(format!("--log={}/fe.log", logdir.display()))
        .arg("--log-level=WARN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start codis-fe");
    let t = Instant::now();
    loop {
        let r = http(&fe_addr, "GET", "/list", b"");
        if r.status == Some(200) {
            assert_eq!(String::from_utf8_lossy(&r.body), format!("[\n    \"{PRODUCT}\"\n]"));
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "codis-fe did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = fe.kill();
    let _ = fe.wait();
    drop(d);

    let (names, text) = read_logs(&logdir, "dashboard.log");
    check_names(&names, "dashboard.log", &day);
    let bad: Vec<&str> = text.lines().filter(|l| starts_like_a_line(l) && !is_go_line(l)).collect();
    assert!(bad.is_empty(), "lines not in Go's layout: {bad:#?}\n{text}");
    assert!(text.contains("[WARN] set ncpu = "), "{text}");
    assert!(text.contains(&format!("[WARN] API call /api/topom/loglevel/{XAUTH}/ERROR")), "{text}");
    assert!(!text.contains(&format!("/api/topom/group/create/{XAUTH}/1")), "logged under ERROR:\n{text}");
    assert!(text.contains(&format!("[WARN] API call /api/topom/group/create/{XAUTH}/2")), "{text}");

    let (names, text) = read_logs(&logdir, "fe.log");
    check_names(&names, "fe.log", &day);
    assert!(text.lines().all(|l| !starts_like_a_line(l) || is_go_line(l)), "{text}");
    assert!(text.contains(&format!("[WARN] set listen = {fe_addr}")), "{text}");
}

#[test]
fn bad_log_options_stop_dashboard_and_fe_like_go() {
    for (bin, extra) in [
        (env!("CARGO_BIN_EXE_codis-dashboard"), vec![]),
        (env!("CARGO_BIN_EXE_codis-fe"), vec!["--filesystem=/nonexistent", "--listen=127.0.0.1:0"]),
    ] {
        let out = Command::new(bin).arg("--log-level=LOUD").args(&extra).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{bin}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(": [PANIC] option --log-level = LOUD"), "{bin}: {err}");
        let out = Command::new(bin).arg("--log=/tmp/").args(&extra).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{bin}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                ": [PANIC] open log file /tmp/ failed\n[error]: invalid base-path = /tmp/, file name is required\n"
            ),
            "{bin}: {err}"
        );
    }
}

#[test]
fn go_line_checker_rejects_other_layouts() {
    assert!(is_go_line("2026/11/22 01:47:54 topom.rs:240: [WARN] set ncpu = 2"));
    assert!(!is_go_line("2026-11-22T01:47:54.000Z  WARN dashboard: set ncpu = 2"));
    assert!(!is_go_line("2026/11/22 01:47:54 topom.rs: [WARN] x"));
}
