-- examples/policies/label-scheduler/label-scheduler.lua: the scheduler of pods with
-- spec.schedulerName "label-scheduler", once installed as
-- policies/schedulers/label-scheduler.lua.
--
-- Placement driven by labels:
--   - a pod labelled tier=gold runs only on nodes labelled berth.dev/tier=gold (a filter:
--     other nodes fail with "node(s) didn't have label berth.dev/tier=gold");
--   - any other pod prefers the nodes that are not gold (gold capacity is kept for gold
--     pods) and uses a gold node only when no other node fits;
--   - within that, replicas of one app (same `app` label and namespace) spread one per node,
--     and ties go to the least allocated node.
-- Every filter of the default profile still applies (taints, affinity, resources, ...).
local framework = require("berth.framework")
local quantity = require("berth.quantity")

local default = framework.default_policy()

local POD_LABEL, POD_VALUE = "tier", "gold"
local NODE_LABEL, NODE_VALUE = "berth.dev/tier", "gold"
local NOT_GOLD = "node(s) didn't have label " .. NODE_LABEL .. "=" .. NODE_VALUE

local DEFAULT_MILLI_CPU = 100
local DEFAULT_MEMORY = 200 * 1024 * 1024

local function label(obj, key)
    local l = type(obj.metadata) == "table" and obj.metadata.labels
    local v = type(l) == "table" and l[key]
    return type(v) == "string" and v or nil
end

local function namespace(pod)
    local ns = type(pod.metadata) == "table" and pod.metadata.namespace
    return type(ns) == "string" and ns or "default"
end

local function is_gold_pod(pod)
    return label(pod, POD_LABEL) == POD_VALUE
end

local function is_gold_node(node)
    return label(node, NODE_LABEL) == NODE_VALUE
end

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

local policy
policy = framework.with_defaults({
    -- Gold pods on gold nodes only ("unresolvable": no eviction would make a node gold),
    -- then the default filters.
    filter = function(pod, node, ctx)
        if is_gold_pod(pod) and not is_gold_node(node) then
            return false, NOT_GOLD, "unresolvable"
        end
        return default.filter(pod, node, ctx)
    end,

    -- 50 for a node of the right kind (any feasible node for a gold pod, a non-gold node for
    -- the others), plus 49 - (replicas of the same app there), plus the node's free share
    -- (0..1) as the tie breaker.
    score = function(pod, node, ctx)
        local s = (is_gold_pod(pod) or not is_gold_node(node)) and 50 or 0
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
        return s + (49 - math.min(same, 49)) + (1 - (fc + fm) / 2)
    end,

    self_test = function()
        local function node(name, gold, cpu)
            return {
                metadata = { name = name, labels = { [NODE_LABEL] = gold and NODE_VALUE or nil } },
                status = {
                    allocatable = { cpu = cpu or "4", memory = "8Gi", pods = "110" },
                    conditions = { { type = "Ready", status = "True" } },
                },
            }
        end
        local function pod(name, labels, cpu)
            return {
                metadata = { name = name, namespace = "default", labels = labels },
                spec = { containers = { { name = "c", resources = { requests = { cpu = cpu or "100m" } } } } },
            }
        end
        local ctx = {
            nodes = { node("plain"), node("gold", true, "2") }, percentage_of_nodes_to_score = 0,
            now = 0, pods_on = function() return {} end, pods = function() return {} end,
        }
        local got, msg = framework.schedule(policy, pod("g", { tier = "gold" }), ctx)
        assert(got == "gold", "label-scheduler self_test: gold pod went to " .. tostring(got) .. " " .. tostring(msg))
        got, msg = framework.schedule(policy, pod("p", { app = "web" }), ctx)
        assert(got == "plain", "label-scheduler self_test: plain pod went to " .. tostring(got) .. " " .. tostring(msg))
        got, msg = framework.schedule(policy, pod("big", { tier = "gold" }, "3"), ctx)
        local want = "0/2 nodes are available: 1 Insufficient cpu, 1 " .. NOT_GOLD ..
            ". preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, " ..
            "1 Preemption is not helpful for scheduling."
        assert(got == nil and msg == want, "label-scheduler self_test: unexpected message: " .. tostring(msg))
        framework.reset(policy)
    end,
})

return policy
