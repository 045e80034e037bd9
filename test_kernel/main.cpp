// test_kernel entry after startup_64: set up the machine, work out which
// hop of the configured chain this boot is, run its consumer checks and/or
// produce the next state, and end QEMU (or reset into the firmware).
#include <stdint.h>

#include "../abi/x86_boot.h"
#include "boot_info.h"
#include "consumer.h"
#include "efi_runtime.h"
#include "exceptions.h"
#include "foreign_consumer.h"
#include "options.h"
#include "paging.h"
#include "producer.h"
#include "report.h"
#include "serial.h"

namespace tk {
namespace {

BootInfo g_boot;
Options g_options;
ConsumedState g_consumed;

// The hop counter lives in a non-volatile variable of the test kernel's own
// (not in RAM, not in the KHO state), so a chain that lost its state is
// told apart from one that has not started: hop N > 1 without a state fails.
constexpr EfiGuid kCounterGuid = {0x8a2c6f3e, 0x5d41, 0x4b7a,
                                  {0x9e, 0x20, 0x74, 0x6b, 0x68, 0x6f, 0x70, 0x30}};

uint32_t next_hop(const EfiRuntime& rt) {
    if (!rt.ready()) return 1;
    const char16_t name[] = u"TkChainHop";
    uint32_t v = 0;
    uint64_t size = sizeof(v);
    uint32_t attrs = 0;
    EfiStatus s = rt.get_variable(name, kCounterGuid, &attrs, &size, &v);
    if (s == kEfiNotFound) v = 0;
    else if (s != kEfiSuccess || size != sizeof(v)) fail_now("GetVariable(TkChainHop) status 0x%lx", (unsigned long)s);
    ++v;
    s = rt.set_variable(name, kCounterGuid, kVarNonVolatile | kVarBootService | kVarRuntime, sizeof(v), &v);
    if (s != kEfiSuccess) fail_now("SetVariable(TkChainHop) status 0x%lx", (unsigned long)s);
    return v;
}

}  // namespace
}  // namespace tk

extern "C" [[noreturn]] void kmain(const kho::abi::x86::BootParams* bp) {
    using namespace tk;
    serial_init();
    paging_init();
    exceptions_init();
    read_boot_info(bp, &g_boot);
    parse_options(g_boot.cmdline, &g_options);
    const Options& o = g_options;
    println("TEST_KERNEL: boot image=0x%lx-0x%lx boot_params=0x%lx loader=0x%x",
            (unsigned long)g_boot.image_start, (unsigned long)g_boot.image_end,
            (unsigned long)g_boot.bp_phys, g_boot.hdr.type_of_loader);

    EfiRuntime rt;
    if (o.efi_boot) {
        const char* why = nullptr;
        if (!rt.init(g_boot.efi_systab, &why)) println("TEST_KERNEL: info no UEFI runtime: %s", why);
    }
    uint32_t hop = next_hop(rt);
    println("TEST_KERNEL: hop %u of %lu plan=%s", hop, (unsigned long)o.hop_count, o.plan_text);
    if (hop > o.hop_count)
        fail_now("hop %u is past the plan (%lu hops): an unexpected reset or a lost state?", hop,
                 (unsigned long)o.hop_count);
    const HopAction& a = o.hops[hop - 1];

    if (a.consume && o.foreign) {
        consume_foreign(g_boot, o, &rt);
    } else if (a.expect_cold || a.consume || a.multikernel) {
        ConsumeKind kind = a.expect_cold ? ConsumeKind::Cold
                           : a.multikernel ? ConsumeKind::Multikernel : ConsumeKind::Kho;
        consume(g_boot, o, kind, &rt, &g_consumed);
    }
    if (a.produce) {
        if (any_check_failed()) finish();
        produce(g_boot, o, g_consumed, rt, hop, a.power_off);
    }
    finish();
}
