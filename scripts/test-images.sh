#!/bin/sh
# test-images.sh: build the images berth's node agent and its tests use, without a registry.
#
#   berth/pause:latest    the pod infra container: scripts/pause.c compiled with
#                         `cc -static -Os`, imported with `docker import` (CMD /pause)
#   berth/busybox:latest  Debian's busybox-static (/bin/busybox) with its applet symlinks
#                         (sh, httpd, sleep, cat, echo, wget, nc, env, ls, ...) under /bin
#
# Each image is built only when missing (FORCE=1 rebuilds). Called by make run, the Docker tests and by
# hand; `berth up` builds berth/pause itself when it is missing and it can find
# scripts/pause.c. Depends on: docker, cc (static libc: libc6-dev), busybox-static.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
DOCKER=${DOCKER:-docker}
FORCE=${FORCE:-}

have_image() {
	[ -z "$FORCE" ] && $DOCKER image inspect "$1" >/dev/null 2>&1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! have_image berth/pause:latest; then
	mkdir -p "$work/pause"
	${CC:-cc} -static -Os -o "$work/pause/pause" "$TOP/scripts/pause.c"
	strip "$work/pause/pause" 2>/dev/null || true
	tar -C "$work/pause" -cf "$work/pause.tar" pause
	$DOCKER import --change 'CMD ["/pause"]' "$work/pause.tar" berth/pause:latest >/dev/null
	echo "test-images: built berth/pause:latest"
fi

if ! have_image berth/busybox:latest; then
	bb=${BUSYBOX:-/bin/busybox}
	[ -x "$bb" ] || { echo "test-images: no $bb (apt-get install busybox-static)" >&2; exit 1; }
	mkdir -p "$work/bb/bin" "$work/bb/tmp" "$work/bb/etc" "$work/bb/www"
	cp "$bb" "$work/bb/bin/busybox"
	for a in $("$bb" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$work/bb/bin/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$work/bb/etc/passwd"
	echo 'root:x:0:' >"$work/bb/etc/group"
	tar -C "$work/bb" -cf "$work/bb.tar" .
	$DOCKER import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' "$work/bb.tar" \
		berth/busybox:latest >/dev/null
	echo "test-images: built berth/busybox:latest"
fi
