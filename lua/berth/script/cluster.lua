-- berth.script.cluster: require("berth.cluster") in `berth run` scripts.
--
-- The functions, names and argument shapes of the policies' host module (engine/luacluster.c,
-- docs/lua-api.md "Cluster access"), made synchronous over HTTP for scripts:
--
--   * every call is one request (list: one list request) sent NOW; it returns the server's
--     answer: the object (get, create, update, patch, delete, evict, event), an array (list,
--     index), or nil, message, code on failure (code: the HTTP status, 0 when no answer);
--   * reads go to the server, not to an informer cache: always current, any resource;
--   * objects are fresh tables on every call: a script may modify what it read;
--   * resources are named as in policies ("v1/pods", "pods", "apps/v1/deployments",
--     "v1/pods/status") or anything discovery resolves ("deploy", "cronjobs.batch"), so
--     plugin kinds work; namespaced calls with a nil namespace use the script's namespace
--     (-n, the kubeconfig context's, or "default"), except list, where nil means all.
--
-- Misuse (a wrong argument type, an unknown resource, an invalid name) raises, with the
-- caller's file and line. Depends on berth.script.common (and so on engine/luarun_core.c).

local common = require("berth.script.common")
local core = common.core

local type, pairs, ipairs, next, error, tostring, setmetatable =
      type, pairs, ipairs, next, error, tostring, setmetatable
local string_format = string.format

local COMPONENT = "berth-run"

local M = {}

M.null = core.null

---------------------------------------------------------------------------------------------
-- Argument checks. Each raises at level 3: the caller of the public function that called
-- it directly (never through a tail call).
---------------------------------------------------------------------------------------------

-- A resource argument: res, sub; or nil, message when discovery cannot be reached.
local function need_res(fn, text)
    local res, sub, why = common.resource(text)
    if not res and why ~= "unreachable" then
        error(fn .. ": " .. sub, 3)
    end
    return res, sub
end

local function need_scope(fn, res, ns)
    local out, err = common.scope(fn, res, ns)
    if out == nil then
        error(err, 3)
    end
    return out or nil
end

local function need_name(fn, s, what)
    if type(s) ~= "string" then
        error(string_format("%s: %s must be a string (got a %s)", fn, what, type(s)), 3)
    end
    if not common.name_ok(s) then
        error(string_format("%s: invalid %s '%s'", fn, what, s), 3)
    end
    return s
end

local function need_table(fn, v, what)
    if type(v) ~= "table" then
        error(string_format("%s: %s must be a table (got a %s)", fn, what, type(v)), 3)
    end
end

-- The resource of an object: from the resource argument, else from apiVersion and kind.
local function need_obj_res(fn, obj, resource)
    if type(obj.metadata) ~= "table" then
        error(fn .. ": the object has no metadata table", 3)
    end
    if resource ~= nil then
        local res, sub, why = common.resource(resource)
        if not res and why ~= "unreachable" then
            error(fn .. ": " .. sub, 3)
        end
        return res, sub
    end
    if type(obj.apiVersion) ~= "string" or type(obj.kind) ~= "string" or
       obj.apiVersion == "" or obj.kind == "" then
        error(fn .. ": the object needs apiVersion and kind (or pass the resource)", 3)
    end
    local res, err, why = core.resolve_kind(obj.apiVersion, obj.kind)
    if not res and why ~= "unreachable" then
        error(fn .. ": " .. err, 3)
    end
    return res, err
end

-- Namespace and name of an object for an action.
local function need_obj_names(fn, res, obj, need_name_)
    local md = obj.metadata
    local ns, name = md.namespace, md.name
    local why
    if ns ~= nil and type(ns) ~= "string" then
        why = "invalid metadata.namespace"
    elseif name ~= nil and (type(name) ~= "string" or not common.name_ok(name)) then
        why = "invalid metadata.name"
    elseif need_name_ and name == nil then
        why = "metadata.name is required"
    elseif name == nil and type(md.generateName) ~= "string" then
        why = "metadata.name or metadata.generateName is required"
    end
    if why then
        error(string_format("%s: %s (%s)", fn, why, common.canon(res)), 3)
    end
    if ns == "" then
        ns = nil
    end
    if res.namespaced then
        ns = ns or core.namespace
        if not common.name_ok(ns) then
            error(string_format("%s: invalid metadata.namespace (%s)", fn, common.canon(res)), 3)
        end
        return ns, name
    end
    if ns then
        error(string_format("%s: a cluster-scoped object has no metadata.namespace (%s)", fn,
                            common.canon(res)), 3)
    end
    return nil, name
end

---------------------------------------------------------------------------------------------
-- Reads
---------------------------------------------------------------------------------------------

-- cluster.get(resource, namespace, name) -> object; nil, message, code (404: not found)
function M.get(resource, ns, name)
    local res, sub = need_res("cluster.get", resource)
    if not res then
        return nil, sub, 0
    end
    local n = need_scope("cluster.get", res, ns)
    need_name("cluster.get", name, "name")
    local obj, err, code = common.call("GET", common.path(res, n, name, sub))
    if obj then
        return obj
    end
    return nil, err, code
end

local LIST_OPTS = { namespace = true, selector = true, index = true, field_selector = true }

local function owner_uids(obj, controller_only)
    local refs = common.has_metadata(obj) and obj.metadata.ownerReferences
    local out = {}
    if type(refs) == "table" then
        for _, r in ipairs(refs) do
            if type(r) == "table" and (not controller_only or r.controller == true) then
                out[#out + 1] = r.uid
            end
        end
    end
    return out
end

local INDEXES = {
    uid = function(o, key)
        return common.has_metadata(o) and o.metadata.uid == key
    end,
    owner = function(o, key)
        for _, u in ipairs(owner_uids(o, false)) do
            if u == key then return true end
        end
        return false
    end,
    controller = function(o, key)
        for _, u in ipairs(owner_uids(o, true)) do
            if u == key then return true end
        end
        return false
    end,
}

-- The list request behind list and index; level is where misuse errors point.
local function do_list(fn, res, opts, level)
    local ns, sel, fsel, filter, fkey
    if opts ~= nil then
        if type(opts) ~= "table" then
            error(string_format("%s: opts must be a table (got a %s)", fn, type(opts)), level)
        end
        for k in pairs(opts) do
            if not LIST_OPTS[k] then
                error(string_format("%s: unknown option '%s' (namespace, selector, index, " ..
                                    "field_selector)", fn, tostring(k)), level)
            end
        end
        ns = opts.namespace
        if ns ~= nil and type(ns) ~= "string" then
            error(string_format("%s: namespace must be a string or nil (got a %s)", fn,
                                type(ns)), level)
        end
        if ns == "" then
            ns = nil
        end
        if ns and not common.name_ok(ns) then
            error(string_format("%s: invalid namespace '%s'", fn, ns), level)
        end
        if ns and not res.namespaced then
            error(string_format("%s: %s is cluster-scoped: the namespace must be nil", fn,
                                common.canon(res)), level)
        end
        local err
        sel, err = common.selector_string(opts.selector)
        if err then
            error(string_format("%s: opts.selector: %s", fn, err), level)
        end
        fsel = opts.field_selector
        if fsel ~= nil and type(fsel) ~= "string" then
            error(fn .. ": opts.field_selector must be a string", level)
        end
        local index = opts.index
        if index ~= nil then
            if type(index) ~= "table" or type(index[1]) ~= "string" or type(index[2]) ~= "string" then
                error(fn .. ": opts.index must be {name, key} (two strings)", level)
            end
            local iname = index[1]
            if iname == "node" then
                if res.resource ~= "pods" then
                    error(fn .. ": the index 'node' is for pods", level)
                end
                local f = "spec.nodeName=" .. index[2]
                fsel = fsel and fsel ~= "" and (fsel .. "," .. f) or f
            elseif INDEXES[iname] then
                filter, fkey = INDEXES[iname], index[2]
            else
                error(string_format("%s: %s has no index '%s' (scripts know node, uid, owner, " ..
                                    "controller)", fn, common.canon(res), iname), level)
            end
        end
    end
    local body, err, code = common.call("GET", common.path(res, ns, nil, nil, {
        labelSelector = sel, fieldSelector = fsel ~= "" and fsel or nil }))
    if not body then
        return nil, err, code
    end
    local items = type(body) == "table" and type(body.items) == "table" and body.items or {}
    local rv = type(body) == "table" and type(body.metadata) == "table" and
               body.metadata.resourceVersion or nil
    if filter then
        local out = {}
        for _, o in ipairs(items) do
            if filter(o, fkey) then
                out[#out + 1] = o
            end
        end
        items = out
    end
    return setmetatable(items, common.ARRAY_MT), rv
end

-- cluster.list(resource [, opts]) -> array, resourceVersion; nil, message, code
function M.list(resource, opts)
    local res, sub = need_res("cluster.list", resource)
    if not res then
        return nil, sub, 0
    end
    if sub then
        error(string_format("cluster.list: cannot list a subresource ('%s')", resource), 2)
    end
    local items, rv, code = do_list("cluster.list", res, opts, 3)
    return items, rv, code
end

-- cluster.index(resource, index_name, key) -> array; nil, message, code
function M.index(resource, iname, key)
    local res, sub = need_res("cluster.index", resource)
    if not res then
        return nil, sub, 0
    end
    if type(iname) ~= "string" or type(key) ~= "string" then
        error("cluster.index: index name and key must be strings", 2)
    end
    if sub then
        error(string_format("cluster.index: cannot list a subresource ('%s')", resource), 2)
    end
    local items, rv, code = do_list("cluster.index", res, { index = { iname, key } }, 3)
    return items, rv, code
end

---------------------------------------------------------------------------------------------
-- Actions: sent now, answered now
---------------------------------------------------------------------------------------------

-- cluster.create(obj [, resource]) -> the created object; nil, message, code (409: exists)
function M.create(obj, resource)
    need_table("cluster.create", obj, "obj")
    local res, sub = need_obj_res("cluster.create", obj, resource)
    if not res then
        return nil, sub, 0
    end
    if sub then
        error(string_format("cluster.create: no subresource here (%s)", sub), 2)
    end
    local ns = need_obj_names("cluster.create", res, obj, false)
    local out, err, code = common.call("POST", common.path(res, ns), obj)
    return out, err, code
end

-- cluster.update(obj [, resource]) -> the updated object; nil, message, code (409: changed)
function M.update(obj, resource)
    need_table("cluster.update", obj, "obj")
    local res, sub = need_obj_res("cluster.update", obj, resource)
    if not res then
        return nil, sub, 0
    end
    local ns, name = need_obj_names("cluster.update", res, obj, true)
    if type(obj.metadata.resourceVersion) ~= "string" then
        error("cluster.update: metadata.resourceVersion is required (the precondition); " ..
              "update the object you read", 2)
    end
    local out, err, code = common.call("PUT", common.path(res, ns, name, sub), obj)
    return out, err, code
end

local PATCH_TYPES = {
    merge = "application/merge-patch+json",
    strategic = "application/strategic-merge-patch+json",
    json = "application/json-patch+json",
}

-- cluster.patch(resource, namespace, name, patch [, type]) -> the patched object
function M.patch(resource, ns, name, patch, ptype)
    local res, sub = need_res("cluster.patch", resource)
    if not res then
        return nil, sub, 0
    end
    local n = need_scope("cluster.patch", res, ns)
    need_name("cluster.patch", name, "name")
    ptype = ptype or "merge"
    local ctype = PATCH_TYPES[ptype]
    if not ctype then
        error(string_format("cluster.patch: unknown patch type '%s' (merge, strategic, json)",
                            tostring(ptype)), 2)
    end
    local decoded = patch
    if type(patch) == "string" then
        local err
        decoded, err = core.json_decode(patch)
        if decoded == nil then
            error("cluster.patch: patch is not JSON: " .. err, 2)
        end
    elseif type(patch) ~= "table" then
        error(string_format("cluster.patch: patch must be a table or JSON text (got a %s)",
                            type(patch)), 2)
    end
    local want_array = ptype == "json"
    if type(decoded) ~= "table" or (want_array ~= common.is_array(decoded) and
                                    not (want_array and next(decoded) == nil)) then
        error(string_format("cluster.patch: a %s patch must be %s", ptype,
                            want_array and "an array of operations" or "an object"), 2)
    end
    local out, err, code = common.call("PATCH", common.path(res, n, name, sub), patch, ctype)
    return out, err, code
end

-- cluster.delete(resource, namespace, name [, {propagation=, uid=, grace=}]) -> the answer
-- (the object, marked for deletion when it is graceful, or a Status)
function M.delete(resource, ns, name, opts)
    local res, sub = need_res("cluster.delete", resource)
    if not res then
        return nil, sub, 0
    end
    local n = need_scope("cluster.delete", res, ns)
    need_name("cluster.delete", name, "name")
    if sub then
        error(string_format("cluster.delete: cannot delete a subresource (%s)", sub), 2)
    end
    local body = { apiVersion = "v1", kind = "DeleteOptions" }
    if opts ~= nil then
        if type(opts) ~= "table" then
            error("cluster.delete: opts must be a table", 2)
        end
        for k in pairs(opts) do
            if k ~= "propagation" and k ~= "uid" and k ~= "grace" then
                error(string_format("cluster.delete: unknown option '%s' (propagation, uid, " ..
                                    "grace)", tostring(k)), 2)
            end
        end
        local p = opts.propagation
        if p ~= nil then
            if p ~= "Background" and p ~= "Foreground" and p ~= "Orphan" then
                error("cluster.delete: propagation must be \"Background\", \"Foreground\" " ..
                      "or \"Orphan\"", 2)
            end
            body.propagationPolicy = p
        end
        if opts.uid ~= nil then
            if type(opts.uid) ~= "string" then
                error("cluster.delete: uid must be a string", 2)
            end
            body.preconditions = { uid = opts.uid }
        end
        local g = opts.grace
        if g ~= nil then
            if type(g) ~= "number" then
                error("cluster.delete: grace must be a number of seconds", 2)
            end
            if g < 0 or g > 1e9 or g ~= math.floor(g) then
                error("cluster.delete: grace must be a whole number of seconds >= 0", 2)
            end
            body.gracePeriodSeconds = g
        end
    end
    local out, err, code = common.call("DELETE", common.path(res, n, name), body)
    return out, err, code
end

-- cluster.evict(namespace, pod) -> the pod as the server answered the delete. Like the
-- policies' evict: a graceful delete with the pod's own grace period (berth has no
-- pods/eviction subresource and no PodDisruptionBudgets). nil namespace: the script's.
function M.evict(ns, name)
    local res, err = common.resource("v1/pods")
    if not res then
        return nil, err, 0
    end
    local n = need_scope("cluster.evict", res, ns)
    need_name("cluster.evict", name, "pod name")
    local out, e, code = common.call("DELETE", common.path(res, n, name),
                                     { apiVersion = "v1", kind = "DeleteOptions" })
    return out, e, code
end

-- cluster.event(obj, type, reason, message) -> the Event created
function M.event(obj, etype, reason, message)
    need_table("cluster.event", obj, "obj")
    if type(etype) ~= "string" or type(reason) ~= "string" or type(message) ~= "string" then
        error("cluster.event: type, reason and message must be strings", 2)
    end
    if etype ~= "Normal" and etype ~= "Warning" then
        error(string_format("cluster.event: type must be \"Normal\" or \"Warning\" (got '%s')",
                            etype), 2)
    end
    if reason == "" then
        error("cluster.event: reason must not be empty", 2)
    end
    local md = obj.metadata
    if type(obj.apiVersion) ~= "string" or type(obj.kind) ~= "string" or type(md) ~= "table" then
        error("cluster.event: obj needs apiVersion, kind and metadata", 2)
    end
    if not common.name_ok(md.name) then
        error("cluster.event: obj.metadata.name is missing or invalid", 2)
    end
    local ns = type(md.namespace) == "string" and md.namespace ~= "" and md.namespace or nil
    if ns and not common.name_ok(ns) then
        error("cluster.event: obj.metadata.namespace is invalid", 2)
    end
    local evns = ns or "default"
    local stamp = os.date("!%Y-%m-%dT%H:%M:%SZ")
    local involved = { apiVersion = obj.apiVersion, kind = obj.kind, name = md.name,
                       namespace = ns, uid = type(md.uid) == "string" and md.uid or nil }
    local ev = {
        apiVersion = "v1", kind = "Event",
        metadata = { generateName = md.name:sub(1, 243) .. ".", namespace = evns },
        involvedObject = involved, type = etype, reason = reason, message = message,
        source = { component = COMPONENT }, firstTimestamp = stamp, lastTimestamp = stamp,
        count = 1, reportingComponent = COMPONENT, reportingInstance = COMPONENT,
    }
    local res, err = common.resource("v1/events")
    if not res then
        return nil, err, 0
    end
    local out, e, code = common.call("POST", common.path(res, evns), ev)
    return out, e, code
end

-- cluster.bind(pod, node) -> true (the server's Status); node is a name or a Node table
function M.bind(pod, node)
    need_table("cluster.bind", pod, "pod")
    local md = pod.metadata
    if type(md) ~= "table" then
        error("cluster.bind: pod has no metadata", 2)
    end
    local ns = md.namespace
    if ns == nil or ns == "" then
        ns = core.namespace
    end
    if not common.name_ok(ns) or not common.name_ok(md.name) then
        error("cluster.bind: pod needs metadata.namespace and metadata.name", 2)
    end
    if type(node) == "table" then
        node = type(node.metadata) == "table" and node.metadata.name or nil
    end
    if not common.name_ok(node) then
        error("cluster.bind: node must be a node name or a Node table", 2)
    end
    local res, err = common.resource("v1/pods")
    if not res then
        return nil, err, 0
    end
    local binding = {
        apiVersion = "v1", kind = "Binding",
        metadata = { name = md.name, namespace = ns },
        target = { apiVersion = "v1", kind = "Node", name = node },
    }
    local out, e, code = common.call("POST", common.path(res, ns, md.name, "binding"), binding)
    if not out then
        return nil, e, code
    end
    return true
end

local LEVELS = { error = true, warn = true, info = true, debug = true }

-- cluster.log(level, message): a line on stderr, "level: file:line: message" (debug lines
-- only with berth run --verbose).
function M.log(level, message)
    if not LEVELS[level] then
        error(string_format("cluster.log: level must be \"error\", \"warn\", \"info\" or " ..
                            "\"debug\" (got '%s')", tostring(level)), 2)
    end
    if type(message) ~= "string" and type(message) ~= "number" then
        error("cluster.log: message must be a string", 2)
    end
    if level == "debug" and not core.verbose then
        return
    end
    local info = debug.getinfo(2, "Sl")
    local where = ""
    if info and info.currentline and info.currentline > 0 then
        local src = info.source:sub(1, 1) == "@" and info.source:sub(2) or info.short_src
        where = src .. ":" .. info.currentline .. ": "
    end
    io.stderr:write(level, ": ", where, tostring(message), "\n")
end

return M
