# Real-Linux KHO tooling (scripts/linux/README.md), included by the top
# Makefile:
#  - build/host/khotool-static: khotool from the same sources, linked
#    statically (with Debian's libfdt.a) so it runs in the KHO kernel's
#    initramfs, where `khotool export` hands the live state to the firmware;
#  - build/host/linux-chain-init: the initramfs /init of the real-Linux
#    boot chains (scripts/linux/chain-init.c), which names khoboot's
#    variables through build/host/gen/khoboot_vendor_c.h: #defines generated
#    from abi/khoboot_vendor.h (C cannot include its C++ namespace) by the
#    same reader the Python tooling uses;
#  - the export tool's objects in both unit-test binaries, whose
#    loader/tests/test_export.cpp tests its pure parts.
LINUX_KHOTOOL_STATIC := $(HOST)/khotool-static
LINUX_CHAIN_INIT := $(HOST)/linux-chain-init
LINUX_VENDOR_C_H := $(HOST)/gen/khoboot_vendor_c.h

# -s: the initramfs is copied onto the ESP and read by the firmware at every
# boot; debug info would triple its size.
$(LINUX_KHOTOOL_STATIC): $(TOOL_SRCS:%.cpp=$(HOST)/%.o) $(HOST)/libkhocore.a
	$(HOST_CXX) -static -s -o $@ $^ $(TOOL_LIBS)

$(LINUX_VENDOR_C_H): abi/khoboot_vendor.h scripts/lib/kho_abi.py scripts/lib/abi_headers.py
	@mkdir -p $(dir $@)
	python3 scripts/lib/kho_abi.py --c-header > $@.tmp && mv $@.tmp $@

$(LINUX_CHAIN_INIT): scripts/linux/chain-init.c $(LINUX_VENDOR_C_H) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CC) -std=gnu11 -Wall -Wextra -Werror -O2 -static -s -I$(dir $(LINUX_VENDOR_C_H)) -o $@ $<

# The export command and its parts (export.h lists them), and the shared
# command-line helpers inspect (included by test_inspect.cpp) uses too.
EXPORT_OBJS := $(addprefix loader/tools/,export.o export_plan.o root_fdt_search.o root_fdt_scan.o \
	linux_sources.o dev_mem.o efivarfs.o cli.o reboot_plan.o boot_options.o probe_result.o)
$(HOST)/unit_tests: $(addprefix $(HOST)/,$(EXPORT_OBJS))
$(ASAN)/unit_tests: $(addprefix $(ASAN)/,$(EXPORT_OBJS))
$(addprefix $(ASAN)/,$(EXPORT_OBJS)): $(TOOL_HDRS)

# The same two programs for the arm64 KHO kernel's initramfs (the arm64
# real-Linux chain, scripts/scenarios/arm64_linux.py), cross-built static
# against the arm64 libraries efi/aarch64/build.mk's sysroot holds.
A64_LINUX := $(BUILD)/aarch64-linux
A64_LINUX_KHOTOOL := $(A64_LINUX)/khotool-static
A64_LINUX_CHAIN_INIT := $(A64_LINUX)/linux-chain-init
A64_LINUX_FLAGS := -std=c++20 $(WARN) -I. -isystem $(A64_INC) -O2
A64_LINUX_CORE_OBJS := $(CORE_SRCS:%.cpp=$(A64_LINUX)/%.o)
A64_LINUX_TOOL_OBJS := $(TOOL_SRCS:%.cpp=$(A64_LINUX)/%.o)

$(A64_LINUX_CORE_OBJS): $(A64_LINUX)/%.o: %.cpp $(CORE_HDRS) $(A64_STAMP)
	@mkdir -p $(dir $@)
	$(A64_CXX) $(CORE_FLAGS) -isystem $(A64_INC) -O2 -c $< -o $@
$(A64_LINUX_TOOL_OBJS): $(A64_LINUX)/%.o: %.cpp $(CORE_HDRS) $(TOOL_HDRS) $(SHARED_HDRS) $(A64_STAMP)
	@mkdir -p $(dir $@)
	$(A64_CXX) $(A64_LINUX_FLAGS) -DKHOBOOT_VERSION='"$(KHOBOOT_VERSION)"' \
		-DKHOBOOT_HANDOFF_PATH='"$(HANDOFF_INSTALL_PATH)"' -c $< -o $@
$(A64_LINUX_KHOTOOL): $(A64_LINUX_TOOL_OBJS) $(A64_LINUX_CORE_OBJS)
	$(A64_CXX) -static -s -o $@ $^ -L$(A64_ROOT)/usr/lib/aarch64-linux-gnu $(TOOL_LIBS)
$(A64_LINUX_CHAIN_INIT): scripts/linux/chain-init.c $(LINUX_VENDOR_C_H) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(A64_CC) -std=gnu11 -Wall -Wextra -Werror -O2 -static -s -I$(dir $(LINUX_VENDOR_C_H)) -o $@ $<

ALL_TARGETS += $(LINUX_KHOTOOL_STATIC) $(LINUX_CHAIN_INIT) $(A64_LINUX_KHOTOOL) $(A64_LINUX_CHAIN_INIT)
.PHONY: linux-tools
linux-tools: $(LINUX_KHOTOOL_STATIC) $(LINUX_CHAIN_INIT) $(A64_LINUX_KHOTOOL) $(A64_LINUX_CHAIN_INIT)
