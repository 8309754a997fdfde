#!/bin/bash
test_description='PodDisruptionBudgets: the disruption controller, the eviction subresource, kubectl drain, with simulated nodes'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth curl

BERTH_SERVER_ARGS=
start_redis && start_berth --policies "$TOP/policies" --lua "$TOP/lua" || test_bail_out 'cannot start berth'

# Two nodes created through the API; the fakelet stands in for their agents: bound pods turn
# Running and Ready, deleted ones are confirmed gone.
fake_nodes node-a node-b || test_bail_out "cannot create the nodes"
start_fakelet --heartbeat 10

jp() {
	k get "$1" -o jsonpath="$2"
}

# ready_pods SELECTOR: pods that are Ready and not terminating
ready_pods() {
	k get pods -l "$1" -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{range .status.conditions[?(@.type=="Ready")]}{.status}{end}{"\n"}{end}' |
		awk 'NF == 2 && $2 == "True"' | wc -l
}

# pdb_is NAME ALLOWED HEALTHY DESIRED EXPECTED: the budget's status says so, for its generation
pdb_is() {
	test "$(jp "pdb/$1" '{.status.disruptionsAllowed} {.status.currentHealthy} {.status.desiredHealthy} {.status.expectedPods}')" = "$2 $3 $4 $5" &&
	test "$(jp "pdb/$1" '{.status.observedGeneration}')" = "$(jp "pdb/$1" '{.metadata.generation}')"
}

# evict POD [BODY-EXTRA] [QUERY]: POST the pod's eviction; prints the status code, body in evict.out
evict() {
	curl -s --max-time 10 -o evict.out -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		--data-binary "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"$1\"}${2:-}}" \
		"$BERTH_URL/api/v1/namespaces/default/pods/$1/eviction${3:-}"
}

first_pod() {
	k get pods -l "$1" --field-selector status.phase=Running -o jsonpath='{.items[0].metadata.name}'
}

test_expect_success 'a Deployment of 4 and a budget of maxUnavailable 0' '
	k create deployment web --image=berth/busybox --replicas=4 -- sleep 3600 &&
	test_wait_until 30 eval "test \$(ready_pods app=web) = 4" &&
	cat >pdb.yaml <<-EOF &&
	apiVersion: policy/v1
	kind: PodDisruptionBudget
	metadata: {name: web}
	spec:
	  maxUnavailable: 0
	  selector: {matchLabels: {app: web}}
	EOF
	k apply -f pdb.yaml &&
	test_wait_until 20 pdb_is web 0 4 4 4
'

test_expect_success 'kubectl get pdb shows the budget columns' '
	k get pdb web >out &&
	squash <out >sq &&
	test_grep "^NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE" sq &&
	test_grep "^web N/A 0 0 " sq
'

test_expect_success 'eviction of a ready pod the budget does not allow: 429 with the cause' '
	P=$(first_pod app=web) &&
	test "$(evict "$P")" = 429 &&
	test_grep "Cannot evict pod as it would violate the pod.s disruption budget." evict.out &&
	test_grep "\"reason\": *\"DisruptionBudget\"" evict.out &&
	test_grep "The disruption budget web needs 4 healthy pods and has 4 currently" evict.out &&
	test -z "$(jp "pod/$P" "{.metadata.deletionTimestamp}")"
'

test_expect_success 'with maxUnavailable 1: one eviction goes through and is recorded in the budget' '
	k patch pdb web --type merge -p "{\"spec\":{\"maxUnavailable\":1}}" &&
	test_wait_until 20 pdb_is web 1 4 3 4 &&
	P=$(first_pod app=web) &&
	test "$(evict "$P")" = 201 &&
	test_grep "\"status\": *\"Success\"" evict.out &&
	test_wait_until 20 eval "! k get pod $P -o name" &&
	test_wait_until 30 pdb_is web 1 4 3 4
'

test_expect_success 'a dry run checks and writes nothing' '
	P=$(first_pod app=web) &&
	test "$(evict "$P" "" "?dryRun=All")" = 201 &&
	test -z "$(jp "pod/$P" "{.metadata.deletionTimestamp}")" &&
	test "$(jp pdb/web "{.status.disruptionsAllowed}")" = 1
'

test_expect_success 'bad evictions: a name that is not the pod, a missing pod, two budgets' '
	P=$(first_pod app=web) &&
	code=$(curl -s -o evict.out -w "%{http_code}" -X POST -H "Content-Type: application/json" \
		--data-binary "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"other\"}}" \
		"$BERTH_URL/api/v1/namespaces/default/pods/$P/eviction") &&
	test "$code" = 400 &&
	test_grep "name in URL does not match name in Eviction object" evict.out &&
	test "$(evict nosuch)" = 404 &&
	sed "s/name: web}/name: web2}/" pdb.yaml | k apply -f - &&
	test "$(evict "$P")" = 500 &&
	test_grep "more than one PodDisruptionBudget" evict.out &&
	k delete pdb web2
'

test_expect_success 'a pod no budget covers is simply deleted' '
	k run lone --image=berth/busybox --overrides="{\"spec\":{\"nodeName\":\"node-a\"}}" -- sleep 3600 &&
	test_wait_until 20 eval "test \"\$(jp pod/lone {.status.phase})\" = Running" &&
	test "$(evict lone)" = 201 &&
	test_wait_until 20 eval "! k get pod lone -o name"
'

test_expect_success 'validation: minAvailable and maxUnavailable together, bad percentages' '
	test_must_fail k apply -f - 2>err <<-EOF &&
	apiVersion: policy/v1
	kind: PodDisruptionBudget
	metadata: {name: both}
	spec: {minAvailable: 1, maxUnavailable: 1, selector: {matchLabels: {app: web}}}
	EOF
	test_grep "minAvailable and maxUnavailable cannot be both set" err &&
	test_must_fail k apply -f - 2>err <<-EOF &&
	apiVersion: policy/v1
	kind: PodDisruptionBudget
	metadata: {name: pct}
	spec: {minAvailable: "150%", selector: {matchLabels: {app: web}}}
	EOF
	test_grep "must not be greater than 100%" err
'

test_expect_success 'kubectl drain evicts through the budget, one pod at a time, and finishes' '
	n=$(k get pods -l app=web --field-selector spec.nodeName=node-a -o name | wc -l) &&
	test "$n" -ge 1 &&
	K_TIMEOUT=120 k drain node-a --ignore-daemonsets --timeout=100s >drain.out 2>&1 &&
	cat drain.out &&
	test_grep "evicting pod default/web-" drain.out &&
	test_grep "pod/web-.* evicted" drain.out &&
	test_grep "node/node-a drained" drain.out &&
	test -z "$(k get pods -l app=web --field-selector spec.nodeName=node-a -o name)" &&
	test_wait_until 30 eval "test \$(ready_pods app=web) = 4" &&
	k uncordon node-a
'

test_done
