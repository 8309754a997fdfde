-- t/lua/sandbox.lua: runs one t/lua test file inside a mimic of berth's policy sandbox.
--
--   luajit t/lua/sandbox.lua <top> t/lua/test_quantity.lua
--
-- The test and every berth module it requires are loaded with setfenv into one environment
-- holding only what docs/policies.md allows policies: the base functions (no load*/dofile,
-- setfenv/getfenv, rawset, print, module), string without dump, table, math,
-- os.time/clock/date (all frozen read-only proxies), collectgarbage("count") and a require()
-- limited to <top>/lua. Reading an unknown global or writing any global raises an error, as
-- in the sandbox. Passing here proves the modules need nothing else. Only the TAP helper
-- ("tap") comes from the host, because it must write to stdout. Not mimicked: the string
-- metatable stays the host's, so ("x"):rep() works here as it does in the sandbox.
-- Run by t/0180-lua-lib.t.

local top, file = arg[1], arg[2]
if not top or not file then
    io.stderr:write("usage: sandbox.lua <top> <test.lua>\n")
    os.exit(2)
end

local host_tap = dofile(top .. "/t/lua/tap.lua")

-- A read-only proxy serving t's fields except skip, like the sandbox's frozen libraries:
-- writes raise, the metatable is protected, pairs() sees an empty table.
local function frozen(t, skip, name)
    local inner = {}
    for k, v in pairs(t) do
        if not (skip and skip[k]) then
            inner[k] = v
        end
    end
    return setmetatable({}, {
        __index = inner,
        __newindex = function()
            error("attempt to modify read-only table '" .. name .. "'", 2)
        end,
        __metatable = false,
    })
end

-- The allow list of docs/policies.md ("The sandbox"); rawset, print, load*, setfenv and
-- friends are absent on purpose.
local allowed = {
    _VERSION = _VERSION,
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, xpcall = xpcall, select = select, tonumber = tonumber,
    tostring = tostring, type = type, unpack = unpack, rawequal = rawequal, rawget = rawget,
    setmetatable = setmetatable, getmetatable = getmetatable,
    collectgarbage = function(opt)
        if opt ~= "count" then
            error("collectgarbage: only \"count\" is allowed", 2)
        end
        return collectgarbage("count")
    end,
    string = frozen(string, { dump = true }, "string"),
    table = frozen(table, nil, "table"),
    math = frozen(math, nil, "math"),
    os = frozen({ time = os.time, clock = os.clock, date = os.date }, nil, "os"),
}

local loaded = { tap = host_tap }
local loading = {}
local env = {}
allowed._G = env

allowed.require = function(name)
    if type(name) ~= "string" then
        error("require: module name must be a string", 2)
    end
    if loaded[name] ~= nil then
        return loaded[name]
    end
    if not name:match("^[%w_-]+$") and not name:match("^[%w_-][%w_.-]*[%w_-]$")
       or name:find("..", 1, true) then
        error("require: bad module name '" .. name .. "'", 2)
    end
    if loading[name] then
        error("require: loop while loading '" .. name .. "'", 2)
    end
    local path = top .. "/lua/" .. name:gsub("%.", "/") .. ".lua"
    local chunk, err = loadfile(path)
    if not chunk then
        error("require: module '" .. name .. "' not found under lua/: " .. tostring(err), 2)
    end
    setfenv(chunk, env)
    loading[name] = true
    local mod = chunk(name)
    loading[name] = nil
    if mod == nil then
        mod = true
    end
    loaded[name] = mod
    return mod
end

setmetatable(env, {
    __index = function(_, k)
        local v = allowed[k]
        if v == nil then
            error("undefined global '" .. tostring(k) .. "'", 2)
        end
        return v
    end,
    __newindex = function(_, k)
        error("attempt to set global '" .. tostring(k) .. "'", 2)
    end,
    __metatable = false,
})

local chunk, err = loadfile(file)
if not chunk then
    io.write("not ok 1 - load ", file, "\n# ", tostring(err), "\n1..1\n")
    os.exit(1)
end
setfenv(chunk, env)
local ok, perr = xpcall(chunk, debug.traceback)
if not ok then
    host_tap.ok(false, "test died inside the sandbox")
    host_tap.diag(perr)
    host_tap.done_testing()
end
