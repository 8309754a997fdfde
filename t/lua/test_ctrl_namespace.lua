-- t/lua/test_ctrl_namespace.lua: policies/controllers/namespace.lua
-- (lua/berth/controller/namespace.lua): an active namespace is left alone; a deleting one
-- gets phase Terminating and kube's conditions, its namespaced content (Events included,
-- other namespaces and cluster-scoped resources not) is deleted, terminating objects are not
-- deleted again but still wait, and the finalize PUT comes only once nothing is left and the
-- status is written. Run by t/0195-controller-policies.t.
local t = require("tap")
local okF, F = pcall(require, "ctrl_fixture")
local okP, P = pcall(require, "controllers.namespace")
if not (okF and okP) then
    t.ok(true, "controller policy tests # SKIP policies/ not on the module path (t/0195 runs them)")
    t.done_testing()
end
local C = require("berth.controller.common")

local function obj(kind, name, ns, o)
    o = o or {}
    return { kind = kind, metadata = { name = name, namespace = ns, uid = F.uid(name),
        deletionTimestamp = o.deleting and F.iso(F.T0) or nil, finalizers = o.finalizers } }
end

local function sync(ns, objects, o)
    o = o or {}
    return P.sync(ns, {}, F.ctx({ objects = objects, resources = o.resources, now = o.now }))
end

local function deleted(r)
    local out = {}
    for i, d in ipairs(r.delete or {}) do out[i] = d.resource .. ":" .. d.name end
    table.sort(out)
    return table.concat(out, ",")
end

-- Not deleting: nothing.
do
    local ns = F.namespace("team")
    local r = sync(ns, { ["v1/pods"] = { obj("Pod", "p", "team") } })
    t.is_deeply(r, {}, "active namespace: nothing")
end

-- Deleting with content.
do
    local ns = F.namespace("team", { deleting = true })
    local objects = {
        ["v1/pods"] = { obj("Pod", "p1", "team"), obj("Pod", "p2", "team", { deleting = true }),
                        obj("Pod", "elsewhere", "other") },
        ["apps/v1/replicasets"] = { obj("ReplicaSet", "rs", "team", { finalizers = { "example.com/hold" } }) },
        ["v1/events"] = { obj("Event", "p1.123", "team") },
        ["events.k8s.io/v1/events"] = { obj("Event", "p1.123", "team") },
        ["v1/nodes"] = { obj("Node", "n1", nil) },
    }
    local r = sync(ns, objects)
    t.is(deleted(r), "apps/v1/replicasets:rs,v1/events:p1.123,v1/pods:p1",
        "deletes content, events once, not terminating pods, not other namespaces or nodes")
    local d = r.delete[1]
    t.is(d.namespace, "team", "delete namespace")
    t.ok(d.uid ~= nil, "delete uid precondition")
    t.is(d.grace, nil, "default grace period")
    t.is(r.patch, nil, "content left: no finalize")
    t.is(r.requeue_after, 2, "requeue while content remains")
    t.is(r.status.phase, "Terminating", "phase Terminating")
    local conds = r.status.conditions
    t.is(#conds, 5, "kube's five conditions")
    local rem = C.get_condition(conds, "NamespaceContentRemaining")
    t.is(rem.status .. "/" .. rem.reason, "True/SomeResourcesRemain", "content remaining")
    t.is(rem.message, "Some resources are remaining: events has 1 resource instances, pods has 2 resource instances, replicasets.apps has 1 resource instances",
        "content remaining message (GroupResource, sorted)")
    local fin = C.get_condition(conds, "NamespaceFinalizersRemaining")
    t.is(fin.message, "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances",
        "finalizers remaining message")
    local cf = C.get_condition(conds, "NamespaceDeletionContentFailure")
    t.is(cf.status .. "/" .. cf.reason, "False/ContentDeleted", "content failure False")
    t.is(rem.lastTransitionTime, F.iso(F.T0), "lastTransitionTime now")

    -- Same state later: conditions keep their lastTransitionTime (no new status write).
    ns.status = r.status
    local r2 = sync(ns, objects, { now = F.T0 + 10 })
    t.is_deeply(r2.status, ns.status, "unchanged status compares equal")
end

-- Only terminating objects left: nothing to delete, still waits.
do
    local ns = F.namespace("team", { deleting = true })
    local r = sync(ns, { ["v1/pods"] = { obj("Pod", "p", "team", { deleting = true }) } })
    t.is(r.delete, nil, "terminating object: not deleted again")
    t.is(r.patch, nil, "terminating object: no finalize yet")
    t.is(r.requeue_after, 2, "terminating object: requeue")
end

-- Empty: status first, then finalize.
do
    local ns = F.namespace("team", { deleting = true, finalizers = { "kubernetes", "example.com/x" } })
    ns.metadata.resourceVersion = "9"
    local objects = { ["v1/pods"] = {} }
    local r = sync(ns, objects)
    t.is(r.patch, nil, "status not yet written: no finalize in the same sync")
    t.is(r.requeue_after, 1, "status written: requeue to finalize")
    local rem = C.get_condition(r.status.conditions, "NamespaceContentRemaining")
    t.is(rem.status .. "/" .. rem.reason, "False/ContentRemoved", "content removed")
    ns.status = r.status
    r = sync(ns, objects)
    t.is(r.status, nil, "status up to date: no status write")
    t.is(#r.patch, 1, "one finalize call")
    local p = r.patch[1]
    t.is(p.resource, "v1/namespaces/finalize", "finalize subresource")
    t.is(p.name, "team", "namespace name")
    t.is(p.namespace, nil, "cluster-scoped")
    t.is(p.type, "put", "a PUT of the whole object")
    t.is_deeply(p.patch.spec.finalizers, { "example.com/x" }, "only the kubernetes finalizer removed")
    t.is(p.patch.metadata.resourceVersion, "9", "the cached resourceVersion")
    t.is(p.patch.metadata.name, "team", "the whole namespace object")
    t.is(ns.spec.finalizers[1], "kubernetes", "cached namespace untouched")
    t.is(r.requeue_after, nil, "no requeue after finalize")

    -- spec.finalizers is an array marked by the core's metatable: [] stays [].
    local ARRAY = {}
    ns.spec.finalizers = setmetatable({ "kubernetes" }, ARRAY)
    r = sync(ns, objects)
    t.is(#r.patch[1].patch.spec.finalizers, 0, "empty finalizers")
    t.is(getmetatable(r.patch[1].patch.spec.finalizers), ARRAY, "empty list keeps the array metatable")

    -- Already finalized: nothing.
    ns.spec.finalizers = {}
    r = sync(ns, objects)
    t.is(r.patch, nil, "no kubernetes finalizer: no finalize call")
end

-- ctx.resources decides: cluster-scoped resources are never listed.
do
    local ns = F.namespace("team", { deleting = true })
    local listed = {}
    local ctx = F.ctx({ resources = { { resource = "v1/pods", namespaced = true },
                                      { resource = "v1/persistentvolumes", namespaced = false } } })
    local list = ctx.list
    ctx.list = function(res, opts) listed[#listed + 1] = res .. "@" .. tostring(opts.namespace); return list(res, opts) end
    P.sync(ns, {}, ctx)
    t.is(table.concat(listed, ","), "v1/pods@team", "only namespaced resources listed, in the namespace")
end

t.ok(pcall(P.self_test), "namespace self_test")
t.is(P.parent, "v1/namespaces", "parent")
t.is(P.uses, "*", "uses every resource")

t.done_testing()
