#!/bin/bash
test_description='berth run: scripts with berth.cluster (synchronous) and berth.script against a server'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis berth

# The API alone (no scheduler, no controllers): every effect seen here is the script's own.
setup_berth

# brun ARGS...: berth run against the server under test, bounded.
brun() {
	timeout 60 "$BERTH_BIN" run --server "$BERTH_URL" "$@"
}

# expect_code CODE CMD...: CMD exits with exactly CODE.
expect_code() {
	local want=$1 got
	shift
	"$@"
	got=$?
	[ "$got" = "$want" ] && return 0
	echo "expect_code: $* exited $got, want $want" >&2
	return 1
}

# A helper module beside the scripts (require finds the script's directory too).
cat >"$TRASH/tcheck.lua" <<-\EOF
	local M = {}
	function M.eq(got, want, what)
	    if got ~= want then
	        error(string.format("%s: got %s, want %s", what, tostring(got), tostring(want)), 2)
	    end
	end
	function M.ok(v, what)
	    if not v then error(what, 2) end
	    return v
	end
	return M
EOF

test_expect_success 'usage: no script, an unknown flag, a missing flag value exit 2; --help 0' '
	expect_code 2 "$BERTH_BIN" run 2>err &&
	test_grep "no script given" err &&
	expect_code 2 "$BERTH_BIN" run --bogus x.lua 2>err &&
	test_grep "unknown flag --bogus" err &&
	expect_code 2 "$BERTH_BIN" run --lua 2>err &&
	"$BERTH_BIN" run --help >out &&
	test_grep "usage: berth run" out
'

test_expect_success 'the script gets its arguments (flags after it are its own), as arg and script.args' '
	cat >args.lua <<-\EOF &&
	local script = require("berth.script")
	print(#script.args, table.concat(script.args, "|"), arg[0], select("#", ...), (...))
	EOF
	brun args.lua one --two -n x >out &&
	printf "4\tone|--two|-n|x\targs.lua\t4\tone\n" >expect &&
	test_cmp expect out
'

test_expect_success 'exit codes: script.exit(n), exit inside pcall, return n, false, normal end' '
	printf "require(\"berth.script\").exit(3)\n" >e3.lua &&
	expect_code 3 brun e3.lua &&
	cat >epcall.lua <<-\EOF &&
	local script = require("berth.script")
	local ok = pcall(function() script.exit(4) end)
	print("not reached", ok)
	EOF
	expect_code 4 brun epcall.lua >out &&
	! test -s out &&
	cat >expcall.lua <<-\EOF &&
	xpcall(function() require("berth.script").exit(5) end, debug.traceback)
	EOF
	expect_code 5 brun expcall.lua &&
	printf "return 6\n" >r6.lua &&
	expect_code 6 brun r6.lua &&
	printf "return false\n" >rf.lua &&
	expect_code 1 brun rf.lua &&
	printf "require(\"berth.script\").exit(true)\n" >et.lua &&
	brun et.lua &&
	printf "print(1)\n" >ok.lua &&
	brun ok.lua
'

test_expect_success 'an error prints "berth run: file:line: message" and exits 1' '
	cat >drain.lua <<-\EOF &&
	local cluster = require("berth.cluster")
	local name = "x"
	local node, err, code = cluster.get("nodes", nil, name)
	if not node and code == 404 then
	    error(string.format("node %q not found", name))
	end
	EOF
	expect_code 1 brun drain.lua 2>err &&
	echo "berth run: drain.lua:5: node \"x\" not found" >expect &&
	test_cmp expect err &&
	cat >must.lua <<-\EOF &&
	local cluster = require("berth.cluster")
	local script = require("berth.script")

	local node = script.must(cluster.get("v1/nodes", nil, "gone"))
	EOF
	expect_code 1 brun must.lua 2>err &&
	echo "berth run: must.lua:4: nodes \"gone\" not found" >expect &&
	test_cmp expect err &&
	printf "local x = \n" >syntax.lua &&
	expect_code 1 brun syntax.lua 2>err &&
	test_grep "^berth run: syntax.lua:[0-9]*: unexpected symbol near" err &&
	expect_code 1 brun nosuch.lua 2>err &&
	test_grep "^berth run: cannot open nosuch.lua" err &&
	printf "\n\nerror({})\n" >tbl.lua &&
	expect_code 1 brun tbl.lua 2>err &&
	test_grep "error object is a table value" err &&
	expect_code 1 brun --traceback drain.lua 2>err &&
	test_grep "stack traceback" err
'

test_expect_success 'misuse of the API raises at the script line that made it' '
	cat >misuse.lua <<-\EOF &&
	local cluster = require("berth.cluster")
	local script = require("berth.script")
	local which = script.args[1]
	if which == "kind" then cluster.get("podz", nil, "x") end
	if which == "scope" then cluster.get("v1/nodes", "default", "x") end
	if which == "name" then cluster.patch("v1/pods", nil, "bad name", {}) end
	if which == "type" then cluster.patch("v1/pods", nil, "p", {}, "xml") end
	if which == "opt" then cluster.list("pods", {nmespace = "x"}) end
	if which == "update" then cluster.update({apiVersion = "v1", kind = "ConfigMap", metadata = {name = "c"}}) end
	if which == "wait" then script.wait_for(42, 1) end
	EOF
	expect_code 1 brun misuse.lua kind 2>err &&
	test_grep "^berth run: misuse.lua:4: cluster.get: the server doesn.t have a resource type \"podz\"" err &&
	expect_code 1 brun misuse.lua scope 2>err &&
	test_grep "^berth run: misuse.lua:5: cluster.get: v1/nodes is cluster-scoped" err &&
	expect_code 1 brun misuse.lua name 2>err &&
	test_grep "^berth run: misuse.lua:6: cluster.patch: invalid name .bad name." err &&
	expect_code 1 brun misuse.lua type 2>err &&
	test_grep "^berth run: misuse.lua:7: cluster.patch: unknown patch type .xml." err &&
	expect_code 1 brun misuse.lua opt 2>err &&
	test_grep "^berth run: misuse.lua:8: cluster.list: unknown option .nmespace." err &&
	expect_code 1 brun misuse.lua update 2>err &&
	test_grep "^berth run: misuse.lua:9: cluster.update: metadata.resourceVersion is required" err &&
	expect_code 1 brun misuse.lua wait 2>err &&
	test_grep "^berth run: misuse.lua:10: wait_for: the condition must be" err
'

test_expect_success 'create, get, update, patch (merge, strategic, json), delete answer at once' '
	cat >crud.lua <<-\EOF &&
	local cluster = require("berth.cluster")
	local t = require("tcheck")
	local cm = t.ok(cluster.create({apiVersion = "v1", kind = "ConfigMap",
	    metadata = {name = "cfg", labels = {app = "crud"}}, data = {a = "1"}}), "create")
	t.eq(cm.metadata.namespace, "default", "created in the script namespace")
	local again, err, code = cluster.create({apiVersion = "v1", kind = "ConfigMap", metadata = {name = "cfg"}})
	t.eq(again, nil, "second create")
	t.eq(code, 409, "AlreadyExists code")
	t.ok(err:find("already exists"), "AlreadyExists message: " .. tostring(err))
	local got = t.ok(cluster.get("v1/configmaps", "default", "cfg"), "get")
	t.eq(got.data.a, "1", "get data")
	got.data.a = "2"                              -- objects are the script own
	local upd = t.ok(cluster.update(got), "update")
	t.eq(upd.data.a, "2", "update data")
	local stale, serr, scode = cluster.update(got)  -- the old resourceVersion
	t.eq(scode, 409, "update conflict: " .. tostring(serr))
	t.eq(cluster.patch("configmaps", nil, "cfg", {data = {b = "3"}}).data.b, "3", "merge patch")
	t.eq(cluster.patch("configmaps", nil, "cfg", {metadata = {labels = {tier = "x"}}}, "strategic").metadata.labels.tier, "x", "strategic patch")
	t.eq(cluster.patch("configmaps", nil, "cfg", {{op = "replace", path = "/data/a", value = "4"}}, "json").data.a, "4", "json patch")
	t.eq(cluster.patch("configmaps", nil, "cfg", "{\"data\":{\"c\":\"5\"}}").data.c, "5", "patch as JSON text")
	t.eq(cluster.patch("configmaps", nil, "cfg", {data = {c = cluster.null}}).data.c, nil, "null removes")
	local _, perr, pcode = cluster.patch("configmaps", nil, "nope", {data = {}})
	t.eq(pcode, 404, "patch of a missing object")
	t.ok(cluster.delete("v1/configmaps", nil, "cfg", {propagation = "Background"}), "delete")
	local gone, gerr, gcode = cluster.get("configmaps", nil, "cfg")
	t.eq(gone, nil, "get after delete")
	t.eq(gcode, 404, "NotFound code")
	t.eq(gerr, "configmaps \"cfg\" not found", "NotFound message")
	local _, derr, dcode = cluster.delete("configmaps", nil, "cfg")
	t.eq(dcode, 404, "delete of a missing object")
	print("crud ok")
	EOF
	brun crud.lua >out &&
	test_grep "crud ok" out
'

test_expect_success 'list: namespace, selector (string and LabelSelector), field selector, index, all namespaces' '
	api POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\"}}" >/dev/null &&
	api POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"}}" >/dev/null &&
	cat >list.lua <<-\EOF &&
	local cluster = require("berth.cluster")
	local script = require("berth.script")
	local t = require("tcheck")
	local function pod(ns, name, labels, node)
	    return t.ok(cluster.create({apiVersion = "v1", kind = "Pod",
	        metadata = {name = name, namespace = ns, labels = labels},
	        spec = {nodeName = node, containers = {{name = "c", image = "busybox"}}}}), "create " .. name)
	end
	local w1 = pod("shop", "web-1", {app = "web", tier = "fe"}, "n1")
	pod("shop", "web-2", {app = "web", tier = "be"})
	pod("shop", "db-1", {app = "db"})
	pod("default", "web-3", {app = "web"})
	t.eq(script.namespace, "shop", "-n sets the script namespace")
	local function names(list)
	    local out = {}
	    for _, o in ipairs(list) do out[#out + 1] = o.metadata.name end
	    table.sort(out)
	    return table.concat(out, ",")
	end
	t.eq(names(cluster.list("pods", {namespace = "shop"})), "db-1,web-1,web-2", "namespace")
	t.eq(names(cluster.list("v1/pods", {selector = "app=web"})), "web-1,web-2,web-3", "all namespaces")
	t.eq(names(cluster.list("pods", {namespace = "shop", selector = {matchLabels = {app = "web"},
	    matchExpressions = {{key = "tier", operator = "In", values = {"fe"}}}}})), "web-1", "LabelSelector")
	t.eq(names(cluster.list("pods", {index = {"node", "n1"}})), "web-1", "index node")
	t.eq(names(cluster.index("pods", "uid", w1.metadata.uid)), "web-1", "index uid")
	t.eq(names(cluster.list("pods", {namespace = "shop", field_selector = "metadata.name=db-1"})), "db-1", "field selector")
	local items, rv = cluster.list("pods", {namespace = "nowhere"})
	t.eq(#items, 0, "empty list")
	t.eq(script.json.encode(items), "[]", "an empty list stays a JSON array")
	t.ok(tonumber(rv), "list resourceVersion")
	local p = cluster.get("pods", nil, "web-1")             -- nil namespace: the script one
	t.eq(p.metadata.namespace, "shop", "get in -n namespace")
	print("list ok")
	EOF
	brun -n shop list.lua >out &&
	test_grep "list ok" out
'

test_expect_success 'resources by discovery: short names, kinds and plugin kinds' '
	cat >disc.lua <<-\EOF &&
	local cluster = require("berth.cluster")
	local script = require("berth.script")
	local t = require("tcheck")
	t.eq(script.resolve("deploy").resource, "deployments", "short name")
	t.eq(script.resolve("apps/v1/replicasets").kind, "ReplicaSet", "policy name")
	t.ok(cluster.list("deployments.apps"), "group-qualified")
	t.ok(cluster.list("cronjobs"), "a plugin kind")
	local d = t.ok(cluster.create({apiVersion = "apps/v1", kind = "Deployment",
	    metadata = {name = "d"}, spec = {replicas = 2, selector = {matchLabels = {app = "d"}},
	    template = {metadata = {labels = {app = "d"}}, spec = {containers = {{name = "c", image = "i"}}}}}}), "create deployment")
	t.eq(cluster.get("deploy", nil, "d").spec.replicas, 2, "get by short name")
	t.eq(cluster.get("apps/v1/deployments/scale", nil, "d").spec.replicas, 2, "read a subresource")
	t.eq(cluster.patch("apps/v1/deployments/scale", nil, "d", {spec = {replicas = 3}}).spec.replicas, 3, "patch a subresource")
	t.eq(cluster.get("apps/v1/deployments", nil, "d").spec.replicas, 3, "scaled")
	print("discovery ok")
	EOF
	brun disc.lua >out &&
	test_grep "discovery ok" out
'

test_expect_success 'evict, bind and event act at once' '
	cat >act.lua <<-\EOF &&
	local cluster = require("berth.cluster")
	local t = require("tcheck")
	local p = t.ok(cluster.create({apiVersion = "v1", kind = "Pod", metadata = {name = "b1"},
	    spec = {containers = {{name = "c", image = "busybox"}}}}), "create")
	t.eq(cluster.bind(p, "n1"), true, "bind")
	t.eq(cluster.get("pods", nil, "b1").spec.nodeName, "n1", "bound")
	local ev = t.ok(cluster.event(p, "Normal", "Checked", "checked by a script"), "event")
	t.eq(ev.involvedObject.name, "b1", "involvedObject")
	t.eq(ev.source.component, "berth-run", "source")
	local q = t.ok(cluster.create({apiVersion = "v1", kind = "Pod", metadata = {name = "e1"},
	    spec = {containers = {{name = "c", image = "busybox"}}}}), "create e1")
	t.ok(cluster.evict(nil, "e1"), "evict")
	local _, _, code = cluster.get("pods", nil, "e1")
	t.eq(code, 404, "an unbound pod is gone at once")
	local _, _, ecode = cluster.evict(nil, "e1")
	t.eq(ecode, 404, "evict of a missing pod")
	print("actions ok")
	EOF
	brun act.lua >out &&
	test_grep "actions ok" out &&
	api GET "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=b1" >ev.json &&
	grep -q "checked by a script" ev.json
'

test_expect_success 'apply: created, then unchanged, then configured; only what changed is sent' '
	cat >app.yaml <<-\EOF &&
	apiVersion: v1
	kind: ConfigMap
	metadata:
	  name: app
	  labels: {app: demo, drop: me}
	data: {a: "1"}
	---
	apiVersion: apps/v1
	kind: Deployment
	metadata: {name: app}
	spec:
	  replicas: 1
	  selector: {matchLabels: {app: demo}}
	  template:
	    metadata: {labels: {app: demo}}
	    spec:
	      containers:
	      - {name: c, image: "busybox:1", args: []}
	EOF
	cat >apply.lua <<-\EOF &&
	local script = require("berth.script")
	local res = script.must(script.apply(script.args[1]))
	for _, r in ipairs(res) do io.stderr:write(r.resource, " ", r.action, "\n") end
	EOF
	brun apply.lua app.yaml >out 2>/dev/null &&
	printf "configmap/app created\ndeployment.apps/app created\n" >expect &&
	test_cmp expect out &&
	brun apply.lua app.yaml >out 2>/dev/null &&
	printf "configmap/app unchanged\ndeployment.apps/app unchanged\n" >expect &&
	test_cmp expect out &&
	sed -e "s/a: \"1\"/a: \"2\"/" -e "s/, drop: me//" app.yaml >app2.yaml &&
	brun apply.lua app2.yaml >out 2>/dev/null &&
	printf "configmap/app configured\ndeployment.apps/app unchanged\n" >expect &&
	test_cmp expect out &&
	api GET /api/v1/namespaces/default/configmaps/app >cm.json &&
	grep -q "\"a\":\"2\"" cm.json &&
	! grep -q "\"drop\"" cm.json &&
	grep -q "last-applied-configuration" cm.json &&
	sed -e "s/busybox:1/busybox:2/" app2.yaml >app3.yaml &&
	brun apply.lua app3.yaml >out 2>/dev/null &&
	printf "configmap/app unchanged\ndeployment.apps/app configured\n" >expect &&
	test_cmp expect out
'

test_expect_success 'apply: tables and lists of tables, quiet, and a failure says which object' '
	cat >apply2.lua <<-\EOF &&
	local script = require("berth.script")
	local t = require("tcheck")
	local cm = {apiVersion = "v1", kind = "ConfigMap", metadata = {name = "tbl"}, data = {x = "1"}}
	local r = script.must(script.apply(cm, {quiet = true}))
	t.eq(r[1].action, "created", "one table")
	r = script.must(script.apply({cm, {apiVersion = "v1", kind = "ConfigMap", metadata = {name = "tbl2"}}}))
	t.eq(r[1].action .. " " .. r[2].action, "unchanged created", "a list")
	t.eq(r[2].object.metadata.name, "tbl2", "the object as the server answered")
	local bad, err = script.apply({{apiVersion = "v1", kind = "Nope", metadata = {name = "x"}}})
	t.eq(bad, nil, "unknown kind")
	t.ok(err:find("object 1: no matches for kind \"Nope\""), "message: " .. err)
	local nofile, ferr = script.apply("missing.yaml")
	t.eq(nofile, nil, "missing file")
	print("apply tables ok")
	EOF
	brun apply2.lua >out &&
	printf "configmap/tbl unchanged\nconfigmap/tbl2 created\napply tables ok\n" >expect &&
	test_cmp expect out
'

test_expect_success 'watch: current objects first, events to fn until it returns a value; requests inside fn' '
	cat >watch.lua <<-\EOF &&
	local cluster = require("berth.cluster")
	local script = require("berth.script")
	local t = require("tcheck")
	local seen = {}
	local v = script.watch("configmaps", {namespace = "default", timeout = 20}, function(typ, obj)
	    seen[#seen + 1] = typ .. " " .. obj.metadata.name
	    if obj.metadata.name == "tbl" and typ == "ADDED" then
	        -- a request on the main connection while the watch streams on its own
	        t.ok(cluster.create({apiVersion = "v1", kind = "ConfigMap", metadata = {name = "late"}}), "create in fn")
	    end
	    if obj.metadata.name == "late" then
	        return "saw " .. typ
	    end
	end)
	t.eq(v, "saw ADDED", "the value fn returned")
	t.ok(#seen >= 3, "initial events: " .. table.concat(seen, ", "))
	-- From a resourceVersion: only what happens after it; false also stops.
	local _, rv = cluster.list("configmaps", {namespace = "default"})
	cluster.patch("configmaps", nil, "late", {data = {k = "v"}})
	v = script.watch("configmaps", {namespace = "default", resource_version = rv, timeout = 20},
	    function(typ, obj)
	        if typ == "MODIFIED" and obj.metadata.name == "late" then return false end
	    end)
	t.eq(v, false, "false stops the watch too")
	-- By name; a timeout.
	local none, err = script.watch("configmaps", {name = "nothing-here", timeout = 1}, function() return true end)
	t.eq(none, nil, "timeout value")
	t.eq(err, "timed out after 1s watching v1/configmaps", "timeout message")
	print("watch ok")
	EOF
	brun watch.lua >out &&
	test_grep "watch ok" out
'

test_expect_success 'watch: an error raised in fn ends the script with its line' '
	cat >watcherr.lua <<-\EOF &&
	local script = require("berth.script")
	script.watch("configmaps", {timeout = 10}, function(typ, obj)
	    error("boom on " .. obj.metadata.name)
	end)
	EOF
	expect_code 1 brun watcherr.lua 2>err &&
	test_grep "^berth run: watcherr.lua:3: boom on " err
'

test_expect_success 'wait_for: a function that comes true, a spec, a timeout, giving up' '
	cat >wait.lua <<-\EOF &&
	local cluster = require("berth.cluster")
	local script = require("berth.script")
	local t = require("tcheck")
	local n = 0
	local ok, v = script.wait_for(function() n = n + 1 return n >= 3 and "third" end, 10, 0.05)
	t.eq(ok, true, "came true")
	t.eq(v, "third", "its value")
	local t0 = script.now()
	local no, err = script.wait_for(function() return nil, "still 0" end, 0.5, 0.1)
	t.eq(no, nil, "timed out")
	t.ok(script.now() - t0 < 3, "bounded")
	t.ok(err:find("^timed out after 0.5s waiting for the condition at wait.lua:9 %(still 0%)"), err)
	local quit, qerr = script.wait_for(function() return nil, "hopeless", true end, 30)
	t.eq(qerr, "hopeless", "give up at once")
	-- Specs.
	t.ok(script.wait_for({kind = "configmaps", name = "tbl", field = "data.x", value = "1"}, 5), "field")
	cluster.delete("configmaps", nil, "tbl2")
	t.ok(script.wait_for({kind = "configmaps", name = "tbl2", deleted = true}, 5), "deleted")
	local _, serr = script.wait_for({kind = "pods", namespace = "shop", selector = "app=web",
	    field = "spec.nodeName"}, 0.3)
	t.ok(serr:find("^timed out after 0.3s waiting for pods shop/%-l app=web spec.nodeName=nil"), serr)
	local okc, items = script.wait_for({kind = "pods", namespace = "shop", selector = "app=web", count = 2}, 5)
	t.eq(#items, 2, "selector spec returns the objects")
	local _, cerr = script.wait_for({kind = "pods", name = "b1", condition = "Ready"}, 0.2)
	t.ok(cerr:find("condition Ready=True %(b1: condition Ready is absent%)"), cerr)
	print("wait ok")
	EOF
	brun wait.lua >out &&
	test_grep "wait ok" out
'

test_expect_success 'logs and exec answer with the server reason for a pod that is not running' '
	cat >logs.lua <<-\EOF &&
	local cluster = require("berth.cluster")
	local script = require("berth.script")
	local t = require("tcheck")
	cluster.create({apiVersion = "v1", kind = "Pod", metadata = {name = "idle"},
	    spec = {containers = {{name = "c", image = "busybox"}}}})
	local text, err, code = script.logs(nil, "idle", {tail = 5, container = "c"})
	t.eq(text, nil, "no log")
	t.eq(code, 400, "code")
	t.ok(err:find("does not have a host assigned"), err)
	local ec, out = script.exec(nil, "idle", {"true"})
	t.eq(ec, nil, "exec cannot run")
	t.eq(type(out), "string", "exec reason")
	io.stderr:write("exec: ", out, "\n")
	print("logs ok")
	EOF
	brun logs.lua >out &&
	test_grep "logs ok" out
'

test_expect_success 'helpers: getopt, json, yaml, printf, log lines, rollout_status' '
	cat >helpers.lua <<-\EOF &&
	local cluster = require("berth.cluster")
	local script = require("berth.script")
	local t = require("tcheck")
	local o, pos = script.getopt({"a", "--timeout", "5", "--force", "--name=x", "b"},
	    {timeout = 1, force = false, name = ""})
	t.eq(o.timeout, 5, "number flag")
	t.eq(o.force, true, "boolean flag")
	t.eq(o.name, "x", "--k=v")
	t.eq(table.concat(pos, ","), "a,b", "positional")
	t.eq(script.json.encode({b = 1, a = {true, cluster.null}}), "{\"a\":[true,null],\"b\":1}", "json")
	t.eq(script.json.decode("{\"a\":null}").a, cluster.null, "null")
	t.eq(script.yaml.decode("x: 1\n---\nz: [a]\n")[2].z[1], "a", "yaml")
	local done, msg = script.rollout_status({metadata = {name = "w", generation = 2},
	    spec = {replicas = 3}, status = {observedGeneration = 2, replicas = 3, updatedReplicas = 3, availableReplicas = 2}})
	t.eq(done, false, "not available")
	t.eq(msg, "Waiting for deployment \"w\" rollout to finish: 2 of 3 updated replicas are available...", "message")
	script.printf("%s=%d", "n", 7)
	script.info("to %s", "stderr")
	cluster.log("warn", "from cluster.log")
	script.debug("hidden unless --verbose")
	EOF
	brun helpers.lua >out 2>err &&
	echo n=7 >expect &&
	test_cmp expect out &&
	test_grep "info: to stderr" err &&
	test_grep "^warn: helpers.lua:19: from cluster.log" err &&
	test_grep -v "hidden" err &&
	brun --verbose helpers.lua >out 2>err &&
	test_grep "debug: hidden unless --verbose" err
'

test_expect_success 'connection: BERTH_KUBECONFIG, --kubeconfig, -n, --context, unreachable server, bad --lua' '
	cat >kc.yaml <<-EOF &&
	apiVersion: v1
	kind: Config
	clusters:
	- name: c
	  cluster: {server: "$BERTH_URL"}
	contexts:
	- name: x
	  context: {cluster: c, namespace: shop}
	- name: sys
	  context: {cluster: c, namespace: kube-system}
	current-context: x
	EOF
	printf "print(require(\"berth.script\").namespace, #require(\"berth.cluster\").list(\"pods\", {namespace = \"shop\"}))\n" >ns.lua &&
	BERTH_KUBECONFIG=$PWD/kc.yaml timeout 30 "$BERTH_BIN" run ns.lua >out &&
	printf "shop\t3\n" >expect &&
	test_cmp expect out &&
	timeout 30 "$BERTH_BIN" run --kubeconfig kc.yaml -n other ns.lua >out &&
	test_grep "^other" out &&
	timeout 30 "$BERTH_BIN" run --kubeconfig kc.yaml --context sys ns.lua >out &&
	test_grep "^kube-system" out &&
	expect_code 1 timeout 30 "$BERTH_BIN" run --kubeconfig kc.yaml --context nope ns.lua 2>err &&
	test_grep "nope" err &&
	cat >unreach.lua <<-\EOF &&
	local cluster = require("berth.cluster")
	local v, err, code = cluster.get("v1/pods", "default", "x")
	print(v, code, err)
	EOF
	timeout 30 "$BERTH_BIN" run --server http://127.0.0.1:1 unreach.lua >out &&
	test_grep "^nil	0	cannot reach http://127.0.0.1:1" out &&
	expect_code 1 brun --lua /nonexistent ok.lua 2>err &&
	test_grep "not in /nonexistent" err
'

# exec and logs need a running container: a node agent over Docker, when there is one (the
# images are the ones t/6000-agent.t uses, from scripts/test-images.sh).
NODE=t7300-$$
AGENT_PID=
if command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1 &&
	"$TOP/scripts/test-images.sh" >"$TRASH/images.log" 2>&1; then
	test_set_prereq DOCKER
elif [ "${CI:-}" = true ]; then
	test_bail_out "missing prerequisite under CI: a Docker engine and the test images (see $TRASH/images.log)"
else
	say "no Docker engine: the exec test is skipped"
fi

cleanup_containers() {
	local ids
	test_have_prereq DOCKER || return 0
	ids=$(docker ps -aq --filter "label=berth.node=$NODE" 2>/dev/null)
	[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
	rm -rf "$TRASH/root"
}
trap 'cleanup_containers; test_exit_trap_' EXIT


test_expect_success DOCKER 'exec and logs in a running container (a node agent over Docker)' '
	start_agent &&
	cat >exec.lua <<-\EOF &&
	local cluster = require("berth.cluster")
	local script = require("berth.script")
	local t = require("tcheck")
	t.ok(cluster.create({apiVersion = "v1", kind = "Pod", metadata = {name = "sh"},
	    spec = {nodeName = script.args[1], containers = {{name = "c", image = "berth/busybox:latest",
	    imagePullPolicy = "Never", command = {"sh", "-c", "echo started; sleep 3600"}}}}}), "create")
	script.must(script.wait_for({kind = "pods", name = "sh", condition = "Ready"}, 60))
	local rc, out, err = script.exec(nil, "sh", {"sh", "-c", "echo out; echo err >&2; exit 3"})
	t.eq(rc, 3, "exit code")
	t.eq(out, "out\n", "stdout")
	t.eq(err, "err\n", "stderr")
	rc, out = script.exec(nil, "sh", "tr a-z A-Z", {stdin = "hello\n", container = "c", timeout = 20})
	t.eq(rc, 0, "sh -c string")
	t.eq(out, "HELLO\n", "stdin")
	local no, why = script.exec(nil, "sh", {"true"}, {container = "nope"})
	t.eq(no, nil, "unknown container")
	t.ok(why:find("container nope is not valid"), why)
	t.ok(script.wait_for(function() return (script.logs(nil, "sh", {tail = 1}) or ""):find("started") end, 20), "logs")
	t.ok(cluster.delete("pods", nil, "sh", {grace = 0}), "delete")
	print("exec ok")
	EOF
	brun exec.lua "$NODE" >out &&
	test_grep "exec ok" out &&
	test_kill_pid "$AGENT_PID" 10
'

test_expect_success 'the server survived it all' '
	test_berth_log_clean &&
	curl -sf "$BERTH_URL/readyz" >/dev/null
'

test_done
