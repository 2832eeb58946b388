-- The restricted environment scripts run in, set up once per Lua VM (see sandbox.rs).
--
-- Redis 7 patches its Lua with read-only tables; stock Lua 5.1 has none, so every library table
-- (and the globals) is replaced by an empty proxy whose metatable reads through to the real
-- table and refuses writes. The functions that bypass metatables (rawset, rawget, next,
-- setmetatable, getmetatable, table.insert/remove/sort) are wrapped to honour the proxies.
-- Frames of this chunk are named "=[redis]" so error positions skip them.
local rust = ...
local dbg_getinfo = debug.getinfo
local error_, type_, tostring_, select_ = error, type, tostring, select
local rawset_, rawget_, rawnext, setmt, getmt = rawset, rawget, next, setmetatable, getmetatable
local pcall_, loadstring_, str_byte, tconcat = pcall, loadstring, string.byte, table.concat
local xpcall_ = xpcall
local tinsert, tremove, tsort = table.insert, table.remove, table.sort
local RO = 'Attempt to modify a readonly table'

local real_of = setmt({}, { __mode = 'k' })   -- proxy -> real table
-- The libraries (cjson, cmsgpack) serialise a read-only table's contents, as Redis does.
debug.getregistry()['ferrocache.readonly'] = real_of
local public_mt = setmt({}, { __mode = 'k' }) -- proxy -> what getmetatable shows

local function refuse_write() error_(RO, 2) end

local function readonly(real, shown_mt)
  local proxy = {}
  real_of[proxy] = real
  public_mt[proxy] = shown_mt
  setmt(proxy, { __index = real, __newindex = refuse_write, __metatable = false })
  return proxy
end

local function writable(t)
  if real_of[t] then error_(RO, 0) end
  return t
end

rawset = function(t, k, v) return rawset_(writable(t), k, v) end
rawget = function(t, k) return rawget_(real_of[t] or t, k) end
next = function(t, k) return rawnext(real_of[t] or t, k) end
pairs = function(t)
  if type_(t) ~= 'table' then error_("bad argument #1 to 'pairs' (table expected, got " .. type_(t) .. ")", 2) end
  return next, t, nil
end
setmetatable = function(t, mt) return setmt(writable(t), mt) end
getmetatable = function(v)
  if real_of[v] then return public_mt[v] end
  return getmt(v)
end
table.insert = function(t, ...) return tinsert(writable(t), ...) end
table.remove = function(t, ...) return tremove(writable(t), ...) end
table.sort = function(t, ...) return tsort(writable(t), ...) end

-- Bytecode can break out of any Lua sandbox: only source text may be loaded.
loadstring = function(s, name)
  if type_(s) == 'string' and str_byte(s, 1) == 27 then
    return nil, 'bytecode loading is disabled'
  end
  return loadstring_(s, name)
end
load = function(reader, name)
  local parts = {}
  while true do
    local piece = reader()
    if piece == nil or piece == '' then break end
    if type_(piece) ~= 'string' then return nil, 'reader function must return a string' end
    parts[#parts + 1] = piece
  end
  return loadstring(tconcat(parts), name)
end

-- Redis's pcall: an error table (what redis.call raises) is caught as its message string.
local function pcall_result(ok, ...)
  if ok then return ok, ... end
  local err = ...
  if type_(err) == 'userdata' then err = rust.error_table(err) end
  if type_(err) == 'table' then
    local msg = rawget_(err, 'err')
    if type_(msg) == 'string' or type_(msg) == 'number' then err = msg end
  end
  return false, err
end
pcall = function(f, ...) return pcall_result(pcall_(f, ...)) end

-- Error handler for the script's top level: an error table with the position of the innermost
-- script frame, like Redis's __redis__err__handler.
local function handler(err)
  local level = 2
  local info = dbg_getinfo(level, 'nSl')
  while info and (info.what == 'C' or info.source == '=[redis]') do
    level = level + 1
    info = dbg_getinfo(level, 'nSl')
  end
  if type_(err) == 'userdata' then err = rust.error_table(err) end
  if type_(err) ~= 'table' then err = { err = 'ERR ' .. tostring_(err) } end
  if info then
    err.source = info.source
    err.line = info.currentline
  end
  return err
end

-- Runs `f` (with the given arguments: a function's keys and args) under the error handler.
local unpack_ = unpack
local function run(f, ...)
  local n = select_('#', ...)
  if n == 0 then return xpcall_(f, handler) end
  local args = { ... }
  return xpcall_(function() return f(unpack_(args, 1, n)) end, handler)
end

-- xpcall's handler sees what Redis's would: strings for library errors, tables for Redis errors.
xpcall = function(f, h)
  return xpcall_(f, function(err)
    if type_(err) == 'userdata' then err = rust.error_table(err) end
    return h(err)
  end)
end

-- Globals Redis removes.
for _, name in ipairs({ 'dofile', 'loadfile', 'print', 'getfenv', 'setfenv', 'newproxy', 'module', 'require', 'package', 'io', 'debug' }) do
  rawset_(_G, name, nil)
end
rawset_(_G, 'os', nil)
rawset_(_G, 'bit', rust.bit)
rawset_(_G, 'cjson', rust.cjson)
rawset_(_G, 'cmsgpack', rust.cmsgpack)
rawset_(_G, 'struct', rust.struct)
if rust.functions then
  -- A function's environment: no eval-only helpers.
  for _, name in ipairs({ 'breakpoint', 'debug', 'replicate_commands' }) do
    rawset_(rawget_(_G, 'redis'), name, nil)
  end
else
  -- Redis 7.2 keeps its error handler as a global.
  rawset_(_G, '__redis__err__handler', handler)
end

local G = _G
for _, name in ipairs({ 'string', 'table', 'math', 'coroutine', 'bit', 'cjson', 'cmsgpack', 'struct', 'redis' }) do
  local lib = rawget_(G, name)
  if lib then rawset_(G, name, readonly(lib)) end
end

-- Strings index the (read-only) string library; their metatable is shown read-only too.
local string_mt = getmt('')
string_mt.__index = rawget_(G, 'string')
local shown_string_mt = readonly(string_mt)
string_mt.__metatable = shown_string_mt

-- Reading an undefined global is an error; so is writing any global.
setmt(G, {
  __index = function(_, name)
    error_("Script attempted to access nonexistent global variable '" .. tostring_(name) .. "'", 2)
  end,
})
local globals = readonly(G, readonly({ __index = getmt(G).__index, __newindex = refuse_write }))
rawset_(G, '_G', globals)

local exports = { run = run, globals = globals, real_globals = G }

if rust.functions then
  -- Libraries (FUNCTION LOAD) run in an environment that, while loading, holds only the
  -- library API (`redis` with register_function, log, LOG_* and the version), and at run time
  -- reads the globals: the callbacks they register see the full API when called.
  local function nonexistent(name)
    error_("Script attempted to access nonexistent global variable '" .. tostring_(name) .. "'", 3)
  end
  local api = {}
  for _, name in ipairs({ 'log', 'LOG_DEBUG', 'LOG_VERBOSE', 'LOG_NOTICE', 'LOG_WARNING', 'REDIS_VERSION', 'REDIS_VERSION_NUM' }) do
    api[name] = rawget_(real_of[rawget_(G, 'redis')], name)
  end
  local api_proxy = setmt({}, {
    __index = function(_, name)
      local v = rawget_(api, name)
      if v == nil then nonexistent(name) end
      return v
    end,
    __newindex = refuse_write,
    __metatable = false,
  })
  local loading = false
  local env = setmt({}, {
    __index = function(_, name)
      if loading then
        if name == 'redis' then return api_proxy end
        nonexistent(name)
      end
      local v = rawget_(G, name)
      if v == nil then nonexistent(name) end
      return v
    end,
    __newindex = refuse_write,
    __metatable = false,
  })
  exports.library_env = env
  exports.library_api = api
  -- Runs a library's chunk with the library API: nil, or the error text Redis reports.
  exports.load_library = function(chunk)
    loading = true
    local ok, err = pcall_(chunk)
    loading = false
    if ok then return nil end
    if type_(err) == 'userdata' then err = rust.error_table(err) end
    if type_(err) == 'table' then
      local msg = rawget_(err, 'err')
      if type_(msg) == 'string' then return msg end
      return 'ERR unknown error'
    end
    return 'ERR ' .. tostring_(err)
  end
end

return exports
