//! List commands, with Redis 7.0's replies, errors, notifications and argument checking order.
//!
//! A list is a `VecDeque<Sds>`; OBJECT ENCODING reports "quicklist" for every list, as Redis 7.0
//! does. Emptied lists are deleted.
//!
//! The keyspace side of pushing, popping and moving lives in `list_push`, `list_pop`,
//! `list_pop_many` and `list_move` (creation of the key, notifications, deletion of an emptied
//! key, dirty counter and modified signal) so the blocking commands can reuse them.

use std::collections::VecDeque;

use bytes::Bytes;

use super::error::{self, CmdError};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx, Reply};
use crate::db::Value;
use crate::sds::Sds;
use crate::util::parse_i64;

pub type List = VecDeque<Sds>;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpush),
    CommandSpec::new("rpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpush),
    CommandSpec::new("lpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpushx),
    CommandSpec::new("rpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpushx),
    CommandSpec::new("linsert", 5, WRITE | DENYOOM, (1, 1, 1), linsert),
    CommandSpec::new("lpop", -2, WRITE | FAST, (1, 1, 1), lpop),
    CommandSpec::new("rpop", -2, WRITE | FAST, (1, 1, 1), rpop),
    CommandSpec::new("llen", 2, READONLY | FAST, (1, 1, 1), llen),
    CommandSpec::new("lindex", 3, READONLY, (1, 1, 1), lindex),
    CommandSpec::new("lset", 4, WRITE | DENYOOM, (1, 1, 1), lset),
    CommandSpec::new("lrange", 4, READONLY, (1, 1, 1), lrange),
    CommandSpec::new("ltrim", 4, WRITE, (1, 1, 1), ltrim),
    CommandSpec::new("lpos", -3, READONLY, (1, 1, 1), lpos),
    CommandSpec::new("lrem", 4, WRITE, (1, 1, 1), lrem),
    CommandSpec::new("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), rpoplpush),
    CommandSpec::new("lmove", 5, WRITE | DENYOOM, (1, 2, 1), lmove),
];

const RANK_ZERO: CmdError = CmdError::fixed(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
);

// --- Shared helpers (also used by the hash commands).

/// Records a change of `key`: the modified signal (WATCH, blocked clients) through
/// `Ctx::modified`, with the dirty counter advanced by `dirty` as Redis counts it.
pub(crate) fn touched(ctx: &mut Ctx, key: &[u8], dirty: u64) {
    let before = ctx.state.dirty;
    ctx.modified(key);
    ctx.state.dirty = before + dirty;
}

/// Redis's `getPositiveLongFromObjectOrReply` with its default message: any non-integer or
/// negative value is "out of range, must be positive".
pub(crate) fn positive_i64(arg: &[u8], msg: CmdError) -> Result<i64, CmdError> {
    match parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(msg),
    }
}

// --- Keyspace primitives, reusable by the blocking commands.

/// The list at `key` for writing: `None` when the key is missing, WRONGTYPE for another type.
pub fn list_mut<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c mut List>, CmdError> {
    match ctx.write_value(key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(error::WRONGTYPE),
    }
}

/// The list at `key` for reading (hit/miss accounting) next to the reply buffer.
fn read_list<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<(&'c List, &'c mut Reply)>, CmdError> {
    let Some(at) = ctx.lookup_read(key) else { return Ok(None) };
    let db = ctx.client.db;
    match &ctx.state.dbs[db].entry(at).value {
        Value::List(l) => Ok(Some((l, &mut *ctx.out))),
        _ => Err(error::WRONGTYPE),
    }
}

/// Gives memory back once a list has shrunk well below its capacity (Redis frees quicklist nodes
/// as they empty).
fn shrink_if_sparse(l: &mut List) {
    if l.capacity() > 64 && l.len() * 4 < l.capacity() {
        l.shrink_to(l.len() * 2);
    }
}

fn push_one(l: &mut List, v: Sds, left: bool) {
    if left {
        l.push_front(v)
    } else {
        l.push_back(v)
    }
}

fn pop_one(l: &mut List, left: bool) -> Option<Sds> {
    if left {
        l.pop_front()
    } else {
        l.pop_back()
    }
}

/// LPUSH/RPUSH's effect: pushes `elems` one after the other at the head (`left`) or the tail of
/// the list at `key`, creating it when missing, then signals and notifies. Returns the new length.
pub fn list_push(ctx: &mut Ctx, key: &[u8], elems: &[Bytes], left: bool) -> Result<usize, CmdError> {
    let len = match list_mut(ctx, key)? {
        Some(l) => {
            for e in elems {
                push_one(l, Sds::new(e), left);
            }
            l.len()
        }
        None => {
            let mut l = VecDeque::with_capacity(elems.len());
            for e in elems {
                push_one(&mut l, Sds::new(e), left);
            }
            let n = l.len();
            ctx.add_key(key, Value::List(Box::new(l)));
            n
        }
    };
    touched(ctx, key, elems.len() as u64);
    ctx.notify('l', if left { "lpush" } else { "rpush" }, key);
    Ok(len)
}

/// LPOP/RPOP's effect for one element: `Ok(None)` when the key is missing.
pub fn list_pop(ctx: &mut Ctx, key: &[u8], left: bool) -> Result<Option<Sds>, CmdError> {
    Ok(list_pop_many(ctx, key, left, 1)?.and_then(|mut v| v.pop()))
}

/// Pops up to `count` elements from the head (`left`) or the tail, in pop order, with Redis's
/// `listElementsRemoved` effects (notification, deletion of the emptied key, dirty += popped).
/// `Ok(None)` when the key is missing; nothing happens when `count` is 0.
pub fn list_pop_many(ctx: &mut Ctx, key: &[u8], left: bool, count: usize) -> Result<Option<Vec<Sds>>, CmdError> {
    let Some(l) = list_mut(ctx, key)? else { return Ok(None) };
    let n = count.min(l.len());
    if n == 0 {
        return Ok(Some(Vec::new()));
    }
    let mut out = Vec::with_capacity(n);
    out.extend((0..n).map_while(|_| pop_one(l, left)));
    shrink_if_sparse(l);
    let empty = l.is_empty();
    ctx.notify('l', if left { "lpop" } else { "rpop" }, key);
    ctx.remove_if_empty(key, empty);
    touched(ctx, key, n as u64);
    Ok(Some(out))
}

/// LMOVE's effect: pops from `src` (head when `from_left`) and pushes onto `dst` (head when
/// `to_left`), creating `dst` when missing. `Ok(None)` when `src` is missing; WRONGTYPE when
/// either key holds another type, in which case nothing changes. `src` may equal `dst`
/// (rotation).
pub fn list_move(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<Option<Sds>, CmdError> {
    match list_mut(ctx, src)? {
        None => return Ok(None),
        Some(l) if l.is_empty() => return Ok(None),
        Some(_) => {}
    }
    list_mut(ctx, dst)?;
    let (value, src_empty) = {
        let Some(l) = list_mut(ctx, src)? else { return Ok(None) };
        let Some(v) = pop_one(l, from_left) else { return Ok(None) };
        if src == dst {
            push_one(l, v.clone(), to_left);
        }
        shrink_if_sparse(l);
        (v, l.is_empty())
    };
    if src != dst {
        match list_mut(ctx, dst)? {
            Some(d) => push_one(d, value.clone(), to_left),
            None => {
                ctx.add_key(dst, Value::List(Box::new(VecDeque::from([value.clone()]))));
            }
        }
    }
    touched(ctx, dst, 0);
    ctx.notify('l', if to_left { "lpush" } else { "rpush" }, dst);
    ctx.notify('l', if from_left { "lpop" } else { "rpop" }, src);
    ctx.remove_if_empty(src, src_empty);
    touched(ctx, src, 1);
    Ok(Some(value))
}

/// Index arithmetic shared by LRANGE and LTRIM: the inclusive range `[start, end]` that the
/// (possibly negative) arguments select in a list of `len` elements, or None when empty.
fn clamp_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

/// A (possibly negative) index into a list of `len` elements.
fn resolve_index(len: usize, index: i64) -> Option<usize> {
    let i = if index < 0 { len as i64 + index } else { index };
    (0..len as i64).contains(&i).then_some(i as usize)
}

// --- Commands.

fn lpush(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, true, false)
}

fn rpush(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, false, false)
}

fn lpushx(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, true, true)
}

fn rpushx(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, false, true)
}

fn push_generic(ctx: &mut Ctx, left: bool, only_existing: bool) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    if only_existing && list_mut(ctx, key)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let len = list_push(ctx, key, &args[2..], left)?;
    ctx.out.int(len as i64);
    Ok(())
}

fn linsert(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let after = if ctx.arg_is(2, "after") {
        true
    } else if ctx.arg_is(2, "before") {
        false
    } else {
        return Err(error::SYNTAX);
    };
    let key = &args[1];
    let Some(l) = list_mut(ctx, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let pivot = &args[3][..];
    let Some(pos) = l.iter().position(|e| &e[..] == pivot) else {
        ctx.out.int(-1);
        return Ok(());
    };
    l.insert(if after { pos + 1 } else { pos }, Sds::new(&args[4]));
    let len = l.len();
    touched(ctx, key, 1);
    ctx.notify('l', "linsert", key);
    ctx.out.int(len as i64);
    Ok(())
}

fn lpop(ctx: &mut Ctx) -> CmdResult {
    pop_generic(ctx, true)
}

fn rpop(ctx: &mut Ctx) -> CmdResult {
    pop_generic(ctx, false)
}

fn pop_generic(ctx: &mut Ctx, left: bool) -> CmdResult {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(error::wrong_arity(ctx.spec.name));
    }
    let key = &args[1];
    if args.len() == 2 {
        match list_pop(ctx, key, left)? {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let count = positive_i64(&args[2], error::NOT_POSITIVE)?;
    if list_mut(ctx, key)?.is_none() {
        ctx.out.null_array();
        return Ok(());
    }
    if count == 0 {
        ctx.out.array(0);
        return Ok(());
    }
    let items = list_pop_many(ctx, key, left, usize::try_from(count).unwrap_or(usize::MAX))?.unwrap_or_default();
    ctx.out.array(items.len());
    for e in &items {
        ctx.out.bulk(e);
    }
    Ok(())
}

fn llen(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let n = read_list(ctx, &args[1])?.map_or(0, |(l, _)| l.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn lindex(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let Some((l, out)) = read_list(ctx, &args[1])? else {
        ctx.out.null();
        return Ok(());
    };
    let index = parse_i64(&args[2]).ok_or(error::NOT_INTEGER)?;
    match resolve_index(l.len(), index) {
        Some(i) => out.bulk(&l[i]),
        None => out.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let Some(l) = list_mut(ctx, key)? else { return Err(error::NO_SUCH_KEY) };
    let index = parse_i64(&args[2]).ok_or(error::NOT_INTEGER)?;
    let i = resolve_index(l.len(), index).ok_or(error::OUT_OF_RANGE)?;
    l[i] = Sds::new(&args[3]);
    ctx.out.ok();
    touched(ctx, key, 1);
    ctx.notify('l', "lset", key);
    Ok(())
}

fn lrange(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let start = parse_i64(&args[2]).ok_or(error::NOT_INTEGER)?;
    let end = parse_i64(&args[3]).ok_or(error::NOT_INTEGER)?;
    let Some((l, out)) = read_list(ctx, &args[1])? else {
        ctx.out.array(0);
        return Ok(());
    };
    match clamp_range(l.len(), start, end) {
        Some((s, e)) => {
            out.array(e - s + 1);
            for v in l.range(s..=e) {
                out.bulk(v);
            }
        }
        None => out.array(0),
    }
    Ok(())
}

fn ltrim(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let start = parse_i64(&args[2]).ok_or(error::NOT_INTEGER)?;
    let end = parse_i64(&args[3]).ok_or(error::NOT_INTEGER)?;
    let key = &args[1];
    let Some(l) = list_mut(ctx, key)? else {
        ctx.out.ok();
        return Ok(());
    };
    let before = l.len();
    match clamp_range(before, start, end) {
        Some((s, e)) => {
            l.truncate(e + 1);
            l.drain(..s);
        }
        None => l.clear(),
    }
    shrink_if_sparse(l);
    let removed = before - l.len();
    let empty = l.is_empty();
    ctx.notify('l', "ltrim", key);
    ctx.remove_if_empty(key, empty);
    touched(ctx, key, removed as u64);
    ctx.out.ok();
    Ok(())
}

fn lpos(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if ctx.arg_is(j, "rank") && more {
            j += 1;
            rank = parse_i64(&args[j]).ok_or(error::NOT_INTEGER)?;
            if rank == 0 {
                return Err(RANK_ZERO);
            }
        } else if ctx.arg_is(j, "count") && more {
            j += 1;
            count = Some(positive_i64(&args[j], CmdError::fixed("ERR COUNT can't be negative"))?);
        } else if ctx.arg_is(j, "maxlen") && more {
            j += 1;
            maxlen = positive_i64(&args[j], CmdError::fixed("ERR MAXLEN can't be negative"))?;
        } else {
            return Err(error::SYNTAX);
        }
        j += 1;
    }
    let Some((l, out)) = read_list(ctx, &args[1])? else {
        if count.is_some() {
            ctx.out.array(0);
        } else {
            ctx.out.null();
        }
        return Ok(());
    };
    // Redis negates a negative rank in a C long: -LONG_MIN stays negative, which makes every
    // match qualify. Wrapping arithmetic reproduces that.
    let from_tail = rank < 0;
    let rank = if from_tail { rank.wrapping_neg() } else { rank };
    let ele = &args[2][..];
    let len = l.len();
    let limit = if maxlen == 0 { len } else { (maxlen as u64).min(len as u64) as usize };
    let positions = (0..limit).map(|i| if from_tail { len - 1 - i } else { i });
    let mut matches: i64 = 0;
    match count {
        None => {
            let found = positions.filter(|&p| &l[p][..] == ele).find(|_| {
                matches += 1;
                matches >= rank
            });
            match found {
                Some(p) => out.int(p as i64),
                None => out.null(),
            }
        }
        Some(count) => {
            let mut found = Vec::new();
            for p in positions {
                if &l[p][..] != ele {
                    continue;
                }
                matches += 1;
                if matches >= rank {
                    found.push(p);
                    if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
                        break;
                    }
                }
            }
            out.array(found.len());
            for p in found {
                out.int(p as i64);
            }
        }
    }
    Ok(())
}

fn lrem(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let toremove = parse_i64(&args[2]).ok_or(error::NOT_INTEGER)?;
    let key = &args[1];
    let Some(l) = list_mut(ctx, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let ele = &args[3][..];
    let limit = toremove.unsigned_abs();
    // Matches to keep before removing: from the tail, the last `limit` matches go.
    let skip = if toremove < 0 {
        let total = l.iter().filter(|e| &e[..] == ele).count() as u64;
        total.saturating_sub(limit)
    } else {
        0
    };
    let mut seen: u64 = 0;
    let mut removed: u64 = 0;
    l.retain(|e| {
        if &e[..] != ele {
            return true;
        }
        seen += 1;
        if seen <= skip || (limit != 0 && removed >= limit) {
            return true;
        }
        removed += 1;
        false
    });
    shrink_if_sparse(l);
    let empty = l.is_empty();
    if removed > 0 {
        touched(ctx, key, removed);
        ctx.notify('l', "lrem", key);
    }
    ctx.remove_if_empty(key, empty);
    ctx.out.int(removed as i64);
    Ok(())
}

fn rpoplpush(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    match list_move(ctx, &args[1], &args[2], false, true)? {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// LEFT or RIGHT (Redis's `getListPositionFromObjectOrReply`): true for LEFT.
pub fn parse_side(arg: &[u8]) -> Result<bool, CmdError> {
    if arg.eq_ignore_ascii_case(b"left") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Ok(false)
    } else {
        Err(error::SYNTAX)
    }
}

fn lmove(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let from_left = parse_side(&args[3])?;
    let to_left = parse_side(&args[4])?;
    match list_move(ctx, &args[1], &args[2], from_left, to_left)? {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_like_redis() {
        assert_eq!(clamp_range(5, 0, -1), Some((0, 4)));
        assert_eq!(clamp_range(5, -100, 100), Some((0, 4)));
        assert_eq!(clamp_range(5, 3, 1), None);
        assert_eq!(clamp_range(5, 5, 10), None);
        assert_eq!(clamp_range(5, -2, -1), Some((3, 4)));
        assert_eq!(clamp_range(5, i64::MIN, i64::MAX), Some((0, 4)));
        assert_eq!(clamp_range(0, 0, -1), None);
        assert_eq!(clamp_range(5, 0, i64::MIN), None);
    }

    #[test]
    fn indexes() {
        assert_eq!(resolve_index(3, -1), Some(2));
        assert_eq!(resolve_index(3, -4), None);
        assert_eq!(resolve_index(3, 3), None);
        assert_eq!(resolve_index(3, i64::MIN), None);
        assert_eq!(resolve_index(0, 0), None);
    }
}
