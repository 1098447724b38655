//! Subcommands of container commands (CONFIG GET, OBJECT ENCODING, ...). Redis 7 checks the
//! subcommand name and its arity before running or queuing the command, with its own error
//! texts, and names it `container|sub` in errors; the dispatcher does the same from this table.

/// (container, [(subcommand, arity)]): the subcommands this server implements, Redis 7 arities.
const TABLE: &[(&str, &[(&str, i32)])] = &[
    ("config", &[("get", -3), ("set", -4), ("resetstat", 2), ("rewrite", 2), ("help", 2)]),
    (
        "client",
        &[
            ("getname", 2),
            ("getredir", 2),
            ("id", 2),
            ("info", 2),
            ("kill", -3),
            ("list", -2),
            ("no-evict", 3),
            ("pause", -3),
            ("reply", 3),
            ("setname", 3),
            ("unblock", -3),
            ("unpause", 2),
            ("help", 2),
        ],
    ),
    ("command", &[("count", 2), ("getkeys", -3), ("help", 2), ("info", -2), ("list", -2)]),
    ("object", &[("encoding", 3), ("freq", 3), ("help", 2), ("idletime", 3), ("refcount", 3)]),
    (
        "pubsub",
        &[("channels", -2), ("numpat", 2), ("numsub", -2), ("shardchannels", -2), ("shardnumsub", -2), ("help", 2)],
    ),
    ("script", &[("debug", 3), ("exists", -3), ("flush", -2), ("help", 2), ("kill", 2), ("load", 3)]),
    ("slowlog", &[("get", -2), ("help", 2), ("len", 2), ("reset", 2)]),
    ("latency", &[("doctor", 2), ("help", 2), ("history", 3), ("latest", 2), ("reset", -2)]),
];

/// Checks `args` of container command `name`. Returns the full name (`config|get`) to use in
/// later errors, or the error text Redis gives for an unknown subcommand or a wrong arity.
pub fn check(name: &'static str, args: &[bytes::Bytes]) -> Result<Option<String>, String> {
    let Some((_, subs)) = TABLE.iter().find(|(c, _)| *c == name) else { return Ok(None) };
    if args.len() < 2 {
        return Ok(None);
    }
    let sub = args[1].to_ascii_lowercase();
    match subs.iter().find(|(s, _)| s.as_bytes() == sub.as_slice()) {
        None => {
            let shown = &args[1][..memchr::memchr(0, &args[1]).unwrap_or(args[1].len()).min(128)];
            let container = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
            Err(format!("ERR unknown subcommand '{}'. Try {container} HELP.", String::from_utf8_lossy(shown)))
        }
        Some((s, arity)) => {
            let full = format!("{name}|{s}");
            let argc = args.len() as i32;
            if (*arity > 0 && argc != *arity) || (*arity < 0 && argc < -arity) {
                return Err(format!("ERR wrong number of arguments for '{full}' command"));
            }
            Ok(Some(full))
        }
    }
}
