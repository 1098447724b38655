//! Set commands (Redis 7.0 semantics), plus the small helpers the sorted-set commands share:
//! SCAN cursor and option parsing, Redis's ranged integer arguments, multi-key lookups.
//!
//! Replies list a hashtable-encoded set in insertion order (Redis uses its dict order, which is
//! just as arbitrary); intsets are listed in ascending order like Redis.

use bytes::Bytes;
use rand::Rng;

use super::error::{self, CmdError};
use super::flags::*;
use super::scan::parse_scan_cursor;
use super::{CmdResult, CommandSpec, Ctx, Reply};
use crate::db::set::{SetMember, SetValue};
use crate::db::{Db, KeyPos, Value};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, WRITE | DENYOOM | FAST, (1, 1, 1), sadd),
    CommandSpec::new("srem", -3, WRITE | FAST, (1, 1, 1), srem),
    CommandSpec::new("scard", 2, READONLY | FAST, (1, 1, 1), scard),
    CommandSpec::new("sismember", 3, READONLY | FAST, (1, 1, 1), sismember),
    CommandSpec::new("smismember", -3, READONLY | FAST, (1, 1, 1), smismember),
    CommandSpec::new("smembers", 2, READONLY, (1, 1, 1), smembers),
    CommandSpec::new("srandmember", -2, READONLY, (1, 1, 1), srandmember),
    CommandSpec::new("spop", -2, WRITE | FAST, (1, 1, 1), spop),
    CommandSpec::new("smove", 4, WRITE | FAST, (1, 2, 1), smove),
    CommandSpec::new("sinter", -2, READONLY, (1, -1, 1), sinter),
    CommandSpec::new("sinterstore", -3, WRITE | DENYOOM, (1, -1, 1), sinterstore),
    CommandSpec::new("sintercard", -3, READONLY, (0, 0, 0), sintercard),
    CommandSpec::new("sunion", -2, READONLY, (1, -1, 1), sunion),
    CommandSpec::new("sunionstore", -3, WRITE | DENYOOM, (1, -1, 1), sunionstore),
    CommandSpec::new("sdiff", -2, READONLY, (1, -1, 1), sdiff),
    CommandSpec::new("sdiffstore", -3, WRITE | DENYOOM, (1, -1, 1), sdiffstore),
    CommandSpec::new("sscan", -3, READONLY, (1, 1, 1), sscan),
];

/// Key positions of SINTERCARD (`numkeys key...`), for COMMAND GETKEYS and routing; the
/// static (first, last, step) triple cannot express them.
#[allow(dead_code)]
pub fn sintercard_keys(args: &[Bytes]) -> Vec<usize> {
    numkeys_positions(args, 1)
}

/// Positions of the keys announced by a `numkeys` argument at `idx` (ZUNION, SINTERCARD...).
pub fn numkeys_positions(args: &[Bytes], idx: usize) -> Vec<usize> {
    let n = args.get(idx).and_then(|a| crate::util::parse_i64(a)).unwrap_or(0);
    if n <= 0 {
        return Vec::new();
    }
    (idx + 1..args.len()).take(n as usize).collect()
}

// ---------------------------------------------------------------------------------------------
// Shared helpers (also used by the sorted-set commands).

/// Replies beyond this size stop early and close the connection, like Redis's output buffer
/// limits do: a repeated random sample (`SRANDMEMBER key -N`) is otherwise unbounded.
pub(super) const MAX_REPEAT_REPLY: usize = 64 << 20;

/// Writes `count` uniformly random picks (with repetition) among `size` entries; `enc` writes
/// entry `i`. When entries must repeat anyway, each is encoded once and then copied. Past
/// [`MAX_REPEAT_REPLY`] bytes the reply stops and the connection is closed after it.
pub(super) fn emit_random_repeats(
    out: &mut Reply,
    close: &mut bool,
    rng: &mut impl Rng,
    count: u64,
    size: usize,
    mut enc: impl FnMut(&mut Reply, usize),
) {
    if size == 0 {
        return;
    }
    let cached = if count >= size as u64 {
        let mut tmp = Reply::new(out.resp3);
        let mut offs = Vec::with_capacity(size + 1);
        offs.push(0);
        for i in 0..size {
            enc(&mut tmp, i);
            offs.push(tmp.len());
        }
        Some((tmp, offs))
    } else {
        None
    };
    for _ in 0..count {
        let i = rng.random_range(0..size);
        match &cached {
            Some((tmp, offs)) => out.raw(&tmp.buf[offs[i]..offs[i + 1]]),
            None => enc(out, i),
        }
        if out.len() > MAX_REPEAT_REPLY {
            *close = true;
            break;
        }
    }
}

/// Redis's `getLongFromObjectOrReply` followed by a range check
/// (`getRangeLongFromObjectOrReply`). `msg` replaces both errors when given.
pub(super) fn arg_range(arg: &[u8], min: i64, max: i64, msg: Option<&'static str>) -> Result<i64, CmdError> {
    let v = match crate::util::parse_i64(arg) {
        Some(v) => v,
        None => return Err(msg.map(CmdError::fixed).unwrap_or(error::NOT_INTEGER)),
    };
    if v < min || v > max {
        return Err(match msg {
            Some(m) => CmdError::fixed(m),
            None => CmdError::msg(format!("ERR value is out of range, value must between {min} and {max}")),
        });
    }
    Ok(v)
}

/// `getPositiveLongFromObjectOrReply`.
pub(super) fn arg_positive(arg: &[u8], msg: Option<&'static str>) -> Result<i64, CmdError> {
    arg_range(arg, 0, i64::MAX, Some(msg.unwrap_or("ERR value is out of range, must be positive")))
}

/// SSCAN/ZSCAN options from `args[from..]`: COUNT (>= 1) and MATCH (None when absent or `*`).
pub(super) fn parse_scan_options(args: &[Bytes], from: usize) -> Result<(usize, Option<Bytes>), CmdError> {
    let mut count = 10usize;
    let mut pattern = None;
    let mut i = from;
    while i < args.len() {
        let more = args.len() - i >= 2;
        if more && args[i].eq_ignore_ascii_case(b"count") {
            let n = crate::util::parse_i64(&args[i + 1]).ok_or(error::NOT_INTEGER)?;
            if n < 1 {
                return Err(error::SYNTAX);
            }
            count = n.min(i64::MAX / 2) as usize;
            i += 2;
        } else if more && args[i].eq_ignore_ascii_case(b"match") {
            pattern = if &args[i + 1][..] == b"*" { None } else { Some(args[i + 1].clone()) };
            i += 2;
        } else {
            return Err(error::SYNTAX);
        }
    }
    Ok((count, pattern))
}

/// Writes a SCAN reply header: the next cursor and the element array length.
pub(super) fn scan_reply_header(out: &mut Reply, cursor: u64, n: usize) {
    out.array(2);
    let mut b = itoa::Buffer::new();
    out.bulk(b.format(cursor).as_bytes());
    out.array(n);
}

/// The empty SCAN reply for a missing key.
pub(super) fn empty_scan(out: &mut Reply) {
    scan_reply_header(out, 0, 0);
}

/// Looks up every key for reading (expiring them and counting hits/misses), then locates them
/// again: positions stay valid as long as nothing is written.
pub(super) fn lookup_many(ctx: &mut Ctx, keys: &[Bytes]) -> Vec<Option<KeyPos>> {
    for k in keys {
        ctx.lookup_read(k);
    }
    let db = ctx.db_ref();
    keys.iter().map(|k| db.locate(k)).collect()
}

pub(super) fn reply_member(out: &mut Reply, m: SetMember) {
    match m {
        SetMember::Int(n) => out.bulk_int(n),
        SetMember::Str(s) => out.bulk(s),
    }
}

fn set_mut(v: &mut Value) -> Result<&mut SetValue, CmdError> {
    match v {
        Value::Set(s) => Ok(s),
        _ => Err(error::WRONGTYPE),
    }
}

/// The set at `key` for reading: Ok(None) when missing, WRONGTYPE for another type.
fn read_pos(ctx: &mut Ctx, key: &[u8]) -> Result<Option<KeyPos>, CmdError> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(at) => match ctx.db_ref().entry(at).value {
            Value::Set(_) => Ok(Some(at)),
            _ => Err(error::WRONGTYPE),
        },
    }
}

fn set_at<'a>(ctx: &'a Ctx, at: KeyPos) -> &'a SetValue {
    set_in(&ctx.state.dbs[ctx.client.db], at)
}

/// The set at a position already type-checked.
fn set_in(db: &Db, at: KeyPos) -> &SetValue {
    match &db.entry(at).value {
        Value::Set(s) => s,
        _ => unreachable!("type checked"),
    }
}

fn set_in_mut(db: &mut Db, at: KeyPos) -> &mut SetValue {
    match &mut db.entry_mut(at).value {
        Value::Set(s) => s,
        _ => unreachable!("type checked"),
    }
}

/// The set at `key` for writing: Ok(None) when missing, WRONGTYPE for another type.
fn write_pos(ctx: &mut Ctx, key: &[u8]) -> Result<Option<KeyPos>, CmdError> {
    match ctx.lookup_write(key) {
        None => Ok(None),
        Some(at) => match ctx.db_ref().entry(at).value {
            Value::Set(_) => Ok(Some(at)),
            _ => Err(error::WRONGTYPE),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Commands.

fn sadd(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let max = ctx.state.config.set_max_intset_entries;
    let added = match ctx.write_value(key) {
        Some(v) => {
            let s = set_mut(v)?;
            args[2..].iter().filter(|m| s.add(m, max)).count()
        }
        None => {
            let mut s = SetValue::new_for(&args[2]);
            let n = args[2..].iter().filter(|m| s.add(m, max)).count();
            ctx.add_key(key, Value::Set(Box::new(s)));
            n
        }
    };
    if added > 0 {
        ctx.modified(key);
        ctx.notify('s', "sadd", key);
    }
    ctx.out.int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let (removed, empty) = match ctx.write_value(key) {
        None => (0, false),
        Some(v) => {
            let s = set_mut(v)?;
            let mut n = 0;
            for m in &args[2..] {
                if s.remove(m) {
                    n += 1;
                    if s.is_empty() {
                        break;
                    }
                }
            }
            (n, s.is_empty())
        }
    };
    if removed > 0 {
        ctx.modified(key);
        ctx.notify('s', "srem", key);
        ctx.remove_if_empty(key, empty);
    }
    ctx.out.int(removed);
    Ok(())
}

fn scard(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let n = match read_pos(ctx, &args[1])? {
        Some(at) => set_at(ctx, at).len() as i64,
        None => 0,
    };
    ctx.out.int(n);
    Ok(())
}

fn sismember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let yes = match read_pos(ctx, &args[1])? {
        Some(at) => set_at(ctx, at).contains(&args[2]),
        None => false,
    };
    ctx.out.int(yes as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let at = read_pos(ctx, &args[1])?;
    let flags: Vec<bool> = match at {
        Some(at) => {
            let s = set_at(ctx, at);
            args[2..].iter().map(|m| s.contains(m)).collect()
        }
        None => vec![false; args.len() - 2],
    };
    ctx.out.array(flags.len());
    for f in flags {
        ctx.out.int(f as i64);
    }
    Ok(())
}

fn smembers(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    sinter_generic(ctx, &args[1..2], None, None)
}

fn sinter(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    sinter_generic(ctx, &args[1..], None, None)
}

fn sinterstore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    sinter_generic(ctx, &args[2..], Some(&args[1]), None)
}

fn sintercard(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let numkeys = arg_range(&args[1], 1, i64::MAX, Some("ERR numkeys should be greater than 0"))? as usize;
    if numkeys > args.len() - 2 {
        return Err(CmdError::fixed("ERR Number of keys can't be greater than number of args"));
    }
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < args.len() {
        if args[j].eq_ignore_ascii_case(b"limit") && j + 1 < args.len() {
            limit = arg_positive(&args[j + 1], Some("ERR LIMIT can't be negative"))? as usize;
            j += 2;
        } else {
            return Err(error::SYNTAX);
        }
    }
    sinter_generic(ctx, &args[2..2 + numkeys], None, Some(limit))
}

/// SINTER, SMEMBERS, SINTERSTORE (`dst`) and SINTERCARD (`card_limit`, 0 = no limit).
fn sinter_generic(ctx: &mut Ctx, keys: &[Bytes], dst: Option<&Bytes>, card_limit: Option<usize>) -> CmdResult {
    let pos = lookup_many(ctx, keys);
    let db = &ctx.state.dbs[ctx.client.db];
    let mut sets: Vec<&SetValue> = Vec::with_capacity(keys.len());
    let mut missing = false;
    for at in &pos {
        match at {
            None => missing = true,
            Some(at) => match &db.entry(*at).value {
                Value::Set(s) => sets.push(s),
                _ => return Err(error::WRONGTYPE),
            },
        }
    }
    if missing {
        if let Some(dst) = dst {
            if ctx.delete_key(dst) {
                ctx.notify('g', "del", dst);
            }
            ctx.out.int(0);
        } else if card_limit.is_some() {
            ctx.out.int(0);
        } else {
            ctx.out.set(0);
        }
        return Ok(());
    }
    sets.sort_by_key(|s| s.len());
    let first = sets[0];
    let rest: Vec<&SetValue> = sets[1..].iter().copied().filter(|s| !std::ptr::eq(*s, first)).collect();
    let in_all = |m: SetMember| rest.iter().all(|s| s.contains_member(m));
    if let Some(limit) = card_limit {
        let mut n = 0usize;
        for m in first.iter() {
            if in_all(m) {
                n += 1;
                if limit != 0 && n >= limit {
                    break;
                }
            }
        }
        ctx.out.int(n as i64);
        return Ok(());
    }
    let result: Vec<SetMember> = first.iter().filter(|m| in_all(*m)).collect();
    match dst {
        None => {
            let out = &mut *ctx.out;
            out.set(result.len());
            for m in result {
                reply_member(out, m);
            }
            Ok(())
        }
        Some(dst) => {
            let members: Vec<crate::sds::Sds> = result.iter().map(|m| m.to_sds()).collect();
            store_set(ctx, dst, members, "sinterstore");
            Ok(())
        }
    }
}

/// Stores a computed set at `dst` (or deletes `dst` when it is empty) and replies its size.
fn store_set(ctx: &mut Ctx, dst: &[u8], members: Vec<crate::sds::Sds>, event: &str) {
    let max = ctx.state.config.set_max_intset_entries;
    let set = SetValue::from_members(members.iter().map(|m| &m[..]), max);
    let n = set.len();
    if n > 0 {
        ctx.set_key(dst, Value::Set(Box::new(set)), false);
        ctx.notify('s', event, dst);
        ctx.out.int(n as i64);
    } else {
        ctx.out.int(0);
        if ctx.delete_key(dst) {
            ctx.notify('g', "del", dst);
        }
    }
}

fn sunion(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    sunion_diff(ctx, &args[1..], None, false)
}

fn sunionstore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    sunion_diff(ctx, &args[2..], Some(&args[1]), false)
}

fn sdiff(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    sunion_diff(ctx, &args[1..], None, true)
}

fn sdiffstore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    sunion_diff(ctx, &args[2..], Some(&args[1]), true)
}

fn sunion_diff(ctx: &mut Ctx, keys: &[Bytes], dst: Option<&Bytes>, diff: bool) -> CmdResult {
    let pos = lookup_many(ctx, keys);
    let db = &ctx.state.dbs[ctx.client.db];
    let mut sets: Vec<Option<&SetValue>> = Vec::with_capacity(keys.len());
    for at in &pos {
        match at {
            None => sets.push(None),
            Some(at) => match &db.entry(*at).value {
                Value::Set(s) => sets.push(Some(s)),
                _ => return Err(error::WRONGTYPE),
            },
        }
    }
    let max = ctx.state.config.set_max_intset_entries;
    // The result is built the way Redis builds its temporary set, so its encoding and (for
    // intsets) its order match.
    let mut acc = SetValue::default();
    let mut buf = itoa::Buffer::new();
    if !diff {
        for s in sets.iter().flatten() {
            for m in s.iter() {
                acc.add(m.bytes(&mut buf), max);
            }
        }
    } else if let Some(first) = sets[0] {
        let same = sets[1..].iter().flatten().any(|s| std::ptr::eq(*s, first));
        if !same {
            let others: Vec<&SetValue> = sets[1..].iter().flatten().copied().collect();
            for m in first.iter() {
                if !others.iter().any(|s| s.contains_member(m)) {
                    acc.add(m.bytes(&mut buf), max);
                }
            }
        }
    }
    match dst {
        None => {
            let out = &mut *ctx.out;
            out.set(acc.len());
            for m in acc.iter() {
                reply_member(out, m);
            }
        }
        Some(dst) => {
            let n = acc.len();
            if n > 0 {
                ctx.set_key(dst, Value::Set(Box::new(acc)), false);
                ctx.notify('s', if diff { "sdiffstore" } else { "sunionstore" }, dst);
                ctx.out.int(n as i64);
            } else {
                ctx.out.int(0);
                if ctx.delete_key(dst) {
                    ctx.notify('g', "del", dst);
                }
            }
        }
    }
    Ok(())
}

fn smove(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let src_at = ctx.lookup_write(src);
    let dst_at = ctx.lookup_write(dst);
    if src_at.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    // Locate again: the second lookup may have expired a key and moved entries.
    let db = ctx.db_ref();
    for k in [src, dst] {
        if let Some(at) = db.locate(k) {
            if !matches!(db.entry(at).value, Value::Set(_)) {
                return Err(error::WRONGTYPE);
            }
        }
    }
    let _ = dst_at;
    if src == dst {
        let yes = ctx.db_ref().locate(src).is_some_and(|at| set_at(ctx, at).contains(member));
        ctx.out.int(yes as i64);
        return Ok(());
    }
    let max = ctx.state.config.set_max_intset_entries;
    let (removed, empty) = match ctx.write_value(src) {
        Some(v) => {
            let s = set_mut(v)?;
            (s.remove(member), s.is_empty())
        }
        None => (false, false),
    };
    if !removed {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.notify('s', "srem", src);
    ctx.remove_if_empty(src, empty);
    let added = match ctx.write_value(dst) {
        Some(v) => set_mut(v)?.add(member, max),
        None => {
            let mut s = SetValue::new_for(member);
            s.add(member, max);
            ctx.add_key(dst, Value::Set(Box::new(s)));
            true
        }
    };
    ctx.modified(src);
    if added {
        ctx.modified(dst);
        ctx.notify('s', "sadd", dst);
    }
    ctx.out.int(1);
    Ok(())
}

fn spop(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    if args.len() > 3 {
        return Err(error::SYNTAX);
    }
    if args.len() == 3 {
        let count = arg_positive(&args[2], None)? as usize;
        return spop_count(ctx, key, count);
    }
    let Some(at) = write_pos(ctx, key)? else {
        ctx.out.null();
        return Ok(());
    };
    let db = ctx.client.db;
    let state = &mut *ctx.state;
    let s = set_in_mut(&mut state.dbs[db], at);
    let Some(member) = s.random_index(&mut state.rng).and_then(|i| s.remove_index(i)) else {
        ctx.out.null();
        return Ok(());
    };
    let empty = s.is_empty();
    ctx.notify('s', "spop", key);
    ctx.out.bulk(&member);
    ctx.remove_if_empty(key, empty);
    ctx.modified(key);
    Ok(())
}

fn spop_count(ctx: &mut Ctx, key: &[u8], count: usize) -> CmdResult {
    let max = ctx.state.config.set_max_intset_entries;
    let Some(at) = write_pos(ctx, key)? else {
        ctx.out.set(0);
        return Ok(());
    };
    let db = ctx.client.db;
    let state = &mut *ctx.state;
    let s = set_in_mut(&mut state.dbs[db], at);
    if count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    let size = s.len();
    if count >= size {
        // The whole set goes.
        let out = &mut *ctx.out;
        out.set(size);
        for m in s.iter() {
            reply_member(out, m);
        }
        ctx.notify('s', "spop", key);
        ctx.remove_if_empty(key, true);
        ctx.modified(key);
        return Ok(());
    }
    let remaining = size - count;
    let rng = &mut state.rng;
    let out = &mut *ctx.out;
    out.set(count);
    if remaining * 5 > count {
        // Few to pop: pick them one by one.
        for _ in 0..count {
            let i = s.random_index(rng).expect("not empty");
            let m = s.remove_index(i).expect("index in range");
            out.bulk(&m);
        }
    } else {
        // Most of the set goes: pick the survivors into a new set (re-encoded from scratch, as
        // Redis does) and reply with the rest.
        let mut keep = Vec::with_capacity(remaining);
        for _ in 0..remaining {
            let i = s.random_index(rng).expect("not empty");
            keep.push(s.remove_index(i).expect("index in range"));
        }
        for m in s.iter() {
            reply_member(out, m);
        }
        *s = SetValue::from_members(keep.iter().map(|m| &m[..]), max);
    }
    ctx.notify('s', "spop", key);
    ctx.modified(key);
    Ok(())
}

fn srandmember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    if args.len() > 3 {
        return Err(error::SYNTAX);
    }
    if args.len() == 3 {
        let l = arg_range(&args[2], -i64::MAX, i64::MAX, None)?;
        return srandmember_count(ctx, key, l);
    }
    let Some(at) = read_pos(ctx, key)? else {
        ctx.out.null();
        return Ok(());
    };
    let db = ctx.client.db;
    let state = &mut *ctx.state;
    let s = set_in(&state.dbs[db], at);
    match s.random_index(&mut state.rng).and_then(|i| s.get_index(i)) {
        Some(m) => reply_member(ctx.out, m),
        None => ctx.out.null(),
    }
    Ok(())
}

fn srandmember_count(ctx: &mut Ctx, key: &[u8], l: i64) -> CmdResult {
    let Some(at) = read_pos(ctx, key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let (uniq, count) = if l >= 0 { (true, l as u64) } else { (false, l.unsigned_abs()) };
    if count == 0 {
        ctx.out.array(0);
        return Ok(());
    }
    let db = ctx.client.db;
    let state = &mut *ctx.state;
    let s = set_in(&state.dbs[db], at);
    let rng = &mut state.rng;
    let out = &mut *ctx.out;
    let size = s.len();
    if size == 0 {
        out.array(0);
        return Ok(());
    }
    if !uniq || count == 1 {
        out.array(count as usize);
        emit_random_repeats(out, &mut ctx.client.close_after_reply, rng, count, size, |out, i| {
            reply_member(out, s.get_index(i).expect("index in range"))
        });
        return Ok(());
    }
    let count = count as usize;
    if count >= size {
        out.array(size);
        for m in s.iter() {
            reply_member(out, m);
        }
        return Ok(());
    }
    // A uniform sample without repetition: a partial Fisher-Yates shuffle of positions.
    let mut idx: Vec<usize> = (0..size).collect();
    for k in 0..count {
        let j = rng.random_range(k..size);
        idx.swap(k, j);
    }
    out.array(count);
    for &i in &idx[..count] {
        reply_member(out, s.get_index(i).expect("index in range"));
    }
    Ok(())
}

fn sscan(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let cursor = parse_scan_cursor(&args[2])?;
    let Some(at) = read_pos(ctx, &args[1])? else {
        empty_scan(ctx.out);
        return Ok(());
    };
    let (count, pattern) = parse_scan_options(args, 3)?;
    let s = set_in(&ctx.state.dbs[ctx.client.db], at);
    let mut found: Vec<SetMember> = Vec::new();
    let next = s.scan(cursor, count, |m| found.push(m));
    let mut buf = itoa::Buffer::new();
    if let Some(p) = &pattern {
        found.retain(|m| crate::util::glob_match(p, m.bytes(&mut buf), false));
    }
    let out = &mut *ctx.out;
    scan_reply_header(out, next, found.len());
    for m in found {
        reply_member(out, m);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranged_args() {
        assert_eq!(arg_range(b"5", 0, 10, None), Ok(5));
        assert_eq!(arg_range(b"x", 0, 10, None), Err(error::NOT_INTEGER));
        assert_eq!(
            arg_range(b"-9223372036854775808", -i64::MAX, i64::MAX, None).unwrap_err().0,
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
        );
        assert_eq!(arg_positive(b"-1", None).unwrap_err().0, "ERR value is out of range, must be positive");
        assert_eq!(
            numkeys_positions(&[Bytes::from("x"), Bytes::from("2"), Bytes::from("a"), Bytes::from("b")], 1),
            vec![2, 3]
        );
    }
}
