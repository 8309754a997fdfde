#!/bin/bash
# 2700-api-service-alloc.t: Service cluster IPs and node ports allocated by the API server
# (engine/svcalloc.c) as kube-apiserver does: on create, update and delete, atomically with
# the write, never twice under concurrent creates, dry runs allocating nothing, full ranges,
# the repair at start, and the exact kube error texts.

test_description='API server: Service clusterIP and nodePort allocation'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/data/api-helpers.sh"
test_require redis berth curl node
test_probe kubectl
setup_berth

NS=/api/v1/namespaces/default
IPS=berth:alloc:clusterips
PORTS=berth:alloc:nodeports

# svc_json NAME SPEC-JSON: a Service.
svc_json() {
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s"},"spec":%s}' "$1" "$2"
}

# create_svc NAME SPEC-JSON >FILE: create; must answer 201.
create_svc() {
	expect_code 201 POST $NS/services "$(svc_json "$1" "$2")"
}

# holder TABLE SLOT: who holds SLOT in the allocation table ("" if free).
holder() {
	redis_cli HGET "$1" "$2"
}

# post.sh URL NAME: POST NAME.body to URL, the answer into NAME.json; prints the HTTP code.
cat >post.sh <<'EOF'
exec curl -s -o "$2.json" -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
	--data-binary "@$2.body" "$1"
EOF

# hlen_is TABLE N: the allocation table holds N slots.
hlen_is() {
	test "$(redis_cli HLEN "$1")" = "$2"
}

# merge NAME PATCH >FILE: a merge patch of service NAME; must answer 200.
merge() {
	expect_code 200 PATCH $NS/services/$1 "$2" application/merge-patch+json
}

test_expect_success 'a ClusterIP service gets a free IP from the range, and family fields' '
	create_svc a "{\"selector\":{\"app\":\"a\"},\"ports\":[{\"port\":80}]}" >a.json &&
	jcheck a.json "/^127\\.77\\.\\d+\\.\\d+$/.test(o.spec.clusterIP)" \
		"o.spec.clusterIPs.length === 1 && o.spec.clusterIPs[0] === o.spec.clusterIP" \
		"+o.spec.clusterIP.split(\".\")[2] >= 1" &&
	jeq a.json "o.spec.ipFamilies" "[\"IPv4\"]" &&
	jeq a.json o.spec.ipFamilyPolicy SingleStack &&
	a_ip=$(json_get a.json o.spec.clusterIP) &&
	test "$(holder $IPS "$a_ip")" = default/a &&
	expect_code 200 GET $NS/services/a >got.json &&
	jeq got.json o.spec.clusterIP "$a_ip"
'

test_expect_success 'a chosen clusterIP is honoured; taken or outside the range is 422 as kube words it' '
	create_svc fixed "{\"clusterIP\":\"127.77.0.10\",\"ports\":[{\"port\":80}]}" >fixed.json &&
	jeq fixed.json o.spec.clusterIP 127.77.0.10 &&
	jeq fixed.json o.spec.clusterIPs "[\"127.77.0.10\"]" &&
	test "$(holder $IPS 127.77.0.10)" = default/fixed &&
	expect_status 422 Invalid POST $NS/services "$(svc_json dup "{\"clusterIP\":\"127.77.0.10\",\"ports\":[{\"port\":80}]}")" &&
	jeq status.json o.message "Service \"dup\" is invalid: spec.clusterIPs: Invalid value: []string{\"127.77.0.10\"}: failed to allocate IP 127.77.0.10: provided IP is already allocated" &&
	jeq status.json "o.details.causes[0].field" spec.clusterIPs &&
	expect_status 422 Invalid POST $NS/services "$(svc_json out "{\"clusterIP\":\"10.0.0.10\",\"ports\":[{\"port\":80}]}")" &&
	jeq status.json o.message "Service \"out\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.0.0.10\"}: failed to allocate IP 10.0.0.10: provided IP is not in the valid range. The range of valid IPs is 127.77.0.0/16" &&
	expect_code 404 GET $NS/services/dup >/dev/null &&
	expect_code 404 GET $NS/services/out >/dev/null
'

test_expect_success 'headless services and ExternalName get no cluster IP' '
	create_svc hl "{\"clusterIP\":\"None\",\"selector\":{\"app\":\"x\"},\"ports\":[{\"port\":80}]}" >hl.json &&
	jeq hl.json o.spec.clusterIP None &&
	jeq hl.json o.spec.clusterIPs "[\"None\"]" &&
	jeq hl.json o.spec.ipFamilyPolicy SingleStack &&
	create_svc hlns "{\"clusterIP\":\"None\",\"ports\":[{\"port\":80}]}" >hlns.json &&
	jeq hlns.json o.spec.ipFamilyPolicy RequireDualStack &&
	create_svc ext "{\"type\":\"ExternalName\",\"externalName\":\"db.example.com\"}" >ext.json &&
	jcheck ext.json "o.spec.clusterIP === undefined" "o.spec.clusterIPs === undefined" \
		"o.spec.ipFamilies === undefined" &&
	test -z "$(redis_cli HVALS $IPS | grep -E "^default/(hl|hlns|ext)$")"
'

test_expect_success 'NodePort: every port gets a node port; TCP and UDP of one port share it' '
	create_svc np "{\"type\":\"NodePort\",\"ports\":[{\"name\":\"dns\",\"port\":53},{\"name\":\"dnsu\",\"port\":53,\"protocol\":\"UDP\"},{\"name\":\"web\",\"port\":80}]}" >np.json &&
	jcheck np.json "o.spec.ports.every(p => p.nodePort >= 30000 && p.nodePort <= 32767)" \
		"o.spec.ports[0].nodePort === o.spec.ports[1].nodePort" \
		"o.spec.ports[0].nodePort !== o.spec.ports[2].nodePort" \
		"/^127\\.77\\./.test(o.spec.clusterIP)" &&
	np0=$(json_get np.json "o.spec.ports[0].nodePort") &&
	np2=$(json_get np.json "o.spec.ports[2].nodePort") &&
	test "$(holder $PORTS $np0)" = default/np &&
	test "$(holder $PORTS $np2)" = default/np
'

test_expect_success 'a chosen nodePort is honoured; taken, out of range or on ClusterIP is 422' '
	create_svc npf "{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":30080}]}" >npf.json &&
	jeq npf.json "o.spec.ports[0].nodePort" 30080 &&
	test "$(holder $PORTS 30080)" = default/npf &&
	expect_status 422 Invalid POST $NS/services "$(svc_json npd "{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":30080}]}")" &&
	jeq status.json o.message "Service \"npd\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated" &&
	jeq status.json "o.details.causes[0].field" "spec.ports[0].nodePort" &&
	expect_status 422 Invalid POST $NS/services "$(svc_json npo "{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":80}]}")" &&
	jeq status.json o.message "Service \"npo\" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767" &&
	expect_status 422 Invalid POST $NS/services "$(svc_json npc "{\"ports\":[{\"port\":80,\"nodePort\":30081}]}")" &&
	test_grep "spec.ports\[0\].nodePort: Forbidden: may not be used when \`type\` is '"'"'ClusterIP'"'"'" status.json &&
	test -z "$(holder $PORTS 30081)" &&
	test -z "$(redis_cli HVALS $IPS | grep -E "^default/(npd|npo|npc)$")"
'

test_expect_success 'LoadBalancer gets node ports unless allocateLoadBalancerNodePorts is false' '
	create_svc lb "{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":443}]}" >lb.json &&
	jcheck lb.json "o.spec.ports[0].nodePort >= 30000" &&
	create_svc lbn "{\"type\":\"LoadBalancer\",\"allocateLoadBalancerNodePorts\":false,\"ports\":[{\"port\":443}]}" >lbn.json &&
	jcheck lbn.json "o.spec.ports[0].nodePort === undefined" "/^127\\.77\\./.test(o.spec.clusterIP)"
'

test_expect_success 'dryRun=All shows allocated values but keeps nothing' '
	expect_code 201 POST "$NS/services?dryRun=All" "$(svc_json dry "{\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}")" >dry.json &&
	dry_ip=$(json_get dry.json o.spec.clusterIP) &&
	dry_np=$(json_get dry.json "o.spec.ports[0].nodePort") &&
	jcheck dry.json "/^127\\.77\\./.test(o.spec.clusterIP)" "o.spec.ports[0].nodePort >= 30000" &&
	test -z "$(holder $IPS "$dry_ip")" &&
	test -z "$(holder $PORTS "$dry_np")" &&
	expect_code 404 GET $NS/services/dry >/dev/null &&
	expect_status 422 Invalid POST "$NS/services?dryRun=All" "$(svc_json dry2 "{\"clusterIP\":\"127.77.0.10\",\"ports\":[{\"port\":80}]}")" &&
	test_grep "provided IP is already allocated" status.json &&
	create_svc dry "{\"type\":\"NodePort\",\"clusterIP\":\"$dry_ip\",\"ports\":[{\"port\":80,\"nodePort\":$dry_np}]}" >real.json &&
	jeq real.json o.spec.clusterIP "$dry_ip" &&
	expect_code 200 PATCH "$NS/services/dry?dryRun=All" "{\"spec\":{\"type\":\"ClusterIP\"}}" application/merge-patch+json >dp.json &&
	jcheck dp.json "o.spec.ports[0].nodePort === undefined" &&
	test "$(holder $PORTS "$dry_np")" = default/dry
'

test_expect_success 'an update that leaves clusterIP and nodePorts out keeps them (replace)' '
	expect_code 200 GET $NS/services/np >cur.json &&
	jedit cur.json "delete o.spec.clusterIP; delete o.spec.clusterIPs; delete o.metadata.resourceVersion; for (const p of o.spec.ports) delete p.nodePort; o.metadata.labels = {v: \"2\"}" >put.json &&
	expect_code 200 PUT $NS/services/np @put.json >put-out.json &&
	jeq put-out.json o.spec.clusterIP "$(json_get cur.json o.spec.clusterIP)" &&
	jeq put-out.json "o.spec.ports.map(p => p.nodePort).join()" "$(json_get cur.json "o.spec.ports.map(p => p.nodePort).join()")" &&
	jeq put-out.json o.metadata.labels.v 2
'

test_expect_success 'clusterIP is immutable' '
	expect_status 422 Invalid PATCH $NS/services/a "{\"spec\":{\"clusterIP\":\"127.77.0.77\",\"clusterIPs\":[\"127.77.0.77\"]}}" application/merge-patch+json &&
	test_grep "may not change once set" status.json &&
	test -z "$(holder $IPS 127.77.0.77)" &&
	test "$(holder $IPS "$a_ip")" = default/a
'

test_expect_success 'NodePort -> ClusterIP releases the node ports; back to NodePort allocates' '
	expect_code 200 GET $NS/services/np >before.json &&
	merge np "{\"spec\":{\"type\":\"ClusterIP\"}}" >cip.json &&
	jcheck cip.json "o.spec.ports.every(p => p.nodePort === undefined)" &&
	jeq cip.json o.spec.clusterIP "$(json_get before.json o.spec.clusterIP)" &&
	test -z "$(holder $PORTS $np0)" &&
	test -z "$(holder $PORTS $np2)" &&
	merge np "{\"spec\":{\"type\":\"NodePort\"}}" >np2.json &&
	jcheck np2.json "o.spec.ports.every(p => p.nodePort >= 30000)" &&
	for p in $(json_get np2.json "o.spec.ports.map(p => p.nodePort).join(\" \")"); do
		test "$(holder $PORTS $p)" = default/np || return 1
	done
'

test_expect_success 'removing a port releases its node port; adding one allocates one' '
	expect_code 200 GET $NS/services/np >cur.json &&
	gone=$(json_get cur.json "o.spec.ports[2].nodePort") &&
	expect_code 200 PATCH $NS/services/np "[{\"op\":\"remove\",\"path\":\"/spec/ports/2\"}]" application/json-patch+json >rm.json &&
	jeq rm.json "o.spec.ports.length" 2 &&
	test -z "$(holder $PORTS $gone)" &&
	expect_code 200 PATCH $NS/services/np "[{\"op\":\"add\",\"path\":\"/spec/ports/-\",\"value\":{\"name\":\"extra\",\"port\":8080}}]" application/json-patch+json >add.json &&
	added=$(json_get add.json "o.spec.ports[2].nodePort") &&
	test "$added" -ge 30000 &&
	test "$(holder $PORTS $added)" = default/np
'

test_expect_success 'ClusterIP -> ExternalName releases the IP; back to ClusterIP allocates one' '
	expect_code 200 GET $NS/services/fixed >cur.json &&
	merge fixed "{\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"x.example.com\"}}" >en.json &&
	jcheck en.json "o.spec.clusterIP === undefined" "o.spec.ipFamilies === undefined" &&
	test -z "$(holder $IPS 127.77.0.10)" &&
	merge fixed "{\"spec\":{\"type\":\"ClusterIP\",\"externalName\":null}}" >back.json &&
	back_ip=$(json_get back.json o.spec.clusterIP) &&
	test "$(holder $IPS "$back_ip")" = default/fixed &&
	jeq back.json o.spec.ipFamilyPolicy SingleStack
'

test_expect_success 'delete releases the IP and node ports' '
	npf_ip=$(json_get npf.json o.spec.clusterIP) &&
	expect_code 200 DELETE $NS/services/npf >/dev/null &&
	test -z "$(holder $IPS "$npf_ip")" &&
	test -z "$(holder $PORTS 30080)" &&
	create_svc npf2 "{\"type\":\"NodePort\",\"clusterIP\":\"$npf_ip\",\"ports\":[{\"port\":80,\"nodePort\":30080}]}" >/dev/null &&
	test "$(holder $PORTS 30080)" = default/npf2
'

test_expect_success 'with a finalizer, the values are released only when the object goes' '
	expect_code 201 POST $NS/services "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"fin\",\"finalizers\":[\"example.com/hold\"]},\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":30090}]}}" >fin.json &&
	fin_ip=$(json_get fin.json o.spec.clusterIP) &&
	expect_code 200 DELETE $NS/services/fin >del.json &&
	jcheck del.json "o.metadata.deletionTimestamp !== undefined" &&
	test "$(holder $IPS "$fin_ip")" = default/fin &&
	test "$(holder $PORTS 30090)" = default/fin &&
	merge fin "{\"metadata\":{\"finalizers\":null}}" >/dev/null &&
	expect_code 404 GET $NS/services/fin >/dev/null &&
	test -z "$(holder $IPS "$fin_ip")" &&
	test -z "$(holder $PORTS 30090)"
'

test_expect_success '40 concurrent creates never share an IP or a node port' '
	for i in $(seq 1 40); do
		svc_json "par$i" "{\"type\":\"NodePort\",\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"b\",\"port\":81}]}" >"par$i.body"
	done &&
	seq 1 40 | xargs -P 40 -I{} curl -s -o "par{}.json" -w "%{http_code}\n" -X POST \
		-H "Content-Type: application/json" --data-binary "@par{}.body" \
		"$BERTH_URL$NS/services" >codes &&
	test "$(sort -u codes)" = 201 &&
	test "$(wc -l <codes)" = 40 &&
	for i in $(seq 1 40); do json_get "par$i.json" o.spec.clusterIP; done >ips &&
	for i in $(seq 1 40); do json_get "par$i.json" "o.spec.ports.map(p => p.nodePort).join(\"\\n\")"; done >nps &&
	test "$(sort -u ips | wc -l)" = 40 &&
	test "$(sort -u nps | wc -l)" = 80 &&
	expect_code 200 GET $NS/services >all.json &&
	json_get all.json "o.items.filter(s => s.spec.clusterIP && s.spec.clusterIP !== \"None\").map(s => s.spec.clusterIP).join(\"\\n\")" >allips &&
	test -z "$(sort allips | uniq -d)" &&
	json_get all.json "o.items.flatMap(s => [...new Set((s.spec.ports || []).filter(p => p.nodePort).map(p => p.nodePort))]).join(\"\\n\")" >allnps &&
	test -z "$(sort allnps | uniq -d)" &&
	test "$(redis_cli HLEN $IPS)" = "$(grep -c . allips)" &&
	test "$(redis_cli HLEN $PORTS)" = "$(grep -c . allnps)"
'

test_expect_success 'the repair at start rebuilds the tables from the stored services' '
	# The ghost holds a port no stored service holds: random picks can land on any fixed one.
	ghost=$(seq 30000 32767 | grep -vxF -f allnps | tail -n 1) &&
	test -n "$ghost" &&
	stop_berth &&
	redis_cli DEL $IPS >/dev/null &&
	redis_cli HSET $PORTS "$ghost" default/ghost >/dev/null &&
	redis_cli HDEL $PORTS 30080 >/dev/null &&
	start_berth &&
	test_wait_until 10 hlen_is $IPS "$(grep -c . allips)" &&
	hlen_is $PORTS "$(grep -c . allnps)" &&
	test -z "$(holder $PORTS "$ghost")" &&
	test "$(holder $PORTS 30080)" = default/npf2 &&
	test "$(holder $IPS "$a_ip")" = default/a &&
	expect_status 422 Invalid POST $NS/services "$(svc_json stolen "{\"clusterIP\":\"$a_ip\",\"ports\":[{\"port\":80}]}")" &&
	test_grep "provided IP is already allocated" status.json &&
	test_grep "service allocations repaired" "$TRASH/berth.log"
'

# The node port ranges of these two tests lie outside the default 30000-32767, where the
# services of the earlier tests (still in the store) hold randomly picked ports.
test_expect_success 'a full range answers 500 InternalError as kube does; a release frees a slot' '
	stop_berth &&
	start_berth --service-cluster-ip-range 10.100.0.0/29 --service-node-port-range 41000-41001 &&
	create_svc f1 "{\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}" >f1.json &&
	create_svc f2 "{\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}" >f2.json &&
	jcheck f1.json "/^10\\.100\\.0\\.[1-6]$/.test(o.spec.clusterIP)" &&
	expect_status 500 InternalError POST $NS/services "$(svc_json f3 "{\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}")" &&
	jeq status.json o.message "Internal error occurred: failed to allocate a nodePort: range is full" &&
	for i in 3 4 5 6; do
		create_svc "f$i" "{\"ports\":[{\"port\":80}]}" >/dev/null || return 1
	done &&
	expect_status 500 InternalError POST $NS/services "$(svc_json f7 "{\"ports\":[{\"port\":80}]}")" &&
	jeq status.json o.message "Internal error occurred: failed to allocate a serviceIP: range is full" &&
	expect_code 200 DELETE $NS/services/f3 >/dev/null &&
	create_svc f7 "{\"ports\":[{\"port\":80}]}" >f7.json &&
	jcheck f7.json "/^10\\.100\\.0\\.[1-6]$/.test(o.spec.clusterIP)" &&
	test_grep "is not within the service CIDR 10.100.0.0/29" "$TRASH/berth.log"
'

test_expect_success 'two API servers on one store never hand out the same IP or port' '
	stop_berth &&
	start_berth --service-cluster-ip-range 10.101.0.0/27 --service-node-port-range 41100-41139 &&
	url1=$BERTH_URL pid1=$BERTH_PID port1=$BERTH_PORT &&
	start_berth --service-cluster-ip-range 10.101.0.0/27 --service-node-port-range 41100-41139 &&
	url2=$BERTH_URL berth2=$BERTH_PID &&
	BERTH_URL=$url1 BERTH_PID=$pid1 BERTH_PORT=$port1 &&
	test_when_finished "test_kill_pid $berth2 5" &&
	for i in $(seq 1 24); do
		svc_json "two$i" "{\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}" >"two$i.body" &&
		url=$url1 &&
		if [ $((i % 2)) = 0 ]; then url=$url2; fi &&
		echo "$url$NS/services two$i" || return 1
	done >targets &&
	xargs -P 24 -L 1 sh ./post.sh <targets >codes2 &&
	test "$(sort -u codes2)" = 201 &&
	for i in $(seq 1 24); do json_get "two$i.json" o.spec.clusterIP "o.spec.ports[0].nodePort"; done >vals &&
	test "$(grep -c "^10\.101\.0\." vals)" = 24 &&
	test "$(sort vals | uniq -d | wc -l)" = 0 &&
	test "$(wc -l <vals)" = 48
'

test_expect_success 'bad range flags are refused at start' '
	test_must_fail "$BERTH_BIN" server --service-cluster-ip-range 10.0.0.0/33 2>err &&
	test_grep "service-cluster-ip-range" err &&
	test_must_fail "$BERTH_BIN" server --service-cluster-ip-range 10.0.0.0/8 2>err &&
	test_grep "mask must be >= 12" err &&
	test_must_fail "$BERTH_BIN" server --service-node-port-range 32767-30000 2>err &&
	test_grep "service-node-port-range" err
'

test_expect_success KUBECTL 'kubectl create service and expose show CLUSTER-IP and PORT(S)' '
	stop_berth &&
	start_berth &&
	k create service nodeport x --tcp=80:8080 &&
	x_ip=$(k get svc x -o jsonpath="{.spec.clusterIP}") &&
	x_np=$(k get svc x -o jsonpath="{.spec.ports[0].nodePort}") &&
	case "$x_ip" in 127.77.*) ;; *) false ;; esac &&
	k get svc x >table &&
	test_grep "^x *NodePort *$x_ip *<none> *80:$x_np/TCP" table &&
	k create deployment web --image=img:1 &&
	k expose deployment web --port=80 --target-port=8080 &&
	k get svc web -o jsonpath="{.spec.clusterIP}" >wip &&
	k get svc web >table2 &&
	test_grep "^web *ClusterIP *$(cat wip) *<none> *80/TCP" table2
'

test_expect_success 'no sanitizer report in the server log' '
	test_berth_log_clean
'

test_done
