#!/bin/bash
# bench/deploy.sh: a Deployment of many replicas on many simulated nodes, created to all pods
# bound and Ready, then a rolling update of it (issue 4's benchmark).
#
# A private redis-server and `berth server` (scheduler and controllers inside), NODES nodes
# created through the API, bench/fakelet standing in for their agents (bound pods turn Running
# and Ready, deleted ones are confirmed gone). Then `kubectl create deployment` with REPLICAS
# replicas and a wait until status.availableReplicas reaches it; then `kubectl set image` and
# a wait until the rollout is complete. CPU seconds are read from /proc for the control plane
# (berth server, redis-server) and the fakelet. The reference, in the same run, is the time
# to create the same number of pods with bench/loadgen against a fresh server (no
# scheduler, no controllers): the floor the API and store set.
# Results: docs/benchmarks-controllers.md. Traffic only to 127.0.0.1; every wait bounded.
#
#   DEPLOY_NODES=1000 DEPLOY_REPLICAS=10000
#   DEPLOY_SCHEDULER=separate   (default) the scheduler as its own process (berth scheduler),
#                               as a cluster runs it, with a core of its own; =inside: in
#                               berth server with the API and the controllers
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
berth=$top/bin/berth
fakelet=$top/build/bench/fakelet
loadgen=$top/build/bench/loadgen
kubectl=$top/.tools/bin/kubectl
nodes=${DEPLOY_NODES:-1000}
replicas=${DEPLOY_REPLICAS:-10000}
work=$(mktemp -d /tmp/berth-deploy.XXXXXX)
split=${DEPLOY_SCHEDULER:-separate}
redis_pid= berth_pid= fake_pid= sched_pid=
cleanup() {
    for p in $fake_pid $sched_pid $berth_pid $redis_pid; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

for t in "$berth" "$fakelet" "$loadgen" "$kubectl"; do
    [ -x "$t" ] || { echo "deploy: $t is missing (make all bench tools)" >&2; exit 1; }
done

free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 12000))   # below the ephemeral ports (32768-)
        (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}

start() {
    local sock=$work/redis/redis.sock
    rm -rf "$work/redis" && mkdir -p "$work/redis"
    redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no --dir "$work/redis" \
        >/dev/null 2>&1 &
    redis_pid=$!
    for _ in $(seq 1 50); do redis-cli -s "$sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
    PORT=$(free_port)
    URL=http://127.0.0.1:$PORT
    "$berth" server --redis "unix://$sock" --listen "127.0.0.1:$PORT" --log-level warn "$@" \
        >>"$work/berth.log" 2>&1 &
    berth_pid=$!
    for _ in $(seq 1 100); do curl -sf "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    cat >"$work/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: b, cluster: {server: "$URL"}}]
contexts: [{name: b, context: {cluster: b}}]
current-context: b
EOF
}

stop() {
    for p in $fake_pid $sched_pid $berth_pid $redis_pid; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
    done
    fake_pid= sched_pid= berth_pid= redis_pid=
}

k() { KUBECONFIG=$work/kubeconfig "$kubectl" "$@"; }

cpu() {   # cpu PID...: user+system seconds so far, summed
    local p sum=0 v
    for p in "$@"; do
        v=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$p/stat" 2>/dev/null || echo 0)
        sum=$(echo "$sum + $v" | bc -l)
    done
    echo "$sum"
}

now() { date +%s.%N; }

make_nodes() {
    seq 1 "$1" | xargs -P 8 -I{} curl -s -o /dev/null -X POST "$URL/api/v1/nodes" \
        -H 'Content-Type: application/json' -d '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-{}","labels":{"kubernetes.io/os":"linux","kubernetes.io/hostname":"node-{}"}},"status":{"allocatable":{"cpu":"64","memory":"256Gi","pods":"110"},"capacity":{"cpu":"64","memory":"256Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True"}]}}'
}

# wait_for JSONPATH-EXPR VALUE SECONDS: poll the deployment until the expression prints VALUE
wait_for() {
    local end=$(( $(date +%s) + $3 ))
    while [ "$(date +%s)" -lt "$end" ]; do
        [ "$(k get deploy bench -o jsonpath="$1" 2>/dev/null)" = "$2" ] && return 0
        sleep 0.5
    done
    return 1
}

# Reference: the same number of pods merely created, no scheduler, no controllers.
start --no-scheduler --no-controllers
t0=$(now)
"$loadgen" -p "$PORT" -m create -c 20 -N "$replicas" -s default -b "$top/bench/pod.json" -P ref >/dev/null
t1=$(now)
ref_s=$(echo "$t1 - $t0" | bc -l)
stop

if [ "$split" = separate ]; then
    start --controller-resync-seconds 300 --no-scheduler
    "$berth" scheduler --server "$URL" --log-level warn >>"$work/scheduler.log" 2>&1 &
    sched_pid=$!
else
    start --controller-resync-seconds 300
fi
make_nodes "$nodes"
"$fakelet" --server "$URL" --heartbeat 10 >>"$work/fakelet.log" 2>&1 &
fake_pid=$!
sleep 1
c0_berth=$(cpu $berth_pid $sched_pid); c0_redis=$(cpu "$redis_pid"); c0_fake=$(cpu "$fake_pid")
t0=$(now)
k create deployment bench --image=registry.example.com/web:1 --replicas="$replicas" >/dev/null
ok=1
wait_for '{.status.availableReplicas}' "$replicas" 900 || ok=0
t1=$(now)
up_s=$(echo "$t1 - $t0" | bc -l)
c1_berth=$(cpu $berth_pid $sched_pid); c1_redis=$(cpu "$redis_pid"); c1_fake=$(cpu "$fake_pid")
echo "deploy: scale-up to $replicas on $nodes nodes: $(printf %.1f "$up_s") s (ok=$ok)"

t0=$(now)
k set image deployment/bench web=registry.example.com/web:2 >/dev/null
ok2=1
wait_for '{.status.updatedReplicas}/{.status.availableReplicas}/{.status.replicas}' "$replicas/$replicas/$replicas" 1200 || ok2=0
t1=$(now)
roll_s=$(echo "$t1 - $t0" | bc -l)
c2_berth=$(cpu $berth_pid $sched_pid); c2_redis=$(cpu "$redis_pid"); c2_fake=$(cpu "$fake_pid")
echo "deploy: rolling update: $(printf %.1f "$roll_s") s (ok=$ok2)"
# Where the controller manager's time went, over both steps.
sync_ms=$(curl -s "$URL/metrics" | sed -n 's/^berth_controller_sync_milliseconds_total{controller="\([^"]*\)"} \(.*\)/| \1 | \2 |/p')
stop

f() { printf '%.1f' "$1"; }
{
    echo "# Benchmarks: the controllers"
    echo
    echo "Generated by \`bench/deploy.sh\`; run it again rather than editing."
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    if [ "$split" = separate ]; then
        echo "- \`berth server\` (API, controllers) and \`berth scheduler\` (default policy) as two processes,"
    else
        echo "- One \`berth server\` (API, scheduler with the default policy, controllers),"
    fi
    echo "  redis-server on a unix socket, $nodes nodes, bench/fakelet as the agents of all of them."
    echo
    echo "| Step | Time | berth CPU s | redis CPU s | fakelet CPU s | Reference | Target |"
    echo "|---|---|---|---|---|---|---|"
    echo "| Deployment of $replicas replicas: created to all Ready | $(f "$up_s") s$([ $ok = 1 ] || echo ' (not finished)') | $(f "$(echo "$c1_berth - $c0_berth" | bc -l)") | $(f "$(echo "$c1_redis - $c0_redis" | bc -l)") | $(f "$(echo "$c1_fake - $c0_fake" | bc -l)") | $replicas pods created with loadgen: $(f "$ref_s") s (ratio $(printf %.1f "$(echo "$up_s / $ref_s" | bc -l)")) | < 30 s |"
    echo "| Rolling update (set image), 25% surge / 25% unavailable | $(f "$roll_s") s$([ $ok2 = 1 ] || echo ' (not finished)') | $(f "$(echo "$c2_berth - $c1_berth" | bc -l)") | $(f "$(echo "$c2_redis - $c1_redis" | bc -l)") | $(f "$(echo "$c2_fake - $c1_fake" | bc -l)") | | |"
    echo
    echo "The scale-up includes every pod's creation by the ReplicaSet controller, its scheduling"
    echo "and binding, its status write by the fakelet, and the controllers' status updates."
    echo
    echo "Time in controller syncs over both steps (berth_controller_sync_milliseconds_total):"
    echo
    echo "| Controller | ms |"
    echo "|---|---|"
    printf '%s\n' "$sync_ms"
} >"$top/docs/benchmarks-controllers.md"
cat "$top/docs/benchmarks-controllers.md"
