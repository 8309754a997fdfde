#!/bin/bash
# 3060-kubectl-auth.t: the review APIs (engine/api_review.c) through kubectl auth can-i and
# kubectl auth whoami, and their discovery and refusals through curl.

test_description='kubectl auth can-i / whoami: SelfSubjectAccessReview, SelfSubjectRulesReview, SelfSubjectReview'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth curl
setup_berth

test_expect_success 'discovery lists the two groups and their create-only resources' '
	api GET /apis >groups.json &&
	test_grep "\"name\": *\"authorization.k8s.io\"" groups.json &&
	test_grep "\"name\": *\"authentication.k8s.io\"" groups.json &&
	api GET /apis/authorization.k8s.io/v1 >authz.json &&
	test "$API_CODE" = 200 &&
	test_grep "\"name\": *\"selfsubjectaccessreviews\"" authz.json &&
	test_grep "\"verbs\": *\[ *\"create\" *\]" authz.json &&
	api GET /apis/authentication.k8s.io >authn.json &&
	test "$API_CODE" = 200 &&
	test_grep "\"preferredVersion\"" authn.json &&
	api GET /apis/authentication.k8s.io/v2 >/dev/null &&
	test "$API_CODE" = 404 &&
	k api-resources --api-group=authorization.k8s.io >res.out &&
	test_grep "selfsubjectaccessreviews .*authorization.k8s.io/v1 .*false .*SelfSubjectAccessReview" res.out
'

test_expect_success 'kubectl auth can-i answers yes (everything is allowed until auth is configured)' '
	k auth can-i create pods >out &&
	test "$(cat out)" = yes &&
	k auth can-i delete deployments.apps -n kube-system >out &&
	test "$(cat out)" = yes &&
	k auth can-i get /healthz >out &&
	test "$(cat out)" = yes
'

test_expect_success 'the review says why: the reason comes back in the status' '
	api POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews \
		"{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\",\"spec\":{\"resourceAttributes\":{\"verb\":\"list\",\"resource\":\"pods\",\"namespace\":\"default\"}}}" >ssar.json &&
	test "$API_CODE" = 201 &&
	test_grep "\"allowed\": *true" ssar.json &&
	test_grep "no authentication or authorization is configured" ssar.json &&
	test_grep "\"verb\": *\"list\"" ssar.json
'

test_expect_success 'kubectl auth can-i --list shows the wildcard rules' '
	k auth can-i --list >list.out &&
	cat list.out &&
	head -1 list.out | squash | test_grep "^Resources Non-Resource URLs Resource Names Verbs" - &&
	test_grep "^\*\.\* .*\[\] .*\[\] .*\[\*\]" list.out &&
	test_grep "^ *\[\*\] .*\[\] .*\[\*\]" list.out
'

test_expect_success 'kubectl auth whoami: system:anonymous in system:unauthenticated' '
	k auth whoami >who.out &&
	cat who.out &&
	squash <who.out | test_grep "^Username system:anonymous" - &&
	squash <who.out | test_grep "^Groups \[system:unauthenticated\]" - &&
	k auth whoami -o json >who.json &&
	test_grep "\"kind\": *\"SelfSubjectReview\"" who.json
'

test_expect_success 'refusals: wrong method, no attributes, both attributes, wrong kind, bad JSON, unknown resource' '
	api GET /apis/authorization.k8s.io/v1/selfsubjectaccessreviews >out &&
	test "$API_CODE" = 405 &&
	api POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews \
		"{\"kind\":\"SelfSubjectAccessReview\",\"apiVersion\":\"authorization.k8s.io/v1\",\"spec\":{}}" >out &&
	test "$API_CODE" = 422 &&
	test_grep "exactly one of nonResourceAttributes or resourceAttributes" out &&
	api POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews \
		"{\"spec\":{\"resourceAttributes\":{\"verb\":\"get\"},\"nonResourceAttributes\":{\"verb\":\"get\",\"path\":\"/x\"}}}" >out &&
	test "$API_CODE" = 422 &&
	api POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews \
		"{\"spec\":{\"resourceAttributes\":{\"resource\":\"pods\"}}}" >out &&
	test "$API_CODE" = 422 &&
	test_grep "spec.resourceAttributes.verb: Required value" out &&
	api POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews \
		"{\"kind\":\"Pod\",\"apiVersion\":\"v1\"}" >out &&
	test "$API_CODE" = 400 &&
	test_grep "expected authorization.k8s.io/v1 SelfSubjectAccessReview" out &&
	api POST /apis/authentication.k8s.io/v1/selfsubjectreviews "{" >out &&
	test "$API_CODE" = 400 &&
	api POST /apis/authentication.k8s.io/v1/tokenreviews "{}" >out &&
	test "$API_CODE" = 404
'

test_done
