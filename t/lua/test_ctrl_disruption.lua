-- t/lua/test_ctrl_disruption.lua: policies/controllers/disruption.lua
-- (lua/berth/controller/disruption.lua): integer and percentage minAvailable, maxUnavailable
-- with Deployment-owned ReplicaSets and ReplicationControllers, unready and terminating pods,
-- disruptedPods kept and dropped, unmanaged pods, controllers that cannot be found (SyncFailed),
-- selector edge cases, the DisruptionAllowed condition's transition times, a stable status.
-- Run by t/0195-controller-policies.t.
local t = require("tap")
local okF, F = pcall(require, "ctrl_fixture")
local okP, P = pcall(require, "controllers.disruption")
if not (okF and okP) then
    t.ok(true, "controller policy tests # SKIP policies/ not on the module path (t/0195 runs them)")
    t.done_testing()
end
local okD, D = pcall(require, "berth.controller.disruption")
local PODS, RS, DEP, RC = "v1/pods", "apps/v1/replicasets", "apps/v1/deployments", "v1/replicationcontrollers"
local web = { app = "web" }

-- A PDB. o: min, max (minAvailable / maxUnavailable), selector (false: none; default
-- matchLabels app=web), generation, status.
local function pdb(o)
    o = o or {}
    local sel = o.selector
    if sel == nil then sel = { matchLabels = { app = "web" } } end
    if sel == false then sel = nil end
    return {
        apiVersion = "policy/v1", kind = "PodDisruptionBudget",
        metadata = { name = "pdb", namespace = "default", uid = "pdb-uid", generation = o.generation or 1 },
        spec = { minAvailable = o.min, maxUnavailable = o.max, selector = sel },
        status = o.status,
    }
end

-- A ReplicaSet of replicas, owned by deployment d when given.
local function rs(name, replicas, d)
    local r = F.rs(name, { replicas = replicas })
    if d then
        r.metadata.ownerReferences = { { apiVersion = "apps/v1", kind = "Deployment", name = d.metadata.name,
                                         uid = d.metadata.uid, controller = true, blockOwnerDeletion = true } }
    end
    return r
end

-- A pod owned by owner (any object; its kind and apiVersion are used), or unmanaged.
local function pod(name, owner, o)
    o = o or {}
    o.labels = o.labels or web
    o.node = o.node or "n1"
    if o.ready == nil then o.ready = true end
    local p = F.pod(name, { labels = o.labels, node = o.node, ready = o.ready, deleting = o.deleting,
                            ns = o.ns, owner = owner })
    if owner then
        p.metadata.ownerReferences[1].apiVersion = owner.apiVersion
        p.metadata.ownerReferences[1].kind = owner.kind
    end
    return p
end

local function sync(p, objects, now)
    local ctx = F.ctx({ objects = objects, now = now })
    return P.sync(p, {}, ctx)
end

local function counts(s)
    return string.format("expected=%s desired=%s healthy=%s allowed=%s", tostring(s.expectedPods),
        tostring(s.desiredHealthy), tostring(s.currentHealthy), tostring(s.disruptionsAllowed))
end

local function cond(s)
    local c = s.conditions and s.conditions[1]
    return c and (c.type .. "/" .. c.status .. "/" .. c.reason) or "none"
end

local function has_event(r, reason)
    for _, e in ipairs(r.events or {}) do
        if e.reason == reason then return e end
    end
    return nil
end

t.ok(okD, "berth.controller.disruption loads")

-- Integer minAvailable: expected = the selected pods (any controller or none), desired =
-- minAvailable; pods of other labels or namespaces are not selected.
do
    local pods = {
        pod("a", nil), pod("b", nil), pod("c", nil, { ready = false }),
        pod("other", nil, { labels = { app = "db" } }), pod("elsewhere", nil, { ns = "prod" }),
    }
    local r = sync(pdb({ min = 1, generation = 3 }), { [PODS] = pods })
    local s = r.status
    t.is(counts(s), "expected=3 desired=1 healthy=2 allowed=1", "minAvailable 1 over 3 pods, 2 ready")
    t.is(cond(s), "DisruptionAllowed/True/SufficientPods", "condition True/SufficientPods")
    t.is(s.observedGeneration, 3, "observedGeneration = metadata.generation")
    t.is(s.conditions[1].observedGeneration, 3, "condition observedGeneration")
    t.is(s.conditions[1].message, "", "condition message empty, as kube")
    t.is(s.conditions[1].lastTransitionTime, F.iso(F.T0), "new condition stamped now")
    t.is(s.disruptedPods, nil, "no disruptedPods key when empty")
    t.is(has_event(r, "UnmanagedPods"), nil, "integer minAvailable: unmanaged pods are fine")
    local s2 = sync(pdb({ min = 2 }), { [PODS] = pods }).status
    t.is(counts(s2), "expected=3 desired=2 healthy=2 allowed=0", "minAvailable 2: none allowed")
    t.is(cond(s2), "DisruptionAllowed/False/InsufficientPods", "condition False/InsufficientPods")
    local s3 = sync(pdb({ min = 5 }), { [PODS] = pods }).status
    t.is(counts(s3), "expected=3 desired=5 healthy=2 allowed=0", "never negative")
end

-- Percentage minAvailable: expected = the ReplicaSet's replicas, desired rounded up.
do
    local r4 = rs("web-rs", 4)
    local pods = { pod("p1", r4), pod("p2", r4), pod("p3", r4), pod("p4", r4, { ready = false }) }
    local objs = { [PODS] = pods, [RS] = { r4 } }
    t.is(counts(sync(pdb({ min = "50%" }), objs).status), "expected=4 desired=2 healthy=3 allowed=1", "50% of 4")
    t.is(counts(sync(pdb({ min = "30%" }), objs).status), "expected=4 desired=2 healthy=3 allowed=1",
        "30% of 4 rounds up to 2")
    t.is(counts(sync(pdb({ min = "75%" }), objs).status), "expected=4 desired=3 healthy=3 allowed=0", "75% of 4")
    -- expected follows the ReplicaSet's spec, not the number of pods
    local r6 = rs("web-rs", 6)
    r6.metadata.uid = r4.metadata.uid
    t.is(counts(sync(pdb({ min = "50%" }), { [PODS] = pods, [RS] = { r6 } }).status),
        "expected=6 desired=3 healthy=3 allowed=0", "scaled to 6: expected 6")
end

-- maxUnavailable with a Deployment-owned ReplicaSet: the Deployment's replicas count, once
-- for all its ReplicaSets (mid-rollout with a surge they hold 4 + 2).
do
    local d = F.deployment("web", { replicas = 5 })
    local new, old = rs("web-new", 4, d), rs("web-old", 2, d)
    local pods = { pod("n1", new), pod("n2", new), pod("n3", new), pod("o1", old), pod("o2", old, { ready = false }) }
    local objs = { [PODS] = pods, [RS] = { new, old }, [DEP] = { d } }
    local s = sync(pdb({ max = 1 }), objs).status
    t.is(counts(s), "expected=5 desired=4 healthy=4 allowed=0", "maxUnavailable 1 of a Deployment of 5")
    t.is(cond(s), "DisruptionAllowed/False/InsufficientPods", "none allowed")
    t.is(counts(sync(pdb({ max = "25%" }), objs).status), "expected=5 desired=3 healthy=4 allowed=1",
        "maxUnavailable 25% of 5 rounds up to 2")
    t.is(counts(sync(pdb({ max = "100%" }), objs).status), "expected=5 desired=0 healthy=4 allowed=4",
        "maxUnavailable 100%: desired 0")
    t.is(counts(sync(pdb({ max = 9 }), objs).status), "expected=5 desired=0 healthy=4 allowed=4",
        "desired never below 0")
    -- maxUnavailable wins when both are set (kube checks it first)
    t.is(counts(sync(pdb({ max = 1, min = 1 }), objs).status), "expected=5 desired=4 healthy=4 allowed=0",
        "maxUnavailable before minAvailable")
    -- The Deployment is gone: the ReplicaSets' own scale (kube's /scale finder).
    t.is(counts(sync(pdb({ max = 1 }), { [PODS] = pods, [RS] = { new, old } }).status),
        "expected=6 desired=5 healthy=4 allowed=0", "Deployment gone: 4 + 2 from the ReplicaSets")
    -- A Deployment of 4 with a ReplicaSet of 4.
    local d4 = F.deployment("api", { replicas = 4 })
    local r = rs("api-1", 4, d4)
    local p4 = { pod("a1", r), pod("a2", r), pod("a3", r), pod("a4", r) }
    t.is(counts(sync(pdb({ max = 1 }), { [PODS] = p4, [RS] = { r }, [DEP] = { d4 } }).status),
        "expected=4 desired=3 healthy=4 allowed=1", "maxUnavailable 1 of 4 ready: 1 allowed")
    t.is(counts(sync(pdb({ max = "25%" }), { [PODS] = p4, [RS] = { r }, [DEP] = { d4 } }).status),
        "expected=4 desired=3 healthy=4 allowed=1", "maxUnavailable 25% of 4: 1 allowed")
end

-- ReplicationController (core group) and a uid mismatch.
do
    local rc = F.rc("legacy", { replicas = 3 })
    local pods = { pod("l1", rc), pod("l2", rc), pod("l3", rc) }
    t.is(pods[1].metadata.ownerReferences[1].apiVersion, "v1", "fixture: RC owner in the core group")
    local s = sync(pdb({ max = 1 }), { [PODS] = pods, [RC] = { rc } }).status
    t.is(counts(s), "expected=3 desired=2 healthy=3 allowed=1", "ReplicationController replicas")
    local impostor = F.rc("legacy", { replicas = 3 })           -- same name, another uid
    local s2 = sync(pdb({ max = 1 }), { [PODS] = pods, [RC] = { impostor } }).status
    t.is(cond(s2), "DisruptionAllowed/False/SyncFailed", "controller uid mismatch: SyncFailed")
    t.has(s2.conditions[1].message, 'found no controllers for pod "l1"', "message names the first pod")
end

-- A StatefulSet: its spec.replicas (kube's getPodStatefulSet finder).
do
    local sts = { apiVersion = "apps/v1", kind = "StatefulSet",
                  metadata = { name = "db", namespace = "default", uid = "sts-uid-1" },
                  spec = { replicas = 3, selector = { matchLabels = { app = "web" } } } }
    local pods = { pod("db-0", sts), pod("db-1", sts), pod("db-2", sts, { ready = false }) }
    local s = sync(pdb({ max = 1 }), { [PODS] = pods, ["apps/v1/statefulsets"] = { sts } }).status
    t.is(counts(s), "expected=3 desired=2 healthy=2 allowed=0", "StatefulSet replicas")
    local s2 = sync(pdb({ max = 1 }), { [PODS] = pods }).status
    t.is(cond(s2), "DisruptionAllowed/False/SyncFailed", "the StatefulSet not found: SyncFailed")
end

-- Unready and terminating pods are not healthy; terminating pods still count as selected.
do
    local pods = {
        pod("ok", nil), pod("unready", nil, { ready = false }), pod("noready", nil, { ready = false }),
        pod("dying", nil, { deleting = true }),
    }
    pods[3].status.conditions = { { type = "PodScheduled", status = "True" } }
    local s = sync(pdb({ min = 1 }), { [PODS] = pods }).status
    t.is(counts(s), "expected=4 desired=1 healthy=1 allowed=0", "only the ready, live pod is healthy")
end

-- disruptedPods: kept while the pod is selected, alive and the entry younger than 2 minutes;
-- such a pod is not healthy. Dropped when the pod is gone, terminating or the entry expired.
do
    local now = F.T0
    local pods = {
        pod("fresh", nil), pod("old", nil), pod("dying", nil, { deleting = true }), pod("other", nil),
        pod("unselected", nil, { labels = { app = "db" } }),
    }
    local status = { disruptedPods = {
        fresh = F.iso(now - 30), old = F.iso(now - 130), dying = F.iso(now - 10),
        gone = F.iso(now - 5), unselected = F.iso(now - 5), garbage = "not a time",
    } }
    local r = sync(pdb({ min = 1, status = status }), { [PODS] = pods }, now)
    local s = r.status
    t.is_deeply(s.disruptedPods, { fresh = F.iso(now - 30) }, "only the fresh entry stays, with its time")
    t.is(counts(s), "expected=4 desired=1 healthy=2 allowed=1", "the disrupted pod is not healthy")
    t.is(r.requeue_after, 91, "requeued just after the entry expires")
    local r2 = sync(pdb({ min = 1, status = { disruptedPods = { fresh = F.iso(now - 30) } } }), { [PODS] = pods },
        now + 91)
    t.is(r2.status.disruptedPods, nil, "expired at the requeue: dropped, key omitted")
    t.is(r2.status.currentHealthy, 3, "and the pod counts as healthy again")
    t.is(r2.requeue_after, nil, "no requeue without entries")
    local r3 = sync(pdb({ min = 1, status = { disruptedPods = { fresh = F.iso(now - 120) } } }), { [PODS] = pods },
        now)
    t.ok(r3.status.disruptedPods and r3.status.disruptedPods.fresh, "exactly 2 minutes old: still kept")
    t.is(r3.status.currentHealthy, 3, "... but no longer counted as disrupted")
end

-- Unmanaged pods with maxUnavailable: kube 1.31 leaves them out of the scale with a warning.
do
    local r2 = rs("web-rs", 2)
    local pods = { pod("m1", r2), pod("m2", r2), pod("loner", nil) }
    local r = sync(pdb({ max = 1 }), { [PODS] = pods, [RS] = { r2 } })
    t.is(counts(r.status), "expected=2 desired=1 healthy=3 allowed=2", "unmanaged pod: not in expected")
    t.is(cond(r.status), "DisruptionAllowed/True/SufficientPods", "no SyncFailed for it")
    local e = has_event(r, "UnmanagedPods")
    t.ok(e and e.type == "Warning", "UnmanagedPods warning")
    t.has(e and e.message, "loner", "naming the pod")
    t.has(e and e.message, "app=web", "and the selector")
end

-- A controller that cannot be found or has no scale: kube's failSafe.
do
    local prev = {
        currentHealthy = 3, desiredHealthy = 2, expectedPods = 3, disruptionsAllowed = 1, observedGeneration = 1,
        conditions = { { type = "DisruptionAllowed", status = "True", reason = "SufficientPods", message = "",
                         observedGeneration = 1, lastTransitionTime = F.iso(F.T0 - 500) } },
    }
    local missing = rs("ghost", 3)                    -- not in the cache
    local pods = { pod("g1", missing), pod("g2", missing) }
    local r = sync(pdb({ max = 1, generation = 2, status = prev }), { [PODS] = pods })
    local s = r.status
    t.is(s.disruptionsAllowed, 0, "SyncFailed: disruptionsAllowed 0")
    t.is(cond(s), "DisruptionAllowed/False/SyncFailed", "condition False/SyncFailed")
    t.is(s.conditions[1].message, 'found no controllers for pod "g1"', "message names the pod")
    t.is(s.conditions[1].lastTransitionTime, F.iso(F.T0), "True -> False: transition now")
    t.is(s.conditions[1].observedGeneration, 1, "condition keeps the status' observedGeneration")
    t.is(counts(s), "expected=3 desired=2 healthy=3 allowed=0", "other fields kept (failSafe)")
    t.is(s.observedGeneration, 1, "observedGeneration not advanced")
    local e = has_event(r, "CalculateExpectedPodCountFailed")
    t.ok(e and e.type == "Warning", "CalculateExpectedPodCountFailed warning")
    -- The same inputs again: the same status, no event.
    local again = sync(pdb({ max = 1, generation = 2, status = s }), { [PODS] = pods }, F.T0 + 60)
    t.ok(D.same(again.status, s), "SyncFailed status is stable")
    t.is(again.events, nil, "no event when nothing changes")
    -- The controller appears: InsufficientPods, lastTransitionTime kept (False -> False).
    local found = sync(pdb({ max = 1, generation = 2, status = s }),
        { [PODS] = pods, [RS] = { missing } }, F.T0 + 120).status
    t.is(cond(found), "DisruptionAllowed/False/InsufficientPods", "recovered: InsufficientPods")
    t.is(found.conditions[1].message, "", "SyncFailed message cleared")
    t.is(found.conditions[1].lastTransitionTime, F.iso(F.T0), "status still False: lastTransitionTime kept")
    t.is(found.observedGeneration, 2, "observedGeneration advanced")
    -- A Job owner (no /scale) and an unknown kind.
    local job = { apiVersion = "batch/v1", kind = "Job", metadata = { name = "j", namespace = "default", uid = "job-uid" } }
    local sj = sync(pdb({ min = "50%" }), { [PODS] = { pod("j1", job) } }).status
    t.is(cond(sj), "DisruptionAllowed/False/SyncFailed", "Job-owned pod with a percentage: SyncFailed")
    t.has(sj.conditions[1].message, "jobs.batch does not implement the scale subresource", "kube's reason")
    t.has(sj.conditions[1].message, '"j1"', "naming the pod")
    t.is(counts(sj), "expected=0 desired=0 healthy=0 allowed=0", "fresh PDB: counts written as 0")
    local odd = { apiVersion = "example.com/v1", kind = "Widget", metadata = { name = "w", namespace = "default", uid = "w-uid" } }
    local sw = sync(pdb({ max = 1 }), { [PODS] = { pod("w1", odd) } }).status
    t.has(sw.conditions[1].message, 'found no controllers for pod "w1"', "unknown kind: names the pod")
    -- The same Job pod with an integer minAvailable: no controller lookup at all.
    t.is(cond(sync(pdb({ min = 1 }), { [PODS] = { pod("j1", job), pod("j2", job) } }).status),
        "DisruptionAllowed/True/SufficientPods", "integer minAvailable does not look up controllers")
    -- A malformed int-or-string.
    local sb = sync(pdb({ max = "1" }), { [PODS] = {} }).status
    t.has(sb.conditions[1].message, "not a percentage", "maxUnavailable \"1\": SyncFailed")
end

-- Selectors: {} selects every pod of the namespace; null or absent selects none.
do
    local pods = { pod("a", nil, { labels = { app = "x" } }), pod("b", nil, { labels = {} }),
                   pod("c", nil, { ns = "prod" }) }
    local s = sync(pdb({ min = 1, selector = {} }), { [PODS] = pods }).status
    t.is(counts(s), "expected=2 desired=1 healthy=2 allowed=1", "empty selector: all pods of the namespace")
    local r = sync(pdb({ min = 1, selector = F.NULL }), { [PODS] = pods })
    t.is(counts(r.status), "expected=0 desired=1 healthy=0 allowed=0", "null selector: none")
    t.ok(has_event(r, "NoPods"), "NoPods event")
    t.is(counts(sync(pdb({ min = 1, selector = false }), { [PODS] = pods }).status),
        "expected=0 desired=1 healthy=0 allowed=0", "absent selector: none")
    local ex = { matchExpressions = { { key = "app", operator = "In", values = { "x", "y" } } } }
    t.is(sync(pdb({ min = 0, selector = ex }), { [PODS] = pods }).status.expectedPods, 1, "matchExpressions")
    local nl = { matchLabels = F.NULL, matchExpressions = F.NULL }
    t.is(sync(pdb({ min = 0, selector = nl }), { [PODS] = pods }).status.expectedPods, 2,
        "null matchLabels/matchExpressions read as absent")
    local bad = { matchExpressions = { { key = "app", operator = "Near", values = { "x" } } } }
    local rb = sync(pdb({ min = 1, selector = bad }), { [PODS] = pods })
    t.is(cond(rb.status), "DisruptionAllowed/False/SyncFailed", "invalid selector: SyncFailed")
    local e = has_event(rb, "NoPods")
    t.ok(e and e.type == "Warning", "NoPods warning for the invalid selector")
    -- neither minAvailable nor maxUnavailable: nothing expected, nothing allowed
    local sn = sync(pdb({ selector = {} }), { [PODS] = pods }).status
    t.is(counts(sn), "expected=0 desired=0 healthy=2 allowed=0", "no budget: 0 expected, 0 allowed")
end

-- The condition: transition times kept while the status stays, other conditions untouched,
-- and the whole status stable for the same inputs.
do
    local d = F.deployment("web", { replicas = 3 })
    local r3 = rs("web-1", 3, d)
    local pods = { pod("p1", r3), pod("p2", r3), pod("p3", r3) }
    local objs = { [PODS] = pods, [RS] = { r3 }, [DEP] = { d } }
    local first = sync(pdb({ max = 1 }), objs, F.T0)
    local s1 = first.status
    t.is(s1.conditions[1].lastTransitionTime, F.iso(F.T0), "first: stamped now")
    local second = sync(pdb({ max = 1, status = F.copy(s1) }), objs, F.T0 + 300)
    t.ok(D.same(second.status, s1), "same inputs later: the very same status")
    t.is(second.requeue_after, nil, "no requeue")
    -- a pod turns unready: True -> False, new transition time
    pods[3].status.conditions[2].status = "False"
    local s3 = sync(pdb({ max = 1, status = F.copy(s1) }), objs, F.T0 + 400).status
    t.is(cond(s3), "DisruptionAllowed/False/InsufficientPods", "unready pod: no disruption allowed")
    t.is(s3.conditions[1].lastTransitionTime, F.iso(F.T0 + 400), "status changed: transition now")
    -- another pod turns unready: still False, time kept
    pods[2].status.conditions[2].status = "False"
    local s4 = sync(pdb({ max = 1, status = F.copy(s3) }), objs, F.T0 + 500).status
    t.is(s4.currentHealthy, 1, "one healthy left")
    t.is(s4.conditions[1].lastTransitionTime, F.iso(F.T0 + 400), "still False: time kept")
    -- another controller's condition keeps its place; ours is updated in place
    local mixed = F.copy(s4)
    mixed.conditions = { { type = "Other", status = "True", reason = "X", message = "m",
                           lastTransitionTime = F.iso(F.T0 - 9) }, mixed.conditions[1] }
    local s5 = sync(pdb({ max = 1, generation = 4, status = mixed }), objs, F.T0 + 600).status
    t.is(#s5.conditions, 2, "two conditions")
    t.is(s5.conditions[1].type .. "/" .. s5.conditions[2].type, "Other/DisruptionAllowed", "order kept")
    t.is(s5.conditions[2].observedGeneration, 4, "observedGeneration updated in place")
    t.is(s5.conditions[2].lastTransitionTime, F.iso(F.T0 + 400), "... with the time kept")
    -- stray status fields are not carried over (kube rebuilds the status)
    local stray = F.copy(s4)
    stray.bogus = 1
    t.is(sync(pdb({ max = 1, status = stray }), objs, F.T0 + 700).status.bogus, nil, "stray field dropped")
end

-- Events only with a status change.
do
    local r = sync(pdb({ min = 1 }), { [PODS] = {} })
    t.ok(has_event(r, "NoPods"), "first sync without pods: NoPods")
    local r2 = sync(pdb({ min = 1, status = F.copy(r.status) }), { [PODS] = {} }, F.T0 + 30)
    t.is(r2.events, nil, "unchanged status: no repeated event")
end

t.ok(pcall(P.self_test), "disruption self_test")
t.is(P.parent, "policy/v1/poddisruptionbudgets", "parent")
t.is(P.children, nil, "no children declared")
t.done_testing()
