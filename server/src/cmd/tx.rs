//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Commands issued after MULTI are checked (name, arity) and queued by the dispatcher; EXEC
//! runs them back to back under the server lock, so no other client's command interleaves.

use bytes::Bytes;

use super::error::CmdError;
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};
use crate::client::{Client, Multi};
use crate::server::State;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, NOSCRIPT | LOADING | STALE | FAST, (0, 0, 0), multi),
    CommandSpec::new("exec", 1, NOSCRIPT | LOADING | STALE, (0, 0, 0), exec),
    CommandSpec::new("discard", 1, NOSCRIPT | LOADING | STALE | FAST, (0, 0, 0), discard),
    CommandSpec::new("watch", -2, NOSCRIPT | LOADING | STALE | FAST, (1, -1, 1), watch),
    CommandSpec::new("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST, (0, 0, 0), unwatch),
];

/// Commands that run immediately even inside MULTI.
pub fn runs_inside_multi(name: &str) -> bool {
    matches!(name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

fn multi(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::fixed("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Multi::default());
    ctx.out.ok();
    Ok(())
}

fn discard(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(CmdError::fixed("ERR DISCARD without MULTI"));
    }
    unwatch_all(ctx.state, ctx.client);
    ctx.out.ok();
    Ok(())
}

fn exec(ctx: &mut Ctx) -> CmdResult {
    let Some(tx) = ctx.client.multi.take() else {
        return Err(CmdError::fixed("ERR EXEC without MULTI"));
    };
    let dirty = watched_key_changed(ctx);
    unwatch_all(ctx.state, ctx.client);
    if tx.aborted {
        return Err(CmdError::fixed("EXECABORT Transaction discarded because of previous errors."));
    }
    if dirty {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(tx.queued.len());
    let was_nested = ctx.client.nested;
    ctx.client.nested = true;
    for args in &tx.queued {
        super::execute(ctx.state, ctx.client, args, ctx.out);
        // HELLO inside MULTI may switch the protocol for the replies that follow.
        ctx.out.resp3 = ctx.client.resp3;
    }
    ctx.client.nested = was_nested;
    Ok(())
}

/// Whether EXEC must fail: a watched key was modified, or expired since it was watched.
fn watched_key_changed(ctx: &mut Ctx) -> bool {
    let id = ctx.client.id;
    if ctx.state.clients.get(&id).is_some_and(|c| c.dirty_cas) {
        return true;
    }
    let now = ctx.now_ms;
    ctx.client.watching.iter().any(|(db, key)| ctx.state.dbs[*db].get(key).is_some_and(|e| e.is_expired(now)))
}

fn watch(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::fixed("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.client.db;
    for key in &ctx.args[1..] {
        if ctx.client.watching.iter().any(|(d, k)| *d == db && k == key) {
            continue;
        }
        ctx.client.watching.push((db, key.clone()));
        ctx.state.watched[db].entry(key.clone()).or_default().push(ctx.client.id);
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx) -> CmdResult {
    unwatch_all(ctx.state, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Forgets every WATCH of `client` and clears its dirty flag.
pub fn unwatch_all(state: &mut State, client: &mut Client) {
    for (db, key) in client.watching.drain(..) {
        if let Some(list) = state.watched[db].get_mut(&key) {
            list.retain(|&c| c != client.id);
            if list.is_empty() {
                state.watched[db].remove(&key);
            }
        }
    }
    if let Some(info) = state.clients.get_mut(&client.id) {
        info.dirty_cas = false;
    }
}

/// Queues a command inside MULTI (the dispatcher has checked name and arity).
pub fn queue(client: &mut Client, args: &[Bytes]) {
    if let Some(tx) = client.multi.as_mut() {
        tx.queued.push(args.to_vec());
    }
}

/// Marks the transaction as failed because a command could not be queued.
pub fn flag_error(client: &mut Client) {
    if let Some(tx) = client.multi.as_mut() {
        tx.aborted = true;
    }
}
