//! DEBUG: the subcommands tools and test suites use (OBJECT, SLEEP, SET-ACTIVE-EXPIRE, LOG,
//! HELP).
//!
//! codis-server 3.2 always allowed DEBUG; Redis 7 gates it behind `enable-debug-command`. We
//! honour that directive but default it to `yes` (see the config table).

use std::sync::atomic::Ordering;

use super::{help_reply, ACTIVE_EXPIRE};
use crate::cmd::error::{self, CmdError};
use crate::cmd::{CmdResult, Ctx};
use crate::db::Value;

pub fn debug(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() < 2 {
        return Err(error::wrong_arity("debug"));
    }
    let allowed = match ctx.state.config.enable_debug_command.as_str() {
        "yes" => true,
        "local" => ctx.client.addr.ip().is_loopback(),
        _ => false,
    };
    if !allowed {
        return Err(CmdError::fixed(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ));
    }
    let sub = String::from_utf8_lossy(&ctx.args[1]).to_ascii_lowercase();
    let n = ctx.args.len();
    match (sub.as_str(), n) {
        ("help", 2) => {
            help_reply(
                ctx.out,
                "DEBUG",
                &[
                    "LOG <message>",
                    "    Write <message> to the server log.",
                    "OBJECT <key>",
                    "    Show low level info about the `key` and associated value.",
                    "RELOAD [NOSAVE]",
                    "    Save the RDB on disk and reload it back to memory. With NOSAVE the",
                    "    RDB file on disk is loaded without saving first.",
                    "SET-ACTIVE-EXPIRE <0|1>",
                    "    Setting it to 0 disables expiring keys in background when they are not",
                    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                    "    default.",
                    "SLEEP <seconds>",
                    "    Stop the server for <seconds>. Decimals allowed.",
                ],
            );
        }
        ("sleep", 3) => {
            // strtod semantics: garbage reads as 0. The state lock is held meanwhile, so the
            // whole server stops, as Redis does.
            let secs = leading_float(&ctx.args[2]);
            if secs > 0.0 {
                std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(1e9)));
            }
            ctx.out.ok();
        }
        ("object", 3) => {
            let key = ctx.args[2].clone();
            let text = object_info(ctx, &key).ok_or(error::NO_SUCH_KEY)?;
            ctx.out.simple(&text);
        }
        ("reload", _) => {
            let mut nosave = false;
            for i in 2..n {
                if ctx.arg_is(i, "nosave") {
                    nosave = true;
                } else {
                    return Err(CmdError::fixed("ERR DEBUG RELOAD only supports the NOSAVE option."));
                }
            }
            crate::persist::debug_reload(ctx.state, nosave).map_err(CmdError::msg)?;
            ctx.out.ok();
        }
        ("set-active-expire", 3) => {
            let on = crate::util::parse_i64(&ctx.args[2]).ok_or(error::NOT_INTEGER)? != 0;
            ACTIVE_EXPIRE.store(on, Ordering::Relaxed);
            ctx.out.ok();
        }
        ("log", 3) => {
            tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(&ctx.args[2]));
            ctx.out.ok();
        }
        _ => {
            let sub = String::from_utf8_lossy(&ctx.args[1]);
            return Err(CmdError::msg(format!(
                "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try DEBUG HELP."
            )));
        }
    }
    Ok(())
}

/// The number at the start of `s`, as C's `strtod` reads it (0 when there is none).
fn leading_float(s: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(s);
    let t = text.trim_start();
    let mut end = 0;
    for i in (1..=t.len()).rev() {
        if t.is_char_boundary(i) && t[..i].parse::<f64>().is_ok() {
            end = i;
            break;
        }
    }
    t[..end].parse::<f64>().unwrap_or(0.0).max(0.0)
}

/// DEBUG OBJECT's line: `Value at:0x... refcount:1 encoding:X serializedlength:N lru:N
/// lru_seconds_idle:N`, plus the quicklist fields for lists (Redis 7 names). The key is looked
/// up without touching its LRU clock or the hit/miss counters, as Redis does.
fn object_info(ctx: &mut Ctx, key: &[u8]) -> Option<String> {
    let lru_now = ctx.state.lru_clock();
    let list_max = ctx.state.config.list_max_listpack_size;
    let compress = ctx.state.config.list_compress_depth;
    let entry = ctx.db_ref().get(key)?;
    let idle = lru_now.wrapping_sub(entry.lru) & 0xFF_FFFF;
    let v = &entry.value;
    let mut s = format!(
        "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        v as *const Value,
        v.encoding(),
        serialized_length(v),
        entry.lru,
        idle
    );
    if let Value::List(l) = v {
        let bytes: usize = l.iter().map(|e| e.len() + 2).sum::<usize>() + 7;
        let node_limit = if list_max < 0 { 4096usize << ((-list_max).clamp(1, 5) - 1) } else { usize::MAX };
        let per_node = if list_max > 0 { list_max as usize } else { usize::MAX };
        let nodes = bytes.div_ceil(node_limit).max(l.len().div_ceil(per_node)).max(1);
        s.push_str(&format!(
            " ql_nodes:{nodes} ql_avg_node:{:.2} ql_listpack_max:{list_max} ql_compressed:{} ql_uncompressed_size:{bytes}",
            l.len() as f64 / nodes as f64,
            (compress != 0) as u8
        ));
    }
    Some(s)
}

/// Length of a string in an RDB: length prefix + bytes (LZF compression is not applied, so
/// long compressible strings read longer than Redis reports).
fn rdb_string_len(len: usize) -> usize {
    let prefix = if len < 1 << 6 {
        1
    } else if len < 1 << 14 {
        2
    } else if len <= u32::MAX as usize {
        5
    } else {
        9
    };
    prefix + len
}

/// An integer as the RDB stores it: 8/16/32-bit encodings, else as a string.
fn rdb_int_len(n: i64) -> usize {
    if i8::try_from(n).is_ok() {
        2
    } else if i16::try_from(n).is_ok() {
        3
    } else if i32::try_from(n).is_ok() {
        5
    } else {
        rdb_string_len(itoa::Buffer::new().format(n).len())
    }
}

/// An estimate of `rdbSavedObjectLen` (exact for strings short of LZF compression;
/// approximate for collections, which Redis stores as listpacks or element by element).
fn serialized_length(v: &Value) -> usize {
    match v {
        Value::Int(n) => rdb_int_len(*n),
        Value::Str(s) => rdb_string_len(s.len()),
        Value::Raw(r) => rdb_string_len(r.len()),
        Value::List(l) => 1 + l.iter().map(|e| rdb_string_len(e.len())).sum::<usize>(),
        Value::Set(s) => 1 + s.members().iter().map(|m| rdb_string_len(m.len())).sum::<usize>(),
        Value::ZSet(z) => 1 + z.ordered().iter().map(|(m, _)| rdb_string_len(m.len()) + 9).sum::<usize>(),
        Value::Hash(_) => 1 + v.heap_size(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::server::test_util::*;

    #[test]
    fn debug_object() {
        let mut st = state();
        let mut c = client(&mut st, 1);
        assert_eq!(run(&mut st, &mut c, &["debug", "object", "nokey"]), "-ERR no such key\r\n");
        run(&mut st, &mut c, &["set", "k", "v"]);
        let r = run(&mut st, &mut c, &["debug", "object", "k"]);
        assert!(r.starts_with("+Value at:0x"), "{r}");
        assert!(r.contains(" refcount:1 encoding:embstr serializedlength:2 lru:"), "{r}");
        assert!(r.ends_with(" lru_seconds_idle:0\r\n"), "{r}");
        run(&mut st, &mut c, &["set", "n", "12345"]);
        assert!(run(&mut st, &mut c, &["debug", "object", "n"]).contains("encoding:int serializedlength:3 "));
        assert_eq!(
            run(&mut st, &mut c, &["debug", "object"]),
            "-ERR unknown subcommand or wrong number of arguments for 'object'. Try DEBUG HELP.\r\n"
        );
        assert_eq!(
            run(&mut st, &mut c, &["debug", "foo"]),
            "-ERR unknown subcommand or wrong number of arguments for 'foo'. Try DEBUG HELP.\r\n"
        );
        assert_eq!(run(&mut st, &mut c, &["debug"]), "-ERR wrong number of arguments for 'debug' command\r\n");
    }

    #[test]
    fn debug_sleep_holds_the_caller() {
        let mut st = state();
        let mut c = client(&mut st, 1);
        let t = std::time::Instant::now();
        assert_eq!(run(&mut st, &mut c, &["debug", "sleep", "0.2"]), "+OK\r\n");
        assert!(t.elapsed() >= std::time::Duration::from_millis(200));
        assert_eq!(run(&mut st, &mut c, &["debug", "sleep", "abc"]), "+OK\r\n");
        assert_eq!(leading_float(b"1.5x"), 1.5);
        assert_eq!(leading_float(b"x"), 0.0);
    }

    #[test]
    fn debug_can_be_disabled() {
        let mut st = state();
        st.config = crate::config::Config::parse_str("enable-debug-command no\n").unwrap();
        let mut c = client(&mut st, 1);
        assert!(run(&mut st, &mut c, &["debug", "sleep", "0"]).starts_with("-ERR DEBUG command not allowed."));
        st.config = crate::config::Config::parse_str("enable-debug-command local\n").unwrap();
        assert_eq!(run(&mut st, &mut c, &["debug", "sleep", "0"]), "+OK\r\n");
    }

    #[test]
    fn rdb_lengths() {
        assert_eq!(rdb_int_len(5), 2);
        assert_eq!(rdb_int_len(12345), 3);
        assert_eq!(rdb_int_len(1 << 20), 5);
        assert_eq!(rdb_int_len(1 << 40), 1 + 13);
        assert_eq!(rdb_string_len(1), 2);
        assert_eq!(rdb_string_len(100), 102);
    }
}
