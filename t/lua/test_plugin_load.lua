-- t/lua/test_plugin_load.lua: every plugins/<name>/plugin.lua loads and returns the table of
-- docs/plugins.md: kinds (the engine/kinds.json shape, with table columns that are jsonPath
-- or a known built-in cell), controllers (parent, children, sync), hooks (load_balancer) and
-- an optional self_test, which must pass. t/0196-plugin-policies.t links each plugin.lua as
-- the module "plugin_<name>" and writes the module "plugin_list" (the names), so this also
-- runs inside the sandbox mimic: proof that the plugins need nothing the sandbox lacks.
local t = require("tap")
local okl, names = pcall(require, "plugin_list")
if not okl then
    t.ok(true, "plugin load tests # SKIP plugin_list not on the module path (t/0196 writes it)")
    t.done_testing()
end

local KIND_FIELDS = { group = "string", version = "string", kind = "string", plural = "string",
                      singular = "string", namespaced = "boolean", shortNames = "table",
                      categories = "table", subresources = "table", generation = "boolean",
                      graceful = "boolean", allowCreateOnUpdate = "boolean",
                      fieldSelectors = "table", columns = "table" }
local SUBRESOURCES = { status = true, scale = true, binding = true, log = true, exec = true }
local COLUMN_TYPES = { string = true, integer = true, number = true, boolean = true, date = true }
-- The cells of engine/table.c a plugin may name (the C loader checks against the table itself).
local CELLS = { ["meta.name"] = true, ["meta.age"] = true, ["meta.createdAt"] = true,
                ["job.status"] = true, ["job.completions"] = true, ["job.duration"] = true,
                ["cronjob.suspend"] = true, ["cronjob.active"] = true,
                ["cronjob.lastSchedule"] = true, ["cronjob.timezone"] = true }
local HOOKS = { load_balancer = true }
local PLUGIN_FIELDS = { kinds = true, controllers = true, hooks = true, self_test = true }

local function check_kind(k)
    if type(k) ~= "table" then return "not a table" end
    for f, v in pairs(k) do
        if KIND_FIELDS[f] == nil then return "unknown field " .. tostring(f) end
        if type(v) ~= KIND_FIELDS[f] then return f .. " must be a " .. KIND_FIELDS[f] end
    end
    if not (k.version and k.kind and k.plural) then return "needs version, kind, plural" end
    if not k.plural:match("^[a-z0-9-]+$") then return "plural must be lowercase" end
    for _, s in ipairs(k.subresources or {}) do
        if not SUBRESOURCES[s] then return "unknown subresource " .. tostring(s) end
    end
    for i, c in ipairs(k.columns or {}) do
        if type(c.name) ~= "string" or c.name == "" then return "column " .. i .. ": name" end
        if not COLUMN_TYPES[c.type] then return "column " .. c.name .. ": type" end
        if (c.jsonPath == nil) == (c.cell == nil) then return "column " .. c.name .. ": one of jsonPath and cell" end
        if c.cell and not CELLS[c.cell] then return "column " .. c.name .. ": cell " .. tostring(c.cell) end
        if c.jsonPath and not tostring(c.jsonPath):match("^[.%[]") then return "column " .. c.name .. ": jsonPath" end
        for f in pairs(c) do
            if not ({ name = 1, type = 1, format = 1, priority = 1, description = 1, jsonPath = 1, cell = 1 })[f] then
                return "column " .. c.name .. ": unknown field " .. f
            end
        end
    end
    return nil
end

local function check_controller(c)
    if type(c) ~= "table" then return "not a table" end
    if type(c.parent) ~= "string" or not (c.parent:match("^[%w.-]+/v[%w]+/[a-z0-9-]+$") or c.parent:match("^v1/[a-z0-9-]+$")) then
        return "parent must be <group>/<version>/<plural> or v1/<plural>"
    end
    if type(c.children) ~= "table" or #c.children == 0 then return "children must be a non-empty list" end
    for _, ch in ipairs(c.children) do
        if type(ch) ~= "string" and not (type(ch) == "table" and type(ch.resource) == "string") then
            return "bad children entry"
        end
    end
    if type(c.sync) ~= "function" then return "sync must be a function" end
    return nil
end

for _, name in ipairs(names) do
    local ok, p = pcall(require, "plugin_" .. name)
    t.ok(ok and type(p) == "table", name .. ": plugin.lua loads and returns a table")
    if ok and type(p) == "table" then
        local unknown
        for f in pairs(p) do
            if not PLUGIN_FIELDS[f] then unknown = f end
        end
        t.is(unknown, nil, name .. ": only kinds, controllers, hooks, self_test")
        for i, k in ipairs(p.kinds or {}) do
            t.is(check_kind(k), nil, name .. ": kind " .. tostring(k.kind or i))
        end
        for cname, c in pairs(p.controllers or {}) do
            t.is(check_controller(c), nil, name .. ": controller " .. cname)
        end
        for h, fn in pairs(p.hooks or {}) do
            t.ok(HOOKS[h] and type(fn) == "function", name .. ": hook " .. h)
        end
        if p.self_test ~= nil then
            local okt, err = pcall(p.self_test)
            t.ok(okt, name .. ": self_test passes")
            if not okt then t.diag(err) end
        end
    end
end

t.done_testing()
