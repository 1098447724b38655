//! Hash commands, with Redis 7.0's replies (RESP2 and RESP3), errors, notifications and
//! argument checking order.
//!
//! Small hashes keep Redis's listpack order, so their replies match Redis byte for byte; the
//! order of big (hashtable) hashes is our own, as is the cursor of HSCAN over them (see
//! `db::hash`). HINCRBYFLOAT computes in emulated x87 extended precision, as Redis does on
//! x86-64, so its results match digit for digit.

use crate::longdouble as ld;

use std::collections::HashSet;

use rand::Rng;

use super::error::{self, CmdError};
use super::flags::*;
use super::list::touched;
use super::{CmdResult, CommandSpec, Ctx, Reply};
use crate::db::hash::{HashLimits, HashValue};
use crate::db::Value;
use crate::sds::Sds;
use crate::util::{glob_match, parse_i64};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), hset),
    CommandSpec::new("hsetnx", 4, WRITE | DENYOOM | FAST, (1, 1, 1), hsetnx),
    CommandSpec::new("hmset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), hset),
    CommandSpec::new("hget", 3, READONLY | FAST, (1, 1, 1), hget),
    CommandSpec::new("hmget", -3, READONLY | FAST, (1, 1, 1), hmget),
    CommandSpec::new("hdel", -3, WRITE | FAST, (1, 1, 1), hdel),
    CommandSpec::new("hlen", 2, READONLY | FAST, (1, 1, 1), hlen),
    CommandSpec::new("hstrlen", 3, READONLY | FAST, (1, 1, 1), hstrlen),
    CommandSpec::new("hexists", 3, READONLY | FAST, (1, 1, 1), hexists),
    CommandSpec::new("hkeys", 2, READONLY, (1, 1, 1), hkeys),
    CommandSpec::new("hvals", 2, READONLY, (1, 1, 1), hvals),
    CommandSpec::new("hgetall", 2, READONLY, (1, 1, 1), hgetall),
    CommandSpec::new("hincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), hincrby),
    CommandSpec::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, (1, 1, 1), hincrbyfloat),
    CommandSpec::new("hscan", -3, READONLY, (1, 1, 1), hscan),
    CommandSpec::new("hrandfield", -2, READONLY, (1, 1, 1), hrandfield),
];

const NOT_INT_VALUE: CmdError = CmdError::fixed("ERR hash value is not an integer");
const NOT_FLOAT_VALUE: CmdError = CmdError::fixed("ERR hash value is not a float");
const INCR_NAN_INF: CmdError = CmdError::fixed("ERR increment would produce NaN or Infinity");
const ARG_NAN_INF: CmdError = CmdError::fixed("ERR value is NaN or Infinity");
const COUNT_RANGE: CmdError =
    CmdError::fixed("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
const OUT_OF_RANGE: CmdError = CmdError::fixed("ERR value is out of range");
/// Redis's HRANDFIELD_SUB_STRATEGY_MUL.
const SUB_STRATEGY_MUL: u64 = 3;

/// The encoding thresholds from the configuration.
pub fn limits(ctx: &Ctx) -> HashLimits {
    HashLimits {
        max_entries: ctx.state.config.hash_max_listpack_entries,
        max_value: ctx.state.config.hash_max_listpack_value,
    }
}

/// The hash at `key` for reading (hit/miss accounting) next to the reply buffer.
fn read_hash<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<(&'c HashValue, &'c mut Reply)>, CmdError> {
    let Some(at) = ctx.lookup_read(key) else { return Ok(None) };
    let db = ctx.client.db;
    match &ctx.state.dbs[db].entry(at).value {
        Value::Hash(h) => Ok(Some((h, &mut *ctx.out))),
        _ => Err(error::WRONGTYPE),
    }
}

/// The hash at `key` for writing: `None` when missing, WRONGTYPE for another type.
pub fn hash_mut<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c mut HashValue>, CmdError> {
    match ctx.write_value(key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(error::WRONGTYPE),
    }
}

/// The hash at `key` for writing, created empty when missing (Redis's
/// `hashTypeLookupWriteOrCreate`); the caller must add a field.
fn hash_mut_or_create<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<&'c mut HashValue, CmdError> {
    let at = match ctx.lookup_write(key) {
        Some(at) => at,
        None => ctx.add_key(key, Value::Hash(Box::new(HashValue::new()))),
    };
    match &mut ctx.db().entry_mut(at).value {
        Value::Hash(h) => Ok(h),
        _ => Err(error::WRONGTYPE),
    }
}

/// Writes one field (and its value) the way HRANDFIELD/HGETALL-style replies need it.
fn reply_pair(out: &mut Reply, k: &[u8], v: &[u8], withvalues: bool) {
    if withvalues && out.resp3 {
        out.array(2);
    }
    out.bulk(k);
    if withvalues {
        out.bulk(v);
    }
}

fn hset(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if args.len() % 2 == 1 {
        return Err(error::wrong_arity(ctx.spec.name));
    }
    let key = &args[1];
    let limits = limits(ctx);
    let h = hash_mut_or_create(ctx, key)?;
    h.convert_if_long(limits, args[2..].iter().map(|a| a.len()));
    let mut created = 0;
    for pair in args[2..].chunks_exact(2) {
        created += h.set(&pair[0], Sds::new(&pair[1]), limits) as i64;
    }
    if ctx.spec.name == "hset" {
        ctx.out.int(created);
    } else {
        ctx.out.ok();
    }
    touched(ctx, key, (args.len() as u64 - 2) / 2);
    ctx.notify('h', "hset", key);
    Ok(())
}

fn hsetnx(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let limits = limits(ctx);
    let h = hash_mut_or_create(ctx, key)?;
    if h.map.contains_key(&args[2][..]) {
        ctx.out.int(0);
        return Ok(());
    }
    h.convert_if_long(limits, [args[2].len(), args[3].len()]);
    h.set(&args[2], Sds::new(&args[3]), limits);
    ctx.out.int(1);
    touched(ctx, key, 1);
    ctx.notify('h', "hset", key);
    Ok(())
}

fn hget(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    match read_hash(ctx, &args[1])? {
        Some((h, out)) => match h.get(&args[2]) {
            Some(v) => out.bulk(v),
            None => out.null(),
        },
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let fields = &args[2..];
    match read_hash(ctx, &args[1])? {
        Some((h, out)) => {
            out.array(fields.len());
            for f in fields {
                match h.get(f) {
                    Some(v) => out.bulk(v),
                    None => out.null(),
                }
            }
        }
        None => {
            ctx.out.array(fields.len());
            for _ in fields {
                ctx.out.null();
            }
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let Some(h) = hash_mut(ctx, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut deleted = 0u64;
    let mut emptied = false;
    for f in &args[2..] {
        if h.remove(f) {
            deleted += 1;
            if h.is_empty() {
                emptied = true;
                break;
            }
        }
    }
    if deleted > 0 {
        touched(ctx, key, deleted);
        ctx.notify('h', "hdel", key);
        ctx.remove_if_empty(key, emptied);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

fn hlen(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let n = read_hash(ctx, &args[1])?.map_or(0, |(h, _)| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let n = read_hash(ctx, &args[1])?.and_then(|(h, _)| h.get(&args[2]).map(|v| v.len())).unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let found = read_hash(ctx, &args[1])?.is_some_and(|(h, _)| h.get(&args[2]).is_some());
    ctx.out.int(found as i64);
    Ok(())
}

fn hkeys(ctx: &mut Ctx) -> CmdResult {
    getall_generic(ctx, true, false)
}

fn hvals(ctx: &mut Ctx) -> CmdResult {
    getall_generic(ctx, false, true)
}

fn hgetall(ctx: &mut Ctx) -> CmdResult {
    getall_generic(ctx, true, true)
}

fn getall_generic(ctx: &mut Ctx, keys: bool, vals: bool) -> CmdResult {
    let args = ctx.args;
    let both = keys && vals;
    let Some((h, out)) = read_hash(ctx, &args[1])? else {
        if both {
            ctx.out.map(0);
        } else {
            ctx.out.array(0);
        }
        return Ok(());
    };
    if both {
        out.map(h.len());
    } else {
        out.array(h.len());
    }
    for (k, v) in h.iter() {
        if keys {
            out.bulk(k);
        }
        if vals {
            out.bulk(v);
        }
    }
    Ok(())
}

fn hincrby(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let incr = parse_i64(&args[3]).ok_or(error::NOT_INTEGER)?;
    let (key, field) = (&args[1], &args[2]);
    let old = match hash_mut(ctx, key)?.and_then(|h| h.get(field)) {
        Some(v) => parse_i64(v).ok_or(NOT_INT_VALUE)?,
        None => 0,
    };
    let new = old.checked_add(incr).ok_or(error::OVERFLOW)?;
    let limits = limits(ctx);
    let mut buf = itoa::Buffer::new();
    hash_mut_or_create(ctx, key)?.set(field, Sds::new(buf.format(new).as_bytes()), limits);
    ctx.out.int(new);
    touched(ctx, key, 1);
    ctx.notify('h', "hincrby", key);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let incr = ld::string2ld(&args[3]).ok_or(error::NOT_FLOAT)?;
    if !incr.is_finite() {
        return Err(ARG_NAN_INF);
    }
    let (key, field) = (&args[1], &args[2]);
    let old = match hash_mut(ctx, key)?.and_then(|h| h.get(field)) {
        Some(v) => ld::string2ld(v).ok_or(NOT_FLOAT_VALUE)?,
        None => ld::Ld::Zero { neg: false },
    };
    let new = ld::add(old, incr);
    if !new.is_finite() {
        return Err(INCR_NAN_INF);
    }
    let text = ld::format_human(new);
    let limits = limits(ctx);
    hash_mut_or_create(ctx, key)?.set(field, Sds::new(text.as_bytes()), limits);
    ctx.out.bulk(text.as_bytes());
    touched(ctx, key, 1);
    ctx.notify('h', "hincrbyfloat", key);
    Ok(())
}

fn hscan(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let cursor = super::scan::parse_scan_cursor(&args[2])?;
    let Some((h, out)) = read_hash(ctx, &args[1])? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - i >= 2;
        if args[i].eq_ignore_ascii_case(b"count") && more {
            count = parse_i64(&args[i + 1]).ok_or(error::NOT_INTEGER)?;
            if count < 1 {
                return Err(error::SYNTAX);
            }
        } else if args[i].eq_ignore_ascii_case(b"match") && more {
            let p = &args[i + 1][..];
            pattern = if p == b"*" { None } else { Some(p) };
        } else {
            return Err(error::SYNTAX);
        }
        i += 2;
    }
    let mut found: Vec<(&Sds, &Sds)> = Vec::new();
    let next = if h.big {
        let budget = usize::try_from(count).unwrap_or(usize::MAX);
        h.scan(cursor, budget, |k, v| found.push((k, v)))
    } else {
        // A listpack is returned whole, whatever the cursor and COUNT, as Redis does.
        found.extend(h.iter());
        0
    };
    if let Some(p) = pattern {
        found.retain(|(k, _)| glob_match(p, k, false));
    }
    out.array(2);
    let mut buf = itoa::Buffer::new();
    out.bulk(buf.format(next).as_bytes());
    out.array(found.len() * 2);
    for (k, v) in found {
        out.bulk(k);
        out.bulk(v);
    }
    Ok(())
}

fn hrandfield(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if args.len() >= 3 {
        let l = parse_i64(&args[2]).ok_or(error::NOT_INTEGER)?;
        if l == i64::MIN {
            return Err(COUNT_RANGE);
        }
        if args.len() > 4 || (args.len() == 4 && !ctx.arg_is(3, "withvalues")) {
            return Err(error::SYNTAX);
        }
        let withvalues = args.len() == 4;
        if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return Err(OUT_OF_RANGE);
        }
        return hrandfield_count(ctx, l, withvalues);
    }
    let Some(at) = ctx.lookup_read(&args[1]) else {
        ctx.out.null();
        return Ok(());
    };
    let db = ctx.client.db;
    let state = &mut *ctx.state;
    let Value::Hash(h) = &state.dbs[db].entry(at).value else { return Err(error::WRONGTYPE) };
    if h.is_empty() {
        ctx.out.null();
        return Ok(());
    }
    let i = state.rng.random_range(0..h.len());
    if let Some((k, _)) = h.at(i) {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// HRANDFIELD with a count, following Redis's cases: negative counts sample with repetition;
/// a count covering the hash returns it whole in iteration order; a small (listpack) hash
/// returns distinct fields in listpack order; a big one distinct fields in random order.
fn hrandfield_count(ctx: &mut Ctx, l: i64, withvalues: bool) -> CmdResult {
    let args = ctx.args;
    let Some(at) = ctx.lookup_read(&args[1]) else {
        ctx.out.array(0);
        return Ok(());
    };
    let db = ctx.client.db;
    let state = &mut *ctx.state;
    let out = &mut *ctx.out;
    let rng = &mut state.rng;
    let Value::Hash(h) = &state.dbs[db].entry(at).value else { return Err(error::WRONGTYPE) };
    let size = h.len();
    let (count, uniq) = if l >= 0 { (l as u64, true) } else { (l.unsigned_abs(), false) };
    if count == 0 || size == 0 {
        out.array(0);
        return Ok(());
    }
    let header = |out: &mut Reply, n: u64| {
        let n = n as usize;
        out.array(if withvalues && !out.resp3 { n * 2 } else { n });
    };
    let emit = |out: &mut Reply, i: usize| {
        if let Some((k, v)) = h.at(i) {
            reply_pair(out, k, v, withvalues);
        }
    };

    // Case 1: repetitions allowed (or a single field): sample the whole hash each time. The
    // reply is streamed; nothing proportional to the count is allocated.
    if !uniq || count == 1 {
        header(out, count);
        for _ in 0..count {
            emit(out, rng.random_range(0..size));
        }
        return Ok(());
    }

    // Case 2: the count covers the hash: all of it, in iteration order.
    if count >= size as u64 {
        header(out, size as u64);
        for i in 0..size {
            emit(out, i);
        }
        return Ok(());
    }
    let count = count as usize;
    header(out, count as u64);

    // Case 2.5: listpack: distinct fields in listpack order (selection sampling).
    if !h.big {
        let mut needed = count;
        for i in 0..size {
            if needed == 0 {
                break;
            }
            if rng.random_range(0..size - i) < needed {
                emit(out, i);
                needed -= 1;
            }
        }
        return Ok(());
    }

    // Case 3: the count is close to the size: partial shuffle of all positions.
    if count as u64 * SUB_STRATEGY_MUL > size as u64 {
        let mut idx: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = rng.random_range(i..size);
            idx.swap(i, j);
            emit(out, idx[i]);
        }
        return Ok(());
    }

    // Case 4: the count is small against the size: draw until enough distinct positions.
    let mut picked = HashSet::with_capacity(count);
    while picked.len() < count {
        let i = rng.random_range(0..size);
        if picked.insert(i) {
            emit(out, i);
        }
    }
    Ok(())
}
