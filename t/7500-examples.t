#!/bin/bash
test_description='examples/: the commands of their READMEs run as written (simulated nodes, scheduler, controllers, plugins), with the outputs they show'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth

# The READMEs' commands run from the top of a checkout. This one is made of the real
# examples/, bin/, build/, lua/ and plugins/, and a copy of policies/ that the policy
# examples install their schedulers into; the server reads its policies from that copy.
CHECKOUT=$TRASH/checkout
mkdir -p "$CHECKOUT" "$TRASH/kbin"
for d in bin build examples lua plugins; do
	ln -s "$TOP/$d" "$CHECKOUT/$d"
done
cp -r "$TOP/policies" "$CHECKOUT/policies"

# kubectl as the READMEs call it: from PATH, bounded, with a private discovery cache.
cat >"$TRASH/kbin/kubectl" <<EOF
#!/bin/sh
exec timeout 150 "$KUBECTL" --cache-dir "$TRASH/kcache" "\$@"
EOF
chmod +x "$TRASH/kbin/kubectl"

# "Simulated nodes" in examples/README.md: a server without a node agent, the fakelet
# for every node (pods turn Ready 200 ms after they are bound, Job pods finish after 2 s).
BERTH_SERVER_ARGS=
start_redis && start_berth --policies "$CHECKOUT/policies" --lua "$TOP/lua" --plugins "$TOP/plugins" ||
	test_bail_out 'cannot start berth'
start_fakelet --heartbeat 10 --complete-after-ms 2000 --delay-ms 200

# ---------------------------------------------------------------------------- README blocks
#
# A README's commands are its ```sh blocks; the ```text block right after one (only blank
# lines between) is what it prints. readme_run runs block N of examples/FILE as a bash -e
# script in the checkout; readme_expect also compares its stdout with the text block, after
# squeezing blanks, dropping kubectl's "Waiting for ..." rollout progress lines (how many
# depends on timing) and naming every scheduled Job ticker-N.

# readme_block FILE N: the Nth ```sh block of FILE
readme_block() {
	awk -v n="$2" '
		inb && /^```/ { exit }
		inb { print; next }
		/^```sh[ \t]*$/ { c++; if (c == n) inb = 1 }' "$1"
}

# readme_output FILE N: the ```text block that follows the Nth ```sh block
readme_output() {
	awk -v n="$2" '
		st == 3 && /^```/ { exit }
		st == 3 { print; next }
		st == 2 && /^```text[ \t]*$/ { st = 3; next }
		st == 2 && /^[ \t]*$/ { next }
		st == 2 { exit }
		st == 1 && /^```/ { st = 2; next }
		st == 1 { next }
		/^```sh[ \t]*$/ { c++; if (c == n) st = 1 }' "$1"
}

readme_count() {
	grep -c '^```sh[ \t]*$' "$1"
}

readme_normalize() {
	grep -v '^Waiting for ' |
		sed -E -e 's/[[:space:]]+/ /g' -e 's/^ //' -e 's/ $//' -e 's/ticker-[0-9]{8}/ticker-N/g' |
		grep -v '^$'
}

# readme_run FILE N: run block N of examples/FILE; its stdout in $TRASH/block.out
readme_run() {
	local file=$TOP/examples/$1 rc
	readme_block "$file" "$2" >"$TRASH/block.sh"
	if ! [ -s "$TRASH/block.sh" ]; then
		echo "readme_run: $1 has no block $2" >&2
		return 1
	fi
	echo "$1 $2" >>"$TRASH/ran"
	(cd "$CHECKOUT" && PATH="$TRASH/kbin:$PATH" KUBECONFIG="$CHECKOUT/sim.kubeconfig" \
		timeout 300 bash -e -o pipefail "$TRASH/block.sh") >"$TRASH/block.out" 2>"$TRASH/block.err"
	rc=$?
	echo "--- $1, block $2 (exit $rc):"
	sed 's/^/    $ /' "$TRASH/block.sh"
	cat "$TRASH/block.out" "$TRASH/block.err"
	return $rc
}

# readme_expect FILE N: run block N; its output must be the text block after it
readme_expect() {
	readme_run "$1" "$2" || return 1
	readme_output "$TOP/examples/$1" "$2" | readme_normalize >"$TRASH/expect.norm"
	readme_normalize <"$TRASH/block.out" >"$TRASH/actual.norm"
	if ! [ -s "$TRASH/expect.norm" ]; then
		echo "readme_expect: $1 shows no output after block $2" >&2
		return 1
	fi
	test_cmp "$TRASH/expect.norm" "$TRASH/actual.norm"
}

# all_blocks_ran FILE [EXCEPT...]: every block of FILE ran, but the numbers EXCEPT
all_blocks_ran() {
	local file=$1 n i missing=
	shift
	n=$(readme_count "$TOP/examples/$file")
	for i in $(seq 1 "$n"); do
		case " $* " in *" $i "*) continue ;; esac
		grep -qx "$file $i" "$TRASH/ran" || missing="$missing $i"
	done
	[ -z "$missing" ] || echo "$file: blocks not run:$missing" >&2
	[ -z "$missing" ]
}

jp() {
	k get "$1" -o jsonpath="$2"
}

field_is() {
	test "$(jp "$1" "$2")" = "$3"
}

# nothing_left: no pods, nodes, Deployments or ReplicaSets remain (each README cleans up)
nothing_left() {
	test -z "$(k get pods,nodes,deployments,replicasets,daemonsets,statefulsets,controllerrevisions -o name)"
}

: >"$TRASH/ran"

# ---------------------------------------------------------------------------- the index

test_expect_success 'examples/README.md lists every example directory' '
	for d in "$TOP"/examples/*/ "$TOP"/examples/policies/*/; do
		d=${d#$TOP/examples/} &&
		case "$d" in policies/) continue ;; esac &&
		grep -q "^| \[$d\]($d) |" "$TOP/examples/README.md" || {
			echo "not in examples/README.md: $d"
			return 1
		}
	done
'

test_expect_success 'every example of this suite has a README naming its test' '
	for d in multi-container affinity-taints rolling-update policies/binpack-vs-spread \
		policies/label-scheduler plugin-cronjob daemonset-statefulset; do
		grep -q "t/75[0-9][0-9]-examples" "$TOP/examples/$d/README.md" || {
			echo "$d/README.md does not name its test"
			return 1
		}
	done
'

test_expect_success 'the kubeconfig of "Simulated nodes", made as written (server swapped)' '
	sed -n "/^kubectl config /p" "$TOP/examples/README.md" >config.sh &&
	test "$(wc -l <config.sh)" -eq 3 &&
	sed -i "s|http://127.0.0.1:6444|$BERTH_URL|" config.sh &&
	(cd "$CHECKOUT" && PATH="$TRASH/kbin:$PATH" bash -e "$TRASH/config.sh") &&
	(cd "$CHECKOUT" && PATH="$TRASH/kbin:$PATH" KUBECONFIG="$CHECKOUT/sim.kubeconfig" kubectl get namespaces) >ns &&
	grep -q "^default " ns
'

# ---------------------------------------------------------------------------- affinity-taints

AT=affinity-taints/README.md

test_expect_success 'affinity-taints: nodes labelled and tainted with kubectl' '
	readme_run $AT 1 &&
	grep -q "^node/gpu-west tainted" block.out &&
	grep -q "^gpu-west *Ready .* west *true" block.out &&
	grep -q "^ssd-east *Ready .* east *ssd" block.out &&
	field_is node/hdd-west "{.metadata.labels.disktype}" hdd &&
	field_is node/gpu-west "{.spec.taints[0].key}={.spec.taints[0].value}:{.spec.taints[0].effect}" dedicated=gpu:NoSchedule
'

test_expect_success 'affinity-taints: each pod lands where the README says; one stays Pending' '
	readme_run $AT 2 &&
	test_wait_until 30 readme_expect $AT 3 &&
	readme_expect $AT 3
'

test_expect_success 'affinity-taints: the PodScheduled condition gives the scheduler'"'"'s reason' '
	readme_expect $AT 4
'

test_expect_success 'affinity-taints: so does a FailedScheduling event' '
	test_wait_until 10 readme_expect $AT 5 &&
	readme_expect $AT 5 &&
	k get events --field-selector involvedObject.name=trainer-no-toleration,reason=FailedScheduling \
		-o jsonpath="{.items[0].message}" >msg &&
	grep -q "untolerated taint {dedicated: gpu}" msg
'

test_expect_success 'affinity-taints: without the taint the pending pod is placed' '
	readme_expect $AT 6 &&
	test_wait_until 10 field_is pod/trainer-no-toleration "{.status.phase}" Running
'

test_expect_success 'affinity-taints: clean up' '
	readme_run $AT 7 &&
	test_wait_until 20 nothing_left &&
	all_blocks_ran $AT
'

# ---------------------------------------------------------------------------- binpack-vs-spread

BS=policies/binpack-vs-spread/README.md

test_expect_success 'binpack-vs-spread: the policies pass berth policy check and are installed' '
	readme_expect $BS 1 &&
	test -f "$CHECKOUT/policies/schedulers/binpack.lua" &&
	test -f "$CHECKOUT/policies/schedulers/spread.lua"
'

test_expect_success 'binpack-vs-spread: binpack puts 4 pods on one node, spread on 4 nodes' '
	readme_run $BS 2 &&
	readme_expect $BS 3
'

test_expect_success 'binpack-vs-spread: scaled up, binpack fills pool-1 to its 4 cpu first' '
	readme_run $BS 4 &&
	k get pods -l app=packed -o jsonpath="{range .items[*]}{.spec.nodeName}{\"\\n\"}{end}" | sort | uniq -c >packed &&
	cat packed &&
	test "$(readme_normalize <packed)" = "$(printf "7 pool-1\n1 pool-2")"
'

test_expect_success 'binpack-vs-spread: and spread goes around the full node' '
	readme_expect $BS 5
'

test_expect_success 'binpack-vs-spread: the placements were made by the example policies' '
	grep -q "schedulers/binpack.lua" berth.log &&
	grep -q "schedulers/spread.lua" berth.log
'

test_expect_success 'binpack-vs-spread: clean up' '
	readme_run $BS 6 &&
	test ! -e "$CHECKOUT/policies/schedulers/binpack.lua" &&
	test_wait_until 20 nothing_left &&
	all_blocks_ran $BS
'

# ---------------------------------------------------------------------------- label-scheduler

LS=policies/label-scheduler/README.md

test_expect_success 'label-scheduler: the policy passes berth policy check and is installed' '
	readme_expect $LS 1 &&
	test -f "$CHECKOUT/policies/schedulers/label-scheduler.lua"
'

test_expect_success 'label-scheduler: two nodes labelled gold' '
	readme_run $LS 2 &&
	grep -q "^gold-2 *Ready .* gold$" block.out &&
	grep -q "^std-1 *Ready " block.out &&
	test -z "$(jp node/std-1 "{.metadata.labels.berth\.dev/tier}")"
'

test_expect_success 'label-scheduler: gold pods on gold nodes only, the others on the rest' '
	readme_expect $LS 3
'

test_expect_success 'label-scheduler: a gold pod with no gold room stays Pending, with both reasons' '
	readme_expect $LS 4 &&
	test "$(k get pods -l app=payments --field-selector=status.phase=Pending -o name | wc -l)" -eq 1
'

test_expect_success 'label-scheduler: a third gold node takes it' '
	readme_expect $LS 5
'

test_expect_success 'label-scheduler: clean up' '
	readme_run $LS 6 &&
	test ! -e "$CHECKOUT/policies/schedulers/label-scheduler.lua" &&
	test_wait_until 20 nothing_left &&
	all_blocks_ran $LS
'

# ---------------------------------------------------------------------------- rolling-update

RU=rolling-update/README.md

# images_are IMAGE: frontend's pods that are not terminating are 4, all of IMAGE
images_are() {
	k get pods -l app=frontend -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}|{.spec.containers[0].image}{"\n"}{end}' |
		grep "^|" | sort | uniq -c | readme_normalize >images &&
	cat images &&
	test "$(cat images)" = "4 |$1"
}

# The rollout watcher: samples frontend's pods while a rollout runs and records the largest
# count of pods and the smallest count of ready ones (bounded: 600 samples).
sample_rollout() {
	local i pods ready max=0 min=1000
	for i in $(seq 1 600); do
		[ -f rollout.done ] && break
		k get pods -l app=frontend -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}|{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' >sample 2>/dev/null || continue
		pods=$(grep -c "^|" sample)
		ready=$(grep -c "^|True" sample)
		[ "$pods" -gt "$max" ] && max=$pods
		[ "$ready" -lt "$min" ] && min=$ready
		echo "$max $min" >bounds
		sleep 0.05
	done
}

test_expect_success 'rolling-update: roll out on simulated nodes; rollout status succeeds' '
	readme_run $RU 2 &&
	readme_expect $RU 3 &&
	field_is deployment/frontend "{.status.availableReplicas}" 4
'

test_expect_success 'rolling-update: one ReplicaSet, revision 1' '
	readme_expect $RU 4
'

test_expect_success 'rolling-update: set image rolls over within maxSurge 1 and maxUnavailable 1' '
	rm -f rollout.done bounds &&
	{ sample_rollout & spid=$!; } &&
	readme_expect $RU 5 &&
	touch rollout.done && wait $spid &&
	read max min <bounds &&
	echo "pods at most $max, ready at least $min" &&
	test "$max" -le 5 && test "$min" -ge 3 &&
	images_are berth/busybox:v2
'

test_expect_success 'rolling-update: the old ReplicaSet stays, at 0' '
	readme_expect $RU 6
'

test_expect_success 'rolling-update: rollout history shows both change causes' '
	readme_expect $RU 7
'

test_expect_success 'rolling-update: rollout undo returns to the old image, as revision 3' '
	readme_expect $RU 8 &&
	test "$(k get rs -l app=frontend -o name | wc -l)" -eq 2 &&
	images_are berth/busybox:latest
'

test_expect_success 'rolling-update: clean up' '
	readme_run $RU 9 &&
	readme_run $RU 10 &&
	test_wait_until 20 nothing_left &&
	all_blocks_ran $RU 1 11
'

# ---------------------------------------------------------------------------- daemonset-statefulset

DSS=daemonset-statefulset/README.md

# ds_nodes: the nodes of the node-agent pods not being deleted, sorted
ds_nodes() {
	k get pods -l app=node-agent -o jsonpath='{range .items[*]}{.spec.nodeName} {.metadata.deletionTimestamp}{"\n"}{end}' |
		awk 'NF == 1 { print $1 }' | sort | tr '\n' ' '
}

test_expect_success 'daemonset-statefulset: a DaemonSet runs on the two labelled nodes' '
	readme_run $DSS 1 &&
	readme_expect $DSS 2 &&
	test "$(ds_nodes)" = "sim-a sim-b "
'

test_expect_success 'daemonset-statefulset: a node labelled later gets its pod' '
	readme_expect $DSS 3 &&
	test "$(ds_nodes)" = "sim-a sim-b sim-c "
'

test_expect_success 'daemonset-statefulset: set env rolls out; history shows two revisions' '
	readme_expect $DSS 4
'

test_expect_success 'daemonset-statefulset: rollout undo brings revision 1 back as 3' '
	readme_expect $DSS 5 &&
	field_is ds/node-agent "{.status.updatedNumberScheduled}" 3
'

test_expect_success 'daemonset-statefulset: a StatefulSet of three, hostnames and Endpoints' '
	readme_expect $DSS 6
'

test_expect_success 'daemonset-statefulset: a partition of 2 updates db-2 only, then 0 the rest' '
	readme_expect $DSS 7 &&
	field_is sts/db "{.status.updatedReplicas}" 1 &&
	test "$(jp sts/db "{.status.currentRevision}")" != "$(jp sts/db "{.status.updateRevision}")" &&
	readme_expect $DSS 8 &&
	test_wait_until 20 eval "test \"\$(jp sts/db {.status.currentRevision})\" = \"\$(jp sts/db {.status.updateRevision})\""
'

test_expect_success 'daemonset-statefulset: scale down from the top' '
	readme_expect $DSS 9
'

test_expect_success 'daemonset-statefulset: clean up' '
	readme_run $DSS 10 &&
	test_wait_until 30 nothing_left &&
	all_blocks_ran $DSS
'

# ---------------------------------------------------------------------------- plugin-cronjob

PC=plugin-cronjob/README.md

has_complete_scheduled_job() {
	k get jobs -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Complete")].status}{"\n"}{end}' |
		grep -Eq "^ticker-[0-9]{8} True$"
}

test_expect_success 'plugin-cronjob: a simulated node' '
	readme_run $PC 1 &&
	grep -q "^node/sim-cron created" block.out
'

test_expect_success 'plugin-cronjob: the plugin is loaded; its kinds are discovered' '
	grep -q "plugins: cronjob loaded" berth.log &&
	readme_expect $PC 2
'

test_expect_success 'plugin-cronjob: kubectl get cronjobs' '
	readme_run $PC 3 &&
	grep -q "^cronjob.batch/ticker created" block.out &&
	grep -q "^NAME *SCHEDULE *TIMEZONE *SUSPEND *ACTIVE *LAST SCHEDULE *AGE" block.out &&
	grep -q "^ticker *\* \* \* \* \* *<none> *False *0 *<none> *[0-9]*s$" block.out
'

test_expect_success 'plugin-cronjob: a Job from the CronJob runs its pod to completion' '
	readme_expect $PC 4 &&
	field_is job/ticker-now "{.status.succeeded}" 1 &&
	field_is job/ticker-now "{.metadata.ownerReferences[0].name}" ticker
'

test_expect_success 'plugin-cronjob: the schedule fires: a Job ticker-<minutes> completes' '
	readme_run $PC 5 &&
	grep -q "^cronjob.batch/ticker condition met" block.out &&
	grep -Eq "^ticker-[0-9]{8} " block.out &&
	test_wait_until 30 has_complete_scheduled_job &&
	test -n "$(jp cronjob/ticker "{.status.lastScheduleTime}")"
'

test_expect_success 'plugin-cronjob: the CronJob'"'"'s events say so' '
	readme_expect $PC 6
'

test_expect_success 'plugin-cronjob: deleting the CronJob deletes its Jobs and pods' '
	readme_run $PC 7 &&
	test_wait_until 20 eval "test -z \"\$(k get cronjobs,jobs,pods -o name)\"" &&
	readme_run $PC 8 &&
	test_wait_until 20 nothing_left &&
	all_blocks_ran $PC
'

# ---------------------------------------------------------------------------- web/

test_expect_success 'web: the Deployment and Service of web.yaml, with the berth CLI' '
	k apply -f - <<-EOF &&
	apiVersion: v1
	kind: Node
	metadata: {name: sim-web}
	status:
	  allocatable: {cpu: "8", memory: 16Gi, pods: "110"}
	  conditions: [{type: Ready, status: "True"}]
	EOF
	"$BERTH_BIN" apply -s "$BERTH_URL" -f "$TOP/examples/web/web.yaml" >out &&
	printf "deployment.apps/web created\nservice/web created\n" >expect &&
	test_cmp expect out &&
	"$BERTH_BIN" rollout status -s "$BERTH_URL" deployment/web --timeout=60s >out &&
	tail -n 1 out >actual &&
	echo "deployment \"web\" successfully rolled out" >expect &&
	test_cmp expect actual &&
	test_wait_until 20 eval "test \"\$(k get endpoints web -o jsonpath={.subsets[0].addresses[*].ip} | wc -w)\" = 3" &&
	"$BERTH_BIN" delete -s "$BERTH_URL" -f "$TOP/examples/web/web.yaml" >/dev/null &&
	k delete node sim-web &&
	test_wait_until 30 nothing_left
'

# ---------------------------------------------------------------------------- cron/

test_expect_success 'cron: the backup CronJob, and a Job from it that completes' '
	k apply -f - <<-EOF &&
	apiVersion: v1
	kind: Node
	metadata: {name: sim-cron2}
	status:
	  allocatable: {cpu: "8", memory: 16Gi, pods: "110"}
	  conditions: [{type: Ready, status: "True"}]
	EOF
	k apply -f "$TOP/examples/cron/backup.yaml" &&
	k get cronjobs backup --no-headers >out &&
	grep -q "^backup *\*/5 \* \* \* \* *<none> *False *0 " out &&
	k create job backup-now --from=cronjob/backup &&
	k wait --for=condition=complete job/backup-now --timeout=60s &&
	k delete -f "$TOP/examples/cron/backup.yaml" &&
	k delete job backup-now --ignore-not-found --cascade=foreground &&
	k delete node sim-cron2 &&
	test_wait_until 30 nothing_left
'

test_done
