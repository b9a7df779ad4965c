# libFuzzer targets for the loaders of untrusted input, and their replay
# without libFuzzer on every `make check`. See tests/fuzz/README.md.
#
#   make fuzz              each target FUZZ_SECONDS (60) with clang + libFuzzer
#   make fuzz-smoke        each target FUZZ_SMOKE_SECONDS (15), for CI
#   make fuzz-config ...   one target (config, xml, planfile, state)
#   make fuzz-replay       corpora and regression inputs through $(CC) $(CFLAGS)
FUZZ_TARGETS       := config xml planfile state
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 15
FUZZ_CC            ?= clang
FUZZ_FLAGS         ?=
FUZZ_DIR           := build/fuzz
# The library again, compiled by clang with coverage and ASan/UBSan, apart
# from the regular objects.
FUZZ_SAN           := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS        := -O1 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
                      -Iinclude -Isrc -DNP_VERSION='"$(VERSION)"' -MMD -MP $(FUZZ_SAN) \
                      $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_LIB_OBJ       := $(patsubst src/%.c,$(FUZZ_DIR)/obj/%.o,\
                      $(foreach m,$(filter-out cli,$(MODULES)),$($(m)_SRC))) \
                      $(FUZZ_DIR)/obj/gen/state_sql.o
FUZZ_BINS          := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))
# Per target: inputs much larger than a real one only run slower. A state
# seed is a whole SQLite file, so that target takes its seeds' size.
FUZZ_OPTS_config   := -max_len=16384 -dict=tests/fuzz/config.dict
FUZZ_OPTS_xml      := -max_len=16384 -dict=tests/fuzz/xml.dict
FUZZ_OPTS_planfile := -max_len=16384 -dict=tests/fuzz/planfile.dict
FUZZ_OPTS_state    :=

.PHONY: fuzz fuzz-smoke fuzz-bins fuzz-replay fuzz-replay-bins

fuzz-bins: $(FUZZ_BINS)

$(FUZZ_DIR)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZ_DIR)/gen/state_sql.c: tools/embed_sql.sh $(sort $(wildcard state/*.sql))
	@mkdir -p $(dir $@)
	sh tools/embed_sql.sh $(sort $(wildcard state/*.sql)) > $@
$(FUZZ_DIR)/obj/gen/state_sql.o: $(FUZZ_DIR)/gen/state_sql.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_DIR)/obj/tests/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(LDLIBS)

# New inputs go to a scratch corpus under build/fuzz; the committed corpus
# and the regression inputs are read, never written. Crashes land in
# build/fuzz/artifacts/TARGET/: fix, then keep the input in
# tests/fuzz/regressions/TARGET/.
fuzz-%: $(FUZZ_DIR)/fuzz_%
	@mkdir -p $(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/artifacts/$*
	@echo "== fuzz_$* for $(FUZZ_SECONDS)s"
	$(FUZZ_DIR)/fuzz_$* $(FUZZ_DIR)/corpus/$* $(wildcard tests/fuzz/corpus/$* tests/fuzz/regressions/$*) \
	  -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_DIR)/artifacts/$*/ $(FUZZ_OPTS_$*) $(FUZZ_FLAGS) \
	  2>$(FUZZ_DIR)/fuzz_$*.log || { tail -n 60 $(FUZZ_DIR)/fuzz_$*.log; exit 1; }
	@grep -E '^(stat::|INFO: -max_total_time|Done )' $(FUZZ_DIR)/fuzz_$*.log | sed 's/^/fuzz_$*: /'

fuzz: $(patsubst %,fuzz-%,$(FUZZ_TARGETS))

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

# The same targets linked with the project's compiler and flags and a plain
# main() (tests/fuzz/replay.c), in $(BUILD): SANITIZE=1 replays under
# ASan/UBSan. `make check` builds them and tests/run-all.sh runs them.
FUZZ_REPLAY      := $(BUILD)/fuzz-replay
FUZZ_REPLAY_BINS := $(patsubst %,$(FUZZ_REPLAY)/replay_%,$(FUZZ_TARGETS))

$(FUZZ_REPLAY)/obj/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
$(FUZZ_REPLAY)/replay_%: $(FUZZ_REPLAY)/obj/replay.o $(FUZZ_REPLAY)/obj/fuzz_%.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

fuzz-replay-bins: $(FUZZ_REPLAY_BINS)

fuzz-replay: $(FUZZ_REPLAY_BINS)
	@for t in $(FUZZ_TARGETS); do \
	  dirs=; for d in tests/fuzz/corpus/$$t tests/fuzz/regressions/$$t; do \
	    [ -d $$d ] && dirs="$$dirs $$d"; done; \
	  printf 'fuzz_%s: ' $$t; $(FUZZ_REPLAY)/replay_$$t $$dirs || exit 1; \
	done

check: fuzz-replay-bins

# Objects made by the pattern rules above are kept for the next build.
.SECONDARY: $(FUZZ_LIB_OBJ) $(FUZZ_DIR)/gen/state_sql.c \
            $(patsubst %,$(FUZZ_DIR)/obj/tests/fuzz_%.o,$(FUZZ_TARGETS)) \
            $(patsubst %,$(FUZZ_REPLAY)/obj/fuzz_%.o,$(FUZZ_TARGETS)) $(FUZZ_REPLAY)/obj/replay.o

-include $(shell find $(FUZZ_DIR) -name '*.d' 2>/dev/null)
