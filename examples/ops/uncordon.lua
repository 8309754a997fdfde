-- uncordon.lua NODE: make NODE schedulable again (kubectl uncordon), after drain.lua.
local cluster = require("berth.cluster")
local script = require("berth.script")

local name = script.args[1]
if not name then
    io.stderr:write("usage: berth run uncordon.lua NODE\n")
    script.exit(2)
end
local _, err, code = cluster.patch("v1/nodes", nil, name, { spec = { unschedulable = cluster.null } })
if err then
    script.fail(code == 404 and string.format("node %q not found", name) or err)
end
script.printf("node/%s uncordoned", name)
