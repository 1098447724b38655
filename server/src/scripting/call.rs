//! `redis.call` and `redis.pcall` as raw C functions over the Lua API.
//!
//! They are the hot path of every script, so they skip `mlua`'s callback machinery: the
//! arguments are read straight off the Lua stack into one buffer, the command runs through the
//! normal dispatcher, and its RESP reply is pushed as Lua values while it is parsed (Redis's
//! `redisProtocolToLuaType` does the same). The running script's [`Caller`] is reached through
//! a [`CallSlot`] the engine fills for the length of one script.
//!
//! Lua raises errors with `longjmp`: everything that owns memory is dropped before a push
//! that could raise or before `lua_error`, and a panic in a command is caught before it could
//! cross the C frame.

use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, Ordering};

use mlua::{ffi, Function, Lua};

use super::convert::g17;
use super::Caller;

/// Points at the running script's `Caller` (null between scripts).
#[derive(Default)]
pub struct CallSlot(AtomicPtr<c_void>);

impl CallSlot {
    pub fn set(&self, caller: *mut c_void) {
        self.0.store(caller, Ordering::Release);
    }

    pub fn clear(&self) {
        self.0.store(std::ptr::null_mut(), Ordering::Release);
    }

    pub fn get(&self) -> *mut c_void {
        self.0.load(Ordering::Acquire)
    }
}

/// What running one `redis.call` produced before anything is pushed.
pub enum Outcome {
    /// The command ran; its reply is in the caller's buffer.
    Reply,
    /// Refused before running: `(message, ignore_error_stats_update)`.
    Fail(&'static str, bool),
}

const BAD_ARG: &str = "Lua redis lib command arguments must be strings or integers";
const NO_ARGS: &str = "Please specify at least one argument for this redis lib call";
const NO_SCRIPT: &str = "redis.call/pcall can only be used inside a script";
const BAD_REPLY: &str = "Internal error: could not parse the command reply";

/// Creates `redis.call` (`raise` = true) or `redis.pcall` over `slot` (which must outlive the
/// Lua state: the engine owns both).
pub fn create(lua: &Lua, slot: *const CallSlot, raise: bool) -> mlua::Result<Function> {
    // SAFETY: pushes a C closure with two plain upvalues.
    unsafe {
        lua.exec_raw((), |state| {
            ffi::lua_pushlightuserdata(state, slot as *mut c_void);
            ffi::lua_pushboolean(state, raise as c_int);
            ffi::lua_pushcclosure(state, redis_call, 2);
        })
    }
}

/// Reads the call's arguments into `arena` (one allocation for all of them) and their ends
/// into `ends`.
///
/// # Safety
/// `state` is the running Lua state inside a C function call.
pub unsafe fn read_args(
    state: *mut ffi::lua_State,
    arena: &mut bytes::BytesMut,
    ends: &mut Vec<usize>,
) -> Result<(), &'static str> {
    let n = ffi::lua_gettop(state);
    for i in 1..=n {
        match ffi::lua_type(state, i) {
            ffi::LUA_TSTRING => {
                let mut len = 0;
                let p = ffi::lua_tolstring(state, i, &mut len);
                arena.extend_from_slice(std::slice::from_raw_parts(p as *const u8, len));
            }
            ffi::LUA_TNUMBER => arena.extend_from_slice(g17(ffi::lua_tonumber(state, i)).as_bytes()),
            _ => return Err(BAD_ARG),
        }
        ends.push(arena.len());
    }
    if n == 0 {
        return Err(NO_ARGS);
    }
    Ok(())
}

unsafe extern "C-unwind" fn redis_call(state: *mut ffi::lua_State) -> c_int {
    let slot = ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)) as *const CallSlot;
    let raise = ffi::lua_toboolean(state, ffi::lua_upvalueindex(2)) != 0;
    let caller = (*slot).get() as *mut Caller<'static, 'static>;
    let outcome = if caller.is_null() {
        Outcome::Fail(NO_SCRIPT, false)
    } else {
        catch_unwind(AssertUnwindSafe(|| (*caller).call_raw(state)))
            .unwrap_or(Outcome::Fail("Internal error: the command failed", true))
    };
    ffi::lua_settop(state, 0);
    let is_error = match outcome {
        Outcome::Fail(msg, ignore_stats) => {
            push_error(state, b"", msg.as_bytes(), ignore_stats);
            true
        }
        Outcome::Reply => {
            let buf: &[u8] = &(*caller).scratch.buf;
            match push_reply(state, buf, 0) {
                Some((_, is_error)) => is_error,
                None => {
                    ffi::lua_settop(state, 0);
                    push_error(state, b"", BAD_REPLY.as_bytes(), true);
                    true
                }
            }
        }
    };
    if raise && is_error {
        ffi::lua_error(state);
    }
    1
}

/// Redis's `luaPushErrorBuff`: `{err="<CODE> <msg>"}` from an error line (`-CODE msg`) or a
/// bare message, which gets the ERR code. Pieces are pushed and concatenated by Lua, so no
/// Rust buffer is alive if the push raises.
unsafe fn push_error(state: *mut ffi::lua_State, line: &[u8], bare: &[u8], ignore_stats: bool) {
    ffi::lua_createtable(state, 0, 2);
    push_str(state, b"err");
    let (code, msg): (&[u8], &[u8]) = match line.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&c| c == b' ') {
            None => (b"ERR", rest),
            Some(i) => (&rest[..i], &rest[i + 1..]),
        },
        None => (b"ERR", bare),
    };
    push_str(state, code);
    push_str(state, b" ");
    push_str(state, trim_newlines(msg));
    ffi::lua_concat(state, 3);
    ffi::lua_rawset(state, -3);
    if ignore_stats {
        push_str(state, b"ignore_error_stats_update");
        ffi::lua_pushboolean(state, 1);
        ffi::lua_rawset(state, -3);
    }
}

fn trim_newlines(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|c| !matches!(c, b'\r' | b'\n')).unwrap_or(s.len());
    let end = s.iter().rposition(|c| !matches!(c, b'\r' | b'\n')).map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

unsafe fn push_str(state: *mut ffi::lua_State, s: &[u8]) {
    ffi::lua_pushlstring(state, s.as_ptr().cast(), s.len());
}

/// `{key=<value on top of the stack>}`: wraps the top value in a one-field table.
unsafe fn wrap(state: *mut ffi::lua_State, key: &[u8]) {
    ffi::lua_createtable(state, 0, 1);
    ffi::lua_insert(state, -2);
    push_str(state, key);
    ffi::lua_insert(state, -2);
    ffi::lua_rawset(state, -3);
}

/// One `\r\n`-terminated line at the start of `buf`: (line without the type byte, rest).
fn line(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = memchr::memchr(b'\r', buf)?;
    if buf.get(end + 1) != Some(&b'\n') || end == 0 {
        return None;
    }
    Some((&buf[1..end], &buf[end + 2..]))
}

fn number(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Pushes the RESP value at the start of `buf` as Redis converts a reply for Lua (see
/// `convert`'s module docs). Returns the bytes consumed and whether it was an error reply, or
/// `None` (with the stack possibly holding partial values) when `buf` is not a whole reply.
unsafe fn push_reply(state: *mut ffi::lua_State, buf: &[u8], depth: usize) -> Option<(usize, bool)> {
    if depth > 64 || ffi::lua_checkstack(state, 4) == 0 {
        return None;
    }
    let (head, rest) = line(buf)?;
    let used_head = buf.len() - rest.len();
    let mut is_error = false;
    let used = match buf[0] {
        b'+' => {
            push_str(state, head);
            wrap(state, b"ok");
            used_head
        }
        b'-' => {
            push_error(state, &buf[..used_head - 2], b"", true);
            is_error = true;
            used_head
        }
        b':' => {
            ffi::lua_pushnumber(state, number(head)? as f64);
            used_head
        }
        b'$' => {
            let len = number(head)?;
            if len < 0 {
                ffi::lua_pushboolean(state, 0);
                used_head
            } else {
                let len = len as usize;
                if rest.len() < len + 2 {
                    return None;
                }
                push_str(state, &rest[..len]);
                used_head + len + 2
            }
        }
        b'*' | b'>' => {
            let n = number(head)?;
            if n < 0 {
                ffi::lua_pushboolean(state, 0);
                used_head
            } else {
                ffi::lua_createtable(state, n.min(1 << 16) as c_int, 0);
                let mut off = used_head;
                for i in 1..=n {
                    let (used, _) = push_reply(state, &buf[off..], depth + 1)?;
                    off += used;
                    ffi::lua_rawseti(state, -2, i as ffi::lua_Integer);
                }
                off
            }
        }
        b'_' => {
            ffi::lua_pushnil(state);
            used_head
        }
        b'#' => {
            ffi::lua_pushboolean(state, (head == b"t") as c_int);
            used_head
        }
        b',' => {
            let d = std::str::from_utf8(head).ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
            ffi::lua_pushnumber(state, d);
            wrap(state, b"double");
            used_head
        }
        b'(' => {
            push_str(state, head);
            wrap(state, b"big_number");
            used_head
        }
        b'=' => {
            let len = number(head)?;
            let len = usize::try_from(len).ok()?;
            if rest.len() < len + 2 || len < 4 {
                return None;
            }
            let body = &rest[..len];
            ffi::lua_createtable(state, 0, 2);
            push_str(state, b"string");
            push_str(state, &body[4..]);
            ffi::lua_rawset(state, -3);
            push_str(state, b"format");
            push_str(state, &body[..3]);
            ffi::lua_rawset(state, -3);
            wrap(state, b"verbatim_string");
            used_head + len + 2
        }
        b'%' | b'~' => {
            let map = buf[0] == b'%';
            let n = number(head)?;
            ffi::lua_createtable(state, 0, n.clamp(0, 1 << 16) as c_int);
            let mut off = used_head;
            for _ in 0..n.max(0) {
                let (used, _) = push_reply(state, &buf[off..], depth + 1)?;
                off += used;
                if map {
                    let (used, _) = push_reply(state, &buf[off..], depth + 1)?;
                    off += used;
                } else {
                    ffi::lua_pushboolean(state, 1);
                }
                // A nil (or NaN) key cannot index a table: the pair is dropped.
                let key_ok = match ffi::lua_type(state, -2) {
                    ffi::LUA_TNIL => false,
                    ffi::LUA_TNUMBER => !ffi::lua_tonumber(state, -2).is_nan(),
                    _ => true,
                };
                if key_ok {
                    ffi::lua_rawset(state, -3);
                } else {
                    ffi::lua_settop(state, -3);
                }
            }
            wrap(state, if map { b"map" } else { b"set" });
            off
        }
        _ => return None,
    };
    Some((used, is_error))
}
