-- t/lua/test_util.lua: berth.util (deep copy/equal, paths, table and string helpers).
local t = require("tap")
local u = require("berth.util")

local pod = {
    metadata = { name = "web-1", labels = { app = "web", ["app.kubernetes.io/name"] = "web" } },
    spec = { template = { spec = { containers = { { name = "c1", image = "nginx" }, { name = "c2" } } } } },
    status = { ready = false },
}

-- deep_copy
local c = u.deep_copy(pod)
t.is_deeply(c, pod, "deep_copy is equal")
t.isnt(c, pod, "deep_copy is a new table")
t.isnt(c.spec.template, pod.spec.template, "deep_copy copies nested tables")
c.spec.template.spec.containers[1].image = "busybox"
t.is(pod.spec.template.spec.containers[1].image, "nginx", "changing the copy leaves the original")
t.is(u.deep_copy(5), 5, "deep_copy of a number")
t.is(u.deep_copy("s"), "s", "deep_copy of a string")
t.is(u.deep_copy(nil), nil, "deep_copy of nil")
local cyc = { name = "a" }
cyc.self = cyc
local cc = u.deep_copy(cyc)
t.is(cc.self, cc, "deep_copy keeps a cycle as a cycle")
local shared = { x = 1 }
local sc = u.deep_copy({ a = shared, b = shared })
t.is(sc.a, sc.b, "deep_copy keeps shared sub-tables shared")
t.is(getmetatable(u.deep_copy(setmetatable({}, { __index = {} }))), nil, "deep_copy drops metatables")
local deep = {}
local cur = deep
for _ = 1, u.MAX_DEPTH + 5 do
    cur.next = {}
    cur = cur.next
end
t.raises("deep_copy bounds depth", "nesting deeper", u.deep_copy, deep)

-- deep_equal
t.is(u.deep_equal(pod, u.deep_copy(pod)), true, "deep_equal of a copy")
t.is(u.deep_equal({ a = 1 }, { a = 1, b = 2 }), false, "deep_equal: extra key on the right")
t.is(u.deep_equal({ a = 1, b = 2 }, { a = 1 }), false, "deep_equal: extra key on the left")
t.is(u.deep_equal({ 1, 2, 3 }, { 1, 2, 3 }), true, "deep_equal lists")
t.is(u.deep_equal({ 1, 2 }, { 2, 1 }), false, "deep_equal order matters in lists")
t.is(u.deep_equal({ a = { b = { c = 1 } } }, { a = { b = { c = 2 } } }), false, "deep_equal nested difference")
t.is(u.deep_equal(1, "1"), false, "deep_equal different types")
t.is(u.deep_equal(nil, nil), true, "deep_equal nil")
t.is(u.deep_equal({}, {}), true, "deep_equal empty tables")
t.is(u.deep_equal({ a = false }, {}), false, "deep_equal: false is not missing")
local deep2 = {}
cur = deep2
for _ = 1, u.MAX_DEPTH + 5 do
    cur.next = {}
    cur = cur.next
end
t.raises("deep_equal bounds depth", "nesting deeper", u.deep_equal, deep, deep2)
local ok_depth = {}
cur = ok_depth
for _ = 1, u.MAX_DEPTH - 2 do
    cur.next = {}
    cur = cur.next
end
t.is(u.deep_equal(u.deep_copy(ok_depth), ok_depth), true, "deep_copy and deep_equal below MAX_DEPTH")

-- get / set
t.is(u.get(pod, "metadata.name"), "web-1", "get a field")
t.is(u.get(pod, "spec.template.spec").containers[2].name, "c2", "get spec.template.spec")
t.is(u.get(pod, "spec.template.spec.containers.1.image"), "nginx", "get through a list index")
t.is(u.get(pod, { "metadata", "labels", "app.kubernetes.io/name" }), "web", "get with a list path (dotted key)")
t.is(u.get(pod, "status.ready"), false, "get returns false values")
t.is(u.get(pod, "spec.missing.deeper"), nil, "get of a missing path")
t.is(u.get(pod, "spec.missing", "dflt"), "dflt", "get default")
t.is(u.get(pod, "metadata.name.first"), nil, "get through a string")
t.is(u.get(nil, "a.b", 3), 3, "get on nil")
t.is(u.get(pod, ""), pod, "get of the empty path")
t.is(u.get({ ["1"] = "str" }, "1"), "str", "digit segment falls back to a string key")
t.raises("get rejects a bad path", "path must be", u.get, pod, 5)
local obj = {}
t.is(u.set(obj, "spec.nodeName", "n1"), obj, "set returns the object")
t.is(obj.spec.nodeName, "n1", "set creates intermediate tables")
u.set(obj, "spec.nodeName", "n2")
t.is(obj.spec.nodeName, "n2", "set overwrites")
local lst = { items = { { n = 1 } } }
u.set(lst, "items.1.n", 5)
t.is(lst.items[1].n, 5, "set through a list index")
u.set(lst, { "items", "1" }, "x")
t.is(lst.items[1], "x", "set replaces a list element")
t.fails("set through a scalar", "is a string", u.set({ a = "s" }, "a.b", 1))
t.fails("set with an empty path", "non-empty path", u.set({}, "", 1))
t.fails("set on a non-table", "need a table", u.set(5, "a", 1))

-- table helpers
t.is_deeply(u.keys({ b = 1, a = 2, [2] = 0, [1] = 0 }), { 1, 2, "a", "b" }, "keys sorted, numbers first")
t.is_deeply(u.values({ b = 1, a = 2 }), { 2, 1 }, "values in key order")
t.is(u.count({ a = 1, b = 2, 3 }), 3, "count")
t.is(u.is_empty({}), true, "is_empty {}")
t.is(u.is_empty(nil), true, "is_empty nil")
t.is(u.is_empty({ false }), false, "is_empty with a false value")
t.is(u.is_array({ 1, 2, 3 }), true, "is_array list")
t.is(u.is_array({}), true, "is_array empty")
t.is(u.is_array({ 1, nil, 3 }), false, "is_array with a hole")
t.is(u.is_array({ a = 1 }), false, "is_array map")
t.is(u.is_array("x"), false, "is_array string")
t.is_deeply(u.map({ 1, 2, 3 }, function(v) return v * 2 end), { 2, 4, 6 }, "map")
t.is_deeply(u.map({ 1, 2, 3 }, function(v) if v ~= 2 then return v end end), { 1, 3 }, "map skips nil")
t.is_deeply(u.filter({ 1, 2, 3, 4 }, function(v) return v % 2 == 0 end), { 2, 4 }, "filter")
t.is(u.reduce({ 1, 2, 3 }, function(a, v) return a + v end, 10), 16, "reduce")
local fv, fi = u.find({ "a", "b", "c" }, function(v) return v == "b" end)
t.is(fv, "b", "find value")
t.is(fi, 2, "find index")
t.is(u.find({ "a" }, function() return false end), nil, "find nothing")
t.is(u.index_of({ "a", "b" }, "b"), 2, "index_of")
t.is(u.index_of({ "a" }, "z"), nil, "index_of missing")
t.is(u.contains({ "a", "b" }, "a"), true, "contains")
t.is(u.contains({}, "a"), false, "contains missing")
t.is_deeply(u.slice({ 1, 2, 3, 4 }, 2, 3), { 2, 3 }, "slice")
t.is_deeply(u.slice({ 1, 2, 3, 4 }, -2), { 3, 4 }, "slice negative")
t.is_deeply(u.slice({ 1, 2 }, 0, 10), { 1, 2 }, "slice clamps")
t.is_deeply(u.slice({ 1, 2 }), { 1, 2 }, "slice defaults")
t.is_deeply(u.concat_lists({ 1 }, nil, { 2, 3 }, {}), { 1, 2, 3 }, "concat_lists")
t.is_deeply(u.merge({ a = 1, b = 1 }, nil, { b = 2, c = 3 }), { a = 1, b = 2, c = 3 }, "merge: later wins")
local orig = { a = { 1 } }
local sh = u.shallow_copy(orig)
t.isnt(sh, orig, "shallow_copy is a new table")
t.is(sh.a, orig.a, "shallow_copy shares nested tables")

-- string helpers
t.is_deeply(u.split("a,,b", ","), { "a", "", "b" }, "split keeps empty fields")
t.is_deeply(u.split("a.b", "."), { "a", "b" }, "split is plain, not a pattern")
t.is_deeply(u.split("", ","), { "" }, "split empty string")
t.is_deeply(u.split("a::b", "::"), { "a", "b" }, "split multi-character separator")
t.raises("split rejects an empty separator", "empty separator", u.split, "a", "")
t.is(u.trim("  a b \n"), "a b", "trim")
t.is(u.trim(""), "", "trim empty")
t.is(u.starts_with("kube-system", "kube-"), true, "starts_with")
t.is(u.starts_with("kube", "kube-"), false, "starts_with longer prefix")
t.is(u.ends_with("a.lua", ".lua"), true, "ends_with")
t.is(u.ends_with("a", ""), true, "ends_with empty suffix")
t.is(u.ends_with("lua", ".lua"), false, "ends_with longer suffix")
t.is(u.join({ "a", 1, true }, ","), "a,1,true", "join")
t.is(u.join({}), "", "join empty")
t.done_testing()
