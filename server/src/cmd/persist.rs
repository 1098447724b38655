//! SAVE, BGSAVE, BGREWRITEAOF (LASTSAVE lives with the server commands). Replies and errors
//! are Redis 7.0's.

use super::error::{self, CmdError};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};
use crate::persist::{self, ChildKind};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("save", 1, ADMIN | NOSCRIPT, (0, 0, 0), save),
    CommandSpec::new("bgsave", -1, ADMIN, (0, 0, 0), bgsave),
    CommandSpec::new("bgrewriteaof", 1, ADMIN, (0, 0, 0), bgrewriteaof),
];

fn save(ctx: &mut Ctx) -> CmdResult {
    if ctx.state.persist.child_kind() == Some(ChildKind::Rdb) {
        return Err(CmdError::fixed("ERR Background save already in progress"));
    }
    persist::save(ctx.state).map_err(|_| CmdError::fixed("ERR"))?;
    ctx.out.ok();
    Ok(())
}

/// BGSAVE [SCHEDULE]
fn bgsave(ctx: &mut Ctx) -> CmdResult {
    let mut schedule = false;
    if ctx.args.len() > 1 {
        if ctx.args.len() == 2 && ctx.arg_is(1, "schedule") {
            schedule = true;
        } else {
            return Err(error::SYNTAX);
        }
    }
    persist::reap_child(ctx.state);
    match ctx.state.persist.child_kind() {
        Some(ChildKind::Rdb) => Err(CmdError::fixed("ERR Background save already in progress")),
        Some(ChildKind::Aof) if schedule => {
            ctx.state.persist.rdb_bgsave_scheduled = true;
            ctx.out.simple("Background saving scheduled");
            Ok(())
        }
        Some(ChildKind::Aof) => Err(CmdError::fixed(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        )),
        None => match persist::bgsave(ctx.state) {
            Ok(_) => {
                ctx.out.simple("Background saving started");
                Ok(())
            }
            Err(_) => Err(CmdError::fixed("ERR")),
        },
    }
}

fn bgrewriteaof(ctx: &mut Ctx) -> CmdResult {
    persist::reap_child(ctx.state);
    match ctx.state.persist.child_kind() {
        Some(ChildKind::Aof) => Err(CmdError::fixed("ERR Background append only file rewriting already in progress")),
        Some(ChildKind::Rdb) => {
            ctx.state.persist.aof_rewrite_scheduled = true;
            ctx.out.simple("Background append only file rewriting scheduled");
            Ok(())
        }
        None if ctx.client.nested => {
            // Inside MULTI: Redis defers the fork to the cron.
            ctx.state.persist.aof_rewrite_scheduled = true;
            ctx.out.simple("Background append only file rewriting scheduled");
            Ok(())
        }
        None => match persist::aof::rewrite_background(ctx.state) {
            Ok(_) => {
                ctx.out.simple("Background append only file rewriting started");
                Ok(())
            }
            Err(_) => Err(CmdError::fixed(
                "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.",
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::server::test_util::*;
    use crate::persist;

    fn tmpdir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rcodis-persist-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn save_and_bgsave_write_a_loadable_rdb() {
        let dir = tmpdir("save");
        let mut st = state();
        st.config.dir = dir.clone();
        let mut c = client(&mut st, 1);
        run(&mut st, &mut c, &["set", "a", "1"]);
        run(&mut st, &mut c, &["rpush", "l", "x", "y"]);
        run(&mut st, &mut c, &["set", "gone", "v"]);
        run(&mut st, &mut c, &["pexpire", "gone", "1"]);
        run(&mut st, &mut c, &["set", "ttl", "v"]);
        run(&mut st, &mut c, &["expire", "ttl", "1000"]);
        assert_eq!(run(&mut st, &mut c, &["save"]), "+OK\r\n");
        assert_eq!(st.dirty, 0);
        std::thread::sleep(std::time::Duration::from_millis(5));
        run(&mut st, &mut c, &["select", "3"]);
        run(&mut st, &mut c, &["sadd", "s", "m"]);
        assert_eq!(run(&mut st, &mut c, &["bgsave"]), "+Background saving started\r\n");
        // A small save may be over already on a fast machine; otherwise both are refused.
        let again = run(&mut st, &mut c, &["bgsave"]);
        assert!(
            again == "-ERR Background save already in progress\r\n" || again == "+Background saving started\r\n",
            "{again}"
        );
        persist::wait_child(&mut st);
        assert_eq!(run(&mut st, &mut c, &["bgsave", "x"]), "-ERR syntax error\r\n");
        run(&mut st, &mut c, &["sadd", "s", "after-fork"]);
        persist::wait_child(&mut st);
        assert!(st.persist.rdb_last_bgsave_ok);
        assert_eq!(st.dirty, 1, "changes made after the fork are kept");

        let mut st2 = state();
        st2.config.dir = dir.clone();
        persist::load_at_startup(&mut st2).unwrap();
        let mut c2 = client(&mut st2, 1);
        assert_eq!(run(&mut st2, &mut c2, &["get", "a"]), "$1\r\n1\r\n");
        assert_eq!(run(&mut st2, &mut c2, &["lrange", "l", "0", "-1"]), "*2\r\n$1\r\nx\r\n$1\r\ny\r\n");
        assert_eq!(run(&mut st2, &mut c2, &["exists", "gone"]), ":0\r\n");
        let ttl = run(&mut st2, &mut c2, &["ttl", "ttl"]);
        assert!(ttl == ":1000\r\n" || ttl == ":999\r\n", "{ttl}");
        run(&mut st2, &mut c2, &["select", "3"]);
        assert_eq!(run(&mut st2, &mut c2, &["smembers", "s"]), "*1\r\n$1\r\nm\r\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn failed_bgsave_denies_writes() {
        let dir = tmpdir("misconf");
        let mut st = state();
        st.config.dir = dir.join("missing-subdir");
        let mut c = client(&mut st, 1);
        run(&mut st, &mut c, &["set", "a", "1"]);
        assert_eq!(run(&mut st, &mut c, &["bgsave"]), "+Background saving started\r\n");
        persist::wait_child(&mut st);
        assert!(!st.persist.rdb_last_bgsave_ok);
        assert!(
            run(&mut st, &mut c, &["set", "a", "2"]).starts_with("-MISCONF Redis is configured to save RDB snapshots")
        );
        assert!(run(&mut st, &mut c, &["ping"]).starts_with("-MISCONF"));
        assert_eq!(run(&mut st, &mut c, &["get", "a"]), "$1\r\n1\r\n");
        assert_eq!(run(&mut st, &mut c, &["save"]), "-ERR\r\n");
        st.config.dir = dir.clone();
        assert_eq!(run(&mut st, &mut c, &["save"]), "+OK\r\n");
        assert_eq!(run(&mut st, &mut c, &["set", "a", "2"]), "+OK\r\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn aof_feed_rewrites_relative_expiries_and_replays() {
        let dir = tmpdir("aof");
        let mut st = state();
        st.config.dir = dir.clone();
        st.config.appendonly = true;
        st.config.save.clear();
        persist::load_at_startup(&mut st).unwrap();
        let mut c = client(&mut st, 1);
        run(&mut st, &mut c, &["set", "k", "v", "ex", "100"]);
        run(&mut st, &mut c, &["setex", "k2", "100", "v2"]);
        run(&mut st, &mut c, &["expire", "k2", "200"]);
        run(&mut st, &mut c, &["sadd", "s", "a", "b", "c"]);
        let popped = run(&mut st, &mut c, &["spop", "s"]);
        run(&mut st, &mut c, &["select", "2"]);
        run(&mut st, &mut c, &["incr", "n"]);
        run(&mut st, &mut c, &["incr", "n"]);
        run(&mut st, &mut c, &["get", "n"]);
        run(&mut st, &mut c, &["multi"]);
        run(&mut st, &mut c, &["get", "n"]);
        run(&mut st, &mut c, &["incr", "n"]);
        run(&mut st, &mut c, &["set", "tx", "1"]);
        assert_eq!(run(&mut st, &mut c, &["exec"]), "*3\r\n$1\r\n2\r\n:3\r\n+OK\r\n");
        run(&mut st, &mut c, &["multi"]);
        run(&mut st, &mut c, &["get", "n"]);
        run(&mut st, &mut c, &["exec"]);
        let text = String::from_utf8_lossy(&std::fs::read(dir.join("appendonly.aof")).unwrap()).into_owned();
        assert!(text.contains("$9\r\nPEXPIREAT\r\n$1\r\nk\r\n"), "{text}");
        assert!(!text.contains("setex") && !text.contains("expire\r\n"), "{text}");
        assert!(text.contains("SREM"), "{text}");
        assert_eq!(text.matches("SELECT").count(), 2);
        assert_eq!(text.matches("MULTI").count(), 1, "{text}");
        assert!(text.ends_with("*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nincr\r\n$1\r\nn\r\n*3\r\n$3\r\nSET\r\n$2\r\ntx\r\n$1\r\n1\r\n*1\r\n$4\r\nEXEC\r\n"), "{text}");

        let mut st2 = state();
        st2.config.dir = dir.clone();
        st2.config.appendonly = true;
        persist::load_at_startup(&mut st2).unwrap();
        let mut c2 = client(&mut st2, 1);
        for key in ["k", "k2"] {
            assert_eq!(run(&mut st, &mut c, &["select", "0"]), "+OK\r\n");
            let a = run(&mut st, &mut c, &["pexpiretime", key]);
            let b = run(&mut st2, &mut c2, &["pexpiretime", key]);
            assert_eq!(a, b, "{key}");
        }
        assert_eq!(run(&mut st, &mut c, &["smembers", "s"]).len(), run(&mut st2, &mut c2, &["smembers", "s"]).len());
        assert!(!run(&mut st2, &mut c2, &["smembers", "s"]).contains(&popped[4..5]));
        run(&mut st2, &mut c2, &["select", "2"]);
        assert_eq!(run(&mut st2, &mut c2, &["mget", "n", "tx"]), "*2\r\n$1\r\n3\r\n$1\r\n1\r\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn truncated_aof_is_repaired_or_refused() {
        let dir = tmpdir("trunc");
        let full = "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n";
        let cut = format!("{full}*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$2\r\n3");
        std::fs::write(dir.join("appendonly.aof"), &cut).unwrap();
        let mut st = state();
        st.config.dir = dir.clone();
        st.config.appendonly = true;
        st.config.set_many(&[(b"aof-load-truncated", b"no")], true).unwrap();
        let err = persist::load_at_startup(&mut st).unwrap_err();
        assert!(err.contains("Unexpected end of file"), "{err}");

        let mut st = state();
        st.config.dir = dir.clone();
        st.config.appendonly = true;
        persist::load_at_startup(&mut st).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("appendonly.aof")).unwrap(), full);
        let mut c = client(&mut st, 1);
        assert_eq!(run(&mut st, &mut c, &["mget", "a", "b", "c"]), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n");
        // Appending continues after the repaired tail.
        run(&mut st, &mut c, &["set", "c", "3"]);
        let mut st2 = state();
        st2.config.dir = dir.clone();
        st2.config.appendonly = true;
        persist::load_at_startup(&mut st2).unwrap();
        let mut c2 = client(&mut st2, 1);
        assert_eq!(run(&mut st2, &mut c2, &["get", "c"]), "$1\r\n3\r\n");

        // An incomplete transaction is reverted.
        let multi = format!("{full}*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n");
        std::fs::write(dir.join("appendonly.aof"), &multi).unwrap();
        let mut st3 = state();
        st3.config.dir = dir.clone();
        st3.config.appendonly = true;
        persist::load_at_startup(&mut st3).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("appendonly.aof")).unwrap(), full);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rewrite_keeps_writes_made_meanwhile() {
        for preamble in ["yes", "no"] {
            let dir = tmpdir(&format!("rewrite-{preamble}"));
            let mut st = state();
            st.config.dir = dir.clone();
            st.config.appendonly = true;
            st.config.save.clear();
            st.config.set_many(&[(b"aof-use-rdb-preamble", preamble.as_bytes())], true).unwrap();
            persist::load_at_startup(&mut st).unwrap();
            let mut c = client(&mut st, 1);
            for i in 0..200 {
                run(&mut st, &mut c, &["rpush", "l", &i.to_string()]);
                run(&mut st, &mut c, &["hset", "h", &format!("f{i}"), "v"]);
                run(&mut st, &mut c, &["zadd", "z", &format!("{}.5", i), &format!("m{i}")]);
            }
            run(&mut st, &mut c, &["set", "t", "v", "px", "100000"]);
            assert_eq!(run(&mut st, &mut c, &["bgrewriteaof"]), "+Background append only file rewriting started\r\n");
            // The child may already have finished on a fast machine; otherwise it is refused.
            let again = run(&mut st, &mut c, &["bgrewriteaof"]);
            assert!(
                again == "-ERR Background append only file rewriting already in progress\r\n"
                    || again == "+Background append only file rewriting started\r\n",
                "{again}"
            );
            run(&mut st, &mut c, &["select", "1"]);
            run(&mut st, &mut c, &["set", "during", "1"]);
            persist::wait_child(&mut st);
            assert!(st.persist.aof_last_bgrewrite_ok);
            run(&mut st, &mut c, &["set", "after", "1"]);
            let data = std::fs::read(dir.join("appendonly.aof")).unwrap();
            assert_eq!(data.starts_with(b"REDIS"), preamble == "yes");
            let mut st2 = state();
            st2.config.dir = dir.clone();
            st2.config.appendonly = true;
            persist::load_at_startup(&mut st2).unwrap();
            let mut c2 = client(&mut st2, 1);
            for cmd in [
                &["lrange", "l", "0", "-1"][..],
                &["hgetall", "h"],
                &["zrange", "z", "0", "-1", "withscores"],
                &["pexpiretime", "t"],
            ] {
                run(&mut st, &mut c, &["select", "0"]);
                run(&mut st2, &mut c2, &["select", "0"]);
                assert_eq!(run(&mut st, &mut c, cmd), run(&mut st2, &mut c2, cmd), "{cmd:?}");
            }
            run(&mut st2, &mut c2, &["select", "1"]);
            assert_eq!(run(&mut st2, &mut c2, &["mget", "during", "after"]), "*2\r\n$1\r\n1\r\n$1\r\n1\r\n");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
