#!/bin/bash
test_description='berth agent: GET /stats/summary, the resource usage kubectl top reads (collected from Docker in the background)'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth curl docker

test_docker_node t6220

AGENT_PID=
TOKEN=stats-token

# summary [CURL ARGS]: the agent's summary into summary.json (with the token); fails on
# anything but a 200.
summary() {
	curl -sf --max-time 5 -H "Authorization: Bearer $TOKEN" "$@" \
		"http://127.0.0.1:$AGENT_PORT/stats/summary" >summary.json
}

# code [CURL ARGS]: the HTTP status of GET /stats/summary.
code() {
	curl -s --max-time 5 -o code.out -w '%{http_code}' "$@" "http://127.0.0.1:$AGENT_PORT/stats/summary"
}

# pod_js POD EXPR: EXPR about pod POD's entry p of the summary (undefined when absent).
pod_js() {
	json_get summary.json "(() => { const p = (o.pods || []).find((x) => x.podRef.name === \"$1\"); return $2; })()"
}

# rated POD: the summary lists POD with a cpu rate for its container and the pod.
rated() {
	summary &&
	test "$(pod_js "$1" 'p !== undefined && p.containers.length === 1 &&
		typeof p.containers[0].cpu.usageNanoCores === "number" &&
		typeof p.cpu.usageNanoCores === "number"')" = true
}

# idle_below_busy: both pods are listed, the idle one with the lower cpu rate.
idle_below_busy() {
	summary &&
	test "$(json_get summary.json '(() => {
		const b = o.pods.find((x) => x.podRef.name === "busy");
		const i = o.pods.find((x) => x.podRef.name === "idle");
		return !!(b && i && i.cpu.usageNanoCores < b.cpu.usageNanoCores); })()')" = true
}

# pod NAME COMMAND: a one-container busybox pod bound to our node.
pod() {
	cat >"$1.yaml" <<-EOF
	apiVersion: v1
	kind: Pod
	metadata: {name: $1}
	spec:
	  nodeName: $NODE
	  terminationGracePeriodSeconds: 1
	  containers:
	  - name: main
	    image: berth/busybox:latest
	    imagePullPolicy: IfNotPresent
	    command: [sh, -c, "$2"]
	EOF
	k apply -f "$1.yaml"
}

# The API server scrapes the agent every second (metrics.k8s.io, docs/metrics.md), with the
# agents' token, so kubectl top shows what the agent measured.
echo "$TOKEN" >"$TRASH/token"
BERTH_SERVER_ARGS="--no-scheduler --no-controllers --metrics-resolution 1 --agent-token-file $TRASH/token"
setup_berth

test_expect_success 'an agent collecting every second, a busy pod and an idle one' '
	echo "$TOKEN" >token &&
	start_agent --token-file "$TRASH/token" --stats-interval 1 &&
	pod busy "while :; do :; done" &&
	pod idle "exec sleep 3600" &&
	test_wait_until 30 eval "k get pod busy -o jsonpath={.status.phase} | grep -qx Running" &&
	test_wait_until 30 eval "k get pod idle -o jsonpath={.status.phase} | grep -qx Running"
'

test_expect_success 'the summary is JSON with the node'"'"'s cpu and memory' '
	# The first round has no rate yet (the node'"'"'s is over the time since the round before).
	test_wait_until 10 eval "summary && test \"\$(json_get summary.json \"typeof o.node.cpu.usageNanoCores\")\" = number" &&
	curl -s -D headers -o /dev/null -H "Authorization: Bearer $TOKEN" \
		"http://127.0.0.1:$AGENT_PORT/stats/summary" &&
	grep -qi "^content-type: application/json" headers &&
	test "$(json_get summary.json o.node.nodeName)" = "$NODE" &&
	json_get summary.json o.node.startTime | grep -q "^20[0-9-]*T[0-9:]*Z$" &&
	json_get summary.json o.node.cpu.time | grep -q "^20[0-9-]*T[0-9:]*Z$" &&
	test "$(json_get summary.json "o.node.cpu.usageCoreNanoSeconds > 0")" = true &&
	test "$(json_get summary.json "o.node.cpu.usageNanoCores >= 0")" = true &&
	mem_total=$(( $(awk "/^MemTotal:/ {print \$2}" /proc/meminfo) * 1024 )) &&
	test "$(json_get summary.json "o.node.memory.workingSetBytes > 0 && o.node.memory.workingSetBytes < $mem_total")" = true &&
	test "$(json_get summary.json "o.node.memory.availableBytes > 0 && o.node.memory.usageBytes > 0")" = true
'

test_expect_success 'both pods appear with a cpu rate: the busy one above 0.2 cores, the idle one below it' '
	test_wait_until 30 rated busy &&
	test_wait_until 30 rated idle &&
	uid=$(k get pod busy -o jsonpath={.metadata.uid}) &&
	test "$(pod_js busy p.podRef.uid)" = "$uid" &&
	test "$(pod_js busy p.podRef.namespace)" = default &&
	test "$(pod_js busy p.containers[0].name)" = main &&
	pod_js busy p.startTime | grep -q "^20[0-9-]*T[0-9:]*Z$" &&
	pod_js busy p.containers[0].startTime | grep -q "^20[0-9-]*T[0-9:]*Z$" &&
	pod_js busy p.containers[0].cpu.time | grep -q "^20[0-9-]*T[0-9:]*Z$" &&
	test "$(pod_js busy "p.containers[0].cpu.usageCoreNanoSeconds > 0")" = true &&
	# A busy loop takes a whole core; a loaded machine still gives it 0.2. The rate is
	# over one interval, so wait until a reading shows it rather than insist on the first.
	test_wait_until 30 eval "summary && test \"\$(pod_js busy \"p.cpu.usageNanoCores > 200000000\")\" = true" &&
	test_wait_until 30 idle_below_busy &&
	test "$(pod_js idle "p.memory.workingSetBytes > 0 && p.memory.usageBytes >= p.memory.workingSetBytes")" = true &&
	test "$(pod_js busy "p.memory.workingSetBytes > 0")" = true &&
	test "$(pod_js idle "p.containers[0].memory.workingSetBytes === p.memory.workingSetBytes")" = true &&
	test "$(pod_js idle "p.containers[0].cpu.usageCoreNanoSeconds === p.cpu.usageCoreNanoSeconds")" = true
'

# top_cpu_m POD: the busy pod's CPU in millicores as kubectl top prints it ("950m")
top_cpu_m() {
	k top pod "$1" --no-headers >top.out 2>&1 && awk "{ sub(/m\$/, \"\", \$2); print \$2 }" top.out
}

test_expect_success 'kubectl top pod and top node: the API server scraped the agent' '
	test_wait_until 30 eval "k top pod busy --no-headers >/dev/null 2>&1" &&
	test_wait_until 30 eval "test \"\$(top_cpu_m busy)\" -gt 200" &&
	k top pod --containers >top.out &&
	cat top.out &&
	grep -q "^busy *main " top.out && grep -q "^idle *main " top.out &&
	k top node >node.out &&
	cat node.out &&
	grep -q "^$NODE  *[0-9]*m  *[0-9]*%  *[0-9]*Mi  *[0-9]*%" node.out
'

test_expect_success 'the infra container is not listed' '
	summary &&
	test "$(json_get summary.json "o.pods.every((p) => p.containers.every((c) => c.name !== \"POD\"))")" = true
'

test_expect_success 'a deleted pod leaves the summary' '
	k delete pod idle --wait=true --timeout=60s &&
	test_wait_until 20 eval "summary && test \"\$(pod_js idle \"p === undefined\")\" = true" &&
	test "$(pod_js busy "p !== undefined")" = true
'

test_expect_success 'without the bearer token: 401' '
	test "$(code)" = 401 &&
	test "$(code -H "Authorization: Bearer wrong")" = 401
'

test_expect_success 'the agent stops cleanly: no sanitizer or leak report in its log' '
	stop_agent &&
	test "$test_kill_status" = 0 &&
	! grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$TRASH/agent.log"
'

test_expect_success '--stats-interval 0: no collection, 503' '
	start_agent --token-file "$TRASH/token" --stats-interval 0 &&
	test "$(code -H "Authorization: Bearer $TOKEN")" = 503 &&
	grep -q "not collected" code.out &&
	test "$(code)" = 401
'

test_expect_success 'a bad --stats-interval is refused' '
	test_must_fail "$BERTH_BIN" agent --server "$BERTH_URL" --node-name x --stats-interval -1 2>err &&
	grep -q "bad --stats-interval" err
'

test_expect_success 'deleting the pods; the agent stops cleanly' '
	k delete pods --all --wait=true --timeout=60s &&
	stop_agent &&
	test "$test_kill_status" = 0 &&
	! grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$TRASH/agent.log"
'

test_done
