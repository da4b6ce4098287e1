# Ariadne — plain make. Targets:
#   make               build/ariadne, build/libariadne.{a,so}, build/ariadne.pc, the examples
#   make install PREFIX=/usr/local [DESTDIR=]   the command, libraries, header, pkg-config file
#   make check         build and run every test; ends with "N passed, N failed"
#   make check SAN=address|undefined|thread   the same under a sanitizer
#   make demo          build and run the main demo
#   make fuzz          libFuzzer targets (clang), each for FUZZ_SECONDS
#   make bench         the benchmarks in bench/
#   make bench-progs   what `ariadne bench` runs (MPI/OpenSHMEM peers where installed)
#   make verify        spin checks the ownership-transfer model (docs/VERIFY.md)
#   make check-net     runs across hosts: network namespaces as hosts (root; docs/CLUSTER.md)
#   make bench-net     Ariadne beside OpenSHMEM between two such hosts
#   make clean
# Sanitizer builds go to build/san-<name>/ so they never mix with the plain one.

CC ?= cc
SAN ?=
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang

ifeq ($(SAN),)
BUILD := build
OPT := -O2
else
BUILD := build/san-$(SAN)
OPT := -O1 -fno-omit-frame-pointer -fsanitize=$(SAN)
ifeq ($(SAN),undefined)
OPT += -fno-sanitize-recover=all
endif
ifeq ($(SAN),thread)
OPT += -fPIE -pie
endif
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
CPPFLAGS := -Iinclude -Isrc -D_GNU_SOURCE
CFLAGS := -std=c11 $(WARN) $(OPT) -g -MMD -MP -fPIC
LDFLAGS := $(OPT)
LDLIBS := -lpthread -lm

# libsodium, for the cluster join (docs/CLUSTER.md; Debian: apt-get install
# libsodium-dev). Without it everything builds and the join's calls return
# ARI_ENOTSUP saying how to get it; SODIUM=no builds without it anyway.
SODIUM ?= $(if $(shell pkg-config --exists libsodium 2>/dev/null && echo y),yes,no)
ifeq ($(SODIUM),yes)
SODIUM_CFLAGS := -DARI_HAVE_SODIUM $(shell pkg-config --cflags libsodium)
SODIUM_LIBS := $(shell pkg-config --libs libsodium)
endif
CPPFLAGS += $(SODIUM_CFLAGS)
LDLIBS += $(SODIUM_LIBS)

# UCX, for links between hosts (docs/CLUSTER.md, "Links between hosts";
# Debian: apt-get install libucx-dev). Without it everything builds and a
# UCX link returns ARI_ENOTSUP saying how to get it (TCP links need
# nothing); UCX=no builds without it anyway.
UCX ?= $(if $(shell pkg-config --exists ucx 2>/dev/null && echo y),yes,no)
ifeq ($(UCX),yes)
UCX_CFLAGS := -DARI_HAVE_UCX $(shell pkg-config --cflags ucx)
UCX_LIBS := $(shell pkg-config --libs ucx)
endif
CPPFLAGS += $(UCX_CFLAGS)
LDLIBS += $(UCX_LIBS)

LIB_SRC := $(sort $(wildcard src/core/*.c src/sim/*.c src/dpu/*.c src/transport/*.c src/runtime/*.c \
	src/cluster/*.c))
TOOL_SRC := $(sort $(wildcard tools/*.c))
TOOL_MAIN := tools/ariadne.c
TOOL_CMDS := $(filter-out $(TOOL_MAIN),$(TOOL_SRC))
TEST_SRC := $(sort $(wildcard tests/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_OBJ := $(TOOL_CMDS:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: fuzz-cc-check all check demo fuzz bench bench-progs verify clean install examples FORCE check-net bench-net

PREFIX ?= /usr/local
SONAME := libariadne.so.$(shell sed -n 's/^\#define ARI_VERSION_MAJOR //p' include/ariadne.h)
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
RT_PROGS := $(patsubst tests/rt/%.c,$(BUILD)/rt/%,$(wildcard tests/rt/*.c))
# What `ariadne bench` runs (below); set before `check`, whose prerequisites
# are expanded where the rule stands.
MPICC ?= mpicc
OSHCC ?= oshcc
BENCH_PROGS := $(BUILD)/bench/ari_bench $(BUILD)/bench/limits
BENCH_PEERS := $(if $(shell command -v $(MPICC) 2>/dev/null),$(BUILD)/bench/mpi_bench) \
	$(if $(shell command -v $(OSHCC) 2>/dev/null),$(BUILD)/bench/shmem_bench)

all: $(BUILD)/ariadne $(BUILD)/libariadne.a $(BUILD)/libariadne.so $(BUILD)/ariadne.pc examples
examples: $(EXAMPLES)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libariadne.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libariadne.so: $(LIB_OBJ)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) $^ -o $@ $(LDLIBS)
	ln -sf libariadne.so $(dir $@)$(SONAME)

# The pkg-config file of the build tree (PKG_CONFIG_PATH=build); install
# writes one for PREFIX. Libs carry an rpath so programs find the library.
define ARI_PC
prefix=$(1)
includedir=$(2)
libdir=$(3)

Name: ariadne
Description: Ariadne distributed shared memory (path caches, 128-bit global addresses)
Version: $(shell sed -n 's/^\#define ARI_VERSION_MAJOR //p' include/ariadne.h).$(shell sed -n 's/^\#define ARI_VERSION_MINOR //p' include/ariadne.h)
Cflags: -I$${includedir}
Libs: -L$${libdir} -Wl,-rpath,$${libdir} -lariadne
Libs.private: -lpthread -lm $(SODIUM_LIBS) $(UCX_LIBS)
endef
export ARI_PC_BUILD = $(call ARI_PC,$(CURDIR),$(CURDIR)/include,$(CURDIR)/$(BUILD))
export ARI_PC_INSTALL = $(call ARI_PC,$(PREFIX),$(PREFIX)/include,$(PREFIX)/lib)

$(BUILD)/ariadne.pc: Makefile include/ariadne.h $(BUILD)/sodium.flags $(BUILD)/ucx.flags
	@mkdir -p $(dir $@)
	@printf '%s\n' "$$ARI_PC_BUILD" > $@

# Whether libsodium is used, as a file that changes only when that does, so
# the files that test ARI_HAVE_SODIUM are rebuilt when it comes or goes.
$(BUILD)/sodium.flags: FORCE
	@mkdir -p $(dir $@)
	@echo '$(SODIUM_CFLAGS) $(SODIUM_LIBS)' | cmp -s - $@ || echo '$(SODIUM_CFLAGS) $(SODIUM_LIBS)' > $@
$(filter $(BUILD)/obj/src/cluster/%,$(LIB_OBJ)) $(BUILD)/obj/tests/test_join.o \
	$(BUILD)/obj/tests/test_hosts.o: $(BUILD)/sodium.flags
# The same for UCX and the files that test ARI_HAVE_UCX.
$(BUILD)/ucx.flags: FORCE
	@mkdir -p $(dir $@)
	@echo '$(UCX_CFLAGS) $(UCX_LIBS)' | cmp -s - $@ || echo '$(UCX_CFLAGS) $(UCX_LIBS)' > $@
$(BUILD)/obj/src/cluster/link.o $(BUILD)/obj/src/cluster/link_ucx.o \
	$(BUILD)/obj/tests/test_link.o $(BUILD)/obj/tests/test_hosts.o: $(BUILD)/ucx.flags
FORCE:

# Examples and the runtime's test programs are built the way a user builds
# them: through pkg-config (Debian: apt-get install pkg-config).
PKG_CONFIG ?= pkg-config
USER_CC = $(CC) -std=c11 -Wall -Wextra -Werror $(OPT) -g $< \
	$$(PKG_CONFIG_PATH=$(BUILD) $(PKG_CONFIG) --cflags --libs ariadne) -o $@
$(BUILD)/examples/% $(BUILD)/rt/%: | $(BUILD)/ariadne.pc
$(BUILD)/examples/%: examples/%.c $(BUILD)/libariadne.so $(BUILD)/ariadne.pc
	@command -v $(PKG_CONFIG) >/dev/null || { echo "make: $(PKG_CONFIG) not found; on Debian: apt-get install pkg-config" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(USER_CC)
$(BUILD)/rt/%: tests/rt/%.c tests/rt/rt.h $(BUILD)/libariadne.so $(BUILD)/ariadne.pc
	@command -v $(PKG_CONFIG) >/dev/null || { echo "make: $(PKG_CONFIG) not found; on Debian: apt-get install pkg-config" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(USER_CC)

install: $(BUILD)/ariadne $(BUILD)/libariadne.a $(BUILD)/libariadne.so
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BUILD)/ariadne $(DESTDIR)$(PREFIX)/bin/ariadne
	install -m 644 $(BUILD)/libariadne.a $(DESTDIR)$(PREFIX)/lib/libariadne.a
	install -m 755 $(BUILD)/libariadne.so $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libariadne.so
	install -m 644 include/ariadne.h $(DESTDIR)$(PREFIX)/include/ariadne.h
	printf '%s\n' "$$ARI_PC_INSTALL" > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ariadne.pc

$(BUILD)/ariadne: $(BUILD)/obj/$(TOOL_MAIN:.c=.o) $(TOOL_OBJ) $(BUILD)/libariadne.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/run_tests: $(TEST_OBJ) $(TOOL_OBJ) $(BUILD)/libariadne.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# Sanitizer runs are slower: their timeouts are scaled. Under TSan, UCX's
# memory hooks are off: its madvise hook crashes TSan as UCX's thread exits.
check: $(BUILD)/run_tests $(BUILD)/ariadne $(EXAMPLES) $(RT_PROGS) $(BENCH_PROGS) $(BENCH_PEERS)
	$(if $(filter thread,$(SAN)),UCX_MEM_EVENTS=no) ARI_TEST_TIMEOUT_SCALE=$(if $(SAN),4,1) ARI_TOOL=$(BUILD)/ariadne ARI_BUILD=$(BUILD) $(BUILD)/run_tests

demo: $(BUILD)/ariadne $(EXAMPLES)
	@sh examples/demo.sh $(BUILD)/ariadne

# libFuzzer needs clang (Debian: apt-get install clang). The library is
# compiled once for all the targets (fuzzer-no-link), each target linked
# against those objects.
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_FLAGS := -std=c11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
.SECONDARY: $(FUZZ_LIB_OBJ)
fuzz-cc-check:
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz: $(FUZZ_CC) not found; on Debian: apt-get install clang" >&2; exit 1; }
build/fuzz/obj/%.o: %.c | fuzz-cc-check
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(CPPFLAGS) -MMD -MP -c $< -o $@
build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJ) | fuzz-cc-check
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $(CPPFLAGS) $< $(FUZZ_LIB_OBJ) -o $@ -lpthread -lm $(SODIUM_LIBS) $(UCX_LIBS)

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	  name=$$(basename $$f); mkdir -p build/fuzz/corpus-$$name; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -timeout=30 -max_len=8192 -print_final_stats=1 build/fuzz/corpus-$$name tests/fuzz/seeds-$$name 2>build/fuzz/$$name.log \
	    || { tail -50 build/fuzz/$$name.log; exit 1; }; \
	  grep -E 'stat::number_of_executed_units|Done' build/fuzz/$$name.log | tr '\n' ' '; echo; \
	done

$(BUILD)/bench/rt_bench: bench/rt_bench.c $(BUILD)/libariadne.so $(BUILD)/ariadne.pc
	@mkdir -p $(dir $@)
	$(USER_CC)

# The programs `ariadne bench` runs (docs/PERFORMANCE.md), found next to the
# command in $(BUILD)/bench/: the Ariadne side and the physical limits always;
# the MPI and OpenSHMEM peers only where mpicc / oshcc exist (Debian:
# apt-get install openmpi-bin libopenmpi-dev), never with a sanitizer.
# (MPICC, OSHCC, BENCH_PROGS and BENCH_PEERS are set at the top: `check` needs them.)
PEER_CC = -std=c11 $(WARN) -O2 -g -D_GNU_SOURCE $< -o $@ -lm
$(BUILD)/bench/ari_bench: bench/ari_bench.c bench/bench.h $(BUILD)/libariadne.so $(BUILD)/ariadne.pc
	@mkdir -p $(dir $@)
	$(USER_CC)
$(BUILD)/bench/limits: bench/limits.c bench/bench.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(WARN) $(OPT) -g -D_GNU_SOURCE $< -o $@ -lpthread -lm
$(BUILD)/bench/mpi_bench: bench/mpi_bench.c bench/bench.h
	@mkdir -p $(dir $@)
	$(MPICC) $(PEER_CC)
$(BUILD)/bench/shmem_bench: bench/shmem_bench.c bench/bench.h
	@mkdir -p $(dir $@)
	$(OSHCC) $(PEER_CC)

bench-progs: $(BUILD)/ariadne $(EXAMPLES) $(BENCH_PROGS) $(BENCH_PEERS)
	@$(if $(findstring mpi_bench,$(BENCH_PEERS)),,echo "make: $(MPICC) not found: the MPI peer is not built (apt-get install openmpi-bin libopenmpi-dev)")
	@$(if $(findstring shmem_bench,$(BENCH_PEERS)),,echo "make: $(OSHCC) not found: the OpenSHMEM peer is not built (apt-get install openmpi-bin libopenmpi-dev)")

bench: $(BUILD)/ariadne $(BUILD)/bench/rt_bench
	@$(BUILD)/ariadne run -n 2 $(BUILD)/bench/rt_bench all 512
	@sh bench/topo.sh $(BUILD)/ariadne
	@sh bench/sim_compare.sh $(BUILD)/ariadne
	@sh bench/own_compare.sh $(BUILD)/ariadne

# Runs across hosts on this machine: network namespaces as test hosts,
# wired as a topology (tests/net/netns.sh; docs/CLUSTER.md, "Test hosts:
# make check-net"). Both targets need root and iproute2 and say so.
NET_PROGS := $(BUILD)/net/net_stream $(BUILD)/net/net_get
NET_PEERS := $(if $(shell command -v $(OSHCC) 2>/dev/null),$(BUILD)/bench/shmem_bench $(BUILD)/net/net_get_shmem)
$(BUILD)/net/%: tests/net/%.c bench/bench.h $(BUILD)/libariadne.so $(BUILD)/ariadne.pc
	@mkdir -p $(dir $@)
	$(USER_CC) -Ibench
$(BUILD)/net/net_get_shmem: tests/net/net_get_shmem.c bench/bench.h
	@mkdir -p $(dir $@)
	$(OSHCC) $(PEER_CC) -Ibench

check-net: $(BUILD)/ariadne $(EXAMPLES) $(NET_PROGS)
	bash tests/net/check-net.sh $(BUILD)

bench-net: $(BUILD)/ariadne $(BUILD)/bench/ari_bench $(NET_PROGS) $(NET_PEERS)
	bash bench/net_bench.sh $(BUILD)

# The Promela model src/core/own.pml, exhaustively (needs spin: apt-get install spin).
verify:
	sh tests/verify.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
