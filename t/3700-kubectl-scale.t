#!/bin/bash
# 3700-kubectl-scale.t: kubectl scale on deployments (merge-patch of the scale subresource,
# and the GET/PUT path taken with --current-replicas), spec.replicas and generation.

test_description='kubectl scale deployment'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth node
setup_berth

test_expect_success 'setup: a deployment with 1 replica' '
	k create deployment web --image=img:1 &&
	test "$(k get deploy web -o jsonpath={.spec.replicas},{.metadata.generation})" = 1,1
'

test_expect_success 'scale to 3' '
	k scale deployment web --replicas=3 >out &&
	echo deployment.apps/web scaled >expect &&
	test_cmp expect out &&
	test "$(k get deploy web -o jsonpath={.spec.replicas},{.metadata.generation})" = 3,2
'

test_expect_success 'the scale subresource is an autoscaling/v1 Scale' '
	api GET /apis/apps/v1/namespaces/default/deployments/web/scale >scale.json &&
	test "$API_CODE" = 200 &&
	json_get scale.json o.kind o.apiVersion o.metadata.name o.spec.replicas >actual &&
	printf "Scale\nautoscaling/v1\nweb\n3\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'scale with --current-replicas (GET then PUT of the scale)' '
	k scale deployment web --current-replicas=3 --replicas=4 >out &&
	echo deployment.apps/web scaled >expect &&
	test_cmp expect out &&
	test "$(k get deploy web -o jsonpath={.spec.replicas},{.metadata.generation})" = 4,3
'

test_expect_success 'scale with a wrong --current-replicas fails and changes nothing' '
	test_must_fail k scale deployment web --current-replicas=9 --replicas=5 2>err &&
	test_grep "Expected replicas to be 9, was 4" err &&
	test "$(k get deploy web -o jsonpath={.spec.replicas})" = 4
'

test_expect_success 'scale to the same count keeps the generation' '
	k scale deployment web --replicas=4 &&
	test "$(k get deploy web -o jsonpath={.spec.replicas},{.metadata.generation})" = 4,3
'

test_expect_success 'kubectl wait --for=jsonpath sees a scale done meanwhile' '
	k_bg wait.out 20 wait deploy/web --for=jsonpath={.spec.replicas}=6 --timeout=15s &&
	waiter=$K_BG_PID &&
	sleep 1 &&
	k scale deployment web --replicas=6 &&
	wait $waiter &&
	test_grep "deployment.apps/web condition met" wait.out
'

test_expect_success 'scale to 0' '
	k scale deploy/web --replicas=0 &&
	test "$(k get deploy web -o jsonpath={.spec.replicas})" = 0
'

# kubectl 1.31 drops the NotFound of its GET and says only this (scale.go: len(infos) == 0).
test_expect_success 'scale a missing deployment fails' '
	test_must_fail k scale deployment nope --replicas=2 2>err &&
	test_grep "no objects passed to scale" err
'

test_expect_success 'scale to a negative count is invalid' '
	api PATCH /apis/apps/v1/namespaces/default/deployments/web/scale "{\"spec\":{\"replicas\":-1}}" application/merge-patch+json >out &&
	test "$API_CODE" = 422 &&
	test "$(k get deploy web -o jsonpath={.spec.replicas})" = 0
'

test_expect_success 'scale several deployments selected by -l' '
	k create deployment a1 --image=img:1 &&
	k create deployment a2 --image=img:1 &&
	k label deploy a1 a2 grp=x &&
	k scale deploy -l grp=x --replicas=2 >out &&
	printf "deployment.apps/a1 scaled\ndeployment.apps/a2 scaled\n" >expect &&
	test_cmp expect out &&
	test "$(k get deploy a1 a2 -o jsonpath={.items[*].spec.replicas})" = "2 2"
'

test_done
