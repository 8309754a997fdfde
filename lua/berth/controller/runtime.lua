-- lua/berth/controller/runtime.lua: the apply step of the controller runtime. The C core
-- (engine/controllers.c) calls reconcile(policy, key) for one parent, in the policy's VM and
-- under its budget; this reads the parent and its children from the caches (berth.cluster),
-- calls policy.sync, and turns the declarative result into API actions as docs/controllers.md
-- specifies. berth.cluster queues the actions and the core sends them only if this whole
-- call returned: a malformed result raises here and nothing is written.
--
-- What the core does around it: expectations (no new sync while the actions of the last one
-- are in flight or not yet seen by the informers), child_events (recorded from the answers,
-- with the names the API server generated), requeue_after, backoff on failures.
--
-- Depends on berth.cluster (the host module) and berth.controller.common.

local cluster = require("berth.cluster")
local common = require("berth.controller.common")

local type, pairs, ipairs, next, tostring, error = type, pairs, ipairs, next, tostring, error
local getmetatable, setmetatable, os = getmetatable, setmetatable, os
local string, table = string, table

local M = {}
local null = cluster.null

-- Kinds of the resources the shipped controllers create; others must carry apiVersion and
-- kind in the desired object.
local KINDS = {
    pods = "Pod", replicasets = "ReplicaSet", endpoints = "Endpoints", services = "Service",
    deployments = "Deployment", replicationcontrollers = "ReplicationController",
    jobs = "Job", cronjobs = "CronJob", configmaps = "ConfigMap", secrets = "Secret",
    statefulsets = "StatefulSet", daemonsets = "DaemonSet",
    controllerrevisions = "ControllerRevision",
}

-- "apps/v1/replicasets" -> "apps/v1", "replicasets"; "v1/pods" -> "v1", "pods".
local function split_resource(res)
    local api, plural = res:match("^(.*)/([^/]+)$")
    if not api then
        error("bad resource " .. tostring(res), 0)
    end
    return api, plural
end

local function kind_of(res)
    local _, plural = split_resource(res)
    return KINDS[plural]
end

local function is_null(v)
    return v == nil or v == null
end

-- Deep equality where absent and null are the same.
local function equal(a, b)
    if is_null(a) and is_null(b) then
        return true
    end
    if type(a) ~= "table" or type(b) ~= "table" then
        return a == b
    end
    for k, v in pairs(a) do
        if not equal(v, b[k]) then
            return false
        end
    end
    for k, v in pairs(b) do
        if a[k] == nil and not is_null(v) then
            return false
        end
    end
    return true
end
M.equal = equal

-- A copy with every null removed (recursively), keeping the array metatable.
local function strip_nulls(v)
    if type(v) ~= "table" then
        return v
    end
    local out = setmetatable({}, getmetatable(v))
    local n = #v
    if n > 0 then
        local j = 0
        for i = 1, n do
            if v[i] ~= null then
                j = j + 1
                out[j] = strip_nulls(v[i])
            end
        end
        return out
    end
    for k, x in pairs(v) do
        if x ~= null then
            out[k] = strip_nulls(x)
        end
    end
    return out
end

-- RFC 7386 merge patch applied to a copy of obj.
local function merge_patch(obj, patch)
    if type(patch) ~= "table" or #patch > 0 then
        return common.copy(patch)
    end
    local out = type(obj) == "table" and common.copy(obj) or {}
    for k, v in pairs(patch) do
        if v == null then
            out[k] = nil
        else
            out[k] = merge_patch(out[k], v)
        end
    end
    return out
end
M.merge_patch = merge_patch

local function name_of(obj)
    local m = type(obj) == "table" and obj.metadata
    return type(m) == "table" and type(m.name) == "string" and m.name or nil
end

local function child_spec(decl)
    if type(decl) == "string" then
        return { resource = decl }
    end
    if type(decl) == "table" and type(decl.resource) == "string" then
        return decl
    end
    error("children entries must be resources or {resource=...} tables", 0)
end

-- The parent's selector as berth.cluster.list takes it, or nil (selects nothing).
local function list_selector(parent, shape)
    local sel = type(parent.spec) == "table" and parent.spec.selector or nil
    if type(sel) ~= "table" then
        return nil
    end
    if shape == "map" then
        if next(sel) == nil then
            return nil
        end
        return { matchLabels = sel }
    end
    return sel
end

local function owner_ref(policy, parent)
    local api = split_resource(policy.parent)
    return {
        apiVersion = parent.apiVersion or api, kind = parent.kind or kind_of(policy.parent),
        name = parent.metadata.name, uid = parent.metadata.uid,
        controller = true, blockOwnerDeletion = true,
    }
end

-- The owned children of resource (controller ownerReference = parent uid, same namespace):
-- the core's "controller" index, filtered by namespace in C (a parent may own 10,000 pods).
local function owned(res, parent)
    local ns, uid = common.namespace(parent), parent.metadata.uid
    if ns ~= "" and type(uid) == "string" then
        return cluster.list(res, { namespace = ns, index = { "controller", uid } })
    end
    local out = {}
    for _, o in ipairs(cluster.index(res, "controller", uid)) do
        if common.namespace(o) == ns then
            out[#out + 1] = o
        end
    end
    return out
end

-- Objects of res in the parent's namespace without a controller ownerReference that match
-- its selector: the core's "orphan" index (objects without a controller reference, by
-- namespace), so the owned pods of the namespace are not handed over at every sync.
local function orphans_of(res, parent, shape)
    local sel = list_selector(parent, shape)
    if sel == nil then
        return {}
    end
    local ns = common.namespace(parent)
    local opts = { namespace = ns, selector = sel }
    if ns ~= "" then
        opts.index = { "orphan", ns }
    end
    local out = {}
    for _, o in ipairs(cluster.list(res, opts)) do
        if common.controller_ref(o) == nil then
            out[#out + 1] = o
        end
    end
    return out
end

-- A merge patch setting obj's ownerReferences to refs (null when none are left), with the
-- object's uid and resourceVersion as preconditions.
local function with_refs(obj, refs)
    return {
        metadata = {
            ownerReferences = #refs > 0 and refs or null,
            uid = obj.metadata.uid, resourceVersion = obj.metadata.resourceVersion,
        },
    }
end

-- The desired children of one resource in either shape of docs/controllers.md: the complete
-- list (an array), or "keep the rest" ({ rest = "keep", entries = {...}, delete = {names} }).
-- Returns the entries, the names to delete (nil for a complete list) and whether the rest
-- is kept. Raises on a malformed table.
local function desired_shape(res, desired)
    if type(desired) ~= "table" then
        error("result.children[" .. res .. "] must be a list or a {rest = \"keep\"} table", 0)
    end
    if desired.rest == nil then
        return desired, nil
    end
    if desired.rest ~= "keep" then
        error("result.children[" .. res .. "].rest must be \"keep\"", 0)
    end
    for k in pairs(desired) do
        if k ~= "rest" and k ~= "entries" and k ~= "delete" then
            error("result.children[" .. res .. "]: unknown field " .. tostring(k) ..
                  " (rest, entries, delete)", 0)
        end
    end
    local entries, delete = desired.entries or {}, desired.delete or {}
    if type(entries) ~= "table" or type(delete) ~= "table" then
        error("result.children[" .. res .. "]: entries and delete must be lists", 0)
    end
    return entries, delete
end

-- The current children of one resource: ex.map() is name -> object, built on first use (a
-- "keep the rest" result that names no child never needs it) and then changed by release
-- and adopt; ex.find(names) is name -> object for a few names (a set), without the map when
-- it is not built yet (deleting 500 of 10,000 pods reads the list once and inserts nothing).
local function new_existing(list)
    local ex, map = {}, nil
    function ex.map()
        if map == nil then
            map = {}
            for _, c in ipairs(list) do
                map[c.metadata.name] = c
            end
        end
        return map
    end
    function ex.find(names)
        local out = {}
        if map ~= nil then
            for n in pairs(names) do
                out[n] = map[n]
            end
            return out
        end
        for _, c in ipairs(list) do
            local n = c.metadata.name
            if names[n] then
                out[n] = c
            end
        end
        return out
    end
    return ex
end

-- Apply one resource's desired children to the current ones (existing: new_existing).
-- Returns the number of writes (creates, updates, deletes) queued.
local function apply_children(policy, parent, spec, desired, existing, failed_adopt)
    local res, ns = spec.resource, common.namespace(parent)
    local entries, delete = desired_shape(res, desired)
    local seen = {}
    local creates, updates = {}, {}
    for i, entry in ipairs(entries) do
        if type(entry) ~= "table" then
            error("result.children[" .. res .. "][" .. i .. "] is not a table", 0)
        end
        local name = name_of(entry)
        if name then
            if seen[name] then
                error("result.children[" .. res .. "] names " .. name .. " twice", 0)
            end
            seen[name] = true
        end
        local meta = entry.metadata
        local only_name = type(meta) == "table" and next(entry, next(entry)) == nil and
            next(meta) ~= nil and next(meta, next(meta)) == nil and name ~= nil
        local cur = name and existing.map()[name]
        if cur then
            if not only_name and not common.is_deleting(cur) then
                updates[#updates + 1] = { entry = entry, cur = cur }
            end
        elseif not only_name and not (name and failed_adopt[name]) then
            if spec.by_name and name ~= parent.metadata.name then
                error("result.children[" .. res .. "]: a by-name child must be named " ..
                      parent.metadata.name, 0)
            end
            creates[#creates + 1] = entry
        end
    end
    local deletes = {}
    if delete then
        for i, name in ipairs(delete) do
            if type(name) ~= "string" then
                error("result.children[" .. res .. "].delete[" .. i .. "] is not a name", 0)
            end
            if seen[name] then
                error("result.children[" .. res .. "] names " .. name .. " twice", 0)
            end
            seen[name] = true
            deletes[#deletes + 1] = name
        end
    end
    for _, entry in ipairs(creates) do
        local obj = strip_nulls(entry)
        obj.status = nil
        obj.metadata = obj.metadata or {}
        obj.metadata.namespace = ns
        if obj.apiVersion == nil then
            obj.apiVersion = split_resource(res)
        end
        obj.kind = obj.kind or kind_of(res) or error("result.children[" .. res .. "]: set kind", 0)
        if not spec.by_name then
            obj.metadata.ownerReferences = { owner_ref(policy, parent) }
        end
        -- the core sends the creates of one sync in slow-start batches (docs/controllers.md)
        cluster.create(obj, res)
    end
    local nupdates = 0
    for _, u in ipairs(updates) do
        local entry, cur = u.entry, u.cur
        local obj = common.copy(cur)
        local changed = false
        local em = type(entry.metadata) == "table" and entry.metadata or {}
        for _, field in ipairs({ "labels", "annotations" }) do
            if type(em[field]) == "table" then
                local have = type(obj.metadata[field]) == "table" and obj.metadata[field] or {}
                for k, v in pairs(em[field]) do
                    if v == null then
                        if have[k] ~= nil then
                            have[k], changed = nil, true
                        end
                    elseif have[k] ~= v then
                        have[k], changed = v, true
                    end
                end
                obj.metadata[field] = have
            end
        end
        for k, v in pairs(entry) do
            if k ~= "apiVersion" and k ~= "kind" and k ~= "metadata" and k ~= "status" then
                if not equal(v, cur[k]) then
                    obj[k] = v ~= null and strip_nulls(v) or nil
                    changed = true
                end
            end
        end
        if changed then
            cluster.update(obj, res)
            nupdates = nupdates + 1
        end
    end
    local nwrites = #creates + nupdates
    if delete then
        local want = {}
        for _, name in ipairs(deletes) do
            want[name] = true
        end
        local found = existing.find(want)
        for _, name in ipairs(deletes) do
            local cur = found[name]
            if cur and not common.is_deleting(cur) then
                cluster.delete(res, ns, name, { uid = cur.metadata.uid })
                nwrites = nwrites + 1
            end
        end
        return nwrites
    end
    for name, cur in pairs(existing.map()) do
        if not seen[name] and not common.is_deleting(cur) then
            cluster.delete(res, ns, name, { uid = cur.metadata.uid })
            nwrites = nwrites + 1
        end
    end
    return nwrites
end

-- result.delete and result.patch: imperative writes, after the declarative ones, in order.
local function apply_imperative(result)
    for i, d in ipairs(type(result.delete) == "table" and result.delete or {}) do
        if type(d) ~= "table" or type(d.resource) ~= "string" or type(d.name) ~= "string" then
            error("result.delete[" .. i .. "] needs resource and name", 0)
        end
        local opts = { uid = d.uid, propagation = d.propagation, grace = d.grace }
        cluster.delete(d.resource, d.namespace, d.name, opts)
    end
    for i, p in ipairs(type(result.patch) == "table" and result.patch or {}) do
        if type(p) ~= "table" or type(p.resource) ~= "string" or type(p.name) ~= "string" or
           type(p.patch) ~= "table" then
            error("result.patch[" .. i .. "] needs resource, name and a patch table", 0)
        end
        if p.type == "put" then
            -- A whole object PUT (the namespace finalize subresource).
            local obj = strip_nulls(p.patch)
            obj.metadata = obj.metadata or {}
            obj.metadata.name = obj.metadata.name or p.name
            obj.metadata.namespace = obj.metadata.namespace or p.namespace
            cluster.update(obj, p.resource)
        else
            cluster.patch(p.resource, p.namespace, p.name, p.patch, p.type)
        end
    end
end

-- The ctx fields every controller gets.
local function base_ctx(settings, resources)
    return {
        now = os.time(), null = null, settings = settings or {},
        resources = function() return resources or {} end,
        list = function(res, opts) return cluster.list(res, opts) end,
        get = function(res, gns, gname) return cluster.get(res, gns, gname) end,
    }
end

local function split_key(key)
    local ns, name = key:match("^([^/]*)/(.*)$")
    if not ns then
        return nil, key
    end
    return ns, name
end

-- The garbage collector's shape (parent = "*"): one object of any resource, key
-- "<resource>|<ns>/<name>". ctx.owner(ref) finds a live owner by uid; ctx.dependents() lists
-- {resource, object} whose ownerReferences name this object.
function M.reconcile_any(policy, key, settings, resources)
    local res, okey = key:match("^([^|]+)|(.*)$")
    if not res then
        error("bad key " .. tostring(key), 0)
    end
    local ns, name = split_key(okey)
    local obj = cluster.get(res, ns, name)
    if obj == nil then
        return {}
    end
    local by_kind = {}
    for _, r in ipairs(resources or {}) do
        if r.kind then
            by_kind[r.apiVersion .. "/" .. r.kind] = r.resource
        end
    end
    local ctx = base_ctx(settings, resources)
    ctx.resource = res
    ctx.owner = function(ref)
        if type(ref) ~= "table" or type(ref.uid) ~= "string" then
            return nil
        end
        local r = by_kind[tostring(ref.apiVersion) .. "/" .. tostring(ref.kind)]
        local cands = r and { r } or {}
        if r == nil then
            -- An owner of a kind this process does not cache: look everywhere by uid, and
            -- when it is not found say "cannot tell" (false), so nothing is deleted on a
            -- guess (kube's GC also refuses to act on kinds it cannot resolve).
            for _, x in ipairs(resources or {}) do
                cands[#cands + 1] = x.resource
            end
        end
        for _, cr in ipairs(cands) do
            local found = cluster.index(cr, "uid", ref.uid)
            if found[1] then
                return found[1]
            end
        end
        if r == nil then
            return false
        end
        return nil
    end
    ctx.dependents = function()
        local out = {}
        local uid = obj.metadata.uid
        if type(uid) ~= "string" then
            return out
        end
        for _, x in ipairs(resources or {}) do
            for _, d in ipairs(cluster.index(x.resource, "owner", uid)) do
                out[#out + 1] = { resource = x.resource, object = d }
            end
        end
        return out
    end
    local result = policy.sync(obj, {}, ctx)
    if result == nil then
        return {}
    end
    if type(result) ~= "table" then
        error("sync must return a table (or nil)", 0)
    end
    apply_imperative(result)
    for i, ev in ipairs(type(result.events) == "table" and result.events or {}) do
        if type(ev) == "table" and type(ev.reason) == "string" then
            cluster.event(obj, ev.type == "Warning" and "Warning" or "Normal", ev.reason,
                          tostring(ev.message or ""))
        else
            error("result.events[" .. i .. "] needs a reason", 0)
        end
    end
    local rq = result.requeue_after
    return { requeue_after = type(rq) == "number" and rq > 0 and rq or nil }
end

-- One sync of the parent under key ("<ns>/<name>" or "<name>"). settings: the server's
-- flags (ctx.settings); resources: every cached resource (ctx.resources()). Returns
-- { requeue_after = seconds or nil, children = how many children the sync was given,
-- child_writes = how many creates, updates and deletes of them it queued } (the core paces
-- the syncs of big parents by these). Raises on a malformed result: nothing is then written.
function M.reconcile(policy, key, settings, resources)
    local ns, name = split_key(key)
    local parent = cluster.get(policy.parent, ns, name)
    local specs = {}
    for i, decl in ipairs(policy.children or {}) do
        specs[i] = child_spec(decl)
    end
    if parent == nil then
        -- Gone: by-name children that go with it are deleted (ownerReference children are
        -- the garbage collector's).
        for _, spec in ipairs(specs) do
            if spec.by_name and spec.delete_with_parent then
                local child = cluster.get(spec.resource, ns, name)
                if child and not common.is_deleting(child) then
                    cluster.delete(spec.resource, ns, name)
                end
            end
        end
        return {}
    end

    -- existing[res]: the current children (see new_existing), changed by release and adopt.
    local children, existing, orphans, nchildren = {}, {}, {}, 0
    for _, spec in ipairs(specs) do
        local res = spec.resource
        local list
        if spec.by_name then
            local c = cluster.get(res, ns, name)
            list = c and { c } or {}
        else
            list = owned(res, parent)
        end
        children[res] = list
        nchildren = nchildren + #list
        existing[res] = new_existing(list)
        if policy.adopt and not spec.by_name then
            orphans[res] = common.is_deleting(parent) and {} or orphans_of(res, parent, policy.selector)
        end
    end
    local ctx = base_ctx(settings, resources)
    ctx.orphans = orphans
    local result = policy.sync(parent, children, ctx)
    if result == nil then
        return { children = nchildren }
    end
    if type(result) ~= "table" then
        error("sync must return a table (or nil)", 0)
    end

    -- release, adopt: before the children, which they change.
    local failed_adopt, child_writes = {}, 0
    for _, which in ipairs({ "release", "adopt" }) do
        for res, names in pairs(type(result[which]) == "table" and result[which] or {}) do
            if existing[res] == nil then
                error("result." .. which .. ": " .. tostring(res) .. " is not a child resource", 0)
            end
            for _, n in ipairs(names) do
                if which == "release" then
                    local cur = existing[res].map()[n]
                    if cur then
                        local refs = {}
                        for _, r in ipairs(cur.metadata.ownerReferences or {}) do
                            if r.uid ~= parent.metadata.uid then
                                refs[#refs + 1] = r
                            end
                        end
                        cluster.patch(res, ns, n, with_refs(cur, refs))
                        existing[res].map()[n] = nil
                    end
                else
                    local orphan
                    for _, o in ipairs(orphans[res] or {}) do
                        if o.metadata.name == n then
                            orphan = o
                        end
                    end
                    if orphan == nil then
                        error("result.adopt: " .. tostring(n) .. " is not an orphan of " .. res, 0)
                    end
                    local refs = {}
                    for _, r in ipairs(orphan.metadata.ownerReferences or {}) do
                        refs[#refs + 1] = r
                    end
                    refs[#refs + 1] = owner_ref(policy, parent)
                    cluster.patch(res, ns, n, with_refs(orphan, refs))
                    existing[res].map()[n] = orphan
                end
            end
        end
    end

    if result.children ~= nil then
        if type(result.children) ~= "table" then
            error("result.children must be a table", 0)
        end
        for res in pairs(result.children) do
            if existing[res] == nil then
                error("result.children: " .. tostring(res) .. " is not a child resource", 0)
            end
        end
        for _, spec in ipairs(specs) do
            local desired = result.children[spec.resource]
            if desired ~= nil then
                child_writes = child_writes +
                    apply_children(policy, parent, spec, desired, existing[spec.resource], failed_adopt)
            end
        end
    end

    if result.status ~= nil and not equal(result.status, parent.status) then
        local obj = common.copy(parent)
        obj.status = strip_nulls(result.status)
        cluster.update(obj, policy.parent .. "/status")
    end
    if result.parent_patch ~= nil then
        if type(result.parent_patch) ~= "table" then
            error("result.parent_patch must be a table", 0)
        end
        if not equal(merge_patch(parent, result.parent_patch), parent) then
            cluster.patch(policy.parent, ns, name, result.parent_patch)
        end
    end
    apply_imperative(result)
    for i, ev in ipairs(type(result.events) == "table" and result.events or {}) do
        if type(ev) ~= "table" or type(ev.reason) ~= "string" then
            error("result.events[" .. i .. "] needs a reason", 0)
        end
        -- An event about a child's write goes out once that write succeeded, and not at all
        -- when this sync wrote nothing to that child.
        local opts
        if ev.child ~= nil then
            local c = ev.child
            if type(c) ~= "table" or type(c.resource) ~= "string" or type(c.name) ~= "string" then
                error("result.events[" .. i .. "].child must be { resource = ..., name = ... }", 0)
            end
            opts = { after = { resource = c.resource, namespace = ns, name = c.name } }
        end
        cluster.event(parent, ev.type == "Warning" and "Warning" or "Normal", ev.reason,
                      tostring(ev.message or ""), opts)
    end
    local rq = result.requeue_after
    return { requeue_after = type(rq) == "number" and rq > 0 and rq or nil, children = nchildren,
             child_writes = child_writes }
end

-- The controller the core runs for a plugin's hooks.load_balancer (docs/plugins.md): for
-- each Service of type LoadBalancer, hook(service, ctx) returns the status.loadBalancer to
-- write ({ ingress = { { ip = ... } } }), or nil and why (logged; status left alone). A
-- Service that stops being a LoadBalancer gets its addresses cleared, as kube's service
-- controller does.
function M.load_balancer_controller(hook)
    return {
        parent = "v1/services",
        sync = function(svc, _, ctx)
            local spec = type(svc.spec) == "table" and svc.spec or {}
            local status = type(svc.status) == "table" and svc.status or {}
            local lb = type(status.loadBalancer) == "table" and status.loadBalancer or {}
            if spec.type ~= "LoadBalancer" then
                if type(lb.ingress) == "table" and #lb.ingress > 0 then
                    local st = common.copy(status)
                    st.loadBalancer = {}
                    return { status = st }
                end
                return {}
            end
            if common.is_deleting(svc) then
                return {}
            end
            local want, why = hook(svc, ctx)
            if want == nil then
                if why then
                    cluster.log("warn", "load balancer for " .. tostring(common.namespace(svc)) .. "/" ..
                        tostring(common.name(svc)) .. ": " .. tostring(why))
                end
                return {}
            end
            if type(want) ~= "table" then
                error("hooks.load_balancer must return a table (status.loadBalancer) or nil", 0)
            end
            local st = common.copy(status)
            st.loadBalancer = want
            return { status = st }
        end,
    }
end

return M
