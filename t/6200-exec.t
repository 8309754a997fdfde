#!/bin/bash
test_description='kubectl exec: API server -> node agent -> Docker exec, over websockets'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth curl docker

# Images without a registry (see t/6000-agent.t).
test_docker_node t6200

test_probe node script

AGENT_PID=
AGENT_PORT=
UNIT=${BERTH_UNIT:-$TOP/build/t}



phase_is() {
	test "$(k get pod "$1" -o jsonpath='{.status.phase}')" = "$2"
}

# restarts POD CONTAINER: its restartCount.
restarts() {
	k get pod "$1" -o jsonpath="{.status.containerStatuses[?(@.name==\"$2\")].restartCount}"
}

# raw_exec POD QUERY: the exec endpoint with websocket headers, by curl; prints the HTTP
# status, the body (a Status for a refusal) goes to raw.out.
raw_exec() {
	curl -s --max-time 10 -o raw.out -w '%{http_code}' \
		-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
		-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Protocol: v5.channel.k8s.io' \
		"$BERTH_URL/api/v1/namespaces/default/pods/$1/exec?$2"
}

# The crash-looping container of the flap pod is restarted now and then (with backoff) and
# runs for a moment each time: an exec that lands in that moment is not refused, so these
# look until one is.
refused_not_running() {
	test "$(raw_exec flap "command=true&container=dies&stdout=true")" = 400 &&
	grep -q "container not running" raw.out
}

kubectl_refused_not_running() {
	! k exec flap -c dies -- true 2>err && grep -q "container not running" err
}

setup_berth

test_expect_success 'an agent and a pod of two containers' '
	start_agent &&
	cat >duo.yaml <<-EOF &&
	apiVersion: v1
	kind: Pod
	metadata: {name: duo}
	spec:
	  nodeName: $NODE
	  terminationGracePeriodSeconds: 1
	  containers:
	  - name: main
	    image: berth/busybox:latest
	    imagePullPolicy: IfNotPresent
	    command: [sleep, "3600"]
	    env: [{name: WHO, value: main}]
	  - name: side
	    image: berth/busybox:latest
	    imagePullPolicy: IfNotPresent
	    command: [sleep, "3600"]
	    env: [{name: WHO, value: side}]
	EOF
	k apply -f duo.yaml &&
	test_wait_until 40 phase_is duo Running &&
	test_wait_until 20 eval "k get pod duo | grep -q 2/2"
'

test_expect_success 'kubectl exec runs a command and prints its output (rc 0)' '
	k exec duo -c main -- echo hello exec >out &&
	echo "hello exec" >expect &&
	test_cmp expect out
'

test_expect_success 'the exit code comes back: rc 3, "command terminated with exit code 3"' '
	k exec duo -c main -- sh -c "exit 3" >out 2>err;
	rc=$? &&
	test "$rc" = 3 &&
	grep -q "command terminated with exit code 3" err
'

test_expect_success 'stdout and stderr stay apart' '
	test_must_fail k exec duo -c main -- sh -c "echo to-out; echo to-err >&2; exit 1" >out 2>err &&
	echo to-out >expect &&
	test_cmp expect out &&
	grep -q "^to-err$" err &&
	! grep -q to-out err
'

test_expect_success 'stdin with -i: echo data | kubectl exec -i pod -- cat' '
	echo data | k exec -i duo -c main -- cat >out &&
	echo data >expect &&
	test_cmp expect out
'

test_expect_success 'stdin of 2 MB comes back unchanged, and ends the command' '
	head -c 2000000 /dev/urandom >big &&
	k exec -i duo -c main -- cat <big >big.out &&
	cmp big big.out &&
	head -c 1000000 /dev/zero | k exec -i duo -c side -- wc -c >n &&
	test "$(tr -d " " <n)" = 1000000
'

test_expect_success 'a large output arrives whole' '
	k exec duo -c main -- sh -c "yes 0123456789abcdef | head -c 5000000" >big.out &&
	test "$(wc -c <big.out)" = 5000000
'

test_expect_success '-c chooses the container; without it kubectl takes the first one' '
	k exec duo -c side -- sh -c "echo \$WHO" >out && test "$(cat out)" = side &&
	k exec duo -c main -- sh -c "echo \$WHO" >out && test "$(cat out)" = main &&
	k exec duo -- sh -c "echo \$WHO" >out 2>err && test "$(cat out)" = main
'

test_expect_success 'a pod that does not exist: kubectl prints NotFound' '
	test_must_fail k exec nosuch -- true 2>err &&
	grep -q "Error from server (NotFound): pods \"nosuch\" not found" err
'

test_expect_success 'a container that is not in the pod: BadRequest' '
	test_must_fail k exec duo -c nosuch -- true 2>err &&
	grep -q "container nosuch is not valid for pod duo" err &&
	test "$(raw_exec duo "command=true&container=nosuch&stdout=true")" = 400 &&
	grep -q "\"reason\":\"BadRequest\"" raw.out
'

test_expect_success 'the API refuses before any upgrade: no command, no stream, pod of several without -c' '
	test "$(raw_exec duo "container=main&stdout=true")" = 400 &&
	grep -q "at least one command" raw.out &&
	test "$(raw_exec duo "command=true&container=main")" = 400 &&
	grep -q "at least one of stdin, stdout, stderr" raw.out &&
	test "$(raw_exec duo "command=true&stdout=true")" = 400 &&
	grep -q "a container name must be specified for pod duo, choose one of: \[main side\]" raw.out &&
	test "$(raw_exec nosuch "command=true&stdout=true")" = 404
'

test_expect_success 'an unknown command: the runtime says so, exit code 126' '
	k exec duo -c main -- no-such-command >out 2>err;
	rc=$? &&
	test "$rc" = 126 &&
	grep -q "no-such-command" out
'

test_expect_success 'a completed pod is refused (kubectl itself, and the API)' '
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
	test_must_fail k exec once -- true 2>err &&
	grep -q "cannot exec into a container in a completed pod; current phase is Succeeded" err &&
	test "$(raw_exec once "command=true&stdout=true")" = 400 &&
	grep -q "completed pod" raw.out
'

# bexec_rc WANT ARGS...: berth exec ARGS exits WANT (stderr in err)
bexec_rc() {
	local want=$1
	shift
	"$BERTH_BIN" exec --server "$BERTH_URL" "$@" 2>err
	test $? = "$want"
}

test_expect_success 'berth exec: output, stderr apart, the exit code, as kubectl exec' '
	"$BERTH_BIN" exec --server "$BERTH_URL" duo -c main -- echo hello exec >out &&
	echo "hello exec" >expect &&
	test_cmp expect out &&
	"$BERTH_BIN" exec --server "$BERTH_URL" duo -c main -- sh -c "echo to-out; echo to-err >&2; exit 3" >out 2>err;
	rc=$? &&
	test "$rc" = 3 &&
	echo to-out >expect && test_cmp expect out &&
	grep -q "^to-err$" err &&
	grep -q "^command terminated with exit code 3$" err
'

test_expect_success 'berth exec -i sends stdin; the default container is said, as kubectl says it; svc/NAME' '
	head -c 300000 /dev/urandom >in.bin &&
	"$BERTH_BIN" exec --server "$BERTH_URL" -i duo -c side -- cat <in.bin >out.bin &&
	cmp in.bin out.bin &&
	"$BERTH_BIN" exec --server "$BERTH_URL" duo -- sh -c "echo \$WHO" >out 2>err &&
	test "$(cat out)" = main &&
	grep -q "^Defaulted container \"main\" out of: main, side$" err &&
	k annotate pod duo kubectl.kubernetes.io/default-container=side &&
	"$BERTH_BIN" exec --server "$BERTH_URL" duo -- sh -c "echo \$WHO" >out 2>err &&
	test "$(cat out)" = side && ! grep -q Defaulted err &&
	k annotate pod duo kubectl.kubernetes.io/default-container- &&
	k label pod duo app=duo &&
	k create service clusterip duo --tcp=80 &&
	"$BERTH_BIN" exec --server "$BERTH_URL" svc/duo -c main -- echo via-service >out 2>err &&
	test "$(cat out)" = via-service &&
	! grep -q Found err
'

test_expect_success 'berth exec refuses: no --, no command, -t, unknown pod or container, a completed pod' '
	bexec_rc 2 duo echo hi &&
	grep -q "exec \[POD\] \[COMMAND\] is not supported anymore" err &&
	bexec_rc 2 duo &&
	grep -q "you must specify at least one command" err &&
	bexec_rc 2 -t duo -- sh &&
	grep -q "use kubectl exec -it" err &&
	bexec_rc 1 nosuch -- true &&
	grep -q "pods \"nosuch\" not found" err &&
	bexec_rc 1 duo -c nosuch -- true &&
	grep -q "container nosuch not found in pod duo" err &&
	bexec_rc 1 once -- true &&
	grep -q "cannot exec into a container in a completed pod; current phase is Succeeded" err
'

test_expect_success 'a container that is not running: the agent says so, as a BadRequest' '
	cat >flap.yaml <<-EOF &&
	apiVersion: v1
	kind: Pod
	metadata: {name: flap}
	spec:
	  nodeName: $NODE
	  terminationGracePeriodSeconds: 1
	  containers:
	  - name: main
	    image: berth/busybox:latest
	    imagePullPolicy: IfNotPresent
	    command: [sleep, "3600"]
	  - name: dies
	    image: berth/busybox:latest
	    imagePullPolicy: IfNotPresent
	    command: [sh, -c, "exit 1"]
	EOF
	k apply -f flap.yaml &&
	test_wait_until 40 eval "test \"\$(restarts flap dies)\" -ge 1" &&
	phase_is flap Running &&
	test_wait_until 30 refused_not_running &&
	grep -q "dies" raw.out &&
	test_wait_until 30 kubectl_refused_not_running &&
	k exec flap -c main -- echo alive >out &&
	test "$(cat out)" = alive
'

test_expect_success SCRIPT '-t: a TTY, and the terminal size goes through (channel 4)' '
	cat >tty.sh <<-\EOF &&
	stty cols 101 rows 31
	exec "$KUBECTL" --server "$BERTH_URL" --cache-dir kcache exec -it duo -c main -- \
	    sh -c "tty; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do s=\$(stty size); test \"\$s\" = \"31 101\" && break; sleep 0.2; done; echo \"size \$s\""
	EOF
	# script(1) may echo a NUL it fed the terminal before kubectl made it raw: no ^ anchors.
	timeout 30 script -qec "bash tty.sh" /dev/null >tty.out &&
	cat tty.out &&
	grep -q "/dev/pts/" tty.out &&
	grep -q "size 31 101" tty.out
'

test_expect_success NODE 'client-node Exec: output, status with the exit code, stdin' '
	cat >exec.js <<-\EOF &&
	"use strict";
	// node exec.js NS POD CONTAINER STDIN|- CMD...: client-node Exec; prints the output, the
	// V1Status as "STATUS <json>" on stderr; exits with the exit code.
	const { loadClient, berthKubeConfig } = require(process.env.TOP + "/t/js/berth-client.js");
	const { Writable, Readable } = require("stream");
	setTimeout(() => { console.error("TIMEOUT"); process.exit(124); }, 20000);
	(async () => {
	    const [ns, pod, ctr, input, ...cmd] = process.argv.slice(2);
	    const k8s = await loadClient();
	    const kc = berthKubeConfig(k8s);
	    const out = new Writable({ write(c, e, cb) { process.stdout.write(c); cb(); } });
	    const err = new Writable({ write(c, e, cb) { process.stderr.write(c); cb(); } });
	    const stdin = input === "-" ? null : Readable.from([Buffer.from(input)]);
	    try {
	        await new k8s.Exec(kc).exec(ns, pod, ctr, cmd, out, err, stdin, false, (st) => {
	            console.error("STATUS " + JSON.stringify(st));
	            const c = ((st.details || {}).causes || []).find((x) => x.reason === "ExitCode");
	            setTimeout(() => process.exit(st.status === "Success" ? 0 : c ? Number(c.message) : 1), 100);
	        });
	    } catch (e) {
	        console.error("ERROR " + (e.message || e));
	        process.exit(98);
	    }
	})();
	EOF
	node exec.js default duo main - sh -c "echo from-node; exit 5" >out 2>err;
	rc=$? &&
	test "$rc" = 5 &&
	test "$(cat out)" = from-node &&
	grep -q "STATUS.*NonZeroExitCode" err &&
	node exec.js default duo side "typed input" cat >out 2>err &&
	test "$(cat out)" = "typed input" &&
	grep -q "STATUS.*Success" err
'

test_external 'execclient (engine/execclient.c)' env BERTH_URL="$BERTH_URL" EXEC_POD=duo "$UNIT/execclient"

test_expect_success 'berth run: script.exec gets the exit code, stdout, stderr, and sends stdin' '
	cat >exec.lua <<-\EOF &&
	local script = require("berth.script")
	local rc, out, err = script.exec("default", "duo", {"sh", "-c", "cat; echo to-err >&2; exit 7"},
	                                 {container = "side", stdin = "from-lua"})
	print(string.format("rc=%s out=[%s] err=[%s]", tostring(rc), out, err))
	local none, msg = script.exec("default", "nosuch", {"true"})
	print(string.format("none=%s msg=%s", tostring(none), tostring(msg)))
	EOF
	"$BERTH_BIN" run --server "$BERTH_URL" exec.lua >out 2>err &&
	cat out &&
	grep -q "^rc=7 out=\[from-lua\] err=\[to-err$" out &&
	grep -q "^none=nil msg=pods \"nosuch\" not found$" out
'

# raw_attach POD QUERY: the attach endpoint as raw_exec does it.
raw_attach() {
	curl -s --max-time 10 -o raw.out -w '%{http_code}' \
		-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
		-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Protocol: v5.channel.k8s.io' \
		"$BERTH_URL/api/v1/namespaces/default/pods/$1/attach?$2"
}

test_expect_success 'kubectl run -i --rm: stdin reaches the container, output and exit code come back' '
	(echo "echo from-stdin-\$((6*7))"; sleep 1; echo "exit 3") |
		k run runi --image=berth/busybox:latest --image-pull-policy=IfNotPresent \
		--restart=Never --rm -i --overrides="{\"spec\":{\"nodeName\":\"$NODE\"}}" -- sh >out 2>err;
	rc=$? &&
	cat out err &&
	test "$rc" = 3 &&
	grep -q "^from-stdin-42$" out &&
	! grep -q "falling back to streaming logs" err &&
	grep -q "pod default/runi terminated (Error)" err &&
	grep -q "attached to default/runi/runi" "$TRASH/agent.log"
'

test_expect_success 'kubectl attach -i: lines to a running process and its answers back' '
	cat >echoer.yaml <<-EOF &&
	apiVersion: v1
	kind: Pod
	metadata: {name: echoer}
	spec:
	  nodeName: $NODE
	  terminationGracePeriodSeconds: 1
	  containers:
	  - name: main
	    image: berth/busybox:latest
	    imagePullPolicy: IfNotPresent
	    stdin: true
	    command: [sh, -c, "while read l; do echo got:\$l; done"]
	EOF
	k apply -f echoer.yaml &&
	test_wait_until 40 phase_is echoer Running &&
	# The process keeps running after our stdin ends (no stdinOnce), so the attach does too,
	# as on any cluster: the timeout ends it.
	(echo one; echo two; sleep 2) | K_TIMEOUT=6 k attach -i echoer >out 2>err;
	cat out err &&
	grep -q "^got:one$" out &&
	grep -q "^got:two$" out
'

test_expect_success 'kubectl attach without -i follows the output' '
	cat >ticker.yaml <<-EOF &&
	apiVersion: v1
	kind: Pod
	metadata: {name: ticker}
	spec:
	  nodeName: $NODE
	  terminationGracePeriodSeconds: 1
	  containers:
	  - name: main
	    image: berth/busybox:latest
	    imagePullPolicy: IfNotPresent
	    command: [sh, -c, "i=0; while true; do i=\$((i+1)); echo tick-\$i; sleep 0.2; done"]
	EOF
	k apply -f ticker.yaml &&
	test_wait_until 40 phase_is ticker Running &&
	K_TIMEOUT=3 k attach ticker >out 2>err;
	cat out &&
	test "$(grep -c "^tick-" out)" -ge 3
'

test_expect_success 'attach to a completed pod is refused; no streams is refused' '
	test "$(raw_attach once "stdout=true")" = 400 &&
	grep -q "cannot attach to a container in a completed pod; current phase is Succeeded" raw.out &&
	test "$(raw_attach ticker "")" = 400 &&
	grep -q "at least one of stdin, stdout, stderr" raw.out
'

test_expect_success 'an agent that does not answer: 503 with a clear message' '
	stop_agent &&
	test_must_fail k exec duo -c main -- true 2>err &&
	cat err &&
	grep -q "Error from server (ServiceUnavailable): the node agent of node \"$NODE\" (http://127.0.0.1:$AGENT_PORT) does not answer" err
'

test_expect_success 'the agent back: exec works again' '
	start_agent &&
	test_wait_until 20 eval "k exec duo -c main -- true" &&
	k exec duo -c side -- echo back >out &&
	test "$(cat out)" = back
'

test_expect_success 'cleanup: pods deleted, no container left, the agent stops cleanly' '
	k delete pods --all --wait=true --timeout=60s &&
	test_wait_until 20 eval "test -z \"\$(docker ps -aq --filter label=berth.node=$NODE)\"" &&
	stop_agent &&
	test "$test_kill_status" = 0 &&
	! grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$TRASH/agent.log"
'

test_done
