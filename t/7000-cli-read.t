#!/bin/bash
# 7000-cli-read.t: the read verbs of the berth CLI -- get, describe, logs, version -- print
# what kubectl prints for the same objects: the same bytes for tables (alignment, -o wide,
# -A, --show-labels, several kinds, get -w), -o name|json|yaml, describe layouts and error
# lines, with the same exit codes. Logs come from a fake node agent (a node script serving
# /containerLogs) through the API server's pods/log proxy, so no Docker is needed.

test_description='berth get, describe, logs and version against kubectl'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth node
setup_berth

# b VERB ARGS...: the berth CLI against the server under test.
b() {
	local verb=$1
	shift
	timeout "${K_TIMEOUT:-30}" "$BERTH_BIN" "$verb" -s "$BERTH_URL" "$@"
}

# same_as_kubectl ARGS...: `berth ARGS` and `kubectl ARGS` write the same stdout and stderr
# and exit alike. Tried three times: an AGE cell may tick between the two runs.
same_as_kubectl() {
	local try
	for try in 1 2 3; do
		b "$@" >b.out 2>b.err
		echo "exit $?" >>b.out
		k "$@" >k.out 2>k.err
		echo "exit $?" >>k.out
		if cmp -s k.out b.out && cmp -s k.err b.err; then
			return 0
		fi
		sleep 0.4
	done
	echo "berth $* differs from kubectl (- kubectl, + berth):"
	diff -u k.out b.out
	diff -u k.err b.err
	return 1
}

# same_lines_as_kubectl ARGS...: as same_as_kubectl, but the lines in any order: kubectl
# prints the logs of several containers in the order it ranges over a Go map, which changes
# from run to run.
same_lines_as_kubectl() {
	b "$@" 2>b.err | sort >b.out
	k "$@" 2>k.err | sort >k.out
	test_cmp k.out b.out && test_cmp k.err b.err
}

# test_expect_code CODE CMD...: CMD exits with CODE.
test_expect_code() {
	local want=$1
	shift
	"$@"
	test $? = "$want"
}

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
  annotations:
    team: blue
spec:
  containers:
  - name: c
    image: img:2
    ports:
    - containerPort: 8080
    env:
    - name: MODE
      value: fast
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
---
apiVersion: v1
kind: Node
metadata:
  name: n1
  labels:
    node-role.kubernetes.io/worker: ""
spec:
  taints:
  - key: dedicated
    value: gpu
    effect: NoSchedule
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
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: l1
  namespace: kube-node-lease
spec:
  holderIdentity: node-1
  leaseDurationSeconds: 40
EOF

test_expect_success 'create objects with kubectl' '
	k create -f objs.yaml >/dev/null &&
	k create namespace other >/dev/null &&
	k run p3 --image=img:1 -n other --labels=app=a >/dev/null
'

# ---------------------------------------------------------------- get: tables

test_expect_success 'get pods: the table kubectl prints, byte for byte' '
	same_as_kubectl get pods &&
	same_as_kubectl get pods -o wide &&
	same_as_kubectl get pods --no-headers &&
	same_as_kubectl get pods --show-labels
'

test_expect_success 'get -A: a NAMESPACE column, not for cluster-scoped kinds' '
	same_as_kubectl get pods -A &&
	same_as_kubectl get pods -A -o wide --show-labels &&
	same_as_kubectl get nodes -A &&
	same_as_kubectl get leases -A
'

test_expect_success 'get TYPE NAME..., TYPE/NAME..., TYPE1,TYPE2: kind prefixes and blank lines' '
	same_as_kubectl get pods p1 p2 &&
	same_as_kubectl get pod/p1 svc/svc &&
	same_as_kubectl get deploy,cm &&
	same_as_kubectl get deployments.apps,services,configmaps -o wide
'

test_expect_success 'get all: pods, services, deployments, replicasets as kubectl expands it' '
	same_as_kubectl get all &&
	same_as_kubectl get all -A &&
	same_as_kubectl get all -o name
'

test_expect_success 'get with selectors' '
	same_as_kubectl get pods -l app=a &&
	same_as_kubectl get pods -l "app in (a,b),!tier" &&
	same_as_kubectl get pods -A -l app=a -o name &&
	same_as_kubectl get pods --field-selector metadata.name=p2 &&
	same_as_kubectl get pods -A --field-selector metadata.namespace=other -o wide
'

test_expect_success 'get of other kinds: nodes, events, leases, namespaces' '
	same_as_kubectl get nodes -o wide &&
	same_as_kubectl get events &&
	same_as_kubectl get lease l1 -n kube-node-lease &&
	same_as_kubectl get ns
'

test_expect_success 'nothing found: the message on stderr, exit 0' '
	same_as_kubectl get pods -l app=zzz &&
	same_as_kubectl get nodes -l nope &&
	same_as_kubectl get pods -l app=zzz -o name &&
	b get pods -l app=zzz 2>err &&
	test_grep "^No resources found in default namespace\.$" err
'

# ---------------------------------------------------------------- get: -o name|json|yaml

test_expect_success 'get -o name' '
	same_as_kubectl get pods -o name &&
	same_as_kubectl get deploy,svc -o name &&
	b get deploy,svc -o name >actual &&
	printf "deployment.apps/web\nservice/svc\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'get -o json: one object, and a List of several' '
	same_as_kubectl get pod p1 -o json &&
	same_as_kubectl get pods -o json &&
	same_as_kubectl get pods,cm -o json &&
	same_as_kubectl get pods -l app=zzz -o json &&
	b get pods -o json >list.json &&
	json_get list.json o.kind "o.items.map(i => i.kind + \"/\" + i.metadata.name).join()" >actual &&
	printf "List\nPod/p1,Pod/p2\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'get -o yaml: the YAML kubectl writes' '
	same_as_kubectl get pod p2 -o yaml &&
	same_as_kubectl get all -A -o yaml &&
	same_as_kubectl get node n1 -o yaml &&
	same_as_kubectl get events -o yaml
'

# Strings go-yaml quotes, folds or writes as blocks, and keys it orders its own way.
cat >tricky.json <<'EOF'
{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tricky", "labels": {"a10": "1", "a9": "x", "A": "y", "Z": "3", "a-b": "q", "a.b": "1", "a_b": "2", "a0": "4", "a00": "5", "a01": "6", "a1": "7", "0x1F": "0x1F"}}, "data": {"k00": "", "k01": "true", "k02": "yes", "k03": "n", "k04": "null", "k05": "~", "k06": "123", "k07": "-12", "k08": "0777", "k09": "0x1f", "k10": "1_000", "k11": "1.5e3", "k12": ".5", "k13": ".inf", "k14": "2026-01-01", "k15": "2026-1-1T1:2:3Z", "k16": "1:20", "k17": "a: b", "k18": "a #b", "k19": "- x", "k20": "*x", "k21": "&x", "k22": "'q'", "k23": "\"dq\"", "k24": " lead", "k25": "trail ", "k26": "one\ntwo\n", "k27": "no\nnewline", "k28": "sp  \nx", "k29": "\n", "k30": "héllo ✓", "k31": "a\u0001b", "k32": "a\tb", "k33": "<b>&amp;</b>", "k34": "@x", "k35": "%x", "k36": "{x}", "k37": "[x]", "k38": "? x", "k39": "!x", "k40": "|x", "k41": ">x", "k42": "-", "k43": "---", "k44": "1e999", "k45": "a long value that goes on and on well past the eighty columns go-yaml folds at, does it not"}}
EOF

test_expect_success 'get -o yaml: quoting, blocks, folding and key order as kubectl does them' '
	k create -f tricky.json >/dev/null &&
	same_as_kubectl get cm tricky -o yaml &&
	same_as_kubectl get cm tricky -o json
'

test_expect_success 'plugin kinds print like built-in ones' '
	cat >cj.yaml <<-\EOF &&
	apiVersion: batch/v1
	kind: CronJob
	metadata:
	  name: tick
	spec:
	  schedule: "*/5 * * * *"
	  jobTemplate:
	    spec:
	      template:
	        spec:
	          restartPolicy: Never
	          containers:
	          - name: c
	            image: busybox
	EOF
	k create -f cj.yaml >/dev/null &&
	same_as_kubectl get cronjobs &&
	same_as_kubectl get cj tick -o wide &&
	same_as_kubectl get cronjob.batch/tick -o yaml
'

# ---------------------------------------------------------------- get: errors

test_expect_success 'get errors: not found, unknown type, bad selector, exit 1' '
	same_as_kubectl get pod nope &&
	same_as_kubectl get pods p1 nope &&
	same_as_kubectl get pod nope -o json &&
	same_as_kubectl get pods p1 nope -o yaml &&
	same_as_kubectl get nope &&
	same_as_kubectl get pods,nope &&
	same_as_kubectl get pods --field-selector spec.bogus=1 &&
	same_as_kubectl get pods p1 -l app=a &&
	test_must_fail b get pod nope 2>err &&
	echo "Error from server (NotFound): pods \"nope\" not found" >expect &&
	test_cmp expect err
'

test_expect_success 'get usage errors' '
	test_must_fail b get 2>err &&
	test_grep "Required resource not specified" err &&
	test_must_fail b get pods -o foo 2>err &&
	test_grep "unable to match a printer" err &&
	test_expect_code 2 b get pods --bogus 2>err &&
	test_grep "unknown flag: --bogus" err
'

# ---------------------------------------------------------------- get -w

# The AGE column (last in the pod table) may tick between the two watchers' lists.
no_age() {
	sed -E "s/ [0-9]+(s|m|h|d)([0-9]+(s|m|h))?$/ AGE/"
}

test_expect_success 'get -w prints the list, then the changes as rows under it' '
	(b get pods -w --request-timeout 4s >bw.out 2>&1; echo "exit $?" >>bw.out) &
	bpid=$! &&
	k_bg kw.out 4 get pods -w &&
	sleep 1.5 &&
	k run a-much-longer-pod-name --image=img:9 >/dev/null &&
	k label pod p1 x=y >/dev/null &&
	wait $bpid &&
	{ wait $K_BG_PID; true; } &&
	grep -v "^exit" bw.out | no_age >actual &&
	no_age <kw.out >expect &&
	test_cmp expect actual &&
	grep -q "^exit 0$" bw.out &&
	test $(grep -c "a-much-longer-pod-name" actual) = 1 &&
	test $(grep -c "^p1 " actual) = 2
'

test_expect_success 'get -w of one object: its changes only' '
	(b get pod p2 -w --request-timeout 3s >bw.out 2>&1; echo "exit $?" >>bw.out) &
	bpid=$! &&
	k_bg kw.out 3 get pod p2 -w &&
	sleep 1 &&
	k label pod p2 y=z >/dev/null &&
	wait $bpid &&
	{ wait $K_BG_PID; true; } &&
	grep -v "^exit" bw.out | no_age >actual &&
	no_age <kw.out >expect &&
	test_cmp expect actual &&
	test $(wc -l <actual) = 3
'

test_expect_success 'get -w -o name: the names of the changed objects' '
	(b get pods -w --watch-only -o name --request-timeout 2s >bw.out 2>&1) &
	bpid=$! &&
	sleep 0.7 &&
	k label pod p2 w=1 >/dev/null &&
	wait $bpid &&
	echo pod/p2 >expect &&
	test_cmp expect bw.out
'

# ---------------------------------------------------------------- describe

test_expect_success 'describe pod: kubectl layout, events from the field selectors' '
	uid=$(k get pod p1 -o jsonpath="{.metadata.uid}") &&
	cat >ev.yaml <<-EOF &&
	apiVersion: v1
	kind: Event
	metadata:
	  name: p1.ev1
	involvedObject:
	  apiVersion: v1
	  kind: Pod
	  name: p1
	  namespace: default
	  uid: $uid
	reason: Scheduled
	message: "hello there  "
	type: Normal
	count: 3
	firstTimestamp: "2026-01-01T00:00:00Z"
	lastTimestamp: "2026-01-01T00:05:00Z"
	source:
	  component: tester
	EOF
	k create -f ev.yaml >/dev/null &&
	same_as_kubectl describe pod p2 &&
	same_as_kubectl describe pod p1 &&
	b describe pod p1 >out &&
	test_grep -E "^Events:$" out &&
	test_grep -E "^  Normal  Scheduled  .* \(x3 over .*\)  tester  hello there$" out &&
	b describe pod p2 >out &&
	test_grep -E "^Annotations: +team: blue$" out &&
	test_grep -E "^    Port: +8080/TCP$" out &&
	test_grep -E "^      MODE: +fast$" out
'

cat >busy.yaml <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: cx
  labels: {app: cx}
  annotations:
    multi: |
      first
      second
spec:
  nodeName: n1
  nodeSelector: {disk: ssd}
  tolerations:
  - {key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}
  - {operator: Exists}
  initContainers:
  - name: init
    image: busybox
    command: ["sh", "-c", "echo hi"]
  containers:
  - name: main
    image: nginx:1
    args: ["--port", "80"]
    ports:
    - {containerPort: 80, name: http}
    - {containerPort: 53, protocol: UDP, hostPort: 5353}
    resources:
      requests: {cpu: 250m, memory: 64Mi}
      limits: {cpu: "1", memory: 1Gi}
    livenessProbe:
      httpGet: {path: /healthz, port: 80}
    readinessProbe:
      tcpSocket: {port: http}
    envFrom:
    - configMapRef: {name: cm}
    env:
    - name: POD
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: SEC
      valueFrom: {secretKeyRef: {name: s1, key: k}}
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: cfg, mountPath: /etc/cfg, readOnly: true}
  - name: side
    image: side:1
  volumes:
  - {name: data, emptyDir: {}}
  - {name: cfg, configMap: {name: cm}}
  - {name: host, hostPath: {path: /var/log}}
EOF

test_expect_success 'describe a busy pod with statuses, and its node' '
	k create -f busy.yaml >/dev/null &&
	cat >status.json <<-\EOF &&
	{"status":{"phase":"Running","hostIP":"192.168.1.5","podIP":"10.1.0.7","podIPs":[{"ip":"10.1.0.7"}],
	"startTime":"2026-01-01T09:00:00Z","conditions":[{"type":"Ready","status":"False"}],
	"initContainerStatuses":[{"name":"init","image":"busybox","imageID":"sha256:a","containerID":"docker://1","ready":true,"restartCount":0,
	 "state":{"terminated":{"exitCode":0,"reason":"Completed","startedAt":"2026-01-01T09:00:01Z","finishedAt":"2026-01-01T09:00:02Z"}}}],
	"containerStatuses":[{"name":"main","image":"nginx:1","imageID":"sha256:b","containerID":"docker://2","ready":true,"restartCount":2,
	 "state":{"running":{"startedAt":"2026-01-01T09:00:03Z"}},
	 "lastState":{"terminated":{"exitCode":137,"reason":"OOMKilled","startedAt":"2026-01-01T08:59:00Z","finishedAt":"2026-01-01T09:00:00Z"}}},
	 {"name":"side","image":"side:1","imageID":"","containerID":"","ready":false,"restartCount":0,"state":{"waiting":{"reason":"ImagePullBackOff"}}}]}}
	EOF
	k patch pod cx --subresource=status --type=merge --patch-file status.json >/dev/null &&
	cat >nstatus.json <<-\EOF &&
	{"status":{"capacity":{"cpu":"4","memory":"8Gi","pods":"110"},"allocatable":{"cpu":"3800m","memory":"7Gi","pods":"110"},
	"addresses":[{"type":"InternalIP","address":"192.168.1.5"}],
	"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2026-01-01T09:30:00Z","lastTransitionTime":"2026-01-01T09:00:00Z","reason":"KubeletReady","message":"ready"}],
	"nodeInfo":{"machineID":"m1","systemUUID":"u1","bootID":"b1","kernelVersion":"6.1.0","osImage":"Debian GNU/Linux 12","operatingSystem":"linux","architecture":"amd64","containerRuntimeVersion":"docker://24.0","kubeletVersion":"v1.31.0-berth","kubeProxyVersion":""}}}
	EOF
	k patch node n1 --subresource=status --type=merge --patch-file nstatus.json >/dev/null &&
	same_as_kubectl describe pod cx &&
	same_as_kubectl describe node n1 &&
	b describe node n1 >out &&
	test_grep -E "^  default +cx +250m \(6%\) +1 \(26%\) +64Mi \(0%\) +1Gi \(14%\) " out
'

test_expect_success 'describe deployment and replicaset, with owned replica sets' '
	uid=$(k get deploy web -o jsonpath="{.metadata.uid}") &&
	cat >owned.yaml <<-EOF &&
	apiVersion: apps/v1
	kind: ReplicaSet
	metadata:
	  name: web-abc
	  labels: {app: web, pod-template-hash: abc}
	  ownerReferences:
	  - {apiVersion: apps/v1, kind: Deployment, name: web, uid: $uid, controller: true}
	spec:
	  replicas: 2
	  selector:
	    matchLabels: {app: web, pod-template-hash: abc}
	  template:
	    metadata:
	      labels: {app: web, pod-template-hash: abc}
	    spec:
	      containers:
	      - name: web
	        image: img:3
	EOF
	k create -f owned.yaml >/dev/null &&
	same_as_kubectl describe deployment web &&
	same_as_kubectl describe rs rs1 &&
	same_as_kubectl describe replicasets -l app=web &&
	b describe deploy web >out &&
	test_grep -E "^NewReplicaSet: +web-abc \(0/2 replicas created\)$" out &&
	test_grep -E "^Replicas: +2 desired \| 0 updated \| 0 total \| 0 available \| 0 unavailable$" out
'

test_expect_success 'describe service: the Endpoints object gives the endpoints' '
	cat >ep.yaml <<-\EOF &&
	apiVersion: v1
	kind: Endpoints
	metadata:
	  name: svc
	subsets:
	- addresses:
	  - ip: 10.0.0.1
	  ports:
	  - port: 8080
	EOF
	k create -f ep.yaml >/dev/null &&
	b describe svc svc >out &&
	k describe svc svc >kout &&
	grep -v "^Endpoints:" out >a &&
	grep -v "^Endpoints:" kout >e &&
	test_cmp e a &&
	test_grep -E "^Endpoints: +10\.0\.0\.1:8080$" out &&
	test_grep -E "^Selector: +app=a$" out &&
	test_grep -E "^TargetPort: +8080/TCP$" out
'

test_expect_success 'describe: the generic describer for other kinds, plugin kinds too' '
	same_as_kubectl describe lease l1 -n kube-node-lease &&
	same_as_kubectl describe event p1.ev1 &&
	b describe cronjob tick >out &&
	test_grep -E "^Name: +tick$" out &&
	test_grep -E "^Kind: +CronJob$" out &&
	test_grep -E "^  Schedule: +\*/5 \* \* \* \*$" out &&
	test_grep -E "^Events: +<none>$" out
'

test_expect_success 'describe namespace, configmap, endpoints' '
	same_as_kubectl describe namespace default &&
	same_as_kubectl describe cm cm &&
	same_as_kubectl describe endpoints svc
'

test_expect_success 'describe TYPE, TYPE/NAME, -l, name prefixes' '
	same_as_kubectl describe pods &&
	same_as_kubectl describe pod/p1 deploy/web &&
	same_as_kubectl describe pods -l app=a &&
	same_as_kubectl describe pod p &&
	same_as_kubectl describe pods -l app=zzz
'

test_expect_success 'describe errors: not found, unknown type' '
	same_as_kubectl describe pod nope &&
	same_as_kubectl describe nope x &&
	same_as_kubectl describe pods p1 nope &&
	test_must_fail b describe pod nope 2>err &&
	test_grep "^Error from server (NotFound): pods \"nope\" not found$" err
'

# ---------------------------------------------------------------- logs

# A node agent's log endpoint (GET /containerLogs/NS/POD/CONTAINER), with the query kubectl
# and berth send: tailLines, timestamps, previous, limitBytes, follow.
cat >fakeagent.js <<'EOF'
const http = require('http');
http.createServer((req, res) => {
	const u = new URL(req.url, 'http://x');
	const m = u.pathname.match(/^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/);
	if (!m) { res.writeHead(404); res.end('not found\n'); return; }
	const [, ns, pod, ctr] = m, q = u.searchParams;
	let lines = [1, 2, 3, 4, 5].map(i => `${ns}/${pod}/${ctr} line ${i}`);
	if (q.get('previous') === 'true') lines = [`${pod}/${ctr} previous run`];
	if (q.has('tailLines')) lines = lines.slice(Math.max(0, lines.length - +q.get('tailLines')));
	if (q.get('timestamps') === 'true') lines = lines.map(l => '2026-01-01T00:00:00.000000000Z ' + l);
	let body = lines.map(l => l + '\n').join('');
	if (q.has('limitBytes')) body = body.slice(0, +q.get('limitBytes'));
	res.writeHead(200, {'Content-Type': 'text/plain'});
	res.write(body);
	if (q.get('follow') !== 'true') { res.end(); return; }
	let n = 0;
	const t = setInterval(() => {
		res.write(`${pod}/${ctr} follow ${++n}\n`);
		if (n >= 3) { clearInterval(t); res.end(); }
	}, 200);
	req.on('close', () => clearInterval(t));
}).listen(+process.argv[2], '127.0.0.1');
EOF

test_expect_success 'a fake node agent serves the logs of the pods on node n1' '
	AGENT_PORT=$(test_free_port) &&
	{ node fakeagent.js $AGENT_PORT >agent.log 2>&1 & } &&
	test_bg_pid $! &&
	k annotate node n1 berth.dev/agent-endpoint=http://127.0.0.1:$AGENT_PORT >/dev/null &&
	test_wait_until 10 eval "curl -sf http://127.0.0.1:$AGENT_PORT/containerLogs/default/cx/main >/dev/null"
'

test_expect_success 'logs: the default container, and the line about it' '
	same_as_kubectl logs cx &&
	b logs cx >out 2>err &&
	test_grep "^default/cx/main line 5$" out &&
	echo "Defaulted container \"main\" out of: main, side, init (init)" >expect &&
	test_cmp expect err
'

test_expect_success 'logs -c, [CONTAINER], --tail, --timestamps, -p, --limit-bytes' '
	same_as_kubectl logs cx -c side &&
	same_as_kubectl logs cx side &&
	same_as_kubectl logs cx -c main --tail 2 &&
	same_as_kubectl logs cx -c main --tail=1 --timestamps &&
	same_as_kubectl logs cx -c main -p &&
	same_as_kubectl logs cx -c main --limit-bytes 7 &&
	same_as_kubectl logs pod/cx -c init &&
	b logs cx -c main --tail 1 >actual &&
	echo "default/cx/main line 5" >expect &&
	test_cmp expect actual
'

test_expect_success 'logs -f streams until the agent ends the log' '
	same_as_kubectl logs cx -c main -f &&
	b logs -f cx -c main >out &&
	test_grep "^cx/main follow 3$" out
'

test_expect_success 'logs --all-containers, and deploy/NAME picks a pod' '
	same_lines_as_kubectl logs cx --all-containers &&
	b logs cx --all-containers >all.out &&
	sed -n "s|^default/cx/\([a-z]*\) line 1$|\1|p" all.out >order &&
	printf "init\nmain\nside\n" >order.want &&
	test_cmp order.want order &&
	k run webpod --image=x -l app=web --overrides="{\"spec\":{\"nodeName\":\"n1\"}}" >/dev/null &&
	same_as_kubectl logs deploy/web &&
	b logs deploy/web >out &&
	test_grep "^default/webpod/webpod line 1$" out
'

test_expect_success 'logs errors: no such container, no such pod, no node' '
	same_as_kubectl logs cx -c nosuch &&
	same_as_kubectl logs nope &&
	same_as_kubectl logs deploy/nope &&
	same_as_kubectl logs p1 &&
	same_as_kubectl logs p2 &&
	test_must_fail b logs p1 2>err &&
	test_grep "^Error from server (BadRequest): pod p1 does not have a host assigned$" err &&
	test_must_fail b logs 2>err &&
	test_grep "POD or TYPE/NAME is a required argument" err
'

# ---------------------------------------------------------------- version, kubeconfig, server down

test_expect_success 'version: the client, then the server from /version' '
	b version >actual &&
	printf "Client Version: v0.1.0 (berth)\nServer Version: %s\n" \
		"$(curl -s $BERTH_URL/version | node -e "console.log(JSON.parse(require(\"fs\").readFileSync(0)).gitVersion)")" >expect &&
	test_cmp expect actual &&
	b version --client >actual &&
	echo "Client Version: v0.1.0 (berth)" >expect &&
	test_cmp expect actual &&
	b version -o json >v.json &&
	json_get v.json o.clientVersion.gitVersion "o.serverVersion.major + \".\" + o.serverVersion.minor" >actual &&
	printf "v0.1.0\n1.31\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'the server and namespace come from $BERTH_KUBECONFIG too' '
	cat >kubeconfig <<-EOF &&
	apiVersion: v1
	kind: Config
	clusters:
	- name: c
	  cluster:
	    server: $BERTH_URL
	contexts:
	- name: x
	  context:
	    cluster: c
	    namespace: other
	current-context: x
	EOF
	BERTH_KUBECONFIG=$PWD/kubeconfig "$BERTH_BIN" get pods -o name >actual &&
	echo pod/p3 >expect &&
	test_cmp expect actual
'

test_expect_success 'a server that is down: kubectl words, exit 1' '
	down=http://127.0.0.1:$(test_free_port) &&
	msg="The connection to the server ${down#http://} was refused - did you specify the right host or port?" &&
	for verb in "get pods" "describe pod p1" "logs p1" "version"; do
		test_must_fail "$BERTH_BIN" $verb -s $down >out 2>err &&
		echo "$msg" >expect &&
		test_cmp expect err || return 1
	done &&
	echo "Client Version: v0.1.0 (berth)" >expect &&
	test_must_fail "$BERTH_BIN" version -s $down >out 2>/dev/null &&
	test_cmp expect out
'


test_done
