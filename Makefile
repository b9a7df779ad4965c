# nestplan — one readable Makefile. `make help` lists the targets.
VERSION   := 0.1.0
PREFIX    ?= /usr/local
CC        ?= cc
PKGS      := libcurl libcrypto yaml-0.1 sqlite3 libxml-2.0 jansson
DEB_PKGS  := build-essential pkg-config libcurl4-openssl-dev libssl-dev libyaml-dev \
             libsqlite3-dev libxml2-dev libjansson-dev check libsubunit-dev python3 \
             ca-certificates
# What the tests use beyond the build: fuzzing, memcheck, the terminal test,
# the man page and JUnit schema checks, the completions, the output schemas,
# the examples, the AWS CLI conformance. Not Debian's python3-boto3 nor
# python3-botocore: their EC2 model predates nested virtualization (and moto
# is not packaged), so the SDK tests skip with their reason.
TEST_DEB_PKGS := clang valgrind tmux man-db libxml2-utils bash-completion zsh \
                 python3-yaml python3-jsonschema awscli clang-format
TEST_TOOLS    := clang valgrind tmux man xmllint zsh aws clang-format
TEST_PY_MODS  := yaml jsonschema
TEST_FILES    := /usr/share/bash-completion/bash_completion

# A fresh machine gets its libraries before the first compile; if it cannot,
# make stops here with apt's error rather than at the first missing header.
HAVE_LIBS := $(shell pkg-config --exists $(PKGS) check 2>/dev/null && command -v $(firstword $(CC)) >/dev/null && echo yes)
ifneq ($(HAVE_LIBS),yes)
ifeq ($(filter deps test-deps clean help bare-test,$(MAKECMDGOALS)),)
$(info nestplan: libraries missing, running 'make deps' first)
DEPS_RC := $(shell $(MAKE) --no-print-directory deps >&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error nestplan: the build dependencies are not installed (the reason is above))
endif
endif
endif

ifeq ($(SANITIZE),1)
BUILD     ?= build/san
SANFLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD     ?= build
SANFLAGS  :=
endif

CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
             -Iinclude -Isrc -DNP_VERSION='"$(VERSION)"' -MMD -MP $(SANFLAGS) \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
LDFLAGS   += $(SANFLAGS)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

# One object group per module; a module's directory is its architecture box.
MODULES   := util model config state aws backend plan render apply refresh cli
$(foreach m,$(MODULES),$(eval $(m)_SRC := $(sort $(wildcard src/$(m)/*.c))))
$(foreach m,$(MODULES),$(eval $(m)_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$($(m)_SRC))))
# Generated: the SQL migrations embedded in the binary.
state_OBJ += $(BUILD)/obj/gen/state_sql.o

# Which modules each unit-test suite links, so a module can be tested alone.
util_DEPS      := util model
config_DEPS    := config model util
state_DEPS     := state aws model util
aws_DEPS       := aws model util
ec2_DEPS       := aws model util
endpoints_DEPS := util
plan_DEPS      := plan render config model util
apply_DEPS     := apply plan render config state aws model util
refresh_DEPS   := refresh plan render config state aws model util
cli_DEPS       := cli refresh apply plan render config state backend aws model util
s3_DEPS        := backend state config aws model util
backend_DEPS   := backend state aws model util
SUITES      := $(patsubst tests/unit/check_%.c,%,$(sort $(wildcard tests/unit/check_*.c)))
objs_for     = $(foreach d,$($(1)_DEPS),$($(d)_OBJ))

LIB_OBJ   := $(foreach m,$(filter-out cli,$(MODULES)),$($(m)_OBJ))
BIN       := $(BUILD)/nestplan

.PHONY: format all check check-unit check-valgrind check-sim check-integration deps test-deps bare-test demo install clean help fuzz bench
all: $(BIN)

$(BIN): $(cli_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# strcpy, sprintf and the like do not compile in src/ (tests may use them).
SRC_CFLAGS := -include include/nestplan/banned.h
$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SRC_CFLAGS) -c -o $@ $<

$(BUILD)/gen/state_sql.c: tools/embed_sql.sh $(sort $(wildcard state/*.sql))
	@mkdir -p $(dir $@)
	sh tools/embed_sql.sh $(sort $(wildcard state/*.sql)) > $@
$(BUILD)/obj/gen/state_sql.o: $(BUILD)/gen/state_sql.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Unit tests: one runner with every suite, and one runner per suite.
$(BUILD)/tests/obj/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -I$(BUILD)/tests -c -o $@ $<
$(BUILD)/tests/unit_tests: $(BUILD)/tests/obj/runner.o $(patsubst %,$(BUILD)/tests/obj/check_%.o,$(SUITES)) $(filter-out $(cli_OBJ),$(LIB_OBJ)) $(cli_OBJ)
	$(CC) $(LDFLAGS) -o $@ $(filter-out %/main.o,$^) $(CHECK_LIBS) $(LDLIBS)
$(BUILD)/tests/runner_%.o: tests/unit/runner.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -DNP_ONE_SUITE=check_$*_suite -c -o $@ $<
.SECONDEXPANSION:
$(BUILD)/tests/check_%: $(BUILD)/tests/runner_%.o $(BUILD)/tests/obj/check_%.o $$(call objs_for,$$*)
	$(CC) $(LDFLAGS) -o $@ $(filter-out %/main.o,$^) $(CHECK_LIBS) $(LDLIBS)

check: $(BIN) $(BUILD)/tests/unit_tests
	@$(MAKE) --no-print-directory test-deps DEPS_QUIET=1
	@NESTPLAN=$(CURDIR)/$(BIN) UNIT_TESTS=$(CURDIR)/$(BUILD)/tests/unit_tests \
	  REPLAY_DIR=$(CURDIR)/$(BUILD)/fuzz-replay VALGRIND=$(VALGRIND) UPDATE=$(UPDATE) bash tests/run-all.sh

check-unit: $(BUILD)/tests/unit_tests
	$(BUILD)/tests/unit_tests

deps:
	@if pkg-config --exists $(PKGS) check 2>/dev/null && command -v python3 >/dev/null && \
	    command -v $(firstword $(CC)) >/dev/null; then \
	  [ -n "$(DEPS_QUIET)" ] || echo "nestplan: all build dependencies present"; \
	else \
	  sh tools/apt-install.sh "the build dependencies" $(DEB_PKGS); \
	fi

# The test tools (CI runs this); without them those tests skip with a reason.
# `make check` runs it with DEPS_QUIET=1: root gets what is missing
# installed, anyone else is told and the tests concerned skip.
test-deps: deps
	@missing=""; for t in $(TEST_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	for m in $(TEST_PY_MODS); do python3 -c "import $$m" 2>/dev/null || missing="$$missing python3:$$m"; done; \
	for f in $(TEST_FILES); do [ -e $$f ] || missing="$$missing $$f"; done; \
	if [ -z "$$missing" ]; then \
	  [ -n "$(DEPS_QUIET)" ] || echo "nestplan: all test tools present"; \
	elif [ -n "$(DEPS_QUIET)" ] && [ "$$(id -u)" != 0 ]; then \
	  echo "nestplan: missing for some tests:$$missing (they skip; as root: make test-deps)"; \
	else \
	  sh tools/apt-install.sh "the test tools" $(TEST_DEB_PKGS); \
	fi

# The unit tests under valgrind memcheck: no errors, no leaks.
check-valgrind: $(BUILD)/tests/unit_tests
	CK_FORK=no valgrind --quiet --child-silent-after-fork=yes --error-exitcode=99 --leak-check=full \
	  --errors-for-leak-kinds=definite,indirect $(BUILD)/tests/unit_tests

# The README's Quickstart as written, in a fresh Debian 12 chroot (root; slow,
# so neither `make check` nor CI runs it).
bare-test:
	sh tests/bare/run.sh

demo: $(BIN)
	@NESTPLAN=$(CURDIR)/$(BIN) sh examples/quickstart/demo.sh

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/nestplan
	install -m 0644 docs/nestplan.1 $(DESTDIR)$(PREFIX)/share/man/man1/nestplan.1
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions
	install -m 0644 completion/nestplan.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/nestplan
	install -m 0644 completion/_nestplan $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_nestplan

# Every C file in the style of .clang-format (tests/config/test_format.py checks it).
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(C_FILES)

clean:
	rm -rf build

help:
	@echo "make            build build/nestplan"
	@echo "make check      build and run every test (SANITIZE=1: ASan+UBSan, VALGRIND=1: memcheck)"
	@echo "make demo       plan and apply examples/quickstart against the local EC2 simulator"
	@echo "make deps       install the Debian packages nestplan needs (test-deps: and its tests)"
	@echo "make check-valgrind  the unit tests under valgrind memcheck"
	@echo "make bare-test  the README's Quickstart in a fresh Debian 12 chroot (root, slow)"
	@echo "./make.sh ARGS  make ARGS, installing make first where it is missing (root)"
	@echo "make install    PREFIX=/usr/local: binary, man page, completions"
	@echo "make bench      run the benchmarks in tests/bench"
	@echo "make fuzz       run each libFuzzer target (FUZZ_SECONDS=60)"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The list of suites for the all-in-one runner, from the files present.
$(BUILD)/tests/obj/runner.o: $(BUILD)/tests/suites.h
$(BUILD)/tests/suites.h: $(wildcard tests/unit/check_*.c)
	@mkdir -p $(dir $@)
	@for s in $(SUITES); do echo "NP_SUITE($$s)"; done > $@

# Every scenario and one table (BENCH_FLAGS=--quick for a short run); see
# docs/BENCHMARKS.md.
bench: $(BIN)
	NESTPLAN=$(CURDIR)/$(BIN) python3 tests/bench/bench.py $(BENCH_FLAGS)

# libFuzzer targets and their regression replay (tests/fuzz/).
-include tests/fuzz/fuzz.mk
