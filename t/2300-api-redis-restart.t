#!/bin/bash
# 2300-api-redis-restart.t: the API server while its Redis goes away and comes back: quick
# 503s with a Status body, /readyz, reconnection by itself, open watches closed, and data
# (AOF) and resourceVersions carried across the restart.

test_description='API server: Redis stop and restart'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/data/api-helpers.sh"
test_require redis berth curl node

test_expect_success 'start a redis-server with AOF and berth' '
	start_redis --aof &&
	start_berth
'
[ -n "$BERTH_PID" ] || test_done

NS=/api/v1/namespaces/default
CMS=$NS/configmaps

# watch_bg FILE RV: a configmap watch from RV in the background (at most 20 s), events into
# FILE; its pid in WATCH_PID.
watch_bg() {
	curl -sN --max-time 20 "$BERTH_URL$CMS?watch=true&resourceVersion=$2" >"$1" 2>/dev/null </dev/null &
	WATCH_PID=$!
	test_bg_pid "$WATCH_PID"
}

# http_code PATH: the status code of GET PATH (curl bounded to 2 s; 000 if no answer).
http_code() {
	curl -s -o /dev/null --max-time 2 -w "%{http_code}" "$BERTH_URL$1"
}

test_expect_success 'write objects before the restart' '
	expect_code 201 POST $CMS "$(cm_json keep1 "{\"a\":\"b\"}" "{\"k\":\"v1\"}")" >keep1.json &&
	expect_code 201 POST $CMS "$(cm_json keep2)" >keep2.json &&
	expect_code 201 POST $NS/pods "$(pod_json keep-pod)" >pod.json &&
	expect_code 200 PATCH $CMS/keep1 "{\"data\":{\"k\":\"v2\"}}" application/merge-patch+json >keep1.json &&
	expect_code 200 GET $CMS >before-list.json &&
	rv_before=$(rv_of before-list.json) &&
	test -n "$rv_before"
'

test_expect_success 'open a watch that is live' '
	curl -sN --max-time 60 "$BERTH_URL$CMS?watch=true&resourceVersion=$rv_before" >watch.out 2>/dev/null </dev/null &
	WATCH_PID=$! &&
	test_bg_pid $WATCH_PID &&
	expect_code 201 POST $CMS "$(cm_json live)" >/dev/null &&
	test_wait_until 10 eval "test \$(lines_of watch.out) -ge 1" &&
	test_grep "\"ADDED\"" watch.out &&
	expect_code 200 GET $CMS >before-list.json &&
	rv_before=$(rv_of before-list.json)
'

test_expect_success 'stop Redis' '
	stop_redis &&
	! redis_ping
'

test_expect_success 'the open watch is closed when Redis stops' '
	test_wait_until 15 eval "! kill -0 $WATCH_PID" &&
	lines=$(lines_of watch.out) &&
	if [ "$lines" -gt 1 ]; then
		tail -n 1 watch.out >last.json &&
		jeq last.json o.type ERROR
	fi
'

test_expect_success 'no watch stream is left open after Redis stopped' '
	test_wait_until 10 eval "curl -s --max-time 2 $BERTH_URL/metrics | grep -q \"^apiserver_longrunning_requests{verb=\\\"WATCH\\\"} 0\$\""
'

test_expect_success 'GET while Redis is down answers 503 quickly with a Status' '
	API_TIMEOUT=2 expect_status 503 ServiceUnavailable GET $CMS/keep1
'

test_expect_success 'list while Redis is down answers 503 with a Status' '
	API_TIMEOUT=2 expect_status 503 ServiceUnavailable GET $CMS
'

test_expect_success 'writes while Redis is down answer 503 with a Status' '
	API_TIMEOUT=2 expect_status 503 ServiceUnavailable POST $CMS "$(cm_json down)" &&
	API_TIMEOUT=2 expect_status 503 ServiceUnavailable PUT $CMS/keep2 @keep2.json &&
	API_TIMEOUT=2 expect_status 503 ServiceUnavailable PATCH $CMS/keep2 "{\"data\":{\"x\":\"y\"}}" application/merge-patch+json &&
	API_TIMEOUT=2 expect_status 503 ServiceUnavailable DELETE $CMS/keep2 &&
	API_TIMEOUT=2 expect_status 503 ServiceUnavailable DELETE "$CMS?labelSelector=a"
'

test_expect_success 'a new watch while Redis is down fails quickly (503 or an ERROR event)' '
	curl -sN --max-time 15 -o wdown.out -w "%{http_code}" "$BERTH_URL$CMS?watch=true&resourceVersion=$rv_before" >wcode &&
	cat wcode wdown.out &&
	if [ "$(cat wcode)" = 503 ]; then
		status_is wdown.out 503 ServiceUnavailable
	else
		test "$(cat wcode)" = 200 &&
		test $(lines_of wdown.out) = 1 &&
		jeq wdown.out o.type ERROR &&
		jeq wdown.out o.object.code 503
	fi
'

test_expect_success '/readyz is 503 while Redis is down, /healthz stays up' '
	test "$(http_code /readyz)" = 503 &&
	test "$(http_code /healthz)" = 200
'

test_expect_success 'restart Redis on the same port with the same data' '
	restart_redis &&
	redis_ping
'

test_expect_success 'berth reconnects by itself: /readyz becomes 200' '
	test_wait_until 20 eval "test \"\$(http_code /readyz)\" = 200"
'

test_expect_success 'objects written before the restart are still there (AOF)' '
	expect_code 200 GET $CMS/keep1 >k1.json &&
	jeq k1.json o.data.k v2 &&
	jeq k1.json o.metadata.uid "$(json_get keep1.json o.metadata.uid)" &&
	jeq k1.json o.metadata.resourceVersion "$(rv_of keep1.json)" &&
	expect_code 200 GET $CMS/keep2 >/dev/null &&
	expect_code 200 GET $NS/pods/keep-pod >/dev/null &&
	expect_code 200 GET $CMS >after-list.json &&
	jeq after-list.json "o.items.map(i => i.metadata.name).join()" keep1,keep2,live &&
	jcheck after-list.json "+o.metadata.resourceVersion >= $rv_before"
'

test_expect_success 'writes after the restart get larger resourceVersions' '
	expect_code 201 POST $CMS "$(cm_json after)" >after.json &&
	jcheck after.json "+o.metadata.resourceVersion > $rv_before" &&
	expect_code 200 PATCH $CMS/keep1 "{\"data\":{\"k\":\"v3\"}}" application/merge-patch+json >k1b.json &&
	jcheck k1b.json "+o.metadata.resourceVersion > +$(rv_of after.json)"
'

test_expect_success 'optimistic concurrency still holds after the restart' '
	expect_status 409 Conflict PUT $CMS/keep1 @keep1.json
'

test_expect_success 'a watch after the restart sees new events' '
	expect_code 200 GET $CMS >l.json &&
	rv=$(rv_of l.json) &&
	watch_bg watch2.out "$rv" &&
	expect_code 201 POST $CMS "$(cm_json after2)" >/dev/null &&
	test_wait_until 10 eval "test \$(lines_of watch2.out) -ge 1" &&
	test_grep "\"ADDED\"" watch2.out &&
	test_grep "\"after2\"" watch2.out &&
	kill $WATCH_PID
'

test_expect_success 'a watch resumed from before the restart replays what it missed' '
	watch_bg watch3.out "$rv_before" &&
	test_wait_until 10 eval "test \$(lines_of watch3.out) -ge 3" &&
	sleep 0.5 &&
	node -e "
		const ev = require(\"fs\").readFileSync(\"watch3.out\", \"utf8\").trim().split(\"\\n\").map(JSON.parse);
		console.log(ev.map(e => e.type + \" \" + e.object.metadata.name).join(\"\\n\"));
	" >actual &&
	printf "ADDED after\nMODIFIED keep1\nADDED after2\n" >expect &&
	test_cmp expect actual &&
	kill $WATCH_PID
'

test_expect_success 'a second outage: requests fail fast again, then recover' '
	stop_redis &&
	API_TIMEOUT=2 expect_status 503 ServiceUnavailable GET $CMS/keep1 &&
	restart_redis &&
	test_wait_until 20 eval "test \"\$(http_code /readyz)\" = 200" &&
	expect_code 200 GET $CMS/keep1 >k.json &&
	jeq k.json o.data.k v3
'

# A Redis that hangs (SIGSTOP) instead of going away: the kernel still accepts connections
# to it, but nothing answers. The server must not hang with it, and once it has seen that
# Redis does not answer it must not call itself ready or make every request wait again.
test_expect_success 'a hung Redis: a request still gets an answer (503) within 20 s' '
	expect_code 200 GET $CMS >l.json &&
	watch_bg whang.out "$(rv_of l.json)" &&
	hang_watch=$WATCH_PID &&
	expect_code 201 POST $CMS "$(cm_json before-hang)" >/dev/null &&
	test_wait_until 10 eval "test \$(lines_of whang.out) -ge 1" &&
	kill -STOP $REDIS_PID &&
	API_TIMEOUT=20 expect_status 503 ServiceUnavailable GET $CMS/keep1
'

test_expect_success 'a hung Redis: /readyz is not 200 while Redis does not answer' '
	sleep 1 &&
	code=$(http_code /readyz) &&
	echo "readyz: $code" &&
	test "$code" = 503
'

# watch.c reads with XREAD BLOCK 5000 so that "a silent dead connection then shows within
# seconds": the hub must notice and close its watchers, as when Redis stops.
test_expect_success 'a hung Redis: an open watch is closed within 20 s' '
	test_wait_until 20 eval "! kill -0 $hang_watch"
'

test_expect_success 'a hung Redis: later requests answer 503 quickly' '
	API_TIMEOUT=2 expect_status 503 ServiceUnavailable GET $CMS/keep2
'

test_expect_success 'resume the hung Redis' '
	kill -CONT $REDIS_PID &&
	redis_ping
'

test_expect_success 'after a hung Redis resumes, the server recovers by itself' '
	test_wait_until 20 eval "test \"\$(http_code /readyz)\" = 200" &&
	expect_code 200 GET $CMS/keep1 >k.json &&
	jeq k.json o.data.k v3 &&
	expect_code 201 POST $CMS "$(cm_json after-hang)" >/dev/null
'

test_done
