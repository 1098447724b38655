//! Connection commands: PING, ECHO, SELECT, AUTH, HELLO, QUIT.

use super::error::{self, CmdError};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, STALE | FAST, (0, 0, 0), ping),
    CommandSpec::new("echo", 2, FAST, (0, 0, 0), echo),
    CommandSpec::new("select", 2, LOADING | STALE | FAST, (0, 0, 0), select),
    CommandSpec::new("auth", -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH, (0, 0, 0), auth),
    CommandSpec::new("hello", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH, (0, 0, 0), hello),
    CommandSpec::new("quit", -1, LOADING | STALE | FAST | NO_AUTH, (0, 0, 0), quit),
];

/// The version this server reports (it replaces codis-server 3.2.11).
pub const REDIS_VERSION: &str = "3.2.11";

fn ping(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 2 {
        return Err(error::wrong_arity("ping"));
    }
    if ctx.client.subscriptions > 0 && !ctx.client.resp3 {
        // Subscribed RESP2 clients get a two-element array they can tell from messages.
        let payload = ctx.args.get(1).cloned().unwrap_or_default();
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(&payload);
        return Ok(());
    }
    match ctx.args.len() {
        1 => ctx.out.simple("PONG"),
        2 => {
            let a = ctx.args[1].clone();
            ctx.out.bulk(&a)
        }
        _ => return Err(error::wrong_arity("ping")),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx) -> CmdResult {
    let a = ctx.args[1].clone();
    ctx.out.bulk(&a);
    Ok(())
}

fn select(ctx: &mut Ctx) -> CmdResult {
    let id = ctx.arg_i64(1)?;
    if id < i32::MIN as i64 || id > i32::MAX as i64 {
        return Err(CmdError::fixed("ERR value is out of range, value must between -2147483648 and 2147483647"));
    }
    if id < 0 || id as usize >= ctx.state.dbs.len() {
        return Err(error::INVALID_DB);
    }
    ctx.client.db = id as usize;
    ctx.out.ok();
    Ok(())
}

/// Checks `user`/`pass` against `requirepass` (only the `default` user exists).
fn check_password(ctx: &mut Ctx, user: Option<&[u8]>, pass: &[u8]) -> CmdResult {
    let ok = match &ctx.state.config.requirepass {
        Some(p) => user.is_none_or(|u| u == b"default") && p.as_slice() == pass,
        None => user.is_none_or(|u| u == b"default"),
    };
    if ok {
        ctx.client.authenticated = true;
        Ok(())
    } else {
        Err(CmdError::fixed("WRONGPASS invalid username-password pair or user is disabled."))
    }
}

fn auth(ctx: &mut Ctx) -> CmdResult {
    match ctx.args.len() {
        2 => {
            if ctx.state.config.requirepass.is_none() {
                return Err(CmdError::fixed(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                ));
            }
            let pass = ctx.args[1].clone();
            check_password(ctx, None, &pass)?;
        }
        3 => {
            let (user, pass) = (ctx.args[1].clone(), ctx.args[2].clone());
            check_password(ctx, Some(&user), &pass)?;
        }
        _ => return Err(error::SYNTAX),
    }
    ctx.out.ok();
    Ok(())
}

/// Checks a client name the way CLIENT SETNAME does.
pub fn validate_client_name(name: &[u8]) -> CmdResult {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::fixed("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

fn hello(ctx: &mut Ctx) -> CmdResult {
    let mut proto = if ctx.client.resp3 { 3 } else { 2 };
    let mut i = 1;
    if ctx.args.len() >= 2 {
        let v = crate::util::parse_i64(&ctx.args[1])
            .ok_or(CmdError::fixed("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::fixed("NOPROTO unsupported protocol version"));
        }
        proto = v;
        i = 2;
    }
    let mut setname = None;
    while i < ctx.args.len() {
        let more = ctx.args.len() - i - 1;
        if ctx.arg_is(i, "auth") && more >= 2 {
            let (user, pass) = (ctx.args[i + 1].clone(), ctx.args[i + 2].clone());
            check_password(ctx, Some(&user), &pass)?;
            i += 3;
        } else if ctx.arg_is(i, "setname") && more >= 1 {
            let name = ctx.args[i + 1].clone();
            validate_client_name(&name)?;
            setname = Some(name);
            i += 2;
        } else {
            let opt = String::from_utf8_lossy(&ctx.args[i]).into_owned();
            return Err(CmdError::msg(format!("ERR Syntax error in HELLO option '{opt}'")));
        }
    }
    if !ctx.client.authenticated {
        return Err(CmdError::fixed(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    let id = ctx.client.id;
    if let Some(name) = setname {
        if let Some(info) = ctx.state.clients.get_mut(&id) {
            info.name = name.to_vec();
        }
    }
    ctx.client.resp3 = proto == 3;
    ctx.out.resp3 = proto == 3;
    let role = ctx.state.role_name();
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto);
    out.bulk(b"id");
    out.int(id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(role.as_bytes());
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

fn quit(ctx: &mut Ctx) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}
