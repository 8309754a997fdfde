-- t/lua/tap.lua: a tiny TAP producer for berth's Lua library tests (t/lua/test_*.lua).
--
-- Usage:  local t = require("tap")
--         t.is(q.parse_milli("250m"), 250, "parse_milli 250m")
--         t.fails("1Z is rejected", "suffix", q.parse("1Z"))   -- call last: keeps nil, err
--         t.done_testing()                                    -- prints 1..N, exits 0 or 1
-- Output goes to stdout with io.write; this module is always loaded by the host interpreter
-- (also when t/lua/sandbox.lua runs a test inside the policy-sandbox mimic), so it may use
-- io and os.exit while the code under test may not. Run by t/0180-lua-lib.t.

local io_write, os_exit = io.write, os.exit
local tostring, type, pairs, pcall, select = tostring, type, pairs, pcall, select
local string_find, string_format, string_gsub = string.find, string.format, string.gsub

local T = { count = 0, failed = 0 }

local function show(v)
    if type(v) == "string" then
        return string_format("%q", v)
    end
    return tostring(v)
end

-- Prints msg as TAP diagnostics ("# " before every line).
function T.diag(msg)
    msg = string_gsub(tostring(msg), "\n", "\n# ")
    io_write("# ", msg, "\n")
end

-- Records one test point: passes when v is truthy.
function T.ok(v, name)
    T.count = T.count + 1
    name = name and (" - " .. string_gsub(tostring(name), "\n", " ")) or ""
    if v then
        io_write("ok ", T.count, name, "\n")
    else
        T.failed = T.failed + 1
        io_write("not ok ", T.count, name, "\n")
    end
    return v and true or false
end

-- Passes when got == expected (raw Lua equality); shows both on failure.
function T.is(got, expected, name)
    local r = T.ok(got == expected, name)
    if not r then
        T.diag("     got: " .. show(got) .. "\nexpected: " .. show(expected))
    end
    return r
end

-- Passes when got ~= unexpected.
function T.isnt(got, unexpected, name)
    local r = T.ok(got ~= unexpected, name)
    if not r then
        T.diag("got the unwanted value " .. show(got))
    end
    return r
end

local function deep_diff(a, b, path, depth)
    if a == b then
        return nil
    end
    if type(a) ~= "table" or type(b) ~= "table" or depth > 50 then
        return path .. ": got " .. show(a) .. ", expected " .. show(b)
    end
    for k, v in pairs(b) do
        local d = deep_diff(a[k], v, path .. "." .. tostring(k), depth + 1)
        if d then
            return d
        end
    end
    for k, v in pairs(a) do
        if b[k] == nil then
            return path .. "." .. tostring(k) .. ": got " .. show(v) .. ", expected nil"
        end
    end
    return nil
end

-- Passes when got and expected have the same structure and values (tables key by key).
function T.is_deeply(got, expected, name)
    local d = deep_diff(got, expected, "$", 0)
    local r = T.ok(d == nil, name)
    if not r then
        T.diag(d)
    end
    return r
end

-- Passes when string s contains the plain substring sub.
function T.has(s, sub, name)
    local r = T.ok(type(s) == "string" and string_find(s, sub, 1, true) ~= nil, name)
    if not r then
        T.diag("     got: " .. show(s) .. "\nexpected to contain: " .. show(sub))
    end
    return r
end

-- Passes for the (nil, "reason") convention: the first value is nil and the second is a
-- string containing sub (sub may be nil to accept any reason). Put the call last.
function T.fails(name, sub, ...)
    local n = select("#", ...)
    local v, err = ...
    local good = n >= 1 and v == nil and type(err) == "string" and
                 (sub == nil or string_find(err, sub, 1, true) ~= nil)
    local r = T.ok(good, name)
    if not r then
        T.diag("     got: " .. show(v) .. ", " .. show(err) .. "\nexpected: nil, reason containing " .. show(sub))
    end
    return r
end

-- Passes when fn(...) raises an error whose message contains sub (nil: any message).
function T.raises(name, sub, fn, ...)
    local okc, err = pcall(fn, ...)
    local good = not okc and (sub == nil or string_find(tostring(err), sub, 1, true) ~= nil)
    local r = T.ok(good, name)
    if not r then
        T.diag(okc and "no error raised" or ("error was: " .. tostring(err)))
    end
    return r
end

-- Prints the plan and exits: status 0 when every test passed and at least one ran.
function T.done_testing()
    io_write("1..", T.count, "\n")
    if T.count == 0 then
        io_write("# no tests ran\n")
        os_exit(1)
    end
    if T.failed > 0 then
        io_write(string_format("# failed %d of %d\n", T.failed, T.count))
    end
    os_exit(T.failed == 0 and 0 or 1)
end

return T
