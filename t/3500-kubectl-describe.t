#!/bin/bash
# 3500-kubectl-describe.t: kubectl describe pod and deployment render from what berth
# stores (names, labels, images, env, ports, replica counts, events section).

test_description='kubectl describe pod and deployment'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth
setup_berth

cat >pod.yaml <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: dp
  labels:
    app: shop
  annotations:
    team: blue
spec:
  containers:
  - name: main
    image: img:1
    ports:
    - containerPort: 8080
    env:
    - name: MODE
      value: fast
EOF

test_expect_success 'describe pod' '
	k create -f pod.yaml &&
	k describe pod dp >out &&
	test_grep -E "^Name: +dp$" out &&
	test_grep -E "^Namespace: +default$" out &&
	test_grep -E "^Labels: +app=shop$" out &&
	test_grep -E "^Annotations: +team: blue$" out &&
	test_grep -E "^Status: +Pending$" out &&
	test_grep -E "^Containers:$" out &&
	test_grep -E "^  main:$" out &&
	test_grep -E "^    Image: +img:1$" out &&
	test_grep -E "^    Port: +8080/TCP$" out &&
	test_grep -E "^      MODE: +fast$" out &&
	test_grep -E "^Events: +<none>$" out
'

test_expect_success 'describe pods by label' '
	k describe pods -l app=shop >out &&
	test_grep -E "^Name: +dp$" out
'

test_expect_success 'describe a missing pod: NotFound' '
	test_must_fail k describe pod nope 2>err &&
	test_grep "pods \"nope\" not found" err
'

test_expect_success 'describe deployment' '
	k create deployment shop --image=img:2 --replicas=3 &&
	k describe deployment shop >out &&
	test_grep -E "^Name: +shop$" out &&
	test_grep -E "^Namespace: +default$" out &&
	test_grep -E "^Selector: +app=shop$" out &&
	test_grep -E "^Replicas: +3 desired \| [0-9]+ updated \| [0-9]+ total \| [0-9]+ available \| [0-9]+ unavailable$" out &&
	test_grep -E "^StrategyType: +RollingUpdate$" out &&
	test_grep -E "^Pod Template:$" out &&
	test_grep -E "^    Image: +img:2$" out
'

test_expect_success 'describe namespace' '
	k describe namespace default >out &&
	test_grep -E "^Name: +default$" out &&
	test_grep -E "^Status: +Active$" out
'

test_done
