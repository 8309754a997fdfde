-- berth.util: small table helpers shared by policies, plugins and operator scripts.
--
-- Provides deep copy and deep equality for JSON-shaped data (tables of strings, numbers,
-- booleans and nested tables), a safe path getter/setter for API objects
-- (get(pod, "spec.template.spec")), and list/map helpers (keys, map, filter, merge, ...).
-- Depends on nothing but the base library, string, table and math, so it loads inside the
-- policy sandbox (engine/luavm.h). Callers: berth.selector, policies/, plugins/.
--
-- Data here is API objects decoded from JSON: tables are plain (metatables are neither copied
-- nor compared) and nesting is bounded by MAX_DEPTH so a cyclic or hostile table raises a
-- clean error instead of exhausting the C stack.

local type, pairs, ipairs, next, error, tostring, tonumber, select =
      type, pairs, ipairs, next, error, tostring, tonumber, select
local string_find, string_sub, string_match = string.find, string.sub, string.match
local table_sort, table_concat = table.sort, table.concat

local M = {}

-- Deepest nesting deep_copy/deep_equal accept; far above any real Kubernetes object.
M.MAX_DEPTH = 100

---------------------------------------------------------------------------------------------
-- Deep copy / deep equal
---------------------------------------------------------------------------------------------

local function copy_rec(v, depth, seen)
    if type(v) ~= "table" then
        return v
    end
    if seen[v] then
        return seen[v]   -- shared or cyclic reference: keep the same shape in the copy
    end
    if depth > M.MAX_DEPTH then
        error("util.deep_copy: nesting deeper than " .. M.MAX_DEPTH, 0)
    end
    local out = {}
    seen[v] = out
    for k, x in pairs(v) do
        out[copy_rec(k, depth + 1, seen)] = copy_rec(x, depth + 1, seen)
    end
    return out
end

-- Returns a copy of v sharing no table with it (non-tables are returned as they are).
-- Cycles and shared sub-tables are reproduced, metatables are not copied.
-- Raises an error past MAX_DEPTH levels.
function M.deep_copy(v)
    return copy_rec(v, 1, {})
end

local function equal_rec(a, b, depth)
    if a == b then
        return true
    end
    if type(a) ~= "table" or type(b) ~= "table" then
        return false
    end
    if depth > M.MAX_DEPTH then
        error("util.deep_equal: nesting deeper than " .. M.MAX_DEPTH, 0)
    end
    for k, x in pairs(a) do
        local y = b[k]
        if y == nil or not equal_rec(x, y, depth + 1) then
            return false
        end
    end
    for k in pairs(b) do
        if a[k] == nil then
            return false
        end
    end
    return true
end

-- True when a and b hold the same values: tables are compared key by key, recursively
-- (keys themselves by ==). Raises an error past MAX_DEPTH levels (e.g. on a cycle).
function M.deep_equal(a, b)
    return equal_rec(a, b, 1)
end

---------------------------------------------------------------------------------------------
-- Paths
---------------------------------------------------------------------------------------------

-- Splits "spec.containers.1.name" into segments; a list of segments is used as given. String
-- paths are memoized: the same few literal paths are read for every pod of every sync
-- (a ReplicaSet sync over 10,000 pods spent most of its time splitting them). The memo is
-- dropped when it reaches PATH_MEMO_MAX strings. The returned list must not be modified.
local PATH_MEMO_MAX = 1024
local path_memo, path_memo_size = {}, 0

local function path_segments(path)
    if type(path) == "table" then
        return path
    end
    if type(path) ~= "string" then
        error("util: path must be a string or a list, got " .. type(path), 3)
    end
    local memo = path_memo[path]
    if memo then
        return memo
    end
    local segs = {}
    if path_memo_size >= PATH_MEMO_MAX then
        path_memo, path_memo_size = {}, 0
    end
    path_memo[path], path_memo_size = segs, path_memo_size + 1
    if path == "" then
        return segs
    end
    local start = 1
    while true do
        local dot = string_find(path, ".", start, true)
        if not dot then
            segs[#segs + 1] = string_sub(path, start)
            break
        end
        segs[#segs + 1] = string_sub(path, start, dot - 1)
        start = dot + 1
    end
    return segs
end

-- A segment made of digits indexes a list (1-based, Lua style) when the table has that
-- numeric key; otherwise it is a map key. So "containers.1" and a label key "1" both work.
local function index(t, seg)
    if type(seg) == "string" and string_match(seg, "^%d+$") then
        local v = t[tonumber(seg)]
        if v ~= nil then
            return v
        end
    end
    return t[seg]
end

-- The numeric form of each digit segment of a memoized path (false for the others), so
-- M.get on a string path matches no pattern per step.
local nums_memo = setmetatable({}, { __mode = "k" })
local function segment_numbers(segs)
    local nums = nums_memo[segs]
    if nums == nil then
        nums = {}
        for i = 1, #segs do
            local seg = segs[i]
            nums[i] = type(seg) == "string" and string_match(seg, "^%d+$") and tonumber(seg) or false
        end
        nums_memo[segs] = nums
    end
    return nums
end

-- Returns obj at path ("spec.template.spec" or {"metadata", "labels", "app.kubernetes.io/name"}),
-- or default when any step is missing or is not a table. Never raises on data.
function M.get(obj, path, default)
    local segs = path_segments(path)
    local nums = segment_numbers(segs)
    local cur = obj
    for i = 1, #segs do
        if type(cur) ~= "table" then
            return default
        end
        local n, v = nums[i], nil
        if n then
            v = cur[n]
        end
        if v == nil then
            v = cur[segs[i]]
        end
        cur = v
        if cur == nil then
            return default
        end
    end
    return cur
end

-- Stores value at path inside obj, creating missing intermediate tables; returns obj.
-- Returns nil, reason when a step exists but is not a table.
function M.set(obj, path, value)
    local segs = path_segments(path)
    if type(obj) ~= "table" or #segs == 0 then
        return nil, "util.set: need a table and a non-empty path"
    end
    local cur = obj
    for i = 1, #segs - 1 do
        local seg = segs[i]
        local nxt = index(cur, seg)
        if nxt == nil then
            nxt = {}
            cur[seg] = nxt
        elseif type(nxt) ~= "table" then
            return nil, "util.set: '" .. tostring(seg) .. "' is a " .. type(nxt) .. ", not a table"
        end
        cur = nxt
    end
    local last = segs[#segs]
    if type(last) == "string" and string_match(last, "^%d+$") and cur[tonumber(last)] ~= nil then
        cur[tonumber(last)] = value
    else
        cur[last] = value
    end
    return obj
end

---------------------------------------------------------------------------------------------
-- Table helpers
---------------------------------------------------------------------------------------------

local function sort_key_less(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then
        return ta < tb    -- numbers before strings, deterministic across runs
    end
    if ta == "number" or ta == "string" then
        return a < b
    end
    return tostring(a) < tostring(b)
end

-- Sorted list of t's keys (numbers first, then strings), for deterministic iteration.
function M.keys(t)
    local out = {}
    for k in pairs(t) do
        out[#out + 1] = k
    end
    table_sort(out, sort_key_less)
    return out
end

-- List of t's values in sorted-key order.
function M.values(t)
    local ks, out = M.keys(t), {}
    for i = 1, #ks do
        out[i] = t[ks[i]]
    end
    return out
end

-- Number of entries in t (pairs), unlike # which counts only the list part.
function M.count(t)
    local n = 0
    for _ in pairs(t) do
        n = n + 1
    end
    return n
end

-- True when t has no entries at all (nil counts as empty).
function M.is_empty(t)
    return t == nil or next(t) == nil
end

-- True when t's keys are exactly 1..n (an empty table counts as a list).
function M.is_array(t)
    if type(t) ~= "table" then
        return false
    end
    local n = 0
    for k in pairs(t) do
        if type(k) ~= "number" then
            return false
        end
        n = n + 1
    end
    for i = 1, n do
        if t[i] == nil then
            return false
        end
    end
    return true
end

-- New list of fn(v, i) for each element of list (nil results are skipped).
function M.map(list, fn)
    local out = {}
    for i, v in ipairs(list) do
        local r = fn(v, i)
        if r ~= nil then
            out[#out + 1] = r
        end
    end
    return out
end

-- New list of the elements of list for which fn(v, i) is true.
function M.filter(list, fn)
    local out = {}
    for i, v in ipairs(list) do
        if fn(v, i) then
            out[#out + 1] = v
        end
    end
    return out
end

-- fn(acc, v, i) folded over list starting from init.
function M.reduce(list, fn, init)
    local acc = init
    for i, v in ipairs(list) do
        acc = fn(acc, v, i)
    end
    return acc
end

-- First element v of list with fn(v, i) true, and its index; nil when none.
function M.find(list, fn)
    for i, v in ipairs(list) do
        if fn(v, i) then
            return v, i
        end
    end
    return nil
end

-- Index of the first element == v in list, or nil.
function M.index_of(list, v)
    for i, x in ipairs(list) do
        if x == v then
            return i
        end
    end
    return nil
end

-- True when list holds an element == v.
function M.contains(list, v)
    return M.index_of(list, v) ~= nil
end

-- New list of list[i..j] (j defaults to #list; negative indexes count from the end).
function M.slice(list, i, j)
    local n = #list
    i = i or 1
    j = j or n
    if i < 0 then i = n + i + 1 end
    if j < 0 then j = n + j + 1 end
    if i < 1 then i = 1 end
    if j > n then j = n end
    local out = {}
    for k = i, j do
        out[#out + 1] = list[k]
    end
    return out
end

-- New list with the elements of every list argument in order.
function M.concat_lists(...)
    local out = {}
    for a = 1, select("#", ...) do
        local l = select(a, ...)
        if l then
            for _, v in ipairs(l) do
                out[#out + 1] = v
            end
        end
    end
    return out
end

-- New map with the entries of every map argument; later ones win (shallow, like labels).
function M.merge(...)
    local out = {}
    for a = 1, select("#", ...) do
        local m = select(a, ...)
        if m then
            for k, v in pairs(m) do
                out[k] = v
            end
        end
    end
    return out
end

-- Shallow copy of a table (top level only).
function M.shallow_copy(t)
    local out = {}
    for k, v in pairs(t) do
        out[k] = v
    end
    return out
end

---------------------------------------------------------------------------------------------
-- String helpers
---------------------------------------------------------------------------------------------

-- Splits s on every plain (non-pattern) occurrence of sep; "a,,b" gives {"a", "", "b"}.
function M.split(s, sep)
    if sep == nil or sep == "" then
        error("util.split: empty separator", 2)
    end
    local out, start = {}, 1
    while true do
        local i, j = string_find(s, sep, start, true)
        if not i then
            out[#out + 1] = string_sub(s, start)
            return out
        end
        out[#out + 1] = string_sub(s, start, i - 1)
        start = j + 1
    end
end

-- s without leading and trailing ASCII whitespace.
function M.trim(s)
    return (string_match(s, "^%s*(.-)%s*$"))
end

-- True when s begins with prefix.
function M.starts_with(s, prefix)
    return string_sub(s, 1, #prefix) == prefix
end

-- True when s ends with suffix.
function M.ends_with(s, suffix)
    return suffix == "" or string_sub(s, -#suffix) == suffix
end

-- Joins list with sep, converting elements with tostring.
function M.join(list, sep)
    local parts = {}
    for i, v in ipairs(list) do
        parts[i] = tostring(v)
    end
    return table_concat(parts, sep or "")
end

return M
