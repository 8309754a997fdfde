#!/bin/bash
# 3800-kubectl-delete.t: kubectl delete by name, -f, -l, --all, --wait, the NotFound text,
# and DELETE on a collection (deletecollection) through the API.

test_description='kubectl delete'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth node
setup_berth

cat >pod.yaml <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: fp
spec:
  containers:
  - name: c
    image: img:1
EOF

test_expect_success 'delete a pod by name' '
	k run d1 --image=img:1 &&
	k delete pod d1 >out &&
	echo "pod \"d1\" deleted" >expect &&
	test_cmp expect out &&
	test_must_fail k get pod d1 2>err &&
	test_grep "pods \"d1\" not found" err
'

test_expect_success 'delete --wait returns once the pod is gone' '
	k run d2 --image=img:1 &&
	k delete pod d2 --wait --timeout=20s >out &&
	echo "pod \"d2\" deleted" >expect &&
	test_cmp expect out &&
	test_must_fail k get pod d2 2>/dev/null
'

test_expect_success 'delete -f' '
	k create -f pod.yaml &&
	k delete -f pod.yaml >out &&
	echo "pod \"fp\" deleted" >expect &&
	test_cmp expect out
'

test_expect_success 'delete a missing pod: NotFound' '
	test_must_fail k delete pod nope 2>err &&
	echo "Error from server (NotFound): pods \"nope\" not found" >expect &&
	test_cmp expect err
'

test_expect_success 'delete --ignore-not-found' '
	k delete pod nope --ignore-not-found >out &&
	test ! -s out
'

test_expect_success 'delete -l deletes only the matching pods' '
	k run l1 --image=img:1 --labels=app=x &&
	k run l2 --image=img:1 --labels=app=x &&
	k run l3 --image=img:1 --labels=app=y &&
	k delete pods -l app=x >out &&
	printf "pod \"l1\" deleted\npod \"l2\" deleted\n" >expect &&
	test_cmp expect out &&
	k get pods -o name >actual &&
	echo pod/l3 >expect &&
	test_cmp expect actual
'

test_expect_success 'delete pods --all empties the namespace, not others' '
	k create namespace keep &&
	k run k1 --image=img:1 -n keep &&
	k run a1 --image=img:1 &&
	k delete pods --all >out &&
	test_grep "pod \"a1\" deleted" out &&
	test_grep "pod \"l3\" deleted" out &&
	k get pods -o name >actual &&
	test ! -s actual &&
	test "$(k get pods -n keep -o name)" = pod/k1
'

test_expect_success 'deletecollection: DELETE on the collection with a label selector' '
	k run c1 --image=img:1 --labels=app=c &&
	k run c2 --image=img:1 --labels=app=c &&
	k run c3 --image=img:1 --labels=app=other &&
	api DELETE "/api/v1/namespaces/default/pods?labelSelector=app%3Dc" >out &&
	test "$API_CODE" = 200 &&
	k get pods -o name >actual &&
	echo pod/c3 >expect &&
	test_cmp expect actual
'

test_expect_success 'deletecollection: DELETE on the whole collection' '
	api DELETE /api/v1/namespaces/default/pods >out &&
	test "$API_CODE" = 200 &&
	k get pods -o name >actual &&
	test ! -s actual &&
	test "$(k get pods -n keep -o name)" = pod/k1
'

test_expect_success 'delete a deployment and a service' '
	k create deployment web --image=img:1 &&
	k create service clusterip web --tcp=80:80 &&
	k delete deployment/web service/web >out &&
	printf "deployment.apps \"web\" deleted\nservice \"web\" deleted\n" >expect &&
	test_cmp expect out
'

test_expect_success 'the DELETE response and a watch see the deletion' '
	api GET /api/v1/namespaces/default/pods >list.json &&
	rv=$(json_get list.json o.metadata.resourceVersion) &&
	k run w --image=img:1 &&
	api DELETE /api/v1/namespaces/default/pods/w "{\"propagationPolicy\":\"Background\"}" >del.json &&
	test "$API_CODE" = 200 &&
	{ curl -sN --max-time 3 "$BERTH_URL/api/v1/namespaces/default/pods?watch=true&resourceVersion=$rv" >stream.out ||
		test $? = 28; } &&
	test_grep "\"type\": *\"DELETED\"" stream.out
'

test_expect_success 'a deleted name can be created again with a new uid' '
	k run again --image=img:1 &&
	uid1=$(k get pod again -o jsonpath={.metadata.uid}) &&
	k delete pod again &&
	k run again --image=img:1 &&
	uid2=$(k get pod again -o jsonpath={.metadata.uid}) &&
	test -n "$uid1" && test -n "$uid2" &&
	test "$uid1" != "$uid2"
'

test_expect_success 'delete a configmap and a secret' '
	k create configmap cm --from-literal=a=1 &&
	k create secret generic sec --from-literal=a=1 &&
	k delete cm/cm secret/sec >out &&
	printf "configmap \"cm\" deleted\nsecret \"sec\" deleted\n" >expect &&
	test_cmp expect out
'

test_done
