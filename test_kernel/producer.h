// Producer mode: builds a fresh KHO state in RAM the way a KHO kernel
// would leave it (scratch regions, preserved blocks of mixed orders filled
// with patterns, the preserved-memory map, the root FDT with a sub-blob),
// tells the loader where it is through the handover descriptor (a UEFI
// variable written with runtime SetVariable) and warm-resets into the
// firmware, or powers off (ends QEMU) to leave a descriptor that a cold
// power cycle will make stale.
//
// After a consumer pass it changes the state it inherited: it keeps the
// inherited scratch table (as Linux does), drops some inherited blocks
// (listed as retired so the next consumer checks they are gone), keeps the
// rest untouched and adds new ones.
#pragma once
#include <stdint.h>
#include "boot_info.h"
#include "consumer.h"
#include "efi_runtime.h"
#include "options.h"

namespace tk {

[[noreturn]] void produce(const BootInfo& bi, const Options& o, const ConsumedState& prev,
                          const EfiRuntime& rt, uint32_t hop, bool power_off);

}  // namespace tk
