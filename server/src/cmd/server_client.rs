//! CLIENT LIST / INFO / KILL / SETNAME / GETNAME / ID / NO-EVICT / GETREDIR / HELP.

use std::fmt::Write as _;

use super::{check_arity, help_reply, unknown_subcommand};
use crate::client::ClientInfo;
use crate::cmd::error::{self, CmdError};
use crate::cmd::{CmdResult, Ctx};

pub fn client(ctx: &mut Ctx) -> CmdResult {
    let sub = String::from_utf8_lossy(&ctx.args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "list" => list(ctx),
        "info" => {
            check_arity(ctx, "client", "info", 2)?;
            let line = describe(ctx, ctx.client.id).unwrap_or_default();
            ctx.out.verbatim(line.as_bytes());
            Ok(())
        }
        "kill" => kill(ctx),
        "unblock" => unblock(ctx),
        "pause" => pause(ctx),
        "unpause" => {
            check_arity(ctx, "client", "unpause", 2)?;
            ctx.state.pause_until_ms = 0;
            ctx.out.ok();
            Ok(())
        }
        "reply" => reply(ctx),
        "setname" => {
            check_arity(ctx, "client", "setname", 3)?;
            let name = ctx.args[2].clone();
            crate::cmd::connection::validate_client_name(&name)?;
            let id = ctx.client.id;
            if let Some(info) = ctx.state.clients.get_mut(&id) {
                info.name = name.to_vec();
            }
            ctx.out.ok();
            Ok(())
        }
        "getname" => {
            check_arity(ctx, "client", "getname", 2)?;
            let id = ctx.client.id;
            match ctx.state.clients.get(&id).map(|c| c.name.clone()).filter(|n| !n.is_empty()) {
                Some(n) => ctx.out.bulk(&n),
                None => ctx.out.null(),
            }
            Ok(())
        }
        "id" => {
            check_arity(ctx, "client", "id", 2)?;
            let id = ctx.client.id;
            ctx.out.int(id as i64);
            Ok(())
        }
        "no-evict" => {
            check_arity(ctx, "client", "no-evict", 3)?;
            // Clients are never evicted here (no maxmemory-clients enforcement).
            if ctx.arg_is(2, "on") || ctx.arg_is(2, "off") {
                ctx.out.ok();
                Ok(())
            } else {
                Err(error::SYNTAX)
            }
        }
        "getredir" => {
            check_arity(ctx, "client", "getredir", 2)?;
            ctx.out.int(-1);
            Ok(())
        }
        "help" => {
            check_arity(ctx, "client", "help", 2)?;
            help_reply(
                ctx.out,
                "CLIENT",
                &[
                    "GETNAME",
                    "    Return the name of the current connection.",
                    "ID",
                    "    Return the ID of the current connection.",
                    "INFO",
                    "    Return information about the current client connection.",
                    "KILL <ip:port>",
                    "    Kill connection made from <ip:port>.",
                    "KILL <option> <value> [<option> <value> [...]]",
                    "    Kill connections. Options are:",
                    "    * ADDR (<ip:port>|<unixsocket>:0)",
                    "      Kill connections made from the specified address",
                    "    * LADDR (<ip:port>|<unixsocket>:0)",
                    "      Kill connections made to specified local address",
                    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                    "      Kill connections by type.",
                    "    * USER <username>",
                    "      Kill connections authenticated by <username>.",
                    "    * SKIPME (YES|NO)",
                    "      Skip killing current connection (default: yes).",
                    "    * ID <client-id>",
                    "      Kill connections by client id.",
                    "LIST [options ...]",
                    "    Return information about client connections. Options:",
                    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                    "      Return clients of specified type.",
                    "SETNAME <name>",
                    "    Assign the name <name> to the current connection.",
                    "NO-EVICT (ON|OFF)",
                    "    Protect current client connection from eviction.",
                ],
            );
            Ok(())
        }
        _ => Err(unknown_subcommand(ctx, "CLIENT")),
    }
}

/// Client types as CLIENT KILL/LIST TYPE name them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Master,
    Pubsub,
}

fn parse_type(t: &[u8]) -> Result<ClientType, CmdError> {
    match t.to_ascii_lowercase().as_slice() {
        b"normal" => Ok(ClientType::Normal),
        b"slave" | b"replica" => Ok(ClientType::Replica),
        b"master" => Ok(ClientType::Master),
        b"pubsub" => Ok(ClientType::Pubsub),
        _ => Err(CmdError::msg(format!("ERR Unknown client type '{}'", String::from_utf8_lossy(t)))),
    }
}

fn type_of(c: &ClientInfo) -> ClientType {
    if c.is_master {
        ClientType::Master
    } else if c.is_replica {
        ClientType::Replica
    } else {
        ClientType::Normal
    }
}

/// CLIENT LIST [TYPE type] [ID id ...]
fn list(ctx: &mut Ctx) -> CmdResult {
    let mut ty = None;
    let mut ids: Option<Vec<u64>> = None;
    let n = ctx.args.len();
    if n == 4 && ctx.arg_is(2, "type") {
        ty = Some(parse_type(&ctx.args[3])?);
    } else if n >= 4 && ctx.arg_is(2, "id") {
        let mut v = Vec::new();
        for a in &ctx.args[3..] {
            let id = crate::util::parse_i64(a).filter(|&i| i > 0).ok_or(CmdError::fixed("ERR Invalid client ID"))?;
            v.push(id as u64);
        }
        ids = Some(v);
    } else if n != 2 {
        return Err(error::SYNTAX);
    }
    let mut text = String::new();
    let candidates: Vec<u64> = ctx.state.clients.keys().copied().collect();
    for id in candidates {
        if ids.as_ref().is_some_and(|v| !v.contains(&id)) {
            continue;
        }
        if let Some(t) = ty {
            if ctx.state.clients.get(&id).map(type_of) != Some(t) {
                continue;
            }
        }
        if let Some(line) = describe(ctx, id) {
            text.push_str(&line);
        }
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// One CLIENT LIST line (with its trailing newline).
///
/// Fields: `id addr laddr fd name age idle flags db sub psub multi qbuf qbuf-free obl oll omem
/// events cmd resp` -- Redis 3.2's set plus `laddr` and `resp` from Redis 7. The calling client
/// is described as it is now (current db, protocol, command `client`), as Redis does.
fn describe(ctx: &Ctx, id: u64) -> Option<String> {
    let c = ctx.state.clients.get(&id)?;
    let now = crate::util::now_ms();
    let me = id == ctx.client.id;
    let mut flags = String::new();
    if c.is_replica {
        flags.push('S');
    }
    if c.is_master {
        flags.push('M');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let (db, resp, cmd, idle) = if me {
        (
            ctx.client.db,
            if ctx.client.resp3 { 3 } else { 2 },
            String::from_utf8_lossy(&ctx.args[0]).to_ascii_lowercase(),
            0,
        )
    } else {
        (c.db, c.resp, c.last_cmd.clone(), (now - c.last_interaction_ms).max(0) / 1000)
    };
    let (obl, oll, omem) = if c.obuf <= 16 * 1024 { (c.obuf, 0, 0) } else { (0, c.obuf.div_ceil(16 * 1024), c.obuf) };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub=0 psub=0 multi=-1 qbuf={} qbuf-free=0 obl={} oll={} omem={} events={} cmd={} resp={}",
        c.id,
        c.addr,
        if me { ctx.client.local_addr } else { c.local_addr },
        c.fd,
        String::from_utf8_lossy(&c.name),
        (now - c.created_ms).max(0) / 1000,
        idle,
        flags,
        db,
        c.qbuf,
        obl,
        oll,
        omem,
        if c.obuf > 0 { "rw" } else { "r" },
        cmd,
        resp
    );
    Some(s)
}

/// Marks a client for closing: its task notices it at once.
fn kill_client(ctx: &mut Ctx, id: u64) {
    if id == ctx.client.id {
        ctx.client.close_after_reply = true;
    }
    if let Some(info) = ctx.state.clients.get_mut(&id) {
        info.kill();
    }
}

/// CLIENT KILL ip:port | CLIENT KILL <filter> <value> ...
fn kill(ctx: &mut Ctx) -> CmdResult {
    check_arity(ctx, "client", "kill", -3)?;
    if ctx.args.len() == 3 {
        let addr = String::from_utf8_lossy(&ctx.args[2]).into_owned();
        let found = ctx.state.clients.values().find(|c| c.addr.to_string() == addr).map(|c| c.id);
        return match found {
            Some(id) => {
                kill_client(ctx, id);
                ctx.out.ok();
                Ok(())
            }
            None => Err(CmdError::fixed("ERR No such client")),
        };
    }
    if !ctx.args.len().is_multiple_of(2) {
        return Err(error::SYNTAX);
    }
    let mut id_filter = None;
    let mut ty = None;
    let mut addr = None;
    let mut laddr = None;
    let mut skipme = true;
    let mut i = 2;
    while i + 1 < ctx.args.len() {
        let v = &ctx.args[i + 1];
        if ctx.arg_is(i, "id") {
            let id = crate::util::parse_i64(v)
                .filter(|&n| n > 0)
                .ok_or(CmdError::fixed("ERR client-id should be greater than 0"))?;
            id_filter = Some(id as u64);
        } else if ctx.arg_is(i, "type") {
            ty = Some(parse_type(v)?);
        } else if ctx.arg_is(i, "addr") {
            addr = Some(String::from_utf8_lossy(v).into_owned());
        } else if ctx.arg_is(i, "laddr") {
            laddr = Some(String::from_utf8_lossy(v).into_owned());
        } else if ctx.arg_is(i, "user") {
            if !v.eq_ignore_ascii_case(b"default") {
                return Err(CmdError::msg(format!("ERR No such user '{}'", String::from_utf8_lossy(v))));
            }
        } else if ctx.arg_is(i, "skipme") {
            if v.eq_ignore_ascii_case(b"yes") {
                skipme = true;
            } else if v.eq_ignore_ascii_case(b"no") {
                skipme = false;
            } else {
                return Err(error::SYNTAX);
            }
        } else {
            return Err(error::SYNTAX);
        }
        i += 2;
    }
    let me = ctx.client.id;
    let victims: Vec<u64> = ctx
        .state
        .clients
        .values()
        .filter(|c| id_filter.is_none_or(|id| c.id == id))
        .filter(|c| ty.is_none_or(|t| type_of(c) == t))
        .filter(|c| addr.as_ref().is_none_or(|a| c.addr.to_string() == *a))
        .filter(|c| laddr.as_ref().is_none_or(|a| c.local_addr.to_string() == *a))
        .filter(|c| !(skipme && c.id == me))
        .map(|c| c.id)
        .collect();
    for &id in &victims {
        kill_client(ctx, id);
    }
    ctx.out.int(victims.len() as i64);
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends a blocking command as if it timed out, or with an
/// error. Replies 1 when the client was blocked.
fn unblock(ctx: &mut Ctx) -> CmdResult {
    if !(3..=4).contains(&ctx.args.len()) {
        return Err(CmdError::msg("ERR wrong number of arguments for 'client|unblock' command"));
    }
    let id = crate::util::parse_i64(&ctx.args[2]).ok_or(error::NOT_INTEGER)?;
    let outcome = match ctx.args.get(3) {
        None => crate::blocking::Unblocked::TimedOut,
        Some(a) if a.eq_ignore_ascii_case(b"timeout") => crate::blocking::Unblocked::TimedOut,
        Some(a) if a.eq_ignore_ascii_case(b"error") => {
            crate::blocking::Unblocked::Error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        }
        Some(_) => return Err(CmdError::fixed("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    let id = id as u64;
    if ctx.state.blocking.unblock(id).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    if let Some(info) = ctx.state.clients.get_mut(&id) {
        info.unblocked = Some(outcome);
        info.kill.notify_one();
    }
    ctx.out.int(1);
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]: holds other clients' commands (all, or only writes).
fn pause(ctx: &mut Ctx) -> CmdResult {
    if !(3..=4).contains(&ctx.args.len()) {
        return Err(CmdError::msg("ERR wrong number of arguments for 'client|pause' command"));
    }
    let ms = crate::util::parse_i64(&ctx.args[2])
        .filter(|&v| v >= 0)
        .ok_or(CmdError::fixed("ERR timeout is not an integer or out of range"))?;
    let writes_only = match ctx.args.get(3) {
        None => false,
        Some(a) if a.eq_ignore_ascii_case(b"all") => false,
        Some(a) if a.eq_ignore_ascii_case(b"write") => true,
        Some(_) => return Err(error::SYNTAX),
    };
    let until = ctx.now_ms.saturating_add(ms);
    // A longer or stricter pause already in force is kept, as Redis does.
    let active = ctx.state.pause_until_ms > ctx.now_ms;
    ctx.state.pause_writes_only = if active { writes_only && ctx.state.pause_writes_only } else { writes_only };
    ctx.state.pause_until_ms = if active { until.max(ctx.state.pause_until_ms) } else { until };
    ctx.out.ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP.
fn reply(ctx: &mut Ctx) -> CmdResult {
    check_arity(ctx, "client", "reply", 3)?;
    let mode = String::from_utf8_lossy(&ctx.args[2]).to_ascii_lowercase();
    match mode.as_str() {
        "on" => {
            ctx.client.reply_off = false;
            ctx.client.skip_next_reply = false;
            ctx.out.ok();
        }
        "off" => ctx.client.reply_off = true,
        "skip" => {
            if !ctx.client.reply_off {
                ctx.client.skip_next_reply = true;
            }
        }
        _ => return Err(error::SYNTAX),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cmd::server::test_util::*;

    #[test]
    fn names_and_ids() {
        let mut st = state();
        let mut c = client(&mut st, 7);
        assert_eq!(run(&mut st, &mut c, &["client", "id"]), ":7\r\n");
        assert_eq!(run(&mut st, &mut c, &["client", "getname"]), "$-1\r\n");
        assert_eq!(
            run(&mut st, &mut c, &["client", "setname", "a b"]),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
        assert_eq!(
            run(&mut st, &mut c, &["client", "setname"]),
            "-ERR wrong number of arguments for 'client|setname' command\r\n"
        );
        assert_eq!(run(&mut st, &mut c, &["client", "setname", "app1"]), "+OK\r\n");
        assert_eq!(run(&mut st, &mut c, &["client", "getname"]), "$4\r\napp1\r\n");
        assert_eq!(run(&mut st, &mut c, &["client", "setname", ""]), "+OK\r\n");
        assert_eq!(run(&mut st, &mut c, &["client", "getname"]), "$-1\r\n");
        assert_eq!(run(&mut st, &mut c, &["client", "foo"]), "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n");
        assert_eq!(run(&mut st, &mut c, &["client"]), "-ERR wrong number of arguments for 'client' command\r\n");
    }

    #[test]
    fn list_and_info_lines() {
        let mut st = state();
        let mut c = client(&mut st, 3);
        let _other = client(&mut st, 4);
        run(&mut st, &mut c, &["client", "setname", "me"]);
        run(&mut st, &mut c, &["select", "2"]);
        let r = run(&mut st, &mut c, &["client", "list"]);
        let body = r.split_once("\r\n").unwrap().1;
        let lines: Vec<&str> = body.trim_end_matches("\r\n").lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "id=3 addr=127.0.0.1:40003 laddr=127.0.0.1:6379 fd=-1 name=me age=0 idle=0 flags=N db=2 sub=0 psub=0 multi=-1 qbuf=0 qbuf-free=0 obl=0 oll=0 omem=0 events=r cmd=client resp=2"
        );
        assert!(lines[1].starts_with("id=4 addr=127.0.0.1:40004 "));
        assert!(lines[1].ends_with(" cmd=NULL resp=2"));
        let r = run(&mut st, &mut c, &["client", "info"]);
        assert!(r.contains("\r\nid=3 addr=127.0.0.1:40003 "), "{r}");
        assert!(r.ends_with("resp=2\n\r\n"));
        let r = run(&mut st, &mut c, &["client", "list", "id", "4"]);
        assert!(r.contains("id=4 ") && !r.contains("id=3 "));
        assert_eq!(run(&mut st, &mut c, &["client", "list", "type", "foo"]), "-ERR Unknown client type 'foo'\r\n");
        assert_eq!(run(&mut st, &mut c, &["client", "list", "id", "x"]), "-ERR Invalid client ID\r\n");
        assert_eq!(run(&mut st, &mut c, &["client", "list", "type", "master"]), "$0\r\n\r\n");
    }

    #[test]
    fn kill_filters() {
        let mut st = state();
        let mut c = client(&mut st, 1);
        let _b = client(&mut st, 2);
        let _d = client(&mut st, 3);
        assert_eq!(run(&mut st, &mut c, &["client", "kill", "1.2.3.4:5"]), "-ERR No such client\r\n");
        assert_eq!(
            run(&mut st, &mut c, &["client", "kill", "id", "abc"]),
            "-ERR client-id should be greater than 0\r\n"
        );
        assert_eq!(run(&mut st, &mut c, &["client", "kill", "id", "0"]), "-ERR client-id should be greater than 0\r\n");
        assert_eq!(run(&mut st, &mut c, &["client", "kill", "type", "foo"]), "-ERR Unknown client type 'foo'\r\n");
        assert_eq!(run(&mut st, &mut c, &["client", "kill", "foo", "bar"]), "-ERR syntax error\r\n");
        assert_eq!(run(&mut st, &mut c, &["client", "kill", "id", "99"]), ":0\r\n");
        assert_eq!(run(&mut st, &mut c, &["client", "kill", "addr", "127.0.0.1:40002"]), ":1\r\n");
        assert!(st.clients[&2].killed);
        assert_eq!(run(&mut st, &mut c, &["client", "kill", "127.0.0.1:40003"]), "+OK\r\n");
        assert!(st.clients[&3].killed);
        // SKIPME yes by default: the caller survives a TYPE NORMAL kill.
        assert_eq!(run(&mut st, &mut c, &["client", "kill", "type", "normal"]), ":2\r\n");
        assert!(!c.close_after_reply);
        assert_eq!(run(&mut st, &mut c, &["client", "kill", "id", "1", "skipme", "no"]), ":1\r\n");
        assert!(c.close_after_reply);
    }
}
