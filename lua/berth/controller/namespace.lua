-- berth.controller.namespace: the namespace controller (k8s.io/kubernetes/pkg/controller/namespace)
-- as one sync per Namespace for policies/controllers/namespace.lua.
--
-- sync(ns, ctx) does nothing for a namespace that is not being deleted. For one with a
-- deletionTimestamp it returns (docs/controllers.md, "Contract extensions"):
--   - delete: every object of every namespaced resource (ctx.resources(), read through
--     ctx.list) in the namespace that is not already terminating, Events included, with the
--     default options (pods keep their grace period);
--   - status: phase Terminating and kube's five deletion conditions
--     (NamespaceDeletionDiscoveryFailure, NamespaceDeletionGroupVersionParsingFailure,
--     NamespaceDeletionContentFailure: False; NamespaceContentRemaining and
--     NamespaceFinalizersRemaining: True with kube's counts while objects are left);
--   - requeue_after 2 while objects remain (their deletion may be graceful);
--   - once nothing is left and the status is up to date (the status write comes first, as
--     it changes resourceVersion): the finalize call, result.patch of type "put" on
--     "v1/namespaces/finalize" with the namespace whose spec.finalizers lost "kubernetes".
-- Not done: kube's estimate of the remaining graceful-deletion time (a fixed 2 s requeue
-- instead), NamespaceDeletionContentFailure True (the policy does not see failed deletes).
-- Depends on berth.controller.common and berth.util. Tested by t/lua/test_ctrl_namespace.lua.

local C = require("berth.controller.common")

local util = require("berth.util")

local type, ipairs, pairs, getmetatable, setmetatable = type, ipairs, pairs, getmetatable, setmetatable
local table_sort, table_concat = table.sort, table.concat

local M = {}

M.FINALIZER = "kubernetes"
M.FINALIZE = "v1/namespaces/finalize"
M.REQUEUE = 2

-- A resource that is another view of one already listed: deleting it again only 404s.
M.ALIASES = { ["events.k8s.io/v1/events"] = "v1/events" }

-- kube's conditionTypes, in its order, with the message when all is well.
local OK_CONDITIONS = {
    { "NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered" },
    { "NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions", "All legacy kube types successfully parsed" },
    { "NamespaceDeletionContentFailure", "ContentDeleted", "All content successfully deleted, may be waiting on finalization" },
    { "NamespaceContentRemaining", "ContentRemoved", "All content successfully removed" },
    { "NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished" },
}

-- "apps/v1/replicasets" -> "replicasets.apps", "v1/pods" -> "pods" (GroupResource.String()).
function M.group_resource(res)
    local parts = {}
    for p in res:gmatch("[^/]+") do
        parts[#parts + 1] = p
    end
    local plural = parts[#parts]
    if #parts >= 3 then
        return plural .. "." .. parts[1]
    end
    return plural
end

-- The namespaced resources to empty, aliases dropped when their original is listed.
local function resources(ctx)
    if type(ctx.resources) ~= "function" then
        return {}
    end
    local all, listed = ctx.resources() or C.EMPTY, {}
    for _, r in ipairs(all) do
        if type(r) == "table" and type(r.resource) == "string" then
            listed[r.resource] = true
        end
    end
    local out = {}
    for _, r in ipairs(all) do
        if type(r) == "table" and r.namespaced == true and type(r.resource) == "string" then
            local alias_of = M.ALIASES[r.resource]
            if not (alias_of and listed[alias_of]) then
                out[#out + 1] = r.resource
            end
        end
    end
    return out
end

-- The deletion conditions: kube's five, with the remaining counts (GroupResource -> n) and
-- the finalizers of what remains (finalizer -> n). Keeps lastTransitionTime of a condition
-- whose status did not change.
local function conditions(ns, remaining, finalizers, now)
    local old = C.tget(ns, "status.conditions")
    local ts = C.rfc3339(now)
    local function counts(m, fmt)
        local keys = {}
        for k in pairs(m) do
            keys[#keys + 1] = k
        end
        table_sort(keys)
        local parts = {}
        for i, k in ipairs(keys) do
            parts[i] = fmt:format(k, m[k])
        end
        return parts
    end
    local rem = counts(remaining, "%s has %d resource instances")
    local fins = counts(finalizers, "%s in %d resource instances")
    local out = {}
    for i, spec in ipairs(OK_CONDITIONS) do
        local c = { type = spec[1], status = "False", reason = spec[2], message = spec[3] }
        if spec[1] == "NamespaceContentRemaining" and #rem > 0 then
            c.status, c.reason = "True", "SomeResourcesRemain"
            c.message = "Some resources are remaining: " .. table_concat(rem, ", ")
        elseif spec[1] == "NamespaceFinalizersRemaining" and #fins > 0 then
            c.status, c.reason = "True", "SomeFinalizersRemain"
            c.message = "Some content in the namespace has finalizers remaining: " .. table_concat(fins, ", ")
        end
        local cur = C.get_condition(old, spec[1])
        c.lastTransitionTime = (cur and cur.status == c.status and C.str(cur.lastTransitionTime)) or ts
        out[i] = c
    end
    return out
end

-- The namespace with "kubernetes" removed from spec.finalizers, for the finalize PUT. The
-- list keeps the array metatable of the cached one, so an empty list goes out as [].
function M.finalized(ns)
    local obj = C.copy(ns)
    obj.spec = C.tbl(obj.spec) or {}
    local cur = C.tbl(obj.spec.finalizers) or {}
    local rest = {}
    for _, f in ipairs(cur) do
        if f ~= M.FINALIZER then
            rest[#rest + 1] = f
        end
    end
    local mt = getmetatable(cur)
    if type(mt) == "table" then
        setmetatable(rest, mt)
    end
    obj.spec.finalizers = rest
    return obj
end

function M.sync(ns, ctx)
    if not C.is_deleting(ns) then
        return {}
    end
    local name = C.name(ns)
    local deletes, remaining, finalizers = {}, {}, {}
    local left = 0
    for _, res in ipairs(resources(ctx)) do
        local objs = type(ctx.list) == "function" and ctx.list(res, { namespace = name }) or C.EMPTY
        for _, o in ipairs(objs) do
            if C.namespace(o) == name then
                left = left + 1
                local gr = M.group_resource(res)
                remaining[gr] = (remaining[gr] or 0) + 1
                for _, f in ipairs(C.tget(o, "metadata.finalizers") or C.EMPTY) do
                    if type(f) == "string" then
                        finalizers[f] = (finalizers[f] or 0) + 1
                    end
                end
                if not C.is_deleting(o) then
                    deletes[#deletes + 1] = { resource = res, namespace = name, name = C.name(o), uid = C.uid(o) }
                end
            end
        end
    end

    local result = {}
    local status = C.copy(C.tget(ns, "status") or {})
    status.phase = "Terminating"
    status.conditions = conditions(ns, remaining, finalizers, ctx.now)
    result.status = status
    if #deletes > 0 then
        result.delete = deletes
    end
    if left > 0 then
        result.requeue_after = M.REQUEUE
        return result
    end
    local has_finalizer = false
    for _, f in ipairs(C.tget(ns, "spec.finalizers") or C.EMPTY) do
        if f == M.FINALIZER then
            has_finalizer = true
        end
    end
    if has_finalizer then
        if not util.deep_equal(status, C.tget(ns, "status") or {}) then
            -- The status write bumps resourceVersion, so the finalize PUT (which carries the
            -- cached one) would conflict: write the status now, finalize on the next sync.
            result.requeue_after = 1
            return result
        end
        result.status = nil
        result.patch = { { resource = M.FINALIZE, name = name, type = "put", patch = M.finalized(ns) } }
    end
    return result
end

return M
