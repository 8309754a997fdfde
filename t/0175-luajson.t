#!/bin/sh
# jansson <-> Lua conversion for policies (t/c/luajson.c).
exec "${BERTH_UNIT:-$(dirname "$0")/../build/t}/luajson"
