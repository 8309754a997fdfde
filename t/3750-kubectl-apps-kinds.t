#!/bin/bash
# 3750-kubectl-apps-kinds.t: apps/v1 DaemonSet, StatefulSet and ControllerRevision as the
# API server serves them to kubectl 1.31: discovery and short names, table columns (normal
# and -o wide), defaults, validation refusals (nothing stored), immutable fields, the
# StatefulSet scale subresource, and the berth CLI's rollout status / restart / describe.
# The server runs without controllers, so every status here is one the test patches in.

test_description='kubectl on daemonsets, statefulsets and controllerrevisions'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth node
setup_berth

# b VERB ARGS...: the berth CLI against the server under test.
b() {
	local verb=$1
	shift
	timeout "${K_TIMEOUT:-30}" "$BERTH_BIN" "$verb" -s "$BERTH_URL" "$@"
}

# no_age: a table with its AGE column (the one before the wide ones) cut out, spaces squashed.
no_age() {
	squash | sed -E 's/ (AGE|[0-9]+[smhdy]([0-9]+[smhdy])?)( |$)/\3/; s/ +$//'
}

cat >ds.yaml <<EOF
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fluent
  labels:
    app: fluent
spec:
  selector:
    matchLabels:
      app: fluent
  template:
    metadata:
      labels:
        app: fluent
    spec:
      nodeSelector:
        zone: a
        disk: ssd
      containers:
      - name: agent
        image: fluent:1
      - name: side
        image: busybox
EOF

cat >sts.yaml <<EOF
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
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
      - name: nginx
        image: nginx:1.25
EOF

cat >cr.yaml <<EOF
apiVersion: apps/v1
kind: ControllerRevision
metadata:
  name: fluent-5d4
data:
  spec:
    template:
      metadata:
        labels:
          app: fluent
revision: 3
EOF

# ---------------------------------------------------------------------------- discovery

test_expect_success 'discovery: /apis/apps/v1 lists the three kinds with verbs and names' '
	api GET /apis/apps/v1 >apps.json &&
	test "$API_CODE" = 200 &&
	node -e "
		const d = JSON.parse(require(\"fs\").readFileSync(\"apps.json\"));
		const by = {}; for (const r of d.resources) by[r.name] = r;
		const out = [];
		for (const n of [\"daemonsets\", \"daemonsets/status\", \"statefulsets\", \"statefulsets/status\",
		                 \"statefulsets/scale\", \"controllerrevisions\", \"daemonsets/scale\",
		                 \"controllerrevisions/status\"]) {
			const r = by[n];
			if (!r) { out.push(n + \" -\"); continue; }
			out.push([n, r.kind, r.namespaced, (r.shortNames || []).join(\",\") || \"-\",
			          (r.categories || []).join(\",\") || \"-\", r.singularName || \"-\",
			          r.verbs.slice().sort().join(\",\")].join(\" \"));
		}
		console.log(out.join(\"\n\"));
	" >actual &&
	cat >expect <<-\EOF &&
	daemonsets DaemonSet true ds all daemonset create,delete,deletecollection,get,list,patch,update,watch
	daemonsets/status DaemonSet true - - - get,patch,update
	statefulsets StatefulSet true sts all statefulset create,delete,deletecollection,get,list,patch,update,watch
	statefulsets/status StatefulSet true - - - get,patch,update
	statefulsets/scale Scale true - - - get,patch,update
	controllerrevisions ControllerRevision true - - controllerrevision create,delete,deletecollection,get,list,patch,update,watch
	daemonsets/scale -
	controllerrevisions/status -
	EOF
	test_cmp expect actual
'

test_expect_success 'kubectl api-resources shows them with their short names' '
	k api-resources --api-group=apps >out &&
	squash <out >res &&
	test_grep "^daemonsets ds apps/v1 true DaemonSet$" res &&
	test_grep "^statefulsets sts apps/v1 true StatefulSet$" res &&
	test_grep "^controllerrevisions apps/v1 true ControllerRevision$" res &&
	k api-resources --categories=all -o name >all &&
	test_grep "^daemonsets.apps$" all &&
	test_grep "^statefulsets.apps$" all &&
	test_must_fail grep "^controllerrevisions" all
'

# ---------------------------------------------------------------------------- create, tables

test_expect_success 'create the three kinds' '
	k create -f ds.yaml >out &&
	k create -f sts.yaml >>out &&
	k create -f cr.yaml >>out &&
	cat >expect <<-\EOF &&
	daemonset.apps/fluent created
	statefulset.apps/web created
	controllerrevision.apps/fluent-5d4 created
	EOF
	test_cmp expect out
'

test_expect_success 'kubectl apply twice: the defaults do not make the second one "configured"' '
	sed "s/name: fluent$/name: fluent2/" ds.yaml >ds2.yaml &&
	sed "s/name: web$/name: web2/" sts.yaml >sts2.yaml &&
	grep -q "name: fluent2" ds2.yaml && grep -q "name: web2" sts2.yaml &&
	k apply -f ds2.yaml -f sts2.yaml >out &&
	k apply -f ds2.yaml -f sts2.yaml >out2 &&
	cat out2 &&
	test_grep "daemonset.apps/fluent2 unchanged" out2 &&
	test_grep "statefulset.apps/web2 unchanged" out2 &&
	k delete -f ds2.yaml -f sts2.yaml
'

test_expect_success 'get ds: the DaemonSet columns, node selector sorted by key' '
	k get ds >out &&
	no_age <out >actual &&
	cat >expect <<-\EOF &&
	NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR
	fluent 0 0 0 0 0 disk=ssd,zone=a
	EOF
	test_cmp expect actual
'

test_expect_success 'get ds -o wide adds containers, images and the selector' '
	k get daemonset fluent -o wide >out &&
	no_age <out >actual &&
	cat >expect <<-\EOF &&
	NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR CONTAINERS IMAGES SELECTOR
	fluent 0 0 0 0 0 disk=ssd,zone=a agent,side fluent:1,busybox app=fluent
	EOF
	test_cmp expect actual
'

test_expect_success 'a status patched in shows in the DaemonSet row' '
	k patch ds fluent --subresource=status --type=merge \
		-p "{\"status\":{\"desiredNumberScheduled\":3,\"currentNumberScheduled\":3,\"numberReady\":2,\"updatedNumberScheduled\":1,\"numberAvailable\":2,\"numberMisscheduled\":0,\"observedGeneration\":1}}" &&
	k get ds fluent --no-headers >out &&
	no_age <out >actual &&
	echo "fluent 3 3 2 1 2 disk=ssd,zone=a" >expect &&
	test_cmp expect actual
'

test_expect_success 'get sts: READY is readyReplicas/replicas; -o wide' '
	k get sts >out &&
	no_age <out >actual &&
	printf "NAME READY\nweb 0/2\n" >expect &&
	test_cmp expect actual &&
	k get statefulset web -o wide >out &&
	no_age <out >actual &&
	printf "NAME READY CONTAINERS IMAGES\nweb 0/2 nginx nginx:1.25\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'get controllerrevisions: CONTROLLER <none> without an owner, REVISION' '
	k get controllerrevisions >out &&
	no_age <out >actual &&
	printf "NAME CONTROLLER REVISION\nfluent-5d4 <none> 3\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'a ControllerRevision owned by the DaemonSet names it as kind.group/name' '
	uid=$(k get ds fluent -o jsonpath={.metadata.uid}) &&
	cat >cr2.yaml <<-EOF &&
	apiVersion: apps/v1
	kind: ControllerRevision
	metadata:
	  name: fluent-7f9
	  ownerReferences:
	  - apiVersion: apps/v1
	    kind: DaemonSet
	    name: fluent
	    uid: $uid
	    controller: true
	data: {}
	revision: 4
	EOF
	k create -f cr2.yaml &&
	k get controllerrevision fluent-7f9 --no-headers >out &&
	no_age <out >actual &&
	echo "fluent-7f9 daemonset.apps/fluent 4" >expect &&
	test_cmp expect actual
'

test_expect_success 'kubectl get all lists the daemonset and the statefulset, not revisions' '
	k get all >out &&
	test_grep "^daemonset.apps/fluent " out &&
	test_grep "^statefulset.apps/web " out &&
	test_must_fail grep -i controllerrevision out
'

# ---------------------------------------------------------------------------- defaults

test_expect_success 'DaemonSet defaults: RollingUpdate 1 unavailable / 0 surge, history 10, pod template' '
	k get ds fluent -o jsonpath="{.spec.updateStrategy.type} {.spec.updateStrategy.rollingUpdate.maxUnavailable} {.spec.updateStrategy.rollingUpdate.maxSurge} {.spec.revisionHistoryLimit} {.spec.template.spec.restartPolicy} {.spec.template.spec.dnsPolicy} {.spec.template.spec.containers[0].terminationMessagePolicy} {.metadata.generation}" >actual &&
	echo >>actual &&
	echo "RollingUpdate 1 0 10 Always ClusterFirst File 1" >expect &&
	test_cmp expect actual
'

test_expect_success 'StatefulSet defaults: OrderedReady, partition 0, Retain/Retain, history 10' '
	k get sts web -o yaml >sts.out &&
	test_grep "^  podManagementPolicy: OrderedReady$" sts.out &&
	test_grep "^  revisionHistoryLimit: 10$" sts.out &&
	test_grep "^      partition: 0$" sts.out &&
	test_grep "^    type: RollingUpdate$" sts.out &&
	test_grep "^    whenDeleted: Retain$" sts.out &&
	test_grep "^    whenScaled: Retain$" sts.out &&
	test_grep "^      restartPolicy: Always$" sts.out
'

test_expect_success 'StatefulSet: replicas defaults to 1; OnDelete gets no rollingUpdate' '
	cat >sts1.yaml <<-\EOF &&
	apiVersion: apps/v1
	kind: StatefulSet
	metadata:
	  name: one
	spec:
	  updateStrategy:
	    type: OnDelete
	  selector:
	    matchLabels: {app: one}
	  template:
	    metadata:
	      labels: {app: one}
	    spec:
	      containers:
	      - {name: c, image: img:1}
	EOF
	k create -f sts1.yaml &&
	k get sts one -o jsonpath="{.spec.replicas} {.spec.updateStrategy}" >actual &&
	echo >>actual &&
	echo "1 {\"type\":\"OnDelete\"}" >expect &&
	test_cmp expect actual &&
	k delete sts one
'

# ---------------------------------------------------------------------------- validation

# refused FILE KIND NAME EXPECTED-LINE...: kubectl create -f FILE fails, stderr has each
# expected text, and nothing named NAME is stored.
refused() {
	local f=$1 kind=$2 name=$3
	shift 3
	test_must_fail k create -f "$f" 2>err || return 1
	local want
	for want in "$@"; do
		grep -F -- "$want" err >/dev/null || {
			echo "missing: $want"
			cat err
			return 1
		}
	done
	api GET "/apis/apps/v1/namespaces/default/$kind/$name" >/dev/null &&
	test "$API_CODE" = 404
}

# ds_with SPEC-PATCH: ds.yaml renamed bad with a JSON merge patch applied to its spec.
ds_with() {
	k create -f ds.yaml --dry-run=client -o json |
		node -e "
			const o = JSON.parse(require(\"fs\").readFileSync(0));
			o.metadata.name = \"bad\";
			const merge = (a, b) => { for (const k in b) {
				if (b[k] === null) delete a[k];
				else if (typeof b[k] === \"object\" && !Array.isArray(b[k]) && a[k] && typeof a[k] === \"object\") merge(a[k], b[k]);
				else a[k] = b[k]; } };
			merge(o, JSON.parse(process.argv[1]));
			console.log(JSON.stringify(o));
		" "$1"
}

sts_with() {
	k create -f sts.yaml --dry-run=client -o json |
		node -e "
			const o = JSON.parse(require(\"fs\").readFileSync(0));
			o.metadata.name = \"bad\";
			const merge = (a, b) => { for (const k in b) {
				if (b[k] === null) delete a[k];
				else if (typeof b[k] === \"object\" && !Array.isArray(b[k]) && a[k] && typeof a[k] === \"object\") merge(a[k], b[k]);
				else a[k] = b[k]; } };
			merge(o, JSON.parse(process.argv[1]));
			console.log(JSON.stringify(o));
		" "$1"
}

test_expect_success 'DaemonSet: selector must match the template labels' '
	ds_with "{\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"other\"}}}}" >bad.json &&
	refused bad.json daemonsets bad \
		"The DaemonSet \"bad\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"fluent\"}: \`selector\` does not match template \`labels\`"
'

test_expect_success 'DaemonSet: an empty selector is invalid' '
	ds_with "{\"spec\":{\"selector\":{\"matchLabels\":null}}}" >bad.json &&
	refused bad.json daemonsets bad "spec.selector: Invalid value: " "empty selector is invalid for daemonset"
'

test_expect_success 'DaemonSet: no selector selects nothing, so the labels do not match' '
	ds_with "{\"spec\":{\"selector\":null}}" >bad.json &&
	refused bad.json daemonsets bad "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"fluent\"}: \`selector\` does not match template \`labels\`"
'

test_expect_success 'DaemonSet: restartPolicy must be Always' '
	ds_with "{\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"Never\"}}}}" >bad.json &&
	refused bad.json daemonsets bad "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""
'

test_expect_success 'DaemonSet: the template is validated as a pod spec' '
	ds_with "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"Bad_Name\"}]}}}}" >bad.json &&
	refused bad.json daemonsets bad "spec.template.spec.containers[0].image: Required value" \
		"spec.template.spec.containers[0].name: Invalid value: \"Bad_Name\""
'

test_expect_success 'DaemonSet: unknown updateStrategy type' '
	ds_with "{\"spec\":{\"updateStrategy\":{\"type\":\"Sometimes\"}}}" >bad.json &&
	refused bad.json daemonsets bad "spec.updateStrategy: Unsupported value: apps.DaemonSetUpdateStrategy{Type:\"Sometimes\", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}: supported values: \"RollingUpdate\", \"OnDelete\""
'

test_expect_success 'DaemonSet: maxUnavailable and maxSurge both 0' '
	ds_with "{\"spec\":{\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxUnavailable\":0,\"maxSurge\":0}}}}" >bad.json &&
	refused bad.json daemonsets bad "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"
'

test_expect_success 'DaemonSet: maxSurge with a non-zero maxUnavailable' '
	ds_with "{\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"maxSurge\":1}}}}" >bad.json &&
	refused bad.json daemonsets bad "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:\"\"}: may not be set when maxUnavailable is non-zero"
'

test_expect_success 'DaemonSet: maxSurge alone is fine with maxUnavailable 0' '
	ds_with "{\"metadata\":{\"name\":\"surge\"},\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"maxSurge\":\"20%\",\"maxUnavailable\":0}}}}" >surge.json &&
	k create -f surge.json &&
	k delete ds surge
'

test_expect_success 'DaemonSet: percentages above 100% and negative counts' '
	ds_with "{\"spec\":{\"minReadySeconds\":-1,\"revisionHistoryLimit\":-2,\"updateStrategy\":{\"rollingUpdate\":{\"maxUnavailable\":\"150%\"}}}}" >bad.json &&
	refused bad.json daemonsets bad \
		"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%" \
		"spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0" \
		"spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0"
'

test_expect_success 'StatefulSet: volumeClaimTemplates are refused, plainly' '
	sts_with "{\"spec\":{\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"data\"},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}]}}" >bad.json &&
	refused bad.json statefulsets bad \
		"The StatefulSet \"bad\" is invalid: spec.volumeClaimTemplates: Forbidden: berth has no persistent volume support yet; use emptyDir or hostPath volumes"
'

test_expect_success 'StatefulSet: selector required, must match, restartPolicy Always' '
	sts_with "{\"spec\":{\"selector\":null,\"template\":{\"spec\":{\"restartPolicy\":\"OnFailure\"}}}}" >bad.json &&
	refused bad.json statefulsets bad "spec.selector: Required value" \
		"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: \`selector\` does not match template \`labels\`" \
		"spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\""
'

test_expect_success 'StatefulSet: policy, strategy, counts' '
	sts_with "{\"spec\":{\"replicas\":-1,\"podManagementPolicy\":\"Random\",\"minReadySeconds\":-3,\"ordinals\":{\"start\":-1},\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":-1}},\"persistentVolumeClaimRetentionPolicy\":{\"whenDeleted\":\"Keep\"}}}" >bad.json &&
	refused bad.json statefulsets bad \
		"spec.podManagementPolicy: Invalid value: \"Random\": must be '"'"'OrderedReady'"'"' or '"'"'Parallel'"'"'" \
		"spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0" \
		"spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\"" \
		"spec.replicas: Invalid value: -1: must be greater than or equal to 0" \
		"spec.minReadySeconds: Invalid value: -3: must be greater than or equal to 0" \
		"spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0"
'

test_expect_success 'StatefulSet: rollingUpdate only with RollingUpdate; unknown type' '
	sts_with "{\"spec\":{\"updateStrategy\":{\"type\":\"OnDelete\",\"rollingUpdate\":{\"partition\":1}}}}" >bad.json &&
	refused bad.json statefulsets bad "spec.updateStrategy.rollingUpdate: Invalid value: apps.RollingUpdateStatefulSetStrategy{Partition:1, MaxUnavailable:(*intstr.IntOrString)(nil)}: only allowed for updateStrategy '"'"'RollingUpdate'"'"'" &&
	sts_with "{\"spec\":{\"updateStrategy\":{\"type\":\"Sometimes\"}}}" >bad.json &&
	refused bad.json statefulsets bad "spec.updateStrategy: Invalid value: apps.StatefulSetUpdateStrategy{Type:\"Sometimes\", RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}: must be '"'"'RollingUpdate'"'"' or '"'"'OnDelete'"'"'"
'

test_expect_success 'StatefulSet: a name must be a DNS label (it becomes pod hostnames)' '
	sts_with "{\"metadata\":{\"name\":\"a.b\"}}" >bad.json &&
	refused bad.json statefulsets a.b "metadata.name: Invalid value: \"a.b\": a lowercase RFC 1123 label must consist of"
'

test_expect_success 'ControllerRevision: data is mandatory, revision non-negative' '
	cat >badcr.yaml <<-\EOF &&
	apiVersion: apps/v1
	kind: ControllerRevision
	metadata:
	  name: bad
	revision: -1
	EOF
	refused badcr.yaml controllerrevisions bad "data: Required value: data is mandatory" \
		"revision: Invalid value: -1: must be greater than or equal to 0"
'

# ---------------------------------------------------------------------------- updates

test_expect_success 'DaemonSet: the selector is immutable' '
	test_must_fail k patch ds fluent --type=merge -p "{\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"fluent\",\"x\":\"y\"}},\"template\":{\"metadata\":{\"labels\":{\"x\":\"y\"}}}}}" 2>err &&
	test_grep "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map\[string\]string{\"app\":\"fluent\", \"x\":\"y\"}, MatchExpressions:\[\]v1.LabelSelectorRequirement(nil)}: field is immutable" err &&
	test "$(k get ds fluent -o jsonpath={.spec.selector.matchLabels})" = "{\"app\":\"fluent\"}"
'

test_expect_success 'DaemonSet: a template change bumps the generation' '
	k set image ds/fluent agent=fluent:2 &&
	test "$(k get ds fluent -o jsonpath={.metadata.generation},{.spec.template.spec.containers[0].image})" = 2,fluent:2
'

test_expect_success 'StatefulSet: spec fields other than the allowed ones are forbidden' '
	test_must_fail k patch sts web --type=merge -p "{\"spec\":{\"serviceName\":\"other\"}}" 2>err &&
	test_grep "The StatefulSet \"web\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than '"'"'replicas'"'"', '"'"'ordinals'"'"', '"'"'template'"'"', '"'"'updateStrategy'"'"', '"'"'persistentVolumeClaimRetentionPolicy'"'"' and '"'"'minReadySeconds'"'"' are forbidden" err &&
	test_must_fail k patch sts web --type=merge -p "{\"spec\":{\"podManagementPolicy\":\"Parallel\"}}" 2>err &&
	test_grep "spec: Forbidden: updates to statefulset spec" err &&
	test "$(k get sts web -o jsonpath={.spec.serviceName},{.spec.podManagementPolicy})" = web,OrderedReady
'

test_expect_success 'StatefulSet: template, updateStrategy, minReadySeconds, ordinals may change' '
	k patch sts web --type=merge -p "{\"spec\":{\"minReadySeconds\":5,\"ordinals\":{\"start\":1},\"updateStrategy\":{\"rollingUpdate\":{\"partition\":1}},\"template\":{\"metadata\":{\"annotations\":{\"a\":\"b\"}}}}}" &&
	test "$(k get sts web -o jsonpath={.spec.minReadySeconds},{.spec.ordinals.start},{.spec.updateStrategy.rollingUpdate.partition})" = 5,1,1 &&
	k patch sts web --type=merge -p "{\"spec\":{\"ordinals\":null,\"updateStrategy\":{\"rollingUpdate\":{\"partition\":0}}}}"
'

test_expect_success 'ControllerRevision: data is immutable, revision may change' '
	test_must_fail k patch controllerrevision fluent-5d4 --type=merge -p "{\"data\":{\"x\":1}}" 2>err &&
	test_grep "data: Invalid value: .*: field is immutable" err &&
	k patch controllerrevision fluent-5d4 --type=merge -p "{\"revision\":5}" &&
	test "$(k get controllerrevision fluent-5d4 -o jsonpath={.revision})" = 5
'

# ---------------------------------------------------------------------------- scale

test_expect_success 'kubectl scale sts, and the Scale subresource carries the selector' '
	k scale sts web --replicas=3 >out &&
	echo statefulset.apps/web scaled >expect &&
	test_cmp expect out &&
	api GET /apis/apps/v1/namespaces/default/statefulsets/web/scale >scale.json &&
	test "$API_CODE" = 200 &&
	json_get scale.json o.kind o.apiVersion o.spec.replicas o.status.selector >actual &&
	printf "Scale\nautoscaling/v1\n3\napp=web\n" >expect &&
	test_cmp expect actual &&
	test "$(k get sts web -o jsonpath={.spec.replicas})" = 3 &&
	k get sts web --no-headers >out &&
	no_age <out >actual &&
	echo "web 0/3" >expect &&
	test_cmp expect actual
'

test_expect_success 'a daemonset has no scale subresource' '
	test_must_fail k scale ds fluent --replicas=2 2>err &&
	test_grep "the server could not find the requested resource" err
'

# ---------------------------------------------------------------------------- rollout

# same_rollout ARGS...: berth rollout status ARGS --watch=false prints what kubectl prints.
same_rollout() {
	b rollout status "$@" --watch=false >b.out 2>b.err
	echo "exit $?" >>b.out
	k rollout status "$@" --watch=false >k.out 2>k.err
	echo "exit $?" >>k.out
	cmp -s k.out b.out && cmp -s k.err b.err && return 0
	echo "berth differs from kubectl (- kubectl, + berth):"
	diff -u k.out b.out
	diff -u k.err b.err
	return 1
}

ds_status() {
	k patch ds fluent --subresource=status --type=merge -p "{\"status\":$1}" >/dev/null
}

sts_status() {
	k patch sts web --subresource=status --type=merge -p "{\"status\":$1}" >/dev/null
}

test_expect_success 'rollout status ds: spec update not yet observed' '
	ds_status "{\"observedGeneration\":1,\"desiredNumberScheduled\":3,\"updatedNumberScheduled\":3,\"numberAvailable\":3}" &&
	b rollout status ds/fluent --watch=false >out &&
	echo "Waiting for daemon set spec update to be observed..." >expect &&
	test_cmp expect out &&
	same_rollout ds/fluent
'

test_expect_success 'rollout status ds: pods being updated, then becoming available, then done' '
	ds_status "{\"observedGeneration\":2,\"desiredNumberScheduled\":3,\"updatedNumberScheduled\":1,\"numberAvailable\":3}" &&
	b rollout status daemonset fluent --watch=false >out &&
	echo "Waiting for daemon set \"fluent\" rollout to finish: 1 out of 3 new pods have been updated..." >expect &&
	test_cmp expect out &&
	same_rollout ds/fluent &&
	ds_status "{\"updatedNumberScheduled\":3,\"numberAvailable\":2}" &&
	b rollout status ds/fluent --watch=false >out &&
	echo "Waiting for daemon set \"fluent\" rollout to finish: 2 of 3 updated pods are available..." >expect &&
	test_cmp expect out &&
	same_rollout ds/fluent &&
	ds_status "{\"numberAvailable\":3}" &&
	b rollout status ds/fluent >out &&
	echo "daemon set \"fluent\" successfully rolled out" >expect &&
	test_cmp expect out &&
	same_rollout ds/fluent
'

test_expect_success 'rollout status ds with OnDelete: not available, as kubectl says' '
	ds_with "{\"metadata\":{\"name\":\"ondel\"},\"spec\":{\"updateStrategy\":{\"type\":\"OnDelete\"}}}" >ondel.json &&
	k create -f ondel.json &&
	test_must_fail b rollout status ds/ondel --watch=false 2>err &&
	echo "error: rollout status is only available for RollingUpdate strategy type" >expect &&
	test_cmp expect err &&
	same_rollout ds/ondel
'

test_expect_success 'rollout status sts: each kubectl line in turn' '
	gen=$(k get sts web -o jsonpath={.metadata.generation}) &&
	b rollout status sts/web --watch=false >out &&
	echo "Waiting for statefulset spec update to be observed..." >expect &&
	test_cmp expect out &&
	same_rollout sts/web &&
	sts_status "{\"observedGeneration\":$gen,\"replicas\":3,\"readyReplicas\":1}" &&
	b rollout status sts/web --watch=false >out &&
	echo "Waiting for 2 pods to be ready..." >expect &&
	test_cmp expect out &&
	same_rollout sts/web &&
	sts_status "{\"readyReplicas\":3,\"updatedReplicas\":3,\"currentRevision\":\"web-1\",\"updateRevision\":\"web-1\",\"currentReplicas\":3}" &&
	b rollout status statefulset web >out &&
	echo "partitioned roll out complete: 3 new pods have been updated..." >expect &&
	test_cmp expect out &&
	same_rollout sts/web
'

test_expect_success 'rollout status sts with a partition: waiting for the partitioned roll out' '
	k patch sts web --type=merge -p "{\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"partition\":1}}}}" &&
	gen=$(k get sts web -o jsonpath={.metadata.generation}) &&
	sts_status "{\"observedGeneration\":$gen,\"updatedReplicas\":1}" &&
	b rollout status sts/web --watch=false >out &&
	echo "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated..." >expect &&
	test_cmp expect out &&
	same_rollout sts/web
'

test_expect_success 'rollout status sts without rollingUpdate: revisions compared' '
	k patch sts web --type=json -p "[{\"op\":\"remove\",\"path\":\"/spec/updateStrategy/rollingUpdate\"}]" &&
	test "$(k get sts web -o jsonpath={.spec.updateStrategy})" = "{\"type\":\"RollingUpdate\"}" &&
	gen=$(k get sts web -o jsonpath={.metadata.generation}) &&
	sts_status "{\"observedGeneration\":$gen,\"updatedReplicas\":2,\"currentReplicas\":1,\"currentRevision\":\"web-1\",\"updateRevision\":\"web-2\"}" &&
	b rollout status sts/web --watch=false >out &&
	echo "waiting for statefulset rolling update to complete 2 pods at revision web-2..." >expect &&
	test_cmp expect out &&
	same_rollout sts/web &&
	sts_status "{\"currentReplicas\":3,\"currentRevision\":\"web-2\"}" &&
	b rollout status sts/web --watch=false >out &&
	echo "statefulset rolling update complete 3 pods at revision web-2..." >expect &&
	test_cmp expect out &&
	same_rollout sts/web
'

test_expect_success 'rollout status sts with OnDelete is refused' '
	k patch sts web --type=merge -p "{\"spec\":{\"updateStrategy\":{\"type\":\"OnDelete\"}}}" &&
	test_must_fail b rollout status sts/web --watch=false 2>err &&
	echo "error: rollout status is only available for RollingUpdate strategy type" >expect &&
	test_cmp expect err &&
	same_rollout sts/web &&
	k patch sts web --type=merge -p "{\"spec\":{\"updateStrategy\":{\"type\":\"RollingUpdate\"}}}"
'

test_expect_success 'rollout status ds: --timeout ends a rollout that does not finish' '
	ds_status "{\"numberAvailable\":1}" &&
	test_must_fail b rollout status ds/fluent --timeout=1s >out 2>err &&
	test_grep "^Waiting for daemon set \"fluent\" rollout to finish: 1 of 3 updated pods are available...$" out &&
	test_grep "timed out waiting for the condition" err
'

test_expect_success 'rollout restart ds and sts stamps the template' '
	gen=$(k get ds fluent -o jsonpath={.metadata.generation}) &&
	b rollout restart ds/fluent sts/web >out &&
	printf "daemonset.apps/fluent restarted\nstatefulset.apps/web restarted\n" >expect &&
	test_cmp expect out &&
	k get ds fluent -o jsonpath="{.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}" >ds.at &&
	grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$" ds.at &&
	test "$(k get ds fluent -o jsonpath={.metadata.generation})" = $((gen + 1)) &&
	k get sts web -o jsonpath="{.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}" >sts.at &&
	grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$" sts.at
'

test_expect_success 'rollout pause is still refused for a daemonset' '
	test_must_fail b rollout pause ds/fluent 2>err &&
	test_grep "pause daemonset.apps is not supported" err
'

# ---------------------------------------------------------------------------- describe

test_expect_success 'berth describe ds: the DaemonSet layout' '
	b describe ds fluent >out &&
	test_grep "^Name:           fluent$" out &&
	test_grep "^Selector:       app=fluent$" out &&
	test_grep "^Node-Selector:  disk=ssd,zone=a$" out &&
	test_grep "^Labels:         app=fluent$" out &&
	test_grep "^Desired Number of Nodes Scheduled: 3$" out &&
	test_grep "^Current Number of Nodes Scheduled: 3$" out &&
	test_grep "^Number of Nodes Scheduled with Up-to-date Pods: 3$" out &&
	test_grep "^Number of Nodes Scheduled with Available Pods: 1$" out &&
	test_grep "^Number of Nodes Misscheduled: 0$" out &&
	test_grep "^Pods Status:  0 Running / 0 Waiting / 0 Succeeded / 0 Failed$" out &&
	test_grep "^Pod Template:$" out &&
	test_grep "^    Image: *fluent:2$" out &&
	test_grep "^Events:" out
'

test_expect_success 'berth describe ds prints what kubectl describe prints' '
	b describe ds fluent >b.out 2>&1 &&
	k describe ds fluent >k.out 2>&1 &&
	diff -u k.out b.out
'

test_expect_success 'berth describe sts: the StatefulSet layout' '
	b describe sts web >out &&
	test_grep "^Name:               web$" out &&
	test_grep "^Namespace:          default$" out &&
	test_grep "^CreationTimestamp:  " out &&
	test_grep "^Selector:           app=web$" out &&
	test_grep "^Replicas:           3 desired | 3 total$" out &&
	test_grep "^Update Strategy:    RollingUpdate$" out &&
	test_grep "^Pods Status:        0 Running / 0 Waiting / 0 Succeeded / 0 Failed$" out &&
	test_grep "^Volume Claims: *<none>$" out &&
	test_grep "^Events:" out
'

test_expect_success 'berth describe sts prints what kubectl describe prints' '
	k patch sts web --type=merge -p "{\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"partition\":2}}}}" &&
	b describe sts web >b.out 2>&1 &&
	test_grep "^  Partition:        2$" b.out &&
	k describe sts web >k.out 2>&1 &&
	diff -u k.out b.out
'

# ---------------------------------------------------------------------------- delete

test_must_be_empty_() {
	if test -s "$1"; then
		echo "$1 is not empty:"
		cat "$1"
		return 1
	fi
}

test_expect_success 'delete the three kinds' '
	k delete ds fluent ondel >out &&
	k delete sts web >>out &&
	k delete controllerrevisions fluent-5d4 fluent-7f9 >>out &&
	cat >expect <<-\EOF &&
	daemonset.apps "fluent" deleted
	daemonset.apps "ondel" deleted
	statefulset.apps "web" deleted
	controllerrevision.apps "fluent-5d4" deleted
	controllerrevision.apps "fluent-7f9" deleted
	EOF
	test_cmp expect out &&
	k get ds,sts,controllerrevisions -o name >out &&
	test_must_be_empty_ out
'

test_expect_success 'the server log is clean' '
	test_berth_log_clean
'

test_done
