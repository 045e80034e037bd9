// The handoff image's answer to a CPU exception: say so and reset warm
// without a descriptor. Nothing is handed on: khoboot finds no descriptor
// and boots cold (or as its entry's policy says). Never a hang: a lab
// machine must come back. The runtime services are not called from a
// fault (their state is unknown); the chipset reset is used instead.
#include "../test_kernel/exceptions.h"
#include <stdarg.h>

#include "../test_kernel/io.h"
#include "../test_kernel/report.h"
#include "../test_kernel/serial.h"
#include "../loader/format.h"
#include "reset.h"

extern "C" [[noreturn]] void exception_report(const tk::ExceptionFrame* f) {
    tk::println("KHOBOOT_HANDOFF: error fault vector=%lu error=0x%lx rip=0x%lx cr2=0x%lx",
                static_cast<unsigned long>(f->vector), static_cast<unsigned long>(f->error),
                static_cast<unsigned long>(f->rip), static_cast<unsigned long>(tk::read_cr2()));
    handoff::chipset_reset();
}

// libfdt's glue (test_kernel/libfdt_glue.cpp) reports an impossible state
// through fail_now(); here that is a failed handoff like any other.
[[noreturn]] void tk::fail_now(const char* fmt, ...) {
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    kho::format_v(line, sizeof(line), fmt, ap);
    va_end(ap);
    tk::println("KHOBOOT_HANDOFF: error internal %s", line);
    handoff::chipset_reset();
}
