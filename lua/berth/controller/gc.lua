-- berth.controller.gc: the garbage collector (k8s.io/kubernetes/pkg/controller/garbagecollector)
-- as one sync per object for policies/controllers/garbagecollector.lua (parent "*": the
-- runtime calls it for objects of every resource it caches).
--
-- sync(obj, ctx) returns the imperative part of a result (docs/controllers.md, "Contract
-- extensions": result.delete, result.patch), deciding as kube's attemptToDeleteItem,
-- processDeletingDependentsItem and orphanDependents:
--   - an object that is not being deleted, with ownerReferences, classifies each owner
--     through ctx.owner(ref): solid (exists), dangling (absent, or in another namespace),
--     waiting (being deleted with the foregroundDeletion finalizer). With a solid owner it
--     stays; dangling references are removed and blocking references to waiting owners are
--     unblocked (blockOwnerDeletion false) by one merge patch of the remaining list. Without
--     a solid owner it is deleted (uid precondition): Foreground when an owner is waiting and
--     it has dependents of its own, else as its own finalizers say (orphan, foregroundDeletion),
--     else Background;
--   - an object being deleted with foregroundDeletion deletes its dependents that have no
--     other solid owner (Foreground for blocking ones, so the wait goes down the chain) and,
--     once none with blockOwnerDeletion is left, removes its finalizer;
--   - an object being deleted with orphan removes its uid from every dependent's
--     ownerReferences, and once none refers to it, removes its finalizer.
-- Events, and Leases in kube-system, are never touched; objects without ownerReferences are
-- never deleted. Every patch carries the object's uid and resourceVersion as preconditions
-- (a 409 requeues, and the next sync decides again on fresh objects).
-- ctx.owner(ref) may return false for "cannot tell" (owner kind not cached, cache not synced):
-- such a reference counts as a solid owner, so nothing is deleted on a guess.
-- Depends on berth.controller.common. Tested by t/lua/test_ctrl_gc.lua.

local C = require("berth.controller.common")

local type, ipairs = type, ipairs

local M = {}

M.FOREGROUND = "foregroundDeletion"
M.ORPHAN = "orphan"

-- Resources the collector leaves alone: all of them, or only in some namespace.
M.SKIP = {
    ["v1/events"] = true,
    ["events.k8s.io/v1/events"] = true,
    ["coordination.k8s.io/v1/leases"] = "kube-system",
}

local function has(list, v)
    for _, x in ipairs(list or C.EMPTY) do
        if x == v then
            return true
        end
    end
    return false
end

local function finalizers(obj)
    return C.tget(obj, "metadata.finalizers") or C.EMPTY
end

local function refs_of(obj)
    return C.tget(obj, "metadata.ownerReferences") or C.EMPTY
end

-- "" for cluster-scoped objects; result entries want nil there.
local function ns_or_nil(obj)
    local ns = C.namespace(obj)
    return ns ~= "" and ns or nil
end

-- The state of the owner named by ref, for the dependent obj: "solid", "dangling",
-- "waiting" (deleting in foreground) or "unknown" (counts as solid).
function M.owner_state(obj, ref, ctx)
    if type(ref) ~= "table" or type(ref.uid) ~= "string" or type(ctx.owner) ~= "function" then
        return "unknown"
    end
    local owner = ctx.owner(ref)
    if owner == false then
        return "unknown"
    end
    if type(owner) ~= "table" or C.uid(owner) ~= ref.uid then
        return "dangling"
    end
    -- A namespaced owner must be in the dependent's namespace (kube treats it as absent).
    local ons = C.namespace(owner)
    if ons ~= "" and ons ~= C.namespace(obj) then
        return "dangling"
    end
    if C.is_deleting(owner) and has(finalizers(owner), M.FOREGROUND) then
        return "waiting"
    end
    return "solid"
end

-- A merge patch setting obj's metadata.<field> to list (null when empty), with obj's uid and
-- resourceVersion as preconditions.
local function meta_patch(resource, obj, field, list, ctx)
    local md = { uid = C.uid(obj), resourceVersion = C.sget(obj, "metadata.resourceVersion") }
    md[field] = #list > 0 and list or ctx.null
    return { resource = resource, namespace = ns_or_nil(obj), name = C.name(obj), type = "merge",
             patch = { metadata = md } }
end

local function delete_of(resource, obj, propagation)
    return { resource = resource, namespace = ns_or_nil(obj), name = C.name(obj), uid = C.uid(obj),
             propagation = propagation }
end

-- The propagation an object's own finalizers ask for (kube's default case).
local function own_propagation(obj)
    local f = finalizers(obj)
    if has(f, M.ORPHAN) then
        return "Orphan"
    elseif has(f, M.FOREGROUND) then
        return "Foreground"
    end
    return "Background"
end

local function without(list, v)
    local out = {}
    for _, x in ipairs(list) do
        if x ~= v then
            out[#out + 1] = x
        end
    end
    return out
end

local function dependents(ctx)
    if type(ctx.dependents) ~= "function" then
        return {}
    end
    return ctx.dependents() or C.EMPTY
end

-- The reference in obj's ownerReferences to uid, or nil.
local function ref_to(obj, uid)
    for _, r in ipairs(refs_of(obj)) do
        if type(r) == "table" and r.uid == uid then
            return r
        end
    end
    return nil
end

---------------------------------------------------------------------------------------------
-- The three cases
---------------------------------------------------------------------------------------------

-- Not being deleted: keep, prune references, or delete.
function M.collect(obj, ctx)
    local refs = refs_of(obj)
    if #refs == 0 then
        return {}
    end
    local states, solid, dangling, waiting, blocked = {}, 0, 0, 0, 0
    for i, ref in ipairs(refs) do
        local s = M.owner_state(obj, ref, ctx)
        states[i] = s
        if s == "solid" or s == "unknown" then
            solid = solid + 1
        elseif s == "dangling" then
            dangling = dangling + 1
        else
            waiting = waiting + 1
            if ref.blockOwnerDeletion == true then
                blocked = blocked + 1
            end
        end
    end
    if solid > 0 then
        if dangling == 0 and blocked == 0 then
            return {}
        end
        local keep = {}
        for i, ref in ipairs(refs) do
            if states[i] == "waiting" and ref.blockOwnerDeletion == true then
                local r = C.copy(ref)
                r.blockOwnerDeletion = false
                keep[#keep + 1] = r
            elseif states[i] ~= "dangling" then
                keep[#keep + 1] = ref
            end
        end
        return { patch = { meta_patch(ctx.resource, obj, "ownerReferences", keep, ctx) } }
    end
    local propagation
    if waiting > 0 and #dependents(ctx) > 0 then
        propagation = "Foreground"
    else
        propagation = own_propagation(obj)
    end
    return { delete = { delete_of(ctx.resource, obj, propagation) } }
end

-- Being deleted in foreground: delete the dependents, wait for the blocking ones.
function M.foreground(obj, ctx)
    local uid = C.uid(obj)
    local deletes, blocking = {}, 0
    for _, d in ipairs(dependents(ctx)) do
        local dep = type(d) == "table" and d.object
        local ref = dep and ref_to(dep, uid)
        if ref then
            local other_solid = false
            for _, r in ipairs(refs_of(dep)) do
                if r ~= ref then
                    local s = M.owner_state(dep, r, ctx)
                    if s == "solid" or s == "unknown" then
                        other_solid = true
                        break
                    end
                end
            end
            -- A dependent with another live owner stays (its own sync prunes the reference to
            -- this owner once it is gone), so it does not block.
            if not other_solid then
                local block = ref.blockOwnerDeletion == true
                if block then
                    blocking = blocking + 1
                end
                if not C.is_deleting(dep) then
                    local p = own_propagation(dep)
                    if p == "Background" and block then
                        p = "Foreground"
                    end
                    deletes[#deletes + 1] = delete_of(d.resource, dep, p)
                end
            end
        end
    end
    local result = {}
    if #deletes > 0 then
        result.delete = deletes
    end
    if blocking == 0 then
        local rest = without(finalizers(obj), M.FOREGROUND)
        result.patch = { meta_patch(ctx.resource, obj, "finalizers", rest, ctx) }
    end
    return result
end

-- Being deleted with orphan: strip this owner from the dependents, then drop the finalizer.
function M.orphan(obj, ctx)
    local uid = C.uid(obj)
    local patches = {}
    for _, d in ipairs(dependents(ctx)) do
        local dep = type(d) == "table" and d.object
        if dep and ref_to(dep, uid) then
            local keep = {}
            for _, r in ipairs(refs_of(dep)) do
                if not (type(r) == "table" and r.uid == uid) then
                    keep[#keep + 1] = r
                end
            end
            patches[#patches + 1] = meta_patch(d.resource, dep, "ownerReferences", keep, ctx)
        end
    end
    if #patches == 0 then
        -- Every dependent was released (seen in the cache): the owner may go.
        patches[1] = meta_patch(ctx.resource, obj, "finalizers", without(finalizers(obj), M.ORPHAN), ctx)
    end
    return { patch = patches }
end

---------------------------------------------------------------------------------------------
-- Sync
---------------------------------------------------------------------------------------------

function M.sync(obj, ctx)
    local skip = M.SKIP[ctx.resource or ""]
    if skip == true or (skip and C.namespace(obj) == skip) then
        return {}
    end
    if C.is_deleting(obj) then
        local f = finalizers(obj)
        if has(f, M.ORPHAN) then
            return M.orphan(obj, ctx)
        elseif has(f, M.FOREGROUND) then
            return M.foreground(obj, ctx)
        end
        return {}      -- being deleted in background: nothing left to decide
    end
    return M.collect(obj, ctx)
end

return M
