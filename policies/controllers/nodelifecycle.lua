-- policies/controllers/nodelifecycle.lua: the node lifecycle controller as a berth
-- controller policy (contract: docs/controllers.md and its "Contract extensions"). Marks
-- nodes whose kubelet stopped posting (no heartbeat in the node's Ready condition or its
-- kube-node-lease Lease for node_monitor_grace_period) Unknown, keeps the condition taints
-- (not-ready / unreachable NoExecute and NoSchedule, pressure and unschedulable NoSchedule)
-- in spec.taints, and evicts the pods that do not tolerate a NoExecute taint, at once or
-- after their tolerationSeconds. The logic is lua/berth/controller/nodelifecycle.lua.

local nlc = require("berth.controller.nodelifecycle")

local policy = {
    parent = "v1/nodes",
    watches = { nlc.LEASES },
    uses = { nlc.PODS },
}

function policy.sync(node, _, ctx)
    return nlc.sync(node, ctx)
end

-- A node silent for 100 s goes Unknown, gets the unreachable taints, and its untolerating
-- pod is evicted; a hot reload is refused otherwise.
function policy.self_test()
    local null = function() end
    local t0 = 1700000000
    local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end
    local node = {
        metadata = { name = "n1", uid = "n-uid", creationTimestamp = iso(t0 - 3600) },
        spec = {},
        status = { conditions = { { type = "Ready", status = "True", reason = "KubeletReady",
            lastHeartbeatTime = iso(t0 - 100), lastTransitionTime = iso(t0 - 3000) } } },
    }
    local pod = {
        metadata = { name = "p", namespace = "default", uid = "p-uid" },
        spec = { nodeName = "n1", tolerations = { { key = "node.kubernetes.io/unreachable",
            operator = "Exists", effect = "NoExecute" } } },
    }
    local evictee = { metadata = { name = "q", namespace = "default", uid = "q-uid" },
        spec = { nodeName = "n1", tolerations = { { key = "node.kubernetes.io/unreachable",
            operator = "Exists", effect = "NoExecute", tolerationSeconds = 0 } } } }
    local ctx = {
        now = t0, null = null, settings = { node_monitor_grace_period = 40 },
        list = function() return { pod, evictee } end,
        get = function() return nil end,
    }
    local r = policy.sync(node, {}, ctx)
    local ready = r.status and r.status.conditions[1]
    assert(ready and ready.status == "Unknown" and ready.reason == "NodeStatusUnknown", "self_test: Ready Unknown")
    local taints = r.parent_patch and r.parent_patch.spec.taints
    assert(type(taints) == "table" and #taints == 2 and taints[2].key == "node.kubernetes.io/unreachable"
        and taints[2].effect == "NoExecute", "self_test: unreachable taints")
    assert(r.delete and #r.delete == 1 and r.delete[1].name == "q", "self_test: eviction")
    assert(r.events and r.events[1].reason == "NodeNotReady", "self_test: NodeNotReady event")
end

return policy
