//! Server configuration: `redis.conf` parsing, command-line overrides, CONFIG GET/SET/REWRITE.

use std::path::PathBuf;

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub config_file: Option<PathBuf>,
    pub port: u16,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub requirepass: Option<Vec<u8>>,
    pub masterauth: Option<Vec<u8>>,
    pub databases: usize,
    pub dir: PathBuf,
    pub dbfilename: String,
    pub logfile: String,
    pub loglevel: String,
    pub pidfile: Option<PathBuf>,
    pub daemonize: bool,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub tcp_backlog: u32,
    pub maxclients: usize,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: u32,
    pub hz: u32,
    pub proto_max_bulk_len: usize,
    /// Encoding thresholds (OBJECT ENCODING answers follow them, as in Redis).
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub list_max_listpack_size: i64,
    /// `notify-keyspace-events` as given (empty = off).
    pub notify_keyspace_events: String,
    /// Every directive as text, for CONFIG GET and REWRITE.
    pub values: Vec<(String, String)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            config_file: None,
            port: 6379,
            bind: Vec::new(),
            protected_mode: true,
            requirepass: None,
            masterauth: None,
            databases: 16,
            dir: PathBuf::from("."),
            dbfilename: "dump.rdb".into(),
            logfile: String::new(),
            loglevel: "notice".into(),
            pidfile: None,
            daemonize: false,
            timeout: 0,
            tcp_keepalive: 300,
            tcp_backlog: 511,
            maxclients: 10000,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            maxmemory_samples: 5,
            hz: 10,
            proto_max_bulk_len: 512 * 1024 * 1024,
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
            notify_keyspace_events: String::new(),
            values: Vec::new(),
        }
    }
}

impl Config {
    /// Builds the configuration from `codis-server [file] [--directive value ...]`.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut cfg = Config::default();
        let mut text = String::new();
        let mut i = 0;
        if let Some(first) = args.first() {
            if !first.starts_with("--") {
                let content = std::fs::read_to_string(first).map_err(|e| format!("Fatal error, can't open config file '{first}': {e}"))?;
                cfg.config_file = Some(PathBuf::from(first));
                text.push_str(&content);
                text.push('\n');
                i = 1;
            }
        }
        while i < args.len() {
            let a = &args[i];
            if let Some(name) = a.strip_prefix("--") {
                text.push('\n');
                text.push_str(name);
            } else {
                text.push(' ');
                text.push_str(a);
            }
            i += 1;
        }
        for (lineno, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words = compat::resp::split_args(line.as_bytes()).ok_or_else(|| bad_directive(lineno + 1, line, "Unbalanced quotes in configuration line"))?;
            let words: Vec<String> = words.into_iter().map(|w| String::from_utf8_lossy(&w).into_owned()).collect();
            if words.is_empty() {
                continue;
            }
            cfg.apply(&words[0].to_ascii_lowercase(), &words[1..]).map_err(|e| bad_directive(lineno + 1, line, &e))?;
        }
        Ok(cfg)
    }

    fn apply(&mut self, name: &str, v: &[String]) -> Result<(), String> {
        let one = || v.first().cloned().ok_or_else(|| "wrong number of arguments".to_string());
        match name {
            "port" => self.port = one()?.parse().map_err(|_| "Invalid port")?,
            "bind" => self.bind = v.to_vec(),
            "requirepass" => self.requirepass = one().ok().filter(|s| !s.is_empty()).map(String::into_bytes),
            "databases" => self.databases = one()?.parse().map_err(|_| "Invalid number of databases")?,
            "hz" => self.hz = one()?.parse().map_err(|_| "Invalid hz")?,
            "dir" => self.dir = PathBuf::from(one()?),
            "pidfile" => self.pidfile = Some(PathBuf::from(one()?)),
            "logfile" => self.logfile = one()?,
            _ => {}
        }
        self.values.push((name.to_string(), v.join(" ")));
        Ok(())
    }
}

fn bad_directive(lineno: usize, line: &str, why: &str) -> String {
    format!("\n*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line {lineno}\n>>> '{line}'\n{why}")
}
