# libFuzzer targets (clang). Each target links the core compiled with the
# same instrumentation. `make fuzz` runs every target FUZZ_SECONDS (default
# 600) from its seed corpus; scripts/fuzz-smoke (in make test) runs each
# briefly and replays the kept regression inputs.
FUZZ := $(BUILD)/fuzz
FUZZ_CXX := clang++
FUZZ_FLAGS := -std=c++20 -O1 -g -I. -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -fno-exceptions -fno-rtti -Wall -Werror
FUZZ_CORE_OBJS := $(CORE_SRCS:%.cpp=$(FUZZ)/%.o)
FUZZ_TARGETS := $(patsubst loader/fuzz/%.cpp,$(FUZZ)/%,$(wildcard loader/fuzz/fuzz_*.cpp))
FUZZ_SECONDS ?= 600
# The core objects are inputs of every target, not intermediates: keep them
# so a second `make fuzz-build` relinks nothing.
.PRECIOUS: $(FUZZ)/loader/%.o

$(FUZZ)/loader/%.o: loader/%.cpp $(CORE_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(subst fuzzer,fuzzer-no-link,$(FUZZ_FLAGS)) -c $< -o $@
$(FUZZ)/fuzz_%: loader/fuzz/fuzz_%.cpp loader/fuzz/fuzz_mem.h $(FUZZ_CORE_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_CORE_OBJS) -lfdt

.PHONY: fuzz-build fuzz
fuzz-build: $(FUZZ_TARGETS)
fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz-run $(FUZZ_TARGETS)
