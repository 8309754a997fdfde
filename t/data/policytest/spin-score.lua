-- t/data/policytest/spin-score.lua: a score that never returns; every pod with more than
-- one feasible node runs into the time budget (t/4200-policy-test.t).
local framework = require("berth.framework")

return framework.with_defaults({
    score = function(pod, node, ctx)
        while true do end
    end,
})
