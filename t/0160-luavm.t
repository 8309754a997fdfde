#!/bin/sh
# The policy VM: sandbox, time budget, memory cap (t/c/luavm.c). Runs from the top
# directory, where the test policies are under t/data/policies/.
cd "$(dirname "$0")/.." || exit 1
exec "${BERTH_UNIT:-build/t}/luavm"
