#!/bin/bash
# 3650-kubectl-replace-edit.t: whole-object updates (kubectl replace, kubectl edit with a
# scripted editor, PUT with a stale resourceVersion -> 409 Conflict), the status
# subresource (what the node agent and controllers will write), server-side dry run, and
# creating in a terminating namespace.

test_description='kubectl replace, edit, --subresource=status, --dry-run=server'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth node
setup_berth

cat >pod.yaml <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: p
  labels:
    v: "1"
spec:
  containers:
  - name: c
    image: img:1
EOF

test_expect_success 'replace -f updates the whole object' '
	k create -f pod.yaml &&
	sed "s/v: \"1\"/v: \"2\"/; s/img:1/img:2/" pod.yaml >pod2.yaml &&
	k replace -f pod2.yaml >out &&
	echo pod/p replaced >expect &&
	test_cmp expect out &&
	test "$(k get pod p -o jsonpath={.metadata.labels.v},{.spec.containers[0].image})" = 2,img:2
'

test_expect_success 'replace of a missing object: NotFound' '
	sed "s/name: p$/name: nope/" pod.yaml >nope.yaml &&
	test_must_fail k replace -f nope.yaml 2>err &&
	test_grep "pods \"nope\" not found" err
'

test_expect_success 'PUT with a stale resourceVersion is 409 Conflict' '
	api GET /api/v1/namespaces/default/pods/p >cur.json &&
	k label pod p moved=yes &&
	api PUT /api/v1/namespaces/default/pods/p @cur.json >conflict.json &&
	test "$API_CODE" = 409 &&
	json_get conflict.json o.kind o.reason o.message >actual &&
	cat >expect <<-\EOF &&
	Status
	Conflict
	Operation cannot be fulfilled on pods "p": the object has been modified; please apply your changes to the latest version and try again
	EOF
	test_cmp expect actual
'

test_expect_success 'PUT with the current resourceVersion succeeds' '
	api GET /api/v1/namespaces/default/pods/p >cur.json &&
	api PUT /api/v1/namespaces/default/pods/p @cur.json >put.json &&
	test "$API_CODE" = 200
'

test_expect_success 'kubectl edit with a scripted editor' '
	k create deployment web --image=img:1 &&
	KUBE_EDITOR="sed -i s/img:1/img:5/" k edit deployment web >out 2>&1 &&
	echo deployment.apps/web edited >expect &&
	test_cmp expect out &&
	test "$(k get deploy web -o jsonpath={.spec.template.spec.containers[0].image})" = img:5
'

test_expect_success 'kubectl edit without a change' '
	KUBE_EDITOR=true k edit deployment web >out 2>&1 &&
	test_grep "Edit cancelled, no changes made." out
'

test_expect_success 'patch --subresource=status sets the pod phase' '
	k patch pod p --subresource=status --type merge -p "{\"status\":{\"phase\":\"Running\",\"podIP\":\"10.1.2.3\"}}" >out &&
	echo pod/p patched >expect &&
	test_cmp expect out &&
	k get pod p -o wide >out &&
	squash <out >t &&
	grep "^p " t | cut -d" " -f1,3,6 >actual &&
	echo "p Running 10.1.2.3" >expect &&
	test_cmp expect actual
'

test_expect_success 'a patch of the main resource leaves status alone' '
	k patch pod p --type merge -p "{\"status\":{\"phase\":\"Failed\"}}" &&
	test "$(k get pod p -o jsonpath={.status.phase})" = Running
'

test_expect_success 'a patch of the status subresource leaves spec alone' '
	k patch pod p --subresource=status --type merge -p "{\"metadata\":{\"labels\":{\"s\":\"x\"}},\"spec\":{\"activeDeadlineSeconds\":5}}" &&
	test -z "$(k get pod p -o jsonpath={.spec.activeDeadlineSeconds})"
'

test_expect_success 'get --subresource=status' '
	k get pod p --subresource=status -o jsonpath={.status.phase} >actual &&
	printf Running >expect &&
	test_cmp expect actual
'

test_expect_success 'deployment status drives the READY column' '
	k scale deployment web --replicas=2 &&
	k patch deployment web --subresource=status --type merge \
		-p "{\"status\":{\"replicas\":2,\"readyReplicas\":2,\"updatedReplicas\":2,\"availableReplicas\":2}}" &&
	k get deploy web >out &&
	squash <out | grep "^web " | cut -d" " -f1-4 >actual &&
	echo "web 2/2 2 2" >expect &&
	test_cmp expect actual
'

test_expect_success 'create --dry-run=server stores nothing' '
	sed "s/name: p$/name: dry/" pod.yaml >dry.yaml &&
	k create -f dry.yaml --dry-run=server >out &&
	echo "pod/dry created (server dry run)" >expect &&
	test_cmp expect out &&
	test_must_fail k get pod dry 2>/dev/null
'

test_expect_success 'delete --dry-run=server keeps the object' '
	k delete pod p --dry-run=server >out &&
	echo "pod \"p\" deleted (server dry run)" >expect &&
	test_cmp expect out &&
	k get pod p -o name
'

test_expect_success 'a deleted namespace is Terminating and refuses new content' '
	k create namespace gone &&
	k delete namespace gone --wait=false >out &&
	echo "namespace \"gone\" deleted" >expect &&
	test_cmp expect out &&
	test "$(k get ns gone -o jsonpath={.status.phase})" = Terminating &&
	test_must_fail k run q -n gone --image=img:1 2>err &&
	echo "Error from server (Forbidden): pods \"q\" is forbidden: unable to create new content in namespace gone because it is being terminated" >expect &&
	test_cmp expect err
'

test_done
