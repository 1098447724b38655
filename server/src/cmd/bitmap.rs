//! Bitmap commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO, as Redis 7.0's `bitops.c` (replies, error texts, argument order, events).
//! Bit 0 is the most significant bit of the first byte. Strings edited in place become `raw`.

#[path = "bitmap_field.rs"]
mod field;

use bytes::Bytes;

use super::error::{self, CmdError};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};
use crate::db::{KeyPos, Value};
use crate::util::parse_i64;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, WRITE | DENYOOM, (1, 1, 1), setbit),
    CommandSpec::new("getbit", 3, READONLY | FAST, (1, 1, 1), getbit),
    CommandSpec::new("bitcount", -2, READONLY, (1, 1, 1), bitcount),
    CommandSpec::new("bitpos", -3, READONLY, (1, 1, 1), bitpos),
    CommandSpec::new("bitop", -4, WRITE | DENYOOM, (2, -1, 1), bitop),
    CommandSpec::new("bitfield", -2, WRITE | DENYOOM, (1, 1, 1), field::bitfield),
    CommandSpec::new("bitfield_ro", -2, READONLY | FAST, (1, 1, 1), field::bitfield_ro),
];

const BIT_OFFSET_ERR: CmdError = CmdError::fixed("ERR bit offset is not an integer or out of range");

/// The part of an argument before any NUL: what Redis's `strcasecmp`/`strlen` look at.
pub(crate) fn cstr(b: &[u8]) -> &[u8] {
    match memchr::memchr(0, b) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// `getBitOffsetFromArgument`: a bit offset below proto-max-bulk-len bytes. With `hash` and a
/// positive `bits`, `#N` means N * bits (BITFIELD).
pub(crate) fn bit_offset(ctx: &Ctx, arg: &[u8], hash: bool, bits: u32) -> Result<u64, CmdError> {
    let usehash = hash && bits > 0 && arg.first() == Some(&b'#');
    let digits = if usehash { &arg[1..] } else { arg };
    let mut off = parse_i64(digits).ok_or(BIT_OFFSET_ERR)?;
    if usehash {
        off = off.wrapping_mul(bits as i64);
    }
    if off < 0 || (off >> 3) as u64 >= ctx.state.config.proto_max_bulk_len as u64 {
        return Err(BIT_OFFSET_ERR);
    }
    Ok(off as u64)
}

/// `lookupStringForBitCommand`: the string at `key` as a raw buffer at least `maxbit / 8 + 1`
/// bytes long, created (zero-filled) if missing. Returns its position and whether it was
/// created or grown.
pub(crate) fn string_for_bits(ctx: &mut Ctx, key: &[u8], maxbit: u64) -> Result<(KeyPos, bool), CmdError> {
    let need = (maxbit >> 3) as usize + 1;
    match ctx.lookup_write(key) {
        None => {
            let at = super::string::store(ctx, key, None, Value::Raw(Box::new(vec![0u8; need])), false);
            Ok((at, true))
        }
        Some(at) => {
            let db = ctx.client.db;
            let raw = ctx.state.dbs[db].entry_mut(at).value.make_raw().ok_or(error::WRONGTYPE)?;
            let grown = raw.len() < need;
            if grown {
                raw.resize(need, 0);
            }
            Ok((at, grown))
        }
    }
}

/// The bytes of the string at `at` (integers formatted into `scratch`), or WRONGTYPE.
fn string_at<'a>(ctx: &'a Ctx, at: KeyPos, scratch: &'a mut itoa::Buffer) -> Result<&'a [u8], CmdError> {
    ctx.db_ref().entry(at).value.str_bytes(scratch).ok_or(error::WRONGTYPE)
}

/// Number of set bits, a word at a time.
pub fn popcount(b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(8);
    let mut n = 0u64;
    for c in &mut chunks {
        n += u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]).count_ones() as u64;
    }
    n + chunks.remainder().iter().map(|x| x.count_ones() as u64).sum::<u64>()
}

/// `redisBitpos`: position of the first bit equal to `bit`; when there is none, -1 looking for
/// a 1 and `len * 8` looking for a 0 (the string is taken as zero-padded on the right).
pub fn first_bit(b: &[u8], bit: bool) -> i64 {
    let skip: u8 = if bit { 0 } else { 0xff };
    let skip_word = u64::from_ne_bytes([skip; 8]);
    let mut i = 0;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        if u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) != skip_word {
            break;
        }
        i += 8;
    }
    while i < b.len() {
        let x = b[i];
        if x != skip {
            let lz = if bit { x.leading_zeros() } else { (!x).leading_zeros() };
            return i as i64 * 8 + lz as i64;
        }
        i += 1;
    }
    if bit {
        -1
    } else {
        b.len() as i64 * 8
    }
}

fn setbit(ctx: &mut Ctx) -> CmdResult {
    const BIT_ERR: CmdError = CmdError::fixed("ERR bit is not an integer or out of range");
    let offset = bit_offset(ctx, &ctx.args[2], false, 0)?;
    let on = parse_i64(&ctx.args[3]).ok_or(BIT_ERR)?;
    if on & !1 != 0 {
        return Err(BIT_ERR);
    }
    let key = ctx.args[1].clone();
    let (at, dirty) = string_for_bits(ctx, &key, offset)?;
    let byte = (offset >> 3) as usize;
    let shift = 7 - (offset & 7) as u32;
    let db = ctx.client.db;
    let raw = ctx.state.dbs[db].entry_mut(at).value.make_raw().ok_or(error::WRONGTYPE)?;
    let Some(cell) = raw.get_mut(byte) else { return Err(error::WRONGTYPE) };
    let old = (*cell >> shift) & 1;
    if dirty || old as i64 != on {
        *cell = (*cell & !(1u8 << shift)) | ((on as u8) << shift);
        ctx.modified(&key);
        ctx.notify('$', "setbit", &key);
    }
    ctx.out.int(old as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx) -> CmdResult {
    let offset = bit_offset(ctx, &ctx.args[2], false, 0)?;
    let key = ctx.args[1].clone();
    let Some(at) = ctx.lookup_read(&key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut scratch = itoa::Buffer::new();
    let s = string_at(ctx, at, &mut scratch)?;
    let byte = (offset >> 3) as usize;
    let bit = match s.get(byte) {
        Some(b) => (b >> (7 - (offset & 7))) & 1,
        None => 0,
    };
    ctx.out.int(bit as i64);
    Ok(())
}

fn is_word(arg: &[u8], word: &str) -> bool {
    cstr(arg).eq_ignore_ascii_case(word.as_bytes())
}

/// BIT or BYTE (case-insensitive); anything else is a syntax error.
fn parse_unit(arg: &[u8]) -> Result<bool, CmdError> {
    if is_word(arg, "bit") {
        Ok(true)
    } else if is_word(arg, "byte") {
        Ok(false)
    } else {
        Err(error::SYNTAX)
    }
}

fn arg_i64(a: &[u8]) -> Result<i64, CmdError> {
    parse_i64(a).ok_or(error::NOT_INTEGER)
}

/// A normalized range: first and last byte plus masks of the bits outside it in those bytes.
struct Range {
    start: i64,
    end: i64,
    first_mask: u8,
    last_mask: u8,
}

/// Converts negative indexes and clamps like Redis; in bit mode also computes the edge masks
/// and turns the range into bytes. `totlen` is the string length in bytes.
fn normalize(mut start: i64, mut end: i64, isbit: bool, strlen: i64) -> Range {
    let totlen = if isbit { strlen << 3 } else { strlen };
    if start < 0 {
        start += totlen;
    }
    if end < 0 {
        end += totlen;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= totlen {
        end = totlen - 1;
    }
    let (mut first_mask, mut last_mask) = (0u8, 0u8);
    if isbit && start <= end {
        first_mask = (!((1u32 << (8 - (start & 7))) - 1) & 0xff) as u8;
        last_mask = ((1u32 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    Range { start, end, first_mask, last_mask }
}

/// BITCOUNT's count for the arguments after the key.
fn bitcount_of(s: &[u8], args: &[Bytes]) -> Result<i64, CmdError> {
    let strlen = s.len() as i64;
    let r = match args.len() {
        4 | 5 => {
            let start = arg_i64(&args[2])?;
            let end = arg_i64(&args[3])?;
            if start < 0 && end < 0 && start > end {
                return Ok(0);
            }
            let isbit = if args.len() == 5 { parse_unit(&args[4])? } else { false };
            normalize(start, end, isbit, strlen)
        }
        2 => Range { start: 0, end: strlen - 1, first_mask: 0, last_mask: 0 },
        _ => return Err(error::SYNTAX),
    };
    if r.start > r.end {
        return Ok(0);
    }
    let (a, b) = (r.start as usize, r.end as usize);
    let mut count = popcount(&s[a..=b]) as i64;
    count -= (s[a] & r.first_mask).count_ones() as i64;
    count -= (s[b] & r.last_mask).count_ones() as i64;
    Ok(count)
}

fn bitcount(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let Some(at) = ctx.lookup_read(&key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut scratch = itoa::Buffer::new();
    let s = string_at(ctx, at, &mut scratch)?;
    let n = bitcount_of(s, ctx.args)?;
    ctx.out.int(n);
    Ok(())
}

/// BITPOS's answer for an existing string, following `bitposCommand` step by step.
fn bitpos_of(p: &[u8], bit: bool, args: &[Bytes]) -> Result<i64, CmdError> {
    let strlen = p.len() as i64;
    let mut end_given = false;
    let r = match args.len() {
        4..=6 => {
            let start = arg_i64(&args[3])?;
            let isbit = if args.len() == 6 { parse_unit(&args[5])? } else { false };
            let end = if args.len() >= 5 {
                end_given = true;
                arg_i64(&args[4])?
            } else {
                strlen - 1
            };
            normalize(start, end, isbit, strlen)
        }
        3 => Range { start: 0, end: strlen - 1, first_mask: 0, last_mask: 0 },
        _ => return Err(error::SYNTAX),
    };
    if r.start > r.end {
        return Ok(-1);
    }
    let (mut start, end) = (r.start as usize, r.end as usize);
    let (first_mask, last_mask) = (r.first_mask, r.last_mask);
    let mut bytes = end - start + 1;
    let masked = |b: u8, mask: u8| if bit { b & !mask } else { b | mask };
    let pos = 'found: {
        if first_mask != 0 {
            let mut tmp = masked(p[start], first_mask);
            if last_mask != 0 && bytes == 1 {
                tmp = masked(tmp, last_mask);
            }
            let pos = first_bit(&[tmp], bit);
            if bytes == 1 || (pos != -1 && pos != 8) {
                break 'found pos;
            }
            start += 1;
            bytes -= 1;
        }
        let curbytes = bytes - (last_mask != 0) as usize;
        if curbytes > 0 {
            let pos = first_bit(&p[start..start + curbytes], bit);
            if bytes == curbytes || (pos != -1 && pos != (curbytes as i64) << 3) {
                break 'found pos;
            }
            start += curbytes;
            bytes -= curbytes;
        }
        first_bit(&[masked(p[end], last_mask)], bit)
    };
    if end_given && !bit && pos == (bytes as i64) << 3 {
        return Ok(-1);
    }
    Ok(if pos != -1 { pos + ((start as i64) << 3) } else { pos })
}

fn bitpos(ctx: &mut Ctx) -> CmdResult {
    let bit = ctx.arg_i64(2)?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::fixed("ERR The bit argument must be 1 or 0."));
    }
    let key = ctx.args[1].clone();
    let Some(at) = ctx.lookup_read(&key) else {
        ctx.out.int(if bit == 1 { -1 } else { 0 });
        return Ok(());
    };
    let mut scratch = itoa::Buffer::new();
    let s = string_at(ctx, at, &mut scratch)?;
    let n = bitpos_of(s, bit == 1, ctx.args)?;
    ctx.out.int(n);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// Computes BITOP over `srcs` (missing keys are empty strings): the result is as long as the
/// longest source, shorter ones being zero-padded.
fn bitop_compute(op: BitOp, srcs: &[&[u8]]) -> Vec<u8> {
    let maxlen = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut res = vec![0u8; maxlen];
    let Some((first, rest)) = srcs.split_first() else { return res };
    res[..first.len()].copy_from_slice(first);
    match op {
        BitOp::Not => res.iter_mut().for_each(|b| *b = !*b),
        BitOp::And => {
            for s in rest {
                for (r, &b) in res.iter_mut().zip(s.iter()) {
                    *r &= b;
                }
                res[s.len()..].fill(0);
            }
        }
        BitOp::Or => {
            for s in rest {
                for (r, &b) in res.iter_mut().zip(s.iter()) {
                    *r |= b;
                }
            }
        }
        BitOp::Xor => {
            for s in rest {
                for (r, &b) in res.iter_mut().zip(s.iter()) {
                    *r ^= b;
                }
            }
        }
    }
    res
}

fn bitop(ctx: &mut Ctx) -> CmdResult {
    let name = cstr(&ctx.args[1]);
    let op = if name.eq_ignore_ascii_case(b"and") {
        BitOp::And
    } else if name.eq_ignore_ascii_case(b"or") {
        BitOp::Or
    } else if name.eq_ignore_ascii_case(b"xor") {
        BitOp::Xor
    } else if name.eq_ignore_ascii_case(b"not") {
        BitOp::Not
    } else {
        return Err(error::SYNTAX);
    };
    if op == BitOp::Not && ctx.args.len() != 4 {
        return Err(CmdError::fixed("ERR BITOP NOT must be called with a single source key."));
    }
    // Look every source up first (expiring, counting hits), then read them in place.
    let mut present = Vec::with_capacity(ctx.args.len() - 3);
    for j in 3..ctx.args.len() {
        let key = ctx.args[j].clone();
        let found = ctx.lookup_read(&key);
        if let Some(at) = found {
            if !ctx.db_ref().entry(at).value.is_string() {
                return Err(error::WRONGTYPE);
            }
        }
        present.push(found.is_some());
    }
    let res = {
        let db = ctx.db_ref();
        let args = ctx.args;
        let mut scratch = vec![itoa::Buffer::new(); present.len()];
        let srcs: Vec<&[u8]> = scratch
            .iter_mut()
            .zip(present.iter().enumerate())
            .map(|(buf, (j, &p))| match p {
                true => db.get(&args[j + 3]).and_then(|e| e.value.str_bytes(buf)).unwrap_or(&[]),
                false => &[],
            })
            .collect();
        bitop_compute(op, &srcs)
    };
    let dest = ctx.args[2].clone();
    let len = res.len();
    if len > 0 {
        let found = ctx.lookup_write(&dest);
        super::string::store(ctx, &dest, found, Value::Raw(Box::new(res)), false);
        ctx.modified(&dest);
        ctx.notify('$', "set", &dest);
    } else if ctx.db().remove(&dest).is_some() {
        ctx.modified(&dest);
        ctx.notify('g', "del", &dest);
    }
    ctx.out.int(len as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_bitpos(b: &[u8], bit: bool) -> i64 {
        for i in 0..b.len() * 8 {
            if ((b[i / 8] >> (7 - i % 8)) & 1 == 1) == bit {
                return i as i64;
            }
        }
        if bit {
            -1
        } else {
            b.len() as i64 * 8
        }
    }

    #[test]
    fn popcount_and_bitpos_match_naive() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        for len in 0..70 {
            for density in [0u64, 1, 8, 60, 64] {
                let v: Vec<u8> = (0..len)
                    .map(|_| {
                        let mut b = 0u8;
                        for k in 0..8 {
                            seed ^= seed << 13;
                            seed ^= seed >> 7;
                            seed ^= seed << 17;
                            if seed % 64 < density {
                                b |= 1 << k;
                            }
                        }
                        b
                    })
                    .collect();
                let naive: u64 = v.iter().map(|b| b.count_ones() as u64).sum();
                assert_eq!(popcount(&v), naive);
                for bit in [false, true] {
                    assert_eq!(first_bit(&v, bit), naive_bitpos(&v, bit), "{v:?} {bit}");
                }
            }
        }
    }

    #[test]
    fn bitop_pads_shorter_sources() {
        let a: &[u8] = b"\xff\x0f\xf0";
        let b: &[u8] = b"\x0f";
        assert_eq!(bitop_compute(BitOp::And, &[a, b]), b"\x0f\x00\x00");
        assert_eq!(bitop_compute(BitOp::Or, &[b, a]), b"\xff\x0f\xf0");
        assert_eq!(bitop_compute(BitOp::Xor, &[a, b]), b"\xf0\x0f\xf0");
        assert_eq!(bitop_compute(BitOp::Not, &[a]), b"\x00\xf0\x0f");
        assert_eq!(bitop_compute(BitOp::And, &[&[], &[]]), b"");
        assert_eq!(bitop_compute(BitOp::And, &[&[], b]), b"\x00");
    }
}
