#!/bin/bash
# 3600-kubectl-patch.t: kubectl label, annotate and patch (--type json, merge, strategic),
# each checked on the stored object; resourceVersion moves on every change.

test_description='kubectl label, annotate, patch'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth node
setup_berth

test_expect_success 'setup: a pod and a deployment' '
	k run p --image=img:1 --labels=app=a &&
	k create deployment web --image=img:1
'

test_expect_success 'label adds a label' '
	rv1=$(k get pod p -o jsonpath={.metadata.resourceVersion}) &&
	k label pod p tier=fe >out &&
	echo pod/p labeled >expect &&
	test_cmp expect out &&
	test "$(k get pod p -o jsonpath={.metadata.labels.tier})" = fe &&
	rv2=$(k get pod p -o jsonpath={.metadata.resourceVersion}) &&
	test "$rv2" -gt "$rv1"
'

test_expect_success 'label refuses to overwrite without --overwrite' '
	test_must_fail k label pod p tier=be 2>err &&
	test_grep "already has a value (fe)" err &&
	k label pod p tier=be --overwrite >out &&
	echo pod/p labeled >expect &&
	test_cmp expect out &&
	test "$(k get pod p -o jsonpath={.metadata.labels.tier})" = be
'

test_expect_success 'label KEY- removes it' '
	k label pod p tier- >out &&
	echo pod/p unlabeled >expect &&
	test_cmp expect out &&
	k get pod p -o json >p.json &&
	json_get p.json "JSON.stringify(o.metadata.labels)" >actual &&
	echo "{\"app\":\"a\"}" >expect &&
	test_cmp expect actual
'

test_expect_success 'label a missing pod: NotFound' '
	test_must_fail k label pod nope x=y 2>err &&
	echo "Error from server (NotFound): pods \"nope\" not found" >expect &&
	test_cmp expect err
'

test_expect_success 'annotate adds, overwrites and removes' '
	k annotate pod p note="hello world" >out &&
	echo pod/p annotated >expect &&
	test_cmp expect out &&
	test "$(k get pod p -o jsonpath={.metadata.annotations.note})" = "hello world" &&
	k annotate pod p --overwrite note=bye &&
	test "$(k get pod p -o jsonpath={.metadata.annotations.note})" = bye &&
	k annotate pod p note- &&
	test -z "$(k get pod p -o jsonpath={.metadata.annotations.note})"
'

test_expect_success 'label all pods selected by -l' '
	k run q --image=img:1 --labels=app=a &&
	k run z --image=img:1 --labels=app=z &&
	k label pods -l app=a batch=1 >out &&
	printf "pod/p labeled\npod/q labeled\n" >expect &&
	test_cmp expect out &&
	k get pods -l batch=1 -o name >actual &&
	printf "pod/p\npod/q\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'patch --type merge' '
	k patch pod p --type merge -p "{\"metadata\":{\"labels\":{\"m\":\"1\",\"batch\":null}}}" >out &&
	echo pod/p patched >expect &&
	test_cmp expect out &&
	test "$(k get pod p -o jsonpath={.metadata.labels.m})" = 1 &&
	test -z "$(k get pod p -o jsonpath={.metadata.labels.batch})"
'

test_expect_success 'patch --type json: replace, add, remove' '
	k patch pod p --type json -p "[
		{\"op\":\"replace\",\"path\":\"/spec/containers/0/image\",\"value\":\"img:2\"},
		{\"op\":\"add\",\"path\":\"/metadata/labels/j\",\"value\":\"yes\"},
		{\"op\":\"remove\",\"path\":\"/metadata/labels/m\"}]" >out &&
	echo pod/p patched >expect &&
	test_cmp expect out &&
	test "$(k get pod p -o jsonpath={.spec.containers[0].image})" = img:2 &&
	test "$(k get pod p -o jsonpath={.metadata.labels.j})" = yes &&
	test -z "$(k get pod p -o jsonpath={.metadata.labels.m})"
'

test_expect_success 'patch --type json with a failing test op changes nothing' '
	rv1=$(k get pod p -o jsonpath={.metadata.resourceVersion}) &&
	test_must_fail k patch pod p --type json -p "[
		{\"op\":\"test\",\"path\":\"/spec/containers/0/image\",\"value\":\"wrong\"},
		{\"op\":\"replace\",\"path\":\"/spec/containers/0/image\",\"value\":\"img:9\"}]" 2>err &&
	test "$(k get pod p -o jsonpath={.spec.containers[0].image})" = img:2 &&
	test "$(k get pod p -o jsonpath={.metadata.resourceVersion})" = "$rv1"
'

test_expect_success 'patch --type json on a missing path fails' '
	test_must_fail k patch pod p --type json -p "[{\"op\":\"replace\",\"path\":\"/spec/nothere/x\",\"value\":1}]" 2>err
'

test_expect_success 'strategic patch merges containers by name' '
	k patch deployment web -p "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"img\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}]}]}}}}" >out &&
	echo deployment.apps/web patched >expect &&
	test_cmp expect out &&
	k get deploy web -o json >web.json &&
	json_get web.json \
		"o.spec.template.spec.containers.length" \
		"o.spec.template.spec.containers[0].image" \
		"o.spec.template.spec.containers[0].env[0].value" \
		"o.metadata.generation" >actual &&
	printf "1\nimg:1\n1\n2\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'strategic patch $patch: delete removes a list element' '
	k patch deployment web -p "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"img\",\"env\":[{\"name\":\"B\",\"value\":\"2\"}]}]}}}}" &&
	k patch deployment web -p "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"img\",\"env\":[{\"\$patch\":\"delete\",\"name\":\"A\"}]}]}}}}" &&
	test "$(k get deploy web -o jsonpath="{.spec.template.spec.containers[0].env[*].name}")" = B
'

test_expect_success 'strategic patch on a pod changes a container image by name' '
	k patch pod p -p "{\"spec\":{\"containers\":[{\"name\":\"p\",\"image\":\"img:3\"}]}}" >out &&
	echo pod/p patched >expect &&
	test_cmp expect out &&
	test "$(k get pod p -o jsonpath={.spec.containers[*].image})" = img:3
'

test_expect_success 'changing a pod container port is forbidden' '
	test_must_fail k patch pod p -p "{\"spec\":{\"containers\":[{\"name\":\"p\",\"ports\":[{\"containerPort\":81}]}]}}" 2>err &&
	test_grep "The Pod \"p\" is invalid: spec: Forbidden: pod updates may not change fields" err
'

test_expect_success 'patch --type merge on a deployment replica count bumps generation' '
	k patch deployment web --type merge -p "{\"spec\":{\"replicas\":5}}" &&
	test "$(k get deploy web -o jsonpath={.spec.replicas},{.metadata.generation})" = 5,5
'

test_expect_success 'a metadata-only patch does not bump generation' '
	k label deployment web x=y &&
	test "$(k get deploy web -o jsonpath={.metadata.generation})" = 5
'

test_expect_success 'patch a missing object: NotFound' '
	test_must_fail k patch pod nope --type merge -p "{}" 2>err &&
	echo "Error from server (NotFound): pods \"nope\" not found" >expect &&
	test_cmp expect err
'

test_expect_success 'malformed patch bodies are 400, not 500' '
	api PATCH /api/v1/namespaces/default/pods/p "{not json" application/merge-patch+json >out &&
	test "$API_CODE" = 400 &&
	api PATCH /api/v1/namespaces/default/pods/p "{\"op\":\"add\"}" application/json-patch+json >out &&
	test "$API_CODE" = 400 &&
	api PATCH /api/v1/namespaces/default/pods/p "{}" text/plain >out &&
	test "$API_CODE" = 415
'

test_done
