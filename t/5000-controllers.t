#!/bin/bash
test_description='the controllers in berth server: ReplicaSet, Deployment (rollout, undo, scale), Endpoints, with simulated nodes'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth

# Policies from a private copy, so the test can add a broken controller.
mkdir -p "$TRASH/policies"
cp -r "$TOP/policies/." "$TRASH/policies/"
BERTH_SERVER_ARGS=
start_redis && start_berth --policies "$TRASH/policies" --lua "$TOP/lua" ||
	test_bail_out 'cannot start berth'

# Two nodes created through the API; the fakelet stands in for their agents: bound pods turn
# Running and Ready, deleted ones are confirmed gone.
fake_nodes node-a node-b || test_bail_out "cannot create the nodes"
start_fakelet --heartbeat 10

# count_pods SELECTOR: pods matching that are not terminating
count_pods() {
	k get pods -l "$1" -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}' |
		awk 'NF == 1' | wc -l
}

pods_are() {
	test "$(count_pods "$1")" -eq "$2"
}

jp() {
	k get "$1" -o jsonpath="$2"
}

field_is() {
	test "$(jp "$1" "$2")" = "$3"
}

has_event() {
	k get events --field-selector "involvedObject.name=$1" -o jsonpath='{.items[*].message}' | grep -q "$2"
}

test_expect_success 'a ReplicaSet creates its pods, owned and labelled, and reports them' '
	cat >rs.yaml <<-\EOF &&
	apiVersion: apps/v1
	kind: ReplicaSet
	metadata: {name: web}
	spec:
	  replicas: 3
	  selector: {matchLabels: {app: web}}
	  template:
	    metadata: {labels: {app: web}}
	    spec: {containers: [{name: c, image: busybox}]}
	EOF
	k apply -f rs.yaml &&
	test_wait_until 20 pods_are app=web 3 &&
	k get pods -l app=web -o jsonpath="{.items[*].metadata.ownerReferences[0].name}" >owners &&
	test "$(tr " " "\n" <owners | sort -u)" = web &&
	test_wait_until 20 field_is rs/web "{.status.readyReplicas}" 3 &&
	test_wait_until 10 field_is rs/web "{.status.availableReplicas}" 3 &&
	field_is rs/web "{.status.observedGeneration}" 1 &&
	test_wait_until 10 has_event web "Created pod: web-"
'

test_expect_success 'scaling a ReplicaSet up and down creates and deletes pods' '
	k scale rs web --replicas=5 &&
	test_wait_until 20 pods_are app=web 5 &&
	k scale rs web --replicas=2 &&
	test_wait_until 20 pods_are app=web 2 &&
	test_wait_until 20 field_is rs/web "{.status.replicas}" 2 &&
	test_wait_until 10 has_event web "Deleted pod: web-"
'

test_expect_success 'a ReplicaSet adopts a matching orphan instead of creating a pod' '
	api POST /api/v1/namespaces/default/pods "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
	  \"metadata\":{\"name\":\"stray\",\"labels\":{\"app\":\"adopt\"}},
	  \"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}" >/dev/null &&
	sed -e "s/name: web/name: adopter/" -e "s/app: web/app: adopt/g" -e "s/replicas: 3/replicas: 2/" rs.yaml >adopt.yaml &&
	k apply -f adopt.yaml &&
	test_wait_until 20 field_is pod/stray "{.metadata.ownerReferences[0].name}" adopter &&
	test_wait_until 20 pods_are app=adopt 2 &&
	sleep 1 &&
	pods_are app=adopt 2
'

test_expect_success 'a pod relabelled out of the selector is released and replaced' '
	k label pod stray app=gone --overwrite &&
	test_wait_until 20 field_is pod/stray "{.metadata.ownerReferences}" "" &&
	test_wait_until 20 pods_are app=adopt 2
'

# The rollout watcher: samples the deployment's pods while a rollout runs and records the
# largest count of pods and the smallest count of ready ones.
sample_rollout() {
	local i pods ready max=0 min=1000
	for i in $(seq 1 400); do
		k get pods -l app=roll -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}|{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' >sample 2>/dev/null || continue
		pods=$(grep -c "^|" sample)
		ready=$(grep -c "^|True" sample)
		[ "$pods" -gt "$max" ] && max=$pods
		[ "$ready" -lt "$min" ] && min=$ready
		echo "$max $min" >bounds
		[ -f rollout.done ] && break
		sleep 0.1
	done
}

test_expect_success 'a Deployment rolls out; kubectl rollout status follows it' '
	k create deployment roll --image=busybox:1 --replicas=4 &&
	k rollout status deployment/roll --timeout=60s &&
	field_is deploy/roll "{.status.updatedReplicas}" 4 &&
	field_is deploy/roll "{.status.availableReplicas}" 4 &&
	jp deploy/roll "{.status.conditions[?(@.type==\"Progressing\")].reason}" >reason &&
	test "$(cat reason)" = NewReplicaSetAvailable
'

# replay_bounds FILE: replays a pod watch stream (one JSON event per line, the first ones
# the ADDED events of the pods as they were) and prints the largest number of pods not
# being deleted and the smallest number of those that are Ready, over the state after
# every single event once the initial ones are in.
replay_bounds() {
	node -e '
		const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
		const pods = new Map();
		let max = 0, min = 1e9, initial = Number(process.argv[2]);
		lines.forEach((l, i) => {
			const ev = JSON.parse(l), p = ev.object;
			if (ev.type === "ERROR" || !p || !p.metadata) return;
			if (ev.type === "DELETED") pods.delete(p.metadata.name);
			else pods.set(p.metadata.name, p);
			if (i + 1 < initial) return;
			let n = 0, ready = 0;
			for (const q of pods.values()) {
				if (q.metadata.deletionTimestamp) continue;
				n++;
				const c = ((q.status || {}).conditions || []).find(c => c.type === "Ready");
				if (c && c.status === "True") ready++;
			}
			max = Math.max(max, n);
			min = Math.min(min, ready);
		});
		console.log(max + " " + min + " " + lines.length);' "$1" "$2"
}

test_expect_success 'set image rolls over within maxSurge and maxUnavailable (25%: 1 of 4), at every event' '
	rm -f rollout.done bounds &&
	{ sample_rollout & spid=$!; } &&
	api GET "/api/v1/namespaces/default/pods?labelSelector=app%3Droll" >before.json &&
	n0=$(json_get before.json o.items.length) &&
	{ curl -sN --max-time 60 "$BERTH_URL/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Droll&resourceVersion=0" >events.json 2>/dev/null & wpid=$!; } &&
	test_bg_pid $wpid &&
	test_wait_until 10 eval "test \$(wc -l <events.json) -ge $n0" &&
	k set image deployment/roll busybox=busybox:2 &&
	k rollout status deployment/roll --timeout=60s &&
	touch rollout.done && wait $spid &&
	sleep 1 && { kill $wpid; wait $wpid 2>/dev/null; true; } &&
	read max min <bounds &&
	echo "sampled: pods at most $max, ready at least $min" &&
	test "$max" -le 5 && test "$min" -ge 3 &&
	replay_bounds events.json "$n0" >replayed &&
	read rmax rmin nev <replayed &&
	echo "every event ($nev): pods at most $rmax, ready at least $rmin" &&
	test "$nev" -gt "$n0" && test "$rmax" -le 5 && test "$rmin" -ge 3 &&
	test "$(k get rs -l app=roll -o jsonpath="{.items[*].spec.replicas}" | tr " " "\n" | sort -n | tr "\n" " ")" = "0 4 " &&
	jp deploy/roll "{.spec.template.spec.containers[0].image}" | grep -q busybox:2
'

test_expect_success 'kubectl rollout undo goes back to the old ReplicaSet' '
	old=$(k get rs -l app=roll -o jsonpath="{range .items[?(@.spec.replicas==0)]}{.metadata.name}{end}") &&
	k rollout undo deployment/roll &&
	k rollout status deployment/roll --timeout=60s &&
	test "$(jp rs/$old "{.spec.replicas}")" = 4 &&
	jp deploy/roll "{.spec.template.spec.containers[0].image}" | grep -q busybox:1 &&
	test "$(jp deploy/roll "{.metadata.annotations.deployment\.kubernetes\.io/revision}")" = 3
'

test_expect_success 'kubectl scale on a Deployment, then rollout status' '
	k scale deployment/roll --replicas=6 &&
	k rollout status deployment/roll --timeout=60s &&
	test_wait_until 20 pods_are app=roll 6
'

test_expect_success 'Endpoints list the ready pods of a Service, by target port' '
	k expose deployment roll --port=80 --target-port=8080 &&
	test_wait_until 20 field_is endpoints/roll "{.subsets[0].ports[0].port}" 8080 &&
	ips=$(jp endpoints/roll "{.subsets[0].addresses[*].ip}" | wc -w) &&
	test "$ips" -eq 6 &&
	jp endpoints/roll "{.subsets[0].addresses[0].targetRef.kind}" | grep -q Pod
'

# (kept off every node, so the simulated agents leave it not ready)
test_expect_success 'a pod that is not ready is listed under notReadyAddresses' '
	api POST /api/v1/namespaces/default/pods "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
	  \"metadata\":{\"name\":\"unready\",\"labels\":{\"app\":\"solo\"}},
	  \"spec\":{\"nodeSelector\":{\"no\":\"such-node\"},
	    \"containers\":[{\"name\":\"c\",\"image\":\"busybox\",\"ports\":[{\"name\":\"http\",\"containerPort\":9000}]}]}}" >/dev/null &&
	api PATCH /api/v1/namespaces/default/pods/unready/status "{\"status\":{\"phase\":\"Running\",\"podIP\":\"10.9.9.9\",
	  \"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}" application/merge-patch+json >/dev/null &&
	k create service clusterip solo --tcp=80:http &&
	k patch service solo -p "{\"spec\":{\"selector\":{\"app\":\"solo\"}}}" &&
	test_wait_until 20 field_is endpoints/solo "{.subsets[0].notReadyAddresses[0].ip}" 10.9.9.9 &&
	field_is endpoints/solo "{.subsets[0].ports[0].port}" 9000
'

test_expect_success 'deleting a Service deletes its Endpoints' '
	k delete service solo &&
	test_wait_until 20 test_must_fail k get endpoints solo
'

test_expect_success 'a broken controller policy is reported and skipped; the others keep working' '
	echo "return {" >"$TRASH/policies/controllers/broken.lua" &&
	kill -HUP "$BERTH_PID" &&
	test_wait_until 10 grep -q "controllers/broken.lua" "$TRASH/berth.log" &&
	k scale rs web --replicas=3 &&
	test_wait_until 20 pods_are app=web 3
'

# create_failures: the controller manager's failed creates so far (/metrics)
create_failures() {
	api GET /metrics | sed -n 's/^berth_lua_cluster_action_failures_total{component="controller-manager",verb="create"} //p' |
		awk '{ n += $1 } END { print n + 0 }'
}

# kube's slowStartBatch: creates go out 1, 2, 4, ... and a failed batch ends the sync's
# creates; the failures back off. The image with a trailing space passes the ReplicaSet's
# template validation but not the pod's (as kube's), so every create is rejected.
test_expect_success 'a template the API server rejects costs one create per sync, with backoff' '
	before=$(create_failures) &&
	sed -e "s/name: web/name: rejected/" -e "s/app: web/app: rejected/g" -e "s/replicas: 3/replicas: 20/" \
	    -e "s/image: busybox}/image: \"busybox \"}/" rs.yaml >rejected.yaml &&
	grep -q "busybox \"" rejected.yaml &&
	k apply -f rejected.yaml &&
	test_wait_until 20 has_event rejected "Error creating" &&
	sleep 3 &&
	after=$(create_failures) &&
	echo "failed creates in about 3 s: $((after - before))" &&
	test $((after - before)) -ge 1 && test $((after - before)) -le 20 &&
	pods_are app=rejected 0 &&
	grep -q "creates skipped after a failed one" "$TRASH/berth.log" &&
	k delete rs rejected
'

test_expect_success 'a valid ReplicaSet of 20 converges quickly through the slow-start batches' '
	sed -e "s/name: web/name: twenty/" -e "s/app: web/app: twenty/g" -e "s/replicas: 3/replicas: 20/" rs.yaml >twenty.yaml &&
	k apply -f twenty.yaml &&
	test_wait_until 20 pods_are app=twenty 20 &&
	test_wait_until 20 field_is rs/twenty "{.status.readyReplicas}" 20 &&
	k delete rs twenty
'

# endpoint_syncs: the Endpoints controller's syncs so far (/metrics)
endpoint_syncs() {
	api GET /metrics | sed -n 's/^berth_controller_syncs_total{controller="controllers\/endpoints.lua",result="[a-z_]*"} //p' |
		awk '{ n += $1 } END { print n + 0 }'
}

# triggers (docs/controllers.md): a pod change resyncs the Services whose selector matches
# the pod's old or new labels, not every Service of the namespace (the coarse watches did).
test_expect_success 'triggers: a pod change resyncs only the Services that select it' '
	k create namespace trig &&
	for i in 1 2 3 4 5 6 7 8 9 10; do
		k -n trig create service clusterip other-$i --tcp=80 >/dev/null &&
		k -n trig set selector service other-$i app=other-$i >/dev/null || return 1
	done &&
	k -n trig create service clusterip mine --tcp=80 &&
	k -n trig set selector service mine role=mine &&
	k -n trig run p --image=busybox --labels=role=mine,v=0 &&
	sleep 2 &&
	s0=$(endpoint_syncs) &&
	for v in 1 2 3 4 5 6; do
		k -n trig label pod p v=$v --overwrite >/dev/null || return 1
	done &&
	sleep 2 &&
	s1=$(endpoint_syncs) &&
	echo "Endpoints syncs for 6 pod changes: $((s1 - s0))" &&
	test $((s1 - s0)) -ge 1 && test $((s1 - s0)) -le 20 &&
	k delete namespace trig --wait=false
'

test_expect_success 'a triggers entry that is not a selector match is refused, naming the field' '
	cat >"$TRASH/policies/controllers/badtrig.lua" <<-EOF &&
	return { parent = "v1/services", children = { { resource = "v1/endpoints", by_name = true } },
	         triggers = { ["v1/pods"] = { match = "labels" } },
	         sync = function() return {} end }
	EOF
	kill -HUP "$BERTH_PID" &&
	test_wait_until 10 grep -q "badtrig.lua.*.triggers.\[.v1/pods.\].match must be \"selector\"" "$TRASH/berth.log" &&
	rm "$TRASH/policies/controllers/badtrig.lua" &&
	kill -HUP "$BERTH_PID"
'

test_expect_success 'controller syncs are counted in /metrics' '
	api GET /metrics >metrics &&
	grep -q "berth_controller_syncs_total{controller=\"controllers/replicaset.lua\",result=\"success\"}" metrics
'

test_done
