-- berth.script.apply: script.apply, kubectl's client-side apply for scripts.
--
-- Each object is created when it does not exist, else patched with only what changed, and
-- reported as kubectl does ("deployment.apps/web created", "... configured", "...
-- unchanged"). Like kubectl apply (client-side), the configuration applied is kept in the
-- annotation kubectl.kubernetes.io/last-applied-configuration, so scripts and `kubectl
-- apply` see each other's applies. The patch is a JSON merge patch computed three ways:
--   * a field set in the new configuration is sent when the live object lacks it or holds
--     another value. Maps are compared key by key and values the server added (defaults)
--     do not count as a difference; a list is sent whole when it differs from the previous
--     configuration or the live list does not hold it (same length, each element matching);
--   * a field of the previous configuration that the new one dropped is sent as null
--     (removed), when the live object still has it.
-- An empty patch is "unchanged" and nothing is sent.
--
-- Depends on berth.script.common. Misuse raises "apply: ..." (level 0: berth.script adds the
-- caller's position); failures return nil, message, results so far.

local common = require("berth.script.common")
local core = common.core

local type, pairs, ipairs, error, tostring = type, pairs, ipairs, error, tostring
local string_format = string.format

local LAST = "kubectl.kubernetes.io/last-applied-configuration"
local null = core.null

local M = {}

M.LAST_APPLIED = LAST

local function deep_equal(a, b, depth)
    if a == b then
        return true
    end
    if type(a) ~= "table" or type(b) ~= "table" or (depth or 0) > 100 then
        return false
    end
    if common.is_array(a) ~= common.is_array(b) then
        return false
    end
    for k, v in pairs(a) do
        if not deep_equal(v, b[k], (depth or 0) + 1) then
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

local function empty(t)
    return type(t) == "table" and next(t) == nil
end

-- Does the live value hold the configured one? Maps: every configured key matches (extra
-- live keys are defaults); lists: same length, elements matching in order; scalars: equal.
local function holds(want, have, depth)
    depth = (depth or 0) + 1
    if depth > 100 then
        return false
    end
    if type(want) ~= "table" then
        return want == have
    end
    if common.is_array(want) then
        if not common.is_array(have) or #want ~= #have then
            return empty(want) and (have == nil or empty(have))
        end
        for i = 1, #want do
            if not holds(want[i], have[i], depth) then
                return false
            end
        end
        return true
    end
    if empty(want) then
        return have == nil or have == null or type(have) == "table"
    end
    if type(have) ~= "table" or common.is_array(have) then
        return false
    end
    for k, v in pairs(want) do
        if v == null then
            if have[k] ~= nil and have[k] ~= null then
                return false
            end
        elseif not holds(v, have[k], depth) then
            return false
        end
    end
    return true
end

-- The merge patch taking current to modified given original (the last configuration), or
-- nil when nothing needs to change.
local function three_way(original, modified, current, depth)
    depth = (depth or 0) + 1
    if depth > 100 then
        error("apply: the object nests deeper than 100 levels", 0)
    end
    local patch, any = {}, false
    local orig = common.is_map(original) and original or nil
    local cur = common.is_map(current) and current or nil
    for k, mv in pairs(modified) do
        local cv = cur and cur[k]
        local ov = orig and orig[k]
        if mv == null then
            if cv ~= nil and cv ~= null then
                patch[k], any = null, true
            end
        elseif common.is_map(mv) and not empty(mv) and common.is_map(cv) then
            local sub = three_way(ov, mv, cv, depth)
            if sub then
                patch[k], any = sub, true
            end
        elseif common.is_array(mv) then
            if not holds(mv, cv) or (ov ~= nil and not deep_equal(ov, mv)) then
                patch[k], any = mv, true
            end
        elseif not holds(mv, cv) then
            patch[k], any = mv, true
        end
    end
    if orig then
        for k in pairs(orig) do
            if modified[k] == nil and cur and cur[k] ~= nil and cur[k] ~= null then
                patch[k], any = null, true
            end
        end
    end
    return any and patch or nil
end
M.three_way = three_way

-- The objects to apply: a list of {source=, object=}. Raises on misuse; nil, err for a
-- file that cannot be read.
local function objects_of(x)
    if type(x) == "string" then
        return core.read_manifests(x)
    end
    if type(x) ~= "table" then
        error(string_format("apply: expects an object, a list of objects or a path (got a %s)",
                            type(x)), 0)
    end
    local list = x
    if x.apiVersion ~= nil or x.kind ~= nil or x.metadata ~= nil then
        list = { x }
    end
    local out = {}
    for i, o in ipairs(list) do
        if type(o) ~= "table" then
            error(string_format("apply: element %d is not a table", i), 0)
        end
        if o.kind == "List" and type(o.items) == "table" then
            for j, item in ipairs(o.items) do
                out[#out + 1] = { source = string_format("object %d item %d", i, j), object = item }
            end
        else
            out[#out + 1] = { source = string_format("object %d", i), object = o }
        end
    end
    return out
end

local function apply_one(entry, opts)
    local obj, src = entry.object, entry.source
    if type(obj) ~= "table" or type(obj.apiVersion) ~= "string" or type(obj.kind) ~= "string" then
        return nil, src .. ": an object needs apiVersion and kind"
    end
    local md = obj.metadata
    if type(md) ~= "table" or type(md.name) ~= "string" or md.name == "" then
        return nil, src .. ": metadata.name is required (apply does not use generateName)"
    end
    if not common.name_ok(md.name) then
        return nil, string_format("%s: invalid metadata.name '%s'", src, md.name)
    end
    local res, err = core.resolve_kind(obj.apiVersion, obj.kind)
    if not res then
        return nil, src .. ": " .. err
    end
    local ns
    if res.namespaced then
        ns = (type(md.namespace) == "string" and md.namespace ~= "" and md.namespace) or
             opts.namespace or core.namespace
        if not common.name_ok(ns) then
            return nil, string_format("%s: invalid namespace '%s'", src, tostring(ns))
        end
    end
    local display = common.display(res, md.name)

    -- The configuration as kubectl records it: the object without the annotation itself.
    local config = common.copy(obj)
    if type(config.metadata.annotations) == "table" then
        config.metadata.annotations[LAST] = nil
        if next(config.metadata.annotations) == nil then
            config.metadata.annotations = nil
        end
    end
    local last, jerr = core.json_encode(config)
    if not last then
        return nil, src .. ": " .. jerr
    end
    local modified = common.copy(config)
    modified.metadata.annotations = modified.metadata.annotations or {}
    modified.metadata.annotations[LAST] = last
    if ns then
        modified.metadata.namespace = ns
    else
        modified.metadata.namespace = nil
    end

    local path = common.path(res, ns, md.name)
    local live, gerr, code = common.call("GET", path)
    local action, result
    if not live then
        if code ~= 404 then
            return nil, string_format("%s: %s", display, gerr), code
        end
        result, err, code = common.call("POST", common.path(res, ns), modified)
        if not result then
            return nil, string_format("%s: %s", display, err), code
        end
        action = "created"
    else
        local original
        local ann = common.has_metadata(live) and type(live.metadata.annotations) == "table" and
                    live.metadata.annotations[LAST]
        if type(ann) == "string" then
            original = core.json_decode(ann)
        end
        local patch = three_way(original, modified, live)
        if not patch then
            action, result = "unchanged", live
        else
            result, err, code = common.call("PATCH", path, patch, "application/merge-patch+json")
            if not result then
                return nil, string_format("%s: %s", display, err), code
            end
            action = "configured"
        end
    end
    if not opts.quiet then
        io.stdout:write(display, " ", action, "\n")
        io.stdout:flush()
    end
    return {
        action = action, name = md.name, namespace = ns, kind = res.kind,
        resource = common.canon(res), display = display, object = result,
    }
end

-- apply(x [, opts]) -> array of results {action, name, namespace, kind, resource, display,
-- object}; nil, message, results so far on the first failure.
function M.apply(x, opts)
    opts = opts or {}
    if type(opts) ~= "table" then
        error("apply: opts must be a table", 0)
    end
    for k in pairs(opts) do
        if k ~= "namespace" and k ~= "quiet" then
            error(string_format("apply: unknown option '%s' (namespace, quiet)", tostring(k)), 0)
        end
    end
    if opts.namespace ~= nil and not common.name_ok(opts.namespace) then
        error("apply: invalid namespace", 0)
    end
    local entries, err = objects_of(x)
    if not entries then
        return nil, err, {}
    end
    local results = {}
    for _, e in ipairs(entries) do
        local r, rerr = apply_one(e, opts)
        if not r then
            return nil, rerr, results
        end
        results[#results + 1] = r
    end
    return results
end

return M
