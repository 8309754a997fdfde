#!/bin/sh
# fuzz.sh SECONDS: build every fuzz/fuzz_<name>.c with libFuzzer and run each for SECONDS.
#
# Called by `make fuzz` (FUZZ_SECONDS). Depends on clang with libFuzzer
# (libclang-rt-<v>-dev), pkg-config, xxd, and the libraries the engine links.
#
# Build: each engine/*.c except main.c is compiled once into build-fuzz/obj/ with the
# sanitizers (engine/*.json are embedded as build-fuzz/embed_<name>.c, as the Makefile
# does). A fuzzer links against all of them. If that link fails -- some engine file does
# not compile or link yet while others are still writing it -- the fuzzer is linked
# against only the engine files it needs: those named in FUZZ_DEPS below, or else the
# closure of `#include "x.h"` -> engine/x.c + engine/x_*.c starting from the fuzzer.
#
# Run: the committed seeds in fuzz/corpus/<name>/ are copied to build-fuzz/corpus-<name>/
# (new inputs go there, the seed stays small); crashes land in build-fuzz/crash-<name>-*.
# Exit status: 0 if every fuzzer built and ran clean, 1 otherwise.
#
# Environment: FUZZ_CC (default clang), FUZZ_ONLY="yaml json" to run a subset.
set -u

# Per-fuzzer engine files, for when the whole engine does not link. Names without
# engine/ and .c; a fuzzer not listed gets the #include closure.
FUZZ_DEPS_selector="selector"
FUZZ_DEPS_yaml="yaml"
FUZZ_DEPS_json=""
FUZZ_DEPS_jsonload="jsonload"
FUZZ_DEPS_jsondump="jsondump"
FUZZ_DEPS_spdy="spdy"

secs=${1:-30}
case $secs in
''|*[!0-9]*) echo "usage: $0 SECONDS" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.." || exit 2
out=build-fuzz
cc=${FUZZ_CC:-clang}
pkgs="libevent libevent_pthreads hiredis jansson yaml-0.1 libcurl luajit openssl zlib"

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz: $cc not found (install clang and libclang-rt-dev)" >&2
	exit 1
fi
if ! pkgflags=$(pkg-config --cflags --libs $pkgs 2>/dev/null); then
	# Fall back to the libraries the parsers need; others only matter for the full engine.
	echo "fuzz: pkg-config lacks some of: $pkgs; using jansson yaml-0.1 only" >&2
	pkgflags=$(pkg-config --cflags --libs jansson yaml-0.1) || exit 1
fi
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-g -O1 $san -std=gnu11 -D_GNU_SOURCE -Iengine"

mkdir -p "$out/obj"

# --- engine objects ------------------------------------------------------------------
for j in engine/*.json; do
	[ -e "$j" ] || continue
	b=$(basename "$j" .json)
	n=$(printf '%s' "$b" | tr - _)
	(echo "const char embed_${n}_json[] = {"; xxd -i < "$j"; echo ', 0};') > "$out/embed_$b.c"
done

objs=""
for src in engine/*.c "$out"/embed_*.c; do
	[ -e "$src" ] || continue
	[ "$src" = engine/main.c ] && continue
	o="$out/obj/$(basename "$src" .c).o"
	if [ ! -e "$o" ] || [ "$src" -nt "$o" ] || [ -n "$(find engine -name '*.h' -newer "$o" 2>/dev/null | head -n 1)" ]; then
		if ! $cc $cflags -fsanitize=fuzzer-no-link $(pkg-config --cflags $pkgs 2>/dev/null) \
			-c "$src" -o "$o" 2>"$out/obj/$(basename "$src" .c).err"; then
			echo "fuzz: $src does not compile; fuzzers needing it will use the narrow link" >&2
			rm -f "$o"
			continue
		fi
	fi
	objs="$objs $o"
done

# The engine files a source needs: engine/x.c and engine/x_*.c for each "x.h" it
# includes, followed transitively.
closure() {
	todo=$1
	seen=""
	while [ -n "$todo" ]; do
		set -- $todo
		f=$1
		shift
		todo="$*"
		for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)\.h".*/\1/p' "$f"); do
			for c in engine/"$h".c engine/"$h"_*.c; do
				[ -e "$c" ] || continue
				[ "$c" = engine/main.c ] && continue
				case " $seen " in *" $c "*) continue ;; esac
				seen="$seen $c"
				todo="$todo $c"
			done
		done
	done
	echo $seen
}

narrow_objs() {
	name=$1
	src=$2
	eval "list=\${FUZZ_DEPS_$name-__none__}"
	if [ "$list" = "__none__" ]; then
		files=$(closure "$src")
	else
		files=""
		for n in $list; do
			files="$files engine/$n.c"
		done
	fi
	res=""
	for c in $files; do
		o="$out/obj/$(basename "$c" .c).o"
		[ -e "$o" ] || { echo "fuzz: $name needs $c, which does not compile" >&2; return 1; }
		res="$res $o"
	done
	# embedded data is plain arrays: always safe to link
	for e in "$out"/obj/embed_*.o; do
		[ -e "$e" ] && res="$res $e"
	done
	echo "$res"
}

# --- build and run each fuzzer ---------------------------------------------------------
status=0
summary=""
for src in fuzz/fuzz_*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	name=${name#fuzz_}
	if [ -n "${FUZZ_ONLY:-}" ]; then
		case " $FUZZ_ONLY " in *" $name "*) ;; *) continue ;; esac
	fi
	bin="$out/fuzz_$name"
	log="$out/fuzz_$name.log"

	echo "  FUZZ  build $name"
	if ! $cc $cflags -fsanitize=fuzzer "$src" $objs $pkgflags -lm -lpthread -o "$bin" \
		>"$log" 2>&1; then
		if ! nobjs=$(narrow_objs "$name" "$src") ||
		   ! $cc $cflags -fsanitize=fuzzer "$src" $nobjs $pkgflags -lm -lpthread -o "$bin" \
			>"$log" 2>&1; then
			echo "fuzz: $name does not build:" >&2
			tail -n 20 "$log" >&2
			status=1
			summary="$summary\n  $name: BUILD FAILED"
			continue
		fi
		echo "        (linked against:$nobjs)"
	fi

	corpus="$out/corpus-$name"
	mkdir -p "$corpus"
	if [ -d "fuzz/corpus/$name" ]; then
		cp -R "fuzz/corpus/$name/." "$corpus/"
	fi
	echo "  FUZZ  run $name for ${secs}s"
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
		"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$out/crash-$name-" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ $rc -ne 0 ]; then
		echo "fuzz: $name FAILED (exit $rc); log $log" >&2
		grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$log" | head -n 20 >&2
		status=1
		summary="$summary\n  $name: FAILED (see $log)"
	else
		summary="$summary\n  $name: ok (${execs:-?} runs, corpus $(ls "$corpus" | wc -l) files)"
	fi
done

printf "fuzz summary:$summary\n"
exit $status
