#!/bin/bash
# bench/podstart.sh: pod startup latency through berth against a bare `docker run` of the
# same image and command, into docs/benchmarks-agent.md.
#
# One private cluster (redis-server, `berth server` with its scheduler, one `berth agent` on
# the local Docker engine). For each of ROUNDS rounds, in alternation so both see the same
# machine load:
#   berth   POST a pod (berth/busybox, `sleep 3600`) and time until a watch on it reports
#           phase Running: scheduling, binding, the agent's infra and app containers, the
#           status write and the watch event, as a user of kubectl would see it
#   docker  create + start of a container of the same image and command through the Docker
#           Engine API (what `docker run -d` does, without the CLI's own start-up cost)
#   cli     `docker run -d` itself, for reference
# It reports p50 and p90 of each and the p50 ratio berth/docker (target: 1.25 or less).
#
# Usage: bench/podstart.sh [--no-write]   (env: ROUNDS=20 BERTH_BIN)
# Needs redis-server, node, a Docker engine and the local images (scripts/test-images.sh).
# Everything it starts, containers included, is removed on exit.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BERTH_BIN=${BERTH_BIN:-$top/bin/berth}
ROUNDS=${ROUNDS:-20}
write=1
[ "${1:-}" = --no-write ] && write=0
work=$(mktemp -d /tmp/berth-podstart.XXXXXX)
node_name=podstart-$$
pids=()
die() { echo "bench/podstart.sh: $*" >&2; exit 1; }
cleanup() {
	set +e
	if [ -n "${api:-}" ]; then
		curl -s -X DELETE "$api/api/v1/namespaces/default/pods" >/dev/null 2>&1
	fi
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ids=$(docker ps -aq --filter "label=berth.node=$node_name"; docker ps -aq --filter "label=berth.bench=$node_name")
	[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

command -v redis-server >/dev/null || die "redis-server is missing"
command -v node >/dev/null || die "node is missing"
timeout 10 docker info >/dev/null 2>&1 || die "no Docker engine answers"
docker image inspect berth/busybox >/dev/null 2>&1 || "$top/scripts/test-images.sh" >/dev/null

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 12000))   # below the ephemeral ports (32768-)
		(exec 9<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
	die "no free port"
}

redis-server --port 0 --unixsocket "$work/redis.sock" --save '' --appendonly no \
	--daemonize no --logfile "$work/redis.log" </dev/null >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -s "$work/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
port=$(free_port)
api=http://127.0.0.1:$port
"$BERTH_BIN" server --redis "unix://$work/redis.sock" --listen "127.0.0.1:$port" \
	--policies "$top/policies" --lua "$top/lua" --plugins "$top/plugins" \
	</dev/null >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "$api/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
"$BERTH_BIN" agent --server "$api" --node-name "$node_name" --root-dir "$work/agent" \
	--listen "127.0.0.1:$(free_port)" ${AGENT_ARGS:-} </dev/null >"$work/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	curl -s "$api/api/v1/nodes/$node_name" | grep -q '"type":"Ready","status":"True"' && break
	sleep 0.2
done
curl -s "$api/api/v1/nodes/$node_name" | grep -q '"type":"Ready","status":"True"' ||
	die "node $node_name did not become Ready; see $work/agent.log (KEEP=1 keeps it)"

cat >"$work/measure.js" <<'EOF'
// measure.js API ROUNDS NODE: alternate berth pods and bare Docker containers, print JSON.
const http = require("http");
const { execFileSync } = require("child_process");
const [api, rounds, node] = [process.argv[2], +process.argv[3], process.argv[4]];
const u = new URL(api);
const boundMs = [];   // create to bound (the scheduler's share), per berth round

function req(opts, body) {
	return new Promise((resolve, reject) => {
		const r = http.request(opts, (res) => {
			let data = "";
			res.on("data", (c) => (data += c));
			res.on("end", () => resolve({ status: res.statusCode, body: data }));
		});
		r.on("error", reject);
		r.setTimeout(60000, () => r.destroy(new Error("timeout")));
		if (body) r.write(body);
		r.end();
	});
}
const apiReq = (method, path, body) => req({ host: u.hostname, port: u.port, method, path,
	headers: { "Content-Type": "application/json" } }, body && JSON.stringify(body));
const dockerReq = (method, path, body) => req({ socketPath: "/var/run/docker.sock", method,
	path: "/v1.41" + path, headers: { "Content-Type": "application/json" } },
	body && JSON.stringify(body));

// Resolves with the time the pod was first reported Running by a watch opened before it
// was created.
function watchRunning(name) {
	let resolveFn, rejectFn, bound = null;
	const done = new Promise((res, rej) => { resolveFn = res; rejectFn = rej; });
	const r = http.get({ host: u.hostname, port: u.port,
		path: `/api/v1/namespaces/default/pods?watch=true&fieldSelector=metadata.name%3D${name}` },
		(res) => {
			let buf = "";
			res.on("data", (c) => {
				buf += c;
				let i;
				while ((i = buf.indexOf("\n")) >= 0) {
					const line = buf.slice(0, i);
					buf = buf.slice(i + 1);
					try {
						const ev = JSON.parse(line);
						if (!bound && ev.object && ev.object.spec && ev.object.spec.nodeName)
							bound = process.hrtime.bigint();
						if (ev.object && ev.object.status && ev.object.status.phase === "Running") {
							resolveFn([bound, process.hrtime.bigint()]);
							r.destroy();
						}
					} catch (e) {}
				}
			});
		});
	r.on("error", () => {});
	const t = setTimeout(() => rejectFn(new Error(`pod ${name} not Running after 60 s`)), 60000);
	return { ready: new Promise((res) => r.on("response", () => res())), done: done.finally(() => clearTimeout(t)) };
}

async function berthOnce(i) {
	const name = `podstart-${i}`;
	const w = watchRunning(name);
	await w.ready;
	const t0 = process.hrtime.bigint();
	const res = await apiReq("POST", "/api/v1/namespaces/default/pods", {
		apiVersion: "v1", kind: "Pod", metadata: { name },
		spec: { restartPolicy: "Never", terminationGracePeriodSeconds: 0,
			containers: [{ name: "c", image: "berth/busybox", imagePullPolicy: "Never",
				command: ["sleep", "3600"] }] } });
	if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${res.body}`);
	const [tb, t1] = await w.done;
	boundMs.push(tb ? Number(tb - t0) / 1e6 : NaN);
	return Number(t1 - t0) / 1e6;
}

async function dockerOnce(i) {
	const t0 = process.hrtime.bigint();
	const c = await dockerReq("POST", `/containers/create?name=${node}-bare-${i}`, {
		Image: "berth/busybox", Cmd: ["sleep", "3600"], Labels: { "berth.bench": node } });
	if (c.status !== 201) throw new Error(`docker create: ${c.status} ${c.body}`);
	const id = JSON.parse(c.body).Id;
	const s = await dockerReq("POST", `/containers/${id}/start`);
	if (s.status !== 204) throw new Error(`docker start: ${s.status} ${s.body}`);
	return Number(process.hrtime.bigint() - t0) / 1e6;
}

// The floor of any pod with an infra container, done by hand through the Engine API: the
// infra container (berth/pause, own network) created and started, then the app container
// created in its network namespace and started. The same Docker work a berth pod needs.
// With net "none" the infra container gets a network namespace holding only loopback: the
// floor of any design that keeps an infra container, even one where the agent wires the
// pod's network itself (whose veth and address work would come on top).
async function podFloorOnce(i, net = "bridge") {
	const t0 = process.hrtime.bigint();
	const p = await dockerReq("POST", `/containers/create?name=${node}-floor-${net}-${i}-pod`, {
		Image: "berth/pause", Labels: { "berth.bench": node }, HostConfig: { NetworkMode: net } });
	if (p.status !== 201) throw new Error(`docker create pause: ${p.status} ${p.body}`);
	const pid = JSON.parse(p.body).Id;
	const ps = await dockerReq("POST", `/containers/${pid}/start`);
	if (ps.status !== 204) throw new Error(`docker start pause: ${ps.status} ${ps.body}`);
	const c = await dockerReq("POST", `/containers/create?name=${node}-floor-${net}-${i}-c`, {
		Image: "berth/busybox", Cmd: ["sleep", "3600"], Labels: { "berth.bench": node },
		HostConfig: { NetworkMode: `container:${pid}` } });
	if (c.status !== 201) throw new Error(`docker create app: ${c.status} ${c.body}`);
	const s = await dockerReq("POST", `/containers/${JSON.parse(c.body).Id}/start`);
	if (s.status !== 204) throw new Error(`docker start app: ${s.status} ${s.body}`);
	return Number(process.hrtime.bigint() - t0) / 1e6;
}

function cliOnce(i) {
	const t0 = process.hrtime.bigint();
	execFileSync("docker", ["run", "-d", "--name", `${node}-cli-${i}`, "--label", `berth.bench=${node}`,
		"berth/busybox", "sleep", "3600"], { stdio: "ignore" });
	return Number(process.hrtime.bigint() - t0) / 1e6;
}

(async () => {
	const out = { berth: [], docker: [], cli: [], floor: [], floorNone: [], bound: boundMs };
	await berthOnce("warm"); await dockerOnce("warm"); cliOnce("warm"); await podFloorOnce("warm");
	await podFloorOnce("warm", "none");
	boundMs.length = 0;
	for (let i = 0; i < rounds; i++) {
		out.berth.push(await berthOnce(i));
		out.docker.push(await dockerOnce(i));
		out.cli.push(cliOnce(i));
		out.floor.push(await podFloorOnce(i));
		out.floorNone.push(await podFloorOnce(i, "none"));
	}
	console.log(JSON.stringify(out));
})().catch((e) => { console.error(e.message); process.exit(1); });
EOF
result=$(node "$work/measure.js" "$api" "$ROUNDS" "$node_name") ||
	die "measurement failed; logs in $work (KEEP=1 keeps them)"

report=$(node -e '
	const r = JSON.parse(process.argv[1]);
	const q = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
	const f = (x) => x.toFixed(0);
	const b50 = q(r.berth, 0.5), d50 = q(r.docker, 0.5), c50 = q(r.cli, 0.5);
	console.log("| path | p50 (ms) | p90 (ms) | p50 ratio to bare Docker API |");
	console.log("|---|---|---|---|");
	console.log(`| berth pod: create to Running (watch) | ${f(b50)} | ${f(q(r.berth, 0.9))} | **${(b50 / d50).toFixed(2)}x** |`);
	console.log(`| Docker Engine API: create + start | ${f(d50)} | ${f(q(r.docker, 0.9))} | 1.00x |`);
	console.log(`| docker run -d (CLI) | ${f(c50)} | ${f(q(r.cli, 0.9))} | ${(c50 / d50).toFixed(2)}x |`);
	const f50 = q(r.floor, 0.5);
	console.log(`| infra + app container by hand (Engine API): the floor of a pod | ${f(f50)} | ${f(q(r.floor, 0.9))} | ${(f50 / d50).toFixed(2)}x |`);
	const n50 = q(r.floorNone, 0.5);
	console.log(`| the same with the infra container on \`NetworkMode: none\` (no pod network at all) | ${f(n50)} | ${f(q(r.floorNone, 0.9))} | ${(n50 / d50).toFixed(2)}x |`);
	console.log(`| of the berth pod: create to bound (scheduler) | ${f(q(r.bound, 0.5))} | ${f(q(r.bound, 0.9))} | |`);
	console.log("");
	console.log(`berth over the floor: ${(b50 / f50).toFixed(2)}x (p50), that is ${f(b50 - f50)} ms of scheduling, agent, status write and watch.`);
' "$result")
echo "$report"

if [ "$write" = 1 ]; then
	out=$top/docs/benchmarks-agent.md
	{
		echo "# Pod startup (bench/podstart.sh)"
		echo
		echo "$(date -u +%Y-%m-%d), $ROUNDS rounds, alternating, one node (\`berth agent\` on the local"
		echo "Docker engine), \`berth/busybox\` running \`sleep 3600\`, image present (no pull)."
		echo "Target: berth p50 within 1.25x of a bare \`docker run\`."
		echo
		echo "$report"
		echo
		echo "A berth pod is two containers: the infra container holding the network namespace"
		echo "(Docker's bridge setup is most of a start), then the app container joining it. The"
		echo "floor row does exactly that by hand, so berth/floor is what berth itself adds"
		echo "(scheduling, binding, the agent's reaction, the status write, the watch event), and"
		echo "floor/bare is what the infra container costs, the price of the design the issue"
		echo "fixes (kubelet pays it too: a sandbox, then the containers). The floor row runs the"
		echo "four calls one after the other; the agent creates the app containers while the"
		echo "infra container starts (Docker accepts \`container:<id>\` for a container not yet"
		echo "running), which pays for berth's own work: berth/floor is close to 1.00x. What no"
		echo "ordering removes is the app container's start after the infra container's (it joins"
		echo "a network namespace that exists only then), about a third of a bare start. So the"
		echo "1.25x target against one bare container cannot be met with an infra container on"
		echo "Docker's bridge. The \`NetworkMode: none\` row is the floor of any design that keeps"
		echo "the infra container, even one where the agent set up the pod's network itself: that"
		echo "infra container gets a network namespace with loopback only, and the agent's veth,"
		echo "bridge and address work would still come on top of it. When that row is above 1.25x,"
		echo "as it is on this machine, no infra-container design meets the target here: creating"
		echo "a network namespace and starting a container are kernel and Docker costs that every"
		echo "container start pays, and a pod pays the start twice."
	} >"$out"
	echo "written to $out"
fi
