//! Migrations under load through real codis-proxy processes, driven by our dashboard.
//!
//! Writers (support/load.rs) run through both proxies the whole time and check every reply; at
//! the end every key is read back. A sampler reads both proxies' `/proxy/slots` all along: two
//! proxies must never route a slot to different groups while neither has it locked or
//! migrating; after each step both tables equal `/topom/slots`.
//!
//! - `four_groups_two_proxies_{sync,semi_async}`: groups 1-3 hold 384/384/256 slots,
//!   rebalance; group 4 joins, rebalance; group 4's slots go back to group 1.
//! - `kill9_mid_migration_resumes`: the dashboard is killed with SIGKILL while slots migrate,
//!   restarted with `--remove-lock`; the migration resumes and completes, nothing lost.
//! - `second_dashboard_refuses_the_lock`.
//!
//! Knobs for bigger manual runs (support/load.rs): `MIG_WRITERS` (writer threads, default 2),
//! `MIG_KEYS` (keys per writer, default 64), `MIG_PAUSE_US` (pause between two writes of a
//! writer, default 1000), `MIG_SAMPLE_MS` (pause between two slot-table samples, default 100).

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use compat::models::Slot;
use support::load::*;
use support::peers::TempDir;
use support::*;

/// A slot entry that is neither locked nor migrating routes to a single group.
fn stable(s: &Slot) -> bool {
    !s.locked && s.migrate_from.is_empty()
}

/// Slots that two proxies route to different groups while neither has them locked or
/// migrating. `a1` and `a2` are the first proxy's table read before and after `b`, the
/// second's: only entries `a1` and `a2` agree on are compared (no step happened meanwhile).
fn disagreements(a1: &[Slot], b: &[Slot], a2: &[Slot]) -> Vec<String> {
    let mut bad = Vec::new();
    for ((x, y), x2) in a1.iter().zip(b).zip(a2) {
        let same = x.backend_addr_group_id == x2.backend_addr_group_id
            && x.locked == x2.locked
            && x.migrate_from == x2.migrate_from;
        if same && stable(x) && stable(y) && x.backend_addr_group_id != y.backend_addr_group_id {
            bad.push(format!(
                "slot {}: proxy 1 routes to group {} ({}), proxy 2 to group {} ({})",
                x.id, x.backend_addr_group_id, x.backend_addr, y.backend_addr_group_id, y.backend_addr
            ));
        }
    }
    bad
}

/// Samples every proxy's slot table while the test runs.
struct Sampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(u64, Vec<String>)>,
}

fn sampler(admins: Vec<String>) -> Sampler {
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let handle = std::thread::spawn(move || {
        let slots = |a: &str| -> Option<Vec<Slot>> {
            let r = http(a, "GET", "/proxy/slots", b"");
            serde_json::from_slice(&r.body).ok().filter(|v: &Vec<Slot>| v.len() == 1024)
        };
        let (mut samples, mut bad) = (0u64, Vec::new());
        while !s.load(Ordering::SeqCst) {
            // First, second, first again: a slot whose entry on the first proxy did not change
            // around the read of the second is compared with it.
            let (Some(a1), Some(b), Some(a2)) = (slots(&admins[0]), slots(&admins[1]), slots(&admins[0])) else {
                bad.push("a proxy did not answer /proxy/slots".to_string());
                std::thread::sleep(Duration::from_millis(100));
                continue;
            };
            samples += 1;
            bad.extend(disagreements(&a1, &b, &a2));
            // A debug proxy's table is ~100 KB of JSON: sample often, not flat out.
            std::thread::sleep(Duration::from_millis(knob("MIG_SAMPLE_MS", 100)));
        }
        (samples, bad)
    });
    Sampler { stop, handle }
}

impl Sampler {
    fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().expect("sampler panicked")
    }
}

/// One cluster at a time: on 2 cores, parallel clusters under load took longer in all than the
/// same tests one after the other (250 s against 130 s).
static ONE_CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Cluster {
    root: TempDir,
    servers: Vec<Proc>,
    proxies: Vec<ProxyProc>,
    d: Dashboard,
    coord: Coord,
    /// Last: released once the processes above are gone.
    _serial: std::sync::MutexGuard<'static, ()>,
}

impl Cluster {
    fn dash(&self) -> String {
        format!("--dashboard={}", self.d.addr())
    }

    fn admin(&self, args: &[&str]) -> String {
        let dash = self.dash();
        let mut all = vec![dash.as_str()];
        all.extend_from_slice(args);
        admin_ok(&all)
    }

    fn add_group(&self, gid: usize) {
        self.admin(&["--create-group", &format!("--gid={gid}")]);
        self.admin(&["--group-add", &format!("--gid={gid}"), &format!("--addr={}", self.servers[gid - 1].addr)]);
    }

    fn proxy_addrs(&self) -> Vec<String> {
        self.proxies.iter().map(|p| p.addr().to_string()).collect()
    }

    /// Slots per group, from the dashboard.
    fn slots_of(&self, gid: i64) -> usize {
        self.topom_slots().iter().filter(|s| s.backend_addr_group_id == gid).count()
    }

    fn topom_slots(&self) -> Vec<Slot> {
        serde_json::from_slice(&self.d.get("/topom/slots").body).expect("/topom/slots")
    }

    /// Waits for the slot actions to end, then every proxy's table must equal the dashboard's.
    fn settle(&self, step: &str, timeout: Duration) -> Duration {
        let t0 = Instant::now();
        self.d.wait_no_actions(timeout);
        let took = t0.elapsed();
        let want = serde_json::to_value(self.topom_slots()).unwrap();
        for (i, p) in self.proxies.iter().enumerate() {
            let got = serde_json::to_value(p.slots().expect("proxy slots")).unwrap();
            assert!(got == want, "{step}: proxy {} slot table differs from the dashboard's", i + 1);
        }
        eprintln!("{step}: settled in {took:?}");
        took
    }
}

/// Four servers, `groups` of them in groups, and two proxies registered with `--create-proxy`.
/// Two groups split the slots in halves; three hold 384/384/256 (a first rebalance that moves
/// a few slots only: every slot moved costs the same fillslots rounds, and CI runs debug builds).
fn cluster(method: &str, groups: usize) -> Cluster {
    let serial = ONE_CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let root = temp_dir("dash-mig");
    let coord = Coord { name: "filesystem", addr: root.0.join("coordinator").display().to_string() };
    let servers: Vec<Proc> = (0..4).map(|_| codis_server(&root.0)).collect();
    let d = dashboard(&root.0, &coord, &format!("migration_method = \"{method}\"\n"), &[]);
    let mut c = Cluster { root, servers, proxies: Vec::new(), d, coord, _serial: serial };
    for g in 1..=groups {
        c.add_group(g);
    }
    let ranges: &[(u32, u32)] = match groups {
        2 => &[(0, 511), (512, 1023)],
        3 => &[(0, 383), (384, 767), (768, 1023)],
        _ => panic!("clusters of 2 or 3 groups"),
    };
    for (g, (beg, end)) in ranges.iter().enumerate() {
        c.admin(&[
            "--slots-assign",
            &format!("--beg={beg}"),
            &format!("--end={end}"),
            &format!("--gid={}", g + 1),
            "--confirm",
        ]);
    }
    for _ in 0..2 {
        let p = codis_proxy(&c.root.0, "", &[]);
        c.admin(&["--create-proxy", &format!("--addr={}", p.admin)]);
        p.wait_online(Duration::from_secs(10));
        c.proxies.push(p);
    }
    c
}

fn four_groups(method: &str) {
    let t0 = Instant::now();
    let c = cluster(method, 3);
    c.settle("setup", Duration::from_secs(10));
    let w = writers(&c.proxy_addrs());
    let s = sampler(c.proxies.iter().map(|p| p.admin.clone()).collect());
    std::thread::sleep(Duration::from_millis(300));

    let before = c.topom_slots();
    let plan = c.admin(&["--rebalance", "--confirm"]);
    assert!(plan.ends_with("done\n") && plan.contains("=> 3"), "{plan}");
    let t1 = c.settle("rebalance over 3 groups", Duration::from_secs(120));
    let g3 = c.slots_of(3);
    assert!((341..=342).contains(&g3), "group 3 has {g3} slots");
    let moved =
        c.topom_slots().iter().zip(&before).filter(|(a, b)| a.backend_addr_group_id != b.backend_addr_group_id).count();

    c.add_group(4);
    let plan = c.admin(&["--rebalance", "--confirm"]);
    assert!(plan.contains("=> 4"), "{plan}");
    let t2 = c.settle("rebalance over 4 groups", Duration::from_secs(120));
    assert_eq!(c.slots_of(4), 256);

    c.admin(&["--slot-action", "--create-some", "--gid-from=4", "--gid-to=1", "--num-slots=1024"]);
    let t3 = c.settle("group 4 back to group 1", Duration::from_secs(120));
    assert_eq!(c.slots_of(4), 0);

    let reports = w.finish();
    let (samples, bad) = s.finish();
    let problems = check_writes(&reports, c.proxies[0].addr(), &c.topom_slots(), &c.servers);
    let total: u64 = reports.iter().map(Report::ops).sum();
    eprintln!(
        "{method}: {total} acknowledged writes through 2 proxies; slot moves: {moved} in \
         {t1:?}, 256 in {t2:?}, 256 in {t3:?}; {samples} slot-table samples, {} disagreements; {} problems; \
         test took {:?}",
        bad.len(),
        problems.len(),
        t0.elapsed()
    );
    assert!(bad.is_empty(), "proxies disagreed: {:?}", &bad[..bad.len().min(10)]);
    assert!(problems.is_empty(), "lost/duplicated/failed writes: {:#?}", &problems[..problems.len().min(20)]);
    assert!(total > 1000, "the writers made progress ({total})");
}

#[test]
fn disagreement_check_sees_split_routing() {
    let slot = |gid: i64, locked: bool, from: &str| Slot {
        id: 7,
        backend_addr: format!("127.0.0.1:{}", 6378 + gid),
        backend_addr_group_id: gid,
        locked,
        migrate_from: from.into(),
        ..Default::default()
    };
    let one = |s: Slot| vec![s];
    // Split routing of a settled slot is reported...
    assert_eq!(disagreements(&one(slot(1, false, "")), &one(slot(2, false, "")), &one(slot(1, false, ""))).len(), 1);
    // ...not while one side has it locked or migrating, nor when the first proxy moved meanwhile.
    assert!(disagreements(&one(slot(1, true, "")), &one(slot(2, false, "")), &one(slot(1, true, ""))).is_empty());
    let migrating = slot(2, false, "127.0.0.1:6379");
    assert!(disagreements(&one(slot(1, false, "")), &one(migrating), &one(slot(1, false, ""))).is_empty());
    assert!(disagreements(&one(slot(1, false, "")), &one(slot(2, false, "")), &one(slot(2, false, ""))).is_empty());
}

/// The writers' check finds a lost write and a repeated one (writers straight on one server).
#[test]
fn write_check_sees_lost_and_repeated_writes() {
    let root = temp_dir("dash-load");
    let server = codis_server(&root.0);
    let w = writers(std::slice::from_ref(&server.addr));
    std::thread::sleep(Duration::from_millis(500));
    let reports = w.finish();
    let slots: Vec<Slot> = (0..1024)
        .map(|i| Slot { id: i, backend_addr: server.addr.clone(), backend_addr_group_id: 1, ..Default::default() })
        .collect();
    let servers = [server];
    assert_eq!(check_writes(&reports, &servers[0].addr, &slots, &servers), Vec::<String>::new());
    redis(&servers[0].addr, &["INCR", "mig:0:0:n"]);
    redis(&servers[0].addr, &["RPOP", "mig:1:0:l"]);
    let problems = check_writes(&reports, &servers[0].addr, &slots, &servers);
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn four_groups_two_proxies_sync() {
    four_groups("sync");
}

#[test]
fn four_groups_two_proxies_semi_async() {
    four_groups("semi-async");
}

#[test]
fn kill9_mid_migration_resumes() {
    let t0 = Instant::now();
    let mut c = cluster("semi-async", 2);
    let w = writers(&c.proxy_addrs());
    c.admin(&["--slot-action", "--create-range", "--beg=0", "--end=199", "--gid=2"]);
    // Let some slots finish, then kill the dashboard in the middle of the run.
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.d.actions_left() > 150 {
        assert!(Instant::now() < deadline, "migration did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = c.d.actions_left();
    c.d.proc.kill9();
    assert!(before > 0, "killed before the end");

    // The lock stays: a new dashboard needs --remove-lock.
    let lock = std::path::Path::new(&c.coord.addr).join("data/codis3").join(PRODUCT).join("topom");
    assert!(lock.is_file(), "lock left by the killed dashboard");
    std::thread::sleep(Duration::from_millis(500));
    let port = c.d.proc.port();
    let (dir, config) = (c.d.proc.dir.clone(), c.d.config.clone());
    c.d = dashboard_with(&dir, &config, port, &["--remove-lock"]);
    c.settle("resumed migration", Duration::from_secs(120));
    let reports = w.finish();
    let moved = c.topom_slots().iter().filter(|s| s.id < 200 && s.backend_addr_group_id == 2).count();
    assert_eq!(moved, 200, "every slot of the range reached group 2");
    let problems = check_writes(&reports, c.proxies[1].addr(), &c.topom_slots(), &c.servers);
    let total: u64 = reports.iter().map(Report::ops).sum();
    eprintln!(
        "killed with {before} slot actions left; {total} writes, {} problems; test took {:?}",
        problems.len(),
        t0.elapsed()
    );
    assert!(problems.is_empty(), "lost/duplicated/failed writes: {:#?}", &problems[..problems.len().min(20)]);
}

#[test]
fn second_dashboard_refuses_the_lock() {
    let root = temp_dir("dash-lock");
    let coord = Coord { name: "filesystem", addr: root.0.join("coordinator").display().to_string() };
    let d = dashboard(&root.0, &coord, "", &[]);
    let port = free_port();
    let dir = root.0.join("second");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("dashboard.toml");
    std::fs::write(
        &config,
        format!(
            "coordinator_name = \"filesystem\"\ncoordinator_addr = \"{}\"\nadmin_addr = \"127.0.0.1:{port}\"\nproduct_name = \"{PRODUCT}\"\n",
            coord.addr
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("dashboard.log")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_codis-dashboard"))
        .arg(format!("--config={}", config.display()))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(dir.join("dashboard.log")).unwrap();
    assert!(text.contains("store: acquire lock of codis-demo failed"), "{text}");
    assert!(text.contains("dashboard online failed [0]"), "{text}");
    // The first dashboard still owns the product.
    let model: serde_json::Value = d.json("/topom/model");
    let lock = std::fs::read(std::path::Path::new(&coord.addr).join("data/codis3/codis-demo/topom")).unwrap();
    let lock: serde_json::Value = serde_json::from_slice(&lock).unwrap();
    assert_eq!(lock["token"], model["token"]);
}
