#!/bin/bash
# 2600-informer.t: the informer (engine/informer.c) and its HTTP client (engine/apiclient.c)
# against a real redis-server and bin/berth: paged list, watch events in order, selectors,
# indexes, re-watch, berth restarted on the same port (reconnect, re-list), and 410 Expired
# forced with --watch-window 5 (re-list delivers the difference, deletes included).
#
# The C program build/t/informer does the checks and prints TAP; this script serves its
# requests to restart berth, which it sends as lines on a FIFO (see t/c/informer.c).

test_description='informer: list+watch cache against berth'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis berth curl

INFORMER_BIN=${BERTH_UNIT:-$TOP/build/t}/informer
[ -x "$INFORMER_BIN" ] || test_missing_prereq "informer test binary not found at $INFORMER_BIN (make)"

setup_berth

# berth_same_port ARGS...: stop berth and start it again on $BERTH_PORT (start_berth would pick
# a new port, and the informer must reconnect to the address it knows). Waits 10 s for /readyz.
berth_same_port() {
	local i
	stop_berth || return 1
	for i in $(seq 1 50); do
		test_port_free "$BERTH_PORT" && break
		sleep 0.1
	done
	echo "=== berth_same_port: $BERTH_BIN server --redis $REDIS_URL --listen 127.0.0.1:$BERTH_PORT $*" \
		>>"$TRASH/berth.log"
	"$BERTH_BIN" server --redis "$REDIS_URL" --listen "127.0.0.1:$BERTH_PORT" --no-scheduler "$@" \
		</dev/null >>"$TRASH/berth.log" 2>&1 &
	BERTH_PID=$!
	for i in $(seq 1 100); do
		curl -sf --max-time 1 -o /dev/null "$BERTH_URL/readyz" && return 0
		kill -0 "$BERTH_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "berth_same_port: berth not ready on port $BERTH_PORT; log tail:" >&2
	tail -n 20 "$TRASH/berth.log" >&2
	return 1
}

# run_informer: the C test in the background (bounded by timeout), serving its "restart ARGS"
# requests until it exits; its stdout is the TAP that test_external folds in.
run_informer() {
	local req=$TRASH/ctl-req rep=$TRASH/ctl-rep pid cmd args rc
	rm -f "$req" "$rep"
	mkfifo "$req" "$rep" || return 1
	# Read-write opens never block, whatever the other side does.
	exec 7<>"$req" 8<>"$rep"
	INFORMER_CTL_REQ=$req INFORMER_CTL_REP=$rep timeout 180 "$INFORMER_BIN" &
	pid=$!
	test_bg_pid "$pid"
	while kill -0 "$pid" 2>/dev/null; do
		read -r -t 1 cmd args <&7 || continue
		case "$cmd" in
		restart)
			# shellcheck disable=SC2086
			if berth_same_port $args >&2; then echo ok >&8; else echo fail >&8; fi
			;;
		*)
			echo fail >&8
			;;
		esac
	done
	wait "$pid"
	rc=$?
	exec 7>&- 8>&-
	return $rc
}

test_external 'informer against berth' run_informer

test_done
