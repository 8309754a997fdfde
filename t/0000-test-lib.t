#!/bin/bash
# 0000-test-lib.t: self-test of t/lib/test-lib.sh (assertions, TAP output of passing,
# failing, known-broken and skipped tests, trash handling, prerequisites, the private Redis).
# Scripts under test are written into the trash directory and run with their own trash root.

test_description='the shell test library itself'
. "$(dirname "$0")/lib/test-lib.sh"

command -v redis-server >/dev/null 2>&1 && test_set_prereq REDIS

# write_child NAME BODY: a test script $TRASH/NAME.sh (not .t: a kept trash directory must
# not hand prove -r more tests) that sources the library, then BODY.
write_child() {
	{
		echo '#!/bin/bash'
		echo "test_description='child $1'"
		echo ". '$TEST_DIRECTORY/lib/test-lib.sh'"
		printf '%s\n' "$2"
	} >"$TRASH/$1.sh"
	chmod +x "$TRASH/$1.sh"
}

# run_child NAME [ENV=VALUE...]: run it with its trash under $TRASH/sub; stdout to NAME.out,
# stderr to NAME.err, exit status to NAME.rc. CI is cleared unless given.
run_child() {
	local name=$1
	shift
	env -u CI -u TEST_VERBOSE -u TEST_KEEP_TRASH TEST_TRASH_ROOT="$TRASH/sub" "$@" \
		timeout 60 "$TRASH/$name.sh" >"$TRASH/$name.out" 2>"$TRASH/$name.err"
	echo $? >"$TRASH/$name.rc"
}

test_expect_success 'test_cmp accepts equal files' '
	printf "a\nb\n" >one &&
	printf "a\nb\n" >two &&
	test_cmp one two
'

test_expect_success 'test_cmp rejects different files and shows a diff' '
	printf "a\n" >one &&
	printf "b\n" >two &&
	test_must_fail test_cmp one two >diff.out &&
	grep -q "^-a" diff.out &&
	grep -q "^+b" diff.out
'

test_expect_success 'test_must_fail accepts an ordinary failure' '
	test_must_fail false &&
	test_must_fail sh -c "exit 3"
'

test_expect_success 'test_must_fail rejects success, signals, hangs, missing commands' '
	! test_must_fail true 2>/dev/null &&
	! test_must_fail sh -c "kill -9 \$\$" 2>/dev/null &&
	! test_must_fail timeout 0.2 sleep 5 2>/dev/null &&
	! test_must_fail no-such-command-berth 2>/dev/null
'

test_expect_success 'test_grep finds and refuses matches' '
	echo "hello world" >g &&
	test_grep "wor" g &&
	test_grep -v "planet" g &&
	! test_grep "planet" g 2>/dev/null &&
	! test_grep -v "hello" g 2>/dev/null
'

test_expect_success 'a body runs in the shell itself: variables survive' '
	survivor=42
'

test_expect_success 'the variable set by the previous test is seen' '
	test "$survivor" = 42
'

test_expect_success 'each body starts in the trash directory' '
	mkdir -p elsewhere &&
	cd elsewhere
'

test_expect_success 'even after the previous body changed directory' '
	test "$(pwd)" = "$TRASH"
'

test_expect_success 'test_when_finished runs cleanups last-first after the body' '
	rm -f order &&
	test_when_finished "echo first >>order" &&
	test_when_finished "echo second >>order" &&
	echo body >>order
'

test_expect_success 'the cleanups of the previous test ran in order' '
	printf "body\nsecond\nfirst\n" >expect &&
	test_cmp expect order
'

test_expect_success 'test_free_port gives a free port in 20000-39999' '
	port=$(test_free_port) &&
	test "$port" -ge 20000 &&
	test "$port" -le 39999 &&
	test_port_free "$port"
'

test_expect_success 'test_wait_until is bounded and sees success' '
	start=$SECONDS &&
	! test_wait_until 1 false 2>/dev/null &&
	test $((SECONDS - start)) -le 3 &&
	touch flag &&
	test_wait_until 1 test -f flag
'

test_expect_success 'a child script reports ok, not ok, TODO and skip in TAP; return ends a body' '
	write_child mixed "
test_set_prereq HAVE
test_expect_success \"passes\" \"true\"
test_expect_success \"fails\" \"echo shown-on-failure && false\"
test_expect_failure \"known broken\" \"false\"
test_expect_failure \"known broken but fixed\" \"true\"
test_expect_success MISSING \"needs a prereq\" \"false\"
test_expect_success HAVE \"has its prereq\" \"true\"
test_expect_success \"returns\" \"for i in 1 2; do return 1; done\"
test_expect_success \"after a return\" \"true\"
test_done
" &&
	run_child mixed &&
	cat >expect <<-\EOF &&
	ok 1 - passes
	not ok 2 - fails
	not ok 3 - known broken # TODO known breakage
	ok 4 - known broken but fixed # TODO known breakage vanished
	ok 5 # skip needs a prereq (missing MISSING)
	ok 6 - has its prereq
	not ok 7 - returns
	ok 8 - after a return
	1..8
	EOF
	grep -v "^#" mixed.out >actual &&
	test_cmp expect actual &&
	test "$(cat mixed.rc)" = 1 &&
	grep -q "shown-on-failure" mixed.err &&
	test -d sub/mixed
'

test_expect_success 'a passing child exits 0 and removes its trash directory' '
	write_child good "
test_expect_success \"one\" \"echo data >file && test -f file\"
test_done
" &&
	run_child good &&
	test "$(cat good.rc)" = 0 &&
	printf "ok 1 - one\n1..1\n" >expect &&
	test_cmp expect good.out &&
	test ! -e sub/good
'

test_expect_success 'TEST_KEEP_TRASH keeps the trash of a passing child' '
	run_child good TEST_KEEP_TRASH=1 &&
	test "$(cat good.rc)" = 0 &&
	test -f sub/good/file
'

test_expect_success 'a missing prerequisite skips the script outside CI' '
	write_child prereq "
KUBECTL=/nonexistent/kubectl
test_require kubectl
test_expect_success \"never\" \"false\"
test_done
" &&
	run_child prereq &&
	test "$(cat prereq.rc)" = 0 &&
	grep -q "^1\.\.0 # SKIP missing prerequisite: kubectl not found" prereq.out &&
	! grep -q "^ok\|^not ok" prereq.out
'

test_expect_success 'a missing prerequisite bails out under CI=true' '
	run_child prereq CI=true &&
	test "$(cat prereq.rc)" != 0 &&
	grep -q "^Bail out! prereq: missing prerequisite under CI" prereq.out
'

test_expect_success 'a child that exits without test_done bails out' '
	write_child early "
test_expect_success \"one\" \"true\"
exit 0
" &&
	run_child early &&
	test "$(cat early.rc)" != 0 &&
	grep -q "^Bail out! early exited (0) without calling test_done" early.out
'

test_expect_success 'test_external folds a TAP program into the count' '
	printf "#!/bin/sh\necho \"ok 1 - a\"\necho \"not ok 2 - b\"\necho \"# note\"\necho 1..2\nexit 1\n" >tapper &&
	printf "#!/bin/sh\necho \"ok 1 - c\"\necho 1..1\n" >goodtapper &&
	chmod +x tapper goodtapper &&
	write_child external "
test_expect_success \"first\" \"true\"
test_external ext \"$TRASH/tapper\"
test_external good \"$TRASH/goodtapper\"
test_done
" &&
	run_child external &&
	cat >expect <<-\EOF &&
	ok 1 - first
	ok 2 - a
	not ok 3 - b
	# note
	not ok 4 - ext: exited 0 and ran its plan
	ok 5 - c
	ok 6 - good: exited 0 and ran its plan
	1..6
	EOF
	test_cmp expect external.out &&
	test "$(cat external.rc)" = 1
'

test_expect_success 'api fails cleanly when nothing listens' '
	BERTH_URL=http://127.0.0.1:$(test_free_port) &&
	test_must_fail api GET /readyz &&
	test "$(api_code)" = 000
'

test_expect_success REDIS 'start_redis answers PING on a private port' '
	start_redis &&
	redis_ping &&
	test "$REDIS_URL" = "redis://127.0.0.1:$REDIS_PORT/0" &&
	test -d "$TRASH/redis"
'

test_expect_success REDIS 'stop_redis frees the port' '
	port=$REDIS_PORT &&
	stop_redis &&
	test -z "$REDIS_PID" &&
	test_wait_until 5 test_port_free "$port"
'

test_expect_success REDIS 'restart_redis keeps AOF data and the port' '
	start_redis --aof &&
	port=$REDIS_PORT &&
	redis_cli set berth:test kept >/dev/null &&
	restart_redis &&
	test "$REDIS_PORT" = "$port" &&
	test "$(redis_cli get berth:test)" = kept &&
	stop_redis
'

test_expect_success REDIS 'services of a child are killed when it exits' '
	write_child services "
start_redis || test_bail_out no redis
echo \$REDIS_PID >\"$TRASH/services.pid\"
test_expect_success \"redis up\" \"redis_ping\"
test_done
" &&
	run_child services &&
	test "$(cat services.rc)" = 0 &&
	pid=$(cat services.pid) &&
	test -n "$pid" &&
	test_wait_until 5 eval "! kill -0 $pid"
'

test_done
