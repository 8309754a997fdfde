#!/bin/sh
# The scheduler cache's hand-over to Lua and the shared conversions (t/c/schedcache.c).
exec "${BERTH_UNIT:-$(dirname "$0")/../build/t}/schedcache"
