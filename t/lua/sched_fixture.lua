-- t/lua/sched_fixture.lua: a fixture cluster for the scheduler tests (t/lua/test_scheduler_*.lua):
-- builds Node and Pod objects shaped like the Kubernetes JSON, and the ctx that the C core
-- builds for lua/berth/framework.lua (nodes, pods_on, pods, percentage_of_nodes_to_score,
-- state, now, and on request pods_changed). Pure Lua, so it also loads in the sandbox
-- mimic (t/lua/sandbox.lua).
-- Used by: t/lua/test_scheduler_*.lua, run by t/0190-scheduler-policy.t.
--
--   local F = require("sched_fixture")
--   local c = F.cluster()
--   c:node("n1", { cpu = "2", memory = "4Gi", labels = { zone = "a" } })
--   c:pod("web-1", { cpu = "500m", node = "n1", labels = { app = "web" } })  -- placed
--   local p = c:pod("web-2", { cpu = "500m" })                              -- pending
--   local name, msg = c:schedule(p)     -- default policy; binds the pod on success

local framework = require("berth.framework")
local default_policy = require("berth.default_scheduler")

local F = { framework = framework, policy = default_policy }

local Cluster = {}
Cluster.__index = Cluster

-- A new empty cluster. percentage: percentage_of_nodes_to_score (default 0, adaptive).
-- feed: give the ctx a pods_changed change feed, as the core's (engine/schedcache.h).
-- c.pods_on_calls counts the calls of ctx.pods_on.
function F.cluster(percentage, feed)
    return setmetatable({ nodes = {}, placed = {}, by_node = {}, percentage = percentage or 0, seq = 0,
        feed = feed or false, log = {}, pods_on_calls = 0 }, Cluster)
end

-- Adds a node. o: cpu, memory, ephemeral (ephemeral-storage), pods (max pods), extra
-- (map of more allocatable resources), labels, taints, unschedulable, ready (default true;
-- "Unknown" for an unreachable node). Returns the Node object.
function Cluster:node(name, o)
    o = o or {}
    local labels = { ["kubernetes.io/hostname"] = name }
    for k, v in pairs(o.labels or {}) do
        labels[k] = v
    end
    local alloc = {
        cpu = o.cpu or "4", memory = o.memory or "8Gi",
        ["ephemeral-storage"] = o.ephemeral or "100Gi", pods = tostring(o.pods or 110),
    }
    for k, v in pairs(o.extra or {}) do
        alloc[k] = v
    end
    local ready = "True"
    if o.ready == false then
        ready = "False"
    elseif type(o.ready) == "string" then
        ready = o.ready
    end
    local n = {
        apiVersion = "v1", kind = "Node",
        metadata = { name = name, labels = labels },
        spec = { taints = o.taints, unschedulable = o.unschedulable },
        status = { allocatable = alloc, capacity = alloc, conditions = { { type = "Ready", status = ready } } },
    }
    self.nodes[#self.nodes + 1] = n
    self.by_node[name] = self.by_node[name] or {}
    return n
end

-- Adds n nodes named prefix-1..prefix-n with the same options.
function Cluster:nodes_n(prefix, n, o)
    for i = 1, n do
        self:node(prefix .. "-" .. i, o)
    end
end

-- Builds a pod. o: cpu, memory, ephemeral (requests of its one container), containers
-- (replaces the default container), init (initContainers), overhead, labels, ns,
-- ports (list of host ports, or of {hostPort=, protocol=, hostIP=}), tolerations,
-- node_selector, affinity, spread (topologySpreadConstraints), priority, created,
-- node (place it there now: a bound pod). Returns the Pod object.
function Cluster:pod(name, o)
    o = o or {}
    self.seq = self.seq + 1
    local req = {}
    if o.cpu then req.cpu = o.cpu end
    if o.memory then req.memory = o.memory end
    if o.ephemeral then req["ephemeral-storage"] = o.ephemeral end
    for k, v in pairs(o.extra or {}) do
        req[k] = v
    end
    local ports
    if o.ports then
        ports = {}
        for _, p in ipairs(o.ports) do
            if type(p) == "table" then
                ports[#ports + 1] = { containerPort = p.hostPort, hostPort = p.hostPort,
                    protocol = p.protocol, hostIP = p.hostIP }
            else
                ports[#ports + 1] = { containerPort = p, hostPort = p }
            end
        end
    end
    local containers = o.containers or {
        { name = "c", image = "busybox", resources = { requests = req }, ports = ports },
    }
    local p = {
        apiVersion = "v1", kind = "Pod",
        metadata = {
            name = name, namespace = o.ns or "default", labels = o.labels or {},
            creationTimestamp = o.created or string.format("2026-01-01T00:%02d:%02dZ",
                math.floor(self.seq / 60) % 60, self.seq % 60),
        },
        spec = {
            containers = containers, initContainers = o.init, overhead = o.overhead,
            tolerations = o.tolerations, nodeSelector = o.node_selector, affinity = o.affinity,
            topologySpreadConstraints = o.spread, priority = o.priority,
        },
        status = { phase = "Pending" },
    }
    if o.node then
        self:place(p, o.node)
    end
    return p
end

-- Binds pod to node name in the fixture (what the core does after a successful cycle).
function Cluster:place(pod, node_name)
    pod.spec.nodeName = node_name
    pod.status.phase = "Running"
    self.placed[#self.placed + 1] = pod
    -- A new array, as the core makes when a node's pods change: policies may memoize what
    -- they compute from an array for as long as it is the same table.
    local l = {}
    for i, p in ipairs(self.by_node[node_name] or {}) do
        l[i] = p
    end
    l[#l + 1] = pod
    self.by_node[node_name] = l
    self.log[#self.log + 1] = node_name
end

-- Takes a placed pod off its node (deleted, or done), with a new array for the node.
function Cluster:remove(pod)
    local node_name = pod.spec.nodeName
    for i, p in ipairs(self.placed) do
        if p == pod then
            table.remove(self.placed, i)
            break
        end
    end
    local l = {}
    for _, p in ipairs(self.by_node[node_name] or {}) do
        if p ~= pod then
            l[#l + 1] = p
        end
    end
    self.by_node[node_name] = l
    self.log[#self.log + 1] = node_name
end

-- ctx.pods_changed(token), as the core's: the current token (the length of the log of
-- changed nodes) and the names logged after token, or the token alone for a token that is
-- not one. One function per cluster, as the core keeps one per cache.
function Cluster:changed_fn()
    local c = self
    c.changed = c.changed or function(tok)
        if type(tok) ~= "number" or tok > #c.log then
            return #c.log
        end
        local names = {}
        for i = tok + 1, #c.log do
            names[#names + 1] = c.log[i]
        end
        return #c.log, names
    end
    return c.changed
end

-- The ctx the core would build. Counts calls in self.calls for the sampling test.
function Cluster:ctx()
    local c = self
    return {
        nodes = c.nodes,
        pods_on = function(name)
            c.pods_on_calls = c.pods_on_calls + 1
            return c.by_node[name] or {}
        end,
        pods = function() return c.placed end,
        percentage_of_nodes_to_score = c.percentage,
        state = {},
        now = 1767225600,
        pods_changed = c.feed and c:changed_fn() or nil,
    }
end

-- Runs one cycle with policy (default: the default policy); on success places the pod.
-- Returns nodeName, or nil, message (and the ctx used, for inspection).
function Cluster:schedule(pod, policy)
    local ctx = self:ctx()
    local name, msg = framework.schedule(policy or default_policy, pod, ctx)
    if name then
        self:place(pod, name)
    end
    return name, msg, ctx
end

-- Schedules a fresh pod built with c:pod(name, o); shorthand for one-line tests.
function Cluster:try(name, o, policy)
    return self:schedule(self:pod(name, o), policy)
end

-- Node names of the pods placed so far, keyed by pod name.
function Cluster:where()
    local out = {}
    for _, p in ipairs(self.placed) do
        out[p.metadata.name] = p.spec.nodeName
    end
    return out
end

return F
