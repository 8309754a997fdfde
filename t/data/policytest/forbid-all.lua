-- t/data/policytest/forbid-all.lua: no node passes the filter (t/4200-policy-test.t).
local framework = require("berth.framework")

return framework.with_defaults({
    filter = function(pod, node, ctx)
        return false, "node(s) forbidden by the candidate"
    end,
})
