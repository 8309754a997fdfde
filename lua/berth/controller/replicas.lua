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
-- The desired pods go back in the "keep the rest" shape (docs/controllers.md): the pods to
-- create and the names to delete, every other pod kept, so neither the policy nor the
-- runtime builds and compares an entry per kept pod.
--
-- Cost: a sync walks every pod of the parent (10,000 for a big ReplicaSet), every time one
-- of them changes. What a sync learns from one pod (active, ready and since when, whether
-- it matches the selector and carries the template's labels, its scale-down keys) is kept
-- per pod version in a weak cache (facts below) and reused by later syncs, so a sync costs
-- a table lookup per unchanged pod and the full reading only for the pods that changed.
-- Depends on berth.controller.common. Tested by
-- t/lua/test_ctrl_replicaset.lua.

local C = require("berth.controller.common")

local type, ipairs, pairs, next, tostring, tonumber, setmetatable =
      type, ipairs, pairs, next, tostring, tonumber, setmetatable
local math_min, math_max, math_floor, math_log = math.min, math.max, math.floor, math.log
local table_sort, table_concat = table.sort, table.concat

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
-- Per-pod facts, cached per object version
---------------------------------------------------------------------------------------------

-- The runtime hands out the same table for a cached object until its resourceVersion
-- changes (engine/luacluster.h: one conversion per change) and objects are read-only, so
-- what one sync reads from a pod holds for the next syncs until the pod changes. Keyed by
-- the pod table, weakly (entries go with the pods), and checked against the pod's
-- resourceVersion; an object without one (a test fixture, which may be edited in place) is
-- read afresh every time. A value must never refer to its key: a weak-keyed table (Lua 5.1)
-- would keep such an entry alive forever.
local facts_cache = setmetatable({}, { __mode = "k" })

local PHASE_ORDER = { Pending = 0, Unknown = 1, Running = 2 }
local LN2 = math_log(2)

-- What sync needs of every pod: name, active (IsPodActive), ready (IsPodReady), ready_time
-- (when it became ready, for availability), labels. The scale-down keys are added by
-- rank_keys, the selector and template-label results by the sync, each with the signature
-- of what they were computed against.
local function facts(pod)
    local md = type(pod) == "table" and pod.metadata or nil
    local rv = type(md) == "table" and md.resourceVersion or nil
    local f = facts_cache[pod]
    if f ~= nil and rv ~= nil and f.rv == rv then
        return f
    end
    local ready = C.pod_ready(pod)
    f = {
        rv = rv, name = C.name(pod), active = C.pod_active(pod), ready = ready,
        ready_time = ready and C.pod_ready_time(pod) or nil, labels = C.labels(pod),
    }
    if type(rv) == "string" then
        facts_cache[pod] = f
    end
    return f
end
M.facts = facts

---------------------------------------------------------------------------------------------
-- Scale-down order (controller.ActivePodsWithRanks, LogarithmicScaleDown on as in 1.31)
---------------------------------------------------------------------------------------------

local function max_restarts(pod)
    local n = 0
    for _, cs in ipairs(C.tget(pod, "status.containerStatuses") or C.EMPTY) do
        if type(cs) == "table" then
            n = math_max(n, C.num(cs.restartCount, 0))
        end
    end
    return n
end

-- The pod's facts with its sort keys (the fields rank_less reads but rank, which depends on
-- the other pods: the caller sets it).
local function rank_keys(pod)
    local f = facts(pod)
    if f.phase == nil then
        f.uid = C.uid(pod)
        f.node = C.sget(pod, "spec.nodeName") or ""
        f.phase = PHASE_ORDER[C.sget(pod, "status.phase") or ""] or 0
        f.cost = C.parse_int(C.annotations(pod)[M.DELETION_COST]) or 0
        f.restarts = max_restarts(pod)
        f.created = C.time(C.sget(pod, "metadata.creationTimestamp"))
    end
    return f
end

-- The rank keys of each pod, and the active pods per node among related (nil: the pods
-- themselves): the "rank" of a pod is its node's count.
local function rank_all(pods, related)
    local fs, on_node = {}, {}
    for i, p in ipairs(pods) do
        fs[i] = rank_keys(p)
    end
    if related == nil then
        for _, f in ipairs(fs) do
            if f.active then
                on_node[f.node] = (on_node[f.node] or 0) + 1
            end
        end
        return fs, on_node
    end
    for _, p in ipairs(related) do
        local f = facts(p)
        if f.active then
            local n = rank_keys(p).node
            on_node[n] = (on_node[n] or 0) + 1
        end
    end
    return fs, on_node
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
    local fs, on_node = rank_all(pods, related)
    local infos = {}
    for i, p in ipairs(pods) do
        local f = fs[i]
        -- a per-call copy: the sort keeps the pod, and a cached fact must not refer to it
        infos[i] = {
            pod = p, name = f.name, uid = f.uid, node = f.node, phase = f.phase, ready = f.ready,
            ready_time = f.ready_time, cost = f.cost, rank = on_node[f.node] or 0,
            restarts = f.restarts, created = f.created,
        }
    end
    table_sort(infos, function(a, b) return rank_less(a, b, now) end)
    local out = {}
    for i, info in ipairs(infos) do
        out[i] = info.pod
    end
    return out
end

-- The names of the first k pods of deletion_order(pods, now, related), without sorting all
-- of them: a heap of the k pods to delete first seen so far, whose top is the one that would
-- go last; a pod that goes before the top replaces it. n + k log k comparisons for n pods
-- (instead of n log n), the same k pods as the full sort (rank_less is a total order: uid and
-- name break every tie), returned in deletion order.
function M.victims(pods, k, now, related)
    local fs, on_node = rank_all(pods, related)
    local heap, n = {}, 0
    local function later(a, b) return rank_less(b, a, now) end   -- a goes after b
    for _, f in ipairs(fs) do
        f.rank = on_node[f.node] or 0     -- this call's rank, read by rank_less below
        if n < k then
            n = n + 1
            local i = n
            while i > 1 do                 -- sift up: the parent must go after its children
                local up = math_floor(i / 2)
                if not later(f, heap[up]) then
                    break
                end
                heap[i] = heap[up]
                i = up
            end
            heap[i] = f
        elseif n > 0 and rank_less(f, heap[1], now) then
            local i = 1
            while true do                  -- sift down from the root
                local l, r = 2 * i, 2 * i + 1
                local m = i
                local mf = f
                if l <= n and later(heap[l], mf) then
                    m, mf = l, heap[l]
                end
                if r <= n and later(heap[r], mf) then
                    m, mf = r, heap[r]
                end
                if m == i then
                    break
                end
                heap[i] = heap[m]
                i = m
            end
            heap[i] = f
        end
    end
    table_sort(heap, function(a, b) return rank_less(a, b, now) end)
    local names = {}
    for i, f in ipairs(heap) do
        names[i] = f.name
    end
    return names
end

---------------------------------------------------------------------------------------------
-- Pods from the template
---------------------------------------------------------------------------------------------

-- A new pod for parent (GetPodFromTemplate): generateName "<parent>-", the template's
-- labels, annotations and finalizers, its spec. The runtime adds namespace and the
-- controller ownerReference.
function M.pod_from_template(parent, template)
    local md = C.tget(template, "metadata") or C.EMPTY
    local meta = C.copy_template_meta(md, { generateName = C.name(parent) .. "-", labels = C.copy_map(md.labels) })
    return { apiVersion = "v1", kind = "Pod", metadata = meta, spec = C.copy(C.tget(template, "spec") or {}) }
end

---------------------------------------------------------------------------------------------
-- Status
---------------------------------------------------------------------------------------------

-- A canonical string of JSON-shaped data (keys sorted, types and lengths spelled out), so
-- that two values give the same string exactly when they are equal: the signature a cached
-- fact was computed against (a selector, the template's labels).
local function canon(v, out)
    local t = type(v)
    if t == "table" then
        local keys = {}
        for k in pairs(v) do
            keys[#keys + 1] = tostring(k)
        end
        table_sort(keys)
        out[#out + 1] = "{" .. #keys
        for _, k in ipairs(keys) do
            out[#out + 1] = #k .. ":" .. k
            local x = v[k]
            if x == nil then
                x = v[tonumber(k)]
            end
            canon(x, out)
        end
        out[#out + 1] = "}"
    elseif t == "string" then
        out[#out + 1] = "s" .. #v .. ":" .. v
    else
        out[#out + 1] = t:sub(1, 1) .. tostring(v)
    end
    return out
end

local function signature(...)
    return table_concat(canon({ ... }, {}), ",")
end

-- Status counters over the active claimed pods (calculateStatus), one pod at a time.
local function new_counts(parent, now)
    local spec = C.tget(parent, "spec") or C.EMPTY
    local tlabels = C.tget(spec, "template.metadata.labels") or C.EMPTY
    return {
        now = now, min_ready = C.num(spec.minReadySeconds, 0),
        tlabels = tlabels, tsig = signature(tlabels),
        active = 0, fully = 0, ready = 0, available = 0, wait = nil,
    }
end

-- f: the facts of an active claimed pod.
local function count_pod(c, f)
    c.active = c.active + 1
    local all = f.fully
    if f.fully_sig ~= c.tsig then
        local labels = f.labels
        all = true
        for k, v in pairs(c.tlabels) do
            if labels[k] ~= v then
                all = false
                break
            end
        end
        f.fully, f.fully_sig = all, c.tsig
    end
    if all then
        c.fully = c.fully + 1
    end
    if f.ready then
        c.ready = c.ready + 1
        -- IsPodAvailable (common.pod_available) on the cached ready time
        local min_ready = c.min_ready
        if not min_ready or min_ready <= 0 then
            c.available = c.available + 1
        elseif f.ready_time ~= nil then
            local left = f.ready_time + min_ready - c.now
            if left < 0 then
                c.available = c.available + 1
            else
                c.wait = c.wait and math_min(c.wait, left) or left
            end
        end
    end
end

-- The status and the seconds until the next ready pod becomes available (nil when none
-- waits) from the counters.
local function counts_status(parent, c)
    local status = { replicas = c.active }
    -- kube's omitempty fields: a zero is left out, as the API would return it.
    if c.fully > 0 then status.fullyLabeledReplicas = c.fully end
    if c.ready > 0 then status.readyReplicas = c.ready end
    if c.available > 0 then status.availableReplicas = c.available end
    local gen = C.nget(parent, "metadata.generation")
    if gen then status.observedGeneration = gen end
    local conds = C.tget(parent, "status.conditions")
    if conds and #conds > 0 then
        status.conditions = C.copy(conds)   -- ReplicaFailure is not produced; kept as found
    end
    local wait = c.wait
    if wait then
        -- Timestamps are whole seconds and availability needs "strictly before now".
        wait = math_floor(wait) + 1
    end
    return status, wait
end

-- calculateStatus over the active claimed pods. Returns the status and the seconds until the
-- next ready pod becomes available (nil when none waits).
function M.status(parent, active, now)
    local c = new_counts(parent, now)
    for _, pod in ipairs(active) do
        count_pod(c, facts(pod))
    end
    return counts_status(parent, c)
end

---------------------------------------------------------------------------------------------
-- Sync
---------------------------------------------------------------------------------------------

-- The parent's selector source: spec.selector, or for a map selector that is empty the
-- template's labels (the API server's defaulting for ReplicationControllers).
local function selector_source(parent, shape)
    local spec = C.tget(parent, "spec") or C.EMPTY
    local src = spec.selector
    if shape == "map" and (type(src) ~= "table" or next(src) == nil) then
        src = C.tget(spec, "template.metadata.labels")
    end
    return src
end

-- The parent's selector, compiled.
function M.selector(parent, shape)
    return C.compile_selector(selector_source(parent, shape), shape)
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
    local sel_sig = signature(opts.shape or "labelSelector", selector_source(parent, opts.shape))
    local deleting = C.is_deleting(parent)

    -- ClaimObject over the owned pods: matching ones are claimed, the others released
    -- (neither while the parent is deleting); the match is cached per pod and selector.
    -- Adoptable orphans (common.claim's rule) are claimed too.
    local owned = (children or C.EMPTY)[M.PODS] or C.EMPTY
    local orphans = type(ctx.orphans) == "table" and ctx.orphans[M.PODS] or nil
    local counts = new_counts(parent, now)
    local active = {}            -- the active claimed pods, for the scale-down order
    local release, adopt = {}, {}
    for _, p in ipairs(owned) do
        local f = facts(p)
        local match = f.match
        if f.match_sig ~= sel_sig then
            match = C.matches(sel, p)
            f.match, f.match_sig = match, sel_sig
        end
        if match then
            if f.active then
                count_pod(counts, f)
                active[#active + 1] = p
            end
        elseif not deleting then
            release[#release + 1] = f.name
        end
    end
    if not deleting then
        local uid = C.uid(parent)
        for _, o in ipairs(orphans or C.EMPTY) do
            local ref = C.controller_ref(o)
            if (ref == nil or ref.uid == uid) and not C.is_deleting(o) and C.matches(sel, o) then
                adopt[#adopt + 1] = C.name(o)
                local f = facts(o)
                if f.active then
                    count_pod(counts, f)
                    active[#active + 1] = o
                end
            end
        end
    end

    local result = {}
    local status, wait = counts_status(parent, counts)
    result.status = status
    result.requeue_after = wait
    if deleting then
        return result      -- status only; the garbage collector removes the pods
    end
    if #adopt > 0 then
        result.adopt = { [M.PODS] = adopt }
    end
    if #release > 0 then
        result.release = { [M.PODS] = release }
    end

    -- Every claimed pod is kept but the surplus (the first in kube's order), which the
    -- runtime deletes; released pods are no longer children; adopted ones are.
    local diff = #active - replicas
    local delete = {}
    if diff > 0 then
        delete = M.victims(active, math_min(diff, burst), now)
    end
    local create = {}
    local template = C.tget(spec, "template")
    if diff < 0 and template then
        for i = 1, math_min(-diff, burst) do
            create[i] = M.pod_from_template(parent, template)
        end
    end
    result.children = { [M.PODS] = { rest = "keep", entries = create, delete = delete } }
    return result
end

return M
