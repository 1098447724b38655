//! Codis slot commands: SLOTSINFO, SLOTSSCAN, SLOTSDEL, SLOTSHASHKEY, SLOTSCHECK.
//! Replies and error texts follow the codis-server 3.2.11 recordings (`e1_*`).

use compat::slot::{slot_of, MAX_SLOT_NUM};

use super::error::{self, CmdError};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("slotsinfo", -1, READONLY, (0, 0, 0), slotsinfo),
    CommandSpec::new("slotsscan", -3, READONLY | RANDOM, (0, 0, 0), slotsscan),
    CommandSpec::new("slotsdel", -2, WRITE, (0, 0, 0), slotsdel),
    CommandSpec::new("slotshashkey", -1, FAST, (0, 0, 0), slotshashkey),
    CommandSpec::new("slotscheck", 0, READONLY, (0, 0, 0), slotscheck),
];

/// Parses a slot argument: an integer in `0..1024`.
pub fn parse_slot(ctx: &Ctx, i: usize) -> Result<usize, CmdError> {
    let n = ctx.arg_i64(i)?;
    if n < 0 || n >= MAX_SLOT_NUM as i64 {
        return Err(CmdError::msg(format!("ERR invalid slot number = {n}")));
    }
    Ok(n as usize)
}

fn slotsinfo(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(error::wrong_arity("slotsinfo"));
    }
    let start = if ctx.args.len() >= 2 { parse_slot(ctx, 1)? } else { 0 };
    let count = if ctx.args.len() >= 3 {
        let c = ctx.arg_i64(2)?;
        if c < 0 {
            return Err(CmdError::msg(format!("ERR invalid slot count = {c}")));
        }
        c as usize
    } else {
        MAX_SLOT_NUM
    };
    let end = start.saturating_add(count).min(MAX_SLOT_NUM);
    let db = ctx.db_ref();
    let sizes: Vec<(usize, usize)> = (start..end).map(|s| (s, db.slot(s).len())).filter(|&(_, n)| n > 0).collect();
    ctx.out.array(sizes.len());
    for (s, n) in sizes {
        ctx.out.array(2);
        ctx.out.int(s as i64);
        ctx.out.int(n as i64);
    }
    Ok(())
}

fn slotsscan(ctx: &mut Ctx) -> CmdResult {
    let slot = parse_slot(ctx, 1)?;
    let cursor =
        crate::util::parse_i64(&ctx.args[2]).filter(|&c| c >= 0).ok_or(CmdError::fixed("ERR invalid cursor"))? as usize;
    let mut count = 10usize;
    let mut i = 3;
    while i < ctx.args.len() {
        if ctx.arg_is(i, "count") && i + 1 < ctx.args.len() {
            let c = ctx.arg_i64(i + 1)?;
            if c < 1 {
                return Err(error::SYNTAX);
            }
            count = c as usize;
            i += 2;
        } else {
            return Err(error::SYNTAX);
        }
    }
    let now = ctx.now_ms;
    let mut keys = Vec::new();
    let next = crate::db::scan_slot(ctx.db_ref().slot(slot), cursor, count, |e| {
        if !e.is_expired(now) {
            keys.push(e.key.clone());
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(keys.len());
    for k in keys {
        ctx.out.bulk(&k);
    }
    Ok(())
}

fn slotsdel(ctx: &mut Ctx) -> CmdResult {
    let slots = (1..ctx.args.len()).map(|i| parse_slot(ctx, i)).collect::<Result<Vec<_>, _>>()?;
    ctx.out.array(slots.len());
    for s in slots {
        let keys: Vec<_> = ctx.db_ref().slot(s).entries().iter().map(|e| e.key.clone()).collect();
        for k in &keys {
            ctx.db().remove(k);
            ctx.modified(k);
            ctx.notify('g', "del", k);
        }
        let left = ctx.db_ref().slot(s).len();
        ctx.out.array(2);
        ctx.out.int(s as i64);
        ctx.out.int(left as i64);
    }
    Ok(())
}

fn slotshashkey(ctx: &mut Ctx) -> CmdResult {
    ctx.out.array(ctx.args.len() - 1);
    for i in 1..ctx.args.len() {
        let s = slot_of(&ctx.args[i]);
        ctx.out.int(s as i64);
    }
    Ok(())
}

/// Verifies that every key sits in the table of its own slot and can be found through the
/// index; codis-server does the same walk over its slot dictionaries.
fn slotscheck(ctx: &mut Ctx) -> CmdResult {
    for db in &ctx.state.dbs {
        for slot in 0..MAX_SLOT_NUM {
            for e in db.slot(slot).entries() {
                if slot_of(&e.key) != slot || db.locate(&e.key).is_none() {
                    let key = String::from_utf8_lossy(&e.key).into_owned();
                    return Err(CmdError::msg(format!(
                        "ERR slotscheck failed: key '{key}' not found in slot {slot} of db {}",
                        db.id
                    )));
                }
            }
        }
    }
    ctx.out.ok();
    Ok(())
}
