#!/bin/sh
# install-deps.sh: make sure the Debian packages berth needs to build and test are installed.
#
# Called by `make deps` (and so by every `make test`, `make asan`, `make run`) and by .ci/run.
# Depends on: dpkg-query; apt-get when something is missing and we are root.
#
# Nothing missing -> silent, exit 0 (one dpkg-query call, so it is cheap on every run).
# Missing and root -> one `apt-get update`, then install only the missing packages.
# Missing, not root -> print the exact sudo command and exit 1: we never guess at sudo.
set -eu

PACKAGES="build-essential pkg-config libevent-dev libhiredis-dev libjansson-dev libjemalloc-dev libyaml-dev
libcurl4-openssl-dev zlib1g-dev luajit2 libluajit2-5.1-dev libssl-dev redis-server xxd unzip curl nodejs npm clang
libclang-rt-14-dev valgrind docker.io busybox-static haproxy wrk"

# One query for all packages; unknown packages make dpkg-query complain on stderr and
# print nothing for them, which counts as "missing" below.
# shellcheck disable=SC2086 # word splitting of the package list is intended
installed=" $(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' $PACKAGES 2>/dev/null |
	awk '$2 ~ /^ii/ { print $1 }' | tr '\n' ' ') "

missing=
for p in $PACKAGES; do
	case "$installed" in
	*" $p "*) continue ;;
	esac
	# NodeSource's nodejs package ships npm itself and Conflicts: npm, so Debian's npm
	# package must not be pulled in when an npm command is already there.
	if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then
		continue
	fi
	missing="$missing $p"
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages:$missing" >&2
	echo "install-deps: run: sudo apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y -qq --no-install-recommends $missing
