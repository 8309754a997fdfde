#!/bin/bash
# 3300-kubectl-apply.t: client-side apply (create, unchanged, a 3-way strategic merge patch
# that changes the image, env and ports) and server-side apply (create and update).

test_description='kubectl apply and apply --server-side'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth node
setup_berth

# deploy_yaml IMAGE ENV-LINES PORT-LINES: a Deployment manifest on stdout.
deploy_yaml() {
	cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: $1
        env:
$2
        ports:
$3
      - name: side
        image: side:1
EOF
}

env_ab='        - name: A
          value: "1"
        - name: B
          value: "2"'
env_ac='        - name: A
          value: "10"
        - name: C
          value: "3"'
ports_80='        - containerPort: 80'
ports_80_81='        - containerPort: 80
        - containerPort: 81
          name: metrics'

test_expect_success 'apply creates' '
	deploy_yaml img:1 "$env_ab" "$ports_80" >web.yaml &&
	k apply -f web.yaml >out &&
	echo deployment.apps/web created >expect &&
	test_cmp expect out
'

test_expect_success 'the created object has the last-applied annotation' '
	k get deploy web -o json >web.json &&
	json_get web.json "JSON.parse(o.metadata.annotations[\"kubectl.kubernetes.io/last-applied-configuration\"]).spec.template.spec.containers[0].image" \
		o.metadata.generation >actual &&
	printf "img:1\n1\n" >expect &&
	test_cmp expect actual
'

test_expect_success 're-applying the same file: unchanged' '
	rv1=$(k get deploy web -o jsonpath={.metadata.resourceVersion}) &&
	k apply -f web.yaml >out &&
	echo deployment.apps/web unchanged >expect &&
	test_cmp expect out &&
	rv2=$(k get deploy web -o jsonpath={.metadata.resourceVersion}) &&
	test "$rv1" = "$rv2"
'

test_expect_success 'apply with a new image, env and ports: configured' '
	deploy_yaml img:2 "$env_ac" "$ports_80_81" >web.yaml &&
	k apply -f web.yaml >out &&
	echo deployment.apps/web configured >expect &&
	test_cmp expect out
'

test_expect_success 'the stored object has the new image, env and ports' '
	k get deploy web -o json >web.json &&
	json_get web.json \
		"o.spec.template.spec.containers.map(c => c.name + \"=\" + c.image).join(\",\")" \
		"o.spec.template.spec.containers[0].env.map(e => e.name + \"=\" + e.value).join(\",\")" \
		"o.spec.template.spec.containers[0].ports.map(p => p.containerPort + \":\" + (p.name || \"\")).join(\",\")" \
		"o.metadata.generation" \
		"Object.keys(o).concat(Object.keys(o.spec.template.spec.containers[0])).filter(k => k.startsWith(\"\$\")).length" \
		>actual &&
	cat >expect <<-\EOF &&
	web=img:2,side=side:1
	A=10,C=3
	80:,81:metrics
	2
	0
	EOF
	test_cmp expect actual
'

test_expect_success 'no $patch directive was stored anywhere' '
	k get deploy web -o json >web.json &&
	test_grep -v "\"\\\$\(patch\|setElementOrder\|retainKeys\|deleteFromPrimitiveList\)" web.json
'

test_expect_success 'apply removing a container and a label' '
	cat >web2.yaml <<-\EOF &&
	apiVersion: apps/v1
	kind: Deployment
	metadata:
	  name: web
	spec:
	  replicas: 3
	  selector:
	    matchLabels:
	      app: web
	  template:
	    metadata:
	      labels:
	        app: web
	    spec:
	      containers:
	      - name: web
	        image: img:3
	EOF
	k apply -f web2.yaml >out &&
	echo deployment.apps/web configured >expect &&
	test_cmp expect out &&
	k get deploy web -o json >web.json &&
	json_get web.json \
		"o.spec.template.spec.containers.map(c => c.name + \"=\" + c.image).join(\",\")" \
		"o.spec.replicas" "o.metadata.labels === undefined || o.metadata.labels.app === undefined" \
		"o.spec.template.spec.containers[0].env === undefined" >actual &&
	printf "web=img:3\n3\ntrue\ntrue\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'apply a pod and a service from one file, twice' '
	cat >mix.yaml <<-\EOF &&
	apiVersion: v1
	kind: Pod
	metadata:
	  name: mp
	spec:
	  containers:
	  - name: c
	    image: img:1
	---
	apiVersion: v1
	kind: Service
	metadata:
	  name: ms
	spec:
	  ports:
	  - port: 80
	EOF
	k apply -f mix.yaml >out &&
	printf "pod/mp created\nservice/ms created\n" >expect &&
	test_cmp expect out &&
	k apply -f mix.yaml >out &&
	printf "pod/mp unchanged\nservice/ms unchanged\n" >expect &&
	test_cmp expect out
'

test_expect_success 'apply into a missing namespace fails with NotFound' '
	test_must_fail k apply -f mix.yaml -n nope 2>err &&
	test_grep "namespaces \"nope\" not found" err
'

test_expect_success 'apply --server-side creates' '
	cat >ssa.yaml <<-\EOF &&
	apiVersion: v1
	kind: ConfigMap
	metadata:
	  name: ssa
	data:
	  a: "1"
	EOF
	k apply --server-side -f ssa.yaml >out &&
	echo configmap/ssa serverside-applied >expect &&
	test_cmp expect out &&
	test "$(k get cm ssa -o jsonpath={.data.a})" = 1
'

test_expect_success 'apply --server-side updates' '
	sed "s/a: \"1\"/a: \"2\"\n  b: \"3\"/" ssa.yaml >ssa2.yaml &&
	k apply --server-side -f ssa2.yaml >out &&
	echo configmap/ssa serverside-applied >expect &&
	test_cmp expect out &&
	test "$(k get cm ssa -o jsonpath={.data.a},{.data.b})" = 2,3
'

test_expect_success 'apply --server-side a deployment, then change its image' '
	deploy_yaml img:7 "$env_ab" "$ports_80" | sed "s/name: web$/name: ssweb/" >ssweb.yaml &&
	k apply --server-side -f ssweb.yaml >out &&
	echo deployment.apps/ssweb serverside-applied >expect &&
	test_cmp expect out &&
	sed "s/img:7/img:8/" ssweb.yaml >ssweb2.yaml &&
	k apply --server-side -f ssweb2.yaml >out &&
	test_cmp expect out &&
	test "$(k get deploy ssweb -o jsonpath={.spec.template.spec.containers[0].image})" = img:8 &&
	test "$(k get deploy ssweb -o jsonpath={.metadata.generation})" = 2
'

test_done
