-- berth.controller.history: ControllerRevision history shared by the DaemonSet and
-- StatefulSet controllers (k8s.io/kubernetes/pkg/controller/history/controller_history.go,
-- and the history parts of pkg/controller/daemon/update.go and statefulset/stateful_set_control.go).
--
-- A ControllerRevision snapshots a parent's pod template: `data` is the strategic-merge
-- patch kube stores ({spec = {template = ... with "$patch" = "replace"}}), `revision` an
-- increasing number, the label controller-revision-hash the template's hash, the name
-- "<parent>-<hash>". The functions here are pure: they take revisions (cached objects,
-- read-only) and return new tables or names; the controllers turn them into result entries.
--
-- The hash is berth.controller.deployment's template_hash (FNV-32a over a canonical
-- serialization, safe-encoded; not kube's value, see docs/controllers.md). Equality ignores
-- the hash label and reads absent/null/""/0/false/{} alike (the deployment's semantic_equal),
-- where kube compares the stored bytes: two revisions berth created from equal templates
-- always compare equal either way.
-- Depends on berth.controller.common, berth.controller.deployment. Tested by
-- t/lua/test_ctrl_history.lua.

local C = require("berth.controller.common")
local D = require("berth.controller.deployment")

local type, ipairs = type, ipairs
local string_sub = string.sub
local table_sort = table.sort

local H = {}

-- apps.ControllerRevisionHashLabelKey (= DefaultDaemonSetUniqueLabelKey, and the label the
-- StatefulSet controller puts on pods with the revision's name).
H.HASH_LABEL = "controller-revision-hash"

-- The default spec.revisionHistoryLimit of DaemonSets and StatefulSets.
H.DEFAULT_LIMIT = 10

-- ControllerRevisionName keeps the prefix at 223 characters so the name fits 253.
local MAX_PREFIX = 223

-- The hash of a pod template with collision_count (nil or a number), as kube's
-- controller.ComputeHash (here deployment.template_hash).
function H.hash(template, collision_count)
    return D.template_hash(template, collision_count)
end

-- ControllerRevisionName: "<prefix>-<hash>", the prefix cut to 223 characters.
function H.name(prefix, hash)
    if #prefix > MAX_PREFIX then
        prefix = string_sub(prefix, 1, MAX_PREFIX)
    end
    return prefix .. "-" .. hash
end

-- The patch kube stores as a DaemonSet's/StatefulSet's revision data (getPatch): the whole
-- template, marked "$patch": "replace" so applying it replaces rather than merges.
function H.data(parent)
    local tmpl = C.copy(C.tget(parent, "spec.template") or {})
    tmpl["$patch"] = "replace"
    return { spec = { template = tmpl } }
end

-- A new ControllerRevision for parent's current template (history.NewControllerRevision):
-- labels = the template's labels plus HASH_LABEL; the parent's annotations; name "<parent>-<hash>"; apiVersion and
-- kind set (the runtime cannot name the kind of "controllerrevisions" itself). The runtime
-- adds the namespace and the controller ownerReference. revision: a number; collision_count:
-- the parent's status.collisionCount (nil or a number).
function H.new_revision(parent, revision, collision_count)
    local hash = H.hash(C.tget(parent, "spec.template") or {}, collision_count)
    local labels = C.copy_map(C.tget(parent, "spec.template.metadata.labels"))
    labels[H.HASH_LABEL] = hash
    local meta = { name = H.name(C.name(parent), hash), labels = labels }
    -- The parent's annotations, as both kube controllers copy them (kubernetes.io/change-cause
    -- is what `kubectl rollout history` prints).
    local ann = C.annotations(parent)
    if next(ann) ~= nil then
        meta.annotations = C.copy_map(ann)
    end
    return {
        apiVersion = "apps/v1", kind = "ControllerRevision",
        metadata = meta, data = H.data(parent), revision = revision,
    }
end

local function rev_number(r)
    return C.num(r.revision, 0)
end

-- byRevision: revision, then creationTimestamp (older first), then name.
local function by_revision(a, b)
    local ra, rb = rev_number(a), rev_number(b)
    if ra ~= rb then
        return ra < rb
    end
    local ta = C.time(C.sget(a, "metadata.creationTimestamp")) or 0
    local tb = C.time(C.sget(b, "metadata.creationTimestamp")) or 0
    if ta ~= tb then
        return ta < tb
    end
    return C.name(a) < C.name(b)
end
H.less = by_revision

-- A new array of the revisions, oldest first (SortControllerRevisions).
function H.sorted(revisions)
    local out = {}
    for _, r in ipairs(revisions or C.EMPTY) do
        out[#out + 1] = r
    end
    table_sort(out, by_revision)
    return out
end

-- The data of a revision with HASH_LABEL removed from the template's labels (it is never
-- part of the template, but an old or hand-made revision might carry it).
local function comparable(data)
    local labels = C.tget(data, "spec.template.metadata.labels")
    if not (labels and labels[H.HASH_LABEL] ~= nil) then
        return data
    end
    local d = C.copy(data)
    d.spec.template.metadata.labels[H.HASH_LABEL] = nil
    return d
end

-- EqualRevision: equal data (semantically: absent, null and zero values alike), ignoring
-- the hash label. nil equals only nil.
function H.equal(a, b)
    if type(a) ~= "table" or type(b) ~= "table" then
        return a == b
    end
    return D.semantic_equal(comparable(a.data), comparable(b.data))
end

-- FindEqualRevisions: the revisions equal to rev, in the given order.
function H.find_equal(revisions, rev)
    local out = {}
    for _, r in ipairs(revisions or C.EMPTY) do
        if H.equal(r, rev) then
            out[#out + 1] = r
        end
    end
    return out
end

-- NextRevision: one more than the highest revision number, 1 when there is none.
function H.next_revision(revisions)
    local max = 0
    for _, r in ipairs(revisions or C.EMPTY) do
        if rev_number(r) > max then
            max = rev_number(r)
        end
    end
    return max + 1
end

-- The StatefulSet's truncateHistory: of the revisions whose name is not in live (a table
-- name -> true; the caller puts the current and update revisions and the pods' revisions
-- there), the oldest ones beyond limit (default 10). Returns their names, oldest first.
function H.truncate(revisions, live, limit)
    limit = limit or H.DEFAULT_LIMIT
    live = live or C.EMPTY
    local history = {}
    for _, r in ipairs(H.sorted(revisions)) do
        if not live[C.name(r)] then
            history[#history + 1] = r
        end
    end
    local out = {}
    for i = 1, #history - limit do
        out[i] = C.name(history[i])
    end
    return out
end

-- The DaemonSet's cleanupHistory: old (every revision but the current one) may hold limit
-- revisions, live or not; the surplus is taken from the non-live ones (live: name -> true),
-- oldest first. So live old revisions count against the limit, where H.truncate does not
-- count them. Returns names, oldest first.
function H.truncate_counting_live(old, live, limit)
    limit = limit or H.DEFAULT_LIMIT
    live = live or C.EMPTY
    local to_kill = #(old or C.EMPTY) - limit
    local out = {}
    if to_kill <= 0 then
        return out
    end
    for _, r in ipairs(H.sorted(old)) do
        if to_kill <= 0 then
            break
        end
        if not live[C.name(r)] then
            out[#out + 1] = C.name(r)
            to_kill = to_kill - 1
        end
    end
    return out
end

-- A revision's hash: its HASH_LABEL, else nil.
function H.revision_hash(r)
    local h = C.labels(r)[H.HASH_LABEL]
    return type(h) == "string" and h or nil
end

-- Names of the revisions whose hash label is in hashes (a table hash -> true).
function H.names_with_hashes(revisions, hashes)
    local out = {}
    for _, r in ipairs(revisions or C.EMPTY) do
        local h = H.revision_hash(r)
        if h and hashes[h] then
            out[C.name(r)] = true
        end
    end
    return out
end

return H
