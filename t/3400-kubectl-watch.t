#!/bin/bash
# 3400-kubectl-watch.t: kubectl get -w in the background (bounded by timeout) sees the
# ADDED, MODIFIED and DELETED events of a pod; the raw watch stream is newline-delimited
# JSON; a first watch catches up from the stream; timeoutSeconds ends a watch; with a
# small --watch-window an old resourceVersion is 410 Expired.

test_description='kubectl get -w and the watch stream'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth node
setup_berth

test_expect_success 'a namespace to watch' '
	k create namespace w
'

# wait_rows FILE PATTERN COUNT: FILE has at least COUNT lines matching PATTERN (10 s).
wait_rows() {
	test_wait_until 10 eval "test \$(grep -c -E \"$2\" $1) -ge $3" || {
		echo "--- $1:"; cat "$1"; return 1
	}
}

test_expect_success 'get -w --output-watch-events: ADDED, MODIFIED, DELETED rows' '
	k_bg watch.out 20 get pods -n w -w --output-watch-events &&
	watcher=$K_BG_PID &&
	sleep 1 &&
	k run w1 --image=img:1 -n w &&
	wait_rows watch.out "^ADDED +w1 " 1 &&
	k label pod w1 -n w seen=yes &&
	wait_rows watch.out "^MODIFIED +w1 " 1 &&
	k delete pod w1 -n w --wait=false &&
	wait_rows watch.out "^DELETED +w1 " 1 &&
	{ kill $watcher 2>/dev/null || :; } &&
	squash <watch.out >t &&
	test_grep "^EVENT NAME READY STATUS RESTARTS AGE$" t &&
	test_grep "^ADDED w1 0/1 Pending 0 " t
'

test_expect_success 'get -w prints the existing pods first, then changes' '
	k run w2 --image=img:1 -n w &&
	k_bg watch2.out 20 get pods -n w -w &&
	watcher=$K_BG_PID &&
	wait_rows watch2.out "^w2 " 1 &&
	k annotate pod w2 -n w note=1 &&
	wait_rows watch2.out "^w2 " 2 &&
	{ kill $watcher 2>/dev/null || :; } &&
	test $(grep -c "^NAME " watch2.out) = 1
'

test_expect_success 'get -w -o name on a label selector sees only matching pods' '
	k_bg watch3.out 20 get pods -n w -w -l app=yes -o name &&
	watcher=$K_BG_PID &&
	sleep 1 &&
	k run w3 --image=img:1 -n w --labels=app=no &&
	k run w4 --image=img:1 -n w --labels=app=yes &&
	wait_rows watch3.out "^pod/w4$" 1 &&
	{ kill $watcher 2>/dev/null || :; } &&
	test_grep -v "w3" watch3.out
'

test_expect_success 'a pod relabelled out of a watched selector is DELETED for that watch, and back in ADDED' '
	k_bg watch5.out 20 get pods -n w -w -l app=yes --output-watch-events &&
	watcher=$K_BG_PID &&
	wait_rows watch5.out "^ADDED +w4 " 1 &&
	k label pod w4 -n w --overwrite app=no &&
	wait_rows watch5.out "^DELETED +w4 " 1 &&
	k label pod w4 -n w --overwrite app=yes &&
	wait_rows watch5.out "^ADDED +w4 " 2 &&
	{ kill $watcher 2>/dev/null || :; } &&
	test_grep -v "w3" watch5.out
'

test_expect_success 'get -w on one deployment by name sees its scale' '
	k create deployment wd --image=img:1 -n w &&
	k_bg watch4.out 20 get deploy wd -n w -w -o jsonpath="{.spec.replicas}{\"\\n\"}" &&
	watcher=$K_BG_PID &&
	wait_rows watch4.out "^1$" 1 &&
	k scale deploy wd -n w --replicas=4 &&
	wait_rows watch4.out "^4$" 1 &&
	{ kill $watcher 2>/dev/null || :; }
'

test_expect_success 'the raw watch stream: one JSON event per line, from a resourceVersion' '
	api GET /api/v1/namespaces/w/pods >list.json &&
	rv=$(json_get list.json o.metadata.resourceVersion) &&
	test -n "$rv" &&
	k run w5 --image=img:1 -n w &&
	k delete pod w5 -n w --wait=false &&
	{ curl -sN --max-time 3 "$BERTH_URL/api/v1/namespaces/w/pods?watch=true&resourceVersion=$rv" >stream.out ||
		test $? = 28; } &&
	test -s stream.out &&
	node -e "
		const lines = require(\"fs\").readFileSync(\"stream.out\", \"utf8\").split(\"\\n\").filter(l => l);
		const ev = lines.map(l => JSON.parse(l)).filter(e => e.object.metadata.name === \"w5\");
		console.log(ev.map(e => e.type + \":\" + e.object.kind + \":\" + e.object.apiVersion).join(\"\\n\"));
	" >actual &&
	printf "ADDED:Pod:v1\nDELETED:Pod:v1\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'a first watch on a resource catches up from an older resourceVersion' '
	k create configmap old1 -n w --from-literal=a=1 &&
	api GET /api/v1/namespaces/w/configmaps >cms.json &&
	rv=$(json_get cms.json o.metadata.resourceVersion) &&
	k create configmap old2 -n w --from-literal=a=2 &&
	k delete configmap old1 -n w &&
	{ curl -sN --max-time 3 "$BERTH_URL/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=$rv" >cstream.out ||
		test $? = 28; } &&
	node -e "
		const lines = require(\"fs\").readFileSync(\"cstream.out\", \"utf8\").split(\"\\n\").filter(l => l);
		console.log(lines.map(l => JSON.parse(l)).map(e => e.type + \":\" + (e.object.metadata || {}).name).join(\"\\n\"));
	" >actual &&
	printf "ADDED:old2\nDELETED:old1\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'watch with timeoutSeconds ends by itself' '
	start=$SECONDS &&
	curl -sN --max-time 10 "$BERTH_URL/api/v1/namespaces/w/pods?watch=true&timeoutSeconds=1" >/dev/null &&
	test $((SECONDS - start)) -le 5
'

test_expect_success 'restart berth with a small watch window' '
	restart_berth --watch-window 5
'

test_expect_success 'a watch from a trimmed resourceVersion is 410 Expired' '
	api GET /api/v1/namespaces/w/configmaps >cms.json &&
	rv=$(json_get cms.json o.metadata.resourceVersion) &&
	for i in $(seq 1 300); do
		api POST /api/v1/namespaces/w/configmaps "{\"metadata\":{\"name\":\"e$i\"}}" >/dev/null &&
		test "$API_CODE" = 201 || return 1
	done &&
	{ curl -sN --max-time 3 "$BERTH_URL/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=$rv" >expired.out ||
		test $? = 28; } &&
	test_grep "\"code\": *410" expired.out &&
	test_grep "\"reason\": *\"Expired\"" expired.out &&
	test_grep "too old resource version" expired.out
'

test_done
