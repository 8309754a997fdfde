#!/bin/bash
# 3000-kubectl-basics.t: health endpoints, /version, discovery and the built-in namespaces,
# seen through curl and the real kubectl 1.31.

test_description='kubectl: version, api-resources, health, built-in namespaces'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth curl
setup_berth

test_expect_success '/readyz and /healthz answer 200' '
	api GET /readyz >/dev/null &&
	test "$API_CODE" = 200 &&
	api GET /healthz >/dev/null &&
	test "$API_CODE" = 200
'

test_expect_success '/version says v1.31' '
	api GET /version >version.json &&
	test "$API_CODE" = 200 &&
	test_grep "\"major\": *\"1\"" version.json &&
	test_grep "\"minor\": *\"31\"" version.json &&
	test_grep "\"gitVersion\": *\"v1\.31\." version.json
'

test_expect_success 'kubectl version shows Server Version: v1.31' '
	k version >out &&
	test_grep "^Client Version: v1\.31\." out &&
	test_grep "^Server Version: v1\.31\." out
'

test_expect_success 'discovery documents carry kind and apiVersion' '
	api GET /api >api.json && test "$API_CODE" = 200 &&
	test_grep "\"kind\": *\"APIVersions\"" api.json &&
	api GET /apis >apis.json && test "$API_CODE" = 200 &&
	test_grep "\"kind\": *\"APIGroupList\"" apis.json &&
	test_grep "apps/v1" apis.json &&
	test_grep "coordination.k8s.io/v1" apis.json &&
	api GET /api/v1 >v1.json && test "$API_CODE" = 200 &&
	test_grep "\"kind\": *\"APIResourceList\"" v1.json &&
	api GET /apis/apps/v1 >apps.json && test "$API_CODE" = 200 &&
	test_grep "\"groupVersion\": *\"apps/v1\"" apps.json
'

test_expect_success '/openapi/v3 lists every served group version' '
	api GET /openapi/v3 >openapi.json && test "$API_CODE" = 200 &&
	test_grep "\"api/v1\"" openapi.json &&
	test_grep "\"apis/apps/v1\"" openapi.json &&
	test_grep "\"apis/coordination.k8s.io/v1\"" openapi.json
'

test_expect_success 'an unknown path is a 404 Status' '
	api GET /api/v1/nosuchresource >nf.json &&
	test "$API_CODE" = 404 &&
	test_grep "\"kind\": *\"Status\"" nf.json
'

test_expect_success 'kubectl api-resources lists pods and deployments with short names' '
	k api-resources >out &&
	squash <out >res &&
	test_grep "^NAME SHORTNAMES APIVERSION NAMESPACED KIND$" res &&
	test_grep "^pods po v1 true Pod$" res &&
	test_grep "^deployments deploy apps/v1 true Deployment$" res &&
	test_grep "^replicasets rs apps/v1 true ReplicaSet$" res &&
	test_grep "^services svc v1 true Service$" res &&
	test_grep "^namespaces ns v1 false Namespace$" res &&
	test_grep "^nodes no v1 false Node$" res &&
	test_grep "^configmaps cm v1 true ConfigMap$" res &&
	test_grep "^secrets v1 true Secret$" res &&
	test_grep "^endpoints ep v1 true Endpoints$" res &&
	test_grep "^events ev v1 true Event$" res &&
	test_grep "^replicationcontrollers rc v1 true ReplicationController$" res &&
	test_grep "^leases coordination.k8s.io/v1 true Lease$" res
'

test_expect_success 'kubectl api-versions (batch/v1 comes from the cronjob plugin, the auth groups from api_review.c, metrics from api_metrics.c)' '
	k api-versions >actual &&
	printf "apps/v1\nauthentication.k8s.io/v1\nauthorization.k8s.io/v1\nbatch/v1\ncoordination.k8s.io/v1\nmetrics.k8s.io/v1beta1\npolicy/v1\nv1\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'kubectl cluster-info names the server' '
	k cluster-info >out &&
	sed "s/\x1b\[[0-9;]*m//g" out >plain &&
	test_grep "^Kubernetes control plane is running at $BERTH_URL$" plain
'

test_expect_success 'the four built-in namespaces exist and are Active' '
	k get namespaces >out &&
	squash <out | sed "s/ [^ ]*\$//" >actual &&
	cat >expect <<-\EOF &&
	NAME STATUS
	default Active
	kube-node-lease Active
	kube-public Active
	kube-system Active
	EOF
	test_cmp expect actual
'

test_expect_success 'short names work: kubectl get ns default' '
	k get ns default -o name >actual &&
	echo namespace/default >expect &&
	test_cmp expect actual
'

test_expect_success 'every served resource can be listed' '
	for r in namespaces pods services endpoints nodes events configmaps secrets \
		replicationcontrollers deployments replicasets leases
	do
		k get "$r" -A >"list-$r.out" 2>&1 || {
			echo "kubectl get $r -A failed:"; cat "list-$r.out"; return 1
		}
	done
'

test_expect_success 'an empty namespace says No resources found' '
	k get pods -n kube-public >out 2>err &&
	test_grep "^No resources found in kube-public namespace\.$" err &&
	test ! -s out
'

test_done
