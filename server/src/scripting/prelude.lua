-- Builds the scripts' environment the way Redis 7 does, once per Lua state.
-- Arguments: the real globals table and the table of functions implemented in Rust.
-- Returns what the Rust side calls: `handler` (the error handler scripts run under),
-- `globals` (the read-only view scripts see as _G).
--
-- Redis 7 makes every table reachable from _G read-only with a patch to Lua's VM. Stock Lua
-- 5.1 has no such thing, so scripts see read-only proxies instead: an empty table whose
-- metatable reads through to the real one and rejects writes. The raw* functions, pairs,
-- next, ipairs, getmetatable and setmetatable are replaced to see through the proxies.
--
-- Errors: functions that can fail are C trampolines (R.trampoline) around a Rust or Lua
-- function that returns SENTINEL and the error value; the trampoline raises it from its own C
-- frame, adding the position of the calling line to a string, as `luaL_error` does in the C
-- libraries Redis bundles. The error handler skips the frames of this chunk.

local G, R = ...
local SENTINEL = R.sentinel
local INTERNAL = '=redis'
local dbg = G.debug

local type, tostring, error, select, unpack = G.type, G.tostring, G.error, G.select, G.unpack
local next, pairs, ipairs = G.next, G.pairs, G.ipairs
local rawget, rawset = G.rawget, G.rawset
local setmetatable, getmetatable = G.setmetatable, G.getmetatable
local pcall, xpcall = G.pcall, G.xpcall

-- Functions that fail like C functions: `T(f)` is a C function calling `f`; when `f`
-- returns SENTINEL and an error, it raises the error from its own C frame (with the position
-- of the calling line for a string; SENTINEL_NOPOS: without).
local T = R.trampoline
local NOPOS = R.sentinel_nopos

-- Read-only proxies --------------------------------------------------------------------

local READONLY = 'Attempt to modify a readonly table'
local real_of = setmetatable({}, { __mode = 'k' })
-- What getmetatable() reports for a proxy (Redis: the protected table's own metatable).
local meta_of = setmetatable({}, { __mode = 'k' })

local function ro_newindex() error(READONLY, 2) end

local function protect(t)
    local p = {}
    real_of[p] = t
    setmetatable(p, { __index = t, __newindex = ro_newindex })
    return p
end

-- The libraries ---------------------------------------------------------------------------

local redis = {
    call = R.call,
    pcall = R.pcall,
    setresp = T(function(...) return R.setresp(...) end),
    log = R.log,
    sha1hex = R.sha1hex,
    error_reply = R.error_reply,
    status_reply = R.status_reply,
    set_repl = R.set_repl,
    replicate_commands = function() return true end,
    breakpoint = function() return false end,
    debug = function() end,
    acl_check_cmd = R.acl_check_cmd,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
    REDIS_VERSION = R.version, REDIS_VERSION_NUM = R.version_num,
}

local math = G.math
math.random = R.random
math.randomseed = R.randomseed

local cjson = {
    encode = R.cjson_encode,
    decode = R.cjson_decode,
    encode_sparse_array = R.cjson_encode_sparse_array,
    encode_max_depth = R.cjson_encode_max_depth,
    decode_max_depth = R.cjson_decode_max_depth,
    encode_number_precision = R.cjson_encode_number_precision,
    encode_keep_buffer = R.cjson_encode_keep_buffer,
    encode_invalid_numbers = R.cjson_encode_invalid_numbers,
    decode_invalid_numbers = R.cjson_decode_invalid_numbers,
    null = R.cjson_null,
    _NAME = 'cjson', _VERSION = '2.1.0',
}
cjson.new = function()
    local t = {}
    for k, v in next, cjson do t[k] = v end
    return t
end

local cmsgpack = {
    pack = R.msgpack_pack,
    unpack = R.msgpack_unpack,
    unpack_one = R.msgpack_unpack_one,
    unpack_limit = R.msgpack_unpack_limit,
    _NAME = 'cmsgpack', _VERSION = 'lua-cmsgpack 0.4.0',
    _COPYRIGHT = 'Copyright (C) 2012, Salvatore Sanfilippo',
    _DESCRIPTION = 'MessagePack C implementation for Lua',
}

local bit = {}
for _, name in ipairs({ 'tobit', 'tohex', 'bnot', 'band', 'bor', 'bxor', 'lshift', 'rshift',
                        'arshift', 'rol', 'ror', 'bswap' }) do
    bit[name] = R['bit_' .. name]
end

local struct = {
    pack = R.struct_pack,
    unpack = R.struct_unpack,
    size = R.struct_size,
}

-- pcall: an error raised as a table {err=...} (redis.call) is returned as its message.
local function pcall_result(ok, ...)
    if ok then return true, ... end
    local e = ...
    if type(e) == 'table' then
        local m = e.err
        local t = type(m)
        if t == 'string' or t == 'number' then return false, m end
    end
    return false, e
end

-- The error handler: {err=..., source=..., line=...} from whatever was raised.
local function error_handler(err)
    local level = 2
    local i = dbg.getinfo(level, 'nSl')
    if i and i.what == 'C' then
        level = 3
        i = dbg.getinfo(level, 'nSl')
    end
    while i and i.source == INTERNAL do
        level = level + 1
        i = dbg.getinfo(level, 'nSl')
    end
    if type(err) ~= 'table' then
        err = { err = 'ERR ' .. tostring(err) }
    end
    if i then
        err['source'] = i.source
        err['line'] = i.currentline
    end
    return err
end

-- Argument checks with the messages of Lua's base library (luaL_argerror): they return
-- the message, which the caller returns after SENTINEL (the functions are trampolined).
local function argerror(n, fname, msg) return 'bad argument #' .. n .. " to '" .. fname .. "' (" .. msg .. ')' end
local function checktable(fname, n, count, v)
    if type(v) ~= 'table' then
        return argerror(n, fname, 'table expected, got ' .. (count < n and 'no value' or type(v)))
    end
end

-- The globals scripts see ---------------------------------------------------------------

G.debug = nil
for _, name in ipairs({ 'print', 'dofile', 'loadfile', 'getfenv', 'setfenv', 'newproxy', 'module',
                        'require', 'package', 'io', 'os' }) do
    G[name] = nil
end

local gproxy = protect(G)
G._G = gproxy
G.__redis__err__handler = error_handler
G.redis = protect(redis)
G.math = protect(math)
G.string = protect(G.string)
G.table = protect(G.table)
G.coroutine = protect(G.coroutine)
G.cjson = protect(cjson)
G.cmsgpack = protect(cmsgpack)
G.bit = protect(bit)
G.struct = protect(struct)

-- Methods of strings go through the read-only string library; getmetatable('') is read-only.
local string_mt = getmetatable('')
string_mt.__index = G.string
local string_mt_proxy = protect(string_mt)

G.pcall = function(...)
    return pcall_result(pcall(...))
end

G.pairs = T(function(...)
    local t = ...
    local r = real_of[t]
    if r then return next, r, nil end
    local e = checktable('pairs', 1, select('#', ...), t)
    if e then return SENTINEL, e end
    return next, t, nil
end)

G.ipairs = T(function(...)
    local t = ...
    local r = real_of[t]
    if r then return ipairs(r) end
    local e = checktable('ipairs', 1, select('#', ...), t)
    if e then return SENTINEL, e end
    return ipairs(t)
end)

G.next = T(function(...)
    local t, k = ...
    local r = real_of[t]
    if r then return next(r, k) end
    local e = checktable('next', 1, select('#', ...), t)
    if e then return SENTINEL, e end
    return next(t, k)
end)

G.rawget = T(function(...)
    local t, k = ...
    local r = real_of[t]
    if r then return rawget(r, k) end
    local n = select('#', ...)
    local e = checktable('rawget', 1, n, t)
    if e then return SENTINEL, e end
    if n < 2 then return SENTINEL, argerror(2, 'rawget', 'value expected') end
    return rawget(t, k)
end)

G.rawset = T(function(...)
    local t, k, v = ...
    if real_of[t] then return NOPOS, READONLY end
    local n = select('#', ...)
    local e = checktable('rawset', 1, n, t)
    if e then return SENTINEL, e end
    if n < 2 then return SENTINEL, argerror(2, 'rawset', 'value expected') end
    if n < 3 then return SENTINEL, argerror(3, 'rawset', 'value expected') end
    return rawset(t, k, v)
end)

G.getmetatable = T(function(...)
    local o = ...
    if type(o) == 'string' then return string_mt_proxy end
    if real_of[o] then return meta_of[o] end
    if select('#', ...) == 0 then return SENTINEL, argerror(1, 'getmetatable', 'value expected') end
    return getmetatable(o)
end)

G.setmetatable = T(function(...)
    local t, mt = ...
    if real_of[t] then return NOPOS, READONLY end
    local n = select('#', ...)
    local e = checktable('setmetatable', 1, n, t)
    if e then return SENTINEL, e end
    local tm = type(mt)
    if tm ~= 'nil' and tm ~= 'table' then return SENTINEL, argerror(2, 'setmetatable', 'nil or table expected') end
    local old = dbg.getmetatable(t)
    if old ~= nil and rawget(old, '__metatable') ~= nil then
        return SENTINEL, 'cannot change a protected metatable'
    end
    return setmetatable(t, mt)
end)

-- Reading a missing global is an error, writing any global too (through the proxy).
local globals_mt = {
    __index = function(_, k)
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end,
}
setmetatable(G, globals_mt)
meta_of[gproxy] = protect(globals_mt)

return { handler = error_handler, globals = gproxy }
