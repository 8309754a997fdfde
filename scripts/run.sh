#!/bin/bash
# scripts/run.sh: `make run`: a one-machine cluster in the foreground: a Redis store, the
# berth API server (scheduler and controllers inside), and, when a Docker engine answers, a
# node agent for this host (`berth agent`, pods as containers) and the service proxy (`berth
# proxy`), with a kubeconfig for kubectl. Ctrl-C stops them all; running it again resumes the
# same data (Redis keeps an append-only file under the data directory).
#
#   BERTH_DATA   data directory (default .run/ in the repository)
#   BERTH_LISTEN address of the API (default 127.0.0.1:6443)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
data=${BERTH_DATA:-$top/.run}
listen=${BERTH_LISTEN:-127.0.0.1:6443}
mkdir -p "$data/redis"

command -v redis-server >/dev/null || { echo "run: redis-server is missing: run 'make deps'" >&2; exit 1; }
sock=$data/redis/redis.sock
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$data/redis" \
    --appendonly yes --save '' --daemonize no --logfile "$data/redis/redis.log" &
redis_pid=$!
cleanup() {
    trap - EXIT INT TERM
    for p in ${proxy_pid:-} ${agent_pid:-}; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    [ -n "${berth_pid:-}" ] && kill "$berth_pid" 2>/dev/null && wait "$berth_pid" 2>/dev/null
    kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    echo "run: stopped (data kept in $data)"
}
trap cleanup EXIT INT TERM
for _ in $(seq 1 50); do
    redis-cli -s "$sock" ping >/dev/null 2>&1 && break
    sleep 0.1
done
redis-cli -s "$sock" ping >/dev/null || { echo "run: redis-server did not start; see $data/redis/redis.log" >&2; exit 1; }

cat >"$data/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: berth
  cluster:
    server: http://$listen
users:
- name: berth
  user: {}
contexts:
- name: berth
  context: {cluster: berth, user: berth, namespace: default}
current-context: berth
KUBECONFIG

"$top/bin/berth" server --redis "unix://$sock" --listen "$listen" &
berth_pid=$!
for _ in $(seq 1 50); do
    curl -sf "http://$listen/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
node=$(hostname -s 2>/dev/null || echo node)
node=$(echo "$node" | tr 'A-Z_' 'a-z-')
if timeout 10 docker info >/dev/null 2>&1; then
    # The images the examples use (no registry needed): berth/pause and berth/busybox.
    "$top/scripts/test-images.sh" >"$data/images.log" 2>&1 ||
        echo "run: building the local images failed; see $data/images.log" >&2
    "$top/bin/berth" agent --server "http://$listen" --node-name "$node" \
        --root-dir "$data/agent" >"$data/agent.log" 2>&1 &
    agent_pid=$!
    "$top/bin/berth" proxy --server "http://$listen" --node-name "$node" \
        >"$data/proxy.log" 2>&1 &
    proxy_pid=$!
    nodes="node $node (berth agent, Docker; log in $data/agent.log) and the service proxy"
else
    nodes="no node: Docker does not answer here, so pods stay Pending (start dockerd, then 'make run' again)"
fi
kubectl=$top/.tools/bin/kubectl
[ -x "$kubectl" ] || kubectl=kubectl
cat <<EOF2

berth is serving the Kubernetes API on http://$listen (store: Redis, data in $data),
with the scheduler and controllers, and $nodes.

  export KUBECONFIG=$data/kubeconfig
  $kubectl get namespaces
  $kubectl apply -f examples/hello/
  $kubectl apply -f examples/web/web.yaml && $kubectl rollout status deployment/web
  $kubectl get all

(kubectl 1.31 is fetched into .tools/bin by 'make tools'.)
Ctrl-C stops the cluster; 'make run' again resumes it.
EOF2
wait "$berth_pid"
