-- berth.controller.common: helpers shared by the controller policies (policies/controllers/*.lua)
-- and their logic modules (berth.controller.replicas, .deployment, .endpoints).
--
-- Provides: readers that treat JSON null (the core's light userdata) and wrong types as
-- absent (str, num, tbl, bool), a deep copy that keeps the array metatable of the core's
-- JSON tables (so an empty array goes back as [] and not {}), RFC 3339 time in and out, the
-- pod predicates of k8s.io/kubernetes/pkg/api/v1/pod (ready, available, active), controller
-- ownerReferences, selectors of both shapes (metav1.LabelSelector and a plain map), status
-- conditions, and the ctx.list wrapper. The contract these serve is docs/controllers.md.
-- Depends on berth.util, berth.selector and berth.duration (all sandbox-safe).

local util = require("berth.util")
local selector = require("berth.selector")
local duration = require("berth.duration")

local type, pairs, ipairs, next, tonumber, getmetatable, setmetatable, error =
      type, pairs, ipairs, next, tonumber, getmetatable, setmetatable, error
local math_floor = math.floor
local os_date = os.date

local M = {}

-- kube's burstReplicas: at most this many creates (and deletes) per sync and resource.
M.BURST = 500

---------------------------------------------------------------------------------------------
-- Readers: JSON null (berth.null, a light userdata) and wrong types read as absent
---------------------------------------------------------------------------------------------

function M.str(v)
    return type(v) == "string" and v or nil
end

function M.num(v, default)
    if type(v) == "number" then
        return v
    end
    return default
end

function M.tbl(v)
    return type(v) == "table" and v or nil
end

function M.bool(v)
    return v == true
end

-- obj at path (util.get), as a table, else nil.
function M.tget(obj, path)
    local v = util.get(obj, path)
    return type(v) == "table" and v or nil
end

-- obj at path as a string, else nil.
function M.sget(obj, path)
    local v = util.get(obj, path)
    return type(v) == "string" and v or nil
end

-- obj at path as a number, else default.
function M.nget(obj, path, default)
    local v = util.get(obj, path)
    return type(v) == "number" and v or default
end

local EMPTY = setmetatable({}, { __newindex = function() error("read-only empty table", 2) end })
M.EMPTY = EMPTY

function M.name(obj)
    return M.sget(obj, "metadata.name") or ""
end

function M.namespace(obj)
    return M.sget(obj, "metadata.namespace") or ""
end

function M.uid(obj)
    return M.sget(obj, "metadata.uid") or ""
end

-- metadata.labels, or a shared empty table (never write to it).
function M.labels(obj)
    return M.tget(obj, "metadata.labels") or EMPTY
end

function M.annotations(obj)
    return M.tget(obj, "metadata.annotations") or EMPTY
end

function M.is_deleting(obj)
    return M.sget(obj, "metadata.deletionTimestamp") ~= nil
end

---------------------------------------------------------------------------------------------
-- Copies
---------------------------------------------------------------------------------------------

local function copy_rec(v, depth)
    if type(v) ~= "table" then
        return v
    end
    if depth > util.MAX_DEPTH then
        error("controller.copy: nesting deeper than " .. util.MAX_DEPTH, 0)
    end
    local out = {}
    for k, x in pairs(v) do
        out[k] = copy_rec(x, depth + 1)
    end
    -- The core marks JSON arrays with a shared metatable (engine/luajson.h); keeping it
    -- makes a copied [] go back as [] rather than {}.
    local mt = getmetatable(v)
    if type(mt) == "table" then
        setmetatable(out, mt)
    end
    return out
end

-- A deep copy of JSON-shaped data that keeps each table's metatable (the array marker).
-- Objects handed to a policy are shared with the runtime's cache: copy before changing.
function M.copy(v)
    return copy_rec(v, 1)
end

-- A shallow copy of a string map (labels, annotations); nil or null gives {}.
function M.copy_map(m)
    local out = {}
    if type(m) == "table" then
        for k, v in pairs(m) do
            out[k] = v
        end
    end
    return out
end

---------------------------------------------------------------------------------------------
-- Time
---------------------------------------------------------------------------------------------

-- Unix seconds of an RFC 3339 string, or nil (absent, null or malformed).
function M.time(s)
    if type(s) ~= "string" then
        return nil
    end
    return (duration.parse_time(s))
end

-- RFC 3339 (UTC, whole seconds) of unix seconds t, as metav1.Time marshals.
function M.rfc3339(t)
    return os_date("!%Y-%m-%dT%H:%M:%SZ", math_floor(t))
end

---------------------------------------------------------------------------------------------
-- Pods (k8s.io/kubernetes/pkg/api/v1/pod, pkg/controller/controller_utils.go)
---------------------------------------------------------------------------------------------

-- The pod's condition of type t, or nil.
function M.pod_condition(pod, t)
    for _, c in ipairs(M.tget(pod, "status.conditions") or EMPTY) do
        if type(c) == "table" and c.type == t then
            return c
        end
    end
    return nil
end

-- IsPodReady: the Ready condition is True.
function M.pod_ready(pod)
    local c = M.pod_condition(pod, "Ready")
    return c ~= nil and c.status == "True"
end

-- Unix time the pod became ready (its Ready condition's lastTransitionTime), or nil.
function M.pod_ready_time(pod)
    local c = M.pod_condition(pod, "Ready")
    if c == nil or c.status ~= "True" then
        return nil
    end
    return M.time(c.lastTransitionTime)
end

-- IsPodAvailable: ready, and ready for more than min_ready seconds (strictly: kube tests
-- lastTransitionTime + minReadySeconds before now). Returns available, and when the pod is
-- ready but not yet available, the seconds left until it will be (> 0).
function M.pod_available(pod, min_ready, now)
    if not M.pod_ready(pod) then
        return false
    end
    if not min_ready or min_ready <= 0 then
        return true
    end
    local t = M.pod_ready_time(pod)
    if t == nil then
        return false          -- a zero lastTransitionTime never counts as available
    end
    local left = t + min_ready - now
    if left < 0 then
        return true
    end
    return false, left
end

-- IsPodActive: not Succeeded, not Failed, not being deleted.
function M.pod_active(pod)
    local phase = M.sget(pod, "status.phase")
    return phase ~= "Succeeded" and phase ~= "Failed" and not M.is_deleting(pod)
end

---------------------------------------------------------------------------------------------
-- Owners and selectors
---------------------------------------------------------------------------------------------

-- The controller ownerReference (controller: true) of obj, or nil.
function M.controller_ref(obj)
    for _, r in ipairs(M.tget(obj, "metadata.ownerReferences") or EMPTY) do
        if type(r) == "table" and r.controller == true then
            return r
        end
    end
    return nil
end

-- Compiles a selector of the given shape: "labelSelector" (metav1.LabelSelector; nil or
-- null selects nothing, {} everything) or "map" (a Service/ReplicationController selector;
-- nil, null or {} selects nothing, as a map selector must not be empty). A selector that
-- does not compile selects nothing; the reason comes back second.
function M.compile_selector(sel, shape)
    if shape == "map" then
        if type(sel) ~= "table" or next(sel) == nil then
            return selector.nothing()
        end
        local s, err = selector.from_set(sel)
        if not s then
            return selector.nothing(), err
        end
        return s
    end
    if type(sel) ~= "table" then
        return selector.nothing()
    end
    local s, err = selector.from_label_selector(sel)
    if not s then
        return selector.nothing(), err
    end
    return s
end

function M.matches(sel, obj)
    return selector.matches(sel, M.labels(obj)) == true
end

-- Splits the runtime's children (owned by parent) and orphans into claimed (owned and
-- matching, plus adoptable orphans), the names to adopt and the names to release, as
-- kube's ControllerRefManager.ClaimObject: a parent being deleted neither adopts nor
-- releases; orphans being deleted are not adopted. opts (optional): filter(obj), a further
-- test an object must pass to be claimed or adopted (a StatefulSet's members);
-- keep_unmatched, owned objects that fail are left alone instead of released.
function M.claim(parent, owned, orphans, sel, opts)
    local claimed, adopt, release = {}, {}, {}
    local deleting = M.is_deleting(parent)
    local filter = opts and opts.filter
    local keep = opts and opts.keep_unmatched
    for _, o in ipairs(owned or EMPTY) do
        if M.matches(sel, o) and (not filter or filter(o)) then
            claimed[#claimed + 1] = o
        elseif not deleting and not keep then
            release[#release + 1] = M.name(o)
        end
    end
    if not deleting then
        local uid = M.uid(parent)
        for _, o in ipairs(orphans or EMPTY) do
            local ref = M.controller_ref(o)
            if (ref == nil or ref.uid == uid) and not M.is_deleting(o) and M.matches(sel, o) and
               (not filter or filter(o)) then
                claimed[#claimed + 1] = o
                adopt[#adopt + 1] = M.name(o)
            end
        end
    end
    return claimed, adopt, release
end

-- GetPodFromTemplate's metadata: the template's (metadata md) annotations, when it has
-- any, and finalizers, copied onto meta. Returns meta.
function M.copy_template_meta(md, meta)
    if type(md.annotations) == "table" and next(md.annotations) ~= nil then
        meta.annotations = M.copy_map(md.annotations)
    end
    if type(md.finalizers) == "table" and #md.finalizers > 0 then
        meta.finalizers = M.copy(md.finalizers)
    end
    return meta
end

-- Objects of resource in namespace matching sel (a compiled selector), read through
-- ctx.list. The runtime may pre-filter by the selector string; the result is filtered
-- again here, so a runtime that ignores it is still correct. Without ctx.list: {}.
function M.list(ctx, resource, namespace, sel)
    if type(ctx.list) ~= "function" then
        return {}
    end
    local s = selector.to_string(sel)
    local objs = ctx.list(resource, { namespace = namespace, selector = (not sel.nothing) and s or nil }) or EMPTY
    local out = {}
    if sel.nothing then
        return out
    end
    for _, o in ipairs(objs) do
        if M.matches(sel, o) then
            out[#out + 1] = o
        end
    end
    return out
end

---------------------------------------------------------------------------------------------
-- Conditions (the Deployment/ReplicaSet condition helpers of pkg/controller/deployment/util)
---------------------------------------------------------------------------------------------

-- The condition of type t in the list, and its index; nil when absent.
function M.get_condition(conds, t)
    for i, c in ipairs(conds or EMPTY) do
        if type(c) == "table" and c.type == t then
            return c, i
        end
    end
    return nil
end

-- conds without the condition of type t (a new list).
function M.remove_condition(conds, t)
    local out = {}
    for _, c in ipairs(conds or EMPTY) do
        if not (type(c) == "table" and c.type == t) then
            out[#out + 1] = c
        end
    end
    return out
end

-- SetDeploymentCondition: no change when a condition of that type has the same status and
-- reason; keeps lastTransitionTime when only the reason changes; otherwise the new one goes
-- last. Returns the new list.
function M.set_condition(conds, cond)
    local cur = M.get_condition(conds, cond.type)
    if cur and cur.status == cond.status and cur.reason == cond.reason then
        return conds
    end
    if cur and cur.status == cond.status then
        cond.lastTransitionTime = cur.lastTransitionTime
    end
    local out = M.remove_condition(conds, cond.type)
    out[#out + 1] = cond
    return out
end

-- A deployment-style condition stamped now.
function M.new_condition(t, status, reason, message, now)
    local ts = M.rfc3339(now)
    return {
        type = t, status = status, reason = reason, message = message,
        lastUpdateTime = ts, lastTransitionTime = ts,
    }
end

---------------------------------------------------------------------------------------------
-- Numbers
---------------------------------------------------------------------------------------------

-- math.Round: halves away from zero.
function M.round(x)
    if x >= 0 then
        return math_floor(x + 0.5)
    end
    return -math_floor(-x + 0.5)
end

-- Decimal integer string to number; nil when s is not one (strconv.ParseInt).
function M.parse_int(s)
    if type(s) ~= "string" or not s:match("^[+-]?%d+$") then
        return nil
    end
    return tonumber(s)
end

-- The JSON null the runtime gave in ctx.null (a value meaning "remove this key" in a
-- result, docs/controllers.md), or nil when the runtime gave none.
function M.null(ctx)
    return ctx and ctx.null
end

-- An event table; child (optional) is {resource=, name=}: the runtime records the event
-- only if its write of that child succeeded.
function M.event(etype, reason, message, child)
    return { type = etype, reason = reason, message = message, child = child }
end

return M
