-- policies/controllers/daemonset.lua: the DaemonSet controller as a berth controller policy
-- (contract: docs/controllers.md). Runs one pod of spec.template on every node whose labels,
-- required affinity and taints admit it (pods pinned by a matchFields metadata.name
-- affinity, bound by the scheduler), replaces failed pods, removes pods from nodes that no
-- longer fit or exist, rolls template changes (RollingUpdate with maxUnavailable or
-- maxSurge, or OnDelete), keeps ControllerRevision history, and reports status. Nodes are
-- read with ctx.list and watched, so a node added, removed, relabelled or tainted resyncs
-- every DaemonSet. The logic is lua/berth/controller/daemonset.lua.

local daemonset = require("berth.controller.daemonset")

local policy = {
    -- A sync walks every node and every pod of the DaemonSet (one per node).
    budget_ms = 1000, memory_mb = 512,
    parent = daemonset.DS,
    children = { daemonset.PODS, daemonset.REVISIONS },
    adopt = true,
    selector = "labelSelector",
    uses = { daemonset.NODES },
    watches = { daemonset.NODES },
    child_events = daemonset.CHILD_EVENTS,
}

function policy.sync(parent, children, ctx)
    return daemonset.sync(parent, children, ctx)
end

-- Two schedulable nodes and a tainted one: two pods pinned to their nodes, and revision 1.
function policy.self_test()
    local ds = {
        metadata = { name = "t", namespace = "default", uid = "u1", generation = 1 },
        spec = {
            selector = { matchLabels = { app = "t" } },
            template = { metadata = { labels = { app = "t" } }, spec = { containers = { { name = "c", image = "i" } } } },
        },
    }
    local nodes = {
        { metadata = { name = "a" } }, { metadata = { name = "b" } },
        { metadata = { name = "c" }, spec = { taints = { { key = "k", effect = "NoSchedule" } } } },
    }
    local ctx = { now = 0, orphans = {}, list = function() return nodes end }
    local r = policy.sync(ds, { [daemonset.PODS] = {}, [daemonset.REVISIONS] = {} }, ctx)
    local pods = r.children[daemonset.PODS].entries
    assert(#pods == 2, "self_test: expected two pods")
    local term = pods[1].spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[1]
    assert(term.matchFields[1].values[1] == "a" and pods[1].metadata.generateName == "t-", "self_test: pinned to a")
    local rev = r.children[daemonset.REVISIONS].entries[1]
    assert(rev and rev.revision == 1 and pods[1].metadata.labels["controller-revision-hash"] ==
        rev.metadata.labels["controller-revision-hash"], "self_test: revision 1 and its hash on the pods")
    assert(r.status.desiredNumberScheduled == 2 and r.status.currentNumberScheduled == 0, "self_test: status")
end

return policy
