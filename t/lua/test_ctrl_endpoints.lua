-- t/lua/test_ctrl_endpoints.lua: policies/controllers/endpoints.lua
-- (lua/berth/controller/endpoints.lua): the ready/not-ready split, which pods are left out,
-- named and numeric targetPorts, several port sets, publishNotReadyAddresses, headless
-- services, labels, services without a selector, the IP family, truncation past 1000.
-- Run by t/0195-controller-policies.t.
local t = require("tap")
local okF, F = pcall(require, "ctrl_fixture")
local okP, P = pcall(require, "controllers.endpoints")
if not (okF and okP) then
    t.ok(true, "controller policy tests # SKIP policies/ not on the module path (t/0195 runs them)")
    t.done_testing()
end
local EP, PODS = "v1/endpoints", "v1/pods"

local function sync(svc, pods, existing, o)
    o = o or {}
    local ctx = F.ctx({ objects = { [PODS] = pods } })
    return P.sync(svc, { [EP] = existing and { existing } or {} }, ctx)
end

local function ips(list)
    local out = {}
    for i, a in ipairs(list or {}) do out[i] = a.ip end
    return table.concat(out, ",")
end

local function ports(list)
    local out = {}
    for i, p in ipairs(list or {}) do out[i] = (p.name or "") .. ":" .. p.port .. "/" .. p.protocol end
    return table.concat(out, ",")
end

local web = { app = "web" }

-- Ready / not ready, and the pods that are left out.
do
    local svc = F.service("web", { ports = { { port = 80, targetPort = 8080, protocol = "TCP" } } })
    local pods = {
        F.pod("ready", { labels = web, node = "n1", ip = "10.1.0.2", ready = true }),
        F.pod("notready", { labels = web, node = "n2", ip = "10.1.0.3", ready = false }),
        F.pod("noip", { labels = web, node = "n1", ready = true }),
        F.pod("dying", { labels = web, node = "n1", ip = "10.1.0.4", ready = true, deleting = true }),
        F.pod("failed", { labels = web, node = "n1", ip = "10.1.0.5", phase = "Failed" }),
        F.pod("other", { labels = { app = "db" }, node = "n1", ip = "10.1.0.6", ready = true }),
        F.pod("elsewhere", { labels = web, node = "n1", ip = "10.1.0.7", ready = true, ns = "prod" }),
    }
    local r = sync(svc, pods)
    local ep = r.children[EP][1]
    t.is(ep.metadata.name, "web", "Endpoints named as the service")
    t.is(ep.kind, "Endpoints", "kind")
    t.is(#ep.subsets, 1, "one subset")
    local s = ep.subsets[1]
    t.is(ips(s.addresses), "10.1.0.2", "ready pod in addresses")
    t.is(ips(s.notReadyAddresses), "10.1.0.3", "not-ready pod in notReadyAddresses")
    t.is(ports(s.ports), ":8080/TCP", "numeric targetPort, unnamed port")
    local a = s.addresses[1]
    t.is(a.nodeName, "n1", "nodeName")
    t.is(a.targetRef.kind .. "/" .. a.targetRef.namespace .. "/" .. a.targetRef.name, "Pod/default/ready", "targetRef")
    t.is(a.targetRef.uid, pods[1].metadata.uid, "targetRef uid")
    t.is(ep.metadata.labels["service.kubernetes.io/headless"], nil, "not headless: no headless label")
end

-- Named targetPort: looked up per pod; a pod without it is left out of that port.
do
    local svc = F.service("api", { ports = { { name = "http", port = 80, targetPort = "web", protocol = "TCP" } } })
    local L = { app = "api" }
    local pods = {
        F.pod("a", { labels = L, node = "n", ip = "10.1.1.1", ready = true, ports = { { name = "web", containerPort = 8080 } } }),
        F.pod("b", { labels = L, node = "n", ip = "10.1.1.2", ready = true, ports = { { name = "web", containerPort = 9090 } } }),
        F.pod("c", { labels = L, node = "n", ip = "10.1.1.3", ready = true, ports = { { name = "admin", containerPort = 8080 } } }),
        F.pod("udp", { labels = L, node = "n", ip = "10.1.1.4", ready = true,
                       ports = { { name = "web", containerPort = 53, protocol = "UDP" } } }),
        F.pod("side", { labels = L, node = "n", ip = "10.1.1.5", ready = true,
                        sidecar_ports = { { name = "web", containerPort = 15001 } } }),
    }
    local ep = sync(svc, pods).children[EP][1]
    t.is(#ep.subsets, 3, "three port numbers: three subsets")
    t.is(ips(ep.subsets[1].addresses) .. "=" .. ports(ep.subsets[1].ports), "10.1.1.1=http:8080/TCP", "pod a on 8080")
    t.is(ips(ep.subsets[2].addresses) .. "=" .. ports(ep.subsets[2].ports), "10.1.1.2=http:9090/TCP", "pod b on 9090")
    t.is(ips(ep.subsets[3].addresses) .. "=" .. ports(ep.subsets[3].ports), "10.1.1.5=http:15001/TCP",
        "a sidecar's port resolves too")
end

-- Several service ports: one subset per distinct address set (RepackSubsets): ports served
-- by exactly the same addresses share a subset, so a pod lacking one port splits them.
do
    local svc = F.service("multi", { ports = {
        { name = "http", port = 80, targetPort = "web", protocol = "TCP" },
        { name = "metrics", port = 9100, targetPort = 9100, protocol = "TCP" },
    } })
    local L = { app = "multi" }
    local pods = {
        F.pod("a", { labels = L, node = "n", ip = "10.2.0.1", ready = true, ports = { { name = "web", containerPort = 8080 } } }),
        F.pod("b", { labels = L, node = "n", ip = "10.2.0.2", ready = true, ports = { { name = "web", containerPort = 8080 } } }),
        F.pod("c", { labels = L, node = "n", ip = "10.2.0.3", ready = false }),
    }
    local ep = sync(svc, pods).children[EP][1]
    t.is(#ep.subsets, 2, "two address sets: two subsets")
    local s1, s2 = ep.subsets[1], ep.subsets[2]
    t.is(ips(s1.addresses) .. "=" .. ports(s1.ports), "10.2.0.1,10.2.0.2=http:8080/TCP",
        "http: a and b")
    t.is(ips(s2.addresses) .. "+" .. ips(s2.notReadyAddresses) .. "=" .. ports(s2.ports),
        "10.2.0.1,10.2.0.2+10.2.0.3=metrics:9100/TCP", "metrics: a, b and (not ready) c")
    t.is(s1.notReadyAddresses, nil, "no empty notReadyAddresses list")
    local pods2 = { pods[1], pods[2] }
    local ep2 = sync(svc, pods2).children[EP][1]
    t.is(#ep2.subsets .. " " .. ports(ep2.subsets[1].ports), "1 http:8080/TCP,metrics:9100/TCP",
        "without c: both ports in one subset")
end

-- publishNotReadyAddresses: not-ready and terminating pods are published as ready.
do
    local svc = F.service("pub", { publish = true, ports = { { port = 80, protocol = "TCP" } } })
    local L = { app = "pub" }
    local pods = {
        F.pod("a", { labels = L, node = "n", ip = "10.3.0.1", ready = false }),
        F.pod("b", { labels = L, node = "n", ip = "10.3.0.2", ready = true, deleting = true }),
    }
    local s = sync(svc, pods).children[EP][1].subsets[1]
    t.is(ips(s.addresses), "10.3.0.1,10.3.0.2", "all published in addresses")
    t.is(s.notReadyAddresses, nil, "none not ready")
    t.is(ports(s.ports), ":80/TCP", "targetPort defaults to the port")
end

-- Headless without ports; hostname with subdomain; labels copied and stale ones removed.
do
    local svc = F.service("db", { cluster_ip = "None", labels = { team = "data" } })
    local L = { app = "db" }
    local pods = {
        F.pod("db-0", { labels = L, node = "n", ip = "10.4.0.1", ready = true, hostname = "db-0", subdomain = "db" }),
        F.pod("db-1", { labels = L, node = "n", ip = "10.4.0.2", ready = true, hostname = "db-1", subdomain = "other" }),
    }
    local existing = { apiVersion = "v1", kind = "Endpoints",
        metadata = { name = "db", namespace = "default", labels = { team = "data", stale = "x" },
                     annotations = { ["endpoints.kubernetes.io/over-capacity"] = "truncated" } } }
    local ep = sync(svc, pods, existing).children[EP][1]
    local s = ep.subsets[1]
    t.is(ips(s.addresses), "10.4.0.1,10.4.0.2", "headless without ports: addresses")
    t.is(s.ports, nil, "and no ports")
    t.is(s.addresses[1].hostname, "db-0", "hostname when the subdomain is the service")
    t.is(s.addresses[2].hostname, nil, "no hostname for another subdomain")
    t.is(ep.metadata.labels["service.kubernetes.io/headless"], "", "headless label")
    t.is(ep.metadata.labels.team, "data", "service labels copied")
    t.is(ep.metadata.labels.stale, F.NULL, "a label the service lacks is removed (null)")
    t.is(ep.metadata.annotations["endpoints.kubernetes.io/over-capacity"], F.NULL, "over-capacity removed")

    local svc2 = F.service("web2", { ports = { { port = 80, protocol = "TCP" } } })
    local ep2 = sync(svc2, {}, { metadata = { name = "web2" }, subsets = { { addresses = { { ip = "1.1.1.1" } } } } })
    t.is(ep2.children[EP][1].subsets, F.NULL, "no pods: subsets removed (null)")
    local ep3 = sync(F.service("nopods", { ports = { { port = 80 } } }), {})
    t.is(#ep3.children[EP], 1, "an Endpoints object is kept even with no pods")
    local headful_no_ports = sync(F.service("x", { labels = {} }), { F.pod("p", { labels = { app = "x" }, ip = "10.9.0.1", ready = true }) })
    t.is(headful_no_ports.children[EP][1].subsets, F.NULL, "a service with a cluster IP and no ports lists nothing")
end

-- No selector, ExternalName: not managed.
do
    local r = sync(F.service("manual", { selector = false, ports = { { port = 80 } } }), {})
    t.is(r.children, nil, "no selector: no children key (the user's Endpoints stay)")
    local r2 = sync(F.service("ext", { type = "ExternalName" }), {})
    t.is(r2.children, nil, "ExternalName: not managed")
    local r3 = sync(F.service("empty", { selector = {} }), {})
    t.is(r3.children, nil, "an empty selector counts as none")
    t.is(P.children[1].by_name, true, "children found by name")
    t.is(P.children[1].delete_with_parent, true, "and deleted with the service")
end

-- IP family: the service's first family picks the pod IP.
do
    local svc = F.service("v6", { ports = { { port = 80 } } })
    svc.spec.ipFamilies = { "IPv6" }
    local pod = F.pod("p", { labels = { app = "v6" }, node = "n", ip = "10.5.0.1", ready = true })
    pod.status.podIPs = { { ip = "10.5.0.1" }, { ip = "fd00::5" } }
    t.is(ips(sync(svc, { pod }).children[EP][1].subsets[1].addresses), "fd00::5", "IPv6 service: the v6 IP")
    svc.spec.ipFamilies = nil
    svc.spec.clusterIP = "10.96.0.20"
    t.is(ips(sync(svc, { pod }).children[EP][1].subsets[1].addresses), "10.5.0.1", "v4 cluster IP: the v4 IP")
end

-- More than 1000 addresses: truncated, annotated.
do
    local svc = F.service("huge", { ports = { { port = 80 } } })
    local pods = {}
    for i = 1, 1003 do
        pods[i] = F.pod("p" .. i, { labels = { app = "huge" }, node = "n",
            ip = string.format("10.%d.%d.%d", 6 + math.floor(i / 65536), math.floor(i / 256) % 256, i % 256),
            ready = i > 5 })
    end
    local ep = sync(svc, pods).children[EP][1]
    local s = ep.subsets[1]
    t.is(#(s.addresses or {}) + #(s.notReadyAddresses or {}), 1000, "1003 addresses cut to 1000")
    t.is(#s.addresses, 998, "ready ones kept, not-ready ones cut first")
    t.is(ep.metadata.annotations["endpoints.kubernetes.io/over-capacity"], "truncated", "over-capacity annotation")
end

t.ok(pcall(P.self_test), "endpoints self_test")
t.done_testing()
