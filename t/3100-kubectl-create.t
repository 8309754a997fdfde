#!/bin/bash
# 3100-kubectl-create.t: kubectl create and run, server-filled metadata, and the exact error
# texts for AlreadyExists, NotFound, Invalid and a missing namespace.

test_description='kubectl create: objects, metadata, error messages'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth
setup_berth

cat >pod.yaml <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: p
  labels:
    app: demo
spec:
  containers:
  - name: c
    image: img:1
EOF

cat >noimage.yaml <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: x
spec:
  containers:
  - name: c
EOF

cat >gen.yaml <<EOF
apiVersion: v1
kind: Pod
metadata:
  generateName: gen-
spec:
  containers:
  - name: c
    image: img:1
EOF

test_expect_success 'create -f pod.yaml' '
	k create -f pod.yaml >out &&
	echo pod/p created >expect &&
	test_cmp expect out
'

test_expect_success 'the server filled uid, resourceVersion, creationTimestamp' '
	k get pod p -o jsonpath="{.metadata.uid}|{.metadata.resourceVersion}|{.metadata.creationTimestamp}|{.metadata.namespace}" >meta &&
	echo >>meta &&
	IFS="|" read -r uid rv ts ns <meta &&
	test -n "$uid" &&
	test "$rv" -gt 0 &&
	echo "$ts" | grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$" &&
	test "$ns" = default
'

test_expect_success 'a new pod is Pending' '
	test "$(k get pod p -o jsonpath={.status.phase})" = Pending
'

test_expect_success 'creating it again: AlreadyExists with the file name' '
	test_must_fail k create -f pod.yaml 2>err &&
	echo "Error from server (AlreadyExists): error when creating \"pod.yaml\": pods \"p\" already exists" >expect &&
	test_cmp expect err
'

test_expect_success 'a pod without image is invalid' '
	test_must_fail k create -f noimage.yaml 2>err &&
	echo "The Pod \"x\" is invalid: spec.containers[0].image: Required value" >expect &&
	test_cmp expect err &&
	test_must_fail k get pod x 2>/dev/null
'

test_expect_success 'the Invalid status is a 422 with causes' '
	api POST /api/v1/namespaces/default/pods "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\"},\"spec\":{\"containers\":[{\"name\":\"c\"}]}}" >status.json &&
	test "$API_CODE" = 422 &&
	test_grep "\"reason\": *\"Invalid\"" status.json &&
	test_grep "\"field\": *\"spec.containers\[0\].image\"" status.json
'

test_expect_success 'getting a missing pod: NotFound' '
	test_must_fail k get pod nope 2>err &&
	echo "Error from server (NotFound): pods \"nope\" not found" >expect &&
	test_cmp expect err
'

test_expect_success 'the NotFound status is a 404 with kind Status' '
	api GET /api/v1/namespaces/default/pods/nope >status.json &&
	test "$API_CODE" = 404 &&
	test_grep "\"kind\": *\"Status\"" status.json &&
	test_grep "\"reason\": *\"NotFound\"" status.json &&
	test_grep "\"code\": *404" status.json
'

test_expect_success 'creating in a namespace that does not exist: NotFound' '
	test_must_fail k create -f pod.yaml -n nope 2>err &&
	echo "Error from server (NotFound): error when creating \"pod.yaml\": namespaces \"nope\" not found" >expect &&
	test_cmp expect err
'

test_expect_success 'kubectl run in a namespace that does not exist: NotFound' '
	test_must_fail k run q --image=img:1 -n nope 2>err &&
	echo "Error from server (NotFound): namespaces \"nope\" not found" >expect &&
	test_cmp expect err
'

test_expect_success 'get ns nope: NotFound' '
	test_must_fail k get ns nope 2>err &&
	echo "Error from server (NotFound): namespaces \"nope\" not found" >expect &&
	test_cmp expect err
'

test_expect_success 'create namespace, then a pod in it' '
	k create namespace team >out &&
	echo namespace/team created >expect &&
	test_cmp expect out &&
	k create -f pod.yaml -n team >out &&
	echo pod/p created >expect &&
	test_cmp expect out &&
	test "$(k get pod p -n team -o jsonpath={.metadata.namespace})" = team
'

test_expect_success 'kubectl run' '
	k run r --image=img:2 --labels=app=run >out &&
	echo pod/r created >expect &&
	test_cmp expect out &&
	test "$(k get pod r -o jsonpath={.spec.containers[0].image})" = img:2 &&
	test "$(k get pod r -o jsonpath={.metadata.labels.app})" = run
'

test_expect_success 'create deployment' '
	k create deployment web --image=img:1 --replicas=2 >out &&
	echo deployment.apps/web created >expect &&
	test_cmp expect out &&
	test "$(k get deploy web -o jsonpath={.spec.replicas})" = 2 &&
	test "$(k get deploy web -o jsonpath={.metadata.generation})" = 1 &&
	test "$(k get deploy web -o jsonpath={.spec.selector.matchLabels.app})" = web
'

test_expect_success 'create configmap from literals' '
	k create configmap cm --from-literal=a=1 --from-literal=b=two >out &&
	echo configmap/cm created >expect &&
	test_cmp expect out &&
	test "$(k get cm cm -o jsonpath={.data.b})" = two
'

test_expect_success 'create secret generic keeps base64 data' '
	k create secret generic s --from-literal=pw=x >out &&
	echo secret/s created >expect &&
	test_cmp expect out &&
	test "$(k get secret s -o jsonpath={.data.pw})" = eA== &&
	test "$(k get secret s -o jsonpath={.type})" = Opaque
'

test_expect_success 'create service clusterip' '
	k create service clusterip svc --tcp=80:8080 >out &&
	echo service/svc created >expect &&
	test_cmp expect out &&
	test "$(k get svc svc -o jsonpath={.spec.ports[0].targetPort})" = 8080
'

test_expect_success 'generateName gives a fresh name each time' '
	k create -f gen.yaml -o name >one &&
	k create -f gen.yaml -o name >two &&
	grep -Eq "^pod/gen-[a-z0-9]{5}$" one &&
	grep -Eq "^pod/gen-[a-z0-9]{5}$" two &&
	! cmp -s one two
'

test_expect_success 'creating a namespace ignores -n' '
	k create namespace other -n team >out &&
	echo namespace/other created >expect &&
	test_cmp expect out
'

test_expect_success 'create -f of a List, as kubectl get -o json writes it (default validation)' '
	k create configmap l1 --from-literal=k=1 &&
	k create configmap l2 --from-literal=k=2 &&
	k get configmaps l1 l2 -o json >list.json &&
	grep -q "\"kind\": \"List\"" list.json &&
	k delete configmap l1 l2 &&
	k create -f list.json >out &&
	printf "configmap/l1 created\nconfigmap/l2 created\n" >expect &&
	test_cmp expect out &&
	test "$(k get configmap l2 -o jsonpath={.data.k})" = 2
'

test_expect_success '/openapi/v2 answers JSON and protobuf' '
	api GET /openapi/v2 >v2.json &&
	test "$(api_code)" = 200 &&
	test "$(json_get v2.json o.swagger)" = 2.0 &&
	curl -s -D headers -H "Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf" \
		"$BERTH_URL/openapi/v2" | head -c 5 | od -An -tx1 | tr -d " \n" >pb &&
	printf 0a03322e30 >expect && test_cmp expect pb &&
	grep -qi "^content-type: application/com.github.proto-openapi.spec.v2.v1.0+protobuf" headers
'

test_done
