#!/usr/bin/env bash
# t/0190-scheduler-policy.t: runs the scheduler policy tests (t/lua/test_scheduler_*.lua:
# lua/berth/framework.lua and policies/scheduler.lua on fixture clusters built by
# t/lua/sched_fixture.lua), plainly and in the sandbox mimic (t/lib/lua-runner.sh). The
# mimic's top holds links to lua/berth, policies/scheduler.lua and the fixture, as the
# core's lib_dir would hold them.
. "$(dirname "$0")/lib/lua-runner.sh"

shopt -s nullglob
SANDBOX_TOP=$(lua_sandbox_top 0190) || exit 1
trap 'rm -rf "$SANDBOX_TOP"' EXIT
ln -s "$TOP/policies/scheduler.lua" "$SANDBOX_TOP/lua/scheduler.lua"
ln -s "$TOP/t/lua/sched_fixture.lua" "$SANDBOX_TOP/lua/sched_fixture.lua"

export LUA_PATH="$TOP/lua/?.lua;$TOP/policies/?.lua;$TOP/t/lua/?.lua;;"
lua_runner_main "$SANDBOX_TOP" "$TOP"/t/lua/test_scheduler_*.lua
