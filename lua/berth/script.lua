-- berth.script: what operations scripts need besides the cluster API, under `berth run`
-- (engine/luarun.c; documented in docs/lua-api.md, "Scripts: berth run").
--
--   local script = require("berth.script")
--   script.args                          the script's arguments (also the global arg)
--   script.watch(kind, opts, fn)         events to fn until it returns a value or a timeout
--   script.wait_for(cond, timeout)       poll a function or a spec until it holds
--   script.apply(objects or path)        create or patch what changed, like kubectl apply
--   script.logs / script.exec            a container's log; a command in a container
--   script.sleep/now/time, print/printf, log/info/warn/debug, fail/must, exit, getopt
--   script.rollout_status(d), script.condition(obj, type), script.pod_ready(pod)
--
-- Conventions as in berth.cluster: misuse raises (with the caller's file and line); a failure
-- of the cluster returns nil, message [, code]. Depends on berth.script.common, berth.cluster
-- (the scripts' version, berth.script.cluster), berth.util.

local common = require("berth.script.common")
local cluster = require("berth.cluster")
local core = common.core

local type, pairs, ipairs, error, tostring, select, setmetatable =
      type, pairs, ipairs, error, tostring, select, setmetatable
local string_format, math_ceil, math_min = string.format, math.ceil, math.min

local M = {}

-- The script's arguments (after its name on the command line), a fresh array.
M.args = {}
if type(arg) == "table" then
    for i = 1, #arg do
        M.args[i] = arg[i]
    end
end
M.script = core.script          -- the script's path as given
M.namespace = core.namespace    -- -n, the kubeconfig context's namespace, or "default"
M.server = core.server          -- the API server's URL
M.null = core.null
M.sleep = core.sleep            -- sleep(seconds), fractions allowed
M.now = core.now                -- monotonic seconds, for measuring and deadlines
M.time = core.time              -- Unix time with a fraction
M.exit = core.exit              -- exit([code]): end the script with that status
M.array = core.array            -- array([t]): mark t as a JSON array ({} encodes as [])
M.json = { encode = core.json_encode, decode = core.json_decode }
M.yaml = { decode = core.yaml_decode }

---------------------------------------------------------------------------------------------
-- Output
---------------------------------------------------------------------------------------------

-- print(...): like the standard print (stdout, tab-separated, a newline), flushed.
function M.print(...)
    print(...)
    io.stdout:flush()
end

-- printf(fmt, ...): one formatted line on stdout.
function M.printf(fmt, ...)
    io.stdout:write(common.fmt(fmt, ...), "\n")
    io.stdout:flush()
end

local LEVELS = { error = true, warn = true, info = true, debug = true }

-- log(level, fmt, ...): "HH:MM:SS level: message" on stderr; debug only with --verbose.
function M.log(level, fmt, ...)
    if not LEVELS[level] then
        error(string_format("log: level must be \"error\", \"warn\", \"info\" or \"debug\" " ..
                            "(got '%s')", tostring(level)), 2)
    end
    if level == "debug" and not core.verbose then
        return
    end
    io.stderr:write(os.date("%H:%M:%S "), level, ": ", common.fmt(fmt, ...), "\n")
end

function M.info(fmt, ...) M.log("info", fmt, ...) end
function M.warn(fmt, ...) M.log("warn", fmt, ...) end
function M.debug(fmt, ...) M.log("debug", fmt, ...) end

-- fail(fmt, ...): raise a formatted error at the caller's line; `berth run` prints it and
-- exits 1.
function M.fail(fmt, ...)
    error(common.fmt(fmt, ...), 2)
end

-- must(v, err, ...): v (and the rest) when v is neither nil nor false; else raise err at the
-- caller's line. For the "value or nil, message" results:
--   local node = script.must(cluster.get("nodes", nil, name))
function M.must(v, err, ...)
    if v == nil or v == false then
        error(err ~= nil and tostring(err) or "failed", 2)
    end
    return v, err, ...
end

-- getopt(args, defaults) -> opts, positional: "--name value", "--name=value" for flags
-- whose default is a string or a number, "--name" / "--no-name" for booleans; "--" ends
-- the flags. An unknown flag or a missing value raises at the caller's line.
function M.getopt(args, defaults)
    local opts, pos = {}, {}
    for k, v in pairs(defaults or {}) do
        opts[k] = v
    end
    local i, n = 1, #args
    local rest = false
    while i <= n do
        local a = args[i]
        if rest or type(a) ~= "string" or a:sub(1, 2) ~= "--" or a == "--" then
            if a == "--" and not rest then
                rest = true
            else
                pos[#pos + 1] = a
            end
        else
            local name, value = a:match("^%-%-([^=]+)=(.*)$")
            name = name or a:sub(3)
            local key = name:gsub("-", "_")
            local d = defaults and defaults[key]
            if d == nil and not value and name:sub(1, 3) == "no-" and
               type(defaults and defaults[(name:sub(4):gsub("-", "_"))]) == "boolean" then
                opts[(name:sub(4):gsub("-", "_"))] = false
            elseif d == nil then
                error("unknown flag --" .. name, 2)
            elseif type(d) == "boolean" then
                if value then
                    error(string_format("flag --%s takes no value", name), 2)
                end
                opts[key] = true
            else
                if not value then
                    i = i + 1
                    value = args[i]
                    if value == nil then
                        error(string_format("flag --%s needs a value", name), 2)
                    end
                end
                if type(d) == "number" then
                    local v = tonumber(value)
                    if not v then
                        error(string_format("flag --%s: '%s' is not a number", name, value), 2)
                    end
                    value = v
                end
                opts[key] = value
            end
        end
        i = i + 1
    end
    return opts, pos
end

---------------------------------------------------------------------------------------------
-- Object helpers
---------------------------------------------------------------------------------------------

-- condition(obj, type) -> the status condition of that type, or nil.
function M.condition(obj, ctype)
    local conds = type(obj) == "table" and type(obj.status) == "table" and obj.status.conditions
    if type(conds) ~= "table" then
        return nil
    end
    for _, c in ipairs(conds) do
        if type(c) == "table" and c.type == ctype then
            return c
        end
    end
    return nil
end

-- pod_ready(pod) -> true when the pod is Ready (condition Ready True) and not terminating.
function M.pod_ready(pod)
    if type(pod) ~= "table" or (common.has_metadata(pod) and pod.metadata.deletionTimestamp) then
        return false
    end
    local c = M.condition(pod, "Ready")
    return c ~= nil and c.status == "True"
end

-- rollout_status(deployment) -> done, message, failed: kubectl rollout status's logic
-- (DeploymentStatusViewer): done when the controller observed the latest generation and
-- every replica is updated and available; failed when the progress deadline passed.
function M.rollout_status(d)
    if type(d) ~= "table" then
        error("rollout_status: expects a Deployment table", 2)
    end
    local md = type(d.metadata) == "table" and d.metadata or {}
    local spec = type(d.spec) == "table" and d.spec or {}
    local st = type(d.status) == "table" and d.status or {}
    local name = tostring(md.name)
    if (md.generation or 0) > (st.observedGeneration or 0) then
        return false, "Waiting for deployment spec update to be observed..."
    end
    local cond = M.condition(d, "Progressing")
    if cond and cond.reason == "ProgressDeadlineExceeded" then
        return false, string_format("deployment %q exceeded its progress deadline", name), true
    end
    local updated, replicas = st.updatedReplicas or 0, st.replicas or 0
    local available = st.availableReplicas or 0
    if type(spec.replicas) == "number" and updated < spec.replicas then
        return false, string_format("Waiting for deployment %q rollout to finish: %d out of %d " ..
                                    "new replicas have been updated...", name, updated,
                                    spec.replicas)
    end
    if replicas > updated then
        return false, string_format("Waiting for deployment %q rollout to finish: %d old " ..
                                    "replicas are pending termination...", name,
                                    replicas - updated)
    end
    if available < updated then
        return false, string_format("Waiting for deployment %q rollout to finish: %d of %d " ..
                                    "updated replicas are available...", name, available,
                                    updated)
    end
    return true, string_format("deployment %q successfully rolled out", name)
end

---------------------------------------------------------------------------------------------
-- watch
---------------------------------------------------------------------------------------------

local WATCH_OPTS = { namespace = true, name = true, selector = true, field_selector = true,
                     resource_version = true, timeout = true }

-- watch(kind, [opts,] fn) -> the first non-nil value fn returned; nil, "timed out ..." when
-- opts.timeout seconds passed; nil, message, code when the watch failed.
-- fn(type, obj) gets "ADDED", "MODIFIED" and "DELETED" events (bookmarks are followed
-- silently); returning nil (or nothing) goes on, any other value (true, false, a table)
-- stops the watch and is returned. Without opts.resource_version the current objects come
-- first as ADDED events. A watch the server ends is resumed from the last resourceVersion
-- seen; one whose resourceVersion expired (410) starts over with ADDED events again.
function M.watch(kind, opts, fn)
    if type(opts) == "function" and fn == nil then
        opts, fn = {}, opts
    end
    opts = opts or {}
    if type(opts) ~= "table" then
        error("watch: opts must be a table", 2)
    end
    if type(fn) ~= "function" then
        error("watch: the last argument must be a function(type, obj)", 2)
    end
    for k in pairs(opts) do
        if not WATCH_OPTS[k] then
            error(string_format("watch: unknown option '%s' (namespace, name, selector, " ..
                                "field_selector, resource_version, timeout)", tostring(k)), 2)
        end
    end
    local res, sub, why = common.resource(kind)
    if not res then
        if why == "unreachable" then
            return nil, sub, 0
        end
        error("watch: " .. sub, 2)
    end
    if sub then
        error("watch: cannot watch a subresource", 2)
    end
    local ns = opts.namespace
    if ns == "" then
        ns = nil
    end
    if ns ~= nil and (type(ns) ~= "string" or not common.name_ok(ns)) then
        error("watch: invalid namespace", 2)
    end
    if ns and not res.namespaced then
        error(string_format("watch: %s is cluster-scoped: the namespace must be nil",
                            common.canon(res)), 2)
    end
    local fsel = opts.field_selector
    if fsel ~= nil and type(fsel) ~= "string" then
        error("watch: field_selector must be a string", 2)
    end
    if opts.name ~= nil then
        if not common.name_ok(opts.name) then
            error("watch: invalid name", 2)
        end
        if res.namespaced and not ns then
            ns = core.namespace
        end
        local f = "metadata.name=" .. opts.name
        fsel = fsel and fsel ~= "" and (fsel .. "," .. f) or f
    end
    local sel, serr = common.selector_string(opts.selector)
    if serr then
        error("watch: selector: " .. serr, 2)
    end
    local timeout = opts.timeout
    if timeout ~= nil and (type(timeout) ~= "number" or timeout < 0) then
        error("watch: timeout must be a number of seconds", 2)
    end
    local rv = opts.resource_version
    if rv ~= nil and type(rv) ~= "string" then
        error("watch: resource_version must be a string", 2)
    end
    local deadline = timeout and (core.now() + timeout)
    local failures = 0
    while true do
        local remaining = deadline and (deadline - core.now())
        if remaining and remaining <= 0 then
            return nil, string_format("timed out after %gs watching %s", timeout,
                                      common.canon(res))
        end
        local path = common.path(res, ns, nil, nil, {
            watch = "true", allowWatchBookmarks = "true", labelSelector = sel,
            fieldSelector = fsel, resourceVersion = rv,
            timeoutSeconds = remaining and math_ceil(remaining) or nil,
        })
        local failed, events = nil, 0
        local started = core.now()
        local how, a, b = core.stream(path, remaining or 0, function(ev)
            local obj = ev.object
            if ev.type == "ERROR" then
                failed = type(obj) == "table" and obj or {}
                return false
            end
            local orv = common.has_metadata(obj) and obj.metadata.resourceVersion
            if type(orv) == "string" then
                rv = orv
            end
            if ev.type == "BOOKMARK" then
                return nil
            end
            events = events + 1
            local r = fn(ev.type, obj)
            if r ~= nil then
                return { r }
            end
            return nil
        end)
        if how == "stopped" and not failed then
            return a[1]
        elseif how == "stopped" then
            if failed.code == 410 then
                rv = nil      -- expired: start over from the current state
            else
                return nil, common.status_message(failed, failed.code, "GET", path), failed.code
            end
        elseif how == "ended" then
            if a < 200 or a >= 300 then
                local body = core.json_decode(b or "")
                return nil, common.status_message(body, a, "GET", path), a
            end
            failures = 0
            if events == 0 and core.now() - started < 0.2 then
                core.sleep(0.2)   -- a server ending streams at once: do not spin
            end
        else
            failures = failures + 1
            if failures > 3 then
                return nil, a, 0
            end
            core.sleep(1)
        end
    end
end

---------------------------------------------------------------------------------------------
-- wait_for
---------------------------------------------------------------------------------------------

local SPEC_KEYS = { kind = true, namespace = true, name = true, selector = true,
                    condition = true, status = true, field = true, value = true,
                    deleted = true, rollout = true, count = true, test = true }

local function get_path(obj, path)
    local v = obj
    for seg in path:gmatch("[^%.]+") do
        if type(v) ~= "table" then
            return nil
        end
        local n = tonumber(seg)
        v = (n and common.is_array(v)) and v[n] or v[seg]
    end
    return v
end

-- Build the check function of a wait_for spec; raises at level 3 on a bad spec.
local function spec_check(spec)
    for k in pairs(spec) do
        if not SPEC_KEYS[k] then
            error(string_format("wait_for: unknown spec field '%s' (kind, namespace, name, " ..
                                "selector, condition, status, field, value, deleted, rollout, " ..
                                "count, test)", tostring(k)), 3)
        end
    end
    if type(spec.kind) ~= "string" then
        error("wait_for: the spec needs kind", 3)
    end
    if (spec.name == nil) == (spec.selector == nil) then
        error("wait_for: the spec needs name or selector (one of them)", 3)
    end
    if spec.test ~= nil and type(spec.test) ~= "function" then
        error("wait_for: spec.test must be a function(obj)", 3)
    end
    local res, err, why = common.resource(spec.kind)
    if not res and why ~= "unreachable" then
        error("wait_for: " .. err, 3)
    end
    local want_status = spec.status or "True"
    local ns = spec.namespace
    local label = spec.kind .. " " .. (ns and (ns .. "/") or "") ..
                  (spec.name or ("-l " .. tostring(spec.selector)))
    local what
    if spec.deleted then
        what = label .. " to be deleted"
    elseif spec.condition then
        what = string_format("%s condition %s=%s", label, spec.condition, want_status)
    elseif spec.field then
        what = string_format("%s %s=%s", label, spec.field, tostring(spec.value))
    elseif spec.rollout then
        what = label .. " to roll out"
    else
        what = label .. " to exist"
    end
    local count = spec.count or 1

    -- One object: true, or nil, why not (or nil, why, true to give up).
    local function holds(obj)
        local id = common.has_metadata(obj) and obj.metadata.name or "?"
        if spec.condition then
            local c = M.condition(obj, spec.condition)
            if not c or c.status ~= want_status then
                return nil, string_format("%s: condition %s is %s", id, spec.condition,
                                          c and tostring(c.status) or "absent")
            end
        end
        if spec.field then
            local v = get_path(obj, spec.field)
            if spec.value == nil then
                if v == nil or v == core.null or v == false then
                    return nil, string_format("%s: %s is not set", id, spec.field)
                end
            elseif v ~= spec.value and tostring(v) ~= tostring(spec.value) then
                return nil, string_format("%s: %s is %s", id, spec.field, tostring(v))
            end
        end
        if spec.rollout then
            local done, msg, failed = M.rollout_status(obj)
            if not done then
                return nil, msg, failed
            end
        end
        if spec.test then
            local ok, msg = spec.test(obj)
            if not ok then
                return nil, msg and string_format("%s: %s", id, tostring(msg)) or
                            (id .. ": the test does not hold yet")
            end
        end
        return true
    end

    local function check()
        if spec.name then
            local obj, e, code = cluster.get(spec.kind, ns, spec.name)
            if spec.deleted then
                if obj == nil and code == 404 then
                    return true
                end
                return nil, obj and (spec.name .. " still exists") or e
            end
            if not obj then
                return nil, e
            end
            local ok, why_not, give_up = holds(obj)
            if ok then
                return obj
            end
            return nil, why_not, give_up
        end
        local lns = ns
        if lns == nil and res and res.namespaced then
            lns = core.namespace
        end
        local items, e = cluster.list(spec.kind, { namespace = lns, selector = spec.selector })
        if not items then
            return nil, e
        end
        if spec.deleted then
            if #items == 0 then
                return true
            end
            return nil, string_format("%d left", #items)
        end
        if #items < count then
            return nil, string_format("%d of %d present", #items, count)
        end
        for _, obj in ipairs(items) do
            local ok, why_not, give_up = holds(obj)
            if not ok then
                return nil, why_not, give_up
            end
        end
        return items
    end
    return check, what
end

-- wait_for(cond, timeout_seconds [, interval_seconds]) -> true, value; nil, "timed out ...".
-- cond is a function called every interval (default 0.5 s) until it returns a value other
-- than nil/false (returned as the second value); a second result is kept as the reason
-- named in the timeout message, and a third result true gives up at once (wait_for then
-- returns nil, reason). Or cond is a spec table: {kind=, namespace=, name= | selector=, and
-- condition= [status=] | field= [value=] | deleted=true | rollout=true | test=fn, count=}.
function M.wait_for(cond, timeout, interval)
    if type(timeout) ~= "number" or timeout < 0 then
        error("wait_for: timeout must be a number of seconds", 2)
    end
    if interval ~= nil and (type(interval) ~= "number" or interval <= 0) then
        error("wait_for: interval must be a positive number of seconds", 2)
    end
    interval = interval or 0.5
    local check, what
    if type(cond) == "function" then
        check = cond
        local info = debug.getinfo(cond, "S")
        what = "the condition"
        if info and info.linedefined and info.linedefined > 0 then
            local src = info.source:sub(1, 1) == "@" and info.source:sub(2) or info.short_src
            what = string_format("the condition at %s:%d", src, info.linedefined)
        end
    elseif type(cond) == "table" then
        check, what = spec_check(cond)
    else
        error("wait_for: the condition must be a function or a spec table", 2)
    end
    local deadline = core.now() + timeout
    while true do
        local v, why, give_up = check()
        if v ~= nil and v ~= false then
            return true, v
        end
        if give_up then
            return nil, tostring(why)
        end
        local now = core.now()
        if now >= deadline then
            return nil, string_format("timed out after %gs waiting for %s%s", timeout, what,
                                      why ~= nil and (" (" .. tostring(why) .. ")") or "")
        end
        core.sleep(math_min(interval, deadline - now))
    end
end

---------------------------------------------------------------------------------------------
-- logs, exec
---------------------------------------------------------------------------------------------

local LOG_OPTS = { container = "container", tail = "tailLines", previous = "previous",
                   since = "sinceSeconds", timestamps = "timestamps" }

-- logs(namespace, pod [, {container=, tail=, previous=, since=, timestamps=}]) -> text;
-- nil, message, code. nil namespace: the script's.
function M.logs(ns, pod, opts)
    local res, err = common.resource("v1/pods")
    if not res then
        return nil, err, 0
    end
    local n, serr = common.scope("logs", res, ns)
    if n == nil then
        error(serr, 2)
    end
    if not common.name_ok(pod) then
        error("logs: invalid pod name", 2)
    end
    local q = {}
    if opts ~= nil then
        if type(opts) ~= "table" then
            error("logs: opts must be a table", 2)
        end
        for k, v in pairs(opts) do
            if not LOG_OPTS[k] then
                error(string_format("logs: unknown option '%s' (container, tail, previous, " ..
                                    "since, timestamps)", tostring(k)), 2)
            end
            q[LOG_OPTS[k]] = type(v) == "number" and string_format("%d", v) or v
        end
    end
    local path = common.path(res, n, pod, "log", q)
    local status, text = core.raw("GET", path, "text/plain, application/json")
    if not status then
        return nil, text, 0
    end
    if status >= 200 and status < 300 then
        return text
    end
    return nil, common.status_message(core.json_decode(text), status, "GET", path), status
end

-- exec(namespace, pod, command [, {container=, stdin=, timeout=}]) -> exit code, stdout,
-- stderr; nil, message when it could not run. command: a list of strings, or one string run
-- with sh -c.
function M.exec(ns, pod, command, opts)
    local res, err = common.resource("v1/pods")
    if not res then
        return nil, err, 0
    end
    local n, serr = common.scope("exec", res, ns)
    if n == nil then
        error(serr, 2)
    end
    if not common.name_ok(pod) then
        error("exec: invalid pod name", 2)
    end
    if type(command) == "string" then
        command = { "sh", "-c", command }
    end
    if type(command) ~= "table" or #command == 0 then
        error("exec: command must be a non-empty list of strings or a string", 2)
    end
    opts = opts or {}
    if type(opts) ~= "table" then
        error("exec: opts must be a table", 2)
    end
    for k in pairs(opts) do
        if k ~= "container" and k ~= "stdin" and k ~= "timeout" then
            error(string_format("exec: unknown option '%s' (container, stdin, timeout)",
                                tostring(k)), 2)
        end
    end
    local code, out, errout = core.exec(n, pod, command, opts.container, opts.stdin,
                                        opts.timeout)
    if code == nil then
        return nil, out
    end
    return code, out, errout
end

---------------------------------------------------------------------------------------------
-- apply, resolve
---------------------------------------------------------------------------------------------

local apply = require("berth.script.apply")

-- apply(x [, {namespace=, quiet=}]) -> results; nil, message, results so far.
-- x: an object table, a list of them, or a path (YAML/JSON file, directory, "-").
function M.apply(x, opts)
    local ok, a, b, c = pcall(apply.apply, x, opts)
    if not ok then
        error(a, 2)   -- misuse, already worded "apply: ..."
    end
    return a, b, c
end

-- resolve(kind) -> the resource discovery describes ({group, version, resource, kind,
-- namespaced, apiVersion, singular}); nil, message when it does not exist.
function M.resolve(kind)
    local res, err = common.resource(kind)
    if not res then
        return nil, err
    end
    return setmetatable(common.copy(res), nil)
end

return M
