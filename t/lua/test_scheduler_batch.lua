-- t/lua/test_scheduler_batch.lua: the default policy's batch filter and score (policy.batch,
-- used by lua/berth/framework.lua when a policy inherits filter, score and normalize) give
-- the same nodes, FailedScheduling messages and scores as the hooks called node by node;
-- the ctx.pods_changed change feed; ctx.state fields built on first read.
-- Run by t/0190-scheduler-policy.t.
local t = require("tap")
local okF, F = pcall(require, "sched_fixture")
if not okF then
    t.ok(true, "scheduler fixture tests # SKIP policies/ not on the module path (t/0190 runs them)")
    t.done_testing()
end
local framework = F.framework

-- The default hooks behind wrappers: the framework cannot recognize them, so it calls them
-- node by node (the reference the batch forms must match).
local per_node = framework.with_defaults({
    filter = function(pod, node, ctx) return F.policy.filter(pod, node, ctx) end,
    score = function(pod, node, ctx) return F.policy.score(pod, node, ctx) end,
    normalize = function(pod, scores, ctx) return F.policy.normalize(pod, scores, ctx) end,
})
-- Only the score is the policy's own: batch filter, scores node by node.
local own_score = framework.with_defaults({
    score = function(pod, node, ctx) return #node.metadata.name * 7 % 11 end,
})

---------------------------------------------------------------------------------------------
-- A deterministic random cluster and pods (a small LCG, so both runs see the same).
---------------------------------------------------------------------------------------------

local function rng(seed)
    local s = seed
    local r = {}
    function r.n(n)
        s = (s * 1103515245 + 12345) % 2147483648
        return math.floor(s / 65536) % n + 1
    end
    function r.pick(list) return list[r.n(#list)] end
    function r.chance(p) return r.n(1000) <= p * 1000 end
    return r
end

local ZONES, APPS = { "a", "b", "c" }, { "web", "db", "cache" }

local function node_opts(r, big)
    local o = {
        labels = { zone = r.pick(ZONES) },
        cpu = big and "64" or r.pick({ "1", "2", "4", "500m" }),
        memory = big and "256Gi" or r.pick({ "1Gi", "4Gi", "8Gi" }),
        pods = r.pick({ 3, 110 }),
    }
    if r.chance(0.8) then o.labels["kubernetes.io/os"] = "linux" end
    if r.chance(0.3) then o.labels.disk = r.pick({ "ssd", "hdd" }) end
    if r.chance(0.1) then o.extra = { ["nvidia.com/gpu"] = "2" } end
    if r.chance(0.3) then
        o.taints = { { key = r.pick({ "dedicated", "spot" }), value = r.pick({ "db", "yes" }),
            effect = r.pick({ "NoSchedule", "PreferNoSchedule", "NoExecute" }) } }
    end
    if r.chance(0.05) then o.unschedulable = true end
    if r.chance(0.05) then o.ready = r.pick({ false, "Unknown" }) end
    return o
end

local function pod_opts(r, rich)
    local o = { labels = { app = r.pick(APPS) } }
    if r.chance(0.8) then o.cpu = r.pick({ "100m", "250m", "1", "2" }) end
    if r.chance(0.8) then o.memory = r.pick({ "64Mi", "256Mi", "2Gi" }) end
    if r.chance(0.1) then o.ephemeral = "1Gi" end
    if r.chance(0.05) then o.extra = { ["nvidia.com/gpu"] = "1" } end
    if r.chance(0.1) then o.ports = { r.pick({ 80, 8080 }) } end
    if r.chance(0.5) then
        o.tolerations = { r.pick({
            { key = "dedicated", operator = "Equal", value = "db", effect = "NoSchedule" },
            { key = "spot", operator = "Exists" },
            { key = "node.kubernetes.io/unschedulable", operator = "Exists", effect = "NoSchedule" },
            { operator = "Exists", effect = "PreferNoSchedule" },
        }) }
    end
    if r.chance(0.4) then o.node_selector = { ["kubernetes.io/os"] = "linux" } end
    if r.chance(0.1) then o.node_selector = { disk = "ssd", zone = r.pick(ZONES) } end
    if rich then
        local term = function(app, key)
            return { labelSelector = { matchLabels = { app = app } }, topologyKey = key or "zone" }
        end
        local aff = {}
        if r.chance(0.2) then
            aff.nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms = {
                { matchExpressions = { { key = "zone", operator = "In", values = { r.pick(ZONES) } } } } } } }
        end
        if r.chance(0.3) then
            aff.nodeAffinity = aff.nodeAffinity or {}
            aff.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution = { { weight = r.n(100),
                preference = { matchExpressions = { { key = "disk", operator = "In", values = { "ssd" } } } } } }
        end
        if r.chance(0.15) then
            aff.podAntiAffinity = { requiredDuringSchedulingIgnoredDuringExecution = { term(o.labels.app, "kubernetes.io/hostname") } }
        end
        if r.chance(0.2) then
            aff.podAffinity = { preferredDuringSchedulingIgnoredDuringExecution = {
                { weight = r.n(100), podAffinityTerm = term(r.pick(APPS)) } } }
        end
        if next(aff) then o.affinity = aff end
        if r.chance(0.2) then
            o.spread = { { maxSkew = r.n(2), topologyKey = "zone", labelSelector = { matchLabels = { app = o.labels.app } },
                whenUnsatisfiable = r.pick({ "DoNotSchedule", "ScheduleAnyway" }) } }
        end
    end
    return o
end

-- Builds the scenario's cluster; run(step) then schedules the step's pod with policy and
-- returns what a caller can see of the cycle.
local function scenario(seed, policy, feed)
    local r = rng(seed)
    local big = r.chance(0.6)
    local rich = r.chance(0.6)
    local c = F.cluster(r.pick({ 0, 10, 50, 100 }), feed)
    local n = r.pick({ 2, 5, 40, 150 })
    for i = 1, n do
        c:node("n-" .. i, node_opts(r, big))
    end
    local run = function(step)
        local x = r.n(100)
        if x <= 5 and #c.placed > 0 then
            c:remove(c.placed[r.n(#c.placed)])
        elseif x <= 8 then
            -- A node changes: a new Node table in a new ctx.nodes array, as the core does.
            local i = r.n(#c.nodes)
            local nodes = {}
            for j, node in ipairs(c.nodes) do
                nodes[j] = node
            end
            c.nodes = nodes
            local name = nodes[i].metadata.name
            c:node(name, node_opts(r, big))
            nodes[i] = table.remove(nodes)
        elseif x <= 10 then
            c:node("n-" .. (#c.nodes + 1), node_opts(r, big))   -- appended to the same array
        end
        local name, msg, ctx = c:try("p-" .. step, pod_opts(r, rich), policy)
        local out = { name = name, msg = msg, feasible = {}, scores = ctx.state.scores,
            raw = ctx.state.default_scores }
        for i, f in ipairs(ctx.state.feasible or {}) do
            out.feasible[i] = f.node.metadata.name .. "@" .. f.index
        end
        return out
    end
    return run, c
end

local function compare(label, seeds, steps, pa, pb, feed_a)
    for seed = 1, seeds do
        framework.reset(pa)
        framework.reset(pb)
        local ra = scenario(seed, pa, feed_a)
        local rb = scenario(seed, pb, false)
        local first, placed = nil, 0
        for step = 1, steps do
            local a, b = ra(step), rb(step)
            if a.name then
                placed = placed + 1
            end
            for _, k in ipairs({ "name", "msg" }) do
                if not first and a[k] ~= b[k] then
                    first = ("step %d %s: %s vs %s"):format(step, k, tostring(a[k]), tostring(b[k]))
                end
            end
            for _, k in ipairs({ "feasible", "scores", "raw" }) do
                if not first and not require("berth.util").deep_equal(a[k], b[k]) then
                    first = ("step %d %s differ"):format(step, k)
                end
            end
        end
        t.ok(first == nil, ("%s, seed %d: same %d cycles (%d placed)"):format(label, seed, steps, placed))
        if first then
            t.diag(first)
        end
    end
end

compare("batch filter and score vs per node", 12, 30, F.policy, per_node)
compare("with the change feed vs per node", 6, 30, F.policy, per_node, true)
compare("own score on the batch filter vs per node", 4, 20, own_score,
    framework.with_defaults({ filter = per_node.filter, score = own_score.score }))

---------------------------------------------------------------------------------------------
-- The change feed: ctx.pods_on is asked again only for the nodes that changed.
---------------------------------------------------------------------------------------------

do
    local c = F.cluster(100, true)
    c:nodes_n("n", 50, { cpu = "8", memory = "16Gi" })
    t.ok(c:try("p1", { cpu = "1" }) ~= nil, "feed: first pod placed")
    t.is(c.pods_on_calls, 50, "feed: the first cycle asks every node once")
    c.pods_on_calls = 0
    local name = c:try("p2", { cpu = "1" })
    t.is(c.pods_on_calls, 1, "feed: the next asks only the node that took p1")
    c.pods_on_calls = 0
    c:remove(c.placed[1])
    c:try("p3", { cpu = "1" })
    t.is(c.pods_on_calls, 2, "feed: a removal counts as a change too")
    t.is(name, "n-2", "feed: p2 avoided the busier n-1")
    -- A new ctx.nodes array (a node changed) starts the feed over: every node once.
    local nodes = {}
    for i, n in ipairs(c.nodes) do
        nodes[i] = n
    end
    c.nodes = nodes
    c.pods_on_calls = 0
    c:try("p4", { cpu = "1" })
    t.is(c.pods_on_calls, 50, "feed: a new nodes array is checked node by node once")
    -- Without the feed every cycle asks every node it looks at, once.
    c.feed = false
    c.pods_on_calls = 0
    c:try("p5", { cpu = "1" })
    t.is(c.pods_on_calls, 50, "no feed: every node once per cycle")
end

-- A feed that cannot tell (no list: a token too old) makes the cycle check every node.
do
    local c = F.cluster(100, true)
    c:nodes_n("n", 20)
    c:try("p1", {})
    local changed = c:changed_fn()
    c.changed = function(tok)
        return (changed(nil))
    end
    c.pods_on_calls = 0
    c:try("p2", {})
    t.is(c.pods_on_calls, 20, "feed without a list: every node checked")
end

---------------------------------------------------------------------------------------------
-- ctx.state after a batch cycle.
---------------------------------------------------------------------------------------------

do
    -- 150 equal nodes, 100 to find: the second cycle starts at node 101 and wraps.
    local c = F.cluster(0)
    c:nodes_n("n", 150)
    framework.reset(F.policy)
    t.is(c:try("p1", {}), "n-1", "equal nodes: the first")
    local name, _, ctx = c:try("p2", {})
    t.is(name, "n-2", "after the wrap, ties still go to the first in ctx.nodes")
    local f = ctx.state.feasible
    t.is(#f, 100, "feasible: 100 nodes")
    t.is(f[1].index, 1, "feasible in ctx.nodes order: n-1 first")
    t.is(f[1].node, c.nodes[1], "feasible entries carry the node")
    t.is(f[100].index, 150, "and n-150 last")
    local sorted = true
    for i = 2, #f do
        sorted = sorted and f[i].index > f[i - 1].index
    end
    t.ok(sorted, "feasible: sorted by index")
    t.ok(ctx.state.scores["n-2"] > ctx.state.scores["n-1"], "scores: by node name, n-1 is busier")
    t.is(ctx.state.default_scores["n-2"].taint, 100, "default_scores: normalized per plugin")
end

---------------------------------------------------------------------------------------------
-- A pod that names its node (a DaemonSet's: matchFields metadata.name In) is checked on that
-- node alone; when it does not fit, the message still counts every node.
---------------------------------------------------------------------------------------------

local function pinned(node)
    return { nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms = {
        { matchFields = { { key = "metadata.name", operator = "In", values = { node } } } } } } } }
end

do
    local c = F.cluster(0)
    c:nodes_n("n", 300)
    c:node("small", { cpu = "1" })
    framework.reset(F.policy)
    local calls, real = 0, F.policy.filter
    local counted = framework.with_defaults({
        filter = function(pod, node, ctx) calls = calls + 1; return real(pod, node, ctx) end,
    })
    t.is(c:try("ds-1", { affinity = pinned("n-217") }), "n-217", "a pinned pod lands on its node")
    -- Every other node's metadata counts its reads from here on.
    local reads = 0
    for i, n in ipairs(c.nodes) do
        if i ~= 5 then
            local real = n.metadata
            n.metadata = setmetatable({}, { __index = function(_, k) reads = reads + 1; return real[k] end })
        end
    end
    local name, _, ctx = c:try("ds-2", { affinity = pinned("n-5") })
    t.is(reads, 0, "no other node was looked at")
    t.is(name, "n-5", "another")
    t.is(#ctx.state.feasible, 1, "one feasible node: the named one")
    t.is(ctx.state.feasible[1].index, 5, "at its index in ctx.nodes")
    local miss, msg = c:try("ds-3", { affinity = pinned("small"), cpu = "2" })
    t.is(miss, nil, "a pinned pod that does not fit its node stays pending")
    t.has(msg, "0/301 nodes are available:", "the message counts every node")
    t.has(msg, "1 Insufficient cpu", "the named node's reason")
    t.has(msg, "300 node(s) didn't match Pod's node affinity/selector", "and the others'")
    t.is(c:try("gone", { affinity = pinned("no-such-node") }), nil, "a node that does not exist: pending")
    t.is(c:try("two", { affinity = { nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution = {
        nodeSelectorTerms = { { matchFields = { { key = "metadata.name", operator = "In", values = { "n-9" } } } },
                              { matchExpressions = { { key = "kubernetes.io/hostname", operator = "In", values = { "n-3" } } } } } } } } }),
         "n-3", "a term without matchFields: every node is considered (n-3 by its label)")
    -- the per-node reference gives the same answers
    framework.reset(per_node)
    t.is(c:try("ref", { affinity = pinned("n-42") }, per_node), "n-42", "the per-node path agrees")
    t.is(c:try("counted", { affinity = pinned("n-77") }, counted), "n-77", "a policy with its own filter")
    t.ok(calls >= 300, "a policy with its own filter still sees every node (" .. calls .. " calls)")
end

t.done_testing()
