#!/bin/bash
# 6110-proxy-loop.t: every case of t/6100 again with the other relay code paths: relays on
# the proxy's own event loop (--relay-threads 0) moving bytes through bufferevents
# (--relay buffer), where t/6100 uses the default worker threads and splice(2).
PROXY_THREADS=0
PROXY_RELAY=buffer
. "$(dirname "$0")/6100-proxy.t"
