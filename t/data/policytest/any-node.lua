-- t/data/policytest/any-node.lua: every node passes the filter, whatever the pod asks for
-- (nodeSelector, taints, resources); scores are the default ones (t/4200-policy-test.t's
-- candidate that makes a waiting pod schedulable).
local framework = require("berth.framework")

return framework.with_defaults({
    filter = function(pod, node, ctx)
        return true
    end,
})
