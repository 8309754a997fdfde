#!/bin/bash
# 7100-cli-write.t: the write verbs of the berth CLI (apply, create, delete, scale, rollout
# status, wait) against a berth server with controllers and simulated nodes, each checked
# against what kubectl says and does on the same objects.

test_description='berth apply, create, delete, scale, rollout status and wait'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth node

BERTH_SERVER_ARGS=
start_redis && start_berth --policies "$TOP/policies" --lua "$TOP/lua" ||
	test_bail_out 'cannot start berth'
api POST /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-a"},
  "status":{"allocatable":{"cpu":"32","memory":"64Gi","pods":"110"},
  "conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
# pods turn Ready 300 ms after they are bound, so a rollout takes a few visible steps
start_fakelet --heartbeat 10 --delay-ms 300

# b VERB ARGS...: berth's CLI against the private server.
b() {
	local verb=$1
	shift
	timeout "${B_TIMEOUT:-60}" "$BERTH_BIN" "$verb" --server "$BERTH_URL" "$@"
}

jp() {
	k get "$1" -o jsonpath="$2"
}

# deploy_yaml NAME IMAGE ENV-B PORT-81 SIDECAR STRATEGY LABEL-SUFFIX: a Deployment whose
# optional parts come and go between applies.
deploy_yaml() {
	cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  labels: {app: $1$7}
spec:
  replicas: 1
  strategy: {type: $6}
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      containers:
      - name: web
        image: $2
        env:
        - {name: A, value: "1"}
$3
        ports:
        - containerPort: 80
$4
$5
EOF
}
env_b='        - {name: B, value: "2"}'
port_81='        - {containerPort: 81, name: metrics}'
sidecar='      - {name: side, image: side:1}'

# the parts of a Deployment an apply decides, with its name written as NAME
applied_parts() {
	k get deploy "$1" -o json >"$1.json" &&
	json_get "$1.json" \
		"JSON.stringify([o.metadata.labels, o.spec.strategy, o.spec.template.spec.containers]).split(\"$1\").join(\"NAME\")"
}

# ---------------------------------------------------------------------------- apply

test_expect_success 'apply creates a deployment' '
	deploy_yaml web img:1 "$env_b" "" "" Recreate "" >web.yaml &&
	b apply -f web.yaml >out &&
	echo deployment.apps/web created >expect &&
	test_cmp expect out &&
	test "$(jp deploy/web {.spec.template.spec.containers[0].image})" = img:1
'

# (Recreate: with "strategy: {type: RollingUpdate}" kubectl sends {"$retainKeys":["type"]}
# on every apply, because the live strategy has the defaulted rollingUpdate, and says
# "configured" each time; berth apply does not send that patch.)
test_expect_success 'its last-applied annotation is the one kubectl writes: kubectl apply finds it unchanged' '
	b rollout status deploy/web --timeout=30s >/dev/null &&
	rv1=$(jp deploy/web {.metadata.resourceVersion}) &&
	k apply -f web.yaml >out &&
	echo deployment.apps/web unchanged >expect &&
	test_cmp expect out &&
	test "$(jp deploy/web {.metadata.resourceVersion})" = "$rv1"
'

test_expect_success 're-applying the same file: unchanged, resourceVersion kept' '
	b apply -f web.yaml >out &&
	echo deployment.apps/web unchanged >expect &&
	test_cmp expect out &&
	test "$(jp deploy/web {.metadata.resourceVersion})" = "$rv1"
'

test_expect_success 'apply patches only what changed: a label added by kubectl label survives' '
	k label deploy web team=blue &&
	deploy_yaml web img:2 "$env_b" "" "" RollingUpdate "" >web.yaml &&
	b apply -f web.yaml >out &&
	echo deployment.apps/web configured >expect &&
	test_cmp expect out &&
	test "$(jp deploy/web {.metadata.labels.team},{.spec.template.spec.containers[0].image})" = blue,img:2 &&
	test "$(jp deploy/web {.metadata.generation})" = 2 &&
	b apply -f web.yaml >out &&
	echo deployment.apps/web unchanged >expect &&
	test_cmp expect out
'

test_expect_success 'apply updates in place, never deletes and re-creates' '
	uid1=$(jp deploy/web {.metadata.uid}) &&
	deploy_yaml web img:3 "" "$port_81" "" Recreate "" >web.yaml &&
	b apply -f web.yaml >out &&
	test "$(jp deploy/web {.metadata.uid})" = "$uid1"
'

# The same sequence of manifests through berth apply (bx) and kubectl apply (ky): after each
# step both objects must be alike (fields removed from the manifest removed, list elements
# merged by key, the strategy switched with $retainKeys).
test_expect_success 'berth apply and kubectl apply make the same objects, step by step' '
	step() {
		deploy_yaml bx "$@" >bx.yaml &&
		deploy_yaml ky "$@" >ky.yaml &&
		b apply -f bx.yaml >bx.out &&
		k apply -f ky.yaml >ky.out &&
		sed s/ky/bx/ ky.out >ky.out2 &&
		test_cmp ky.out2 bx.out &&
		applied_parts bx >bx.parts &&
		applied_parts ky >ky.parts &&
		test_cmp ky.parts bx.parts
	} &&
	step img:1 "$env_b" "$port_81" "$sidecar" RollingUpdate "" &&
	step img:2 "" "$port_81" "$sidecar" Recreate -2 &&
	step img:2 "$env_b" "" "" RollingUpdate "" &&
	step img:3 "" "" "$sidecar" Recreate "" &&
	step img:3 "" "" "$sidecar" Recreate "" &&
	grep unchanged bx.out
'

test_expect_success 'the removed env entry, port and sidecar are gone; no $-directive stored' '
	k get deploy bx -o json >bx.json &&
	json_get bx.json \
		"o.spec.template.spec.containers.map(c => c.name).join(\",\")" \
		"o.spec.template.spec.containers[0].env.map(e => e.name).join(\",\")" \
		"o.spec.template.spec.containers[0].ports.length" \
		"o.spec.strategy.rollingUpdate === undefined" >actual &&
	printf "web,side\nA\n1\ntrue\n" >expect &&
	test_cmp expect actual &&
	test_grep -v "\"\\\$\(patch\|setElementOrder\|retainKeys\)" bx.json
'

test_expect_success 'berth apply takes over an object kubectl applied, and back' '
	b apply -f ky.yaml >out &&
	echo deployment.apps/ky unchanged >expect &&
	test_cmp expect out &&
	sed s/img:3/img:4/ ky.yaml >ky4.yaml &&
	b apply -f ky4.yaml >out &&
	echo deployment.apps/ky configured >expect &&
	test_cmp expect out &&
	k apply -f ky4.yaml >out &&
	echo deployment.apps/ky unchanged >expect &&
	test_cmp expect out
'

test_expect_success 'an object created without the annotation: a warning, then configured' '
	k create configmap plain --from-literal=a=1 &&
	cat >plain.yaml <<-\EOF &&
	apiVersion: v1
	kind: ConfigMap
	metadata: {name: plain}
	data: {a: "1", b: "2"}
	EOF
	b apply -f plain.yaml >out 2>err &&
	echo configmap/plain configured >expect &&
	test_cmp expect out &&
	test_grep "missing the kubectl.kubernetes.io/last-applied-configuration annotation" err &&
	test "$(jp cm/plain {.data.b})" = 2 &&
	k apply -f plain.yaml >out &&
	echo configmap/plain unchanged >expect &&
	test_cmp expect out
'

test_expect_success 'a pod and a service from one YAML file, then JSON from stdin, -o name' '
	cat >mix.yaml <<-\EOF &&
	apiVersion: v1
	kind: Pod
	metadata:
	  name: mp
	  labels: {grp: mix}
	spec:
	  containers:
	  - name: c
	    image: img:1
	---
	apiVersion: v1
	kind: Service
	metadata:
	  name: ms
	  labels: {grp: mix}
	spec:
	  ports:
	  - port: 80
	EOF
	b apply -f mix.yaml >out &&
	printf "pod/mp created\nservice/ms created\n" >expect &&
	test_cmp expect out &&
	b apply -f mix.yaml >out &&
	printf "pod/mp unchanged\nservice/ms unchanged\n" >expect &&
	test_cmp expect out &&
	echo "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"js\",\"labels\":{\"grp\":\"mix\"}},\"data\":{\"x\":\"<&>\"}}" >js.json &&
	b apply -f - -o name <js.json >out &&
	echo configmap/js >expect &&
	test_cmp expect out &&
	k apply -f js.json >out &&
	echo configmap/js unchanged >expect &&
	test_cmp expect out
'

test_expect_success 'a bad manifest in a directory: the file and line named, nothing of it applied' '
	mkdir -p dir &&
	cat >dir/a.yaml <<-\EOF &&
	apiVersion: v1
	kind: ConfigMap
	metadata: {name: dir-a}
	EOF
	cat >dir/b.yaml <<-\EOF &&
	apiVersion: v1
	kind: ConfigMap
	metadata: {name: dir-b1}
	---
	apiVersion: v1
	kind: ConfigMap
	metadata:
	  name: dir-b2
	 data: {a: "1"}
	EOF
	test_must_fail b apply -f dir >out 2>err &&
	echo configmap/dir-a created >expect &&
	test_cmp expect out &&
	test_grep "dir/b.yaml: line 9" err &&
	test_must_fail k get cm dir-b1 &&
	test_must_fail k get cm dir-b2
'

test_expect_success 'apply into a missing namespace: Error from server (NotFound), exit 1' '
	test_must_fail b apply -f mix.yaml -n nope 2>err &&
	test_grep "^Error from server (NotFound): error when creating \"mix.yaml\": namespaces \"nope\" not found" err
'

test_expect_success 'apply --dry-run=client and --dry-run=server create nothing' '
	sed s/js/dry/ js.json >dry.json &&
	b apply -f dry.json --dry-run=client >out &&
	echo "configmap/dry created (dry run)" >expect &&
	test_cmp expect out &&
	b apply -f dry.json --dry-run=server >out &&
	echo "configmap/dry created (server dry run)" >expect &&
	test_cmp expect out &&
	test_must_fail k get cm dry
'

test_expect_success 'apply --server-side' '
	sed s/js/ssa/ js.json >ssa.json &&
	b apply --server-side -f ssa.json >out &&
	echo configmap/ssa serverside-applied >expect &&
	test_cmp expect out &&
	test "$(jp cm/ssa {.data.x})" = "<&>"
'

# ---------------------------------------------------------------------------- create

test_expect_success 'create -f, then again: AlreadyExists naming the file, exit 1' '
	cat >cm.yaml <<-\EOF &&
	apiVersion: v1
	kind: ConfigMap
	metadata: {name: made}
	data: {a: "1"}
	EOF
	b create -f cm.yaml >out &&
	echo configmap/made created >expect &&
	test_cmp expect out &&
	test_must_fail b create -f cm.yaml 2>err &&
	echo "Error from server (AlreadyExists): error when creating \"cm.yaml\": configmaps \"made\" already exists" >expect &&
	test_cmp expect err
'

test_expect_success 'create namespace and create deployment as kubectl builds them' '
	b create namespace team-a >out &&
	echo namespace/team-a created >expect &&
	test_cmp expect out &&
	b create deployment made -n team-a --image=registry.local/lib/nginx:1.25 --replicas=2 >out &&
	echo deployment.apps/made created >expect &&
	test_cmp expect out &&
	k create deployment kmade -n team-a --image=registry.local/lib/nginx:1.25 --replicas=2 &&
	for d in made kmade; do
		k get deploy -n team-a $d -o json >$d.json &&
		json_get $d.json "JSON.stringify([o.metadata.labels, o.spec.replicas, o.spec.selector, o.spec.template.metadata.labels, o.spec.template.spec.containers.map(c => c.name + \"=\" + c.image)]).split(\"$d\").join(\"N\")" >$d.parts || return 1
	done &&
	test_cmp kmade.parts made.parts
'

# ---------------------------------------------------------------------------- scale

test_expect_success 'scale through the scale subresource; kubectl get shows the replicas' '
	b scale deploy/web --replicas=3 >out &&
	echo deployment.apps/web scaled >expect &&
	test_cmp expect out &&
	test "$(jp deploy/web {.spec.replicas})" = 3 &&
	k get deploy web -o custom-columns=R:.spec.replicas --no-headers >out &&
	echo 3 >expect &&
	test_cmp expect out
'

test_expect_success 'scale TYPE NAME NAME and scale -l' '
	b scale deployment bx ky --replicas=2 >out &&
	printf "deployment.apps/bx scaled\ndeployment.apps/ky scaled\n" >expect &&
	test_cmp expect out &&
	k label deploy bx ky pair=yes &&
	b scale deploy -l pair=yes --replicas=1 -o name >out &&
	printf "deployment.apps/bx\ndeployment.apps/ky\n" >expect &&
	test_cmp expect out &&
	test "$(jp deploy/bx {.spec.replicas}),$(jp deploy/ky {.spec.replicas})" = 1,1
'

test_expect_success 'scale with a wrong --current-replicas fails and changes nothing' '
	test_must_fail b scale deploy/web --current-replicas=9 --replicas=5 2>err &&
	test_grep "Expected replicas to be 9, was 3" err &&
	test "$(jp deploy/web {.spec.replicas})" = 3 &&
	b scale deploy/web --current-replicas=3 --replicas=2 &&
	test "$(jp deploy/web {.spec.replicas})" = 2
'

test_expect_success 'scale a missing deployment: NotFound, exit 1' '
	test_must_fail b scale deploy/nope --replicas=2 2>err &&
	test_grep "^Error from server (NotFound): deployments.apps \"nope\" not found" err
'

# ---------------------------------------------------------------------------- rollout status

rollout_lines='^(Waiting for deployment "web" rollout to finish: [0-9]+ (out of [0-9]+ new replicas have been updated|old replicas are pending termination|of [0-9]+ updated replicas are available)\.\.\.|Waiting for deployment spec update to be observed\.\.\.|deployment "web" successfully rolled out)$'

test_expect_success 'rollout status follows a kubectl set image to the end, in kubectl words' '
	b rollout status deploy/web --timeout=60s &&
	k set image deploy/web web=img:9 &&
	b rollout status deployment web --timeout=60s >out &&
	test_grep "^Waiting for deployment \"web\" rollout to finish: " out &&
	tail -n 1 out >last &&
	echo "deployment \"web\" successfully rolled out" >expect &&
	test_cmp expect last &&
	grep -Ev "$rollout_lines" out >odd;
	test_cmp /dev/null odd &&
	test "$(jp deploy/web {.status.updatedReplicas},{.status.availableReplicas})" = 2,2
'

test_expect_success 'rollout status prints what kubectl rollout status prints' '
	k rollout status deploy/web >k.out &&
	b rollout status deploy/web >b.out &&
	test_cmp k.out b.out
'

test_expect_success 'a rollout that cannot finish: --watch=false exits 0, --timeout exits 1' '
	cat >stuck.yaml <<-\EOF &&
	apiVersion: apps/v1
	kind: Deployment
	metadata: {name: stuck}
	spec:
	  replicas: 2
	  selector: {matchLabels: {app: stuck}}
	  template:
	    metadata: {labels: {app: stuck}}
	    spec:
	      nodeSelector: {nowhere: "true"}
	      containers: [{name: c, image: img:1}]
	EOF
	b apply -f stuck.yaml &&
	test_wait_until 20 test "$(jp deploy/stuck {.status.observedGeneration})" = 1 &&
	b rollout status deploy/stuck --watch=false >out &&
	echo "Waiting for deployment \"stuck\" rollout to finish: 0 of 2 updated replicas are available..." >expect &&
	test_cmp expect out &&
	start=$SECONDS &&
	test_must_fail b rollout status deploy/stuck --timeout=2s >out 2>err &&
	test $((SECONDS - start)) -le 5 &&
	echo "error: timed out waiting for the condition" >expect &&
	test_cmp expect err &&
	k rollout status deploy/stuck --timeout=1s >k.out 2>k.err;
	test "$(tail -n1 k.out)" = "$(tail -n1 out)" &&
	test_cmp k.err err
'

test_expect_success 'rollout status of a missing deployment: NotFound, exit 1' '
	test_must_fail b rollout status deploy/nope 2>err &&
	echo "Error from server (NotFound): deployments.apps \"nope\" not found" >expect &&
	test_cmp expect err
'

# ---------------------------------------------------------------------------- wait

test_expect_success 'wait --for=condition=Ready on one pod and on a selector' '
	b wait deploy/web --for=condition=Available --timeout=30s >out &&
	echo deployment.apps/web condition met >expect &&
	test_cmp expect out &&
	pod=$(k get pods -l app=web -o jsonpath="{.items[0].metadata.name}") &&
	b wait pod/$pod --for=condition=Ready --timeout=30s >out &&
	echo "pod/$pod condition met" >expect &&
	test_cmp expect out &&
	b wait pods -l app=web --for=condition=Ready --timeout=30s >out &&
	k wait pods -l app=web --for=condition=Ready --timeout=30s >k.out &&
	test_cmp k.out out
'

test_expect_success 'wait --for=jsonpath' '
	b wait pod/$pod --for=jsonpath="{.status.phase}"=Running --timeout=10s >out &&
	echo "pod/$pod condition met" >expect &&
	test_cmp expect out &&
	b wait deploy/web --for=jsonpath="{.status.conditions[?(@.type==\"Available\")].status}"=True >out &&
	echo "deployment.apps/web condition met" >expect &&
	test_cmp expect out
'

test_expect_success 'wait sees a change made meanwhile' '
	( b wait deploy/bx --for=jsonpath={.spec.replicas}=4 --timeout=20s >wait.out 2>&1; echo $? >wait.rc ) &
	waiter=$! &&
	sleep 1 &&
	b scale deploy/bx --replicas=4 &&
	wait $waiter &&
	test "$(cat wait.rc)" = 0 &&
	echo deployment.apps/bx condition met >expect &&
	test_cmp expect wait.out
'

test_expect_success 'wait that times out: kubectl message, exit 1, on time' '
	start=$SECONDS &&
	test_must_fail b wait pod/$pod --for=condition=Nope --timeout=2s >out 2>err &&
	test $((SECONDS - start)) -le 4 &&
	echo "error: timed out waiting for the condition on pods/$pod" >expect &&
	test_cmp expect err &&
	test_must_fail k wait pod/$pod --for=condition=Nope --timeout=1s 2>k.err &&
	test_cmp k.err err
'

test_expect_success 'wait on nothing: a missing pod is NotFound, an empty selector an error' '
	test_must_fail b wait pod/nope --for=condition=Ready 2>err &&
	echo "Error from server (NotFound): pods \"nope\" not found" >expect &&
	test_cmp expect err &&
	test_must_fail b wait pods -l app=none --for=condition=Ready 2>err &&
	echo "error: no matching resources found" >expect &&
	test_cmp expect err &&
	b wait pod/nope --for=delete >out &&
	test_cmp /dev/null out
'

test_expect_success 'wait --for=delete returns when the pod is gone' '
	( b wait pod/mp --for=delete --timeout=30s >wait.out 2>&1; echo $? >wait.rc ) &
	waiter=$! &&
	sleep 1 &&
	k delete pod mp --wait=false &&
	wait $waiter &&
	test "$(cat wait.rc)" = 0 &&
	echo pod/mp condition met >expect &&
	test_cmp expect wait.out
'

# ---------------------------------------------------------------------------- delete

test_expect_success 'delete a pod by name: kubectl line, gone when it returns' '
	pod=$(k get pods -l app=web -o jsonpath="{.items[0].metadata.name}") &&
	b delete pod $pod >out &&
	echo "pod \"$pod\" deleted" >expect &&
	test_cmp expect out &&
	test_must_fail k get pod $pod
'

test_expect_success 'delete -f: the objects of the file' '
	test_must_fail b delete -f mix.yaml >out 2>err &&
	echo "service \"ms\" deleted" >expect &&
	test_cmp expect out &&
	echo "Error from server (NotFound): error when deleting \"mix.yaml\": pods \"mp\" not found" >expect &&
	test_cmp expect err &&
	test_must_fail k get svc ms
'

test_expect_success 'delete -l: the matching objects only; none left is "No resources found"' '
	k create configmap l1 && k create configmap l2 && k create configmap l3 &&
	k label cm l1 l2 del=me &&
	b delete cm -l del=me >out &&
	printf "configmap \"l1\" deleted\nconfigmap \"l2\" deleted\n" >expect &&
	test_cmp expect out &&
	k get cm l3 &&
	b delete cm -l del=me >out &&
	echo "No resources found" >expect &&
	test_cmp expect out
'

test_expect_success 'delete TYPE/NAME of a deployment: its pods go too' '
	b delete deploy/web -o name >out &&
	echo deployment.apps/web >expect &&
	test_cmp expect out &&
	test_wait_until 20 test -z "$(k get pods -l app=web -o name)"
'

test_expect_success 'delete a missing object: NotFound, exit 1; --ignore-not-found: silent' '
	test_must_fail b delete pod nope 2>err &&
	echo "Error from server (NotFound): pods \"nope\" not found" >expect &&
	test_cmp expect err &&
	b delete pod nope --ignore-not-found >out 2>err &&
	test_cmp /dev/null out &&
	test_cmp /dev/null err
'

test_expect_success 'delete several names, one missing: the others go, exit 1' '
	k create configmap d1 && k create configmap d2 &&
	test_must_fail b delete cm d1 nope d2 >out 2>err &&
	printf "configmap \"d1\" deleted\nconfigmap \"d2\" deleted\n" >expect &&
	test_cmp expect out &&
	test_grep "configmaps \"nope\" not found" err
'

test_expect_success 'delete usage errors' '
	test_must_fail b delete configmap 2>err &&
	test_grep "resource(s) were provided, but no name was specified" err &&
	test_must_fail b delete 2>err &&
	test_grep "You must provide one or more resources" err &&
	test_must_fail b delete --all -l a=b cm 2>err &&
	test_grep "cannot set --all and --selector at the same time" err
'

test_expect_success 'delete --all in a namespace, --wait=false' '
	k create configmap a1 -n team-a && k create configmap a2 -n team-a &&
	b delete cm --all -n team-a --wait=false >out &&
	test_grep "^configmap \"a1\" deleted$" out &&
	test_grep "^configmap \"a2\" deleted$" out &&
	test -z "$(k get cm -n team-a -o name | grep "/a[12]$")" &&
	k get cm l3
'

test_done
