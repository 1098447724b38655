//! BITFIELD and BITFIELD_RO: signed/unsigned integers of 1..64 bits at any bit offset, with
//! WRAP/SAT/FAIL overflow handling, as Redis 7.0's `bitfieldGeneric`.

use super::{bit_offset, cstr, string_for_bits};
use crate::cmd::error::{self, CmdError};
use crate::cmd::{CmdResult, Ctx};
use crate::util::parse_i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpCode {
    Get,
    Set,
    IncrBy,
}

#[derive(Debug, Clone, Copy)]
struct Op {
    offset: u64,
    value: i64,
    opcode: OpCode,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

/// Reads `bits` (1..=64) bits at bit `offset`, most significant first; bytes past the end of
/// `p` read as zero.
pub(crate) fn get_unsigned(p: &[u8], offset: u64, bits: u32) -> u64 {
    let mut value = 0u64;
    for off in offset..offset + bits as u64 {
        let byte = p.get((off >> 3) as usize).copied().unwrap_or(0);
        let bit = (byte >> (7 - (off & 7))) & 1;
        value = (value << 1) | bit as u64;
    }
    value
}

pub(crate) fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let mut value = get_unsigned(p, offset, bits) as i64;
    if bits < 64 && value & (1i64 << (bits - 1)) != 0 {
        value |= -1i64 << bits;
    }
    value
}

/// Writes the low `bits` bits of `value` at bit `offset` (bytes past the end are skipped; the
/// caller has made room).
pub(crate) fn set_unsigned(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    for (j, off) in (offset..offset + bits as u64).enumerate() {
        let bitval = ((value >> (bits as usize - 1 - j)) & 1) as u8;
        let shift = 7 - (off & 7);
        if let Some(b) = p.get_mut((off >> 3) as usize) {
            *b = (*b & !(1 << shift)) | (bitval << shift);
        }
    }
}

/// `checkUnsignedBitfieldOverflow`: 0, 1 (overflow) or -1 (underflow), and the value to store
/// for WRAP/SAT when it overflowed.
pub(crate) fn check_unsigned(value: u64, incr: i64, bits: u32, ow: Overflow) -> (i32, u64) {
    let max = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = 0u64.wrapping_sub(value) as i64;
    let wrap = || {
        let mask = if bits >= 64 { 0 } else { u64::MAX << bits };
        value.wrapping_add(incr as u64) & !mask
    };
    if value > max || (incr > 0 && incr > maxincr) {
        match ow {
            Overflow::Wrap => (1, wrap()),
            Overflow::Sat => (1, max),
            Overflow::Fail => (1, 0),
        }
    } else if incr < 0 && incr < minincr {
        match ow {
            Overflow::Wrap => (-1, wrap()),
            Overflow::Sat => (-1, 0),
            Overflow::Fail => (-1, 0),
        }
    } else {
        (0, 0)
    }
}

/// `checkSignedBitfieldOverflow`.
pub(crate) fn check_signed(value: i64, incr: i64, bits: u32, ow: Overflow) -> (i32, i64) {
    let max = if bits >= 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let msb = 1u64 << (bits - 1);
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & msb != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        match ow {
            Overflow::Wrap => (1, wrap()),
            Overflow::Sat => (1, max),
            Overflow::Fail => (1, 0),
        }
    } else if value < min || (bits != 64 && incr < minincr) || (value < 0 && incr < 0 && incr < minincr) {
        match ow {
            Overflow::Wrap => (-1, wrap()),
            Overflow::Sat => (-1, min),
            Overflow::Fail => (-1, 0),
        }
    } else {
        (0, 0)
    }
}

/// `getBitfieldTypeFromArgument`: `i1`..`i64` or `u1`..`u63`.
fn parse_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    const ERR: CmdError = CmdError::fixed(
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
    );
    let p = cstr(arg);
    let signed = match p.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(ERR),
    };
    let bits = parse_i64(&p[1..]).ok_or(ERR)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(ERR);
    }
    Ok((signed, bits as u32))
}

fn is(arg: &[u8], word: &str) -> bool {
    cstr(arg).eq_ignore_ascii_case(word.as_bytes())
}

/// Parses the subcommands. Returns the operations and the highest bit any write touches
/// (None when every operation is a GET).
fn parse_ops(ctx: &Ctx) -> Result<(Vec<Op>, Option<u64>), CmdError> {
    let args = ctx.args;
    let argc = args.len();
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut highest: Option<u64> = None;
    let mut j = 2;
    while j < argc {
        let remargs = argc - j - 1;
        let sub = &args[j];
        let opcode = if is(sub, "get") && remargs >= 2 {
            OpCode::Get
        } else if is(sub, "set") && remargs >= 3 {
            OpCode::Set
        } else if is(sub, "incrby") && remargs >= 3 {
            OpCode::IncrBy
        } else if is(sub, "overflow") && remargs >= 1 {
            let name = &args[j + 1];
            overflow = if is(name, "wrap") {
                Overflow::Wrap
            } else if is(name, "sat") {
                Overflow::Sat
            } else if is(name, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::fixed("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(error::SYNTAX);
        };
        let (signed, bits) = parse_type(&args[j + 1])?;
        let offset = bit_offset(ctx, &args[j + 2], true, bits)?;
        let mut value = 0;
        if opcode != OpCode::Get {
            let last = offset + bits as u64 - 1;
            highest = Some(highest.map_or(last, |h| h.max(last)));
            value = parse_i64(&args[j + 3]).ok_or(error::NOT_INTEGER)?;
        }
        ops.push(Op { offset, value, opcode, overflow, bits, signed });
        j += if opcode == OpCode::Get { 3 } else { 4 };
    }
    Ok((ops, highest))
}

/// One operation's reply: an integer, or null when FAIL refused to overflow.
type OpReply = Option<i64>;

/// Runs a write (SET/INCRBY) on `p`; returns the reply and whether the stored bits changed.
fn run_write(p: &mut [u8], op: &Op) -> (OpReply, bool) {
    let fail = op.overflow == Overflow::Fail;
    if op.signed {
        let old = get_signed(p, op.offset, op.bits);
        let (ov, newval, ret) = if op.opcode == OpCode::IncrBy {
            let (ov, wrapped) = check_signed(old, op.value, op.bits, op.overflow);
            let n = if ov != 0 { wrapped } else { old.wrapping_add(op.value) };
            (ov, n, n)
        } else {
            let (ov, wrapped) = check_signed(op.value, 0, op.bits, op.overflow);
            (ov, if ov != 0 { wrapped } else { op.value }, old)
        };
        if ov != 0 && fail {
            return (None, false);
        }
        set_unsigned(p, op.offset, op.bits, newval as u64);
        (Some(ret), old != newval)
    } else {
        let old = get_unsigned(p, op.offset, op.bits);
        let (ov, newval, ret) = if op.opcode == OpCode::IncrBy {
            let (ov, wrapped) = check_unsigned(old, op.value, op.bits, op.overflow);
            let n = if ov != 0 { wrapped } else { old.wrapping_add(op.value as u64) };
            (ov, n, n)
        } else {
            let v = op.value as u64;
            let (ov, wrapped) = check_unsigned(v, 0, op.bits, op.overflow);
            (ov, if ov != 0 { wrapped } else { v }, old)
        };
        if ov != 0 && fail {
            return (None, false);
        }
        set_unsigned(p, op.offset, op.bits, newval);
        (Some(ret as i64), old != newval)
    }
}

fn run_get(p: &[u8], op: &Op) -> i64 {
    if op.signed {
        get_signed(p, op.offset, op.bits)
    } else {
        get_unsigned(p, op.offset, op.bits) as i64
    }
}

fn generic(ctx: &mut Ctx, readonly_cmd: bool) -> CmdResult {
    let (ops, highest) = parse_ops(ctx)?;
    let key = ctx.args[1].clone();
    let Some(highest) = highest else {
        // Only GETs: a read lookup; a missing key reads as zeros.
        let found = ctx.lookup_read(&key);
        let mut scratch = itoa::Buffer::new();
        let s: &[u8] = match found {
            Some(at) => ctx.db_ref().entry(at).value.str_bytes(&mut scratch).ok_or(error::WRONGTYPE)?,
            None => &[],
        };
        let replies: Vec<i64> = ops.iter().map(|op| run_get(s, op)).collect();
        ctx.out.array(replies.len());
        for r in replies {
            ctx.out.int(r);
        }
        return Ok(());
    };
    if readonly_cmd {
        return Err(CmdError::fixed("ERR BITFIELD_RO only supports the GET subcommand"));
    }
    let (at, dirty) = string_for_bits(ctx, &key, highest)?;
    let db = ctx.client.db;
    let p = ctx.state.dbs[db].entry_mut(at).value.make_raw().ok_or(error::WRONGTYPE)?;
    let mut changes: u64 = 0;
    let mut replies: Vec<OpReply> = Vec::with_capacity(ops.len());
    for op in &ops {
        if op.opcode == OpCode::Get {
            replies.push(Some(run_get(p, op)));
        } else {
            let (r, changed) = run_write(p, op);
            if r.is_some() && (dirty || changed) {
                changes += 1;
            }
            replies.push(r);
        }
    }
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(n) => ctx.out.int(n),
            None => ctx.out.null(),
        }
    }
    if changes > 0 {
        ctx.modified(&key);
        ctx.state.dirty += changes - 1;
        ctx.notify('$', "setbit", &key);
    }
    Ok(())
}

pub fn bitfield(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, false)
}

pub fn bitfield_ro(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bit-per-element model of a bitmap.
    struct Naive(Vec<bool>);

    impl Naive {
        fn get(&self, off: u64, bits: u32) -> u64 {
            (0..bits as u64).fold(0, |v, i| (v << 1) | *self.0.get((off + i) as usize).unwrap_or(&false) as u64)
        }
        fn set(&mut self, off: u64, bits: u32, v: u64) {
            for i in 0..bits as u64 {
                let idx = (off + i) as usize;
                if self.0.len() <= idx {
                    self.0.resize(idx + 1, false);
                }
                self.0[idx] = (v >> (bits as u64 - 1 - i)) & 1 == 1;
            }
        }
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// What an INCRBY should store and reply under each policy, computed with i128.
    fn model_incr(signed: bool, bits: u32, old: i128, incr: i128, ow: Overflow) -> Option<i128> {
        let (min, max) =
            if signed { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) } else { (0, (1i128 << bits) - 1) };
        let sum = old + incr;
        if (min..=max).contains(&sum) {
            return Some(sum);
        }
        match ow {
            Overflow::Fail => None,
            Overflow::Sat => Some(if sum > max { max } else { min }),
            Overflow::Wrap => {
                let m = 1i128 << bits;
                let mut r = sum.rem_euclid(m);
                if signed && r > max {
                    r -= m;
                }
                Some(r)
            }
        }
    }

    #[test]
    fn bitfield_matches_naive_model() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut buf = vec![0u8; 64];
        let mut naive = Naive(vec![false; 64 * 8]);
        for round in 0..200_000 {
            let signed = rng.next().is_multiple_of(2);
            let bits = if signed { 1 + (rng.next() % 64) as u32 } else { 1 + (rng.next() % 63) as u32 };
            let off = rng.next() % (64 * 8 - bits as u64 + 1);
            let ow = [Overflow::Wrap, Overflow::Sat, Overflow::Fail][(rng.next() % 3) as usize];
            let raw = rng.next();
            // Mix small and full-range increments so both overflow and non-overflow happen.
            let incr = match rng.next() % 4 {
                0 => raw as i64,
                1 => (raw % 7) as i64 - 3,
                2 => i64::MIN + (raw % 3) as i64,
                _ => i64::MAX - (raw % 3) as i64,
            };
            let old_u = naive.get(off, bits);
            let old: i128 = if signed {
                let v = old_u as i128;
                if bits < 128 && v >= (1i128 << (bits - 1)) {
                    v - (1i128 << bits)
                } else {
                    v
                }
            } else {
                old_u as i128
            };
            if signed {
                assert_eq!(get_signed(&buf, off, bits) as i128, old, "round {round}");
            } else {
                assert_eq!(get_unsigned(&buf, off, bits) as i128, old, "round {round}");
            }
            let op = Op { offset: off, value: incr, opcode: OpCode::IncrBy, overflow: ow, bits, signed };
            let (reply, _) = run_write(&mut buf, &op);
            let want = model_incr(signed, bits, old, incr as i128, ow);
            assert_eq!(
                reply.map(|r| if signed { r as i128 } else { r as u64 as i128 }),
                want,
                "round {round} {op:?} old {old}"
            );
            if let Some(w) = want {
                naive.set(off, bits, w as u64);
            }
            for k in 0..64 * 8 {
                if k % 61 == round % 61 {
                    assert_eq!(get_unsigned(&buf, k as u64, 1) == 1, naive.0[k], "bit {k} round {round}");
                }
            }
        }
    }

    #[test]
    fn set_overflow_rules() {
        // SET stores the value checked as value + 0, so SAT clamps and WRAP truncates.
        assert_eq!(check_unsigned((-1i64) as u64, 0, 8, Overflow::Sat), (1, 255));
        assert_eq!(check_unsigned(256, 0, 8, Overflow::Wrap), (1, 0));
        assert_eq!(check_signed(128, 0, 8, Overflow::Wrap), (1, -128));
        assert_eq!(check_signed(-129, 0, 8, Overflow::Sat), (-1, -128));
        assert_eq!(check_signed(i64::MAX, 1, 64, Overflow::Wrap), (1, i64::MIN));
        assert_eq!(check_signed(i64::MIN, -1, 64, Overflow::Sat), (-1, i64::MIN));
        assert_eq!(check_signed(5, 0, 64, Overflow::Fail), (0, 0));
    }

    #[test]
    fn type_parsing() {
        assert_eq!(parse_type(b"i64"), Ok((true, 64)));
        assert_eq!(parse_type(b"u63"), Ok((false, 63)));
        assert!(parse_type(b"u64").is_err());
        assert!(parse_type(b"i0").is_err());
        assert!(parse_type(b"i08").is_err());
        assert!(parse_type(b"").is_err());
        assert!(parse_type(b"x8").is_err());
        assert_eq!(parse_type(b"u8\0junk"), Ok((false, 8)));
    }
}
