-- t/lua/test_selector.lua: berth.selector against Kubernetes' labels.Parse,
-- LabelSelectorAsSelector, node affinity and Toleration.ToleratesTaint semantics.
local t = require("tap")
local S = require("berth.selector")

local L = { app = "web", tier = "fe", n = "10", ["example.com/team"] = "a" }

-- selector, canonical string, matches L
local good = {
    { "", "", true }, { "app=web", "app=web", true }, { "app==web", "app==web", true },
    { "app = web", "app=web", true }, { "app!=db", "app!=db", true }, { "app!=web", "app!=web", false },
    { "x!=y", "x!=y", true }, { "app in (web,db)", "app in (db,web)", true },
    { "app in (db)", "app in (db)", false }, { "app notin (web)", "app notin (web)", false },
    { "x notin (a)", "x notin (a)", true }, { "app", "app", true }, { "x", "x", false },
    { "!app", "!app", false }, { "!x", "!x", true }, { "app=web,tier=fe", "app=web,tier=fe", true },
    { "tier=fe,app=web", "app=web,tier=fe", true }, { "app=web,tier=be", "app=web,tier=be", false },
    { "n>5", "n>5", true }, { "n<5", "n<5", false }, { "n>10", "n>10", false }, { "n<11", "n<11", true },
    { "app>5", "app>5", false }, { "x>5", "x>5", false }, 
    { "a in ()", "a in ()", false }, { "app in (,web)", "app in (,web)", true },
    { "a in (x,)", "a in (,x)", false }, { "app=", "app=", false }, { "a=in", "a=in", false },
    { "in=x", "in=x", false }, { "example.com/team=a", "example.com/team=a", true },
    { " app in ( web , db ) , !x ", "app in (db,web),!x", true }, { "app in (web,web)", "app in (web)", true },
    { "a.b_c-d=E.f_9", "a.b_c-d=E.f_9", false },
}
for _, c in ipairs(good) do
    local sel, err = S.parse(c[1])
    t.ok(sel ~= nil, "parse " .. string.format("%q", c[1]) .. (err and (" (" .. err .. ")") or ""))
    if sel then
        t.is(S.to_string(sel), c[2], "to_string " .. string.format("%q", c[1]))
        t.is(S.matches(sel, L), c[3], "matches " .. string.format("%q", c[1]))
        t.is(S.matches(c[1], L), c[3], "matches string " .. string.format("%q", c[1]))
    end
end

local bad = {
    { "=b", "expected: !, identifier" }, { "a=b c", "expected: ',' or 'end of string'" },
    { "a in x", "expected: '('" }, { "!a=b", "expected: ',' or 'end of string'" },
    { "a/b/c=d", "invalid label key" }, { "Bad_/x=y", "prefix part" }, { "/x=y", "prefix part must be non-empty" },
    { "a/=y", "name part must be non-empty" }, { "-a=b", "name part" }, { "a=-b", "invalid label value" },
    { "a,", "identifier after ','" }, { ",a", "expected: !, identifier" }, { "a=b,,c", "identifier after ','" },
    { "a=(b)", "expected: identifier" }, { "a in (x y)", "expected: ',' or ')'" },
    { "n>abc", "must be an integer" }, { "n>9223372036854775808", "must be an integer" },
    { "n>", "must be an integer" }, { "n>-3", "invalid label value" }, { "a in (x", "expected: ',' or ')'" }, { "a notin", "expected: '('" },
    { "a in (!)", "expected: ',', ')' or identifier" }, { "a!b", "expected: '=', '=='" },
    { string.rep("k", 64) .. "=v", "63 characters" }, { "a=" .. string.rep("v", 64), "invalid label value" },
    { "!", "expected: identifier" }, { "a b", "expected: '=', '=='" },
}
for _, c in ipairs(bad) do
    t.fails("parse rejects " .. string.format("%q", c[1]), c[2], S.parse(c[1]))
    t.fails("matches rejects " .. string.format("%q", c[1]), c[2], S.matches(c[1], L))
end
t.fails("parse rejects a number", "must be a string", S.parse(1))
t.ok(S.parse(string.rep("k", 63) .. "=" .. string.rep("v", 63)), "63-character key and value")
t.is(S.matches("n>9223372036854775806", { n = "9223372036854775807" }), true, "Gt compares exact int64")
t.is(S.matches("n<9223372036854775807", { n = "-9223372036854775808" }), true, "Lt with a label at int64 minimum")
t.is(S.matches("n>1", { n = "99999999999999999999" }), false, "Gt label beyond int64 does not match")
t.is(S.matches("app=web", nil), false, "nil labels count as empty")
t.is(S.matches("!app", nil), true, "nil labels: DoesNotExist matches")

-- LabelSelector tables
local ls = { matchLabels = { app = "web" }, matchExpressions = {
    { key = "tier", operator = "In", values = { "fe", "be" } },
    { key = "x", operator = "DoesNotExist" },
    { key = "n", operator = "Exists" },
    { key = "app", operator = "NotIn", values = { "db" } },
} }
t.is(S.matches(ls, L), true, "LabelSelector matches")
t.is(S.to_string(ls), "app=web,app notin (db),n,tier in (be,fe),!x", "LabelSelector to_string")
t.is(S.matches({ matchLabels = { app = "db" } }, L), false, "LabelSelector matchLabels mismatch")
t.is(S.matches(nil, L), false, "nil LabelSelector selects nothing")
t.is(S.matches({}, L), true, "empty LabelSelector selects everything")
t.is(S.matches({ matchLabels = {}, matchExpressions = {} }, {}), true, "empty parts select everything")
t.fails("unknown operator", '"Foo" is not a valid label selector operator',
    S.from_label_selector({ matchExpressions = { { key = "a", operator = "Foo" } } }))
t.fails("Gt is not a label selector operator", '"Gt" is not a valid label selector operator',
    S.from_label_selector({ matchExpressions = { { key = "a", operator = "Gt", values = { "1" } } } }))
t.fails("Exists with values", "values set must be empty",
    S.from_label_selector({ matchExpressions = { { key = "a", operator = "Exists", values = { "x" } } } }))
t.fails("In without values", "can't be empty",
    S.from_label_selector({ matchExpressions = { { key = "a", operator = "In", values = {} } } }))
t.fails("bad matchLabels key", "invalid label key", S.from_label_selector({ matchLabels = { ["a b"] = "x" } }))
t.fails("bad matchLabels value", "invalid label value", S.from_label_selector({ matchLabels = { a = "x y" } }))
t.fails("non-string matchLabels value", "must be strings", S.from_label_selector({ matchLabels = { a = 5 } }))
t.fails("matchLabels not a map", "matchLabels must be a map", S.from_label_selector({ matchLabels = "a=b" }))
t.fails("matchExpressions not a list", "must be a list", S.from_label_selector({ matchExpressions = 5 }))
t.fails("matchExpressions entry not a table", "entries must be tables",
    S.from_label_selector({ matchExpressions = { "a" } }))
t.fails("selector not a table", "must be a table", S.from_label_selector(5))
t.fails("matches with a bad LabelSelector", "not a valid label selector operator",
    S.matches({ matchExpressions = { { key = "a", operator = "X" } } }, L))

-- from_set, matches_set, compile, everything, nothing, is_empty, validators
local fs = S.from_set({ app = "web", tier = "fe" })
t.is(S.to_string(fs), "app=web,tier=fe", "from_set")
t.is(S.matches(fs, L), true, "from_set matches")
t.fails("from_set validates", "invalid label value", S.from_set({ app = "-x" }))
t.fails("from_set needs a table", "must be a table", S.from_set("a"))
t.is(S.matches_set({ app = "web" }, L), true, "matches_set")
t.is(S.matches_set({ app = "db" }, L), false, "matches_set mismatch")
t.is(S.matches_set({}, L), true, "matches_set empty")
t.is(S.matches_set(nil, nil), true, "matches_set nil")
t.is(S.compile(fs), fs, "compile returns compiled selectors as they are")
t.is(S.to_string(S.compile("b=1,a=2")), "a=2,b=1", "compile parses strings")
t.is(S.matches(S.everything(), {}), true, "everything")
t.is(S.matches(S.nothing(), L), false, "nothing")
t.is(S.is_empty(""), true, "is_empty of \"\"")
t.is(S.is_empty({}), true, "is_empty of {}")
t.is(S.is_empty(nil), false, "is_empty of nil (nothing)")
t.is(S.is_empty("a"), false, "is_empty of a")
t.is(S.is_empty("a b"), false, "is_empty of a bad selector")
t.is(S.valid_label_key("example.com/name"), true, "valid_label_key")
t.is(S.valid_label_key("Example.com/name"), false, "valid_label_key rejects uppercase prefix")
t.is(S.valid_label_value(""), true, "valid_label_value empty")
t.is(S.valid_label_value("a_b"), true, "valid_label_value")
t.is(S.valid_label_value("a_"), false, "valid_label_value must end alphanumeric")
t.fails("to_string of a bad selector", "expected", S.to_string("a b"))

-- node affinity
local node = { metadata = { name = "n1", labels = { zone = "a", gpu = "2", ["kubernetes.io/os"] = "linux" } } }
local nl = node.metadata.labels
local nreq = {
    { { key = "zone", operator = "In", values = { "a", "b" } }, true },
    { { key = "zone", operator = "NotIn", values = { "a" } }, false },
    { { key = "missing", operator = "NotIn", values = { "a" } }, true },
    { { key = "gpu", operator = "Exists" }, true },
    { { key = "gpu", operator = "DoesNotExist" }, false },
    { { key = "gpu", operator = "Gt", values = { "1" } }, true },
    { { key = "gpu", operator = "Lt", values = { "2" } }, false },
    { { key = "zone", operator = "Gt", values = { "1" } }, false },
    { { key = "missing", operator = "Lt", values = { "5" } }, false },
}
for i, c in ipairs(nreq) do
    t.is(S.node_requirement_matches(c[1], nl), c[2], "node requirement " .. i .. " " .. c[1].operator)
end
t.fails("node requirement bad operator", '"Equals" is not a valid node selector operator',
    S.node_requirement_matches({ key = "a", operator = "Equals", values = { "x" } }, nl))
t.fails("node requirement Gt two values", "exactly one value",
    S.node_requirement_matches({ key = "a", operator = "Gt", values = { "1", "2" } }, nl))
t.fails("node requirement Lt not an integer", "must be an integer",
    S.node_requirement_matches({ key = "a", operator = "Lt", values = { "x" } }, nl))
t.fails("node requirement not a table", "must be a table", S.node_requirement_matches("zone=a", nl))

local term_zone_b = { matchExpressions = { { key = "zone", operator = "In", values = { "b" } } } }
local term_name = { matchFields = { { key = "metadata.name", operator = "In", values = { "n1" } } } }
t.is(S.node_selector_term_matches(term_zone_b, node), false, "term mismatch")
t.is(S.node_selector_term_matches(term_name, node), true, "term matchFields In")
t.is(S.node_selector_term_matches({ matchFields = { { key = "metadata.name", operator = "NotIn", values = { "n1" } } } }, node),
    false, "term matchFields NotIn")
t.is(S.node_selector_term_matches({}, node), false, "empty term matches nothing")
t.is(S.node_selector_term_matches({ matchExpressions = { { key = "zone", operator = "In", values = { "a" } } },
    matchFields = { { key = "metadata.name", operator = "In", values = { "n2" } } } }, node), false,
    "term ANDs expressions and fields")
t.fails("term bad field key", "not a valid field selector key",
    S.node_selector_term_matches({ matchFields = { { key = "metadata.uid", operator = "In", values = { "x" } } } }, node))
t.fails("term bad field operator", "not a valid field selector operator",
    S.node_selector_term_matches({ matchFields = { { key = "metadata.name", operator = "Exists" } } }, node))
t.fails("term field needs one value", "unexpected number of value",
    S.node_selector_term_matches({ matchFields = { { key = "metadata.name", operator = "In", values = { "a", "b" } } } }, node))
t.fails("term not a table", "must be a table", S.node_selector_term_matches(5, node))
t.fails("term field requirement not a table", "must be a table",
    S.node_selector_term_matches({ matchFields = { 5 } }, node))

t.is(S.node_selector_matches({ nodeSelectorTerms = { term_zone_b, term_name } }, node), true, "terms are ORed")
t.is(S.node_selector_matches({ nodeSelectorTerms = { term_zone_b } }, node), false, "no term matches")
t.is(S.node_selector_matches({ nodeSelectorTerms = {} }, node), false, "no terms match nothing")
t.is(S.node_selector_matches(nil, node), false, "nil node selector matches nothing")
local m, why = S.node_selector_matches({ nodeSelectorTerms = { { matchExpressions = { { key = "a", operator = "Bad" } } } } }, node)
t.is(m, false, "an invalid term does not match")
t.has(why, '"Bad" is not a valid node selector operator', "the invalid term's reason is returned")
t.is(S.node_selector_matches({ nodeSelectorTerms = { { matchExpressions = { { key = "a", operator = "Bad" } } }, term_name } }, node),
    true, "a valid term still matches next to an invalid one")

local pod = { spec = { nodeSelector = { ["kubernetes.io/os"] = "linux" }, affinity = { nodeAffinity = {
    requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms = { term_name } },
    preferredDuringSchedulingIgnoredDuringExecution = {
        { weight = 10, preference = { matchExpressions = { { key = "zone", operator = "In", values = { "a" } } } } },
        { weight = 5, preference = term_zone_b },
        { weight = 3, preference = { matchExpressions = { { key = "gpu", operator = "Gt", values = { "1" } } } } },
        { weight = 7, preference = { matchExpressions = { { key = "gpu", operator = "Bad" } } } },
    } } } } }
t.is(S.pod_matches_node(pod, node), true, "pod nodeSelector and required affinity match")
t.is(S.pod_matches_node({ spec = { nodeSelector = { ["kubernetes.io/os"] = "windows" } } }, node), false,
    "pod nodeSelector mismatch")
t.is(S.pod_matches_node({ spec = { affinity = { nodeAffinity = {
    requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms = { term_zone_b } } } } } }, node), false,
    "pod required affinity mismatch")
t.is(S.pod_matches_node({ spec = {} }, node), true, "pod without constraints fits")
t.is(S.preferred_node_affinity_score(pod, node), 13, "preferred score sums matching weights")
t.is(S.preferred_node_affinity_score({ spec = {} }, node), 0, "preferred score without preferences")

-- taints and tolerations
local taint = { key = "k", value = "v", effect = "NoSchedule" }
local tol_cases = {
    { { operator = "Exists" }, true, "empty key with Exists tolerates all" },
    { { key = "k", operator = "Exists" }, true, "Exists on the key" },
    { { key = "k", value = "v" }, true, "empty operator means Equal" },
    { { key = "k", operator = "Equal", value = "v", effect = "NoSchedule" }, true, "Equal with effect" },
    { { key = "k", operator = "Equal", value = "w" }, false, "Equal with another value" },
    { { key = "k", operator = "Exists", effect = "NoExecute" }, false, "other effect" },
    { { key = "other", operator = "Exists" }, false, "other key" },
    { { key = "k", operator = "Gt", value = "1" }, false, "unknown operator" },
    { { operator = "Exists", effect = "NoSchedule" }, true, "empty key, Exists, same effect" },
}
for _, c in ipairs(tol_cases) do
    t.is(S.toleration_tolerates(c[1], taint), c[2], "toleration: " .. c[3])
end
t.is(S.toleration_tolerates({ key = "k" }, { key = "k", effect = "NoSchedule" }), true, "Equal with both values empty")
t.is(S.toleration_tolerates(nil, taint), false, "nil toleration")
t.is(S.tolerates_taint({ { key = "x", operator = "Exists" }, { key = "k", value = "v" } }, taint), true,
    "tolerates_taint: any toleration")
t.is(S.tolerates_taint({}, taint), false, "tolerates_taint: none")
t.is(S.tolerates_taint(nil, taint), false, "tolerates_taint: nil list")
local taints = { { key = "soft", effect = "PreferNoSchedule" }, taint, { key = "gone", effect = "NoExecute" } }
t.is(S.untolerated_taint(taints, {}), taint, "untolerated_taint skips PreferNoSchedule")
t.is(S.untolerated_taint(taints, { { key = "k", operator = "Exists" } }), taints[3], "next untolerated")
t.is(S.untolerated_taint(taints, { { operator = "Exists" } }), nil, "everything tolerated")
t.is(S.untolerated_taint(taints, {}, { PreferNoSchedule = true }), taints[1], "custom effect filter")
t.is(S.untolerated_taint(nil, {}), nil, "no taints")
t.done_testing()
