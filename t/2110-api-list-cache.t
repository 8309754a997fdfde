#!/bin/bash
# 2110-api-list-cache.t: lists answered from the API server's copy (engine/listcache.c)
# are byte for byte what a server reading Redis answers, right after writes made through
# another server, across pages, selectors and namespaces whose keys interleave; lists go to
# Redis while the copy is being taken, and again when it can no longer be caught up (stream
# trimmed, too many changes, Redis emptied) until it was taken anew; copies in use are
# caught up in the background.

test_description='API server: the list cache answers as the store does'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis berth curl kubectl node

# A: the cache, caught up only when listed, so that what each list finds is known.
setup_berth --list-cache-refresh 0
A_URL=$BERTH_URL A_PID=$BERTH_PID

test_expect_success 'a second server on the same Redis, without the cache' '
	start_berth --no-list-cache &&
	B_URL=$BERTH_URL B_PID=$BERTH_PID &&
	test_bg_pid $A_PID &&
	test_bg_pid $B_PID
'

# on URL CMD...: run CMD against the server at URL.
on() { local u=$1; shift; BERTH_URL=$u "$@"; }

# same PATH: A and B answer PATH with the same code and the same bytes.
same() {
	on "$A_URL" api GET "$1" >a.out && code_a=$(api_code) &&
	on "$B_URL" api GET "$1" >b.out && code_b=$(api_code) &&
	test "$code_a" = "$code_b" &&
	test_cmp b.out a.out
}

# metric NAME LABELS: A's value of NAME{LABELS} in /metrics (0 when absent).
metric() {
	on "$A_URL" api GET /metrics | awk -v k="$1{$2}" '$1 == k { v = $2 } END { print v + 0 }'
}
# same_table PATH: as same, for Tables: the Age cells (the two answers may straddle a
# second) are left out of the comparison.
same_table() {
	same "$1" || {
		test "$code_a" = "$code_b" &&
		sed -E 's/,"[0-9][0-9a-z]*"\]/,"AGE"]/g' a.out >a.table &&
		sed -E 's/,"[0-9][0-9a-z]*"\]/,"AGE"]/g' b.out >b.table &&
		test_cmp b.table a.table
	}
}

snapshots() { metric berth_list_cache_snapshots_total 'resource="configmaps"'; }
from_cache() { metric berth_list_cache_lists_total 'resource="configmaps",source="cache"'; }
from_store() { metric berth_list_cache_lists_total 'resource="configmaps",source="store"'; }
copies_at_least() { test "$(snapshots)" -ge "$1"; }
# ready N: wait (10 s) until A has taken N copies of configmaps.
ready() { test_wait_until 10 copies_at_least "$1"; }
# c_objects: the objects C's copy of configmaps holds.
c_objects() {
	on "$C_URL" api GET /metrics |
		awk -v k='berth_list_cache_objects{resource="configmaps"}' '$1 == k { v = $2 } END { print v + 0 }'
}
c_objects_is() { test "$(c_objects)" = "$1"; }
c_objects_above() { test "$(c_objects)" -gt "$1"; }
ns_copies_is() { test "$(metric berth_list_cache_snapshots_total 'resource="namespaces"')" = "$1"; }

cm() { printf '{"metadata":{"name":"%s","labels":{"tier":"%s"}},"data":{"k":"%s"}}' "$1" "$2" "$3"; }

test_expect_success 'namespaces whose keys interleave, names that sort around them' '
	for ns in x x-y xy; do
		on "$B_URL" api POST /api/v1/namespaces "{\"metadata\":{\"name\":\"$ns\"}}" >/dev/null &&
		test "$(api_code)" = 201 || return 1
	done &&
	for ns in x x-y xy; do
		for n in a a-b a.b a0 b; do
			on "$B_URL" api POST /api/v1/namespaces/$ns/configmaps "$(cm $n web$((${#n} % 2)) v)" >/dev/null &&
			test "$(api_code)" = 201 || return 1
		done
	done
'

test_expect_success 'the first list is read from Redis and starts the copy; then the copy answers' '
	same /api/v1/configmaps &&
	test "$(from_store)" = 1 &&
	ready 1 &&
	same /api/v1/configmaps &&
	test "$(from_cache)" = 1 &&
	same /api/v1/namespaces/x/configmaps &&
	same /api/v1/namespaces/x-y/configmaps &&
	same /api/v1/namespaces/xy/configmaps &&
	same /api/v1/namespaces/nosuch/configmaps &&
	test "$(from_cache)" = 5 &&
	test "$(snapshots)" = 1
'

test_expect_success 'other kinds have copies of their own' '
	same /api/v1/namespaces &&
	test_wait_until 10 ns_copies_is 1 &&
	same /api/v1/namespaces
'

test_expect_success 'pages, selectors and tables answer as Redis does' '
	same "/api/v1/configmaps?limit=4" &&
	tok=$(json_get a.out "o.metadata.continue") &&
	same "/api/v1/configmaps?limit=4&continue=$tok" &&
	tok=$(json_get a.out "o.metadata.continue") &&
	same "/api/v1/configmaps?limit=100&continue=$tok" &&
	same "/api/v1/namespaces/x-y/configmaps?limit=2" &&
	same "/api/v1/configmaps?labelSelector=tier%3Dweb1" &&
	same "/api/v1/namespaces/x/configmaps?fieldSelector=metadata.name%3Da.b" &&
	test_when_finished "API_HEADERS=()" &&
	API_HEADERS=("Accept: application/json;as=Table;v=v1;g=meta.k8s.io") &&
	same_table /api/v1/namespaces/x/configmaps
'

test_expect_success 'a write through the other server is in the very next list' '
	for i in 1 2 3 4 5 6 7 8 9 10; do
		on "$B_URL" api POST /api/v1/namespaces/x/configmaps "$(cm ryw$i web v$i)" >/dev/null &&
		on "$A_URL" api GET /api/v1/namespaces/x/configmaps >list.json &&
		grep -q "\"name\":\"ryw$i\"" list.json || return 1
		on "$B_URL" api PATCH /api/v1/namespaces/x/configmaps/ryw$i "{\"data\":{\"k\":\"changed$i\"}}" \
			application/merge-patch+json >/dev/null &&
		on "$A_URL" api GET /api/v1/namespaces/x/configmaps >list.json &&
		grep -q "changed$i" list.json || return 1
		on "$B_URL" api DELETE /api/v1/namespaces/x/configmaps/ryw$((i - 1)) >/dev/null
		on "$A_URL" api GET /api/v1/namespaces/x/configmaps >list.json &&
		! grep -q "\"name\":\"ryw$((i - 1))\"" list.json || return 1
	done &&
	same /api/v1/configmaps &&
	test "$(snapshots)" = 1
'

test_expect_success 'selectors match what the objects hold now, after their labels change' '
	same "/api/v1/configmaps?labelSelector=tier%3Dweb0" &&
	same "/api/v1/namespaces/x/configmaps?fieldSelector=metadata.name%3Db" &&
	on "$B_URL" api PATCH /api/v1/namespaces/x/configmaps/a0 "{\"metadata\":{\"labels\":{\"tier\":\"db\"}}}" \
		application/merge-patch+json >/dev/null &&
	same "/api/v1/configmaps?labelSelector=tier%3Dweb0" &&
	! grep -q "\"name\":\"a0\",\"labels\":{\"tier\":\"db\"}" a.out &&
	same "/api/v1/configmaps?labelSelector=tier%3Ddb" &&
	grep -q "\"name\":\"a0\"" a.out &&
	same "/api/v1/configmaps?labelSelector=tier%20in%20(db,web1)&fieldSelector=metadata.namespace%3Dx"
'

test_expect_success 'a continue token after a write to the kind is 410 Expired, as without the cache' '
	on "$A_URL" api GET "/api/v1/configmaps?limit=3" >page.json &&
	tok=$(json_get page.json "o.metadata.continue") &&
	on "$B_URL" api POST /api/v1/namespaces/xy/configmaps "$(cm late web v)" >/dev/null &&
	same "/api/v1/configmaps?limit=3&continue=$tok" &&
	test "$code_a" = 410
'

# items_of FILE: the items of a list, one JSON line; count_of FILE: how many.
items_of() { json_get "$1" "JSON.stringify(o.items)"; }
count_of() { json_get "$1" "o.items.length"; }

test_expect_success 'resourceVersion=0: the whole list from the copy, whatever the limit' '
	on "$A_URL" api GET /api/v1/configmaps >all.json &&
	n=$(count_of all.json) && test "$n" -gt 3 &&
	on "$A_URL" api GET "/api/v1/configmaps?limit=2&resourceVersion=0" >any.json &&
	test "$(api_code)" = 200 &&
	test "$(count_of any.json)" = "$n" &&
	test "$(json_get any.json "o.metadata.continue === undefined")" = true &&
	items_of all.json >all.items && items_of any.json >any.items &&
	test_cmp all.items any.items &&
	on "$A_URL" api GET "/api/v1/namespaces/x/configmaps?limit=1&resourceVersion=0" >nsany.json &&
	on "$A_URL" api GET /api/v1/namespaces/x/configmaps >ns.json &&
	items_of ns.json >ns.items && items_of nsany.json >nsany.items &&
	test_cmp ns.items nsany.items
'

test_expect_success 'resourceVersion=0 with a continue token, or without the cache, pages' '
	on "$A_URL" api GET "/api/v1/configmaps?limit=2" >p1.json &&
	tok=$(json_get p1.json "o.metadata.continue") &&
	on "$A_URL" api GET "/api/v1/configmaps?limit=2&resourceVersion=0&continue=$tok" >p2.json &&
	test "$(count_of p2.json)" = 2 &&
	on "$B_URL" api GET "/api/v1/configmaps?limit=2&resourceVersion=0" >b.json &&
	test "$(count_of b.json)" = 2 &&
	test "$(json_get b.json "typeof o.metadata.continue")" = string
'

test_expect_success 'resourceVersion=0 on a server with no copy yet waits for it, and sees the last write' '
	start_berth &&
	D_URL=$BERTH_URL D_PID=$BERTH_PID &&
	test_bg_pid $D_PID &&
	on "$B_URL" api POST /api/v1/namespaces/x/configmaps "$(cm fresh-for-d web v)" >/dev/null &&
	test "$(api_code)" = 201 &&
	on "$D_URL" api GET "/api/v1/configmaps?limit=1&resourceVersion=0" >d.json &&
	test "$(api_code)" = 200 &&
	on "$B_URL" api GET /api/v1/configmaps >b.json &&
	items_of b.json >b.items && items_of d.json >d.items &&
	test_cmp b.items d.items &&
	grep -q "\"name\":\"fresh-for-d\"" d.json &&
	on "$D_URL" api GET /metrics >d.metrics &&
	grep -q "^berth_list_cache_lists_total{resource=\"configmaps\",source=\"cache\"} 1$" d.metrics &&
	! grep -q "^berth_list_cache_lists_total{resource=\"configmaps\",source=\"store\"}" d.metrics &&
	stop_berth
'

test_expect_success 'lists in parallel with writes all succeed and end up equal' '
	pids= &&
	for i in 1 2 3 4 5 6 7 8; do
		on "$B_URL" api POST /api/v1/namespaces/xy/configmaps "$(cm par$i web v)" >/dev/null &
		pids="$pids $!"
		curl -sf --max-time 20 -o par$i.json "$A_URL/api/v1/configmaps" &
		pids="$pids $!"
	done &&
	for p in $pids; do wait $p || return 1; done &&
	for i in 1 2 3 4 5 6 7 8; do json_get par$i.json "o.items.length" >/dev/null || return 1; done &&
	same /api/v1/configmaps
'

test_expect_success 'more changes than a delta carries: Redis answers until the copy is taken again' '
	before=$(snapshots) stored=$(from_store) &&
	{
		echo "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[" &&
		for i in $(seq 1 1100); do
			[ $i = 1 ] || echo ","
			echo "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"bulk$i\",\"namespace\":\"x-y\"}}"
		done &&
		echo "]}"
	} >bulk.json &&
	on "$B_URL" k create -f bulk.json >/dev/null &&
	same /api/v1/namespaces/x-y/configmaps &&
	test "$(json_get a.out "o.items.length")" = 1105 &&
	test "$(from_store)" = $((stored + 1)) &&
	ready $((before + 1)) &&
	cached=$(from_cache) &&
	same /api/v1/configmaps &&
	test "$(from_cache)" = $((cached + 1))
'

test_expect_success 'changes trimmed from the stream: the copy is taken again' '
	stop_berth &&
	redis_cli CONFIG SET stream-node-max-entries 10 >/dev/null &&
	start_berth --no-list-cache --watch-window 5 &&
	B_URL=$BERTH_URL B_PID=$BERTH_PID &&
	test_bg_pid $B_PID &&
	same /api/v1/configmaps &&
	before=$(snapshots) &&
	for i in $(seq 1 20); do
		on "$B_URL" api POST /api/v1/namespaces/x/configmaps "$(cm tr$i web v)" >/dev/null || return 1
	done &&
	for i in $(seq 1 40); do
		on "$B_URL" api PATCH /api/v1/namespaces/x/configmaps/a "{\"data\":{\"k\":\"t$i\"}}" \
			application/merge-patch+json >/dev/null || return 1
	done &&
	test "$(redis_cli XINFO STREAM berth:s:configmaps | sed -n "/^length$/{n;p}")" -lt 40 &&
	stored=$(from_store) &&
	same /api/v1/namespaces/x/configmaps &&
	grep -q "\"k\":\"t40\"" a.out &&
	test $(grep -o "\"name\":\"tr[0-9]*\"" a.out | wc -l) = 20 &&
	test "$(from_store)" = $((stored + 1)) &&
	ready $((before + 1)) &&
	cached=$(from_cache) &&
	same /api/v1/namespaces/x/configmaps &&
	test "$(from_cache)" = $((cached + 1))
'

test_expect_success 'objects held are reported in /metrics' '
	on "$A_URL" api GET /metrics >metrics &&
	grep -q "^berth_list_cache_objects{resource=\"configmaps\"} 11[0-9][0-9]" metrics
'

test_expect_success 'a copy taken while writes go on ends up equal to Redis' '
	start_berth &&
	C_URL=$BERTH_URL C_PID=$BERTH_PID &&
	test_bg_pid $C_PID &&
	cat >writer.sh <<-\EOF &&
	cm() { printf "{\"metadata\":{\"name\":\"%s\"},\"data\":{\"k\":\"v\"}}" "$1"; }
	for i in $(seq 1 150); do
		curl -s -o /dev/null --max-time 10 -X POST -H "Content-Type: application/json" \
			--data "$(cm cw$i)" "$1/api/v1/namespaces/xy/configmaps"
		curl -s -o /dev/null --max-time 10 -X PATCH -H "Content-Type: application/merge-patch+json" \
			--data "{\"data\":{\"k\":\"w$i\"}}" "$1/api/v1/namespaces/x-y/configmaps/bulk$((i * 7))"
		if [ $((i % 3)) = 0 ]; then
			curl -s -o /dev/null --max-time 10 -X DELETE "$1/api/v1/namespaces/xy/configmaps/cw$((i - 1))"
		fi
	done
	EOF
	{ bash writer.sh "$B_URL" & } &&
	writer=$! &&
	test_bg_pid $writer &&
	sleep 0.2 &&
	for i in 1 2 3 4 5 6 7 8 9 10; do
		BERTH_URL=$C_URL api GET /api/v1/configmaps >/dev/null || return 1
		sleep 0.1
	done &&
	wait $writer &&
	BERTH_URL=$C_URL api GET /api/v1/configmaps >c.out &&
	BERTH_URL=$B_URL api GET /api/v1/configmaps >b.out &&
	test_cmp b.out c.out &&
	on "$C_URL" api GET /metrics >cmetrics &&
	grep -q "^berth_list_cache_lists_total{resource=\"configmaps\",source=\"cache\"}" cmetrics
'

test_expect_success 'a copy in use is caught up in the background' '
	on "$C_URL" api GET /api/v1/namespaces/xy/configmaps >/dev/null &&
	test_wait_until 10 c_objects_above 0 &&
	n=$(c_objects) &&
	for i in 1 2 3; do
		on "$B_URL" api POST /api/v1/namespaces/xy/configmaps "$(cm bg$i web v)" >/dev/null || return 1
	done &&
	test_wait_until 10 c_objects_is $((n + 3))
'

test_expect_success 'Redis emptied under the servers: the copy is dropped, not served' '
	redis_cli FLUSHALL >/dev/null &&
	on "$A_URL" api GET /api/v1/configmaps >after.json &&
	test "$(api_code)" = 200 &&
	test "$(json_get after.json "o.items.length")" = 0 &&
	grep -q "resourceVersion went back" "$TRASH/berth.log"
'

test_expect_success 'the servers stop cleanly' '
	stop_berth &&
	BERTH_PID=$B_PID && stop_berth &&
	BERTH_PID=$A_PID && stop_berth &&
	test_berth_log_clean
'

test_done
