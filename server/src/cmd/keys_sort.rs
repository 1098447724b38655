//! SORT and SORT_RO, following Redis 7.0's `sort.c`: option parsing, `BY` patterns (including
//! `nosort`-style constant patterns and `key->field` hash lookups), `GET` (`#` and `->`),
//! `LIMIT`, `ASC`/`DESC`, `ALPHA` and `STORE`. The order of equal elements matches Redis too:
//! a stable sort for full sorts (glibc's qsort is a merge sort) and Redis's own partial
//! quicksort (`pqsort`) when `BY` is combined with `LIMIT`.

use std::cmp::Ordering;
use std::collections::VecDeque;

use bytes::Bytes;

use crate::cmd::error::{self, CmdError};
use crate::cmd::string::store;
use crate::cmd::{CmdResult, Ctx};
use crate::db::Value;
use crate::longdouble as ld;
use crate::sds::Sds;

pub fn sort(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, false)
}

pub fn sort_ro(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, true)
}

#[derive(Debug, Default)]
struct SortArgs {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<Bytes>,
    by: Option<Bytes>,
    /// `BY` with a pattern without `*`: keep the natural order.
    dontsort: bool,
    gets: Vec<Bytes>,
}

/// The part of a binary string C functions see (up to the first NUL).
fn cstr(b: &[u8]) -> &[u8] {
    match memchr::memchr(0, b) {
        Some(n) => &b[..n],
        None => b,
    }
}

fn parse(args: &[Bytes], readonly: bool) -> Result<SortArgs, CmdError> {
    let mut a = SortArgs { limit_count: -1, ..Default::default() };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let opt = args[j].to_ascii_lowercase();
        match opt.as_slice() {
            b"asc" => a.desc = false,
            b"desc" => a.desc = true,
            b"alpha" => a.alpha = true,
            b"limit" if left >= 2 => {
                a.limit_start = crate::util::parse_i64(&args[j + 1]).ok_or(error::NOT_INTEGER)?;
                a.limit_count = crate::util::parse_i64(&args[j + 2]).ok_or(error::NOT_INTEGER)?;
                j += 2;
            }
            b"store" if !readonly && left >= 1 => {
                a.store = Some(args[j + 1].clone());
                j += 1;
            }
            b"by" if left >= 1 => {
                let by = args[j + 1].clone();
                a.dontsort = !cstr(&by).contains(&b'*');
                a.by = Some(by);
                j += 1;
            }
            b"get" if left >= 1 => {
                a.gets.push(args[j + 1].clone());
                j += 1;
            }
            _ => return Err(error::SYNTAX),
        }
        j += 1;
    }
    Ok(a)
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the first `*` is
/// replaced by the element and the key (or, with `key->field`, the hash field) is read.
fn lookup_by_pattern(ctx: &mut Ctx, pattern: &[u8], subst: &[u8]) -> Option<Vec<u8>> {
    if pattern.first() == Some(&b'#') && (pattern.len() == 1 || pattern[1] == 0) {
        return Some(subst.to_vec());
    }
    let c = cstr(pattern);
    let p = c.iter().position(|&x| x == b'*')?;
    let arrow = c[p + 1..].windows(2).position(|w| w == b"->").map(|i| p + 1 + i).filter(|&f| f + 2 < c.len());
    let fieldlen = arrow.map_or(0, |f| pattern.len() - f - 2);
    let postfixlen = pattern.len() - (p + 1) - if fieldlen > 0 { fieldlen + 2 } else { 0 };
    let mut key = Vec::with_capacity(p + subst.len() + postfixlen);
    key.extend_from_slice(&pattern[..p]);
    key.extend_from_slice(subst);
    key.extend_from_slice(&pattern[p + 1..p + 1 + postfixlen]);
    let at = ctx.lookup_read(&key)?;
    let value = &ctx.db_ref().entry(at).value;
    match arrow {
        Some(f) => match value {
            Value::Hash(h) => h.get(&pattern[f + 2..]).map(|v| v.to_vec()),
            _ => None,
        },
        None => {
            let mut buf = itoa::Buffer::new();
            value.str_bytes(&mut buf).map(|b| b.to_vec())
        }
    }
}

struct Item {
    obj: Sds,
    score: f64,
    cmpobj: Option<Vec<u8>>,
}

impl Item {
    fn new(obj: Sds) -> Item {
        Item { obj, score: 0.0, cmpobj: None }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Set,
    ZSet,
}

/// Redis's `sortCompare`.
fn compare(x: &Item, y: &Item, a: &SortArgs) -> Ordering {
    let c = if !a.alpha {
        if x.score > y.score {
            Ordering::Greater
        } else if x.score < y.score {
            Ordering::Less
        } else {
            x.obj.as_bytes().cmp(y.obj.as_bytes())
        }
    } else if a.by.is_some() {
        match (&x.cmpobj, &y.cmpobj) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(p), Some(q)) => {
                if a.store.is_some() {
                    p.cmp(q)
                } else {
                    cstr(p).cmp(cstr(q))
                }
            }
        }
    } else if a.store.is_some() {
        x.obj.as_bytes().cmp(y.obj.as_bytes())
    } else {
        // strcoll in the C / C.UTF-8 locales: byte order up to the terminator.
        cstr(&x.obj).cmp(cstr(&y.obj))
    };
    if a.desc {
        c.reverse()
    } else {
        c
    }
}

fn sort_generic(ctx: &mut Ctx, readonly: bool) -> CmdResult {
    let mut a = parse(ctx.args, readonly)?;
    let key = ctx.args[1].clone();
    let found = ctx.lookup_read(&key);
    let kind = match found.map(|at| &ctx.db_ref().entry(at).value) {
        None => Kind::List,
        Some(Value::List(_)) => Kind::List,
        Some(Value::Set(_)) => Kind::Set,
        Some(Value::ZSet(_)) => Kind::ZSet,
        Some(_) => return Err(error::WRONGTYPE),
    };
    // Redis converts a sorted set it sorts to its skiplist encoding, for good (OBJECT ENCODING
    // shows it afterwards).
    if let (Some(at), Kind::ZSet) = (found, kind) {
        if let Value::ZSet(z) = &mut ctx.db().entry_mut(at).value {
            if !z.is_big() {
                z.convert_to_big();
            }
        }
    }
    // A set has no natural order: sort it when the result is stored.
    if a.dontsort && kind == Kind::Set && a.store.is_some() {
        a.dontsort = false;
        a.alpha = true;
        a.by = None;
    }
    let total = match found.map(|at| &ctx.db_ref().entry(at).value) {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    } as i64;

    // LIMIT sanity checks, exactly as Redis clamps them.
    let mut vectorlen = total;
    let mut start = a.limit_start.max(0).min(vectorlen);
    let limit_count = a.limit_count.max(-1).min(vectorlen);
    let mut end = if limit_count < 0 { vectorlen - 1 } else { start + limit_count - 1 };
    if start >= vectorlen {
        start = vectorlen - 1;
        end = vectorlen - 2;
    }
    if end >= vectorlen {
        end = vectorlen - 1;
    }
    if (kind == Kind::ZSet || kind == Kind::List) && a.dontsort && (start != 0 || end != vectorlen - 1) {
        vectorlen = end - start + 1;
    }

    // Load the elements.
    let mut items: Vec<Item> = Vec::new();
    if let Some(at) = found {
        let value = &ctx.db_ref().entry(at).value;
        match value {
            Value::List(l) if a.dontsort && end >= start => {
                let n = vectorlen.max(0) as usize;
                if a.desc {
                    let first = (total - start - 1) as usize;
                    items.extend(l.iter().take(first + 1).rev().take(n).map(|e| Item::new(e.clone())));
                } else {
                    items.extend(l.iter().skip(start as usize).take(n).map(|e| Item::new(e.clone())));
                }
                end -= start;
                start = 0;
            }
            Value::List(_) if a.dontsort => {}
            Value::List(l) => items.extend(l.iter().map(|e| Item::new(e.clone()))),
            Value::Set(s) => items.extend(s.members().into_iter().map(Item::new)),
            Value::ZSet(z) if a.dontsort => {
                let ordered = z.ordered();
                let n = vectorlen.max(0) as usize;
                if n > 0 {
                    if a.desc {
                        let first = (total - start - 1) as usize;
                        items.extend(ordered.into_iter().take(first + 1).rev().take(n).map(|(m, _)| Item::new(m)));
                    } else {
                        items.extend(ordered.into_iter().skip(start as usize).take(n).map(|(m, _)| Item::new(m)));
                    }
                }
                end -= start;
                start = 0;
            }
            Value::ZSet(z) => items.extend(z.ordered().into_iter().map(|(m, _)| Item::new(m))),
            _ => {}
        }
    }

    // Scores (or comparison strings) and sorting.
    let mut conversion_error = false;
    if !a.dontsort {
        for item in items.iter_mut() {
            let byval = match &a.by {
                Some(by) => match lookup_by_pattern(ctx, by, &item.obj) {
                    Some(v) => v,
                    None => continue,
                },
                None => item.obj.to_vec(),
            };
            if a.alpha {
                if a.by.is_some() {
                    item.cmpobj = Some(byval);
                }
            } else {
                let (score, complete, erange) = ld::strtod(&byval);
                if !complete || erange || score.is_nan() {
                    conversion_error = true;
                }
                item.score = score;
            }
        }
        let len = items.len() as i64;
        if a.by.is_some() && (start != 0 || end != len - 1) && len > 0 {
            pqsort(&mut items, start.max(0) as usize, end.max(0) as usize, &|x, y| compare(x, y, &a));
        } else {
            items.sort_by(|x, y| compare(x, y, &a));
        }
    }

    let span = (end - start + 1).max(0) as usize;
    let outputlen = if a.gets.is_empty() { span } else { a.gets.len() * span };
    if conversion_error {
        return Err(CmdError::fixed("ERR One or more scores can't be converted into double"));
    }
    let range = if span == 0 { 0..0 } else { start as usize..end as usize + 1 };
    match a.store.clone() {
        None => {
            ctx.out.array(outputlen);
            for item in &items[range] {
                if a.gets.is_empty() {
                    ctx.out.bulk(&item.obj);
                }
                for g in &a.gets {
                    match lookup_by_pattern(ctx, g, &item.obj) {
                        Some(v) => ctx.out.bulk(&v),
                        None => ctx.out.null(),
                    }
                }
            }
        }
        Some(dst) => {
            let mut list: VecDeque<Sds> = VecDeque::with_capacity(outputlen);
            for item in &items[range] {
                if a.gets.is_empty() {
                    list.push_back(item.obj.clone());
                }
                for g in &a.gets {
                    let v = lookup_by_pattern(ctx, g, &item.obj).unwrap_or_default();
                    list.push_back(Sds::from_vec(v));
                }
            }
            if outputlen > 0 {
                let found = ctx.lookup_write(&dst);
                store(ctx, &dst, found, Value::List(Box::new(list)), false);
                ctx.modified(&dst);
                ctx.notify('l', "sortstore", &dst);
            } else if ctx.db().remove(&dst).is_some() {
                ctx.modified(&dst);
                ctx.notify('g', "del", &dst);
            }
            ctx.out.int(outputlen as i64);
        }
    }
    Ok(())
}

/// Redis's partial quicksort with an `Ordering` comparator.
fn pqsort<T>(v: &mut [T], lrange: usize, rrange: usize, cmp: &impl Fn(&T, &T) -> Ordering) {
    crate::pqsort::pqsort(v, &|a, b| cmp(a, b) as i32, lrange, rrange);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    #[test]
    fn parsing() {
        let a = parse(&args("sort k by w_* get # get h_*->f limit 1 2 desc alpha store dst"), false).unwrap();
        assert!(a.desc && a.alpha && !a.dontsort);
        assert_eq!((a.limit_start, a.limit_count), (1, 2));
        assert_eq!(a.gets.len(), 2);
        assert_eq!(a.store.as_deref(), Some(&b"dst"[..]));
        assert!(parse(&args("sort k by nosort"), false).unwrap().dontsort);
        assert!(parse(&args("sort k store dst"), true).is_err());
        assert!(parse(&args("sort k limit 1"), false).is_err());
        assert_eq!(parse(&args("sort k limit a 1"), false).unwrap_err(), error::NOT_INTEGER);
        assert!(parse(&args("sort k get"), false).is_err());
        let a = parse(&args("sort k desc asc"), false).unwrap();
        assert!(!a.desc);
        assert_eq!(a.limit_count, -1);
    }

    #[test]
    fn pqsort_sorts_the_requested_range() {
        let mut seed = 12345u64;
        for n in [0usize, 1, 5, 7, 8, 40, 41, 100, 1000] {
            let mut v: Vec<u64> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (seed >> 33) % 50
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort();
            if n == 0 {
                continue;
            }
            let (l, r) = (n / 3, (n / 2).max(n / 3));
            pqsort(&mut v, l, r, &|a: &u64, b: &u64| a.cmp(b));
            assert_eq!(&v[l..=r], &sorted[l..=r], "n={n}");
        }
    }
}
