#!/bin/bash
# 2000-api-crud.t: create, get, list, update, delete and the subresources (status, scale,
# binding) of the API server against a real redis-server, driven with curl.

test_description='API server: CRUD, subresources, graceful deletion, finalizers, dryRun'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/data/api-helpers.sh"
test_require redis berth curl node
setup_berth

NS=/api/v1/namespaces/default
APPS=/apis/apps/v1/namespaces/default

test_expect_success 'create answers 201 with uid, creationTimestamp and resourceVersion' '
	expect_code 201 POST $NS/pods "$(pod_json p1 "{\"app\":\"web\"}")" >p1.json &&
	jeq p1.json o.kind Pod &&
	jeq p1.json o.apiVersion v1 &&
	jeq p1.json o.metadata.name p1 &&
	jeq p1.json o.metadata.namespace default &&
	jcheck p1.json "/^[0-9a-f-]{36}$/.test(o.metadata.uid)" \
		"/^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$/.test(o.metadata.creationTimestamp)" \
		"/^[1-9][0-9]*$/.test(o.metadata.resourceVersion)" &&
	p1_rv=$(rv_of p1.json)
'

test_expect_success 'get returns the object as created' '
	expect_code 200 GET $NS/pods/p1 >got.json &&
	jeq got.json o.metadata.uid "$(json_get p1.json o.metadata.uid)" &&
	jeq got.json o.metadata.resourceVersion "$p1_rv" &&
	jeq got.json "o.spec.containers[0].image" img:1
'

test_expect_success 'list is a PodList with items and a resourceVersion' '
	expect_code 201 POST $NS/pods "$(pod_json p2)" >/dev/null &&
	expect_code 200 GET $NS/pods >list.json &&
	jeq list.json o.kind PodList &&
	jeq list.json o.apiVersion v1 &&
	jeq list.json "o.items.map(i => i.metadata.name).join()" p1,p2 &&
	jcheck list.json "/^[1-9][0-9]*$/.test(o.metadata.resourceVersion)" \
		"+o.metadata.resourceVersion >= +o.items[1].metadata.resourceVersion"
'

test_expect_success 'PUT with the current resourceVersion answers 200 and a larger rv' '
	expect_code 200 GET $NS/pods/p1 >cur.json &&
	jedit cur.json "o.metadata.labels.tier = \"front\"" >upd.json &&
	expect_code 200 PUT $NS/pods/p1 @upd.json >put.json &&
	jeq put.json o.metadata.labels.tier front &&
	jcheck put.json "+o.metadata.resourceVersion > $p1_rv" &&
	expect_code 200 GET $NS/pods/p1 >after.json &&
	jeq after.json o.metadata.labels.tier front &&
	jeq after.json o.metadata.resourceVersion "$(rv_of put.json)"
'

test_expect_success 'PUT with a stale resourceVersion answers 409 Conflict and changes nothing' '
	expect_code 200 GET $NS/pods/p1 >before.json &&
	jedit cur.json "o.metadata.labels.tier = \"stale\"" >stale.json &&
	expect_status 409 Conflict PUT $NS/pods/p1 @stale.json &&
	test_grep "Operation cannot be fulfilled on pods \\\\\"p1\\\\\": the object has been modified" status.json &&
	expect_code 200 GET $NS/pods/p1 >now.json &&
	test_cmp before.json now.json
'

test_expect_success 'PUT without a resourceVersion is unconditional' '
	jedit cur.json "delete o.metadata.resourceVersion; o.metadata.labels.tier = \"blind\"" >blind.json &&
	expect_code 200 PUT $NS/pods/p1 @blind.json >put.json &&
	jeq put.json o.metadata.labels.tier blind &&
	jcheck put.json "+o.metadata.resourceVersion > +$(rv_of now.json)"
'

test_expect_success 'PATCH with a stale resourceVersion in the patch answers 409' '
	expect_code 200 GET $NS/pods/p1 >before.json &&
	expect_status 409 Conflict PATCH $NS/pods/p1 "{\"metadata\":{\"resourceVersion\":\"$p1_rv\",\"labels\":{\"tier\":\"patched\"}}}" \
		application/merge-patch+json &&
	expect_code 200 GET $NS/pods/p1 >now.json &&
	test_cmp before.json now.json
'

test_expect_success 'PATCH with the current resourceVersion in the patch applies' '
	rv=$(rv_of before.json) &&
	expect_code 200 PATCH $NS/pods/p1 "{\"metadata\":{\"resourceVersion\":\"$rv\",\"labels\":{\"tier\":\"patched\"}}}" \
		application/merge-patch+json >pp.json &&
	jeq pp.json o.metadata.labels.tier patched &&
	jcheck pp.json "+o.metadata.resourceVersion > $rv"
'

test_expect_success 'GET in the wrong namespace answers 404' '
	expect_status 404 NotFound GET /api/v1/namespaces/kube-system/pods/p1
'

test_expect_success 'PUT of a missing object answers 404' '
	jedit p1.json "o.metadata.name = \"nosuch\"; delete o.metadata.resourceVersion" >nosuch.json &&
	expect_status 404 NotFound PUT $NS/pods/nosuch @nosuch.json &&
	expect_status 404 NotFound GET $NS/pods/nosuch
'

test_expect_success 'uid and creationTimestamp cannot be changed by PUT' '
	expect_code 200 GET $NS/pods/p1 >cur.json &&
	jedit cur.json "o.metadata.labels.x = \"1\"; o.metadata.creationTimestamp = \"2001-01-01T00:00:00Z\"" >upd.json &&
	expect_code 200 PUT $NS/pods/p1 @upd.json >put.json &&
	jeq put.json o.metadata.creationTimestamp "$(json_get p1.json o.metadata.creationTimestamp)" &&
	jeq put.json o.metadata.uid "$(json_get p1.json o.metadata.uid)"
'

test_expect_success 'deployment generation is 1 on create and bumped by spec changes only' '
	expect_code 201 POST $APPS/deployments "$(deploy_json d1 1)" >d.json &&
	jeq d.json o.metadata.generation 1 &&
	jedit d.json "o.spec.replicas = 3" >d2.json &&
	expect_code 200 PUT $APPS/deployments/d1 @d2.json >d3.json &&
	jeq d3.json o.metadata.generation 2 &&
	jeq d3.json o.spec.replicas 3 &&
	jedit d3.json "o.metadata.labels = {team: \"a\"}; o.metadata.annotations = {note: \"n\"}" >d4.json &&
	expect_code 200 PUT $APPS/deployments/d1 @d4.json >d5.json &&
	jeq d5.json o.metadata.generation 2 &&
	jeq d5.json o.metadata.labels.team a
'

test_expect_success 'unknown fields are kept verbatim' '
	body=$(cm_json odd "{}" "{\"k\":\"v\"}" | sed "s/^{/{\"extraTop\":{\"n\":[1,2.5,\"s\",null,true]},/") &&
	expect_code 201 POST $NS/configmaps "$body" >odd.json &&
	expect_code 200 GET $NS/configmaps/odd >odd2.json &&
	jeq odd2.json "JSON.stringify(o.extraTop)" "{\"n\":[1,2.5,\"s\",null,true]}" &&
	jeq odd2.json o.data.k v
'

test_expect_success 'generateName makes a unique name with the prefix' '
	body="{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"generateName\":\"gen-\"}}" &&
	expect_code 201 POST $NS/configmaps "$body" >g1.json &&
	expect_code 201 POST $NS/configmaps "$body" >g2.json &&
	n1=$(json_get g1.json o.metadata.name) && n2=$(json_get g2.json o.metadata.name) &&
	echo "$n1 $n2" &&
	case "$n1" in gen-?????) ;; *) false ;; esac &&
	case "$n2" in gen-?????) ;; *) false ;; esac &&
	test "$n1" != "$n2" &&
	jeq g1.json o.metadata.generateName gen- &&
	expect_code 200 GET $NS/configmaps/$n1 >/dev/null
'

test_expect_success 'create in a missing namespace answers 404 namespaces "x" not found' '
	expect_status 404 NotFound POST /api/v1/namespaces/x/pods "$(pod_json px)" &&
	jeq status.json o.message "namespaces \"x\" not found" &&
	jeq status.json o.details.name x &&
	jeq status.json o.details.kind namespaces &&
	expect_status 404 NotFound GET /api/v1/namespaces/x/pods/px
'

test_expect_success 'namespaces can be created, then objects in them' '
	expect_code 201 POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\"}}" >ns.json &&
	jcheck ns.json "o.metadata.namespace === undefined" &&
	expect_code 201 POST /api/v1/namespaces/x/pods "$(pod_json px)" >/dev/null &&
	expect_code 200 GET /api/v1/namespaces/x/pods/px >/dev/null
'

test_expect_success 'cluster-scoped kinds: nodes live outside namespaces' '
	expect_code 201 POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\",\"labels\":{\"zone\":\"a\"}}}" >n1.json &&
	jcheck n1.json "o.metadata.namespace === undefined" "o.metadata.uid.length > 0" &&
	expect_code 200 GET /api/v1/nodes/n1 >n1b.json &&
	jeq n1b.json o.metadata.name n1 &&
	expect_code 200 GET /api/v1/nodes >nodes.json &&
	jeq nodes.json o.kind NodeList &&
	jeq nodes.json "o.items.map(i => i.metadata.name).join()" n1 &&
	api GET /api/v1/namespaces/default/nodes/n1 >/dev/null &&
	test "$API_CODE" = 404
'

test_expect_success 'status subresource: PUT status ignores spec changes' '
	expect_code 200 GET $APPS/deployments/d1 >d.json &&
	gen=$(json_get d.json o.metadata.generation) &&
	jedit d.json "o.spec.replicas = 9; o.status = {replicas: 2, observedGeneration: 2}" >ds.json &&
	expect_code 200 PUT $APPS/deployments/d1/status @ds.json >ds2.json &&
	jeq ds2.json o.status.replicas 2 &&
	jeq ds2.json o.spec.replicas 3 &&
	expect_code 200 GET $APPS/deployments/d1 >d3.json &&
	jeq d3.json o.status.replicas 2 &&
	jeq d3.json o.spec.replicas 3 &&
	jeq d3.json o.metadata.generation "$gen"
'

test_expect_success 'status subresource: PUT with a stale resourceVersion answers 409' '
	expect_code 200 GET $APPS/deployments/d1 >before.json &&
	jedit d.json "o.status = {replicas: 4}" >dstale.json &&
	expect_status 409 Conflict PUT $APPS/deployments/d1/status @dstale.json &&
	expect_code 200 GET $APPS/deployments/d1 >now.json &&
	test_cmp before.json now.json
'

test_expect_success 'status subresource: GET returns the whole object' '
	expect_code 200 GET $APPS/deployments/d1/status >st.json &&
	jeq st.json o.kind Deployment &&
	jeq st.json o.status.replicas 2
'

test_expect_success 'main PUT ignores status changes' '
	expect_code 200 GET $APPS/deployments/d1 >d.json &&
	jedit d.json "o.status.replicas = 7; o.metadata.labels = {changed: \"yes\"}" >dm.json &&
	expect_code 200 PUT $APPS/deployments/d1 @dm.json >dm2.json &&
	jeq dm2.json o.metadata.labels.changed yes &&
	jeq dm2.json o.status.replicas 2 &&
	expect_code 200 GET $APPS/deployments/d1 >d3.json &&
	jeq d3.json o.status.replicas 2
'

test_expect_success 'main PATCH ignores status changes too' '
	expect_code 200 PATCH $APPS/deployments/d1 "{\"status\":{\"replicas\":8},\"metadata\":{\"labels\":{\"p\":\"1\"}}}" \
		application/merge-patch+json >dp.json &&
	jeq dp.json o.metadata.labels.p 1 &&
	jeq dp.json o.status.replicas 2
'

test_expect_success 'scale subresource GET is an autoscaling/v1 Scale' '
	expect_code 200 GET $APPS/deployments/d1/scale >sc.json &&
	jeq sc.json o.kind Scale &&
	jeq sc.json o.apiVersion autoscaling/v1 &&
	jeq sc.json o.metadata.name d1 &&
	jeq sc.json o.metadata.namespace default &&
	jeq sc.json o.spec.replicas 3 &&
	jeq sc.json o.status.replicas 2 &&
	jeq sc.json o.status.selector app=d1 &&
	jcheck sc.json "o.metadata.resourceVersion.length > 0"
'

test_expect_success 'scale subresource PUT sets spec.replicas and bumps generation' '
	expect_code 200 GET $APPS/deployments/d1 >before.json &&
	gen=$(json_get before.json o.metadata.generation) &&
	expect_code 200 PUT $APPS/deployments/d1/scale \
		"{\"apiVersion\":\"autoscaling/v1\",\"kind\":\"Scale\",\"metadata\":{\"name\":\"d1\",\"namespace\":\"default\"},\"spec\":{\"replicas\":5}}" >sc.json &&
	jeq sc.json o.kind Scale &&
	jeq sc.json o.spec.replicas 5 &&
	expect_code 200 GET $APPS/deployments/d1 >d.json &&
	jeq d.json o.spec.replicas 5 &&
	jeq d.json o.metadata.generation $((gen + 1))
'

test_expect_success 'scale subresource PUT with a stale resourceVersion answers 409' '
	expect_status 409 Conflict PUT $APPS/deployments/d1/scale \
		"{\"apiVersion\":\"autoscaling/v1\",\"kind\":\"Scale\",\"metadata\":{\"name\":\"d1\",\"namespace\":\"default\",\"resourceVersion\":\"1\"},\"spec\":{\"replicas\":6}}" &&
	expect_code 200 GET $APPS/deployments/d1 >d.json &&
	jeq d.json o.spec.replicas 5
'

test_expect_success 'scale subresource PATCH (merge patch) sets spec.replicas' '
	expect_code 200 PATCH $APPS/deployments/d1/scale "{\"spec\":{\"replicas\":2}}" \
		application/merge-patch+json >sc.json &&
	jeq sc.json o.kind Scale &&
	jeq sc.json o.spec.replicas 2 &&
	expect_code 200 GET $APPS/deployments/d1 >d.json &&
	jeq d.json o.spec.replicas 2
'

test_expect_success 'scale of a missing deployment answers 404' '
	expect_status 404 NotFound GET $APPS/deployments/nope/scale &&
	jeq status.json o.message "deployments.apps \"nope\" not found"
'

binding() {
	printf '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"%s"},"target":{"apiVersion":"v1","kind":"Node","name":"%s"}}' "$1" "$2"
}

test_expect_success 'pods/binding sets spec.nodeName' '
	expect_code 201 POST $NS/pods "$(pod_json pb)" >/dev/null &&
	expect_code 201 POST $NS/pods/pb/binding "$(binding pb n1)" >bind.json &&
	jeq bind.json o.kind Status &&
	jeq bind.json o.status Success &&
	expect_code 200 GET $NS/pods/pb >pb.json &&
	jeq pb.json o.spec.nodeName n1
'

test_expect_success 'a second binding answers 409 and keeps the first node' '
	expect_status 409 Conflict POST $NS/pods/pb/binding "$(binding pb n2)" &&
	test_grep "already assigned to node" status.json &&
	expect_code 200 GET $NS/pods/pb >pb.json &&
	jeq pb.json o.spec.nodeName n1
'

test_expect_success 'binding a missing pod answers 404' '
	expect_status 404 NotFound POST $NS/pods/ghost/binding "$(binding ghost n1)"
'

test_expect_success 'delete answers 200 and the object is gone' '
	expect_code 200 DELETE $NS/pods/p2 >del.json &&
	expect_status 404 NotFound GET $NS/pods/p2 &&
	jeq status.json o.message "pods \"p2\" not found" &&
	jeq status.json o.details.name p2 &&
	jeq status.json o.details.kind pods &&
	expect_code 200 GET $NS/pods >list.json &&
	jcheck list.json "!o.items.some(i => i.metadata.name === \"p2\")"
'

test_expect_success 'delete of a missing object answers 404' '
	expect_status 404 NotFound DELETE $NS/pods/p2 &&
	expect_status 404 NotFound DELETE $APPS/deployments/nope &&
	jeq status.json o.details.group apps
'

test_expect_success 'delete with a stale precondition resourceVersion answers 409' '
	expect_code 201 POST $NS/configmaps "$(cm_json pre)" >pre.json &&
	expect_status 409 Conflict DELETE $NS/configmaps/pre \
		"{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"preconditions\":{\"resourceVersion\":\"1\"}}" &&
	expect_code 200 GET $NS/configmaps/pre >/dev/null
'

test_expect_success 'graceful deletion of a bound pod: the object stays with deletionTimestamp' '
	expect_code 201 POST $NS/pods "$(pod_json pg "{}" n1)" >/dev/null &&
	api DELETE $NS/pods/pg \
		"{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":2}" >del.json &&
	echo "$API_CODE" >pg-delete-code &&
	jeq del.json o.kind Pod &&
	jcheck del.json "typeof o.metadata.deletionTimestamp === \"string\"" &&
	jeq del.json o.metadata.deletionGracePeriodSeconds 2 &&
	expect_code 200 GET $NS/pods/pg >pg.json &&
	jcheck pg.json "typeof o.metadata.deletionTimestamp === \"string\""
'

test_expect_success 'graceful deletion: the pod is removed after its grace period' '
	test_wait_until 15 sh -c "test \"\$(curl -s -o /dev/null -w %{http_code} $BERTH_URL$NS/pods/pg)\" = 404"
'

# kube-apiserver answers 202 only when the object was not deleted at once AND the client set
# orphanDependents=false; a graceful pod deletion answers 200 (handlers/delete.go).
test_expect_success 'graceful deletion answered 200, as kube-apiserver does' '
	echo 200 >expect && test_cmp expect pg-delete-code
'

test_expect_success 'an unbound pod is deleted at once even with a grace period' '
	expect_code 201 POST $NS/pods "$(pod_json pu)" >/dev/null &&
	expect_code 200 DELETE $NS/pods/pu \
		"{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":30}" >/dev/null &&
	expect_status 404 NotFound GET $NS/pods/pu
'

test_expect_success 'finalizers: delete leaves the object with deletionTimestamp' '
	body="{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"fin\",\"finalizers\":[\"example.com/hold\"]}}" &&
	expect_code 201 POST $NS/configmaps "$body" >/dev/null &&
	api DELETE $NS/configmaps/fin >del.json &&
	echo "$API_CODE" >fin-delete-code &&
	jcheck del.json "typeof o.metadata.deletionTimestamp === \"string\"" &&
	expect_code 200 GET $NS/configmaps/fin >fin.json &&
	jcheck fin.json "typeof o.metadata.deletionTimestamp === \"string\"" \
		"o.metadata.finalizers[0] === \"example.com/hold\"" &&
	sleep 1 &&
	expect_code 200 GET $NS/configmaps/fin >/dev/null
'

test_expect_success 'finalizers: removing the last finalizer with PATCH deletes the object' '
	expect_code 200 PATCH $NS/configmaps/fin "{\"metadata\":{\"finalizers\":null}}" \
		application/merge-patch+json >/dev/null &&
	test_wait_until 5 sh -c "test \"\$(curl -s -o /dev/null -w %{http_code} $BERTH_URL$NS/configmaps/fin)\" = 404"
'

test_expect_success 'finalizers: the delete that left the object answered 200' '
	echo 200 >expect && test_cmp expect fin-delete-code
'

test_expect_success 'deletecollection with a labelSelector deletes the matching objects only' '
	for i in 1 2 3; do
		expect_code 201 POST $NS/configmaps "$(cm_json dc$i "{\"grp\":\"g1\"}")" >/dev/null || return 1
	done &&
	expect_code 201 POST $NS/configmaps "$(cm_json dc4 "{\"grp\":\"g2\"}")" >/dev/null &&
	expect_code 200 DELETE "$NS/configmaps?labelSelector=grp%3Dg1" >dc.json &&
	jeq dc.json o.kind ConfigMapList &&
	jeq dc.json "o.items.map(i => i.metadata.name).sort().join()" dc1,dc2,dc3 &&
	expect_code 200 GET "$NS/configmaps?labelSelector=grp" >left.json &&
	jeq left.json "o.items.map(i => i.metadata.name).join()" dc4 &&
	expect_code 200 GET $NS/configmaps/odd >/dev/null
'

test_expect_success 'dryRun=All create writes nothing' '
	expect_code 200 GET $NS/configmaps >before.json &&
	expect_code 201 POST "$NS/configmaps?dryRun=All" "$(cm_json dry)" >dry.json &&
	jeq dry.json o.metadata.name dry &&
	expect_status 404 NotFound GET $NS/configmaps/dry &&
	expect_code 200 GET $NS/configmaps >after.json &&
	jeq after.json o.metadata.resourceVersion "$(rv_of before.json)"
'

test_expect_success 'dryRun=All update, patch and delete write nothing' '
	expect_code 200 GET $NS/configmaps/odd >before.json &&
	jedit before.json "o.data.k = \"changed\"" >upd.json &&
	expect_code 200 PUT "$NS/configmaps/odd?dryRun=All" @upd.json >put.json &&
	jeq put.json o.data.k changed &&
	expect_code 200 PATCH "$NS/configmaps/odd?dryRun=All" "{\"data\":{\"k\":\"p\"}}" application/merge-patch+json >/dev/null &&
	expect_code 200 DELETE "$NS/configmaps/odd?dryRun=All" >/dev/null &&
	expect_code 200 GET $NS/configmaps/odd >after.json &&
	test_cmp before.json after.json
'

test_expect_success 'dryRun in DeleteOptions and on deletecollection deletes nothing' '
	expect_code 200 GET $NS/configmaps >before.json &&
	expect_code 200 DELETE $NS/configmaps/odd "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"dryRun\":[\"All\"]}" >/dev/null &&
	expect_code 200 DELETE "$NS/configmaps?labelSelector=grp&dryRun=All" >dcd.json &&
	jeq dcd.json "o.items.map(i => i.metadata.name).join()" dc4 &&
	expect_code 200 GET $NS/configmaps >after.json &&
	test_cmp before.json after.json
'

test_expect_success 'a YAML body is accepted on create' '
	printf "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fromyaml\ndata:\n  k: v\n" >cm.yaml &&
	expect_code 201 POST $NS/configmaps @cm.yaml application/yaml >y.json &&
	jeq y.json o.data.k v &&
	expect_code 200 GET $NS/configmaps/fromyaml >/dev/null
'

test_expect_success '20 concurrent creates of one name: exactly one 201, the rest 409' '
	for i in $(seq 1 20); do
		curl -s -o /dev/null -w "%{http_code}\n" --max-time 20 -X POST -H "Content-Type: application/json" \
			--data-binary "$(cm_json race "{}" "{\"who\":\"$i\"}")" "$BERTH_URL$NS/configmaps" >code.$i &
	done &&
	for i in $(seq 1 20); do
		test_wait_until 20 test -s code.$i || return 1
	done &&
	cat code.* | sort | uniq -c >counts &&
	cat counts &&
	test "$(grep -c "^201$" code.*  | grep -c ":1$")" = 1 &&
	test "$(cat code.* | grep -c "^409$")" = 19
'

test_expect_success '50 concurrent merge patches of one object all land (none gets 409)' '
	for i in $(seq 1 50); do
		curl -s -o pbody.$i -w "%{http_code}\n" --max-time 20 -X PATCH -H "Content-Type: application/merge-patch+json" \
			--data-binary "{\"data\":{\"k$i\":\"v$i\"}}" "$BERTH_URL$NS/configmaps/race" >pcode.$i &
	done &&
	for i in $(seq 1 50); do
		test_wait_until 20 test -s pcode.$i || return 1
	done &&
	cat pcode.* | sort | uniq -c &&
	for i in $(seq 1 50); do
		grep -q 200 pcode.$i || { cat pbody.$i; echo; break; }
	done &&
	test "$(cat pcode.* | sort -u)" = 200 &&
	expect_code 200 GET $NS/configmaps/race >race.json &&
	jeq race.json "Object.keys(o.data).filter(k => /^k[0-9]+$/.test(k)).length" 50
'

test_expect_success '50 concurrent unconditional PUTs of one object all answer 200' '
	for i in $(seq 1 50); do
		curl -s -o ubody.$i -w "%{http_code}\n" --max-time 20 -X PUT -H "Content-Type: application/json" \
			--data-binary "$(cm_json race "{}" "{\"last\":\"$i\"}")" "$BERTH_URL$NS/configmaps/race" >ucode.$i &
	done &&
	for i in $(seq 1 50); do
		test_wait_until 20 test -s ucode.$i || return 1
	done &&
	cat ucode.* | sort | uniq -c &&
	for i in $(seq 1 50); do
		grep -q 200 ucode.$i || { cat ubody.$i; echo; break; }
	done &&
	test "$(cat ucode.* | sort -u)" = 200
'

# (The status code of deletes that leave the object is checked above; here only the life cycle.)
test_expect_success 'deleting a namespace leaves it Terminating; creating in it answers 403' '
	api DELETE /api/v1/namespaces/x >nsdel.json &&
	case "$API_CODE" in 200|202) ;; *) false ;; esac &&
	expect_code 200 GET /api/v1/namespaces/x >nsx.json &&
	jeq nsx.json o.status.phase Terminating &&
	jcheck nsx.json "typeof o.metadata.deletionTimestamp === \"string\"" &&
	expect_status 403 Forbidden POST /api/v1/namespaces/x/configmaps "$(cm_json late)" &&
	jeq status.json o.message "configmaps \"late\" is forbidden: unable to create new content in namespace x because it is being terminated" &&
	expect_status 404 NotFound GET /api/v1/namespaces/x/configmaps/late
'

# berth is stopped while a graceful deletion is pending: it must exit 0 (clean under ASan:
# nothing leaked) and the new berth must finish the deletion.
test_expect_success 'a pending graceful deletion still completes after berth restarts' '
	expect_code 201 POST $NS/pods "$(pod_json pr "{}" n1)" >/dev/null &&
	api DELETE $NS/pods/pr "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":3}" >/dev/null &&
	case "$API_CODE" in 200|202) ;; *) false ;; esac &&
	{ stop_berth; stopped=$?; start_berth; } &&
	expect_code 200 GET $NS/pods/pr >pr.json &&
	jcheck pr.json "typeof o.metadata.deletionTimestamp === \"string\"" &&
	test_wait_until 15 sh -c "test \"\$(curl -s -o /dev/null -w %{http_code} $BERTH_URL$NS/pods/pr)\" = 404" &&
	test_berth_log_clean &&
	test "$stopped" = 0
'

test_expect_success 'a pod gets the defaults kube-apiserver sets (containers, probes, spec)' '
	expect_code 201 POST $NS/pods "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"defaults\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"img\",\"ports\":[{\"containerPort\":80}],\"livenessProbe\":{\"httpGet\":{\"port\":80}},\"readinessProbe\":{\"exec\":{\"command\":[\"true\"]},\"periodSeconds\":2}}]}}" >defaults.json &&
	jcheck defaults.json \
		"o.spec.containers[0].imagePullPolicy === \"Always\"" \
		"o.spec.containers[0].terminationMessagePath === \"/dev/termination-log\"" \
		"o.spec.containers[0].ports[0].protocol === \"TCP\"" \
		"JSON.stringify(o.spec.containers[0].livenessProbe) === JSON.stringify({httpGet:{port:80,path:\"/\",scheme:\"HTTP\"},timeoutSeconds:1,periodSeconds:10,successThreshold:1,failureThreshold:3})" \
		"o.spec.containers[0].readinessProbe.periodSeconds === 2" \
		"o.spec.containers[0].readinessProbe.failureThreshold === 3" \
		"o.spec.restartPolicy === \"Always\"" \
		"o.spec.terminationGracePeriodSeconds === 30" \
		"o.spec.schedulerName === \"default-scheduler\""
'

test_expect_success 'the server is still healthy' '
	expect_code 200 GET /healthz >/dev/null
'

test_done
