-- canary.lua STABLE CANARY STEP [--timeout SECONDS]
--
-- Shift STEP replicas from the Deployment STABLE to the Deployment CANARY, one at a time:
-- CANARY gets one more replica and must roll out with all of them available (the same check
-- as kubectl rollout status) before STABLE gives one up. If the canary does not become ready
-- within --timeout seconds (per step), both Deployments go back to the replica counts they
-- had and the script exits 1. The namespace is berth run's -n.
--
--   berth run examples/ops/canary.lua web web-canary 2
local cluster = require("berth.cluster")
local script = require("berth.script")

local opts, pos = script.getopt(script.args, { timeout = 60 })
local stable_name, canary_name, step = pos[1], pos[2], tonumber(pos[3] or "")
if not step or #pos ~= 3 or step < 1 or step ~= math.floor(step) then
    io.stderr:write("usage: berth run canary.lua STABLE CANARY STEP [--timeout SECONDS]\n")
    script.exit(2)
end

local D = "apps/v1/deployments"

local function get(name)
    local d, err, code = cluster.get(D, nil, name)
    if not d then
        script.fail(code == 404 and string.format("deployment %q not found in namespace %q",
                                                  name, script.namespace) or err)
    end
    return d
end

local stable, canary = get(stable_name), get(canary_name)
local s0, c0 = stable.spec.replicas or 1, canary.spec.replicas or 1
if step > s0 then
    script.fail("deployment %q has %d replicas: cannot shift %d", stable_name, s0, step)
end
script.printf("shifting %d replica(s) from %s (%d) to %s (%d)", step, stable_name, s0,
              canary_name, c0)

local function scale(name, n)
    script.must(cluster.patch(D, nil, name, { spec = { replicas = n } }))
end

-- Wait until the deployment has rolled out n replicas, all available.
local function settle(name, n)
    return script.wait_for(function()
        local d, err = cluster.get(D, nil, name)
        if not d then
            return nil, err
        end
        local done, msg, failed = script.rollout_status(d)
        if failed then
            return nil, msg, true
        end
        if done and (d.status.availableReplicas or 0) >= n then
            return true
        end
        return nil, msg
    end, opts.timeout, 0.25)
end

local function rollback(why)
    script.warn("%s; rolling back to %s=%d, %s=%d", why, stable_name, s0, canary_name, c0)
    scale(stable_name, s0)
    scale(canary_name, c0)
    local ok, err = settle(stable_name, s0)
    if not ok then
        script.warn("%s did not settle after the rollback: %s", stable_name, err)
    end
    script.fail("canary %s failed: %s (rolled back)", canary_name, why)
end

for i = 1, step do
    local c, s = c0 + i, s0 - i
    scale(canary_name, c)
    local ok, err = settle(canary_name, c)
    if not ok then
        rollback(string.format("step %d: %s not ready with %d replicas: %s", i, canary_name, c, err))
    end
    scale(stable_name, s)
    ok, err = settle(stable_name, s)
    if not ok then
        rollback(string.format("step %d: %s did not settle at %d replicas: %s", i, stable_name, s, err))
    end
    script.printf("step %d/%d: %s=%d %s=%d, all available", i, step, stable_name, s, canary_name, c)
end
script.printf("done: %s=%d %s=%d", stable_name, s0 - step, canary_name, c0 + step)
