//! Lua scripting: EVAL and friends, with Redis 7's Lua environment (Lua 5.1 through `mlua`).
//!
//! One Lua state lives in the server `State`. Scripts are compiled once into functions keyed
//! by the SHA1 of their body (SCRIPT FLUSH drops the whole state, as Redis does). A script runs
//! inside its client's command, under the state lock: `redis.call` runs commands through the
//! normal dispatcher as a nested client on the caller's database and turns their RESP reply
//! into Lua values (`convert`). What scripts see is built by `prelude.lua`; the libraries Redis
//! bundles (cjson, cmsgpack, bit, struct) are implemented in Rust (`libs`).
//!
//! Replication semantics are Redis 7's: effects replication is the only mode, so writes after
//! non-deterministic commands (RANDOMKEY, TIME, SRANDMEMBER, ...) are allowed, and
//! `redis.replicate_commands()` / `redis.set_repl()` are accepted.

mod call;
mod convert;
mod libs;
mod rand;
pub mod watch;

use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::{Bytes, BytesMut};
use mlua::{ffi, Function, HookTriggers, LightUserData, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};

pub use watch::{lock_or_busy, lock_state, lock_unless_script, serve_busy, ScriptWatch};

use crate::client::Client;
use crate::cmd::error::CmdError;
use crate::cmd::{flags, CmdResult, CommandTable, Ctx, Reply};

pub const NOSCRIPT: CmdError = CmdError::fixed("NOSCRIPT No matching script. Please use EVAL.");
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";
/// The Lua hook runs every this many VM instructions (SCRIPT KILL latency).
const HOOK_INSTRUCTIONS: u32 = 10_000;

/// The scripting state kept in the server `State`.
pub struct Scripting {
    /// Taken out while a script runs (the script needs `&mut State` for `redis.call`).
    engine: Option<Engine>,
    pub watch: Arc<ScriptWatch>,
    /// Lua memory after the last script (reported while a script runs).
    memory: usize,
    /// `math.random`'s generator: process-wide, kept across SCRIPT FLUSH (as in Redis 7).
    rng: Arc<AtomicU64>,
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting::new()
    }
}

impl Scripting {
    pub fn new() -> Scripting {
        let watch = Arc::new(ScriptWatch::default());
        let rng = Arc::new(AtomicU64::new(rand::DEFAULT_STATE));
        let engine = Engine::new(watch.clone(), rng.clone()).expect("creating the Lua state");
        let memory = engine.lua.used_memory();
        Scripting { engine: Some(engine), watch, memory, rng }
    }

    /// Bytes used by the Lua VM (INFO `used_memory_lua`, wired by the INFO module).
    #[allow(dead_code)]
    pub fn used_memory(&self) -> usize {
        match &self.engine {
            Some(e) => e.lua.used_memory(),
            None => self.memory,
        }
    }

    /// Number of cached scripts (INFO `number_of_cached_scripts`).
    #[allow(dead_code)]
    pub fn cached_scripts(&self) -> usize {
        self.engine.as_ref().map_or(0, |e| e.scripts.len())
    }

    /// SCRIPT FLUSH: forgets every script and starts a new Lua state.
    pub fn flush(&mut self) {
        if let Ok(e) = Engine::new(self.watch.clone(), self.rng.clone()) {
            self.memory = e.lua.used_memory();
            self.engine = Some(e);
        }
    }

    /// SCRIPT EXISTS for one SHA1 (case-insensitive).
    pub fn exists(&self, sha: &[u8]) -> bool {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.engine.as_ref().is_some_and(|e| e.scripts.contains_key(&sha))
    }

    /// SCRIPT LOAD: compiles and caches `body`, returning its SHA1.
    pub fn load(&mut self, body: &Bytes) -> Result<String, CmdError> {
        let engine = self.engine_mut()?;
        let sha = sha1hex(body);
        if !engine.scripts.contains_key(&sha) {
            engine.create(sha.clone(), body)?;
        }
        Ok(sha)
    }

    fn engine_mut(&mut self) -> Result<&mut Engine, CmdError> {
        if self.engine.is_none() {
            self.engine =
                Some(Engine::new(self.watch.clone(), self.rng.clone()).map_err(|e| CmdError::msg(format!("ERR {e}")))?);
        }
        Ok(self.engine.as_mut().expect("engine"))
    }
}

/// Shebang flags (`#!lua flags=...`, Redis 7). Scripts without a shebang run in compat mode.
#[derive(Clone, Copy, Default)]
struct ScriptFlags {
    compat: bool,
    no_writes: bool,
}

#[derive(Clone, Copy)]
struct Script {
    /// The compiled function, kept alive in the registry under this reference.
    func_ref: c_int,
    flags: ScriptFlags,
}

struct Engine {
    lua: Lua,
    /// Registry reference of the real global table (KEYS and ARGV are stored there).
    globals_ref: c_int,
    /// What scripts see as their globals: the read-only view.
    env: Table,
    /// Registry reference of the error handler scripts run under (it adds source and line).
    handler_ref: c_int,
    /// Registry reference of [`run_script`], the C function every script runs inside.
    run_ref: c_int,
    /// `redis.call`'s buffers, kept from one script to the next.
    scratch: Scratch,
    scripts: HashMap<String, Script>,
    /// The same scripts by body, so EVAL of a known body skips hashing it with SHA1.
    by_body: HashMap<Bytes, Script, foldhash::fast::RandomState>,
    /// Where `redis.call` finds the running script (boxed: its address is in the Lua state).
    slot: Box<call::CallSlot>,
}

impl Engine {
    fn new(watch: Arc<ScriptWatch>, rng: Arc<AtomicU64>) -> mlua::Result<Engine> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: the debug library is loaded only for the error handler, which keeps it in a
        // local and removes it from the globals before any script runs.
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::new()) };
        let raw = lua.create_table()?;
        raw.raw_set("sentinel", Value::LightUserData(LightUserData(libs::SENTINEL)))?;
        raw.raw_set("sentinel_nopos", Value::LightUserData(LightUserData(libs::SENTINEL_NOPOS)))?;
        let tramp = lua.create_function(|lua, f: Function| libs::trampolined(lua, f))?;
        raw.raw_set("trampoline", tramp)?;
        libs::register(&lua, &raw, rng.clone())?;
        let slot = Box::<call::CallSlot>::default();
        raw.raw_set("call", call::create(&lua, &*slot, true)?)?;
        raw.raw_set("pcall", call::create(&lua, &*slot, false)?)?;
        let slot_addr = &*slot as *const call::CallSlot as usize;
        let setresp = lua.create_function(move |lua, args: MultiValue| {
            // SAFETY: the slot lives as long as the engine (and so this function); it holds a
            // caller only while a script runs on this thread.
            let caller = unsafe { (*(slot_addr as *const call::CallSlot)).get() } as *mut Caller<'static, 'static>;
            if caller.is_null() {
                return libs::raise_err(lua, "redis.setresp() can only be used inside a script");
            }
            unsafe { (*caller).setresp(lua, args) }
        })?;
        raw.raw_set("setresp", setresp)?;
        let globals = lua.globals();
        let prelude = lua.load(include_str!("prelude.lua")).set_name("=redis").into_function()?;
        let internals: Table = prelude.call((globals.clone(), raw.clone()))?;
        let env: Table = internals.get("globals")?;
        let handler: Function = internals.get("handler")?;
        let handler_ref = registry_ref(&lua, handler)?;
        let globals_ref = registry_ref(&lua, globals)?;
        // SAFETY: `run_script` only runs through `lua_pcall` with a `ScriptFrame` argument.
        let run_ref = registry_ref(&lua, unsafe { lua.create_c_function(run_script)? })?;
        lua.set_globals(env.clone())?;
        let w = watch;
        lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_INSTRUCTIONS), move |_, _| {
            if w.kill_requested() {
                return Err(mlua::Error::runtime(KILLED));
            }
            w.yield_worker();
            Ok(VmState::Continue)
        })?;
        Ok(Engine {
            lua,
            globals_ref,
            env,
            handler_ref,
            run_ref,
            scratch: Scratch::default(),
            scripts: HashMap::new(),
            by_body: HashMap::default(),
            slot,
        })
    }

    /// Compiles `body` as `f_<sha>` (Redis's `luaCreateFunction`).
    fn create(&mut self, sha: String, body: &[u8]) -> Result<&Script, CmdError> {
        let (flags, shebang_len) = parse_shebang(body)?;
        let func = self
            .lua
            .load(&body[shebang_len..])
            .set_name("@user_script")
            .set_mode(mlua::chunk::ChunkMode::Text)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                CmdError::msg(sanitize(&format!("ERR Error compiling script (new function): {msg}")))
            })?;
        let func_ref = registry_ref(&self.lua, func).map_err(|e| CmdError::msg(format!("ERR {e}")))?;
        let script = Script { func_ref, flags };
        self.by_body.insert(Bytes::copy_from_slice(body), script);
        Ok(self.scripts.entry(sha).or_insert(script))
    }
}

/// EVAL / EVALSHA / EVAL_RO / EVALSHA_RO.
pub fn eval(ctx: &mut Ctx, by_sha: bool, ro: bool) -> CmdResult {
    if by_sha && ctx.args[1].len() != 40 {
        return Err(NOSCRIPT);
    }
    let numkeys = ctx.arg_i64(2)?;
    if numkeys > ctx.args.len() as i64 - 3 {
        return Err(CmdError::fixed("ERR Number of keys can't be greater than number of args"));
    }
    if numkeys < 0 {
        return Err(CmdError::fixed("ERR Number of keys can't be negative"));
    }
    ctx.state.scripting.engine_mut()?;
    let mut engine = ctx.state.scripting.engine.take().expect("engine");
    let result = run(&mut engine, ctx, by_sha, ro, numkeys as usize);
    ctx.state.scripting.memory = engine.lua.used_memory();
    ctx.state.scripting.engine = Some(engine);
    result
}

/// The script an EVAL or EVALSHA names, compiled on first use by EVAL.
fn lookup(engine: &mut Engine, ctx: &Ctx, by_sha: bool) -> Result<Script, CmdError> {
    if by_sha {
        // EVALSHA checked the length; lower-cased on the stack, no allocation per call.
        let mut sha = [0u8; 40];
        sha.copy_from_slice(&ctx.args[1][..40]);
        sha.make_ascii_lowercase();
        let sha = std::str::from_utf8(&sha).map_err(|_| NOSCRIPT)?;
        return engine.scripts.get(sha).copied().ok_or(NOSCRIPT);
    }
    if let Some(script) = engine.by_body.get(&ctx.args[1]) {
        return Ok(*script);
    }
    let body = ctx.args[1].clone();
    Ok(*engine.create(sha1hex(&body), &body)?)
}

/// The SHA1 errors name: the argument of EVALSHA, or the hash of EVAL's body.
fn script_sha(ctx: &Ctx, by_sha: bool) -> String {
    if by_sha {
        String::from_utf8_lossy(&ctx.args[1]).to_ascii_lowercase()
    } else {
        sha1hex(&ctx.args[1])
    }
}

/// Keeps `value` alive in the registry and returns its reference (for `lua_rawgeti`).
fn registry_ref(lua: &Lua, value: impl mlua::IntoLua) -> mlua::Result<c_int> {
    // SAFETY: the value exec_raw pushed is popped into the registry; the reference is pushed.
    unsafe {
        lua.exec_raw::<c_int>(value, |state| {
            let r = ffi::luaL_ref(state, ffi::LUA_REGISTRYINDEX);
            ffi::lua_pushinteger(state, r as ffi::lua_Integer);
        })
    }
}

/// Sets `KEYS` and `ARGV` in the table at stack index `globals`.
///
/// # Safety
/// `state` is inside a protected call with room for three more values.
unsafe fn set_keys_argv(state: *mut ffi::lua_State, globals: c_int, args: &[Bytes], numkeys: usize) {
    let (keys, argv) = args[3..].split_at(numkeys);
    for (name, items) in [(&b"KEYS"[..], keys), (&b"ARGV"[..], argv)] {
        ffi::lua_pushlstring(state, name.as_ptr().cast(), name.len());
        ffi::lua_createtable(state, items.len().min(i32::MAX as usize) as i32, 0);
        for (i, item) in items.iter().enumerate() {
            ffi::lua_pushlstring(state, item.as_ptr().cast(), item.len());
            ffi::lua_rawseti(state, -2, i as ffi::lua_Integer + 1);
        }
        ffi::lua_rawset(state, globals);
    }
}

/// Where a failed script's error value waits in the registry for [`script_error`].
const SCRIPT_ERROR: &str = "rcodis.script_error";

fn run(engine: &mut Engine, ctx: &mut Ctx, by_sha: bool, ro: bool, numkeys: usize) -> CmdResult {
    let Script { func_ref, flags } = lookup(engine, ctx, by_sha)?;
    if !flags.compat && !flags.no_writes && ro {
        return Err(CmdError::fixed("ERR Can not execute a script with write flag using *_ro command."));
    }
    let args: &[Bytes] = ctx.args;
    // The script's value is converted straight into the client's reply buffer, borrowed here
    // because `ctx` is lent to `redis.call` meanwhile (which never writes to it).
    let mut result = Reply { buf: std::mem::take(&mut ctx.out.buf), resp3: ctx.out.resp3 };
    let reply_start = result.buf.len();
    let watch = ctx.state.scripting.watch.clone();
    let mut client = Client::new(ctx.client.id, ctx.client.addr, ctx.client.local_addr, true);
    client.db = ctx.client.db;
    client.nested = true;
    let mut caller = Caller {
        ctx,
        client,
        scratch: std::mem::take(&mut engine.scratch),
        read_only: ro || flags.no_writes,
        watch: watch.clone(),
    };
    watch.begin(caller.ctx.state.config.lua_time_limit);
    // Ends the watch and empties the slot even if a command panics inside the script.
    struct EndRun<'w>(&'w ScriptWatch, &'w call::CallSlot);
    impl Drop for EndRun<'_> {
        fn drop(&mut self) {
            self.1.clear();
            self.0.end();
        }
    }
    let running = EndRun(&watch, &engine.slot);
    let caller_ptr: *mut Caller = &mut caller;
    engine.slot.set(caller_ptr as *mut c_void);
    let mut frame = ScriptFrame {
        args,
        numkeys,
        globals_ref: engine.globals_ref,
        handler_ref: engine.handler_ref,
        func_ref,
        result: &mut result,
        caller: caller_ptr as *mut c_void,
        failed: false,
        panic: None,
    };
    let run_ref = engine.run_ref;
    // SAFETY: `run_script` gets the frame, which outlives the call; `caller` is reached only
    // through its pointer while the script runs (redis.call does the same).
    let outcome = engine.lua.exec_raw_lua(|raw| unsafe { call_protected(raw.state(), run_ref, &mut frame) });
    let (failed, panic) = (frame.failed, frame.panic.take());
    let killed = watch.kill_requested();
    drop(running);
    let Caller { ctx, mut scratch, .. } = caller;
    scratch.trim();
    engine.scratch = scratch;
    if let Some(payload) = panic {
        std::panic::resume_unwind(payload);
    }
    ctx.out.buf = result.buf;
    if outcome.is_err() || failed {
        // Nothing of a script that failed is part of the reply.
        ctx.out.buf.truncate(reply_start);
    }
    let lua_err =
        |e: String| CmdError::msg(sanitize(&format!("ERR Error running script {}, {e}", script_sha(ctx, by_sha))));
    if let Err(e) = outcome {
        return Err(lua_err(e));
    }
    if failed {
        let err: Value =
            engine.lua.named_registry_value(SCRIPT_ERROR).map_err(|e: mlua::Error| lua_err(e.to_string()))?;
        let _ = engine.lua.unset_named_registry_value(SCRIPT_ERROR);
        return Err(script_error(&script_sha(ctx, by_sha), &err, killed));
    }
    Ok(())
}

/// What one script run needs inside [`run_script`].
struct ScriptFrame<'a> {
    args: &'a [Bytes],
    numkeys: usize,
    globals_ref: c_int,
    handler_ref: c_int,
    func_ref: c_int,
    result: &'a mut Reply,
    /// The running `Caller` (its client's protocol decides the conversion).
    caller: *mut c_void,
    /// The script raised an error, stored in the registry under [`SCRIPT_ERROR`].
    failed: bool,
    panic: Option<Box<dyn std::any::Any + Send>>,
}

/// Runs [`run_script`] in a protected call with `frame`: an error outside the script itself
/// (out of memory while building KEYS/ARGV or converting the result) comes back as its text.
/// Calling the registered C function directly, rather than through `mlua`'s protected-closure
/// helper, creates no Lua closure per script.
///
/// # Safety
/// `state` is the engine's main Lua state and no script is running on it.
unsafe fn call_protected(state: *mut ffi::lua_State, run_ref: c_int, frame: &mut ScriptFrame) -> Result<(), String> {
    let top = ffi::lua_gettop(state);
    if ffi::lua_checkstack(state, 4) == 0 {
        return Err("stack overflow".into());
    }
    ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, run_ref as ffi::lua_Integer);
    ffi::lua_pushlightuserdata(state, frame as *mut ScriptFrame as *mut c_void);
    let outcome = if ffi::lua_pcall(state, 1, 0, 0) == 0 {
        Ok(())
    } else {
        let mut len = 0;
        let p = ffi::lua_tolstring(state, -1, &mut len);
        Err(if p.is_null() {
            "unknown error".to_string()
        } else {
            String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len)).into_owned()
        })
    };
    ffi::lua_settop(state, top);
    outcome
}

/// One script run on the raw stack, as Redis's `luaCallFunction`: KEYS and ARGV, the script
/// under the error handler, and the conversion of what it returned into the reply.
unsafe extern "C-unwind" fn run_script(state: *mut ffi::lua_State) -> c_int {
    let frame = &mut *(ffi::lua_touserdata(state, 1) as *mut ScriptFrame);
    ffi::lua_settop(state, 0);
    ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, frame.globals_ref as ffi::lua_Integer);
    set_keys_argv(state, 1, frame.args, frame.numkeys);
    ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, frame.handler_ref as ffi::lua_Integer);
    let handler = ffi::lua_gettop(state);
    ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, frame.func_ref as ffi::lua_Integer);
    if ffi::lua_pcall(state, 0, 1, handler) == 0 {
        let script_resp3 = (*(frame.caller as *mut Caller)).client.resp3;
        let (result, at) = (&mut *frame.result, ffi::lua_gettop(state));
        // A panic must not unwind through Lua's C frames: it is carried out and resumed.
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| convert::stack_to_reply(state, at, result, script_resp3, 0))) {
            frame.panic = Some(p);
        }
    } else {
        frame.failed = true;
        ffi::lua_pushlstring(state, SCRIPT_ERROR.as_ptr().cast(), SCRIPT_ERROR.len());
        ffi::lua_insert(state, -2);
        ffi::lua_rawset(state, ffi::LUA_REGISTRYINDEX);
    }
    0
}

/// The reply for a script that raised an error: `<err> script: <sha>, on <source>:<line>.`
fn script_error(sha: &str, err: &Value, killed: bool) -> CmdError {
    let Value::Table(t) = err else {
        let msg = convert::to_text(err).unwrap_or_else(|| "execution failure".into());
        let msg: String = msg.chars().take(100).collect();
        return CmdError::msg(sanitize(&format!("ERR Error running script {sha}, {msg}")));
    };
    let field = |k: &str| t.get::<Value>(k).ok().and_then(|v| convert::to_text(&v));
    let mut msg = if killed { KILLED.to_string() } else { field("err").unwrap_or_else(|| "ERR unknown error".into()) };
    if let (Some(source), Some(line)) = (field("source"), field("line")) {
        msg.push_str(&format!(" script: {sha}, on {source}:{line}."));
    }
    CmdError::msg(sanitize(&msg))
}

/// Error replies cannot hold line breaks: Redis turns them into spaces.
fn sanitize(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

pub fn sha1hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// Commands Redis 7 refuses in scripts beyond those flagged `noscript` in our table.
fn denied_in_scripts(name: &str) -> bool {
    matches!(
        name,
        "config"
            | "quit"
            | "reset"
            | "shutdown"
            | "wait"
            | "client"
            | "save"
            | "bgsave"
            | "bgrewriteaof"
            | "monitor"
            | "sync"
            | "psync"
            | "replconf"
            | "slaveof"
            | "replicaof"
            | "eval"
            | "evalsha"
            | "eval_ro"
            | "evalsha_ro"
            | "script"
    )
}

/// The state `redis.call` works with during one script run.
struct Caller<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    /// The script's own client: selected database and protocol (`redis.setresp`).
    client: Client,
    scratch: Scratch,
    read_only: bool,
    watch: Arc<ScriptWatch>,
}

/// `redis.call`'s buffers. The engine keeps them between scripts, so a call allocates only
/// when a buffer must grow (or an argument is still referenced from the last call).
#[derive(Default)]
struct Scratch {
    /// The reply of the last `redis.call`.
    buf: BytesMut,
    /// The arguments of the current `redis.call`, read into one buffer, and where each ends.
    arena: BytesMut,
    ends: Vec<usize>,
    argv: Vec<Bytes>,
}

impl Scratch {
    /// What a large call left behind is not kept for the next script.
    fn trim(&mut self) {
        const KEEP: usize = 64 * 1024;
        self.argv.clear();
        self.buf.clear();
        if self.buf.capacity() > KEEP {
            self.buf = BytesMut::new();
        }
        if self.arena.capacity() > KEEP {
            self.arena = BytesMut::new();
        }
        if self.ends.capacity() > KEEP {
            self.ends = Vec::new();
        }
    }
}

impl Caller<'_, '_> {
    /// `redis.call` / `redis.pcall` up to the reply: reads the arguments off the Lua stack,
    /// applies the scripting checks and runs the command into `buf`.
    ///
    /// # Safety
    /// `state` is the running Lua state inside the `redis.call` C function; nothing is pushed.
    unsafe fn call_raw(&mut self, state: *mut ffi::lua_State) -> call::Outcome {
        let s = &mut self.scratch;
        s.ends.clear();
        s.argv.clear();
        if let Err(msg) = call::read_args(state, &mut s.arena, &mut s.ends) {
            s.arena.clear();
            return call::Outcome::Fail(msg, false);
        }
        let all = s.arena.split().freeze();
        let mut start = 0;
        for &end in &s.ends {
            s.argv.push(all.slice(start..end));
            start = end;
        }
        let argv = std::mem::take(&mut s.argv);
        let outcome = self.run_command(&argv);
        self.scratch.argv = argv;
        outcome
    }

    fn run_command(&mut self, argv: &[Bytes]) -> call::Outcome {
        let fail = |msg| call::Outcome::Fail(msg, true);
        let state = &mut *self.ctx.state;
        let table = CommandTable::get();
        let found = if state.renamed.is_empty() {
            table.lookup(&argv[0])
        } else {
            match state.renamed.get(&argv[0].to_ascii_lowercase()) {
                Some(renamed) => *renamed,
                None => table.lookup(&argv[0]),
            }
        };
        let Some(idx) = found else {
            return fail("Unknown Redis command called from script");
        };
        let spec = table.specs[idx];
        if !spec.arity_ok(argv.len()) {
            return fail("Wrong number of args calling Redis command from script");
        }
        if spec.has(flags::NOSCRIPT) || denied_in_scripts(spec.name) {
            return fail("This Redis command is not allowed from script");
        }
        let writes = spec.has(flags::WRITE) || spec.name == "publish";
        if self.read_only && writes {
            return fail("Write commands are not allowed from read-only scripts.");
        }
        if spec.has(flags::WRITE) {
            self.watch.note_write();
        }
        let mut reply = Reply { buf: std::mem::take(&mut self.scratch.buf), resp3: self.client.resp3 };
        reply.buf.clear();
        crate::cmd::execute(state, &mut self.client, argv, &mut reply);
        self.scratch.buf = reply.buf;
        call::Outcome::Reply
    }

    /// `redis.setresp(2|3)`: the protocol commands reply with for the rest of the script.
    fn setresp(&mut self, lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
        if args.len() != 1 {
            return libs::raise_err(lua, "redis.setresp() requires one argument.");
        }
        let n = lua.coerce_number(args[0].clone()).ok().flatten().unwrap_or(0.0);
        match n as i64 as i32 {
            2 => self.client.resp3 = false,
            3 => self.client.resp3 = true,
            _ => return libs::raise_err(lua, "RESP version must be 2 or 3."),
        }
        Ok(MultiValue::new())
    }
}

/// Parses the `#!lua [flags=...]` line Redis 7 accepts at the start of a script. Returns the
/// flags and the length of the line (kept out of the compiled body; its newline stays so line
/// numbers do not move).
fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, usize), CmdError> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags { compat: true, no_writes: false }, 0));
    }
    let Some(end) = memchr::memchr(b'\n', body) else {
        return Err(CmdError::fixed("ERR Invalid script shebang"));
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let parts: Vec<&str> = line.split_ascii_whitespace().collect();
    if parts.is_empty() {
        return Err(CmdError::fixed("ERR Invalid engine in script shebang"));
    }
    if parts[0] != "#!lua" {
        return Err(CmdError::msg(format!("ERR Unexpected engine in script shebang: {}", parts[0])));
    }
    let mut flags = ScriptFlags::default();
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(CmdError::msg(format!("ERR Unknown lua shebang option: {part}")));
        };
        if list.is_empty() {
            continue;
        }
        for flag in list.split(',') {
            match flag {
                "no-writes" => flags.no_writes = true,
                "allow-oom" | "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => return Err(CmdError::msg(format!("ERR Unexpected flag in script shebang: {other}"))),
            }
        }
    }
    Ok((flags, end))
}

#[cfg(test)]
mod tests;
