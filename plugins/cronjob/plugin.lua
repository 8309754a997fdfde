-- plugins/cronjob/plugin.lua: batch/v1 Job and CronJob for berth (format: docs/plugins.md).
--
-- Registers the two kinds (namespaced, status subresource, kubectl columns as close to
-- kubectl 1.31's as jsonPath columns allow) and their controllers:
--   jobs:     parent batch/v1/jobs, children v1/pods (ownerReference), no adoption;
--             logic lua/berth/plugins/job.lua
--   cronjobs: parent batch/v1/cronjobs, children batch/v1/jobs (ownerReference);
--             logic lua/berth/plugins/cronjob.lua, schedules lua/berth/plugins/cron.lua
-- Tests: t/lua/test_plugin_{cron,job,cronjob}.lua (prove t/0196-plugin-policies.t).

local job = require("berth.plugins.job")
local cronjob = require("berth.plugins.cronjob")

local NAME_COL = { name = "Name", type = "string", format = "name", priority = 0,
                   description = "Name must be unique within a namespace.", cell = "meta.name" }
local AGE_COL = { name = "Age", type = "string", format = "", priority = 0,
                  description = "CreationTimestamp is a timestamp representing the server time when this object was created.",
                  cell = "meta.age" }

local function col(name, ctype, path, description, priority)
    return { name = name, type = ctype, format = "", priority = priority or 0,
             description = description, jsonPath = path }
end

local kinds = {
    {
        group = "batch", version = "v1", kind = "Job", plural = "jobs", singular = "job",
        namespaced = true, categories = { "all" }, subresources = { "status" }, generation = true,
        -- kubectl 1.31 prints Status (Complete/Failed/Running/...), Completions "1/1" and a
        -- Duration; jsonPath columns cannot compute them, so: the last condition's type,
        -- the succeeded count, and the start time as an age (see docs/plugins.md).
        columns = {
            NAME_COL,
            col("Status", "string", ".status.conditions[-1].type", "The last condition of the job (Complete, Failed, SuccessCriteriaMet, FailureTarget, Suspended)."),
            col("Completions", "integer", ".status.succeeded", "The number of pods which reached phase Succeeded."),
            col("Duration", "date", ".status.startTime", "Time since the job started."),
            AGE_COL,
            col("Containers", "string", ".spec.template.spec.containers[*].name", "Names of each container in the template.", 1),
            col("Images", "string", ".spec.template.spec.containers[*].image", "Images referenced by each container in the template.", 1),
            col("Selector", "string", ".spec.selector.matchLabels", "Pod selector of the job.", 1),
        },
    },
    {
        group = "batch", version = "v1", kind = "CronJob", plural = "cronjobs", singular = "cronjob",
        namespaced = true, shortNames = { "cj" }, categories = { "all" }, subresources = { "status" },
        generation = true,
        columns = {
            NAME_COL,
            col("Schedule", "string", ".spec.schedule", "The schedule in Cron format."),
            col("Timezone", "string", ".spec.timeZone", "The time zone name for the given schedule."),
            col("Suspend", "boolean", ".spec.suspend", "This flag tells the controller to suspend subsequent executions."),
            col("Active", "string", ".status.active[*].name", "The active jobs (kubectl prints their number)."),
            col("Last Schedule", "date", ".status.lastScheduleTime", "Information when was the last time the job was successfully scheduled."),
            AGE_COL,
            col("Containers", "string", ".spec.jobTemplate.spec.template.spec.containers[*].name", "Names of each container in the template.", 1),
            col("Images", "string", ".spec.jobTemplate.spec.template.spec.containers[*].image", "Images referenced by each container in the template.", 1),
            col("Selector", "string", ".spec.jobTemplate.spec.selector.matchLabels", "Pod selector of the job template.", 1),
        },
    },
}

local jobs_controller = {
    parent = "batch/v1/jobs",
    children = { "v1/pods" },
    adopt = false,
    selector = "labelSelector",
    child_events = job.CHILD_EVENTS,
    sync = job.sync,
}

local cronjobs_controller = {
    parent = "batch/v1/cronjobs",
    children = { "batch/v1/jobs" },
    adopt = false,
    child_events = cronjob.CHILD_EVENTS,
    sync = cronjob.sync,
}

-- A job of two completions creates one pod (parallelism 1); a due cronjob creates its job.
local function self_test()
    local j = {
        metadata = { name = "t", namespace = "default", uid = "u1" },
        spec = { completions = 2, template = { metadata = { labels = { app = "t" } },
                 spec = { restartPolicy = "Never", containers = { { name = "c", image = "i" } } } } },
    }
    local r = job.sync(j, { ["v1/pods"] = {} }, { now = 1700000000 })
    local pods = r.children["v1/pods"]
    assert(#pods == 1 and pods[1].metadata.generateName == "t-" and
           pods[1].metadata.labels["job-name"] == "t", "self_test: job creates one pod")
    local cj = {
        metadata = { name = "c", namespace = "default", uid = "u2", creationTimestamp = "2023-11-14T22:00:00Z" },
        spec = { schedule = "*/5 * * * *", jobTemplate = { spec = j.spec } },
    }
    local r2 = cronjob.sync(cj, { ["batch/v1/jobs"] = {} }, { now = 1700000000 })
    local js = r2.children["batch/v1/jobs"]
    assert(#js == 1 and js[1].metadata.name == "c-28333330", "self_test: cronjob creates its job")
end

return {
    kinds = kinds,
    controllers = { jobs = jobs_controller, cronjobs = cronjobs_controller },
    self_test = self_test,
}
