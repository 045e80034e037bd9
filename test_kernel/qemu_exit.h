// Ending the test: QEMU's isa-debug-exit device (iobase 0xf4) exits QEMU
// with status (value << 1) | 1; scripts/lib/bootchain.py EXIT_PASS/FAIL
// mirror these values. Without the device the write is ignored and the
// CPU halts.
#pragma once
#include <stdint.h>
#include "io.h"

namespace tk {

inline constexpr uint16_t kDebugExitPort = 0xf4;
inline constexpr uint32_t kExitPass = 0x10;  // QEMU status 33
inline constexpr uint32_t kExitFail = 0x11;  // QEMU status 35

[[noreturn]] inline void qemu_exit(uint32_t value) {
    outl(kDebugExitPort, value);
    halt_forever();
}

}  // namespace tk
