-- t/lua/ctrl_fixture.lua: fixtures for the controller policy tests (t/lua/test_ctrl_*.lua):
-- builders for Pods, ReplicaSets, ReplicationControllers, Deployments and Services shaped like
-- the Kubernetes JSON, the ctx a controller runtime passes (docs/controllers.md), a mimic of
-- the runtime applying a result to an in-memory store (F.apply), a small cluster
-- simulation for Deployments (F.sim: ReplicaSet controller and kubelet as pod counts with
-- ages), Nodes, Leases and Namespaces, and a whole-cluster store that applies the
-- imperative result.delete / result.patch for the garbage collector (F.store). Pure Lua, so it also loads in the sandbox mimic (t/lua/sandbox.lua).
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
-- pre-filter), settings (ctx.settings), resources (ctx.resources(): every key of objects,
-- or this list of {resource=, namespaced=}). ctx.list honours opts.index = {"node", name}
-- (pods whose spec.nodeName is name) as the runtime's "node" index.
function F.ctx(o)
    o = o or {}
    local objects = o.objects or {}
    local ctx = { now = o.now or F.T0, orphans = o.orphans or {}, null = F.NULL, settings = o.settings }
    ctx.list = function(resource, opts)
        local out = {}
        local index = opts and opts.index
        for _, obj in ipairs(objects[resource] or {}) do
            if (opts.namespace == nil or C.namespace(obj) == opts.namespace) and
               (index == nil or (index[1] == "node" and util.get(obj, "spec.nodeName") == index[2])) then
                out[#out + 1] = obj
            end
        end
        return out
    end
    ctx.resources = function()
        if o.resources then
            return o.resources
        end
        local out = {}
        for res in pairs(objects) do
            out[#out + 1] = { resource = res, namespaced = res ~= "v1/nodes" and res ~= "v1/namespaces" }
        end
        table.sort(out, function(a, b) return a.resource < b.resource end)
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
-- The complete desired list of a result.children[resource] value in either shape of
-- docs/controllers.md: a list as it is; a "keep the rest" table ({rest = "keep", entries,
-- delete}) as the list it stands for over the existing children: every existing child
-- neither deleted nor named by an entry (as {metadata = {name}}, in existing's order), then
-- the entries.
function F.desired(desired, existing)
    if type(desired) ~= "table" or desired.rest == nil then
        return desired
    end
    assert(desired.rest == "keep", "rest must be \"keep\"")
    local drop = {}
    for _, n in ipairs(desired.delete or {}) do
        drop[n] = true
    end
    for _, e in ipairs(desired.entries or {}) do
        local n = e.metadata and e.metadata.name
        if n then drop[n] = true end
    end
    local list = {}
    for _, obj in ipairs(existing or {}) do
        local n = C.name(obj)
        if not drop[n] then
            list[#list + 1] = { metadata = { name = n } }
        end
    end
    for _, e in ipairs(desired.entries or {}) do
        list[#list + 1] = e
    end
    return list
end

-- F.desired over the children the runtime would have after result's release and adopt of
-- resource: owned without the released, plus the adopted orphans.
function F.desired_after(result, res, owned, orphans)
    local gone, taken = {}, {}
    for _, n in ipairs(result.release and result.release[res] or {}) do gone[n] = true end
    for _, n in ipairs(result.adopt and result.adopt[res] or {}) do taken[n] = true end
    local existing = {}
    for _, obj in ipairs(owned or {}) do
        if not gone[C.name(obj)] then existing[#existing + 1] = obj end
    end
    for _, obj in ipairs(orphans or {}) do
        if taken[C.name(obj)] then existing[#existing + 1] = obj end
    end
    return F.desired(result.children[res], existing)
end

function F.apply_children(store, entries, parent, o)
    o = o or {}
    entries = F.desired(entries, store)
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
-- Nodes, Leases, Namespaces (node lifecycle and namespace policies)
---------------------------------------------------------------------------------------------

-- A node. o: ready ("True" | "False" | "Unknown"; nil: no Ready condition), heartbeat (unix
-- time of the Ready condition's lastHeartbeatTime, default F.T0 - 10), conditions (more
-- {type=, status=}), taints, unschedulable, created (unix).
function F.node(name, o)
    o = o or {}
    local conds = {}
    local hb = F.iso(o.heartbeat or (F.T0 - 10))
    if o.ready then
        conds[1] = { type = "Ready", status = o.ready, reason = o.ready == "True" and "KubeletReady" or "KubeletNotReady",
                     message = "kubelet is posting ready status", lastHeartbeatTime = hb,
                     lastTransitionTime = F.iso(F.T0 - 3000) }
        for _, t in ipairs({ "MemoryPressure", "DiskPressure", "PIDPressure" }) do
            conds[#conds + 1] = { type = t, status = "False", reason = "KubeletHasSufficient" .. t,
                                  lastHeartbeatTime = hb, lastTransitionTime = F.iso(F.T0 - 3000) }
        end
    end
    for _, c in ipairs(o.conditions or {}) do
        local cur = C.get_condition(conds, c.type)
        if cur then
            cur.status = c.status
        else
            conds[#conds + 1] = { type = c.type, status = c.status, lastHeartbeatTime = hb,
                                  lastTransitionTime = F.iso(F.T0 - 3000) }
        end
    end
    return {
        apiVersion = "v1", kind = "Node",
        metadata = { name = name, uid = uid("node"), creationTimestamp = F.iso(o.created or (F.T0 - 7200)),
                     resourceVersion = "1" },
        spec = { taints = o.taints, unschedulable = o.unschedulable },
        status = { conditions = conds, nodeInfo = { kubeletVersion = "v1.31.0" } },
    }
end

-- The node's Lease in kube-node-lease, renewed at unix time renew (micro time format).
function F.lease(node, renew)
    return {
        apiVersion = "coordination.k8s.io/v1", kind = "Lease",
        metadata = { name = node, namespace = "kube-node-lease", uid = uid("lease") },
        spec = { holderIdentity = node, leaseDurationSeconds = 40,
                 renewTime = os.date("!%Y-%m-%dT%H:%M:%S", renew) .. ".123456Z" },
    }
end

-- A Namespace. o: deleting, finalizers (spec.finalizers, default {"kubernetes"}), phase.
function F.namespace(name, o)
    o = o or {}
    return {
        apiVersion = "v1", kind = "Namespace",
        metadata = { name = name, uid = uid("ns"), resourceVersion = "1",
                     deletionTimestamp = o.deleting and F.iso(F.T0 - 5) or nil },
        spec = { finalizers = o.finalizers or { "kubernetes" } },
        status = { phase = o.phase or (o.deleting and "Terminating" or "Active") },
    }
end

---------------------------------------------------------------------------------------------
-- A whole-cluster store for the garbage collector (parent "*")
---------------------------------------------------------------------------------------------

local Store = {}
Store.__index = Store

-- An in-memory cluster: entries {resource=, object=}. Objects get uid and resourceVersion.
function F.store()
    return setmetatable({ entries = {}, log = {} }, Store)
end

-- Adds obj (a table with at least metadata.name) under resource; returns obj.
-- o: owners (a list of {obj, block = bool, controller = bool}), ns, finalizers, deleting.
function Store:add(resource, name, o)
    o = o or {}
    local refs
    for _, ow in ipairs(o.owners or {}) do
        refs = refs or {}
        refs[#refs + 1] = { apiVersion = ow[1].apiVersion or "v1", kind = ow[1].kind or "Thing",
            name = ow[1].metadata.name, uid = ow[1].metadata.uid, controller = ow.controller,
            blockOwnerDeletion = ow.block }
    end
    local obj = {
        apiVersion = o.apiVersion or "v1", kind = o.kind or "Thing",
        metadata = { name = name, namespace = o.ns == nil and "default" or (o.ns or nil), uid = o.uid or uid(name),
                     resourceVersion = "1", ownerReferences = refs, finalizers = o.finalizers,
                     deletionTimestamp = o.deleting and F.iso(F.T0) or nil },
    }
    self.entries[#self.entries + 1] = { resource = resource, object = obj }
    return obj
end

function Store:find(uid_)
    for i, e in ipairs(self.entries) do
        if e.object.metadata.uid == uid_ then
            return e, i
        end
    end
end

function Store:by_name(name)
    for _, e in ipairs(self.entries) do
        if e.object.metadata.name == name then
            return e.object
        end
    end
end

-- The GC ctx for entry e.
function Store:ctx(e, o)
    o = o or {}
    local store = self
    local ctx = F.ctx({ now = o.now })
    ctx.resource = e.resource
    ctx.owner = function(ref)
        if o.unknown and o.unknown[ref.uid] then
            return false
        end
        local oe = store:find(ref.uid)
        return oe and oe.object or nil
    end
    ctx.dependents = function()
        local out = {}
        for _, d in ipairs(store.entries) do
            for _, r in ipairs(d.object.metadata.ownerReferences or {}) do
                if r.uid == e.object.metadata.uid then
                    out[#out + 1] = d
                    break
                end
            end
        end
        return out
    end
    return ctx
end

-- Removes an object being deleted once it has no finalizers left (the API server's rule).
function Store:settle(e)
    local md = e.object.metadata
    if md.deletionTimestamp and (md.finalizers == nil or #md.finalizers == 0) then
        local _, i = self:find(md.uid)
        if i then table.remove(self.entries, i) end
        self.log[#self.log + 1] = "gone " .. md.name
    end
end

-- Applies result.delete and result.patch as the runtime and API server would: a delete
-- sets deletionTimestamp and the finalizer its propagation asks for (Foreground:
-- foregroundDeletion, Orphan: orphan), a merge patch honours uid and resourceVersion
-- preconditions; objects with no finalizers left go away.
function Store:apply(result)
    for _, d in ipairs(result.delete or {}) do
        local e
        for _, x in ipairs(self.entries) do
            if x.resource == d.resource and x.object.metadata.name == d.name and
               x.object.metadata.namespace == d.namespace then e = x end
        end
        if e and (d.uid == nil or d.uid == e.object.metadata.uid) and not e.object.metadata.deletionTimestamp then
            local md = e.object.metadata
            md.deletionTimestamp = F.iso(F.T0)
            md.finalizers = md.finalizers or {}
            if d.propagation == "Foreground" then md.finalizers[#md.finalizers + 1] = "foregroundDeletion" end
            if d.propagation == "Orphan" then md.finalizers[#md.finalizers + 1] = "orphan" end
            md.resourceVersion = tostring(tonumber(md.resourceVersion) + 1)
            self.log[#self.log + 1] = "delete " .. d.name .. " " .. (d.propagation or "")
            self:settle(e)
        end
    end
    for _, p in ipairs(result.patch or {}) do
        local e
        for _, x in ipairs(self.entries) do
            if x.resource == p.resource and x.object.metadata.name == p.name then e = x end
        end
        local pm = p.patch.metadata or {}
        if e and (pm.uid == nil or pm.uid == e.object.metadata.uid) and
           (pm.resourceVersion == nil or pm.resourceVersion == e.object.metadata.resourceVersion) then
            local rv = tonumber(e.object.metadata.resourceVersion) + 1
            F.merge_patch(e.object, p.patch)
            e.object.metadata.resourceVersion = tostring(rv)
            self.log[#self.log + 1] = "patch " .. p.name
            self:settle(e)
        elseif e then
            self.log[#self.log + 1] = "conflict " .. p.name
        end
    end
end

-- Runs policy.sync over every object, applying each result, until a round changes nothing
-- (at most n rounds). Returns the number of rounds.
function Store:run(policy, n, o)
    for round = 1, n or 20 do
        local before = #self.log
        local snapshot = {}
        for i, e in ipairs(self.entries) do snapshot[i] = e end
        for _, e in ipairs(snapshot) do
            if self:find(e.object.metadata.uid) then
                self:apply(policy.sync(e.object, {}, self:ctx(e, o)))
            end
        end
        if #self.log == before then
            return round
        end
    end
    return nil
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
