#!/bin/bash
# scripts/run.sh: `make run`: a one-machine cluster with the hello example running on it.
#
#   1. what is missing is installed and berth is built (the Makefile's run target does both
#      before calling this; run by hand, this script does them, both are no-ops when done);
#   2. `berth up` in the background of this script: a private Redis, the API server with
#      the scheduler and controllers, a node agent (node-1, pods as Docker containers) and
#      the service proxy, with its data, logs and kubeconfig under .run/ (docs/up.md);
#   3. the local images the example uses (scripts/test-images.sh: berth/pause, berth/busybox,
#      no registry);
#   4. examples/hello/ applied (`berth apply`, or kubectl from .tools/bin while the berth CLI
#      cannot apply yet): a Deployment of three web pods behind a NodePort Service, which
#      answers round robin from those pods on http://127.0.0.1:30080/;
#   5. then it waits on berth up. Ctrl-C stops everything (the pods keep running and are
#      adopted next time); `make run` again resumes the same cluster.
#
#   BERTH_DATA   data directory (default .run/ in the repository)
#   BERTH_LISTEN address of the API (default 127.0.0.1:6443)
#   BERTH_NODES  how many nodes (default: 1 on a new data directory, else as last time)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
data=${BERTH_DATA:-$top/.run}
listen=${BERTH_LISTEN:-127.0.0.1:6443}
berth=$top/bin/berth
kubeconfig=$data/kubeconfig
hello=$top/examples/hello
nodeport=$(sed -n 's/.*nodePort: *\([0-9][0-9]*\).*/\1/p' "$hello/service.yaml" | head -n 1)
url=http://127.0.0.1:${nodeport:-30080}/

say() { printf 'run: %s\n' "$*"; }
die() {
	printf 'run: %s\n' "$*" >&2
	exit 1
}

# ---- 1. dependencies and the build (make run did both already)
if [ -z "${MAKELEVEL:-}" ]; then
	"$top/scripts/install-deps.sh"
	make -s -C "$top" all
	[ -x "$top/.tools/bin/kubectl" ] || "$top/scripts/fetch-tools.sh" ||
		say "kubectl could not be fetched; using the berth CLI alone"
fi
[ -x "$berth" ] || die "$berth is missing: run make"
kubectl=$top/.tools/bin/kubectl
[ -x "$kubectl" ] || kubectl=$(command -v kubectl || true)

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -n "$nodeport" ] && port_taken "$nodeport"; then
	say "warning: something already listens on 127.0.0.1:$nodeport, so the hello Service's node"
	say "port will not answer there (another make run or berth up? stop it first)"
fi

# ---- 2. berth up, in the background of this script. Its output goes to the terminal and to
# $data/logs/up.out (read below for "the cluster is up"); the tee ignores SIGINT so that it
# still shows berth up's last words after a Ctrl-C.
mkdir -p "$data/logs"
up_out=$data/logs/up.out
: >"$up_out"
up_args=(--data-dir "$data" --listen "$listen")
[ -z "${BERTH_NODES:-}" ] || up_args+=(--nodes "$BERTH_NODES")
"$berth" up "${up_args[@]}" > >(trap '' INT; exec tee -a "$up_out") 2>&1 &
up_pid=$!

# shellcheck disable=SC2317 # called from the traps
stop() {
	trap - EXIT INT TERM
	if kill -0 "$up_pid" 2>/dev/null; then
		kill -INT "$up_pid" 2>/dev/null || true
		# berth up stops its parts in order, each within seconds; 90 s bounds the lot.
		for _ in $(seq 1 900); do
			kill -0 "$up_pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	wait "$up_pid" 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

up_alive() { kill -0 "$up_pid" 2>/dev/null; }
k() { "$kubectl" --kubeconfig "$kubeconfig" "$@"; }
b() { "$berth" "$1" --kubeconfig "$kubeconfig" "${@:2}"; }

# berth up says "the cluster is up" once the API answers and the nodes are Ready (or after
# its own 90 s wait for them, saying which are not).
for _ in $(seq 1 1800); do
	grep -q "the cluster is up" "$up_out" && break
	if ! up_alive; then
		wait "$up_pid" && rc=0 || rc=$?
		trap - EXIT INT TERM
		die "berth up exited (status $rc); its messages are above, the logs in $data/logs/"
	fi
	sleep 0.1
done
grep -q "the cluster is up" "$up_out" ||
	die "berth up did not come up within 3 minutes; see $data/logs/"

# ---- 3. the local images (Docker answers now: berth up made sure of it)
applied=
images=1
if ! "$top/scripts/test-images.sh" >"$data/logs/images.log" 2>&1; then
	cat "$data/logs/images.log" >&2
	say "building the local images failed (log: $data/logs/images.log), so the hello example"
	say "is not applied; the cluster keeps running (Ctrl-C stops it)"
	images=
fi

# ---- 4. the hello example
if [ -z "$images" ]; then
	:
elif out=$(b apply -f "$hello/" 2>&1); then
	printf '%s\n' "$out"
	applied=berth
elif [ -n "$kubectl" ]; then
	# "not available yet" while the berth CLI's apply is being written; any other failure
	# is shown, and kubectl gets its turn.
	printf '%s' "$out" | grep -q "not available yet" ||
		{ printf '%s\n' "$out" >&2; say "berth apply failed; applying with kubectl instead"; }
	k apply -f "$hello/" && applied=kubectl
else
	printf '%s\n' "$out" >&2
	say "applying $hello failed; the cluster keeps running (Ctrl-C stops it)"
fi

if [ -n "$applied" ]; then
	if [ -n "$kubectl" ]; then
		k rollout status deployment/hello --timeout=180s || true
	else
		b rollout status deployment/hello --timeout=180s || true
	fi
	# Round robin over the ready endpoints: a few requests, one connection each, should
	# meet every pod; 60 s for the proxy and the Endpoints to catch up.
	seen=
	for _ in $(seq 1 30); do
		seen=$(for _ in 1 2 3 4 5 6; do curl -s --max-time 2 "$url" || true; done | sort -u)
		[ "$(printf '%s\n' "$seen" | grep -c '^hello from')" -ge 3 ] && break
		up_alive || break
		sleep 2
	done
	kc="kubectl"
	[ "$kubectl" = "$top/.tools/bin/kubectl" ] && kc=".tools/bin/kubectl"
	n=$(printf '%s\n' "$seen" | grep -c '^hello from' || true)
	if [ "$n" -ge 3 ]; then
		printf '\nThe hello example answers on %s, round robin from its three pods:\n' "$url"
		printf '%s\n' "$seen" | sed 's/^/    /'
	else
		printf '\nThe hello example does not answer on %s from three pods yet (%s seen):\n' \
			"$url" "$n"
		printf '    %s get pods -o wide; logs in %s/logs/\n' "$kc" "$data"
	fi
	cat <<EOF

Try next (from $top):
    curl $url                    # again: the next pod answers
    export KUBECONFIG=$kubeconfig
    $kc get pods,svc,endpoints -o wide
    $kc scale deployment/hello --replicas=5
    $kc apply -f examples/web/web.yaml && $kc rollout status deployment/web
    $kc delete -f examples/hello/
    bin/berth get pods                          # the berth CLI reads the same kubeconfig

Logs: $data/logs/. Ctrl-C stops the cluster (the pods keep running); make run resumes it.
EOF
fi

# ---- 5. wait on berth up
set +e
wait "$up_pid"
rc=$?
trap - EXIT
exit $rc
