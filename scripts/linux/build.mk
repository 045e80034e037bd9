# Real-Linux KHO tooling (scripts/linux/README.md), included by the top
# Makefile:
#  - build/host/khotool-static: khotool from the same sources, linked
#    statically (with Debian's libfdt.a) so it runs in the KHO kernel's
#    initramfs, where `khotool export` hands the live state to the firmware;
#  - build/host/linux-chain-init: the initramfs /init of the real-Linux
#    boot chains (scripts/linux/chain-init.c);
#  - the export tool's object in both unit-test binaries, whose
#    loader/tests/test_export.cpp tests its pure parts.
LINUX_KHOTOOL_STATIC := $(HOST)/khotool-static
LINUX_CHAIN_INIT := $(HOST)/linux-chain-init

# -s: the initramfs is copied onto the ESP and read by the firmware at every
# boot; debug info would triple its size.
$(LINUX_KHOTOOL_STATIC): $(TOOL_SRCS:%.cpp=$(HOST)/%.o) $(HOST)/libkhocore.a
	$(HOST_CXX) -static -s -o $@ $^ -lfdt

$(LINUX_CHAIN_INIT): scripts/linux/chain-init.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CC) -std=gnu11 -Wall -Wextra -Werror -O2 -static -s -o $@ $<

$(HOST)/unit_tests: $(HOST)/loader/tools/export.o
$(ASAN)/unit_tests: $(ASAN)/loader/tools/export.o
$(ASAN)/loader/tools/export.o: loader/tools/export.h

ALL_TARGETS += $(LINUX_KHOTOOL_STATIC) $(LINUX_CHAIN_INIT)
.PHONY: linux-tools
linux-tools: $(LINUX_KHOTOOL_STATIC) $(LINUX_CHAIN_INIT)
