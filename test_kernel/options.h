// test_kernel's command line: words "tk.KEY=VALUE"; anything else (the
// loader's own additions such as kho=on) is ignored. README.md lists them.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "boot_info.h"

namespace tk {

// What one boot ("hop") of a chain does, from tk.plan=A,B,C (one word a
// hop, letters combined): n = expect no KHO state (cold boot), c = check
// a KHO state, m = check a multikernel-v1 handover, p = produce a state
// and warm-reset, P = produce a state and power off (end QEMU).
struct HopAction {
    bool expect_cold;
    bool consume;
    bool multikernel;
    bool produce;
    bool power_off;
};

struct Options {
    static constexpr size_t kMaxHops = 16;
    static constexpr size_t kMaxArenas = 8;

    size_t hop_count;
    HopAction hops[kMaxHops];
    char plan_text[64];
    char expect_compat[32];   // tk.compat: the root compatible the consumer expects
    bool efi_boot;            // tk.boot=efi (default) or bios (QEMU -kernel)
    char produce_format[16];  // tk.format
    uint32_t blocks;          // tk.blocks
    uint32_t max_order;       // tk.max-order
    uint32_t full_order;      // tk.full-order: fill blocks up to this order completely
    int32_t free_count;       // tk.free, -1 = a quarter of the inherited blocks
    uint64_t seed;            // tk.seed
    uint64_t scratch_bytes;   // tk.scratch-mb per scratch region
    size_t arena_count;       // tk.arena=START-END,...
    PhysRange arenas[kMaxArenas];
    bool has_initrd;          // tk.initrd=SIZE:CRC was given
    uint64_t initrd_size;     // bytes the configured initrd has
    uint32_t initrd_crc;      // its CRC-32
    bool foreign;             // tk.foreign=1: 'c' hops check a state another kernel produced
    bool has_sum;             // tk.sum was given
    uint32_t sum;             // tk.sum value
    uint32_t sum_computed;    // CRC-32 of the other tk.* words joined by ' '
    bool duplicate_key;
    char error[96];           // first malformed word, or empty
};

void parse_options(const char* cmdline, Options* out);

}  // namespace tk
