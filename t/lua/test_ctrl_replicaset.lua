-- t/lua/test_ctrl_replicaset.lua: policies/controllers/replicaset.lua and
-- replicationcontroller.lua (lua/berth/controller/replicas.lua): scaling up and down with
-- kube's victim order, the burst limit, adoption and release, status counts with
-- minReadySeconds and requeue_after, terminating and finished pods, a deleting parent, the
-- map selector of ReplicationControllers. Run by t/0195-controller-policies.t.
local t = require("tap")
local okF, F = pcall(require, "ctrl_fixture")
local okP, RS = pcall(require, "controllers.replicaset")
if not (okF and okP) then
    t.ok(true, "controller policy tests # SKIP policies/ not on the module path (t/0195 runs them)")
    t.done_testing()
end
local RC = require("controllers.replicationcontroller")
local C = require("berth.controller.common")
local PODS = "v1/pods"

local function names(list)
    local out = {}
    for _, e in ipairs(list or {}) do
        if type(e) == "string" then
            out[#out + 1] = e
        elseif e.metadata.name then
            out[#out + 1] = e.metadata.name
        end
    end
    table.sort(out)
    return table.concat(out, ",")
end

-- The names an applied result deletes: owned pods missing from the desired list.
local function deleted(pods, result)
    local keep = {}
    for _, e in ipairs(F.desired(result.children[PODS], pods)) do
        if e.metadata.name then keep[e.metadata.name] = true end
    end
    local out = {}
    for _, p in ipairs(pods) do
        if not keep[p.metadata.name] then out[#out + 1] = p.metadata.name end
    end
    table.sort(out)
    return table.concat(out, ",")
end

local function creates(result)
    local n = 0
    for _, e in ipairs(F.desired(result.children[PODS], {})) do
        if not e.metadata.name then n = n + 1 end
    end
    return n
end

-- Scale up from 0 to 5.
do
    local rs = F.rs("web-abc", { replicas = 5, generation = 3 })
    local r = RS.sync(rs, { [PODS] = {} }, F.ctx())
    t.is(r.children[PODS].rest, "keep", "the keep-the-rest shape")
    t.is(#r.children[PODS].delete, 0, "nothing to delete")
    local list = F.desired(r.children[PODS], {})
    t.is(#list, 5, "0 -> 5: five pods desired")
    t.is(creates(r), 5, "all five are creates")
    t.is(list[1].metadata.generateName, "web-abc-", "generateName is <rs>-")
    t.is(list[1].metadata.labels.app, "web", "labels from the template")
    t.is(list[1].spec.containers[1].image, "nginx:1.25", "spec from the template")
    t.is(list[1].metadata.namespace, nil, "namespace and ownerReference are the runtime's")
    t.isnt(list[1].spec, rs.spec.template.spec, "the template is copied, not shared")
    t.is(r.status.replicas, 0, "status.replicas counts existing pods only")
    t.is(r.status.observedGeneration, 3, "observedGeneration")
    t.is(r.status.readyReplicas, nil, "zero counts are omitted (omitempty)")
    t.is(r.requeue_after, nil, "nothing to wait for")
    t.is(RS.child_events[PODS].create.message, "Created pod: %s", "SuccessfulCreate wording for the runtime")
    t.is(RS.child_events[PODS].delete.reason, "SuccessfulDelete", "SuccessfulDelete reason")

    -- The runtime applies it; the next sync keeps the five.
    local store = {}
    F.apply_children(store, list, rs)
    local r2 = RS.sync(rs, { [PODS] = store }, F.ctx())
    t.is(#F.desired(r2.children[PODS], store), 5, "next sync: five kept")
    t.is(#r2.children[PODS].entries + #r2.children[PODS].delete, 0, "next sync: names no pod")
    t.is(creates(r2), 0, "next sync: no create")
    t.is(r2.status.replicas, 5, "next sync: status.replicas 5")
    t.is(r2.status.fullyLabeledReplicas, 5, "fullyLabeledReplicas")
end

-- Burst: at most 500 creates per sync.
do
    local rs = F.rs("big", { replicas = 700 })
    local r = RS.sync(rs, { [PODS] = {} }, F.ctx())
    t.is(creates(r), 500, "700 wanted: 500 created in one sync")
end

-- spec.replicas absent defaults to 1; null reads as absent.
do
    local rs = F.rs("one", {})
    rs.spec.minReadySeconds = F.NULL
    local r = RS.sync(rs, { [PODS] = {} }, F.ctx())
    t.is(creates(r), 1, "no spec.replicas: 1")
end

-- Scale down: kube's getPodsToDelete order.
do
    local rs = F.rs("web-abc", { replicas = 1 })
    local L = { app = "web" }
    local T0 = F.T0
    local pods = {
        F.pod("unassigned", { owner = rs, labels = L }),
        F.pod("pending", { owner = rs, labels = L, node = "n1", phase = "Pending" }),
        F.pod("unknown", { owner = rs, labels = L, node = "n1", phase = "Unknown" }),
        F.pod("notready", { owner = rs, labels = L, node = "n2", ready = false }),
        F.pod("ready-old", { owner = rs, labels = L, node = "n3", ready = true, ready_since = T0 - 86400 }),
        F.pod("ready-new", { owner = rs, labels = L, node = "n4", ready = true, ready_since = T0 - 30 }),
        F.pod("ready-cheap", { owner = rs, labels = L, node = "n5", ready = true, ready_since = T0 - 86400, cost = -10 }),
    }
    local order = require("berth.controller.replicas").deletion_order(pods, T0)
    local got = {}
    for i, p in ipairs(order) do got[i] = p.metadata.name end
    t.is(table.concat(got, ","), "unassigned,pending,unknown,notready,ready-cheap,ready-new,ready-old",
        "unassigned < Pending < Unknown < not ready < lower deletion cost < recently ready < long ready")
    local r = RS.sync(rs, { [PODS] = pods }, F.ctx())
    t.is(deleted(pods, r), "notready,pending,ready-cheap,ready-new,unassigned,unknown", "7 -> 1 keeps ready-old")
    t.is(creates(r), 0, "no creates while scaling down")

    -- Doubled-up pods go first; then more restarts; then newer.
    local rs2 = F.rs("r2", { replicas = 2 })
    local p = {
        F.pod("alone", { owner = rs2, labels = L, node = "a", ready = true, ready_since = T0 - 1000 }),
        F.pod("twin1", { owner = rs2, labels = L, node = "b", ready = true, ready_since = T0 - 1000 }),
        F.pod("twin2", { owner = rs2, labels = L, node = "b", ready = true, ready_since = T0 - 1000 }),
    }
    local r2 = RS.sync(rs2, { [PODS] = p }, F.ctx())
    t.has(deleted(p, r2), "twin", "a pod sharing its node with a sibling goes first")
    local p3 = {
        F.pod("calm", { owner = rs2, labels = L, node = "a", ready = false, created = T0 - 100 }),
        F.pod("crashy", { owner = rs2, labels = L, node = "b", ready = false, restarts = 7, created = T0 - 5000 }),
        F.pod("young", { owner = rs2, labels = L, node = "c", ready = false, created = T0 - 10 }),
    }
    local r3 = RS.sync(F.rs("r3", { replicas = 2, uid = rs2.metadata.uid }), { [PODS] = p3 }, F.ctx())
    t.is(deleted(p3, r3), "crashy", "more restarts go before newer pods")
    local p4 = {
        F.pod("old", { owner = rs2, labels = L, node = "a", ready = false, created = T0 - 100000 }),
        F.pod("new", { owner = rs2, labels = L, node = "b", ready = false, created = T0 - 10 }),
    }
    local r4 = RS.sync(F.rs("r4", { replicas = 1, uid = rs2.metadata.uid }), { [PODS] = p4 }, F.ctx())
    t.is(deleted(p4, r4), "new", "newer pod deleted first")
end

-- Terminating and finished pods are not counted and not deleted again.
do
    local rs = F.rs("web-x", { replicas = 2 })
    local L = { app = "web" }
    local pods = {
        F.pod("a", { owner = rs, labels = L, node = "n", ready = true }),
        F.pod("gone", { owner = rs, labels = L, node = "n", ready = true, deleting = true }),
        F.pod("done", { owner = rs, labels = L, node = "n", phase = "Succeeded" }),
        F.pod("failed", { owner = rs, labels = L, node = "n", phase = "Failed" }),
    }
    local r = RS.sync(rs, { [PODS] = pods }, F.ctx())
    t.is(r.status.replicas, 1, "only the active pod counts")
    t.is(creates(r), 1, "one more pod created")
    t.is(deleted(pods, r), "", "terminating and finished pods are kept in the list")
end

-- Adoption and release.
do
    local rs = F.rs("web-y", { replicas = 3 })
    local other = F.rs("other", {})
    local L = { app = "web" }
    local owned = {
        F.pod("mine", { owner = rs, labels = L, node = "n", ready = true }),
        F.pod("relabelled", { owner = rs, labels = { app = "debug" }, node = "n", ready = true }),
    }
    local orphans = {
        F.pod("orphan", { labels = L, node = "n", ready = true }),
        F.pod("orphan-other-app", { labels = { app = "db" }, node = "n" }),
        F.pod("orphan-dying", { labels = L, node = "n", deleting = true }),
        F.pod("someone-elses", { labels = L, node = "n", owner = other }),
    }
    local r = RS.sync(rs, { [PODS] = owned }, F.ctx({ orphans = { [PODS] = orphans } }))
    t.is(names(r.adopt[PODS]), "orphan", "adopts the matching orphan only")
    t.is(names(r.release[PODS]), "relabelled", "releases the pod that stopped matching")
    t.is(names(F.desired_after(r, PODS, owned, orphans)), "mine,orphan",
        "released pod is not a child; adopted one is")
    t.is(creates(r), 1, "two claimed: one created for 3")
    t.is(r.status.replicas, 2, "status counts the adopted pod")
end

-- Status: ready, available after minReadySeconds, requeue_after.
do
    local rs = F.rs("web-z", { replicas = 4, min_ready = 10, labels = { app = "web", tier = "fe" } })
    local L = { app = "web", tier = "fe" }
    local T0 = F.T0
    local pods = {
        F.pod("avail", { owner = rs, labels = L, node = "n", ready = true, ready_since = T0 - 60 }),
        F.pod("soon", { owner = rs, labels = L, node = "n", ready = true, ready_since = T0 - 4 }),
        F.pod("later", { owner = rs, labels = L, node = "n", ready = true, ready_since = T0 - 1 }),
        F.pod("partial", { owner = rs, labels = { app = "web", tier = "fe2" }, node = "n", ready = false }),
    }
    rs.spec.selector = { matchLabels = { app = "web" } }
    local r = RS.sync(rs, { [PODS] = pods }, F.ctx())
    t.is(r.status.replicas, 4, "replicas")
    t.is(r.status.readyReplicas, 3, "readyReplicas")
    t.is(r.status.availableReplicas, 1, "availableReplicas: ready for more than minReadySeconds")
    t.is(r.status.fullyLabeledReplicas, 3, "fullyLabeledReplicas: all template labels")
    t.is(r.requeue_after, 7, "requeue when the next pod becomes available (10 - 4, + 1)")
    local r2 = RS.sync(rs, { [PODS] = pods }, F.ctx({ now = T0 + 7 }))
    t.is(r2.status.availableReplicas, 2, "7 s later: 'soon' is available")
    t.is(r2.requeue_after, 3, "and 'later' is 3 s away")
    local r3 = RS.sync(rs, { [PODS] = pods }, F.ctx({ now = T0 + 9 }))
    t.is(r3.status.availableReplicas, 2, "exactly minReadySeconds is not yet available (strictly before)")
    rs.status.conditions = { { type = "ReplicaFailure", status = "True", reason = "FailedCreate" } }
    t.is(RS.sync(rs, { [PODS] = pods }, F.ctx()).status.conditions[1].reason, "FailedCreate",
        "existing conditions are kept")
end

-- A ReplicaSet being deleted: status only.
do
    local rs = F.rs("dying", { replicas = 3, deleting = true })
    local pods = { F.pod("a", { owner = rs, labels = { app = "web" }, node = "n", ready = true }) }
    local r = RS.sync(rs, { [PODS] = pods }, F.ctx({ orphans = { [PODS] = { F.pod("o", { labels = { app = "web" } }) } } }))
    t.is(r.children, nil, "no children key: nothing created or deleted")
    t.is(r.adopt, nil, "no adoption while deleting")
    t.is(r.status.replicas, 1, "status still written")
end

-- ReplicationController: map selector; an absent selector defaults to the template labels.
do
    local rc = F.rc("frontend", { replicas = 2, labels = { app = "fe" } })
    local orphans = { F.pod("o1", { labels = { app = "fe", extra = "x" }, node = "n", ready = true }) }
    local r = RC.sync(rc, { [PODS] = {} }, F.ctx({ orphans = { [PODS] = orphans } }))
    t.is(names(r.adopt[PODS]), "o1", "RC: map selector adopts a superset-labelled orphan")
    t.is(creates(r), 1, "RC: one created")
    t.is(F.desired_after(r, PODS, {}, orphans)[2].metadata.generateName, "frontend-", "RC: generateName")
    local rc2 = F.rc("nosel", { replicas = 1, labels = { app = "ns" }, selector = false })
    local r2 = RC.sync(rc2, { [PODS] = {} }, F.ctx({ orphans = { [PODS] = { F.pod("o2", { labels = { app = "ns" } }) } } }))
    t.is(names(r2.adopt[PODS]), "o2", "RC without selector: the template labels select")
    t.is(RC.parent, "v1/replicationcontrollers", "RC parent resource")
    t.is(RC.selector, "map", "RC declares a map selector")
end

-- Scale-down victims without a full sort: the same pods, in the same order, as the first k
-- of deletion_order, over pods that differ in every criterion (and many ties).
do
    local R = require("berth.controller.replicas")
    local rs = F.rs("many", { replicas = 1 })
    local L = { app = "web" }
    local pods = {}
    local phases = { "Pending", "Running", "Unknown", "Running" }
    for i = 1, 300 do
        pods[i] = F.pod("p" .. i, {
            owner = rs, labels = L, node = (i % 7 == 0) and nil or ("n" .. (i % 23)),
            phase = phases[i % 4 + 1], ready = (i % 3 ~= 0),
            ready_since = F.T0 - (i * 37) % 5000, created = F.T0 - (i * 53) % 90000,
            restarts = (i % 11 == 0) and (i % 5) or nil, cost = (i % 13 == 0) and -(i % 3) or nil,
        })
        pods[i].metadata.resourceVersion = tostring(1000 + i)
    end
    local order = R.deletion_order(pods, F.T0)
    for _, k in ipairs({ 1, 2, 17, 150, 299, 300 }) do
        local got = R.victims(pods, k, F.T0)
        local want = {}
        for i = 1, k do want[i] = order[i].metadata.name end
        t.is(table.concat(got, ","), table.concat(want, ","), "victims(" .. k .. ") = the first " .. k .. " of deletion_order")
    end
    t.is(#R.victims(pods, 0, F.T0), 0, "victims(0): none")
end

-- Facts cached per pod version: a second sync over the same objects gives the same result;
-- a pod that changes (a new table with a new resourceVersion) is read afresh; a changed
-- template or selector is applied to cached pods.
do
    local R = require("berth.controller.replicas")
    local rs = F.rs("cached", { replicas = 3, labels = { app = "web", tier = "fe" } })
    rs.spec.selector = { matchLabels = { app = "web" } }
    local L = { app = "web", tier = "fe" }
    local pods = {}
    for i = 1, 3 do
        pods[i] = F.pod("c" .. i, { owner = rs, labels = L, node = "n", ready = true })
        pods[i].metadata.resourceVersion = tostring(i)
    end
    local r1 = RS.sync(rs, { [PODS] = pods }, F.ctx())
    local r2 = RS.sync(rs, { [PODS] = pods }, F.ctx())
    t.is(r1.status.readyReplicas, 3, "cached: three ready")
    t.is(r2.status.readyReplicas, 3, "cached: the same on the next sync")
    t.is(R.facts(pods[1]), R.facts(pods[1]), "one facts table per pod version")
    local changed = F.pod("c1", { owner = rs, labels = L, node = "n", ready = false })
    changed.metadata.resourceVersion = "10"
    changed.metadata.uid = pods[1].metadata.uid
    pods[1] = changed
    local r3 = RS.sync(rs, { [PODS] = pods }, F.ctx())
    t.is(r3.status.readyReplicas, 2, "a new version of a pod is read afresh")
    rs.spec.template.metadata.labels = { app = "web", tier = "be" }
    t.is(RS.sync(rs, { [PODS] = pods }, F.ctx()).status.fullyLabeledReplicas, nil,
        "a changed template: no pod is fully labelled any more")
    rs.spec.selector = { matchLabels = { app = "web", tier = "be" } }
    local r4 = RS.sync(rs, { [PODS] = pods }, F.ctx())
    t.is(names(r4.release[PODS]), "c1,c2,c3", "a changed selector: the cached pods are released")
    t.is(r4.status.replicas, 0, "and no longer counted")
end

-- The result names only what changes: surplus pods by name, no entry per kept pod.
do
    local rs = F.rs("down", { replicas = 2 })
    local pods = {}
    for i = 1, 5 do
        pods[i] = F.pod("d" .. i, { owner = rs, labels = { app = "web" }, node = "n" .. i, ready = true,
            ready_since = F.T0 - 100 * i })
    end
    local r = RS.sync(rs, { [PODS] = pods }, F.ctx())
    local c = r.children[PODS]
    t.is(c.rest, "keep", "scale-down: keep the rest")
    t.is(#c.entries, 0, "scale-down: no entries")
    t.is(table.concat(c.delete, ","), "d1,d2,d3", "scale-down: the three most recently ready, in order")
end

-- self_test hooks pass.
t.ok(pcall(RS.self_test), "replicaset self_test")
t.ok(pcall(RC.self_test), "replicationcontroller self_test")

t.done_testing()
