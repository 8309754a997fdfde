#!/bin/sh
# The policy manager: lazy load, hot reload via inotify, last good version, self_test,
# SIGHUP reload, budget/memory overrides (t/c/policy.c). Runs from the top directory, where
# the fixed test policies are under t/data/policies-reload/.
cd "$(dirname "$0")/.." || exit 1
exec "${BERTH_UNIT:-build/t}/policy"
