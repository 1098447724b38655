//! Server administration commands: INFO, CONFIG, CLIENT, COMMAND, TIME, LASTSAVE, DEBUG,
//! SHUTDOWN, ROLE.
//!
//! Arity and flags are codis-server 3.2.11's (its COMMAND output, recorded in
//! `e2_codis_server_6379_COMMAND.txt`); replies and error wording follow Redis 7.0 unless the
//! codis recordings say otherwise.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use super::error::{self, CmdError};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx, Reply};

#[path = "server_client.rs"]
mod client_cmd;
#[path = "server_command.rs"]
pub mod command_cmd;
#[path = "server_config.rs"]
mod config_cmd;
#[path = "server_debug.rs"]
mod debug_cmd;
#[path = "server_info.rs"]
pub mod info;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("info", -1, LOADING | STALE, (0, 0, 0), info::info_command),
    CommandSpec::new("config", -2, ADMIN | LOADING | STALE, (0, 0, 0), config_cmd::config),
    CommandSpec::new("client", -2, ADMIN | NOSCRIPT, (0, 0, 0), client_cmd::client),
    CommandSpec::new("command", 0, LOADING | STALE, (0, 0, 0), command_cmd::command),
    CommandSpec::new("time", 1, RANDOM | FAST, (0, 0, 0), time),
    CommandSpec::new("lastsave", 1, RANDOM | FAST, (0, 0, 0), lastsave),
    CommandSpec::new("debug", -1, ADMIN | NOSCRIPT, (0, 0, 0), debug_cmd::debug),
    CommandSpec::new("shutdown", -1, ADMIN | LOADING | STALE, (0, 0, 0), shutdown),
    CommandSpec::new("role", 1, NOSCRIPT | LOADING | STALE, (0, 0, 0), role),
];

/// Woken by SHUTDOWN; `main` waits on it and stops the server.
pub static SHUTDOWN_REQUESTED: Notify = Notify::const_new();

/// Whether the cron runs active expiry (DEBUG SET-ACTIVE-EXPIRE turns it off for tests).
static ACTIVE_EXPIRE: AtomicBool = AtomicBool::new(true);

pub fn active_expire_enabled() -> bool {
    ACTIVE_EXPIRE.load(Ordering::Relaxed)
}

pub use info::cron_sample;

/// `ERR unknown subcommand 'x'. Try CMD HELP.`
fn unknown_subcommand(ctx: &Ctx, cmd: &str) -> CmdError {
    let sub = String::from_utf8_lossy(&ctx.args[1]);
    let sub: String = sub.chars().take(128).collect();
    CmdError::msg(format!("ERR unknown subcommand '{sub}'. Try {cmd} HELP."))
}

/// Redis 7's arity error for a subcommand: `wrong number of arguments for 'config|get' command`.
fn subcommand_arity(cmd: &str, sub: &str) -> CmdError {
    error::wrong_arity(&format!("{cmd}|{sub}"))
}

/// Checks a subcommand's arity the way the command table does (negative = at least).
fn check_arity(ctx: &Ctx, cmd: &str, sub: &str, arity: i32) -> CmdResult {
    let n = ctx.args.len() as i32;
    if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
        Err(subcommand_arity(cmd, sub))
    } else {
        Ok(())
    }
}

/// A HELP reply: the usage line, the subcommand descriptions, and the HELP entry.
fn help_reply(out: &mut Reply, cmd: &str, lines: &[&str]) {
    out.array(lines.len() + 3);
    out.simple(&format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    for l in lines {
        out.simple(l);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}

fn time(ctx: &mut Ctx) -> CmdResult {
    let us = crate::util::now_us();
    ctx.out.array(2);
    ctx.out.bulk_int(us / 1_000_000);
    ctx.out.bulk_int(us % 1_000_000);
    Ok(())
}

fn lastsave(ctx: &mut Ctx) -> CmdResult {
    let t = ctx.state.lastsave;
    ctx.out.int(t);
    Ok(())
}

/// ROLE: `["master", offset, [[ip, port, offset] ...]]`. Replication state arrives with the
/// replication module; until then a master with no replicas.
fn role(ctx: &mut Ctx) -> CmdResult {
    crate::repl::role(ctx.state, ctx.out);
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT].
///
/// Without SAVE/NOSAVE the RDB is saved when save points are configured; the AOF is flushed
/// and fsynced. If the save fails the server keeps running and the command fails, unless FORCE.
/// On success there is no reply: the connection closes and the server exits.
fn shutdown(ctx: &mut Ctx) -> CmdResult {
    let (mut save, mut nosave, mut abort, mut force) = (false, false, false, false);
    for i in 1..ctx.args.len() {
        if ctx.arg_is(i, "nosave") {
            nosave = true;
        } else if ctx.arg_is(i, "save") {
            save = true;
        } else if ctx.arg_is(i, "now") {
        } else if ctx.arg_is(i, "force") {
            force = true;
        } else if ctx.arg_is(i, "abort") {
            abort = true;
        } else {
            return Err(error::SYNTAX);
        }
    }
    if (save && nosave) || (abort && ctx.args.len() > 2) {
        return Err(error::SYNTAX);
    }
    if abort {
        return Err(CmdError::fixed("ERR No shutdown in progress."));
    }
    tracing::warn!("User requested shutdown...");
    let mode = if save {
        Some(true)
    } else if nosave {
        Some(false)
    } else {
        None
    };
    if !crate::persist::prepare_shutdown(ctx.state, mode) && !force {
        return Err(CmdError::fixed("ERR Errors trying to SHUTDOWN. Check logs."));
    }
    ctx.client.close_after_reply = true;
    SHUTDOWN_REQUESTED.notify_one();
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_util {
    //! A State and Client to run commands against in unit tests.

    use bytes::Bytes;

    use crate::client::{Client, ClientInfo};
    use crate::cmd::{execute, Reply};
    use crate::config::Config;
    use crate::server::State;

    pub fn state() -> State {
        State::new(Config::default())
    }

    pub fn client(state: &mut State, id: u64) -> Client {
        let addr = format!("127.0.0.1:{}", 40000 + id).parse().unwrap();
        let local = "127.0.0.1:6379".parse().unwrap();
        let now = crate::util::now_ms();
        state.clients.insert(id, ClientInfo::new(id, -1, addr, local, Default::default(), now));
        Client::new(id, addr, local, true)
    }

    /// Runs one command and returns the raw RESP reply.
    pub fn run(state: &mut State, client: &mut Client, args: &[&str]) -> String {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        let mut out = Reply::new(client.resp3);
        execute(state, client, &args, &mut out);
        String::from_utf8_lossy(&out.buf).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;

    #[test]
    fn time_lastsave_role() {
        let mut st = state();
        let mut c = client(&mut st, 1);
        let r = run(&mut st, &mut c, &["TIME"]);
        let parts: Vec<&str> = r.split("\r\n").collect();
        assert_eq!(parts[0], "*2");
        let secs: i64 = parts[2].parse().unwrap();
        assert!((secs - crate::util::now_ms() / 1000).abs() <= 1);
        assert!(parts[4].parse::<i64>().unwrap() < 1_000_000);
        assert_eq!(run(&mut st, &mut c, &["time", "x"]), "-ERR wrong number of arguments for 'time' command\r\n");
        assert_eq!(run(&mut st, &mut c, &["lastsave"]), format!(":{}\r\n", st.lastsave));
        assert_eq!(run(&mut st, &mut c, &["role"]), "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    }

    #[test]
    fn shutdown_arguments() {
        let mut st = state();
        let mut c = client(&mut st, 1);
        assert_eq!(run(&mut st, &mut c, &["shutdown", "foo"]), "-ERR syntax error\r\n");
        assert_eq!(run(&mut st, &mut c, &["shutdown", "nosave", "save"]), "-ERR syntax error\r\n");
        assert_eq!(run(&mut st, &mut c, &["shutdown", "abort"]), "-ERR No shutdown in progress.\r\n");
        assert!(!c.close_after_reply);
        assert_eq!(run(&mut st, &mut c, &["shutdown", "nosave"]), "");
        assert!(c.close_after_reply);
    }
}
