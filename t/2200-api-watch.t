#!/bin/bash
# 2200-api-watch.t: watches over curl against a real Redis: event order and framing,
# resourceVersion=0, selectors, timeoutSeconds, resume, 410 Expired past the stream window,
# and many concurrent watchers.

test_description='API server: watch'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/data/api-helpers.sh"
test_require redis berth curl node
setup_berth

NS=/api/v1/namespaces/default
CMS=$NS/configmaps

# watch_bg FILE SECONDS QUERY: curl -N a watch of configmaps?watch=true&QUERY in the
# background for at most SECONDS, events into FILE; its pid in WATCH_PID.
watch_bg() {
	curl -sN --max-time "$2" "$BERTH_URL$CMS?watch=true&$3" >"$1" 2>/dev/null </dev/null &
	WATCH_PID=$!
	test_bg_pid "$WATCH_PID"
}

# wait_lines FILE N [SECONDS]: wait (default 10 s) until FILE has at least N lines.
wait_lines() {
	test_wait_until "${3:-10}" eval "test \$(lines_of '$1') -ge $2" || {
		echo "wait_lines: $1 has $(lines_of "$1") lines, want $2:" >&2
		cat "$1" >&2
		return 1
	}
}

# events FILE: each line of FILE must be one JSON watch event; prints "TYPE name" a line.
events() {
	node -e '
		const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n");
		if (lines.pop() !== "") { console.error("events: last line is not terminated"); process.exit(1); }
		for (const l of lines) {
			const e = JSON.parse(l);
			if (typeof e.type !== "string" || typeof e.object !== "object")
				{ console.error("events: not an event: " + l); process.exit(1); }
			console.log(e.type + " " + (e.object.metadata && e.object.metadata.name || ""));
		}' "$1"
}

# event_rvs FILE: the resourceVersion of each event's object, one a line.
event_rvs() {
	node -e '
		for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n"))
			if (l) console.log(JSON.parse(l).object.metadata.resourceVersion);' "$1"
}

# current_rv: the configmap list's resourceVersion.
current_rv() {
	api GET $CMS >cur-list.json && rv_of cur-list.json
}

# end_watch PID: the watch curl must end by itself within SECONDS (default 10); fails if not.
end_watch() {
	test_wait_until "${2:-10}" eval "! kill -0 $1" || {
		kill "$1" 2>/dev/null
		return 1
	}
}

test_expect_success 'watch from a list resourceVersion sees ADDED, MODIFIED, DELETED in order' '
	rv=$(current_rv) && test -n "$rv" &&
	watch_bg w1.out 20 "resourceVersion=$rv" &&
	expect_code 201 POST $CMS "$(cm_json w1 "{}" "{\"a\":\"1\"}")" >c.json &&
	jedit c.json "o.data.a = \"2\"" >u.json &&
	expect_code 200 PUT $CMS/w1 @u.json >u2.json &&
	expect_code 200 DELETE $CMS/w1 >/dev/null &&
	wait_lines w1.out 3 &&
	events w1.out >actual &&
	printf "ADDED w1\nMODIFIED w1\nDELETED w1\n" >expect &&
	test_cmp expect actual &&
	event_rvs w1.out >rvs &&
	sort -n -c rvs && test $(sort -n -u rvs | wc -l) = 3 &&
	test "$(sed -n 1p rvs)" = "$(rv_of c.json)" &&
	test "$(sed -n 2p rvs)" = "$(rv_of u2.json)" &&
	head -n 2 w1.out | tail -n 1 >mod.json &&
	jeq mod.json o.object.data.a 2 &&
	jeq mod.json o.object.kind ConfigMap &&
	kill $WATCH_PID
'

test_expect_success 'watch with resourceVersion=0 first sends ADDED for existing objects' '
	expect_code 201 POST $CMS "$(cm_json x1)" >/dev/null &&
	expect_code 201 POST $CMS "$(cm_json x2)" >/dev/null &&
	watch_bg w0.out 20 "resourceVersion=0" &&
	wait_lines w0.out 2 &&
	expect_code 201 POST $CMS "$(cm_json x3)" >/dev/null &&
	wait_lines w0.out 3 &&
	events w0.out >actual &&
	printf "ADDED x1\nADDED x2\nADDED x3\n" >expect &&
	test_cmp expect actual &&
	kill $WATCH_PID
'

test_expect_success 'watch without resourceVersion also starts with the current state' '
	watch_bg wn.out 20 "" &&
	wait_lines wn.out 3 &&
	expect_code 200 DELETE $CMS/x3 >/dev/null &&
	wait_lines wn.out 4 &&
	events wn.out >actual &&
	printf "ADDED x1\nADDED x2\nADDED x3\nDELETED x3\n" >expect &&
	test_cmp expect actual &&
	kill $WATCH_PID
'

test_expect_success 'a label-selector watch turns an update that stops matching into DELETED' '
	rv=$(current_rv) &&
	watch_bg ws.out 20 "resourceVersion=$rv&labelSelector=app%3Dsel" &&
	expect_code 201 POST $CMS "$(cm_json s1 "{\"app\":\"sel\"}")" >/dev/null &&
	expect_code 201 POST $CMS "$(cm_json s2 "{\"app\":\"other\"}")" >/dev/null &&
	expect_code 200 PATCH $CMS/s1 "{\"data\":{\"k\":\"v\"}}" application/merge-patch+json >/dev/null &&
	expect_code 200 PATCH $CMS/s1 "{\"metadata\":{\"labels\":{\"app\":\"gone\"}}}" application/merge-patch+json >/dev/null &&
	expect_code 200 PATCH $CMS/s1 "{\"data\":{\"k\":\"w\"}}" application/merge-patch+json >/dev/null &&
	expect_code 200 PATCH $CMS/s2 "{\"metadata\":{\"labels\":{\"app\":\"sel\"}}}" application/merge-patch+json >/dev/null &&
	expect_code 200 DELETE $CMS/s1 >/dev/null &&
	expect_code 200 DELETE $CMS/s2 >/dev/null &&
	wait_lines ws.out 5 &&
	sleep 0.5 &&
	events ws.out >actual &&
	printf "ADDED s1\nMODIFIED s1\nDELETED s1\nADDED s2\nDELETED s2\n" >expect &&
	test_cmp expect actual &&
	kill $WATCH_PID
'

test_expect_success 'a fieldSelector metadata.name watch sees only that object' '
	rv=$(current_rv) &&
	watch_bg wf.out 20 "resourceVersion=$rv&fieldSelector=metadata.name%3Df2" &&
	expect_code 201 POST $CMS "$(cm_json f1)" >/dev/null &&
	expect_code 201 POST $CMS "$(cm_json f2)" >/dev/null &&
	expect_code 200 DELETE $CMS/f1 >/dev/null &&
	expect_code 200 DELETE $CMS/f2 >/dev/null &&
	wait_lines wf.out 2 &&
	sleep 0.5 &&
	events wf.out >actual &&
	printf "ADDED f2\nDELETED f2\n" >expect &&
	test_cmp expect actual &&
	kill $WATCH_PID
'

test_expect_success 'a label-selector watch with resourceVersion=0 lists only matching objects' '
	expect_code 201 POST $CMS "$(cm_json l1 "{\"grp\":\"z\"}")" >/dev/null &&
	expect_code 201 POST $CMS "$(cm_json l2)" >/dev/null &&
	watch_bg wl.out 20 "resourceVersion=0&labelSelector=grp%3Dz" &&
	wait_lines wl.out 1 &&
	sleep 0.5 &&
	events wl.out >actual &&
	echo "ADDED l1" >expect &&
	test_cmp expect actual &&
	kill $WATCH_PID
'

test_expect_success 'a spec.nodeName pod watch sees a pod once it is bound (ADDED), then its deletion' '
	expect_code 200 GET $NS/pods >pl.json &&
	rv=$(rv_of pl.json) &&
	CMS=$NS/pods watch_bg wp.out 30 "resourceVersion=$rv&fieldSelector=spec.nodeName%3Dnode-a" &&
	expect_code 201 POST $NS/pods "$(pod_json wp1)" >/dev/null &&
	expect_code 201 POST $NS/pods "$(pod_json wp2)" >/dev/null &&
	expect_code 201 POST $NS/pods/wp1/binding \
		"{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":\"wp1\"},\"target\":{\"kind\":\"Node\",\"name\":\"node-a\"}}" >/dev/null &&
	expect_code 201 POST $NS/pods/wp2/binding \
		"{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":\"wp2\"},\"target\":{\"kind\":\"Node\",\"name\":\"node-b\"}}" >/dev/null &&
	wait_lines wp.out 1 &&
	expect_code 200 DELETE $NS/pods/wp1 "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":0}" >/dev/null &&
	wait_lines wp.out 2 &&
	sleep 0.5 &&
	events wp.out >actual &&
	printf "ADDED wp1\nDELETED wp1\n" >expect &&
	test_cmp expect actual &&
	head -n 1 wp.out >first.json &&
	jeq first.json o.object.spec.nodeName node-a &&
	kill $WATCH_PID
'

test_expect_success 'graceful pod deletion shows as MODIFIED (deletionTimestamp) then DELETED' '
	expect_code 201 POST $NS/pods "$(pod_json gp "{}" node-a)" >/dev/null &&
	expect_code 200 GET $NS/pods >pl.json &&
	rv=$(rv_of pl.json) &&
	CMS=$NS/pods watch_bg wg.out 30 "resourceVersion=$rv" &&
	api DELETE $NS/pods/gp "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":1}" >/dev/null &&
	case "$API_CODE" in 200|202) ;; *) false ;; esac &&
	wait_lines wg.out 2 15 &&
	events wg.out >actual &&
	printf "MODIFIED gp\nDELETED gp\n" >expect &&
	test_cmp expect actual &&
	head -n 1 wg.out >first.json &&
	jcheck first.json "typeof o.object.metadata.deletionTimestamp === \"string\"" &&
	kill $WATCH_PID
'

test_expect_success 'a watch asked for as Table sends Table objects' '
	rv=$(current_rv) || return 1
	test -n "$rv" || return 1
	curl -sN --max-time 20 -H "Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json" \
		"$BERTH_URL$CMS?watch=true&resourceVersion=$rv" >wtab.out 2>/dev/null </dev/null &
	WATCH_PID=$!
	test_bg_pid $WATCH_PID
	expect_code 201 POST $CMS "$(cm_json tab1 "{}" "{\"a\":\"1\",\"b\":\"2\"}")" >/dev/null &&
	wait_lines wtab.out 1 &&
	head -n 1 wtab.out >t1.json &&
	jeq t1.json o.type ADDED &&
	jeq t1.json o.object.kind Table &&
	jeq t1.json o.object.apiVersion meta.k8s.io/v1 &&
	jeq t1.json "o.object.rows[0].cells[0]" tab1 &&
	jeq t1.json "o.object.rows[0].cells[1]" 2 &&
	kill $WATCH_PID
'

test_expect_success 'timeoutSeconds ends the stream' '
	rv=$(current_rv) &&
	curl -sN --max-time 15 -o wt.out "$BERTH_URL$CMS?watch=true&resourceVersion=$rv&timeoutSeconds=2" &&
	test ! -s wt.out
'

test_expect_success 'a watch of a single namespace does not see other namespaces' '
	expect_code 201 POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"elsewhere\"}}" >/dev/null &&
	rv=$(current_rv) &&
	watch_bg wns.out 20 "resourceVersion=$rv" &&
	all_pid=$WATCH_PID &&
	CMS=/api/v1/configmaps watch_bg wall.out 20 "resourceVersion=$rv" &&
	expect_code 201 POST /api/v1/namespaces/elsewhere/configmaps "$(cm_json e1)" >/dev/null &&
	expect_code 201 POST $CMS "$(cm_json d1)" >/dev/null &&
	wait_lines wns.out 1 && wait_lines wall.out 2 &&
	sleep 0.5 &&
	events wns.out >actual && echo "ADDED d1" >expect && test_cmp expect actual &&
	events wall.out >actual && printf "ADDED e1\nADDED d1\n" >expect && test_cmp expect actual &&
	kill $all_pid $WATCH_PID
'

test_expect_success 'a watch resumed from an older resourceVersion replays the missed events' '
	rv0=$(current_rv) &&
	expect_code 201 POST $CMS "$(cm_json r1)" >/dev/null &&
	expect_code 201 POST $CMS "$(cm_json r2)" >r2.json &&
	expect_code 200 DELETE $CMS/r1 >/dev/null &&
	watch_bg wr.out 20 "resourceVersion=$rv0" &&
	wait_lines wr.out 3 &&
	events wr.out >actual &&
	printf "ADDED r1\nADDED r2\nDELETED r1\n" >expect &&
	test_cmp expect actual &&
	kill $WATCH_PID &&
	watch_bg wr2.out 20 "resourceVersion=$(rv_of r2.json)" &&
	wait_lines wr2.out 1 &&
	expect_code 201 POST $CMS "$(cm_json r3)" >/dev/null &&
	wait_lines wr2.out 2 &&
	events wr2.out >actual &&
	printf "DELETED r1\nADDED r3\n" >expect &&
	test_cmp expect actual &&
	kill $WATCH_PID
'

test_expect_success '20 concurrent watchers all receive the same event' '
	rv=$(current_rv) &&
	pids= &&
	for i in $(seq 1 20); do
		watch_bg many$i.out 20 "resourceVersion=$rv" && pids="$pids $WATCH_PID" || return 1
	done &&
	expect_code 201 POST $CMS "$(cm_json crowd "{}" "{\"n\":\"1\"}")" >/dev/null &&
	for i in $(seq 1 20); do
		wait_lines many$i.out 1 || return 1
	done &&
	for i in $(seq 2 20); do
		test_cmp many1.out many$i.out || return 1
	done &&
	events many1.out >actual && echo "ADDED crowd" >expect && test_cmp expect actual &&
	kill $pids
'

test_expect_success 'a bad timeoutSeconds answers 400' '
	expect_status 400 BadRequest GET "$CMS?watch=true&timeoutSeconds=x"
'

test_expect_success 'with --watch-window 10, 200 writes later, a watch from the first rv gets 410 Expired' '
	restart_berth --watch-window 10 &&
	first=$(current_rv) &&
	for i in $(seq 1 200); do
		curl -s -o /dev/null -w "%{http_code}\n" -X POST -H "Content-Type: application/json" \
			--data-binary "$(cm_json win$i)" "$BERTH_URL$CMS" || return 1
	done >codes &&
	test "$(sort -u codes)" = 201 &&
	watch_bg wx.out 20 "resourceVersion=$first" &&
	end_watch $WATCH_PID 15 &&
	test $(lines_of wx.out) = 1 &&
	jeq wx.out o.type ERROR &&
	node -e "const e = JSON.parse(require(\"fs\").readFileSync(\"wx.out\", \"utf8\")); process.stdout.write(JSON.stringify(e.object))" >st.json &&
	status_is st.json 410 Expired &&
	jcheck st.json "o.message.startsWith(\"too old resource version: \")"
'

test_expect_success 'the window edge: a watch from just before the oldest kept event works, one older gets 410' '
	oldest=$(redis_cli XRANGE berth:s:configmaps - + COUNT 1 | sed -n "s/^0-\([0-9]*\)$/\1/p" | head -n 1) &&
	echo "oldest kept event: $oldest (first write was after $first)" &&
	test -n "$oldest" && test "$oldest" -gt $((first + 1)) &&
	watch_bg we1.out 20 "resourceVersion=$((oldest - 1))" &&
	wait_lines we1.out 3 &&
	head -n 1 we1.out >e1.json &&
	jeq e1.json o.type ADDED &&
	jeq e1.json o.object.metadata.resourceVersion "$oldest" &&
	kill $WATCH_PID &&
	watch_bg we2.out 20 "resourceVersion=$((oldest - 2))" &&
	end_watch $WATCH_PID 15 &&
	test $(lines_of we2.out) = 1 &&
	jeq we2.out o.type ERROR &&
	jeq we2.out o.object.code 410
'

test_expect_success 'watch of a cluster-scoped kind (nodes)' '
	expect_code 200 GET /api/v1/nodes >nl.json &&
	rv=$(rv_of nl.json) &&
	CMS=/api/v1/nodes watch_bg wnode.out 20 "resourceVersion=$rv" &&
	expect_code 201 POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"wn1\"}}" >/dev/null &&
	expect_code 200 DELETE /api/v1/nodes/wn1 >/dev/null &&
	wait_lines wnode.out 2 &&
	events wnode.out >actual &&
	printf "ADDED wn1\nDELETED wn1\n" >expect &&
	test_cmp expect actual &&
	kill $WATCH_PID
'

test_expect_success 'with --watch-window 10, a watch from a recent rv still works' '
	rv=$(current_rv) &&
	expect_code 201 POST $CMS "$(cm_json recent)" >/dev/null &&
	watch_bg wrc.out 20 "resourceVersion=$rv" &&
	wait_lines wrc.out 1 &&
	events wrc.out >actual && echo "ADDED recent" >expect && test_cmp expect actual &&
	kill $WATCH_PID
'

test_expect_success 'closed watches are forgotten: no open watch streams are left' '
	test_wait_until 10 eval "curl -s --max-time 2 $BERTH_URL/metrics | grep -q \"^apiserver_longrunning_requests{verb=\\\"WATCH\\\"} 0\$\"" || {
		curl -s --max-time 2 $BERTH_URL/metrics | grep longrunning
		false
	}
'

test_expect_success 'the server is still healthy' '
	expect_code 200 GET /healthz >/dev/null
'

test_done
