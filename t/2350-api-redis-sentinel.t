#!/bin/bash
# 2350-api-redis-sentinel.t: berth against a replicated Redis under Sentinel
# (--redis redis-sentinel://...): it finds the master through the sentinel, and after the
# master dies and the sentinel promotes the replica, it reconnects to the new master by
# itself: the data written before is there, writes succeed again, resourceVersions go on
# increasing, and watches resume.

test_description='API server: Redis Sentinel failover'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis berth curl kubectl

# spawn_redis NAME ARGS...: a redis-server (or sentinel) on a free port, data under
# $TRASH/NAME; sets PORT_<NAME> and PID_<NAME>; waits for PING (5 s).
spawn_redis() {
	local name=$1 port pid i
	shift
	port=$(test_free_port) || return 1
	mkdir -p "$TRASH/$name"
	redis-server "$@" --port "$port" --bind 127.0.0.1 --dir "$TRASH/$name" --save '' \
		--daemonize no --logfile "$TRASH/$name/log" </dev/null >/dev/null 2>&1 &
	pid=$!
	test_bg_pid "$pid"
	eval "PORT_$name=$port PID_$name=$pid"
	for i in $(seq 1 50); do
		redis_ping "$port" && return 0
		sleep 0.1
	done
	echo "spawn_redis: $name did not answer; log:" >&2
	tail -n 20 "$TRASH/$name/log" >&2
	return 1
}

rcli() { timeout 10 redis-cli -h 127.0.0.1 -p "$@"; }
replica_linked() { rcli $PORT_replica info replication | grep -q master_link_status:up; }
master_is() { rcli $PORT_sentinel sentinel get-master-addr-by-name berthm | grep -qx "$1"; }

test_expect_success 'a master, its replica and a sentinel' '
	spawn_redis primary &&
	spawn_redis replica --replicaof 127.0.0.1 $PORT_primary &&
	cat >"$TRASH/sentinel.conf" <<-EOF &&
	sentinel monitor berthm 127.0.0.1 $PORT_primary 1
	sentinel down-after-milliseconds berthm 1000
	sentinel failover-timeout berthm 4000
	sentinel parallel-syncs berthm 1
	EOF
	spawn_redis sentinel "$TRASH/sentinel.conf" --sentinel &&
	test_wait_until 10 replica_linked &&
	test_wait_until 10 master_is $PORT_primary
'

test_expect_success 'berth finds the master through the sentinel' '
	REDIS_URL=redis-sentinel://127.0.0.1:1,127.0.0.1:$PORT_sentinel/berthm/0 &&
	start_berth &&
	k create configmap before --from-literal=k=v &&
	rv_before=$(k get configmap before -o jsonpath="{.metadata.resourceVersion}") &&
	test "$(rcli $PORT_primary dbsize)" -gt 0 &&
	grep -q "master berthm is 127.0.0.1:$PORT_primary" "$TRASH/berth.log"
'

test_expect_success 'a bad sentinel URL is refused with a clear message' '
	test_must_fail "$BERTH_BIN" server --redis redis-sentinel://127.0.0.1:1 --listen 127.0.0.1:1 2>err &&
	test_grep "master-name" err
'

test_expect_success 'a watch is open when the master dies' '
	timeout 40 $KUBECTL --server "$BERTH_URL" get configmaps --watch-only -o name \
		>watch.out 2>watch.err </dev/null &
	WATCH_PID=$! &&
	test_bg_pid $WATCH_PID &&
	rcli $PORT_primary wait 1 2000 >/dev/null &&
	sleep 1 &&
	{ rcli $PORT_primary shutdown nosave >/dev/null 2>&1; true; } &&
	test_wait_until 5 test_port_free $PORT_primary
'

test_expect_success 'the sentinel promotes the replica; berth writes to it' '
	test_wait_until 20 master_is $PORT_replica &&
	test_wait_until 20 k create configmap after --from-literal=k=v &&
	grep -q "master berthm is 127.0.0.1:$PORT_replica" "$TRASH/berth.log"
'

test_expect_success 'data from before the failover is there; resourceVersions increase' '
	k get configmap before -o jsonpath="{.data.k}" >actual &&
	printf v >expect && test_cmp expect actual &&
	rv_after=$(k get configmap after -o jsonpath="{.metadata.resourceVersion}") &&
	test "$rv_after" -gt "$rv_before"
'

test_expect_success 'a new watch sees changes made after the failover' '
	timeout 20 $KUBECTL --server "$BERTH_URL" get configmaps --watch-only -o name \
		>watch2.out 2>/dev/null </dev/null &
	W2=$! && test_bg_pid $W2 &&
	sleep 1 &&
	k create configmap later --from-literal=k=v &&
	test_wait_until 10 grep -q configmap/later watch2.out &&
	kill $W2 $WATCH_PID 2>/dev/null; true
'

test_expect_success 'the server stops cleanly' '
	stop_berth &&
	test_berth_log_clean
'

test_done
