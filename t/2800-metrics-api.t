#!/bin/bash
# 2800-metrics-api.t: metrics.k8s.io/v1beta1 (engine/api_metrics.c): the API server scrapes
# the node agents' /stats/summary and serves NodeMetrics and PodMetrics from memory, for
# `kubectl top`. The agents are fake (a node script answering canned summaries), so no
# Docker is needed; the server scrapes every second (--metrics-resolution 1).

test_description='API server: metrics.k8s.io, kubectl top node and top pod'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/data/api-helpers.sh"
test_require redis kubectl berth curl node

echo s3cret >"$TRASH/agent-token"
setup_berth --metrics-resolution 1 --agent-token-file "$TRASH/agent-token"

M=/apis/metrics.k8s.io/v1beta1

# A fake agent: GET /stats/summary answers the status and body of the files STATUS_FILE and
# BODY_FILE as they are at that moment (so a test can change them), and appends the
# Authorization header it got to AUTH_LOG ("-" for none: the test's own probe).
cat >fakestats.js <<'EOF'
const http = require('http'), fs = require('fs');
const [port, statusFile, bodyFile, authLog] = process.argv.slice(2);
http.createServer((req, res) => {
	if (req.url !== '/stats/summary') { res.writeHead(404); res.end('not found\n'); return; }
	fs.appendFileSync(authLog, (req.headers.authorization || '-') + '\n');
	const status = +fs.readFileSync(statusFile, 'utf8');
	res.writeHead(status, {'Content-Type': 'application/json'});
	res.end(fs.readFileSync(bodyFile));
}).listen(+port, '127.0.0.1');
EOF

# summary NODE CPU MEM PODS...: a Summary API document; each pod is NS/NAME/CONTAINERS with
# CONTAINERS as NAME:NANOCORES:BYTES joined by commas (NANOCORES "-": not sampled twice yet).
summary() {
	node -e '
		const [name, cpu, mem, ...pods] = process.argv.slice(1);
		const t = "2026-03-01T10:00:00Z";
		const stats = (c, m) => ({cpu: Object.assign({time: t, usageCoreNanoSeconds: 99}, c === "-" ? {} : {usageNanoCores: +c}),
		                          memory: {time: t, workingSetBytes: +m, usageBytes: +m + 100}});
		const doc = {node: Object.assign({nodeName: name, startTime: t}, stats(cpu, mem)),
		  pods: pods.map(p => {
			const [ns, pod, cs] = p.split("/");
			return {podRef: {name: pod, namespace: ns, uid: "u-" + pod}, startTime: t,
			        containers: cs.split(",").map(c => { const [n, cc, mm] = c.split(":");
			                                           return Object.assign({name: n, startTime: t}, stats(cc, mm)); })};
		  })};
		process.stdout.write(JSON.stringify(doc));
	' "$@"
}

# start_fake NAME: a fake agent with files NAME.status, NAME.body, NAME.auth; port in
# ${NAME}_PORT.
start_fake() {
	local port
	port=$(test_free_port) || return 1
	echo 200 >"$1.status"
	: >"$1.auth"
	{ node fakestats.js "$port" "$1.status" "$1.body" "$1.auth" >"$1.log" 2>&1 & } &&
	test_bg_pid $! &&
	eval "${1}_PORT=$port" &&
	test_wait_until 10 curl -sf "http://127.0.0.1:$port/stats/summary"
}

# mknode NAME CPU MEMORY READY LABEL EXTRA: a Node with that allocatable, Ready condition,
# label tier=LABEL, and EXTRA JSON members merged into it (where its agent is).
mknode() {
	api POST /api/v1/nodes "$(node -e '
		const [name, cpu, mem, ready, tier, extra] = process.argv.slice(1);
		const n = {apiVersion: "v1", kind: "Node",
		  metadata: {name, labels: {"kubernetes.io/hostname": name, tier}, annotations: {}},
		  status: {allocatable: {cpu, memory: mem, pods: "110"}, capacity: {cpu, memory: mem, pods: "110"},
		           conditions: [{type: "Ready", status: ready}], addresses: [], daemonEndpoints: {kubeletEndpoint: {Port: 0}}}};
		const e = JSON.parse(extra || "{}");
		if (e.endpoint) n.metadata.annotations["berth.dev/agent-endpoint"] = e.endpoint;
		if (e.ip) { n.status.addresses.push({type: "InternalIP", address: e.ip}); n.status.daemonEndpoints.kubeletEndpoint.Port = e.port; }
		process.stdout.write(JSON.stringify(n));
	' "$@")" >node.out && test "$API_CODE" = 201 || { cat node.out; return 1; }
}

# mkpod NS NAME NODE APP CONTAINERS...: a pod bound to NODE, label app=APP.
mkpod() {
	local ns=$1 name=$2 nodename=$3 app=$4
	shift 4
	api POST /api/v1/namespaces/$ns/pods "$(node -e '
		const [ns, name, nodeName, app, ...cs] = process.argv.slice(1);
		process.stdout.write(JSON.stringify({apiVersion: "v1", kind: "Pod",
		  metadata: {name, namespace: ns, labels: {app}},
		  spec: {nodeName, containers: cs.map(c => ({name: c, image: "img:1"}))}}));
	' "$ns" "$name" "$nodename" "$app" "$@")" >pod.out && test "$API_CODE" = 201 || { cat pod.out; return 1; }
}

# lines FILE N: FILE has N lines.
lines() {
	test "$(wc -l <"$1")" = "$2" || { echo "lines: $1 has $(wc -l <"$1") lines, want $2:"; cat "$1"; return 1; }
}

# top_has FILE LINE...: each LINE (spaces squeezed) is a line of FILE.
top_has() {
	local f=$1 l
	shift
	squash <"$f" | sed "s/ *$//" >"$f.sq"
	for l in "$@"; do
		grep -qxF "$l" "$f.sq" || { echo "top_has: no line '$l' in:"; cat "$f"; return 1; }
	done
}

test_expect_success 'fake agents: two good ones, one answering garbage, one answering 500' '
	summary n1 250000000 1073741824 \
		default/web-1/web:5000000:4194304 \
		default/web-2/web:10000000:8388608,sidecar:1234567:1000 \
		default/ghost/c:1000000:1024 >a.body &&
	summary n2 1500000000 2147483648 \
		other/db-1/db:20000000:16777216 \
		default/fresh/app:-:2048 >b.body &&
	echo "this is { not json" >c.body &&
	echo "{\"message\":\"boom\"}" >d.body &&
	start_fake a && start_fake b && start_fake c && start_fake d &&
	echo 500 >d.status
'

test_expect_success 'nodes point at them (annotation, or InternalIP and port); one is NotReady' '
	mknode n1 2 4Gi True front "{\"endpoint\":\"http://127.0.0.1:$a_PORT\"}" &&
	mknode n2 4 8Gi True back "{\"ip\":\"127.0.0.1\",\"port\":$b_PORT}" &&
	mknode n3 2 4Gi True front "{\"endpoint\":\"http://127.0.0.1:$c_PORT\"}" &&
	mknode n4 2 4Gi True front "{\"endpoint\":\"http://127.0.0.1:$d_PORT\"}" &&
	mknode n5 2 4Gi False front "{\"endpoint\":\"http://127.0.0.1:$a_PORT\"}" &&
	api POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"other\"}}" >/dev/null &&
	test "$API_CODE" = 201 &&
	mkpod default web-1 n1 web web &&
	mkpod default web-2 n1 web web sidecar &&
	mkpod other db-1 n2 db db &&
	mkpod default fresh n2 fresh app
'

# Wait for the first scrapes of n1 and n2.
test_expect_success 'the server scrapes them' '
	test_wait_until 15 eval "api GET $M/nodes/n1 >/dev/null && test \$API_CODE = 200" &&
	test_wait_until 15 eval "api GET $M/nodes/n2 >/dev/null && test \$API_CODE = 200" &&
	test_wait_until 15 eval "test -s c.auth && test -s d.auth"
'

test_expect_success 'the agents get the bearer token of --agent-token-file' '
	grep -v "^-\$" a.auth | sort -u >auth &&
	echo "Bearer s3cret" >expect &&
	test_cmp expect auth
'

test_expect_success 'discovery: api-versions and api-resources show metrics.k8s.io' '
	k api-versions >versions &&
	test_grep "^metrics.k8s.io/v1beta1$" versions &&
	k api-resources --api-group=metrics.k8s.io >res &&
	squash <res >res.sq &&
	test_grep "^nodes metrics.k8s.io/v1beta1 false NodeMetrics$" res.sq &&
	test_grep "^pods metrics.k8s.io/v1beta1 true PodMetrics$" res.sq &&
	api GET /apis >groups.json &&
	jcheck groups.json "o.groups.some(g => g.name === \"metrics.k8s.io\" && g.preferredVersion.groupVersion === \"metrics.k8s.io/v1beta1\")" &&
	api GET /apis/metrics.k8s.io >group.json &&
	jcheck group.json "o.kind === \"APIGroup\"" "o.versions[0].version === \"v1beta1\"" &&
	api GET $M >rl.json &&
	jcheck rl.json "o.kind === \"APIResourceList\"" "o.groupVersion === \"metrics.k8s.io/v1beta1\"" \
		"o.resources.map(r => r.name + \":\" + r.kind + \":\" + r.namespaced + \":\" + r.verbs).join() === \"nodes:NodeMetrics:false:get,list,pods:PodMetrics:true:get,list\"" &&
	api GET /apis/metrics.k8s.io/v1 >/dev/null &&
	test "$API_CODE" = 404
'

test_expect_success 'kubectl top node: usage and percent of allocatable, <unknown> without metrics' '
	k top node >top &&
	head -n 1 top | squash >head &&
	echo "NAME CPU(cores) CPU% MEMORY(bytes) MEMORY% " >expect &&
	test_cmp expect head &&
	top_has top "n1 250m 12% 1024Mi 25%" "n2 1500m 37% 2048Mi 25%" \
		"n3 <unknown> <unknown> <unknown> <unknown>" \
		"n4 <unknown> <unknown> <unknown> <unknown>" \
		"n5 <unknown> <unknown> <unknown> <unknown>" &&
	lines top 6
'

test_expect_success 'kubectl top node NAME, -l, and a node without metrics' '
	k top node n2 >top &&
	top_has top "NAME CPU(cores) CPU% MEMORY(bytes) MEMORY%" "n2 1500m 37% 2048Mi 25%" &&
	k top node -l tier=front >top &&
	top_has top "n1 250m 12% 1024Mi 25%" &&
	test_must_fail grep "^n2 " top &&
	test_must_fail k top node n3 2>err &&
	test_grep "nodemetrics.metrics.k8s.io \"n3\" not found" err
'

test_expect_success 'kubectl top pod -n NS: pods summed over containers; one sampled once is absent' '
	k top pod -n default >top &&
	top_has top "NAME CPU(cores) MEMORY(bytes)" "web-1 5m 4Mi" "web-2 12m 8Mi" &&
	lines top 3 &&
	test_must_fail k top pod fresh 2>err &&
	test_grep "podmetrics.metrics.k8s.io \"default/fresh\" not found" err
'

test_expect_success 'kubectl top pod NAME --containers' '
	k top pod web-2 --containers >top &&
	top_has top "POD NAME CPU(cores) MEMORY(bytes)" "web-2 web 10m 8Mi" "web-2 sidecar 2m 0Mi" &&
	lines top 3
'

test_expect_success 'kubectl top pod -l, -A' '
	k top pod -l app=web >top &&
	top_has top "web-1 5m 4Mi" "web-2 12m 8Mi" &&
	k top pod -A >top &&
	top_has top "NAMESPACE NAME CPU(cores) MEMORY(bytes)" "default web-1 5m 4Mi" \
		"default web-2 12m 8Mi" "other db-1 20m 16Mi" &&
	lines top 4 &&
	k top pod -A -l app=db >top &&
	top_has top "other db-1 20m 16Mi" &&
	lines top 2
'

# same_top ARGS...: berth top ARGS prints what kubectl top ARGS prints, byte for byte, and
# exits as it does. For nodes the lines are compared sorted: kubectl prints the nodes
# without metrics in Go map order (berth: by name).
same_top() {
	k top "$@" >kt.out 2>kt.err; krc=$?
	"$BERTH_BIN" top --server "$BERTH_URL" "$@" >bt.out 2>bt.err; brc=$?
	if test "$1" = node; then
		sort kt.out >kt.sorted && mv kt.sorted kt.out &&
		sort bt.out >bt.sorted && mv bt.sorted bt.out
	fi
	test_cmp kt.out bt.out && test "$krc" = "$brc" || {
		echo "kubectl top $* (rc $krc):"; cat kt.out kt.err; echo "berth top $* (rc $brc):"; cat bt.out bt.err
		return 1
	}
}

test_expect_success 'berth top prints what kubectl top prints' '
	same_top node &&
	same_top node n2 &&
	same_top node -l tier=front &&
	same_top node --no-headers &&
	same_top node --sort-by cpu &&
	same_top node --sort-by memory &&
	same_top pod -n default &&
	same_top pod web-2 --containers &&
	same_top pod -l app=web &&
	same_top pod -A &&
	same_top pod -A --containers &&
	same_top pod -A --sort-by memory &&
	same_top pod -n nowhere &&
	cat bt.err && grep -q "No resources found in nowhere namespace." bt.err
'

test_expect_success 'berth top: errors as kubectl words them' '
	test_must_fail "$BERTH_BIN" top --server "$BERTH_URL" pod fresh 2>err &&
	test_grep "podmetrics.metrics.k8s.io \"default/fresh\" not found" err &&
	test_must_fail "$BERTH_BIN" top --server "$BERTH_URL" node n3 2>err &&
	test_grep "nodemetrics.metrics.k8s.io \"n3\" not found" err &&
	test_expect_code_2() { "$@"; test $? = 2; } &&
	test_expect_code_2 "$BERTH_BIN" top --server "$BERTH_URL" pods --sort-by=name 2>err &&
	test_grep "cpu or memory" err &&
	test_expect_code_2 "$BERTH_BIN" top --server "$BERTH_URL" services 2>err &&
	test_grep "node or pod" err &&
	down=http://127.0.0.1:$(test_free_port) &&
	test_must_fail "$BERTH_BIN" top --server "$down" node 2>err &&
	test_grep "The connection to the server ${down#http://} was refused" err &&
	test_must_fail grep "Metrics API" err
'

test_expect_success 'GET nodes: a NodeMetricsList with the nodes labels, usage and window' '
	api GET $M/nodes >nodes.json &&
	test "$API_CODE" = 200 &&
	jcheck nodes.json "o.kind === \"NodeMetricsList\"" "o.apiVersion === \"metrics.k8s.io/v1beta1\"" \
		"typeof o.metadata === \"object\"" \
		"o.items.map(i => i.metadata.name).join() === \"n1,n2\"" \
		"o.items[0].metadata.labels.tier === \"front\"" \
		"typeof o.items[0].metadata.creationTimestamp === \"string\"" \
		"o.items[0].timestamp === \"2026-03-01T10:00:00Z\"" "o.items[0].window === \"1s\"" \
		"o.items[0].usage.cpu === \"250m\"" "o.items[0].usage.memory === \"1Gi\"" \
		"o.items[1].usage.cpu === \"1500m\"" &&
	api GET "$M/nodes?labelSelector=tier%3Dback" >sel.json &&
	jcheck sel.json "o.items.map(i => i.metadata.name).join() === \"n2\"" &&
	api GET $M/nodes/n1 >n1.json &&
	jcheck n1.json "o.kind === \"NodeMetrics\"" "o.apiVersion === \"metrics.k8s.io/v1beta1\"" \
		"o.metadata.name === \"n1\"" "o.usage.memory === \"1Gi\""
'

test_expect_success 'GET pods: PodMetricsList per namespace and for all, labels, selectors' '
	api GET $M/namespaces/default/pods >pods.json &&
	test "$API_CODE" = 200 &&
	jcheck pods.json "o.kind === \"PodMetricsList\"" "o.apiVersion === \"metrics.k8s.io/v1beta1\"" \
		"o.items.map(i => i.metadata.namespace + \"/\" + i.metadata.name).join() === \"default/web-1,default/web-2\"" \
		"o.items[0].metadata.labels.app === \"web\"" "o.items[0].window === \"1s\"" \
		"o.items[1].containers.map(c => c.name + \"=\" + c.usage.cpu + \"/\" + c.usage.memory).join() === \"web=10m/8Mi,sidecar=1234567n/1000\"" &&
	api GET $M/pods >all.json &&
	jcheck all.json "o.items.map(i => i.metadata.namespace + \"/\" + i.metadata.name).join() === \"default/web-1,default/web-2,other/db-1\"" &&
	api GET "$M/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-1" >f.json &&
	jcheck f.json "o.items.map(i => i.metadata.name).join() === \"web-1\"" &&
	api GET "$M/pods?labelSelector=app%20in%20(db)" >l.json &&
	jcheck l.json "o.items.map(i => i.metadata.name).join() === \"db-1\"" &&
	api GET $M/namespaces/other/pods/db-1 >db.json &&
	jcheck db.json "o.kind === \"PodMetrics\"" "o.metadata.namespace === \"other\"" \
		"o.containers[0].usage.cpu === \"20m\"" "o.containers[0].usage.memory === \"16Mi\""
'

test_expect_success 'a pod of the summary that the store does not have is not served' '
	expect_status 404 NotFound GET $M/namespaces/default/pods/ghost &&
	api GET $M/namespaces/default/pods >pods.json &&
	jcheck pods.json "!o.items.some(i => i.metadata.name === \"ghost\")"
'

test_expect_success '404 NotFound as metrics-server words it' '
	expect_status 404 NotFound GET $M/nodes/n3 &&
	jcheck status.json "o.message === \"nodemetrics.metrics.k8s.io \\\"n3\\\" not found\"" &&
	expect_status 404 NotFound GET $M/nodes/nope &&
	expect_status 404 NotFound GET $M/namespaces/default/pods/fresh &&
	jcheck status.json "o.message === \"podmetrics.metrics.k8s.io \\\"default/fresh\\\" not found\"" &&
	expect_status 404 NotFound GET $M/namespaces/nope/pods/x &&
	expect_status 404 NotFound GET $M/pods/web-1 &&
	expect_status 404 NotFound GET $M/namespaces/default/nodes &&
	expect_status 404 NotFound GET $M/things
'

test_expect_success 'read-only: other verbs and watch are 405; a bad selector is 400' '
	expect_status 405 MethodNotAllowed POST $M/nodes "{}" &&
	expect_status 405 MethodNotAllowed DELETE $M/nodes/n1 &&
	expect_status 405 MethodNotAllowed PUT $M/namespaces/default/pods/web-1 "{}" &&
	expect_status 405 MethodNotAllowed GET "$M/pods?watch=true" &&
	expect_status 400 BadRequest GET "$M/pods?labelSelector=a%20in%20(" &&
	expect_status 400 BadRequest GET "$M/pods?fieldSelector=spec.nodeName%3Dx"
'

test_expect_success 'bad answers are logged, not served, and do not stop the server' '
	test_grep "metrics: node n3: GET /stats/summary: the answer is not JSON" "$TRASH/berth.log" &&
	test_grep "metrics: node n4: GET /stats/summary: HTTP 500" "$TRASH/berth.log" &&
	test_must_fail grep -q "metrics: node n5" "$TRASH/berth.log" &&
	api GET /readyz >/dev/null &&
	test "$API_CODE" = 200
'

test_expect_success 'an agent that starts failing keeps its node for three rounds, then loses it' '
	echo "[1,2,3]" >b.body &&
	test_wait_until 20 eval "api GET $M/nodes/n2 >/dev/null; test \$API_CODE = 404" &&
	api GET $M/pods >all.json &&
	jcheck all.json "o.items.map(i => i.metadata.name).join() === \"web-1,web-2\"" &&
	test_grep "metrics: node n2: no metrics after 3 failed scrapes" "$TRASH/berth.log"
'

test_expect_success 'and has it again once it answers' '
	summary n2 1500000000 2147483648 other/db-1/db:20000000:16777216 >b.body &&
	test_wait_until 15 eval "api GET $M/nodes/n2 >/dev/null; test \$API_CODE = 200" &&
	test_grep "metrics: node n2: scraped again" "$TRASH/berth.log"
'

test_expect_success 'an answer over 8 MB is dropped with a warning' '
	node -e "process.stdout.write(\"{\\\"node\\\":{},\\\"pods\\\":[\" + \"{},\".repeat(3000000) + \"{}]}\")" >c.body &&
	test_wait_until 20 grep -q "metrics: node n3: GET /stats/summary: the answer is larger than 8 MB" "$TRASH/berth.log"
'

test_expect_success 'a deleted node or pod has no metrics at once' '
	api DELETE "/api/v1/namespaces/default/pods/web-1?gracePeriodSeconds=0" >/dev/null &&
	test "$API_CODE" = 200 &&
	api GET $M/namespaces/default/pods >pods.json &&
	jcheck pods.json "!o.items.some(i => i.metadata.name === \"web-1\")" &&
	api DELETE /api/v1/nodes/n1 >/dev/null &&
	expect_status 404 NotFound GET $M/nodes/n1
'

test_expect_success 'the server shuts down cleanly' '
	stop_berth &&
	test_berth_log_clean
'

test_expect_success 'with --metrics-resolution 0 the group is not served' '
	start_berth --metrics-resolution 0 &&
	k api-versions >versions &&
	test_must_fail grep metrics versions &&
	test_must_fail k top node 2>err &&
	test_grep "Metrics API not available" err &&
	test_must_fail k top pod 2>err &&
	test_grep "Metrics API not available" err &&
	test_must_fail "$BERTH_BIN" top --server "$BERTH_URL" node 2>err &&
	test_grep "^error: Metrics API not available" err &&
	expect_status 404 NotFound GET $M/nodes &&
	api GET /apis/metrics.k8s.io >/dev/null &&
	test "$API_CODE" = 404
'

test_expect_success 'a bad --metrics-resolution is refused' '
	test_must_fail "$BERTH_BIN" server --metrics-resolution -1 2>err &&
	test_grep "metrics-resolution must be" err &&
	test_must_fail "$BERTH_BIN" server --metrics-resolution x 2>err &&
	test_grep "metrics-resolution must be" err
'

test_done
