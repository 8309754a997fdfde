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

-- Requests of the pods on a node, plus the pod count; memoized per cycle.
local function node_usage(node, ctx)
    local memo = ctx.state.usage
    if not memo then
        memo = {}
        ctx.state.usage = memo
    end
    local name = name_of(node)
    local u = memo[name]
    if u then
        return u
    end
    u = { req = {}, nonzero_cpu = 0, nonzero_mem = 0, pods = 0 }
    for _, p in ipairs(list(ctx.pods_on and ctx.pods_on(name))) do
        local r = pod_requests(p)
        for k, v in pairs(r) do
            u.req[k] = (u.req[k] or 0) + v
        end
        u.nonzero_cpu = u.nonzero_cpu + ((r.cpu or 0) > 0 and r.cpu or DEFAULT_MILLI_CPU)
        u.nonzero_mem = u.nonzero_mem + ((r.memory or 0) > 0 and r.memory or DEFAULT_MEMORY)
        u.pods = u.pods + 1
    end
    memo[name] = u
    return u
end

local function allocatable(node, resource)
    return amount(resource, dig(node, "status", "allocatable", resource))
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
    if dig(node, "spec", "unschedulable") == true and
       not selector.tolerates_taint(dig(pod, "spec", "tolerations"), UNSCHEDULABLE_TAINT) then
        return false, "node(s) were unschedulable", "unresolvable"
    end
    return true
end

-- The node's taints plus the one kube's node lifecycle controller would add for its Ready
-- condition: Ready=Unknown (the node stopped reporting) -> unreachable, any other non-True
-- (False, or no condition yet) -> not-ready. Doing it here means pods do not land on a
-- broken node in the window before that controller (or in a cluster without it) taints it.
local function effective_taints(node)
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
local function taint_filter(pod, node)
    local t = selector.untolerated_taint(effective_taints(node), dig(pod, "spec", "tolerations"))
    if t then
        return false, "node(s) had untolerated taint {" .. (str(t.key) or "") .. ": " ..
            (str(t.value) or "") .. "}", "unresolvable"
    end
    return true
end

-- NodeAffinity: spec.nodeSelector and required node affinity.
local function node_affinity_filter(pod, node)
    if not selector.pod_matches_node(pod, node) then
        return false, "node(s) didn't match Pod's node affinity/selector", "unresolvable"
    end
    return true
end

-- NodeResourcesFit: the pod's requests must fit in allocatable minus what the node's pods
-- request, and the node's pod count must stay within allocatable pods. Every short
-- resource is a reason of its own, as in kube.
local FIT_ORDER = { "cpu", "memory", "ephemeral-storage" }
local function fit_filter(pod, node, ctx)
    local req = ctx.state.requests
    local u = node_usage(node, ctx)
    local reasons = {}
    local max_pods = dig(node, "status", "allocatable", "pods")
    if max_pods ~= nil and u.pods + 1 > amount("pods", max_pods) then
        reasons[#reasons + 1] = "Too many pods"
    end
    local function check(r)
        local need = req[r] or 0
        if need > 0 and need > allocatable(node, r) - (u.req[r] or 0) then
            reasons[#reasons + 1] = "Insufficient " .. r
        end
    end
    for _, r in ipairs(FIT_ORDER) do
        check(r)
    end
    -- Extended resources (nvidia.com/gpu, hugepages-2Mi, ...), in a stable order.
    for _, r in ipairs(util.keys(req)) do
        if r ~= "cpu" and r ~= "memory" and r ~= "ephemeral-storage" and r ~= "pods" then
            check(r)
        end
    end
    if #reasons > 0 then
        return false, reasons
    end
    return true
end

-- Host ports a pod asks for: list of {port, protocol, ip}. Sidecar init containers run
-- alongside the containers, so their ports count too.
local function host_ports(pod)
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
    for _, other in ipairs(list(ctx.pods_on and ctx.pods_on(name_of(node)))) do
        for _, a in ipairs(host_ports(other)) do
            for _, b in ipairs(want) do
                if a.port == b.port and a.protocol == b.protocol and
                   (a.ip == b.ip or a.ip == "0.0.0.0" or b.ip == "0.0.0.0") then
                    return false, "node(s) didn't have free ports for the requested pod ports"
                end
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
local function placed_pods(ctx, need_all)
    if ctx.state.placed then
        return ctx.state.placed, ctx.state.placed_affinity
    end
    local by_name = {}
    for _, n in ipairs(ctx.nodes) do
        by_name[name_of(n)] = n
    end
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
function policy.prefilter(pod, ctx)
    ctx.state.requests = pod_requests(pod)
    ctx.state.host_ports = host_ports(pod)
    inter_pod_prefilter(pod, ctx)
    spread_prefilter(pod, ctx)
    return true
end

-- Filters in the order of kube's default profile (default_plugins.go). The first failing
-- plugin decides the node's reason, as kube's framework stops at the first failing filter,
-- so the order shows in FailedScheduling messages.
local FILTERS = {
    node_unschedulable_filter, node_name_filter, taint_filter, node_affinity_filter,
    ports_filter, fit_filter, spread_filter, inter_pod_filter,
}

function policy.filter(pod, node, ctx)
    if ctx.state.requests == nil then
        -- Called without prefilter (a policy that overrides prefilter and does not chain):
        -- compute the per-pod data now.
        policy.prefilter(pod, ctx)
    end
    for _, f in ipairs(FILTERS) do
        local ok, reason, code = f(pod, node, ctx)
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
local function resource_scores(pod, node, ctx)
    local req = ctx.state.requests
    local u = node_usage(node, ctx)
    local cpu_alloc, mem_alloc = allocatable(node, "cpu"), allocatable(node, "memory")
    -- LeastAllocated / MostAllocated use the non-zero requests.
    local cpu_used = u.nonzero_cpu + ((req.cpu or 0) > 0 and req.cpu or DEFAULT_MILLI_CPU)
    local mem_used = u.nonzero_mem + ((req.memory or 0) > 0 and req.memory or DEFAULT_MEMORY)
    local function one(used, cap)
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
    local fit = math.floor((one(cpu_used, cpu_alloc) + one(mem_used, mem_alloc)) / 2)
    -- BalancedAllocation uses the real requests: how far apart the cpu and memory fractions
    -- would be; a node whose resources are used evenly wastes less.
    -- A resource the node does not offer (allocatable 0) is left out, as in kube.
    local balanced = MAX
    if cpu_alloc > 0 and mem_alloc > 0 then
        local fc = math.min(((u.req.cpu or 0) + (req.cpu or 0)) / cpu_alloc, 1)
        local fm = math.min(((u.req.memory or 0) + (req.memory or 0)) / mem_alloc, 1)
        balanced = math.floor((1 - math.abs(fc - fm) / 2) * MAX)
    end
    return fit, balanced
end

-- TaintToleration score: how many PreferNoSchedule taints the pod does not tolerate
-- (fewer is better; reversed in normalize).
local PREFER = { PreferNoSchedule = true }
local function taint_count(pod, node)
    local tols = {}
    for _, t in ipairs(list(dig(pod, "spec", "tolerations"))) do
        if type(t) == "table" and (str(t.effect) == nil or t.effect == "" or t.effect == "PreferNoSchedule") then
            tols[#tols + 1] = t
        end
    end
    local n = 0
    for _, taint in ipairs(effective_taints(node)) do
        if type(taint) == "table" and PREFER[taint.effect] and not selector.tolerates_taint(tols, taint) then
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
    local fit, balanced = resource_scores(pod, node, ctx)
    ctx.state[RAW][name_of(node)] = {
        fit = fit, balanced = balanced, taint = taint_count(pod, node),
        node_affinity = selector.preferred_node_affinity_score(pod, node),
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
    for name, r in pairs(raw) do
        if scores[name] ~= nil then
            local s = 0
            for plugin, w in pairs(WEIGHTS) do
                s = s + r[plugin] * w
            end
            scores[name] = s / total
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
