# t/lib/test-lib.sh: the shell test library for berth's end-to-end tests (TAP output).
#
# Modelled on git's t/test-lib.sh. A test script is an executable bash file t/NNNN-area.t:
#
#   #!/bin/bash
#   test_description='what this script checks'
#   . "$(dirname "$0")/lib/test-lib.sh"
#   test_require redis kubectl berth      # skip (or, under CI=true, bail out) if missing
#   setup_berth                           # test 1: a private redis-server and berth
#   test_expect_success 'create a pod' '
#       k run p --image=img:1 &&
#       k get pod p -o name >actual &&
#       echo pod/p >expect &&
#       test_cmp expect actual
#   '
#   test_done
#
# Helpers: test_expect_success/failure [PREREQ] TITLE BODY, test_must_fail, test_cmp, test_grep,
# test_when_finished, test_wait_until, test_external (fold in a TAP program), say, diag;
# start_redis/stop_redis/restart_redis, start_berth/stop_berth/restart_berth/setup_berth;
# test_docker_node/test_cleanup_containers (scripts that run real containers);
# k (kubectl), k_bg (kubectl in the background), api (curl), json_get (node), squash.
#
# Depends on: bash (for /dev/tcp and $RANDOM), curl, timeout (coreutils); redis-server,
# kubectl and node only for the scripts that ask for them with test_require.
# Called by: every t/*.t shell script; run by `prove -r t` (make test).
#
# Environment:
#   BERTH_BIN      the berth binary under test (default <top>/bin/berth)
#   KUBECTL        kubectl to drive it with (default <top>/.tools/bin/kubectl)
#   NODE_PATH      for client-node scripts (default <top>/.tools/node/node_modules)
#   CI=true        a missing prerequisite is a failure (Bail out!) instead of a skip
#   TEST_VERBOSE=1 print every test body's output, not only that of failing tests
#                  (`prove -v` sets it)
#   TEST_KEEP_TRASH=1  keep t/trash/<script>/ even when every test passed
#   TEST_TRASH_ROOT    where trash directories go (default t/trash)
#
# Test bodies are eval'd in the test script's own shell, not in a subshell (as in git), so
# variables they set are seen by later tests. There is no set -e inside a body: chain the
# commands with && and the body's exit status is the test's result. Each body's stdout and
# stderr go to a log that is shown, prefixed with '# ', when the test fails. Every body starts
# in the trash directory.

# ---------------------------------------------------------------------------- setup

if [ -z "${BASH_VERSION:-}" ]; then
	echo "Bail out! test-lib.sh needs bash"
	exit 1
fi

TEST_DIRECTORY=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOP=$(cd "$TEST_DIRECTORY/.." && pwd)
TEST_NAME=$(basename "$0")
TEST_NAME=${TEST_NAME%.t}
TEST_NAME=${TEST_NAME%.sh}
TEST_TRASH_ROOT=${TEST_TRASH_ROOT:-$TEST_DIRECTORY/trash}
TRASH=$TEST_TRASH_ROOT/$TEST_NAME

: "${BERTH_BIN:=$TOP/bin/berth}"
: "${KUBECTL:=$TOP/.tools/bin/kubectl}"
: "${NODE_PATH:=$TOP/.tools/node/node_modules}"
export BERTH_BIN KUBECTL NODE_PATH TOP TEST_DIRECTORY

test_count=0
test_failures=0
test_fixed=0
test_broken=0
test_cleanup=
test_done_called=
test_prereqs=" "
# pids of the background services this script started; killed by the EXIT trap
REDIS_PID=
BERTH_PID=
BERTH_STARTED=

rm -rf "$TRASH" || {
	echo "Bail out! cannot remove old trash directory $TRASH"
	exit 1
}
mkdir -p "$TRASH" || {
	echo "Bail out! cannot create trash directory $TRASH"
	exit 1
}
cd "$TRASH" || exit 1
# kubectl must not read the developer's ~/.kube/config (it may name credentials or an exec
# plugin); an empty kubeconfig plus --server on each call is all it needs.
: >"$TRASH/.kubeconfig"
export KUBECONFIG="$TRASH/.kubeconfig"
export HOME="$TRASH"
export LC_ALL=C
unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT

# ---------------------------------------------------------------------------- output

# say MSG...: a TAP comment on stdout.
say() {
	printf '# %s\n' "$*"
}

# diag MSG...: a TAP comment on stderr (shown by prove even without -v).
diag() {
	printf '# %s\n' "$*" >&2
}

# test_diag_file FILE [LINES]: the last LINES (default 40) lines of FILE as comments.
test_diag_file() {
	[ -s "$1" ] || return 0
	tail -n "${2:-40}" "$1" | sed 's/^/#   /' >&2
}

# test_bail_out REASON: stop this script and the whole prove run.
test_bail_out() {
	echo "Bail out! $TEST_NAME: $*"
	test_done_called=bail
	exit 1
}

# test_skip_all REASON: skip the whole script (only before the first test).
test_skip_all() {
	if [ "$test_count" -ne 0 ]; then
		test_bail_out "test_skip_all after $test_count tests: $*"
	fi
	echo "1..0 # SKIP $*"
	test_done_called=skip
	exit 0
}

# ---------------------------------------------------------------------------- prerequisites

# test_set_prereq NAME: declare that NAME is available (see the 3-argument forms below).
test_set_prereq() {
	test_prereqs="$test_prereqs$1 "
}

# test_have_prereq A,B,...: true when every named prerequisite was set; !NAME negates.
test_have_prereq() {
	local p
	local IFS=,
	for p in $1; do
		case "$p" in
		!*) case "$test_prereqs" in *" ${p#!} "*) return 1 ;; esac ;;
		*) case "$test_prereqs" in *" $p "*) ;; *) return 1 ;; esac ;;
		esac
	done
	return 0
}

# test_missing_prereq WHAT: CI=true -> bail out (a broken install must not pass as "all
# skipped"); otherwise skip the whole script.
test_missing_prereq() {
	if [ "${CI:-}" = true ]; then
		test_bail_out "missing prerequisite under CI: $*"
	fi
	test_skip_all "missing prerequisite: $*"
}

# test_check_ NAME: true when NAME is available; else false with the reason in
# test_check_why_. Names: redis, kubectl, node (with client-node), berth, curl, docker, script.
test_check_() {
	test_check_why_=
	case "$1" in
	redis)
		command -v redis-server >/dev/null 2>&1 ||
			test_check_why_="redis-server not found (scripts/install-deps.sh)"
		;;
	kubectl)
		[ -x "$KUBECTL" ] ||
			test_check_why_="kubectl not found at $KUBECTL (make tools)"
		;;
	node)
		if ! command -v node >/dev/null 2>&1; then
			test_check_why_="node not found (scripts/install-deps.sh)"
		elif [ ! -d "$NODE_PATH/@kubernetes/client-node" ]; then
			test_check_why_="@kubernetes/client-node not found in $NODE_PATH (make tools)"
		fi
		;;
	berth)
		[ -x "$BERTH_BIN" ] ||
			test_check_why_="berth binary not found at $BERTH_BIN (make)"
		;;
	curl)
		command -v curl >/dev/null 2>&1 ||
			test_check_why_="curl not found (scripts/install-deps.sh)"
		;;
	docker)
		timeout 10 docker info >/dev/null 2>&1 ||
			test_check_why_="no Docker engine (docker info fails)"
		;;
	script)
		command -v script >/dev/null 2>&1 ||
			test_check_why_="script(1) not found (Debian's bsdutils)"
		;;
	*)
		test_bail_out "test_check_: unknown prerequisite '$1'"
		;;
	esac
	[ -z "$test_check_why_" ]
}

# test_require NAME...: the script needs these; see test_missing_prereq for what happens if
# one is absent. Each present one is also set as a prerequisite (REDIS, KUBECTL, NODE,
# BERTH, CURL, DOCKER, SCRIPT), names as test_check_ lists them.
test_require() {
	local what
	for what in "$@"; do
		test_check_ "$what" || test_missing_prereq "$test_check_why_"
		test_set_prereq "$(echo "$what" | tr '[:lower:]' '[:upper:]')"
	done
}

# test_probe NAME...: some tests of the script need these (the prerequisite in capitals, as
# test_require sets it). Outside CI a missing one skips just those tests; under CI=true it
# bails out, as test_require does: a missing service must fail CI, never pass as skipped.
test_probe() {
	local what
	for what in "$@"; do
		if test_check_ "$what"; then
			test_set_prereq "$(echo "$what" | tr '[:lower:]' '[:upper:]')"
		elif [ "${CI:-}" = true ]; then
			test_bail_out "missing prerequisite under CI: $test_check_why_"
		else
			say "tests needing $what are skipped: $test_check_why_"
		fi
	done
}

# start_agent [ARGS...]: `berth agent` for node $NODE (log in $TRASH/agent.log, root in
# $TRASH/root) on 127.0.0.1:$AGENT_PORT, chosen on the first start and kept, so a restarted
# agent is found where the Node says; waits for its /healthz. Pid in AGENT_PID.
start_agent() {
	AGENT_PORT=${AGENT_PORT:-$(test_free_port)} || return 1
	"$BERTH_BIN" agent --server "$BERTH_URL" --node-name "$NODE" --root-dir "$TRASH/root" \
		--listen "127.0.0.1:$AGENT_PORT" --log-level debug "$@" </dev/null >>"$TRASH/agent.log" 2>&1 &
	AGENT_PID=$!
	test_bg_pid "$AGENT_PID"
	test_wait_until 10 curl -sf "http://127.0.0.1:$AGENT_PORT/healthz"
}

# stop_agent: SIGTERM it (test_kill_pid; its exit status in test_kill_status).
stop_agent() {
	test_kill_pid "$AGENT_PID" 10
	AGENT_PID=
}

# start_fakelet [--log FILE] ARGS...: bench/fakelet ($BERTH_FAKELET) against the server
# under test, standing in for the nodes' agents (bound pods turn Running and Ready, deleted
# ones are confirmed gone), in the background (pid in FAKELET_PID); its output in
# $TRASH/FILE (fakelet.log). Bails out when it is not built.
start_fakelet() {
	local log=fakelet.log fakelet=${BERTH_FAKELET:-$TOP/build/bench/fakelet}
	if [ "${1:-}" = --log ]; then
		log=$2
		shift 2
	fi
	test -x "$fakelet" || test_bail_out "no $fakelet (make builds it)"
	"$fakelet" --server "$BERTH_URL" "$@" </dev/null >>"$TRASH/$log" 2>&1 &
	FAKELET_PID=$!
	test_bg_pid "$FAKELET_PID"
}

# fake_nodes NAME...: Nodes created through the API, Ready, with room for 110 pods, for a
# fakelet (bench/fakelet.c) to stand in for their agents.
fake_nodes() {
	local n
	for n in "$@"; do
		api POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$n\",\"labels\":{\"kubernetes.io/hostname\":\"$n\"}},
		  \"status\":{\"allocatable\":{\"cpu\":\"32\",\"memory\":\"64Gi\",\"pods\":\"110\"},
		  \"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}" >/dev/null || return 1
	done
}

# ---------------------------------------------------------------------------- running tests

# test_when_finished CMD: run CMD after the current test body, whatever its result; a failing
# CMD fails the test. Cleanups run last-registered first.
test_when_finished() {
	test_cleanup="{ $*
} && (exit \"\$eval_ret\"); eval_ret=\$?; $test_cleanup"
}

# test_eval_ BODY: a function of its own so that `return 1` in a body (in a loop, say)
# ends the body, not the library function that runs it.
test_eval_() {
	eval "$1"
}

# test_run_ BODY: eval BODY and its cleanups in the trash directory; returns the status.
test_run_() {
	local out="$TRASH/.test-output"
	test_cleanup=:
	cd "$TRASH" || test_bail_out "trash directory $TRASH vanished"
	test_eval_ "$1" >"$out" 2>&1 </dev/null
	eval_ret=$?
	eval "$test_cleanup" >>"$out" 2>&1 </dev/null
	test_cleanup=
	cd "$TRASH" || test_bail_out "trash directory $TRASH vanished"
	return "$eval_ret"
}

# test_args_: split "[PREREQ] TITLE BODY" into test_prereq_, test_title_, test_body_.
test_args_() {
	if [ $# -eq 3 ]; then
		test_prereq_=$1 test_title_=$2 test_body_=$3
	elif [ $# -eq 2 ]; then
		test_prereq_='' test_title_=$1 test_body_=$2
	else
		test_bail_out "bug in the test script: $# arguments to test_expect_*"
	fi
}

# test_skip_ : true (and prints the TAP skip line) when a prerequisite is missing.
test_skip_() {
	[ -n "$test_prereq_" ] || return 1
	test_have_prereq "$test_prereq_" && return 1
	test_count=$((test_count + 1))
	echo "ok $test_count # skip $test_title_ (missing $test_prereq_)"
	return 0
}

# test_expect_success [PREREQ] TITLE BODY
test_expect_success() {
	local test_prereq_ test_title_ test_body_
	test_args_ "$@"
	test_skip_ && return 0
	test_count=$((test_count + 1))
	if test_run_ "$test_body_"; then
		echo "ok $test_count - $test_title_"
		[ -z "${TEST_VERBOSE:-}" ] || test_diag_file "$TRASH/.test-output" 1000
	else
		test_failures=$((test_failures + 1))
		echo "not ok $test_count - $test_title_"
		diag "failed: $test_title_"
		printf '%s\n' "$test_body_" | sed 's/^/#   | /' >&2
		diag "output:"
		test_diag_file "$TRASH/.test-output"
	fi
	return 0
}

# test_expect_failure [PREREQ] TITLE BODY: a known breakage (TAP TODO).
test_expect_failure() {
	local test_prereq_ test_title_ test_body_
	test_args_ "$@"
	test_skip_ && return 0
	test_count=$((test_count + 1))
	if test_run_ "$test_body_"; then
		test_fixed=$((test_fixed + 1))
		echo "ok $test_count - $test_title_ # TODO known breakage vanished"
	else
		test_broken=$((test_broken + 1))
		echo "not ok $test_count - $test_title_ # TODO known breakage"
	fi
	return 0
}

# test_external TITLE CMD...: run CMD, a program that prints TAP itself (a node script, say),
# and fold its results into this script's: each of its ok/not ok lines is re-numbered and
# counted here, its comments passed through. One more test, TITLE, checks that it exited 0
# and ran as many tests as it planned. Its stderr is shown when that last test fails.
test_external() {
	local title=$1 out=$TRASH/.external-out err=$TRASH/.external-err
	local rc line status rest ran=0 plan=
	shift
	"$@" >"$out" 2>"$err" </dev/null
	rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "* | "not ok "*)
			if [ "${line#not ok }" != "$line" ]; then
				status="not ok" rest=${line#not ok }
			else
				status=ok rest=${line#ok }
			fi
			rest=${rest#"${rest%%[!0-9]*}"}
			ran=$((ran + 1))
			test_count=$((test_count + 1))
			echo "$status $test_count$rest"
			if [ "$status" != ok ]; then
				case "$rest" in
				*"# TODO"*) test_broken=$((test_broken + 1)) ;;
				*) test_failures=$((test_failures + 1)) ;;
				esac
			fi
			;;
		1..*)
			plan=${line#1..}
			plan=${plan%% *}
			;;
		"Bail out!"*)
			echo "$line"
			test_done_called=bail
			exit 1
			;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done <"$out"
	test_expect_success "$title: exited 0 and ran its plan" "
		test_diag_file '$err' 40 2>&1
		test '$rc' = 0 && test '$plan' = '$ran'
	"
}

# test_done: print the plan, stop the services, remove the trash directory unless a test
# failed, and exit non-zero when one did. Before stopping berth it adds one test: berth
# must exit 0 on SIGTERM with no sanitizer report in its log (that is how `make asan`
# catches leaks and undefined behaviour in the server).
test_done() {
	if [ -n "$BERTH_STARTED" ]; then
		test_expect_success 'berth shuts down cleanly on SIGTERM' '
			stop_berth &&
			test_berth_log_clean
		'
	fi
	test_stop_services
	echo "1..$test_count"
	test_done_called=finished
	if [ "$test_fixed" -gt 0 ]; then
		say "$test_fixed known breakage(s) vanished; mark them test_expect_success"
	fi
	if [ "$test_broken" -gt 0 ]; then
		say "still have $test_broken known breakage(s)"
	fi
	if [ "$test_failures" -gt 0 ]; then
		diag "failed $test_failures among $test_count test(s); trash kept in $TRASH"
		exit 1
	fi
	cd "$TEST_DIRECTORY" || exit 1
	if [ -z "${TEST_KEEP_TRASH:-}" ]; then
		rm -rf "$TRASH"
		rmdir "$TEST_TRASH_ROOT" 2>/dev/null
	fi
	exit 0
}

# ---------------------------------------------------------------------------- assertions

# test_must_fail CMD...: CMD must exit non-zero, but not by a signal, not with 126/127
# (cannot run / not found) and not with 124 (our `timeout` wrappers: a hang is a bug too).
test_must_fail() {
	"$@"
	local rc=$?
	if [ $rc -eq 0 ]; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	elif [ $rc -gt 128 ] && [ $rc -le 192 ]; then
		echo "test_must_fail: died by signal $((rc - 128)): $*" >&2
		return 1
	elif [ $rc -eq 124 ]; then
		echo "test_must_fail: timed out: $*" >&2
		return 1
	elif [ $rc -eq 126 ] || [ $rc -eq 127 ]; then
		echo "test_must_fail: command not found or not executable: $*" >&2
		return 1
	fi
	return 0
}

# test_cmp EXPECT ACTUAL: the two files are equal; prints the diff when not.
test_cmp() {
	diff -u "$1" "$2"
}

# test_grep [-v] [GREP-OPTIONS] PATTERN FILE: like grep -q, but prints FILE when it fails.
test_grep() {
	local negate=
	if [ "$1" = -v ]; then
		negate=1
		shift
	fi
	local file="${*: -1}"
	if [ -z "$negate" ]; then
		grep -q "$@" && return 0
		echo "test_grep: no match for: ${*:1:$#-1}" >&2
	else
		! grep -q "$@" && return 0
		echo "test_grep: unexpected match for: ${*:1:$#-1}" >&2
	fi
	echo "--- $file:" >&2
	head -n 50 "$file" >&2
	return 1
}

# test_wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds; fails after
# SECONDS. Bounded both in tries and in wall-clock time.
test_wait_until() {
	local secs=$1 tries=0 end
	shift
	end=$((SECONDS + secs + 1))
	while [ $tries -lt $((secs * 10 + 1)) ] && [ $SECONDS -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		tries=$((tries + 1))
		sleep 0.1
	done
	echo "test_wait_until: still failing after ${secs}s: $*" >&2
	return 1
}

# ---------------------------------------------------------------------------- ports

# test_port_free PORT: true when nothing accepts connections on 127.0.0.1:PORT.
test_port_free() {
	! (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# test_free_port: print a loopback port in 20000-39999 that refused a connection just now.
# Another process may still take it before we bind, so the starters below retry.
test_free_port() {
	local i port
	for i in $(seq 1 200); do
		port=$((20000 + RANDOM % 12000))   # below the ephemeral range (32768-): an outgoing connection may hold any port there
		if test_port_free "$port"; then
			echo "$port"
			return 0
		fi
	done
	echo "test_free_port: no free port found in 200 tries" >&2
	return 1
}

# test_kill_pid PID [SECONDS]: SIGTERM, wait up to SECONDS (default 5), then SIGKILL.
# Sets test_kill_status to the process's exit status (as `wait` reports it; 128+N for
# signal N). PID must be a child of this shell.
test_kill_pid() {
	local pid=$1 secs=${2:-5} i
	test_kill_status=
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "test_kill_pid: $pid ignored SIGTERM for ${secs}s, sending SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	test_kill_status=$?
	return 0
}

# ---------------------------------------------------------------------------- redis

# redis_ping [PORT]: true when the Redis server on PORT answers PING with +PONG.
redis_ping() {
	local port=${1:-$REDIS_PORT} line=
	# The braces keep 2>/dev/null from applying to the shell itself (exec would make it stick).
	{ exec 8<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
	printf 'PING\r\n' >&8
	read -r -t 2 line <&8
	exec 8<&- 8>&-
	[ "${line%$'\r'}" = "+PONG" ]
}

# redis_cli ARGS...: redis-cli against the private server.
redis_cli() {
	timeout 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

# redis_spawn_: start redis-server on $REDIS_PORT with $REDIS_AOF; wait for PING (5 s).
redis_spawn_() {
	mkdir -p "$REDIS_DIR"
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
		--save '' --appendonly "$REDIS_AOF" --daemonize no \
		--logfile "$REDIS_DIR/redis.log" </dev/null >/dev/null 2>&1 &
	REDIS_PID=$!
	local i end=$((SECONDS + 6))
	for i in $(seq 1 50); do
		redis_ping && return 0
		kill -0 "$REDIS_PID" 2>/dev/null || break
		[ $SECONDS -lt $end ] || break
		sleep 0.1
	done
	test_kill_pid "$REDIS_PID" 2
	REDIS_PID=
	return 1
}

# start_redis [--aof]: a private redis-server on a free loopback port, data in
# $TRASH/redis. Sets REDIS_PORT, REDIS_URL, REDIS_PID.
start_redis() {
	REDIS_AOF=no
	[ "${1:-}" = --aof ] && REDIS_AOF=yes
	REDIS_DIR=$TRASH/redis
	local attempt
	for attempt in 1 2 3 4 5; do
		REDIS_PORT=$(test_free_port) || return 1
		REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
		export REDIS_URL REDIS_PORT
		redis_spawn_ && return 0
	done
	echo "start_redis: redis-server did not start; its log:" >&2
	tail -n 20 "$REDIS_DIR/redis.log" >&2
	return 1
}

# stop_redis: stop the private Redis (SIGTERM: with --appendonly yes it flushes the AOF).
stop_redis() {
	test_kill_pid "$REDIS_PID" 5
	REDIS_PID=
}

# restart_redis: stop and start it again on the same port with the same data directory.
restart_redis() {
	stop_redis
	local i
	for i in $(seq 1 50); do
		test_port_free "$REDIS_PORT" && break
		sleep 0.1
	done
	redis_spawn_ || {
		echo "restart_redis: redis-server did not come back on port $REDIS_PORT" >&2
		tail -n 20 "$REDIS_DIR/redis.log" >&2
		return 1
	}
}

# ---------------------------------------------------------------------------- docker

# test_docker_node PREFIX: for scripts that run real containers (after test_require docker):
# build the local images without a registry (scripts/test-images.sh: berth/pause and
# berth/busybox; a failure bails out under CI=true and skips otherwise), set NODE=PREFIX-<pid>
# (the node name of the script's agents), and remove every container labelled
# berth.node=$NODE, and $TRASH/root, when the script exits.
test_docker_node() {
	test_docker_images
	NODE=$1-$$
	trap 'test_cleanup_containers; test_exit_trap_' EXIT
}

# test_docker_images: build the local images (scripts/test-images.sh); a failure is a missing
# prerequisite (test_missing_prereq: it bails out under CI=true, skips otherwise).
test_docker_images() {
	"$TOP/scripts/test-images.sh" >"$TRASH/images.log" 2>&1 || {
		cat "$TRASH/images.log" >&2
		test_missing_prereq "cannot build the test images (scripts/test-images.sh)"
	}
}

# test_cleanup_containers: remove the containers of node $NODE and $TRASH/root now.
test_cleanup_containers() {
	local ids
	ids=$(docker ps -aq --filter "label=berth.node=$NODE" 2>/dev/null)
	[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
	rm -rf "$TRASH/root"
}

# ---------------------------------------------------------------------------- berth

# start_berth [ARGS...]: `$BERTH_BIN server --redis $REDIS_URL --listen 127.0.0.1:PORT
# $BERTH_SERVER_ARGS ARGS` in the background, log appended to $TRASH/berth.log. Waits (10 s)
# for /readyz. Sets BERTH_PORT, BERTH_URL, BERTH_PID.
# BERTH_SERVER_ARGS defaults to --no-scheduler --no-controllers: the API suites test the API server alone,
# without a scheduler writing conditions and Events of its own; scheduler suites set it empty.
start_berth() {
	local attempt i end
	: "${REDIS_URL:?start_berth needs start_redis first}"
	for attempt in 1 2 3; do
		BERTH_PORT=$(test_free_port) || return 1
		BERTH_URL=http://127.0.0.1:$BERTH_PORT
		export BERTH_URL BERTH_PORT
		echo "=== start_berth: $BERTH_BIN server --redis $REDIS_URL --listen 127.0.0.1:$BERTH_PORT ${BERTH_SERVER_ARGS---no-scheduler --no-controllers} $*" \
			>>"$TRASH/berth.log"
		"$BERTH_BIN" server --redis "$REDIS_URL" --listen "127.0.0.1:$BERTH_PORT" \
			${BERTH_SERVER_ARGS---no-scheduler --no-controllers} "$@" \
			</dev/null >>"$TRASH/berth.log" 2>&1 &
		BERTH_PID=$!
		BERTH_STARTED=1
		# 10 s: at most 100 tries and a wall-clock deadline (a server that accepts but never
		# answers costs a whole --max-time per try).
		end=$((SECONDS + 11))
		for i in $(seq 1 100); do
			if curl -sf --max-time 1 -o /dev/null "$BERTH_URL/readyz"; then
				return 0
			fi
			kill -0 "$BERTH_PID" 2>/dev/null || break
			[ $SECONDS -lt $end ] || break
			sleep 0.1
		done
		if kill -0 "$BERTH_PID" 2>/dev/null; then
			echo "start_berth: not ready after 10 s; log tail:" >&2
			tail -n 30 "$TRASH/berth.log" >&2
			test_kill_pid "$BERTH_PID" 2
			BERTH_PID=
			return 1
		fi
		# It exited: maybe someone took the port first; try another one.
		wait "$BERTH_PID" 2>/dev/null
		echo "start_berth: berth exited with status $? (attempt $attempt)" >&2
		BERTH_PID=
	done
	echo "start_berth: berth did not start; log tail:" >&2
	tail -n 30 "$TRASH/berth.log" >&2
	return 1
}

# stop_berth: SIGTERM, wait up to 10 s, then SIGKILL. Fails unless berth exited 0 by itself.
stop_berth() {
	[ -n "$BERTH_PID" ] || return 0
	test_kill_pid "$BERTH_PID" 10
	BERTH_PID=
	BERTH_EXIT=$test_kill_status
	if [ "$BERTH_EXIT" != 0 ]; then
		echo "stop_berth: berth exited with status $BERTH_EXIT; log tail:" >&2
		tail -n 30 "$TRASH/berth.log" >&2
		return 1
	fi
}

# setup_berth [ARGS...]: test 1 of a server suite: start_redis, then start_berth ARGS. If it
# fails the script ends right there (test_done) since no later test could pass.
setup_berth() {
	setup_berth_args_=("$@")
	test_expect_success 'start a private redis-server and berth' '
		start_redis &&
		start_berth "${setup_berth_args_[@]}"
	'
	[ -n "$BERTH_PID" ] || test_done
}

# restart_berth [ARGS...]: stop_berth then start_berth (a new port).
restart_berth() {
	stop_berth && start_berth "$@"
}

# test_berth_log_clean: no sanitizer or valgrind report in berth.log.
test_berth_log_clean() {
	if grep -E -n 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|==[0-9]+== (Invalid|Conditional jump)' \
		"$TRASH/berth.log" >&2; then
		echo "test_berth_log_clean: sanitizer report in berth.log" >&2
		return 1
	fi
	return 0
}

# test_stop_services: stop everything this script started (also run by the EXIT trap).
test_stop_services() {
	if [ -n "$BERTH_PID" ]; then
		test_kill_pid "$BERTH_PID" 5
		BERTH_PID=
	fi
	if [ -n "$REDIS_PID" ]; then
		test_kill_pid "$REDIS_PID" 5
		REDIS_PID=
	fi
	if [ -n "${TEST_BG_PIDS:-}" ]; then
		local p
		for p in $TEST_BG_PIDS; do
			kill -TERM "$p" 2>/dev/null
		done
		TEST_BG_PIDS=
	fi
	return 0
}

# test_bg_pid PID: also kill PID at exit (for background commands a test starts itself).
test_bg_pid() {
	TEST_BG_PIDS="${TEST_BG_PIDS:-} $1"
}

test_exit_trap_() {
	local rc=$?
	test_stop_services
	if [ -z "$test_done_called" ]; then
		echo "Bail out! $TEST_NAME exited ($rc) without calling test_done"
		exit 1
	fi
}
trap test_exit_trap_ EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------- clients

# k ARGS...: the real kubectl against the berth under test, with a private discovery cache
# and a 30 s bound (K_TIMEOUT) on the whole command so a server hang fails the test.
k() {
	timeout "${K_TIMEOUT:-30}" "$KUBECTL" --server "$BERTH_URL" \
		--cache-dir "$TRASH/kcache" "$@"
}

# k_bg OUTFILE SECONDS ARGS...: kubectl ARGS in the background for at most SECONDS, stdout
# and stderr to OUTFILE; its pid in K_BG_PID (killed at exit if still running). For -w.
k_bg() {
	local out=$1 secs=$2
	shift 2
	timeout "$secs" "$KUBECTL" --server "$BERTH_URL" --cache-dir "$TRASH/kcache" "$@" \
		</dev/null >"$out" 2>&1 &
	K_BG_PID=$!
	test_bg_pid "$K_BG_PID"
}

# squash: squeeze runs of spaces (kubectl pads table columns to the widest cell).
squash() {
	tr -s ' '
}

# api METHOD PATH [BODY] [CONTENT-TYPE]: one HTTP request to berth. Prints the response
# body; the status code goes to $API_CODE and to the file $TRASH/.api-code (for use inside
# $(...)). BODY may be @FILE. CONTENT-TYPE defaults to application/json when a body is
# given. Extra request headers may be put in the array API_HEADERS (e.g. "Accept: ...").
# Returns non-zero only when curl itself fails (no connection, timeout).
api() {
	local method=$1 path=$2 body=${3-} ct=${4:-application/json}
	local args=(-s -X "$method" --max-time "${API_TIMEOUT:-20}" -o "$TRASH/.api-body"
		-w '%{http_code}')
	if [ $# -ge 3 ]; then
		args+=(-H "Content-Type: $ct" --data-binary "$body")
	fi
	local h
	for h in "${API_HEADERS[@]}"; do
		args+=(-H "$h")
	done
	: >"$TRASH/.api-body"
	API_CODE=$(curl "${args[@]}" "$BERTH_URL$path")
	local rc=$?
	echo "$API_CODE" >"$TRASH/.api-code"
	cat "$TRASH/.api-body"
	return $rc
}
API_HEADERS=()

# api_code: the status code of the last api call (works after api ran in a subshell).
api_code() {
	cat "$TRASH/.api-code"
}

# json_get FILE EXPR...: print each JavaScript expression EXPR evaluated with `o` bound to
# the JSON in FILE (- for stdin), one per line; objects are printed as JSON.
# Example: json_get pod.json 'o.spec.containers[0].image'
json_get() {
	local file=$1
	shift
	node -e '
		const fs = require("fs");
		const o = JSON.parse(fs.readFileSync(process.argv[1] === "-" ? 0 : process.argv[1], "utf8"));
		for (const e of process.argv.slice(2)) {
			const v = eval(e);
			console.log(typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));
		}' "$file" "$@"
}
