//! The directive registry: every configuration directive the server accepts, with its type,
//! bounds, default and how CONFIG GET/SET/REWRITE treat it.
//!
//! The set of names, defaults, bounds and mutability follow Redis 7.0's `config.c` (checked
//! against `CONFIG GET *` of Debian's redis-server 7.0.15), plus the names Redis 3.2.11
//! accepted (`slaveof`, `slave-*`, `*-ziplist-*`, `hash-max-zipmap-*`, `list-max-ziplist-entries`
//! ...) as aliases or deprecated directives.

/// How a directive's arguments are parsed and shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// `yes` / `no`.
    Bool,
    /// A strict integer (`string2ll`) within bounds.
    Int(i128, i128),
    /// A byte count with optional unit (`1k`, `1kb`, `1m`, `1mb`, `1g`, `1gb`), within bounds.
    Mem(i128, i128),
    /// One of a fixed set of words (case-insensitive).
    Enum(&'static [&'static str]),
    /// Any single string, possibly empty.
    Str,
    /// An octal integer within bounds (`unixsocketperm`).
    Octal(i128, i128),
    /// Argument handling particular to the directive.
    Special(Special),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// `save <seconds> <changes> [...]` / `save ""`.
    Save,
    /// `bind addr [addr ...]`.
    Bind,
    /// `client-output-buffer-limit <class> <hard> <soft> <seconds> [...]`.
    ClientOutputBufferLimit,
    /// Event class letters.
    NotifyKeyspaceEvents,
    /// `replicaof <host> <port>` / `replicaof no one`.
    ReplicaOf,
    /// Three integers in -2000..=2000.
    OomScoreAdjValues,
    /// Floats in 0..=100.
    Percentiles,
    /// The working directory (chdir on set).
    Dir,
    /// A byte count or a percentage (`maxmemory-clients`).
    MemOrPercent,
    /// Words among default/save/nosave/now/force.
    ShutdownFlags,
    /// `include <file>`: not a config value.
    Include,
    /// `rename-command <name> <new-name>`: not a config value.
    RenameCommand,
    /// `user ...` (ACL): refused, we have no ACL users.
    User,
    /// `loadmodule ...`: refused, we have no modules.
    LoadModule,
    /// `sentinel ...`: refused outside sentinel mode, as Redis does.
    Sentinel,
    /// Accepted and ignored, as Redis does (`list-max-ziplist-entries` ...).
    Deprecated,
}

/// Not settable with CONFIG SET (`can't set immutable config`).
pub const IMMUTABLE: u8 = 1 << 0;
/// Settable only when `enable-protected-configs` allows it.
pub const PROTECTED: u8 = 1 << 1;
/// Not listed by CONFIG GET patterns (an exact name still works).
pub const HIDDEN: u8 = 1 << 2;
/// Takes several arguments (a single CONFIG SET value is split on spaces).
pub const MULTI_ARG: u8 = 1 << 3;
/// Not a configuration value: no CONFIG GET/SET, left alone by CONFIG REWRITE.
pub const NOT_CONFIG: u8 = 1 << 4;
/// The value is a secret (requirepass, masterauth).
pub const SENSITIVE: u8 = 1 << 5;

pub struct Directive {
    /// The canonical (Redis 7) name.
    pub name: &'static str,
    /// Other accepted names, listed by CONFIG GET patterns as Redis 7 lists them.
    pub aliases: &'static [&'static str],
    /// Names accepted in configuration files only (Redis 3.2 spellings Redis 7 dropped).
    pub hidden_aliases: &'static [&'static str],
    /// The name CONFIG REWRITE writes for new lines: the Redis 3.2 spelling when there is one,
    /// so a rewritten file stays readable by codis-server 3.2.11.
    pub rewrite_as: &'static str,
    pub kind: Kind,
    /// The default, in the form CONFIG GET shows.
    pub default: &'static str,
    pub flags: u8,
}

impl Directive {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    pub fn is_config(&self) -> bool {
        !self.has(NOT_CONFIG) && !matches!(self.kind, Kind::Special(Special::Deprecated))
    }

    /// Whether `name` (lower case) names this directive.
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name) || self.hidden_aliases.contains(&name)
    }
}

const fn d(name: &'static str, kind: Kind, default: &'static str, flags: u8) -> Directive {
    Directive { name, aliases: &[], hidden_aliases: &[], rewrite_as: name, kind, default, flags }
}

/// A directive with an alias that is also its Redis 3.2 name.
const fn legacy(
    name: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
    default: &'static str,
    flags: u8,
) -> Directive {
    Directive { name, aliases, hidden_aliases: &[], rewrite_as: aliases[0], kind, default, flags }
}

const I32: (i128, i128) = (i32::MIN as i128, i32::MAX as i128);
const INT_MAX: i128 = i32::MAX as i128;
const UINT_MAX: i128 = u32::MAX as i128;
const LONG_MAX: i128 = i64::MAX as i128;
const ULLONG_MAX: i128 = u64::MAX as i128;

const fn int(min: i128, max: i128) -> Kind {
    Kind::Int(min, max)
}

const fn mem(min: i128, max: i128) -> Kind {
    Kind::Mem(min, max)
}

const B: Kind = Kind::Bool;
const S: Kind = Kind::Str;
const NO_YES_LOCAL: Kind = Kind::Enum(&["no", "yes", "local"]);

pub const MAXMEMORY_POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];
pub const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
pub const SHUTDOWN_FLAGS: &[&str] = &["default", "save", "nosave", "now", "force"];

use Special as Sp;

/// Every directive. Order: alphabetical by canonical name, then the pure directives.
pub static DIRECTIVES: &[Directive] = &[
    d("acl-pubsub-default", Kind::Enum(&["allchannels", "resetchannels"]), "resetchannels", 0),
    d("aclfile", S, "", IMMUTABLE),
    d("acllog-max-len", int(0, LONG_MAX), "128", 0),
    d("active-defrag-cycle-max", int(1, 99), "25", 0),
    d("active-defrag-cycle-min", int(1, 99), "1", 0),
    d("active-defrag-ignore-bytes", mem(1, LONG_MAX), "104857600", 0),
    d("active-defrag-max-scan-fields", int(1, LONG_MAX), "1000", 0),
    d("active-defrag-threshold-lower", int(0, 1000), "10", 0),
    d("active-defrag-threshold-upper", int(0, 1000), "100", 0),
    d("active-expire-effort", int(1, 10), "1", 0),
    d("activedefrag", B, "no", 0),
    d("activerehashing", B, "yes", 0),
    d("always-show-logo", B, "no", IMMUTABLE),
    d("aof-disable-auto-gc", B, "no", 0),
    d("aof-load-truncated", B, "yes", 0),
    d("aof-rewrite-incremental-fsync", B, "yes", 0),
    d("aof-timestamp-enabled", B, "no", 0),
    d("aof-use-rdb-preamble", B, "yes", 0),
    d("aof_rewrite_cpulist", S, "", IMMUTABLE),
    d("appenddirname", S, "appendonlydir", IMMUTABLE),
    d("appendfilename", S, "appendonly.aof", IMMUTABLE),
    d("appendfsync", Kind::Enum(&["everysec", "always", "no"]), "everysec", 0),
    d("appendonly", B, "no", 0),
    d("auto-aof-rewrite-min-size", mem(0, LONG_MAX), "67108864", 0),
    d("auto-aof-rewrite-percentage", int(0, INT_MAX), "100", 0),
    d("bgsave_cpulist", S, "", IMMUTABLE),
    // The listeners are bound once at startup: changing them at run time is not supported.
    d("bind", Kind::Special(Sp::Bind), "", MULTI_ARG | IMMUTABLE),
    d("bind-source-addr", S, "", 0),
    d("bio_cpulist", S, "", IMMUTABLE),
    legacy("busy-reply-threshold", &["lua-time-limit"], int(0, LONG_MAX), "5000", 0),
    d(
        "client-output-buffer-limit",
        Kind::Special(Sp::ClientOutputBufferLimit),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        MULTI_ARG,
    ),
    d("client-query-buffer-limit", mem(1024 * 1024, LONG_MAX), "1073741824", 0),
    d("cluster-allow-pubsubshard-when-down", B, "yes", 0),
    d("cluster-allow-reads-when-down", B, "no", 0),
    d("cluster-allow-replica-migration", B, "yes", 0),
    d("cluster-announce-bus-port", int(0, 65535), "0", 0),
    d("cluster-announce-hostname", S, "", 0),
    d("cluster-announce-ip", S, "", 0),
    d("cluster-announce-port", int(0, 65535), "0", 0),
    d("cluster-announce-tls-port", int(0, 65535), "0", 0),
    d("cluster-config-file", S, "nodes.conf", IMMUTABLE),
    d("cluster-enabled", B, "no", IMMUTABLE),
    d("cluster-link-sendbuf-limit", mem(0, LONG_MAX), "0", 0),
    d("cluster-migration-barrier", int(0, INT_MAX), "1", 0),
    d("cluster-node-timeout", int(0, LONG_MAX), "15000", 0),
    d("cluster-port", int(0, 65535), "0", IMMUTABLE),
    d("cluster-preferred-endpoint-type", Kind::Enum(&["ip", "hostname", "unknown-endpoint"]), "ip", 0),
    legacy("cluster-replica-no-failover", &["cluster-slave-no-failover"], B, "no", 0),
    legacy("cluster-replica-validity-factor", &["cluster-slave-validity-factor"], int(0, INT_MAX), "10", 0),
    d("cluster-require-full-coverage", B, "yes", 0),
    d("crash-log-enabled", B, "yes", 0),
    d("crash-memcheck-enabled", B, "yes", 0),
    d("daemonize", B, "no", IMMUTABLE),
    d("databases", int(1, INT_MAX), "16", IMMUTABLE),
    d("dbfilename", S, "dump.rdb", PROTECTED),
    d("dir", Kind::Special(Sp::Dir), "", PROTECTED),
    d("disable-thp", B, "yes", IMMUTABLE),
    // rcodis: the DUMP payload format (7 = codis-server 3.2, 10 = Redis 7.0). Hidden from
    // `CONFIG GET *` so the listing stays Redis 7.0's; CONFIG GET/SET by name work.
    d("dump-payload-version", Kind::Enum(&["7", "10"]), "7", HIDDEN),
    d("dynamic-hz", B, "yes", 0),
    // Redis 7 defaults to "no"; codis-server 3.2 always allowed DEBUG, and so do we by default.
    d("enable-debug-command", NO_YES_LOCAL, "yes", IMMUTABLE),
    d("enable-module-command", NO_YES_LOCAL, "no", IMMUTABLE),
    d("enable-protected-configs", NO_YES_LOCAL, "no", IMMUTABLE),
    Directive {
        name: "hash-max-listpack-entries",
        aliases: &["hash-max-ziplist-entries"],
        hidden_aliases: &["hash-max-zipmap-entries"],
        rewrite_as: "hash-max-ziplist-entries",
        kind: int(0, LONG_MAX),
        default: "512",
        flags: 0,
    },
    Directive {
        name: "hash-max-listpack-value",
        aliases: &["hash-max-ziplist-value"],
        hidden_aliases: &["hash-max-zipmap-value"],
        rewrite_as: "hash-max-ziplist-value",
        kind: mem(0, LONG_MAX),
        default: "64",
        flags: 0,
    },
    d("hll-sparse-max-bytes", mem(0, LONG_MAX), "3000", 0),
    // Stored clamped to 1..=500, as Redis does.
    d("hz", int(0, INT_MAX), "10", 0),
    d("ignore-warnings", S, "", 0),
    d("io-threads", int(1, 128), "1", IMMUTABLE),
    d("io-threads-do-reads", B, "no", IMMUTABLE),
    d("jemalloc-bg-thread", B, "yes", 0),
    d("key-load-delay", int(i32::MIN as i128, INT_MAX), "0", HIDDEN),
    d("latency-monitor-threshold", int(0, LONG_MAX), "0", 0),
    d("latency-tracking", B, "yes", 0),
    d("latency-tracking-info-percentiles", Kind::Special(Sp::Percentiles), "50 99 99.9", MULTI_ARG),
    d("lazyfree-lazy-eviction", B, "no", 0),
    d("lazyfree-lazy-expire", B, "no", 0),
    d("lazyfree-lazy-server-del", B, "no", 0),
    d("lazyfree-lazy-user-del", B, "no", 0),
    d("lazyfree-lazy-user-flush", B, "no", 0),
    d("lfu-decay-time", int(0, INT_MAX), "1", 0),
    d("lfu-log-factor", int(0, INT_MAX), "10", 0),
    d("list-compress-depth", int(0, INT_MAX), "0", 0),
    legacy("list-max-listpack-size", &["list-max-ziplist-size"], int(I32.0, I32.1), "-2", 0),
    d("loading-process-events-interval-bytes", int(1024, INT_MAX), "2097152", HIDDEN),
    d("logfile", S, "", IMMUTABLE),
    d("loglevel", Kind::Enum(LOGLEVELS), "notice", 0),
    d("masterauth", S, "", SENSITIVE),
    d("masteruser", S, "", 0),
    d("maxclients", int(1, UINT_MAX), "10000", 0),
    d("maxmemory", mem(0, ULLONG_MAX), "0", 0),
    d("maxmemory-clients", Kind::Special(Sp::MemOrPercent), "0", 0),
    d("maxmemory-eviction-tenacity", int(0, 100), "10", 0),
    d("maxmemory-policy", Kind::Enum(MAXMEMORY_POLICIES), "noeviction", 0),
    d("maxmemory-samples", int(1, 64), "5", 0),
    legacy("min-replicas-max-lag", &["min-slaves-max-lag"], int(0, INT_MAX), "10", 0),
    legacy("min-replicas-to-write", &["min-slaves-to-write"], int(0, INT_MAX), "0", 0),
    d("no-appendfsync-on-rewrite", B, "no", 0),
    d("notify-keyspace-events", Kind::Special(Sp::NotifyKeyspaceEvents), "", 0),
    d("oom-score-adj", Kind::Enum(&["no", "yes", "relative", "absolute"]), "no", 0),
    d("oom-score-adj-values", Kind::Special(Sp::OomScoreAdjValues), "0 200 800", MULTI_ARG),
    d("pidfile", S, "", IMMUTABLE),
    // The listeners are bound once at startup: changing the port at run time is not supported.
    d("port", int(0, 65535), "6379", IMMUTABLE),
    d("proc-title-template", S, "{title} {listen-addr} {server-mode}", 0),
    d("propagation-error-behavior", Kind::Enum(&["ignore", "panic", "panic-on-replicas"]), "ignore", 0),
    d("protected-mode", B, "yes", 0),
    d("proto-max-bulk-len", mem(1024 * 1024, LONG_MAX), "536870912", 0),
    d("rdb-del-sync-files", B, "no", 0),
    d("rdb-key-save-delay", int(i32::MIN as i128, INT_MAX), "0", HIDDEN),
    d("rdb-save-incremental-fsync", B, "yes", 0),
    // rcodis: the RDB format SAVE/BGSAVE write (7 = codis-server 3.2, 10 = Redis 7.0), hidden
    // like `dump-payload-version`.
    d("rdb-version", Kind::Enum(&["7", "10"]), "7", HIDDEN),
    d("rdbchecksum", B, "yes", IMMUTABLE),
    d("rdbcompression", B, "yes", 0),
    d("repl-backlog-size", mem(1, LONG_MAX), "1048576", 0),
    d("repl-backlog-ttl", int(0, LONG_MAX), "3600", 0),
    d("repl-disable-tcp-nodelay", B, "no", 0),
    d("repl-diskless-load", Kind::Enum(&["disabled", "on-empty-db", "swapdb"]), "disabled", 0),
    d("repl-diskless-sync", B, "yes", 0),
    d("repl-diskless-sync-delay", int(0, INT_MAX), "5", 0),
    d("repl-diskless-sync-max-replicas", int(0, INT_MAX), "0", 0),
    legacy("repl-ping-replica-period", &["repl-ping-slave-period"], int(1, INT_MAX), "10", 0),
    d("repl-timeout", int(1, INT_MAX), "60", 0),
    legacy("replica-announce-ip", &["slave-announce-ip"], S, "", 0),
    legacy("replica-announce-port", &["slave-announce-port"], int(0, 65535), "0", 0),
    d("replica-announced", B, "yes", 0),
    d("replica-ignore-disk-write-errors", B, "no", 0),
    legacy("replica-ignore-maxmemory", &["slave-ignore-maxmemory"], B, "yes", 0),
    legacy("replica-lazy-flush", &["slave-lazy-flush"], B, "no", 0),
    legacy("replica-priority", &["slave-priority"], int(0, INT_MAX), "100", 0),
    legacy("replica-read-only", &["slave-read-only"], B, "yes", 0),
    legacy("replica-serve-stale-data", &["slave-serve-stale-data"], B, "yes", 0),
    // Changed at run time with REPLICAOF/SLAVEOF, not CONFIG SET (as in Redis 7).
    legacy("replicaof", &["slaveof"], Kind::Special(Sp::ReplicaOf), "", MULTI_ARG | IMMUTABLE),
    d("requirepass", S, "", SENSITIVE),
    d("sanitize-dump-payload", Kind::Enum(&["no", "yes", "clients"]), "no", 0),
    d("save", Kind::Special(Sp::Save), "3600 1 300 100 60 10000", MULTI_ARG),
    d("server_cpulist", S, "", IMMUTABLE),
    d("set-max-intset-entries", int(0, LONG_MAX), "512", 0),
    d("set-proc-title", B, "yes", IMMUTABLE),
    d("shutdown-on-sigint", Kind::Special(Sp::ShutdownFlags), "default", MULTI_ARG),
    d("shutdown-on-sigterm", Kind::Special(Sp::ShutdownFlags), "default", MULTI_ARG),
    d("shutdown-timeout", int(0, INT_MAX), "10", 0),
    d("slowlog-log-slower-than", int(-1, LONG_MAX), "10000", 0),
    d("slowlog-max-len", int(0, LONG_MAX), "128", 0),
    d("socket-mark-id", int(0, UINT_MAX), "0", 0),
    d("stop-writes-on-bgsave-error", B, "yes", 0),
    d("stream-node-max-bytes", mem(0, LONG_MAX), "4096", 0),
    d("stream-node-max-entries", int(0, LONG_MAX), "100", 0),
    d("supervised", Kind::Enum(&["upstart", "systemd", "auto", "no"]), "no", IMMUTABLE),
    d("syslog-enabled", B, "no", IMMUTABLE),
    d(
        "syslog-facility",
        Kind::Enum(&["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]),
        "local0",
        IMMUTABLE,
    ),
    d("syslog-ident", S, "redis", IMMUTABLE),
    d("tcp-backlog", int(0, INT_MAX), "511", IMMUTABLE),
    d("tcp-keepalive", int(0, INT_MAX), "300", 0),
    d("timeout", int(0, INT_MAX), "0", 0),
    d("tls-auth-clients", Kind::Enum(&["no", "yes", "optional"]), "yes", 0),
    d("tls-ca-cert-dir", S, "", 0),
    d("tls-ca-cert-file", S, "", 0),
    d("tls-cert-file", S, "", 0),
    d("tls-ciphers", S, "", 0),
    d("tls-ciphersuites", S, "", 0),
    d("tls-client-cert-file", S, "", 0),
    d("tls-client-key-file", S, "", 0),
    d("tls-client-key-file-pass", S, "", SENSITIVE),
    d("tls-cluster", B, "no", 0),
    d("tls-dh-params-file", S, "", 0),
    d("tls-key-file", S, "", 0),
    d("tls-key-file-pass", S, "", SENSITIVE),
    d("tls-port", int(0, 65535), "0", 0),
    d("tls-prefer-server-ciphers", B, "no", 0),
    d("tls-protocols", S, "", 0),
    d("tls-replication", B, "no", 0),
    d("tls-session-cache-size", int(0, INT_MAX), "20480", 0),
    d("tls-session-cache-timeout", int(0, INT_MAX), "300", 0),
    d("tls-session-caching", B, "yes", 0),
    d("tracking-table-max-keys", int(0, LONG_MAX), "1000000", 0),
    d("unixsocket", S, "", IMMUTABLE),
    d("unixsocketperm", Kind::Octal(0, 0o777), "0", IMMUTABLE),
    d("use-exit-on-panic", B, "no", HIDDEN | IMMUTABLE),
    d("watchdog-period", int(0, INT_MAX), "0", HIDDEN),
    legacy("zset-max-listpack-entries", &["zset-max-ziplist-entries"], int(0, LONG_MAX), "128", 0),
    legacy("zset-max-listpack-value", &["zset-max-ziplist-value"], mem(0, LONG_MAX), "64", 0),
    // Directives that are not configuration values.
    d("include", Kind::Special(Sp::Include), "", NOT_CONFIG | MULTI_ARG),
    d("rename-command", Kind::Special(Sp::RenameCommand), "", NOT_CONFIG | MULTI_ARG),
    d("user", Kind::Special(Sp::User), "", NOT_CONFIG | MULTI_ARG),
    d("loadmodule", Kind::Special(Sp::LoadModule), "", NOT_CONFIG | MULTI_ARG),
    d("sentinel", Kind::Special(Sp::Sentinel), "", NOT_CONFIG | MULTI_ARG),
    // Accepted and ignored (Redis 3.2 deprecated the first two; Redis 7 the last).
    d("list-max-ziplist-entries", Kind::Special(Sp::Deprecated), "", NOT_CONFIG | MULTI_ARG),
    d("list-max-ziplist-value", Kind::Special(Sp::Deprecated), "", NOT_CONFIG | MULTI_ARG),
    d("lua-replicate-commands", Kind::Special(Sp::Deprecated), "", NOT_CONFIG | MULTI_ARG),
];

/// Finds a directive by any of its names, case-insensitively. Returns its index.
pub fn lookup(name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    DIRECTIVES.iter().position(|d| d.answers_to(&lower))
}

/// Like [`lookup`], for CONFIG GET/SET: the Redis 3.2 spellings Redis 7 dropped
/// (`hidden_aliases`) are accepted in files only, as codis-server 3.2 did.
pub fn lookup_runtime(name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    DIRECTIVES.iter().position(|d| d.name == lower || d.aliases.contains(&lower.as_str()))
}

/// The index of a directive by its canonical name (panics on a typo: internal use).
#[cfg_attr(not(test), allow(dead_code))]
pub fn index_of(name: &str) -> usize {
    DIRECTIVES.iter().position(|d| d.name == name).unwrap_or_else(|| panic!("no directive {name}"))
}
