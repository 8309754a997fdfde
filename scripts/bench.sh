#!/bin/bash
# bench.sh: the API server benchmarks. Starts a private redis-server and bin/berth server on
# free loopback ports, measures create/get/list throughput and latency, the time of a
# 10,000-pod list and watch delivery latency to 100 watchers, each against a reference taken
# in the same run on the same machine, then writes the table into docs/benchmarks.md.
#
# Called by `make bench` (after `make all`). Depends on: cc, redis-server, redis-benchmark,
# redis-cli, curl, bin/berth; builds bench/loadgen.c and bench/watchlat.c into build/bench/.
# All traffic goes to 127.0.0.1. The whole run takes 1-2 minutes.
#
# Environment: BERTH_BIN (default bin/berth), BENCH_SECONDS (measured seconds per throughput
# run, default 4), BENCH_OUT (default docs/benchmarks.md), BENCH_REPS (default 3).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
berth=${BERTH_BIN:-$top/bin/berth}
secs=${BENCH_SECONDS:-4}
reps=${BENCH_REPS:-3}
out=${BENCH_OUT:-$top/docs/benchmarks.md}
bindir=$top/build/bench
pod=$top/bench/pod.json

conns=50          # concurrent clients for the throughput runs (and redis-benchmark -c)
set_requests=200000
script_requests=100000   # the write script driven by redis-benchmark alone (the store's ceiling)
list_pods=10000   # the big list
small_list=100    # pods in the namespace the 50-client list throughput reads
watchers=100
watch_events=200
watch_spacing_ms=5

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

for tool in cc redis-server redis-benchmark redis-cli curl; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
[ -x "$berth" ] || die "$berth is missing: run make first"

# ------------------------------------------------------------------------------ build
mkdir -p "$bindir"
cflags="-O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wshadow"
# shellcheck disable=SC2086 # the flags are words
cc $cflags -o "$bindir/loadgen" "$top/bench/loadgen.c" "$top/bench/bench_http.c"
# shellcheck disable=SC2086
cc $cflags -o "$bindir/watchlat" "$top/bench/watchlat.c" "$top/bench/bench_http.c" -lpthread
# shellcheck disable=SC2086
cc $cflags -I"$top/engine" -o "$bindir/write_script" "$top/bench/write_script.c"

# ------------------------------------------------------------------------------ servers
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX")
redis_pid=
berth_pid=
plain_pid=

stop_servers() {
	# Only the processes this script started, by pid.
	if [ -n "$plain_pid" ] && kill -0 "$plain_pid" 2>/dev/null; then
		kill -TERM "$plain_pid" 2>/dev/null || true
		wait "$plain_pid" 2>/dev/null || true
	fi
	if [ -n "$berth_pid" ] && kill -0 "$berth_pid" 2>/dev/null; then
		kill -TERM "$berth_pid" 2>/dev/null || true
		wait "$berth_pid" 2>/dev/null || true
	fi
	if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
		kill -TERM "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	berth_pid=
	plain_pid=
	redis_pid=
}
cleanup() {
	stop_servers
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# port_free PORT: nothing accepts connections on 127.0.0.1:PORT right now.
port_free() {
	if { exec 9<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
		exec 9>&-
		return 1
	fi
	return 0
}
free_port() {
	local i port
	for i in $(seq 1 200); do
		port=$((20000 + RANDOM % 12000))   # below the ephemeral ports (32768-)
		if port_free "$port"; then
			echo "$port"
			return 0
		fi
	done
	die "no free loopback port found"
}

# A port can be taken between the check and the bind (the machine is shared): a server that
# dies at start is retried on another port.
start_redis() {
	local try
	for try in 1 2 3 4 5; do
		redis_port=$(free_port)
		redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
			--dir "$work" --logfile "$work/redis.log" --daemonize no &
		redis_pid=$!
		for _ in $(seq 1 50); do
			kill -0 "$redis_pid" 2>/dev/null || break
			if [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ]; then
				return 0
			fi
			sleep 0.1
		done
		kill -TERM "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
		redis_pid=
	done
	die "redis-server did not start (see $work/redis.log)"
}

# spawn_server NAME [ARGS...]: `berth server` on the private Redis and a free port, with
# ARGS, logging to $work/NAME.log; sets NAME_port and NAME_pid once the default namespace
# answers (created right after the store connects).
spawn_server() {
	local name=$1 try port pid
	shift
	for try in 1 2 3 4 5; do
		port=$(free_port)
		"$berth" server --redis "redis://127.0.0.1:$redis_port/0" --listen "127.0.0.1:$port" \
			--no-scheduler --no-controllers --log-level warn "$@" >"$work/$name.log" 2>&1 &
		pid=$!
		printf -v "${name}_port" %s "$port"
		printf -v "${name}_pid" %s "$pid"
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/namespaces/default")" = 200 ] &&
				kill -0 "$pid" 2>/dev/null; then
				return 0
			fi
			sleep 0.1
		done
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		printf -v "${name}_pid" %s ""
	done
	cat "$work/$name.log" >&2
	die "berth server $* did not start"
}

# The API server and store alone, as the issue measures them: the 10,000 pods of the runs
# have no nodes, and an in-process scheduler would retry every one of them (with an Event
# each) every 10 s on the same event loop.
start_berth() { spawn_server berth; }
# A second server on the same Redis with --no-list-cache, the reference for the
# 10,000-pod list: the same list read from Redis on every request.
start_plain() { spawn_server plain --no-list-cache; }

api() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

create_namespace() {
	local code
	code=$(api -X POST -H 'Content-Type: application/json' \
		--data "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$1\"}}" \
		"http://127.0.0.1:$berth_port/api/v1/namespaces")
	[ "$code" = 201 ] || die "creating namespace $1 answered $code"
}

# ------------------------------------------------------------------------------ helpers
# field KEY LINE: the value of KEY=value in a loadgen/watchlat output line.
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# median V1 V2 ...: the median (mean of the middle two for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
now_ns() { date +%s%N; }

loadgen() { "$bindir/loadgen" -p "$berth_port" "$@"; }

# Server CPU per request: utime + stime of the two servers from /proc, in clock ticks.
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# block_usec: INFO commandstats' total usec of EVALSHA and EXEC since the last CONFIG
# RESETSTAT. berth's writes are one EVALSHA of a Lua script, its lists one EVALSHA or one
# MULTI/EXEC; each includes the time of the commands it ran.
block_usec() {
	redis-cli -p "$redis_port" INFO commandstats | tr -d '\r' |
		awk -F'[=,]' '/^cmdstat_(evalsha|exec):/ { u += $4 } END { print u + 0 }'
}
# run_load ARGS...: loadgen ARGS; sets line, errors, and berth_us / redis_us / lua_us: CPU
# time of berth and of redis-server, and Redis' time in scripts and transactions, per
# request (all responses). A run with failed requests is recorded, not fatal: the table
# shows the failures and fails the row.
run_load() {
	local b0 r0 b1 r1 total
	redis-cli -p "$redis_port" CONFIG RESETSTAT >/dev/null
	b0=$(cpu_ticks "$berth_pid"); r0=$(cpu_ticks "$redis_pid")
	line=$(loadgen "$@") || true
	b1=$(cpu_ticks "$berth_pid"); r1=$(cpu_ticks "$redis_pid")
	[ -n "$line" ] || die "loadgen $* could not run"
	errors=$(field errors "$line")
	total=$(field total "$line")
	[ "$total" -gt 0 ] || total=1
	berth_us=$(calc "($b1 - $b0) * 1e6 / $hz / $total" 1)
	redis_us=$(calc "($r1 - $r0) * 1e6 / $hz / $total" 1)
	lua_us=$(calc "$(block_usec) / $total" 1)
}

# redis-benchmark's CSV: "SET","rps","avg","min","p50","p95","p99","max"
redis_set() {
	local r0 r1
	r0=$(cpu_ticks "$redis_pid")
	redis-benchmark -h 127.0.0.1 -p "$redis_port" -t set -c "$conns" -n "$set_requests" --csv 2>/dev/null |
		awk -F'"' '$2 == "SET" { printf "rps=%s p50_ms=%s p99_ms=%s ", $4, $10, $14 }'
	r1=$(cpu_ticks "$redis_pid")
	echo "redis_us=$(calc "($r1 - $r0) * 1e6 / $hz / $set_requests" 1)"
}

# The store's ceiling: the write script berth runs for every create (engine/store_scripts.h),
# loaded into the same Redis and driven by redis-benchmark at the same concurrency, with no
# API server in front: the most creates/s the store allows on this machine. It writes a real
# stored pod (split at its resourceVersion, as store.c does) under a kind of its own
# (berth:*:ceiling), so berth's pods, streams and list cache never see these writes.
# Needs ceiling_pre / ceiling_suf and script_sha (set once the pods are loaded).
ceiling_keys="berth:o:ceiling berth:v:ceiling berth:i:ceiling berth:s:ceiling"
redis_script() {
	local r0 r1 csv n
	redis-cli -p "$redis_port" DEL $ceiling_keys >/dev/null
	r0=$(cpu_ticks "$redis_pid")
	# The title column repeats the arguments, JSON quotes and commas included: the numbers
	# are read from the end of the line ("rps","avg","min","p50","p95","p99","max").
	csv=$(redis-benchmark -h 127.0.0.1 -p "$redis_port" -c "$conns" -n "$script_requests" \
		-r 1000000000 --csv EVALSHA "$script_sha" 7 $ceiling_keys berth:rv berth:m \
		berth:o:namespaces c "bench-create/ceiling-__rand_int__" "" "$ceiling_pre" \
		"$ceiling_suf" 100000 "" "" bench-create ceiling 2>/dev/null | tail -1)
	r1=$(cpu_ticks "$redis_pid")
	n=$(redis-cli -p "$redis_port" HLEN berth:o:ceiling)
	# Random names collide now and then (the script answers "exists"); anything more is
	# a script that did not run.
	[ "$n" -ge $((script_requests * 99 / 100)) ] || die "the write script stored $n of $script_requests objects"
	redis-cli -p "$redis_port" DEL $ceiling_keys >/dev/null
	redis-cli -p "$redis_port" HDEL berth:m ceiling >/dev/null
	printf '%s\n' "$csv" | awk -F, '{ gsub(/"/, ""); printf "rps=%s p50_ms=%s p99_ms=%s ", $(NF-6), $(NF-3), $(NF-1) }'
	echo "redis_us=$(calc "($r1 - $r0) * 1e6 / $hz / $script_requests" 1)"
}

# hgetall_ms: wall time of one `redis-cli HGETALL berth:o:pods`, output discarded.
hgetall_ms() {
	local t0 t1
	t0=$(now_ns)
	redis-cli -p "$redis_port" HGETALL berth:o:pods >/dev/null
	t1=$(now_ns)
	calc "($t1 - $t0) / 1e6" 3
}

# ------------------------------------------------------------------------------ run
start_redis
start_berth
start_plain
say "redis-server on 127.0.0.1:$redis_port, berth on 127.0.0.1:$berth_port"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for ns in bench-create bench-list bench-watch; do
	create_namespace "$ns"
done

# 1. The 10,000-pod list, while berth:o:pods holds exactly those pods (so HGETALL reads
#    the same objects the list returns).
say "loading $list_pods pods through the API"
line=$(loadgen -m create -c "$conns" -s default -P list- -N "$list_pods" -b "$pod") || die "bulk load failed: $line"
load_rps=$(field rps "$line")
[ "$(field ok "$line")" = "$list_pods" ] || die "bulk load failed: $line"
[ "$(redis-cli -p "$redis_port" HLEN berth:o:pods)" = "$list_pods" ] || die "berth:o:pods does not hold $list_pods pods"
list_items=$(curl -s "http://127.0.0.1:$berth_port/api/v1/namespaces/default/pods" | grep -o '"name":"list-[0-9]*"' | sort -u | wc -l)
[ "$list_items" = "$list_pods" ] || die "the list returned $list_items of $list_pods pods"
# The content check above was the server's first list of pods: it took the list cache's copy,
# so the runs below measure lists answered from the cache after one delta read each.
big_ms=() big_ref=() big_plain=() big_bytes= big_b=() big_r=() big_l=() big_e=0
for r in $(seq 1 "$reps"); do
	run_load -m list -c 1 -s default -N 5
	big_ms+=("$(field p50_ms "$line")")
	big_b+=("$berth_us"); big_r+=("$redis_us"); big_l+=("$lua_us"); big_e=$((big_e + errors))
	big_bytes=$(field resp_bytes "$line")
	pline=$("$bindir/loadgen" -p "$plain_port" -m list -c 1 -s default -N 5) || die "loadgen (no list cache) failed"
	[ "$(field errors "$pline")" = 0 ] || die "the --no-list-cache server failed lists: $pline"
	big_plain+=("$(field p50_ms "$pline")")
	h=()
	for _ in 1 2 3 4 5; do h+=("$(hgetall_ms)"); done
	big_ref+=("$(median "${h[@]}")")
	say "list of $list_pods: ${big_ms[-1]} ms (no list cache ${big_plain[-1]} ms, HGETALL ${big_ref[-1]} ms)"
done
# The reference server is not needed further: stop it so it takes no CPU from the runs below.
kill -TERM "$plain_pid" 2>/dev/null || true
wait "$plain_pid" 2>/dev/null || true
plain_pid=
loadgen -m create -c 10 -s bench-list -P small- -N "$small_list" -b "$pod" >/dev/null || die "loading bench-list failed"

# The write script's arguments for the ceiling runs: a pod as berth stored it.
script_sha=$(redis-cli -p "$redis_port" SCRIPT LOAD "$("$bindir/write_script")")
stored=$(redis-cli -p "$redis_port" HGET berth:o:pods default/list-1)
case $stored in *'"resourceVersion":"'[0-9]*) ;; *) die "no stored pod default/list-1 to run the write script with" ;; esac
ceiling_pre=${stored%%'"resourceVersion":"'*}'"resourceVersion":"'
ceiling_suf=${stored#*'"resourceVersion":"'}
ceiling_suf='"'${ceiling_suf#*'"'}

# 2. Throughput at 50 clients; each repetition measures the reference right before.
set_rps=() set_p50=() set_p99=() set_r=()
script_rps=() script_p50=() script_p99=() script_r=()
create_rps=() create_p50=() create_p99=() create_b=() create_r=() create_l=()
get_rps=() get_p50=() get_p99=() get_b=() get_r=()
list_rps=() list_p50=() list_p99=() list_b=() list_r=() list_l=()
create_e=0 get_e=0 list_e=0
for r in $(seq 1 "$reps"); do
	line=$(redis_set)
	[ -n "$line" ] || die "redis-benchmark gave no SET result"
	set_rps+=("$(field rps "$line")"); set_p50+=("$(field p50_ms "$line")"); set_p99+=("$(field p99_ms "$line")")
	set_r+=("$(field redis_us "$line")")
	line=$(redis_script)
	script_rps+=("$(field rps "$line")"); script_p50+=("$(field p50_ms "$line")"); script_p99+=("$(field p99_ms "$line")")
	script_r+=("$(field redis_us "$line")")
	run_load -m create -c "$conns" -s bench-create -P "c$r-" -d "$secs" -b "$pod"
	create_rps+=("$(field rps "$line")"); create_p50+=("$(field p50_ms "$line")"); create_p99+=("$(field p99_ms "$line")")
	create_b+=("$berth_us"); create_r+=("$redis_us"); create_l+=("$lua_us"); create_e=$((create_e + errors))
	run_load -m get -c "$conns" -s default -P list- -k "$list_pods" -d "$secs"
	get_rps+=("$(field rps "$line")"); get_p50+=("$(field p50_ms "$line")"); get_p99+=("$(field p99_ms "$line")")
	get_b+=("$berth_us"); get_r+=("$redis_us"); get_e=$((get_e + errors))
	run_load -m list -c "$conns" -s bench-list -d "$secs"
	list_rps+=("$(field rps "$line")"); list_p50+=("$(field p50_ms "$line")"); list_p99+=("$(field p99_ms "$line")")
	list_b+=("$berth_us"); list_r+=("$redis_us"); list_l+=("$lua_us"); list_e=$((list_e + errors))
	say "rep $r: SET ${set_rps[-1]}/s, write script ${script_rps[-1]}/s, create ${create_rps[-1]}/s, get ${get_rps[-1]}/s, list ${list_rps[-1]}/s"
done

# 3. Watch delivery to 100 watchers.
watch_p50=() watch_p99=() watch_max=() watch_c50=() watch_lost=0
for r in $(seq 1 "$reps"); do
	line=$("$bindir/watchlat" -p "$berth_port" -s bench-watch -w "$watchers" -e "$watch_events" \
		-i "$watch_spacing_ms" -b "$pod" -P "w$r-") || true
	[ -n "$line" ] || die "watchlat could not run"
	watch_lost=$((watch_lost + $(field expected "$line") - $(field received "$line")))
	watch_p50+=("$(field p50_ms "$line")"); watch_p99+=("$(field p99_ms "$line")")
	watch_max+=("$(field max_ms "$line")"); watch_c50+=("$(field create_p50_ms "$line")")
	say "watch rep $r: p50 ${watch_p50[-1]} ms, p99 ${watch_p99[-1]} ms (create round trip ${watch_c50[-1]} ms)"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
kill -0 "$berth_pid" 2>/dev/null || die "berth server died during the run (see $work/berth.log)"
grep -E ' (error|warn) ' "$work/berth.log" | head -5 >"$work/berth-problems" || true
stop_servers

# ------------------------------------------------------------------------------ report
m() { median "$@"; }
S_RPS=$(m "${set_rps[@]}"); S_50=$(m "${set_p50[@]}"); S_99=$(m "${set_p99[@]}")
X_RPS=$(m "${script_rps[@]}"); X_50=$(m "${script_p50[@]}"); X_99=$(m "${script_p99[@]}"); X_R=$(m "${script_r[@]}")
C_RPS=$(m "${create_rps[@]}"); C_50=$(m "${create_p50[@]}"); C_99=$(m "${create_p99[@]}")
G_RPS=$(m "${get_rps[@]}"); G_50=$(m "${get_p50[@]}"); G_99=$(m "${get_p99[@]}")
L_RPS=$(m "${list_rps[@]}"); L_50=$(m "${list_p50[@]}"); L_99=$(m "${list_p99[@]}")
BIG=$(m "${big_ms[@]}"); BIG_REF=$(m "${big_ref[@]}"); BIG_PLAIN=$(m "${big_plain[@]}")
W_50=$(m "${watch_p50[@]}"); W_99=$(m "${watch_p99[@]}"); W_MAX=$(m "${watch_max[@]}"); W_C50=$(m "${watch_c50[@]}")

SET_R=$(m "${set_r[@]}")
CB=$(m "${create_b[@]}"); CR=$(m "${create_r[@]}"); CL=$(m "${create_l[@]}")
GB=$(m "${get_b[@]}"); GR=$(m "${get_r[@]}")
LB=$(m "${list_b[@]}"); LR=$(m "${list_r[@]}"); LL=$(m "${list_l[@]}")
BB=$(m "${big_b[@]}"); BR=$(m "${big_r[@]}"); BL=$(m "${big_l[@]}")

# pass EXPR FAILURES: PASS when the awk expression holds and nothing failed.
pass() { if [ "${2:-0}" -eq 0 ] && awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
# ratio A B DIGITS: A / B, or 0 when B is 0 (a phase where nothing succeeded).
ratio() { awk "BEGIN { if ($2 == 0) print 0; else printf \"%.$3f\", $1 / $2 }"; }
# errs N: the note a result gets when requests failed.
errs() { if [ "$1" -gt 0 ]; then echo ", **$1 failed requests**"; fi; }
create_ratio=$(ratio "$C_RPS" "$S_RPS" 3)
script_ratio=$(ratio "$X_RPS" "$S_RPS" 3)
get_ratio=$(ratio "$G_RPS" "$C_RPS" 2)
big_ratio=$(ratio "$BIG" "$BIG_REF" 2)
watch_ratio=$(ratio "$W_99" "$W_C50" 2)
fmt() { calc "$1" "${2:-0}"; }

model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mkdir -p "$(dirname "$out")"
cat >"$out" <<EOF
# Benchmarks: the berth API server

Generated by \`make bench\` (scripts/bench.sh); do not edit by hand, run it again.

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Machine: $(nproc) CPUs, ${model:-unknown CPU}, $(uname -sr); load average $load_start at the start, $load_end at the end
- berth: $("$berth" version 2>/dev/null | head -1 | sed "s/^Client Version: //"), redis-server $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
- Every number is the median of $reps repetitions; each reference was measured in the same
  run, right before the measurement it is compared with, on the same private redis-server.

## Results

| Metric | Result | Reference | Ratio | Target | Pass |
|---|---|---|---|---|---|
| create, $conns clients | $(fmt "$C_RPS")/s, p50 $(fmt "$C_50" 2) ms, p99 $(fmt "$C_99" 2) ms$(errs "$create_e") | redis-benchmark SET -c $conns: $(fmt "$S_RPS")/s, p50 $(fmt "$S_50" 3) ms, p99 $(fmt "$S_99" 3) ms | create/SET = $create_ratio | >= 0.50 | $(pass "$create_ratio >= 0.5" "$create_e") |
| the store's ceiling: berth's write script alone, $conns clients | redis-benchmark EVALSHA: $(fmt "$X_RPS")/s, p50 $(fmt "$X_50" 3) ms, p99 $(fmt "$X_99" 3) ms | SET rate above | script/SET = $script_ratio | (reported: no API server in front of this store can pass it) | - |
| get, $conns clients | $(fmt "$G_RPS")/s, p50 $(fmt "$G_50" 2) ms, p99 $(fmt "$G_99" 2) ms$(errs "$get_e") | create rate above: $(fmt "$C_RPS")/s | get/create = $get_ratio | >= 2.00 | $(pass "$get_ratio >= 2" "$get_e") |
| list of $small_list pods, $conns clients | $(fmt "$L_RPS")/s, p50 $(fmt "$L_50" 2) ms, p99 $(fmt "$L_99" 2) ms$(errs "$list_e") | SET rate above | list/SET = $(ratio "$L_RPS" "$S_RPS" 4) | (reported) | $(if [ "$list_e" -gt 0 ]; then echo FAIL; else echo -; fi) |
| list of $list_pods pods ($(calc "$big_bytes / 1048576" 1) MB), one client | $(fmt "$BIG" 1) ms$(errs "$big_e") | redis-cli HGETALL berth:o:pods: $(fmt "$BIG_REF" 1) ms | list/HGETALL = $big_ratio | < 100 ms | $(pass "$BIG < 100" "$big_e") |
| the same list from Redis (\`--no-list-cache\`) | $(fmt "$BIG_PLAIN" 1) ms | the list cache above: $(fmt "$BIG" 1) ms | cache/Redis = $(ratio "$BIG" "$BIG_PLAIN" 2) | (reported) | - |
| watch delivery, $watchers watchers x $watch_events creates | p50 $(fmt "$W_50" 2) ms, p99 $(fmt "$W_99" 2) ms, max $(fmt "$W_MAX" 2) ms$(if [ "$watch_lost" -gt 0 ]; then echo ", **$watch_lost events never arrived**"; fi) | one create's round trip, same run: p50 $(fmt "$W_C50" 2) ms | p99/create = $watch_ratio | p99 < 20 ms | $(pass "$W_99 < 20" "$watch_lost") |

Per repetition (in run order):

| Rep | SET/s | write script/s | create/s | get/s | list $small_list/s | list $list_pods ms | no cache ms | HGETALL ms | watch p50 ms | watch p99 ms |
|---|---|---|---|---|---|---|---|---|---|---|
EOF
for i in $(seq 0 $((reps - 1))); do
	echo "| $((i + 1)) | ${set_rps[$i]} | ${script_rps[$i]} | ${create_rps[$i]} | ${get_rps[$i]} | ${list_rps[$i]} | ${big_ms[$i]} | ${big_plain[$i]} | ${big_ref[$i]} | ${watch_p50[$i]} | ${watch_p99[$i]} |" >>"$out"
done
if [ -s "$work/berth-problems" ]; then
	{
		echo
		echo "berth logged errors or warnings during the run (first lines):"
		echo
		sed 's/^/    /' "$work/berth-problems"
	} >>"$out"
fi
cat >>"$out" <<EOF

The $list_pods pods were loaded through the API at $(fmt "$load_rps") creates/s before the runs.

## Where the time goes

CPU time of each server process per request (utime + stime from /proc over the whole run,
warm-up included, divided by the responses), and Redis' own time per request in berth's
scripts and transactions (\`INFO commandstats\`: the usec of EVALSHA and EXEC, which
include the commands they ran; a get is a plain HGET, so it has none). With $(nproc) CPUs
shared by berth, redis-server and the load generator, a server that needs close to
1e6/rate us of CPU per request is the bottleneck. How to profile further, and what the
profiles showed: bench/profiling.md.

| Request | berth CPU us/request | redis-server CPU us/request | Redis time in EVALSHA/EXEC, us/request |
|---|---|---|---|
| redis-benchmark SET (reference) | - | $(fmt "$SET_R" 1) | - |
| redis-benchmark EVALSHA of the write script (the ceiling) | - | $(fmt "$X_R" 1) | - |
| create | $(fmt "$CB" 1) | $(fmt "$CR" 1) | $(fmt "$CL" 1) |
| get | $(fmt "$GB" 1) | $(fmt "$GR" 1) | - |
| list of $small_list pods | $(fmt "$LB" 1) | $(fmt "$LR" 1) | $(fmt "$LL" 1) |
| list of $list_pods pods | $(fmt "$BB" 0) | $(fmt "$BR" 0) | $(fmt "$BL" 0) |

### The create target

The issue asks for creates at 50% or more of the SET rate, with a store that runs one Lua
script per write: check the resourceVersion, store the object, index it, append the event
to a stream. The row "the store's ceiling" runs exactly that script (engine/store_scripts.h,
with a pod as berth stores it, $(calc "${#ceiling_pre} + ${#ceiling_suf}" 0) bytes) from redis-benchmark itself, at the same
concurrency, with no API server in front: $(fmt "$X_RPS")/s, **$script_ratio of SET**. An API server
cannot create faster than its store accepts the writes, so on this machine the target is out
of reach whatever berth does; berth's creates run at $(ratio "$C_RPS" "$X_RPS" 2) of that ceiling.

Per create, Redis spends $(fmt "$X_R" 1) us of CPU running the script alone ($(fmt "$CR" 1) us under berth's
load), against $(fmt "$SET_R" 1) us for a SET; berth spends $(fmt "$CB" 1) us on HTTP, JSON, defaults and
validation. With $(nproc) CPUs for both, and nothing for the load generator, creates could not
pass $(calc "$(nproc) * 1e6 / ($CB + $CR)" 0)/s ($(calc "$(nproc) * 1e6 / ($CB + $CR) / $S_RPS" 2) of SET). Raising the ceiling would take a different store:
several writes per script call (group commit), or no event stream. Measured improvements
so far: jemalloc (+10-20%), no Lua on the read paths, stored bytes sent without
re-encoding, jsonload/jsondump (0.115 -> 0.157 of SET).

## What is measured

- **create / get / list throughput**: \`bench/loadgen.c\`, a closed-loop client like
  redis-benchmark: $conns keep-alive HTTP/1.1 connections, one request in flight on each, all
  driven by one epoll thread. Each run is $secs s measured after 0.5 s of warm-up; latency is
  from just before a request is written to the last byte of its response. Create POSTs a
  realistic pod (\`bench/pod.json\`: labels, annotations, two containers with ports, env,
  resources, volume mounts, a probe; about 2.1 KB as stored) with a unique name into namespace
  bench-create; get reads random pods among the $list_pods; list reads namespace bench-list
  ($small_list pods). The reference is \`redis-benchmark -t set -c $conns -n $set_requests\` against the
  same redis-server berth uses, run right before each repetition.
- **the store's ceiling**: \`bench/write_script.c\` prints the write script;
  \`redis-benchmark -c $conns -n $script_requests -r 1000000000 EVALSHA ...\` runs it with the
  arguments store.c passes for a create (a random name in bench-create, the pod
  default/list-1 as stored, split at its resourceVersion), right after each SET reference,
  under a kind of its own (\`berth:*:ceiling\`, deleted after) so berth never reads these
  writes. The run fails unless at least 99% of its writes were stored.
- **list of $list_pods pods**: \`GET /api/v1/namespaces/default/pods\` (all $list_pods pods, created
  through the API), one client, median of 5 requests per repetition. berth answers it from
  its list cache (docs/architecture.md): the content check before the runs, the server's
  first list, took the copy; each timed list reads the changes since (none) and the current
  resourceVersion in one script, then sends the copy. The row below it is the same list
  from a second server on the same Redis started with \`--no-list-cache\`, which reads the
  objects from Redis on every request (an index range, then \`HMGET\`). Reference: the wall time
  of \`redis-cli HGETALL berth:o:pods\` (output discarded; includes starting redis-cli) while
  that hash holds exactly those pods, median of 5.
- **watch delivery**: \`bench/watchlat.c\` opens $watchers watch streams
  (\`?watch=true&resourceVersion=<the list's>\`) on namespace bench-watch in one epoll thread;
  once all have their 200 head, a second thread creates $watch_events pods, $watch_spacing_ms ms apart, on its own
  connection. Latency = from just before each create request is written to the moment each
  watcher has read the ADDED line naming that pod; p50/p99 over all $((watchers * watch_events)) (watcher,
  event) pairs. Reference: that writer's own create round trip (p50), so the ratio says how
  many create-times an event takes to reach the slowest 1% of watchers.
- Everything runs on one machine, which is shared and noisy: compare the ratios, not the
  absolute numbers, between runs. The load generators use CPU too: on a machine with few
  CPUs they compete with berth and redis-server, as redis-benchmark does with redis-server.

## How to run

    make bench                   # builds bin/berth, then scripts/bench.sh (about 1.5 minutes)
    BENCH_SECONDS=10 make bench  # longer throughput runs

Needs redis-server, redis-benchmark and redis-cli (Debian redis-server, redis-tools), curl
and cc. The script starts its own redis-server (\`--save ''\`, loopback, a free port) and
\`bin/berth server\` on another free port, sends traffic only to 127.0.0.1 and stops both
when it ends. The tools alone: \`build/bench/loadgen -h\`, \`build/bench/watchlat -h\`.

## The other benchmarks

- The scheduler (issue 3): \`bench/sched.sh\`, results in [benchmarks-scheduler.md](benchmarks-scheduler.md):
  scheduling throughput end to end, and the Lua policy against a C baseline.
- The controllers (issue 4): \`bench/deploy.sh\`, results in [benchmarks-controllers.md](benchmarks-controllers.md):
  a 10,000-replica Deployment on 1,000 simulated nodes, scale-up and rolling update.
- DaemonSets and StatefulSets: \`bench/workloads.sh\`, results in [benchmarks-workloads.md](benchmarks-workloads.md):
  each step against a Deployment of as many pods in the same run.
- The proxy (issue 5): \`bench/proxy.sh\`, results in [benchmarks-proxy.md](benchmarks-proxy.md).
- Pod startup (issue 5): \`bench/podstart.sh\`, results in [benchmarks-agent.md](benchmarks-agent.md):
  create to Running through a watch, against a bare \`docker run\` and against the same two
  containers started by hand.

Headline figures of those runs (2026-11-27, this 2-CPU machine; the linked files have the
references each ratio was taken against):

| Measure | Result | Target | |
|---|---|---|---|
| Scheduler, pending to bound, 10,000 pods (bench/sched.sh; median of 3 runs, each from a fresh API server) | 3,137 / 3,380 / 3,324 pods/s on 100 / 1,000 / 5,000 nodes (2,249 / 2,610 / 2,281 the run before, single runs) | 3,000 pods/s at 5,000 nodes | met (the three runs at 5,000: 3,086 / 3,524 / 3,324) |
| Scheduler, create to bound (creation included) | 1,192 / 1,411 / 1,188 pods/s (creates alone: 9.2-10.0k/s) | - | - |
| Scheduler decision, Lua time / C baseline time (bench/sched_decide.c, JIT on, OpenResty LuaJIT; median of 3 runs) | 1.37x / 0.47x / 0.15x on 100 / 1,000 / 5,000 nodes (1.24x / 0.45x / 0.36x the run before: the machine, the same binaries measured 1.3-1.45x today) | <= 1.5x | met |
| Deployment of 10,000 replicas on 1,000 simulated nodes, to all Ready (bench/deploy.sh) | 7.6 s on 2026-11-28 (10.2 s, 13.0 s on the runs before) | < 30 s | met |
| Rolling update of it | 18.5 s, now timed to the new generation's status (21.3 s, 25.9 s) | - | - |
| DaemonSet on 2,000 simulated nodes, to all available / its rolling update (bench/workloads.sh) | 1.31x / 1.76x of a Deployment of 2,000 in the same run | - | - |
| StatefulSet of 2,000, Parallel / of 100, OrderedReady | 0.57x of a Deployment of 2,000 / 1.53x of a Parallel one of 100 | - | - |
| Proxy keep-alive / new connections / bulk vs haproxy (bench/proxy.sh; medians of 5 alternating rounds, bulk one pass) | 1.05x / 1.00x / 1.33x | >= 1x | met (new connections: 0.75x before relay threads and lazily made pipes) |
| Pod startup p50, create to Running, vs a bare docker run (bench/podstart.sh, 30 rounds) | 1.46x (303 vs 208 ms); 1.02x of the infra + app floor by hand | <= 1.25x | missed: the floor of a pod with an infra container is 1.43x on Docker's bridge and 1.32x with no pod network at all |
EOF
say "results written to $out"
cat "$out"
