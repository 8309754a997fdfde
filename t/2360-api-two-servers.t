#!/bin/bash
# 2360-api-two-servers.t: two API servers on one Redis, as docs/operations.md runs a
# replicated control plane: each sees the other's writes at once, a watch on one sees
# writes made through the other, conflicts are caught across them, and Services created
# through both at the same time never share a cluster IP or node port.

test_description='API server: two servers sharing one Redis store'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis berth curl kubectl

setup_berth
A_URL=$BERTH_URL A_PID=$BERTH_PID

test_expect_success 'a second server on the same Redis' '
	start_berth &&
	B_URL=$BERTH_URL B_PID=$BERTH_PID &&
	test_bg_pid $A_PID
'

ka() { BERTH_URL=$A_URL k "$@"; }
kb() { BERTH_URL=$B_URL k "$@"; }

test_expect_success 'a write through one is read through the other' '
	ka create configmap one --from-literal=k=v &&
	kb get configmap one -o jsonpath="{.data.k}" >actual &&
	printf v >expect && test_cmp expect actual
'

test_expect_success 'a watch on one sees writes made through the other' '
	k_bg watch.out 20 get configmaps --watch-only -o name &&
	sleep 1 &&
	BERTH_URL=$A_URL k create configmap two --from-literal=k=v &&
	test_wait_until 10 grep -q configmap/two watch.out
'

test_expect_success 'a stale update through one is a conflict after a write through the other' '
	ka get configmap one -o json >old.json &&
	kb label configmap one x=y &&
	test_must_fail ka replace -f old.json 2>err &&
	test_grep "the object has been modified" err
'

test_expect_success 'services created through both at once get distinct IPs and node ports' '
	pids= &&
	for i in 1 2 3 4 5 6; do
		u=$A_URL; [ $((i % 2)) = 0 ] && u=$B_URL
		BERTH_URL=$u k create service nodeport np$i --tcp=80:80 >/dev/null &
		pids="$pids $!"
	done &&
	for p in $pids; do wait $p || exit_code=1; done &&
	test -z "${exit_code:-}" &&
	k get services -o jsonpath="{range .items[*]}{.spec.clusterIP}{\"\\n\"}{end}" | grep -v "^$" | sort >ips &&
	test $(wc -l <ips) -ge 6 &&
	test -z "$(uniq -d ips)" &&
	k get services -o jsonpath="{range .items[*]}{.spec.ports[0].nodePort}{\"\\n\"}{end}" | grep -v "^$" | sort >ports &&
	test $(wc -l <ports) = 6 &&
	test -z "$(uniq -d ports)"
'

test_expect_success 'both stop cleanly' '
	stop_berth &&
	BERTH_PID=$A_PID && stop_berth &&
	test_berth_log_clean
'

test_done
