-- policies/controllers/namespace.lua: the namespace controller as a berth controller policy
-- (contract: docs/controllers.md, "Contract extensions"). For a namespace being deleted:
-- phase Terminating with kube's deletion conditions, every object of every namespaced
-- resource in it deleted, and once nothing is left the finalize call that removes the
-- "kubernetes" finalizer from spec.finalizers (the API server then removes the namespace).
-- The logic is lua/berth/controller/namespace.lua.

local nsc = require("berth.controller.namespace")

local policy = {
    -- One sync walks every child (10,000 pods for a big ReplicaSet): more than the 50 ms
    -- default, so a larger budget and memory cap (docs/policies.md).
    budget_ms = 1000, memory_mb = 512,
    parent = "v1/namespaces",
    uses = "*",
}

function policy.sync(ns, _, ctx)
    return nsc.sync(ns, ctx)
end

-- A deleting namespace with one pod deletes the pod and waits; empty, it is finalized.
-- A hot reload is refused otherwise.
function policy.self_test()
    local ns = {
        metadata = { name = "team", uid = "ns-1", deletionTimestamp = "2023-11-14T22:13:20Z" },
        spec = { finalizers = { "kubernetes" } },
        status = { phase = "Terminating" },
    }
    local pods = { { metadata = { name = "p", namespace = "team", uid = "p-1" } } }
    local ctx = {
        now = 1700000000, null = function() end,
        resources = function() return { { resource = "v1/pods", namespaced = true },
                                         { resource = "v1/nodes", namespaced = false } } end,
        list = function(res) return res == "v1/pods" and pods or {} end,
    }
    local r = policy.sync(ns, {}, ctx)
    assert(r.delete and #r.delete == 1 and r.delete[1].name == "p" and r.patch == nil, "self_test: delete content")
    assert(r.status.phase == "Terminating" and r.requeue_after, "self_test: phase and requeue")
    pods = {}
    ns.status = policy.sync(ns, {}, ctx).status
    r = policy.sync(ns, {}, ctx)
    assert(r.patch and r.patch[1].resource == "v1/namespaces/finalize" and r.patch[1].type == "put"
        and #r.patch[1].patch.spec.finalizers == 0, "self_test: finalize")
end

return policy
