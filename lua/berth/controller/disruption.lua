-- berth.controller.disruption: the disruption controller (k8s.io/kubernetes/pkg/controller/
-- disruption, kube 1.31) as one declarative sync for policies/controllers/disruption.lua,
-- one call per PodDisruptionBudget (policy/v1). It only computes the PDB's status; it never
-- writes pods.
--
-- sync(pdb, children, ctx) returns { status = ..., events = ..., requeue_after = ... }:
--   - pods: ctx.list("v1/pods", {namespace, selector}) filtered again by spec.selector
--     (metav1.LabelSelector: null/absent selects nothing, {} selects every pod of the
--     namespace, as policy/v1); terminating and finished pods are included, as kube lists them;
--   - expectedPods / desiredHealthy (getExpectedPodCount): maxUnavailable set (int or "N%")
--     → expected = the sum of spec.replicas of the distinct controllers of the selected pods
--     (ReplicationController; ReplicaSet, or its Deployment when it has one; the ReplicaSet's
--     own scale when that Deployment is gone), desired = max(0, expected - maxUnavailable),
--     a percentage rounded up; else minAvailable an integer → expected = the number of
--     selected pods, desired = minAvailable; minAvailable "N%" → expected as for
--     maxUnavailable, desired = ceil(N% of expected); neither → 0 and 0 (policy/v1 has no
--     default). Pods without a controller ownerReference are left out of the scale sum and
--     reported by an UnmanagedPods Warning (kube >= 1.22 no longer fails on them); a pod whose
--     controller cannot be found, or is of a kind without a readable scale, fails the sync;
--   - disruptedPods (buildDisruptedPodMap): an entry the eviction endpoint wrote is kept while
--     its pod is still selected, not terminating and the entry is at most 2 minutes old
--     (DeletionTimeout); otherwise dropped. requeue_after = when the oldest kept one expires;
--   - currentHealthy (countHealthyPods): selected pods that are not terminating, not in the
--     kept disruptedPods (younger than the timeout) and Ready;
--   - disruptionsAllowed = currentHealthy - desiredHealthy, 0 when negative or when
--     expectedPods is 0;
--   - status: exactly kube's PodDisruptionBudgetStatus: the four counts always (no omitempty
--     in policy/v1), observedGeneration = metadata.generation, disruptedPods when not empty,
--     conditions: the existing ones with DisruptionAllowed set as meta.SetStatusCondition
--     does (True/SufficientPods when disruptions are allowed, else False/InsufficientPods;
--     message "", observedGeneration; lastTransitionTime kept while the status is the same,
--     position kept). The same inputs give the same status, so the runtime writes nothing.
--   - failures (kube's failSafe): a selector that does not compile, an unknown controller, a
--     malformed int-or-percent: the current status with disruptionsAllowed 0 and
--     DisruptionAllowed False/SyncFailed with the error as message (other fields kept, as
--     kube's DeepCopy; missing counts as 0, as Go marshals them), plus kube's Warning event
--     (NoPods "Failed to get pods: ..." or CalculateExpectedPodCountFailed).
--
-- Events (NoPods, UnmanagedPods, CalculateExpectedPodCountFailed) are returned only by a sync
-- whose status differs from the current one: kube records them on every sync; berth's syncs
-- also come from resyncs and requeues, which would repeat them.
-- Not done: the MultiplePodDisruptionBudgets and NotDeleted events on pods, the stale
-- DisruptionTarget pod condition cleanup (it writes pods), and the generic /scale finder (a
-- policy cannot read /scale): controllers of other kinds fail the sync with a message naming
-- the pod.
-- Depends on berth.controller.common and berth.selector. Tested by
-- t/lua/test_ctrl_disruption.lua.

local C = require("berth.controller.common")
local selector = require("berth.selector")

local type, ipairs, pairs, next, tostring = type, ipairs, pairs, next, tostring
local math_ceil, math_floor = math.ceil, math.floor
local string_format, string_sub = string.format, string.sub
local table_sort, table_concat = table.sort, table.concat

local M = {}

M.PODS = "v1/pods"
M.REPLICASETS = "apps/v1/replicasets"
M.DEPLOYMENTS = "apps/v1/deployments"
M.REPLICATIONCONTROLLERS = "v1/replicationcontrollers"
M.STATEFULSETS = "apps/v1/statefulsets"

-- kube's DeletionTimeout: how long an eviction's disruptedPods entry counts the pod as gone
-- before the pod is seen terminating.
M.DELETION_TIMEOUT = 120

M.CONDITION = "DisruptionAllowed"
M.SYNC_FAILED = "SyncFailed"
M.SUFFICIENT = "SufficientPods"
M.INSUFFICIENT = "InsufficientPods"

-- Controller kinds known not to implement /scale (kube's "<resource>.<group> does not
-- implement the scale subresource"), by "<group>/<Kind>".
local NO_SCALE = {
    ["batch/Job"] = "jobs.batch", ["batch/CronJob"] = "cronjobs.batch",
    ["apps/DaemonSet"] = "daemonsets.apps", ["/Pod"] = "pods", ["/Node"] = "nodes",
}

---------------------------------------------------------------------------------------------
-- Helpers
---------------------------------------------------------------------------------------------

-- "apps/v1" -> "apps"; "v1" -> "" (the core group).
local function group_of(api_version)
    if type(api_version) ~= "string" then
        return nil
    end
    local g = api_version:match("^(.*)/[^/]*$")
    return g or ""
end

-- verifyGroupKind: ref has kind and one of the groups.
local function is_kind(ref, kind, groups)
    if ref.kind ~= kind then
        return false
    end
    local g = group_of(ref.apiVersion)
    for _, want in ipairs(groups) do
        if g == want then
            return true
        end
    end
    return false
end

-- One cached object of resource, or nil: ctx.get when the runtime gives it, else a scan of
-- ctx.list (the runtime may return a superset; the name is checked).
local function get(ctx, resource, ns, name)
    if type(ctx.get) == "function" then
        return ctx.get(resource, ns, name)
    end
    if type(ctx.list) ~= "function" then
        return nil
    end
    for _, o in ipairs(ctx.list(resource, { namespace = ns }) or C.EMPTY) do
        if C.name(o) == name and C.namespace(o) == ns then
            return o
        end
    end
    return nil
end

local function replicas(obj)
    return C.nget(obj, "spec.replicas", 1)     -- the API server defaults it to 1
end

-- Deep equality with absent and null the same (the runtime's comparison of statuses).
local function same(a, b)
    local na = a == nil or (type(a) ~= "table" and type(a) ~= "string" and type(a) ~= "number"
                            and type(a) ~= "boolean")
    local nb = b == nil or (type(b) ~= "table" and type(b) ~= "string" and type(b) ~= "number"
                            and type(b) ~= "boolean")
    if na or nb then
        return na and nb
    end
    if type(a) ~= "table" or type(b) ~= "table" then
        return a == b
    end
    for k, v in pairs(a) do
        if not same(v, b[k]) then
            return false
        end
    end
    for k, v in pairs(b) do
        if a[k] == nil and not same(nil, v) then
            return false
        end
    end
    return true
end
M.same = same

---------------------------------------------------------------------------------------------
-- Int or percent (intstr.GetScaledValueFromIntOrPercent, rounding up)
---------------------------------------------------------------------------------------------

-- The value of v (a number, or "N%" of total rounded up), or nil and kube's reason.
function M.scaled_value(v, total)
    if type(v) == "number" then
        return math_floor(v)
    end
    if type(v) ~= "string" then
        return nil, "invalid value for IntOrString: invalid type: neither int nor percentage"
    end
    if string_sub(v, -1) ~= "%" then
        return nil, "invalid value for IntOrString: invalid type: string is not a percentage"
    end
    local n = C.parse_int(string_sub(v, 1, -2))
    if n == nil then
        return nil, string_format("invalid value for IntOrString: invalid value %q", v)
    end
    return math_ceil(n * total / 100)
end

local function present(v)
    return type(v) == "number" or type(v) == "string"
end

---------------------------------------------------------------------------------------------
-- Controllers and their scale (getExpectedScale and kube's finders)
---------------------------------------------------------------------------------------------

-- The finders, in kube's order. Each returns { uid =, scale = } when it recognizes and finds
-- the controller, nil when it does not, or nil, err.
local function find_rc(ctx, ref, ns)
    if not is_kind(ref, "ReplicationController", { "" }) then
        return nil
    end
    local rc = get(ctx, M.REPLICATIONCONTROLLERS, ns, ref.name)
    if rc == nil or C.uid(rc) ~= ref.uid then
        return nil
    end
    return { uid = C.uid(rc), scale = replicas(rc) }
end

local RS_GROUPS, DEPLOY_GROUPS = { "apps", "extensions" }, { "apps", "extensions" }

local function find_deployment(ctx, ref, ns)
    if not is_kind(ref, "ReplicaSet", RS_GROUPS) then
        return nil
    end
    local rs = get(ctx, M.REPLICASETS, ns, ref.name)
    if rs == nil or C.uid(rs) ~= ref.uid then
        return nil
    end
    local dref = C.controller_ref(rs)
    if dref == nil or not is_kind(dref, "Deployment", DEPLOY_GROUPS) then
        return nil
    end
    local d = get(ctx, M.DEPLOYMENTS, C.namespace(rs), dref.name)
    if d == nil or C.uid(d) ~= dref.uid then
        return nil
    end
    return { uid = C.uid(d), scale = replicas(d) }
end

local function find_rs(ctx, ref, ns)
    if not is_kind(ref, "ReplicaSet", RS_GROUPS) then
        return nil
    end
    local rs = get(ctx, M.REPLICASETS, ns, ref.name)
    if rs == nil or C.uid(rs) ~= ref.uid then
        return nil
    end
    local dref = C.controller_ref(rs)
    if dref ~= nil and dref.kind == "Deployment" then
        return nil                       -- the Deployment finder's (kube checks the kind only)
    end
    return { uid = C.uid(rs), scale = replicas(rs) }
end

-- kube's last finder reads the controller's /scale subresource. Here: the kinds whose scale
-- is their spec.replicas and that this policy caches (a ReplicaSet whose Deployment is gone
-- lands here, as in kube); kinds known to have no /scale fail as in kube; others fail too
-- (kube would try a /scale read, which a policy cannot do).
local SCALE_RESOURCES = {
    ["/ReplicationController"] = M.REPLICATIONCONTROLLERS,
    ["apps/ReplicaSet"] = M.REPLICASETS, ["extensions/ReplicaSet"] = M.REPLICASETS,
    ["apps/Deployment"] = M.DEPLOYMENTS, ["extensions/Deployment"] = M.DEPLOYMENTS,
    ["apps/StatefulSet"] = M.STATEFULSETS,     -- kube's getPodStatefulSet finds it the same way
}

local function find_scale(ctx, ref, ns, pod_name)
    local g = group_of(ref.apiVersion)
    local key = tostring(g) .. "/" .. tostring(ref.kind)
    local res = SCALE_RESOURCES[key]
    if res then
        local obj = get(ctx, res, ns, ref.name)
        if obj == nil or C.uid(obj) ~= ref.uid then
            return nil
        end
        return { uid = C.uid(obj), scale = replicas(obj) }
    end
    if NO_SCALE[key] then
        return nil, string_format("%s does not implement the scale subresource (controller of pod %q)",
                                  NO_SCALE[key], pod_name)
    end
    return nil, string_format("found no controllers for pod %q: the scale of kind %q in version %q cannot be read",
                              pod_name, tostring(ref.kind), tostring(ref.apiVersion))
end

local FINDERS = { find_rc, find_deployment, find_rs }

-- getExpectedScale over pods (sorted by name): the sum of the scales of their distinct
-- controllers, and the names of the pods without a controller; or nil, nil, err.
function M.expected_scale(ctx, pods, ns)
    local scales, unmanaged = {}, {}
    for _, pod in ipairs(pods) do
        local ref = C.controller_ref(pod)
        if ref == nil then
            unmanaged[#unmanaged + 1] = C.name(pod)
        elseif scales[ref.uid] == nil then
            local found, err
            for _, finder in ipairs(FINDERS) do
                found, err = finder(ctx, ref, ns)
                if found or err then
                    break
                end
            end
            if not found and not err then
                found, err = find_scale(ctx, ref, ns, C.name(pod))
            end
            if err then
                return nil, nil, err
            end
            if not found then
                return nil, nil, string_format("found no controllers for pod %q", C.name(pod))
            end
            scales[found.uid] = found.scale
        end
    end
    local total = 0
    for _, n in pairs(scales) do
        total = total + n
    end
    return total, unmanaged
end

-- getExpectedPodCount: expected, desired, unmanaged pod names; or nil, nil, nil, err.
function M.expected_count(ctx, spec, pods, ns)
    local max_u, min_a = spec.maxUnavailable, spec.minAvailable
    if present(max_u) then
        local expected, unmanaged, err = M.expected_scale(ctx, pods, ns)
        if err then
            return nil, nil, nil, err
        end
        local n
        n, err = M.scaled_value(max_u, expected)
        if n == nil then
            return nil, nil, nil, err
        end
        local desired = expected - n
        if desired < 0 then
            desired = 0
        end
        return expected, desired, unmanaged
    elseif type(min_a) == "number" then
        return #pods, math_floor(min_a), {}
    elseif type(min_a) == "string" then
        local expected, unmanaged, err = M.expected_scale(ctx, pods, ns)
        if err then
            return nil, nil, nil, err
        end
        local n
        n, err = M.scaled_value(min_a, expected)
        if n == nil then
            return nil, nil, nil, err
        end
        return expected, n, unmanaged
    end
    return 0, 0, {}          -- neither: policy/v1 has no default
end

---------------------------------------------------------------------------------------------
-- disruptedPods and health
---------------------------------------------------------------------------------------------

-- buildDisruptedPodMap: the entries of the current map whose pod is selected, not
-- terminating and not expired (kept with their original value); and the earliest unix time
-- one of them expires, or nil.
function M.disrupted_pods(pods, current, now)
    local out, recheck = {}, nil
    if type(current) ~= "table" then
        return out, nil
    end
    for _, pod in ipairs(pods) do
        local name = C.name(pod)
        local v = current[name]
        if v ~= nil and not C.is_deleting(pod) then
            local t = C.time(v) or 0            -- unreadable: as Go's zero time, expired
            local expires = t + M.DELETION_TIMEOUT
            if not (expires < now) then
                out[name] = v
                if recheck == nil or expires < recheck then
                    recheck = expires
                end
            end
        end
    end
    return out, recheck
end

-- countHealthyPods: not terminating, not disrupted within the timeout, Ready.
function M.count_healthy(pods, disrupted, now)
    local n = 0
    for _, pod in ipairs(pods) do
        if not C.is_deleting(pod) then
            local v = disrupted[C.name(pod)]
            local recent = v ~= nil and ((C.time(v) or 0) + M.DELETION_TIMEOUT > now)
            if not recent and C.pod_ready(pod) then
                n = n + 1
            end
        end
    end
    return n
end

---------------------------------------------------------------------------------------------
-- Conditions (metav1.Condition, apimachinery's meta.SetStatusCondition)
---------------------------------------------------------------------------------------------

-- conds (an existing list, not modified) with cond set as meta.SetStatusCondition does: a new
-- type is appended with lastTransitionTime now; an existing one keeps its place and its
-- lastTransitionTime unless the status changes; reason, message and observedGeneration are
-- always the new ones. cond: {type, status, reason, message, observedGeneration}.
function M.set_status_condition(conds, cond, now)
    local out, found = {}, false
    for _, c in ipairs(conds or C.EMPTY) do
        if type(c) == "table" and c.type == cond.type and not found then
            found = true
            local n = C.copy(c)
            if n.status ~= cond.status then
                n.status = cond.status
                n.lastTransitionTime = C.rfc3339(now)
            end
            n.reason = cond.reason
            n.message = cond.message or ""
            n.observedGeneration = cond.observedGeneration
            out[#out + 1] = n
        else
            out[#out + 1] = C.copy(c)
        end
    end
    if not found then
        out[#out + 1] = {
            type = cond.type, status = cond.status, reason = cond.reason,
            message = cond.message or "", observedGeneration = cond.observedGeneration,
            lastTransitionTime = C.rfc3339(now),
        }
    end
    return out
end

local function generation(n)
    if type(n) == "number" and n > 0 then
        return n
    end
    return nil                       -- omitempty
end

---------------------------------------------------------------------------------------------
-- sync
---------------------------------------------------------------------------------------------

-- kube's failSafe: the current status with disruptionsAllowed 0 and DisruptionAllowed
-- False/SyncFailed carrying the error.
local function fail_safe(pdb, err, now)
    local status = C.copy(C.tget(pdb, "status") or {})
    for _, k in ipairs({ "currentHealthy", "desiredHealthy", "expectedPods" }) do
        if type(status[k]) ~= "number" then
            status[k] = 0
        end
    end
    status.disruptionsAllowed = 0
    status.conditions = M.set_status_condition(C.tbl(status.conditions), {
        type = M.CONDITION, status = "False", reason = M.SYNC_FAILED, message = err,
        observedGeneration = generation(status.observedGeneration),
    }, now)
    return status
end

-- A result with status, and the events only when the status changes (see the header).
local function result(pdb, status, events, requeue)
    local r = { status = status, requeue_after = requeue }
    if #events > 0 and not same(status, C.tget(pdb, "status")) then
        r.events = events
    end
    return r
end

-- The selector's canonical string, for messages.
local function selector_string(sel)
    local s = selector.to_string(sel)
    if sel.nothing then
        return "<none>"
    end
    return s == "" and "<everything>" or s
end

-- One sync of PodDisruptionBudget pdb (children: none are declared).
function M.sync(pdb, _, ctx)
    local now = ctx.now or 0
    local spec = C.tget(pdb, "spec") or C.EMPTY
    local ns = C.namespace(pdb)
    local raw = C.tbl(spec.selector)
    local sel, serr
    if raw then
        -- JSON null inside the selector reads as absent.
        sel, serr = C.compile_selector({ matchLabels = C.tbl(raw.matchLabels),
                                         matchExpressions = C.tbl(raw.matchExpressions) }, "labelSelector")
    else
        sel = C.compile_selector(nil, "labelSelector")       -- null / absent: nothing
    end
    if serr then
        return result(pdb, fail_safe(pdb, serr, now),
            { C.event("Warning", "NoPods", "Failed to get pods: " .. serr) })
    end

    local pods = C.list(ctx, M.PODS, ns, sel)
    table_sort(pods, function(a, b) return C.name(a) < C.name(b) end)
    local events = {}
    if #pods == 0 then
        events[#events + 1] = C.event("Normal", "NoPods", "No matching pods found")
    end

    local expected, desired, unmanaged, err = M.expected_count(ctx, spec, pods, ns)
    if err then
        events[#events + 1] = C.event("Warning", "CalculateExpectedPodCountFailed",
            "Failed to calculate the number of expected pods: " .. err)
        return result(pdb, fail_safe(pdb, err, now), events)
    end
    if #unmanaged > 0 then
        events[#events + 1] = C.event("Warning", "UnmanagedPods", string_format(
            "Pods selected by this PodDisruptionBudget (selector: %s) have no controller: %s. " ..
            "The status cannot be computed correctly for them; set .spec.minAvailable to an " ..
            "integer to count them.", selector_string(sel), table_concat(unmanaged, ", ")))
    end

    local cur = C.tget(pdb, "status") or C.EMPTY
    local disrupted, recheck = M.disrupted_pods(pods, C.tbl(cur.disruptedPods), now)
    local healthy = M.count_healthy(pods, disrupted, now)
    local allowed = healthy - desired
    if expected <= 0 or allowed <= 0 then
        allowed = 0
    end

    local gen = generation(C.nget(pdb, "metadata.generation", 0))
    local status = {
        currentHealthy = healthy, desiredHealthy = desired, expectedPods = expected,
        disruptionsAllowed = allowed, observedGeneration = gen,
    }
    if next(disrupted) ~= nil then
        status.disruptedPods = disrupted
    end
    local cond = allowed > 0
        and { type = M.CONDITION, status = "True", reason = M.SUFFICIENT, message = "", observedGeneration = gen }
        or { type = M.CONDITION, status = "False", reason = M.INSUFFICIENT, message = "", observedGeneration = gen }
    status.conditions = M.set_status_condition(C.tbl(cur.conditions), cond, now)

    local requeue
    if recheck then
        requeue = math_floor(recheck - now) + 1     -- strictly after the expiry
    end
    return result(pdb, status, events, requeue)
end

return M
