-- plugins/lb-pool/plugin.lua: addresses for Services of type LoadBalancer from local pools
-- (bare metal, MetalLB-like IPAM; format: docs/plugins.md, "hooks.load_balancer").
--
-- Edit POOLS for your network: ranges "a-b", CIDRs "a/len" or single addresses (IPv4). A
-- service may ask for one address with the annotation lb-pool.berth.dev/address. The hook
-- keeps a service's current address, else gives the requested one if free, else the lowest
-- free one; "free" = in no other LoadBalancer service's status.loadBalancer.ingress.
-- Announcing the addresses (ARP/BGP) is not berth's business: route them to the nodes.
-- Logic: lua/berth/plugins/lbpool.lua. Tests: t/lua/test_plugin_lbpool.lua.

local POOLS = { "192.0.2.10-192.0.2.50" }
local ANNOTATION = "lb-pool.berth.dev/address"

local lbpool = require("berth.plugins.lbpool")
local pool = assert(lbpool.new({ pools = POOLS, annotation = ANNOTATION }))

local function self_test()
    local svc = { metadata = { name = "s", namespace = "default" }, spec = { type = "LoadBalancer" } }
    local st = pool.load_balancer(svc, { list = function() return {} end })
    assert(st and st.ingress[1].ip, "self_test: a first service gets an address")
end

return {
    hooks = { load_balancer = pool.load_balancer },
    self_test = self_test,
}
