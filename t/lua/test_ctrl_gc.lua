-- t/lua/test_ctrl_gc.lua: policies/controllers/garbagecollector.lua
-- (lua/berth/controller/gc.lua): background deletion of objects whose owners are all gone,
-- pruning dangling references when some owner lives, objects without owners untouched,
-- owners that cannot be checked, cross-namespace owners, foreground deletion (dependents
-- deleted, the finalizer removed only once blocking dependents are gone, down a chain),
-- orphaning (references stripped, then the finalizer), skipped resources. The whole-cluster
-- runs use F.store, which applies result.delete / result.patch as the API server would.
-- Run by t/0195-controller-policies.t.
local t = require("tap")
local okF, F = pcall(require, "ctrl_fixture")
local okP, P = pcall(require, "controllers.garbagecollector")
if not (okF and okP) then
    t.ok(true, "controller policy tests # SKIP policies/ not on the module path (t/0195 runs them)")
    t.done_testing()
end
local RS, PODS, DEP = "apps/v1/replicasets", "v1/pods", "apps/v1/deployments"

local function sync(store, obj, o)
    local e = store:find(obj.metadata.uid)
    return P.sync(obj, {}, store:ctx(e, o))
end

local function names(list)
    local out = {}
    for i, d in ipairs(list or {}) do out[i] = d.name end
    table.sort(out)
    return table.concat(out, ",")
end

-- Background: owner gone -> delete with uid precondition; owner alive -> nothing.
do
    local s = F.store()
    local rs = s:add(RS, "rs", { apiVersion = "apps/v1", kind = "ReplicaSet" })
    local kept = s:add(PODS, "kept", { owners = { { rs, block = true, controller = true } } })
    local ghost = { apiVersion = "apps/v1", kind = "ReplicaSet", metadata = { name = "old", uid = "gone-1" } }
    local orphaned = s:add(PODS, "orphaned", { owners = { { ghost, block = true, controller = true } } })
    local free = s:add(PODS, "free")
    t.is_deeply(sync(s, kept), {}, "owner alive: nothing")
    t.is_deeply(sync(s, free), {}, "no ownerReferences: never touched")
    local r = sync(s, orphaned)
    t.is(#r.delete, 1, "owner gone: one delete")
    local d = r.delete[1]
    t.is(d.resource .. " " .. d.namespace .. "/" .. d.name, "v1/pods default/orphaned", "the orphaned pod")
    t.is(d.uid, orphaned.metadata.uid, "uid precondition")
    t.is(d.propagation, "Background", "propagation Background")
    t.is(r.patch, nil, "no patch")

    -- Cluster-scoped object: no namespace in the delete.
    local pv = s:add("v1/persistentvolumes", "pv", { ns = false, owners = { { ghost } } })
    r = sync(s, pv)
    t.is(r.delete[1].namespace, nil, "cluster-scoped: namespace nil")

    -- Being deleted already (background): nothing more to do.
    local dying = s:add(PODS, "dying", { owners = { { ghost } }, deleting = true })
    t.is_deeply(sync(s, dying), {}, "terminating without GC finalizers: nothing")
end

-- Some owners alive: only the dangling references are removed (merge patch, full list).
do
    local s = F.store()
    local a = s:add("v1/configmaps", "a")
    local ghost = { metadata = { name = "b", uid = "gone-2" } }
    local obj = s:add("v1/secrets", "x", { owners = { { a }, { ghost }, { { metadata = { name = "c", uid = "gone-3" } } } } })
    local r = sync(s, obj)
    t.is(r.delete, nil, "partial owners: no delete")
    t.is(#r.patch, 1, "one patch")
    local p = r.patch[1]
    t.is(p.resource .. " " .. p.name, "v1/secrets x", "patch targets the object")
    t.is(p.type, "merge", "merge patch")
    local refs = p.patch.metadata.ownerReferences
    t.is(#refs, 1, "only the live owner's reference remains")
    t.is(refs[1].uid, a.metadata.uid, "the live owner")
    t.is(p.patch.metadata.uid, obj.metadata.uid, "uid precondition in the patch")
    t.is(p.patch.metadata.resourceVersion, "1", "resourceVersion precondition in the patch")
    s:apply(r)
    t.is(#obj.metadata.ownerReferences, 1, "applied: one reference left")
    t.is_deeply(sync(s, obj), {}, "next sync: nothing")
end

-- An owner the runtime cannot check (ctx.owner false) counts as alive.
do
    local s = F.store()
    local ghost = { metadata = { name = "g", uid = "unknown-1" } }
    local obj = s:add(PODS, "p", { owners = { { ghost } } })
    t.is_deeply(sync(s, obj, { unknown = { ["unknown-1"] = true } }), {}, "owner unknown: kept")
end

-- An owner found in another namespace counts as absent (kube's rule).
do
    local s = F.store()
    local other = s:add("v1/configmaps", "cm", { ns = "elsewhere" })
    local obj = s:add(PODS, "p", { owners = { { other } } })
    local r = sync(s, obj)
    t.is(names(r.delete), "p", "owner in another namespace: deleted")
    local node = s:add("v1/nodes", "node1", { ns = false })
    local lease = s:add("coordination.k8s.io/v1/leases", "node1", { ns = "kube-node-lease", owners = { { node } } })
    t.is_deeply(sync(s, lease), {}, "cluster-scoped owner of a namespaced object: valid")
end

-- Skipped resources.
do
    local s = F.store()
    local ghost = { metadata = { name = "g", uid = "gone-4" } }
    local ev = s:add("v1/events", "e", { owners = { { ghost } } })
    local le = s:add("coordination.k8s.io/v1/leases", "leader", { ns = "kube-system", owners = { { ghost } } })
    local nl = s:add("coordination.k8s.io/v1/leases", "n9", { ns = "kube-node-lease", owners = { { ghost } } })
    t.is_deeply(sync(s, ev), {}, "events are never touched")
    t.is_deeply(sync(s, le), {}, "kube-system leases are never touched")
    t.is(names(sync(s, nl).delete), "n9", "a node lease whose node is gone is collected")
end

-- Whole cluster: deleting a Deployment (background) cascades through the store.
do
    local s = F.store()
    local dep = s:add(DEP, "web", { apiVersion = "apps/v1", kind = "Deployment" })
    local rs = s:add(RS, "web-1", { apiVersion = "apps/v1", kind = "ReplicaSet", owners = { { dep, block = true, controller = true } } })
    s:add(PODS, "web-1-a", { owners = { { rs, block = true, controller = true } } })
    s:add(PODS, "web-1-b", { owners = { { rs, block = true, controller = true } } })
    t.is(s:run(P), 1, "steady cluster: one quiet round")
    s:apply({ delete = { { resource = DEP, namespace = "default", name = "web" } } })
    t.ok(s:run(P) ~= nil, "background cascade settles")
    t.is(#s.entries, 0, "deployment, replicaset and pods all gone")
end

-- Foreground: the owner waits for blocking dependents; non-blocking ones are not waited for.
do
    local s = F.store()
    local rs = s:add(RS, "rs", { apiVersion = "apps/v1", kind = "ReplicaSet",
        deleting = true, finalizers = { "foregroundDeletion", "example.com/keep" } })
    local a = s:add(PODS, "a", { owners = { { rs, block = true, controller = true } } })
    local b = s:add(PODS, "b", { owners = { { rs, block = false } } })
    local r = sync(s, rs)
    t.is(names(r.delete), "a,b", "foreground: both dependents deleted")
    local by = {}
    for _, d in ipairs(r.delete) do by[d.name] = d end
    t.is(by.a.propagation, "Foreground", "blocking dependent deleted in foreground")
    t.is(by.b.propagation, "Background", "non-blocking dependent deleted in background")
    t.is(by.a.uid, a.metadata.uid, "dependent delete carries its uid")
    t.is(r.patch, nil, "blocking dependent present: finalizer kept")

    -- a is terminating but still there: still blocks, no second delete.
    a.metadata.deletionTimestamp = F.iso(F.T0)
    a.metadata.finalizers = { "foregroundDeletion" }
    r = sync(s, rs)
    t.is(names(r.delete), "b", "terminating dependent not deleted again")
    t.is(r.patch, nil, "terminating blocking dependent still blocks")

    -- a gone, b (non-blocking) still there: the finalizer goes.
    local _, i = s:find(a.metadata.uid)
    table.remove(s.entries, i)
    b.metadata.deletionTimestamp = F.iso(F.T0)
    r = sync(s, rs)
    t.is(r.delete, nil, "nothing left to delete")
    t.is(#r.patch, 1, "finalizer patch")
    local p = r.patch[1]
    t.is(p.resource .. " " .. p.name, RS .. " rs", "patch on the owner")
    t.is_deeply(p.patch.metadata.finalizers, { "example.com/keep" }, "only foregroundDeletion removed")
    t.is(p.patch.metadata.uid, rs.metadata.uid, "uid precondition")

    -- Only foregroundDeletion: null.
    rs.metadata.finalizers = { "foregroundDeletion" }
    r = sync(s, rs)
    t.is(r.patch[1].patch.metadata.finalizers, F.NULL, "last finalizer removed: null")
end

-- Foreground: a dependent with another live owner is not deleted and does not block; its
-- own sync unblocks the reference.
do
    local s = F.store()
    local rs = s:add(RS, "rs", { deleting = true, finalizers = { "foregroundDeletion" } })
    local other = s:add("v1/configmaps", "other")
    local shared = s:add(PODS, "shared", { owners = { { rs, block = true }, { other } } })
    local r = sync(s, rs)
    t.is(r.delete, nil, "dependent with another live owner: not deleted")
    t.is(#r.patch, 1, "and not waited for: finalizer removed")
    r = sync(s, shared)
    t.is(r.delete, nil, "dependent side: kept (solid owner)")
    t.is(r.patch[1].patch.metadata.ownerReferences[1].blockOwnerDeletion, false, "reference to the waiting owner unblocked")
    t.is(r.patch[1].patch.metadata.ownerReferences[2].uid, other.metadata.uid, "other reference kept")
end

-- Dependent side of a foreground deletion: Foreground when it has dependents, else its own.
do
    local s = F.store()
    local dep = s:add(DEP, "d", { deleting = true, finalizers = { "foregroundDeletion" } })
    local rs = s:add(RS, "rs", { owners = { { dep, block = true } } })
    s:add(PODS, "p", { owners = { { rs, block = true } } })
    local r = sync(s, rs)
    t.is(r.delete[1].propagation, "Foreground", "waiting owner and own dependents: Foreground")
    local s2 = F.store()
    local dep2 = s2:add(DEP, "d", { deleting = true, finalizers = { "foregroundDeletion" } })
    local leaf = s2:add(RS, "rs", { owners = { { dep2, block = true } } })
    t.is(sync(s2, leaf).delete[1].propagation, "Background", "waiting owner, no dependents: Background")
end

-- Whole cluster foreground chain: the Deployment goes last.
do
    local s = F.store()
    local dep = s:add(DEP, "web", { apiVersion = "apps/v1", kind = "Deployment" })
    local rs = s:add(RS, "web-1", { owners = { { dep, block = true, controller = true } } })
    s:add(PODS, "web-1-a", { owners = { { rs, block = true, controller = true } } })
    s:add(PODS, "web-1-b", { owners = { { rs, block = true, controller = true } } })
    s:apply({ delete = { { resource = DEP, namespace = "default", name = "web", propagation = "Foreground" } } })
    t.ok(s:by_name("web") ~= nil, "foreground: the deployment stays with its finalizer")
    t.ok(s:run(P) ~= nil, "foreground cascade settles")
    t.is(#s.entries, 0, "everything gone")
    local order = {}
    for _, l in ipairs(s.log) do
        local n = l:match("^gone (.*)$")
        if n then order[#order + 1] = n end
    end
    t.is(table.concat(order, ","), "web-1-a,web-1-b,web-1,web", "pods, then the replicaset, then the deployment")
end

-- Orphan: references stripped first, then the finalizer.
do
    local s = F.store()
    local rs = s:add(RS, "rs", { deleting = true, finalizers = { "orphan" } })
    local other = s:add("v1/configmaps", "cm")
    local a = s:add(PODS, "a", { owners = { { rs, block = true, controller = true } } })
    local b = s:add(PODS, "b", { owners = { { other }, { rs } } })
    local r = sync(s, rs)
    t.is(r.delete, nil, "orphan: nothing deleted")
    t.is(names(r.patch), "a,b", "both dependents patched")
    local by = {}
    for _, p in ipairs(r.patch) do by[p.name] = p end
    t.is(by.a.patch.metadata.ownerReferences, F.NULL, "a: no reference left (null)")
    t.is(#by.b.patch.metadata.ownerReferences, 1, "b: the other owner kept")
    t.is(by.b.patch.metadata.ownerReferences[1].uid, other.metadata.uid, "b: the other owner")
    t.is(by.a.patch.metadata.resourceVersion, "1", "preconditions on dependents")
    s:apply(r)
    r = sync(s, rs)
    t.is(#r.patch, 1, "no dependents left: one patch")
    t.is(r.patch[1].name, "rs", "on the owner")
    t.is(r.patch[1].patch.metadata.finalizers, F.NULL, "orphan finalizer removed")
    s:apply(r)
    t.is(s:by_name("rs"), nil, "owner gone")
    t.ok(s:by_name("a") ~= nil and s:by_name("b") ~= nil, "dependents stay")
    t.is(s:run(P), 1, "nothing more to collect")
end

t.ok(pcall(P.self_test), "garbagecollector self_test")
t.is(P.parent, "*", "parent is *")

t.done_testing()
