-- t/lua/test_scheduler_framework.lua: lua/berth/framework.lua itself: node sampling
-- (percentageOfNodesToScore, rotating start), the FitError message, prefilter rejection,
-- reserve/bind, queue sort, with_defaults and the default policy's self_test.
-- Run by t/0190-scheduler-policy.t.
local t = require("tap")
local okF, F = pcall(require, "sched_fixture")
if not okF then
    t.ok(true, "scheduler fixture tests # SKIP policies/ not on the module path (t/0190 runs them)")
    t.done_testing()
end
local framework = F.framework

-- numFeasibleNodesToFind, kube's integer arithmetic.
do
    local n = framework.num_feasible_nodes_to_find
    t.is(n(0, 50), 50, "below 100 nodes: all")
    t.is(n(10, 1000), 100, "10% of 1000")
    t.is(n(0, 1000), 420, "adaptive: 50 - 1000/125 = 42%")
    t.is(n(0, 5000), 500, "adaptive: 10% of 5000")
    t.is(n(0, 10000), 500, "adaptive floor: 5%")
    t.is(n(0, 150), 100, "never fewer than 100")
    t.is(n(100, 1000), 1000, "100%: all")
    t.is(n(3, 1000), 100, "3% of 1000 is raised to 100")
end

-- A policy that counts filter and score calls and remembers which nodes it scored.
local function counting()
    local seen = { filtered = 0, scored = 0, names = {} }
    local p = framework.with_defaults({
        filter = function(pod, node, ctx)
            seen.filtered = seen.filtered + 1
            return F.policy.filter(pod, node, ctx)
        end,
        score = function(pod, node, ctx)
            seen.scored = seen.scored + 1
            seen.names[#seen.names + 1] = node.metadata.name
            return 50
        end,
    })
    return p, seen
end

-- Sampling: 1000 nodes at 10% -> only 100 filtered and scored; the next cycle starts
-- where the last one stopped.
do
    local c = F.cluster(10)
    c:nodes_n("n", 1000, { cpu = "1" })
    local p, seen = counting()
    local name = c:try("p1", {}, p)
    t.is(seen.filtered, 100, "1000 nodes at 10%: 100 filtered")
    t.is(seen.scored, 100, "and 100 scored")
    t.is(seen.names[1], "n-1", "first cycle starts at the first node")
    t.is(name, "n-1", "equal scores: the first feasible node in ctx.nodes order")
    seen.filtered, seen.scored, seen.names = 0, 0, {}
    name = c:try("p2", {}, p)
    t.is(seen.names[1], "n-101", "second cycle starts after the nodes the first one looked at")
    t.is(name, "n-101", "so the next pod lands elsewhere")
    -- Half the nodes full: the filter looks further to find 100 feasible ones.
    local c2 = F.cluster(10)
    for i = 1, 1000 do
        c2:node("m-" .. i, { cpu = (i % 2 == 0) and "1" or "100m" })
    end
    local p2, seen2 = counting()
    t.ok(c2:try("q", { cpu = "500m" }, p2) ~= nil, "half the nodes too small: still placed")
    t.is(seen2.scored, 100, "100 feasible nodes scored")
    t.is(seen2.filtered, 200, "200 nodes filtered to find them")
    -- Adaptive with the default policy on 1000 nodes: 420 feasible are enough.
    local c3 = F.cluster(0)
    c3:nodes_n("z", 1000)
    local _, _, ctx = c3:try("r", {})
    t.is(#ctx.state.feasible, 420, "adaptive 42% of 1000 nodes")
    -- Wrap-around: the rotation covers every node when the pod fits nowhere.
    local c4 = F.cluster(10)
    c4:nodes_n("w", 300, { cpu = "1" })
    local p4, seen4 = counting()
    c4:try("a", {}, p4)
    seen4.filtered = 0
    local _, msg = c4:try("huge", { cpu = "2" }, p4)
    t.is(seen4.filtered, 300, "no feasible node: every node filtered once")
    t.is(msg, "0/300 nodes are available: 300 Insufficient cpu. preemption: 0/300 nodes are available: " ..
        "300 No preemption victims found for incoming pod.", "and all of them counted")
end

-- fit_error directly: counts sorted as strings, like Go's sort.Strings.
do
    local st = {}
    for i = 1, 12 do st[#st + 1] = { reasons = { "Insufficient memory" } } end
    st[#st + 1] = { reasons = { "node(s) were unschedulable" }, unresolvable = true }
    st[#st + 1] = { reasons = { "node(s) were unschedulable" }, unresolvable = true }
    t.is(framework.fit_error(14, st), "0/14 nodes are available: 12 Insufficient memory, " ..
        "2 node(s) were unschedulable. preemption: 0/14 nodes are available: 12 No preemption victims found " ..
        "for incoming pod, 2 Preemption is not helpful for scheduling.", "\"12 ...\" sorts before \"2 ...\"")
end

-- Prefilter rejection, no nodes, reserve failure, bind.
do
    local c = F.cluster()
    c:node("a") c:node("b") c:node("c")
    local p = framework.with_defaults({
        prefilter = function(pod, ctx)
            if pod.metadata.labels.pvc == "unbound" then
                return false, "pod has unbound immediate PersistentVolumeClaims"
            end
            return F.policy.prefilter(pod, ctx)
        end,
    })
    t.is(select(2, c:try("x", { labels = { pvc = "unbound" } }, p)),
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes " ..
        "are available: 3 Preemption is not helpful for scheduling.", "prefilter rejection message")
    t.is(c:try("y", {}, p), "a", "chained prefilter passes")
    local empty = F.cluster()
    t.is(select(2, empty:try("z")), "no nodes available to schedule pods", "no nodes at all")
    local r = framework.with_defaults({ reserve = function() return false, "volume reservation failed" end })
    local name, msg = c:try("w", {}, r)
    t.is(name, nil, "reserve failure fails the cycle")
    t.is(msg, "volume reservation failed", "with the reserve hook's reason")
    t.is(framework.bind(F.policy, {}, "a", {}), false, "default bind leaves binding to the core")
    local b = framework.with_defaults({ bind = function() return true end })
    t.is(framework.bind(b, {}, "a", {}), true, "a policy may bind itself")
end

-- Queue order: priority, then creation time, then name.
do
    local c = F.cluster()
    local pods = {
        c:pod("late", { created = "2026-01-01T00:00:09Z" }),
        c:pod("early", { created = "2026-01-01T00:00:01Z" }),
        c:pod("urgent", { created = "2026-01-01T00:00:05Z", priority = 1000 }),
        c:pod("b-same", { created = "2026-01-01T00:00:03Z" }),
        c:pod("a-same", { created = "2026-01-01T00:00:03Z" }),
    }
    framework.sort_queue(F.policy, pods)
    local order = {}
    for _, p in ipairs(pods) do order[#order + 1] = p.metadata.name end
    t.is(table.concat(order, ","), "urgent,early,a-same,b-same,late", "priority, age, name")
end

-- with_defaults, all_pods, self_test.
do
    local custom = { my_field = 7, score = function() return 1 end }
    local p = framework.with_defaults(custom)
    t.is(p.my_field, 7, "other fields are kept")
    t.is(p.score, custom.score, "own hook kept")
    t.is(custom.filter, nil, "the policy table itself is not modified")
    t.is(p.self_test, F.policy.self_test, "self_test inherited")
    t.is(framework.default_policy(), F.policy, "scheduler.lua registered itself as the default")
    t.raises("with_defaults needs a table", "must be a table", framework.with_defaults, "x")
    local pods = { { metadata = { name = "a" } }, { metadata = { name = "b" } } }
    local i = 0
    local iter_ctx = { pods = function() return function() i = i + 1 return pods[i] end end }
    t.is(#framework.all_pods(iter_ctx), 2, "ctx.pods() may return an iterator")
    t.is(#framework.all_pods({ pods = function() return pods end }), 2, "or an array")
    t.ok(F.policy.self_test(), "default policy self_test passes")
end

-- order: the scheduling queue's order from the sort hook, stable for equal pods; a bind
-- hook that binds the pod itself is reported by schedule's third value.
do
    local function pod(name, prio, ts)
        return { metadata = { name = name, namespace = "default", creationTimestamp = ts },
                 spec = { priority = prio } }
    end
    local p = framework.with_defaults({})
    local pods = { pod("old-low", 0, "2026-01-01T00:00:01Z"), pod("high", 100, "2026-01-01T00:00:03Z"),
                   pod("new-low", 0, "2026-01-01T00:00:02Z") }
    t.is_deeply(p.order(pods), { 2, 1, 3 }, "order: priority first, then creation time")
    local fifo = framework.with_defaults({ sort = function() return false end })
    t.is_deeply(fifo.order(pods), { 1, 2, 3 }, "order: pods that sort equal keep arrival order")
    local c = F.cluster(0)
    c:node("n1", { cpu = "4" })
    local bound = {}
    local self_binding = framework.with_defaults({
        bind = function(pd, node_name) bound[#bound + 1] = node_name return true end,
    })
    local name, msg, by_policy = framework.schedule(self_binding, c:pod("b1", { cpu = "1" }), c:ctx())
    t.is(name, "n1", "a self-binding policy still returns the node")
    t.is(by_policy, true, "and says it bound the pod")
    t.is(bound[1], "n1", "its bind hook ran with the chosen node")
    local _, _, by_core = framework.schedule(p, c:pod("b2", { cpu = "1" }), c:ctx())
    t.is(by_core, nil, "the default bind leaves binding to the core")
end

t.done_testing()
