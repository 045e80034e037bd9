# Packaging: make deb, make image (packaging/README.md).
#   make deb                       build/deb/khoboot_<version>_amd64.deb (scripts/make-deb)
#   make image OUT=disk.img KERNEL=bzImage [INITRD=...] [OPTIONS="..."] [SIZE_MIB=...]
#                                  a GPT disk image with a FAT ESP (scripts/make-image)
.PHONY: deb image
deb: $(HOST)/khotool $(EFI_APP) $(HO_IMAGE)
	@scripts/make-deb

image: $(EFI_APP)
	@test -n "$(OUT)" || { echo "make image: error: set OUT=disk.img" >&2; exit 2; }
	@test -n "$(KERNEL)" || { echo "make image: error: set KERNEL=BZIMAGE (an image without a kernel cannot boot)" >&2; exit 2; }
	scripts/make-image --out $(OUT) --loader $(EFI_APP) --kernel $(KERNEL) \
		$(foreach i,$(INITRD),--initrd $(i)) $(if $(OPTIONS),--options "$(OPTIONS)") \
		$(if $(SIZE_MIB),--size-mib $(SIZE_MIB))

# install/remove's parsers in the unit tests (loader/tests/test_install_record.cpp).
INSTALL_TEST_OBJS := $(addprefix loader/tools/,install_record.o boot_option.o run_program.o)
$(HOST)/unit_tests: $(addprefix $(HOST)/,$(INSTALL_TEST_OBJS))
$(ASAN)/unit_tests: $(addprefix $(ASAN)/,$(INSTALL_TEST_OBJS))
$(addprefix $(ASAN)/,$(INSTALL_TEST_OBJS)): $(TOOL_HDRS)
