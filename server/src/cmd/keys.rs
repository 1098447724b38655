//! Keyspace commands: deletion and existence, expiry (EXPIRE family, TTL family, PERSIST),
//! TYPE, RENAME/MOVE/COPY, KEYS/SCAN/RANDOMKEY/DBSIZE, FLUSHDB/FLUSHALL/SWAPDB, OBJECT and
//! SORT. Semantics, replies and error texts follow Redis 7.0 (`db.c`, `expire.c`, `object.c`,
//! `sort.c`).

use super::error::{self, CmdError};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};
use crate::db::{KeyPos, Value};
use crate::server::State;

#[cfg(test)]
#[path = "keys_tests.rs"]
mod command_tests;
#[path = "keys_sort.rs"]
mod sort;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, WRITE, (1, -1, 1), del),
    CommandSpec::new("unlink", -2, WRITE | FAST, (1, -1, 1), del),
    CommandSpec::new("exists", -2, READONLY | FAST, (1, -1, 1), exists),
    CommandSpec::new("touch", -2, READONLY | FAST, (1, -1, 1), touch),
    CommandSpec::new("expire", -3, WRITE | FAST, (1, 1, 1), expire),
    CommandSpec::new("pexpire", -3, WRITE | FAST, (1, 1, 1), pexpire),
    CommandSpec::new("expireat", -3, WRITE | FAST, (1, 1, 1), expireat),
    CommandSpec::new("pexpireat", -3, WRITE | FAST, (1, 1, 1), pexpireat),
    CommandSpec::new("ttl", 2, READONLY | FAST, (1, 1, 1), ttl),
    CommandSpec::new("pttl", 2, READONLY | FAST, (1, 1, 1), pttl),
    CommandSpec::new("expiretime", 2, READONLY | FAST, (1, 1, 1), expiretime),
    CommandSpec::new("pexpiretime", 2, READONLY | FAST, (1, 1, 1), pexpiretime),
    CommandSpec::new("persist", 2, WRITE | FAST, (1, 1, 1), persist),
    CommandSpec::new("type", 2, READONLY | FAST, (1, 1, 1), type_cmd),
    CommandSpec::new("rename", 3, WRITE, (1, 2, 1), rename),
    CommandSpec::new("renamenx", 3, WRITE | FAST, (1, 2, 1), renamenx),
    CommandSpec::new("move", 3, WRITE | FAST, (1, 1, 1), move_cmd),
    CommandSpec::new("copy", -3, WRITE | DENYOOM, (1, 2, 1), copy),
    CommandSpec::new("keys", 2, READONLY, (0, 0, 0), keys),
    CommandSpec::new("scan", -2, READONLY, (0, 0, 0), scan),
    CommandSpec::new("randomkey", 1, READONLY, (0, 0, 0), randomkey),
    CommandSpec::new("dbsize", 1, READONLY | FAST, (0, 0, 0), dbsize),
    CommandSpec::new("flushdb", -1, WRITE, (0, 0, 0), flushdb),
    CommandSpec::new("flushall", -1, WRITE, (0, 0, 0), flushall),
    CommandSpec::new("swapdb", 3, WRITE | FAST, (0, 0, 0), swapdb),
    CommandSpec::new("object", -2, READONLY, (2, 2, 1), object),
    CommandSpec::new("sort", -2, WRITE | DENYOOM, (1, 1, 1), sort::sort),
    CommandSpec::new("sort_ro", -2, READONLY, (1, 1, 1), sort::sort_ro),
];

// ---------------------------------------------------------------------------------------------
// Helpers.

/// `lookupKeyReadWithFlags(LOOKUP_NOTOUCH)`: expires the key if due and counts the keyspace
/// hit or miss, without refreshing its access time.
pub(crate) fn lookup_notouch(ctx: &mut Ctx, key: &[u8]) -> Option<KeyPos> {
    ctx.expire_if_needed(key);
    let found = ctx.db_ref().locate(key);
    if found.is_some() {
        ctx.state.stats.keyspace_hits += 1;
    } else {
        ctx.state.stats.keyspace_misses += 1;
    }
    found
}

/// A live key of database `db` (deleting it first when its TTL has passed).
fn live_in(ctx: &mut Ctx, db: usize, key: &[u8]) -> Option<KeyPos> {
    let at = ctx.state.dbs[db].locate(key)?;
    if ctx.state.dbs[db].entry(at).is_expired(ctx.now_ms) {
        ctx.state.expire_key(db, at);
        return None;
    }
    Some(at)
}

/// `modified` + `notify` for a key of another database than the client's.
fn touched_in(ctx: &mut Ctx, db: usize, key: &[u8], class: char, event: &str) {
    ctx.state.dirty += 1;
    ctx.state.signal_modified(db, key);
    ctx.state.notify_keyspace_event(class, event, key, db);
}

/// `getIntFromObjectOrReply`: an int-range integer; `msg` replaces both errors when given.
fn arg_int(ctx: &Ctx, i: usize, msg: Option<&'static str>) -> Result<i64, CmdError> {
    let n = match crate::util::parse_i64(&ctx.args[i]) {
        Some(n) => n,
        None => return Err(msg.map_or(error::NOT_INTEGER, CmdError::fixed)),
    };
    if n < i32::MIN as i64 || n > i32::MAX as i64 {
        return Err(msg.map_or_else(
            || CmdError::fixed("ERR value is out of range, value must between -2147483648 and 2147483647"),
            CmdError::fixed,
        ));
    }
    Ok(n)
}

/// A database index argument as MOVE and COPY check it.
fn arg_db(ctx: &Ctx, i: usize) -> Result<usize, CmdError> {
    let n = arg_int(ctx, i, None)?;
    if n < 0 || n as usize >= ctx.state.dbs.len() {
        return Err(error::INVALID_DB);
    }
    Ok(n as usize)
}

/// Client text as Redis's `%s`/`%.Ns` formats it into an error: cut at the first NUL (and
/// after `max` bytes), with CR/LF turned into spaces so the reply stays one line.
pub(crate) fn c_text(b: &[u8], max: usize) -> String {
    let end = memchr::memchr(0, b).unwrap_or(b.len()).min(max);
    let clean: Vec<u8> = b[..end].iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }).collect();
    String::from_utf8_lossy(&clean).into_owned()
}

const SAME_OBJECT: CmdError = CmdError::fixed("ERR source and destination objects are the same");

// ---------------------------------------------------------------------------------------------
// DEL, UNLINK, EXISTS, TOUCH, TYPE.

fn del(ctx: &mut Ctx) -> CmdResult {
    let mut n = 0;
    for i in 1..ctx.args.len() {
        let key = ctx.args[i].clone();
        if ctx.delete_key(&key) {
            ctx.notify('g', "del", &key);
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn exists(ctx: &mut Ctx) -> CmdResult {
    let mut n = 0;
    for i in 1..ctx.args.len() {
        let key = ctx.args[i].clone();
        if lookup_notouch(ctx, &key).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn touch(ctx: &mut Ctx) -> CmdResult {
    let mut n = 0;
    for i in 1..ctx.args.len() {
        let key = ctx.args[i].clone();
        if ctx.lookup_read(&key).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn type_cmd(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let name = match lookup_notouch(ctx, &key) {
        Some(at) => ctx.db_ref().entry(at).value.value_type().name(),
        None => "none",
    };
    ctx.out.simple(name);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Expiry.

const EXPIRE_NX: u32 = 1;
const EXPIRE_XX: u32 = 2;
const EXPIRE_GT: u32 = 4;
const EXPIRE_LT: u32 = 8;

/// `parseExtendedExpireArgumentsOrReply`: NX/XX/GT/LT from argument 3 on.
fn parse_expire_flags(args: &[bytes::Bytes]) -> Result<u32, CmdError> {
    let mut flags = 0;
    for a in args.iter().skip(3) {
        flags |= match a.to_ascii_lowercase().as_slice() {
            b"nx" => EXPIRE_NX,
            b"xx" => EXPIRE_XX,
            b"gt" => EXPIRE_GT,
            b"lt" => EXPIRE_LT,
            _ => return Err(CmdError::msg(format!("ERR Unsupported option {}", c_text(a, usize::MAX)))),
        };
    }
    if flags & EXPIRE_NX != 0 && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT) != 0 {
        return Err(CmdError::fixed("ERR NX and XX, GT or LT options at the same time are not compatible"));
    }
    if flags & EXPIRE_GT != 0 && flags & EXPIRE_LT != 0 {
        return Err(CmdError::fixed("ERR GT and LT options at the same time are not compatible"));
    }
    Ok(flags)
}

/// Whether NX/XX/GT/LT let an expiry `when` replace `current` (-1 = no expiry).
fn expire_allowed(flags: u32, current: i64, when: i64) -> bool {
    if flags & EXPIRE_NX != 0 && current != -1 {
        return false;
    }
    if flags & EXPIRE_XX != 0 && current == -1 {
        return false;
    }
    if flags & EXPIRE_GT != 0 && (when <= current || current == -1) {
        return false;
    }
    if flags & EXPIRE_LT != 0 && current != -1 && when >= current {
        return false;
    }
    true
}

/// `expireGenericCommand`: `basetime` is the command time for relative forms, 0 for *AT.
fn expire_generic(ctx: &mut Ctx, basetime: i64, millis: bool) -> CmdResult {
    let flags = parse_expire_flags(ctx.args)?;
    let mut when = ctx.arg_i64(2)?;
    let name = ctx.spec.name;
    if !millis {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(error::invalid_expire(name));
        }
        when *= 1000;
    }
    if when > i64::MAX - basetime {
        return Err(error::invalid_expire(name));
    }
    when += basetime;
    let key = ctx.args[1].clone();
    let Some(at) = ctx.lookup_write(&key) else {
        ctx.out.int(0);
        return Ok(());
    };
    if flags != 0 {
        let e = ctx.db_ref().entry(at).expire_ms;
        let current = if e == 0 { -1 } else { e };
        if !expire_allowed(flags, current, when) {
            ctx.out.int(0);
            return Ok(());
        }
    }
    if when <= ctx.now_ms {
        // checkAlreadyExpired: a TTL in the past deletes the key.
        ctx.db().remove_at(at);
        ctx.modified(&key);
        ctx.notify('g', "del", &key);
    } else {
        ctx.db().set_expire_at(at, when);
        ctx.modified(&key);
        ctx.notify('g', "expire", &key);
    }
    ctx.out.int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms;
    expire_generic(ctx, now, false)
}

fn pexpire(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms;
    expire_generic(ctx, now, true)
}

fn expireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 0, false)
}

fn pexpireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 0, true)
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME.
fn ttl_generic(ctx: &mut Ctx, millis: bool, absolute: bool) -> CmdResult {
    let key = ctx.args[1].clone();
    let Some(at) = lookup_notouch(ctx, &key) else {
        ctx.out.int(-2);
        return Ok(());
    };
    let expire = ctx.db_ref().entry(at).expire_ms;
    if expire == 0 {
        ctx.out.int(-1);
        return Ok(());
    }
    let ttl = if absolute { expire } else { expire - ctx.now_ms }.max(0);
    ctx.out.int(if millis { ttl } else { (ttl + 500) / 1000 });
    Ok(())
}

fn ttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, false)
}

fn pttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, false)
}

fn expiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, true)
}

fn pexpiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, true)
}

fn persist(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1].clone();
    let removed = match ctx.lookup_write(&key) {
        Some(at) if ctx.db_ref().entry(at).expire_ms != 0 => {
            ctx.db().set_expire_at(at, 0);
            ctx.modified(&key);
            ctx.notify('g', "persist", &key);
            true
        }
        _ => false,
    };
    ctx.out.int(removed as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// RENAME, RENAMENX, MOVE, COPY.

fn rename_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    let src = ctx.args[1].clone();
    let dst = ctx.args[2].clone();
    if ctx.lookup_write(&src).is_none() {
        return Err(error::NO_SUCH_KEY);
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if ctx.lookup_write(&dst).is_some() {
        if nx {
            ctx.out.int(0);
            return Ok(());
        }
        ctx.db().remove(&dst);
    }
    // Positions shift on removal, so the source is removed by name after the destination.
    let Some(entry) = ctx.db().remove(&src) else { return Err(error::NO_SUCH_KEY) };
    ctx.db().insert_new(&dst, entry.value, entry.expire_ms, entry.lru);
    ctx.notify('n', "new", &dst);
    ctx.modified(&src);
    ctx.modified(&dst);
    ctx.notify('g', "rename_from", &src);
    ctx.notify('g', "rename_to", &dst);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn rename(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, false)
}

fn renamenx(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, true)
}

fn move_cmd(ctx: &mut Ctx) -> CmdResult {
    let src_db = ctx.client.db;
    let dst_db = arg_db(ctx, 2)?;
    if src_db == dst_db {
        return Err(SAME_OBJECT);
    }
    let key = ctx.args[1].clone();
    if ctx.lookup_write(&key).is_none() || live_in(ctx, dst_db, &key).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let Some(entry) = ctx.db().remove(&key) else {
        ctx.out.int(0);
        return Ok(());
    };
    ctx.state.dbs[dst_db].insert_new(&key, entry.value, entry.expire_ms, entry.lru);
    ctx.state.notify_keyspace_event('n', "new", &key, dst_db);
    ctx.modified(&key);
    ctx.state.signal_modified(dst_db, &key);
    ctx.notify('g', "move_from", &key);
    ctx.state.notify_keyspace_event('g', "move_to", &key, dst_db);
    ctx.out.int(1);
    Ok(())
}

fn copy(ctx: &mut Ctx) -> CmdResult {
    let src_db = ctx.client.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut j = 3;
    while j < ctx.args.len() {
        if ctx.arg_is(j, "replace") {
            replace = true;
        } else if ctx.arg_is(j, "db") && j + 1 < ctx.args.len() {
            dst_db = arg_db(ctx, j + 1)?;
            j += 1;
        } else {
            return Err(error::SYNTAX);
        }
        j += 1;
    }
    let key = ctx.args[1].clone();
    let newkey = ctx.args[2].clone();
    if src_db == dst_db && key == newkey {
        return Err(SAME_OBJECT);
    }
    let Some(at) = ctx.lookup_read(&key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let (value, expire) = {
        let e = ctx.db_ref().entry(at);
        (e.value.clone(), e.expire_ms)
    };
    if live_in(ctx, dst_db, &newkey).is_some() {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        ctx.state.dbs[dst_db].remove(&newkey);
    }
    let lru = ctx.state.lru_clock();
    ctx.state.dbs[dst_db].insert_new(&newkey, value, expire, lru);
    ctx.state.notify_keyspace_event('n', "new", &newkey, dst_db);
    touched_in(ctx, dst_db, &newkey, 'g', "copy_to");
    ctx.out.int(1);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// KEYS, SCAN, RANDOMKEY, DBSIZE.

fn keys(ctx: &mut Ctx) -> CmdResult {
    let pattern = ctx.args[1].clone();
    let all = &pattern[..] == b"*";
    let now = ctx.now_ms;
    let db = &ctx.state.dbs[ctx.client.db];
    let found: Vec<&[u8]> = db
        .iter()
        .filter(|e| (all || crate::util::glob_match(&pattern, &e.key, false)) && !e.is_expired(now))
        .map(|e| &e.key[..])
        .collect();
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(k);
    }
    Ok(())
}

fn scan(ctx: &mut Ctx) -> CmdResult {
    let cursor = super::scan::parse_scan_cursor(&ctx.args[1])?;
    let mut count: i64 = 10;
    let mut pattern: Option<bytes::Bytes> = None;
    let mut type_name: Option<bytes::Bytes> = None;
    let mut i = 2;
    while i < ctx.args.len() {
        let more = ctx.args.len() - i;
        if ctx.arg_is(i, "count") && more >= 2 {
            count = ctx.arg_i64(i + 1)?;
            if count < 1 {
                return Err(error::SYNTAX);
            }
            i += 2;
        } else if ctx.arg_is(i, "match") && more >= 2 {
            let p = ctx.args[i + 1].clone();
            pattern = if &p[..] == b"*" { None } else { Some(p) };
            i += 2;
        } else if ctx.arg_is(i, "type") && more >= 2 {
            type_name = Some(ctx.args[i + 1].clone());
            i += 2;
        } else {
            return Err(error::SYNTAX);
        }
    }
    let now = ctx.now_ms;
    let db = &ctx.state.dbs[ctx.client.db];
    let mut found: Vec<crate::sds::Sds> = Vec::new();
    let next = db.scan(cursor, count as usize, |e| {
        if let Some(p) = &pattern {
            if !crate::util::glob_match(p, &e.key, false) {
                return;
            }
        }
        if let Some(t) = &type_name {
            if !t.eq_ignore_ascii_case(e.value.value_type().name().as_bytes()) {
                return;
            }
        }
        if e.is_expired(now) {
            return;
        }
        found.push(e.key.clone());
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx) -> CmdResult {
    let dbi = ctx.client.db;
    loop {
        let st = &mut *ctx.state;
        let Some(at) = st.dbs[dbi].random_key(&mut st.rng) else {
            ctx.out.null();
            return Ok(());
        };
        if st.dbs[dbi].entry(at).is_expired(ctx.now_ms) {
            st.expire_key(dbi, at);
            continue;
        }
        let key = &st.dbs[dbi].entry(at).key;
        ctx.out.bulk(key);
        return Ok(());
    }
}

fn dbsize(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.db_ref().len();
    ctx.out.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// FLUSHDB, FLUSHALL, SWAPDB.

/// `getFlushCommandFlags`: nothing, SYNC or ASYNC. Returns whether ASYNC was asked.
fn flush_flags(ctx: &Ctx) -> Result<bool, CmdError> {
    match ctx.args.len() {
        1 => Ok(false),
        2 if ctx.arg_is(1, "sync") => Ok(false),
        2 if ctx.arg_is(1, "async") => Ok(true),
        _ => Err(error::SYNTAX),
    }
}

/// Empties one database; large ones are freed off the command loop by `Db::clear`.
fn empty_db(state: &mut State, db: usize) -> usize {
    if state.dbs[db].is_empty() {
        return 0;
    }
    state.signal_db_changed(db, None);
    state.dbs[db].clear()
}

fn flushdb(ctx: &mut Ctx) -> CmdResult {
    flush_flags(ctx)?;
    let db = ctx.client.db;
    let n = empty_db(ctx.state, db);
    ctx.state.dirty += n as u64;
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx) -> CmdResult {
    flush_flags(ctx)?;
    let mut n = 0;
    for db in 0..ctx.state.dbs.len() {
        n += empty_db(ctx.state, db);
    }
    ctx.state.dirty += n as u64;
    // With save points, the emptied dataset is saved at once (Redis's flushAllDataAndResetRDB).
    crate::persist::after_flushall(ctx.state);
    ctx.out.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx) -> CmdResult {
    let a = arg_int(ctx, 1, Some("ERR invalid first DB index"))?;
    let b = arg_int(ctx, 2, Some("ERR invalid second DB index"))?;
    let n = ctx.state.dbs.len() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(error::INVALID_DB);
    }
    let (a, b) = (a as usize, b as usize);
    if a != b {
        // Watched keys that exist in either database are touched in both.
        ctx.state.signal_db_changed(a, Some(b));
        ctx.state.signal_db_changed(b, Some(a));
        ctx.state.dbs.swap(a, b);
        ctx.state.dbs[a].id = a;
        ctx.state.dbs[b].id = b;
    }
    ctx.state.dirty += 1;
    ctx.out.ok();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// OBJECT.

const OBJECT_HELP: &[&str] = &[
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// Redis shares the integers 0..9999 (refcount INT_MAX) unless an LRU/LFU maxmemory policy
/// is active.
const OBJ_SHARED_INTEGERS: i64 = 10000;
const OBJ_SHARED_REFCOUNT: i64 = i32::MAX as i64;

fn lfu_policy(state: &State) -> bool {
    state.config.maxmemory_policy.ends_with("-lfu")
}

fn object(ctx: &mut Ctx) -> CmdResult {
    let sub = ctx.args[1].to_ascii_lowercase();
    let cmd_upper = String::from_utf8_lossy(&ctx.args[0]).to_ascii_uppercase();
    let arity = match sub.as_slice() {
        b"help" => 2,
        b"encoding" | b"refcount" | b"idletime" | b"freq" => 3,
        _ => {
            let s = c_text(&ctx.args[1], 128);
            return Err(CmdError::msg(format!("ERR unknown subcommand '{s}'. Try {cmd_upper} HELP.")));
        }
    };
    if ctx.args.len() != arity {
        return Err(error::wrong_arity(&format!("object|{}", String::from_utf8_lossy(&sub))));
    }
    if sub == b"help" {
        ctx.out.array(OBJECT_HELP.len() + 1);
        ctx.out.simple(&format!("{cmd_upper} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
        for line in OBJECT_HELP {
            ctx.out.simple(line);
        }
        return Ok(());
    }
    let key = ctx.args[2].clone();
    let Some(at) = lookup_notouch(ctx, &key) else {
        ctx.out.null();
        return Ok(());
    };
    let entry = ctx.state.dbs[ctx.client.db].entry(at);
    match sub.as_slice() {
        b"encoding" => {
            let enc = entry.value.encoding();
            ctx.out.bulk(enc.as_bytes());
        }
        b"refcount" => {
            let shared_ints = ctx.state.config.maxmemory == 0
                || !(ctx.state.config.maxmemory_policy.ends_with("-lru") || lfu_policy(ctx.state));
            let rc = match entry.value {
                Value::Int(n) if shared_ints && (0..OBJ_SHARED_INTEGERS).contains(&n) => OBJ_SHARED_REFCOUNT,
                _ => 1,
            };
            ctx.out.int(rc);
        }
        b"idletime" => {
            if lfu_policy(ctx.state) {
                return Err(CmdError::fixed("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
            }
            let clock = ctx.state.lru_clock() as i64;
            let lru = entry.lru as i64;
            const LRU_CLOCK_MAX: i64 = (1 << 24) - 1;
            let idle = if clock >= lru { clock - lru } else { clock + (LRU_CLOCK_MAX - lru) };
            ctx.out.int(idle);
        }
        _ => {
            if !lfu_policy(ctx.state) {
                return Err(CmdError::fixed("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
            }
            ctx.out.int(crate::evict::lfu_freq(ctx.state, entry.lru));
        }
    }
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
    fn expire_options() {
        assert_eq!(parse_expire_flags(&args("expire k 10")).unwrap(), 0);
        assert_eq!(parse_expire_flags(&args("expire k 10 NX")).unwrap(), EXPIRE_NX);
        assert_eq!(parse_expire_flags(&args("expire k 10 xx gt")).unwrap(), EXPIRE_XX | EXPIRE_GT);
        assert!(parse_expire_flags(&args("expire k 10 nx xx")).is_err());
        assert!(parse_expire_flags(&args("expire k 10 nx lt")).is_err());
        assert!(parse_expire_flags(&args("expire k 10 gt lt")).is_err());
        assert_eq!(parse_expire_flags(&args("expire k 10 foo")).unwrap_err().0, "ERR Unsupported option foo");
        // NX: only without a TTL; XX: only with one; GT: never on persistent keys; LT: always on them.
        assert!(expire_allowed(EXPIRE_NX, -1, 5));
        assert!(!expire_allowed(EXPIRE_NX, 3, 5));
        assert!(!expire_allowed(EXPIRE_XX, -1, 5));
        assert!(!expire_allowed(EXPIRE_GT, -1, 5));
        assert!(expire_allowed(EXPIRE_GT, 3, 5));
        assert!(!expire_allowed(EXPIRE_GT, 5, 5));
        assert!(expire_allowed(EXPIRE_LT, -1, 5));
        assert!(!expire_allowed(EXPIRE_LT, 5, 5));
        assert!(expire_allowed(EXPIRE_LT, 6, 5));
        assert!(!expire_allowed(EXPIRE_XX | EXPIRE_LT, -1, 5));
    }
}
