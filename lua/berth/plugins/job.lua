-- berth.plugins.job: the batch/v1 Job controller (k8s.io/kubernetes/pkg/controller/job, as
-- in 1.31 with its default feature gates) as one declarative sync for the cronjob plugin
-- (plugins/cronjob/plugin.lua; contract: docs/controllers.md, format: docs/plugins.md).
--
-- Runs pods from spec.template to completion: up to spec.parallelism (default 1) at a time
-- until spec.completions (default 1; absent with parallelism set: work-queue semantics, done
-- when one pod succeeded and none is left running) pods have succeeded. Counts Failed pods
-- against spec.backoffLimit (default 6; with restartPolicy OnFailure, container restarts of
-- running pods too) and spec.activeDeadlineSeconds; recreates failed pods after kube's
-- exponential delay (10 s doubling, at most 10 min, counted from the last failure after the
-- last success); honours spec.suspend (active pods deleted, Suspended condition, Resumed
-- resets startTime). Finishing is two-step as in 1.31 (JobPodReplacementPolicy on): first
-- the interim condition (FailureTarget with reason BackoffLimitExceeded/DeadlineExceeded,
-- or SuccessCriteriaMet/CompletionsReached) and the deletion of active pods, then, once no
-- pod is running or terminating, Failed/Complete with the same reason (completionTime for
-- Complete) and the event (Completed "Job completed", or Warning <reason>).
--
-- Selector: kube's API server defaults spec.selector to the controller-uid label; berth's
-- does not default plugin kinds, so a Job without a selector simply owns the pods that
-- carry its ownerReference. Pods get the labels batch.kubernetes.io/controller-uid,
-- batch.kubernetes.io/job-name, controller-uid and job-name (kube adds them to the
-- template). Not done: completionMode Indexed (Warning UnsupportedCompletionMode, nothing
-- created), podFailurePolicy, successPolicy, backoffLimitPerIndex, the job-tracking
-- finalizer and uncountedTerminatedPods: succeeded/failed are counted from the pods that
-- exist and never go down (a finished pod deleted by hand is still counted; an active pod
-- deleted by hand is not counted as failed).
-- Depends on berth.controller.common and .replicas (deletion order). Tested by
-- t/lua/test_plugin_job.lua.

local C = require("berth.controller.common")
local replicas = require("berth.controller.replicas")
local util = require("berth.util")

local type, ipairs, pairs, next = type, ipairs, pairs, next
local math_min, math_max, math_floor = math.min, math.max, math.floor

local M = {}

M.PODS = "v1/pods"
M.BACKOFF_BASE = 10          -- DefaultJobPodFailureBackOff
M.BACKOFF_MAX = 600          -- MaxJobPodFailureBackOff

M.LABELS = { "batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name",
             "controller-uid", "job-name" }

M.CHILD_EVENTS = {
    [M.PODS] = {
        create = { type = "Normal", reason = "SuccessfulCreate", message = "Created pod: %s" },
        create_failed = { type = "Warning", reason = "FailedCreate", message = "Error creating: %s" },
        delete = { type = "Normal", reason = "SuccessfulDelete", message = "Deleted pod: %s" },
        delete_failed = { type = "Warning", reason = "FailedDelete", message = "Error deleting: %s" },
    },
}

---------------------------------------------------------------------------------------------
-- Conditions (JobCondition: type, status, lastProbeTime, lastTransitionTime, reason, message)
---------------------------------------------------------------------------------------------

local function new_condition(ctype, status, reason, message, now)
    local ts = C.rfc3339(now)
    return { type = ctype, status = status, reason = reason, message = message,
             lastProbeTime = ts, lastTransitionTime = ts }
end

-- The condition of type t with status True, or nil.
local function true_condition(conds, t)
    local c = C.get_condition(conds, t)
    if c and c.status == "True" then
        return c
    end
    return nil
end
M.true_condition = true_condition

-- kube's IsJobFinished: a Complete or Failed condition is True. Returns the type.
function M.finished(job)
    local conds = C.tget(job, "status.conditions")
    if true_condition(conds, "Complete") then
        return "Complete"
    end
    if true_condition(conds, "Failed") then
        return "Failed"
    end
    return nil
end

-- ensureJobConditionStatus: appends a True condition that is absent, updates one whose status
-- differs; never appends a False one. Returns the list and whether it changed.
local function ensure_condition(conds, ctype, status, reason, message, now)
    local cur, i = C.get_condition(conds, ctype)
    if cur then
        if cur.status == status then
            return conds, false
        end
        local out = {}
        for k, c in ipairs(conds) do
            out[k] = c
        end
        out[i] = new_condition(ctype, status, reason, message, now)
        return out, true
    end
    if status ~= "True" then
        return conds, false
    end
    local out = {}
    for k, c in ipairs(conds) do
        out[k] = c
    end
    out[#out + 1] = new_condition(ctype, status, reason, message, now)
    return out, true
end

---------------------------------------------------------------------------------------------
-- Pods
---------------------------------------------------------------------------------------------

-- getFinishedTime: the latest container finishedAt, else the Ready=False transition, else the
-- deletionTimestamp, else now.
local function finish_time(pod, now)
    local best
    for _, key in ipairs({ "status.initContainerStatuses", "status.containerStatuses" }) do
        for _, cs in ipairs(C.tget(pod, key) or C.EMPTY) do
            local t = type(cs) == "table" and C.time(C.sget(cs, "state.terminated.finishedAt"))
            if t and (best == nil or t > best) then
                best = t
            end
        end
    end
    if best then
        return best
    end
    local ready = C.pod_condition(pod, "Ready")
    if ready and ready.status == "False" and C.time(ready.lastTransitionTime) then
        return C.time(ready.lastTransitionTime)
    end
    return C.time(C.sget(pod, "metadata.deletionTimestamp")) or now
end

-- The pod-failure backoff: seconds left before new pods may be created (0: none).
-- failuresAfterLastSuccess and lastFailureTime of kube's backoffRecord, from the pods.
function M.backoff_remaining(pods, now)
    local last_success, failures = nil, {}
    for _, p in ipairs(pods) do
        local phase = C.sget(p, "status.phase")
        if phase == "Succeeded" then
            local t = finish_time(p, now)
            if last_success == nil or t > last_success then
                last_success = t
            end
        elseif phase == "Failed" then
            failures[#failures + 1] = finish_time(p, now)
        end
    end
    local n, last_failure = 0, nil
    for _, t in ipairs(failures) do
        if last_success == nil or t > last_success then
            n = n + 1
            if last_failure == nil or t > last_failure then
                last_failure = t
            end
        end
    end
    if n == 0 then
        return 0
    end
    local delay = M.BACKOFF_BASE * 2 ^ (n - 1)
    if delay > M.BACKOFF_MAX then
        delay = M.BACKOFF_MAX
    end
    local left = last_failure + delay - now
    return left > 0 and left or 0
end

-- pastBackoffLimitOnFailure: with restartPolicy OnFailure, container restarts of running or
-- pending pods count against backoffLimit.
local function past_backoff_on_failure(job, pods, limit)
    if C.sget(job, "spec.template.spec.restartPolicy") ~= "OnFailure" then
        return false
    end
    local n = 0
    for _, p in ipairs(pods) do
        local phase = C.sget(p, "status.phase")
        if phase == "Running" or phase == "Pending" then
            for _, key in ipairs({ "status.initContainerStatuses", "status.containerStatuses" }) do
                for _, cs in ipairs(C.tget(p, key) or C.EMPTY) do
                    if type(cs) == "table" then
                        n = n + C.num(cs.restartCount, 0)
                    end
                end
            end
        end
    end
    if limit == 0 then
        return n > 0
    end
    return n >= limit
end

-- A new pod from the job's template: generateName "<job>-", the template's labels (plus
-- the job labels), annotations, finalizers and spec.
function M.pod_from_template(job)
    local tmpl = C.tget(job, "spec.template") or C.EMPTY
    local md = C.tget(tmpl, "metadata") or C.EMPTY
    local labels = C.copy_map(md.labels)
    local name, uid = C.name(job), C.uid(job)
    labels["batch.kubernetes.io/controller-uid"] = uid
    labels["batch.kubernetes.io/job-name"] = name
    labels["controller-uid"] = uid
    labels["job-name"] = name
    local meta = C.copy_template_meta(md, { generateName = name .. "-", labels = labels })
    return { metadata = meta, spec = C.copy(C.tget(tmpl, "spec") or {}) }
end

---------------------------------------------------------------------------------------------
-- sync
---------------------------------------------------------------------------------------------

local function keep_entry(pod)
    return { metadata = { name = C.name(pod) } }
end

-- The job's spec with the API server's defaults (SetDefaults_Job): both completions and
-- parallelism absent -> 1 and 1; parallelism absent -> 1; backoffLimit 6.
function M.spec(job)
    local completions = C.nget(job, "spec.completions")
    local parallelism = C.nget(job, "spec.parallelism")
    if completions == nil and parallelism == nil then
        completions = 1
    end
    return {
        completions = completions,
        parallelism = parallelism or 1,
        backoff_limit = C.nget(job, "spec.backoffLimit", 6),
        deadline = C.nget(job, "spec.activeDeadlineSeconds"),
        suspend = util.get(job, "spec.suspend") == true,
        restart_policy = C.sget(job, "spec.template.spec.restartPolicy"),
        mode = C.sget(job, "spec.completionMode") or "NonIndexed",
    }
end

-- Merges the interim/terminal condition steps of trackJobStatusAndRemoveFinalizers:
-- interim = { type = "FailureTarget"|"SuccessCriteriaMet", reason, message }. Adds the
-- interim condition, and when nothing runs or terminates any more the terminal one
-- (Failed/Complete, same reason and message), completionTime and the event.
local function finish(st, interim, idle, now, events)
    st.conds = ensure_condition(st.conds, interim.type, "True", interim.reason, interim.message, now)
    if not idle then
        return
    end
    local terminal = interim.type == "SuccessCriteriaMet" and "Complete" or "Failed"
    local changed
    st.conds, changed = ensure_condition(st.conds, terminal, "True", interim.reason, interim.message, now)
    if not changed then
        return
    end
    if terminal == "Complete" then
        st.completion_time = C.rfc3339(now)
        events[#events + 1] = C.event("Normal", "Completed", "Job completed")
    else
        events[#events + 1] = C.event("Warning", interim.reason, interim.message)
    end
end

-- sync(job, children, ctx): the declarative result (docs/controllers.md) for one Job:
-- children["v1/pods"] (kept pods by name, new pods from the template, pods to delete left
-- out), release (owned pods an explicit spec.selector no longer matches), status, events,
-- requeue_after (activeDeadlineSeconds, failure backoff).
function M.sync(job, children, ctx)
    local now = ctx.now
    if M.finished(job) then
        return {}                        -- IsJobFinished: nothing more to do, as kube
    end
    local spec = M.spec(job)
    local events = {}
    local result = { events = events }
    local deleting = C.is_deleting(job)

    -- Claim: owned pods, minus those an explicit selector does not match (released).
    local pods, release = {}, {}
    local selv = C.tget(job, "spec.selector")
    local sel = selv and C.compile_selector(selv, "labelSelector") or nil
    for _, p in ipairs(children[M.PODS] or C.EMPTY) do
        if sel == nil or C.matches(sel, p) then
            pods[#pods + 1] = p
        elseif not deleting then
            release[#release + 1] = C.name(p)
        end
    end
    if #release > 0 then
        result.release = { [M.PODS] = release }
    end

    local active, terminating, nsucc, nfail, ready = {}, 0, 0, 0, 0
    for _, p in ipairs(pods) do
        local phase = C.sget(p, "status.phase")
        if phase == "Succeeded" then
            nsucc = nsucc + 1
        elseif phase == "Failed" then
            nfail = nfail + 1
        elseif C.is_deleting(p) then
            terminating = terminating + 1
        else
            active[#active + 1] = p
            if C.pod_ready(p) then
                ready = ready + 1
            end
        end
    end
    local succeeded = math_max(C.nget(job, "status.succeeded", 0), nsucc)
    local failed = math_max(C.nget(job, "status.failed", 0), nfail)

    local st = {
        conds = C.tget(job, "status.conditions") or {},
        start = C.sget(job, "status.startTime"),
        completion_time = C.sget(job, "status.completionTime"),
    }
    if st.start == nil and not spec.suspend then
        st.start = C.rfc3339(now)
    end
    local start = C.time(st.start)

    -- What stays: every pod that is not active; active pods unless deleted below.
    local entries, delete = {}, {}
    local n_active, n_ready, n_term = #active, ready, terminating
    local requeue

    local function delete_active(list)
        for _, p in ipairs(list) do
            delete[C.name(p)] = true
            n_active = n_active - 1
            n_term = n_term + 1
            if C.pod_ready(p) then
                n_ready = n_ready - 1
            end
        end
    end

    local interim
    local sc = true_condition(st.conds, "SuccessCriteriaMet")
    local ft = true_condition(st.conds, "FailureTarget")
    if sc then
        interim = { type = "SuccessCriteriaMet", reason = sc.reason, message = sc.message }
    elseif ft then
        interim = { type = "FailureTarget", reason = ft.reason, message = ft.message }
    elseif failed > spec.backoff_limit or past_backoff_on_failure(job, pods, spec.backoff_limit) then
        interim = { type = "FailureTarget", reason = "BackoffLimitExceeded",
                    message = "Job has reached the specified backoff limit" }
    elseif spec.deadline and start and not spec.suspend and now - start >= spec.deadline then
        interim = { type = "FailureTarget", reason = "DeadlineExceeded",
                    message = "Job was active longer than specified deadline" }
    elseif spec.deadline and start and not spec.suspend then
        requeue = start + spec.deadline - now
    end

    local creates = 0
    if deleting then
        -- A Job being deleted: status only, its pods are the garbage collector's.
        result.release = nil
    elseif spec.mode ~= "NonIndexed" then
        events[#events + 1] = C.event("Warning", "UnsupportedCompletionMode",
            "completionMode " .. spec.mode .. " is not supported by berth's Job controller")
        return { events = events }
    elseif interim then
        delete_active(active)
        finish(st, interim, n_active == 0 and n_term == 0, now, events)
    else
        if spec.suspend then
            delete_active(active)
        else
            local want
            if spec.completions == nil then
                want = succeeded > 0 and n_active or spec.parallelism
            else
                want = math_max(0, math_min(spec.completions - succeeded, spec.parallelism))
            end
            if n_active > want then
                local order = replicas.deletion_order(active, now)
                local victims = {}
                for i = 1, math_min(n_active - want, C.BURST) do
                    victims[i] = order[i]
                end
                delete_active(victims)
            elseif n_active < want then
                local why
                local tmpl_pod = M.pod_from_template(job)
                if spec.restart_policy ~= "Never" and spec.restart_policy ~= "OnFailure" then
                    why = "the pod template's restartPolicy must be Never or OnFailure"
                elseif sel and not C.matches(sel, tmpl_pod) then
                    why = "spec.selector does not match the pod template's labels"
                end
                local wait = M.backoff_remaining(pods, now)
                if why then
                    events[#events + 1] = C.event("Warning", "FailedCreate", "Error creating: " .. why)
                elseif wait > 0 then
                    requeue = requeue and math_min(requeue, wait) or wait
                else
                    creates = math_min(want - n_active, C.BURST)
                    for i = 1, creates do
                        entries[#entries + 1] = i == 1 and tmpl_pod or M.pod_from_template(job)
                    end
                    n_active = n_active + creates
                end
            end
        end
        local complete
        if spec.completions == nil then
            complete = succeeded > 0 and n_active == 0
        else
            complete = succeeded >= spec.completions and n_active == 0
        end
        if complete then
            finish(st, { type = "SuccessCriteriaMet", reason = "CompletionsReached",
                         message = "Reached expected number of succeeded pods" },
                   n_term == 0, now, events)
        elseif spec.suspend then
            local changed
            st.conds, changed = ensure_condition(st.conds, "Suspended", "True", "JobSuspended", "Job suspended", now)
            if changed then
                events[#events + 1] = C.event("Normal", "Suspended", "Job suspended")
            end
        else
            local changed
            st.conds, changed = ensure_condition(st.conds, "Suspended", "False", "JobResumed", "Job resumed", now)
            if changed then
                events[#events + 1] = C.event("Normal", "Resumed", "Job resumed")
                st.start = C.rfc3339(now)
                if spec.deadline then
                    requeue = spec.deadline
                end
            end
        end
    end

    if not deleting then
        for _, p in ipairs(pods) do
            if not delete[C.name(p)] then
                table.insert(entries, #entries - creates + 1, keep_entry(p))
            end
        end
        result.children = { [M.PODS] = entries }
    end

    -- Status: the previous one (unknown fields kept) with the counts of this sync.
    local status = type(job.status) == "table" and C.copy(job.status) or {}
    status.active = n_active > 0 and n_active or nil
    status.succeeded = succeeded > 0 and succeeded or nil
    status.failed = failed > 0 and failed or nil
    status.ready = n_ready
    status.terminating = n_term
    status.startTime = st.start
    status.completionTime = st.completion_time
    status.conditions = #st.conds > 0 and st.conds or nil
    result.status = status
    if requeue and requeue > 0 then
        result.requeue_after = requeue
    end
    return result
end


return M
