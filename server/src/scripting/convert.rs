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
use std::ffi::c_int;

use mlua::{ffi, Lua, Table, Value};

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

/// Writes the value at `idx` of the stack, a script's return value, as the reply to its caller.
/// `script_resp3` is the protocol the script chose with `redis.setresp` (it decides how
/// booleans convert). Read straight off the stack, as Redis's `luaReplyToRedisReply` does: no
/// handle or registry reference is made for the tables walked.
///
/// # Safety
/// `state` is a Lua state with `idx` a valid (absolute or relative) index; the stack is left as
/// it was.
pub unsafe fn stack_to_reply(
    state: *mut ffi::lua_State,
    idx: c_int,
    out: &mut Reply,
    script_resp3: bool,
    depth: usize,
) {
    let idx = if idx < 0 { ffi::lua_gettop(state) + idx + 1 } else { idx };
    if depth > MAX_DEPTH || ffi::lua_checkstack(state, 4) == 0 {
        out.error("ERR reached lua stack limit");
        return;
    }
    match ffi::lua_type(state, idx) {
        ffi::LUA_TSTRING => out.bulk(stack_bytes(state, idx)),
        ffi::LUA_TBOOLEAN => {
            let b = ffi::lua_toboolean(state, idx) != 0;
            if script_resp3 {
                out.boolean(b);
            } else if b {
                out.int(1);
            } else {
                out.null();
            }
        }
        ffi::LUA_TNUMBER => out.int(number_to_i64(ffi::lua_tonumber(state, idx))),
        ffi::LUA_TTABLE => table_to_reply(state, idx, out, script_resp3, depth),
        _ => out.null(),
    }
}

/// The bytes of the string at `idx` (valid while the string is on the stack).
unsafe fn stack_bytes<'s>(state: *mut ffi::lua_State, idx: c_int) -> &'s [u8] {
    let mut len = 0;
    let p = ffi::lua_tolstring(state, idx, &mut len);
    if p.is_null() {
        return &[];
    }
    std::slice::from_raw_parts(p as *const u8, len)
}

/// Pushes `t[name]` read raw (Redis ignores metatables here) and returns its type.
unsafe fn raw_field(state: *mut ffi::lua_State, t: c_int, name: &[u8]) -> c_int {
    ffi::lua_pushlstring(state, name.as_ptr().cast(), name.len());
    ffi::lua_rawget(state, t);
    ffi::lua_type(state, -1)
}

/// Counts the entries `lua_next` visits in the table at `t`.
unsafe fn count_pairs(state: *mut ffi::lua_State, t: c_int) -> usize {
    let mut n = 0;
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, t) != 0 {
        ffi::lua_pop(state, 1);
        n += 1;
    }
    n
}

unsafe fn table_to_reply(state: *mut ffi::lua_State, t: c_int, out: &mut Reply, script_resp3: bool, depth: usize) {
    let pop = |n| ffi::lua_pop(state, n);
    if raw_field(state, t, b"err") == ffi::LUA_TSTRING {
        write::error(&mut out.buf, &no_newlines(stack_bytes(state, -1)));
        return pop(1);
    }
    pop(1);
    if raw_field(state, t, b"ok") == ffi::LUA_TSTRING {
        write::simple(&mut out.buf, &no_newlines(stack_bytes(state, -1)));
        return pop(1);
    }
    pop(1);
    if raw_field(state, t, b"double") == ffi::LUA_TNUMBER {
        double_reply(out, ffi::lua_tonumber(state, -1));
        return pop(1);
    }
    pop(1);
    if raw_field(state, t, b"big_number") == ffi::LUA_TSTRING {
        let s = no_newlines(stack_bytes(state, -1));
        pop(1);
        if out.resp3 {
            out.buf.extend_from_slice(b"(");
            out.buf.extend_from_slice(&s);
            out.buf.extend_from_slice(b"\r\n");
        } else {
            out.bulk(&s);
        }
        return;
    }
    pop(1);
    if raw_field(state, t, b"verbatim_string") == ffi::LUA_TTABLE {
        let vt = ffi::lua_gettop(state);
        let format = raw_field(state, vt, b"format");
        let text = raw_field(state, vt, b"string");
        if format == ffi::LUA_TSTRING && text == ffi::LUA_TSTRING {
            let text = stack_bytes(state, -1);
            if out.resp3 {
                // Three format characters, padded with spaces (a NUL ends the format).
                let mut ext: Vec<u8> = stack_bytes(state, -2).iter().copied().take_while(|&c| c != 0).take(3).collect();
                ext.resize(3, b' ');
                write::header(&mut out.buf, b'=', text.len() as i64 + 4);
                out.buf.extend_from_slice(&ext[..3]);
                out.buf.extend_from_slice(b":");
                out.buf.extend_from_slice(text);
                out.buf.extend_from_slice(b"\r\n");
            } else {
                out.bulk(text);
            }
            return pop(3);
        }
        pop(2);
    }
    pop(1);
    if raw_field(state, t, b"map") == ffi::LUA_TTABLE {
        let m = ffi::lua_gettop(state);
        out.map(count_pairs(state, m));
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, m) != 0 {
            stack_to_reply(state, -2, out, script_resp3, depth + 1);
            stack_to_reply(state, -1, out, script_resp3, depth + 1);
            pop(1);
        }
        return pop(1);
    }
    pop(1);
    if raw_field(state, t, b"set") == ffi::LUA_TTABLE {
        let m = ffi::lua_gettop(state);
        out.set(count_pairs(state, m));
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, m) != 0 {
            stack_to_reply(state, -2, out, script_resp3, depth + 1);
            pop(1);
        }
        return pop(1);
    }
    pop(1);
    // An array, up to the first nil.
    let mut n = 0;
    loop {
        ffi::lua_rawgeti(state, t, n as ffi::lua_Integer + 1);
        let nil = ffi::lua_type(state, -1) == ffi::LUA_TNIL;
        pop(1);
        if nil {
            break;
        }
        n += 1;
    }
    out.array(n);
    for i in 1..=n {
        ffi::lua_rawgeti(state, t, i as ffi::lua_Integer);
        stack_to_reply(state, -1, out, script_resp3, depth + 1);
        pop(1);
    }
}

/// Status and error replies cannot hold line breaks: Redis maps them to spaces.
fn no_newlines(s: &[u8]) -> Vec<u8> {
    s.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }).collect()
}
