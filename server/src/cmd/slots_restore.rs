//! The receiving side of slot migration: SLOTSRESTORE (sync) and SLOTSRESTORE-ASYNC with its
//! AUTH / SELECT / ACK companions, answering as codis-server 3.2.11 does (`e1_*` recordings,
//! wire/2_async_migration). Every SLOTSRESTORE-ASYNC* reply is a `SLOTSRESTORE-ASYNC-ACK`
//! array; an error ACK closes the connection after it is written.

use compat::rdb::{self, DumpError, RdbError};
use compat::slotsmgrt::{encode_ack, score_from_bits, ChunkKind, RestoreAsync};

use super::dump::{from_rdb, MAX_RESTORE_VERSION};
use super::error::{self, CmdError};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx};
use crate::db::hash::{HashLimits, HashValue};
use crate::db::set::SetValue;
use crate::db::zset::{AddFlags, ZLimits, ZSetValue};
use crate::db::Value;
use crate::migrate::{free_value, legacy_encoding, legacy_type};
use crate::sds::Sds;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("slotsrestore", -4, WRITE | DENYOOM, (0, 0, 0), slotsrestore),
    CommandSpec::new("slotsrestore-async", -2, WRITE | DENYOOM, (0, 0, 0), restore_async),
    CommandSpec::new("slotsrestore-async-auth", 2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH, (0, 0, 0), async_auth),
    CommandSpec::new("slotsrestore-async-select", 2, LOADING | FAST, (0, 0, 0), async_select),
    CommandSpec::new("slotsrestore-async-ack", 3, WRITE, (0, 0, 0), async_ack),
];

/// SLOTSRESTORE key ttl payload [key ttl payload ...]: every payload is checked before any key
/// is written; existing keys are replaced.
fn slotsrestore(ctx: &mut Ctx) -> CmdResult {
    if !(ctx.args.len() - 1).is_multiple_of(3) {
        return Err(error::wrong_arity("slotsrestore"));
    }
    let mut items = Vec::with_capacity(ctx.args.len() / 3);
    for i in (1..ctx.args.len()).step_by(3) {
        let ttl = ctx.arg_i64(i + 1)?;
        if ttl < 0 {
            return Err(CmdError::fixed("ERR invalid ttl value, must be >= 0"));
        }
        let v = rdb::parse_dump_payload(&ctx.args[i + 2], MAX_RESTORE_VERSION).map_err(|e| match e {
            DumpError::VersionOrChecksum => CmdError::fixed("ERR dump payload version or checksum are wrong"),
            DumpError::BadData(_) => CmdError::fixed("ERR bad data format"),
        })?;
        let v = from_rdb(v, &ctx.state.config).map_err(|_| CmdError::fixed("ERR bad data format"))?;
        items.push((ctx.args[i].clone(), ttl, v));
    }
    for (key, ttl, value) in items {
        if let Some(old) = ctx.db().remove(&key) {
            tracing::debug!("slotsrestore: key '{}' replaced", String::from_utf8_lossy(&key));
            free_value(old.value);
        }
        let at = ctx.add_key(&key, value);
        if ttl > 0 {
            let when = ctx.now_ms + ttl;
            ctx.db().set_expire_at(at, when);
        }
        ctx.modified(&key);
        ctx.notify('g', "restore", &key);
    }
    ctx.out.ok();
    Ok(())
}

/// Writes an ACK; a failed one ends the connection after the reply.
fn ack(ctx: &mut Ctx, errno: i64, msg: &str) -> CmdResult {
    let mut out = Vec::with_capacity(48 + msg.len());
    encode_ack(&mut out, errno, msg.as_bytes());
    ctx.out.raw(&out);
    if errno != 0 {
        ctx.client.close_after_reply = true;
    }
    Ok(())
}

fn restore_async(ctx: &mut Ctx) -> CmdResult {
    if ctx.state.migrate.async_clients.get(&ctx.client.db).is_some_and(|c| c.batch.is_some()) {
        return ack(ctx, -1, "the specified DB is being migrated");
    }
    let args = ctx.args;
    let m = match RestoreAsync::parse(args) {
        Ok(m) => m,
        Err(e) => return ack(ctx, -1, &e),
    };
    match apply(ctx, m) {
        Ok(msg) => ack(ctx, 0, &msg),
        Err(msg) => ack(ctx, -1, &msg),
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Applies one message; the text is the ACK message.
fn apply(ctx: &mut Ctx, m: RestoreAsync) -> Result<String, String> {
    let key = m.key();
    let (ttl_ms, size) = match m {
        RestoreAsync::Delete { key } => {
            let found = ctx.lookup_write(key).is_some();
            if found {
                if let Some(old) = ctx.db().remove(key) {
                    free_value(old.value);
                }
                ctx.modified(key);
            }
            return Ok(if found { "1" } else { "0" }.into());
        }
        RestoreAsync::Expire { key, ttl_ms } => {
            if ctx.lookup_write(key).is_none() {
                return Err(format!("the specified key doesn't exist ({})", lossy(key)));
            }
            (ttl_ms, 1)
        }
        RestoreAsync::String { key, ttl_ms, value } => {
            absent(ctx, key)?;
            ctx.add_key(key, Value::string(value));
            (ttl_ms, 1)
        }
        RestoreAsync::Object { key, ttl_ms, payload } => {
            absent(ctx, key)?;
            let d = rdb::decode_dump_payload(payload, MAX_RESTORE_VERSION).map_err(|e| match e {
                DumpError::VersionOrChecksum => "invalid payload checksum".to_string(),
                DumpError::BadData(RdbError::UnknownType { .. }) => "invalid payload type".to_string(),
                DumpError::BadData(_) => "invalid payload body".to_string(),
            })?;
            let v = from_rdb(d.value, &ctx.state.config).map_err(|_| "invalid payload body".to_string())?;
            ctx.add_key(key, v);
            (ttl_ms, 1)
        }
        RestoreAsync::Chunk { kind, key, ttl_ms, elems, .. } => (ttl_ms, add_chunk(ctx, kind, key, elems)?),
    };
    // Codis sets (or clears) the TTL after every message but `delete`.
    if let Some(at) = ctx.db_ref().locate(key) {
        let when = if ttl_ms != 0 { ctx.now_ms + ttl_ms } else { 0 };
        ctx.db().set_expire_at(at, when);
    }
    ctx.modified(key);
    Ok(size.to_string())
}

fn absent(ctx: &mut Ctx, key: &[u8]) -> Result<(), String> {
    match ctx.lookup_write(key) {
        Some(_) => Err(format!("the specified key already exists ({})", lossy(key))),
        None => Ok(()),
    }
}

/// Appends a chunk to the collection at `key` (created by the first chunk); returns its size.
fn add_chunk(ctx: &mut Ctx, kind: ChunkKind, key: &[u8], elems: &[bytes::Bytes]) -> Result<usize, String> {
    let (want_type, want_enc) = match kind {
        ChunkKind::List => (1, 9),
        ChunkKind::Hash => (4, 2),
        ChunkKind::Dict => (2, 2),
        ChunkKind::ZSet => (3, 7),
    };
    let config = &ctx.state.config;
    let hash_limits =
        HashLimits { max_entries: config.hash_max_listpack_entries, max_value: config.hash_max_listpack_value };
    let zlimits = ZLimits::from_config(config);
    let max_intset = config.set_max_intset_entries;
    match ctx.lookup_write(key) {
        Some(at) => {
            let v = &ctx.db_ref().entry(at).value;
            if legacy_type(v) != want_type {
                return Err(format!(
                    "wrong type (expect={want_type}/{want_enc},got={}/{})",
                    legacy_type(v),
                    legacy_encoding(v)
                ));
            }
        }
        None => {
            if elems.is_empty() {
                return Err(format!("the specified key doesn't exist ({})", lossy(key)));
            }
            let v = match kind {
                ChunkKind::List => Value::List(Box::default()),
                ChunkKind::Hash => Value::Hash(Box::new(HashValue::new())),
                ChunkKind::Dict => Value::Set(Box::new(SetValue::new_for(&elems[0]))),
                ChunkKind::ZSet => Value::ZSet(Box::new(ZSetValue::new_big())),
            };
            ctx.add_key(key, v);
        }
    }
    let Some(v) = ctx.write_value(key) else { return Err(format!("the specified key doesn't exist ({})", lossy(key))) };
    Ok(match v {
        Value::List(l) => {
            l.extend(elems.iter().map(|e| Sds::new(e)));
            l.len()
        }
        Value::Hash(h) => {
            for p in elems.chunks(2) {
                h.set(&p[0], Sds::new(&p[1]), hash_limits);
            }
            h.len()
        }
        Value::Set(s) => {
            for m in elems {
                s.add(m, max_intset);
            }
            s.len()
        }
        Value::ZSet(z) => {
            for p in elems.chunks(2) {
                // Checked by the parser: every score is 8 bytes.
                let score = score_from_bits(&p[1]).unwrap_or(f64::NAN);
                if score.is_nan() {
                    return Err("invalid zset score, NaN".into());
                }
                z.add(score, &p[0], AddFlags::default(), zlimits);
            }
            z.len()
        }
        _ => 0,
    })
}

fn async_auth(ctx: &mut Ctx) -> CmdResult {
    let Some(pass) = ctx.state.config.requirepass.clone() else {
        return ack(ctx, -1, "Client sent AUTH, but no password is set");
    };
    if pass.as_slice() == &ctx.args[1][..] {
        ctx.client.authenticated = true;
        ack(ctx, 0, "OK")
    } else {
        ctx.client.authenticated = false;
        ack(ctx, -1, "invalid password")
    }
}

fn async_select(ctx: &mut Ctx) -> CmdResult {
    match crate::util::parse_i64(&ctx.args[1]).filter(|&d| d >= 0 && (d as usize) < ctx.state.dbs.len()) {
        Some(db) => {
            ctx.client.db = db as usize;
            ack(ctx, 0, "OK")
        }
        None => {
            let msg = format!("invalid DB index ({})", lossy(&ctx.args[1]));
            ack(ctx, -1, &msg)
        }
    }
}

/// ACKs are read by the migrating connection itself, never run as a command here.
fn async_ack(ctx: &mut Ctx) -> CmdResult {
    ctx.client.close_after_reply = true;
    Err(CmdError::fixed("ERR invalid client, permission denied"))
}
