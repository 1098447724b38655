//! String commands: GET/SET and their variants, multi-key MGET/MSET, in-place edits (APPEND,
//! SETRANGE), ranges and counters. Semantics, replies and error texts follow Redis 7.0
//! (`t_string.c`), including the encodings OBJECT ENCODING reports.

use super::error::{self, CmdError};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};
use crate::db::{KeyPos, Value};
use crate::sds::Sds;

use crate::longdouble as ld;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, (1, 1, 1), get),
    CommandSpec::new("set", -3, WRITE | DENYOOM, (1, 1, 1), set),
    CommandSpec::new("setnx", 3, WRITE | DENYOOM | FAST, (1, 1, 1), setnx),
    CommandSpec::new("setex", 4, WRITE | DENYOOM, (1, 1, 1), setex),
    CommandSpec::new("psetex", 4, WRITE | DENYOOM, (1, 1, 1), psetex),
    CommandSpec::new("getset", 3, WRITE | DENYOOM | FAST, (1, 1, 1), getset),
    CommandSpec::new("getdel", 2, WRITE | FAST, (1, 1, 1), getdel),
    CommandSpec::new("getex", -2, WRITE | FAST, (1, 1, 1), getex),
    CommandSpec::new("mget", -2, READONLY | FAST, (1, -1, 1), mget),
    CommandSpec::new("mset", -3, WRITE | DENYOOM, (1, -1, 2), mset),
    CommandSpec::new("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), msetnx),
    CommandSpec::new("append", 3, WRITE | DENYOOM | FAST, (1, 1, 1), append),
    CommandSpec::new("strlen", 2, READONLY | FAST, (1, 1, 1), strlen),
    CommandSpec::new("setrange", 4, WRITE | DENYOOM, (1, 1, 1), setrange),
    CommandSpec::new("getrange", 4, READONLY, (1, 1, 1), getrange),
    CommandSpec::new("substr", 4, READONLY, (1, 1, 1), getrange),
    CommandSpec::new("incr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), incr),
    CommandSpec::new("decr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), decr),
    CommandSpec::new("incrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), incrby),
    CommandSpec::new("decrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), decrby),
    CommandSpec::new("incrbyfloat", 3, WRITE | DENYOOM | FAST, (1, 1, 1), incrbyfloat),
];

// ---------------------------------------------------------------------------------------------
// Helpers shared with the keys family.

/// Stores `value` at `key` the way Redis's `setKey` does, given the result of a preceding
/// `lookup_write`: overwrites in place (clearing the TTL unless `keep_ttl`) or adds the key
/// (firing the `new` event). Does not call `modified`/`notify` for the command itself.
pub(crate) fn store(ctx: &mut Ctx, key: &[u8], found: Option<KeyPos>, value: Value, keep_ttl: bool) -> KeyPos {
    match found {
        Some(at) => {
            let lru = ctx.state.lru_clock();
            let db = ctx.db();
            if !keep_ttl {
                db.set_expire_at(at, 0);
            }
            let e = db.entry_mut(at);
            e.value = value;
            e.lru = lru;
            at
        }
        None => {
            let at = ctx.add_key(key, value);
            ctx.notify('n', "new", key);
            at
        }
    }
}

/// Replies with the string at `at`, or fails with WRONGTYPE.
fn reply_string_at(ctx: &mut Ctx, at: KeyPos) -> CmdResult {
    let v = &ctx.state.dbs[ctx.client.db].entry(at).value;
    let mut buf = itoa::Buffer::new();
    match v.str_bytes(&mut buf) {
        Some(b) => {
            ctx.out.bulk(b);
            Ok(())
        }
        None => Err(error::WRONGTYPE),
    }
}

/// Redis's `getGenericCommand`: replies with the value (or null); WRONGTYPE is returned.
fn get_generic(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    match ctx.lookup_read(key) {
        None => {
            ctx.out.null();
            Ok(())
        }
        Some(at) => reply_string_at(ctx, at),
    }
}

/// The checkStringLength rule: a string may not grow beyond proto-max-bulk-len.
fn check_string_length(ctx: &Ctx, size: u64, append: u64) -> CmdResult {
    let total = size.checked_add(append);
    match total {
        Some(t) if t <= ctx.state.config.proto_max_bulk_len as u64 => Ok(()),
        _ => Err(CmdError::fixed("ERR string exceeds maximum allowed size (proto-max-bulk-len)")),
    }
}

// ---------------------------------------------------------------------------------------------
// SET and its extended arguments (shared with GETEX).

const OBJ_SET_NX: u32 = 1 << 0;
const OBJ_SET_XX: u32 = 1 << 1;
const OBJ_EX: u32 = 1 << 2;
const OBJ_PX: u32 = 1 << 3;
const OBJ_KEEPTTL: u32 = 1 << 4;
const OBJ_SET_GET: u32 = 1 << 5;
const OBJ_EXAT: u32 = 1 << 6;
const OBJ_PXAT: u32 = 1 << 7;
const OBJ_PERSIST: u32 = 1 << 8;
const ANY_EXPIRE: u32 = OBJ_EX | OBJ_PX | OBJ_EXAT | OBJ_PXAT;

/// Parsed SET/GETEX options: flags and the index of the expire argument.
#[derive(Debug, Default, PartialEq, Eq)]
struct ExtArgs {
    flags: u32,
    expire: Option<usize>,
}

impl ExtArgs {
    fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// Whether the expire argument counts in milliseconds.
    fn millis(&self) -> bool {
        self.has(OBJ_PX | OBJ_PXAT)
    }
}

/// Redis's `parseExtendedStringArgumentsOrReply`: options start at 3 for SET and 2 for GETEX.
/// Repeating an option is allowed; conflicting ones are a syntax error.
fn parse_extended(args: &[bytes::Bytes], is_set: bool) -> Result<ExtArgs, CmdError> {
    let mut r = ExtArgs::default();
    let mut j = if is_set { 3 } else { 2 };
    while j < args.len() {
        let opt = &args[j][..];
        let has_next = j + 1 < args.len();
        let is = |w: &str| opt.eq_ignore_ascii_case(w.as_bytes());
        let f = r.flags;
        if is("nx") && f & OBJ_SET_XX == 0 && is_set {
            r.flags |= OBJ_SET_NX;
        } else if is("xx") && f & OBJ_SET_NX == 0 && is_set {
            r.flags |= OBJ_SET_XX;
        } else if is("get") && is_set {
            r.flags |= OBJ_SET_GET;
        } else if is("keepttl") && f & (OBJ_PERSIST | ANY_EXPIRE) == 0 && is_set {
            r.flags |= OBJ_KEEPTTL;
        } else if is("persist") && !is_set && f & (ANY_EXPIRE | OBJ_KEEPTTL) == 0 {
            r.flags |= OBJ_PERSIST;
        } else if is("ex") && f & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EXAT | OBJ_PX | OBJ_PXAT) == 0 && has_next {
            r.flags |= OBJ_EX;
            r.expire = Some(j + 1);
            j += 1;
        } else if is("px") && f & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EX | OBJ_EXAT | OBJ_PXAT) == 0 && has_next {
            r.flags |= OBJ_PX;
            r.expire = Some(j + 1);
            j += 1;
        } else if is("exat") && f & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EX | OBJ_PX | OBJ_PXAT) == 0 && has_next {
            r.flags |= OBJ_EXAT;
            r.expire = Some(j + 1);
            j += 1;
        } else if is("pxat") && f & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EX | OBJ_EXAT | OBJ_PX) == 0 && has_next {
            r.flags |= OBJ_PXAT;
            r.expire = Some(j + 1);
            j += 1;
        } else {
            return Err(error::SYNTAX);
        }
        j += 1;
    }
    Ok(r)
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute expiry in ms. Relative forms (EX/PX)
/// are added to the command time; zero, negative and overflowing values are rejected.
fn expire_at_ms(ctx: &Ctx, arg: &[u8], millis: bool, relative: bool) -> Result<i64, CmdError> {
    let mut ms = crate::util::parse_i64(arg).ok_or(error::NOT_INTEGER)?;
    let name = ctx.spec.name;
    if ms <= 0 || (!millis && ms > i64::MAX / 1000) {
        return Err(error::invalid_expire(name));
    }
    if !millis {
        ms *= 1000;
    }
    if relative {
        ms = ms.wrapping_add(ctx.now_ms);
    }
    if ms <= 0 {
        return Err(error::invalid_expire(name));
    }
    Ok(ms)
}

/// Replies of the SET family when the value was stored / not stored.
#[derive(Clone, Copy)]
enum SetReply {
    /// `+OK` / null (SET, SETEX, PSETEX).
    Ok,
    /// `:1` / `:0` (SETNX).
    Int,
}

/// Redis's `setGenericCommand`.
fn set_generic(ctx: &mut Ctx, ext: &ExtArgs, value_idx: usize, reply: SetReply) -> CmdResult {
    let key = ctx.args[1].clone();
    let when = match ext.expire {
        Some(i) => Some(expire_at_ms(ctx, &ctx.args[i], ext.millis(), ext.has(OBJ_EX | OBJ_PX))?),
        None => None,
    };
    let with_get = ext.has(OBJ_SET_GET);
    if with_get {
        get_generic(ctx, &key)?;
    }
    let found = ctx.lookup_write(&key);
    if (ext.has(OBJ_SET_NX) && found.is_some()) || (ext.has(OBJ_SET_XX) && found.is_none()) {
        if !with_get {
            match reply {
                SetReply::Ok => ctx.out.null(),
                SetReply::Int => ctx.out.int(0),
            }
        }
        return Ok(());
    }
    let value = Value::string(&ctx.args[value_idx]);
    let at = store(ctx, &key, found, value, ext.has(OBJ_KEEPTTL));
    ctx.modified(&key);
    ctx.notify('$', "set", &key);
    if let Some(w) = when {
        ctx.db().set_expire_at(at, w);
        ctx.notify('g', "expire", &key);
    }
    if !with_get {
        match reply {
            SetReply::Ok => ctx.out.ok(),
            SetReply::Int => ctx.out.int(1),
        }
    }
    Ok(())
}

fn get(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    get_generic(ctx, &key)
}

fn set(ctx: &mut Ctx) -> CmdResult {
    let ext = parse_extended(ctx.args, true)?;
    set_generic(ctx, &ext, 2, SetReply::Ok)
}

fn setnx(ctx: &mut Ctx) -> CmdResult {
    set_generic(ctx, &ExtArgs { flags: OBJ_SET_NX, expire: None }, 2, SetReply::Int)
}

fn setex(ctx: &mut Ctx) -> CmdResult {
    set_generic(ctx, &ExtArgs { flags: OBJ_EX, expire: Some(2) }, 3, SetReply::Ok)
}

fn psetex(ctx: &mut Ctx) -> CmdResult {
    set_generic(ctx, &ExtArgs { flags: OBJ_PX, expire: Some(2) }, 3, SetReply::Ok)
}

fn getset(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    get_generic(ctx, &key)?;
    let found = ctx.lookup_write(&key);
    let value = Value::string(&ctx.args[2]);
    store(ctx, &key, found, value, false);
    ctx.modified(&key);
    ctx.notify('$', "set", &key);
    Ok(())
}

fn getdel(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    get_generic(ctx, &key)?;
    if ctx.db().remove(&key).is_some() {
        ctx.modified(&key);
        ctx.notify('g', "del", &key);
    }
    Ok(())
}

fn getex(ctx: &mut Ctx) -> CmdResult {
    let ext = parse_extended(ctx.args, false)?;
    let key = ctx.args[1].clone();
    let Some(at) = ctx.lookup_read(&key) else {
        ctx.out.null();
        return Ok(());
    };
    if !ctx.db_ref().entry(at).value.is_string() {
        return Err(error::WRONGTYPE);
    }
    let when = match ext.expire {
        Some(i) => Some(expire_at_ms(ctx, &ctx.args[i], ext.millis(), ext.has(OBJ_EX | OBJ_PX))?),
        None => None,
    };
    reply_string_at(ctx, at)?;
    match when {
        Some(w) if ext.has(OBJ_EXAT | OBJ_PXAT) && w <= ctx.now_ms => {
            ctx.db().remove_at(at);
            ctx.modified(&key);
            ctx.notify('g', "del", &key);
        }
        Some(w) => {
            ctx.db().set_expire_at(at, w);
            ctx.modified(&key);
            ctx.notify('g', "expire", &key);
        }
        None if ext.has(OBJ_PERSIST) && ctx.db_ref().entry(at).expire_ms != 0 => {
            ctx.db().set_expire_at(at, 0);
            ctx.modified(&key);
            ctx.notify('g', "persist", &key);
        }
        None => {}
    }
    Ok(())
}

fn mget(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.args.len() - 1;
    ctx.out.array(n);
    for i in 1..=n {
        let key = ctx.args[i].clone();
        match ctx.lookup_read(&key) {
            Some(at) => {
                if reply_string_at(ctx, at).is_err() {
                    ctx.out.null();
                }
            }
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn mset_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    if ctx.args.len().is_multiple_of(2) {
        return Err(error::wrong_arity(ctx.spec.name));
    }
    if nx {
        for j in (1..ctx.args.len()).step_by(2) {
            let key = ctx.args[j].clone();
            if ctx.lookup_write(&key).is_some() {
                ctx.out.int(0);
                return Ok(());
            }
        }
    }
    for j in (1..ctx.args.len()).step_by(2) {
        let key = ctx.args[j].clone();
        let found = ctx.lookup_write(&key);
        let value = Value::string(&ctx.args[j + 1]);
        store(ctx, &key, found, value, false);
        ctx.modified(&key);
        ctx.notify('$', "set", &key);
    }
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn mset(ctx: &mut Ctx) -> CmdResult {
    mset_generic(ctx, false)
}

fn msetnx(ctx: &mut Ctx) -> CmdResult {
    mset_generic(ctx, true)
}

fn append(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let total = match ctx.lookup_write(&key) {
        None => {
            let value = Value::string(&ctx.args[2]);
            store(ctx, &key, None, value, false);
            ctx.args[2].len()
        }
        Some(at) => {
            let cur = ctx.db_ref().entry(at).value.str_len().ok_or(error::WRONGTYPE)?;
            let add = ctx.args[2].clone();
            check_string_length(ctx, cur as u64, add.len() as u64)?;
            let raw = ctx.db().entry_mut(at).value.make_raw().ok_or(error::WRONGTYPE)?;
            raw.extend_from_slice(&add);
            raw.len()
        }
    };
    ctx.modified(&key);
    ctx.notify('$', "append", &key);
    ctx.out.int(total as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let n = match ctx.read_value(&key) {
        None => 0,
        Some(v) => v.str_len().ok_or(error::WRONGTYPE)?,
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn setrange(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let offset = ctx.arg_i64(2)?;
    if offset < 0 {
        return Err(CmdError::fixed("ERR offset is out of range"));
    }
    let offset = offset as u64;
    let value = ctx.args[3].clone();
    let len = match ctx.lookup_write(&key) {
        None => {
            if value.is_empty() {
                ctx.out.int(0);
                return Ok(());
            }
            check_string_length(ctx, offset, value.len() as u64)?;
            let mut buf = vec![0u8; offset as usize + value.len()];
            buf[offset as usize..].copy_from_slice(&value);
            let n = buf.len();
            store(ctx, &key, None, Value::Raw(Box::new(buf)), false);
            n
        }
        Some(at) => {
            let cur = ctx.db_ref().entry(at).value.str_len().ok_or(error::WRONGTYPE)?;
            if value.is_empty() {
                ctx.out.int(cur as i64);
                return Ok(());
            }
            check_string_length(ctx, offset, value.len() as u64)?;
            let raw = ctx.db().entry_mut(at).value.make_raw().ok_or(error::WRONGTYPE)?;
            let end = offset as usize + value.len();
            if raw.len() < end {
                raw.resize(end, 0);
            }
            raw[offset as usize..end].copy_from_slice(&value);
            raw.len()
        }
    };
    ctx.modified(&key);
    ctx.notify('$', "setrange", &key);
    ctx.out.int(len as i64);
    Ok(())
}

/// The byte range GETRANGE returns for a string of `len` bytes, or None for an empty reply.
fn getrange_bounds(mut start: i64, mut end: i64, len: usize) -> Option<(usize, usize)> {
    let strlen = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    if start < 0 {
        start += strlen;
    }
    if end < 0 {
        end += strlen;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= strlen {
        end = strlen - 1;
    }
    if start > end || strlen == 0 {
        return None;
    }
    Some((start as usize, end as usize + 1))
}

fn getrange(ctx: &mut Ctx) -> CmdResult {
    let start = ctx.arg_i64(2)?;
    let end = ctx.arg_i64(3)?;
    let key = ctx.args[1].clone();
    let Some(at) = ctx.lookup_read(&key) else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let v = &ctx.state.dbs[ctx.client.db].entry(at).value;
    let mut buf = itoa::Buffer::new();
    let s = v.str_bytes(&mut buf).ok_or(error::WRONGTYPE)?;
    match getrange_bounds(start, end, s.len()) {
        Some((a, b)) => ctx.out.bulk(&s[a..b]),
        None => ctx.out.bulk(b""),
    }
    Ok(())
}

/// Redis's `incrDecrCommand`.
fn incr_decr(ctx: &mut Ctx, by: i64) -> CmdResult {
    let key = ctx.args[1].clone();
    let found = ctx.lookup_write(&key);
    let old = match found {
        None => 0,
        Some(at) => match &ctx.db_ref().entry(at).value {
            Value::Int(n) => *n,
            Value::Str(s) => crate::util::parse_i64(s).ok_or(error::NOT_INTEGER)?,
            Value::Raw(v) => crate::util::parse_i64(v).ok_or(error::NOT_INTEGER)?,
            _ => return Err(error::WRONGTYPE),
        },
    };
    let new = old.checked_add(by).ok_or(error::OVERFLOW)?;
    store(ctx, &key, found, Value::Int(new), true);
    ctx.modified(&key);
    ctx.notify('$', "incrby", &key);
    ctx.out.int(new);
    Ok(())
}

fn incr(ctx: &mut Ctx) -> CmdResult {
    incr_decr(ctx, 1)
}

fn decr(ctx: &mut Ctx) -> CmdResult {
    incr_decr(ctx, -1)
}

fn incrby(ctx: &mut Ctx) -> CmdResult {
    let by = ctx.arg_i64(2)?;
    incr_decr(ctx, by)
}

fn decrby(ctx: &mut Ctx) -> CmdResult {
    let by = ctx.arg_i64(2)?;
    if by == i64::MIN {
        return Err(CmdError::fixed("ERR decrement would overflow"));
    }
    incr_decr(ctx, -by)
}

fn incrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let found = ctx.lookup_write(&key);
    let cur = match found {
        None => ld::Ld::Zero { neg: false },
        Some(at) => match &ctx.db_ref().entry(at).value {
            Value::Int(n) => ld::from_i64(*n),
            Value::Str(s) => ld::string2ld(s).ok_or(error::NOT_FLOAT)?,
            Value::Raw(v) => ld::string2ld(v).ok_or(error::NOT_FLOAT)?,
            _ => return Err(error::WRONGTYPE),
        },
    };
    let by = ld::string2ld(&ctx.args[2]).ok_or(error::NOT_FLOAT)?;
    let sum = ld::add(cur, by);
    if matches!(sum, ld::Ld::Inf { .. } | ld::Ld::NaN) {
        return Err(CmdError::fixed("ERR increment would produce NaN or Infinity"));
    }
    let text = ld::format_human(sum);
    // createStringObjectFromLongDouble: a plain (embstr/raw) string, never int-encoded.
    store(ctx, &key, found, Value::Str(Sds::new(text.as_bytes())), true);
    ctx.modified(&key);
    ctx.notify('$', "incrbyfloat", &key);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    #[test]
    fn set_options() {
        let p = |s: &str| parse_extended(&args(s), true);
        assert_eq!(p("set k v").unwrap().flags, 0);
        assert_eq!(p("set k v NX GET").unwrap().flags, OBJ_SET_NX | OBJ_SET_GET);
        assert_eq!(p("set k v ex 10 ex 20").unwrap().expire, Some(6));
        assert!(p("set k v nx xx").is_err());
        assert!(p("set k v ex 10 px 10").is_err());
        assert!(p("set k v keepttl ex 10").is_err());
        assert!(p("set k v ex").is_err());
        assert!(p("set k v persist").is_err());
        assert_eq!(p("set k v pxat 5 keepttl").unwrap_err(), error::SYNTAX);
        let g = |s: &str| parse_extended(&args(s), false);
        assert_eq!(g("getex k persist").unwrap().flags, OBJ_PERSIST);
        assert!(g("getex k nx").is_err());
        assert!(g("getex k get").is_err());
        assert!(g("getex k keepttl").is_err());
        assert!(g("getex k persist ex 1").is_err());
        assert_eq!(g("getex k exat 1").unwrap().expire, Some(3));
    }

    #[test]
    fn getrange_rules() {
        assert_eq!(getrange_bounds(0, -1, 5), Some((0, 5)));
        assert_eq!(getrange_bounds(-3, -1, 5), Some((2, 5)));
        assert_eq!(getrange_bounds(-1, -3, 5), None);
        assert_eq!(getrange_bounds(3, 1, 5), None);
        assert_eq!(getrange_bounds(0, 100, 5), Some((0, 5)));
        assert_eq!(getrange_bounds(i64::MIN, i64::MAX, 5), Some((0, 5)));
        assert_eq!(getrange_bounds(0, 0, 0), None);
        assert_eq!(getrange_bounds(10, 20, 5), None);
    }
}
