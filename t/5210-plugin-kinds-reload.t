#!/bin/bash
test_description='plugin kinds follow their files while the server runs: a new plugin is served, a changed kind is replaced (open watches end with 410), a broken edit keeps the kinds, a scope change is refused, a removed plugin is no longer served and its objects come back with it'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth

P=$TRASH/plugins
mkdir -p "$P"

widget_v1() {
	mkdir -p "$P/demo" &&
	cat >"$P/demo/plugin.lua" <<-'EOF'
	return { kinds = {
	    { group = "demo.berth.dev", version = "v1", kind = "Widget", plural = "widgets",
	      namespaced = true, shortNames = { "wd" } },
	} }
	EOF
}

# Same Widget with a column and a second short name, plus a cluster-scoped Gadget.
widget_v2() {
	cat >"$P/demo/plugin.lua.new" <<-'EOF'
	return { kinds = {
	    { group = "demo.berth.dev", version = "v1", kind = "Widget", plural = "widgets",
	      namespaced = true, shortNames = { "wd", "wdg" },
	      columns = { { name = "Name", type = "string", format = "name", cell = "meta.name" },
	                  { name = "Size", type = "integer", jsonPath = ".spec.size" } } },
	    { group = "demo.berth.dev", version = "v1", kind = "Gadget", plural = "gadgets",
	      namespaced = false },
	} }
	EOF
	mv "$P/demo/plugin.lua.new" "$P/demo/plugin.lua"
}

served() {	# served PLURAL: the API lists it under demo.berth.dev/v1
	curl -s --max-time 5 "$BERTH_URL/apis/demo.berth.dev/v1" | grep -q "\"name\":\"$1\""
}

not_served() {
	! served "$1"
}

log_has() {
	grep -q "$1" "$TRASH/berth.log"
}

test_expect_success 'start a server with no plugins' '
	start_redis &&
	start_berth --plugins "$P" &&
	api_code_is_404=$(api GET /apis/demo.berth.dev/v1/widgets >/dev/null; api_code) &&
	test "$api_code_is_404" = 404
'

test_expect_success 'a plugin added while the server runs is served at once' '
	widget_v1 &&
	test_wait_until 10 served widgets &&
	k api-resources --api-group=demo.berth.dev >res &&
	grep -q "^widgets .*wd .*demo.berth.dev/v1 .*true .*Widget" res &&
	echo "{\"apiVersion\":\"demo.berth.dev/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w1\"},\"spec\":{\"size\":3}}" >w1.json &&
	k apply -f w1.json &&
	k get wd w1 -o jsonpath="{.spec.size}" >size && test "$(cat size)" = 3
'

test_expect_success 'a changed kind is replaced: new columns and short names, and an open watch ends with 410' '
	{ curl -sN --max-time 20 "$BERTH_URL/apis/demo.berth.dev/v1/namespaces/default/widgets?watch=true" >watch.out 2>&1 & } &&
	test_bg_pid $! &&
	test_wait_until 10 grep -q ADDED watch.out &&
	widget_v2 &&
	test_wait_until 10 served gadgets &&
	test_wait_until 10 grep -q "\"code\":410" watch.out &&
	grep -q "no longer served as it was" watch.out &&
	k get wdg >table &&
	grep -q "^NAME *SIZE" table && grep -q "^w1 *3" table &&
	k api-resources --api-group=demo.berth.dev >res &&
	grep -q "^gadgets .*demo.berth.dev/v1 .*false .*Gadget" res &&
	k get wd w1 -o jsonpath="{.metadata.uid}" >uid && test -s uid
'

test_expect_success 'a broken edit is reported with file and line, and the kinds stay as they were' '
	cp "$P/demo/plugin.lua" good.lua &&
	printf "return { kinds = {\n" >"$P/demo/plugin.lua" &&
	test_wait_until 10 log_has "plugins: demo kept its kinds as they were: plugins/demo/plugin.lua:2:" &&
	served widgets && served gadgets &&
	k get wdg w1 >/dev/null &&
	cp good.lua "$P/demo/plugin.lua"
'

test_expect_success 'a kind cannot change scope while served; the plugin keeps its kinds' '
	sed "s/kind = \"Gadget\", plural = \"gadgets\",/kind = \"Gadget\", plural = \"gadgets\", shortNames = { \"gd\" },/; s/namespaced = false/namespaced = true/" \
		good.lua >"$P/demo/plugin.lua.new" &&
	mv "$P/demo/plugin.lua.new" "$P/demo/plugin.lua" &&
	test_wait_until 10 log_has "gadgets cannot change its scope while served" &&
	k api-resources --api-group=demo.berth.dev >res &&
	grep -q "^gadgets  *demo.berth.dev/v1 .*false .*Gadget" res &&
	cp good.lua "$P/demo/plugin.lua"
'

test_expect_success 'a kind claimed by another plugin is refused and the first keeps it' '
	mkdir -p "$P/thief" &&
	cat >"$P/thief/plugin.lua" <<-EOF &&
	return { kinds = { { group = "demo.berth.dev", version = "v1", kind = "Widget", plural = "widgets", namespaced = true } } }
	EOF
	test_wait_until 10 log_has "plugins: thief skipped: .*widgets is already served by plugin demo" &&
	served widgets &&
	rm -rf "$P/thief"
'

test_expect_success 'a removed plugin is no longer served; its objects stay in the store' '
	rm -rf "$P/demo" &&
	test_wait_until 10 not_served widgets &&
	api GET /apis/demo.berth.dev/v1/namespaces/default/widgets/w1 >/dev/null &&
	test "$(api_code)" = 404 &&
	test "$(redis_cli HLEN berth:o:widgets.demo.berth.dev)" = 1
'

test_expect_success 'the plugin back: its objects are served again' '
	widget_v1 &&
	test_wait_until 10 served widgets &&
	api GET /apis/demo.berth.dev/v1/namespaces/default/widgets/w1 >w1.out &&
	test "$(api_code)" = 200 &&
	grep -q "\"size\":3" w1.out
'

test_expect_success 'SIGHUP syncs the kinds at once' '
	widget_v2 &&
	kill -HUP "$BERTH_PID" &&
	test_wait_until 10 served gadgets
'

test_expect_success 'the server is still healthy and exits cleanly' '
	curl -sf "$BERTH_URL/readyz" >/dev/null &&
	stop_berth &&
	test_berth_log_clean
'

# With the controllers running in the server: a plugin dropped in while it runs gets its
# kind served and its controller started, without a restart or SIGHUP.
test_expect_success 'with controllers: a new plugin kind and its controller start at once' '
	rm -rf "$P/demo" &&
	BERTH_SERVER_ARGS="--no-scheduler" start_berth --plugins "$P" &&
	mkdir -p "$P/counter" &&
	cat >"$P/counter/plugin.lua.new" <<-\EOF &&
	-- Counts the labels of each Tally into its status.
	local tally = {
	    parent = "count.berth.dev/v1/tallies",
	    sync = function(parent, children, ctx)
	        local n = 0
	        for _ in pairs(parent.metadata.labels or {}) do n = n + 1 end
	        return { status = { labels = n } }
	    end,
	}
	return {
	    kinds = { { group = "count.berth.dev", version = "v1", kind = "Tally", plural = "tallies",
	                namespaced = true, subresources = { "status" } } },
	    controllers = { tally = tally },
	}
	EOF
	mv "$P/counter/plugin.lua.new" "$P/counter/plugin.lua" &&
	test_wait_until 10 eval "curl -s \"\$BERTH_URL/apis/count.berth.dev/v1\" | grep -q tallies" &&
	echo "{\"apiVersion\":\"count.berth.dev/v1\",\"kind\":\"Tally\",\"metadata\":{\"name\":\"t1\",\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}" >t1.json &&
	k apply -f t1.json &&
	test_wait_until 20 eval "test \"\$(k get tallies.count.berth.dev t1 -o jsonpath={.status.labels})\" = 2"
'

test_expect_success 'with controllers: objects of a plugin kind go with their namespace' '
	k create namespace scratch &&
	sed "s/\"name\":\"t1\"/\"name\":\"t2\",\"namespace\":\"scratch\"/" t1.json >t2.json &&
	k apply -f t2.json &&
	k delete namespace scratch --wait=false &&
	test_wait_until 30 eval "! k get namespace scratch >/dev/null 2>&1" &&
	test "$(redis_cli HLEN berth:o:tallies.count.berth.dev)" = 1
'

test_expect_success 'with controllers: the server exits cleanly' '
	stop_berth &&
	test_berth_log_clean
'

test_done
