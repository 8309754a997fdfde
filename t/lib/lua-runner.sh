# t/lib/lua-runner.sh: what the Lua test runners (t/0180, t/0190, t/0195, t/0196) share.
# Each runs t/lua/test_*.lua files with luajit twice: plainly, and inside t/lua/sandbox.lua,
# the mimic of the policy sandbox, which proves the code needs nothing the sandbox lacks.
# Each run is one TAP test point; its own TAP output is shown indented and, when it fails,
# repeated as diagnostics. A run that skipped anything counts as a failure.
#
#   . "$(dirname "$0")/lib/lua-runner.sh"     sets TOP and LUAJIT; without luajit: skip,
#                                              or Bail out! under CI=true
#   lua_runner_main SANDBOX_TOP FILE...        plan, both runs of each file; exits with the
#                                              suite's status
# The caller sets LUA_PATH for the plain runs; the sandbox mimic's require reads only
# SANDBOX_TOP/lua.

TOP=$(cd "$(dirname "$0")/.." && pwd)
LUAJIT=${LUAJIT:-luajit}

if ! command -v "$LUAJIT" >/dev/null 2>&1; then
	if [ "${CI:-}" = true ]; then
		echo "Bail out! luajit not found (needed by t/lua tests)"
		exit 1
	fi
	echo "1..0 # SKIP luajit not found"
	exit 0
fi

lua_runner_n=0
lua_runner_failed=0

# lua_check_run NAME OUTPUT RC: one test point for one run of one test file.
lua_check_run() {
	local name=$1 out=$2 rc=$3 planned ran notok skipped
	lua_runner_n=$((lua_runner_n + 1))
	planned=$(printf '%s\n' "$out" | sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' | tail -n 1)
	ran=$(printf '%s\n' "$out" | grep -c '^ok ')
	notok=$(printf '%s\n' "$out" | grep -c '^not ok ')
	skipped=$(printf '%s\n' "$out" | grep -c '^ok .*# SKIP')
	printf '%s\n' "$out" | sed 's/^/    /'
	if [ "$rc" -eq 0 ] && [ -n "$planned" ] && [ "$planned" -gt 0 ] &&
	   [ "$ran" -eq "$planned" ] && [ "$notok" -eq 0 ] && [ "$skipped" -eq 0 ]; then
		echo "ok $lua_runner_n - $name ($ran tests)"
	else
		lua_runner_failed=$((lua_runner_failed + 1))
		echo "not ok $lua_runner_n - $name (exit $rc, plan ${planned:-none}, $ran ok, $notok not ok, $skipped skipped)"
		printf '%s\n' "$out" | grep -E '^(not ok|#|ok .*# SKIP)' | sed 's/^/# /'
		# Also on stderr, which prove shows without -v: a failure seen once in CI is then
		# readable in its log.
		printf '%s\n' "$out" | grep -E -A6 '^not ok' | sed "s/^/$name: /" | head -n 40 >&2
	fi
}

lua_runner_main() {
	local sandbox_top=$1 f base out
	shift
	if [ $# -eq 0 ]; then
		echo "Bail out! no test files found"
		exit 1
	fi
	echo "1..$(( $# * 2 ))"
	for f in "$@"; do
		base=$(basename "$f" .lua)
		out=$(cd "$TOP" && "$LUAJIT" "$f" 2>&1)
		lua_check_run "$base" "$out" $?
		out=$(cd "$TOP" && "$LUAJIT" "$TOP/t/lua/sandbox.lua" "$sandbox_top" "$f" 2>&1)
		lua_check_run "$base in the sandbox mimic" "$out" $?
	done
	[ "$lua_runner_failed" -eq 0 ]
	exit $?
}

# lua_sandbox_top NAME: a temporary top for the sandbox mimic (removed on exit) with
# lua/berth and t/lua/tap.lua linked in; prints its path.
lua_sandbox_top() {
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/berth-$1.XXXXXX") || {
		echo "Bail out! mktemp failed" >&2
		exit 1
	}
	mkdir -p "$dir/lua" "$dir/t/lua"
	ln -s "$TOP/lua/berth" "$dir/lua/berth"
	ln -s "$TOP/t/lua/tap.lua" "$dir/t/lua/tap.lua"
	echo "$dir"
}
