-- policies/controllers/deployment.lua: the Deployment controller as a berth controller
-- policy (contract: docs/controllers.md). Owns ReplicaSets: creates the new one named
-- "<deployment>-<pod-template-hash>", rolls (RollingUpdate with maxSurge/maxUnavailable) or
-- recreates, scales proportionally while paused or on a scaling event, reuses an old RS on
-- rollback, prunes old RSes beyond revisionHistoryLimit, keeps the revision annotations and
-- the Progressing/Available conditions. The logic is lua/berth/controller/deployment.lua.

local deployment = require("berth.controller.deployment")

local policy = {
    -- One sync walks every child (10,000 pods for a big ReplicaSet): more than the 50 ms
    -- default, so a larger budget and memory cap (docs/policies.md).
    budget_ms = 1000, memory_mb = 512,
    parent = "apps/v1/deployments",
    children = { "apps/v1/replicasets" },
    adopt = true,
    selector = "labelSelector",
    -- Recreate waits for the old pods to be gone: a deleted pod of the deployment resyncs it.
    triggers = { ["v1/pods"] = { match = "selector", on = { "DELETED" } } },
    watches = { "v1/pods" },     -- the coarse form of triggers (docs/controllers.md)
}

function policy.sync(parent, children, ctx)
    return deployment.sync(parent, children, ctx)
end

-- A new deployment gets its first ReplicaSet at full size (surge allows it) and revision 1.
function policy.self_test()
    local d = {
        metadata = { name = "t", namespace = "default", uid = "u1", generation = 1 },
        spec = {
            replicas = 3, selector = { matchLabels = { app = "t" } },
            template = { metadata = { labels = { app = "t" } }, spec = { containers = { { name = "c", image = "i" } } } },
        },
    }
    local r = policy.sync(d, { ["apps/v1/replicasets"] = {} }, { now = 0, orphans = {} })
    local rs = r.children["apps/v1/replicasets"][1]
    assert(rs and rs.spec.replicas == 3, "self_test: expected a new ReplicaSet of 3")
    assert(rs.metadata.name == "t-" .. rs.spec.template.metadata.labels["pod-template-hash"], "self_test: name")
    assert(r.parent_patch.metadata.annotations["deployment.kubernetes.io/revision"] == "1", "self_test: revision")
end

return policy
