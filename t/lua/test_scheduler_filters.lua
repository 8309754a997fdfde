-- t/lua/test_scheduler_filters.lua: the default policy's filters (policies/scheduler.lua),
-- one fixture per rule: pods land where the rule allows, and the FailedScheduling message is
-- kube-scheduler's, exactly. Run by t/0190-scheduler-policy.t (t/0180 finds it too, without
-- policies/ on the path, and skips).
local t = require("tap")
local okF, F = pcall(require, "sched_fixture")
if not okF then
    t.ok(true, "scheduler fixture tests # SKIP policies/ not on the module path (t/0190 runs them)")
    t.done_testing()
end

-- The "preemption:" tail of a message for u unresolvable and r resolvable nodes.
local function tail(total, u, r)
    local parts = {}
    if u > 0 then parts[#parts + 1] = u .. " Preemption is not helpful for scheduling" end
    if r > 0 then parts[#parts + 1] = r .. " No preemption victims found for incoming pod" end
    table.sort(parts)   -- kube sorts the "count reason" strings
    return " preemption: 0/" .. total .. " nodes are available: " .. table.concat(parts, ", ") .. "."
end

-- NodeResourcesFit: cpu, memory, ephemeral-storage, pod count, extended resources.
do
    local c = F.cluster()
    c:node("small", { cpu = "1", memory = "1Gi" })
    c:node("big", { cpu = "4", memory = "8Gi" })
    t.is(c:try("p1", { cpu = "2" }), "big", "cpu: only the big node fits 2 cpus")
    t.is(c:try("p2", { cpu = "1500m" }), "big", "cpu: big has 2 cpus left, small has 1")
    local name, msg = c:try("p3", { cpu = "1", memory = "2Gi" })
    t.is(name, nil, "cpu+memory: nothing fits")
    t.is(msg, "0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory." .. tail(2, 0, 2),
        "both reasons of one node count, each once")
    t.is(c:try("p4", { cpu = "500m" }), "small", "the freshest node fits 500m")
    local c2 = F.cluster()
    c2:node("n", { pods = 2, ephemeral = "10Gi" })
    c2:pod("a", { node = "n" })
    c2:pod("b", { node = "n" })
    t.is(select(2, c2:try("x", {})), "0/1 nodes are available: 1 Too many pods." .. tail(1, 0, 1),
        "pods: allocatable pods count, also for a pod without requests")
    local c3 = F.cluster()
    c3:node("n", { ephemeral = "10Gi", extra = { ["nvidia.com/gpu"] = "1" } })
    t.is(select(2, c3:try("x", { ephemeral = "20Gi" })),
        "0/1 nodes are available: 1 Insufficient ephemeral-storage." .. tail(1, 0, 1), "ephemeral-storage")
    t.is(select(2, c3:try("y", { extra = { ["nvidia.com/gpu"] = "2" } })),
        "0/1 nodes are available: 1 Insufficient nvidia.com/gpu." .. tail(1, 0, 1), "extended resource")
    t.is(c3:try("z", { extra = { ["nvidia.com/gpu"] = "1" } }), "n", "extended resource that fits")
    t.is(c3:try("w", {}), "n", "a pod without requests always fits (counts 0)")
end

-- Requests: max(sum of containers, biggest init container) + overhead; sidecars add up.
do
    local P = F.policy
    local c = F.cluster()
    local pod = c:pod("p", {
        containers = {
            { name = "a", resources = { requests = { cpu = "100m", memory = "64Mi" } } },
            { name = "b", resources = { requests = { cpu = "200m" } } },
        },
        init = { { name = "i", resources = { requests = { cpu = "1", memory = "32Mi" } } } },
        overhead = { cpu = "50m" },
    })
    local r = P.pod_requests(pod)
    t.is(r.cpu, 1050, "init container above the sum wins, plus overhead")
    t.is(r.memory, 64 * 1024 * 1024, "memory: containers' sum above init")
    local side = c:pod("s", {
        containers = { { name = "a", resources = { requests = { cpu = "500m" } } } },
        init = {
            { name = "proxy", restartPolicy = "Always", resources = { requests = { cpu = "300m" } } },
            { name = "setup", resources = { requests = { cpu = "600m" } } },
        },
    })
    t.is(P.pod_requests(side).cpu, 900, "sidecar runs with the init after it (900) and the containers (800)")
    local c2 = F.cluster()
    c2:node("n", { cpu = "1" })
    local big_init = c2:pod("x", { cpu = "100m", init = { { name = "i", resources = { requests = { cpu = "2" } } } } })
    t.is(select(2, c2:schedule(big_init)), "0/1 nodes are available: 1 Insufficient cpu." .. tail(1, 0, 1),
        "an init container that does not fit blocks the pod")
end

-- NodeName.
do
    local c = F.cluster()
    c:node("a") c:node("b")
    local p = c:pod("p")
    p.spec.nodeName = "b"
    t.is(c:schedule(p), "b", "spec.nodeName picks the node")
    local q = c:pod("q")
    q.spec.nodeName = "zzz"
    t.is(select(2, c:schedule(q)), "0/2 nodes are available: 2 node(s) didn't match the requested node name." ..
        tail(2, 2, 0), "unknown node name")
end

-- NodeUnschedulable and its toleration.
do
    local c = F.cluster()
    c:node("cordoned", { unschedulable = true })
    t.is(select(2, c:try("p")), "0/1 nodes are available: 1 node(s) were unschedulable." .. tail(1, 1, 0),
        "cordoned node refuses pods")
    t.is(c:try("ds", { tolerations = { { key = "node.kubernetes.io/unschedulable", operator = "Exists",
        effect = "NoSchedule" } } }), "cordoned", "a pod tolerating node.kubernetes.io/unschedulable lands")
end

-- Node readiness as taints.
do
    local c = F.cluster()
    c:node("down", { ready = false })
    c:node("gone", { ready = "Unknown" })
    t.is(select(2, c:try("p")), "0/2 nodes are available: 1 node(s) had untolerated taint " ..
        "{node.kubernetes.io/not-ready: }, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }." ..
        tail(2, 2, 0), "not-ready and unreachable nodes")
    t.is(c:try("q", { tolerations = { { key = "node.kubernetes.io/not-ready", operator = "Exists" } } }),
        "down", "tolerating not-ready lands on the not-ready node")
    local c2 = F.cluster()
    local n = c2:node("fresh")
    n.status.conditions = nil
    t.is(select(2, c2:try("p")), "0/1 nodes are available: 1 node(s) had untolerated taint " ..
        "{node.kubernetes.io/not-ready: }." .. tail(1, 1, 0), "a node without a Ready condition is not ready")
end

-- TaintToleration filter.
do
    local c = F.cluster()
    c:node("cp", { taints = { { key = "node-role.kubernetes.io/control-plane", effect = "NoSchedule" } } })
    c:node("db", { taints = { { key = "dedicated", value = "db", effect = "NoExecute" } } })
    c:node("soft", { taints = { { key = "spot", value = "yes", effect = "PreferNoSchedule" } } })
    t.is(c:try("p"), "soft", "PreferNoSchedule does not filter")
    t.is(c:try("q", { tolerations = { { key = "dedicated", operator = "Equal", value = "db", effect = "NoExecute" } },
        cpu = "3900m" }), "db", "tolerated NoExecute taint")
    t.is(c:try("r", { tolerations = { { operator = "Exists" } }, node_selector = { ["kubernetes.io/hostname"] = "cp" } }),
        "cp", "empty key + Exists tolerates everything")
    local c2 = F.cluster()
    c2:node("db", { taints = { { key = "dedicated", value = "db", effect = "NoSchedule" } } })
    t.is(select(2, c2:try("x", { tolerations = { { key = "dedicated", value = "web", effect = "NoSchedule" } } })),
        "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: db}." .. tail(1, 1, 0),
        "toleration with another value")
end

-- NodeAffinity and nodeSelector.
do
    local c = F.cluster()
    c:node("ssd-a", { labels = { disk = "ssd", zone = "a", cores = "8" } })
    c:node("hdd-b", { labels = { disk = "hdd", zone = "b", cores = "32" } })
    t.is(c:try("p", { node_selector = { disk = "hdd" } }), "hdd-b", "nodeSelector")
    t.is(c:try("q", { affinity = { nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution = {
        nodeSelectorTerms = { { matchExpressions = { { key = "zone", operator = "In", values = { "a" } } } } } } } } }),
        "ssd-a", "required node affinity In")
    t.is(c:try("g", { affinity = { nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution = {
        nodeSelectorTerms = { { matchExpressions = { { key = "cores", operator = "Gt", values = { "16" } } } } } } } } }),
        "hdd-b", "required node affinity Gt")
    t.is(select(2, c:try("r", { node_selector = { disk = "nvme" } })),
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector." .. tail(2, 2, 0),
        "no node matches the selector")
end

-- NodePorts.
do
    local c = F.cluster()
    c:node("a") c:node("b")
    c:pod("web-a", { node = "a", ports = { 80 } })
    t.is(c:try("web-b", { ports = { 80 } }), "b", "hostPort 80 taken on a")
    t.is(select(2, c:try("web-c", { ports = { 80 } })),
        "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports." .. tail(2, 0, 2),
        "hostPort 80 taken everywhere")
    t.ok(c:try("dns", { ports = { { hostPort = 80, protocol = "UDP" } } }) ~= nil, "UDP 80 does not clash with TCP 80")
    local c2 = F.cluster()
    c2:node("n")
    c2:pod("one", { node = "n", ports = { { hostPort = 9000, hostIP = "10.0.0.1" } } })
    t.is(c2:try("two", { ports = { { hostPort = 9000, hostIP = "10.0.0.2" } } }), "n", "different host IPs")
    t.is(c2:try("three", { ports = { { hostPort = 9000 } } }), nil, "wildcard IP overlaps every IP")
end

-- InterPodAffinity: required affinity, anti-affinity, and existing pods' anti-affinity.
do
    local zone_term = function(app) return { labelSelector = { matchLabels = { app = app } }, topologyKey = "zone" } end
    local host_term = function(app)
        return { labelSelector = { matchLabels = { app = app } }, topologyKey = "kubernetes.io/hostname" }
    end
    local c = F.cluster()
    c:node("a1", { labels = { zone = "a" } })
    c:node("a2", { labels = { zone = "a" } })
    c:node("b1", { labels = { zone = "b" } })
    c:pod("cache", { node = "b1", labels = { app = "cache" } })
    t.is(c:try("web", { labels = { app = "web" },
        affinity = { podAffinity = { requiredDuringSchedulingIgnoredDuringExecution = { zone_term("cache") } } } }),
        "b1", "affinity: into the cache's zone")
    t.is(select(2, c:try("lonely", { affinity = { podAffinity = {
        requiredDuringSchedulingIgnoredDuringExecution = { zone_term("nothing") } } } })),
        "0/3 nodes are available: 3 node(s) didn't match pod affinity rules." .. tail(3, 3, 0),
        "affinity to pods that do not exist")
    t.is(c:try("first", { labels = { app = "grp" }, affinity = { podAffinity = {
        requiredDuringSchedulingIgnoredDuringExecution = { zone_term("grp") } } } }), "a1",
        "the first pod of a self-affine group may start anywhere")
    t.is(c:try("anti", { labels = { app = "solo" }, affinity = { podAntiAffinity = {
        requiredDuringSchedulingIgnoredDuringExecution = { zone_term("cache") } } } }) ~= "b1", true,
        "anti-affinity: away from the cache's zone")
    local c2 = F.cluster()
    c2:node("n1") c2:node("n2")
    local spec = { labels = { app = "db" }, affinity = { podAntiAffinity = {
        requiredDuringSchedulingIgnoredDuringExecution = { host_term("db") } } } }
    local a, b = c2:try("db-0", spec), c2:try("db-1", spec)
    t.ok(a and b and a ~= b, "anti-affinity per hostname: one replica per node")
    t.is(select(2, c2:try("db-2", spec)),
        "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules." .. tail(2, 0, 2),
        "third replica has nowhere to go")
    t.is(select(2, c2:try("other", { labels = { app = "db" } })),
        "0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules." .. tail(2, 0, 2),
        "existing pods' anti-affinity keeps a matching pod out")
    t.is(c2:try("other-ns", { ns = "prod", labels = { app = "db" } }) ~= nil, true,
        "anti-affinity terms default to the owner's namespace")
    local c3 = F.cluster()
    c3:node("n1") c3:node("n2")
    c3:pod("mon", { node = "n1", ns = "monitoring", labels = { app = "agent" } })
    t.is(c3:try("x", { affinity = { podAffinity = { requiredDuringSchedulingIgnoredDuringExecution = {
        { labelSelector = { matchLabels = { app = "agent" } }, topologyKey = "kubernetes.io/hostname",
          namespaces = { "monitoring" } } } } } }), "n1", "term namespaces list")
    t.is(c3:try("y", { affinity = { podAffinity = { requiredDuringSchedulingIgnoredDuringExecution = {
        { labelSelector = { matchLabels = { app = "agent" } }, topologyKey = "kubernetes.io/hostname",
          namespaceSelector = {} } } } } }), "n1", "empty namespaceSelector: all namespaces")
    t.is(c3:try("z", { affinity = { podAffinity = { requiredDuringSchedulingIgnoredDuringExecution = {
        { labelSelector = { matchLabels = { app = "agent" } }, topologyKey = "kubernetes.io/hostname",
          namespaceSelector = { matchLabels = { ["kubernetes.io/metadata.name"] = "monitoring" } } } } } } }),
        "n1", "namespaceSelector on the metadata.name label")
    t.is(c3:try("w", { affinity = { podAffinity = { requiredDuringSchedulingIgnoredDuringExecution = {
        { labelSelector = { matchLabels = { app = "agent" } }, topologyKey = "kubernetes.io/hostname" } } } } }),
        nil, "without namespaces the term looks in the pod's own namespace only")
end

-- Several required affinity terms: one existing pod must match them all (kube).
do
    local terms = { { labelSelector = { matchLabels = { tier = "cache" } }, topologyKey = "zone" },
        { labelSelector = { matchLabels = { role = "db" } }, topologyKey = "zone" } }
    local c = F.cluster()
    c:node("a1", { labels = { zone = "a" } })
    c:node("b1", { labels = { zone = "b" } })
    c:pod("cache", { node = "a1", labels = { tier = "cache" } })
    c:pod("db", { node = "a1", labels = { role = "db" } })
    t.is(select(2, c:try("p", { affinity = { podAffinity = { requiredDuringSchedulingIgnoredDuringExecution = terms } } })),
        "0/2 nodes are available: 2 node(s) didn't match pod affinity rules." .. tail(2, 2, 0),
        "two pods matching one term each do not satisfy two terms")
    c:pod("both", { node = "b1", labels = { tier = "cache", role = "db" } })
    t.is(c:try("q", { affinity = { podAffinity = { requiredDuringSchedulingIgnoredDuringExecution = terms } } }),
        "b1", "a pod matching both terms does")
end

-- PodTopologySpread, DoNotSchedule.
do
    local c = F.cluster()
    c:node("a1", { labels = { zone = "a" } })
    c:node("b1", { labels = { zone = "b" } })
    c:node("nolabel")
    local spread = { { maxSkew = 1, topologyKey = "zone", whenUnsatisfiable = "DoNotSchedule",
        labelSelector = { matchLabels = { app = "web" } } } }
    c:pod("w0", { node = "a1", labels = { app = "web" } })
    t.is(c:try("w1", { labels = { app = "web" }, spread = spread }), "b1", "skew forces zone b")
    t.ok(c:try("w2", { labels = { app = "web" }, spread = spread }) ~= nil, "balanced again: either zone")
    c:pod("w3", { node = "a1", labels = { app = "web" } })
    c:pod("w4", { node = "a1", labels = { app = "web" } })
    local name, msg = c:try("w5", { labels = { app = "web" }, spread = spread })
    t.is(name, "b1", "zone a is ahead: zone b only")
    -- Zone b full of cpu: the skew keeps the pod out of zone a, cpu out of b.
    local c2 = F.cluster()
    c2:node("a1", { labels = { zone = "a" } })
    c2:node("b1", { labels = { zone = "b" }, cpu = "1" })
    c2:node("nolabel")
    c2:pod("w0", { node = "a1", labels = { app = "web" } })
    name, msg = c2:try("w1", { labels = { app = "web" }, spread = spread, cpu = "2" })
    t.is(msg, "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match pod topology spread " ..
        "constraints, 1 node(s) didn't match pod topology spread constraints (missing required label)." ..
        tail(3, 1, 2), "spread: skew, missing label and cpu together")
    local c3 = F.cluster()
    c3:node("a1", { labels = { zone = "a" } })
    local md = { { maxSkew = 1, topologyKey = "zone", whenUnsatisfiable = "DoNotSchedule", minDomains = 2,
        labelSelector = { matchLabels = { app = "x" } } } }
    t.is(c3:try("x0", { labels = { app = "x" }, spread = md }), "a1", "minDomains: first pod fits (skew 1)")
    t.is(c3:try("x1", { labels = { app = "x" }, spread = md }), nil, "minDomains: too few domains, min is 0")
    c3:pod("other-ns", { node = "a1", ns = "other", labels = { app = "y" } })
    t.is(c3:try("y0", { labels = { app = "y" }, spread = { { maxSkew = 1, topologyKey = "zone",
        labelSelector = { matchLabels = { app = "y" } } } } }), "a1", "pods of other namespaces do not count")
end

-- Filter order is kube's default profile order, and the first failing filter names the
-- node: NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts,
-- NodeResourcesFit, PodTopologySpread, InterPodAffinity.
do
    local c = F.cluster()
    c:node("both", { cpu = "1", ready = false, unschedulable = true })
    c:node("ports-and-cpu", { cpu = "1" })
    c:pod("holder", { node = "ports-and-cpu", ports = { 443 } })
    t.is(select(2, c:try("p", { cpu = "2", ports = { 443 } })), "0/2 nodes are available: " ..
        "1 node(s) didn't have free ports for the requested pod ports, 1 node(s) were unschedulable." ..
        tail(2, 1, 1), "unschedulable before taints, ports before resources")
end

-- JSON null: the core passes it as a light userdata (berth.null); here a function stands in
-- for it (another value that is neither nil, a string nor a table).
do
    local NULL = function() end
    local c = F.cluster()
    local n = c:node("n", { taints = { { key = "k", value = NULL, effect = "PreferNoSchedule" } } })
    n.spec.unschedulable = NULL
    local other = c:pod("old", { node = "n", ports = { 80 } })
    other.metadata.deletionTimestamp = NULL
    other.spec.affinity = NULL
    local p = c:pod("p", { ports = { { hostPort = 81, hostIP = NULL, protocol = NULL } } })
    p.spec.nodeName = NULL
    p.spec.nodeSelector = NULL
    p.spec.tolerations = { { key = "k", effect = NULL, operator = "Exists" } }
    p.spec.affinity = { podAffinity = { requiredDuringSchedulingIgnoredDuringExecution = {
        { labelSelector = NULL, topologyKey = "kubernetes.io/hostname", namespaceSelector = NULL } } } }
    p.metadata.labels = NULL
    p.metadata.creationTimestamp = NULL
    t.is(select(2, c:schedule(p)), "0/1 nodes are available: 1 node(s) didn't match pod affinity rules." ..
        tail(1, 1, 0), "nulls read as absent; a null labelSelector selects no pod")
    p.spec.affinity = NULL
    t.is(c:schedule(p), "n", "and without the affinity the pod lands")
    t.ok(F.policy.sort(p, other) ~= nil, "sort copes with a null creationTimestamp")
end

-- The brief's mixed message, exactly.
do
    local c = F.cluster()
    c:node("cp", { cpu = "8", taints = { { key = "node-role.kubernetes.io/control-plane", effect = "NoSchedule" } } })
    c:node("w1", { cpu = "1" })
    c:node("w2", { cpu = "1" })
    local name, msg = c:try("big", { cpu = "2" })
    t.is(name, nil, "mixed: no node")
    t.is(msg, "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, " ..
        "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, " ..
        "2 No preemption victims found for incoming pod.", "mixed: kube 1.31 FitError text")
    local c2 = F.cluster()
    c2:node("x", { cpu = "1", ready = false })
    c2:node("y", { cpu = "1", ready = false })
    c2:node("z", { cpu = "1", unschedulable = true })
    t.is(select(2, c2:try("p")), "0/3 nodes are available: 1 node(s) were unschedulable, " ..
        "2 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/3 nodes are available: " ..
        "3 Preemption is not helpful for scheduling.", "all unresolvable: one preemption reason")
end

t.done_testing()
