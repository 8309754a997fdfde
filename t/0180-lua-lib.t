#!/usr/bin/env bash
# t/0180-lua-lib.t: runs the pure-Lua library tests (t/lua/test_*.lua but the scheduler,
# controller and plugin ones, which t/0190, t/0195 and t/0196 run with their fixtures) with
# luajit, plainly with LUA_PATH on lua/ and inside the sandbox mimic whose top is the
# repository itself (t/lib/lua-runner.sh).
. "$(dirname "$0")/lib/lua-runner.sh"

shopt -s nullglob
tests=()
for f in "$TOP"/t/lua/test_*.lua; do
	case "$f" in */test_scheduler_*|*/test_ctrl_*|*/test_plugin_*) ;; *) tests+=("$f") ;; esac
done
export LUA_PATH="$TOP/lua/?.lua;$TOP/t/lua/?.lua;;"
lua_runner_main "$TOP" "${tests[@]}"
