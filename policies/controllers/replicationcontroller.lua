-- policies/controllers/replicationcontroller.lua: the ReplicationController controller as a
-- berth controller policy (contract: docs/controllers.md). The same controller as
-- replicaset.lua (kube runs RCs through the ReplicaSet controller) with a plain-map
-- spec.selector, which defaults to the template's labels when empty.

local replicas = require("berth.controller.replicas")

local policy = {
    -- One sync walks every child (10,000 pods for a big ReplicaSet): more than the 50 ms
    -- default, so a larger budget and memory cap (docs/policies.md).
    budget_ms = 1000, memory_mb = 512,
    parent = "v1/replicationcontrollers",
    children = { "v1/pods" },
    adopt = true,
    selector = "map",
    child_events = replicas.CHILD_EVENTS,
}

function policy.sync(parent, children, ctx)
    return replicas.sync(parent, children, ctx, { shape = "map" })
end

-- A map selector adopts a matching orphan and creates the missing pod.
function policy.self_test()
    local rc = {
        metadata = { name = "t", namespace = "default", uid = "u1", generation = 1 },
        spec = {
            replicas = 2, selector = { app = "t" },
            template = { metadata = { labels = { app = "t" } }, spec = { containers = { { name = "c", image = "i" } } } },
        },
    }
    local orphan = { metadata = { name = "o", namespace = "default", labels = { app = "t" } }, status = { phase = "Running" } }
    local r = policy.sync(rc, { ["v1/pods"] = {} }, { now = 0, orphans = { ["v1/pods"] = { orphan } } })
    assert(r.adopt and r.adopt["v1/pods"][1] == "o", "self_test: expected the orphan adopted")
    local want = r.children["v1/pods"]
    assert(want.rest == "keep" and #want.entries == 1 and #want.delete == 0,
        "self_test: expected the orphan kept and one pod created")
end

return policy
