-- berth.plugins.lbpool: an address pool for Services of type LoadBalancer (bare metal, in the
-- spirit of MetalLB's IPAM) for plugins/lb-pool/plugin.lua (format: docs/plugins.md,
-- "hooks.load_balancer").
--
-- new(config) compiles { pools = { "192.0.2.10-192.0.2.50", "198.51.100.0/30", "203.0.113.7" },
-- annotation = "lb-pool.berth.dev/address" } and returns an object whose
-- load_balancer(service, ctx) is the hook: it returns the status.loadBalancer to write,
-- { ingress = { { ip = <ip> } } }, or nil, reason. The choice is deterministic:
--   1. the IPv4 address the service already has in status.loadBalancer.ingress, if it is in
--      a pool and no other LoadBalancer service holds it;
--   2. else the address its annotation requests, if in a pool and free;
--   3. else the lowest free address of the pools (in the order the pools are listed).
-- "Taken" means: in status.loadBalancer.ingress[].ip of another Service of type LoadBalancer
-- (ctx.list("v1/services", {}): every namespace). Two services that both lack an address
-- still cannot get the same one as long as the wrapper writes one service's status before
-- it asks for the next (the runtime syncs one service at a time); when two services claim
-- the same address anyway (status written by hand), the one created first (then
-- namespace/name) keeps it and the other moves; a requested or new address must be held by
-- no other service at all. A request for an address outside the pools
-- or taken: nil, reason (the status is left alone, the reason logged).
-- CIDR pools skip nothing: "198.51.100.0/30" offers .0 to .3 (MetalLB's avoidBuggyIPs off).
-- IPv4 only. Sandbox-safe, no dependencies. Tested by t/lua/test_plugin_lbpool.lua.

local type, ipairs, tonumber, select = type, ipairs, tonumber, select
local math_floor = math.floor
local string_format, string_match = string.format, string.match

local M = {}

M.ANNOTATION = "lb-pool.berth.dev/address"

-- IPv4 dotted quad to a number, or nil.
function M.ip_to_num(s)
    if type(s) ~= "string" then
        return nil
    end
    local a, b, c, d = string_match(s, "^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if not a then
        return nil
    end
    local n = 0
    for _, x in ipairs({ a, b, c, d }) do
        if #x > 1 and x:sub(1, 1) == "0" then
            return nil                   -- no leading zeros (Go's ParseIP refuses them)
        end
        local v = tonumber(x)
        if v > 255 then
            return nil
        end
        n = n * 256 + v
    end
    return n
end

function M.num_to_ip(n)
    return string_format("%d.%d.%d.%d", math_floor(n / 16777216) % 256, math_floor(n / 65536) % 256,
        math_floor(n / 256) % 256, n % 256)
end

-- One pool entry ("a-b", "a/len" or "a") to { lo, hi }, or nil, reason.
function M.parse_range(s)
    if type(s) ~= "string" then
        return nil, "pool entries must be strings"
    end
    local a, b = string_match(s, "^%s*([%d.]+)%s*%-%s*([%d.]+)%s*$")
    if a then
        local lo, hi = M.ip_to_num(a), M.ip_to_num(b)
        if not lo or not hi then
            return nil, "bad address in pool " .. s
        end
        if lo > hi then
            return nil, "pool " .. s .. ": start after end"
        end
        return { lo = lo, hi = hi }
    end
    local ip, len = string_match(s, "^%s*([%d.]+)/(%d+)%s*$")
    if ip then
        local n, l = M.ip_to_num(ip), tonumber(len)
        if not n or l > 32 then
            return nil, "bad CIDR pool " .. s
        end
        local size = 2 ^ (32 - l)
        local lo = n - n % size
        return { lo = lo, hi = lo + size - 1 }
    end
    local n = M.ip_to_num(string_match(s, "^%s*(.-)%s*$"))
    if n then
        return { lo = n, hi = n }
    end
    return nil, "bad pool " .. s .. " (want a-b, a/len or one address)"
end

local function str(v)
    return type(v) == "string" and v or nil
end

local function tget(t, ...)
    for i = 1, select("#", ...) do
        if type(t) ~= "table" then
            return nil
        end
        t = t[select(i, ...)]
    end
    return t
end

-- The IPv4 addresses of a service's status.loadBalancer.ingress, in order.
function M.ingress_ips(svc)
    local out = {}
    local ing = tget(svc, "status", "loadBalancer", "ingress")
    if type(ing) == "table" then
        for _, e in ipairs(ing) do
            local ip = type(e) == "table" and str(e.ip)
            if ip and M.ip_to_num(ip) then
                out[#out + 1] = ip
            end
        end
    end
    return out
end

local function key(svc)
    return (str(tget(svc, "metadata", "namespace")) or "") .. "/" .. (str(tget(svc, "metadata", "name")) or "")
end

-- Whether service a wins a disputed address over b: created first, then namespace/name.
local function precedes(a, b)
    local ta = str(tget(a, "metadata", "creationTimestamp")) or ""
    local tb = str(tget(b, "metadata", "creationTimestamp")) or ""
    if ta ~= tb then
        return ta < tb
    end
    return key(a) < key(b)
end

-- Compiles a configuration. Returns the pool object or nil, reason.
function M.new(config)
    config = config or {}
    local ranges = {}
    for _, p in ipairs(config.pools or {}) do
        local r, err = M.parse_range(p)
        if not r then
            return nil, err
        end
        ranges[#ranges + 1] = r
    end
    if #ranges == 0 then
        return nil, "no address pools configured"
    end
    local pool = { ranges = ranges, annotation = config.annotation or M.ANNOTATION }

    function pool.contains(n)
        for _, r in ipairs(ranges) do
            if n >= r.lo and n <= r.hi then
                return true
            end
        end
        return false
    end

    -- taken[ip number] = the other LoadBalancer service holding it (the earliest one).
    function pool.taken(svc, ctx)
        local taken = {}
        local me = key(svc)
        local list = type(ctx) == "table" and type(ctx.list) == "function" and ctx.list("v1/services", {}) or {}
        for _, o in ipairs(list) do
            -- A service being deleted still holds its address until it is gone.
            if key(o) ~= me and str(tget(o, "spec", "type")) == "LoadBalancer" then
                for _, ip in ipairs(M.ingress_ips(o)) do
                    local n = M.ip_to_num(ip)
                    if taken[n] == nil or precedes(o, taken[n]) then
                        taken[n] = o
                    end
                end
            end
        end
        return taken
    end

    -- The hook: status.loadBalancer for svc, or nil, reason.
    function pool.load_balancer(svc, ctx)
        local taken = pool.taken(svc, ctx)
        local function free_for_me(n)
            local holder = taken[n]
            return holder == nil or precedes(svc, holder)
        end
        for _, ip in ipairs(M.ingress_ips(svc)) do
            local n = M.ip_to_num(ip)
            if pool.contains(n) and free_for_me(n) then
                return { ingress = { { ip = M.num_to_ip(n) } } }
            end
        end
        local want = str(tget(svc, "metadata", "annotations", pool.annotation))
        if want then
            local n = M.ip_to_num(want)
            if not n then
                return nil, "requested address " .. want .. " is not an IPv4 address"
            end
            if not pool.contains(n) then
                return nil, "requested address " .. want .. " is not in any pool"
            end
            if taken[n] ~= nil then
                return nil, "requested address " .. want .. " is in use by " .. key(taken[n])
            end
            return { ingress = { { ip = want } } }
        end
        for _, r in ipairs(ranges) do
            for n = r.lo, r.hi do
                if taken[n] == nil then
                    return { ingress = { { ip = M.num_to_ip(n) } } }
                end
            end
        end
        return nil, "pool exhausted"
    end

    return pool
end

return M
