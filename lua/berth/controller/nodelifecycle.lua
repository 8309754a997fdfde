-- berth.controller.nodelifecycle: the node lifecycle controller
-- (k8s.io/kubernetes/pkg/controller/nodelifecycle and its taint-eviction manager) as one
-- sync for policies/controllers/nodelifecycle.lua, one call per Node.
--
-- sync(node, ctx) returns the result of docs/controllers.md with its extensions ("Contract
-- extensions"):
--   - status: when the last heartbeat (max of the Ready condition's lastHeartbeatTime and the
--     node Lease's spec.renewTime) is older than ctx.settings.node_monitor_grace_period, the
--     conditions Ready, MemoryPressure, DiskPressure and PIDPressure become Unknown
--     ("NodeStatusUnknown", or "NodeStatusNeverUpdated" for a condition never posted);
--   - parent_patch: spec.taints (the complete list), kube's TaintNodesByCondition (NoSchedule
--     taints for conditions and for spec.unschedulable) and the NoExecute not-ready /
--     unreachable taints with timeAdded; other taints are kept in place;
--   - delete: pods on the node that do not tolerate one of its NoExecute taints, at once or
--     after the tolerationSeconds counted from the taint's timeAdded (DefaultTolerationSeconds
--     emulated: pods without a not-ready/unreachable toleration tolerate them for
--     ctx.settings.default_toleration_seconds);
--   - patch: the Ready condition of the node's ready pods set to False when the node goes
--     Unknown (kube's MarkPodsNotReady), so endpoints drop them before eviction;
--   - events: NodeNotReady when this sync turns Ready from True to Unknown;
--   - requeue_after: the next heartbeat deadline or the next pending eviction.
-- Not done: kube's zone-based rate limiting of evictions (every node is treated as in a
-- healthy zone: evictions are immediate), the DisruptionTarget pod condition, events on pods.
-- Depends on berth.controller.common, berth.selector and berth.util. Tested by
-- t/lua/test_ctrl_nodelifecycle.lua.

local C = require("berth.controller.common")
local selector = require("berth.selector")
local util = require("berth.util")

local type, ipairs, pairs, next = type, ipairs, pairs, next
local math_ceil, math_max, math_min = math.ceil, math.max, math.min

local M = {}

M.PODS = "v1/pods"
M.LEASES = "coordination.k8s.io/v1/leases"
M.LEASE_NAMESPACE = "kube-node-lease"

M.DEFAULTS = {
    node_monitor_grace_period = 40,
    node_startup_grace_period = 60,
    default_toleration_seconds = 300,
}

M.NOT_READY = "node.kubernetes.io/not-ready"
M.UNREACHABLE = "node.kubernetes.io/unreachable"
M.UNSCHEDULABLE = "node.kubernetes.io/unschedulable"

-- Conditions a stale node gets as Unknown (NetworkUnavailable is left alone, as in kube).
local STALE_CONDITIONS = { "Ready", "MemoryPressure", "DiskPressure", "PIDPressure" }

-- TaintNodesByCondition (nodeConditionToTaintKeyStatusMap): condition type -> status -> key.
local CONDITION_TAINTS = {
    Ready = { False = M.NOT_READY, Unknown = M.UNREACHABLE },
    MemoryPressure = { True = "node.kubernetes.io/memory-pressure" },
    DiskPressure = { True = "node.kubernetes.io/disk-pressure" },
    NetworkUnavailable = { True = "node.kubernetes.io/network-unavailable" },
    PIDPressure = { True = "node.kubernetes.io/pid-pressure" },
}
local CONDITION_ORDER = { "Ready", "MemoryPressure", "DiskPressure", "NetworkUnavailable", "PIDPressure" }

-- Taint keys whose NoSchedule taint this controller owns (added and removed here).
local NOSCHEDULE_KEYS = { [M.UNSCHEDULABLE] = true }
for _, by_status in pairs(CONDITION_TAINTS) do
    for _, key in pairs(by_status) do
        NOSCHEDULE_KEYS[key] = true
    end
end
-- Taint keys whose NoExecute taint this controller owns.
local NOEXECUTE_KEYS = { [M.NOT_READY] = true, [M.UNREACHABLE] = true }

local function setting(ctx, name)
    local s = type(ctx.settings) == "table" and ctx.settings or C.EMPTY
    return C.num(s[name], M.DEFAULTS[name])
end

-- Seconds to wait, as a whole number >= 1 (requeue_after).
local function wait_secs(x)
    return math_max(1, math_ceil(x))
end

---------------------------------------------------------------------------------------------
-- Heartbeat and conditions (monitorNodeHealth / tryUpdateNodeHealth)
---------------------------------------------------------------------------------------------

-- The node's last heartbeat (unix seconds) and whether it ever posted a Ready condition.
-- Without a Ready condition or a lease, the node's creationTimestamp stands in, as kube's
-- probeTimestamp starts there.
function M.heartbeat(node, ctx)
    local ready = C.get_condition(C.tget(node, "status.conditions"), "Ready")
    local hb = ready and C.time(ready.lastHeartbeatTime) or nil
    if type(ctx.get) == "function" then
        local lease = ctx.get(M.LEASES, M.LEASE_NAMESPACE, C.name(node))
        local renew = lease and C.time(C.sget(lease, "spec.renewTime"))
        if renew and (hb == nil or renew > hb) then
            hb = renew
        end
    end
    if hb == nil then
        hb = C.time(C.sget(node, "metadata.creationTimestamp")) or ctx.now
    end
    return hb, ready ~= nil
end

-- The conditions of a node whose kubelet stopped posting: a new list (copies), and whether
-- Ready went from True to Unknown here.
local function stale_conditions(node, now)
    local conds = C.copy(C.tget(node, "status.conditions") or {})
    local ts = C.rfc3339(now)
    local created = C.sget(node, "metadata.creationTimestamp")
    local was_ready = false
    for _, t in ipairs(STALE_CONDITIONS) do
        local c = C.get_condition(conds, t)
        if c == nil then
            conds[#conds + 1] = {
                type = t, status = "Unknown", reason = "NodeStatusNeverUpdated",
                message = "Kubelet never posted node status.",
                lastHeartbeatTime = created, lastTransitionTime = ts,
            }
        elseif c.status ~= "Unknown" then
            if t == "Ready" and c.status == "True" then
                was_ready = true
            end
            c.status = "Unknown"
            c.reason = "NodeStatusUnknown"
            c.message = "Kubelet stopped posting node status."
            c.lastTransitionTime = ts
        end
    end
    return conds, was_ready
end

---------------------------------------------------------------------------------------------
-- Taints (doNoScheduleTaintingPass, doNoExecuteTaintingPass)
---------------------------------------------------------------------------------------------

-- The taints the node should have under conditions conds: this controller's taints as
-- {key, effect} wanted (a set "key:effect" -> taint), then the complete new list, keeping
-- taints it does not own in order and its own taints that stay (with their timeAdded).
function M.taints(node, conds, now)
    local want, order = {}, {}
    local function add(key, effect)
        local id = key .. ":" .. effect
        if not want[id] then
            local taint = { key = key, effect = effect }
            if effect == "NoExecute" then
                taint.timeAdded = C.rfc3339(now)
            end
            want[id] = taint
            order[#order + 1] = id
        end
    end
    for _, t in ipairs(CONDITION_ORDER) do
        local c = C.get_condition(conds, t)
        local key = c and CONDITION_TAINTS[t][C.str(c.status) or ""]
        if key then
            add(key, "NoSchedule")
        end
    end
    if util.get(node, "spec.unschedulable") == true then
        add(M.UNSCHEDULABLE, "NoSchedule")
    end
    local ready = C.get_condition(conds, "Ready")
    local rs = ready and ready.status
    if rs == "False" then
        add(M.NOT_READY, "NoExecute")
    elseif rs == "Unknown" then
        add(M.UNREACHABLE, "NoExecute")
    end

    local out, have = {}, {}
    for _, taint in ipairs(C.tget(node, "spec.taints") or C.EMPTY) do
        if type(taint) == "table" then
            local key, effect = C.str(taint.key) or "", C.str(taint.effect) or ""
            local id = key .. ":" .. effect
            local owned = (effect == "NoSchedule" and NOSCHEDULE_KEYS[key])
                       or (effect == "NoExecute" and NOEXECUTE_KEYS[key])
            if not owned then
                out[#out + 1] = taint
            elseif want[id] and not have[id] then
                out[#out + 1] = taint           -- stays, with its timeAdded
                have[id] = true
            end
        end
    end
    for _, id in ipairs(order) do
        if not have[id] then
            out[#out + 1] = want[id]
        end
    end
    return out
end

---------------------------------------------------------------------------------------------
-- Evictions (pkg/controller/tainteviction)
---------------------------------------------------------------------------------------------

-- The pod's tolerations with kube's DefaultTolerationSeconds admission applied: a pod with
-- no toleration for not-ready (resp. unreachable) NoExecute gets one for `secs` seconds.
function M.effective_tolerations(pod, secs)
    local tols = {}
    local nr, ur = false, false
    for _, tol in ipairs(C.tget(pod, "spec.tolerations") or C.EMPTY) do
        if type(tol) == "table" then
            tols[#tols + 1] = tol
            local key, effect = C.str(tol.key) or "", C.str(tol.effect) or ""
            if effect == "" or effect == "NoExecute" then
                if key == "" or key == M.NOT_READY then nr = true end
                if key == "" or key == M.UNREACHABLE then ur = true end
            end
        end
    end
    if not nr then
        tols[#tols + 1] = { key = M.NOT_READY, operator = "Exists", effect = "NoExecute", tolerationSeconds = secs }
    end
    if not ur then
        tols[#tols + 1] = { key = M.UNREACHABLE, operator = "Exists", effect = "NoExecute", tolerationSeconds = secs }
    end
    return tols
end

-- When the pod must go, given the node's NoExecute taints (each with an `added` time):
-- returns the unix time of eviction (now when a taint is not tolerated), or nil when the pod
-- tolerates them all forever. As kube's getMatchingTolerations, each taint is matched by the
-- first toleration that tolerates it; tolerationSeconds <= 0 means at once.
function M.eviction_time(pod, taints, now, default_secs)
    if #taints == 0 then
        return nil
    end
    local tols = M.effective_tolerations(pod, default_secs)
    local at
    for _, t in ipairs(taints) do
        local match
        for _, tol in ipairs(tols) do
            if selector.toleration_tolerates(tol, t.taint) then
                match = tol
                break
            end
        end
        if match == nil then
            return now
        end
        local secs = C.num(match.tolerationSeconds)
        if secs then
            local when = secs <= 0 and now or (t.added + secs)
            at = at and math_min(at, when) or when
        end
    end
    return at
end

-- First-seen times of NoExecute taints without timeAdded (set by hand or by an old client),
-- kept for this VM's life as kube's eviction queue keeps its CreatedAt: node -> id -> time.
local first_seen = {}

-- The node's NoExecute taints as { taint =, added = unix time }.
local function noexecute_taints(node_name, taints, now)
    local seen = first_seen[node_name] or {}
    local keep, out = {}, {}
    for _, taint in ipairs(taints) do
        if type(taint) == "table" and taint.effect == "NoExecute" then
            local added = C.time(taint.timeAdded)
            if added == nil then
                local id = (C.str(taint.key) or "") .. "=" .. (C.str(taint.value) or "")
                added = seen[id] or now
                keep[id] = added
            end
            out[#out + 1] = { taint = taint, added = added }
        end
    end
    first_seen[node_name] = next(keep) ~= nil and keep or nil
    return out
end

-- The pods of the node (ctx.list with the "node" index; filtered again on spec.nodeName).
function M.pods_on(node_name, ctx)
    if type(ctx.list) ~= "function" then
        return {}
    end
    local out = {}
    for _, p in ipairs(ctx.list(M.PODS, { index = { "node", node_name } }) or C.EMPTY) do
        if C.sget(p, "spec.nodeName") == node_name then
            out[#out + 1] = p
        end
    end
    return out
end

-- A status patch setting the pod's Ready condition to False (MarkPodsNotReady), or nil when
-- it is not True.
local function mark_not_ready(pod, now)
    local conds = C.tget(pod, "status.conditions")
    local c, i = C.get_condition(conds, "Ready")
    if c == nil or c.status ~= "True" then
        return nil
    end
    local list = C.copy(conds)
    list[i].status = "False"
    list[i].lastTransitionTime = C.rfc3339(now)
    local ns = C.namespace(pod)
    return {
        resource = "v1/pods/status", namespace = ns ~= "" and ns or nil, name = C.name(pod), type = "merge",
        patch = { metadata = { uid = C.uid(pod), resourceVersion = C.sget(pod, "metadata.resourceVersion") },
                  status = { conditions = list } },
    }
end

---------------------------------------------------------------------------------------------
-- Sync
---------------------------------------------------------------------------------------------

function M.sync(node, ctx)
    local now = ctx.now
    local name = C.name(node)
    local result = {}
    local requeue

    -- 1. Health.
    local hb, posted = M.heartbeat(node, ctx)
    local grace = posted and setting(ctx, "node_monitor_grace_period") or setting(ctx, "node_startup_grace_period")
    local conds = C.tget(node, "status.conditions") or C.EMPTY
    local went_unknown = false
    if now - hb > grace then
        local new, was_ready = stale_conditions(node, now)
        if not util.deep_equal(new, conds) then
            local status = C.copy(C.tget(node, "status") or {})
            status.conditions = new
            result.status = status
        end
        conds = new
        went_unknown = was_ready
    else
        requeue = wait_secs(hb + grace - now + 1)
    end
    if went_unknown then
        result.events = { C.event("Normal", "NodeNotReady", "Node " .. name .. " status is now: NodeNotReady") }
    end

    -- 2. Taints.
    local old = C.tget(node, "spec.taints") or C.EMPTY
    local taints = M.taints(node, conds, now)
    if not util.deep_equal(taints, old) then
        result.parent_patch = { spec = { taints = #taints > 0 and taints or ctx.null } }
    end

    -- 3. Pods: not ready when the node is unknown; evictions under NoExecute taints.
    local ready = C.get_condition(conds, "Ready")
    local unknown = ready ~= nil and ready.status == "Unknown"
    local nx = noexecute_taints(name, taints, now)
    local default_secs = setting(ctx, "default_toleration_seconds")
    local deletes, patches = {}, {}
    if unknown or #nx > 0 then
        for _, pod in ipairs(M.pods_on(name, ctx)) do
            if not C.is_deleting(pod) then
                local at = M.eviction_time(pod, nx, now, default_secs)
                if at and now >= at then
                    local ns = C.namespace(pod)
                    deletes[#deletes + 1] = { resource = M.PODS, namespace = ns ~= "" and ns or nil,
                                              name = C.name(pod), uid = C.uid(pod) }
                else
                    if at then
                        local w = wait_secs(at - now)
                        requeue = requeue and math_min(requeue, w) or w
                    end
                    local p = unknown and mark_not_ready(pod, now)
                    if p then
                        patches[#patches + 1] = p
                    end
                end
            end
        end
    end
    if #deletes > 0 then result.delete = deletes end
    if #patches > 0 then result.patch = patches end
    result.requeue_after = requeue
    return result
end

-- For tests: forget the first-seen times of taints without timeAdded.
function M.reset()
    first_seen = {}
end

return M
