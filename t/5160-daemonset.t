#!/bin/bash
test_description='DaemonSets: one pod per eligible node, node changes, rolling updates, history and undo, with simulated nodes'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth curl node

BERTH_SERVER_ARGS=
start_redis && start_berth --policies "$TOP/policies" --lua "$TOP/lua" || test_bail_out 'cannot start berth'

# Three nodes created through the API; the fakelet stands in for their agents. Pods turn
# Ready 300 ms after they are bound, so a rollout has moments with a pod not yet ready.
fake_nodes node-a node-b node-c || test_bail_out "cannot create the nodes"
start_fakelet --heartbeat 10 --delay-ms 300

jp() {
	k get "$1" -o jsonpath="$2"
}

# node_of_pods SELECTOR: "node pod-hash" of every pod not being deleted, sorted by node
pods_by_node() {
	k get pods -l "$1" -o jsonpath='{range .items[*]}{.spec.nodeName} {.metadata.labels.controller-revision-hash} {.metadata.deletionTimestamp}{"\n"}{end}' |
		awk 'NF == 2 { print $1, $2 }' | sort
}

# nodes_are SELECTOR NODE...: the selected live pods run on exactly these nodes, one each
nodes_are() {
	local sel=$1
	shift
	test "$(pods_by_node "$sel" | awk '{ print $1 }' | tr '\n' ' ')" = "$* "
}

# ds_is NAME DESIRED CURRENT READY UPDATED AVAILABLE: the status says so, for its generation
ds_is() {
	test "$(jp "ds/$1" '{.status.desiredNumberScheduled} {.status.currentNumberScheduled} {.status.numberReady} {.status.updatedNumberScheduled} {.status.numberAvailable}')" = "$2 $3 $4 $5 $6" &&
	test "$(jp "ds/$1" '{.status.observedGeneration}')" = "$(jp "ds/$1" '{.metadata.generation}')"
}

test_expect_success 'a DaemonSet with a node selector runs one pod on each matching node' '
	k label node node-a node-b disk=ssd &&
	cat >ds.yaml <<-EOF &&
	apiVersion: apps/v1
	kind: DaemonSet
	metadata: {name: agent}
	spec:
	  selector: {matchLabels: {app: agent}}
	  template:
	    metadata: {labels: {app: agent}}
	    spec:
	      nodeSelector: {disk: ssd}
	      containers:
	      - {name: c, image: berth/busybox, command: [sleep, "3600"], env: [{name: V, value: "1"}]}
	EOF
	k apply -f ds.yaml &&
	test_wait_until 30 ds_is agent 2 2 2 2 2 &&
	nodes_are app=agent node-a node-b
'

test_expect_success 'the pods: bound by node affinity, with the DaemonSet tolerations and the revision label' '
	P=$(k get pods -l app=agent -o jsonpath="{.items[0].metadata.name}") &&
	N=$(jp pod/$P "{.spec.nodeName}") &&
	test "$(jp pod/$P "{.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0]}")" = "$N" &&
	jp pod/$P "{.spec.tolerations[*].key}" >tol &&
	test_grep node.kubernetes.io/unreachable tol &&
	test_grep node.kubernetes.io/not-ready tol &&
	test_grep node.kubernetes.io/unschedulable tol &&
	test "$(jp pod/$P "{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}")" = DaemonSet/agent &&
	H=$(jp pod/$P "{.metadata.labels.controller-revision-hash}") && test -n "$H" &&
	test "$(jp controllerrevision/agent-$H "{.revision}")" = 1 &&
	test "$(jp pod/$P "{.metadata.labels.pod-template-generation}")" = 1 &&
	test "$(jp ds/agent "{.metadata.annotations.deprecated\.daemonset\.template\.generation}")" = 1 &&
	k annotate ds agent note=not-the-template &&
	test "$(jp ds/agent "{.metadata.annotations.deprecated\.daemonset\.template\.generation}")" = 1
'

test_expect_success 'kubectl get ds prints the DaemonSet columns' '
	k get ds agent >out &&
	squash <out >sq &&
	test_grep "^NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE" sq &&
	test_grep "^agent 2 2 2 2 2 disk=ssd " sq
'

test_expect_success 'a node that starts matching gets a pod; a cordoned one keeps its pod' '
	k cordon node-a &&
	k label node node-c disk=ssd &&
	test_wait_until 30 ds_is agent 3 3 3 3 3 &&
	nodes_are app=agent node-a node-b node-c &&
	k uncordon node-a
'

test_expect_success 'a node that stops matching loses its pod; a deleted node too' '
	k label node node-c disk- &&
	test_wait_until 30 eval "nodes_are app=agent node-a node-b" &&
	test_wait_until 30 ds_is agent 2 2 2 2 2 &&
	k delete node node-b &&
	test_wait_until 30 eval "nodes_are app=agent node-a" &&
	test_wait_until 30 ds_is agent 1 1 1 1 1 &&
	fake_nodes node-b && k label node node-b node-c disk=ssd &&
	test_wait_until 30 ds_is agent 3 3 3 3 3
'

test_expect_success 'a deleted pod is replaced on its node' '
	P=$(k get pods -l app=agent --field-selector spec.nodeName=node-b -o jsonpath="{.items[0].metadata.name}") &&
	k delete pod "$P" --wait=false &&
	test_wait_until 30 eval "test -n \"\$(k get pods -l app=agent --field-selector spec.nodeName=node-b -o jsonpath=\"{.items[?(@.metadata.name!=\\\"$P\\\")].metadata.name}\")\"" &&
	test_wait_until 30 ds_is agent 3 3 3 3 3
'

# replay_ready FILE INITIAL: replays a pod watch stream and prints the smallest number of
# live Ready pods over the state after every event once the initial ones are in, and the
# largest number of live pods on one node.
replay_ready() {
	node -e '
		const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
		const pods = new Map();
		let min = 1e9, perNode = 0, initial = Number(process.argv[2]);
		lines.forEach((l, i) => {
			const ev = JSON.parse(l), p = ev.object;
			if (ev.type === "ERROR" || !p || !p.metadata) return;
			if (ev.type === "DELETED") pods.delete(p.metadata.name);
			else pods.set(p.metadata.name, p);
			if (i + 1 < initial) return;
			let ready = 0; const on = {};
			for (const q of pods.values()) {
				if (q.metadata.deletionTimestamp) continue;
				const n = q.spec.nodeName || "-";
				on[n] = (on[n] || 0) + 1; perNode = Math.max(perNode, on[n]);
				const c = ((q.status || {}).conditions || []).find(c => c.type === "Ready");
				if (c && c.status === "True") ready++;
			}
			min = Math.min(min, ready);
		});
		console.log(min + " " + perNode + " " + lines.length);' "$1" "$2"
}

test_expect_success 'a rolling update replaces one pod at a time (maxUnavailable 1), at every event' '
	api GET "/api/v1/namespaces/default/pods?labelSelector=app%3Dagent" >before.json &&
	n0=$(json_get before.json o.items.length) && test "$n0" = 3 &&
	{ curl -sN --max-time 90 "$BERTH_URL/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dagent&resourceVersion=0" >events.json 2>/dev/null & wpid=$!; } &&
	test_bg_pid $wpid &&
	test_wait_until 10 eval "test \$(wc -l <events.json) -ge $n0" &&
	k set env ds/agent V=2 &&
	k rollout status ds/agent --timeout=90s >status.out &&
	test_grep "daemon set \"agent\" successfully rolled out" status.out &&
	sleep 1 && { kill $wpid; wait $wpid 2>/dev/null; true; } &&
	replay_ready events.json "$n0" >replayed &&
	read rmin rper nev <replayed &&
	echo "every event ($nev): ready at least $rmin, at most $rper pods on a node" &&
	test "$nev" -gt 6 && test "$rmin" -ge 2 && test "$rper" -le 1 &&
	test "$(pods_by_node app=agent | awk "{ print \$2 }" | sort -u | wc -l)" = 1 &&
	ds_is agent 3 3 3 3 3 &&
	test "$(k get pods -l app=agent -o jsonpath="{.items[*].spec.containers[0].env[0].value}")" = "2 2 2" &&
	test "$(jp ds/agent "{.metadata.annotations.deprecated\.daemonset\.template\.generation}")" = 2 &&
	test "$(k get pods -l app=agent -o jsonpath="{.items[*].metadata.labels.pod-template-generation}")" = "2 2 2"
'

test_expect_success 'with maxSurge 1 and maxUnavailable 0 the new pod is ready before the old one goes' '
	k patch ds agent --type merge -p "{\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"maxSurge\":1,\"maxUnavailable\":0}}}}" &&
	{ curl -sN --max-time 90 "$BERTH_URL/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dagent&resourceVersion=0" >events2.json 2>/dev/null & wpid=$!; } &&
	test_bg_pid $wpid &&
	test_wait_until 10 eval "test \$(wc -l <events2.json) -ge 3" &&
	k set env ds/agent V=3 &&
	k rollout status ds/agent --timeout=90s &&
	sleep 1 && { kill $wpid; wait $wpid 2>/dev/null; true; } &&
	replay_ready events2.json 3 >replayed &&
	read rmin rper nev <replayed &&
	echo "every event ($nev): ready at least $rmin, at most $rper pods on a node" &&
	test "$rmin" -ge 3 && test "$rper" -le 2 &&
	test "$(k get pods -l app=agent -o jsonpath="{.items[*].spec.containers[0].env[0].value}")" = "3 3 3"
'

test_expect_success 'kubectl rollout history lists the revisions; undo goes back to the previous template' '
	k rollout history ds/agent >hist &&
	test_grep "^1 " hist && test_grep "^2 " hist && test_grep "^3 " hist &&
	test "$(k get controllerrevisions -l app=agent -o name | wc -l)" = 3 &&
	k rollout undo ds/agent &&
	k rollout status ds/agent --timeout=90s &&
	test "$(jp ds/agent "{.spec.template.spec.containers[0].env[0].value}")" = 2 &&
	test_wait_until 30 eval "test \"\$(k get pods -l app=agent -o jsonpath=\"{.items[*].spec.containers[0].env[0].value}\")\" = \"2 2 2\"" &&
	k rollout history ds/agent >hist2 &&
	test_grep "^4 " hist2 && ! grep -q "^2 " hist2
'

test_expect_success 'OnDelete: a new template reaches only the pods deleted by hand' '
	k patch ds agent --type merge -p "{\"spec\":{\"updateStrategy\":{\"type\":\"OnDelete\",\"rollingUpdate\":null}}}" &&
	k set env ds/agent V=5 &&
	test_wait_until 20 eval "test \"\$(jp ds/agent {.status.observedGeneration})\" = \"\$(jp ds/agent {.metadata.generation})\"" &&
	sleep 2 &&
	test "$(k get pods -l app=agent -o jsonpath="{.items[*].spec.containers[0].env[0].value}")" = "2 2 2" &&
	P=$(k get pods -l app=agent --field-selector spec.nodeName=node-c -o jsonpath="{.items[0].metadata.name}") &&
	k delete pod "$P" &&
	test_wait_until 30 eval "test \"\$(k get pods -l app=agent --field-selector spec.nodeName=node-c -o jsonpath=\"{.items[*].spec.containers[0].env[0].value}\")\" = 5" &&
	test_wait_until 30 ds_is agent 3 3 3 1 3
'

test_expect_success 'kubectl drain: DaemonSet pods need --ignore-daemonsets, and stay' '
	test_must_fail k drain node-a --timeout=20s 2>err &&
	test_grep "cannot delete DaemonSet-managed Pods" err &&
	k drain node-a --ignore-daemonsets --timeout=30s >out 2>&1 &&
	cat out &&
	test_grep "node/node-a drained" out &&
	test "$(jp node/node-a "{.spec.unschedulable}")" = true &&
	test_wait_until 20 eval "nodes_are app=agent node-a node-b node-c" &&
	k uncordon node-a
'

test_expect_success 'deleting the DaemonSet removes its pods and revisions' '
	k delete ds agent &&
	test_wait_until 30 eval "test -z \"\$(k get pods -l app=agent -o name)\"" &&
	test_wait_until 30 eval "test -z \"\$(k get controllerrevisions -l app=agent -o name)\""
'

test_done
