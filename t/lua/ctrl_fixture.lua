-- t/lua/ctrl_fixture.lua: fixtures for the controller policy tests (t/lua/test_ctrl_*.lua):
-- builders for Pods, ReplicaSets, ReplicationControllers, Deployments and Services shaped like
-- the Kubernetes JSON, the ctx a controller runtime passes (docs/controllers.md), a mimic of
-- the runtime applying a result to an in-memory store (F.apply), and a small cluster
-- simulation for Deployments (F.sim: ReplicaSet controller and kubelet as pod counts with
-- ages). Pure Lua, so it also loads in the sandbox mimic (t/lua/sandbox.lua).
-- Used by: t/lua/test_ctrl_*.lua, run by t/0195-controller-policies.t.

local C = require("berth.controller.common")
local util = require("berth.util")

local F = {}

-- Stands in for the core's JSON null (a light userdata): like it, neither a table, a string
-- nor a number, so the policies' readers see it as absent.
F.NULL = function() end

F.T0 = 1700000000          -- 2023-11-14T22:13:20Z: "now" of most tests

function F.iso(t)
    return C.rfc3339(t)
end

F.copy = C.copy

local seq = 0
local function uid(prefix)
    seq = seq + 1
    return (prefix or "uid") .. "-" .. seq
end
F.uid = uid

---------------------------------------------------------------------------------------------
-- Builders
---------------------------------------------------------------------------------------------

-- A pod. o: labels, owner (a parent object: controller ownerReference to it), phase
-- ("Running"), ready (bool), ready_since (unix time of the Ready transition), node, created
-- (unix), deleting, ip, restarts, cost (pod-deletion-cost), uid, ns, ports (container
-- ports), sidecar_ports, hostname, subdomain.
function F.pod(name, o)
    o = o or {}
    local md = {
        name = name, namespace = o.ns or "default", uid = o.uid or uid("pod"),
        labels = o.labels or {}, creationTimestamp = F.iso(o.created or (F.T0 - 3600)),
    }
    if o.owner then
        md.ownerReferences = { {
            apiVersion = "apps/v1", kind = o.owner.kind or "ReplicaSet", name = o.owner.metadata.name,
            uid = o.owner.metadata.uid, controller = true, blockOwnerDeletion = true,
        } }
    end
    if o.deleting then
        md.deletionTimestamp = F.iso(F.T0)
    end
    if o.cost then
        md.annotations = { ["controller.kubernetes.io/pod-deletion-cost"] = tostring(o.cost) }
    end
    local conds = { { type = "PodScheduled", status = o.node and "True" or "False" } }
    if o.ready ~= nil then
        conds[#conds + 1] = {
            type = "Ready", status = o.ready and "True" or "False",
            lastTransitionTime = F.iso(o.ready_since or (F.T0 - 600)),
        }
    end
    local containers = { { name = "c", image = "nginx", ports = o.ports } }
    local init
    if o.sidecar_ports then
        init = { { name = "side", image = "envoy", restartPolicy = "Always", ports = o.sidecar_ports } }
    end
    return {
        apiVersion = "v1", kind = "Pod", metadata = md,
        spec = { nodeName = o.node, containers = containers, initContainers = init,
                 hostname = o.hostname, subdomain = o.subdomain },
        status = {
            phase = o.phase or (o.node and "Running" or "Pending"), conditions = conds,
            podIP = o.ip, podIPs = o.ip and { { ip = o.ip } } or nil,
            containerStatuses = o.restarts and { { name = "c", restartCount = o.restarts } } or nil,
        },
    }
end

local function template(labels)
    return {
        metadata = { labels = labels },
        spec = { containers = { { name = "c", image = "nginx:1.25", ports = { { containerPort = 80 } } } } },
    }
end
F.template = template

-- A ReplicaSet (the parent of the replicaset policy). o: replicas, labels (selector and
-- template labels, default app=web), min_ready, generation, deleting, status.
function F.rs(name, o)
    o = o or {}
    local labels = o.labels or { app = "web" }
    return {
        apiVersion = "apps/v1", kind = "ReplicaSet",
        metadata = { name = name, namespace = "default", uid = o.uid or uid("rs"), generation = o.generation or 1,
                     deletionTimestamp = o.deleting and F.iso(F.T0) or nil },
        spec = { replicas = o.replicas, minReadySeconds = o.min_ready,
                 selector = o.selector or { matchLabels = labels }, template = template(labels) },
        status = o.status or { replicas = 0 },
    }
end

-- A ReplicationController: like F.rs with a map selector (o.selector = false: none).
function F.rc(name, o)
    o = o or {}
    local labels = o.labels or { app = "web" }
    local sel = labels
    if o.selector == false then
        sel = nil
    elseif o.selector then
        sel = o.selector
    end
    return {
        apiVersion = "v1", kind = "ReplicationController",
        metadata = { name = name, namespace = "default", uid = o.uid or uid("rc"), generation = o.generation or 1 },
        spec = { replicas = o.replicas, selector = sel, template = template(labels) },
        status = { replicas = 0 },
    }
end

-- A Deployment. o: replicas, image, strategy ("RollingUpdate"|"Recreate"), surge,
-- unavailable, history, deadline, min_ready, paused.
function F.deployment(name, o)
    o = o or {}
    local strategy = { type = o.strategy or "RollingUpdate" }
    if strategy.type == "RollingUpdate" then
        strategy.rollingUpdate = { maxSurge = o.surge or "25%", maxUnavailable = o.unavailable or "25%" }
    end
    local tpl = template({ app = name })
    tpl.spec.containers[1].image = o.image or "nginx:1.25"
    return {
        apiVersion = "apps/v1", kind = "Deployment",
        metadata = { name = name, namespace = "default", uid = uid("deploy"), generation = 1,
                     creationTimestamp = F.iso(F.T0 - 7200), annotations = o.annotations },
        spec = {
            replicas = o.replicas or 1, selector = { matchLabels = { app = name } }, template = tpl,
            strategy = strategy, revisionHistoryLimit = o.history, progressDeadlineSeconds = o.deadline,
            minReadySeconds = o.min_ready, paused = o.paused,
        },
        status = {},
    }
end

-- A Service. o: selector (map; false for none), ports, cluster_ip ("10.96.0.10"; "None"
-- headless), publish (publishNotReadyAddresses), labels, type.
function F.service(name, o)
    o = o or {}
    local sel = o.selector
    if sel == nil then sel = { app = name } end
    if sel == false then sel = nil end
    return {
        apiVersion = "v1", kind = "Service",
        metadata = { name = name, namespace = "default", uid = uid("svc"), labels = o.labels },
        spec = { selector = sel, ports = o.ports, clusterIP = o.cluster_ip or "10.96.0.10",
                 publishNotReadyAddresses = o.publish, type = o.type or "ClusterIP" },
    }
end

---------------------------------------------------------------------------------------------
-- ctx
---------------------------------------------------------------------------------------------

-- The ctx a runtime passes. o: now, orphans ({[resource] = {...}}), objects ({[resource] =
-- {...}}: what ctx.list and ctx.get read), list_ignores_selector (a runtime that does not
-- pre-filter).
function F.ctx(o)
    o = o or {}
    local objects = o.objects or {}
    local ctx = { now = o.now or F.T0, orphans = o.orphans or {}, null = F.NULL }
    ctx.list = function(resource, opts)
        local out = {}
        for _, obj in ipairs(objects[resource] or {}) do
            if opts.namespace == nil or C.namespace(obj) == opts.namespace then
                out[#out + 1] = obj
            end
        end
        return out
    end
    ctx.get = function(resource, ns, name)
        for _, obj in ipairs(objects[resource] or {}) do
            if C.namespace(obj) == ns and C.name(obj) == name then
                return obj
            end
        end
        return nil
    end
    return ctx
end

---------------------------------------------------------------------------------------------
-- The runtime's side of a result (docs/controllers.md), over an in-memory list
---------------------------------------------------------------------------------------------

local function strip_nulls(v)
    if type(v) ~= "table" then
        return v
    end
    local out = {}
    for k, x in pairs(v) do
        if x ~= F.NULL then
            out[k] = strip_nulls(x)
        end
    end
    return setmetatable(out, getmetatable(v))
end

local function merge_map(dst, src)
    local changed = false
    for k, v in pairs(src) do
        if v == F.NULL then
            if dst[k] ~= nil then dst[k] = nil; changed = true end
        elseif dst[k] ~= v then
            dst[k] = v
            changed = true
        end
    end
    return changed
end

-- Applies result.children[resource] to store (a list of objects owned by parent) as the
-- runtime does; returns created, updated, deleted name lists. o.now stamps creations.
function F.apply_children(store, entries, parent, o)
    o = o or {}
    local by_name, keep = {}, {}
    for _, obj in ipairs(store) do
        by_name[C.name(obj)] = obj
    end
    local created, updated, deleted = {}, {}, {}
    local n = 0
    for _, e in ipairs(entries) do
        local md = e.metadata or {}
        local name = md.name
        local cur = name and by_name[name]
        if cur then
            keep[name] = true
            local changed = false
            if type(md.labels) == "table" then
                cur.metadata.labels = cur.metadata.labels or {}
                changed = merge_map(cur.metadata.labels, md.labels) or changed
            end
            if type(md.annotations) == "table" then
                cur.metadata.annotations = cur.metadata.annotations or {}
                changed = merge_map(cur.metadata.annotations, md.annotations) or changed
            end
            for k, v in pairs(e) do
                if k ~= "apiVersion" and k ~= "kind" and k ~= "metadata" and k ~= "status" then
                    local want = v ~= F.NULL and strip_nulls(v) or nil
                    if not util.deep_equal(cur[k], want) then
                        cur[k] = C.copy(want)
                        changed = true
                        if k == "spec" then
                            cur.metadata.generation = (cur.metadata.generation or 1) + 1
                        end
                    end
                end
            end
            if changed then updated[#updated + 1] = name end
        else
            local obj = strip_nulls(C.copy(e))
            n = n + 1
            if not obj.metadata.name then
                obj.metadata.name = obj.metadata.generateName .. "gen" .. tostring(#store + n)
            end
            obj.metadata.generateName = nil
            obj.metadata.namespace = C.namespace(parent)
            obj.metadata.uid = uid("child")
            obj.metadata.generation = 1
            obj.metadata.creationTimestamp = F.iso(o.now or F.T0)
            obj.metadata.ownerReferences = { { apiVersion = parent.apiVersion, kind = parent.kind,
                name = C.name(parent), uid = C.uid(parent), controller = true, blockOwnerDeletion = true } }
            obj.status = obj.status or {}
            store[#store + 1] = obj
            keep[obj.metadata.name] = true
            created[#created + 1] = obj.metadata.name
        end
    end
    for i = #store, 1, -1 do
        local name = C.name(store[i])
        if not keep[name] then
            deleted[#deleted + 1] = name
            table.remove(store, i)
        end
    end
    return created, updated, deleted
end

-- A JSON merge patch (RFC 7386) of patch into obj, in place.
function F.merge_patch(obj, patch)
    for k, v in pairs(patch) do
        if v == F.NULL then
            obj[k] = nil
        elseif type(v) == "table" and not (#v > 0) and type(obj[k]) == "table" then
            F.merge_patch(obj[k], v)
        else
            obj[k] = C.copy(v)
        end
    end
    return obj
end

---------------------------------------------------------------------------------------------
-- Deployment simulation
---------------------------------------------------------------------------------------------

local Sim = {}
Sim.__index = Sim

-- A cluster holding deployment d and its ReplicaSets, run by policy (a controller policy
-- table). Pods are {born, deleting_until} per RS: created by the "ReplicaSet controller" in
-- tick(), available delay ticks after their birth, removed unavailable-first and newest
-- first on scale-down, and (o.linger) left terminating for one tick, visible to ctx.list.
function F.sim(policy, d, o)
    o = o or {}
    return setmetatable({
        policy = policy, d = d, rs = {}, pods = {}, terminating = {}, t = 0, now = o.now or F.T0,
        step = o.step or 10, delay = o.delay or 1, linger = o.linger, events = {}, log = {},
    }, Sim)
end

function Sim:ctx()
    local sim = self
    local ctx = F.ctx({ now = self.now })
    ctx.list = function(resource)
        if resource ~= "v1/pods" then return {} end
        local out = {}
        for _, rs in ipairs(sim.rs) do
            local labels = rs.spec.template.metadata.labels
            for i, p in ipairs(sim.pods[rs.metadata.uid] or {}) do
                out[#out + 1] = { metadata = { name = rs.metadata.name .. "-p" .. i, namespace = "default", labels = labels,
                    ownerReferences = { { controller = true, uid = rs.metadata.uid } } }, status = { phase = "Running" } }
            end
        end
        for _, tp in ipairs(sim.terminating) do
            out[#out + 1] = { metadata = { name = tp.name, namespace = "default", labels = tp.labels,
                deletionTimestamp = F.iso(sim.now), ownerReferences = { { controller = true, uid = tp.owner } } },
                status = { phase = "Running" } }
        end
        return out
    end
    ctx.get = function(_, _, name)
        for _, rs in ipairs(sim.rs) do
            if rs.metadata.name == name then return rs end
        end
    end
    return ctx
end

-- One deployment sync, its result applied. Returns the result.
function Sim:sync()
    local r = self.policy.sync(self.d, { ["apps/v1/replicasets"] = self.rs }, self:ctx())
    if r.children and r.children["apps/v1/replicasets"] then
        F.apply_children(self.rs, r.children["apps/v1/replicasets"], self.d, { now = self.now })
    end
    if r.status then
        self.d.status = C.copy(r.status)
    end
    if r.parent_patch then
        F.merge_patch(self.d, r.parent_patch)
    end
    for _, e in ipairs(r.events or {}) do
        self.events[#self.events + 1] = e.message
    end
    self.last = r
    return r
end

-- The ReplicaSet controller and the kubelets, one step; then time moves on.
function Sim:tick()
    local alive = {}
    for _, tp in ipairs(self.terminating) do
        if tp.until_t > self.t then alive[#alive + 1] = tp end
    end
    self.terminating = alive
    for _, rs in ipairs(self.rs) do
        local u = rs.metadata.uid
        local pods = self.pods[u] or {}
        self.pods[u] = pods
        local want = rs.spec.replicas or 1
        -- delete unavailable (youngest) first
        table.sort(pods, function(a, b) return a.born > b.born end)
        while #pods > want do
            local p = table.remove(pods, 1)
            if self.linger then
                self.terminating[#self.terminating + 1] = { name = rs.metadata.name .. "-x" .. p.born,
                    labels = rs.spec.template.metadata.labels, owner = u, until_t = self.t + 1 }
            end
        end
        while #pods < want do
            pods[#pods + 1] = { born = self.t }
        end
        local avail = 0
        for _, p in ipairs(pods) do
            if p.born <= self.t - self.delay then avail = avail + 1 end
        end
        rs.status = { replicas = #pods, readyReplicas = avail > 0 and avail or nil,
            availableReplicas = avail > 0 and avail or nil, observedGeneration = rs.metadata.generation }
    end
    self.t = self.t + 1
    self.now = self.now + self.step
end

-- Totals over the ReplicaSets: pods (status.replicas), available, and the spec sum.
function Sim:totals()
    local pods, avail, spec = 0, 0, 0
    for _, rs in ipairs(self.rs) do
        pods = pods + (rs.status.replicas or 0)
        avail = avail + (rs.status.availableReplicas or 0)
        spec = spec + (rs.spec.replicas or 0)
    end
    return pods, avail, spec
end

-- The RS named, or whose template image is image.
function Sim:rs_by_image(image)
    for _, rs in ipairs(self.rs) do
        if rs.spec.template.spec.containers[1].image == image then return rs end
    end
end

-- True when the deployment reports a finished rollout as kubectl rollout status reads it.
function Sim:rolled_out()
    local st, d = self.d.status, self.d
    local r = d.spec.replicas
    return (st.observedGeneration or 0) >= d.metadata.generation and (st.updatedReplicas or 0) >= r
        and (st.replicas or 0) <= (st.updatedReplicas or 0) and (st.availableReplicas or 0) >= (st.updatedReplicas or 0)
end

-- Changes the template (a new image), bumping generation as the API server does.
function Sim:set_image(image)
    self.d.spec.template.spec.containers[1].image = image
    self.d.metadata.generation = self.d.metadata.generation + 1
end

function Sim:set_spec(field, value)
    self.d.spec[field] = value
    self.d.metadata.generation = self.d.metadata.generation + 1
end

-- Runs sync+tick until check() (default: rolled out with only the new RS's pods) holds, at
-- most n steps; each_step(sim) runs after every tick. Returns the number of steps, or nil.
function Sim:run(n, each_step, check)
    check = check or function(s) return s:rolled_out() end
    for i = 1, n do
        self:sync()
        if check(self) then
            return i
        end
        self:tick()
        if each_step then each_step(self, i) end
    end
    return nil
end

function Sim:cond(t)
    return C.get_condition(self.d.status.conditions, t)
end

return F
