//! Memory accounting cheap enough to consult before every command (Redis's
//! `zmalloc_used_memory`).
//!
//! The global allocator is jemalloc wrapped in a counter: every allocation adds the usable
//! size of its jemalloc size class, every free subtracts it. The counters are sharded per
//! thread (a thread keeps to one cache-line-padded atomic), so the hot path is one
//! uncontended relaxed add; reading the total sums the shards. The size class arithmetic
//! reproduces jemalloc's (4 classes per power of two), so the total equals jemalloc's own
//! `stats.allocated` without the slow epoch refresh that statistic needs.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use tikv_jemallocator::Jemalloc;

const SHARDS: usize = 8;

#[repr(align(128))]
struct Shard(AtomicIsize);

static COUNTERS: [Shard; SHARDS] = [const { Shard(AtomicIsize::new(0)) }; SHARDS];
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MY_SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn shard() -> &'static AtomicIsize {
    let i = MY_SHARD
        .try_with(|s| {
            let v = s.get();
            if v != usize::MAX {
                v
            } else {
                let n = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
                s.set(n);
                n
            }
        })
        .unwrap_or(0);
    &COUNTERS[i].0
}

/// jemalloc's usable size for a request (`sz_s2u` / `sz_sa2u` with 16-byte quantum): 8, then
/// multiples of 16 up to 128, then four classes per doubling.
#[inline]
pub fn size_class(size: usize, align: usize) -> usize {
    let size = if align > 16 { size.max(1).next_multiple_of(align) } else { size };
    if size <= 8 {
        return 8;
    }
    if size <= 128 {
        return (size + 15) & !15;
    }
    let lg = usize::BITS - 1 - (size - 1).leading_zeros(); // floor(log2(size - 1))
    let delta = 1usize << (lg - 2);
    (size + delta - 1) & !(delta - 1)
}

/// Bytes currently allocated by the process through the global allocator.
pub fn used() -> usize {
    let total: isize = COUNTERS.iter().map(|c| c.0.load(Ordering::Relaxed)).sum();
    total.max(0) as usize
}

/// The global allocator: jemalloc plus the counters above.
pub struct CountingJemalloc;

// SAFETY: every call is forwarded to jemalloc unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for CountingJemalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = Jemalloc.alloc(layout);
        if !p.is_null() {
            shard().fetch_add(size_class(layout.size(), layout.align()) as isize, Ordering::Relaxed);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = Jemalloc.alloc_zeroed(layout);
        if !p.is_null() {
            shard().fetch_add(size_class(layout.size(), layout.align()) as isize, Ordering::Relaxed);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Jemalloc.dealloc(ptr, layout);
        shard().fetch_sub(size_class(layout.size(), layout.align()) as isize, Ordering::Relaxed);
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = Jemalloc.realloc(ptr, layout, new_size);
        if !p.is_null() {
            let old = size_class(layout.size(), layout.align()) as isize;
            let new = size_class(new_size, layout.align()) as isize;
            shard().fetch_add(new - old, Ordering::Relaxed);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_match_jemalloc() {
        let cases = [
            (0, 8),
            (1, 8),
            (8, 8),
            (9, 16),
            (17, 32),
            (33, 48),
            (100, 112),
            (128, 128),
            (129, 160),
            (200, 224),
            (257, 320),
            (1000, 1024),
            (1025, 1280),
            (14336, 14336),
            (14337, 16384),
            (16385, 20480),
            (100_000, 114_688),
            (1 << 20, 1 << 20),
        ];
        for (req, want) in cases {
            assert_eq!(size_class(req, 8), want, "request {req}");
            // SAFETY: plain allocation of a non-zero size, freed right away.
            unsafe {
                let n = req.max(1);
                let p = tikv_jemallocator::Jemalloc.alloc(Layout::from_size_align(n, 8).unwrap());
                assert_eq!(tikv_jemallocator::usable_size(p), size_class(n, 8), "usable size of {n}");
                tikv_jemallocator::Jemalloc.dealloc(p, Layout::from_size_align(n, 8).unwrap());
            }
        }
        assert_eq!(size_class(10, 64), 64);
        assert_eq!(size_class(100, 64), 128);
    }

    /// The counters agree with jemalloc's own statistics (other tests allocate concurrently,
    /// so the comparison uses a large allocation pattern and a loose bound).
    #[test]
    fn counter_tracks_jemalloc_allocated() {
        use tikv_jemalloc_ctl::{epoch, stats};
        let read = || {
            let _ = epoch::advance();
            stats::allocated::read().unwrap_or(0) as i64
        };
        let (je0, ours0) = (read(), used() as i64);
        let blocks: Vec<Vec<u8>> = (0..200_000).map(|i| vec![1u8; 20 + (i % 300)]).collect();
        let (je1, ours1) = (read(), used() as i64);
        let (dje, dours) = (je1 - je0, ours1 - ours0);
        assert!(dje > 30_000_000, "{dje}");
        assert!((dje - dours).abs() < dje / 20, "jemalloc {dje} ours {dours}");
        drop(blocks);
    }
}
