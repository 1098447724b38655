//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (the engine is in
//! `crate::scripting`).

use super::error::{self, CmdError};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};
use crate::scripting;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("eval", -3, NOSCRIPT, (0, 0, 0), eval),
    CommandSpec::new("evalsha", -3, NOSCRIPT, (0, 0, 0), evalsha),
    CommandSpec::new("eval_ro", -3, NOSCRIPT | READONLY, (0, 0, 0), eval_ro),
    CommandSpec::new("evalsha_ro", -3, NOSCRIPT | READONLY, (0, 0, 0), evalsha_ro),
    CommandSpec::new("script", -2, NOSCRIPT, (0, 0, 0), script),
];

fn eval(ctx: &mut Ctx) -> CmdResult {
    scripting::eval(ctx, false, false)
}

fn evalsha(ctx: &mut Ctx) -> CmdResult {
    scripting::eval(ctx, true, false)
}

fn eval_ro(ctx: &mut Ctx) -> CmdResult {
    scripting::eval(ctx, false, true)
}

fn evalsha_ro(ctx: &mut Ctx) -> CmdResult {
    scripting::eval(ctx, true, true)
}

const HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

fn script(ctx: &mut Ctx) -> CmdResult {
    let sub = String::from_utf8_lossy(&ctx.args[1]).to_ascii_lowercase();
    let argc = ctx.args.len() as i32;
    let arity = match sub.as_str() {
        "help" | "kill" => 2,
        "load" | "debug" => 3,
        "exists" => -3,
        "flush" => -2,
        _ => {
            let name: String = String::from_utf8_lossy(&ctx.args[1]).chars().take(128).collect();
            return Err(CmdError::msg(format!("ERR unknown subcommand '{name}'. Try SCRIPT HELP.")));
        }
    };
    if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
        return Err(error::wrong_arity(&format!("script|{sub}")));
    }
    match sub.as_str() {
        "help" => {
            ctx.out.array(HELP.len());
            for line in HELP {
                ctx.out.simple(line);
            }
        }
        // Outside BUSY (handled by the connection without the lock) no script is running.
        "kill" => return Err(CmdError::fixed(scripting::watch::NOTBUSY)),
        "load" => {
            let body = ctx.args[2].clone();
            let sha = ctx.state.scripting.load(&body)?;
            ctx.out.bulk(sha.as_bytes());
        }
        "exists" => {
            ctx.out.array(ctx.args.len() - 2);
            for i in 2..ctx.args.len() {
                let found = ctx.state.scripting.exists(&ctx.args[i]);
                ctx.out.int(found as i64);
            }
        }
        "flush" => {
            if argc == 3 && !ctx.arg_is(2, "sync") && !ctx.arg_is(2, "async") || argc > 3 {
                return Err(CmdError::fixed("ERR SCRIPT FLUSH only support SYNC|ASYNC option"));
            }
            ctx.state.scripting.flush();
            ctx.out.ok();
        }
        "debug" => {
            if ctx.arg_is(2, "no") {
                ctx.out.ok();
            } else if ctx.arg_is(2, "yes") || ctx.arg_is(2, "sync") {
                return Err(CmdError::fixed("ERR The Lua debugger is not supported by this server"));
            } else {
                return Err(CmdError::fixed("ERR Use SCRIPT DEBUG YES/SYNC/NO"));
            }
        }
        _ => unreachable!("subcommand checked above"),
    }
    Ok(())
}
