//! Replication commands: SYNC, PSYNC, REPLCONF, SLAVEOF / REPLICAOF, WAIT.

use super::error::CmdError;
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};
use crate::repl::{self, master::SyncOutcome};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sync", 1, READONLY | ADMIN | NOSCRIPT, (0, 0, 0), sync),
    CommandSpec::new("psync", 3, READONLY | ADMIN | NOSCRIPT, (0, 0, 0), psync),
    CommandSpec::new("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), replconf),
    CommandSpec::new("slaveof", 3, ADMIN | NOSCRIPT | STALE, (0, 0, 0), slaveof),
    CommandSpec::new("replicaof", 3, ADMIN | NOSCRIPT | STALE, (0, 0, 0), slaveof),
    CommandSpec::new("wait", 3, NOSCRIPT, (0, 0, 0), wait),
];

fn already_replica(ctx: &Ctx) -> bool {
    ctx.state.repl.replicas.iter().any(|r| r.client == ctx.client.id)
}

fn sync(ctx: &mut Ctx) -> CmdResult {
    if already_replica(ctx) {
        return Ok(());
    }
    if ctx.client.multi.is_some() {
        return Err(CmdError::msg("ERR Replica can't be in MULTI state"));
    }
    match repl::master::sync(ctx.state, ctx.client.id, None) {
        Ok(SyncOutcome::Full(r) | SyncOutcome::Continue(r)) => {
            ctx.out.raw(&r);
            Ok(())
        }
        Err(e) => Err(CmdError::msg(e)),
    }
}

fn psync(ctx: &mut Ctx) -> CmdResult {
    if already_replica(ctx) {
        return Ok(());
    }
    let replid = String::from_utf8_lossy(&ctx.args[1]).to_string();
    let offset: i64 = std::str::from_utf8(&ctx.args[2]).ok().and_then(|s| s.parse().ok()).unwrap_or(-1);
    match repl::master::sync(ctx.state, ctx.client.id, Some((&replid, offset))) {
        Ok(SyncOutcome::Full(r) | SyncOutcome::Continue(r)) => {
            ctx.out.raw(&r);
            Ok(())
        }
        Err(e) => Err(CmdError::msg(e)),
    }
}

fn replconf(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len().is_multiple_of(2) {
        return Err(CmdError::msg("ERR syntax error"));
    }
    let id = ctx.client.id;
    let mut i = 1;
    while i + 1 < ctx.args.len() {
        let opt = String::from_utf8_lossy(&ctx.args[i]).to_ascii_lowercase();
        let val = &ctx.args[i + 1];
        match opt.as_str() {
            "listening-port" => {
                let p = std::str::from_utf8(val)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| CmdError::msg("ERR value is not an integer or out of range"))?;
                ctx.state.repl.confs.entry(id).or_default().listening_port = p;
            }
            "ip-address" => {
                ctx.state.repl.confs.entry(id).or_default().ip = Some(String::from_utf8_lossy(val).to_string());
            }
            "capa" => {
                let conf = ctx.state.repl.confs.entry(id).or_default();
                if val.eq_ignore_ascii_case(b"psync2") {
                    conf.psync2 = true;
                } else if val.eq_ignore_ascii_case(b"eof") {
                    conf.eof = true;
                }
            }
            "ack" => {
                // Sent by replicas on the stream: never answered.
                if let Some(off) = std::str::from_utf8(val).ok().and_then(|s| s.parse().ok()) {
                    repl::master::ack(ctx.state, id, off);
                }
                return Ok(());
            }
            "fack" => return Ok(()),
            "getack" => {
                // Only meaningful on the stream from our master (handled by the link).
                return Ok(());
            }
            "rdb-only" | "rdb-filter-only" => {}
            _ => {
                return Err(CmdError::msg(format!(
                    "ERR Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(&ctx.args[i])
                )))
            }
        }
        i += 2;
    }
    ctx.out.ok();
    Ok(())
}

fn slaveof(ctx: &mut Ctx) -> CmdResult {
    let st = &mut *ctx.state;
    if ctx.args[1].eq_ignore_ascii_case(b"no") && ctx.args[2].eq_ignore_ascii_case(b"one") {
        if st.config.replicaof.is_some() {
            repl::set_master(st, None);
            // Promoted: keep the old history as replid2 so replicas of the old master can
            // continue with us (PSYNC2).
            let r = &mut st.repl;
            r.replid2 = std::mem::replace(&mut r.replid, repl::random_id());
            r.second_replid_offset = r.master_repl_offset as i64 + 1;
            r.link_gen += 1;
            r.link.up = false;
            r.link.sync_in_progress = false;
            r.selected_db = None;
            r.link_notify.notify_one();
            repl::master::disconnect_replicas(st);
            tracing::info!("MASTER MODE enabled (user request from 'id={}')", ctx.client.id);
        }
        ctx.out.ok();
        return Ok(());
    }
    if ctx.client.master_link {
        return Err(CmdError::msg("ERR Command is not valid when client is a replica."));
    }
    let host = String::from_utf8_lossy(&ctx.args[1]).to_string();
    let port: u16 = std::str::from_utf8(&ctx.args[2])
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| CmdError::msg("ERR Invalid master port"))?;
    if st.config.replicaof.as_ref().is_some_and(|(h, p)| h.eq_ignore_ascii_case(&host) && *p == port) {
        ctx.out.simple("OK Already connected to specified master");
        return Ok(());
    }
    repl::set_master(st, Some((host.clone(), port)));
    repl::ensure_backlog(st);
    let r = &mut st.repl;
    r.link_gen += 1;
    r.link.up = false;
    r.link.down_since_ms = crate::util::now_ms();
    r.link_notify.notify_one();
    repl::master::disconnect_replicas(st);
    tracing::info!("REPLICAOF {host}:{port} enabled (user request from 'id={}')", ctx.client.id);
    ctx.out.ok();
    Ok(())
}

/// WAIT numreplicas timeout: blocks until `numreplicas` replicas acknowledged every write
/// made before it (replicas are asked with REPLCONF GETACK) or `timeout` ms passed (0 =
/// forever); answers how many did.
fn wait(ctx: &mut Ctx) -> CmdResult {
    if repl::is_replica(ctx.state) {
        return Err(CmdError::msg("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let num = ctx.arg_i64(1)?;
    let timeout = ctx.arg_i64(2)?;
    if timeout < 0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    let offset = ctx.state.repl.master_repl_offset;
    let acked = repl::acked(ctx.state, offset);
    if acked as i64 >= num || ctx.client.nested || ctx.client.multi.is_some() {
        ctx.out.int(acked as i64);
        return Ok(());
    }
    if ctx.state.repl.backlog.is_some() && !ctx.state.repl.replicas.is_empty() {
        let mut buf = Vec::new();
        repl::encode_cmd(&mut buf, &[b"REPLCONF" as &[u8], b"GETACK", b"*"]);
        repl::feed_raw(ctx.state, &buf);
    }
    let deadline_ms = if timeout > 0 { crate::util::now_ms() + timeout } else { 0 };
    ctx.state.repl.waiters.push(repl::Waiter { client: ctx.client.id, offset, num: num as usize, deadline_ms });
    ctx.block(Vec::new(), 0);
    Ok(())
}
