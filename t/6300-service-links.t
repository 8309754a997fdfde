#!/bin/bash
# 6300-service-links.t: pods reach Services through the variables kubelet gives them
# (<NAME>_SERVICE_HOST, <NAME>_SERVICE_PORT, <NAME>_PORT_<port>_TCP...), on a real Docker
# engine with a real agent and proxy. Cluster IPs are loopback addresses here, nobody inside a
# container, so the agent points the variables at the Docker bridge's gateway and the node
# port, where the proxy also serves node ports (--nodeport-address 127.0.0.1,<gateway>), as
# docs/proxy.md describes. Also: only Services that exist when the container starts, the
# container's own env wins, headless and node-port-less Services are left out, and
# enableServiceLinks: false turns the variables off.

test_description='service links: pods reach Services through kubelet-style variables'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth curl docker

test_docker_node t6300
GW=$(timeout 10 docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null)
[ -n "$GW" ] || test_missing_prereq "the Docker bridge network has no gateway"

# A node port in the Service range that nothing here listens on.
free_node_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((30000 + RANDOM % 2700))
		test_port_free $p && ! (exec 9<>"/dev/tcp/$GW/$p") 2>/dev/null && { echo $p; return; }
	done
	return 1
}

BERTH_SERVER_ARGS="--no-scheduler --policies $TOP/policies --lua $TOP/lua --plugins $TOP/plugins"
setup_berth

test_expect_success 'an agent and a proxy serving node ports on loopback and the bridge' '
	AGENT_PORT=$(test_free_port) &&
	{ "$BERTH_BIN" agent --server "$BERTH_URL" --node-name "$NODE" --root-dir "$TRASH/root" \
		--listen "127.0.0.1:$AGENT_PORT" </dev/null >>"$TRASH/agent.log" 2>&1 & } &&
	AGENT_PID=$! &&
	test_bg_pid $AGENT_PID &&
	{ "$BERTH_BIN" proxy --server "$BERTH_URL" --node-name "$NODE" --metrics-listen "" \
		--nodeport-address "127.0.0.1,docker0" </dev/null >>"$TRASH/proxy.log" 2>&1 & } &&
	PROXY_PID=$! &&
	test_bg_pid $PROXY_PID &&
	test_wait_until 20 k get node $NODE
'

pod_yaml() { # NAME COMMAND [EXTRA-SPEC-LINES]
	cat <<-EOF
	apiVersion: v1
	kind: Pod
	metadata: {name: $1, labels: {app: $1}}
	spec:
	  nodeName: $NODE
	  terminationGracePeriodSeconds: 1
	$3
	  containers:
	  - name: c
	    image: berth/busybox:latest
	    imagePullPolicy: Never
	    command: [sh, -c, '$2']
	EOF
}

running() { test "$(k get pod $1 -o jsonpath={.status.phase})" = Running; }

test_expect_success 'a web pod behind a NodePort Service, and a headless one' '
	NP=$(free_node_port) &&
	pod_yaml web "mkdir -p /www && echo web-answers >/www/index.html && exec httpd -f -p 8080 -h /www" |
		k apply -f - &&
	k create service nodeport web --tcp=80:8080 --node-port=$NP &&
	k create service clusterip plain --tcp=81:8080 &&
	k create service clusterip headless --clusterip=None &&
	test_wait_until 60 running web &&
	test_wait_until 20 curl -sf http://127.0.0.1:$NP/
'

test_expect_success 'a pod started after them gets the variables and reaches web through them' '
	pod_yaml client "env >/tmp/env; i=0; while [ \$i -lt 30 ]; do wget -qO- http://\$WEB_SERVICE_HOST:\$WEB_SERVICE_PORT/ && break; i=\$((i+1)); sleep 1; done; sleep 3600" \
		"" | k apply -f - &&
	test_wait_until 60 running client &&
	test_wait_until 30 sh -c "$KUBECTL --server $BERTH_URL logs client | grep -q web-answers" &&
	k exec client -- cat /tmp/env >env.out &&
	grep "^WEB_" env.out | sort >actual &&
	cat >expect <<-EOF &&
	WEB_PORT=tcp://$GW:$NP
	WEB_PORT_80_TCP=tcp://$GW:$NP
	WEB_PORT_80_TCP_ADDR=$GW
	WEB_PORT_80_TCP_PORT=$NP
	WEB_PORT_80_TCP_PROTO=tcp
	WEB_SERVICE_HOST=$GW
	WEB_SERVICE_PORT=$NP
	WEB_SERVICE_PORT_80_8080=$NP
	EOF
	test_cmp expect actual &&
	! grep -q "^PLAIN_\|^HEADLESS_" env.out
'

test_expect_success 'a Service created later is not in a running container; the own env wins' '
	k create service nodeport later --tcp=82:8080 &&
	k exec client -- env >env2.out &&
	! grep -q "^LATER_" env2.out &&
	pod_yaml own "env >/tmp/env; sleep 3600" "" | sed "s|^    command:|    env: [{name: WEB_SERVICE_HOST, value: mine}]\n    command:|" | k apply -f - &&
	test_wait_until 60 running own &&
	k exec own -- cat /tmp/env >env3.out &&
	grep -qx "WEB_SERVICE_HOST=mine" env3.out &&
	grep -q "^LATER_SERVICE_HOST=$GW$" env3.out
'

test_expect_success 'enableServiceLinks: false gives none' '
	pod_yaml nolinks "env >/tmp/env; sleep 3600" "  enableServiceLinks: false" | k apply -f - &&
	test_wait_until 60 running nolinks &&
	k exec nolinks -- cat /tmp/env >env4.out &&
	! grep -q "_SERVICE_HOST=" env4.out
'

test_expect_success 'clean up' '
	k delete pods --all --wait=false &&
	test_wait_until 60 sh -c "test -z \"\$(docker ps -aq --filter label=berth.node=$NODE)\""
'

test_done
