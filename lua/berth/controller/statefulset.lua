-- berth.controller.statefulset: the StatefulSet controller (k8s.io/kubernetes/pkg/controller/
-- statefulset 1.31: stateful_set.go, stateful_set_control.go, stateful_set_utils.go) as one
-- declarative sync for policies/controllers/statefulset.lua.
--
-- sync(set, children, ctx) follows StatefulSetController.sync and UpdateStatefulSet:
--   1. claim: owned pods that match the selector and are members (named "<set>-<ordinal>")
--      are the set's, owned ones that are not are released; orphans that match and are
--      members are adopted. ControllerRevisions matching the selector are the history;
--      matching orphans are adopted.
--   2. revisions (getStatefulSetRevisions): the update revision is the one whose data equals
--      the current template (the newest one; an older equal one is rolled back to by raising
--      its revision number; none: a new "<set>-<hash>" is created, collisionCount bumped
--      while that name is held by a revision with other data). The current revision is
--      status.currentRevision's, else the update revision.
--   3. pods (updateStatefulSet): ordinals start .. start+replicas-1 are the replicas, other
--      members are condemned. Replicas are processed in increasing ordinal: a missing one is
--      created (at the current revision below the partition, else at the update revision),
--      a Failed/Succeeded one deleted (recreated once gone), a wrong identity label fixed;
--      with OrderedReady ("monotonic") the pass stops at the first create, deletion, or pod
--      that is terminating, not Running and Ready, or not yet available. Then condemned pods
--      go in decreasing ordinal, one at a time when monotonic. Then RollingUpdate deletes the
--      highest replica at or above the partition that is not at the update revision, waiting
--      for a non-healthy one first; OnDelete never deletes for an update.
--   4. status (updateStatus, completeRollingUpdate) and history truncation (truncateHistory).
-- kube issues the writes of one pass as it goes and returns at the first blocking point;
-- here the same pass is computed on the observed pods and its writes returned as one result,
-- and the next sync (after the runtime's expectations) continues from what it then sees.
--
-- Differences from kube (docs/controllers.md, "StatefulSet"):
--   * volumeClaimTemplates: berth has no persistent volumes; a set with them gets a Warning
--     event and nothing else.
--   * A member needs a canonical ordinal ("web-7", not "web-07"): kube reads "web-07" as
--     ordinal 7 and then fails to rename it forever.
--   * The revision hash is berth.controller.history's (FNV-32a of a canonical template, not
--     kube's value); a name collision is resolved within the sync (kube requeues per bump).
--   * Events are returned by the policy (kube's wording), so they name the set; failed
--     creates/deletes come from child_events with the API server's error.
--   * maxUnavailable is ignored (MaxUnavailableStatefulSet is alpha, off in 1.31).
-- Depends on berth.controller.common, berth.controller.history. Tested by
-- t/lua/test_ctrl_statefulset.lua.

local C = require("berth.controller.common")
local H = require("berth.controller.history")

local type, ipairs, next, tonumber = type, ipairs, next, tonumber
local math_floor, math_min = math.floor, math.min
local string_format, string_match = string.format, string.match
local table_sort = table.sort

local M = {}

M.PODS = "v1/pods"
M.REVISIONS = "apps/v1/controllerrevisions"
M.REVISION_LABEL = H.HASH_LABEL                           -- apps.StatefulSetRevisionLabel
M.POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"   -- apps.StatefulSetPodNameLabel
M.POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"        -- apps.PodIndexLabel (on in 1.31)
M.MAX_ORDINAL = 2147483647                                -- strconv.ParseInt(s, 10, 32)

-- The failed creates and deletes, with the API server's message (which names the pod); the
-- successful ones are the policy's own events (kube's recordPodEvent wording names the set,
-- which a child_events template cannot).
M.CHILD_EVENTS = {
    [M.PODS] = {
        create_failed = { type = "Warning", reason = "FailedCreate", message = "create Pod failed error: %s" },
        delete_failed = { type = "Warning", reason = "FailedDelete", message = "delete Pod failed error: %s" },
    },
}

local EMPTY = C.EMPTY

---------------------------------------------------------------------------------------------
-- Identity (stateful_set_utils.go)
---------------------------------------------------------------------------------------------

-- getParentNameAndOrdinal: "<parent>-<digits>" (the last dash) gives parent and ordinal; any
-- other name gives nil. Only canonical decimals ("7", not "07") within int32 count.
function M.parent_and_ordinal(name)
    if type(name) ~= "string" then
        return nil
    end
    local parent, digits = string_match(name, "^(.*)%-(%d+)$")
    if not parent then
        return nil
    end
    local n = tonumber(digits)
    if n == nil or n > M.MAX_ORDINAL or string_format("%d", n) ~= digits then
        return nil
    end
    return parent, n
end

-- getPodName
function M.pod_name(set, ordinal)
    return C.name(set) .. "-" .. string_format("%d", ordinal)
end

-- The pod's ordinal when it is a member of set (isMemberOf), else nil.
function M.member_ordinal(set, pod)
    local parent, ord = M.parent_and_ordinal(C.name(pod))
    if parent ~= nil and parent == C.name(set) then
        return ord
    end
    return nil
end

-- getPodRevision: the revision name in the pod's controller-revision-hash label, "" if none.
function M.pod_revision(pod)
    local r = C.labels(pod)[M.REVISION_LABEL]
    return type(r) == "string" and r or ""
end

-- isRunningAndReady
local function running_ready(pod)
    return C.sget(pod, "status.phase") == "Running" and C.pod_ready(pod)
end

-- isRunningAndAvailable: also ready for minReadySeconds; the seconds left come second.
local function running_available(pod, min_ready, now)
    if not running_ready(pod) then
        return false
    end
    return C.pod_available(pod, min_ready, now)
end

-- isHealthy: Running and Ready and not terminating.
local function healthy(pod)
    return running_ready(pod) and not C.is_deleting(pod)
end

local function finished(pod)
    local phase = C.sget(pod, "status.phase")
    return phase == "Failed" or phase == "Succeeded"
end

---------------------------------------------------------------------------------------------
-- Spec with the API server's defaults
---------------------------------------------------------------------------------------------

-- The fields the controller reads, defaulted as SetDefaults_StatefulSet would.
function M.spec(set)
    local spec = C.tget(set, "spec") or EMPTY
    local strategy = C.tget(spec, "updateStrategy") or EMPTY
    local stype = C.str(strategy.type) or "RollingUpdate"
    local partition = nil
    if stype == "RollingUpdate" then
        partition = C.nget(strategy, "rollingUpdate.partition", 0)
    end
    return {
        replicas = C.num(spec.replicas, 1),
        start = C.nget(spec, "ordinals.start", 0),
        parallel = spec.podManagementPolicy == "Parallel",
        strategy = stype,
        partition = partition,            -- nil for OnDelete
        min_ready = C.num(spec.minReadySeconds, 0),
        history_limit = C.num(spec.revisionHistoryLimit, H.DEFAULT_LIMIT),
        service = C.str(spec.serviceName) or "",
        template = C.tget(spec, "template") or EMPTY,
    }
end

---------------------------------------------------------------------------------------------
-- Pods from a revision (newVersionedStatefulSetPod)
---------------------------------------------------------------------------------------------

-- The pod template a revision stands for (ApplyRevision: its data's template replaces the
-- set's); a revision without one (hand-made) gives the set's template.
function M.revision_template(rev, set)
    return C.tget(rev, "data.spec.template") or C.tget(set, "spec.template") or EMPTY
end

-- newStatefulSetPod + setPodRevision: the template's labels, annotations, finalizers and spec,
-- named "<set>-<ordinal>", labelled with the revision's name, the pod name and the ordinal,
-- hostname = the pod's name, subdomain = spec.serviceName (initIdentity). The runtime adds the
-- namespace and the controller ownerReference.
function M.new_pod(set, template, ordinal, revision_name, service)
    local md = C.tget(template, "metadata") or EMPTY
    local name = M.pod_name(set, ordinal)
    local labels = C.copy_map(md.labels)
    labels[M.REVISION_LABEL] = revision_name
    labels[M.POD_NAME_LABEL] = name
    labels[M.POD_INDEX_LABEL] = string_format("%d", ordinal)
    local meta = C.copy_template_meta(md, { name = name, labels = labels })
    local spec = C.copy(C.tget(template, "spec") or {})
    spec.hostname = name
    if service ~= "" then
        spec.subdomain = service
    else
        spec.subdomain = nil
    end
    return { apiVersion = "v1", kind = "Pod", metadata = meta, spec = spec }
end

---------------------------------------------------------------------------------------------
-- Revisions (getStatefulSetRevisions)
---------------------------------------------------------------------------------------------

-- Returns current, update (revision objects; update may be a new table to create), the
-- collision count, and the revision entries to write (a create or a revision bump).
-- revs: the claimed revisions, sorted; taken(name): an object of that name that exists
-- (claimed or not), or nil.
local function revisions(set, revs, taken, may_write)
    local cc = C.nget(set, "status.collisionCount", 0)
    local n = #revs
    local candidate = H.new_revision(set, H.next_revision(revs), cc)
    local equal = H.find_equal(revs, candidate)
    local update
    local entries = {}
    if #equal > 0 and H.equal(revs[n], equal[#equal]) then
        update = revs[n]                     -- the newest revision is the template's
    elseif #equal > 0 then
        -- a rollback: the newest equal revision becomes the newest by number
        update = equal[#equal]
        if may_write then
            entries[1] = { metadata = { name = C.name(update) }, revision = candidate.revision }
        end
    else
        -- CreateControllerRevision: a name held with other data bumps collisionCount; a name
        -- held with the same data (not one of ours: not claimed) is taken as it is.
        for _ = 1, 100 do
            local other = taken(candidate.metadata.name)
            if other == nil then
                candidate.apiVersion, candidate.kind = "apps/v1", "ControllerRevision"
                update = candidate
                if may_write then
                    entries[1] = candidate
                end
                break
            end
            if H.equal(other, candidate) then
                update = other
                break
            end
            cc = cc + 1
            candidate = H.new_revision(set, candidate.revision, cc)
        end
        update = update or candidate
    end
    local current
    local want = C.sget(set, "status.currentRevision")
    for _, r in ipairs(revs) do
        if C.name(r) == want then
            current = r
            break
        end
    end
    return current or update, update, cc, entries
end

---------------------------------------------------------------------------------------------
-- Status (computeReplicaStatus, updateStatus, completeRollingUpdate)
---------------------------------------------------------------------------------------------

-- Counts over the existing pods; wait: seconds until the next Running and Ready pod becomes
-- available (nil when none waits).
local function count(pods, sp, current_name, update_name, now)
    local c = { replicas = 0, ready = 0, available = 0, current = 0, updated = 0 }
    local wait
    for _, pod in ipairs(pods) do
        c.replicas = c.replicas + 1          -- isCreated: every cached pod has a phase
        if running_ready(pod) then
            c.ready = c.ready + 1
            local ok, left = running_available(pod, sp.min_ready, now)
            if ok then
                c.available = c.available + 1
            elseif left then
                wait = wait and math_min(wait, left) or left
            end
        end
        if not C.is_deleting(pod) then
            local rev = M.pod_revision(pod)
            if rev == current_name then
                c.current = c.current + 1
            end
            if rev == update_name then
                c.updated = c.updated + 1
            end
        end
    end
    if wait then
        wait = math_floor(wait) + 1          -- whole-second timestamps, "strictly after"
    end
    return c, wait
end

-- The status object (apps/v1 StatefulSetStatus: replicas and availableReplicas are always
-- written, the other counts are omitempty; collisionCount always, as kube sets the pointer).
local function status_of(set, sp, c, current_name, update_name, cc)
    -- completeRollingUpdate
    if sp.strategy == "RollingUpdate" and c.updated == c.replicas and c.ready == c.replicas then
        c.current = c.updated
        current_name = update_name
    end
    local st = { replicas = c.replicas, availableReplicas = c.available, collisionCount = cc }
    local gen = C.nget(set, "metadata.generation")
    if gen then st.observedGeneration = gen end
    if c.ready > 0 then st.readyReplicas = c.ready end
    if c.current > 0 then st.currentReplicas = c.current end
    if c.updated > 0 then st.updatedReplicas = c.updated end
    if current_name ~= "" then st.currentRevision = current_name end
    if update_name ~= "" then st.updateRevision = update_name end
    local conds = C.tget(set, "status.conditions")
    if conds and #conds > 0 then
        st.conditions = C.copy(conds)
    end
    return st
end

---------------------------------------------------------------------------------------------
-- Sync
---------------------------------------------------------------------------------------------

local function pod_event(verb, pod_name, set_name)
    local reason = verb == "create" and "SuccessfulCreate" or verb == "delete" and "SuccessfulDelete"
                   or "SuccessfulUpdate"
    return C.event("Normal", reason, string_format("%s Pod %s in StatefulSet %s successful",
        verb, pod_name, set_name), { resource = M.PODS, name = pod_name })
end

function M.sync(set, children, ctx)
    local now = ctx.now
    local set_name, ns = C.name(set), C.namespace(set)
    local deleting = C.is_deleting(set)
    local vct = C.tget(set, "spec.volumeClaimTemplates")
    if vct and #vct > 0 then
        if deleting then
            return {}
        end
        return { events = { C.event("Warning", "VolumeClaimTemplatesNotSupported",
            "StatefulSet " .. set_name .. " has volumeClaimTemplates; berth has no persistent volumes, no pods are created") } }
    end
    local sel, sel_err = C.compile_selector(C.tget(set, "spec.selector"), "labelSelector")
    if sel_err then
        return { events = { C.event("Warning", "InvalidSelector", "invalid selector: " .. sel_err) } }
    end
    local sp = M.spec(set)
    children = children or EMPTY
    local orphans = type(ctx.orphans) == "table" and ctx.orphans or EMPTY

    -- 1. claims
    local pods, adopt_pods, release_pods = C.claim(set, children[M.PODS], orphans[M.PODS], sel,
        { filter = function(p) return M.member_ordinal(set, p) ~= nil end })
    local owned_revs = children[M.REVISIONS] or EMPTY
    -- revisions are adopted, never released (adoptOrphanRevisions)
    local revs, adopt_revs = C.claim(set, owned_revs, orphans[M.REVISIONS], sel, { keep_unmatched = true })
    revs = H.sorted(revs)

    -- 2. revisions
    local by_name = {}
    for _, r in ipairs(owned_revs) do by_name[C.name(r)] = r end
    for _, r in ipairs(orphans[M.REVISIONS] or EMPTY) do by_name[C.name(r)] = by_name[C.name(r)] or r end
    local function taken(name)
        local o = by_name[name]
        if o == nil and type(ctx.get) == "function" then
            o = ctx.get(M.REVISIONS, ns, name)
        end
        return o
    end
    local current, update, cc, rev_entries = revisions(set, revs, taken, not deleting)
    local current_name, update_name = C.name(current), C.name(update)

    -- 3. pods by ordinal
    local replicas, condemned = {}, {}
    local last = sp.start + sp.replicas - 1
    for _, p in ipairs(pods) do
        local ord = M.member_ordinal(set, p)
        if ord >= sp.start and ord <= last then
            replicas[ord] = p
        else
            condemned[#condemned + 1] = p
        end
    end
    table_sort(condemned, function(a, b) return M.member_ordinal(set, a) > M.member_ordinal(set, b) end)

    local c, wait = count(pods, sp, current_name, update_name, now)
    local result = { requeue_after = wait }
    if deleting then
        result.status = status_of(set, sp, c, current_name, update_name, cc)
        return result
    end

    local current_tpl = M.revision_template(current, set)
    local update_tpl = M.revision_template(update, set)
    local monotonic = not sp.parallel
    local entries, delete, deleted, events = {}, {}, {}, {}
    local creates, deletes = 0, 0
    local function del(pod)
        local n = C.name(pod)
        if not deleted[n] and deletes < C.BURST then
            deleted[n] = true
            deletes = deletes + 1
            delete[#delete + 1] = n
            events[#events + 1] = pod_event("delete", n, set_name)
        end
    end
    local function terminating(pod)
        return C.is_deleting(pod) or deleted[C.name(pod)] == true
    end

    -- processReplica, in increasing ordinal
    local blocked = false
    for ord = sp.start, last do
        local pod = replicas[ord]
        if pod == nil then
            if creates >= C.BURST then
                blocked = true
                break
            end
            local at_current = sp.partition ~= nil and ord < sp.start + sp.partition
            local new = M.new_pod(set, at_current and current_tpl or update_tpl, ord,
                at_current and current_name or update_name, sp.service)
            replicas[ord] = new
            entries[#entries + 1] = new
            creates = creates + 1
            events[#events + 1] = pod_event("create", new.metadata.name, set_name)
            if monotonic then
                blocked = true
                break
            end
        elseif finished(pod) then
            -- deleted, and created again by a later sync once it is gone
            if not C.is_deleting(pod) then
                del(pod)
            end
            if monotonic then
                blocked = true
                break
            end
        else
            if monotonic and (C.is_deleting(pod) or not running_available(pod, sp.min_ready, now)) then
                blocked = true            -- waiting for it to be Running and Ready (and available)
                break
            end
            -- identityMatches / updateIdentity
            local name = C.name(pod)
            if C.labels(pod)[M.POD_NAME_LABEL] ~= name and not C.is_deleting(pod) then
                entries[#entries + 1] = { metadata = { name = name, labels = {
                    [M.POD_NAME_LABEL] = name, [M.POD_INDEX_LABEL] = string_format("%d", ord) } } }
                events[#events + 1] = pod_event("update", name, set_name)
            end
        end
    end

    -- processCondemned, in decreasing ordinal
    if not blocked then
        local first_unhealthy
        for ord = sp.start, last do
            local p = replicas[ord]
            if p and not healthy(p) then     -- a pod built in this sync is not healthy
                first_unhealthy = p
                break
            end
        end
        if first_unhealthy == nil then
            -- kube walks the (descending) condemned list from its end: the lowest ordinal
            for i = #condemned, 1, -1 do
                if not healthy(condemned[i]) then
                    first_unhealthy = condemned[i]
                    break
                end
            end
        end
        for _, p in ipairs(condemned) do
            if C.is_deleting(p) then
                if monotonic then
                    blocked = true        -- waiting for it to terminate before the next
                    break
                end
            elseif monotonic and p ~= first_unhealthy and not running_available(p, sp.min_ready, now) then
                blocked = true            -- waiting for it to be Running and Ready
                break
            else
                del(p)
                if monotonic then
                    blocked = true
                    break
                end
            end
        end
    end

    -- RollingUpdate: the highest replica at or above the partition not at the update revision
    local current_fix = 0
    if not blocked and sp.strategy == "RollingUpdate" then
        for i = sp.replicas - 1, sp.partition, -1 do
            local p = replicas[sp.start + i]
            if p == nil then
                break                     -- beyond the burst: nothing was built for it
            end
            if M.pod_revision(p) ~= update_name and not terminating(p) then
                del(p)
                current_fix = 1           -- status.CurrentReplicas--
                break
            end
            if not healthy(p) or deleted[C.name(p)] then
                break                     -- waiting for it to update
            end
        end
    end

    c.current = c.current - current_fix
    result.status = status_of(set, sp, c, current_name, update_name, cc)

    -- history: every revision beyond the limit but the current, the update and the pods' ones
    local live = { [current_name] = true, [update_name] = true }
    for _, p in ipairs(pods) do
        live[M.pod_revision(p)] = true
    end
    local truncate = H.truncate(revs, live, sp.history_limit)

    result.children = {
        [M.PODS] = { rest = "keep", entries = entries, delete = delete },
        [M.REVISIONS] = { rest = "keep", entries = rev_entries, delete = truncate },
    }
    if #adopt_pods > 0 or #adopt_revs > 0 then
        result.adopt = { [M.PODS] = adopt_pods, [M.REVISIONS] = adopt_revs }
    end
    if #release_pods > 0 then
        result.release = { [M.PODS] = release_pods }
    end
    if #events > 0 then
        result.events = events
    end
    return result
end

return M
