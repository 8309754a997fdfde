-- t/lua/test_plugin_lbpool.lua: lua/berth/plugins/lbpool.lua (the lb-pool plugin's
-- hooks.load_balancer): pool parsing, keeping an address, the annotation, the lowest free
-- address, exhaustion, never two services on one address, disputes, and the plugin table of
-- plugins/lb-pool/plugin.lua when reachable. Run by t/0196-plugin-policies.t.
local t = require("tap")
local L = require("berth.plugins.lbpool")

local function svc(name, o)
    o = o or {}
    return {
        metadata = { name = name, namespace = o.ns or "default", creationTimestamp = o.created or "2024-01-01T00:00:00Z",
                     annotations = o.want and { [L.ANNOTATION] = o.want } or nil },
        spec = { type = o.type or "LoadBalancer" },
        status = o.ip and { loadBalancer = { ingress = { { ip = o.ip } } } } or {},
    }
end
local function ctx(list)
    return { now = 0, list = function(resource, opts)
        assert(resource == "v1/services", "lists services")
        assert(opts.namespace == nil, "in every namespace")
        return list
    end }
end
local function ip(st)
    return st and st.ingress and st.ingress[1] and st.ingress[1].ip
end

-- Parsing.
do
    t.is(L.ip_to_num("192.0.2.10"), 192 * 2^24 + 2 * 256 + 10, "ip_to_num")
    t.is(L.num_to_ip(L.ip_to_num("10.255.0.1")), "10.255.0.1", "round trip")
    t.is(L.ip_to_num("256.0.0.1"), nil, "octet > 255 refused")
    t.is(L.ip_to_num("01.0.0.1"), nil, "leading zeros refused")
    t.is(L.ip_to_num("1.2.3"), nil, "three octets refused")
    local r = assert(L.parse_range("192.0.2.10 - 192.0.2.20"))
    t.is(r.hi - r.lo, 10, "a-b range")
    r = assert(L.parse_range("198.51.100.5/30"))
    t.is(L.num_to_ip(r.lo) .. " " .. L.num_to_ip(r.hi), "198.51.100.4 198.51.100.7", "CIDR aligned")
    r = assert(L.parse_range("203.0.113.7"))
    t.is(r.lo, r.hi, "single address")
    t.fails("reversed range", "start after end", L.parse_range("10.0.0.9-10.0.0.1"))
    t.fails("garbage", "bad pool", L.parse_range("pool"))
    t.fails("/33", "CIDR", L.parse_range("10.0.0.0/33"))
    t.fails("no pools", "no address pools", L.new({ pools = {} }))
end

local pool = assert(L.new({ pools = { "192.0.2.10-192.0.2.12", "198.51.100.1" } }))

-- Allocation.
do
    t.is(ip(pool.load_balancer(svc("a"), ctx({}))), "192.0.2.10", "first service: lowest address")
    local others = { svc("x", { ip = "192.0.2.10" }), svc("y", { ip = "192.0.2.12" }) }
    t.is(ip(pool.load_balancer(svc("a"), ctx(others))), "192.0.2.11", "lowest free address")
    t.is(ip(pool.load_balancer(svc("a", { ip = "192.0.2.12" }), ctx({ svc("x", { ip = "192.0.2.10" }) }))), "192.0.2.12",
        "keeps its current address")
    t.is(ip(pool.load_balancer(svc("a", { ip = "10.9.9.9" }), ctx({}))), "192.0.2.10",
        "a current address outside the pools is replaced")
    t.is(ip(pool.load_balancer(svc("a", { want = "192.0.2.12" }), ctx({}))), "192.0.2.12", "the annotation's address")
    t.is(ip(pool.load_balancer(svc("a", { want = "198.51.100.1" }), ctx({}))), "198.51.100.1", "annotation: second pool")
    t.fails("annotation outside the pools", "not in any pool", pool.load_balancer(svc("a", { want = "10.0.0.1" }), ctx({})))
    t.fails("annotation taken", "in use by default/x",
        pool.load_balancer(svc("a", { want = "192.0.2.10" }), ctx({ svc("x", { ip = "192.0.2.10" }) })))
    t.fails("annotation not an address", "not an IPv4", pool.load_balancer(svc("a", { want = "nope" }), ctx({})))
    t.is(ip(pool.load_balancer(svc("a", { ip = "192.0.2.11", want = "192.0.2.12" }), ctx({}))), "192.0.2.11",
        "an address already held wins over the annotation")
    local full = { svc("x", { ip = "192.0.2.10" }), svc("y", { ip = "192.0.2.11" }), svc("z", { ip = "192.0.2.12" }),
                   svc("w", { ip = "198.51.100.1" }) }
    t.fails("pool exhausted", "pool exhausted", pool.load_balancer(svc("a"), ctx(full)))
    t.is(ip(pool.load_balancer(svc("a"), ctx({ svc("np", { type = "NodePort", ip = "192.0.2.10" }) }))), "192.0.2.10",
        "non-LoadBalancer services hold nothing")
    t.is(ip(pool.load_balancer(svc("a"), ctx({ svc("a", { ip = "192.0.2.10" }) }))), "192.0.2.10",
        "the service's own entry in the list (same namespace/name) holds nothing against it")
    local older = svc("b", { ip = "192.0.2.10", created = "2024-01-01T00:00:00Z" })
    t.fails("a requested address held by a newer service is still taken", "in use by default/b",
        pool.load_balancer(svc("a", { want = "192.0.2.10", created = "2023-01-01T00:00:00Z" }), ctx({ older })))
end

-- Same name in another namespace is another service.
do
    local st = pool.load_balancer(svc("a", { ns = "one" }), ctx({ svc("a", { ns = "two", ip = "192.0.2.10" }) }))
    t.is(ip(st), "192.0.2.11", "default/a and two/a are different services")
end

-- Disputes: two services claiming one address; the older keeps it.
do
    local old = svc("old", { ip = "192.0.2.10", created = "2024-01-01T00:00:00Z" })
    local new = svc("new", { ip = "192.0.2.10", created = "2024-02-01T00:00:00Z" })
    t.is(ip(pool.load_balancer(old, ctx({ old, new }))), "192.0.2.10", "the older keeps it")
    t.is(ip(pool.load_balancer(new, ctx({ old, new }))), "192.0.2.11", "the newer moves")
end

-- Many services, one at a time as the wrapper runs them: all distinct, deterministic.
do
    local big = assert(L.new({ pools = { "10.0.0.0/28", "10.0.1.5-10.0.1.9" } }))
    local list, seen, dup = {}, {}, false
    local order = {}
    for i = 1, 21 do
        local s = svc(string.format("s%02d", i), { created = string.format("2024-01-01T00:00:%02dZ", i) })
        list[#list + 1] = s
        local st = big.load_balancer(s, ctx(list))
        if i <= 21 then
            local a = ip(st)
            if a then
                if seen[a] then dup = true end
                seen[a] = true
                s.status = { loadBalancer = st }
                order[#order + 1] = a
            end
        end
    end
    t.ok(not dup, "21 services, 21 addresses: no address given twice")
    t.is(order[1] .. " " .. order[16] .. " " .. order[17] .. " " .. order[21], "10.0.0.0 10.0.0.15 10.0.1.5 10.0.1.9",
        "in pool order")
    local extra = svc("extra")
    list[#list + 1] = extra
    t.fails("the 22nd: exhausted", "pool exhausted", big.load_balancer(extra, ctx(list)))
    -- re-running every hook changes nothing (idempotent)
    local same = true
    for _, s in ipairs(list) do
        if s ~= extra and ip(big.load_balancer(s, ctx(list))) ~= ip(s.status.loadBalancer) then same = false end
    end
    t.ok(same, "re-running the hook keeps every address")
    -- a deleted service frees its address for the next one
    table.remove(list, 1)
    t.is(ip(big.load_balancer(extra, ctx(list))), "10.0.0.0", "a freed address is reused")
end

-- No ctx.list: every address counts as free (the wrapper always passes one).
t.is(ip(pool.load_balancer(svc("a"), {})), "192.0.2.10", "no ctx.list: lowest address")

local okp, plugin = pcall(require, "plugin_lb-pool")
if okp then
    t.is(type(plugin.hooks.load_balancer), "function", "plugin: hooks.load_balancer")
    t.ok(pcall(plugin.self_test), "plugin: self_test passes")
    t.is(ip(plugin.hooks.load_balancer(svc("a"), ctx({}))), "192.0.2.10", "plugin: default pool starts at 192.0.2.10")
end

t.done_testing()
