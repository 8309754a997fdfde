-- berth.script.common: what the scripts' cluster API (berth.script.cluster) and the script
-- helpers (berth.script, berth.script.apply) share: resource strings resolved through
-- discovery, request paths and queries, the server's answers turned into Lua's
-- "value or nil, message, code", and copies of decoded JSON that keep arrays arrays.
--
-- Runs only under `berth run` (engine/luarun.c): it needs require("berth.script.core"), the
-- C side. Not part of the documented API; scripts use berth.cluster and berth.script.

local core = require("berth.script.core")
local selector = require("berth.selector")

local type, pairs, ipairs, tostring, select, error, setmetatable, getmetatable =
      type, pairs, ipairs, tostring, select, error, setmetatable, getmetatable
local string_format, table_concat = string.format, table.concat

local M = {}

M.core = core
M.null = core.null
M.ARRAY_MT = getmetatable(core.array({}))

---------------------------------------------------------------------------------------------
-- Names
---------------------------------------------------------------------------------------------

-- Kubernetes names and namespaces as the policies' module accepts them.
function M.name_ok(s)
    return type(s) == "string" and #s > 0 and #s <= 253 and s ~= "." and s ~= ".." and
           not s:find("[^%w%.%-_:@]")
end

---------------------------------------------------------------------------------------------
-- Resources: "pods", "v1/pods", "apps/v1/deployments", "v1/pods/status", "deploy",
-- "cronjobs.batch", "deployments/scale"
---------------------------------------------------------------------------------------------

local cache = {}        -- text -> {res, sub}
local resources         -- discovery, once

local function is_version(s)
    return s:match("^v%d") ~= nil
end

local function lookup(group, version, plural)
    if not resources then
        local rs, err = core.resources()
        if not rs then
            return nil, err, "unreachable"
        end
        resources = rs
    end
    for _, r in ipairs(resources) do
        if r.group == group and r.version == version and r.resource == plural then
            return r
        end
    end
    local text = (group ~= "" and (group .. "/") or "") .. version .. "/" .. plural
    return nil, string_format("the server doesn't have a resource type %q", text), "unknown"
end

-- Parse and resolve a resource string. Returns res, sub; or nil, message, why where why is
-- "bad" (malformed), "unknown" (the server does not serve it) or "unreachable".
function M.resource(text)
    if type(text) ~= "string" or text == "" then
        return nil, "the resource must be a non-empty string", "bad"
    end
    local hit = cache[text]
    if hit then
        return hit[1], hit[2]
    end
    local seg = {}
    for s in (text .. "/"):gmatch("([^/]*)/") do
        if s == "" then
            return nil, string_format("invalid resource '%s'", text), "bad"
        end
        seg[#seg + 1] = s
    end
    local res, err, why, sub
    if #seg == 1 then
        res, err, why = core.resolve(seg[1])
    elseif #seg == 2 and is_version(seg[1]) then
        res, err, why = lookup("", seg[1], seg[2])
    elseif #seg == 2 then
        res, err, why = core.resolve(seg[1])
        sub = seg[2]
    elseif #seg == 3 and is_version(seg[1]) then
        res, err, why = lookup("", seg[1], seg[2])
        sub = seg[3]
    elseif #seg == 3 and is_version(seg[2]) then
        res, err, why = lookup(seg[1], seg[2], seg[3])
    elseif #seg == 4 and is_version(seg[2]) then
        res, err, why = lookup(seg[1], seg[2], seg[3])
        sub = seg[4]
    else
        return nil, string_format("invalid resource '%s' (want \"pods\", \"v1/pods\", " ..
                                  "\"apps/v1/deployments\" or \"v1/pods/status\")", text), "bad"
    end
    if not res then
        return nil, err, why
    end
    cache[text] = { res, sub }
    return res, sub
end

-- "v1/pods", "apps/v1/deployments": the policies' name of a resource table.
function M.canon(res)
    return (res.group ~= "" and (res.group .. "/") or "") .. res.version .. "/" .. res.resource
end

-- "deployment.apps/web", "pod/web-0": how kubectl names an object in its messages.
function M.display(res, name)
    local k = (res.kind or res.resource):lower()
    if res.group ~= "" then
        k = k .. "." .. res.group
    end
    return k .. "/" .. tostring(name)
end

-- The namespace an object call uses: ns as given for namespaced kinds (nil or "": the
-- script's namespace); nil for cluster-scoped kinds, where a namespace is an error.
-- Returns ns, or nil, message.
function M.scope(fn, res, ns)
    if ns ~= nil and type(ns) ~= "string" then
        return nil, string_format("%s: namespace must be a string or nil (got a %s)", fn, type(ns))
    end
    if ns == "" then
        ns = nil
    end
    if not res.namespaced then
        if ns then
            return nil, string_format("%s: %s is cluster-scoped: the namespace must be nil", fn,
                                      M.canon(res))
        end
        return false
    end
    ns = ns or core.namespace
    if not M.name_ok(ns) then
        return nil, string_format("%s: invalid namespace '%s'", fn, ns)
    end
    return ns
end

---------------------------------------------------------------------------------------------
-- Paths and queries
---------------------------------------------------------------------------------------------

local function urlencode(s)
    return (tostring(s):gsub("[^%w%-%._~]", function(c)
        return string_format("%%%02X", c:byte())
    end))
end

-- path(res, ns, name, sub, query): query is a map of parameters (nil values skipped),
-- appended in sorted order.
function M.path(res, ns, name, sub, query)
    local p = core.path(res, ns or nil, name, sub)
    if query then
        local keys = {}
        for k in pairs(query) do
            keys[#keys + 1] = k
        end
        table.sort(keys)
        local parts = {}
        for _, k in ipairs(keys) do
            local v = query[k]
            if v ~= nil and v ~= false then
                parts[#parts + 1] = k .. "=" .. urlencode(v == true and "true" or v)
            end
        end
        if #parts > 0 then
            p = p .. "?" .. table_concat(parts, "&")
        end
    end
    return p
end

-- A label selector option (a string, or a LabelSelector table) as a query string; nil for
-- none; nil, message when it does not compile.
function M.selector_string(sel)
    if sel == nil then
        return nil
    end
    if type(sel) == "string" then
        local ok, err = selector.parse(sel)
        if not ok then
            return nil, err
        end
        return sel ~= "" and sel or nil
    end
    if type(sel) ~= "table" then
        return nil, "selector must be a string or a LabelSelector table"
    end
    for k in pairs(sel) do
        if k ~= "matchLabels" and k ~= "matchExpressions" then
            return nil, string_format("unknown field '%s' (a LabelSelector has matchLabels " ..
                                      "and matchExpressions)", tostring(k))
        end
    end
    local s, err = selector.to_string(sel)
    if not s then
        return nil, err
    end
    return s ~= "" and s or nil
end

---------------------------------------------------------------------------------------------
-- Requests
---------------------------------------------------------------------------------------------

-- The message of a failed answer: the Status message, or what happened.
function M.status_message(body, status, method, path)
    if type(body) == "table" and type(body.message) == "string" and body.message ~= "" then
        return body.message
    end
    return string_format("the server answered HTTP %d to %s %s", status or 0, method or "",
                         path or "")
end

-- One JSON request. Returns the decoded body (true when the answer had none); or nil,
-- message, code, body (code 0 when no answer arrived).
function M.call(method, path, body, ctype)
    local status, resp, why = core.request(method, path, body, ctype)
    if not status then
        return nil, resp, 0
    end
    if status >= 200 and status < 300 then
        if resp == nil then
            return true
        end
        return resp
    end
    if resp == nil and why then
        return nil, why, status
    end
    return nil, M.status_message(resp, status, method, path), status, resp
end

---------------------------------------------------------------------------------------------
-- Data
---------------------------------------------------------------------------------------------

-- True for a table that encodes as a JSON array: marked so, or keys exactly 1..n (n > 0).
function M.is_array(t)
    if type(t) ~= "table" then
        return false
    end
    if getmetatable(t) == M.ARRAY_MT then
        return true
    end
    local n = #t
    if n == 0 then
        return false
    end
    local c = 0
    for _ in pairs(t) do
        c = c + 1
        if c > n then
            return false
        end
    end
    return c == n
end

function M.is_map(t)
    return type(t) == "table" and not M.is_array(t)
end

-- A deep copy that keeps the array mark (so [] stays [] when it goes back to JSON).
function M.copy(v, depth)
    if type(v) ~= "table" then
        return v
    end
    depth = (depth or 0) + 1
    if depth > 100 then
        error("copy: nesting deeper than 100 levels", 0)
    end
    local out = {}
    for k, x in pairs(v) do
        out[k] = M.copy(x, depth)
    end
    if getmetatable(v) == M.ARRAY_MT then
        setmetatable(out, M.ARRAY_MT)
    end
    return out
end

-- string.format when there are arguments, else the text as it is.
function M.fmt(fmt, ...)
    if select("#", ...) == 0 then
        return tostring(fmt)
    end
    return string_format(fmt, ...)
end

-- Is obj a table with a metadata table?
function M.has_metadata(obj)
    return type(obj) == "table" and type(obj.metadata) == "table"
end

return M
