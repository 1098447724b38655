//! Sorted set values.
//!
//! Two encodings, as in Redis 7.0:
//! - `listpack`: a small sorted `Vec` of `(score, member)` (at most `zset-max-listpack-entries`
//!   entries, members at most `zset-max-listpack-value` bytes); member lookups scan it.
//! - `skiplist`: a member → score hash map plus a [`ChunkedList`] ordered by (score, member)
//!   with O(log n) rank, insert, delete and range starts.
//!
//! A small set converts to the big encoding when it outgrows the limits and never converts
//! back (commands that build a fresh result pick the encoding from the result's size).

#[path = "zset_list.rs"]
mod list;

use std::cmp::Ordering;

use std::hash::BuildHasher;

use indexmap::map::raw_entry_v1::{RawEntryApiV1, RawEntryMut};
use indexmap::IndexMap;
use rand::Rng;

pub use list::{cmp_entry, ChunkedList, ZEntry};

use crate::sds::Sds;

type Map = IndexMap<Sds, f64, foldhash::fast::RandomState>;

#[derive(Clone)]
pub struct ZSetValue {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// `listpack`: ascending (score, member).
    Small(Vec<ZEntry>),
    /// `skiplist`.
    Big(Box<Big>),
}

#[derive(Clone)]
struct Big {
    map: Map,
    list: ChunkedList,
}

#[inline]
fn visit(part: &[ZEntry], rev: bool, f: &mut impl FnMut(&ZEntry)) {
    if rev {
        part.iter().rev().for_each(f)
    } else {
        part.iter().for_each(f)
    }
}

/// What ZADD does to a member that exists with score `cur`: Ok(new score) to update it,
/// Err(outcome) when it stays as it is.
#[inline]
fn update_decision(cur: f64, score: f64, flags: AddFlags) -> Result<f64, AddOutcome> {
    if flags.nx {
        return Err(AddOutcome::Nop);
    }
    let mut score = score;
    if flags.incr {
        score += cur;
        if score.is_nan() {
            return Err(AddOutcome::Nan);
        }
    }
    if (flags.lt && score >= cur) || (flags.gt && score <= cur) {
        return Err(AddOutcome::Nop);
    }
    #[allow(clippy::float_cmp)]
    if score == cur {
        return Err(AddOutcome::Unchanged(score));
    }
    Ok(score)
}

impl Big {
    /// `zsetAdd` on the big encoding: the member is hashed once for the look-up and, when
    /// new, for the insert.
    fn add(&mut self, score: f64, member: &[u8], flags: AddFlags) -> AddOutcome {
        let hash = self.map.hasher().hash_one(member);
        match self.map.raw_entry_mut_v1().from_key_hashed_nocheck(hash, member) {
            RawEntryMut::Occupied(mut e) => {
                let cur = *e.get();
                let score = match update_decision(cur, score, flags) {
                    Ok(score) => score,
                    Err(outcome) => return outcome,
                };
                *e.get_mut() = score;
                let moved = self.list.update_score(cur, member, score);
                debug_assert!(moved, "member in list");
                AddOutcome::Updated(score)
            }
            RawEntryMut::Vacant(e) => {
                if flags.xx {
                    return AddOutcome::Nop;
                }
                let m = Sds::new(member);
                e.insert_hashed_nocheck(hash, m.clone(), score);
                self.list.insert(score, m);
                AddOutcome::Added(score)
            }
        }
    }

    /// Gives memory back after many removals (Redis resizes its dict the same way).
    fn shrink_if_sparse(&mut self) {
        let cap = self.map.capacity();
        if cap > 64 && self.map.len() * 8 < cap {
            self.map.shrink_to(self.map.len() * 2);
        }
    }
}

/// Encoding thresholds (`zset-max-listpack-entries`, `zset-max-listpack-value`).
#[derive(Debug, Clone, Copy)]
pub struct ZLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl ZLimits {
    pub fn from_config(c: &crate::config::Config) -> ZLimits {
        ZLimits { max_entries: c.zset_max_listpack_entries, max_value: c.zset_max_listpack_value }
    }

    /// Whether a set of `len` members, the longest `max_len` bytes, fits the small encoding.
    pub fn fits_small(&self, len: usize, max_len: usize) -> bool {
        len <= self.max_entries && max_len <= self.max_value
    }
}

/// ZADD's NX/XX/GT/LT/INCR options.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What `add` did (Redis's `zsetAdd` out flags).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AddOutcome {
    /// The score (or the incremented score) is NaN; nothing changed.
    Nan,
    /// NX/XX/GT/LT prevented the operation.
    Nop,
    Added(f64),
    Updated(f64),
    /// The member exists and its score stays the same.
    Unchanged(f64),
}

/// A score interval (ZRANGEBYSCORE's `min`/`max`, with `(` for exclusive ends).
#[derive(Debug, Clone, Copy)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    #[inline]
    pub fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    #[inline]
    pub fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }

    /// Ranges that can never contain anything.
    fn is_void(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

/// One end of a lexicographic range: `-`, `+` or a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexItem {
    Min,
    Max,
    Str(Vec<u8>),
}

/// A lexicographic interval (ZRANGEBYLEX's `[a`, `(a`, `-`, `+`).
#[derive(Debug, Clone)]
pub struct LexRange {
    pub min: LexItem,
    pub max: LexItem,
    pub minex: bool,
    pub maxex: bool,
}

/// Redis's `sdscmplex`: `-` below and `+` above every string.
fn cmp_lex(a: &LexItem, b: &LexItem) -> Ordering {
    match (a, b) {
        (LexItem::Min, LexItem::Min) | (LexItem::Max, LexItem::Max) => Ordering::Equal,
        (LexItem::Min, _) | (_, LexItem::Max) => Ordering::Less,
        (LexItem::Max, _) | (_, LexItem::Min) => Ordering::Greater,
        (LexItem::Str(x), LexItem::Str(y)) => x.cmp(y),
    }
}

fn cmp_value_lex(v: &[u8], b: &LexItem) -> Ordering {
    match b {
        LexItem::Min => Ordering::Greater,
        LexItem::Max => Ordering::Less,
        LexItem::Str(y) => v.cmp(y),
    }
}

impl LexRange {
    #[inline]
    pub fn gte_min(&self, v: &[u8]) -> bool {
        let c = cmp_value_lex(v, &self.min);
        if self.minex {
            c == Ordering::Greater
        } else {
            c != Ordering::Less
        }
    }

    #[inline]
    pub fn lte_max(&self, v: &[u8]) -> bool {
        let c = cmp_value_lex(v, &self.max);
        if self.maxex {
            c == Ordering::Less
        } else {
            c != Ordering::Greater
        }
    }

    fn is_void(&self) -> bool {
        let c = cmp_lex(&self.min, &self.max);
        c == Ordering::Greater || (c == Ordering::Equal && (self.minex || self.maxex))
    }
}

/// A score as a listpack keeps it: Redis stores "-0" there as the integer 0.
#[inline]
fn lp_score(s: f64) -> f64 {
    if s == 0.0 {
        0.0
    } else {
        s
    }
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::new()
    }
}

#[allow(dead_code)] // part of the API other families (OBJECT, COPY, SORT, RDB) use
impl ZSetValue {
    /// An empty set in the small encoding.
    pub fn new() -> ZSetValue {
        ZSetValue { repr: Repr::Small(Vec::new()) }
    }

    /// An empty set in the big encoding.
    pub fn new_big() -> ZSetValue {
        ZSetValue { repr: Repr::Big(Box::new(Big { map: Map::default(), list: ChunkedList::new() })) }
    }

    /// Builds a set from distinct members, choosing the encoding from the result's size the way
    /// Redis's store commands do.
    pub fn from_entries(mut entries: Vec<(Sds, f64)>, limits: ZLimits) -> ZSetValue {
        entries.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
        let max_len = entries.iter().map(|e| e.0.len()).max().unwrap_or(0);
        if limits.fits_small(entries.len(), max_len) {
            return ZSetValue { repr: Repr::Small(entries.into_iter().map(|(m, s)| (lp_score(s), m)).collect()) };
        }
        let mut map = Map::with_capacity_and_hasher(entries.len(), Default::default());
        for (m, s) in &entries {
            map.insert(m.clone(), *s);
        }
        let list = ChunkedList::from_sorted(entries.into_iter().map(|(m, s)| (s, m)).collect());
        ZSetValue { repr: Repr::Big(Box::new(Big { map, list })) }
    }

    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Small(_) => "listpack",
            Repr::Big(_) => "skiplist",
        }
    }

    pub fn is_big(&self) -> bool {
        matches!(self.repr, Repr::Big(_))
    }

    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Small(v) => {
                v.capacity() * std::mem::size_of::<ZEntry>() + v.iter().map(|e| e.1.heap_size()).sum::<usize>()
            }
            Repr::Big(b) => {
                std::mem::size_of::<Big>()
                    + b.map.capacity() * (std::mem::size_of::<(Sds, f64)>() + 17)
                    + b.list.heap_size()
                    + 2 * b.map.keys().map(|m| m.heap_size()).sum::<usize>()
            }
        }
    }

    // --- Contract used by other families (SORT, COPY, RDB); keep these signatures.

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(v) => v.len(),
            Repr::Big(b) => b.list.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Members with their scores, in ascending (score, member) order.
    pub fn ordered(&self) -> Vec<(Sds, f64)> {
        self.iter().map(|(m, s)| (Sds::new(m), s)).collect()
    }

    // --- Lookups.

    /// All entries in ascending order.
    pub fn iter(&self) -> Box<dyn DoubleEndedIterator<Item = (&[u8], f64)> + '_> {
        match &self.repr {
            Repr::Small(v) => Box::new(v.iter().map(|(s, m)| (&m[..], *s))),
            Repr::Big(b) => Box::new(b.list.iter().map(|(s, m)| (&m[..], *s))),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Small(v) => v.iter().find(|(_, m)| &m[..] == member).map(|(s, _)| *s),
            Repr::Big(b) => b.map.get(member).copied(),
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.score(member).is_some()
    }

    /// 0-based rank in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Small(v) => v.iter().position(|(_, m)| &m[..] == member),
            Repr::Big(b) => {
                let s = *b.map.get(member)?;
                b.list.rank(s, member)
            }
        }
    }

    /// The entry at ascending rank `r`.
    pub fn get(&self, r: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Small(v) => v.get(r).map(|(s, m)| (&m[..], *s)),
            Repr::Big(b) => b.list.get(r).map(|(s, m)| (&m[..], *s)),
        }
    }

    /// Entries from rank `r` upwards (`rev` = false) or downwards (`rev` = true, `r` included).
    pub fn iter_at(&self, r: usize, rev: bool) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        let len = self.len();
        match (&self.repr, rev) {
            (Repr::Small(v), false) => Box::new(v.iter().skip(r).map(|(s, m)| (&m[..], *s))),
            (Repr::Small(v), true) => {
                let upto = if len == 0 { 0 } else { r.min(len - 1) + 1 };
                Box::new(v[..upto].iter().rev().map(|(s, m)| (&m[..], *s)))
            }
            (Repr::Big(b), false) => Box::new(b.list.iter_from(r).map(|(s, m)| (&m[..], *s))),
            (Repr::Big(b), true) => Box::new(b.list.iter_rev_from(r).map(|(s, m)| (&m[..], *s))),
        }
    }

    /// Visits the entries of ascending ranks `start..end` (clamped to the length), lowest
    /// first, or highest first with `rev`; walks the stored slices directly (ZRANGE by rank).
    pub fn for_each_in_ranks(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&ZEntry)) {
        match &self.repr {
            Repr::Small(v) => {
                let end = end.min(v.len());
                let part = if start < end { &v[start..end] } else { &v[..0] };
                visit(part, rev, &mut f);
            }
            Repr::Big(b) if rev => b.list.slices(start, end).rev().for_each(|part| visit(part, true, &mut f)),
            Repr::Big(b) => b.list.slices(start, end).for_each(|part| visit(part, false, &mut f)),
        }
    }

    /// Number of leading entries for which `pred(member, score)` holds (a prefix property).
    pub fn partition_point(&self, mut pred: impl FnMut(&[u8], f64) -> bool) -> usize {
        match &self.repr {
            Repr::Small(v) => v.partition_point(|(s, m)| pred(m, *s)),
            Repr::Big(b) => b.list.partition_point(|(s, m)| pred(m, *s)),
        }
    }

    fn first(&self) -> Option<(&[u8], f64)> {
        self.get(0)
    }

    fn last(&self) -> Option<(&[u8], f64)> {
        self.len().checked_sub(1).and_then(|r| self.get(r))
    }

    /// Rank of the first entry inside the score range.
    pub fn first_in_score(&self, r: &ScoreRange) -> Option<usize> {
        if r.is_void() || !r.gte_min(self.last()?.1) || !r.lte_max(self.first()?.1) {
            return None;
        }
        let i = self.partition_point(|_, s| !r.gte_min(s));
        let (_, s) = self.get(i)?;
        r.lte_max(s).then_some(i)
    }

    /// Rank of the last entry inside the score range.
    pub fn last_in_score(&self, r: &ScoreRange) -> Option<usize> {
        if r.is_void() || !r.gte_min(self.last()?.1) || !r.lte_max(self.first()?.1) {
            return None;
        }
        let i = self.partition_point(|_, s| r.lte_max(s)).checked_sub(1)?;
        let (_, s) = self.get(i)?;
        r.gte_min(s).then_some(i)
    }

    /// Number of entries in the score range.
    pub fn count_in_score(&self, r: &ScoreRange) -> usize {
        match (self.first_in_score(r), self.last_in_score(r)) {
            (Some(a), Some(b)) if b >= a => b - a + 1,
            _ => 0,
        }
    }

    fn lex_possible(&self, r: &LexRange) -> bool {
        if r.is_void() {
            return false;
        }
        match (self.first(), self.last()) {
            (Some(f), Some(l)) => r.gte_min(l.0) && r.lte_max(f.0),
            _ => false,
        }
    }

    /// Rank of the first entry inside the lex range. Members are assumed to be ordered (all
    /// scores equal); the small encoding scans linearly like Redis's listpack code.
    pub fn first_in_lex(&self, r: &LexRange) -> Option<usize> {
        if !self.lex_possible(r) {
            return None;
        }
        let i = match &self.repr {
            Repr::Small(v) => v.iter().position(|(_, m)| r.gte_min(m))?,
            Repr::Big(b) => b.list.partition_point(|(_, m)| !r.gte_min(m)),
        };
        let (m, _) = self.get(i)?;
        r.lte_max(m).then_some(i)
    }

    /// Rank of the last entry inside the lex range.
    pub fn last_in_lex(&self, r: &LexRange) -> Option<usize> {
        if !self.lex_possible(r) {
            return None;
        }
        let i = match &self.repr {
            Repr::Small(v) => v.iter().rposition(|(_, m)| r.lte_max(m))?,
            Repr::Big(b) => b.list.partition_point(|(_, m)| r.lte_max(m)).checked_sub(1)?,
        };
        let (m, _) = self.get(i)?;
        r.gte_min(m).then_some(i)
    }

    /// Number of consecutive entries from rank `start` upwards that are `<= max` of the lex
    /// range (how Redis walks a lex range after finding its first element).
    pub fn lex_run(&self, start: usize, r: &LexRange) -> usize {
        self.iter_at(start, false).take_while(|(m, _)| r.lte_max(m)).count()
    }

    /// Number of entries in the lex range (ZLEXCOUNT).
    pub fn count_in_lex(&self, r: &LexRange) -> usize {
        let Some(first) = self.first_in_lex(r) else { return 0 };
        match &self.repr {
            Repr::Small(_) => self.lex_run(first, r),
            Repr::Big(_) => match self.last_in_lex(r) {
                Some(last) if last >= first => last - first + 1,
                Some(_) => 0,
                None => self.len() - first,
            },
        }
    }

    /// A uniformly random entry.
    pub fn random(&self, rng: &mut impl Rng) -> Option<(&[u8], f64)> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        self.entry_at_index(rng.random_range(0..n))
    }

    /// The entry at position `i` of the storage order (the rank for a small set, the hash map
    /// position for a big one): O(1), for uniform sampling.
    pub fn entry_at_index(&self, i: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Small(v) => v.get(i).map(|(s, m)| (&m[..], *s)),
            Repr::Big(b) => b.map.get_index(i).map(|(m, s)| (&m[..], *s)),
        }
    }

    /// Visits up to `count` members of a big set from `cursor` (positions walked from the end
    /// of the hash map, as the slot tables do); returns the next cursor, 0 when done. A small
    /// set is visited whole and returns 0.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8], f64)) -> u64 {
        match &self.repr {
            Repr::Small(v) => {
                for (s, m) in v {
                    f(m, *s);
                }
                0
            }
            Repr::Big(b) => {
                let len = b.map.len();
                let mut i = if cursor == 0 { len } else { (cursor.min(len as u64)) as usize };
                let mut n = 0;
                while i > 0 && n < count {
                    i -= 1;
                    let (m, s) = b.map.get_index(i).expect("index in range");
                    f(m, *s);
                    n += 1;
                }
                i as u64
            }
        }
    }

    // --- Updates.

    pub fn convert_to_big(&mut self) {
        if let Repr::Small(v) = &mut self.repr {
            let v = std::mem::take(v);
            let mut map = Map::with_capacity_and_hasher(v.len() + 1, Default::default());
            for (s, m) in &v {
                map.insert(m.clone(), *s);
            }
            self.repr = Repr::Big(Box::new(Big { map, list: ChunkedList::from_sorted(v) }));
        }
    }

    /// Adds or updates a member like Redis's `zsetAdd`.
    pub fn add(&mut self, score: f64, member: &[u8], flags: AddFlags, limits: ZLimits) -> AddOutcome {
        if score.is_nan() {
            return AddOutcome::Nan;
        }
        if let Repr::Big(b) = &mut self.repr {
            return b.add(score, member, flags);
        }
        if let Some(cur) = self.score(member) {
            let score = match update_decision(cur, score, flags) {
                Ok(score) => score,
                Err(outcome) => return outcome,
            };
            self.update_existing(member, cur, score);
            return AddOutcome::Updated(score);
        }
        if flags.xx {
            return AddOutcome::Nop;
        }
        self.insert_new(member, score, limits);
        AddOutcome::Added(score)
    }

    /// Sets `member`'s score, adding it if absent (RDB loading, RESTORE). Returns true if added.
    pub fn set_score(&mut self, member: &[u8], score: f64, limits: ZLimits) -> bool {
        match self.score(member) {
            Some(cur) => {
                if cur.to_bits() != score.to_bits() {
                    self.update_existing(member, cur, score);
                }
                false
            }
            None => {
                self.insert_new(member, score, limits);
                true
            }
        }
    }

    fn update_existing(&mut self, member: &[u8], cur: f64, score: f64) {
        match &mut self.repr {
            Repr::Small(v) => {
                let score = lp_score(score);
                let i = v.iter().position(|(_, m)| &m[..] == member).expect("member present");
                let (_, m) = v.remove(i);
                let pos = v.partition_point(|(s, mm)| cmp_entry(*s, mm, score, &m) == Ordering::Less);
                v.insert(pos, (score, m));
            }
            Repr::Big(b) => {
                let moved = b.list.update_score(cur, member, score);
                debug_assert!(moved, "member in list");
                if let Some(s) = b.map.get_mut(member) {
                    *s = score;
                }
            }
        }
    }

    fn insert_new(&mut self, member: &[u8], score: f64, limits: ZLimits) {
        if let Repr::Small(v) = &self.repr {
            if v.len() + 1 > limits.max_entries || member.len() > limits.max_value {
                self.convert_to_big();
            }
        }
        let m = Sds::new(member);
        match &mut self.repr {
            Repr::Small(v) => {
                let score = lp_score(score);
                let pos = v.partition_point(|(s, mm)| cmp_entry(*s, mm, score, member) == Ordering::Less);
                v.insert(pos, (score, m));
            }
            Repr::Big(b) => {
                b.map.insert(m.clone(), score);
                b.list.insert(score, m);
            }
        }
    }

    /// Removes a member; returns whether it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Small(v) => match v.iter().position(|(_, m)| &m[..] == member) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            Repr::Big(b) => match b.map.swap_remove(member) {
                Some(s) => {
                    b.list.remove(s, member);
                    b.shrink_if_sparse();
                    true
                }
                None => false,
            },
        }
    }

    /// Removes the entries of ascending ranks `start..end`; returns how many went.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match &mut self.repr {
            Repr::Small(v) => v.drain(start..end).count(),
            Repr::Big(b) => {
                let gone = b.list.remove_range(start, end);
                for (_, m) in &gone {
                    b.map.swap_remove(&m[..]);
                }
                b.shrink_if_sparse();
                gone.len()
            }
        }
    }

    /// Removes and returns the lowest (`max` = false) or highest entry.
    pub fn pop(&mut self, max: bool) -> Option<(Sds, f64)> {
        match &mut self.repr {
            Repr::Small(v) => {
                if v.is_empty() {
                    return None;
                }
                let (s, m) = if max { v.pop()? } else { v.remove(0) };
                Some((m, s))
            }
            Repr::Big(b) => {
                let (s, m) = if max { b.list.pop_last()? } else { b.list.pop_first()? };
                b.map.swap_remove(&m[..]);
                b.shrink_if_sparse();
                Some((m, s))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    const LIM: ZLimits = ZLimits { max_entries: 128, max_value: 64 };

    fn add(z: &mut ZSetValue, s: f64, m: &str) -> AddOutcome {
        z.add(s, m.as_bytes(), AddFlags::default(), LIM)
    }

    #[test]
    fn add_update_and_convert() {
        let mut z = ZSetValue::new();
        assert_eq!(add(&mut z, 1.0, "a"), AddOutcome::Added(1.0));
        assert_eq!(add(&mut z, 1.0, "a"), AddOutcome::Unchanged(1.0));
        assert_eq!(add(&mut z, 2.0, "a"), AddOutcome::Updated(2.0));
        let incr = AddFlags { incr: true, ..Default::default() };
        assert_eq!(z.add(f64::INFINITY, b"a", incr, LIM), AddOutcome::Updated(f64::INFINITY));
        assert_eq!(z.add(f64::NEG_INFINITY, b"a", incr, LIM), AddOutcome::Nan);
        let gt = AddFlags { gt: true, ..Default::default() };
        assert_eq!(z.add(1.0, b"a", gt, LIM), AddOutcome::Nop);
        assert_eq!(z.encoding(), "listpack");
        for i in 0..128 {
            add(&mut z, i as f64, &format!("m{i}"));
        }
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.len(), 129);
        assert_eq!(z.rank(b"a"), Some(128));
        assert_eq!(z.rank(b"m5"), Some(5));
        let mut z2 = ZSetValue::new();
        add(&mut z2, 1.0, &"x".repeat(65));
        assert_eq!(z2.encoding(), "skiplist");
    }

    #[test]
    fn ranges_same_on_both_encodings() {
        let entries: Vec<(Sds, f64)> =
            (0..100).map(|i| (Sds::new(format!("{:03}", i).as_bytes()), (i / 10) as f64)).collect();
        let small = ZSetValue::from_entries(entries.clone(), LIM);
        let big = ZSetValue::from_entries(entries, ZLimits { max_entries: 0, max_value: 64 });
        assert!(!small.is_big() && big.is_big());
        for z in [&small, &big] {
            let r = ScoreRange { min: 2.0, max: 4.0, minex: false, maxex: true };
            assert_eq!(z.first_in_score(&r), Some(20));
            assert_eq!(z.last_in_score(&r), Some(39));
            assert_eq!(z.count_in_score(&r), 20);
            let void = ScoreRange { min: 3.0, max: 3.0, minex: true, maxex: false };
            assert_eq!(z.count_in_score(&void), 0);
            let lex = LexRange { min: LexItem::Str(b"010".to_vec()), max: LexItem::Max, minex: true, maxex: true };
            let _ = z.first_in_lex(&lex);
            assert_eq!(z.iter_at(98, false).count(), 2);
            for (a, b) in [(0, 100), (10, 20), (95, 200), (50, 50), (60, 40)] {
                for rev in [false, true] {
                    let mut got = Vec::new();
                    z.for_each_in_ranks(a, b, rev, |e| got.push(e.1.clone()));
                    let mut want: Vec<_> =
                        z.iter().skip(a).take(b.saturating_sub(a)).map(|(m, _)| Sds::new(m)).collect();
                    if rev {
                        want.reverse();
                    }
                    assert_eq!(got, want, "{a}..{b} rev {rev}");
                }
            }
            assert_eq!(z.iter_at(1, true).count(), 2);
        }
        let all_eq: Vec<(Sds, f64)> = (0..300).map(|i| (Sds::new(format!("{:03}", i).as_bytes()), 0.0)).collect();
        let z = ZSetValue::from_entries(all_eq, LIM);
        assert!(z.is_big());
        let lex = LexRange {
            min: LexItem::Str(b"010".to_vec()),
            max: LexItem::Str(b"020".to_vec()),
            minex: true,
            maxex: false,
        };
        assert_eq!(z.first_in_lex(&lex), Some(11));
        assert_eq!(z.last_in_lex(&lex), Some(20));
        assert_eq!(z.count_in_lex(&lex), 10);
        let all = LexRange { min: LexItem::Min, max: LexItem::Max, minex: true, maxex: true };
        assert_eq!(z.count_in_lex(&all), 300);
        let none = LexRange { min: LexItem::Max, max: LexItem::Min, minex: true, maxex: true };
        assert_eq!(z.count_in_lex(&none), 0);
    }

    #[test]
    fn remove_pop_and_scan() {
        let mut z = ZSetValue::new_big();
        for i in 0..1000 {
            add(&mut z, i as f64, &format!("m{i}"));
        }
        assert!(z.remove(b"m10"));
        assert!(!z.remove(b"m10"));
        assert_eq!(z.remove_rank_range(0, 10), 10);
        assert_eq!(z.pop(false).unwrap().1, 11.0);
        assert_eq!(z.pop(true).unwrap().1, 999.0);
        assert_eq!(z.len(), 987);
        let mut seen = std::collections::HashSet::new();
        let mut c = 0;
        loop {
            c = z.scan(c, 10, |m, _| {
                seen.insert(m.to_vec());
            });
            if c == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 987);
        let mut rng = SmallRng::seed_from_u64(1);
        assert!(z.random(&mut rng).is_some());
        assert_eq!(z.ordered().len(), 987);
    }

    #[test]
    fn randomized_against_model() {
        let mut rng = SmallRng::seed_from_u64(3);
        let lim = ZLimits { max_entries: 16, max_value: 64 };
        let mut z = ZSetValue::new();
        let mut model: std::collections::BTreeMap<Vec<u8>, f64> = Default::default();
        for _ in 0..20_000 {
            let m = format!("k{}", rng.random_range(0..60)).into_bytes();
            match rng.random_range(0..10) {
                0..=5 => {
                    let s = rng.random_range(-5..5) as f64;
                    z.add(s, &m, AddFlags::default(), lim);
                    model.insert(m.clone(), s);
                }
                6..=7 => {
                    assert_eq!(z.remove(&m), model.remove(&m).is_some());
                }
                _ => {
                    let popped = z.pop(rng.random_bool(0.5));
                    if let Some((m, _)) = popped {
                        assert!(model.remove(&m[..]).is_some());
                    }
                }
            }
            let mut want: Vec<(Vec<u8>, f64)> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
            want.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
            let got: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
            assert_eq!(got, want);
            if let Some((k, _)) = want.first() {
                assert_eq!(z.rank(k), Some(0));
            }
            assert_eq!(z.score(&m), model.get(&m).copied());
        }
    }
}
