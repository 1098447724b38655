//! Sorted set commands (Redis 7.0 semantics). Range commands live in `zset_range.rs`, the
//! multi-key set operations in `zset_ops.rs`.

#[path = "zset_ops.rs"]
mod ops;
#[path = "zset_range.rs"]
mod range;

use bytes::Bytes;
use rand::Rng;

use super::error::{self, CmdError};
use super::flags::*;
use super::scan::parse_scan_cursor;
use super::set::{arg_positive, arg_range, emit_random_repeats, empty_scan, parse_scan_options, scan_reply_header};
use super::{CmdResult, CommandSpec, Ctx, Reply};
use crate::db::zset::{AddFlags, AddOutcome, LexItem, LexRange, ScoreRange, ZLimits, ZSetValue};
use crate::db::{Db, KeyPos, Value};
use crate::util::fmt_g17;

#[allow(unused_imports)]
pub use ops::{zset_op_keys, zsetop_store_keys};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, WRITE | DENYOOM | FAST, (1, 1, 1), zadd),
    CommandSpec::new("zincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), zincrby),
    CommandSpec::new("zrem", -3, WRITE | FAST, (1, 1, 1), zrem),
    CommandSpec::new("zcard", 2, READONLY | FAST, (1, 1, 1), zcard),
    CommandSpec::new("zcount", 4, READONLY | FAST, (1, 1, 1), zcount),
    CommandSpec::new("zlexcount", 4, READONLY | FAST, (1, 1, 1), zlexcount),
    CommandSpec::new("zscore", 3, READONLY | FAST, (1, 1, 1), zscore),
    CommandSpec::new("zmscore", -3, READONLY | FAST, (1, 1, 1), zmscore),
    CommandSpec::new("zrank", 3, READONLY | FAST, (1, 1, 1), zrank),
    CommandSpec::new("zrevrank", 3, READONLY | FAST, (1, 1, 1), zrevrank),
    CommandSpec::new("zrange", -4, READONLY, (1, 1, 1), range::zrange),
    CommandSpec::new("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), range::zrangestore),
    CommandSpec::new("zrevrange", -4, READONLY, (1, 1, 1), range::zrevrange),
    CommandSpec::new("zrangebyscore", -4, READONLY, (1, 1, 1), range::zrangebyscore),
    CommandSpec::new("zrevrangebyscore", -4, READONLY, (1, 1, 1), range::zrevrangebyscore),
    CommandSpec::new("zrangebylex", -4, READONLY, (1, 1, 1), range::zrangebylex),
    CommandSpec::new("zrevrangebylex", -4, READONLY, (1, 1, 1), range::zrevrangebylex),
    CommandSpec::new("zremrangebyrank", 4, WRITE, (1, 1, 1), zremrangebyrank),
    CommandSpec::new("zremrangebyscore", 4, WRITE, (1, 1, 1), zremrangebyscore),
    CommandSpec::new("zremrangebylex", 4, WRITE, (1, 1, 1), zremrangebylex),
    CommandSpec::new("zunionstore", -4, WRITE | DENYOOM, (1, 1, 1), ops::zunionstore),
    CommandSpec::new("zinterstore", -4, WRITE | DENYOOM, (1, 1, 1), ops::zinterstore),
    CommandSpec::new("zdiffstore", -4, WRITE | DENYOOM, (1, 1, 1), ops::zdiffstore),
    CommandSpec::new("zunion", -3, READONLY, (0, 0, 0), ops::zunion),
    CommandSpec::new("zinter", -3, READONLY, (0, 0, 0), ops::zinter),
    CommandSpec::new("zdiff", -3, READONLY, (0, 0, 0), ops::zdiff),
    CommandSpec::new("zintercard", -3, READONLY, (0, 0, 0), ops::zintercard),
    CommandSpec::new("zpopmin", -2, WRITE | FAST, (1, 1, 1), zpopmin),
    CommandSpec::new("zpopmax", -2, WRITE | FAST, (1, 1, 1), zpopmax),
    CommandSpec::new("zrandmember", -2, READONLY, (1, 1, 1), zrandmember),
    CommandSpec::new("zscan", -3, READONLY, (1, 1, 1), zscan),
];

const NAN_ERR: CmdError = CmdError::fixed("ERR resulting score is not a number (NaN)");
const NOT_FLOAT_RANGE: CmdError = CmdError::fixed("ERR min or max is not a float");
const NOT_LEX_RANGE: CmdError = CmdError::fixed("ERR min or max not valid string range item");

// ---------------------------------------------------------------------------------------------
// Number parsing and formatting the way Redis does it (C `strtod`, `d2string`).

/// C's `strtod` over `s` up to its first NUL: (value, bytes consumed, ERANGE reported).
fn c_strtod(s: &[u8]) -> (f64, usize, bool) {
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    // A NUL-terminated copy: on the stack for the usual short numbers.
    let mut stack = [0u8; 64];
    let heap: Vec<u8>;
    let buf: &[u8] = if end < stack.len() {
        stack[..end].copy_from_slice(&s[..end]);
        &stack[..=end]
    } else {
        let mut v = Vec::with_capacity(end + 1);
        v.extend_from_slice(&s[..end]);
        v.push(0);
        heap = v;
        &heap
    };
    // SAFETY: `buf` is NUL-terminated and outlives the call; strtod only reads it and stores
    // a pointer into it in `eptr`. errno is thread-local.
    unsafe {
        *libc::__errno_location() = 0;
        let mut eptr: *mut libc::c_char = std::ptr::null_mut();
        let start = buf.as_ptr() as *const libc::c_char;
        let v = libc::strtod(start, &mut eptr);
        let consumed = if eptr.is_null() { 0 } else { eptr.offset_from(start).max(0) as usize };
        let erange = *libc::__errno_location() == libc::ERANGE;
        (v, consumed, erange)
    }
}

/// Redis's `string2d` (scores of ZADD/ZINCRBY, WEIGHTS): the whole string must be a number,
/// no leading space, no overflow, not NaN.
pub(crate) fn parse_score(s: &[u8]) -> Option<f64> {
    if let Some(v) = parse_plain_int(s) {
        return Some(v);
    }
    if s.is_empty() || s[0].is_ascii_whitespace() || s[0] == 0x0b {
        return None;
    }
    let (v, consumed, erange) = c_strtod(s);
    if consumed != s.len() || v.is_nan() || (erange && (v.is_infinite() || v == 0.0)) {
        return None;
    }
    Some(v)
}

/// A plain decimal integer (an optional `-`, 1 to 15 digits): exactly representable, so strtod
/// would give the same double (`-0` included); anything else returns None.
#[inline]
fn parse_plain_int(s: &[u8]) -> Option<f64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut n = 0u64;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(c - b'0');
    }
    let v = n as f64;
    Some(if neg { -v } else { v })
}

/// One end of a score range (`zslParseRange`): strtod up to the C string's end, `(` for
/// exclusive, NaN rejected.
fn parse_range_item(s: &[u8]) -> Option<(f64, bool)> {
    let (body, ex) = match s.first() {
        Some(b'(') => (&s[1..], true),
        _ => (s, false),
    };
    let cstr_len = body.iter().position(|&c| c == 0).unwrap_or(body.len());
    let (v, consumed, _) = c_strtod(body);
    if consumed != cstr_len || v.is_nan() {
        return None;
    }
    Some((v, ex))
}

pub(crate) fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let (min, minex) = parse_range_item(min).ok_or(NOT_FLOAT_RANGE)?;
    let (max, maxex) = parse_range_item(max).ok_or(NOT_FLOAT_RANGE)?;
    Ok(ScoreRange { min, max, minex, maxex })
}

fn parse_lex_item(s: &[u8]) -> Option<(LexItem, bool)> {
    match s.first() {
        Some(b'+') if s.len() == 1 => Some((LexItem::Max, true)),
        Some(b'-') if s.len() == 1 => Some((LexItem::Min, true)),
        Some(b'(') => Some((LexItem::Str(s[1..].to_vec()), true)),
        Some(b'[') => Some((LexItem::Str(s[1..].to_vec()), false)),
        _ => None,
    }
}

pub(crate) fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    let (min, minex) = parse_lex_item(min).ok_or(NOT_LEX_RANGE)?;
    let (max, maxex) = parse_lex_item(max).ok_or(NOT_LEX_RANGE)?;
    Ok(LexRange { min, max, minex, maxex })
}

/// Redis's `d2string`: integral values in the safe range print as integers, others `%.17g`
/// (how a listpack stores scores, which ZSCAN shows).
pub(crate) fn d2string(v: f64) -> String {
    if v.is_nan() || v.is_infinite() || v == 0.0 {
        return fmt_g17(v);
    }
    let lim = (i64::MAX / 2) as f64;
    if v >= -lim && v <= lim {
        let n = v as i64;
        #[allow(clippy::float_cmp)]
        if n as f64 == v {
            return itoa::Buffer::new().format(n).to_string();
        }
    }
    fmt_g17(v)
}

// ---------------------------------------------------------------------------------------------
// Lookups and replies shared by the zset command files.

fn zset_of(v: &Value) -> Option<&ZSetValue> {
    match v {
        Value::ZSet(z) => Some(z),
        _ => None,
    }
}

/// The zset at a position already type-checked.
pub(crate) fn zset_in(db: &Db, at: KeyPos) -> &ZSetValue {
    zset_of(&db.entry(at).value).expect("type checked")
}

pub(crate) fn zset_in_mut(db: &mut Db, at: KeyPos) -> &mut ZSetValue {
    match &mut db.entry_mut(at).value {
        Value::ZSet(z) => z,
        _ => unreachable!("type checked"),
    }
}

/// The zset at `key` for reading: Ok(None) when missing, WRONGTYPE for another type.
pub(crate) fn zread_pos(ctx: &mut Ctx, key: &[u8]) -> Result<Option<KeyPos>, CmdError> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(at) => match ctx.db_ref().entry(at).value {
            Value::ZSet(_) => Ok(Some(at)),
            _ => Err(error::WRONGTYPE),
        },
    }
}

/// The zset at `key` for writing.
pub(crate) fn zwrite_pos(ctx: &mut Ctx, key: &[u8]) -> Result<Option<KeyPos>, CmdError> {
    match ctx.lookup_write(key) {
        None => Ok(None),
        Some(at) => match ctx.db_ref().entry(at).value {
            Value::ZSet(_) => Ok(Some(at)),
            _ => Err(error::WRONGTYPE),
        },
    }
}

/// Members with optional scores: a flat array in RESP2, [member, score] pairs in RESP3.
pub(crate) fn reply_scored(out: &mut Reply, items: &[(&[u8], f64)], withscores: bool) {
    let n = items.len();
    out.array(if withscores && !out.resp3 { n * 2 } else { n });
    for (m, s) in items {
        reply_one_scored(out, m, *s, withscores);
    }
}

fn reply_one_scored(out: &mut Reply, m: &[u8], s: f64, withscores: bool) {
    if withscores && out.resp3 {
        out.array(2);
    }
    out.bulk(m);
    if withscores {
        out.double(s);
    }
}

/// Stores `items` (distinct members) at `dst`, or deletes `dst` when empty; replies the size.
pub(crate) fn store_zset(ctx: &mut Ctx, dst: &[u8], items: Vec<(crate::sds::Sds, f64)>, event: &str) {
    if items.is_empty() {
        ctx.out.int(0);
        if ctx.delete_key(dst) {
            ctx.notify('g', "del", dst);
        }
        return;
    }
    let limits = ZLimits::from_config(&ctx.state.config);
    store_built(ctx, dst, ZSetValue::from_entries(items, limits), event);
}

/// Stores a built sorted set at `dst` (deleting `dst` when it is empty); replies the size.
pub(crate) fn store_built(ctx: &mut Ctx, dst: &[u8], z: ZSetValue, event: &str) {
    let n = z.len();
    if n == 0 {
        ctx.out.int(0);
        if ctx.delete_key(dst) {
            ctx.notify('g', "del", dst);
        }
        return;
    }
    ctx.set_key(dst, Value::ZSet(Box::new(z)), false);
    ctx.notify('z', event, dst);
    ctx.out.int(n as i64);
}

// ---------------------------------------------------------------------------------------------
// Commands.

fn zadd(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, false)
}

fn zincrby(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, true)
}

/// ZADD and ZINCRBY (which is ZADD with INCR, options parsing included, as in Redis).
fn zadd_generic(ctx: &mut Ctx, incr_cmd: bool) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let mut f = AddFlags { incr: incr_cmd, ..Default::default() };
    let mut ch = false;
    let mut idx = 2;
    while idx < args.len() {
        let a = &args[idx][..];
        if a.eq_ignore_ascii_case(b"nx") {
            f.nx = true;
        } else if a.eq_ignore_ascii_case(b"xx") {
            f.xx = true;
        } else if a.eq_ignore_ascii_case(b"ch") {
            ch = true;
        } else if a.eq_ignore_ascii_case(b"incr") {
            f.incr = true;
        } else if a.eq_ignore_ascii_case(b"gt") {
            f.gt = true;
        } else if a.eq_ignore_ascii_case(b"lt") {
            f.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = args.len() - idx;
    if elements % 2 == 1 || elements == 0 {
        return Err(error::SYNTAX);
    }
    let pairs = elements / 2;
    if f.nx && f.xx {
        return Err(CmdError::fixed("ERR XX and NX options at the same time are not compatible"));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(CmdError::fixed("ERR GT, LT, and/or NX options at the same time are not compatible"));
    }
    if f.incr && pairs > 1 {
        return Err(CmdError::fixed("ERR INCR option supports a single increment-element pair"));
    }
    let mut scores = Vec::with_capacity(pairs);
    for j in 0..pairs {
        scores.push(parse_score(&args[idx + 2 * j]).ok_or(error::NOT_FLOAT)?);
    }
    let limits = ZLimits::from_config(&ctx.state.config);
    let at = match zwrite_pos(ctx, key)? {
        Some(at) => at,
        None if f.xx => {
            if f.incr {
                ctx.out.null();
            } else {
                ctx.out.int(0);
            }
            return Ok(());
        }
        None => ctx.add_key(key, Value::ZSet(Box::default())),
    };
    let db = ctx.client.db;
    let z = zset_in_mut(&mut ctx.state.dbs[db], at);
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    let mut nan = false;
    for (j, score) in scores.into_iter().enumerate() {
        match z.add(score, &args[idx + 2 * j + 1], f, limits) {
            AddOutcome::Nan => {
                nan = true;
                break;
            }
            AddOutcome::Nop => {}
            AddOutcome::Added(s) => {
                added += 1;
                processed += 1;
                last = s;
            }
            AddOutcome::Updated(s) => {
                updated += 1;
                processed += 1;
                last = s;
            }
            AddOutcome::Unchanged(s) => {
                processed += 1;
                last = s;
            }
        }
    }
    let empty = z.is_empty();
    if nan {
        // Only possible with INCR on an existing member: nothing changed.
        ctx.remove_if_empty(key, empty);
        return Err(NAN_ERR);
    }
    if f.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
    if added > 0 || updated > 0 {
        ctx.modified(key);
        ctx.notify('z', if f.incr { "zincr" } else { "zadd" }, key);
    }
    Ok(())
}

fn zrem(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let Some(at) = zwrite_pos(ctx, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let z = zset_in_mut(&mut ctx.state.dbs[ctx.client.db], at);
    let mut deleted = 0;
    for m in &args[2..] {
        if z.remove(m) {
            deleted += 1;
        }
        if z.is_empty() {
            break;
        }
    }
    let empty = z.is_empty();
    if deleted > 0 {
        ctx.notify('z', "zrem", key);
        ctx.remove_if_empty(key, empty);
        ctx.modified(key);
    }
    ctx.out.int(deleted);
    Ok(())
}

fn zcard(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let n = match zread_pos(ctx, &args[1])? {
        Some(at) => zset_in(ctx.db_ref(), at).len() as i64,
        None => 0,
    };
    ctx.out.int(n);
    Ok(())
}

fn zcount(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let r = parse_score_range(&args[2], &args[3])?;
    let n = match zread_pos(ctx, &args[1])? {
        Some(at) => zset_in(ctx.db_ref(), at).count_in_score(&r),
        None => 0,
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let r = parse_lex_range(&args[2], &args[3])?;
    let n = match zread_pos(ctx, &args[1])? {
        Some(at) => zset_in(ctx.db_ref(), at).count_in_lex(&r),
        None => 0,
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let s = match zread_pos(ctx, &args[1])? {
        Some(at) => zset_in(ctx.db_ref(), at).score(&args[2]),
        None => None,
    };
    match s {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let scores: Vec<Option<f64>> = match zread_pos(ctx, &args[1])? {
        Some(at) => {
            let z = zset_in(ctx.db_ref(), at);
            args[2..].iter().map(|m| z.score(m)).collect()
        }
        None => vec![None; args.len() - 2],
    };
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx) -> CmdResult {
    zrank_generic(ctx, false)
}

fn zrevrank(ctx: &mut Ctx) -> CmdResult {
    zrank_generic(ctx, true)
}

fn zrank_generic(ctx: &mut Ctx, rev: bool) -> CmdResult {
    let args = ctx.args;
    let r = match zread_pos(ctx, &args[1])? {
        Some(at) => {
            let z = zset_in(ctx.db_ref(), at);
            z.rank(&args[2]).map(|r| if rev { z.len() - 1 - r } else { r })
        }
        None => None,
    };
    match r {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum RemKind {
    Rank,
    Score,
    Lex,
}

fn zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    zremrange_generic(ctx, RemKind::Rank)
}

fn zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zremrange_generic(ctx, RemKind::Score)
}

fn zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    zremrange_generic(ctx, RemKind::Lex)
}

fn zremrange_generic(ctx: &mut Ctx, kind: RemKind) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    let mut ranks = (0i64, 0i64);
    let mut score = None;
    let mut lex = None;
    let event = match kind {
        RemKind::Rank => {
            ranks = (ctx.arg_i64(2)?, ctx.arg_i64(3)?);
            "zremrangebyrank"
        }
        RemKind::Score => {
            score = Some(parse_score_range(&args[2], &args[3])?);
            "zremrangebyscore"
        }
        RemKind::Lex => {
            lex = Some(parse_lex_range(&args[2], &args[3])?);
            "zremrangebylex"
        }
    };
    let Some(at) = zwrite_pos(ctx, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let z = zset_in_mut(&mut ctx.state.dbs[ctx.client.db], at);
    let span = match kind {
        RemKind::Rank => range::rank_span(ranks.0, ranks.1, z.len()).map(|(start, n)| (start, start + n)),
        RemKind::Score => {
            let r = score.expect("parsed");
            z.first_in_score(&r).map(|a| (a, a + z.count_in_score(&r)))
        }
        RemKind::Lex => {
            let r = lex.expect("parsed");
            z.first_in_lex(&r).map(|a| (a, a + z.lex_run(a, &r)))
        }
    };
    let deleted = span.map_or(0, |(a, b)| z.remove_rank_range(a, b));
    let empty = z.is_empty();
    if deleted > 0 {
        ctx.modified(key);
        ctx.notify('z', event, key);
        ctx.remove_if_empty(key, empty);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

fn zpopmin(ctx: &mut Ctx) -> CmdResult {
    zpop_generic(ctx, false)
}

fn zpopmax(ctx: &mut Ctx) -> CmdResult {
    zpop_generic(ctx, true)
}

fn zpop_generic(ctx: &mut Ctx, max: bool) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    if args.len() > 3 {
        return Err(error::SYNTAX);
    }
    let count = if args.len() == 3 { Some(arg_positive(&args[2], None)? as usize) } else { None };
    let nested = ctx.out.resp3 && count.is_some();
    let Some(at) = zwrite_pos(ctx, key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let z = zset_in_mut(&mut ctx.state.dbs[ctx.client.db], at);
    let n = count.unwrap_or(1).min(z.len());
    let out = &mut *ctx.out;
    out.array(if nested { n } else { n * 2 });
    for _ in 0..n {
        let (m, s) = z.pop(max).expect("not empty");
        if nested {
            out.array(2);
        }
        out.bulk(&m);
        out.double(s);
    }
    let empty = z.is_empty();
    ctx.notify('z', if max { "zpopmax" } else { "zpopmin" }, key);
    ctx.modified(key);
    ctx.remove_if_empty(key, empty);
    Ok(())
}

/// Pops the lowest (or highest) member of `key`, with the notifications of ZPOPMIN/ZPOPMAX;
/// `None` when the key does not exist. Used by BZPOPMIN/BZPOPMAX.
pub(crate) fn zpop_one(ctx: &mut Ctx, key: &[u8], max: bool) -> Result<Option<(crate::sds::Sds, f64)>, CmdError> {
    let Some(at) = zwrite_pos(ctx, key)? else { return Ok(None) };
    let z = zset_in_mut(&mut ctx.state.dbs[ctx.client.db], at);
    let Some(popped) = z.pop(max) else { return Ok(None) };
    let empty = z.is_empty();
    ctx.notify('z', if max { "zpopmax" } else { "zpopmin" }, key);
    ctx.modified(key);
    ctx.remove_if_empty(key, empty);
    Ok(Some(popped))
}

fn zrandmember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = &args[1];
    if args.len() >= 3 {
        let l = arg_range(&args[2], -i64::MAX, i64::MAX, None)?;
        let withscores = match args.len() {
            3 => false,
            4 if args[3].eq_ignore_ascii_case(b"withscores") => true,
            _ => return Err(error::SYNTAX),
        };
        if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
            return Err(CmdError::fixed("ERR value is out of range"));
        }
        return zrandmember_count(ctx, key, l, withscores);
    }
    let Some(at) = zread_pos(ctx, key)? else {
        ctx.out.null();
        return Ok(());
    };
    let state = &mut *ctx.state;
    let z = zset_in(&state.dbs[ctx.client.db], at);
    match z.random(&mut state.rng) {
        Some((m, _)) => ctx.out.bulk(m),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zrandmember_count(ctx: &mut Ctx, key: &Bytes, l: i64, withscores: bool) -> CmdResult {
    let Some(at) = zread_pos(ctx, key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let (uniq, count) = if l >= 0 { (true, l as u64) } else { (false, l.unsigned_abs()) };
    if count == 0 {
        ctx.out.array(0);
        return Ok(());
    }
    let state = &mut *ctx.state;
    let z = zset_in(&state.dbs[ctx.client.db], at);
    let rng = &mut state.rng;
    let out = &mut *ctx.out;
    let size = z.len();
    if size == 0 {
        out.array(0);
        return Ok(());
    }
    let header = |out: &mut Reply, n: usize| out.array(if withscores && !out.resp3 { n * 2 } else { n });
    if !uniq || count == 1 {
        header(out, count as usize);
        emit_random_repeats(out, &mut ctx.client.close_after_reply, rng, count, size, |out, i| {
            let (m, s) = z.entry_at_index(i).expect("index in range");
            reply_one_scored(out, m, s, withscores);
        });
        return Ok(());
    }
    let count = count as usize;
    if count >= size {
        // The whole set, highest score first (Redis walks it backwards here).
        header(out, size);
        for (m, s) in z.iter().rev() {
            reply_one_scored(out, m, s, withscores);
        }
        return Ok(());
    }
    let mut idx: Vec<usize> = (0..size).collect();
    for k in 0..count {
        let j = rng.random_range(k..size);
        idx.swap(k, j);
    }
    header(out, count);
    for &i in &idx[..count] {
        let (m, s) = z.get(i).expect("rank in range");
        reply_one_scored(out, m, s, withscores);
    }
    Ok(())
}

fn zscan(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let cursor = parse_scan_cursor(&args[2])?;
    let Some(at) = zread_pos(ctx, &args[1])? else {
        empty_scan(ctx.out);
        return Ok(());
    };
    let (count, pattern) = parse_scan_options(args, 3)?;
    let z = zset_in(&ctx.state.dbs[ctx.client.db], at);
    let mut found: Vec<(&[u8], f64)> = Vec::new();
    let next = z.scan(cursor, count, |m, s| found.push((m, s)));
    if let Some(p) = &pattern {
        found.retain(|(m, _)| crate::util::glob_match(p, m, false));
    }
    // A listpack shows scores as it stores them (d2string), the hash table as `%.17g`.
    let big = z.is_big();
    let out = &mut *ctx.out;
    scan_reply_header(out, next, found.len() * 2);
    for (m, s) in found {
        out.bulk(m);
        let text = if big { fmt_g17(s) } else { d2string(s) };
        out.bulk(text.as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_string2d() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"1 "), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b"1\0"), None);
        assert_eq!(parse_score(b"-0").map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(parse_score(b"007"), Some(7.0));
        assert_eq!(parse_score(b"-"), None);
        assert_eq!(parse_score(b"+5"), Some(5.0));
        assert_eq!(parse_score(b"1234567890123456789"), Some(1234567890123456789.0));
        assert_eq!(parse_score(&[b'1'; 80]), Some(1.1111111111111111e79));
        // The integer fast path agrees with strtod.
        for s in ["0", "9", "-1", "10000", "999999999999999", "-999999999999999", "000000000000001"] {
            let (v, n, _) = c_strtod(s.as_bytes());
            assert_eq!(n, s.len());
            assert_eq!(parse_plain_int(s.as_bytes()).map(f64::to_bits), Some(v.to_bits()), "{s}");
        }
    }

    #[test]
    fn range_items() {
        let r = parse_score_range(b"(1", b"+inf").unwrap();
        assert!(r.minex && !r.maxex && r.min == 1.0 && r.max == f64::INFINITY);
        assert!(parse_score_range(b"", b" 5").is_ok());
        assert!(parse_score_range(b"a", b"1").is_err());
        assert!(parse_score_range(b"(nan", b"1").is_err());
        assert!(parse_lex_range(b"-", b"+").is_ok());
        assert!(parse_lex_range(b"a", b"+").is_err());
        assert!(parse_lex_range(b"", b"+").is_err());
        assert!(parse_lex_range(b"+x", b"+").is_err());
    }

    #[test]
    fn d2string_forms() {
        assert_eq!(d2string(1.0), "1");
        assert_eq!(d2string(1e15), "1000000000000000");
        assert_eq!(d2string(1e17), "100000000000000000");
        assert_eq!(d2string(1e20), "1e+20");
        assert_eq!(d2string(1.5), "1.5");
        assert_eq!(d2string(-0.0), "-0");
        assert_eq!(d2string(f64::INFINITY), "inf");
    }
}
