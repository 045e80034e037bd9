# The arm64 UEFI application, cross-built: the same glue and core as the
# x86-64 build (efi/build.mk) with the files of efi/aarch64/ instead of
# efi/x86_64/, Debian's aarch64-linux-gnu cross compiler, and bookworm's
# arm64 gnu-efi and libfdt unpacked privately (scripts/fetch-aarch64-efi:
# gnu-efi:arm64 cannot be installed beside the amd64 package).
# gnu-efi 3.0.15's crt0-efi-aarch64.o carries the PE/COFF header itself, so
# the image is the shared object's sections as a flat binary (-O binary),
# as gnu-efi's own Make.defaults builds arm64 applications.
#   make aarch64    (or make ARCH=aarch64) -> build/aarch64/khoboot.efi

A64_OUT := $(BUILD)/aarch64
A64_APP := $(A64_OUT)/khoboot.efi
A64_ROOT := $(A64_OUT)/sysroot
A64_STAMP := $(A64_ROOT)/.packages
A64_CROSS ?= aarch64-linux-gnu-
A64_CXX := $(A64_CROSS)g++
A64_CC := $(A64_CROSS)gcc
A64_INC := $(A64_ROOT)/usr/include

A64_COMMON := -ffreestanding -fshort-wchar -fpic -fno-stack-protector -fno-strict-aliasing \
	-I$(A64_INC)/efi -I$(A64_INC)/efi/aarch64 -O2 -g
A64_CXXFLAGS := -std=c++20 $(WARN) -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-gnu-unique \
	-fno-use-cxa-atexit -I. $(A64_COMMON) -DKHOBOOT_VERSION='"$(KHOBOOT_VERSION)"'
A64_CFLAGS := -std=c11 $(WARN) $(A64_COMMON)
A64_LDFLAGS := -nostdlib -znocombreloc -shared -Bsymbolic --no-undefined --defsym=EFI_SUBSYSTEM=0xa \
	-T $(A64_ROOT)/usr/lib/elf_aarch64_efi.lds

# Common glue, efi/aarch64/, and the portable core without the x86
# boot protocol (bzImage, boot_params, setup_data: efi/build.mk lists them).
A64_SRCS_CXX := $(wildcard efi/*.cpp efi/aarch64/*.cpp) $(filter-out $(CORE_X86_SRCS),$(CORE_SRCS))
A64_SRCS_C := $(wildcard efi/*.c)
A64_HDRS := $(wildcard efi/*.h efi/aarch64/*.h)
A64_OBJS := $(A64_SRCS_CXX:%.cpp=$(A64_OUT)/%.o) $(A64_SRCS_C:%.c=$(A64_OUT)/%.o)

$(A64_STAMP): scripts/fetch-aarch64-efi | $(DEPS_STAMP)
	scripts/fetch-aarch64-efi $(A64_ROOT)

$(A64_OUT)/%.o: %.cpp $(CORE_HDRS) $(A64_HDRS) $(A64_STAMP)
	@mkdir -p $(dir $@)
	$(A64_CXX) $(A64_CXXFLAGS) -c $< -o $@
$(A64_OUT)/%.o: %.c $(A64_STAMP)
	@mkdir -p $(dir $@)
	$(A64_CC) $(A64_CFLAGS) -c $< -o $@

$(A64_OUT)/khoboot.so: $(A64_OBJS)
	$(A64_CROSS)ld $(A64_LDFLAGS) $(A64_ROOT)/usr/lib/crt0-efi-aarch64.o $^ -o $@ \
		$(A64_ROOT)/usr/lib/aarch64-linux-gnu/libfdt.a -L$(A64_ROOT)/usr/lib -lefi -lgnuefi \
		$(shell $(A64_CC) -print-libgcc-file-name)
	@if $(A64_CROSS)readelf -S $@ | grep -qE '\.(init_array|ctors)'; then \
		echo "$@: global constructors are not run by crt0" >&2; rm -f $@; exit 1; fi
	@# gnu-efi's aarch64 _relocate applies R_AARCH64_RELATIVE only.
	@if $(A64_CROSS)readelf -rW $@ | grep R_AARCH64_ | grep -qv R_AARCH64_RELATIVE; then \
		echo "$@: relocations other than R_AARCH64_RELATIVE" >&2; rm -f $@; exit 1; fi

$(A64_APP): $(A64_OUT)/khoboot.so
	$(A64_CROSS)objcopy -j .text -j .sdata -j .data -j .dynamic -j .rodata -j .rel -j .rela \
		-j .rel.* -j .rela.* -j .areloc -j .reloc -O binary $< $@
	@# The header (crt0) declares .data up to _edata, aligned to 512 past the
	@# last relocation; -O binary stops at that relocation's last byte, and
	@# EDK2 refuses a section whose raw data ends beyond the file.
	truncate -s %512 $@

.PHONY: aarch64
aarch64: $(A64_APP)
# make builds both architectures; make ARCH=aarch64 only this one.
ALL_TARGETS += $(A64_APP)
ifeq ($(ARCH),aarch64)
.DEFAULT_GOAL := aarch64
endif
