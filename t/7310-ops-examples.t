#!/bin/bash
test_description='examples/ops: drain, restart, canary and chaos scripts (berth run) against controllers and simulated nodes'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth

OPS=$TOP/examples/ops

# Scheduler and controllers in the server; the fakelet plays the kubelet of every node.
BERTH_SERVER_ARGS=
start_redis && start_berth --policies "$TOP/policies" --lua "$TOP/lua" ||
	test_bail_out 'cannot start berth'
fake_nodes node-a node-b node-c || test_bail_out "cannot create the nodes"
start_fakelet --heartbeat 10

# ops SCRIPT ARGS...: an example under berth run, bounded.
ops() {
	local s=$1
	shift
	timeout 120 "$BERTH_BIN" run --server "$BERTH_URL" "$OPS/$s" "$@"
}

# expect_code CODE CMD...: CMD exits with exactly CODE.
expect_code() {
	local want=$1 got
	shift
	"$@"
	got=$?
	[ "$got" = "$want" ] && return 0
	echo "expect_code: $* exited $got, want $want" >&2
	return 1
}

jp() {
	k get "$1" -o jsonpath="$2"
}

# live_pods SELECTOR: "name node ready" of the pods not being deleted.
live_pods() {
	k get pods -l "$1" -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.conditions[?(@.type=="Ready")].status} {.metadata.deletionTimestamp}{"\n"}{end}' |
		awk 'NF == 3 {print $1, $2, $3}'
}

# deployment NAME REPLICAS [NODESELECTOR]: a Deployment manifest.
deployment() {
	local sel=
	[ -z "${3:-}" ] || sel="nodeSelector: {$3}"
	cat <<-EOF
	apiVersion: apps/v1
	kind: Deployment
	metadata: {name: $1}
	spec:
	  replicas: $2
	  selector: {matchLabels: {app: $1}}
	  template:
	    metadata: {labels: {app: $1}}
	    spec:
	      $sel
	      containers: [{name: c, image: busybox}]
	EOF
}

test_expect_success 'setup: a Deployment of 6 pods over three nodes' '
	deployment web 6 >web.yaml &&
	k apply -f web.yaml &&
	k rollout status deployment/web --timeout=60s &&
	live_pods app=web >pods &&
	test "$(grep -c " True$" pods)" = 6
'

test_expect_success 'drain: usage errors and a missing node' '
	expect_code 2 ops drain.lua 2>err &&
	test_grep "usage: berth run drain.lua NODE" err &&
	expect_code 1 ops drain.lua nope 2>err &&
	test_grep "^berth run: .*drain.lua:[0-9]*: node \"nope\" not found" err
'

test_expect_success 'drain refuses a pod without a controller unless --force; mirror pods are ignored' '
	api POST /api/v1/namespaces/default/pods "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
	  \"metadata\":{\"name\":\"bare\"},\"spec\":{\"nodeName\":\"node-a\",
	  \"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}" >/dev/null &&
	api POST /api/v1/namespaces/default/pods "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
	  \"metadata\":{\"name\":\"static\",\"annotations\":{\"kubernetes.io/config.mirror\":\"x\"}},
	  \"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}" >/dev/null &&
	expect_code 1 ops drain.lua node-a >out 2>err &&
	test_grep "node/node-a cordoned" out &&
	test_grep "cannot drain node \"node-a\": 1 pod(s) cannot be evicted: default/bare (no controller" err &&
	test "$(jp node/node-a "{.spec.unschedulable}")" = true
'

test_expect_success 'drain --force: node-a cordoned, its pods evicted and replaced Ready elsewhere' '
	live_pods app=web | awk "\$2 == \"node-a\"" >on-a &&
	test -s on-a &&
	ops drain.lua node-a --force >out &&
	cat out &&
	test_grep "ignoring default/static (mirror pod)" out &&
	test_grep "pod/bare evicted" out &&
	for name in $(cut -d" " -f1 on-a); do
		grep -q "^evicting pod default/$name$" out || echo "not evicted: $name"
		grep -q "^pod/$name evicted$" out || echo "not gone: $name"
	done >missing &&
	test_cmp /dev/null missing &&
	test_grep "ReplicaSet default/web-[a-z0-9]*: 6/6 Ready on node-[bc]" out &&
	test_grep "node/node-a drained" out &&
	test "$(jp node/node-a "{.spec.unschedulable}")" = true &&
	live_pods app=web >after &&
	test "$(grep -c " True$" after)" = 6 &&
	! grep -q " node-a " after &&
	test "$(jp pod/static "{.spec.nodeName}")" = node-a &&
	test_must_fail k get pod bare
'

test_expect_success 'uncordon makes the node schedulable again' '
	ops uncordon.lua node-a >out &&
	test_grep "node/node-a uncordoned" out &&
	test -z "$(jp node/node-a "{.spec.unschedulable}")"
'

test_expect_success 'restart: restartedAt stamped, a new ReplicaSet, all available (rollout status logic)' '
	k get rs -l app=web -o name | sort >rs.before &&
	ops restart.lua web >out &&
	cat out &&
	test_grep "deployment.apps/web restarted" out &&
	test_grep "deployment \"web\" successfully rolled out" out &&
	test_grep "new ReplicaSet web-[a-z0-9]*: 6/6 available" out &&
	jp deploy/web "{.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}" >stamp &&
	grep -q "^20[0-9-]*T[0-9:]*Z$" stamp &&
	k get rs -l app=web -o name | sort >rs.after &&
	new=$(comm -13 rs.before rs.after) &&
	test -n "$new" &&
	test "$(jp "$new" "{.status.availableReplicas}")" = 6 &&
	test "$(jp deploy/web "{.status.availableReplicas}")" = 6 &&
	test "$(jp deploy/web "{.status.updatedReplicas}")" = 6 &&
	expect_code 1 ops restart.lua nope 2>err &&
	test_grep "deployment \"nope\" not found" err
'

test_expect_success 'canary: shift 2 replicas from web to web-canary, checking readiness at each step' '
	deployment web-canary 1 >canary.yaml &&
	k apply -f canary.yaml &&
	k rollout status deployment/web-canary --timeout=60s &&
	ops canary.lua web web-canary 2 >out &&
	cat out &&
	test_grep "shifting 2 replica(s) from web (6) to web-canary (1)" out &&
	test_grep "step 1/2: web=5 web-canary=2, all available" out &&
	test_grep "step 2/2: web=4 web-canary=3, all available" out &&
	test "$(jp deploy/web "{.spec.replicas}")" = 4 &&
	test "$(jp deploy/web-canary "{.spec.replicas}")" = 3 &&
	test "$(jp deploy/web-canary "{.status.availableReplicas}")" = 3 &&
	test "$(jp deploy/web "{.status.availableReplicas}")" = 4
'

test_expect_success 'canary: a canary that never gets Ready is rolled back, exit 1' '
	deployment bad-canary 0 "nowhere: \"true\"" >bad.yaml &&
	k apply -f bad.yaml &&
	expect_code 1 ops canary.lua web bad-canary 1 --timeout 3 >out 2>err &&
	cat out err &&
	test_grep "rolling back to web=4, bad-canary=0" err &&
	test_grep "canary bad-canary failed: step 1: bad-canary not ready with 1 replicas" err &&
	test "$(jp deploy/web "{.spec.replicas}")" = 4 &&
	test "$(jp deploy/bad-canary "{.spec.replicas}")" = 0 &&
	expect_code 2 ops canary.lua web 2>err &&
	test_grep "usage: berth run canary.lua" err
'

test_expect_success 'chaos: a random pod deleted, replaced, the recovery time printed' '
	live_pods app=web | cut -d" " -f1 | sort >before &&
	ops chaos.lua web --seed 7 >out &&
	cat out &&
	victim=$(sed -n "s|^deleting pod default/\([^ ]*\) .*|\1|p" out) &&
	grep -qx "$victim" before &&
	test_grep "recovered in [0-9.]*s: 4/4 available" out &&
	live_pods app=web >after &&
	test "$(grep -c " True$" after)" = 4 &&
	! grep -q "^$victim " after
'

test_expect_success 'the server log is clean' '
	test_berth_log_clean
'

test_done
