# Ariadne — plain make. Targets:
#   make               build/ariadne, build/libariadne.a
#   make check         build and run every test; ends with "N passed, N failed"
#   make check SAN=address|undefined|thread   the same under a sanitizer
#   make demo          build and run the main demo
#   make fuzz          libFuzzer targets (clang), each for FUZZ_SECONDS
#   make bench         the benchmarks in bench/
#   make verify        spin checks the ownership-transfer model (docs/VERIFY.md)
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
CFLAGS := -std=c11 $(WARN) $(OPT) -g -MMD -MP
LDFLAGS := $(OPT)
LDLIBS := -lpthread -lm

LIB_SRC := $(sort $(wildcard src/core/*.c src/sim/*.c src/dpu/*.c src/transport/*.c src/runtime/*.c))
TOOL_SRC := $(sort $(wildcard tools/*.c))
TOOL_MAIN := tools/ariadne.c
TOOL_CMDS := $(filter-out $(TOOL_MAIN),$(TOOL_SRC))
TEST_SRC := $(sort $(wildcard tests/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_OBJ := $(TOOL_CMDS:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all check demo fuzz bench verify clean

all: $(BUILD)/ariadne $(BUILD)/libariadne.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libariadne.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/ariadne: $(BUILD)/obj/$(TOOL_MAIN:.c=.o) $(TOOL_OBJ) $(BUILD)/libariadne.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/run_tests: $(TEST_OBJ) $(TOOL_OBJ) $(BUILD)/libariadne.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# Sanitizer runs are slower: their timeouts are scaled.
check: $(BUILD)/run_tests $(BUILD)/ariadne
	ARI_TEST_TIMEOUT_SCALE=$(if $(SAN),4,1) ARI_TOOL=$(BUILD)/ariadne $(BUILD)/run_tests

demo: $(BUILD)/ariadne
	@sh examples/demo.sh $(BUILD)/ariadne

# libFuzzer needs clang (Debian: apt-get install clang).
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
build/fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz: $(FUZZ_CC) not found; on Debian: apt-get install clang" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -g -O1 $(CPPFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $< $(LIB_SRC) -o $@ -lpthread -lm

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	  name=$$(basename $$f); mkdir -p build/fuzz/corpus-$$name; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -timeout=30 -max_len=8192 -print_final_stats=1 build/fuzz/corpus-$$name tests/fuzz/seeds-$$name 2>build/fuzz/$$name.log \
	    || { tail -50 build/fuzz/$$name.log; exit 1; }; \
	  grep -E 'stat::number_of_executed_units|Done' build/fuzz/$$name.log | tr '\n' ' '; echo; \
	done

bench: $(BUILD)/ariadne
	@sh bench/topo.sh $(BUILD)/ariadne
	@sh bench/sim_compare.sh $(BUILD)/ariadne
	@sh bench/own_compare.sh $(BUILD)/ariadne

# The Promela model src/core/own.pml, exhaustively (needs spin: apt-get install spin).
verify:
	sh tests/verify.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
