-- berth.controller.daemonset: the DaemonSet controller (k8s.io/kubernetes/pkg/controller/
-- daemon: daemon_controller.go, update.go, util/daemonset_util.go, kube 1.31) as one
-- declarative sync for policies/controllers/daemonset.lua.
--
-- sync(ds, children, ctx) follows syncDaemonSet: nothing for a DaemonSet being deleted; a
-- Warning SelectingAll for an empty selector; claim pods and ControllerRevisions (adopt
-- matching orphans, release owned ones that stopped matching); constructHistory (the
-- current revision, created or renumbered, duplicates removed); manage (per node: create a
-- pod where one should run and none is, delete failed and succeeded pods, surplus pods and
-- pods where none should run); then, when manage changed no pod (kube's "expectations
-- satisfied"), the RollingUpdate step (maxUnavailable, or maxSurge); cleanupHistory; status.
-- Nodes come from ctx.list("v1/nodes"); the policy `uses` and `watches` them, so any node
-- change resyncs every DaemonSet.
--
-- Differences from kube, all documented in docs/controllers.md:
--   * The hash is berth's template hash (berth.controller.history / deployment), not kube's.
--   * A revision name taken by another object bumps status.collisionCount and retries in
--     the same sync (kube writes the count and requeues).
--   * Duplicate current revisions: only pods labelled with a dropped duplicate's hash are
--     relabelled to the kept one (kube relabels every pod whose hash differs).
--   * Pods bound to a node that no longer exists are deleted whether or not they were
--     scheduled (kube leaves scheduled ones to the pod GC).
--   * The failed-pod backoff lives in this module (per VM, reset by a reload), as kube's
--     lives in the controller's memory.
-- Depends on berth.controller.common, .history, .deployment (scaled_value), berth.selector.
-- Tested by t/lua/test_ctrl_daemonset.lua.

local C = require("berth.controller.common")
local H = require("berth.controller.history")
local D = require("berth.controller.deployment")
local selector = require("berth.selector")

local type, ipairs, pairs, next, error, setmetatable = type, ipairs, pairs, next, error, setmetatable
local math_min, math_max, math_floor = math.min, math.max, math.floor
local string_format = string.format
local table_sort = table.sort

local M = {}

M.DS = "apps/v1/daemonsets"
M.PODS = "v1/pods"
M.REVISIONS = "apps/v1/controllerrevisions"
M.NODES = "v1/nodes"
M.HASH_LABEL = H.HASH_LABEL
-- extensions.DaemonSetTemplateGenerationKey, the deprecated label, and the annotation the
-- API server keeps the template generation in.
M.GENERATION_LABEL = "pod-template-generation"
M.GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
-- The daemon controller's BurstReplicas.
M.BURST = 250
-- failedPodsBackoff: flowcontrol.NewBackOff(1s, 15min).
M.BACKOFF_INITIAL = 1
M.BACKOFF_MAX = 900

M.CHILD_EVENTS = {
    [M.PODS] = {
        create = { type = "Normal", reason = "SuccessfulCreate", message = "Created pod: %s" },
        create_failed = { type = "Warning", reason = "FailedCreate", message = "Error creating: %s" },
        delete = { type = "Normal", reason = "SuccessfulDelete", message = "Deleted pod: %s" },
        delete_failed = { type = "Warning", reason = "FailedDelete", message = "Error deleting: %s" },
    },
}

---------------------------------------------------------------------------------------------
-- Tolerations and node affinity of daemon pods (daemon/util)
---------------------------------------------------------------------------------------------

local function tol(key, effect)
    return { key = key, operator = "Exists", effect = effect }
end

-- AddOrUpdateDaemonPodTolerations, in kube's order; network-unavailable only with hostNetwork.
local DAEMON_TOLERATIONS = {
    tol("node.kubernetes.io/not-ready", "NoExecute"),
    tol("node.kubernetes.io/unreachable", "NoExecute"),
    tol("node.kubernetes.io/disk-pressure", "NoSchedule"),
    tol("node.kubernetes.io/memory-pressure", "NoSchedule"),
    tol("node.kubernetes.io/pid-pressure", "NoSchedule"),
    tol("node.kubernetes.io/unschedulable", "NoSchedule"),
}
local NETWORK_TOLERATION = tol("node.kubernetes.io/network-unavailable", "NoSchedule")

local function s(v)
    return type(v) == "string" and v or ""
end

-- Toleration.MatchToleration: same key, operator, value and effect.
local function same_toleration(a, b)
    return s(a.key) == s(b.key) and s(a.operator) == s(b.operator) and s(a.value) == s(b.value) and
           s(a.effect) == s(b.effect)
end

-- AddOrUpdateTolerationInPodSpec on a list (modified in place; nil starts a new one): a
-- toleration matching t is replaced by t (dropping e.g. tolerationSeconds), else t is added.
local function add_or_update_toleration(list, t)
    list = list or {}
    for i, x in ipairs(list) do
        if type(x) == "table" and same_toleration(x, t) then
            list[i] = C.copy(t)
            return list
        end
    end
    list[#list + 1] = C.copy(t)
    return list
end

-- The tolerations of a daemon pod: the template's plus kube's additions (a new list).
function M.daemon_tolerations(pod_spec)
    local list = C.copy(C.tbl(pod_spec.tolerations) or {})
    for _, t in ipairs(DAEMON_TOLERATIONS) do
        list = add_or_update_toleration(list, t)
    end
    if pod_spec.hostNetwork == true then
        list = add_or_update_toleration(list, NETWORK_TOLERATION)
    end
    return list
end

-- ReplaceDaemonSetPodNodeNameNodeAffinity on a copy of affinity: the required node affinity
-- becomes the one term matchFields metadata.name In [node]; everything else is kept.
function M.node_name_affinity(affinity, node)
    local term = { matchFields = { { key = "metadata.name", operator = "In", values = { node } } } }
    local a = C.copy(C.tbl(affinity) or {})
    local na = C.tbl(a.nodeAffinity)
    if not na then
        na = {}
        a.nodeAffinity = na
    end
    local req = C.tbl(na.requiredDuringSchedulingIgnoredDuringExecution)
    if req then
        req.nodeSelectorTerms = { term }
    else
        na.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms = { term } }
    end
    return a
end

-- GetTargetNodeName: spec.nodeName, else the node of the required affinity's matchFields
-- metadata.name In [one value]; nil when neither (kube logs and skips such a pod).
function M.target_node(pod)
    local n = C.sget(pod, "spec.nodeName")
    if n and n ~= "" then
        return n
    end
    local terms = C.tget(pod, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms")
    for _, term in ipairs(terms or C.EMPTY) do
        for _, f in ipairs(C.tbl(type(term) == "table" and term.matchFields) or C.EMPTY) do
            if type(f) == "table" and f.key == "metadata.name" and f.operator == "In" and
               type(f.values) == "table" and #f.values == 1 and type(f.values[1]) == "string" then
                return f.values[1]
            end
        end
    end
    return nil
end

---------------------------------------------------------------------------------------------
-- Which nodes (NodeShouldRunDaemonPod)
---------------------------------------------------------------------------------------------

local NO_EXECUTE = { NoExecute = true }
local NO_SCHEDULE_OR_EXECUTE = { NoSchedule = true, NoExecute = true }

-- NodeShouldRunDaemonPod(node, ds) for a DaemonSet view (below): shouldRun (a new pod may
-- go there: nodeName, nodeSelector and required affinity match, every NoSchedule/NoExecute
-- taint tolerated) and shouldContinueRunning (a pod there may stay: the same, but only
-- NoExecute taints must be tolerated).
function M.should_run(v, node)
    local name = C.name(node)
    if v.node_name ~= "" and v.node_name ~= name then
        return false, false
    end
    if not selector.pod_matches_node(v.probe, node) then
        return false, false
    end
    local taints = C.tget(node, "spec.taints")
    if selector.untolerated_taint(taints, v.tolerations, NO_SCHEDULE_OR_EXECUTE) == nil then
        return true, true
    end
    return false, selector.untolerated_taint(taints, v.tolerations, NO_EXECUTE) == nil
end

---------------------------------------------------------------------------------------------
-- The DaemonSet's spec, defaulted as the API server does
---------------------------------------------------------------------------------------------

local function view(ds)
    local spec = C.tget(ds, "spec") or C.EMPTY
    local strategy = C.tbl(spec.updateStrategy) or C.EMPTY
    local ru = C.tbl(strategy.rollingUpdate)
    local template = C.tbl(spec.template) or {}
    local pod_spec = C.tbl(template.spec) or C.EMPTY
    local tolerations = M.daemon_tolerations(pod_spec)
    local v = {
        obj = ds, name = C.name(ds), namespace = C.namespace(ds), uid = C.uid(ds),
        generation = C.nget(ds, "metadata.generation", 0),
        status = C.tget(ds, "status") or C.EMPTY,
        strategy = C.str(strategy.type) or "RollingUpdate",
        max_unavailable = 1, max_surge = nil,
        min_ready = C.num(spec.minReadySeconds, 0),
        history_limit = C.num(spec.revisionHistoryLimit, H.DEFAULT_LIMIT),
        template = template,
        node_name = C.str(pod_spec.nodeName) or "",
        tolerations = tolerations,
        -- NewPod: what the scheduler predicates read (nodeSelector, affinity).
        probe = { spec = { nodeSelector = pod_spec.nodeSelector, affinity = pod_spec.affinity } },
    }
    if ru then
        local mu, ms = ru.maxUnavailable, ru.maxSurge
        if type(mu) == "number" or type(mu) == "string" then v.max_unavailable = mu end
        if type(ms) == "number" or type(ms) == "string" then v.max_surge = ms end
    end
    -- GetTemplateGeneration reads the annotation the API server keeps; berth's API server
    -- may not write it, so metadata.generation stands in.
    local g = C.parse_int(C.annotations(ds)[M.GENERATION_ANNOTATION])
    v.template_generation = g or (v.generation > 0 and v.generation or nil)
    return v
end
M.view = view

-- SurgeCount: maxSurge of total, rounded up; 0 unless RollingUpdate with maxSurge set.
function M.surge_count(v, total)
    if v.strategy ~= "RollingUpdate" or v.max_surge == nil then
        return 0
    end
    return D.scaled_value(v.max_surge, total, true)
end

-- UnavailableCount: maxUnavailable of total, rounded up.
function M.unavailable_count(v, total)
    if v.strategy ~= "RollingUpdate" then
        return 0
    end
    return D.scaled_value(v.max_unavailable, total, true)
end

local function allows_surge(v)
    return M.surge_count(v, 1) ~= 0
end

---------------------------------------------------------------------------------------------
-- Pods
---------------------------------------------------------------------------------------------

local function phase(pod)
    return C.sget(pod, "status.phase")
end

local function terminal(pod)
    local p = phase(pod)
    return p == "Succeeded" or p == "Failed"
end

local function created(pod)
    return C.time(C.sget(pod, "metadata.creationTimestamp")) or 0
end

-- podByCreationTimestampAndPhase: scheduled first, then older, then by name.
local function pod_less(a, b)
    local sa, sb = C.sget(a, "spec.nodeName") or "", C.sget(b, "spec.nodeName") or ""
    if (sa ~= "") ~= (sb ~= "") then
        return sa ~= ""
    end
    local ta, tb = created(a), created(b)
    if ta ~= tb then
        return ta < tb
    end
    return C.name(a) < C.name(b)
end
M.pod_less = pod_less

local function sorted_pods(list)
    local out = {}
    for i, p in ipairs(list or C.EMPTY) do
        out[i] = p
    end
    table_sort(out, pod_less)
    return out
end

-- IsPodUpdated: the hash label is one of hashes, the current hash and the hashes of the
-- duplicate revisions being dropped in this sync (their pods are being relabelled). kube
-- also accepts a matching pod-template-generation label; the hash is enough here.
local function updated(pod, hashes)
    local h = C.labels(pod)[M.HASH_LABEL]
    return h ~= nil and hashes[h] == true
end

-- The pod to create on node (CreatePodTemplate + ReplaceDaemonSetPodNodeNameNodeAffinity).
function M.new_pod(v, node, hash)
    local md = C.tbl(v.template.metadata) or C.EMPTY
    local labels = C.copy_map(md.labels)
    if v.template_generation then
        labels[M.GENERATION_LABEL] = string_format("%d", v.template_generation)
    end
    labels[M.HASH_LABEL] = hash
    local meta = C.copy_template_meta(md, { generateName = v.name .. "-", labels = labels })
    local spec = C.copy(C.tbl(v.template.spec) or {})
    spec.tolerations = C.copy(v.tolerations)
    spec.affinity = M.node_name_affinity(spec.affinity, node)
    return { apiVersion = "v1", kind = "Pod", metadata = meta, spec = spec }
end

---------------------------------------------------------------------------------------------
-- The failed-pods backoff (flowcontrol.Backoff, keyed by ds uid/observedGeneration/node)
---------------------------------------------------------------------------------------------

local backoff = {}

function M.reset_backoff()
    backoff = {}
end

local function backoff_gc(now)
    for k, e in pairs(backoff) do
        if now - e.last > 2 * M.BACKOFF_MAX then
            backoff[k] = nil
        end
    end
end

-- IsInBackOffSinceUpdate: the delay left (> 0) when key is backing off at now, else nil.
local function in_backoff(key, now)
    local e = backoff[key]
    if not e or now - e.last > 2 * M.BACKOFF_MAX then
        return nil
    end
    if now - e.last < e.delay then
        return e.delay
    end
    return nil
end

-- Next: the first failure starts at the initial delay, later ones double it (capped).
local function backoff_next(key, now)
    local e = backoff[key]
    if not e or now - e.last > 2 * M.BACKOFF_MAX then
        backoff[key] = { delay = M.BACKOFF_INITIAL, last = now }
    else
        e.delay = math_min(e.delay * 2, M.BACKOFF_MAX)
        e.last = now
    end
end

---------------------------------------------------------------------------------------------
-- One sync's state
---------------------------------------------------------------------------------------------

local S_mt = {}
S_mt.__index = S_mt

function S_mt:event(etype, reason, msg)
    self.events[#self.events + 1] = C.event(etype, reason, msg)
end

function S_mt:requeue(secs)
    if secs and secs > 0 then
        self.wait = self.wait and math_min(self.wait, secs) or secs
    end
end

function S_mt:delete_pod(name)
    if not self.pod_deleted[name] then
        self.pod_deleted[name] = true
        self.pod_delete[#self.pod_delete + 1] = name
    end
end

function S_mt:create_on(node)
    self.create_nodes[#self.create_nodes + 1] = node
end

-- An update of a revision (by name): merged into one entry per revision.
function S_mt:rev_update(name)
    local e = self.rev_updates[name]
    if not e then
        e = { metadata = { name = name } }
        self.rev_updates[name] = e
        self.rev_entries[#self.rev_entries + 1] = e
    end
    return e
end

function S_mt:rev_delete(name)
    if not self.rev_deleted[name] then
        self.rev_deleted[name] = true
        self.rev_deletes[#self.rev_deletes + 1] = name
    end
end

-- A name for the new revision is taken by an object that is not an equal revision.
function S_mt:revision_name_taken(name, cand)
    for _, r in ipairs(self.revisions) do
        if C.name(r) == name then
            return not H.equal(r, cand), r
        end
    end
    local other = type(self.ctx.get) == "function" and self.ctx.get(M.REVISIONS, self.v.namespace, name) or nil
    if other then
        return not H.equal(other, cand), other
    end
    return false
end

-- constructHistory: the current revision's hash, and the old revisions.
function S_mt:construct_history()
    local v = self.v
    local current, old = {}, {}
    local cand = H.new_revision(v.obj, 0, self.collision_count)
    for _, r in ipairs(H.sorted(self.revisions)) do
        if C.labels(r)[M.HASH_LABEL] == nil then
            -- A revision without the hash label gets its name as the hash (kube does, so a
            -- collision need not be resolved for it).
            local e = self:rev_update(C.name(r))
            e.metadata.labels = { [M.HASH_LABEL] = C.name(r) }
            self.rev_hash[C.name(r)] = C.name(r)
        else
            self.rev_hash[C.name(r)] = H.revision_hash(r)
        end
        if H.equal(r, cand) then
            current[#current + 1] = r
        else
            old[#old + 1] = r
        end
    end
    local next_rev = 1
    for _, r in ipairs(old) do
        next_rev = math_max(next_rev, C.num(r.revision, 0) + 1)
    end

    if #current == 0 then
        -- snapshot: "<ds>-<hash>"; a name taken by something else bumps collisionCount.
        for _ = 1, 100 do
            local rev = H.new_revision(v.obj, next_rev, self.collision_count)
            local taken, other = self:revision_name_taken(rev.metadata.name, cand)
            if not taken then
                if other then
                    return H.revision_hash(other) or C.name(other), old      -- already there
                end
                self.rev_entries[#self.rev_entries + 1] = rev
                return rev.metadata.labels[M.HASH_LABEL], old
            end
            self.collision_count = (self.collision_count or 0) + 1
        end
        error("daemonset: no free ControllerRevision name after 100 collisions", 0)
    end

    -- dedupCurHistories: keep the highest revision (the last of equal ones).
    local keep = current[1]
    for _, r in ipairs(current) do
        if C.num(r.revision, 0) >= C.num(keep.revision, 0) then
            keep = r
        end
    end
    local keep_hash = self.rev_hash[C.name(keep)]
    local dropped = {}
    for _, r in ipairs(current) do
        if r ~= keep then
            dropped[self.rev_hash[C.name(r)]] = true
            self.hashes[self.rev_hash[C.name(r)]] = true
            self:rev_delete(C.name(r))
        end
    end
    if next(dropped) then
        for _, p in ipairs(self.pods) do
            local h = C.labels(p)[M.HASH_LABEL]
            if h and dropped[h] and not C.is_deleting(p) then
                self.pod_relabel[#self.pod_relabel + 1] = {
                    metadata = { name = C.name(p), labels = { [M.HASH_LABEL] = keep_hash } },
                }
            end
        end
    end
    if C.num(keep.revision, 0) < next_rev then
        self:rev_update(C.name(keep)).revision = next_rev
    end
    return keep_hash, old
end

-- Pods by target node. include_deleted_terminal: also pods that are both finished and
-- being deleted (kube's cleanupHistory counts them, manage and status do not).
function S_mt:pods_by_node(include_deleted_terminal)
    local out = {}
    for _, p in ipairs(self.pods) do
        if include_deleted_terminal or not (terminal(p) and C.is_deleting(p)) then
            local n = M.target_node(p)
            if n then
                local l = out[n]
                if not l then
                    l = {}
                    out[n] = l
                end
                l[#l + 1] = p
            end
        end
    end
    return out
end

-- podsShouldBeOnNode for one node.
function S_mt:node_pods(node, by_node)
    local v, now = self.v, self.now
    local name = C.name(node)
    local should_run, should_continue = self.run[name][1], self.run[name][2]
    local pods = by_node[name]
    if should_run and pods == nil then
        self:create_on(name)
    elseif should_continue then
        local running = {}
        for _, p in ipairs(pods or C.EMPTY) do
            if not C.is_deleting(p) then
                local ph = phase(p)
                if ph == "Failed" then
                    local key = string_format("%s/%d/%s", v.uid, C.num(v.status.observedGeneration, 0), name)
                    local delay = in_backoff(key, now)
                    if delay then
                        self:requeue(delay)
                    else
                        backoff_next(key, now)
                        self:event("Warning", "FailedDaemonPod", string_format(
                            "Found failed daemon pod %s/%s on node %s, will try to kill it", v.namespace, C.name(p), name))
                        self:delete_pod(C.name(p))
                    end
                elseif ph == "Succeeded" then
                    self:event("Normal", "SucceededDaemonPod", string_format(
                        "Found succeeded daemon pod %s/%s on node %s, will try to delete it", v.namespace, C.name(p), name))
                    self:delete_pod(C.name(p))
                else
                    running[#running + 1] = p
                end
            end
        end
        running = sorted_pods(running)
        if not allows_surge(v) then
            -- Without surge, one pod per node: all but the oldest go.
            for i = 2, #running do
                self:delete_pod(C.name(running[i]))
            end
        elseif #running <= 1 then
            if #running == 0 and should_run then
                self:create_on(name)
            end
        else
            -- With surge two may stay: the oldest new pod and the oldest old one, while the
            -- new one is not yet available and the old one still ready.
            local oldest_new, oldest_old
            for _, p in ipairs(running) do
                if updated(p, self.hashes) and not oldest_new then
                    oldest_new = p
                elseif not updated(p, self.hashes) and not oldest_old then
                    oldest_old = p
                else
                    self:delete_pod(C.name(p))
                end
            end
            if oldest_new and oldest_old then
                if not C.pod_ready(oldest_old) or C.pod_available(oldest_new, v.min_ready, now) then
                    self:delete_pod(C.name(oldest_old))
                end
            end
        end
    elseif pods ~= nil then
        -- The node should not run the pod: delete them all.
        for _, p in ipairs(pods) do
            if not C.is_deleting(p) then
                self:delete_pod(C.name(p))
            end
        end
    end
end

-- manage: every node, then the pods bound to nodes that are gone.
function S_mt:manage()
    local by_node = self:pods_by_node(false)
    for _, node in ipairs(self.nodes) do
        self:node_pods(node, by_node)
    end
    local gone = {}
    for n in pairs(by_node) do
        if not self.node_by_name[n] then
            gone[#gone + 1] = n
        end
    end
    table_sort(gone)
    for _, n in ipairs(gone) do
        for _, p in ipairs(sorted_pods(by_node[n])) do
            if not C.is_deleting(p) then
                self:delete_pod(C.name(p))
            end
        end
    end
end

-- findUpdatedPodsOnNode: the node's one new and one old pod (not terminating); ok false
-- when there are two of either.
local function find_updated(pods, hashes)
    local new, old
    for _, p in ipairs(pods or C.EMPTY) do
        if not C.is_deleting(p) then
            if updated(p, hashes) then
                if new then return nil, nil, false end
                new = p
            else
                if old then return nil, nil, false end
                old = p
            end
        end
    end
    return new, old, true
end

-- rollingUpdate.
function S_mt:rolling_update()
    local v, now = self.v, self.now
    local by_node = self:pods_by_node(false)
    local desired = 0
    for _, node in ipairs(self.nodes) do
        local n = C.name(node)
        if self.run[n][1] then
            desired = desired + 1
            by_node[n] = by_node[n] or {}
        end
    end
    local max_surge, max_unavailable = M.surge_count(v, desired), M.unavailable_count(v, desired)
    if desired > 0 and max_surge == 0 and max_unavailable == 0 then
        max_unavailable = 1
    end
    local names = {}
    for n in pairs(by_node) do
        names[#names + 1] = n
    end
    table_sort(names)
    local function available(p)
        return (C.pod_available(p, v.min_ready, now))
    end

    if max_surge == 0 then
        -- Delete just enough old pods to stay within maxUnavailable; manage recreates them.
        local unavailable, replace, candidates = 0, {}, {}
        for _, n in ipairs(names) do
            local new, old, ok = find_updated(by_node[n], self.hashes)
            if not ok or (new == nil) == (old == nil) then
                unavailable = unavailable + 1           -- manage's business
            elseif new then
                if not available(new) then
                    unavailable = unavailable + 1
                end
            elseif not available(old) then
                replace[#replace + 1] = C.name(old)      -- unavailable anyway: free to go
                unavailable = unavailable + 1
            elseif unavailable < max_unavailable then
                candidates[#candidates + 1] = C.name(old)
            end
        end
        local room = math_min(math_max(max_unavailable - unavailable, 0), #candidates)
        for _, name in ipairs(replace) do
            self:delete_pod(name)
        end
        for i = 1, room do
            self:delete_pod(candidates[i])
        end
        return
    end

    -- Surge: a new pod next to an available old one (at most maxSurge at a time), the old
    -- one deleted once the new one is available; an unavailable old pod is replaced at once.
    local surge, avail_count = 0, 0
    local should_not_run, candidates, allowed = {}, {}, {}
    for _, n in ipairs(names) do
        local new, old, ok = find_updated(by_node[n], self.hashes)
        if not ok then
            surge = surge + 1
        else
            if old then
                if available(old) then avail_count = avail_count + 1 end
            elseif new then
                if available(new) then avail_count = avail_count + 1 end
            end
            if old == nil then
                -- manage's business
            elseif new == nil then
                local node_ok = self.node_by_name[n] ~= nil
                local should_run = node_ok and self.run[n][1]
                if not available(old) then
                    if node_ok and not should_run then
                        self:delete_pod(C.name(old))
                    elseif node_ok then
                        allowed[#allowed + 1] = n
                    end
                elseif node_ok and not should_run then
                    should_not_run[#should_not_run + 1] = C.name(old)
                elseif node_ok and surge < max_surge then
                    candidates[#candidates + 1] = n
                end
            elseif not available(new) then
                surge = surge + 1
            else
                self:delete_pod(C.name(old))
            end
        end
    end
    -- Old pods on nodes that should no longer run them go only while enough others are
    -- available ("with maxSurge, the application owner expects 100% availability").
    local deletable = math_min(avail_count - desired, #should_not_run)
    for i = 1, deletable do
        self:delete_pod(should_not_run[i])
    end
    local room = math_min(math_max(max_surge - surge, 0), #candidates)
    for _, n in ipairs(allowed) do
        self:create_on(n)
    end
    for i = 1, room do
        self:create_on(candidates[i])
    end
end

-- cleanupHistory: old revisions beyond revisionHistoryLimit, oldest first, but not those
-- a pod (any claimed pod, finished and terminating ones included) still carries.
function S_mt:cleanup_history(old)
    local live_hashes = {}
    for _, p in ipairs(self.pods) do
        local h = C.labels(p)[M.HASH_LABEL]
        if type(h) == "string" and h ~= "" then
            live_hashes[h] = true
        end
    end
    local live = {}
    for _, r in ipairs(old) do
        if live_hashes[self.rev_hash[C.name(r)]] then
            live[C.name(r)] = true
        end
    end
    for _, name in ipairs(H.truncate_counting_live(old, live, self.v.history_limit)) do
        self:rev_delete(name)
    end
end

-- updateDaemonSetStatus, over the pods as observed (before this sync's writes).
function S_mt:status()
    local v, now = self.v, self.now
    local by_node = self:pods_by_node(false)
    local desired, current, mis, ready, upd, avail = 0, 0, 0, 0, 0, 0
    for _, node in ipairs(self.nodes) do
        local n = C.name(node)
        local pods = by_node[n]
        local scheduled = pods ~= nil and #pods > 0
        if self.run[n][1] then
            desired = desired + 1
            if scheduled then
                current = current + 1
                local p = sorted_pods(pods)[1]
                if C.pod_ready(p) then
                    ready = ready + 1
                    if C.pod_available(p, v.min_ready, now) then
                        avail = avail + 1
                    end
                end
                if updated(p, self.hashes) then
                    upd = upd + 1
                end
            end
        elseif scheduled then
            mis = mis + 1
        end
    end
    local st = {
        currentNumberScheduled = current, numberMisscheduled = mis,
        desiredNumberScheduled = desired, numberReady = ready,
    }
    if v.generation > 0 then st.observedGeneration = v.generation end
    if upd > 0 then st.updatedNumberScheduled = upd end
    if avail > 0 then st.numberAvailable = avail end
    if desired - avail > 0 then st.numberUnavailable = desired - avail end
    if self.collision_count then st.collisionCount = self.collision_count end
    local conds = C.tbl(v.status.conditions)
    if conds and #conds > 0 then st.conditions = conds end
    return st
end

---------------------------------------------------------------------------------------------
-- sync
---------------------------------------------------------------------------------------------

-- An empty LabelSelector ({}: no matchLabels, no matchExpressions) selects everything.
local function selects_all(sel)
    if type(sel) ~= "table" then
        return false
    end
    local ml, me = C.tbl(sel.matchLabels), C.tbl(sel.matchExpressions)
    return (ml == nil or next(ml) == nil) and (me == nil or #me == 0)
end

local function take(list, n)
    local out = {}
    for i = 1, math_min(#list, n) do
        out[i] = list[i]
    end
    return out
end

function M.sync(ds, children, ctx)
    children = children or C.EMPTY
    if C.is_deleting(ds) then
        return {}     -- kube: history may be half gone, status cannot be trusted
    end
    local spec_sel = C.tget(ds, "spec.selector")
    if selects_all(spec_sel) then
        return { events = { C.event("Warning", "SelectingAll",
            "This daemon set is selecting all pods. A non-empty selector is required.") } }
    end
    local sel, sel_err = C.compile_selector(spec_sel, "labelSelector")
    if sel_err or spec_sel == nil then
        return { events = { C.event("Warning", "InvalidSelector", "invalid selector: " .. (sel_err or "none")) } }
    end
    -- The API server rejects a selector that does not select the template's labels; were one
    -- to get through, every pod made would be released at once and made again.
    if not selector.matches(sel, C.tget(ds, "spec.template.metadata.labels") or C.EMPTY) then
        return { events = { C.event("Warning", "InvalidSelector",
            "selector does not match template labels") } }
    end
    local orphans = type(ctx.orphans) == "table" and ctx.orphans or C.EMPTY
    local pods, adopt_pods, release_pods = C.claim(ds, children[M.PODS], orphans[M.PODS], sel)
    local revs, adopt_revs, release_revs = C.claim(ds, children[M.REVISIONS], orphans[M.REVISIONS], sel)

    local nodes = {}
    if type(ctx.list) == "function" then
        for _, n in ipairs(ctx.list(M.NODES, {}) or C.EMPTY) do
            nodes[#nodes + 1] = n
        end
    end
    table_sort(nodes, function(a, b) return C.name(a) < C.name(b) end)

    local v = view(ds)
    local st = setmetatable({
        v = v, ctx = ctx, now = ctx.now or 0, pods = pods, revisions = revs, nodes = nodes,
        node_by_name = {}, run = {},
        collision_count = C.num(v.status.collisionCount, nil),
        events = {}, wait = nil,
        hashes = {}, create_nodes = {}, pod_delete = {}, pod_deleted = {}, pod_relabel = {},
        rev_entries = {}, rev_updates = {}, rev_deletes = {}, rev_deleted = {}, rev_hash = {},
    }, S_mt)
    for _, n in ipairs(nodes) do
        st.node_by_name[C.name(n)] = n
        st.run[C.name(n)] = { M.should_run(v, n) }
    end
    backoff_gc(st.now)

    local old
    st.hash, old = st:construct_history()
    st.hashes[st.hash] = true
    st:manage()
    if #st.create_nodes == 0 and #st.pod_delete == 0 and v.strategy == "RollingUpdate" then
        st:rolling_update()
    end
    st:cleanup_history(old)

    local result = { status = st:status() }
    -- A ready pod passing minReadySeconds changes what the rolling update may do (a surged
    -- pod's old one goes) and the status: sync again then.
    for _, p in ipairs(pods) do
        if not C.is_deleting(p) and C.pod_ready(p) then
            local ok, left = C.pod_available(p, v.min_ready, st.now)
            if not ok and left then
                st:requeue(math_floor(left) + 1)
            end
        end
    end
    local pod_entries = {}
    for _, n in ipairs(take(st.create_nodes, M.BURST)) do
        pod_entries[#pod_entries + 1] = M.new_pod(v, n, st.hash)
    end
    for _, e in ipairs(st.pod_relabel) do
        if not st.pod_deleted[e.metadata.name] then
            pod_entries[#pod_entries + 1] = e
        end
    end
    result.children = {
        [M.PODS] = { rest = "keep", entries = pod_entries, delete = take(st.pod_delete, M.BURST) },
        [M.REVISIONS] = { rest = "keep", entries = st.rev_entries, delete = st.rev_deletes },
    }
    -- A revision both updated and deleted: the delete wins.
    if #st.rev_deletes > 0 then
        local entries = {}
        for _, e in ipairs(st.rev_entries) do
            if not st.rev_deleted[e.metadata.name] then
                entries[#entries + 1] = e
            end
        end
        result.children[M.REVISIONS].entries = entries
    end
    if #adopt_pods > 0 or #adopt_revs > 0 then
        result.adopt = { [M.PODS] = adopt_pods, [M.REVISIONS] = adopt_revs }
    end
    if #release_pods > 0 or #release_revs > 0 then
        result.release = { [M.PODS] = release_pods, [M.REVISIONS] = release_revs }
    end
    if #st.events > 0 then
        result.events = st.events
    end
    result.requeue_after = st.wait
    return result
end

return M
