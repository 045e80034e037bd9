// Warm reset without the firmware: the ICH9/PIIX reset control register
// (port 0xcf9: SYS_RST | RST_CPU, a warm reset that keeps RAM), then the
// 8042 keyboard controller's pulse (0xfe to port 0x64), as Linux's
// reboot=pci,kbd does (arch/x86/kernel/reboot.c).
#pragma once
#include "../test_kernel/io.h"

namespace handoff {

[[noreturn]] inline void chipset_reset() {
    tk::outb(0xcf9, 0x02);
    tk::outb(0xcf9, 0x06);
    tk::outb(0x64, 0xfe);
    tk::halt_forever();
}

}  // namespace handoff
