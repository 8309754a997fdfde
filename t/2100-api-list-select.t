#!/bin/bash
# 2100-api-list-select.t: list with label and field selectors, pagination with limit and
# continue (and its 410 once the kind changed), and Table output, against a real Redis.

test_description='API server: list selectors, pagination, Table output'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/data/api-helpers.sh"
test_require redis berth curl node
setup_berth

NS=/api/v1/namespaces/default
PODS=$NS/pods

# names FILE: the items' names of the list in FILE, comma-separated, in list order.
names() {
	json_get "$1" 'o.items.map(i => i.metadata.name).join()'
}

# names_eq QUERY WANT: GET pods?QUERY answers 200 and lists exactly WANT (comma-separated).
names_eq() {
	expect_code 200 GET "$PODS?$1" >sel.json || return 1
	local got
	got=$(names sel.json) || return 1
	if [ "$got" != "$2" ]; then
		echo "names_eq: ?$1 listed '$got', want '$2'" >&2
		return 1
	fi
}

test_expect_success 'set up pods with labels, nodes and phases' '
	api POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"other\"}}" >/dev/null &&
	test "$API_CODE" = 201 &&
	expect_code 201 POST $PODS "$(pod_json a1 "{\"app\":\"web\",\"tier\":\"front\"}" n1)" >/dev/null &&
	expect_code 201 POST $PODS "$(pod_json a2 "{\"app\":\"web\",\"tier\":\"back\"}" n2)" >/dev/null &&
	expect_code 201 POST $PODS "$(pod_json a3 "{\"app\":\"db\"}" n1)" >/dev/null &&
	expect_code 201 POST $PODS "$(pod_json a4 "{}")" >/dev/null &&
	expect_code 201 POST /api/v1/namespaces/other/pods "$(pod_json b1 "{\"app\":\"web\"}" n1)" >/dev/null &&
	expect_code 200 GET $PODS/a2 >a2.json &&
	jedit a2.json "o.status = {phase: \"Running\"}" >a2s.json &&
	expect_code 200 PUT $PODS/a2/status @a2s.json >/dev/null &&
	names_eq "" a1,a2,a3,a4
'

test_expect_success 'labelSelector with = and ==' '
	names_eq "labelSelector=app%3Dweb" a1,a2 &&
	names_eq "labelSelector=app%3D%3Dweb" a1,a2 &&
	names_eq "labelSelector=app%3Dweb,tier%3Dback" a2 &&
	names_eq "labelSelector=app%3Dnone" ""
'

test_expect_success 'labelSelector with !=' '
	names_eq "labelSelector=app!%3Dweb" a3,a4
'

test_expect_success 'labelSelector with in and notin' '
	names_eq "labelSelector=app%20in%20(web,db)" a1,a2,a3 &&
	names_eq "labelSelector=tier%20in%20(front)" a1 &&
	names_eq "labelSelector=app%20notin%20(web)" a3,a4 &&
	names_eq "labelSelector=app+in+(db)" a3
'

test_expect_success 'labelSelector with exists and !' '
	names_eq "labelSelector=tier" a1,a2 &&
	names_eq "labelSelector=!tier" a3,a4 &&
	names_eq "labelSelector=app,!tier" a3
'

test_expect_success 'labelSelector across all namespaces' '
	expect_code 200 GET "/api/v1/pods?labelSelector=app%3Dweb" >all.json &&
	jeq all.json "o.items.map(i => i.metadata.namespace + \"/\" + i.metadata.name).join()" \
		default/a1,default/a2,other/b1
'

test_expect_success 'fieldSelector metadata.name and metadata.namespace' '
	names_eq "fieldSelector=metadata.name%3Da3" a3 &&
	names_eq "fieldSelector=metadata.name!%3Da3" a1,a2,a4 &&
	expect_code 200 GET "/api/v1/pods?fieldSelector=metadata.namespace%3Dother" >ns.json &&
	jeq ns.json "o.items.map(i => i.metadata.name).join()" b1 &&
	expect_code 200 GET "/api/v1/pods?fieldSelector=metadata.namespace!%3Dother" >ns2.json &&
	jeq ns2.json "o.items.map(i => i.metadata.name).join()" a1,a2,a3,a4
'

test_expect_success 'fieldSelector spec.nodeName (empty value: unscheduled pods)' '
	names_eq "fieldSelector=spec.nodeName%3Dn1" a1,a3 &&
	names_eq "fieldSelector=spec.nodeName%3D" a4 &&
	names_eq "fieldSelector=spec.nodeName!%3D" a1,a2,a3
'

test_expect_success 'fieldSelector status.phase' '
	names_eq "fieldSelector=status.phase%3DRunning" a2 &&
	names_eq "fieldSelector=status.phase%3DPending" a1,a3,a4 &&
	names_eq "fieldSelector=status.phase!%3DRunning,spec.nodeName%3Dn1" a1,a3
'

test_expect_success 'label and field selectors combine' '
	names_eq "labelSelector=app%3Dweb&fieldSelector=spec.nodeName%3Dn1" a1
'

event_json() {
	printf '{"apiVersion":"v1","kind":"Event","metadata":{"name":"%s"},"involvedObject":{"kind":"Pod","namespace":"default","name":"%s"},"reason":"%s","message":"m","type":"Normal"}' "$1" "$2" "$3"
}

test_expect_success 'fieldSelector involvedObject.name for events' '
	expect_code 201 POST $NS/events "$(event_json e1 a1 Scheduled)" >/dev/null &&
	expect_code 201 POST $NS/events "$(event_json e2 a2 Pulled)" >/dev/null &&
	expect_code 201 POST $NS/events "$(event_json e3 a1 Started)" >/dev/null &&
	expect_code 200 GET "$NS/events?fieldSelector=involvedObject.name%3Da1" >ev.json &&
	jeq ev.json o.kind EventList &&
	jeq ev.json "o.items.map(i => i.metadata.name).join()" e1,e3 &&
	expect_code 200 GET "$NS/events?fieldSelector=involvedObject.name%3Da1,involvedObject.namespace%3Ddefault,reason%3DStarted" >ev2.json &&
	jeq ev2.json "o.items.map(i => i.metadata.name).join()" e3
'

test_expect_success 'bad label selectors answer 400 with a Status' '
	expect_code 200 GET $PODS >before.json &&
	expect_status 400 BadRequest GET "$PODS?labelSelector=app%20in%20(web" &&
	expect_status 400 BadRequest GET "$PODS?labelSelector=%3Dweb" &&
	expect_status 400 BadRequest GET "$PODS?labelSelector=app%20in%20web" &&
	expect_status 400 BadRequest GET "$PODS?labelSelector=a%20b" &&
	expect_status 400 BadRequest GET "$PODS?labelSelector=-bad-%3Dx" &&
	expect_code 200 GET $PODS >after.json &&
	test_cmp before.json after.json
'

test_expect_success 'bad field selectors answer 400 with a Status' '
	expect_status 400 BadRequest GET "$PODS?fieldSelector=spec.unknownField%3Dx" &&
	test_grep "field label not supported" status.json &&
	expect_status 400 BadRequest GET "$PODS?fieldSelector=metadata.name" &&
	expect_status 400 BadRequest GET "$NS/events?fieldSelector=spec.nodeName%3Dn1"
'

test_expect_success 'a bad limit answers 400' '
	expect_status 400 BadRequest GET "$PODS?limit=-1" &&
	expect_status 400 BadRequest GET "$PODS?limit=abc"
'

test_expect_success 'set up 25 configmaps for pagination' '
	for i in $(seq -w 1 25); do
		expect_code 201 POST $NS/configmaps "$(cm_json cm$i "{\"even\":\"$((10#$i % 2 == 0))\"}")" >/dev/null || return 1
	done
'

# page_all QUERY: page through configmaps?QUERY with limit; leaves every page's names in
# paged.txt (one a line) and the number of pages in $pages. Every page but the last must
# carry a continue token; the last none.
page_all() {
	local cont= n=0 url
	: >paged.txt
	while :; do
		url="$NS/configmaps?$1"
		[ -n "$cont" ] && url="$url&continue=$cont"
		expect_code 200 GET "$url" >page.json || return 1
		json_get page.json "o.items.map(i => i.metadata.name).join(\"\\n\")" | sed "/^$/d" >>paged.txt
		cont=$(json_get page.json "o.metadata.continue || \"\"") || return 1
		n=$((n + 1))
		[ -z "$cont" ] && break
		[ "$n" -lt 50 ] || { echo "page_all: more than 50 pages" >&2; return 1; }
	done
	pages=$n
}

test_expect_success 'limit and continue return every item exactly once, in order' '
	expect_code 200 GET $NS/configmaps >all.json &&
	json_get all.json "o.items.map(i => i.metadata.name).join(\"\\n\")" >expect &&
	test $(wc -l <expect) = 25 &&
	page_all limit=4 &&
	test_cmp expect paged.txt &&
	test "$pages" = 7
'

test_expect_success 'pages keep the first page resourceVersion' '
	expect_code 200 GET "$NS/configmaps?limit=10" >p1.json &&
	rv1=$(rv_of p1.json) &&
	cont=$(json_get p1.json o.metadata.continue) &&
	expect_code 200 GET "$NS/configmaps?limit=10&continue=$cont" >p2.json &&
	jeq p2.json o.metadata.resourceVersion "$rv1" &&
	jeq p2.json o.items.length 10
'

test_expect_success 'a limit that ends exactly at the end leaves no continue token' '
	page_all limit=25 &&
	test "$pages" = 1 &&
	page_all limit=5 &&
	test "$pages" = 5 &&
	test $(wc -l <paged.txt) = 25
'

test_expect_success 'limit=0 means no limit' '
	page_all limit=0 &&
	test "$pages" = 1 &&
	test $(wc -l <paged.txt) = 25
'

test_expect_success 'pagination across all namespaces' '
	expect_code 200 GET /api/v1/pods >allns.json &&
	json_get allns.json "o.items.map(i => i.metadata.namespace + \"/\" + i.metadata.name).join(\"\\n\")" >expect &&
	cont= && : >got &&
	for i in 1 2 3 4 5 6 7 8; do
		expect_code 200 GET "/api/v1/pods?limit=2${cont:+&continue=$cont}" >pg.json || return 1
		json_get pg.json "o.items.map(i => i.metadata.namespace + \"/\" + i.metadata.name).join(\"\\n\")" | sed "/^$/d" >>got
		cont=$(json_get pg.json "o.metadata.continue || \"\"")
		[ -n "$cont" ] || break
	done &&
	test -z "$cont" &&
	test_cmp expect got
'

test_expect_success 'limit with a label selector pages over the matching items only' '
	expect_code 200 GET "$NS/configmaps?labelSelector=even%3D1" >all.json &&
	json_get all.json "o.items.map(i => i.metadata.name).join(\"\\n\")" >expect &&
	test $(wc -l <expect) = 12 &&
	page_all "labelSelector=even%3D1&limit=5" &&
	test_cmp expect paged.txt
'

test_expect_success 'a write between pages makes the next page 410 Expired' '
	expect_code 200 GET "$NS/configmaps?limit=5" >p1.json &&
	cont=$(json_get p1.json o.metadata.continue) &&
	test -n "$cont" &&
	expect_code 201 POST $NS/configmaps "$(cm_json late)" >/dev/null &&
	expect_status 410 Expired GET "$NS/configmaps?limit=5&continue=$cont"
'

test_expect_success 'a write to another kind does not expire the continue token' '
	expect_code 200 GET "$NS/configmaps?limit=5" >p1.json &&
	cont=$(json_get p1.json o.metadata.continue) &&
	expect_code 201 POST $PODS "$(pod_json a5)" >/dev/null &&
	expect_code 200 GET "$NS/configmaps?limit=5&continue=$cont" >p2.json &&
	jeq p2.json "o.items[0].metadata.name" cm06
'

test_expect_success 'a malformed continue token answers 400' '
	expect_status 400 BadRequest GET "$NS/configmaps?limit=5&continue=not-a-token"
'

TABLE_ACCEPT="Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

test_expect_success 'Table output has columnDefinitions and one row per item' '
	API_HEADERS=("$TABLE_ACCEPT") &&
	expect_code 200 GET $PODS >table.json &&
	API_HEADERS=() &&
	jeq table.json o.kind Table &&
	jeq table.json o.apiVersion meta.k8s.io/v1 &&
	jeq table.json "o.columnDefinitions[0].name" Name &&
	jcheck table.json "o.columnDefinitions.every(c => c.name && c.type)" \
		"o.rows.every(r => r.cells.length === o.columnDefinitions.length)" \
		"o.metadata.resourceVersion.length > 0" &&
	jeq table.json "o.rows.map(r => r.cells[0]).join()" a1,a2,a3,a4,a5 &&
	jeq table.json "o.rows[0].object.metadata.name" a1
'

test_expect_success 'Table output honours selectors and a single get' '
	API_HEADERS=("$TABLE_ACCEPT") &&
	expect_code 200 GET "$PODS?labelSelector=app%3Dweb" >table.json &&
	expect_code 200 GET $PODS/a3 >one.json &&
	API_HEADERS=() &&
	jeq table.json "o.rows.map(r => r.cells[0]).join()" a1,a2 &&
	jeq one.json o.kind Table &&
	jeq one.json "o.rows.map(r => r.cells[0]).join()" a3
'

test_expect_success 'Table columns for pods and deployments are those of kube-apiserver' '
	API_HEADERS=("$TABLE_ACCEPT") &&
	expect_code 200 GET $PODS >tp.json &&
	expect_code 201 POST /apis/apps/v1/namespaces/default/deployments "$(deploy_json dep 2)" >/dev/null &&
	expect_code 200 GET /apis/apps/v1/namespaces/default/deployments >td.json &&
	API_HEADERS=() &&
	jeq tp.json "o.columnDefinitions.filter(c => !c.priority).map(c => c.name).join()" Name,Ready,Status,Restarts,Age &&
	jeq tp.json "o.columnDefinitions.filter(c => c.priority).map(c => c.name).join()" "IP,Node,Nominated Node,Readiness Gates" &&
	jeq tp.json "o.rows[0].cells.slice(1, 4).join()" 0/1,Pending,0 &&
	jeq td.json "o.columnDefinitions.filter(c => !c.priority).map(c => c.name).join()" Name,Ready,Up-to-date,Available,Age &&
	jeq td.json "o.columnDefinitions.filter(c => c.priority).map(c => c.name).join()" Containers,Images,Selector &&
	jeq td.json "o.rows[0].cells.slice(0, 4).join()" dep,0/2,0,0
'

test_expect_success 'Table output pages with limit and continue' '
	API_HEADERS=("$TABLE_ACCEPT") &&
	expect_code 200 GET "$NS/configmaps?limit=10" >t1.json &&
	cont=$(json_get t1.json o.metadata.continue) &&
	expect_code 200 GET "$NS/configmaps?limit=10&continue=$cont" >t2.json &&
	API_HEADERS=() &&
	jeq t1.json o.rows.length 10 &&
	jeq t2.json "o.rows[0].cells[0]" cm11
'

test_expect_success 'the server is still healthy' '
	expect_code 200 GET /healthz >/dev/null
'

test_done
