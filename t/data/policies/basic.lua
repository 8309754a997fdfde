-- basic.lua: hooks for t/c/luavm.c (calls, errors, budgets, require).
local helper = require("helper")

local hooks = {}

function hooks.ok() return 42 end

function hooks.add(a, b) return a + b end

function hooks.echo(...) return ... end

function hooks.use_helper(x) return helper.double(x) end

function hooks.self_test()
  assert(hooks.add(1, 2) == 3)
  return true
end

local function inner()
  error("boom")                                   -- line 20
end

function hooks.fail() inner() end

function hooks.fail_level0() error("no position", 0) end

function hooks.fail_table() error({ code = 7 }) end

function hooks.fail_arith(x) return x.field + 1 end

function hooks.recurse()
  local function r(n) return 1 + r(n + 1) end
  return r(1)
end

function hooks.spin() while true do end end

function hooks.spin_count() local x = 0 while true do x = x + 1 end end

function hooks.spin_call()
  local function f(x) return x + 1 end
  local x = 0
  while true do x = f(x) end
end

-- catches every error, including the budget's: must still be stopped
function hooks.spin_pcall()
  while true do pcall(function() while true do end end) end
end

-- the message handler of xpcall spins too
function hooks.spin_xpcall()
  while true do
    xpcall(function() error("x") end, function() while true do end end)
  end
end

-- spins inside a Lua callback of a C function
function hooks.spin_sort()
  table.sort({ 3, 2, 1 }, function(a, b) while true do end end)
end

function hooks.grow_tables()
  local t = {}
  while true do t[#t + 1] = {} end
end

function hooks.grow_double()
  local s = "x"
  while true do s = s .. s end
end

function hooks.grow_strings()
  local parts = {}
  while true do parts[#parts + 1] = string.rep("y", 1000) .. #parts end
end

function hooks.grow_rep() return #string.rep("z", 2 ^ 30) end

-- catches NOMEM and tries again: ends by the time budget
function hooks.grow_pcall()
  while true do
    pcall(function() local t = {} while true do t[#t + 1] = {} end end)
  end
end

function hooks.sort(t)
  table.sort(t, function(a, b) return a > b end)
  return table.concat(t, ",")
end

function hooks.memkb() return collectgarbage("count") end

return hooks
