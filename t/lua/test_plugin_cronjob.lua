-- t/lua/test_plugin_cronjob.lua: lua/berth/plugins/cronjob.lua (the CronJob controller of
-- plugins/cronjob): the job for the most recent scheduled time, its name and annotation,
-- status.active/lastScheduleTime/lastSuccessfulTime, concurrencyPolicy, suspend,
-- startingDeadlineSeconds, missed schedules, time zones, history limits, warnings, a
-- deleting cronjob, and a day of runs through the fixture's apply step; plus the plugin
-- table of plugins/cronjob/plugin.lua when it is reachable. Run by t/0196-plugin-policies.t.
local t = require("tap")
local F = require("ctrl_fixture")
local C = require("berth.controller.common")
local CJ = require("berth.plugins.cronjob")
local cron = require("berth.plugins.cron")
local JOBS = "batch/v1/jobs"
local T0 = F.T0                       -- 2023-11-14T22:13:20Z

local function T(y, mo, d, h, mi)
    return cron.days_from_civil(y, mo, d) * 86400 + (h or 0) * 3600 + (mi or 0) * 60
end

local function cronjob(name, spec, o)
    o = o or {}
    spec = spec or {}
    spec.schedule = spec.schedule or "*/5 * * * *"
    spec.jobTemplate = spec.jobTemplate or {
        metadata = { labels = { team = "a" }, annotations = { note = "x" } },
        spec = { template = { spec = { restartPolicy = "Never", containers = { { name = "c", image = "busybox" } } } } },
    }
    return {
        apiVersion = "batch/v1", kind = "CronJob",
        metadata = { name = name, namespace = "default", uid = o.uid or F.uid("cj"),
                     creationTimestamp = F.iso(o.created or T(2023, 11, 14, 22, 0)),
                     deletionTimestamp = o.deleting and F.iso(T0) or nil },
        spec = spec, status = o.status,
    }
end

local function job(cj, name, o)
    o = o or {}
    local conds
    if o.complete then
        conds = { { type = "Complete", status = "True" } }
    elseif o.failed then
        conds = { { type = "Failed", status = "True" } }
    end
    return {
        apiVersion = "batch/v1", kind = "Job",
        metadata = { name = name, namespace = "default", uid = o.uid or ("uid-" .. name), resourceVersion = "7",
                     ownerReferences = { { apiVersion = "batch/v1", kind = "CronJob", name = cj.metadata.name,
                                           uid = cj.metadata.uid, controller = true } } },
        status = { conditions = conds, startTime = o.start and F.iso(o.start) or nil,
                   completionTime = o.complete and F.iso(o.complete) or nil },
    }
end

local function names(r)
    local out = {}
    for _, e in ipairs(r.children[JOBS]) do out[#out + 1] = e.metadata.name end
    table.sort(out)
    return table.concat(out, ",")
end

local function new_jobs(r)
    local out = {}
    for _, e in ipairs(r.children[JOBS]) do
        if e.spec then out[#out + 1] = e end
    end
    return out
end

local function reasons(r)
    local out = {}
    for _, e in ipairs(r.events or {}) do out[#out + 1] = e.reason end
    return table.concat(out, ",")
end

-- A due schedule creates the job for the most recent time.
local cj = cronjob("backup")
do
    local r = CJ.sync(cj, { [JOBS] = {} }, F.ctx())
    local js = new_jobs(r)
    t.is(#js, 1, "one job created")
    local want = T(2023, 11, 14, 22, 10)
    t.is(js[1].metadata.name, "backup-" .. math.floor(want / 60), "named <cronjob>-<unix minutes>")
    t.is(js[1].metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"], "2023-11-14T22:10:00Z",
        "scheduled-timestamp annotation")
    t.is(js[1].metadata.annotations.note, "x", "template annotations")
    t.is(js[1].metadata.labels.team, "a", "template labels")
    t.is(js[1].spec.template.spec.containers[1].image, "busybox", "template spec")
    t.isnt(js[1].spec, cj.spec.jobTemplate.spec, "copied")
    t.is(r.status.lastScheduleTime, "2023-11-14T22:10:00Z", "lastScheduleTime")
    t.is(#r.status.active, 1, "active: the new job")
    t.is(r.status.active[1].name, js[1].metadata.name, "active ref by name")
    t.is(r.status.active[1].kind, "Job", "ref kind")
    t.is(r.requeue_after, T(2023, 11, 14, 22, 15) - T0 + 0.1, "requeue at the next time + 0.1 s")
    t.is(CJ.CHILD_EVENTS[JOBS].create.message, "Created job %s", "SuccessfulCreate wording")

    -- The job exists now: no second create; the ref gets the uid.
    cj.status = r.status
    local j = job(cj, js[1].metadata.name, { start = T0 })
    r = CJ.sync(cj, { [JOBS] = { j } }, F.ctx({ now = T0 + 30 }))
    t.is(#new_jobs(r), 0, "same time: no second job")
    t.is(names(r), j.metadata.name, "the job is kept")
    t.is(r.status.active[1].uid, j.metadata.uid, "the active ref gets the uid")
    t.is(r.status.active[1].resourceVersion, "7", "and resourceVersion")
    t.is(r.status.lastScheduleTime, "2023-11-14T22:10:00Z", "lastScheduleTime unchanged")
    t.is(reasons(r), "", "no events")

    -- It completes.
    cj.status = r.status
    j.status.conditions = { { type = "Complete", status = "True" } }
    j.status.completionTime = F.iso(T0 + 40)
    r = CJ.sync(cj, { [JOBS] = { j } }, F.ctx({ now = T0 + 50 }))
    t.is(reasons(r), "SawCompletedJob", "SawCompletedJob")
    t.is(r.events[1].message, "Saw completed job: " .. j.metadata.name .. ", condition: Complete", "its message")
    t.is(r.status.active, nil, "active emptied")
    t.is(r.status.lastSuccessfulTime, F.iso(T0 + 40), "lastSuccessfulTime")
    t.is(names(r), j.metadata.name, "finished job kept (history)")

    -- The next time comes.
    cj.status = r.status
    r = CJ.sync(cj, { [JOBS] = { j } }, F.ctx({ now = T(2023, 11, 14, 22, 15) + 1 }))
    t.is(#new_jobs(r), 1, "22:15: the next job")
    t.is(r.status.lastScheduleTime, "2023-11-14T22:15:00Z", "lastScheduleTime 22:15")
end

-- Nothing due yet; a cronjob created after the last time.
do
    local c = cronjob("later", {}, { created = T0 - 10 })
    local r = CJ.sync(c, { [JOBS] = {} }, F.ctx())
    t.is(#new_jobs(r), 0, "created after 22:10: nothing due")
    t.is(r.status.lastScheduleTime, nil, "no lastScheduleTime")
    t.ok(r.requeue_after > 0 and r.requeue_after < 120, "requeue before 22:15")
end

-- concurrencyPolicy.
do
    local c = cronjob("forbid", { concurrencyPolicy = "Forbid" },
        { status = { lastScheduleTime = F.iso(T(2023, 11, 14, 22, 5)),
                     active = { { kind = "Job", name = "forbid-old", uid = "uid-forbid-old" } } } })
    local old = job(c, "forbid-old", { start = T0 - 500 })
    local r = CJ.sync(c, { [JOBS] = { old } }, F.ctx())
    t.is(#new_jobs(r), 0, "Forbid: no new job while one runs")
    t.is(reasons(r), "JobAlreadyActive", "event JobAlreadyActive")
    t.is(r.status.lastScheduleTime, F.iso(T(2023, 11, 14, 22, 5)), "lastScheduleTime not moved")

    c.spec.concurrencyPolicy = "Replace"
    r = CJ.sync(c, { [JOBS] = { old } }, F.ctx())
    t.is(names(r), "forbid-" .. math.floor(T(2023, 11, 14, 22, 10) / 60), "Replace: the old job left out (deleted), the new one in")
    t.is(#r.status.active, 1, "active: only the new one")
    t.is(CJ.CHILD_EVENTS[JOBS].delete.message, "Deleted job %s", "SuccessfulDelete wording")

    c.spec.concurrencyPolicy = nil
    r = CJ.sync(c, { [JOBS] = { old } }, F.ctx())
    t.is(names(r), "forbid-" .. math.floor(T(2023, 11, 14, 22, 10) / 60) .. ",forbid-old", "Allow: both")
    t.is(#r.status.active, 2, "two active")
end

-- suspend, deleting, already processed.
do
    local c = cronjob("sus", { suspend = true })
    local r = CJ.sync(c, { [JOBS] = {} }, F.ctx())
    t.is(#new_jobs(r), 0, "suspended: nothing")
    t.is(r.requeue_after, nil, "suspended: no requeue")
    local d = cronjob("del", {}, { deleting = true })
    r = CJ.sync(d, { [JOBS] = { job(d, "del-1", { start = T0 }) } }, F.ctx())
    t.is(r.children, nil, "deleting: children left alone")
    t.ok(r.status ~= nil, "deleting: status only")
    local p = cronjob("done", {}, { status = { lastScheduleTime = F.iso(T(2023, 11, 14, 22, 10)) } })
    r = CJ.sync(p, { [JOBS] = {} }, F.ctx())
    t.is(#new_jobs(r), 0, "lastScheduleTime is the most recent time: nothing")
end

-- startingDeadlineSeconds and missed schedules.
do
    local c = cronjob("late", { schedule = "0 * * * *", startingDeadlineSeconds = 60 },
        { created = T(2023, 11, 1) })
    local r = CJ.sync(c, { [JOBS] = {} }, F.ctx())      -- 22:00 was 800 s ago
    t.is(#new_jobs(r), 0, "22:00 missed by more than startingDeadlineSeconds: skipped")
    r = CJ.sync(c, { [JOBS] = {} }, F.ctx({ now = T(2023, 11, 14, 23, 0) + 30 }))
    t.is(#new_jobs(r), 1, "23:00 within the deadline: created")
    local m = cronjob("missed", { schedule = "* * * * *" }, { created = T(2023, 11, 1) })
    r = CJ.sync(m, { [JOBS] = {} }, F.ctx())
    t.is(reasons(r), "TooManyMissedTimes", "weeks of minutes missed: TooManyMissedTimes")
    t.is(new_jobs(r)[1].metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"], "2023-11-14T22:13:00Z",
        "and the most recent one is started")
end

-- Schedules and zones.
do
    local r = CJ.sync(cronjob("bad", { schedule = "61 * * * *" }), { [JOBS] = {} }, F.ctx())
    t.is(reasons(r), "UnparseableSchedule", "UnparseableSchedule")
    t.has(r.events[1].message, "above maximum", "with the parser's reason")
    t.is(#new_jobs(r), 0, "nothing created")
    r = CJ.sync(cronjob("never", { schedule = "0 0 30 2 *" }), { [JOBS] = {} }, F.ctx())
    t.is(reasons(r), "InvalidSchedule", "a schedule that never fires: InvalidSchedule")

    local z = cronjob("zoned", { schedule = "0 0 * * *", timeZone = "Etc/GMT-2" }, { created = T(2023, 11, 14, 12) })
    r = CJ.sync(z, { [JOBS] = {} }, F.ctx())
    t.is(#new_jobs(r), 1, "midnight at UTC+2 (22:00Z) is due")
    t.is(new_jobs(r)[1].metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"], "2023-11-15T00:00:00+02:00",
        "annotation in the cronjob's zone")
    t.is(r.status.lastScheduleTime, "2023-11-14T22:00:00Z", "lastScheduleTime in UTC")
    t.is(new_jobs(r)[1].metadata.name, "zoned-" .. math.floor(T(2023, 11, 14, 22) / 60), "name from the unix time")
    local u = cronjob("paris", { schedule = "0 0 * * *", timeZone = "Europe/Paris" }, { created = T(2023, 11, 13, 12) })
    r = CJ.sync(u, { [JOBS] = {} }, F.ctx())
    t.is(reasons(r), "UnknownTimeZone", "Europe/Paris: Warning UnknownTimeZone")
    t.is(r.events[1].type, "Warning", "a Warning")
    t.is(new_jobs(r)[1].metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"], "2023-11-14T00:00:00Z",
        "and scheduled in UTC")
    r = CJ.sync(cronjob("utc", { timeZone = "Etc/UTC" }), { [JOBS] = {} }, F.ctx())
    t.is(reasons(r), "", "Etc/UTC is known")
end

-- Unexpected and missing jobs; history limits.
do
    local c = cronjob("hist", { suspend = true, successfulJobsHistoryLimit = 2 },
        { status = { active = { { kind = "Job", name = "gone", uid = "uid-gone" } } } })
    local jobs = {
        job(c, "ok1", { complete = T0 - 500, start = T0 - 600 }), job(c, "ok2", { complete = T0 - 400, start = T0 - 500 }),
        job(c, "ok3", { complete = T0 - 300, start = T0 - 400 }), job(c, "ok4", { complete = T0 - 200, start = T0 - 300 }),
        job(c, "bad1", { failed = true, start = T0 - 900 }), job(c, "bad2", { failed = true, start = T0 - 100 }),
        job(c, "stray", { start = T0 }),
    }
    local r = CJ.sync(c, { [JOBS] = jobs }, F.ctx())
    t.is(names(r), "bad2,ok3,ok4,stray", "history: 2 successful (limit 2), 1 failed (default 1), oldest go")
    t.is(reasons(r), "UnexpectedJob,MissingJob", "UnexpectedJob for the stray one, MissingJob for the gone one")
    t.is(r.status.active, nil, "neither is active")
    t.is(r.status.lastSuccessfulTime, F.iso(T0 - 200), "lastSuccessfulTime: the newest completion")
    c.spec.successfulJobsHistoryLimit = 0
    c.spec.failedJobsHistoryLimit = 0
    r = CJ.sync(c, { [JOBS] = jobs }, F.ctx())
    t.is(names(r), "stray", "limits 0: every finished job goes")
end

-- A day of a @hourly cronjob: jobs created, completed, pruned.
do
    local c = cronjob("day", { schedule = "@hourly" }, { created = T(2023, 11, 14, 0, 30) })
    local store, now = {}, T(2023, 11, 14, 0, 30)
    local created = 0
    for _ = 1, 100 do
        local r = CJ.sync(c, { [JOBS] = store }, F.ctx({ now = now }))
        created = created + #new_jobs(r)
        F.apply_children(store, r.children[JOBS], c, { now = now })
        c.status = r.status
        for _, j in ipairs(store) do           -- a Job controller that finishes jobs at once
            if not (j.status.conditions) then
                j.status.conditions = { { type = "Complete", status = "True" } }
                j.status.startTime = F.iso(now)
                j.status.completionTime = F.iso(now + 1)
            end
        end
        now = now + r.requeue_after
        if now > T(2023, 11, 15, 0, 30) then break end
    end
    t.is(created, 24, "24 jobs in a day")
    local r = CJ.sync(c, { [JOBS] = store }, F.ctx({ now = now }))
    F.apply_children(store, r.children[JOBS], c, { now = now })
    local finished = 0
    for _, j in ipairs(store) do
        if j.status.conditions then finished = finished + 1 end
    end
    t.is(finished, 3, "history keeps 3 finished jobs (plus the one just started)")
    t.is(c.status.lastScheduleTime, "2023-11-15T00:00:00Z", "last schedule at midnight")
end

-- The plugin table (plugins/cronjob/plugin.lua) when the runner put it on the module path.
local okp, plugin = pcall(require, "plugin_cronjob")
if okp then
    t.is(plugin.controllers.jobs.parent, "batch/v1/jobs", "plugin: jobs controller parent")
    t.is(plugin.controllers.cronjobs.children[1], "batch/v1/jobs", "plugin: cronjobs children")
    t.is(plugin.kinds[2].shortNames[1], "cj", "plugin: cj short name")
    t.ok(pcall(plugin.self_test), "plugin: self_test passes")
end

t.done_testing()
