-- t/data/policytest/prefer-n2.lua: the default filters, and node n2 scores highest
-- (t/4200-policy-test.t's candidate for a scheduler other than the default one).
local framework = require("berth.framework")

return framework.with_defaults({
    score = function(pod, node, ctx)
        return node.metadata.name == "n2" and 100 or 0
    end,
})
