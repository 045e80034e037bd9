# khoboot-handoff: a freestanding x86-64 bzImage that a KHO kernel starts
# with kexec_file_load to hand its serialised state to khoboot through the
# firmware (handoff/main.cpp). Shipped product: installed by `make install`
# as $(LIBDIR)/khoboot/khoboot-handoff.bzImage, where `khotool reboot`
# looks for it. Included by the top Makefile.
#
# It runs on the same freestanding platform as test_kernel (bzImage header
# and entries, identity map, COM1, IDT, UEFI runtime calls, libc and libfdt
# glue), built from test_kernel/'s files with the same flags, plus the
# portable core (loader/*.cpp) as an archive so only what it uses is linked.
HO_OUT := $(BUILD)/x86_64/handoff
HO_IMAGE := $(BUILD)/x86_64/khoboot-handoff.bzImage

HO_PLATFORM_CXX := test_kernel/boot_info.cpp test_kernel/efi_runtime.cpp test_kernel/exceptions.cpp \
	test_kernel/libc.cpp test_kernel/libfdt_glue.cpp test_kernel/paging.cpp test_kernel/serial.cpp
HO_PLATFORM_ASM := test_kernel/head32.S test_kernel/head64.S test_kernel/exception_entry.S
HO_SRCS := $(wildcard handoff/*.cpp)
HO_HDRS := $(wildcard handoff/*.h) $(TK_HDRS)
HO_OBJS := $(HO_SRCS:%.cpp=$(HO_OUT)/%.o) $(HO_PLATFORM_CXX:%.cpp=$(HO_OUT)/%.o) \
	$(HO_PLATFORM_ASM:%.S=$(HO_OUT)/%.o)
HO_CORE_OBJS := $(CORE_SRCS:%.cpp=$(HO_OUT)/%.o)

$(HO_OUT)/%.o: %.cpp $(HO_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CXX) $(TK_CXXFLAGS) -c $< -o $@
$(HO_OUT)/%.o: %.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(TK_ASFLAGS) -c $< -o $@
$(HO_OUT)/libkhocore.a: $(HO_CORE_OBJS)
	@rm -f $@; ar rcs $@ $^

$(HO_OUT)/kernel.elf: $(HO_OBJS) $(HO_OUT)/libkhocore.a test_kernel/kernel.ld
	ld -pie --no-dynamic-linker -z noexecstack -z norelro --build-id=none --no-warn-rwx-segments \
		-T test_kernel/kernel.ld -o $@ $(HO_OBJS) $(HO_OUT)/libkhocore.a $(TK_LIBFDT)
$(HO_OUT)/kernel.bin: $(HO_OUT)/kernel.elf
	objcopy -O binary $< $@
$(HO_IMAGE): $(TK_OUT)/setup.bin $(HO_OUT)/kernel.elf $(HO_OUT)/kernel.bin test_kernel/mkbzimage.py
	python3 test_kernel/mkbzimage.py --pe $(TK_OUT)/setup.bin $(HO_OUT)/kernel.elf $(HO_OUT)/kernel.bin $@

ALL_TARGETS += $(HO_IMAGE)
.PHONY: handoff
handoff: $(HO_IMAGE)
