-- berth.controller.replicas: the ReplicaSet and ReplicationController controllers
-- (k8s.io/kubernetes/pkg/controller/replicaset, which also runs ReplicationControllers) as
-- one declarative sync for policies/controllers/replicaset.lua and replicationcontroller.lua.
--
-- sync(parent, children, ctx, opts) returns the result of docs/controllers.md: the desired
-- pod list (kept pods by name, new pods from spec.template with generateName "<name>-",
-- surplus pods left out so the runtime deletes them), the orphans to adopt and the pods to
-- release, the status, and requeue_after while a ready pod waits out minReadySeconds.
-- opts.shape is "labelSelector" (ReplicaSet) or "map" (ReplicationController, whose empty
-- selector defaults to the template's labels as the API server does).
-- Which pods go first on scale-down is kube's getPodsToDelete order (rank_less below).
-- Depends on berth.controller.common. Tested by t/lua/test_ctrl_replicaset.lua.

local C = require("berth.controller.common")

local type, ipairs, pairs, next = type, ipairs, pairs, next
local math_min, math_max, math_floor, math_log = math.min, math.max, math.floor, math.log
local table_sort = table.sort

local M = {}

M.PODS = "v1/pods"
M.DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"

-- Events the runtime records for each pod it creates or deletes (docs/controllers.md,
-- "child_events"): kube's ReplicaSet controller wording, %s is the pod name or the error.
M.CHILD_EVENTS = {
    [M.PODS] = {
        create = { type = "Normal", reason = "SuccessfulCreate", message = "Created pod: %s" },
        create_failed = { type = "Warning", reason = "FailedCreate", message = "Error creating: %s" },
        delete = { type = "Normal", reason = "SuccessfulDelete", message = "Deleted pod: %s" },
        delete_failed = { type = "Warning", reason = "FailedDelete", message = "Error deleting: %s" },
    },
}

---------------------------------------------------------------------------------------------
-- Scale-down order (controller.ActivePodsWithRanks, LogarithmicScaleDown on as in 1.31)
---------------------------------------------------------------------------------------------

local PHASE_ORDER = { Pending = 0, Unknown = 1, Running = 2 }
local LN2 = math_log(2)

local function max_restarts(pod)
    local n = 0
    for _, cs in ipairs(C.tget(pod, "status.containerStatuses") or C.EMPTY) do
        if type(cs) == "table" then
            n = math_max(n, C.num(cs.restartCount, 0))
        end
    end
    return n
end

-- One pod's sort keys; on_node counts the related active pods per node (the "rank").
local function rank_info(pod, on_node)
    local node = C.sget(pod, "spec.nodeName") or ""
    return {
        pod = pod,
        name = C.name(pod),
        uid = C.uid(pod),
        node = node,
        phase = PHASE_ORDER[C.sget(pod, "status.phase") or ""] or 0,
        ready = C.pod_ready(pod),
        ready_time = C.pod_ready_time(pod),
        cost = C.parse_int(C.annotations(pod)[M.DELETION_COST]) or 0,
        rank = on_node[node] or 0,
        restarts = max_restarts(pod),
        created = C.time(C.sget(pod, "metadata.creationTimestamp")),
    }
end

-- floor(log2(now - t in nanoseconds)), -1 when t is not in the past.
local function log_rank(t, now)
    local d = (now - t) * 1e9
    if d > 0 then
        return math_floor(math_log(d) / LN2)
    end
    return -1
end

-- Compares two timestamps newer-first, as afterOrZero plus logarithmicRankDiff: a missing
-- time goes first; times in the same power-of-two age bucket tie and fall back to the uid.
-- Returns nil when the times are equal (the next criterion decides).
local function newer_first(ta, tb, a, b, now)
    if ta == tb then
        return nil
    end
    if ta == nil or tb == nil then
        return ta == nil
    end
    if now == nil then
        return ta > tb
    end
    local diff = log_rank(ta, now) - log_rank(tb, now)
    if diff == 0 then
        return a.uid < b.uid
    end
    return diff < 0
end

-- ActivePodsWithRanks.Less: true when pod a should be deleted before pod b.
-- 1 unassigned < assigned; 2 Pending < Unknown < Running; 3 not ready < ready;
-- 4 lower pod-deletion-cost first; 5 more related pods on the same node first;
-- 6 both ready: more recently ready first; 7 more container restarts first;
-- 8 newer (or no) creationTimestamp first. Ties: uid, then name (for a stable order).
local function rank_less(a, b, now)
    if a.node ~= b.node and (a.node == "" or b.node == "") then
        return a.node == ""
    end
    if a.phase ~= b.phase then
        return a.phase < b.phase
    end
    if a.ready ~= b.ready then
        return not a.ready
    end
    if a.cost ~= b.cost then
        return a.cost < b.cost
    end
    if a.rank ~= b.rank then
        return a.rank > b.rank
    end
    if a.ready and b.ready then
        local r = newer_first(a.ready_time, b.ready_time, a, b, now)
        if r ~= nil then
            return r
        end
    end
    if a.restarts ~= b.restarts then
        return a.restarts > b.restarts
    end
    local r = newer_first(a.created, b.created, a, b, now)
    if r ~= nil then
        return r
    end
    if a.uid ~= b.uid then
        return a.uid < b.uid
    end
    return a.name < b.name
end

-- The active pods in deletion order (first = first to delete). related: the pods whose
-- count per node makes the rank (kube uses every pod of the deployment's ReplicaSets; here
-- the parent's own active pods).
function M.deletion_order(pods, now, related)
    local on_node = {}
    for _, p in ipairs(related or pods) do
        if C.pod_active(p) then
            local n = C.sget(p, "spec.nodeName") or ""
            on_node[n] = (on_node[n] or 0) + 1
        end
    end
    local infos = {}
    for i, p in ipairs(pods) do
        infos[i] = rank_info(p, on_node)
    end
    table_sort(infos, function(a, b) return rank_less(a, b, now) end)
    local out = {}
    for i, info in ipairs(infos) do
        out[i] = info.pod
    end
    return out
end

---------------------------------------------------------------------------------------------
-- Pods from the template
---------------------------------------------------------------------------------------------

-- A new pod for parent (GetPodFromTemplate): generateName "<parent>-", the template's
-- labels, annotations and finalizers, its spec. The runtime adds namespace and the
-- controller ownerReference.
function M.pod_from_template(parent, template)
    local md = C.tget(template, "metadata") or C.EMPTY
    local meta = { generateName = C.name(parent) .. "-", labels = C.copy_map(md.labels) }
    if type(md.annotations) == "table" then
        meta.annotations = C.copy_map(md.annotations)
    end
    if type(md.finalizers) == "table" and #md.finalizers > 0 then
        meta.finalizers = C.copy(md.finalizers)
    end
    return { apiVersion = "v1", kind = "Pod", metadata = meta, spec = C.copy(C.tget(template, "spec") or {}) }
end

---------------------------------------------------------------------------------------------
-- Status
---------------------------------------------------------------------------------------------

-- calculateStatus over the active claimed pods. Returns the status and the seconds until the
-- next ready pod becomes available (nil when none waits).
function M.status(parent, active, now)
    local spec = C.tget(parent, "spec") or C.EMPTY
    local min_ready = C.num(spec.minReadySeconds, 0)
    local tlabels = C.tget(spec, "template.metadata.labels") or C.EMPTY
    local fully, ready, available, wait = 0, 0, 0, nil
    for _, pod in ipairs(active) do
        local labels = C.labels(pod)
        local all = true
        for k, v in pairs(tlabels) do
            if labels[k] ~= v then
                all = false
                break
            end
        end
        if all then
            fully = fully + 1
        end
        if C.pod_ready(pod) then
            ready = ready + 1
            local ok, left = C.pod_available(pod, min_ready, now)
            if ok then
                available = available + 1
            elseif left then
                wait = wait and math_min(wait, left) or left
            end
        end
    end
    local status = { replicas = #active }
    -- kube's omitempty fields: a zero is left out, as the API would return it.
    if fully > 0 then status.fullyLabeledReplicas = fully end
    if ready > 0 then status.readyReplicas = ready end
    if available > 0 then status.availableReplicas = available end
    local gen = C.nget(parent, "metadata.generation")
    if gen then status.observedGeneration = gen end
    local conds = C.tget(parent, "status.conditions")
    if conds and #conds > 0 then
        status.conditions = C.copy(conds)   -- ReplicaFailure is not produced; kept as found
    end
    if wait then
        -- Timestamps are whole seconds and availability needs "strictly before now".
        wait = math_floor(wait) + 1
    end
    return status, wait
end

---------------------------------------------------------------------------------------------
-- Sync
---------------------------------------------------------------------------------------------

-- The parent's selector, compiled. A map selector that is empty defaults to the template's
-- labels (the API server's defaulting for ReplicationControllers).
function M.selector(parent, shape)
    local spec = C.tget(parent, "spec") or C.EMPTY
    local src = spec.selector
    if shape == "map" and (type(src) ~= "table" or next(src) == nil) then
        src = C.tget(spec, "template.metadata.labels")
    end
    return C.compile_selector(src, shape)
end

-- One sync. opts: shape ("labelSelector" | "map"), burst (default C.BURST).
function M.sync(parent, children, ctx, opts)
    opts = opts or {}
    local now = ctx.now
    local burst = opts.burst or C.BURST
    local spec = C.tget(parent, "spec") or C.EMPTY
    local replicas = C.num(spec.replicas, 1)
    local sel, sel_err = M.selector(parent, opts.shape)
    if sel_err then
        -- kube logs and skips the sync; nothing is changed, nothing retried until an edit.
        return { events = { C.event("Warning", "InvalidSelector", "invalid selector: " .. sel_err) } }
    end
    local owned = (children or C.EMPTY)[M.PODS]
    local orphans = type(ctx.orphans) == "table" and ctx.orphans[M.PODS] or nil
    local claimed, adopt, release = C.claim(parent, owned, orphans, sel)

    local active = {}
    for _, p in ipairs(claimed) do
        if C.pod_active(p) then
            active[#active + 1] = p
        end
    end

    local result = {}
    local status, wait = M.status(parent, active, now)
    result.status = status
    result.requeue_after = wait
    if C.is_deleting(parent) then
        return result      -- status only; the garbage collector removes the pods
    end
    if #adopt > 0 then
        result.adopt = { [M.PODS] = adopt }
    end
    if #release > 0 then
        result.release = { [M.PODS] = release }
    end

    local diff = #active - replicas
    local victims = {}
    if diff > 0 then
        local order = M.deletion_order(active, now)
        for i = 1, math_min(diff, burst) do
            victims[C.name(order[i])] = true
        end
    end
    local list = {}
    for _, p in ipairs(claimed) do
        local n = C.name(p)
        if not victims[n] then
            list[#list + 1] = { metadata = { name = n } }    -- keep as it is
        end
    end
    local template = C.tget(spec, "template")
    if diff < 0 and template then
        for _ = 1, math_min(-diff, burst) do
            list[#list + 1] = M.pod_from_template(parent, template)
        end
    end
    result.children = { [M.PODS] = list }
    return result
end

return M
