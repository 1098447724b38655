//! Conversions between RESP replies and Lua values, with Redis 7's rules.
//!
//! Command reply → Lua (`redis.call`): integer → number, bulk → string, null bulk / null array
//! → false, array → table, status → `{ok=...}`, error → `{err=...}`; with `redis.setresp(3)`
//! also map → `{map={...}}`, set → `{set={k=true}}`, double → `{double=n}`, big number →
//! `{big_number=s}`, verbatim → `{verbatim_string={string=s, format=f}}`, boolean, null → nil.
//!
//! Lua → reply (the script's return value): number → integer (truncated), string → bulk,
//! table → `{err}`/`{ok}`/`{double}`/`{big_number}`/`{verbatim_string}`/`{map}`/`{set}` or an
//! array up to the first nil, true → 1 (or a boolean when the script set RESP3), false and
//! anything else → null.

use bytes::Bytes;
use compat::resp::write;
use mlua::{Lua, Table, Value};

use crate::cmd::Reply;

/// How deep a returned value may nest before its conversion stops (Redis: the Lua C stack).
const MAX_DEPTH: usize = 7990;

/// Lua's `tostring` of a number (`%.14g`, glibc's spellings of NaN and infinities).
pub fn number_text(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    fmt_g(n, 14)
}

/// `%.<prec>g`, with a fast path for small integral values (the common case).
pub fn fmt_g(n: f64, prec: usize) -> String {
    if n.fract() == 0.0 && n.abs() < 1e14 && (n != 0.0 || n.is_sign_positive()) {
        let limit = 10f64.powi(prec as i32);
        if n.abs() < limit {
            return itoa::Buffer::new().format(n as i64).to_string();
        }
    }
    crate::util::fmt_g(n, prec)
}

/// `%.17g` as glibc prints it (`-nan` for a NaN with the sign bit, as 0/0 gives on x86).
pub fn g17(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    crate::util::fmt_g17(n)
}

/// A double reply (`addReplyDouble`): a bulk string in RESP2, `,` in RESP3.
fn double_reply(out: &mut Reply, d: f64) {
    if !d.is_nan() {
        return out.double(d);
    }
    let text = g17(d);
    if out.resp3 {
        out.buf.extend_from_slice(b",");
        out.buf.extend_from_slice(text.as_bytes());
        out.buf.extend_from_slice(b"\r\n");
    } else {
        out.bulk(text.as_bytes());
    }
}

/// A value `lua_isstring` accepts (a string or a number), as text.
pub fn to_text(v: &Value) -> Option<String> {
    to_bytes(v).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// A string or number's bytes (numbers as Lua prints them).
pub fn to_bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(i) => Some(number_text(*i as f64).into_bytes()),
        Value::Number(n) => Some(number_text(*n).into_bytes()),
        _ => None,
    }
}

/// A Lua number as C's `(long long)` cast compiles on x86-64: out of range and NaN give
/// `LLONG_MIN`.
pub fn number_to_i64(n: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// The arguments of `redis.call`: strings, or numbers formatted with `%.17g`.
pub fn args_to_argv(args: impl Iterator<Item = Value>) -> Result<Vec<Bytes>, &'static str> {
    let mut argv = Vec::new();
    for v in args {
        argv.push(match v {
            Value::String(s) => Bytes::copy_from_slice(&s.as_bytes()),
            Value::Integer(i) => Bytes::from(g17(i as f64)),
            Value::Number(n) => Bytes::from(g17(n)),
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        });
    }
    if argv.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    Ok(argv)
}

/// Redis's `luaPushErrorBuff`: `{err="<CODE> <msg>"}` from "-CODE msg" or a bare message
/// (which gets the ERR code). `ignore_stats` adds the `ignore_error_stats_update` field that
/// errors of commands carry.
pub fn error_table(lua: &Lua, raw: &[u8], ignore_stats: bool) -> mlua::Result<Table> {
    let trim = |s: &[u8]| -> Vec<u8> {
        let start = s.iter().position(|c| !matches!(c, b'\r' | b'\n')).unwrap_or(s.len());
        let end = s.iter().rposition(|c| !matches!(c, b'\r' | b'\n')).map_or(start, |e| e + 1);
        s[start..end.max(start)].to_vec()
    };
    let mut text = Vec::with_capacity(raw.len() + 4);
    match raw.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&c| c == b' ') {
            None => {
                text.extend_from_slice(b"ERR ");
                text.extend_from_slice(&trim(rest));
            }
            Some(i) => {
                text.extend_from_slice(&rest[..i]);
                text.push(b' ');
                text.extend_from_slice(&trim(&rest[i + 1..]));
            }
        },
        None => {
            text.extend_from_slice(b"ERR ");
            text.extend_from_slice(&trim(raw));
        }
    }
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(&text)?)?;
    if ignore_stats {
        t.raw_set("ignore_error_stats_update", true)?;
    }
    Ok(t)
}

/// Writes a script's return value as the reply to its caller. `script_resp3` is the protocol
/// the script chose with `redis.setresp` (it decides how booleans convert).
pub fn lua_to_reply(v: &Value, out: &mut Reply, script_resp3: bool, depth: usize) {
    if depth > MAX_DEPTH {
        out.error("ERR reached lua stack limit");
        return;
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if script_resp3 {
                out.boolean(*b);
            } else if *b {
                out.int(1);
            } else {
                out.null();
            }
        }
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(number_to_i64(*n)),
        Value::Table(t) => table_to_reply(t, out, script_resp3, depth),
        _ => out.null(),
    }
}

/// Redis reads the fields of a returned table raw (metatables are ignored).
fn field(t: &Table, k: &str) -> Value {
    t.raw_get::<Value>(k).unwrap_or(Value::Nil)
}

fn table_to_reply(t: &Table, out: &mut Reply, script_resp3: bool, depth: usize) {
    if let Value::String(s) = field(t, "err") {
        write::error(&mut out.buf, &no_newlines(&s.as_bytes()));
        return;
    }
    if let Value::String(s) = field(t, "ok") {
        write::simple(&mut out.buf, &no_newlines(&s.as_bytes()));
        return;
    }
    match field(t, "double") {
        Value::Number(d) => return double_reply(out, d),
        Value::Integer(i) => return double_reply(out, i as f64),
        _ => {}
    }
    if let Value::String(s) = field(t, "big_number") {
        let s = no_newlines(&s.as_bytes());
        if out.resp3 {
            out.buf.extend_from_slice(b"(");
            out.buf.extend_from_slice(&s);
            out.buf.extend_from_slice(b"\r\n");
        } else {
            out.bulk(&s);
        }
        return;
    }
    if let Value::Table(vt) = field(t, "verbatim_string") {
        if let (Value::String(format), Value::String(text)) = (field(&vt, "format"), field(&vt, "string")) {
            let text = text.as_bytes();
            if out.resp3 {
                // Three format characters, padded with spaces (a NUL ends the format).
                let mut ext: Vec<u8> = format.as_bytes().iter().copied().take_while(|&c| c != 0).take(3).collect();
                ext.resize(3, b' ');
                write::header(&mut out.buf, b'=', text.len() as i64 + 4);
                out.buf.extend_from_slice(&ext[..3]);
                out.buf.extend_from_slice(b":");
                out.buf.extend_from_slice(&text);
                out.buf.extend_from_slice(b"\r\n");
            } else {
                out.bulk(&text);
            }
            return;
        }
    }
    if let Value::Table(m) = field(t, "map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            lua_to_reply(k, out, script_resp3, depth + 1);
            lua_to_reply(v, out, script_resp3, depth + 1);
        }
        return;
    }
    if let Value::Table(s) = field(t, "set") {
        let keys: Vec<Value> = s.pairs::<Value, Value>().filter_map(|p| p.ok().map(|(k, _)| k)).collect();
        out.set(keys.len());
        for k in &keys {
            lua_to_reply(k, out, script_resp3, depth + 1);
        }
        return;
    }
    let mut items = Vec::new();
    loop {
        match t.raw_get::<Value>(items.len() + 1) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        lua_to_reply(v, out, script_resp3, depth + 1);
    }
}

/// Status and error replies cannot hold line breaks: Redis maps them to spaces.
fn no_newlines(s: &[u8]) -> Vec<u8> {
    s.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }).collect()
}
