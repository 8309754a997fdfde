#!/usr/bin/env bash
# t/0180-lua-lib.t: runs the pure-Lua library tests (t/lua/test_*.lua but the scheduler, controller and plugin ones, which t/0190, t/0195 and t/0196 run with their fixtures) with luajit, twice each:
# plainly with LUA_PATH on lua/, and inside t/lua/sandbox.lua, a mimic of the policy sandbox
# (allow-listed globals only, frozen), which proves the modules need nothing else.
# Each run is one TAP test point; the run's own TAP output is shown indented (a subtest) and,
# when it fails, repeated as diagnostics. Without luajit: skip, or Bail out! under CI=true.

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

shopt -s nullglob
# The scheduler policy tests need policies/ on the path: t/0190 runs them.
tests=()
for f in "$TOP"/t/lua/test_*.lua; do
	case "$f" in */test_scheduler_*|*/test_ctrl_*|*/test_plugin_*) ;; *) tests+=("$f") ;; esac
done
if [ ${#tests[@]} -eq 0 ]; then
	echo "Bail out! no t/lua/test_*.lua files found"
	exit 1
fi

export LUA_PATH="$TOP/lua/?.lua;$TOP/t/lua/?.lua;;"
echo "1..$(( ${#tests[@]} * 2 ))"

n=0
failed=0

# check_run NAME OUTPUT RC: one test point for one run of one test file.
check_run() {
	local name=$1 out=$2 rc=$3 planned ran notok
	n=$((n + 1))
	planned=$(printf '%s\n' "$out" | sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' | tail -n 1)
	ran=$(printf '%s\n' "$out" | grep -c '^ok ')
	notok=$(printf '%s\n' "$out" | grep -c '^not ok ')
	printf '%s\n' "$out" | sed 's/^/    /'
	if [ "$rc" -eq 0 ] && [ -n "$planned" ] && [ "$planned" -gt 0 ] &&
	   [ "$ran" -eq "$planned" ] && [ "$notok" -eq 0 ]; then
		echo "ok $n - $name ($ran tests)"
	else
		failed=$((failed + 1))
		echo "not ok $n - $name (exit $rc, plan ${planned:-none}, $ran ok, $notok not ok)"
		printf '%s\n' "$out" | grep -E '^(not ok|#)' | sed 's/^/# /'
	fi
}

for f in "${tests[@]}"; do
	base=$(basename "$f" .lua)
	out=$(cd "$TOP" && "$LUAJIT" "$f" 2>&1)
	check_run "$base" "$out" $?
	out=$(cd "$TOP" && "$LUAJIT" "$TOP/t/lua/sandbox.lua" "$TOP" "$f" 2>&1)
	check_run "$base in the sandbox mimic" "$out" $?
done

[ "$failed" -eq 0 ]
