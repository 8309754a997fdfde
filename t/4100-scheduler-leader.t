#!/bin/bash
test_description='two schedulers against one API server: only the Lease holder schedules, the other takes over'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth

start_redis && start_berth || test_bail_out 'cannot start berth'

# start_scheduler N: a standalone scheduler with a short Lease, its pid in SCHED_PID_N
start_scheduler() {
	"$BERTH_BIN" scheduler --server "$BERTH_URL" --policies "$TOP/policies" --lua "$TOP/lua" \
		--lease-seconds 3 </dev/null >>"$TRASH/scheduler-$1.log" 2>&1 &
	eval "SCHED_PID_$1=$!"
	test_bg_pid $!
}

holder() {
	k -n kube-system get lease berth-scheduler -o jsonpath='{.spec.holderIdentity}'
}

has_holder() {
	test -n "$(holder)"
}

holder_is_not() {
	h=$(holder) && test -n "$h" && test "$h" != "$1"
}

node_of() {
	k get pod "$1" -o jsonpath='{.spec.nodeName}'
}

has_node() {
	test -n "$(node_of "$1")"
}

pod() {
	api POST /api/v1/namespaces/default/pods "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
	 \"metadata\":{\"name\":\"$1\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"img:1\"}]}}" \
		>/dev/null && test "$API_CODE" = 201
}

test_expect_success 'a node, and two schedulers' '
	api POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"},
	  \"status\":{\"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"},
	  \"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}" >/dev/null &&
	test "$API_CODE" = 201 &&
	start_scheduler 1 &&
	start_scheduler 2 &&
	test_wait_until 10 has_holder
'

test_expect_success 'exactly one of them leads, and pods get scheduled' '
	first=$(holder) &&
	pod p1 &&
	test_wait_until 15 has_node p1 &&
	test "$(grep -c "acquired lease" "$TRASH"/scheduler-*.log | awk -F: "{s+=\$2} END {print s}")" = 1
'

test_expect_success 'when the leader stops, the other takes the Lease and schedules' '
	for n in 1 2; do
		eval pid=\$SCHED_PID_$n
		if grep -q "acquired lease" "$TRASH/scheduler-$n.log"; then
			kill "$pid" && wait "$pid"
		fi
	done &&
	test_wait_until 15 holder_is_not "$first" &&
	pod p2 &&
	test_wait_until 15 has_node p2 &&
	k -n kube-system get lease berth-scheduler -o jsonpath="{.spec.leaseTransitions}" >transitions &&
	test "$(cat transitions)" -ge 1
'

test_done
