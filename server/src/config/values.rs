//! Parsing and formatting of directive arguments, with Redis 7's error wording.

use super::table::{Kind, Special, SHUTDOWN_FLAGS};

/// Redis's `memtoull`: digits with an optional unit `b`, `k`, `kb`, `m`, `mb`, `g`, `gb`
/// (case-insensitive; `k` = 1000, `kb` = 1024). Like Redis, an empty digit string counts as 0.
pub fn parse_memory(s: &str) -> Option<u128> {
    let digits_end = s.bytes().position(|c| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(digits_end);
    let mul: u128 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.len() > 20 {
        return None;
    }
    let v: u128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    let v = v.checked_mul(mul)?;
    (v <= u64::MAX as u128).then_some(v)
}

/// `yes`/`no` (case-insensitive).
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if s.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn check_bounds(v: i128, min: i128, max: i128) -> Result<i128, String> {
    if v < min || v > max {
        Err(format!("argument must be between {min} and {max} inclusive"))
    } else {
        Ok(v)
    }
}

/// Validates a single-argument value of `kind` and returns the form CONFIG GET shows.
pub fn normalize_single(kind: Kind, v: &str) -> Result<String, String> {
    match kind {
        Kind::Bool => {
            parse_bool(v).map(|b| yes_no(b).to_string()).ok_or_else(|| "argument must be 'yes' or 'no'".to_string())
        }
        Kind::Int(min, max) => {
            let n = crate::util::parse_i64(v.as_bytes()).ok_or("argument couldn't be parsed into an integer")?;
            Ok(check_bounds(n as i128, min, max)?.to_string())
        }
        Kind::Mem(min, max) => {
            let n = parse_memory(v).ok_or("argument must be a memory value")?;
            Ok(check_bounds(n as i128, min, max)?.to_string())
        }
        Kind::Octal(min, max) => {
            let n = if v.is_empty() { None } else { i64::from_str_radix(v, 8).ok() };
            let n = n.ok_or("argument couldn't be parsed as an octal number")?;
            Ok(format!("{:o}", check_bounds(n as i128, min, max)?))
        }
        Kind::Enum(words) => words
            .iter()
            .find(|w| w.eq_ignore_ascii_case(v))
            .map(|w| w.to_string())
            .ok_or_else(|| format!("argument(s) must be one of the following: {}", words.join(", "))),
        Kind::Str => Ok(v.to_string()),
        Kind::Special(_) => unreachable!("special directives are parsed by their own code"),
    }
}

/// `save` points: `(seconds, changes)` pairs. `[""]` clears them.
pub fn parse_save(args: &[String]) -> Result<Vec<(u64, u64)>, String> {
    const ERR: &str = "Invalid save parameters";
    if args.is_empty() || (args.len() == 1 && args[0].is_empty()) {
        return Ok(Vec::new());
    }
    if !args.len().is_multiple_of(2) {
        return Err(ERR.into());
    }
    let mut points = Vec::new();
    for pair in args.chunks(2) {
        let secs: i64 = pair[0].parse().map_err(|_| ERR)?;
        let changes: i64 = pair[1].parse().map_err(|_| ERR)?;
        if secs < 1 || changes < 0 {
            return Err(ERR.into());
        }
        points.push((secs as u64, changes as u64));
    }
    Ok(points)
}

pub fn format_save(points: &[(u64, u64)]) -> String {
    points.iter().map(|(s, c)| format!("{s} {c}")).collect::<Vec<_>>().join(" ")
}

/// Output buffer limits of one client class: hard bytes, soft bytes, soft seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// The classes, in the order CONFIG GET lists them, with the name it uses.
pub const CLIENT_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// Parses `class hard soft seconds [...]` into (class index, limit) pairs.
pub fn parse_buffer_limits(args: &[String]) -> Result<Vec<(usize, BufferLimit)>, String> {
    if args.is_empty() || !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut out = Vec::new();
    for chunk in args.chunks(4) {
        let class = match chunk[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
        };
        let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.".to_string();
        let hard = parse_memory(&chunk[1]).ok_or_else(bad)? as u64;
        let soft = parse_memory(&chunk[2]).ok_or_else(bad)? as u64;
        let secs = crate::util::parse_i64(chunk[3].as_bytes()).filter(|&n| n >= 0).ok_or_else(bad)? as u64;
        out.push((class, BufferLimit { hard, soft, soft_seconds: secs }));
    }
    Ok(out)
}

pub fn format_buffer_limits(limits: &[BufferLimit; 3]) -> String {
    let parts: Vec<String> = limits
        .iter()
        .zip(CLIENT_CLASSES)
        .map(|(l, name)| format!("{name} {} {} {}", l.hard, l.soft, l.soft_seconds))
        .collect();
    parts.join(" ")
}

/// Keyspace notification classes, as bits (Redis's NOTIFY_* values).
pub mod notify {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 12;
    pub const NEW: u32 = 1 << 13;
    /// What `A` stands for.
    pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Parses `notify-keyspace-events` letters into flags (Redis's `keyspaceEventsStringToFlags`).
pub fn parse_notify_flags(s: &str) -> Result<u32, String> {
    use notify::*;
    let mut flags = 0;
    for c in s.chars() {
        flags |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        };
    }
    Ok(flags)
}

/// Flags back to letters, in Redis's canonical order (`keyspaceEventsFlagsToString`).
pub fn format_notify_flags(flags: u32) -> String {
    use notify::*;
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// `host port` or `no one`.
pub fn parse_replicaof(args: &[String]) -> Result<Option<(String, u16)>, String> {
    if args.len() != 2 {
        return Err("wrong number of arguments".into());
    }
    if args[0].eq_ignore_ascii_case("no") && args[1].eq_ignore_ascii_case("one") {
        return Ok(None);
    }
    let port =
        crate::util::parse_i64(args[1].as_bytes()).filter(|p| (0..=65535).contains(p)).ok_or("Invalid master port")?;
    Ok(Some((args[0].clone(), port as u16)))
}

/// Validates a special directive's arguments and returns its CONFIG GET form. (Save, bind,
/// buffer limits and replicaof are stored by the caller, which keeps them typed.)
pub fn normalize_special(sp: Special, args: &[String]) -> Result<String, String> {
    match sp {
        Special::Save => Ok(format_save(&parse_save(args)?)),
        Special::Bind => {
            if args.is_empty() {
                return Err("wrong number of arguments".into());
            }
            if args.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            // `bind ""` (CONFIG SET bind "") means no address.
            Ok(args.iter().filter(|a| !a.is_empty()).cloned().collect::<Vec<_>>().join(" "))
        }
        Special::NotifyKeyspaceEvents => {
            if args.len() != 1 {
                return Err("wrong number of arguments".into());
            }
            Ok(format_notify_flags(parse_notify_flags(&args[0])?))
        }
        Special::ReplicaOf => Ok(parse_replicaof(args)?.map(|(h, p)| format!("{h} {p}")).unwrap_or_default()),
        Special::OomScoreAdjValues => {
            if args.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            let mut vals = Vec::new();
            for a in args {
                let v: i64 = a
                    .parse()
                    .ok()
                    .filter(|v| (-2000..=2000).contains(v))
                    .ok_or("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")?;
                vals.push(v.to_string());
            }
            Ok(vals.join(" "))
        }
        Special::Percentiles => {
            if args.len() == 1 && args[0].is_empty() {
                return Ok(String::new());
            }
            let mut vals = Vec::new();
            for a in args {
                let v = crate::util::parse_f64(a.as_bytes())
                    .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
                if !(0.0..=100.0).contains(&v) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                vals.push(format!("{v}"));
            }
            Ok(vals.join(" "))
        }
        Special::MemOrPercent => {
            if args.len() != 1 {
                return Err("wrong number of arguments".into());
            }
            let v = &args[0];
            if let Some(p) = v.strip_suffix('%') {
                let n = crate::util::parse_i64(p.as_bytes())
                    .filter(|n| *n >= 0)
                    .ok_or("argument must be a memory or percent value")?;
                return Ok(format!("{n}%"));
            }
            let n = parse_memory(v).ok_or("argument must be a memory or percent value")?;
            if n > i64::MAX as u128 {
                return Err(format!("argument must be between 0 and {} inclusive", i64::MAX));
            }
            Ok(n.to_string())
        }
        Special::ShutdownFlags => {
            let mut out = Vec::new();
            for a in args {
                let w = SHUTDOWN_FLAGS.iter().find(|w| w.eq_ignore_ascii_case(a)).ok_or_else(|| {
                    format!("argument(s) must be one of the following: {}", SHUTDOWN_FLAGS.join(", "))
                })?;
                out.push(*w);
            }
            if out.is_empty() {
                return Err("wrong number of arguments".into());
            }
            Ok(out.join(" "))
        }
        Special::Dir => {
            if args.len() != 1 {
                return Err("wrong number of arguments".into());
            }
            Ok(args[0].clone())
        }
        Special::ClientOutputBufferLimit
        | Special::Include
        | Special::RenameCommand
        | Special::User
        | Special::LoadModule
        | Special::Sentinel
        | Special::Deprecated => unreachable!("handled by the caller"),
    }
}

/// A byte count the way CONFIG REWRITE writes it: `1gb`, `64mb`, `16kb` when exact.
pub fn format_memory_for_rewrite(v: u64) -> String {
    const GB: u64 = 1024 * 1024 * 1024;
    const MB: u64 = 1024 * 1024;
    const KB: u64 = 1024;
    if v != 0 && v.is_multiple_of(GB) {
        format!("{}gb", v / GB)
    } else if v != 0 && v.is_multiple_of(MB) {
        format!("{}mb", v / MB)
    } else if v != 0 && v.is_multiple_of(KB) {
        format!("{}kb", v / KB)
    } else {
        v.to_string()
    }
}

/// Redis's `sdscatrepr`: a double-quoted string with escapes for quotes, backslashes and
/// non-printable bytes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s.as_bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// The C library's message for an OS error number (no "(os error N)" suffix).
pub fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            // SAFETY: strerror returns a pointer to a NUL-terminated static or thread-local string.
            let msg = unsafe { std::ffi::CStr::from_ptr(libc::strerror(code)) };
            msg.to_string_lossy().into_owned()
        }
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("0"), Some(0));
        assert_eq!(parse_memory("1"), Some(1));
        assert_eq!(parse_memory("1b"), Some(1));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("1Kb"), Some(1024));
        assert_eq!(parse_memory("5m"), Some(5_000_000));
        assert_eq!(parse_memory("64mb"), Some(64 << 20));
        assert_eq!(parse_memory("2g"), Some(2_000_000_000));
        assert_eq!(parse_memory("1GB"), Some(1 << 30));
        assert_eq!(parse_memory("18446744073709551615"), Some(u64::MAX as u128));
        assert_eq!(parse_memory("18446744073709551616"), None);
        assert_eq!(parse_memory("17179869184gb"), None);
        assert_eq!(parse_memory("1.5gb"), None);
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("1tb"), None);
        assert_eq!(parse_memory(" 1"), None);
        assert_eq!(parse_memory("kb"), Some(0));
    }

    #[test]
    fn single_values() {
        assert_eq!(normalize_single(Kind::Bool, "YES").unwrap(), "yes");
        assert_eq!(normalize_single(Kind::Bool, "1").unwrap_err(), "argument must be 'yes' or 'no'");
        assert_eq!(
            normalize_single(Kind::Int(0, 65535), "70000").unwrap_err(),
            "argument must be between 0 and 65535 inclusive"
        );
        assert_eq!(
            normalize_single(Kind::Int(0, 10), "abc").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            normalize_single(Kind::Int(0, 10), "1.5").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(normalize_single(Kind::Int(-10, 10), "-2").unwrap(), "-2");
        assert_eq!(normalize_single(Kind::Mem(0, u64::MAX as i128), "10mb").unwrap(), "10485760");
        assert_eq!(normalize_single(Kind::Mem(0, 100), "1.5g").unwrap_err(), "argument must be a memory value");
        assert_eq!(
            normalize_single(Kind::Mem(1, 100), "0").unwrap_err(),
            "argument must be between 1 and 100 inclusive"
        );
        assert_eq!(normalize_single(Kind::Octal(0, 0o777), "700").unwrap(), "700");
        assert_eq!(
            normalize_single(Kind::Octal(0, 0o777), "999").unwrap_err(),
            "argument couldn't be parsed as an octal number"
        );
        assert_eq!(normalize_single(Kind::Enum(&["a", "b"]), "B").unwrap(), "b");
        assert_eq!(
            normalize_single(Kind::Enum(&["a", "b"]), "c").unwrap_err(),
            "argument(s) must be one of the following: a, b"
        );
    }

    #[test]
    fn save_points() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_save(&v(&["900", "1", "300", "10"])).unwrap(), vec![(900, 1), (300, 10)]);
        assert_eq!(parse_save(&v(&[""])).unwrap(), vec![]);
        assert_eq!(parse_save(&v(&["900"])).unwrap_err(), "Invalid save parameters");
        assert_eq!(parse_save(&v(&["0", "1"])).unwrap_err(), "Invalid save parameters");
        assert_eq!(parse_save(&v(&["1", "x"])).unwrap_err(), "Invalid save parameters");
        assert_eq!(format_save(&[(3600, 1), (300, 100)]), "3600 1 300 100");
    }

    #[test]
    fn buffer_limits() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let l = parse_buffer_limits(&v(&["replica", "256mb", "64mb", "60"])).unwrap();
        assert_eq!(l, vec![(1, BufferLimit { hard: 256 << 20, soft: 64 << 20, soft_seconds: 60 })]);
        assert!(parse_buffer_limits(&v(&["foo", "1", "2", "3"])).unwrap_err().starts_with("Invalid client class"));
        assert!(parse_buffer_limits(&v(&["normal", "1", "2"])).unwrap_err().starts_with("Wrong number of arguments"));
        assert!(parse_buffer_limits(&v(&["normal", "x", "2", "3"])).unwrap_err().starts_with("Error in hard"));
    }

    #[test]
    fn notify_letters() {
        assert_eq!(format_notify_flags(parse_notify_flags("KEA").unwrap()), "AKE");
        assert_eq!(format_notify_flags(parse_notify_flags("Elg").unwrap()), "glE");
        assert_eq!(format_notify_flags(parse_notify_flags("Ex").unwrap()), "xE");
        assert_eq!(format_notify_flags(parse_notify_flags("").unwrap()), "");
        assert_eq!(format_notify_flags(parse_notify_flags("g$lshzxetdKE").unwrap()), "AKE");
        assert!(parse_notify_flags("Q").is_err());
    }

    #[test]
    fn rewrite_formats() {
        assert_eq!(format_memory_for_rewrite(64 << 20), "64mb");
        assert_eq!(format_memory_for_rewrite(1 << 30), "1gb");
        assert_eq!(format_memory_for_rewrite(2048), "2kb");
        assert_eq!(format_memory_for_rewrite(3000), "3000");
        assert_eq!(format_memory_for_rewrite(0), "0");
        assert_eq!(quote("a b\"c\\\n\x01"), "\"a b\\\"c\\\\\\n\\x01\"");
    }
}
