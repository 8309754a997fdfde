-- examples/policies/binpack-vs-spread/spread.lua: the scheduler of pods with
-- spec.schedulerName "spread", once installed as policies/schedulers/spread.lua.
--
-- It keeps every filter of the default profile and replaces the score with two criteria,
-- the first deciding and the second breaking its ties:
--   1. fewer pods with the same `app` label (same namespace) on the node: replicas of one
--      application end up one per node, as a topology spread over kubernetes.io/hostname
--      with maxSkew 1 would place them, so losing a node loses as few as possible;
--   2. the node whose cpu and memory would be the least allocated (kube-scheduler's
--      NodeResourcesFit LeastAllocated).
-- A pod without an `app` label is placed by the second criterion alone.
local framework = require("berth.framework")
local quantity = require("berth.quantity")

local default = framework.default_policy()

-- What a container that requests nothing counts for (kube's NonZeroRequested).
local DEFAULT_MILLI_CPU = 100
local DEFAULT_MEMORY = 200 * 1024 * 1024

local function requests(pod)
    local r = default.pod_requests(pod)
    local cpu, mem = r.cpu or 0, r.memory or 0
    return cpu > 0 and cpu or DEFAULT_MILLI_CPU, mem > 0 and mem or DEFAULT_MEMORY
end

local function allocatable(node, field, parse)
    local a = type(node.status) == "table" and node.status.allocatable
    local v = type(a) == "table" and a[field]
    return type(v) == "string" and parse(v) or 0
end

local function label(obj, key)
    local l = type(obj.metadata) == "table" and obj.metadata.labels
    local v = type(l) == "table" and l[key]
    return type(v) == "string" and v or nil
end

local function namespace(pod)
    local ns = type(pod.metadata) == "table" and pod.metadata.namespace
    return type(ns) == "string" and ns or "default"
end

local policy
policy = framework.with_defaults({
    -- 99 - (pods of the same app on the node) decides; the free share of the node, 0..1,
    -- breaks ties. Scores are numbers, not only integers.
    score = function(pod, node, ctx)
        local app, ns = label(pod, "app"), namespace(pod)
        local same = 0
        local cpu, mem = requests(pod)
        for _, p in ipairs(ctx.pods_on(node.metadata.name)) do
            if app and label(p, "app") == app and namespace(p) == ns then
                same = same + 1
            end
            local c, m = requests(p)
            cpu, mem = cpu + c, mem + m
        end
        local cap_cpu = allocatable(node, "cpu", quantity.parse_milli)
        local cap_mem = allocatable(node, "memory", quantity.parse_value)
        local fc = cap_cpu > 0 and math.min(cpu / cap_cpu, 1) or 1
        local fm = cap_mem > 0 and math.min(mem / cap_mem, 1) or 1
        return (99 - math.min(same, 99)) + (1 - (fc + fm) / 2)
    end,

    -- Node "a" runs one replica of app=web and is emptier than "b", which runs a big pod of
    -- another app: the next web replica still goes to "b"; a pod of a third app goes to "a".
    self_test = function()
        local function node(name)
            return {
                metadata = { name = name, labels = {} },
                status = {
                    allocatable = { cpu = "4", memory = "8Gi", pods = "110" },
                    conditions = { { type = "Ready", status = "True" } },
                },
            }
        end
        local function pod(name, app, cpu)
            return {
                metadata = { name = name, namespace = "default", labels = { app = app } },
                spec = { containers = { { name = "c", resources = { requests = { cpu = cpu } } } } },
            }
        end
        local on = { a = { pod("web-1", "web", "100m") }, b = { pod("db-1", "db", "2") } }
        local ctx = {
            nodes = { node("a"), node("b") }, percentage_of_nodes_to_score = 0, now = 0,
            pods_on = function(name) return on[name] or {} end,
            pods = function() return { on.a[1], on.b[1] } end,
        }
        local got, msg = framework.schedule(policy, pod("web-2", "web", "100m"), ctx)
        assert(got == "b", "spread self_test: web-2 went to " .. tostring(got) .. " " .. tostring(msg))
        got, msg = framework.schedule(policy, pod("cache-1", "cache", "100m"), ctx)
        assert(got == "a", "spread self_test: cache-1 went to " .. tostring(got) .. " " .. tostring(msg))
        framework.reset(policy)
    end,
})

return policy
