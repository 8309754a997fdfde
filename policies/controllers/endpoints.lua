-- policies/controllers/endpoints.lua: the Endpoints controller as a berth controller policy
-- (contract: docs/controllers.md). For each Service with a selector, an Endpoints object of
-- the same name (no ownerReference, as kube) listing the matching pods' IPs, ready ones in
-- `addresses`, others in `notReadyAddresses`, grouped by the port sets they serve. Services
-- without a selector are left alone. The logic is lua/berth/controller/endpoints.lua.

local endpoints = require("berth.controller.endpoints")

local policy = {
    -- One sync walks every child (10,000 pods for a big ReplicaSet): more than the 50 ms
    -- default, so a larger budget and memory cap (docs/policies.md).
    budget_ms = 1000, memory_mb = 512,
    parent = "v1/services",
    -- Found by name, not ownerReference; deleted when the Service is deleted.
    children = { { resource = "v1/endpoints", by_name = true, delete_with_parent = true } },
    selector = "map",
    -- Any change of a pod the service selects (before or after the change) resyncs it.
    triggers = { ["v1/pods"] = { match = "selector" } },
    watches = { "v1/pods" },     -- the coarse form of triggers (docs/controllers.md)
}

function policy.sync(parent, children, ctx)
    return endpoints.sync(parent, children, ctx)
end

-- One ready pod with a named port gives one subset with one address.
function policy.self_test()
    local svc = {
        metadata = { name = "t", namespace = "default" },
        spec = { selector = { app = "t" }, clusterIP = "10.0.0.1",
                 ports = { { name = "http", port = 80, targetPort = "web", protocol = "TCP" } } },
    }
    local pod = {
        metadata = { name = "p", namespace = "default", uid = "u", labels = { app = "t" } },
        spec = { nodeName = "n", containers = { { name = "c", ports = { { name = "web", containerPort = 8080 } } } } },
        status = { phase = "Running", podIP = "10.1.0.5", conditions = { { type = "Ready", status = "True" } } },
    }
    local ctx = { now = 0, list = function() return { pod } end }
    local r = policy.sync(svc, { ["v1/endpoints"] = {} }, ctx)
    local s = r.children["v1/endpoints"][1].subsets
    assert(#s == 1 and s[1].addresses[1].ip == "10.1.0.5" and s[1].ports[1].port == 8080, "self_test: subsets")
end

return policy
