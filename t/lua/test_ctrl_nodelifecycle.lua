-- t/lua/test_ctrl_nodelifecycle.lua: policies/controllers/nodelifecycle.lua
-- (lua/berth/controller/nodelifecycle.lua): heartbeats fresh or stale through the Ready
-- condition or the Lease, conditions set Unknown, the NodeNotReady event, condition and
-- cordon taints added and removed (other taints kept in order), evictions at once or after
-- tolerationSeconds from timeAdded with requeue_after, DefaultTolerationSeconds, terminating
-- and tolerate-everything pods, pods marked not ready. Run by t/0195-controller-policies.t.
local t = require("tap")
local okF, F = pcall(require, "ctrl_fixture")
local okP, P = pcall(require, "controllers.nodelifecycle")
if not (okF and okP) then
    t.ok(true, "controller policy tests # SKIP policies/ not on the module path (t/0195 runs them)")
    t.done_testing()
end
local nlc = require("berth.controller.nodelifecycle")
local C = require("berth.controller.common")
local T0 = F.T0
local NR, UR = "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"

local function sync(node, o)
    o = o or {}
    nlc.reset()
    local objects = { ["v1/pods"] = o.pods or {} }
    if o.lease then
        objects["coordination.k8s.io/v1/leases"] = { o.lease }
    end
    local ctx = F.ctx({ now = o.now or T0, objects = objects, settings = o.settings })
    return P.sync(node, {}, ctx)
end

-- "key:effect" of each taint, in order.
local function taints(list)
    local out = {}
    for i, x in ipairs(list or {}) do out[i] = x.key .. ":" .. x.effect end
    return table.concat(out, ",")
end

local function new_taints(r)
    return r.parent_patch and r.parent_patch.spec.taints
end

local function deleted(r)
    local out = {}
    for i, d in ipairs(r.delete or {}) do out[i] = d.name end
    table.sort(out)
    return table.concat(out, ",")
end

local function pod(name, o)
    o = o or {}
    local p = F.pod(name, { node = o.node or "n1", ready = o.ready, deleting = o.deleting, ns = o.ns })
    p.spec.tolerations = o.tolerations
    return p
end

local function tol(key, secs, effect)
    return { key = key, operator = "Exists", effect = effect or "NoExecute", tolerationSeconds = secs }
end

-- A fresh heartbeat: nothing to write; requeue when the grace period would run out.
do
    local n = F.node("n1", { ready = "True", heartbeat = T0 - 10 })
    local r = sync(n)
    t.is(r.status, nil, "fresh: no status write")
    t.is(r.parent_patch, nil, "fresh: no taint change")
    t.is(r.delete, nil, "fresh: no eviction")
    t.is(r.requeue_after, 31, "fresh: requeue at heartbeat + grace - now + 1")
    r = sync(n, { settings = { node_monitor_grace_period = 100 } })
    t.is(r.requeue_after, 91, "grace period from ctx.settings")
end

-- Stale through the Ready condition: Unknown conditions, event, unreachable taints.
do
    local n = F.node("n1", { ready = "True", heartbeat = T0 - 41 })
    local r = sync(n)
    t.ok(r.status ~= nil, "stale: status written")
    local conds = r.status.conditions
    for _, ty in ipairs({ "Ready", "MemoryPressure", "DiskPressure", "PIDPressure" }) do
        local c = C.get_condition(conds, ty)
        t.is(c.status, "Unknown", "stale: " .. ty .. " Unknown")
        t.is(c.reason, "NodeStatusUnknown", "stale: " .. ty .. " reason")
    end
    local ready = C.get_condition(conds, "Ready")
    t.is(ready.message, "Kubelet stopped posting node status.", "stale: message")
    t.is(ready.lastTransitionTime, F.iso(T0), "stale: lastTransitionTime = now")
    t.is(ready.lastHeartbeatTime, F.iso(T0 - 41), "stale: lastHeartbeatTime kept")
    t.is(n.status.conditions[1].status, "True", "the cached node is not modified")
    t.is(r.status.nodeInfo.kubeletVersion, "v1.31.0", "the rest of status is kept")
    t.is(r.events and r.events[1].reason, "NodeNotReady", "NodeNotReady event")
    t.is(r.events[1].message, "Node n1 status is now: NodeNotReady", "NodeNotReady message")
    local nt = new_taints(r)
    t.is(taints(nt), UR .. ":NoSchedule," .. UR .. ":NoExecute", "unreachable NoSchedule and NoExecute")
    t.is(nt[2].timeAdded, F.iso(T0), "NoExecute taint has timeAdded")
    t.is(nt[1].timeAdded, nil, "NoSchedule taint has no timeAdded (as kube)")
    t.is(r.requeue_after, nil, "stale, no pods: nothing to wait for")

    -- Already Unknown: no status write, no second event; taints in place stay.
    n.status.conditions = conds
    n.spec.taints = nt
    local r2 = sync(n, { now = T0 + 5 })
    t.is(r2.status, nil, "already Unknown: no status write")
    t.is(r2.events, nil, "already Unknown: no event")
    t.is(r2.parent_patch, nil, "already tainted: no patch")
end

-- Stale condition but a fresh Lease: healthy. Lease older than the condition: stale.
do
    local n = F.node("n1", { ready = "True", heartbeat = T0 - 300 })
    local r = sync(n, { lease = F.lease("n1", T0 - 5) })
    t.is(r.status, nil, "fresh lease: not stale")
    t.is(r.requeue_after, 37, "fresh lease: requeue from renewTime (micro time, rounded up)")
    r = sync(n, { lease = F.lease("n1", T0 - 60) })
    t.is(C.get_condition(r.status.conditions, "Ready").status, "Unknown", "stale lease and condition: Unknown")
    local n2 = F.node("n1", { ready = "True", heartbeat = T0 - 5 })
    r = sync(n2, { lease = F.lease("n1", T0 - 600) })
    t.is(r.status, nil, "old lease, fresh condition: heartbeat is the max")
end

-- A node that never posted status: startup grace from creation, NodeStatusNeverUpdated.
do
    local n = F.node("n1", { created = T0 - 30 })
    local r = sync(n)
    t.is(r.status, nil, "new node within the startup grace")
    n = F.node("n1", { created = T0 - 61 })
    r = sync(n)
    local ready = C.get_condition(r.status.conditions, "Ready")
    t.is(ready.status .. "/" .. ready.reason, "Unknown/NodeStatusNeverUpdated", "never posted: NeverUpdated")
    t.is(ready.message, "Kubelet never posted node status.", "never posted: message")
    t.is(r.events, nil, "never ready: no NodeNotReady event")
end

-- Ready=False from the kubelet: not-ready taints; back to True: removed, others kept.
do
    local custom = { key = "dedicated", value = "gpu", effect = "NoSchedule" }
    local n = F.node("n1", { ready = "False", taints = { custom } })
    local r = sync(n)
    t.is(r.status, nil, "NotReady posted by the kubelet: no status write")
    t.is(taints(new_taints(r)), "dedicated:NoSchedule," .. NR .. ":NoSchedule," .. NR .. ":NoExecute",
        "not-ready taints appended after the user's")
    t.is(new_taints(r)[1], custom, "the user's taint is kept as it is")
    -- The kubelet goes silent: not-ready swapped for unreachable.
    n.spec.taints = new_taints(r)
    n.status.conditions[1].lastHeartbeatTime = F.iso(T0 - 100)
    r = sync(n)
    t.is(taints(new_taints(r)), "dedicated:NoSchedule," .. UR .. ":NoSchedule," .. UR .. ":NoExecute",
        "unreachable replaces not-ready")
    -- Ready again.
    local n2 = F.node("n1", { ready = "True", taints = { { key = UR, effect = "NoSchedule" }, custom,
        { key = UR, effect = "NoExecute", timeAdded = F.iso(T0 - 50) } } })
    r = sync(n2)
    t.is(taints(new_taints(r)), "dedicated:NoSchedule", "Ready again: condition taints removed, user's kept")
    local n3 = F.node("n1", { ready = "True", taints = { { key = UR, effect = "NoExecute", timeAdded = F.iso(T0 - 50) } } })
    r = sync(n3)
    t.is(r.parent_patch and r.parent_patch.spec.taints, F.NULL, "no taints left: spec.taints null")
end

-- Pressure conditions and cordon.
do
    local n = F.node("n1", { ready = "True", conditions = { { type = "MemoryPressure", status = "True" } },
        unschedulable = true })
    local r = sync(n)
    t.is(taints(new_taints(r)), "node.kubernetes.io/memory-pressure:NoSchedule,node.kubernetes.io/unschedulable:NoSchedule",
        "memory-pressure and unschedulable taints")
    n.spec.taints = new_taints(r)
    t.is(sync(n).parent_patch, nil, "taints in place: no patch")
    n.spec.unschedulable = nil
    n.status.conditions[2].status = "False"
    r = sync(n)
    t.is(r.parent_patch.spec.taints, F.NULL, "uncordoned and no pressure: taints removed")
end

-- Evictions.
do
    local n = F.node("n1", { ready = "True", heartbeat = T0 - 100 })
    local pods = {
        pod("plain"),                                                   -- default 300 s
        pod("never", { tolerations = { { operator = "Exists" } } }),    -- DaemonSet style
        pod("short", { tolerations = { tol(UR, 60) } }),
        pod("zero", { tolerations = { tol(UR, 0) } }),
        pod("forever", { tolerations = { tol(UR) } }),
        pod("going", { deleting = true }),
        pod("other", { node = "n2" }),
    }
    -- First sync: the taint is new (timeAdded now): only tolerationSeconds 0 goes.
    local r = sync(n, { pods = pods })
    t.is(deleted(r), "zero", "new unreachable taint: tolerationSeconds 0 evicted at once")
    t.is(r.requeue_after, 60, "requeue for the earliest pending eviction")
    t.is(r.delete[1].uid, pods[4].metadata.uid, "delete carries the pod's uid")
    t.is(r.delete[1].namespace, "default", "delete carries the namespace")
    t.is(r.delete[1].resource, "v1/pods", "delete resource")

    -- The taint has been there 60 s.
    n.status.conditions = r.status.conditions
    n.spec.taints = new_taints(r)
    n.spec.taints[2].timeAdded = F.iso(T0 - 60)
    r = sync(n, { pods = pods })
    t.is(deleted(r), "short,zero", "after 60 s: the 60 s toleration runs out")
    t.is(r.requeue_after, 240, "next: DefaultTolerationSeconds 300 from timeAdded")
    r = sync(n, { pods = pods, now = T0 + 241 })
    t.is(deleted(r), "plain,short,zero", "after 300 s: pods without a toleration go (default toleration)")
    t.is(r.requeue_after, nil, "nothing left to wait for")
    r = sync(n, { pods = pods, settings = { default_toleration_seconds = 30 } })
    t.is(deleted(r), "plain,short,zero", "default_toleration_seconds from ctx.settings")
end

-- A NoExecute taint the pod does not tolerate: evicted at once; tolerated: kept.
do
    local n = F.node("n1", { ready = "True", taints = { { key = "maint", effect = "NoExecute", timeAdded = F.iso(T0) } } })
    local pods = { pod("a"), pod("b", { tolerations = { { key = "maint", operator = "Exists" } } }),
                   pod("c", { tolerations = { { key = "maint", operator = "Exists", tolerationSeconds = 30 } } }) }
    local r = sync(n, { pods = pods })
    t.is(deleted(r), "a", "untolerated NoExecute taint: evicted at once")
    t.is(r.parent_patch, nil, "user NoExecute taint left alone")
    t.is(r.requeue_after, 30, "tolerationSeconds 30 pending")
    -- Without timeAdded, the first time seen counts (kept across syncs of one VM).
    n.spec.taints[1].timeAdded = nil
    local ctx = F.ctx({ now = T0, objects = { ["v1/pods"] = pods } })
    nlc.reset()
    P.sync(n, {}, ctx)
    ctx.now = T0 + 31
    r = P.sync(n, {}, ctx)
    t.is(deleted(r), "a,c", "no timeAdded: counted from first seen")
end

-- Pods on an unreachable node are marked not ready; Ready pods only.
do
    local n = F.node("n1", { ready = "True", heartbeat = T0 - 100 })
    local pods = { pod("r", { ready = true, tolerations = { tol(UR) } }), pod("nr", { ready = false }) }
    pods[1].metadata.resourceVersion = "7"
    local r = sync(n, { pods = pods })
    t.is(r.patch and #r.patch, 1, "one pod marked not ready")
    local p = r.patch[1]
    t.is(p.resource, "v1/pods/status", "patch on the status subresource")
    t.is(p.name, "r", "the ready pod")
    t.is(C.get_condition(p.patch.status.conditions, "Ready").status, "False", "Ready False")
    t.is(p.patch.metadata.resourceVersion, "7", "resourceVersion precondition")
    t.is(C.get_condition(pods[1].status.conditions, "Ready").status, "True", "cached pod untouched")
end

t.ok(pcall(P.self_test), "nodelifecycle self_test")
t.is(P.parent, "v1/nodes", "parent")
t.is(P.watches[1], "coordination.k8s.io/v1/leases", "watches leases")
t.is(P.uses[1], "v1/pods", "uses pods")

t.done_testing()
