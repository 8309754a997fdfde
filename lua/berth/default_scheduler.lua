-- lua/berth/default_scheduler.lua: berth's default scheduler profile, the plugins of kube-scheduler's
-- default profile written as one Lua policy for lua/berth/framework.lua.
-- Filters: NodeName, NodeUnschedulable, node readiness (as the not-ready/unreachable taints),
-- TaintToleration, NodeAffinity (+ nodeSelector), NodeResourcesFit, NodePorts,
-- InterPodAffinity, PodTopologySpread (DoNotSchedule).
-- Scores (kube's default weights): TaintToleration 3, NodeAffinity 2, PodTopologySpread 2,
-- InterPodAffinity 2, NodeResourcesFit 1 (LeastAllocated, or MostAllocated: see STRATEGY),
-- NodeResourcesBalancedAllocation 1.
-- Depends on: berth.framework, berth.selector, berth.quantity, berth.util.
-- Called by: policies/scheduler.lua (the default-scheduler policy) and every other policy
-- through framework.with_defaults(policy), which inherits its hooks. It lives in the library
-- so that policies of any scheduler, each in its own VM, can inherit it. See docs/lua-api.md, "The scheduling framework".

-- Globals as locals: in the sandbox every global read goes through the environment's
-- metatable, which the interpreter pays on each call in the per-node loops.
local type, pairs, ipairs, next, tostring, tonumber, error, setmetatable, assert =
    type, pairs, ipairs, next, tostring, tonumber, error, setmetatable, assert
local math, string, table = math, string, table
-- table.new(narray, nhash) makes a table sized for what will go in: the per-node arrays of
-- a cycle are then one allocation each instead of one per doubling. LuaJIT's extension,
-- which the policy sandbox offers (engine/luavm.c); elsewhere (a plain Lua 5.1) a {}.
local new_table = table.new or function() return {} end
local framework = require("berth.framework")
local selector = require("berth.selector")
local quantity = require("berth.quantity")
local util = require("berth.util")

-- Switch to "MostAllocated" to pack pods onto the fullest nodes (bin packing) instead of
-- spreading them over the emptiest.
local STRATEGY = "LeastAllocated"

-- kube's default profile weights (pkg/scheduler/apis/config/v1/default_plugins.go).
local WEIGHTS = {
    taint = 3, node_affinity = 2, spread = 2, inter_pod = 2, fit = 1, balanced = 1,
}
local TOTAL_WEIGHT = 0
for _, w in pairs(WEIGHTS) do
    TOTAL_WEIGHT = TOTAL_WEIGHT + w
end

-- Scoring counts a pod without requests as this much (kube's NonZeroRequested), so that
-- best-effort pods still spread; the fit filter counts them as 0.
local DEFAULT_MILLI_CPU = 100
local DEFAULT_MEMORY = 200 * 1024 * 1024

local MAX = framework.MAX_NODE_SCORE
local RAW = "default_scores"   -- ctx.state key of the per-plugin raw scores

local policy = {}

---------------------------------------------------------------------------------------------
-- Small helpers
---------------------------------------------------------------------------------------------

-- t[a][b][c][d] (as many keys as given); nil when a step is missing or not a table.
-- util.get parses its path string on every call, which dominated the profile of a cycle
-- over 5000 nodes; this is the hot-path form.
local function dig(t, a, b, c, d)
    t = type(t) == "table" and t[a] or nil
    if b == nil then
        return t
    end
    t = type(t) == "table" and t[b] or nil
    if c == nil then
        return t
    end
    t = type(t) == "table" and t[c] or nil
    if d == nil then
        return t
    end
    return type(t) == "table" and t[d] or nil
end

-- Shared empty label map; never written to.
local NO_LABELS = setmetatable({}, { __newindex = function() error("NO_LABELS is read-only", 2) end })

local function labels_of(obj)
    local m = obj.metadata
    return type(m) == "table" and type(m.labels) == "table" and m.labels or NO_LABELS
end

-- v when it is a string, else nil. The core's objects carry JSON null as a light userdata
-- (berth.null, engine/luajson.h), which is neither nil nor a string: fields read as strings
-- go through this so a null never compares as a value.
local function str(v)
    return type(v) == "string" and v or nil
end

local function name_of(obj)
    local m = obj.metadata
    return type(m) == "table" and str(m.name) or ""
end

local function ns_of(pod)
    local m = pod.metadata
    return type(m) == "table" and str(m.namespace) or "default"
end

-- v when it is a table, else a shared empty list (never written to: what list() returns
-- is only read, and a new {} per call was garbage on every cycle).
local LIST0 = setmetatable({}, { __newindex = function() error("LIST0 is read-only", 2) end })
local function list(v)
    return type(v) == "table" and v or LIST0
end

-- A quantity in base units (milli for cpu); unparsable values count 0 rather than failing
-- the whole cycle: the API server validated them already. Memoized by string: the same few
-- strings ("100m", "128Mi") recur on every pod of every node in every cycle and parsing is
-- exact decimal arithmetic; the memo is dropped when it reaches AMOUNT_MEMO_MAX strings.
local AMOUNT_MEMO_MAX = 4096
local amount_memo, amount_memo_size = {}, 0
local function amount(resource, s)
    if type(s) ~= "string" and type(s) ~= "number" then
        return 0
    end
    s = tostring(s)
    local key = (resource == "cpu" and "m:" or "v:") .. s
    local v = amount_memo[key]
    if v then
        return v
    end
    if resource == "cpu" then
        v = quantity.parse_milli(s) or 0
    else
        v = quantity.parse_value(s) or 0
    end
    if amount_memo_size >= AMOUNT_MEMO_MAX then
        amount_memo, amount_memo_size = {}, 0
    end
    amount_memo[key], amount_memo_size = v, amount_memo_size + 1
    return v
end

---------------------------------------------------------------------------------------------
-- Pod resource requests (kube's resource.PodRequests)
---------------------------------------------------------------------------------------------

-- Requests of one pod: map resource -> amount (cpu in milli). max(sum of containers plus
-- sidecars, each init container plus the sidecars started before it) + overhead, so the
-- largest moment of the pod's life must fit. Not cached on the pod (that would leak into
-- the object); prefilter keeps the incoming pod's in ctx.state.requests and node_usage
-- memoizes the node sums per cycle. Exported as policy.pod_requests for other policies.
local function pod_requests(pod)
    local total = {}
    local spec = list(pod.spec)
    for _, c in ipairs(list(spec.containers)) do
        for r, q in pairs(list(dig(c, "resources", "requests"))) do
            total[r] = (total[r] or 0) + amount(r, q)
        end
    end
    local inits = spec.initContainers
    if type(inits) ~= "table" or #inits == 0 then
        for r, q in pairs(list(spec.overhead)) do
            total[r] = (total[r] or 0) + amount(r, q)
        end
        return total
    end
    local sidecars, init_max = {}, {}
    for _, c in ipairs(inits) do
        local req = list(dig(c, "resources", "requests"))
        if type(c) == "table" and c.restartPolicy == "Always" then
            -- A sidecar keeps running next to the regular containers.
            for r, q in pairs(req) do
                local v = amount(r, q)
                sidecars[r] = (sidecars[r] or 0) + v
                init_max[r] = math.max(init_max[r] or 0, sidecars[r])
            end
        else
            for r, q in pairs(req) do
                init_max[r] = math.max(init_max[r] or 0, amount(r, q) + (sidecars[r] or 0))
            end
        end
    end
    for r, v in pairs(sidecars) do
        total[r] = (total[r] or 0) + v
    end
    for r, v in pairs(init_max) do
        if v > (total[r] or 0) then
            total[r] = v
        end
    end
    for r, q in pairs(list(spec.overhead)) do
        total[r] = (total[r] or 0) + amount(r, q)
    end
    return total
end
policy.pod_requests = pod_requests

-- Requests of the pods on a node, plus the pod count. The core hands out one ctx.pods_on
-- array per node until that node's pods change (lua/berth/framework.lua, "ctx"), so the
-- sums are memoized per array, across decisions: a decision costs the pods that changed,
-- not every pod in the cluster. Weak keys: an array the core replaced is collected with
-- its sums. A placed pod's own requests are memoized per pod table too (the core converts
-- a pod once per resourceVersion), so a node whose array changed re-sums numbers instead of
-- re-parsing every container of every pod on it.
local node_info   -- below
local usage_memo = setmetatable({}, { __mode = "k" })
local placed_req_memo = setmetatable({}, { __mode = "k" })
local EMPTY = {}
local EMPTY_USAGE = { req = {}, nonzero_cpu = 0, nonzero_mem = 0, pods = 0 }

-- The usage of a pods_on array (EMPTY for none): {req, nonzero_cpu, nonzero_mem, pods}.
-- Never modified once made.
local function usage_of(pods)
    if pods == EMPTY then
        return EMPTY_USAGE
    end
    local u = usage_memo[pods]
    if u then
        return u
    end
    local req, nonzero_cpu, nonzero_mem, n = {}, 0, 0, 0
    for _, p in ipairs(pods) do
        local r = placed_req_memo[p]
        if r == nil then
            r = pod_requests(p)
            placed_req_memo[p] = r
        end
        for k, v in pairs(r) do
            req[k] = (req[k] or 0) + v
        end
        nonzero_cpu = nonzero_cpu + ((r.cpu or 0) > 0 and r.cpu or DEFAULT_MILLI_CPU)
        nonzero_mem = nonzero_mem + ((r.memory or 0) > 0 and r.memory or DEFAULT_MEMORY)
        n = n + 1
    end
    u = { req = req, nonzero_cpu = nonzero_cpu, nonzero_mem = nonzero_mem, pods = n }
    usage_memo[pods] = u
    return u
end

-- ctx.pods_on(name) as a table (EMPTY when the core has nothing or no pods_on).
local function pods_on_of(ctx, name)
    local pods = ctx.pods_on and ctx.pods_on(name) or EMPTY
    if type(pods) ~= "table" then
        pods = EMPTY
    end
    return pods
end

local function node_usage(node, ctx)
    return usage_of(pods_on_of(ctx, node_info(node).name))
end

-- Host ports in use on a node (see host_ports below), memoized like node_usage.
local ports_memo = setmetatable({}, { __mode = "k" })
local host_ports

local function node_ports(node, ctx)
    local pods = pods_on_of(ctx, node_info(node).name)
    local used = ports_memo[pods]
    if used then
        return used
    end
    used = {}
    for _, other in ipairs(pods) do
        for _, a in ipairs(host_ports(other)) do
            used[#used + 1] = a
        end
    end
    if pods ~= EMPTY then
        ports_memo[pods] = used
    end
    return used
end

local function allocatable(node, resource)
    return amount(resource, dig(node, "status", "allocatable", resource))
end

-- What the filters and scores read from a node, computed once per Node object: the core
-- hands out the same table until the node changes (a new resourceVersion), so this is
-- memoized per table, weakly. effective_taints is defined below.
--
-- The record also carries the slots the batch filter and score (below, "Batch forms")
-- keep per node across decisions: the pods_on array its usage was summed from and that
-- usage flattened into numbers (pods, u_*, free_*, full), `fresh` (that array is still the
-- node's current one), the resource scores last computed (s_*, for the requests s_rc and
-- s_rm) and `tmemo` (taint filter results per tolerations key). It never refers to the
-- node table, or the weak key could never be collected.
local effective_taints
local node_info_memo = setmetatable({}, { __mode = "k" })
local NO_TAINTS = {}

function node_info(node)
    local info = node_info_memo[node]
    if info then
        return info
    end
    local hard, prefer = {}, {}
    for _, t in ipairs(effective_taints(node)) do
        if type(t) == "table" then
            if t.effect == "NoSchedule" or t.effect == "NoExecute" then
                hard[#hard + 1] = t
            elseif t.effect == "PreferNoSchedule" then
                prefer[#prefer + 1] = t
            end
        end
    end
    local alloc = {}
    for r, q in pairs(list(dig(node, "status", "allocatable"))) do
        alloc[r] = amount(r, q)
    end
    info = {
        name = name_of(node),
        hard_taints = #hard > 0 and hard or NO_TAINTS,
        prefer_taints = #prefer > 0 and prefer or NO_TAINTS,
        alloc = alloc,
        has_max_pods = dig(node, "status", "allocatable", "pods") ~= nil,
        unschedulable = dig(node, "spec", "unschedulable") == true,
        labels = labels_of(node),
        alloc_cpu = alloc.cpu or 0, alloc_mem = alloc.memory or 0, alloc_pods = alloc.pods or 0,
        -- batch slots
        pods = false, u_req = EMPTY_USAGE.req, u_pods = 0, u_cpu = 0, u_mem = 0,
        u_nzcpu = 0, u_nzmem = 0, free_cpu = 0, free_mem = 0, full = false, fresh = false,
        s_rc = false, s_rm = false, s_fit = 0, s_bal = 0, tmemo = false, tmemo_n = 0,
    }
    node_info_memo[node] = info
    return info
end

---------------------------------------------------------------------------------------------
-- Filters, one per kube plugin. Each returns true, or false, reason(s), code.
---------------------------------------------------------------------------------------------

-- NodeName: a pod that names its node fits only there.
local function node_name_filter(pod, node)
    local want = str(dig(pod, "spec", "nodeName"))
    if want and want ~= "" and want ~= name_of(node) then
        return false, "node(s) didn't match the requested node name", "unresolvable"
    end
    return true
end

-- NodeUnschedulable: cordoned nodes take only pods tolerating the unschedulable taint
-- (DaemonSet pods carry that toleration).
local UNSCHEDULABLE_TAINT = { key = "node.kubernetes.io/unschedulable", effect = "NoSchedule" }
local function node_unschedulable_filter(pod, node)
    if node_info(node).unschedulable and
       not selector.tolerates_taint(dig(pod, "spec", "tolerations"), UNSCHEDULABLE_TAINT) then
        return false, "node(s) were unschedulable", "unresolvable"
    end
    return true
end

-- The node's taints plus the one kube's node lifecycle controller would add for its Ready
-- condition: Ready=Unknown (the node stopped reporting) -> unreachable, any other non-True
-- (False, or no condition yet) -> not-ready. Doing it here means pods do not land on a
-- broken node in the window before that controller (or in a cluster without it) taints it.
function effective_taints(node)
    local taints = list(dig(node, "spec", "taints"))
    local ready
    for _, c in ipairs(list(dig(node, "status", "conditions"))) do
        if type(c) == "table" and c.type == "Ready" then
            ready = c.status
        end
    end
    if ready == "True" then
        return taints
    end
    local key = ready == "Unknown" and "node.kubernetes.io/unreachable" or "node.kubernetes.io/not-ready"
    for _, t in ipairs(taints) do
        if type(t) == "table" and t.key == key and t.effect == "NoSchedule" then
            return taints
        end
    end
    local out = { { key = key, effect = "NoSchedule" } }
    for _, t in ipairs(taints) do
        out[#out + 1] = t
    end
    return out
end

-- The TaintToleration reason for an untolerated taint, made once per taint table (a node's
-- taints are the same tables until the node changes).
local taint_reason_memo = setmetatable({}, { __mode = "k" })
local function taint_reason(t)
    local r = taint_reason_memo[t]
    if r == nil then
        r = "node(s) had untolerated taint {" .. (str(t.key) or "") .. ": " .. (str(t.value) or "") .. "}"
        taint_reason_memo[t] = r
    end
    return r
end

-- TaintToleration: every NoSchedule/NoExecute taint must be tolerated.
local function taint_filter(pod, node, ctx)
    local taints = node_info(node).hard_taints
    if taints == NO_TAINTS then
        return true
    end
    local t = selector.untolerated_taint(taints, dig(pod, "spec", "tolerations"))
    if t then
        return false, taint_reason(t), "unresolvable"
    end
    return true
end

-- NodeAffinity: spec.nodeSelector and required node affinity (selector.pod_matches_node,
-- with the pod's parts looked up once per cycle by prefilter).
local function node_affinity_filter(pod, node, ctx)
    local st = ctx.state
    local ok = true
    if st.node_selector and not selector.matches_set(st.node_selector, labels_of(node)) then
        ok = false
    elseif st.required_node_affinity then
        ok = selector.node_selector_matches(st.required_node_affinity, node)
    end
    if not ok then
        return false, "node(s) didn't match Pod's node affinity/selector", "unresolvable"
    end
    return true
end

-- NodeResourcesFit: the pod's requests must fit in allocatable minus what the node's pods
-- request, and the node's pod count must stay within allocatable pods. Every short
-- resource is a reason of its own, as in kube.
local FIT_ORDER = { "cpu", "memory", "ephemeral-storage" }

-- The resources a pod requests, in the order their reasons are reported: cpu, memory,
-- ephemeral-storage, then extended resources (nvidia.com/gpu, hugepages-2Mi, ...) sorted.
local function fit_resources(req)
    local out, n = {}, 0
    for _, r in ipairs(FIT_ORDER) do
        if (req[r] or 0) > 0 then
            n = n + 1
            out[n] = r
        end
    end
    local extra
    for r, v in pairs(req) do
        if r ~= "cpu" and r ~= "memory" and r ~= "ephemeral-storage" and r ~= "pods" and v > 0 then
            extra = extra or {}
            extra[#extra + 1] = r
        end
    end
    if extra then
        table.sort(extra)
        for i = 1, #extra do
            out[n + i] = extra[i]
        end
    end
    return out
end

-- fit_resources of the pod of this cycle (ctx.state), computed once per cycle.
local function pod_fit_resources(st)
    local resources = st.fit_resources
    if resources == nil then
        resources = fit_resources(st.requests)
        st.fit_resources = resources
    end
    return resources
end

local function fit_filter(pod, node, ctx)
    local st = ctx.state
    local req = st.requests
    local info = node_info(node)
    local u = node_usage(node, ctx)
    local alloc = info.alloc
    local reasons
    if info.has_max_pods and u.pods + 1 > (alloc.pods or 0) then
        reasons = { "Too many pods" }
    end
    local resources = pod_fit_resources(st)
    local used = u.req
    for i = 1, #resources do
        local r = resources[i]
        if req[r] > (alloc[r] or 0) - (used[r] or 0) then
            reasons = reasons or {}
            reasons[#reasons + 1] = "Insufficient " .. r
        end
    end
    if reasons then
        return false, reasons
    end
    return true
end

-- Host ports a pod asks for: list of {port, protocol, ip}. Sidecar init containers run
-- alongside the containers, so their ports count too. (No closure in here: creating one
-- is not compiled by LuaJIT, and stops the trace of every caller.)
local function add_host_ports(out, c)
    local ports = type(c) == "table" and c.ports
    if type(ports) ~= "table" then
        return
    end
    for _, p in ipairs(ports) do
        local hp = type(p) == "table" and tonumber(p.hostPort)
        if hp and hp > 0 then
            local ip = str(p.hostIP)
            if ip == nil or ip == "" then
                ip = "0.0.0.0"
            end
            out[#out + 1] = { port = hp, protocol = str(p.protocol) or "TCP", ip = ip }
        end
    end
end

function host_ports(pod)
    local out = {}
    local spec = pod.spec
    if type(spec) ~= "table" then
        return out
    end
    local cs = spec.containers
    if type(cs) == "table" then
        for _, c in ipairs(cs) do
            add_host_ports(out, c)
        end
    end
    cs = spec.initContainers
    if type(cs) == "table" then
        for _, c in ipairs(cs) do
            if type(c) == "table" and c.restartPolicy == "Always" then
                add_host_ports(out, c)
            end
        end
    end
    return out
end

-- NodePorts: two pods conflict when protocol and port are equal and the host IPs overlap
-- (equal, or either is the wildcard 0.0.0.0).
local function ports_filter(pod, node, ctx)
    local want = ctx.state.host_ports
    if #want == 0 then
        return true
    end
    for _, a in ipairs(node_ports(node, ctx)) do
        for _, b in ipairs(want) do
            if a.port == b.port and a.protocol == b.protocol and
               (a.ip == b.ip or a.ip == "0.0.0.0" or b.ip == "0.0.0.0") then
                return false, "node(s) didn't have free ports for the requested pod ports"
            end
        end
    end
    return true
end

---------------------------------------------------------------------------------------------
-- Pod affinity terms (shared by the InterPodAffinity filter and score)
---------------------------------------------------------------------------------------------

-- The labels of a namespace, for namespaceSelector: from ctx.namespace_labels when the core
-- provides it, else the one label kube sets on every namespace.
local function namespace_labels(ctx, ns)
    if type(ctx.namespace_labels) == "function" then
        local l = ctx.namespace_labels(ns)
        if type(l) == "table" then
            return l
        end
    end
    return { ["kubernetes.io/metadata.name"] = ns }
end

-- Compiles a PodAffinityTerm of `owner` (whose namespace is the default): returns
-- {sel, key, namespaces (set or nil), ns_sel (or nil)}, or nil when the term is invalid.
local function compile_term(term, owner)
    if type(term) ~= "table" or type(term.topologyKey) ~= "string" or term.topologyKey == "" then
        return nil
    end
    -- A missing (or null) labelSelector selects no pod, as in kube; the term stays, so
    -- required affinity with it is never satisfied.
    local ls = type(term.labelSelector) == "table" and term.labelSelector or nil
    local sel = selector.from_label_selector(ls)
    if not sel then
        return nil
    end
    local ns_sel = type(term.namespaceSelector) == "table" and term.namespaceSelector or nil
    local t = { sel = sel, key = term.topologyKey }
    local names = list(term.namespaces)
    if #names > 0 or ns_sel == nil then
        t.namespaces = {}
        for _, n in ipairs(names) do
            t.namespaces[n] = true
        end
        if #names == 0 then
            t.namespaces[ns_of(owner)] = true
        end
    end
    if ns_sel ~= nil then
        t.ns_sel = selector.from_label_selector(ns_sel)
    end
    return t
end

-- True when pod is selected by the compiled term: its namespace is in the term's set (or
-- matches the namespace selector) and its labels match.
local function term_matches(t, pod, ctx)
    local ns = ns_of(pod)
    local in_ns = t.namespaces and t.namespaces[ns]
    if not in_ns and t.ns_sel then
        in_ns = selector.matches(t.ns_sel, namespace_labels(ctx, ns))
    end
    return in_ns and selector.matches(t.sel, labels_of(pod)) or false
end

local function compile_terms(terms, owner, weighted)
    if type(terms) ~= "table" or terms[1] == nil then
        return LIST0
    end
    local out = {}
    for _, term in ipairs(list(terms)) do
        local ct
        if weighted then
            ct = type(term) == "table" and compile_term(term.podAffinityTerm, owner)
            if ct then
                ct.weight = tonumber(term.weight) or 0
            end
        else
            ct = compile_term(term, owner)
        end
        if ct then
            out[#out + 1] = ct
        end
    end
    return out
end

local REQ = "requiredDuringSchedulingIgnoredDuringExecution"
local PREF = "preferredDuringSchedulingIgnoredDuringExecution"

local function terms_of(pod, kind, which, weighted)
    return compile_terms(dig(pod, "spec", "affinity", kind, which), pod, weighted)
end

-- Adds n to counts[key][value] for the topology domain of node under key.
local function bump(counts, key, node, n)
    local v = labels_of(node)[key]
    if v == nil then
        return
    end
    counts[key] = counts[key] or {}
    counts[key][v] = (counts[key][v] or 0) + n
end

local function domain_count(counts, key, node)
    local v = labels_of(node)[key]
    return v ~= nil and counts[key] and counts[key][v] or 0
end

-- Scheduled pods with their nodes, as parallel arrays {pods = {...}, nodes = {...}}, and
-- the same for the subset with any spec.affinity (the only pods whose own terms matter to
-- the incoming pod). Pods whose node is not in ctx.nodes have no topology and are skipped,
-- terminating pods too. One pass per cycle with plain field access and no table per pod:
-- with 20000 pods this loop is the hot spot of a cycle.
-- Node name -> Node, memoized per ctx.nodes array (the core keeps one until a node changes).
local by_name_memo = setmetatable({}, { __mode = "k" })
local function nodes_by_name(nodes)
    local by_name = by_name_memo[nodes]
    if by_name == nil then
        by_name = {}
        for _, n in ipairs(nodes) do
            by_name[name_of(n)] = n
        end
        by_name_memo[nodes] = by_name
    end
    return by_name
end

-- Node name -> its index in ctx.nodes, memoized the same way.
local index_memo = setmetatable({}, { __mode = "k" })
local function node_indexes(nodes)
    local pos = index_memo[nodes]
    if pos == nil then
        pos = {}
        for i, n in ipairs(nodes) do
            pos[name_of(n)] = i
        end
        index_memo[nodes] = pos
    end
    return pos
end

-- kube's PreFilterResult of NodeName and NodeAffinity: the only nodes that can fit, when the
-- pod names them (spec.nodeName, or required node affinity whose every term has a
-- matchFields metadata.name In: a DaemonSet's pods), as an array; nil when any node might.
local function named_nodes(pod, st)
    local want = str(dig(pod, "spec", "nodeName"))
    if want and want ~= "" then
        return { want }
    end
    local terms = type(st.required_node_affinity) == "table" and st.required_node_affinity.nodeSelectorTerms
    if type(terms) ~= "table" or #terms == 0 then
        return nil
    end
    local out = {}
    for _, term in ipairs(terms) do
        local names
        for _, req in ipairs(type(term) == "table" and type(term.matchFields) == "table" and term.matchFields or {}) do
            if type(req) == "table" and req.key == "metadata.name" and req.operator == "In" and
               type(req.values) == "table" then
                names = req.values
                break
            end
        end
        if names == nil then
            return nil
        end
        for _, n in ipairs(names) do
            if type(n) == "string" then
                out[#out + 1] = n
            end
        end
    end
    return out
end

local affinity_memo = setmetatable({}, { __mode = "k" })   -- pods_with_affinity array -> memo
local function placed_pods(ctx, need_all)
    if ctx.state.placed then
        return ctx.state.placed, ctx.state.placed_affinity
    end
    local by_name = nodes_by_name(ctx.nodes)
    -- A pod without terms of its own only needs the pods that carry affinity; the core can
    -- list those from an index (ctx.pods_with_affinity) instead of every pod in the cluster.
    if not need_all and type(ctx.pods_with_affinity) == "function" then
        if not ctx.state.placed_affinity_only then
            -- The core hands out the same array until those pods change, and the same
            -- ctx.nodes until a node does: the result is memoized for the pair.
            local arr = ctx.pods_with_affinity()
            local memo = affinity_memo[arr]
            local with_aff = memo and memo.by_name == by_name and memo.result
            if not with_aff then
                with_aff = { pods = {}, nodes = {} }
                local wp, wn = with_aff.pods, with_aff.nodes
                for _, p in ipairs(arr) do
                    local spec, meta = p.spec, p.metadata
                    local n = type(spec) == "table" and by_name[str(spec.nodeName) or ""]
                    if n and type(spec.affinity) == "table" and
                        not (type(meta) == "table" and str(meta.deletionTimestamp)) then
                        wp[#wp + 1], wn[#wn + 1] = p, n
                    end
                end
                if type(arr) == "table" then
                    affinity_memo[arr] = { by_name = by_name, result = with_aff }
                end
            end
            ctx.state.placed_affinity_only = with_aff
        end
        return nil, ctx.state.placed_affinity_only
    end
    local all = { pods = {}, nodes = {} }
    local with_aff = { pods = {}, nodes = {} }
    local ap, an, wp, wn = all.pods, all.nodes, with_aff.pods, with_aff.nodes
    for _, p in ipairs(framework.all_pods(ctx)) do
        local spec, meta = p.spec, p.metadata
        local n = type(spec) == "table" and by_name[str(spec.nodeName) or ""]
        if n and not (type(meta) == "table" and str(meta.deletionTimestamp)) then
            ap[#ap + 1], an[#an + 1] = p, n
            if type(spec.affinity) == "table" then
                wp[#wp + 1], wn[#wn + 1] = p, n
            end
        end
    end
    ctx.state.placed, ctx.state.placed_affinity = all, with_aff
    return all, with_aff
end

-- PreFilter half of InterPodAffinity: counts, per topology domain, the existing pods
-- matching each of the incoming pod's required (anti-)affinity terms, and the domains
-- forbidden by existing pods' required anti-affinity terms that select the incoming pod.
local function inter_pod_prefilter(pod, ctx)
    local aff = terms_of(pod, "podAffinity", REQ)
    local anti = terms_of(pod, "podAntiAffinity", REQ)
    local any_aff_match = false
    local all, with_aff = placed_pods(ctx, #aff > 0 or #anti > 0)
    -- Without terms of its own, only pods carrying affinity can reject the pod.
    local set = (#aff > 0 or #anti > 0) and all or with_aff
    -- The counts are written only for pods of set: none, no tables.
    local st = set.pods[1] == nil and
        { aff = aff, anti = anti, aff_counts = LIST0, anti_counts = LIST0, existing_anti = LIST0 } or
        { aff = aff, anti = anti, aff_counts = {}, anti_counts = {}, existing_anti = {} }
    for j, p in ipairs(set.pods) do
        local node = set.nodes[j]
        -- For affinity an existing pod counts only when it matches all the terms (kube's
        -- updateWithAffinityTerms); it then counts in each term's domain.
        local matches_all = #aff > 0
        for _, t in ipairs(aff) do
            if not term_matches(t, p, ctx) then
                matches_all = false
                break
            end
        end
        if matches_all then
            for i, t in ipairs(aff) do
                st.aff_counts[i] = st.aff_counts[i] or {}
                bump(st.aff_counts[i], t.key, node, 1)
                if labels_of(node)[t.key] ~= nil then
                    any_aff_match = true
                end
            end
        end
        for i, t in ipairs(anti) do
            if term_matches(t, p, ctx) then
                st.anti_counts[i] = st.anti_counts[i] or {}
                bump(st.anti_counts[i], t.key, node, 1)
            end
        end
        if dig(p, "spec", "affinity", "podAntiAffinity") then
            for _, t in ipairs(terms_of(p, "podAntiAffinity", REQ)) do
                if term_matches(t, pod, ctx) then
                    bump(st.existing_anti, t.key, node, 1)
                end
            end
        end
    end
    -- kube's special case: the first pod of a group that selects itself may go anywhere its
    -- terms' topology keys exist, or no such group could ever start.
    st.self_start = false
    if #aff > 0 and not any_aff_match then
        st.self_start = true
        for _, t in ipairs(aff) do
            if not term_matches(t, pod, ctx) then
                st.self_start = false
            end
        end
    end
    ctx.state.inter_pod = st
end

-- InterPodAffinity filter, in kube's order: the pod's affinity, its anti-affinity, then
-- the existing pods' anti-affinity.
local function inter_pod_filter(pod, node, ctx)
    local st = ctx.state.inter_pod
    for i, t in ipairs(st.aff) do
        local has_key = labels_of(node)[t.key] ~= nil
        local ok = has_key and (st.self_start or
            (st.aff_counts[i] and domain_count(st.aff_counts[i], t.key, node) > 0))
        if not ok then
            return false, "node(s) didn't match pod affinity rules", "unresolvable"
        end
    end
    for i, t in ipairs(st.anti) do
        if st.anti_counts[i] and domain_count(st.anti_counts[i], t.key, node) > 0 then
            return false, "node(s) didn't match pod anti-affinity rules"
        end
    end
    for key, values in pairs(st.existing_anti) do
        local v = labels_of(node)[key]
        if v ~= nil and values[v] then
            return false, "node(s) didn't satisfy existing pods anti-affinity rules"
        end
    end
    return true
end

---------------------------------------------------------------------------------------------
-- PodTopologySpread
---------------------------------------------------------------------------------------------

-- The pod's constraints with the given whenUnsatisfiable, compiled.
local function spread_constraints(pod, when)
    local cs = dig(pod, "spec", "topologySpreadConstraints")
    if type(cs) ~= "table" or cs[1] == nil then
        return LIST0
    end
    local out = {}
    for _, c in ipairs(list(dig(pod, "spec", "topologySpreadConstraints"))) do
        if type(c) == "table" and (str(c.whenUnsatisfiable) or "DoNotSchedule") == when and
           type(c.topologyKey) == "string" then
            -- A missing (or null) labelSelector selects no pod, as in kube.
            local sel = selector.from_label_selector(type(c.labelSelector) == "table" and c.labelSelector or nil)
            if sel then
                out[#out + 1] = {
                    key = c.topologyKey, sel = sel, max_skew = tonumber(c.maxSkew) or 1,
                    min_domains = tonumber(c.minDomains),
                }
            end
        end
    end
    return out
end

-- Counts matching pods per domain over the nodes that can take the pod (kube's default
-- nodeAffinityPolicy Honor: nodes the pod's node affinity/selector excludes do not count)
-- and that carry every constraint's key. Domains with no pods count as 0.
local function spread_counts(pod, ctx, constraints)
    local ns = ns_of(pod)
    local counts, eligible = {}, {}
    for i, c in ipairs(constraints) do
        counts[i] = {}
    end
    for _, n in ipairs(ctx.nodes) do
        local ok = selector.pod_matches_node(pod, n)
        for _, c in ipairs(constraints) do
            if labels_of(n)[c.key] == nil then
                ok = false
            end
        end
        if ok then
            eligible[name_of(n)] = true
            for i, c in ipairs(constraints) do
                local v = labels_of(n)[c.key]
                counts[i][v] = counts[i][v] or 0
            end
        end
    end
    local all = placed_pods(ctx, true)
    for j, p in ipairs(all.pods) do
        local node = all.nodes[j]
        if eligible[name_of(node)] and ns_of(p) == ns then
            for i, c in ipairs(constraints) do
                if selector.matches(c.sel, labels_of(p)) then
                    local v = labels_of(node)[c.key]
                    counts[i][v] = counts[i][v] + 1
                end
            end
        end
    end
    return counts
end

local function spread_prefilter(pod, ctx)
    local hard = spread_constraints(pod, "DoNotSchedule")
    local st = { hard = hard, counts = LIST0, min = LIST0 }
    if #hard > 0 then
        st.min = {}
        st.counts = spread_counts(pod, ctx, hard)
        for i, c in ipairs(hard) do
            local min, domains = nil, 0
            for _, n in pairs(st.counts[i]) do
                domains = domains + 1
                if min == nil or n < min then
                    min = n
                end
            end
            -- Fewer domains than minDomains: the global minimum is taken as 0, so pods
            -- cannot pile up in the domains that exist.
            if c.min_domains and domains < c.min_domains then
                min = 0
            end
            st.min[i] = min or 0
        end
    end
    ctx.state.spread = st
end

-- PodTopologySpread filter: placing the pod on node must keep every DoNotSchedule
-- constraint's skew (domain count - global minimum) within maxSkew.
local function spread_filter(pod, node, ctx)
    local st = ctx.state.spread
    for i, c in ipairs(st.hard) do
        local v = labels_of(node)[c.key]
        if v == nil then
            return false, "node(s) didn't match pod topology spread constraints (missing required label)",
                "unresolvable"
        end
        -- The incoming pod counts in its own domain when it matches its selector.
        local self_match = selector.matches(c.sel, labels_of(pod)) and 1 or 0
        if (st.counts[i][v] or 0) + self_match - st.min[i] > c.max_skew then
            return false, "node(s) didn't match pod topology spread constraints"
        end
    end
    return true
end

---------------------------------------------------------------------------------------------
-- Hooks: sort, prefilter, filter
---------------------------------------------------------------------------------------------

-- PrioritySort: higher spec.priority first, then older pods, then by name so the order is
-- total and repeatable.
function policy.sort(a, b)
    local pa, pb = tonumber(dig(a, "spec", "priority")) or 0, tonumber(dig(b, "spec", "priority")) or 0
    if pa ~= pb then
        return pa > pb
    end
    local ta = str(dig(a, "metadata", "creationTimestamp")) or ""
    local tb = str(dig(b, "metadata", "creationTimestamp")) or ""
    if ta ~= tb then
        return ta < tb
    end
    return ns_of(a) .. "/" .. name_of(a) < ns_of(b) .. "/" .. name_of(b)
end

-- Computes once per pod what every node's filter needs.
-- Computes once per pod what every node's filter needs, and which filters can reject a
-- node at all for this pod: the others are left out of the per-node loop.
function policy.prefilter(pod, ctx)
    local st = ctx.state
    st.requests = pod_requests(pod)
    st.host_ports = host_ports(pod)
    local ns = dig(pod, "spec", "nodeSelector")
    st.node_selector = type(ns) == "table" and ns or nil
    local req = dig(pod, "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
    st.required_node_affinity = type(req) == "table" and req or nil
    local pref = dig(pod, "spec", "affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
    st.preferred_node_affinity = type(pref) == "table" and #pref > 0 and pref or nil
    inter_pod_prefilter(pod, ctx)
    spread_prefilter(pod, ctx)
    st.named_nodes = named_nodes(pod, st)
    -- Filters in the order of kube's default profile (default_plugins.go). The first
    -- failing plugin decides the node's reason, as kube's framework stops at the first
    -- failing filter, so the order shows in FailedScheduling messages.
    local filters = { node_unschedulable_filter }
    local want = str(dig(pod, "spec", "nodeName"))
    if want and want ~= "" then
        filters[#filters + 1] = node_name_filter
    end
    filters[#filters + 1] = taint_filter
    if st.node_selector or st.required_node_affinity then
        filters[#filters + 1] = node_affinity_filter
    end
    if #st.host_ports > 0 then
        filters[#filters + 1] = ports_filter
    end
    filters[#filters + 1] = fit_filter
    if #st.spread.hard > 0 then
        filters[#filters + 1] = spread_filter
    end
    local ip = st.inter_pod
    if #ip.aff > 0 or #ip.anti > 0 or next(ip.existing_anti) ~= nil then
        filters[#filters + 1] = inter_pod_filter
    end
    st.filters = filters
    return true
end

function policy.filter(pod, node, ctx)
    local filters = ctx.state.filters
    if filters == nil then
        -- Called without prefilter (a policy that overrides prefilter and does not chain):
        -- compute the per-pod data now.
        policy.prefilter(pod, ctx)
        filters = ctx.state.filters
    end
    for i = 1, #filters do
        local ok, reason, code = filters[i](pod, node, ctx)
        if not ok then
            return false, reason, code
        end
    end
    return true
end

---------------------------------------------------------------------------------------------
-- Scores. score() records each plugin's raw value; normalize() normalizes per plugin across
-- the feasible nodes and combines them with the weights, as kube's framework does.
---------------------------------------------------------------------------------------------

-- NodeResourcesFit (LeastAllocated / MostAllocated) and BalancedAllocation over cpu and
-- memory, counting the incoming pod. Integer arithmetic as in kube.
local function resource_score(used, cap)
    if cap <= 0 then
        return 0
    end
    if STRATEGY == "MostAllocated" then
        return math.floor(math.min(used, cap) * MAX / cap)
    end
    if used > cap then
        return 0
    end
    return math.floor((cap - used) * MAX / cap)
end

local function resource_scores(pod, node, ctx, info)
    local req = ctx.state.requests
    local u = node_usage(node, ctx)
    local alloc = info.alloc
    local cpu_alloc, mem_alloc = alloc.cpu or 0, alloc.memory or 0
    -- LeastAllocated / MostAllocated use the non-zero requests.
    local rc, rm = req.cpu or 0, req.memory or 0
    local cpu_used = u.nonzero_cpu + (rc > 0 and rc or DEFAULT_MILLI_CPU)
    local mem_used = u.nonzero_mem + (rm > 0 and rm or DEFAULT_MEMORY)
    local fit = math.floor((resource_score(cpu_used, cpu_alloc) + resource_score(mem_used, mem_alloc)) / 2)
    -- BalancedAllocation uses the real requests: how far apart the cpu and memory fractions
    -- would be; a node whose resources are used evenly wastes less.
    -- A resource the node does not offer (allocatable 0) is left out, as in kube.
    local balanced = MAX
    if cpu_alloc > 0 and mem_alloc > 0 then
        local fc = math.min(((u.req.cpu or 0) + rc) / cpu_alloc, 1)
        local fm = math.min(((u.req.memory or 0) + rm) / mem_alloc, 1)
        balanced = math.floor((1 - math.abs(fc - fm) / 2) * MAX)
    end
    return fit, balanced
end

-- TaintToleration score: how many PreferNoSchedule taints the pod does not tolerate
-- (fewer is better; reversed in normalize).
local function prefer_tolerations(pod)
    local tols = {}
    for _, t in ipairs(list(dig(pod, "spec", "tolerations"))) do
        if type(t) == "table" and (str(t.effect) == nil or t.effect == "" or t.effect == "PreferNoSchedule") then
            tols[#tols + 1] = t
        end
    end
    return tols
end

local function taint_count(pod, node, ctx)
    local taints = node_info(node).prefer_taints
    if taints == NO_TAINTS then
        return 0
    end
    local tols = ctx.state.prefer_tolerations
    if tols == nil then
        tols = prefer_tolerations(pod)
        ctx.state.prefer_tolerations = tols
    end
    local n = 0
    for _, taint in ipairs(taints) do
        if not selector.tolerates_taint(tols, taint) then
            n = n + 1
        end
    end
    return n
end

-- InterPodAffinity score state: per topology key and value, the summed weights of the
-- incoming pod's preferred terms matched by existing pods (anti-affinity subtracts), and of
-- existing pods' preferred terms (and required affinity terms, weight 1 as kube's
-- hardPodAffinityWeight) that the incoming pod matches.
local function inter_pod_prescore(pod, ctx)
    local aff = terms_of(pod, "podAffinity", PREF, true)
    local anti = terms_of(pod, "podAntiAffinity", PREF, true)
    local topo = {}
    local all, with_aff = placed_pods(ctx, #aff > 0 or #anti > 0)
    local set = (#aff > 0 or #anti > 0) and all or with_aff
    for j, p in ipairs(set.pods) do
        local node = set.nodes[j]
        for _, t in ipairs(aff) do
            if term_matches(t, p, ctx) then
                bump(topo, t.key, node, t.weight)
            end
        end
        for _, t in ipairs(anti) do
            if term_matches(t, p, ctx) then
                bump(topo, t.key, node, -t.weight)
            end
        end
        if dig(p, "spec", "affinity") then
            for _, t in ipairs(terms_of(p, "podAffinity", REQ)) do
                if term_matches(t, pod, ctx) then
                    bump(topo, t.key, node, 1)
                end
            end
            for _, t in ipairs(terms_of(p, "podAffinity", PREF, true)) do
                if term_matches(t, pod, ctx) then
                    bump(topo, t.key, node, t.weight)
                end
            end
            for _, t in ipairs(terms_of(p, "podAntiAffinity", PREF, true)) do
                if term_matches(t, pod, ctx) then
                    bump(topo, t.key, node, -t.weight)
                end
            end
        end
    end
    ctx.state.inter_pod_topo = topo
end

local function inter_pod_score(node, ctx)
    local s = 0
    for key, values in pairs(ctx.state.inter_pod_topo) do
        local v = labels_of(node)[key]
        if v ~= nil and values[v] then
            s = s + values[v]
        end
    end
    return s
end

-- PodTopologySpread score state for ScheduleAnyway constraints: matching pods per domain,
-- and a weight per constraint of log(domains + 2), the domains counted among the feasible
-- nodes (ctx.state.feasible, set by the framework before scoring), so keys with many
-- domains (hostname) do not drown keys with few (zone), as kube does.
-- The feasible nodes are nodes[idx[k]] when idx is given (the batch score), else
-- ctx.state.feasible's.
local function spread_prescore(pod, ctx, nodes, idx)
    local soft = spread_constraints(pod, "ScheduleAnyway")
    local st = { soft = soft }
    if #soft > 0 then
        st.counts = spread_counts(pod, ctx, soft)
        st.weights = {}
        local feasible = not idx and (ctx.state.feasible or {}) or nil
        local nf = idx and #idx or #feasible
        for i, c in ipairs(soft) do
            local seen, domains = {}, 0
            for k = 1, nf do
                local v = labels_of(idx and nodes[idx[k]] or feasible[k].node)[c.key]
                if v ~= nil and not seen[v] then
                    seen[v], domains = true, domains + 1
                end
            end
            st.weights[i] = math.log(domains + 2)
        end
    end
    ctx.state.spread_soft = st
end

-- Raw spread score (lower is better), or nil when the node lacks a constraint's key.
local function spread_score(node, ctx)
    local st = ctx.state.spread_soft
    if #st.soft == 0 then
        return 0
    end
    local s = 0
    for i, c in ipairs(st.soft) do
        local v = labels_of(node)[c.key]
        if v == nil then
            return nil
        end
        s = s + (st.counts[i][v] or 0) * st.weights[i] + (c.max_skew - 1)
    end
    return math.floor(s + 0.5)
end

-- Records each plugin's raw score; returns the resource part already in 0..100 so a policy
-- that calls only score (no normalize) still gets a sensible value.
function policy.score(pod, node, ctx)
    if ctx.state.requests == nil then
        policy.prefilter(pod, ctx)
    end
    if ctx.state.inter_pod_topo == nil then
        inter_pod_prescore(pod, ctx)
        spread_prescore(pod, ctx)
        ctx.state[RAW] = {}
    end
    local info = node_info(node)
    local fit, balanced = resource_scores(pod, node, ctx, info)
    ctx.state[RAW][info.name] = {
        fit = fit, balanced = balanced, taint = taint_count(pod, node, ctx),
        node_affinity = ctx.state.preferred_node_affinity and
            selector.preferred_node_affinity_score(pod, node) or 0,
        inter_pod = inter_pod_score(node, ctx), spread = spread_score(node, ctx),
    }
    return math.floor((fit * WEIGHTS.fit + balanced * WEIGHTS.balanced) / (WEIGHTS.fit + WEIGHTS.balanced))
end

-- kube's DefaultNormalizeScore: scale to 0..100 by the maximum, optionally reversed.
local function default_normalize(raw, field, reverse)
    local max = 0
    for _, r in pairs(raw) do
        if r[field] > max then
            max = r[field]
        end
    end
    for _, r in pairs(raw) do
        if max == 0 then
            r[field] = reverse and MAX or 0
        else
            local s = math.floor(MAX * r[field] / max)
            r[field] = reverse and MAX - s or s
        end
    end
end

-- Normalizes each plugin's raw scores across the scored nodes and writes the weighted sum,
-- scaled back to 0..100 by the total weight, into scores.
function policy.normalize(pod, scores, ctx)
    local raw = ctx.state[RAW]
    if raw == nil then
        return
    end
    default_normalize(raw, "taint", true)
    default_normalize(raw, "node_affinity", false)
    -- InterPodAffinity: min-max, since raw values may be negative.
    local lo, hi
    for _, r in pairs(raw) do
        lo = (lo == nil or r.inter_pod < lo) and r.inter_pod or lo
        hi = (hi == nil or r.inter_pod > hi) and r.inter_pod or hi
    end
    for _, r in pairs(raw) do
        r.inter_pod = hi > lo and math.floor(MAX * (r.inter_pod - lo) / (hi - lo)) or 0
    end
    -- PodTopologySpread: fewer matching pods is better; nodes without the keys get 0.
    local smin, smax
    for _, r in pairs(raw) do
        if r.spread then
            smin = (smin == nil or r.spread < smin) and r.spread or smin
            smax = (smax == nil or r.spread > smax) and r.spread or smax
        end
    end
    for _, r in pairs(raw) do
        if r.spread == nil then
            r.spread = 0
        elseif smax == 0 then
            r.spread = MAX
        else
            r.spread = math.floor(MAX * (smax + smin - r.spread) / smax)
        end
    end
    local total = 0
    for _, w in pairs(WEIGHTS) do
        total = total + w
    end
    local w_taint, w_aff, w_spread = WEIGHTS.taint, WEIGHTS.node_affinity, WEIGHTS.spread
    local w_inter, w_fit, w_bal = WEIGHTS.inter_pod, WEIGHTS.fit, WEIGHTS.balanced
    for name, r in pairs(raw) do
        if scores[name] ~= nil then
            scores[name] = (r.taint * w_taint + r.node_affinity * w_aff + r.spread * w_spread +
                r.inter_pod * w_inter + r.fit * w_fit + r.balanced * w_bal) / total
        end
    end
end

---------------------------------------------------------------------------------------------
-- Batch forms of filter and score, for lua/berth/framework.lua
--
-- The framework runs these instead of calling filter and score node by node when the policy
-- it runs has this policy's filter (and, for the score, score and normalize) unchanged; see
-- policy.batch at the end. They give the same nodes, reasons and scores as the per-node
-- hooks, for a fraction of the cost in the interpreter (the JIT is off in the sandbox): one
-- loop per cycle over per-node records, few field reads and no table per node.
--
-- A view is kept per ctx.nodes array (the core keeps one until a node changes): the node
-- records (node_info) by position and a map of node names to positions. Each record keeps
-- the usage of its node's pods_on array, and the last resource scores it gave; a cycle
-- asks ctx.pods_on again only for the nodes whose pods may have changed. Without
-- ctx.pods_changed that is every node it looks at (one call each, as the per-node hooks
-- do); with it, the nodes the core names as changed since the previous cycle.
---------------------------------------------------------------------------------------------

local floor = math.floor
local views = setmetatable({}, { __mode = "k" })   -- ctx.nodes -> view
local tracked = nil    -- the view whose records' `fresh` flags follow ctx.pods_changed

-- Brings the view of a ctx.nodes array up to date with its n first elements.
local function view_fill(v, nodes, n)
    local recs, vnodes = v.recs, v.vnodes
    for i = 1, n do
        local node = nodes[i]
        if vnodes[i] ~= node then
            recs[i], vnodes[i] = node_info(node), node
        end
    end
    for i = n + 1, v.n do
        recs[i], vnodes[i] = nil, nil
    end
    v.n = n
    -- Names must be distinct non-empty strings for scores kept by position to equal the
    -- framework's scores kept by name, and for a name from the change feed to mean one
    -- record. (A non-empty name_of is the node's metadata.name.)
    local by_name, unique = {}, true
    for i = 1, n do
        local name = recs[i].name
        if name == "" or by_name[name] then
            unique = false
        end
        by_name[name] = i
    end
    v.by_name, v.unique = by_name, unique
    v.tok = nil
end

-- Brings the records' `fresh` flags (true: rec.pods is the node's current pods_on array)
-- up to date for a new cycle. ctx.pods_changed(token) returns a new token and the names of
-- the nodes whose pods changed since token, or no list when it cannot tell (no token yet,
-- or too old): then every record is taken as changed, as it is without ctx.pods_changed.
local function view_sync(v, nodes, n, ctx)
    if v.n ~= n or v.by_name == nil then
        view_fill(v, nodes, n)
    end
    local recs = v.recs
    local changed = ctx.pods_changed
    if type(changed) == "function" and v.unique then
        if tracked == v and v.changed == changed and v.tok ~= nil then
            local tok, names = changed(v.tok)
            if type(names) == "table" then
                local by_name = v.by_name
                for j = 1, #names do
                    local i = by_name[names[j]]
                    if i then
                        recs[i].fresh = false
                    end
                end
                v.tok = tok
                return
            end
        end
        local tok = changed(nil)
        if tok ~= nil then
            v.changed, v.tok, tracked = changed, tok, v
        else
            tracked = nil
        end
    else
        tracked = nil
    end
    for i = 1, n do
        recs[i].fresh = false
    end
end

-- Makes rec's usage that of its node's current pods_on array.
local function rec_refresh(rec, ctx)
    local pods = pods_on_of(ctx, rec.name)
    if pods ~= rec.pods then
        local u = usage_of(pods)
        local req = u.req
        rec.pods, rec.u_req, rec.u_pods = pods, req, u.pods
        rec.u_cpu, rec.u_mem = req.cpu or 0, req.memory or 0
        rec.u_nzcpu, rec.u_nzmem = u.nonzero_cpu, u.nonzero_mem
        -- What fit_filter computes, less the pod: NodeResourcesFit's free cpu and memory,
        -- and whether the pod count is at allocatable pods already.
        rec.free_cpu, rec.free_mem = rec.alloc_cpu - rec.u_cpu, rec.alloc_mem - rec.u_mem
        rec.full = rec.has_max_pods and u.pods + 1 > rec.alloc_pods
        rec.s_rc = false   -- the resource scores below were for the old usage
    end
    rec.fresh = true
end

-- A key for the content of a tolerations list, as selector.toleration_tolerates reads it
-- (key, operator, value, effect of each entry); nil when one of those is neither a string
-- nor absent: such lists are not memoized.
local function key_part(v)
    if v == nil then
        return "-"
    end
    return type(v) == "string" and #v .. ":" .. v or nil
end

local function tolerations_key_of(tols)
    local parts = {}
    for i, t in ipairs(tols) do
        if type(t) ~= "table" then
            parts[i] = "x"   -- tolerates nothing
        else
            local k, o, v, e = key_part(t.key), key_part(t.operator), key_part(t.value), key_part(t.effect)
            if not (k and o and v and e) then
                return nil
            end
            parts[i] = k .. o .. v .. e
        end
    end
    return table.concat(parts, "|")
end

-- tolerations_key memoized per tolerations list, with what it was computed from, checked
-- on each use (lists are shared by the pods of one ReplicaSet, and a key is a handful of
-- strings built and dropped per cycle otherwise). nil keys are not memoized.
local tkey_memo = setmetatable({}, { __mode = "k" })
local function tolerations_key(tols)
    if type(tols) ~= "table" then
        return ""
    end
    local m = tkey_memo[tols]
    local n = #tols
    if m and m.n == n then
        local same = true
        for i = 1, n do
            local t, j = tols[i], 4 * i
            if type(t) ~= "table" then
                same = m[j] == false
            else
                same = m[j] == t.key and m[j + 1] == t.operator and m[j + 2] == t.value and
                    m[j + 3] == t.effect
            end
            if not same then
                break
            end
        end
        if same then
            return m.key
        end
    end
    local key = tolerations_key_of(tols)
    if key ~= nil then
        m = { n = n, key = key }
        for i = 1, n do
            local t, j = tols[i], 4 * i
            if type(t) ~= "table" then
                m[j] = false
            else
                m[j], m[j + 1], m[j + 2], m[j + 3] = t.key, t.operator, t.value, t.effect
            end
        end
        tkey_memo[tols] = m
    end
    return key
end

local TMEMO_MAX = 32

-- The first of rec's NoSchedule/NoExecute taints that tols do not tolerate, or false;
-- memoized per record by the tolerations' key (tkey; nil: not memoized).
local function untolerated(rec, tols, tkey)
    local memo = rec.tmemo
    if tkey ~= nil and memo then
        local r = memo[tkey]
        if r ~= nil then
            return r
        end
    end
    local r = selector.untolerated_taint(rec.hard_taints, tols) or false
    if tkey ~= nil then
        if not memo or rec.tmemo_n >= TMEMO_MAX then
            memo = {}
            rec.tmemo, rec.tmemo_n = memo, 0
        end
        memo[tkey], rec.tmemo_n = r, rec.tmemo_n + 1
    end
    return r
end

-- The batch filter: filters nodes from position start + 1 on, wrapping, until want fit, as
-- the framework's loop over the filter hook does. Returns the positions of the feasible
-- nodes in the order looked at; where in that list the positions wrap to 1 (nil if they
-- do not); how many nodes were looked at; and, when none fit, how many failed, with the
-- reasons and codes the filter returned for them (two arrays, in the order looked at;
-- once a node fits, failures are no longer recorded: 0 and empty arrays, or those of the
-- nodes that failed before it, which the framework does not read).
--
-- The filters of ctx.state.filters run for each node as policy.filter runs them. When
-- they are the common ones (unschedulable, taints, nodeSelector, resources) the loop
-- checks them inline on the node's record; a node short of resources gets its reasons
-- from fit_filter itself.
local scratch_ns_k, scratch_ns_v, scratch_extra = {}, {}, {}
local NO_FAILS = LIST0
local function batch_filter(pod, ctx, nodes, start, want)
    local st = ctx.state
    local filters = st.filters
    if filters == nil then
        -- As policy.filter: prefilter did not run (a policy's own prefilter did not chain).
        policy.prefilter(pod, ctx)
        filters = st.filters
    end
    local n = #nodes
    local v = views[nodes]
    if v == nil then
        v = { recs = {}, vnodes = {}, n = 0 }
        views[nodes] = v
    end
    view_sync(v, nodes, n, ctx)
    local recs, vnodes = v.recs, v.vnodes

    -- A pod that names its nodes (a DaemonSet's) is checked on those alone, as kube's
    -- PreFilterResult does; when none of them fits, the full pass below gives every node's
    -- reason for the message.
    local named = st.named_nodes
    if named then
        local pos, found, nfound = node_indexes(nodes), {}, 0
        for k = 1, #named do
            local i = pos[named[k]]
            local node = i and nodes[i]
            if node and name_of(node) == named[k] then
                local ok = true
                for j = 1, #filters do
                    ok = filters[j](pod, node, ctx)
                    if not ok then
                        break
                    end
                end
                if ok then
                    nfound = nfound + 1
                    found[nfound] = i
                end
            elseif node then
                index_memo[nodes] = nil   -- the array changed in place (tests): rebuilt next time
            end
        end
        if nfound > 0 then
            table.sort(found)
            return found, nil, 0, 0, NO_FAILS, NO_FAILS
        end
    end

    -- Fast: the filters are exactly what the inline checks do.
    local nfl = #filters
    local fast = (nfl == 3 or nfl == 4) and filters[1] == node_unschedulable_filter and
        filters[2] == taint_filter and filters[nfl] == fit_filter and
        (nfl == 3 or (filters[3] == node_affinity_filter and st.required_node_affinity == nil))
    local tols = dig(pod, "spec", "tolerations")
    local tol_unsched, tkey, tkey_done = false, nil, false
    -- Scratch lists, only read in this call (counted by ns_n and nextra).
    local ns_k, ns_v, ns_n = scratch_ns_k, scratch_ns_v, 0
    local req = st.requests
    local rc, rm, chk_cpu, chk_mem, extra, nextra = 0, 0, false, false, scratch_extra, 0
    if fast then
        tol_unsched = selector.tolerates_taint(tols, UNSCHEDULABLE_TAINT)
        if nfl == 4 and st.node_selector then
            for k, val in pairs(st.node_selector) do
                ns_n = ns_n + 1
                ns_k[ns_n], ns_v[ns_n] = k, val
            end
        end
        local resources = pod_fit_resources(st)
        for i = 1, #resources do
            local r = resources[i]
            if r == "cpu" then
                chk_cpu, rc = true, req.cpu
            elseif r == "memory" then
                chk_mem, rm = true, req.memory
            else
                nextra = nextra + 1
                extra[nextra] = r
            end
        end
    end
    local ns_k1, ns_v1 = ns_k[1], ns_v[1]

    local feasible, nf, wrap = new_table(want < n and want or n, 0), 0, nil
    local fail_reason, fail_code, nfail = NO_FAILS, NO_FAILS, 0
    local processed = 0
    local idx = start
    for i = 1, n do
        idx = idx + 1
        if idx > n then
            idx = 1
            wrap = nf + 1
        end
        processed = i
        local node = nodes[idx]
        local rec = recs[idx]
        if vnodes[idx] ~= node then
            -- The array changed under us (tests append nodes): take the node as it is now,
            -- and rebuild the names and restart the change feed next cycle.
            rec = node_info(node)
            rec.fresh = false
            recs[idx], vnodes[idx] = rec, node
            v.by_name = nil
        end
        local ok, reason, code = true, nil, nil
        if fast then
            if rec.unschedulable and not tol_unsched then
                ok, reason, code = false, "node(s) were unschedulable", "unresolvable"
            elseif rec.hard_taints ~= NO_TAINTS then
                if not tkey_done then
                    tkey, tkey_done = tolerations_key(tols), true
                end
                local t = untolerated(rec, tols, tkey)
                if t then
                    ok, reason, code = false, taint_reason(t), "unresolvable"
                end
            end
            if ok and ns_n > 0 then
                local labels = rec.labels
                if labels[ns_k1] ~= ns_v1 then
                    ok = false
                else
                    for j = 2, ns_n do
                        if labels[ns_k[j]] ~= ns_v[j] then
                            ok = false
                            break
                        end
                    end
                end
                if not ok then
                    reason, code = "node(s) didn't match Pod's node affinity/selector", "unresolvable"
                end
            end
            if ok then
                if not rec.fresh then
                    rec_refresh(rec, ctx)
                end
                -- fit_filter's test, with the node's side computed once per usage.
                if rec.full or (chk_cpu and rc > rec.free_cpu) or (chk_mem and rm > rec.free_mem) then
                    ok, reason, code = fit_filter(pod, node, ctx)
                elseif nextra > 0 then
                    local alloc, used = rec.alloc, rec.u_req
                    for j = 1, nextra do
                        local r = extra[j]
                        if req[r] > (alloc[r] or 0) - (used[r] or 0) then
                            ok, reason, code = fit_filter(pod, node, ctx)
                            break
                        end
                    end
                end
            end
        else
            for j = 1, nfl do
                ok, reason, code = filters[j](pod, node, ctx)
                if not ok then
                    break
                end
            end
        end
        if ok then
            nf = nf + 1
            feasible[nf] = idx
            if nf >= want then
                break
            end
        elseif nf == 0 then
            -- Reasons matter only when no node fits: recorded until one does.
            if nfail == 0 then
                fail_reason, fail_code = {}, {}
            end
            nfail = nfail + 1
            fail_reason[nfail], fail_code[nfail] = reason, code
        end
    end
    if wrap and (wrap == 1 or wrap > nf) then
        wrap = nil   -- nothing feasible on one side of the wrap: already in order
    end
    return feasible, wrap, processed, nfail, fail_reason, fail_code
end

-- ctx.state.default_scores of the batch path, built on first read from what batch_score
-- left in the framework's lazy record (see framework.lua, lazy_state): node name -> the
-- normalized score of each plugin, as policy.score and policy.normalize record them.
local function build_raw(lazy)
    local raw, nodes, idx = {}, lazy.nodes, lazy.idx
    local a_fit, a_bal, a_taint, a_aff = lazy._fit, lazy._bal, lazy._taint, lazy._aff
    local a_inter, a_spread = lazy._inter, lazy._spread
    for k = 1, lazy.nf do
        raw[name_of(nodes[idx[k]])] = {
            fit = a_fit[k], balanced = a_bal[k],
            taint = a_taint and a_taint[k] or MAX,
            node_affinity = a_aff and a_aff[k] or 0,
            inter_pod = a_inter and a_inter[k] or 0,
            spread = a_spread and a_spread[k] or MAX,
        }
    end
    return raw
end

-- kube's DefaultNormalizeScore over raw scores a[1..nf], in place (default_normalize).
local function normalize_array(a, nf, reverse)
    local max = 0
    for k = 1, nf do
        if a[k] > max then
            max = a[k]
        end
    end
    for k = 1, nf do
        if max == 0 then
            a[k] = reverse and MAX or 0
        else
            local s = floor(MAX * a[k] / max)
            a[k] = reverse and MAX - s or s
        end
    end
end

-- The batch score, after batch_filter in the same cycle: scores the feasible nodes
-- nodes[idx[k]] (k = 1..#idx, at least two, in any order) as score and normalize would,
-- and returns the k of the best (the highest score; of equal ones, the first in ctx.nodes)
-- and the final scores by k. Adds to `lazy` (the framework's record of the cycle, which
-- holds nodes, idx and nf) a builder of ctx.state.default_scores (what policy.score records,
-- normalized), build_raw, and the arrays it reads. Returns nil when it cannot stand in for score and
-- normalize this cycle (node names not distinct, or the score hook ran already): the
-- framework then calls them.
local function batch_score(pod, ctx, nodes, idx, lazy)
    local st = ctx.state
    local v = views[nodes]
    if v == nil or not v.unique or v.by_name == nil or st.inter_pod_topo ~= nil or st[RAW] ~= nil then
        return nil
    end
    if st.requests == nil then
        policy.prefilter(pod, ctx)
    end
    inter_pod_prescore(pod, ctx)
    spread_prescore(pod, ctx, nodes, idx)
    local recs = v.recs
    local nf = #idx
    local req = st.requests
    local rc, rm = req.cpu or 0, req.memory or 0
    local nzc = rc > 0 and rc or DEFAULT_MILLI_CPU
    local nzm = rm > 0 and rm or DEFAULT_MEMORY
    local least = STRATEGY ~= "MostAllocated"
    local pref_aff = st.preferred_node_affinity
    local topo_any = next(st.inter_pod_topo) ~= nil
    local soft_any = #st.spread_soft.soft > 0
    local a_fit, a_bal = new_table(nf, 0), new_table(nf, 0)
    local a_taint, a_aff, a_inter, a_spread   -- nil: the plugin scores 0 on every node
    if pref_aff then a_aff = {} end
    if topo_any then a_inter = {} end
    if soft_any then a_spread = {} end
    for k = 1, nf do
        local i = idx[k]
        local rec = recs[i]
        if not rec.fresh then
            rec_refresh(rec, ctx)
        end
        -- NodeResourcesFit and BalancedAllocation (resource_scores, inline), memoized in
        -- the record for the pod's cpu and memory requests until its usage changes.
        local fit, bal
        if rec.s_rc == rc and rec.s_rm == rm then
            fit, bal = rec.s_fit, rec.s_bal
        else
            local ca, ma = rec.alloc_cpu, rec.alloc_mem
            local cu, mu = rec.u_nzcpu + nzc, rec.u_nzmem + nzm
            local sc, sm
            if least then
                sc = (ca <= 0 or cu > ca) and 0 or floor((ca - cu) * MAX / ca)
                sm = (ma <= 0 or mu > ma) and 0 or floor((ma - mu) * MAX / ma)
            else
                sc, sm = resource_score(cu, ca), resource_score(mu, ma)
            end
            fit = floor((sc + sm) / 2)
            bal = MAX
            if ca > 0 and ma > 0 then
                local fc = (rec.u_cpu + rc) / ca
                if fc > 1 then
                    fc = 1
                end
                local fm = (rec.u_mem + rm) / ma
                if fm > 1 then
                    fm = 1
                end
                local d = fc - fm
                if d < 0 then
                    d = -d
                end
                bal = floor((1 - d / 2) * MAX)
            end
            rec.s_rc, rec.s_rm, rec.s_fit, rec.s_bal = rc, rm, fit, bal
        end
        a_fit[k], a_bal[k] = fit, bal
        if rec.prefer_taints ~= NO_TAINTS then
            if a_taint == nil then
                a_taint = {}
                for j = 1, k - 1 do
                    a_taint[j] = 0
                end
            end
            a_taint[k] = taint_count(pod, nodes[i], ctx)
        elseif a_taint then
            a_taint[k] = 0
        end
        if pref_aff then
            a_aff[k] = selector.preferred_node_affinity_score(pod, nodes[i])
        end
        if topo_any then
            a_inter[k] = inter_pod_score(nodes[i], ctx)
        end
        if soft_any then
            a_spread[k] = spread_score(nodes[i], ctx) or false
        end
    end
    -- normalize, plugin by plugin. A plugin that scored 0 on every node normalizes to a
    -- constant: TaintToleration (reversed) and PodTopologySpread to MAX, the others to 0.
    local c_taint, c_aff, c_inter, c_spread = MAX, 0, 0, MAX
    if a_taint then
        normalize_array(a_taint, nf, true)
    end
    if a_aff then
        normalize_array(a_aff, nf, false)
    end
    if a_inter then
        local lo, hi = a_inter[1], a_inter[1]
        for k = 2, nf do
            local x = a_inter[k]
            if x < lo then lo = x end
            if x > hi then hi = x end
        end
        for k = 1, nf do
            a_inter[k] = hi > lo and floor(MAX * (a_inter[k] - lo) / (hi - lo)) or 0
        end
    end
    if a_spread then
        local smin, smax
        for k = 1, nf do
            local x = a_spread[k]
            if x then
                smin = (smin == nil or x < smin) and x or smin
                smax = (smax == nil or x > smax) and x or smax
            end
        end
        for k = 1, nf do
            local x = a_spread[k]
            if not x then
                a_spread[k] = 0
            elseif smax == 0 then
                a_spread[k] = MAX
            else
                a_spread[k] = floor(MAX * (smax + smin - x) / smax)
            end
        end
    end
    -- The weighted sum, as normalize computes it: every term is an integer, so the sum is
    -- exact in any order and the constant terms can be added up first.
    local w_taint, w_aff, w_spread = WEIGHTS.taint, WEIGHTS.node_affinity, WEIGHTS.spread
    local w_inter, w_fit, w_bal = WEIGHTS.inter_pod, WEIGHTS.fit, WEIGHTS.balanced
    local total = TOTAL_WEIGHT
    local final = new_table(nf, 0)
    local best, best_score, best_i = nil, nil, nil
    if not (a_taint or a_aff or a_spread or a_inter) then
        local c = c_taint * w_taint + c_aff * w_aff + c_spread * w_spread + c_inter * w_inter
        for k = 1, nf do
            local s = (c + a_fit[k] * w_fit + a_bal[k] * w_bal) / total
            final[k] = s
            if best == nil or s > best_score or (s == best_score and idx[k] < best_i) then
                best, best_score, best_i = k, s, idx[k]
            end
        end
    else
        for k = 1, nf do
            local t = a_taint and a_taint[k] or c_taint
            local a = a_aff and a_aff[k] or c_aff
            local sp = a_spread and a_spread[k] or c_spread
            local ip = a_inter and a_inter[k] or c_inter
            local s = (t * w_taint + a * w_aff + sp * w_spread + ip * w_inter + a_fit[k] * w_fit +
                a_bal[k] * w_bal) / total
            final[k] = s
            if best == nil or s > best_score or (s == best_score and idx[k] < best_i) then
                best, best_score, best_i = k, s, idx[k]
            end
        end
    end
    -- What build_raw needs (arrays that are nil hold the constant of their plugin).
    lazy._fit, lazy._bal, lazy._taint, lazy._aff, lazy._inter, lazy._spread =
        a_fit, a_bal, a_taint, a_aff, a_inter, a_spread
    lazy[RAW] = build_raw
    return best, final
end

-- What lua/berth/framework.lua needs to use the batch forms: the hooks they stand in for
-- (the framework compares a policy's hooks with these, so a policy that replaces one, or a
-- test that wraps one, gets the per-node calls) and the batch functions. Not hooks:
-- framework.with_defaults does not copy it.
policy.batch = {
    filter = policy.filter, score = policy.score, normalize = policy.normalize,
    find_feasible = batch_filter, score_feasible = batch_score,
}

-- The core records the reservation (ctx.pods_on sees the pod from now on); nothing to add.
function policy.reserve(pod, node_name, ctx)
    return true
end

-- The core binds through pods/binding.
function policy.bind(pod, node_name, ctx)
    return false
end

---------------------------------------------------------------------------------------------
-- Self test: a two-node cluster, one node too small and one tainted.
---------------------------------------------------------------------------------------------

function policy.self_test()
    local function node(name, cpu, taints)
        return {
            metadata = { name = name, labels = { ["kubernetes.io/hostname"] = name } },
            spec = { taints = taints },
            status = {
                allocatable = { cpu = cpu, memory = "4Gi", pods = "110" },
                conditions = { { type = "Ready", status = "True" } },
            },
        }
    end
    local nodes = {
        node("small", "500m"), node("big", "4"),
        node("tainted", "8", { { key = "dedicated", value = "db", effect = "NoSchedule" } }),
    }
    local ctx = {
        nodes = nodes, percentage_of_nodes_to_score = 0, now = 0,
        pods_on = function() return {} end, pods = function() return {} end,
    }
    local pod = {
        metadata = { name = "p", namespace = "default" },
        spec = { containers = { { name = "c", resources = { requests = { cpu = "1" } } } } },
    }
    local got, msg = framework.schedule(policy, pod, ctx)
    assert(got == "big", "self_test: expected node big, got " .. tostring(got) .. " " .. tostring(msg))
    pod.spec.containers[1].resources.requests.cpu = "16"
    got, msg = framework.schedule(policy, pod, ctx)
    local want = "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, " ..
        "2 Insufficient cpu. preemption: 0/3 nodes are available: " ..
        "1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
    assert(got == nil and msg == want, "self_test: unexpected failure message: " .. tostring(msg))
    framework.reset(policy)
    return true
end

framework.register_default(policy)

-- The entry point the C core calls for each pending pod.
function policy.schedule(pod, ctx)
    return framework.schedule(policy, pod, ctx)
end

return policy
