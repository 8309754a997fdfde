-- t/lua/test_ctrl_daemonset.lua: policies/controllers/daemonset.lua (lua/berth/controller/
-- daemonset.lua): a pod per fitting node (nodeSelector, required affinity, taints and the
-- tolerations kube adds, cordoned nodes), pods pinned by matchFields, nodes added and
-- removed, duplicate, failed and succeeded pods, RollingUpdate with maxUnavailable and with
-- maxSurge, OnDelete, ControllerRevision history (creation, rollback renumbering, duplicates,
-- truncation, hash collisions), status and minReadySeconds, adoption and release.
-- Run by t/0195-controller-policies.t.
local t = require("tap")
local okF, F = pcall(require, "ctrl_fixture")
local okP, DSP = pcall(require, "controllers.daemonset")
if not (okF and okP) then
    t.ok(true, "controller policy tests # SKIP policies/ not on the module path (t/0195 runs them)")
    t.done_testing()
end
local DS = require("berth.controller.daemonset")
local H = require("berth.controller.history")
local C = require("berth.controller.common")
local PODS, REVS, NODES = "v1/pods", "apps/v1/controllerrevisions", "v1/nodes"
local HASH = "controller-revision-hash"

t.is(DSP.parent, "apps/v1/daemonsets", "policy parent")
t.is_deeply(DSP.children, { PODS, REVS }, "policy children")
t.ok(DSP.adopt == true and DSP.uses[1] == NODES and DSP.watches[1] == NODES, "adopts, uses and watches nodes")
t.ok(pcall(DSP.self_test), "self_test passes")

-- A DaemonSet. o: image, labels, node_selector, affinity, tolerations, strategy
-- ("RollingUpdate" | "OnDelete"), max_unavailable, max_surge, min_ready, history, generation,
-- status, host_network, annotations, selector.
local function ds(name, o)
    o = o or {}
    local labels = o.labels or { app = "agent" }
    local ru
    if o.max_unavailable or o.max_surge then
        ru = { maxUnavailable = o.max_unavailable, maxSurge = o.max_surge }
    end
    return {
        apiVersion = "apps/v1", kind = "DaemonSet",
        metadata = { name = name, namespace = "default", uid = o.uid or F.uid("ds"), generation = o.generation or 1,
                     annotations = o.annotations },
        spec = {
            selector = o.selector or { matchLabels = labels },
            minReadySeconds = o.min_ready, revisionHistoryLimit = o.history,
            updateStrategy = { type = o.strategy or "RollingUpdate", rollingUpdate = ru },
            template = {
                metadata = { labels = labels },
                spec = { containers = { { name = "c", image = o.image or "agent:1" } },
                         nodeSelector = o.node_selector, affinity = o.affinity, tolerations = o.tolerations,
                         hostNetwork = o.host_network },
            },
        },
        status = o.status or {},
    }
end

local function hash_of(d)
    return H.hash(d.spec.template, d.status and d.status.collisionCount)
end

-- A daemon pod of d on node. o: hash (default d's current), ready, ready_since, phase,
-- created, deleting, owned (default true), unscheduled (pinned by affinity only), labels.
local function dpod(d, name, node, o)
    o = o or {}
    local labels = o.labels or { app = "agent", [HASH] = o.hash or hash_of(d) }
    local p = F.pod(name, { labels = labels, owner = o.owned ~= false and d or nil, node = node,
                            ready = o.ready, ready_since = o.ready_since, phase = o.phase,
                            created = o.created, deleting = o.deleting })
    if o.unscheduled then
        p.spec.nodeName = nil
        p.spec.affinity = DS.node_name_affinity(nil, node)
    end
    return p
end

local function ctx(nodes, o)
    o = o or {}
    local objects = { [NODES] = nodes }
    objects[REVS] = o.revisions_seen
    return F.ctx({ now = o.now, orphans = o.orphans, objects = objects })
end

local function run(d, pods, revs, nodes, o)
    return DS.sync(d, { [PODS] = pods or {}, [REVS] = revs or {} }, ctx(nodes, o))
end

-- The nodes the result creates pods on, sorted and joined.
local function created_on(r)
    local out = {}
    for _, e in ipairs(r.children[PODS].entries or {}) do
        if not e.metadata.name then
            out[#out + 1] = DS.target_node(e)
        end
    end
    table.sort(out)
    return table.concat(out, ",")
end

local function deleted(r)
    local out = {}
    for _, n in ipairs(r.children[PODS].delete or {}) do out[#out + 1] = n end
    table.sort(out)
    return table.concat(out, ",")
end

local function has_event(r, reason, sub)
    for _, e in ipairs(r.events or {}) do
        if e.reason == reason and (sub == nil or e.message:find(sub, 1, true)) then
            return true
        end
    end
    return false
end

-- The revision entries the result creates (entries with data).
local function new_revs(r)
    local out = {}
    for _, e in ipairs(r.children[REVS].entries or {}) do
        if e.data then out[#out + 1] = e end
    end
    return out
end

-- A stored revision of d (as created by a previous sync).
local function stored_rev(d, n, o)
    o = o or {}
    local r = H.new_revision(d, n, d.status.collisionCount)
    r.apiVersion, r.kind = "apps/v1", "ControllerRevision"
    r.metadata.namespace = "default"
    r.metadata.uid = F.uid("rev")
    r.metadata.creationTimestamp = F.iso(F.T0 - 1000 + n)
    r.metadata.ownerReferences = o.owned ~= false and { { apiVersion = "apps/v1", kind = "DaemonSet",
        name = d.metadata.name, uid = d.metadata.uid, controller = true } } or nil
    return r
end

local function three_nodes()
    return { F.node("n1", { ready = "True" }), F.node("n2", { ready = "True" }), F.node("n3", { ready = "True" }) }
end

-- A pod per node, each pinned to its node, from the template.
do
    local d = ds("agent", { generation = 4, annotations = { note = "x" } })
    local r = run(d, {}, {}, three_nodes())
    t.is(created_on(r), "n1,n2,n3", "a pod for each node")
    t.is(r.children[PODS].rest, "keep", "the keep-the-rest shape")
    local p = r.children[PODS].entries[1]
    local h = hash_of(d)
    t.is(p.metadata.generateName, "agent-", "generateName <ds>-")
    t.is(p.metadata.labels[HASH], h, "controller-revision-hash label")
    t.is(p.metadata.labels["pod-template-generation"], "4", "pod-template-generation label (generation)")
    t.is(p.metadata.labels.app, "agent", "template labels")
    t.is(p.spec.nodeName, nil, "no nodeName: the scheduler binds")
    t.is_deeply(p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution,
        { nodeSelectorTerms = { { matchFields = { { key = "metadata.name", operator = "In", values = { "n1" } } } } } },
        "pinned by matchFields metadata.name")
    local keys = {}
    for _, tl in ipairs(p.spec.tolerations) do keys[#keys + 1] = tl.key:gsub("node.kubernetes.io/", "") .. ":" .. tl.effect end
    t.is(table.concat(keys, ","), "not-ready:NoExecute,unreachable:NoExecute,disk-pressure:NoSchedule," ..
        "memory-pressure:NoSchedule,pid-pressure:NoSchedule,unschedulable:NoSchedule", "kube's daemon tolerations")
    t.is(d.spec.template.spec.tolerations, nil, "the template is not modified")
    local revs = new_revs(r)
    t.is(#revs, 1, "one ControllerRevision created")
    t.is(revs[1].metadata.name, "agent-" .. h, "named <ds>-<hash>")
    t.is(revs[1].revision, 1, "revision 1")
    t.is(revs[1].metadata.annotations.note, "x", "the DaemonSet's annotations on the revision")
    t.is(revs[1].data.spec.template["$patch"], "replace", "revision data")
    t.is(r.status.desiredNumberScheduled, 3, "desired 3")
    t.is(r.status.currentNumberScheduled, 0, "current 0 (required field written)")
    t.is(r.status.numberUnavailable, 3, "unavailable 3")
    t.is(r.status.observedGeneration, 4, "observedGeneration")
    t.is(r.status.updatedNumberScheduled, nil, "zero updated left out")
    t.is(r.events, nil, "no events of its own (the runtime's child_events name the pods)")
    t.is(DSP.child_events[PODS].create.message, "Created pod: %s", "SuccessfulCreate message")
end

-- hostNetwork adds network-unavailable; a template toleration matching one of kube's is
-- replaced (tolerationSeconds dropped), others kept.
do
    local d = ds("agent", { host_network = true, tolerations = {
        { key = "node.kubernetes.io/not-ready", operator = "Exists", effect = "NoExecute", tolerationSeconds = 30 },
        { key = "dedicated", operator = "Equal", value = "infra", effect = "NoSchedule" } } })
    local r = run(d, {}, {}, { F.node("n1", { ready = "True" }) })
    local tols = r.children[PODS].entries[1].spec.tolerations
    t.is(#tols, 8, "template's two, five more, network-unavailable")
    t.is(tols[1].key, "node.kubernetes.io/not-ready", "the matching one stays in place")
    t.is(tols[1].tolerationSeconds, nil, "and loses its tolerationSeconds")
    t.is(tols[2].key, "dedicated", "the user's toleration kept")
    t.is(tols[8].key, "node.kubernetes.io/network-unavailable", "network-unavailable last")
end

-- nodeSelector, required node affinity, taints and tolerations, cordoned nodes.
do
    local nodes = {
        F.node("gpu", { ready = "True" }), F.node("cpu", { ready = "True" }),
        F.node("tainted", { ready = "True", taints = { { key = "dedicated", value = "db", effect = "NoSchedule" } } }),
        F.node("cordoned", { ready = "True", unschedulable = true,
            taints = { { key = "node.kubernetes.io/unschedulable", effect = "NoSchedule" } } }),
        F.node("notready", { ready = "False", taints = { { key = "node.kubernetes.io/not-ready", effect = "NoExecute" } } }),
    }
    nodes[1].metadata.labels = { accel = "gpu", zone = "a" }
    nodes[2].metadata.labels = { zone = "b" }
    local r = run(ds("agent"), {}, {}, nodes)
    t.is(created_on(r), "cordoned,cpu,gpu,notready", "all but the tainted node (cordoned and not-ready tolerated)")
    r = run(ds("agent", { node_selector = { accel = "gpu" } }), {}, {}, nodes)
    t.is(created_on(r), "gpu", "nodeSelector")
    t.is(r.status.desiredNumberScheduled, 1, "desired counts fitting nodes only")
    r = run(ds("agent", { affinity = { nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution = {
        nodeSelectorTerms = { { matchExpressions = { { key = "zone", operator = "In", values = { "b" } } } } } } } } }),
        {}, {}, nodes)
    t.is(created_on(r), "cpu", "required node affinity")
    t.is(r.children[PODS].entries[1].spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
        .nodeSelectorTerms[1].matchExpressions, nil, "the affinity terms are replaced by the node pin")
    r = run(ds("agent", { tolerations = { { key = "dedicated", operator = "Exists" } } }), {}, {}, nodes)
    t.is(created_on(r), "cordoned,cpu,gpu,notready,tainted", "a toleration admits the tainted node")

    -- A NoSchedule taint added under a running pod keeps it; a NoExecute one removes it.
    local d = ds("agent")
    local nos = F.node("n1", { ready = "True", taints = { { key = "x", effect = "NoSchedule" } } })
    local noe = F.node("n2", { ready = "True", taints = { { key = "x", effect = "NoExecute" } } })
    r = run(d, { dpod(d, "p1", "n1", { ready = true }), dpod(d, "p2", "n2", { ready = true }) }, { stored_rev(d, 1) }, { nos, noe })
    t.is(deleted(r), "p2", "NoExecute untolerated: deleted; NoSchedule: kept")
    t.is(created_on(r), "", "nothing created on either")
    t.is(r.status.numberMisscheduled, 2, "both count as misscheduled")
    t.is(r.status.desiredNumberScheduled, 0, "neither desired")
end

-- Nodes come and go; pods pinned to gone nodes are deleted, scheduled or not.
do
    local d = ds("agent")
    local pods = { dpod(d, "p1", "n1", { ready = true }), dpod(d, "p2", "n2", { ready = true }),
                   dpod(d, "p3", "n3", { unscheduled = true }), dpod(d, "p4", "gone", { deleting = true }) }
    local r = run(d, pods, { stored_rev(d, 1) }, { F.node("n1", { ready = "True" }), F.node("n4", { ready = "True" }) })
    t.is(created_on(r), "n4", "a new node gets a pod")
    t.is(deleted(r), "p2,p3", "pods of removed nodes deleted (scheduled and pinned-only), terminating ones left")
    t.is(#new_revs(r), 0, "the stored revision is current: none created")
    t.is(r.status.desiredNumberScheduled, 2, "desired 2")
    t.is(r.status.currentNumberScheduled, 1, "current 1")
    t.is(r.status.numberMisscheduled, 0, "pods of gone nodes are not misscheduled")
end

-- Duplicate pods on a node: all but the oldest (scheduled first) go; terminating pods block a
-- create until they are gone.
do
    local d = ds("agent")
    local pods = {
        dpod(d, "young", "n1", { created = F.T0 - 10 }), dpod(d, "old", "n1", { created = F.T0 - 100 }),
        dpod(d, "pending", "n1", { created = F.T0 - 500, unscheduled = true }),
        dpod(d, "going", "n2", { deleting = true }),
    }
    local r = run(d, pods, { stored_rev(d, 1) }, { F.node("n1", { ready = "True" }), F.node("n2", { ready = "True" }) })
    t.is(deleted(r), "pending,young", "the oldest scheduled pod stays")
    t.is(created_on(r), "", "no create while the node's pod terminates")
end

-- Failed pods are deleted (FailedDaemonPod), with kube's backoff per node; succeeded ones too.
do
    DS.reset_backoff()
    local d = ds("agent")
    local nodes = { F.node("n1", { ready = "True" }), F.node("n2", { ready = "True" }) }
    local rev = { stored_rev(d, 1) }
    local r = run(d, { dpod(d, "f1", "n1", { phase = "Failed" }), dpod(d, "s1", "n2", { phase = "Succeeded" }) }, rev, nodes)
    t.is(deleted(r), "f1,s1", "failed and succeeded pods deleted")
    t.ok(has_event(r, "FailedDaemonPod", "Found failed daemon pod default/f1 on node n1, will try to kill it"),
        "FailedDaemonPod event")
    t.ok(has_event(r, "SucceededDaemonPod", "default/s1 on node n2"), "SucceededDaemonPod event")
    t.is(created_on(r), "", "the replacement comes once the failed pod is gone")
    r = run(d, {}, rev, nodes, { now = F.T0 + 0.2 })
    t.is(created_on(r), "n1,n2", "then created")
    -- It fails again at once: backoff 1 s since the last delete.
    r = run(d, { dpod(d, "f2", "n1", { phase = "Failed" }) }, rev, { nodes[1] }, { now = F.T0 + 0.5 })
    t.is(deleted(r), "", "a second failure within the backoff is not deleted yet")
    t.is(r.requeue_after, 1, "requeued after the backoff")
    r = run(d, { dpod(d, "f2", "n1", { phase = "Failed" }) }, rev, { nodes[1] }, { now = F.T0 + 1.5 })
    t.is(deleted(r), "f2", "deleted once the backoff passed")
    r = run(d, { dpod(d, "f3", "n1", { phase = "Failed" }) }, rev, { nodes[1] }, { now = F.T0 + 2.5 })
    t.is(deleted(r), "", "the backoff doubled (2 s)")
    t.is(r.requeue_after, 2, "requeued after 2 s")
end

-- The rolling update simulation: pods created by a result are bound to their node; the
-- kubelet makes them Ready at once (ready_since = the creation time).
local function sim(d, nodes, pods, revs, now)
    local r = run(d, pods, revs, nodes, { now = now })
    F.apply_children(pods, r.children[PODS], d, { now = now })
    F.apply_children(revs, r.children[REVS], d, { now = now })
    for _, p in ipairs(pods) do
        if not p.spec.nodeName then
            p.spec.nodeName = DS.target_node(p)
            p.status = { phase = "Running", conditions = { { type = "Ready", status = "True",
                lastTransitionTime = F.iso(now) } } }
        end
    end
    return r
end

local function hashes(pods, d)
    local new, old = 0, 0
    for _, p in ipairs(pods) do
        if p.metadata.labels[HASH] == hash_of(d) then new = new + 1 else old = old + 1 end
    end
    return new, old
end

-- RollingUpdate, 2 nodes, maxUnavailable 1, minReadySeconds 10.
do
    local d1 = ds("agent", { uid = "ds-roll", max_unavailable = 1, min_ready = 10 })
    local nodes = { F.node("n1", { ready = "True" }), F.node("n2", { ready = "True" }) }
    local pods, revs = {}, {}
    sim(d1, nodes, pods, revs, F.T0 - 100)
    t.is(#pods, 2, "rollout start: two pods")
    local d2 = ds("agent", { uid = "ds-roll", image = "agent:2", max_unavailable = 1, min_ready = 10, generation = 2 })
    local r = sim(d2, nodes, pods, revs, F.T0)
    t.is(#new_revs(r), 1, "a new revision for the new template")
    t.is(new_revs(r)[1].revision, 2, "numbered 2")
    t.is(#r.children[PODS].delete, 1, "one old pod deleted (maxUnavailable 1)")
    t.is(#pods, 1, "one left")
    r = sim(d2, nodes, pods, revs, F.T0 + 1)
    t.is(#r.children[PODS].entries, 1, "its replacement created by manage")
    t.is(#r.children[PODS].delete, 0, "no other delete in the same sync")
    local new = hashes(pods, d2)
    t.is(new, 1, "one new pod")
    r = sim(d2, nodes, pods, revs, F.T0 + 5)
    t.is(#r.children[PODS].delete, 0, "the new pod is not yet available: the other old one stays")
    t.is(r.requeue_after, 7, "requeued for the moment it becomes available (ready at +1, 10 s)")
    t.is(r.status.updatedNumberScheduled, 1, "updated 1")
    t.is(r.status.numberReady, 2, "ready 2")
    t.is(r.status.numberAvailable, 1, "available 1 (the old one)")
    t.is(r.status.numberUnavailable, 1, "unavailable 1")
    r = sim(d2, nodes, pods, revs, F.T0 + 12)
    t.is(#r.children[PODS].delete, 1, "once available, the second old pod goes")
    sim(d2, nodes, pods, revs, F.T0 + 13)
    new = hashes(pods, d2)
    t.is(new, 2, "both pods new")
    r = sim(d2, nodes, pods, revs, F.T0 + 30)
    t.is(r.status.updatedNumberScheduled, 2, "updated 2")
    t.is(r.status.numberAvailable, 2, "available 2")
    t.is(r.status.numberUnavailable, nil, "none unavailable")
    t.is(#revs, 2, "two revisions kept")

    -- Rollback to the first template: its revision is renumbered 3, none created.
    local d3 = ds("agent", { uid = "ds-roll", max_unavailable = 1, min_ready = 10, generation = 3 })
    r = sim(d3, nodes, pods, revs, F.T0 + 40)
    t.is(#new_revs(r), 0, "rollback: no new revision")
    local bumped
    for _, e in ipairs(r.children[REVS].entries) do
        if e.revision then bumped = e end
    end
    t.ok(bumped and bumped.metadata.name == "agent-" .. hash_of(d1) and bumped.revision == 3,
        "the old revision renumbered to 3")
    t.is(#r.children[PODS].delete, 1, "and the rollout starts")
end

-- maxUnavailable as a percentage rounds up; unavailable old pods go without counting.
do
    local d0 = ds("agent", { uid = "ds-pct" })
    local d = ds("agent", { uid = "ds-pct", image = "agent:2", max_unavailable = "30%" })
    local nodes, pods = {}, {}
    for i = 1, 5 do
        nodes[i] = F.node("n" .. i, { ready = "True" })
        pods[i] = dpod(d0, "p" .. i, "n" .. i, { ready = i ~= 5 })
    end
    local r = run(d, pods, { stored_rev(d0, 1) }, nodes)
    t.is(#r.children[PODS].delete, 2, "30% of 5 = 2 (rounded up), the unavailable pod counted in")
    t.ok(deleted(r):find("p5", 1, true) ~= nil, "the unavailable old pod is among them")
    -- The budget spent by an unavailable new pod: an unavailable old pod still goes.
    d = ds("agent", { uid = "ds-pct", image = "agent:2", max_unavailable = 1 })
    r = run(d, { dpod(d, "new", "n1", { ready = false }), dpod(d0, "o2", "n2", { ready = true }),
                 dpod(d0, "o3", "n3", { ready = false }) }, { stored_rev(d0, 1) }, { nodes[1], nodes[2], nodes[3] })
    t.is(deleted(r), "o3", "maxUnavailable spent: only the unavailable old pod is deleted")
end

-- maxSurge 1 (maxUnavailable 0): a new pod next to an old one, the old one deleted once the
-- new is available; one node at a time.
do
    local d1 = ds("agent", { uid = "ds-surge", max_unavailable = 0, max_surge = 1 })
    local nodes = { F.node("n1", { ready = "True" }), F.node("n2", { ready = "True" }) }
    local pods, revs = {}, {}
    sim(d1, nodes, pods, revs, F.T0 - 100)
    local d2 = ds("agent", { uid = "ds-surge", image = "agent:2", max_unavailable = 0, max_surge = 1, generation = 2 })
    local r = run(d2, pods, revs, nodes, { now = F.T0 })
    t.is(created_on(r), "n1", "surge: one new pod, on n1")
    t.is(deleted(r), "", "nothing deleted")
    -- The new pod is there but not ready yet.
    local old_n1 = pods[1].metadata.name
    pods[#pods + 1] = dpod(d2, "new1", "n1", { ready = false, created = F.T0 })
    r = run(d2, pods, revs, nodes, { now = F.T0 + 1 })
    t.is(deleted(r), "", "old pod kept while the new one is not available")
    t.is(created_on(r), "", "no second surge beyond maxSurge 1")
    pods[#pods] = dpod(d2, "new1", "n1", { ready = true, ready_since = F.T0 + 2, created = F.T0 })
    r = run(d2, pods, revs, nodes, { now = F.T0 + 3 })
    t.is(deleted(r), old_n1, "new pod available: the old one on its node deleted")
    -- An unavailable old pod is replaced at once: a new pod beside it.
    local d3 = ds("agent", { uid = "ds-surge2", max_unavailable = 0, max_surge = 1 })
    local d4 = ds("agent", { uid = "ds-surge2", image = "agent:2", max_unavailable = 0, max_surge = 1 })
    r = run(d4, { dpod(d3, "a", "n1", { ready = true }), dpod(d3, "b", "n2", { ready = false }) }, { stored_rev(d3, 1) }, nodes)
    t.is(created_on(r), "n1,n2", "the unavailable node gets a pod outside the surge budget, n1 the surge")
    -- Two pods on a node under surge: the oldest old one goes when not ready.
    r = run(d4, { dpod(d3, "o", "n1", { ready = false, created = F.T0 - 50 }), dpod(d4, "n", "n1", { ready = false }) },
        { stored_rev(d3, 1) }, { nodes[1] })
    t.is(deleted(r), "o", "manage under surge: a not-ready old pod beside a new one goes")
end

-- maxSurge with a node that should no longer run the pod (a NoSchedule taint it does not
-- tolerate: the old pod may continue): its old pod goes only while the others are available.
do
    local d1 = ds("agent", { uid = "ds-sunset", max_unavailable = 0, max_surge = 1 })
    local d2 = ds("agent", { uid = "ds-sunset", image = "agent:2", max_unavailable = 0, max_surge = 1 })
    local nodes = { F.node("n1", { ready = "True", taints = { { key = "x", effect = "NoSchedule" } } }),
                    F.node("n2", { ready = "True" }) }
    local r = run(d2, { dpod(d1, "old1", "n1", { ready = true }), dpod(d2, "new2", "n2", { ready = false }) },
        { stored_rev(d1, 1) }, nodes)
    t.is(deleted(r), "", "the sunset node's old pod stays while n2's new pod is unavailable")
    r = run(d2, { dpod(d1, "old1", "n1", { ready = true }), dpod(d2, "new2", "n2", { ready = true }) },
        { stored_rev(d1, 1) }, nodes)
    t.is(deleted(r), "old1", "and goes once enough pods are available elsewhere")
end

-- A failed pod already being deleted does not hold its node: a replacement is created.
do
    local d = ds("agent")
    local r = run(d, { dpod(d, "f", "n1", { phase = "Failed", deleting = true }) }, { stored_rev(d, 1) },
        { F.node("n1", { ready = "True" }) })
    t.is(created_on(r), "n1", "replacement created beside the terminating failed pod")
end

-- OnDelete: the template change touches no pod; a pod deleted by hand comes back new.
do
    local d1 = ds("agent", { uid = "ds-od", strategy = "OnDelete" })
    local d2 = ds("agent", { uid = "ds-od", strategy = "OnDelete", image = "agent:2" })
    local nodes = { F.node("n1", { ready = "True" }), F.node("n2", { ready = "True" }) }
    local revs = { stored_rev(d1, 1) }
    local pods = { dpod(d1, "p1", "n1", { ready = true }), dpod(d1, "p2", "n2", { ready = true }) }
    local r = run(d2, pods, revs, nodes)
    t.is(deleted(r), "", "OnDelete: no old pod deleted")
    t.is(created_on(r), "", "nothing created")
    t.is(#new_revs(r), 1, "the new revision is recorded")
    t.is(r.status.updatedNumberScheduled, nil, "none updated")
    r = run(d2, { pods[1] }, revs, nodes)
    t.is(created_on(r), "n2", "the node whose pod was deleted gets a new one")
    t.is(r.children[PODS].entries[1].metadata.labels[HASH], hash_of(d2), "with the new template's hash")
    t.is(r.children[PODS].entries[1].spec.containers[1].image, "agent:2", "and the new template")
end

-- History: truncation beyond revisionHistoryLimit keeps revisions live pods use.
do
    local cur = ds("agent", { uid = "ds-h", history = 2, image = "agent:9" })
    local revs = {}
    for i = 1, 5 do
        revs[i] = stored_rev(ds("agent", { uid = "ds-h", image = "agent:" .. i }), i)
    end
    revs[6] = stored_rev(cur, 6)
    local live = ds("agent", { uid = "ds-h", image = "agent:1" })
    local r = run(cur, { dpod(live, "p1", "n1", { ready = true }), dpod(cur, "p2", "n2", { ready = true }) }, revs,
        { F.node("n1", { ready = "True" }), F.node("n2", { ready = "True" }) })
    local dels = {}
    for _, n in ipairs(r.children[REVS].delete) do dels[#dels + 1] = n end
    local want = { revs[2].metadata.name, revs[3].metadata.name, revs[4].metadata.name }
    table.sort(dels); table.sort(want)
    t.is(table.concat(dels, ","), table.concat(want, ","),
        "5 old revisions, limit 2: 3 go, oldest first, the one p1 uses kept")
    t.is(#new_revs(r), 0, "the current one exists")
end

-- History: duplicate current revisions (equal data): the highest kept, the others deleted
-- and their pods relabelled; a revision without the hash label gets its name as one.
do
    local d = ds("agent", { uid = "ds-dup" })
    local a, b = stored_rev(d, 2), stored_rev(d, 5)
    a.metadata.name, a.metadata.labels[HASH] = "agent-aaa", "aaa"
    b.metadata.name = "agent-bbb"
    b.metadata.labels[HASH] = nil
    local r = run(d, { dpod(d, "p1", "n1", { hash = "aaa", ready = true }) }, { a, b }, { F.node("n1", { ready = "True" }) })
    t.is(table.concat(r.children[REVS].delete, ","), "agent-aaa", "the lower duplicate deleted")
    local relabel
    for _, e in ipairs(r.children[PODS].entries) do
        if e.metadata.name == "p1" then relabel = e end
    end
    t.ok(relabel and relabel.metadata.labels[HASH] == "agent-bbb", "its pod relabelled to the kept hash (the name)")
    local lab
    for _, e in ipairs(r.children[REVS].entries) do
        if e.metadata.name == "agent-bbb" then lab = e end
    end
    t.ok(lab and lab.metadata.labels[HASH] == "agent-bbb", "the unlabelled revision gets its name as hash")
    t.is(deleted(r), "", "the relabelled pod is not deleted")
end

-- History: a hash collision bumps status.collisionCount.
do
    local d = ds("agent", { uid = "ds-coll" })
    local other = stored_rev(ds("agent", { image = "other" }), 1, { owned = false })
    other.metadata.name = "agent-" .. hash_of(d)
    local r = run(d, {}, {}, { F.node("n1", { ready = "True" }) }, { revisions_seen = { other } })
    t.is(r.status.collisionCount, 1, "collisionCount 1")
    local rev = new_revs(r)[1]
    t.is(rev.metadata.name, "agent-" .. H.hash(d.spec.template, 1), "the new name uses the count")
    t.is(r.children[PODS].entries[1].metadata.labels[HASH], H.hash(d.spec.template, 1), "pods get that hash")
    -- An equal object of that name (made by an earlier sync, not yet claimed): no collision.
    local same = stored_rev(d, 1, { owned = false })
    r = run(d, {}, {}, { F.node("n1", { ready = "True" }) }, { revisions_seen = { same } })
    t.is(r.status.collisionCount, nil, "an equal revision is no collision")
    t.is(#new_revs(r), 0, "and is not created again")
end

-- Status with minReadySeconds: ready, available, requeue.
do
    local d = ds("agent", { min_ready = 30, generation = 7 })
    local nodes = { F.node("n1", { ready = "True" }), F.node("n2", { ready = "True" }), F.node("n3", { ready = "True" }),
                    F.node("off", { ready = "True" }) }
    nodes[4].metadata.labels = { off = "yes" }
    local dd = ds("agent", { min_ready = 30, generation = 7,
        affinity = { nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms = {
            { matchExpressions = { { key = "off", operator = "DoesNotExist" } } } } } } } })
    local pods = {
        dpod(dd, "p1", "n1", { ready = true, ready_since = F.T0 - 100 }),
        dpod(dd, "p2", "n2", { ready = true, ready_since = F.T0 - 10 }),
        dpod(dd, "p3", "n3", { ready = false, hash = "old" }),
        dpod(dd, "p4", "off", { ready = true, ready_since = F.T0 - 100 }),
    }
    local r = run(dd, pods, { stored_rev(dd, 1) }, nodes)
    local st = r.status
    t.is(st.desiredNumberScheduled, 3, "desired 3")
    t.is(st.currentNumberScheduled, 3, "current 3")
    t.is(st.numberMisscheduled, 1, "misscheduled 1")
    t.is(st.numberReady, 2, "ready 2")
    t.is(st.numberAvailable, 1, "available 1")
    t.is(st.numberUnavailable, 2, "unavailable 2")
    t.is(st.updatedNumberScheduled, 2, "updated 2")
    t.is(st.observedGeneration, 7, "observedGeneration 7")
    t.is(r.requeue_after, 21, "requeue when p2 passes minReadySeconds (30 - 10, strictly after)")
    t.is(deleted(r), "p4", "the misscheduled pod is deleted")
    local _ = d
end

-- Adoption of an orphan and release of a pod that stopped matching; revisions too.
do
    local d = ds("agent", { uid = "ds-adopt" })
    local orphan = dpod(d, "orphan", "n1", { owned = false, ready = true })
    local strayed = dpod(d, "strayed", "n2", { labels = { app = "other" }, ready = true })
    local orev = stored_rev(d, 1, { owned = false })
    local r = DS.sync(d, { [PODS] = { strayed }, [REVS] = {} },
        F.ctx({ orphans = { [PODS] = { orphan, dpod(d, "foreign", "n2", { owned = false, labels = { app = "x" } }) },
                            [REVS] = { orev } },
                objects = { [NODES] = { F.node("n1", { ready = "True" }), F.node("n2", { ready = "True" }) } } }))
    t.is(table.concat(r.adopt[PODS], ","), "orphan", "the matching orphan adopted, the other not")
    t.is(table.concat(r.adopt[REVS], ","), orev.metadata.name, "the orphan revision adopted")
    t.is(table.concat(r.release[PODS], ","), "strayed", "the pod that stopped matching released")
    t.is(created_on(r), "n2", "the released pod's node gets a pod; the adopted one's does not")
    t.is(#new_revs(r), 0, "the adopted revision is current")
end

-- An empty selector selects all: a warning and nothing else; a deleting DaemonSet: nothing.
do
    local d = ds("agent", { selector = {} })
    local r = run(d, {}, {}, three_nodes())
    t.ok(has_event(r, "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required."),
        "SelectingAll warning")
    t.is(r.children, nil, "no children written")
    d = ds("agent")
    d.metadata.deletionTimestamp = F.iso(F.T0)
    r = run(d, {}, {}, three_nodes())
    t.is(next(r), nil, "deleting: empty result")
    r = run(ds("agent", { selector = { matchLabels = { app = "nope" } } }), {}, {}, three_nodes())
    t.ok(has_event(r, "InvalidSelector") and r.children == nil, "a selector missing the template: no pods made")
end

-- The burst limit: 250 creates per sync.
do
    local nodes = {}
    for i = 1, 300 do nodes[i] = F.node(string.format("n%03d", i), { ready = "True" }) end
    local r = run(ds("agent"), {}, {}, nodes)
    t.is(#r.children[PODS].entries, 250, "at most 250 creates")
    t.is(r.status.desiredNumberScheduled, 300, "desired 300")
end

t.done_testing()
