#!/bin/bash
test_description='berth policy test: replay the cluster through a candidate scheduler policy, binding nothing'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth

# The candidates are in t/data/policytest/. The live policies are the repository's, and for
# the scheduler "pin" a private directory the server does not use (so pin's pods wait).
DATA=$TOP/t/data/policytest
mkdir -p "$TRASH/policies/schedulers"
cp "$TOP/policies/scheduler.lua" "$TRASH/policies/"
cat >"$TRASH/policies/schedulers/pin.lua" <<-\EOF
	local framework = require("berth.framework")
	return framework.with_defaults({
	    score = function(pod, node) return node.metadata.name == "n1" and 100 or 0 end,
	})
EOF
BERTH_SERVER_ARGS=--no-controllers
start_redis && start_berth --policies "$TOP/policies" --lua "$TOP/lua" ||
	test_bail_out 'cannot start berth'

# mknode NAME CPU [LABELS-JSON]
mknode() {
	api POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",
	 \"metadata\":{\"name\":\"$1\",\"labels\":${3:-{\}}},
	 \"status\":{\"allocatable\":{\"cpu\":\"$2\",\"memory\":\"8Gi\",\"pods\":\"110\"},
	   \"capacity\":{\"cpu\":\"$2\",\"memory\":\"8Gi\",\"pods\":\"110\"},
	   \"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}" >/dev/null &&
	test "$API_CODE" = 201
}

# pod NAME CPU [EXTRA-SPEC-JSON-FIELDS]
pod() {
	api POST /api/v1/namespaces/default/pods "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
	 \"metadata\":{\"name\":\"$1\"},
	 \"spec\":{${3:+$3,}\"containers\":[{\"name\":\"c\",\"image\":\"img:1\",
	   \"resources\":{\"requests\":{\"cpu\":\"$2\"}}}]}}" >/dev/null &&
	test "$API_CODE" = 201
}

node_of() {
	k get pod "$1" -o jsonpath='{.spec.nodeName}'
}

has_node() {
	test -n "$(node_of "$1")"
}

reason_is() {
	k get pod "$1" -o jsonpath="{.status.conditions[0].reason}" | grep -q "$2"
}

# ptest ARGS...: berth policy test against the server under test, the repository's policies
ptest() {
	"$BERTH_BIN" policy test --server "$BERTH_URL" --policies "$TOP/policies" --lua "$TOP/lua" "$@"
}

# state: each pod's, node's and event's name and resourceVersion, and each pod's node
# Pods and nodes with their resourceVersions, and which Events exist. Not the Events'
# versions: the live scheduler retries zz-picky in the background and bumps its
# FailedScheduling count whenever it does.
state() {
	k get pods,nodes -A -o jsonpath='{range .items[*]}{.kind} {.metadata.name} {.metadata.resourceVersion} {.spec.nodeName}{"\n"}{end}' &&
	k get events -A -o jsonpath='{range .items[*]}{.kind} {.metadata.name}{"\n"}{end}'
}

# Placed one at a time by the live default policy (least allocated, ties to the first node
# in name order): n1 starts with 2 of its 4 CPUs taken by a pod of another scheduler, so
# web-1 n2, web-2 spare, web-3 n2, web-4 spare, web-5 n1; zz-picky waits for a disk=ssd node.
test_expect_success 'a cluster placed by the live default policy' '
	mknode n1 4 &&
	mknode n2 4 &&
	mknode spare 4 "{\"pool\":\"spare\"}" &&
	pod fixed 2 "\"schedulerName\":\"someone-else\",\"nodeName\":\"n1\"" &&
	for i in 1 2 3 4 5; do
		pod web-$i 1 &&
		test_wait_until 15 has_node web-$i || return 1
	done &&
	pod zz-picky 100m "\"nodeSelector\":{\"disk\":\"ssd\"}" &&
	test_wait_until 15 reason_is zz-picky Unschedulable &&
	pod pin-a 100m "\"schedulerName\":\"pin\"" &&
	pod pin-b 100m "\"schedulerName\":\"pin\"" &&
	for p in web-1 web-2 web-3 web-4 web-5; do echo "$p $(node_of $p)"; done >actual &&
	cat >expect <<-\EOF &&
	web-1 n2
	web-2 spare
	web-3 n2
	web-4 spare
	web-5 n1
	EOF
	test_cmp expect actual &&
	state >before
'

test_expect_success 'the live policy as the candidate: nothing changes' '
	ptest "$TOP/policies/scheduler.lua" >out &&
	cat >expect <<-EOF &&
	replayed 6 pods of default-scheduler on 3 nodes: live policies/scheduler.lua (in $TOP/policies), candidate $TOP/policies/scheduler.lua
	summary: 0 moved, 0 newly unschedulable, 0 newly schedulable, 6 unchanged, 0 errors (0 budget overruns)
	EOF
	test_cmp expect out
'

test_expect_success 'a candidate that keeps pods off the spare node: the pods it moves' '
	ptest "$DATA/spare-off.lua" >out &&
	cat >expect <<-\EOF &&
	default/web-2: spare -> n2
	default/web-3: n2 -> n1
	default/web-4: spare -> n2
	EOF
	grep "^default/" out >actual &&
	test_cmp expect actual &&
	grep -qx "summary: 3 moved, 0 newly unschedulable, 0 newly schedulable, 3 unchanged, 0 errors (0 budget overruns)" out
'

test_expect_success 'a candidate that admits every node: the waiting pod becomes schedulable' '
	ptest "$DATA/any-node.lua" >out &&
	grep "^default/" out >actual &&
	echo "default/zz-picky: unschedulable -> n2" >expect &&
	test_cmp expect actual &&
	grep -qx "summary: 0 moved, 0 newly unschedulable, 1 newly schedulable, 5 unchanged, 0 errors (0 budget overruns)" out
'

test_expect_success 'a candidate that forbids every node: all newly unschedulable, with the reason' '
	ptest "$DATA/forbid-all.lua" >out &&
	for p in web-1:n2 web-2:spare web-3:n2 web-4:spare web-5:n1; do
		echo "default/${p%:*}: ${p#*:} -> unschedulable (0/3 nodes are available: 3 node(s) forbidden by the candidate)" || return 1
	done >expect &&
	grep "^default/" out >actual &&
	test_cmp expect actual &&
	grep -qx "summary: 0 moved, 5 newly unschedulable, 0 newly schedulable, 1 unchanged, 0 errors (0 budget overruns)" out
'

test_expect_success 'a candidate with a syntax error: exit 1, naming the file and line' '
	printf "local framework = require(\"berth.framework\")\nreturn framework.with_defaults({\n  filter = function(pod, node end,\n})\n" >bad.lua &&
	ptest bad.lua >out 2>err
	test $? = 1 &&
	test_grep "^berth policy test: the candidate failed to load: bad.lua:3: " err &&
	test ! -s out
'

# The first overrun happens in a loop the JIT compiled: its VM is discarded and the message
# has no line; the version rebuilt runs interpreted, so the next ones have it.
SQ="'"
test_expect_success 'a score that never returns: each pod an overrun (file, then file:line), the run finishes' '
	ptest "$DATA/spin-score.lua" >out &&
	echo "default/web-1: n2 -> error (timeout): $DATA/spin-score.lua: time budget of 50 ms exceeded in hook ${SQ}schedule${SQ} (stopped inside JIT-compiled code, where no line is known; the VM was discarded)" >expect &&
	for p in web-2:spare web-3:n2 web-4:spare web-5:n1; do
		echo "default/${p%:*}: ${p#*:} -> error (timeout): $DATA/spin-score.lua:7: time budget of 50 ms exceeded" || return 1
	done >>expect &&
	grep "^default/" out >actual &&
	test_cmp expect actual &&
	grep -qx "summary: 0 moved, 0 newly unschedulable, 0 newly schedulable, 1 unchanged, 5 errors (5 budget overruns)" out
'

test_expect_success '-o json: every replayed pod with both placements, only this scheduler' '
	ptest -o json "$DATA/spare-off.lua" >out.json &&
	json_get out.json "o.pods.map(p => [p.pod, p.current || \"-\", p.live.node || \"unschedulable\", p.candidate.node || \"unschedulable\", p.change].join(\" \")).join(\"\\n\")" \
		"JSON.stringify(o.summary)" >actual &&
	cat >expect <<-\EOF &&
	default/web-1 n2 n2 n2 unchanged
	default/web-2 spare spare n2 moved
	default/web-3 n2 n2 n1 moved
	default/web-4 spare spare n2 moved
	default/web-5 n1 n1 n1 unchanged
	default/zz-picky - unschedulable unschedulable unchanged
	{"pods":6,"moved":3,"newly_unschedulable":0,"newly_schedulable":0,"unchanged":3,"errors":0,"budget_overruns":0,"live_errors":0,"live_differs_from_current":0}
	EOF
	test_cmp expect actual
'

test_expect_success 'another scheduler: its pods replayed through its own live policy' '
	"$BERTH_BIN" policy test --server "$BERTH_URL" --policies "$TRASH/policies" --lua "$TOP/lua" \
		--scheduler pin "$DATA/prefer-n2.lua" >out &&
	cat >expect <<-\EOF &&
	default/pin-a: n1 -> n2
	default/pin-b: n1 -> n2
	EOF
	grep "^default/" out >actual &&
	test_cmp expect actual &&
	grep -qx "summary: 2 moved, 0 newly unschedulable, 0 newly schedulable, 0 unchanged, 0 errors (0 budget overruns)" out &&
	grep -qx "note: the live policy.s replay places 2 pods elsewhere than they are now" out
'

test_expect_success 'only the namespace asked for' '
	ptest -n kube-system "$DATA/forbid-all.lua" >out &&
	grep -q "^replayed 0 pods" out
'

test_expect_success 'nothing was bound or changed in the cluster' '
	state >after &&
	test_cmp before after
'

test_expect_success 'an unreachable cluster: exit 1; bad usage: exit 2' '
	"$BERTH_BIN" policy test --server http://127.0.0.1:1 "$DATA/spare-off.lua" >out 2>err
	test $? = 1 &&
	test_grep "cannot list nodes" err &&
	ptest 2>err
	test $? = 2 &&
	ptest -n a -A "$DATA/spare-off.lua" 2>err
	test $? = 2
'

test_done
