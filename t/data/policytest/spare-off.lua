-- t/data/policytest/spare-off.lua: the default policy, except that nodes labelled
-- pool=spare take no pods (t/4200-policy-test.t's candidate that moves pods).
local framework = require("berth.framework")
local defaults = framework.default_policy()

return framework.with_defaults({
    filter = function(pod, node, ctx)
        local labels = node.metadata.labels
        if type(labels) == "table" and labels.pool == "spare" then
            return false, "node(s) are spare", "unresolvable"
        end
        return defaults.filter(pod, node, ctx)
    end,
})
