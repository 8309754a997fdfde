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

local function list(v)
    return type(v) == "table" and v or {}
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
    local sidecars, init_max = {}, {}
    for _, c in ipairs(list(spec.initContainers)) do
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

-- Requests of the pods on a node, plus the pod count and their host ports. The core hands
-- out one ctx.pods_on array per node until that node's pods change (lua/berth/framework.lua,
-- "ctx"), so the sums are memoized per array, across decisions: a decision costs the pods
-- that changed, not every pod in the cluster. Weak keys: an array the core replaced is
-- collected with its sums.
local node_info   -- below
local usage_memo = setmetatable({}, { __mode = "k" })
local EMPTY = {}

local function node_usage(node, ctx)
    local pods = ctx.pods_on and ctx.pods_on(node_info(node).name) or EMPTY
    if type(pods) ~= "table" then
        pods = EMPTY
    end
    local u = usage_memo[pods]
    if u then
        return u
    end
    u = { req = {}, nonzero_cpu = 0, nonzero_mem = 0, pods = 0, ports = {} }
    for _, p in ipairs(pods) do
        local r = pod_requests(p)
        for k, v in pairs(r) do
            u.req[k] = (u.req[k] or 0) + v
        end
        u.nonzero_cpu = u.nonzero_cpu + ((r.cpu or 0) > 0 and r.cpu or DEFAULT_MILLI_CPU)
        u.nonzero_mem = u.nonzero_mem + ((r.memory or 0) > 0 and r.memory or DEFAULT_MEMORY)
        u.pods = u.pods + 1
    end
    if pods ~= EMPTY then
        usage_memo[pods] = u
    end
    return u
end

-- Host ports in use on a node (see host_ports below), memoized like node_usage.
local ports_memo = setmetatable({}, { __mode = "k" })
local host_ports

local function node_ports(node, ctx)
    local pods = ctx.pods_on and ctx.pods_on(node_info(node).name) or EMPTY
    if type(pods) ~= "table" then
        pods = EMPTY
    end
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

-- TaintToleration: every NoSchedule/NoExecute taint must be tolerated.
local function taint_filter(pod, node, ctx)
    local taints = node_info(node).hard_taints
    if taints == NO_TAINTS then
        return true
    end
    local t = selector.untolerated_taint(taints, dig(pod, "spec", "tolerations"))
    if t then
        return false, "node(s) had untolerated taint {" .. (str(t.key) or "") .. ": " ..
            (str(t.value) or "") .. "}", "unresolvable"
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
    local out = {}
    for _, r in ipairs(FIT_ORDER) do
        if (req[r] or 0) > 0 then
            out[#out + 1] = r
        end
    end
    for _, r in ipairs(util.keys(req)) do
        if r ~= "cpu" and r ~= "memory" and r ~= "ephemeral-storage" and r ~= "pods" and req[r] > 0 then
            out[#out + 1] = r
        end
    end
    return out
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
    local resources = st.fit_resources
    if resources == nil then
        resources = fit_resources(req)
        st.fit_resources = resources
    end
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
-- alongside the containers, so their ports count too.
function host_ports(pod)
    local out = {}
    local function add(c)
        for _, p in ipairs(list(dig(c, "ports"))) do
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
    for _, c in ipairs(list(dig(pod, "spec", "containers"))) do
        add(c)
    end
    for _, c in ipairs(list(dig(pod, "spec", "initContainers"))) do
        if type(c) == "table" and c.restartPolicy == "Always" then
            add(c)
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

local function placed_pods(ctx, need_all)
    if ctx.state.placed then
        return ctx.state.placed, ctx.state.placed_affinity
    end
    local by_name = nodes_by_name(ctx.nodes)
    -- A pod without terms of its own only needs the pods that carry affinity; the core can
    -- list those from an index (ctx.pods_with_affinity) instead of every pod in the cluster.
    if not need_all and type(ctx.pods_with_affinity) == "function" then
        if not ctx.state.placed_affinity_only then
            local with_aff = { pods = {}, nodes = {} }
            local wp, wn = with_aff.pods, with_aff.nodes
            for _, p in ipairs(ctx.pods_with_affinity()) do
                local spec, meta = p.spec, p.metadata
                local n = type(spec) == "table" and by_name[str(spec.nodeName) or ""]
                if n and type(spec.affinity) == "table" and
                    not (type(meta) == "table" and str(meta.deletionTimestamp)) then
                    wp[#wp + 1], wn[#wn + 1] = p, n
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
    local st = { aff = aff, anti = anti, aff_counts = {}, anti_counts = {}, existing_anti = {} }
    local any_aff_match = false
    local all, with_aff = placed_pods(ctx, #aff > 0 or #anti > 0)
    -- Without terms of its own, only pods carrying affinity can reject the pod.
    local set = (#aff > 0 or #anti > 0) and all or with_aff
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
    local st = { hard = hard, counts = {}, min = {} }
    if #hard > 0 then
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
    local function add(key, node, w)
        bump(topo, key, node, w)
    end
    local all, with_aff = placed_pods(ctx, #aff > 0 or #anti > 0)
    local set = (#aff > 0 or #anti > 0) and all or with_aff
    for j, p in ipairs(set.pods) do
        local node = set.nodes[j]
        for _, t in ipairs(aff) do
            if term_matches(t, p, ctx) then
                add(t.key, node, t.weight)
            end
        end
        for _, t in ipairs(anti) do
            if term_matches(t, p, ctx) then
                add(t.key, node, -t.weight)
            end
        end
        if dig(p, "spec", "affinity") then
            for _, t in ipairs(terms_of(p, "podAffinity", REQ)) do
                if term_matches(t, pod, ctx) then
                    add(t.key, node, 1)
                end
            end
            for _, t in ipairs(terms_of(p, "podAffinity", PREF, true)) do
                if term_matches(t, pod, ctx) then
                    add(t.key, node, t.weight)
                end
            end
            for _, t in ipairs(terms_of(p, "podAntiAffinity", PREF, true)) do
                if term_matches(t, pod, ctx) then
                    add(t.key, node, -t.weight)
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
local function spread_prescore(pod, ctx)
    local soft = spread_constraints(pod, "ScheduleAnyway")
    local st = { soft = soft }
    if #soft > 0 then
        st.counts = spread_counts(pod, ctx, soft)
        st.weights = {}
        for i, c in ipairs(soft) do
            local seen, domains = {}, 0
            for _, f in ipairs(ctx.state.feasible or {}) do
                local v = labels_of(f.node)[c.key]
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
