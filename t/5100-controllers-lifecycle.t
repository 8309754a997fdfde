#!/bin/bash
test_description='node lifecycle (a silent node is tainted and its pods move), garbage collection in three modes, namespace deletion'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth

# Short node timings, so a dead node is noticed in seconds.
BERTH_SERVER_ARGS="--node-monitor-grace-period 3 --default-toleration-seconds 2"
start_redis && start_berth || test_bail_out 'cannot start berth'

fake_nodes node-a node-b || test_bail_out "cannot create the nodes"
# One simulated agent per node, heartbeating every second, so one node can die alone.
start_fakelet --log fakelet-a.log --node node-a --heartbeat 1
start_fakelet --log fakelet-b.log --node node-b --heartbeat 1
AGENT_B=$FAKELET_PID

count_pods() {
	k get pods ${2:+-n "$2"} -l "$1" -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}' |
		awk 'NF == 1' | wc -l
}

pods_are() {
	test "$(count_pods "$1" "${3:-}")" -eq "$2"
}

jp() {
	k get "$@"
}

# pods_on SELECTOR NODE: pods bound there that are not terminating (pods on an unreachable
# node stay Terminating until its agent confirms, as on a real cluster; they do not count)
pods_on() {
	k get pods -l "$1" -o jsonpath="{range .items[?(@.spec.nodeName==\"$2\")]}{.metadata.name} {.metadata.deletionTimestamp}{\"\n\"}{end}" |
		awk 'NF == 1' | wc -l
}

none_on() {
	test "$(pods_on "$1" "$2")" -eq 0
}

gone() {
	test_must_fail k get "$@"
}

replicaset() {  # replicaset NAME REPLICAS: apply a ReplicaSet with label app=NAME
	cat >"$1.yaml" <<-EOF &&
	apiVersion: apps/v1
	kind: ReplicaSet
	metadata: {name: $1}
	spec:
	  replicas: $2
	  selector: {matchLabels: {app: $1}}
	  template:
	    metadata: {labels: {app: $1}}
	    spec: {containers: [{name: c, image: busybox}]}
	EOF
	k apply -f "$1.yaml"
}

test_expect_success 'both nodes stay Ready while their agents heartbeat' '
	replicaset spread 6 &&
	test_wait_until 20 pods_are app=spread 6 &&
	sleep 4 &&
	k get node node-b -o jsonpath="{.status.conditions[?(@.type==\"Ready\")].status}" >ready &&
	test "$(cat ready)" = True &&
	test -z "$(k get node node-b -o jsonpath="{.spec.taints}")"
'

ready_is() {
	test "$(k get node "$1" -o jsonpath="{.status.conditions[?(@.type==\"Ready\")].status}")" = "$2"
}

has_taint() {
	k get node "$1" -o jsonpath="{.spec.taints[*].key}" | grep -q "$2"
}

no_taint() {
	! has_taint "$@"
}

test_expect_success 'a node whose agent stops is marked Unknown and tainted unreachable:NoExecute' '
	test_kill_pid "$AGENT_B" &&
	test_wait_until 20 ready_is node-b Unknown &&
	test_wait_until 10 has_taint node-b node.kubernetes.io/unreachable &&
	k get node node-b -o jsonpath="{.status.conditions[?(@.type==\"Ready\")].reason}" | grep -q NodeStatusUnknown
'

test_expect_success 'its pods are evicted after their toleration and replaced on the live node' '
	test_wait_until 30 none_on app=spread node-b &&
	test_wait_until 30 pods_are app=spread 6 &&
	test "$(pods_on app=spread node-a)" -eq 6
'

test_expect_success 'a cordoned node gets the unschedulable taint' '
	k cordon node-a &&
	test_wait_until 10 has_taint node-a node.kubernetes.io/unschedulable &&
	k uncordon node-a &&
	test_wait_until 10 no_taint node-a node.kubernetes.io/unschedulable
'

test_expect_success 'background deletion: the ReplicaSet goes at once, the collector deletes its pods' '
	replicaset bg 3 &&
	test_wait_until 20 pods_are app=bg 3 &&
	k delete rs bg --cascade=background &&
	test_wait_until 20 pods_are app=bg 0
'

has_finalizer() {
	k get "$1" -o jsonpath="{.metadata.finalizers}" | grep -q "$2"
}

# One pod is held by a finalizer of the test, so the foreground wait can be seen.
test_expect_success 'foreground deletion: the ReplicaSet waits for its pods, then goes' '
	replicaset fg 3 &&
	test_wait_until 20 pods_are app=fg 3 &&
	held=$(k get pods -l app=fg -o jsonpath="{.items[0].metadata.name}") &&
	k patch pod "$held" --type=merge -p "{\"metadata\":{\"finalizers\":[\"test.berth.dev/hold\"]}}" &&
	k delete rs fg --cascade=foreground --wait=false &&
	test_wait_until 20 pods_are app=fg 0 &&
	has_finalizer rs/fg foregroundDeletion &&
	sleep 1 &&
	has_finalizer rs/fg foregroundDeletion &&
	k patch pod "$held" --type=merge -p "{\"metadata\":{\"finalizers\":null}}" &&
	test_wait_until 20 gone rs fg &&
	test_wait_until 20 gone pod "$held"
'

test_expect_success 'orphan deletion: the pods stay, without the owner reference' '
	replicaset orph 2 &&
	test_wait_until 20 pods_are app=orph 2 &&
	k delete rs orph --cascade=orphan &&
	test_wait_until 20 gone rs orph &&
	sleep 1 &&
	pods_are app=orph 2 &&
	test -z "$(k get pods -l app=orph -o jsonpath="{.items[*].metadata.ownerReferences}")"
'

test_expect_success 'deleting a Deployment removes its ReplicaSets and pods' '
	k create deployment cascade --image=busybox --replicas=2 &&
	test_wait_until 20 pods_are app=cascade 2 &&
	k delete deployment cascade &&
	test_wait_until 20 pods_are app=cascade 0 &&
	test -z "$(k get rs -l app=cascade -o name)"
'

test_expect_success 'deleting a namespace removes everything in it, then the namespace' '
	k create namespace doomed &&
	k -n doomed create deployment d --image=busybox --replicas=2 &&
	k -n doomed create configmap cm --from-literal=a=b &&
	test_wait_until 20 pods_are app=d 2 doomed &&
	k delete namespace doomed --wait=false &&
	test_wait_until 40 gone namespace doomed &&
	test -z "$(k -n doomed get all,configmaps -o name 2>/dev/null)"
'

test_done
