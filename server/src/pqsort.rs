//! Redis's `pqsort`: Bentley & McIlroy's quicksort that only recurses into partitions
//! overlapping the wanted index range. SORT ... LIMIT and GEORADIUS ... COUNT sort with it, so
//! equal elements end up in the same order as in Redis only if we partition the same way.

/// Sorts `v` enough that positions `lrange..=rrange` hold what a full sort would put there
/// (by `cmp`, which returns <0, 0, >0 like a C comparator).
pub fn pqsort<T>(v: &mut [T], cmp: &impl Fn(&T, &T) -> i32, lrange: usize, rrange: usize) {
    let n = v.len();
    inner(v, 0, n, cmp, lrange, rrange);
}

fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> i32) -> usize {
    if cmp(&v[a], &v[b]) < 0 {
        if cmp(&v[b], &v[c]) < 0 {
            b
        } else if cmp(&v[a], &v[c]) < 0 {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) > 0 {
        b
    } else if cmp(&v[a], &v[c]) < 0 {
        a
    } else {
        c
    }
}

/// Swaps the `n` elements starting at `a` with the `n` starting at `b`, in order.
fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for k in 0..n {
        v.swap(a + k, b + k);
    }
}

/// Whether the partition `[start, start + len)` holds any wanted position (the byte-pointer
/// test of the C code, in element units).
fn wanted(start: usize, len: usize, lrange: usize, rrange: usize) -> bool {
    let end = start + len;
    !((lrange < start && rrange < start) || (lrange >= end && rrange >= end))
}

fn inner<T>(v: &mut [T], mut a: usize, mut n: usize, cmp: &impl Fn(&T, &T) -> i32, lrange: usize, rrange: usize) {
    loop {
        if n < 7 {
            for pm in a + 1..a + n {
                let mut pl = pm;
                while pl > a && cmp(&v[pl - 1], &v[pl]) > 0 {
                    v.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let r = cmp(&v[pb], &v[a]);
                if r > 0 {
                    break;
                }
                if r == 0 {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let r = cmp(&v[pc], &v[a]);
                if r < 0 {
                    break;
                }
                if r == 0 {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && wanted(a, r, lrange, rrange) {
            inner(v, a, r, cmp, lrange, rrange);
        }
        let r = pd - pc;
        if r > 1 {
            a = pn - r;
            n = r;
            if wanted(a, n, lrange, rrange) {
                continue;
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn cmp(a: &(u32, u32), b: &(u32, u32)) -> i32 {
        a.0.cmp(&b.0) as i32
    }

    #[test]
    fn prefix_is_sorted() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for n in [0usize, 1, 5, 7, 8, 40, 41, 100, 1000] {
            for k in [1usize, 3, 10, 50] {
                let mut v: Vec<(u32, u32)> = (0..n as u32).map(|i| (rng.random_range(0..20), i)).collect();
                let mut want = v.clone();
                want.sort_by_key(|e| e.0);
                if n == 0 {
                    continue;
                }
                let k = k.min(n);
                pqsort(&mut v, &cmp, 0, k - 1);
                let got: Vec<u32> = v[..k].iter().map(|e| e.0).collect();
                let exp: Vec<u32> = want[..k].iter().map(|e| e.0).collect();
                assert_eq!(got, exp, "n={n} k={k}");
            }
        }
    }
}
