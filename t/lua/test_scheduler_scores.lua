-- t/lua/test_scheduler_scores.lua: the default policy's scores (policies/scheduler.lua):
-- LeastAllocated, BalancedAllocation, PreferNoSchedule taints, preferred node affinity,
-- preferred inter-pod affinity, ScheduleAnyway spreading, and a bin-packing policy that
-- overrides only score and inherits the default filters. Run by t/0190-scheduler-policy.t.
local t = require("tap")
local okF, F = pcall(require, "sched_fixture")
if not okF then
    t.ok(true, "scheduler fixture tests # SKIP policies/ not on the module path (t/0190 runs them)")
    t.done_testing()
end
local framework = F.framework

-- Raw per-plugin scores of the last cycle, for one node.
local function raw(ctx, node)
    return ctx.state.default_scores[node]
end

-- LeastAllocated: the emptier node wins; pods without requests count 100m / 200Mi.
do
    local c = F.cluster()
    c:node("a", { cpu = "4", memory = "8Gi" })
    c:node("b", { cpu = "4", memory = "8Gi" })
    c:pod("busy", { node = "a", cpu = "2", memory = "4Gi" })
    local name, _, ctx = c:try("p", { cpu = "1", memory = "1Gi" })
    t.is(name, "b", "least allocated: the empty node")
    t.is(raw(ctx, "b").fit, 81, "b: cpu 3000*100/4000 = 75, memory 7Gi*100/8Gi = 87, mean 81 (integers)")
end

do
    local c = F.cluster()
    c:node("a", { cpu = "4", memory = "8Gi" })
    c:node("b", { cpu = "4", memory = "8Gi" })
    local name, _, ctx = c:try("p", { cpu = "1", memory = "2Gi" })
    t.is(name, "a", "equal scores: the first node in ctx.nodes")
    t.is(raw(ctx, "a").fit, 75, "fit: cpu (4000-1000)*100/4000 = 75, memory 75, mean 75")
    t.is(raw(ctx, "a").balanced, 100, "balanced: 1/4 cpu and 1/4 memory are even")
    c = F.cluster()
    c:node("a", { cpu = "4", memory = "8Gi" })
    c:node("b", { cpu = "4", memory = "8Gi" })
    c:pod("be1", { node = "b" })
    c:pod("be2", { node = "b" })
    name, _, ctx = c:try("q", {})
    t.is(name, "a", "best-effort pods still count for spreading (non-zero requests)")
    t.is(raw(ctx, "b").fit, math.floor((math.floor((4000 - 300) * 100 / 4000) +
        math.floor((8 * 1024 - 600) * 100 / (8 * 1024))) / 2), "b: three pods at 100m / 200Mi each")
end

-- BalancedAllocation: prefers the node where cpu and memory use stay even.
do
    local c = F.cluster()
    c:node("cpu-heavy", { cpu = "4", memory = "8Gi" })
    c:node("mem-heavy", { cpu = "4", memory = "8Gi" })
    c:pod("x", { node = "cpu-heavy", cpu = "2", memory = "1Gi" })
    c:pod("y", { node = "mem-heavy", cpu = "500m", memory = "4608Mi" })
    local name, _, ctx = c:try("p", { cpu = "1500m", memory = "128Mi" })
    t.is(name, "mem-heavy", "a cpu-hungry pod goes where memory is used and cpu is free")
    t.ok(raw(ctx, "mem-heavy").balanced > raw(ctx, "cpu-heavy").balanced, "balanced score decides it")
end

-- TaintToleration score: PreferNoSchedule taints push pods away unless tolerated.
do
    local c = F.cluster()
    c:node("spot", { taints = { { key = "spot", value = "true", effect = "PreferNoSchedule" } } })
    c:node("ondemand")
    c:pod("load", { node = "ondemand", cpu = "1", memory = "2Gi" })
    t.is(c:try("p", { cpu = "100m" }), "ondemand", "PreferNoSchedule outweighs a busier node")
    t.is(c:try("q", { cpu = "100m", tolerations = { { key = "spot", operator = "Exists", effect = "PreferNoSchedule" } } }),
        "spot", "tolerated: back to least allocated")
end

-- NodeAffinity preferred terms.
do
    local c = F.cluster()
    c:node("a", { labels = { zone = "a" } })
    c:node("b", { labels = { zone = "b" } })
    c:pod("load", { node = "b", cpu = "2", memory = "4Gi" })
    t.is(c:try("p", { affinity = { nodeAffinity = { preferredDuringSchedulingIgnoredDuringExecution = {
        { weight = 50, preference = { matchExpressions = { { key = "zone", operator = "In", values = { "b" } } } } } } } } }),
        "b", "preferred zone b despite load")
end

-- InterPodAffinity preferred terms and the symmetric side.
do
    local term = function(app, w)
        return { weight = w, podAffinityTerm = { labelSelector = { matchLabels = { app = app } }, topologyKey = "zone" } }
    end
    local c = F.cluster()
    c:node("a1", { labels = { zone = "a" } })
    c:node("b1", { labels = { zone = "b" } })
    c:pod("cache", { node = "b1", labels = { app = "cache" }, cpu = "1" })
    t.is(c:try("web", { affinity = { podAffinity = { preferredDuringSchedulingIgnoredDuringExecution = { term("cache", 100) } } } }),
        "b1", "preferred affinity: near the cache")
    t.is(c:try("batch", { affinity = { podAntiAffinity = { preferredDuringSchedulingIgnoredDuringExecution = { term("cache", 100) } } } }),
        "a1", "preferred anti-affinity: away from the cache")
    local c2 = F.cluster()
    c2:node("a1", { labels = { zone = "a" } })
    c2:node("b1", { labels = { zone = "b" } })
    c2:pod("lb", { node = "b1", cpu = "1", affinity = { podAffinity = {
        preferredDuringSchedulingIgnoredDuringExecution = { term("api", 80) } } } })
    t.is(c2:try("api", { labels = { app = "api" } }), "b1", "existing pod's preferred affinity attracts the pod")
end

-- PodTopologySpread, ScheduleAnyway: prefers the emptier zone but never filters.
do
    local soft = { { maxSkew = 1, topologyKey = "zone", whenUnsatisfiable = "ScheduleAnyway",
        labelSelector = { matchLabels = { app = "web" } } } }
    local c = F.cluster()
    c:node("a1", { labels = { zone = "a" }, cpu = "8", memory = "16Gi" })
    c:node("b1", { labels = { zone = "b" } })
    c:pod("w0", { node = "b1", labels = { app = "web" } })
    c:pod("w1", { node = "b1", labels = { app = "web" } })
    t.is(c:try("w2", { labels = { app = "web" }, spread = soft }), "a1", "soft spread: the zone with fewer pods")
    local c2 = F.cluster()
    c2:node("b1", { labels = { zone = "b" } })
    c2:pod("w0", { node = "b1", labels = { app = "web" } })
    t.is(c2:try("w1", { labels = { app = "web" }, spread = soft }), "b1", "soft spread never filters")
end

-- A custom policy that overrides only score (bin packing) keeps every default filter.
do
    local binpack = framework.with_defaults({
        score = function(pod, node, ctx)
            local used = 0
            for _, p in ipairs(ctx.pods_on(node.metadata.name)) do
                used = used + (F.policy.pod_requests(p).cpu or 0)
            end
            local cap = 1000 * tonumber(node.status.allocatable.cpu)
            return math.floor(math.min(used + (ctx.state.requests.cpu or 0), cap) * 100 / cap)
        end,
    })
    t.is(binpack.filter, F.policy.filter, "filter inherited")
    t.is(binpack.prefilter, F.policy.prefilter, "prefilter inherited")
    t.is(binpack.sort, F.policy.sort, "sort inherited")
    t.is(binpack.normalize, nil, "normalize is not inherited without score")
    local function mk()
        local c = F.cluster()
        c:node("empty", { cpu = "4" })
        c:node("half", { cpu = "4" })
        c:node("tainted-full", { cpu = "4", taints = { { key = "gpu", effect = "NoSchedule" } } })
        c:pod("h", { node = "half", cpu = "2" })
        c:pod("t", { node = "tainted-full", cpu = "3" })
        return c
    end
    t.is(mk():try("p0", { cpu = "1" }), "empty", "the default policy spreads: the emptier node")
    local c = mk()
    t.is(c:try("p1", { cpu = "1" }, binpack), "half", "bin packing: the fuller node")
    t.is(c:try("p2", { cpu = "1" }, binpack), "half", "and again, until it is full")
    t.is(c:try("p3", { cpu = "1" }, binpack), "empty", "full node filtered by the inherited NodeResourcesFit")
    local name, msg = c:try("p5", { cpu = "4" }, binpack)
    t.is(msg, "0/3 nodes are available: 1 node(s) had untolerated taint {gpu: }, 2 Insufficient cpu." ..
        " preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption" ..
        " victims found for incoming pod.", "inherited filters give kube's message")
    t.is(name, nil, "and no node")
end

t.done_testing()
