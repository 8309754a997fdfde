-- restart.lua DEPLOYMENT [--timeout SECONDS]
--
-- kubectl rollout restart, then kubectl rollout status: stamp the pod template with the
-- kubectl.kubernetes.io/restartedAt annotation (so the Deployment rolls every pod over to a
-- new ReplicaSet, within its maxSurge/maxUnavailable), then follow the rollout with the same
-- logic as `kubectl rollout status` (script.rollout_status) until it finished, failed (the
-- progress deadline passed) or --timeout ran out. The namespace is berth run's -n.
--
--   berth run -n shop examples/ops/restart.lua web
local cluster = require("berth.cluster")
local script = require("berth.script")

local opts, pos = script.getopt(script.args, { timeout = 300 })
local name = pos[1]
if not name or #pos > 1 then
    io.stderr:write("usage: berth run restart.lua DEPLOYMENT [--timeout SECONDS]\n")
    script.exit(2)
end

local d, err, code = cluster.get("apps/v1/deployments", nil, name)
if not d then
    script.fail(code == 404 and string.format("deployment %q not found in namespace %q", name,
                                              script.namespace) or err)
end
if d.spec.paused then
    script.fail("deployments.apps %q can't restart paused deployment (run rollout resume first)",
                name)
end
local ns = d.metadata.namespace

-- The ReplicaSets of the deployment now, to tell the new one afterwards.
local function owned_replicasets()
    local out = {}
    for _, rs in ipairs(script.must(cluster.list("apps/v1/replicasets", {
            namespace = ns, index = { "controller", d.metadata.uid } }))) do
        out[rs.metadata.name] = rs
    end
    return out
end
local before = owned_replicasets()

local stamp = os.date("!%Y-%m-%dT%H:%M:%SZ")
script.must(cluster.patch("apps/v1/deployments", ns, name, {
    spec = { template = { metadata = { annotations = {
        ["kubectl.kubernetes.io/restartedAt"] = stamp } } } },
}, "strategic"))
script.printf("deployment.apps/%s restarted", name)

-- Follow the rollout, printing each new status line as kubectl rollout status does.
local last
local started = script.now()
local ok, werr = script.wait_for(function()
    local cur, gerr = cluster.get("apps/v1/deployments", ns, name)
    if not cur then
        return nil, gerr
    end
    local done, msg, failed = script.rollout_status(cur)
    if msg ~= last then
        script.print(msg)
        last = msg
    end
    if failed then
        return nil, msg, true
    end
    return done or nil, msg
end, opts.timeout, 0.25)
if not ok then
    script.fail("rollout of deployment %q: %s", name, werr)
end

-- The new ReplicaSet: the one holding the replicas now that was not there before.
local new
for rname, rs in pairs(owned_replicasets()) do
    if (rs.spec.replicas or 0) > 0 and (not new or not before[rname]) then
        new = rs
    end
end
if not new or before[new.metadata.name] then
    script.fail("deployment %q rolled out but no new ReplicaSet holds its pods", name)
end
script.printf("new ReplicaSet %s: %d/%d available after %.1fs", new.metadata.name,
              new.status and new.status.availableReplicas or 0, new.spec.replicas,
              script.now() - started)
