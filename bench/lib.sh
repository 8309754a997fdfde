# bench/lib.sh: what the control-plane benchmark scripts share (sourced by deploy.sh and
# workloads.sh). The caller sets: top (the checkout), work (a private temporary directory),
# berth, kubectl. It gets: start [SERVER-FLAGS...] (a private redis-server on a unix socket
# and `berth server` on a free loopback port: $URL, $PORT, $work/kubeconfig), stop, k
# (kubectl against it), cpu PID..., now, make_nodes N, free_port. Every wait is bounded;
# traffic only to 127.0.0.1.

redis_pid= berth_pid= fake_pid= sched_pid=

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
    cat >"$work/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: b, cluster: {server: "$URL"}}]
contexts: [{name: b, context: {cluster: b}}]
current-context: b
KC
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

# make_nodes N [FIRST]: Ready nodes node-FIRST.. through the API (FIRST defaults to 1)
make_nodes() {
    local first=${2:-1}
    seq "$first" $((first + $1 - 1)) | xargs -P 8 -I{} curl -s -o /dev/null -X POST "$URL/api/v1/nodes" \
        -H 'Content-Type: application/json' -d '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-{}","labels":{"kubernetes.io/os":"linux","kubernetes.io/hostname":"node-{}"}},"status":{"allocatable":{"cpu":"64","memory":"256Gi","pods":"110"},"capacity":{"cpu":"64","memory":"256Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True"}]}}'
}
