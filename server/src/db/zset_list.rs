//! `ChunkedList`: the ordered half of a big sorted set.
//!
//! Entries `(score, member)` are kept in ascending order in a list of sorted chunks of at most
//! `CHUNK_MAX` entries each. A Fenwick tree over the chunk lengths turns a rank into a (chunk,
//! offset) position and back in O(log chunks), so rank lookups, inserts, deletes and range
//! starts by rank, score or member all cost O(log n) plus a memmove inside one chunk.
//! Splitting, merging or dropping a chunk rebuilds the Fenwick tree (O(chunks)), which happens
//! at most once every `CHUNK_MAX / 2` updates of that chunk.

use std::cmp::Ordering;

use crate::sds::Sds;

/// One element: its score and member.
pub type ZEntry = (f64, Sds);

/// Largest chunk; a chunk that grows beyond it is split in two halves.
const CHUNK_MAX: usize = 256;
/// A chunk smaller than this is merged with a neighbour when the result fits.
const CHUNK_MIN: usize = CHUNK_MAX / 4;

/// The order of a sorted set: by score, then by member bytes. Scores are never NaN; -0 and 0
/// compare equal as in Redis.
#[inline]
pub fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

#[derive(Clone, Default)]
pub struct ChunkedList {
    chunks: Vec<Vec<ZEntry>>,
    /// The score of each chunk's last entry, kept in one small array so finding a chunk reads
    /// no chunk memory (a cache miss per probe otherwise); members are read on ties only.
    tails: Vec<f64>,
    /// 1-based Fenwick tree over `chunks[i].len()`; `fen[0]` is unused.
    fen: Vec<usize>,
    len: usize,
}

impl ChunkedList {
    pub fn new() -> ChunkedList {
        ChunkedList::default()
    }

    /// Builds from entries already in ascending order.
    pub fn from_sorted(v: Vec<ZEntry>) -> ChunkedList {
        let len = v.len();
        let fill = CHUNK_MAX * 3 / 4;
        let mut chunks = Vec::with_capacity(len.div_ceil(fill));
        let mut it = v.into_iter().peekable();
        while it.peek().is_some() {
            let mut c = Vec::with_capacity(fill);
            c.extend(it.by_ref().take(fill));
            chunks.push(c);
        }
        let mut l = ChunkedList { chunks, tails: Vec::new(), fen: Vec::new(), len };
        l.rebuild();
        l
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    #[allow(dead_code)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes of the structure itself (members' own heap not included).
    pub fn heap_size(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Vec<ZEntry>>()
            + self.chunks.iter().map(|c| c.capacity() * std::mem::size_of::<ZEntry>()).sum::<usize>()
            + self.fen.capacity() * std::mem::size_of::<usize>()
            + self.tails.capacity() * std::mem::size_of::<f64>()
    }

    /// Recomputes the Fenwick tree and the tail scores after chunks were split, merged or
    /// dropped.
    fn rebuild(&mut self) {
        let n = self.chunks.len();
        self.tails.clear();
        self.tails.extend(self.chunks.iter().map(|c| c.last().expect("chunks are never empty").0));
        self.fen.clear();
        self.fen.resize(n + 1, 0);
        for i in 1..=n {
            self.fen[i] += self.chunks[i - 1].len();
            let j = i + (i & i.wrapping_neg());
            if j <= n {
                self.fen[j] += self.fen[i];
            }
        }
    }

    fn fen_add(&mut self, chunk: usize, delta: isize) {
        let n = self.chunks.len();
        let mut i = chunk + 1;
        while i <= n {
            self.fen[i] = (self.fen[i] as isize + delta) as usize;
            i += i & i.wrapping_neg();
        }
    }

    /// Number of entries in the chunks before `chunk`.
    fn prefix(&self, chunk: usize) -> usize {
        let mut i = chunk;
        let mut s = 0;
        while i > 0 {
            s += self.fen[i];
            i -= i & i.wrapping_neg();
        }
        s
    }

    /// (chunk, offset) of the entry at `rank` (< len).
    fn locate(&self, rank: usize) -> (usize, usize) {
        let n = self.chunks.len();
        if n == 1 {
            return (0, rank);
        }
        let mut pos = 0;
        let mut rem = rank;
        let mut step = if n == 0 { 0 } else { 1usize << (usize::BITS - 1 - n.leading_zeros()) };
        while step > 0 {
            let next = pos + step;
            if next <= n && self.fen[next] <= rem {
                pos = next;
                rem -= self.fen[next];
            }
            step >>= 1;
        }
        (pos, rem)
    }

    /// The entry at `rank`, if any.
    pub fn get(&self, rank: usize) -> Option<&ZEntry> {
        if rank >= self.len {
            return None;
        }
        let (c, o) = self.locate(rank);
        Some(&self.chunks[c][o])
    }

    /// Index of the chunk that holds (or would hold) `(score, member)`: the first chunk whose
    /// last entry is not below it, or the last chunk.
    fn chunk_for(&self, score: f64, member: &[u8]) -> usize {
        let n = self.chunks.len();
        // Chunks whose tail score is below `score` come first; among those whose tail score
        // equals it, the member decides.
        let mut i = self.tails.partition_point(|t| *t < score);
        while i < n && self.tails[i] <= score {
            let (s, m) = self.chunks[i].last().expect("chunks are never empty");
            if cmp_entry(*s, m, score, member) != Ordering::Less {
                break;
            }
            i += 1;
        }
        i.min(n.saturating_sub(1))
    }

    /// Keeps `tails[c]` in step after chunk `c` changed without a split, merge or drop.
    #[inline]
    fn sync_tail(&mut self, c: usize) {
        self.tails[c] = self.chunks[c].last().expect("chunks are never empty").0;
    }

    /// Inserts an entry that is not present yet.
    pub fn insert(&mut self, score: f64, member: Sds) {
        if self.chunks.is_empty() {
            self.chunks.push(vec![(score, member)]);
            self.len = 1;
            self.rebuild();
            return;
        }
        let ci = self.chunk_for(score, &member);
        let chunk = &mut self.chunks[ci];
        let off = chunk.partition_point(|(s, m)| cmp_entry(*s, m, score, &member) == Ordering::Less);
        chunk.insert(off, (score, member));
        self.len += 1;
        if chunk.len() > CHUNK_MAX {
            let tail = chunk.split_off(chunk.len() / 2);
            self.chunks.insert(ci + 1, tail);
            self.rebuild();
        } else {
            if off + 1 == chunk.len() {
                self.sync_tail(ci);
            }
            self.fen_add(ci, 1);
        }
    }

    /// Moves `(old, member)` to score `new`; returns false when it is not present. An entry
    /// that stays between its chunk's neighbours moves inside its chunk (no Fenwick update,
    /// one memmove of the entries it passes); otherwise it is removed and inserted again.
    pub fn update_score(&mut self, old: f64, member: &[u8], new: f64) -> bool {
        let Some((c, o)) = self.find(old, member) else { return false };
        let above_prev = c == 0 || {
            let (s, m) = self.chunks[c - 1].last().expect("chunks are never empty");
            cmp_entry(*s, m, new, member) == Ordering::Less
        };
        let below_next = self.chunks.get(c + 1).is_none_or(|next| {
            let (s, m) = &next[0];
            cmp_entry(new, member, *s, m) == Ordering::Less
        });
        if !(above_prev && below_next) {
            let (_, m) = self.remove_at(c, o);
            self.insert(new, m);
            return true;
        }
        let chunk = &mut self.chunks[c];
        // Entries below the new key; the entry itself counts when it moves up.
        let p = chunk.partition_point(|(s, m)| cmp_entry(*s, m, new, member) == Ordering::Less);
        let at = if p > o {
            chunk[o..p].rotate_left(1);
            p - 1
        } else {
            chunk[p..=o].rotate_right(1);
            p
        };
        chunk[at].0 = new;
        self.sync_tail(c);
        true
    }

    /// Finds `(score, member)`: its chunk and offset.
    fn find(&self, score: f64, member: &[u8]) -> Option<(usize, usize)> {
        if self.chunks.is_empty() {
            return None;
        }
        let ci = self.chunk_for(score, member);
        let chunk = &self.chunks[ci];
        let off = chunk.partition_point(|(s, m)| cmp_entry(*s, m, score, member) == Ordering::Less);
        match chunk.get(off) {
            Some((s, m)) if cmp_entry(*s, m, score, member) == Ordering::Equal => Some((ci, off)),
            _ => None,
        }
    }

    /// 0-based rank of `(score, member)`.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let (c, o) = self.find(score, member)?;
        Some(self.prefix(c) + o)
    }

    /// Removes `(score, member)`; returns the stored entry.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> Option<ZEntry> {
        let (c, o) = self.find(score, member)?;
        Some(self.remove_at(c, o))
    }

    fn remove_at(&mut self, c: usize, o: usize) -> ZEntry {
        let e = self.chunks[c].remove(o);
        self.len -= 1;
        if !self.fix_chunk(c) {
            if o == self.chunks[c].len() {
                self.sync_tail(c);
            }
            self.fen_add(c, -1);
        }
        e
    }

    /// Drops chunk `c` when empty or merges it with a neighbour when small. Returns true when
    /// the structure changed (and the Fenwick tree was rebuilt).
    fn fix_chunk(&mut self, c: usize) -> bool {
        let len = self.chunks[c].len();
        if len == 0 {
            self.chunks.remove(c);
            self.rebuild();
            return true;
        }
        if len >= CHUNK_MIN || self.chunks.len() == 1 {
            return false;
        }
        // Merge with the smaller neighbour if the result fits in one chunk.
        let left = c.checked_sub(1).map(|l| self.chunks[l].len());
        let right = self.chunks.get(c + 1).map(|r| r.len());
        let target = match (left, right) {
            (Some(l), Some(r)) => {
                if l <= r {
                    c - 1
                } else {
                    c
                }
            }
            (Some(_), None) => c - 1,
            (None, Some(_)) => c,
            (None, None) => return false,
        };
        // Merge chunks `target` and `target + 1`.
        if self.chunks[target].len() + self.chunks[target + 1].len() > CHUNK_MAX {
            return false;
        }
        let next = self.chunks.remove(target + 1);
        self.chunks[target].extend(next);
        self.rebuild();
        true
    }

    /// Number of leading entries for which `pred` holds; `pred` must be true on a prefix of
    /// the list and false after it.
    pub fn partition_point(&self, mut pred: impl FnMut(&ZEntry) -> bool) -> usize {
        let ci = self.chunks.partition_point(|c| pred(c.last().expect("chunks are never empty")));
        if ci == self.chunks.len() {
            return self.len;
        }
        self.prefix(ci) + self.chunks[ci].partition_point(pred)
    }

    /// Entries from `rank` upwards.
    pub fn iter_from(&self, rank: usize) -> impl Iterator<Item = &ZEntry> + '_ {
        let (ci, off) = if rank >= self.len { (self.chunks.len(), 0) } else { self.locate(rank) };
        self.chunks[ci..].iter().enumerate().flat_map(move |(i, c)| if i == 0 { &c[off..] } else { &c[..] }.iter())
    }

    /// Entries from `rank` (inclusive) downwards.
    pub fn iter_rev_from(&self, rank: usize) -> impl Iterator<Item = &ZEntry> + '_ {
        let (ci, off, any) = if self.len == 0 {
            (0, 0, false)
        } else {
            let (c, o) = self.locate(rank.min(self.len - 1));
            (c, o, true)
        };
        let upto = if any { ci + 1 } else { 0 };
        self.chunks[..upto]
            .iter()
            .rev()
            .enumerate()
            .flat_map(move |(i, c)| if i == 0 { &c[..=off] } else { &c[..] }.iter().rev())
    }

    /// The entries of ranks `start..end` (clamped to the length) as slices of consecutive
    /// chunks, in ascending order.
    pub fn slices(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &[ZEntry]> + '_ {
        let end = end.min(self.len);
        let ((ci, off), (cj, last)) =
            if start < end { (self.locate(start), self.locate(end - 1)) } else { ((0, 0), (0, 0)) };
        let chunks = if start < end { &self.chunks[ci..=cj] } else { &self.chunks[..0] };
        let n = chunks.len();
        chunks.iter().enumerate().map(move |(i, c)| {
            let lo = if i == 0 { off } else { 0 };
            let hi = if i + 1 == n { last + 1 } else { c.len() };
            &c[lo..hi]
        })
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &ZEntry> + '_ {
        self.chunks.iter().flatten()
    }

    /// Removes the entries of ranks `start..end` and returns them in order.
    pub fn remove_range(&mut self, start: usize, end: usize) -> Vec<ZEntry> {
        let end = end.min(self.len);
        if start >= end {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(end - start);
        let (ci, off) = self.locate(start);
        let (cj, offj) = self.locate(end - 1);
        if ci == cj {
            out.extend(self.chunks[ci].drain(off..=offj));
        } else {
            out.extend(self.chunks[ci].drain(off..));
            for c in &mut self.chunks[ci + 1..cj] {
                out.append(c);
            }
            out.extend(self.chunks[cj].drain(..=offj));
        }
        // Drop the chunks left empty (all of them lie in ci..=cj) in one pass.
        self.chunks.retain(|c| !c.is_empty());
        self.len -= out.len();
        self.rebuild();
        // The chunks around the cut may be small: merge them with a neighbour if so.
        for c in [ci + 1, ci, ci.wrapping_sub(1)] {
            if c < self.chunks.len() {
                self.fix_chunk(c);
            }
        }
        out
    }

    pub fn pop_first(&mut self) -> Option<ZEntry> {
        if self.len == 0 {
            return None;
        }
        Some(self.remove_at(0, 0))
    }

    pub fn pop_last(&mut self) -> Option<ZEntry> {
        if self.len == 0 {
            return None;
        }
        let c = self.chunks.len() - 1;
        let o = self.chunks[c].len() - 1;
        Some(self.remove_at(c, o))
    }

    #[cfg(test)]
    fn check(&self) {
        let mut n = 0;
        let mut prev: Option<&ZEntry> = None;
        for (i, c) in self.chunks.iter().enumerate() {
            assert!(!c.is_empty() && c.len() <= CHUNK_MAX, "chunk {i} has {}", c.len());
            assert_eq!(self.prefix(i), n);
            assert_eq!(self.tails[i].to_bits(), c.last().unwrap().0.to_bits(), "tail of chunk {i}");
            for e in c {
                if let Some(p) = prev {
                    assert_eq!(cmp_entry(p.0, &p.1, e.0, &e.1), Ordering::Less);
                }
                prev = Some(e);
            }
            n += c.len();
        }
        assert_eq!(n, self.len);
        assert_eq!(self.tails.len(), self.chunks.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn m(i: u64) -> Sds {
        Sds::new(format!("m{i}").as_bytes())
    }

    #[test]
    fn insert_rank_get_remove() {
        let mut l = ChunkedList::new();
        for i in (0..2000).rev() {
            l.insert((i / 3) as f64, m(i));
        }
        l.check();
        assert_eq!(l.len(), 2000);
        let all: Vec<_> = l.iter().cloned().collect();
        for (r, e) in all.iter().enumerate() {
            assert_eq!(l.rank(e.0, &e.1), Some(r));
            assert_eq!(l.get(r).unwrap().1, e.1);
        }
        assert_eq!(l.rank(0.0, b"nope"), None);
        for e in all.iter().step_by(2) {
            assert!(l.remove(e.0, &e.1).is_some());
        }
        l.check();
        assert_eq!(l.len(), 1000);
        assert!(l.remove(all[0].0, &all[0].1).is_none());
    }

    #[test]
    fn update_inside_and_across_chunks() {
        // All scores equal: chunks are told apart by member only.
        let v: Vec<ZEntry> = (0..2000).map(|i| (0.0, Sds::new(format!("m{i:05}").as_bytes()))).collect();
        let mut l = ChunkedList::from_sorted(v);
        l.check();
        // Same chunk, moving down and up, and to -0 (equal to 0 in the order).
        assert!(l.update_score(0.0, b"m00100", -0.0));
        assert!(l.update_score(-0.0, b"m00100", 0.0));
        assert_eq!(l.rank(0.0, b"m00100"), Some(100));
        // Across chunks: to the very end and the very start.
        assert!(l.update_score(0.0, b"m00100", 1.0));
        assert_eq!(l.rank(1.0, b"m00100"), Some(1999));
        assert!(l.update_score(1.0, b"m00100", -1.0));
        assert_eq!(l.rank(-1.0, b"m00100"), Some(0));
        // The last entry of a chunk moves within it: the chunk's tail changes.
        let last_of_first = l.chunks[0].last().unwrap().1.clone();
        assert!(l.update_score(0.0, &last_of_first, -0.5));
        assert_eq!(l.rank(-0.5, &last_of_first), Some(1));
        l.check();
        assert!(!l.update_score(0.0, b"absent", 1.0));
        assert_eq!(l.len(), 2000);
    }

    #[test]
    fn iterators_and_ranges() {
        let v: Vec<ZEntry> = (0..1000).map(|i| (i as f64, m(i))).collect();
        let mut l = ChunkedList::from_sorted(v.clone());
        l.check();
        let all: Vec<_> = l.iter().cloned().collect();
        for (a, b) in [(0, 0), (0, 1), (0, 1000), (5, 7), (100, 700), (999, 1000), (998, 5000), (1000, 1000), (7, 3)] {
            let want: Vec<_> = all[a.min(1000)..b.min(1000).max(a.min(1000))].iter().map(|e| e.1.clone()).collect();
            let got: Vec<_> = l.slices(a, b).flatten().map(|e| e.1.clone()).collect();
            assert_eq!(got, want, "{a}..{b}");
            let mut back: Vec<_> = l.slices(a, b).rev().flat_map(|s| s.iter().rev()).map(|e| e.1.clone()).collect();
            back.reverse();
            assert_eq!(back, want, "{a}..{b} backwards");
        }
        let fwd: Vec<_> = l.iter_from(500).take(3).map(|e| e.0).collect();
        assert_eq!(fwd, vec![500.0, 501.0, 502.0]);
        let back: Vec<_> = l.iter_rev_from(2).map(|e| e.0).collect();
        assert_eq!(back, vec![2.0, 1.0, 0.0]);
        assert_eq!(l.iter_from(1000).count(), 0);
        assert_eq!(l.iter_rev_from(5000).next().unwrap().0, 999.0);
        assert_eq!(l.partition_point(|e| e.0 < 250.5), 251);
        let gone = l.remove_range(10, 990);
        assert_eq!(gone.len(), 980);
        assert_eq!(gone[0].0, 10.0);
        l.check();
        let rest: Vec<_> = l.iter().map(|e| e.0 as i32).collect();
        assert_eq!(rest, (0..10).chain(990..1000).collect::<Vec<_>>());
        assert_eq!(l.pop_first().unwrap().0, 0.0);
        assert_eq!(l.pop_last().unwrap().0, 999.0);
        l.check();
    }

    #[test]
    fn randomized_against_model() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut l = ChunkedList::new();
        let mut model: Vec<ZEntry> = Vec::new();
        for round in 0..30_000 {
            let op = rng.random_range(0..115);
            if op < 55 || model.is_empty() {
                let score = rng.random_range(0..200) as f64;
                let mem = m(rng.random_range(0..5000));
                if model.iter().any(|(s, mm)| *s == score && *mm == mem) {
                    continue;
                }
                let pos = model.partition_point(|(s, mm)| cmp_entry(*s, mm, score, &mem) == Ordering::Less);
                model.insert(pos, (score, mem.clone()));
                l.insert(score, mem);
            } else if op < 85 {
                let i = rng.random_range(0..model.len());
                let (s, mm) = model.remove(i);
                let got = l.remove(s, &mm).expect("present");
                assert_eq!(got.1, mm);
            } else if op < 90 {
                let a = rng.random_range(0..=model.len());
                let b = (a + rng.random_range(0..400)).min(model.len());
                let gone = l.remove_range(a, b);
                let want: Vec<_> = model.drain(a..b).collect();
                assert_eq!(gone.len(), want.len());
                assert!(gone.iter().zip(&want).all(|(x, y)| x.1 == y.1));
            } else if op < 93 {
                assert_eq!(l.pop_first().map(|e| e.1), if model.is_empty() { None } else { Some(model.remove(0).1) });
            } else if op < 96 {
                assert_eq!(l.pop_last().map(|e| e.1), model.pop().map(|e| e.1));
            } else if op >= 100 {
                // Small moves stay inside a chunk; large ones cross chunks.
                let i = rng.random_range(0..model.len());
                let (s, mm) = model.remove(i);
                let new = if op < 108 { s + rng.random_range(-2..=2) as f64 } else { rng.random_range(0..200) as f64 };
                if model.iter().any(|(s2, m2)| *s2 == new && *m2 == mm) {
                    model.insert(i, (s, mm));
                    continue;
                }
                assert!(l.update_score(s, &mm, new));
                let pos = model.partition_point(|(s2, m2)| cmp_entry(*s2, m2, new, &mm) == Ordering::Less);
                model.insert(pos, (new, mm.clone()));
                assert_eq!(l.rank(new, &mm), Some(pos));
                assert!(!l.update_score(s.min(new) - 1000.0, &mm, new));
            } else {
                let r = rng.random_range(0..model.len().max(1));
                if let Some(e) = model.get(r) {
                    assert_eq!(l.get(r).unwrap().1, e.1);
                    assert_eq!(l.rank(e.0, &e.1), Some(r));
                    let f: Vec<_> = l.iter_from(r).take(5).map(|e| e.1.clone()).collect();
                    let fm: Vec<_> = model[r..].iter().take(5).map(|e| e.1.clone()).collect();
                    assert_eq!(f, fm);
                    let b: Vec<_> = l.iter_rev_from(r).take(5).map(|e| e.1.clone()).collect();
                    let bm: Vec<_> = model[..=r].iter().rev().take(5).map(|e| e.1.clone()).collect();
                    assert_eq!(b, bm);
                    let t = rng.random_range(0..200) as f64;
                    assert_eq!(l.partition_point(|e| e.0 < t), model.partition_point(|e| e.0 < t));
                }
            }
            assert_eq!(l.len(), model.len());
            if round % 1000 == 0 {
                l.check();
            }
        }
        l.check();
        assert!(l.iter().zip(&model).all(|(a, b)| a.1 == b.1 && a.0 == b.0));
    }
}
