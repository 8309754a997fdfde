#!/bin/sh
exec "${BERTH_UNIT:-$(dirname "$0")/../build/t}/spdy"
