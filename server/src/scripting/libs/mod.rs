//! The functions scripts call that are implemented in Rust: the `redis` API, `math.random`,
//! and the libraries Redis bundles (cjson, cmsgpack, bit, struct), written from their
//! documented behaviour.
//!
//! They are registered in an internal table the prelude wraps (`prelude.lua`). To raise a Lua
//! error they return [`SENTINEL`] and the error value: a string gets the position of the
//! calling script line, as `luaL_error` gives it; a table `{err=...}` is raised as is, as the
//! `redis` API does.

mod bit;
mod cjson;
mod cmsgpack;
mod structlib;

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mlua::{ffi, Function, IntoLuaMulti, LightUserData, Lua, MultiValue, Table, Value};

use super::convert;
use super::rand;

/// Marks an error returned by a Rust function (a light userdata no script can make).
pub const SENTINEL: *mut c_void = std::ptr::without_provenance_mut(1);
/// Like [`SENTINEL`], for a string error raised without a position (a VM error in Redis).
pub const SENTINEL_NOPOS: *mut c_void = std::ptr::without_provenance_mut(2);

/// The C function scripts call in place of a library function (its upvalue): calls it, and
/// when it returns `SENTINEL, err` raises `err` from this C frame, so the error carries the
/// position of the calling script line (`luaL_where(L, 1)`) and the error handler sees a C
/// function below the script, exactly as with Redis's C libraries (also through tail calls).
unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> c_int {
    let n = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, n, ffi::LUA_MULTRET);
    let top = ffi::lua_gettop(state);
    if top >= 1 && ffi::lua_type(state, 1) == ffi::LUA_TLIGHTUSERDATA {
        let mark = ffi::lua_touserdata(state, 1);
        if mark == SENTINEL || mark == SENTINEL_NOPOS {
            if mark == SENTINEL && ffi::lua_type(state, 2) == ffi::LUA_TSTRING {
                name_function(state);
                ffi::luaL_where(state, 1);
                ffi::lua_pushvalue(state, 2);
                ffi::lua_concat(state, 2);
            } else {
                ffi::lua_pushvalue(state, 2);
            }
            ffi::lua_error(state);
        }
    }
    top
}

/// `luaL_argerror` names the function as its caller called it (`'?'` when called from C, as
/// through `pcall`): rewrites the name in a "bad argument" message at index 2 accordingly.
unsafe fn name_function(state: *mut ffi::lua_State) {
    let mut len = 0;
    let p = ffi::lua_tolstring(state, 2, &mut len);
    let msg = std::slice::from_raw_parts(p as *const u8, len);
    if !msg.starts_with(b"bad argument #") {
        return;
    }
    let Some(open) = msg.windows(5).position(|w| w == b" to '").map(|i| i + 5) else { return };
    let Some(close) = msg[open..].windows(3).position(|w| w == b"' (").map(|i| open + i) else { return };
    let mut ar: ffi::lua_Debug = std::mem::zeroed();
    let mut name: &[u8] = b"?";
    if ffi::lua_getstack(state, 0, &mut ar) != 0
        && ffi::lua_getinfo(state, c"n".as_ptr(), &mut ar) != 0
        && !ar.name.is_null()
    {
        name = std::ffi::CStr::from_ptr(ar.name).to_bytes();
    }
    let renamed = [&msg[..open], name, &msg[close..]].concat();
    ffi::lua_pushlstring(state, renamed.as_ptr().cast(), renamed.len());
    ffi::lua_replace(state, 2);
}

/// Wraps `f` (Rust or Lua) in [`trampoline`].
pub fn trampolined(lua: &Lua, f: Function) -> mlua::Result<Function> {
    // SAFETY: the closure only pushes a C closure over the function exec_raw pushed.
    unsafe {
        lua.exec_raw(f, |state| {
            ffi::lua_pushcclosure(state, trampoline, 1);
        })
    }
}

/// How a library function fails.
pub enum Fail {
    /// A `luaL_error`-style message: raised as a string with the caller's position.
    Msg(String),
    /// A string raised without a position (an error of the Lua VM itself in Redis).
    NoPos(String),
    /// Raised as `{err="ERR <msg>"}` (the `redis` API's errors).
    Err(&'static str),
    Lua(mlua::Error),
}

impl From<mlua::Error> for Fail {
    fn from(e: mlua::Error) -> Self {
        Fail::Lua(e)
    }
}

pub type LibResult = Result<MultiValue, Fail>;

/// Returns `(SENTINEL, {err="ERR <msg>"})`.
pub fn raise_err(lua: &Lua, msg: &str) -> mlua::Result<MultiValue> {
    let t = convert::error_table(lua, msg.as_bytes(), false)?;
    (Value::LightUserData(LightUserData(SENTINEL)), t).into_lua_multi(lua)
}

fn finish(lua: &Lua, r: LibResult) -> mlua::Result<MultiValue> {
    match r {
        Ok(v) => Ok(v),
        Err(Fail::Msg(m)) => (Value::LightUserData(LightUserData(SENTINEL)), lua.create_string(m)?).into_lua_multi(lua),
        Err(Fail::NoPos(m)) => {
            (Value::LightUserData(LightUserData(SENTINEL_NOPOS)), lua.create_string(m)?).into_lua_multi(lua)
        }
        Err(Fail::Err(m)) => raise_err(lua, m),
        Err(Fail::Lua(e)) => Err(e),
    }
}

/// Registers `f` as `raw[name]`.
fn reg<F>(lua: &Lua, raw: &Table, name: &str, f: F) -> mlua::Result<()>
where
    F: Fn(&Lua, &[Value]) -> LibResult + Send + 'static,
{
    let func = lua.create_function(move |lua, args: MultiValue| {
        let args: Vec<Value> = args.into_iter().collect();
        finish(lua, f(lua, &args))
    })?;
    raw.raw_set(name, trampolined(lua, func)?)
}

/// Argument checks with the messages of Lua's auxiliary library (`luaL_check*`).
pub struct Args<'a> {
    pub lua: &'a Lua,
    pub args: &'a [Value],
    pub fname: &'static str,
}

pub fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::LightUserData(_)) | Some(Value::UserData(_)) => "userdata",
        Some(Value::Integer(_)) | Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        _ => "userdata",
    }
}

impl Args<'_> {
    pub fn get(&self, i: usize) -> Option<&Value> {
        self.args.get(i)
    }

    /// `bad argument #<n> to '<fname>' (<msg>)` (`n` counts from 1).
    pub fn error(&self, n: usize, msg: &str) -> Fail {
        Fail::Msg(format!("bad argument #{n} to '{}' ({msg})", self.fname))
    }

    pub fn type_error(&self, i: usize, expected: &str) -> Fail {
        self.error(i + 1, &format!("{expected} expected, got {}", type_name(self.get(i))))
    }

    /// `lua_tonumber`: numbers and numeric strings.
    pub fn to_number(&self, i: usize) -> Option<f64> {
        match self.get(i)? {
            Value::Integer(n) => Some(*n as f64),
            Value::Number(n) => Some(*n),
            v @ Value::String(_) => self.lua.coerce_number(v.clone()).ok().flatten(),
            _ => None,
        }
    }

    /// `luaL_checknumber`.
    pub fn number(&self, i: usize) -> Result<f64, Fail> {
        self.to_number(i).ok_or_else(|| self.type_error(i, "number"))
    }

    /// `luaL_checkinteger` (truncating).
    pub fn integer(&self, i: usize) -> Result<i64, Fail> {
        Ok(convert::number_to_i64(self.number(i)?))
    }

    /// `luaL_optinteger`.
    pub fn opt_integer(&self, i: usize, default: i64) -> Result<i64, Fail> {
        match self.get(i) {
            None | Some(Value::Nil) => Ok(default),
            _ => self.integer(i),
        }
    }

    /// `luaL_checklstring`: strings and numbers (as Lua prints them).
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, Fail> {
        self.get(i).and_then(convert::to_bytes).ok_or_else(|| self.type_error(i, "string"))
    }
}

/// Registers every Rust function the prelude expects.
pub fn register(lua: &Lua, raw: &Table, rng: Arc<AtomicU64>) -> mlua::Result<()> {
    raw.raw_set("version", crate::cmd::connection::REDIS_VERSION)?;
    raw.raw_set("version_num", version_num(crate::cmd::connection::REDIS_VERSION))?;
    raw.raw_set("cjson_null", Value::LightUserData(LightUserData(std::ptr::null_mut())))?;
    reg(lua, raw, "sha1hex", sha1hex)?;
    reg(lua, raw, "log", log)?;
    reg(lua, raw, "set_repl", set_repl)?;
    reg(lua, raw, "acl_check_cmd", acl_check_cmd)?;
    reg(lua, raw, "error_reply", error_reply)?;
    reg(lua, raw, "status_reply", status_reply)?;
    let r = rng.clone();
    reg(lua, raw, "random", move |lua, args| random(lua, args, &r))?;
    reg(lua, raw, "randomseed", move |lua, args| {
        let a = Args { lua, args, fname: "randomseed" };
        let seed = a.integer(0)? as i32;
        rng.store(rand::seed(seed), Ordering::Relaxed);
        Ok(MultiValue::new())
    })?;
    bit::register(lua, raw)?;
    structlib::register(lua, raw)?;
    cmsgpack::register(lua, raw)?;
    cjson::register(lua, raw)?;
    Ok(())
}

fn version_num(v: &str) -> f64 {
    let mut n = 0u32;
    for part in v.split('.').take(3) {
        n = (n << 8) | part.parse::<u32>().unwrap_or(0) & 0xff;
    }
    n as f64
}

fn one(lua: &Lua, v: impl mlua::IntoLua) -> LibResult {
    Ok(v.into_lua_multi(lua)?)
}

fn sha1hex(lua: &Lua, args: &[Value]) -> LibResult {
    if args.len() != 1 {
        return Err(Fail::Err("wrong number of arguments"));
    }
    let data = convert::to_bytes(&args[0]).unwrap_or_default();
    one(lua, super::sha1hex(&data))
}

fn log(lua: &Lua, args: &[Value]) -> LibResult {
    if args.len() < 2 {
        return Err(Fail::Err("redis.log() requires two arguments or more."));
    }
    let a = Args { lua, args, fname: "log" };
    let Some(level) = a.to_number(0) else {
        return Err(Fail::Err("First argument must be a number (log level)."));
    };
    let level = level as i32;
    if !(0..=3).contains(&level) {
        return Err(Fail::Err("Invalid debug level."));
    }
    let mut msg = String::new();
    for (j, v) in args[1..].iter().enumerate() {
        if let Some(b) = convert::to_bytes(v) {
            if j != 0 {
                msg.push(' ');
            }
            msg.push_str(&String::from_utf8_lossy(&b));
        }
    }
    match level {
        0 | 1 => tracing::debug!("{msg}"),
        2 => tracing::info!("{msg}"),
        _ => tracing::warn!("{msg}"),
    }
    Ok(MultiValue::new())
}

fn set_repl(lua: &Lua, args: &[Value]) -> LibResult {
    if args.len() != 1 {
        return Err(Fail::Err("redis.set_repl() requires two arguments."));
    }
    let a = Args { lua, args, fname: "set_repl" };
    let flags = a.to_number(0).unwrap_or(0.0) as i64 as i32;
    if flags & !3 != 0 {
        return Err(Fail::Err("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."));
    }
    Ok(MultiValue::new())
}

fn acl_check_cmd(lua: &Lua, args: &[Value]) -> LibResult {
    let argv = convert::args_to_argv(args.iter().cloned()).map_err(Fail::Err)?;
    if crate::cmd::CommandTable::get().lookup(&argv[0]).is_none() {
        return Err(Fail::Err("Invalid command passed to redis.acl_check_cmd()"));
    }
    one(lua, true)
}

fn error_reply(lua: &Lua, args: &[Value]) -> LibResult {
    let bad = || -> LibResult { one(lua, convert::error_table(lua, b"wrong number or type of arguments", false)?) };
    let [Value::String(s)] = args else { return bad() };
    let s = s.as_bytes();
    let raw = if s.starts_with(b"-") { s.to_vec() } else { [b"-", &s[..]].concat() };
    one(lua, convert::error_table(lua, &raw, false)?)
}

fn status_reply(lua: &Lua, args: &[Value]) -> LibResult {
    let [Value::String(s)] = args else {
        return one(lua, convert::error_table(lua, b"wrong number or type of arguments", false)?);
    };
    let t = lua.create_table()?;
    t.raw_set("ok", s.clone())?;
    one(lua, t)
}

/// `math.random` as Redis replaces it: Lua 5.1's algorithm over `redisLrand48`.
fn random(lua: &Lua, args: &[Value], rng: &AtomicU64) -> LibResult {
    let mut state = rng.load(Ordering::Relaxed);
    let r = rand::unit(&mut state);
    rng.store(state, Ordering::Relaxed);
    let a = Args { lua, args, fname: "random" };
    let v = match args.len() {
        0 => r,
        1 => {
            let u = a.integer(0)? as i32;
            if u < 1 {
                return Err(a.error(1, "interval is empty"));
            }
            (r * u as f64).floor() + 1.0
        }
        2 => {
            let l = a.integer(0)? as i32;
            let u = a.integer(1)? as i32;
            if l > u {
                return Err(a.error(2, "interval is empty"));
            }
            (r * (u as f64 - l as f64 + 1.0)).floor() + l as f64
        }
        _ => return Err(Fail::Msg("wrong number of arguments".into())),
    };
    one(lua, v)
}
