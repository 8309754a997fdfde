#!/bin/bash
test_description='plugins: kinds served to kubectl, the cronjob plugin (Jobs run to completion, a CronJob fires), the lb-pool LoadBalancer hook, a broken plugin skipped'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth

# The shipped plugins plus a broken one, from a private copy.
mkdir -p "$TRASH/plugins/broken"
cp -r "$TOP/plugins/." "$TRASH/plugins/"
echo 'return { kinds = {' >"$TRASH/plugins/broken/plugin.lua"
BERTH_SERVER_ARGS=
start_redis && start_berth --plugins "$TRASH/plugins" || test_bail_out 'cannot start berth'

api POST /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-a"},
  "status":{"allocatable":{"cpu":"32","memory":"64Gi","pods":"110"},
  "conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
# The simulated agent: pods of Jobs finish two seconds after they started.
start_fakelet --heartbeat 5 --complete-after-ms 2000

jp() {
	k get "$1" -o jsonpath="$2"
}

has_value() {
	test -n "$(jp "$1" "$2")"
}

has_no_value() {
	test -z "$(jp "$1" "$2")"
}

has_tick_job() {
	k get jobs -o name | grep -q "job.batch/tick-"
}

field_is() {
	test "$(jp "$1" "$2")" = "$3"
}

test_expect_success 'the broken plugin is reported and skipped, the others load' '
	grep -q "plugins: broken skipped: .*plugins/broken/plugin.lua" "$TRASH/berth.log" &&
	grep -q "plugins: cronjob loaded" "$TRASH/berth.log" &&
	grep -q "plugins: lb-pool loaded" "$TRASH/berth.log"
'

test_expect_success 'kubectl discovers the plugin kinds' '
	k api-resources --api-group=batch >resources &&
	grep -q "^jobs .*batch/v1 .*true .*Job" resources &&
	grep -q "^cronjobs .*cj .*batch/v1 .*true .*CronJob" resources
'

test_expect_success 'a Job runs its pods to completion (kubectl create job)' '
	k create job once --image=busybox -- true &&
	test_wait_until 30 field_is job/once "{.status.succeeded}" 1 &&
	jp job/once "{.status.conditions[?(@.type==\"Complete\")].status}" | grep -q True &&
	k get pods -l job-name=once -o jsonpath="{.items[0].status.phase}" | grep -q Succeeded &&
	k get jobs >table && grep -q "^once " table
'

test_expect_success 'a Job with completions and parallelism runs them all' '
	cat >job.yaml <<-\EOF &&
	apiVersion: batch/v1
	kind: Job
	metadata: {name: many}
	spec:
	  completions: 4
	  parallelism: 2
	  template:
	    spec:
	      restartPolicy: Never
	      containers: [{name: c, image: busybox}]
	EOF
	k apply -f job.yaml &&
	test_wait_until 40 field_is job/many "{.status.succeeded}" 4 &&
	test "$(k get pods -l job-name=many -o name | wc -l)" -eq 4
'

test_expect_success 'a CronJob fires on its schedule and creates a Job' '
	k create cronjob tick --image=busybox --schedule="* * * * *" -- true &&
	k get cronjobs >table && grep -q "^tick .*\* \* \* \* \*" table &&
	test_wait_until 75 has_tick_job
'

test_expect_success 'the CronJob records its last schedule time' '
	test_wait_until 20 has_value cronjob/tick "{.status.lastScheduleTime}"
'

test_expect_success 'a LoadBalancer Service gets an address from the pool; two never share one' '
	k create service loadbalancer lb1 --tcp=80:8080 &&
	k create service loadbalancer lb2 --tcp=80:8080 &&
	test_wait_until 20 has_value svc/lb1 "{.status.loadBalancer.ingress[0].ip}" &&
	test_wait_until 20 has_value svc/lb2 "{.status.loadBalancer.ingress[0].ip}" &&
	a=$(jp svc/lb1 "{.status.loadBalancer.ingress[0].ip}") &&
	b=$(jp svc/lb2 "{.status.loadBalancer.ingress[0].ip}") &&
	echo "$a $b" &&
	test "$a" != "$b" &&
	case "$a" in 192.0.2.*) ;; *) false ;; esac &&
	k get svc lb1 | grep -q "$a"
'

test_expect_success 'a Service that stops being a LoadBalancer loses its address' '
	k patch svc lb2 -p "{\"spec\":{\"type\":\"ClusterIP\"}}" &&
	test_wait_until 20 has_no_value svc/lb2 "{.status.loadBalancer.ingress}"
'

test_done
