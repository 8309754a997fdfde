-- examples/policies/binpack-vs-spread/binpack.lua: the scheduler of pods with
-- spec.schedulerName "binpack", once installed as policies/schedulers/binpack.lua.
--
-- It keeps every filter of the default profile (taints, node affinity and nodeSelector,
-- resource fit, host ports, inter-pod affinity, topology spread) and replaces the score:
-- the node whose cpu and memory would be the most allocated once the pod is placed wins
-- (kube-scheduler's NodeResourcesFit with the MostAllocated strategy). Pods fill one node
-- before the next one gets any, so the others stay empty and can be drained or scaled away.
-- Ties (all nodes equally full, e.g. empty) go to the first node, as in every policy.
local framework = require("berth.framework")
local quantity = require("berth.quantity")

local default = framework.default_policy()

-- What a container that requests nothing counts for (kube's NonZeroRequested); without it
-- best-effort pods would weigh nothing and never pack.
local DEFAULT_MILLI_CPU = 100
local DEFAULT_MEMORY = 200 * 1024 * 1024

-- A pod's cpu (milli) and memory (bytes) requests, the defaults for the ones it lacks.
local function requests(pod)
    local r = default.pod_requests(pod)
    local cpu, mem = r.cpu or 0, r.memory or 0
    return cpu > 0 and cpu or DEFAULT_MILLI_CPU, mem > 0 and mem or DEFAULT_MEMORY
end

-- allocatable[field] parsed, 0 when absent (a JSON null is not a string either).
local function allocatable(node, field, parse)
    local a = type(node.status) == "table" and node.status.allocatable
    local v = type(a) == "table" and a[field]
    return type(v) == "string" and parse(v) or 0
end

-- The share (0..1) of the node's cpu and memory requested by its pods plus this one.
local function allocated(pod, node, ctx)
    local cpu, mem = requests(pod)
    for _, p in ipairs(ctx.pods_on(node.metadata.name)) do
        local c, m = requests(p)
        cpu, mem = cpu + c, mem + m
    end
    local cap_cpu = allocatable(node, "cpu", quantity.parse_milli)
    local cap_mem = allocatable(node, "memory", quantity.parse_value)
    local fc = cap_cpu > 0 and math.min(cpu / cap_cpu, 1) or 1
    local fm = cap_mem > 0 and math.min(mem / cap_mem, 1) or 1
    return (fc + fm) / 2
end

local policy
policy = framework.with_defaults({
    -- Fuller is better.
    score = function(pod, node, ctx)
        return allocated(pod, node, ctx) * 100
    end,

    -- Two 4-cpu nodes, one already running a pod: the next pod joins it; a pod that does
    -- not fit there any more goes to the empty node.
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
        local function pod(name, cpu)
            return {
                metadata = { name = name, namespace = "default" },
                spec = { containers = { { name = "c", resources = { requests = { cpu = cpu } } } } },
            }
        end
        local on = { empty = {}, busy = { pod("old", "1") } }
        local ctx = {
            nodes = { node("empty"), node("busy") }, percentage_of_nodes_to_score = 0, now = 0,
            pods_on = function(name) return on[name] or {} end,
            pods = function() return on.busy end,
        }
        local got, msg = framework.schedule(policy, pod("small", "500m"), ctx)
        assert(got == "busy", "binpack self_test: small pod went to " .. tostring(got) .. " " .. tostring(msg))
        got, msg = framework.schedule(policy, pod("large", "3500m"), ctx)
        assert(got == "empty", "binpack self_test: large pod went to " .. tostring(got) .. " " .. tostring(msg))
        framework.reset(policy)
    end,
})

return policy
