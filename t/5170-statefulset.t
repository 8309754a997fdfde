#!/bin/bash
test_description='StatefulSets: stable names, ordered start and scale-down, partitioned rolling updates, undo, with simulated nodes'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth curl node

BERTH_SERVER_ARGS=
start_redis && start_berth --policies "$TOP/policies" --lua "$TOP/lua" || test_bail_out 'cannot start berth'

# Pods turn Ready 400 ms after they are bound, so that an ordered start has something to
# wait for.
fake_nodes node-a node-b || test_bail_out "cannot create the nodes"
start_fakelet --heartbeat 10 --delay-ms 400

jp() {
	k get "$1" -o jsonpath="$2"
}

# live_pods SELECTOR: names of the selected pods not being deleted, sorted
live_pods() {
	k get pods -l "$1" -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}' |
		awk 'NF == 1 { print $1 }' | sort | tr '\n' ' '
}

# sts_is NAME REPLICAS READY CURRENT UPDATED: the status says so, for its generation
sts_is() {
	test "$(jp "sts/$1" '{.status.replicas} {.status.readyReplicas} {.status.currentReplicas} {.status.updatedReplicas}')" = "$2 $3 $4 $5" &&
	test "$(jp "sts/$1" '{.status.observedGeneration}')" = "$(jp "sts/$1" '{.metadata.generation}')"
}

# watch_pods FILE: a pod watch of app=web from the beginning, in the background ($wpid)
watch_pods() {
	curl -sN --max-time 120 "$BERTH_URL/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dweb&resourceVersion=0" >"$1" 2>/dev/null &
	wpid=$!
	test_bg_pid $wpid
}

stop_watch() {
	sleep 1 && { kill $wpid; wait $wpid 2>/dev/null; true; }
}

# replay_order FILE: replays a pod watch stream of a StatefulSet named web and prints the
# violations of OrderedReady: a pod web-i appearing while some web-j, j < i, is missing or
# not Ready, or web-i going (deletionTimestamp or DELETED) while some web-j, j > i, is
# still there. Then the number of events.
replay_order() {
	node -e '
		const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
		const pods = new Map(), bad = [];
		const ord = n => Number(n.replace(/^web-/, ""));
		const ready = p => (((p.status || {}).conditions || []).find(c => c.type === "Ready") || {}).status === "True";
		lines.forEach(l => {
			const ev = JSON.parse(l), p = ev.object;
			if (ev.type === "ERROR" || !p || !p.metadata) return;
			const name = p.metadata.name, i = ord(name);
			const was = pods.get(name);
			if (ev.type === "ADDED" && !was) {
				for (let j = 0; j < i; j++) {
					const q = pods.get("web-" + j);
					if (!q || q.metadata.deletionTimestamp || !ready(q)) bad.push("created " + name + " before web-" + j + " was ready");
				}
			}
			const going = ev.type === "DELETED" || (p.metadata.deletionTimestamp && !(was && was.metadata.deletionTimestamp));
			if (going && was) {
				for (const [n, q] of pods) if (ord(n) > i && !q.metadata.deletionTimestamp) bad.push("deleting " + name + " while " + n + " is there");
			}
			if (ev.type === "DELETED") pods.delete(name); else pods.set(name, p);
		});
		bad.forEach(b => console.log(b));
		console.log("events " + lines.length);' "$1"
}

test_expect_success 'a StatefulSet of 3 starts web-0, web-1, web-2 in order, each once the one before is ready' '
	watch_pods events.json &&
	cat >sts.yaml <<-EOF &&
	apiVersion: apps/v1
	kind: StatefulSet
	metadata: {name: web}
	spec:
	  serviceName: web
	  replicas: 3
	  selector: {matchLabels: {app: web}}
	  template:
	    metadata: {labels: {app: web}}
	    spec:
	      containers:
	      - {name: c, image: berth/busybox, command: [sleep, "3600"], env: [{name: V, value: "1"}]}
	EOF
	k apply -f sts.yaml &&
	k rollout status sts/web --timeout=60s &&
	stop_watch &&
	replay_order events.json >order &&
	cat order &&
	test "$(grep -vc "^events " order)" = 0 &&
	test "$(live_pods app=web)" = "web-0 web-1 web-2 " &&
	sts_is web 3 3 3 3
'

test_expect_success 'stable identity: hostname, subdomain, the pod-name and pod-index labels, one revision' '
	test "$(jp pod/web-1 "{.spec.hostname} {.spec.subdomain}")" = "web-1 web" &&
	test "$(jp pod/web-1 "{.metadata.labels.statefulset\.kubernetes\.io/pod-name}")" = web-1 &&
	test "$(jp pod/web-1 "{.metadata.labels.apps\.kubernetes\.io/pod-index}")" = 1 &&
	test "$(jp pod/web-1 "{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}")" = StatefulSet/web &&
	R=$(jp sts/web "{.status.updateRevision}") && test -n "$R" &&
	test "$(jp sts/web "{.status.currentRevision}")" = "$R" &&
	test "$(jp pod/web-1 "{.metadata.labels.controller-revision-hash}")" = "$R" &&
	test "$(jp controllerrevision/$R "{.revision}")" = 1
'

test_expect_success 'kubectl get sts prints READY as ready/desired' '
	k get sts web >out &&
	squash <out >sq &&
	test_grep "^NAME READY AGE" sq &&
	test_grep "^web 3/3 " sq
'

test_expect_success 'a deleted pod comes back under the same name' '
	uid=$(jp pod/web-1 "{.metadata.uid}") &&
	# --wait=false: the fakelet confirms a deletion at once, so the controller may make the
	# new web-1 before kubectl lists the old one to wait for it, and kubectl would then wait
	# for the new one to go (the same race exists in kube, with a slower kubelet).
	k delete pod web-1 --wait=false &&
	test_wait_until 30 eval "test -n \"\$(jp pod/web-1 {.metadata.uid} 2>/dev/null)\" && test \"\$(jp pod/web-1 {.metadata.uid})\" != $uid" &&
	test_wait_until 30 sts_is web 3 3 3 3
'

test_expect_success 'scaling to 5 adds web-3 and web-4; scaling to 1 removes them from the top, one at a time' '
	k scale sts web --replicas=5 &&
	test_wait_until 30 sts_is web 5 5 5 5 &&
	watch_pods events2.json &&
	test_wait_until 10 eval "test \$(wc -l <events2.json) -ge 5" &&
	k scale sts web --replicas=1 &&
	test_wait_until 40 eval "test \"\$(live_pods app=web)\" = \"web-0 \"" &&
	test_wait_until 30 sts_is web 1 1 1 1 &&
	stop_watch &&
	replay_order events2.json >order2 &&
	cat order2 &&
	test "$(grep -vc "^events " order2)" = 0 &&
	k scale sts web --replicas=3 &&
	k rollout status sts/web --timeout=60s
'

test_expect_success 'a partitioned rolling update touches only ordinals at or above the partition' '
	R1=$(jp sts/web "{.status.currentRevision}") &&
	k patch sts web --type merge -p "{\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"partition\":2}}}}" &&
	k set env sts/web V=2 &&
	test_wait_until 30 eval "test \"\$(jp pod/web-2 {.spec.containers[0].env[0].value})\" = 2" &&
	test_wait_until 30 sts_is web 3 3 2 1 &&
	R2=$(jp sts/web "{.status.updateRevision}") && test "$R2" != "$R1" &&
	test "$(jp sts/web "{.status.currentRevision}")" = "$R1" &&
	test "$(jp pod/web-0 "{.spec.containers[0].env[0].value}")" = 1 &&
	test "$(jp pod/web-1 "{.spec.containers[0].env[0].value}")" = 1 &&
	k rollout status sts/web --timeout=30s >st.out &&
	test_grep "partitioned roll out complete: 1 new pods have been updated" st.out
'

test_expect_success 'partition 0 rolls the rest from the top down; currentRevision follows at the end' '
	R2=$(jp sts/web "{.status.updateRevision}") &&
	watch_pods events3.json &&
	test_wait_until 10 eval "test \$(wc -l <events3.json) -ge 3" &&
	k patch sts web --type merge -p "{\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"partition\":0}}}}" &&
	test_wait_until 60 eval "test \"\$(jp sts/web {.status.currentRevision})\" = $R2" &&
	k rollout status sts/web --timeout=60s >st.out &&
	test_grep "partitioned roll out complete: 3 new pods have been updated" st.out &&
	stop_watch &&
	sts_is web 3 3 3 3 &&
	test "$(k get pods -l app=web -o jsonpath="{.items[*].spec.containers[0].env[0].value}")" = "2 2 2" &&
	grep "\"DELETED\"" events3.json | sed "s/.*\"name\":\"\(web-[0-9]\)\".*/\1/" | tr "\n" " " >deleted &&
	cat deleted &&
	test "$(cat deleted)" = "web-1 web-0 "
'

test_expect_success 'kubectl rollout history and undo through the ControllerRevisions' '
	k rollout history sts/web >hist &&
	test_grep "^1 " hist && test_grep "^2 " hist &&
	k rollout undo sts/web &&
	k rollout status sts/web --timeout=60s &&
	test "$(k get pods -l app=web -o jsonpath="{.items[*].spec.containers[0].env[0].value}")" = "1 1 1" &&
	k rollout history sts/web >hist2 &&
	test_grep "^3 " hist2
'

test_expect_success 'Parallel: every pod is created at once' '
	sed -e "s/name: web}/name: par}/" -e "s/app: web/app: par/g" -e "s/serviceName: web/serviceName: par/" \
	    -e "s/replicas: 3/replicas: 4\n  podManagementPolicy: Parallel/" sts.yaml >par.yaml &&
	k apply -f par.yaml &&
	test_wait_until 30 eval "test \"\$(live_pods app=par)\" = \"par-0 par-1 par-2 par-3 \"" &&
	k rollout status sts/par --timeout=60s
'

test_expect_success 'a StatefulSet with volumeClaimTemplates is refused, nothing stored' '
	sed -e "s/name: web}/name: vol}/" sts.yaml >vol.yaml &&
	cat >>vol.yaml <<-EOF &&
	  volumeClaimTemplates:
	  - metadata: {name: data}
	    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
	EOF
	test_must_fail k apply -f vol.yaml 2>err &&
	test_grep -i "volumeClaimTemplates" err &&
	test_must_fail k get sts vol
'

test_expect_success 'deleting the StatefulSet removes its pods and revisions' '
	k delete sts web par &&
	test_wait_until 30 eval "test -z \"\$(k get pods -l \"app in (web,par)\" -o name)\"" &&
	test_wait_until 30 eval "test -z \"\$(k get controllerrevisions -o name)\""
'

test_done
