//! Redis's HyperLogLog representation (`hyperloglog.c`), byte for byte.
//!
//! A HLL is a string: a 16-byte header (`HYLL`, encoding byte, 3 unused bytes, 8-byte
//! little-endian cached cardinality whose top bit marks the cache invalid) followed either by
//! 16384 packed 6-bit registers (dense, 12288 bytes) or by run-length opcodes (sparse):
//! `00xxxxxx` ZERO (1..64 zero registers), `01xxxxxx yyyyyyyy` XZERO (1..16384 zero registers)
//! and `1vvvvvxx` VAL (1..4 registers of value 1..32).
//!
//! Everything here mirrors the C code closely (including where it stops on corrupt input), so
//! values written by Redis and by us are interchangeable and identical after the same adds.
//! Sparse decoding rejects any opcode running past register 16383, as Redis does since the
//! CVE-2025-32023 fix (present in the Debian 7.0.15 build we compare against).
//! Bytes past the end of a value read as zero, like the terminator every sds string has.

pub const HDR_SIZE: usize = 16;
const P: u32 = 14;
const Q: usize = 64 - P as usize;
pub const REGISTERS: usize = 1 << P;
const P_MASK: u64 = REGISTERS as u64 - 1;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
pub const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * BITS).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
const MAX_ENCODING: u8 = 1;

const XZERO_BIT: u8 = 0x40;
const VAL_BIT: u8 = 0x80;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
const SEED: u64 = 0xadc8_3b19;

/// Which of the registers' opcodes a sparse byte starts.
#[inline]
fn is_zero(b: u8) -> bool {
    b & 0xc0 == 0
}
#[inline]
fn is_xzero(b: u8) -> bool {
    b & 0xc0 == XZERO_BIT
}
#[inline]
fn is_val(b: u8) -> bool {
    b & VAL_BIT != 0
}
#[inline]
fn zero_len(b: u8) -> usize {
    (b & 0x3f) as usize + 1
}
#[inline]
fn xzero_len(b0: u8, b1: u8) -> usize {
    ((((b0 & 0x3f) as usize) << 8) | b1 as usize) + 1
}
#[inline]
fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}
#[inline]
fn val_len(b: u8) -> usize {
    (b & 0x3) as usize + 1
}
#[inline]
fn val_op(val: u8, len: usize) -> u8 {
    ((((val as usize).wrapping_sub(1) << 2) | (len.wrapping_sub(1))) as u8) | VAL_BIT
}
#[inline]
fn zero_op(len: usize) -> u8 {
    len.wrapping_sub(1) as u8
}
#[inline]
fn xzero_op(len: usize) -> [u8; 2] {
    let l = len.wrapping_sub(1);
    [((l >> 8) as u8) | XZERO_BIT, (l & 0xff) as u8]
}

/// The byte at `i`, or 0 past the end (the sds terminator).
#[inline]
fn at(v: &[u8], i: usize) -> u8 {
    v.get(i).copied().unwrap_or(0)
}

/// The bytes after the header (empty for a string too short to have one).
#[inline]
pub fn regs(v: &[u8]) -> &[u8] {
    v.get(HDR_SIZE..).unwrap_or(&[])
}

#[inline]
fn regs_mut(v: &mut [u8]) -> &mut [u8] {
    v.get_mut(HDR_SIZE..).unwrap_or(&mut [])
}

/// The number of registers the opcode at `p` covers and its size in bytes.
#[inline]
fn op_span(v: &[u8], p: usize) -> (usize, usize) {
    let b = at(v, p);
    if is_zero(b) {
        (zero_len(b), 1)
    } else if is_xzero(b) {
        (xzero_len(b, at(v, p + 1)), 2)
    } else {
        (val_len(b), 1)
    }
}

/// MurmurHash64A as Redis uses it (little-endian reads on every platform).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// `hllPatLen`: the register an element maps to and the length of its `000..1` run (1..=51).
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let mut hash = murmur64a(ele, SEED);
    let index = (hash & P_MASK) as usize;
    hash >>= P;
    hash |= 1u64 << Q;
    (index, hash.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------------------------
// Dense registers.

#[inline]
pub fn dense_get(regs: &[u8], index: usize) -> u8 {
    let byte = index * BITS / 8;
    let fb = (index * BITS) & 7;
    let b0 = at(regs, byte) as u32;
    let b1 = at(regs, byte + 1) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) as u8) & REGISTER_MAX
}

#[inline]
pub fn dense_put(regs: &mut [u8], index: usize, val: u8) {
    let byte = index * BITS / 8;
    let fb = (index * BITS) & 7;
    let fb8 = 8 - fb;
    let v = val as u32;
    if let Some(b) = regs.get_mut(byte) {
        *b &= !((REGISTER_MAX as u32) << fb) as u8;
        *b |= (v << fb) as u8;
    }
    if let Some(b) = regs.get_mut(byte + 1) {
        *b &= !((REGISTER_MAX as u32) >> fb8) as u8;
        *b |= (v >> fb8) as u8;
    }
}

/// `hllDenseSet`: raises a register; true when it changed.
#[inline]
pub fn dense_set(regs: &mut [u8], index: usize, count: u8) -> bool {
    if count > dense_get(regs, index) {
        dense_put(regs, index, count);
        true
    } else {
        false
    }
}

fn dense_histo(regs: &[u8], histo: &mut [i64; 64]) {
    for chunk in regs.chunks(3) {
        // Four 6-bit registers per 3 bytes.
        let w = at(chunk, 0) as u32 | (at(chunk, 1) as u32) << 8 | (at(chunk, 2) as u32) << 16;
        histo[(w & 63) as usize] += 1;
        histo[((w >> 6) & 63) as usize] += 1;
        histo[((w >> 12) & 63) as usize] += 1;
        histo[((w >> 18) & 63) as usize] += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Sparse representation.

/// A new empty HLL: sparse, one XZERO covering every register, cached cardinality 0 (valid).
pub fn new_hll() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR_SIZE + 2 + 3);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0u8; 11]);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        v.extend_from_slice(&xzero_op(n));
        left -= n;
    }
    v
}

/// `isHLLObjectOrReply`'s checks on the bytes of a string.
pub fn is_valid(v: &[u8]) -> bool {
    v.len() >= HDR_SIZE && &v[..4] == b"HYLL" && v[4] <= MAX_ENCODING && (v[4] != DENSE || v.len() == DENSE_SIZE)
}

pub fn invalidate_cache(v: &mut [u8]) {
    if let Some(b) = v.get_mut(15) {
        *b |= 0x80;
    }
}

/// `hllSparseToDense`: converts in place (no-op when already dense). Err when the sparse
/// opcodes do not cover exactly 16384 registers.
pub fn sparse_to_dense(v: &mut Vec<u8>) -> Result<(), ()> {
    if at(v, 4) == DENSE {
        return Ok(());
    }
    if v.len() < HDR_SIZE {
        return Err(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR_SIZE].copy_from_slice(&v[..HDR_SIZE]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR_SIZE..];
    let mut idx = 0usize;
    let mut p = HDR_SIZE;
    while p < v.len() {
        let b = v[p];
        let (runlen, oplen) = op_span(v, p);
        if runlen + idx > REGISTERS {
            return Err(());
        }
        if is_val(b) {
            let regval = val_value(b);
            for i in idx..idx + runlen {
                dense_put(regs, i, regval);
            }
        }
        idx += runlen;
        p += oplen;
    }
    if idx != REGISTERS {
        return Err(());
    }
    *v = dense;
    Ok(())
}

/// Result of setting a register: changed, unchanged, or the representation is corrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetResult {
    Updated,
    Unchanged,
    Invalid,
}

/// `hllSparseSet`: raises register `index` to `count` in a sparse HLL, splitting opcodes in
/// place, merging adjacent VALs, and promoting to dense when the value does not fit a VAL
/// opcode or the string would grow beyond `max_bytes`.
pub fn sparse_set(v: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> SetResult {
    if count > VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let mut end = v.len();
    let mut p = HDR_SIZE;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut span = 0usize;
    while p < end {
        let b = v[p];
        let mut oplen = 1;
        if is_zero(b) {
            span = zero_len(b);
        } else if is_val(b) {
            span = val_len(b);
        } else {
            span = xzero_len(b, at(v, p + 1));
            oplen = 2;
        }
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= end {
        return SetResult::Invalid;
    }
    let b = v[p];
    let (zero, xzero) = (is_zero(b), is_xzero(b));
    let runlen = if zero {
        zero_len(b)
    } else if xzero {
        xzero_len(b, at(v, p + 1))
    } else {
        val_len(b)
    };

    let mut trivial = false;
    if !zero && !xzero {
        // Case A: already large enough. Case B: a VAL of one register.
        if val_value(b) >= count {
            return SetResult::Unchanged;
        }
        if runlen == 1 {
            v[p] = val_op(count, 1);
            trivial = true;
        }
    }
    if zero && runlen == 1 {
        // Case C: a ZERO of one register.
        v[p] = val_op(count, 1);
        trivial = true;
    }

    if !trivial {
        // Case D: split the opcode into up to three (at most 5 bytes).
        let mut seq = [0u8; 5];
        let mut n = 0;
        let last = first + span - 1;
        if zero || xzero {
            let push_zeros = |len: usize, seq: &mut [u8; 5], n: &mut usize| {
                if len > ZERO_MAX_LEN {
                    let x = xzero_op(len);
                    seq[*n] = x[0];
                    seq[*n + 1] = x[1];
                    *n += 2;
                } else {
                    seq[*n] = zero_op(len);
                    *n += 1;
                }
            };
            if index != first {
                push_zeros(index - first, &mut seq, &mut n);
            }
            seq[n] = val_op(count, 1);
            n += 1;
            if index != last {
                push_zeros(last - index, &mut seq, &mut n);
            }
        } else {
            let curval = val_value(b);
            if index != first {
                seq[n] = val_op(curval, index - first);
                n += 1;
            }
            seq[n] = val_op(count, 1);
            n += 1;
            if index != last {
                seq[n] = val_op(curval, last - index);
                n += 1;
            }
        }
        // Step 3: substitute the new sequence for the old opcode.
        let oldlen = if xzero { 2 } else { 1 };
        let new_len = (v.len() + n).saturating_sub(oldlen);
        if n > oldlen && new_len > max_bytes {
            return promote(v, index, count);
        }
        let stop = (p + oldlen).min(v.len());
        v.splice(p..stop, seq[..n].iter().copied());
        v.truncate(new_len);
        end = v.len();
    }

    // Step 4: merge adjacent VAL opcodes of the same value, scanning up to 5 opcodes from prev.
    let mut p = prev.unwrap_or(HDR_SIZE);
    let mut scanlen = 5;
    while p < end && scanlen > 0 {
        scanlen -= 1;
        let b = v[p];
        if is_xzero(b) {
            p += 2;
            continue;
        } else if is_zero(b) {
            p += 1;
            continue;
        }
        if p + 1 < end && is_val(v[p + 1]) {
            let v1 = val_value(b);
            let v2 = val_value(v[p + 1]);
            if v1 == v2 {
                let len = val_len(b) + val_len(v[p + 1]);
                if len <= VAL_MAX_LEN {
                    v[p + 1] = val_op(v1, len);
                    v.remove(p);
                    end -= 1;
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate_cache(v);
    SetResult::Updated
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> SetResult {
    if sparse_to_dense(v).is_err() {
        return SetResult::Invalid;
    }
    dense_set(regs_mut(v), index, count);
    SetResult::Updated
}

/// `hllAdd`: adds one element to a validated HLL.
pub fn add(v: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> SetResult {
    let (index, count) = pat_len(ele);
    match at(v, 4) {
        DENSE => {
            if dense_set(regs_mut(v), index, count) {
                SetResult::Updated
            } else {
                SetResult::Unchanged
            }
        }
        SPARSE => sparse_set(v, index, count, max_bytes),
        _ => SetResult::Invalid,
    }
}

/// Sets register `index` to at least `count` whatever the encoding (PFMERGE's write loop).
pub fn set_register(v: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> SetResult {
    match at(v, 4) {
        DENSE => {
            if dense_set(regs_mut(v), index, count) {
                SetResult::Updated
            } else {
                SetResult::Unchanged
            }
        }
        SPARSE => sparse_set(v, index, count, max_bytes),
        _ => SetResult::Invalid,
    }
}

/// `hllMerge`: max[i] = MAX(max[i], register i) for a validated HLL. Err on a corrupt sparse.
pub fn merge(max: &mut [u8; REGISTERS], v: &[u8]) -> Result<(), ()> {
    if at(v, 4) == DENSE {
        let regs = regs(v);
        for (i, m) in max.iter_mut().enumerate() {
            let val = dense_get(regs, i);
            if val > *m {
                *m = val;
            }
        }
        return Ok(());
    }
    let mut i = 0usize;
    let mut p = HDR_SIZE;
    while p < v.len() {
        let b = v[p];
        let (runlen, oplen) = op_span(v, p);
        if runlen + i > REGISTERS {
            return Err(());
        }
        if is_val(b) {
            let regval = val_value(b);
            for m in &mut max[i..i + runlen] {
                if regval > *m {
                    *m = regval;
                }
            }
        }
        i += runlen;
        p += oplen;
    }
    if i != REGISTERS {
        return Err(());
    }
    Ok(())
}

/// The register histogram of a validated HLL; Err for a sparse HLL not covering exactly
/// 16384 registers.
fn histo(v: &[u8]) -> Result<[i64; 64], ()> {
    let mut h = [0i64; 64];
    if at(v, 4) == DENSE {
        dense_histo(regs(v), &mut h);
        return Ok(h);
    }
    let mut idx = 0usize;
    let mut p = HDR_SIZE;
    while p < v.len() {
        let b = v[p];
        let (runlen, oplen) = op_span(v, p);
        if runlen + idx > REGISTERS {
            return Err(());
        }
        let reg = if is_val(b) { val_value(b) as usize } else { 0 };
        h[reg] += runlen as i64;
        idx += runlen;
        p += oplen;
    }
    if idx != REGISTERS {
        return Err(());
    }
    Ok(h)
}

/// Ertl's sigma function (arXiv:1702.01284), as `hllSigma`.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    // The C loop runs until z stops changing; the bound only guards against NaN.
    for _ in 0..100_000 {
        x *= x;
        let z_prime = z;
        z += x * y;
        y += y;
        if z_prime == z {
            break;
        }
    }
    z
}

/// Ertl's tau function, as `hllTau`.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    for _ in 0..100_000 {
        x = x.sqrt();
        let z_prime = z;
        y *= 0.5;
        // gcc folds the C code's pow(1 - x, 2) to a multiplication.
        let d = 1.0 - x;
        z -= d * d * y;
        if z_prime == z {
            break;
        }
    }
    z / 3.0
}

/// `hllCount`'s estimator on a register histogram.
fn estimate(h: &[i64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - h[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    let e = ALPHA_INF * m * m / z;
    // llroundl() then a double -> uint64_t conversion, as compiled for x86-64: out of range
    // (infinite when every register is 51) gives LLONG_MIN, and that stays 2^63 as uint64_t.
    if e.is_finite() && e.abs() < 9.223_372_036_854_775e18 {
        let r = e.round() as i64 as f64;
        if r < 0.0 {
            (r as i64) as u64
        } else {
            r as u64
        }
    } else {
        1u64 << 63
    }
}

/// Cardinality estimate of a validated HLL (no cache); Err for a corrupt sparse one.
pub fn count(v: &[u8]) -> Result<u64, ()> {
    histo(v).map(|h| estimate(&h))
}

/// Cardinality estimate of raw 8-bit registers (PFCOUNT of several keys).
pub fn count_raw(regs: &[u8; REGISTERS]) -> u64 {
    let mut h = [0i64; 64];
    for &r in regs.iter() {
        h[(r & 63) as usize] += 1;
    }
    estimate(&h)
}

/// The cached cardinality when valid.
pub fn cached(v: &[u8]) -> Option<u64> {
    let card: [u8; 8] = v.get(8..16)?.try_into().ok()?;
    if card[7] & 0x80 != 0 {
        None
    } else {
        Some(u64::from_le_bytes(card))
    }
}

pub fn store_cache(v: &mut [u8], card: u64) {
    if let Some(c) = v.get_mut(8..16) {
        c.copy_from_slice(&card.to_le_bytes());
    }
}

/// PFDEBUG DECODE's text for a sparse HLL.
pub fn decode(v: &[u8]) -> String {
    let mut out = String::new();
    let mut p = HDR_SIZE;
    while p < v.len() {
        let b = v[p];
        if is_zero(b) {
            out.push_str(&format!("z:{} ", zero_len(b)));
            p += 1;
        } else if is_xzero(b) {
            out.push_str(&format!("Z:{} ", xzero_len(b, at(v, p + 1))));
            p += 2;
        } else {
            out.push_str(&format!("v:{},{} ", val_value(b), val_len(b)));
            p += 1;
        }
    }
    out.trim_matches(' ').to_string()
}

/// PFSELFTEST: register access and the estimator's error on up to 10M elements, sparse and
/// dense side by side. Returns Redis's error text on failure.
pub fn selftest(max_bytes: usize) -> Result<(), String> {
    use rand::Rng;
    let mut rng = rand::rng();
    let mut dense = vec![0u8; DENSE_SIZE];
    let mut bytes = [0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, b) in bytes.iter_mut().enumerate() {
            let r = rng.random::<u8>() & REGISTER_MAX;
            *b = r;
            dense_put(&mut dense[HDR_SIZE..], i, r);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let val = dense_get(&dense[HDR_SIZE..], i);
            if val != b {
                return Err(format!("TESTFAILED Register {i} should be {b} but is {val}"));
            }
        }
    }
    dense[HDR_SIZE..].fill(0);
    dense[..4].copy_from_slice(b"HYLL");
    let mut o = new_hll();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint: u64 = 1;
    let seed: u64 = rng.random();
    for j in 1..=10_000_000u64 {
        let ele = (j ^ seed).to_le_bytes();
        let (index, cnt) = pat_len(&ele);
        dense_set(&mut dense[HDR_SIZE..], index, cnt);
        add(&mut o, &ele, max_bytes);
        if j == checkpoint {
            if (j as usize) < max_bytes / 2 && o[4] != SPARSE {
                return Err("TESTFAILED sparse encoding not used".into());
            }
            let cd = count(&dense).unwrap_or(0);
            if cd != count(&o).unwrap_or(u64::MAX) {
                return Err("TESTFAILED dense/sparse disagree".into());
            }
            let abserr = (checkpoint as i64 - cd as i64).unsigned_abs();
            let mut maxerr = (relerr * 6.0 * checkpoint as f64).ceil() as u64;
            if j == 10 {
                maxerr = 1;
            }
            if abserr > maxerr {
                return Err(format!("TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"));
            }
            checkpoint *= 10;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_vectors() {
        // From Redis's own MurmurHash64A compiled from hyperloglog.c.
        let cases: &[(&[u8], u64)] = &[
            (b"", 0xd8dfea6585bc9732),
            (b"a", 0x53d2470a9b43b1a7),
            (b"ab", 0x0eaed676437142cf),
            (b"abc", 0x77ec90aeb374e502),
            (b"abcdefg", 0x22fe613bb08c9602),
            (b"abcdefgh", 0xf3a65df559914567),
            (b"abcdefghi", 0x834fba4d9152daf7),
            (b"hello world, this is a longer key!", 0x365221ed612d21cf),
        ];
        for (key, want) in cases {
            assert_eq!(murmur64a(key, SEED), *want, "{:?}", String::from_utf8_lossy(key));
        }
        assert_eq!(murmur64a(b"hello", 0), 0x1e68d17c457bf117);
    }

    #[test]
    fn empty_hll_bytes() {
        let v = new_hll();
        assert_eq!(v, b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff");
        assert!(is_valid(&v));
        assert_eq!(count(&v), Ok(0));
        assert_eq!(cached(&v), Some(0));
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR_SIZE];
        let vals: Vec<u8> = (0..REGISTERS).map(|i| ((i * 7 + 3) % 64) as u8).collect();
        for (i, &v) in vals.iter().enumerate() {
            dense_put(&mut regs, i, v);
        }
        for (i, &v) in vals.iter().enumerate() {
            assert_eq!(dense_get(&regs, i), v, "register {i}");
        }
        let mut h = [0i64; 64];
        dense_histo(&regs, &mut h);
        assert_eq!(h.iter().sum::<i64>(), REGISTERS as i64);
        for (r, &n) in h.iter().enumerate() {
            assert_eq!(n, vals.iter().filter(|&&v| v as usize == r).count() as i64);
        }
    }

    /// Sparse and dense HLLs fed the same elements hold the same registers and estimate the
    /// same cardinality; converting sparse to dense gives the dense bytes (cache aside).
    #[test]
    fn sparse_dense_agree() {
        let mut sparse = new_hll();
        let mut dense = new_hll();
        sparse_to_dense(&mut dense).unwrap();
        for i in 0..3000u32 {
            let e = format!("ele:{i}");
            add(&mut sparse, e.as_bytes(), usize::MAX);
            add(&mut dense, e.as_bytes(), usize::MAX);
            if i % 97 == 0 {
                assert_eq!(count(&sparse), count(&dense), "after {i}");
            }
        }
        assert_eq!(sparse[4], SPARSE);
        let mut max_s = [0u8; REGISTERS];
        let mut max_d = [0u8; REGISTERS];
        merge(&mut max_s, &sparse).unwrap();
        merge(&mut max_d, &dense).unwrap();
        assert_eq!(max_s[..], max_d[..]);
        let mut conv = sparse.clone();
        sparse_to_dense(&mut conv).unwrap();
        assert_eq!(conv[HDR_SIZE..], dense[HDR_SIZE..]);
        let est = count(&dense).unwrap();
        assert!((2900..3100).contains(&est), "{est}");
    }

    #[test]
    fn sparse_promotes_at_limit() {
        let mut v = new_hll();
        let mut i = 0;
        while v[4] == SPARSE {
            add(&mut v, format!("{i}").as_bytes(), 3000);
            assert!(v[4] == DENSE || v.len() <= 3000);
            i += 1;
        }
        assert_eq!(v.len(), DENSE_SIZE);
    }

    #[test]
    fn corrupt_sparse_is_detected() {
        let mut v = new_hll();
        v.truncate(HDR_SIZE + 1);
        assert_eq!(count(&v), Err(()));
        // The XZERO's missing second byte reads as the terminator (0): 16129 registers.
        assert_eq!(sparse_set(&mut v.clone(), 5, 3, 3000), SetResult::Updated);
        assert_eq!(sparse_set(&mut v.clone(), 16200, 3, 3000), SetResult::Invalid);
        assert_eq!(sparse_set(&mut v[..HDR_SIZE].to_vec(), 0, 3, 3000), SetResult::Invalid);
        let mut max = [0u8; REGISTERS];
        assert!(merge(&mut max, &v).is_err());
        // Any opcode past the last register is corrupt (the CVE-2025-32023 checks).
        let mut w = new_hll();
        w.push(val_op(3, 4));
        assert!(sparse_to_dense(&mut w).is_err());
        let mut w = new_hll();
        w.push(zero_op(1));
        assert!(sparse_to_dense(&mut w).is_err());
    }

    #[test]
    fn estimator_edges() {
        let mut regs = [0u8; REGISTERS];
        assert_eq!(count_raw(&regs), 0);
        regs.fill(51);
        assert_eq!(count_raw(&regs), 1u64 << 63);
        assert_eq!(decode(&new_hll()), "Z:16384");
    }
}
