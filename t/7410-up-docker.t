#!/bin/bash
# 7410-up-docker.t: `berth up` with nodes, against the real Docker engine: from an empty data
# directory to a Ready node, the hello example (a Deployment of three web pods behind a
# NodePort Service) answering from three different pods on 127.0.0.1, a stop and a resume
# that adopts the running containers (same ids, same restart counts, no duplicates), and
# --nodes 2.
#
# Node names carry this run's pid (--node-prefix): an agent removes every container of its
# node name that its own cluster does not know, so a test must never run a node-1 next to a
# developer's `make run`. Every container of those nodes is removed at exit.

test_description='berth up: nodes through Docker, the hello example, stop and adopt'
. "$(dirname "$0")/lib/test-lib.sh"
test_require kubectl berth curl redis docker

test_docker_images

P=t7410-$$-
DIR=$TRASH/data
UP_PID=
UP_OUT=

cleanup_containers() {
	local n ids
	for n in ${P}1 ${P}2; do
		ids=$(docker ps -aq --filter "label=berth.node=$n" 2>/dev/null)
		[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
	done
}
# The EXIT trap of test-lib sends SIGTERM to berth up (test_bg_pid); containers go after.
trap 'test_stop_services; sleep 1; cleanup_containers; test_exit_trap_' EXIT

up_start() {
	UP_OUT=$1
	shift
	"$BERTH_BIN" up "$@" </dev/null >"$UP_OUT" 2>&1 &
	UP_PID=$!
	test_bg_pid "$UP_PID"
	test_wait_until 120 eval "grep -q \"the cluster is up\" \"$UP_OUT\" || ! kill -0 $UP_PID" &&
	grep -q "the cluster is up" "$UP_OUT" || {
		cat "$UP_OUT"
		return 1
	}
}

up_stop() {
	test_kill_pid "$UP_PID" 60
	UP_PID=
	test "$test_kill_status" = 0 || {
		echo "berth up exited with $test_kill_status" >&2
		cat "$UP_OUT" >&2
		return 1
	}
}

kc() {
	timeout 60 "$KUBECTL" --kubeconfig "$DIR/kubeconfig" --cache-dir "$TRASH/kcache" "$@"
}

node_ready() {
	test "$(kc get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True
}

ctr_count() {
	docker ps -q --filter "label=berth.node=${P}1" "$@" | wc -l
}

# A free node port of the default range, not 30080 (make run's).
free_node_port() {
	local i p
	for i in $(seq 1 200); do
		p=$((30000 + RANDOM % 2768))
		[ $p != 30080 ] && test_port_free $p && { echo $p; return 0; }
	done
	return 1
}

# pods_state: "name containerID restartCount" per pod of the hello Deployment, sorted.
pods_state() {
	kc get pods -l app=hello -o jsonpath='{range .items[*]}{.metadata.name} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}{"\n"}{end}' |
		sort
}

# answers N: N requests through the node port, one connection each; the distinct answers.
answers() {
	local i
	for i in $(seq 1 "$1"); do
		curl -s --max-time 3 "http://127.0.0.1:$NODEPORT/"
	done | sort -u
}

PORT=$(test_free_port) || test_bail_out "no free port"
NODEPORT=$(free_node_port) || test_bail_out "no free node port"

test_expect_success 'berth up from an empty data directory: node Ready' '
	up_start out1 --data-dir "$DIR" --listen 127.0.0.1:$PORT --node-prefix $P &&
	grep -q "nodes       ${P}1 Ready" out1 &&
	kc get nodes >nodes &&
	test_grep "^${P}1 *Ready " nodes &&
	test -s "$DIR/logs/${P}1.log" && test -s "$DIR/logs/proxy.log" &&
	test -d "$DIR/nodes/${P}1"
'

test_expect_success 'the hello example answers from three pods on its node port' '
	mkdir -p hello &&
	cp "$TOP"/examples/hello/*.yaml hello/ &&
	sed -i "s/nodePort: 30080/nodePort: $NODEPORT/" hello/service.yaml &&
	grep -q "nodePort: $NODEPORT" hello/service.yaml &&
	kc apply -f hello/ &&
	kc rollout status deployment/hello --timeout=90s &&
	test_wait_until 30 eval "test \$(answers 6 | grep -c \"^hello from hello-\") -eq 3" &&
	answers 9 >seen &&
	test $(grep -c "^hello from hello-" seen) -eq 3
'

test_expect_success 'the agent takes requests from the API server only: logs and exec work, its port refuses others' '
	test "$(stat -c %a "$DIR/agent-token")" = 600 &&
	pod=$(kc get pods -l app=hello -o jsonpath="{.items[0].metadata.name}") &&
	kc exec "$pod" -- cat /www/index.html | grep -q "^hello from $pod" &&
	kc logs "$pod" >/dev/null &&
	ep=$(kc get node ${P}1 -o jsonpath="{.metadata.annotations.berth\.dev/agent-endpoint}") &&
	test -n "$ep" &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$ep/containerLogs/default/$pod/web")" = 401 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer wrong" "$ep/containerLogs/default/$pod/web")" = 401
'

test_expect_success 'SIGTERM stops the cluster, the pods keep running' '
	pods_state >before &&
	test $(wc -l <before) -eq 3 &&
	test "$(ctr_count)" -eq 6 &&
	up_stop &&
	test_grep "pods keep running" out1 &&
	test -z "$(pgrep -f -- "$DIR/")" &&
	test -z "$(pgrep -f -- "127.0.0.1:$PORT")" &&
	test "$(ctr_count)" -eq 6
'

test_expect_success 'berth up again adopts them: same containers, same restart counts' '
	up_start out2 --data-dir "$DIR" &&
	grep -q "nodes       ${P}1 Ready" out2 &&
	test_wait_until 30 eval "pods_state >after && test_cmp before after" &&
	test_cmp before after &&
	test "$(docker ps -aq --filter "label=berth.node=${P}1" | wc -l)" -eq 6 &&
	kc get deployment hello -o jsonpath="{.status.readyReplicas}" >ready &&
	printf 3 >expect && test_cmp expect ready &&
	test_wait_until 30 eval "test \$(answers 6 | grep -c \"^hello from hello-\") -eq 3"
'

test_expect_success 'deleting the Deployment removes its containers' '
	kc delete deployment hello &&
	kc delete service hello &&
	test_wait_until 60 eval "test \$(docker ps -aq --filter label=berth.node=${P}1 | wc -l) -eq 0"
'

test_expect_success '--nodes 2: two Ready nodes' '
	up_stop &&
	up_start out3 --data-dir "$DIR" --nodes 2 &&
	grep -q "nodes       ${P}1 Ready" out3 &&
	grep -q "            ${P}2 Ready" out3 &&
	kc get nodes >nodes &&
	test_grep "^${P}1 *Ready " nodes &&
	test_grep "^${P}2 *Ready " nodes &&
	test -s "$DIR/logs/${P}2.log"
'

test_expect_success 'the node names are locked on this Docker engine' '
	test_must_fail timeout 60 "$BERTH_BIN" up --data-dir "$TRASH/other" \
		--listen 127.0.0.1:$(test_free_port) --node-prefix $P >other.out 2>&1 &&
	test_grep "node ${P}1 is already run on this Docker engine by another berth up" other.out
'

test_expect_success 'stop: nothing of the cluster left' '
	up_stop &&
	test -z "$(pgrep -f -- "$DIR/")" &&
	! ls /tmp/berth-nodes/*-${P}1.lock 2>/dev/null &&
	test "$(docker ps -aq --filter "label=berth.node=${P}1" | wc -l)" -eq 0 &&
	test "$(docker ps -aq --filter "label=berth.node=${P}2" | wc -l)" -eq 0
'

test_expect_success 'no sanitizer report from berth up or its children' '
	! grep -E -n "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$TRASH"/out* "$TRASH"/*.out "$DIR"/logs/*.log
'

test_done
