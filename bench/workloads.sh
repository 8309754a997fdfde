#!/bin/bash
# bench/workloads.sh: DaemonSets and StatefulSets on many simulated nodes, each timed against
# a Deployment of the same number of pods in the same run (the ReplicaSet path, measured in
# docs/benchmarks-controllers.md), so the ratios say what the two controllers cost beyond it
# on this noisy machine.
#
# A private redis-server, `berth server` (API, controllers) and `berth scheduler` as two
# processes, NODES nodes created through the API, bench/fakelet standing in for their agents
# (pods turn Running and Ready when bound, deleted ones are confirmed gone). Steps, each from
# kubectl's create to the status that says done:
#   1. reference: a Deployment of NODES replicas, to all available;
#   2. a DaemonSet on every node (NODES pods), to numberAvailable = NODES;
#   3. its rolling update (set env) with maxUnavailable 10%, to all updated and available;
#      reference: the Deployment's rolling update with maxSurge 0 / maxUnavailable 10%;
#   4. NEW nodes added while the DaemonSet runs, to a pod on each (every node event resyncs
#      every DaemonSet: docs/controllers.md);
#   5. a StatefulSet of STS pods, podManagementPolicy Parallel, to all ready; reference: a
#      Deployment of STS replicas;
#   6. a StatefulSet of ORDERED pods, OrderedReady (one pod at a time), to all ready;
#      reference: a Parallel StatefulSet of the same size, to show what ordering costs.
# CPU seconds are read from /proc. Results: docs/benchmarks-workloads.md.
#
#   WL_NODES=2000 WL_NEW=200 WL_STS=2000 WL_ORDERED=100 (the defaults)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
berth=$top/bin/berth
fakelet=$top/build/bench/fakelet
kubectl=$top/.tools/bin/kubectl
nodes=${WL_NODES:-2000}
new_nodes=${WL_NEW:-200}
sts_n=${WL_STS:-2000}
ordered_n=${WL_ORDERED:-100}
work=$(mktemp -d /tmp/berth-workloads.XXXXXX)
. "$top/bench/lib.sh"
cleanup() {
    stop
    rm -rf "$work"
}
trap cleanup EXIT

for t in "$berth" "$fakelet" "$kubectl"; do
    [ -x "$t" ] || { echo "workloads: $t is missing (make all tools)" >&2; exit 1; }
done

# wait_for RESOURCE JSONPATH-EXPR VALUE SECONDS: poll until the expression prints VALUE
wait_for() {
    local end=$(( $(date +%s) + $4 ))
    while [ "$(date +%s)" -lt "$end" ]; do
        [ "$(k get "$1" -o jsonpath="$2" 2>/dev/null)" = "$3" ] && return 0
        sleep 0.25
    done
    echo "workloads: timed out waiting for $1 $2 = $3 (have $(k get "$1" -o jsonpath="$2" 2>/dev/null))" >&2
    return 1
}

# step NAME CMD...: run CMD, record its time in secs[NAME] and the control plane's CPU in
# cpus[NAME] (berth server + scheduler + redis)
declare -A secs cpus
step() {
    local name=$1 t0 t1 c0 c1
    shift
    c0=$(cpu $berth_pid $sched_pid $redis_pid)
    t0=$(now)
    "$@"
    t1=$(now)
    c1=$(cpu $berth_pid $sched_pid $redis_pid)
    secs[$name]=$(echo "$t1 - $t0" | bc -l)
    cpus[$name]=$(echo "$c1 - $c0" | bc -l)
    printf 'workloads: %s: %.1f s, %.1f CPU s\n' "$name" "${secs[$name]}" "${cpus[$name]}"
}

deploy_up() {   # deploy_up NAME N
    k create deployment "$1" --image=registry.example.com/web:1 --replicas="$2" >/dev/null
    wait_for "deploy/$1" '{.status.availableReplicas}' "$2" 600
}

deploy_roll() {   # deploy_roll NAME N
    k patch deploy "$1" --type merge \
        -p '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":0,"maxUnavailable":"10%"}}}}' >/dev/null
    k set env "deploy/$1" V=2 >/dev/null
    local gen
    gen=$(k get "deploy/$1" -o jsonpath='{.metadata.generation}')
    wait_for "deploy/$1" '{.status.observedGeneration}/{.status.updatedReplicas}/{.status.availableReplicas}/{.status.replicas}' "$gen/$2/$2/$2" 900
}

ds_up() {
    cat <<EOF | k apply -f - >/dev/null
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: bench-ds}
spec:
  selector: {matchLabels: {app: bench-ds}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: "10%"}}
  template:
    metadata: {labels: {app: bench-ds}}
    spec:
      containers: [{name: c, image: registry.example.com/agent:1}]
EOF
    wait_for ds/bench-ds '{.status.numberAvailable}' "$nodes" 600
}

ds_roll() {
    k set env ds/bench-ds V=2 >/dev/null
    local gen
    gen=$(k get ds/bench-ds -o jsonpath='{.metadata.generation}')
    # the status of this generation: before the controller saw the change, the old one
    # already reads "all updated"
    wait_for ds/bench-ds '{.status.observedGeneration}/{.status.updatedNumberScheduled}/{.status.numberAvailable}' "$gen/$nodes/$nodes" 900
}

ds_new_nodes() {
    make_nodes "$new_nodes" $((nodes + 1))
    local all=$((nodes + new_nodes))
    wait_for ds/bench-ds '{.status.numberAvailable}' "$all" 600
}

sts_up() {   # sts_up NAME N POLICY
    cat <<EOF | k apply -f - >/dev/null
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: $1}
spec:
  replicas: $2
  podManagementPolicy: $3
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      containers: [{name: c, image: registry.example.com/db:1}]
EOF
    wait_for "sts/$1" '{.status.readyReplicas}' "$2" 900
}

start --controller-resync-seconds 300 --no-scheduler
"$berth" scheduler --server "$URL" --log-level warn >>"$work/scheduler.log" 2>&1 &
sched_pid=$!
make_nodes "$nodes"
"$fakelet" --server "$URL" --heartbeat 10 >>"$work/fakelet.log" 2>&1 &
fake_pid=$!
sleep 1

step deploy_up deploy_up ref "$nodes"
step ds_up ds_up
step deploy_roll deploy_roll ref "$nodes"
step ds_roll ds_roll
step ds_new_nodes ds_new_nodes
k delete deploy ref --wait=false >/dev/null
step deploy_sts_ref deploy_up ref2 "$sts_n"
step sts_parallel sts_up par "$sts_n" Parallel
step sts_parallel_small sts_up par-small "$ordered_n" Parallel
step sts_ordered sts_up ord "$ordered_n" OrderedReady
sync_ms=$(curl -s "$URL/metrics" | sed -n 's/^berth_controller_sync_milliseconds_total{controller="\([^"]*\)"} \(.*\)/| \1 | \2 |/p')
stop

f() { printf '%.1f' "$1"; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
row() {   # row LABEL STEP [REF-STEP REF-LABEL]
    local r=""
    [ -n "${3:-}" ] && r="$4: $(f "${secs[$3]}") s (ratio $(ratio "${secs[$2]}" "${secs[$3]}"))"
    echo "| $1 | $(f "${secs[$2]}") s | $(f "${cpus[$2]}") | $r |"
}
{
    echo "# Benchmarks: DaemonSets and StatefulSets"
    echo
    echo "Generated by \`bench/workloads.sh\`; run it again rather than editing."
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "- \`berth server\` (API, controllers) and \`berth scheduler\` as two processes, redis-server"
    echo "  on a unix socket, $nodes nodes (then $((nodes + new_nodes))), bench/fakelet as the agents of all of them."
    echo "- Each step from kubectl's create (or change) to the status that says done; the reference"
    echo "  is a Deployment of as many pods, in the same run, so the ratio is what the controller"
    echo "  costs beyond the ReplicaSet path (creating, scheduling and binding are the same work)."
    echo
    echo "| Step | Time | Control plane CPU s | Reference (same run) |"
    echo "|---|---|---|---|"
    row "DaemonSet on $nodes nodes: created to all available" ds_up deploy_up "Deployment of $nodes"
    row "DaemonSet rolling update, maxUnavailable 10%" ds_roll deploy_roll "Deployment rolling update, maxSurge 0, maxUnavailable 10%"
    row "$new_nodes nodes added: a DaemonSet pod on each" ds_new_nodes
    row "StatefulSet of $sts_n, Parallel: created to all ready" sts_parallel deploy_sts_ref "Deployment of $sts_n"
    row "StatefulSet of $ordered_n, OrderedReady: one pod at a time" sts_ordered sts_parallel_small "StatefulSet of $ordered_n, Parallel"
    echo
    echo "OrderedReady creates a pod only once the one before is Running and Ready, so its time"
    echo "is $ordered_n round trips of create, schedule, bind and the fakelet's status write, one after"
    echo "the other: $(f "$(echo "${secs[sts_ordered]} * 1000 / $ordered_n" | bc -l)") ms per pod here."
    echo
    echo "Time in controller syncs over all steps (berth_controller_sync_milliseconds_total):"
    echo
    echo "| Controller | ms |"
    echo "|---|---|"
    printf '%s\n' "$sync_ms"
} >"$top/docs/benchmarks-workloads.md"
cat "$top/docs/benchmarks-workloads.md"
