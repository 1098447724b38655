//! The BGSAVE child runs at idle CPU priority (SCHED_IDLE) so that the server keeps its core
//! during a save, and still produces a complete RDB.

#[allow(unused_macros)]
mod support;

use std::time::{Duration, Instant};

use support::{temp_dir, Server};

/// Field `n` (1-based, as in proc(5)) of /proc/<pid>/stat.
fn stat_field(pid: u32, n: usize) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from the closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(n - 3)?.parse().ok()
}

/// (scheduling policy, nice): SCHED_IDLE is policy 5; where it is refused the child uses
/// nice 19 instead.
fn policy(pid: u32) -> Option<(i64, i64)> {
    Some((stat_field(pid, 41)?, stat_field(pid, 19)?))
}

/// Children of any thread of `pid` (the server forks from one of its worker threads).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    let mut out = Vec::new();
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(text.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    out
}

#[test]
fn bgsave_child_runs_at_idle_priority() {
    let dir = temp_dir("bgsave-idle");
    let server = Server::ours(&dir, &[]);
    let pid = server.child.as_ref().expect("server process").id();
    let mut c = server.conn();
    // Enough data that the child lives for a while, even in a debug build.
    let value = "v".repeat(200);
    let cmds: Vec<Vec<Vec<u8>>> = (0..200_000)
        .map(|i| vec![b"SET".to_vec(), format!("key:{i}").into_bytes(), value.clone().into_bytes()])
        .collect();
    c.pipeline(&cmds);
    assert_eq!(policy(pid), policy(std::process::id()), "the server itself runs at the priority it was started with");
    let mut seen = Vec::new();
    for _ in 0..3 {
        c.ok(&["BGSAVE"]);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(&child) = children(pid).first() {
                // The child lowers its own priority right after the fork: watch it for a moment
                // rather than judging it by its first instant.
                let watch = Instant::now() + Duration::from_secs(2);
                let mut last = None;
                while let Some(p) = policy(child) {
                    last = Some(p);
                    if p.0 == 5 || p.1 == 19 || Instant::now() > watch {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                if let Some(p) = last {
                    seen.push(p);
                    break;
                }
            }
            if c.info_field("rdb_bgsave_in_progress") == "0" {
                break;
            }
            assert!(Instant::now() < deadline, "BGSAVE does not end");
            std::thread::sleep(Duration::from_millis(1));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while c.info_field("rdb_bgsave_in_progress") != "0" {
            assert!(Instant::now() < deadline, "BGSAVE does not end");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(c.info_field("rdb_last_bgsave_status"), "ok");
    }
    assert!(!seen.is_empty(), "never saw the save child (it ended too fast)");
    assert!(
        seen.iter().all(|&(policy, nice)| policy == 5 || nice == 19),
        "(policy, nice) of the save child: {seen:?} (5 = SCHED_IDLE)"
    );
    // The file is whole: a restart loads every key.
    drop(c);
    let mut server = server;
    server.restart();
    let mut c = server.conn();
    assert_eq!(c.int(&["DBSIZE"]), 200_000);
}
