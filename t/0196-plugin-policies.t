#!/usr/bin/env bash
# t/0196-plugin-policies.t: runs the plugin tests (t/lua/test_plugin_*.lua: the plugins of
# plugins/*/plugin.lua and their logic in lua/berth/plugins/*.lua) with luajit, twice each:
# plainly, and inside t/lua/sandbox.lua, the mimic of the policy sandbox, which proves the
# plugins need nothing the sandbox lacks. The mimic's require only reads <top>/lua, so both
# runs get a temporary top whose lua/ holds links to lua/berth, the controller fixture, and
# each plugins/<name>/plugin.lua as the module "plugin_<name>", plus a generated module
# "plugin_list" naming the plugins (test_plugin_load.lua loads and checks every one).
# Each run is one TAP test point; the run's own TAP output is shown indented and, when it
# fails, repeated as diagnostics. Without luajit: skip, or Bail out! under CI=true.
# Format: docs/plugins.md. Modelled on t/0195-controller-policies.t.

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
tests=("$TOP"/t/lua/test_plugin_*.lua)
if [ ${#tests[@]} -eq 0 ]; then
	echo "Bail out! no t/lua/test_plugin_*.lua files found"
	exit 1
fi

SANDBOX_TOP=$(mktemp -d "${TMPDIR:-/tmp}/berth-0196.XXXXXX") || {
	echo "Bail out! mktemp failed"
	exit 1
}
trap 'rm -rf "$SANDBOX_TOP"' EXIT
mkdir -p "$SANDBOX_TOP/lua" "$SANDBOX_TOP/t/lua"
ln -s "$TOP/lua/berth" "$SANDBOX_TOP/lua/berth"
ln -s "$TOP/t/lua/ctrl_fixture.lua" "$SANDBOX_TOP/lua/ctrl_fixture.lua"
ln -s "$TOP/t/lua/tap.lua" "$SANDBOX_TOP/t/lua/tap.lua"
{
	echo "return {"
	for d in "$TOP"/plugins/*/; do
		name=$(basename "$d")
		[ -f "$d/plugin.lua" ] || continue
		ln -s "$d/plugin.lua" "$SANDBOX_TOP/lua/plugin_$name.lua"
		echo "  \"$name\","
	done
	echo "}"
} >"$SANDBOX_TOP/lua/plugin_list.lua"

export LUA_PATH="$TOP/lua/?.lua;$TOP/t/lua/?.lua;$SANDBOX_TOP/lua/?.lua;;"
echo "1..$(( ${#tests[@]} * 2 ))"

n=0
failed=0

# check_run NAME OUTPUT RC: one test point for one run of one test file. A run that only
# skipped (its modules not found) counts as a failure here.
check_run() {
	local name=$1 out=$2 rc=$3 planned ran notok skipped
	n=$((n + 1))
	planned=$(printf '%s\n' "$out" | sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' | tail -n 1)
	ran=$(printf '%s\n' "$out" | grep -c '^ok ')
	notok=$(printf '%s\n' "$out" | grep -c '^not ok ')
	skipped=$(printf '%s\n' "$out" | grep -c '^ok .*# SKIP')
	printf '%s\n' "$out" | sed 's/^/    /'
	if [ "$rc" -eq 0 ] && [ -n "$planned" ] && [ "$planned" -gt 0 ] &&
	   [ "$ran" -eq "$planned" ] && [ "$notok" -eq 0 ] && [ "$skipped" -eq 0 ]; then
		echo "ok $n - $name ($ran tests)"
	else
		failed=$((failed + 1))
		echo "not ok $n - $name (exit $rc, plan ${planned:-none}, $ran ok, $notok not ok, $skipped skipped)"
		printf '%s\n' "$out" | grep -E '^(not ok|#|ok .*# SKIP)' | sed 's/^/# /'
	fi
}

for f in "${tests[@]}"; do
	base=$(basename "$f" .lua)
	out=$(cd "$TOP" && "$LUAJIT" "$f" 2>&1)
	check_run "$base" "$out" $?
	out=$(cd "$TOP" && "$LUAJIT" "$TOP/t/lua/sandbox.lua" "$SANDBOX_TOP" "$f" 2>&1)
	check_run "$base in the sandbox mimic" "$out" $?
done

[ "$failed" -eq 0 ]
