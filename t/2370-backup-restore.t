#!/bin/bash
# 2370-backup-restore.t: the backup and restore procedure of docs/operations.md, as written
# there: `redis-cli --rdb` takes a snapshot of a live store (AOF on), and restoring it into a
# fresh Redis data directory brings back the objects and the resourceVersion counter, so
# resourceVersions keep increasing after the restore.

test_description='operations: backup and restore of the Redis store'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis berth kubectl

# aof_rewritten: AOF is on and no rewrite is running (the snapshot is in the AOF).
aof_rewritten() {
	redis_cli info persistence >persistence &&
	grep -q "aof_enabled:1" persistence &&
	grep -q "aof_rewrite_in_progress:0" persistence &&
	grep -q "aof_rewrite_scheduled:0" persistence
}

# restart_redis_same_dir: restart the restored Redis with AOF on, as it will run from now.
restart_redis_same_dir() {
	stop_redis &&
	REDIS_AOF=yes redis_spawn_
}

test_expect_success 'a store with AOF on and some objects' '
	start_redis --aof &&
	start_berth &&
	k create namespace team &&
	k -n team create configmap settings --from-literal=level=3 &&
	k create deployment web --image=berth/busybox --replicas=2 &&
	rv_backup=$(k get configmap -n team settings -o jsonpath="{.metadata.resourceVersion}")
'

test_expect_success 'backup: redis-cli --rdb while the cluster runs' '
	timeout 30 redis-cli -h 127.0.0.1 -p $REDIS_PORT --rdb "$TRASH/backup.rdb" >rdb.out 2>&1 &&
	test -s "$TRASH/backup.rdb"
'

test_expect_success 'changes after the backup' '
	k -n team delete configmap settings &&
	k create configmap later --from-literal=k=v
'

test_expect_success 'restore: stop, replace the data directory, load the snapshot, AOF on again' '
	stop_berth &&
	stop_redis &&
	rm -rf "$REDIS_DIR" && mkdir -p "$REDIS_DIR" &&
	cp "$TRASH/backup.rdb" "$REDIS_DIR/dump.rdb" &&
	{ redis-server --port $REDIS_PORT --bind 127.0.0.1 --dir "$REDIS_DIR" --appendonly no \
		--dbfilename dump.rdb --daemonize no --logfile "$REDIS_DIR/redis.log" \
		</dev/null >/dev/null 2>&1 & } &&
	REDIS_PID=$! &&
	test_wait_until 10 redis_ping &&
	redis_cli config set appendonly yes >/dev/null &&
	test_wait_until 20 aof_rewritten &&
	start_berth
'

test_expect_success 'the objects are as they were at the backup' '
	k -n team get configmap settings -o jsonpath="{.data.level}" >actual &&
	printf 3 >expect && test_cmp expect actual &&
	k get deployment web -o jsonpath="{.spec.replicas}" >actual &&
	printf 2 >expect && test_cmp expect actual &&
	test_must_fail k get configmap later
'

test_expect_success 'resourceVersions keep increasing after the restore' '
	k create configmap after --from-literal=k=v &&
	rv=$(k get configmap after -o jsonpath="{.metadata.resourceVersion}") &&
	test "$rv" -gt "$rv_backup"
'

test_expect_success 'the restored store survives a Redis restart (AOF was rewritten)' '
	restart_redis_same_dir &&
	test_wait_until 15 k get configmap after
'

test_done
