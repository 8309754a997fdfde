-- t/lua/test_ctrl_statefulset.lua: policies/controllers/statefulset.lua
-- (lua/berth/controller/statefulset.lua): OrderedReady and Parallel creation, identity
-- (names, hostname/subdomain, labels, ordinals.start), scale-down from the highest ordinal
-- one at a time and its waits, failed pods replaced, rolling updates from the top with
-- readiness gating, the partition, OnDelete, revision history (rollback, collision,
-- truncation), status numbers with minReadySeconds, adoption and release, a set being
-- deleted, volumeClaimTemplates refused. Run by t/0195-controller-policies.t.
local t = require("tap")
local okF, F = pcall(require, "ctrl_fixture")
local okP, STS = pcall(require, "controllers.statefulset")
if not (okF and okP) then
    t.ok(true, "controller policy tests # SKIP policies/ not on the module path (t/0195 runs them)")
    t.done_testing()
end
local C = require("berth.controller.common")
local PODS, REVS = "v1/pods", "apps/v1/controllerrevisions"
local HASH = "controller-revision-hash"

---------------------------------------------------------------------------------------------
-- A StatefulSet and a small cluster: the runtime's apply step and a kubelet by hand
---------------------------------------------------------------------------------------------

-- o: replicas, policy ("Parallel"), service, start (ordinals.start), strategy
-- (updateStrategy table), min_ready, history, image, labels.
local function sts(name, o)
    o = o or {}
    local labels = o.labels or { app = name }
    local tpl = F.template(labels)
    tpl.spec.containers[1].image = o.image or "nginx:1.25"
    return {
        apiVersion = "apps/v1", kind = "StatefulSet",
        metadata = { name = name, namespace = "default", uid = F.uid("sts"), generation = 1 },
        spec = {
            replicas = o.replicas, serviceName = o.service, podManagementPolicy = o.policy,
            selector = { matchLabels = C.copy_map(labels) }, template = tpl,
            updateStrategy = o.strategy, minReadySeconds = o.min_ready,
            ordinals = o.start and { start = o.start } or nil, revisionHistoryLimit = o.history,
        },
        status = {},
    }
end

local function new_sim(set, o)
    o = o or {}
    return { set = set, pods = {}, revs = {}, orphan_pods = {}, orphan_revs = {}, now = F.T0,
             graceful = o.graceful, others = {} }
end

local function find(list, name)
    for i, obj in ipairs(list) do
        if C.name(obj) == name then return obj, i end
    end
end

local function names(list)
    local out = {}
    for _, obj in ipairs(list or {}) do
        out[#out + 1] = type(obj) == "string" and obj or C.name(obj)
    end
    table.sort(out, function(a, b)
        local na, nb = tonumber(a:match("%d+$")), tonumber(b:match("%d+$"))
        if na and nb and na ~= nb then return na < nb end
        return a < b
    end)
    return table.concat(out, ",")
end

-- One sync and the runtime's apply of its result; returns the result and what it created
-- and deleted (pod names, in the result's order).
local function step(s)
    local all_revs = {}
    for _, r in ipairs(s.revs) do all_revs[#all_revs + 1] = r end
    for _, r in ipairs(s.orphan_revs) do all_revs[#all_revs + 1] = r end
    for _, r in ipairs(s.others) do all_revs[#all_revs + 1] = r end
    local ctx = F.ctx({ now = s.now, orphans = { [PODS] = s.orphan_pods, [REVS] = s.orphan_revs },
                        objects = { [REVS] = all_revs } })
    local r = STS.sync(s.set, { [PODS] = s.pods, [REVS] = s.revs }, ctx)
    local out = { result = r, created = {}, deleted = {}, updated = {} }
    for _, n in ipairs(r.release and r.release[PODS] or {}) do
        local p, i = find(s.pods, n)
        table.remove(s.pods, i)
        p.metadata.ownerReferences = nil
        s.orphan_pods[#s.orphan_pods + 1] = p
    end
    for res, list in pairs(r.adopt or {}) do
        local from, to = res == PODS and s.orphan_pods or s.orphan_revs, res == PODS and s.pods or s.revs
        for _, n in ipairs(list) do
            local o, i = find(from, n)
            table.remove(from, i)
            o.metadata.ownerReferences = { { kind = "StatefulSet", name = C.name(s.set), uid = C.uid(s.set), controller = true } }
            to[#to + 1] = o
        end
    end
    if r.children then
        local want = r.children[PODS]
        if want then
            if s.graceful then
                for _, n in ipairs(want.delete or {}) do
                    local p = find(s.pods, n)
                    p.metadata.deletionTimestamp = p.metadata.deletionTimestamp or F.iso(s.now)
                    out.deleted[#out.deleted + 1] = n
                end
                want = { rest = "keep", entries = want.entries }
            end
            local c, u, d = F.apply_children(s.pods, want, s.set, { now = s.now })
            for _, n in ipairs(c) do out.created[#out.created + 1] = n end
            for _, n in ipairs(u) do out.updated[#out.updated + 1] = n end
            if not s.graceful then
                for _, n in ipairs(r.children[PODS].delete or {}) do out.deleted[#out.deleted + 1] = n end
                assert(#d == #(r.children[PODS].delete or {}), "every delete was of an existing pod")
            end
        end
        if r.children[REVS] then
            F.apply_children(s.revs, r.children[REVS], s.set, { now = s.now })
        end
    end
    if r.status then
        s.set.status = C.copy(r.status)
    end
    return out
end

-- The kubelet: the pod is Running and Ready since `since` (default: an hour ago).
local function ready(s, name, since)
    local p = assert(find(s.pods, name), "no pod " .. name)
    p.status = { phase = "Running", conditions = { { type = "Ready", status = "True",
        lastTransitionTime = F.iso(since or (s.now - 3600)) } } }
end

local function not_ready(s, name)
    local p = assert(find(s.pods, name), "no pod " .. name)
    p.status = { phase = "Running", conditions = { { type = "Ready", status = "False",
        lastTransitionTime = F.iso(s.now) } } }
end

local function ready_all(s)
    for _, p in ipairs(s.pods) do
        if not C.is_deleting(p) then ready(s, C.name(p)) end
    end
end

-- Removes terminating pods (their grace period ended).
local function reap(s)
    for i = #s.pods, 1, -1 do
        if C.is_deleting(s.pods[i]) then table.remove(s.pods, i) end
    end
end

local function remove(s, name)
    local _, i = find(s.pods, name)
    table.remove(s.pods, i)
end

-- Syncs, making every pod ready after each, until a sync changes no pod (at most n syncs).
local function converge(s, n)
    for _ = 1, n or 50 do
        ready_all(s)
        local o = step(s)
        reap(s)
        if #o.created == 0 and #o.deleted == 0 and #o.updated == 0 then
            ready_all(s)
            return step(s)
        end
    end
    error("no convergence")
end

local function image(p)
    return p.spec.containers[1].image
end

local function event_msgs(r)
    local out = {}
    for _, e in ipairs(r.events or {}) do out[#out + 1] = e.reason .. ": " .. e.message end
    return table.concat(out, " | ")
end

---------------------------------------------------------------------------------------------
-- Policy table
---------------------------------------------------------------------------------------------

t.is(STS.parent, "apps/v1/statefulsets", "parent")
t.is(table.concat(STS.children, ","), "v1/pods,apps/v1/controllerrevisions", "children: pods and revisions")
t.is(STS.adopt, true, "adopts")
t.ok(pcall(STS.self_test), "self_test passes")

---------------------------------------------------------------------------------------------
-- OrderedReady creation and identity
---------------------------------------------------------------------------------------------
do
    local s = new_sim(sts("web", { replicas = 3, service = "nginx" }))
    s.set.metadata.annotations = { ["kubernetes.io/change-cause"] = "first" }
    local o = step(s)
    local r = o.result
    t.is(names(o.created), "web-0", "OrderedReady: only web-0 first")
    t.is(#s.revs, 1, "the first sync creates a ControllerRevision")
    local rev = s.revs[1]
    t.is(rev.revision, 1, "revision 1")
    t.is(rev.kind, "ControllerRevision", "kind set on the revision")
    t.is(rev.metadata.name, "web-" .. rev.metadata.labels[HASH], "revision named <set>-<hash>")
    t.is(rev.metadata.labels.app, "web", "revision carries the template's labels")
    t.is(rev.data.spec.template["$patch"], "replace", "revision data is the replace patch")
    t.is(rev.metadata.annotations and rev.metadata.annotations["kubernetes.io/change-cause"], "first",
         "revision carries the set's annotations (rollout history's CHANGE-CAUSE)")
    local p = find(s.pods, "web-0")
    t.is(p.metadata.labels[HASH], rev.metadata.name, "pod's controller-revision-hash is the revision's name")
    t.is(p.metadata.labels["statefulset.kubernetes.io/pod-name"], "web-0", "pod-name label")
    t.is(p.metadata.labels["apps.kubernetes.io/pod-index"], "0", "pod-index label")
    t.is(p.metadata.labels.app, "web", "template labels")
    t.is(p.spec.hostname, "web-0", "hostname = pod name")
    t.is(p.spec.subdomain, "nginx", "subdomain = serviceName")
    t.is(image(p), "nginx:1.25", "spec from the template")
    t.is(p.metadata.generateName, nil, "no generateName")
    t.is(event_msgs(r), "SuccessfulCreate: create Pod web-0 in StatefulSet web successful", "kube's create event")
    t.is(r.events[1].child.name, "web-0", "the event names its child")
    t.is(r.status.replicas, 0, "status.replicas counts existing pods")
    t.is(r.status.updateRevision, rev.metadata.name, "updateRevision")
    t.is(r.status.currentRevision, rev.metadata.name, "currentRevision starts at the update revision")
    t.is(r.status.collisionCount, 0, "collisionCount written")
    t.is(r.status.observedGeneration, 1, "observedGeneration")

    o = step(s)
    t.is(#o.created, 0, "web-0 Pending: web-1 waits")
    t.is(o.result.status.replicas, 1, "status.replicas 1")
    t.is(o.result.status.readyReplicas, nil, "no ready pod (omitempty)")
    t.is(o.result.status.availableReplicas, 0, "availableReplicas 0 is written")
    t.is(o.result.status.currentReplicas, 1, "currentReplicas 1")
    t.is(o.result.status.updatedReplicas, 1, "updatedReplicas 1")
    not_ready(s, "web-0")
    o = step(s)
    t.is(#o.created, 0, "web-0 Running but not Ready: web-1 waits")
    ready(s, "web-0")
    o = step(s)
    t.is(names(o.created), "web-1", "web-0 Ready: web-1 created")
    t.is(find(s.pods, "web-1").metadata.labels["apps.kubernetes.io/pod-index"], "1", "web-1 index")
    ready(s, "web-1")
    o = step(s)
    t.is(names(o.created), "web-2", "then web-2")
    ready(s, "web-2")
    o = step(s)
    t.is(#o.created + #o.deleted, 0, "three ready pods: nothing to do")
    t.is(o.result.status.replicas, 3, "replicas 3")
    t.is(o.result.status.readyReplicas, 3, "readyReplicas 3")
    t.is(o.result.status.availableReplicas, 3, "availableReplicas 3")
    t.is(#s.revs, 1, "still one revision")
end

-- A missing lower ordinal is created before anything else happens (web-1 deleted by hand).
do
    local s = new_sim(sts("web", { replicas = 3 }))
    converge(s)
    remove(s, "web-1")
    not_ready(s, "web-2")
    local o = step(s)
    t.is(names(o.created), "web-1", "a hole is refilled at its ordinal")
    t.is(find(s.pods, "web-1").spec.subdomain, nil, "no serviceName: no subdomain")
end

-- Parallel creates all at once, without waiting.
do
    local s = new_sim(sts("db", { replicas = 4, policy = "Parallel" }))
    local o = step(s)
    t.is(names(o.created), "db-0,db-1,db-2,db-3", "Parallel: all four created in one sync")
    t.is(#o.result.events, 4, "one event per create")
end

-- ordinals.start
do
    local s = new_sim(sts("web", { replicas = 2, start = 5 }))
    local o = step(s)
    t.is(names(o.created), "web-5", "ordinals.start 5: web-5 first")
    t.is(find(s.pods, "web-5").metadata.labels["apps.kubernetes.io/pod-index"], "5", "pod-index is the ordinal")
    ready(s, "web-5")
    o = step(s)
    t.is(names(o.created), "web-6", "then web-6")
    ready(s, "web-6")
    o = step(s)
    t.is(#o.created, 0, "two pods from ordinal 5")
    -- moving the start condemns web-5
    s.set.spec.ordinals.start = 6
    o = step(s)
    t.is(names(o.created), "web-7", "start 6: web-7 created first (replicas before condemned)")
    t.is(#o.deleted, 0, "web-5 not deleted in the same sync (OrderedReady)")
    ready(s, "web-7")
    o = step(s)
    t.is(names(o.deleted), "web-5", "then the pod below the range is condemned")
end

---------------------------------------------------------------------------------------------
-- Scale down
---------------------------------------------------------------------------------------------
do
    local s = new_sim(sts("web", { replicas = 4 }), { graceful = true })
    converge(s)
    t.is(names(s.pods), "web-0,web-1,web-2,web-3", "four pods")
    s.set.spec.replicas = 2
    local o = step(s)
    t.is(names(o.deleted), "web-3", "scale-down deletes the highest ordinal only")
    t.is(event_msgs(o.result), "SuccessfulDelete: delete Pod web-3 in StatefulSet web successful", "kube's delete event")
    o = step(s)
    t.is(#o.deleted, 0, "web-3 terminating: web-2 waits")
    t.is(o.result.status.replicas, 4, "a terminating pod still counts in replicas")
    reap(s)
    o = step(s)
    t.is(names(o.deleted), "web-2", "web-3 gone: web-2 deleted")
    reap(s)
    o = step(s)
    t.is(#o.deleted + #o.created, 0, "two left")
    t.is(o.result.status.replicas, 2, "status.replicas 2")
end

-- Condemned pods wait while a pod is unhealthy.
do
    local s = new_sim(sts("web", { replicas = 4 }))
    converge(s)
    s.set.spec.replicas = 2
    not_ready(s, "web-1")
    local o = step(s)
    t.is(#o.deleted, 0, "web-1 not Ready: no scale-down")
    ready(s, "web-1")
    not_ready(s, "web-2")
    o = step(s)
    t.is(names(o.deleted), "web-3", "a healthy condemned pod above goes first")
    o = step(s)
    t.is(names(o.deleted), "web-2", "the first unhealthy condemned pod may go")
end
do
    -- kube's firstUnhealthyPod among condemned pods is the lowest ordinal: with web-2 and
    -- web-3 both not Ready, web-3 (not the first unhealthy) waits to be Ready.
    local s = new_sim(sts("web", { replicas = 4 }))
    converge(s)
    s.set.spec.replicas = 2
    not_ready(s, "web-2")
    not_ready(s, "web-3")
    local o = step(s)
    t.is(#o.deleted, 0, "two unhealthy condemned pods: web-3 waits for Ready (kube)")
    ready(s, "web-3")
    o = step(s)
    t.is(names(o.deleted), "web-3", "web-3 Ready: deleted")
end
do
    local s = new_sim(sts("web", { replicas = 4, policy = "Parallel" }))
    converge(s)
    s.set.spec.replicas = 1
    not_ready(s, "web-0")
    local o = step(s)
    t.is(names(o.deleted), "web-1,web-2,web-3", "Parallel: all condemned deleted at once, unhealthy or not")
    t.is(o.result.children[PODS].delete[1], "web-3", "in decreasing ordinal order")
end

---------------------------------------------------------------------------------------------
-- Failed pods
---------------------------------------------------------------------------------------------
do
    local s = new_sim(sts("web", { replicas = 3 }))
    converge(s)
    local p = find(s.pods, "web-1")
    p.status.phase = "Failed"
    remove(s, "web-2")
    local o = step(s)
    t.is(names(o.deleted), "web-1", "a Failed pod is deleted")
    t.is(#o.created, 0, "not recreated in the same sync, and web-2 waits (OrderedReady)")
    o = step(s)
    t.is(names(o.created), "web-1", "once gone it is created again under the same name")
    t.isnt(find(s.pods, "web-1"), p, "a new pod")
    ready(s, "web-1")
    o = step(s)
    t.is(names(o.created), "web-2", "then the missing web-2")
end
do
    local s = new_sim(sts("web", { replicas = 2 }), { graceful = true })
    converge(s)
    find(s.pods, "web-0").status.phase = "Succeeded"
    local o = step(s)
    t.is(names(o.deleted), "web-0", "a Succeeded pod is deleted too")
    o = step(s)
    t.is(#o.deleted + #o.created, 0, "while it terminates: no second delete, no create")
end

---------------------------------------------------------------------------------------------
-- Rolling update
---------------------------------------------------------------------------------------------
do
    local s = new_sim(sts("web", { replicas = 3 }))
    converge(s)
    local rev1 = s.revs[1].metadata.name
    s.set.spec.template.spec.containers[1].image = "nginx:1.26"
    s.set.metadata.generation = 2
    local o = step(s)
    t.is(#s.revs, 2, "a template change creates a second revision")
    local rev2 = C.name(s.revs[2])
    t.is(s.revs[2].revision, 2, "revision 2")
    t.isnt(rev2, rev1, "with another name")
    t.is(names(o.deleted), "web-2", "rolling update: the highest ordinal first")
    t.is(o.result.status.currentRevision, rev1, "currentRevision stays during the update")
    t.is(o.result.status.updateRevision, rev2, "updateRevision is the new one")
    t.is(o.result.status.currentReplicas, 2, "currentReplicas counts the deleted pod out")
    t.is(o.result.status.observedGeneration, 2, "observedGeneration 2")
    o = step(s)
    t.is(names(o.created), "web-2", "web-2 recreated")
    local p = find(s.pods, "web-2")
    t.is(image(p), "nginx:1.26", "at the new template")
    t.is(p.metadata.labels[HASH], rev2, "labelled with the update revision")
    o = step(s)
    t.is(#o.deleted, 0, "web-2 not Ready yet: web-1 waits")
    t.is(o.result.status.updatedReplicas, 1, "updatedReplicas 1")
    ready(s, "web-2")
    o = step(s)
    t.is(names(o.deleted), "web-1", "web-2 Ready: web-1 next")
    step(s)
    ready(s, "web-1")
    o = step(s)
    t.is(names(o.deleted), "web-0", "then web-0")
    t.is(o.result.status.currentRevision, rev1, "not done: currentRevision still the old one")
    -- kube counts existing pods only: with web-0 gone, the two left are updated and ready,
    -- so the sync that recreates web-0 already completes the update (completeRollingUpdate).
    o = step(s)
    t.is(image(find(s.pods, "web-0")), "nginx:1.26", "web-0 updated")
    t.is(o.result.status.currentRevision, rev2, "the last old pod gone: currentRevision moves (as kube)")
    o = step(s)
    t.is(o.result.status.readyReplicas, 2, "web-0 not Ready yet")
    ready(s, "web-0")
    o = step(s)
    t.is(#o.deleted + #o.created, 0, "all updated")
    t.is(o.result.status.currentRevision, rev2, "done: currentRevision = updateRevision")
    t.is(o.result.status.currentReplicas, 3, "currentReplicas 3")
    t.is(o.result.status.updatedReplicas, 3, "updatedReplicas 3")
end

-- Parallel still updates one pod at a time from the top.
do
    local s = new_sim(sts("web", { replicas = 3, policy = "Parallel" }))
    converge(s)
    s.set.spec.template.spec.containers[1].image = "nginx:1.26"
    local o = step(s)
    t.is(names(o.deleted), "web-2", "Parallel rolling update: one pod, the highest")
    step(s)
    o = step(s)
    t.is(#o.deleted, 0, "Parallel: waits for the recreated pod to be healthy")
end

-- Partition: ordinals below it stay at the current revision.
do
    local s = new_sim(sts("web", { replicas = 3, strategy = { type = "RollingUpdate", rollingUpdate = { partition = 2 } } }))
    converge(s)
    local rev1 = C.name(s.revs[1])
    s.set.spec.template.spec.containers[1].image = "nginx:1.26"
    local o = converge(s)
    t.is(image(find(s.pods, "web-2")), "nginx:1.26", "partition 2: web-2 updated")
    t.is(image(find(s.pods, "web-1")), "nginx:1.25", "web-1 kept")
    t.is(image(find(s.pods, "web-0")), "nginx:1.25", "web-0 kept")
    t.is(o.result.status.currentRevision, rev1, "currentRevision stays while pods are below the partition")
    t.is(o.result.status.currentReplicas, 2, "currentReplicas 2")
    t.is(o.result.status.updatedReplicas, 1, "updatedReplicas 1")
    remove(s, "web-0")
    o = step(s)
    t.is(names(o.created), "web-0", "web-0 deleted by hand is recreated")
    t.is(image(find(s.pods, "web-0")), "nginx:1.25", "at the current revision's template (below the partition)")
    t.is(find(s.pods, "web-0").metadata.labels[HASH], rev1, "labelled with the current revision")
    s.set.spec.updateStrategy.rollingUpdate.partition = 0
    o = converge(s)
    t.is(image(find(s.pods, "web-0")), "nginx:1.26", "partition 0: all updated")
    t.is(o.result.status.currentRevision, C.name(s.revs[2]), "then currentRevision moves")
end

-- OnDelete: no deletion for an update; a pod deleted by hand comes back at the update revision.
do
    local s = new_sim(sts("web", { replicas = 2, strategy = { type = "OnDelete" } }))
    converge(s)
    local rev1 = C.name(s.revs[1])
    s.set.spec.template.spec.containers[1].image = "nginx:1.26"
    local o = step(s)
    t.is(#o.deleted, 0, "OnDelete: the controller deletes nothing")
    t.is(o.result.status.updateRevision, C.name(s.revs[2]), "but records the update revision")
    o = step(s)
    t.is(#o.deleted, 0, "nor later")
    remove(s, "web-0")
    o = step(s)
    t.is(names(o.created), "web-0", "web-0 deleted by hand is recreated")
    t.is(image(find(s.pods, "web-0")), "nginx:1.26", "at the update revision")
    t.is(o.result.status.currentRevision, rev1, "OnDelete leaves currentRevision as it was (kube)")
    remove(s, "web-1")
    o = converge(s)
    t.is(o.result.status.updatedReplicas, 2, "both pods updated by hand")
    t.is(o.result.status.currentRevision, rev1, "OnDelete: currentRevision stays even then (completeRollingUpdate is RollingUpdate only)")
end

-- The update completes only when every pod is updated and ready.
do
    local s = new_sim(sts("web", { replicas = 2, strategy = { type = "OnDelete" } }))
    converge(s)
    local rev1 = C.name(s.revs[1])
    s.set.spec.updateStrategy = { type = "RollingUpdate", rollingUpdate = { partition = 0 } }
    s.set.spec.template.spec.containers[1].image = "nginx:1.26"
    local rev2 = require("berth.controller.history").new_revision(s.set, 2, 0).metadata.name
    for _, p in ipairs(s.pods) do p.metadata.labels[HASH] = rev2 end   -- as if updated
    not_ready(s, "web-1")
    local o = step(s)
    t.is(C.name(s.revs[2]), rev2, "the update revision")
    t.is(o.result.status.updatedReplicas, 2, "all pods at the update revision")
    t.is(o.result.status.currentRevision, rev1, "one not Ready: currentRevision stays")
    t.is(o.result.status.currentReplicas, nil, "currentReplicas 0")
    ready(s, "web-1")
    o = step(s)
    t.is(o.result.status.currentRevision, rev2, "all Ready: the update is complete")
    t.is(o.result.status.currentReplicas, 2, "currentReplicas = updatedReplicas")
end

---------------------------------------------------------------------------------------------
-- History
---------------------------------------------------------------------------------------------

-- Rollback: back to an old template reuses its revision with a higher number.
do
    local s = new_sim(sts("web", { replicas = 1 }))
    converge(s)
    local rev1 = C.name(s.revs[1])
    s.set.spec.template.spec.containers[1].image = "nginx:1.26"
    converge(s)
    t.is(#s.revs, 2, "two revisions")
    s.set.spec.template.spec.containers[1].image = "nginx:1.25"
    local o = converge(s)
    t.is(#s.revs, 2, "rollback: no third revision")
    t.is(find(s.revs, rev1).revision, 3, "the old revision gets number 3")
    t.is(o.result.status.updateRevision, rev1, "and is the update revision")
    t.is(image(find(s.pods, "web-0")), "nginx:1.25", "the pod runs the old template again")
end

-- Collision: the name of the new revision is taken by a revision with other data.
do
    local s = new_sim(sts("web", { replicas = 1 }))
    local H = require("berth.controller.history")
    local squat = H.new_revision(s.set, 7, 0)
    squat.data.spec.template.spec.containers[1].image = "other"
    squat.metadata.namespace = "default"
    squat.metadata.labels = { app = "nope" }     -- not selected: not one of the set's
    s.others[1] = squat
    local o = step(s)
    t.is(o.result.status.collisionCount, 1, "collisionCount bumped")
    t.isnt(C.name(s.revs[1]), squat.metadata.name, "the new revision takes another name")
    t.is(s.revs[1].metadata.labels[HASH], H.hash(s.set.spec.template, 1), "the hash with collisionCount 1")
    t.is(find(s.pods, "web-0").metadata.labels[HASH], C.name(s.revs[1]), "the pod uses it")
    o = step(s)
    t.is(#s.revs, 1, "next sync: the revision is found, nothing created")
    t.is(o.result.status.collisionCount, 1, "collisionCount kept")
end

-- Truncation beyond revisionHistoryLimit keeps current, update and live revisions.
do
    local s = new_sim(sts("web", { replicas = 2, history = 1, strategy = { type = "RollingUpdate", rollingUpdate = { partition = 1 } } }))
    converge(s)
    for i = 1, 4 do
        s.set.spec.template.spec.containers[1].image = "nginx:v" .. i
        converge(s)
    end
    -- revisions: 1.25 (web-0 is on it, below the partition), v1, v2, v3, v4 (update)
    local r = step(s).result
    local kept = {}
    for _, rev in ipairs(s.revs) do kept[#kept + 1] = rev.revision end
    table.sort(kept)
    t.is(table.concat(kept, ","), "1,4,5", "limit 1: the live ones (1: web-0, current; 5: update) and one more")
    t.is(r.status.currentRevision, C.name(find(s.revs, r.status.currentRevision)), "current kept")
    local all = 0
    for _ = 1, 3 do
        s.set.spec.template.spec.containers[1].image = "nginx:w" .. all
        all = all + 1
        converge(s)
    end
    t.is(#s.revs, 3, "still three after more updates")
end

-- A revision a pod still runs is kept even when neither current nor update (OnDelete).
do
    local s = new_sim(sts("web", { replicas = 2, history = 0, strategy = { type = "OnDelete" } }))
    converge(s)
    s.set.spec.template.spec.containers[1].image = "nginx:v1"
    step(s)
    remove(s, "web-1")
    converge(s)                 -- web-1 at revision 2, web-0 at revision 1 (current)
    for i = 2, 4 do
        s.set.spec.template.spec.containers[1].image = "nginx:v" .. i
        converge(s)
    end
    local kept = {}
    for _, rev in ipairs(s.revs) do kept[#kept + 1] = rev.revision end
    table.sort(kept)
    t.is(table.concat(kept, ","), "1,2,5", "limit 0: current (1), web-1's (2) and update (5) kept")
end

---------------------------------------------------------------------------------------------
-- Status and minReadySeconds
---------------------------------------------------------------------------------------------
do
    local s = new_sim(sts("web", { replicas = 2, min_ready = 10 }))
    step(s)
    ready(s, "web-0", s.now - 5)
    local o = step(s)
    t.is(#o.created, 0, "web-0 ready for 5 s of 10: web-1 waits (availability)")
    t.is(o.result.status.readyReplicas, 1, "readyReplicas 1")
    t.is(o.result.status.availableReplicas, 0, "availableReplicas 0")
    t.is(o.result.requeue_after, 6, "requeued when web-0 becomes available")
    s.now = s.now + 6
    o = step(s)
    t.is(names(o.created), "web-1", "available: web-1 created")
    t.is(o.result.status.availableReplicas, 1, "availableReplicas 1")
    t.is(o.result.requeue_after, nil, "nothing to wait for")
end

---------------------------------------------------------------------------------------------
-- Adoption and release
---------------------------------------------------------------------------------------------
do
    local s = new_sim(sts("web", { replicas = 2 }))
    s.orphan_pods = {
        F.pod("web-0", { labels = { app = "web" }, node = "n1", ready = true }),
        F.pod("web-abc", { labels = { app = "web" }, node = "n1", ready = true }),
        F.pod("other-1", { labels = { app = "web" }, node = "n1", ready = true }),
        F.pod("web-5", { labels = { app = "db" }, node = "n1", ready = true }),
        F.pod("web-01", { labels = { app = "web" }, node = "n1", ready = true }),
    }
    local o = step(s)
    t.is(table.concat(o.result.adopt[PODS], ","), "web-0", "adopts the orphan member only (not web-abc, other-1, web-5 of another selector, web-01)")
    t.is(names(o.updated), "web-0", "its identity label is set")
    t.is(find(s.pods, "web-0").metadata.labels["statefulset.kubernetes.io/pod-name"], "web-0", "pod-name label")
    t.is(find(s.pods, "web-0").metadata.labels["apps.kubernetes.io/pod-index"], "0", "pod-index label")
    t.has(event_msgs(o.result), "SuccessfulUpdate: update Pod web-0 in StatefulSet web successful", "update event")
    t.is(names(o.created), "web-1", "web-0 is Ready: web-1 created in the same sync")
    t.is(o.result.status.replicas, 1, "the adopted pod counts")
    t.is(o.result.status.currentReplicas, nil, "an adopted pod without the revision label is at no revision")
    ready(s, "web-1")
    o = step(s)
    t.is(#o.deleted, 1, "rolling update replaces the adopted pod (not at the update revision)")
    t.is(o.result.children[PODS].delete[1], "web-0", "web-0")
end
do
    local s = new_sim(sts("web", { replicas = 2 }))
    converge(s)
    find(s.pods, "web-1").metadata.labels.app = "moved"
    local stranger = F.pod("web-x", { labels = { app = "web" }, owner = s.set })
    s.pods[#s.pods + 1] = stranger
    local r = STS.sync(s.set, { [PODS] = s.pods, [REVS] = s.revs }, F.ctx())
    t.is(names(r.release[PODS]), "web-1,web-x", "releases a pod that stopped matching and an owned non-member")
    t.is(r.status.replicas, 1, "released pods are not counted")
    t.is(r.children[PODS].entries[1].metadata.name, "web-1", "web-1 is created again (kube does too: the API refuses while the old one exists)")
end

-- Orphan revisions matching the selector are adopted and reused.
do
    local s = new_sim(sts("web", { replicas = 1 }))
    local H = require("berth.controller.history")
    local rev = H.new_revision(s.set, 4, 0)
    rev.metadata.namespace = "default"
    s.orphan_revs[1] = rev
    local o = step(s)
    t.is(table.concat(o.result.adopt[REVS], ","), rev.metadata.name, "orphan revision adopted")
    t.is(#s.revs, 1, "and used, not duplicated")
    t.is(o.result.status.updateRevision, rev.metadata.name, "as the update revision")
end

---------------------------------------------------------------------------------------------
-- Deleting set, volumeClaimTemplates, selector
---------------------------------------------------------------------------------------------
do
    local s = new_sim(sts("web", { replicas = 3 }))
    converge(s)
    s.set.spec.replicas = 1
    s.set.metadata.deletionTimestamp = F.iso(F.T0)
    local r = step(s).result
    t.is(r.children, nil, "a set being deleted: no child writes")
    t.is(r.status.replicas, 3, "status only")
end
do
    local set = sts("web", { replicas = 1 })
    set.spec.volumeClaimTemplates = { { metadata = { name = "data" } } }
    local r = STS.sync(set, { [PODS] = {}, [REVS] = {} }, F.ctx())
    t.is(r.children, nil, "volumeClaimTemplates: no pods")
    t.is(r.status, nil, "nor status")
    t.is(r.events and r.events[1].type, "Warning", "a Warning event")
end

t.done_testing()
