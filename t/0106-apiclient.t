#!/bin/sh
# 0106-apiclient.t: engine/apiclient.c's keep-alive pool and its bound on requests in flight,
# against a scripted server (t/c/apiclient.c).
exec "${BERTH_UNIT:-$(dirname "$0")/../build/t}/apiclient"
