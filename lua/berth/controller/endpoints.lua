-- berth.controller.endpoints: the Endpoints controller (k8s.io/kubernetes/pkg/controller/
-- endpoint) as one declarative sync for policies/controllers/endpoints.lua.
--
-- For a Service with a selector (and not type ExternalName), the desired Endpoints object
-- of the same name: every pod matching the selector (read through ctx.list) that has an IP
-- of the service's family, is not Succeeded/Failed and not terminating (terminating pods
-- stay when publishNotReadyAddresses), as an address {ip, nodeName, hostname, targetRef} in
-- `addresses` when ready (or publishNotReadyAddresses) and in `notReadyAddresses` otherwise,
-- for each service port whose targetPort resolves on that pod (a number, or a container port
-- name with the same protocol); then kube's RepackSubsets: addresses offering the same port
-- set share one subset. A headless service without ports lists addresses without ports.
-- Labels are the service's, plus service.kubernetes.io/headless for a service without a
-- cluster IP; more than 1000 addresses are truncated as kube does (over-capacity annotation).
-- A Service without a selector returns no children key: the runtime leaves its Endpoints
-- (user-managed) alone.
--
-- Order: addresses sorted by IP then pod uid, ports by name, port, protocol, subsets by
-- their first address; kube sorts ports and subsets by a hash, so consumers must not rely on
-- either order. Not produced: endpoints.kubernetes.io/last-change-trigger-time.
-- Depends on berth.controller.common. Tested by t/lua/test_ctrl_endpoints.lua.

local C = require("berth.controller.common")

local type, ipairs, pairs, next, tostring = type, ipairs, pairs, next, tostring
local math_ceil, math_min = math.ceil, math.min
local string_find = string.find
local table_sort, table_concat = table.sort, table.concat

local M = {}

M.ENDPOINTS = "v1/endpoints"
M.PODS = "v1/pods"
M.HEADLESS_LABEL = "service.kubernetes.io/headless"
M.OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
M.MAX_CAPACITY = 1000

local function is_v6(ip)
    return type(ip) == "string" and string_find(ip, ":", 1, true) ~= nil
end

-- The pod's IP of the service's family (podToEndpointAddressForService): the family is
-- spec.ipFamilies[1], else that of a set clusterIP, else that of the pod's IP.
local function pod_ip(svc, pod)
    local spec = C.tget(svc, "spec") or C.EMPTY
    local fams = C.tbl(spec.ipFamilies)
    local v6
    if fams and type(fams[1]) == "string" then
        v6 = fams[1] == "IPv6"
    else
        local cip = C.str(spec.clusterIP)
        if cip and cip ~= "" and cip ~= "None" then
            v6 = is_v6(cip)
        else
            v6 = is_v6(C.sget(pod, "status.podIP"))
        end
    end
    local ips = {}
    for _, p in ipairs(C.tget(pod, "status.podIPs") or C.EMPTY) do
        if type(p) == "table" and type(p.ip) == "string" then
            ips[#ips + 1] = p.ip
        end
    end
    if #ips == 0 then
        ips[1] = C.sget(pod, "status.podIP")
    end
    for _, ip in ipairs(ips) do
        if ip ~= "" and is_v6(ip) == v6 then
            return ip
        end
    end
    return nil
end

-- ShouldPodBeInEndpoints: not terminal, has an IP, not terminating unless included.
local function in_endpoints(pod, include_terminating)
    local phase = C.sget(pod, "status.phase")
    if phase == "Succeeded" or phase == "Failed" then
        return false
    end
    local ip = C.sget(pod, "status.podIP")
    local ips = C.tget(pod, "status.podIPs")
    if (ip == nil or ip == "") and (ips == nil or #ips == 0) then
        return false
    end
    if not include_terminating and C.is_deleting(pod) then
        return false
    end
    return true
end

-- podutil.FindPort: a numeric targetPort (default: the service port) as is; a named one is
-- the containerPort of that name and the same protocol in a container or a sidecar
-- (restartable init container). nil when the pod has no such port.
function M.find_port(pod, sp)
    local target = sp.targetPort
    if type(target) ~= "number" and type(target) ~= "string" then
        target = sp.port
    end
    if type(target) == "number" then
        return target
    end
    if type(target) ~= "string" then
        return nil
    end
    local proto = C.str(sp.protocol) or "TCP"
    local spec = C.tget(pod, "spec") or C.EMPTY
    local lists = { C.tbl(spec.containers) or C.EMPTY }
    local sidecars = {}
    for _, ic in ipairs(C.tbl(spec.initContainers) or C.EMPTY) do
        if type(ic) == "table" and ic.restartPolicy == "Always" then
            sidecars[#sidecars + 1] = ic
        end
    end
    lists[2] = sidecars
    for _, list in ipairs(lists) do
        for _, c in ipairs(list) do
            for _, p in ipairs(type(c) == "table" and C.tbl(c.ports) or C.EMPTY) do
                if type(p) == "table" and p.name == target and (C.str(p.protocol) or "TCP") == proto then
                    return C.num(p.containerPort)
                end
            end
        end
    end
    return nil
end

local function endpoint_port(sp, num)
    local p = { port = num, protocol = C.str(sp.protocol) or "TCP" }
    local name = C.str(sp.name)
    if name and name ~= "" then
        p.name = name
    end
    if C.str(sp.appProtocol) then
        p.appProtocol = sp.appProtocol
    end
    return p
end

local function port_key(p)
    if p == nil then
        return "-1"
    end
    return table_concat({ p.name or "", tostring(p.port), p.protocol or "", p.appProtocol or "" }, "\0")
end

local function addr_key(a)
    return a.ip .. "\0" .. ((a.targetRef and a.targetRef.uid) or "")
end

local function addr_less(a, b)
    if a.ip ~= b.ip then
        return a.ip < b.ip
    end
    return ((a.targetRef and a.targetRef.uid) or "") < ((b.targetRef and b.targetRef.uid) or "")
end

local function port_less(a, b)
    if (a.name or "") ~= (b.name or "") then
        return (a.name or "") < (b.name or "")
    end
    if a.port ~= b.port then
        return a.port < b.port
    end
    return (a.protocol or "") < (b.protocol or "")
end

-- RepackSubsets over (address, ready, port) triples: the addresses of each port, then the
-- ports of each identical address set, one subset per set.
function M.repack(entries)
    local by_port, port_order = {}, {}
    for _, e in ipairs(entries) do
        local pk = port_key(e.port)
        local slot = by_port[pk]
        if not slot then
            slot = { port = e.port, addrs = {} }
            by_port[pk] = slot
            port_order[#port_order + 1] = pk
        end
        slot.addrs[addr_key(e.addr)] = { addr = e.addr, ready = e.ready }
    end
    local groups, group_order = {}, {}
    for _, pk in ipairs(port_order) do
        local slot = by_port[pk]
        local keys = {}
        for k, a in pairs(slot.addrs) do
            keys[#keys + 1] = k .. (a.ready and "\1" or "\2")
        end
        table_sort(keys)
        local gk = table_concat(keys, "\0\0")
        local g = groups[gk]
        if not g then
            g = { addrs = slot.addrs, ports = {} }
            groups[gk] = g
            group_order[#group_order + 1] = gk
        end
        if slot.port then
            g.ports[#g.ports + 1] = slot.port
        end
    end
    local subsets = {}
    for _, gk in ipairs(group_order) do
        local g = groups[gk]
        local ready, notready = {}, {}
        for _, a in pairs(g.addrs) do
            if a.ready then
                ready[#ready + 1] = a.addr
            else
                notready[#notready + 1] = a.addr
            end
        end
        table_sort(ready, addr_less)
        table_sort(notready, addr_less)
        table_sort(g.ports, port_less)
        local s = {}
        if #ready > 0 then s.addresses = ready end
        if #notready > 0 then s.notReadyAddresses = notready end
        if #g.ports > 0 then s.ports = g.ports end
        subsets[#subsets + 1] = s
    end
    table_sort(subsets, function(a, b)
        local fa = (a.addresses or a.notReadyAddresses)[1]
        local fb = (b.addresses or b.notReadyAddresses)[1]
        if fa.ip ~= fb.ip then
            return addr_less(fa, fb)
        end
        local pa, pb = a.ports and a.ports[1], b.ports and b.ports[1]
        if pa == nil or pb == nil then
            return pa == nil and pb ~= nil
        end
        return port_less(pa, pb)
    end)
    return subsets
end

-- truncateEndpoints: past MAX_CAPACITY addresses, not-ready addresses are cut first, each
-- subset keeping its share (rounded up) of what is left. Returns true when it cut.
function M.truncate(subsets, max_capacity)
    max_capacity = max_capacity or M.MAX_CAPACITY
    local total_ready, total_not = 0, 0
    for _, s in ipairs(subsets) do
        total_ready = total_ready + #(s.addresses or C.EMPTY)
        total_not = total_not + #(s.notReadyAddresses or C.EMPTY)
    end
    if total_ready + total_not <= max_capacity then
        return false
    end
    local cut_ready, max, num_total = false, max_capacity - total_ready, total_not
    if total_ready > max_capacity then
        cut_ready, max, num_total = true, max_capacity, total_ready
    end
    local can_add = max
    for _, s in ipairs(subsets) do
        local list = cut_ready and (s.addresses or {}) or (s.notReadyAddresses or {})
        local n = math_min(math_ceil(#list / num_total * max), can_add)
        local kept = {}
        for i = 1, n do
            kept[i] = list[i]
        end
        if cut_ready then
            s.addresses = #kept > 0 and kept or nil
            s.notReadyAddresses = nil
        else
            s.notReadyAddresses = #kept > 0 and kept or nil
        end
        can_add = can_add - #kept
    end
    return true
end

-- One sync of Service svc; children[ENDPOINTS] holds its Endpoints (same name) if any.
function M.sync(svc, children, ctx)
    local spec = C.tget(svc, "spec") or C.EMPTY
    if spec.type == "ExternalName" then
        return {}
    end
    local selmap = C.tbl(spec.selector)
    if not selmap or next(selmap) == nil then
        return {}          -- no selector: the Endpoints are the user's
    end
    local sel, err = C.compile_selector(selmap, "map")
    if err then
        return { events = { C.event("Warning", "InvalidSelector", "invalid selector: " .. err) } }
    end
    local ns, name = C.namespace(svc), C.name(svc)
    local publish = spec.publishNotReadyAddresses == true
    local ports = C.tbl(spec.ports) or C.EMPTY
    local cluster_ip = C.str(spec.clusterIP) or ""
    local entries = {}
    for _, pod in ipairs(C.list(ctx, M.PODS, ns, sel)) do
        if in_endpoints(pod, publish) then
            local ip = pod_ip(svc, pod)
            if ip then
                local addr = {
                    ip = ip,
                    targetRef = { kind = "Pod", namespace = C.namespace(pod), name = C.name(pod), uid = C.uid(pod) },
                }
                local node = C.sget(pod, "spec.nodeName")
                if node and node ~= "" then
                    addr.nodeName = node
                end
                local hostname = C.sget(pod, "spec.hostname")
                if hostname and hostname ~= "" and C.sget(pod, "spec.subdomain") == name
                   and C.namespace(pod) == ns then
                    addr.hostname = hostname
                end
                local ready = publish or C.pod_ready(pod)
                if #ports == 0 then
                    if cluster_ip == "None" then
                        entries[#entries + 1] = { addr = addr, ready = ready }
                    end
                else
                    for _, sp in ipairs(ports) do
                        if type(sp) == "table" then
                            local num = M.find_port(pod, sp)
                            if num then
                                entries[#entries + 1] = { addr = addr, ready = ready, port = endpoint_port(sp, num) }
                            end
                        end
                    end
                end
            end
        end
    end
    local subsets = M.repack(entries)
    local truncated = M.truncate(subsets)

    local null = C.null(ctx)
    local current = ((children or C.EMPTY)[M.ENDPOINTS] or C.EMPTY)[1]
    local labels = C.copy_map(C.labels(svc))
    if cluster_ip == "" or cluster_ip == "None" then
        labels[M.HEADLESS_LABEL] = ""
    else
        labels[M.HEADLESS_LABEL] = nil
    end
    local annotations
    if truncated then
        annotations = { [M.OVER_CAPACITY] = "truncated" }
    end
    if current and null ~= nil then
        -- kube replaces the labels with the service's: drop the others (null = remove).
        for k in pairs(C.labels(current)) do
            if labels[k] == nil then
                labels[k] = null
            end
        end
        if not truncated and C.annotations(current)[M.OVER_CAPACITY] ~= nil then
            annotations = { [M.OVER_CAPACITY] = null }
        end
    end
    local ep = {
        apiVersion = "v1", kind = "Endpoints",
        metadata = { name = name, labels = labels, annotations = annotations },
    }
    if #subsets > 0 then
        ep.subsets = subsets
    else
        ep.subsets = null      -- no subsets: the field is removed (nil without ctx.null)
    end
    return { children = { [M.ENDPOINTS] = { ep } } }
end

return M
