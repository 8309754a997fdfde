# t/data/api-helpers.sh: small assertions shared by the API server suites t/2*.t.
#
# Sourced after t/lib/test-lib.sh (it uses api, json_get, $TRASH from there). Every helper
# reads JSON with node, since jq is not installed. Called by t/2000-2400-api-*.t only.

# jcheck FILE EXPR...: each JavaScript expression, evaluated with `o` bound to the JSON in
# FILE, must be truthy; prints every failing expression and the document when one is not.
jcheck() {
	node -e '
		const fs = require("fs");
		const text = fs.readFileSync(process.argv[1], "utf8");
		let o;
		try { o = JSON.parse(text); } catch (e) {
			console.error("jcheck: not JSON: " + e.message + "\n" + text.slice(0, 2000));
			process.exit(1);
		}
		let bad = 0;
		for (const e of process.argv.slice(2)) {
			let v;
			try { v = eval(e); } catch (err) { v = false; console.error("jcheck: threw: " + err); }
			if (!v) { console.error("jcheck: false: " + e); bad++; }
		}
		if (bad) { console.error(JSON.stringify(o, null, 1).slice(0, 3000)); process.exit(1); }
	' "$@"
}

# jedit FILE EXPR: print the JSON in FILE after running the JavaScript statement EXPR on `o`.
jedit() {
	node -e '
		const fs = require("fs");
		const o = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
		eval(process.argv[2]);
		process.stdout.write(JSON.stringify(o));
	' "$1" "$2"
}

# status_is FILE CODE REASON: FILE is a metav1.Status failure with that code and reason.
status_is() {
	jcheck "$1" 'o.kind === "Status"' 'o.apiVersion === "v1"' 'o.status === "Failure"' \
		"o.code === $2" "o.reason === '$3'" 'typeof o.message === "string"'
}

# expect_status CODE REASON METHOD PATH [BODY [CONTENT-TYPE]]: one api call that must answer
# HTTP CODE with a Status body of that code and reason. The body is left in status.json.
expect_status() {
	local code=$1 reason=$2
	shift 2
	api "$@" >status.json
	if [ "$API_CODE" != "$code" ]; then
		echo "expect_status: $1 $2 answered HTTP $API_CODE, want $code" >&2
		head -c 2000 status.json >&2
		echo >&2
		return 1
	fi
	status_is status.json "$code" "$reason"
}

# expect_code CODE METHOD PATH [BODY [CONTENT-TYPE]] >FILE: one api call that must answer
# HTTP CODE; prints the body.
expect_code() {
	local code=$1
	shift
	api "$@"
	if [ "$API_CODE" != "$code" ]; then
		echo "expect_code: $1 $2 answered HTTP $API_CODE, want $code" >&2
		head -c 2000 "$TRASH/.api-body" >&2
		echo >&2
		return 1
	fi
}

# rv_of FILE: metadata.resourceVersion of the object (or list) in FILE.
rv_of() {
	json_get "$1" 'o.metadata.resourceVersion'
}

# pod_json NAME [LABELS-JSON] [NODE]: a minimal valid Pod.
pod_json() {
	local node=
	[ -n "${3:-}" ] && node=",\"nodeName\":\"$3\""
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","labels":%s},"spec":{"containers":[{"name":"c","image":"img:1"}]%s}}' \
		"$1" "${2:-{\}}" "$node"
}

# cm_json NAME [LABELS-JSON] [DATA-JSON]: a ConfigMap.
cm_json() {
	printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s","labels":%s},"data":%s}' \
		"$1" "${2:-{\}}" "${3:-{\}}"
}

# deploy_json NAME [REPLICAS]: a Deployment whose selector matches its template (app=NAME).
deploy_json() {
	printf '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"%s"},"spec":{"replicas":%s,"selector":{"matchLabels":{"app":"%s"}},"template":{"metadata":{"labels":{"app":"%s"}},"spec":{"containers":[{"name":"c","image":"img:1"}]}}}}' \
		"$1" "${2:-1}" "$1" "$1"
}

# lines_of FILE: the number of lines in FILE (0 if it does not exist).
lines_of() {
	if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# jeq FILE EXPR WANT: the JavaScript expression EXPR (with `o` bound to the JSON in FILE)
# prints as WANT (objects as compact JSON, as json_get prints them).
jeq() {
	local got
	got=$(json_get "$1" "$2") || return 1
	if [ "$got" != "$3" ]; then
		echo "jeq: $2 is '$got', want '$3' in $1:" >&2
		head -c 2000 "$1" >&2
		echo >&2
		return 1
	fi
}
