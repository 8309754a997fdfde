#!/usr/bin/env bash
# t/0196-plugin-policies.t: runs the plugin tests (t/lua/test_plugin_*.lua: the plugins of
# plugins/*/plugin.lua and their logic in lua/berth/plugins/*.lua), plainly and in the
# sandbox mimic (t/lib/lua-runner.sh). Both runs see a temporary top whose lua/ holds the
# controller fixture, each plugins/<name>/plugin.lua as the module "plugin_<name>", and a
# generated module "plugin_list" naming the plugins (test_plugin_load.lua loads and checks
# every one). Format: docs/plugins.md.
. "$(dirname "$0")/lib/lua-runner.sh"

shopt -s nullglob
SANDBOX_TOP=$(lua_sandbox_top 0196) || exit 1
trap 'rm -rf "$SANDBOX_TOP"' EXIT
ln -s "$TOP/t/lua/ctrl_fixture.lua" "$SANDBOX_TOP/lua/ctrl_fixture.lua"
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
lua_runner_main "$SANDBOX_TOP" "$TOP"/t/lua/test_plugin_*.lua
