-- policies/scheduler.lua: the policy of pods with schedulerName "default-scheduler" (or none).
--
-- It is kube-scheduler's default profile (lua/berth/default_scheduler.lua: filters, scores
-- and weights). Define any framework hook here to change how the cluster places pods; the
-- hooks you do not define are inherited. Saving the file reloads it within a second; a file
-- that fails to load or whose self_test() fails leaves the last good version running.
--
-- Example: bin packing instead of spreading, by scoring fuller nodes higher:
--
--   score = function(pod, node, ctx) ... end,
--
-- See docs/lua-api.md ("The scheduling framework") and docs/policies.md.
local framework = require("berth.framework")

return framework.with_defaults({
    -- The scheduler's VM holds the cluster as the policy sees it (every node and scheduled
    -- pod, converted once per version): more than the 64 MiB default in a big cluster.
    memory_mb = 512,
})
