# khoboot: one entry point.
#   make          build everything for x86-64 (host core + khotool, EFI app, test kernel)
#   make test     every test suite; ends with "N passed, N failed"
#   make demo     the boot chain in QEMU with the defaults
#   make bench    benchmarks (figures printed, never asserted)
#   make bench-boot  khoboot boot time over 10^2..10^6 preserved ranges in QEMU (long; not in test)
#   make fuzz     libFuzzer targets for FUZZ_SECONDS each
#   make install DESTDIR=...
#   make deb      the Debian package; make image OUT=disk.img KERNEL=... (packaging/build.mk)
# Each part of the tree contributes a build.mk fragment; this file only
# holds the shared flags and the top-level targets.

.DEFAULT_GOAL := all
SHELL := /bin/bash
# Build on every core unless the caller chose (CI machines have two).
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc)
endif
BUILD := build
HOST := $(BUILD)/host
ASAN := $(BUILD)/asan

DEPS_STAMP := $(BUILD)/.deps-ok
$(DEPS_STAMP): scripts/install-deps
	@scripts/install-deps
	@mkdir -p $(BUILD) && touch $@

HOST_CXX ?= g++
HOST_CC ?= gcc
WARN := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
# The core is freestanding C++: no exceptions, no RTTI, no heap.
CORE_FLAGS := -std=c++20 $(WARN) -fno-exceptions -fno-rtti -I.
HOST_OPT := -O2 -g
# vptr checks need RTTI, which the core (-fno-rtti) does not have.
ASAN_OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer \
	-fno-sanitize-recover=all

CORE_SRCS := $(wildcard loader/*.cpp)
HOST_CORE_OBJS := $(CORE_SRCS:%.cpp=$(HOST)/%.o)
ASAN_CORE_OBJS := $(CORE_SRCS:%.cpp=$(ASAN)/%.o)
CORE_HDRS := $(wildcard abi/*.h loader/*.h)

$(HOST)/%.o: %.cpp $(CORE_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CXX) $(CORE_FLAGS) $(HOST_OPT) -c $< -o $@
$(ASAN)/%.o: %.cpp $(CORE_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CXX) $(CORE_FLAGS) $(ASAN_OPT) -c $< -o $@

$(HOST)/libkhocore.a: $(HOST_CORE_OBJS)
	@rm -f $@; ar rcs $@ $^
$(ASAN)/libkhocore.a: $(ASAN_CORE_OBJS)
	@rm -f $@; ar rcs $@ $^

# --- khotool (host CLI) -----------------------------------------------------
TOOL_SRCS := $(wildcard loader/tools/*.cpp)
TOOL_HDRS := $(wildcard loader/tools/*.h)
# The state builder and encoders shared with test_kernel (header-only).
SHARED_HDRS := $(wildcard test_kernel/shared/*.h) test_kernel/heap_sort.h
# Kernel images are read through zlib, liblzma and libzstd (kernel_image.h).
TOOL_LIBS := -lfdt -llzma -lzstd -lz
$(HOST)/khotool: $(TOOL_SRCS:%.cpp=$(HOST)/%.o) $(HOST)/libkhocore.a
	$(HOST_CXX) $(HOST_OPT) -o $@ $^ $(TOOL_LIBS)
KHOBOOT_VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# Where `make install` puts the handoff image and `khotool reboot` looks.
HANDOFF_INSTALL_PATH := /usr/lib/khoboot/khoboot-handoff.bzImage
$(HOST)/loader/tools/%.o: loader/tools/%.cpp $(CORE_HDRS) $(TOOL_HDRS) $(SHARED_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CXX) -std=c++20 $(WARN) -I. $(HOST_OPT) -DKHOBOOT_VERSION='"$(KHOBOOT_VERSION)"' \
		-DKHOBOOT_HANDOFF_PATH='"$(HANDOFF_INSTALL_PATH)"' -c $< -o $@

# --- host tests (GoogleTest) -----------------------------------------------
TEST_SRCS := $(wildcard loader/tests/*.cpp)
TEST_HDRS := $(wildcard loader/tests/*.h)
TEST_FLAGS := -std=c++20 $(WARN) -I.
$(HOST)/loader/tests/%.o: loader/tests/%.cpp $(CORE_HDRS) $(TEST_HDRS) $(SHARED_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CXX) $(TEST_FLAGS) $(HOST_OPT) -c $< -o $@
$(ASAN)/loader/tests/%.o: loader/tests/%.cpp $(CORE_HDRS) $(TEST_HDRS) $(SHARED_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CXX) $(TEST_FLAGS) $(ASAN_OPT) -c $< -o $@
# Archives last: other fragments add objects (scripts/linux/build.mk) that
# need the core too.
$(HOST)/unit_tests: $(TEST_SRCS:%.cpp=$(HOST)/%.o) $(HOST)/libkhocore.a
	$(HOST_CXX) $(HOST_OPT) -o $@ $(filter-out %.a,$^) $(filter %.a,$^) -lgtest -lgtest_main -lfdt -lz -pthread
$(ASAN)/unit_tests: $(TEST_SRCS:%.cpp=$(ASAN)/%.o) $(ASAN)/libkhocore.a
	$(HOST_CXX) $(ASAN_OPT) -o $@ $(filter-out %.a,$^) $(filter %.a,$^) -lgtest -lgtest_main -lfdt -lz -pthread

# --- benchmarks ---------------------------------------------------------------
BENCH_SRCS := $(wildcard loader/bench/*.cpp)
$(HOST)/loader/bench/%.o: loader/bench/%.cpp $(CORE_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CXX) -std=c++20 $(WARN) -I. -O2 -g -c $< -o $@
$(HOST)/bench: $(BENCH_SRCS:%.cpp=$(HOST)/%.o) $(HOST)/libkhocore.a
	$(HOST_CXX) -O2 -o $@ $^ -lfdt -pthread

HOST_TARGETS := $(HOST)/libkhocore.a $(HOST)/khotool
ALL_TARGETS := $(HOST_TARGETS)

# Parts that build for the firmware and the guest add to ALL_TARGETS and
# TEST_SUITES (see scripts/run-tests).
-include efi/build.mk
-include test_kernel/build.mk
-include handoff/build.mk
-include loader/fuzz/build.mk
-include scripts/linux/build.mk
-include packaging/build.mk

.PHONY: all host test unit-tests demo bench bench-boot fuzz install clean deps
all: $(ALL_TARGETS)
host: $(HOST_TARGETS)
deps: $(DEPS_STAMP)

unit-tests: $(HOST)/unit_tests $(ASAN)/unit_tests

test: all unit-tests
	@scripts/run-tests

bench: $(HOST)/bench
	@$(HOST)/bench

bench-boot: all
	@scripts/bench-boot

demo: all
	@scripts/demo

install: all
	@test -n "$(DESTDIR)" || { echo "make install: set DESTDIR" >&2; exit 2; }
	@# khoboot's own path on an ESP at DESTDIR, never the removable-media
	@# fallback EFI/BOOT/BOOTX64.EFI another loader may own; the copy under
	@# usr/lib is what 'khotool install --esp' puts on a mounted ESP.
	install -D -m 0644 $(BUILD)/x86_64/khoboot.efi $(DESTDIR)/EFI/khoboot/khobootx64.efi
	install -D -m 0644 $(BUILD)/x86_64/khoboot.efi $(DESTDIR)/usr/lib/khoboot/khobootx64.efi
	install -D -m 0644 $(BUILD)/aarch64/khoboot.efi $(DESTDIR)/EFI/khoboot/khobootaa64.efi
	install -D -m 0644 $(BUILD)/aarch64/khoboot.efi $(DESTDIR)/usr/lib/khoboot/khobootaa64.efi
	install -D -m 0755 $(HOST)/khotool $(DESTDIR)/usr/bin/khotool
	install -D -m 0644 $(BUILD)/x86_64/khoboot-handoff.bzImage $(DESTDIR)$(HANDOFF_INSTALL_PATH)
	install -D -m 0644 packaging/man/khotool.1 $(DESTDIR)/usr/share/man/man1/khotool.1
	install -D -m 0644 packaging/man/khoboot.7 $(DESTDIR)/usr/share/man/man7/khoboot.7

clean:
	rm -rf $(BUILD)
