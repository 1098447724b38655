//! ZRANGE and its relatives: ZRANGESTORE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE,
//! ZRANGEBYLEX, ZREVRANGEBYLEX (Redis's `zrangeGenericCommand`).

use bytes::Bytes;

use super::{parse_lex_range, parse_score_range, reply_scored, store_built, store_zset, zread_pos, zset_in};
use crate::cmd::error::{self, CmdError};
use crate::cmd::{CmdResult, Ctx};
use crate::db::zset::{AddFlags, LexRange, ScoreRange, ZLimits, ZSetValue};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq)]
enum Dir {
    Auto,
    Fwd,
    Rev,
}

pub(super) fn zrange(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, 1, None, Kind::Auto, Dir::Auto)
}

pub(super) fn zrangestore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    generic(ctx, 2, Some(&args[1]), Kind::Auto, Dir::Auto)
}

pub(super) fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, 1, None, Kind::Rank, Dir::Rev)
}

pub(super) fn zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, 1, None, Kind::Score, Dir::Fwd)
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, 1, None, Kind::Score, Dir::Rev)
}

pub(super) fn zrangebylex(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, 1, None, Kind::Lex, Dir::Fwd)
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, 1, None, Kind::Lex, Dir::Rev)
}

enum Spec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

fn generic(ctx: &mut Ctx, start: usize, store: Option<&Bytes>, mut kind: Kind, mut dir: Dir) -> CmdResult {
    let args = ctx.args;
    let key = &args[start];
    let (mut minidx, mut maxidx) = (start + 1, start + 2);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = start + 3;
    while j < args.len() {
        let a = &args[j][..];
        let left = args.len() - j - 1;
        if store.is_none() && a.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
        } else if a.eq_ignore_ascii_case(b"limit") && left >= 2 {
            offset = crate::util::parse_i64(&args[j + 1]).ok_or(error::NOT_INTEGER)?;
            limit = crate::util::parse_i64(&args[j + 2]).ok_or(error::NOT_INTEGER)?;
            j += 2;
        } else if dir == Dir::Auto && a.eq_ignore_ascii_case(b"rev") {
            dir = Dir::Rev;
        } else if kind == Kind::Auto && a.eq_ignore_ascii_case(b"bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && a.eq_ignore_ascii_case(b"byscore") {
            kind = Kind::Score;
        } else {
            return Err(error::SYNTAX);
        }
        j += 1;
    }
    if dir == Dir::Auto {
        dir = Dir::Fwd;
    }
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        return Err(CmdError::fixed(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == Kind::Lex {
        return Err(CmdError::fixed("ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    let rev = dir == Dir::Rev;
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let spec = match kind {
        Kind::Score => Spec::Score(parse_score_range(&args[minidx], &args[maxidx])?),
        Kind::Lex => Spec::Lex(parse_lex_range(&args[minidx], &args[maxidx])?),
        _ => {
            let a = crate::util::parse_i64(&args[minidx]).ok_or(error::NOT_INTEGER)?;
            let b = crate::util::parse_i64(&args[maxidx]).ok_or(error::NOT_INTEGER)?;
            Spec::Rank(a, b)
        }
    };
    let Some(at) = zread_pos(ctx, key)? else {
        match store {
            Some(dst) => store_zset(ctx, dst, Vec::new(), "zrangestore"),
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    let z = zset_in(&ctx.state.dbs[ctx.client.db], at);
    if let (Spec::Rank(a, b), None) = (&spec, store) {
        // The common case, written straight from the stored entries.
        let out = &mut *ctx.out;
        let Some((first, n)) = rank_span(*a, *b, z.len()) else {
            out.array(0);
            return Ok(());
        };
        out.array(if withscores && !out.resp3 { n * 2 } else { n });
        let len = z.len();
        let (start, end) = if rev { (len - first - n, len - first) } else { (first, first + n) };
        z.for_each_in_ranks(start, end, rev, |(s, m)| {
            if withscores && out.resp3 {
                out.array(2);
            }
            out.bulk_sds(m);
            if withscores {
                out.double(*s);
            }
        });
        return Ok(());
    }
    let items = select(z, &spec, rev, offset, limit);
    match store {
        Some(dst) => {
            // Built the way Redis builds it (a listpack unless a rank range is known to be
            // long, then element by element in range order), so encodings and the listpack's
            // normalisation of -0 come out the same.
            let limits = ZLimits::from_config(&ctx.state.config);
            let mut out = if kind == Kind::Rank && items.len() > limits.max_entries {
                ZSetValue::new_big()
            } else {
                ZSetValue::new()
            };
            for (m, s) in &items {
                out.add(*s, m, AddFlags::default(), limits);
            }
            store_built(ctx, dst, out, "zrangestore");
        }
        None => reply_scored(ctx.out, &items, withscores),
    }
    Ok(())
}

/// The members a range selects, in reply order.
fn select<'a>(z: &'a ZSetValue, spec: &Spec, rev: bool, offset: i64, limit: i64) -> Vec<(&'a [u8], f64)> {
    let len = z.len() as i64;
    // A negative LIMIT count means "all"; a negative offset skips past the end in Redis.
    let take = if limit < 0 { usize::MAX } else { limit as usize };
    match spec {
        Spec::Rank(a, b) => {
            let Some((start, n)) = rank_span(*a, *b, z.len()) else { return Vec::new() };
            let from = if rev { len as usize - 1 - start } else { start };
            z.iter_at(from, rev).take(n).collect()
        }
        Spec::Score(r) => {
            let first = if rev { z.last_in_score(r) } else { z.first_in_score(r) };
            let Some(pos) = skip(first, offset, rev, z.len()) else { return Vec::new() };
            z.iter_at(pos, rev)
                .take_while(|(_, s)| if rev { r.gte_min(*s) } else { r.lte_max(*s) })
                .take(take)
                .collect()
        }
        Spec::Lex(r) => {
            let first = if rev { z.last_in_lex(r) } else { z.first_in_lex(r) };
            let Some(pos) = skip(first, offset, rev, z.len()) else { return Vec::new() };
            z.iter_at(pos, rev).take_while(|(m, _)| if rev { r.gte_min(m) } else { r.lte_max(m) }).take(take).collect()
        }
    }
}

/// A rank range `a..=b` (negative counts from the end) as (first rank, count) in the reply's
/// direction; None when it selects nothing.
pub(super) fn rank_span(a: i64, b: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let (mut start, mut end) = (a, b);
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    let end = end.min(len - 1);
    Some((start as usize, (end - start + 1) as usize))
}

/// Moves `offset` entries away from the first rank of a range; None when that leaves the set.
fn skip(first: Option<usize>, offset: i64, rev: bool, len: usize) -> Option<usize> {
    let first = first?;
    if offset < 0 {
        return None;
    }
    let off = usize::try_from(offset).ok()?;
    if rev {
        first.checked_sub(off)
    } else {
        first.checked_add(off).filter(|p| *p < len)
    }
}
