#!/bin/bash
# 7400-up.t: `berth up` without Docker: the control plane alone (--nodes 0) from an empty data
# directory, its kubeconfig, the data-directory lock, the clear message on a machine without
# a Docker engine, a clean SIGTERM, a resume from the append-only file with the settings of
# the last run, a crashed child restarted, --redis, and children that do not outlive a
# `berth up` killed with SIGKILL. The nodes (Docker) are t/7410-up-docker.t.

test_description='berth up: the control plane, the lock, no Docker, stop and resume'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth curl

DIR=$TRASH/data
UP_PID=
UP_OUT=

# up_start OUT ARGS...: `berth up ARGS` in the background, output to OUT; waits (60 s) for
# its "the cluster is up" line. Sets UP_PID, UP_OUT.
up_start() {
	UP_OUT=$1
	shift
	"$BERTH_BIN" up "$@" </dev/null >"$UP_OUT" 2>&1 &
	UP_PID=$!
	test_bg_pid "$UP_PID"
	test_wait_until 60 eval "grep -q \"the cluster is up\" \"$UP_OUT\" || ! kill -0 $UP_PID" &&
	grep -q "the cluster is up" "$UP_OUT" || {
		cat "$UP_OUT"
		return 1
	}
}

# up_stop: SIGTERM berth up (30 s, then SIGKILL); fails unless it exited 0.
up_stop() {
	test_kill_pid "$UP_PID" 30
	UP_PID=
	test "$test_kill_status" = 0 || {
		echo "berth up exited with $test_kill_status" >&2
		cat "$UP_OUT" >&2
		return 1
	}
}

kc() {
	timeout 30 "$KUBECTL" --kubeconfig "$DIR/kubeconfig" --cache-dir "$TRASH/kcache" "$@"
}

# children_of_dir: processes whose command line names the data directory (Redis's socket,
# the server's --redis): none may be left once berth up is gone.
children_of_dir() {
	pgrep -f -- "$DIR/" || true
}

PORT=$(test_free_port) || test_bail_out "no free port"

test_expect_success 'berth up --nodes 0 from an empty data directory serves the API' '
	up_start out1 --data-dir "$DIR" --listen 127.0.0.1:$PORT --nodes 0 &&
	curl -sf "http://127.0.0.1:$PORT/readyz" &&
	grep -q "API         http://127.0.0.1:$PORT" out1 &&
	grep -q "kubeconfig  $DIR/kubeconfig" out1 &&
	grep -q "control plane only" out1 &&
	test -S "$DIR/redis/redis.sock" &&
	test -s "$DIR/logs/server.log" && test -s "$DIR/logs/redis.log" &&
	test "$(cat "$DIR/up.pid")" = "$UP_PID"
'

test_expect_success 'the kubeconfig serves kubectl, namespace default' '
	grep -q "server: http://127.0.0.1:$PORT" "$DIR/kubeconfig" &&
	grep -q "namespace: default" "$DIR/kubeconfig" &&
	kc get namespaces >ns &&
	test_grep "^kube-system " ns &&
	kc create configmap t7400-kept --from-literal=k=v &&
	kc get configmap t7400-kept -o jsonpath="{.metadata.namespace}" >actual &&
	printf default >expect && test_cmp expect actual
'

test_expect_success 'the berth CLI reads the kubeconfig too' '
	"$BERTH_BIN" get configmap t7400-kept --kubeconfig "$DIR/kubeconfig" >cli.out &&
	test_grep "^t7400-kept " cli.out &&
	KUBECONFIG="$DIR/kubeconfig" "$BERTH_BIN" get namespace default >cli2.out &&
	test_grep "^default " cli2.out
'

test_expect_success 'the private Redis keeps an append-only file' '
	ls "$DIR/redis" >files &&
	grep -q "^appendonly" files
'

test_expect_success 'a second berth up on the same data directory refuses' '
	other=$(test_free_port) &&
	test_must_fail timeout 30 "$BERTH_BIN" up --data-dir "$DIR" --listen 127.0.0.1:$other \
		--nodes 0 >second.out 2>&1 &&
	test_grep "is in use by another berth up (pid $UP_PID)" second.out &&
	test "$(cat "$DIR/up.pid")" = "$UP_PID" &&
	! curl -s --max-time 2 "http://127.0.0.1:$other/readyz"
'

test_expect_success 'a crashed child is restarted with a backoff' '
	old=$(pgrep -P $UP_PID -f " server --redis") && test -n "$old" &&
	kill -KILL $old &&
	test_wait_until 20 eval "grep -q \"server was killed by signal 9\" out1" &&
	test_wait_until 30 curl -sf "http://127.0.0.1:$PORT/readyz" &&
	new=$(pgrep -P $UP_PID -f " server --redis") && test -n "$new" && test "$new" != "$old" &&
	test "$(grep -c "^==== berth up: .* server #" "$DIR/logs/server.log")" -ge 2
'

test_expect_success 'SIGTERM stops everything and exits 0' '
	up_stop &&
	test_grep "berth up: stopped; data kept in $DIR" "$UP_OUT" &&
	test -z "$(children_of_dir)" &&
	! curl -s --max-time 2 "http://127.0.0.1:$PORT/readyz" &&
	! test -S "$DIR/redis/redis.sock"
'

test_expect_success 'berth up again resumes: same data, settings of the last run' '
	up_start out2 --data-dir "$DIR" &&
	grep -q "API         http://127.0.0.1:$PORT" out2 &&
	kc get configmap t7400-kept -o jsonpath="{.data.k}" >actual &&
	printf v >expect && test_cmp expect actual &&
	grep -q "\"nodes\": 0" "$DIR/up.json" &&
	grep -q "\"node_prefix\": \"node-\"" "$DIR/up.json"
'

test_expect_success 'a berth up killed with SIGKILL takes its children with it' '
	kill -KILL $UP_PID &&
	{ wait $UP_PID 2>/dev/null; true; } &&
	UP_PID= &&
	test_wait_until 20 eval "test -z \"\$(children_of_dir)\"" &&
	up_start out3 --data-dir "$DIR" &&
	kc get configmap t7400-kept &&
	up_stop
'

test_expect_success 'no Docker engine: a clear message, exit 1, nothing started' '
	d2=$TRASH/nodocker && p2=$(test_free_port) &&
	test_must_fail timeout 60 "$BERTH_BIN" up --data-dir "$d2" --listen 127.0.0.1:$p2 \
		--docker "unix://$TRASH/no-docker-here.sock" >nodocker.out 2>&1 &&
	cat nodocker.out &&
	test_grep "no Docker engine answers on unix://$TRASH/no-docker-here.sock (no such socket)" nodocker.out &&
	test_grep -E "apt-get install docker.io|systemctl start docker" nodocker.out &&
	test_grep -e "--nodes 0 runs the control plane alone" nodocker.out &&
	! test -e "$d2/logs/server.log" &&
	! test -e "$d2/up.json" &&
	! curl -s --max-time 2 "http://127.0.0.1:$p2/readyz"
'

test_expect_success 'a Docker URL nothing listens on: connection refused, said so' '
	# A socket bound but not listening (perl-base is on every Debian machine).
	perl -MIO::Socket::UNIX -e "IO::Socket::UNIX->new(Local => \$ARGV[0]) or die \"bind: \$!\"" \
		"$TRASH/dead.sock" &&
	test_must_fail timeout 60 "$BERTH_BIN" up --data-dir "$TRASH/nodocker2" \
		--listen 127.0.0.1:$(test_free_port) --docker "$TRASH/dead.sock" >dead.out 2>&1 &&
	test_grep "connection refused: nothing listens there" dead.out
'

test_expect_success '--redis URL: the given Redis, no private one' '
	start_redis &&
	d3=$TRASH/ext && p3=$(test_free_port) &&
	up_start out4 --data-dir "$d3" --listen 127.0.0.1:$p3 --nodes 0 --redis "$REDIS_URL" &&
	grep -q "store       $REDIS_URL" out4 &&
	! test -e "$d3/logs/redis.log" &&
	timeout 30 "$KUBECTL" --kubeconfig "$d3/kubeconfig" --cache-dir "$TRASH/kcache" \
		create configmap t7400-ext --from-literal=a=b &&
	redis_cli --scan --pattern "berth:*" | grep -q . &&
	up_stop &&
	redis_ping
'

test_expect_success 'bad arguments: usage, exit 2' '
	test_must_fail "$BERTH_BIN" up --nodes -1 2>err.out &&
	test_grep "wants 0" err.out &&
	"$BERTH_BIN" up --help >help &&
	test_grep "usage: berth up" help
'

test_expect_success 'no sanitizer report from berth up or its children' '
	! grep -E -n "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$TRASH"/out* "$TRASH"/*.out "$DIR"/logs/*.log "$TRASH"/ext/logs/*.log
'

test_done
