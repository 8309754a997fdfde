-- t/lua/test_plugin_job.lua: lua/berth/plugins/job.lua (the Job controller of
-- plugins/cronjob): pods from the template with the job labels, parallelism and completions,
-- work-queue jobs, the two-step finish (SuccessCriteriaMet/FailureTarget, then
-- Complete/Failed), backoffLimit (Failed pods, OnFailure restarts), the failure backoff delay,
-- activeDeadlineSeconds, suspend/resume, selectors, a deleting job, a run to completion
-- through the fixture's apply step. Run by t/0196-plugin-policies.t.
local t = require("tap")
local F = require("ctrl_fixture")
local C = require("berth.controller.common")
local J = require("berth.plugins.job")
local PODS = "v1/pods"
local T0 = F.T0

local function job(name, spec, o)
    o = o or {}
    spec = spec or {}
    spec.template = spec.template or {
        metadata = { labels = { app = name } },
        spec = { restartPolicy = o.restart or "Never", containers = { { name = "c", image = "busybox" } } },
    }
    return {
        apiVersion = "batch/v1", kind = "Job",
        metadata = { name = name, namespace = "default", uid = o.uid or F.uid("job"),
                     creationTimestamp = F.iso(T0 - 600),
                     deletionTimestamp = o.deleting and F.iso(T0) or nil },
        spec = spec, status = o.status,
    }
end

local function pod(j, name, o)
    o = o or {}
    o.owner = { kind = "Job", metadata = j.metadata }
    o.labels = o.labels or { app = j.metadata.name, ["job-name"] = j.metadata.name }
    local p = F.pod(name, o)
    if o.finished_at then
        p.status.containerStatuses = { { name = "c", restartCount = 0,
            state = { terminated = { exitCode = o.phase == "Failed" and 1 or 0, finishedAt = F.iso(o.finished_at) } } } }
    end
    return p
end

local function creates(r)
    local n = 0
    for _, e in ipairs(r.children[PODS]) do
        if not e.metadata.name then n = n + 1 end
    end
    return n
end

local function kept(r)
    local out = {}
    for _, e in ipairs(r.children[PODS]) do
        if e.metadata.name then out[#out + 1] = e.metadata.name end
    end
    table.sort(out)
    return table.concat(out, ",")
end

local function cond(r, ctype)
    return C.get_condition(r.status.conditions, ctype)
end

local function reasons(r)
    local out = {}
    for _, e in ipairs(r.events or {}) do out[#out + 1] = e.reason end
    return table.concat(out, ",")
end

-- A new job: parallelism pods from the template.
do
    local j = job("pi", { completions = 3, parallelism = 2 })
    local r = J.sync(j, { [PODS] = {} }, F.ctx())
    t.is(creates(r), 2, "completions 3, parallelism 2: two pods")
    local p = r.children[PODS][1]
    t.is(p.metadata.generateName, "pi-", "generateName <job>-")
    t.is(p.metadata.labels.app, "pi", "template labels")
    t.is(p.metadata.labels["job-name"], "pi", "job-name label")
    t.is(p.metadata.labels["batch.kubernetes.io/job-name"], "pi", "batch.kubernetes.io/job-name label")
    t.is(p.metadata.labels["controller-uid"], j.metadata.uid, "controller-uid label")
    t.is(p.metadata.labels["batch.kubernetes.io/controller-uid"], j.metadata.uid, "batch.kubernetes.io/controller-uid label")
    t.is(p.spec.restartPolicy, "Never", "template spec")
    t.isnt(p.spec, j.spec.template.spec, "spec copied")
    t.is(r.status.startTime, F.iso(T0), "startTime set")
    t.is(r.status.active, 2, "active counts the pods being created (as kube's manageJob)")
    t.is(r.status.ready, 0, "ready always written")
    t.is(r.status.terminating, 0, "terminating always written")
    t.is(r.status.succeeded, nil, "zero succeeded omitted")
    t.is(J.CHILD_EVENTS[PODS].create.message, "Created pod: %s", "SuccessfulCreate wording")
    t.is(r.requeue_after, nil, "no deadline: no requeue")

    -- defaults: nothing set = 1 completion
    local r1 = J.sync(job("one"), { [PODS] = {} }, F.ctx())
    t.is(creates(r1), 1, "no completions/parallelism: one pod")
end

-- Running, one succeeded: refill to parallelism, never beyond the completions left.
do
    local j = job("pi", { completions = 3, parallelism = 2 }, { status = { startTime = F.iso(T0 - 60) } })
    local pods = { pod(j, "a", { node = "n1", ready = true }), pod(j, "b", { node = "n1", phase = "Succeeded" }) }
    local r = J.sync(j, { [PODS] = pods }, F.ctx())
    t.is(creates(r), 1, "1 running + 1 succeeded of 3: one more pod")
    t.is(kept(r), "a,b", "existing pods kept")
    t.is(r.status.succeeded, 1, "succeeded 1")
    t.is(r.status.active, 2, "active 2")
    t.is(r.status.ready, 1, "ready 1")
    t.is(r.status.startTime, F.iso(T0 - 60), "startTime kept")

    pods = { pod(j, "a", { node = "n1" }), pod(j, "b", { phase = "Succeeded" }), pod(j, "c", { phase = "Succeeded" }),
             pod(j, "d", { node = "n1" }) }
    r = J.sync(j, { [PODS] = pods }, F.ctx())
    t.is(creates(r), 0, "2 succeeded, 2 running, 3 wanted: no create")
    t.is(kept(r), "b,c,d", "one surplus active pod deleted (1 completion left)")
    t.is(r.status.active, 1, "active after the deletion")
    t.is(r.status.terminating, 1, "the deleted pod counts as terminating")
end

-- Completion: SuccessCriteriaMet, then Complete once nothing terminates.
do
    local j = job("done", { completions = 2 }, { status = { startTime = F.iso(T0 - 60) } })
    local pods = { pod(j, "a", { phase = "Succeeded" }), pod(j, "b", { phase = "Succeeded" }),
                   pod(j, "x", { phase = "Running", deleting = true }) }
    local r = J.sync(j, { [PODS] = pods }, F.ctx())
    t.is(cond(r, "SuccessCriteriaMet").status, "True", "SuccessCriteriaMet while a pod terminates")
    t.is(cond(r, "SuccessCriteriaMet").reason, "CompletionsReached", "reason CompletionsReached")
    t.is(cond(r, "Complete"), nil, "not Complete yet")
    t.is(r.status.completionTime, nil, "no completionTime yet")
    j.status = r.status
    table.remove(pods, 3)
    r = J.sync(j, { [PODS] = pods }, F.ctx({ now = T0 + 5 }))
    t.is(cond(r, "Complete").status, "True", "Complete once nothing terminates")
    t.is(cond(r, "Complete").message, "Reached expected number of succeeded pods", "message copied")
    t.is(r.status.completionTime, F.iso(T0 + 5), "completionTime")
    t.is(reasons(r), "Completed", "event Completed")
    t.is(r.events[1].message, "Job completed", "Job completed")
    t.is(r.status.succeeded, 2, "succeeded 2")
    t.is(r.status.active, nil, "active omitted")
    t.is(kept(r), "a,b", "finished pods kept")
    t.ok(J.finished({ status = r.status }) == "Complete", "finished() sees it")
    j.status = r.status
    t.is_deeply(J.sync(j, { [PODS] = pods }, F.ctx()), {}, "a finished job: nothing to do")

    -- both steps in one sync when nothing runs
    local j2 = job("quick", {}, { status = { startTime = F.iso(T0 - 5) } })
    local r2 = J.sync(j2, { [PODS] = { pod(j2, "q", { phase = "Succeeded" }) } }, F.ctx())
    t.ok(cond(r2, "SuccessCriteriaMet") and cond(r2, "Complete"), "one sync: SuccessCriteriaMet and Complete")
    t.is(r2.status.conditions[1].type, "SuccessCriteriaMet", "SuccessCriteriaMet first")
end

-- backoffLimit: Failed pods beyond it fail the job; active pods are deleted first.
do
    local j = job("flaky", { backoffLimit = 1, parallelism = 2, completions = 4 }, { status = { startTime = F.iso(T0 - 600) } })
    local pods = { pod(j, "f1", { phase = "Failed" }), pod(j, "f2", { phase = "Failed" }),
                   pod(j, "run", { node = "n1", ready = true }) }
    local r = J.sync(j, { [PODS] = pods }, F.ctx())
    t.is(cond(r, "FailureTarget").reason, "BackoffLimitExceeded", "FailureTarget BackoffLimitExceeded")
    t.is(cond(r, "FailureTarget").message, "Job has reached the specified backoff limit", "message")
    t.is(cond(r, "Failed"), nil, "not Failed while a pod runs")
    t.is(kept(r), "f1,f2", "the running pod is deleted")
    t.is(creates(r), 0, "no new pods")
    t.is(r.status.failed, 2, "failed 2")
    t.is(r.status.active, nil, "active 0 after the delete")
    t.is(r.status.terminating, 1, "terminating 1")
    j.status = r.status
    pods[3] = pod(j, "run", { node = "n1", phase = "Failed" })
    r = J.sync(j, { [PODS] = pods }, F.ctx())
    t.is(cond(r, "Failed").reason, "BackoffLimitExceeded", "then Failed with the same reason")
    t.is(reasons(r), "BackoffLimitExceeded", "Warning event BackoffLimitExceeded")
    t.is(r.events[1].type, "Warning", "a Warning")
    t.is(r.status.failed, 3, "failed 3")
    t.is(r.status.completionTime, nil, "no completionTime for a failed job")

    -- exactly at the limit: not yet
    local j2 = job("edge", { backoffLimit = 2 }, { status = { startTime = F.iso(T0 - 600) } })
    local r2 = J.sync(j2, { [PODS] = { pod(j2, "f1", { phase = "Failed", finished_at = T0 - 100 }),
                                       pod(j2, "f2", { phase = "Failed", finished_at = T0 - 100 }) } }, F.ctx())
    t.is(cond(r2, "FailureTarget"), nil, "failed == backoffLimit: not failed (kube: failed > limit)")
    t.is(creates(r2), 1, "a replacement pod (backoff 20 s long past)")
    -- the default limit is 6
    local j3 = job("six", {}, { status = { startTime = F.iso(T0 - 6000) } })
    local fails = {}
    for i = 1, 7 do fails[i] = pod(j3, "f" .. i, { phase = "Failed", finished_at = T0 - 5000 }) end
    t.is(cond(J.sync(j3, { [PODS] = fails }, F.ctx()), "Failed").reason, "BackoffLimitExceeded", "default backoffLimit 6: 7 failures fail it")
    table.remove(fails)
    t.is(cond(J.sync(j3, { [PODS] = fails }, F.ctx()), "Failed"), nil, "6 failures do not")

    -- OnFailure: restarts count
    local j4 = job("restarts", { backoffLimit = 3 }, { restart = "OnFailure", status = { startTime = F.iso(T0 - 60) } })
    local r4 = J.sync(j4, { [PODS] = { pod(j4, "r", { node = "n1", restarts = 3 }) } }, F.ctx())
    t.is(cond(r4, "FailureTarget").reason, "BackoffLimitExceeded", "OnFailure: 3 restarts reach backoffLimit 3")
    r4 = J.sync(j4, { [PODS] = { pod(j4, "r", { node = "n1", restarts = 2 }) } }, F.ctx())
    t.is(cond(r4, "FailureTarget"), nil, "2 restarts do not")
end

-- The failure backoff: 10 s doubling after each failure since the last success.
do
    local j = job("slow", {}, { status = { startTime = F.iso(T0 - 600) } })
    local r = J.sync(j, { [PODS] = { pod(j, "f1", { phase = "Failed", finished_at = T0 - 4 }) } }, F.ctx())
    t.is(creates(r), 0, "one failure 4 s ago: wait")
    t.is(r.requeue_after, 6, "requeue when the 10 s are over")
    r = J.sync(j, { [PODS] = { pod(j, "f1", { phase = "Failed", finished_at = T0 - 11 }) } }, F.ctx())
    t.is(creates(r), 1, "11 s later: a new pod")
    local two = { pod(j, "f1", { phase = "Failed", finished_at = T0 - 100 }), pod(j, "f2", { phase = "Failed", finished_at = T0 - 15 }) }
    r = J.sync(j, { [PODS] = two }, F.ctx())
    t.is(r.requeue_after, 5, "two failures: 20 s from the last one")
    t.is(J.backoff_remaining({ pod(j, "s", { phase = "Succeeded", finished_at = T0 - 10 }),
                               pod(j, "f", { phase = "Failed", finished_at = T0 - 20 }) }, T0), 0,
        "failures before the last success do not count")
    local many = {}
    for i = 1, 12 do many[i] = pod(j, "m" .. i, { phase = "Failed", finished_at = T0 }) end
    t.is(J.backoff_remaining(many, T0), 600, "capped at 10 minutes")
end

-- activeDeadlineSeconds.
do
    local j = job("deadline", { activeDeadlineSeconds = 60 }, { status = { startTime = F.iso(T0 - 100) } })
    local r = J.sync(j, { [PODS] = { pod(j, "p", { node = "n1" }) } }, F.ctx())
    t.is(cond(r, "FailureTarget").reason, "DeadlineExceeded", "past the deadline: DeadlineExceeded")
    t.is(cond(r, "FailureTarget").message, "Job was active longer than specified deadline", "message")
    t.is(kept(r), "", "the active pod is deleted")
    j.spec.activeDeadlineSeconds = 300
    r = J.sync(j, { [PODS] = { pod(j, "p", { node = "n1" }) } }, F.ctx())
    t.is(cond(r, "FailureTarget"), nil, "within the deadline")
    t.is(r.requeue_after, 200, "requeue at the deadline")
end

-- suspend and resume.
do
    local j = job("sus", { suspend = true, parallelism = 2, completions = 2 }, { status = { startTime = F.iso(T0 - 100) } })
    local r = J.sync(j, { [PODS] = { pod(j, "a", { node = "n1", ready = true }) } }, F.ctx())
    t.is(kept(r), "", "suspended: active pods deleted")
    t.is(creates(r), 0, "suspended: none created")
    t.is(cond(r, "Suspended").status, "True", "Suspended True")
    t.is(cond(r, "Suspended").reason, "JobSuspended", "reason JobSuspended")
    t.is(reasons(r), "Suspended", "event Suspended")
    t.is(r.status.ready, 0, "ready 0 after the deletion")
    j.status = r.status
    j.spec.suspend = false
    r = J.sync(j, { [PODS] = {} }, F.ctx({ now = T0 + 50 }))
    t.is(cond(r, "Suspended").status, "False", "resumed: Suspended False")
    t.is(cond(r, "Suspended").reason, "JobResumed", "reason JobResumed")
    t.is(reasons(r), "Resumed", "event Resumed")
    t.is(r.status.startTime, F.iso(T0 + 50), "resume resets startTime")
    t.is(creates(r), 2, "resumed: pods created")
    local fresh = job("born-suspended", { suspend = true })
    r = J.sync(fresh, { [PODS] = {} }, F.ctx())
    t.is(r.status.startTime, nil, "created suspended: no startTime")
end

-- Work queue: completions absent, parallelism set.
do
    local j = job("queue", { parallelism = 3 }, { status = { startTime = F.iso(T0 - 100) } })
    local r = J.sync(j, { [PODS] = {} }, F.ctx())
    t.is(creates(r), 3, "work queue: parallelism pods")
    local pods = { pod(j, "a", { phase = "Succeeded" }), pod(j, "b", { node = "n1" }) }
    r = J.sync(j, { [PODS] = pods }, F.ctx())
    t.is(creates(r), 0, "one succeeded: no new pods")
    t.is(cond(r, "Complete"), nil, "not complete while one runs")
    pods[2] = pod(j, "b", { phase = "Succeeded" })
    r = J.sync(j, { [PODS] = pods }, F.ctx())
    t.is(cond(r, "Complete").status, "True", "all done: Complete")
end

-- Bad templates, selectors, deletion, Indexed.
do
    local j = job("always", {}, { restart = "Always" })
    local r = J.sync(j, { [PODS] = {} }, F.ctx())
    t.is(creates(r), 0, "restartPolicy Always: nothing created")
    t.is(reasons(r), "FailedCreate", "Warning FailedCreate")
    t.has(r.events[1].message, "restartPolicy", "names the problem")

    local js = job("sel", { selector = { matchLabels = { app = "sel" } } })
    local pods = { pod(js, "mine", { labels = { app = "sel" }, node = "n1" }), pod(js, "other", { labels = { app = "x" }, node = "n1" }) }
    r = J.sync(js, { [PODS] = pods }, F.ctx())
    t.is(table.concat(r.release[PODS], ","), "other", "an owned pod the selector misses is released")
    t.is(kept(r), "mine", "and not in the desired list")
    t.is(creates(r), 0, "the matching pod is the one active pod")
    js.spec.selector = { matchLabels = { app = "nope" } }
    r = J.sync(js, { [PODS] = {} }, F.ctx())
    t.is(creates(r), 0, "selector that misses the template: nothing created")
    t.has(r.events[1].message, "selector", "Warning names the selector")
    local juid = job("uidsel", {}, { uid = "U-1" })
    juid.spec.selector = { matchLabels = { ["batch.kubernetes.io/controller-uid"] = "U-1" } }
    t.is(creates(J.sync(juid, { [PODS] = {} }, F.ctx())), 1, "kube's default selector (controller-uid) matches the pods")

    local jd = job("bye", { completions = 2 }, { deleting = true, status = { startTime = F.iso(T0 - 5) } })
    r = J.sync(jd, { [PODS] = { pod(jd, "a", { node = "n1" }) } }, F.ctx())
    t.is(r.children, nil, "deleting: children left alone")
    t.is(r.status.active, 1, "deleting: status still counted")

    local ji = job("idx", { completionMode = "Indexed", completions = 2 })
    r = J.sync(ji, { [PODS] = {} }, F.ctx())
    t.is(r.children, nil, "Indexed: nothing done")
    t.is(reasons(r), "UnsupportedCompletionMode", "Indexed: Warning UnsupportedCompletionMode")
end

-- A run to completion: the runtime's apply step and a kubelet that finishes pods.
do
    local j = job("run", { completions = 3, parallelism = 2 })
    local store, now = {}, T0
    local done = false
    for step = 1, 10 do
        local r = J.sync(j, { [PODS] = store }, F.ctx({ now = now }))
        F.apply_children(store, r.children[PODS], j, { now = now })
        j.status = r.status
        if cond(r, "Complete") then done = step break end
        for _, p in ipairs(store) do
            if p.status.phase ~= "Succeeded" then p.status.phase = "Succeeded" break end
        end
        now = now + 10
    end
    t.ok(done, "3 completions at parallelism 2 complete (step " .. tostring(done) .. ")")
    t.is(#store, 3, "exactly three pods were created")
    t.is(j.status.succeeded, 3, "succeeded 3")
end

t.done_testing()
