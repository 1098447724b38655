//! Failover under write load, driven by three of Debian's `redis-sentinel` (Redis 7.0) watching
//! three of our servers (one master, two replicas) on loopback.
//!
//! Every write is `SET` then `WAIT 1 <ms>` on a master that has `min-slaves-to-write 1`, and it
//! counts as acknowledged only when WAIT reports a replica. The master is SIGKILLed mid-load;
//! a replica must be promoted, the other must follow it, and the old master, restarted at its
//! address, must be turned into a replica of the new one. The test prints the seconds to
//! promotion and the number of acknowledged writes lost, and asserts that none was lost.
//!
//! Knobs (manual runs): `SENTINEL_LOAD_MS` (load before the kill, default 1500).
//! Skipped with a message when `redis-sentinel` is not on PATH.

#[macro_use]
#[allow(unused_macros)]
mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use compat::resp::Frame;
use support::*;

fn redis_sentinel_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("redis-sentinel")).find(|p| p.is_file())
}

/// A sentinel process, killed by pid when dropped.
struct Sentinel {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Sentinel {
    fn start(bin: &PathBuf, dir: &std::path::Path, master_port: u16) -> Sentinel {
        let port = free_port();
        let conf = dir.join(format!("sentinel-{port}.conf"));
        // Small timeouts keep the test short: down after 1 s, failover attempts time out
        // after 6 s.
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile {dir}/sentinel-{port}.log\n\
                 sentinel monitor mymaster 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 6000\n\
                 sentinel parallel-syncs mymaster 1\n",
                dir = dir.display()
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-sentinel");
        let s = Sentinel { child, port, dir: dir.to_path_buf() };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut c) = Conn::connect(port) {
                if c.try_cmd(&["PING"]).is_ok_and(|f| f == Frame::Simple("PONG".into())) {
                    // Faster periods than Redis's defaults (INFO every 10 s, hello every 2 s,
                    // 8 s before an old master is turned into a replica), and no TILT when
                    // this busy machine stalls the sentinel's timer for a moment.
                    let r = c.cmd(&[
                        "SENTINEL",
                        "DEBUG",
                        "info-period",
                        "500",
                        "publish-period",
                        "500",
                        "ping-period",
                        "250",
                        "ask-period",
                        "250",
                        "tilt-trigger",
                        "10000",
                        "min-link-reconnect-period",
                        "1000",
                    ]);
                    assert_eq!(r, Frame::Simple("OK".into()), "SENTINEL DEBUG");
                    return s;
                }
            }
            assert!(Instant::now() < deadline, "sentinel on {port} not ready:\n{}", s.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("sentinel-{}.log", self.port))).unwrap_or_default()
    }

    fn conn(&self) -> Option<Conn> {
        let c = Conn::connect(self.port).ok()?;
        c.s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        Some(c)
    }

    fn array_len(&self, args: &[&str]) -> usize {
        match self.conn().and_then(|mut c| c.try_cmd(args).ok()) {
            Some(Frame::Array(a)) => a.len(),
            _ => 0,
        }
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The master address the sentinels report (the first one that answers).
fn sentinel_master(sentinels: &[u16]) -> Option<u16> {
    for &p in sentinels {
        let Ok(mut c) = Conn::connect(p) else { continue };
        let _ = c.s.set_read_timeout(Some(Duration::from_secs(1)));
        if let Ok(Frame::Array(a)) = c.try_cmd(&["SENTINEL", "get-master-addr-by-name", "mymaster"]) {
            if let Some(Frame::Bulk(port)) = a.get(1) {
                return std::str::from_utf8(port).ok()?.parse().ok();
            }
        }
    }
    None
}

/// ROLE over a fresh connection (sentinel kills normal clients while it reconfigures).
fn role(port: u16) -> Option<Vec<Frame>> {
    let mut c = Conn::connect(port).ok()?;
    c.s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    match c.try_cmd(&["ROLE"]).ok()? {
        Frame::Array(a) => Some(a),
        _ => None,
    }
}

fn is_master(port: u16) -> bool {
    role(port).is_some_and(|r| r.first() == Some(&Frame::Bulk("master".into())))
}

/// A replica of `master` whose link is up.
fn follows(port: u16, master: u16) -> bool {
    role(port).is_some_and(|r| {
        r.first() == Some(&Frame::Bulk("slave".into()))
            && r.get(2) == Some(&Frame::Integer(master as i64))
            && r.get(3) == Some(&Frame::Bulk("connected".into()))
    })
}

struct Load {
    /// (key number) of every write acknowledged by `WAIT`.
    acked: Vec<u64>,
    attempted: u64,
    refused: u64,
}

/// Writes `SET w:<n> <n>` + `WAIT 1 1000` to whatever master the sentinels report, until
/// `stop` (or a hard cap on the number of writes).
fn load(sentinels: Vec<u16>, stop: Arc<AtomicBool>, out: Arc<Mutex<Load>>) {
    let mut conn: Option<Conn> = None;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) && n < 200_000 {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                let port = sentinel_master(&sentinels);
                match port.and_then(|p| Conn::connect(p).ok()) {
                    Some(c) => {
                        let _ = c.s.set_read_timeout(Some(Duration::from_secs(3)));
                        conn.insert(c)
                    }
                    None => {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                }
            }
        };
        n += 1;
        let key = format!("w:{n}");
        let val = n.to_string();
        out.lock().unwrap().attempted += 1;
        match c.try_cmd(&["SET", &key, &val]) {
            Ok(Frame::Simple(s)) if s == "OK" => {}
            Ok(_) => {
                // NOREPLICAS / READONLY: the node is not (or not yet) a writable master.
                out.lock().unwrap().refused += 1;
                conn = None;
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(_) => {
                conn = None;
                continue;
            }
        }
        match c.try_cmd(&["WAIT", "1", "1000"]) {
            Ok(Frame::Integer(k)) if k >= 1 => out.lock().unwrap().acked.push(n),
            Ok(_) => {}
            Err(_) => conn = None,
        }
    }
}

fn wait_for(what: &str, limit: Duration, logs: &dyn Fn() -> String, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}\n{}", logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

#[test]
fn sentinel_failover_loses_no_acknowledged_write() {
    let Some(bin) = redis_sentinel_binary() else {
        eprintln!("SKIPPED: redis-sentinel not found on PATH");
        return;
    };
    let load_ms: u64 = std::env::var("SENTINEL_LOAD_MS").ok().and_then(|s| s.parse().ok()).unwrap_or(1500);
    let test_start = Instant::now();
    let dirs: Vec<TempDir> = (0..4).map(|i| temp_dir(&format!("sf{i}"))).collect();
    // Every node refuses writes without a good replica: after the failover the new master has
    // the same setting.
    let common = ["--min-slaves-to-write", "1", "--min-slaves-max-lag", "10", "--repl-diskless-sync", "no"];
    let mut master = Server::ours(&dirs[0], &common);
    let pm = master.port;
    let pm_s = pm.to_string();
    let with_master = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = common.iter().map(|s| s.to_string()).collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let args = with_master(&["--slaveof", "127.0.0.1", &pm_s]);
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let r1 = Server::ours(&dirs[1], &args);
    let r2 = Server::ours(&dirs[2], &args);
    let replicas = [r1.port, r2.port];
    let no_logs = || String::new();
    wait_for("replicas in sync", Duration::from_secs(30), &no_logs, || replicas.iter().all(|&p| follows(p, pm)));

    let sentinels: Vec<Sentinel> = (0..3).map(|_| Sentinel::start(&bin, &dirs[3], pm)).collect();
    let sports: Vec<u16> = sentinels.iter().map(|s| s.port).collect();
    let all_logs = || {
        let mut s = String::new();
        for x in &sentinels {
            s.push_str(&format!("--- sentinel {}\n{}", x.port, x.log()));
        }
        for (name, srv) in [("r1", &r1), ("r2", &r2)] {
            s.push_str(&format!("--- {name}\n{}", srv.log()));
        }
        s
    };
    wait_for("sentinels to discover replicas and each other", Duration::from_secs(20), &all_logs, || {
        sentinels.iter().all(|s| {
            s.array_len(&["SENTINEL", "REPLICAS", "mymaster"]) == 2
                && s.array_len(&["SENTINEL", "SENTINELS", "mymaster"]) == 2
        })
    });

    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(Mutex::new(Load { acked: Vec::new(), attempted: 0, refused: 0 }));
    let loader = {
        let (sp, stop, stats) = (sports.clone(), stop.clone(), stats.clone());
        std::thread::spawn(move || load(sp, stop, stats))
    };
    std::thread::sleep(Duration::from_millis(load_ms));
    let acked_before_kill = stats.lock().unwrap().acked.len();
    assert!(acked_before_kill > 0, "no write acknowledged before the kill\n{}", all_logs());

    master.kill9();
    let killed_at = Instant::now();
    let mut promoted = 0u16;
    wait_for("a replica to be promoted", Duration::from_secs(30), &all_logs, || {
        promoted = replicas.iter().copied().find(|&p| is_master(p)).unwrap_or(0);
        promoted != 0
    });
    let to_promotion = killed_at.elapsed();
    let other = if promoted == r1.port { r2.port } else { r1.port };
    wait_for("the other replica to follow the new master", Duration::from_secs(20), &all_logs, || {
        follows(other, promoted)
    });
    wait_for("sentinels to announce the new master", Duration::from_secs(10), &all_logs, || {
        sentinel_master(&sports) == Some(promoted)
    });
    let to_reconfigured = killed_at.elapsed();

    // The old master comes back empty at its address: sentinel must make it a replica.
    master.spawn_on(pm);
    wait_for("the old master to rejoin as a replica", Duration::from_secs(20), &all_logs, || follows(pm, promoted));
    let to_rejoin = killed_at.elapsed();
    // A little more load against the new topology, then stop.
    let acked_at_rejoin = stats.lock().unwrap().acked.len();
    wait_for("writes acknowledged after the failover", Duration::from_secs(10), &all_logs, || {
        stats.lock().unwrap().acked.len() > acked_at_rejoin + 20
    });
    stop.store(true, Ordering::Relaxed);
    loader.join().unwrap();

    let stats = stats.lock().unwrap();
    let mut c = Conn::connect(promoted).unwrap();
    let mut lost = Vec::new();
    for &n in &stats.acked {
        match c.cmd(&["GET", &format!("w:{n}")]) {
            Frame::Bulk(v) if v == n.to_string().as_bytes() => {}
            _ => lost.push(n),
        }
    }
    // The two replicas of the new master hold the same data once caught up.
    let offset = |port: u16, field: &str| -> i64 {
        let Frame::Bulk(t) = Conn::connect(port).unwrap().cmd(&["INFO", "replication"]) else { panic!("INFO") };
        let t = String::from_utf8_lossy(&t).into_owned();
        t.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))?.trim().parse().ok()).unwrap_or(-1)
    };
    let master_off = offset(promoted, "master_repl_offset");
    wait_for("replicas to catch up", Duration::from_secs(20), &all_logs, || {
        [other, pm].iter().all(|&p| offset(p, "slave_repl_offset") >= master_off)
    });
    let size = c.int(&["DBSIZE"]);
    for p in [other, pm] {
        assert_eq!(Conn::connect(p).unwrap().int(&["DBSIZE"]), size, "replica {p} differs from the new master");
    }
    println!(
        "sentinel failover: promotion {:.2} s after SIGKILL, replicas reconfigured at {:.2} s, old master rejoined at {:.2} s; \
         writes attempted {}, refused {}, acknowledged {} ({} before the kill), acknowledged writes lost {}; test took {:.1} s",
        to_promotion.as_secs_f64(),
        to_reconfigured.as_secs_f64(),
        to_rejoin.as_secs_f64(),
        stats.attempted,
        stats.refused,
        stats.acked.len(),
        acked_before_kill,
        lost.len(),
        test_start.elapsed().as_secs_f64()
    );
    assert!(lost.is_empty(), "acknowledged writes lost: {:?}", &lost[..lost.len().min(20)]);
}
