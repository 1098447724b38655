//! Blocking sorted set commands: BZPOPMIN, BZPOPMAX (see `crate::blocking`).

use super::flags::*;
use super::zset::zpop_one;
use super::{CmdResult, CommandSpec, Ctx};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("bzpopmin", -3, WRITE | NOSCRIPT | FAST | BLOCKING, (1, -2, 1), bzpopmin),
    CommandSpec::new("bzpopmax", -3, WRITE | NOSCRIPT | FAST | BLOCKING, (1, -2, 1), bzpopmax),
];

fn bzpopmin(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, false)
}

fn bzpopmax(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, true)
}

/// Pops from the first non-empty sorted set among the keys (`[key, member, score]`), or blocks.
fn bzpop(ctx: &mut Ctx, max: bool) -> CmdResult {
    let args = ctx.args;
    let timeout = ctx.arg_block_timeout(args.len() - 1)?;
    let keys = &args[1..args.len() - 1];
    for key in keys {
        if let Some((member, score)) = zpop_one(ctx, key, max)? {
            ctx.out.array(3);
            ctx.out.bulk(key);
            ctx.out.bulk(&member);
            ctx.out.double(score);
            return Ok(());
        }
    }
    ctx.block(keys.to_vec(), timeout);
    Ok(())
}
