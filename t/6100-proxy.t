#!/bin/bash
# 6100-proxy.t: berth proxy (the kube-proxy role) against a real API server: Services without
# selectors whose Endpoints the test writes by hand, pointing at small Python servers it
# starts. Checks round robin, ClientIP affinity, a refusing endpoint skipped, an endpoint
# removed under load (no new connection lost, an established one kept), node ports, unrelated
# updates leaving listeners alone, deletion closing the ports, UDP, and /metrics.
# The relays run on the proxy's worker threads (the default); t/6110 runs this file again
# with them on the proxy's own loop and bufferevents (PROXY_THREADS=0 PROXY_RELAY=buffer).
#
# The API server refuses loopback endpoint addresses (as kube-apiserver does), so the
# backends listen on one of this host's own non-loopback addresses (docker0's, say): traffic
# to it still never leaves the host.

test_description='berth proxy: services on cluster IPs and node ports, TCP and UDP'
. "$(dirname "$0")/lib/test-lib.sh"
test_require redis berth curl node
command -v python3 >/dev/null || test_missing_prereq "python3 not found"

BACKEND_IP=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')
[ -n "$BACKEND_IP" ] || test_missing_prereq "no non-loopback IPv4 address on this host for the backends"

NS=/api/v1/namespaces/default

# ---- helper programs -----------------------------------------------------------------

# backend.py NAME IP PORT: HTTP server answering every GET with "NAME\n" and every POST
# with its own body (keep-alive for HTTP/1.1 clients).
cat >"$TRASH/backend.py" <<'EOF'
import http.server, sys
name, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = (name + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128
S((ip, port), H).serve_forever()
EOF

# hit.py HOST PORT N [DELAY]: N requests, one connection each (HTTP/1.0); prints each
# answer's body or "FAIL reason"; exits 1 if any failed. Bounded: 5 s per request, 60 s in all.
cat >"$TRASH/hit.py" <<'EOF'
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0
deadline = time.time() + 60
fails = 0
for i in range(n):
    if time.time() > deadline:
        print("FAIL deadline"); fails += 1; break
    try:
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        body = body.decode().strip()
        if not head.startswith(b"HTTP/1.1 200") or not body:
            print("FAIL bad answer %r" % data[:60]); fails += 1
        else:
            print(body)
    except Exception as e:
        print("FAIL %s" % e); fails += 1
    sys.stdout.flush()
    if delay:
        time.sleep(delay)
sys.exit(1 if fails else 0)
EOF

# persist.py HOST PORT DIR: one keep-alive connection: a request, then (once DIR/go exists,
# at most 20 s later) a second one on the same connection; prints both answers.
cat >"$TRASH/persist.py" <<'EOF'
import http.client, os, sys, time
host, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection(host, port, timeout=10)
c.request("GET", "/")
first = c.getresponse().read().decode().strip()
with open(d + "/first.tmp", "w") as f:
    f.write(first + "\n")
os.rename(d + "/first.tmp", d + "/first")
deadline = time.time() + 20
while not os.path.exists(d + "/go") and time.time() < deadline:
    time.sleep(0.05)
c.request("GET", "/")
second = c.getresponse().read().decode().strip()
print(first, second)
EOF

# udpecho.py NAME IP PORT: answers each datagram with "NAME:" + datagram.
cat >"$TRASH/udpecho.py" <<'EOF'
import socket, sys
name, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, port))
while True:
    data, addr = s.recvfrom(65536)
    s.sendto(name.encode() + b":" + data, addr)
EOF

# udpclient.py HOST PORT N: from one socket, N datagrams "ping<i>", each answer printed;
# a lost one is sent again (3 tries, 1 s each). Exits 1 when one got no answer.
cat >"$TRASH/udpclient.py" <<'EOF'
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
for i in range(n):
    msg = b"ping%d" % i
    for attempt in range(3):
        s.sendto(msg, (host, port))
        try:
            data, addr = s.recvfrom(65536)
            print(data.decode(), "%s:%d" % addr)
            break
        except socket.timeout:
            continue
    else:
        print("FAIL no answer to", msg.decode())
        sys.exit(1)
EOF

# start_backend NAME PORT [udp]: a backend on BACKEND_IP:PORT, killed at exit; waits for it.
start_backend() {
	if [ "${3:-}" = udp ]; then
		python3 "$TRASH/udpecho.py" "$1" "$BACKEND_IP" "$2" </dev/null >>"$TRASH/backends.log" 2>&1 &
		eval "PID_$1=$!"
		test_bg_pid $!
		sleep 0.3
		return 0
	fi
	python3 "$TRASH/backend.py" "$1" "$BACKEND_IP" "$2" </dev/null >>"$TRASH/backends.log" 2>&1 &
	eval "PID_$1=$!"
	test_bg_pid $!
	test_wait_until 10 tcp_open "$BACKEND_IP" "$2"
}

tcp_open() {
	(exec 9<>"/dev/tcp/$1/$2") 2>/dev/null
}

tcp_closed() {
	! tcp_open "$1" "$2"
}

# svc NAME SPEC-JSON: create a Service; its clusterIP into $CIP.
svc() {
	api POST $NS/services "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"$1\"},\"spec\":$2}" >"$1.svc.json" &&
	test "$API_CODE" = 201 &&
	CIP=$(json_get "$1.svc.json" o.spec.clusterIP)
}

# eps NAME PORTNAME PROTO PORT...: the Endpoints NAME: one subset per backend port, all on
# BACKEND_IP. Created or replaced.
eps() {
	local name=$1 pname=$2 proto=$3 subsets= p
	shift 3
	for p in "$@"; do
		subsets="$subsets${subsets:+,}{\"addresses\":[{\"ip\":\"$BACKEND_IP\"}],\"ports\":[{\"name\":\"$pname\",\"port\":$p,\"protocol\":\"$proto\"}]}"
	done
	local body="{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"$name\"},\"subsets\":[$subsets]}"
	api GET $NS/endpoints/$name >/dev/null
	if [ "$API_CODE" = 200 ]; then
		api PUT $NS/endpoints/$name "$body" >/dev/null && test "$API_CODE" = 200
	else
		api POST $NS/endpoints "$body" >/dev/null && test "$API_CODE" = 201
	fi
}

# answers_from FILE NAME...: FILE (hit.py output) holds exactly the answers NAME..., each
# at least once.
answers_from() {
	local file=$1 n
	shift
	sort -u "$file" >got.names &&
	printf '%s\n' "$@" | sort >want.names &&
	test_cmp want.names got.names
}

count_of() {
	grep -c "^$2\$" "$1"
}

metric() {
	curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

# ---- tests ---------------------------------------------------------------------------

setup_berth

test_expect_success 'backends and berth proxy start; /healthz is ok once synced' '
	P1=$(test_free_port) && P2=$(test_free_port) && P3=$(test_free_port) &&
	start_backend b1 $P1 && start_backend b2 $P2 && start_backend b3 $P3 &&
	MPORT=$(test_free_port) || return 1
	"$BERTH_BIN" proxy --server "$BERTH_URL" --metrics-listen 127.0.0.1:$MPORT \
		--nodeport-address 127.0.0.1 --connect-timeout 1000 --udp-idle-timeout 5 \
		--log-level debug ${PROXY_RELAY:+--relay $PROXY_RELAY} \
		${PROXY_THREADS:+--relay-threads $PROXY_THREADS} </dev/null >>"$TRASH/proxy.log" 2>&1 &
	PROXY_PID=$! &&
	test_bg_pid $PROXY_PID &&
	test_wait_until 10 curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$MPORT/healthz" &&
	if [ "${PROXY_THREADS:-}" = 0 ]; then
		grep -q "relay ${PROXY_RELAY:-splice} on 0 thread(s)" "$TRASH/proxy.log"
	else
		grep -E -q "relay ${PROXY_RELAY:-splice} on [1-8] thread\(s\)" "$TRASH/proxy.log"
	fi
'

test_expect_success 'a Service gets a cluster IP in 127.77.0.0/16' '
	svc web "{\"ports\":[{\"name\":\"http\",\"port\":8080}]}" &&
	WEB_IP=$CIP &&
	case "$WEB_IP" in 127.77.*) ;; *) false ;; esac
'

test_expect_success 'requests to clusterIP:port are spread round robin over three endpoints' '
	eps web http TCP $P1 $P2 $P3 &&
	test_wait_until 10 python3 "$TRASH/hit.py" $WEB_IP 8080 1 &&
	timeout 90 python3 "$TRASH/hit.py" $WEB_IP 8080 60 >rr.out &&
	answers_from rr.out b1 b2 b3 &&
	for b in b1 b2 b3; do
		n=$(count_of rr.out $b) &&
		echo "$b: $n" &&
		test $n -ge 15 && test $n -le 25 || return 1
	done
'

test_expect_success 'sessionAffinity ClientIP sends every connection of a client to one endpoint' '
	svc sticky "{\"ports\":[{\"name\":\"http\",\"port\":8081}],\"sessionAffinity\":\"ClientIP\",
		\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":600}}}" &&
	STICKY_IP=$CIP &&
	eps sticky http TCP $P1 $P2 $P3 &&
	test_wait_until 10 python3 "$TRASH/hit.py" $STICKY_IP 8081 1 &&
	timeout 90 python3 "$TRASH/hit.py" $STICKY_IP 8081 30 >sticky.out &&
	test $(sort -u sticky.out | wc -l) = 1
'

test_expect_success 'an endpoint that refuses connections is skipped' '
	DEAD=$(test_free_port) &&
	svc flaky "{\"ports\":[{\"name\":\"http\",\"port\":8082}]}" &&
	FLAKY_IP=$CIP &&
	eps flaky http TCP $P1 $DEAD $P2 &&
	test_wait_until 10 python3 "$TRASH/hit.py" $FLAKY_IP 8082 1 &&
	before=$(metric berth_proxy_endpoint_connect_failures_total) &&
	timeout 90 python3 "$TRASH/hit.py" $FLAKY_IP 8082 30 >flaky.out &&
	answers_from flaky.out b1 b2 &&
	after=$(metric berth_proxy_endpoint_connect_failures_total) &&
	echo "connect failures: $before -> $after" &&
	test "$after" -ge $((before + 5))
'

test_expect_success 'an endpoint removed under load: no new connection fails, established ones live on' '
	mkdir -p persist || return 1
	timeout 60 python3 "$TRASH/persist.py" $WEB_IP 8080 persist >persist.out 2>&1 &
	persist_pid=$! &&
	test_wait_until 10 test -f persist/first &&
	first=$(cat persist/first) &&
	remaining= &&
	for p in b1:$P1 b2:$P2 b3:$P3; do
		test "${p%%:*}" = "$first" || remaining="$remaining ${p#*:}"
	done
	timeout 90 python3 "$TRASH/hit.py" $WEB_IP 8080 200 0.01 >load.out &
	load_pid=$! &&
	sleep 0.5 &&
	eps web http TCP $remaining &&
	wait $load_pid &&
	test $(grep -c . load.out) = 200 &&
	test_must_fail grep FAIL load.out &&
	tail -n 40 load.out >load.tail &&
	test_must_fail grep "^$first\$" load.tail &&
	touch persist/go &&
	wait $persist_pid &&
	echo "$first $first" >expect.persist &&
	test_cmp expect.persist persist.out
'

test_expect_success 'large bodies cross intact both ways (the relay copies, then splices)' '
	head -c 3000000 /dev/urandom >big.in &&
	for i in 1 2 3; do
		curl -sf --max-time 20 --data-binary @big.in -H "Content-Type: application/octet-stream" \
			-o big.out "http://$WEB_IP:8080/echo" &&
		cmp big.in big.out || return 1
	done &&
	printf "x" >small.in &&
	curl -sf --max-time 5 --data-binary @small.in -o small.out "http://$WEB_IP:8080/echo" &&
	cmp small.in small.out
'

test_expect_success 'an unrelated update keeps the listeners open' '
	n1=$(grep -c "default/web:http/TCP listening" "$TRASH/proxy.log") &&
	api PATCH $NS/services/web "{\"metadata\":{\"labels\":{\"touched\":\"yes\"}}}" \
		application/merge-patch+json >/dev/null && test "$API_CODE" = 200 &&
	eps web http TCP $P1 $P2 $P3 &&
	svc other "{\"ports\":[{\"name\":\"http\",\"port\":8083}]}" &&
	timeout 30 python3 "$TRASH/hit.py" $WEB_IP 8080 6 >again.out &&
	answers_from again.out b1 b2 b3 &&
	n2=$(grep -c "default/web:http/TCP listening" "$TRASH/proxy.log") &&
	test "$n1" = "$n2"
'

test_expect_success 'a NodePort service answers on 127.0.0.1:nodePort' '
	svc np "{\"type\":\"NodePort\",\"ports\":[{\"name\":\"http\",\"port\":8084}]}" &&
	NP_IP=$CIP &&
	NODE_PORT=$(json_get np.svc.json "o.spec.ports[0].nodePort") &&
	eps np http TCP $P2 &&
	test_wait_until 10 python3 "$TRASH/hit.py" 127.0.0.1 $NODE_PORT 1 &&
	timeout 30 python3 "$TRASH/hit.py" 127.0.0.1 $NODE_PORT 5 >np.out &&
	answers_from np.out b2 &&
	timeout 30 python3 "$TRASH/hit.py" $NP_IP 8084 2 >np2.out &&
	answers_from np2.out b2
'

test_expect_success 'deleting a service closes its cluster IP and node ports' '
	api DELETE $NS/services/np >/dev/null && test "$API_CODE" = 200 &&
	test_wait_until 10 tcp_closed $NP_IP 8084 &&
	test_wait_until 10 tcp_closed 127.0.0.1 $NODE_PORT &&
	tcp_open $WEB_IP 8080
'

test_expect_success 'a service with no endpoint refuses (closes) connections' '
	svc empty "{\"ports\":[{\"name\":\"http\",\"port\":8085}]}" &&
	test_wait_until 10 tcp_open $CIP 8085 &&
	test_must_fail timeout 20 python3 "$TRASH/hit.py" $CIP 8085 1 >empty.out &&
	grep FAIL empty.out
'

test_expect_success 'UDP: datagrams go to an endpoint and answers come back, per client flow' '
	U1=$(test_free_port) && U2=$(test_free_port) &&
	start_backend u1 $U1 udp && start_backend u2 $U2 udp &&
	svc dns "{\"ports\":[{\"name\":\"dns\",\"port\":5353,\"protocol\":\"UDP\"}]}" &&
	DNS_IP=$CIP &&
	eps dns dns UDP $U1 $U2 &&
	test_wait_until 10 timeout 10 python3 "$TRASH/udpclient.py" $DNS_IP 5353 1 &&
	timeout 30 python3 "$TRASH/udpclient.py" $DNS_IP 5353 5 >udp1.out &&
	timeout 30 python3 "$TRASH/udpclient.py" $DNS_IP 5353 5 >udp2.out &&
	cat udp1.out udp2.out &&
	test $(grep -c ":ping" udp1.out) = 5 &&
	test $(grep -c " $DNS_IP:5353\$" udp1.out) = 5 &&
	test $(cut -d: -f1 udp1.out | sort -u | wc -l) = 1 &&
	cat udp1.out udp2.out | cut -d: -f1 | sort -u >udp.names &&
	printf "u1\nu2\n" >udp.want &&
	test_cmp udp.want udp.names
'

test_expect_success '/metrics counts connections, bytes and flows' '
	curl -sf --max-time 5 "http://127.0.0.1:$MPORT/metrics" >metrics.txt &&
	test_grep "^berth_proxy_connections_total{result=\"relayed\"} [1-9]" metrics.txt &&
	test_grep "^berth_proxy_bytes_total{direction=\"down\"} [1-9]" metrics.txt &&
	test_grep "^berth_proxy_udp_flows_total [1-9]" metrics.txt &&
	test_grep "^berth_proxy_service_ports [1-9]" metrics.txt
'

test_expect_success 'berth proxy exits 0 on SIGTERM with a clean log' '
	test_kill_pid $PROXY_PID 10 &&
	test "$test_kill_status" = 0 &&
	test_must_fail grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$TRASH/proxy.log"
'

test_done
