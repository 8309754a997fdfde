#!/bin/bash
test_description='two controller managers (berth controllers) against one API server: only the Lease holder acts, the other takes over'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth

start_redis && start_berth || test_bail_out 'cannot start berth'

# start_manager N: a standalone controller manager with a short Lease, its pid in CM_PID_N
start_manager() {
	"$BERTH_BIN" controllers --server "$BERTH_URL" --policies "$TOP/policies" --lua "$TOP/lua" \
		--plugins "$TOP/plugins" --lease-seconds 3 </dev/null >>"$TRASH/controllers-$1.log" 2>&1 &
	eval "CM_PID_$1=$!"
	test_bg_pid $!
}

holder() {
	k -n kube-system get lease berth-controller-manager -o jsonpath='{.spec.holderIdentity}'
}

has_holder() {
	test -n "$(holder)"
}

holder_is_not() {
	h=$(holder) && test -n "$h" && test "$h" != "$1"
}

pods_are() {
	test "$(k get pods -l "$1" -o name | wc -l)" -eq "$2"
}

test_expect_success 'two controller managers, one Lease holder' '
	start_manager 1 &&
	start_manager 2 &&
	test_wait_until 10 has_holder
'

test_expect_success 'a ReplicaSet gets exactly its pods: the other manager does not act' '
	first=$(holder) &&
	k create deployment web --image=busybox --replicas=4 &&
	test_wait_until 20 pods_are app=web 4 &&
	sleep 2 &&
	pods_are app=web 4 &&
	test "$(k get rs -l app=web -o name | wc -l)" -eq 1 &&
	test "$(grep -c "acquired lease" "$TRASH"/controllers-*.log | awk -F: "{s+=\$2} END {print s}")" = 1
'

test_expect_success 'when the leader stops, the other takes the Lease and reconciles' '
	for n in 1 2; do
		eval pid=\$CM_PID_$n
		if grep -q "acquired lease" "$TRASH/controllers-$n.log"; then
			kill "$pid" && wait "$pid"
		fi
	done &&
	test_wait_until 15 holder_is_not "$first" &&
	k scale deployment web --replicas=6 &&
	test_wait_until 20 pods_are app=web 6
'

test_done
