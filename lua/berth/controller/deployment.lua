-- berth.controller.deployment: the Deployment controller (k8s.io/kubernetes/pkg/controller/
-- deployment: sync.go, rolling.go, recreate.go, progress.go, util/deployment_util.go) as one
-- declarative sync for policies/controllers/deployment.lua.
--
-- sync(deployment, children, ctx) follows syncDeployment: claim ReplicaSets (adopt orphans
-- matching the selector, release owned ones that stopped matching), then status only for a
-- deployment being deleted; Progressing=Unknown DeploymentPaused/DeploymentResumed; a paused
-- deployment or a scaling event (an active RS whose desired-replicas annotation differs from
-- spec.replicas) only scales, proportionally as kube's scale(); otherwise the Recreate or
-- RollingUpdate step. One kube sync issues several writes in sequence and returns early after
-- some; here every decision of one sync is computed on an in-memory view of the ReplicaSets
-- and returned as one result, so the writes that kube would issue in one pass are returned
-- together and the next sync continues from what the runtime then observes.
--
-- Differences from kube, all documented in docs/controllers.md:
--   * pod-template-hash is FNV-32a over a canonical serialization of the template (sorted
--     keys) plus the collisionCount, rendered as kube's SafeEncodeString; not kube's value.
--   * A collision (an object already has the new RS's name) is resolved in the same sync by
--     bumping status.collisionCount until the name is free (kube requeues once per bump).
--   * Template equality ignores the pod-template-hash label and reads absent, null, "", 0,
--     false and empty tables as equal (Go's typed DeepEqual sees zero values the same way).
--   * The existing new RS's annotation update and the deployment's revision annotation are
--     written in the same sync (kube updates the RS, then the deployment on the next sync).
--   * status.unavailableReplicas uses the RS sizes decided in this sync.
--   * No spec.rollbackTo (the deprecated annotation): kubectl 1.31 rolls back client-side.
-- Depends on berth.controller.common, berth.util. Tested by t/lua/test_ctrl_deployment.lua.

local C = require("berth.controller.common")
local selector = require("berth.selector")

local type, ipairs, pairs, next, tostring, tonumber = type, ipairs, pairs, next, tostring, tonumber
local math_min, math_max, math_floor, math_ceil = math.min, math.max, math.floor, math.ceil
local string_format, string_byte, string_sub, string_match =
      string.format, string.byte, string.sub, string.match
local table_sort, table_concat = table.sort, table.concat

local M = {}

M.RS = "apps/v1/replicasets"
M.PODS = "v1/pods"
M.REVISION = "deployment.kubernetes.io/revision"
M.REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
M.DESIRED = "deployment.kubernetes.io/desired-replicas"
M.MAX = "deployment.kubernetes.io/max-replicas"
M.HASH_LABEL = "pod-template-hash"
M.MAX_REV_HISTORY_CHARS = 2000
M.NO_DEADLINE = 2147483647       -- math.MaxInt32: "no progress deadline"

-- Deployment annotations not copied to its ReplicaSets (annotationsToSkip).
local SKIP_ANNOTATIONS = {
    ["kubectl.kubernetes.io/last-applied-configuration"] = true,
    [M.REVISION] = true, [M.REVISION_HISTORY] = true, [M.DESIRED] = true, [M.MAX] = true,
    ["deprecated.deployment.rollback.to"] = true,
}

-- Condition reasons and the messages kube writes (deployment/util).
local R = {
    NEW_RS = "NewReplicaSetCreated", FOUND_NEW_RS = "FoundNewReplicaSet",
    RS_UPDATED = "ReplicaSetUpdated", NEW_RS_AVAILABLE = "NewReplicaSetAvailable",
    TIMED_OUT = "ProgressDeadlineExceeded", PAUSED = "DeploymentPaused", RESUMED = "DeploymentResumed",
    MIN_AVAILABLE = "MinimumReplicasAvailable", MIN_UNAVAILABLE = "MinimumReplicasUnavailable",
}
M.REASONS = R

---------------------------------------------------------------------------------------------
-- pod-template-hash
---------------------------------------------------------------------------------------------

-- XOR of two nibbles, for FNV's xor step without the bit library (not in the sandbox).
local XOR4 = {}
for a = 0, 15 do
    for b = 0, 15 do
        local r, bit, x, y = 0, 1, a, b
        for _ = 1, 4 do
            if x % 2 ~= y % 2 then
                r = r + bit
            end
            x, y, bit = math_floor(x / 2), math_floor(y / 2), bit * 2
        end
        XOR4[a * 16 + b] = r
    end
end

local function xor8(a, b)
    local ah, al, bh, bl = math_floor(a / 16), a % 16, math_floor(b / 16), b % 16
    return XOR4[ah * 16 + bh] * 16 + XOR4[al * 16 + bl]
end

-- FNV-32a of the strings in parts (in order), as a number 0..2^32-1. The multiply by the
-- prime 16777619 = 2^24 + 403 is split so every intermediate stays exact in a double.
function M.fnv32a(parts)
    local h = 2166136261
    for _, s in ipairs(parts) do
        for i = 1, #s do
            local lo = h % 256
            h = h - lo + xor8(lo, string_byte(s, i))
            h = ((h % 256) * 16777216 + h * 403) % 4294967296
        end
    end
    return h
end

-- Canonical text of JSON-shaped data: map keys sorted, arrays in order, null as null.
local function serialize(v, out, depth)
    if depth > 100 then
        error("template nests too deep", 0)
    end
    local t = type(v)
    if t == "table" then
        local n = #v
        if n > 0 then
            out[#out + 1] = "["
            for i = 1, n do
                if i > 1 then out[#out + 1] = "," end
                serialize(v[i], out, depth + 1)
            end
            out[#out + 1] = "]"
        else
            local keys = {}
            for k in pairs(v) do
                keys[#keys + 1] = tostring(k)
            end
            table_sort(keys)
            out[#out + 1] = "{"
            for i, k in ipairs(keys) do
                if i > 1 then out[#out + 1] = "," end
                out[#out + 1] = string_format("%q:", k)
                serialize(v[k], out, depth + 1)
            end
            out[#out + 1] = "}"
        end
    elseif t == "string" then
        out[#out + 1] = string_format("%q", v)
    elseif t == "number" then
        if v == math_floor(v) and v > -2^53 and v < 2^53 then
            out[#out + 1] = string_format("%d", v)
        else
            out[#out + 1] = string_format("%.17g", v)
        end
    elseif t == "boolean" then
        out[#out + 1] = tostring(v)
    else
        out[#out + 1] = "null"
    end
end

-- rand.SafeEncodeString's alphabet: no vowels (no words) and no 0/1/3 (look like letters).
local ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"

-- kube's SafeEncodeString: each byte of s mapped into ALPHANUMS.
function M.safe_encode(s)
    local out = {}
    for i = 1, #s do
        local k = string_byte(s, i) % #ALPHANUMS + 1
        out[i] = string_sub(ALPHANUMS, k, k)
    end
    return table_concat(out)
end

-- The pod-template-hash of template with collision_count (nil or a number): FNV-32a over
-- the canonical serialization, then (as kube's ComputeHash) the count as 8 bytes, uint32
-- little-endian then zeros, and the decimal sum safe-encoded ("5d4f8c7b9").
function M.template_hash(template, collision_count)
    local out = {}
    serialize(template, out, 0)
    local parts = { table_concat(out) }
    if type(collision_count) == "number" then
        local c, bytes = collision_count % 4294967296, {}
        for i = 1, 4 do
            bytes[i] = string.char(c % 256)
            c = math_floor(c / 256)
        end
        parts[2] = table_concat(bytes) .. "\0\0\0\0"
    end
    return M.safe_encode(string_format("%d", M.fnv32a(parts)))
end

---------------------------------------------------------------------------------------------
-- Template equality (EqualIgnoreHash)
---------------------------------------------------------------------------------------------

-- Absent, JSON null (any non-JSON type: the core's light userdata), "", 0, false, {}.
local function zero(v)
    local t = type(v)
    if t ~= "table" and t ~= "string" and t ~= "number" and t ~= "boolean" then
        return true
    end
    return v == false or v == 0 or v == "" or (t == "table" and next(v) == nil)
end

local function sem_equal(a, b, depth)
    if zero(a) and zero(b) then
        return true
    end
    if type(a) ~= "table" or type(b) ~= "table" then
        return a == b
    end
    if depth > 100 then
        error("template nests too deep", 0)
    end
    for k, x in pairs(a) do
        if not sem_equal(x, b[k], depth + 1) then
            return false
        end
    end
    for k, y in pairs(b) do
        if a[k] == nil and not zero(y) then
            return false
        end
    end
    return true
end
M.semantic_equal = function(a, b) return sem_equal(a, b, 0) end

local function without_hash(t)
    if type(t) ~= "table" then
        return t
    end
    local md = C.tbl(t.metadata)
    if not (md and type(md.labels) == "table" and md.labels[M.HASH_LABEL] ~= nil) then
        return t
    end
    local labels = C.copy_map(md.labels)
    labels[M.HASH_LABEL] = nil
    local md2 = C.copy_map(md)
    md2.labels = labels
    local t2 = C.copy_map(t)
    t2.metadata = md2
    return t2
end

-- EqualIgnoreHash: templates equal once the pod-template-hash label is removed from both.
function M.template_equal(a, b)
    return sem_equal(without_hash(a), without_hash(b), 0)
end

---------------------------------------------------------------------------------------------
-- The deployment's spec, defaulted as the API server does
---------------------------------------------------------------------------------------------

-- intstr.GetScaledValueFromIntOrPercent: an int, or "N%" of total rounded up or down.
-- Anything else reads as 0 (validation rejects it).
function M.scaled_value(v, total, round_up)
    if type(v) == "number" then
        return v
    end
    if type(v) == "string" then
        local p = string_match(v, "^(%d+)%%$")
        if p then
            local x = tonumber(p) * total / 100
            return round_up and math_ceil(x) or math_floor(x)
        end
        local n = C.parse_int(v)
        if n then
            return n
        end
    end
    return 0
end

local function dspec(d)
    local spec = C.tget(d, "spec") or C.EMPTY
    local strategy = C.tbl(spec.strategy) or C.EMPTY
    local ru = C.tbl(strategy.rollingUpdate) or C.EMPTY
    local surge, unavail = ru.maxSurge, ru.maxUnavailable
    if type(surge) ~= "number" and type(surge) ~= "string" then surge = "25%" end
    if type(unavail) ~= "number" and type(unavail) ~= "string" then unavail = "25%" end
    return {
        replicas = C.num(spec.replicas, 1),
        type = C.str(strategy.type) or "RollingUpdate",
        max_surge = surge,
        max_unavailable = unavail,
        paused = spec.paused == true,
        min_ready = C.num(spec.minReadySeconds, 0),
        deadline = C.num(spec.progressDeadlineSeconds, 600),
        history = C.num(spec.revisionHistoryLimit, 10),
        template = C.tbl(spec.template) or {},
        selector = spec.selector,
    }
end
M.spec = dspec

local function is_rolling(ds)
    return ds.type == "RollingUpdate"
end

-- ResolveFenceposts: surge rounds up, unavailable down; both 0 -> unavailable 1.
function M.fenceposts(ds)
    local surge = M.scaled_value(ds.max_surge, ds.replicas, true)
    local unavail = M.scaled_value(ds.max_unavailable, ds.replicas, false)
    if surge == 0 and unavail == 0 then
        unavail = 1
    end
    return surge, unavail
end

function M.max_surge(ds)
    if not is_rolling(ds) then
        return 0
    end
    return (M.fenceposts(ds))
end

function M.max_unavailable(ds)
    if not is_rolling(ds) or ds.replicas == 0 then
        return 0
    end
    local _, u = M.fenceposts(ds)
    return math_min(u, ds.replicas)
end

local function has_deadline(ds)
    return ds.deadline ~= M.NO_DEADLINE
end

---------------------------------------------------------------------------------------------
-- ReplicaSet views: what one sync decides, before it becomes result entries
---------------------------------------------------------------------------------------------

local function view(rs)
    local spec = C.tget(rs, "spec") or C.EMPTY
    local st = C.tget(rs, "status") or C.EMPTY
    local r = C.num(spec.replicas, 1)
    local mr = C.num(spec.minReadySeconds, 0)
    return {
        obj = rs, name = C.name(rs), uid = C.uid(rs),
        created = C.time(C.sget(rs, "metadata.creationTimestamp")) or 0,
        replicas = r, orig_replicas = r, min_ready = mr, orig_min_ready = mr,
        ann = C.copy_map(C.annotations(rs)), ann_changed = false,
        status_replicas = C.num(st.replicas, 0), ready = C.num(st.readyReplicas, 0),
        available = C.num(st.availableReplicas, 0),
        generation = C.nget(rs, "metadata.generation", 0), observed = C.num(st.observedGeneration, 0),
        deleting = C.is_deleting(rs),
        template = C.tget(spec, "template"),
        conditions = C.tget(st, "conditions"),
    }
end

local function set_ann(v, k, val)
    if v.ann[k] ~= val then
        v.ann[k] = val
        v.ann_changed = true
        return true
    end
    return false
end

local function revision(v)
    return C.parse_int(v.ann[M.REVISION]) or 0
end

-- ReplicaSetsByCreationTimestamp: older first, then by name.
local function by_creation(a, b)
    if a.created ~= b.created then
        return a.created < b.created
    end
    return a.name < b.name
end

local function sorted(list, less)
    local out = {}
    for i, v in ipairs(list) do
        out[i] = v
    end
    table_sort(out, less)
    return out
end

local function active(list)
    local out = {}
    for _, v in ipairs(list) do
        if v and v.replicas > 0 then
            out[#out + 1] = v
        end
    end
    return out
end

local function sum(list, field)
    local n = 0
    for _, v in ipairs(list) do
        n = n + v[field]
    end
    return n
end

-- The available pods the scale-down budget may count: each ReplicaSet's at most its
-- replicas. A status read right after a scale-down still counts the pods being deleted;
-- counted, they let the next sync scale down again, below minAvailable (kube's
-- GetAvailableReplicaCountForReplicaSets sums the statuses as they are).
local function sum_available(list)
    local n = 0
    for _, v in ipairs(list) do
        n = n + math_min(v.available, v.replicas)
    end
    return n
end

---------------------------------------------------------------------------------------------
-- One sync's state
---------------------------------------------------------------------------------------------

local S_mt = {}
S_mt.__index = S_mt

local function fmt_int(n)
    return string_format("%d", n)
end

function S_mt:event(etype, reason, msg, child)
    self.events[#self.events + 1] = C.event(etype, reason, msg, child and { resource = M.RS, name = child } or nil)
end

function S_mt:cond(t)
    return C.get_condition(self.conds, t)
end

function S_mt:set_cond(t, status, reason, msg)
    self.conds = C.set_condition(self.conds, C.new_condition(t, status, reason, msg, self.now))
end

function S_mt:set_revision(rev)
    if rev ~= nil and C.annotations(self.d)[M.REVISION] ~= rev then
        self.revision = rev
    end
end

-- SetReplicasAnnotations.
function S_mt:set_replicas_annotations(v)
    local d = fmt_int(self.ds.replicas)
    local m = fmt_int(self.ds.replicas + M.max_surge(self.ds))
    local a = set_ann(v, M.DESIRED, d)
    local b = set_ann(v, M.MAX, m)
    return a or b
end

-- scaleReplicaSet: size and replicas annotations; a ScalingReplicaSet event when the size
-- changes. Returns true when the size changed.
function S_mt:scale(v, n, op)
    local size = v.replicas ~= n
    local d = fmt_int(self.ds.replicas)
    local m = fmt_int(self.ds.replicas + M.max_surge(self.ds))
    if size or v.ann[M.DESIRED] ~= d or v.ann[M.MAX] ~= m then
        local old = v.replicas
        v.replicas = n
        self:set_replicas_annotations(v)
        if size then
            self:event("Normal", "ScalingReplicaSet",
                string_format("Scaled %s replica set %s to %d from %d", op, v.name, n, old), v.name)
            return true
        end
    end
    return false
end

-- scaleReplicaSetAndRecordEvent.
function S_mt:scale_and_record(v, n)
    if v.replicas == n then
        return false
    end
    return self:scale(v, n, v.replicas < n and "up" or "down")
end

-- SetNewReplicaSetAnnotations. exists: false while creating the RS.
function S_mt:set_new_rs_annotations(v, new_rev, exists)
    local changed = false
    for k, val in pairs(C.annotations(self.d)) do
        if not SKIP_ANNOTATIONS[k] and type(val) == "string" and set_ann(v, k, val) then
            changed = true
        end
    end
    local old = v.ann[M.REVISION]
    local old_int = C.parse_int(old)
    if old_int == nil then
        if old ~= nil and old ~= "" then
            return changed       -- not an int: kube leaves the revision alone
        end
        old_int = 0
    end
    if old_int < new_rev then
        set_ann(v, M.REVISION, fmt_int(new_rev))
        changed = true
        if old ~= nil then
            -- Rolling back to this RS: remember the revisions it had.
            local hist = v.ann[M.REVISION_HISTORY] or ""
            if hist == "" then
                set_ann(v, M.REVISION_HISTORY, old)
            else
                local revs = {}
                for r in (hist .. ","):gmatch("([^,]*),") do
                    revs[#revs + 1] = r
                end
                local total, start = #hist + #old + 1, 1
                while total > M.MAX_REV_HISTORY_CHARS and start <= #revs do
                    total = total - #revs[start] - 1
                    start = start + 1
                end
                if total <= M.MAX_REV_HISTORY_CHARS then
                    local keep = {}
                    for i = start, #revs do
                        keep[#keep + 1] = revs[i]
                    end
                    keep[#keep + 1] = old
                    set_ann(v, M.REVISION_HISTORY, table_concat(keep, ","))
                end
            end
        end
    end
    if not exists and self:set_replicas_annotations(v) then
        changed = true
    end
    return changed
end

---------------------------------------------------------------------------------------------
-- New and old ReplicaSets (getAllReplicaSetsAndSyncRevision, getNewReplicaSet)
---------------------------------------------------------------------------------------------

-- Splits the views into the new RS (the oldest whose template equals the deployment's) and
-- the old ones, and syncs the new one's annotations, minReadySeconds and the deployment's
-- revision.
function S_mt:find_new()
    local all = sorted(self.views, by_creation)
    self.new, self.old = nil, {}
    for _, v in ipairs(all) do
        if self.new == nil and v.template and M.template_equal(v.template, self.ds.template) then
            self.new = v
        else
            self.old[#self.old + 1] = v
        end
    end
    local max_old = 0
    for _, v in ipairs(self.old) do
        max_old = math_max(max_old, revision(v))
    end
    self.new_revision = max_old + 1
    local v = self.new
    if v then
        self:set_new_rs_annotations(v, self.new_revision, true)
        v.min_ready = self.ds.min_ready
        self:set_revision(v.ann[M.REVISION])
        if has_deadline(self.ds) and self:cond("Progressing") == nil then
            self:set_cond("Progressing", "True", R.FOUND_NEW_RS,
                string_format("Found new replica set %q", v.name))
        end
    end
end

function S_mt:all()
    local out = {}
    for _, v in ipairs(self.old) do
        out[#out + 1] = v
    end
    if self.new then
        out[#out + 1] = self.new
    end
    return out
end

-- NewRSNewReplicas: the new RS's size for this step.
function S_mt:new_rs_replicas(v)
    local ds = self.ds
    if is_rolling(ds) then
        local surge = M.scaled_value(ds.max_surge, ds.replicas, true)
        local current = sum(self:all(), "replicas")
        local max_total = ds.replicas + surge
        if current >= max_total then
            return v.replicas
        end
        local up = math_min(max_total - current, ds.replicas - v.replicas)
        return v.replicas + up
    end
    return ds.replicas
end

-- True when an object other than a matching RS of ours already has this name.
function S_mt:name_taken(name)
    for _, o in ipairs(self.owned_all) do
        if C.name(o) == name then
            return true
        end
    end
    if type(self.ctx.get) == "function" then
        return self.ctx.get(M.RS, C.namespace(self.d), name) ~= nil
    end
    return false
end

-- Creates the new RS (in the result) at its first size.
function S_mt:create_new()
    local ds, d = self.ds, self.d
    local cc = C.num(self.status.collisionCount)
    local hash, name
    for _ = 1, 20 do
        hash = M.template_hash(ds.template, cc)
        name = C.name(d) .. "-" .. hash
        if not self:name_taken(name) then
            break
        end
        cc = (cc or 0) + 1        -- a hash collision: kube bumps collisionCount and retries
        name = nil
    end
    self.status.collisionCount = cc
    if name == nil then
        self:event("Warning", "FailedCreate", "could not find a free name for the new replica set")
        return
    end
    local tpl = C.copy(ds.template)
    tpl.metadata = C.tbl(tpl.metadata) or {}
    tpl.metadata.labels = C.copy_map(tpl.metadata.labels)
    tpl.metadata.labels[M.HASH_LABEL] = hash
    local sel = C.copy(C.tbl(ds.selector) or {})
    sel.matchLabels = C.copy_map(sel.matchLabels)
    sel.matchLabels[M.HASH_LABEL] = hash
    local obj = {
        apiVersion = "apps/v1", kind = "ReplicaSet",
        metadata = { name = name, labels = C.copy_map(tpl.metadata.labels) },
        spec = { replicas = 0, minReadySeconds = ds.min_ready, selector = sel, template = tpl },
    }
    local v = view(obj)
    v.replicas, v.orig_replicas, v.creating = 0, 0, true
    self.new = v
    self.views[#self.views + 1] = v
    v.replicas = self:new_rs_replicas(v)
    self:set_new_rs_annotations(v, self.new_revision, false)
    if v.replicas > 0 then
        self:event("Normal", "ScalingReplicaSet",
            string_format("Scaled up replica set %s to %d", name, v.replicas), name)
    end
    self:set_revision(fmt_int(self.new_revision))
    if has_deadline(ds) then
        self:set_cond("Progressing", "True", R.NEW_RS, string_format("Created new replica set %q", name))
    end
end

---------------------------------------------------------------------------------------------
-- Scaling (sync.go scale, isScalingEvent), cleanup
---------------------------------------------------------------------------------------------

function S_mt:is_scaling_event()
    for _, v in ipairs(active(self:all())) do
        local desired = C.parse_int(v.ann[M.DESIRED])
        if desired ~= nil and desired ~= self.ds.replicas then
            return true
        end
    end
    return false
end

-- getReplicaSetFraction.
function S_mt:fraction(v)
    local ds = self.ds
    if ds.replicas == 0 then
        return -v.replicas
    end
    local dmax = ds.replicas + M.max_surge(ds)
    local before = C.parse_int(v.ann[M.MAX])
    if not before or before == 0 then
        before = C.nget(self.d, "status.replicas", 0)
        if before == 0 then
            return 0
        end
    end
    return C.round(v.replicas * dmax / before) - v.replicas
end

-- GetProportion.
function S_mt:proportion(v, to_add, added)
    if v.replicas == 0 or to_add == 0 or to_add == added then
        return 0
    end
    local f = self:fraction(v)
    local allowed = to_add - added
    if to_add > 0 then
        return math_min(f, allowed)
    end
    return math_max(f, allowed)
end

-- scale(): one active RS gets the whole size; a saturated new RS scales the old ones to 0;
-- otherwise (RollingUpdate) the difference to replicas+maxSurge is shared in proportion to
-- each RS's size, the leftover going to the largest.
function S_mt:scale_all()
    local ds, new, old = self.ds, self.new, self.old
    -- FindActiveOrLatest
    local act = active(self:all())
    local target
    if #act == 1 then
        target = act[1]
    elseif #act == 0 then
        if new then
            target = new
        elseif #old > 0 then
            target = sorted(old, function(a, b) return by_creation(b, a) end)[1]
        end
    end
    if #act <= 1 then
        if target and target.replicas ~= ds.replicas then
            self:scale_and_record(target, ds.replicas)
        end
        return
    end
    -- IsSaturated
    if new and new.replicas == ds.replicas and C.parse_int(new.ann[M.DESIRED]) == ds.replicas
       and new.available == ds.replicas then
        for _, v in ipairs(active(old)) do
            self:scale_and_record(v, 0)
        end
        return
    end
    if not is_rolling(ds) then
        return
    end
    local total = sum(act, "replicas")
    local allowed = 0
    if ds.replicas > 0 then
        allowed = ds.replicas + M.max_surge(ds)
    end
    local to_add = allowed - total
    local op = ""
    if to_add > 0 then
        -- ReplicaSetsBySizeNewer: bigger first, then newer first
        table_sort(act, function(a, b)
            if a.replicas ~= b.replicas then return a.replicas > b.replicas end
            return by_creation(b, a)
        end)
        op = "up"
    elseif to_add < 0 then
        -- ReplicaSetsBySizeOlder: bigger first, then older first
        table_sort(act, function(a, b)
            if a.replicas ~= b.replicas then return a.replicas > b.replicas end
            return by_creation(a, b)
        end)
        op = "down"
    end
    local added, size = 0, {}
    for i, v in ipairs(act) do
        if to_add ~= 0 then
            local p = self:proportion(v, to_add, added)
            size[i] = v.replicas + p
            added = added + p
        else
            size[i] = v.replicas
        end
    end
    for i, v in ipairs(act) do
        if i == 1 and to_add ~= 0 then
            size[i] = math_max(0, size[i] + to_add - added)
        end
        self:scale(v, size[i], op)
    end
end

-- cleanupDeployment: beyond revisionHistoryLimit, delete the oldest-revision old RSes that
-- are fully scaled down and observed so.
function S_mt:cleanup()
    local alive = {}
    for _, v in ipairs(self.old) do
        if not v.deleting then
            alive[#alive + 1] = v
        end
    end
    local diff = #alive - self.ds.history
    if diff <= 0 then
        return
    end
    table_sort(alive, function(a, b)
        local ra, rb = revision(a), revision(b)
        if ra ~= rb then return ra < rb end
        return by_creation(a, b)
    end)
    for i = 1, diff do
        local v = alive[i]
        if v.status_replicas == 0 and v.replicas == 0 and v.orig_replicas == 0
           and v.generation <= v.observed and not v.deleting then
            v.pruned = true
        end
    end
end

---------------------------------------------------------------------------------------------
-- Status (calculateStatus, syncRolloutStatus, progress.go)
---------------------------------------------------------------------------------------------

local function put(t, k, n)
    if n ~= 0 then
        t[k] = n
    end
end

function S_mt:calculate_status()
    local all = self:all()
    local available = sum(all, "available")
    local unavailable = math_max(0, sum(all, "replicas") - available)
    local st = {}
    put(st, "observedGeneration", C.nget(self.d, "metadata.generation", 0))
    put(st, "replicas", sum(all, "status_replicas"))
    put(st, "updatedReplicas", self.new and self.new.status_replicas or 0)
    put(st, "readyReplicas", sum(all, "ready"))
    put(st, "availableReplicas", available)
    put(st, "unavailableReplicas", unavailable)
    st.collisionCount = self.status.collisionCount
    local conds = self.conds
    if available >= self.ds.replicas - M.max_unavailable(self.ds) then
        conds = C.set_condition(conds, C.new_condition("Available", "True", R.MIN_AVAILABLE,
            "Deployment has minimum availability.", self.now))
    else
        conds = C.set_condition(conds, C.new_condition("Available", "False", R.MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.", self.now))
    end
    st.conditions = conds
    return st
end

local function n0(st, k)
    return C.num(st[k], 0)
end

-- DeploymentComplete.
function S_mt:complete(st)
    local r = self.ds.replicas
    return n0(st, "updatedReplicas") == r and n0(st, "replicas") == r and n0(st, "availableReplicas") == r
        and n0(st, "observedGeneration") >= C.nget(self.d, "metadata.generation", 0)
end

-- DeploymentProgressing: more updated, fewer old, more ready or more available replicas.
function S_mt:progressing(st)
    local old = self.status
    return n0(st, "updatedReplicas") > n0(old, "updatedReplicas")
        or (n0(st, "replicas") - n0(st, "updatedReplicas")) < (n0(old, "replicas") - n0(old, "updatedReplicas"))
        or n0(st, "readyReplicas") > n0(old, "readyReplicas")
        or n0(st, "availableReplicas") > n0(old, "availableReplicas")
end

-- DeploymentTimedOut.
function S_mt:timed_out(st)
    local c = C.get_condition(st.conditions, "Progressing")
    if c == nil or c.reason == R.NEW_RS_AVAILABLE then
        return false
    end
    if c.reason == R.TIMED_OUT then
        return true
    end
    local from = C.time(c.lastUpdateTime)
    return from ~= nil and from + self.ds.deadline < self.now
end

-- syncRolloutStatus: the status with the Progressing condition advanced, and when the
-- rollout is neither complete nor timed out, requeue_after for the deadline check
-- (requeueStuckDeployment, from the new status' Progressing lastUpdateTime).
function S_mt:rollout_status()
    local ds = self.ds
    local st = self:calculate_status()
    if not has_deadline(ds) then
        st.conditions = C.remove_condition(st.conditions, "Progressing")
    end
    local cur = self:cond("Progressing")
    local is_complete = n0(st, "replicas") == n0(st, "updatedReplicas") and cur ~= nil
        and cur.reason == R.NEW_RS_AVAILABLE
    if has_deadline(ds) and not is_complete then
        local rsname = self.new and self.new.name
        if self:complete(st) then
            local msg = rsname and string_format("ReplicaSet %q has successfully progressed.", rsname)
                or string_format("Deployment %q has successfully progressed.", C.name(self.d))
            st.conditions = C.set_condition(st.conditions,
                C.new_condition("Progressing", "True", R.NEW_RS_AVAILABLE, msg, self.now))
        elseif self:progressing(st) then
            local msg = rsname and string_format("ReplicaSet %q is progressing.", rsname)
                or string_format("Deployment %q is progressing.", C.name(self.d))
            local c = C.new_condition("Progressing", "True", R.RS_UPDATED, msg, self.now)
            if cur then
                if cur.status == "True" then
                    c.lastTransitionTime = cur.lastTransitionTime
                end
                st.conditions = C.remove_condition(st.conditions, "Progressing")
            end
            st.conditions = C.set_condition(st.conditions, c)
        elseif self:timed_out(st) then
            local msg = rsname and string_format("ReplicaSet %q has timed out progressing.", rsname)
                or string_format("Deployment %q has timed out progressing.", C.name(self.d))
            st.conditions = C.set_condition(st.conditions,
                C.new_condition("Progressing", "False", R.TIMED_OUT, msg, self.now))
        end
    end
    st.conditions = self:replica_failure(st.conditions)
    -- requeueStuckDeployment
    local c = C.get_condition(st.conditions, "Progressing")
    if has_deadline(ds) and c and not self:complete(st) and c.reason ~= R.TIMED_OUT
       and c.reason ~= R.NEW_RS_AVAILABLE and c.reason ~= R.PAUSED then
        local from = C.time(c.lastUpdateTime)
        if from then
            local after = from + ds.deadline - self.now
            self.requeue = after < 1 and 1 or math_floor(after) + 1
        end
    end
    return st
end

-- getReplicaFailures: a ReplicaFailure condition of the new RS, else of an old one, is
-- copied onto the deployment; none removes it.
function S_mt:replica_failure(conds)
    local list = {}
    if self.new then list[1] = self.new end
    for _, v in ipairs(self.old) do list[#list + 1] = v end
    for _, v in ipairs(list) do
        for _, c in ipairs(v.conditions or C.EMPTY) do
            if type(c) == "table" and c.type == "ReplicaFailure" and c.status == "True" then
                return C.set_condition(conds, {
                    type = "ReplicaFailure", status = c.status, reason = c.reason, message = c.message,
                    lastUpdateTime = c.lastTransitionTime, lastTransitionTime = c.lastTransitionTime,
                })
            end
        end
    end
    return C.remove_condition(conds, "ReplicaFailure")
end

---------------------------------------------------------------------------------------------
-- Strategies
---------------------------------------------------------------------------------------------

-- rolloutRolling (after find_new).
function S_mt:rolling()
    if not self.new then
        self:create_new()
    end
    local new = self.new
    if not new then
        return self:rollout_status()
    end
    local ds = self.ds
    -- reconcileNewReplicaSet
    if new.replicas ~= ds.replicas then
        local scaled
        if new.replicas > ds.replicas then
            scaled = self:scale_and_record(new, ds.replicas)
        else
            scaled = self:scale_and_record(new, self:new_rs_replicas(new))
        end
        if scaled then
            return self:rollout_status()
        end
    end
    -- reconcileOldReplicaSets
    local olds = active(self.old)
    if sum(olds, "replicas") > 0 then
        local all = self:all()
        local min_avail = ds.replicas - M.max_unavailable(ds)
        local max_down = sum(all, "replicas") - min_avail - math_max(new.replicas - new.available, 0)
        if max_down > 0 then
            local total = 0
            -- cleanupUnhealthyReplicas
            olds = sorted(olds, by_creation)
            for _, v in ipairs(olds) do
                if total >= max_down then break end
                if v.replicas > 0 and v.replicas > v.available then
                    local n = math_min(max_down - total, v.replicas - v.available)
                    self:scale_and_record(v, v.replicas - n)
                    total = total + n
                end
            end
            -- scaleDownOldReplicaSetsForRollingUpdate
            local avail = sum_available(all)
            if avail > min_avail then
                local target, done = avail - min_avail, 0
                for _, v in ipairs(olds) do
                    if done >= target then break end
                    if v.replicas ~= 0 then
                        local n = math_min(v.replicas, target - done)
                        self:scale_and_record(v, v.replicas - n)
                        done = done + n
                    end
                end
                total = total + done
            end
            if total > 0 then
                return self:rollout_status()
            end
        end
    end
    if self:complete(self.status) then
        self:cleanup()
    end
    return self:rollout_status()
end

-- oldPodsRunning: an old RS still reports pods, or (through ctx.list) a pod of an old RS
-- that is not Succeeded/Failed still exists, terminating or not.
function S_mt:old_pods_running()
    for _, v in ipairs(self.old) do
        if v.status_replicas > 0 then
            return true
        end
    end
    local old_uid = {}
    for _, v in ipairs(self.old) do
        old_uid[v.uid] = true
    end
    for _, pod in ipairs(C.list(self.ctx, M.PODS, C.namespace(self.d), self.sel)) do
        local ref = C.controller_ref(pod)
        if ref and old_uid[ref.uid] then
            local phase = C.sget(pod, "status.phase")
            if phase ~= "Succeeded" and phase ~= "Failed" then
                return true
            end
        end
    end
    return false
end

-- rolloutRecreate (after find_new): the new RS is created only once no old pod is left.
function S_mt:recreate()
    local scaled = false
    for _, v in ipairs(active(self.old)) do
        if self:scale_and_record(v, 0) then
            scaled = true
        end
    end
    if scaled or self:old_pods_running() then
        return self:rollout_status()
    end
    if not self.new then
        self:create_new()
    end
    if self.new then
        self:scale_and_record(self.new, self.ds.replicas)
    end
    if self:complete(self.status) then
        self:cleanup()
    end
    return self:rollout_status()
end

-- checkPausedConditions.
function S_mt:paused_conditions()
    if not has_deadline(self.ds) then
        return
    end
    local c = self:cond("Progressing")
    if c and c.reason == R.TIMED_OUT then
        return
    end
    local paused_cond = c ~= nil and c.reason == R.PAUSED
    if self.ds.paused and not paused_cond then
        self:set_cond("Progressing", "Unknown", R.PAUSED, "Deployment is paused")
    elseif not self.ds.paused and paused_cond then
        self:set_cond("Progressing", "Unknown", R.RESUMED, "Deployment is resumed")
    end
end

---------------------------------------------------------------------------------------------
-- Result
---------------------------------------------------------------------------------------------

-- The desired ReplicaSet list: pruned ones left out, the new one in full, changed ones as
-- their spec (replicas, minReadySeconds) and annotations, the rest by name.
function S_mt:children_list()
    local list = {}
    for _, v in ipairs(self.views) do
        if v.creating then
            local obj = v.obj
            obj.spec.replicas = v.replicas
            obj.metadata.annotations = v.ann
            list[#list + 1] = obj
        elseif not v.pruned then
            local e = { metadata = { name = v.name } }
            if v.ann_changed then
                e.metadata.annotations = v.ann
            end
            if v.replicas ~= v.orig_replicas or v.min_ready ~= v.orig_min_ready then
                local spec = C.copy(C.tget(v.obj, "spec") or {})
                spec.replicas = v.replicas
                if v.min_ready ~= v.orig_min_ready then
                    spec.minReadySeconds = v.min_ready
                end
                e.spec = spec
            end
            list[#list + 1] = e
        end
    end
    return list
end

function S_mt:result(status, with_children)
    local r = { status = status, requeue_after = self.requeue }
    if #self.events > 0 then
        r.events = self.events
    end
    if with_children then
        r.children = { [M.RS] = self:children_list() }
        if #self.adopt > 0 then r.adopt = { [M.RS] = self.adopt } end
        if #self.release > 0 then r.release = { [M.RS] = self.release } end
        if self.revision then
            r.parent_patch = { metadata = { annotations = { [M.REVISION] = self.revision } } }
        end
    end
    if status.conditions and #status.conditions == 0 then
        status.conditions = nil
    end
    return r
end

-- One sync of deployment d (see the header).
function M.sync(d, children, ctx)
    local ds = dspec(d)
    local status = C.copy(C.tget(d, "status") or {})
    local S = setmetatable({
        d = d, ds = ds, ctx = ctx, now = ctx.now, status = status,
        conds = C.tbl(status.conditions) or {}, events = {}, views = {},
        adopt = {}, release = {}, old = {},
    }, S_mt)
    local sel, err = C.compile_selector(ds.selector, "labelSelector")
    if err then
        return { events = { C.event("Warning", "InvalidSelector", "invalid selector: " .. err) } }
    end
    S.sel = sel
    if selector.is_empty(sel) then
        local st = C.copy(C.tget(d, "status") or {})
        st.observedGeneration = C.nget(d, "metadata.generation", 0)
        return {
            status = st,
            events = { C.event("Warning", "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.") },
        }
    end
    local owned = (children or C.EMPTY)[M.RS] or C.EMPTY
    S.owned_all = owned
    local orphans = type(ctx.orphans) == "table" and ctx.orphans[M.RS] or nil
    local claimed
    claimed, S.adopt, S.release = C.claim(d, owned, orphans, sel)
    for _, rs in ipairs(claimed) do
        S.views[#S.views + 1] = view(rs)
    end
    if orphans then
        -- an orphan's name is taken too (collision check), whether adopted or not
        local all = {}
        for _, o in ipairs(owned) do all[#all + 1] = o end
        for _, o in ipairs(orphans) do all[#all + 1] = o end
        S.owned_all = all
    end

    if C.is_deleting(d) then
        -- syncStatusOnly: no scaling, no annotation changes
        local all = sorted(S.views, by_creation)
        for _, v in ipairs(all) do
            if S.new == nil and v.template and M.template_equal(v.template, ds.template) then
                S.new = v
            else
                S.old[#S.old + 1] = v
            end
        end
        return S:result(S:calculate_status(), false)
    end

    S:paused_conditions()
    if ds.paused then
        S:find_new()
        S:scale_all()
        S:cleanup()
        return S:result(S:calculate_status(), true)
    end
    S:find_new()
    if S:is_scaling_event() then
        S:scale_all()
        return S:result(S:calculate_status(), true)
    end
    if ds.type == "Recreate" then
        return S:result(S:recreate(), true)
    end
    return S:result(S:rolling(), true)
end

return M
