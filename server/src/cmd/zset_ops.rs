//! ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD (Redis's
//! `zunionInterDiffGenericCommand`). Plain sets are accepted as inputs, every member scoring 1.

use bytes::Bytes;
use indexmap::map::Entry;

use super::{parse_score, reply_scored, store_zset};
use crate::cmd::error::{self, CmdError};
use crate::cmd::set::{arg_positive, lookup_many, numkeys_positions};
use crate::cmd::{CmdResult, Ctx};
use crate::db::set::SetValue;
use crate::db::zset::{cmp_entry, ZSetValue};
use crate::db::{KeyPos, Value};
use crate::sds::Sds;

/// Key positions of ZUNION/ZINTER/ZDIFF/ZINTERCARD (`numkeys` at 1).
#[allow(dead_code)]
pub fn zset_op_keys(args: &[Bytes]) -> Vec<usize> {
    numkeys_positions(args, 1)
}

/// Key positions of ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE: the destination, then `numkeys` keys.
#[allow(dead_code)]
pub fn zsetop_store_keys(args: &[Bytes]) -> Vec<usize> {
    let mut v = vec![1];
    v.extend(numkeys_positions(args, 2));
    v
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

pub(super) fn zunionstore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    generic(ctx, Some(&args[1]), 2, Op::Union, false)
}

pub(super) fn zinterstore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    generic(ctx, Some(&args[1]), 2, Op::Inter, false)
}

pub(super) fn zdiffstore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    generic(ctx, Some(&args[1]), 2, Op::Diff, false)
}

pub(super) fn zunion(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, None, 1, Op::Union, false)
}

pub(super) fn zinter(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, None, 1, Op::Inter, false)
}

pub(super) fn zdiff(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, None, 1, Op::Diff, false)
}

pub(super) fn zintercard(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, None, 1, Op::Inter, true)
}

/// One input: a sorted set, a set (scores 1) or a missing key, with its weight.
struct Src<'a> {
    at: Option<KeyPos>,
    val: Input<'a>,
    weight: f64,
}

enum Input<'a> {
    None,
    Set(&'a SetValue),
    Z(&'a ZSetValue),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self.val {
            Input::None => 0,
            Input::Set(s) => s.len(),
            Input::Z(z) => z.len(),
        }
    }

    /// Every (member, score), members of sets scoring 1.
    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self.val {
            Input::None => {}
            Input::Set(s) => {
                let mut b = itoa::Buffer::new();
                for m in s.iter() {
                    f(m.bytes(&mut b), 1.0);
                }
            }
            Input::Z(z) => {
                for (m, s) in z.iter().rev() {
                    f(m, s);
                }
            }
        }
    }

    fn find(&self, m: &[u8]) -> Option<f64> {
        match self.val {
            Input::None => None,
            Input::Set(s) => s.contains(m).then_some(1.0),
            Input::Z(z) => z.score(m),
        }
    }

    fn same(&self, other: &Src) -> bool {
        self.at.is_some() && self.at == other.at
    }
}

fn aggregate(target: &mut f64, v: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += v;
            // inf + -inf: Redis keeps 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v
            }
        }
    }
}

fn weighted(score: f64, w: f64) -> f64 {
    let v = w * score;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

fn generic(ctx: &mut Ctx, dst: Option<&Bytes>, numkeys_idx: usize, op: Op, card_only: bool) -> CmdResult {
    let args = ctx.args;
    let setnum = crate::util::parse_i64(&args[numkeys_idx]).ok_or(error::NOT_INTEGER)?;
    if setnum < 1 {
        return Err(CmdError::msg(format!("ERR at least 1 input key is needed for '{}' command", ctx.spec.name)));
    }
    if setnum as u64 > (args.len() - (numkeys_idx + 1)) as u64 {
        return Err(error::SYNTAX);
    }
    let setnum = setnum as usize;
    let keys = &args[numkeys_idx + 1..numkeys_idx + 1 + setnum];
    let pos = lookup_many(ctx, keys);
    let db = &ctx.state.dbs[ctx.client.db];
    let mut srcs: Vec<Src> = Vec::with_capacity(setnum);
    for at in pos {
        let val = match at {
            None => Input::None,
            Some(at) => match &db.entry(at).value {
                Value::ZSet(z) => Input::Z(z),
                Value::Set(s) => Input::Set(s),
                _ => return Err(error::WRONGTYPE),
            },
        };
        srcs.push(Src { at, val, weight: 1.0 });
    }
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    let mut j = numkeys_idx + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = &args[j][..];
        if op != Op::Diff && !card_only && remaining > setnum && a.eq_ignore_ascii_case(b"weights") {
            for (i, src) in srcs.iter_mut().enumerate() {
                src.weight = parse_score(&args[j + 1 + i]).ok_or(CmdError::fixed("ERR weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != Op::Diff && !card_only && remaining >= 2 && a.eq_ignore_ascii_case(b"aggregate") {
            let v = &args[j + 1][..];
            how = if v.eq_ignore_ascii_case(b"sum") {
                Aggregate::Sum
            } else if v.eq_ignore_ascii_case(b"min") {
                Aggregate::Min
            } else if v.eq_ignore_ascii_case(b"max") {
                Aggregate::Max
            } else {
                return Err(error::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && a.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && a.eq_ignore_ascii_case(b"limit") {
            limit = arg_positive(&args[j + 1], Some("ERR LIMIT can't be negative"))? as usize;
            j += 2;
        } else {
            return Err(error::SYNTAX);
        }
    }
    if op != Op::Diff {
        srcs.sort_by_key(|s| s.len());
    }

    let mut result: Vec<(Sds, f64)> = Vec::new();
    let mut card = 0usize;
    match op {
        Op::Inter => {
            if srcs[0].len() > 0 {
                let first = &srcs[0];
                let mut done = false;
                first.for_each(|m, s0| {
                    if done {
                        return;
                    }
                    let mut score = weighted(s0, first.weight);
                    for other in &srcs[1..] {
                        let v = if other.same(first) { Some(s0) } else { other.find(m) };
                        match v {
                            Some(v) => aggregate(&mut score, v * other.weight, how),
                            None => return,
                        }
                    }
                    if card_only {
                        card += 1;
                        if limit != 0 && card >= limit {
                            done = true;
                        }
                    } else {
                        result.push((Sds::new(m), score));
                    }
                });
            }
        }
        Op::Union => {
            let mut acc: indexmap::IndexMap<Sds, f64, foldhash::fast::RandomState> = Default::default();
            for src in &srcs {
                src.for_each(|m, s| {
                    let score = weighted(s, src.weight);
                    match acc.entry(Sds::new(m)) {
                        Entry::Occupied(mut e) => aggregate(e.get_mut(), score, how),
                        Entry::Vacant(e) => {
                            e.insert(score);
                        }
                    }
                });
            }
            result = acc.into_iter().collect();
        }
        Op::Diff => {
            let first = &srcs[0];
            if first.len() > 0 && !srcs[1..].iter().any(|s| s.same(first)) {
                first.for_each(|m, s| {
                    if !srcs[1..].iter().any(|o| o.find(m).is_some()) {
                        result.push((Sds::new(m), s));
                    }
                });
            }
        }
    }

    if card_only {
        ctx.out.int(card as i64);
        return Ok(());
    }
    if let Some(dst) = dst {
        let event = match op {
            Op::Union => "zunionstore",
            Op::Inter => "zinterstore",
            Op::Diff => "zdiffstore",
        };
        store_zset(ctx, dst, result, event);
        return Ok(());
    }
    result.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
    let items: Vec<(&[u8], f64)> = result.iter().map(|(m, s)| (&m[..], *s)).collect();
    reply_scored(ctx.out, &items, withscores);
    Ok(())
}
