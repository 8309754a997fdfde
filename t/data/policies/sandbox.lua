-- sandbox.lua: each hook tries something the policy sandbox forbids; t/c/luavm.c expects
-- LUAVM_ERROR with a given message from each, then a working call.
local h = {}

function h.io() return io.open("/etc/passwd") end
function h.os_execute() return os.execute("true") end
function h.os_exit() return os.exit(1) end
function h.os_getenv() return os.getenv("HOME") end
function h.debug() return debug.getinfo(1) end
function h.ffi() return ffi.C end
function h.jit() return jit.off() end
function h.require_ffi() return require("ffi") end
function h.require_jit() return require("jit") end
function h.require_up() return require("../basic") end
function h.require_abs() return require("/etc/passwd") end
function h.require_missing() return require("nosuchmodule") end
function h.require_fail() return require("helper").fail() end
function h.dump() return string.dump(h.io) end
function h.dump_method() return ("x"):dump() end
function h.load_binary()
  local f, err = load("\27LJ\2\0\0\0")
  assert(f == nil)
  error(err, 0)
end
function h.load_mode_b()
  local f, err = load("return 1", "x", "b")
  assert(f == nil)
  error(err, 0)
end
function h.load_text() return load("return 1 + 1")() end
function h.load_sees_env() return load("return undefined_name")() end
function h.loadstring() return loadstring("return 1") end
function h.dofile() return dofile("/etc/passwd") end
function h.loadfile() return loadfile("/etc/passwd") end
function h.getfenv() return getfenv(0) end
function h.rawset() return rawset(string, "x", 1) end
function h.set_global() x = 1 end
function h.set_existing_global() pairs = nil end
function h.set_G() _G.y = 2 end
function h.read_undefined() return undefined_thing end
function h.modify_string() string.upper = nil end
function h.add_string() string.evil = function() end end
function h.modify_table() table.insert = nil end
function h.modify_math() math.pi = 3 end
function h.modify_os() os.time = nil end
function h.setmt_string() setmetatable(string, {}) end
function h.setmt_env() setmetatable(_G, {}) end
function h.string_mt() return getmetatable("").__index end
function h.getmt_env() assert(getmetatable(_G) == false) error("protected", 0) end
function h.collect() collectgarbage("collect") end
function h.print() print("x") end
function h.coroutine() return coroutine.create(h.io) end
function h.newproxy() return newproxy(true) end
function h.package() return package.loadlib("x", "y") end

-- allowed things
function h.allowed()
  local t = {}
  table.insert(t, string.format("%d", math.floor(2.5)))
  t[#t + 1] = tostring(os.time() > 0) .. tostring(os.clock() >= 0) .. type(os.date("%Y"))
  t[#t + 1] = ("abc"):upper()
  t[#t + 1] = select("#", unpack({ 1, 2, 3 }))
  local ok = pcall(error, "x")
  t[#t + 1] = tostring(ok)
  local mt = setmetatable({}, { __index = function(_, k) return k .. "!" end })
  t[#t + 1] = mt.hi
  t[#t + 1] = tostring(collectgarbage("count") > 0)
  t[#t + 1] = tostring(rawequal(t, t)) .. tostring(rawget(t, 1))
  return table.concat(t, " ")
end

return h
