-- lua/berth/framework.lua: the scheduling framework driver. It runs one scheduling cycle for
-- one pod through a policy's hooks, modelled on kube-scheduler's framework (queue sort,
-- PreFilter, Filter, Score, NormalizeScore, Reserve, Bind), and builds kube-scheduler's
-- FailedScheduling message when no node fits.
-- Depends on: nothing but the sandbox's allowed globals (berth.selector etc. are used by the
-- policies, not here). Called by: the C scheduler core (engine, one VM per scheduler), by
-- policies/scheduler.lua (which registers itself as the default profile) and by the tests
-- t/lua/test_scheduler_*.lua (run by t/0190-scheduler-policy.t).
--
-- Interface
-- =========
-- Objects are plain Lua tables mirroring the Kubernetes JSON (arrays 1-based; JSON null is
-- the core's light userdata berth.null, which policies must read as absent).
--
-- A policy file returns a table with any of these hooks:
--   sort(a, b)                   queue order: true when pod a goes first.
--   prefilter(pod, ctx)          once per pod; return false, "reason" to reject the pod for
--                                every node; may stash per-pod data in ctx.state.
--   filter(pod, node, ctx)       true, or false, "reason" [, "unresolvable"]. The reason is
--                                kube-scheduler's text ("Insufficient cpu", "node(s) were
--                                unschedulable", ...). The third value marks kube's
--                                UnschedulableAndUnresolvable code (preemption would not
--                                help); without it the node counts as a preemption candidate.
--   score(pod, node, ctx)        a number 0..100 (higher is better).
--   normalize(pod, scores, ctx)  scores maps node name -> score; adjust in place.
--   reserve(pod, nodeName, ctx)  after the choice; return false, "reason" to fail the cycle.
--   bind(pod, nodeName, ctx)     true when the policy bound the pod itself; false to let the
--                                core bind through pods/binding.
--   self_test()                  raises on failure; run by the core before a hot reload.
-- A policy defines the hooks it needs and inherits the others from the default policy with
-- framework.with_defaults(policy). normalize is inherited only when score is inherited too:
-- the default normalize combines the default score's per-plugin data and would overwrite a
-- custom score.
--
-- ctx (built by the core for each pod; in tests by t/lua/sched_fixture.lua):
--   ctx.nodes                          array of Node objects
--   ctx.pods_on(nodeName)              array of pods bound or reserved on that node. The
--                                      same table is returned until that node's pods
--                                      change (then a new one), so a policy may memoize
--                                      per array in a weak-keyed table. Never modify it.
--   ctx.pods_changed(token)            optional: the current token, and the names of the
--                                      nodes whose pods changed since token (an earlier
--                                      token from the same function), or the token alone
--                                      when it cannot tell: then take every node as changed.
--                                      The default policy's batch forms use it to look up
--                                      pods_on only for those nodes.
--   ctx.pods()                         all scheduled pods (an array, or an iterator function)
--   ctx.percentage_of_nodes_to_score   0 = adaptive (50 - nodes/125, at least 5%)
--   ctx.state                          per-pod scratch table (reset by schedule); after
--                                      filtering it holds feasible (array of {node, index}
--                                      in ctx.nodes order) and after scoring scores (node
--                                      name -> score). On the batch path (below) these are
--                                      built on first read.
--   ctx.now                            unix time
--   ctx.namespace_labels(ns)           optional: labels of a namespace (namespaceSelector)
--
-- framework.schedule(policy, pod, ctx) -> nodeName [, nil, true when the policy's bind hook
-- bound the pod itself], or nil, message.
--
-- The batch path: when the policy's filter is the default policy's, schedule does not call
-- filter node by node but the default policy's batch filter (policy.batch.find_feasible),
-- and when score and normalize are the default's too, its batch score. Same nodes, reasons
-- and scores; one call per cycle instead of several per node (see default_scheduler.lua,
-- "Batch forms").
-- framework.order(policy, pods) -> the queue order, an array of indexes into pods.

-- Globals as locals: in the sandbox every global read goes through the environment's
-- metatable, which the interpreter pays on each call in the per-node loops.
local type, pairs, ipairs, next, tostring, tonumber, error, setmetatable, getmetatable, assert =
    type, pairs, ipairs, next, tostring, tonumber, error, setmetatable, getmetatable, assert
local math, string, table = math, string, table
local M = {}

-- kube-scheduler's constants (pkg/scheduler/schedule_one.go).
M.MIN_FEASIBLE_NODES_TO_FIND = 100
M.MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
M.BASE_PERCENTAGE_OF_NODES_TO_SCORE = 50
M.MAX_NODE_SCORE = 100

-- The default policy, registered by policies/scheduler.lua when it loads.
local default_policy = nil

-- Where the next filter pass starts, per policy table (kube's nextStartNodeIndex): rotating
-- the start spreads the sampled nodes over the cluster instead of always the first ones.
-- Weak keys so a replaced policy does not stay alive.
local next_start = setmetatable({}, { __mode = "k" })

---------------------------------------------------------------------------------------------
-- Policies
---------------------------------------------------------------------------------------------

-- Registers the default profile (policies/scheduler.lua calls this on load).
function M.register_default(policy)
    if type(policy) ~= "table" then
        error("register_default: policy must be a table", 2)
    end
    default_policy = policy
end

-- The registered default policy. When none is registered yet, tries require("scheduler"),
-- which works where policies/ is on the module path (tests, tools); raises otherwise.
function M.default_policy()
    if default_policy == nil then
        local ok, mod = pcall(require, "berth.default_scheduler")
        if not (ok and type(mod) == "table") then
            ok, mod = pcall(require, "scheduler")
        end
        if ok and type(mod) == "table" then
            default_policy = mod
        end
    end
    if default_policy == nil then
        error("framework: no default policy registered (load policies/scheduler.lua first)", 2)
    end
    return default_policy
end

local HOOKS = { "sort", "prefilter", "filter", "score", "normalize", "reserve", "bind", "self_test" }
M.HOOKS = HOOKS

-- A new policy table: policy's hooks, the default policy's for the ones it lacks (defaults
-- may be passed explicitly). normalize follows score (see the header). Other fields of
-- policy are copied as they are. The result is a new table; neither argument changes.
function M.with_defaults(policy, defaults)
    if type(policy) ~= "table" then
        error("with_defaults: policy must be a table", 2)
    end
    defaults = defaults or M.default_policy()
    local out = {}
    for k, v in pairs(policy) do
        out[k] = v
    end
    for _, h in ipairs(HOOKS) do
        if out[h] == nil then
            if h == "normalize" then
                if policy.score == nil then
                    out.normalize = defaults.normalize
                end
            elseif h ~= "self_test" then
                out[h] = defaults[h]
            end
        end
    end
    -- The C core calls one hook per pod, schedule(pod, ctx): the cycle above over this
    -- policy's hooks.
    if out.schedule == nil then
        out.schedule = function(pod, ctx) return M.schedule(out, pod, ctx) end
    end
    -- And, for the scheduling queue, order(pods): the queue order from the sort hook.
    if out.order == nil then
        out.order = function(pods) return M.order(out, pods) end
    end
    if policy.self_test == nil and defaults.self_test ~= nil then
        -- The defaults' self test checks the defaults; a policy that inherits filters still
        -- benefits from it, and it never looks at the policy's own hooks.
        out.self_test = defaults.self_test
    end
    return out
end

---------------------------------------------------------------------------------------------
-- Helpers shared with policies
---------------------------------------------------------------------------------------------

-- All scheduled pods as an array, whether ctx.pods() returns an array or an iterator.
function M.all_pods(ctx)
    if type(ctx.pods) ~= "function" then
        return {}
    end
    local r = ctx.pods()
    if type(r) == "table" then
        return r
    end
    local list = {}
    if type(r) == "function" then
        for p in r do
            list[#list + 1] = p
        end
    end
    return list
end

-- kube's numFeasibleNodesToFind: how many feasible nodes are enough before scoring.
-- Integer arithmetic as in Go.
function M.num_feasible_nodes_to_find(percentage, num_all)
    if num_all < M.MIN_FEASIBLE_NODES_TO_FIND then
        return num_all
    end
    percentage = tonumber(percentage) or 0
    if percentage >= 100 then
        return num_all
    end
    if percentage <= 0 then
        percentage = M.BASE_PERCENTAGE_OF_NODES_TO_SCORE - math.floor(num_all / 125)
        if percentage < M.MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND then
            percentage = M.MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND
        end
    end
    local n = math.floor(num_all * percentage / 100)
    if n < M.MIN_FEASIBLE_NODES_TO_FIND then
        return M.MIN_FEASIBLE_NODES_TO_FIND
    end
    return n
end

-- "k1 v1, k2 v2" histogram, sorted as Go's sort.Strings sorts "count reason" strings.
local function histogram(counts)
    local list = {}
    for reason, n in pairs(counts) do
        list[#list + 1] = n .. " " .. reason
    end
    table.sort(list)
    return table.concat(list, ", ")
end

-- kube-scheduler's FitError message (framework/types.go, 1.30+: no doubled period):
--   0/N nodes are available: <prefilter msg | sorted "count reason" list>. preemption: ...
-- berth does not preempt, so the preemption part says what kube's default preemption says
-- when it finds no victims: unresolvable nodes "Preemption is not helpful for scheduling",
-- the others "No preemption victims found for incoming pod".
-- statuses: array of {reasons = {...}, unresolvable = bool}; prefilter_msg: string or nil.
function M.fit_error(num_all, statuses, prefilter_msg)
    local msg = "0/" .. num_all .. " nodes are available:"
    local preempt = {}
    if prefilter_msg then
        msg = msg .. " " .. prefilter_msg .. "."
        preempt["Preemption is not helpful for scheduling"] = num_all
    else
        local counts = {}
        for _, st in ipairs(statuses) do
            for _, r in ipairs(st.reasons) do
                counts[r] = (counts[r] or 0) + 1
            end
            local key = st.unresolvable and "Preemption is not helpful for scheduling"
                or "No preemption victims found for incoming pod"
            preempt[key] = (preempt[key] or 0) + 1
        end
        local h = histogram(counts)
        if h ~= "" then
            msg = msg .. " " .. h .. "."
        end
    end
    return msg .. " preemption: 0/" .. num_all .. " nodes are available: " .. histogram(preempt) .. "."
end

---------------------------------------------------------------------------------------------
-- The scheduling cycle
---------------------------------------------------------------------------------------------

-- Runs the filter hook on one node; returns true, or a status table {reasons, unresolvable}.
-- A filter may return several reasons as a list (NodeResourcesFit: "Insufficient cpu" and
-- "Insufficient memory" on the same node count once each, as in kube).
local function run_filter(policy, pod, node, ctx)
    local ok, reason, code = policy.filter(pod, node, ctx)
    if ok then
        return true
    end
    local reasons
    if type(reason) == "table" then
        reasons = reason
    else
        reasons = { tostring(reason or "node(s) didn't pass the policy's filter") }
    end
    return { reasons = reasons, unresolvable = code == "unresolvable" }
end

-- Filters nodes the way kube's findNodesThatPassFilters does: starting at a rotating
-- offset, stopping once `want` feasible nodes are found. Returns the feasible nodes (each
-- {node=, index=}), the statuses of the nodes that failed, and how many nodes were looked at.
local function find_feasible(policy, pod, ctx, nodes, want)
    local n = #nodes
    local start = (next_start[policy] or 0) % n
    local feasible, statuses, processed = {}, {}, 0
    for i = 0, n - 1 do
        local idx = (start + i) % n + 1
        local node = nodes[idx]
        processed = processed + 1
        local st = true
        if policy.filter then
            st = run_filter(policy, pod, node, ctx)
        end
        if st == true then
            feasible[#feasible + 1] = { node = node, index = idx }
            if #feasible >= want then
                break
            end
        else
            statuses[#statuses + 1] = st
        end
    end
    next_start[policy] = (start + processed) % n
    return feasible, statuses, processed
end

-- Node name of a Node object ("" when it has none, which never matches a pod).
local function node_name(node)
    return type(node.metadata) == "table" and node.metadata.name or ""
end

-- Sorts feasible positions (numbers, or the {node=, index=} of find_feasible) into
-- ctx.nodes order, to keep ties stable: evaluate and choose in the order of ctx.nodes, not
-- the rotation. The rotation visits start+1..n then 1..start, so the indexes rise, wrap
-- once, and rise again: putting the wrapped part first sorts them in linear time.
local function unwrap(list, key)
    local wrap = nil
    for i = 2, #list do
        local a, b = list[i], list[i - 1]
        if key then
            a, b = a[key], b[key]
        end
        if a < b then
            wrap = i
            break
        end
    end
    if not wrap then
        return list
    end
    local sorted, n = {}, 0
    for i = wrap, #list do
        n = n + 1
        sorted[n] = list[i]
    end
    for i = 1, wrap - 1 do
        n = n + 1
        sorted[n] = list[i]
    end
    return sorted
end

-- Fields of ctx.state that the batch path builds on first read (feasible, scores, ...).
-- `lazy` maps such a key to a function building its value from `lazy` itself, which also
-- holds what the builders need under other keys (non-function values, never handed out).
-- Reading works as if the fields were set; pairs() over ctx.state does not see them until
-- read. The builders are functions of the modules, not closures made per cycle: LuaJIT
-- does not compile the creation of a closure, and a cycle that made some ran interpreted.
local lazy_of = setmetatable({}, { __mode = "k" })   -- state -> lazy
local LAZY_MT = { __index = function(t, key)
    local lazy = lazy_of[t]
    local build = lazy and lazy[key]
    if type(build) ~= "function" then
        return nil
    end
    lazy[key] = nil
    local value = build(lazy)
    t[key] = value
    return value
end }

local function lazy_state(state, lazy)
    lazy_of[state] = lazy
    setmetatable(state, LAZY_MT)
end

-- The feasible positions lazy.idx (rotation order) in ctx.nodes order.
local function lazy_in_order(lazy)
    local sorted = lazy._sorted
    if sorted == nil then
        sorted = unwrap(lazy.idx)
        lazy._sorted = sorted
    end
    return sorted
end

-- ctx.state.feasible of the batch path: {node, index} per feasible node, in ctx.nodes order.
local function build_feasible(lazy)
    local feasible, list, nodes = {}, lazy_in_order(lazy), lazy.nodes
    for k = 1, lazy.nf do
        feasible[k] = { node = nodes[list[k]], index = list[k] }
    end
    return feasible
end

-- ctx.state.scores of the batch path: node name -> final score.
local function build_scores(lazy)
    local scores, nodes, idx, final = {}, lazy.nodes, lazy.idx, lazy.final
    for k = 1, lazy.nf do
        scores[node_name(nodes[idx[k]])] = final[k]
    end
    return scores
end

-- The batch forms a policy may use: those of the default policy (lua/berth/default_scheduler.lua,
-- policy.batch), when the policy's filter is the default's filter. They filter all the
-- nodes of a cycle, and score all the feasible ones, in one call each, with the same result
-- as calling the hooks node by node; only the cost differs.
local function batch_of(policy)
    local dp = default_policy
    local b = dp and dp.batch
    if type(b) == "table" and policy.filter ~= nil and policy.filter == b.filter then
        return b
    end
    return nil
end

-- The rest of a cycle with the batch forms: filter, score, normalize, choose. Returns the
-- chosen node's name, or nil and kube's message. nodes is ctx.nodes, want the number of
-- feasible nodes to find. ctx.state.feasible and ctx.state.scores are built on first read.
local function schedule_batch(policy, b, pod, ctx, nodes, want)
    local n = #nodes
    local start = (next_start[policy] or 0) % n
    local idx, wrap, processed, nfail, fail_reason, fail_code = b.find_feasible(pod, ctx, nodes, start, want)
    next_start[policy] = (start + processed) % n
    local nf = #idx
    if nf == 0 then
        local statuses = {}
        for j = 1, nfail do
            local reason = fail_reason[j]
            statuses[j] = {
                reasons = type(reason) == "table" and reason or
                    { tostring(reason or "node(s) didn't pass the policy's filter") },
                unresolvable = fail_code[j] == "unresolvable",
            }
        end
        return nil, M.fit_error(n, statuses)
    end
    -- idx is in rotation order; sorted (ctx.nodes order) only where the order shows: the
    -- batch score breaks ties by position itself.
    local state = ctx.state
    local lazy = { feasible = build_feasible, nodes = nodes, idx = idx, nf = nf,
        _sorted = not wrap and idx or nil }
    -- A state table that already has a metatable (a prefilter's doing) gets plain fields.
    local eager = getmetatable(state) ~= nil
    if eager then
        state.feasible = build_feasible(lazy)
        lazy.feasible = nil
    else
        lazy_state(state, lazy)
    end
    if nf == 1 or not policy.score then
        -- kube skips scoring when only one node is feasible.
        return node_name(nodes[lazy_in_order(lazy)[1]])
    end
    local best_k, final
    if policy.score == b.score and policy.normalize == b.normalize then
        best_k, final = b.score_feasible(pod, ctx, nodes, idx, lazy)
    end
    if best_k then
        lazy.final, lazy.scores = final, build_scores
        if eager then
            for key, build in pairs(lazy) do
                if type(build) == "function" then
                    state[key] = build(lazy)
                end
            end
        end
        return node_name(nodes[idx[best_k]])
    end
    -- The policy's own score (or normalize): node by node in ctx.nodes order, as schedule.
    local list = lazy_in_order(lazy)
    local scores = {}
    local score = policy.score
    for k = 1, nf do
        local node = nodes[list[k]]
        scores[node_name(node)] = tonumber(score(pod, node, ctx)) or 0
    end
    if policy.normalize then
        policy.normalize(pod, scores, ctx)
    end
    local best, best_score
    for k = 1, nf do
        local name = node_name(nodes[list[k]])
        local s = scores[name] or 0
        if best_score == nil or s > best_score then
            best, best_score = name, s
        end
    end
    state.scores = scores
    return best
end

-- Runs one cycle: prefilter, filter (sampled), score, normalize, choose, reserve.
-- Returns nodeName, or nil and kube's message. Raises only when a hook raises (the core
-- reports that as a policy error, not as an unschedulable pod).
-- Borrowed: pod and ctx; ctx.state is replaced by a fresh table.
function M.schedule(policy, pod, ctx)
    local nodes = ctx.nodes or {}
    -- A fresh state: the core's own when it passed one (empty, no metatable).
    local state = ctx.state
    if type(state) ~= "table" or next(state) ~= nil or getmetatable(state) ~= nil then
        ctx.state = {}
    end
    if #nodes == 0 then
        return nil, "no nodes available to schedule pods"
    end
    if policy.prefilter then
        local ok, reason = policy.prefilter(pod, ctx)
        if not ok then
            return nil, M.fit_error(#nodes, {}, tostring(reason or "rejected by prefilter"))
        end
    end
    local want = M.num_feasible_nodes_to_find(ctx.percentage_of_nodes_to_score, #nodes)
    local best
    local b = batch_of(policy)
    if b then
        local msg
        best, msg = schedule_batch(policy, b, pod, ctx, nodes, want)
        if best == nil then
            return nil, msg
        end
    else
        local feasible, statuses = find_feasible(policy, pod, ctx, nodes, want)
        if #feasible == 0 then
            return nil, M.fit_error(#nodes, statuses)
        end
        feasible = unwrap(feasible, "index")
        ctx.state.feasible = feasible
        if #feasible == 1 or not policy.score then
            -- kube skips scoring when only one node is feasible.
            best = node_name(feasible[1].node)
        else
            local scores = {}
            for _, f in ipairs(feasible) do
                scores[node_name(f.node)] = tonumber(policy.score(pod, f.node, ctx)) or 0
            end
            if policy.normalize then
                policy.normalize(pod, scores, ctx)
            end
            local best_score
            for _, f in ipairs(feasible) do
                local name = node_name(f.node)
                local s = scores[name] or 0
                if best_score == nil or s > best_score then
                    best, best_score = name, s
                end
            end
            ctx.state.scores = scores
        end
    end
    if policy.reserve then
        local ok, reason = policy.reserve(pod, best, ctx)
        if ok == false then
            return nil, tostring(reason or "reserve failed")
        end
    end
    -- A bind hook that binds the pod itself (through berth.cluster) says so with true; the
    -- core then does not bind through pods/binding.
    if M.bind(policy, pod, best, ctx) then
        return best, nil, true
    end
    return best
end

-- Calls the policy's bind hook; true when the policy bound the pod itself, false when the
-- core must bind through pods/binding.
function M.bind(policy, pod, node_name_, ctx)
    if policy.bind then
        return policy.bind(pod, node_name_, ctx) == true
    end
    return false
end

-- The queue order of pending pods by the policy's sort hook: an array of the indexes of
-- pods (1..#pods), first to schedule first. The core calls it (as the policy's `order`
-- hook, which with_defaults adds) on each batch of pods it takes up. Pods that sort equal
-- keep their arrival order. Borrowed: pods.
function M.order(policy, pods)
    local idx = {}
    for i = 1, #pods do
        idx[i] = i
    end
    local sort = policy.sort
    if sort then
        table.sort(idx, function(a, b)
            if sort(pods[a], pods[b]) then
                return true
            end
            if sort(pods[b], pods[a]) then
                return false
            end
            return a < b
        end)
    end
    return idx
end

-- Sorts a list of pending pods in place with the policy's sort hook (queue order).
function M.sort_queue(policy, pods)
    if policy.sort then
        table.sort(pods, policy.sort)
    end
    return pods
end

-- Forgets the rotating start offset of a policy (tests; the core after a reload).
function M.reset(policy)
    next_start[policy] = nil
end

return M
