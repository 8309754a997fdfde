#!/bin/bash
test_description='examples/ on a real node agent: multi-container (two containers over localhost, kubectl logs -c) and rolling-update with a second image tag'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis kubectl berth curl docker

# Images without a registry: berth/pause and berth/busybox.
test_docker_node t7510

AGENT_PID=

# The READMEs' commands run from the top of a checkout made of the real directories, with
# kubectl from PATH (bounded) and a kubeconfig naming the test's server.
CHECKOUT=$TRASH/checkout
mkdir -p "$CHECKOUT" "$TRASH/kbin"
for d in bin build examples lua plugins policies scripts; do
	ln -s "$TOP/$d" "$CHECKOUT/$d"
done
cat >"$TRASH/kbin/kubectl" <<EOF
#!/bin/sh
exec timeout 150 "$KUBECTL" --cache-dir "$TRASH/kcache" "\$@"
EOF
chmod +x "$TRASH/kbin/kubectl"

# README blocks: see t/7500-examples.t, which runs the other examples the same way.
readme_block() {
	awk -v n="$2" '
		inb && /^```/ { exit }
		inb { print; next }
		/^```sh[ \t]*$/ { c++; if (c == n) inb = 1 }' "$1"
}

readme_output() {
	awk -v n="$2" '
		st == 3 && /^```/ { exit }
		st == 3 { print; next }
		st == 2 && /^```text[ \t]*$/ { st = 3; next }
		st == 2 && /^[ \t]*$/ { next }
		st == 2 { exit }
		st == 1 && /^```/ { st = 2; next }
		st == 1 { next }
		/^```sh[ \t]*$/ { c++; if (c == n) st = 1 }' "$1"
}

readme_count() {
	grep -c '^```sh[ \t]*$' "$1"
}

readme_normalize() {
	grep -v '^Waiting for deployment' |
		sed -E -e 's/[[:space:]]+/ /g' -e 's/^ //' -e 's/ $//' |
		grep -v '^$'
}

readme_run() {
	local file=$TOP/examples/$1 rc
	readme_block "$file" "$2" >"$TRASH/block.sh"
	if ! [ -s "$TRASH/block.sh" ]; then
		echo "readme_run: $1 has no block $2" >&2
		return 1
	fi
	echo "$1 $2" >>"$TRASH/ran"
	(cd "$CHECKOUT" && PATH="$TRASH/kbin:$PATH" KUBECONFIG="$TRASH/test.kubeconfig" \
		timeout 300 bash -e -o pipefail "$TRASH/block.sh") >"$TRASH/block.out" 2>"$TRASH/block.err"
	rc=$?
	echo "--- $1, block $2 (exit $rc):"
	sed 's/^/    $ /' "$TRASH/block.sh"
	cat "$TRASH/block.out" "$TRASH/block.err"
	return $rc
}

readme_expect() {
	readme_run "$1" "$2" || return 1
	readme_output "$TOP/examples/$1" "$2" | readme_normalize >"$TRASH/expect.norm"
	readme_normalize <"$TRASH/block.out" >"$TRASH/actual.norm"
	if ! [ -s "$TRASH/expect.norm" ]; then
		echo "readme_expect: $1 shows no output after block $2" >&2
		return 1
	fi
	test_cmp "$TRASH/expect.norm" "$TRASH/actual.norm"
}

jp() {
	k get "$1" -o jsonpath="$2"
}

field_is() {
	test "$(jp "$1" "$2")" = "$3"
}

ctr_count() {
	docker ps -aq --filter "label=berth.node=$NODE" "$@" | wc -l
}

: >"$TRASH/ran"

# A server with its scheduler and controllers, and a node agent for this host: what
# `make run` starts.
BERTH_SERVER_ARGS=
setup_berth

test_expect_success 'a node agent for this host, and a kubeconfig for the README commands' '
	AGENT_PORT=$(test_free_port) &&
	{ "$BERTH_BIN" agent --server "$BERTH_URL" --node-name "$NODE" --root-dir "$TRASH/root" \
		--listen "127.0.0.1:$AGENT_PORT" </dev/null >>"$TRASH/agent.log" 2>&1 & AGENT_PID=$!; } &&
	test_bg_pid "$AGENT_PID" &&
	test_wait_until 20 field_is node/$NODE "{.status.conditions[?(@.type==\"Ready\")].status}" True &&
	PATH="$TRASH/kbin:$PATH" KUBECONFIG="$TRASH/test.kubeconfig" kubectl config set-cluster test --server="$BERTH_URL" &&
	PATH="$TRASH/kbin:$PATH" KUBECONFIG="$TRASH/test.kubeconfig" kubectl config set-context test --cluster=test &&
	PATH="$TRASH/kbin:$PATH" KUBECONFIG="$TRASH/test.kubeconfig" kubectl config use-context test
'

# ---------------------------------------------------------------------------- multi-container

MC=multi-container/README.md

test_expect_success 'multi-container: the pod runs, both containers ready' '
	readme_expect $MC 1 &&
	field_is pod/localhost-pair "{.spec.nodeName}" "$NODE" &&
	test "$(ctr_count --filter label=berth.pod.name=localhost-pair)" -eq 3
'

test_expect_success 'multi-container: the client reached the server over 127.0.0.1 (kubectl logs -c)' '
	test_wait_until 30 readme_expect $MC 2 &&
	readme_expect $MC 2 &&
	k logs localhost-pair -c client >all &&
	grep -q "^hello from the server container$" all &&
	ip=$(jp pod/localhost-pair "{.status.podIP}") && test -n "$ip" &&
	test "$ip" != 127.0.0.1
'

test_expect_success 'multi-container: clean up removes the containers' '
	readme_run $MC 3 &&
	test_wait_until 30 eval "test \"\$(ctr_count --filter label=berth.pod.name=localhost-pair)\" -eq 0" &&
	test_must_fail k get pod localhost-pair &&
	test "$(readme_count "$TOP/examples/$MC")" -eq 3
'

# ---------------------------------------------------------------------------- rolling-update

RU=rolling-update/README.md

# images_are IMAGE: frontend's pods that are not terminating are 4, all of IMAGE
images_are() {
	k get pods -l app=frontend -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}|{.spec.containers[0].image}{"\n"}{end}' |
		grep "^|" | sort | uniq -c | readme_normalize >images &&
	cat images &&
	test "$(cat images)" = "4 |$1"
}

# The README's "Nodes" step for Docker tags berth/busybox:latest as :v2 and its clean up
# removes that tag: only when no berth/busybox:v2 exists already (it is not ours to remove).
if docker image inspect berth/busybox:v2 >/dev/null 2>&1; then
	say "berth/busybox:v2 exists already: the rolling-update steps on Docker are skipped"
else
	test_set_prereq NO_V2
fi

test_expect_success NO_V2 'rolling-update on Docker: the second image tag' '
	readme_run $RU 1 &&
	test "$(docker image inspect -f "{{.Id}}" berth/busybox:v2)" = "$(docker image inspect -f "{{.Id}}" berth/busybox:latest)"
'

test_expect_success NO_V2 'rolling-update on Docker: roll out, set image, undo' '
	readme_run $RU 3 &&
	field_is deployment/frontend "{.status.availableReplicas}" 4 &&
	readme_run $RU 5 &&
	images_are berth/busybox:v2 &&
	test "$(docker ps -q --filter "label=berth.node=$NODE" --filter ancestor=berth/busybox:v2 | wc -l)" -ge 1 &&
	readme_expect $RU 8
'

test_expect_success NO_V2 'rolling-update on Docker: clean up, the tag removed' '
	readme_run $RU 9 &&
	test_wait_until 60 eval "test -z \"\$(k get pods -o name)\"" &&
	readme_run $RU 11 &&
	test_must_fail docker image inspect berth/busybox:v2 >/dev/null 2>&1 &&
	docker image inspect berth/busybox:latest >/dev/null
'

test_expect_success 'the agent'"'"'s containers are gone' '
	test_wait_until 30 eval "test \"\$(ctr_count)\" -eq 0" ||
	{ docker ps -a --filter "label=berth.node=$NODE"; false; }
'

test_done
