//! LMPOP, BLMPOP, ZMPOP, BZMPOP: pop from the first non-empty of several lists or sorted sets.

use bytes::Bytes;

use super::error::{self, CmdError};
use super::flags::*;
use super::list::{list_pop_many, parse_side};
use super::zset::zpop_one;
use super::{CmdResult, CommandSpec, Ctx};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lmpop", -4, WRITE, (0, 0, 0), lmpop),
    CommandSpec::new("blmpop", -5, WRITE | BLOCKING, (0, 0, 0), blmpop),
    CommandSpec::new("zmpop", -4, WRITE, (0, 0, 0), zmpop),
    CommandSpec::new("bzmpop", -5, WRITE | BLOCKING, (0, 0, 0), bzmpop),
];

/// Parsed `numkeys key... WHERE [COUNT n]`.
struct MpopArgs {
    keys: Vec<Bytes>,
    /// LEFT / MIN.
    first: bool,
    count: usize,
}

fn parse_range(arg: &[u8], msg: &'static str) -> Result<usize, CmdError> {
    match crate::util::parse_i64(arg) {
        Some(n) if n >= 1 => Ok(n as usize),
        _ => Err(CmdError::fixed(msg)),
    }
}

fn parse(ctx: &Ctx, numkeys_idx: usize, side: fn(&[u8]) -> Result<bool, CmdError>) -> Result<MpopArgs, CmdError> {
    let args = ctx.args;
    let numkeys = parse_range(&args[numkeys_idx], "ERR numkeys should be greater than 0")?;
    let where_idx = numkeys_idx.saturating_add(numkeys).saturating_add(1);
    if where_idx >= args.len() {
        return Err(error::SYNTAX);
    }
    let first = side(&args[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && args[j].eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            count = Some(parse_range(&args[j + 1], "ERR count should be greater than 0")?);
            j += 2;
        } else {
            return Err(error::SYNTAX);
        }
    }
    Ok(MpopArgs { keys: args[numkeys_idx + 1..where_idx].to_vec(), first, count: count.unwrap_or(1) })
}

fn min_max(arg: &[u8]) -> Result<bool, CmdError> {
    if arg.eq_ignore_ascii_case(b"min") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"max") {
        Ok(false)
    } else {
        Err(error::SYNTAX)
    }
}

/// Pops from the first non-empty list; returns whether something was popped (and replied).
fn list_mpop(ctx: &mut Ctx, a: &MpopArgs) -> Result<bool, CmdError> {
    for key in &a.keys {
        if let Some(items) = list_pop_many(ctx, key, a.first, a.count)? {
            if items.is_empty() {
                continue;
            }
            ctx.out.array(2);
            ctx.out.bulk(key);
            ctx.out.array(items.len());
            for v in items {
                ctx.out.bulk(&v);
            }
            return Ok(true);
        }
    }
    Ok(false)
}

fn zset_mpop(ctx: &mut Ctx, a: &MpopArgs) -> Result<bool, CmdError> {
    for key in &a.keys {
        let mut popped = Vec::new();
        while popped.len() < a.count {
            match zpop_one(ctx, key, !a.first)? {
                Some(p) => popped.push(p),
                None => break,
            }
        }
        if popped.is_empty() {
            continue;
        }
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.array(popped.len());
        for (m, s) in popped {
            ctx.out.array(2);
            ctx.out.bulk(&m);
            ctx.out.double(s);
        }
        return Ok(true);
    }
    Ok(false)
}

fn lmpop(ctx: &mut Ctx) -> CmdResult {
    let a = parse(ctx, 1, parse_side)?;
    if !list_mpop(ctx, &a)? {
        ctx.out.null_array();
    }
    Ok(())
}

fn zmpop(ctx: &mut Ctx) -> CmdResult {
    let a = parse(ctx, 1, min_max)?;
    if !zset_mpop(ctx, &a)? {
        ctx.out.null_array();
    }
    Ok(())
}

fn blmpop(ctx: &mut Ctx) -> CmdResult {
    let a = parse(ctx, 2, parse_side)?;
    let timeout = ctx.arg_block_timeout(1)?;
    if !list_mpop(ctx, &a)? {
        ctx.block(a.keys, timeout);
    }
    Ok(())
}

fn bzmpop(ctx: &mut Ctx) -> CmdResult {
    let a = parse(ctx, 2, min_max)?;
    let timeout = ctx.arg_block_timeout(1)?;
    if !zset_mpop(ctx, &a)? {
        ctx.block(a.keys, timeout);
    }
    Ok(())
}
