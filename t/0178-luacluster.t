#!/bin/bash
# 0178-luacluster.t: the Lua cluster API, require("berth.cluster") (engine/luacluster.c), in
# policy VMs (engine/policy.c's setup hook, luavm_preload) against a real redis-server and
# bin/berth: reads from informer caches (get, list with namespace/selector/index, index),
# conversion once per change, actions queued during a hook and sent at commit (create,
# update, patch incl. subresource, delete, evict, event, bind), nothing sent after a
# discard, malformed arguments and unregistered resources raising, hot reload.
#
# The C program build/t/luacluster does the checks and prints TAP (see t/c/luacluster.c).

test_description='luacluster: berth.cluster against berth'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis berth curl

LUACLUSTER_BIN=${BERTH_UNIT:-$TOP/build/t}/luacluster
[ -x "$LUACLUSTER_BIN" ] || test_missing_prereq "luacluster test binary not found at $LUACLUSTER_BIN (make)"

setup_berth

run_luacluster() {
	BERTH_URL=$BERTH_URL timeout 120 "$LUACLUSTER_BIN"
}

test_external 'berth.cluster against berth' run_luacluster

test_done
