-- policies/controllers/replicaset.lua: the ReplicaSet controller as a berth controller
-- policy (contract: docs/controllers.md). Keeps spec.replicas active pods from
-- spec.template, adopts matching orphans, releases pods that stopped matching, deletes
-- surplus pods in kube's order, and reports status (replicas, fullyLabeledReplicas,
-- readyReplicas, availableReplicas after minReadySeconds, observedGeneration).
-- The logic is lua/berth/controller/replicas.lua, shared with replicationcontroller.lua.

local replicas = require("berth.controller.replicas")

local policy = {
    -- One sync walks every child (10,000 pods for a big ReplicaSet): more than the 50 ms
    -- default, so a larger budget and memory cap (docs/policies.md).
    budget_ms = 1000, memory_mb = 512,
    parent = "apps/v1/replicasets",
    children = { "v1/pods" },
    adopt = true,
    selector = "labelSelector",
    child_events = replicas.CHILD_EVENTS,
}

function policy.sync(parent, children, ctx)
    return replicas.sync(parent, children, ctx, { shape = "labelSelector" })
end

-- Scaling 0 -> 2 creates two pods from the template; a hot reload is refused otherwise.
function policy.self_test()
    local rs = {
        metadata = { name = "t", namespace = "default", uid = "u1", generation = 1 },
        spec = {
            replicas = 2, selector = { matchLabels = { app = "t" } },
            template = { metadata = { labels = { app = "t" } }, spec = { containers = { { name = "c", image = "i" } } } },
        },
    }
    local r = policy.sync(rs, { ["v1/pods"] = {} }, { now = 0, orphans = {} })
    local pods = r.children["v1/pods"].entries
    assert(#pods == 2 and pods[1].metadata.generateName == "t-" and pods[1].metadata.labels.app == "t",
        "self_test: expected two pods from the template")
    assert(r.status.replicas == 0 and r.status.observedGeneration == 1, "self_test: status")
end

return policy
