#!/usr/bin/env bash
# t/0195-controller-policies.t: runs the controller policy tests (t/lua/test_ctrl_*.lua:
# policies/controllers/*.lua and lua/berth/controller/*.lua on fixtures from
# t/lua/ctrl_fixture.lua), plainly and in the sandbox mimic (t/lib/lua-runner.sh), whose top
# links policies/controllers as the module directory "controllers" and the fixture.
# The contract the policies follow: docs/controllers.md.
. "$(dirname "$0")/lib/lua-runner.sh"

shopt -s nullglob
SANDBOX_TOP=$(lua_sandbox_top 0195) || exit 1
trap 'rm -rf "$SANDBOX_TOP"' EXIT
ln -s "$TOP/policies/controllers" "$SANDBOX_TOP/lua/controllers"
ln -s "$TOP/t/lua/ctrl_fixture.lua" "$SANDBOX_TOP/lua/ctrl_fixture.lua"

export LUA_PATH="$TOP/lua/?.lua;$TOP/policies/?.lua;$TOP/t/lua/?.lua;;"
lua_runner_main "$SANDBOX_TOP" "$TOP"/t/lua/test_ctrl_*.lua
