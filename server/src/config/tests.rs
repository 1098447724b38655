//! Tests of directive parsing, CONFIG GET/SET semantics and CONFIG REWRITE.

use super::*;

fn parse(text: &str) -> Config {
    Config::parse_str(text).unwrap_or_else(|e| panic!("{e}"))
}

fn parse_err(text: &str) -> String {
    Config::parse_str(text).unwrap_err()
}

fn get(cfg: &Config, name: &str) -> String {
    cfg.get(name).unwrap_or_else(|| panic!("no directive {name}"))
}

fn set(cfg: &mut Config, pairs: &[(&str, &str)]) -> Result<(), String> {
    let p: Vec<(&[u8], &[u8])> = pairs.iter().map(|(a, b)| (a.as_bytes(), b.as_bytes())).collect();
    cfg.set_many(&p, true).map(|_| ())
}

/// `CONFIG GET *` of Debian's redis-server 7.0.15 started with only `--port --save ''
/// --appendonly no --daemonize yes --dir --pidfile --logfile` (so those, and `bind` and
/// `enable-debug-command`, where we differ on purpose, are left out).
const REDIS7_DEFAULTS: &[(&str, &str)] = &[
    ("acl-pubsub-default", "resetchannels"),
    ("aclfile", ""),
    ("acllog-max-len", "128"),
    ("active-defrag-cycle-max", "25"),
    ("active-defrag-cycle-min", "1"),
    ("active-defrag-ignore-bytes", "104857600"),
    ("active-defrag-max-scan-fields", "1000"),
    ("active-defrag-threshold-lower", "10"),
    ("active-defrag-threshold-upper", "100"),
    ("active-expire-effort", "1"),
    ("activedefrag", "no"),
    ("activerehashing", "yes"),
    ("always-show-logo", "no"),
    ("aof-disable-auto-gc", "no"),
    ("aof-load-truncated", "yes"),
    ("aof-rewrite-incremental-fsync", "yes"),
    ("aof-timestamp-enabled", "no"),
    ("aof-use-rdb-preamble", "yes"),
    ("aof_rewrite_cpulist", ""),
    ("appenddirname", "appendonlydir"),
    ("appendfilename", "appendonly.aof"),
    ("appendfsync", "everysec"),
    ("auto-aof-rewrite-min-size", "67108864"),
    ("auto-aof-rewrite-percentage", "100"),
    ("bgsave_cpulist", ""),
    ("bind-source-addr", ""),
    ("bio_cpulist", ""),
    ("busy-reply-threshold", "5000"),
    ("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
    ("client-query-buffer-limit", "1073741824"),
    ("cluster-allow-pubsubshard-when-down", "yes"),
    ("cluster-allow-reads-when-down", "no"),
    ("cluster-allow-replica-migration", "yes"),
    ("cluster-announce-bus-port", "0"),
    ("cluster-announce-hostname", ""),
    ("cluster-announce-ip", ""),
    ("cluster-announce-port", "0"),
    ("cluster-announce-tls-port", "0"),
    ("cluster-config-file", "nodes.conf"),
    ("cluster-enabled", "no"),
    ("cluster-link-sendbuf-limit", "0"),
    ("cluster-migration-barrier", "1"),
    ("cluster-node-timeout", "15000"),
    ("cluster-port", "0"),
    ("cluster-preferred-endpoint-type", "ip"),
    ("cluster-replica-no-failover", "no"),
    ("cluster-replica-validity-factor", "10"),
    ("cluster-require-full-coverage", "yes"),
    ("cluster-slave-no-failover", "no"),
    ("cluster-slave-validity-factor", "10"),
    ("crash-log-enabled", "yes"),
    ("crash-memcheck-enabled", "yes"),
    ("databases", "16"),
    ("dbfilename", "dump.rdb"),
    ("disable-thp", "yes"),
    ("dynamic-hz", "yes"),
    ("enable-module-command", "no"),
    ("enable-protected-configs", "no"),
    ("hash-max-listpack-entries", "512"),
    ("hash-max-listpack-value", "64"),
    ("hash-max-ziplist-entries", "512"),
    ("hash-max-ziplist-value", "64"),
    ("hll-sparse-max-bytes", "3000"),
    ("hz", "10"),
    ("ignore-warnings", ""),
    ("io-threads", "1"),
    ("io-threads-do-reads", "no"),
    ("jemalloc-bg-thread", "yes"),
    ("latency-monitor-threshold", "0"),
    ("latency-tracking", "yes"),
    ("latency-tracking-info-percentiles", "50 99 99.9"),
    ("lazyfree-lazy-eviction", "no"),
    ("lazyfree-lazy-expire", "no"),
    ("lazyfree-lazy-server-del", "no"),
    ("lazyfree-lazy-user-del", "no"),
    ("lazyfree-lazy-user-flush", "no"),
    ("lfu-decay-time", "1"),
    ("lfu-log-factor", "10"),
    ("list-compress-depth", "0"),
    ("list-max-listpack-size", "-2"),
    ("list-max-ziplist-size", "-2"),
    ("loglevel", "notice"),
    ("lua-time-limit", "5000"),
    ("masterauth", ""),
    ("masteruser", ""),
    ("maxclients", "10000"),
    ("maxmemory", "0"),
    ("maxmemory-clients", "0"),
    ("maxmemory-eviction-tenacity", "10"),
    ("maxmemory-policy", "noeviction"),
    ("maxmemory-samples", "5"),
    ("min-replicas-max-lag", "10"),
    ("min-replicas-to-write", "0"),
    ("min-slaves-max-lag", "10"),
    ("min-slaves-to-write", "0"),
    ("no-appendfsync-on-rewrite", "no"),
    ("notify-keyspace-events", ""),
    ("oom-score-adj", "no"),
    ("oom-score-adj-values", "0 200 800"),
    ("proc-title-template", "{title} {listen-addr} {server-mode}"),
    ("propagation-error-behavior", "ignore"),
    ("protected-mode", "yes"),
    ("proto-max-bulk-len", "536870912"),
    ("rdb-del-sync-files", "no"),
    ("rdb-save-incremental-fsync", "yes"),
    ("rdbchecksum", "yes"),
    ("rdbcompression", "yes"),
    ("repl-backlog-size", "1048576"),
    ("repl-backlog-ttl", "3600"),
    ("repl-disable-tcp-nodelay", "no"),
    ("repl-diskless-load", "disabled"),
    ("repl-diskless-sync", "yes"),
    ("repl-diskless-sync-delay", "5"),
    ("repl-diskless-sync-max-replicas", "0"),
    ("repl-ping-replica-period", "10"),
    ("repl-ping-slave-period", "10"),
    ("repl-timeout", "60"),
    ("replica-announce-ip", ""),
    ("replica-announce-port", "0"),
    ("replica-announced", "yes"),
    ("replica-ignore-disk-write-errors", "no"),
    ("replica-ignore-maxmemory", "yes"),
    ("replica-lazy-flush", "no"),
    ("replica-priority", "100"),
    ("replica-read-only", "yes"),
    ("replica-serve-stale-data", "yes"),
    ("replicaof", ""),
    ("requirepass", ""),
    ("sanitize-dump-payload", "no"),
    ("server_cpulist", ""),
    ("set-max-intset-entries", "512"),
    ("set-proc-title", "yes"),
    ("shutdown-on-sigint", "default"),
    ("shutdown-on-sigterm", "default"),
    ("shutdown-timeout", "10"),
    ("slave-announce-ip", ""),
    ("slave-announce-port", "0"),
    ("slave-ignore-maxmemory", "yes"),
    ("slave-lazy-flush", "no"),
    ("slave-priority", "100"),
    ("slave-read-only", "yes"),
    ("slave-serve-stale-data", "yes"),
    ("slaveof", ""),
    ("slowlog-log-slower-than", "10000"),
    ("slowlog-max-len", "128"),
    ("socket-mark-id", "0"),
    ("stop-writes-on-bgsave-error", "yes"),
    ("stream-node-max-bytes", "4096"),
    ("stream-node-max-entries", "100"),
    ("supervised", "no"),
    ("syslog-enabled", "no"),
    ("syslog-facility", "local0"),
    ("syslog-ident", "redis"),
    ("tcp-backlog", "511"),
    ("tcp-keepalive", "300"),
    ("timeout", "0"),
    ("tls-auth-clients", "yes"),
    ("tls-ca-cert-dir", ""),
    ("tls-ca-cert-file", ""),
    ("tls-cert-file", ""),
    ("tls-ciphers", ""),
    ("tls-ciphersuites", ""),
    ("tls-client-cert-file", ""),
    ("tls-client-key-file", ""),
    ("tls-client-key-file-pass", ""),
    ("tls-cluster", "no"),
    ("tls-dh-params-file", ""),
    ("tls-key-file", ""),
    ("tls-key-file-pass", ""),
    ("tls-port", "0"),
    ("tls-prefer-server-ciphers", "no"),
    ("tls-protocols", ""),
    ("tls-replication", "no"),
    ("tls-session-cache-size", "20480"),
    ("tls-session-cache-timeout", "300"),
    ("tls-session-caching", "yes"),
    ("tracking-table-max-keys", "1000000"),
    ("unixsocket", ""),
    ("unixsocketperm", "0"),
    ("zset-max-listpack-entries", "128"),
    ("zset-max-listpack-value", "64"),
    ("zset-max-ziplist-entries", "128"),
    ("zset-max-ziplist-value", "64"),
];

/// The names `CONFIG GET *` lists in Redis 7.0.15 besides the above.
const REDIS7_OTHER_NAMES: &[&str] =
    &["port", "daemonize", "dir", "pidfile", "logfile", "save", "appendonly", "bind", "enable-debug-command"];

#[test]
fn defaults_and_names_match_redis_7() {
    let cfg = Config::default();
    for (name, value) in REDIS7_DEFAULTS {
        assert_eq!(get(&cfg, name), *value, "default of {name}");
    }
    let all: Vec<String> = cfg.get_matching(&[b"*"]).into_iter().map(|(n, _)| n).collect();
    let mut expected: Vec<String> = REDIS7_DEFAULTS.iter().map(|(n, _)| n.to_string()).collect();
    expected.extend(REDIS7_OTHER_NAMES.iter().map(|n| n.to_string()));
    let (mut a, mut e) = (all.clone(), expected.clone());
    a.sort();
    e.sort();
    assert_eq!(a, e);
    assert_eq!(get(&cfg, "save"), "3600 1 300 100 60 10000");
    assert_eq!(get(&cfg, "bind"), "");
    assert_eq!(get(&cfg, "port"), "6379");
    // Defaults of typed fields agree with the table.
    assert_eq!(cfg.hash_max_listpack_entries, 512);
    assert_eq!(cfg.zset_max_listpack_entries, 128);
    assert_eq!(cfg.save, vec![(3600, 1), (300, 100), (60, 10000)]);
    assert_eq!(cfg.client_output_buffer_limits[1].hard, 256 << 20);
}

#[test]
fn typed_field_defaults_agree_with_the_table() {
    // Default::default() syncs every typed field from the table: building a Config with the
    // hand-written field values and comparing shows any disagreement.
    let synced = Config::default();
    let mut fresh = synced.clone();
    for i in 0..table::DIRECTIVES.len() {
        fresh.sync_typed(i);
    }
    assert_eq!(format!("{synced:?}"), format!("{fresh:?}"));
}

/// The a03 recording's redis-6379.conf, with its `include` of the stock 3.2 file expanded.
fn codis_6379_conf() -> String {
    let stock = include_str!("fixtures/redis-3.2.11.conf");
    format!(
        "# codis-server config: extern/redis-3.2.11/redis.conf defaults + overrides below\n{stock}\nbind 127.0.0.1\nprotected-mode yes\nport 6379\ndaemonize no\npidfile \"/var/lib/codis/data/6379/redis_6379.pid\"\nlogfile \"/var/lib/codis/logs/redis-6379.log\"\ndir \"/var/lib/codis/data/6379\"\ndbfilename \"dump.rdb\"\n\nappendonly no\n# Generated by CONFIG REWRITE\n\nsave 900 1\nsave 300 10\nsave 60 10000\n\n"
    )
}

#[test]
fn stock_redis_32_conf_loads() {
    let cfg = parse(include_str!("fixtures/redis-3.2.11.conf"));
    assert_eq!(cfg.bind, vec!["127.0.0.1".to_string()]);
    assert_eq!(cfg.pidfile.as_deref(), Some(Path::new("/var/run/redis_6379.pid")));
    assert_eq!(cfg.save, vec![(900, 1), (300, 10), (60, 10000)]);
    assert_eq!(get(&cfg, "hash-max-ziplist-entries"), "512");
    assert_eq!(get(&cfg, "hash-max-listpack-entries"), "512");
    assert_eq!(get(&cfg, "slave-read-only"), "yes");
    assert_eq!(get(&cfg, "repl-diskless-sync"), "no");
    assert_eq!(get(&cfg, "auto-aof-rewrite-min-size"), "67108864");
    assert_eq!(
        get(&cfg, "client-output-buffer-limit"),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    assert_eq!(cfg.lua_time_limit, 5000);
}

#[test]
fn stock_redis_32_conf_with_every_example_uncommented_loads() {
    let mut text = String::new();
    for line in include_str!("fixtures/redis-3.2.11.conf").lines() {
        let l = line.trim_start_matches('#').trim();
        let first = l.split(' ').next().unwrap_or("");
        let is_example = line.starts_with('#')
            && table::lookup(first).is_some()
            && !l.contains('<')
            && !matches!(first, "include" | "cluster-enabled");
        text.push_str(if is_example { l } else { line });
        text.push('\n');
    }
    let cfg = parse(&text);
    assert_eq!(cfg.replicaof, None);
    assert_eq!(cfg.requirepass.as_deref(), Some(&b"foobared"[..]));
    assert_eq!(
        cfg.rename_commands,
        vec![("config".into(), "b840fc02d524045429941cc15f59e41cb7be6c52".into()), ("config".into(), "".into())]
    );
    assert_eq!(get(&cfg, "unixsocketperm"), "700");
    assert_eq!(get(&cfg, "notify-keyspace-events"), "");
    assert_eq!(get(&cfg, "appendfsync"), "no");
    assert_eq!(get(&cfg, "cluster-slave-validity-factor"), "10");
    assert_eq!(cfg.min_replicas_to_write, 3);
}

#[test]
fn codis_6379_conf_loads() {
    let cfg = parse(&codis_6379_conf());
    assert_eq!(cfg.port, 6379);
    assert_eq!(cfg.bind, vec!["127.0.0.1".to_string()]);
    assert_eq!(cfg.logfile, "/var/lib/codis/logs/redis-6379.log");
    assert_eq!(cfg.pidfile.as_deref(), Some(Path::new("/var/lib/codis/data/6379/redis_6379.pid")));
    assert_eq!(cfg.dir, PathBuf::from("/var/lib/codis/data/6379"));
    // The stock file's three save lines, then the override's same three: the first save line
    // of the load replaced the defaults, later ones accumulate, repeated points only once
    // (Redis keeps the duplicates, and CONFIG REWRITE then writes them all).
    assert_eq!(cfg.save, vec![(900, 1), (300, 10), (60, 10000)]);
    assert_eq!(parse("save 900 1\nsave 300 10\nsave 900 1\nsave 1 1\n").save, vec![(900, 1), (300, 10), (1, 1)]);
}

#[test]
fn debian_redis_7_conf_loads() {
    let cfg = parse(include_str!("fixtures/debian-redis-7.0.conf"));
    assert_eq!(cfg.replicaof, Some(("127.0.0.1".into(), 6380)));
    assert_eq!(get(&cfg, "maxmemory-clients"), "5%");
    assert_eq!(get(&cfg, "bind"), "192.168.1.100 10.0.0.1");
    assert_eq!(get(&cfg, "tls-protocols"), "TLSv1.2 TLSv1.3");
    assert_eq!(get(&cfg, "save"), "3600 1 300 100 60 10000");
    assert_eq!(
        get(&cfg, "client-output-buffer-limit"),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    assert_eq!(get(&cfg, "server_cpulist"), "0-7:2");
    // The real file, when this machine has it.
    if let Ok(text) = std::fs::read_to_string("/etc/redis/redis.conf") {
        let cfg = parse(&text);
        assert_eq!(cfg.dir, PathBuf::from("/var/lib/redis"));
    }
}

#[test]
fn fatal_errors_are_reported_like_redis() {
    assert_eq!(
        parse_err("port 24005\nfoo bar\n"),
        "\n*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line 2\n>>> 'foo bar'\nBad directive or wrong number of arguments"
    );
    let cases: &[(&str, &str)] = &[
        ("maxmemory abc", "argument must be a memory value"),
        ("hz abc", "argument couldn't be parsed into an integer"),
        ("save 1", "Invalid save parameters"),
        ("daemonize maybe", "argument must be 'yes' or 'no'"),
        ("databases 0", "argument must be between 1 and 2147483647 inclusive"),
        ("port 70000", "argument must be between 0 and 65535 inclusive"),
        ("timeout -1", "argument must be between 0 and 2147483647 inclusive"),
        ("maxmemory -1", "argument must be a memory value"),
        (
            "maxmemory-policy foo",
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
        ),
        ("loglevel foo", "argument(s) must be one of the following: debug, verbose, notice, warning"),
        ("appendfsync x", "argument(s) must be one of the following: everysec, always, no"),
        ("slaveof a", "wrong number of arguments"),
        ("replicaof 1.2.3.4 abc", "Invalid master port"),
        ("client-output-buffer-limit foo 1 2 3", "Invalid client class specified in buffer limit configuration."),
        ("client-output-buffer-limit normal 1 2", "Wrong number of arguments in buffer limit configuration."),
        ("rename-command foo", "Bad directive or wrong number of arguments"),
        ("rename-command foo bar", "No such command in rename-command"),
        ("notify-keyspace-events Q", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
        ("supervised foo", "argument(s) must be one of the following: upstart, systemd, auto, no"),
        ("unixsocketperm 999", "argument couldn't be parsed as an octal number"),
        ("requirepass a b", "wrong number of arguments"),
        ("lua-time-limit -5", "argument must be between 0 and 9223372036854775807 inclusive"),
        ("repl-backlog-size 0", "argument must be between 1 and 9223372036854775807 inclusive"),
        ("oom-score-adj-values 1 2", "wrong number of arguments"),
        ("sentinel foo", "sentinel directive while not in sentinel mode"),
        ("slave-announce-port 70000", "argument must be between 0 and 65535 inclusive"),
        ("maxclients 0", "argument must be between 1 and 4294967295 inclusive"),
        ("daemonize", "wrong number of arguments"),
        ("daemonize yes no", "wrong number of arguments"),
        ("latency-tracking-info-percentiles 200", "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"),
        ("hash-max-ziplist-entries -1", "argument must be between 0 and 9223372036854775807 inclusive"),
        ("active-expire-effort 11", "argument must be between 1 and 10 inclusive"),
        ("enable-debug-command foo", "argument(s) must be one of the following: no, yes, local"),
        ("protected-mode 1", "argument must be 'yes' or 'no'"),
        ("hz 1.5", "argument couldn't be parsed into an integer"),
        ("maxmemory 1.5gb", "argument must be a memory value"),
        ("bind", "wrong number of arguments"),
        ("port \"6379", "Unbalanced quotes in configuration line"),
    ];
    for (line, why) in cases {
        let text = format!("# comment\n\n{line}\n");
        let expected = format!(
            "\n*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line 3\n>>> '{line}'\n{why}"
        );
        assert_eq!(parse_err(&text), expected, "for {line}");
    }
}

#[test]
fn accepted_values_like_redis() {
    let cfg = parse("hz 0\nmaxmemory 1GB\nlist-max-ziplist-entries 5\nlist-max-ziplist-value 5\nwatchdog-period 5\nlist-max-ziplist-size 0\nSLAVEOF 10.0.0.1 6380\nhash-max-zipmap-entries 100\n");
    assert_eq!(cfg.hz, 1);
    assert_eq!(get(&cfg, "hz"), "1");
    assert_eq!(cfg.maxmemory, 1 << 30);
    assert_eq!(get(&cfg, "list-max-listpack-size"), "0");
    assert_eq!(get(&cfg, "replicaof"), "10.0.0.1 6380");
    assert_eq!(cfg.hash_max_listpack_entries, 100);
    let cfg = parse("hz 100000\nreplicaof no one\nsave \"\"\n");
    assert_eq!(cfg.hz, 500);
    assert_eq!(cfg.replicaof, None);
    assert!(cfg.save.is_empty());
    assert_eq!(get(&cfg, "save"), "");
    // A multi-argument directive given as one argument is split (`--save "900 1"`).
    let cfg = parse("save \"900 1 300 10\"\n");
    assert_eq!(cfg.save, vec![(900, 1), (300, 10)]);
    // Later lines override earlier ones; bind is replaced, not appended.
    let cfg = parse("port 1\nport 2\nbind 1.1.1.1\nbind 2.2.2.2 3.3.3.3\n");
    assert_eq!(cfg.port, 2);
    assert_eq!(cfg.bind, vec!["2.2.2.2".to_string(), "3.3.3.3".to_string()]);
    // requirepass "" means no password.
    assert_eq!(parse("requirepass \"\"\n").requirepass, None);
}

#[test]
fn command_line_like_redis() {
    let args = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cl = CommandLine::parse(&args(&["/etc/redis.conf", "--port", "7777", "--slaveof", "127.0.0.1", "8888"]));
    assert_eq!(cl.file.as_deref(), Some("/etc/redis.conf"));
    assert!(!cl.from_stdin);
    assert_eq!(cl.options, "port \"7777\" \nslaveof \"127.0.0.1\" \"8888\" ");
    let cl = CommandLine::parse(&args(&["--port", "24005", "--foo", "bar"]));
    assert_eq!(cl.file, None);
    // Like Redis 7, the bad option is reported at line 3 of "\n" + options.
    let err = parse_err(&format!("\n{}", cl.options));
    assert!(err.contains("at line 3\n>>> 'foo \"bar\"'\nBad directive"), "{err}");
    let cl = CommandLine::parse(&args(&["-", "--save", "--appendonly", "no"]));
    assert!(cl.from_stdin);
    assert_eq!(cl.options, "save \"\"\nappendonly \"no\" ");
    let cl = CommandLine::parse(&args(&["--port 7000", "--save"]));
    assert_eq!(cl.options, "port 7000 \nsave \"\"");
    let cl = CommandLine::parse(&args(&["x.conf", "-"]));
    assert!(cl.from_stdin);
    let cfg = parse(&format!("\n{}", CommandLine::parse(&args(&["--save", "900 1", "--port", "1"])).options));
    assert_eq!(cfg.save, vec![(900, 1)]);
}

#[test]
fn config_get_patterns() {
    let cfg = Config::default();
    assert_eq!(cfg.get_matching(&[b"MAXMEMORY"]), vec![("MAXMEMORY".to_string(), "0".to_string())]);
    let names: Vec<String> = cfg.get_matching(&[b"*read-only"]).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["replica-read-only", "slave-read-only"]);
    let names: Vec<String> = cfg.get_matching(&[b"MAXMEM*"]).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 5);
    assert!(cfg.get_matching(&[b"hash-max-zipmap-entries"]).is_empty());
    assert!(cfg.get_matching(&[b"watchdog*"]).is_empty());
    assert_eq!(cfg.get_matching(&[b"watchdog-period"]).len(), 1);
    assert!(cfg.get_matching(&[b"include"]).is_empty());
    assert!(cfg.get_matching(&[b"rename-command"]).is_empty());
    assert!(cfg.get_matching(&[b"list-max-ziplist-entries"]).is_empty());
    // Several patterns, no duplicates.
    let r = cfg.get_matching(&[b"hz", b"h?", b"maxmemory-policy"]);
    assert_eq!(
        r,
        vec![("hz".to_string(), "10".to_string()), ("maxmemory-policy".to_string(), "noeviction".to_string())]
    );
}

#[test]
fn config_set_semantics() {
    let mut cfg = Config::default();
    assert_eq!(
        set(&mut cfg, &[("foo", "bar")]).unwrap_err(),
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    );
    assert_eq!(
        set(&mut cfg, &[("hz", "abc")]).unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"
    );
    assert_eq!(
        set(&mut cfg, &[("daemonize", "no")]).unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"
    );
    assert_eq!(
        set(&mut cfg, &[("dir", "/tmp")]).unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    assert_eq!(
        set(&mut cfg, &[("hz", "10"), ("hz", "11")]).unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter"
    );
    assert_eq!(
        set(&mut cfg, &[("slave-read-only", "maybe")]).unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'slave-read-only') - argument must be 'yes' or 'no'"
    );
    assert_eq!(
        set(&mut cfg, &[("maxmemory-policy", "foo")]).unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
    );
    // An earlier error wins over a later unknown name.
    assert!(set(&mut cfg, &[("daemonize", "no"), ("foo", "1")]).unwrap_err().contains("immutable"));
    // All or nothing.
    assert!(set(&mut cfg, &[("hz", "20"), ("maxmemory", "x")]).is_err());
    assert_eq!(cfg.hz, 10);
    set(&mut cfg, &[("hz", "11"), ("maxmemory-policy", "ALLKEYS-LRU"), ("maxmemory", "10mb")]).unwrap();
    assert_eq!((cfg.hz, cfg.maxmemory_policy.as_str(), cfg.maxmemory), (11, "allkeys-lru", 10 << 20));
    set(&mut cfg, &[("hz", "0")]).unwrap();
    assert_eq!(get(&cfg, "hz"), "1");
    set(&mut cfg, &[("hz", "600")]).unwrap();
    assert_eq!(get(&cfg, "hz"), "500");
    set(&mut cfg, &[("save", "100 10")]).unwrap();
    assert_eq!(cfg.save, vec![(100, 10)]);
    set(&mut cfg, &[("save", "")]).unwrap();
    assert!(cfg.save.is_empty());
    assert_eq!(
        set(&mut cfg, &[("save", "1 2 3")]).unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    );
    set(&mut cfg, &[("client-output-buffer-limit", "slave 1mb 2mb 3")]).unwrap();
    assert_eq!(
        get(&cfg, "client-output-buffer-limit"),
        "normal 0 0 0 slave 1048576 2097152 3 pubsub 33554432 8388608 60"
    );
    set(&mut cfg, &[("notify-keyspace-events", "KEA")]).unwrap();
    assert_eq!(get(&cfg, "notify-keyspace-events"), "AKE");
    assert_eq!(cfg.notify_keyspace_flags, values::notify::ALL | values::notify::KEYSPACE | values::notify::KEYEVENT);
    set(&mut cfg, &[("slave-read-only", "no")]).unwrap();
    assert_eq!(get(&cfg, "replica-read-only"), "no");
    assert!(!cfg.replica_read_only);
    set(&mut cfg, &[("requirepass", "secret")]).unwrap();
    assert_eq!(cfg.requirepass.as_deref(), Some(&b"secret"[..]));
    set(&mut cfg, &[("requirepass", "")]).unwrap();
    assert_eq!(cfg.requirepass, None);
    let out = cfg.set_many(&[(b"loglevel", b"warning")], true).unwrap();
    assert!(out.loglevel_changed);
    // Protected configs need enable-protected-configs.
    let mut cfg = parse("enable-protected-configs local\n");
    assert!(cfg.set_many(&[(b"dbfilename", b"x.rdb")], false).is_err());
    cfg.set_many(&[(b"dbfilename", b"x.rdb")], true).unwrap();
    assert_eq!(cfg.dbfilename, "x.rdb");
}

#[test]
fn rewrite_updates_in_place_and_appends() {
    let old = "# test\nport 24003\nslave-read-only yes\npidfile /tmp/x.pid\nhash-max-ziplist-entries 100\nsave 900 1\nsave 300 10\ninclude /tmp/inc.conf\nrename-command CONFIG \"\"\nmaxmemory 10mb\nhz 10\nhz 11\nunknown-directive 1\n";
    // (The unknown line stands for one added to the file after startup.)
    let mut cfg = Config::parse_str(&old.replace("unknown-directive 1\n", "")).unwrap();
    cfg.set_many(
        &[(b"maxmemory", b"3000000"), (b"replica-read-only", b"no"), (b"save", b""), (b"slowlog-max-len", b"200")],
        true,
    )
    .unwrap();
    cfg.set_many(&[(b"client-output-buffer-limit", b"slave 1mb 2mb 3 pubsub 1gb 0 0")], true).unwrap();
    cfg.set_many(
        &[(b"notify-keyspace-events", b"KEA"), (b"requirepass", b"a b\"c"), (b"repl-backlog-size", b"2048")],
        true,
    )
    .unwrap();
    cfg.set_many(&[(b"lua-time-limit", b"6000"), (b"min-replicas-to-write", b"1")], true).unwrap();
    let out = rewrite::rewrite_content(&cfg, Some(old));
    let cwd = std::env::current_dir().unwrap();
    let expected = format!(
        "# test\nport 24003\nslave-read-only no\npidfile \"/tmp/x.pid\"\nhash-max-ziplist-entries 100\nsave \"\"\n\ninclude /tmp/inc.conf\nrename-command CONFIG \"\"\nmaxmemory 3000000\nhz 11\n\nunknown-directive 1\n{}\nlua-time-limit 6000\nclient-output-buffer-limit slave 1mb 2mb 3\nclient-output-buffer-limit pubsub 1gb 0 0\ndir \"{}\"\nmin-slaves-to-write 1\nnotify-keyspace-events \"AKE\"\nrepl-backlog-size 2kb\nrequirepass \"a b\\\"c\"\nslowlog-max-len 200\n",
        rewrite::SIGNATURE,
        cwd.display()
    );
    assert_eq!(out, expected);
    // The rewritten file loads back to the same values.
    let back = Config::parse_str(&out.replace("unknown-directive 1\n", "")).unwrap();
    for name in [
        "maxmemory",
        "replica-read-only",
        "save",
        "slowlog-max-len",
        "client-output-buffer-limit",
        "notify-keyspace-events",
        "requirepass",
        "hz",
    ] {
        assert_eq!(get(&back, name), get(&cfg, name), "{name}");
    }
    // Rewriting again changes nothing.
    assert_eq!(
        rewrite::rewrite_content(&back, Some(&out)).replace(&format!("dir \"{}\"", cwd.display()), ""),
        out.replace(&format!("dir \"{}\"", cwd.display()), "")
    );
}

#[test]
fn rewrite_of_the_codis_conf_keeps_its_shape() {
    // codis-server 3.2 rewrote redis-6379.conf into what a03 shows; with the include inline we
    // expect the override block to stay and save points to be written once.
    let old = "# codis-server config\ninclude /opt/codis/config/redis.conf\nbind 127.0.0.1\nport 6379\nappendonly no\n# Generated by CONFIG REWRITE\n";
    let mut cfg = Config::parse_str(old).unwrap();
    cfg.set_many(&[(b"save", b"900 1 300 10 60 10000")], true).unwrap();
    let out = rewrite::rewrite_content(&cfg, Some(old));
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        out,
        format!(
            "# codis-server config\ninclude /opt/codis/config/redis.conf\nbind 127.0.0.1\nport 6379\nappendonly no\n# Generated by CONFIG REWRITE\ndir \"{}\"\nsave 900 1\nsave 300 10\nsave 60 10000\n",
            cwd.display()
        )
    );
    // Replication settings use the 3.2 names; a master drops its slaveof lines.
    let old = "slaveof 127.0.0.1 6379\n";
    let cfg = Config::parse_str(old).unwrap();
    assert!(rewrite::rewrite_content(&cfg, Some(old)).starts_with("slaveof 127.0.0.1 6379\n"));
    let mut cfg = Config::default();
    cfg.values[table::index_of("replicaof")] = "10.0.0.1 6380".into();
    assert!(rewrite::rewrite_content(&cfg, None).contains("\nslaveof 10.0.0.1 6380\n"));
    let cfg = Config::default();
    assert!(!rewrite::rewrite_content(&cfg, Some(old)).contains("slaveof"));
}

#[test]
fn rewrite_file_is_atomic_and_keeps_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("rcodis-rewrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("redis.conf");
    std::fs::write(&path, "port 7000\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut cfg = Config::parse_str("port 7000\n").unwrap();
    cfg.config_file = Some(path.clone());
    cfg.set_many(&[(b"maxclients", b"77")], true).unwrap();
    cfg.rewrite().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("port 7000\n# Generated by CONFIG REWRITE\n"), "{text}");
    assert!(text.contains("\nmaxclients 77\n"));
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
    std::fs::remove_dir_all(&dir).unwrap();
    let cfg = Config::default();
    assert_eq!(cfg.rewrite().unwrap_err(), "ERR The server is running without a config file");
}

#[test]
fn codis_6379_conf_loads_from_the_command_line_with_its_include() {
    // The a03 redis-6379.conf as codis-server is started with it (`codis-server FILE`), its
    // `include` pointing at the stock 3.2.11 file; paths moved to a temporary directory and
    // `dir` set to "." so the test process does not change directory.
    let stock = concat!(env!("CARGO_MANIFEST_DIR"), "/src/config/fixtures/redis-3.2.11.conf");
    let tmp = std::env::temp_dir().join(format!("rcodis-a03-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let conf = tmp.join("redis-6379.conf");
    let text = format!(
        "# codis-server config: extern/redis-3.2.11/redis.conf defaults + overrides below\ninclude {stock}\nbind 127.0.0.1\nprotected-mode yes\nport 6379\ndaemonize no\npidfile \"{t}/redis_6379.pid\"\nlogfile \"{t}/redis-6379.log\"\ndir \".\"\ndbfilename \"dump.rdb\"\n\nappendonly no\n# Generated by CONFIG REWRITE\n\nsave 900 1\nsave 300 10\nsave 60 10000\n\n",
        t = tmp.display()
    );
    std::fs::write(&conf, text).unwrap();
    let args = vec![
        conf.to_string_lossy().into_owned(),
        "--port".into(),
        "7000".into(),
        "--loglevel".into(),
        "verbose".into(),
    ];
    let cfg = Config::from_args(&args).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.config_file.as_deref(), Some(conf.as_path()));
    assert_eq!(cfg.port, 7000);
    assert_eq!(cfg.loglevel, "verbose");
    assert_eq!(cfg.save, vec![(900, 1), (300, 10), (60, 10000)]);
    assert_eq!(get(&cfg, "repl-diskless-sync"), "no");
    assert!(cfg.dir.is_absolute());
    std::fs::remove_dir_all(&tmp).unwrap();
    // A missing include is fatal, as in Redis.
    let err = Config::from_args(&["--include".into(), "/nonexistent/x.conf".into()]).unwrap_err();
    assert!(
        err.ends_with("# Fatal error, can't open config file '/nonexistent/x.conf': No such file or directory"),
        "{err}"
    );
}

#[test]
fn rewrite_of_buffer_limits_goes_by_class() {
    let old = "client-output-buffer-limit pubsub 32mb 8mb 60\nclient-output-buffer-limit replica 256mb 64mb 60\n";
    let mut cfg = Config::parse_str(old).unwrap();
    cfg.set_many(&[(b"client-output-buffer-limit", b"replica 1gb 0 0 normal 1mb 1mb 1")], true).unwrap();
    let out = rewrite::rewrite_content(&cfg, Some(old));
    assert!(
        out.starts_with("client-output-buffer-limit pubsub 32mb 8mb 60\nclient-output-buffer-limit slave 1gb 0 0\n# Generated by CONFIG REWRITE\n"),
        "{out}"
    );
    assert!(out.contains("\nclient-output-buffer-limit normal 1mb 1mb 1\n"), "{out}");
}
