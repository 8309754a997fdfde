# berth: one binary (bin/berth), its unit tests, fuzzers and benchmarks.
#
#   make            build bin/berth
#   make test       build, then run every TAP test under t/ with prove
#   make asan       build with AddressSanitizer + UBSan into build-asan/, run the suite on it
#   make fuzz       build the libFuzzer targets (clang) and run each for FUZZ_SECONDS
#   make bench      run the benchmarks under bench/, results into docs/benchmarks.md
#   make run        install what is missing, build, start a cluster (see README)
#
# V=1 shows the full commands.

PKGS     := libevent libevent_pthreads hiredis jansson yaml-0.1 libcurl luajit openssl zlib
CC       ?= cc
BUILD    ?= build
BIN      ?= bin/berth
OPT      ?= -O2 -g
CFLAGS_W := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wpointer-arith -Wstrict-prototypes
CFLAGS   += $(OPT) $(CFLAGS_W) -std=gnu11 -D_GNU_SOURCE -MMD -MP -Iengine
CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread
# jemalloc: +10-20% create throughput over glibc malloc in bench/ (docs/benchmarks.md).
# Sanitizer builds keep the sanitizer's own allocator.
JEMALLOC ?= $(shell pkg-config --libs jemalloc 2>/dev/null)
LDLIBS   += $(JEMALLOC)

ifeq ($(V),1)
Q :=
else
Q := @
endif

ENGINE_SRC  := $(sort $(wildcard engine/*.c))
ENGINE_OBJ  := $(patsubst engine/%.c,$(BUILD)/%.o,$(ENGINE_SRC))
LIB_OBJ     := $(filter-out $(BUILD)/main.o,$(ENGINE_OBJ))
EMBED_JSON  := $(sort $(wildcard engine/*.json))
EMBED_OBJ   := $(patsubst engine/%.json,$(BUILD)/embed_%.o,$(EMBED_JSON))
UNIT_SRC    := $(sort $(wildcard t/c/*.c))
UNIT_BIN    := $(patsubst t/c/%.c,$(BUILD)/t/%,$(UNIT_SRC))
FUZZ_SRC    := $(sort $(wildcard fuzz/*.c))

.SECONDARY:
.PHONY: all test asan fuzz bench run clean deps tools install

# Tools the tests use besides the unit tests: the simulated node agent (bench/fakelet.c).
TEST_TOOLS  := $(BUILD)/bench/fakelet

all: $(BIN) $(UNIT_BIN) $(TEST_TOOLS)

$(BIN): $(ENGINE_OBJ) $(EMBED_OBJ)
	@mkdir -p bin
	@echo "  LINK  $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: engine/%.c
	@mkdir -p $(BUILD)
	@echo "  CC    $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# Data files under engine/*.json are compiled in as NUL-terminated strings named
# embed_<file>_json, so the binary needs nothing from the source tree at run time.
$(BUILD)/embed_%.c: engine/%.json
	@mkdir -p $(BUILD)
	$(Q)(echo 'const char embed_$(subst -,_,$*)_json[] = {'; xxd -i < $<; echo ', 0};') > $@

$(BUILD)/embed_%.o: $(BUILD)/embed_%.c
	$(Q)$(CC) -c -o $@ $<

$(BUILD)/t/%: t/c/%.c $(LIB_OBJ) $(EMBED_OBJ)
	@mkdir -p $(BUILD)/t
	@echo "  TEST  $@"
	$(Q)$(CC) $(CFLAGS) -It -o $@ $< $(LIB_OBJ) $(EMBED_OBJ) $(LDLIBS)

# Benchmark tools that link the engine (the others are built by scripts/bench.sh).
$(BUILD)/bench/%: bench/%.c $(LIB_OBJ) $(EMBED_OBJ)
	@mkdir -p $(BUILD)/bench
	@echo "  BENCH $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJ) $(EMBED_OBJ) $(LDLIBS)

deps:
	$(Q)scripts/install-deps.sh

tools:
	$(Q)scripts/fetch-tools.sh

test: deps all tools
	$(Q)BERTH_BIN=$(CURDIR)/bin/berth BERTH_UNIT=$(CURDIR)/$(BUILD)/t BERTH_FAKELET=$(CURDIR)/$(BUILD)/bench/fakelet prove $(PROVE_FLAGS) -r t

asan: deps tools
	$(Q)$(MAKE) BUILD=build-asan BIN=bin/berth-asan JEMALLOC= OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    BERTH_BIN=$(CURDIR)/bin/berth-asan BERTH_UNIT=$(CURDIR)/build-asan/t prove $(PROVE_FLAGS) -r t

FUZZ_SECONDS ?= 30
fuzz:
	$(Q)scripts/fuzz.sh $(FUZZ_SECONDS)

bench: all tools
	$(Q)scripts/bench.sh

run: deps all tools
	$(Q)scripts/run.sh

clean:
	rm -rf build build-asan build-fuzz bin

-include $(ENGINE_OBJ:.o=.d) $(UNIT_BIN:=.d)
