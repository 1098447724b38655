//! LCS: longest common subsequence of two strings, with Redis 7's options and its exact way of
//! walking the table back (which decides the reported match ranges).

use super::error::{self, CmdError};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};
use crate::db::Value;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("lcs", -3, READONLY, (1, 2, 1), lcs)];

/// The bytes of a string key ("" when missing); an error for other types.
fn string_of(ctx: &mut Ctx, key: &[u8]) -> Result<Vec<u8>, CmdError> {
    match ctx.read_value(key) {
        None => Ok(Vec::new()),
        Some(v) => {
            let mut b = itoa::Buffer::new();
            match v {
                Value::Int(_) | Value::Str(_) | Value::Raw(_) => Ok(v.str_bytes(&mut b).unwrap_or_default().to_vec()),
                _ => Err(CmdError::fixed("ERR The specified keys must contain string values")),
            }
        }
    }
}

fn lcs(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let a_val = ctx.read_value(&args[1]).map(|v| v.is_string());
    let b_val = ctx.read_value(&args[2]).map(|v| v.is_string());
    if a_val == Some(false) || b_val == Some(false) {
        return Err(CmdError::fixed("ERR The specified keys must contain string values"));
    }
    let a = string_of(ctx, &args[1])?;
    let b = string_of(ctx, &args[2])?;
    let (mut getidx, mut getlen, mut withmatchlen, mut minmatchlen) = (false, false, false, 0i64);
    let mut j = 3;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j];
        if opt.eq_ignore_ascii_case(b"idx") {
            getidx = true;
        } else if opt.eq_ignore_ascii_case(b"len") {
            getlen = true;
        } else if opt.eq_ignore_ascii_case(b"withmatchlen") {
            withmatchlen = true;
        } else if opt.eq_ignore_ascii_case(b"minmatchlen") && more > 0 {
            minmatchlen = ctx.arg_i64(j + 1)?.max(0);
            j += 1;
        } else {
            return Err(error::SYNTAX);
        }
        j += 1;
    }
    if getidx && getlen {
        return Err(CmdError::fixed("ERR If you want both the length and indexes, please just use IDX."));
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u128 + 1) * (blen as u128 + 1);
    if cells * 4 > ctx.state.config.proto_max_bulk_len as u128 {
        return Err(CmdError::fixed("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
    }
    let w = blen + 1;
    let mut t = vec![0u32; cells as usize];
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[alen * w + blen] as usize;
    let compute = getidx || !getlen;
    let mut result = vec![0u8; if compute { total } else { 0 }];
    let mut ranges: Vec<[usize; 5]> = Vec::new();
    let (mut i, mut j) = (alen, blen);
    let mut idx = total;
    // `alen` in arange_start means "no range open", as in Redis.
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0usize, 0usize, 0usize);
    while compute && i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == alen {
                a_start = i - 1;
                a_end = i - 1;
                b_start = j - 1;
                b_end = j - 1;
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            let up = t[(i - 1) * w + j];
            let left = t[i * w + j - 1];
            if up > left {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = a_end.wrapping_sub(a_start).wrapping_add(1);
            if minmatchlen == 0 || match_len as i64 >= minmatchlen {
                ranges.push([a_start, a_end, b_start, b_end, match_len]);
            }
            a_start = alen;
        }
    }
    if getidx {
        let out = &mut *ctx.out;
        out.map(2);
        out.bulk(b"matches");
        out.array(ranges.len());
        for r in &ranges {
            out.array(if withmatchlen { 3 } else { 2 });
            out.array(2);
            out.int(r[0] as i64);
            out.int(r[1] as i64);
            out.array(2);
            out.int(r[2] as i64);
            out.int(r[3] as i64);
            if withmatchlen {
                out.int(r[4] as i64);
            }
        }
        out.bulk(b"len");
        out.int(total as i64);
    } else if getlen {
        ctx.out.int(total as i64);
    } else {
        ctx.out.bulk(&result);
    }
    Ok(())
}
