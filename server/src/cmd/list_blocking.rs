//! Blocking list commands: BLPOP, BRPOP, BRPOPLPUSH, BLMOVE. When nothing can be served they
//! park the client (see `crate::blocking`); a later push re-runs them on the client's behalf.

use super::flags::*;
use super::list::{list_move, list_pop, parse_side};
use super::{CmdResult, CommandSpec, Ctx};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("blpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), blpop),
    CommandSpec::new("brpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), brpop),
    CommandSpec::new("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, (1, 2, 1), brpoplpush),
    CommandSpec::new("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, (1, 2, 1), blmove),
];

fn blpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, true)
}

fn brpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, false)
}

/// Pops from the first non-empty list among the keys, or blocks on all of them.
fn bpop(ctx: &mut Ctx, left: bool) -> CmdResult {
    let args = ctx.args;
    let timeout = ctx.arg_block_timeout(args.len() - 1)?;
    let keys = &args[1..args.len() - 1];
    for key in keys {
        if let Some(v) = list_pop(ctx, key, left)? {
            ctx.out.array(2);
            ctx.out.bulk(key);
            ctx.out.bulk(&v);
            return Ok(());
        }
    }
    ctx.block(keys.to_vec(), timeout);
    Ok(())
}

fn brpoplpush(ctx: &mut Ctx) -> CmdResult {
    let timeout = ctx.arg_block_timeout(3)?;
    bmove(ctx, false, true, timeout)
}

fn blmove(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let from_left = parse_side(&args[3])?;
    let to_left = parse_side(&args[4])?;
    let timeout = ctx.arg_block_timeout(5)?;
    bmove(ctx, from_left, to_left, timeout)
}

fn bmove(ctx: &mut Ctx, from_left: bool, to_left: bool, timeout: i64) -> CmdResult {
    let args = ctx.args;
    match list_move(ctx, &args[1], &args[2], from_left, to_left)? {
        Some(v) => ctx.out.bulk(&v),
        // Inside MULTI/EXEC or a script these answer a null bulk at once, as Redis does.
        None if ctx.client.nested => ctx.out.null(),
        None => ctx.block(vec![args[1].clone()], timeout),
    }
    Ok(())
}
