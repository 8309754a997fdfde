#!/bin/bash
# 3900-client-node.t: the official JavaScript client against berth. The checks live in
# t/js/client-node.js, which prints TAP; test_external folds its results into ours.

test_description='@kubernetes/client-node: CRUD, json-patch, informer'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis berth node
setup_berth

test_external 'client-node.js' timeout 60 node "$TEST_DIRECTORY/js/client-node.js"

test_done
