#!/bin/bash
test_description='kubectl port-forward: API server -> node agent -> the pod'"'"'s ports, over SPDY (tunnelled in a websocket, or raw) and websocket channels'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth curl docker

test_docker_node t6210

test_probe node

AGENT_PID=
PF_PID=


phase_is() {
	test "$(k get pod "$1" -o jsonpath='{.status.phase}')" = "$2"
}

# pf OUT ARGS...: `kubectl port-forward ARGS` in the background (60 s at most), output to
# OUT; waits until it says it forwards. Its pid in PF_PID.
pf() {
	local out=$1
	shift
	k_bg "$out" 60 port-forward "$@"
	PF_PID=$K_BG_PID
	test_wait_until 20 grep -q "^Forwarding from 127.0.0.1" "$out"
}

pf_stop() {
	test_kill_pid "$PF_PID" 5
	PF_PID=
}

# get PORT PATH: one HTTP GET through the forwarded local port.
get() {
	curl -sf --max-time 20 "http://127.0.0.1:$1$2"
}

# raw_pf POD [EXTRA CURL ARGS]: the portforward subresource with curl; prints the status.
raw_pf() {
	local pod=$1
	shift
	curl -s --max-time 10 -o raw.out -w '%{http_code}' "$@" \
		"$BERTH_URL/api/v1/namespaces/default/pods/$pod/portforward"
}

setup_berth

test_expect_success 'an agent and a pod serving on its IP (8080) and on its localhost only (9090)' '
	start_agent &&
	cat >web.yaml <<-EOF &&
	apiVersion: v1
	kind: Pod
	metadata: {name: web, labels: {app: pfweb}}
	spec:
	  nodeName: $NODE
	  terminationGracePeriodSeconds: 1
	  containers:
	  - name: web
	    image: berth/busybox:latest
	    imagePullPolicy: IfNotPresent
	    command: [sh, -c, "mkdir -p /www && echo hello-pf >/www/index.html && head -c 6000000 /dev/urandom >/www/big && md5sum /www/big | cut -c1-32 >/www/big.md5 && exec httpd -f -p 8080 -h /www"]
	  - name: local
	    image: berth/busybox:latest
	    imagePullPolicy: IfNotPresent
	    command: [sh, -c, "mkdir -p /l && echo only-localhost >/l/index.html && exec httpd -f -p 127.0.0.1:9090 -h /l"]
	EOF
	k apply -f web.yaml &&
	test_wait_until 40 phase_is web Running &&
	test_wait_until 20 eval "k get pod web | grep -q 2/2" &&
	test_wait_until 20 k exec web -c web -- test -s /www/big.md5
'

test_expect_success 'kubectl port-forward: requests reach the pod, one after another and at once' '
	P=$(test_free_port) &&
	pf pf.out pod/web "$P:8080" &&
	test "$(get "$P" /)" = hello-pf &&
	test "$(get "$P" /)" = hello-pf &&
	pids= &&
	for i in 1 2 3 4 5 6; do get "$P" / >"par.$i" & pids="$pids $!"; done &&
	for p in $pids; do wait "$p" || exit 1; done &&
	for i in 1 2 3 4 5 6; do test "$(cat "par.$i")" = hello-pf || exit 1; done &&
	grep -q "Handling connection for $P" pf.out &&
	grep -q "port-forward to default/web (SPDY over websocket)" "$TRASH/agent.log"
'

test_expect_success 'a 6 MB download arrives whole (flow control both ways through the relay)' '
	curl -sf --max-time 60 "http://127.0.0.1:$P/big" >big &&
	test "$(wc -c <big)" = 6000000 &&
	test "$(md5sum <big | cut -c1-32)" = "$(get "$P" /big.md5)"
'

test_expect_success 'a port bound to the pod'"'"'s localhost only is reachable, as with kubelet' '
	pf_stop &&
	P=$(test_free_port) && Q=$(test_free_port) &&
	pf pf2.out web "$P:8080" "$Q:9090" &&
	test "$(get "$Q" /)" = only-localhost &&
	test "$(get "$P" /)" = hello-pf
'

test_expect_success 'uploads: the client'"'"'s end of stream reaches the pod (half close)' '
	k exec web -c local -- sh -c "rm -f /tmp/up; (nc -l -p 7070 >/tmp/up; echo done >/tmp/up.done) >/dev/null 2>&1 &" &&
	pf_stop &&
	U=$(test_free_port) &&
	pf pf3.out web "$U:7070" &&
	head -c 3000000 /dev/urandom >up &&
	timeout 30 bash -c "cat up >/dev/tcp/127.0.0.1/$U" &&
	test_wait_until 20 k exec web -c local -- test -f /tmp/up.done &&
	k exec web -c local -- md5sum /tmp/up >sum &&
	test "$(cut -c1-32 sum)" = "$(md5sum <up | cut -c1-32)"
'

test_expect_success 'a port nothing listens on: kubectl prints the agent'"'"'s error' '
	pf_stop &&
	P=$(test_free_port) &&
	pf pf4.out web "$P:7999" &&
	test_must_fail curl -s --max-time 10 "http://127.0.0.1:$P/" &&
	test_wait_until 10 grep -q "error forwarding port 7999 to pod default/web, uid .*: failed to connect to localhost:7999 inside the pod.s network namespace: Connection refused" pf4.out
'

test_expect_success 'KUBECTL_PORT_FORWARD_WEBSOCKETS=false: the same over a SPDY/3.1 upgrade' '
	test_kill_pid "$PF_PID" 5 &&
	P=$(test_free_port) &&
	KUBECTL_PORT_FORWARD_WEBSOCKETS=false pf pf5.out web "$P:8080" &&
	test "$(get "$P" /)" = hello-pf &&
	curl -sf --max-time 60 "http://127.0.0.1:$P/big" | cmp - big &&
	grep -q "port-forward to default/web (SPDY)" "$TRASH/agent.log"
'

test_expect_success 'port-forward to a Service picks a pod and the target port' '
	pf_stop &&
	cat >svc.yaml <<-EOF &&
	apiVersion: v1
	kind: Service
	metadata: {name: pfweb}
	spec:
	  selector: {app: pfweb}
	  ports: [{port: 80, targetPort: 8080}]
	EOF
	k apply -f svc.yaml &&
	P=$(test_free_port) &&
	pf pf6.out svc/pfweb "$P:80" &&
	test "$(get "$P" /)" = hello-pf &&
	pf_stop
'

test_expect_success 'the API refuses before any upgrade: no upgrade, no pod, a pod that is not running' '
	test "$(raw_pf web)" = 400 &&
	grep -q "Upgrade request required" raw.out &&
	test "$(raw_pf nosuch -H "Connection: Upgrade" -H "Upgrade: SPDY/3.1" -X POST)" = 404 &&
	cat >once.yaml <<-EOF &&
	apiVersion: v1
	kind: Pod
	metadata: {name: once}
	spec:
	  nodeName: $NODE
	  restartPolicy: Never
	  containers:
	  - name: c
	    image: berth/busybox:latest
	    imagePullPolicy: IfNotPresent
	    command: [sh, -c, "echo done"]
	EOF
	k apply -f once.yaml &&
	test_wait_until 40 phase_is once Succeeded &&
	test "$(raw_pf once -H "Connection: Upgrade" -H "Upgrade: SPDY/3.1" -X POST)" = 400 &&
	grep -q "unable to forward port because pod is not running. Current status=Succeeded" raw.out &&
	test "$(raw_pf web -H "Connection: Upgrade" -H "Upgrade: SPDY/3.1" -H "X-Stream-Protocol-Version: nope" -X POST)" = 403
'

test_expect_success NODE 'client-node PortForward: the websocket channel protocol' '
	cat >pf.js <<-\EOF &&
	"use strict";
	// node pf.js NS POD PORT: client-node PortForward; sends an HTTP request, prints the reply.
	const { loadClient, berthKubeConfig } = require(process.env.TOP + "/t/js/berth-client.js");
	const { Writable, PassThrough } = require("stream");
	setTimeout(() => { console.error("TIMEOUT"); process.exit(124); }, 20000);
	(async () => {
	    const [ns, pod, port] = process.argv.slice(2);
	    const k8s = await loadClient();
	    const kc = berthKubeConfig(k8s);
	    let got = "";
	    const out = new Writable({ write(c, e, cb) {
	        got += c.toString();
	        if (got.includes("hello-pf")) { process.stdout.write(got); process.exit(0); }
	        cb();
	    } });
	    const err = new Writable({ write(c, e, cb) { process.stderr.write(c); cb(); } });
	    const input = new PassThrough();
	    await new k8s.PortForward(kc).portForward(ns, pod, [Number(port)], out, err, input);
	    input.write("GET / HTTP/1.0\r\n\r\n");
	})().catch((e) => { console.error("ERROR " + (e.message || e)); process.exit(98); });
	EOF
	node pf.js default web 8080 >out 2>err &&
	grep -q "^HTTP/1.[01] 200" out &&
	grep -q hello-pf out &&
	grep -q "port-forward to default/web (websocket channels)" "$TRASH/agent.log"
'

test_expect_success 'the agent stops on SIGTERM; its log has no sanitizer or leak report' '
	test_kill_pid "$AGENT_PID" 10 &&
	test "$test_kill_status" = 0 &&
	! grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$TRASH/agent.log"
'

test_done
