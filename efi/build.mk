# The x86-64 UEFI application: gnu-efi glue (efi/) + the portable core
# (loader/*.cpp, compiled a second time for the firmware) + Debian's
# libfdt.a, linked as an ELF shared object and converted to PE32+.
# Flags follow gnu-efi 3.0.15's own Make.defaults and systemd-boot's older
# gnu-efi build: no red zone (firmware interrupts use the stack), PIC
# (relocated by gnu-efi's _relocate), MS ABI calls into the firmware.

EFI_ARCH := x86_64
EFI_OUT := $(BUILD)/$(EFI_ARCH)
EFI_APP := $(EFI_OUT)/khoboot.efi
GNUEFI_LIB := /usr/lib
GNUEFI_INC := /usr/include/efi
LIBFDT_A := /usr/lib/x86_64-linux-gnu/libfdt.a
KHOBOOT_VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

EFI_COMMON := -ffreestanding -fshort-wchar -mno-red-zone -fpic -fno-stack-protector \
	-maccumulate-outgoing-args -fno-strict-aliasing -DGNU_EFI_USE_MS_ABI \
	-I$(GNUEFI_INC) -I$(GNUEFI_INC)/$(EFI_ARCH) -O2 -g
EFI_CXXFLAGS := -std=c++20 $(WARN) -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-gnu-unique \
	-fno-use-cxa-atexit -I. $(EFI_COMMON) -DKHOBOOT_VERSION='"$(KHOBOOT_VERSION)"'
EFI_CFLAGS := -std=c11 $(WARN) $(EFI_COMMON)
EFI_LDFLAGS := -nostdlib -znocombreloc -shared -Bsymbolic --no-undefined \
	-T $(GNUEFI_LIB)/elf_x86_64_efi.lds

# The glue common to every architecture, plus efi/$(EFI_ARCH)/ (CPU,
# clock, how the kernel is started): the build picks files per
# architecture (efi/aarch64/build.mk is the arm64 build).
EFI_GLUE_CXX := $(wildcard efi/*.cpp efi/$(EFI_ARCH)/*.cpp)
EFI_GLUE_C := $(wildcard efi/*.c)
EFI_GLUE_S := $(wildcard efi/*.S efi/$(EFI_ARCH)/*.S)
EFI_HDRS := $(wildcard efi/*.h efi/$(EFI_ARCH)/*.h)
# The core's boot-protocol modules are per architecture too (the host
# build has both, for the tests).
CORE_X86_SRCS := loader/x86_handover.cpp loader/boot_params_builder.cpp loader/bzimage.cpp
CORE_ARM64_SRCS := loader/arm64_handover.cpp loader/arm64_chosen.cpp
EFI_CORE_SRCS := $(filter-out $(CORE_ARM64_SRCS),$(CORE_SRCS))
EFI_OBJS := $(EFI_GLUE_CXX:%.cpp=$(EFI_OUT)/%.o) $(EFI_GLUE_C:%.c=$(EFI_OUT)/%.o) \
	$(EFI_GLUE_S:%.S=$(EFI_OUT)/%.o) $(EFI_CORE_SRCS:%.cpp=$(EFI_OUT)/%.o)

$(EFI_OUT)/%.o: %.cpp $(CORE_HDRS) $(EFI_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CXX) $(EFI_CXXFLAGS) -c $< -o $@
$(EFI_OUT)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(EFI_CFLAGS) -c $< -o $@
$(EFI_OUT)/%.o: %.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(EFI_COMMON) -c $< -o $@

$(EFI_OUT)/khoboot.so: $(EFI_OBJS)
	ld $(EFI_LDFLAGS) $(GNUEFI_LIB)/crt0-efi-$(EFI_ARCH).o $^ -o $@ \
		$(LIBFDT_A) -L$(GNUEFI_LIB) -lefi -lgnuefi $(shell $(HOST_CC) -print-libgcc-file-name)
	@# gnu-efi's crt0 runs no constructors: refuse an image that needs them.
	@if readelf -S $@ | grep -qE '\.(init_array|ctors)'; then \
		echo "$@: global constructors are not run by crt0" >&2; rm -f $@; exit 1; fi
	@# gnu-efi's _relocate applies R_X86_64_RELATIVE only; anything else
	@# (e.g. symbol relocations to GNU-unique inline variables, hence
	@# -fno-gnu-unique) would leave link-time addresses in the image.
	@if readelf -rW $@ | grep R_X86_64_ | grep -qv R_X86_64_RELATIVE; then \
		echo "$@: relocations other than R_X86_64_RELATIVE" >&2; rm -f $@; exit 1; fi

# SBAT (shim's revocation by generation, rhboot/shim SBAT.md): a .sbat
# section of CSV lines, the format header then khoboot's own line. shim
# refuses an image without one. It is placed one page past the last section
# of the .so (a PE section needs its own page-aligned VMA), read-only data.
# A distributor sets SBAT_URL to its own page for the package.
SBAT_URL ?= docs/security.md
# Rewritten only when its text changes (a new version), so that the image
# is relinked then and not at every make.
$(EFI_OUT)/sbat.csv: efi/sbat.csv.in FORCE
	@mkdir -p $(dir $@)
	@sed -e 's/@VERSION@/$(KHOBOOT_VERSION)/' -e 's|@URL@|$(SBAT_URL)|' $< > $@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi
.PHONY: FORCE
FORCE:

$(EFI_APP): $(EFI_OUT)/khoboot.so $(EFI_OUT)/sbat.csv
	end=$$(objdump -h $< | awk '$$1 ~ /^[0-9]+$$/ { print "0x" $$4, "0x" $$3 }' | \
		while read vma size; do echo $$((vma + size)); done | sort -n | tail -n1); \
	sbat_vma=$$(( (end + 0xfff) & ~0xfff )); \
	objcopy -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela \
		-j .rel.* -j .rela.* -j .reloc \
		--add-section .sbat=$(EFI_OUT)/sbat.csv --set-section-flags .sbat=contents,alloc,load,readonly,data \
		--change-section-address .sbat=$$sbat_vma \
		--target efi-app-$(EFI_ARCH) --subsystem=10 $< $@

# make sign KEY=db.key CERT=db.crt [SIGN_OUT=dir]: Authenticode-signs the
# EFI binaries with sbsign (sbsigntool) for a firmware or shim whose db or
# MOK holds CERT, and the handoff image for a kernel in lockdown whose
# keyrings (or, with INTEGRITY_PLATFORM_KEYRING, UEFI db) hold CERT
# (`khotool reboot` kexecs it); the signed copies go to SIGN_OUT (default
# build/signed).
SIGN_OUT ?= $(BUILD)/signed
.PHONY: sign
sign: $(EFI_APP) $(BUILD)/x86_64/khoboot-handoff.bzImage
	@test -n "$(KEY)" -a -n "$(CERT)" || { echo "make sign: set KEY=... CERT=..." >&2; exit 2; }
	@mkdir -p $(SIGN_OUT)
	sbsign --key $(KEY) --cert $(CERT) --output $(SIGN_OUT)/khoboot.efi $(EFI_APP)
	sbverify --cert $(CERT) $(SIGN_OUT)/khoboot.efi
	sbsign --key $(KEY) --cert $(CERT) --output $(SIGN_OUT)/khoboot-handoff.bzImage \
		$(BUILD)/x86_64/khoboot-handoff.bzImage
	sbverify --cert $(CERT) $(SIGN_OUT)/khoboot-handoff.bzImage

ALL_TARGETS += $(EFI_APP)

# make esp [ESP=dir] [KERNEL=vmlinuz] [INITRD=initrd] [OPTIONS="..."]:
# an ESP directory with the loader as the removable-media path and one
# entry (scripts/make-esp documents the layout).
ESP ?= $(BUILD)/esp
.PHONY: esp
esp: $(EFI_APP)
	@test -n "$(KERNEL)" || { echo "make esp: error: set KERNEL=BZIMAGE (an ESP without a kernel cannot boot)" >&2; exit 2; }
	scripts/make-esp --out $(ESP) --loader $(EFI_APP) \
		$(if $(KERNEL),--kernel $(KERNEL)) $(if $(INITRD),--initrd $(INITRD)) \
		$(if $(OPTIONS),--options "$(OPTIONS)")

# The arm64 build of the same application.
include efi/aarch64/build.mk
