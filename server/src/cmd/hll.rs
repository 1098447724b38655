//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST, as Redis 7.0's
//! `hyperloglog.c`. Values are ordinary strings in Redis's exact HLL format (see `hll_core.rs`),
//! so a value written by either server can be copied to the other (GET/SET) and keeps working.

#[path = "hll_core.rs"]
mod repr;

use super::error::{self, CmdError};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};
use crate::db::{KeyPos, Value};
use repr::{SetResult, DENSE, REGISTERS, SPARSE};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pfadd", -2, WRITE | DENYOOM | FAST, (1, 1, 1), pfadd),
    CommandSpec::new("pfcount", -2, READONLY, (1, -1, 1), pfcount),
    CommandSpec::new("pfmerge", -2, WRITE | DENYOOM, (1, -1, 1), pfmerge),
    CommandSpec::new("pfdebug", 3, WRITE | DENYOOM | ADMIN, (2, 2, 1), pfdebug),
    CommandSpec::new("pfselftest", 1, ADMIN, (0, 0, 0), pfselftest),
];

const NOT_HLL: CmdError = CmdError::fixed("WRONGTYPE Key is not a valid HyperLogLog string value.");
const CORRUPT: CmdError = CmdError::fixed("INVALIDOBJ Corrupted HLL object detected");

/// `isHLLObjectOrReply`: a string (not int-encoded) with a valid header and size.
fn check_hll(v: &Value) -> CmdResult {
    match v {
        Value::Str(s) if repr::is_valid(s) => Ok(()),
        Value::Raw(r) if repr::is_valid(r) => Ok(()),
        Value::Int(_) | Value::Str(_) | Value::Raw(_) => Err(NOT_HLL),
        _ => Err(error::WRONGTYPE),
    }
}

/// The bytes of a (string) value, if it is one that `check_hll` accepted.
fn hll_bytes(v: &Value) -> &[u8] {
    match v {
        Value::Str(s) => s,
        Value::Raw(r) => r,
        _ => &[],
    }
}

/// The value at `at` as a growable buffer (`dbUnshareStringValue`: it becomes `raw`).
fn raw_at<'a>(ctx: &'a mut Ctx, at: KeyPos) -> Result<&'a mut Vec<u8>, CmdError> {
    let db = ctx.client.db;
    ctx.state.dbs[db].entry_mut(at).value.make_raw().ok_or(error::WRONGTYPE)
}

fn pfadd(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let max_bytes = ctx.state.config.hll_sparse_max_bytes;
    let mut updated: u64 = 0;
    let at = match ctx.lookup_write(&key) {
        None => {
            updated += 1;
            super::string::store(ctx, &key, None, Value::Raw(Box::new(repr::new_hll())), false)
        }
        Some(at) => {
            check_hll(&ctx.db_ref().entry(at).value)?;
            at
        }
    };
    let args = ctx.args;
    let v = raw_at(ctx, at)?;
    for ele in &args[2..] {
        match repr::add(v, ele, max_bytes) {
            SetResult::Updated => updated += 1,
            SetResult::Unchanged => {}
            SetResult::Invalid => return Err(CORRUPT),
        }
    }
    if updated > 0 {
        repr::invalidate_cache(v);
        ctx.modified(&key);
        ctx.state.dirty += updated - 1;
        ctx.notify('$', "pfadd", &key);
    }
    ctx.out.int((updated > 0) as i64);
    Ok(())
}

fn pfcount(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 2 {
        // The cardinality of the union, on 8-bit registers.
        let mut max = Box::new([0u8; REGISTERS]);
        for j in 1..ctx.args.len() {
            let key = ctx.args[j].clone();
            let Some(at) = ctx.lookup_read(&key) else { continue };
            let v = &ctx.db_ref().entry(at).value;
            check_hll(v)?;
            repr::merge(&mut max, hll_bytes(v)).map_err(|_| CORRUPT)?;
        }
        ctx.out.int(repr::count_raw(&max) as i64);
        return Ok(());
    }
    let key = ctx.args[1].clone();
    let Some(at) = ctx.lookup_read(&key) else {
        ctx.out.int(0);
        return Ok(());
    };
    check_hll(&ctx.db_ref().entry(at).value)?;
    let v = raw_at(ctx, at)?;
    let card = match repr::cached(v) {
        Some(c) => c,
        None => {
            let c = repr::count(v).map_err(|_| CORRUPT)?;
            repr::store_cache(v, c);
            ctx.modified(&key);
            c
        }
    };
    ctx.out.int(card as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx) -> CmdResult {
    let mut max = Box::new([0u8; REGISTERS]);
    let mut use_dense = false;
    for j in 1..ctx.args.len() {
        let key = ctx.args[j].clone();
        let Some(at) = ctx.lookup_read(&key) else { continue };
        let v = &ctx.db_ref().entry(at).value;
        check_hll(v)?;
        let b = hll_bytes(v);
        if b[4] == DENSE {
            use_dense = true;
        }
        repr::merge(&mut max, b).map_err(|_| CORRUPT)?;
    }
    let key = ctx.args[1].clone();
    let at = match ctx.lookup_write(&key) {
        None => super::string::store(ctx, &key, None, Value::Raw(Box::new(repr::new_hll())), false),
        Some(at) => at,
    };
    let max_bytes = ctx.state.config.hll_sparse_max_bytes;
    let v = raw_at(ctx, at)?;
    if use_dense && repr::sparse_to_dense(v).is_err() {
        return Err(CORRUPT);
    }
    for (j, &m) in max.iter().enumerate() {
        if m != 0 {
            // Like Redis, a corrupt destination is not reported here (it was merged above).
            repr::set_register(v, j, m, max_bytes);
        }
    }
    repr::invalidate_cache(v);
    ctx.modified(&key);
    ctx.notify('$', "pfadd", &key);
    ctx.out.ok();
    Ok(())
}

/// The part of a C string argument before any NUL (what `strcasecmp` and `%s` see).
fn cstr(b: &[u8]) -> &[u8] {
    match memchr::memchr(0, b) {
        Some(i) => &b[..i],
        None => b,
    }
}

fn pfdebug(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[2].clone();
    let Some(at) = ctx.lookup_write(&key) else {
        return Err(CmdError::fixed("ERR The specified key does not exist"));
    };
    check_hll(&ctx.db_ref().entry(at).value)?;
    let sub = cstr(&ctx.args[1]).to_ascii_lowercase();
    let v = raw_at(ctx, at)?;
    match &sub[..] {
        b"getreg" => {
            if v[4] == SPARSE {
                repr::sparse_to_dense(v).map_err(|_| CORRUPT)?;
                ctx.state.dirty += 1;
            }
            let v = raw_at(ctx, at)?;
            let regs: Vec<u8> = (0..REGISTERS).map(|i| repr::dense_get(repr::regs(v), i)).collect();
            ctx.out.array(REGISTERS);
            for r in regs {
                ctx.out.int(r as i64);
            }
        }
        b"decode" => {
            if v[4] != SPARSE {
                return Err(CmdError::fixed("ERR HLL encoding is not sparse"));
            }
            let text = repr::decode(v);
            ctx.out.bulk(text.as_bytes());
        }
        b"encoding" => {
            let name = if v[4] == DENSE { "dense" } else { "sparse" };
            ctx.out.simple(name);
        }
        b"todense" => {
            let conv = v[4] == SPARSE;
            if conv {
                repr::sparse_to_dense(v).map_err(|_| CORRUPT)?;
                ctx.state.dirty += 1;
            }
            ctx.out.int(conv as i64);
        }
        _ => {
            let name = String::from_utf8_lossy(cstr(&ctx.args[1])).replace(['\r', '\n'], " ");
            return Err(CmdError::msg(format!("ERR Unknown PFDEBUG subcommand '{name}'")));
        }
    }
    Ok(())
}

fn pfselftest(ctx: &mut Ctx) -> CmdResult {
    match repr::selftest(ctx.state.config.hll_sparse_max_bytes) {
        Ok(()) => {
            ctx.out.ok();
            Ok(())
        }
        Err(e) => Err(CmdError::msg(e)),
    }
}
