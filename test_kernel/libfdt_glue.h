// What Debian's libfdt.a (linked into test_kernel for the producer's FDTs,
// test_kernel/shared/state_fdt.h) expects from its environment beyond
// libc.cpp: memchr, strnlen, strrchr, and the stack protector it was
// built with (-fstack-protector-strong: the canary at %fs:0x28, glibc's
// x86-64 TLS layout, and __stack_chk_fail).
#pragma once

namespace tk {

// Points the FS base at a block of our own holding the canary, so that
// libfdt's canary reads never depend on what the firmware or the boot
// path left in IA32_FS_BASE. Call before the first libfdt call.
void libfdt_glue_init();

}  // namespace tk
