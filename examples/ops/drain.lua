-- drain.lua NODE [--timeout SECONDS] [--force] [--delete-emptydir-data]
--
-- kubectl drain for berth: cordon NODE (spec.unschedulable), evict every pod on it that can
-- be evicted, wait until they are gone, then wait until their controllers have as many Ready
-- pods on other nodes as they want. Like kubectl drain it skips DaemonSet pods and mirror
-- (static) pods, refuses pods no controller would recreate unless --force, and pods with
-- emptyDir volumes (whose data is lost) unless --delete-emptydir-data.
--
--   berth run examples/ops/drain.lua node-a
--   kubectl uncordon node-a        # or: berth run examples/ops/uncordon.lua node-a
local cluster = require("berth.cluster")
local script = require("berth.script")

local opts, pos = script.getopt(script.args, {
    timeout = 120, force = false, delete_emptydir_data = false,
})
local node_name = pos[1]
if not node_name or #pos > 1 then
    io.stderr:write("usage: berth run drain.lua NODE [--timeout SECONDS] [--force] " ..
                    "[--delete-emptydir-data]\n")
    script.exit(2)
end

local node, err, code = cluster.get("v1/nodes", nil, node_name)
if not node then
    if code == 404 then
        script.fail("node %q not found", node_name)
    end
    script.fail(err)
end

-- 1. Cordon: no new pod lands here.
script.must(cluster.patch("v1/nodes", nil, node_name, { spec = { unschedulable = true } }))
script.printf("node/%s cordoned", node_name)

-- 2. What runs here, and what to do with each pod.
local function controller_of(pod)
    for _, ref in ipairs(pod.metadata.ownerReferences or {}) do
        if ref.controller then
            return ref
        end
    end
    return nil
end

local function has_emptydir(pod)
    for _, v in ipairs(pod.spec.volumes or {}) do
        if v.emptyDir ~= nil then
            return true
        end
    end
    return false
end

local pods = script.must(cluster.list("v1/pods", { index = { "node", node_name } }))
local evict, skipped, refused = {}, {}, {}
for _, pod in ipairs(pods) do
    local id = pod.metadata.namespace .. "/" .. pod.metadata.name
    local ctl = controller_of(pod)
    local annotations = pod.metadata.annotations or {}
    local phase = pod.status and pod.status.phase
    if annotations["kubernetes.io/config.mirror"] then
        skipped[#skipped + 1] = id .. " (mirror pod)"
    elseif ctl and ctl.kind == "DaemonSet" then
        skipped[#skipped + 1] = id .. " (DaemonSet)"
    elseif phase == "Succeeded" or phase == "Failed" then
        evict[#evict + 1] = pod          -- finished: deleting loses nothing
    elseif not ctl and not opts.force then
        refused[#refused + 1] = id .. " (no controller; --force deletes it for good)"
    elseif has_emptydir(pod) and not opts.delete_emptydir_data then
        refused[#refused + 1] = id .. " (emptyDir data; --delete-emptydir-data)"
    else
        evict[#evict + 1] = pod
    end
end
for _, s in ipairs(skipped) do
    script.printf("ignoring %s", s)
end
if #refused > 0 then
    script.fail("cannot drain node %q: %d pod(s) cannot be evicted: %s", node_name, #refused,
                table.concat(refused, ", "))
end

-- 3. Evict, and wait until each evicted pod is gone (a pod by that name may come back with
-- another uid: that is a new pod).
local deadline = script.now() + opts.timeout
local function left()
    return math.max(0, deadline - script.now())
end

for _, pod in ipairs(evict) do
    script.printf("evicting pod %s/%s", pod.metadata.namespace, pod.metadata.name)
    local _, eerr, ecode = cluster.evict(pod.metadata.namespace, pod.metadata.name)
    if eerr and ecode ~= 404 then
        script.fail("evicting %s/%s: %s", pod.metadata.namespace, pod.metadata.name, eerr)
    end
end
for _, pod in ipairs(evict) do
    local ok, werr = script.wait_for(function()
        local p, gerr, gcode = cluster.get("v1/pods", pod.metadata.namespace, pod.metadata.name)
        if p == nil and gcode == 404 then
            return true
        end
        if p and p.metadata.uid ~= pod.metadata.uid then
            return true
        end
        return nil, p and "still terminating" or gerr
    end, left())
    if not ok then
        script.fail("pod %s/%s: %s", pod.metadata.namespace, pod.metadata.name, werr)
    end
    script.printf("pod/%s evicted", pod.metadata.name)
end

-- 4. Replacements: each controller wants as many Ready pods as before, now elsewhere. Its
-- target is its spec.replicas when it has one (a ReplicaSet), else the pods it had.
local owners, order = {}, {}
for _, pod in ipairs(evict) do
    local ctl = controller_of(pod)
    if ctl then
        local key = pod.metadata.namespace .. "/" .. ctl.uid
        if not owners[key] then
            owners[key] = { ref = ctl, namespace = pod.metadata.namespace }
            order[#order + 1] = key
        end
    end
end

local function ready_elsewhere(o)
    local list = script.must(cluster.list("v1/pods", { namespace = o.namespace,
                                                       index = { "controller", o.ref.uid } }))
    local ready, where = 0, {}
    for _, p in ipairs(list) do
        if p.spec.nodeName ~= node_name and script.pod_ready(p) then
            ready = ready + 1
            where[p.spec.nodeName] = true
        end
    end
    local nodes = {}
    for n in pairs(where) do
        nodes[#nodes + 1] = n
    end
    table.sort(nodes)
    return ready, nodes
end

for _, key in ipairs(order) do
    local o = owners[key]
    local want
    local res = script.resolve(o.ref.kind) or {}
    if res.resource then
        local owner = cluster.get(res.apiVersion .. "/" .. res.resource, o.namespace, o.ref.name)
        want = owner and owner.spec and type(owner.spec.replicas) == "number" and owner.spec.replicas
    end
    if not want then
        local n = 0
        for _, pod in ipairs(pods) do
            local c = controller_of(pod)
            if c and c.uid == o.ref.uid then
                n = n + 1
            end
        end
        want = n
    end
    local ok, werr = script.wait_for(function()
        local ready = ready_elsewhere(o)
        if ready >= want then
            return true
        end
        return nil, string.format("%d of %d Ready", ready, want)
    end, left())
    if not ok then
        script.fail("%s %s/%s: replacements not Ready: %s", o.ref.kind, o.namespace, o.ref.name,
                    werr)
    end
    local ready, nodes = ready_elsewhere(o)
    script.printf("%s %s/%s: %d/%d Ready on %s", o.ref.kind, o.namespace, o.ref.name, ready, want,
                  #nodes > 0 and table.concat(nodes, ",") or "no node")
end

script.printf("node/%s drained", node_name)
