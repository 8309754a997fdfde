-- t/lua/test_ctrl_history.lua: lua/berth/controller/history.lua, the ControllerRevision
-- history shared by the DaemonSet and StatefulSet controllers: hash and name, the stored
-- data, new revisions, ordering, equality ignoring the hash label, next revision numbers,
-- and both truncation rules. Run by t/0195-controller-policies.t.
local t = require("tap")
local H = require("berth.controller.history")
local D = require("berth.controller.deployment")
local C = require("berth.controller.common")

local function ds(name, image, labels)
    return {
        metadata = { name = name, namespace = "default", uid = "u-" .. name, annotations = { a = "b" } },
        spec = { template = { metadata = { labels = labels or { app = "agent" } },
                              spec = { containers = { { name = "c", image = image } } } } },
    }
end

local function rev(name, n, created, data)
    return { metadata = { name = name, creationTimestamp = C.rfc3339(1700000000 + (created or 0)),
                          labels = { [H.HASH_LABEL] = name } },
             revision = n, data = data or { spec = { template = { ["$patch"] = "replace" } } } }
end

local function names(list)
    local out = {}
    for _, r in ipairs(list) do
        out[#out + 1] = type(r) == "string" and r or r.metadata.name
    end
    return table.concat(out, ",")
end

-- Hash: the deployment's template hash, changed by the collision count.
do
    local d = ds("agent", "img:1")
    t.is(H.HASH_LABEL, "controller-revision-hash", "the label key")
    t.is(H.hash(d.spec.template), D.template_hash(d.spec.template), "hash is deployment.template_hash")
    t.isnt(H.hash(d.spec.template, 1), H.hash(d.spec.template), "a collision count changes the hash")
    t.isnt(H.hash(ds("x", "img:2").spec.template), H.hash(d.spec.template), "another image, another hash")
    t.ok(H.hash(d.spec.template):match("^[bcdfghjklmnpqrstvwxz2456789]+$"), "safe-encoded")
    t.is(#H.name(string.rep("a", 300), "h"), 225, "a long prefix is cut to 223")
end

-- data and new_revision.
do
    local d = ds("agent", "img:1")
    local data = H.data(d)
    t.is(data.spec.template["$patch"], "replace", "data marks the template $patch replace")
    t.is(data.spec.template.spec.containers[1].image, "img:1", "data holds the template")
    t.is(d.spec.template["$patch"], nil, "the parent is not modified")
    data.spec.template.metadata.labels.app = "changed"
    t.is(d.spec.template.metadata.labels.app, "agent", "data is a deep copy")

    local r = H.new_revision(d, 3, nil)
    local h = H.hash(d.spec.template)
    t.is(r.metadata.name, "agent-" .. h, "name <parent>-<hash>")
    t.is(r.metadata.labels[H.HASH_LABEL], h, "hash label")
    t.is(r.metadata.labels.app, "agent", "template labels copied")
    t.is(d.spec.template.metadata.labels[H.HASH_LABEL], nil, "template labels not modified")
    t.is(r.metadata.annotations and r.metadata.annotations.a, "b", "the parent's annotations copied")
    r.metadata.annotations.a = "changed"
    t.is(d.metadata.annotations.a, "b", "as a copy")
    t.is(r.revision, 3, "revision number")
    t.ok(r.apiVersion == "apps/v1" and r.kind == "ControllerRevision", "apiVersion and kind")
    t.is(r.data.spec.template.spec.containers[1].image, "img:1", "data")
    t.is(H.new_revision(d, 1, 2).metadata.name, "agent-" .. H.hash(d.spec.template, 2), "collision count in the name")
end

-- sorted: revision, then creation time, then name; a new array.
do
    local a, b, c, d = rev("a", 2, 10), rev("b", 1, 20), rev("c", 2, 5), rev("d", 2, 5)
    local input = { a, b, d, c }
    local s = H.sorted(input)
    t.is(names(s), "b,c,d,a", "by revision, then creation, then name")
    t.is(names(input), "a,b,d,c", "the input is not reordered")
end

-- equal / find_equal.
do
    local d1, d2 = ds("agent", "img:1"), ds("agent", "img:2")
    local r1, r2 = H.new_revision(d1, 1), H.new_revision(d2, 2)
    t.ok(H.equal(r1, H.new_revision(d1, 7)), "same template, other revision number: equal")
    t.ok(not H.equal(r1, r2), "another image: not equal")
    local withlabel = C.copy(r1)
    withlabel.data.spec.template.metadata.labels[H.HASH_LABEL] = "zzz"
    t.ok(H.equal(withlabel, r1), "the hash label inside the template is ignored")
    local other = C.copy(r1)
    other.data.spec.template.metadata.labels.extra = "x"
    t.ok(not H.equal(other, r1), "another template label: not equal")
    local nulls = C.copy(r1)
    nulls.data.spec.template.spec.nodeSelector = {}
    t.ok(H.equal(nulls, r1), "an empty map equals an absent one")
    t.ok(H.equal(nil, nil) and not H.equal(r1, nil), "nil equals only nil")
    t.is(names(H.find_equal({ r2, r1, H.new_revision(d1, 5) }, H.new_revision(d1, 9))),
        r1.metadata.name .. "," .. r1.metadata.name, "find_equal returns every equal one in order")
    t.is(#H.find_equal({ r2 }, r1), 0, "find_equal: none")
end

-- next_revision.
do
    t.is(H.next_revision({}), 1, "none: 1")
    t.is(H.next_revision(nil), 1, "nil: 1")
    t.is(H.next_revision({ rev("a", 3), rev("b", 7), rev("c", 2) }), 8, "max + 1, in any order")
end

-- truncate (StatefulSet rule): live ones are neither deleted nor counted.
do
    local revs = {}
    for i = 1, 6 do
        revs[#revs + 1] = rev("r" .. i, 7 - i)       -- r6 oldest (revision 1)
    end
    t.is(names(H.truncate(revs, {}, 2)), "r6,r5,r4,r3", "oldest beyond the limit")
    t.is(names(H.truncate(revs, { r6 = true, r1 = true }, 2)), "r5,r4", "live ones skipped and not counted")
    t.is(#H.truncate(revs, {}, 6), 0, "within the limit: nothing")
    local many = {}
    for i = 1, 12 do many[i] = rev("m" .. i, i) end
    t.is(names(H.truncate(many, {})), "m1,m2", "default limit 10")
end

-- truncate_counting_live (DaemonSet rule): live old ones count against the limit.
do
    local old = {}
    for i = 1, 5 do old[i] = rev("o" .. i, i) end
    t.is(names(H.truncate_counting_live(old, { o1 = true }, 3)), "o2,o3", "two to kill, o1 live, skipped")
    t.is(names(H.truncate(old, { o1 = true }, 3)), "o2", "the StatefulSet rule kills one")
    t.is(#H.truncate_counting_live(old, {}, 5), 0, "within the limit")
    t.is(names(H.truncate_counting_live(old, { o1 = true, o2 = true, o3 = true, o4 = true, o5 = true }, 1)), "",
        "all live: nothing")
    local hashes = H.names_with_hashes(old, { o4 = true })
    t.ok(hashes.o4 and not hashes.o1, "names_with_hashes maps hash labels to names")
end

t.done_testing()
