# test_kernel: a freestanding x86-64 kernel in bzImage format (see
# test_kernel/README.md). Included by the top Makefile.
TK_OUT := $(BUILD)/x86_64/test_kernel
TK_IMAGE := $(BUILD)/x86_64/test_kernel.bzImage

# Position-independent by construction: -fpie with hidden visibility makes
# every reference RIP-relative; kernel.ld refuses any run-time relocation.
# No SSE (-mgeneral-regs-only): the 32-bit entry path does not enable it.
TK_CXXFLAGS := -std=c++20 $(WARN) -O2 -g -ffreestanding -fno-exceptions -fno-rtti \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fno-stack-protector \
	-fno-threadsafe-statics -fno-builtin -mno-red-zone -mgeneral-regs-only \
	-fpie -fvisibility=hidden -fcf-protection=none -nostdlib -I.
TK_ASFLAGS := -fpie -fvisibility=hidden

TK_CXX_SRCS := $(wildcard test_kernel/*.cpp)
# Pieces of the portable core reused as is (formatting, CRC-32).
TK_CORE_SRCS := loader/format.cpp loader/crc32.cpp
# Debian's libfdt.a (as efi/build.mk links it): position-independent
# (PC32/PLT32 relocations only), no SSE; the producer writes its FDTs with
# its sequential-write API. libfdt_glue.cpp supplies what it needs beyond
# libc.cpp.
TK_LIBFDT := /usr/lib/x86_64-linux-gnu/libfdt.a
TK_ASM_SRCS := test_kernel/head32.S test_kernel/head64.S test_kernel/exception_entry.S
TK_HDRS := $(wildcard test_kernel/*.h test_kernel/shared/*.h) $(CORE_HDRS)
TK_OBJS := $(TK_CXX_SRCS:test_kernel/%.cpp=$(TK_OUT)/%.o) \
	$(TK_CORE_SRCS:loader/%.cpp=$(TK_OUT)/core/%.o) \
	$(TK_ASM_SRCS:test_kernel/%.S=$(TK_OUT)/%.o)

$(TK_OUT)/%.o: test_kernel/%.cpp $(TK_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CXX) $(TK_CXXFLAGS) -c $< -o $@
$(TK_OUT)/core/%.o: loader/%.cpp $(TK_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CXX) $(TK_CXXFLAGS) -c $< -o $@
$(TK_OUT)/%.o: test_kernel/%.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(TK_ASFLAGS) -c $< -o $@

$(TK_OUT)/setup.bin: $(TK_OUT)/setup16.o test_kernel/setup.ld
	ld -T test_kernel/setup.ld -o $(TK_OUT)/setup.elf $<
	objcopy -O binary $(TK_OUT)/setup.elf $@
$(TK_OUT)/kernel.elf: $(TK_OBJS) test_kernel/kernel.ld
	ld -pie --no-dynamic-linker -z noexecstack -z norelro --build-id=none --no-warn-rwx-segments \
		-T test_kernel/kernel.ld -o $@ $(TK_OBJS) $(TK_LIBFDT)
	@# No relocator here: position independence is checked, not assumed.
	@if readelf -rW $@ | grep -q R_X86_64_; then \
		echo "$@: needs run-time relocations: avoid pointers in initialised data" >&2; rm -f $@; exit 1; fi
$(TK_OUT)/kernel.bin: $(TK_OUT)/kernel.elf
	objcopy -O binary $< $@
$(TK_IMAGE): $(TK_OUT)/setup.bin $(TK_OUT)/kernel.elf $(TK_OUT)/kernel.bin test_kernel/mkbzimage.py
	python3 test_kernel/mkbzimage.py $(TK_OUT)/setup.bin $(TK_OUT)/kernel.elf $(TK_OUT)/kernel.bin $@

ALL_TARGETS += $(TK_IMAGE)
.PHONY: test-kernel
test-kernel: $(TK_IMAGE)
