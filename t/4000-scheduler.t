#!/bin/bash
test_description='the scheduler in berth server: pods placed by the Lua policy, unschedulable pods reported, custom schedulers and hot reload'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth

# Policies from a private copy, so the test can add and change them.
mkdir -p "$TRASH/policies/schedulers"
cp "$TOP/policies/scheduler.lua" "$TRASH/policies/"
BERTH_SERVER_ARGS=--no-controllers
start_redis && start_berth --policies "$TRASH/policies" --lua "$TOP/lua" ||
	test_bail_out 'cannot start berth'

# node NAME CPU [TAINT-JSON] [LABELS-JSON]
node() {
	api POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",
	 \"metadata\":{\"name\":\"$1\",\"labels\":${4:-{\}}},
	 \"spec\":{\"taints\":${3:-[]}},
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

node_is() {
	test "$(node_of "$1")" = "$2"
}

has_node() {
	test -n "$(node_of "$1")"
}

# has_event POD WORD: an event about POD mentions WORD
has_event() {
	k get events --field-selector "involvedObject.name=$1" | grep -q "$2"
}

# has_policy_event TEXT: a PolicyLoadFailed Event in kube-system mentions TEXT
has_policy_event() {
	k -n kube-system get events --field-selector reason=PolicyLoadFailed -o jsonpath="{.items[*].message}" |
		grep -q "$1"
}

reason_is() {
	k get pod "$1" -o jsonpath="{.status.conditions[0].reason}" | grep -q "$2"
}

# wait_node POD NODE: bounded wait until POD is bound to NODE
wait_node() {
	test_wait_until 15 node_is "$1" "$2"
}

test_expect_success 'nodes registered through the API' '
	node small 1 &&
	node big 4 &&
	node tainted 16 "[{\"key\":\"dedicated\",\"value\":\"db\",\"effect\":\"NoSchedule\"}]" &&
	node labelled 2 "[]" "{\"disk\":\"ssd\"}"
'

test_expect_success 'a pod goes to the node with room for its requests' '
	pod needs3 3 &&
	wait_node needs3 big
'

test_expect_success 'the binding is recorded as a Scheduled event and PodScheduled condition' '
	test_wait_until 10 has_event needs3 Scheduled &&
	k get pod needs3 -o jsonpath="{.status.conditions[?(@.type==\"PodScheduled\")].status}" >actual &&
	echo >>actual &&
	echo True >expect &&
	test_cmp expect actual
'

test_expect_success 'nodeSelector picks the labelled node' '
	pod ssd 100m "\"nodeSelector\":{\"disk\":\"ssd\"}" &&
	wait_node ssd labelled
'

test_expect_success 'a toleration lets a pod onto the tainted node; without it, never' '
	pod tolerant 8 "\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Equal\",\"value\":\"db\",\"effect\":\"NoSchedule\"}]" &&
	wait_node tolerant tainted
'

test_expect_success 'a pod that fits nowhere gets PodScheduled=False with the reasons' '
	pod huge 64 &&
	test_wait_until 15 reason_is huge Unschedulable &&
	k get pod huge -o jsonpath="{.status.conditions[0].message}" >actual &&
	echo >>actual &&
	echo "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 3 Insufficient cpu. preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod." >expect &&
	test_cmp expect actual &&
	k get events --field-selector involvedObject.name=huge,reason=FailedScheduling >events &&
	grep -q "Insufficient cpu" events &&
	test -z "$(node_of huge)"
'

# failed_events POD: "<number of FailedScheduling Events> <count of the first>"
failed_events() {
	k get events --field-selector involvedObject.name=$1,reason=FailedScheduling \
		-o jsonpath="{range .items[*]}{.count}{\"\\n\"}{end}" >fe.out &&
	echo "$(wc -l <fe.out) $(head -n 1 fe.out)"
}
failed_count_above_1() { set -- $(failed_events huge); test "$1" = 1 && test "$2" -gt 1; }

test_expect_success 'retries of the same failure raise the count of one Event, not more Events' '
	test_wait_until 20 failed_count_above_1 &&
	k get events --field-selector involvedObject.name=huge,reason=FailedScheduling -o jsonpath="{.items[0].source.component}" >actual &&
	printf default-scheduler >expect &&
	test_cmp expect actual
'

test_expect_success 'when a big enough node appears, the waiting pod is placed on it' '
	node giant 128 &&
	wait_node huge giant
'

test_expect_success 'a pod for a scheduler with no policy file is left alone' '
	pod other 100m "\"schedulerName\":\"someone-else\"" &&
	sleep 1 &&
	test -z "$(node_of other)" &&
	k get pod other -o jsonpath="{.status.conditions}" >conds &&
	test ! -s conds
'

test_expect_success 'a custom scheduler chosen by schedulerName places by its own score' '
	cat >"$TRASH/policies/schedulers/pin-small.lua" <<-\EOF &&
	local framework = require("berth.framework")
	return framework.with_defaults({
	    score = function(pod, node) return node.metadata.name == "small" and 100 or 0 end,
	})
	EOF
	pod pinned 100m "\"schedulerName\":\"pin-small\"" &&
	wait_node pinned small &&
	k get events --field-selector involvedObject.name=pinned,reason=Scheduled -o jsonpath="{.items[0].source.component}" >actual &&
	printf pin-small >expect &&
	test_cmp expect actual
'

test_expect_success 'a changed policy takes effect without a restart; a broken one keeps the last good' '
	cat >"$TRASH/policies/schedulers/pin-small.lua" <<-\EOF &&
	local framework = require("berth.framework")
	return framework.with_defaults({
	    score = function(pod, node) return node.metadata.name == "labelled" and 100 or 0 end,
	})
	EOF
	sleep 1 &&
	pod pinned2 100m "\"schedulerName\":\"pin-small\"" &&
	wait_node pinned2 labelled &&
	echo "return {" >"$TRASH/policies/schedulers/pin-small.lua" &&
	test_wait_until 10 grep -q "pin-small.lua:.*expected" "$TRASH/berth.log" &&
	test_wait_until 10 has_policy_event "pin-small.lua:[0-9]*: unexpected symbol" &&
	pod pinned3 100m "\"schedulerName\":\"pin-small\"" &&
	wait_node pinned3 labelled
'

test_expect_success 'a bind hook binds the pod itself through berth.cluster' '
	cat >"$TRASH/policies/schedulers/self-bind.lua" <<-\EOF &&
	local framework = require("berth.framework")
	local cluster = require("berth.cluster")
	return framework.with_defaults({
	    score = function(pod, node) return node.metadata.name == "small" and 100 or 0 end,
	    bind = function(pod, node_name, ctx)
	        cluster.bind(pod, node_name)
	        cluster.event(pod, "Normal", "SelfBound", "bound by the policy to " .. node_name)
	        return true
	    end,
	})
	EOF
	pod self-bound 100m "\"schedulerName\":\"self-bind\"" &&
	wait_node self-bound small &&
	test_wait_until 10 has_event self-bound SelfBound &&
	! has_event self-bound Scheduled
'

test_expect_success 'the queue follows the sort hook: the higher priority pod gets the one free slot' '
	pod low-prio 600m "\"nodeSelector\":{\"slot\":\"one\"}" &&
	pod high-prio 600m "\"priority\":1000,\"nodeSelector\":{\"slot\":\"one\"}" &&
	test_wait_until 10 reason_is low-prio Unschedulable &&
	test_wait_until 10 reason_is high-prio Unschedulable &&
	node slot 1 "[]" "{\"slot\":\"one\"}" &&
	wait_node high-prio slot &&
	sleep 1 &&
	test -z "$(node_of low-prio)"
'

test_expect_success 'a policy that loops forever costs its budget, not the scheduler' '
	cat >"$TRASH/policies/schedulers/spin.lua" <<-\EOF &&
	return { schedule = function(pod, ctx) while true do end end }
	EOF
	pod spinning 100m "\"schedulerName\":\"spin\"" &&
	test_wait_until 10 has_event spinning budget &&
	pod after-spin 100m &&
	test_wait_until 15 has_node after-spin &&
	k get events --field-selector involvedObject.name=spinning -o jsonpath="{.items[*].message}" >spin-events &&
	grep -q "policies/schedulers/spin.lua" spin-events &&
	api GET /metrics >metrics &&
	grep -q "berth_policy_vm_discards_total{policy=\"schedulers/spin.lua\"}" metrics
'

test_expect_success 'a policy that allocates without end hits its memory cap, not the scheduler' '
	cat >"$TRASH/policies/schedulers/hog.lua" <<-\EOF &&
	return { memory_mb = 16, budget_ms = 1000, schedule = function(pod, ctx)
	    local t = {}
	    while true do t[#t + 1] = { pod, ctx } end
	end }
	EOF
	pod hogging 100m "\"schedulerName\":\"hog\"" &&
	test_wait_until 10 has_event hogging "memory limit" &&
	k get events --field-selector involvedObject.name=hogging -o jsonpath="{.items[*].message}" >hog-events &&
	grep -q "policies/schedulers/hog.lua" hog-events &&
	pod after-hog 100m &&
	test_wait_until 15 has_node after-hog
'

test_expect_success 'an unschedulable pod waits for a change instead of being retried every 10 s' '
	pod lonely 100m "\"nodeSelector\":{\"nowhere\":\"yes\"}" &&
	test_wait_until 10 reason_is lonely Unschedulable &&
	sleep 2 &&
	k get events --field-selector involvedObject.name=lonely,reason=FailedScheduling -o jsonpath="{.items[*].count}" >count1 &&
	sleep 12 &&
	k get events --field-selector involvedObject.name=lonely,reason=FailedScheduling -o jsonpath="{.items[*].count}" >count2 &&
	echo "FailedScheduling count: $(cat count1), 12 s later $(cat count2)" &&
	test_cmp count1 count2
'

test_expect_success 'a pod waiting on pod affinity is placed once the pod it wants is bound' '
	node aff-node 4 "[]" "{\"kubernetes.io/hostname\":\"aff-node\",\"aff\":\"yes\"}" &&
	sleep 1 &&
	pod follower 100m "\"nodeSelector\":{\"aff\":\"yes\"},\"affinity\":{\"podAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":{\"matchLabels\":{\"role\":\"leader\"}},\"topologyKey\":\"kubernetes.io/hostname\"}]}}" &&
	test_wait_until 10 reason_is follower Unschedulable &&
	sleep 3 &&
	api POST /api/v1/namespaces/default/pods "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
	 \"metadata\":{\"name\":\"leader\",\"labels\":{\"role\":\"leader\"}},
	 \"spec\":{\"nodeSelector\":{\"aff\":\"yes\"},\"containers\":[{\"name\":\"c\",\"image\":\"img:1\",\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]}}" >/dev/null &&
	test_wait_until 10 has_node leader &&
	test_wait_until 8 has_node follower &&
	node_is follower "$(node_of leader)"
'

test_expect_success 'scheduling attempts are counted in /metrics' '
	api GET /metrics >metrics &&
	grep -q "berth_scheduler_schedule_attempts_total{result=\"scheduled\"}" metrics &&
	grep -q "berth_scheduler_schedule_attempts_total{result=\"unschedulable\"}" metrics
'

test_done
