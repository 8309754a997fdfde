#!/bin/bash
# 2400-api-bad-input.t: the API server against bad requests: malformed bodies, mismatched
# kinds, namespaces and names, validation errors, oversized bodies, unknown resources, wrong
# methods and content types, failing patches, duplicates. Each answer must be a proper
# Status, nothing may change in the store, and the server must stay up.

test_description='API server: bad input'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/data/api-helpers.sh"
test_require redis berth curl node
setup_berth

NS=/api/v1/namespaces/default
PODS=$NS/pods
CMS=$NS/configmaps
APPS=/apis/apps/v1/namespaces/default

# snapshot FILE: the pod, configmap, service and deployment lists in FILE. Each list carries
# the cluster-wide resourceVersion, so any write at all changes FILE.
snapshot() {
	{
		api GET /api/v1/pods && echo &&
		api GET /api/v1/configmaps && echo &&
		api GET /api/v1/services && echo &&
		api GET /apis/apps/v1/deployments && echo
	} >"$1"
}

# unchanged: the store is as it was at the last `snapshot before.snap`.
unchanged() {
	snapshot after.snap && test_cmp before.snap after.snap
}

test_expect_success 'set up a pod and a configmap' '
	expect_code 201 POST $PODS "$(pod_json p1 "{\"app\":\"a\"}")" >/dev/null &&
	expect_code 201 POST $CMS "$(cm_json c1 "{}" "{\"k\":\"v\"}")" >c1.json &&
	snapshot before.snap
'

test_expect_success 'malformed JSON answers 400' '
	snapshot before.snap &&
	expect_status 400 BadRequest POST $CMS "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{" &&
	expect_status 400 BadRequest POST $CMS "not json at all" &&
	expect_status 400 BadRequest PUT $CMS/c1 "{\"apiVersion\":\"v1\",," &&
	expect_status 400 BadRequest PATCH $CMS/c1 "{\"data\":" application/merge-patch+json &&
	unchanged
'

test_expect_success 'JSON that is not an object answers 400' '
	snapshot before.snap &&
	expect_status 400 BadRequest POST $CMS "[1,2,3]" &&
	expect_status 400 BadRequest POST $CMS "\"a string\"" &&
	expect_status 400 BadRequest POST $CMS "42" &&
	expect_status 400 BadRequest POST $CMS "null" &&
	expect_status 400 BadRequest PUT $CMS/c1 "[]" &&
	unchanged
'

test_expect_success 'an empty body on create answers 400' '
	snapshot before.snap &&
	expect_status 400 BadRequest POST $CMS "" &&
	unchanged
'

test_expect_success 'wrong kind for the endpoint answers 400' '
	snapshot before.snap &&
	svc="{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"c2\"},\"spec\":{\"ports\":[{\"port\":80}]}}" &&
	expect_status 400 BadRequest POST $CMS "$svc" &&
	expect_status 400 BadRequest POST $PODS "$(cm_json c2)" &&
	unchanged
'

test_expect_success 'wrong apiVersion for the endpoint answers 400' '
	snapshot before.snap &&
	expect_status 400 BadRequest POST $CMS "{\"apiVersion\":\"apps/v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c2\"}}" &&
	expect_status 400 BadRequest POST $APPS/deployments "$(deploy_json d1 | sed "s#\"apps/v1\"#\"v1\"#")" &&
	expect_status 400 BadRequest POST $CMS "{\"apiVersion\":\"v2\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c2\"}}" &&
	unchanged
'

test_expect_success 'a PUT whose body is another kind answers 400' '
	snapshot before.snap &&
	svc="{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"c1\"},\"spec\":{\"ports\":[{\"port\":80}]}}" &&
	expect_status 400 BadRequest PUT $CMS/c1 "$svc" &&
	unchanged
'

test_expect_success 'a body namespace that disagrees with the path answers 400' '
	snapshot before.snap &&
	expect_status 400 BadRequest POST $CMS "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c2\",\"namespace\":\"kube-system\"}}" &&
	test_grep "the namespace of the provided object does not match the namespace sent on the request" status.json &&
	jedit c1.json "o.metadata.namespace = \"kube-system\"" >c1ns.json &&
	expect_status 400 BadRequest PUT $CMS/c1 @c1ns.json &&
	unchanged
'

test_expect_success 'a name that disagrees with the URL on PUT answers 400' '
	snapshot before.snap &&
	jedit c1.json "o.metadata.name = \"other\"" >c1name.json &&
	expect_status 400 BadRequest PUT $CMS/c1 @c1name.json &&
	jeq status.json o.message "the name of the object (other) does not match the name on the URL (c1)" &&
	unchanged
'

test_expect_success 'invalid names answer 422 naming the field' '
	snapshot before.snap &&
	expect_status 422 Invalid POST $CMS "$(cm_json Bad_Name)" &&
	jcheck status.json "o.message.startsWith(\"ConfigMap \\\"Bad_Name\\\" is invalid: metadata.name: Invalid value: \\\"Bad_Name\\\": a lowercase RFC 1123 subdomain\")" &&
	jeq status.json o.details.name Bad_Name &&
	jeq status.json o.details.kind ConfigMap &&
	jcheck status.json "o.details.causes.some(c => c.field === \"metadata.name\")" &&
	expect_status 422 Invalid POST $PODS "$(pod_json -leading-dash)" &&
	test_grep "metadata.name" status.json &&
	expect_status 422 Invalid POST $CMS "$(cm_json "$(printf "a%.0s" $(seq 1 254))")" &&
	test_grep "metadata.name" status.json &&
	expect_status 422 Invalid POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"has.dot\"}}" &&
	test_grep "metadata.name" status.json &&
	unchanged
'

test_expect_success 'a missing name answers 422' '
	snapshot before.snap &&
	expect_status 422 Invalid POST $CMS "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{}}" &&
	jeq status.json o.message "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required" &&
	unchanged
'

test_expect_success 'invalid labels answer 422 naming metadata.labels' '
	snapshot before.snap &&
	expect_status 422 Invalid POST $CMS "$(cm_json c3 "{\"bad key!\":\"v\"}")" &&
	test_grep "metadata.labels" status.json &&
	unchanged
'

test_expect_success 'a pod without image answers 422 with the Kubernetes message' '
	snapshot before.snap &&
	expect_status 422 Invalid POST $PODS "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\"},\"spec\":{\"containers\":[{\"name\":\"c\"}]}}" &&
	jeq status.json o.message "Pod \"x\" is invalid: spec.containers[0].image: Required value" &&
	jeq status.json o.details.name x &&
	jeq status.json o.details.kind Pod &&
	jcheck status.json "o.details.causes.some(c => c.field === \"spec.containers[0].image\" && c.reason === \"FieldValueRequired\")" &&
	unchanged
'

test_expect_success 'a pod without containers answers 422' '
	snapshot before.snap &&
	expect_status 422 Invalid POST $PODS "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\"},\"spec\":{}}" &&
	test_grep "spec.containers" status.json &&
	unchanged
'

test_expect_success 'a deployment whose selector does not match its template answers 422' '
	snapshot before.snap &&
	bad=$(deploy_json d1 | sed "s/\"template\":{\"metadata\":{\"labels\":{\"app\":\"d1\"}}/\"template\":{\"metadata\":{\"labels\":{\"app\":\"other\"}}/") &&
	echo "$bad" | grep -q "\"app\":\"other\"" &&
	expect_status 422 Invalid POST $APPS/deployments "$bad" &&
	jcheck status.json "o.message.startsWith(\"Deployment.apps \\\"d1\\\" is invalid: spec.template.metadata.labels: Invalid value: \")" \
		"o.message.endsWith(\"\`selector\` does not match template \`labels\`\")" &&
	jeq status.json o.details.kind Deployment &&
	jeq status.json o.details.group apps &&
	unchanged
'

test_expect_success 'a service without ports answers 422' '
	snapshot before.snap &&
	expect_status 422 Invalid POST $NS/services "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s1\"},\"spec\":{\"selector\":{\"app\":\"a\"}}}" &&
	jeq status.json o.message "Service \"s1\" is invalid: spec.ports: Required value" &&
	unchanged
'

test_expect_success 'an invalid update answers 422 and keeps the object' '
	snapshot before.snap &&
	expect_code 200 GET $PODS/p1 >p1.json &&
	jedit p1.json "delete o.spec.containers[0].image" >p1bad.json &&
	expect_status 422 Invalid PUT $PODS/p1 @p1bad.json &&
	jeq status.json o.message "Pod \"p1\" is invalid: spec.containers[0].image: Required value" &&
	unchanged
'

test_expect_success 'a body over 3 MiB answers 413' '
	snapshot before.snap &&
	{
		printf "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"big\"},\"data\":{\"k\":\"" &&
		head -c 3200000 /dev/zero | tr "\\0" a &&
		printf "\"}}"
	} >big.json &&
	test $(wc -c <big.json) -gt 3145728 &&
	expect_status 413 RequestEntityTooLarge POST $CMS @big.json &&
	jeq status.json o.message "Request entity too large: limit is 3145728" &&
	unchanged
'

test_expect_success 'a PATCH body over 3 MiB answers 413' '
	snapshot before.snap &&
	expect_status 413 RequestEntityTooLarge PATCH $CMS/c1 @big.json application/merge-patch+json &&
	unchanged
'

test_expect_success 'a body just under the limit is accepted' '
	{
		printf "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"large\"},\"data\":{\"k\":\"" &&
		head -c 900000 /dev/zero | tr "\\0" a &&
		printf "\"}}"
	} >large.json &&
	expect_code 201 POST $CMS @large.json >/dev/null &&
	expect_code 200 DELETE $CMS/large >/dev/null &&
	snapshot before.snap
'

test_expect_success 'an unknown resource answers 404' '
	snapshot before.snap &&
	expect_status 404 NotFound GET $NS/foos &&
	jeq status.json o.message "the server could not find the requested resource" &&
	expect_status 404 NotFound POST $NS/foos "{\"apiVersion\":\"v1\",\"kind\":\"Foo\",\"metadata\":{\"name\":\"f\"}}" &&
	expect_status 404 NotFound GET /apis/nope.example.com/v1/things &&
	expect_status 404 NotFound GET /api/v2/pods &&
	unchanged
'

test_expect_success 'a wrong method answers 405' '
	snapshot before.snap &&
	expect_status 405 MethodNotAllowed PUT $CMS "$(cm_json c1)" &&
	jeq status.json o.message "the server does not allow this method on the requested resource" &&
	expect_status 405 MethodNotAllowed PATCH $CMS "{}" application/merge-patch+json &&
	expect_status 405 MethodNotAllowed POST $CMS/c1 "$(cm_json c1)" &&
	unchanged
'

test_expect_success 'an unsupported patch content type answers 415' '
	snapshot before.snap &&
	expect_status 415 UnsupportedMediaType PATCH $CMS/c1 "{\"data\":{\"k\":\"x\"}}" application/json &&
	test_grep "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json" status.json &&
	expect_status 415 UnsupportedMediaType PATCH $CMS/c1 "{\"data\":{\"k\":\"x\"}}" text/plain &&
	unchanged
'

test_expect_success 'an unsupported body content type on create answers 415' '
	snapshot before.snap &&
	expect_status 415 UnsupportedMediaType POST $CMS "$(cm_json c9)" text/plain &&
	unchanged
'

test_expect_success 'strategic merge patch on a pod merges containers by name' '
	body="{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"two\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"img:1\"},{\"name\":\"b\",\"image\":\"img:1\"}]}}" &&
	expect_code 201 POST $PODS "$body" >/dev/null &&
	expect_code 200 PATCH $PODS/two "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"img:2\"}]}}" \
		application/strategic-merge-patch+json >two.json &&
	jeq two.json "o.spec.containers.map(c => c.name + \"=\" + c.image).join()" a=img:1,b=img:2 &&
	expect_code 200 PATCH $PODS/two "{\"metadata\":{\"labels\":{\"x\":\"1\"}}}" \
		application/strategic-merge-patch+json >two.json &&
	jeq two.json o.metadata.labels.x 1 &&
	jeq two.json o.spec.containers.length 2 &&
	snapshot before.snap
'

test_expect_success 'a strategic merge patch that makes the pod invalid answers 422' '
	snapshot before.snap &&
	expect_status 422 Invalid PATCH $PODS/two "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":null}]}}" \
		application/strategic-merge-patch+json &&
	unchanged
'

test_expect_success 'a JSON patch whose test op fails answers 422' '
	snapshot before.snap &&
	expect_status 422 Invalid PATCH $CMS/c1 "[{\"op\":\"test\",\"path\":\"/data/k\",\"value\":\"nope\"},{\"op\":\"replace\",\"path\":\"/data/k\",\"value\":\"x\"}]" \
		application/json-patch+json &&
	unchanged
'

test_expect_success 'a JSON patch whose test op passes is applied' '
	expect_code 200 PATCH $CMS/c1 "[{\"op\":\"test\",\"path\":\"/data/k\",\"value\":\"v\"},{\"op\":\"replace\",\"path\":\"/data/k\",\"value\":\"x\"}]" \
		application/json-patch+json >c1p.json &&
	jeq c1p.json o.data.k x &&
	snapshot before.snap
'

test_expect_success 'a malformed JSON patch answers 400 or 422 and changes nothing' '
	snapshot before.snap &&
	api PATCH $CMS/c1 "{\"op\":\"replace\"}" application/json-patch+json >status.json &&
	case "$API_CODE" in
	400) status_is status.json 400 BadRequest ;;
	422) status_is status.json 422 Invalid ;;
	*) echo "HTTP $API_CODE"; false ;;
	esac &&
	api PATCH $CMS/c1 "[{\"op\":\"frobnicate\",\"path\":\"/data\"}]" application/json-patch+json >status.json &&
	case "$API_CODE" in
	400) status_is status.json 400 BadRequest ;;
	422) status_is status.json 422 Invalid ;;
	*) echo "HTTP $API_CODE"; false ;;
	esac &&
	unchanged
'

test_expect_success 'a patch of a missing object answers 404' '
	snapshot before.snap &&
	expect_status 404 NotFound PATCH $CMS/ghost "{\"data\":{\"k\":\"x\"}}" application/merge-patch+json &&
	unchanged
'

test_expect_success 'deletecollection with a bad labelSelector answers 400 and deletes nothing' '
	snapshot before.snap &&
	expect_status 400 BadRequest DELETE "$CMS?labelSelector=a%20in%20(" &&
	unchanged
'

# kube-apiserver (storage Create) refuses such an object with a plain error, which it turns
# into a 500 Status whose reason is empty: "resourceVersion should not be set on objects to
# be created". The object is not created.
test_expect_success 'a create that carries a resourceVersion is refused and creates nothing' '
	snapshot before.snap &&
	api POST $CMS "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"withrv\",\"resourceVersion\":\"5\"}}" >status.json &&
	echo "HTTP $API_CODE" &&
	test "$API_CODE" = 500 &&
	jcheck status.json "o.kind === \"Status\"" "o.apiVersion === \"v1\"" "o.status === \"Failure\"" "o.code === 500" \
		"o.message === \"resourceVersion should not be set on objects to be created\"" &&
	unchanged
'

test_expect_success 'a duplicate create answers 409 AlreadyExists' '
	snapshot before.snap &&
	expect_status 409 AlreadyExists POST $CMS "$(cm_json c1)" &&
	jeq status.json o.message "configmaps \"c1\" already exists" &&
	jeq status.json o.details.name c1 &&
	jeq status.json o.details.kind configmaps &&
	expect_status 409 AlreadyExists POST $PODS "$(pod_json p1)" &&
	unchanged
'

test_expect_success 'a PUT of a missing object with a resourceVersion answers 404' '
	snapshot before.snap &&
	jedit c1.json "o.metadata.name = \"ghost\"" >ghost.json &&
	expect_status 404 NotFound PUT $CMS/ghost @ghost.json &&
	unchanged
'

# kube-apiserver validates CreateOptions: an unknown dryRun value is 422 Invalid (kind
# CreateOptions), a limit that is not a number 400 (it cannot be decoded).
test_expect_success 'an unknown dryRun value answers 422, a bad limit 400' '
	snapshot before.snap &&
	expect_status 422 Invalid POST "$CMS?dryRun=Sometimes" "$(cm_json c8)" &&
	test_grep "dryRun" status.json &&
	expect_status 400 BadRequest GET "$CMS?limit=x" &&
	unchanged
'

test_expect_success 'deeply nested JSON is refused without a crash' '
	snapshot before.snap &&
	{
		printf "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"deep\"},\"x\":" &&
		head -c 100000 /dev/zero | tr "\\0" "[" &&
		head -c 100000 /dev/zero | tr "\\0" "]" &&
		printf "}"
	} >deep.json &&
	api POST $CMS @deep.json >status.json &&
	echo "HTTP $API_CODE" &&
	case "$API_CODE" in 400|413|422) ;; *) false ;; esac &&
	jcheck status.json "o.kind === \"Status\"" "o.code === $API_CODE" &&
	expect_code 200 GET /healthz >/dev/null &&
	unchanged
'

test_expect_success 'binary garbage is refused without a crash' '
	snapshot before.snap &&
	head -c 4096 /dev/urandom >garbage &&
	api POST $CMS @garbage >/dev/null &&
	test "$API_CODE" = 400 &&
	api PATCH $CMS/c1 @garbage application/merge-patch+json >/dev/null &&
	test "$API_CODE" = 400 &&
	unchanged
'

test_expect_success 'the server is still alive after all of it' '
	expect_code 200 GET /healthz >/dev/null &&
	expect_code 200 GET /readyz >/dev/null &&
	expect_code 200 GET $CMS/c1 >c1now.json &&
	jeq c1now.json o.data.k x
'

test_done
