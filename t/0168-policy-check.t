#!/bin/bash
test_description='berth policy check: load policies in the sandbox and run their self_test'
. "$(dirname "$0")/lib/test-lib.sh"
test_require berth

check() {
	"$BERTH_BIN" policy check --lua "$TOP/lua" "$@"
}

test_expect_success 'every shipped policy and plugin loads and passes its self_test' '
	(cd "$TOP" && check policies/scheduler.lua policies/controllers/*.lua plugins/*/plugin.lua) >out &&
	test "$(grep -c ": ok (loaded" out)" -ge 10
'

test_expect_success 'a syntax error names the file and line, and fails' '
	printf "return {\n  filter = function( end\n}\n" >bad.lua &&
	test_must_fail check bad.lua 2>err &&
	grep -q "^bad.lua:2: " err
'

test_expect_success 'a self_test that fails names its line; a runaway one stops at the budget' '
	printf "return { self_test = function()\n  assert(1 == 2, \"one is not two\")\nend }\n" >fail.lua &&
	test_must_fail check fail.lua 2>err &&
	grep -q "fail.lua: self_test failed (error): fail.lua:2: one is not two" err &&
	printf "return { self_test = function() while true do end end }\n" >spin.lua &&
	test_must_fail check --budget-ms 100 spin.lua 2>err &&
	grep -q "self_test failed (timeout)" err
'

test_expect_success 'the sandbox holds: a policy reaching for io fails to load' '
	printf "local f = io.open(\"/etc/passwd\")\nreturn {}\n" >io.lua &&
	test_must_fail check io.lua 2>err &&
	grep -q "^io.lua:1: " err
'

test_expect_success 'several files: the status is 1 if any fails, and each is reported' '
	printf "return {}\n" >fine.lua &&
	test_must_fail check fine.lua bad.lua >out 2>err &&
	grep -q "fine.lua: ok (loaded; it has no self_test)" out &&
	grep -q "^bad.lua:2: " err
'

test_done
