-- policies/controllers/statefulset.lua: the StatefulSet controller as a berth controller
-- policy (contract: docs/controllers.md). Keeps pods "<set>-<ordinal>" for the ordinals
-- spec.ordinals.start .. start+replicas-1 (hostname = pod name, subdomain = serviceName),
-- in order and one at a time for OrderedReady, all at once for Parallel; deletes pods outside
-- that range from the highest ordinal; records each template in a ControllerRevision and rolls
-- pods to the newest one from the highest ordinal down to the partition (RollingUpdate) or
-- only as they are deleted (OnDelete); reports status (replicas, ready, available, current and
-- updated counts and revisions, collisionCount). The logic is
-- lua/berth/controller/statefulset.lua.

local statefulset = require("berth.controller.statefulset")

local policy = {
    budget_ms = 1000, memory_mb = 256,
    parent = "apps/v1/statefulsets",
    children = { statefulset.PODS, statefulset.REVISIONS },
    adopt = true,
    selector = "labelSelector",
    child_events = statefulset.CHILD_EVENTS,
}

function policy.sync(parent, children, ctx)
    return statefulset.sync(parent, children, ctx)
end

-- A new set of 2 (OrderedReady) creates its first revision and only web-0, at that revision;
-- a hot reload is refused otherwise.
function policy.self_test()
    local set = {
        metadata = { name = "t", namespace = "default", uid = "u1", generation = 1 },
        spec = {
            replicas = 2, serviceName = "svc", selector = { matchLabels = { app = "t" } },
            template = { metadata = { labels = { app = "t" } }, spec = { containers = { { name = "c", image = "i" } } } },
        },
    }
    local r = policy.sync(set, { [statefulset.PODS] = {}, [statefulset.REVISIONS] = {} }, { now = 0, orphans = {} })
    local pods = r.children[statefulset.PODS].entries
    local revs = r.children[statefulset.REVISIONS].entries
    assert(#revs == 1 and revs[1].revision == 1, "self_test: expected one new revision")
    assert(#pods == 1 and pods[1].metadata.name == "t-0" and pods[1].spec.hostname == "t-0" and
           pods[1].spec.subdomain == "svc", "self_test: expected pod t-0 only")
    assert(pods[1].metadata.labels[statefulset.REVISION_LABEL] == revs[1].metadata.name, "self_test: revision label")
    assert(r.status.replicas == 0 and r.status.updateRevision == revs[1].metadata.name, "self_test: status")
end

return policy
