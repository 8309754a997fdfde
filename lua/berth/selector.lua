-- berth.selector: Kubernetes label selectors, node affinity and taint/toleration matching.
--
-- Label selectors use the syntax and semantics of k8s.io/apimachinery/pkg/labels.Parse:
-- "a=b", "a==b", "a!=b", "a in (x,y)", "a notin (x,y)", "a", "!a", "a>5", "a<5", comma = AND,
-- keys validated as qualified names and values as label values; "!=" and "notin" match a
-- missing key; "" selects everything. LabelSelector tables ({matchLabels=..., matchExpressions=
-- {{key=, operator="In", values={...}}}}) compile like metav1.LabelSelectorAsSelector: nil
-- selects nothing, {} selects everything.
--
-- Node affinity follows k8s.io/component-helpers/scheduling/corev1/nodeaffinity: a
-- NodeSelectorRequirement (In, NotIn, Exists, DoesNotExist, Gt, Lt), terms ANDing their
-- matchExpressions/matchFields, a NodeSelector ORing its terms (an empty term matches nothing).
-- Tolerations follow corev1 Toleration.ToleratesTaint.
--
-- Compiled selectors are plain tables { reqs = {...} } or { nothing = true }; they are data,
-- safe to cache in a policy. Integers for Gt/Lt are compared exactly as int64 (as digit
-- strings, never through doubles).
--
-- Depends on string, table and berth.util. Callers: the scheduler policy (filters and scores),
-- controllers (ReplicaSet/Deployment/Service selectors), operator scripts.

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local string_sub, string_byte, string_match, string_find, string_format =
      string.sub, string.byte, string.match, string.find, string.format
local table_sort, table_concat = table.sort, table.concat

local util = require("berth.util")

local M = {}

---------------------------------------------------------------------------------------------
-- Validation of keys and values (IsQualifiedName, IsValidLabelValue)
---------------------------------------------------------------------------------------------

-- ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63 characters.
local function valid_name(s)
    if #s == 0 or #s > 63 then
        return false
    end
    if not string_find(s, "^[A-Za-z0-9]") or not string_find(s, "[A-Za-z0-9]$") then
        return false
    end
    return string_find(s, "^[-A-Za-z0-9_.]*$") ~= nil
end

-- DNS-1123 subdomain: dot-separated lowercase labels [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 253.
local function valid_subdomain(s)
    if #s == 0 or #s > 253 then
        return false
    end
    for label in (s .. "."):gmatch("([^.]*)%.") do
        if not string_find(label, "^[a-z0-9]$") and not string_find(label, "^[a-z0-9][-a-z0-9]*[a-z0-9]$") then
            return false
        end
    end
    return true
end

-- nil when key is a valid label key (optional "prefix/" + name), else the reason.
local function check_key(key)
    if type(key) ~= "string" then
        return "label key must be a string, got " .. type(key)
    end
    local slash = string_find(key, "/", 1, true)
    local name = key
    if slash then
        local prefix = string_sub(key, 1, slash - 1)
        name = string_sub(key, slash + 1)
        if string_find(name, "/", 1, true) then
            return string_format("invalid label key %q: a qualified name must consist of an " ..
                "optional DNS subdomain prefix and a name separated by one '/'", key)
        end
        if prefix == "" then
            return string_format("invalid label key %q: prefix part must be non-empty", key)
        end
        if not valid_subdomain(prefix) then
            return string_format("invalid label key %q: prefix part must be a lowercase " ..
                "RFC 1123 subdomain of at most 253 characters", key)
        end
    end
    if name == "" then
        return string_format("invalid label key %q: name part must be non-empty", key)
    end
    if not valid_name(name) then
        return string_format("invalid label key %q: name part must be 63 characters or less, " ..
            "consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric", key)
    end
    return nil
end

-- nil when value is a valid label value (empty, or a name of at most 63 characters).
local function check_value(key, value)
    if type(value) ~= "string" then
        return string_format("invalid label value for key %q: must be a string, got %s", key, type(value))
    end
    if value ~= "" and not valid_name(value) then
        local where = key ~= "" and string_format(" for key %q", key) or ""
        return string_format("invalid label value %q%s: must be 63 characters or less, " ..
            "empty or consist of alphanumerics, '-', '_' or '.', and start and end with an " ..
            "alphanumeric", value, where)
    end
    return nil
end

M.valid_label_key = function(key) local e = check_key(key) return e == nil, e end
M.valid_label_value = function(value) local e = check_value("", value) return e == nil, e end

---------------------------------------------------------------------------------------------
-- Exact int64 handling for Gt/Lt (strconv.ParseInt(s, 10, 64) rules)
---------------------------------------------------------------------------------------------

local INT64_MAX = "9223372036854775807"
local INT64_MIN_MAG = "9223372036854775808"

local function mag_cmp(a, b)
    if #a ~= #b then
        return #a < #b and -1 or 1
    end
    if a == b then
        return 0
    end
    return a < b and -1 or 1
end

-- Returns sign (-1/1) and magnitude digits without leading zeros, or nil when s is not an int64.
local function parse_int64(s)
    if type(s) ~= "string" then
        return nil
    end
    local sign, digits = string_match(s, "^([+-]?)(%d+)$")
    if not digits then
        return nil
    end
    digits = string_match(digits, "^0*(%d-)$")
    if digits == "" then
        return 1, "0"
    end
    local neg = sign == "-"
    if mag_cmp(digits, neg and INT64_MIN_MAG or INT64_MAX) > 0 then
        return nil
    end
    return neg and -1 or 1, digits
end

local function int64_cmp(sa, da, sb, db)
    if da == "0" then sa = 0 end
    if db == "0" then sb = 0 end
    if sa ~= sb then
        return sa < sb and -1 or 1
    end
    local c = mag_cmp(da, db)
    return sa < 0 and -c or c
end

---------------------------------------------------------------------------------------------
-- Requirements
---------------------------------------------------------------------------------------------

local OP_STRING = {
    ["="] = "=", ["=="] = "==", ["!="] = "!=", ["in"] = " in ", ["notin"] = " notin ",
    ["exists"] = "", ["!"] = "", [">"] = ">", ["<"] = "<",
}

-- Builds a requirement like labels.NewRequirement; values is a list (duplicates removed).
-- Returns the requirement or nil, reason.
local function new_requirement(key, op, values)
    local err = check_key(key)
    if err then
        return nil, err
    end
    local set, list = {}, {}
    for _, v in ipairs(values) do
        if type(v) ~= "string" then
            return nil, string_format("values for key %q must be strings", key)
        end
        if not set[v] then
            set[v] = true
            list[#list + 1] = v
        end
    end
    table_sort(list)
    if op == "in" or op == "notin" then
        if #list == 0 then
            return nil, "for 'in', 'notin' operators, values set can't be empty"
        end
    elseif op == "=" or op == "==" or op == "!=" then
        if #list ~= 1 then
            return nil, "exact-match compatibility requires one single value"
        end
    elseif op == "exists" or op == "!" then
        if #list ~= 0 then
            return nil, "values set must be empty for exists and does not exist"
        end
    elseif op == ">" or op == "<" then
        if #list ~= 1 then
            return nil, "for 'Gt', 'Lt' operators, exactly one value is required"
        end
        if not parse_int64(list[1]) then
            return nil, "for 'Gt', 'Lt' operators, the value must be an integer"
        end
    else
        return nil, "operator '" .. tostring(op) .. "' is not recognized"
    end
    for _, v in ipairs(list) do
        local verr = check_value(key, v)
        if verr then
            return nil, verr
        end
    end
    return { key = key, op = op, values = list, set = set }
end

local function requirement_matches(r, labels)
    local v = labels[r.key]
    local op = r.op
    if op == "=" or op == "==" or op == "in" then
        return v ~= nil and r.set[v] == true
    elseif op == "!=" or op == "notin" then
        return v == nil or r.set[v] ~= true
    elseif op == "exists" then
        return v ~= nil
    elseif op == "!" then
        return v == nil
    elseif op == ">" or op == "<" then
        if v == nil then
            return false
        end
        local sl, dl = parse_int64(v)
        if not sl then
            return false
        end
        local sr, dr = parse_int64(r.values[1])
        local c = int64_cmp(sl, dl, sr, dr)
        return (op == ">" and c > 0) or (op == "<" and c < 0)
    end
    return false
end

local function requirement_string(r)
    if r.op == "!" then
        return "!" .. r.key
    elseif r.op == "exists" then
        return r.key
    elseif r.op == "in" or r.op == "notin" then
        return r.key .. OP_STRING[r.op] .. "(" .. table_concat(r.values, ",") .. ")"
    end
    return r.key .. OP_STRING[r.op] .. r.values[1]
end

local function make_selector(reqs)
    -- Sorted by key like kube's ByKey (stable for equal keys by insertion order).
    for i, r in ipairs(reqs) do
        r.order = i
    end
    table_sort(reqs, function(a, b)
        if a.key ~= b.key then
            return a.key < b.key
        end
        return a.order < b.order
    end)
    return { reqs = reqs }
end

---------------------------------------------------------------------------------------------
-- String selector lexer and parser (labels.Parse)
---------------------------------------------------------------------------------------------

local SPECIAL = { [61] = true, [33] = true, [40] = true, [41] = true, [44] = true,
                  [62] = true, [60] = true }               -- = ! ( ) , > <
local WHITE = { [32] = true, [9] = true, [13] = true, [10] = true }

-- Splits s into tokens {kind, lit}; kinds: id, in, notin, "=", "==", "!=", "!", "(", ")",
-- ",", ">", "<", eos. A special-symbol run that is no operator is an error token.
local function lex(s)
    local toks, pos, n = {}, 1, #s
    while true do
        while pos <= n and WHITE[string_byte(s, pos)] do
            pos = pos + 1
        end
        if pos > n then
            toks[#toks + 1] = { kind = "eos", lit = "" }
            return toks
        end
        local b = string_byte(s, pos)
        if SPECIAL[b] then
            -- Longest operator among the special symbols: "!=" and "==" before "!" and "=".
            local two = string_sub(s, pos, pos + 1)
            if two == "!=" or two == "==" then
                toks[#toks + 1] = { kind = two, lit = two }
                pos = pos + 2
            else
                local one = string_sub(s, pos, pos)
                toks[#toks + 1] = { kind = one, lit = one }
                pos = pos + 1
            end
        else
            local start = pos
            while pos <= n do
                local c = string_byte(s, pos)
                if WHITE[c] or SPECIAL[c] then
                    break
                end
                pos = pos + 1
            end
            local lit = string_sub(s, start, pos - 1)
            local kind = "id"
            if lit == "in" or lit == "notin" then
                kind = lit
            end
            toks[#toks + 1] = { kind = kind, lit = lit }
        end
    end
end

local function parse_error(tok, expected)
    return string_format("unable to parse requirement: found '%s', expected: %s", tok.lit, expected)
end

-- Parses a selector string. Returns a compiled selector or nil, reason.
function M.parse(s)
    if type(s) ~= "string" then
        return nil, "selector must be a string, got " .. type(s)
    end
    local toks = lex(s)
    local i = 1
    -- In value position the keywords "in"/"notin" are plain identifiers (labels.Values mode).
    local function peek_value()
        local t = toks[i]
        if t.kind == "in" or t.kind == "notin" then
            return { kind = "id", lit = t.lit }
        end
        return t
    end
    local function next_value()
        local t = peek_value()
        i = i + 1
        return t
    end

    local function parse_values()
        local t = next_value()
        if t.kind ~= "(" then
            return nil, parse_error(t, "'('")
        end
        t = peek_value()
        if t.kind == ")" then
            i = i + 1
            return { "" }              -- kube reads "()" as the set {""}
        elseif t.kind ~= "id" and t.kind ~= "," then
            return nil, parse_error(t, "',', ')' or identifier")
        end
        local vals = {}
        while true do
            t = next_value()
            if t.kind == "id" then
                vals[#vals + 1] = t.lit
                local t2 = peek_value()
                if t2.kind == ")" then
                    i = i + 1
                    return vals
                elseif t2.kind ~= "," then
                    return nil, parse_error(t2, "',' or ')'")
                end
            elseif t.kind == "," then
                -- "(,x)", "(x,)" and "(x,,y)" contribute the empty value.
                if #vals == 0 then
                    vals[#vals + 1] = ""
                end
                local t2 = peek_value()
                if t2.kind == ")" then
                    i = i + 1
                    vals[#vals + 1] = ""
                    return vals
                elseif t2.kind == "," then
                    i = i + 1
                    vals[#vals + 1] = ""
                end
            else
                return nil, parse_error(t, "',', or identifier")
            end
        end
    end

    local function parse_requirement()
        local op
        local t = next_value()
        if t.kind == "!" then
            op = "!"
            t = next_value()
        end
        if t.kind ~= "id" then
            return nil, parse_error(t, "identifier")
        end
        local key = t.lit
        local kerr = check_key(key)
        if kerr then
            return nil, kerr
        end
        local la = peek_value()
        if la.kind == "eos" or la.kind == "," then
            return new_requirement(key, op or "exists", {})
        end
        if op == "!" then
            return new_requirement(key, "!", {})
        end
        t = toks[i]
        i = i + 1
        local k = t.kind
        if k == "in" or k == "notin" then
            local vals, err = parse_values()
            if not vals then
                return nil, err
            end
            return new_requirement(key, k, vals)
        elseif k == "=" or k == "==" or k == "!=" or k == ">" or k == "<" then
            local v = peek_value()
            if v.kind == "eos" or v.kind == "," then
                return new_requirement(key, k, { "" })
            end
            i = i + 1
            if v.kind ~= "id" then
                return nil, parse_error(v, "identifier")
            end
            return new_requirement(key, k, { v.lit })
        end
        return nil, parse_error(t, "'=', '==', '!=', 'in', 'notin', '>' or '<'")
    end

    local reqs = {}
    while true do
        local t = peek_value()
        if t.kind == "eos" then
            return make_selector(reqs)
        elseif t.kind ~= "id" and t.kind ~= "!" then
            return nil, parse_error(t, "!, identifier, or 'end of string'")
        end
        local r, err = parse_requirement()
        if not r then
            return nil, err
        end
        reqs[#reqs + 1] = r
        t = next_value()
        if t.kind == "eos" then
            return make_selector(reqs)
        elseif t.kind == "," then
            local t2 = peek_value()
            if t2.kind ~= "id" and t2.kind ~= "!" then
                return nil, parse_error(t2, "identifier after ','")
            end
        else
            return nil, parse_error(t, "',' or 'end of string'")
        end
    end
end

---------------------------------------------------------------------------------------------
-- Structured selectors
---------------------------------------------------------------------------------------------

-- The selector that matches every label set (what "" and {} compile to).
function M.everything()
    return { reqs = {} }
end

-- The selector that matches nothing (what a nil LabelSelector compiles to).
function M.nothing()
    return { nothing = true, reqs = {} }
end

local LS_OPS = { In = "in", NotIn = "notin", Exists = "exists", DoesNotExist = "!" }

-- Compiles a metav1.LabelSelector table. nil -> nothing; {} -> everything.
-- Returns the selector or nil, reason.
function M.from_label_selector(ls)
    if ls == nil then
        return M.nothing()
    end
    if type(ls) ~= "table" then
        return nil, "label selector must be a table, got " .. type(ls)
    end
    local ml, me = ls.matchLabels, ls.matchExpressions
    if ml ~= nil and type(ml) ~= "table" then
        return nil, "matchLabels must be a map"
    end
    if me ~= nil and type(me) ~= "table" then
        return nil, "matchExpressions must be a list"
    end
    local reqs = {}
    for _, k in ipairs(util.keys(ml or {})) do
        local r, err = new_requirement(k, "=", { ml[k] })
        if not r then
            return nil, err
        end
        reqs[#reqs + 1] = r
    end
    for _, e in ipairs(me or {}) do
        if type(e) ~= "table" then
            return nil, "matchExpressions entries must be tables"
        end
        local op = LS_OPS[e.operator]
        if not op then
            return nil, string_format("%q is not a valid label selector operator", tostring(e.operator))
        end
        local r, err = new_requirement(e.key, op, type(e.values) == "table" and e.values or {})
        if not r then
            return nil, err
        end
        reqs[#reqs + 1] = r
    end
    return make_selector(reqs)
end

-- Compiles a plain label map ({app="web"}) into equality requirements (a Service or
-- ReplicationController selector, pod.spec.nodeSelector). Validates keys and values.
function M.from_set(map)
    if type(map) ~= "table" then
        return nil, "label set must be a table, got " .. type(map)
    end
    local reqs = {}
    for _, k in ipairs(util.keys(map)) do
        local r, err = new_requirement(k, "=", { map[k] })
        if not r then
            return nil, err
        end
        reqs[#reqs + 1] = r
    end
    return make_selector(reqs)
end

-- Compiles what is given: a compiled selector is returned as is, a string is parsed, a table
-- is read as a LabelSelector, nil compiles to nothing.
function M.compile(sel)
    if type(sel) == "table" and sel.reqs then
        return sel
    elseif type(sel) == "string" then
        return M.parse(sel)
    end
    return M.from_label_selector(sel)
end

-- True when labels (a map, nil counts as empty) satisfy sel (compiled, string or LabelSelector).
-- nil, reason when sel does not compile.
function M.matches(sel, labels)
    local s, err = M.compile(sel)
    if not s then
        return nil, err
    end
    if s.nothing then
        return false
    end
    labels = type(labels) == "table" and labels or {}
    for _, r in ipairs(s.reqs) do
        if not requirement_matches(r, labels) then
            return false
        end
    end
    return true
end

-- True when every key of set has the same value in labels (labels.SelectorFromSet semantics,
-- no validation): the check for pod.spec.nodeSelector.
function M.matches_set(set, labels)
    labels = type(labels) == "table" and labels or {}
    for k, v in pairs(set or {}) do
        if labels[k] ~= v then
            return false
        end
    end
    return true
end

-- Canonical string of a selector (requirements sorted by key, values sorted), as kube prints.
function M.to_string(sel)
    local s, err = M.compile(sel)
    if not s then
        return nil, err
    end
    local parts = {}
    for i, r in ipairs(s.reqs) do
        parts[i] = requirement_string(r)
    end
    return table_concat(parts, ",")
end

-- True when the compiled selector has no requirement (and so matches every label set).
function M.is_empty(sel)
    local s = M.compile(sel)
    return s ~= nil and not s.nothing and #s.reqs == 0
end

---------------------------------------------------------------------------------------------
-- Node affinity (NodeSelectorRequirement, NodeSelectorTerm, NodeSelector)
---------------------------------------------------------------------------------------------

local NS_OPS = { In = "in", NotIn = "notin", Exists = "exists", DoesNotExist = "!", Gt = ">", Lt = "<" }

local function node_requirement(req)
    if type(req) ~= "table" then
        return nil, "node selector requirement must be a table"
    end
    local op = NS_OPS[req.operator]
    if not op then
        return nil, string_format("%q is not a valid node selector operator", tostring(req.operator))
    end
    return new_requirement(req.key, op, type(req.values) == "table" and req.values or {})
end

-- True when labels satisfy one NodeSelectorRequirement {key, operator, values}.
-- nil, reason when the requirement is invalid.
function M.node_requirement_matches(req, labels)
    local r, err = node_requirement(req)
    if not r then
        return nil, err
    end
    return requirement_matches(r, type(labels) == "table" and labels or {})
end

local function node_labels(node)
    return util.get(node, "metadata.labels", {})
end

-- matchFields supports only metadata.name with In/NotIn and exactly one value, as kube.
local function field_requirement_matches(req, node)
    if type(req) ~= "table" then
        return nil, "node selector requirement must be a table"
    end
    if req.key ~= "metadata.name" then
        return nil, string_format("%q is not a valid field selector key", tostring(req.key))
    end
    local vals = type(req.values) == "table" and req.values or {}
    if req.operator ~= "In" and req.operator ~= "NotIn" then
        return nil, string_format("%q is not a valid field selector operator", tostring(req.operator))
    end
    if #vals ~= 1 then
        return nil, string_format("unexpected number of value (%d) for node field selector operator %q",
            #vals, req.operator)
    end
    local name = util.get(node, "metadata.name")
    if req.operator == "In" then
        return name == vals[1]
    end
    return name ~= vals[1]
end

-- True when node (a Node object) satisfies one NodeSelectorTerm: all matchExpressions on its
-- labels and all matchFields on its fields. A term with neither matches nothing.
-- nil, reason when the term is invalid.
function M.node_selector_term_matches(term, node)
    if type(term) ~= "table" then
        return nil, "node selector term must be a table"
    end
    local exprs = type(term.matchExpressions) == "table" and term.matchExpressions or {}
    local fields = type(term.matchFields) == "table" and term.matchFields or {}
    if #exprs == 0 and #fields == 0 then
        return false
    end
    local labels = node_labels(node)
    local ok = true
    for _, req in ipairs(exprs) do
        local m, err = M.node_requirement_matches(req, labels)
        if m == nil then
            return nil, err
        end
        ok = ok and m
    end
    for _, req in ipairs(fields) do
        local m, err = field_requirement_matches(req, node)
        if m == nil then
            return nil, err
        end
        ok = ok and m
    end
    return ok
end

-- True when node satisfies a NodeSelector ({nodeSelectorTerms = {...}}): any term matches.
-- Invalid terms never match (as kube's lazy errors); their reasons come back as a second
-- value joined with "; " so a policy can log them.
function M.node_selector_matches(ns, node)
    local terms = type(ns) == "table" and ns.nodeSelectorTerms or nil
    if type(terms) ~= "table" then
        return false
    end
    local errs, matched = {}, false
    for _, term in ipairs(terms) do
        local m, err = M.node_selector_term_matches(term, node)
        if m then
            matched = true
            break
        elseif m == nil then
            errs[#errs + 1] = err
        end
    end
    if matched then
        return true
    end
    if #errs > 0 then
        return false, table_concat(errs, "; ")
    end
    return false
end

-- The scheduler's required node affinity check (nodeaffinity.GetRequiredNodeAffinity):
-- pod.spec.nodeSelector must match exactly and, when present,
-- pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution must match.
-- Returns bool (plus a reason string when an invalid term was skipped).
function M.pod_matches_node(pod, node)
    local ns = util.get(pod, "spec.nodeSelector")
    if type(ns) == "table" and not M.matches_set(ns, node_labels(node)) then
        return false
    end
    local req = util.get(pod, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution")
    if type(req) == "table" then
        return M.node_selector_matches(req, node)
    end
    return true
end

-- Sum of the weights of the pod's preferredDuringSchedulingIgnoredDuringExecution terms that
-- node matches (the NodeAffinity score before normalization). Invalid terms count 0.
function M.preferred_node_affinity_score(pod, node)
    local prefs = util.get(pod, "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution")
    local score = 0
    if type(prefs) ~= "table" then
        return score
    end
    for _, p in ipairs(prefs) do
        if type(p) == "table" and type(p.weight) == "number" and p.weight ~= 0 then
            if M.node_selector_term_matches(p.preference, node) then
                score = score + p.weight
            end
        end
    end
    return score
end

---------------------------------------------------------------------------------------------
-- Taints and tolerations
---------------------------------------------------------------------------------------------

-- True when one toleration tolerates one taint (corev1 Toleration.ToleratesTaint): effect
-- empty or equal, key empty or equal, and operator Exists, or Equal/empty with equal values.
-- An empty key with operator Exists tolerates every taint.
function M.toleration_tolerates(tol, taint)
    if type(tol) ~= "table" or type(taint) ~= "table" then
        return false
    end
    local eff = tol.effect or ""
    if eff ~= "" and eff ~= (taint.effect or "") then
        return false
    end
    local key = tol.key or ""
    if key ~= "" and key ~= (taint.key or "") then
        return false
    end
    local op = tol.operator or ""
    if op == "" or op == "Equal" then
        return (tol.value or "") == (taint.value or "")
    elseif op == "Exists" then
        return true
    end
    return false
end

-- True when any toleration in the list tolerates taint.
function M.tolerates_taint(tolerations, taint)
    for _, tol in ipairs(type(tolerations) == "table" and tolerations or {}) do
        if M.toleration_tolerates(tol, taint) then
            return true
        end
    end
    return false
end

local DEFAULT_EFFECTS = { NoSchedule = true, NoExecute = true }

-- First taint in taints that the tolerations do not tolerate, among taints whose effect is
-- in effects (a set such as {NoSchedule=true}); the default is NoSchedule and NoExecute, the
-- scheduler's TaintToleration filter. nil when every such taint is tolerated.
function M.untolerated_taint(taints, tolerations, effects)
    effects = effects or DEFAULT_EFFECTS
    for _, taint in ipairs(type(taints) == "table" and taints or {}) do
        if type(taint) == "table" and effects[taint.effect] and not M.tolerates_taint(tolerations, taint) then
            return taint
        end
    end
    return nil
end

return M
