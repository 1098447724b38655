//! Server configuration: `redis.conf` parsing and command-line overrides, and the operations
//! behind CONFIG GET/SET/REWRITE.
//!
//! Every directive lives in the registry ([`table::DIRECTIVES`]). Its current value is kept as
//! the text CONFIG GET shows (`Config::values`, one entry per directive); the fields other
//! modules read (`port`, `hz`, `save` ...) are typed copies refreshed whenever a value changes.

pub mod logging;
pub mod rewrite;
pub mod table;
pub mod values;

use std::path::{Path, PathBuf};

use table::{Directive, Kind, Special, DIRECTIVES};
pub use values::BufferLimit;

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Absolute path of the configuration file (None without one, or when read from stdin).
    pub config_file: Option<PathBuf>,
    pub port: u16,
    /// Listening addresses; empty means every interface.
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub requirepass: Option<Vec<u8>>,
    pub masterauth: Option<Vec<u8>>,
    pub masteruser: Option<String>,
    pub databases: usize,
    /// The working directory (absolute once the server has changed into it).
    pub dir: PathBuf,
    pub dbfilename: String,
    pub logfile: String,
    pub loglevel: String,
    pub pidfile: Option<PathBuf>,
    pub daemonize: bool,
    pub supervised: String,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub tcp_backlog: u32,
    pub maxclients: usize,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: u32,
    /// Clamped to 1..=500.
    pub hz: u32,
    pub proto_max_bulk_len: usize,
    pub client_query_buffer_limit: usize,
    /// Encoding thresholds (OBJECT ENCODING answers follow them, as in Redis).
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub list_max_listpack_size: i64,
    pub list_compress_depth: i64,
    pub hll_sparse_max_bytes: usize,
    /// `notify-keyspace-events` in canonical letter order (empty = off).
    pub notify_keyspace_events: String,
    /// The same as flags (`values::notify::*`).
    pub notify_keyspace_flags: u32,
    /// RDB save points `(seconds, changes)`; empty = no automatic saves.
    pub save: Vec<(u64, u64)>,
    pub stop_writes_on_bgsave_error: bool,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    /// `rdb-version`: 7 (codis-server 3.2) or 10 (Redis 7.0) for the RDB files we write.
    pub rdb_version: u32,
    /// `dump-payload-version`: 7 or 10, the format of DUMP payloads.
    pub dump_payload_version: u32,
    pub appendonly: bool,
    pub appendfsync: String,
    pub appendfilename: String,
    /// `replicaof host port` from the configuration.
    pub replicaof: Option<(String, u16)>,
    pub repl_backlog_size: u64,
    pub repl_backlog_ttl: u64,
    pub repl_timeout: u64,
    pub repl_ping_replica_period: u64,
    pub repl_diskless_sync: bool,
    pub repl_diskless_sync_delay: u64,
    pub repl_disable_tcp_nodelay: bool,
    pub replica_serve_stale_data: bool,
    pub replica_read_only: bool,
    pub replica_priority: u64,
    pub replica_announce_ip: String,
    pub replica_announce_port: u16,
    pub min_replicas_to_write: u64,
    pub min_replicas_max_lag: u64,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    pub latency_monitor_threshold: u64,
    /// `lua-time-limit` (`busy-reply-threshold`) in ms.
    pub lua_time_limit: u64,
    pub activerehashing: bool,
    pub lazyfree_lazy_user_del: bool,
    pub lazyfree_lazy_user_flush: bool,
    /// normal, replica, pubsub.
    pub client_output_buffer_limits: [BufferLimit; 3],
    /// `no`, `yes` or `local`.
    pub enable_debug_command: String,
    pub enable_protected_configs: String,
    /// `rename-command old new` pairs in file order (old lower case; new empty = disabled).
    pub rename_commands: Vec<(String, String)>,
    /// Every directive's value as CONFIG GET shows it, indexed like `table::DIRECTIVES`.
    pub values: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        let mut cfg = Config {
            config_file: None,
            port: 6379,
            bind: Vec::new(),
            protected_mode: true,
            requirepass: None,
            masterauth: None,
            masteruser: None,
            databases: 16,
            dir: PathBuf::from("."),
            dbfilename: "dump.rdb".into(),
            logfile: String::new(),
            loglevel: "notice".into(),
            pidfile: None,
            daemonize: false,
            supervised: "no".into(),
            timeout: 0,
            tcp_keepalive: 300,
            tcp_backlog: 511,
            maxclients: 10000,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            maxmemory_samples: 5,
            hz: 10,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            hll_sparse_max_bytes: 3000,
            notify_keyspace_events: String::new(),
            notify_keyspace_flags: 0,
            save: vec![(3600, 1), (300, 100), (60, 10000)],
            stop_writes_on_bgsave_error: true,
            rdbcompression: true,
            rdbchecksum: true,
            rdb_version: 7,
            dump_payload_version: 7,
            appendonly: false,
            appendfsync: "everysec".into(),
            appendfilename: "appendonly.aof".into(),
            replicaof: None,
            repl_backlog_size: 1024 * 1024,
            repl_backlog_ttl: 3600,
            repl_timeout: 60,
            repl_ping_replica_period: 10,
            repl_diskless_sync: true,
            repl_diskless_sync_delay: 5,
            repl_disable_tcp_nodelay: false,
            replica_serve_stale_data: true,
            replica_read_only: true,
            replica_priority: 100,
            replica_announce_ip: String::new(),
            replica_announce_port: 0,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            lua_time_limit: 5000,
            activerehashing: true,
            lazyfree_lazy_user_del: false,
            lazyfree_lazy_user_flush: false,
            client_output_buffer_limits: [
                BufferLimit::default(),
                BufferLimit { hard: 256 << 20, soft: 64 << 20, soft_seconds: 60 },
                BufferLimit { hard: 32 << 20, soft: 8 << 20, soft_seconds: 60 },
            ],
            enable_debug_command: "yes".into(),
            enable_protected_configs: "no".into(),
            rename_commands: Vec::new(),
            values: DIRECTIVES.iter().map(|d| d.default.to_string()).collect(),
        };
        // The typed fields above mirror the table's defaults; make sure they agree.
        for i in 0..DIRECTIVES.len() {
            cfg.sync_typed(i);
        }
        cfg
    }
}

/// A configuration error at a given line (what Redis prints before exiting).
fn fatal_at_line(lineno: usize, line: &str, why: &str) -> String {
    // Redis 3.2's header (Redis 7 adds "(Redis 7.0.x)" after ERROR).
    format!("\n*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line {lineno}\n>>> '{line}'\n{why}")
}

const BAD_DIRECTIVE: &str = "Bad directive or wrong number of arguments";

/// State of one load (a file and everything it includes).
struct Loader {
    /// Perform side effects: change directory on `dir`, read `include`d files, check that the
    /// log file can be opened. Off in unit tests.
    live: bool,
    /// Whether a `save` line was seen (the first one replaces the defaults).
    save_seen: bool,
    depth: usize,
}

impl Config {
    /// Builds the configuration from `codis-server [file|-] [--directive value ...] [-]`,
    /// like Redis's `main`: the file (or stdin) first, then the options as extra lines.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut cfg = Config::default();
        let CommandLine { file, from_stdin, options } = CommandLine::parse(args);
        let mut text = String::new();
        if let Some(f) = &file {
            text = std::fs::read_to_string(f).map_err(|e| can_not_open(f, &e))?;
            let abs = std::path::absolute(f).unwrap_or_else(|_| PathBuf::from(f));
            cfg.config_file = Some(abs);
        }
        if from_stdin {
            use std::io::Read;
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| format!("Reading config from stdin failed: {e}"))?;
            text.push_str(&s);
        }
        if !options.is_empty() {
            text.push('\n');
            text.push_str(&options);
        }
        let mut loader = Loader { live: true, save_seen: false, depth: 0 };
        cfg.load_text(&text, &mut loader)?;
        cfg.finish_live()?;
        Ok(cfg)
    }

    /// Parses configuration text without side effects (no chdir, no includes): for tests and
    /// tools.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn parse_str(text: &str) -> Result<Config, String> {
        let mut cfg = Config::default();
        let mut loader = Loader { live: false, save_seen: false, depth: 0 };
        cfg.load_text(text, &mut loader)?;
        Ok(cfg)
    }

    /// After a live load: the directory is absolute, the log file can be written.
    fn finish_live(&mut self) -> Result<(), String> {
        if let Ok(cwd) = std::env::current_dir() {
            self.dir = cwd;
        }
        Ok(())
    }

    fn load_text(&mut self, text: &str, loader: &mut Loader) -> Result<(), String> {
        for (i, raw) in text.split('\n').enumerate() {
            let lineno = i + 1;
            let line = raw.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some(words) = compat::resp::split_args(line.as_bytes()) else {
                return Err(fatal_at_line(lineno, line, "Unbalanced quotes in configuration line"));
            };
            if words.is_empty() {
                continue;
            }
            let words: Vec<String> = words.into_iter().map(|w| String::from_utf8_lossy(&w).into_owned()).collect();
            self.load_line(&words, loader).map_err(|e| match e {
                LineError::Fatal(msg) => msg,
                LineError::Bad(why) => fatal_at_line(lineno, line, &why),
            })?;
        }
        Ok(())
    }

    fn load_line(&mut self, words: &[String], loader: &mut Loader) -> Result<(), LineError> {
        let Some(idx) = table::lookup(&words[0]) else {
            return Err(LineError::Bad(BAD_DIRECTIVE.into()));
        };
        let d = &DIRECTIVES[idx];
        let args = &words[1..];
        match d.kind {
            Kind::Special(Special::Include) => {
                if args.len() != 1 {
                    return Err(LineError::Bad(BAD_DIRECTIVE.into()));
                }
                if loader.live {
                    if loader.depth >= 16 {
                        return Err(LineError::Bad("Too many nested include directives".into()));
                    }
                    let text =
                        std::fs::read_to_string(&args[0]).map_err(|e| LineError::Fatal(can_not_open(&args[0], &e)))?;
                    loader.depth += 1;
                    let r = self.load_text(&text, loader);
                    loader.depth -= 1;
                    r.map_err(LineError::Fatal)?;
                }
                Ok(())
            }
            Kind::Special(Special::RenameCommand) => {
                if args.len() != 2 {
                    return Err(LineError::Bad(BAD_DIRECTIVE.into()));
                }
                let table = crate::cmd::CommandTable::get();
                if table.lookup(args[0].as_bytes()).is_none() {
                    return Err(LineError::Bad("No such command in rename-command".into()));
                }
                if !args[1].is_empty() && table.lookup(args[1].as_bytes()).is_some() {
                    return Err(LineError::Bad("Target command name already exists".into()));
                }
                self.rename_commands.push((args[0].to_ascii_lowercase(), args[1].clone()));
                Ok(())
            }
            Kind::Special(Special::User) => Err(LineError::Bad("ACL users are not supported (use requirepass)".into())),
            Kind::Special(Special::LoadModule) => Err(LineError::Bad("Modules are not supported".into())),
            Kind::Special(Special::Sentinel) => {
                Err(LineError::Bad("sentinel directive while not in sentinel mode".into()))
            }
            Kind::Special(Special::Deprecated) => Ok(()),
            _ => {
                let split;
                let args = if d.has(table::MULTI_ARG) && args.len() == 1 && !args[0].is_empty() {
                    // `--save "900 1 300 10"`: one argument holding several.
                    split = compat::resp::split_args(args[0].as_bytes())
                        .map(|w| w.into_iter().map(|w| String::from_utf8_lossy(&w).into_owned()).collect::<Vec<_>>())
                        .unwrap_or_else(|| args.to_vec());
                    &split[..]
                } else {
                    args
                };
                self.set_value(idx, args, Some(loader)).map_err(LineError::Bad)?;
                if d.name == "cluster-enabled" && self.values[idx] == "yes" {
                    return Err(LineError::Bad("Cluster mode is not supported by codis-server".into()));
                }
                if d.name == "logfile" && loader.live && !self.logfile.is_empty() {
                    if let Err(e) = std::fs::OpenOptions::new().create(true).append(true).open(&self.logfile) {
                        return Err(LineError::Bad(format!("Can't open the log file: {}", values::strerror(&e))));
                    }
                }
                if d.name == "aclfile" && !self.values[idx].is_empty() {
                    return Err(LineError::Bad("ACL files are not supported (use requirepass)".into()));
                }
                Ok(())
            }
        }
    }

    /// Validates and stores a directive's value. `loader` is Some while reading a file (then
    /// `save` lines accumulate, `dir` changes directory when live) and None for CONFIG SET.
    fn set_value(&mut self, idx: usize, args: &[String], loader: Option<&mut Loader>) -> Result<(), String> {
        let d = &DIRECTIVES[idx];
        let live = loader.as_ref().is_none_or(|l| l.live);
        let value = match d.kind {
            Kind::Special(Special::Save) => {
                let points = values::parse_save(args)?;
                match loader {
                    Some(l) => {
                        if !l.save_seen {
                            l.save_seen = true;
                            self.save.clear();
                        }
                        if points.is_empty() {
                            self.save.clear();
                        }
                        // A point already present adds nothing (an included stock file and the
                        // file including it often repeat the same lines).
                        for p in points {
                            if !self.save.contains(&p) {
                                self.save.push(p);
                            }
                        }
                    }
                    None => self.save = points,
                }
                values::format_save(&self.save)
            }
            Kind::Special(Special::ClientOutputBufferLimit) => {
                for (class, limit) in values::parse_buffer_limits(args)? {
                    self.client_output_buffer_limits[class] = limit;
                }
                values::format_buffer_limits(&self.client_output_buffer_limits)
            }
            Kind::Special(Special::Dir) => {
                let v = values::normalize_special(Special::Dir, args)?;
                if live {
                    std::env::set_current_dir(&v).map_err(|e| values::strerror(&e))?;
                    std::env::current_dir().map(|p| p.to_string_lossy().into_owned()).unwrap_or(v)
                } else {
                    v
                }
            }
            Kind::Special(sp) => values::normalize_special(sp, args)?,
            kind => {
                if args.len() != 1 {
                    return Err("wrong number of arguments".into());
                }
                let mut v = values::normalize_single(kind, &args[0])?;
                if d.name == "hz" {
                    v = v.parse::<i64>().unwrap_or(10).clamp(1, 500).to_string();
                }
                v
            }
        };
        self.values[idx] = value;
        self.sync_typed(idx);
        Ok(())
    }

    /// Refreshes the typed field that mirrors directive `idx`.
    fn sync_typed(&mut self, idx: usize) {
        let v = self.values[idx].as_str();
        let num = || v.parse::<i64>().unwrap_or(0);
        let unum = || v.parse::<u64>().unwrap_or(0);
        let yes = || v == "yes";
        let opt_bytes = || (!v.is_empty()).then(|| v.as_bytes().to_vec());
        match DIRECTIVES[idx].name {
            "port" => self.port = num() as u16,
            "bind" => self.bind = v.split(' ').filter(|s| !s.is_empty()).map(String::from).collect(),
            "protected-mode" => self.protected_mode = yes(),
            "requirepass" => self.requirepass = opt_bytes(),
            "masterauth" => self.masterauth = opt_bytes(),
            "masteruser" => self.masteruser = (!v.is_empty()).then(|| v.to_string()),
            "databases" => self.databases = num() as usize,
            "dir" if !v.is_empty() => self.dir = PathBuf::from(v),
            "dbfilename" => self.dbfilename = v.to_string(),
            "logfile" => self.logfile = v.to_string(),
            "loglevel" => self.loglevel = v.to_string(),
            "pidfile" => self.pidfile = (!v.is_empty()).then(|| PathBuf::from(v)),
            "daemonize" => self.daemonize = yes(),
            "supervised" => self.supervised = v.to_string(),
            "timeout" => self.timeout = unum(),
            "tcp-keepalive" => self.tcp_keepalive = unum(),
            "tcp-backlog" => self.tcp_backlog = unum() as u32,
            "maxclients" => self.maxclients = unum() as usize,
            "maxmemory" => self.maxmemory = unum(),
            "maxmemory-policy" => self.maxmemory_policy = v.to_string(),
            "maxmemory-samples" => self.maxmemory_samples = unum() as u32,
            "hz" => self.hz = unum().clamp(1, 500) as u32,
            "proto-max-bulk-len" => self.proto_max_bulk_len = unum() as usize,
            "client-query-buffer-limit" => self.client_query_buffer_limit = unum() as usize,
            "hash-max-listpack-entries" => self.hash_max_listpack_entries = unum() as usize,
            "hash-max-listpack-value" => self.hash_max_listpack_value = unum() as usize,
            "set-max-intset-entries" => self.set_max_intset_entries = unum() as usize,
            "zset-max-listpack-entries" => self.zset_max_listpack_entries = unum() as usize,
            "zset-max-listpack-value" => self.zset_max_listpack_value = unum() as usize,
            "list-max-listpack-size" => self.list_max_listpack_size = num(),
            "list-compress-depth" => self.list_compress_depth = num(),
            "hll-sparse-max-bytes" => self.hll_sparse_max_bytes = unum() as usize,
            "notify-keyspace-events" => {
                self.notify_keyspace_events = v.to_string();
                self.notify_keyspace_flags = values::parse_notify_flags(v).unwrap_or(0);
            }
            "stop-writes-on-bgsave-error" => self.stop_writes_on_bgsave_error = yes(),
            "rdbcompression" => self.rdbcompression = yes(),
            "rdbchecksum" => self.rdbchecksum = yes(),
            "rdb-version" => self.rdb_version = unum() as u32,
            "dump-payload-version" => self.dump_payload_version = unum() as u32,
            "appendonly" => self.appendonly = yes(),
            "appendfsync" => self.appendfsync = v.to_string(),
            "appendfilename" => self.appendfilename = v.to_string(),
            "replicaof" => {
                self.replicaof = v.split_once(' ').and_then(|(h, p)| Some((h.to_string(), p.parse().ok()?)));
            }
            "repl-backlog-size" => self.repl_backlog_size = unum(),
            "repl-backlog-ttl" => self.repl_backlog_ttl = unum(),
            "repl-timeout" => self.repl_timeout = unum(),
            "repl-ping-replica-period" => self.repl_ping_replica_period = unum(),
            "repl-diskless-sync" => self.repl_diskless_sync = yes(),
            "repl-diskless-sync-delay" => self.repl_diskless_sync_delay = unum(),
            "repl-disable-tcp-nodelay" => self.repl_disable_tcp_nodelay = yes(),
            "replica-serve-stale-data" => self.replica_serve_stale_data = yes(),
            "replica-read-only" => self.replica_read_only = yes(),
            "replica-priority" => self.replica_priority = unum(),
            "replica-announce-ip" => self.replica_announce_ip = v.to_string(),
            "replica-announce-port" => self.replica_announce_port = num() as u16,
            "min-replicas-to-write" => self.min_replicas_to_write = unum(),
            "min-replicas-max-lag" => self.min_replicas_max_lag = unum(),
            "slowlog-log-slower-than" => self.slowlog_log_slower_than = num(),
            "slowlog-max-len" => self.slowlog_max_len = unum(),
            "latency-monitor-threshold" => self.latency_monitor_threshold = unum(),
            "busy-reply-threshold" => self.lua_time_limit = unum(),
            "activerehashing" => self.activerehashing = yes(),
            "lazyfree-lazy-user-del" => self.lazyfree_lazy_user_del = yes(),
            "lazyfree-lazy-user-flush" => self.lazyfree_lazy_user_flush = yes(),
            "enable-debug-command" => self.enable_debug_command = v.to_string(),
            "enable-protected-configs" => self.enable_protected_configs = v.to_string(),
            "save" => {
                if let Ok(p) =
                    values::parse_save(&v.split(' ').filter(|s| !s.is_empty()).map(String::from).collect::<Vec<_>>())
                {
                    self.save = p;
                }
            }
            "client-output-buffer-limit" => {
                let words: Vec<String> = v.split(' ').map(String::from).collect();
                if let Ok(limits) = values::parse_buffer_limits(&words) {
                    for (class, l) in limits {
                        self.client_output_buffer_limits[class] = l;
                    }
                }
            }
            _ => {}
        }
    }

    /// The value of a directive (any of its names) as CONFIG GET shows it.
    pub fn get(&self, name: &str) -> Option<String> {
        let idx = table::lookup_runtime(name)?;
        DIRECTIVES[idx].is_config().then(|| self.display(idx))
    }

    /// A directive's value as CONFIG GET shows it.
    pub fn display(&self, idx: usize) -> String {
        if DIRECTIVES[idx].kind == Kind::Special(Special::Dir) {
            if let Ok(cwd) = std::env::current_dir() {
                return cwd.to_string_lossy().into_owned();
            }
        }
        self.values[idx].clone()
    }

    /// CONFIG GET: `(name, value)` for every directive matching any pattern. A pattern
    /// without glob characters is an exact (case-insensitive) name and is answered with the
    /// name as given; patterns match canonical names and aliases, never hidden directives.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for pat in patterns {
            if !pat.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
                let name = String::from_utf8_lossy(pat).into_owned();
                if out.iter().any(|(n, _)| *n == name) {
                    continue;
                }
                if let Some(idx) = table::lookup_runtime(&name) {
                    if DIRECTIVES[idx].is_config() {
                        out.push((name, self.display(idx)));
                    }
                }
                continue;
            }
            for (idx, d) in DIRECTIVES.iter().enumerate() {
                if !d.is_config() || d.has(table::HIDDEN) {
                    continue;
                }
                for name in std::iter::once(&d.name).chain(d.aliases.iter()) {
                    if crate::util::glob_match(pat, name.as_bytes(), true) && !out.iter().any(|(n, _)| n == name) {
                        out.push((name.to_string(), self.display(idx)));
                    }
                }
            }
        }
        out
    }

    /// CONFIG SET of `(name, value)` pairs, all or nothing. Returns the error reply text.
    /// `local` tells whether the client is on a loopback connection (for
    /// `enable-protected-configs local`).
    pub fn set_many(&mut self, pairs: &[(&[u8], &[u8])], local: bool) -> Result<SetOutcome, String> {
        let mut chosen: Vec<usize> = Vec::new();
        // Redis 7.0 registers each alias as its own config: a name and its alias in one call
        // are not duplicates of each other (both are applied, in order).
        let mut seen: Vec<String> = Vec::new();
        let mut err: Option<(String, String)> = None;
        for (name, _) in pairs {
            let name_s = String::from_utf8_lossy(name).into_owned();
            let Some(idx) = table::lookup_runtime(&name_s).filter(|&i| DIRECTIVES[i].is_config()) else {
                // As Redis: an earlier error wins over a later unknown name.
                if err.is_none() {
                    return Err(format!("ERR Unknown option or number of arguments for CONFIG SET - '{name_s}'"));
                }
                continue;
            };
            if err.is_some() {
                continue;
            }
            let d = &DIRECTIVES[idx];
            let lowered = name_s.to_ascii_lowercase();
            if d.has(table::IMMUTABLE) {
                err = Some((name_s, "can't set immutable config".into()));
            } else if d.has(table::PROTECTED) && !protected_allowed(&self.enable_protected_configs, local) {
                err = Some((name_s, "can't set protected config".into()));
            } else if seen.contains(&lowered) {
                err = Some((name_s, "duplicate parameter".into()));
            }
            seen.push(lowered);
            chosen.push(idx);
        }
        if let Some((name, why)) = err {
            return Err(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"));
        }
        let mut next = self.clone();
        for (i, &idx) in chosen.iter().enumerate() {
            let d: &Directive = &DIRECTIVES[idx];
            let value = String::from_utf8_lossy(pairs[i].1).into_owned();
            let args: Vec<String> = if d.has(table::MULTI_ARG) {
                if value.is_empty() {
                    Vec::new()
                } else {
                    value.split(' ').map(String::from).collect()
                }
            } else {
                vec![value]
            };
            if let Err(why) = next.set_value(idx, &args, None) {
                let name = String::from_utf8_lossy(pairs[i].0);
                return Err(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"));
            }
        }
        let outcome = SetOutcome { loglevel_changed: next.loglevel != self.loglevel };
        *self = next;
        Ok(outcome)
    }

    /// CONFIG REWRITE.
    pub fn rewrite(&self) -> Result<(), String> {
        let Some(path) = &self.config_file else {
            return Err("ERR The server is running without a config file".into());
        };
        rewrite::rewrite_file(self, path).map_err(|e| format!("ERR Rewriting config file: {e}"))
    }

    /// The path of a file relative to `dir` (where Redis puts the RDB and AOF).
    pub fn data_path(&self, name: &str) -> PathBuf {
        let p = Path::new(name);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
}

/// The command line split the way Redis's `main` does it.
#[derive(Debug, PartialEq, Eq)]
pub struct CommandLine {
    /// The configuration file (the first argument, unless it starts with `-`).
    pub file: Option<String>,
    /// `-` as the first or last argument: read the configuration from stdin too.
    pub from_stdin: bool,
    /// `--name value ...` turned into configuration lines (values quoted as Redis does).
    pub options: String,
}

impl CommandLine {
    pub fn parse(args: &[String]) -> CommandLine {
        let mut j = 0;
        let mut file = None;
        if let Some(first) = args.first() {
            if !first.starts_with('-') {
                file = Some(first.clone());
                j = 1;
            }
        }
        let mut from_stdin = false;
        let mut options = String::new();
        let mut handled_last = true;
        while j < args.len() {
            let a = &args[j];
            if a == "-" && (j == 0 || j == args.len() - 1) {
                from_stdin = true;
            } else if handled_last && a.starts_with("--") {
                if !options.is_empty() {
                    options.push('\n');
                }
                options.push_str(&a[2..]);
                options.push(' ');
                let words = compat::resp::split_args(a.as_bytes()).map(|w| w.len()).unwrap_or(1);
                if words == 1 {
                    handled_last = false;
                    let next_is_opt = args.get(j + 1).is_some_and(|n| n.starts_with("--"));
                    let last = j == args.len() - 1;
                    // `--save` with no value means `save ""` (Redis keeps this pre-7.0 form).
                    if a.eq_ignore_ascii_case("--save") && (next_is_opt || last) {
                        options.push_str("\"\"");
                        handled_last = true;
                    }
                } else {
                    handled_last = true;
                }
            } else {
                options.push_str(&values::quote(a));
                options.push(' ');
                handled_last = true;
            }
            j += 1;
        }
        CommandLine { file, from_stdin, options }
    }
}

/// Side effects a successful CONFIG SET asks the caller to carry out.
#[derive(Debug, Default)]
pub struct SetOutcome {
    pub loglevel_changed: bool,
}

fn protected_allowed(setting: &str, local: bool) -> bool {
    setting == "yes" || (setting == "local" && local)
}

enum LineError {
    /// Reported with the line that caused it.
    Bad(String),
    /// Already a complete message (an include's own error, an unreadable file).
    Fatal(String),
}

fn can_not_open(file: &str, e: &std::io::Error) -> String {
    format!("{}# Fatal error, can't open config file '{file}': {}", logging::prefix(), values::strerror(e))
}

#[cfg(test)]
mod tests;
