# smartcart build. `make run` and `make test` are the two commands a person
# needs (see README); everything else here serves them.
#   make [MODE=release|asan]   build the binaries into build/$(MODE)
#   make run                   install what is missing, start the local stack, ingest and workers
#   make test                  the same on test ports, ASan+UBSan build, every test tier
#   make bench                 benchmarks (figures and ratios)
#   make format | format-check clang-format with the repo's .clang-format

MODE ?= release
BUILD ?= build/$(MODE)
# make test's build folder; helpers working side by side give each their own.
TEST_BUILD ?= build/asan
PKGS := libmicrohttpd rdkafka hiredis vips libjwt jansson libsodium libcurl libpq libqrencode

CC ?= cc
CFLAGS_COMMON := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers \
	-I. -Ilib -MMD -MP $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
ifeq ($(MODE),asan)
CFLAGS_MODE := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_MODE := -fsanitize=address,undefined
else
CFLAGS_MODE := -O2 -g
LDFLAGS_MODE :=
endif
CFLAGS += $(CFLAGS_COMMON) $(CFLAGS_MODE)
LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

MAINS := ingest/main.c workers/main.c db/cli.c
CORE_SRC := $(filter-out $(MAINS),$(wildcard lib/*.c schemas/*.c db/*.c ingest/*.c workers/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
CORE_LIB := $(BUILD)/libsmartcart.a

BINS := $(BUILD)/smartcart-ingest $(BUILD)/smartcart-worker $(BUILD)/smartcart $(BUILD)/smartcart-kafka-mock
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
IT_SRC := $(wildcard tests/integration/it_*.c)
IT_BINS := $(IT_SRC:tests/integration/%.c=$(BUILD)/tests/%)

.PHONY: all build tests benchbins run test bench format format-check deps clean
all build: $(BINS)
tests: $(UNIT_BINS) $(IT_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/smartcart-ingest: $(BUILD)/ingest/main.o $(CORE_LIB)
	@echo "LD $@"
	@$(CC) $(LDFLAGS_MODE) $^ $(LDLIBS) -o $@
$(BUILD)/smartcart-worker: $(BUILD)/workers/main.o $(CORE_LIB)
	@echo "LD $@"
	@$(CC) $(LDFLAGS_MODE) $^ $(LDLIBS) -o $@
$(BUILD)/smartcart: $(BUILD)/db/cli.o $(CORE_LIB)
	@echo "LD $@"
	@$(CC) $(LDFLAGS_MODE) $^ $(LDLIBS) -o $@
$(BUILD)/smartcart-kafka-mock: $(BUILD)/infra/kafka_mock.o
	@echo "LD $@"
	@$(CC) $(LDFLAGS_MODE) $^ $(LDLIBS) -o $@

BENCH_BINS := $(BUILD)/bench/image_bench
benchbins: $(BENCH_BINS)
$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	@echo "LD $@"
	@$(CC) $(LDFLAGS_MODE) $^ $(LDLIBS) -o $@

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(CORE_LIB)
	@echo "LD $@"
	@$(CC) $(LDFLAGS_MODE) $^ $(LDLIBS) -lcmocka -o $@
$(BUILD)/tests/it_%: $(BUILD)/tests/integration/it_%.o $(CORE_LIB)
	@echo "LD $@"
	@$(CC) $(LDFLAGS_MODE) $^ $(LDLIBS) -lcmocka -o $@

deps:
	@infra/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory MODE=release BUILD=build/release build
	@BUILD=build/release infra/run.sh

test: deps
	@$(MAKE) --no-print-directory MODE=asan BUILD=$(TEST_BUILD) build tests
	@BUILD=$(TEST_BUILD) tests/run.sh

bench: deps
	@$(MAKE) --no-print-directory MODE=release BUILD=build/release build benchbins
	@BUILD=build/release tests/bench/run.sh

FORMAT_SRC = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	clang-format --dry-run -Werror $(FORMAT_SRC)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
