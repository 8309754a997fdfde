#!/bin/bash
# 3200-kubectl-get.t: kubectl get as a user sees it: server-side tables (headers, cells,
# -o wide), -o json|yaml|name, label selectors, -A and field selectors.

test_description='kubectl get: tables, output formats, selectors'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth node
setup_berth

cat >objs.yaml <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: p1
  labels:
    app: a
    tier: fe
spec:
  containers:
  - name: c
    image: img:1
---
apiVersion: v1
kind: Pod
metadata:
  name: p2
  labels:
    app: b
spec:
  containers:
  - name: c
    image: img:2
  - name: side
    image: side:1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
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
        image: img:3
---
apiVersion: v1
kind: Service
metadata:
  name: svc
spec:
  selector:
    app: a
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
data:
  one: "1"
  two: "2"
EOF

test_expect_success 'create the objects' '
	k create -f objs.yaml >out &&
	cat >expect <<-\EOF &&
	pod/p1 created
	pod/p2 created
	deployment.apps/web created
	service/svc created
	configmap/cm created
	EOF
	test_cmp expect out &&
	k create namespace other &&
	k run p3 --image=img:1 -n other --labels=app=a
'

test_expect_success 'the pod table: headers and cells' '
	k get pods >out &&
	squash <out >t &&
	test "$(head -n 1 t)" = "NAME READY STATUS RESTARTS AGE" &&
	grep "^p1 " t | cut -d" " -f1-4 >actual &&
	grep "^p2 " t | cut -d" " -f1-4 >>actual &&
	printf "p1 0/1 Pending 0\np2 0/2 Pending 0\n" >expect &&
	test_cmp expect actual &&
	test $(wc -l <t) = 3
'

test_expect_success 'the server sends a Table when asked for one' '
	API_HEADERS=("Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json") &&
	api GET /api/v1/namespaces/default/pods >table.json &&
	API_HEADERS=() &&
	test "$API_CODE" = 200 &&
	json_get table.json o.kind o.apiVersion "o.columnDefinitions[0].name" "o.rows.length" >actual &&
	printf "Table\nmeta.k8s.io/v1\nName\n2\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'get -o wide adds IP and NODE' '
	k get pods -o wide >out &&
	squash <out >t &&
	test "$(head -n 1 t)" = "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES" &&
	grep "^p1 " t | cut -d" " -f1-4,6- >actual &&
	echo "p1 0/1 Pending 0 <none> <none> <none> <none>" >expect &&
	test_cmp expect actual
'

test_expect_success 'the deployment table, and its -o wide columns' '
	k get deployments >out &&
	squash <out >t &&
	test "$(head -n 1 t)" = "NAME READY UP-TO-DATE AVAILABLE AGE" &&
	grep "^web " t | cut -d" " -f1-2 >actual &&
	echo "web 0/2" >expect &&
	test_cmp expect actual &&
	k get deployments -o wide >out &&
	squash <out >t &&
	test "$(head -n 1 t)" = "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR" &&
	grep "^web " t | cut -d" " -f6- >actual &&
	echo "web img:3 app=web" >expect &&
	test_cmp expect actual
'

test_expect_success 'the service table' '
	k get services svc >out &&
	squash <out >t &&
	test "$(head -n 1 t)" = "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE" &&
	grep "^svc " t | cut -d" " -f1,2,4,5 >actual &&
	echo "svc ClusterIP <none> 80/TCP" >expect &&
	test_cmp expect actual
'

test_expect_success 'the configmap table counts data keys' '
	k get configmap cm >out &&
	squash <out | cut -d" " -f1,2 >actual &&
	printf "NAME DATA\ncm 2\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'get -o name' '
	k get pods -o name >actual &&
	printf "pod/p1\npod/p2\n" >expect &&
	test_cmp expect actual &&
	k get deploy,svc -o name >actual &&
	printf "deployment.apps/web\nservice/svc\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'get one pod -o json' '
	k get pod p1 -o json >p1.json &&
	json_get p1.json o.apiVersion o.kind o.metadata.name o.metadata.labels.tier \
		"o.spec.containers[0].image" >actual &&
	printf "v1\nPod\np1\nfe\nimg:1\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'get pods -o json is a List with kinds on the items' '
	k get pods -o json >list.json &&
	json_get list.json o.kind "o.items.length" "o.items.map(i => i.kind + \"/\" + i.metadata.name).join(\",\")" >actual &&
	printf "List\n2\nPod/p1,Pod/p2\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'get -o yaml' '
	k get pod p2 -o yaml >p2.yaml &&
	test_grep "^apiVersion: v1$" p2.yaml &&
	test_grep "^kind: Pod$" p2.yaml &&
	test_grep "^  name: p2$" p2.yaml &&
	test_grep "^  namespace: default$" p2.yaml &&
	test_grep "image: side:1$" p2.yaml
'

test_expect_success 'get -o jsonpath over a list' '
	k get pods -o jsonpath="{range .items[*]}{.metadata.name}={.spec.containers[0].image}{\"\\n\"}{end}" >actual &&
	printf "p1=img:1\np2=img:2\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'get -l with equality, inequality, set and existence selectors' '
	k get pods -l app=a -o name >actual &&
	echo pod/p1 >expect && test_cmp expect actual &&
	k get pods -l app!=a -o name >actual &&
	echo pod/p2 >expect && test_cmp expect actual &&
	k get pods -l "app in (a,b)" -o name >actual &&
	printf "pod/p1\npod/p2\n" >expect && test_cmp expect actual &&
	k get pods -l tier -o name >actual &&
	echo pod/p1 >expect && test_cmp expect actual &&
	k get pods -l "!tier" -o name >actual &&
	echo pod/p2 >expect && test_cmp expect actual &&
	k get pods -l app=a,tier=fe -o name >actual &&
	echo pod/p1 >expect && test_cmp expect actual
'

test_expect_success 'get -l matching nothing' '
	k get pods -l app=zzz >out 2>err &&
	test_grep "^No resources found in default namespace\.$" err &&
	test ! -s out
'

test_expect_success 'get -A adds a NAMESPACE column' '
	k get pods -A >out &&
	squash <out | cut -d" " -f1-3 >actual &&
	cat >expect <<-\EOF &&
	NAMESPACE NAME READY
	default p1 0/1
	default p2 0/2
	other p3 0/1
	EOF
	test_cmp expect actual
'

test_expect_success 'get -A -l selects across namespaces' '
	k get pods -A -l app=a -o name >actual &&
	printf "pod/p1\npod/p3\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'get --field-selector metadata.name' '
	k get pods --field-selector metadata.name=p2 -o name >actual &&
	echo pod/p2 >expect &&
	test_cmp expect actual &&
	k get pods --field-selector metadata.name!=p2 -o name >actual &&
	echo pod/p1 >expect &&
	test_cmp expect actual
'

test_expect_success 'get -A --field-selector metadata.namespace' '
	k get pods -A --field-selector metadata.namespace=other -o name >actual &&
	echo pod/p3 >expect &&
	test_cmp expect actual
'

test_expect_success 'get --field-selector status.phase' '
	k get pods --field-selector status.phase=Pending -o name >actual &&
	printf "pod/p1\npod/p2\n" >expect &&
	test_cmp expect actual &&
	k get pods --field-selector status.phase=Running -o name >actual 2>/dev/null &&
	test ! -s actual
'

test_expect_success 'an unknown field selector is a 400' '
	test_must_fail k get pods --field-selector spec.bogus=1 2>err &&
	test_grep "BadRequest" err
'

test_expect_success 'get --show-labels and -L' '
	k get pod p1 --show-labels >out &&
	squash <out >t &&
	test_grep "^NAME READY STATUS RESTARTS AGE LABELS$" t &&
	test_grep "app=a,tier=fe$" t &&
	k get pods -L tier >out &&
	squash <out >t &&
	test_grep "^NAME READY STATUS RESTARTS AGE TIER$" t &&
	test_grep "^p1 .* fe$" t
'

test_expect_success 'get --chunk-size pages with continue tokens' '
	k get pods -A --chunk-size=1 -o name >actual &&
	printf "pod/p1\npod/p2\npod/p3\n" >expect &&
	test_cmp expect actual &&
	API_HEADERS=() &&
	api GET "/api/v1/pods?limit=1" >page1.json &&
	json_get page1.json "o.items.length" "o.metadata.continue.length > 0" >actual &&
	printf "1\ntrue\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'get -o custom-columns and --sort-by' '
	k get pods --sort-by=.metadata.name -o custom-columns=N:.metadata.name,IMG:.spec.containers[0].image >out &&
	squash <out >actual &&
	printf "N IMG\np1 img:1\np2 img:2\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'get --sort-by in table form (rows carry the whole object: includeObject=Object)' '
	k get pods --sort-by=.spec.containers[0].image --no-headers >out &&
	awk "{print \$1}" out >actual &&
	printf "p1\np2\n" >expect &&
	test_cmp expect actual &&
	k get pods --sort-by=.metadata.creationTimestamp >out &&
	test_grep "^NAME  *READY  *STATUS" out &&
	api GET "/api/v1/namespaces/default/pods?includeObject=Object" >/dev/null &&
	API_HEADERS=(-H "Accept: application/json;as=Table;v=v1;g=meta.k8s.io") &&
	api GET "/api/v1/namespaces/default/pods?includeObject=Object" >obj.json &&
	api GET "/api/v1/namespaces/default/pods?includeObject=None" >none.json &&
	api GET "/api/v1/namespaces/default/pods" >meta.json &&
	API_HEADERS=() &&
	json_get obj.json "o.rows[0].object.kind" "o.rows[0].object.spec.containers[0].image" >actual &&
	json_get none.json "o.rows[0].object" >>actual &&
	json_get meta.json "o.rows[0].object.kind" "typeof o.rows[0].object.spec" >>actual &&
	printf "Pod\nimg:1\nnull\nPartialObjectMetadata\nundefined\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'get all uses the categories from discovery' '
	k get all -o name >out &&
	test_grep "^pod/p1$" out &&
	test_grep "^service/svc$" out &&
	test_grep "^deployment.apps/web$" out
'

test_expect_success 'get several kinds at once prefixes the names' '
	k get deploy,cm >out &&
	test_grep "^deployment.apps/web " out &&
	test_grep "^configmap/cm " out
'

test_expect_success 'get namespaces -o name lists the built-ins and ours' '
	k get ns -o name >actual &&
	cat >expect <<-\EOF &&
	namespace/default
	namespace/kube-node-lease
	namespace/kube-public
	namespace/kube-system
	namespace/other
	EOF
	test_cmp expect actual
'

cat >more.yaml <<EOF
apiVersion: v1
kind: Node
metadata:
  name: n1
---
apiVersion: v1
kind: Endpoints
metadata:
  name: svc
subsets:
- addresses:
  - ip: 10.0.0.1
  ports:
  - port: 8080
---
apiVersion: v1
kind: Secret
metadata:
  name: s1
type: Opaque
data:
  k: dg==
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs1
spec:
  replicas: 2
  selector:
    matchLabels:
      app: rs1
  template:
    metadata:
      labels:
        app: rs1
    spec:
      containers:
      - name: c
        image: img:1
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: rc1
spec:
  replicas: 3
  selector:
    app: rc1
  template:
    metadata:
      labels:
        app: rc1
    spec:
      containers:
      - name: c
        image: img:1
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: l1
  namespace: kube-node-lease
spec:
  holderIdentity: node-1
  leaseDurationSeconds: 40
---
apiVersion: v1
kind: Event
metadata:
  name: p1.ev1
involvedObject:
  apiVersion: v1
  kind: Pod
  name: p1
  namespace: default
reason: Scheduled
message: hello there
type: Normal
count: 1
firstTimestamp: "2026-01-01T00:00:00Z"
lastTimestamp: "2026-01-01T00:00:00Z"
source:
  component: tester
EOF

test_expect_success 'create a node, endpoints, secret, replicaset, rc, lease, event' '
	k create -f more.yaml >out &&
	cat >expect <<-\EOF &&
	node/n1 created
	endpoints/svc created
	secret/s1 created
	replicaset.apps/rs1 created
	replicationcontroller/rc1 created
	lease.coordination.k8s.io/l1 created
	event/p1.ev1 created
	EOF
	test_cmp expect out
'

test_expect_success 'the node table' '
	k get nodes >out &&
	squash <out >t &&
	test "$(head -n 1 t)" = "NAME STATUS ROLES AGE VERSION" &&
	grep "^n1 " t | cut -d" " -f1-3 >actual &&
	echo "n1 Unknown <none>" >expect &&
	test_cmp expect actual
'

test_expect_success 'the endpoints table' '
	k get endpoints svc >out &&
	squash <out | cut -d" " -f1,2 >actual &&
	printf "NAME ENDPOINTS\nsvc 10.0.0.1:8080\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'the secret table' '
	k get secret s1 >out &&
	squash <out | cut -d" " -f1-3 >actual &&
	printf "NAME TYPE DATA\ns1 Opaque 1\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'the replicaset and replicationcontroller tables' '
	k get rs rs1 >out &&
	squash <out | cut -d" " -f1,2 >actual &&
	printf "NAME DESIRED\nrs1 2\n" >expect &&
	test_cmp expect actual &&
	test "$(head -n 1 out | squash)" = "NAME DESIRED CURRENT READY AGE" &&
	k get rc rc1 >out &&
	squash <out | cut -d" " -f1,2 >actual &&
	printf "NAME DESIRED\nrc1 3\n" >expect &&
	test_cmp expect actual &&
	test "$(head -n 1 out | squash)" = "NAME DESIRED CURRENT READY AGE"
'

test_expect_success 'the lease table' '
	k get lease l1 -n kube-node-lease >out &&
	squash <out | cut -d" " -f1,2 >actual &&
	printf "NAME HOLDER\nl1 node-1\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'the event table' '
	k get events >out &&
	squash <out >t &&
	test "$(head -n 1 t)" = "LAST SEEN TYPE REASON OBJECT MESSAGE" &&
	test_grep " Normal Scheduled pod/p1 hello there$" t
'

test_expect_success 'events by involvedObject field selectors (what describe asks)' '
	k get events --field-selector involvedObject.name=p1,involvedObject.namespace=default -o name >actual &&
	echo event/p1.ev1 >expect &&
	test_cmp expect actual &&
	k get events --field-selector involvedObject.name=p2 -o name >actual 2>/dev/null &&
	test ! -s actual
'

test_expect_success 'a list carries a resourceVersion' '
	api GET /api/v1/namespaces/default/pods >list.json &&
	test "$API_CODE" = 200 &&
	rv=$(json_get list.json o.metadata.resourceVersion) &&
	test "$rv" -gt 0
'

test_done
