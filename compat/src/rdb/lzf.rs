//! LZF compression, bit-exact with the liblzf 3.6 compressor that Redis embeds
//! (`HLOG 16`, `VERY_FAST 1`, `ULTRA_FAST 0`, hash table starting empty), and a checked
//! decompressor (`CHECK_INPUT`).
//!
//! Compressed format, as a sequence of chunks:
//! - `000LLLLL` + `L+1` literal bytes (1..=32);
//! - `LLLooooo oooooooo`: back reference of `L+2` bytes (L in 1..=6) at distance `o+1`;
//! - `111ooooo LLLLLLLL oooooooo`: back reference of `L+9` bytes at distance `o+1`.
//!
//! Byte-exactness matters: a DUMP payload or RDB written by us must equal the one codis-server
//! writes for the same value, and Redis compresses every string longer than 20 bytes.

use std::cell::RefCell;

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// The compressor's hash table. Entries hold input offsets; a slot whose generation is not the
/// current one reads as offset 0 (the "empty" value, never a usable reference since liblzf
/// requires `ref > in_data`). Bumping the generation empties the table in O(1).
struct HashTable {
    slots: Vec<u64>,
    generation: u32,
}

impl HashTable {
    fn new() -> Self {
        HashTable { slots: vec![0; HSIZE], generation: 0 }
    }

    fn reset(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.slots.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
    }

    #[inline(always)]
    fn swap(&mut self, idx: usize, pos: usize) -> usize {
        let slot = &mut self.slots[idx];
        let old = *slot;
        *slot = ((self.generation as u64) << 32) | pos as u64;
        if (old >> 32) as u32 == self.generation {
            (old & 0xffff_ffff) as usize
        } else {
            0
        }
    }

    #[inline(always)]
    fn set(&mut self, idx: usize, pos: usize) {
        self.slots[idx] = ((self.generation as u64) << 32) | pos as u64;
    }
}

thread_local! {
    static HTAB: RefCell<HashTable> = RefCell::new(HashTable::new());
}

#[inline(always)]
fn idx(h: u32) -> usize {
    // VERY_FAST: ((h >> (3*8 - HLOG)) - h*5) & (HSIZE - 1)
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) & (HSIZE as u32 - 1)) as usize
}

/// Compresses `input` into at most `out_len` bytes, exactly as liblzf's
/// `lzf_compress(input, len, out, out_len)`. Returns `None` where liblzf returns 0: empty input,
/// `out_len == 0`, or output (by liblzf's own conservative space checks) not fitting.
///
/// Redis calls it with `out_len = len - 4` and only for strings longer than 20 bytes; see
/// [`compress_for_rdb`].
pub fn compress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let in_end = input.len();
    if in_end == 0 || out_len == 0 || in_end > u32::MAX as usize {
        return None;
    }
    HTAB.with(|cell| {
        let mut table = cell.borrow_mut();
        table.reset();
        compress_with(&mut table, input, out_len)
    })
}

/// What Redis's `rdbSaveRawString` does: strings of more than 20 bytes are compressed when
/// that saves at least 4 bytes (`lzf_compress(s, len, out, len - 4)`).
pub fn compress_for_rdb(input: &[u8]) -> Option<Vec<u8>> {
    if input.len() <= 20 {
        return None;
    }
    compress(input, input.len() - 4)
}

fn compress_with(t: &mut HashTable, input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let in_end = input.len();
    let out_end = out_len;
    let mut out = vec![0u8; out_len + 2];
    let mut ip = 0usize;
    let mut op = 1usize; // start run
    let mut lit = 0usize;
    let mut hval: u32 = if in_end >= 2 { ((input[0] as u32) << 8) | input[1] as u32 } else { 0 };

    while ip + 2 < in_end {
        hval = (hval << 8) | input[ip + 2] as u32;
        let r = t.swap(idx(hval), ip);

        if r < ip
            && ip - r - 1 < MAX_OFF
            && r > 0
            && input[r + 2] == input[ip + 2]
            && input[r] == input[ip]
            && input[r + 1] == input[ip + 1]
        {
            let off = ip - r - 1;
            let mut len = 2usize;
            let maxlen = (in_end - ip - len).min(MAX_REF);

            if op + 3 + 1 >= out_end && op - (lit == 0) as usize + 3 + 1 >= out_end {
                return None;
            }

            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            op -= (lit == 0) as usize; // undo run if length is zero

            'scan: {
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[r + len] != input[ip + len] {
                            break 'scan;
                        }
                    }
                }
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }

            len -= 2; // len is now #octets - 1
            ip += 1;

            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;

            lit = 0;
            op += 1; // start run

            ip += len + 1;
            if ip + 2 >= in_end {
                break;
            }

            // VERY_FAST: hash the last two positions of the match
            ip -= 2;
            hval = ((input[ip] as u32) << 8) | input[ip + 1] as u32;
            hval = (hval << 8) | input[ip + 2] as u32;
            t.set(idx(hval), ip);
            ip += 1;
            hval = (hval << 8) | input[ip + 2] as u32;
            t.set(idx(hval), ip);
            ip += 1;
        } else {
            if op >= out_end {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }

    if op + 3 > out_end {
        return None;
    }

    while ip < in_end {
        lit += 1;
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }

    out[op - lit - 1] = (lit as u8).wrapping_sub(1); // end run
    op -= (lit == 0) as usize;
    out.truncate(op);
    Some(out)
}

/// Why a compressed block could not be decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LzfError {
    #[error("LZF data decompresses to more than the expected length")]
    OutputOverflow,
    #[error("LZF data is truncated or refers before the start of the output")]
    Corrupt,
    #[error("LZF data decompresses to {got} bytes instead of {expected}")]
    LengthMismatch { expected: usize, got: usize },
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes. Never panics on
/// corrupt input. The caller bounds `out_len` (it is allocated up front).
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, LzfError> {
    let mut out = vec![0u8; out_len];
    let n = decompress_into(input, &mut out)?;
    if n != out_len {
        return Err(LzfError::LengthMismatch { expected: out_len, got: n });
    }
    Ok(out)
}

/// Decompresses into `out`, returning the number of bytes produced.
pub fn decompress_into(input: &[u8], out: &mut [u8]) -> Result<usize, LzfError> {
    let in_end = input.len();
    let out_end = out.len();
    let mut ip = 0usize;
    let mut op = 0usize;
    while ip < in_end {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < (1 << 5) {
            let len = ctrl + 1;
            if op + len > out_end {
                return Err(LzfError::OutputOverflow);
            }
            if ip + len > in_end {
                return Err(LzfError::Corrupt);
            }
            out[op..op + len].copy_from_slice(&input[ip..ip + len]);
            op += len;
            ip += len;
        } else {
            let mut len = ctrl >> 5;
            if ip >= in_end {
                return Err(LzfError::Corrupt);
            }
            if len == 7 {
                len += input[ip] as usize;
                ip += 1;
                if ip >= in_end {
                    return Err(LzfError::Corrupt);
                }
            }
            let back = ((ctrl & 0x1f) << 8) + input[ip] as usize + 1;
            ip += 1;
            let len = len + 2;
            if op + len > out_end {
                return Err(LzfError::OutputOverflow);
            }
            if back > op {
                return Err(LzfError::Corrupt);
            }
            let r = op - back;
            if back >= len {
                out.copy_within(r..r + len, op);
            } else {
                for i in 0..len {
                    out[op + i] = out[r + i];
                }
            }
            op += len;
        }
    }
    Ok(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn hundred_a_as_redis_2_8() {
        // codis-2.0 f1 lzf:1 payload: c3 09 40 64 | 01 61 61 e0 57 00 01 61 61
        let input = vec![b'a'; 100];
        let c = compress_for_rdb(&input).unwrap();
        assert_eq!(c, hex("016161e05700016161"));
        assert_eq!(decompress(&c, 100).unwrap(), input);
    }

    #[test]
    fn incompressible_and_small() {
        assert_eq!(compress(b"", 10), None);
        assert_eq!(compress_for_rdb(b"abcdefghijklmnopqrst"), None); // 20 bytes: never tried
        let data: Vec<u8> = (0..64u8).collect();
        assert_eq!(compress_for_rdb(&data), None);
        // with room, incompressible data becomes literal runs
        let c = compress(&data, 100).unwrap();
        assert_eq!(c.len(), 64 + 2);
        assert_eq!(decompress(&c, 64).unwrap(), data);
    }

    #[test]
    fn round_trips() {
        let mut seed = 12345u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..300 {
            let len = (next() % 20000) as usize + 1;
            let alphabet = 1 + (round % 7) as u64 * 40;
            let data: Vec<u8> = (0..len).map(|_| (next() % alphabet) as u8).collect();
            if let Some(c) = compress(&data, len + 64) {
                assert_eq!(decompress(&c, len).unwrap(), data, "round {round}");
            }
            if let Some(c) = compress_for_rdb(&data) {
                assert!(c.len() <= len - 4);
                assert_eq!(decompress(&c, len).unwrap(), data, "round {round}");
            }
        }
    }

    #[test]
    fn corrupt_input_is_rejected() {
        let c = compress(&[b'x'; 500], 600).unwrap();
        for cut in 0..c.len() {
            assert!(decompress(&c[..cut], 500).is_err());
        }
        assert!(decompress(&[0x20, 0x00], 10).is_err()); // reference before the start
        assert!(decompress(&[0x05, 1, 2], 6).is_err()); // literal runs past the input
        assert!(decompress(&c, 499).is_err());
        assert!(decompress(&c, 501).is_err());
        // arbitrary garbage never panics
        let mut seed = 99u32;
        for _ in 0..2000 {
            let n = (seed % 40) as usize;
            let g: Vec<u8> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
                    (seed >> 24) as u8
                })
                .collect();
            let _ = decompress(&g, (seed % 300) as usize);
        }
    }
}
