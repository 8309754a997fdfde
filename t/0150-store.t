#!/bin/bash
test_description='the Redis store: resourceVersions, compare-and-swap, ranges, stream window'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis
start_redis || test_bail_out 'cannot start redis-server'
test_external 'store unit test' "${BERTH_UNIT:-$TOP/build/t}/store"
test_done
