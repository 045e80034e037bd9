// An IDT whose every exception vector calls exception_report(), which each
// image defines: the test kernel reports the fault and ends the test as
// failed (exception_report.cpp); the handoff image resets into the
// firmware (handoff/fault.cpp). See exception_entry.S for why.
#pragma once
#include <stdint.h>

namespace tk {

void exceptions_init();

// What exception_entry.S pushes.
struct ExceptionFrame {
    uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

}  // namespace tk

extern "C" [[noreturn]] void exception_report(const tk::ExceptionFrame* f);
