-- policies/controllers/disruption.lua: the disruption controller as a berth controller
-- policy (contract: docs/controllers.md). For each PodDisruptionBudget (policy/v1), the
-- status the eviction endpoint reads: currentHealthy, desiredHealthy, expectedPods,
-- disruptionsAllowed, the disruptedPods still pending, and the DisruptionAllowed condition.
-- It owns no children and never writes pods: the selected pods are read through ctx.list,
-- their controllers' scale through ctx.get. The logic is lua/berth/controller/disruption.lua.

local disruption = require("berth.controller.disruption")

local policy = {
    -- A PDB may select every pod of a big ReplicaSet (10,000): as the Endpoints policy, a
    -- larger budget and memory cap than the defaults (docs/policies.md).
    budget_ms = 1000, memory_mb = 512,
    parent = "policy/v1/poddisruptionbudgets",
    -- No `children`: the status is the whole result (docs/controllers.md, "Contract
    -- extensions": sync is then called as sync(parent, {}, ctx)).
    selector = "labelSelector",    -- spec.selector: null selects nothing, {} every pod
    -- Any change of a pod the PDB selects (before or after the change) resyncs it.
    triggers = { ["v1/pods"] = { match = "selector" } },
    watches = { disruption.PODS },     -- the coarse form of triggers
    -- Read through ctx.get to find the pods' controllers and their spec.replicas.
    uses = { disruption.REPLICASETS, disruption.DEPLOYMENTS, disruption.REPLICATIONCONTROLLERS,
             disruption.STATEFULSETS },
}

function policy.sync(pdb, children, ctx)
    return disruption.sync(pdb, children, ctx)
end

-- maxUnavailable 1 over a Deployment of 3 whose 3 pods are ready: 1 disruption allowed.
function policy.self_test()
    local t0 = 1700000000
    local d = { metadata = { name = "web", namespace = "default", uid = "d-uid" }, spec = { replicas = 3 } }
    local rs = {
        metadata = { name = "web-abc", namespace = "default", uid = "rs-uid",
                     ownerReferences = { { apiVersion = "apps/v1", kind = "Deployment", name = "web",
                                           uid = "d-uid", controller = true } } },
        spec = { replicas = 3 },
    }
    local pods = {}
    for i = 1, 3 do
        pods[i] = {
            metadata = { name = "web-abc-" .. i, namespace = "default", uid = "p" .. i, labels = { app = "web" },
                         ownerReferences = { { apiVersion = "apps/v1", kind = "ReplicaSet", name = "web-abc",
                                               uid = "rs-uid", controller = true } } },
            status = { phase = "Running", conditions = { { type = "Ready", status = "True" } } },
        }
    end
    local pdb = {
        metadata = { name = "web", namespace = "default", uid = "pdb-uid", generation = 2 },
        spec = { maxUnavailable = 1, selector = { matchLabels = { app = "web" } } },
    }
    local objs = { ["apps/v1/deployments"] = d, ["apps/v1/replicasets"] = rs }
    local ctx = {
        now = t0, null = function() end,
        list = function() return pods end,
        get = function(res, _, name)
            local o = objs[res]
            return o and o.metadata.name == name and o or nil
        end,
    }
    local s = policy.sync(pdb, {}, ctx).status
    assert(s.expectedPods == 3 and s.desiredHealthy == 2 and s.currentHealthy == 3
        and s.disruptionsAllowed == 1 and s.observedGeneration == 2, "self_test: counts")
    local c = s.conditions[1]
    assert(c.type == "DisruptionAllowed" and c.status == "True" and c.reason == "SufficientPods",
        "self_test: condition")
end

return policy
