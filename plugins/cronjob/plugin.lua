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

-- A column computed by a built-in cell of engine/table.c (kubectl's printJob/printCronJob).
local function cell(name, ctype, fn, description)
    return { name = name, type = ctype, format = "", priority = 0, description = description,
             cell = fn }
end

local kinds = {
    {
        group = "batch", version = "v1", kind = "Job", plural = "jobs", singular = "job",
        namespaced = true, categories = { "all" }, subresources = { "status" }, generation = true,
        -- kubectl 1.31's columns; Status, Completions and Duration are computed as
        -- printJob computes them, by cells of engine/table.c.
        columns = {
            NAME_COL,
            cell("Status", "string", "job.status", "Status of the job."),
            cell("Completions", "string", "job.completions", "The desired number of successfully finished pods the job should be run with."),
            cell("Duration", "string", "job.duration", "Time required to complete the job."),
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
            cell("Timezone", "string", "cronjob.timezone", "The time zone name for the given schedule."),
            cell("Suspend", "boolean", "cronjob.suspend", "This flag tells the controller to suspend subsequent executions."),
            cell("Active", "integer", "cronjob.active", "A list of pointers to currently running jobs."),
            cell("Last Schedule", "string", "cronjob.lastSchedule", "Information when was the last time the job was successfully scheduled."),
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
