//! INFO: the sections and fields codis-server 3.2.11 prints (see
//! `e2_codis_server_6379_INFO_all.txt`), with real values where the server has them.
//!
//! Sections may be combined as in Redis 7 (`INFO server clients`); `default` is every section
//! but commandstats, `all` and `everything` add commandstats. Unknown sections give nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::cmd::{CmdResult, CommandTable, Ctx};
use crate::server::State;

/// Section names in output order, and whether `default` includes them.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("commandstats", false),
    ("cluster", true),
    ("keyspace", true),
];

pub fn info_command(ctx: &mut Ctx) -> CmdResult {
    let args: Vec<String> = ctx.args[1..].iter().map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).collect();
    let text = generate(ctx.state, &args);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// Which sections the arguments ask for.
fn selected(args: &[String]) -> Vec<&'static str> {
    let mut want = vec![false; SECTIONS.len()];
    if args.is_empty() {
        args_default(&mut want);
    }
    for a in args {
        match a.as_str() {
            "default" => args_default(&mut want),
            "all" | "everything" => want.iter_mut().for_each(|w| *w = true),
            name => {
                if let Some(i) = SECTIONS.iter().position(|(s, _)| *s == name) {
                    want[i] = true;
                }
            }
        }
    }
    SECTIONS.iter().zip(want).filter(|(_, w)| *w).map(|((s, _), _)| *s).collect()
}

fn args_default(want: &mut [bool]) {
    for (w, (_, def)) in want.iter_mut().zip(SECTIONS) {
        *w |= *def;
    }
}

/// The INFO text for the given (lower-case) arguments.
pub fn generate(state: &State, args: &[String]) -> String {
    let mut out = String::new();
    for (n, section) in selected(args).into_iter().enumerate() {
        if n > 0 {
            out.push_str("\r\n");
        }
        let body = match section {
            "server" => server(state),
            "clients" => clients(state),
            "memory" => memory(state),
            "persistence" => persistence(state),
            "stats" => stats(state),
            "replication" => replication(state),
            "cpu" => cpu(),
            "commandstats" => commandstats(state),
            "cluster" => "# Cluster\r\ncluster_enabled:0\r\n".to_string(),
            _ => keyspace(state),
        };
        out.push_str(&body);
    }
    out
}

/// Appends `name:value\r\n` lines.
macro_rules! fields {
    ($out:expr, $( $name:literal => $value:expr ),* $(,)?) => {{
        use std::fmt::Write as _;
        $( let _ = write!($out, concat!($name, ":{}\r\n"), $value); )*
    }};
}

fn server(state: &State) -> String {
    let mut s = String::from("# Server\r\n");
    let now = crate::util::now_ms();
    let uptime = (now - state.start_ms).max(0) / 1000;
    let exe = std::env::current_exe().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let config_file = state.config.config_file.as_ref().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    fields!(s,
        "redis_version" => crate::cmd::connection::REDIS_VERSION,
        "redis_git_sha1" => "00000000",
        "redis_git_dirty" => 0,
        "redis_build_id" => build_id(),
        "redis_mode" => "standalone",
        "os" => os_name(),
        "arch_bits" => usize::BITS,
        "multiplexing_api" => "epoll",
        // Not built with GCC: Redis prints 0.0.0 then.
        "gcc_version" => "0.0.0",
        "process_id" => std::process::id(),
        "run_id" => state.run_id,
        "tcp_port" => state.config.port,
        "uptime_in_seconds" => uptime,
        "uptime_in_days" => uptime / 86400,
        "hz" => state.config.hz,
        "lru_clock" => ((now / 1000) as u32) & 0xFF_FFFF,
        "executable" => exe,
        "config_file" => config_file,
    );
    s
}

fn clients(state: &State) -> String {
    let mut s = String::from("# Clients\r\n");
    let connected = state.clients.values().filter(|c| !c.is_replica).count();
    // Replies up to 16 KB sit in the static buffer; the rest in a list of 16 KB nodes.
    let longest_output =
        state.clients.values().map(|c| c.obuf.saturating_sub(16 * 1024).div_ceil(16 * 1024)).max().unwrap_or(0);
    let biggest_input = state.clients.values().map(|c| c.qbuf).max().unwrap_or(0);
    fields!(s,
        "connected_clients" => connected,
        "client_longest_output_list" => longest_output,
        "client_biggest_input_buf" => biggest_input,
        "blocked_clients" => state.blocking.count(),
    );
    s
}

fn memory(state: &State) -> String {
    let mut s = String::from("# Memory\r\n");
    let used = used_memory();
    let rss = rss_bytes();
    let peak = update_peak(used);
    let total = total_system_memory();
    let frag = if used > 0 { rss as f64 / used as f64 } else { 0.0 };
    fields!(s,
        "used_memory" => used,
        "used_memory_human" => bytes_to_human(used),
        "used_memory_rss" => rss,
        "used_memory_rss_human" => bytes_to_human(rss),
        "used_memory_peak" => peak,
        "used_memory_peak_human" => bytes_to_human(peak),
        "total_system_memory" => total,
        "total_system_memory_human" => bytes_to_human(total),
        // No Lua interpreter yet.
        "used_memory_lua" => state.scripting.used_memory(),
        "used_memory_lua_human" => bytes_to_human(state.scripting.used_memory() as u64),
        "maxmemory" => state.config.maxmemory,
        "maxmemory_human" => bytes_to_human(state.config.maxmemory),
        "maxmemory_policy" => state.config.maxmemory_policy,
        "mem_fragmentation_ratio" => format!("{frag:.2}"),
        "mem_allocator" => allocator_name(),
    );
    s
}

/// Redis 3.2's Persistence section; the `aof_*` details appear when AOF is on, as there.
fn persistence(state: &State) -> String {
    use crate::persist::ChildKind;
    let p = &state.persist;
    let ok = |b: bool| if b { "ok" } else { "err" };
    let mut s = String::from("# Persistence\r\n");
    fields!(s,
        "loading" => 0,
        "rdb_changes_since_last_save" => state.dirty,
        "rdb_bgsave_in_progress" => (p.child_kind() == Some(ChildKind::Rdb)) as u8,
        "rdb_last_save_time" => state.lastsave,
        "rdb_last_bgsave_status" => ok(p.rdb_last_bgsave_ok),
        "rdb_last_bgsave_time_sec" => p.rdb_last_bgsave_time_sec,
        "rdb_current_bgsave_time_sec" => p.current_child_secs(ChildKind::Rdb),
        "aof_enabled" => p.aof.is_some() as u8,
        "aof_rewrite_in_progress" => (p.child_kind() == Some(ChildKind::Aof)) as u8,
        "aof_rewrite_scheduled" => p.aof_rewrite_scheduled as u8,
        "aof_last_rewrite_time_sec" => p.aof_last_rewrite_time_sec,
        "aof_current_rewrite_time_sec" => p.current_child_secs(ChildKind::Aof),
        "aof_last_bgrewrite_status" => ok(p.aof_last_bgrewrite_ok),
        "aof_last_write_status" => ok(p.aof_last_write_error.is_none()),
    );
    if let Some(aof) = &p.aof {
        fields!(s,
            "aof_current_size" => aof.current_size,
            "aof_base_size" => aof.base_size,
            "aof_pending_rewrite" => p.aof_rewrite_scheduled as u8,
            "aof_buffer_length" => aof.pending_len(),
            "aof_rewrite_buffer_length" => aof.rewrite_buf.as_ref().map_or(0, |b| b.len()),
            "aof_pending_bio_fsync" => aof.fsync_in_progress() as u8,
            "aof_delayed_fsync" => aof.delayed_fsync,
        );
    }
    s
}

fn stats(state: &State) -> String {
    let mut s = String::from("# Stats\r\n");
    let st = &state.stats;
    let m = METRICS.lock();
    fields!(s,
        "total_connections_received" => st.total_connections,
        "total_commands_processed" => st.total_commands,
        "instantaneous_ops_per_sec" => m.ops.average(),
        "total_net_input_bytes" => st.net_input_bytes,
        "total_net_output_bytes" => st.net_output_bytes,
        "instantaneous_input_kbps" => format!("{:.2}", m.input.average() as f64 / 1024.0),
        "instantaneous_output_kbps" => format!("{:.2}", m.output.average() as f64 / 1024.0),
        "rejected_connections" => st.rejected_connections,
        "sync_full" => state.repl.sync_full,
        "sync_partial_ok" => state.repl.sync_partial_ok,
        "sync_partial_err" => state.repl.sync_partial_err,
        "expired_keys" => st.expired_keys,
        "evicted_keys" => st.evicted_keys,
        "keyspace_hits" => st.keyspace_hits,
        "keyspace_misses" => st.keyspace_misses,
        "pubsub_channels" => state.pubsub.channel_count(),
        "pubsub_patterns" => state.pubsub.numpat(),
        "latest_fork_usec" => crate::persist::latest_fork_usec(),
        "migrate_cached_sockets" => 0,
    );
    s
}

/// The replication section in 3.2's layout (see `repl::info`).
fn replication(state: &State) -> String {
    crate::repl::info(state)
}

fn cpu() -> String {
    let mut s = String::from("# CPU\r\n");
    let (self_sys, self_user) = rusage(libc::RUSAGE_SELF);
    let (child_sys, child_user) = rusage(libc::RUSAGE_CHILDREN);
    fields!(s,
        "used_cpu_sys" => format!("{self_sys:.2}"),
        "used_cpu_user" => format!("{self_user:.2}"),
        "used_cpu_sys_children" => format!("{child_sys:.2}"),
        "used_cpu_user_children" => format!("{child_user:.2}"),
    );
    s
}

fn commandstats(state: &State) -> String {
    use std::fmt::Write as _;
    let mut s = String::from("# Commandstats\r\n");
    let table = CommandTable::get();
    for (i, spec) in table.specs.iter().enumerate() {
        let Some(st) = state.stats.commands.get(i) else { continue };
        if st.calls == 0 {
            continue;
        }
        let per_call = st.usec as f64 / st.calls as f64;
        let _ = write!(s, "cmdstat_{}:calls={},usec={},usec_per_call={per_call:.2}\r\n", spec.name, st.calls, st.usec);
    }
    s
}

fn keyspace(state: &State) -> String {
    use std::fmt::Write as _;
    let mut s = String::from("# Keyspace\r\n");
    for (i, db) in state.dbs.iter().enumerate() {
        if !db.is_empty() {
            let _ = write!(s, "db{i}:keys={},expires={},avg_ttl=0\r\n", db.len(), db.volatile_len());
        }
    }
    s
}

/// Redis's `bytesToHuman`.
pub fn bytes_to_human(n: u64) -> String {
    const K: f64 = 1024.0;
    let d = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if d < K * K {
        format!("{:.2}K", d / K)
    } else if d < K * K * K {
        format!("{:.2}M", d / (K * K))
    } else if d < K * K * K * K {
        format!("{:.2}G", d / (K * K * K))
    } else if d < K * K * K * K * K {
        format!("{:.2}T", d / (K * K * K * K))
    } else if d < K * K * K * K * K * K {
        format!("{:.2}P", d / (K * K * K * K * K))
    } else {
        format!("{n}B")
    }
}

/// Bytes allocated through jemalloc (Redis's `zmalloc_used_memory`), from the counting
/// allocator (the same figure `maxmemory` is checked against).
pub fn used_memory() -> u64 {
    crate::evict::mem::used() as u64
}

/// Resident set size from /proc/self/statm.
pub fn rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64;
    pages * page
}

fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let (pages, size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    (pages.max(0) as u64) * (size.max(0) as u64)
}

fn allocator_name() -> String {
    let v = tikv_jemalloc_ctl::version::read().unwrap_or("unknown");
    format!("jemalloc-{}", v.split('-').next().unwrap_or(v))
}

/// `uname -s -r -m`, as Redis prints it.
fn os_name() -> String {
    // SAFETY: uname fills the struct; its fields are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "Linux".into();
        }
        let f = |b: &[libc::c_char]| std::ffi::CStr::from_ptr(b.as_ptr()).to_string_lossy().into_owned();
        format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
    }
}

/// A stable 16-hex-digit id of this build (Redis prints a hash of its build environment).
fn build_id() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in concat!("rcodis-", env!("CARGO_PKG_VERSION")).bytes() {
        h = (h ^ b as u64).wrapping_mul(0x1000_0000_01b3);
    }
    format!("{h:016x}")
}

/// (system, user) CPU seconds.
fn rusage(who: libc::c_int) -> (f64, f64) {
    // SAFETY: getrusage fills the struct.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut ru);
        ru
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

static PEAK: AtomicU64 = AtomicU64::new(0);

fn update_peak(used: u64) -> u64 {
    PEAK.fetch_max(used, Ordering::Relaxed).max(used)
}

/// One instantaneous metric: per-second rates sampled every 100 ms into a ring of 16, as
/// Redis's `trackInstantaneousMetric`.
struct InstMetric {
    samples: [u64; 16],
    idx: usize,
    last_ms: i64,
    last_value: u64,
}

impl InstMetric {
    const fn new() -> InstMetric {
        InstMetric { samples: [0; 16], idx: 0, last_ms: 0, last_value: 0 }
    }

    fn track(&mut self, now_ms: i64, value: u64) {
        let t = now_ms - self.last_ms;
        let delta = value.saturating_sub(self.last_value);
        let rate = if t > 0 && self.last_ms != 0 { delta * 1000 / t as u64 } else { 0 };
        self.samples[self.idx] = rate;
        self.idx = (self.idx + 1) % self.samples.len();
        self.last_ms = now_ms;
        self.last_value = value;
    }

    fn average(&self) -> u64 {
        self.samples.iter().sum::<u64>() / self.samples.len() as u64
    }
}

struct Metrics {
    ops: InstMetric,
    input: InstMetric,
    output: InstMetric,
    last_sample_ms: i64,
}

static METRICS: Mutex<Metrics> = parking_lot::const_mutex(Metrics {
    ops: InstMetric::new(),
    input: InstMetric::new(),
    output: InstMetric::new(),
    last_sample_ms: 0,
});

/// Called from the server cron (every 1/hz s): samples the instantaneous metrics every 100 ms
/// and tracks the memory peak.
pub fn cron_sample(state: &State) {
    let now = crate::util::now_ms();
    let mut m = METRICS.lock();
    if now - m.last_sample_ms < 100 {
        return;
    }
    m.last_sample_ms = now;
    m.ops.track(now, state.stats.total_commands);
    m.input.track(now, state.stats.net_input_bytes);
    m.output.track(now, state.stats.net_output_bytes);
    drop(m);
    update_peak(used_memory());
}

/// CONFIG RESETSTAT: clears the counters INFO reports.
pub fn reset_stats(state: &mut State) {
    let n = state.stats.commands.len();
    state.stats = crate::server::Stats { commands: vec![Default::default(); n], ..Default::default() };
    let mut m = METRICS.lock();
    m.ops = InstMetric::new();
    m.input = InstMetric::new();
    m.output = InstMetric::new();
    PEAK.store(0, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::server::test_util::*;

    /// Field names of every section, from `e2_codis_server_6379_INFO_all.txt` (a master) and
    /// the replica's recording.
    const RECORDED: &[(&str, &[&str])] = &[
        (
            "Server",
            &[
                "redis_version",
                "redis_git_sha1",
                "redis_git_dirty",
                "redis_build_id",
                "redis_mode",
                "os",
                "arch_bits",
                "multiplexing_api",
                "gcc_version",
                "process_id",
                "run_id",
                "tcp_port",
                "uptime_in_seconds",
                "uptime_in_days",
                "hz",
                "lru_clock",
                "executable",
                "config_file",
            ],
        ),
        (
            "Clients",
            &["connected_clients", "client_longest_output_list", "client_biggest_input_buf", "blocked_clients"],
        ),
        (
            "Memory",
            &[
                "used_memory",
                "used_memory_human",
                "used_memory_rss",
                "used_memory_rss_human",
                "used_memory_peak",
                "used_memory_peak_human",
                "total_system_memory",
                "total_system_memory_human",
                "used_memory_lua",
                "used_memory_lua_human",
                "maxmemory",
                "maxmemory_human",
                "maxmemory_policy",
                "mem_fragmentation_ratio",
                "mem_allocator",
            ],
        ),
        (
            "Persistence",
            &[
                "loading",
                "rdb_changes_since_last_save",
                "rdb_bgsave_in_progress",
                "rdb_last_save_time",
                "rdb_last_bgsave_status",
                "rdb_last_bgsave_time_sec",
                "rdb_current_bgsave_time_sec",
                "aof_enabled",
                "aof_rewrite_in_progress",
                "aof_rewrite_scheduled",
                "aof_last_rewrite_time_sec",
                "aof_current_rewrite_time_sec",
                "aof_last_bgrewrite_status",
                "aof_last_write_status",
            ],
        ),
        (
            "Stats",
            &[
                "total_connections_received",
                "total_commands_processed",
                "instantaneous_ops_per_sec",
                "total_net_input_bytes",
                "total_net_output_bytes",
                "instantaneous_input_kbps",
                "instantaneous_output_kbps",
                "rejected_connections",
                "sync_full",
                "sync_partial_ok",
                "sync_partial_err",
                "expired_keys",
                "evicted_keys",
                "keyspace_hits",
                "keyspace_misses",
                "pubsub_channels",
                "pubsub_patterns",
                "latest_fork_usec",
                "migrate_cached_sockets",
            ],
        ),
        (
            "Replication",
            &[
                "role",
                "connected_slaves",
                "master_repl_offset",
                "repl_backlog_active",
                "repl_backlog_size",
                "repl_backlog_first_byte_offset",
                "repl_backlog_histlen",
            ],
        ),
        ("CPU", &["used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children"]),
        ("Commandstats", &[]),
        ("Cluster", &["cluster_enabled"]),
        ("Keyspace", &[]),
    ];

    fn parse_sections(text: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
        assert!(text.ends_with("\r\n"));
        for line in text.split("\r\n") {
            if let Some(name) = line.strip_prefix("# ") {
                out.push((name.to_string(), Vec::new()));
            } else if let Some((k, v)) = line.split_once(':') {
                out.last_mut().unwrap().1.push((k.to_string(), v.to_string()));
            }
        }
        out
    }

    #[test]
    fn all_sections_have_the_recorded_fields_in_order() {
        let mut st = state();
        let mut c = client(&mut st, 1);
        run(&mut st, &mut c, &["set", "k", "v"]);
        let text = generate(&st, &["all".to_string()]);
        let sections = parse_sections(&text);
        let names: Vec<&str> = sections.iter().map(|(n, _)| n.as_str()).collect();
        let expected: Vec<&str> = RECORDED.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, expected);
        for ((name, fields), (_, rec)) in sections.iter().zip(RECORDED) {
            if rec.is_empty() {
                continue;
            }
            let mut got: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
            if name == "Replication" {
                // 3.2's fields come first; the PSYNC2 ids follow.
                assert_eq!(&got[rec.len()..], &["master_replid", "master_replid2", "second_repl_offset"]);
                got.truncate(rec.len());
            }
            assert_eq!(&got, rec, "section {name}");
        }
        // Sections are separated by one blank line.
        assert!(text.contains("config_file:\r\n\r\n# Clients\r\n"));
        let get = |sec: &str, k: &str| {
            sections.iter().find(|(n, _)| n == sec).unwrap().1.iter().find(|(f, _)| f == k).unwrap().1.clone()
        };
        assert_eq!(get("Server", "redis_version"), "3.2.11");
        assert_eq!(get("Server", "tcp_port"), "6379");
        assert_eq!(get("Server", "process_id"), std::process::id().to_string());
        assert!(get("Memory", "used_memory").parse::<u64>().unwrap() > 0);
        assert!(get("Memory", "mem_allocator").starts_with("jemalloc-5."));
        assert_eq!(get("Keyspace", "db0"), "keys=1,expires=0,avg_ttl=0");
        assert_eq!(get("Stats", "total_commands_processed"), "1");
        assert_eq!(get("Clients", "connected_clients"), "1");
        assert!(get("Commandstats", "cmdstat_set").starts_with("calls=1,usec="));
        assert_eq!(get("Replication", "role"), "master");
    }

    #[test]
    fn section_selection() {
        let st = state();
        let heads = |args: &[&str]| -> Vec<String> {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            parse_sections(&generate(&st, &args)).into_iter().map(|(n, _)| n).collect()
        };
        let default =
            vec!["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Cluster", "Keyspace"];
        assert_eq!(heads(&[]), default);
        assert_eq!(heads(&["default"]), default);
        assert_eq!(heads(&["everything"]).len(), 10);
        assert_eq!(heads(&["keyspace", "server"]), vec!["Server", "Keyspace"]);
        assert_eq!(heads(&["commandstats"]), vec!["Commandstats"]);
        assert_eq!(generate(&st, &["foo".to_string()]), "");
        assert_eq!(generate(&st, &["cluster".to_string()]), "# Cluster\r\ncluster_enabled:0\r\n");
    }

    #[test]
    fn info_reply_is_bulk_or_verbatim() {
        let mut st = state();
        let mut c = client(&mut st, 1);
        let r = run(&mut st, &mut c, &["INFO", "CLUSTER"]);
        assert_eq!(r, "$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n");
        c.resp3 = true;
        let r = run(&mut st, &mut c, &["info", "cluster"]);
        assert_eq!(r, "=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n");
        let r = run(&mut st, &mut c, &["info", "nosuchsection"]);
        assert_eq!(r, "=4\r\ntxt:\r\n");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(45056), "44.00K");
        assert_eq!(bytes_to_human(6496040), "6.20M");
        assert_eq!(bytes_to_human(25274793984), "23.54G");
    }

    #[test]
    fn instantaneous_metric() {
        let mut m = InstMetric::new();
        m.track(1000, 0);
        for i in 1..=16 {
            m.track(1000 + i * 100, i as u64 * 10);
        }
        assert_eq!(m.average(), 100);
    }
}
