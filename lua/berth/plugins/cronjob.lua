-- berth.plugins.cronjob: the batch/v1 CronJob controller (k8s.io/kubernetes/pkg/controller/
-- cronjob, cronjob_controllerv2.go as in 1.31) as one declarative sync for
-- plugins/cronjob/plugin.lua (contract: docs/controllers.md; format: docs/plugins.md).
--
-- Each sync: reconciles status.active with the child Jobs (finished ones leave it with
-- SawCompletedJob; missing ones with MissingJob; an unfinished child that is not in it gets
-- a Warning UnexpectedJob and stays out of it, as kube), lastSuccessfulTime from the newest
-- completionTime; then, unless the CronJob is being deleted or suspended, finds the most
-- recent scheduled time in (lastScheduleTime or creationTimestamp, now]
-- (berth.plugins.cron), skips it when it is older than startingDeadlineSeconds
-- (MissSchedule) or already done, applies concurrencyPolicy (Allow; Forbid: JobAlreadyActive
-- while one runs; Replace: active jobs are left out of the desired list, so the runtime
-- deletes them) and creates the Job "<cronjob>-<scheduled unix time / 60>" from
-- spec.jobTemplate with the annotation batch.kubernetes.io/cronjob-scheduled-timestamp;
-- finally prunes finished jobs beyond successfulJobsHistoryLimit (3) and
-- failedJobsHistoryLimit (1), oldest start first. requeue_after = until the next scheduled
-- time + 0.1 s (kube's nextScheduleDelta).
--
-- status.active entries are ObjectReferences {apiVersion, kind, name, namespace, uid,
-- resourceVersion}; the one for a job created in this sync has no uid yet (the policy does
-- not see the API server's answer) and gets it at the next sync; matching is by uid, else
-- by name.
-- spec.timeZone: only fixed offsets are known (UTC and its aliases, Etc/GMT+-N: see
-- berth.plugins.cron.zone); any other name gets a Warning UnknownTimeZone and the schedule
-- is read in UTC (kube refuses to schedule instead; berth has no tz database).
-- Depends on berth.controller.common, berth.plugins.cron, berth.plugins.job. Tested by
-- t/lua/test_plugin_cronjob.lua.

local C = require("berth.controller.common")
local cron = require("berth.plugins.cron")
local jobs = require("berth.plugins.job")

local type, ipairs, tostring = type, ipairs, tostring
local math_floor = math.floor
local table_sort = table.sort
local string_format = string.format

local M = {}

M.JOBS = "batch/v1/jobs"
M.SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
M.NEXT_DELTA = 0.1

M.CHILD_EVENTS = {
    [M.JOBS] = {
        create = { type = "Normal", reason = "SuccessfulCreate", message = "Created job %s" },
        create_failed = { type = "Warning", reason = "FailedCreate", message = "Error creating job: %s" },
        delete = { type = "Normal", reason = "SuccessfulDelete", message = "Deleted job %s" },
        delete_failed = { type = "Warning", reason = "FailedDelete", message = "Deleted job: %s" },
    },
}

-- getJobName: "<cronjob>-<scheduled unix minutes>".
function M.job_name(cj, scheduled)
    return string_format("%s-%d", C.name(cj), math_floor(scheduled / 60))
end

-- RFC 1123 with numeric zone, as Go's time.RFC1123Z in UTC ("Mon, 02 Jan 2006 15:04:05 +0000").
local function rfc1123z(t)
    return os.date("!%a, %d %b %Y %H:%M:%S +0000", math_floor(t))
end

-- getJobFromTemplate2: the Job for scheduled time t (offset: the zone's UTC offset).
function M.job_from_template(cj, t, offset)
    local tmpl = C.tget(cj, "spec.jobTemplate") or C.EMPTY
    local md = C.tget(tmpl, "metadata") or C.EMPTY
    local annotations = C.copy_map(md.annotations)
    annotations[M.SCHEDULED_ANNOTATION] = cron.rfc3339(t, offset)
    local meta = { name = M.job_name(cj, t), annotations = annotations }
    if type(md.labels) == "table" and next(md.labels) ~= nil then
        meta.labels = C.copy_map(md.labels)
    end
    return { apiVersion = "batch/v1", kind = "Job", metadata = meta,
             spec = C.copy(C.tget(tmpl, "spec") or {}) }
end

local function ref_of(job, ns)
    return { apiVersion = "batch/v1", kind = "Job", name = C.name(job), namespace = ns,
             uid = C.sget(job, "metadata.uid"), resourceVersion = C.sget(job, "metadata.resourceVersion") }
end

-- byJobStartTime: start time (absent first... kube puts nil start times last), then name.
local function older(a, b)
    local ta, tb = C.time(C.sget(a, "status.startTime")), C.time(C.sget(b, "status.startTime"))
    if ta ~= tb then
        if ta == nil then
            return false
        end
        if tb == nil then
            return true
        end
        return ta < tb
    end
    return C.name(a) < C.name(b)
end

-- sync(cj, children, ctx): the declarative result for one CronJob.
function M.sync(cj, children, ctx)
    local now = ctx.now
    local ns = C.namespace(cj)
    local events = {}
    local result = { events = events }
    local deleting = C.is_deleting(cj)
    local children_jobs = children[M.JOBS] or C.EMPTY

    -- status.active against the children.
    local prev_active = C.tget(cj, "status.active") or C.EMPTY
    local function in_active(job)
        local uid, name = C.uid(job), C.name(job)
        for _, r in ipairs(prev_active) do
            if type(r) == "table" and ((r.uid and r.uid ~= "" and r.uid == uid) or
                                       ((r.uid == nil or r.uid == "") and r.name == name)) then
                return true
            end
        end
        return false
    end
    local active, by_name = {}, {}
    local last_success = C.sget(cj, "status.lastSuccessfulTime")
    for _, j in ipairs(children_jobs) do
        by_name[C.name(j)] = j
        local found = in_active(j)
        local fin = jobs.finished(j)
        if not found and not fin then
            if not C.is_deleting(j) then
                events[#events + 1] = C.event("Warning", "UnexpectedJob",
                    "Saw a job that the controller did not create or forgot: " .. C.name(j))
            end
        elseif found and fin then
            events[#events + 1] = C.event("Normal", "SawCompletedJob",
                string_format("Saw completed job: %s, condition: %s", C.name(j), fin))
        elseif found then
            active[#active + 1] = ref_of(j, ns)
        end
        if fin then
            local ct = C.sget(j, "status.completionTime")
            if ct and (last_success == nil or (C.time(ct) or 0) > (C.time(last_success) or 0)) then
                last_success = ct
            end
        end
    end
    for _, r in ipairs(prev_active) do
        if type(r) == "table" and by_name[r.name or ""] == nil then
            events[#events + 1] = C.event("Normal", "MissingJob",
                "Active job went missing: " .. tostring(r.name))
        end
    end

    local status = type(cj.status) == "table" and C.copy(cj.status) or {}
    status.lastSuccessfulTime = last_success
    local function finish_status()
        status.active = #active > 0 and active or nil
        result.status = status
        return result
    end
    if deleting then
        return finish_status()           -- status only; the jobs are the garbage collector's
    end

    local keep = {}                      -- names of existing jobs to leave out (deleted)
    local new_job

    local function schedule()
        if C.bool(C.tget(cj, "spec") and cj.spec.suspend) then
            return nil
        end
        local tz = C.sget(cj, "spec.timeZone")
        local offset = 0
        if tz then
            local off, err = cron.zone(tz)
            if off then
                offset = off
            else
                events[#events + 1] = C.event("Warning", "UnknownTimeZone",
                    string_format("invalid timeZone: %q: %s (scheduling in UTC)", tz, err))
            end
        end
        local text = C.sget(cj, "spec.schedule") or ""
        local sched, perr = cron.parse(text)
        if not sched then
            events[#events + 1] = C.event("Warning", "UnparseableSchedule",
                string_format("unparseable schedule: %q : %s", text, perr))
            return nil
        end
        local earliest = C.time(C.sget(cj, "status.lastScheduleTime")) or
                         C.time(C.sget(cj, "metadata.creationTimestamp")) or now
        local deadline = C.nget(cj, "spec.startingDeadlineSeconds")
        local from = earliest
        if deadline and now - deadline > from then
            from = now - deadline
        end
        local scheduled, missed, err = cron.most_recent(sched, from, now, offset)
        local nxt = cron.next(sched, now, offset)
        if nxt then
            result.requeue_after = nxt - now + M.NEXT_DELTA
        end
        if err then
            events[#events + 1] = C.event("Warning", "InvalidSchedule",
                string_format("invalid schedule: %s : %s", text, err))
            return nil
        end
        if missed and missed > 100 then
            events[#events + 1] = C.event("Warning", "TooManyMissedTimes",
                string_format("too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed))
        end
        if scheduled == nil then
            return nil
        end
        if deadline and scheduled + deadline < now then
            events[#events + 1] = C.event("Warning", "MissSchedule",
                "Missed scheduled time to start a job: " .. rfc1123z(scheduled))
            return nil
        end
        local name = M.job_name(cj, scheduled)
        local last = C.time(C.sget(cj, "status.lastScheduleTime"))
        if by_name[name] or last == scheduled then
            return nil                   -- this time was already processed
        end
        local policy = C.sget(cj, "spec.concurrencyPolicy") or "Allow"
        if policy == "Forbid" and #active > 0 then
            events[#events + 1] = C.event("Normal", "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid")
            return nil
        end
        if policy == "Replace" then
            for _, r in ipairs(active) do
                keep[r.name] = false
            end
            active = {}
        end
        new_job = M.job_from_template(cj, scheduled, offset)
        active[#active + 1] = { apiVersion = "batch/v1", kind = "Job", name = name, namespace = ns }
        status.lastScheduleTime = C.rfc3339(scheduled)
        return new_job
    end
    schedule()

    -- History limits: finished jobs beyond the limits go, oldest first.
    local succ, fail = {}, {}
    for _, j in ipairs(children_jobs) do
        local fin = jobs.finished(j)
        if fin == "Complete" then
            succ[#succ + 1] = j
        elseif fin == "Failed" then
            fail[#fail + 1] = j
        end
    end
    local function prune(list, limit)
        if #list <= limit then
            return
        end
        table_sort(list, older)
        for i = 1, #list - limit do
            keep[C.name(list[i])] = false
        end
    end
    prune(succ, C.nget(cj, "spec.successfulJobsHistoryLimit", 3))
    prune(fail, C.nget(cj, "spec.failedJobsHistoryLimit", 1))

    local entries = {}
    for _, j in ipairs(children_jobs) do
        if keep[C.name(j)] ~= false then
            entries[#entries + 1] = { metadata = { name = C.name(j) } }
        end
    end
    if new_job then
        entries[#entries + 1] = new_job
    end
    result.children = { [M.JOBS] = entries }
    return finish_status()
end

return M
