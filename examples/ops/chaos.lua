-- chaos.lua DEPLOYMENT [--timeout SECONDS] [--seed N]
--
-- Delete one random pod of DEPLOYMENT and measure how long the Deployment takes to be fully
-- available again: the deleted pod gone, as many Ready pods as spec.replicas, and the
-- Deployment's own status saying so (the check of kubectl rollout status). Prints the
-- recovery time; exits 1 if it does not recover within --timeout seconds. The namespace is
-- berth run's -n.
--
--   berth run examples/ops/chaos.lua web
local cluster = require("berth.cluster")
local script = require("berth.script")

local opts, pos = script.getopt(script.args, { timeout = 120, seed = 0 })
local name = pos[1]
if not name or #pos > 1 then
    io.stderr:write("usage: berth run chaos.lua DEPLOYMENT [--timeout SECONDS] [--seed N]\n")
    script.exit(2)
end
math.randomseed(opts.seed ~= 0 and opts.seed or os.time())

local D = "apps/v1/deployments"
local d, err, code = cluster.get(D, nil, name)
if not d then
    script.fail(code == 404 and string.format("deployment %q not found in namespace %q", name,
                                              script.namespace) or err)
end
local ns, want = d.metadata.namespace, d.spec.replicas or 1

-- Ready, not terminating pods of the deployment (its selector).
local function ready_pods()
    local out = {}
    for _, p in ipairs(script.must(cluster.list("v1/pods", { namespace = ns,
                                                              selector = d.spec.selector }))) do
        if script.pod_ready(p) then
            out[#out + 1] = p
        end
    end
    return out
end

local pods = ready_pods()
if #pods == 0 then
    script.fail("deployment %q has no Ready pod to delete", name)
end
local victim = pods[math.random(#pods)]
local vname, vuid = victim.metadata.name, victim.metadata.uid
script.printf("deleting pod %s/%s (on %s); %d/%d Ready before", ns, vname,
              victim.spec.nodeName or "no node", #pods, want)
local t0 = script.now()
script.must(cluster.delete("v1/pods", ns, vname, { uid = vuid }))

local replacement
local ok, werr = script.wait_for(function()
    local p = cluster.get("v1/pods", ns, vname)
    if p and p.metadata.uid == vuid then
        return nil, vname .. " still there"
    end
    local ready = ready_pods()
    if #ready < want then
        return nil, string.format("%d/%d pods Ready", #ready, want)
    end
    local cur, gerr = cluster.get(D, ns, name)
    if not cur then
        return nil, gerr
    end
    local done, msg = script.rollout_status(cur)
    if not done or (cur.status.availableReplicas or 0) < want then
        return nil, msg
    end
    for _, r in ipairs(ready) do
        if not replacement or r.metadata.creationTimestamp > replacement.metadata.creationTimestamp then
            replacement = r
        end
    end
    return true
end, opts.timeout, 0.1)
if not ok then
    script.fail("deployment %q did not recover: %s", name, werr)
end
script.printf("recovered in %.2fs: %d/%d available (newest pod %s on %s)", script.now() - t0,
              want, want, replacement.metadata.name, replacement.spec.nodeName or "?")
